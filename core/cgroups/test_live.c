/*
 * Root-only tests on this host's real v1 hierarchy: a child process in fresh cgroups, its stats,
 * and an OOM kill seen by the watcher. Skips where that is not possible; removes what it made.
 */
#include "containerd/cgroups/cgroup1/stats/metrics.pb-c.h"
#include "containerd/cgroups/cgroup2/stats/metrics.pb-c.h"
#include "core/cgroups/cgroups.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

typedef Io__Containerd__Cgroups__V1__Metrics V1;

/* A bound on waiting for the kernel, only so that a broken watcher fails instead of hanging. */
#define FAILSAFE_MS 60000

static const enum cgroups_controller used[] = {CGROUPS_MEMORY, CGROUPS_PIDS, CGROUPS_CPU,
                                               CGROUPS_CPUACCT};

struct live {
    enum cgroups_mode mode;
    char *dirs[ARRAY_SIZE(used)]; /* created by us, removed in teardown */
    pid_t child;
    int to_child, from_child;
};

static bool host_usable(enum cgroups_mode *ret_mode)
{
    if (geteuid() != 0) {
        print_message("skip: needs root\n");
        return false;
    }
    enum cgroups_mode mode = cgroups_mode_detect(NULL);
    if (mode != CGROUPS_MODE_LEGACY && mode != CGROUPS_MODE_HYBRID) {
        print_message("skip: cgroup mode is %s, not v1\n", cgroups_mode_name(mode));
        return false;
    }
    *ret_mode = mode;
    return true;
}

/* The child: waits for commands. 'w' touches 4 MiB and burns a little CPU, answers 'k';
 * 'o' allocates without end (until the OOM killer ends it). */
static void child_main(int in, int out)
{
    char cmd;
    while (read(in, &cmd, 1) == 1) {
        if (cmd == 'w') {
            size_t len = 4u << 20;
            char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED)
                _exit(3);
            for (size_t i = 0; i < len; i += 4096)
                p[i] = 1;
            volatile uint64_t x = 0;
            for (uint64_t i = 0; i < 20000000; i++)
                x += i;
            if (write(out, "k", 1) != 1)
                _exit(4);
        } else if (cmd == 'o') {
            for (;;) {
                size_t len = 1u << 20;
                char *p =
                    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                    _exit(5);
                memset(p, 1, len);
            }
        }
    }
    _exit(0);
}

static void write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        fail_msg("open %s: %s", path, strerror(errno));
    ssize_t n = write(fd, text, strlen(text));
    int saved = errno;
    close(fd);
    if (n != (ssize_t)strlen(text))
        fail_msg("write %s to %s: %s", text, path, strerror(saved));
}

static int live_setup(void **state)
{
    struct live *l = xcalloc(1, sizeof(*l));
    l->child = -1;
    l->to_child = l->from_child = -1;
    *state = l;
    if (!host_usable(&l->mode))
        return 0;
    _cleanup_cgroup_ struct cgroup *self = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    if (cgroups_open_pid(NULL, l->mode, getpid(), &self, &err) < 0) {
        print_message("skip: own cgroup: %s\n", err->message);
        return 0;
    }
    /* Children of our own cgroups, so parallel runs and other tenants are not disturbed. */
    for (size_t i = 0; i < ARRAY_SIZE(used); i++) {
        const char *parent = cgroups_path(self, used[i]);
        if (!parent)
            continue;
        char *dir = xasprintf("%s/berth-cgtest-%d", parent, (int)getpid());
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) { /* EEXIST: co-mounted cpu,cpuacct */
            print_message("skip: mkdir %s: %s\n", dir, strerror(errno));
            free(dir);
            continue;
        }
        l->dirs[i] = dir;
    }
    if (!l->dirs[0]) {
        print_message("skip: no memory cgroup of our own\n");
        return 0;
    }
    int down[2], up[2];
    assert_int_equal(pipe2(down, O_CLOEXEC), 0);
    assert_int_equal(pipe2(up, O_CLOEXEC), 0);
    l->child = fork();
    assert_true(l->child >= 0);
    if (l->child == 0) {
        close(down[1]);
        close(up[0]);
        child_main(down[0], up[1]);
    }
    close(down[0]);
    close(up[1]);
    l->to_child = down[1];
    l->from_child = up[0];
    return 0;
}

