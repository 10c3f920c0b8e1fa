#define _GNU_SOURCE
#include "clinux_netns.h"
#include <sched.h>

int clinux_setns_net(int fd) { return setns(fd, CLONE_NEWNET); }
