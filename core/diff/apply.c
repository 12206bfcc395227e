/* diff_apply: reads the tar with libarchive and does every filesystem change itself, in root. */
#include "core/diff/diff-internal.h"

#include "lib/base/alloc.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define READ_CHUNK (128 * 1024)

struct dir_time {
    char *rel;
    struct timespec times[2];
};

struct applier {
    int root_fd;
    struct apply_options o;
    struct layer_reader *in;
    struct berth_error *read_error; /* the reader's failure seen inside libarchive's callback */
    struct path_set *unpacked;
    struct dir_time *dirs;
    size_t n_dirs, cap_dirs;
    int *lower_fds;
    size_t n_lowers;
    /* the parent directory of the previous entry, kept open while nothing could replace it */
    char *cached_rel;
    int cached_fd;
};

static la_ssize_t read_callback(struct archive *a, void *client, const void **buffer)
{
    struct applier *ap = client;
    /* libarchive keeps a block until its next read: the reader's own bytes will do */
    ssize_t n = layer_reader_read_borrow(ap->in, READ_CHUNK, buffer, &ap->read_error);
    if (n < 0) {
        archive_set_error(a, EIO, "%s", ap->read_error->message);
        return -1;
    }
    return n;
}

static void forget_parent(struct applier *ap)
{
    if (ap->cached_fd >= 0)
        close(ap->cached_fd);
    ap->cached_fd = -1;
    free(ap->cached_rel);
    ap->cached_rel = NULL;
}

/* A created parent takes owner, mode, times and xattrs from the nearest lower that has it. */
static int copy_from_lowers(struct applier *ap, int fd, const char *rel)
{
    for (size_t i = 0; i < ap->n_lowers; i++) {
        int lfd = diff_open_in_root(ap->lower_fds[i], rel, O_RDONLY | O_NOFOLLOW);
        if (lfd < 0) {
            if (errno == ENOENT)
                continue;
            if (errno == ELOOP || errno == ENOTDIR)
                return 0;
            return -1;
        }
        struct stat st;
        int rc = fstat(lfd, &st);
        if (rc == 0 && S_ISDIR(st.st_mode)) {
            struct timespec ts[2] = {st.st_atim, st.st_mtim};
            if (fchown(fd, st.st_uid, st.st_gid) < 0 || fchmod(fd, st.st_mode & 07777) < 0 ||
                futimens(fd, ts) < 0 || diff_copy_xattrs(lfd, fd) < 0)
                rc = -1;
        }
        int saved = errno;
        close(lfd);
        errno = saved;
        return rc;
    }
    return 0;
}

/* Opens (creating as needed, 0755) the directory rel inside root; returns an fd or -1. */
static int open_parent(struct applier *ap, const char *rel, struct berth_error **err)
{
    if (ap->cached_rel && strcmp(ap->cached_rel, rel) == 0)
        return ap->cached_fd;
    forget_parent(ap);
    int fd = diff_open_in_root(ap->root_fd, rel, O_RDONLY | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT) {
        /* Walk down from root, making each missing directory. */
        _cleanup_free_ char *prefix = xstrdup(rel);
        int cur = diff_open_in_root(ap->root_fd, "", O_RDONLY | O_DIRECTORY);
        for (char *p = prefix; cur >= 0;) {
            char *slash = strchr(p, '/');
            if (slash)
                *slash = '\0';
            int next = diff_open_in_root(ap->root_fd, prefix, O_RDONLY | O_DIRECTORY);
            if (next < 0 && errno == ENOENT) {
                const char *comp = strrchr(prefix, '/') ? strrchr(prefix, '/') + 1 : prefix;
                if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
                    break;
                next = diff_open_in_root(ap->root_fd, prefix, O_RDONLY | O_DIRECTORY);
                if (next >= 0 && (fchmod(next, 0755) < 0 || copy_from_lowers(ap, next, prefix))) {
                    close(next);
                    next = -1;
                }
            }
            close(cur);
            cur = next;
            if (!slash)
                break;
            *slash = '/';
            p = slash + 1;
        }
        fd = cur;
    }
    if (fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "parent directory %s",
                        rel[0] ? rel : "/");
    ap->cached_rel = xstrdup(rel);
    ap->cached_fd = fd;
    return fd;
}