static int live_teardown(void **state)
{
    struct live *l = *state;
    if (l->child > 0) {
        kill(l->child, SIGKILL);
        waitpid(l->child, NULL, 0);
    }
    if (l->to_child >= 0)
        close(l->to_child);
    if (l->from_child >= 0)
        close(l->from_child);
    for (size_t i = ARRAY_SIZE(used); i-- > 0;) {
        if (l->dirs[i] && rmdir(l->dirs[i]) < 0 && errno != ENOENT)
            print_message("warning: rmdir %s: %s\n", l->dirs[i], strerror(errno));
        free(l->dirs[i]);
    }
    free(l);
    return 0;
}

static V1 *stats_of(pid_t pid, enum cgroups_mode mode, struct cgroup **ret_cg)
{
    _cleanup_error_ struct berth_error *err = NULL;
    struct cgroup *cg = NULL;
    if (cgroups_open_pid(NULL, mode, pid, &cg, &err) < 0)
        fail_msg("open %d: %s", (int)pid, err->message);
    ProtobufCMessage *m = NULL;
    if (cgroups_stats(cg, &m, &err) < 0)
        fail_msg("stats %d: %s", (int)pid, err->message);
    assert_string_equal(m->descriptor->name, "io.containerd.cgroups.v1.Metrics");
    if (ret_cg)
        *ret_cg = cg;
    else
        cgroups_free(cg);
    return (V1 *)m;
}

static V1 *stats_of_path(const struct cgroup *cg)
{
    _cleanup_error_ struct berth_error *err = NULL;
    ProtobufCMessage *m = NULL;
    if (cgroups_stats(cg, &m, &err) < 0)
        fail_msg("stats: %s", err->message);
    return (V1 *)m;
}

static bool wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r;
    do
        r = poll(&p, 1, FAILSAFE_MS);
    while (r < 0 && errno == EINTR);
    return r == 1 && (p.revents & POLLIN);
}

/* Every real file of this kernel parses: our own cgroups. */
static void test_own_stats(void **state)
{
    struct live *l = *state;
    if (!l->mode)
        skip();
    V1 *m = stats_of(getpid(), l->mode, NULL);
    assert_non_null(m->cpu);
    assert_non_null(m->memory);
    assert_true(m->memory->usage->usage > 0);
    assert_non_null(m->blkio);
    print_message("own cgroup: memory usage %llu, cpu total %llu ns over %zu cpus\n",
                  (unsigned long long)m->memory->usage->usage,
                  (unsigned long long)m->cpu->usage->total, m->cpu->usage->n_per_cpu);
    cgroups_metrics_free(&m->base);
}

static void test_child_stats_and_oom(void **state)
{
    struct live *l = *state;
    if (l->child <= 0)
        skip();
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", (int)l->child);
    for (size_t i = 0; i < ARRAY_SIZE(used); i++) {
        if (!l->dirs[i])
            continue;
        _cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", l->dirs[i]);
        write_text(procs, pid);
    }
    char reply;
    assert_int_equal(write(l->to_child, "w", 1), 1);
    assert_int_equal(read(l->from_child, &reply, 1), 1);
    assert_int_equal(reply, 'k');

    struct cgroup *cg = NULL;
    V1 *m = stats_of(l->child, l->mode, &cg);
    assert_string_equal(cgroups_path(cg, CGROUPS_MEMORY), l->dirs[0]);
    /* the 4 MiB the child touched after moving in are charged here */
    assert_true(m->memory->rss >= (4u << 20));
    assert_true(m->memory->usage->usage >= (4u << 20));
    assert_true(m->memory->usage->max >= m->memory->usage->usage);
    assert_non_null(m->memory_oom_control);
    assert_int_equal(m->memory_oom_control->oom_kill_disable, 0);
    if (l->dirs[1]) {
        assert_non_null(m->pids);
        assert_int_equal(m->pids->current, 1);
        assert_int_equal(m->pids->limit, 0); /* pids.max "max" */
    }
    if (l->dirs[3]) {
        assert_true(m->cpu->usage->total > 0);
        assert_true(m->cpu->usage->n_per_cpu >= 1);
    }
    cgroups_metrics_free(&m->base);

    /* A tiny limit, then allocate until the OOM killer acts. */
    _cleanup_error_ struct berth_error *err = NULL;
    struct cgroups_oom *oom = NULL;
    if (cgroups_oom_watch(cg, &oom, &err) < 0)
        fail_msg("watch: %s", err->message);
    _cleanup_free_ char *limit = xasprintf("%s/memory.limit_in_bytes", l->dirs[0]);
    write_text(limit, "33554432");
    _cleanup_free_ char *memsw = xasprintf("%s/memory.memsw.limit_in_bytes", l->dirs[0]);
    if (access(memsw, F_OK) == 0) /* without it the child could swap instead of dying */
        write_text(memsw, "33554432");
    assert_int_equal(write(l->to_child, "o", 1), 1);
    int status;
    assert_int_equal(waitpid(l->child, &status, 0), l->child);
    l->child = -1;
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);

    if (!wait_readable(cgroups_oom_fd(oom)))
        fail_msg("no OOM event within the failsafe bound");
    unsigned ooms;
    bool gone;
    if (cgroups_oom_process(oom, &ooms, &gone, &err) < 0)
        fail_msg("process: %s", err->message);
    assert_int_equal(ooms, 1);
    assert_false(gone);

    m = stats_of_path(cg);
    assert_true(m->memory_oom_control->oom_kill >= 1);
    /* the cgroup filled up to its limit (failcnt is not a witness: recent kernels keep the v1
     * failcnt at 0) */
    assert_true(m->memory->usage->max >= 33554432 - (1u << 20));
    assert_int_equal(m->memory->usage->limit, 33554432);
    cgroups_metrics_free(&m->base);
    cgroups_free(cg);

    /* Removing the cgroup signals the eventfd too: the watcher reports it gone. */
    assert_int_equal(rmdir(l->dirs[0]), 0);
    if (!wait_readable(cgroups_oom_fd(oom)))
        fail_msg("no removal notice within the failsafe bound");
    if (cgroups_oom_process(oom, &ooms, &gone, &err) < 0)
        fail_msg("process: %s", err->message);
    assert_int_equal(ooms, 0);
    assert_true(gone);
    cgroups_oom_free(oom);
}

