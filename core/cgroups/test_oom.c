/* Unit tests for the OOM watcher: v2 inotify on fake files, v1 registration, fd hygiene. */
#include "core/cgroups/cgroups.h"
#include "core/cgroups/test_tree.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

struct fixture {
    char *root;
    struct cgroups_host host;
    char *cgroup_root;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    f->root = tree_new();
    f->cgroup_root = xasprintf("%s/cgroup", f->root);
    f->host.cgroup_root = f->cgroup_root;
    f->host.proc_root = f->root;
    f->host.hugepages_dir = f->root;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tree_remove(f->root);
    free(f->root);
    free(f->cgroup_root);
    free(f);
    return 0;
}

/* inotify queues the event during write(2), so readiness right after a write is certain. */
static bool readable(const struct cgroups_oom *oom)
{
    struct pollfd p = {.fd = cgroups_oom_fd(oom), .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void process(struct cgroups_oom *oom, unsigned want_ooms, bool want_gone)
{
    unsigned ooms = 99;
    bool gone = true;
    _cleanup_error_ struct berth_error *err = NULL;
    if (cgroups_oom_process(oom, &ooms, &gone, &err) < 0)
        fail_msg("process: %s", err->message);
    assert_int_equal(ooms, want_ooms);
    assert_int_equal(gone, want_gone);
}

static struct cgroups_oom *watch_v2(struct fixture *f)
{
    _cleanup_cgroup_ struct cgroup *cg = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    if (cgroups_open_path(&f->host, CGROUPS_MODE_UNIFIED, "/ctr", &cg, &err) < 0)
        fail_msg("open: %s", err->message);
    struct cgroups_oom *oom = NULL;
    if (cgroups_oom_watch(cg, &oom, &err) < 0)
        fail_msg("watch: %s", err->message);
    return oom;
}

static void test_v2_oom_kill_counting(void **state)
{
    struct fixture *f = *state;
    tree_write(f->root, "cgroup/ctr/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
    tree_write(f->root, "cgroup/ctr/cgroup.events", "populated 1\nfrozen 0\n");
    struct cgroups_oom *oom = watch_v2(f);
    int fd = cgroups_oom_fd(oom);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_false(readable(oom));
    process(oom, 0, false); /* nothing readable: nothing reported */

    /* a memory.events change without a kill */
    tree_write(f->root, "cgroup/ctr/memory.events", "low 0\nhigh 0\nmax 3\noom 0\noom_kill 0\n");
    assert_true(readable(oom));
    process(oom, 0, false);
    assert_false(readable(oom));

    /* one kill, then two more at once: one event per wake-up, as containerd */
    tree_write(f->root, "cgroup/ctr/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
    process(oom, 1, false);
    tree_write(f->root, "cgroup/ctr/memory.events", "low 0\nhigh 0\nmax 4\noom 3\noom_kill 3\n");
    process(oom, 1, false);
    tree_write(f->root, "cgroup/ctr/memory.events", "low 0\nhigh 0\nmax 5\noom 3\noom_kill 3\n");
    process(oom, 0, false);

    /* the last process leaves */
    tree_write(f->root, "cgroup/ctr/cgroup.events", "populated 0\nfrozen 0\n");
    process(oom, 0, true);
    cgroups_oom_free(oom);
}

static void test_v2_baseline_and_removal(void **state)
{
    struct fixture *f = *state;
    /* kills before the watch began are not new */
    tree_write(f->root, "cgroup/ctr/memory.events", "oom 2\noom_kill 2\n");
    tree_write(f->root, "cgroup/ctr/cgroup.events", "populated 1\n");
    struct cgroups_oom *oom = watch_v2(f);
    tree_write(f->root, "cgroup/ctr/memory.events", "oom 2\noom_kill 2\n");
    process(oom, 0, false);
    tree_write(f->root, "cgroup/ctr/memory.events", "oom 3\noom_kill 3\n");
    process(oom, 1, false);

    /* the group's files vanish: gone, not an error */
    tree_unlink(f->root, "cgroup/ctr/memory.events");
    assert_true(readable(oom)); /* IN_IGNORED for the removed watch */
    process(oom, 0, true);
    cgroups_oom_free(oom);

    /* a malformed memory.events is an error, and the watch ends */
    tree_write(f->root, "cgroup/ctr/memory.events", "oom_kill 0\n");
    oom = watch_v2(f);
    tree_write(f->root, "cgroup/ctr/memory.events", "oom_kill many\n");
    unsigned ooms;
    bool gone;
    struct berth_error *err = NULL;
    assert_int_equal(cgroups_oom_process(oom, &ooms, &gone, &err), -1);
    assert_true(gone);
    assert_int_equal(err->kind, ERR_UNKNOWN);
    err_free(err);
    cgroups_oom_free(oom);
}

static void test_v2_without_memory(void **state)
{
    struct fixture *f = *state;
    tree_write(f->root, "cgroup/ctr/cgroup.events", "populated 1\n");
    _cleanup_cgroup_ struct cgroup *cg = NULL;
    assert_int_equal(cgroups_open_path(&f->host, CGROUPS_MODE_UNIFIED, "/ctr", &cg, NULL), 0);
    size_t fds = tree_count_fds();
    struct cgroups_oom *oom = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(cgroups_oom_watch(cg, &oom, &err), -1);
    assert_int_equal(err->kind, ERR_FAILED_PRECONDITION);
    assert_null(oom);
    err_free(err);
    assert_int_equal(tree_count_fds(), fds);
}

static void test_v1_registration(void **state)
{
    struct fixture *f = *state;
    /* A plain file stands in for cgroup.event_control: the registration line is checked, the
     * kernel's side is covered by test_live. */
    tree_write(f->root, "cgroup/memory/ctr/memory.oom_control", "oom_kill_disable 0\n");
    tree_write(f->root, "cgroup/memory/ctr/cgroup.event_control", "");
    _cleanup_cgroup_ struct cgroup *cg = NULL;
    assert_int_equal(cgroups_open_path(&f->host, CGROUPS_MODE_HYBRID, "/ctr", &cg, NULL), 0);
    size_t fds = tree_count_fds();
    struct cgroups_oom *oom = NULL;
    assert_int_equal(cgroups_oom_watch(cg, &oom, NULL), 0);
    assert_int_equal(tree_count_fds(), fds + 1); /* only the eventfd stays open */
    _cleanup_free_ char *path = xasprintf("%s/cgroup/memory/ctr/cgroup.event_control", f->root);
    FILE *file = fopen(path, "r");
    int efd = -1, cfd = -1;
    assert_int_equal(fscanf(file, "%d %d", &efd, &cfd), 2);
    fclose(file);
    assert_int_equal(efd, cgroups_oom_fd(oom));
    assert_true(cfd >= 0 && cfd != efd);
    _cleanup_free_ char *link = xasprintf("/proc/self/fd/%d", efd);
    char target[64] = "";
    assert_true(readlink(link, target, sizeof(target) - 1) > 0);
    assert_string_equal(target, "anon_inode:[eventfd]");

    process(oom, 0, false); /* nothing signalled */
    /* signalled while the cgroup exists: an OOM */
    uint64_t one = 1;
    assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
    process(oom, 1, false);
    /* signalled after the cgroup is removed: gone */
    tree_remove(cgroups_path(cg, CGROUPS_MEMORY));
    assert_int_equal(write(efd, &one, sizeof(one)), sizeof(one));
    process(oom, 0, true);
    cgroups_oom_free(oom);
    assert_int_equal(tree_count_fds(), fds);
}

static void test_v1_errors(void **state)
{
    struct fixture *f = *state;
    tree_write(f->root, "cgroup/pids/ctr/pids.current", "1\n");
    tree_write(f->root, "cgroup/memory/other/cgroup.event_control", "");
    size_t fds = tree_count_fds();
    struct berth_error *err = NULL;
    struct cgroups_oom *oom = NULL;
    {
        _cleanup_cgroup_ struct cgroup *cg = NULL;
        assert_int_equal(cgroups_open_path(&f->host, CGROUPS_MODE_LEGACY, "/ctr", &cg, NULL), 0);
        assert_int_equal(cgroups_oom_watch(cg, &oom, &err), -1);
        assert_int_equal(err->kind, ERR_FAILED_PRECONDITION); /* no memory controller */
        err = (err_free(err), NULL);
    }
    {
        _cleanup_cgroup_ struct cgroup *cg = NULL;
        assert_int_equal(cgroups_open_path(&f->host, CGROUPS_MODE_LEGACY, "/other", &cg, NULL), 0);
        assert_int_equal(cgroups_oom_watch(cg, &oom, &err), -1);
        assert_int_equal(err->kind, ERR_NOT_FOUND); /* no memory.oom_control */
        assert_non_null(strstr(err->message, "memory.oom_control"));
        err = (err_free(err), NULL);
    }
    assert_null(oom);
    assert_int_equal(tree_count_fds(), fds);
    assert_null(cgroups_oom_free(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_v2_oom_kill_counting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_baseline_and_removal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_without_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_registration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
