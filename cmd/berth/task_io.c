/* Client-side task IO: containerd's FIFO layout, copy threads, raw terminal, signal forwarding. */
#include "cmd/berth/task_io.h"
#include "lib/base/alloc.h"

#include "containerd/services/tasks/v1/tasks.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define TASKS "containerd.services.tasks.v1.Tasks"

struct copy_stream {
    char *path;
    int fd;  /* ours: 0, 1 or 2 */
    bool in; /* our stdin into the FIFO */
    pthread_t thread;
    bool started;
};

struct task_io {
    char *dir; /* the FIFO directory we made; NULL otherwise */
    char *paths[3];
    bool terminal;
    struct copy_stream streams[3];
    struct cli *cli;
    char *id, *exec_id;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool created;
    int refs; /* the owner, and the stdin thread while it runs (it may outlive task_io_free) */
};

static struct task_io *io_new(void)
{
    struct task_io *io = xcalloc(1, sizeof(*io));
    pthread_mutex_init(&io->lock, NULL);
    pthread_cond_init(&io->cond, NULL);
    io->refs = 1;
    for (int i = 0; i < 3; i++)
        io->paths[i] = xstrdup("");
    return io;
}

int task_io_new_fifos(const char *fifo_dir, const char *id, bool terminal, struct task_io **ret,
                      struct berth_error **err)
{
    if (!fifo_dir || !*fifo_dir)
        fifo_dir = TASK_IO_DEFAULT_FIFO_DIR;
    if (mkdir(fifo_dir, 0700) < 0 && errno != EEXIST)
        return err_make(err, ERR_UNKNOWN, errno, "mkdir %s", fifo_dir);
    char *dir = xasprintf("%s/XXXXXX", fifo_dir);
    if (!mkdtemp(dir)) {
        int saved = errno;
        free(dir);
        return err_make(err, ERR_UNKNOWN, saved, "create a FIFO directory in %s", fifo_dir);
    }
    struct task_io *io = io_new();
    io->dir = dir;
    io->terminal = terminal;
    static const char *const names[] = {"stdin", "stdout", "stderr"};
    for (int i = 0; i < 3; i++) {
        if (i == 2 && terminal)
            break;
        free(io->paths[i]);
        io->paths[i] = xasprintf("%s/%s-%s", dir, id, names[i]);
        if (mkfifo(io->paths[i], 0700) < 0) {
            int saved = errno;
            task_io_free(io, true);
            return err_make(err, ERR_UNKNOWN, saved, "mkfifo %s", io->paths[i]);
        }
    }
    *ret = io;
    return 0;
}

struct task_io *task_io_new_null(void)
{
    return io_new();
}

struct task_io *task_io_new_log_uri(const char *uri)
{
    struct task_io *io = io_new();
    free(io->paths[1]);
    free(io->paths[2]);
    io->paths[1] = xstrdup(uri);
    io->paths[2] = xstrdup(uri);
    return io;
}

struct task_io *task_io_attach(const char *stdin_path, const char *stdout_path,
                               const char *stderr_path, bool terminal)
{
    struct task_io *io = io_new();
    const char *p[3] = {stdin_path, stdout_path, stderr_path};
    for (int i = 0; i < 3; i++) {
        free(io->paths[i]);
        io->paths[i] = xstrdup(p[i] ? p[i] : "");
    }
    io->terminal = terminal;
    return io;
}

