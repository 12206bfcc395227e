/* ttrpc codec, server and client: call kinds, errors, deadlines, limits, hostile peers. */
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/loop/loop.h"
#include "lib/loop/worker_pool.h"
#include "lib/rpc/testdata/echo.pb-c.h"
#include "lib/rpc/testdata/echo_service.h"
#include "lib/rpc/ttrpc_client.h"
#include "lib/rpc/ttrpc_codec.h"
#include "lib/rpc/ttrpc_server.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

static const char *SVC = "berth.test.v1.Echo";

/* ---- a service that answers later, from another thread (inline-mode servers) ---- */

struct later_job {
    struct rpc_call *call;
    const Berth__Test__V1__EchoRequest *req; /* owned by the call */
};

static void *answer_later(void *arg)
{
    struct later_job *job = arg;
    nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
    Berth__Test__V1__EchoResponse resp = BERTH__TEST__V1__ECHO_RESPONSE__INIT;
    resp.message = job->req->message;
    resp.index = 42;
    struct berth_error *err = NULL;
    rpc_call_send(job->call, &resp.base, &err);
    rpc_call_complete(job->call, err);
    err_free(err);
    rpc_call_unref(job->call);
    free(job);
    return NULL;
}

static int later(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                 struct berth_error **err)
{
    struct later_job *job = xcalloc(1, sizeof(*job));
    job->call = call;
    job->req = (const Berth__Test__V1__EchoRequest *)request;
    rpc_call_ref(call);
    pthread_t t;
    pthread_create(&t, NULL, answer_later, job);
    pthread_detach(t);
    return RPC_DEFERRED;
}

/* A handler that breaks the unary contract: OK without a message. */
static int silent(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    return 0;
}

static const struct rpc_method deferred_methods[] = {
    {"Later", RPC_UNARY, &berth__test__v1__echo_request__descriptor,
     &berth__test__v1__echo_response__descriptor, later},
    {"Silent", RPC_UNARY, &berth__test__v1__echo_request__descriptor,
     &berth__test__v1__echo_response__descriptor, silent},
};
static const struct rpc_service deferred_service = {
    .name = "berth.test.v1.Deferred", .methods = deferred_methods, .n_methods = 2};

/* ---- fixture ---- */

struct fixture {
    struct loop *loop;
    struct worker_pool *pool;
    struct rpc_registry *registry;
    struct ttrpc_server *server;
    struct rpc_channel *channel;
};

static int setup_with(void **state, bool inline_handlers)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    f->loop = loop_new();
    assert_int_equal(loop_start_thread(f->loop), 0);
    f->pool = inline_handlers ? NULL : worker_pool_new(2, 64);
    f->registry = rpc_registry_new();
    rpc_registry_add(f->registry, &echo_service);
    rpc_registry_add(f->registry, &deferred_service);
    f->server = ttrpc_server_new(f->loop, f->registry, f->pool, NULL);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(ttrpc_server_serve_fd(f->server, sv[0], NULL), 0);
    struct ttrpc_client_options copts = {.services = f->registry};
    f->channel = ttrpc_channel_from_fd(f->loop, sv[1], &copts, NULL);
    assert_non_null(f->channel);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, false);
}

static int setup_inline(void **state)
{
    return setup_with(state, true);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rpc_channel_free(f->channel);
    ttrpc_server_shutdown(f->server, 1000000000LL);
    if (f->pool)
        worker_pool_free(f->pool);
    ttrpc_server_free(f->server);
    loop_free(f->loop);
    rpc_registry_free(f->registry);
    free(f);
    return 0;
}

static int unary(struct rpc_channel *ch, const Berth__Test__V1__EchoRequest *req,
                 const struct rpc_call_options *opts, Berth__Test__V1__EchoResponse **ret,
                 struct berth_error **err)
{
    return rpc_channel_unary(ch, SVC, "Unary", &req->base,
                             &berth__test__v1__echo_response__descriptor, (ProtobufCMessage **)ret,
                             opts, err);
}

static void expect_unary_ok(struct rpc_channel *ch, const char *text)
{
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.message = (char *)text;
    Berth__Test__V1__EchoResponse *resp = NULL;
    struct berth_error *err = NULL;
    if (unary(ch, &req, NULL, &resp, &err) < 0)
        fail_msg("unary: %s", err->message);
    assert_string_equal(resp->message, text);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
}

/* ---- codec ---- */

