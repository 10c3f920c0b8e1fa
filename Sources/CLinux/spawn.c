// Container init and exec: the code between clone and exec. Only system calls on memory the
// parent prepared; no malloc, no stdio, no locks. Failures are reported as a fixed-size record
// on a close-on-exec pipe, so end-of-file on that pipe means execve succeeded.
#define _GNU_SOURCE
#include "clinux_spawn.h"
#include "clinux_rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>

static const char *const step_names[] = {
    [SPAWN_STEP_CLONE] = "clone3",
    [SPAWN_STEP_SIGNALS] = "sigprocmask",
    [SPAWN_STEP_SETSID] = "setsid",
    [SPAWN_STEP_STDIO] = "dup2(stdio)",
    [SPAWN_STEP_MOUNT_PRIVATE] = "mount(/, MS_PRIVATE)",
    [SPAWN_STEP_OVERLAY] = "mount(overlay)",
    [SPAWN_STEP_ROOTFS_OPEN] = "open(rootfs)",
    [SPAWN_STEP_PROC] = "mount(proc)",
    [SPAWN_STEP_DEV] = "mount(/dev)",
    [SPAWN_STEP_DEVNODE] = "mknod(/dev)",
    [SPAWN_STEP_SYS] = "mount(sysfs)",
    [SPAWN_STEP_CGROUP] = "mount(cgroup2)",
    [SPAWN_STEP_USER_MOUNT] = "mount",
    [SPAWN_STEP_MASK] = "mask path",
    [SPAWN_STEP_READONLY_PATH] = "read-only path",
    [SPAWN_STEP_PIVOT] = "pivot_root",
    [SPAWN_STEP_ROOT_RO] = "remount(/, ro)",
    [SPAWN_STEP_HOSTNAME] = "sethostname",
    [SPAWN_STEP_CWD] = "chdir(workingDir)",
    [SPAWN_STEP_CAPBSET] = "prctl(PR_CAPBSET_DROP)",
    [SPAWN_STEP_SECCOMP] = "seccomp(SECCOMP_SET_MODE_FILTER)",
    [SPAWN_STEP_GROUPS] = "setgroups",
    [SPAWN_STEP_SETGID] = "setresgid",
    [SPAWN_STEP_SETUID] = "setresuid",
    [SPAWN_STEP_CAPSET] = "capset",
    [SPAWN_STEP_AMBIENT] = "prctl(PR_CAP_AMBIENT)",
    [SPAWN_STEP_NNP] = "prctl(PR_SET_NO_NEW_PRIVS)",
    [SPAWN_STEP_EXEC] = "execve",
    [SPAWN_STEP_SETNS] = "setns",
    [SPAWN_STEP_PIPE] = "pipe2",
    [SPAWN_STEP_CTTY] = "ioctl(TIOCSCTTY)",
};

const char *clinux_spawn_step_name(int step) {
    if (step < 0 || step >= (int)(sizeof(step_names) / sizeof(step_names[0])) || !step_names[step]) return "spawn";
    return step_names[step];
}

static size_t bounded_len(const char *s, size_t max) {
    size_t n = 0;
    while (n < max && s[n]) n++;
    return n;
}

/// Reports a failed step to the parent and ends the child. `what` is copied (truncated).
void clinux_child_fail(int errpipe, int step, int err, const char *what) {
    struct clinux_spawn_error record;
    memset(&record, 0, sizeof(record));
    record.step = step;
    record.err = err;
    if (what) {
        size_t n = bounded_len(what, sizeof(record.what) - 1);
        memcpy(record.what, what, n);
    }
    ssize_t ignored = write(errpipe, &record, sizeof(record));
    (void)ignored;
    _exit(127);
}

static void reset_signals(int errpipe) {
    sigset_t all;
    sigemptyset(&all);
    if (sigprocmask(SIG_SETMASK, &all, NULL) != 0) clinux_child_fail(errpipe, SPAWN_STEP_SIGNALS, errno, NULL);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        signal(sig, SIG_DFL);
    }
}

static void setup_stdio(const struct clinux_container_spec *spec, int errpipe) {
    int fds[3] = {spec->stdin_fd, spec->stdout_fd, spec->stderr_fd};
    for (int target = 0; target < 3; target++) {
        if (fds[target] < 0) continue;
        if (fds[target] == target) {
            int flags = fcntl(target, F_GETFD);
            if (flags >= 0) fcntl(target, F_SETFD, flags & ~FD_CLOEXEC);
        } else if (dup2(fds[target], target) < 0) {
            clinux_child_fail(errpipe, SPAWN_STEP_STDIO, errno, NULL);
        }
    }
    // A terminal session: the pty slave on stdin becomes this session's controlling terminal.
    if (spec->set_ctty && ioctl(0, TIOCSCTTY, 0) != 0) clinux_child_fail(errpipe, SPAWN_STEP_CTTY, errno, NULL);
}

