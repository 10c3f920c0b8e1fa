// Network-namespace and randomness helpers for LinuxNetlink and the CNI plugins: setns and
// getrandom have no Swift-visible glibc declaration (they need _GNU_SOURCE / sys/random.h).
#ifndef SWIFTLET_CLINUX_NET_H
#define SWIFTLET_CLINUX_NET_H

#include <stddef.h>

/// setns(fd, CLONE_NEWNET) on the calling thread; returns 0 or -1 with errno.
int clinux_netns_enter(int fd);

/// unshare(CLONE_NEWNET) on the calling thread: it alone moves into a new, empty namespace.
int clinux_netns_unshare(void);

/// fork(2), which Swift marks unavailable: a CNI plugin (single-threaded at that point) uses it to
/// leave the kernel's slow clean-up of its last netlink work to a child that outlives it.
int clinux_fork(void);

/// Fills `buffer` from the kernel's CSPRNG (getrandom, no flags); returns bytes written or -1.
long clinux_random_bytes(void *buffer, size_t length);

#endif
