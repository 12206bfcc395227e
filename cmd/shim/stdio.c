/*
 * Process stdio on the loop: pipes (or a pty) between runc's process and the client's FIFOs,
 * files or a logging binary. Output FIFOs keep a reader of our own open so a departed client
 * blocks the container (as the reference does) instead of killing it with SIGPIPE; stdin ends
 * with CloseIO.
 */
#include "cmd/shim/shim.h"
#include "cmd/shim/util.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

/* Per sink: stop reading its sources beyond this much unwritten output. */
enum { SINK_HIGH_WATER = 1 << 20, READ_CHUNK = 32 << 10 };

struct source;

/* Where output goes: a FIFO, a file, or a pipe/pty towards the process (stdin). */
struct sink {
    int fd;
    int keep_fd;  /* FIFOs: our own other end, kept open */
    bool is_file; /* regular files cannot be polled: written directly */
    bool broken;  /* write failed for good: output is dropped */
    uv_poll_t *poll;
    char *buf;
    size_t len, cap;
    int refs; /* sources feeding it */
    struct source *sources[2];
};

struct source {
    int fd;
    uv_poll_t *poll;
    bool paused;
    struct sink *sink;
    struct source **slot; /* the pio's pointer to us, cleared when we go */
};

struct pio {
    struct process *p;
    struct source *out, *err, *in;
    int runc_fds[3]; /* handed to runc (closed by runc_run) */
    char *console_dir, *console_path;
    int console_listen;
    int master;
};

static void on_poll_closed(uv_handle_t *h)
{
    free(h);
}

static void poll_stop_close(uv_poll_t **pp)
{
    if (*pp) {
        uv_close((uv_handle_t *)*pp, on_poll_closed);
        *pp = NULL;
    }
}

static void source_poll(struct source *s);
static void sink_unref(struct sink *k);

static void sink_close(struct sink *k)
{
    poll_stop_close(&k->poll);
    if (k->fd >= 0)
        close(k->fd);
    if (k->keep_fd >= 0)
        close(k->keep_fd);
    free(k->buf);
    free(k);
}

static void sink_unref(struct sink *k)
{
    if (--k->refs > 0)
        return;
    if (k->len && !k->broken && k->poll)
        return; /* closed by the flush that empties it */
    sink_close(k);
}

static void sink_resume_sources(struct sink *k)
{
    for (int i = 0; i < 2; i++)
        if (k->sources[i] && k->sources[i]->paused) {
            k->sources[i]->paused = false;
            source_poll(k->sources[i]);
        }
}

static void on_sink_writable(uv_poll_t *h, int status, int events);

/* Writes what it can; polls for the rest. */
static void sink_flush(struct sink *k)
{
    while (k->len && !k->broken) {
        ssize_t n = write(k->fd, k->buf, k->len);
        if (n > 0) {
            memmove(k->buf, k->buf + n, k->len - (size_t)n);
            k->len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN && !k->is_file) {
            if (!k->poll) {
                k->poll = xcalloc(1, sizeof(*k->poll));
                uv_poll_init(loop_uv(shim_global->loop), k->poll, k->fd);
                k->poll->data = k;
            }
            uv_poll_start(k->poll, UV_WRITABLE, on_sink_writable);
            return;
        }
        k->broken = true;
        k->len = 0;
    }
    if (k->poll)
        uv_poll_stop(k->poll);
    if (k->refs == 0) {
        sink_close(k);
        return;
    }
    sink_resume_sources(k);
}

static void on_sink_writable(uv_poll_t *h, int status, int events)
{
    struct sink *k = h->data;
    if (status < 0)
        k->broken = true, k->len = 0;
    sink_flush(k);
}

static void sink_push(struct sink *k, const char *data, size_t n)
{
    if (k->broken)
        return;
    if (k->len + n > k->cap) {
        k->cap = (k->len + n) * 2;
        k->buf = xrealloc(k->buf, k->cap);
    }
    memcpy(k->buf + k->len, data, n);
    k->len += n;
    if (!k->poll || !uv_is_active((uv_handle_t *)k->poll))
        sink_flush(k);
}

static void source_close(struct source *s)
{
    if (!s)
        return;
    if (s->slot)
        *s->slot = NULL;
    poll_stop_close(&s->poll);
    if (s->fd >= 0)
        close(s->fd);
    if (s->sink) {
        for (int i = 0; i < 2; i++)
            if (s->sink->sources[i] == s)
                s->sink->sources[i] = NULL;
        sink_unref(s->sink);
    }
    free(s);
}

