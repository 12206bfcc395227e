/* OCI whiteouts, natively (deletions) or as overlayfs markers (0:0 devices, opaque xattr). */
#include "core/diff/diff-internal.h"

#include "lib/base/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Removes what this layer did not write under dir (rel), descending into what it did. */
static int clear_opaque(int dir_fd, const char *rel, const struct path_set *unpacked)
{
    int fd = dup(dir_fd);
    if (fd < 0)
        return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    rewinddir(d);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        names = xreallocarray_grow(names, &cap, n + 1, sizeof(*names));
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    int rc = 0, saved = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            _cleanup_free_ char *child =
                rel[0] ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
            if (!path_set_has(unpacked, child)) {
                rc = diff_remove_all_at(dir_fd, names[i]);
            } else {
                int sub = openat(dir_fd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0) {
                    rc = clear_opaque(sub, child, unpacked);
                    saved = errno;
                    close(sub);
                    errno = saved;
                }
            }
            saved = errno;
        }
        free(names[i]);
    }
    free(names);
    errno = saved;
    return rc;
}

int diff_whiteout_apply(int root_fd, int parent_fd, const char *rel_parent, const char *base,
                        uid_t uid, gid_t gid, const struct apply_options *opts,
                        const struct path_set *unpacked, struct berth_error **err)
{
    bool overlay = opts->whiteouts == DIFF_WHITEOUT_OVERLAY;
    if (strcmp(base, WHITEOUT_OPAQUE) == 0) {
        if (overlay) {
            const char *key =
                opts->overlay_userxattr ? "user.overlay.opaque" : "trusted.overlay.opaque";
            if (fsetxattr(parent_fd, key, "y", 1, 0) < 0)
                return err_make(err, err_kind_from_errno(errno), errno, "set %s", key);
            return 0;
        }
        if (clear_opaque(parent_fd, rel_parent, unpacked) < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "clear opaque directory");
        return 0;
    }
    const char *name = base + strlen(WHITEOUT_PREFIX);
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "invalid whiteout name: %s: invalid archive",
                        base);
    if (overlay) {
        if (mknodat(parent_fd, name, S_IFCHR, makedev(0, 0)) < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "mknod whiteout %s", name);
        if (fchownat(parent_fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "chown whiteout %s", name);
        return 0;
    }
    if (diff_remove_all_at(parent_fd, name) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "remove %s", name);
    return 0;
}
