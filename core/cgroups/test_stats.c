/* Unit tests for resolving cgroups and reading their Metrics, on fake v1 and v2 trees. */
#include "containerd/cgroups/cgroup1/stats/metrics.pb-c.h"
#include "containerd/cgroups/cgroup2/stats/metrics.pb-c.h"
#include "core/cgroups/cgroups-internal.h"
#include "core/cgroups/test_tree.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

typedef Io__Containerd__Cgroups__V1__Metrics V1;
typedef Io__Containerd__Cgroups__V2__Metrics V2;

struct fake {
    char *root;
    char *cgroup_root, *proc_root, *hugepages_dir;
    struct cgroups_host host;
};

static int fake_setup(void **state)
{
    struct fake *f = xcalloc(1, sizeof(*f));
    f->root = tree_new();
    f->cgroup_root = xasprintf("%s/cgroup", f->root);
    f->proc_root = xasprintf("%s/proc", f->root);
    f->hugepages_dir = xasprintf("%s/hugepages", f->root);
    f->host = (struct cgroups_host){f->cgroup_root, f->proc_root, f->hugepages_dir};
    tree_mkdir(f->root, "hugepages/hugepages-2048kB");
    tree_write(f->root, "proc/partitions",
               "major minor  #blocks  name\n\n   8        0   1000 sda\n 253 0 10 dm-0\n");
    *state = f;
    return 0;
}

static int fake_teardown(void **state)
{
    struct fake *f = *state;
    tree_remove(f->root);
    free(f->root);
    free(f->cgroup_root);
    free(f->proc_root);
    free(f->hugepages_dir);
    free(f);
    return 0;
}

