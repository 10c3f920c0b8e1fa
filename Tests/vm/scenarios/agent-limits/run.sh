#!/bin/bash
# Agent on a pure cgroup v2 host (issue 2): `swiftlet agent --standalone` runs static pods from an
# imported busybox image; a container allocating past resources.limits.memory ends OOMKilled with
# exit code 137 while the agent keeps running, and a fork bomb is stopped by pids.max.
# Expects bin/swiftlet and bin/swiftlet-shim in the share. Flags as in the acceptance script
# A-runtime: --standalone --pod-manifest-path --root-dir --cgroup-root --read-only-port.
source "$VM_SHARE/lib/guest.sh"
BIN=$VM_SHARE/bin
S=$BIN/swiftlet
ROOT=/var/lib/swiftlet-vm MAN=/etc/swiftlet-vm/manifests PORT=10255 CGROOT=swiftlet-vm
LOG=$VM_OUT/agent.log
mkdir -p "$ROOT" "$MAN"

# The operator's outer limit on the agent's subtree (as a systemd slice's TasksMax would be): if
# the agent set no pids.max of its own, the bomb is still contained and the check below says so.
mkdir -p /sys/fs/cgroup/$CGROOT
echo 4096 >/sys/fs/cgroup/$CGROOT/pids.max

"$VM_SHARE/lib/mkbusybox-image.sh" /tmp/busybox.tar vm.local/busybox:latest
"$S" image import --root-dir "$ROOT" /tmp/busybox.tar >"$VM_OUT/import.log" 2>&1
fact image_import_rc $?

extra=()
"$S" agent --help 2>&1 | grep -q -- '--pod-max-pids' && extra+=(--pod-max-pids 100)
fact agent_pod_max_pids_flag "${extra[*]:-none}"
"$S" agent --standalone --pod-manifest-path "$MAN" --root-dir "$ROOT" --cgroup-root "/$CGROOT" \
  --read-only-port "$PORT" "${extra[@]}" >"$LOG" 2>&1 &
AGENT=$!
on_exit "kill -9 $AGENT"
api() { curl -sf --max-time 5 "http://127.0.0.1:$PORT$1"; }
wait_for 120 api /healthz; fact agent_healthz_at_start $?

# pod_status NAME -> "phase reason exitCode restartCount" of its first container, or nothing.
pod_status() {
  api /pods | python3 -c '
import json, sys
for p in json.load(sys.stdin).get("items", []):
    if p["metadata"]["name"] != sys.argv[1]: continue
    cs = (p.get("status", {}).get("containerStatuses") or [{}])[0]
    t = cs.get("state", {}).get("terminated") or {}
    print(p.get("status", {}).get("phase", "?"), t.get("reason", "-"), t.get("exitCode", "-"), cs.get("restartCount", "-"), p["metadata"].get("uid", "-"))
' "$1"
}
# pod_cgroup UID -> the pod-level cgroup folder the agent made for it.
pod_cgroup() {
  find /sys/fs/cgroup/$CGROOT -type d \( -name "pod$1" -o -name "pod${1//-/_}" -o -name "*pod${1//-/_}.slice" \) 2>/dev/null | head -1
}

# diagnose TAG: what the agent reports and what the kernel holds, into $VM_OUT/diag-TAG.txt.
diagnose() {
  {
    echo "== /pods"; api /pods | python3 -m json.tool 2>&1
    echo "== cgroups (pids.current memory.current pids.max memory.max; procs)"
    find /sys/fs/cgroup/$CGROOT -type d | while read -r d; do
      echo "$d: $(cat "$d/pids.current" "$d/memory.current" "$d/pids.max" "$d/memory.max" 2>/dev/null | paste -sd' ') procs=$(head -5 "$d/cgroup.procs" | paste -sd,)"
      [[ -f $d/memory.events ]] && echo "   memory.events: $(paste -sd' ' "$d/memory.events")"
    done
    echo "== processes"; ps -eo pid,ppid,stat,rss,cgroup:60,args --sort=pid | grep -v '\[' | tail -60
    echo "== kernel OOM lines"; dmesg | grep -iE 'oom|killed process' | tail -20
  } >"$VM_OUT/diag-$1.txt" 2>&1
}

