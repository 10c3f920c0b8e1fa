#!/bin/bash
# Smoke scenario: the guest is a pure cgroup v2 host with controllers, host-built Swift binaries
# run in it, and the kernel enforces memory.max (OOM kill), pids.max and cpu.max.
# Expects bin/swiftlet (any host-built Swift executable of this package) in the share.
source "$VM_SHARE/lib/guest.sh"

fact cgroup_fs "$(stat -fc %T /sys/fs/cgroup)"
# Every cgroup-type mount, as TYPE:PATH: exactly one cgroup2 at /sys/fs/cgroup on a pure v2 host.
fact cgroup_mounts "$(awk '$3 == "cgroup" || $3 == "cgroup2" {print $3 ":" $2}' /proc/mounts | paste -sd' ')"
fact root_controllers "$(cat /sys/fs/cgroup/cgroup.controllers)"
fact pid1 "$(cat /proc/1/comm)"
fact kernel "$(uname -r)"

# A host-built, dynamically linked Swift binary, straight from the share and as a systemd service.
out=$("$VM_SHARE/bin/swiftlet" --help 2>&1); rc=$?
fact swift_binary_rc "$rc"
fact swift_binary_first_line "$(echo "$out" | grep -m1 -i 'usage\|overview' || echo "$out" | head -1)"
svc_out=$(systemd-run --quiet --wait --pipe -p MemoryMax=64M "$VM_SHARE/bin/swiftlet" --help 2>&1); rc=$?
fact swift_service_rc "$rc"

root=/sys/fs/cgroup
enable_controllers "$root" memory pids cpu
fact root_subtree_control "$(cat $root/cgroup.subtree_control)"

# memory.max=50M and a 100M allocation: tail buffers one 100M line with no newline in it.
cg=$root/vm-smoke-oom
mkdir "$cg"; on_exit "rmdir $cg"
echo 50M >"$cg/memory.max"
fact oom_memory_max "$(cat "$cg/memory.max")"
head -c 100M /dev/zero | run_in_cgroup "$cg" tail -n 1 >/dev/null
fact oom_exit_status "${PIPESTATUS[1]}"
fact oom_kill_events "$(awk '$1 == "oom_kill" {print $2}' "$cg/memory.events")"
fact oom_kernel_log "$(dmesg | grep -c 'Memory cgroup out of memory')"

# pids.max=8 and a shell trying to start 20 sleeps: forks fail (busybox sh does not retry them
# as bash does), and pids.events counts the refusals.
cg=$root/vm-smoke-pids
mkdir "$cg"; on_exit "rmdir $cg"
echo 8 >"$cg/pids.max"
run_in_cgroup "$cg" busybox sh -c 'for i in $(seq 20); do sleep 30 & done; true' >/dev/null 2>&1
fact pids_max "$(cat "$cg/pids.max")"
fact pids_current_after_bomb "$(cat "$cg/pids.current")"
fact pids_max_events "$(awk '$1 == "max" {print $2}' "$cg/pids.events")"
echo 1 >"$cg/cgroup.kill"
wait_for 10 test ! -s "$cg/cgroup.procs"

# cpu.max 10 ms per 100 ms and a busy loop for 0.6 s: the group is throttled.
cg=$root/vm-smoke-cpu
mkdir "$cg"; on_exit "rmdir $cg"
echo "10000 100000" >"$cg/cpu.max"
run_in_cgroup "$cg" timeout 0.6 bash -c 'while :; do :; done'
fact cpu_max "$(cat "$cg/cpu.max")"
fact cpu_nr_throttled "$(awk '$1 == "nr_throttled" {print $2}' "$cg/cpu.stat")"
fact cpu_usage_usec "$(awk '$1 == "usage_usec" {print $2}' "$cg/cpu.stat")"
exit 0
