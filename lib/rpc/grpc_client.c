/* gRPC client: each call is an HTTP/2 stream driven from the loop; callers block on the call. */
#include "lib/rpc/grpc_client.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/rpc/call_internal.h"
#include "lib/rpc/grpc_framing.h"
#include "lib/rpc/h2_conn.h"
#include "lib/rpc/unix_socket.h"

#include "berth-version.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct client_stream {
    int32_t id;
    struct grpc_channel *channel;
    struct rpc_call *call;
    struct grpc_reader reader;
    int http_status;
    bool got_grpc_status;
    int grpc_status;
    char *grpc_message;
    bool data_done;
    bool reset_sent;
    struct rpc_buffer *current;
    size_t current_off;
    struct client_stream *next, *prev;
};

struct grpc_channel {
    struct rpc_channel base;
    struct loop *loop;
    struct h2_conn h2;
    bool h2_open;
    pthread_mutex_t mu;
    pthread_cond_t closed_cond;
    bool closed;
    size_t max_recv, max_send;
    char *authority;
    struct client_stream *streams;
};

static void kick(struct rpc_call *call);
static const struct rpc_call_transport transport = {.kick = kick};

static void stream_unlink(struct client_stream *s)
{
    struct grpc_channel *ch = s->channel;
    if (s->prev)
        s->prev->next = s->next;
    else
        ch->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
}

/* HTTP status → gRPC code when a response carries no grpc-status (gRPC's HTTP mapping). */
static enum grpc_code code_from_http(int status)
{
    switch (status) {
    case 400:
        return GRPC_INTERNAL;
    case 401:
        return GRPC_UNAUTHENTICATED;
    case 403:
        return GRPC_PERMISSION_DENIED;
    case 404:
        return GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return GRPC_UNAVAILABLE;
    default:
        return GRPC_UNKNOWN;
    }
}

static void stream_finish(struct client_stream *s, uint32_t h2_error)
{
    struct rpc_call *call = s->call;
    if (s->got_grpc_status) {
        rpc_call_deliver_status(call, (enum grpc_code)s->grpc_status, s->grpc_message);
    } else if (s->http_status && s->http_status != 200) {
        char msg[64];
        snprintf(msg, sizeof(msg), "unexpected HTTP status code %d", s->http_status);
        rpc_call_deliver_status(call, code_from_http(s->http_status), msg);
    } else {
        /* RST_STREAM codes as grpc-go maps them. */
        enum err_kind kind = h2_error == NGHTTP2_CANCEL           ? ERR_CANCELED
                             : h2_error == NGHTTP2_REFUSED_STREAM ? ERR_UNAVAILABLE
                                                                  : ERR_INTERNAL;
        char msg[96];
        snprintf(msg, sizeof(msg), "stream terminated by RST_STREAM with error code: %u", h2_error);
        rpc_call_detach(call, kind, h2_error ? msg : "server closed the stream without a status");
    }
    rpc_call_detach(call, ERR_UNAVAILABLE, NULL);
}

static void stream_free(struct client_stream *s, uint32_t h2_error)
{
    stream_unlink(s);
    stream_finish(s, h2_error);
    rpc_call_unref(s->call);
    if (s->current) {
        free(s->current->data);
        free(s->current);
    }
    grpc_reader_reset(&s->reader);
    free(s->grpc_message);
    free(s);
}

static ssize_t read_request_data(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                                 size_t length, uint32_t *data_flags, nghttp2_data_source *source,
                                 void *user_data)
{
    struct client_stream *s = source->ptr;
    struct rpc_call *call = s->call;
    size_t written = 0;
    pthread_mutex_lock(&call->mu);
    written = rpc_call_fill_grpc_frames(call, &s->current, &s->current_off, buf, length);
    bool done = call->out_closed && !s->current && !call->out.head;
    if (done) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
        s->data_done = true;
    }
    pthread_mutex_unlock(&call->mu);
    if (written == 0 && !done)
        return NGHTTP2_ERR_DEFERRED;
    return (ssize_t)written;
}

