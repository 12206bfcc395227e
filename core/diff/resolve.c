/* Path handling for the applier: lexical cleaning, in-root opening, recursive removal. */
#include "core/diff/diff-internal.h"

#include "lib/base/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

int diff_clean_path(const char *name, size_t max, char **ret, struct berth_error **err)
{
    size_t len = strlen(name);
    if (len > max)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "name of %zu bytes exceeds %zu", len, max);
    char *out = xmalloc(len + 1);
    size_t n = 0;
    const char *p = name;
    while (*p) {
        while (*p == '/')
            p++;
        const char *start = p;
        while (*p && *p != '/')
            p++;
        size_t clen = (size_t)(p - start);
        if (clen == 0 || (clen == 1 && start[0] == '.'))
            continue;
        if (clen == 2 && start[0] == '.' && start[1] == '.') {
            /* drop the last component; at the top ".." stays at root */
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
            continue;
        }
        if (clen > NAME_MAX) {
            free(out);
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "path component of %zu bytes", clen);
        }
        if (n > 0)
            out[n++] = '/';
        memcpy(out + n, start, clen);
        n += clen;
    }
    out[n] = '\0';
    *ret = out;
    return 0;
}

void diff_split_path(const char *rel, char **ret_parent, const char **ret_base)
{
    const char *slash = strrchr(rel, '/');
    if (!slash) {
        *ret_parent = xstrdup("");
        *ret_base = rel;
        return;
    }
    *ret_parent = xstrndup(rel, (size_t)(slash - rel));
    *ret_base = slash + 1;
}

static int openat2_state = 0; /* 0 unknown, 1 works, -1 unavailable */

static int open_walk(int root_fd, const char *rel, int flags)
{
    /* Fallback: each component without following symlinks, so nothing can lead outside. */
    _cleanup_free_ char *copy = xstrdup(rel);
    int fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char *save = NULL;
    char *comp = strtok_r(copy, "/", &save);
    while (comp) {
        char *next = strtok_r(NULL, "/", &save);
        int f = next ? O_RDONLY | O_DIRECTORY | O_CLOEXEC : flags;
        int nfd = openat(fd, comp, f | O_NOFOLLOW);
        int saved = errno;
        close(fd);
        if (nfd < 0) {
            errno = saved;
            return -1;
        }
        fd = nfd;
        comp = next;
    }
    return fd;
}

int diff_open_in_root(int root_fd, const char *rel, int flags)
{
    if (rel[0] == '\0')
        rel = ".";
    if (openat2_state >= 0) {
        struct open_how how = {
            .flags = (uint64_t)(flags | O_CLOEXEC),
            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
        if (fd >= 0) {
            openat2_state = 1;
            return (int)fd;
        }
        if (errno != ENOSYS || openat2_state == 1)
            return -1;
        openat2_state = -1;
    }
    if (strcmp(rel, ".") == 0)
        return openat(root_fd, ".", flags | O_CLOEXEC);
    return open_walk(root_fd, rel, flags | O_CLOEXEC);
}

static int remove_children(int dir_fd)
{
    DIR *d = fdopendir(dir_fd);
    if (!d) {
        close(dir_fd);
        return -1;
    }
    /* Names first, then removal, so the directory is not changed while being read. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        names = xreallocarray_grow(names, &cap, n + 1, sizeof(*names));
        names[n++] = xstrdup(de->d_name);
    }
    int rc = errno ? -1 : 0;
    int saved = errno;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && diff_remove_all_at(dirfd(d), names[i]) < 0) {
            rc = -1;
            saved = errno;
        }
        free(names[i]);
    }
    free(names);
    closedir(d);
    errno = saved;
    return rc;
}

int diff_remove_all_at(int dir_fd, const char *name)
{
    if (unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return -1;
    int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    if (remove_children(fd) < 0)
        return -1;
    if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return -1;
    return 0;
}

int diff_copy_xattrs(int from_fd, int to_fd)
{
    /* on the heap: worker threads have small stacks */
    _cleanup_free_ char *list = xmalloc(64 * 1024);
    ssize_t n = flistxattr(from_fd, list, 64 * 1024);
    if (n < 0)
        return (errno == ENOTSUP || errno == ENODATA) ? 0 : -1;
    _cleanup_free_ char *value = xmalloc(64 * 1024);
    for (char *k = list; k < list + n; k += strlen(k) + 1) {
        if (strncmp(k, "trusted.", 8) == 0)
            continue;
        ssize_t v = fgetxattr(from_fd, k, value, 64 * 1024);
        if (v < 0) {
            if (errno == ENOTSUP || errno == ENODATA)
                continue;
            return -1;
        }
        if (fsetxattr(to_fd, k, value, (size_t)v, XATTR_CREATE) < 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}
