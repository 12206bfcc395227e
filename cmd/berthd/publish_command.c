/* `berthd publish`: containerd's publish binary for legacy shims (an Any on stdin → Publish). */
#include "cmd/berthd/publish_command.h"
#include "lib/base/alloc.h"
#include "lib/loop/loop.h"
#include "lib/rpc/grpc_client.h"

#include "containerd/services/events/v1/events.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* An event is small; shims send a few hundred bytes. */
enum { MAX_PAYLOAD = 16 << 20 };

static int fail(const char *fmt, const char *arg)
{
    fputs("berthd: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

int berthd_publish_command(int argc, char **argv, const char *address)
{
    const char *namespace_name = "", *topic = "";
    static const struct option longopts[] = {
        {"namespace", required_argument, NULL, 'n'},
        {"topic", required_argument, NULL, 't'},
        {0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'n')
            namespace_name = optarg;
        else if (c == 't')
            topic = optarg;
        else
            return 2;
    }
    if (!*topic)
        return fail("%s", "topic required to publish event: invalid argument");

    size_t len = 0, cap = 4096;
    _cleanup_free_ uint8_t *data = xmalloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_PAYLOAD)
                return fail("%s", "event payload too large");
            cap *= 2;
            data = xrealloc(data, cap);
        }
        ssize_t n = read(STDIN_FILENO, data + len, cap - len);
        if (n < 0)
            return fail("%s", "read event payload from stdin");
        if (n == 0)
            break;
        len += (size_t)n;
    }
    Google__Protobuf__Any *payload = (Google__Protobuf__Any *)protobuf_c_message_unpack(
        &google__protobuf__any__descriptor, NULL, len, data);
    if (!payload)
        return fail("%s", "the event payload on stdin is not a protobuf Any");

    struct loop *loop = loop_new();
    loop_start_thread(loop);
    struct berth_error *err = NULL;
    struct rpc_channel *ch = grpc_channel_connect(loop, address, NULL, &err);
    int rc = 0;
    if (!ch) {
        rc = fail("failed to dial: %s", err->message);
    } else {
        Containerd__Services__Events__V1__PublishRequest req =
            CONTAINERD__SERVICES__EVENTS__V1__PUBLISH_REQUEST__INIT;
        req.topic = (char *)topic;
        req.event = payload;
        struct rpc_metadata md = {0};
        rpc_metadata_add(&md, "containerd-namespace", namespace_name);
        struct rpc_call_options opts = {.metadata = &md, .timeout_ns = 30LL * 1000000000LL};
        ProtobufCMessage *resp = NULL;
        if (rpc_channel_unary(ch, "containerd.services.events.v1.Events", "Publish", &req.base,
                              &google__protobuf__empty__descriptor, &resp, &opts, &err) < 0)
            rc = fail("%s", err->message);
        else
            protobuf_c_message_free_unpacked(resp, NULL);
        rpc_metadata_clear(&md);
        rpc_channel_free(ch);
    }
    err_free(err);
    loop_free(loop);
    protobuf_c_message_free_unpacked(&payload->base, NULL);
    return rc;
}
