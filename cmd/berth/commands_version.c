/* berth version: client and server versions, formatted as ctr prints them. */
#include "cmd/berth/cli.h"
#include "services/services.h"

#include "berth-version.h"
#include "containerd/services/introspection/v1/introspection.pb-c.h"
#include "containerd/services/version/v1/version.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <stdio.h>

int cli_version(struct cli *cli, int argc, char **argv)
{
    printf("Client:\n  Version:  %s\n  Revision: %s\n\n", BERTH_VERSION, BERTH_REVISION);
    if (argc == 0) /* --version: client only */
        return 0;
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    Containerd__Services__Version__V1__VersionResponse *v =
        (Containerd__Services__Version__V1__VersionResponse *)cli_unary(
            cli, "containerd.services.version.v1.Version", "Version", &empty.base,
            &containerd__services__version__v1__version_response__descriptor);
    Containerd__Services__Introspection__V1__ServerResponse *s =
        (Containerd__Services__Introspection__V1__ServerResponse *)cli_unary(
            cli, "containerd.services.introspection.v1.Introspection", "Server", &empty.base,
            &containerd__services__introspection__v1__server_response__descriptor);
    printf("Server:\n  Version:  %s\n  Revision: %s\n  UUID: %s\n", v->version, v->revision,
           s->uuid);
    protobuf_c_message_free_unpacked(&v->base, NULL);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    return 0;
}
