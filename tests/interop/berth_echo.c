/*
 * berth-echo: drives Berth's gRPC layer against foreign peers.
 *   berth-echo serve SOCKET [MAX_RECV]   serve berth.test.v1.Echo until SIGTERM
 *   berth-echo client SOCKET             run every client scenario against an Echo server
 */
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/loop/loop.h"
#include "lib/loop/worker_pool.h"
#include "lib/rpc/grpc_client.h"
#include "lib/rpc/grpc_server.h"
#include "lib/rpc/testdata/echo.pb-c.h"
#include "lib/rpc/testdata/echo_service.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *SVC = "berth.test.v1.Echo";
static int failures, passes;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            passes++;                                                                              \
        } else {                                                                                   \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static int serve(const char *path, size_t max_recv)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* threads inherit: only sigwait sees them */
    struct loop *loop = loop_new();
    loop_start_thread(loop);
    struct worker_pool *pool = worker_pool_new(2, 256);
    struct rpc_registry *reg = rpc_registry_new();
    rpc_registry_add(reg, &echo_service);
    struct grpc_server_options opts = {.max_recv_message_size = max_recv};
    struct grpc_server *server = grpc_server_new(loop, reg, pool, &opts);
    struct berth_error *err = NULL;
    if (grpc_server_listen_unix(server, path, 0600, (uid_t)-1, (gid_t)-1, &err) < 0) {
        fprintf(stderr, "berth-echo: %s\n", err->message);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    grpc_server_shutdown(server, 2000000000LL);
    worker_pool_free(pool);
    grpc_server_free(server);
    loop_free(loop);
    rpc_registry_free(reg);
    return 0;
}

static void client_unary(struct rpc_channel *ch)
{
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.message = "hello from C";
    req.metadata_key = "x-berth-test";
    struct rpc_metadata md = {0};
    rpc_metadata_add(&md, "x-berth-test", "md-value");
    struct rpc_call_options opts = {.metadata = &md, .timeout_ns = 5000000000LL};
    struct berth_error *err = NULL;
    struct rpc_call *call = rpc_channel_start_call(ch, SVC, "Unary", &opts, &err);
    CHECK(call != NULL, "start unary");
    if (!call)
        return;
    rpc_call_send(call, &req.base, &err);
    rpc_call_close_send(call);
    ProtobufCMessage *msg = NULL;
    int r = rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err);
    CHECK(r == 1, "unary recv: %s", err ? err->message : "");
    if (r == 1) {
        Berth__Test__V1__EchoResponse *resp = (Berth__Test__V1__EchoResponse *)msg;
        CHECK(strcmp(resp->message, "hello from C") == 0, "unary message %s", resp->message);
        CHECK(strcmp(resp->metadata_value, "md-value") == 0, "metadata to server: %s",
              resp->metadata_value);
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    CHECK(rpc_call_finish(call, &err) == 0, "unary status");
    const char *h = rpc_call_metadata(call, "echo-header");
    const char *t = rpc_call_metadata(call, "echo-trailer");
    CHECK(h && strcmp(h, "h") == 0, "response header from server");
    CHECK(t && strcmp(t, "t") == 0, "response trailer from server");
    rpc_call_unref(call);
    rpc_metadata_clear(&md);
    err_free(err);
}

static void client_error(struct rpc_channel *ch)
{
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.fail_code = 5;
    req.fail_message = "image \"x\": not found";
    ProtobufCMessage *resp = NULL;
    struct berth_error *err = NULL;
    int r = rpc_channel_unary(ch, SVC, "Unary", &req.base,
                              &berth__test__v1__echo_response__descriptor, &resp, NULL, &err);
    CHECK(r < 0 && err->kind == ERR_NOT_FOUND, "error status kind");
    CHECK(r < 0 && strcmp(err->message, "image \"x\": not found") == 0, "error message: %s",
          err ? err->message : "");
    err_free(err);
}

static void client_deadline(struct rpc_channel *ch)
{
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.sleep_ms = 3000;
    struct rpc_call_options opts = {.timeout_ns = 200000000LL};
    ProtobufCMessage *resp = NULL;
    struct berth_error *err = NULL;
    int r = rpc_channel_unary(ch, SVC, "Unary", &req.base,
                              &berth__test__v1__echo_response__descriptor, &resp, &opts, &err);
    CHECK(r < 0 && err->kind == ERR_DEADLINE_EXCEEDED, "deadline: %s", err ? err->message : "ok");
    err_free(err);
}

static void client_streams(struct rpc_channel *ch)
{
    struct berth_error *err = NULL;
    /* client streaming: 50 MiB in 1 MiB chunks */
    struct rpc_call *call = rpc_channel_start_call(ch, SVC, "ClientStream", NULL, &err);
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.payload.len = 1 << 20;
    req.payload.data = xcalloc(1, req.payload.len);
    for (int i = 0; i < 50; i++)
        if (rpc_call_send(call, &req.base, &err) < 0)
            break;
    rpc_call_close_send(call);
    ProtobufCMessage *msg = NULL;
    int r = rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err);
    CHECK(r == 1 && ((Berth__Test__V1__EchoResponse *)msg)->total_bytes == 50LL << 20,
          "client stream total: %s", err ? err->message : "");
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
    CHECK(rpc_call_finish(call, &err) == 0, "client stream status");
    rpc_call_unref(call);
    free(req.payload.data);

    /* server streaming: 50 responses of 1 MiB */
    call = rpc_channel_start_call(ch, SVC, "ServerStream", NULL, &err);
    Berth__Test__V1__EchoRequest sreq = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    sreq.count = 50;
    sreq.response_size = 1 << 20;
    rpc_call_send(call, &sreq.base, &err);
    rpc_call_close_send(call);
    long long total = 0;
    int n = 0;
    while (rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err) == 1) {
        total += (long long)((Berth__Test__V1__EchoResponse *)msg)->payload.len;
        n++;
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    CHECK(n == 50 && total == 50LL << 20, "server stream: %d msgs, %lld bytes", n, total);
    CHECK(rpc_call_finish(call, &err) == 0, "server stream status");
    rpc_call_unref(call);

    /* bidi: ping-pong */
    call = rpc_channel_start_call(ch, SVC, "Bidi", NULL, &err);
    int ok = 0;
    for (int i = 0; i < 20; i++) {
        Berth__Test__V1__EchoRequest breq = BERTH__TEST__V1__ECHO_REQUEST__INIT;
        breq.message = "ping";
        if (rpc_call_send(call, &breq.base, &err) < 0)
            break;
        if (rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err) != 1)
            break;
        ok += strcmp(((Berth__Test__V1__EchoResponse *)msg)->message, "ping") == 0;
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    rpc_call_close_send(call);
    CHECK(ok == 20, "bidi round trips: %d", ok);
    CHECK(rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err) == 0,
          "bidi end");
    CHECK(rpc_call_finish(call, &err) == 0, "bidi status");
    rpc_call_unref(call);
    err_free(err);
}

