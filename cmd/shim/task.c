/*
 * The task service (containerd.task.v2.Task and v3.Task share it): containers and their
 * processes, lifecycle state, exits and their events. Handlers run inline on the loop; those that
 * run runc return RPC_DEFERRED and finish when runc exits.
 */
#include "cmd/shim/task.h"
#include "cmd/shim/util.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/base/log.h"
#include "proto/containerd/events/task.pb-c.h"
#include "proto/containerd/runtime/task/v3/shim.pb-c.h"
#include "proto/containerd/types/runc/options/oci.pb-c.h"
#include "proto/google/protobuf/empty.pb-c.h"

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct shim *shim_global;

Google__Protobuf__Timestamp *ts_of(Google__Protobuf__Timestamp *ts, const struct timespec *t)
{
    google__protobuf__timestamp__init(ts);
    ts->seconds = t->tv_sec;
    ts->nanos = (int32_t)t->tv_nsec;
    return ts;
}

int send_reply(struct rpc_call *call, const ProtobufCMessage *m, struct berth_error **err)
{
    return rpc_call_send(call, m, err);
}

int reply_empty(struct rpc_call *call, struct berth_error **err)
{
    Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
    return send_reply(call, &e.base, err);
}

/* Finishes a deferred call with its reply or error. */
void finish(struct rpc_call *call, const ProtobufCMessage *m, const struct berth_error *e)
{
    struct berth_error *err = NULL;
    if (!e && m && send_reply(call, m, &err) < 0)
        e = err;
    rpc_call_complete(call, e);
    err_free(err);
    rpc_call_unref(call);
}

void finish_empty(struct rpc_call *call, const struct berth_error *e)
{
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    finish(call, &empty.base, e);
}

/* ---- lookups ---- */

