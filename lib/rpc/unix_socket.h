/* Unix stream sockets for the RPC servers and clients. */
#pragma once

#include "lib/base/errors.h"

#include <sys/types.h>

/* Longest socket path accepted (containerd's limit, below sun_path's 108 on Linux). */
enum { UNIX_SOCKET_PATH_MAX = 104 };

/*
 * Creates a listening socket at path: parent directories are made 0711, a stale socket is
 * removed (anything else at the path is an error), the socket is chmod'ed to mode and chown'ed
 * to uid/gid unless they are (uid_t)-1 / (gid_t)-1. Returns the fd (CLOEXEC, non-blocking).
 */
int unix_socket_listen(const char *path, mode_t mode, uid_t uid, gid_t gid,
                       struct berth_error **err);
/* Connects to path; accepts "unix://" prefixes. Returns a blocking CLOEXEC fd. */
int unix_socket_connect(const char *path, struct berth_error **err);
/* Strips "unix://" (and "unix:") from an address. */
const char *unix_socket_path(const char *address);
