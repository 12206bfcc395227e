/* Unix socket helpers: safe creation of listening sockets and plain connects. */
#include "lib/rpc/unix_socket.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"

#include <libgen.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

const char *unix_socket_path(const char *address)
{
    if (strncmp(address, "unix://", 7) == 0)
        return address + 7;
    if (strncmp(address, "unix:", 5) == 0)
        return address + 5;
    return address;
}

static int fill_address(struct sockaddr_un *sa, const char *path, struct berth_error **err)
{
    size_t len = strlen(path);
    if (len == 0)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "empty socket path");
    if (len > UNIX_SOCKET_PATH_MAX)
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "unix socket path %s is too long (%zu bytes, the limit is %d)", path, len,
                        UNIX_SOCKET_PATH_MAX);
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, len);
    return 0;
}

int unix_socket_listen(const char *path, mode_t mode, uid_t uid, gid_t gid,
                       struct berth_error **err)
{
    struct sockaddr_un sa;
    if (fill_address(&sa, path, err) < 0)
        return -1;
    _cleanup_free_ char *dir = xstrdup(path);
    if (fs_mkdir_p(dirname(dir), 0711, err) < 0)
        return -1;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return err_make(err, ERR_ALREADY_EXISTS, 0, "%s exists and is not a socket", path);
        if (unlink(path) < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "remove stale socket %s", path);
    }
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "socket");
    /* Bind under a tight umask so the socket is never briefly wider than `mode`. */
    mode_t old = umask(0777 & ~mode);
    int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "bind %s", path);
    if (chmod(path, mode) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "chmod %s", path);
    if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "chown %s", path);
    if (listen(fd, 128) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "listen %s", path);
    return steal_fd(fd);
}

int unix_socket_connect(const char *address, struct berth_error **err)
{
    const char *path = unix_socket_path(address);
    struct sockaddr_un sa;
    if (fill_address(&sa, path, err) < 0)
        return -1;
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return err_make(err, ERR_UNAVAILABLE, errno, "connect %s", path);
    return steal_fd(fd);
}
