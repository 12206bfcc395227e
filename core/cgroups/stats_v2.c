/* io.containerd.cgroups.v2.Metrics from a unified group, file for file as containerd fills it. */
#include "containerd/cgroups/cgroup2/stats/metrics.pb-c.h"
#include "core/cgroups/cgroups-internal.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <string.h>

typedef Io__Containerd__Cgroups__V2__Metrics Metrics;

#define NEW(type) cg_message_new(&io__containerd__cgroups__v2__##type##__descriptor)

/* A single-value file, where anything wrong reads as 0 and "max" as 2^64-1 (containerd's
 * getStatFileContentUint64). */
static uint64_t value_or_zero(const char *dir, const char *name)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
    uint64_t v;
    struct berth_error *e = NULL;
    if (cg_read_uint_file(path, UINT64_MAX, &v, &e) < 0) {
        err_free(e);
        return 0;
    }
    return v;
}

static Io__Containerd__Cgroups__V2__PSIData *psi_data(const struct cg_psi_line *line)
{
    if (!line->present)
        return NULL;
    Io__Containerd__Cgroups__V2__PSIData *d = NEW(psidata);
    d->avg10 = line->avg10;
    d->avg60 = line->avg60;
    d->avg300 = line->avg300;
    d->total = line->total;
    return d;
}

/* A *.pressure file; NULL when it is missing or malformed. */
static Io__Containerd__Cgroups__V2__PSIStats *psi(const char *dir, const char *name)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
    _cleanup_free_ char *text = NULL;
    struct berth_error *e = NULL;
    if (cg_read_file(path, &text, &e) < 0) {
        err_free(e);
        return NULL;
    }
    struct cg_psi_line some, full;
    if (!cg_parse_psi(text, &some, &full))
        return NULL;
    Io__Containerd__Cgroups__V2__PSIStats *s = NEW(psistats);
    s->some = psi_data(&some);
    s->full = psi_data(&full);
    return s;
}

/* Reads a "key value" file into kv; a missing file is not an error when optional. */
static int read_kv(const char *dir, const char *name, bool optional, struct cg_kv *kv,
                   struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
    struct berth_error *local = NULL;
    if (cg_read_kv_file(path, kv, &local) == 0)
        return 0;
    if (optional && local->errno_value == ENOENT) {
        err_free(local);
        return 0;
    }
    return cg_error_pass(err, local);
}

static void fill_memory(Io__Containerd__Cgroups__V2__MemoryStat *s, const struct cg_kv *kv)
{
    static const struct {
        const char *key;
        size_t offset;
    } keys[] = {
#define K(field) {#field, offsetof(Io__Containerd__Cgroups__V2__MemoryStat, field)}
        K(anon),
        K(file),
        K(kernel_stack),
        K(slab),
        K(sock),
        K(shmem),
        K(file_mapped),
        K(file_dirty),
        K(file_writeback),
        K(anon_thp),
        K(inactive_anon),
        K(active_anon),
        K(inactive_file),
        K(active_file),
        K(unevictable),
        K(slab_reclaimable),
        K(slab_unreclaimable),
        K(pgfault),
        K(pgmajfault),
        K(workingset_refault),
        K(workingset_activate),
        K(workingset_nodereclaim),
        K(pgrefill),
        K(pgscan),
        K(pgsteal),
        K(pgactivate),
        K(pgdeactivate),
        K(pglazyfree),
        K(pglazyfreed),
        K(thp_fault_alloc),
        K(thp_collapse_alloc),
#undef K
    };
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        *(uint64_t *)((char *)s + keys[i].offset) = cg_kv_get(kv, keys[i].key);
}

/* io.stat: "<major>:<minor> rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=..". Like
 * containerd, lines without a device are skipped, unknown or bad pairs ignored, and a bad device
 * number ends the list. */
static void io_usage(const char *dir, Io__Containerd__Cgroups__V2__IOStat *io)
{
    _cleanup_free_ char *path = xasprintf("%s/io.stat", dir);
    _cleanup_free_ char *text = NULL;
    struct berth_error *e = NULL;
    if (cg_read_file(path, &text, &e) < 0) {
        err_free(e);
        return;
    }
    for (char *cursor = text, *line; (line = strsep(&cursor, "\n"));) {
        char *rest = strchr(line, ' ');
        if (!rest)
            continue;
        *rest++ = '\0';
        char *colon = strchr(line, ':');
        if (!colon || strchr(colon + 1, ':'))
            continue;
        *colon = '\0';
        uint64_t major, minor;
        if (cg_parse_uint_strict(line, 64, &major) < 0 ||
            cg_parse_uint_strict(colon + 1, 64, &minor) < 0)
            return;
        Io__Containerd__Cgroups__V2__IOEntry *entry = NEW(ioentry);
        entry->major = major;
        entry->minor = minor;
        for (char *pair; (pair = strsep(&rest, " "));) {
            char *eq = strchr(pair, '=');
            uint64_t v;
            if (!eq || strchr(eq + 1, '='))
                continue;
            *eq = '\0';
            if (cg_parse_uint_strict(eq + 1, 64, &v) < 0)
                continue;
            if (strcmp(pair, "rbytes") == 0)
                entry->rbytes = v;
            else if (strcmp(pair, "wbytes") == 0)
                entry->wbytes = v;
            else if (strcmp(pair, "rios") == 0)
                entry->rios = v;
            else if (strcmp(pair, "wios") == 0)
                entry->wios = v;
        }
        cg_append((void ***)&io->usage, &io->n_usage, entry);
    }
}

