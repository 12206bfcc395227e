/*
 * rpc-bench: load for gRPC servers, using Berth's client.
 *   rpc-bench unary SOCKET CONNECTIONS CALLS     Version calls/s (any containerd-API server)
 *   rpc-bench stream SOCKET CONNECTIONS MIB      ClientStream MiB/s (berth-echo)
 *   rpc-bench ready SOCKET START_NS              ms from START_NS (CLOCK_REALTIME) until a
 *                                                Version call succeeds (start-to-ready)
 * Prints one number; timing is the caller's business (bench/run.sh takes medians).
 */
#include "lib/base/alloc.h"
#include "lib/loop/loop.h"
#include "lib/rpc/grpc_client.h"
#include "lib/rpc/testdata/echo.pb-c.h"

#include "containerd/services/version/v1/version.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct worker {
    struct loop *loop;
    const char *socket;
    long count;
    bool stream;
    int failures;
};

static struct rpc_channel *connect_or_die(struct worker *w)
{
    struct berth_error *err = NULL;
    struct rpc_channel *ch = grpc_channel_connect(w->loop, w->socket, NULL, &err);
    if (!ch) {
        fprintf(stderr, "rpc-bench: %s\n", err->message);
        exit(1);
    }
    return ch;
}

static void *unary_worker(void *arg)
{
    struct worker *w = arg;
    struct rpc_channel *ch = connect_or_die(w);
    struct rpc_metadata md = {0};
    rpc_metadata_add(&md, "containerd-namespace", "default");
    struct rpc_call_options opts = {.metadata = &md};
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    for (long i = 0; i < w->count; i++) {
        ProtobufCMessage *resp = NULL;
        struct berth_error *err = NULL;
        if (rpc_channel_unary(ch, "containerd.services.version.v1.Version", "Version", &empty.base,
                              &containerd__services__version__v1__version_response__descriptor,
                              &resp, &opts, &err) < 0) {
            w->failures++;
            err_free(err);
            continue;
        }
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    rpc_metadata_clear(&md);
    rpc_channel_free(ch);
    return NULL;
}

static void *stream_worker(void *arg)
{
    struct worker *w = arg;
    struct rpc_channel *ch = connect_or_die(w);
    struct berth_error *err = NULL;
    struct rpc_call *call =
        rpc_channel_start_call(ch, "berth.test.v1.Echo", "ClientStream", NULL, &err);
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.payload.len = 1 << 20;
    req.payload.data = xcalloc(1, req.payload.len);
    for (long i = 0; call && i < w->count; i++)
        if (rpc_call_send(call, &req.base, &err) < 0)
            break;
    ProtobufCMessage *msg = NULL;
    if (!call || (rpc_call_close_send(call),
                  rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err)) < 0)
        w->failures++;
    else if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
    if (call)
        rpc_call_unref(call);
    free(req.payload.data);
    rpc_channel_free(ch);
    return NULL;
}

/* Polls (1 ms apart, up to 30 s) until the daemon answers Version. */
static int ready(const char *socket, long long start_ns)
{
    struct loop *loop = loop_new();
    loop_start_thread(loop);
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    for (int i = 0; i < 30000; i++) {
        struct berth_error *err = NULL;
        struct rpc_channel *ch = grpc_channel_connect(loop, socket, NULL, &err);
        ProtobufCMessage *resp = NULL;
        if (ch &&
            rpc_channel_unary(ch, "containerd.services.version.v1.Version", "Version", &empty.base,
                              &containerd__services__version__v1__version_response__descriptor,
                              &resp, NULL, &err) == 0) {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            long long ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
            printf("%.1f\n", (double)(ns - start_ns) / 1e6);
            protobuf_c_message_free_unpacked(resp, NULL);
            rpc_channel_free(ch);
            loop_free(loop);
            return 0;
        }
        err_free(err);
        rpc_channel_free(ch);
        nanosleep(&(struct timespec){0, 1000000L}, NULL);
    }
    loop_free(loop);
    fprintf(stderr, "rpc-bench: %s never answered\n", socket);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "ready") == 0)
        return ready(argv[2], atoll(argv[3]));
    if (argc != 5 || (strcmp(argv[1], "unary") && strcmp(argv[1], "stream"))) {
        fprintf(stderr, "usage: rpc-bench unary|stream SOCKET CONNECTIONS COUNT\n");
        return 2;
    }
    bool stream = strcmp(argv[1], "stream") == 0;
    int conns = atoi(argv[3]);
    long total = atol(argv[4]);
    if (conns < 1 || conns > 256 || total < conns) {
        fprintf(stderr, "rpc-bench: bad connection count or total\n");
        return 2;
    }
    struct loop *loop = loop_new();
    loop_start_thread(loop);
    struct worker *w = xcalloc((size_t)conns, sizeof(*w));
    pthread_t *t = xcalloc((size_t)conns, sizeof(*t));
    long long start = monotonic_ns();
    for (int i = 0; i < conns; i++) {
        w[i] = (struct worker){.loop = loop, .socket = argv[2], .count = total / conns};
        pthread_create(&t[i], NULL, stream ? stream_worker : unary_worker, &w[i]);
    }
    int failures = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(t[i], NULL);
        failures += w[i].failures;
    }
    double secs = (double)(monotonic_ns() - start) / 1e9;
    loop_free(loop);
    if (failures) {
        fprintf(stderr, "rpc-bench: %d calls failed\n", failures);
        return 1;
    }
    long done = (total / conns) * conns;
    printf("%.1f\n", (double)done / secs);
    free(w);
    free(t);
    return 0;
}