# subtree_limit FILE DIR -> the tightest numeric value of FILE (memory.max, or cpu.max's quota
# with its period) in DIR and below: kubelet writes limits at pod and container level alike.
subtree_limit() {
  find "$2" -name "$1" 2>/dev/null | xargs -r cat 2>/dev/null | awk '$1 != "max"' | sort -n | head -1
}

cat >"$MAN/.oom.yaml.tmp" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: oom, namespace: vm}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  containers:
  - name: hog
    image: vm.local/busybox:latest
    # dd's 200M block buffer is touched by the read from /dev/zero: far past the 64Mi limit.
    command: ["/bin/sh", "-c", "echo allocating; exec dd if=/dev/zero of=/dev/null bs=200M count=1"]
    resources: {limits: {memory: 64Mi, cpu: 500m}}
YAML
mv "$MAN/.oom.yaml.tmp" "$MAN/oom.yaml"   # whole files only: the agent watches the folder
terminated() { pod_status oom | grep -qv '^[^ ]* - '; }
wait_for 120 terminated
read -r phase reason code restarts uid <<<"$(pod_status oom)"
fact oom_pod_phase "$phase"; fact oom_pod_reason "$reason"; fact oom_pod_exit_code "$code"
fact oom_pod_restart_count "$restarts"
cg=$(pod_cgroup "$uid")
fact oom_pod_cgroup "${cg:-none}"
if [[ -n $cg ]]; then
  fact oom_pod_memory_max "$(subtree_limit memory.max "$cg")"
  fact oom_pod_oom_kills "$(awk '$1 == "oom_kill" {print $2}' "$cg/memory.events" 2>/dev/null)"
fi
diagnose oom
kill -0 "$AGENT" 2>/dev/null; fact agent_alive_after_oom $?
api /healthz >/dev/null; fact agent_healthz_after_oom $?

cat >"$MAN/.bomb.yaml.tmp" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: bomb, namespace: vm}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: bomb
    image: vm.local/busybox:latest
    command: ["/bin/sh", "-c", "echo bombing; b() { b | b & }; b; sleep 3600"]
    resources: {limits: {memory: 128Mi, cpu: 200m}}
YAML
mv "$MAN/.bomb.yaml.tmp" "$MAN/bomb.yaml"
bomb_cg() { uid=$(pod_status bomb | awk '{print $5}'); [[ -n $uid && $uid != - ]] && cg=$(pod_cgroup "$uid") && [[ -n $cg ]]; }
wait_for 120 bomb_cg
fact bomb_pod_cgroup "${cg:-none}"
# On kernels before 6.13 pids.events counts a refused fork in the cgroup of the forking task,
# not in the one whose limit refused it: sum the events over the pod's subtree, and take the
# tightest pids.max there as the limit in force.
subtree_events() { find "$1" -name pids.events -exec awk '$1 == "max" {s += $2} END {print s + 0}' {} + | awk '{s += $1} END {print s + 0}'; }
bombed() { [[ $(subtree_events "$cg") -gt 0 ]]; }
if [[ -n ${cg:-} ]] && wait_for 120 bombed; then
  sleep 2
  fact bomb_pids_max "$(subtree_limit pids.max "$cg")"
  fact bomb_pids_max_at_pod "$(cat "$cg/pids.max")"
  fact bomb_pids_current "$(cat "$cg/pids.current")"
  fact bomb_pids_max_events "$(subtree_events "$cg")"
fi
[[ -n ${cg:-} ]] && fact bomb_cpu_max "$(subtree_limit cpu.max "$cg")"
fact root_pids_max_events "$(awk '$1 == "max" {print $2}' /sys/fs/cgroup/$CGROOT/pids.events)"
diagnose bomb
kill -0 "$AGENT" 2>/dev/null; fact agent_alive_during_bomb $?
api /healthz >/dev/null; fact agent_healthz_during_bomb $?

# Removing the manifests removes the pods and their cgroups; the agent stays.
rm -f "$MAN"/*.yaml
no_pod_cgroups() { [[ -z $(find /sys/fs/cgroup/$CGROOT -type d -name 'pod*' 2>/dev/null) ]]; }  # pod<uid>, not kubepods
wait_for 120 no_pod_cgroups; fact pod_cgroups_removed $?
diagnose end
kill -0 "$AGENT" 2>/dev/null; fact agent_alive_at_end $?
exit 0