static void client_too_large(struct rpc_channel *ch)
{
    /* the server under test limits received messages to 4 MiB (grpcio's default) */
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.payload.len = 5 << 20;
    req.payload.data = xcalloc(1, req.payload.len);
    ProtobufCMessage *resp = NULL;
    struct berth_error *err = NULL;
    int r = rpc_channel_unary(ch, SVC, "Unary", &req.base,
                              &berth__test__v1__echo_response__descriptor, &resp, NULL, &err);
    CHECK(r < 0 && err->kind == ERR_RESOURCE_EXHAUSTED, "too large: %s", err ? err->message : "ok");
    free(req.payload.data);
    err_free(err);
}

static int client(const char *path)
{
    struct loop *loop = loop_new();
    loop_start_thread(loop);
    struct berth_error *err = NULL;
    struct rpc_channel *ch = grpc_channel_connect(loop, path, NULL, &err);
    if (!ch) {
        fprintf(stderr, "berth-echo: %s\n", err->message);
        return 1;
    }
    client_unary(ch);
    client_error(ch);
    client_deadline(ch);
    client_streams(ch);
    client_too_large(ch);
    rpc_channel_free(ch);
    loop_free(loop);
    printf("%d passed, %d failed\n", passes, failures);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (getenv("BERTH_DEBUG"))
        log_set_level(LOG_DEBUG);
    if (argc >= 3 && strcmp(argv[1], "serve") == 0)
        return serve(argv[2], argc > 3 ? strtoul(argv[3], NULL, 10) : 0);
    if (argc >= 3 && strcmp(argv[1], "client") == 0)
        return client(argv[2]);
    fprintf(stderr, "usage: berth-echo serve SOCKET [MAX_RECV] | client SOCKET\n");
    return 2;
}