/* Reads until EAGAIN (or the sink is full); returns false at EOF or error. */
static bool source_pump(struct source *s)
{
    char buf[READ_CHUNK];
    for (;;) {
        if (s->sink->len >= SINK_HIGH_WATER && !s->sink->broken) {
            s->paused = true;
            if (s->poll)
                uv_poll_stop(s->poll);
            return true;
        }
        ssize_t n = read(s->fd, buf, sizeof(buf));
        if (n > 0) {
            sink_push(s->sink, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN;
    }
}

static void on_source_readable(uv_poll_t *h, int status, int events)
{
    struct source *s = h->data;
    if (status >= 0 && source_pump(s))
        return;
    /* EOF (or EIO from a pty whose other side is gone): this stream is done */
    source_close(s);
}

static void source_poll(struct source *s)
{
    if (!s->poll) {
        s->poll = xcalloc(1, sizeof(*s->poll));
        uv_poll_init(loop_uv(shim_global->loop), s->poll, s->fd);
        s->poll->data = s;
    }
    uv_poll_start(s->poll, UV_READABLE | UV_DISCONNECT, on_source_readable);
}

static struct source *source_new(int fd, struct sink *k, struct source **slot)
{
    struct source *s = xcalloc(1, sizeof(*s));
    s->fd = fd;
    s->sink = k;
    s->slot = slot;
    *slot = s;
    k->refs++;
    for (int i = 0; i < 2; i++)
        if (!k->sources[i]) {
            k->sources[i] = s;
            break;
        }
    return s;
}

static struct sink *sink_new(int fd, int keep_fd, bool is_file)
{
    struct sink *k = xcalloc(1, sizeof(*k));
    k->fd = fd;
    k->keep_fd = keep_fd;
    k->is_file = is_file;
    return k;
}

/* An output FIFO: our own reader first, so the non-blocking writer open cannot fail. */
static struct sink *sink_open_fifo(const char *path, struct berth_error **err)
{
    int r = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (r < 0) {
        err_make(err, err_kind_from_errno(errno), errno, "open fifo %s", path);
        return NULL;
    }
    int w = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (w < 0) {
        err_make(err, err_kind_from_errno(errno), errno, "open fifo %s for writing", path);
        close(r);
        return NULL;
    }
    return sink_new(w, r, false);
}

static struct sink *sink_open_file(const char *path, struct berth_error **err)
{
    _cleanup_free_ char *dir = xstrdup(path);
    if (fs_mkdir_p(dirname(dir), 0755, err) < 0)
        return NULL;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        err_make(err, err_kind_from_errno(errno), errno, "open %s", path);
        return NULL;
    }
    return sink_new(fd, -1, true);
}

static int make_pipe(int fds[2], struct berth_error **err)
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "pipe");
    return 0;
}

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int *pio_runc_fds(struct pio *io)
{
    return io->runc_fds;
}

struct pio *pio_new(struct process *p, char **ret_console_socket, struct berth_error **err)
{
    struct pio *io = xcalloc(1, sizeof(*io));
    io->p = p;
    io->console_listen = io->master = -1;
    for (int i = 0; i < 3; i++)
        io->runc_fds[i] = -1;
    *ret_console_socket = NULL;
    const struct runc_options *o = &p->c->opts;
    struct stdio_uri uri = {0};
    if (shim_stdio_uri_parse(p->stdout_path ? p->stdout_path : "", &uri, err) < 0)
        goto fail;