struct container *container_find(const char *id)
{
    for (struct container *c = shim_global->containers; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

int get_container(const char *id, struct container **ret, struct berth_error **err)
{
    *ret = container_find(id);
    if (!*ret)
        return err_make(err, ERR_NOT_FOUND, 0, "container not created");
    return 0;
}

struct process *exec_find(struct container *c, const char *exec_id)
{
    for (struct process *p = c->execs; p; p = p->next)
        if (strcmp(p->id, exec_id) == 0)
            return p;
    return NULL;
}

int get_process(struct container *c, const char *exec_id, struct process **ret,
                struct berth_error **err)
{
    if (!exec_id || !*exec_id) {
        *ret = c->init;
        return 0;
    }
    *ret = exec_find(c, exec_id);
    if (!*ret)
        return err_make(err, ERR_NOT_FOUND, 0, "process %s", exec_id);
    return 0;
}

static struct process *process_by_pid(pid_t pid, struct container **ret_c)
{
    for (struct container *c = shim_global->containers; c; c = c->next) {
        if (c->init && c->init->pid == pid && !c->init->exited) {
            *ret_c = c;
            return c->init;
        }
        for (struct process *p = c->execs; p; p = p->next)
            if (p->pid == pid && !p->exited) {
                *ret_c = c;
                return p;
            }
    }
    return NULL;
}

static void process_free(struct process *p)
{
    if (!p)
        return;
    pio_free(p->io);
    for (struct waiter *w = p->waiters; w;) {
        struct waiter *next = w->next;
        struct berth_error *e = NULL;
        err_make(&e, ERR_NOT_FOUND, 0, "process %s deleted", p->id);
        rpc_call_complete(w->call, e);
        err_free(e);
        rpc_call_unref(w->call);
        free(w);
        w = next;
    }
    free(p->id);
    free(p->stdin_path);
    free(p->stdout_path);
    free(p->stderr_path);
    free(p->spec_json);
    free(p);
}

static void container_free(struct container *c)
{
    process_free(c->init);
    while (c->execs) {
        struct process *p = c->execs;
        c->execs = p->next;
        process_free(p);
    }
    container_cgroup_close(c);
    runc_options_clear(&c->opts);
    free(c->id);
    free(c->bundle);
    free(c);
}

static void container_unlink(struct container *c)
{
    struct container **pp = &shim_global->containers;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
}

/* ---- exits ---- */

static void publish_exit(struct container *c, struct process *p)
{
    Google__Protobuf__Timestamp ts;
    Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
    ev.container_id = c->id;
    ev.id = p->id;
    ev.pid = (uint32_t)p->pid;
    ev.exit_status = (uint32_t)p->exit_status;
    ev.exited_at = ts_of(&ts, &p->exited_at);
    events_publish("/tasks/exit", &ev.base);
    /* Wait calls end only now, after the event: clients see exit before their wait returns. */
    T(WaitResponse) resp = CONTAINERD__TASK__V3__WAIT_RESPONSE__INIT;
    resp.exit_status = (uint32_t)p->exit_status;
    resp.exited_at = &ts;
    while (p->waiters) {
        struct waiter *w = p->waiters;
        p->waiters = w->next;
        finish(w->call, &resp.base, NULL);
        free(w);
    }
}

static void init_exit_publish(struct container *c)
{
    c->init_exit_waiting = false;
    publish_exit(c, c->init);
}

static void kill_all(struct container *c)
{
    const char *args[] = {"kill", "--all", c->id, "9", NULL};
    struct berth_error *err = NULL;
    /* fire and forget: the exits arrive through the reaper */
    if (runc_run(c, args, NULL, "kill all", runc_ignore, NULL, &err) < 0) {
        log_warn("failed to kill init's children: %s", err->message);
        err_free(err);
    }
}

void runc_ignore(void *arg, const char *out, size_t len, const struct berth_error *e)
{
    if (e)
        log_debug("runc: %s", e->message);
}

/* Publishes an exit that was recorded (after its start event, after draining output). */
static void process_exit_handle(struct container *c, struct process *p)
{
    p->state = PROC_STOPPED;
    pio_drain(p->io);
    if (p->is_init) {
        container_oom_flush(c); /* an OOM kill is reported before the exit it caused */
        if (c->kill_all_on_exit)
            kill_all(c);
        /* Execs die with init (its pid namespace or the kill above); init's exit goes last. */
        for (struct process *e = c->execs; e; e = e->next)
            if (e->pid > 0 && !e->exited)
                kill(e->pid, SIGKILL);
        if (c->running_execs > 0) {
            c->init_exit_waiting = true;
            return;
        }
        publish_exit(c, p);
        return;
    }
    publish_exit(c, p);
    if (p->counted) {
        p->counted = false;
        if (--c->running_execs == 0 && c->init_exit_waiting)
            init_exit_publish(c);
    }
}

static void process_exited(struct container *c, struct process *p, int status)
{
    p->exited = true;
    p->exit_status = child_exit_code(status);
    clock_gettime(CLOCK_REALTIME, &p->exited_at);
    if (p->starting) { /* the start event goes first; start's completion publishes this */
        p->exit_held = true;
        return;
    }
    process_exit_handle(c, p);
}

void task_on_exit(pid_t pid, int status)
{
    struct container *c = NULL;
    struct process *p = process_by_pid(pid, &c);
    if (p)
        process_exited(c, p, status);
    else
        child_note_unclaimed(pid, status);
}

/* A pid just learned from a pid file: its exit may have been reaped already. */
static void process_set_pid(struct container *c, struct process *p, pid_t pid)
{
    p->pid = pid;
    int status;
    if (child_claim_exit(pid, &status))
        process_exited(c, p, status);
}

/* ---- Create ---- */

struct create_op {
    struct rpc_call *call;
    struct container *c;
    T(CreateTaskRequest) * req; /* the call's, alive while the call is */
};

static bool spec_has_own_pid_ns(const char *bundle)
{
    _cleanup_free_ char *path = xasprintf("%s/config.json", bundle);
    _cleanup_free_ char *data = NULL;
    if (fs_read_small_file(path, 16 << 20, &data, NULL) < 0)
        return true;
    struct json_object *root = json_tokener_parse(data), *linux_, *nss;
    bool own = false;
    if (root && json_object_object_get_ex(root, "linux", &linux_) &&
        json_object_object_get_ex(linux_, "namespaces", &nss) &&
        json_object_is_type(nss, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(nss); i++) {
            struct json_object *ns = json_object_array_get_idx(nss, i), *type, *path_;
            if (json_object_object_get_ex(ns, "type", &type) &&
                strcmp(json_object_get_string(type), "pid") == 0)
                own = !json_object_object_get_ex(ns, "path", &path_) ||
                      json_object_get_string_len(path_) == 0;
        }
    }
    json_object_put(root);
    return own;
}

static void create_fail(struct create_op *op, const struct berth_error *e)
{
    struct container *c = op->c;
    struct container **pp = &shim_global->creating;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    if (c->rootfs_mounted)
        rootfs_unmount(c->bundle);
    container_free(c);
    finish(op->call, NULL, e);
    free(op);
}

static void create_done(void *arg, const char *out, size_t len, const struct berth_error *error)
{
    struct create_op *op = arg;
    struct container *c = op->c;
    struct process *p = c->init;
    struct berth_error *err = NULL;
    if (error) {
        create_fail(op, error);
        return;
    }
    _cleanup_free_ char *pid_file = runc_pid_file(c, p);
    pid_t pid;
    if (runc_read_pid(pid_file, &pid, &err) < 0 || pio_start(p->io, &err) < 0) {
        const char *args[] = {"delete", "--force", c->id, NULL};
        runc_run(c, args, NULL, "delete", runc_ignore, NULL, NULL);
        create_fail(op, err);
        err_free(err);
        return;
    }
    /* from "creating" to the live list */
    struct container **pp = &shim_global->creating;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    c->next = shim_global->containers;
    shim_global->containers = c;
    p->state = PROC_CREATED;

    const T(CreateTaskRequest) *r = op->req;
    Containerd__Events__TaskIO tio = CONTAINERD__EVENTS__TASK_IO__INIT;
    tio.stdin = r->stdin;
    tio.stdout = r->stdout;
    tio.stderr = r->stderr;
    tio.terminal = r->terminal;
    Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
    ev.container_id = c->id;
    ev.bundle = r->bundle;
    ev.n_rootfs = r->n_rootfs;
    ev.rootfs = r->rootfs;
    ev.io = &tio;
    ev.checkpoint = r->checkpoint;
    ev.pid = (uint32_t)pid;
    p->pid = pid;
    container_cgroup_open(c, pid);
    events_publish("/tasks/create", &ev.base);

    T(CreateTaskResponse) resp = CONTAINERD__TASK__V3__CREATE_TASK_RESPONSE__INIT;
    resp.pid = (uint32_t)pid;
    finish(op->call, &resp.base, NULL);
    free(op);
    process_set_pid(c, p, pid);
}

static int task_create(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
                       struct berth_error **err)
{
    T(CreateTaskRequest) *r = (void *)msg;
    if (!shim_safe_name(r->id))
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "invalid container id %s", r->id);
    if (!r->bundle || r->bundle[0] != '/')
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "bundle must be an absolute path");
    if (container_find(r->id))
        return err_make(err, ERR_ALREADY_EXISTS, 0, "container %s", r->id);
    for (struct container *k = shim_global->creating; k; k = k->next)
        if (strcmp(k->id, r->id) == 0)
            return err_make(err, ERR_ALREADY_EXISTS, 0, "container %s", r->id);
    if (r->checkpoint && *r->checkpoint)
        return err_make(err, ERR_NOT_IMPLEMENTED, 0, "restore from a checkpoint");

