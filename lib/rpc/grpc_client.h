/* gRPC client over HTTP/2 (h2c) on unix sockets, as an rpc_channel. */
#pragma once

#include "lib/base/errors.h"
#include "lib/loop/loop.h"
#include "lib/rpc/rpc.h"

struct grpc_client_options {
    size_t max_recv_message_size; /* 0: 16 MiB */
    size_t max_send_message_size; /* 0: 16 MiB */
    const char *authority;        /* default "localhost", as ctr sends */
};

/* Connects to a unix socket address ("/path" or "unix:///path"); I/O runs on `loop`. */
struct rpc_channel *grpc_channel_connect(struct loop *loop, const char *address,
                                         const struct grpc_client_options *options,
                                         struct berth_error **err);
/* The same over an already connected fd (tests). Takes the fd. */
struct rpc_channel *grpc_channel_from_fd(struct loop *loop, int fd,
                                         const struct grpc_client_options *options,
                                         struct berth_error **err);
