/*
 * containerd.services.events.v1.Events (gRPC: Publish, Forward, Subscribe) and
 * containerd.services.events.ttrpc.v1.Events (ttrpc: Forward, how shims deliver events).
 */
#include "services/services.h"
#include "core/events/events.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "services/convert.h"
#include "services/event_types.h"

#include "containerd/services/events/v1/events.pb-c.h"
#include "containerd/services/ttrpc/events/v1/events.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <string.h>
#include <time.h>

struct events_service {
    struct rpc_service grpc;
    struct rpc_service ttrpc;
    struct event_exchange *exchange;
};

void services_publish(struct event_exchange *exchange, const char *namespace_name,
                      const char *topic, const ProtobufCMessage *event)
{
    size_t len = protobuf_c_message_get_packed_size(event);
    _cleanup_free_ uint8_t *buf = xmalloc(len);
    protobuf_c_message_pack(event, buf);
    struct berth_error *err = NULL;
    /* typeurl's URL for a proto message is its bare full name */
    if (event_exchange_publish(exchange, namespace_name, topic, event->descriptor->name, buf, len,
                               &err) < 0) {
        log_record(LOG_ERROR, LOG_FIELDS("topic", topic, "error", err->message), "publish event");
        err_free(err);
    }
}

static int empty_reply(struct rpc_call *call, struct berth_error **err)
{
    Google__Protobuf__Empty resp = GOOGLE__PROTOBUF__EMPTY__INIT;
    return rpc_call_send(call, &resp.base, err);
}

static int publish(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                   struct berth_error **err)
{
    struct events_service *s = data;
    const Containerd__Services__Events__V1__PublishRequest *req =
        (const Containerd__Services__Events__V1__PublishRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    const Google__Protobuf__Any *ev = req->event;
    if (event_exchange_publish(s->exchange, ns, req->topic, ev ? ev->type_url : "",
                               ev ? ev->value.data : NULL, ev ? ev->value.len : 0, err) < 0)
        return -1;
    return empty_reply(call, err);
}

static int forward_envelope(struct events_service *s, const Containerd__Types__Envelope *e,
                            struct berth_error **err)
{
    if (!e)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "envelope must be set");
    struct event_envelope env = {
        /* containerd reads a missing timestamp as the Unix epoch (AsTime of nil) */
        .timestamp_ns =
            e->timestamp ? e->timestamp->seconds * 1000000000LL + e->timestamp->nanos : 0,
        .namespace_name = e->namespace_,
        .topic = e->topic,
        .type_url = e->event ? e->event->type_url : (char *)"",
        .value = e->event ? e->event->value.data : NULL,
        .value_len = e->event ? e->event->value.len : 0,
    };
    return event_exchange_forward(s->exchange, &env, err);
}

static int forward(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                   struct berth_error **err)
{
    const Containerd__Services__Events__V1__ForwardRequest *req =
        (const Containerd__Services__Events__V1__ForwardRequest *)request;
    if (forward_envelope(data, req->envelope, err) < 0)
        return -1;
    return empty_reply(call, err);
}

static int forward_ttrpc(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                         struct berth_error **err)
{
    const Containerd__Services__Events__Ttrpc__V1__ForwardRequest *req =
        (const Containerd__Services__Events__Ttrpc__V1__ForwardRequest *)request;
    struct events_service *s =
        (struct events_service *)((char *)data - offsetof(struct events_service, ttrpc));
    if (forward_envelope(s, req->envelope, err) < 0)
        return -1;
    return empty_reply(call, err);
}

static void close_subscription(void *arg)
{
    event_subscription_close(arg);
}

