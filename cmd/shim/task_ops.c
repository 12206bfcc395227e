/*
 * The task service's calls besides the lifecycle: State, Wait, Connect, and the runc-driven Pids,
 * Pause, Resume, Update, Checkpoint, Kill, Exec, ResizePty, CloseIO.
 */
#include "cmd/shim/task.h"
#include "cmd/shim/util.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/base/log.h"
#include "proto/containerd/events/task.pb-c.h"
#include "proto/containerd/types/runc/options/oci.pb-c.h"
#include "proto/google/protobuf/empty.pb-c.h"

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- Pids ---- */

struct pids_op {
    struct rpc_call *call;
    char *id;
};

static void pids_done(void *arg, const char *out, size_t len, const struct berth_error *error)
{
    struct pids_op *op = arg;
    struct berth_error *err = NULL;
    struct container *c = container_find(op->id);
    struct json_object *arr = error ? NULL : json_tokener_parse(out);
    if (!error && !c)
        err_make(&err, ERR_NOT_FOUND, 0, "container not created");
    else if (!error && (!arr || !json_object_is_type(arr, json_type_array)))
        err_make(&err, ERR_INTERNAL, 0, "runc ps: unexpected output");
    if (error || err) {
        finish(op->call, NULL, error ? error : err);
        goto out;
    }
    size_t n = json_object_array_length(arr);
    Containerd__V1__Types__ProcessInfo *infos = xcalloc(n ? n : 1, sizeof(*infos));
    Containerd__V1__Types__ProcessInfo **ptrs = xcalloc(n ? n : 1, sizeof(*ptrs));
    Google__Protobuf__Any *anys = xcalloc(n ? n : 1, sizeof(*anys));
    uint8_t **bufs = xcalloc(n ? n : 1, sizeof(*bufs));
    for (size_t i = 0; i < n; i++) {
        containerd__v1__types__process_info__init(&infos[i]);
        infos[i].pid = (uint32_t)json_object_get_int64(json_object_array_get_idx(arr, i));
        ptrs[i] = &infos[i];
        for (struct process *p = c->execs; p; p = p->next) {
            if (p->pid > 0 && (uint32_t)p->pid == infos[i].pid) {
                Containerd__Runc__V1__ProcessDetails d =
                    CONTAINERD__RUNC__V1__PROCESS_DETAILS__INIT;
                d.exec_id = p->id;
                google__protobuf__any__init(&anys[i]);
                anys[i].type_url = "containerd.runc.v1.ProcessDetails";
                anys[i].value.len = containerd__runc__v1__process_details__get_packed_size(&d);
                bufs[i] = xmalloc(anys[i].value.len + 1);
                containerd__runc__v1__process_details__pack(&d, bufs[i]);
                anys[i].value.data = bufs[i];
                infos[i].info = &anys[i];
                break;
            }
        }
    }
    T(PidsResponse) resp = CONTAINERD__TASK__V3__PIDS_RESPONSE__INIT;
    resp.n_processes = n;
    resp.processes = ptrs;
    finish(op->call, &resp.base, NULL);
    for (size_t i = 0; i < n; i++)
        free(bufs[i]);
    free(bufs);
    free(anys);
    free(ptrs);
    free(infos);
out:
    json_object_put(arr);
    err_free(err);
    free(op->id);
    free(op);
}

/* Runs a runc command for a handler; `done` finishes the call. */
static int run_for_call(struct rpc_call *call, struct container *c, const char *const *args,
                        const char *what, runc_done_fn done, void *op, struct berth_error **err)
{
    rpc_call_ref(call);
    if (runc_run(c, args, NULL, what, done, op, err) < 0) {
        rpc_call_unref(call);
        return -1;
    }
    return RPC_DEFERRED;
}

int task_pids(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
              struct berth_error **err)
{
    const T(PidsRequest) *r = (const void *)msg;
    struct container *c;
    if (get_container(r->id, &c, err) < 0)
        return -1;
    const char *args[] = {"ps", "--format", "json", c->id, NULL};
    struct pids_op *op = xcalloc(1, sizeof(*op));
    op->call = call;
    op->id = xstrdup(c->id);
    int rc = run_for_call(call, c, args, "runc ps", pids_done, op, err);
    if (rc < 0) {
        free(op->id);
        free(op);
    }
    return rc;
}

/* ---- Pause, Resume, Update, Checkpoint: runc, then an event ---- */

struct simple_op {
    struct rpc_call *call;
    char *id;
    char *path; /* a temporary file to remove, or the checkpoint path */
    enum { OP_PAUSE, OP_RESUME, OP_UPDATE, OP_CHECKPOINT, OP_KILL } kind;
    bool exit_after; /* checkpoint --exit */
};

