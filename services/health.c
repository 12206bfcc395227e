/* grpc.health.v1.Health: the server as a whole ("") is serving; other names are unknown. */
#include "services/services.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"

#include "grpc/health/v1/health.pb-c.h"

#include <string.h>

static int check(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                 struct berth_error **err)
{
    const Grpc__Health__V1__HealthCheckRequest *req =
        (const Grpc__Health__V1__HealthCheckRequest *)request;
    if (req->service && req->service[0])
        return err_make_raw(err, ERR_NOT_FOUND, "unknown service");
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    resp.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    return rpc_call_send(call, &resp.base, err);
}

static int watch(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                 struct berth_error **err)
{
    const Grpc__Health__V1__HealthCheckRequest *req =
        (const Grpc__Health__V1__HealthCheckRequest *)request;
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    resp.status = req->service && req->service[0]
                      ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN
                      : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    if (rpc_call_send(call, &resp.base, err) < 0)
        return -1;
    /* The status never changes while we serve: hold the stream until the client leaves. */
    enum err_kind why = rpc_call_wait_done(call, 0);
    return err_make_raw(err, why ? why : ERR_CANCELED, err_kind_string(why ? why : ERR_CANCELED));
}

static const struct rpc_method methods[] = {
    {"Check", RPC_UNARY, &grpc__health__v1__health_check_request__descriptor,
     &grpc__health__v1__health_check_response__descriptor, check},
    {"Watch", RPC_SERVER_STREAMING, &grpc__health__v1__health_check_request__descriptor,
     &grpc__health__v1__health_check_response__descriptor, watch},
};

const struct rpc_service health_service = {
    .name = "grpc.health.v1.Health",
    .methods = methods,
    .n_methods = ARRAY_SIZE(methods),
};

static int health_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct service_host *host = plugin_context_daemon(ctx);
    rpc_registry_add(host->grpc, &health_service);
    return 0;
}

const struct plugin_registration healthcheck_plugin = {
    .type = PLUGIN_GRPC,
    .id = "healthcheck",
    .init = health_init,
};
