/* What transports see of a call: its queues, status and the hooks that wake the I/O loop. */
#pragma once

#include "lib/loop/loop.h"
#include "lib/rpc/rpc.h"

#include <pthread.h>
#include <stdint.h>

struct rpc_buffer {
    uint8_t *data;
    size_t len;
    struct rpc_buffer *next;
};

struct rpc_buffer_queue {
    struct rpc_buffer *head, *tail;
    size_t bytes;
};

void rpc_buffer_queue_push(struct rpc_buffer_queue *q, uint8_t *data, size_t len);
struct rpc_buffer *rpc_buffer_queue_pop(struct rpc_buffer_queue *q);
void rpc_buffer_queue_clear(struct rpc_buffer_queue *q);

struct rpc_call_transport {
    /* On the loop thread: there is something new to send, flow-control credit or a cancel. */
    void (*kick)(struct rpc_call *call);
};

/* Above this many queued outgoing bytes, senders wait; incoming is credited back below it. */
enum { RPC_QUEUE_HIGH_WATER = 4 << 20 };

struct rpc_call {
    _Atomic int refs;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct loop *loop;
    const struct rpc_call_transport *transport;
    void *stream; /* the transport's stream while it lives; NULL once gone (under mu) */
    bool is_client;

    char *service;
    char *method_name;
    const struct rpc_method *method; /* server side */
    const struct rpc_service *svc;   /* server side */
    ProtobufCMessage *request;       /* server: the decoded unary request */
    long long deadline_ns;
    size_t max_recv, max_send;

    /* metadata: server: request md in `metadata`; client: response headers + trailers */
    struct rpc_metadata metadata;
    struct rpc_metadata out_headers;
    struct rpc_metadata out_trailers;

    /* inbound complete messages, and bytes received but not yet credited to the peer */
    struct rpc_buffer_queue in;
    bool in_closed;
    size_t uncredited;
    size_t credit_pending;  /* to hand back on the loop thread */
    enum err_kind in_error; /* a transport-level problem with the inbound stream */
    char *in_error_message;

    /* outbound messages */
    struct rpc_buffer_queue out;
    bool out_closed; /* client: half-close; server: status is final */

    /* status: server: what to send; client: what arrived */
    bool status_set;
    enum grpc_code status_code;
    char *status_message;

    enum err_kind cancelled;
    /* cancel hook: guarded by hook_mu, which is held while it runs */
    pthread_mutex_t hook_mu;
    void (*cancel_hook)(void *arg);
    void *cancel_hook_arg;
    bool kick_posted;
    bool handler_done;
};

struct rpc_call *rpc_call_new(struct loop *loop, const struct rpc_call_transport *transport,
                              void *stream, bool is_client);
/* Wakes the loop (at most one pending wake-up per call). Call with mu held. */
void rpc_call_kick_locked(struct rpc_call *call);
/* Loop side: the transport stream is gone; blocked threads wake with `why` if not finished. */
void rpc_call_detach(struct rpc_call *call, enum err_kind why, const char *message);
/* Loop side: a complete inbound message arrived (takes ownership of data). */
void rpc_call_deliver(struct rpc_call *call, uint8_t *data, size_t len);
/* Loop side: the peer half-closed. */
void rpc_call_deliver_end(struct rpc_call *call);
/* Loop side: the peer sent a final status (client). */
void rpc_call_deliver_status(struct rpc_call *call, enum grpc_code code, const char *message);
/* Marks the call cancelled (deadline or peer cancel), wakes waiters, kicks the loop. */
void rpc_call_cancel_with(struct rpc_call *call, enum err_kind why);
/* Sets the final status (server), wakes the loop. */
void rpc_call_set_status(struct rpc_call *call, enum grpc_code code, const char *message);

/* Runs a server call's handler on the current thread; used by the transports' dispatch. */
void rpc_call_run_handler(struct rpc_call *call);

/*
 * gRPC DATA: copies queued outbound messages of `call` as length-prefixed frames into buf (at
 * most len bytes), resuming inside *current at *current_off. Call with call->mu held; wakes
 * senders when queue room frees up. Returns the bytes written.
 */
size_t rpc_call_fill_grpc_frames(struct rpc_call *call, struct rpc_buffer **current,
                                 size_t *current_off, uint8_t *buf, size_t len);

/* Percent-encoding of grpc-message. */
char *rpc_percent_encode(const char *s);
char *rpc_percent_decode(const char *s);

struct rpc_channel_ops {
    struct rpc_call *(*start_call)(struct rpc_channel *channel, const char *service,
                                   const char *method, const struct rpc_call_options *options,
                                   struct berth_error **err);
    void (*free)(struct rpc_channel *channel);
};

struct rpc_channel {
    const struct rpc_channel_ops *ops;
};
