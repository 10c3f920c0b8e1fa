#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: installs what is missing, builds, imports
# a busybox image and runs the agent (standalone) with a sample pod. Ctrl-C stops the agent;
# the pod keeps running until its manifest is removed and the agent runs again.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-host.sh
scripts/build-release.sh --product swiftlet >/dev/null
scripts/build-release.sh --product swiftlet-shim >/dev/null
bin=$(scripts/build-release.sh --show-bin-path)
state=${SWIFTLET_DEMO_DIR:-/var/lib/swiftlet-demo}
mkdir -p "$state/manifests"
image=$(scripts/busybox-image.sh "$state/image")
"$bin/swiftlet" image import --root-dir "$state/root" "$image"
cat >"$state/manifests/hello.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: hello, namespace: demo}
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - name: web
    image: swiftlet.local/busybox:latest
    command: ["/bin/sh", "-c", "echo hello from $(hostname) > /www/index.html; exec httpd -f -p 8080 -h /www"]
YAML
echo "agent starting; in another shell:"
echo "  curl -s localhost:10255/pods | python3 -m json.tool | head -40"
echo "  $bin/swiftlet pods --root-dir $state/root"
echo "  $bin/swiftlet exec --root-dir $state/root hello -- cat /www/index.html"
exec "$bin/swiftlet" agent --standalone --root-dir "$state/root" --pod-manifest-path "$state/manifests" --cgroup-root /swiftlet-demo
