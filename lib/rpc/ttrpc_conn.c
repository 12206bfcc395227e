/* ttrpc connection plumbing shared by the server and the client: framing over a libuv pipe. */
#include "lib/rpc/ttrpc_conn.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"

#include <string.h>

/* Stop taking output (and reading input) while this much is queued for the kernel. */
enum { WRITE_HIGH_WATER = 1 << 20, READ_BUFFER = 64 << 10 };

struct write_req {
    uv_write_t req;
    struct ttrpc_conn *conn;
    uint8_t header[TTRPC_HEADER_LEN];
    uint8_t *payload;
    size_t len; /* header + payload */
};

void ttrpc_conn_init(struct ttrpc_conn *conn, struct loop *loop,
                     const struct ttrpc_conn_handlers *handlers, void *owner)
{
    memset(conn, 0, sizeof(*conn));
    conn->loop = loop;
    conn->handlers = handlers;
    conn->owner = owner;
    uv_pipe_init(loop_uv(loop), &conn->pipe, 0);
    conn->pipe.data = conn;
}

static void on_closed(uv_handle_t *handle)
{
    struct ttrpc_conn *conn = handle->data;
    free(conn->payload);
    conn->payload = NULL;
    conn->handlers->closed(conn);
}

void ttrpc_conn_close(struct ttrpc_conn *conn)
{
    if (conn->closing)
        return;
    conn->closing = true;
    conn->reading = false;
    uv_close((uv_handle_t *)&conn->pipe, on_closed);
}

bool ttrpc_conn_writable(const struct ttrpc_conn *conn)
{
    return !conn->closing && conn->write_pending < WRITE_HIGH_WATER;
}

static void alloc_buffer(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    buf->base = xmalloc(READ_BUFFER);
    buf->len = READ_BUFFER;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* Reads while nobody holds the connection and output is not backed up. */
static void update_reading(struct ttrpc_conn *conn)
{
    if (conn->closing)
        return;
    bool want = conn->holds == 0 && conn->write_pending < WRITE_HIGH_WATER;
    if (want && !conn->reading) {
        if (uv_read_start((uv_stream_t *)&conn->pipe, alloc_buffer, on_read) < 0) {
            ttrpc_conn_close(conn);
            return;
        }
        conn->reading = true;
    } else if (!want && conn->reading) {
        uv_read_stop((uv_stream_t *)&conn->pipe);
        conn->reading = false;
    }
}

void ttrpc_conn_hold(struct ttrpc_conn *conn)
{
    conn->holds++;
    update_reading(conn);
}

void ttrpc_conn_release(struct ttrpc_conn *conn)
{
    if (conn->holds > 0)
        conn->holds--;
    update_reading(conn);
}

static void on_write(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct ttrpc_conn *conn = w->conn;
    bool was_full = conn->write_pending >= WRITE_HIGH_WATER;
    conn->write_pending -= w->len;
    free(w->payload);
    free(w);
    if (conn->closing)
        return;
    if (status < 0) {
        log_debug("ttrpc: write failed: %s", uv_strerror(status));
        ttrpc_conn_close(conn);
        return;
    }
    update_reading(conn);
    if (was_full && conn->write_pending < WRITE_HIGH_WATER)
        conn->handlers->writable(conn);
}

void ttrpc_conn_send(struct ttrpc_conn *conn, uint32_t stream_id, uint8_t type, uint8_t flags,
                     uint8_t *payload, size_t len)
{
    if (conn->closing) {
        free(payload);
        return;
    }
    struct write_req *w = xcalloc(1, sizeof(*w));
    w->conn = conn;
    w->payload = payload;
    w->len = TTRPC_HEADER_LEN + len;
    struct ttrpc_header h = {
        .length = (uint32_t)len, .stream_id = stream_id, .type = type, .flags = flags};
    ttrpc_header_encode(w->header, &h);
    uv_buf_t bufs[2] = {uv_buf_init((char *)w->header, TTRPC_HEADER_LEN),
                        uv_buf_init((char *)payload, (unsigned)len)};
    conn->write_pending += w->len;
    int r = uv_write(&w->req, (uv_stream_t *)&conn->pipe, bufs, len ? 2 : 1, on_write);
    if (r < 0) {
        conn->write_pending -= w->len;
        free(w->payload);
        free(w);
        log_debug("ttrpc: write failed: %s", uv_strerror(r));
        ttrpc_conn_close(conn);
        return;
    }
    update_reading(conn);
}

void ttrpc_conn_send_status(struct ttrpc_conn *conn, uint32_t stream_id, int32_t code,
                            const char *message)
{
    size_t len;
    uint8_t *p = ttrpc_response_encode(code, message, NULL, 0, &len);
    ttrpc_conn_send(conn, stream_id, TTRPC_TYPE_RESPONSE, 0, p, len);
}

/* Splits input into frames; an oversized frame is skipped byte by byte, never buffered. */
static void consume(struct ttrpc_conn *conn, const uint8_t *p, size_t n)
{
    while (n > 0 && !conn->closing) {
        if (conn->discarding) {
            size_t take = n < conn->discard_left ? n : conn->discard_left;
            conn->discard_left -= take;
            p += take;
            n -= take;
            if (conn->discard_left == 0) {
                conn->discarding = false;
                conn->handlers->oversized(conn, &conn->current);
            }
            continue;
        }
        if (conn->header_have < TTRPC_HEADER_LEN) {
            size_t take = TTRPC_HEADER_LEN - conn->header_have;
            if (take > n)
                take = n;
            memcpy(conn->header_buf + conn->header_have, p, take);
            conn->header_have += take;
            p += take;
            n -= take;
            if (conn->header_have < TTRPC_HEADER_LEN)
                break;
            ttrpc_header_decode(conn->header_buf, &conn->current);
            if (conn->current.length > TTRPC_MESSAGE_LENGTH_MAX) {
                conn->header_have = 0;
                conn->discarding = true;
                conn->discard_left = conn->current.length;
            } else if (conn->current.length == 0) {
                conn->header_have = 0;
                conn->handlers->frame(conn, &conn->current, NULL);
            } else {
                conn->payload = xmalloc(conn->current.length);
                conn->payload_have = 0;
            }
            continue;
        }
        size_t take = conn->current.length - conn->payload_have;
        if (take > n)
            take = n;
        memcpy(conn->payload + conn->payload_have, p, take);
        conn->payload_have += take;
        p += take;
        n -= take;
        if (conn->payload_have == conn->current.length) {
            conn->header_have = 0;
            uint8_t *payload = steal_ptr(conn->payload);
            conn->handlers->frame(conn, &conn->current, payload);
        }
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct ttrpc_conn *conn = stream->data;
    if (nread < 0) {
        /* EOF or an error: ttrpc has no half-close, the connection is done (as in ttrpc). */
        free(buf->base);
        if (nread != UV_EOF)
            log_debug("ttrpc: read failed: %s", uv_strerror((int)nread));
        ttrpc_conn_close(conn);
        return;
    }
    consume(conn, (const uint8_t *)buf->base, (size_t)nread);
    free(buf->base);
}

int ttrpc_conn_start(struct ttrpc_conn *conn)
{
    conn->pipe.data = conn;
    int r = uv_read_start((uv_stream_t *)&conn->pipe, alloc_buffer, on_read);
    if (r == 0)
        conn->reading = true;
    return r;
}
