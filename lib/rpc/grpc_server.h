/* gRPC server over HTTP/2 (h2c) on unix sockets. */
#pragma once

#include "lib/base/errors.h"
#include "lib/loop/loop.h"
#include "lib/loop/worker_pool.h"
#include "lib/rpc/rpc.h"

#include <sys/types.h>

struct grpc_server;

struct grpc_server_options {
    size_t max_recv_message_size;    /* 0: 16 MiB */
    size_t max_send_message_size;    /* 0: 16 MiB */
    uint32_t max_concurrent_streams; /* 0: unlimited, as grpc-go */
};

/* Handlers run on `pool`, or inline on the loop when pool is NULL (they must not block then). */
struct grpc_server *grpc_server_new(struct loop *loop, const struct rpc_registry *registry,
                                    struct worker_pool *pool,
                                    const struct grpc_server_options *options);
/*
 * Listens on a unix socket: a stale socket is removed, the socket gets `mode`, and uid/gid when
 * they are not -1. Thread-safe (runs on the loop).
 */
int grpc_server_listen_unix(struct grpc_server *server, const char *path, mode_t mode, uid_t uid,
                            gid_t gid, struct berth_error **err);
/* Serves an already connected socket (tests: socketpair). Takes the fd. */
int grpc_server_serve_fd(struct grpc_server *server, int fd, struct berth_error **err);
/*
 * Stops accepting, tells clients to go away (GOAWAY), waits up to grace_ns for in-flight calls
 * to finish, then closes every connection. Call from a thread other than the loop's.
 */
void grpc_server_shutdown(struct grpc_server *server, long long grace_ns);
/* Frees the server; call after shutdown. */
void grpc_server_free(struct grpc_server *server);
size_t grpc_server_inflight(struct grpc_server *server);
