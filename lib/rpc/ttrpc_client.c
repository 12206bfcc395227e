/* ttrpc client: each call is a stream of frames driven from the loop; callers block on the call. */
#include "lib/rpc/ttrpc_client.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/rpc/call_internal.h"
#include "lib/rpc/ttrpc_conn.h"
#include "lib/rpc/unix_socket.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct ttrpc_channel {
    struct rpc_channel base;
    struct loop *loop;
    struct ttrpc_conn conn;
    const struct rpc_registry *services;
    uint32_t next_id; /* 0 once the odd ids are used up */
    struct client_stream *streams;
    pthread_mutex_t mu;
    pthread_cond_t closed_cond;
    bool closed;
    bool release; /* loop side: free once the connection is gone */
};

struct client_stream {
    uint32_t id; /* 0 until the Request is written */
    struct ttrpc_channel *ch;
    struct rpc_call *call;
    bool client_streams;
    bool server_streams;
    bool request_sent;
    bool close_sent;
    bool holding;
    struct rpc_metadata md;
    /* async unary calls (ttrpc_channel_unary_async) */
    ttrpc_unary_done_fn done;
    void *done_arg;
    const ProtobufCMessageDescriptor *response_descriptor;
    uv_timer_t *timer;
    struct client_stream *next, *prev;
};

static void kick(struct rpc_call *call);
static const struct rpc_call_transport transport = {.kick = kick};

static void on_timer_closed(uv_handle_t *handle)
{
    free(handle);
}

/* An async call is over: hand its response or status to the callback. */
static void finish_async(struct client_stream *s)
{
    struct rpc_call *call = s->call;
    ProtobufCMessage *response = NULL;
    struct berth_error *error = NULL;
    pthread_mutex_lock(&call->mu);
    struct rpc_buffer *b = rpc_buffer_queue_pop(&call->in);
    enum grpc_code code = call->status_set ? call->status_code : GRPC_UNAVAILABLE;
    const char *message = call->status_message ? call->status_message : "ttrpc: closed";
    if (code != GRPC_OK)
        err_make_raw(&error, err_kind_from_grpc(code, message), message);
    else if (!b)
        err_make(&error, ERR_INTERNAL, 0, "no response message for %s/%s", call->service,
                 call->method_name);
    else if (!(response = protobuf_c_message_unpack(s->response_descriptor, NULL, b->len, b->data)))
        err_make(&error, ERR_INTERNAL, 0, "ttrpc: failed to unmarshal the received %s",
                 s->response_descriptor->name);
    pthread_mutex_unlock(&call->mu);
    if (b) {
        free(b->data);
        free(b);
    }
    s->done(s->done_arg, response, error);
    err_free(error);
}

/* Unlinks the stream; the call gets `why` as its status unless one arrived already. */
static void stream_free(struct client_stream *s, enum err_kind why, const char *message)
{
    struct ttrpc_channel *ch = s->ch;
    if (s->prev)
        s->prev->next = s->next;
    else
        ch->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->holding)
        ttrpc_conn_release(&ch->conn);
    if (s->timer)
        uv_close((uv_handle_t *)s->timer, on_timer_closed);
    rpc_call_detach(s->call, why, message);
    if (s->done)
        finish_async(s);
    rpc_call_unref(s->call);
    rpc_metadata_clear(&s->md);
    free(s);
}

/* Ends the stream with a status of our own making (protocol trouble seen by the client). */
static void stream_fail(struct client_stream *s, enum grpc_code code, const char *message)
{
    rpc_call_deliver_status(s->call, code, message);
    stream_free(s, ERR_UNAVAILABLE, NULL);
}

static struct client_stream *stream_find(struct ttrpc_channel *ch, uint32_t id)
{
    for (struct client_stream *s = ch->streams; s; s = s->next)
        if (s->id != 0 && s->id == id)
            return s;
    return NULL;
}