/*
 * A hybrid host's v2 tree holds no memory, cpu or pids controller, but its files are real kernel
 * output: the v2 reader resolves a process there and parses them (PSI, hugetlb where enabled).
 */
static void test_unified_tree(void **state)
{
    struct live *l = *state;
    struct cgroups_host host = {.cgroup_root = "/sys/fs/cgroup/unified"};
    if (l->child <= 0 || l->mode != CGROUPS_MODE_HYBRID)
        skip();
    _cleanup_free_ char *dir = xasprintf("%s/berth-cgtest-%d", host.cgroup_root, (int)getpid());
    if (mkdir(dir, 0755) < 0) {
        print_message("skip: mkdir %s: %s\n", dir, strerror(errno));
        skip();
    }
    _cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", dir);
    char pid[16];
    snprintf(pid, sizeof(pid), "%d", (int)l->child);
    write_text(procs, pid);

    _cleanup_error_ struct berth_error *err = NULL;
    _cleanup_cgroup_ struct cgroup *cg = NULL;
    int r = cgroups_open_pid(&host, CGROUPS_MODE_UNIFIED, l->child, &cg, &err);
    ProtobufCMessage *m = NULL;
    if (r == 0) {
        assert_string_equal(cgroups_path(cg, CGROUPS_MEMORY), dir);
        r = cgroups_stats(cg, &m, &err);
    }
    struct cgroups_oom *oom = NULL;
    struct berth_error *oom_err = NULL;
    int oom_r = r == 0 ? cgroups_oom_watch(cg, &oom, &oom_err) : 0;

    /* Out of the group and remove it before checking, so a failed check leaves nothing. */
    kill(l->child, SIGKILL);
    waitpid(l->child, NULL, 0);
    l->child = -1;
    if (rmdir(dir) < 0)
        print_message("warning: rmdir %s: %s\n", dir, strerror(errno));
    if (r < 0)
        fail_msg("v2 stats: %s", err->message);

    Io__Containerd__Cgroups__V2__Metrics *v2 = (Io__Containerd__Cgroups__V2__Metrics *)m;
    assert_string_equal(m->descriptor->name, "io.containerd.cgroups.v2.Metrics");
    assert_non_null(v2->cpu->psi); /* cpu.pressure exists in every v2 group */
    assert_non_null(v2->cpu->psi->some);
    assert_non_null(v2->memory);
    assert_int_equal(v2->memory->usage, 0); /* no memory controller here */
    assert_null(v2->memory_events);
    print_message("v2 group: cpu psi some total %llu, %zu hugetlb sizes\n",
                  (unsigned long long)v2->cpu->psi->some->total, v2->n_hugetlb);
    cgroups_metrics_free(m);

    /* no memory.events: no OOM watch */
    assert_int_equal(oom_r, -1);
    assert_null(oom);
    assert_int_equal(oom_err->kind, ERR_FAILED_PRECONDITION);
    err_free(oom_err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_own_stats, live_setup, live_teardown),
        cmocka_unit_test_setup_teardown(test_child_stats_and_oom, live_setup, live_teardown),
        cmocka_unit_test_setup_teardown(test_unified_tree, live_setup, live_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