    struct container *c = xcalloc(1, sizeof(*c));
    struct process *p = NULL;
    _cleanup_free_ char *pid_file = NULL;
    c->id = xstrdup(r->id);
    c->bundle = xstrdup(r->bundle);
    runc_options_defaults(&c->opts, c->bundle, shim_global->namespace);
    if (r->options && r->options->type_url &&
        runc_options_from_any(&c->opts, &r->options->value, r->options->type_url, err) < 0)
        goto fail;
    if (runc_options_save(&c->opts, c->bundle, err) < 0)
        goto fail;
    c->kill_all_on_exit = !spec_has_own_pid_ns(c->bundle);

    p = xcalloc(1, sizeof(*p));
    c->init = p;
    p->c = c;
    p->is_init = true;
    p->id = xstrdup(r->id);
    p->stdin_path = xstrdup(r->stdin);
    p->stdout_path = xstrdup(r->stdout);
    p->stderr_path = xstrdup(r->stderr);
    p->terminal = r->terminal;

    if (r->n_rootfs > 0) {
        if (rootfs_mount(c->bundle, r->rootfs, r->n_rootfs, err) < 0)
            goto fail;
        c->rootfs_mounted = true;
    }
    char *console = NULL;
    pid_file = runc_pid_file(c, p);
    p->io = pio_new(p, &console, err);
    if (!p->io)
        goto fail;
    const char *args[16];
    int n = 0;
    args[n++] = "create";
    args[n++] = "--bundle";
    args[n++] = c->bundle;
    args[n++] = "--pid-file";
    args[n++] = pid_file;
    if (console) {
        args[n++] = "--console-socket";
        args[n++] = console;
    }
    if (c->opts.no_pivot_root)
        args[n++] = "--no-pivot";
    if (c->opts.no_new_keyring)
        args[n++] = "--no-new-keyring";
    args[n++] = c->id;
    args[n] = NULL;

