#!/bin/bash
# A worker host under systemd (issue 8): install the build and units with scripts/install.sh,
# run the agent as swiftlet-agent.service, and check restart keeps containers, SIGKILL is
# recovered by Restart=always, a SIGSTOPped agent is restarted by the watchdog, limits are in
# force, and `systemctl poweroff` stops pods gracefully (their SIGTERM handler writes a marker
# on the share) before the agent's unit is stopped. Ends with the VM powering off.
# Expects bin/swiftlet, bin/swiftlet-shim and repo/{systemd,scripts/install.sh} in the share.
source "$VM_SHARE/lib/guest.sh"
BIN=$VM_SHARE/bin
MARKERS=$VM_OUT/markers
MAN=/etc/swiftlet/manifests
PORT=10255
mkdir -p "$MARKERS" "$MAN"
systemctl start systemd-logind.service

bash "$VM_SHARE/repo/scripts/install.sh" --bin-dir "$BIN" >"$VM_OUT/install.log" 2>&1
fact install_rc $?
fact units_verify "$(systemd-analyze verify /etc/systemd/system/swiftlet-agent.service /etc/systemd/system/swiftlet-apiserver.service 2>&1 | paste -sd' ')"
fact ip_forward "$(cat /proc/sys/net/ipv4/ip_forward)"
fact tmpfiles_dirs "$(ls -d /run/swiftlet /var/log/pods 2>/dev/null | paste -sd' ')"
fact binary_installed "$(test -x /usr/local/bin/swiftlet && test -x /usr/local/bin/swiftlet-shim && echo 1 || echo 0)"

# The scenario's configuration: static pods, a shorter watchdog and start timeout for the test.
cat >/etc/default/swiftlet-agent <<CONF
SWIFTLET_AGENT_ARGS="--standalone --pod-manifest-path $MAN --read-only-port $PORT --pod-max-pids 200"
CONF
mkdir -p /etc/systemd/system/swiftlet-agent.service.d
printf '[Service]\nWatchdogSec=10s\nTimeoutStartSec=90s\n' >/etc/systemd/system/swiftlet-agent.service.d/50-vm-test.conf
# A witness stopped right after the agent at shutdown (ordered Before= it, so stopped after it):
# it records whether containers were still running when the agent's unit went down.
cat >/etc/systemd/system/vm-shutdown-witness.service <<UNIT
[Unit]
Before=swiftlet-agent.service
RequiresMountsFor=$VM_SHARE
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
ExecStop=/bin/sh -c 'echo "witness_time=\$\$(date +%%s.%%N)" >$VM_OUT/witness; echo "containers_alive=\$\$(pgrep -fc [g]raceful-loop)" >>$VM_OUT/witness; sync'
UNIT
systemctl daemon-reload
systemctl start vm-shutdown-witness.service

"$VM_SHARE/lib/mkbusybox-image.sh" /tmp/busybox.tar vm.local/busybox:latest
/usr/local/bin/swiftlet image import /tmp/busybox.tar >"$VM_OUT/import.log" 2>&1
fact image_import_rc $?

# Two pods whose SIGTERM handler leaves a marker on the share (the host keeps it after poweroff).
for name in web-a web-b; do
  cat >"$MAN/.$name.tmp" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $name, namespace: vm}
spec:
  terminationGracePeriodSeconds: 20
  containers:
  - name: app
    image: vm.local/busybox:latest
    command: ["/bin/sh", "-c", "trap 'echo graceful \$(date +%s) > /markers/$name; sync; exit 0' TERM; echo graceful-loop; while :; do sleep 1; done"]
    resources: {limits: {memory: 64Mi, cpu: 250m}}
    volumeMounts: [{name: markers, mountPath: /markers}]
  volumes: [{name: markers, hostPath: {path: $MARKERS, type: Directory}}]
YAML
  mv "$MAN/.$name.tmp" "$MAN/$name.yaml"
done

timeout 100 systemctl start swiftlet-agent.service
rc=$?
fact agent_ready "$([[ $rc == 0 ]] && echo 1 || echo 0)"
if [[ $rc != 0 ]]; then
  # No READY=1 yet (the agent does not speak sd_notify): carry on as Type=exec so the rest of
  # the lifecycle is still checked; the watchdog step is then skipped.
  printf '[Service]\nType=exec\nWatchdogSec=0\n' >/etc/systemd/system/swiftlet-agent.service.d/60-no-notify.conf
  systemctl daemon-reload
  systemctl reset-failed swiftlet-agent.service
  timeout 60 systemctl start swiftlet-agent.service
