/* The shim's shared state: containers, processes, children, stdio and events (one loop thread). */
#pragma once

#include "lib/base/errors.h"
#include "lib/loop/loop.h"
#include "lib/rpc/rpc.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

enum proc_state { PROC_CREATED, PROC_RUNNING, PROC_PAUSED, PROC_STOPPED, PROC_DELETED };

struct pio;         /* a process's stdio (stdio.c) */
struct cgroup;      /* core/cgroups */
struct cgroups_oom; /* core/cgroups */

struct waiter {
    struct rpc_call *call;
    struct waiter *next;
};

struct process {
    struct container *c;
    char *id; /* exec id; the container id for init */
    bool is_init;
    pid_t pid;
    enum proc_state state;
    int exit_status;
    struct timespec exited_at;
    bool exited;    /* the exit was seen (status and time are set) */
    bool starting;  /* runc start/exec in flight: an exit waits for its event to go first */
    bool exit_held; /* an exit arrived while starting */
    bool counted;   /* an exec counted in c->running_execs */
    char *stdin_path, *stdout_path, *stderr_path;
    bool terminal;
    char *spec_json; /* exec: the runtime-spec Process */
    size_t spec_len;
    struct pio *io;
    struct waiter *waiters;
    struct process *next;
};

struct runc_options {
    char *binary;
    char *root;
    bool systemd_cgroup;
    bool no_pivot_root;
    bool no_new_keyring;
    unsigned io_uid, io_gid;
    char *criu_path;
    char *criu_image_path, *criu_work_path;
};

struct container {
    char *id;
    char *bundle;
    struct runc_options opts;
    bool rootfs_mounted;
    bool kill_all_on_exit; /* no pid namespace of its own: kill the rest when init exits */
    struct process *init;
    struct process *execs;
    int running_execs;
    bool init_exit_waiting; /* init exited, its exit waits for the execs' */
    struct cgroup *cgroup;  /* init's, from create; NULL when it could not be loaded */
    struct cgroups_oom *oom;
    uv_poll_t *oom_poll;
    struct container *next;
};

struct shim {
    struct loop *loop;
    const char *namespace;
    const char *id;
    const char *address;
    const char *publish_binary;
    const char *ttrpc_address;
    char *socket_path; /* unlinked at exit */
    char *state_dir;   /* derived from the first bundle; NULL when unknown */
    struct container *containers;
    struct container *creating; /* ids reserved by Create in flight */
    bool shutting_down;
};

extern struct shim *shim_global;

/* ---- task.c ---- */
extern const struct rpc_service shim_task_service_v2;
extern const struct rpc_service shim_task_service_v3;
/* A child of ours exited that no runc job waits for. */
void task_on_exit(pid_t pid, int status);
void shim_exit_if_done(void);
/* Calls whose reply has not been written yet (main.c). */
size_t shim_server_inflight(void);

/* ---- child.c: children, reaping ---- */
struct child_spec {
    const char *const *argv;
    const char *cwd;
    int fds[3];       /* for the child's 0, 1, 2; -1: /dev/null */
    const int *extra; /* become fds 3, 4, ... */
    int n_extra;
    const char *const *env; /* added to the environment ("K=V"), NULL-terminated, may be NULL */
    bool env_only;          /* env is the whole environment */
    bool setsid;
};
pid_t child_spawn(const struct child_spec *spec, struct berth_error **err);
typedef void (*child_exit_fn)(void *arg, pid_t pid, int status);
void child_watch(pid_t pid, child_exit_fn fn, void *arg);
/* Starts reaping on SIGCHLD (we are a subreaper). */
int child_reaper_start(struct loop *loop, struct berth_error **err);
/* Takes an exit seen before its pid was known (a fast exec), or returns false. */
bool child_claim_exit(pid_t pid, int *ret_status);
void child_note_unclaimed(pid_t pid, int status);
/* Exit status as runc reports it: the code, or 128 + signal. */
int child_exit_code(int wait_status);

/* ---- runc.c ---- */
typedef void (*runc_done_fn)(void *arg, const char *out, size_t out_len,
                             const struct berth_error *error);
/*
 * Runs `<runtime> <global flags> args...` without blocking; done runs on the loop when it exits.
 * `stdio` gives runc's fds 0..2 (closed here after the fork; NULL: /dev/null and captured
 * output). `what` names the operation in errors ("OCI runtime create failed").
 */
int runc_run(struct container *c, const char *const *args, int stdio[3], const char *what,
             runc_done_fn done, void *arg, struct berth_error **err);
/* Synchronous, for the one-shot actions (delete, -info). */
int runc_run_sync(const struct runc_options *o, const char *bundle, const char *const *args,
                  char **ret_out, struct berth_error **err);
void runc_options_defaults(struct runc_options *o, const char *bundle, const char *ns);
int runc_options_from_any(struct runc_options *o, const ProtobufCBinaryData *value,
                          const char *type_url, struct berth_error **err);
void runc_options_clear(struct runc_options *o);
int runc_options_save(const struct runc_options *o, const char *bundle, struct berth_error **err);
int runc_options_load(struct runc_options *o, const char *bundle, const char *ns,
                      struct berth_error **err);
char *runc_pid_file(const struct container *c, const struct process *p);
int runc_read_pid(const char *path, pid_t *ret, struct berth_error **err);

/* ---- mount.c ---- */
struct Containerd__Types__Mount;
int rootfs_mount(const char *bundle, struct Containerd__Types__Mount **mounts, size_t n,
                 struct berth_error **err);
void rootfs_unmount(const char *bundle);

/* ---- stdio.c ---- */
/*
 * Prepares a process's stdio before runc runs: pipes (or a console socket for a terminal) and
 * the fds runc gets. `console_socket` is set for terminals.
 */
struct pio *pio_new(struct process *p, char **ret_console_socket, struct berth_error **err);
/* The fds runc gets as 0..2 (-1: /dev/null); runc_run closes them and sets them to -1. */
int *pio_runc_fds(struct pio *io);
/* After runc succeeded: closes runc's ends, takes the console (terminal), starts copying. */
int pio_start(struct pio *io, struct berth_error **err);
/* The process exited: copy out what it left in the pipe or pty before the exit is published. */
void pio_drain(struct pio *io);
void pio_close_stdin(struct pio *io);
int pio_resize(struct pio *io, unsigned width, unsigned height, struct berth_error **err);
void pio_free(struct pio *io);

/* ---- cgroup.c (the rest in task.h) ---- */
/* Once, before serving: how the host mounts cgroups. */
void shim_cgroups_init(void);

/* ---- events.c ---- */
void events_init(struct shim *s);
/* Queues an event (packed now); sent in order on the loop, retried as the reference does. */
void events_publish(const char *topic, const ProtobufCMessage *event);
/* Whether events are still queued or in flight. */
bool events_pending(void);
