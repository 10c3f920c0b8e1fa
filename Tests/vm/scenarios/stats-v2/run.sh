#!/bin/bash
# Stats on a pure cgroup v2 host (issue 5): what the hybrid development host cannot show.
# A container under cpu.max with a busy loop (throttling), one over memory.max (OOM kill), one
# holding 32 MiB (memory.current/memory.stat path of the collector). `stats-bench probe` samples
# them twice and writes the endpoints' output to out/; the kernel's own numbers, read right after,
# are recorded as facts for the host-side test to compare. Expects bin/stats-bench in the share.
source "$VM_SHARE/lib/guest.sh"

root=/sys/fs/cgroup
fact cgroup_fs "$(stat -fc %T $root)"
enable_controllers "$root" cpu memory io pids
base=$root/vm-stats
mkdir "$base"; on_exit "rmdir $base"
enable_controllers "$base" cpu memory io pids
pod=$base/pod
mkdir "$pod"; on_exit "rmdir $pod"
enable_controllers "$pod" cpu memory io pids
for c in burn oom mem; do mkdir "$pod/$c"; on_exit "echo 1 >$pod/$c/cgroup.kill; sleep 0.3; rmdir $pod/$c"; done

# Throttling: 10 ms per 100 ms, a busy loop.
echo "10000 100000" >"$pod/burn/cpu.max"
run_in_cgroup "$pod/burn" busybox sh -c 'while :; do :; done' &
# OOM: memory.max 50M (no swap), 100M through tail, which holds one 100M line.
echo 50M >"$pod/oom/memory.max"
[[ -f $pod/oom/memory.swap.max ]] && echo 0 >"$pod/oom/memory.swap.max"
head -c 100M /dev/zero | run_in_cgroup "$pod/oom" tail -n 1 >/dev/null
fact oom_exit_status "${PIPESTATUS[1]}"
# Memory: 32 MiB of touched anonymous memory, then idle.
run_in_cgroup "$pod/mem" python3 -c 'import time; b = b"x" * (32 << 20); time.sleep(600)' &
wait_for 20 awk '$1 == "anon" && $2 >= 33554432 {found=1} END {exit !found}' "$pod/mem/memory.stat"
sleep 1.5

"$VM_SHARE/bin/stats-bench" probe --pod vm-stats/stats-pod:/vm-stats/pod \
  --container burn:/vm-stats/pod/burn --container oom:/vm-stats/pod/oom --container mem:/vm-stats/pod/mem \
  --interval-ms 1000 --out "$VM_OUT" >"$VM_OUT/probe.log" 2>&1
fact probe_rc "$?"
fact probe_layout "$(head -1 "$VM_OUT/probe.log")"

# The kernel's numbers right after the probe (throttling keeps rising; the others are stable).
fact burn_nr_periods "$(awk '$1 == "nr_periods" {print $2}' "$pod/burn/cpu.stat")"
fact burn_nr_throttled "$(awk '$1 == "nr_throttled" {print $2}' "$pod/burn/cpu.stat")"
fact oom_kill "$(awk '$1 == "oom_kill" {print $2}' "$pod/oom/memory.events")"
fact oom_events_max "$(awk '$1 == "max" {print $2}' "$pod/oom/memory.events")"
fact mem_current "$(cat "$pod/mem/memory.current")"
fact mem_inactive_file "$(awk '$1 == "inactive_file" {print $2}' "$pod/mem/memory.stat")"
fact mem_anon "$(awk '$1 == "anon" {print $2}' "$pod/mem/memory.stat")"
