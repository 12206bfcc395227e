/* gRPC server: HTTP/2 streams become rpc_calls; handlers run on the worker pool. */
#include "lib/rpc/grpc_server.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/rpc/call_internal.h"
#include "lib/rpc/grpc_framing.h"
#include "lib/rpc/h2_conn.h"
#include "lib/rpc/unix_socket.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct grpc_server {
    struct loop *loop;
    const struct rpc_registry *registry;
    struct worker_pool *pool;
    size_t max_recv, max_send;
    uint32_t max_concurrent_streams;
    uv_pipe_t listener;
    bool listening;
    char *path;
    struct h2_conn *conns;
    pthread_mutex_t mu; /* inflight + draining wait */
    pthread_cond_t drained;
    size_t inflight;
    bool shutting_down;
};

struct server_stream {
    int32_t id;
    struct h2_conn *conn;
    struct grpc_server *server;
    struct rpc_call *call; /* NULL until the headers name a method */
    char *path;
    char *content_type;
    char *encoding;
    long long timeout_ns;
    struct rpc_metadata md;
    struct grpc_reader reader;
    bool dispatched;
    bool response_started;
    bool data_done; /* EOF handed to nghttp2 */
    bool discard;   /* inbound data is ignored after an early error */
    struct rpc_buffer *current;
    size_t current_off; /* includes the 5 prefix bytes */
    uv_timer_t *deadline;
    struct server_stream *next, *prev;
};

struct server_conn {
    struct h2_conn h2;
    struct server_stream *streams;
};

static void kick(struct rpc_call *call);
static const struct rpc_call_transport transport = {.kick = kick};

/* ---- stream bookkeeping ---- */

static void on_timer_closed(uv_handle_t *handle)
{
    free(handle);
}

static void stream_free(struct server_stream *s)
{
    struct server_conn *sc = (struct server_conn *)s->conn;
    if (s->prev)
        s->prev->next = s->next;
    else
        sc->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->deadline)
        uv_close((uv_handle_t *)s->deadline, on_timer_closed);
    if (s->call) {
        rpc_call_detach(s->call, ERR_CANCELED, NULL);
        rpc_call_unref(s->call);
        pthread_mutex_lock(&s->server->mu);
        if (--s->server->inflight == 0)
            pthread_cond_broadcast(&s->server->drained);
        pthread_mutex_unlock(&s->server->mu);
    }
    if (s->current) {
        free(s->current->data);
        free(s->current);
    }
    grpc_reader_reset(&s->reader);
    rpc_metadata_clear(&s->md);
    free(s->path);
    free(s->content_type);
    free(s->encoding);
    free(s);
}

/* ---- responses ---- */

/* nghttp2 copies names and values (no NO_COPY flags): our strings are freed right after. */
#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE                 \
    }

struct header_list {
    nghttp2_nv *nv;
    size_t count, capacity;
    char *owned[2];
};

static void headers_add(struct header_list *h, const char *name, const char *value)
{
    h->nv = xreallocarray_grow(h->nv, &h->capacity, h->count + 1, sizeof(*h->nv));
    h->nv[h->count++] = (nghttp2_nv)NV(name, value);
}

static void headers_add_md(struct header_list *h, const struct rpc_metadata *md)
{
    for (size_t i = 0; i < md->count; i++)
        headers_add(h, md->entries[i].key, md->entries[i].value);
}

/* grpc-status and grpc-message, appended to h; the strings live in h->owned. */
static void headers_add_status(struct header_list *h, struct rpc_call *call)
{
    h->owned[0] = xasprintf("%d", call->status_code);
    headers_add(h, "grpc-status", h->owned[0]);
    if (call->status_message && call->status_message[0]) {
        h->owned[1] = rpc_percent_encode(call->status_message);
        headers_add(h, "grpc-message", h->owned[1]);
    }
}

static void headers_free(struct header_list *h)
{
    free(h->nv);
    free(h->owned[0]);
    free(h->owned[1]);
}

