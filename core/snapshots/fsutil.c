/* Walking, copying and removing snapshot directories with the *at() calls. */
#include "core/snapshots/fsutil.h"
#include "lib/base/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Bounds the recursion: deeper trees are refused rather than overflowing the stack. */
enum { MAX_DEPTH = 512 };

static int remove_in(int dirfd, dev_t dev, int depth, struct berth_error **err)
{
    if (depth > MAX_DEPTH)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "directory tree too deep");
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return err_make(err, ERR_INTERNAL, errno, "opendir");
    }
    int r = 0;
    struct dirent *e;
    while (r == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (st.st_dev != dev) {
                r = err_make(err, ERR_FAILED_PRECONDITION, EBUSY, "%s is a mount point", e->d_name);
                break;
            }
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                /* a directory without permissions for us: make it readable first */
                if (fchmodat(dirfd, e->d_name, 0700, 0) < 0) {
                    /* the open below reports it */
                }
                sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            }
            if (sub < 0) {
                r = err_make(err, ERR_INTERNAL, errno, "open %s", e->d_name);
                break;
            }
            r = remove_in(sub, dev, depth + 1, err);
            close(sub);
            if (r == 0 && unlinkat(dirfd, e->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                r = err_make(err, ERR_INTERNAL, errno, "remove %s", e->d_name);
        } else if (unlinkat(dirfd, e->d_name, 0) < 0 && errno != ENOENT) {
            r = err_make(err, ERR_INTERNAL, errno, "remove %s", e->d_name);
        }
    }
    closedir(d);
    return r;
}

int snapshot_fs_remove_all(const char *path, struct berth_error **err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : err_make(err, ERR_INTERNAL, errno, "stat %s", path);
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) < 0 && errno != ENOENT)
            return err_make(err, ERR_INTERNAL, errno, "remove %s", path);
        return 0;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return err_make(err, ERR_INTERNAL, errno, "open %s", path);
    int r = remove_in(fd, st.st_dev, 0, err);
    close(fd);
    if (r < 0)
        return err_wrap(err, "remove %s", path);
    if (rmdir(path) < 0 && errno != ENOENT)
        return err_make(err, ERR_INTERNAL, errno, "remove %s", path);
    return 0;
}

/* ---- usage ---- */

struct inode_set {
    struct {
        dev_t dev;
        ino_t ino;
    } * items;
    size_t cap, count;
};

static bool inode_add(struct inode_set *s, dev_t dev, ino_t ino)
{
    if ((s->count + 1) * 2 > s->cap) {
        struct inode_set bigger = {.cap = s->cap ? s->cap * 2 : 256};
        bigger.items = xcalloc(bigger.cap, sizeof(*bigger.items));
        for (size_t i = 0; i < s->cap; i++)
            if (s->items[i].ino)
                inode_add(&bigger, s->items[i].dev, s->items[i].ino);
        free(s->items);
        *s = bigger;
    }
    size_t i = ((uint64_t)ino * 0x9E3779B97F4A7C15ULL ^ (uint64_t)dev) & (s->cap - 1);
    while (s->items[i].ino) {
        if (s->items[i].ino == ino && s->items[i].dev == dev)
            return false;
        i = (i + 1) & (s->cap - 1);
    }
    s->items[i].dev = dev;
    s->items[i].ino = ino;
    s->count++;
    return true;
}

static int usage_in(int dirfd, struct inode_set *seen, int64_t *size, int depth,
                    struct berth_error **err)
{
    if (depth > MAX_DEPTH)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "directory tree too deep");
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return err_make(err, ERR_INTERNAL, errno, "opendir");
    }
    int r = 0;
    struct dirent *e;
    while (r == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (inode_add(seen, st.st_dev, st.st_ino))
            *size += (int64_t)st.st_blocks * 512;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0)
                continue;
            r = usage_in(sub, seen, size, depth + 1, err);
            close(sub);
        }
    }
    closedir(d);
    return r;
}

int snapshot_fs_usage(const char *path, struct snapshot_usage *ret, struct berth_error **err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "open %s", path);
    struct stat st;
    struct inode_set seen = {0};
    int64_t size = 0;
    if (fstat(fd, &st) == 0 && inode_add(&seen, st.st_dev, st.st_ino))
        size += (int64_t)st.st_blocks * 512;
    int r = usage_in(fd, &seen, &size, 0, err);
    close(fd);
    if (r == 0)
        *ret = (struct snapshot_usage){.size = size, .inodes = (int64_t)seen.count};
    free(seen.items);
    return r;
}

/* ---- copying ---- */

struct link_map {
    struct {
        dev_t dev;
        ino_t ino;
        char *path;
    } * items;
    size_t count, cap;
};