static void test_codec(void **state)
{
    uint8_t hb[TTRPC_HEADER_LEN];
    struct ttrpc_header h = {.length = 0x00400000, .stream_id = 0x80000001, .type = 3, .flags = 5};
    ttrpc_header_encode(hb, &h);
    const uint8_t want[] = {0, 0x40, 0, 0, 0x80, 0, 0, 1, 3, 5};
    assert_memory_equal(hb, want, sizeof(want));
    struct ttrpc_header back;
    ttrpc_header_decode(hb, &back);
    assert_int_equal(back.length, h.length);
    assert_int_equal(back.stream_id, h.stream_id);
    assert_int_equal(back.type, 3);
    assert_int_equal(back.flags, 5);

    struct rpc_metadata md = {0};
    rpc_metadata_add(&md, "Containerd-Namespace-Ttrpc", "default");
    rpc_metadata_add(&md, "k", "");
    size_t len;
    uint8_t *enc = ttrpc_request_encode("containerd.task.v3.Task", "Create", (const uint8_t *)"\0x",
                                        2, -5, &md, &len);
    struct ttrpc_request req;
    const char *why = NULL;
    assert_int_equal(ttrpc_request_decode(enc, len, &req, &why), 0);
    assert_string_equal(req.service, "containerd.task.v3.Task");
    assert_string_equal(req.method, "Create");
    assert_true(req.has_payload);
    assert_int_equal(req.payload_len, 2);
    assert_memory_equal(req.payload, "\0x", 2);
    assert_int_equal(req.timeout_nano, -5);
    assert_int_equal(req.metadata.count, 2);
    assert_string_equal(rpc_metadata_get(&req.metadata, "containerd-namespace-ttrpc"), "default");
    assert_string_equal(rpc_metadata_get(&req.metadata, "k"), "");
    ttrpc_request_clear(&req);
    /* every truncation is either a valid shorter message or an error, never a crash */
    for (size_t n = 0; n < len; n++) {
        if (ttrpc_request_decode(enc, n, &req, &why) == 0)
            ttrpc_request_clear(&req);
    }
    free(enc);
    rpc_metadata_clear(&md);

    /* an empty request: no payload field at all */
    enc = ttrpc_request_encode("s", "m", NULL, 0, 0, NULL, &len);
    assert_int_equal(ttrpc_request_decode(enc, len, &req, &why), 0);
    assert_false(req.has_payload);
    assert_int_equal(req.timeout_nano, 0);
    ttrpc_request_clear(&req);
    free(enc);

    enc = ttrpc_response_encode(GRPC_NOT_FOUND, "bad \xff byte", (const uint8_t *)"abc", 3, &len);
    struct ttrpc_response resp;
    assert_int_equal(ttrpc_response_decode(enc, len, &resp, &why), 0);
    assert_int_equal(resp.code, GRPC_NOT_FOUND);
    assert_string_equal(resp.message, "bad \xef\xbf\xbd byte");
    assert_int_equal(resp.payload_len, 3);
    ttrpc_response_clear(&resp);
    free(enc);
    /* OK: the status field is present but empty, as ttrpc writes it */
    enc = ttrpc_response_encode(GRPC_OK, NULL, NULL, 0, &len);
    assert_int_equal(len, 2);
    assert_int_equal(ttrpc_response_decode(enc, len, &resp, &why), 0);
    assert_int_equal(resp.code, 0);
    assert_false(resp.has_payload);
    ttrpc_response_clear(&resp);
    free(enc);
    /* negative codes are sign-extended varints; details and unknown fields are skipped */
    const uint8_t odd[] = {0x0a, 0x14, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                           0xff, 0x01, 0x1a, 0x02, 0x08, 0x01, 0x25, 1,    2,    3,    4,
                           0x39, 1,    2,    3,    4,    5,    6,    7,    8};
    assert_int_equal(ttrpc_response_decode(odd, sizeof(odd), &resp, &why), 0);
    assert_int_equal(resp.code, -1);
    ttrpc_response_clear(&resp);

    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\x0a\x05"
         "ab",
         4},                                                  /* length past the end */
        {"\x0a", 1},                                          /* missing length */
        {"\x20\xff\xff", 3},                                  /* truncated varint */
        {"\x20\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11}, /* varint over 64 bits */
        {"\x00\x01", 2},                                      /* field number 0 */
        {"\x0b\x01", 2},                                      /* start group */
        {"\x0a\x02\xc0\x80", 4},                              /* overlong UTF-8 in service */
        {"\x12\x03"
         "a\0b",
         5},                             /* NUL in method */
        {"\x2a\x04\x0a\x02\xed\xa0", 6}, /* surrogate half in a metadata key */
        {"\x2d\x01\x02", 3},             /* fixed32 cut short */
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        why = NULL;
        if (ttrpc_request_decode((const uint8_t *)bad[i].bytes, bad[i].len, &req, &why) == 0)
            fail_msg("malformed request %zu decoded", i);
        assert_non_null(why);
    }
    /* too many metadata entries */
    size_t cap = (TTRPC_MAX_METADATA + 1) * 2;
    uint8_t *many = xmalloc(cap);
    for (size_t i = 0; i < cap; i += 2)
        many[i] = 0x2a, many[i + 1] = 0;
    assert_int_equal(ttrpc_request_decode(many, cap, &req, &why), -1);
    assert_string_equal(why, "too many metadata entries");
    free(many);

    /* random bytes: no crash, no leak */
    unsigned seed = 1;
    uint8_t junk[64];
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rand_r(&seed) % (int)sizeof(junk));
        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)rand_r(&seed);
        if (ttrpc_request_decode(junk, n, &req, &why) == 0)
            ttrpc_request_clear(&req);
        if (ttrpc_response_decode(junk, n, &resp, &why) == 0)
            ttrpc_response_clear(&resp);
    }

    assert_true(ttrpc_utf8_valid((const uint8_t *)"a\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80", 10));
    assert_false(ttrpc_utf8_valid((const uint8_t *)"\xe2\x9c", 2));
    assert_false(ttrpc_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4));
    assert_false(ttrpc_utf8_valid((const uint8_t *)"\xe0\x80\x80", 3));
}

/* ---- calls through the echo service ---- */

static void test_unary(void **state)
{
    struct fixture *f = *state;
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.message = "hello";
    req.metadata_key = "containerd-namespace-ttrpc";
    struct rpc_metadata md = {0};
    rpc_metadata_add(&md, "Containerd-Namespace-TTRPC", "default");
    struct rpc_call_options opts = {.metadata = &md, .timeout_ns = 5000000000LL};
    Berth__Test__V1__EchoResponse *resp = NULL;
    struct berth_error *err = NULL;
    if (unary(f->channel, &req, &opts, &resp, &err) < 0)
        fail_msg("unary: %s", err->message);
    assert_string_equal(resp->message, "hello");
    assert_string_equal(resp->metadata_value, "default");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    rpc_metadata_clear(&md);

    /* an empty request and an empty reply are still one message each way */
    Berth__Test__V1__EchoRequest empty = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    assert_int_equal(unary(f->channel, &empty, NULL, &resp, &err), 0);
    assert_string_equal(resp->message, "");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
}

