# Helpers for scenario scripts running inside the VM (sourced by run.sh).
# A scenario records what it observed as facts (KEY=VALUE lines in $VM_OUT/facts); the host-side
# test asserts on them, so the pass/fail judgement lives in the Swift test, in one place.
set -u
VM_SHARE=${VM_SHARE:-/mnt/share}
VM_OUT=${VM_OUT:-$VM_SHARE/out}
GUEST_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$VM_OUT"
: >"$VM_OUT/facts"

# fact KEY VALUE: one observation; newlines in VALUE become spaces.
fact() {
  local value=${2//$'\n'/ }
  printf '%s=%s\n' "$1" "$value" >>"$VM_OUT/facts"
  printf 'fact %s=%s\n' "$1" "$value"
}

# wait_for SECONDS CMD...: polls every 0.2 s; returns 1 on timeout.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do ((SECONDS >= deadline)) && return 1; sleep 0.2; done
}

# Cleanups run at exit in reverse order, also when a step fails.
_CLEANUPS=()
on_exit() { _CLEANUPS+=("$1"); }
_run_cleanups() { local i; for ((i = ${#_CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${_CLEANUPS[$i]}" >/dev/null 2>&1; done; }
trap _run_cleanups EXIT

# Runs CMD... inside cgroup CG (a path under /sys/fs/cgroup), waits, prints nothing, returns its status.
run_in_cgroup() {
  local cg=$1; shift
  bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$cg" "$@"
}

# Enables CONTROLLERS (e.g. "memory pids") for children of the cgroup at $1.
enable_controllers() {
  local cg=$1; shift
  local c; for c in "$@"; do echo "+$c" >"$cg/cgroup.subtree_control"; done
}

# For a scenario that ends by powering the guest off (systemctl poweroff): records exit code 0
# now, since run.sh is stopped with everything else; the host judges by the facts written before.
# The runner unit powers off immediately once it stops (SuccessAction/FailureAction), so it is
# ordered Before= the UNITS whose orderly stop the scenario wants to see (stopped after them).
expect_poweroff() {
  if (($#)); then
    mkdir -p /run/systemd/system/swiftlet-vm-runner.service.d
    printf '[Unit]\nBefore=%s\n' "$*" >/run/systemd/system/swiftlet-vm-runner.service.d/50-stop-last.conf
    systemctl daemon-reload
  fi
  sync
  echo 0 >"$VM_SHARE/.vm/exit-code.tmp" && mv "$VM_SHARE/.vm/exit-code.tmp" "$VM_SHARE/.vm/exit-code"
  echo "poweroff expected" >"$VM_SHARE/.vm/expect-poweroff"
  sync
}

# Runs Swift tests from the host-built test bundle in the share (bin/swiftletPackageTests.xctest)
# matching FILTER; output in $VM_OUT/NAME.log; records NAME_rc, NAME_passed and NAME_skipped.
run_swift_tests() {
  local name=$1 filter=$2 log=$VM_OUT/$1.log
  NO_COLOR=1 "$VM_SHARE/bin/swiftletPackageTests.xctest" --testing-library swift-testing --filter "$filter" >"$log" 2>&1
  fact "${name}_rc" $?
  fact "${name}_passed" "$(grep -cE '^[^ ]+ Test [A-Za-z0-9_]+\(\) passed after' "$log")"
  fact "${name}_failed" "$(grep -cE '^[^ ]+ Test [A-Za-z0-9_]+\(\) failed after' "$log")"
  fact "${name}_skipped" "$(grep -cE '^[^ ]+ Test [A-Za-z0-9_]+\(\) skipped' "$log")"
}