    if (p->terminal) {
        char tmpl[] = "/tmp/pty-XXXXXX";
        if (!mkdtemp(tmpl)) {
            err_make(err, err_kind_from_errno(errno), errno, "create console socket dir");
            goto fail;
        }
        io->console_dir = xstrdup(tmpl);
        io->console_path = xasprintf("%s/pty.sock", tmpl);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", io->console_path);
        io->console_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (io->console_listen < 0 || bind(io->console_listen, (void *)&sa, sizeof(sa)) < 0 ||
            listen(io->console_listen, 1) < 0) {
            err_make(err, err_kind_from_errno(errno), errno,
                     "failed to create OCI runtime console socket");
            goto fail;
        }
        *ret_console_socket = io->console_path;
    } else if (uri.kind == STDIO_BINARY) {
        int out[2] = {-1, -1}, errp[2] = {-1, -1}, ready[2] = {-1, -1};
        if (make_pipe(out, err) < 0 || make_pipe(errp, err) < 0 || make_pipe(ready, err) < 0) {
            for (int i = 0; i < 2; i++) {
                if (out[i] >= 0)
                    close(out[i]);
                if (errp[i] >= 0)
                    close(errp[i]);
                if (ready[i] >= 0)
                    close(ready[i]);
            }
            goto fail;
        }
        const char **argv = xcalloc(uri.n_args + 2, sizeof(*argv));
        argv[0] = uri.path;
        for (size_t i = 0; i < uri.n_args; i++)
            argv[i + 1] = uri.args[i];
        _cleanup_free_ char *env_id = xasprintf("CONTAINER_ID=%s", p->c->id);
        _cleanup_free_ char *env_ns = xasprintf("CONTAINER_NAMESPACE=%s", shim_global->namespace);
        const char *env[] = {env_id, env_ns, NULL};
        int extra[] = {out[0], errp[0], ready[1]};
        struct child_spec spec = {
            .argv = argv,
            .fds = {-1, -1, -1},
            .extra = extra,
            .n_extra = 3,
            .env = env,
            /* as the reference: the logger's environment is these two variables only */
            .env_only = true};
        pid_t pid = child_spawn(&spec, err);
        free(argv);
        close(out[0]);
        close(errp[0]);
        close(ready[1]);
        if (pid < 0) {
            close(out[1]), close(errp[1]), close(ready[0]);
            err_wrap(err, "failed to start binary process");
            goto fail;
        }
        /* Wait until the logging binary says it is ready (it closes fd 5). */
        char b;
        while (read(ready[0], &b, 1) < 0 && errno == EINTR)
            ;
        close(ready[0]);
        io->runc_fds[1] = out[1];
        io->runc_fds[2] = errp[1];
    } else if (uri.kind != STDIO_NULL || (p->stdin_path && *p->stdin_path)) {
        struct sink *out_sink = NULL, *err_sink = NULL;
        if (uri.kind == STDIO_FILE) {
            out_sink = sink_open_file(uri.path, err);
            if (!out_sink)
                goto fail;
            err_sink = out_sink;
        } else {
            if (p->stdout_path && *p->stdout_path &&
                !(out_sink = sink_open_fifo(p->stdout_path, err)))
                goto fail;
            if (p->stderr_path && *p->stderr_path) {
                if (out_sink && p->stdout_path && strcmp(p->stdout_path, p->stderr_path) == 0)
                    err_sink = out_sink;
                else if (!(err_sink = sink_open_fifo(p->stderr_path, err))) {
                    if (out_sink)
                        sink_close(out_sink);
                    goto fail;
                }
            }
        }
        struct sink *sinks[2] = {out_sink, err_sink};
        struct source **slots[2] = {&io->out, &io->err};
        for (int i = 0; i < 2; i++) {
            if (!sinks[i])
                continue;
            int fds[2];
            if (make_pipe(fds, err) < 0)
                goto fail;
            if (o->io_uid || o->io_gid)
                (void)!fchown(fds[1], o->io_uid, o->io_gid);
            set_nonblock(fds[0]);
            source_new(fds[0], sinks[i], slots[i]);
            io->runc_fds[i + 1] = fds[1];
        }
        if (p->stdin_path && *p->stdin_path) {
            int fds[2];
            if (make_pipe(fds, err) < 0)
                goto fail;
            if (o->io_uid || o->io_gid)
                (void)!fchown(fds[0], o->io_uid, o->io_gid);
            io->runc_fds[0] = fds[0];
            set_nonblock(fds[1]);
            io->in = xcalloc(1, sizeof(*io->in)); /* its FIFO side opens in pio_start */
            io->in->fd = -1;
            io->in->slot = &io->in;
            io->in->sink = sink_new(fds[1], -1, false);
            io->in->sink->refs = 1;
            io->in->sink->sources[0] = io->in;
        }
    }
    shim_stdio_uri_clear(&uri);
    return io;
fail:
    shim_stdio_uri_clear(&uri);
    pio_free(io);
    return NULL;
}

