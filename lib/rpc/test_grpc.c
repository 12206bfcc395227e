/* gRPC server and client against each other: call kinds, errors, deadlines, limits, hostility. */
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/loop/loop.h"
#include "lib/loop/worker_pool.h"
#include "lib/rpc/grpc_client.h"
#include "lib/rpc/grpc_framing.h"
#include "lib/rpc/grpc_server.h"
#include "lib/rpc/testdata/echo.pb-c.h"
#include "lib/rpc/testdata/echo_service.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

struct fixture {
    struct loop *loop;
    struct worker_pool *pool;
    struct rpc_registry *registry;
    struct grpc_server *server;
    struct rpc_channel *channel;
};

static const char *SVC = "berth.test.v1.Echo";

static int setup_with(void **state, size_t server_max_recv)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    f->loop = loop_new();
    assert_int_equal(loop_start_thread(f->loop), 0);
    f->pool = worker_pool_new(2, 64);
    f->registry = rpc_registry_new();
    rpc_registry_add(f->registry, &echo_service);
    struct grpc_server_options opts = {.max_recv_message_size = server_max_recv};
    f->server = grpc_server_new(f->loop, f->registry, f->pool, &opts);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(grpc_server_serve_fd(f->server, sv[0], NULL), 0);
    struct grpc_client_options copts = {.max_recv_message_size = 64 << 20,
                                        .max_send_message_size = 64 << 20};
    f->channel = grpc_channel_from_fd(f->loop, sv[1], &copts, NULL);
    assert_non_null(f->channel);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 0);
}

static int setup_small(void **state)
{
    return setup_with(state, 1 << 20);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rpc_channel_free(f->channel);
    grpc_server_shutdown(f->server, 1000000000LL);
    worker_pool_free(f->pool);
    grpc_server_free(f->server);
    loop_free(f->loop);
    rpc_registry_free(f->registry);
    free(f);
    return 0;
}

static int unary(struct fixture *f, const Berth__Test__V1__EchoRequest *req,
                 const struct rpc_call_options *opts, Berth__Test__V1__EchoResponse **ret,
                 struct berth_error **err)
{
    return rpc_channel_unary(f->channel, SVC, "Unary", &req->base,
                             &berth__test__v1__echo_response__descriptor, (ProtobufCMessage **)ret,
                             opts, err);
}

static void test_unary(void **state)
{
    struct fixture *f = *state;
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.message = "hello";
    req.metadata_key = "containerd-namespace";
    struct rpc_metadata md = {0};
    rpc_metadata_add(&md, "Containerd-Namespace", "default");
    struct rpc_call_options opts = {.metadata = &md};
    Berth__Test__V1__EchoResponse *resp = NULL;
    struct berth_error *err = NULL;
    int rc = unary(f, &req, &opts, &resp, &err);
    if (rc < 0)
        fail_msg("unary: %s", err->message);
    assert_string_equal(resp->message, "hello");
    assert_string_equal(resp->metadata_value, "default");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    rpc_metadata_clear(&md);

    /* response headers and trailers reach the client */
    struct rpc_call *call = rpc_channel_start_call(f->channel, SVC, "Unary", NULL, &err);
    req.metadata_key = "user-agent";
    assert_int_equal(rpc_call_send(call, &req.base, &err), 0);
    rpc_call_close_send(call);
    ProtobufCMessage *msg;
    assert_int_equal(rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err),
                     1);
    assert_non_null(strstr(((Berth__Test__V1__EchoResponse *)msg)->metadata_value, "berth"));
    protobuf_c_message_free_unpacked(msg, NULL);
    assert_int_equal(rpc_call_finish(call, &err), 0);
    assert_string_equal(rpc_call_metadata(call, "echo-header"), "h");
    assert_string_equal(rpc_call_metadata(call, "echo-trailer"), "t");
    rpc_call_unref(call);
}

