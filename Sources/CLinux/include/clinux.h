// Thin C helpers for what Swift cannot call directly: syscalls without a glibc wrapper in
// Swift's view, and (in clinux_spawn.h) everything that runs between clone and exec, which
// must be async-signal-safe because the agent is multi-threaded.
#ifndef SWIFTLET_CLINUX_H
#define SWIFTLET_CLINUX_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include "clinux_netns.h"
#include "clinux_fs.h"

/// Reads the calling thread's errno (Swift sees it too, but this keeps call sites uniform).
int clinux_errno(void);

int clinux_pidfd_open(pid_t pid, unsigned int flags);
int clinux_pidfd_send_signal(int pidfd, int sig, unsigned int flags);
int clinux_pivot_root(const char *new_root, const char *put_old);
int clinux_open_tree(int dfd, const char *path, unsigned int flags);
int clinux_move_mount(int from_dfd, const char *from_path, int to_dfd, const char *to_path, unsigned int flags);
int clinux_fsopen(const char *fsname, unsigned int flags);
int clinux_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux);
int clinux_fsmount(int fd, unsigned int flags, unsigned int attr_flags);
/// openat2 with RESOLVE_* flags (RESOLVE_IN_ROOT, RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS...).
int clinux_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve);
int clinux_gettid(void);
/// waitid(P_PIDFD, ...) returning status details; returns 0 or -1 with errno.
int clinux_waitid_pidfd(int pidfd, int options, int *code, int *status, pid_t *pid);
int clinux_close_range(unsigned int first, unsigned int last, unsigned int flags);
int clinux_pipe2(int fds[2], int flags);
int clinux_dup3(int oldfd, int newfd, int flags);
int clinux_accept4(int fd, int flags);

/// WIFEXITED/WEXITSTATUS and friends are macros; these are what Swift calls.
int clinux_wifexited(int status);
int clinux_wexitstatus(int status);
int clinux_wifsignaled(int status);
int clinux_wtermsig(int status);

#include "clinux_spawn.h"

/* GNU-only constants Swift cannot see without _GNU_SOURCE. */
static const int CLINUX_CLONE_NEWNS = 0x00020000;
static const int CLINUX_CLONE_NEWCGROUP = 0x02000000;
static const int CLINUX_CLONE_NEWUTS = 0x04000000;
static const int CLINUX_CLONE_NEWIPC = 0x08000000;
static const int CLINUX_CLONE_NEWUSER = 0x10000000;
static const int CLINUX_CLONE_NEWPID = 0x20000000;
static const int CLINUX_CLONE_NEWNET = 0x40000000;

int clinux_unshare(int flags);
int clinux_setns(int fd, int nstype);
int clinux_sethostname(const char *name, size_t len);
/// Sets IFF_UP on an interface of the calling thread's network namespace (loopback in a new pod).
int clinux_link_up(const char *ifname);
int clinux_prctl_set_child_subreaper(void);
int clinux_prctl_set_pdeathsig(int sig);
/// A signalfd for `signals` (which are blocked first); returns the fd or -1.
int clinux_signalfd(const int *signals, int count);
/// Reads one signalfd record; returns the signal number, 0 when none pending, -1 on error.
int clinux_signalfd_read(int fd);
/// sendmsg with descriptors attached (SCM_RIGHTS); returns bytes sent or -1.
ssize_t clinux_send_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);
/// recvmsg accepting up to `maxfds` descriptors (made close-on-exec); returns bytes or -1.
ssize_t clinux_recv_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds);
/// The credentials of the peer of a unix socket (SO_PEERCRED).
int clinux_peer_uid(int sock, uid_t *uid);
/// statfs(2)'s f_type for `path`, or -1 with errno.
long clinux_fs_type(const char *path);
/// A close-on-exec, non-blocking eventfd.
int clinux_eventfd(void);
int clinux_memfd_create(const char *name, unsigned int flags);

#include "clinux_net.h"
#include "clinux_tty.h"
#include "clinux_heap.h"

#endif