static struct timespec bound_time(time_t sec, long nsec)
{
    /* containerd clamps times it cannot represent to the epoch */
    if (sec < 0)
        return (struct timespec){0, 0};
    return (struct timespec){sec, nsec};
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
    ts[1] = bound_time(archive_entry_mtime(e), archive_entry_mtime_nsec(e));
    ts[0] = ts[1];
    if (archive_entry_atime_is_set(e)) {
        struct timespec a = bound_time(archive_entry_atime(e), archive_entry_atime_nsec(e));
        if (a.tv_sec > ts[1].tv_sec || (a.tv_sec == ts[1].tv_sec && a.tv_nsec > ts[1].tv_nsec))
            ts[0] = a;
    }
}

static int write_contents(struct archive *a, int fd, int64_t size, struct berth_error **err)
{
    const void *block;
    size_t len;
    la_int64_t offset;
    int64_t end = 0;
    for (;;) {
        int r = archive_read_data_block(a, &block, &len, &offset);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN)
            return err_make(err, ERR_DATA_LOSS, 0, "read contents: %s", archive_error_string(a));
        const char *p = block;
        while (len > 0) {
            ssize_t w = pwrite(fd, p, len, offset);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return err_make(err, err_kind_from_errno(errno), errno, "write");
            }
            p += w;
            len -= (size_t)w;
            offset += w;
        }
        if (offset > end)
            end = offset;
    }
    if (end < size && ftruncate(fd, size) < 0) /* a sparse tail */
        return err_make(err, err_kind_from_errno(errno), errno, "truncate");
    return 0;
}

static int set_xattrs(struct applier *ap, struct archive_entry *e, int fd, int parent_fd,
                      const char *base, bool reg_or_dir, struct berth_error **err)
{
    const char *name;
    const void *value;
    size_t size, count = 0;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        if (++count > DIFF_DEFAULT_MAX_XATTRS)
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "more than %d xattrs",
                            DIFF_DEFAULT_MAX_XATTRS);
        if (size > DIFF_DEFAULT_MAX_XATTR_VALUE)
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "xattr %s of %zu bytes", name, size);
        /* As containerd: admin attributes from an archive are not supported, and skipped. */
        if (strncmp(name, "trusted.", 8) == 0)
            continue;
        int rc;
        if (fd >= 0) {
            rc = fsetxattr(fd, name, value, size, 0);
        } else {
            char path[64 + NAME_MAX];
            snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", parent_fd, base);
            rc = lsetxattr(path, name, value, size, 0);
        }
        if (rc < 0) {
            if (errno == ENOTSUP)
                continue;
            if (errno == EPERM && strncmp(name, "user.", 5) == 0 && !reg_or_dir)
                continue;
            return err_make(err, err_kind_from_errno(errno), errno, "setxattr %s", name);
        }
    }
    return 0;
}

