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