static void test_error_status(void **state)
{
    struct fixture *f = *state;
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.fail_code = GRPC_FAILED_PRECONDITION;
    req.fail_message = "lease \xe2\x9c\x93 100%: conflict";
    Berth__Test__V1__EchoResponse *resp = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(unary(f, &req, NULL, &resp, &err), -1);
    assert_int_equal(err->kind, ERR_CONFLICT);
    assert_string_equal(err->message, req.fail_message);
    err_free(err);
    err = NULL;

    assert_int_equal(rpc_channel_unary(f->channel, SVC, "Nope", &req.base,
                                       &berth__test__v1__echo_response__descriptor,
                                       (ProtobufCMessage **)&resp, NULL, &err),
                     -1);
    assert_int_equal(err->kind, ERR_NOT_IMPLEMENTED);
    assert_string_equal(err->message, "unknown method Nope for service berth.test.v1.Echo");
    err_free(err);
    err = NULL;
    assert_int_equal(rpc_channel_unary(f->channel, "no.Such", "X", &req.base,
                                       &berth__test__v1__echo_response__descriptor,
                                       (ProtobufCMessage **)&resp, NULL, &err),
                     -1);
    assert_int_equal(err->kind, ERR_NOT_IMPLEMENTED);
    err_free(err);
}

static void test_client_stream(void **state)
{
    struct fixture *f = *state;
    struct berth_error *err = NULL;
    struct rpc_call *call = rpc_channel_start_call(f->channel, SVC, "ClientStream", NULL, &err);
    assert_non_null(call);
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.payload.len = 1 << 20;
    req.payload.data = xcalloc(1, req.payload.len);
    for (int i = 0; i < 20; i++)
        assert_int_equal(rpc_call_send(call, &req.base, &err), 0);
    rpc_call_close_send(call);
    ProtobufCMessage *msg;
    assert_int_equal(rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err),
                     1);
    Berth__Test__V1__EchoResponse *resp = (Berth__Test__V1__EchoResponse *)msg;
    assert_int_equal(resp->total_bytes, 20 << 20);
    assert_int_equal(resp->count, 20);
    protobuf_c_message_free_unpacked(msg, NULL);
    assert_int_equal(rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err),
                     0);
    assert_int_equal(rpc_call_finish(call, &err), 0);
    rpc_call_unref(call);
    free(req.payload.data);
}

static void test_server_stream(void **state)
{
    struct fixture *f = *state;
    struct berth_error *err = NULL;
    struct rpc_call *call = rpc_channel_start_call(f->channel, SVC, "ServerStream", NULL, &err);
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.count = 500;
    req.response_size = 10000;
    assert_int_equal(rpc_call_send(call, &req.base, &err), 0);
    rpc_call_close_send(call);
    int n = 0;
    ProtobufCMessage *msg;
    while (rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err) == 1) {
        assert_int_equal(((Berth__Test__V1__EchoResponse *)msg)->index, n);
        assert_int_equal(((Berth__Test__V1__EchoResponse *)msg)->payload.len, 10000);
        n++;
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    assert_null(err);
    assert_int_equal(n, 500);
    assert_int_equal(rpc_call_finish(call, &err), 0);
    rpc_call_unref(call);

    /* an error after some messages arrives after them */
    call = rpc_channel_start_call(f->channel, SVC, "ServerStream", NULL, &err);
    req.count = 3;
    req.response_size = 0;
    req.fail_code = GRPC_DATA_LOSS;
    req.fail_message = "gone";
    assert_int_equal(rpc_call_send(call, &req.base, &err), 0);
    rpc_call_close_send(call);
    n = 0;
    int r;
    while ((r = rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err)) ==
           1) {
        n++;
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    assert_int_equal(r, -1);
    assert_int_equal(n, 3);
    assert_int_equal(err->kind, ERR_DATA_LOSS);
    err_free(err);
    rpc_call_unref(call);
}

static void test_bidi(void **state)
{
    struct fixture *f = *state;
    struct berth_error *err = NULL;
    struct rpc_call *call = rpc_channel_start_call(f->channel, SVC, "Bidi", NULL, &err);
    for (int i = 0; i < 100; i++) {
        Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
        char text[16];
        snprintf(text, sizeof(text), "m%d", i);
        req.message = text;
        assert_int_equal(rpc_call_send(call, &req.base, &err), 0);
        ProtobufCMessage *msg;
        assert_int_equal(
            rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err), 1);
        assert_string_equal(((Berth__Test__V1__EchoResponse *)msg)->message, text);
        assert_int_equal(((Berth__Test__V1__EchoResponse *)msg)->index, i);
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    rpc_call_close_send(call);
    ProtobufCMessage *msg;
    assert_int_equal(rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err),
                     0);
    assert_int_equal(rpc_call_finish(call, &err), 0);
    rpc_call_unref(call);
}