/* A v1 cgroup "/ctr" with every controller Berth reads, populated like a real kernel's. */
static void write_v1(struct fake *f)
{
    const char *r = f->root;
    tree_write(r, "proc/4242/cgroup",
               "13:rdma:/ctr\n12:hugetlb:/ctr\n11:pids:/ctr\n10:blkio:/ctr\n9:memory:/ctr\n"
               "4:cpu,cpuacct:/ctr\n1:name=systemd:/ctr\n0::/\n");
    char mountinfo[2048];
    const char *ctrls[] = {"rdma", "hugetlb", "pids", "blkio", "memory", "cpu,cpuacct"};
    size_t off = 0;
    for (size_t i = 0; i < ARRAY_SIZE(ctrls); i++)
        off += (size_t)snprintf(mountinfo + off, sizeof(mountinfo) - off,
                                "%zu 25 0:%zu / /sys/fs/cgroup/%s rw shared:1 - cgroup cgroup "
                                "rw,%s\n",
                                40 + i, 40 + i, ctrls[i], ctrls[i]);
    tree_write(r, "proc/self/mountinfo", mountinfo);

    tree_write(r, "cgroup/pids/ctr/pids.current", "3\n");
    tree_write(r, "cgroup/pids/ctr/pids.max", "max\n");

    tree_write(r, "cgroup/cpu/ctr/cpu.stat",
               "nr_periods 10\nnr_throttled 2\nthrottled_time 3000\nnr_bursts 0\n");
    tree_write(r, "cgroup/cpuacct/ctr/cpuacct.stat", "user 150\nsystem 50\n");
    tree_write(r, "cgroup/cpuacct/ctr/cpuacct.usage", "2000000000\n");
    tree_write(r, "cgroup/cpuacct/ctr/cpuacct.usage_percpu", "1500000000 500000000 \n");

    tree_write(r, "cgroup/memory/ctr/memory.stat",
               "cache 4096\nrss 8192\nrss_huge 0\nshmem 0\nmapped_file 1\ndirty 2\nwriteback 3\n"
               "pgpgin 4\npgpgout 5\npgfault 6\npgmajfault 7\ninactive_anon 8\nactive_anon 9\n"
               "inactive_file 10\nactive_file 11\nunevictable 12\n"
               "hierarchical_memory_limit 9223372036854771712\n"
               "hierarchical_memsw_limit 9223372036854771712\ntotal_cache 14\ntotal_rss 15\n"
               "total_rss_huge 16\ntotal_mapped_file 17\ntotal_dirty 18\ntotal_writeback 19\n"
               "total_pgpgin 20\ntotal_pgpgout 21\ntotal_pgfault 22\ntotal_pgmajfault 23\n"
               "total_inactive_anon 24\ntotal_active_anon 25\ntotal_inactive_file 26\n"
               "total_active_file 27\ntotal_unevictable 28\n");
    tree_write(r, "cgroup/memory/ctr/memory.oom_control",
               "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
    const char *modules[] = {"", "memsw.", "kmem.", "kmem.tcp."};
    const char *counters[] = {"usage_in_bytes", "max_usage_in_bytes", "failcnt", "limit_in_bytes"};
    for (size_t m = 0; m < ARRAY_SIZE(modules); m++)
        for (size_t c = 0; c < ARRAY_SIZE(counters); c++) {
            _cleanup_free_ char *name =
                xasprintf("cgroup/memory/ctr/memory.%s%s", modules[m], counters[c]);
            _cleanup_free_ char *value = xasprintf("%zu\n", 100 * (m + 1) + c);
            tree_write(r, name, value);
        }

    tree_write(r, "cgroup/blkio/ctr/blkio.throttle.io_serviced",
               "8:0 Read 5\n8:0 Write 6\n8:0 Sync 7\n8:0 Async 4\n8:0 Discard 0\n8:0 Total 11\n"
               "253:0 Read 1\nTotal 12\n");
    tree_write(r, "cgroup/blkio/ctr/blkio.throttle.io_service_bytes",
               "8:0 Read 4096\n8:0 Write 8192\n9:9 Read 1\nTotal 12288\n");

    tree_write(r, "cgroup/rdma/ctr/rdma.current", "mlx4_0 hca_handle=2 hca_object=20\n");
    tree_write(r, "cgroup/rdma/ctr/rdma.max", "mlx4_0 hca_handle=max hca_object=max\n");

    tree_write(r, "cgroup/hugetlb/ctr/hugetlb.2MB.usage_in_bytes", "2097152\n");
    tree_write(r, "cgroup/hugetlb/ctr/hugetlb.2MB.max_usage_in_bytes", "4194304\n");
    tree_write(r, "cgroup/hugetlb/ctr/hugetlb.2MB.failcnt", "1\n");
}

static V1 *stats_v1(struct fake *f)
{
    _cleanup_cgroup_ struct cgroup *cg = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    if (cgroups_open_pid(&f->host, CGROUPS_MODE_HYBRID, 4242, &cg, &err) < 0)
        fail_msg("open: %s", err->message);
    ProtobufCMessage *m = NULL;
    if (cgroups_stats(cg, &m, &err) < 0)
        fail_msg("stats: %s", err->message);
    assert_string_equal(m->descriptor->name, "io.containerd.cgroups.v1.Metrics");
    return (V1 *)m;
}

static struct berth_error *stats_v1_error(struct fake *f)
{
    _cleanup_cgroup_ struct cgroup *cg = NULL;
    struct berth_error *err = NULL;
    if (cgroups_open_pid(&f->host, CGROUPS_MODE_LEGACY, 4242, &cg, &err) < 0)
        fail_msg("open: %s", err->message);
    ProtobufCMessage *m = NULL;
    assert_int_equal(cgroups_stats(cg, &m, &err), -1);
    assert_null(m);
    assert_non_null(err);
    return err;
}

static void test_v1_open(void **state)
{
    struct fake *f = *state;
    write_v1(f);
    _cleanup_cgroup_ struct cgroup *cg = NULL;
    assert_int_equal(cgroups_open_pid(&f->host, CGROUPS_MODE_LEGACY, 4242, &cg, NULL), 0);
    assert_false(cgroups_is_unified(cg));
    for (int c = 0; c < CGROUPS_CONTROLLER_COUNT; c++) {
        _cleanup_free_ char *want =
            xasprintf("%s/%s/ctr", f->cgroup_root, cgroups_controller_name(c));
        assert_string_equal(cgroups_path(cg, c), want);
    }
    cg = cgroups_free(cg);

    /* the same by path */
    assert_int_equal(cgroups_open_path(&f->host, CGROUPS_MODE_LEGACY, "/ctr", &cg, NULL), 0);
    assert_non_null(cgroups_path(cg, CGROUPS_MEMORY));
}

static void test_v1_stats_full(void **state)
{
    struct fake *f = *state;
    write_v1(f);
    V1 *m = stats_v1(f);

    assert_non_null(m->pids);
    assert_int_equal(m->pids->current, 3);
    assert_int_equal(m->pids->limit, 0); /* "max" is 0 in v1 */

    long hz = sysconf(_SC_CLK_TCK);
    assert_int_equal(m->cpu->usage->total, 2000000000ull);
    assert_int_equal(m->cpu->usage->user, 150ull * 1000000000ull / (uint64_t)hz);
    assert_int_equal(m->cpu->usage->kernel, 50ull * 1000000000ull / (uint64_t)hz);
    assert_int_equal(m->cpu->usage->n_per_cpu, 2);
    assert_int_equal(m->cpu->usage->per_cpu[0], 1500000000ull);
    assert_int_equal(m->cpu->usage->per_cpu[1], 500000000ull);
    assert_int_equal(m->cpu->throttling->periods, 10);
    assert_int_equal(m->cpu->throttling->throttled_periods, 2);
    assert_int_equal(m->cpu->throttling->throttled_time, 3000);

    Io__Containerd__Cgroups__V1__MemoryStat *s = m->memory;
    assert_non_null(s);
    assert_int_equal(s->cache, 4096);
    assert_int_equal(s->rss, 8192);
    assert_int_equal(s->mapped_file, 1);
    assert_int_equal(s->pg_pg_in, 4);
    assert_int_equal(s->pg_maj_fault, 7);
    assert_int_equal(s->unevictable, 12);
    assert_int_equal(s->hierarchical_memory_limit, 9223372036854771712ull);
    assert_int_equal(s->hierarchical_swap_limit, 9223372036854771712ull);
    assert_int_equal(s->total_cache, 14);
    assert_int_equal(s->total_pg_pg_out, 21);
    assert_int_equal(s->total_unevictable, 28);
    /* usage_in_bytes, max_usage_in_bytes, failcnt, limit_in_bytes = 100m+0..3 */
    assert_int_equal(s->usage->usage, 100);
    assert_int_equal(s->usage->max, 101);
    assert_int_equal(s->usage->failcnt, 102);
    assert_int_equal(s->usage->limit, 103);
    assert_int_equal(s->swap->usage, 200);
    assert_int_equal(s->kernel->limit, 303);
    assert_int_equal(s->kernel_tcp->failcnt, 402);
    assert_non_null(m->memory_oom_control);
    assert_int_equal(m->memory_oom_control->oom_kill, 4);

    /* no *_recursive files: the throttle counters, in file order, Total lines skipped */
    Io__Containerd__Cgroups__V1__BlkIOStat *b = m->blkio;
    assert_non_null(b);
    assert_int_equal(b->n_io_serviced_recursive, 7);
    assert_string_equal(b->io_serviced_recursive[0]->device, "/dev/sda");
    assert_string_equal(b->io_serviced_recursive[0]->op, "Read");
    assert_int_equal(b->io_serviced_recursive[0]->value, 5);
    assert_string_equal(b->io_serviced_recursive[6]->device, "/dev/dm-0");
    assert_int_equal(b->io_serviced_recursive[6]->major, 253);
    assert_int_equal(b->n_io_service_bytes_recursive, 3);
    assert_int_equal(b->io_service_bytes_recursive[1]->value, 8192);
    assert_string_equal(b->io_service_bytes_recursive[2]->device, ""); /* not in partitions */
    assert_int_equal(b->n_sectors_recursive, 0);

    assert_non_null(m->rdma);
    assert_int_equal(m->rdma->n_current, 1);
    assert_string_equal(m->rdma->current[0]->device, "mlx4_0");
    assert_int_equal(m->rdma->current[0]->hca_handles, 2);
    assert_int_equal(m->rdma->current[0]->hca_objects, 20);
    assert_true(m->rdma->limit[0]->hca_handles == UINT32_MAX);

    assert_int_equal(m->n_hugetlb, 1);
    assert_string_equal(m->hugetlb[0]->pagesize, "2MB");
    assert_int_equal(m->hugetlb[0]->usage, 2097152);
    assert_int_equal(m->hugetlb[0]->max, 4194304);
    assert_int_equal(m->hugetlb[0]->failcnt, 1);

    assert_null(m->cgroup_stats);
    assert_int_equal(m->n_network, 0);

    /* the encoding round-trips through protobuf-c's decoder */
    size_t len = protobuf_c_message_get_packed_size(&m->base);
    uint8_t *buf = xmalloc(len);
    protobuf_c_message_pack(&m->base, buf);
    V1 *back = io__containerd__cgroups__v1__metrics__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_int_equal(back->memory->kernel_tcp->failcnt, 402);
    assert_int_equal(back->blkio->n_io_serviced_recursive, 7);
    assert_string_equal(back->hugetlb[0]->pagesize, "2MB");
    io__containerd__cgroups__v1__metrics__free_unpacked(back, NULL);
    free(buf);
    cgroups_metrics_free(&m->base);
}

static void test_v1_blkio_recursive(void **state)
{
    struct fake *f = *state;
    write_v1(f);
    const char *names[] = {"sectors_recursive",         "io_service_bytes_recursive",
                           "io_serviced_recursive",     "io_queued_recursive",
                           "io_service_time_recursive", "io_wait_time_recursive",
                           "io_merged_recursive",       "time_recursive"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        _cleanup_free_ char *rel = xasprintf("cgroup/blkio/ctr/blkio.%s", names[i]);
        tree_write(f->root, rel, i == 0 ? "8:0 77\n" : "8:0 Read 1\n8:0 Write 2\nTotal 3\n");
    }
    V1 *m = stats_v1(f);
    assert_int_equal(m->blkio->n_sectors_recursive, 1);
    assert_string_equal(m->blkio->sectors_recursive[0]->op, "");
    assert_int_equal(m->blkio->sectors_recursive[0]->value, 77);
    assert_int_equal(m->blkio->n_io_time_recursive, 2);
    /* the recursive files had entries, so the throttle files are not read */
    assert_int_equal(m->blkio->n_io_serviced_recursive, 2);
    cgroups_metrics_free(&m->base);

    /* all recursive files empty: falls back to the throttle counters */
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        _cleanup_free_ char *rel = xasprintf("cgroup/blkio/ctr/blkio.%s", names[i]);
        tree_write(f->root, rel, "Total 0\n");
    }
    m = stats_v1(f);
    assert_int_equal(m->blkio->n_sectors_recursive, 0);
    assert_int_equal(m->blkio->n_io_serviced_recursive, 7);
    cgroups_metrics_free(&m->base);
}

