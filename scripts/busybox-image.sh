#!/usr/bin/env bash
# Builds a small busybox image from Debian's busybox-static, with no network, as a
# docker-archive (OUT/docker.tar) and an OCI layout (OUT/oci, OUT/oci.tar).
# usage: scripts/busybox-image.sh OUTDIR [NAME:TAG]
set -euo pipefail
out=${1:?usage: busybox-image.sh OUTDIR [NAME:TAG]}
ref=${2:-swiftlet.local/busybox:latest}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
python3 - "$out" "$ref" >"$out/spec.json" <<'PY'
import json, sys
out, ref = sys.argv[1], sys.argv[2]
applets = ["sh", "sleep", "echo", "cat", "ls", "true", "false", "env", "id", "hostname", "ps", "wget", "nc", "httpd",
           "touch", "mkdir", "rm", "grep", "head", "tail", "dd", "top", "kill", "ip", "ifconfig", "date", "uname", "stat", "wc"]
entries = [{"path": d, "type": "dir", "mode": 0o1777 if d == "tmp" else 0o755} for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "root", "var", "www"]]
entries.append({"path": "bin/busybox", "type": "file", "source": "/bin/busybox", "mode": 0o755})
entries += [{"path": "bin/" + a, "type": "symlink", "link": "busybox"} for a in applets]
entries.append({"path": "etc/passwd", "type": "file", "data": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", "mode": 0o644})
entries.append({"path": "etc/group", "type": "file", "data": "root:x:0:\nnogroup:x:65534:\n", "mode": 0o644})
json.dump({"out": out, "name": ref, "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/"}, "layers": [entries]}, sys.stdout)
PY
python3 "$here/Tests/ImagesTests/Fixtures/imagebuilder.py" "$out/spec.json" >/dev/null
echo "$out/docker.tar"
