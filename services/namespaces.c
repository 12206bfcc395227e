/* containerd.services.namespaces.v1.Namespaces over core/metadata's namespace records. */
#include "services/services.h"
#include "core/events/events.h"
#include "core/metadata/namespaces.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "services/convert.h"

#include "containerd/events/namespace.pb-c.h"
#include "containerd/services/namespaces/v1/namespace.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#define NS(x) containerd__services__namespaces__v1__##x

struct namespaces_service {
    struct rpc_service svc;
    struct metadata_db *db;
    struct event_exchange *events;
};

static Containerd__Services__Namespaces__V1__Namespace *
namespace_to_pb(struct pb_arena *a, const struct namespace_record *ns)
{
    Containerd__Services__Namespaces__V1__Namespace *m =
        pb_arena_message(a, &NS(namespace__descriptor));
    m->name = ns->name;
    m->labels = (Containerd__Services__Namespaces__V1__Namespace__LabelsEntry **)pb_arena_labels(
        a, &ns->labels, &NS(namespace__labels_entry__descriptor), &m->n_labels);
    return m;
}

static int get(struct rpc_call *call, const ProtobufCMessage *request, void *data,
               struct berth_error **err)
{
    struct namespaces_service *host = data;
    const Containerd__Services__Namespaces__V1__GetNamespaceRequest *req =
        (const Containerd__Services__Namespaces__V1__GetNamespaceRequest *)request;
    struct namespace_record ns;
    if (namespaces_get(host->db, req->name, &ns, err) < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Namespaces__V1__GetNamespaceResponse resp =
        CONTAINERD__SERVICES__NAMESPACES__V1__GET_NAMESPACE_RESPONSE__INIT;
    resp.namespace_ = namespace_to_pb(&a, &ns);
    int r = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    namespace_record_clear(&ns);
    return r;
}

static int list(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                struct berth_error **err)
{
    struct namespaces_service *host = data;
    struct namespace_record *all;
    size_t n;
    if (namespaces_list(host->db, &all, &n, err) < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Namespaces__V1__ListNamespacesResponse resp =
        CONTAINERD__SERVICES__NAMESPACES__V1__LIST_NAMESPACES_RESPONSE__INIT;
    resp.namespaces = pb_arena_alloc(&a, n * sizeof(*resp.namespaces));
    for (size_t i = 0; i < n; i++)
        resp.namespaces[resp.n_namespaces++] = namespace_to_pb(&a, &all[i]);
    int r = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    namespaces_list_free(all, n);
    return r;
}

static int create(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    struct namespaces_service *host = data;
    const Containerd__Services__Namespaces__V1__CreateNamespaceRequest *req =
        (const Containerd__Services__Namespaces__V1__CreateNamespaceRequest *)request;
    if (!req->namespace_)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "namespace must be set");
    struct labels labels = {0};
    pb_labels_to_core((void *const *)req->namespace_->labels, req->namespace_->n_labels, &labels);
    int r = namespaces_create(host->db, req->namespace_->name, &labels, err);
    labels_clear(&labels);
    if (r < 0)
        return -1;
    Containerd__Services__Namespaces__V1__CreateNamespaceResponse resp =
        CONTAINERD__SERVICES__NAMESPACES__V1__CREATE_NAMESPACE_RESPONSE__INIT;
    resp.namespace_ = req->namespace_;
    Containerd__Events__NamespaceCreate ev = CONTAINERD__EVENTS__NAMESPACE_CREATE__INIT;
    ev.name = req->namespace_->name;
    ev.n_labels = req->namespace_->n_labels;
    ev.labels = (Containerd__Events__NamespaceCreate__LabelsEntry **)req->namespace_->labels;
    services_publish(host->events, req->namespace_->name, "/namespaces/create", &ev.base);
    return rpc_call_send(call, &resp.base, err);
}

static int update(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    struct namespaces_service *host = data;
    const Containerd__Services__Namespaces__V1__UpdateNamespaceRequest *req =
        (const Containerd__Services__Namespaces__V1__UpdateNamespaceRequest *)request;
    if (!req->namespace_)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "namespace must be set");
    struct labels labels = {0};
    pb_labels_to_core((void *const *)req->namespace_->labels, req->namespace_->n_labels, &labels);
    struct namespace_record ns;
    size_t n_paths = req->update_mask ? req->update_mask->n_paths : 0;
    int r = namespaces_update(host->db, req->namespace_->name, &labels,
                              n_paths ? (const char *const *)req->update_mask->paths : NULL,
                              n_paths, &ns, err);
    labels_clear(&labels);
    if (r < 0)
        return -1;
    namespace_record_clear(&ns);
    /* containerd answers with an empty Namespace and reports the request's labels. */
    Containerd__Events__NamespaceUpdate ev = CONTAINERD__EVENTS__NAMESPACE_UPDATE__INIT;
    ev.name = req->namespace_->name;
    ev.n_labels = req->namespace_->n_labels;
    ev.labels = (Containerd__Events__NamespaceUpdate__LabelsEntry **)req->namespace_->labels;
    services_publish(host->events, req->namespace_->name, "/namespaces/update", &ev.base);
    Containerd__Services__Namespaces__V1__UpdateNamespaceResponse resp =
        CONTAINERD__SERVICES__NAMESPACES__V1__UPDATE_NAMESPACE_RESPONSE__INIT;
    return rpc_call_send(call, &resp.base, err);
}

