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

# subtree_limit FILE DIR -> the tightest numeric value of FILE (memory.max, or cpu.max's quota
# with its period) in DIR and below: kubelet writes limits at pod and container level alike.
subtree_limit() {
  find "$2" -name "$1" 2>/dev/null | xargs -r cat 2>/dev/null | awk '$1 != "max"' | sort -n | head -1
}

cat >"$MAN/oom.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: oom, namespace: vm}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: vm.local/busybox:latest
    # dd's 200M block buffer is touched by the read from /dev/zero: far past the 64Mi limit.
    command: ["/bin/sh", "-c", "echo allocating; exec dd if=/dev/zero of=/dev/null bs=200M count=1"]
    resources: {limits: {memory: 64Mi, cpu: 500m}}
YAML
terminated() { pod_status oom | grep -qv '^[^ ]* - '; }
wait_for 180 terminated
read -r phase reason code restarts uid <<<"$(pod_status oom)"
fact oom_pod_phase "$phase"; fact oom_pod_reason "$reason"; fact oom_pod_exit_code "$code"
fact oom_pod_restart_count "$restarts"
cg=$(pod_cgroup "$uid")
fact oom_pod_cgroup "${cg:-none}"
if [[ -n $cg ]]; then
  fact oom_pod_memory_max "$(subtree_limit memory.max "$cg")"
  fact oom_pod_oom_kills "$(awk '$1 == "oom_kill" {print $2}' "$cg/memory.events" 2>/dev/null)"
fi
kill -0 "$AGENT" 2>/dev/null; fact agent_alive_after_oom $?
api /healthz >/dev/null; fact agent_healthz_after_oom $?

cat >"$MAN/bomb.yaml" <<'YAML'
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
bomb_cg() { uid=$(pod_status bomb | awk '{print $5}'); [[ -n $uid && $uid != - ]] && cg=$(pod_cgroup "$uid") && [[ -n $cg ]]; }
wait_for 120 bomb_cg
fact bomb_pod_cgroup "${cg:-none}"
# The cgroup (pod level or a container below it) whose pids.max refused forks: pids.events counts
# refusals in the cgroup whose limit was hit.
limited_cg() {
  local d; for d in $(find "$cg" -type d 2>/dev/null); do
    [[ $(awk '$1 == "max" {print $2}' "$d/pids.events" 2>/dev/null) -gt 0 ]] 2>/dev/null && { echo "$d"; return 0; }
  done; return 1
}
if [[ -n ${cg:-} ]] && wait_for 120 limited_cg; then
  lcg=$(limited_cg)
  fact bomb_limited_cgroup "${lcg#/sys/fs/cgroup/}"
  fact bomb_pids_max "$(cat "$lcg/pids.max")"
  fact bomb_pids_current "$(cat "$lcg/pids.current")"
  fact bomb_pids_max_events "$(awk '$1 == "max" {print $2}' "$lcg/pids.events")"
fi
[[ -n ${cg:-} ]] && fact bomb_cpu_max "$(subtree_limit cpu.max "$cg")"
fact root_pids_max_events "$(awk '$1 == "max" {print $2}' /sys/fs/cgroup/$CGROOT/pids.events)"
kill -0 "$AGENT" 2>/dev/null; fact agent_alive_during_bomb $?
api /healthz >/dev/null; fact agent_healthz_during_bomb $?

# Removing the manifests removes the pods and their cgroups; the agent stays.
rm -f "$MAN"/*.yaml
no_pod_cgroups() { [[ -z $(find /sys/fs/cgroup/$CGROOT -type d -name '*pod*' 2>/dev/null) ]]; }
wait_for 120 no_pod_cgroups; fact pod_cgroups_removed $?
kill -0 "$AGENT" 2>/dev/null; fact agent_alive_at_end $?
exit 0
