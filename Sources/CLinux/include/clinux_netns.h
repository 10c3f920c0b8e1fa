// Joining a network namespace from a dedicated thread (setns is not visible to Swift's Glibc).
#ifndef SWIFTLET_CLINUX_NETNS_H
#define SWIFTLET_CLINUX_NETNS_H

/// setns(fd, CLONE_NEWNET) for the calling thread; 0 or -1 with errno.
int clinux_join_netns(int fd);

#endif
