// The container's mount namespace: overlay root, /proc, /dev, /sys, user mounts, masked and
// read-only paths, pivot_root. Every mount target is opened inside the new root with
// RESOLVE_IN_ROOT and mounted through /proc/self/fd/N, so a symlink in the image cannot
// redirect a mount onto the host (the technique runc uses against CVE-2019-19921-style races).
#define _GNU_SOURCE
#include "clinux_rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <linux/openat2.h>

#ifndef MS_PRIVATE
#define MS_PRIVATE (1 << 18)
#endif

static int openat2_in_root(int rootfd, const char *path, int flags) {
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    while (*path == '/') path++;
    if (*path == 0) path = ".";
    return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

static void fd_path(char *buf, size_t len, int fd) {
    // "/proc/self/fd/" + decimal fd, no snprintf (not async-signal-safe on every libc).
    const char *prefix = "/proc/self/fd/";
    size_t n = strlen(prefix);
    memcpy(buf, prefix, n);
    char digits[16];
    int d = 0;
    unsigned int v = (unsigned int)fd;
    do { digits[d++] = (char)('0' + v % 10); v /= 10; } while (v && d < 15);
    while (d && n + 1 < len) buf[n++] = digits[--d];
    buf[n] = 0;
}

int clinux_mkdir_all_in_root(int rootfd, const char *path, mode_t mode) {
    char buf[4096];
    size_t len = strlen(path);
    if (len >= sizeof(buf)) { errno = ENAMETOOLONG; return -1; }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char saved = buf[i];
        buf[i] = 0;
        int fd = openat2_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
        if (fd >= 0) {
            close(fd);
        } else if (errno == ENOENT) {
            // Create the last component inside its (safely opened) parent.
            char *slash = strrchr(buf, '/');
            int parent;
            const char *name;
            if (slash && slash != buf) {
                *slash = 0;
                parent = openat2_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
                *slash = '/';
                name = slash + 1;
            } else {
                parent = openat2_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
                name = slash ? slash + 1 : buf;
            }
            if (parent < 0) return -1;
            int rc = mkdirat(parent, name, mode);
            int err = errno;
            close(parent);
            if (rc != 0 && err != EEXIST) { errno = err; return -1; }
        } else {
            return -1;
        }
        buf[i] = saved;
    }
    return 0;
}