static void test_error_status(void **state)
{
    struct fixture *f = *state;
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.fail_code = GRPC_FAILED_PRECONDITION;
    req.fail_message = "lease \xe2\x9c\x93 100%: conflict";
    Berth__Test__V1__EchoResponse *resp = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(unary(f->channel, &req, NULL, &resp, &err), -1);
    assert_int_equal(err->kind, ERR_CONFLICT);
    assert_string_equal(err->message, req.fail_message);
    err_free(err);
    err = NULL;

    /* ttrpc's own wording for unknown services and methods (services.go) */
    assert_int_equal(rpc_channel_unary(f->channel, SVC, "Nope", &req.base,
                                       &berth__test__v1__echo_response__descriptor,
                                       (ProtobufCMessage **)&resp, NULL, &err),
                     -1);
    assert_int_equal(err->kind, ERR_NOT_IMPLEMENTED);
    assert_string_equal(err->message, "method Nope");
    err_free(err);
    err = NULL;
    assert_int_equal(rpc_channel_unary(f->channel, "no.Such", "X", &req.base,
                                       &berth__test__v1__echo_response__descriptor,
                                       (ProtobufCMessage **)&resp, NULL, &err),
                     -1);
    assert_int_equal(err->kind, ERR_NOT_IMPLEMENTED);
    assert_string_equal(err->message, "service no.Such");
    err_free(err);
    err = NULL;
    assert_int_equal(rpc_channel_unary(f->channel, "berth.test.v1.Deferred", "Silent", &req.base,
                                       &berth__test__v1__echo_response__descriptor,
                                       (ProtobufCMessage **)&resp, NULL, &err),
                     -1);
    assert_int_equal(err->kind, ERR_UNKNOWN);
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
    for (int i = 0; i < 20; i++) /* 20 MiB: the server's reading is paced, not buffered */
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

    /* no messages at all */
    call = ttrpc_channel_start_stream(f->channel, SVC, "ClientStream", RPC_CLIENT_STREAMING, NULL,
                                      &err);
    rpc_call_close_send(call);
    assert_int_equal(rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err),
                     1);
    assert_int_equal(((Berth__Test__V1__EchoResponse *)msg)->count, 0);
    protobuf_c_message_free_unpacked(msg, NULL);
    assert_int_equal(rpc_call_finish(call, &err), 0);
    rpc_call_unref(call);
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
    assert_string_equal(err->message, "gone");
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
    assert_int_equal(unary(f->channel, &req, &opts, &resp, &err), -1);
    assert_int_equal(err->kind, ERR_DEADLINE_EXCEEDED);
    err_free(err);
    /* the server got timeout_nano, ended the call and told the handler */
    while (ttrpc_server_inflight(f->server) > 0 && monotonic_ns() - start < 3000000000LL)
        usleep(10000);
    assert_int_equal(ttrpc_server_inflight(f->server), 0);
    expect_unary_ok(f->channel, "after the deadline");
}

static void test_too_large(void **state)
{
    struct fixture *f = *state;
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    Berth__Test__V1__EchoResponse *resp = NULL;
    struct berth_error *err = NULL;
    /* a request that fits as a message but not inside a 4 MiB frame */
    req.payload.len = TTRPC_MESSAGE_LENGTH_MAX - 10;
    req.payload.data = xcalloc(1, req.payload.len);
    assert_int_equal(unary(f->channel, &req, NULL, &resp, &err), -1);
    assert_int_equal(err->kind, ERR_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(err->message, "exceed maximum message size of 4194304"));
    err_free(err);
    err = NULL;
    free(req.payload.data);
    req.payload.len = 0;
    /* a reply too large for a frame becomes ResourceExhausted, the connection lives on */
    req.response_size = 5 << 20;
    assert_int_equal(unary(f->channel, &req, NULL, &resp, &err), -1);
    assert_int_equal(err->kind, ERR_RESOURCE_EXHAUSTED);
    err_free(err);
    expect_unary_ok(f->channel, "after");
}

struct parallel_arg {
    struct rpc_channel *channel;
    int failures;
};

static void *parallel_calls(void *arg)
{
    struct parallel_arg *a = arg;
    for (int i = 0; i < 50; i++) {
        Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
        char text[32];
        snprintf(text, sizeof(text), "p%d", i);
        req.message = text;
        Berth__Test__V1__EchoResponse *resp = NULL;
        struct berth_error *err = NULL;
        if (unary(a->channel, &req, NULL, &resp, &err) < 0) {
            a->failures++;
            err_free(err);
            continue;
        }
        if (strcmp(resp->message, text) != 0)
            a->failures++;
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
        a[i] = (struct parallel_arg){.channel = f->channel};
        pthread_create(&t[i], NULL, parallel_calls, &a[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].failures, 0);
    }
}

static void test_inline_deferred(void **state)
{
    struct fixture *f = *state;
    expect_unary_ok(f->channel, "inline");
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.message = "later";
    Berth__Test__V1__EchoResponse *resp = NULL;
    struct berth_error *err = NULL;
    long long start = monotonic_ns();
    assert_int_equal(rpc_channel_unary(f->channel, "berth.test.v1.Deferred", "Later", &req.base,
                                       &berth__test__v1__echo_response__descriptor,
                                       (ProtobufCMessage **)&resp, NULL, &err),
                     0);
    assert_true(monotonic_ns() - start >= 50 * 1000000LL);
    assert_string_equal(resp->message, "later");
    assert_int_equal(resp->index, 42);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    /* the loop stayed free while the deferred call was pending: calls overlap */
    struct parallel_arg a = {.channel = f->channel};
    parallel_calls(&a);
    assert_int_equal(a.failures, 0);
}

/* ---- raw peers: a hand-driven socket on one side ---- */