static void rdma_entries(const char *dir, const char *name,
                         Io__Containerd__Cgroups__V2__RdmaEntry ***entries, size_t *n)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
    _cleanup_free_ char *text = NULL;
    struct berth_error *e = NULL;
    if (cg_read_file(path, &text, &e) < 0) {
        err_free(e);
        return;
    }
    for (char *cursor = text, *line; (line = strsep(&cursor, "\n"));) {
        char *device;
        uint32_t handles, objects;
        if (!cg_parse_rdma_line(line, &device, &handles, &objects))
            continue;
        Io__Containerd__Cgroups__V2__RdmaEntry *entry = NEW(rdma_entry);
        entry->device = xstrdup(device);
        entry->hca_handles = handles;
        entry->hca_objects = objects;
        cg_append((void ***)entries, n, entry);
    }
}

static bool has_controller(const char *controllers, const char *name)
{
    _cleanup_free_ char *copy = xstrdup(controllers);
    char *save = NULL;
    for (char *tok = strtok_r(copy, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save))
        if (strcmp(tok, name) == 0)
            return true;
    return false;
}

static void fill(const struct cgroup *cg, Metrics *m, const struct cg_kv *out,
                 const struct cg_kv *events)
{
    const char *dir = cg->group_dir;
    m->pids = NEW(pids_stat);
    m->pids->current = value_or_zero(dir, "pids.current");
    m->pids->limit = value_or_zero(dir, "pids.max");

    m->cpu = NEW(cpustat);
    m->cpu->usage_usec = cg_kv_get(out, "usage_usec");
    m->cpu->user_usec = cg_kv_get(out, "user_usec");
    m->cpu->system_usec = cg_kv_get(out, "system_usec");
    m->cpu->nr_periods = cg_kv_get(out, "nr_periods");
    m->cpu->nr_throttled = cg_kv_get(out, "nr_throttled");
    m->cpu->throttled_usec = cg_kv_get(out, "throttled_usec");
    m->cpu->psi = psi(dir, "cpu.pressure");

    Io__Containerd__Cgroups__V2__MemoryStat *mem = NEW(memory_stat);
    m->memory = mem;
    fill_memory(mem, out);
    mem->usage = value_or_zero(dir, "memory.current");
    mem->usage_limit = value_or_zero(dir, "memory.max");
    mem->max_usage = value_or_zero(dir, "memory.peak");
    mem->swap_usage = value_or_zero(dir, "memory.swap.current");
    mem->swap_limit = value_or_zero(dir, "memory.swap.max");
    mem->swap_max_usage = value_or_zero(dir, "memory.swap.peak");
    mem->psi = psi(dir, "memory.pressure");

    if (events->n > 0) {
        m->memory_events = NEW(memory_events);
        m->memory_events->low = cg_kv_get(events, "low");
        m->memory_events->high = cg_kv_get(events, "high");
        m->memory_events->max = cg_kv_get(events, "max");
        m->memory_events->oom = cg_kv_get(events, "oom");
        m->memory_events->oom_kill = cg_kv_get(events, "oom_kill");
    }

    m->io = NEW(iostat);
    io_usage(dir, m->io);
    m->io->psi = psi(dir, "io.pressure");

    m->rdma = NEW(rdma_stat);
    rdma_entries(dir, "rdma.current", &m->rdma->current, &m->rdma->n_current);
    rdma_entries(dir, "rdma.max", &m->rdma->limit, &m->rdma->n_limit);

    for (const char *size = cg->hugetlb_sizes; size && *size; size += strlen(size) + 1) {
        Io__Containerd__Cgroups__V2__HugeTlbStat *h = NEW(huge_tlb_stat);
        _cleanup_free_ char *max_name = xasprintf("hugetlb.%s.max", size);
        _cleanup_free_ char *current_name = xasprintf("hugetlb.%s.current", size);
        h->max = value_or_zero(dir, max_name);
        h->current = value_or_zero(dir, current_name);
        h->pagesize = xstrdup(size);
        cg_append((void ***)&m->hugetlb, &m->n_hugetlb, h);
    }
}

int cg_stats_v2(const struct cgroup *cg, ProtobufCMessage **ret_metrics, struct berth_error **err)
{
    const char *dir = cg->group_dir;
    _cleanup_free_ char *controllers_path = xasprintf("%s/cgroup.controllers", dir);
    _cleanup_free_ char *controllers = NULL;
    if (cg_read_file(controllers_path, &controllers, err) < 0)
        return -1;

    /* cpu.stat and memory.stat share one table, read only for enabled controllers. */
    struct cg_kv out = {0}, events = {0};
    int r = 0;
    if (has_controller(controllers, "cpu"))
        r = read_kv(dir, "cpu.stat", true, &out, err);
    if (r == 0 && has_controller(controllers, "memory"))
        r = read_kv(dir, "memory.stat", true, &out, err);
    if (r == 0)
        r = read_kv(dir, "memory.events", true, &events, err);
    if (r == 0) {
        Metrics *m = NEW(metrics);
        fill(cg, m, &out, &events);
        *ret_metrics = &m->base;
    }
    cg_kv_clear(&out);
    cg_kv_clear(&events);
    return r;
}
