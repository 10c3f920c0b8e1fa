#!/usr/bin/env bash
# The whole test suite, from a fresh clone: host packages, build, every test (root tests
# included; run as root). Slow scenarios (VM boots) are suites named `...Slow...`/`VM...` and
# run here too; `SWIFTLET_SKIP_VM=1` skips the VM ones when iterating locally.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-host.sh
swift build --build-tests 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' || true
swift build --build-tests >/dev/null
swift test --skip-build "$@"
