// Container and exec spawning: everything between clone and exec, in async-signal-safe C.
// The caller (the shim) prepares every string and array before the call; the child only makes
// system calls on them, never allocates, and reports a failure through a close-on-exec pipe.
#ifndef SWIFTLET_CLINUX_SPAWN_H
#define SWIFTLET_CLINUX_SPAWN_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

enum clinux_mount_kind {
    CLINUX_MOUNT_FS = 0,       // mount(source, target, fstype, flags, data)
    CLINUX_MOUNT_BIND = 1,     // bind `source` (a host path) onto target; read-only when flags has MS_RDONLY
};

struct clinux_mount {
    int kind;
    const char *source;
    const char *target;        // path inside the container, absolute
    const char *fstype;
    unsigned long flags;
    const char *data;
    int target_is_file;        // create the target as an empty file (bind of a file) instead of a dir
};

struct clinux_container_spec {
    /* root file system */
    const char *rootfs;              // host directory that becomes '/'
    const char *overlay_lowerdirs;   // "a:b:c" (top first) or NULL when rootfs is ready as is
    const char *overlay_upperdir;
    const char *overlay_workdir;
    int readonly_rootfs;
    int privileged;
    const char *shm_source;          // host dir bind-mounted at /dev/shm (the pod's), or NULL for a private tmpfs
    const struct clinux_mount *mounts;
    size_t n_mounts;
    const char *const *masked_paths;
    size_t n_masked;
    const char *const *readonly_paths;
    size_t n_readonly;

    /* process */
    const char *const *argv;         // NULL-terminated
    const char *const *envp;         // NULL-terminated
    const char *cwd;
    uint32_t uid;
    uint32_t gid;
    const uint32_t *groups;
    size_t n_groups;
    uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
    int no_new_privs;
    const void *seccomp_filter;      // array of struct sock_filter, or NULL
    size_t seccomp_len;              // number of sock_filter instructions
    int oom_score_adj;
    int set_oom_score_adj;

    /* namespaces and cgroup */
    int new_pid_ns;
    int new_uts_ns;
    const char *hostname;            // set when new_uts_ns
    int cgroup_fd;                   // cgroup2 directory fd for CLONE_INTO_CGROUP, or -1
    int stdin_fd, stdout_fd, stderr_fd;
    int set_ctty;                    // after setsid, make stdin (a pty slave) the controlling terminal
};

/// Failure details written by the child before it exits: which step, errno, and the path.
struct clinux_spawn_error {
    int step;
    int err;
    char what[200];
};

/// Clones a container init process and runs the setup above in the child, then execs argv.
/// Returns the child's pid (and its pidfd in *pidfd_out), or -1 with *error filled when
/// either the clone or any step in the child failed (the child has been reaped then).
pid_t clinux_spawn_container(const struct clinux_container_spec *spec, int *pidfd_out, struct clinux_spawn_error *error);

/// Runs a process inside a running container: joins the namespaces of `target_pidfd`
/// (mnt, pid, net, ipc, uts, cgroup), enters `spec->cgroup_fd`, applies the process fields of
/// `spec` (argv, envp, cwd, ids, capabilities, no_new_privs, seccomp) and execs. The process is
/// made a child of the caller (CLONE_PARENT through an intermediate), so the caller reaps it.
pid_t clinux_spawn_exec(int target_pidfd, const struct clinux_container_spec *spec, int *pidfd_out, struct clinux_spawn_error *error);

/// Starts `path` so that it is NOT the caller's child (CLONE_PARENT: the caller's parent adopts
/// it), in its own session, inside the cgroup `cgroup_fd` (-1: stay), with `stdout_fd` as its
/// stdout and /dev/null as stdin and stderr. For the pod shims: they must outlive the agent, and
/// one clone instead of spawn-then-daemonize saves a fork on every pod start. Returns the pid,
/// or -1 with errno (EINVAL when the caller is an init process, which cannot use CLONE_PARENT).
pid_t clinux_spawn_detached(const char *path, const char *const *argv, const char *const *envp, int stdout_fd, int cgroup_fd);

/// The step names used in clinux_spawn_error.step, for messages.
const char *clinux_spawn_step_name(int step);

#endif
