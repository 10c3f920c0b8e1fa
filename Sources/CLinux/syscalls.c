#define _GNU_SOURCE
#include "clinux.h"
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/openat2.h>

int clinux_errno(void) { return errno; }

int clinux_pidfd_open(pid_t pid, unsigned int flags) { return (int)syscall(SYS_pidfd_open, pid, flags); }
int clinux_pidfd_send_signal(int pidfd, int sig, unsigned int flags) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags);
}
int clinux_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}
int clinux_open_tree(int dfd, const char *path, unsigned int flags) {
    return (int)syscall(SYS_open_tree, dfd, path, flags);
}
int clinux_move_mount(int from_dfd, const char *from_path, int to_dfd, const char *to_path, unsigned int flags) {
    return (int)syscall(SYS_move_mount, from_dfd, from_path, to_dfd, to_path, flags);
}
int clinux_fsopen(const char *fsname, unsigned int flags) { return (int)syscall(SYS_fsopen, fsname, flags); }
int clinux_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux) {
    return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}
int clinux_fsmount(int fd, unsigned int flags, unsigned int attr_flags) {
    return (int)syscall(SYS_fsmount, fd, flags, attr_flags);
}
int clinux_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how = { .flags = flags, .mode = mode, .resolve = resolve };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}
int clinux_gettid(void) { return (int)syscall(SYS_gettid); }
int clinux_waitid_pidfd(int pidfd, int options, int *code, int *status, pid_t *pid) {
    siginfo_t info = {0};
    int rc = waitid(P_PIDFD, (id_t)pidfd, &info, options);
    if (rc == 0) { *code = info.si_code; *status = info.si_status; *pid = info.si_pid; }
    return rc;
}
int clinux_close_range(unsigned int first, unsigned int last, unsigned int flags) {
    return (int)syscall(SYS_close_range, first, last, flags);
}
int clinux_wifexited(int status) { return WIFEXITED(status); }
int clinux_wexitstatus(int status) { return WEXITSTATUS(status); }
int clinux_wifsignaled(int status) { return WIFSIGNALED(status); }
int clinux_wtermsig(int status) { return WTERMSIG(status); }
#include <fcntl.h>
#include <sys/socket.h>
int clinux_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
int clinux_dup3(int oldfd, int newfd, int flags) { return dup3(oldfd, newfd, flags); }
int clinux_accept4(int fd, int flags) { return accept4(fd, NULL, NULL, flags); }
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
int clinux_unshare(int flags) { return unshare(flags); }
int clinux_setns(int fd, int nstype) { return setns(fd, nstype); }
int clinux_sethostname(const char *name, size_t len) { return sethostname(name, len); }
int clinux_link_up(const char *ifname) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct ifreq req;
    memset(&req, 0, sizeof(req));
    strncpy(req.ifr_name, ifname, IFNAMSIZ - 1);
    int rc = ioctl(s, SIOCGIFFLAGS, &req);
    if (rc == 0) {
        req.ifr_flags |= IFF_UP;
        rc = ioctl(s, SIOCSIFFLAGS, &req);
    }
    int err = errno;
    close(s);
    errno = err;
    return rc;
}
int clinux_prctl_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
int clinux_prctl_set_pdeathsig(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }
int clinux_signalfd(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}
int clinux_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    if (n == (ssize_t)sizeof(info)) return (int)info.ssi_signo;
    if (n < 0 && errno == EAGAIN) return 0;
    return -1;
}
int clinux_memfd_create(const char *name, unsigned int flags) { return memfd_create(name, flags); }
ssize_t clinux_send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds) {
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    char control[CMSG_SPACE(sizeof(int) * 16)];
    if (nfds > 0) {
        if (nfds > 16) { errno = EINVAL; return -1; }
        memset(control, 0, sizeof(control));
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n;
    do { n = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n;
}
ssize_t clinux_recv_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds) {
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    char control[CMSG_SPACE(sizeof(int) * 16)];
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    *nfds = 0;
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *incoming = (int *)CMSG_DATA(c);
        for (int i = 0; i < count; i++) {
            if (*nfds < maxfds) fds[(*nfds)++] = incoming[i];
            else close(incoming[i]);
        }
    }
    return n;
}
int clinux_peer_uid(int sock, uid_t *uid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *uid = cred.uid;
    return 0;
}
#include <sys/vfs.h>
long clinux_fs_type(const char *path) {
    struct statfs fs;
    if (statfs(path, &fs) != 0) return -1;
    return (long)fs.f_type;
}
#include <sys/eventfd.h>
int clinux_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }
