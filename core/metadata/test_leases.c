/* Unit tests for leases: records, ids, filters, resources, namespaces, bad records. */
#include "core/metadata/leases.h"
#include "core/metadata/namespaces.h"
#include "lib/base/alloc.h"

#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define DIGEST_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

struct fixture {
    char dir[64];
    struct metadata_db *db;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/berth-leases-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(metadata_db_open(f->dir, &f->db, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    metadata_db_close(f->db);
    _cleanup_free_ char *cmd = xasprintf("rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void expect_error(int r, struct berth_error **err, enum err_kind kind, const char *message)
{
    assert_int_equal(r, -1);
    assert_non_null(*err);
    assert_int_equal((*err)->kind, kind);
    if (message)
        assert_string_equal((*err)->message, message);
    err_free(*err);
    *err = NULL;
}

static void create(struct metadata_db *db, const char *ns, const char *id)
{
    struct lease l;
    assert_int_equal(leases_create(db, ns, id, NULL, &l, NULL), 0);
    lease_clear(&l);
}

static void test_create_list(void **state)
{
    struct fixture *f = *state;
    struct labels labels = {0};
    labels_set(&labels, "containerd.io/gc.expire", "2030-01-01T00:00:00Z");
    labels_set(&labels, "empty", "");
    struct lease l;
    struct berth_error *err = NULL;
    assert_int_equal(leases_create(f->db, "default", "b-lease", &labels, &l, &err), 0);
    assert_string_equal(l.id, "b-lease");
    assert_int_equal(l.labels.count, 1);
    assert_true(l.created_at > 1000000000LL * 1600000000LL);
    lease_clear(&l);
    labels_clear(&labels);
    /* dockerd's ids are not identifiers */
    create(f->db, "default", "moby-image-" DIGEST_A);

    expect_error(leases_create(f->db, "default", "b-lease", NULL, &l, &err), &err,
                 ERR_ALREADY_EXISTS, "lease \"b-lease\": already exists");

    /* an empty id gets containerd's random form: <nanoseconds>-<4 base64url characters> */
    assert_int_equal(leases_create(f->db, "default", "", NULL, &l, NULL), 0);
    const char *dash = strchr(l.id, '-');
    assert_non_null(dash);
    assert_true(dash > l.id);
    for (const char *p = l.id; p < dash; p++)
        assert_true(isdigit((unsigned char)*p));
    assert_int_equal(strlen(dash + 1), 4);
    for (const char *p = dash + 1; *p; p++)
        assert_true(isalnum((unsigned char)*p) || *p == '-' || *p == '_');
    char *random_id = xstrdup(l.id);
    lease_clear(&l);

    struct lease *list;
    size_t n;
    assert_int_equal(leases_list(f->db, "default", NULL, 0, &list, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].id, random_id); /* digits sort first */
    assert_string_equal(list[1].id, "b-lease");
    assert_string_equal(labels_get(&list[1].labels, "containerd.io/gc.expire"),
                        "2030-01-01T00:00:00Z");
    leases_list_free(list, n);
    free(random_id);

    const char *by_id[] = {"id==b-lease"};
    assert_int_equal(leases_list(f->db, "default", by_id, 1, &list, &n, NULL), 0);
    assert_int_equal(n, 1);
    leases_list_free(list, n);
    const char *by_label[] = {"labels.\"containerd.io/gc.expire\""};
    assert_int_equal(leases_list(f->db, "default", by_label, 1, &list, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "b-lease");
    leases_list_free(list, n);
    const char *none[] = {"labels.nope==x", "id~=^zzz"};
    assert_int_equal(leases_list(f->db, "default", none, 2, &list, &n, NULL), 0);
    assert_int_equal(n, 0);
    leases_list_free(list, n);
    const char *bad[] = {"id=="};
    expect_error(leases_list(f->db, "default", bad, 1, &list, &n, &err), &err, ERR_INVALID_ARGUMENT,
                 NULL);

    /* namespaces: the namespace came with the lease; the same id elsewhere is another lease */
    assert_int_equal(leases_list(f->db, "other", NULL, 0, &list, &n, NULL), 0);
    assert_int_equal(n, 0);
    leases_list_free(list, n);
    create(f->db, "other", "b-lease");
    expect_error(namespaces_delete(f->db, "other", &err), &err, ERR_FAILED_PRECONDITION,
                 "namespace \"other\" must be empty, but it still has leases: failed "
                 "precondition");
    assert_int_equal(leases_delete(f->db, "other", "b-lease", NULL), 0);
    assert_int_equal(namespaces_delete(f->db, "other", NULL), 0);
    expect_error(leases_delete(f->db, "other", "b-lease", &err), &err, ERR_NOT_FOUND,
                 "lease \"b-lease\": not found");
    /* still there in its own namespace */
    assert_int_equal(leases_list(f->db, "default", by_id, 1, &list, &n, NULL), 0);
    assert_int_equal(n, 1);
    leases_list_free(list, n);
}

static void add(struct metadata_db *db, const char *lease, const char *type, const char *id,
                enum err_kind want, const char *message)
{
    struct berth_error *err = NULL;
    struct lease_resource r = {(char *)id, (char *)type};
    int rc = leases_add_resource(db, "default", lease, &r, &err);
    if (want == ERR_UNKNOWN) {
        assert_int_equal(rc, 0);
        return;
    }
    expect_error(rc, &err, want, message);
}

static void test_resources(void **state)
{
    struct fixture *f = *state;
    create(f->db, "default", "l");
    create(f->db, "default", "l2"); /* "l" is a prefix of it: their resources stay apart */
    add(f->db, "l", "snapshots/overlayfs", "k2", ERR_UNKNOWN, NULL);
    add(f->db, "l", "snapshots/native", "k1", ERR_UNKNOWN, NULL);
    add(f->db, "l", "images", "docker.io/library/busybox:latest", ERR_UNKNOWN, NULL);
    add(f->db, "l", "ingests", "ref-1", ERR_UNKNOWN, NULL);
    add(f->db, "l", "content", DIGEST_A, ERR_UNKNOWN, NULL);
    add(f->db, "l", "content", DIGEST_A, ERR_UNKNOWN, NULL); /* twice is once */
    add(f->db, "l2", "content", DIGEST_A, ERR_UNKNOWN, NULL);

    add(f->db, "l", "content", "sha256:xyz", ERR_INVALID_ARGUMENT,
        "invalid content resource id sha256:xyz: invalid checksum digest length: invalid "
        "argument");
    add(f->db, "l", "content/x", DIGEST_A, ERR_INVALID_ARGUMENT,
        "invalid resource type content/x: invalid argument");
    add(f->db, "l", "snapshots", "k", ERR_INVALID_ARGUMENT,
        "invalid snapshot resource type snapshots: invalid argument");
    add(f->db, "l", "snapshots/a/b", "k", ERR_INVALID_ARGUMENT, NULL);
    add(f->db, "l", "snapshots/", "k", ERR_INVALID_ARGUMENT, NULL);
    add(f->db, "l", "images", "", ERR_INVALID_ARGUMENT, NULL);
    add(f->db, "l", "containers", "c", ERR_NOT_IMPLEMENTED,
        "resource type containers not supported yet: not implemented");
    add(f->db, "nope", "content", DIGEST_A, ERR_NOT_FOUND, "lease \"nope\": not found");

    struct lease_resource *rs;
    size_t n;
    assert_int_equal(leases_list_resources(f->db, "default", "l", &rs, &n, NULL), 0);
    assert_int_equal(n, 5);
    /* containerd's order: content, images, ingests, then snapshots by snapshotter */
    const char *types[] = {"content", "images", "ingests", "snapshots/native",
                           "snapshots/overlayfs"};
    const char *ids[] = {DIGEST_A, "docker.io/library/busybox:latest", "ref-1", "k1", "k2"};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(rs[i].type, types[i]);
        assert_string_equal(rs[i].id, ids[i]);
    }
    lease_resources_free(rs, n);

    struct berth_error *err = NULL;
    struct lease_resource r = {"k1", "snapshots/native"};
    assert_int_equal(leases_delete_resource(f->db, "default", "l", &r, NULL), 0);
    assert_int_equal(leases_delete_resource(f->db, "default", "l", &r, NULL), 0);
    r = (struct lease_resource){"c", "containers"};
    expect_error(leases_delete_resource(f->db, "default", "l", &r, &err), &err, ERR_NOT_IMPLEMENTED,
                 NULL);
    expect_error(leases_delete_resource(f->db, "default", "nope", &r, &err), &err, ERR_NOT_FOUND,
                 NULL);
    expect_error(leases_list_resources(f->db, "default", "nope", &rs, &n, &err), &err,
                 ERR_NOT_FOUND, "lease \"nope\": not found");
    assert_int_equal(leases_list_resources(f->db, "default", "l", &rs, &n, NULL), 0);
    assert_int_equal(n, 4);
    lease_resources_free(rs, n);

    /* deleting a lease takes its resources, and only its own */
    assert_int_equal(leases_delete(f->db, "default", "l", NULL), 0);
    create(f->db, "default", "l");
    assert_int_equal(leases_list_resources(f->db, "default", "l", &rs, &n, NULL), 0);
    assert_int_equal(n, 0);
    lease_resources_free(rs, n);
    assert_int_equal(leases_list_resources(f->db, "default", "l2", &rs, &n, NULL), 0);
    assert_int_equal(n, 1);
    lease_resources_free(rs, n);
}

static void test_txn_helpers(void **state)
{
    struct fixture *f = *state;
    create(f->db, "default", "l");
    struct metadata_txn t;
    struct berth_error *err = NULL;
    assert_int_equal(metadata_txn_begin(f->db, true, &t, NULL), 0);
    expect_error(leases_add_resource_txn(&t, "default", "missing", "content", DIGEST_A, &err), &err,
                 ERR_NOT_FOUND, "lease does not exist: not found");
    assert_int_equal(leases_add_resource_txn(&t, "default", "l", "ingests", "ref", NULL), 0);
    assert_int_equal(leases_add_resource_txn(&t, "default", "l", "content", DIGEST_A, NULL), 0);
    assert_int_equal(leases_remove_resource_txn(&t, "default", "l", "ingests", "ref", NULL), 0);
    assert_int_equal(leases_remove_resource_txn(&t, "default", "missing", "ingests", "ref", NULL),
                     0);
    assert_int_equal(metadata_txn_commit(&t, NULL), 0);

    struct lease_resource *rs;
    size_t n;
    assert_int_equal(leases_list_resources(f->db, "default", "l", &rs, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rs[0].id, DIGEST_A);
    lease_resources_free(rs, n);

    /* an aborted transaction leaves nothing behind */
    assert_int_equal(metadata_txn_begin(f->db, true, &t, NULL), 0);
    assert_int_equal(leases_add_resource_txn(&t, "default", "l", "ingests", "gone", NULL), 0);
    metadata_txn_abort(&t);
    assert_int_equal(leases_list_resources(f->db, "default", "l", &rs, &n, NULL), 0);
    assert_int_equal(n, 1);
    lease_resources_free(rs, n);

    /* a resource key beyond LMDB's limit is refused, not truncated */
    char *long_id = xmalloc(2001);
    memset(long_id, 'r', 2000);
    long_id[2000] = '\0';
    struct lease_resource r = {long_id, "ingests"};
    expect_error(leases_add_resource(f->db, "default", "l", &r, &err), &err, ERR_INVALID_ARGUMENT,
                 NULL);
    assert_int_equal(leases_delete_resource(f->db, "default", "l", &r, NULL), 0);
    struct lease l;
    expect_error(leases_create(f->db, "default", long_id, NULL, &l, &err), &err,
                 ERR_INVALID_ARGUMENT, NULL);
    expect_error(leases_delete(f->db, "default", long_id, &err), &err, ERR_NOT_FOUND, NULL);
    free(long_id);
}

static void test_corrupt_and_persist(void **state)
{
    struct fixture *f = *state;
    struct labels labels = {0};
    labels_set(&labels, "k", "v");
    struct lease l;
    assert_int_equal(leases_create(f->db, "default", "keep", &labels, &l, NULL), 0);
    int64_t created = l.created_at;
    lease_clear(&l);
    labels_clear(&labels);
    struct lease_resource r = {DIGEST_A, "content"};
    assert_int_equal(leases_add_resource(f->db, "default", "keep", &r, NULL), 0);

    metadata_db_close(f->db);
    assert_int_equal(metadata_db_open(f->dir, &f->db, NULL), 0);
    struct lease *list;
    size_t n;
    assert_int_equal(leases_list(f->db, "default", NULL, 0, &list, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].created_at, created);
    assert_string_equal(labels_get(&list[0].labels, "k"), "v");
    leases_list_free(list, n);
    struct lease_resource *rs;
    assert_int_equal(leases_list_resources(f->db, "default", "keep", &rs, &n, NULL), 0);
    assert_int_equal(n, 1);
    lease_resources_free(rs, n);

    /* a truncated record is reported, never read past its end */
    uint8_t bad[] = {0x81, 0x80, 0x80, 0x01, 0x05, 0x03, 'k', 'e'};
    struct metadata_txn t;
    assert_int_equal(metadata_txn_begin(f->db, true, &t, NULL), 0);
    struct metadata_key k = metadata_key_make("default", "bad");
    MDB_val key = {k.len, k.data}, val = {sizeof(bad), bad};
    assert_int_equal(mdb_put(t.txn, metadata_table(&t, TABLE_LEASES), &key, &val, 0), 0);
    metadata_key_free(&k);
    /* a resource key without its type separator is skipped */
    char odd[] = "default\0keep\0nonul";
    key = (MDB_val){sizeof(odd) - 1, odd};
    val = (MDB_val){0, NULL};
    assert_int_equal(mdb_put(t.txn, metadata_table(&t, TABLE_LEASE_RESOURCES), &key, &val, 0), 0);
    assert_int_equal(metadata_txn_commit(&t, NULL), 0);
    struct berth_error *err = NULL;
    expect_error(leases_list(f->db, "default", NULL, 0, &list, &n, &err), &err, ERR_DATA_LOSS,
                 "lease \"bad\": corrupt record: data loss");
    assert_int_equal(leases_list_resources(f->db, "default", "keep", &rs, &n, NULL), 0);
    assert_int_equal(n, 1);
    lease_resources_free(rs, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_txn_helpers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_and_persist, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