static void simple_done(void *arg, const char *out, size_t len, const struct berth_error *error)
{
    struct simple_op *op = arg;
    struct container *c = container_find(op->id);
    if (op->kind == OP_UPDATE && op->path)
        unlink(op->path);
    if (!error && c) {
        if (op->kind == OP_PAUSE) {
            if (!c->init->exited)
                c->init->state = PROC_PAUSED;
            Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;
            ev.container_id = c->id;
            events_publish("/tasks/paused", &ev.base);
        } else if (op->kind == OP_RESUME) {
            if (!c->init->exited)
                c->init->state = PROC_RUNNING;
            Containerd__Events__TaskResumed ev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;
            ev.container_id = c->id;
            events_publish("/tasks/resumed", &ev.base);
        } else if (op->kind == OP_CHECKPOINT) {
            Containerd__Events__TaskCheckpointed ev = CONTAINERD__EVENTS__TASK_CHECKPOINTED__INIT;
            ev.container_id = c->id;
            ev.checkpoint = op->path;
            events_publish("/tasks/checkpointed", &ev.base);
        }
    }
    finish_empty(op->call, error);
    free(op->id);
    free(op->path);
    free(op);
}

static int simple_run(struct rpc_call *call, struct container *c, const char *const *args, int kind,
                      char *path, const char *what, struct berth_error **err)
{
    struct simple_op *op = xcalloc(1, sizeof(*op));
    op->call = call;
    op->id = xstrdup(c->id);
    op->kind = kind;
    op->path = path;
    int rc = run_for_call(call, c, args, what, simple_done, op, err);
    if (rc < 0) {
        if (kind == OP_UPDATE && path)
            unlink(path);
        free(op->id);
        free(op->path);
        free(op);
    }
    return rc;
}

static int init_for(const char *id, struct container **ret, struct berth_error **err)
{
    if (get_container(id, ret, err) < 0)
        return -1;
    return 0;
}

int task_pause(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
               struct berth_error **err)
{
    const T(PauseRequest) *r = (const void *)msg;
    struct container *c;
    if (init_for(r->id, &c, err) < 0)
        return -1;
    struct process *p = c->init;
    if (p->exited || p->state == PROC_STOPPED)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot pause a stopped container");
    if (p->state == PROC_CREATED)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot pause task in created state");
    if (p->state == PROC_PAUSED)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot pause a paused container");
    const char *args[] = {"pause", c->id, NULL};
    return simple_run(call, c, args, OP_PAUSE, NULL, "OCI runtime pause failed", err);
}

int task_resume(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
                struct berth_error **err)
{
    const T(ResumeRequest) *r = (const void *)msg;
    struct container *c;
    if (init_for(r->id, &c, err) < 0)
        return -1;
    struct process *p = c->init;
    if (p->exited || p->state == PROC_STOPPED)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot resume a stopped container");
    if (p->state != PROC_PAUSED)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot resume a %s process",
                        p->state == PROC_CREATED ? "created" : "running");
    const char *args[] = {"resume", c->id, NULL};
    return simple_run(call, c, args, OP_RESUME, NULL, "OCI runtime resume failed", err);
}

static bool type_is(const char *type_url, const char *name)
{
    const char *slash = strrchr(type_url, '/');
    return strcmp(slash ? slash + 1 : type_url, name) == 0;
}

int task_update(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
                struct berth_error **err)
{
    const T(UpdateTaskRequest) *r = (const void *)msg;
    struct container *c;
    if (init_for(r->id, &c, err) < 0)
        return -1;
    if (c->init->exited || c->init->state == PROC_STOPPED)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot update a stopped container");
    if (!r->resources || !type_is(r->resources->type_url, "LinuxResources"))
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "resources must be a runtime-spec LinuxResources");
    char *path = xasprintf("%s/resources.%ld.json", c->bundle, (long)monotonic_ns());
    if (fs_write_file_atomic(path, r->resources->value.data, r->resources->value.len, 0600, err) <
        0) {
        free(path);
        return -1;
    }
    const char *args[] = {"update", "--resources", path, c->id, NULL};
    return simple_run(call, c, args, OP_UPDATE, path, "OCI runtime update failed", err);
}