static ssize_t read_response_data(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                                  size_t length, uint32_t *data_flags, nghttp2_data_source *source,
                                  void *user_data)
{
    struct server_stream *s = source->ptr;
    struct rpc_call *call = s->call;
    size_t written = 0;
    pthread_mutex_lock(&call->mu);
    written = rpc_call_fill_grpc_frames(call, &s->current, &s->current_off, buf, length);
    bool finished = call->status_set && !s->current && !call->out.head;
    if (finished) {
        /* Trailers must be submitted from here, after the last DATA, or they overtake it. */
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        struct header_list h = {0};
        headers_add_status(&h, call);
        headers_add_md(&h, &call->out_trailers);
        nghttp2_submit_trailer(session, stream_id, h.nv, h.count);
        headers_free(&h);
        s->data_done = true;
    }
    pthread_mutex_unlock(&call->mu);
    if (written == 0 && !finished)
        return NGHTTP2_ERR_DEFERRED;
    return (ssize_t)written;
}

/* A response with only a status (early errors): one HEADERS frame with END_STREAM. */
static void submit_trailers_only(struct server_stream *s, enum grpc_code code, const char *message,
                                 const struct rpc_metadata *extra)
{
    struct header_list h = {0};
    headers_add(&h, ":status", "200");
    headers_add(&h, "content-type", "application/grpc");
    if (extra)
        headers_add_md(&h, extra);
    h.owned[0] = xasprintf("%d", code);
    headers_add(&h, "grpc-status", h.owned[0]);
    if (message && *message) {
        h.owned[1] = rpc_percent_encode(message);
        headers_add(&h, "grpc-message", h.owned[1]);
    }
    nghttp2_submit_response(s->conn->session, s->id, h.nv, h.count, NULL);
    headers_free(&h);
    s->response_started = true;
    s->data_done = true;
}

/* Loop side: move a call's state onto the wire. */
static void kick(struct rpc_call *call)
{
    pthread_mutex_lock(&call->mu);
    struct server_stream *s = call->stream;
    if (!s) {
        pthread_mutex_unlock(&call->mu);
        return;
    }
    size_t credit = call->credit_pending;
    call->credit_pending = 0;
    if (call->cancelled == ERR_DEADLINE_EXCEEDED && !call->status_set) {
        call->status_set = true;
        call->status_code = GRPC_DEADLINE_EXCEEDED;
        call->status_message = xstrdup("context deadline exceeded");
        call->out_closed = true;
        pthread_cond_broadcast(&call->cond);
    }
    bool has_out = call->out.head != NULL;
    bool finished = call->status_set;
    struct rpc_metadata headers = {0};
    if (!s->response_started)
        rpc_metadata_copy(&headers, &call->out_headers);
    pthread_mutex_unlock(&call->mu);

    nghttp2_session *session = s->conn->session;
    if (credit)
        nghttp2_session_consume_stream(session, s->id, credit);
    if (!s->response_started && !s->data_done) {
        if (finished && !has_out && call->status_code != GRPC_OK) {
            submit_trailers_only(s, call->status_code, call->status_message, &headers);
        } else if (has_out || finished) {
            struct header_list h = {0};
            headers_add(&h, ":status", "200");
            headers_add(&h, "content-type", "application/grpc");
            headers_add_md(&h, &headers);
            nghttp2_data_provider provider = {.source.ptr = s, .read_callback = read_response_data};
            nghttp2_submit_response(session, s->id, h.nv, h.count, &provider);
            headers_free(&h);
            s->response_started = true;
        }
    } else if (!s->data_done) {
        nghttp2_session_resume_data(session, s->id);
    }
    rpc_metadata_clear(&headers);
    h2_conn_flush(s->conn);
}

/* ---- requests ---- */

static void run_handler_job(void *arg)
{
    struct rpc_call *call = arg;
    rpc_call_run_handler(call);
    rpc_call_unref(call);
}

static void dispatch(struct server_stream *s)
{
    if (s->dispatched || !s->call)
        return;
    s->dispatched = true;
    rpc_call_ref(s->call);
    if (s->server->pool)
        worker_pool_submit(s->server->pool, run_handler_job, s->call);
    else
        run_handler_job(s->call);
}

