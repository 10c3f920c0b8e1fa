#!/bin/bash
# Writes a docker-archive (the `docker save` format) of a one-layer busybox image made from the
# guest's /bin/busybox (Debian's busybox-static): no network, no registry.
#   mkbusybox-image.sh OUT.tar [NAME:TAG]
set -euo pipefail
out=$1 ref=${2:-vm.local/busybox:latest}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,root,var,data}
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
  [[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$work/layer.tar" bin etc tmp proc sys dev root var data
layer_sha=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
config='{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:'$layer_sha'"]}}'
config_sha=$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
mkdir -p "$work/archive/$layer_sha"
mv "$work/layer.tar" "$work/archive/$layer_sha/layer.tar"
printf '%s' "$config" >"$work/archive/$config_sha.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$config_sha" "$ref" "$layer_sha" >"$work/archive/manifest.json"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/archive" -cf "$out" \
  manifest.json "$config_sha.json" "$layer_sha"