static void kick(struct rpc_call *call)
{
    pthread_mutex_lock(&call->mu);
    struct client_stream *s = call->stream;
    if (!s) {
        pthread_mutex_unlock(&call->mu);
        return;
    }
    size_t credit = call->credit_pending;
    call->credit_pending = 0;
    bool cancelled = call->cancelled != 0;
    pthread_mutex_unlock(&call->mu);
    nghttp2_session *session = s->channel->h2.session;
    if (credit)
        nghttp2_session_consume_stream(session, s->id, credit);
    if (cancelled && !s->reset_sent) {
        s->reset_sent = true;
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
    } else if (!s->data_done) {
        nghttp2_session_resume_data(session, s->id);
    }
    h2_conn_flush(&s->channel->h2);
}

/* ---- nghttp2 callbacks ---- */

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data)
{
    struct client_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!s || frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    const char *n = (const char *)name, *v = (const char *)value;
    if (strcmp(n, ":status") == 0) {
        s->http_status = atoi(v);
    } else if (strcmp(n, "grpc-status") == 0) {
        s->got_grpc_status = true;
        s->grpc_status = atoi(v);
    } else if (strcmp(n, "grpc-message") == 0) {
        free(s->grpc_message);
        s->grpc_message = rpc_percent_decode(v);
    } else if (n[0] != ':' && strcmp(n, "content-type") != 0 && s->call->metadata.count < 256) {
        pthread_mutex_lock(&s->call->mu);
        rpc_metadata_add(&s->call->metadata, n, v);
        pthread_mutex_unlock(&s->call->mu);
    }
    return 0;
}

static void deliver_message(void *arg, uint8_t *data, size_t len)
{
    rpc_call_deliver(arg, data, len);
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user_data)
{
    nghttp2_session_consume_connection(session, len);
    struct client_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!s || s->reset_sent) {
        nghttp2_session_consume_stream(session, stream_id, len);
        return 0;
    }
    struct rpc_call *call = s->call;
    pthread_mutex_lock(&call->mu);
    bool credit_now = call->in.bytes < RPC_QUEUE_HIGH_WATER;
    if (!credit_now)
        call->uncredited += len;
    pthread_mutex_unlock(&call->mu);
    if (credit_now)
        nghttp2_session_consume_stream(session, stream_id, len);
    int r = grpc_reader_feed(&s->reader, data, len, deliver_message, call);
    if (r != GRPC_READER_OK) {
        char msg[128];
        if (r == GRPC_READER_TOO_LARGE)
            snprintf(msg, sizeof(msg), "grpc: received message larger than max (%u vs. %zu)",
                     s->reader.rejected_len, s->reader.max_len);
        else
            snprintf(msg, sizeof(msg), "grpc: compressed message without a negotiated encoding");
        s->got_grpc_status = true;
        s->grpc_status = r == GRPC_READER_TOO_LARGE ? GRPC_RESOURCE_EXHAUSTED : GRPC_INTERNAL;
        free(s->grpc_message);
        s->grpc_message = xstrdup(msg);
        rpc_call_deliver_status(call, (enum grpc_code)s->grpc_status, msg);
        s->reset_sent = true;
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct client_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!s)
        return 0;
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        if (!s->got_grpc_status && s->http_status == 200) {
            s->got_grpc_status = true;
            s->grpc_status = GRPC_INTERNAL;
            s->grpc_message = xstrdup("server closed the stream without sending trailers");
        }
        if (grpc_reader_partial(&s->reader) && s->got_grpc_status && s->grpc_status == GRPC_OK) {
            s->grpc_status = GRPC_INTERNAL;
            free(s->grpc_message);
            s->grpc_message = xstrdup("unexpected EOF inside a message");
        }
        stream_finish(s, 0);
    }
    return 0;
}

