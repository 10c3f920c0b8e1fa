#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test Swiftlet: the C libraries'
# -dev packages, and the peers and observers the tests use (nftables, reference CNI plugins,
# Prometheus, runc for benchmarks, qemu + mmdebstrap for the cgroup v2 / systemd VM tests).
set -euo pipefail
packages=(
  pkg-config libcap-dev libseccomp-dev libnl-3-dev libnl-route-3-dev libnftnl-dev libmnl-dev
  zlib1g-dev libsqlite3-dev
  busybox-static iproute2 nftables conntrack containernetworking-plugins prometheus runc
  qemu-system-x86 mmdebstrap e2fsprogs curl python3 dbus-daemon
)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq "${missing[@]}"; }
fi
# The API server tests drive it with the official Python client as well as kubectl.
python3 -c "import kubernetes" 2>/dev/null || pip install -q kubernetes
