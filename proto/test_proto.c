/* Unit tests for the generated API code: wire bytes, round trips, contract names. */
#include "containerd/events/image.pb-c.h"
#include "containerd/events/task.pb-c.h"
#include "containerd/runtime/sandbox/v1/sandbox.pb-c.h"
#include "containerd/runtime/task/v2/shim.pb-c.h"
#include "containerd/runtime/task/v3/shim.pb-c.h"
#include "containerd/services/containers/v1/containers.pb-c.h"
#include "containerd/services/content/v1/content.pb-c.h"
#include "containerd/services/diff/v1/diff.pb-c.h"
#include "containerd/services/events/v1/events.pb-c.h"
#include "containerd/services/images/v1/images.pb-c.h"
#include "containerd/services/introspection/v1/introspection.pb-c.h"
#include "containerd/services/leases/v1/leases.pb-c.h"
#include "containerd/services/namespaces/v1/namespace.pb-c.h"
#include "containerd/services/sandbox/v1/sandbox.pb-c.h"
#include "containerd/services/snapshots/v1/snapshots.pb-c.h"
#include "containerd/services/streaming/v1/streaming.pb-c.h"
#include "containerd/services/tasks/v1/tasks.pb-c.h"
#include "containerd/services/transfer/v1/transfer.pb-c.h"
#include "containerd/services/ttrpc/events/v1/events.pb-c.h"
#include "containerd/services/version/v1/version.pb-c.h"
#include "containerd/types/descriptor.pb-c.h"
#include "containerd/types/event.pb-c.h"
#include "containerd/types/runc/options/oci.pb-c.h"
#include "containerd/types/runtimeoptions/v1/api.pb-c.h"
#include "containerd/types/transfer/registry.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "ttrpc/request.pb-c.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* Packs msg and checks the bytes against a hand-encoded expectation. */
static void assert_packed(const ProtobufCMessage *msg, const uint8_t *want, size_t want_len)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    assert_int_equal(len, want_len);
    uint8_t *buf = malloc(len + 1);
    assert_non_null(buf);
    assert_int_equal(protobuf_c_message_pack(msg, buf), want_len);
    assert_memory_equal(buf, want, want_len);
    free(buf);
}

/* Packs msg into a fresh buffer; the caller frees it. */
static uint8_t *pack(const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(*len + 1);
    assert_non_null(buf);
    assert_int_equal(protobuf_c_message_pack(msg, buf), *len);
    return buf;
}

static void test_version_response_wire(void **state)
{
    Containerd__Services__Version__V1__VersionResponse resp =
        CONTAINERD__SERVICES__VERSION__V1__VERSION_RESPONSE__INIT;
    resp.version = "v";
    resp.revision = "r";
    static const uint8_t want[] = {0x0a, 0x01, 'v', 0x12, 0x01, 'r'};
    assert_packed(&resp.base, want, sizeof(want));

    Containerd__Services__Version__V1__VersionResponse *back =
        containerd__services__version__v1__version_response__unpack(NULL, sizeof(want), want);
    assert_non_null(back);
    assert_string_equal(back->version, "v");
    assert_string_equal(back->revision, "r");
    containerd__services__version__v1__version_response__free_unpacked(back, NULL);

    /* google.protobuf.Empty, the request, is zero bytes */
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    assert_int_equal(protobuf_c_message_get_packed_size(&empty.base), 0);
}

static void test_descriptor_wire(void **state)
{
    Containerd__Types__Descriptor__AnnotationsEntry ann =
        CONTAINERD__TYPES__DESCRIPTOR__ANNOTATIONS_ENTRY__INIT;
    ann.key = "k";
    ann.value = "v";
    Containerd__Types__Descriptor__AnnotationsEntry *anns[] = {&ann};
    Containerd__Types__Descriptor desc = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    desc.media_type = "m";
    desc.digest = "d";
    desc.size = 3;
    desc.n_annotations = 1;
    desc.annotations = anns;
    /* annotations is field 5 (4 is unused): tag 0x2a */
    static const uint8_t want[] = {0x0a, 0x01, 'm',  0x12, 0x01, 'd',  0x18, 0x03,
                                   0x2a, 0x06, 0x0a, 0x01, 'k',  0x12, 0x01, 'v'};
    assert_packed(&desc.base, want, sizeof(want));
}

