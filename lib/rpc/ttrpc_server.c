/* ttrpc server: Request frames become rpc_calls; handlers run on the worker pool or inline. */
#include "lib/rpc/ttrpc_server.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/rpc/call_internal.h"
#include "lib/rpc/ttrpc_conn.h"
#include "lib/rpc/unix_socket.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { DEFAULT_MAX_STREAMS = 1024 };
/* Longer timeouts are clamped so deadlines cannot overflow (ten years is "never"). */
#define MAX_TIMEOUT_NS (10LL * 365 * 24 * 3600 * 1000000000LL)

struct ttrpc_server {
    struct loop *loop;
    const struct rpc_registry *registry;
    struct worker_pool *pool;
    bool require_same_user;
    uid_t euid;
    gid_t egid;
    size_t max_streams;
    uv_pipe_t listener;
    bool listening;
    char *path;
    struct ttrpc_conn *conns;
    bool shutting_down; /* loop thread only */
    pthread_mutex_t mu; /* inflight and handles, for shutdown's waits */
    pthread_cond_t cond;
    size_t inflight;
    size_t handles; /* open connections and the listener */
};

struct server_conn {
    struct ttrpc_conn conn; /* first: handlers get &conn */
    struct ttrpc_server *server;
    struct server_stream *streams;
    size_t n_streams;
    uint32_t last_stream_id;
};

struct server_stream {
    uint32_t id;
    struct server_conn *sc;
    struct rpc_call *call;
    bool client_streams; /* the client sends its messages as Data frames */
    bool server_streams; /* replies go out as Data frames, then a close or a status */
    bool remote_closed;
    bool holding; /* this stream holds the connection's reading */
    uv_timer_t *deadline;
    struct server_stream *next, *prev;
};

static void kick(struct rpc_call *call);
static const struct rpc_call_transport transport = {.kick = kick};

static void server_count(struct ttrpc_server *server, size_t *counter, int delta)
{
    pthread_mutex_lock(&server->mu);
    *counter += (size_t)delta;
    pthread_cond_broadcast(&server->cond);
    pthread_mutex_unlock(&server->mu);
}

/* ---- streams ---- */

static void on_timer_closed(uv_handle_t *handle)
{
    free(handle);
}

static void stream_free(struct server_stream *s)
{
    struct server_conn *sc = s->sc;
    if (s->prev)
        s->prev->next = s->next;
    else
        sc->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    sc->n_streams--;
    if (s->holding)
        ttrpc_conn_release(&sc->conn);
    if (s->deadline)
        uv_close((uv_handle_t *)s->deadline, on_timer_closed);
    rpc_call_detach(s->call, ERR_CANCELED, NULL);
    rpc_call_unref(s->call);
    free(s);
    server_count(sc->server, &sc->server->inflight, -1);
    if (sc->server->shutting_down && sc->n_streams == 0)
        ttrpc_conn_close(&sc->conn);
}

