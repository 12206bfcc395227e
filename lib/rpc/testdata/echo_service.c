/* Test service: echoes messages, sums streams, fails or sleeps on request. */
#include "lib/rpc/testdata/echo_service.h"
#include "lib/base/alloc.h"
#include "lib/rpc/testdata/echo.pb-c.h"

#include <string.h>
#include <time.h>

/* Sleeps in slices so a cancelled call stops early, as a real handler should. */
static int sleep_or_cancel(struct rpc_call *call, int ms, struct berth_error **err)
{
    for (int slept = 0; slept < ms; slept += 10) {
        enum err_kind why = rpc_call_cancelled(call);
        if (why)
            return err_make_raw(err, why, err_kind_string(why));
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    }
    return 0;
}

static int requested_failure(const Berth__Test__V1__EchoRequest *req, struct berth_error **err)
{
    if (!req->fail_code)
        return 0;
    return err_make_raw(err, err_kind_from_grpc(req->fail_code, req->fail_message),
                        req->fail_message);
}

static void fill_response(struct rpc_call *call, const Berth__Test__V1__EchoRequest *req,
                          Berth__Test__V1__EchoResponse *resp)
{
    resp->message = req->message;
    resp->payload = req->payload;
    if (req->response_size > 0 && req->response_size <= (64 << 20)) {
        resp->payload.len = (size_t)req->response_size;
        resp->payload.data = xcalloc(1, resp->payload.len);
    }
    if (req->metadata_key && req->metadata_key[0]) {
        const char *v = rpc_call_metadata(call, req->metadata_key);
        resp->metadata_value = (char *)(v ? v : "");
    }
}

static void free_generated(const Berth__Test__V1__EchoRequest *req,
                           Berth__Test__V1__EchoResponse *resp)
{
    if (resp->payload.data != req->payload.data)
        free(resp->payload.data);
}

static int unary(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                 struct berth_error **err)
{
    const Berth__Test__V1__EchoRequest *req = (const Berth__Test__V1__EchoRequest *)request;
    if (sleep_or_cancel(call, req->sleep_ms, err) < 0 || requested_failure(req, err) < 0)
        return -1;
    Berth__Test__V1__EchoResponse resp = BERTH__TEST__V1__ECHO_RESPONSE__INIT;
    fill_response(call, req, &resp);
    if (req->metadata_key && req->metadata_key[0]) {
        rpc_call_add_header(call, "echo-header", "h");
        rpc_call_add_trailer(call, "echo-trailer", "t");
    }
    int r = rpc_call_send(call, &resp.base, err);
    free_generated(req, &resp);
    return r;
}

static int client_stream(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                         struct berth_error **err)
{
    Berth__Test__V1__EchoResponse resp = BERTH__TEST__V1__ECHO_RESPONSE__INIT;
    for (;;) {
        ProtobufCMessage *msg;
        int r = rpc_call_recv(call, NULL, &msg, err);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        Berth__Test__V1__EchoRequest *req = (Berth__Test__V1__EchoRequest *)msg;
        resp.total_bytes += (int64_t)req->payload.len;
        resp.count++;
        int fail = requested_failure(req, err);
        protobuf_c_message_free_unpacked(msg, NULL);
        if (fail < 0)
            return -1;
    }
    return rpc_call_send(call, &resp.base, err);
}

static int server_stream(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                         struct berth_error **err)
{
    const Berth__Test__V1__EchoRequest *req = (const Berth__Test__V1__EchoRequest *)request;
    for (int i = 0; i < req->count; i++) {
        if (sleep_or_cancel(call, req->sleep_ms, err) < 0)
            return -1;
        Berth__Test__V1__EchoResponse resp = BERTH__TEST__V1__ECHO_RESPONSE__INIT;
        fill_response(call, req, &resp);
        resp.index = i;
        int r = rpc_call_send(call, &resp.base, err);
        free_generated(req, &resp);
        if (r < 0)
            return -1;
    }
    return requested_failure(req, err);
}

static int bidi(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                struct berth_error **err)
{
    for (int i = 0;; i++) {
        ProtobufCMessage *msg;
        int r = rpc_call_recv(call, NULL, &msg, err);
        if (r <= 0)
            return r;
        Berth__Test__V1__EchoRequest *req = (Berth__Test__V1__EchoRequest *)msg;
        if (requested_failure(req, err) < 0) {
            protobuf_c_message_free_unpacked(msg, NULL);
            return -1;
        }
        Berth__Test__V1__EchoResponse resp = BERTH__TEST__V1__ECHO_RESPONSE__INIT;
        fill_response(call, req, &resp);
        resp.index = i;
        r = rpc_call_send(call, &resp.base, err);
        free_generated(req, &resp);
        protobuf_c_message_free_unpacked(msg, NULL);
        if (r < 0)
            return -1;
    }
}

static const struct rpc_method echo_methods[] = {
    {"Unary", RPC_UNARY, &berth__test__v1__echo_request__descriptor,
     &berth__test__v1__echo_response__descriptor, unary},
    {"ClientStream", RPC_CLIENT_STREAMING, &berth__test__v1__echo_request__descriptor,
     &berth__test__v1__echo_response__descriptor, client_stream},
    {"ServerStream", RPC_SERVER_STREAMING, &berth__test__v1__echo_request__descriptor,
     &berth__test__v1__echo_response__descriptor, server_stream},
    {"Bidi", RPC_BIDI_STREAMING, &berth__test__v1__echo_request__descriptor,
     &berth__test__v1__echo_response__descriptor, bidi},
};

const struct rpc_service echo_service = {
    .name = "berth.test.v1.Echo",
    .methods = echo_methods,
    .n_methods = ARRAY_SIZE(echo_methods),
};
