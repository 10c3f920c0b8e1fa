// File-system calls Swift's Glibc module does not expose (xattrs, makedev, flock on O_PATH
// descriptors) and the open flags that glibc hides behind _GNU_SOURCE. Used by the safe
// layer unpacker, which works only through descriptors and *at() calls.
#ifndef SWIFTLET_CLINUX_FS_H
#define SWIFTLET_CLINUX_FS_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

/// O_PATH and AT_EMPTY_PATH (Linux ABI values; glibc defines them only under _GNU_SOURCE).
enum { CLINUX_O_PATH = 010000000, CLINUX_AT_EMPTY_PATH = 0x1000 };
/// openat2 RESOLVE_* flags (linux/openat2.h).
enum {
    CLINUX_RESOLVE_NO_XDEV = 0x01,
    CLINUX_RESOLVE_NO_MAGICLINKS = 0x02,
    CLINUX_RESOLVE_NO_SYMLINKS = 0x04,
    CLINUX_RESOLVE_BENEATH = 0x08,
    CLINUX_RESOLVE_IN_ROOT = 0x10,
};

/// renameat2 flags.
enum { CLINUX_RENAME_NOREPLACE = 1, CLINUX_RENAME_EXCHANGE = 2 };

int clinux_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
int clinux_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);
int clinux_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags);
ssize_t clinux_fgetxattr(int fd, const char *name, void *value, size_t size);
ssize_t clinux_lgetxattr(const char *path, const char *name, void *value, size_t size);
ssize_t clinux_llistxattr(const char *path, char *list, size_t size);
uint64_t clinux_makedev(unsigned int major, unsigned int minor);
unsigned int clinux_major(uint64_t dev);
unsigned int clinux_minor(uint64_t dev);

#endif
