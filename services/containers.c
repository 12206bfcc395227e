/* containerd.services.containers.v1.Containers over core/metadata's container records. */
#include "services/services.h"
#include "core/events/events.h"
#include "core/metadata/containers.h"
#include "core/metadata/gc_scheduler.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "services/convert.h"

#include "containerd/events/container.pb-c.h"
#include "containerd/services/containers/v1/containers.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <string.h>

#define CTR(x) containerd__services__containers__v1__##x

typedef Containerd__Services__Containers__V1__Container PbContainer;
typedef Containerd__Services__Containers__V1__Container__ExtensionsEntry PbExtension;

struct containers_service {
    struct rpc_service svc;
    struct metadata_db *db;
    struct event_exchange *events;
    struct gc_scheduler *gc;
};

/* An Any borrowing the stored bytes; NULL when the field is unset. */
static Google__Protobuf__Any *any_to_pb(struct pb_arena *a, const struct container_any *any)
{
    if (!any->set)
        return NULL;
    Google__Protobuf__Any *m = pb_arena_message(a, &google__protobuf__any__descriptor);
    m->type_url = any->type_url;
    m->value.data = any->value;
    m->value.len = any->value_len;
    return m;
}

static PbContainer *container_to_pb(struct pb_arena *a, const struct container *c)
{
    PbContainer *m = pb_arena_message(a, &CTR(container__descriptor));
    m->id = c->id;
    m->labels = (Containerd__Services__Containers__V1__Container__LabelsEntry **)pb_arena_labels(
        a, &c->labels, &CTR(container__labels_entry__descriptor), &m->n_labels);
    m->image = c->image;
    Containerd__Services__Containers__V1__Container__Runtime *rt =
        pb_arena_message(a, &CTR(container__runtime__descriptor));
    rt->name = c->runtime_name;
    rt->options = any_to_pb(a, &c->runtime_options);
    m->runtime = rt;
    m->spec = any_to_pb(a, &c->spec);
    m->snapshotter = c->snapshotter;
    m->snapshot_key = c->snapshot_key;
    m->created_at = pb_arena_timestamp(a, c->created_at);
    m->updated_at = pb_arena_timestamp(a, c->updated_at);
    m->sandbox = c->sandbox;
    if (c->n_extensions) {
        m->extensions = pb_arena_alloc(a, c->n_extensions * sizeof(*m->extensions));
        for (size_t i = 0; i < c->n_extensions; i++) {
            PbExtension *e = pb_arena_message(a, &CTR(container__extensions_entry__descriptor));
            e->key = c->extensions[i].key;
            e->value = any_to_pb(a, &c->extensions[i].value);
            m->extensions[m->n_extensions++] = e;
        }
    }
    return m;
}

static void any_from_pb(const Google__Protobuf__Any *m, struct container_any *out)
{
    if (m)
        container_any_set(out, m->type_url, m->value.data, m->value.len);
}

/* The request's container as an owned core record (later map duplicates win). */
static void container_from_pb(const PbContainer *m, struct container *out)
{
    struct container borrowed = {
        .id = m->id,
        .image = m->image,
        .runtime_name = m->runtime ? m->runtime->name : NULL,
        .snapshotter = m->snapshotter,
        .snapshot_key = m->snapshot_key,
        .sandbox = m->sandbox,
    };
    container_copy(out, &borrowed);
    pb_labels_to_core((void *const *)m->labels, m->n_labels, &out->labels);
    if (m->runtime)
        any_from_pb(m->runtime->options, &out->runtime_options);
    any_from_pb(m->spec, &out->spec);
    for (size_t i = 0; i < m->n_extensions; i++) {
        struct container_any value = {0};
        any_from_pb(m->extensions[i]->value, &value);
        container_extension_set(out, m->extensions[i]->key, &value);
        container_any_clear(&value);
    }
}

