/* io.containerd.cgroups.v1.Metrics from the v1 controllers, file for file as containerd fills it.
 */
#include "containerd/cgroups/cgroup1/stats/metrics.pb-c.h"
#include "core/cgroups/cgroups-internal.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef Io__Containerd__Cgroups__V1__Metrics Metrics;
typedef Io__Containerd__Cgroups__V1__MemoryEntry MemoryEntry;
typedef Io__Containerd__Cgroups__V1__BlkIOEntry BlkIOEntry;

#define NEW(type) cg_message_new(&io__containerd__cgroups__v1__##type##__descriptor)

static int read_uint(const char *dir, const char *name, uint64_t *ret, struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
    /* v1 reads "max" as 0 (unlimited pids.max) */
    return cg_read_uint_file(path, 0, ret, err);
}

static int read_kv(const char *dir, const char *name, struct cg_kv *kv, struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
    return cg_read_kv_file(path, kv, err);
}

static int stat_pids(const struct cgroup *cg, const char *dir, Metrics *m, struct berth_error **err)
{
    uint64_t current, limit;
    if (read_uint(dir, "pids.current", &current, err) < 0 ||
        read_uint(dir, "pids.max", &limit, err) < 0)
        return -1;
    m->pids = NEW(pids_stat);
    m->pids->current = current;
    m->pids->limit = limit;
    return 0;
}

static int stat_cpu(const struct cgroup *cg, const char *dir, Metrics *m, struct berth_error **err)
{
    struct cg_kv kv = {0};
    int r = read_kv(dir, "cpu.stat", &kv, err);
    if (r == 0) {
        if (cg_kv_has(&kv, "nr_periods"))
            m->cpu->throttling->periods = cg_kv_get(&kv, "nr_periods");
        if (cg_kv_has(&kv, "nr_throttled"))
            m->cpu->throttling->throttled_periods = cg_kv_get(&kv, "nr_throttled");
        if (cg_kv_has(&kv, "throttled_time"))
            m->cpu->throttling->throttled_time = cg_kv_get(&kv, "throttled_time");
    }
    cg_kv_clear(&kv);
    return r;
}

static int stat_cpuacct(const struct cgroup *cg, const char *dir, Metrics *m,
                        struct berth_error **err)
{
    struct cg_kv kv = {0};
    if (read_kv(dir, "cpuacct.stat", &kv, err) < 0) {
        cg_kv_clear(&kv);
        return -1;
    }
    bool complete = cg_kv_has(&kv, "user") && cg_kv_has(&kv, "system");
    uint64_t user = cg_kv_get(&kv, "user"), system = cg_kv_get(&kv, "system");
    cg_kv_clear(&kv);
    if (!complete)
        return err_make(err, ERR_UNKNOWN, 0, "%s/cpuacct.stat: expected fields user and system",
                        dir);

    uint64_t total;
    if (read_uint(dir, "cpuacct.usage", &total, err) < 0)
        return -1;

    _cleanup_free_ char *path = xasprintf("%s/cpuacct.usage_percpu", dir);
    _cleanup_free_ char *text = NULL;
    if (cg_read_file(path, &text, err) < 0)
        return -1;
    _cleanup_free_ uint64_t *per_cpu = NULL;
    size_t n = 0;
    for (char *p = text, *tok; (tok = strsep(&p, " \t\n\r\v\f"));) {
        if (!*tok)
            continue;
        per_cpu = xrealloc(per_cpu, (n + 1) * sizeof(*per_cpu));
        if (cg_parse_uint_strict(tok, 64, &per_cpu[n++]) < 0)
            return err_make(err, ERR_UNKNOWN, 0, "%s: not an unsigned integer: \"%.32s\"", path,
                            tok);
    }

    /* cpuacct.stat counts USER_HZ ticks; the metrics are nanoseconds. */
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t ticks = hz > 0 ? (uint64_t)hz : 100;
    Io__Containerd__Cgroups__V1__CPUUsage *usage = m->cpu->usage;
    usage->total = total;
    usage->user = user * 1000000000u / ticks;
    usage->kernel = system * 1000000000u / ticks;
    free(usage->per_cpu);
    usage->per_cpu = steal_ptr(per_cpu);
    usage->n_per_cpu = n;
    return 0;
}