/* Writes the Request frame (with the first message unless the client streams). */
static int send_request(struct client_stream *s, const uint8_t *payload, size_t len, char *why,
                        size_t why_size)
{
    struct ttrpc_channel *ch = s->ch;
    struct rpc_call *call = s->call;
    int64_t timeout = 0;
    if (call->deadline_ns) {
        timeout = call->deadline_ns - monotonic_ns();
        if (timeout == 0)
            timeout = -1; /* 0 would mean "no deadline"; a past one is sent as such */
    }
    size_t req_len;
    uint8_t *req = ttrpc_request_encode(call->service, call->method_name, payload, len, timeout,
                                        &s->md, &req_len);
    if (req_len > TTRPC_MESSAGE_LENGTH_MAX) {
        free(req);
        snprintf(why, why_size, "message length %zu exceed maximum message size of %d", req_len,
                 TTRPC_MESSAGE_LENGTH_MAX);
        return GRPC_RESOURCE_EXHAUSTED;
    }
    if (ch->next_id == 0) {
        free(req);
        snprintf(why, why_size, "ttrpc: stream ids exhausted on this connection");
        return GRPC_UNAVAILABLE;
    }
    s->id = ch->next_id;
    ch->next_id = ch->next_id > UINT32_MAX - 2 ? 0 : ch->next_id + 2;
    uint8_t flags = s->client_streams   ? TTRPC_FLAG_REMOTE_OPEN
                    : s->server_streams ? TTRPC_FLAG_REMOTE_CLOSED
                                        : 0;
    ttrpc_conn_send(&ch->conn, s->id, TTRPC_TYPE_REQUEST, flags, req, req_len);
    s->request_sent = true;
    return GRPC_OK;
}

/* Loop side: moves the call's output onto the wire, or drops the stream once cancelled. */
static void stream_pump(struct client_stream *s)
{
    struct rpc_call *call = s->call;
    struct ttrpc_conn *conn = &s->ch->conn;
    bool release = false;
    enum err_kind cancelled;
    int fail = GRPC_OK;
    char why[128] = "";
    pthread_mutex_lock(&call->mu);
    if (call->credit_pending) {
        call->credit_pending = 0;
        release = s->holding;
        s->holding = false;
    }
    cancelled = call->cancelled;
    if (!cancelled && !s->request_sent && ttrpc_conn_writable(conn)) {
        struct rpc_buffer *b = NULL;
        if (!s->client_streams) {
            b = rpc_buffer_queue_pop(&call->out);
            if (b)
                pthread_cond_broadcast(&call->cond);
        }
        if (s->client_streams || b || call->out_closed)
            fail = send_request(s, b ? b->data : NULL, b ? b->len : 0, why, sizeof(why));
        if (b) {
            free(b->data);
            free(b);
        }
    }
    if (!cancelled && !fail && s->request_sent) {
        if (s->client_streams) {
            struct rpc_buffer *b;
            while (ttrpc_conn_writable(conn) && (b = rpc_buffer_queue_pop(&call->out))) {
                ttrpc_conn_send(conn, s->id, TTRPC_TYPE_DATA, 0, b->data, b->len);
                free(b);
                pthread_cond_broadcast(&call->cond);
            }
            if (call->out_closed && !call->out.head && !s->close_sent &&
                ttrpc_conn_writable(conn)) {
                ttrpc_conn_send(conn, s->id, TTRPC_TYPE_DATA,
                                TTRPC_FLAG_REMOTE_CLOSED | TTRPC_FLAG_NO_DATA, NULL, 0);
                s->close_sent = true;
            }
        } else if (call->out.head) {
            fail = GRPC_FAILED_PRECONDITION;
            snprintf(why, sizeof(why), "ttrpc: %s/%s does not take a stream of messages",
                     call->service, call->method_name);
        }
    }
    pthread_mutex_unlock(&call->mu);
    if (release)
        ttrpc_conn_release(conn);
    if (cancelled)
        stream_free(s, cancelled, NULL); /* ttrpc has no reset: late frames are ignored */
    else if (fail)
        stream_fail(s, (enum grpc_code)fail, why);
}

static void kick(struct rpc_call *call)
{
    pthread_mutex_lock(&call->mu);
    struct client_stream *s = call->stream;
    pthread_mutex_unlock(&call->mu);
    if (s)
        stream_pump(s);
}

/* ---- frames ---- */