static int raw_connect(struct fixture *f)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(ttrpc_server_serve_fd(f->server, sv[0], NULL), 0);
    return sv[1];
}

static void write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

static void raw_send(int fd, uint32_t id, uint8_t type, uint8_t flags, const void *p, size_t len)
{
    uint8_t h[TTRPC_HEADER_LEN];
    ttrpc_header_encode(h, &(struct ttrpc_header){(uint32_t)len, id, type, flags});
    write_all(fd, h, sizeof(h));
    if (len)
        write_all(fd, p, len);
}

static void raw_request(int fd, uint32_t id, uint8_t flags, const char *method,
                        const Berth__Test__V1__EchoRequest *msg, int64_t timeout_nano)
{
    size_t mlen = msg ? protobuf_c_message_get_packed_size(&msg->base) : 0;
    uint8_t *m = xmalloc(mlen);
    if (msg)
        protobuf_c_message_pack(&msg->base, m);
    size_t len;
    uint8_t *req = ttrpc_request_encode(SVC, method, m, mlen, timeout_nano, NULL, &len);
    raw_send(fd, id, TTRPC_TYPE_REQUEST, flags, req, len);
    free(req);
    free(m);
}

/* Reads exactly len bytes; false on EOF or reset. */
static bool read_full(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 5000) <= 0)
            fail_msg("peer sent nothing for 5 s");
        ssize_t n = read(fd, p, len);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static bool raw_read(int fd, struct ttrpc_header *h, uint8_t **payload)
{
    uint8_t hb[TTRPC_HEADER_LEN];
    if (!read_full(fd, hb, sizeof(hb)))
        return false;
    ttrpc_header_decode(hb, h);
    assert_true(h->length <= TTRPC_MESSAGE_LENGTH_MAX);
    *payload = xmalloc(h->length);
    assert_true(read_full(fd, *payload, h->length));
    return true;
}

/* Reads a Response on stream id; checks its code and message (a prefix when it ends in '*'). */
static Berth__Test__V1__EchoResponse *expect_response(int fd, uint32_t id, int code,
                                                      const char *message)
{
    struct ttrpc_header h;
    uint8_t *p;
    assert_true(raw_read(fd, &h, &p));
    assert_int_equal(h.stream_id, id);
    assert_int_equal(h.type, TTRPC_TYPE_RESPONSE);
    struct ttrpc_response resp;
    const char *why;
    assert_int_equal(ttrpc_response_decode(p, h.length, &resp, &why), 0);
    assert_int_equal(resp.code, code);
    size_t n = strlen(message);
    if (n && message[n - 1] == '*')
        assert_int_equal(strncmp(resp.message, message, n - 1), 0);
    else
        assert_string_equal(resp.message, message);
    Berth__Test__V1__EchoResponse *msg = NULL;
    if (code == 0)
        msg = berth__test__v1__echo_response__unpack(NULL, resp.payload_len, resp.payload);
    ttrpc_response_clear(&resp);
    free(p);
    return msg;
}

static void expect_echo(int fd, uint32_t id, const char *text)
{
    Berth__Test__V1__EchoResponse *msg = expect_response(fd, id, 0, "");
    assert_non_null(msg);
    assert_string_equal(msg->message, text);
    protobuf_c_message_free_unpacked(&msg->base, NULL);
}

static void expect_closed(int fd)
{
    uint8_t buf[256];
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 5000) <= 0)
            fail_msg("peer did not close the connection");
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return;
    }
}

static void test_raw_oversized(void **state)
{
    struct fixture *f = *state;
    int fd = raw_connect(f);
    size_t big = TTRPC_MESSAGE_LENGTH_MAX + 1;
    uint8_t *junk = xmalloc(big);
    memset(junk, 0x41, big);
    raw_send(fd, 1, TTRPC_TYPE_REQUEST, 0, junk, big); /* read and dropped, never buffered */
    expect_response(fd, 1, GRPC_RESOURCE_EXHAUSTED,
                    "message length 4194305 exceed maximum message size of 4194304");
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.message = "still framed";
    raw_request(fd, 3, 0, "Unary", &req, 0);
    expect_echo(fd, 3, "still framed");

    /* a frame of exactly 4 MiB is fine (ServerStream with count 0 answers with a bare close) */
    for (size_t plen = TTRPC_MESSAGE_LENGTH_MAX - 64;; plen++) {
        req.payload.len = plen;
        req.payload.data = junk;
        size_t mlen = protobuf_c_message_get_packed_size(&req.base);
        uint8_t *m = xmalloc(mlen);
        protobuf_c_message_pack(&req.base, m);
        size_t len;
        uint8_t *env = ttrpc_request_encode(SVC, "ServerStream", m, mlen, 0, NULL, &len);
        free(m);
        if (len == TTRPC_MESSAGE_LENGTH_MAX)
            raw_send(fd, 5, TTRPC_TYPE_REQUEST, TTRPC_FLAG_REMOTE_CLOSED, env, len);
        free(env);
        if (len >= TTRPC_MESSAGE_LENGTH_MAX)
            break;
    }
    struct ttrpc_header h;
    uint8_t *p;
    assert_true(raw_read(fd, &h, &p));
    assert_int_equal(h.stream_id, 5);
    assert_int_equal(h.type, TTRPC_TYPE_DATA);
    assert_int_equal(h.flags, TTRPC_FLAG_REMOTE_CLOSED | TTRPC_FLAG_NO_DATA);
    free(p);
    free(junk);
    close(fd);
}