/* Receives the pty master runc sent over the console socket. */
static int receive_console(struct pio *io, struct berth_error **err)
{
    _cleanup_close_ int conn = accept4(io->console_listen, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0)
        return err_make(err, ERR_INTERNAL, errno, "failed to retrieve console master");
    char data[256];
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control,
                         .msg_controllen = sizeof(control)};
    ssize_t n;
    while ((n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&msg) : NULL;
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
        c->cmsg_len != CMSG_LEN(sizeof(int)))
        return err_make(err, ERR_INTERNAL, 0, "failed to retrieve console master: no fd received");
    memcpy(&io->master, CMSG_DATA(c), sizeof(int));
    return 0;
}

static void console_cleanup(struct pio *io)
{
    if (io->console_listen >= 0) {
        close(io->console_listen);
        io->console_listen = -1;
    }
    if (io->console_path) {
        unlink(io->console_path);
        rmdir(io->console_dir);
        free(io->console_path);
        free(io->console_dir);
        io->console_path = io->console_dir = NULL;
    }
}

int pio_start(struct pio *io, struct berth_error **err)
{
    struct process *p = io->p;
    if (p->terminal) {
        int r = receive_console(io, err);
        console_cleanup(io);
        if (r < 0)
            return -1;
        set_nonblock(io->master);
        if (p->stdout_path && *p->stdout_path) {
            struct sink *k = sink_open_fifo(p->stdout_path, err);
            if (!k)
                return -1;
            source_new(fcntl(io->master, F_DUPFD_CLOEXEC, 3), k, &io->out);
            set_nonblock(io->out->fd);
        }
        if (p->stdin_path && *p->stdin_path) {
            io->in = xcalloc(1, sizeof(*io->in));
            io->in->fd = -1;
            io->in->slot = &io->in;
            io->in->sink = sink_new(fcntl(io->master, F_DUPFD_CLOEXEC, 3), -1, false);
            io->in->sink->refs = 1;
            io->in->sink->sources[0] = io->in;
        }
    }
    if (io->in) {
        /* Our own writer keeps the FIFO from reading EOF when the client's goes: CloseIO ends it.
         */
        int r = open(p->stdin_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        int w = r >= 0 ? open(p->stdin_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC) : -1;
        if (w < 0) {
            int e = errno;
            if (r >= 0)
                close(r);
            return err_make(err, err_kind_from_errno(e), e, "failed to open stdin fifo %s",
                            p->stdin_path);
        }
        io->in->fd = r;
        io->in->sink->keep_fd = -1;
        /* the writer is kept on the source side: closed with it */
        io->in->sink->keep_fd = w;
        source_poll(io->in);
    }
    if (io->out)
        source_poll(io->out);
    if (io->err)
        source_poll(io->err);
    return 0;
}

void pio_drain(struct pio *io)
{
    if (!io)
        return;
    struct source *srcs[2] = {io->out, io->err};
    for (int i = 0; i < 2; i++) {
        struct source *s = srcs[i];
        if (!s)
            continue;
        bool more = source_pump(s);
        /* A pty is done with its process; a pipe may still have writers (children): keep it. */
        if (!more || io->p->terminal)
            source_close(s);
    }
    if (io->p->terminal && io->master >= 0) {
        close(io->master);
        io->master = -1;
    }
}

void pio_close_stdin(struct pio *io)
{
    if (!io || !io->in)
        return;
    struct source *in = io->in;
    if (in->fd >= 0)
        source_pump(in); /* what the client wrote before closing */
    source_close(in);
}

int pio_resize(struct pio *io, unsigned width, unsigned height, struct berth_error **err)
{
    if (!io || io->master < 0)
        return 0;
    struct winsize ws = {.ws_row = (unsigned short)height, .ws_col = (unsigned short)width};
    if (ioctl(io->master, TIOCSWINSZ, &ws) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "resize pty");
    return 0;
}

void pio_free(struct pio *io)
{
    if (!io)
        return;
    source_close(io->out);
    source_close(io->err);
    if (io->in) {
        if (io->in->fd < 0) { /* never started */
            io->in->slot = NULL;
            struct sink *k = io->in->sink;
            k->refs = 0;
            sink_close(k);
            free(io->in);
        } else {
            source_close(io->in);
        }
    }
    for (int i = 0; i < 3; i++)
        if (io->runc_fds[i] >= 0)
            close(io->runc_fds[i]);
    console_cleanup(io);
    if (io->master >= 0)
        close(io->master);
    free(io);
}
