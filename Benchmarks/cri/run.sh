#!/bin/bash
# CRI pod start: swiftlet cri vs containerd 1.6 + runc (Debian 12's), same machine, same run,
# same client (cri-bench), each runtime in a network namespace of its own.
#   Benchmarks/cri/run.sh [ITERATIONS]        (as root, from the repository root)
# Needs: scripts/build-release.sh (swiftlet, swiftlet-shim, CNI plugins, cri-bench), python3;
# for the peer: apt-get install containerd runc containernetworking-plugins.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-50}
BIN=$(scripts/build-release.sh --show-bin-path)
for b in swiftlet swiftlet-shim swiftlet-bridge cri-bench; do [[ -x $BIN/$b ]] || { echo "build first: scripts/build-release.sh ($b missing)"; exit 1; }; done
DIR=$(mktemp -d /tmp/cri-bench.XXXXXX)
NS=cribench-$$
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  # containerd's shims outlive it: end the ones of this run.
  for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $DIR/containerd.sock" || true); do kill -9 "$p" 2>/dev/null || true; done
  grep " $DIR" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  for cg in /sys/fs/cgroup/*/cribench-$$ /sys/fs/cgroup/cribench-$$; do
    [[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true
  # The agent's run dir for --root-dir $DIR/root: the path's components joined with '-'.
  local tag=${DIR#/}
  rm -rf "$DIR" "/run/swiftlet/${tag//\//-}-root" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
IN=(nsenter --net=/run/netns/$NS)

# The same busybox image for both, and a sleeping sandbox image for containerd.
python3 - "$DIR" <<'PY'
import json, sys
d = sys.argv[1]
entries = [{"path": "bin", "type": "dir", "mode": 0o755}, {"path": "tmp", "type": "dir", "mode": 0o1777},
           {"path": "bin/busybox", "type": "file", "source": "/bin/busybox", "mode": 0o755}]
entries += [{"path": "bin/" + a, "type": "symlink", "link": "busybox"} for a in ["sh", "sleep"]]
for name, out, cmd in [("bench.local/busybox:1", "img", ["/bin/sh"]), ("bench.local/pause:1", "pause", ["/bin/sleep", "2147483647"])]:
    json.dump({"out": f"{d}/{out}", "name": name, "config": {"Env": ["PATH=/bin"], "Cmd": cmd}, "layers": [entries]},
              open(f"{d}/{out}.json", "w"))
PY
python3 Tests/ImagesTests/Fixtures/imagebuilder.py "$DIR/img.json" >/dev/null
python3 Tests/ImagesTests/Fixtures/imagebuilder.py "$DIR/pause.json" >/dev/null

echo "== CRI pod start, $N pods each, one at a time (RunPodSandbox + CreateContainer + StartContainer) =="
# swiftlet: our CNI plugins in process (the default); with BOTH_CNI_MODES=1 also a second
# agent that starts them as executables (--cni-exec-own-plugins), as before, in the same run.
"$BIN/swiftlet" image import --root-dir "$DIR/root" "$DIR/img/docker.tar" >/dev/null
MODES=("in-process")
[[ ${BOTH_CNI_MODES:-0} == 1 ]] && MODES+=("exec")
for mode in "${MODES[@]}"; do
  EXTRA=()
  [[ $mode == exec ]] && EXTRA=(--cni-exec-own-plugins)
  rm -f "$DIR/swiftlet.sock"
  "${IN[@]}" "$BIN/swiftlet" cri --root-dir "$DIR/root" --container-runtime-endpoint "unix://$DIR/swiftlet.sock" \
    --cgroup-root "/cribench-$$" --cni-conf-dir "$DIR/swiftlet-cni" --cni-bin-dir "$BIN" --log-level warning "${EXTRA[@]}" >>"$DIR/swiftlet.log" 2>&1 &
  AGENT=$!
  PIDS+=($AGENT)
  for _ in $(seq 100); do [[ -S $DIR/swiftlet.sock ]] && break; sleep 0.1; done
  "$BIN/cri-bench" "$DIR/swiftlet.sock" bench.local/busybox:1 --iterations "$N" --label "swiftlet ($mode CNI)" --log-dir "$DIR/logs"
  "$BIN/cri-bench" "$DIR/swiftlet.sock" bench.local/busybox:1 --iterations "$N" --label "swiftlet ($mode CNI)" --log-dir "$DIR/logs" --host-network
  kill "$AGENT" 2>/dev/null || true
  wait "$AGENT" 2>/dev/null || true
done

# containerd 1.6 + runc, if installed
# PEER=0 skips the peer (profiling swiftlet alone).
if [[ ${PEER:-1} == 1 ]] && command -v containerd >/dev/null && command -v runc >/dev/null && [[ -x /usr/lib/cni/bridge ]]; then
  mkdir -p "$DIR/containerd-cni"
  cat >"$DIR/containerd-cni/10-bench.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "bench", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.89.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
JSON
  sed "s#@DIR@#$DIR#g" Benchmarks/cri/containerd.toml.in >"$DIR/containerd.toml"
  "${IN[@]}" containerd --config "$DIR/containerd.toml" >"$DIR/containerd.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do [[ -S $DIR/containerd.sock ]] && break; sleep 0.1; done
  ctr -a "$DIR/containerd.sock" -n k8s.io images import "$DIR/img/docker.tar" >/dev/null
  ctr -a "$DIR/containerd.sock" -n k8s.io images import "$DIR/pause/docker.tar" >/dev/null
  "$BIN/cri-bench" "$DIR/containerd.sock" bench.local/busybox:1 --iterations "$N" --label "containerd+runc" --log-dir "$DIR/logs" --cgroup-parent "/cribench-$$"
  "$BIN/cri-bench" "$DIR/containerd.sock" bench.local/busybox:1 --iterations "$N" --label "containerd+runc" --log-dir "$DIR/logs" --cgroup-parent "/cribench-$$" --host-network
else
  echo "(containerd, runc or Debian's CNI plugins not installed: no peer in this run)"
fi
