/* containerd.services.content.v1.Content over the namespaced content store. */
#include "services/services.h"
#include "core/content/content.h"
#include "core/events/events.h"
#include "core/metadata/content.h"
#include "core/metadata/gc_scheduler.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/filters/filters.h"
#include "services/convert.h"

#include "containerd/events/content.pb-c.h"
#include "containerd/services/content/v1/content.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <string.h>

#define C(x)    containerd__services__content__v1__##x
#define INIT(x) CONTAINERD__SERVICES__CONTENT__V1__##x##__INIT
typedef Containerd__Services__Content__V1__Info Info;
typedef Containerd__Services__Content__V1__Status Status;

enum { READ_CHUNK = 1 << 20 };

struct content_service {
    struct rpc_service svc;
    struct metadata_content *mc;
    struct event_exchange *events;
    struct gc_scheduler *gc;
};

/* The record's strings are copied: records are freed before the response is sent. */
static Info *info_to_pb(struct pb_arena *a, const struct content_record *r)
{
    Info *m = pb_arena_message(a, &C(info__descriptor));
    m->digest = pb_arena_strdup(a, r->digest);
    m->size = r->size;
    m->created_at = pb_arena_timestamp(a, r->created_ns);
    m->updated_at = pb_arena_timestamp(a, r->updated_ns);
    m->labels = (Containerd__Services__Content__V1__Info__LabelsEntry **)pb_arena_labels(
        a, &r->labels, &C(info__labels_entry__descriptor), &m->n_labels);
    for (size_t i = 0; i < m->n_labels; i++) {
        m->labels[i]->key = pb_arena_strdup(a, m->labels[i]->key);
        m->labels[i]->value = pb_arena_strdup(a, m->labels[i]->value);
    }
    return m;
}

static Status *status_to_pb(struct pb_arena *a, const struct content_status *st)
{
    Status *m = pb_arena_message(a, &C(status__descriptor));
    m->started_at = pb_arena_timespec(a, st->started_at);
    m->updated_at = pb_arena_timespec(a, st->updated_at);
    m->ref = pb_arena_strdup(a, st->ref ? st->ref : "");
    m->offset = st->offset;
    m->total = st->total;
    m->expected = pb_arena_strdup(a, st->expected);
    return m;
}