static int on_h2_error(nghttp2_session *session, int lib_error_code, const char *msg, size_t len,
                       void *user_data)
{
    log_debug("grpc %s: h2: %.*s", "client", (int)len, msg);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
    struct client_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (s) {
        nghttp2_session_set_stream_user_data(session, stream_id, NULL);
        stream_free(s, error_code);
    }
    return 0;
}

/* ---- the channel ---- */

static void conn_closed(struct h2_conn *conn)
{
    struct grpc_channel *ch = conn->owner;
    while (ch->streams) {
        struct client_stream *s = ch->streams;
        if (!s->got_grpc_status) {
            s->got_grpc_status = true;
            s->grpc_status = GRPC_UNAVAILABLE;
            s->grpc_message = xstrdup("error reading from server: connection closed");
        }
        stream_free(s, 0);
    }
    pthread_mutex_lock(&ch->mu);
    ch->closed = true;
    pthread_cond_broadcast(&ch->closed_cond);
    pthread_mutex_unlock(&ch->mu);
}

static const struct h2_conn_handlers conn_handlers = {.closed = conn_closed};

struct start_args {
    struct grpc_channel *ch;
    struct rpc_call *call;
    const struct rpc_call_options *options;
    int result;
};

static void start_on_loop(void *arg)
{
    struct start_args *a = arg;
    struct grpc_channel *ch = a->ch;
    if (ch->h2.closing || ch->closed) {
        a->result = -1;
        return;
    }
    struct client_stream *s = xcalloc(1, sizeof(*s));
    s->channel = ch;
    s->call = a->call;
    grpc_reader_init(&s->reader, ch->max_recv);

    _cleanup_free_ char *path = xasprintf("/%s/%s", a->call->service, a->call->method_name);
    char timeout[32] = "";
    size_t extra = a->options && a->options->metadata ? a->options->metadata->count : 0;
    nghttp2_nv *nv = xcalloc(8 + extra, sizeof(*nv));
    size_t n = 0;
#define ADD(k, v)                                                                                  \
    nv[n++] =                                                                                      \
        (nghttp2_nv){(uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v), NGHTTP2_NV_FLAG_NONE}
    ADD(":method", "POST");
    ADD(":scheme", "http");
    ADD(":path", path);
    ADD(":authority", ch->authority);
    ADD("content-type", "application/grpc");
    ADD("user-agent", "berth-grpc-c/" BERTH_VERSION);
    ADD("te", "trailers");
    if (a->call->deadline_ns) {
        grpc_timeout_format(a->call->deadline_ns - monotonic_ns(), timeout);
        ADD("grpc-timeout", timeout);
    }
    for (size_t i = 0; i < extra; i++)
        ADD(a->options->metadata->entries[i].key, a->options->metadata->entries[i].value);
#undef ADD
    nghttp2_data_provider provider = {.source.ptr = s, .read_callback = read_request_data};
    int32_t id = nghttp2_submit_request(ch->h2.session, NULL, nv, n, &provider, s);
    free(nv);
    if (id < 0) {
        free(s);
        a->result = -1;
        return;
    }
    s->id = id;
    s->next = ch->streams;
    if (ch->streams)
        ch->streams->prev = s;
    ch->streams = s;
    rpc_call_ref(a->call); /* the stream's reference */
    a->call->stream = s;
    a->result = 0;
    h2_conn_flush(&ch->h2);
}

static struct rpc_call *channel_start_call(struct rpc_channel *base, const char *service,
                                           const char *method,
                                           const struct rpc_call_options *options,
                                           struct berth_error **err)
{
    struct grpc_channel *ch = (struct grpc_channel *)base;
    struct rpc_call *call = rpc_call_new(ch->loop, &transport, NULL, true);
    call->service = xstrdup(service);
    call->method_name = xstrdup(method);
    call->max_recv = ch->max_recv;
    call->max_send = ch->max_send;
    if (options && options->timeout_ns > 0)
        call->deadline_ns = monotonic_ns() + options->timeout_ns;
    struct start_args a = {.ch = ch, .call = call, .options = options};
    loop_call_sync(ch->loop, start_on_loop, &a);
    if (a.result < 0) {
        rpc_call_unref(call);
        err_make(err, ERR_UNAVAILABLE, 0, "connection closed");
        return NULL;
    }
    return call;
}

