/* containerd.services.version.v1.Version: the daemon's version and revision. */
#include "services/services.h"
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