int clinux_open_or_create_in_root(int rootfd, const char *path, int as_file) {
    int fd = openat2_in_root(rootfd, path, O_PATH | O_NOFOLLOW);
    if (fd >= 0 || errno != ENOENT) return fd;
    if (!as_file) {
        if (clinux_mkdir_all_in_root(rootfd, path, 0755) != 0) return -1;
        return openat2_in_root(rootfd, path, O_PATH | O_DIRECTORY);
    }
    char parent[4096];
    size_t len = strlen(path);
    if (len >= sizeof(parent)) { errno = ENAMETOOLONG; return -1; }
    memcpy(parent, path, len + 1);
    char *slash = strrchr(parent, '/');
    const char *name = path;
    if (slash) { *slash = 0; name = path + (slash - parent) + 1; }
    if (slash && parent[0] && clinux_mkdir_all_in_root(rootfd, parent, 0755) != 0) return -1;
    int dir = openat2_in_root(rootfd, slash && parent[0] ? parent : "/", O_PATH | O_DIRECTORY);
    if (dir < 0) return -1;
    int created = openat(dir, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    int err = errno;
    close(dir);
    if (created < 0 && err != EEXIST) { errno = err; return -1; }
    if (created >= 0) close(created);
    return openat2_in_root(rootfd, path, O_PATH | O_NOFOLLOW);
}

/// Mounts onto `target` inside the root; the target is created when missing.
static int mount_in_root(int rootfd, const char *target, int as_file, const char *source, const char *fstype,
                         unsigned long flags, const char *data) {
    int fd = clinux_open_or_create_in_root(rootfd, target, as_file);
    if (fd < 0) return -1;
    char p[64];
    fd_path(p, sizeof(p), fd);
    int rc = mount(source, p, fstype, flags, data);
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

/// Remounts an existing bind mount at `target` read-only, keeping its other flags.
static int remount_readonly(int rootfd, const char *target, unsigned long extra) {
    int fd = openat2_in_root(rootfd, target, O_PATH | O_NOFOLLOW);
    if (fd < 0) return -1;
    char p[64];
    fd_path(p, sizeof(p), fd);
    int rc = mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | extra, NULL);
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}

static void mount_overlay(const struct clinux_container_spec *spec, int errpipe) {
    // "lowerdir=...,upperdir=...,workdir=..." fits one page for a handful of layers; longer
    // stacks go through fsconfig, where each lower layer is its own "lowerdir+" parameter.
    char data[4096];
    size_t n = 0;
    const char *parts[] = {"lowerdir=", spec->overlay_lowerdirs, ",upperdir=", spec->overlay_upperdir,
                           ",workdir=", spec->overlay_workdir, ",index=off,xino=off"};
    int fits = 1;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (!parts[i]) continue;
        size_t l = strlen(parts[i]);
        if (n + l + 1 >= sizeof(data)) { fits = 0; break; }
        memcpy(data + n, parts[i], l);
        n += l;
    }
    data[n] = 0;
    if (fits) {
        if (mount("overlay", spec->rootfs, "overlay", 0, data) != 0)
            clinux_child_fail(errpipe, SPAWN_STEP_OVERLAY, errno, spec->rootfs);
        return;
    }
    int fsfd = (int)syscall(SYS_fsopen, "overlay", 1 /* FSOPEN_CLOEXEC */);
    if (fsfd < 0) clinux_child_fail(errpipe, SPAWN_STEP_OVERLAY, errno, "fsopen");
    const char *p = spec->overlay_lowerdirs;
    char one[4096];
    while (p && *p) {
        const char *colon = strchr(p, ':');
        size_t l = colon ? (size_t)(colon - p) : strlen(p);
        if (l >= sizeof(one)) clinux_child_fail(errpipe, SPAWN_STEP_OVERLAY, ENAMETOOLONG, p);
        memcpy(one, p, l);
        one[l] = 0;
        if (syscall(SYS_fsconfig, fsfd, 1 /* FSCONFIG_SET_STRING */, "lowerdir+", one, 0) != 0)
            clinux_child_fail(errpipe, SPAWN_STEP_OVERLAY, errno, one);
        p = colon ? colon + 1 : NULL;
    }
    if (syscall(SYS_fsconfig, fsfd, 1, "upperdir", spec->overlay_upperdir, 0) != 0 ||
        syscall(SYS_fsconfig, fsfd, 1, "workdir", spec->overlay_workdir, 0) != 0 ||
        syscall(SYS_fsconfig, fsfd, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0) != 0)
        clinux_child_fail(errpipe, SPAWN_STEP_OVERLAY, errno, spec->rootfs);
    int mfd = (int)syscall(SYS_fsmount, fsfd, 1 /* FSMOUNT_CLOEXEC */, 0);
    if (mfd < 0 || syscall(SYS_move_mount, mfd, "", AT_FDCWD, spec->rootfs, 4 /* MOVE_MOUNT_F_EMPTY_PATH */) != 0)
        clinux_child_fail(errpipe, SPAWN_STEP_OVERLAY, errno, spec->rootfs);
    close(mfd);
    close(fsfd);
}

