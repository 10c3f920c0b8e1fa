#!/bin/bash
# Pod start through the runtime API (sandbox + container running) beside `runc run -d`, same
# run: loopback only, then the default CNI network with our plugins in process and executed.
#   Benchmarks/podstart/run.sh [N_SEQUENTIAL] [N_PARALLEL]     (as root, from the repository root)
#   MODES="inprocess" limits the runs (of: "" for loopback only, inprocess, exec).
# Needs: scripts/build-release.sh (podstart-bench, swiftlet, swiftlet-shim, the CNI plugins), python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
SEQ=${1:-50}
PAR=${2:-10}
BIN=$(scripts/build-release.sh --show-bin-path)
for b in podstart-bench swiftlet swiftlet-shim swiftlet-bridge; do [[ -x $BIN/$b ]] || { echo "build first: scripts/build-release.sh ($b missing)"; exit 1; }; done
DIR=$(mktemp -d /tmp/podstart-bench.XXXXXX)
NS=podstart-$$
cleanup() {
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
python3 - "$DIR" <<'PY'
import json, sys
d = sys.argv[1]
entries = [{"path": "bin", "type": "dir", "mode": 0o755}, {"path": "tmp", "type": "dir", "mode": 0o1777},
           {"path": "bin/busybox", "type": "file", "source": "/bin/busybox", "mode": 0o755}]
entries += [{"path": "bin/" + a, "type": "symlink", "link": "busybox"} for a in ["sh", "sleep"]]
json.dump({"out": f"{d}/img", "name": "bench.local/busybox:1", "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]}, "layers": [entries]},
          open(f"{d}/img.json", "w"))
PY
python3 Tests/ImagesTests/Fixtures/imagebuilder.py "$DIR/img.json" >/dev/null
"$BIN/swiftlet" image import --root-dir "$DIR/root" "$DIR/img/docker.tar" >/dev/null
# The bridge, veths and the masquerade rule go into a namespace of the benchmark's own.
ip netns add "$NS"
ip -n "$NS" link set lo up
for mode in ${MODES-"" inprocess exec}; do
  echo "== PODSTART_NETWORK=${mode:-(none: loopback only)}"
  PODSTART_NETWORK=$mode ip netns exec "$NS" "$BIN/podstart-bench" "$DIR/root" bench.local/busybox:1 "$SEQ" "$PAR"
done
