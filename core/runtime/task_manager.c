/* The runtime v2 task manager: shims started, connected, watched, restored and torn down. */
#include "core/runtime/task_manager.h"
#include "core/events/events.h"
#include "core/metadata/containers.h"
#include "core/runtime/bundle.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/base/log.h"
#include "lib/loop/loop.h"
#include "lib/rpc/ttrpc_client.h"

#include "containerd/events/task.pb-c.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TASK(x) containerd__task__v3__##x
#define T3(x)   Containerd__Task__V3__##x

enum {
    /* containerd's io.containerd.timeout.shim.shutdown */
    SHIM_SHUTDOWN_TIMEOUT_NS = 3000000000LL,
    /* containerd's io.containerd.timeout.shim.load, for each restored shim's Connect */
    SHIM_LOAD_TIMEOUT_NS = 5000000000LL,
};

enum shim_state {
    SHIM_CREATING, /* reserved by Create: the id is taken, the task not yet visible */
    SHIM_READY,
};

struct shim {
    struct task_manager *tm;
    atomic_int refs;
    enum shim_state state;
    bool in_table;
    char *ns, *id, *bundle, *shim_path;
    struct shim_bootstrap boot;
    const char *service; /* containerd.task.v2.Task or containerd.task.v3.Task */
    struct rpc_channel *channel;
    uint32_t shim_pid;
    uv_poll_t *exit_watch; /* the shim's pidfd: it died when this fires */
    uv_pipe_t *log_pipe;   /* the bundle's `log` FIFO, copied to our stderr */
    struct shim *next;
};

struct task_manager {
    char *root, *state;
    struct shim_launch launch;
    struct loop *loop; /* shim connections and watches */
    struct event_exchange *events;
    struct metadata_db *db;
    pthread_mutex_t mu;
    struct shim *shims;
};

const char *shim_id(const struct shim *s)
{
    return s->id;
}

const char *shim_namespace(const struct shim *s)
{
    return s->ns;
}

const char *shim_bundle(const struct shim *s)
{
    return s->bundle;
}

/* ---- watches, on the loop ---- */

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void on_log(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
    if (n > 0)
        fwrite(buf->base, 1, (size_t)n, stderr);
    free(buf->base);
    if (n < 0)
        uv_read_stop(stream);
}

static void alloc_log(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = xmalloc(4096);
    buf->len = 4096;
}

struct watch_args {
    struct shim *s;
    int pidfd;
    int log_fd;
};

static void on_shim_exit(uv_poll_t *h, int status, int events);

static void start_watches_on_loop(void *arg)
{
    struct watch_args *a = arg;
    uv_loop_t *uv = loop_uv(a->s->tm->loop);
    if (a->log_fd >= 0) {
        uv_pipe_t *p = xcalloc(1, sizeof(*p));
        uv_pipe_init(uv, p, 0);
        if (uv_pipe_open(p, a->log_fd) == 0) {
            uv_read_start((uv_stream_t *)p, alloc_log, on_log);
            a->s->log_pipe = p;
        } else {
            close(a->log_fd);
            uv_close((uv_handle_t *)p, free_handle);
        }
    }
    if (a->pidfd >= 0) {
        uv_poll_t *p = xcalloc(1, sizeof(*p));
        if (uv_poll_init(uv, p, a->pidfd) == 0) {
            p->data = a->s;
            uv_poll_start(p, UV_READABLE, on_shim_exit);
            a->s->exit_watch = p;
        } else {
            close(a->pidfd);
            free(p);
        }
    }
}

static void stop_watches_on_loop(void *arg)
{
    struct shim *s = arg;
    if (s->exit_watch) {
        int fd = -1;
        uv_fileno((uv_handle_t *)s->exit_watch, &fd);
        uv_close((uv_handle_t *)s->exit_watch, free_handle);
        if (fd >= 0)
            close(fd); /* uv_poll does not own its fd */
        s->exit_watch = NULL;
    }
    if (s->log_pipe) {
        uv_close((uv_handle_t *)s->log_pipe, free_handle);
        s->log_pipe = NULL;
    }
}

/* ---- the shim table ---- */