    struct create_op *op = xcalloc(1, sizeof(*op));
    op->call = call;
    op->c = c;
    op->req = r;
    c->next = shim_global->creating;
    shim_global->creating = c;
    rpc_call_ref(call);
    if (runc_run(c, args, pio_runc_fds(p->io), "OCI runtime create failed", create_done, op, err) <
        0) {
        shim_global->creating = c->next;
        rpc_call_unref(call);
        free(op);
        goto fail;
    }
    return RPC_DEFERRED;
fail:
    if (c->rootfs_mounted)
        rootfs_unmount(c->bundle);
    container_free(c);
    return -1;
}

/* ---- Start ---- */

struct start_op {
    struct rpc_call *call;
    struct container *c;
    struct process *p;
};

static void start_complete(struct start_op *op, pid_t pid, const struct berth_error *error)
{
    struct container *c = op->c;
    struct process *p = op->p;
    p->starting = false;
    if (error) {
        if (!p->is_init && p->counted) {
            p->counted = false;
            if (--c->running_execs == 0 && c->init_exit_waiting)
                init_exit_publish(c);
        }
        finish(op->call, NULL, error);
        free(op);
        return;
    }
    p->state = PROC_RUNNING;
    if (p->is_init) {
        container_oom_watch(c);
        Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;
        ev.container_id = c->id;
        ev.pid = (uint32_t)pid;
        events_publish("/tasks/start", &ev.base);
    } else {
        Containerd__Events__TaskExecStarted ev = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;
        ev.container_id = c->id;
        ev.exec_id = p->id;
        ev.pid = (uint32_t)pid;
        events_publish("/tasks/exec-started", &ev.base);
    }
    T(StartResponse) resp = CONTAINERD__TASK__V3__START_RESPONSE__INIT;
    resp.pid = (uint32_t)pid;
    finish(op->call, &resp.base, NULL);
    free(op);
    if (p->exit_held) {
        p->exit_held = false;
        process_exit_handle(c, p);
    }
}

static void start_done(void *arg, const char *out, size_t len, const struct berth_error *error)
{
    struct start_op *op = arg;
    struct process *p = op->p;
    struct berth_error *err = NULL;
    if (error) {
        start_complete(op, 0, error);
        return;
    }
    if (p->is_init) {
        start_complete(op, p->pid, NULL);
        return;
    }
    _cleanup_free_ char *pid_file = runc_pid_file(op->c, p);
    pid_t pid;
    if (runc_read_pid(pid_file, &pid, &err) < 0 || pio_start(p->io, &err) < 0) {
        start_complete(op, 0, err);
        err_free(err);
        return;
    }
    p->pid = pid;
    int status;
    if (child_claim_exit(pid, &status)) {
        p->exited = true;
        p->exit_held = true;
        p->exit_status = child_exit_code(status);
        clock_gettime(CLOCK_REALTIME, &p->exited_at);
    }
    start_complete(op, pid, NULL);
}