static int raw_capset(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    data[0].effective = (uint32_t)effective;
    data[0].permitted = (uint32_t)permitted;
    data[0].inheritable = (uint32_t)inheritable;
    data[1].effective = (uint32_t)(effective >> 32);
    data[1].permitted = (uint32_t)(permitted >> 32);
    data[1].inheritable = (uint32_t)(inheritable >> 32);
    return (int)syscall(SYS_capset, &header, data);
}

static int load_seccomp(const struct clinux_container_spec *spec) {
    struct sock_fprog prog = {.len = (unsigned short)spec->seccomp_len, .filter = (struct sock_filter *)spec->seccomp_filter};
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

/// execvpe over the container's own PATH (from envp), without allocating.
static void exec_with_path(const struct clinux_container_spec *spec, int errpipe) {
    const char *file = spec->argv[0];
    if (!file || !*file) clinux_child_fail(errpipe, SPAWN_STEP_EXEC, ENOENT, "(empty command)");
    if (strchr(file, '/')) {
        execve(file, (char *const *)spec->argv, (char *const *)spec->envp);
        clinux_child_fail(errpipe, SPAWN_STEP_EXEC, errno, file);
    }
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const char *const *e = spec->envp; e && *e; e++) {
        if (strncmp(*e, "PATH=", 5) == 0) { path = *e + 5; break; }
    }
    char candidate[4096];
    size_t flen = strlen(file);
    int last_err = ENOENT;
    const char *p = path;
    while (1) {
        const char *colon = strchr(p, ':');
        size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
        if (dlen == 0) { candidate[0] = '.'; dlen = 1; } else if (dlen < sizeof(candidate)) memcpy(candidate, p, dlen);
        if (dlen + 1 + flen + 1 <= sizeof(candidate)) {
            candidate[dlen] = '/';
            memcpy(candidate + dlen + 1, file, flen + 1);
            execve(candidate, (char *const *)spec->argv, (char *const *)spec->envp);
            if (errno != ENOENT && errno != ENOTDIR) last_err = errno;
        }
        if (!colon) break;
        p = colon + 1;
    }
    clinux_child_fail(errpipe, SPAWN_STEP_EXEC, last_err, file);
}

static void apply_cwd(const struct clinux_container_spec *spec, int errpipe) {
    const char *cwd = (spec->cwd && *spec->cwd) ? spec->cwd : "/";
    if (chdir(cwd) != 0) {
        if (errno != ENOENT || clinux_mkdir_all_in_root(AT_FDCWD, cwd, 0755) != 0 || chdir(cwd) != 0)
            clinux_child_fail(errpipe, SPAWN_STEP_CWD, errno, cwd);
    }
    // After pivot_root everything reachable is inside the rootfs; a cwd outside the root
    // (through an fd or a moved mount) would show as "(unreachable)". Refuse it.
    char buf[4096];
    if (!getcwd(buf, sizeof(buf)) || buf[0] != '/') clinux_child_fail(errpipe, SPAWN_STEP_CWD, EPERM, cwd);
}

