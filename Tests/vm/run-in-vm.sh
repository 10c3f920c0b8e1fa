#!/usr/bin/env bash
# Boots the pure cgroup v2 Debian VM (systemd as PID 1) with SHARE_DIR as a 9p share at
# /mnt/share, runs SHARE_DIR/run.sh there as root once systemd is up, and hands back its stdout,
# stderr and exit code. The guest powers off right after; nothing it wrote to its own disk stays.
#
#   run-in-vm.sh [options] SHARE_DIR
#     --timeout SECONDS   whole run, boot included (default 300); qemu is killed after it
#     --memory MB         guest memory (default 2048)
#     --cpus N            guest vCPUs (default 2)
#     --add SRC[:DEST]    copy SRC (file or folder) into SHARE_DIR[/DEST] before booting; repeatable
#     --env KEY=VALUE     environment for run.sh; repeatable
#     --append ARGS       extra kernel command line
#
# Inside: run.sh runs in /mnt/share with VM_SHARE=/mnt/share, VM_OUT=/mnt/share/out (results
# that stay on the host in SHARE_DIR/out), SWIFTLET_VM=1. The guest has the host toolchain's
# Swift runtime in its ld.so path, so host-built Swift binaries run from the share as they are.
# After the run SHARE_DIR/.vm/ holds stdout, stderr, exit-code, dmesg, console.log and timing.
#
# Exit status: run.sh's; 124 when the timeout hit; 125 when the VM ended without a result
# (the console log's tail goes to stderr); 3 when the host cannot run VMs (qemu/mmdebstrap missing).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

timeout_s=300 memory=2048 cpus=2 append="" adds=() envs=()
while (($#)); do
  case $1 in
    --timeout) timeout_s=$2; shift 2 ;;
    --memory) memory=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --add) adds+=("$2"); shift 2 ;;
    --env) envs+=("$2"); shift 2 ;;
    --append) append=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "run-in-vm.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
(($# == 1)) || { echo "usage: run-in-vm.sh [options] SHARE_DIR (see --help)" >&2; exit 2; }
SHARE=$(cd "$1" && pwd) || { echo "run-in-vm.sh: no such folder: $1" >&2; exit 2; }
[[ -f $SHARE/run.sh ]] || { echo "run-in-vm.sh: $SHARE/run.sh missing" >&2; exit 2; }
command -v qemu-system-x86_64 >/dev/null || { echo "run-in-vm.sh: qemu-system-x86_64 missing (scripts/setup-host.sh installs it)" >&2; exit 3; }

IMAGE=$("$VM_DIR/build-image.sh") || { echo "run-in-vm.sh: image build failed" >&2; exit 3; }
touch "$IMAGE/last-used"

for a in "${adds[@]+"${adds[@]}"}"; do
  src=${a%%:*}; dest=; [[ $a == *:* ]] && dest=${a#*:}
  mkdir -p "$SHARE/$(dirname "${dest:-x}")"
  cp -a "$src" "$SHARE/${dest:-$(basename "$src")}"
done
RES=$SHARE/.vm
rm -rf "$RES"; mkdir -p "$RES" "$SHARE/out"
for e in "${envs[@]+"${envs[@]}"}"; do printf '%q=%q\n' "${e%%=*}" "${e#*=}"; done >"$RES/env"

# One VM at a time on this machine: TCG on 2 shared cores gets slower, not faster, in parallel.
exec 8>"$(vm_cache_dir)/run.lock"
flock -w 3600 8 || { echo "run-in-vm.sh: timed out waiting for the VM lock" >&2; exit 125; }

cmdline="console=ttyS0 root=/dev/vda rw rootfstype=ext4 panic=-1 systemd.unified_cgroup_hierarchy=1"
cmdline+=" quiet loglevel=3 systemd.show_status=error $append"
start=$(date +%s.%N)
set +e
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
  -accel "${SWIFTLET_VM_ACCEL:-tcg}" -M pc -cpu "${SWIFTLET_VM_CPU:-max}" -m "$memory" -smp "$cpus" \
  -nodefaults -no-user-config -display none -vga none -monitor none -no-reboot -nic none \
  -serial "file:$RES/console.log" \
  -kernel "$IMAGE/vmlinuz" -initrd "$IMAGE/initrd.img" -append "$cmdline" \
  -drive "file=$IMAGE/root.img,if=virtio,format=raw,snapshot=on,cache=unsafe" \
  -virtfs "local,path=$SHARE,mount_tag=share,security_model=none,id=share" \
  </dev/null >"$RES/qemu.log" 2>&1
qemu_rc=$?
set -e
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
boot=$(cat "$RES/runner-started-uptime" 2>/dev/null || echo "?")
printf 'total_seconds=%s\nguest_uptime_at_run=%s\n' "$elapsed" "$boot" >"$RES/timing"

[[ -f $RES/stdout ]] && cat "$RES/stdout"
[[ -f $RES/stderr ]] && cat "$RES/stderr" >&2
if [[ -f $RES/exit-code ]]; then
  rc=$(cat "$RES/exit-code")
  vm_log "run.sh exited $rc; VM ran $(printf %.1f "$elapsed") s (run.sh started at guest uptime ${boot} s)"
  exit "$rc"
fi
if ((qemu_rc == 124 || qemu_rc == 137)); then
  vm_log "timed out after ${timeout_s} s; console tail:"; tail -20 "$RES/console.log" >&2; exit 124
fi
vm_log "VM ended (qemu exit $qemu_rc) without a result; console tail:"
tail -30 "$RES/console.log" >&2; cat "$RES/qemu.log" >&2
exit 125
