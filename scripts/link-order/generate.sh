#!/usr/bin/env bash
# Regenerates Sources/swiftlet/link-order.txt, the order in which the linker lays out the
# functions of the swiftlet binary (lld --symbol-ordering-file, see Package.swift).
#
# Why: the kernel maps file pages around every page fault (fault-around, 64 KiB), so a process
# that runs 3.5 MiB of code spread over a 39 MiB text segment ends up with ~27 MiB of it
# resident. Listing the functions a node really runs first puts them on contiguous pages.
#
# How: a release build (scripts/build-release.sh), then the deploy100 benchmark (API server and
# agent as two processes, then `swiftlet up`: 100 pods started, 10 s of steady state) with every
# swiftlet process run under fcov, which records each function's first call exactly (one-shot
# breakpoints on all function starts). Functions nobody called stay in the linker's own order.
# Needs root, gcc and what Benchmarks/deploy100/run.sh needs. Takes ~3 minutes after the build.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/build-release.sh >/dev/null
BIN=$(scripts/build-release.sh --show-bin-path)
W=$(mktemp -d /tmp/link-order.XXXXXX)
trap 'rm -rf "$W"' EXIT
gcc -O2 -Wall -o "$W/fcov" scripts/link-order/fcov.c
scripts/link-order/functions.py "$BIN/swiftlet" >"$W/functions"
cut -d' ' -f1 "$W/functions" >"$W/offsets"
mkdir "$W/bin"
cp "$BIN/swiftlet" "$W/bin/swiftlet.real"
for b in swiftlet-shim swiftlet-bridge swiftlet-host-local swiftlet-loopback swiftlet-portmap; do cp "$BIN/$b" "$W/bin/"; done
cat >"$W/bin/swiftlet" <<WRAP
#!/bin/sh
exec "$W/fcov" "$W/offsets" "$W/hits.\$1.\$\$" "$W/bin/swiftlet.real" "\$@"
WRAP
chmod +x "$W/bin/swiftlet"
BIN="$W/bin" MODE=split Benchmarks/deploy100/run.sh 100 10 | grep -E 'Running \(watch\)|FAIL' || true
BIN="$W/bin" MODE=up Benchmarks/deploy100/run.sh 100 10 | grep -E 'Running \(watch\)|FAIL' || true
ls "$W"/hits.* >/dev/null
# The agent's functions first, then what `up` adds (the API server in the same process), then the
# rest: a node running only the agent keeps the API server's code out of its pages.
scripts/link-order/functions.py --order "$W/functions" "$W"/hits.agent.* "$W"/hits.up.* "$W"/hits.apiserver.* \
  $(ls "$W"/hits.* | grep -Ev '/hits\.(agent|up|apiserver)\.') >Sources/swiftlet/link-order.txt
echo "Sources/swiftlet/link-order.txt: $(wc -l <Sources/swiftlet/link-order.txt) functions"