static void deliver(struct client_stream *s, const uint8_t *data, size_t len)
{
    struct rpc_call *call = s->call;
    rpc_call_deliver(call, xmemdup(data ? data : (const uint8_t *)"", len), len);
    pthread_mutex_lock(&call->mu);
    bool over = call->in.bytes >= RPC_QUEUE_HIGH_WATER;
    if (over)
        call->uncredited += len ? len : 1;
    pthread_mutex_unlock(&call->mu);
    if (over && !s->holding) {
        s->holding = true;
        ttrpc_conn_hold(&s->ch->conn);
    }
}

static void on_response(struct client_stream *s, const uint8_t *payload, size_t len)
{
    struct ttrpc_response resp;
    const char *why = NULL;
    if (ttrpc_response_decode(payload, len, &resp, &why) < 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "ttrpc: unmarshal response: %s", why);
        stream_fail(s, GRPC_INTERNAL, msg);
        return;
    }
    /* The payload is the reply of non-streaming servers, even when empty (an empty message). */
    if (resp.code == GRPC_OK && (resp.has_payload || !s->server_streams))
        deliver(s, resp.payload, resp.payload_len);
    rpc_call_deliver_status(s->call, (enum grpc_code)resp.code, resp.message);
    ttrpc_response_clear(&resp);
    stream_free(s, ERR_UNAVAILABLE, NULL);
}

static void on_frame(struct ttrpc_conn *conn, const struct ttrpc_header *h, uint8_t *payload)
{
    struct ttrpc_channel *ch = conn->owner;
    struct client_stream *s = stream_find(ch, h->stream_id);
    if (!s) {
        log_debug("ttrpc: received message on inactive stream %u", h->stream_id);
    } else if (h->type == TTRPC_TYPE_RESPONSE) {
        on_response(s, payload, h->length);
    } else if (h->type == TTRPC_TYPE_DATA) {
        if (!(h->flags & TTRPC_FLAG_NO_DATA))
            deliver(s, payload, h->length);
        if (h->flags & TTRPC_FLAG_REMOTE_CLOSED) {
            rpc_call_deliver_status(s->call, GRPC_OK, NULL);
            stream_free(s, ERR_UNAVAILABLE, NULL);
        }
    } else {
        char msg[96];
        snprintf(msg, sizeof(msg), "ttrpc: unexpected message type %u received: protocol error",
                 h->type);
        stream_fail(s, GRPC_INTERNAL, msg);
    }
    free(payload);
}

static void on_oversized(struct ttrpc_conn *conn, const struct ttrpc_header *h)
{
    struct ttrpc_channel *ch = conn->owner;
    struct client_stream *s = stream_find(ch, h->stream_id);
    if (!s)
        return;
    char msg[96];
    snprintf(msg, sizeof(msg), "message length %u exceed maximum message size of %d", h->length,
             TTRPC_MESSAGE_LENGTH_MAX);
    stream_fail(s, GRPC_RESOURCE_EXHAUSTED, msg);
}

static void on_writable(struct ttrpc_conn *conn)
{
    struct ttrpc_channel *ch = conn->owner;
    struct client_stream *s = ch->streams;
    while (s && ttrpc_conn_writable(conn)) {
        struct client_stream *next = s->next;
        stream_pump(s);
        s = next;
    }
}

static void channel_destroy(struct ttrpc_channel *ch)
{
    pthread_cond_destroy(&ch->closed_cond);
    pthread_mutex_destroy(&ch->mu);
    free(ch);
}

static void conn_closed(struct ttrpc_conn *conn)
{
    struct ttrpc_channel *ch = conn->owner;
    while (ch->streams)
        stream_free(ch->streams, ERR_UNAVAILABLE, "ttrpc: closed");
    pthread_mutex_lock(&ch->mu);
    ch->closed = true;
    pthread_cond_broadcast(&ch->closed_cond);
    bool release = ch->release;
    pthread_mutex_unlock(&ch->mu);
    if (release)
        channel_destroy(ch);
}

static const struct ttrpc_conn_handlers conn_handlers = {
    .frame = on_frame,
    .oversized = on_oversized,
    .writable = on_writable,
    .closed = conn_closed,
};

/* ---- the channel ---- */