/* Creates the entry (base in parent_fd) and sets its owner, xattrs, mode and times. */
static int create_entry(struct applier *ap, struct archive *a, struct archive_entry *e,
                        int parent_fd, const char *base, struct berth_error **err)
{
    mode_t type = archive_entry_filetype(e);
    mode_t perm = archive_entry_mode(e) & 07777;
    const char *hardlink = archive_entry_hardlink(e);
    uid_t uid = (uid_t)archive_entry_uid(e);
    gid_t gid = (gid_t)archive_entry_gid(e);
    struct timespec ts[2];
    entry_times(e, ts);
    _cleanup_close_ int fd = -1;

    if (hardlink) {
        _cleanup_free_ char *target = NULL, *tparent = NULL;
        const char *tbase;
        if (diff_clean_path(hardlink, ap->o.max_path, &target, err) < 0)
            return err_wrap(err, "link target");
        diff_split_path(target, &tparent, &tbase);
        _cleanup_close_ int tfd = diff_open_in_root(ap->root_fd, tparent, O_RDONLY | O_DIRECTORY);
        if (tfd < 0 || linkat(tfd, tbase[0] ? tbase : ".", parent_fd, base, 0) < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "link to %s", hardlink);
        type = 0; /* whatever it links to: path-based metadata below */
    } else if (type == AE_IFDIR) {
        struct stat st;
        if (fstatat(parent_fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
            if (mkdirat(parent_fd, base, 0700) < 0)
                return err_make(err, err_kind_from_errno(errno), errno, "mkdir");
        }
        fd = openat(parent_fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "open directory");
    } else if (type == AE_IFREG) {
        fd = openat(parent_fd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "create");
        if (write_contents(a, fd, archive_entry_size(e), err) < 0)
            return -1;
    } else if (type == AE_IFLNK) {
        const char *target = archive_entry_symlink(e);
        if (!target || strlen(target) > ap->o.max_path)
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "symlink target missing or too long");
        if (symlinkat(target, parent_fd, base) < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "symlink");
    } else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO) {
        dev_t dev = type == AE_IFIFO ? 0
                                     : makedev((unsigned)archive_entry_rdevmajor(e),
                                               (unsigned)archive_entry_rdevminor(e));
        if (mknodat(parent_fd, base, type | perm, dev) < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "mknod");
    } else {
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "unhandled tar entry type 0%o", type);
    }

    if (!ap->o.no_same_owner) {
        int rc = fd >= 0 ? fchown(fd, uid, gid)
                         : fchownat(parent_fd, base, uid, gid, AT_SYMLINK_NOFOLLOW);
        if (rc < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "lchown %u:%u", uid, gid);
    }
    if (set_xattrs(ap, e, fd, parent_fd, base, type == AE_IFREG || type == AE_IFDIR, err) < 0)
        return -1;
    if (fd >= 0) {
        if (fchmod(fd, perm) < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "chmod");
    } else if (type != AE_IFLNK) {
        if (fchmodat(parent_fd, base, perm, AT_SYMLINK_NOFOLLOW) < 0 && errno != EOPNOTSUPP)
            return err_make(err, err_kind_from_errno(errno), errno, "chmod");
    }
    if (type == AE_IFDIR)
        return 0; /* directories get their times at the end */
    if (utimensat(parent_fd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "chtimes");
    return 0;
}

static int apply_entry(struct applier *ap, struct archive *a, struct archive_entry *e,
                       const char *rel, struct berth_error **err)
{
    _cleanup_free_ char *rel_parent = NULL;
    const char *base;
    diff_split_path(rel, &rel_parent, &base);
    int parent_fd = open_parent(ap, rel_parent, err);
    if (parent_fd < 0)
        return -1;

    if (strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0) {
        forget_parent(ap);
        parent_fd = open_parent(ap, rel_parent, err);
        if (parent_fd < 0)
            return -1;
        return diff_whiteout_apply(ap->root_fd, parent_fd, rel_parent, base,
                                   (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e), &ap->o,
                                   ap->unpacked, err);
    }

    struct stat st;
    bool is_dir = archive_entry_filetype(e) == AE_IFDIR && !archive_entry_hardlink(e);
    if (fstatat(parent_fd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        !(S_ISDIR(st.st_mode) && is_dir)) {
        if (diff_remove_all_at(parent_fd, base) < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "remove existing");
        forget_parent(ap); /* what was removed may have been on the cached path */
        parent_fd = open_parent(ap, rel_parent, err);
        if (parent_fd < 0)
            return -1;
    }
    if (create_entry(ap, a, e, parent_fd, base, err) < 0)
        return -1;
    if (is_dir) {
        ap->dirs = xreallocarray_grow(ap->dirs, &ap->cap_dirs, ap->n_dirs + 1, sizeof(*ap->dirs));
        struct dir_time *d = &ap->dirs[ap->n_dirs++];
        d->rel = xstrdup(rel);
        entry_times(e, d->times);
    }
    path_set_add(ap->unpacked, rel);
    return 0;
}

static int apply_all(struct applier *ap, struct archive *a, struct apply_result *res,
                     struct berth_error **err)
{
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN) {
            if (ap->read_error)
                return err_make_raw(err, ap->read_error->kind, ap->read_error->message);
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "read tar header after %llu entries: %s",
                            (unsigned long long)res->entries, archive_error_string(a));
        }
        if (++res->entries > ap->o.max_entries)
            return err_make(err, ERR_RESOURCE_EXHAUSTED, 0, "more than %zu entries",
                            ap->o.max_entries);
        res->size += archive_entry_size(e);
        const char *name = archive_entry_pathname(e);
        if (!name)
            name = archive_entry_pathname_utf8(e);
        if (!name)
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "entry %llu has no name",
                            (unsigned long long)res->entries);
        _cleanup_free_ char *rel = NULL;
        if (diff_clean_path(name, ap->o.max_path, &rel, err) < 0 ||
            (rel[0] && apply_entry(ap, a, e, rel, err) < 0)) {
            if (ap->read_error)
                return err_make_raw(err, ap->read_error->kind, ap->read_error->message);
            return err_wrap(err, "apply %.256s", name);
        }
    }
}

