/*
 * berth-metrics-peer SOCKET MODE: a test-only gRPC peer for `berth tasks metrics` and Debian's
 * `ctr task metrics` side by side. It answers Containers.Get and Tasks.Get (NotFound for the id
 * "notask") and Tasks.Metrics with a canned sample in which every field of the Metrics message
 * is set, so both clients decode and print the same bytes. MODE: v1, v2 (the fields ctr 1.6
 * knows), v2-new (v2 with PSI, max_usage, swap_max_usage and awkward doubles), none (no sample),
 * alien (a sample of an unknown type).
 */
#include "containerd/cgroups/cgroup1/stats/metrics.pb-c.h"
#include "containerd/cgroups/cgroup2/stats/metrics.pb-c.h"
#include "containerd/services/containers/v1/containers.pb-c.h"
#include "containerd/services/tasks/v1/tasks.pb-c.h"
#include "lib/base/alloc.h"
#include "lib/loop/loop.h"
#include "lib/loop/worker_pool.h"
#include "lib/rpc/grpc_server.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *mode;
static uint8_t *sample;
static size_t sample_len;
static const char *sample_type;

/* Doubles whose shortest decimal forms differ from printf's %g. */
static const double awkward[] = {0.25, 1e-7, 1.2345678901234568e20, 100, 1e21, 0.1 + 0.2};
static size_t next_double;
static uint64_t counter;

static bool left_out(const ProtobufCFieldDescriptor *f)
{
    /* fields newer than ctr 1.6's cgroups v2 stats */
    return strcmp(mode, "v2") == 0 &&
           (strcmp(f->name, "psi") == 0 || strcmp(f->name, "max_usage") == 0 ||
            strcmp(f->name, "swap_max_usage") == 0);
}

static void fill(ProtobufCMessage *m);

static void fill_value(const ProtobufCFieldDescriptor *f, void *p)
{
    counter++;
    switch (f->type) {
    case PROTOBUF_C_TYPE_UINT64:
        *(uint64_t *)p = counter * 1000003;
        break;
    case PROTOBUF_C_TYPE_UINT32:
        *(uint32_t *)p = (uint32_t)counter;
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        *(double *)p = awkward[next_double++ % ARRAY_SIZE(awkward)];
        break;
    case PROTOBUF_C_TYPE_STRING:
        *(char **)p = xasprintf("%s-%llu", f->name, (unsigned long long)counter);
        break;
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *d = f->descriptor;
        ProtobufCMessage *sub = xcalloc(1, d->sizeof_message);
        protobuf_c_message_init(d, sub);
        fill(sub);
        *(ProtobufCMessage **)p = sub;
        break;
    }
    default:
        fprintf(stderr, "berth-metrics-peer: no filler for field %s\n", f->name);
        abort();
    }
}

static size_t value_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_UINT32:
        return 4;
    default:
        return sizeof(void *);
    }
}

/* Every field set; repeated fields get two elements. */
static void fill(ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (left_out(f))
            continue;
        char *base = (char *)m;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            char *array = xcalloc(2, value_size(f));
            for (size_t j = 0; j < 2; j++)
                fill_value(f, array + j * value_size(f));
            *(size_t *)(base + f->quantifier_offset) = 2;
            *(char **)(base + f->offset) = array;
        } else {
            fill_value(f, base + f->offset);
        }
    }
}

static void make_sample(void)
{
    const ProtobufCMessageDescriptor *d = NULL;
    if (strcmp(mode, "v1") == 0)
        d = &io__containerd__cgroups__v1__metrics__descriptor;
    else if (strcmp(mode, "v2") == 0 || strcmp(mode, "v2-new") == 0)
        d = &io__containerd__cgroups__v2__metrics__descriptor;
    else if (strcmp(mode, "alien") == 0)
        d = &io__containerd__cgroups__v1__pids_stat__descriptor;
    else
        return;
    ProtobufCMessage *m = xcalloc(1, d->sizeof_message);
    protobuf_c_message_init(d, m);
    fill(m);
    sample_len = protobuf_c_message_get_packed_size(m);
    sample = xmalloc(sample_len + 1);
    protobuf_c_message_pack(m, sample);
    sample_type = d->name;
    protobuf_c_message_free_unpacked(m, NULL);
}