/// Identity, capabilities, no_new_privs and seccomp, in runc's order: the bounding set first
/// (needs CAP_SETPCAP), seccomp early when no_new_privs is off (loading it then needs
/// CAP_SYS_ADMIN), ids with keep-caps, the final capability sets, then seccomp late otherwise.
static void apply_process_security(const struct clinux_container_spec *spec, int errpipe) {
    int last_cap = 40;
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[16] = {0};
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n > 0) {
            int v = 0;
            for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) v = v * 10 + (buf[i] - '0');
            if (v > 0 && v < 64) last_cap = v;
        }
    }
    for (int cap = 0; cap <= last_cap; cap++) {
        if (spec->cap_bounding & (1ULL << cap)) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            clinux_child_fail(errpipe, SPAWN_STEP_CAPBSET, errno, NULL);
    }
    if (spec->seccomp_filter && !spec->no_new_privs) {
        if (load_seccomp(spec) != 0) clinux_child_fail(errpipe, SPAWN_STEP_SECCOMP, errno, NULL);
    }
    if (setgroups(spec->n_groups, (const gid_t *)spec->groups) != 0) clinux_child_fail(errpipe, SPAWN_STEP_GROUPS, errno, NULL);
    if (setresgid(spec->gid, spec->gid, spec->gid) != 0) clinux_child_fail(errpipe, SPAWN_STEP_SETGID, errno, NULL);
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) clinux_child_fail(errpipe, SPAWN_STEP_SETUID, errno, "keepcaps");
    if (setresuid(spec->uid, spec->uid, spec->uid) != 0) clinux_child_fail(errpipe, SPAWN_STEP_SETUID, errno, NULL);
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    if (raw_capset(spec->cap_effective, spec->cap_permitted, spec->cap_inheritable) != 0)
        clinux_child_fail(errpipe, SPAWN_STEP_CAPSET, errno, NULL);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        clinux_child_fail(errpipe, SPAWN_STEP_AMBIENT, errno, NULL);
    for (int cap = 0; cap <= last_cap; cap++) {
        if (!(spec->cap_ambient & (1ULL << cap))) continue;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
            clinux_child_fail(errpipe, SPAWN_STEP_AMBIENT, errno, NULL);
    }
    if (spec->no_new_privs) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) clinux_child_fail(errpipe, SPAWN_STEP_NNP, errno, NULL);
        if (spec->seccomp_filter && load_seccomp(spec) != 0) clinux_child_fail(errpipe, SPAWN_STEP_SECCOMP, errno, NULL);
    }
}

static void write_oom_score_adj(const struct clinux_container_spec *spec) {
    if (!spec->set_oom_score_adj) return;
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[16];
    int v = spec->oom_score_adj, n = 0, neg = v < 0;
    unsigned int u = neg ? (unsigned int)(-v) : (unsigned int)v;
    char tmp[16];
    do { tmp[n++] = (char)('0' + u % 10); u /= 10; } while (u && n < 15);
    int len = 0;
    if (neg) buf[len++] = '-';
    while (n) buf[len++] = tmp[--n];
    // Lowering the score needs CAP_SYS_RESOURCE; without it the kernel refuses and we degrade.
    ssize_t ignored = write(fd, buf, (size_t)len);
    (void)ignored;
    close(fd);
}

static void container_child(const struct clinux_container_spec *spec, int errpipe) {
    reset_signals(errpipe);
    if (setsid() < 0) clinux_child_fail(errpipe, SPAWN_STEP_SETSID, errno, NULL);
    setup_stdio(spec, errpipe);
    umask(0);
    clinux_setup_rootfs(spec, errpipe);
    if (spec->new_uts_ns && spec->hostname) {
        if (sethostname(spec->hostname, strlen(spec->hostname)) != 0)
            clinux_child_fail(errpipe, SPAWN_STEP_HOSTNAME, errno, spec->hostname);
    }
    write_oom_score_adj(spec);
    umask(022);
    apply_cwd(spec, errpipe);
    apply_process_security(spec, errpipe);
    syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
    exec_with_path(spec, errpipe);
}

static pid_t clone3_call(uint64_t flags, int cgroup_fd, int *pidfd_out) {
    struct clone_args args;
    memset(&args, 0, sizeof(args));
    args.flags = flags | CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)pidfd_out;
    // With CLONE_PARENT the kernel takes the exit signal from the caller; clone3 refuses one here.
    args.exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
    if (cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)cgroup_fd;
    }
    return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/// Waits for the child's exec (EOF on the pipe) or its failure record.
static pid_t finish_spawn(pid_t pid, int pipe_read, int *pidfd, struct clinux_spawn_error *error) {
    struct clinux_spawn_error record;
    ssize_t n;
    do { n = read(pipe_read, &record, sizeof(record)); } while (n < 0 && errno == EINTR);
    close(pipe_read);
    if (n == 0) return pid;
    if (n == (ssize_t)sizeof(record)) *error = record;
    else { memset(error, 0, sizeof(*error)); error->step = SPAWN_STEP_EXEC; error->err = EIO; }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (*pidfd >= 0) { close(*pidfd); *pidfd = -1; }
    return -1;
}

