/* A ttrpc connection on a unix socket: libuv I/O split into frames, with bounded buffering. */
#pragma once

#include "lib/loop/loop.h"
#include "lib/rpc/ttrpc_codec.h"

#include <stdbool.h>

struct ttrpc_conn;

struct ttrpc_conn_handlers {
    /* A complete frame; the handler owns payload (NULL when the length is 0). */
    void (*frame)(struct ttrpc_conn *conn, const struct ttrpc_header *header, uint8_t *payload);
    /* A frame longer than TTRPC_MESSAGE_LENGTH_MAX was read and dropped. */
    void (*oversized)(struct ttrpc_conn *conn, const struct ttrpc_header *header);
    /* Queued output fell below the high-water mark: streams waiting to write may go on. */
    void (*writable)(struct ttrpc_conn *conn);
    /* Called once, on the loop, when the connection is gone; free owner state here. */
    void (*closed)(struct ttrpc_conn *conn);
};

struct ttrpc_conn {
    uv_pipe_t pipe;
    struct loop *loop;
    const struct ttrpc_conn_handlers *handlers;
    void *owner;
    /* the frame being read */
    uint8_t header_buf[TTRPC_HEADER_LEN];
    size_t header_have;
    struct ttrpc_header current;
    uint8_t *payload;
    size_t payload_have;
    size_t discard_left;
    bool discarding;
    /* output and read pacing */
    size_t write_pending; /* bytes handed to uv_write, not yet written */
    unsigned holds;       /* streams whose unread input is over the high-water mark */
    bool reading;
    bool closing;
    struct ttrpc_conn *next, *prev; /* the owner's list */
};

void ttrpc_conn_init(struct ttrpc_conn *conn, struct loop *loop,
                     const struct ttrpc_conn_handlers *handlers, void *owner);
/* Starts reading on an accepted or opened pipe (conn->pipe must be initialised and open). */
int ttrpc_conn_start(struct ttrpc_conn *conn);
/* Queues one frame; takes ownership of payload (may be NULL when len is 0). */
void ttrpc_conn_send(struct ttrpc_conn *conn, uint32_t stream_id, uint8_t type, uint8_t flags,
                     uint8_t *payload, size_t len);
/* Sends a Response frame carrying only a status. */
void ttrpc_conn_send_status(struct ttrpc_conn *conn, uint32_t stream_id, int32_t code,
                            const char *message);
/* Whether more output may be queued now (below the high-water mark and not closing). */
bool ttrpc_conn_writable(const struct ttrpc_conn *conn);
/* A stream's reader is behind: stop reading until every hold is released. */
void ttrpc_conn_hold(struct ttrpc_conn *conn);
void ttrpc_conn_release(struct ttrpc_conn *conn);
/* Closes now; queued output is dropped, handlers->closed runs later on the loop. */
void ttrpc_conn_close(struct ttrpc_conn *conn);