static void shim_free(struct shim *s)
{
    loop_call_sync(s->tm->loop, stop_watches_on_loop, s);
    rpc_channel_free(s->channel);
    shim_bootstrap_clear(&s->boot);
    free(s->ns);
    free(s->id);
    free(s->bundle);
    free(s->shim_path);
    free(s);
}

void shim_unref(struct shim *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        shim_free(s);
}

static struct shim *find_locked(struct task_manager *tm, const char *ns, const char *id)
{
    for (struct shim *s = tm->shims; s; s = s->next)
        if (strcmp(s->ns, ns) == 0 && strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

/* Takes s out of the table; true when it was there (the table's reference passes to the caller). */
static bool remove_locked(struct task_manager *tm, struct shim *s)
{
    for (struct shim **p = &tm->shims; *p; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            s->next = NULL;
            s->in_table = false;
            return true;
        }
    }
    return false;
}

static bool remove_shim(struct task_manager *tm, struct shim *s)
{
    pthread_mutex_lock(&tm->mu);
    bool was = remove_locked(tm, s);
    pthread_mutex_unlock(&tm->mu);
    return was;
}

static struct shim *shim_new(struct task_manager *tm, const char *ns, const char *id)
{
    struct shim *s = xcalloc(1, sizeof(*s));
    s->tm = tm;
    atomic_init(&s->refs, 1);
    s->ns = xstrdup(ns);
    s->id = xstrdup(id);
    return s;
}

struct shim *task_manager_get(struct task_manager *tm, const char *ns, const char *id,
                              struct berth_error **err)
{
    pthread_mutex_lock(&tm->mu);
    struct shim *s = find_locked(tm, ns, id);
    if (s && s->state == SHIM_READY)
        atomic_fetch_add(&s->refs, 1);
    else
        s = NULL;
    pthread_mutex_unlock(&tm->mu);
    if (!s)
        err_make(err, ERR_NOT_FOUND, 0, "task %s not found", id);
    return s;
}

size_t task_manager_list(struct task_manager *tm, const char *ns, struct shim ***ret)
{
    size_t n = 0, cap = 0;
    struct shim **out = NULL;
    pthread_mutex_lock(&tm->mu);
    for (struct shim *s = tm->shims; s; s = s->next) {
        if (s->state != SHIM_READY || (ns && strcmp(s->ns, ns) != 0))
            continue;
        out = xreallocarray_grow(out, &cap, n + 1, sizeof(*out));
        atomic_fetch_add(&s->refs, 1);
        out[n++] = s;
    }
    pthread_mutex_unlock(&tm->mu);
    *ret = out;
    return n;
}

/* ---- calls ---- */

int shim_call(struct shim *s, const char *method, const ProtobufCMessage *request,
              const ProtobufCMessageDescriptor *response_descriptor, ProtobufCMessage **ret,
              struct rpc_call *parent, long long timeout_ns, struct berth_error **err)
{
    *ret = NULL;
    struct rpc_metadata md = {0};
    rpc_metadata_add(&md, "containerd-namespace-ttrpc", s->ns);
    /* a caller that goes away (ctr interrupted while waiting) takes the shim call with it */
    struct rpc_call_options opts = {.metadata = &md, .timeout_ns = timeout_ns, .parent = parent};
    int r = rpc_channel_unary(s->channel, s->service, method, request, response_descriptor, ret,
                              &opts, err);
    rpc_metadata_clear(&md);
    return r;
}

/* Calls that only need a status; the Empty reply is dropped. */
static int shim_call_simple(struct shim *s, const char *method, const ProtobufCMessage *request,
                            long long timeout_ns, struct berth_error **err)
{
    ProtobufCMessage *resp = NULL;
    if (shim_call(s, method, request, &google__protobuf__empty__descriptor, &resp, NULL, timeout_ns,
                  err) < 0)
        return -1;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* Connects to a shim's address and learns its pid (for the death watch). */
static int shim_connect(struct shim *s, struct berth_error **err)
{
    const char *address = s->boot.address;
    if (strncmp(address, "unix://", 7) != 0 && address[0] != '/')
        return err_make(err, ERR_NOT_IMPLEMENTED, 0,
                        "shim address %s: only unix socket paths are supported", address);
    s->service = s->boot.version >= 3 ? "containerd.task.v3.Task" : "containerd.task.v2.Task";
    s->channel = ttrpc_channel_connect(s->tm->loop, address, NULL, err);
    if (!s->channel)
        return err_wrap(err, "failed to create TTRPC connection");
    return 0;
}

static int shim_fetch_pid(struct shim *s, long long timeout_ns, struct berth_error **err)
{
    T3(ConnectRequest) req = CONTAINERD__TASK__V3__CONNECT_REQUEST__INIT;
    req.id = s->id;
    ProtobufCMessage *resp = NULL;
    if (shim_call(s, "Connect", &req.base, &TASK(connect_response__descriptor), &resp, NULL,
                  timeout_ns, err) < 0)
        return -1;
    s->shim_pid = ((T3(ConnectResponse) *)resp)->shim_pid;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* The `log` FIFO shims write their stderr to; opened read-write so a writer never blocks. */
static int open_log_fifo(const char *bundle, bool create)
{
    _cleanup_free_ char *path = xasprintf("%s/log", bundle);
    if (create && mkfifo(path, 0700) < 0 && errno != EEXIST)
        return -1;
    return open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
}

static void start_watches(struct shim *s, int log_fd)
{
    struct watch_args a = {.s = s, .pidfd = -1, .log_fd = log_fd};
    if (s->shim_pid > 0)
        a.pidfd = (int)syscall(SYS_pidfd_open, (pid_t)s->shim_pid, 0);
    loop_call_sync(s->tm->loop, start_watches_on_loop, &a);
    if (s->shim_pid > 0 && a.pidfd < 0)
        log_record(LOG_WARN, LOG_FIELDS("id", s->id, "namespace", s->ns), "shim %u is gone already",
                   s->shim_pid);
}

/* ---- dead shims ---- */

static void publish(struct task_manager *tm, const char *ns, const char *topic,
                    const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    _cleanup_free_ uint8_t *buf = xmalloc(len ? len : 1);
    protobuf_c_message_pack(msg, buf);
    _cleanup_error_ struct berth_error *err = NULL;
    char type_url[128];
    snprintf(type_url, sizeof(type_url), "%s", msg->descriptor->name);
    if (event_exchange_publish(tm->events, ns, topic, type_url, buf, len, &err) < 0)
        log_record(LOG_WARN, LOG_FIELDS("topic", topic, "error", err->message), "publish event");
}

/*
 * containerd's cleanupAfterDeadShim: the shim's delete action cleans up after it, then the
 * task's exit and delete are published (status 255 when even that failed).
 */
static void cleanup_dead_shim(struct shim *s, bool publish_events)
{
    struct task_manager *tm = s->tm;
    log_record(LOG_WARN, LOG_FIELDS("id", s->id, "namespace", s->ns),
               "cleaning up after shim disconnected");
    struct shim_exit exit = {.exit_status = 255};
    _cleanup_error_ struct berth_error *err = NULL;
    if (!s->shim_path ||
        shim_binary_delete(&tm->launch, s->shim_path, s->ns, s->id, s->bundle, &exit, &err) < 0) {
        log_record(LOG_WARN,
                   LOG_FIELDS("id", s->id, "error", err ? err->message : "no shim binary"),
                   "failed to clean up after shim disconnected");
        exit = (struct shim_exit){.exit_status = 255};
    }
    if (!exit.exited_at) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        exit.exited_at = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    }
    _cleanup_error_ struct berth_error *derr = NULL;
    if (s->bundle && bundle_delete(s->bundle, &derr) < 0)
        log_record(LOG_WARN, LOG_FIELDS("id", s->id, "error", derr->message),
                   "failed to delete bundle");
    if (!publish_events)
        return;
    Google__Protobuf__Timestamp at = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    at.seconds = exit.exited_at / 1000000000LL;
    at.nanos = (int32_t)(exit.exited_at % 1000000000LL);
    Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
    ev.container_id = s->id;
    ev.id = s->id;
    ev.pid = exit.pid;
    ev.exit_status = exit.exit_status;
    ev.exited_at = &at;
    publish(tm, s->ns, "/tasks/exit", &ev.base);
    Containerd__Events__TaskDelete del = CONTAINERD__EVENTS__TASK_DELETE__INIT;
    del.container_id = s->id;
    del.pid = exit.pid;
    del.exit_status = exit.exit_status;
    del.exited_at = &at;
    publish(tm, s->ns, "/tasks/delete", &del.base);
}

static void *dead_shim_thread(void *arg)
{
    struct shim *s = arg;
    cleanup_dead_shim(s, true);
    shim_unref(s);
    return NULL;
}

static void on_shim_exit(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct shim *s = h->data;
    uv_poll_stop(h);
    /* a shim deleted on purpose is out of the table before it exits */
    if (!remove_shim(s->tm, s))
        return;
    log_record(LOG_INFO, LOG_FIELDS("id", s->id, "namespace", s->ns), "shim disconnected");
    /* the delete action blocks (runc delete): off the loop, with the table's reference */
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, dead_shim_thread, s) != 0) {
        log_record(LOG_ERROR, LOG_FIELDS("id", s->id), "no thread to clean up a dead shim");
        atomic_fetch_sub(&s->refs, 1); /* leaks the bundle but never frees on the loop */
    }
    pthread_attr_destroy(&attr);
}

