# Shared by build-image.sh and run-in-vm.sh. Sourced, not run.
# The cache lives outside git: $SWIFTLET_VM_CACHE, else /var/cache/swiftlet-vm as root,
# else .build/vm in the package root.
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PACKAGE_ROOT=$(cd "$VM_DIR/../.." && pwd)
SWIFT_RUNTIME_DIR=${SWIFT_RUNTIME_DIR:-$(dirname "$(dirname "$(readlink -f "$(command -v swiftc || echo /opt/swift/usr/bin/swiftc)")")")/lib/swift/linux}

vm_cache_dir() {
  if [[ -n ${SWIFTLET_VM_CACHE:-} ]]; then echo "$SWIFTLET_VM_CACHE"
  elif [[ $(id -u) == 0 ]]; then echo /var/cache/swiftlet-vm
  else echo "$PACKAGE_ROOT/.build/vm"; fi
}

# The Debian mirror apt on this host uses (first deb.debian.org-style URI for the main archive).
vm_mirror() {
  if [[ -n ${SWIFTLET_VM_MIRROR:-} ]]; then echo "$SWIFTLET_VM_MIRROR"; return; fi
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
    /^Types:/ {deb = ($0 ~ /[[:space:]]deb([[:space:]]|$)/)}
    /^URIs:/ && deb {print $2}' | grep -v -e security -e '^$' | grep /debian | head -1)
  [[ -z $uri ]] && uri=$(grep -hE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '{for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' | grep /debian | grep -v security | head -1)
  echo "${uri:-http://deb.debian.org/debian}"
}

vm_packages() { grep -Ev '^[[:space:]]*(#|$)' "$VM_DIR/packages.txt" | paste -sd, -; }

# Hash of everything that goes into the image: the package list, the mirror, the build script,
# the guest files, and the Swift runtime libraries baked in (names, sizes, mtimes).
vm_image_hash() {
  {
    echo "suite=bookworm mirror=$(vm_mirror)"
    vm_packages
    cat "$VM_DIR/build-image.sh" "$VM_DIR/lib.sh"
    (cd "$VM_DIR/guest" && find . -type f | LC_ALL=C sort | xargs sha256sum)
    (cd "$SWIFT_RUNTIME_DIR" && find . -maxdepth 1 -name '*.so' -printf '%f %s %T@\n' | LC_ALL=C sort)
  } | sha256sum | cut -c1-16
}

vm_log() { echo "[vm] $*" >&2; }
