/*
 * A container's cgroup in the shim (core/cgroups): the Stats RPC and TaskOOM events, as
 * containerd's runc shim does them. The OOM watcher's fd is polled on the loop.
 */
#include "cmd/shim/task.h"
#include "core/cgroups/cgroups.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "proto/containerd/events/task.pb-c.h"

static enum cgroups_mode mode = CGROUPS_MODE_UNAVAILABLE;

void shim_cgroups_init(void)
{
    mode = cgroups_mode_detect(NULL);
}

void container_cgroup_open(struct container *c, pid_t pid)
{
    struct berth_error *err = NULL;
    if (cgroups_open_pid(NULL, mode, pid, &c->cgroup, &err) < 0) {
        /* as the reference: the container works, Stats reports NotFound */
        log_error("loading cgroup for %d: %s", (int)pid, err->message);
        err_free(err);
    }
}

static void on_oom_poll_closed(uv_handle_t *h)
{
    free(h);
}

static void oom_stop(struct container *c)
{
    if (c->oom_poll) {
        uv_close((uv_handle_t *)c->oom_poll, on_oom_poll_closed);
        c->oom_poll = NULL;
    }
    c->oom = cgroups_oom_free(c->oom);
}

/* Consumes what the watcher has; one TaskOOM per wake-up, as the reference publishes them. */
static void oom_process(struct container *c)
{
    unsigned ooms = 0;
    bool gone = false;
    struct berth_error *err = NULL;
    if (cgroups_oom_process(c->oom, &ooms, &gone, &err) < 0) {
        log_warn("OOM watch of %s: %s", c->id, err->message);
        err_free(err);
    }
    for (unsigned i = 0; i < ooms; i++) {
        Containerd__Events__TaskOOM ev = CONTAINERD__EVENTS__TASK_OOM__INIT;
        ev.container_id = c->id;
        events_publish("/tasks/oom", &ev.base);
    }
    if (gone)
        oom_stop(c);
}

static void on_oom_readable(uv_poll_t *h, int status, int events)
{
    struct container *c = h->data;
    if (status < 0) {
        log_warn("OOM watch of %s: %s", c->id, uv_strerror(status));
        oom_stop(c);
        return;
    }
    oom_process(c);
}

void container_oom_watch(struct container *c)
{
    struct berth_error *err = NULL;
    if (!c->cgroup || c->oom)
        return;
    if (cgroups_oom_watch(c->cgroup, &c->oom, &err) < 0) {
        log_error("add cg to OOM monitor: %s", err->message);
        err_free(err);
        return;
    }
    c->oom_poll = xcalloc(1, sizeof(*c->oom_poll));
    int r = uv_poll_init(loop_uv(shim_global->loop), c->oom_poll, cgroups_oom_fd(c->oom));
    if (r < 0) {
        log_error("add cg to OOM monitor: %s", uv_strerror(r));
        free(c->oom_poll);
        c->oom_poll = NULL;
        c->oom = cgroups_oom_free(c->oom);
        return;
    }
    c->oom_poll->data = c;
    uv_poll_start(c->oom_poll, UV_READABLE, on_oom_readable);
}

void container_oom_flush(struct container *c)
{
    if (c->oom)
        oom_process(c);
}

void container_cgroup_close(struct container *c)
{
    oom_stop(c);
    c->cgroup = cgroups_free(c->cgroup);
}

int task_stats(struct rpc_call *call, const ProtobufCMessage *msg, void *data,
               struct berth_error **err)
{
    const T(StatsRequest) *r = (const void *)msg;
    struct container *c;
    if (get_container(r->id, &c, err) < 0)
        return -1;
    if (!c->cgroup)
        return err_make(err, ERR_NOT_FOUND, 0, "cgroup does not exist");
    ProtobufCMessage *stats = NULL;
    if (cgroups_stats(c->cgroup, &stats, err) < 0)
        return -1;
    size_t len = protobuf_c_message_get_packed_size(stats);
    _cleanup_free_ uint8_t *bytes = xmalloc(len + 1);
    protobuf_c_message_pack(stats, bytes);
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = (char *)stats->descriptor->name;
    any.value.data = bytes;
    any.value.len = len;
    T(StatsResponse) resp = CONTAINERD__TASK__V3__STATS_RESPONSE__INIT;
    resp.stats = &any;
    int rc = send_reply(call, &resp.base, err);
    cgroups_metrics_free(stats);
    return rc;
}
