// Internal to the spawn code: the container's mount namespace set-up and the step numbers
// reported in clinux_spawn_error.
#ifndef SWIFTLET_CLINUX_ROOTFS_H
#define SWIFTLET_CLINUX_ROOTFS_H

#include "clinux_spawn.h"

enum clinux_spawn_step {
    SPAWN_STEP_CLONE = 1, SPAWN_STEP_SIGNALS, SPAWN_STEP_SETSID, SPAWN_STEP_STDIO,
    SPAWN_STEP_MOUNT_PRIVATE, SPAWN_STEP_OVERLAY, SPAWN_STEP_ROOTFS_OPEN, SPAWN_STEP_PROC,
    SPAWN_STEP_DEV, SPAWN_STEP_DEVNODE, SPAWN_STEP_SYS, SPAWN_STEP_CGROUP, SPAWN_STEP_USER_MOUNT,
    SPAWN_STEP_MASK, SPAWN_STEP_READONLY_PATH, SPAWN_STEP_PIVOT, SPAWN_STEP_ROOT_RO,
    SPAWN_STEP_HOSTNAME, SPAWN_STEP_CWD, SPAWN_STEP_CAPBSET, SPAWN_STEP_SECCOMP, SPAWN_STEP_GROUPS,
    SPAWN_STEP_SETGID, SPAWN_STEP_SETUID, SPAWN_STEP_CAPSET, SPAWN_STEP_AMBIENT, SPAWN_STEP_NNP,
    SPAWN_STEP_EXEC, SPAWN_STEP_SETNS, SPAWN_STEP_PIPE, SPAWN_STEP_CTTY,
};

/// Ends the child after writing a failure record to `errpipe`.
void clinux_child_fail(int errpipe, int step, int err, const char *what) __attribute__((noreturn));

/// Mounts the overlay, /proc, /dev, /sys, the user mounts, masks and read-only paths, and
/// pivots into the new root. Runs in the child, in its fresh mount namespace.
void clinux_setup_rootfs(const struct clinux_container_spec *spec, int errpipe);

/// `mkdir -p` of `path` resolved inside `rootfd` (RESOLVE_IN_ROOT: symlinks cannot lead out).
/// Returns 0 or -1 with errno.
int clinux_mkdir_all_in_root(int rootfd, const char *path, mode_t mode);

/// Opens `path` inside `rootfd` (O_PATH), creating it (a dir, or an empty file when
/// `as_file`) when missing. Returns the fd or -1 with errno.
int clinux_open_or_create_in_root(int rootfd, const char *path, int as_file);

#endif
