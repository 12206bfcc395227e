/* containerd.services.snapshots.v1.Snapshots over the namespaced snapshotter layer. */
#include "services/services.h"
#include "core/events/events.h"
#include "core/metadata/gc_scheduler.h"
#include "core/plugin/plugin.h"
#include "core/snapshots/metadata.h"
#include "lib/base/alloc.h"
#include "services/convert.h"

#include "containerd/events/snapshot.pb-c.h"
#include "containerd/services/snapshots/v1/snapshots.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define S(x)    containerd__services__snapshots__v1__##x
#define INIT(x) CONTAINERD__SERVICES__SNAPSHOTS__V1__##x##__INIT
typedef Containerd__Services__Snapshots__V1__Info Info;
typedef Containerd__Types__Mount Mount;

struct snapshots_service {
    struct rpc_service svc;
    struct snapshots_metadata *ms;
    struct event_exchange *events;
    struct gc_scheduler *gc;
};

static Mount **mounts_to_pb(struct pb_arena *a, const struct mount_list *l, size_t *ret_n)
{
    Mount **out = pb_arena_alloc(a, (l->count ? l->count : 1) * sizeof(*out));
    for (size_t i = 0; i < l->count; i++) {
        const struct mount *m = &l->items[i];
        Mount *pm = pb_arena_message(a, &containerd__types__mount__descriptor);
        pm->type = pb_arena_strdup(a, m->type);
        pm->source = pb_arena_strdup(a, m->source);
        pm->target = pb_arena_strdup(a, m->target ? m->target : "");
        pm->options = pb_arena_alloc(a, (m->n_options ? m->n_options : 1) * sizeof(char *));
        for (size_t j = 0; j < m->n_options; j++)
            pm->options[j] = pb_arena_strdup(a, m->options[j]);
        pm->n_options = m->n_options;
        out[i] = pm;
    }
    *ret_n = l->count;
    return out;
}

static Info *info_to_pb(struct pb_arena *a, const struct snapshot_info *info)
{
    Info *m = pb_arena_message(a, &S(info__descriptor));
    m->name = pb_arena_strdup(a, info->name);
    m->parent = pb_arena_strdup(a, info->parent ? info->parent : "");
    m->kind = (Containerd__Services__Snapshots__V1__Kind)info->kind;
    m->created_at = pb_arena_timestamp(a, info->created_ns);
    m->updated_at = pb_arena_timestamp(a, info->updated_ns);
    m->labels = (Containerd__Services__Snapshots__V1__Info__LabelsEntry **)pb_arena_labels(
        a, &info->labels, &S(info__labels_entry__descriptor), &m->n_labels);
    for (size_t i = 0; i < m->n_labels; i++) {
        m->labels[i]->key = pb_arena_strdup(a, m->labels[i]->key);
        m->labels[i]->value = pb_arena_strdup(a, m->labels[i]->value);
    }
    return m;
}

static const char *lease_of(struct rpc_call *call)
{
    return rpc_call_metadata(call, "containerd-lease");
}

/* Prepare and View share everything but the kind and the event. */
static int create(struct rpc_call *call, struct snapshots_service *s, const char *sn,
                  const char *key, const char *parent, void *const *labels_pb, size_t n_labels,
                  bool readonly, struct berth_error **err)
{
    const char *ns = service_namespace(call, err);
    if (!ns || snapshots_metadata_check(s->ms, sn, err) < 0)
        return -1;
    struct labels labels = {0};
    pb_labels_to_core(labels_pb, n_labels, &labels);
    struct mount_list mounts = {0};
    int rc = snapshots_metadata_prepare(s->ms, sn, ns, key, parent, &labels, lease_of(call),
                                        readonly, &mounts, err);
    labels_clear(&labels);
    if (rc < 0)
        return -1;
    if (!readonly) {
        Containerd__Events__SnapshotPrepare ev = CONTAINERD__EVENTS__SNAPSHOT_PREPARE__INIT;
        ev.key = (char *)key;
        ev.parent = (char *)parent;
        ev.snapshotter = (char *)sn;
        services_publish(s->events, ns, "/snapshot/prepare", &ev.base);
    }
    struct pb_arena a = {0};
    Containerd__Services__Snapshots__V1__PrepareSnapshotResponse prep =
        INIT(PREPARE_SNAPSHOT_RESPONSE);
    Containerd__Services__Snapshots__V1__ViewSnapshotResponse view = INIT(VIEW_SNAPSHOT_RESPONSE);
    if (readonly)
        view.mounts = mounts_to_pb(&a, &mounts, &view.n_mounts);
    else
        prep.mounts = mounts_to_pb(&a, &mounts, &prep.n_mounts);
    rc = rpc_call_send(call, readonly ? &view.base : &prep.base, err);
    pb_arena_free(&a);
    mount_list_clear(&mounts);
    return rc;
}

