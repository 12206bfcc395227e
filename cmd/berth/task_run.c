/* A container's task from creation to deletion, as ctr's NewTask/Start/Wait/Delete do it. */
#include "cmd/berth/task_io.h"
#include "cmd/berth/tasks.h"
#include "cmd/berth/unpack.h"
#include "core/diff/mounts.h"
#include "lib/base/alloc.h"

#include "containerd/services/containers/v1/containers.pb-c.h"
#include "containerd/services/snapshots/v1/snapshots.pb-c.h"
#include "containerd/services/tasks/v1/tasks.pb-c.h"
#include "containerd/types/runc/options/oci.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define TASKS      "containerd.services.tasks.v1.Tasks"
#define CONTAINERS "containerd.services.containers.v1.Containers"
#define SNAPSHOTS  "containerd.services.snapshots.v1.Snapshots"
#define T(x)       containerd__services__tasks__v1__##x
#define TINIT(x)   CONTAINERD__SERVICES__TASKS__V1__##x##__INIT

typedef Containerd__Services__Containers__V1__Container PbContainer;

static ProtobufCMessage *snapshot_mounts(struct cli *cli, const char *snapshotter, const char *key,
                                         Containerd__Types__Mount ***ret, size_t *ret_n,
                                         struct berth_error **err)
{
    Containerd__Services__Snapshots__V1__MountsRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__MOUNTS_REQUEST__INIT;
    req.snapshotter = (char *)snapshotter;
    req.key = (char *)key;
    Containerd__Services__Snapshots__V1__MountsResponse *resp = NULL;
    if (unpack_call(cli, NULL, SNAPSHOTS, "Mounts", &req.base,
                    &containerd__services__snapshots__v1__mounts_response__descriptor,
                    (ProtobufCMessage **)&resp, err) < 0)
        return NULL;
    *ret = resp->mounts;
    *ret_n = resp->n_mounts;
    return &resp->base;
}

int tasks_open_rootfs(struct cli *cli, const char *snapshotter, const char *key,
                      struct berth_error **err)
{
    Containerd__Types__Mount **mounts = NULL;
    size_t n = 0;
    ProtobufCMessage *resp = snapshot_mounts(cli, snapshotter, key, &mounts, &n, err);
    if (!resp)
        return -1;
    /* mount.WithReadonlyTempMount: the same mounts with "ro" added */
    struct diff_mount *dm = xcalloc(n + 1, sizeof(*dm));
    char ***options = xcalloc(n + 1, sizeof(*options));
    for (size_t i = 0; i < n; i++) {
        options[i] = xcalloc(mounts[i]->n_options + 2, sizeof(char *));
        size_t k = 0;
        for (size_t j = 0; j < mounts[i]->n_options; j++)
            if (strcmp(mounts[i]->options[j], "rw") != 0)
                options[i][k++] = mounts[i]->options[j];
        options[i][k++] = (char *)"ro";
        dm[i] = (struct diff_mount){.type = mounts[i]->type,
                                    .source = mounts[i]->source,
                                    .target = mounts[i]->target,
                                    .options = (const char *const *)options[i],
                                    .n_options = k};
    }
    char dir[] = "/tmp/berth-rootfs.XXXXXX";
    int fd = -1;
    if (!mkdtemp(dir)) {
        err_make(err, ERR_UNKNOWN, errno, "create a temporary mount point");
    } else {
        if (diff_mounts_mount(dm, n, dir, err) == 0) {
            fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0)
                err_make(err, ERR_UNKNOWN, errno, "open %s", dir);
            /* the open directory keeps the mount alive; nothing stays visible */
            struct berth_error *ignored = NULL;
            if (diff_mounts_unmount(dm, n, dir, &ignored) < 0) {
                err_free(ignored);
                umount2(dir, MNT_DETACH);
            }
        }
        rmdir(dir);
    }
    for (size_t i = 0; i < n; i++)
        free(options[i]);
    free(options);
    free(dm);
    protobuf_c_message_free_unpacked(resp, NULL);
    return fd;
}