static void test_ttrpc_request_wire(void **state)
{
    Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT;
    kv.key = "k";
    kv.value = "v";
    Ttrpc__KeyValue *md[] = {&kv};
    static uint8_t payload[] = {0x01, 0x02};
    Ttrpc__Request req = TTRPC__REQUEST__INIT;
    req.service = "s";
    req.method = "m";
    req.payload.data = payload;
    req.payload.len = sizeof(payload);
    req.timeout_nano = 1;
    req.n_metadata = 1;
    req.metadata = md;
    static const uint8_t want[] = {0x0a, 0x01, 's',  0x12, 0x01, 'm',  0x1a, 0x02, 0x01, 0x02,
                                   0x20, 0x01, 0x2a, 0x06, 0x0a, 0x01, 'k',  0x12, 0x01, 'v'};
    assert_packed(&req.base, want, sizeof(want));

    Ttrpc__Request *back = ttrpc__request__unpack(NULL, sizeof(want), want);
    assert_non_null(back);
    assert_string_equal(back->service, "s");
    assert_int_equal(back->payload.len, 2);
    assert_int_equal(back->timeout_nano, 1);
    assert_int_equal(back->n_metadata, 1);
    assert_string_equal(back->metadata[0]->key, "k");
    assert_string_equal(back->metadata[0]->value, "v");
    ttrpc__request__free_unpacked(back, NULL);

    /* Response{status{code=5, message="x"}} */
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    st.code = 5;
    st.message = "x";
    Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
    resp.status = &st;
    static const uint8_t want_resp[] = {0x0a, 0x05, 0x08, 0x05, 0x12, 0x01, 'x'};
    assert_packed(&resp.base, want_resp, sizeof(want_resp));
}

static void test_health_wire(void **state)
{
    Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    assert_int_equal(protobuf_c_message_get_packed_size(&resp.base), 0);
    resp.status = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    static const uint8_t want[] = {0x08, 0x01};
    assert_packed(&resp.base, want, sizeof(want));
}

static void test_timestamp_wire(void **state)
{
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = 1;
    ts.nanos = 2;
    Containerd__Task__V3__WaitResponse resp = CONTAINERD__TASK__V3__WAIT_RESPONSE__INIT;
    resp.exit_status = 137;
    resp.exited_at = &ts;
    static const uint8_t want[] = {0x08, 0x89, 0x01, 0x12, 0x04, 0x08, 0x01, 0x10, 0x02};
    assert_packed(&resp.base, want, sizeof(want));
}

static void test_image_delete_target_presence(void **state)
{
    /* containerd marks target proto3 optional: unset and empty must differ on the wire */
    Containerd__Services__Images__V1__DeleteImageRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__DELETE_IMAGE_REQUEST__INIT;
    req.name = "a";
    static const uint8_t want_unset[] = {0x0a, 0x01, 'a'};
    assert_packed(&req.base, want_unset, sizeof(want_unset));

    Containerd__Types__Descriptor target = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    req.target = &target;
    req.sync = 1;
    static const uint8_t want_set[] = {0x0a, 0x01, 'a', 0x10, 0x01, 0x1a, 0x00};
    assert_packed(&req.base, want_set, sizeof(want_set));

    Containerd__Services__Images__V1__DeleteImageRequest *back =
        containerd__services__images__v1__delete_image_request__unpack(NULL, sizeof(want_set),
                                                                       want_set);
    assert_non_null(back);
    assert_non_null(back->target);
    assert_true(back->sync);
    containerd__services__images__v1__delete_image_request__free_unpacked(back, NULL);
}