/* Missing files leave parts unset or partial, as containerd's IgnoreNotExist does. */
static void test_v1_missing_files(void **state)
{
    struct fake *f = *state;
    write_v1(f);
    tree_unlink(f->root, "cgroup/pids/ctr/pids.max");
    tree_unlink(f->root, "cgroup/memory/ctr/memory.memsw.failcnt");
    tree_unlink(f->root, "cgroup/cpuacct/ctr/cpuacct.usage_percpu");
    tree_unlink(f->root, "cgroup/rdma/ctr/rdma.max");
    tree_unlink(f->root, "cgroup/hugetlb/ctr/hugetlb.2MB.failcnt");
    tree_unlink(f->root, "proc/partitions");
    V1 *m = stats_v1(f);
    assert_null(m->pids);
    assert_int_equal(m->memory->usage->limit, 103);
    assert_int_equal(m->memory->swap->usage, 200);
    assert_int_equal(m->memory->swap->max, 201);
    assert_int_equal(m->memory->swap->failcnt, 0); /* the walk stopped here */
    assert_int_equal(m->memory->kernel->usage, 0);
    assert_int_equal(m->cpu->usage->total, 0); /* cpuacct all or nothing */
    assert_int_equal(m->cpu->throttling->periods, 10);
    assert_null(m->rdma);
    assert_int_equal(m->n_hugetlb, 0);
    assert_non_null(m->blkio); /* set before partitions are read */
    assert_int_equal(m->blkio->n_io_serviced_recursive, 0);
    cgroups_metrics_free(&m->base);

    tree_unlink(f->root, "cgroup/memory/ctr/memory.oom_control");
    m = stats_v1(f);
    assert_non_null(m->memory);
    assert_int_equal(m->memory->cache, 4096);
    assert_int_equal(m->memory->usage->usage, 0);
    assert_null(m->memory_oom_control);
    cgroups_metrics_free(&m->base);

    tree_unlink(f->root, "cgroup/memory/ctr/memory.stat");
    m = stats_v1(f);
    assert_null(m->memory);
    cgroups_metrics_free(&m->base);
}