static int subscribe(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                     struct berth_error **err)
{
    struct events_service *s = data;
    const Containerd__Services__Events__V1__SubscribeRequest *req =
        (const Containerd__Services__Events__V1__SubscribeRequest *)request;
    _cleanup_subscription_ struct event_subscription *sub = event_exchange_subscribe(
        s->exchange, (const char *const *)req->filters, req->n_filters, err);
    if (!sub)
        return -1;
    /* A client that leaves ends the subscription, which wakes the wait below. */
    rpc_call_set_cancel_hook(call, close_subscription, sub);
    int r = 0;
    for (;;) {
        _cleanup_envelope_ struct event_envelope *env = NULL;
        struct berth_error *sub_err = NULL;
        int got = event_subscription_next(sub, -1, &env, &sub_err);
        if (got < 0) {
            enum err_kind why = rpc_call_cancelled(call);
            if (why) {
                err_free(sub_err);
                r = err_make_raw(err, why, err_kind_string(why));
            } else {
                r = err_make_raw(err, sub_err->kind, sub_err->message);
                err_wrap(err, "subscription error");
                err_free(sub_err);
            }
            break;
        }
        Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
        ts.seconds = env->timestamp_ns / 1000000000LL;
        ts.nanos = (int32_t)(env->timestamp_ns % 1000000000LL);
        if (ts.nanos < 0) {
            ts.nanos += 1000000000;
            ts.seconds--;
        }
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        any.type_url = env->type_url;
        any.value.data = env->value;
        any.value.len = env->value_len;
        Containerd__Types__Envelope out = CONTAINERD__TYPES__ENVELOPE__INIT;
        out.timestamp = &ts;
        out.namespace_ = env->namespace_name;
        out.topic = env->topic;
        out.event = &any;
        if (rpc_call_send(call, &out.base, err) < 0) {
            r = err_wrap(err, "failed sending event to subscriber");
            break;
        }
    }
    rpc_call_set_cancel_hook(call, NULL, NULL);
    return r;
}

static const struct rpc_method grpc_methods[] = {
    {"Publish", RPC_UNARY, &containerd__services__events__v1__publish_request__descriptor,
     &google__protobuf__empty__descriptor, publish},
    {"Forward", RPC_UNARY, &containerd__services__events__v1__forward_request__descriptor,
     &google__protobuf__empty__descriptor, forward},
    {"Subscribe", RPC_SERVER_STREAMING,
     &containerd__services__events__v1__subscribe_request__descriptor,
     &containerd__types__envelope__descriptor, subscribe},
};

static const struct rpc_method ttrpc_methods[] = {
    {"Forward", RPC_UNARY, &containerd__services__events__ttrpc__v1__forward_request__descriptor,
     &google__protobuf__empty__descriptor, forward_ttrpc},
};

static int events_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct service_host *host = plugin_context_daemon(ctx);
    struct events_service *s = xcalloc(1, sizeof(*s));
    s->exchange = plugin_context_get_by_type(ctx, PLUGIN_EVENT);
    if (!s->exchange) {
        free(s);
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "no event exchange");
    }
    s->grpc = (struct rpc_service){
        .name = "containerd.services.events.v1.Events",
        .methods = grpc_methods,
        .n_methods = ARRAY_SIZE(grpc_methods),
        .data = s,
    };
    s->ttrpc = (struct rpc_service){
        .name = "containerd.services.events.ttrpc.v1.Events",
        .methods = ttrpc_methods,
        .n_methods = ARRAY_SIZE(ttrpc_methods),
        .data = &s->ttrpc,
    };
    rpc_registry_add(host->grpc, &s->grpc);
    rpc_registry_add(host->ttrpc, &s->ttrpc);
    *ret = s;
    return 0;
}

static const char *const requires[] = {PLUGIN_EVENT, NULL};

const struct plugin_registration events_plugin = {
    .type = PLUGIN_GRPC,
    .id = "events",
    .requires = requires,
    .init = events_init,
    .close = free,
};

/* io.containerd.event.v1.exchange: the in-process bus every publisher and subscriber shares. */
static bool field_hook(void *data, const char *type_url, const uint8_t *value, size_t value_len,
                       const char *const *fieldpath, size_t n, char **ret_value)
{
    return event_field(type_url, value, value_len, fieldpath, n, ret_value);
}

static int exchange_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct event_exchange *ex = event_exchange_new();
    event_exchange_set_field_hook(ex, field_hook, NULL);
    *ret = ex;
    return 0;
}

static void exchange_close(void *instance)
{
    event_exchange_free(instance);
}

const struct plugin_registration exchange_plugin = {
    .type = PLUGIN_EVENT,
    .id = "exchange",
    .init = exchange_init,
    .close = exchange_close,
};