static void setup_dev(const struct clinux_container_spec *spec, int rootfd, int errpipe) {
    if (spec->privileged) {
        if (mount_in_root(rootfd, "/dev", 0, "/dev", NULL, MS_BIND | MS_REC, NULL) != 0)
            clinux_child_fail(errpipe, SPAWN_STEP_DEV, errno, "/dev");
        return;
    }
    if (mount_in_root(rootfd, "/dev", 0, "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") != 0)
        clinux_child_fail(errpipe, SPAWN_STEP_DEV, errno, "/dev");
    int dev = openat2_in_root(rootfd, "/dev", O_DIRECTORY);
    if (dev < 0) clinux_child_fail(errpipe, SPAWN_STEP_DEV, errno, "/dev");
    static const struct { const char *name; unsigned int major, minor; } nodes[] = {
        {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
    };
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        if (mknodat(dev, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].major, nodes[i].minor)) != 0)
            clinux_child_fail(errpipe, SPAWN_STEP_DEVNODE, errno, nodes[i].name);
    }
    static const struct { const char *target, *name; } links[] = {
        {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}, {"/proc/kcore", "core"},
    };
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        if (symlinkat(links[i].target, dev, links[i].name) != 0 && errno != EEXIST)
            clinux_child_fail(errpipe, SPAWN_STEP_DEVNODE, errno, links[i].name);
    }
    close(dev);
    if (mount_in_root(rootfd, "/dev/pts", 0, "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
                      "newinstance,ptmxmode=0666,mode=0620,gid=5") != 0)
        clinux_child_fail(errpipe, SPAWN_STEP_DEV, errno, "/dev/pts");
    if (spec->shm_source) {
        if (mount_in_root(rootfd, "/dev/shm", 0, spec->shm_source, NULL, MS_BIND | MS_REC, NULL) != 0)
            clinux_child_fail(errpipe, SPAWN_STEP_DEV, errno, "/dev/shm");
    } else if (mount_in_root(rootfd, "/dev/shm", 0, "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") != 0) {
        clinux_child_fail(errpipe, SPAWN_STEP_DEV, errno, "/dev/shm");
    }
    if (mount_in_root(rootfd, "/dev/mqueue", 0, "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        clinux_child_fail(errpipe, SPAWN_STEP_DEV, errno, "/dev/mqueue");
}

static void setup_sys(const struct clinux_container_spec *spec, int rootfd, int errpipe) {
    unsigned long ro = spec->privileged ? 0 : MS_RDONLY;
    if (mount_in_root(rootfd, "/sys", 0, "sysfs", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | ro, NULL) != 0) {
        // sysfs can only be mounted by the owner of the network namespace; in the host's
        // network namespace (hostNetwork) fall back to a bind of the host's, as runc does.
        if (errno != EPERM || mount_in_root(rootfd, "/sys", 0, "/sys", NULL, MS_BIND | MS_REC, NULL) != 0)
            clinux_child_fail(errpipe, SPAWN_STEP_SYS, errno, "/sys");
        if (ro && remount_readonly(rootfd, "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC) != 0)
            clinux_child_fail(errpipe, SPAWN_STEP_SYS, errno, "/sys");
    }
    if (mount_in_root(rootfd, "/sys/fs/cgroup", 0, "cgroup2", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC | ro, NULL) != 0)
        clinux_child_fail(errpipe, SPAWN_STEP_CGROUP, errno, "/sys/fs/cgroup");
}

static void setup_user_mounts(const struct clinux_container_spec *spec, int rootfd, int errpipe) {
    for (size_t i = 0; i < spec->n_mounts; i++) {
        const struct clinux_mount *m = &spec->mounts[i];
        int rc;
        if (m->kind == CLINUX_MOUNT_BIND) {
            rc = mount_in_root(rootfd, m->target, m->target_is_file, m->source, NULL, MS_BIND | MS_REC, NULL);
            if (rc == 0 && (m->flags & MS_RDONLY))
                rc = remount_readonly(rootfd, m->target, m->flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC));
        } else {
            rc = mount_in_root(rootfd, m->target, m->target_is_file, m->source, m->fstype, m->flags, m->data);
        }
        if (rc != 0) clinux_child_fail(errpipe, SPAWN_STEP_USER_MOUNT, errno, m->target);
    }
}

static void mask_paths(const struct clinux_container_spec *spec, int rootfd, int errpipe) {
    for (size_t i = 0; i < spec->n_masked; i++) {
        const char *path = spec->masked_paths[i];
        int fd = openat2_in_root(rootfd, path, O_PATH | O_NOFOLLOW);
        if (fd < 0) {
            if (errno == ENOENT) continue;
            clinux_child_fail(errpipe, SPAWN_STEP_MASK, errno, path);
        }
        struct stat st;
        int is_dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
        char p[64];
        fd_path(p, sizeof(p), fd);
        int rc = is_dir ? mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0,mode=0555")
                        : mount("/dev/null", p, NULL, MS_BIND, NULL);
        int err = errno;
        close(fd);
        if (rc != 0) clinux_child_fail(errpipe, SPAWN_STEP_MASK, err, path);
    }
}

static void readonly_paths(const struct clinux_container_spec *spec, int rootfd, int errpipe) {
    for (size_t i = 0; i < spec->n_readonly; i++) {
        const char *path = spec->readonly_paths[i];
        int fd = openat2_in_root(rootfd, path, O_PATH | O_NOFOLLOW);
        if (fd < 0) {
            if (errno == ENOENT) continue;
            clinux_child_fail(errpipe, SPAWN_STEP_READONLY_PATH, errno, path);
        }
        char p[64];
        fd_path(p, sizeof(p), fd);
        int rc = mount(p, p, NULL, MS_BIND | MS_REC, NULL);
        int err = errno;
        close(fd);
        if (rc != 0) clinux_child_fail(errpipe, SPAWN_STEP_READONLY_PATH, err, path);
        if (remount_readonly(rootfd, path, MS_NOSUID | MS_NODEV | MS_NOEXEC) != 0)
            clinux_child_fail(errpipe, SPAWN_STEP_READONLY_PATH, errno, path);
    }
}

void clinux_setup_rootfs(const struct clinux_container_spec *spec, int errpipe) {
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        clinux_child_fail(errpipe, SPAWN_STEP_MOUNT_PRIVATE, errno, "/");
    if (spec->overlay_lowerdirs) {
        mount_overlay(spec, errpipe);
    } else if (mount(spec->rootfs, spec->rootfs, NULL, MS_BIND | MS_REC, NULL) != 0) {
        clinux_child_fail(errpipe, SPAWN_STEP_OVERLAY, errno, spec->rootfs);
    }
    int rootfd = open(spec->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) clinux_child_fail(errpipe, SPAWN_STEP_ROOTFS_OPEN, errno, spec->rootfs);
    if (mount_in_root(rootfd, "/proc", 0, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        clinux_child_fail(errpipe, SPAWN_STEP_PROC, errno, "/proc");
    setup_dev(spec, rootfd, errpipe);
    setup_sys(spec, rootfd, errpipe);
    setup_user_mounts(spec, rootfd, errpipe);
    mask_paths(spec, rootfd, errpipe);
    readonly_paths(spec, rootfd, errpipe);
    if (fchdir(rootfd) != 0) clinux_child_fail(errpipe, SPAWN_STEP_PIVOT, errno, spec->rootfs);
    close(rootfd);
    if (syscall(SYS_pivot_root, ".", ".") != 0) clinux_child_fail(errpipe, SPAWN_STEP_PIVOT, errno, spec->rootfs);
    if (umount2(".", MNT_DETACH) != 0) clinux_child_fail(errpipe, SPAWN_STEP_PIVOT, errno, "old root");
    if (chdir("/") != 0) clinux_child_fail(errpipe, SPAWN_STEP_PIVOT, errno, "/");
    if (spec->readonly_rootfs && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0)
        clinux_child_fail(errpipe, SPAWN_STEP_ROOT_RO, errno, "/");
}