static void test_v1_rdma_mismatch(void **state)
{
    struct fake *f = *state;
    write_v1(f);
    tree_write(f->root, "cgroup/rdma/ctr/rdma.max", "a hca_handle=1 hca_object=1\nb x y\n");
    V1 *m = stats_v1(f);
    assert_null(m->rdma);
    cgroups_metrics_free(&m->base);
}

static void test_v1_malformed(void **state)
{
    struct fake *f = *state;
    const struct {
        const char *file, *content, *needle;
    } cases[] = {
        {"cgroup/memory/ctr/memory.stat", "cache 1\nrss\n", "memory.stat"},
        {"cgroup/memory/ctr/memory.oom_control", "under_oom yes\n", "oom_control"},
        {"cgroup/memory/ctr/memory.usage_in_bytes", "lots\n", "usage_in_bytes"},
        {"cgroup/cpu/ctr/cpu.stat", "nr_periods 1 2\n", "cpu.stat"},
        {"cgroup/cpuacct/ctr/cpuacct.stat", "user 1\n", "cpuacct.stat"},
        {"cgroup/cpuacct/ctr/cpuacct.usage_percpu", "1 two 3\n", "usage_percpu"},
        {"cgroup/pids/ctr/pids.current", "\n", "pids.current"},
        {"cgroup/blkio/ctr/blkio.throttle.io_serviced", "8:0 Read 1\nbogus\n", "io_serviced"},
        {"cgroup/blkio/ctr/blkio.throttle.io_serviced", "8:x Read 1\n", "io_serviced"},
        {"cgroup/hugetlb/ctr/hugetlb.2MB.failcnt", "-\n", "failcnt"},
        {"proc/partitions", "h\n\nx y 1 sda\n", "partitions"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        write_v1(f);
        tree_write(f->root, cases[i].file, cases[i].content);
        struct berth_error *err = stats_v1_error(f);
        assert_int_equal(err->kind, ERR_UNKNOWN);
        if (!strstr(err->message, cases[i].needle))
            fail_msg("case %zu: %s", i, err->message);
        err_free(err);
    }
    /* a file too large to be a cgroup file */
    write_v1(f);
    char *big = xmalloc((CGROUPS_MAX_FILE + 1) + 1);
    memset(big, '1', (CGROUPS_MAX_FILE + 1));
    big[(CGROUPS_MAX_FILE + 1)] = '\0';
    tree_write(f->root, "cgroup/cpuacct/ctr/cpuacct.usage_percpu", big);
    free(big);
    struct berth_error *err = stats_v1_error(f);
    assert_int_equal(err->kind, ERR_RESOURCE_EXHAUSTED);
    err_free(err);
}

static void test_v1_open_errors(void **state)
{
    struct fake *f = *state;
    write_v1(f);
    struct cgroup *cg = NULL;
    struct berth_error *err = NULL;

    assert_int_equal(cgroups_open_pid(&f->host, CGROUPS_MODE_LEGACY, 999, &cg, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    assert_non_null(strstr(err->message, "process 999"));
    err = (err_free(err), NULL);

    assert_int_equal(cgroups_open_pid(&f->host, CGROUPS_MODE_UNAVAILABLE, 4242, &cg, &err), -1);
    assert_int_equal(err->kind, ERR_FAILED_PRECONDITION);
    err = (err_free(err), NULL);

    assert_int_equal(cgroups_open_pid(&f->host, CGROUPS_MODE_LEGACY, 0, &cg, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    err = (err_free(err), NULL);

    tree_write(f->root, "proc/4242/cgroup", "9:memory:/ctr\nnonsense\n");
    assert_int_equal(cgroups_open_pid(&f->host, CGROUPS_MODE_LEGACY, 4242, &cg, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    err = (err_free(err), NULL);

    tree_write(f->root, "proc/4242/cgroup", "9:memory:/ctr/../../../etc\n");
    assert_int_equal(cgroups_open_pid(&f->host, CGROUPS_MODE_LEGACY, 4242, &cg, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    err = (err_free(err), NULL);

    /* the cgroup was removed: no controller directory left */
    tree_write(f->root, "proc/4242/cgroup", "9:memory:/gone\n11:pids:/gone\n");
    assert_int_equal(cgroups_open_pid(&f->host, CGROUPS_MODE_LEGACY, 4242, &cg, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    assert_non_null(strstr(err->message, "cgroup deleted"));
    err = (err_free(err), NULL);

    assert_int_equal(cgroups_open_path(&f->host, CGROUPS_MODE_LEGACY, "ctr", &cg, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    err = (err_free(err), NULL);
    assert_int_equal(cgroups_open_path(&f->host, CGROUPS_MODE_LEGACY, "/none", &cg, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    err = (err_free(err), NULL);
    assert_null(cg);
}

/* Inside a cgroup namespace or a bind-mounted subtree the mount root is not "/". */
static void test_v1_mount_root(void **state)
{
    struct fake *f = *state;
    tree_write(f->root, "proc/77/cgroup", "9:memory:/outer/inner\n11:pids:/elsewhere\n");
    tree_write(f->root, "proc/self/mountinfo",
               "31 25 0:27 /outer /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
               "32 25 0:28 /other /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n");
    tree_mkdir(f->root, "cgroup/memory/inner");
    tree_mkdir(f->root, "cgroup/pids/elsewhere");
    _cleanup_cgroup_ struct cgroup *cg = NULL;
    assert_int_equal(cgroups_open_pid(&f->host, CGROUPS_MODE_LEGACY, 77, &cg, NULL), 0);
    _cleanup_free_ char *want = xasprintf("%s/memory/inner", f->cgroup_root);
    assert_string_equal(cgroups_path(cg, CGROUPS_MEMORY), want);
    /* a path outside the mount root is taken as it is */
    _cleanup_free_ char *want_pids = xasprintf("%s/pids/elsewhere", f->cgroup_root);
    assert_string_equal(cgroups_path(cg, CGROUPS_PIDS), want_pids);
    assert_null(cgroups_path(cg, CGROUPS_CPU));
}

static void write_v2(struct fake *f)
{
    const char *r = f->root;
    tree_write(r, "proc/4243/cgroup", "0::/pod/ctr\n");
    tree_write(r, "cgroup/pod/ctr/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma\n");
    tree_write(r, "cgroup/pod/ctr/cgroup.events", "populated 1\nfrozen 0\n");
    tree_write(r, "cgroup/pod/ctr/pids.current", "5\n");
    tree_write(r, "cgroup/pod/ctr/pids.max", "max\n");
    tree_write(r, "cgroup/pod/ctr/cpu.stat",
               "usage_usec 1000\nuser_usec 600\nsystem_usec 400\nnr_periods 7\nnr_throttled 1\n"
               "throttled_usec 50\nnr_bursts 0\nburst_usec 0\n");
    tree_write(r, "cgroup/pod/ctr/cpu.pressure",
               "some avg10=0.50 avg60=0.25 avg300=0.10 total=1234\n"
               "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
    tree_write(r, "cgroup/pod/ctr/memory.stat",
               "anon 100\nfile 200\nkernel 50\nkernel_stack 3\nslab 4\nsock 5\nshmem 6\n"
               "file_mapped 7\nfile_dirty 8\nfile_writeback 9\nanon_thp 10\ninactive_anon 11\n"
               "active_anon 12\ninactive_file 13\nactive_file 14\nunevictable 15\n"
               "slab_reclaimable 16\nslab_unreclaimable 17\npgfault 18\npgmajfault 19\n"
               "workingset_refault 20\nworkingset_activate 21\nworkingset_nodereclaim 22\n"
               "pgrefill 23\npgscan 24\npgsteal 25\npgactivate 26\npgdeactivate 27\n"
               "pglazyfree 28\npglazyfreed 29\nthp_fault_alloc 30\nthp_collapse_alloc 31\n");
    tree_write(r, "cgroup/pod/ctr/memory.current", "300\n");
    tree_write(r, "cgroup/pod/ctr/memory.max", "max\n");
    tree_write(r, "cgroup/pod/ctr/memory.peak", "400\n");
    tree_write(r, "cgroup/pod/ctr/memory.swap.current", "0\n");
    tree_write(r, "cgroup/pod/ctr/memory.swap.max", "1048576\n");
    tree_write(r, "cgroup/pod/ctr/memory.events", "low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\n");
    tree_write(r, "cgroup/pod/ctr/memory.pressure", "some avg10=1.00 avg60=0 avg300=0 total=9\n");
    tree_write(r, "cgroup/pod/ctr/io.stat",
               "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
               "253:0 rbytes=1 wbytes=bad rios=3 junk\n");
    tree_write(r, "cgroup/pod/ctr/rdma.current", "mlx5_0 hca_handle=1 hca_object=2\n");
    tree_write(r, "cgroup/pod/ctr/rdma.max", "mlx5_0 hca_handle=max hca_object=10\n");
    tree_write(r, "cgroup/pod/ctr/hugetlb.2MB.current", "2097152\n");
    tree_write(r, "cgroup/pod/ctr/hugetlb.2MB.max", "max\n");
}

static V2 *stats_v2(struct fake *f, struct berth_error **ret_err)
{
    _cleanup_cgroup_ struct cgroup *cg = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    if (cgroups_open_pid(&f->host, CGROUPS_MODE_UNIFIED, 4243, &cg, &err) < 0)
        fail_msg("open: %s", err->message);
    assert_true(cgroups_is_unified(cg));
    ProtobufCMessage *m = NULL;
    if (cgroups_stats(cg, &m, ret_err) < 0) {
        if (!ret_err)
            fail_msg("stats failed");
        return NULL;
    }
    assert_string_equal(m->descriptor->name, "io.containerd.cgroups.v2.Metrics");
    return (V2 *)m;
}

static void test_v2_stats_full(void **state)
{
    struct fake *f = *state;
    write_v2(f);
    V2 *m = stats_v2(f, NULL);
    assert_int_equal(m->pids->current, 5);
    assert_true(m->pids->limit == UINT64_MAX);
    assert_int_equal(m->cpu->usage_usec, 1000);
    assert_int_equal(m->cpu->user_usec, 600);
    assert_int_equal(m->cpu->system_usec, 400);
    assert_int_equal(m->cpu->nr_periods, 7);
    assert_int_equal(m->cpu->nr_throttled, 1);
    assert_int_equal(m->cpu->throttled_usec, 50);
    assert_non_null(m->cpu->psi);
    assert_true(m->cpu->psi->some->avg10 == 0.5);
    assert_int_equal(m->cpu->psi->some->total, 1234);
    assert_non_null(m->cpu->psi->full);

    Io__Containerd__Cgroups__V2__MemoryStat *s = m->memory;
    assert_int_equal(s->anon, 100);
    assert_int_equal(s->file, 200);
    assert_int_equal(s->kernel_stack, 3);
    assert_int_equal(s->anon_thp, 10);
    assert_int_equal(s->slab_unreclaimable, 17);
    assert_int_equal(s->workingset_nodereclaim, 22);
    assert_int_equal(s->pglazyfreed, 29);
    assert_int_equal(s->thp_collapse_alloc, 31);
    assert_int_equal(s->usage, 300);
    assert_true(s->usage_limit == UINT64_MAX);
    assert_int_equal(s->max_usage, 400);
    assert_int_equal(s->swap_usage, 0);
    assert_int_equal(s->swap_limit, 1048576);
    assert_int_equal(s->swap_max_usage, 0); /* memory.swap.peak missing */
    assert_non_null(s->psi->some);
    assert_null(s->psi->full);

    assert_non_null(m->memory_events);
    assert_int_equal(m->memory_events->low, 1);
    assert_int_equal(m->memory_events->oom, 4);
    assert_int_equal(m->memory_events->oom_kill, 5);

    assert_int_equal(m->io->n_usage, 2);
    assert_int_equal(m->io->usage[0]->major, 8);
    assert_int_equal(m->io->usage[0]->rbytes, 4096);
    assert_int_equal(m->io->usage[0]->wios, 2);
    assert_int_equal(m->io->usage[1]->major, 253);
    assert_int_equal(m->io->usage[1]->rbytes, 1);
    assert_int_equal(m->io->usage[1]->wbytes, 0); /* bad value ignored */
    assert_int_equal(m->io->usage[1]->rios, 3);
    assert_null(m->io->psi); /* io.pressure missing */

    assert_int_equal(m->rdma->n_current, 1);
    assert_int_equal(m->rdma->current[0]->hca_objects, 2);
    assert_true(m->rdma->limit[0]->hca_handles == UINT32_MAX);

    assert_int_equal(m->n_hugetlb, 1);
    assert_string_equal(m->hugetlb[0]->pagesize, "2MB");
    assert_int_equal(m->hugetlb[0]->current, 2097152);
    assert_true(m->hugetlb[0]->max == UINT64_MAX);

    size_t len = protobuf_c_message_get_packed_size(&m->base);
    uint8_t *buf = xmalloc(len);
    protobuf_c_message_pack(&m->base, buf);
    V2 *back = io__containerd__cgroups__v2__metrics__unpack(NULL, len, buf);
    assert_non_null(back);
    assert_int_equal(back->memory->thp_collapse_alloc, 31);
    assert_true(back->cpu->psi->some->avg60 == 0.25);
    io__containerd__cgroups__v2__metrics__free_unpacked(back, NULL);
    free(buf);
    cgroups_metrics_free(&m->base);
}

static void test_v2_sparse(void **state)
{
    struct fake *f = *state;
    write_v2(f);
    /* cpu and memory not enabled: their .stat files are not read */
    tree_write(f->root, "cgroup/pod/ctr/cgroup.controllers", "pids\n");
    tree_unlink(f->root, "cgroup/pod/ctr/memory.events");
    tree_unlink(f->root, "cgroup/pod/ctr/pids.current");
    tree_write(f->root, "cgroup/pod/ctr/cpu.pressure", "some avg10\n");
    tree_write(f->root, "cgroup/pod/ctr/io.stat", "x:0 rbytes=1\n8:0 rbytes=1\n");
    V2 *m = stats_v2(f, NULL);
    assert_int_equal(m->cpu->usage_usec, 0);
    assert_int_equal(m->memory->anon, 0);
    assert_int_equal(m->memory->usage, 300); /* memory.current is read regardless */
    assert_null(m->memory_events);
    assert_int_equal(m->pids->current, 0);
    assert_null(m->cpu->psi);            /* malformed PSI: none */
    assert_int_equal(m->io->n_usage, 0); /* a bad device number ends the list */
    assert_non_null(m->rdma);
    cgroups_metrics_free(&m->base);
}

static void test_v2_errors(void **state)
{
    struct fake *f = *state;
    const struct {
        const char *file, *content;
    } cases[] = {
        {"cgroup/pod/ctr/cpu.stat", "usage_usec\n"},
        {"cgroup/pod/ctr/memory.stat", "anon x\n"},
        {"cgroup/pod/ctr/memory.events", "oom_kill 1 2\n"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        write_v2(f);
        tree_write(f->root, cases[i].file, cases[i].content);
        struct berth_error *err = NULL;
        assert_null(stats_v2(f, &err));
        assert_int_equal(err->kind, ERR_UNKNOWN);
        err_free(err);
    }
    write_v2(f);
    tree_unlink(f->root, "cgroup/pod/ctr/cgroup.controllers");
    struct berth_error *err = NULL;
    assert_null(stats_v2(f, &err));
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    err = (err_free(err), NULL);

    struct cgroup *cg = NULL;
    tree_write(f->root, "proc/4243/cgroup", "1:memory:/x\n");
    assert_int_equal(cgroups_open_pid(&f->host, CGROUPS_MODE_UNIFIED, 4243, &cg, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    err = (err_free(err), NULL);
    tree_write(f->root, "proc/4243/cgroup", "0::/../x\n");
    assert_int_equal(cgroups_open_pid(&f->host, CGROUPS_MODE_UNIFIED, 4243, &cg, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    err = (err_free(err), NULL);
    tree_write(f->root, "proc/4243/cgroup", "0::/pod/none\n");
    assert_int_equal(cgroups_open_pid(&f->host, CGROUPS_MODE_UNIFIED, 4243, &cg, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    err = (err_free(err), NULL);
    assert_null(cg);
}

static void test_mode_detect(void **state)
{
    struct fake *f = *state;
    /* a plain directory is not cgroup2: legacy, as containerd decides */
    assert_int_equal(cgroups_mode_detect(f->root), CGROUPS_MODE_LEGACY);
    _cleanup_free_ char *missing = xasprintf("%s/missing", f->root);
    assert_int_equal(cgroups_mode_detect(missing), CGROUPS_MODE_UNAVAILABLE);
    assert_string_equal(cgroups_mode_name(CGROUPS_MODE_HYBRID), "hybrid");
    /* this host's own mode is one of the three */
    enum cgroups_mode mode = cgroups_mode_detect(NULL);
    print_message("host cgroup mode: %s\n", cgroups_mode_name(mode));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_v1_open, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_v1_stats_full, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_v1_blkio_recursive, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_v1_missing_files, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_v1_rdma_mismatch, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_v1_malformed, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_v1_open_errors, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_v1_mount_root, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_v2_stats_full, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_v2_sparse, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_v2_errors, fake_setup, fake_teardown),
        cmocka_unit_test_setup_teardown(test_mode_detect, fake_setup, fake_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