static int info(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                struct berth_error **err)
{
    struct content_service *s = data;
    const Containerd__Services__Content__V1__InfoRequest *req =
        (const Containerd__Services__Content__V1__InfoRequest *)request;
    const char *ns = service_namespace(call, err);
    struct content_record r;
    if (!ns || metadata_content_info(s->mc, ns, req->digest, &r, err) < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Content__V1__InfoResponse resp = INIT(INFO_RESPONSE);
    resp.info = info_to_pb(&a, &r);
    content_record_clear(&r);
    int rc = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    return rc;
}

static int update(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    struct content_service *s = data;
    const Containerd__Services__Content__V1__UpdateRequest *req =
        (const Containerd__Services__Content__V1__UpdateRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    if (!req->info)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "info must be set");
    struct labels labels = {0};
    pb_labels_to_core((void *const *)req->info->labels, req->info->n_labels, &labels);
    size_t n_paths = req->update_mask ? req->update_mask->n_paths : 0;
    struct content_record r;
    int rc = metadata_content_update(s->mc, ns, req->info->digest, &labels,
                                     n_paths ? (const char *const *)req->update_mask->paths : NULL,
                                     n_paths, &r, err);
    labels_clear(&labels);
    if (rc < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Content__V1__UpdateResponse resp = INIT(UPDATE_RESPONSE);
    resp.info = info_to_pb(&a, &r);
    content_record_clear(&r);
    rc = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    return rc;
}

static int list_one(const struct content_record *r, void *arg, struct berth_error **err)
{
    struct pb_batcher *b = arg;
    return pb_batcher_add(b, info_to_pb(&b->arena, r), err);
}

static int list(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                struct berth_error **err)
{
    struct content_service *s = data;
    const Containerd__Services__Content__V1__ListContentRequest *req =
        (const Containerd__Services__Content__V1__ListContentRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    _cleanup_filter_ struct filter *filter = NULL;
    if (filters_parse_any((const char *const *)req->filters, req->n_filters, &filter, err) < 0)
        return -1;
    struct pb_batcher b = {.call = call, .response_type = &C(list_content_response__descriptor)};
    int rc = metadata_content_walk(s->mc, ns, filter, list_one, &b, err);
    int fin = pb_batcher_finish(&b, rc == 0 ? err : NULL);
    return rc < 0 ? rc : fin;
}

static int delete_content(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                          struct berth_error **err)
{
    struct content_service *s = data;
    const Containerd__Services__Content__V1__DeleteContentRequest *req =
        (const Containerd__Services__Content__V1__DeleteContentRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns || metadata_content_delete(s->mc, ns, req->digest, err) < 0)
        return -1;
    Containerd__Events__ContentDelete ev = CONTAINERD__EVENTS__CONTENT_DELETE__INIT;
    ev.digest = req->digest;
    services_publish(s->events, ns, "/content/delete", &ev.base);
    gc_scheduler_deleted(s->gc);
    Google__Protobuf__Empty resp = GOOGLE__PROTOBUF__EMPTY__INIT;
    return rpc_call_send(call, &resp.base, err);
}

static int read_content(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                        struct berth_error **err)
{
    struct content_service *s = data;
    const Containerd__Services__Content__V1__ReadContentRequest *req =
        (const Containerd__Services__Content__V1__ReadContentRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    if (digest_validate(req->digest, err) < 0)
        return err_wrap(err, "%s", req->digest);
    _cleanup_(content_reader_closep) struct content_reader *reader = NULL;
    if (metadata_content_reader_open(s->mc, ns, req->digest, &reader, err) < 0)
        return -1;
    int64_t total = content_reader_size(reader);
    int64_t offset = req->offset < 0 ? 0 : req->offset;
    if (offset > total)
        return err_make_raw(err, ERR_OUT_OF_RANGE, "read past object length");
    int64_t size = req->size;
    if (size <= 0 || offset + size > total)
        size = total - offset;
    _cleanup_free_ uint8_t *buf = xmalloc(READ_CHUNK);
    int64_t end = offset + size;
    while (offset < end) {
        size_t want = end - offset < READ_CHUNK ? (size_t)(end - offset) : READ_CHUNK;
        ssize_t n = content_reader_read_at(reader, buf, want, offset, err);
        if (n < 0)
            return -1;
        if (n == 0)
            return err_make(err, ERR_DATA_LOSS, 0, "content %s ended early", req->digest);
        Containerd__Services__Content__V1__ReadContentResponse resp = INIT(READ_CONTENT_RESPONSE);
        resp.offset = offset;
        resp.data.data = buf;
        resp.data.len = (size_t)n;
        if (rpc_call_send(call, &resp.base, err) < 0)
            return -1;
        offset += n;
    }
    return 0;
}

static int status(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    struct content_service *s = data;
    const Containerd__Services__Content__V1__StatusRequest *req =
        (const Containerd__Services__Content__V1__StatusRequest *)request;
    const char *ns = service_namespace(call, err);
    struct content_status st;
    if (!ns || metadata_content_status(s->mc, ns, req->ref, &st, err) < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Content__V1__StatusResponse resp = INIT(STATUS_RESPONSE);
    resp.status = status_to_pb(&a, &st);
    content_status_clear(&st);
    int rc = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    return rc;
}

struct statuses {
    struct pb_arena arena;
    Status **items;
    size_t n, cap;
};

static int collect_status(const struct content_status *st, void *arg, struct berth_error **err)
{
    struct statuses *out = arg;
    out->items = xreallocarray_grow(out->items, &out->cap, out->n + 1, sizeof(*out->items));
    out->items[out->n++] = status_to_pb(&out->arena, st);
    return 0;
}

static int list_statuses(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                         struct berth_error **err)
{
    struct content_service *s = data;
    const Containerd__Services__Content__V1__ListStatusesRequest *req =
        (const Containerd__Services__Content__V1__ListStatusesRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    _cleanup_filter_ struct filter *filter = NULL;
    if (filters_parse_any((const char *const *)req->filters, req->n_filters, &filter, err) < 0)
        return -1;
    struct statuses out = {0};
    int rc = metadata_content_list_statuses(s->mc, ns, filter, collect_status, &out, err);
    if (rc == 0) {
        Containerd__Services__Content__V1__ListStatusesResponse resp = INIT(LIST_STATUSES_RESPONSE);
        resp.statuses = out.items;
        resp.n_statuses = out.n;
        rc = rpc_call_send(call, &resp.base, err);
    }
    free(out.items);
    pb_arena_free(&out.arena);
    return rc;
}

static int abort_ingest(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                        struct berth_error **err)
{
    struct content_service *s = data;
    const Containerd__Services__Content__V1__AbortRequest *req =
        (const Containerd__Services__Content__V1__AbortRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns || metadata_content_abort(s->mc, ns, req->ref, err) < 0)
        return -1;
    Google__Protobuf__Empty resp = GOOGLE__PROTOBUF__EMPTY__INIT;
    return rpc_call_send(call, &resp.base, err);
}

/* One Write response for the current state (containerd always sets the offset). */
static int write_reply(struct rpc_call *call, struct metadata_content_writer *w,
                       Containerd__Services__Content__V1__WriteAction action, int64_t total,
                       bool stat, struct berth_error **err)
{
    struct content_status st;
    metadata_content_writer_status(w, &st);
    char digest[DIGEST_STRING_SIZE] = "";
    struct pb_arena a = {0};
    Containerd__Services__Content__V1__WriteContentResponse resp = INIT(WRITE_CONTENT_RESPONSE);
    resp.action = action;
    resp.offset = st.offset;
    int rc = metadata_content_writer_digest(w, digest, err);
    resp.digest = digest;
    if (stat) {
        resp.started_at = pb_arena_timespec(&a, st.started_at);
        resp.updated_at = pb_arena_timespec(&a, st.updated_at);
        resp.total = total;
    }
    if (rc == 0)
        rc = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    content_status_clear(&st);
    return rc;
}

/*
 * The Write session, as containerd's: the first message names the ref; each message is a STAT,
 * WRITE or COMMIT answered with the writer's state; COMMIT ends the session.
 */
static int write_content(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                         struct berth_error **err)
{
    struct content_service *s = data;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    ProtobufCMessage *msg = NULL;
    int r = rpc_call_recv(call, &C(write_content_request__descriptor), &msg, err);
    if (r <= 0)
        return r;
    Containerd__Services__Content__V1__WriteContentRequest *req =
        (Containerd__Services__Content__V1__WriteContentRequest *)msg;
    if (!req->ref[0]) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return err_make_raw(err, ERR_INVALID_ARGUMENT, "first message must have a reference");
    }
    _cleanup_free_ char *ref = xstrdup(req->ref);
    _cleanup_free_ char *expected = xstrdup(req->expected);
    int64_t total = req->total;
    struct metadata_content_writer *w = NULL;
    if (metadata_content_writer_open(s->mc, ns, ref, total, expected,
                                     rpc_call_metadata(call, "containerd-lease"), &w, err) < 0) {
        protobuf_c_message_free_unpacked(msg, NULL);
        return -1;
    }
    int rc = 0;
    for (;;) {
        if (req->expected[0]) {
            free(expected);
            expected = xstrdup(req->expected);
            struct content_record existing;
            if (metadata_content_info(s->mc, ns, expected, &existing, NULL) == 0) {
                content_record_clear(&existing);
                w = metadata_content_writer_close(w);
                metadata_content_abort(s->mc, ns, ref, NULL);
                rc = err_make_raw(err, ERR_ALREADY_EXISTS, "blob with expected digest exists");
                err_wrap(err, "%s", expected);
                break;
            }
        }
        if (req->total > 0)
            total = req->total;
        bool is_commit = req->action == CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT;
        if (req->action == CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__STAT) {
            rc = write_reply(call, w, req->action, total, true, err);
        } else if (req->action == CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__WRITE ||
                   is_commit) {
            rc = metadata_content_writer_write_at(w, req->offset, req->data.data, req->data.len,
                                                  err);
            if (rc == 0 && is_commit) {
                struct labels labels = {0};
                pb_labels_to_core((void *const *)req->labels, req->n_labels, &labels);
                rc = metadata_content_writer_commit(w, total, expected, &labels, err);
                labels_clear(&labels);
            }
            if (rc == 0)
                rc = write_reply(call, w, req->action, total, false, err);
        } else {
            rc = err_make(err, ERR_INVALID_ARGUMENT, 0, "unknown write action %d", req->action);
        }
        protobuf_c_message_free_unpacked(msg, NULL);
        msg = NULL;
        if (rc < 0 || is_commit)
            break;
        r = rpc_call_recv(call, &C(write_content_request__descriptor), &msg, err);
        if (r <= 0) {
            rc = r;
            break;
        }
        req = (Containerd__Services__Content__V1__WriteContentRequest *)msg;
    }
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
    metadata_content_writer_close(w);
    return rc;
}

static const struct rpc_method methods[] = {
    {"Info", RPC_UNARY, &C(info_request__descriptor), &C(info_response__descriptor), info},
    {"Update", RPC_UNARY, &C(update_request__descriptor), &C(update_response__descriptor), update},
    {"List", RPC_SERVER_STREAMING, &C(list_content_request__descriptor),
     &C(list_content_response__descriptor), list},
    {"Delete", RPC_UNARY, &C(delete_content_request__descriptor),
     &google__protobuf__empty__descriptor, delete_content},
    {"Read", RPC_SERVER_STREAMING, &C(read_content_request__descriptor),
     &C(read_content_response__descriptor), read_content},
    {"Status", RPC_UNARY, &C(status_request__descriptor), &C(status_response__descriptor), status},
    {"ListStatuses", RPC_UNARY, &C(list_statuses_request__descriptor),
     &C(list_statuses_response__descriptor), list_statuses},
    {"Write", RPC_BIDI_STREAMING, &C(write_content_request__descriptor),
     &C(write_content_response__descriptor), write_content},
    {"Abort", RPC_UNARY, &C(abort_request__descriptor), &google__protobuf__empty__descriptor,
     abort_ingest},
};

static int content_service_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct service_host *host = plugin_context_daemon(ctx);
    struct content_service *s = xcalloc(1, sizeof(*s));
    s->mc = plugin_context_get(ctx, PLUGIN_SERVICE, "content-service");
    s->events = plugin_context_get_by_type(ctx, PLUGIN_EVENT);
    s->gc = plugin_context_get_by_type(ctx, PLUGIN_GC);
    if (!s->mc || !s->events) {
        free(s);
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "no content store or event exchange");
    }
    s->svc = (struct rpc_service){
        .name = "containerd.services.content.v1.Content",
        .methods = methods,
        .n_methods = ARRAY_SIZE(methods),
        .data = s,
    };
    rpc_registry_add(host->grpc, &s->svc);
    *ret = s;
    return 0;
}

static const char *const requires[] = {PLUGIN_SERVICE, PLUGIN_EVENT, PLUGIN_GC, NULL};

const struct plugin_registration content_service_plugin = {
    .type = PLUGIN_GRPC,
    .id = "content",
    .requires = requires,
    .init = content_service_init,
    .close = free,
};