static void fill_memory_stat(Io__Containerd__Cgroups__V1__MemoryStat *s, const struct cg_kv *kv)
{
    static const struct {
        const char *key;
        size_t offset;
    } keys[] = {
#define K(key, field) {key, offsetof(Io__Containerd__Cgroups__V1__MemoryStat, field)}
        K("cache", cache),
        K("rss", rss),
        K("rss_huge", rss_huge),
        K("mapped_file", mapped_file),
        K("dirty", dirty),
        K("writeback", writeback),
        K("pgpgin", pg_pg_in),
        K("pgpgout", pg_pg_out),
        K("pgfault", pg_fault),
        K("pgmajfault", pg_maj_fault),
        K("inactive_anon", inactive_anon),
        K("active_anon", active_anon),
        K("inactive_file", inactive_file),
        K("active_file", active_file),
        K("unevictable", unevictable),
        K("hierarchical_memory_limit", hierarchical_memory_limit),
        K("hierarchical_memsw_limit", hierarchical_swap_limit),
        K("total_cache", total_cache),
        K("total_rss", total_rss),
        K("total_rss_huge", total_rss_huge),
        K("total_mapped_file", total_mapped_file),
        K("total_dirty", total_dirty),
        K("total_writeback", total_writeback),
        K("total_pgpgin", total_pg_pg_in),
        K("total_pgpgout", total_pg_pg_out),
        K("total_pgfault", total_pg_fault),
        K("total_pgmajfault", total_pg_maj_fault),
        K("total_inactive_anon", total_inactive_anon),
        K("total_active_anon", total_active_anon),
        K("total_inactive_file", total_inactive_file),
        K("total_active_file", total_active_file),
        K("total_unevictable", total_unevictable),
#undef K
    };
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        *(uint64_t *)((char *)s + keys[i].offset) = cg_kv_get(kv, keys[i].key);
}

static int stat_memory(const struct cgroup *cg, const char *dir, Metrics *m,
                       struct berth_error **err)
{
    _cleanup_free_ char *stat_path = xasprintf("%s/memory.stat", dir);
    _cleanup_free_ char *text = NULL;
    if (cg_read_file(stat_path, &text, err) < 0)
        return -1;
    Io__Containerd__Cgroups__V1__MemoryStat *s = NEW(memory_stat);
    m->memory = s;
    s->usage = NEW(memory_entry);
    s->swap = NEW(memory_entry);
    s->kernel = NEW(memory_entry);
    s->kernel_tcp = NEW(memory_entry);
    struct cg_kv kv = {0};
    int r = cg_kv_parse(text, stat_path, &kv, err);
    if (r == 0)
        fill_memory_stat(s, &kv);
    cg_kv_clear(&kv);
    if (r < 0)
        return -1;

    if (read_kv(dir, "memory.oom_control", &kv, err) < 0) {
        cg_kv_clear(&kv);
        return -1;
    }
    m->memory_oom_control = NEW(memory_oom_control);
    m->memory_oom_control->oom_kill_disable = cg_kv_get(&kv, "oom_kill_disable");
    m->memory_oom_control->under_oom = cg_kv_get(&kv, "under_oom");
    m->memory_oom_control->oom_kill = cg_kv_get(&kv, "oom_kill");
    cg_kv_clear(&kv);

    /* memory.<counter>, memory.memsw.<counter>, ...: the first file missing ends the walk,
     * leaving later entries zero, as in containerd (whose shim then ignores the error). */
    const struct {
        const char *module;
        MemoryEntry *entry;
    } modules[] = {
        {"", s->usage}, {"memsw.", s->swap}, {"kmem.", s->kernel}, {"kmem.tcp.", s->kernel_tcp}};
    for (size_t i = 0; i < ARRAY_SIZE(modules); i++) {
        MemoryEntry *e = modules[i].entry;
        const struct {
            const char *name;
            uint64_t *value;
        } counters[] = {{"usage_in_bytes", &e->usage},
                        {"max_usage_in_bytes", &e->max},
                        {"failcnt", &e->failcnt},
                        {"limit_in_bytes", &e->limit}};
        for (size_t j = 0; j < ARRAY_SIZE(counters); j++) {
            _cleanup_free_ char *name =
                xasprintf("memory.%s%s", modules[i].module, counters[j].name);
            if (read_uint(dir, name, counters[j].value, err) < 0)
                return -1;
        }
    }
    return 0;
}

/* A blkio line splits on spaces and colons: "8:0 Read 4096", "8:0 4096", "Total 4096". */
static size_t blkio_fields(char *line, char **f, size_t max)
{
    size_t n = 0;
    for (char *tok; (tok = strsep(&line, " :"));) {
        if (!*tok)
            continue;
        if (n < max)
            f[n] = tok;
        n++;
    }
    return n;
}

