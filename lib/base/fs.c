/* Small file helpers. */
#include "lib/base/fs.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_read_small_file(const char *path, size_t max_size, char **ret_data, struct berth_error **err)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "open %s", path);
    size_t cap = 4096, len = 0;
    _cleanup_free_ char *buf = xmalloc(cap + 1);
    for (;;) {
        if (len == cap) {
            if (cap >= max_size)
                return err_make(err, ERR_RESOURCE_EXHAUSTED, 0, "%s is larger than %zu bytes", path,
                                max_size);
            cap = cap * 2 > max_size ? max_size : cap * 2;
            buf = xrealloc(buf, cap + 1);
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_make(err, err_kind_from_errno(errno), errno, "read %s", path);
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > max_size)
        return err_make(err, ERR_RESOURCE_EXHAUSTED, 0, "%s is larger than %zu bytes", path,
                        max_size);
    buf[len] = '\0';
    *ret_data = steal_ptr(buf);
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct berth_error **err)
{
    _cleanup_free_ char *tmp = xasprintf("%s.tmp-%d", path, (int)getpid());
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "create %s", tmp);
    if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        int e = errno;
        unlink(tmp);
        return err_make(err, err_kind_from_errno(e), e, "write %s", tmp);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return err_make(err, err_kind_from_errno(e), e, "rename %s", path);
    }
    _cleanup_free_ char *dir = xstrdup(path);
    _cleanup_close_ int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0)
        fsync(dfd);
    return 0;
}

int fs_mkdir_p(const char *path, mode_t mode, struct berth_error **err)
{
    _cleanup_free_ char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return err_make(err, err_kind_from_errno(errno), errno, "mkdir %s", p);
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return err_make(err, err_kind_from_errno(errno), errno, "mkdir %s", p);
    return 0;
}