static int task_start(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
                      struct berth_error **err)
{
    const T(StartRequest) *r = (const void *)msg;
    struct container *c;
    struct process *p;
    if (get_container(r->id, &c, err) < 0 || get_process(c, r->exec_id, &p, err) < 0)
        return -1;
    if (p->starting || p->state != PROC_CREATED || p->exited)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot start a %s process",
                        p->exited || p->state == PROC_STOPPED ? "stopped"
                        : p->state == PROC_PAUSED             ? "paused"
                                                              : "running");
    const char *args[16];
    int n = 0;
    _cleanup_free_ char *pid_file = NULL;
    _cleanup_free_ char *spec_path = NULL;
    char *console = NULL;
    if (p->is_init) {
        args[n++] = "start";
        args[n++] = c->id;
    } else {
        if (c->init->exited)
            return err_make(err, ERR_FAILED_PRECONDITION, 0,
                            "container %s init process is not running", c->id);
        spec_path = xasprintf("%s/%s.process.json", c->bundle, p->id);
        if (fs_write_file_atomic(spec_path, p->spec_json, p->spec_len, 0600, err) < 0)
            return -1;
        p->io = pio_new(p, &console, err);
        if (!p->io)
            return -1;
        pid_file = runc_pid_file(c, p);
        args[n++] = "exec";
        args[n++] = "--process";
        args[n++] = spec_path;
        args[n++] = "--detach";
        args[n++] = "--pid-file";
        args[n++] = pid_file;
        if (console) {
            args[n++] = "--console-socket";
            args[n++] = console;
        }
        args[n++] = c->id;
        p->counted = true;
        c->running_execs++;
    }
    args[n] = NULL;
    struct start_op *op = xcalloc(1, sizeof(*op));
    op->call = call;
    op->c = c;
    op->p = p;
    p->starting = true;
    rpc_call_ref(call);
    if (runc_run(c, args, p->is_init ? NULL : pio_runc_fds(p->io),
                 p->is_init ? "OCI runtime start failed" : "OCI runtime exec failed", start_done,
                 op, err) < 0) {
        p->starting = false;
        if (p->counted) {
            p->counted = false;
            c->running_execs--;
        }
        rpc_call_unref(call);
        free(op);
        return -1;
    }
    return RPC_DEFERRED;
}

/* ---- Delete ---- */

struct delete_op {
    struct rpc_call *call;
    struct container *c;
};

static void delete_reply(struct rpc_call *call, struct process *p)
{
    Google__Protobuf__Timestamp ts;
    T(DeleteResponse) resp = CONTAINERD__TASK__V3__DELETE_RESPONSE__INIT;
    resp.pid = (uint32_t)p->pid;
    resp.exit_status = (uint32_t)p->exit_status;
    if (p->exited)
        resp.exited_at = ts_of(&ts, &p->exited_at);
    finish(call, &resp.base, NULL);
}

static void delete_done(void *arg, const char *out, size_t len, const struct berth_error *error)
{
    struct delete_op *op = arg;
    struct container *c = op->c;
    struct process *p = c->init;
    /* a container runc no longer knows is deleted already */
    if (error && error->kind != ERR_NOT_FOUND) {
        finish(op->call, NULL, error);
        free(op);
        return;
    }
    p->state = PROC_DELETED;
    if (c->rootfs_mounted)
        rootfs_unmount(c->bundle);
    container_unlink(c);
    Google__Protobuf__Timestamp ts;
    Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
    ev.container_id = c->id;
    ev.pid = (uint32_t)p->pid;
    ev.exit_status = (uint32_t)p->exit_status;
    ev.exited_at = p->exited ? ts_of(&ts, &p->exited_at) : NULL;
    ev.id = c->id;
    events_publish("/tasks/delete", &ev.base);
    delete_reply(op->call, p);
    free(op);
    container_free(c);
    shim_exit_if_done();
}

static int task_delete(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
                       struct berth_error **err)
{
    const T(DeleteRequest) *r = (const void *)msg;
    struct container *c;
    struct process *p;
    if (get_container(r->id, &c, err) < 0 || get_process(c, r->exec_id, &p, err) < 0)
        return -1;
    if (p->starting || (!p->exited && (p->state == PROC_RUNNING || p->state == PROC_PAUSED)))
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot delete a %s process",
                        p->state == PROC_PAUSED ? "paused" : "running");
    if (!p->is_init) {
        struct process **pp = &c->execs;
        while (*pp != p)
            pp = &(*pp)->next;
        *pp = p->next;
        if (p->counted && --c->running_execs == 0 && c->init_exit_waiting)
            init_exit_publish(c);
        Google__Protobuf__Timestamp ts;
        T(DeleteResponse) resp = CONTAINERD__TASK__V3__DELETE_RESPONSE__INIT;
        resp.pid = (uint32_t)p->pid;
        resp.exit_status = (uint32_t)p->exit_status;
        if (p->exited)
            resp.exited_at = ts_of(&ts, &p->exited_at);
        int rc = send_reply(call, &resp.base, err);
        _cleanup_free_ char *pid_file = runc_pid_file(c, p);
        _cleanup_free_ char *spec = xasprintf("%s/%s.process.json", c->bundle, p->id);
        unlink(pid_file);
        unlink(spec);
        process_free(p);
        return rc;
    }
    if (c->running_execs > 0 || c->init_exit_waiting)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot delete a running process");
    const char *args[] = {"delete", c->id, NULL};
    struct delete_op *op = xcalloc(1, sizeof(*op));
    op->call = call;
    op->c = c;
    rpc_call_ref(call);
    if (runc_run(c, args, NULL, "OCI runtime delete failed", delete_done, op, err) < 0) {
        rpc_call_unref(call);
        free(op);
        return -1;
    }
    return RPC_DEFERRED;
}