/* ---- create and delete ---- */

static int write_shim_binary_path(const char *bundle, const char *path, struct berth_error **err)
{
    _cleanup_free_ char *file = xasprintf("%s/shim-binary-path", bundle);
    return fs_write_file_atomic(file, path, strlen(path), 0600, err);
}

/* Best effort: the shim's Delete and Shutdown, for a task that failed to come up. */
static void abandon_shim(struct shim *s)
{
    if (!s->channel)
        return;
    T3(DeleteRequest) del = CONTAINERD__TASK__V3__DELETE_REQUEST__INIT;
    del.id = s->id;
    ProtobufCMessage *resp = NULL;
    if (shim_call(s, "Delete", &del.base, &TASK(delete_response__descriptor), &resp, NULL,
                  SHIM_SHUTDOWN_TIMEOUT_NS, NULL) == 0)
        protobuf_c_message_free_unpacked(resp, NULL);
    T3(ShutdownRequest) sd = CONTAINERD__TASK__V3__SHUTDOWN_REQUEST__INIT;
    sd.id = s->id;
    shim_call_simple(s, "Shutdown", &sd.base, SHIM_SHUTDOWN_TIMEOUT_NS, NULL);
}

int task_manager_create(struct task_manager *tm, const struct task_create *tc,
                        struct rpc_call *parent, uint32_t *ret_pid, struct berth_error **err)
{
    struct shim *s = shim_new(tm, tc->ns, tc->id);
    pthread_mutex_lock(&tm->mu);
    if (find_locked(tm, tc->ns, tc->id)) {
        pthread_mutex_unlock(&tm->mu);
        shim_unref(s);
        return err_make(err, ERR_ALREADY_EXISTS, 0, "task %s", tc->id);
    }
    s->state = SHIM_CREATING;
    s->in_table = true;
    s->next = tm->shims;
    tm->shims = s;
    pthread_mutex_unlock(&tm->mu);