static void test_raw_stream_ids(void **state)
{
    struct fixture *f = *state;
    int fd = raw_connect(f);
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.message = "ok";
    raw_request(fd, 2, 0, "Unary", &req, 0);
    expect_response(fd, 2, GRPC_INVALID_ARGUMENT,
                    "StreamID must be odd for client initiated streams");
    raw_request(fd, 5, 0, "Unary", &req, 0);
    expect_echo(fd, 5, "ok");
    raw_request(fd, 3, 0, "Unary", &req, 0);
    expect_response(fd, 3, GRPC_INVALID_ARGUMENT, "StreamID cannot be re-used and must increment");
    raw_request(fd, 5, 0, "Unary", &req, 0);
    expect_response(fd, 5, GRPC_INVALID_ARGUMENT, "StreamID cannot be re-used and must increment");
    raw_send(fd, 7, TTRPC_TYPE_DATA, 0, "x", 1);
    expect_response(fd, 7, GRPC_INVALID_ARGUMENT, "StreamID is no longer active");
    /* unknown types and stray responses are ignored, as ttrpc does */
    raw_send(fd, 9, 0x09, 0, "zz", 2);
    raw_send(fd, 11, TTRPC_TYPE_RESPONSE, 0, NULL, 0);
    raw_request(fd, 13, 0, "Unary", &req, 0);
    expect_echo(fd, 13, "ok");

    /* a client stream by hand: Request [RO], Data, Data [RC|no data], then a late Data */
    raw_request(fd, 15, TTRPC_FLAG_REMOTE_OPEN, "ClientStream", NULL, 0);
    uint8_t m[64];
    size_t mlen = protobuf_c_message_pack(&req.base, m);
    raw_send(fd, 15, TTRPC_TYPE_DATA, 0, m, mlen);
    raw_send(fd, 15, TTRPC_TYPE_DATA, 0, NULL, 0); /* an empty message */
    raw_send(fd, 15, TTRPC_TYPE_DATA, TTRPC_FLAG_REMOTE_CLOSED | TTRPC_FLAG_NO_DATA, NULL, 0);
    Berth__Test__V1__EchoResponse *resp = expect_response(fd, 15, 0, "");
    assert_int_equal(resp->count, 2);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    raw_send(fd, 15, TTRPC_TYPE_DATA, 0, m, mlen);
    expect_response(fd, 15, GRPC_INVALID_ARGUMENT, "StreamID is no longer active");
    close(fd);
}

static void test_raw_garbage(void **state)
{
    struct fixture *f = *state;
    int fd = raw_connect(f);
    raw_send(fd, 1, TTRPC_TYPE_REQUEST, 0, "\xff\xff\xff", 3);
    expect_response(fd, 1, GRPC_INVALID_ARGUMENT, "unmarshal request error: *");
    size_t len;
    uint8_t *env = ttrpc_request_encode(SVC, "Unary",
                                        (const uint8_t *)"\x0a\x05"
                                                         "ab",
                                        4, 0, NULL, &len);
    raw_send(fd, 3, TTRPC_TYPE_REQUEST, 0, env, len);
    free(env);
    expect_response(fd, 3, GRPC_INTERNAL, "*");
    raw_send(fd, 5, TTRPC_TYPE_REQUEST, 0, NULL, 0); /* an empty Request names no service */
    expect_response(fd, 5, GRPC_UNIMPLEMENTED, "service ");
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.message = "survived";
    raw_request(fd, 7, 0, "Unary", &req, 0);
    expect_echo(fd, 7, "survived");
    close(fd);

    /* peers that go away mid-header, mid-payload and mid-discard */
    static const uint8_t half_header[] = {0, 0, 0};
    static const uint8_t header_100[] = {0, 0, 0, 100, 0, 0, 0, 1, 1, 0, 1, 2, 3};
    static const uint8_t header_huge[] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 1, 0, 1, 2};
    const struct {
        const uint8_t *bytes;
        size_t len;
    } cut[] = {{half_header, 3}, {header_100, 13}, {header_huge, 12}};
    for (size_t i = 0; i < ARRAY_SIZE(cut); i++) {
        fd = raw_connect(f);
        write_all(fd, cut[i].bytes, cut[i].len);
        shutdown(fd, SHUT_WR);
        expect_closed(fd);
        close(fd);
    }
    expect_unary_ok(f->channel, "server still fine");
}

static void test_raw_server_deadline(void **state)
{
    struct fixture *f = *state;
    int fd = raw_connect(f);
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.sleep_ms = 5000;
    long long start = monotonic_ns();
    raw_request(fd, 1, 0, "Unary", &req, 50 * 1000000LL);
    expect_response(fd, 1, GRPC_DEADLINE_EXCEEDED, "context deadline exceeded");
    assert_true(monotonic_ns() - start < 2000000000LL);
    close(fd);
}

/* ---- the client against a hand-driven server ---- */

struct raw_client {
    struct rpc_channel *channel;
    int fd; /* the server's end */
};

static struct raw_client raw_client(struct fixture *f)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct ttrpc_client_options opts = {.services = f->registry};
    struct raw_client rc = {ttrpc_channel_from_fd(f->loop, sv[1], &opts, NULL), sv[0]};
    assert_non_null(rc.channel);
    return rc;
}

static struct rpc_call *send_echo(struct rpc_channel *ch, const char *method, const char *text,
                                  const struct rpc_call_options *opts)
{
    struct rpc_call *call = rpc_channel_start_call(ch, SVC, method, opts, NULL);
    assert_non_null(call);
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.message = (char *)text;
    assert_int_equal(rpc_call_send(call, &req.base, NULL), 0);
    return call;
}

/* Reads the next frame and checks its stream id, type and flags; returns its payload. */
static uint8_t *expect_frame(int fd, uint32_t id, uint8_t type, uint8_t flags, size_t *len)
{
    struct ttrpc_header h;
    uint8_t *p;
    assert_true(raw_read(fd, &h, &p));
    assert_int_equal(h.stream_id, id);
    assert_int_equal(h.type, type);
    assert_int_equal(h.flags, flags);
    *len = h.length;
    return p;
}

