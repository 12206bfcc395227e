/* Applying a layer onto snapshot mounts: the overlay upperdir fast path or a private temp mount. */
#include "core/diff/mounts.h"
#include "lib/base/alloc.h"
#include "lib/base/mount_options.h"
#include "lib/base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { UNMOUNT_BUSY_RETRIES = 50, UNMOUNT_BUSY_WAIT_MS = 50, MAX_MOUNT_DATA = 4096 };

/* containerd's mount_linux.go flag table: set or clear a MS_* flag. */
/* Splits options into flags, propagation flags and the data string (bounded). */
static int parse_options(const struct diff_mount *m, unsigned long *ret_flags,
                         unsigned long *ret_propagation, char *data, size_t data_size,
                         struct berth_error **err)
{
    unsigned long flags = 0, propagation = 0;
    size_t used = 0;
    data[0] = '\0';
    for (size_t i = 0; i < m->n_options; i++) {
        const char *o = m->options[i];
        bool known = mount_option_apply(o, &flags, &propagation);
        if (known)
            continue;
        if (strcmp(o, "volatile") == 0 && strcmp(m->type, "overlay") == 0)
            continue; /* a temp mount must not reuse a volatile upper (RemoveVolatileOption) */
        if (strcmp(o, "loop") == 0 || strncmp(o, "uidmap=", 7) == 0 ||
            strncmp(o, "gidmap=", 7) == 0)
            return err_make(err, ERR_NOT_IMPLEMENTED, 0, "mount option %s", o);
        size_t len = strlen(o);
        if (used + len + 2 > data_size)
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "mount options of %s too long", m->type);
        if (used > 0)
            data[used++] = ',';
        memcpy(data + used, o, len + 1);
        used += len;
    }
    *ret_flags = flags;
    *ret_propagation = propagation;
    return 0;
}

/* target joined with a mount's relative target; `..` components are refused. */
static int mount_point(const char *target, const struct diff_mount *m, char **ret,
                       struct berth_error **err)
{
    const char *sub = m->target ? m->target : "";
    while (*sub == '/')
        sub++;
    for (const char *p = sub; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "mount target %s escapes the root",
                            m->target);
        p += n;
        while (*p == '/')
            p++;
    }
    if (!*sub)
        *ret = xstrdup(target);
    else if (asprintf(ret, "%s/%s", target, sub) < 0)
        abort();
    return 0;
}

static int mount_one(const struct diff_mount *m, const char *target, struct berth_error **err)
{
    if (!m->type || !m->type[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "mount of %s has no type",
                        m->source ? m->source : "");
    if (strncmp(m->type, "fuse.", 5) == 0 || strncmp(m->type, "fuse3.", 6) == 0)
        return err_make(err, ERR_NOT_IMPLEMENTED, 0, "mount type %s", m->type);
    unsigned long flags = 0, propagation = 0;
    char data[MAX_MOUNT_DATA];
    if (parse_options(m, &flags, &propagation, data, sizeof(data), err) < 0)
        return -1;
    _cleanup_free_ char *point = NULL;
    if (mount_point(target, m, &point, err) < 0)
        return -1;
    const unsigned long read_only_bind = MS_BIND | MS_RDONLY;
    bool bind = (flags & MS_BIND) != 0;
    if (!bind || !(flags & MS_REMOUNT) || data[0]) {
        if (mount(m->source, point, m->type, flags, data[0] ? data : NULL) < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "mount %s on %s", m->type,
                            point);
    }
    if (propagation && mount("", point, "", propagation | (flags & MS_REC) | MS_SILENT, NULL) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "set propagation of %s", point);
    /* A bind ignores MS_RDONLY on the first call: remount it read-only. */
    if ((flags & read_only_bind) == read_only_bind &&
        mount("", point, "", flags | MS_REMOUNT, NULL) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "remount %s read-only", point);
    return 0;
}

int diff_mounts_mount(const struct diff_mount *mounts, size_t n, const char *target,
                      struct berth_error **err)
{
    for (size_t i = 0; i < n; i++)
        if (mount_one(&mounts[i], target, err) < 0)
            return -1;
    return 0;
}

/* umount2 until the point is no longer a mount point (EINVAL), waiting out EBUSY a while. */
static int unmount_all(const char *point, struct berth_error **err)
{
    struct stat st;
    if (stat(point, &st) < 0 && errno == ENOENT)
        return 0;
    int busy = 0;
    for (;;) {
        if (umount2(point, UMOUNT_NOFOLLOW) == 0)
            continue;
        if (errno == EINVAL)
            return 0;
        if (errno == EBUSY && busy++ < UNMOUNT_BUSY_RETRIES) {
            struct timespec wait = {0, UNMOUNT_BUSY_WAIT_MS * 1000000L};
            nanosleep(&wait, NULL);
            continue;
        }
        return err_make(err, err_kind_from_errno(errno), errno, "unmount %s", point);
    }
}

int diff_mounts_unmount(const struct diff_mount *mounts, size_t n, const char *target,
                        struct berth_error **err)
{
    int rc = 0;
    for (size_t i = n; i-- > 0;) {
        _cleanup_free_ char *point = NULL;
        if (mount_point(target, &mounts[i], &point, NULL) < 0)
            continue; /* never mounted: mount_one refused it */
        if (unmount_all(point, rc < 0 ? NULL : err) < 0)
            rc = -1;
    }
    if (n == 0 && unmount_all(target, err) < 0)
        rc = -1;
    return rc;
}

bool diff_running_in_userns(void)
{
    _cleanup_free_ char *map = NULL;
    if (fs_read_small_file("/proc/self/uid_map", 4096, &map, NULL) < 0)
        return false;
    unsigned long inside, outside, length;
    if (sscanf(map, "%lu %lu %lu", &inside, &outside, &length) != 3)
        return false;
    return !(inside == 0 && outside == 0 && length == 4294967295UL);
}

static int sync_filesystem(const char *path, struct berth_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "failed to open %s", path);
    if (syncfs(fd) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "failed to syncfs for %s", path);
    return 0;
}