static void close_on_loop(void *arg)
{
    struct grpc_channel *ch = arg;
    if (!ch->h2.closing) {
        nghttp2_session_terminate_session(ch->h2.session, NGHTTP2_NO_ERROR);
        h2_conn_flush(&ch->h2);
        h2_conn_close(&ch->h2);
    }
}

static void channel_free(struct rpc_channel *base)
{
    struct grpc_channel *ch = (struct grpc_channel *)base;
    /* Synchronously: a posted job could run after the channel is freed. */
    loop_call_sync(ch->loop, close_on_loop, ch);
    pthread_mutex_lock(&ch->mu);
    while (!ch->closed)
        pthread_cond_wait(&ch->closed_cond, &ch->mu);
    pthread_mutex_unlock(&ch->mu);
    pthread_cond_destroy(&ch->closed_cond);
    pthread_mutex_destroy(&ch->mu);
    free(ch->authority);
    free(ch);
}

static const struct rpc_channel_ops channel_ops = {
    .start_call = channel_start_call,
    .free = channel_free,
};

struct open_args {
    struct grpc_channel *ch;
    int fd;
    int result;
};

static void open_on_loop(void *arg)
{
    struct open_args *a = arg;
    struct grpc_channel *ch = a->ch;
    uv_pipe_init(loop_uv(ch->loop), &ch->h2.pipe, 0);
    ch->h2.pipe.data = &ch->h2;
    a->result = uv_pipe_open(&ch->h2.pipe, a->fd);
    if (a->result == 0)
        a->result = h2_conn_start(&ch->h2);
    if (a->result < 0)
        h2_conn_close(&ch->h2);
}

struct rpc_channel *grpc_channel_from_fd(struct loop *loop, int fd,
                                         const struct grpc_client_options *options,
                                         struct berth_error **err)
{
    struct grpc_channel *ch = xcalloc(1, sizeof(*ch));
    ch->base.ops = &channel_ops;
    ch->loop = loop;
    pthread_mutex_init(&ch->mu, NULL);
    pthread_cond_init(&ch->closed_cond, NULL);
    ch->max_recv = options && options->max_recv_message_size ? options->max_recv_message_size
                                                             : RPC_DEFAULT_MAX_RECV;
    ch->max_send = options && options->max_send_message_size ? options->max_send_message_size
                                                             : RPC_DEFAULT_MAX_SEND;
    ch->authority = xstrdup(options && options->authority ? options->authority : "localhost");
    ch->h2.loop = loop;
    ch->h2.owner = ch;
    ch->h2.handlers = &conn_handlers;

    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_error_callback2(cbs, on_h2_error);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_client_new2(&ch->h2.session, cbs, ch, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
    };
    nghttp2_submit_settings(ch->h2.session, NGHTTP2_FLAG_NONE, settings, 2);
    nghttp2_session_set_local_window_size(ch->h2.session, NGHTTP2_FLAG_NONE, 0, 64 << 20);

    struct open_args a = {.ch = ch, .fd = fd};
    loop_call_sync(loop, open_on_loop, &a);
    if (a.result < 0) {
        close(fd);
        err_make(err, ERR_UNAVAILABLE, 0, "open connection: %s", uv_strerror(a.result));
        channel_free(&ch->base);
        return NULL;
    }
    return &ch->base;
}

struct rpc_channel *grpc_channel_connect(struct loop *loop, const char *address,
                                         const struct grpc_client_options *options,
                                         struct berth_error **err)
{
    int fd = unix_socket_connect(address, err);
    if (fd < 0)
        return NULL;
    return grpc_channel_from_fd(loop, fd, options, err);
}