static bool criu_available(const struct container *c)
{
    if (c->opts.criu_path)
        return access(c->opts.criu_path, X_OK) == 0;
    const char *path = getenv("PATH");
    _cleanup_free_ char *copy = xstrdup(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    for (char *save, *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        _cleanup_free_ char *f = xasprintf("%s/criu", d);
        if (access(f, X_OK) == 0)
            return true;
    }
    return false;
}

int task_checkpoint(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
                    struct berth_error **err)
{
    const T(CheckpointTaskRequest) *r = (const void *)msg;
    struct container *c;
    if (init_for(r->id, &c, err) < 0)
        return -1;
    if (c->init->exited || c->init->state != PROC_RUNNING)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot checkpoint a %s task",
                        c->init->state == PROC_CREATED ? "created" : "stopped");
    if (!criu_available(c))
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "checkpoint needs criu, not found");
    Containerd__Runc__V1__CheckpointOptions *o = NULL;
    if (r->options && type_is(r->options->type_url, "containerd.runc.v1.CheckpointOptions"))
        o = containerd__runc__v1__checkpoint_options__unpack(NULL, r->options->value.len,
                                                             r->options->value.data);
    const char *image = o && o->image_path && *o->image_path ? o->image_path : r->path;
    if (!image || !*image) {
        containerd__runc__v1__checkpoint_options__free_unpacked(o, NULL);
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "checkpoint path is required");
    }
    _cleanup_free_ char *work = o && o->work_path && *o->work_path
                                    ? xstrdup(o->work_path)
                                    : xasprintf("%s/criu-work", c->bundle);
    const char *args[24];
    int n = 0;
    args[n++] = "checkpoint";
    args[n++] = "--image-path";
    args[n++] = image;
    args[n++] = "--work-path";
    args[n++] = work;
    if (!o || !o->exit)
        args[n++] = "--leave-running";
    if (o && o->open_tcp)
        args[n++] = "--tcp-established";
    if (o && o->external_unix_sockets)
        args[n++] = "--ext-unix-sk";
    if (o && o->terminal)
        args[n++] = "--shell-job";
    if (o && o->file_locks)
        args[n++] = "--file-locks";
    if (o && o->cgroups_mode && *o->cgroups_mode) {
        args[n++] = "--manage-cgroups-mode";
        args[n++] = o->cgroups_mode;
    }
    for (size_t i = 0; o && i < o->n_empty_namespaces && n < 20; i++) {
        args[n++] = "--empty-ns";
        args[n++] = o->empty_namespaces[i];
    }
    args[n++] = c->id;
    args[n] = NULL;
    int rc = simple_run(call, c, args, OP_CHECKPOINT, xstrdup(image),
                        "OCI runtime checkpoint failed", err);
    containerd__runc__v1__checkpoint_options__free_unpacked(o, NULL);
    return rc;
}

/* ---- Kill ---- */

int task_kill(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
              struct berth_error **err)
{
    const T(KillRequest) *r = (const void *)msg;
    struct container *c;
    struct process *p;
    if (get_container(r->id, &c, err) < 0 || get_process(c, r->exec_id, &p, err) < 0)
        return -1;
    if (r->signal == 0 || r->signal > 64)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "invalid signal %u", r->signal);
    if (!p->is_init) {
        if (p->state == PROC_CREATED && !p->starting)
            return err_make(err, ERR_FAILED_PRECONDITION, 0, "process not created");
        if (p->exited || p->pid <= 0)
            return err_make(err, ERR_NOT_FOUND, 0, "process already finished");
        if (kill(p->pid, (int)r->signal) < 0)
            return err_make(err, errno == ESRCH ? ERR_NOT_FOUND : err_kind_from_errno(errno), errno,
                            "exec kill error");
        return reply_empty(call, err);
    }
    if (p->exited && !r->all)
        return err_make(err, ERR_NOT_FOUND, 0, "process already finished");
    char sig[16];
    snprintf(sig, sizeof(sig), "%u", r->signal);
    const char *args[] = {"kill", r->all ? "--all" : c->id, r->all ? c->id : sig,
                          r->all ? sig : NULL, NULL};
    return simple_run(call, c, args, OP_KILL, NULL, "OCI runtime kill failed", err);
}

/* ---- Exec ---- */

int task_exec(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
              struct berth_error **err)
{
    const T(ExecProcessRequest) *r = (const void *)msg;
    struct container *c;
    if (get_container(r->id, &c, err) < 0)
        return -1;
    if (!shim_safe_name(r->exec_id))
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "invalid exec id %s", r->exec_id);
    if (exec_find(c, r->exec_id))
        return err_make(err, ERR_ALREADY_EXISTS, 0, "id %s", r->exec_id);
    if (c->init->exited || c->init->state == PROC_STOPPED)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot exec in a stopped state");
    if (c->init->state == PROC_PAUSED)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot exec in a paused state");
    if (c->init->state == PROC_CREATED)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot exec in a created state");
    if (!r->spec || r->spec->value.len == 0 || r->spec->value.len > (4 << 20))
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "exec %s: a process spec is required",
                        r->exec_id);
    struct process *p = xcalloc(1, sizeof(*p));
    p->c = c;
    p->id = xstrdup(r->exec_id);
    p->stdin_path = xstrdup(r->stdin);
    p->stdout_path = xstrdup(r->stdout);
    p->stderr_path = xstrdup(r->stderr);
    p->terminal = r->terminal;
    p->spec_json = xmemdup(r->spec->value.data, r->spec->value.len);
    p->spec_len = r->spec->value.len;
    p->state = PROC_CREATED;
    p->next = c->execs;
    c->execs = p;
    Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
    ev.container_id = c->id;
    ev.exec_id = p->id;
    events_publish("/tasks/exec-added", &ev.base);
    return reply_empty(call, err);
}