static void test_content_write_roundtrip(void **state)
{
    /* a Descriptor carried as the written bytes, as a manifest-sized blob would be */
    Containerd__Types__Descriptor desc = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    desc.media_type = "application/vnd.oci.image.manifest.v1+json";
    desc.digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    desc.size = 1234;
    size_t desc_len;
    uint8_t *desc_buf = pack(&desc.base, &desc_len);

    Containerd__Services__Content__V1__WriteContentRequest__LabelsEntry label =
        CONTAINERD__SERVICES__CONTENT__V1__WRITE_CONTENT_REQUEST__LABELS_ENTRY__INIT;
    label.key = "containerd.io/gc.root";
    label.value = "2024-01-01T00:00:00Z";
    Containerd__Services__Content__V1__WriteContentRequest__LabelsEntry *labels[] = {&label};

    Containerd__Services__Content__V1__WriteContentRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__WRITE_CONTENT_REQUEST__INIT;
    req.action = CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT;
    req.ref = "ref-1";
    req.total = (int64_t)desc_len;
    req.expected = desc.digest;
    req.offset = 0;
    req.data.data = desc_buf;
    req.data.len = desc_len;
    req.n_labels = 1;
    req.labels = labels;

    size_t len;
    uint8_t *buf = pack(&req.base, &len);
    /* action=COMMIT (field 1, value 2), then ref (field 2) */
    static const uint8_t head[] = {0x08, 0x02, 0x12, 0x05, 'r', 'e', 'f', '-', '1'};
    assert_memory_equal(buf, head, sizeof(head));

    Containerd__Services__Content__V1__WriteContentRequest *back =
        containerd__services__content__v1__write_content_request__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_int_equal(back->action, CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT);
    assert_string_equal(back->ref, "ref-1");
    assert_int_equal(back->total, desc_len);
    assert_string_equal(back->expected, desc.digest);
    assert_int_equal(back->n_labels, 1);
    assert_string_equal(back->labels[0]->key, "containerd.io/gc.root");
    assert_string_equal(back->labels[0]->value, "2024-01-01T00:00:00Z");

    Containerd__Types__Descriptor *inner =
        containerd__types__descriptor__unpack(NULL, back->data.len, back->data.data);
    assert_non_null(inner);
    assert_string_equal(inner->media_type, desc.media_type);
    assert_string_equal(inner->digest, desc.digest);
    assert_int_equal(inner->size, 1234);
    containerd__types__descriptor__free_unpacked(inner, NULL);

    containerd__services__content__v1__write_content_request__free_unpacked(back, NULL);
    free(buf);
    free(desc_buf);
}