static struct server_stream *stream_find(struct server_conn *sc, uint32_t id)
{
    for (struct server_stream *s = sc->streams; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

/* The final Response of a non-streaming reply: status and, when OK, the one message. */
static void send_final_response(struct server_stream *s, struct rpc_call *call)
{
    struct rpc_buffer *b = call->status_code == GRPC_OK ? rpc_buffer_queue_pop(&call->out) : NULL;
    enum grpc_code code = call->status_code;
    const char *message = call->status_message;
    char msg[160];
    if (code == GRPC_OK && !b && call->method->kind == RPC_UNARY) {
        /* ttrpc answers a unary handler that returned no message with Unknown, not OK. */
        snprintf(msg, sizeof(msg), "ttrpc: %s/%s returned no response message", call->service,
                 call->method_name);
        code = GRPC_UNKNOWN;
        message = msg;
    }
    size_t len;
    uint8_t *p =
        ttrpc_response_encode((int32_t)code, message, b ? b->data : NULL, b ? b->len : 0, &len);
    if (len > TTRPC_MESSAGE_LENGTH_MAX) {
        free(p);
        snprintf(msg, sizeof(msg), "message length %zu exceed maximum message size of %d", len,
                 TTRPC_MESSAGE_LENGTH_MAX);
        p = ttrpc_response_encode(GRPC_RESOURCE_EXHAUSTED, msg, NULL, 0, &len);
    }
    if (b) {
        free(b->data);
        free(b);
    }
    ttrpc_conn_send(&s->sc->conn, s->id, TTRPC_TYPE_RESPONSE, 0, p, len);
}

/* Loop side: moves the call's output onto the wire; frees the stream once its last frame is out. */
static void stream_pump(struct server_stream *s)
{
    struct rpc_call *call = s->call;
    struct ttrpc_conn *conn = &s->sc->conn;
    bool done = false, release = false;
    pthread_mutex_lock(&call->mu);
    if (call->credit_pending) {
        call->credit_pending = 0;
        release = s->holding;
        s->holding = false;
    }
    if (call->cancelled == ERR_DEADLINE_EXCEEDED && !call->status_set) {
        call->status_set = true;
        call->status_code = GRPC_DEADLINE_EXCEEDED;
        call->status_message = xstrdup("context deadline exceeded");
        call->out_closed = true;
        pthread_cond_broadcast(&call->cond);
    }
    if (s->server_streams) {
        struct rpc_buffer *b;
        while (ttrpc_conn_writable(conn) && (b = rpc_buffer_queue_pop(&call->out))) {
            ttrpc_conn_send(conn, s->id, TTRPC_TYPE_DATA, 0, b->data, b->len);
            free(b);
            pthread_cond_broadcast(&call->cond); /* room for blocked senders */
        }
        if (call->status_set && !call->out.head && ttrpc_conn_writable(conn)) {
            /* As ttrpc: a stream that ends well closes with an empty Data, errors with a status. */
            if (call->status_code == GRPC_OK)
                ttrpc_conn_send(conn, s->id, TTRPC_TYPE_DATA,
                                TTRPC_FLAG_REMOTE_CLOSED | TTRPC_FLAG_NO_DATA, NULL, 0);
            else
                ttrpc_conn_send_status(conn, s->id, (int32_t)call->status_code,
                                       call->status_message);
            done = true;
        }
    } else if (call->status_set && ttrpc_conn_writable(conn)) {
        send_final_response(s, call);
        done = true;
    }
    pthread_mutex_unlock(&call->mu);
    if (release)
        ttrpc_conn_release(conn);
    if (done)
        stream_free(s);
}

static void kick(struct rpc_call *call)
{
    pthread_mutex_lock(&call->mu);
    struct server_stream *s = call->stream;
    pthread_mutex_unlock(&call->mu);
    if (s)
        stream_pump(s);
}

/* Ends a stream early with a status; the handler's reads fail from now on. */
static void reject(struct server_stream *s, enum grpc_code code, const char *message)
{
    struct rpc_call *call = s->call;
    pthread_mutex_lock(&call->mu);
    if (!call->in_error) {
        call->in_error = err_kind_from_grpc(code, message);
        call->in_error_message = xstrdup(message);
    }
    pthread_cond_broadcast(&call->cond);
    pthread_mutex_unlock(&call->mu);
    rpc_call_set_status(call, code, message);
    stream_pump(s);
}

static void run_handler_job(void *arg)
{
    struct rpc_call *call = arg;
    rpc_call_run_handler(call);
    rpc_call_unref(call);
}

static void dispatch(struct server_stream *s)
{
    struct ttrpc_server *server = s->sc->server;
    rpc_call_ref(s->call);
    if (server->pool)
        worker_pool_submit(server->pool, run_handler_job, s->call);
    else
        run_handler_job(s->call);
}

static void on_deadline(uv_timer_t *timer)
{
    struct server_stream *s = timer->data;
    rpc_call_cancel_with(s->call, ERR_DEADLINE_EXCEEDED);
}

/* Hands a message to the call; past the high-water mark the connection stops reading. */
static void deliver(struct server_stream *s, const uint8_t *data, size_t len)
{
    struct rpc_call *call = s->call;
    uint8_t *copy = xmalloc(len ? len : 1);
    if (len)
        memcpy(copy, data, len);
    rpc_call_deliver(call, copy, len);
    pthread_mutex_lock(&call->mu);
    bool over = call->in.bytes >= RPC_QUEUE_HIGH_WATER;
    if (over)
        call->uncredited += len ? len : 1;
    pthread_mutex_unlock(&call->mu);
    if (over && !s->holding) {
        s->holding = true;
        ttrpc_conn_hold(&s->sc->conn);
    }
}

/* ---- frames ---- */

static void send_statusf(struct server_conn *sc, uint32_t id, enum grpc_code code, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));
static void send_statusf(struct server_conn *sc, uint32_t id, enum grpc_code code, const char *fmt,
                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = xvasprintf(fmt, ap);
    va_end(ap);
    ttrpc_conn_send_status(&sc->conn, id, (int32_t)code, msg);
}

static void start_call(struct server_conn *sc, uint32_t id, struct ttrpc_request *req,
                       const struct rpc_service *svc, const struct rpc_method *m)
{
    struct ttrpc_server *server = sc->server;
    struct server_stream *s = xcalloc(1, sizeof(*s));
    s->id = id;
    s->sc = sc;
    s->client_streams = m->kind == RPC_CLIENT_STREAMING || m->kind == RPC_BIDI_STREAMING;
    s->server_streams = m->kind == RPC_SERVER_STREAMING || m->kind == RPC_BIDI_STREAMING;
    struct rpc_call *call = rpc_call_new(server->loop, &transport, s, false);
    call->service = steal_ptr(req->service);
    call->method_name = steal_ptr(req->method);
    call->method = m;
    call->svc = svc;
    call->max_recv = TTRPC_MESSAGE_LENGTH_MAX;
    call->max_send = TTRPC_MESSAGE_LENGTH_MAX;
    call->metadata = req->metadata;
    memset(&req->metadata, 0, sizeof(req->metadata));
    s->call = call;
    s->next = sc->streams;
    if (sc->streams)
        sc->streams->prev = s;
    sc->streams = s;
    sc->n_streams++;
    server_count(server, &server->inflight, 1);

    if (req->timeout_nano != 0) {
        long long timeout = req->timeout_nano < 0 ? 0 : req->timeout_nano;
        if (timeout > MAX_TIMEOUT_NS)
            timeout = MAX_TIMEOUT_NS;
        call->deadline_ns = monotonic_ns() + timeout;
        s->deadline = xcalloc(1, sizeof(*s->deadline));
        uv_timer_init(loop_uv(server->loop), s->deadline);
        s->deadline->data = s;
        uv_timer_start(s->deadline, on_deadline, (uint64_t)(timeout + 999999) / 1000000, 0);
    }
    /*
     * As ttrpc: the Request's payload is the message of non-streaming clients (even when
     * empty: an empty message encodes to nothing) and, when present, the first message of
     * streaming ones.
     */
    if (!s->client_streams) {
        deliver(s, req->payload, req->payload_len);
        rpc_call_deliver_end(call);
        s->remote_closed = true;
    } else if (req->has_payload) {
        deliver(s, req->payload, req->payload_len);
    }
    dispatch(s);
}

static void on_request(struct server_conn *sc, const struct ttrpc_header *h, const uint8_t *payload)
{
    struct ttrpc_server *server = sc->server;
    if (h->stream_id <= sc->last_stream_id) {
        send_statusf(sc, h->stream_id, GRPC_INVALID_ARGUMENT,
                     "StreamID cannot be re-used and must increment");
        return;
    }
    sc->last_stream_id = h->stream_id;
    struct ttrpc_request req;
    const char *why = NULL;
    if (ttrpc_request_decode(payload, h->length, &req, &why) < 0) {
        send_statusf(sc, h->stream_id, GRPC_INVALID_ARGUMENT, "unmarshal request error: %s", why);
        return;
    }
    const struct rpc_service *svc = rpc_registry_find_service(server->registry, req.service);
    const struct rpc_method *m = svc ? rpc_service_find_method(svc, req.method) : NULL;
    if (server->shutting_down)
        send_statusf(sc, h->stream_id, GRPC_UNAVAILABLE, "ttrpc: server closed");
    else if (!svc) /* ttrpc's wording (services.go), not grpc-go's */
        send_statusf(sc, h->stream_id, GRPC_UNIMPLEMENTED, "service %s", req.service);
    else if (!m)
        send_statusf(sc, h->stream_id, GRPC_UNIMPLEMENTED, "method %s", req.method);
    else if (sc->n_streams >= server->max_streams)
        send_statusf(sc, h->stream_id, GRPC_RESOURCE_EXHAUSTED,
                     "ttrpc: too many concurrent streams on this connection (%zu)",
                     server->max_streams);
    else
        start_call(sc, h->stream_id, &req, svc, m);
    ttrpc_request_clear(&req);
}

static void on_data(struct server_conn *sc, const struct ttrpc_header *h, const uint8_t *payload)
{
    struct server_stream *s = stream_find(sc, h->stream_id);
    if (!s) {
        send_statusf(sc, h->stream_id, GRPC_INVALID_ARGUMENT, "StreamID is no longer active");
        return;
    }
    bool has_data = !(h->flags & TTRPC_FLAG_NO_DATA);
    if (!s->client_streams || s->remote_closed) {
        if (has_data)
            reject(s, GRPC_INVALID_ARGUMENT, "data handling error: ttrpc: stream closed");
        return; /* a repeated close is harmless */
    }
    if (has_data)
        deliver(s, payload, h->length);
    if (h->flags & TTRPC_FLAG_REMOTE_CLOSED) {
        s->remote_closed = true;
        rpc_call_deliver_end(s->call);
    }
}

static void on_frame(struct ttrpc_conn *conn, const struct ttrpc_header *h, uint8_t *payload)
{
    struct server_conn *sc = (struct server_conn *)conn;
    if (h->stream_id % 2 != 1)
        send_statusf(sc, h->stream_id, GRPC_INVALID_ARGUMENT,
                     "StreamID must be odd for client initiated streams");
    else if (h->type == TTRPC_TYPE_REQUEST)
        on_request(sc, h, payload);
    else if (h->type == TTRPC_TYPE_DATA)
        on_data(sc, h, payload);
    /* other types are ignored for forward compatibility, as ttrpc does */
    free(payload);
}

static void on_oversized(struct ttrpc_conn *conn, const struct ttrpc_header *h)
{
    struct server_conn *sc = (struct server_conn *)conn;
    char msg[96];
    snprintf(msg, sizeof(msg), "message length %u exceed maximum message size of %d", h->length,
             TTRPC_MESSAGE_LENGTH_MAX);
    struct server_stream *s = stream_find(sc, h->stream_id);
    if (s)
        reject(s, GRPC_RESOURCE_EXHAUSTED, msg);
    else
        ttrpc_conn_send_status(conn, h->stream_id, GRPC_RESOURCE_EXHAUSTED, msg);
}

static void on_writable(struct ttrpc_conn *conn)
{
    struct server_conn *sc = (struct server_conn *)conn;
    struct server_stream *s = sc->streams;
    while (s && ttrpc_conn_writable(conn)) {
        struct server_stream *next = s->next;
        stream_pump(s);
        s = next;
    }
}

/* ---- connections ---- */

static void conn_closed(struct ttrpc_conn *conn)
{
    struct server_conn *sc = (struct server_conn *)conn;
    struct ttrpc_server *server = sc->server;
    while (sc->streams)
        stream_free(sc->streams);
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        server->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    free(sc);
    server_count(server, &server->handles, -1);
}

static const struct ttrpc_conn_handlers conn_handlers = {
    .frame = on_frame,
    .oversized = on_oversized,
    .writable = on_writable,
    .closed = conn_closed,
};

static struct server_conn *conn_new(struct ttrpc_server *server)
{
    struct server_conn *sc = xcalloc(1, sizeof(*sc));
    sc->server = server;
    ttrpc_conn_init(&sc->conn, server->loop, &conn_handlers, server);
    sc->conn.next = server->conns;
    if (server->conns)
        server->conns->prev = &sc->conn;
    server->conns = &sc->conn;
    server_count(server, &server->handles, 1);
    return sc;
}

/* containerd's UnixSocketRequireSameUser: the peer's uid and gid must be our euid and egid. */
static bool peer_allowed(struct ttrpc_server *server, struct server_conn *sc)
{
    if (!server->require_same_user)
        return true;
    uv_os_fd_t fd;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (uv_fileno((uv_handle_t *)&sc->conn.pipe, &fd) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        log_debug("ttrpc: refusing connection: cannot read peer credentials");
        return false;
    }
    if (cred.uid != server->euid || cred.gid != server->egid) {
        log_debug("ttrpc: refusing connection from uid %u gid %u: invalid credentials",
                  (unsigned)cred.uid, (unsigned)cred.gid);
        return false;
    }
    return true;
}

static int conn_begin(struct ttrpc_server *server, struct server_conn *sc)
{
    if (!peer_allowed(server, sc))
        return UV_EPERM;
    return ttrpc_conn_start(&sc->conn);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct ttrpc_server *server = listener->data;
    if (status < 0 || server->shutting_down)
        return;
    struct server_conn *sc = conn_new(server);
    if (uv_accept(listener, (uv_stream_t *)&sc->conn.pipe) < 0 || conn_begin(server, sc) < 0)
        ttrpc_conn_close(&sc->conn);
}

struct ttrpc_server *ttrpc_server_new(struct loop *loop, const struct rpc_registry *registry,
                                      struct worker_pool *pool,
                                      const struct ttrpc_server_options *options)
{
    struct ttrpc_server *server = xcalloc(1, sizeof(*server));
    server->loop = loop;
    server->registry = registry;
    server->pool = pool;
    server->require_same_user = options && options->require_same_user;
    server->euid = geteuid();
    server->egid = getegid();
    server->max_streams = options && options->max_streams_per_connection
                              ? options->max_streams_per_connection
                              : DEFAULT_MAX_STREAMS;
    pthread_mutex_init(&server->mu, NULL);
    pthread_cond_init(&server->cond, NULL);
    return server;
}

struct listen_args {
    struct ttrpc_server *server;
    int fd;
    int result;
};

static void on_listener_closed(uv_handle_t *handle)
{
    struct ttrpc_server *server = handle->data;
    server_count(server, &server->handles, -1);
}

static void listen_on_loop(void *arg)
{
    struct listen_args *a = arg;
    struct ttrpc_server *server = a->server;
    if (server->listening || server->shutting_down) {
        a->result = UV_EBUSY;
        return;
    }
    uv_pipe_init(loop_uv(server->loop), &server->listener, 0);
    server->listener.data = server;
    server_count(server, &server->handles, 1);
    a->result = uv_pipe_open(&server->listener, a->fd);
    if (a->result < 0)
        close(a->fd); /* not adopted by the handle */
    else
        a->result = uv_listen((uv_stream_t *)&server->listener, 128, on_connection);
    if (a->result == 0)
        server->listening = true;
    else
        uv_close((uv_handle_t *)&server->listener, on_listener_closed);
}

int ttrpc_server_listen_unix(struct ttrpc_server *server, const char *path, mode_t mode, uid_t uid,
                             gid_t gid, struct berth_error **err)
{
    int fd = unix_socket_listen(path, mode, uid, gid, err);
    if (fd < 0)
        return -1;
    struct listen_args a = {.server = server, .fd = fd};
    loop_call_sync(server->loop, listen_on_loop, &a);
    if (a.result < 0) {
        if (a.result == UV_EBUSY)
            close(fd);
        unlink(path);
        return err_make(err, ERR_INTERNAL, 0, "ttrpc: listen on %s: %s", path,
                        uv_strerror(a.result));
    }
    server->path = xstrdup(path);
    return 0;
}

int ttrpc_server_listen_fd(struct ttrpc_server *server, int fd, struct berth_error **err)
{
    struct listen_args a = {.server = server, .fd = fd};
    loop_call_sync(server->loop, listen_on_loop, &a);
    if (a.result < 0) {
        if (a.result == UV_EBUSY)
            close(fd);
        return err_make(err, ERR_INTERNAL, 0, "ttrpc: listen on fd %d: %s", fd,
                        uv_strerror(a.result));
    }
    return 0;
}

static void serve_fd_on_loop(void *arg)
{
    struct listen_args *a = arg;
    if (a->server->shutting_down) {
        a->result = UV_ECANCELED;
        return;
    }
    struct server_conn *sc = conn_new(a->server);
    a->result = uv_pipe_open(&sc->conn.pipe, a->fd);
    if (a->result < 0)
        close(a->fd); /* not adopted by the handle */
    else
        a->result = conn_begin(a->server, sc);
    if (a->result < 0)
        ttrpc_conn_close(&sc->conn);
}

int ttrpc_server_serve_fd(struct ttrpc_server *server, int fd, struct berth_error **err)
{
    struct listen_args a = {.server = server, .fd = fd};
    loop_call_sync(server->loop, serve_fd_on_loop, &a);
    if (a.result == UV_ECANCELED)
        close(fd);
    if (a.result < 0)
        return err_make(err, a.result == UV_EPERM ? ERR_PERMISSION_DENIED : ERR_INTERNAL, 0,
                        "ttrpc: serve fd: %s", uv_strerror(a.result));
    return 0;
}

static void begin_shutdown_on_loop(void *arg)
{
    struct ttrpc_server *server = arg;
    server->shutting_down = true;
    if (server->listening) {
        uv_close((uv_handle_t *)&server->listener, on_listener_closed);
        server->listening = false;
        if (server->path)
            unlink(server->path);
    }
    for (struct ttrpc_conn *c = server->conns; c; c = c->next)
        if (((struct server_conn *)c)->n_streams == 0)
            ttrpc_conn_close(c);
}

static void finish_shutdown_on_loop(void *arg)
{
    struct ttrpc_server *server = arg;
    for (struct ttrpc_conn *c = server->conns; c; c = c->next)
        ttrpc_conn_close(c);
}

/* Waits until *counter is 0 or the monotonic deadline `until` (0: no limit) passes. */
static void wait_zero(struct ttrpc_server *server, size_t *counter, long long until)
{
    pthread_mutex_lock(&server->mu);
    while (*counter > 0) {
        if (!until) {
            pthread_cond_wait(&server->cond, &server->mu);
            continue;
        }
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
        pthread_cond_timedwait(&server->cond, &server->mu, &ts);
    }
    pthread_mutex_unlock(&server->mu);
}

void ttrpc_server_shutdown(struct ttrpc_server *server, long long grace_ns)
{
    loop_call_sync(server->loop, begin_shutdown_on_loop, server);
    wait_zero(server, &server->inflight, monotonic_ns() + (grace_ns > 0 ? grace_ns : 1));
    loop_call_sync(server->loop, finish_shutdown_on_loop, server);
    /* Close callbacks run on the loop; the server must outlive them. */
    wait_zero(server, &server->handles, 0);
}

size_t ttrpc_server_inflight(struct ttrpc_server *server)
{
    pthread_mutex_lock(&server->mu);
    size_t n = server->inflight;
    pthread_mutex_unlock(&server->mu);
    return n;
}

void ttrpc_server_free(struct ttrpc_server *server)
{
    if (!server)
        return;
    free(server->path);
    pthread_cond_destroy(&server->cond);
    pthread_mutex_destroy(&server->mu);
    free(server);
}
