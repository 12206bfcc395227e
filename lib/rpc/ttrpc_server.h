/* ttrpc server (containerd's ttrpc 1.2 protocol: unary and streaming) on unix sockets. */
#pragma once

#include "lib/base/errors.h"
#include "lib/loop/loop.h"
#include "lib/loop/worker_pool.h"
#include "lib/rpc/rpc.h"

#include <stdbool.h>
#include <sys/types.h>

struct ttrpc_server;

struct ttrpc_server_options {
    /*
     * Accept only peers whose SO_PEERCRED uid and gid equal this process's euid and egid
     * (containerd's ttrpc.UnixSocketRequireSameUser); others are disconnected at once.
     */
    bool require_same_user;
    /* Streams one connection may have open at once; 0: 1024. Beyond: ResourceExhausted. */
    size_t max_streams_per_connection;
};

/* Handlers run on `pool`, or inline on the loop when pool is NULL (they must not block then). */
struct ttrpc_server *ttrpc_server_new(struct loop *loop, const struct rpc_registry *registry,
                                      struct worker_pool *pool,
                                      const struct ttrpc_server_options *options);
/*
 * Listens on a unix socket: a stale socket is removed, the socket gets `mode`, and uid/gid when
 * they are not -1. Thread-safe (runs on the loop).
 */
int ttrpc_server_listen_unix(struct ttrpc_server *server, const char *path, mode_t mode, uid_t uid,
                             gid_t gid, struct berth_error **err);
/* Accepts on an already listening unix socket (the shim's inherited fd 3). Takes fd. */
int ttrpc_server_listen_fd(struct ttrpc_server *server, int fd, struct berth_error **err);
/* Serves an already connected socket (tests: socketpair; the shim: an inherited fd). Takes fd. */
int ttrpc_server_serve_fd(struct ttrpc_server *server, int fd, struct berth_error **err);
/*
 * Stops accepting and closes idle connections; new requests are refused with Unavailable.
 * Waits up to grace_ns for in-flight calls to finish, then closes every connection and waits
 * until they are gone. Call from a thread other than the loop's.
 */
void ttrpc_server_shutdown(struct ttrpc_server *server, long long grace_ns);
/* Frees the server; call after shutdown. */
void ttrpc_server_free(struct ttrpc_server *server);
/* Calls whose final frame has not been written yet. */
size_t ttrpc_server_inflight(struct ttrpc_server *server);
