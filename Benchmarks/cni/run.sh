#!/bin/bash
# CNI ADD+DEL latency of our bridge + host-local against Debian's reference bridge + host-local,
# measured in the same run inside two network namespaces this script makes (node and pod), so
# the host's own network is never touched. Needs root, containernetworking-plugins, iproute2.
# Usage: Benchmarks/cni/run.sh   (ITERATIONS=200 for more samples)
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) == 0 ]] || { echo "needs root" >&2; exit 1; }
[[ -x /usr/lib/cni/bridge ]] || { echo "apt-get install containernetworking-plugins" >&2; exit 1; }
scripts/build-release.sh --product swiftlet-bridge >/dev/null
scripts/build-release.sh --product swiftlet-host-local >/dev/null
BIN=$(scripts/build-release.sh --show-bin-path)
NODE=cnibench-node-$$ POD=cnibench-pod-$$
cleanup() { ip netns del "$POD" 2>/dev/null || true; ip netns del "$NODE" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "$NODE"; ip netns add "$POD"
ip -n "$NODE" link set lo up
ip netns exec "$NODE" python3 Benchmarks/cni/driver.py "/run/netns/$POD" "$BIN"