static const char *link_find(const struct link_map *m, const struct stat *st)
{
    for (size_t i = 0; i < m->count; i++)
        if (m->items[i].dev == st->st_dev && m->items[i].ino == st->st_ino)
            return m->items[i].path;
    return NULL;
}

enum { XATTR_BUFFER = 64 * 1024 };

/* Heap buffers: this runs on worker threads, whose stacks are small. */
static void copy_xattrs(const char *src, const char *dst)
{
    _cleanup_free_ char *names = xmalloc(XATTR_BUFFER);
    _cleanup_free_ char *value = xmalloc(XATTR_BUFFER);
    ssize_t n = llistxattr(src, names, XATTR_BUFFER);
    for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
        ssize_t vn = lgetxattr(src, names + off, value, XATTR_BUFFER);
        if (vn >= 0)
            lsetxattr(dst, names + off, value, (size_t)vn, 0);
    }
}

static int copy_file(const char *src, const char *dst, const struct stat *st,
                     struct berth_error **err)
{
    _cleanup_close_ int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0)
        return err_make(err, ERR_INTERNAL, errno, "open %s", src);
    _cleanup_close_ int out =
        open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st->st_mode & 07777);
    if (out < 0)
        return err_make(err, ERR_INTERNAL, errno, "create %s", dst);
    off_t left = st->st_size;
    while (left > 0) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
            n = sendfile(out, in, NULL, (size_t)left);
        if (n < 0)
            return err_make(err, ERR_INTERNAL, errno, "copy %s", src);
        if (n == 0)
            break;
        left -= n;
    }
    return 0;
}

static void copy_metadata(const char *src, const char *dst, const struct stat *st)
{
    if (lchown(dst, st->st_uid, st->st_gid) < 0) {
        /* unprivileged copies keep the copier's owner */
    }
    if (!S_ISLNK(st->st_mode))
        chmod(dst, st->st_mode & 07777);
    copy_xattrs(src, dst);
    struct timespec times[2] = {st->st_atim, st->st_mtim};
    utimensat(AT_FDCWD, dst, times, AT_SYMLINK_NOFOLLOW);
}

static int copy_in(const char *src, const char *dst, struct link_map *links, int depth,
                   struct berth_error **err)
{
    if (depth > MAX_DEPTH)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "directory tree too deep");
    DIR *d = opendir(src);
    if (!d)
        return err_make(err, ERR_INTERNAL, errno, "opendir %s", src);
    int r = 0;
    struct dirent *e;
    while (r == 0 && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        _cleanup_free_ char *s = xasprintf("%s/%s", src, e->d_name);
        _cleanup_free_ char *t = xasprintf("%s/%s", dst, e->d_name);
        struct stat st;
        if (lstat(s, &st) < 0) {
            r = err_make(err, ERR_INTERNAL, errno, "stat %s", s);
            break;
        }
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
            const char *first = link_find(links, &st);
            if (first) {
                if (link(first, t) < 0)
                    r = err_make(err, ERR_INTERNAL, errno, "link %s", t);
                continue;
            }
        }
        if (S_ISDIR(st.st_mode)) {
            if (mkdir(t, 0700) < 0)
                r = err_make(err, ERR_INTERNAL, errno, "mkdir %s", t);
            if (r == 0)
                r = copy_in(s, t, links, depth + 1, err);
        } else if (S_ISREG(st.st_mode)) {
            r = copy_file(s, t, &st, err);
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX + 1];
            ssize_t n = readlink(s, target, PATH_MAX);
            if (n < 0 || (target[n] = '\0', symlink(target, t) < 0))
                r = err_make(err, ERR_INTERNAL, errno, "symlink %s", t);
        } else if (mknod(t, st.st_mode, st.st_rdev) < 0) {
            r = err_make(err, ERR_INTERNAL, errno, "mknod %s", t);
        }
        if (r < 0)
            break;
        copy_metadata(s, t, &st);
        if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
            links->items = xreallocarray_grow(links->items, &links->cap, links->count + 1,
                                              sizeof(*links->items));
            links->items[links->count].dev = st.st_dev;
            links->items[links->count].ino = st.st_ino;
            links->items[links->count++].path = steal_ptr(t);
        }
    }
    closedir(d);
    return r;
}

int snapshot_fs_copy_tree(const char *src, const char *dst, struct berth_error **err)
{
    struct link_map links = {0};
    int r = copy_in(src, dst, &links, 0, err);
    for (size_t i = 0; i < links.count; i++)
        free(links.items[i].path);
    free(links.items);
    struct stat st;
    if (r == 0 && lstat(src, &st) == 0)
        copy_metadata(src, dst, &st);
    return r;
}
