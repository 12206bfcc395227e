/* The differ's walks: two whole trees compared (walking), or one overlay layer read against its
 * lower (the overlay fast path); both feed the change writer. */
#include "core/diff/compare-internal.h"

#include "core/diff/diff-internal.h"
#include "lib/base/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* How a directory of upper relates to lower's. */
enum walk_mode {
    /* Both sides are whole trees: merge both listings (the walking differ; overlay: below an
     * opaque directory, where the layer hides everything lower has). */
    WALK_MERGE,
    /* lower has no directory here: everything upper has is added. */
    WALK_ADDED,
    /* overlay: the layer holds only what changed here, over lower's directory; names only lower
     * has are unchanged and not visited. */
    WALK_LAYER,
};

struct walker {
    struct change_writer *cw;
    const char *lower;
    const char *upper; /* upper's whole tree, or (overlay) the layer holding its changes */
    bool overlay;
    const char *xattr_prefix; /* overlay: "trusted.overlay." or "user.overlay." */
    bool fallback;            /* overlay: the layer uses what this walk cannot read */
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The names in dir, sorted bytewise as filepath.Walk reads them. */
static int list_dir(const char *dir, char ***ret, size_t *ret_n, struct berth_error **err)
{
    DIR *d = opendir(dir);
    if (!d)
        return err_make(err, ERR_UNKNOWN, errno, "open %s", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = xstrdup(de->d_name);
    }
    int saved = errno;
    closedir(d);
    if (saved) {
        free_names(names, n);
        return err_make(err, ERR_UNKNOWN, saved, "read %s", dir);
    }
    if (n)
        qsort(names, n, sizeof(*names), cmp_name);
    *ret = names;
    *ret_n = n;
    return 0;
}

static int compare_content(const char *p1, const char *p2, bool *ret_same, struct berth_error **err)
{
    _cleanup_close_ int f1 = open(p1, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (f1 < 0)
        return err_make(err, ERR_UNKNOWN, errno, "open %s", p1);
    _cleanup_close_ int f2 = open(p2, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (f2 < 0)
        return err_make(err, ERR_UNKNOWN, errno, "open %s", p2);
    static __thread unsigned char b1[32 * 1024], b2[32 * 1024];
    for (;;) {
        ssize_t n1 = read(f1, b1, sizeof(b1));
        if (n1 < 0)
            return err_make(err, ERR_UNKNOWN, errno, "read %s", p1);
        size_t got = 0;
        while (got < (size_t)n1 || n1 == 0) {
            ssize_t n2 = read(f2, b2 + got, (size_t)(n1 ? n1 : 1) - got);
            if (n2 < 0)
                return err_make(err, ERR_UNKNOWN, errno, "read %s", p2);
            if (n2 == 0)
                break;
            got += (size_t)n2;
            if (n1 == 0)
                break;
        }
        if (got != (size_t)n1 || memcmp(b1, b2, got) != 0) {
            *ret_same = false;
            return 0;
        }
        if (n1 == 0) {
            *ret_same = true;
            return 0;
        }
    }
}

static int get_capability(const char *path, char *buf, ssize_t *ret_len, struct berth_error **err)
{
    ssize_t n = lgetxattr(path, CAPABILITY_XATTR, buf, MAX_CAPABILITY);
    if (n < 0 && errno != ENODATA && errno != ENOTSUP)
        return err_make(err, ERR_UNKNOWN, errno, "failed to get xattr for %s", path);
    *ret_len = n < 0 ? 0 : n;
    return 0;
}

/* continuity's sameFile: type/mode/owner/rdev, capabilities, then size, mtime, content. */
static int same_file(const char *p1, const struct stat *s1, const char *p2, const struct stat *s2,
                     bool *ret_same, struct berth_error **err)
{
    *ret_same = true;
    if (s1->st_dev == s2->st_dev && s1->st_ino == s2->st_ino)
        return 0;
    *ret_same = false;
    if (s1->st_mode != s2->st_mode || s1->st_uid != s2->st_uid || s1->st_gid != s2->st_gid ||
        s1->st_rdev != s2->st_rdev)
        return 0;
    char c1[MAX_CAPABILITY], c2[MAX_CAPABILITY];
    ssize_t l1, l2;
    if (get_capability(p1, c1, &l1, err) < 0 || get_capability(p2, c2, &l2, err) < 0)
        return -1;
    if (l1 != l2 || memcmp(c1, c2, (size_t)l1) != 0)
        return 0;
    if (S_ISDIR(s1->st_mode)) {
        *ret_same = true;
        return 0;
    }
    if (s1->st_size != s2->st_size || s1->st_mtim.tv_sec != s2->st_mtim.tv_sec)
        return 0;
    if (s1->st_mtim.tv_nsec == 0 && s2->st_mtim.tv_nsec == 0) {
        /* Whole-second times (tar-extracted, some filesystems) say too little: compare data. */
        if (S_ISLNK(s1->st_mode)) {
            char t1[PATH_MAX + 1], t2[PATH_MAX + 1];
            ssize_t n1 = readlink(p1, t1, sizeof(t1)), n2 = readlink(p2, t2, sizeof(t2));
            if (n1 < 0 || n2 < 0)
                return err_make(err, ERR_UNKNOWN, errno, "readlink %s", n1 < 0 ? p1 : p2);
            *ret_same = n1 == n2 && memcmp(t1, t2, (size_t)n1) == 0;
            return 0;
        }
        if (s1->st_size == 0) {
            *ret_same = true;
            return 0;
        }
        return compare_content(p1, p2, ret_same, err);
    }
    *ret_same = s1->st_mtim.tv_nsec == s2->st_mtim.tv_nsec;
    return 0;
}

/* ---- overlay layers ---- */

/* An overlay whiteout: a 0:0 character device (the kernel's own; xattr whiteouts fall back). */
static bool is_whiteout(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* Reads the overlay xattr name (after the prefix) of path: 1 with its value, 0 when absent. */
static int overlay_xattr(const struct walker *w, const char *path, const char *name, char *buf,
                         size_t size, struct berth_error **err)
{
    char key[64];
    snprintf(key, sizeof(key), "%s%s", w->xattr_prefix, name);
    ssize_t n = lgetxattr(path, key, buf, size - 1);
    if (n < 0 && (errno == ENODATA || errno == ENOTSUP))
        return 0;
    if (n < 0 && errno == ERANGE)
        n = 0; /* present, and longer than any value this walk cares about */
    else if (n < 0)
        return err_make(err, ERR_UNKNOWN, errno, "failed to get xattr %s of %s", key, path);
    buf[n] = 0;
    return 1;
}

static int fall_back(struct walker *w, const char *path, const char *why, struct berth_error **err)
{
    w->fallback = true;
    return err_make(err, ERR_NOT_IMPLEMENTED, 0, "overlay diff: %s %s", path, why);
}

/*
 * Refuses what the layer alone cannot tell: a redirected (renamed) directory holds only part of
 * its tree, a metacopy file no data, and an "x" opaque marker means xattr whiteouts. Sets
 * *ret_opaque for a directory marked opaque ("y").
 */
static int check_layer_entry(struct walker *w, const char *path, const struct stat *st,
                             bool *ret_opaque, struct berth_error **err)
{
    char value[8];
    int r;
    *ret_opaque = false;
    if (S_ISREG(st->st_mode)) {
        r = overlay_xattr(w, path, "metacopy", value, sizeof(value), err);
        if (r != 0)
            return r < 0 ? -1 : fall_back(w, path, "is a metacopy file", err);
    } else if (S_ISDIR(st->st_mode)) {
        r = overlay_xattr(w, path, "redirect", value, sizeof(value), err);
        if (r != 0)
            return r < 0 ? -1 : fall_back(w, path, "is a redirected directory", err);
        r = overlay_xattr(w, path, "opaque", value, sizeof(value), err);
        if (r < 0)
            return -1;
        if (r > 0 && strcmp(value, "x") == 0)
            return fall_back(w, path, "holds xattr whiteouts", err);
        *ret_opaque = r > 0 && strcmp(value, "y") == 0;
    }
    return 0;
}

/* lstat of lower's path: 1 found, 0 absent, -1 error. */
static int lower_stat(const char *path, struct stat *st, struct berth_error **err)
{
    if (lstat(path, st) == 0)
        return 1;
    if (errno == ENOENT || errno == ENOTDIR)
        return 0;
    return err_make(err, ERR_UNKNOWN, errno, "lstat %s", path);
}

/* ---- the walk ---- */

static int walk_dir(struct walker *w, const char *rel, enum walk_mode mode,
                    struct berth_error **err);

/* An entry upper has, in a directory walked as mode, that lower may have too (lower_found):
 * compare, write, descend. */
static int visit(struct walker *w, enum walk_mode mode, const char *path, const char *upath,
                 const struct stat *ust, bool lower_found, const struct stat *lst, bool opaque,
                 struct berth_error **err)
{
    int rc;
    if (!lower_found) {
        rc = change_writer_handle(w->cw, CHANGE_ADD, path, ust, err);
        if (rc == 0 && S_ISDIR(ust->st_mode))
            rc = walk_dir(w, path, WALK_ADDED, err);
        return rc;
    }
    _cleanup_free_ char *lpath = diff_join(w->lower, path);
    bool same;
    if (same_file(lpath, lst, upath, ust, &same, err) < 0)
        return -1;
    rc = 0;
    if (!same)
        rc = change_writer_handle(w->cw, CHANGE_MODIFY, path, ust, err);
    else if (!S_ISDIR(ust->st_mode) && ust->st_nlink > 1)
        rc = change_writer_handle(w->cw, CHANGE_UNMODIFIED, path, ust, err);
    if (rc == 0 && S_ISDIR(ust->st_mode)) {
        /* below an opaque directory the layer hides all lower has: whole trees from there */
        enum walk_mode sub = !S_ISDIR(lst->st_mode)          ? WALK_ADDED
                             : mode == WALK_LAYER && !opaque ? WALK_LAYER
                                                             : WALK_MERGE;
        rc = walk_dir(w, path, sub, err);
    }
    return rc;
}

/*
 * continuity's doubleWalkDiff as a merge of sorted listings. In an overlay layer, whiteouts are
 * not entries of upper's tree: in WALK_LAYER they delete what lower has, elsewhere they are
 * skipped (lower's names they hide show up as deleted by the merge itself).
 */
static int walk_dir(struct walker *w, const char *rel, enum walk_mode mode,
                    struct berth_error **err)
{
    _cleanup_free_ char *udir = diff_join(w->upper, rel);
    char **unames = NULL, **lnames = NULL;
    size_t nu = 0, nl = 0;
    if (list_dir(udir, &unames, &nu, err) < 0)
        return -1;
    if (mode == WALK_MERGE) {
        _cleanup_free_ char *ldir = diff_join(w->lower, rel);
        if (list_dir(ldir, &lnames, &nl, err) < 0) {
            free_names(unames, nu);
            return -1;
        }
    }
    int rc = 0;
    size_t i = 0, j = 0;
    while (rc == 0 && (i < nl || j < nu)) {
        int c = i >= nl ? 1 : j >= nu ? -1 : strcmp(lnames[i], unames[j]);
        const char *base = c < 0 ? lnames[i] : unames[j];
        _cleanup_free_ char *path = diff_join(rel, base);
        if (c < 0) {
            rc = change_writer_handle(w->cw, CHANGE_DELETE, path, NULL, err);
            i++;
            continue;
        }
        j++;
        _cleanup_free_ char *upath = diff_join(w->upper, path);
        struct stat ust, lst;
        if (lstat(upath, &ust) < 0) {
            rc = err_make(err, ERR_UNKNOWN, errno, "lstat %s", upath);
            break;
        }
        bool opaque = false;
        if (w->overlay) {
            if (is_whiteout(&ust)) {
                if (mode != WALK_LAYER)
                    continue; /* a merge sees lower's name alone next: a deletion */
                _cleanup_free_ char *lpath = diff_join(w->lower, path);
                rc = lower_stat(lpath, &lst, err);
                if (rc > 0)
                    rc = change_writer_handle(w->cw, CHANGE_DELETE, path, NULL, err);
                continue;
            }
            if ((rc = check_layer_entry(w, upath, &ust, &opaque, err)) < 0)
                break;
        }
        bool lower_found = false;
        if (c == 0) {
            i++;
            _cleanup_free_ char *lpath = diff_join(w->lower, path);
            if (lstat(lpath, &lst) < 0) {
                rc = err_make(err, ERR_UNKNOWN, errno, "lstat %s", lpath);
                break;
            }
            lower_found = true;
        } else if (mode == WALK_LAYER) {
            _cleanup_free_ char *lpath = diff_join(w->lower, path);
            int found = lower_stat(lpath, &lst, err);
            if (found < 0) {
                rc = -1;
                break;
            }
            lower_found = found > 0;
        }
        rc = visit(w, mode, path, upath, &ust, lower_found, &lst, opaque, err);
    }
    free_names(unames, nu);
    free_names(lnames, nl);
    return rc;
}

int diff_compare_media_type(const char *media_type, bool *ret_gzip, struct berth_error **err)
{
    if (!media_type || !*media_type || strcmp(media_type, DIFF_MEDIA_TYPE_LAYER_GZIP) == 0)
        *ret_gzip = true;
    else if (strcmp(media_type, DIFF_MEDIA_TYPE_LAYER) == 0)
        *ret_gzip = false;
    else
        return err_make(err, ERR_NOT_IMPLEMENTED, 0, "unsupported diff media type: %s", media_type);
    return 0;
}

static int run(struct walker *w, const struct compare_options *opts, enum walk_mode mode,
               diff_write_fn write, void *opaque, struct compare_result *ret,
               struct berth_error **err)
{
    static const struct compare_options defaults = {.gzip = true};
    w->cw = change_writer_new(w->upper, opts ? opts : &defaults, write, opaque, err);
    int rc = w->cw ? 0 : -1;
    if (rc == 0)
        rc = walk_dir(w, "", mode, err);
    if (rc == 0)
        rc = change_writer_finish(w->cw, ret, err);
    if (rc < 0)
        err_wrap(err, "failed to create diff tar stream");
    change_writer_free(w->cw);
    return rc;
}

int diff_compare(const char *lower, const char *upper, const struct compare_options *opts,
                 diff_write_fn write, void *opaque, struct compare_result *ret,
                 struct berth_error **err)
{
    struct stat st;
    bool lower_dir = lower && stat(lower, &st) == 0 && S_ISDIR(st.st_mode);
    if (lower && !lower_dir)
        return err_make(err, ERR_INVALID_ARGUMENT, errno, "lower %s is not a directory", lower);
    struct walker w = {.lower = lower ? lower : "", .upper = upper};
    return run(&w, opts, lower_dir ? WALK_MERGE : WALK_ADDED, write, opaque, ret, err);
}

int diff_compare_overlay(const char *lower, const char *layer, bool userxattr,
                         const struct compare_options *opts, diff_write_fn write, void *opaque,
                         struct compare_result *ret, bool *ret_fallback, struct berth_error **err)
{
    struct stat st;
    *ret_fallback = false;
    if (stat(lower, &st) < 0 || !S_ISDIR(st.st_mode))
        return err_make(err, ERR_INVALID_ARGUMENT, errno, "lower %s is not a directory", lower);
    if (stat(layer, &st) < 0 || !S_ISDIR(st.st_mode))
        return err_make(err, ERR_INVALID_ARGUMENT, errno, "layer %s is not a directory", layer);
    struct walker w = {
        .lower = lower,
        .upper = layer,
        .overlay = true,
        .xattr_prefix = userxattr ? "user.overlay." : "trusted.overlay.",
    };
    bool root_opaque;
    int rc = check_layer_entry(&w, layer, &st, &root_opaque, err);
    if (rc == 0 && root_opaque)
        rc = fall_back(&w, layer, "is an opaque root", err);
    if (rc == 0)
        rc = run(&w, opts, WALK_LAYER, write, opaque, ret, err);
    *ret_fallback = w.fallback;
    return rc;
}