static int get(struct rpc_call *call, const ProtobufCMessage *request, void *data,
               struct berth_error **err)
{
    struct containers_service *s = data;
    const Containerd__Services__Containers__V1__GetContainerRequest *req =
        (const Containerd__Services__Containers__V1__GetContainerRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    struct container c;
    if (containers_get(s->db, ns, req->id, &c, err) < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Containers__V1__GetContainerResponse resp =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_RESPONSE__INIT;
    resp.container = container_to_pb(&a, &c);
    int r = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    container_clear(&c);
    return r;
}

static int list_records(struct containers_service *s, struct rpc_call *call,
                        const ProtobufCMessage *request, struct container **ret, size_t *ret_n,
                        struct berth_error **err)
{
    const Containerd__Services__Containers__V1__ListContainersRequest *req =
        (const Containerd__Services__Containers__V1__ListContainersRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    return containers_list(s->db, ns, (const char *const *)req->filters, req->n_filters, ret, ret_n,
                           err);
}

static int list(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                struct berth_error **err)
{
    struct container *all;
    size_t n;
    if (list_records(data, call, request, &all, &n, err) < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Containers__V1__ListContainersResponse resp =
        CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINERS_RESPONSE__INIT;
    resp.containers = pb_arena_alloc(&a, n * sizeof(*resp.containers));
    for (size_t i = 0; i < n; i++)
        resp.containers[resp.n_containers++] = container_to_pb(&a, &all[i]);
    int r = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    containers_list_free(all, n);
    return r;
}

/* One container per message, for sets too large for one List response. */
static int list_stream(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                       struct berth_error **err)
{
    struct container *all;
    size_t n;
    if (list_records(data, call, request, &all, &n, err) < 0)
        return -1;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        struct pb_arena a = {0};
        Containerd__Services__Containers__V1__ListContainerMessage msg =
            CONTAINERD__SERVICES__CONTAINERS__V1__LIST_CONTAINER_MESSAGE__INIT;
        msg.container = container_to_pb(&a, &all[i]);
        r = rpc_call_send(call, &msg.base, err);
        pb_arena_free(&a);
    }
    containers_list_free(all, n);
    return r;
}

static int create(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    struct containers_service *s = data;
    const Containerd__Services__Containers__V1__CreateContainerRequest *req =
        (const Containerd__Services__Containers__V1__CreateContainerRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    static const PbContainer empty = CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    struct container in, created;
    container_from_pb(req->container ? req->container : &empty, &in);
    int r = containers_create(s->db, ns, &in, &created, err);
    container_clear(&in);
    if (r < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Events__ContainerCreate ev = CONTAINERD__EVENTS__CONTAINER_CREATE__INIT;
    Containerd__Events__ContainerCreate__Runtime rt =
        CONTAINERD__EVENTS__CONTAINER_CREATE__RUNTIME__INIT;
    ev.id = created.id;
    ev.image = created.image;
    rt.name = created.runtime_name;
    rt.options = any_to_pb(&a, &created.runtime_options);
    ev.runtime = &rt;
    services_publish(s->events, ns, "/containers/create", &ev.base);
    Containerd__Services__Containers__V1__CreateContainerResponse resp =
        CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_RESPONSE__INIT;
    resp.container = container_to_pb(&a, &created);
    r = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    container_clear(&created);
    return r;
}

static int update(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    struct containers_service *s = data;
    const Containerd__Services__Containers__V1__UpdateContainerRequest *req =
        (const Containerd__Services__Containers__V1__UpdateContainerRequest *)request;
    if (!req->container || !req->container->id[0])
        return err_make_raw(err, ERR_INVALID_ARGUMENT, "Container.ID required");
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    size_t n_paths = req->update_mask ? req->update_mask->n_paths : 0;
    struct container in, updated;
    container_from_pb(req->container, &in);
    int r = containers_update(s->db, ns, &in,
                              n_paths ? (const char *const *)req->update_mask->paths : NULL,
                              n_paths, &updated, err);
    container_clear(&in);
    if (r < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Events__ContainerUpdate ev = CONTAINERD__EVENTS__CONTAINER_UPDATE__INIT;
    ev.id = updated.id;
    ev.image = updated.image;
    ev.labels = (Containerd__Events__ContainerUpdate__LabelsEntry **)pb_arena_labels(
        &a, &updated.labels, &containerd__events__container_update__labels_entry__descriptor,
        &ev.n_labels);
    ev.snapshot_key = updated.snapshot_key;
    services_publish(s->events, ns, "/containers/update", &ev.base);
    Containerd__Services__Containers__V1__UpdateContainerResponse resp =
        CONTAINERD__SERVICES__CONTAINERS__V1__UPDATE_CONTAINER_RESPONSE__INIT;
    resp.container = container_to_pb(&a, &updated);
    r = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    container_clear(&updated);
    return r;
}

static int delete (struct rpc_call *call, const ProtobufCMessage *request, void *data,
                   struct berth_error **err)
{
    struct containers_service *s = data;
    const Containerd__Services__Containers__V1__DeleteContainerRequest *req =
        (const Containerd__Services__Containers__V1__DeleteContainerRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    if (containers_delete(s->db, ns, req->id, err) < 0)
        return -1;
    /* the snapshot it held may now be collectable */
    gc_scheduler_deleted(s->gc);
    Containerd__Events__ContainerDelete ev = CONTAINERD__EVENTS__CONTAINER_DELETE__INIT;
    ev.id = req->id;
    services_publish(s->events, ns, "/containers/delete", &ev.base);
    Google__Protobuf__Empty resp = GOOGLE__PROTOBUF__EMPTY__INIT;
    return rpc_call_send(call, &resp.base, err);
}

static const struct rpc_method methods[] = {
    {"Get", RPC_UNARY, &CTR(get_container_request__descriptor),
     &CTR(get_container_response__descriptor), get},
    {"List", RPC_UNARY, &CTR(list_containers_request__descriptor),
     &CTR(list_containers_response__descriptor), list},
    {"ListStream", RPC_SERVER_STREAMING, &CTR(list_containers_request__descriptor),
     &CTR(list_container_message__descriptor), list_stream},
    {"Create", RPC_UNARY, &CTR(create_container_request__descriptor),
     &CTR(create_container_response__descriptor), create},
    {"Update", RPC_UNARY, &CTR(update_container_request__descriptor),
     &CTR(update_container_response__descriptor), update},
    {"Delete", RPC_UNARY, &CTR(delete_container_request__descriptor),
     &google__protobuf__empty__descriptor, delete},
};

static int containers_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct service_host *host = plugin_context_daemon(ctx);
    struct containers_service *s = xcalloc(1, sizeof(*s));
    s->db = plugin_context_get_by_type(ctx, PLUGIN_METADATA);
    s->events = plugin_context_get_by_type(ctx, PLUGIN_EVENT);
    s->gc = plugin_context_get_by_type(ctx, PLUGIN_GC);
    if (!s->db || !s->events) {
        free(s);
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "no metadata database or event exchange");
    }
    s->svc = (struct rpc_service){
        .name = "containerd.services.containers.v1.Containers",
        .methods = methods,
        .n_methods = ARRAY_SIZE(methods),
        .data = s,
    };
    rpc_registry_add(host->grpc, &s->svc);
    *ret = s;
    return 0;
}

static const char *const requires[] = {PLUGIN_METADATA, PLUGIN_EVENT, PLUGIN_GC, NULL};

const struct plugin_registration containers_plugin = {
    .type = PLUGIN_GRPC,
    .id = "containers",
    .requires = requires,
    .init = containers_init,
    .close = free,
};
