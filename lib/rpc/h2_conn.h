/* An HTTP/2 connection on a unix socket: libuv I/O pumped through an nghttp2 session. */
#pragma once

#include "lib/loop/loop.h"

#include <nghttp2/nghttp2.h>
#include <stdbool.h>

struct h2_conn;

struct h2_conn_handlers {
    /* Called once, on the loop, when the connection is gone; free owner state here. */
    void (*closed)(struct h2_conn *conn);
};

struct h2_conn {
    uv_pipe_t pipe;
    nghttp2_session *session;
    struct loop *loop;
    const struct h2_conn_handlers *handlers;
    void *owner;
    size_t write_pending; /* bytes handed to uv_write, not yet written */
    bool closing;
    bool read_paused;
    bool in_flush;
    struct h2_conn *next, *prev; /* the owner's list */
};

/* Starts reading on an accepted or connected pipe. The session must be set already. */
int h2_conn_start(struct h2_conn *conn);
/* Writes whatever nghttp2 has to send; closes the connection when the session is done. */
void h2_conn_flush(struct h2_conn *conn);
/* Closes now (streams get their close handling through handlers->closed). */
void h2_conn_close(struct h2_conn *conn);
