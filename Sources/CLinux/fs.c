#define _GNU_SOURCE
#include "clinux_fs.h"
#include <fcntl.h>
#include <sys/xattr.h>
#include <sys/sysmacros.h>
#include <stdio.h>

_Static_assert(CLINUX_O_PATH == O_PATH, "O_PATH value");
_Static_assert(CLINUX_RENAME_NOREPLACE == RENAME_NOREPLACE, "RENAME_NOREPLACE value");
_Static_assert(CLINUX_AT_EMPTY_PATH == AT_EMPTY_PATH, "AT_EMPTY_PATH value");

int clinux_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}
int clinux_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags) {
    return fsetxattr(fd, name, value, size, flags);
}
int clinux_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags) {
    return lsetxattr(path, name, value, size, flags);
}
ssize_t clinux_fgetxattr(int fd, const char *name, void *value, size_t size) {
    return fgetxattr(fd, name, value, size);
}
ssize_t clinux_lgetxattr(const char *path, const char *name, void *value, size_t size) {
    return lgetxattr(path, name, value, size);
}
ssize_t clinux_llistxattr(const char *path, char *list, size_t size) { return llistxattr(path, list, size); }
uint64_t clinux_makedev(unsigned int major, unsigned int minor) { return makedev(major, minor); }
unsigned int clinux_major(uint64_t dev) { return major(dev); }
unsigned int clinux_minor(uint64_t dev) { return minor(dev); }