struct start_args {
    struct ttrpc_channel *ch;
    struct rpc_call *call;
    enum rpc_method_kind kind;
    const struct rpc_call_options *options;
    int result;
};

static void start_on_loop(void *arg)
{
    struct start_args *a = arg;
    struct ttrpc_channel *ch = a->ch;
    if (ch->conn.closing || ch->closed) {
        a->result = -1;
        return;
    }
    struct client_stream *s = xcalloc(1, sizeof(*s));
    s->ch = ch;
    s->call = a->call;
    s->client_streams = a->kind == RPC_CLIENT_STREAMING || a->kind == RPC_BIDI_STREAMING;
    s->server_streams = a->kind == RPC_SERVER_STREAMING || a->kind == RPC_BIDI_STREAMING;
    if (a->options && a->options->metadata)
        rpc_metadata_copy(&s->md, a->options->metadata);
    s->next = ch->streams;
    if (ch->streams)
        ch->streams->prev = s;
    ch->streams = s;
    rpc_call_ref(a->call); /* the stream's reference */
    a->call->stream = s;
    a->result = 0;
    stream_pump(s); /* streaming clients open the stream right away */
}

static const struct rpc_channel_ops channel_ops;

struct rpc_call *ttrpc_channel_start_stream(struct rpc_channel *base, const char *service,
                                            const char *method, enum rpc_method_kind kind,
                                            const struct rpc_call_options *options,
                                            struct berth_error **err)
{
    if (base->ops != &channel_ops) {
        err_make(err, ERR_INVALID_ARGUMENT, 0, "ttrpc: not a ttrpc channel");
        return NULL;
    }
    struct ttrpc_channel *ch = (struct ttrpc_channel *)base;
    struct rpc_call *call = rpc_call_new(ch->loop, &transport, NULL, true);
    call->service = xstrdup(service);
    call->method_name = xstrdup(method);
    call->max_recv = TTRPC_MESSAGE_LENGTH_MAX;
    call->max_send = TTRPC_MESSAGE_LENGTH_MAX;
    if (options && options->timeout_ns > 0)
        call->deadline_ns = monotonic_ns() + options->timeout_ns;
    struct start_args a = {.ch = ch, .call = call, .kind = kind, .options = options};
    loop_call_sync(ch->loop, start_on_loop, &a);
    if (a.result < 0) {
        rpc_call_unref(call);
        err_make_raw(err, ERR_UNAVAILABLE, "ttrpc: closed");
        return NULL;
    }
    return call;
}

static struct rpc_call *channel_start_call(struct rpc_channel *base, const char *service,
                                           const char *method,
                                           const struct rpc_call_options *options,
                                           struct berth_error **err)
{
    struct ttrpc_channel *ch = (struct ttrpc_channel *)base;
    enum rpc_method_kind kind = RPC_UNARY;
    const struct rpc_service *svc =
        ch->services ? rpc_registry_find_service(ch->services, service) : NULL;
    const struct rpc_method *m = svc ? rpc_service_find_method(svc, method) : NULL;
    if (m)
        kind = m->kind;
    return ttrpc_channel_start_stream(base, service, method, kind, options, err);
}

static void close_on_loop(void *arg)
{
    struct ttrpc_channel *ch = arg;
    ttrpc_conn_close(&ch->conn);
}

static void channel_free(struct rpc_channel *base)
{
    struct ttrpc_channel *ch = (struct ttrpc_channel *)base;
    /* Synchronously: a posted job could run after an already closed channel is freed. */
    loop_call_sync(ch->loop, close_on_loop, ch);
    pthread_mutex_lock(&ch->mu);
    while (!ch->closed)
        pthread_cond_wait(&ch->closed_cond, &ch->mu);
    pthread_mutex_unlock(&ch->mu);
    channel_destroy(ch);
}

static const struct rpc_channel_ops channel_ops = {
    .start_call = channel_start_call,
    .free = channel_free,
};

struct open_args {
    struct ttrpc_channel *ch;
    int fd;
    int result;
};

