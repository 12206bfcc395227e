/*
 * The runtime v2 task manager: one shim per task (or per group), started, connected over ttrpc
 * (task API v2 or v3), watched for death, reconnected after a daemon restart, and torn down
 * with its bundle (containerd's core/runtime/v2 task and shim managers).
 */
#pragma once

#include "core/runtime/shim_binary.h"
#include "lib/base/errors.h"
#include "lib/rpc/rpc.h"

#include <stdint.h>

#include "containerd/runtime/task/v3/shim.pb-c.h"

struct event_exchange;
struct metadata_db;

struct task_manager_config {
    const char *root;  /* <root>/io.containerd.runtime.v2.task: work dirs */
    const char *state; /* <state>/io.containerd.runtime.v2.task: bundles */
    struct shim_launch launch;
};

struct task_manager;
/* A task's shim connection; counted references keep it usable while a call runs. */
struct shim;

/* Loads bundles left by an earlier run: reconnects live shims, cleans up after dead ones. */
struct task_manager *task_manager_new(const struct task_manager_config *config,
                                      struct event_exchange *events, struct metadata_db *db,
                                      struct berth_error **err);
/* Disconnects from the shims (they keep running) and frees the manager. */
void task_manager_free(struct task_manager *tm);

struct task_create {
    const char *ns;
    const char *id;
    const void *spec; /* config.json (the container's spec Any value); may be NULL */
    size_t spec_len;
    const char *runtime; /* runtime name or absolute path */
    /* The packed Any handed to the shim's start on stdin (task options, else runtime options). */
    const void *options;
    size_t options_len;
    /* The shim's Create request; id and bundle are filled in here. */
    Containerd__Task__V3__CreateTaskRequest *request;
};

/*
 * Creates the bundle, starts (or joins) the shim, creates the task in it and returns its pid.
 * AlreadyExists when the task exists. On failure nothing is left: shim, bundle, mounts.
 */
int task_manager_create(struct task_manager *tm, const struct task_create *tc,
                        struct rpc_call *parent, uint32_t *ret_pid, struct berth_error **err);

/* The task's shim (a new reference), or NotFound "task <id> not found". */
struct shim *task_manager_get(struct task_manager *tm, const char *ns, const char *id,
                              struct berth_error **err);
/* The shims of a namespace (all namespaces when ns is NULL), each referenced; free the array. */
size_t task_manager_list(struct task_manager *tm, const char *ns, struct shim ***ret);

/*
 * Deletes the task: the shim's Delete, then Shutdown, then the bundle (containerd's
 * shimTask.delete). Returns the shim's DeleteResponse (free it).
 */
int task_manager_delete(struct task_manager *tm, const char *ns, const char *id,
                        struct rpc_call *parent, Containerd__Task__V3__DeleteResponse **ret,
                        struct berth_error **err);

void shim_unref(struct shim *s);
const char *shim_id(const struct shim *s);
const char *shim_namespace(const struct shim *s);
const char *shim_bundle(const struct shim *s);

/*
 * One unary task API call on the shim (v2 or v3, whichever it speaks). `parent` (may be NULL)
 * lends its deadline and cancellation; timeout_ns (0: none) bounds the call further.
 */
int shim_call(struct shim *s, const char *method, const ProtobufCMessage *request,
              const ProtobufCMessageDescriptor *response_descriptor, ProtobufCMessage **ret,
              struct rpc_call *parent, long long timeout_ns, struct berth_error **err);
