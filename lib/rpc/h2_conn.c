/* HTTP/2 connection plumbing shared by the gRPC server and client. */
#include "lib/rpc/h2_conn.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"

#include <string.h>

/* Stop asking nghttp2 for more output while this much is still queued in the kernel/libuv. */
enum { WRITE_HIGH_WATER = 1 << 20, WRITE_CHUNK = 64 << 10, READ_BUFFER = 64 << 10 };

struct write_req {
    uv_write_t req;
    struct h2_conn *conn;
    size_t len;
    char data[];
};

static void on_closed(uv_handle_t *handle)
{
    struct h2_conn *conn = handle->data;
    if (conn->session) {
        nghttp2_session_del(conn->session);
        conn->session = NULL;
    }
    conn->handlers->closed(conn);
}

void h2_conn_close(struct h2_conn *conn)
{
    if (conn->closing)
        return;
    conn->closing = true;
    uv_close((uv_handle_t *)&conn->pipe, on_closed);
}

static void on_write(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct h2_conn *conn = w->conn;
    conn->write_pending -= w->len;
    free(w);
    if (status < 0) {
        h2_conn_close(conn);
        return;
    }
    if (!conn->closing)
        h2_conn_flush(conn);
}

static void on_read_resumed_check(struct h2_conn *conn);

void h2_conn_flush(struct h2_conn *conn)
{
    if (conn->closing || conn->in_flush)
        return;
    conn->in_flush = true;
    while (conn->write_pending < WRITE_HIGH_WATER) {
        struct write_req *w = NULL;
        size_t cap = 0;
        for (;;) {
            const uint8_t *data;
            /* nghttp2 hands out one frame piece at a time; batch them into one write. */
            ssize_t n = nghttp2_session_mem_send(conn->session, &data);
            if (n < 0) {
                free(w);
                conn->in_flush = false;
                h2_conn_close(conn);
                return;
            }
            if (n == 0)
                break;
            size_t have = w ? w->len : 0;
            if (!w || have + (size_t)n > cap) {
                cap = have + (size_t)n > WRITE_CHUNK ? have + (size_t)n : WRITE_CHUNK;
                w = xrealloc(w, sizeof(*w) + cap);
                w->len = have;
            }
            memcpy(w->data + w->len, data, (size_t)n);
            w->len += (size_t)n;
            if (w->len >= WRITE_CHUNK)
                break;
        }
        if (!w)
            break;
        w->conn = conn;
        uv_buf_t buf = uv_buf_init(w->data, (unsigned)w->len);
        conn->write_pending += w->len;
        if (uv_write(&w->req, (uv_stream_t *)&conn->pipe, &buf, 1, on_write) < 0) {
            conn->write_pending -= w->len;
            free(w);
            conn->in_flush = false;
            h2_conn_close(conn);
            return;
        }
    }
    conn->in_flush = false;
    if (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session) &&
        conn->write_pending == 0)
        h2_conn_close(conn);
    else
        on_read_resumed_check(conn);
}

static void alloc_buffer(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    buf->base = xmalloc(READ_BUFFER);
    buf->len = READ_BUFFER;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct h2_conn *conn = stream->data;
    if (nread < 0) {
        free(buf->base);
        h2_conn_close(conn);
        return;
    }
    if (nread > 0 && !conn->closing) {
        /* Callbacks may submit frames; they go out in the flush below, never re-entrantly. */
        conn->in_flush = true;
        ssize_t rv =
            nghttp2_session_mem_recv(conn->session, (const uint8_t *)buf->base, (size_t)nread);
        conn->in_flush = false;
        if (rv < 0) {
            /* A protocol violation: nghttp2 has queued GOAWAY where it could; send it and go. */
            log_debug("h2: closing connection: %s", nghttp2_strerror((int)rv));
            if (rv != NGHTTP2_ERR_BAD_CLIENT_MAGIC)
                nghttp2_session_terminate_session(conn->session, NGHTTP2_PROTOCOL_ERROR);
            h2_conn_flush(conn);
            free(buf->base);
            h2_conn_close(conn);
            return;
        }
    }
    free(buf->base);
    h2_conn_flush(conn);
}

/* While output is backed up, stop reading too so a peer cannot make us buffer without bound. */
static void on_read_resumed_check(struct h2_conn *conn)
{
    if (conn->closing)
        return;
    if (conn->write_pending >= WRITE_HIGH_WATER && !conn->read_paused) {
        uv_read_stop((uv_stream_t *)&conn->pipe);
        conn->read_paused = true;
    } else if (conn->write_pending < WRITE_HIGH_WATER && conn->read_paused) {
        conn->read_paused = false;
        uv_read_start((uv_stream_t *)&conn->pipe, alloc_buffer, on_read);
    }
}

int h2_conn_start(struct h2_conn *conn)
{
    conn->pipe.data = conn;
    int r = uv_read_start((uv_stream_t *)&conn->pipe, alloc_buffer, on_read);
    if (r < 0)
        return r;
    h2_conn_flush(conn);
    return 0;
}