static int delete (struct rpc_call *call, const ProtobufCMessage *request, void *data,
                   struct berth_error **err)
{
    struct namespaces_service *host = data;
    const Containerd__Services__Namespaces__V1__DeleteNamespaceRequest *req =
        (const Containerd__Services__Namespaces__V1__DeleteNamespaceRequest *)request;
    if (namespaces_delete(host->db, req->name, err) < 0)
        return -1;
    Containerd__Events__NamespaceDelete ev = CONTAINERD__EVENTS__NAMESPACE_DELETE__INIT;
    ev.name = req->name;
    services_publish(host->events, req->name, "/namespaces/delete", &ev.base);
    Google__Protobuf__Empty resp = GOOGLE__PROTOBUF__EMPTY__INIT;
    return rpc_call_send(call, &resp.base, err);
}

static const struct rpc_method methods[] = {
    {"Get", RPC_UNARY, &NS(get_namespace_request__descriptor),
     &NS(get_namespace_response__descriptor), get},
    {"List", RPC_UNARY, &NS(list_namespaces_request__descriptor),
     &NS(list_namespaces_response__descriptor), list},
    {"Create", RPC_UNARY, &NS(create_namespace_request__descriptor),
     &NS(create_namespace_response__descriptor), create},
    {"Update", RPC_UNARY, &NS(update_namespace_request__descriptor),
     &NS(update_namespace_response__descriptor), update},
    {"Delete", RPC_UNARY, &NS(delete_namespace_request__descriptor),
     &google__protobuf__empty__descriptor, delete},
};

static int namespaces_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct service_host *host = plugin_context_daemon(ctx);
    struct namespaces_service *s = xcalloc(1, sizeof(*s));
    s->db = plugin_context_get_by_type(ctx, PLUGIN_METADATA);
    s->events = plugin_context_get_by_type(ctx, PLUGIN_EVENT);
    if (!s->db || !s->events) {
        free(s);
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "no metadata database or event exchange");
    }
    s->svc = (struct rpc_service){
        .name = "containerd.services.namespaces.v1.Namespaces",
        .methods = methods,
        .n_methods = ARRAY_SIZE(methods),
        .data = s,
    };
    rpc_registry_add(host->grpc, &s->svc);
    *ret = s;
    return 0;
}

static const char *const requires[] = {PLUGIN_METADATA, PLUGIN_EVENT, NULL};

const struct plugin_registration namespaces_plugin = {
    .type = PLUGIN_GRPC,
    .id = "namespaces",
    .requires = requires,
    .init = namespaces_init,
    .close = free,
};