static int apply_dir_times(struct applier *ap, struct berth_error **err)
{
    for (size_t i = 0; i < ap->n_dirs; i++) {
        _cleanup_free_ char *parent = NULL;
        const char *base;
        diff_split_path(ap->dirs[i].rel, &parent, &base);
        _cleanup_close_ int pfd = diff_open_in_root(ap->root_fd, parent, O_RDONLY | O_DIRECTORY);
        if (pfd < 0 && errno == ENOENT)
            continue; /* removed by a later whiteout */
        if (pfd < 0 || utimensat(pfd, base, ap->dirs[i].times, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue;
            return err_make(err, err_kind_from_errno(errno), errno, "chtimes %s", ap->dirs[i].rel);
        }
    }
    return 0;
}

int diff_apply(const char *root, struct layer_reader *in, const struct apply_options *opts,
               struct apply_result *ret, struct berth_error **err)
{
    struct applier ap = {.in = in, .cached_fd = -1};
    if (opts)
        ap.o = *opts;
    if (!ap.o.max_entries)
        ap.o.max_entries = DIFF_DEFAULT_MAX_ENTRIES;
    if (!ap.o.max_path)
        ap.o.max_path = DIFF_DEFAULT_MAX_PATH;
    struct apply_result res = {0};
    int rc = -1;

    ap.root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ap.root_fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "apply layer: open %s", root);
    for (const char *const *p = ap.o.parents; p && *p; p++) {
        int fd = open(*p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            err_make(err, err_kind_from_errno(errno), errno, "apply layer: open parent %s", *p);
            goto out;
        }
        ap.lower_fds = xrealloc(ap.lower_fds, (ap.n_lowers + 1) * sizeof(int));
        ap.lower_fds[ap.n_lowers++] = fd;
    }
    /* inflating on one core while this thread writes files on the other */
    if (!layer_reader_kept_inline(in) && layer_reader_start_thread(in, 0, err) < 0) {
        err_wrap(err, "apply layer");
        goto out;
    }
    ap.unpacked = path_set_new();

    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    archive_read_support_format_empty(a);
    if (archive_read_open(a, &ap, NULL, read_callback, NULL) != ARCHIVE_OK) {
        if (ap.read_error)
            err_make_raw(err, ap.read_error->kind, ap.read_error->message);
        else
            err_make(err, ERR_INVALID_ARGUMENT, 0, "not a tar stream: %s", archive_error_string(a));
        err_wrap(err, "apply layer");
    } else if (apply_all(&ap, a, &res, err) < 0 || apply_dir_times(&ap, err) < 0) {
        err_wrap(err, "apply layer");
    } else {
        rc = 0;
    }
    archive_read_free(a);
out:
    forget_parent(&ap);
    for (size_t i = 0; i < ap.n_dirs; i++)
        free(ap.dirs[i].rel);
    free(ap.dirs);
    for (size_t i = 0; i < ap.n_lowers; i++)
        close(ap.lower_fds[i]);
    free(ap.lower_fds);
    path_set_free(ap.unpacked);
    err_free(ap.read_error);
    close(ap.root_fd);
    if (rc == 0 && ret)
        *ret = res;
    return rc;
}