static void test_deadline(void **state)
{
    struct fixture *f = *state;
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.sleep_ms = 5000;
    struct rpc_call_options opts = {.timeout_ns = 100 * 1000000LL};
    Berth__Test__V1__EchoResponse *resp = NULL;
    struct berth_error *err = NULL;
    long long start = monotonic_ns();
    assert_int_equal(unary(f, &req, &opts, &resp, &err), -1);
    assert_int_equal(err->kind, ERR_DEADLINE_EXCEEDED);
    err_free(err);
    /* the handler saw the cancellation and the server has nothing in flight shortly after */
    while (grpc_server_inflight(f->server) > 0 && monotonic_ns() - start < 3000000000LL)
        usleep(10000);
    assert_int_equal(grpc_server_inflight(f->server), 0);
}

static void test_too_large(void **state)
{
    struct fixture *f = *state;
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.payload.len = 2 << 20;
    req.payload.data = xcalloc(1, req.payload.len);
    Berth__Test__V1__EchoResponse *resp = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(unary(f, &req, NULL, &resp, &err), -1);
    assert_int_equal(err->kind, ERR_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(err->message, "received message larger than max"));
    err_free(err);
    free(req.payload.data);
    /* the connection still works */
    req.payload.len = 0;
    req.message = "after";
    err = NULL;
    assert_int_equal(unary(f, &req, NULL, &resp, &err), 0);
    assert_string_equal(resp->message, "after");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
}

struct parallel_arg {
    struct fixture *f;
    int failures;
};

static void *parallel_calls(void *arg)
{
    struct parallel_arg *a = arg;
    for (int i = 0; i < 50; i++) {
        Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
        req.message = "p";
        Berth__Test__V1__EchoResponse *resp = NULL;
        struct berth_error *err = NULL;
        if (unary(a->f, &req, NULL, &resp, &err) < 0) {
            a->failures++;
            err_free(err);
            continue;
        }
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    struct fixture *f = *state;
    pthread_t t[8];
    struct parallel_arg a[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (struct parallel_arg){.f = f};
        pthread_create(&t[i], NULL, parallel_calls, &a[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].failures, 0);
    }
}

/* ---- hostile peers on a raw socket ---- */

static int raw_connect(struct fixture *f)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(grpc_server_serve_fd(f->server, sv[0], NULL), 0);
    return sv[1];
}

/* Reads until the server closes the connection; returns the bytes seen (bounded wait). */
static size_t read_until_closed(int fd, uint8_t *buf, size_t cap)
{
    size_t have = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            fail_msg("server did not close the connection");
        uint8_t tmp[4096];
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n <= 0)
            return have;
        size_t take = (size_t)n < cap - have ? (size_t)n : cap - have;
        memcpy(buf + have, tmp, take);
        have += take;
    }
}

static const char PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static void frame(int fd, uint8_t type, uint8_t flags, uint32_t stream, const void *payload,
                  size_t len)
{
    uint8_t h[9] = {(uint8_t)(len >> 16),
                    (uint8_t)(len >> 8),
                    (uint8_t)len,
                    type,
                    flags,
                    (uint8_t)(stream >> 24),
                    (uint8_t)(stream >> 16),
                    (uint8_t)(stream >> 8),
                    (uint8_t)stream};
    assert_int_equal(write(fd, h, 9), 9);
    if (len)
        assert_int_equal(write(fd, payload, len), (ssize_t)len);
}

/* Finds a GOAWAY frame in a byte stream of frames (after the server's SETTINGS). */
static bool saw_goaway(const uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (off + 9 <= len) {
        size_t flen = (size_t)buf[off] << 16 | (size_t)buf[off + 1] << 8 | buf[off + 2];
        if (buf[off + 3] == 7)
            return true;
        off += 9 + flen;
    }
    return false;
}

