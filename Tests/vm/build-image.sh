#!/usr/bin/env bash
# Builds (once) the VM image the cgroup-v2 / systemd tests boot: a Debian bookworm root
# filesystem made by mmdebstrap with systemd as PID 1, the runtime libraries our binaries link
# and the host toolchain's Swift runtime, as an ext4 image plus the guest's own kernel and initrd.
# The result is cached under $(vm_cache_dir)/<hash of the build inputs>/; prints that folder.
#   build-image.sh           build if missing, print the image folder
#   build-image.sh --hash    print the hash only
#   build-image.sh --prune   remove cached images not used for a day (other hashes)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CACHE=$(vm_cache_dir)
HASH=$(vm_image_hash)
IMAGE=$CACHE/$HASH
case ${1:-} in
  --hash) echo "$HASH"; exit 0 ;;
  --prune)
    find "$CACHE" -mindepth 1 -maxdepth 1 -type d ! -name "$HASH" ! -name 'tmp.*' \
      -not -newermt '-1 day' -exec rm -rf {} + 2>/dev/null || true
    exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--hash|--prune]" >&2; exit 2 ;;
esac

image_complete() { [[ -f $IMAGE/root.img && -f $IMAGE/vmlinuz && -f $IMAGE/initrd.img && -f $IMAGE/complete ]]; }
if image_complete; then echo "$IMAGE"; exit 0; fi

for tool in mmdebstrap mke2fs; do
  command -v "$tool" >/dev/null || { echo "build-image.sh: $tool missing (scripts/setup-host.sh installs it)" >&2; exit 3; }
done
[[ $(id -u) == 0 ]] || { echo "build-image.sh: building the image needs root (mmdebstrap --mode=root)" >&2; exit 3; }
[[ -d $SWIFT_RUNTIME_DIR ]] || { echo "build-image.sh: no Swift runtime at $SWIFT_RUNTIME_DIR" >&2; exit 3; }

mkdir -p "$CACHE"
# One builder at a time per cache; whoever waited finds the image done.
exec 9>"$CACHE/build.lock"
flock -w 1800 9 || { echo "build-image.sh: timed out waiting for $CACHE/build.lock" >&2; exit 3; }
if image_complete; then echo "$IMAGE"; exit 0; fi

WORK=$(mktemp -d "$CACHE/tmp.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/root
start=$SECONDS
vm_log "building image $HASH (bookworm from $(vm_mirror)); takes a minute or two, once"

# Everything a Swift or systemd test needs is in the image; docs, man pages, locales and drivers
# for hardware a VM never has are left out to keep the image small and mke2fs quick.
excludes=('/usr/share/man/*' '/usr/share/doc/*' '/usr/share/info/*' '/usr/share/locale/*' '/usr/share/lintian/*')
for d in sound drivers/gpu drivers/media drivers/net/wireless drivers/infiniband drivers/staging \
    drivers/bluetooth drivers/iio net/wireless net/mac80211; do
  excludes+=("/lib/modules/*/kernel/$d/*")
done
dpkgopts=()
for e in "${excludes[@]}"; do dpkgopts+=("--dpkgopt=path-exclude=$e"); done

# Units a throwaway test VM does not need: every fork+exec costs ~50 ms under TCG. logind, dbus,
# udev and journald stay (the systemd scenario needs a realistic host).
masked=(getty@tty1.service serial-getty@ttyS0.service apt-daily.timer apt-daily-upgrade.timer
  e2scrub_all.timer e2scrub_reap.service fstrim.timer dpkg-db-backup.timer man-db.timer
  systemd-tmpfiles-clean.timer modprobe@drm.service modprobe@efi_pstore.service
  sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount sys-fs-fuse-connections.mount
  systemd-binfmt.service proc-sys-fs-binfmt_misc.automount systemd-journal-flush.service
  systemd-random-seed.service systemd-update-utmp.service systemd-update-utmp-runlevel.service
  systemd-pstore.service ldconfig.service)

LOG=$CACHE/build-$HASH.log
vm_log "build log: $LOG"
mmdebstrap --mode=root --variant=apt --verbose \
  --include="$(vm_packages)" "${dpkgopts[@]}" \
  --customize-hook="sync-in '$VM_DIR/guest' /" \
  --customize-hook='chmod 0755 "$1/usr/local/sbin/swiftlet-vm-runner"' \
  --customize-hook="mkdir -p \"\$1/usr/lib/swift-runtime\" && cp -a '$SWIFT_RUNTIME_DIR'/*.so \"\$1/usr/lib/swift-runtime/\"" \
  --customize-hook='chroot "$1" ldconfig' \
  --customize-hook='mkdir -p "$1/mnt/share" && echo swiftlet-vm >"$1/etc/hostname" && printf "127.0.0.1 localhost\n127.0.1.1 swiftlet-vm\n::1 localhost\n" >"$1/etc/hosts"' \
  --customize-hook='echo 5377696674c6574564d0000000000001 >"$1/etc/machine-id"' \
  --customize-hook="for u in ${masked[*]}; do ln -sf /dev/null \"\$1/etc/systemd/system/\$u\"; done" \
  --customize-hook='ln -sf /etc/systemd/system/swiftlet-vm-runner.service "$1/etc/systemd/system/multi-user.target.wants/swiftlet-vm-runner.service"' \
  --customize-hook='chroot "$1" update-initramfs -u -k all >/dev/null' \
  --customize-hook='chroot "$1" dpkg-query -W >"$1/etc/swiftlet-vm-packages"' \
  bookworm "$ROOT" "$(vm_mirror)" >"$LOG" 2>&1 || { tail -40 "$LOG" >&2; echo "build-image.sh: mmdebstrap failed (log: $LOG)" >&2; exit 1; }

mkdir -p "$WORK/out"
kernel=$(ls "$ROOT"/boot/vmlinuz-* | sort -V | tail -1)
version=${kernel##*/vmlinuz-}
cp "$kernel" "$WORK/out/vmlinuz"
cp "$ROOT/boot/initrd.img-$version" "$WORK/out/initrd.img"
cp "$ROOT/etc/swiftlet-vm-packages" "$WORK/out/packages"
echo "$version" >"$WORK/out/kernel-version"
# Room for images, pods and logs on top of the files (writes go to qemu's snapshot overlay).
size_mb=$(( $(du -sm "$ROOT" | cut -f1) + 1536 ))
mke2fs -q -t ext4 -O ^has_journal,^metadata_csum -L swiftlet-vm -d "$ROOT" "$WORK/out/root.img" "${size_mb}M" >&2
touch "$WORK/out/complete"
rm -rf "$IMAGE"
mv "$WORK/out" "$IMAGE"
vm_log "image $HASH built in $((SECONDS - start)) s (kernel $version, ${size_mb} MB)"
echo "$IMAGE"
