/*
 * Transport-neutral RPC calls: services, methods and the blocking-style call API that handlers
 * (server side) and clients use over gRPC and ttrpc alike.
 */
#pragma once

#include "lib/base/errors.h"
#include "lib/rpc/metadata.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

enum rpc_method_kind {
    RPC_UNARY,
    RPC_CLIENT_STREAMING,
    RPC_SERVER_STREAMING,
    RPC_BIDI_STREAMING,
};

struct rpc_call;

/*
 * A handler. For unary and server-streaming methods `request` is the decoded request (owned by
 * the call); for client- and bidi-streaming it is NULL and the handler reads with rpc_call_recv.
 * Return 0 for OK, -1 with *err set for an error status, or RPC_DEFERRED to keep the call open
 * past the return and finish it later with rpc_call_complete (from any thread).
 */
typedef int (*rpc_handler_fn)(struct rpc_call *call, const ProtobufCMessage *request,
                              void *service_data, struct berth_error **err);
#define RPC_DEFERRED 1

struct rpc_method {
    const char *name; /* bare method name, e.g. "Version" */
    enum rpc_method_kind kind;
    const ProtobufCMessageDescriptor *input;
    const ProtobufCMessageDescriptor *output;
    rpc_handler_fn handler;
};

struct rpc_service {
    const char *name; /* full proto name, e.g. "containerd.services.version.v1.Version" */
    const struct rpc_method *methods;
    size_t n_methods;
    void *data; /* passed to every handler */
};

/* A set of services served by one or more servers (gRPC and ttrpc share it). */
struct rpc_registry;
struct rpc_registry *rpc_registry_new(void);
void rpc_registry_free(struct rpc_registry *registry);
/* The service must outlive the registry. */
void rpc_registry_add(struct rpc_registry *registry, const struct rpc_service *service);
const struct rpc_service *rpc_registry_find_service(const struct rpc_registry *registry,
                                                    const char *service);
const struct rpc_method *rpc_service_find_method(const struct rpc_service *service,
                                                 const char *method);
size_t rpc_registry_count(const struct rpc_registry *registry);
const struct rpc_service *rpc_registry_at(const struct rpc_registry *registry, size_t index);

/* ---- the call API (both sides) ---- */

/*
 * Reads the next message. Returns 1 with *ret_message set (free it with
 * protobuf_c_message_free_unpacked(msg, NULL)), 0 at the end of the peer's stream, or -1 with
 * *err (cancelled, deadline exceeded, malformed message, peer reset, ...). `descriptor` may be
 * NULL on the server side: the method's input type is used.
 */
int rpc_call_recv(struct rpc_call *call, const ProtobufCMessageDescriptor *descriptor,
                  ProtobufCMessage **ret_message, struct berth_error **err);
/* Queues a message; blocks while too much is queued unsent (flow control). */
int rpc_call_send(struct rpc_call *call, const ProtobufCMessage *message, struct berth_error **err);
/* Sends already-packed message bytes (for proxies and tests). */
int rpc_call_send_packed(struct rpc_call *call, const void *data, size_t len,
                         struct berth_error **err);
/* Request metadata (server side) or response headers then trailers (client side). */
const char *rpc_call_metadata(const struct rpc_call *call, const char *key);
const struct rpc_metadata *rpc_call_metadata_all(const struct rpc_call *call);
/* Response metadata to send (server): headers go with the first message, trailers at the end. */
void rpc_call_add_header(struct rpc_call *call, const char *key, const char *value);
void rpc_call_add_trailer(struct rpc_call *call, const char *key, const char *value);
/* Absolute deadline on the monotonic clock in ns, or 0 for none. */
long long rpc_call_deadline(const struct rpc_call *call);
/* 0 while the call is live; else ERR_CANCELED or ERR_DEADLINE_EXCEEDED. */
enum err_kind rpc_call_cancelled(const struct rpc_call *call);
const char *rpc_call_service_name(const struct rpc_call *call);
const char *rpc_call_method_name(const struct rpc_call *call);

/*
 * Blocks until the call is cancelled, its deadline passes or its transport goes away (long-lived
 * server streams such as Watch and Subscribe wait here between events), or until timeout_ns
 * passes (0: no limit). Returns the cancellation kind, or 0 on timeout.
 */
enum err_kind rpc_call_wait_done(struct rpc_call *call, long long timeout_ns);

/*
 * Runs fn(arg) once when the call is cancelled, expires or loses its transport (immediately when
 * that already happened). Lets a handler blocked elsewhere (an event queue) wake up. Setting NULL
 * removes the hook and waits out a running one, so arg can be freed after.
 */
void rpc_call_set_cancel_hook(struct rpc_call *call, void (*fn)(void *arg), void *arg);

/* Server: finishes a deferred call with OK (error NULL) or the error's status. */
void rpc_call_complete(struct rpc_call *call, const struct berth_error *error);

/* Client: no more messages from this side. */
void rpc_call_close_send(struct rpc_call *call);
/* Client: waits for the status; 0 for OK, else -1 with the status as an error. */
int rpc_call_finish(struct rpc_call *call, struct berth_error **err);
/* Client: cancels the call (RST_STREAM CANCEL on gRPC). */
void rpc_call_cancel(struct rpc_call *call);

void rpc_call_ref(struct rpc_call *call);
void rpc_call_unref(struct rpc_call *call);

/* ---- clients ---- */

struct rpc_call_options {
    const struct rpc_metadata *metadata;
    long long timeout_ns; /* 0: no deadline */
    /*
     * rpc_channel_unary only: a server call this one is made for. Its deadline bounds this
     * call, and its cancellation (the client went away) cancels this call too.
     */
    struct rpc_call *parent;
};

/* A connection to a server over some transport (gRPC or ttrpc). */
struct rpc_channel;
struct rpc_call *rpc_channel_start_call(struct rpc_channel *channel, const char *service,
                                        const char *method, const struct rpc_call_options *options,
                                        struct berth_error **err);
/* One request, one response: the common case. */
int rpc_channel_unary(struct rpc_channel *channel, const char *service, const char *method,
                      const ProtobufCMessage *request,
                      const ProtobufCMessageDescriptor *response_descriptor,
                      ProtobufCMessage **ret_response, const struct rpc_call_options *options,
                      struct berth_error **err);
void rpc_channel_free(struct rpc_channel *channel);

/* Defaults shared by the transports. */
enum {
    RPC_DEFAULT_MAX_RECV = 16 << 20,
    RPC_DEFAULT_MAX_SEND = 16 << 20,
};