/* Ends a stream early with a status; further inbound data is dropped. */
static void reject(struct server_stream *s, enum grpc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reject(struct server_stream *s, enum grpc_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    s->discard = true;
    if (s->call) {
        /* The handler may be running: fail its reads and let kick() send the status. */
        pthread_mutex_lock(&s->call->mu);
        if (!s->call->in_error) {
            s->call->in_error = err_kind_from_grpc(code, msg);
            s->call->in_error_message = xstrdup(msg);
        }
        pthread_cond_broadcast(&s->call->cond);
        pthread_mutex_unlock(&s->call->mu);
        rpc_call_set_status(s->call, code, msg);
        /* Unary handlers never ran: nothing else will finish the call. */
        kick(s->call);
    } else if (!s->response_started) {
        submit_trailers_only(s, code, msg, NULL);
    }
}

static void on_deadline(uv_timer_t *timer)
{
    struct server_stream *s = timer->data;
    if (s->call)
        rpc_call_cancel_with(s->call, ERR_DEADLINE_EXCEEDED);
}

static int start_call(struct server_stream *s)
{
    struct grpc_server *server = s->server;
    if (!s->content_type || strncmp(s->content_type, "application/grpc", 16) != 0 ||
        (s->content_type[16] != '\0' && s->content_type[16] != '+' && s->content_type[16] != ';')) {
        /* Not gRPC at all: answer as HTTP, as grpc-go does. */
        nghttp2_nv nv[] = {NV(":status", "415"), NV("content-type", "text/plain")};
        nghttp2_submit_response(s->conn->session, s->id, nv, 2, NULL);
        s->response_started = s->data_done = s->discard = true;
        return 0;
    }
    const char *path = s->path ? s->path : "";
    const char *slash = path[0] == '/' ? strchr(path + 1, '/') : NULL;
    if (!slash) {
        reject(s, GRPC_UNIMPLEMENTED, "malformed method name: \"%s\"", path);
        return 0;
    }
    _cleanup_free_ char *service = xstrndup(path + 1, (size_t)(slash - path - 1));
    const char *method = slash + 1;
    const struct rpc_service *svc = rpc_registry_find_service(server->registry, service);
    const struct rpc_method *m = svc ? rpc_service_find_method(svc, method) : NULL;
    if (!svc) {
        reject(s, GRPC_UNIMPLEMENTED, "unknown service %s", service);
        return 0;
    }
    if (!m) {
        reject(s, GRPC_UNIMPLEMENTED, "unknown method %s for service %s", method, service);
        return 0;
    }
    if (s->encoding && strcmp(s->encoding, "identity") != 0) {
        reject(s, GRPC_UNIMPLEMENTED,
               "grpc: Decompressor is not installed for grpc-encoding \"%s\"", s->encoding);
        return 0;
    }
    struct rpc_call *call = rpc_call_new(server->loop, &transport, s, false);
    call->service = steal_ptr(service);
    call->method_name = xstrdup(method);
    call->method = m;
    call->svc = svc;
    call->max_recv = server->max_recv;
    call->max_send = server->max_send;
    call->metadata = s->md;
    memset(&s->md, 0, sizeof(s->md));
    s->call = call;
    pthread_mutex_lock(&server->mu);
    server->inflight++;
    pthread_mutex_unlock(&server->mu);
    if (s->timeout_ns > 0) {
        call->deadline_ns = monotonic_ns() + s->timeout_ns;
        s->deadline = xcalloc(1, sizeof(*s->deadline));
        uv_timer_init(loop_uv(server->loop), s->deadline);
        s->deadline->data = s;
        uint64_t ms = (uint64_t)(s->timeout_ns + 999999) / 1000000;
        uv_timer_start(s->deadline, on_deadline, ms, 0);
    }
    if (m->kind == RPC_CLIENT_STREAMING || m->kind == RPC_BIDI_STREAMING)
        dispatch(s);
    return 0;
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct server_conn *sc = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct server_stream *s = xcalloc(1, sizeof(*s));
    s->id = frame->hd.stream_id;
    s->conn = &sc->h2;
    s->server = sc->h2.owner;
    grpc_reader_init(&s->reader, s->server->max_recv);
    s->next = sc->streams;
    if (sc->streams)
        sc->streams->prev = s;
    sc->streams = s;
    nghttp2_session_set_stream_user_data(session, s->id, s);
    return 0;
}

static bool is_reserved_header(const char *name)
{
    return name[0] == ':' || strcmp(name, "content-type") == 0 || strcmp(name, "te") == 0 ||
           strncmp(name, "grpc-", 5) == 0 || strcmp(name, "connection") == 0;
}

enum { MAX_METADATA_ENTRIES = 256 };

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data)
{
    struct server_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!s || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    const char *n = (const char *)name, *v = (const char *)value;
    if (strcmp(n, ":path") == 0) {
        free(s->path);
        s->path = xstrndup(v, valuelen);
    } else if (strcmp(n, "content-type") == 0) {
        free(s->content_type);
        s->content_type = xstrndup(v, valuelen);
    } else if (strcmp(n, "grpc-timeout") == 0) {
        s->timeout_ns = grpc_timeout_parse(v);
    } else if (strcmp(n, "grpc-encoding") == 0) {
        free(s->encoding);
        s->encoding = xstrndup(v, valuelen);
    } else if (!is_reserved_header(n) && s->md.count < MAX_METADATA_ENTRIES) {
        rpc_metadata_add(&s->md, n, v);
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
    /* The connection window is always handed back; streams are paced one by one. */
    nghttp2_session_consume_connection(session, len);
    struct server_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!s || s->discard || !s->call) {
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
    if (r == GRPC_READER_TOO_LARGE)
        reject(s, GRPC_RESOURCE_EXHAUSTED, "grpc: received message larger than max (%u vs. %zu)",
               s->reader.rejected_len, s->reader.max_len);
    else if (r == GRPC_READER_COMPRESSED)
        reject(s, GRPC_INTERNAL,
               "grpc: compressed flag set with identity or empty encoding (no compression)");
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct server_stream *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!s)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        if (s->server->shutting_down) {
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_REFUSED_STREAM);
            s->discard = true;
            return 0;
        }
        start_call(s);
    }
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) && s->call && !s->discard) {
        if (grpc_reader_partial(&s->reader)) {
            reject(s, GRPC_INTERNAL, "grpc: the request ended inside a message");
            return 0;
        }
        rpc_call_deliver_end(s->call);
        dispatch(s);
    }
    return 0;
}

