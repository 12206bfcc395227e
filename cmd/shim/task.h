/* Shared by the task service's files (task.c, task_ops.c, cgroup.c): replies and lookups. */
#pragma once

#include "cmd/shim/shim.h"
#include "proto/containerd/runtime/task/v3/shim.pb-c.h"
#include "proto/google/protobuf/timestamp.pb-c.h"

#define T(x) Containerd__Task__V3__##x

Google__Protobuf__Timestamp *ts_of(Google__Protobuf__Timestamp *ts, const struct timespec *t);
int send_reply(struct rpc_call *call, const ProtobufCMessage *m, struct berth_error **err);
int reply_empty(struct rpc_call *call, struct berth_error **err);
/* Finishes a deferred call with its reply or error and drops our reference. */
void finish(struct rpc_call *call, const ProtobufCMessage *m, const struct berth_error *e);
void finish_empty(struct rpc_call *call, const struct berth_error *e);

struct container *container_find(const char *id);
/* NotFound "container not created" when there is none. */
int get_container(const char *id, struct container **ret, struct berth_error **err);
struct process *exec_find(struct container *c, const char *exec_id);
/* The init process for an empty exec id, else the exec (NotFound). */
int get_process(struct container *c, const char *exec_id, struct process **ret,
                struct berth_error **err);
/* A runc completion that only logs. */
void runc_ignore(void *arg, const char *out, size_t len, const struct berth_error *e);

/* ---- handlers (task_ops.c, cgroup.c) ---- */
#define TASK_HANDLER(name)                                                                         \
    int name(struct rpc_call *call, const ProtobufCMessage *msg, void *data,                       \
             struct berth_error **err)
TASK_HANDLER(task_state);
TASK_HANDLER(task_wait);
TASK_HANDLER(task_connect);
TASK_HANDLER(task_pids);
TASK_HANDLER(task_pause);
TASK_HANDLER(task_resume);
TASK_HANDLER(task_update);
TASK_HANDLER(task_checkpoint);
TASK_HANDLER(task_kill);
TASK_HANDLER(task_exec);
TASK_HANDLER(task_resize_pty);
TASK_HANDLER(task_close_io);
TASK_HANDLER(task_stats);

/* ---- cgroup.c: statistics and OOM events of a container's cgroup ---- */
/* After create: the cgroup runc put init (pid) in; a failure is logged, Stats then NotFound. */
void container_cgroup_open(struct container *c, pid_t pid);
/* At init's start: TaskOOM events for this cgroup from now on. */
void container_oom_watch(struct container *c);
/* Publishes the OOMs the watcher has pending (before init's exit goes out). */
void container_oom_flush(struct container *c);
/* Stops watching and releases the cgroup. */
void container_cgroup_close(struct container *c);