/* ---- Shutdown ---- */

static uv_timer_t exit_tick;
static bool exit_armed;

/* Exits once every reply and event has left. */
static void on_exit_tick(uv_timer_t *h)
{
    if (events_pending() || shim_server_inflight() > 0)
        return;
    if (shim_global->socket_path)
        unlink(shim_global->socket_path);
    exit(0);
}

void shim_exit_if_done(void)
{
    if (!shim_global->shutting_down || shim_global->containers || shim_global->creating ||
        exit_armed)
        return;
    exit_armed = true;
    /* checked every few ms until the last reply and event are out */
    uv_timer_init(loop_uv(shim_global->loop), &exit_tick);
    uv_timer_start(&exit_tick, on_exit_tick, 0, 5);
}

static int task_shutdown(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
                         struct berth_error **err)
{
    const T(ShutdownRequest) *r = (const void *)msg;
    if (shim_global->containers && !r->now)
        return reply_empty(call, err); /* still serving containers */
    shim_global->shutting_down = true;
    if (r->now) {
        if (shim_global->socket_path)
            unlink(shim_global->socket_path);
        exit(0);
    }
    int rc = reply_empty(call, err);
    shim_exit_if_done();
    return rc;
}

/* ---- the service, under both names ---- */

#define M(name, in, out, fn)                                                                       \
    {                                                                                              \
        name, RPC_UNARY, &containerd__task__v3__##in##__descriptor, &out, fn                       \
    }

static const struct rpc_method methods[] = {
    M("State", state_request, containerd__task__v3__state_response__descriptor, task_state),
    M("Create", create_task_request, containerd__task__v3__create_task_response__descriptor,
      task_create),
    M("Start", start_request, containerd__task__v3__start_response__descriptor, task_start),
    M("Delete", delete_request, containerd__task__v3__delete_response__descriptor, task_delete),
    M("Pids", pids_request, containerd__task__v3__pids_response__descriptor, task_pids),
    M("Pause", pause_request, google__protobuf__empty__descriptor, task_pause),
    M("Resume", resume_request, google__protobuf__empty__descriptor, task_resume),
    M("Checkpoint", checkpoint_task_request, google__protobuf__empty__descriptor, task_checkpoint),
    M("Kill", kill_request, google__protobuf__empty__descriptor, task_kill),
    M("Exec", exec_process_request, google__protobuf__empty__descriptor, task_exec),
    M("ResizePty", resize_pty_request, google__protobuf__empty__descriptor, task_resize_pty),
    M("CloseIO", close_iorequest, google__protobuf__empty__descriptor, task_close_io),
    M("Update", update_task_request, google__protobuf__empty__descriptor, task_update),
    M("Wait", wait_request, containerd__task__v3__wait_response__descriptor, task_wait),
    M("Stats", stats_request, containerd__task__v3__stats_response__descriptor, task_stats),
    M("Connect", connect_request, containerd__task__v3__connect_response__descriptor, task_connect),
    M("Shutdown", shutdown_request, google__protobuf__empty__descriptor, task_shutdown),
};

/* v2 and v3 messages are the same on the wire: one set of handlers serves both. */
const struct rpc_service shim_task_service_v2 = {
    .name = "containerd.task.v2.Task", .methods = methods, .n_methods = ARRAY_SIZE(methods)};
const struct rpc_service shim_task_service_v3 = {
    .name = "containerd.task.v3.Task", .methods = methods, .n_methods = ARRAY_SIZE(methods)};