static void test_task_v3_create_roundtrip(void **state)
{
    Containerd__Runc__V1__Options opts = CONTAINERD__RUNC__V1__OPTIONS__INIT;
    opts.binary_name = "runc";
    opts.systemd_cgroup = 1;
    opts.task_api_version = 3;
    size_t opts_len;
    uint8_t *opts_buf = pack(&opts.base, &opts_len);

    /* typeurl uses the bare full message name as the Any type URL */
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = (char *)containerd__runc__v1__options__descriptor.name;
    any.value.data = opts_buf;
    any.value.len = opts_len;

    char *overlay_opts[] = {"lowerdir=/l1:/l2", "upperdir=/u", "workdir=/w"};
    Containerd__Types__Mount overlay = CONTAINERD__TYPES__MOUNT__INIT;
    overlay.type = "overlay";
    overlay.source = "overlay";
    overlay.n_options = 3;
    overlay.options = overlay_opts;
    char *bind_opts[] = {"rbind", "ro"};
    Containerd__Types__Mount bind = CONTAINERD__TYPES__MOUNT__INIT;
    bind.type = "bind";
    bind.source = "/src";
    bind.target = "/dst";
    bind.n_options = 2;
    bind.options = bind_opts;
    Containerd__Types__Mount *rootfs[] = {&overlay, &bind};

    Containerd__Task__V3__CreateTaskRequest req = CONTAINERD__TASK__V3__CREATE_TASK_REQUEST__INIT;
    req.id = "c1";
    req.bundle = "/run/berth/io.containerd.runtime.v2.task/default/c1";
    req.n_rootfs = 2;
    req.rootfs = rootfs;
    req.stdout = "/tmp/out";
    req.options = &any;

    size_t len;
    uint8_t *buf = pack(&req.base, &len);
    static const uint8_t head[] = {0x0a, 0x02, 'c', '1', 0x12};
    assert_memory_equal(buf, head, sizeof(head));

    /* the v2 and v3 messages are the same on the wire */
    Containerd__Task__V2__CreateTaskRequest *v2 =
        containerd__task__v2__create_task_request__unpack(NULL, len, buf);
    assert_non_null(v2);
    assert_string_equal(v2->id, "c1");
    assert_int_equal(v2->n_rootfs, 2);
    containerd__task__v2__create_task_request__free_unpacked(v2, NULL);

    Containerd__Task__V3__CreateTaskRequest *back =
        containerd__task__v3__create_task_request__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_string_equal(back->bundle, req.bundle);
    assert_int_equal(back->n_rootfs, 2);
    assert_string_equal(back->rootfs[0]->type, "overlay");
    assert_int_equal(back->rootfs[0]->n_options, 3);
    assert_string_equal(back->rootfs[0]->options[2], "workdir=/w");
    assert_string_equal(back->rootfs[1]->target, "/dst");
    assert_string_equal(back->rootfs[1]->options[1], "ro");
    assert_string_equal(back->stdout, "/tmp/out");
    assert_string_equal(back->stdin, "");
    assert_false(back->terminal);
    assert_non_null(back->options);
    assert_string_equal(back->options->type_url, "containerd.runc.v1.Options");

    Containerd__Runc__V1__Options *inner = containerd__runc__v1__options__unpack(
        NULL, back->options->value.len, back->options->value.data);
    assert_non_null(inner);
    assert_string_equal(inner->binary_name, "runc");
    assert_true(inner->systemd_cgroup);
    assert_int_equal(inner->task_api_version, 3);
    containerd__runc__v1__options__free_unpacked(inner, NULL);

    containerd__task__v3__create_task_request__free_unpacked(back, NULL);
    free(buf);
    free(opts_buf);
}

