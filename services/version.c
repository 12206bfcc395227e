/* containerd.services.version.v1.Version: the daemon's version and revision. */
#include "services/services.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"

#include "berth-version.h"
#include "containerd/services/version/v1/version.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

static int version(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                   struct berth_error **err)
{
    Containerd__Services__Version__V1__VersionResponse resp =
        CONTAINERD__SERVICES__VERSION__V1__VERSION_RESPONSE__INIT;
    resp.version = (char *)berth_server_version();
    resp.revision = (char *)BERTH_REVISION;
    return rpc_call_send(call, &resp.base, err);
}

static const struct rpc_method methods[] = {
    {"Version", RPC_UNARY, &google__protobuf__empty__descriptor,
     &containerd__services__version__v1__version_response__descriptor, version},
};

const struct rpc_service version_service = {
    .name = "containerd.services.version.v1.Version",
    .methods = methods,
    .n_methods = ARRAY_SIZE(methods),
};

const char *berth_server_version(void)
{
    /*
     * Clients gate features on containerd's version (nerdctl, kubelet's checks): report the
     * containerd release whose API we implement, with Berth's own version as semver build
     * metadata, which version comparisons ignore.
     */
    return "v" BERTH_CONTAINERD_API_VERSION "+berth." BERTH_VERSION;
}

static int version_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct service_host *host = plugin_context_daemon(ctx);
    rpc_registry_add(host->grpc, &version_service);
    return 0;
}

const struct plugin_registration version_plugin = {
    .type = PLUGIN_GRPC,
    .id = "version",
    .init = version_init,
};