static int on_h2_error(nghttp2_session *session, int lib_error_code, const char *msg, size_t len,
                       void *user_data)
{
    log_debug("grpc %s: h2: %.*s", "server", (int)len, msg);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
    struct server_stream *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (s) {
        nghttp2_session_set_stream_user_data(session, stream_id, NULL);
        stream_free(s);
    }
    return 0;
}

/* ---- connections ---- */

static void conn_closed(struct h2_conn *conn)
{
    struct server_conn *sc = (struct server_conn *)conn;
    struct grpc_server *server = conn->owner;
    while (sc->streams)
        stream_free(sc->streams);
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        server->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    free(sc);
}

static const struct h2_conn_handlers conn_handlers = {.closed = conn_closed};

static struct server_conn *conn_new(struct grpc_server *server)
{
    struct server_conn *sc = xcalloc(1, sizeof(*sc));
    sc->h2.loop = server->loop;
    sc->h2.owner = server;
    sc->h2.handlers = &conn_handlers;
    uv_pipe_init(loop_uv(server->loop), &sc->h2.pipe, 0);
    sc->h2.pipe.data = &sc->h2;

    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_error_callback2(cbs, on_h2_error);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_server_new2(&sc->h2.session, cbs, sc, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);

    /* nghttp2 sends nothing by itself: our SETTINGS go out first (grpcio waits for them). */
    nghttp2_settings_entry settings[2] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, server->max_concurrent_streams},
    };
    nghttp2_submit_settings(sc->h2.session, NGHTTP2_FLAG_NONE, settings,
                            server->max_concurrent_streams ? 2 : 1);
    /* A large connection window; streams are paced by their own windows. */
    nghttp2_session_set_local_window_size(sc->h2.session, NGHTTP2_FLAG_NONE, 0, 64 << 20);

    sc->h2.next = server->conns;
    if (server->conns)
        server->conns->prev = &sc->h2;
    server->conns = &sc->h2;
    return sc;
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct grpc_server *server = listener->data;
    if (status < 0 || server->shutting_down)
        return;
    struct server_conn *sc = conn_new(server);
    if (uv_accept(listener, (uv_stream_t *)&sc->h2.pipe) < 0 || h2_conn_start(&sc->h2) < 0)
        h2_conn_close(&sc->h2);
}