static int tasks_call(struct cli *cli, const char *method, const ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *desc, ProtobufCMessage **ret,
                      struct berth_error **err)
{
    struct rpc_call_options opts = cli_call_options(cli);
    ProtobufCMessage *resp = NULL;
    if (rpc_channel_unary(cli_channel(cli), TASKS, method, req, desc, &resp, &opts, err) < 0)
        return -1;
    if (ret)
        *ret = resp;
    else
        protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

struct waiter {
    struct cli *cli;
    const char *id;
    pthread_t thread;
    int rc;
    uint32_t status;
    struct berth_error *err;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;
    Containerd__Services__Tasks__V1__WaitRequest req = TINIT(WAIT_REQUEST);
    req.container_id = (char *)w->id;
    Containerd__Services__Tasks__V1__WaitResponse *resp = NULL;
    /* a task's wait has no deadline of its own, as ctr's */
    struct rpc_call_options opts = {.metadata = &w->cli->metadata};
    w->rc = rpc_channel_unary(cli_channel(w->cli), TASKS, "Wait", &req.base,
                              &T(wait_response__descriptor), (ProtobufCMessage **)&resp, &opts,
                              &w->err);
    if (w->rc == 0) {
        w->status = resp->exit_status;
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    return NULL;
}

/* Tasks/Delete; with kill, the process is SIGKILLed and waited for first (WithProcessKill). */
static int task_delete(struct cli *cli, const char *id, bool kill, uint32_t *ret_status,
                       struct berth_error **err)
{
    if (kill) {
        Containerd__Services__Tasks__V1__KillRequest k = TINIT(KILL_REQUEST);
        k.container_id = (char *)id;
        k.signal = 9;
        k.all = true;
        struct berth_error *ignored = NULL;
        if (tasks_call(cli, "Kill", &k.base, &google__protobuf__empty__descriptor, NULL, &ignored) <
            0)
            err_free(ignored);
        else {
            struct waiter w = {.cli = cli, .id = id};
            wait_thread(&w);
            err_free(w.err);
        }
    }
    Containerd__Services__Tasks__V1__DeleteTaskRequest req = TINIT(DELETE_TASK_REQUEST);
    req.container_id = (char *)id;
    Containerd__Services__Tasks__V1__DeleteResponse *resp = NULL;
    if (tasks_call(cli, "Delete", &req.base, &T(delete_response__descriptor),
                   (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    if (ret_status)
        *ret_status = resp->exit_status;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

static bool spec_terminal(const PbContainer *c)
{
    if (!c->spec || c->spec->value.len == 0)
        return false;
    struct json_tokener *tok = json_tokener_new_ex(64);
    struct json_object *doc =
        json_tokener_parse_ex(tok, (const char *)c->spec->value.data, (int)c->spec->value.len);
    json_tokener_free(tok);
    struct json_object *process = NULL, *terminal = NULL;
    bool t = doc && json_object_object_get_ex(doc, "process", &process) &&
             json_object_object_get_ex(process, "terminal", &terminal) &&
             json_object_get_boolean(terminal);
    json_object_put(doc);
    return t;
}

static int write_pid_file(const char *path, uint32_t pid, struct berth_error **err)
{
    _cleanup_free_ char *tmp = xasprintf("%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "we");
    if (!f)
        return err_make(err, ERR_UNKNOWN, errno, "open %s", tmp);
    fprintf(f, "%u", pid);
    if (fclose(f) != 0 || rename(tmp, path) < 0) {
        int saved = errno;
        unlink(tmp);
        return err_make(err, ERR_UNKNOWN, saved, "write %s", path);
    }
    return 0;
}

int tasks_run(struct cli *cli, const char *id, const struct task_start_options *o,
              struct berth_error **err)
{
    Containerd__Services__Containers__V1__GetContainerRequest get =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
    get.id = (char *)id;
    Containerd__Services__Containers__V1__GetContainerResponse *got = NULL;
    if (unpack_call(cli, NULL, CONTAINERS, "Get", &get.base,
                    &containerd__services__containers__v1__get_container_response__descriptor,
                    (ProtobufCMessage **)&got, err) < 0)
        return -1;
    PbContainer *c = got->container;
    bool terminal = c && spec_terminal(c);
    int rc = -1;
    struct task_io *io = NULL;
    ProtobufCMessage *mounts_resp = NULL;
    Containerd__Types__Mount **mounts = NULL;
    size_t n_mounts = 0;
    if (!c) {
        err_make(err, ERR_NOT_FOUND, 0, "container \"%s\": not found", id);
        goto out;
    }
    if (terminal) {
        if (o->null_io) {
            err_make(err, ERR_INVALID_ARGUMENT, 0, "tty and null-io cannot be used together");
            goto out;
        }
        if (task_io_terminal_raw(err) < 0)
            goto out;
        if (task_io_new_fifos(o->fifo_dir, id, true, &io, err) < 0)
            goto out;
    } else if (o->null_io) {
        io = task_io_new_null();
    } else if (o->log_uri && *o->log_uri) {
        io = task_io_new_log_uri(o->log_uri);
    } else if (task_io_new_fifos(o->fifo_dir, id, false, &io, err) < 0) {
        goto out;
    }
    if (c->snapshot_key[0]) {
        if (!c->snapshotter[0]) {
            err_make(err, ERR_INVALID_ARGUMENT, 0,
                     "unable to resolve rootfs mounts without snapshotter on container");
            goto out;
        }
        mounts_resp =
            snapshot_mounts(cli, c->snapshotter, c->snapshot_key, &mounts, &n_mounts, err);
        if (!mounts_resp)
            goto out;
    }
    task_io_start(io, cli, id, NULL);

    Containerd__Services__Tasks__V1__CreateTaskRequest req = TINIT(CREATE_TASK_REQUEST);
    req.container_id = (char *)id;
    req.rootfs = mounts;
    req.n_rootfs = n_mounts;
    req.stdin = (char *)task_io_stdin(io);
    req.stdout = (char *)task_io_stdout(io);
    req.stderr = (char *)task_io_stderr(io);
    req.terminal = terminal;
    Containerd__Runc__V1__Options runc = CONTAINERD__RUNC__V1__OPTIONS__INIT;
    Google__Protobuf__Any options = GOOGLE__PROTOBUF__ANY__INIT;
    uint8_t packed[16];
    if (o->no_pivot) { /* WithNoPivotRoot */
        runc.no_pivot_root = true;
        options.type_url = (char *)"containerd.runc.v1.Options";
        options.value.len = protobuf_c_message_pack(&runc.base, packed);
        options.value.data = packed;
        req.options = &options;
    }
    Containerd__Services__Tasks__V1__CreateTaskResponse *created = NULL;
    if (tasks_call(cli, "Create", &req.base, &T(create_task_response__descriptor),
                   (ProtobufCMessage **)&created, err) < 0) {
        task_io_cancel(io);
        goto out;
    }
    uint32_t pid = created->pid;
    protobuf_c_message_free_unpacked(&created->base, NULL);
    task_io_process_created(io);

    struct waiter w = {.cli = cli, .id = id};
    bool waiting = false;
    if (!o->detach) {
        waiting = pthread_create(&w.thread, NULL, wait_thread, &w) == 0;
        if (!waiting) {
            err_make(err, ERR_UNKNOWN, 0, "cannot start a thread");
            goto fail_delete;
        }
    }
    if (o->pid_file && *o->pid_file && write_pid_file(o->pid_file, pid, err) < 0)
        goto fail_delete;
    Containerd__Services__Tasks__V1__StartRequest start = TINIT(START_REQUEST);
    start.container_id = (char *)id;
    if (tasks_call(cli, "Start", &start.base, &T(start_response__descriptor), NULL, err) < 0)
        goto fail_delete;
    if (o->detach) {
        task_io_detach(io); /* the FIFOs stay for tasks attach; tasks delete removes them */
        io = NULL;
        rc = 0;
        goto out;
    }
    task_signals_start(cli, id, NULL, terminal);
    pthread_join(w.thread, NULL);
    waiting = false;
    if (w.rc < 0) {
        *err = w.err;
        goto fail_delete;
    }
    task_io_wait(io);
    uint32_t status = 0;
    if (task_delete(cli, id, false, &status, err) < 0)
        goto out;
    task_io_free(io, true);
    io = NULL;
    rc = (int)w.status;
    goto out;

fail_delete : {
    struct berth_error *ignored = NULL;
    if (task_delete(cli, id, true, NULL, &ignored) < 0)
        err_free(ignored);
    if (waiting) {
        pthread_join(w.thread, NULL);
        err_free(w.err);
    }
    task_io_cancel(io);
}
out:
    if (io)
        task_io_free(io, !o->detach || rc < 0);
    if (mounts_resp)
        protobuf_c_message_free_unpacked(mounts_resp, NULL);
    protobuf_c_message_free_unpacked(&got->base, NULL);
    return rc;
}
