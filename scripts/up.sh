#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine, as root: installs what is missing, builds, imports
# a busybox image into the data dir and runs `swiftlet up` (the bundled API server and the agent
# on this host in one process). kubectl is then pointed at the admin kubeconfig it prints.
# SWIFTLET_DATA_DIR picks the data dir (default /var/lib/swiftlet); extra arguments go to `up`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-host.sh
scripts/build-release.sh --product swiftlet >/dev/null
scripts/build-release.sh --product swiftlet-shim >/dev/null
bin=$(scripts/build-release.sh --show-bin-path)
data=${SWIFTLET_DATA_DIR:-/var/lib/swiftlet}
mkdir -p "$data"
if ! "$bin/swiftlet" image ls --root-dir "$data" 2>/dev/null | grep -q swiftlet.local/busybox; then
  image=$(scripts/busybox-image.sh "$data/.busybox-image")
  "$bin/swiftlet" image import --root-dir "$data" "$image"
fi
cat <<MSG
swiftlet up: API server + agent. When it says it is up, in another shell:
  export KUBECONFIG=$data/apiserver/admin.kubeconfig
  kubectl get nodes
  kubectl create deployment web --image=swiftlet.local/busybox:latest --replicas=3 -- httpd -f -p 8080 -h /
  kubectl expose deployment web --port=80 --target-port=8080
MSG
exec "$bin/swiftlet" up --data-dir "$data" "$@"
