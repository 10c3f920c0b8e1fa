// Thin C helpers for what Swift cannot call directly: syscalls without a glibc wrapper in
// Swift's view, and (in clinux_spawn.h) everything that runs between clone and exec, which
// must be async-signal-safe because the agent is multi-threaded.
#ifndef SWIFTLET_CLINUX_H
#define SWIFTLET_CLINUX_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

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

#include "clinux_net.h"

#endif