    int log_fd = -1;
    if (shim_binary_resolve(&tm->launch, tc->runtime, &s->shim_path, err) < 0) {
        err_wrap(err, "failed to resolve runtime path");
        goto fail;
    }
    s->bundle = bundle_create(tm->root, tm->state, tc->ns, tc->id, tc->spec, tc->spec_len, err);
    if (!s->bundle)
        goto fail;
    log_fd = open_log_fifo(s->bundle, true);
    if (log_fd < 0) {
        err_make(err, err_kind_from_errno(errno), errno, "open shim log pipe");
        goto fail;
    }
    if (shim_binary_start(&tm->launch, s->shim_path, tc->ns, tc->id, s->bundle, tc->options,
                          tc->options_len, &s->boot, err) < 0 ||
        write_shim_binary_path(s->bundle, s->shim_path, err) < 0 || shim_connect(s, err) < 0 ||
        shim_bootstrap_write(s->bundle, &s->boot, err) < 0)
        goto fail;

    tc->request->id = (char *)tc->id;
    tc->request->bundle = s->bundle;
    ProtobufCMessage *resp = NULL;
    if (shim_call(s, "Create", &tc->request->base, &TASK(create_task_response__descriptor), &resp,
                  parent, 0, err) < 0) {
        err_wrap(err, "failed to create shim task");
        abandon_shim(s);
        goto fail;
    }
    uint32_t pid = ((T3(CreateTaskResponse) *)resp)->pid;
    protobuf_c_message_free_unpacked(resp, NULL);
    if (shim_fetch_pid(s, 0, err) < 0) {
        abandon_shim(s);
        goto fail;
    }
    start_watches(s, log_fd);
    pthread_mutex_lock(&tm->mu);
    s->state = SHIM_READY;
    pthread_mutex_unlock(&tm->mu);
    *ret_pid = pid;
    return 0;

fail:
    if (log_fd >= 0)
        close(log_fd);
    remove_shim(tm, s);
    if (s->bundle) {
        _cleanup_error_ struct berth_error *derr = NULL;
        if (bundle_delete(s->bundle, &derr) < 0)
            log_record(LOG_WARN, LOG_FIELDS("id", tc->id, "error", derr->message),
                       "failed to delete bundle");
    }
    shim_unref(s);
    return -1;
}

