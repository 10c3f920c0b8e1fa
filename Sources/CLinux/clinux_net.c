#define _GNU_SOURCE
#include "clinux_net.h"
#include <sched.h>
#include <sys/random.h>
#include <unistd.h>

int clinux_netns_enter(int fd) { return setns(fd, CLONE_NEWNET); }

int clinux_netns_unshare(void) { return unshare(CLONE_NEWNET); }

int clinux_fork(void) { return (int)fork(); }

long clinux_random_bytes(void *buffer, size_t length) { return (long)getrandom(buffer, length, 0); }