static void reply_echo(int fd, uint32_t id, uint8_t type, uint8_t flags, const char *text)
{
    Berth__Test__V1__EchoResponse msg = BERTH__TEST__V1__ECHO_RESPONSE__INIT;
    msg.message = (char *)text;
    uint8_t m[256];
    size_t mlen = protobuf_c_message_pack(&msg.base, m);
    if (type == TTRPC_TYPE_DATA) {
        raw_send(fd, id, type, flags, m, mlen);
        return;
    }
    size_t len;
    uint8_t *p = ttrpc_response_encode(0, NULL, m, mlen, &len);
    raw_send(fd, id, type, flags, p, len);
    free(p);
}

static void expect_recv(struct rpc_call *call, const char *text)
{
    ProtobufCMessage *msg;
    struct berth_error *err = NULL;
    if (rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err) != 1)
        fail_msg("recv: %s", err ? err->message : "end of stream");
    assert_string_equal(((Berth__Test__V1__EchoResponse *)msg)->message, text);
    protobuf_c_message_free_unpacked(msg, NULL);
}

static void expect_finish(struct rpc_call *call, enum err_kind kind, const char *message)
{
    struct berth_error *err = NULL;
    int r = rpc_call_finish(call, &err);
    if (!kind) {
        assert_int_equal(r, 0);
    } else {
        assert_int_equal(r, -1);
        assert_int_equal(err->kind, kind);
        if (message)
            assert_string_equal(err->message, message);
        err_free(err);
    }
    rpc_call_unref(call);
}

static void test_client_wire(void **state)
{
    struct fixture *f = *state;
    struct raw_client rc = raw_client(f);
    struct rpc_metadata md = {0};
    rpc_metadata_add(&md, "K", "v");
    struct rpc_call_options opts = {.metadata = &md, .timeout_ns = 5000000000LL};
    struct rpc_call *call = send_echo(rc.channel, "Unary", "x", &opts);
    rpc_metadata_clear(&md);
    size_t len;
    uint8_t *p = expect_frame(rc.fd, 1, TTRPC_TYPE_REQUEST, 0, &len);
    struct ttrpc_request req;
    const char *why;
    assert_int_equal(ttrpc_request_decode(p, len, &req, &why), 0);
    assert_string_equal(req.service, SVC);
    assert_string_equal(req.method, "Unary");
    assert_true(req.timeout_nano > 4000000000LL && req.timeout_nano <= 5000000000LL);
    assert_string_equal(rpc_metadata_get(&req.metadata, "k"), "v");
    Berth__Test__V1__EchoRequest *m =
        berth__test__v1__echo_request__unpack(NULL, req.payload_len, req.payload);
    assert_string_equal(m->message, "x");
    protobuf_c_message_free_unpacked(&m->base, NULL);
    ttrpc_request_clear(&req);
    free(p);
    reply_echo(rc.fd, 1, TTRPC_TYPE_RESPONSE, 0, "y");
    expect_recv(call, "y");
    expect_finish(call, 0, NULL);

    /* server streaming: Request [RC] with the message, then Data until Data [RC|no data] */
    call = send_echo(rc.channel, "ServerStream", "s", NULL);
    rpc_call_close_send(call);
    free(expect_frame(rc.fd, 3, TTRPC_TYPE_REQUEST, TTRPC_FLAG_REMOTE_CLOSED, &len));
    reply_echo(rc.fd, 3, TTRPC_TYPE_DATA, 0, "d1");
    raw_send(rc.fd, 3, TTRPC_TYPE_DATA, 0, NULL, 0);
    raw_send(rc.fd, 3, TTRPC_TYPE_DATA, TTRPC_FLAG_REMOTE_CLOSED | TTRPC_FLAG_NO_DATA, NULL, 0);
    expect_recv(call, "d1");
    expect_recv(call, "");
    ProtobufCMessage *msg;
    assert_int_equal(rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, NULL),
                     0);
    expect_finish(call, 0, NULL);

    /* client streaming: Request [RO] without payload, Data per message, Data [RC|no data] */
    call = send_echo(rc.channel, "ClientStream", "c1", NULL);
    Berth__Test__V1__EchoRequest c2 = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    assert_int_equal(rpc_call_send(call, &c2.base, NULL), 0);
    rpc_call_close_send(call);
    p = expect_frame(rc.fd, 5, TTRPC_TYPE_REQUEST, TTRPC_FLAG_REMOTE_OPEN, &len);
    assert_int_equal(ttrpc_request_decode(p, len, &req, &why), 0);
    assert_false(req.has_payload);
    assert_int_equal(req.timeout_nano, 0);
    ttrpc_request_clear(&req);
    free(p);
    free(expect_frame(rc.fd, 5, TTRPC_TYPE_DATA, 0, &len));
    free(expect_frame(rc.fd, 5, TTRPC_TYPE_DATA, 0, &len));
    assert_int_equal(len, 0);
    free(expect_frame(rc.fd, 5, TTRPC_TYPE_DATA, TTRPC_FLAG_REMOTE_CLOSED | TTRPC_FLAG_NO_DATA,
                      &len));
    reply_echo(rc.fd, 5, TTRPC_TYPE_RESPONSE, 0, "sum");
    expect_recv(call, "sum");
    expect_finish(call, 0, NULL);

    /* the connection dies under a call: Unavailable "ttrpc: closed", and so do new calls */
    call = send_echo(rc.channel, "Unary", "lost", NULL);
    free(expect_frame(rc.fd, 7, TTRPC_TYPE_REQUEST, 0, &len));
    close(rc.fd);
    expect_finish(call, ERR_UNAVAILABLE, "ttrpc: closed");
    struct berth_error *err = NULL;
    while ((call = rpc_channel_start_call(rc.channel, SVC, "Unary", NULL, &err))) {
        rpc_call_unref(call); /* the close may not have been seen yet */
        usleep(1000);
    }
    assert_int_equal(err->kind, ERR_UNAVAILABLE);
    err_free(err);
    rpc_channel_free(rc.channel);
}