static const char *device_name(const struct cg_device *devices, size_t n, uint64_t major,
                               uint64_t minor)
{
    for (size_t i = 0; i < n; i++)
        if (devices[i].major == major && devices[i].minor == minor)
            return devices[i].name;
    return "";
}

static int blkio_read_entries(const char *dir, const char *name, const struct cg_device *devices,
                              size_t n_devices, BlkIOEntry ***entries, size_t *n,
                              struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("%s/blkio.%s", dir, name);
    _cleanup_free_ char *text = NULL;
    if (cg_read_file(path, &text, err) < 0)
        return -1;
    char *cursor = text, *line;
    while (cg_next_line(&cursor, &line)) {
        char *f[4];
        size_t nf = blkio_fields(line, f, ARRAY_SIZE(f));
        if (nf < 3) {
            if (nf == 2 && strcmp(f[0], "Total") == 0)
                continue;
            return err_make(err, ERR_UNKNOWN, 0, "%s: invalid line", path);
        }
        uint64_t major, minor, value;
        const char *op = "";
        size_t value_field = 2;
        if (nf == 4) {
            op = f[2];
            value_field = 3;
        }
        if (cg_parse_uint_strict(f[0], 64, &major) < 0 ||
            cg_parse_uint_strict(f[1], 64, &minor) < 0 ||
            cg_parse_uint_strict(f[value_field], 64, &value) < 0)
            return err_make(err, ERR_UNKNOWN, 0, "%s: invalid number in line", path);
        BlkIOEntry *e = NEW(blk_ioentry);
        e->device = xstrdup(device_name(devices, n_devices, major, minor));
        e->major = major;
        e->minor = minor;
        e->op = xstrdup(op);
        e->value = value;
        cg_append((void ***)entries, n, e);
    }
    return 0;
}

static int stat_blkio(const struct cgroup *cg, const char *dir, Metrics *m,
                      struct berth_error **err)
{
    Io__Containerd__Cgroups__V1__BlkIOStat *b = NEW(blk_iostat);
    m->blkio = b;
    const struct {
        const char *name;
        BlkIOEntry ***entries;
        size_t *n;
    } recursive[] = {
        {"sectors_recursive", &b->sectors_recursive, &b->n_sectors_recursive},
        {"io_service_bytes_recursive", &b->io_service_bytes_recursive,
         &b->n_io_service_bytes_recursive},
        {"io_serviced_recursive", &b->io_serviced_recursive, &b->n_io_serviced_recursive},
        {"io_queued_recursive", &b->io_queued_recursive, &b->n_io_queued_recursive},
        {"io_service_time_recursive", &b->io_service_time_recursive,
         &b->n_io_service_time_recursive},
        {"io_wait_time_recursive", &b->io_wait_time_recursive, &b->n_io_wait_time_recursive},
        {"io_merged_recursive", &b->io_merged_recursive, &b->n_io_merged_recursive},
        {"time_recursive", &b->io_time_recursive, &b->n_io_time_recursive},
    };
    /* The CFQ-era files exist only with that scheduler's accounting; otherwise (and when they
     * are all empty) the throttle counters stand in, as in containerd. */
    _cleanup_free_ char *probe = xasprintf("%s/blkio.io_serviced_recursive", dir);
    struct stat st;
    bool have_recursive = lstat(probe, &st) == 0;

    _cleanup_free_ char *partitions_path = xasprintf("%s/partitions", cg->proc_root);
    _cleanup_free_ char *partitions = NULL;
    if (cg_read_file(partitions_path, &partitions, err) < 0)
        return -1;
    struct cg_device *devices = NULL;
    size_t n_devices = 0;
    if (cg_parse_partitions(partitions, &devices, &n_devices, err) < 0)
        return -1;

    int r = 0;
    size_t total = 0;
    for (size_t i = 0; have_recursive && r == 0 && i < ARRAY_SIZE(recursive); i++) {
        r = blkio_read_entries(dir, recursive[i].name, devices, n_devices, recursive[i].entries,
                               recursive[i].n, err);
        total += *recursive[i].n;
    }
    if (r == 0 && total == 0) {
        r = blkio_read_entries(dir, "throttle.io_serviced", devices, n_devices,
                               &b->io_serviced_recursive, &b->n_io_serviced_recursive, err);
        if (r == 0)
            r = blkio_read_entries(dir, "throttle.io_service_bytes", devices, n_devices,
                                   &b->io_service_bytes_recursive, &b->n_io_service_bytes_recursive,
                                   err);
    }
    cg_devices_free(devices, n_devices);
    return r;
}