const char *task_io_stdin(const struct task_io *io)
{
    return io->paths[0];
}
const char *task_io_stdout(const struct task_io *io)
{
    return io->paths[1];
}
const char *task_io_stderr(const struct task_io *io)
{
    return io->paths[2];
}
bool task_io_terminal(const struct task_io *io)
{
    return io->terminal;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void close_stdin(struct task_io *io)
{
    pthread_mutex_lock(&io->lock);
    while (!io->created)
        pthread_cond_wait(&io->cond, &io->lock);
    pthread_mutex_unlock(&io->lock);
    Containerd__Services__Tasks__V1__CloseIORequest req =
        CONTAINERD__SERVICES__TASKS__V1__CLOSE_IOREQUEST__INIT;
    req.container_id = io->id;
    req.exec_id = io->exec_id ? io->exec_id : (char *)"";
    req.stdin = true;
    struct rpc_call_options opts = cli_call_options(io->cli);
    ProtobufCMessage *resp = NULL;
    struct berth_error *err = NULL;
    if (rpc_channel_unary(cli_channel(io->cli), TASKS, "CloseIO", &req.base,
                          &google__protobuf__empty__descriptor, &resp, &opts, &err) < 0)
        err_free(err); /* the process may be gone already, as ctr ignores */
    else
        protobuf_c_message_free_unpacked(resp, NULL);
}

static void io_unref(struct task_io *io)
{
    pthread_mutex_lock(&io->lock);
    bool last = --io->refs == 0;
    pthread_mutex_unlock(&io->lock);
    if (!last)
        return;
    for (int i = 0; i < 3; i++)
        free(io->paths[i]);
    free(io->dir);
    free(io->id);
    free(io->exec_id);
    pthread_mutex_destroy(&io->lock);
    pthread_cond_destroy(&io->cond);
    free(io);
}

static void close_fd(void *arg)
{
    close(*(int *)arg);
}

struct copy_arg {
    struct task_io *io;
    int index;
};

static void *copy_thread(void *arg)
{
    struct copy_arg *a = arg;
    struct task_io *io = a->io;
    struct copy_stream *s = &io->streams[a->index];
    free(a);
    /* a blocking open waits for the shim's end, as the fifo package's does */
    int fd = open(s->path, (s->in ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
        if (s->in)
            io_unref(io);
        return NULL;
    }
    pthread_cleanup_push(close_fd, &fd);
    char buf[32 * 1024];
    int from = s->in ? s->fd : fd, to = s->in ? fd : s->fd;
    for (;;) {
        ssize_t r = read(from, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || !write_all(to, buf, (size_t)r))
            break;
    }
    pthread_cleanup_pop(1);
    if (s->in) {
        close_stdin(io);
        io_unref(io);
    }
    return NULL;
}

void task_io_detach(struct task_io *io)
{
    /* nobody reads the output after a detach (as ctr's exit); the FIFOs stay for attach */
    for (int i = 1; i < 3; i++) {
        if (io->streams[i].started) {
            pthread_cancel(io->streams[i].thread);
            pthread_join(io->streams[i].thread, NULL);
            io->streams[i].started = false;
        }
    }
    task_io_free(io, false);
}

void task_io_start(struct task_io *io, struct cli *cli, const char *id, const char *exec_id)
{
    io->cli = cli;
    io->id = xstrdup(id);
    io->exec_id = exec_id ? xstrdup(exec_id) : NULL;
    if (!io->dir && !io->paths[1][0] && !io->paths[0][0])
        return; /* null IO */
    if (io->paths[1][0] && strstr(io->paths[1], "://"))
        return; /* a log URI: the shim writes */
    for (int i = 0; i < 3; i++) {
        struct copy_stream *s = &io->streams[i];
        if (!io->paths[i][0])
            continue;
        s->path = io->paths[i];
        s->fd = i;
        s->in = i == 0;
        struct copy_arg *a = xmalloc(sizeof(*a));
        *a = (struct copy_arg){io, i};
        if (s->in) {
            pthread_mutex_lock(&io->lock);
            io->refs++;
            pthread_mutex_unlock(&io->lock);
        }
        if (pthread_create(&s->thread, NULL, copy_thread, a) != 0) {
            free(a);
            if (s->in)
                io_unref(io);
            continue;
        }
        s->started = true;
        if (s->in) {
            pthread_detach(s->thread); /* our stdin may never end; ctr does not wait for it */
            s->started = false;
        }
    }
}

void task_io_process_created(struct task_io *io)
{
    pthread_mutex_lock(&io->lock);
    io->created = true;
    pthread_cond_broadcast(&io->cond);
    pthread_mutex_unlock(&io->lock);
}

void task_io_wait(struct task_io *io)
{
    for (int i = 1; i < 3; i++) {
        if (io->streams[i].started) {
            pthread_join(io->streams[i].thread, NULL);
            io->streams[i].started = false;
        }
    }
}

void task_io_cancel(struct task_io *io)
{
    /* a copy thread blocked in open() returns once the other end is opened (and closed) */
    for (int i = 1; i < 3; i++) {
        if (!io->streams[i].started)
            continue;
        int fd = open(io->paths[i], O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0)
            close(fd);
    }
    if (io->paths[0][0] && io->dir) {
        int fd = open(io->paths[0], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0)
            close(fd);
    }
}

void task_io_free(struct task_io *io, bool remove_fifos)
{
    if (!io)
        return;
    task_io_wait(io);
    if (remove_fifos && io->dir) {
        for (int i = 0; i < 3; i++)
            if (io->paths[i][0])
                unlink(io->paths[i]);
        rmdir(io->dir);
    }
    io_unref(io);
}

void task_io_remove_paths(const char *id, const char *const paths[3])
{
    static const char *const names[] = {"stdin", "stdout", "stderr"};
    char *dir = NULL;
    for (int i = 0; i < 3; i++) {
        if (!paths[i] || paths[i][0] != '/')
            continue;
        _cleanup_free_ char *copy = xstrdup(paths[i]);
        _cleanup_free_ char *want = xasprintf("%s-%s", id, names[i]);
        if (strcmp(basename(copy), want) != 0)
            continue;
        struct stat st;
        if (lstat(paths[i], &st) == 0 && S_ISFIFO(st.st_mode))
            unlink(paths[i]);
        if (!dir) {
            _cleanup_free_ char *copy2 = xstrdup(paths[i]);
            dir = xstrdup(dirname(copy2));
        }
    }
    if (dir)
        rmdir(dir); /* only when empty */
    free(dir);
}

/* ---- terminal ---- */

static struct termios saved_termios;
static bool termios_saved;

static void terminal_restore(void)
{
    if (termios_saved)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
}

int task_io_terminal_raw(struct berth_error **err)
{
    if (tcgetattr(STDIN_FILENO, &saved_termios) < 0)
        return err_make(err, ERR_FAILED_PRECONDITION, errno, "provided file is not a console");
    struct termios raw = saved_termios;
    cfmakeraw(&raw);
    raw.c_oflag |= OPOST | ONLCR; /* as console.SetRaw keeps output processing */
    if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
        return err_make(err, ERR_UNKNOWN, errno, "set the terminal raw");
    termios_saved = true;
    atexit(terminal_restore);
    return 0;
}

int task_io_terminal_size(unsigned *width, unsigned *height)
{
    struct winsize ws;
    if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
        return -1;
    *width = ws.ws_col;
    *height = ws.ws_row;
    return 0;
}

/* ---- signals ---- */

struct signal_arg {
    struct cli *cli;
    char *id, *exec_id;
    bool terminal;
    sigset_t set;
};

static void resize(struct signal_arg *a)
{
    unsigned w, h;
    if (task_io_terminal_size(&w, &h) < 0)
        return;
    Containerd__Services__Tasks__V1__ResizePtyRequest req =
        CONTAINERD__SERVICES__TASKS__V1__RESIZE_PTY_REQUEST__INIT;
    req.container_id = a->id;
    req.exec_id = a->exec_id;
    req.width = w;
    req.height = h;
    struct rpc_call_options opts = cli_call_options(a->cli);
    ProtobufCMessage *resp = NULL;
    struct berth_error *err = NULL;
    if (rpc_channel_unary(cli_channel(a->cli), TASKS, "ResizePty", &req.base,
                          &google__protobuf__empty__descriptor, &resp, &opts, &err) < 0) {
        fprintf(stderr, "berth: resize pty: %s\r\n", err->message);
        err_free(err);
    } else {
        protobuf_c_message_free_unpacked(resp, NULL);
    }
}

static void *signal_thread(void *arg)
{
    struct signal_arg *a = arg;
    if (a->terminal)
        resize(a); /* HandleConsoleResize starts with the current size */
    for (;;) {
        int sig;
        if (sigwait(&a->set, &sig) != 0)
            continue;
        if (sig == SIGWINCH) {
            if (a->terminal)
                resize(a);
            continue;
        }
        if (a->terminal) { /* nothing is forwarded with a terminal: a stop signal stops us */
            terminal_restore();
            _exit(128 + sig);
        }
        Containerd__Services__Tasks__V1__KillRequest req =
            CONTAINERD__SERVICES__TASKS__V1__KILL_REQUEST__INIT;
        req.container_id = a->id;
        req.exec_id = a->exec_id;
        req.signal = (uint32_t)sig;
        struct rpc_call_options opts = cli_call_options(a->cli);
        ProtobufCMessage *resp = NULL;
        struct berth_error *err = NULL;
        if (rpc_channel_unary(cli_channel(a->cli), TASKS, "Kill", &req.base,
                              &google__protobuf__empty__descriptor, &resp, &opts, &err) < 0) {
            bool gone = err->kind == ERR_NOT_FOUND;
            if (!gone)
                fprintf(stderr, "berth: forward signal %d: %s\n", sig, err->message);
            err_free(err);
            if (gone)
                return NULL;
        } else {
            protobuf_c_message_free_unpacked(resp, NULL);
        }
    }
    return NULL;
}

static void forwarded_set(sigset_t *set)
{
    sigfillset(set);
    static const int kept[] = {SIGCHLD, SIGPIPE, SIGURG,  SIGSEGV, SIGBUS, SIGFPE,
                               SIGILL,  SIGTRAP, SIGABRT, SIGKILL, SIGSTOP};
    for (size_t i = 0; i < ARRAY_SIZE(kept); i++)
        sigdelset(set, kept[i]);
}

void task_signals_block(void)
{
    sigset_t set;
    forwarded_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void task_signals_start(struct cli *cli, const char *id, const char *exec_id, bool terminal)
{
    struct signal_arg *a = xcalloc(1, sizeof(*a));
    a->cli = cli;
    a->id = xstrdup(id);
    a->exec_id = xstrdup(exec_id ? exec_id : "");
    a->terminal = terminal;
    forwarded_set(&a->set);
    pthread_t t;
    if (pthread_create(&t, NULL, signal_thread, a) == 0)
        pthread_detach(t);
}