static int prepare(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                   struct berth_error **err)
{
    const Containerd__Services__Snapshots__V1__PrepareSnapshotRequest *req = (const void *)request;
    return create(call, data, req->snapshotter, req->key, req->parent, (void *const *)req->labels,
                  req->n_labels, false, err);
}

static int view(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                struct berth_error **err)
{
    const Containerd__Services__Snapshots__V1__ViewSnapshotRequest *req = (const void *)request;
    return create(call, data, req->snapshotter, req->key, req->parent, (void *const *)req->labels,
                  req->n_labels, true, err);
}

static int mounts(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    struct snapshots_service *s = data;
    const Containerd__Services__Snapshots__V1__MountsRequest *req = (const void *)request;
    const char *ns = service_namespace(call, err);
    struct mount_list l = {0};
    if (!ns || snapshots_metadata_mounts(s->ms, req->snapshotter, ns, req->key, &l, err) < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Snapshots__V1__MountsResponse resp = INIT(MOUNTS_RESPONSE);
    resp.mounts = mounts_to_pb(&a, &l, &resp.n_mounts);
    int rc = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    mount_list_clear(&l);
    return rc;
}

static int commit(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    struct snapshots_service *s = data;
    const Containerd__Services__Snapshots__V1__CommitSnapshotRequest *req = (const void *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    struct labels labels = {0};
    pb_labels_to_core((void *const *)req->labels, req->n_labels, &labels);
    int rc = snapshots_metadata_commit(s->ms, req->snapshotter, ns, req->name, req->key, &labels,
                                       lease_of(call), err);
    labels_clear(&labels);
    if (rc < 0)
        return -1;
    Containerd__Events__SnapshotCommit ev = CONTAINERD__EVENTS__SNAPSHOT_COMMIT__INIT;
    ev.key = req->key;
    ev.name = req->name;
    ev.snapshotter = req->snapshotter;
    services_publish(s->events, ns, "/snapshot/commit", &ev.base);
    Google__Protobuf__Empty resp = GOOGLE__PROTOBUF__EMPTY__INIT;
    return rpc_call_send(call, &resp.base, err);
}

static int remove_snapshot(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                           struct berth_error **err)
{
    struct snapshots_service *s = data;
    const Containerd__Services__Snapshots__V1__RemoveSnapshotRequest *req = (const void *)request;
    const char *ns = service_namespace(call, err);
    if (!ns ||
        snapshots_metadata_remove(s->ms, req->snapshotter, ns, req->key, lease_of(call), err) < 0)
        return -1;
    Containerd__Events__SnapshotRemove ev = CONTAINERD__EVENTS__SNAPSHOT_REMOVE__INIT;
    ev.key = req->key;
    ev.snapshotter = req->snapshotter;
    services_publish(s->events, ns, "/snapshot/remove", &ev.base);
    gc_scheduler_deleted(s->gc);
    Google__Protobuf__Empty resp = GOOGLE__PROTOBUF__EMPTY__INIT;
    return rpc_call_send(call, &resp.base, err);
}

static int stat_snapshot(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                         struct berth_error **err)
{
    struct snapshots_service *s = data;
    const Containerd__Services__Snapshots__V1__StatSnapshotRequest *req = (const void *)request;
    const char *ns = service_namespace(call, err);
    struct snapshot_info info;
    if (!ns || snapshots_metadata_stat(s->ms, req->snapshotter, ns, req->key, &info, err) < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Snapshots__V1__StatSnapshotResponse resp = INIT(STAT_SNAPSHOT_RESPONSE);
    resp.info = info_to_pb(&a, &info);
    snapshot_info_clear(&info);
    int rc = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    return rc;
}

static int update(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    struct snapshots_service *s = data;
    const Containerd__Services__Snapshots__V1__UpdateSnapshotRequest *req = (const void *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    if (!req->info)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "info must be set");
    struct snapshot_info in = {.name = req->info->name};
    pb_labels_to_core((void *const *)req->info->labels, req->info->n_labels, &in.labels);
    size_t n_paths = req->update_mask ? req->update_mask->n_paths : 0;
    struct snapshot_info out;
    int rc = snapshots_metadata_update(
        s->ms, req->snapshotter, ns, &in,
        n_paths ? (const char *const *)req->update_mask->paths : NULL, n_paths, &out, err);
    labels_clear(&in.labels);
    if (rc < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Snapshots__V1__UpdateSnapshotResponse resp =
        INIT(UPDATE_SNAPSHOT_RESPONSE);
    resp.info = info_to_pb(&a, &out);
    snapshot_info_clear(&out);
    rc = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    return rc;
}

static int list_one(const struct snapshot_info *info, void *arg, struct berth_error **err)
{
    struct pb_batcher *b = arg;
    return pb_batcher_add(b, info_to_pb(&b->arena, info), err);
}

static int list(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                struct berth_error **err)
{
    struct snapshots_service *s = data;
    const Containerd__Services__Snapshots__V1__ListSnapshotsRequest *req = (const void *)request;
    const char *ns = service_namespace(call, err);
    if (!ns || snapshots_metadata_check(s->ms, req->snapshotter, err) < 0)
        return -1;
    _cleanup_filter_ struct filter *filter = NULL;
    if (filters_parse_any((const char *const *)req->filters, req->n_filters, &filter, err) < 0)
        return -1;
    struct pb_batcher b = {
        .call = call,
        .response_type = &containerd__services__snapshots__v1__list_snapshots_response__descriptor};
    int rc = snapshots_metadata_walk(s->ms, req->snapshotter, ns, filter, list_one, &b, err);
    int fin = pb_batcher_finish(&b, rc == 0 ? err : NULL);
    return rc < 0 ? rc : fin;
}

static int usage(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                 struct berth_error **err)
{
    struct snapshots_service *s = data;
    const Containerd__Services__Snapshots__V1__UsageRequest *req = (const void *)request;
    const char *ns = service_namespace(call, err);
    struct snapshot_usage u;
    if (!ns || snapshots_metadata_usage(s->ms, req->snapshotter, ns, req->key, &u, err) < 0)
        return -1;
    Containerd__Services__Snapshots__V1__UsageResponse resp = INIT(USAGE_RESPONSE);
    resp.size = u.size;
    resp.inodes = u.inodes;
    return rpc_call_send(call, &resp.base, err);
}

static int cleanup(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                   struct berth_error **err)
{
    struct snapshots_service *s = data;
    const Containerd__Services__Snapshots__V1__CleanupRequest *req = (const void *)request;
    if (!service_namespace(call, err) ||
        snapshots_metadata_cleanup(s->ms, req->snapshotter, err) < 0)
        return -1;
    Google__Protobuf__Empty resp = GOOGLE__PROTOBUF__EMPTY__INIT;
    return rpc_call_send(call, &resp.base, err);
}

static const struct rpc_method methods[] = {
    {"Prepare", RPC_UNARY, &S(prepare_snapshot_request__descriptor),
     &S(prepare_snapshot_response__descriptor), prepare},
    {"View", RPC_UNARY, &S(view_snapshot_request__descriptor),
     &S(view_snapshot_response__descriptor), view},
    {"Mounts", RPC_UNARY, &S(mounts_request__descriptor), &S(mounts_response__descriptor), mounts},
    {"Commit", RPC_UNARY, &S(commit_snapshot_request__descriptor),
     &google__protobuf__empty__descriptor, commit},
    {"Remove", RPC_UNARY, &S(remove_snapshot_request__descriptor),
     &google__protobuf__empty__descriptor, remove_snapshot},
    {"Stat", RPC_UNARY, &S(stat_snapshot_request__descriptor),
     &S(stat_snapshot_response__descriptor), stat_snapshot},
    {"Update", RPC_UNARY, &S(update_snapshot_request__descriptor),
     &S(update_snapshot_response__descriptor), update},
    {"List", RPC_SERVER_STREAMING, &S(list_snapshots_request__descriptor),
     &S(list_snapshots_response__descriptor), list},
    {"Usage", RPC_UNARY, &S(usage_request__descriptor), &S(usage_response__descriptor), usage},
    {"Cleanup", RPC_UNARY, &S(cleanup_request__descriptor), &google__protobuf__empty__descriptor,
     cleanup},
};

static int snapshots_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct service_host *host = plugin_context_daemon(ctx);
    struct snapshots_service *s = xcalloc(1, sizeof(*s));
    s->ms = plugin_context_get(ctx, PLUGIN_SERVICE, "snapshots-service");
    s->events = plugin_context_get_by_type(ctx, PLUGIN_EVENT);
    s->gc = plugin_context_get_by_type(ctx, PLUGIN_GC);
    if (!s->ms || !s->events) {
        free(s);
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "no snapshots service or event exchange");
    }
    s->svc = (struct rpc_service){
        .name = "containerd.services.snapshots.v1.Snapshots",
        .methods = methods,
        .n_methods = ARRAY_SIZE(methods),
        .data = s,
    };
    rpc_registry_add(host->grpc, &s->svc);
    *ret = s;
    return 0;
}

static const char *const requires[] = {PLUGIN_SERVICE, PLUGIN_EVENT, PLUGIN_GC, NULL};

const struct plugin_registration snapshots_service_plugin = {
    .type = PLUGIN_GRPC,
    .id = "snapshots",
    .requires = requires,
    .init = snapshots_init,
    .close = free,
};