static size_t count_lines(const char *text)
{
    size_t n = 1;
    for (const char *p = text; (p = strchr(p, '\n')); p++)
        n++;
    return n;
}

static void rdma_entries(char *text, Io__Containerd__Cgroups__V1__RdmaEntry ***entries, size_t *n)
{
    for (char *line; (line = strsep(&text, "\n"));) {
        char *device;
        uint32_t handles, objects;
        if (!cg_parse_rdma_line(line, &device, &handles, &objects))
            continue;
        Io__Containerd__Cgroups__V1__RdmaEntry *e = NEW(rdma_entry);
        e->device = xstrdup(device);
        e->hca_handles = handles;
        e->hca_objects = objects;
        cg_append((void ***)entries, n, e);
    }
}

static int stat_rdma(const struct cgroup *cg, const char *dir, Metrics *m, struct berth_error **err)
{
    _cleanup_free_ char *current_path = xasprintf("%s/rdma.current", dir);
    _cleanup_free_ char *max_path = xasprintf("%s/rdma.max", dir);
    _cleanup_free_ char *current = NULL, *max = NULL;
    if (cg_read_file(current_path, &current, err) < 0 || cg_read_file(max_path, &max, err) < 0)
        return -1;
    /* containerd pairs the files line by line and gives up quietly when they disagree. */
    if (count_lines(current) != count_lines(max))
        return 0;
    m->rdma = NEW(rdma_stat);
    rdma_entries(current, &m->rdma->current, &m->rdma->n_current);
    rdma_entries(max, &m->rdma->limit, &m->rdma->n_limit);
    return 0;
}

static int stat_hugetlb(const struct cgroup *cg, const char *dir, Metrics *m,
                        struct berth_error **err)
{
    for (const char *size = cg->hugetlb_sizes; size && *size; size += strlen(size) + 1) {
        uint64_t usage, max, failcnt;
        _cleanup_free_ char *usage_name = xasprintf("hugetlb.%s.usage_in_bytes", size);
        _cleanup_free_ char *max_name = xasprintf("hugetlb.%s.max_usage_in_bytes", size);
        _cleanup_free_ char *failcnt_name = xasprintf("hugetlb.%s.failcnt", size);
        if (read_uint(dir, usage_name, &usage, err) < 0 ||
            read_uint(dir, max_name, &max, err) < 0 ||
            read_uint(dir, failcnt_name, &failcnt, err) < 0)
            return -1;
        Io__Containerd__Cgroups__V1__HugetlbStat *h = NEW(hugetlb_stat);
        h->usage = usage;
        h->max = max;
        h->failcnt = failcnt;
        h->pagesize = xstrdup(size);
        cg_append((void ***)&m->hugetlb, &m->n_hugetlb, h);
    }
    return 0;
}

typedef int (*stat_fn)(const struct cgroup *cg, const char *dir, Metrics *m,
                       struct berth_error **err);

int cg_stats_v1(const struct cgroup *cg, ProtobufCMessage **ret_metrics, struct berth_error **err)
{
    static const stat_fn stats[CGROUPS_CONTROLLER_COUNT] = {
        [CGROUPS_PIDS] = stat_pids,       [CGROUPS_CPU] = stat_cpu,
        [CGROUPS_CPUACCT] = stat_cpuacct, [CGROUPS_MEMORY] = stat_memory,
        [CGROUPS_BLKIO] = stat_blkio,     [CGROUPS_RDMA] = stat_rdma,
        [CGROUPS_HUGETLB] = stat_hugetlb,
    };
    Metrics *m = NEW(metrics);
    m->cpu = NEW(cpustat);
    m->cpu->usage = NEW(cpuusage);
    m->cpu->throttling = NEW(throttle);
    for (size_t c = 0; c < CGROUPS_CONTROLLER_COUNT; c++) {
        if (!cg->dir[c])
            continue;
        struct berth_error *local = NULL;
        if (stats[c](cg, cg->dir[c], m, &local) == 0)
            continue;
        /* A missing file (a controller without swap or kmem accounting, a cgroup removed under
         * us) is skipped, as containerd's shim asks with IgnoreNotExist. */
        if (local && local->errno_value == ENOENT) {
            err_free(local);
            continue;
        }
        cgroups_metrics_free(&m->base);
        return cg_error_pass(err, local);
    }
    *ret_metrics = &m->base;
    return 0;
}