static void test_hostile_garbage(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[1 << 16];
    int fd = raw_connect(f);
    assert_int_equal(write(fd, "GET / HTTP/1.1\r\n\r\n", 18), 18);
    read_until_closed(fd, buf, sizeof(buf));
    close(fd);

    /* a valid preface, then a frame header announcing a frame larger than allowed */
    fd = raw_connect(f);
    assert_int_equal(write(fd, PREFACE, 24), 24);
    frame(fd, 4, 0, 0, NULL, 0);
    uint8_t huge[9] = {0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1};
    assert_int_equal(write(fd, huge, 9), 9);
    size_t n = read_until_closed(fd, buf, sizeof(buf));
    assert_true(saw_goaway(buf, n));
    close(fd);

    /* HEADERS whose HPACK block is nonsense */
    fd = raw_connect(f);
    assert_int_equal(write(fd, PREFACE, 24), 24);
    frame(fd, 4, 0, 0, NULL, 0);
    uint8_t bad_hpack[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    frame(fd, 1, 0x4 | 0x1, 1, bad_hpack, sizeof(bad_hpack));
    n = read_until_closed(fd, buf, sizeof(buf));
    assert_true(saw_goaway(buf, n));
    close(fd);

    /* an even (server-reserved) stream id */
    fd = raw_connect(f);
    assert_int_equal(write(fd, PREFACE, 24), 24);
    frame(fd, 4, 0, 0, NULL, 0);
    uint8_t hdr[] = {0x83, 0x86, 0x84}; /* :method POST, :scheme http, :path / */
    frame(fd, 1, 0x4 | 0x1, 2, hdr, sizeof(hdr));
    n = read_until_closed(fd, buf, sizeof(buf));
    assert_true(saw_goaway(buf, n));
    close(fd);

    /* a truncated connection: half a frame then EOF */
    fd = raw_connect(f);
    assert_int_equal(write(fd, PREFACE, 24), 24);
    uint8_t half[5] = {0, 0, 6, 4, 0};
    assert_int_equal(write(fd, half, 5), 5);
    shutdown(fd, SHUT_WR);
    read_until_closed(fd, buf, sizeof(buf));
    close(fd);

    /* the server is still fine for well-behaved clients */
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.message = "still here";
    Berth__Test__V1__EchoResponse *resp = NULL;
    assert_int_equal(unary(f, &req, NULL, &resp, NULL), 0);
    assert_string_equal(resp->message, "still here");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
}

/* ---- codecs ---- */

static void collect(void *arg, uint8_t *data, size_t len)
{
    size_t *count = arg;
    (*count)++;
    free(data);
}

static void test_framing(void **state)
{
    struct grpc_reader r;
    grpc_reader_init(&r, 100);
    uint8_t stream[] = {0, 0, 0, 0, 2, 'h', 'i', 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    size_t count = 0;
    /* fed one byte at a time: two messages and a partial prefix */
    for (size_t i = 0; i < sizeof(stream); i++)
        assert_int_equal(grpc_reader_feed(&r, stream + i, 1, collect, &count), 0);
    assert_int_equal(count, 2);
    assert_true(grpc_reader_partial(&r));
    grpc_reader_reset(&r);

    uint8_t big[] = {0, 0, 0, 1, 0};
    grpc_reader_init(&r, 100);
    assert_int_equal(grpc_reader_feed(&r, big, 5, collect, &count), GRPC_READER_TOO_LARGE);
    assert_int_equal(r.rejected_len, 256);
    grpc_reader_reset(&r);
    uint8_t comp[] = {1, 0, 0, 0, 1, 0};
    assert_int_equal(grpc_reader_feed(&r, comp, 6, collect, &count), GRPC_READER_COMPRESSED);
    grpc_reader_reset(&r);

    assert_int_equal(grpc_timeout_parse("6999934u"), 6999934000LL);
    assert_int_equal(grpc_timeout_parse("5S"), 5000000000LL);
    assert_int_equal(grpc_timeout_parse("1H"), 3600000000000LL);
    assert_int_equal(grpc_timeout_parse("123456789S"), -1);
    assert_int_equal(grpc_timeout_parse("5"), -1);
    assert_int_equal(grpc_timeout_parse("x5S"), -1);
    char out[32];
    grpc_timeout_format(5000000000LL, out);
    assert_int_equal(grpc_timeout_parse(out), 5000000000LL);
    grpc_timeout_format(1, out);
    assert_string_equal(out, "1n");
}

int main(void)
{
    if (getenv("BERTH_TEST_DEBUG"))
        log_set_level(LOG_DEBUG);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing),
        cmocka_unit_test_setup_teardown(test_unary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bidi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_garbage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
