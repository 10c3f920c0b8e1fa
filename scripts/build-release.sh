#!/usr/bin/env bash
# The release build that the README, the install/up scripts and the benchmarks use.
#
# - --static-swift-stdlib: the Swift runtime, Foundation and ICU linked into each binary instead
#   of eight shared libraries. The agent then maps one file whose relocations are packed
#   (DT_RELR), instead of paying each library's relocation pages and symbol lookups.
# - -function-sections (Swift and C): every function in a section of its own, so that the
#   linker can lay the swiftlet binary out in the order of Sources/swiftlet/link-order.txt
#   (see scripts/link-order/generate.sh): the few MiB of code a node runs end up on
#   contiguous pages instead of being spread over the whole 39 MiB of text.
# - -disable-llvm-merge-functions-pass: identical functions merged by LLVM become one unnamed
#   function that no symbol names, so the link order cannot place it; the few KiB it saves
#   cost a 64 KiB fault-around window wherever such a function runs.
#
# It builds in a scratch directory of its own (.build/tuned): SwiftPM does not rebuild objects
# when only -Xfrontend flags change, so sharing .build/release with a plain `swift build -c
# release` would silently mix objects built with and without these flags.
#
# Extra arguments go to `swift build` (e.g. `--product swiftlet`, `--show-bin-path`).
set -euo pipefail
cd "$(dirname "$0")/.."
# SwiftPM does not see the order file as an input of the link: relink when it changed.
bin=.build/tuned/release/swiftlet
if [[ -e $bin && Sources/swiftlet/link-order.txt -nt $bin ]]; then rm -f "$bin"; fi
exec swift build -c release --scratch-path .build/tuned --static-swift-stdlib \
  -Xswiftc -Xfrontend -Xswiftc -function-sections -Xswiftc -Xfrontend -Xswiftc -disable-llvm-merge-functions-pass \
  -Xcc -ffunction-sections "$@"
