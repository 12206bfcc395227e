/*
 * cgroups-ctr-peer SOCKET PID: a test-only gRPC peer for Debian's real `ctr task metrics`. It
 * answers Containers.Get and Tasks.Get for any id with a running task of PID, and Tasks.Metrics
 * with PID's cgroup Metrics from core/cgroups in an Any, so ctr decodes our bytes itself.
 */
#include "containerd/services/containers/v1/containers.pb-c.h"
#include "containerd/services/tasks/v1/tasks.pb-c.h"
#include "core/cgroups/cgroups.h"
#include "lib/base/alloc.h"
#include "lib/loop/loop.h"
#include "lib/loop/worker_pool.h"
#include "lib/rpc/grpc_server.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pid_t task_pid;

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
    Containerd__V1__Types__Process process = CONTAINERD__V1__TYPES__PROCESS__INIT;
    process.container_id = req->container_id;
    process.pid = (uint32_t)task_pid;
    process.status = CONTAINERD__V1__TYPES__STATUS__RUNNING;
    Containerd__Services__Tasks__V1__GetResponse resp =
        CONTAINERD__SERVICES__TASKS__V1__GET_RESPONSE__INIT;
    resp.process = &process;
    return rpc_call_send(call, &resp.base, err);
}

static int tasks_metrics(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                         struct berth_error **err)
{
    _cleanup_cgroup_ struct cgroup *cg = NULL;
    ProtobufCMessage *stats = NULL;
    if (cgroups_open_pid(NULL, cgroups_mode_detect(NULL), task_pid, &cg, err) < 0 ||
        cgroups_stats(cg, &stats, err) < 0)
        return -1;
    size_t len = protobuf_c_message_get_packed_size(stats);
    _cleanup_free_ uint8_t *bytes = xmalloc(len + 1);
    protobuf_c_message_pack(stats, bytes);

    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = (char *)stats->descriptor->name;
    any.value.data = bytes;
    any.value.len = len;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = now.tv_sec;
    ts.nanos = (int32_t)now.tv_nsec;
    Containerd__Types__Metric metric = CONTAINERD__TYPES__METRIC__INIT;
    metric.timestamp = &ts;
    metric.id = "peer";
    metric.data = &any;
    Containerd__Types__Metric *metrics[] = {&metric};
    Containerd__Services__Tasks__V1__MetricsResponse resp =
        CONTAINERD__SERVICES__TASKS__V1__METRICS_RESPONSE__INIT;
    resp.metrics = metrics;
    resp.n_metrics = 1;
    int r = rpc_call_send(call, &resp.base, err);
    cgroups_metrics_free(stats);
    return r;
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
        fprintf(stderr, "usage: %s SOCKET PID\n", argv[0]);
        return 2;
    }
    task_pid = (pid_t)atoi(argv[2]);
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
        fprintf(stderr, "cgroups-ctr-peer: %s\n", err->message);
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
    return 0;
}