static int containers_get(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                          struct berth_error **err)
{
    const Containerd__Services__Containers__V1__GetContainerRequest *req = (const void *)request;
    Containerd__Services__Containers__V1__Container__Runtime runtime =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
    runtime.name = "io.containerd.runc.v2";
    Containerd__Services__Containers__V1__Container container =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    container.id = req->id;
    container.runtime = &runtime;
    Containerd__Services__Containers__V1__GetContainerResponse resp =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_RESPONSE__INIT;
    resp.container = &container;
    return rpc_call_send(call, &resp.base, err);
}

static int tasks_get(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                     struct berth_error **err)
{
    const Containerd__Services__Tasks__V1__GetRequest *req = (const void *)request;
    if (strcmp(req->container_id, "notask") == 0)
        return err_make(err, ERR_NOT_FOUND, 0, "task %s", req->container_id);
    Containerd__V1__Types__Process process = CONTAINERD__V1__TYPES__PROCESS__INIT;
    process.container_id = req->container_id;
    process.pid = 4242;
    process.status = CONTAINERD__V1__TYPES__STATUS__RUNNING;
    Containerd__Services__Tasks__V1__GetResponse resp =
        CONTAINERD__SERVICES__TASKS__V1__GET_RESPONSE__INIT;
    resp.process = &process;
    return rpc_call_send(call, &resp.base, err);
}

static int tasks_metrics(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                         struct berth_error **err)
{
    const Containerd__Services__Tasks__V1__MetricsRequest *req = (const void *)request;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = (char *)sample_type;
    any.value.data = sample;
    any.value.len = sample_len;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = 1700000000;
    ts.nanos = 120000000;
    Containerd__Types__Metric metric = CONTAINERD__TYPES__METRIC__INIT;
    metric.timestamp = &ts;
    /* the id the client filtered on ("id==<id>"), else a marker the test would notice */
    metric.id = req->n_filters == 1 && strncmp(req->filters[0], "id==", 4) == 0
                    ? req->filters[0] + 4
                    : "unfiltered";
    metric.data = &any;
    Containerd__Types__Metric *metrics[] = {&metric};
    Containerd__Services__Tasks__V1__MetricsResponse resp =
        CONTAINERD__SERVICES__TASKS__V1__METRICS_RESPONSE__INIT;
    resp.metrics = metrics;
    resp.n_metrics = sample ? 1 : 0;
    return rpc_call_send(call, &resp.base, err);
}

static const struct rpc_method containers_methods[] = {
    {"Get", RPC_UNARY, &containerd__services__containers__v1__get_container_request__descriptor,
     &containerd__services__containers__v1__get_container_response__descriptor, containers_get},
};
static const struct rpc_method tasks_methods[] = {
    {"Get", RPC_UNARY, &containerd__services__tasks__v1__get_request__descriptor,
     &containerd__services__tasks__v1__get_response__descriptor, tasks_get},
    {"Metrics", RPC_UNARY, &containerd__services__tasks__v1__metrics_request__descriptor,
     &containerd__services__tasks__v1__metrics_response__descriptor, tasks_metrics},
};
static const struct rpc_service services[] = {
    {"containerd.services.containers.v1.Containers", containers_methods,
     ARRAY_SIZE(containers_methods), NULL},
    {"containerd.services.tasks.v1.Tasks", tasks_methods, ARRAY_SIZE(tasks_methods), NULL},
};

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s SOCKET v1|v2|v2-new|none|alien\n", argv[0]);
        return 2;
    }
    mode = argv[2];
    make_sample();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct loop *loop = loop_new();
    loop_start_thread(loop);
    struct worker_pool *pool = worker_pool_new(1, 4);
    struct rpc_registry *registry = rpc_registry_new();
    for (size_t i = 0; i < ARRAY_SIZE(services); i++)
        rpc_registry_add(registry, &services[i]);
    struct grpc_server *server = grpc_server_new(loop, registry, pool, NULL);
    _cleanup_error_ struct berth_error *err = NULL;
    if (grpc_server_listen_unix(server, argv[1], 0600, (uid_t)-1, (gid_t)-1, &err) < 0) {
        fprintf(stderr, "berth-metrics-peer: %s\n", err->message);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    grpc_server_shutdown(server, 1000000000LL);
    worker_pool_free(pool);
    grpc_server_free(server);
    loop_free(loop);
    rpc_registry_free(registry);
    free(sample);
    return 0;
}
