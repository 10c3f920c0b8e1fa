#define _GNU_SOURCE
#include "clinux_netns.h"
#include <sched.h>

int clinux_join_netns(int fd) { return setns(fd, CLONE_NEWNET); }