struct grpc_server *grpc_server_new(struct loop *loop, const struct rpc_registry *registry,
                                    struct worker_pool *pool,
                                    const struct grpc_server_options *options)
{
    struct grpc_server *server = xcalloc(1, sizeof(*server));
    server->loop = loop;
    server->registry = registry;
    server->pool = pool;
    server->max_recv = options && options->max_recv_message_size ? options->max_recv_message_size
                                                                 : RPC_DEFAULT_MAX_RECV;
    server->max_send = options && options->max_send_message_size ? options->max_send_message_size
                                                                 : RPC_DEFAULT_MAX_SEND;
    server->max_concurrent_streams = options ? options->max_concurrent_streams : 0;
    pthread_mutex_init(&server->mu, NULL);
    pthread_cond_init(&server->drained, NULL);
    return server;
}

struct listen_args {
    struct grpc_server *server;
    int fd;
    int result;
};

static void listen_on_loop(void *arg)
{
    struct listen_args *a = arg;
    struct grpc_server *server = a->server;
    uv_pipe_init(loop_uv(server->loop), &server->listener, 0);
    server->listener.data = server;
    a->result = uv_pipe_open(&server->listener, a->fd);
    if (a->result == 0)
        a->result = uv_listen((uv_stream_t *)&server->listener, 128, on_connection);
    if (a->result == 0)
        server->listening = true;
    else
        uv_close((uv_handle_t *)&server->listener, NULL);
}

int grpc_server_listen_unix(struct grpc_server *server, const char *path, mode_t mode, uid_t uid,
                            gid_t gid, struct berth_error **err)
{
    int fd = unix_socket_listen(path, mode, uid, gid, err);
    if (fd < 0)
        return -1;
    struct listen_args a = {.server = server, .fd = fd};
    loop_call_sync(server->loop, listen_on_loop, &a);
    if (a.result < 0) {
        close(fd);
        return err_make(err, ERR_INTERNAL, 0, "listen on %s: %s", path, uv_strerror(a.result));
    }
    server->path = xstrdup(path);
    return 0;
}

static void serve_fd_on_loop(void *arg)
{
    struct listen_args *a = arg;
    struct server_conn *sc = conn_new(a->server);
    a->result = uv_pipe_open(&sc->h2.pipe, a->fd);
    if (a->result == 0)
        a->result = h2_conn_start(&sc->h2);
    if (a->result < 0)
        h2_conn_close(&sc->h2);
}

int grpc_server_serve_fd(struct grpc_server *server, int fd, struct berth_error **err)
{
    struct listen_args a = {.server = server, .fd = fd};
    loop_call_sync(server->loop, serve_fd_on_loop, &a);
    if (a.result < 0)
        return err_make(err, ERR_INTERNAL, 0, "serve fd: %s", uv_strerror(a.result));
    return 0;
}

static void begin_shutdown_on_loop(void *arg)
{
    struct grpc_server *server = arg;
    server->shutting_down = true;
    if (server->listening) {
        uv_close((uv_handle_t *)&server->listener, NULL);
        server->listening = false;
        if (server->path)
            unlink(server->path);
    }
    for (struct h2_conn *c = server->conns; c; c = c->next) {
        nghttp2_submit_shutdown_notice(c->session);
        h2_conn_flush(c);
    }
}

static void finish_shutdown_on_loop(void *arg)
{
    struct grpc_server *server = arg;
    for (struct h2_conn *c = server->conns; c; c = c->next) {
        nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(c->session), NGHTTP2_NO_ERROR,
                              NULL, 0);
        h2_conn_flush(c);
        h2_conn_close(c);
    }
}

void grpc_server_shutdown(struct grpc_server *server, long long grace_ns)
{
    loop_call_sync(server->loop, begin_shutdown_on_loop, server);
    long long until = monotonic_ns() + grace_ns;
    pthread_mutex_lock(&server->mu);
    while (server->inflight > 0) {
        long long now = monotonic_ns();
        if (now >= until)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long long wait = until - now;
        ts.tv_sec += wait / 1000000000LL;
        ts.tv_nsec += wait % 1000000000LL;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&server->drained, &server->mu, &ts);
    }
    pthread_mutex_unlock(&server->mu);
    loop_call_sync(server->loop, finish_shutdown_on_loop, server);
}

size_t grpc_server_inflight(struct grpc_server *server)
{
    pthread_mutex_lock(&server->mu);
    size_t n = server->inflight;
    pthread_mutex_unlock(&server->mu);
    return n;
}

void grpc_server_free(struct grpc_server *server)
{
    if (!server)
        return;
    free(server->path);
    pthread_cond_destroy(&server->drained);
    pthread_mutex_destroy(&server->mu);
    free(server);
}
