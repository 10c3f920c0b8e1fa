#!/usr/bin/env bash
# The whole test suite, from a fresh clone: host packages, build, every test (root tests
# included; run as root). Slow scenarios (VM boots) are suites named `...Slow...`/`VM...` and
# run here too; `SWIFTLET_SKIP_VM=1` skips the VM ones when iterating locally.
#
# The run has a deadline (SWIFTLET_TEST_TIMEOUT seconds, default 2400): a test that hangs, or a
# crash that leaves children holding swift-test's output pipe, fails the run instead of
# stalling it. Everything the run started in its process group is killed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp() { echo "== $(date -u +%H:%M:%S) $*"; }
stamp "host set-up"
scripts/setup-host.sh
stamp "build"
swift build --build-tests 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]|^(Compiling|Building|Write|Emitting|Linking)' || true
swift build --build-tests >/dev/null
if [[ ${SWIFTLET_SKIP_VM:-0} != 1 ]]; then
  # The VM suites' image (built once, cached): made here, before the parallel test run, so its
  # dpkg work does not compete with timing-sensitive tests. A failure here is left to the VM
  # suites to report.
  stamp "VM image"
  Tests/vm/build-image.sh >/dev/null || echo "VM image build failed (exit $?): the VM suites will say why" >&2
fi
stamp "tests"
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=yes,interactive=no,sanitize=no}
# Two processes, one after the other: suites that drive subprocesses (agents, CRI servers, VMs,
# registries) block threads while they wait, and in one process with suites that serve from
# the Swift concurrency pool (API server, stats, streaming) they would starve those servers.
# Arguments given to this script go to both runs (several --filter options are OR-ed, so a
# --filter here still runs the whole second group; use --skip to narrow, or swift test itself).
driving='^(KubeletTests|CRITests|RuntimeTests|ImagesTests|VMSlowTests|NetworkingTests|CNITests|LinuxNetlinkTests|LinuxNetlinkRouteTests|AgentSupportTests)\.'
deadline=${SWIFTLET_TEST_TIMEOUT:-2400}
start=$SECONDS
rc=0
run() {  # run NAME ARGS...
  local name=$1; shift
  local left=$((deadline - (SECONDS - start)))
  ((left > 60)) || left=60
  stamp "tests: $name"
  local code=0
  # timeout leads a process group of its own; whatever the run started and left behind in it
  # (a server or agent whose test process crashed) is ended once the run is over.
  timeout --kill-after=30 "$left" swift test --skip-build "$@" &
  local group=$!
  wait "$group" || code=$?
  kill -KILL -- "-$group" 2>/dev/null || true
  if ((code == 124 || code == 137)); then
    echo "test run '$name' stopped at the deadline ($deadline s for all runs): a test hung" >&2
  fi
  ((code == 0)) || rc=$code
}
run "in-process servers and pure logic" --skip "$driving" "$@"
run "agents, runtimes, networks, VMs" --filter "$driving" "$@"
stamp "done (exit $rc)"
exit $rc
