/*
 * containerd.services.tasks.v1.Tasks: the container records say what to run, the runtime v2
 * task manager runs it in a shim; each call becomes one task API call on the task's shim
 * (containerd's plugins/services/tasks/local.go).
 */
#include "services/services.h"
#include "core/metadata/containers.h"
#include "core/plugin/plugin.h"
#include "core/runtime/runtime.h"
#include "core/runtime/task_manager.h"
#include "lib/base/alloc.h"
#include "lib/filters/filters.h"
#include "lib/identifiers/identifiers.h"
#include "services/convert.h"

#include "containerd/services/tasks/v1/tasks.pb-c.h"
#include "containerd/types/runc/options/oci.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define API(x)  containerd__services__tasks__v1__##x
#define SVC(x)  Containerd__Services__Tasks__V1__##x
#define TASK(x) containerd__task__v3__##x
#define T3(x)   Containerd__Task__V3__##x

typedef Containerd__V1__Types__Process PbProcess;

#define RUNC_OPTIONS_TYPE "containerd.runc.v1.Options"
#define OCI_SPEC_TYPE     "types.containerd.io/opencontainers/runtime-spec/1/Spec"

struct tasks_service {
    struct rpc_service svc;
    struct metadata_db *db;
    struct task_manager *tm;
};

/* The container must exist (NotFound from the store otherwise), then its task. */
static struct shim *container_task(struct tasks_service *s, struct rpc_call *call,
                                   const char *container_id, struct berth_error **err)
{
    const char *ns = service_namespace(call, err);
    if (!ns)
        return NULL;
    struct container c;
    if (containers_get(s->db, ns, container_id, &c, err) < 0)
        return NULL;
    container_clear(&c);
    struct shim *shim = task_manager_get(s->tm, ns, container_id, NULL);
    if (!shim) {
        /* containerd's status text, without an errdefs class appended */
        _cleanup_free_ char *msg = xasprintf("task %s not found", container_id);
        err_make_raw(err, ERR_NOT_FOUND, msg);
    }
    return shim;
}

static int send_empty(struct rpc_call *call, struct berth_error **err)
{
    Google__Protobuf__Empty resp = GOOGLE__PROTOBUF__EMPTY__INIT;
    return rpc_call_send(call, &resp.base, err);
}

/*
 * containerd passes a shim's exit time through time.Time and back, so its replies always carry
 * one: a shim that sent none gives the Unix epoch (an empty Timestamp), never an absent field.
 */
static Google__Protobuf__Timestamp *exit_time(Google__Protobuf__Timestamp *from,
                                              Google__Protobuf__Timestamp *epoch)
{
    return from ? from : epoch;
}

/* A shim call whose reply is Empty; the client gets Empty too. */
static int forward_empty(struct rpc_call *call, struct shim *shim, const char *method,
                         const ProtobufCMessage *req, struct berth_error **err)
{
    ProtobufCMessage *resp = NULL;
    int r = shim_call(shim, method, req, &google__protobuf__empty__descriptor, &resp, call, 0, err);
    shim_unref(shim);
    if (r < 0)
        return -1;
    protobuf_c_message_free_unpacked(resp, NULL);
    return send_empty(call, err);
}

/* The runc Options inside an Any, or NULL when it holds something else. */
static Containerd__Runc__V1__Options *runc_options(const Google__Protobuf__Any *any)
{
    if (!any || !any->type_url)
        return NULL;
    const char *slash = strrchr(any->type_url, '/');
    const char *name = slash ? slash + 1 : any->type_url;
    if (strcmp(name, RUNC_OPTIONS_TYPE) != 0)
        return NULL;
    return containerd__runc__v1__options__unpack(NULL, any->value.len, any->value.data);
}

static uint8_t *pack_any(const char *type_url, const void *value, size_t len, size_t *ret_len)
{
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = (char *)type_url;
    any.value.data = (uint8_t *)value;
    any.value.len = len;
    *ret_len = protobuf_c_message_get_packed_size(&any.base);
    uint8_t *buf = xmalloc(*ret_len ? *ret_len : 1);
    protobuf_c_message_pack(&any.base, buf);
    return buf;
}