pid_t clinux_spawn_container(const struct clinux_container_spec *spec, int *pidfd_out, struct clinux_spawn_error *error) {
    int p[2];
    *pidfd_out = -1;
    if (pipe2(p, O_CLOEXEC) != 0) {
        memset(error, 0, sizeof(*error));
        error->step = SPAWN_STEP_PIPE;
        error->err = errno;
        return -1;
    }
    uint64_t flags = CLONE_NEWNS | CLONE_NEWCGROUP;
    if (spec->new_pid_ns) flags |= CLONE_NEWPID;
    if (spec->new_uts_ns) flags |= CLONE_NEWUTS;
    pid_t pid = clone3_call(flags, spec->cgroup_fd, pidfd_out);
    if (pid < 0) {
        int err = errno;
        close(p[0]);
        close(p[1]);
        memset(error, 0, sizeof(*error));
        error->step = SPAWN_STEP_CLONE;
        error->err = err;
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        container_child(spec, p[1]);
        _exit(127);
    }
    close(p[1]);
    return finish_spawn(pid, p[0], pidfd_out, error);
}

/// The pid a pidfd names, as the calling process's pid namespace sees it (fdinfo "Pid:").
/// The exec helper lives in the pod's pid namespace when the pod shares one, so the pid it
/// reports is not the caller's; the pidfd it passes back is namespace-independent.
static pid_t pid_of_pidfd(int pidfd) {
    char path[64] = "/proc/self/fdinfo/";
    size_t n = strlen(path);
    int v = pidfd, digits = 0;
    char tmp[16];
    do { tmp[digits++] = (char)('0' + v % 10); v /= 10; } while (v && digits < 15);
    while (digits) path[n++] = tmp[--digits];
    path[n] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[1024];
    ssize_t got = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (got <= 0) return -1;
    buf[got] = 0;
    char *line = strstr(buf, "\nPid:");
    if (!line) return -1;
    line += 5;
    while (*line == ' ' || *line == '\t') line++;
    pid_t pid = 0;
    while (*line >= '0' && *line <= '9') pid = pid * 10 + (*line++ - '0');
    return pid > 0 ? pid : -1;
}

pid_t clinux_spawn_exec(int target_pidfd, const struct clinux_container_spec *spec, int *pidfd_out, struct clinux_spawn_error *error) {
    int p[2];
    int report[2];
    *pidfd_out = -1;
    if (pipe2(p, O_CLOEXEC) != 0) {
        memset(error, 0, sizeof(*error));
        error->step = SPAWN_STEP_PIPE;
        error->err = errno;
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report) != 0) {
        memset(error, 0, sizeof(*error));
        error->step = SPAWN_STEP_PIPE;
        error->err = errno;
        close(p[0]); close(p[1]);
        return -1;
    }
    pid_t helper = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (helper < 0) {
        memset(error, 0, sizeof(*error));
        error->step = SPAWN_STEP_CLONE;
        error->err = errno;
        close(p[0]); close(p[1]); close(report[0]); close(report[1]);
        return -1;
    }
    if (helper == 0) {
        // Intermediate: join the container, then clone the real process as our parent's child.
        close(p[0]);
        close(report[0]);
        reset_signals(p[1]);
        int nsflags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
        if (setns(target_pidfd, nsflags) != 0) clinux_child_fail(p[1], SPAWN_STEP_SETNS, errno, NULL);
        int child_pidfd = -1;
        pid_t pid = clone3_call(CLONE_PARENT, spec->cgroup_fd, &child_pidfd);
        if (pid < 0) clinux_child_fail(p[1], SPAWN_STEP_CLONE, errno, NULL);
        if (pid == 0) {
            if (setsid() < 0) clinux_child_fail(p[1], SPAWN_STEP_SETSID, errno, NULL);
            setup_stdio(spec, p[1]);
            apply_cwd(spec, p[1]);
            apply_process_security(spec, p[1]);
            syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
            exec_with_path(spec, p[1]);
            _exit(127);
        }
        // The child's pidfd goes to the parent, which reads the pid in its own namespace from it.
        struct iovec iov = {.iov_base = &pid, .iov_len = sizeof(pid)};
        char control[CMSG_SPACE(sizeof(int))];
        memset(control, 0, sizeof(control));
        struct msghdr msg;
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &child_pidfd, sizeof(int));
        ssize_t ignored = sendmsg(report[1], &msg, MSG_NOSIGNAL);
        (void)ignored;
        _exit(0);
    }
    close(p[1]);
    close(report[1]);
    pid_t inner = -1;
    int received = -1;
    struct iovec iov = {.iov_base = &inner, .iov_len = sizeof(inner)};
    char control[CMSG_SPACE(sizeof(int))];
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n;
    do { n = recvmsg(report[0], &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    close(report[0]);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n > 0 && c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) memcpy(&received, CMSG_DATA(c), sizeof(int));
    }
    int status;
    while (waitpid(helper, &status, 0) < 0 && errno == EINTR) {}
    if (n == (ssize_t)sizeof(inner) && inner > 0 && received >= 0) {
        pid_t pid = pid_of_pidfd(received);
        *pidfd_out = received;
        if (pid <= 0) {
            // Cannot name it: kill it rather than leave a child we would never reap by pid.
            syscall(SYS_pidfd_send_signal, received, SIGKILL, NULL, 0);
            close(received);
            *pidfd_out = -1;
            close(p[0]);
            memset(error, 0, sizeof(*error));
            error->step = SPAWN_STEP_CLONE;
            error->err = ESRCH;
            return -1;
        }
        return finish_spawn(pid, p[0], pidfd_out, error);
    }
    if (received >= 0) close(received);
    struct clinux_spawn_error record;
    do { n = read(p[0], &record, sizeof(record)); } while (n < 0 && errno == EINTR);
    close(p[0]);
    if (n == (ssize_t)sizeof(record)) *error = record;
    else { memset(error, 0, sizeof(*error)); error->step = SPAWN_STEP_CLONE; error->err = EIO; }
    return -1;
}

