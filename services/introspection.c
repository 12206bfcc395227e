/* containerd.services.introspection.v1.Introspection: server identity (plugins come later). */
#include "services/services.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"

#include "containerd/services/introspection/v1/introspection.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

struct introspection {
    struct rpc_service service;
    char uuid[37];
    unsigned long long pidns;
};

static int server(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    struct introspection *in = data;
    Containerd__Services__Introspection__V1__ServerResponse resp =
        CONTAINERD__SERVICES__INTROSPECTION__V1__SERVER_RESPONSE__INIT;
    resp.uuid = in->uuid;
    resp.pid = (uint64_t)getpid();
    resp.pidns = in->pidns;
    return rpc_call_send(call, &resp.base, err);
}

static const struct rpc_method methods[] = {
    {"Server", RPC_UNARY, &google__protobuf__empty__descriptor,
     &containerd__services__introspection__v1__server_response__descriptor, server},
};

static bool uuid_valid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
            return false;
    }
    return true;
}

/* The UUID identifies this daemon's root across restarts, as containerd keeps it. */
static int load_or_create_uuid(const char *root, char out[37], struct berth_error **err)
{
    _cleanup_free_ char *dir = xasprintf("%s/io.containerd.grpc.v1.introspection", root);
    _cleanup_free_ char *path = xasprintf("%s/uuid", dir);
    _cleanup_free_ char *text = NULL;
    if (fs_read_small_file(path, 64, &text, NULL) == 0) {
        text[strcspn(text, "\n")] = '\0';
        if (uuid_valid(text)) {
            memcpy(out, text, 37);
            return 0;
        }
    }
    uint8_t b[16];
    if (getrandom(b, sizeof(b), 0) != sizeof(b))
        return err_make(err, ERR_INTERNAL, errno, "generate uuid");
    b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
    b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    if (mkdir(dir, 0711) < 0 && errno != EEXIST)
        return err_make(err, err_kind_from_errno(errno), errno, "mkdir %s", dir);
    return fs_write_file_atomic(path, out, 36, 0644, err);
}

const struct rpc_service *introspection_service_new(const char *root, struct berth_error **err)
{
    struct introspection *in = xcalloc(1, sizeof(*in));
    if (load_or_create_uuid(root, in->uuid, err) < 0) {
        free(in);
        return NULL;
    }
    struct stat st;
    if (stat("/proc/self/ns/pid", &st) == 0)
        in->pidns = (unsigned long long)st.st_ino;
    in->service = (struct rpc_service){
        .name = "containerd.services.introspection.v1.Introspection",
        .methods = methods,
        .n_methods = ARRAY_SIZE(methods),
        .data = in,
    };
    return &in->service;
}

void introspection_service_free(const struct rpc_service *service)
{
    free(service ? service->data : NULL);
}