static int create(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    struct tasks_service *s = data;
    const SVC(CreateTaskRequest) *req = (const SVC(CreateTaskRequest) *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    struct container c;
    if (containers_get(s->db, ns, req->container_id, &c, err) < 0)
        return -1;
    int rc = -1;
    uint8_t *options = NULL;
    size_t options_len = 0;
    if (req->options) {
        Containerd__Runc__V1__Options *o = runc_options(req->options);
        if (!o) {
            err_make(err, ERR_INVALID_ARGUMENT, 0, "invalid task create option for %s",
                     c.runtime_name);
            goto out;
        }
        bool sandbox_address = o->task_api_address && *o->task_api_address;
        containerd__runc__v1__options__free_unpacked(o, NULL);
        if (sandbox_address) {
            err_make(err, ERR_NOT_IMPLEMENTED, 0, "task API addresses of sandboxes");
            goto out;
        }
    }
    if (c.sandbox && *c.sandbox) {
        err_make(err, ERR_NOT_IMPLEMENTED, 0, "tasks in sandbox %s", c.sandbox);
        goto out;
    }
    if (req->checkpoint) {
        err_make(err, ERR_FAILED_PRECONDITION, 0,
                 "restoring from a checkpoint needs CRIU, which this host does not have");
        goto out;
    }
    /* the shim gets the task options if any, else the container's runtime options */
    if (req->options && req->options->value.len)
        options = pack_any(req->options->type_url, req->options->value.data,
                           req->options->value.len, &options_len);
    else if (c.runtime_options.set)
        options = pack_any(c.runtime_options.type_url, c.runtime_options.value,
                           c.runtime_options.value_len, &options_len);
    Google__Protobuf__Any shim_options = GOOGLE__PROTOBUF__ANY__INIT;
    const Google__Protobuf__Any *opts_any = req->options;
    if ((!opts_any || !opts_any->value.len) && c.runtime_options.set) {
        shim_options.type_url = c.runtime_options.type_url;
        shim_options.value.data = c.runtime_options.value;
        shim_options.value.len = c.runtime_options.value_len;
        opts_any = &shim_options;
    }
    T3(CreateTaskRequest) shim_req = CONTAINERD__TASK__V3__CREATE_TASK_REQUEST__INIT;
    shim_req.n_rootfs = req->n_rootfs;
    shim_req.rootfs = req->rootfs;
    shim_req.terminal = req->terminal;
    shim_req.stdin = req->stdin;
    shim_req.stdout = req->stdout;
    shim_req.stderr = req->stderr;
    shim_req.options = (Google__Protobuf__Any *)opts_any;
    bool oci = c.spec.set && c.spec.type_url && strcmp(c.spec.type_url, OCI_SPEC_TYPE) == 0;
    struct task_create tc = {
        .ns = ns,
        .id = req->container_id,
        .spec = oci ? c.spec.value : NULL,
        .spec_len = oci ? c.spec.value_len : 0,
        .runtime = req->runtime_path && *req->runtime_path ? req->runtime_path : c.runtime_name,
        .options = options,
        .options_len = options_len,
        .request = &shim_req,
    };
    uint32_t pid = 0;
    if (task_manager_create(s->tm, &tc, call, &pid, err) < 0)
        goto out;
    SVC(CreateTaskResponse) resp = CONTAINERD__SERVICES__TASKS__V1__CREATE_TASK_RESPONSE__INIT;
    resp.container_id = req->container_id;
    resp.pid = pid;
    rc = rpc_call_send(call, &resp.base, err);
out:
    free(options);
    container_clear(&c);
    return rc;
}

static int start(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                 struct berth_error **err)
{
    const SVC(StartRequest) *req = (const SVC(StartRequest) *)request;
    struct shim *shim = container_task(data, call, req->container_id, err);
    if (!shim)
        return -1;
    T3(StartRequest) sreq = CONTAINERD__TASK__V3__START_REQUEST__INIT;
    sreq.id = req->container_id;
    sreq.exec_id = req->exec_id;
    ProtobufCMessage *resp = NULL;
    int r = shim_call(shim, "Start", &sreq.base, &TASK(start_response__descriptor), &resp, call, 0,
                      err);
    shim_unref(shim);
    if (r < 0)
        return -1;
    SVC(StartResponse) out = CONTAINERD__SERVICES__TASKS__V1__START_RESPONSE__INIT;
    out.pid = ((T3(StartResponse) *)resp)->pid;
    protobuf_c_message_free_unpacked(resp, NULL);
    return rpc_call_send(call, &out.base, err);
}

static int send_delete_response(struct rpc_call *call, const char *id, const T3(DeleteResponse) * d,
                                struct berth_error **err)
{
    SVC(DeleteResponse) out = CONTAINERD__SERVICES__TASKS__V1__DELETE_RESPONSE__INIT;
    out.id = (char *)id;
    out.pid = d->pid;
    out.exit_status = d->exit_status;
    Google__Protobuf__Timestamp epoch = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    out.exited_at = exit_time(d->exited_at, &epoch);
    return rpc_call_send(call, &out.base, err);
}

static int delete_task(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                       struct berth_error **err)
{
    struct tasks_service *s = data;
    const SVC(DeleteTaskRequest) *req = (const SVC(DeleteTaskRequest) *)request;
    struct shim *shim = container_task(s, call, req->container_id, err);
    if (!shim)
        return -1;
    const char *ns = shim_namespace(shim);
    T3(DeleteResponse) *d = NULL;
    int r = task_manager_delete(s->tm, ns, req->container_id, call, &d, err);
    shim_unref(shim);
    if (r < 0)
        return -1;
    r = send_delete_response(call, "", d, err);
    protobuf_c_message_free_unpacked(&d->base, NULL);
    return r;
}

/* containerd first asks the shim for the exec's state: an unknown exec id is NotFound. */
static int check_exec(struct shim *shim, struct rpc_call *call, const char *id, const char *exec_id,
                      struct berth_error **err)
{
    if (!exec_id || !*exec_id)
        return 0;
    T3(StateRequest) req = CONTAINERD__TASK__V3__STATE_REQUEST__INIT;
    req.id = (char *)id;
    req.exec_id = (char *)exec_id;
    ProtobufCMessage *resp = NULL;
    if (shim_call(shim, "State", &req.base, &TASK(state_response__descriptor), &resp, call, 0,
                  err) < 0)
        return -1;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* The task, after checking that exec_id (when given) names one of its processes. */
static struct shim *process_task(struct tasks_service *s, struct rpc_call *call,
                                 const char *container_id, const char *exec_id,
                                 struct berth_error **err)
{
    struct shim *shim = container_task(s, call, container_id, err);
    if (shim && check_exec(shim, call, container_id, exec_id, err) < 0) {
        shim_unref(shim);
        return NULL;
    }
    return shim;
}

static int delete_process(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                          struct berth_error **err)
{
    const SVC(DeleteProcessRequest) *req = (const SVC(DeleteProcessRequest) *)request;
    struct shim *shim = process_task(data, call, req->container_id, req->exec_id, err);
    if (!shim)
        return -1;
    T3(DeleteRequest) dreq = CONTAINERD__TASK__V3__DELETE_REQUEST__INIT;
    dreq.id = req->container_id;
    dreq.exec_id = req->exec_id;
    ProtobufCMessage *resp = NULL;
    int r = shim_call(shim, "Delete", &dreq.base, &TASK(delete_response__descriptor), &resp, call,
                      0, err);
    shim_unref(shim);
    if (r < 0)
        return -1;
    r = send_delete_response(call, req->exec_id, (T3(DeleteResponse) *)resp, err);
    protobuf_c_message_free_unpacked(resp, NULL);
    return r;
}

/* The shim's State as containerd's task.Process (id: the container's, or the exec's). */
static PbProcess *process_state(struct pb_arena *a, struct shim *shim, struct rpc_call *call,
                                const char *exec_id, struct berth_error **err)
{
    T3(StateRequest) req = CONTAINERD__TASK__V3__STATE_REQUEST__INIT;
    req.id = (char *)shim_id(shim);
    req.exec_id = (char *)exec_id;
    ProtobufCMessage *resp = NULL;
    if (shim_call(shim, "State", &req.base, &TASK(state_response__descriptor), &resp, call, 0,
                  err) < 0)
        return NULL;
    T3(StateResponse) *st = (T3(StateResponse) *)resp;
    PbProcess *p = pb_arena_message(a, &containerd__v1__types__process__descriptor);
    p->id = pb_arena_strdup(a, exec_id && *exec_id ? exec_id : shim_id(shim));
    p->pid = st->pid;
    p->status = (Containerd__V1__Types__Status)st->status;
    p->stdin = pb_arena_strdup(a, st->stdin);
    p->stdout = pb_arena_strdup(a, st->stdout);
    p->stderr = pb_arena_strdup(a, st->stderr);
    p->terminal = st->terminal;
    p->exit_status = st->exit_status;
    /* always set, the epoch when the shim sent none (see exit_time) */
    p->exited_at = pb_arena_message(a, &google__protobuf__timestamp__descriptor);
    if (st->exited_at) {
        p->exited_at->seconds = st->exited_at->seconds;
        p->exited_at->nanos = st->exited_at->nanos;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return p;
}

static int get(struct rpc_call *call, const ProtobufCMessage *request, void *data,
               struct berth_error **err)
{
    const SVC(GetRequest) *req = (const SVC(GetRequest) *)request;
    struct shim *shim = container_task(data, call, req->container_id, err);
    if (!shim)
        return -1;
    struct pb_arena a = {0};
    PbProcess *p = process_state(&a, shim, call, req->exec_id, err);
    shim_unref(shim);
    int r = -1;
    if (p) {
        SVC(GetResponse) out = CONTAINERD__SERVICES__TASKS__V1__GET_RESPONSE__INIT;
        out.process = p;
        r = rpc_call_send(call, &out.base, err);
    }
    pb_arena_free(&a);
    return r;
}

static int list(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                struct berth_error **err)
{
    struct tasks_service *s = data;
    (void)request; /* containerd ignores the filter too */
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    struct shim **shims = NULL;
    size_t n = task_manager_list(s->tm, ns, &shims);
    struct pb_arena a = {0};
    SVC(ListTasksResponse) out = CONTAINERD__SERVICES__TASKS__V1__LIST_TASKS_RESPONSE__INIT;
    out.tasks = pb_arena_alloc(&a, (n ? n : 1) * sizeof(*out.tasks));
    for (size_t i = 0; i < n; i++) {
        /* a task deleted meanwhile (or a dead shim) is left out, as containerd does */
        PbProcess *p = process_state(&a, shims[i], call, NULL, NULL);
        if (p)
            out.tasks[out.n_tasks++] = p;
        shim_unref(shims[i]);
    }
    free(shims);
    int r = rpc_call_send(call, &out.base, err);
    pb_arena_free(&a);
    return r;
}

static int kill_task(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                     struct berth_error **err)
{
    const SVC(KillRequest) *req = (const SVC(KillRequest) *)request;
    struct shim *shim = process_task(data, call, req->container_id, req->exec_id, err);
    if (!shim)
        return -1;
    T3(KillRequest) kreq = CONTAINERD__TASK__V3__KILL_REQUEST__INIT;
    kreq.id = req->container_id;
    kreq.exec_id = req->exec_id;
    kreq.signal = req->signal;
    kreq.all = req->all;
    return forward_empty(call, shim, "Kill", &kreq.base, err);
}

static int exec_process(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                        struct berth_error **err)
{
    const SVC(ExecProcessRequest) *req = (const SVC(ExecProcessRequest) *)request;
    if (!req->exec_id || !*req->exec_id)
        return err_make_raw(err, ERR_INVALID_ARGUMENT, "exec id cannot be empty");
    struct shim *shim = container_task(data, call, req->container_id, err);
    if (!shim)
        return -1;
    if (identifier_validate(req->exec_id, err) < 0) {
        shim_unref(shim);
        return err_wrap(err, "invalid exec id %s", req->exec_id);
    }
    T3(ExecProcessRequest) ereq = CONTAINERD__TASK__V3__EXEC_PROCESS_REQUEST__INIT;
    ereq.id = req->container_id;
    ereq.exec_id = req->exec_id;
    ereq.terminal = req->terminal;
    ereq.stdin = req->stdin;
    ereq.stdout = req->stdout;
    ereq.stderr = req->stderr;
    ereq.spec = req->spec;
    return forward_empty(call, shim, "Exec", &ereq.base, err);
}

static int resize_pty(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                      struct berth_error **err)
{
    const SVC(ResizePtyRequest) *req = (const SVC(ResizePtyRequest) *)request;
    struct shim *shim = process_task(data, call, req->container_id, req->exec_id, err);
    if (!shim)
        return -1;
    T3(ResizePtyRequest) rreq = CONTAINERD__TASK__V3__RESIZE_PTY_REQUEST__INIT;
    rreq.id = req->container_id;
    rreq.exec_id = req->exec_id;
    rreq.width = req->width;
    rreq.height = req->height;
    return forward_empty(call, shim, "ResizePty", &rreq.base, err);
}

static int close_io(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                    struct berth_error **err)
{
    const SVC(CloseIORequest) *req = (const SVC(CloseIORequest) *)request;
    struct shim *shim = process_task(data, call, req->container_id, req->exec_id, err);
    if (!shim)
        return -1;
    if (!req->stdin) {
        shim_unref(shim);
        return send_empty(call, err);
    }
    T3(CloseIORequest) creq = CONTAINERD__TASK__V3__CLOSE_IOREQUEST__INIT;
    creq.id = req->container_id;
    creq.exec_id = req->exec_id;
    creq.stdin = true;
    return forward_empty(call, shim, "CloseIO", &creq.base, err);
}

/* Pause and Resume: the shim request carries only the task id. */
static int forward_id_only(struct rpc_call *call, void *data, const char *container_id,
                           const char *method, const ProtobufCMessageDescriptor *descriptor,
                           struct berth_error **err)
{
    struct shim *shim = container_task(data, call, container_id, err);
    if (!shim)
        return -1;
    T3(PauseRequest) req; /* PauseRequest and ResumeRequest are both {string id = 1} */
    protobuf_c_message_init(descriptor, &req);
    req.id = (char *)container_id;
    return forward_empty(call, shim, method, &req.base, err);
}

static int pause_task(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                      struct berth_error **err)
{
    const SVC(PauseTaskRequest) *req = (const SVC(PauseTaskRequest) *)request;
    return forward_id_only(call, data, req->container_id, "Pause", &TASK(pause_request__descriptor),
                           err);
}

static int resume_task(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                       struct berth_error **err)
{
    const SVC(ResumeTaskRequest) *req = (const SVC(ResumeTaskRequest) *)request;
    return forward_id_only(call, data, req->container_id, "Resume",
                           &TASK(resume_request__descriptor), err);
}

static int list_pids(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                     struct berth_error **err)
{
    const SVC(ListPidsRequest) *req = (const SVC(ListPidsRequest) *)request;
    struct shim *shim = container_task(data, call, req->container_id, err);
    if (!shim)
        return -1;
    T3(PidsRequest) preq = CONTAINERD__TASK__V3__PIDS_REQUEST__INIT;
    preq.id = req->container_id;
    ProtobufCMessage *resp = NULL;
    int r =
        shim_call(shim, "Pids", &preq.base, &TASK(pids_response__descriptor), &resp, call, 0, err);
    shim_unref(shim);
    if (r < 0)
        return -1;
    T3(PidsResponse) *pids = (T3(PidsResponse) *)resp;
    SVC(ListPidsResponse) out = CONTAINERD__SERVICES__TASKS__V1__LIST_PIDS_RESPONSE__INIT;
    /* the same message type (containerd.v1.types.ProcessInfo) on both sides */
    out.n_processes = pids->n_processes;
    out.processes = pids->processes;
    r = rpc_call_send(call, &out.base, err);
    protobuf_c_message_free_unpacked(resp, NULL);
    return r;
}

static bool have_criu(void)
{
    const char *path = getenv("PATH");
    _cleanup_free_ char *dirs = xstrdup(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        _cleanup_free_ char *p = xasprintf("%s/criu", d);
        if (access(p, X_OK) == 0)
            return true;
    }
    return false;
}

static int checkpoint(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                      struct berth_error **err)
{
    const SVC(CheckpointTaskRequest) *req = (const SVC(CheckpointTaskRequest) *)request;
    struct shim *shim = container_task(data, call, req->container_id, err);
    if (!shim)
        return -1;
    shim_unref(shim);
    if (!have_criu())
        return err_make_raw(err, ERR_FAILED_PRECONDITION,
                            "checkpoint needs CRIU, which is not installed on this host");
    return err_make_raw(err, ERR_NOT_IMPLEMENTED,
                        "checkpoint images are not implemented by Berth yet");
}

static int update(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    const SVC(UpdateTaskRequest) *req = (const SVC(UpdateTaskRequest) *)request;
    struct shim *shim = container_task(data, call, req->container_id, err);
    if (!shim)
        return -1;
    T3(UpdateTaskRequest) ureq = CONTAINERD__TASK__V3__UPDATE_TASK_REQUEST__INIT;
    ureq.id = req->container_id;
    ureq.resources = req->resources;
    /* map entries share one layout across the generated types */
    ureq.n_annotations = req->n_annotations;
    ureq.annotations = (T3(UpdateTaskRequest__AnnotationsEntry) **)req->annotations;
    return forward_empty(call, shim, "Update", &ureq.base, err);
}

static bool metric_field(void *object, const char *const *fieldpath, size_t n, const char **value)
{
    struct shim *shim = object;
    if (n < 1)
        return false;
    if (strcmp(fieldpath[0], "id") == 0)
        *value = shim_id(shim);
    else if (strcmp(fieldpath[0], "namespace") == 0)
        *value = shim_namespace(shim);
    else
        return false;
    return true;
}

static int metrics(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                   struct berth_error **err)
{
    struct tasks_service *s = data;
    const SVC(MetricsRequest) *req = (const SVC(MetricsRequest) *)request;
    _cleanup_filter_ struct filter *filter = NULL;
    if (filters_parse_any((const char *const *)req->filters, req->n_filters, &filter, err) < 0)
        return -1;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    struct shim **shims = NULL;
    size_t n = task_manager_list(s->tm, ns, &shims);
    struct pb_arena a = {0};
    ProtobufCMessage **held = xcalloc(n ? n : 1, sizeof(*held));
    SVC(MetricsResponse) out = CONTAINERD__SERVICES__TASKS__V1__METRICS_RESPONSE__INIT;
    out.metrics = pb_arena_alloc(&a, (n ? n : 1) * sizeof(*out.metrics));
    for (size_t i = 0; i < n; i++) {
        if (filters_match(filter, metric_field, shims[i])) {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            T3(StatsRequest) sreq = CONTAINERD__TASK__V3__STATS_REQUEST__INIT;
            sreq.id = (char *)shim_id(shims[i]);
            /* tasks whose stats fail are left out, as containerd does */
            if (shim_call(shims[i], "Stats", &sreq.base, &TASK(stats_response__descriptor),
                          &held[i], call, 0, NULL) == 0) {
                Containerd__Types__Metric *m =
                    pb_arena_message(&a, &containerd__types__metric__descriptor);
                m->timestamp = pb_arena_timespec(&a, now);
                m->id = pb_arena_strdup(&a, shim_id(shims[i]));
                m->data = ((T3(StatsResponse) *)held[i])->stats;
                out.metrics[out.n_metrics++] = m;
            }
        }
    }
    int r = rpc_call_send(call, &out.base, err);
    for (size_t i = 0; i < n; i++) {
        if (held[i])
            protobuf_c_message_free_unpacked(held[i], NULL);
        shim_unref(shims[i]);
    }
    free(held);
    free(shims);
    pb_arena_free(&a);
    return r;
}

static int wait_task(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                     struct berth_error **err)
{
    const SVC(WaitRequest) *req = (const SVC(WaitRequest) *)request;
    struct shim *shim = process_task(data, call, req->container_id, req->exec_id, err);
    if (!shim)
        return -1;
    T3(WaitRequest) wreq = CONTAINERD__TASK__V3__WAIT_REQUEST__INIT;
    wreq.id = req->container_id;
    wreq.exec_id = req->exec_id;
    ProtobufCMessage *resp = NULL;
    int r =
        shim_call(shim, "Wait", &wreq.base, &TASK(wait_response__descriptor), &resp, call, 0, err);
    shim_unref(shim);
    if (r < 0)
        return -1;
    T3(WaitResponse) *w = (T3(WaitResponse) *)resp;
    SVC(WaitResponse) out = CONTAINERD__SERVICES__TASKS__V1__WAIT_RESPONSE__INIT;
    out.exit_status = w->exit_status;
    Google__Protobuf__Timestamp epoch = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    out.exited_at = exit_time(w->exited_at, &epoch);
    r = rpc_call_send(call, &out.base, err);
    protobuf_c_message_free_unpacked(resp, NULL);
    return r;
}

#define M(name, req, resp, fn)                                                                     \
    {                                                                                              \
        name, RPC_UNARY, &API(req##__descriptor), resp, fn                                         \
    }

static const struct rpc_method methods[] = {
    M("Create", create_task_request, &API(create_task_response__descriptor), create),
    M("Start", start_request, &API(start_response__descriptor), start),
    M("Delete", delete_task_request, &API(delete_response__descriptor), delete_task),
    M("DeleteProcess", delete_process_request, &API(delete_response__descriptor), delete_process),
    M("Get", get_request, &API(get_response__descriptor), get),
    M("List", list_tasks_request, &API(list_tasks_response__descriptor), list),
    M("Kill", kill_request, &google__protobuf__empty__descriptor, kill_task),
    M("Exec", exec_process_request, &google__protobuf__empty__descriptor, exec_process),
    M("ResizePty", resize_pty_request, &google__protobuf__empty__descriptor, resize_pty),
    M("CloseIO", close_iorequest, &google__protobuf__empty__descriptor, close_io),
    M("Pause", pause_task_request, &google__protobuf__empty__descriptor, pause_task),
    M("Resume", resume_task_request, &google__protobuf__empty__descriptor, resume_task),
    M("ListPids", list_pids_request, &API(list_pids_response__descriptor), list_pids),
    M("Checkpoint", checkpoint_task_request, &API(checkpoint_task_response__descriptor),
      checkpoint),
    M("Update", update_task_request, &google__protobuf__empty__descriptor, update),
    M("Metrics", metrics_request, &API(metrics_response__descriptor), metrics),
    M("Wait", wait_request, &API(wait_response__descriptor), wait_task),
};

static int tasks_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct service_host *host = plugin_context_daemon(ctx);
    struct tasks_service *s = xcalloc(1, sizeof(*s));
    s->db = plugin_context_get_by_type(ctx, PLUGIN_METADATA);
    s->tm = plugin_context_get(ctx, PLUGIN_RUNTIME_V2, "task");
    if (!s->db || !s->tm) {
        free(s);
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "no metadata database or task runtime");
    }
    s->svc = (struct rpc_service){
        .name = "containerd.services.tasks.v1.Tasks",
        .methods = methods,
        .n_methods = ARRAY_SIZE(methods),
        .data = s,
    };
    rpc_registry_add(host->grpc, &s->svc);
    *ret = s;
    return 0;
}

static const char *const requires[] = {PLUGIN_METADATA, PLUGIN_RUNTIME_V2, NULL};

const struct plugin_registration tasks_plugin = {
    .type = PLUGIN_GRPC,
    .id = "tasks",
    .requires = requires,
    .init = tasks_init,
    .close = free,
};