struct detached_args {
    const char *path;
    const char *const *argv;
    const char *const *envp;
    int stdout_fd;
    int devnull;
};

__attribute__((noreturn, used)) static void detached_child(struct detached_args *a) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    setsid();
    dup2(a->devnull, 0);
    dup2(a->stdout_fd >= 0 ? a->stdout_fd : a->devnull, 1);
    dup2(a->devnull, 2);
    syscall(SYS_close_range, 3, ~0U, 0);
    execve(a->path, (char *const *)a->argv, (char *const *)a->envp);
    _exit(127);
}

#if defined(__x86_64__)
/// clone3 with vfork semantics (CLONE_VM|CLONE_VFORK) and a stack of its own: the child starts on
/// that stack and calls detached_child at once, never returning into our frames. glibc offers no
/// clone3 wrapper that takes a function, and CLONE_INTO_CGROUP exists only in clone3.
static long clone3_vfork_call(struct clone_args *args, struct detached_args *a) {
    long ret;
    register void *arg_r12 __asm__("r12") = a;
    register void *fn_r13 __asm__("r13") = (void *)detached_child;
    __asm__ volatile(
        "syscall\n\t"
        "test %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        "xor %%ebp, %%ebp\n\t"
        "mov %%r12, %%rdi\n\t"
        "call *%%r13\n\t"
        "hlt\n"
        "1:\n\t"
        : "=a"(ret)
        : "a"((long)SYS_clone3), "D"(args), "S"(sizeof(*args)), "r"(arg_r12), "r"(fn_r13)
        : "rcx", "r11", "memory");
    return ret;
}
#endif

pid_t clinux_spawn_detached(const char *path, const char *const *argv, const char *const *envp, int stdout_fd, int cgroup_fd) {
    struct detached_args a = {.path = path, .argv = argv, .envp = envp, .stdout_fd = stdout_fd, .devnull = -1};
    a.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (a.devnull < 0) return -1;
    struct clone_args args;
    memset(&args, 0, sizeof(args));
    /* Our child (the caller reaps it when it ends; if we die first it is re-parented, which
       is how it outlives us). CLONE_INTO_CGROUP: it starts in its cgroup; moving a running
       process later costs a cgroup-wide RCU synchronisation (~13 ms measured here).
       CLONE_VM|CLONE_VFORK: no copy of a big agent's page tables; we wait only until the exec.
       Not CLONE_PARENT: our parent may never reap (timeout(1), a test runner), and every
       ended helper would stay a zombie there. */
    args.flags = 0;
    args.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)cgroup_fd;
    }
    pid_t pid;
#if defined(__x86_64__)
    size_t stack_size = 64 * 1024;
    void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        close(a.devnull);
        return -1;
    }
    args.flags |= CLONE_VM | CLONE_VFORK;
    args.stack = (uint64_t)(uintptr_t)stack;
    args.stack_size = stack_size;
    long r = clone3_vfork_call(&args, &a);
    int err = r < 0 ? (int)-r : 0;
    munmap(stack, stack_size);
    pid = r < 0 ? -1 : (pid_t)r;
    if (r < 0) errno = err;
#else
    pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
    if (pid == 0) detached_child(&a);
#endif
    int saved = errno;
    close(a.devnull);
    errno = saved;
    return pid;
}
