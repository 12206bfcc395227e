/* containerd.services.leases.v1.Leases over core/metadata's lease records. */
#include "services/services.h"
#include "core/metadata/leases.h"
#include "core/metadata/gc_scheduler.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "services/convert.h"

#include "containerd/services/leases/v1/leases.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define LS(x) containerd__services__leases__v1__##x

#define NS_PER_SECOND 1000000000LL

struct leases_service {
    struct rpc_service svc;
    struct metadata_db *db;
    struct gc_scheduler *gc;
};

static Containerd__Services__Leases__V1__Lease *lease_to_pb(struct pb_arena *a,
                                                            const struct lease *l)
{
    Containerd__Services__Leases__V1__Lease *m = pb_arena_message(a, &LS(lease__descriptor));
    m->id = l->id;
    m->created_at = pb_arena_timestamp(a, l->created_at);
    m->labels = (Containerd__Services__Leases__V1__Lease__LabelsEntry **)pb_arena_labels(
        a, &l->labels, &LS(lease__labels_entry__descriptor), &m->n_labels);
    return m;
}

static int empty_reply(struct rpc_call *call, struct berth_error **err)
{
    Google__Protobuf__Empty resp = GOOGLE__PROTOBUF__EMPTY__INIT;
    return rpc_call_send(call, &resp.base, err);
}

static int create(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    struct leases_service *s = data;
    const Containerd__Services__Leases__V1__CreateRequest *req =
        (const Containerd__Services__Leases__V1__CreateRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    struct labels labels = {0};
    pb_labels_to_core((void *const *)req->labels, req->n_labels, &labels);
    struct lease l;
    int r = leases_create(s->db, ns, req->id, &labels, &l, err);
    labels_clear(&labels);
    if (r < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Leases__V1__CreateResponse resp =
        CONTAINERD__SERVICES__LEASES__V1__CREATE_RESPONSE__INIT;
    resp.lease = lease_to_pb(&a, &l);
    r = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    lease_clear(&l);
    return r;
}

static int delete (struct rpc_call *call, const ProtobufCMessage *request, void *data,
                   struct berth_error **err)
{
    struct leases_service *s = data;
    const Containerd__Services__Leases__V1__DeleteRequest *req =
        (const Containerd__Services__Leases__V1__DeleteRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    if (leases_delete(s->db, ns, req->id, err) < 0)
        return -1;
    if (req->sync) {
        if (gc_scheduler_run_sync(s->gc, err) < 0)
            return err_wrap(err, "failed to garbage collect");
    } else {
        gc_scheduler_deleted(s->gc);
    }
    return empty_reply(call, err);
}

static int list(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                struct berth_error **err)
{
    struct leases_service *s = data;
    const Containerd__Services__Leases__V1__ListRequest *req =
        (const Containerd__Services__Leases__V1__ListRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    struct lease *all;
    size_t n;
    if (leases_list(s->db, ns, (const char *const *)req->filters, req->n_filters, &all, &n, err) <
        0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Leases__V1__ListResponse resp =
        CONTAINERD__SERVICES__LEASES__V1__LIST_RESPONSE__INIT;
    resp.leases = pb_arena_alloc(&a, n * sizeof(*resp.leases));
    for (size_t i = 0; i < n; i++)
        resp.leases[resp.n_leases++] = lease_to_pb(&a, &all[i]);
    int r = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    leases_list_free(all, n);
    return r;
}

/* containerd dereferences the resource unchecked; a missing one is a bad request here. */
static int resource_from_pb(const Containerd__Services__Leases__V1__Resource *m,
                            struct lease_resource *ret, struct berth_error **err)
{
    if (!m)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "resource must be set");
    *ret = (struct lease_resource){.id = m->id, .type = m->type};
    return 0;
}

static int add_resource(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                        struct berth_error **err)
{
    struct leases_service *s = data;
    const Containerd__Services__Leases__V1__AddResourceRequest *req =
        (const Containerd__Services__Leases__V1__AddResourceRequest *)request;
    const char *ns = service_namespace(call, err);
    struct lease_resource r;
    if (!ns || resource_from_pb(req->resource, &r, err) < 0 ||
        leases_add_resource(s->db, ns, req->id, &r, err) < 0)
        return -1;
    return empty_reply(call, err);
}

static int delete_resource(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                           struct berth_error **err)
{
    struct leases_service *s = data;
    const Containerd__Services__Leases__V1__DeleteResourceRequest *req =
        (const Containerd__Services__Leases__V1__DeleteResourceRequest *)request;
    const char *ns = service_namespace(call, err);
    struct lease_resource r;
    if (!ns || resource_from_pb(req->resource, &r, err) < 0 ||
        leases_delete_resource(s->db, ns, req->id, &r, err) < 0)
        return -1;
    return empty_reply(call, err);
}

static int list_resources(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                          struct berth_error **err)
{
    struct leases_service *s = data;
    const Containerd__Services__Leases__V1__ListResourcesRequest *req =
        (const Containerd__Services__Leases__V1__ListResourcesRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    struct lease_resource *all;
    size_t n;
    if (leases_list_resources(s->db, ns, req->id, &all, &n, err) < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Leases__V1__ListResourcesResponse resp =
        CONTAINERD__SERVICES__LEASES__V1__LIST_RESOURCES_RESPONSE__INIT;
    resp.resources = pb_arena_alloc(&a, n * sizeof(*resp.resources));
    for (size_t i = 0; i < n; i++) {
        Containerd__Services__Leases__V1__Resource *m =
            pb_arena_message(&a, &LS(resource__descriptor));
        m->id = all[i].id;
        m->type = all[i].type;
        resp.resources[resp.n_resources++] = m;
    }
    int r = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    lease_resources_free(all, n);
    return r;
}

static const struct rpc_method methods[] = {
    {"Create", RPC_UNARY, &LS(create_request__descriptor), &LS(create_response__descriptor),
     create},
    {"Delete", RPC_UNARY, &LS(delete_request__descriptor), &google__protobuf__empty__descriptor,
     delete},
    {"List", RPC_UNARY, &LS(list_request__descriptor), &LS(list_response__descriptor), list},
    {"AddResource", RPC_UNARY, &LS(add_resource_request__descriptor),
     &google__protobuf__empty__descriptor, add_resource},
    {"DeleteResource", RPC_UNARY, &LS(delete_resource_request__descriptor),
     &google__protobuf__empty__descriptor, delete_resource},
    {"ListResources", RPC_UNARY, &LS(list_resources_request__descriptor),
     &LS(list_resources_response__descriptor), list_resources},
};

static int leases_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct service_host *host = plugin_context_daemon(ctx);
    struct leases_service *s = xcalloc(1, sizeof(*s));
    s->db = plugin_context_get_by_type(ctx, PLUGIN_METADATA);
    s->gc = plugin_context_get_by_type(ctx, PLUGIN_GC);
    if (!s->db) {
        free(s);
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "no metadata database");
    }
    s->svc = (struct rpc_service){
        .name = "containerd.services.leases.v1.Leases",
        .methods = methods,
        .n_methods = ARRAY_SIZE(methods),
        .data = s,
    };
    rpc_registry_add(host->grpc, &s->svc);
    *ret = s;
    return 0;
}

static const char *const requires[] = {PLUGIN_METADATA, PLUGIN_GC, NULL};

const struct plugin_registration leases_plugin = {
    .type = PLUGIN_GRPC,
    .id = "leases",
    .requires = requires,
    .init = leases_init,
    .close = free,
};