/* ---- ResizePty, CloseIO ---- */

int task_resize_pty(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
                    struct berth_error **err)
{
    const T(ResizePtyRequest) *r = (const void *)msg;
    struct container *c;
    struct process *p;
    if (get_container(r->id, &c, err) < 0 || get_process(c, r->exec_id, &p, err) < 0)
        return -1;
    /* as the reference: a stopped exec refuses, init's console just goes away */
    if (p->exited && !p->is_init)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot resize a stopped container");
    if (pio_resize(p->io, r->width, r->height, err) < 0)
        return -1;
    return reply_empty(call, err);
}

int task_close_io(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
                  struct berth_error **err)
{
    const T(CloseIORequest) *r = (const void *)msg;
    struct container *c;
    struct process *p;
    if (get_container(r->id, &c, err) < 0 || get_process(c, r->exec_id, &p, err) < 0)
        return -1;
    if (r->stdin)
        pio_close_stdin(p->io);
    return reply_empty(call, err);
}

/* ---- State ---- */

int task_state(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
               struct berth_error **err)
{
    const T(StateRequest) *r = (const void *)msg;
    struct container *c;
    struct process *p;
    if (get_container(r->id, &c, err) < 0 || get_process(c, r->exec_id, &p, err) < 0)
        return -1;
    static const Containerd__V1__Types__Status map[] = {
        [PROC_CREATED] = CONTAINERD__V1__TYPES__STATUS__CREATED,
        [PROC_RUNNING] = CONTAINERD__V1__TYPES__STATUS__RUNNING,
        [PROC_PAUSED] = CONTAINERD__V1__TYPES__STATUS__PAUSED,
        [PROC_STOPPED] = CONTAINERD__V1__TYPES__STATUS__STOPPED,
        [PROC_DELETED] = CONTAINERD__V1__TYPES__STATUS__UNKNOWN,
    };
    T(StateResponse) resp = CONTAINERD__TASK__V3__STATE_RESPONSE__INIT;
    Google__Protobuf__Timestamp ts;
    resp.id = p->id;
    resp.bundle = c->bundle;
    resp.pid = (uint32_t)p->pid;
    resp.status = map[p->exited ? PROC_STOPPED : p->state];
    resp.stdin = p->stdin_path;
    resp.stdout = p->stdout_path;
    resp.stderr = p->stderr_path;
    resp.terminal = p->terminal;
    resp.exit_status = (uint32_t)p->exit_status;
    if (p->exited)
        resp.exited_at = ts_of(&ts, &p->exited_at);
    resp.exec_id = p->is_init ? "" : p->id;
    return send_reply(call, &resp.base, err);
}

/* ---- Wait, Connect ---- */

int task_wait(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
              struct berth_error **err)
{
    const T(WaitRequest) *r = (const void *)msg;
    struct container *c;
    struct process *p;
    if (get_container(r->id, &c, err) < 0 || get_process(c, r->exec_id, &p, err) < 0)
        return -1;
    bool published = p->exited && !p->exit_held && !(p->is_init && c->init_exit_waiting);
    if (published) {
        Google__Protobuf__Timestamp ts;
        T(WaitResponse) resp = CONTAINERD__TASK__V3__WAIT_RESPONSE__INIT;
        resp.exit_status = (uint32_t)p->exit_status;
        resp.exited_at = ts_of(&ts, &p->exited_at);
        return send_reply(call, &resp.base, err);
    }
    struct waiter *w = xcalloc(1, sizeof(*w));
    w->call = call;
    rpc_call_ref(call);
    w->next = p->waiters;
    p->waiters = w;
    return RPC_DEFERRED;
}

int task_connect(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
                 struct berth_error **err)
{
    const T(ConnectRequest) *r = (const void *)msg;
    struct container *c = container_find(r->id);
    T(ConnectResponse) resp = CONTAINERD__TASK__V3__CONNECT_RESPONSE__INIT;
    resp.shim_pid = (uint32_t)getpid();
    resp.task_pid = c && c->init ? (uint32_t)c->init->pid : 0;
    return send_reply(call, &resp.base, err);
}