int task_manager_delete(struct task_manager *tm, const char *ns, const char *id,
                        struct rpc_call *parent, Containerd__Task__V3__DeleteResponse **ret,
                        struct berth_error **err)
{
    *ret = NULL;
    struct shim *s = task_manager_get(tm, ns, id, err);
    if (!s)
        return -1;
    T3(DeleteRequest) req = CONTAINERD__TASK__V3__DELETE_REQUEST__INIT;
    req.id = s->id;
    ProtobufCMessage *resp = NULL;
    struct berth_error *shim_err = NULL;
    if (shim_call(s, "Delete", &req.base, &TASK(delete_response__descriptor), &resp, parent, 0,
                  &shim_err) < 0) {
        /* a shim that is gone or no longer knows the task is cleaned up all the same */
        if (shim_err->kind != ERR_NOT_FOUND && shim_err->kind != ERR_UNAVAILABLE) {
            shim_unref(s);
            *err = shim_err;
            return err_wrap(err, "failed to delete task");
        }
    }
    bool owned = remove_shim(tm, s);
    T3(ShutdownRequest) sd = CONTAINERD__TASK__V3__SHUTDOWN_REQUEST__INIT;
    sd.id = s->id;
    _cleanup_error_ struct berth_error *serr = NULL;
    if (shim_call_simple(s, "Shutdown", &sd.base, SHIM_SHUTDOWN_TIMEOUT_NS, &serr) < 0 &&
        serr->kind != ERR_UNAVAILABLE)
        log_record(LOG_ERROR, LOG_FIELDS("id", id, "error", serr->message),
                   "failed to shutdown shim task and the shim might be leaked");
    loop_call_sync(tm->loop, stop_watches_on_loop, s);
    rpc_channel_free(s->channel);
    s->channel = NULL;
    _cleanup_error_ struct berth_error *derr = NULL;
    if (bundle_delete(s->bundle, &derr) < 0)
        log_record(LOG_ERROR, LOG_FIELDS("id", id, "error", derr->message),
                   "failed to delete bundle");
    if (owned)
        shim_unref(s);
    shim_unref(s);
    if (shim_err) {
        *err = shim_err;
        return err_wrap(err, "failed to delete task");
    }
    *ret = (Containerd__Task__V3__DeleteResponse *)resp;
    return 0;
}

/* ---- restore after a restart ---- */

static char *runtime_of(struct task_manager *tm, const char *ns, const char *id, const char *bundle)
{
    _cleanup_free_ char *file = xasprintf("%s/shim-binary-path", bundle);
    char *path = NULL;
    if (fs_read_small_file(file, 4096, &path, NULL) == 0)
        return path;
    struct container c;
    if (!tm->db || containers_get(tm->db, ns, id, &c, NULL) < 0)
        return NULL;
    if (c.runtime_name)
        shim_binary_resolve(&tm->launch, c.runtime_name, &path, NULL);
    container_clear(&c);
    return path;
}

static bool dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return false;
    bool empty = true;
    for (struct dirent *e; empty && (e = readdir(d));)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