static void open_on_loop(void *arg)
{
    struct open_args *a = arg;
    struct ttrpc_channel *ch = a->ch;
    ttrpc_conn_init(&ch->conn, ch->loop, &conn_handlers, ch);
    a->result = uv_pipe_open(&ch->conn.pipe, a->fd);
    if (a->result < 0)
        close(a->fd); /* not adopted by the handle */
    else
        a->result = ttrpc_conn_start(&ch->conn);
    if (a->result < 0)
        ttrpc_conn_close(&ch->conn);
}

struct rpc_channel *ttrpc_channel_from_fd(struct loop *loop, int fd,
                                          const struct ttrpc_client_options *options,
                                          struct berth_error **err)
{
    struct ttrpc_channel *ch = xcalloc(1, sizeof(*ch));
    ch->base.ops = &channel_ops;
    ch->loop = loop;
    ch->services = options ? options->services : NULL;
    ch->next_id = 1;
    pthread_mutex_init(&ch->mu, NULL);
    pthread_cond_init(&ch->closed_cond, NULL);
    struct open_args a = {.ch = ch, .fd = fd};
    loop_call_sync(loop, open_on_loop, &a);
    if (a.result < 0) {
        err_make(err, ERR_UNAVAILABLE, 0, "ttrpc: open connection: %s", uv_strerror(a.result));
        channel_free(&ch->base);
        return NULL;
    }
    return &ch->base;
}

struct rpc_channel *ttrpc_channel_connect(struct loop *loop, const char *address,
                                          const struct ttrpc_client_options *options,
                                          struct berth_error **err)
{
    int fd = unix_socket_connect(address, err);
    if (fd < 0)
        return NULL;
    return ttrpc_channel_from_fd(loop, fd, options, err);
}

/* ---- loop-side calls ---- */

static void on_async_timeout(uv_timer_t *timer)
{
    struct client_stream *s = timer->data;
    rpc_call_cancel_with(s->call, ERR_DEADLINE_EXCEEDED);
}

int ttrpc_channel_unary_async(struct rpc_channel *base, const char *service, const char *method,
                              const ProtobufCMessage *request,
                              const ProtobufCMessageDescriptor *response_descriptor,
                              long long timeout_ns, ttrpc_unary_done_fn done, void *arg,
                              struct berth_error **err)
{
    if (base->ops != &channel_ops)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "ttrpc: not a ttrpc channel");
    struct ttrpc_channel *ch = (struct ttrpc_channel *)base;
    if (!loop_on_thread(ch->loop))
        return err_make(err, ERR_FAILED_PRECONDITION, 0,
                        "ttrpc: async calls must start on the loop thread");
    struct rpc_call_options options = {.timeout_ns = timeout_ns};
    struct rpc_call *call =
        ttrpc_channel_start_stream(base, service, method, RPC_UNARY, &options, err);
    if (!call)
        return -1;
    struct client_stream *s = call->stream;
    if (rpc_call_send(call, request, err) < 0) {
        rpc_call_cancel(call); /* the stream goes on the next loop turn, without a callback */
        rpc_call_unref(call);
        return -1;
    }
    s->done = done;
    s->done_arg = arg;
    s->response_descriptor = response_descriptor;
    if (timeout_ns > 0) {
        s->timer = xcalloc(1, sizeof(*s->timer));
        uv_timer_init(loop_uv(ch->loop), s->timer);
        s->timer->data = s;
        uv_timer_start(s->timer, on_async_timeout, (uint64_t)(timeout_ns + 999999) / 1000000, 0);
    }
    rpc_call_close_send(call);
    rpc_call_unref(call); /* the stream holds its own reference */
    return 0;
}

bool ttrpc_channel_closed(struct rpc_channel *base)
{
    struct ttrpc_channel *ch = (struct ttrpc_channel *)base;
    pthread_mutex_lock(&ch->mu);
    bool closed = ch->closed || ch->conn.closing;
    pthread_mutex_unlock(&ch->mu);
    return closed;
}

void ttrpc_channel_release(struct rpc_channel *base)
{
    if (!base)
        return;
    struct ttrpc_channel *ch = (struct ttrpc_channel *)base;
    pthread_mutex_lock(&ch->mu);
    bool closed = ch->closed;
    ch->release = true;
    pthread_mutex_unlock(&ch->mu);
    if (closed)
        channel_destroy(ch);
    else
        ttrpc_conn_close(&ch->conn);
}