static void test_client_hostile_server(void **state)
{
    struct fixture *f = *state;
    struct raw_client rc = raw_client(f);
    size_t len;
    struct rpc_call *call = send_echo(rc.channel, "Unary", "a", NULL);
    free(expect_frame(rc.fd, 1, TTRPC_TYPE_REQUEST, 0, &len));
    raw_send(rc.fd, 1, TTRPC_TYPE_RESPONSE, 0, "\x0a\x09", 2); /* a status past the end */
    expect_finish(call, ERR_INTERNAL, NULL);

    call = send_echo(rc.channel, "Unary", "b", NULL);
    free(expect_frame(rc.fd, 3, TTRPC_TYPE_REQUEST, 0, &len));
    raw_send(rc.fd, 3, 0x07, 0, "?", 1);
    expect_finish(call, ERR_INTERNAL, "ttrpc: unexpected message type 7 received: protocol error");

    call = send_echo(rc.channel, "Unary", "c", NULL);
    free(expect_frame(rc.fd, 5, TTRPC_TYPE_REQUEST, 0, &len));
    reply_echo(rc.fd, 99, TTRPC_TYPE_RESPONSE, 0, "stray"); /* unknown streams are ignored */
    reply_echo(rc.fd, 4, TTRPC_TYPE_DATA, 0, "even");
    size_t big = TTRPC_MESSAGE_LENGTH_MAX + 10;
    uint8_t *junk = xcalloc(1, big);
    raw_send(rc.fd, 5, TTRPC_TYPE_RESPONSE, 0, junk, big);
    free(junk);
    expect_finish(call, ERR_RESOURCE_EXHAUSTED,
                  "message length 4194314 exceed maximum message size of 4194304");

    call = send_echo(rc.channel, "Unary", "d", NULL);
    free(expect_frame(rc.fd, 7, TTRPC_TYPE_REQUEST, 0, &len));
    size_t rlen;
    uint8_t *resp = ttrpc_response_encode(GRPC_NOT_FOUND, "thing: not found", NULL, 0, &rlen);
    raw_send(rc.fd, 7, TTRPC_TYPE_RESPONSE, 0, resp, rlen);
    free(resp);
    expect_finish(call, ERR_NOT_FOUND, "thing: not found");

    /* a client-side deadline while the server stays silent */
    struct rpc_call_options opts = {.timeout_ns = 50 * 1000000LL};
    call = send_echo(rc.channel, "Unary", "e", &opts);
    free(expect_frame(rc.fd, 9, TTRPC_TYPE_REQUEST, 0, &len));
    ProtobufCMessage *msg;
    struct berth_error *err = NULL;
    assert_int_equal(rpc_call_recv(call, &berth__test__v1__echo_response__descriptor, &msg, &err),
                     -1);
    assert_int_equal(err->kind, ERR_DEADLINE_EXCEEDED);
    err_free(err);
    rpc_call_unref(call);
    reply_echo(rc.fd, 9, TTRPC_TYPE_RESPONSE, 0, "too late"); /* dropped */

    call = send_echo(rc.channel, "Unary", "f", NULL);
    free(expect_frame(rc.fd, 11, TTRPC_TYPE_REQUEST, 0, &len));
    reply_echo(rc.fd, 11, TTRPC_TYPE_RESPONSE, 0, "fine");
    expect_recv(call, "fine");
    expect_finish(call, 0, NULL);
    rpc_channel_free(rc.channel);
    close(rc.fd);
}

