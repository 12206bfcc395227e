/* OOM watching for a single-threaded loop: a v1 eventfd on memory.oom_control, or v2 inotify. */
#include "core/cgroups/cgroups-internal.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

struct cgroups_oom {
    bool unified;
    int fd;
    char *dir;              /* v1: the memory controller's directory; v2: the group */
    uint64_t last_oom_kill; /* v2: memory.events oom_kill when last seen */
};

struct cgroups_oom *cgroups_oom_free(struct cgroups_oom *oom)
{
    if (!oom)
        return NULL;
    if (oom->fd >= 0)
        close(oom->fd);
    free(oom->dir);
    free(oom);
    return NULL;
}

int cgroups_oom_fd(const struct cgroups_oom *oom)
{
    return oom->fd;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int watch_v1(struct cgroups_oom *oom, struct berth_error **err)
{
    oom->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (oom->fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "eventfd");
    _cleanup_free_ char *control_path = xasprintf("%s/memory.oom_control", oom->dir);
    _cleanup_close_ int control = open(control_path, O_RDONLY | O_CLOEXEC);
    if (control < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "open %s", control_path);
    /* "<eventfd> <fd of memory.oom_control>": the kernel takes its own reference to both, so
     * only the eventfd stays open here. */
    _cleanup_free_ char *events_path = xasprintf("%s/cgroup.event_control", oom->dir);
    _cleanup_close_ int events = open(events_path, O_WRONLY | O_CLOEXEC);
    if (events < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "open %s", events_path);
    char line[64];
    int len = snprintf(line, sizeof(line), "%d %d", oom->fd, control);
    if (write_all(events, line, (size_t)len) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "register OOM eventfd in %s",
                        events_path);
    return 0;
}

/* oom_kill from memory.events; the error keeps its errno. */
static int read_oom_kill(const char *dir, uint64_t *ret, struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("%s/memory.events", dir);
    struct cg_kv kv = {0};
    int r = cg_read_kv_file(path, &kv, err);
    if (r == 0)
        *ret = cg_kv_get(&kv, "oom_kill");
    cg_kv_clear(&kv);
    return r;
}

static int watch_v2(struct cgroups_oom *oom, struct berth_error **err)
{
    oom->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (oom->fd < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "inotify_init1");
    /* memory.events for OOM kills; cgroup.events to notice the group emptying. */
    static const char *const files[] = {"memory.events", "cgroup.events"};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        _cleanup_free_ char *path = xasprintf("%s/%s", oom->dir, files[i]);
        if (inotify_add_watch(oom->fd, path, IN_MODIFY) < 0) {
            if (errno == ENOENT && i == 0)
                return err_make(err, ERR_FAILED_PRECONDITION, errno,
                                "%s: no memory controller for OOM events", oom->dir);
            return err_make(err, err_kind_from_errno(errno), errno, "watch %s", path);
        }
    }
    /* Count from now, so kills before the watch began are not reported as new. */
    struct berth_error *ignored = NULL;
    if (read_oom_kill(oom->dir, &oom->last_oom_kill, &ignored) < 0)
        err_free(ignored);
    return 0;
}

int cgroups_oom_watch(const struct cgroup *cg, struct cgroups_oom **ret_oom,
                      struct berth_error **err)
{
    const char *dir = cg->unified ? cg->group_dir : cg->dir[CGROUPS_MEMORY];
    if (!dir)
        return err_make(err, ERR_FAILED_PRECONDITION, 0,
                        "cgroup has no memory controller for OOM events");
    _cleanup_(cgroups_oom_freep) struct cgroups_oom *oom = xcalloc(1, sizeof(*oom));
    oom->unified = cg->unified;
    oom->fd = -1;
    oom->dir = xstrdup(dir);
    if ((oom->unified ? watch_v2(oom, err) : watch_v1(oom, err)) < 0)
        return -1;
    *ret_oom = steal_ptr(oom);
    return 0;
}

static bool path_missing(const char *path)
{
    struct stat st;
    return lstat(path, &st) < 0 && errno == ENOENT;
}

static int process_v1(struct cgroups_oom *oom, unsigned *ret_ooms, bool *ret_gone,
                      struct berth_error **err)
{
    uint64_t count;
    ssize_t n;
    do
        n = read(oom->fd, &count, sizeof(count));
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN)
            return 0;
        return err_make(err, err_kind_from_errno(errno), errno, "read OOM eventfd");
    }
    /* The kernel also signals the eventfd when the cgroup is removed. */
    if (path_missing(oom->dir))
        *ret_gone = true;
    else
        *ret_ooms = 1;
    return 0;
}

static bool v2_empty(const char *dir)
{
    _cleanup_free_ char *path = xasprintf("%s/cgroup.events", dir);
    struct cg_kv kv = {0};
    struct berth_error *e = NULL;
    bool empty = true; /* unreadable: stop watching rather than leak the watch */
    if (cg_read_kv_file(path, &kv, &e) == 0 && cg_kv_has(&kv, "populated"))
        empty = cg_kv_get(&kv, "populated") == 0;
    err_free(e);
    cg_kv_clear(&kv);
    return empty;
}

static int process_v2(struct cgroups_oom *oom, unsigned *ret_ooms, bool *ret_gone,
                      struct berth_error **err)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    size_t total = 0;
    for (;;) {
        ssize_t n = read(oom->fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            return err_make(err, err_kind_from_errno(errno), errno, "read inotify");
        }
        if (n == 0)
            break;
        total += (size_t)n;
    }
    if (total < sizeof(struct inotify_event))
        return 0;

    uint64_t oom_kill;
    struct berth_error *local = NULL;
    if (read_oom_kill(oom->dir, &oom_kill, &local) < 0) {
        /* A removed group may fail the read with ENODEV rather than ENOENT at open. */
        _cleanup_free_ char *path = xasprintf("%s/memory.events", oom->dir);
        *ret_gone = true;
        if (path_missing(path)) {
            err_free(local);
            return 0;
        }
        return cg_error_pass(err, local);
    }
    if (oom_kill > oom->last_oom_kill)
        *ret_ooms = 1;
    if (oom_kill > 0)
        oom->last_oom_kill = oom_kill;
    if (v2_empty(oom->dir))
        *ret_gone = true;
    return 0;
}

int cgroups_oom_process(struct cgroups_oom *oom, unsigned *ret_ooms, bool *ret_gone,
                        struct berth_error **err)
{
    *ret_ooms = 0;
    *ret_gone = false;
    int r = oom->unified ? process_v2(oom, ret_ooms, ret_gone, err)
                         : process_v1(oom, ret_ooms, ret_gone, err);
    if (r < 0)
        *ret_gone = true; /* nothing more will come from this watcher */
    return r;
}
