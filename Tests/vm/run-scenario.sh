#!/usr/bin/env bash
# Runs one scenario from Tests/vm/scenarios/ in the VM: assembles a share folder (the scenario's
# files at its top, scenarios/lib/ as lib/, the given binaries in bin/), boots, and leaves the
# results in the share folder (out/facts, out/*, .vm/{stdout,stderr,exit-code,console.log}).
#
#   run-scenario.sh [--bin FILE]... [--share DIR] [run-in-vm.sh options] SCENARIO
#     --bin FILE     put FILE in the share's bin/ (hard-linked when possible); repeatable
#     --share DIR    use DIR as the share (default: a new folder under ${TMPDIR:-/tmp}, printed)
# Exit status: as run-in-vm.sh (run.sh's own, 124 timeout, 125 no result, 3 cannot run VMs).
set -euo pipefail
VM_DIR=$(cd "$(dirname "$0")" && pwd)
bins=() share="" pass=()
while (($#)); do
  case $1 in
    --bin) bins+=("$2"); shift 2 ;;
    --share) share=$2; shift 2 ;;
    --timeout|--memory|--cpus|--add|--env|--append) pass+=("$1" "$2"); shift 2 ;;
    -*) echo "run-scenario.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
(($# == 1)) || { echo "usage: run-scenario.sh [--bin FILE]... [--share DIR] [run-in-vm options] SCENARIO" >&2; exit 2; }
scenario=$VM_DIR/scenarios/$1
[[ -f $scenario/run.sh ]] || { echo "run-scenario.sh: no scenario $1 (no $scenario/run.sh)" >&2; exit 2; }
if [[ -z $share ]]; then share=$(mktemp -d "${TMPDIR:-/tmp}/swiftlet-vm-$1.XXXXXX"); fi
mkdir -p "$share/bin" "$share/lib"
echo "[vm] share folder: $share" >&2
cp -a "$scenario/." "$share/"
cp -a "$VM_DIR/scenarios/lib/." "$share/lib/"
for b in "${bins[@]+"${bins[@]}"}"; do
  [[ -f $b ]] || { echo "run-scenario.sh: no such binary: $b" >&2; exit 2; }
  ln -f "$b" "$share/bin/" 2>/dev/null || cp -a "$b" "$share/bin/"
done
exec "$VM_DIR/run-in-vm.sh" "${pass[@]+"${pass[@]}"}" "$share"