/* containerd's UnixSocketRequireSameUser: another uid is disconnected without an answer. */
static void test_same_user(void **state)
{
    struct fixture *f = *state;
    char dir[] = "/tmp/berth-ttrpc-XXXXXX";
    assert_non_null(mkdtemp(dir));
    chmod(dir, 0711);
    char path[64];
    snprintf(path, sizeof(path), "%s/s.ttrpc", dir);
    struct ttrpc_server_options opts = {.require_same_user = true};
    struct ttrpc_server *server = ttrpc_server_new(f->loop, f->registry, f->pool, &opts);
    struct berth_error *err = NULL;
    if (ttrpc_server_listen_unix(server, path, 0666, (uid_t)-1, (gid_t)-1, &err) < 0)
        fail_msg("listen: %s", err->message);

    if (geteuid() == 0) {
        Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
        uint8_t m[64];
        size_t mlen = protobuf_c_message_pack(&req.base, m), len;
        uint8_t *env = ttrpc_request_encode(SVC, "Unary", m, mlen, 0, NULL, &len);
        uint8_t frame[256];
        ttrpc_header_encode(frame, &(struct ttrpc_header){(uint32_t)len, 1, 1, 0});
        memcpy(frame + TTRPC_HEADER_LEN, env, len);
        free(env);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (setgid(65534) < 0 || setuid(65534) < 0)
                _exit(2);
            int fd = socket(AF_UNIX, SOCK_STREAM, 0);
            if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
                _exit(3);
            if (write(fd, frame, TTRPC_HEADER_LEN + len) < 0)
                _exit(0); /* already disconnected */
            uint8_t buf[64];
            _exit(read(fd, buf, sizeof(buf)) > 0 ? 1 : 0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    struct rpc_channel *ch = ttrpc_channel_connect(f->loop, path, NULL, &err);
    assert_non_null(ch);
    expect_unary_ok(ch, "same user");
    rpc_channel_free(ch);
    ttrpc_server_shutdown(server, 1000000000LL);
    ttrpc_server_free(server);
    assert_int_equal(access(path, F_OK), -1); /* shutdown removed the socket */
    rmdir(dir);
}

/* ---- loop-side async unary calls ---- */

struct async_result {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int calls; /* times the callback ran */
    enum err_kind kind;
    char *message;
    char *response;
};

struct async_start {
    struct fixture *f;
    struct rpc_channel *ch;
    Berth__Test__V1__EchoRequest *req;
    long long timeout_ns;
    struct async_result *res;
    int rc;
    bool release_after;
};

static void async_done(void *arg, ProtobufCMessage *response, const struct berth_error *error)
{
    struct async_result *r = arg;
    pthread_mutex_lock(&r->mu);
    r->calls++;
    r->kind = error ? error->kind : 0;
    r->message = error ? xstrdup(error->message) : NULL;
    if (response) {
        r->response = xstrdup(((Berth__Test__V1__EchoResponse *)response)->message);
        protobuf_c_message_free_unpacked(response, NULL);
    }
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

static void async_start_on_loop(void *arg)
{
    struct async_start *a = arg;
    a->rc = ttrpc_channel_unary_async(a->ch, SVC, "Unary", &a->req->base,
                                      &berth__test__v1__echo_response__descriptor, a->timeout_ns,
                                      async_done, a->res, NULL);
    if (a->release_after)
        ttrpc_channel_release(a->ch);
}

static void async_wait(struct async_result *r)
{
    pthread_mutex_lock(&r->mu);
    while (r->calls == 0)
        pthread_cond_wait(&r->cond, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

static void async_run(struct fixture *f, struct rpc_channel *ch, Berth__Test__V1__EchoRequest *req,
                      long long timeout_ns, bool release_after, struct async_result *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    struct async_start a = {.f = f,
                            .ch = ch,
                            .req = req,
                            .timeout_ns = timeout_ns,
                            .res = r,
                            .release_after = release_after};
    loop_call_sync(f->loop, async_start_on_loop, &a);
    assert_int_equal(a.rc, 0);
    async_wait(r);
    assert_int_equal(r->calls, 1);
}

static void async_clear(struct async_result *r)
{
    free(r->message);
    free(r->response);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->mu);
}

static void test_async_unary(void **state)
{
    struct fixture *f = *state;
    struct async_result r;
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.message = "async";
    async_run(f, f->channel, &req, 0, false, &r);
    assert_int_equal(r.kind, 0);
    assert_string_equal(r.response, "async");
    async_clear(&r);

    req.fail_code = GRPC_NOT_FOUND;
    req.fail_message = "no such thing";
    async_run(f, f->channel, &req, 0, false, &r);
    assert_int_equal(r.kind, ERR_NOT_FOUND);
    assert_null(r.response);
    assert_non_null(strstr(r.message, "no such thing"));
    async_clear(&r);

    /* The deadline ends the call on the client side while the handler still sleeps. */
    req.fail_code = 0;
    req.sleep_ms = 10000;
    async_run(f, f->channel, &req, 20 * 1000000LL, false, &r);
    assert_int_equal(r.kind, ERR_DEADLINE_EXCEEDED);
    async_clear(&r);

    /* Off the loop thread the call is refused. */
    struct berth_error *err = NULL;
    req.sleep_ms = 0;
    assert_int_equal(ttrpc_channel_unary_async(f->channel, SVC, "Unary", &req.base,
                                               &berth__test__v1__echo_response__descriptor, 0,
                                               async_done, NULL, &err),
                     -1);
    assert_int_equal(err->kind, ERR_FAILED_PRECONDITION);
    err_free(err);
    /* The channel still works for blocking callers. */
    expect_unary_ok(f->channel, "after async");
}

static void test_async_release(void **state)
{
    struct fixture *f = *state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(ttrpc_server_serve_fd(f->server, sv[0], NULL), 0);
    struct rpc_channel *ch = ttrpc_channel_from_fd(f->loop, sv[1], NULL, NULL);
    assert_non_null(ch);
    /* Released right after the call starts: the call ends with Unavailable, once. */
    struct async_result r;
    Berth__Test__V1__EchoRequest req = BERTH__TEST__V1__ECHO_REQUEST__INIT;
    req.message = "released";
    req.sleep_ms = 10000;
    async_run(f, ch, &req, 0, true, &r);
    assert_int_equal(r.kind, ERR_UNAVAILABLE);
    async_clear(&r);

    /*
     * A channel whose peer went away reports closed, refuses new calls at once (their callback
     * never runs) and can be released on the loop. The close is waited for first: before the
     * loop has read the EOF a call would be accepted and end with Unavailable instead.
     */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    ch = ttrpc_channel_from_fd(f->loop, sv[1], NULL, NULL);
    assert_non_null(ch);
    close(sv[0]);
    for (int i = 0; i < 2000 && !ttrpc_channel_closed(ch); i++)
        usleep(5000);
    assert_true(ttrpc_channel_closed(ch));
    req.sleep_ms = 0;
    memset(&r, 0, sizeof(r));
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cond, NULL);
    struct async_start a = {.f = f, .ch = ch, .req = &req, .res = &r};
    loop_call_sync(f->loop, async_start_on_loop, &a);
    assert_int_equal(a.rc, -1);
    assert_int_equal(r.calls, 0);
    async_clear(&r);
    loop_call_sync(f->loop, (void (*)(void *))ttrpc_channel_release, ch);
}

int main(void)
{
    if (getenv("BERTH_TEST_DEBUG"))
        log_set_level(LOG_DEBUG);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec),
        cmocka_unit_test_setup_teardown(test_unary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_status, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bidi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inline_deferred, setup_inline, teardown),
        cmocka_unit_test_setup_teardown(test_raw_oversized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_stream_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_server_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_wire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_hostile_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_unary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_release, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