/* The overlay's upperdir and lowerdirs (split on ':'), as containerd's getOverlayPath. */
struct overlay_paths {
    const char *upper;
    char *lower_copy;
    const char **lowers; /* NULL-terminated */
};

static void overlay_paths_clear(struct overlay_paths *p)
{
    free(p->lower_copy);
    free(p->lowers);
}

static bool overlay_paths_parse(const struct diff_mount *m, struct overlay_paths *ret,
                                bool *ret_userxattr)
{
    const char *lower = NULL;
    *ret_userxattr = false;
    for (size_t i = 0; i < m->n_options; i++) {
        const char *o = m->options[i];
        if (strncmp(o, "upperdir=", 9) == 0)
            ret->upper = o + 9;
        else if (strncmp(o, "lowerdir=", 9) == 0)
            lower = o + 9;
        else if (strcmp(o, "userxattr") == 0)
            *ret_userxattr = true;
    }
    if (!ret->upper || !ret->upper[0])
        return false;
    size_t count = 0;
    if (lower && lower[0]) {
        ret->lower_copy = xstrdup(lower);
        count = 1;
        for (const char *c = lower; *c; c++)
            count += *c == ':';
    }
    ret->lowers = xcalloc(count + 1, sizeof(*ret->lowers));
    size_t i = 0;
    for (char *save = NULL, *tok = ret->lower_copy ? strtok_r(ret->lower_copy, ":", &save) : NULL;
         tok && i < count; tok = strtok_r(NULL, ":", &save))
        ret->lowers[i++] = tok;
    return true;
}

static int apply_overlay(const struct diff_mount *m, struct layer_reader *in, bool sync_fs,
                         struct apply_result *ret, bool *ret_handled, struct berth_error **err)
{
    struct overlay_paths paths = {0};
    bool userxattr;
    *ret_handled = false;
    if (!overlay_paths_parse(m, &paths, &userxattr)) {
        overlay_paths_clear(&paths);
        return 0; /* upperdir not found: invalid argument, so the temp mount path takes it */
    }
    *ret_handled = true;
    struct apply_options opts = {
        .whiteouts = DIFF_WHITEOUT_OVERLAY,
        .overlay_userxattr = userxattr,
        .parents = paths.lowers[0] ? paths.lowers : NULL,
    };
    int rc = diff_apply(paths.upper, in, &opts, ret, err);
    if (rc == 0 && sync_fs)
        rc = sync_filesystem(paths.upper, err);
    overlay_paths_clear(&paths);
    return rc;
}

static int apply_temp_mount(const char *tmp_parent, const struct diff_mount *mounts, size_t n,
                            struct layer_reader *in, struct apply_result *ret,
                            struct berth_error **err)
{
    if (fs_mkdir_p(tmp_parent, 0700, err) < 0)
        return err_wrap(err, "failed to create temp dir");
    _cleanup_free_ char *root = NULL;
    if (asprintf(&root, "%s/containerd-mountXXXXXX", tmp_parent) < 0)
        abort();
    if (!mkdtemp(root))
        return err_make(err, err_kind_from_errno(errno), errno, "failed to create temp dir");

    int rc = diff_mounts_mount(mounts, n, root, err);
    if (rc < 0) {
        err_wrap(err, "failed to mount %s", root);
    } else {
        struct apply_options opts = {.whiteouts = DIFF_WHITEOUT_NATIVE};
        rc = diff_apply(root, in, &opts, ret, err);
        if (rc < 0)
            err_wrap(err, "mount callback failed on %s", root);
    }
    struct berth_error *unmount_err = NULL;
    if (diff_mounts_unmount(mounts, n, root, &unmount_err) < 0) {
        /* Keep the directory: removing through a live mount would delete snapshot data. */
        if (rc == 0) {
            *err = unmount_err;
            return err_wrap(err, "failed to unmount %s", root);
        }
        err_wrap(err, "failed to unmount %s: %s", root, unmount_err->message);
        err_free(unmount_err);
        return -1;
    }
    rmdir(root);
    return rc;
}

int diff_apply_mounts(const char *tmp_parent, const struct diff_mount *mounts, size_t n,
                      struct layer_reader *in, bool sync_fs, struct apply_result *ret,
                      struct berth_error **err)
{
    struct apply_result result = {0};
    if (n == 1 && mounts[0].type && strcmp(mounts[0].type, "overlay") == 0 &&
        !diff_running_in_userns()) {
        /* mknod c 0 0 whiteouts do not work in a user namespace (containerd#3762). */
        bool handled;
        int rc = apply_overlay(&mounts[0], in, sync_fs, &result, &handled, err);
        if (handled) {
            if (rc == 0 && ret)
                *ret = result;
            return rc;
        }
    }
    int rc = apply_temp_mount(tmp_parent, mounts, n, in, &result, err);
    if (rc == 0 && sync_fs && n == 1 && mounts[0].type && strcmp(mounts[0].type, "bind") == 0)
        rc = sync_filesystem(mounts[0].source, err);
    if (rc == 0 && ret)
        *ret = result;
    return rc;
}
