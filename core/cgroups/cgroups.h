/* A task's cgroup: host mode, resolving a pid's cgroup, containerd's metrics, OOM watching. */
#pragma once

#include "lib/base/errors.h"

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <sys/types.h>

/*
 * How the host mounts cgroups, decided as containerd's cgroups.Mode(): a cgroup2 filesystem at
 * the root is unified; otherwise a cgroup2 filesystem at <root>/unified is hybrid; otherwise
 * legacy. Legacy and hybrid hosts are driven through the v1 controllers (the v2 tree of a hybrid
 * host holds no controllers).
 */
enum cgroups_mode {
    CGROUPS_MODE_UNAVAILABLE = 0, /* the root cannot be statfs'd */
    CGROUPS_MODE_LEGACY,
    CGROUPS_MODE_HYBRID,
    CGROUPS_MODE_UNIFIED,
};

/* Where the files are. NULL members mean the host's own; tests point them at fake trees. */
struct cgroups_host {
    const char *cgroup_root;   /* /sys/fs/cgroup */
    const char *proc_root;     /* /proc: <pid>/cgroup, self/mountinfo, partitions */
    const char *hugepages_dir; /* /sys/kernel/mm/hugepages */
};

/* Never fails: a root that cannot be statfs'd is CGROUPS_MODE_UNAVAILABLE. NULL = /sys/fs/cgroup.
 */
enum cgroups_mode cgroups_mode_detect(const char *cgroup_root);
/* "unavailable", "legacy", "hybrid", "unified". */
const char *cgroups_mode_name(enum cgroups_mode mode);

/* Controllers with statistics, in a v1 hierarchy. */
enum cgroups_controller {
    CGROUPS_PIDS = 0,
    CGROUPS_CPU,
    CGROUPS_CPUACCT,
    CGROUPS_MEMORY,
    CGROUPS_BLKIO,
    CGROUPS_RDMA,
    CGROUPS_HUGETLB,
    CGROUPS_CONTROLLER_COUNT,
};
const char *cgroups_controller_name(enum cgroups_controller c);

/* One cgroup: one directory per v1 controller, or one v2 directory. Not thread-safe. */
struct cgroup;

/*
 * The cgroup of a process, from <proc>/<pid>/cgroup. In legacy and hybrid mode each v1
 * controller's path is taken relative to the root of its mount in <proc>/self/mountinfo (as seen
 * from inside a cgroup namespace), and only controllers whose directory exists are used:
 * NotFound when none does (the cgroup is gone). In unified mode the "0::" line names the group.
 * InvalidArgument for a path with "." or ".." components or a malformed file; FailedPrecondition
 * when mode is CGROUPS_MODE_UNAVAILABLE.
 */
int cgroups_open_pid(const struct cgroups_host *host, enum cgroups_mode mode, pid_t pid,
                     struct cgroup **ret_cgroup, struct berth_error **err);
/*
 * A cgroup by its path below the hierarchy roots ("/a/b"), the same path under every v1
 * controller, or the group path in unified mode. The path must be absolute and clean.
 */
int cgroups_open_path(const struct cgroups_host *host, enum cgroups_mode mode, const char *path,
                      struct cgroup **ret_cgroup, struct berth_error **err);
/* NULL-safe; returns NULL. */
struct cgroup *cgroups_free(struct cgroup *cg);
static inline void cgroups_freep(struct cgroup **cg)
{
    cgroups_free(*cg);
}
#define _cleanup_cgroup_ __attribute__((cleanup(cgroups_freep)))

bool cgroups_is_unified(const struct cgroup *cg);
/* The directory used for controller c (v1), or the group directory (v2, c ignored); NULL if
 * that v1 controller is not in use. */
const char *cgroups_path(const struct cgroup *cg, enum cgroups_controller c);

/*
 * Reads the statistics into a new io.containerd.cgroups.v1.Metrics (legacy, hybrid) or
 * io.containerd.cgroups.v2.Metrics (unified), filled from the same files and with the same
 * quirks as containerd's cgroups library (docs/cgroups.md). A v1 controller whose files are
 * missing leaves its part unset or partial, as containerd's shim does with IgnoreNotExist; a
 * malformed file is an Unknown error, as containerd's shim reports it. Free the result with
 * cgroups_metrics_free. The Any type URL is ret->descriptor->name.
 */
int cgroups_stats(const struct cgroup *cg, ProtobufCMessage **ret_metrics,
                  struct berth_error **err);
/* Frees a tree from cgroups_stats (it is malloc'd the way protobuf-c's unpack would). NULL-safe. */
void cgroups_metrics_free(ProtobufCMessage *metrics);

/*
 * OOM watcher for one cgroup, for a single-threaded event loop: poll cgroups_oom_fd for POLLIN
 * and call cgroups_oom_process when readable.
 *   v1: an eventfd registered for memory.oom_control through cgroup.event_control; the kernel
 *       signals it on each OOM in the cgroup and when the cgroup is removed.
 *   v2: inotify (IN_MODIFY) on memory.events and cgroup.events; an OOM is an increase of
 *       oom_kill, counted from its value when the watch began.
 */
struct cgroups_oom;

/* FailedPrecondition when the cgroup has no memory controller (v1) or no memory.events (v2). */
int cgroups_oom_watch(const struct cgroup *cg, struct cgroups_oom **ret_oom,
                      struct berth_error **err);
/* Non-blocking, close-on-exec; owned by the watcher. */
int cgroups_oom_fd(const struct cgroups_oom *oom);
/*
 * Consumes what is readable. *ret_ooms is how many TaskOOM events to publish now (0 or 1 per
 * call, as containerd's shim publishes one per wake-up). *ret_gone becomes true when the cgroup
 * was removed (v1) or has no processes left (v2): stop polling and free the watcher. Calling it
 * when nothing is readable reports nothing. On error (a malformed memory.events) *ret_gone is
 * true as well: the watch is over.
 */
int cgroups_oom_process(struct cgroups_oom *oom, unsigned *ret_ooms, bool *ret_gone,
                        struct berth_error **err);
/* Closes the fd; NULL-safe; returns NULL. */
struct cgroups_oom *cgroups_oom_free(struct cgroups_oom *oom);
static inline void cgroups_oom_freep(struct cgroups_oom **oom)
{
    cgroups_oom_free(*oom);
}
#define _cleanup_cgroups_oom_ __attribute__((cleanup(cgroups_oom_freep)))
