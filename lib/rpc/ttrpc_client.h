/* ttrpc client (containerd's ttrpc 1.2 protocol) on unix sockets, as an rpc_channel. */
#pragma once

#include "lib/base/errors.h"
#include "lib/loop/loop.h"
#include "lib/rpc/rpc.h"

#include <stdbool.h>

struct ttrpc_client_options {
    /*
     * ttrpc's frames depend on the method's kind, which rpc_channel_start_call does not carry.
     * Methods found here (handlers unused) are called with their kind; all others as unary,
     * which also suits server-streaming methods. Client- and bidi-streaming calls need an entry
     * here or ttrpc_channel_start_stream. May be NULL; must outlive the channel.
     */
    const struct rpc_registry *services;
};

/* Connects to a unix socket address ("/path" or "unix:///path"); I/O runs on `loop`. */
struct rpc_channel *ttrpc_channel_connect(struct loop *loop, const char *address,
                                          const struct ttrpc_client_options *options,
                                          struct berth_error **err);
/* The same over an already connected fd (tests, inherited sockets). Takes the fd. */
struct rpc_channel *ttrpc_channel_from_fd(struct loop *loop, int fd,
                                          const struct ttrpc_client_options *options,
                                          struct berth_error **err);
/* Starts a call of a known kind on a ttrpc channel (a channel from the functions above). */
struct rpc_call *ttrpc_channel_start_stream(struct rpc_channel *channel, const char *service,
                                            const char *method, enum rpc_method_kind kind,
                                            const struct rpc_call_options *options,
                                            struct berth_error **err);

/*
 * Loop-side unary calls for single-threaded programs (the shim): must be called on the loop
 * thread and never blocks. `done` runs once on the loop with the decoded response (the callee
 * owns it; NULL on error) or the error; never before this function returns. timeout_ns 0: no
 * deadline. Returns 0, or -1 with *err when the call could not be started (done is not called).
 */
typedef void (*ttrpc_unary_done_fn)(void *arg, ProtobufCMessage *response,
                                    const struct berth_error *error);
int ttrpc_channel_unary_async(struct rpc_channel *channel, const char *service, const char *method,
                              const ProtobufCMessage *request,
                              const ProtobufCMessageDescriptor *response_descriptor,
                              long long timeout_ns, ttrpc_unary_done_fn done, void *arg,
                              struct berth_error **err);
/* Whether the connection is gone (peer closed, I/O error or released). */
bool ttrpc_channel_closed(struct rpc_channel *channel);
/*
 * Loop side: closes the channel and frees it once its connection is gone, without waiting.
 * Pending async calls end with Unavailable first.
 */
void ttrpc_channel_release(struct rpc_channel *channel);
