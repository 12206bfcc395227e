/* Snapshotters on real directories: storage rules, overlayfs and native, the metadata layer, GC. */
#include "core/metadata/gc.h"
#include "core/metadata/leases.h"
#include "core/snapshots/fsutil.h"
#include "core/snapshots/local.h"
#include "core/snapshots/metadata.h"
#include "core/snapshots/storage.h"
#include "lib/base/alloc.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

struct fixture {
    char dir[64];
    char *root;
    struct snapshotter *sn;
};

static struct snapshotter *open_local(enum local_driver driver, const char *root)
{
    struct snapshotter *sn = NULL;
    static char *options[] = {"index=off", NULL};
    struct local_options lo = {.mount_options = options};
    assert_int_equal(local_snapshotter_open(driver,
                                            driver == LOCAL_DRIVER_OVERLAY ? "overlayfs" : "native",
                                            root, &lo, &sn, NULL),
                     0);
    return sn;
}

static int setup_driver(void **state, enum local_driver driver)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/berth-snap-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->root = xasprintf("%s/root", f->dir);
    f->sn = open_local(driver, f->root);
    *state = f;
    return 0;
}

static int setup_overlay(void **state)
{
    return setup_driver(state, LOCAL_DRIVER_OVERLAY);
}

static int setup_native(void **state)
{
    return setup_driver(state, LOCAL_DRIVER_NATIVE);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    local_snapshotter_close(f->sn);
    snapshot_fs_remove_all(f->dir, NULL);
    free(f->root);
    free(f);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static char *upper(struct fixture *f, const char *id)
{
    return xasprintf("%s/snapshots/%s/fs", f->root, id);
}

static void test_storage_rules(void **state)
{
    struct fixture *f = *state;
    const struct snapshotter_ops *ops = f->sn->ops;
    struct berth_error *err = NULL;
    struct mount_list m = {0};

    assert_int_equal(ops->prepare(f->sn->self, "a", "", NULL, &m, NULL), 0);
    mount_list_clear(&m);
    assert_int_equal(ops->prepare(f->sn->self, "a", "", NULL, NULL, &err), -1);
    assert_int_equal(err->kind, ERR_ALREADY_EXISTS);
    err_free(steal_ptr(err));
    /* an active snapshot is no parent */
    assert_int_equal(ops->prepare(f->sn->self, "b", "a", NULL, NULL, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    err_free(steal_ptr(err));
    assert_int_equal(ops->prepare(f->sn->self, "b", "nope", NULL, NULL, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    err_free(steal_ptr(err));

    assert_int_equal(ops->commit(f->sn->self, "c", "a", NULL, NULL), 0);
    assert_int_equal(ops->commit(f->sn->self, "d", "c", NULL, &err), -1);
    assert_int_equal(err->kind, ERR_FAILED_PRECONDITION); /* committed, not active */
    err_free(steal_ptr(err));
    assert_int_equal(ops->commit(f->sn->self, "d", "gone", NULL, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    err_free(steal_ptr(err));
    assert_int_equal(ops->mounts(f->sn->self, "c", &m, &err), -1);
    assert_int_equal(err->kind, ERR_FAILED_PRECONDITION);
    err_free(steal_ptr(err));

    assert_int_equal(ops->prepare(f->sn->self, "b", "c", NULL, NULL, NULL), 0);
    assert_int_equal(ops->remove(f->sn->self, "c", &err), -1);
    assert_int_equal(err->kind, ERR_FAILED_PRECONDITION);
    assert_non_null(strstr(err->message, "cannot remove snapshot with child"));
    err_free(steal_ptr(err));

    struct snapshot_info info;
    assert_int_equal(ops->stat(f->sn->self, "b", &info, NULL), 0);
    assert_int_equal(info.kind, SNAPSHOT_KIND_ACTIVE);
    assert_string_equal(info.parent, "c");
    snapshot_info_clear(&info);

    /* label updates: one key, then all */
    struct snapshot_info in = {.name = "b"};
    labels_set(&in.labels, "x", "1");
    labels_set(&in.labels, "y", "2");
    const char *one[] = {"labels.x"};
    assert_int_equal(ops->update(f->sn->self, &in, one, 1, &info, NULL), 0);
    assert_string_equal(labels_get(&info.labels, "x"), "1");
    assert_null(labels_get(&info.labels, "y"));
    snapshot_info_clear(&info);
    const char *bad[] = {"parent"};
    assert_int_equal(ops->update(f->sn->self, &in, bad, 1, NULL, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    err_free(steal_ptr(err));
    labels_clear(&in.labels);

    /* persistence */
    local_snapshotter_close(f->sn);
    f->sn = open_local(LOCAL_DRIVER_OVERLAY, f->root);
    ops = f->sn->ops;
    assert_int_equal(ops->stat(f->sn->self, "b", &info, NULL), 0);
    assert_string_equal(labels_get(&info.labels, "x"), "1");
    snapshot_info_clear(&info);

    /* removal and cleanup leave no directory */
    assert_int_equal(ops->remove(f->sn->self, "b", NULL), 0);
    assert_int_equal(ops->remove(f->sn->self, "c", NULL), 0);
    assert_int_equal(ops->cleanup(f->sn->self, NULL), 0);
    _cleanup_free_ char *dir = xasprintf("%s/snapshots", f->root);
    assert_int_equal(rmdir(dir), 0);
}

static void test_overlay_mounts(void **state)
{
    struct fixture *f = *state;
    const struct snapshotter_ops *ops = f->sn->ops;
    struct mount_list m = {0};
    assert_int_equal(ops->prepare(f->sn->self, "a", NULL, NULL, &m, NULL), 0);
    assert_int_equal(m.count, 1);
    assert_string_equal(m.items[0].type, "bind");
    assert_string_equal(m.items[0].options[0], "rw");
    assert_string_equal(m.items[0].options[1], "rbind");
    mount_list_clear(&m);
    _cleanup_free_ char *u1 = upper(f, "1");
    _cleanup_free_ char *file = xasprintf("%s/hello", u1);
    write_file(file, "hi");
    assert_int_equal(ops->commit(f->sn->self, "l1", "a", NULL, NULL), 0);
    struct snapshot_usage usage;
    assert_int_equal(ops->usage(f->sn->self, "l1", &usage, NULL), 0);
    assert_int_equal(usage.inodes, 2);

    /* a view of one layer is a read-only bind of that layer */
    assert_int_equal(ops->view(f->sn->self, "v", "l1", NULL, &m, NULL), 0);
    assert_string_equal(m.items[0].type, "bind");
    assert_string_equal(m.items[0].source, u1);
    assert_string_equal(m.items[0].options[0], "ro");
    mount_list_clear(&m);

    assert_int_equal(ops->prepare(f->sn->self, "b", "l1", NULL, NULL, NULL), 0);
    assert_int_equal(ops->commit(f->sn->self, "l2", "b", NULL, NULL), 0);
    assert_int_equal(ops->prepare(f->sn->self, "c", "l2", NULL, &m, NULL), 0);
    assert_string_equal(m.items[0].type, "overlay");
    _cleanup_free_ char *lower = xasprintf("lowerdir=%s/snapshots/3/fs:%s", f->root, u1);
    _cleanup_free_ char *work = xasprintf("workdir=%s/snapshots/4/work", f->root);
    assert_string_equal(m.items[0].options[0], work);
    assert_string_equal(m.items[0].options[2], lower);
    assert_string_equal(m.items[0].options[3], "index=off");

    /* the machine may not allow mounts (unprivileged runs): then the options are all we check */
    char mnt[128];
    snprintf(mnt, sizeof(mnt), "%s/mnt", f->dir);
    mkdir(mnt, 0755);
    struct mount *o = &m.items[0];
    char data[4096] = "";
    for (size_t i = 0; i < o->n_options; i++) {
        if (i)
            strcat(data, ",");
        strcat(data, o->options[i]);
    }
    if (mount("overlay", mnt, "overlay", 0, data) == 0) {
        _cleanup_free_ char *seen = xasprintf("%s/hello", mnt);
        assert_int_equal(access(seen, F_OK), 0);
        _cleanup_free_ char *added = xasprintf("%s/new", mnt);
        write_file(added, "x");
        assert_int_equal(umount(mnt), 0);
        _cleanup_free_ char *in_upper = xasprintf("%s/snapshots/4/fs/new", f->root);
        assert_int_equal(access(in_upper, F_OK), 0);
    }
    mount_list_clear(&m);
}

static void test_native_copy(void **state)
{
    struct fixture *f = *state;
    const struct snapshotter_ops *ops = f->sn->ops;
    struct mount_list m = {0};
    assert_int_equal(ops->prepare(f->sn->self, "a", NULL, NULL, &m, NULL), 0);
    assert_string_equal(m.items[0].type, "bind");
    mount_list_clear(&m);
    _cleanup_free_ char *d = xasprintf("%s/snapshots/1", f->root);
    _cleanup_free_ char *file = xasprintf("%s/file", d);
    _cleanup_free_ char *hard = xasprintf("%s/hard", d);
    _cleanup_free_ char *sym = xasprintf("%s/sym", d);
    _cleanup_free_ char *sub = xasprintf("%s/sub", d);
    write_file(file, "data");
    assert_int_equal(chmod(file, 0640), 0);
    assert_int_equal(link(file, hard), 0);
    assert_int_equal(symlink("file", sym), 0);
    assert_int_equal(mkdir(sub, 0710), 0);
    assert_int_equal(ops->commit(f->sn->self, "c", "a", NULL, NULL), 0);
    struct snapshot_usage usage;
    assert_int_equal(ops->usage(f->sn->self, "c", &usage, NULL), 0);
    assert_int_equal(usage.inodes, 4); /* dir, file (twice linked), symlink, sub */

    assert_int_equal(ops->view(f->sn->self, "v", "c", NULL, &m, NULL), 0);
    assert_string_equal(m.items[0].options[0], "ro");
    _cleanup_free_ char *copy = xasprintf("%s/file", m.items[0].source);
    _cleanup_free_ char *copy_hard = xasprintf("%s/hard", m.items[0].source);
    _cleanup_free_ char *copy_sym = xasprintf("%s/sym", m.items[0].source);
    _cleanup_free_ char *copy_sub = xasprintf("%s/sub", m.items[0].source);
    struct stat a, b;
    assert_int_equal(stat(copy, &a), 0);
    assert_int_equal(stat(copy_hard, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(a.st_mode & 07777, 0640);
    assert_int_equal(lstat(copy_sym, &b), 0);
    assert_true(S_ISLNK(b.st_mode));
    assert_int_equal(stat(copy_sub, &b), 0);
    assert_int_equal(b.st_mode & 07777, 0710);
    mount_list_clear(&m);
}

/* ---- the metadata layer ---- */

struct meta_fixture {
    char dir[64];
    struct metadata_db *db;
    struct snapshotter *sn;
    struct snapshots_metadata *ms;
};

static int setup_meta(void **state)
{
    struct meta_fixture *f = xcalloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/berth-msnap-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    _cleanup_free_ char *meta = xasprintf("%s/meta", f->dir);
    _cleanup_free_ char *root = xasprintf("%s/overlay", f->dir);
    assert_int_equal(metadata_db_open(meta, &f->db, NULL), 0);
    f->sn = open_local(LOCAL_DRIVER_OVERLAY, root);
    f->ms = snapshots_metadata_new(f->db);
    snapshots_metadata_add_backend(f->ms, f->sn);
    *state = f;
    return 0;
}

static int teardown_meta(void **state)
{
    struct meta_fixture *f = *state;
    snapshots_metadata_free(f->ms);
    local_snapshotter_close(f->sn);
    metadata_db_close(f->db);
    snapshot_fs_remove_all(f->dir, NULL);
    free(f);
    return 0;
}

static int count_one(const struct snapshot_info *info, void *arg, struct berth_error **err)
{
    (*(int *)arg)++;
    return 0;
}

static int count(struct meta_fixture *f, const char *ns, const char *filter_text)
{
    _cleanup_filter_ struct filter *filter = NULL;
    if (filter_text)
        assert_int_equal(filters_parse(filter_text, &filter, NULL), 0);
    int n = 0;
    assert_int_equal(snapshots_metadata_walk(f->ms, "overlayfs", ns, filter, count_one, &n, NULL),
                     0);
    return n;
}

static void test_metadata_namespaces_and_errors(void **state)
{
    struct meta_fixture *f = *state;
    struct berth_error *err = NULL;
    struct labels l = {0};
    labels_set(&l, "containerd.io/gc.root", "x");
    assert_int_equal(
        snapshots_metadata_prepare(f->ms, "overlayfs", "ns1", "k", "", &l, NULL, false, NULL, NULL),
        0);
    /* the same key in another namespace is another snapshot */
    assert_int_equal(
        snapshots_metadata_prepare(f->ms, "overlayfs", "ns2", "k", "", &l, NULL, false, NULL, NULL),
        0);
    assert_int_equal(
        snapshots_metadata_prepare(f->ms, "overlayfs", "ns1", "k", "", &l, NULL, false, NULL, &err),
        -1);
    assert_int_equal(err->kind, ERR_ALREADY_EXISTS);
    err_free(steal_ptr(err));
    assert_int_equal(snapshots_metadata_prepare(f->ms, "overlayfs", "ns1", "x", "nope", &l, NULL,
                                                false, NULL, &err),
                     -1);
    assert_string_equal(err->message, "parent snapshot nope does not exist: not found");
    err_free(steal_ptr(err));
    assert_int_equal(snapshots_metadata_check(f->ms, "zfs", &err), -1);
    assert_string_equal(err->message, "snapshotter not loaded: zfs: invalid argument");
    err_free(steal_ptr(err));

    assert_int_equal(snapshots_metadata_commit(f->ms, "overlayfs", "ns1", "c", "k", &l, NULL, NULL),
                     0);
    assert_int_equal(snapshots_metadata_prepare(f->ms, "overlayfs", "ns1", "k2", "c", &l, NULL,
                                                false, NULL, NULL),
                     0);
    assert_int_equal(snapshots_metadata_remove(f->ms, "overlayfs", "ns1", "c", NULL, &err), -1);
    assert_int_equal(err->kind, ERR_FAILED_PRECONDITION);
    err_free(steal_ptr(err));
    assert_int_equal(count(f, "ns1", NULL), 2);
    assert_int_equal(count(f, "ns1", "kind==committed"), 1);
    assert_int_equal(count(f, "ns1", "parent==c"), 1);
    assert_int_equal(count(f, "ns2", NULL), 1);

    struct snapshot_info info;
    assert_int_equal(snapshots_metadata_stat(f->ms, "overlayfs", "ns1", "k2", &info, NULL), 0);
    assert_int_equal(info.kind, SNAPSHOT_KIND_ACTIVE);
    assert_string_equal(info.parent, "c");
    snapshot_info_clear(&info);
    assert_int_equal(snapshots_metadata_remove(f->ms, "overlayfs", "ns1", "k2", NULL, NULL), 0);
    assert_int_equal(snapshots_metadata_remove(f->ms, "overlayfs", "ns1", "c", NULL, NULL), 0);
    assert_int_equal(snapshots_metadata_stat(f->ms, "overlayfs", "ns1", "c", &info, &err), -1);
    assert_string_equal(err->message, "snapshot c does not exist: not found");
    err_free(steal_ptr(err));
    labels_clear(&l);
}

static void test_metadata_gc(void **state)
{
    struct meta_fixture *f = *state;
    struct lease lease;
    assert_int_equal(leases_create(f->db, "ns", "hold", NULL, &lease, NULL), 0);
    lease_clear(&lease);
    /* leased: kept with its parent; unreferenced: collected with the backend snapshot */
    assert_int_equal(snapshots_metadata_prepare(f->ms, "overlayfs", "ns", "p", "", NULL, "hold",
                                                false, NULL, NULL),
                     0);
    assert_int_equal(
        snapshots_metadata_commit(f->ms, "overlayfs", "ns", "base", "p", NULL, "hold", NULL), 0);
    assert_int_equal(snapshots_metadata_prepare(f->ms, "overlayfs", "ns", "top", "base", NULL,
                                                "hold", false, NULL, NULL),
                     0);
    struct lease_resource res = {.id = "base", .type = "snapshots/overlayfs"};
    assert_int_equal(leases_delete_resource(f->db, "ns", "hold", &res, NULL), 0);
    assert_int_equal(snapshots_metadata_prepare(f->ms, "overlayfs", "ns", "loose", "", NULL, NULL,
                                                false, NULL, NULL),
                     0);
    metadata_gc_add_collector(f->db, (gc_collector_fn)snapshots_metadata_collect_backends, f->ms);
    struct gc_stats stats;
    assert_int_equal(metadata_gc(f->db, NULL, &stats, NULL), 0);
    metadata_gc_remove_collector(f->db, (gc_collector_fn)snapshots_metadata_collect_backends,
                                 f->ms);
    assert_int_equal(stats.snapshot_records_removed, 1);
    assert_int_equal(count(f, "ns", NULL), 2); /* top (leased) and base (its parent) */
    int backend = 0;
    assert_int_equal(f->sn->ops->walk(f->sn->self, NULL, count_one, &backend, NULL), 0);
    assert_int_equal(backend, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_storage_rules, setup_overlay, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_mounts, setup_overlay, teardown),
        cmocka_unit_test_setup_teardown(test_native_copy, setup_native, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_namespaces_and_errors, setup_meta,
                                        teardown_meta),
        cmocka_unit_test_setup_teardown(test_metadata_gc, setup_meta, teardown_meta),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
