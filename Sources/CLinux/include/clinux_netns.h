// Entering a network namespace from the calling thread only (setns(CLONE_NEWNET)), for
// collectors that open a netlink socket inside a pod's namespace and come straight back.
#ifndef SWIFTLET_CLINUX_NETNS_H
#define SWIFTLET_CLINUX_NETNS_H

/// setns(fd, CLONE_NEWNET) for the calling thread; 0 or -1 with errno.
int clinux_setns_net(int fd);

#endif