static void restore_one(struct task_manager *tm, const char *ns, const char *id)
{
    _cleanup_free_ char *bundle = xasprintf("%s/%s/%s", tm->state, ns, id);
    if (dir_is_empty(bundle)) {
        rmdir(bundle);
        return;
    }
    struct shim *s = shim_new(tm, ns, id);
    s->bundle = xstrdup(bundle);
    s->shim_path = runtime_of(tm, ns, id, bundle);
    _cleanup_error_ struct berth_error *err = NULL;
    if (shim_bootstrap_read(bundle, &s->boot, &err) < 0 || shim_connect(s, &err) < 0 ||
        shim_fetch_pid(s, SHIM_LOAD_TIMEOUT_NS, &err) < 0) {
        log_record(LOG_WARN, LOG_FIELDS("id", id, "namespace", ns, "error", err->message),
                   "failed to load shim");
        cleanup_dead_shim(s, false);
        shim_unref(s);
        return;
    }
    start_watches(s, open_log_fifo(bundle, false));
    s->state = SHIM_READY;
    s->in_table = true;
    pthread_mutex_lock(&tm->mu);
    s->next = tm->shims;
    tm->shims = s;
    pthread_mutex_unlock(&tm->mu);
    log_record(LOG_INFO, LOG_FIELDS("id", id, "namespace", ns), "restored shim");
}

/* Calls fn for every <dir>/<ns>/<id> whose names do not start with '.' (deleted leftovers). */
static void each_task_dir(struct task_manager *tm, const char *dir,
                          void (*fn)(struct task_manager *, const char *, const char *))
{
    DIR *nsd = opendir(dir);
    if (!nsd)
        return;
    for (struct dirent *n; (n = readdir(nsd));) {
        if (n->d_name[0] == '.')
            continue;
        _cleanup_free_ char *nspath = xasprintf("%s/%s", dir, n->d_name);
        DIR *idd = opendir(nspath);
        if (!idd)
            continue;
        for (struct dirent *e; (e = readdir(idd));)
            if (e->d_name[0] != '.')
                fn(tm, n->d_name, e->d_name);
        closedir(idd);
    }
    closedir(nsd);
}

/* A work dir whose bundle is gone is left over from a crash (containerd removes them too). */
static void clean_work_dir(struct task_manager *tm, const char *ns, const char *id)
{
    _cleanup_free_ char *bundle = xasprintf("%s/%s/%s", tm->state, ns, id);
    if (access(bundle, F_OK) == 0)
        return;
    _cleanup_free_ char *work = xasprintf("%s/%s/%s", tm->root, ns, id);
    log_record(LOG_INFO, LOG_FIELDS("id", id, "namespace", ns), "cleaning leftover work dir");
    if (remove_tree(work) < 0)
        log_record(LOG_WARN, LOG_FIELDS("path", work), "failed to remove leftover work dir");
}

/* ---- lifetime ---- */

struct task_manager *task_manager_new(const struct task_manager_config *config,
                                      struct event_exchange *events, struct metadata_db *db,
                                      struct berth_error **err)
{
    if (fs_mkdir_p(config->root, 0711, err) < 0 || fs_mkdir_p(config->state, 0711, err) < 0)
        return NULL;
    struct task_manager *tm = xcalloc(1, sizeof(*tm));
    tm->root = xstrdup(config->root);
    tm->state = xstrdup(config->state);
    tm->launch = config->launch;
    tm->events = events;
    tm->db = db;
    pthread_mutex_init(&tm->mu, NULL);
    tm->loop = loop_new();
    if (loop_start_thread(tm->loop) < 0) {
        err_make(err, ERR_INTERNAL, errno, "start the shim I/O loop");
        loop_free(tm->loop);
        pthread_mutex_destroy(&tm->mu);
        free(tm->root);
        free(tm->state);
        free(tm);
        return NULL;
    }
    each_task_dir(tm, tm->state, restore_one);
    each_task_dir(tm, tm->root, clean_work_dir);
    return tm;
}

void task_manager_free(struct task_manager *tm)
{
    if (!tm)
        return;
    pthread_mutex_lock(&tm->mu);
    struct shim *list = tm->shims;
    tm->shims = NULL;
    pthread_mutex_unlock(&tm->mu);
    while (list) {
        struct shim *next = list->next;
        list->in_table = false;
        shim_unref(list);
        list = next;
    }
    loop_stop(tm->loop);
    loop_free(tm->loop);
    pthread_mutex_destroy(&tm->mu);
    free(tm->root);
    free(tm->state);
    free(tm);
}