fi
fact agent_active "$(systemctl is-active swiftlet-agent.service)"
api() { curl -sf --max-time 5 "http://127.0.0.1:$PORT$1"; }
both_running() {
  api /pods | python3 -c '
import json, sys
pods = [p for p in json.load(sys.stdin).get("items", []) if p["metadata"].get("namespace") == "vm"]
ok = len(pods) == 2 and all("running" in (p["status"].get("containerStatuses") or [{}])[0].get("state", {}) for p in pods)
sys.exit(0 if ok else 1)'
}
container_pids() { pgrep -f "[g]raceful-loop" | sort | paste -sd,; }
wait_for 180 both_running; fact pods_running $?
PIDS=$(container_pids)
fact container_pids "$PIDS"
systemctl status swiftlet-agent.service --no-pager -l >"$VM_OUT/status.txt" 2>&1
main_pid() { systemctl show -p MainPID --value swiftlet-agent.service; }

# Limits in force, read from the kernel for one container's cgroup.
cg=/sys/fs/cgroup$(grep '^0::' /proc/$(pgrep -f "[g]raceful-loop" | head -1)/cgroup | cut -d: -f3)
fact container_cgroup "${cg#/sys/fs/cgroup}"
pod_cg=$(dirname "$cg")
fact pod_memory_max "$(cat "$cg/memory.max" 2>/dev/null) $(cat "$pod_cg/memory.max" 2>/dev/null)"
fact pod_cpu_max "$(cat "$cg/cpu.max" 2>/dev/null) / $(cat "$pod_cg/cpu.max" 2>/dev/null)"
fact agent_cgroup "$(grep '^0::' /proc/$(main_pid)/cgroup | cut -d: -f3)"
fact agent_inhibitor_held "$(systemd-inhibit --list --no-legend 2>/dev/null | grep -c swiftlet)"

# systemctl restart: the agent goes, the containers stay (KillMode=process), same PIDs.
OLD=$(main_pid)
timeout 100 systemctl restart swiftlet-agent.service; fact restart_rc $?
wait_for 60 both_running
fact restart_new_main "$([[ $(main_pid) != "$OLD" && $(main_pid) != 0 ]] && echo 1 || echo 0)"
fact restart_same_containers "$([[ $(container_pids) == "$PIDS" ]] && echo 1 || echo 0)"

# SIGKILL of the agent: Restart=always brings it back, nothing lost.
OLD=$(main_pid)
systemctl kill --kill-who=main -s KILL swiftlet-agent.service
restarted() { local p; p=$(main_pid); [[ $p != 0 && $p != "$OLD" ]] && systemctl is-active -q swiftlet-agent.service; }
wait_for 60 restarted; fact sigkill_restarted $?
wait_for 60 both_running
fact sigkill_same_containers "$([[ $(container_pids) == "$PIDS" ]] && echo 1 || echo 0)"
fact n_restarts "$(systemctl show -p NRestarts --value swiftlet-agent.service)"

# SIGSTOP: a wedged agent stops sending WATCHDOG=1 and systemd restarts it.
if [[ $(systemctl show -p WatchdogUSec --value swiftlet-agent.service) != 0 ]]; then
  OLD=$(main_pid)
  kill -STOP "$OLD"
  wait_for 60 restarted; fact watchdog_restarted $?
  journalctl -u swiftlet-agent.service --no-pager | grep -c 'Watchdog timeout' | { read -r n; fact watchdog_journal "$n"; }
  wait_for 60 both_running
  fact watchdog_same_containers "$([[ $(container_pids) == "$PIDS" ]] && echo 1 || echo 0)"
fi
journalctl -u swiftlet-agent.service --no-pager -o short-precise >"$VM_OUT/journal.txt" 2>&1
fact journal_priorities "$(journalctl -u swiftlet-agent.service -o json --no-pager 2>/dev/null | python3 -c '
import json, sys
print(" ".join(sorted({json.loads(l).get("PRIORITY", "?") for l in sys.stdin if "swiftlet" in l})))')"

# Poweroff: pods must be stopped gracefully before the agent's unit goes down.
fact poweroff_time "$(date +%s.%N)"
expect_poweroff swiftlet-agent.service vm-shutdown-witness.service
systemctl poweroff
sleep 300
fact poweroff_returned 1
exit 1