/* Full names of messages that travel inside Any: their type URLs. */
static void test_type_names(void **state)
{
    static const struct {
        const ProtobufCMessageDescriptor *desc;
        const char *name;
    } cases[] = {
        {&containerd__events__task_exit__descriptor, "containerd.events.TaskExit"},
        {&containerd__events__task_create__descriptor, "containerd.events.TaskCreate"},
        {&containerd__services__images__v1__image_create__descriptor,
         "containerd.services.images.v1.ImageCreate"},
        {&containerd__types__envelope__descriptor, "containerd.types.Envelope"},
        {&containerd__runc__v1__options__descriptor, "containerd.runc.v1.Options"},
        {&containerd__runc__v1__process_details__descriptor, "containerd.runc.v1.ProcessDetails"},
        {&runtimeoptions__v1__options__descriptor, "runtimeoptions.v1.Options"},
        {&containerd__types__transfer__ociregistry__descriptor,
         "containerd.types.transfer.OCIRegistry"},
        {&containerd__services__streaming__v1__stream_init__descriptor,
         "containerd.services.streaming.v1.StreamInit"},
        {&ttrpc__request__descriptor, "ttrpc.Request"},
        {&google__rpc__status__descriptor, "google.rpc.Status"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(cases[i].desc->name, cases[i].name);
}

/* Every service and method name, in order (inventory appendix A). */
static void test_service_names(void **state)
{
    static const struct {
        const ProtobufCServiceDescriptor *desc;
        const char *name;
        const char *methods;
    } cases[] = {
        {&containerd__services__containers__v1__containers__descriptor,
         "containerd.services.containers.v1.Containers",
         "Get List ListStream Create Update Delete"},
        {&containerd__services__content__v1__content__descriptor,
         "containerd.services.content.v1.Content",
         "Info Update List Delete Read Status ListStatuses Write Abort"},
        {&containerd__services__diff__v1__diff__descriptor, "containerd.services.diff.v1.Diff",
         "Apply Diff"},
        {&containerd__services__events__v1__events__descriptor,
         "containerd.services.events.v1.Events", "Publish Forward Subscribe"},
        {&containerd__services__events__ttrpc__v1__events__descriptor,
         "containerd.services.events.ttrpc.v1.Events", "Forward"},
        {&containerd__services__images__v1__images__descriptor,
         "containerd.services.images.v1.Images", "Get List Create Update Delete"},
        {&containerd__services__introspection__v1__introspection__descriptor,
         "containerd.services.introspection.v1.Introspection", "Plugins Server PluginInfo"},
        {&containerd__services__leases__v1__leases__descriptor,
         "containerd.services.leases.v1.Leases",
         "Create Delete List AddResource DeleteResource ListResources"},
        {&containerd__services__namespaces__v1__namespaces__descriptor,
         "containerd.services.namespaces.v1.Namespaces", "Get List Create Update Delete"},
        {&containerd__services__sandbox__v1__store__descriptor,
         "containerd.services.sandbox.v1.Store", "Create Update Delete List Get"},
        {&containerd__services__sandbox__v1__controller__descriptor,
         "containerd.services.sandbox.v1.Controller",
         "Create Start Platform Stop Wait Status Shutdown Metrics Update"},
        {&containerd__services__snapshots__v1__snapshots__descriptor,
         "containerd.services.snapshots.v1.Snapshots",
         "Prepare View Mounts Commit Remove Stat Update List Usage Cleanup"},
        {&containerd__services__streaming__v1__streaming__descriptor,
         "containerd.services.streaming.v1.Streaming", "Stream"},
        {&containerd__services__tasks__v1__tasks__descriptor, "containerd.services.tasks.v1.Tasks",
         "Create Start Delete DeleteProcess Get List Kill Exec ResizePty CloseIO Pause Resume "
         "ListPids Checkpoint Update Metrics Wait"},
        {&containerd__services__transfer__v1__transfer__descriptor,
         "containerd.services.transfer.v1.Transfer", "Transfer"},
        {&containerd__services__version__v1__version__descriptor,
         "containerd.services.version.v1.Version", "Version"},
        {&containerd__task__v2__task__descriptor, "containerd.task.v2.Task",
         "State Create Start Delete Pids Pause Resume Checkpoint Kill Exec ResizePty CloseIO "
         "Update Wait Stats Connect Shutdown"},
        {&containerd__task__v3__task__descriptor, "containerd.task.v3.Task",
         "State Create Start Delete Pids Pause Resume Checkpoint Kill Exec ResizePty CloseIO "
         "Update Wait Stats Connect Shutdown"},
        {&containerd__runtime__sandbox__v1__sandbox__descriptor,
         "containerd.runtime.sandbox.v1.Sandbox",
         "CreateSandbox StartSandbox Platform StopSandbox WaitSandbox SandboxStatus PingSandbox "
         "ShutdownSandbox SandboxMetrics"},
        {&grpc__health__v1__health__descriptor, "grpc.health.v1.Health", "Check Watch"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const ProtobufCServiceDescriptor *d = cases[i].desc;
        assert_string_equal(d->name, cases[i].name);
        char joined[512] = "";
        for (unsigned m = 0; m < d->n_methods; m++) {
            if (m > 0)
                strcat(joined, " ");
            strcat(joined, d->methods[m].name);
        }
        assert_string_equal(joined, cases[i].methods);
    }
    /* request/response types of a couple of methods */
    assert_ptr_equal(containerd__services__content__v1__content__descriptor.methods[7].input,
                     &containerd__services__content__v1__write_content_request__descriptor);
    assert_ptr_equal(containerd__services__events__v1__events__descriptor.methods[2].output,
                     &containerd__types__envelope__descriptor);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_response_wire),
        cmocka_unit_test(test_descriptor_wire),
        cmocka_unit_test(test_ttrpc_request_wire),
        cmocka_unit_test(test_health_wire),
        cmocka_unit_test(test_timestamp_wire),
        cmocka_unit_test(test_image_delete_target_presence),
        cmocka_unit_test(test_content_write_roundtrip),
        cmocka_unit_test(test_task_v3_create_roundtrip),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_service_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
