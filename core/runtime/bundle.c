/* Task bundles: create with containerd's modes and layout, delete atomically. */
#include "core/runtime/bundle.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/identifiers/identifiers.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf without following symlinks or crossing into other mounts. */
int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* Renames path to .<base> beside it, then removes that: never a half-deleted live name. */
static int atomic_delete(const char *path, struct berth_error **err)
{
    const char *slash = strrchr(path, '/');
    _cleanup_free_ char *hidden = slash
                                      ? xasprintf("%.*s/.%s", (int)(slash - path), path, slash + 1)
                                      : xasprintf(".%s", path);
    if (rename(path, hidden) < 0) {
        if (errno == ENOENT)
            return 0;
        return err_make(err, err_kind_from_errno(errno), errno, "remove %s", path);
    }
    if (remove_tree(hidden) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "remove %s", hidden);
    return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_mountinfo(char *s)
{
    char *out = s;
    while (*s) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            *out++ = *s++;
        }
    }
    *out = '\0';
}

static int by_length_desc(const void *a, const void *b)
{
    size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
    return la < lb ? 1 : la > lb ? -1 : 0;
}

int unmount_recursive(const char *path, struct berth_error **err)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        if (errno == ENOENT)
            return 0;
        return err_make(err, err_kind_from_errno(errno), errno, "resolve %s", path);
    }
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return err_make(err, err_kind_from_errno(errno), errno, "read mountinfo");
    size_t len = strlen(real), n = 0, cap = 0;
    char **targets = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    while (getline(&line, &line_cap, f) > 0) {
        /* id parent major:minor root mount-point ... */
        char *save = NULL, *field = strtok_r(line, " ", &save);
        for (int i = 0; field && i < 4; i++)
            field = strtok_r(NULL, " ", &save);
        if (!field)
            continue;
        unescape_mountinfo(field);
        if (strncmp(field, real, len) != 0 || (field[len] != '\0' && field[len] != '/'))
            continue;
        targets = xreallocarray_grow(targets, &cap, n + 1, sizeof(*targets));
        targets[n++] = xstrdup(field);
    }
    free(line);
    fclose(f);
    if (n > 1) /* qsort takes no NULL array, even empty (UBSan) */
        qsort(targets, n, sizeof(*targets), by_length_desc);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        /* a mount stacked several times shows once per layer; unmount until it is gone */
        while (umount2(targets[i], MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
            ;
        if (errno != EINVAL && errno != ENOENT && rc == 0)
            rc = err_make(err, err_kind_from_errno(errno), errno, "unmount %s", targets[i]);
        free(targets[i]);
    }
    free(targets);
    return rc;
}

char *bundle_create(const char *root, const char *state, const char *ns, const char *id,
                    const void *spec, size_t spec_len, struct berth_error **err)
{
    if (identifier_validate(id, err) < 0) {
        err_wrap(err, "invalid task id %s", id);
        return NULL;
    }
    _cleanup_free_ char *ns_state = xasprintf("%s/%s", state, ns);
    _cleanup_free_ char *ns_root = xasprintf("%s/%s", root, ns);
    char *path = xasprintf("%s/%s", ns_state, id);
    _cleanup_free_ char *work = xasprintf("%s/%s", ns_root, id);
    _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", path);
    _cleanup_free_ char *link = xasprintf("%s/work", path);
    _cleanup_free_ char *config = xasprintf("%s/config.json", path);
    bool made_bundle = false, made_work = false;

    if (fs_mkdir_p(ns_state, 0711, err) < 0 || fs_mkdir_p(ns_root, 0711, err) < 0)
        goto fail;
    if (mkdir(path, 0700) < 0) {
        err_make(err, errno == EEXIST ? ERR_ALREADY_EXISTS : err_kind_from_errno(errno), errno,
                 "bundle %s", path);
        goto fail;
    }
    made_bundle = true;
    if (mkdir(rootfs, 0711) < 0) {
        err_make(err, err_kind_from_errno(errno), errno, "create %s", rootfs);
        goto fail;
    }
    if (mkdir(work, 0711) < 0) {
        /* a work dir without a bundle is a leftover of a crash: start it afresh */
        if (errno != EEXIST || remove_tree(work) < 0 || mkdir(work, 0711) < 0) {
            err_make(err, err_kind_from_errno(errno), errno, "create %s", work);
            goto fail;
        }
    }
    made_work = true;
    if (symlink(work, link) < 0) {
        err_make(err, err_kind_from_errno(errno), errno, "link %s", link);
        goto fail;
    }
    if (spec && fs_write_file_atomic(config, spec, spec_len, 0666, err) < 0)
        goto fail;
    return path;

fail:
    if (made_work)
        remove_tree(work);
    if (made_bundle)
        remove_tree(path);
    free(path);
    return NULL;
}

int bundle_delete(const char *bundle, struct berth_error **err)
{
    _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", bundle);
    _cleanup_free_ char *link = xasprintf("%s/work", bundle);
    char work[PATH_MAX];
    ssize_t n = readlink(link, work, sizeof(work) - 1);
    if (n >= 0)
        work[n] = '\0';
    if (unmount_recursive(rootfs, err) < 0)
        return err_wrap(err, "unmount rootfs %s", rootfs);
    if (rmdir(rootfs) < 0 && errno != ENOENT)
        return err_make(err, err_kind_from_errno(errno), errno, "remove bundle rootfs");
    int rc = atomic_delete(bundle, err);
    if (n >= 0 && atomic_delete(work, rc < 0 ? NULL : err) < 0 && rc == 0)
        rc = -1;
    return rc;
}
