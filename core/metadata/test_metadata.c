/* Unit tests for the metadata database and namespace records. */
#include "core/metadata/namespaces.h"
#include "lib/base/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

struct fixture {
    char dir[64];
    struct metadata_db *db;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/berth-metadata-XXXXXX");
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

static void test_create_get_list(void **state)
{
    struct fixture *f = *state;
    struct labels l = {0};
    labels_set(&l, "b", "2");
    labels_set(&l, "a", "1");
    labels_set(&l, "empty", "");
    struct berth_error *err = NULL;
    assert_int_equal(namespaces_create(f->db, "one", &l, &err), 0);
    assert_int_equal(namespaces_create(f->db, "two", NULL, &err), 0);
    assert_int_equal(namespaces_create(f->db, "one", NULL, &err), -1);
    assert_int_equal(err->kind, ERR_ALREADY_EXISTS);
    assert_string_equal(err->message, "namespace \"one\": already exists");
    err_free(err);
    err = NULL;
    assert_int_equal(namespaces_create(f->db, "Bad Name", NULL, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    err_free(err);
    err = NULL;

    struct namespace_record ns;
    assert_int_equal(namespaces_get(f->db, "one", &ns, &err), 0);
    assert_int_equal(ns.labels.count, 2);
    assert_string_equal(ns.labels.items[0].key, "a");
    assert_string_equal(labels_get(&ns.labels, "b"), "2");
    namespace_record_clear(&ns);
    /* containerd answers Get for a missing namespace with no labels */
    assert_int_equal(namespaces_get(f->db, "missing", &ns, &err), 0);
    assert_int_equal(ns.labels.count, 0);
    namespace_record_clear(&ns);

    struct namespace_record *list;
    size_t n;
    assert_int_equal(namespaces_list(f->db, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "one");
    assert_string_equal(list[1].name, "two");
    namespaces_list_free(list, n);
    labels_clear(&l);

    /* records survive reopening */
    metadata_db_close(f->db);
    assert_int_equal(metadata_db_open(f->dir, &f->db, &err), 0);
    assert_int_equal(namespaces_get(f->db, "one", &ns, &err), 0);
    assert_string_equal(labels_get(&ns.labels, "a"), "1");
    namespace_record_clear(&ns);
}

static void test_update(void **state)
{
    struct fixture *f = *state;
    struct labels l = {0};
    labels_set(&l, "keep", "k");
    labels_set(&l, "drop", "d");
    assert_int_equal(namespaces_create(f->db, "ns", &l, NULL), 0);
    labels_clear(&l);

    labels_set(&l, "new", "n");
    struct namespace_record ns;
    const char *paths[] = {"labels.new", "labels.drop"};
    assert_int_equal(namespaces_update(f->db, "ns", &l, paths, 2, &ns, NULL), 0);
    assert_int_equal(ns.labels.count, 2);
    assert_string_equal(labels_get(&ns.labels, "keep"), "k");
    assert_string_equal(labels_get(&ns.labels, "new"), "n");
    assert_null(labels_get(&ns.labels, "drop"));
    namespace_record_clear(&ns);

    /* no mask: replace everything */
    assert_int_equal(namespaces_update(f->db, "ns", &l, NULL, 0, &ns, NULL), 0);
    assert_int_equal(ns.labels.count, 1);
    namespace_record_clear(&ns);

    struct berth_error *err = NULL;
    const char *bad[] = {"name"};
    assert_int_equal(namespaces_update(f->db, "ns", &l, bad, 1, &ns, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    assert_string_equal(err->message, "cannot update \"name\" field: invalid argument");
    err_free(err);
    labels_clear(&l);

    /* label size limit */
    char *big = xmalloc(LABEL_MAX_SIZE + 2);
    memset(big, 'x', LABEL_MAX_SIZE + 1);
    big[LABEL_MAX_SIZE + 1] = '\0';
    labels_set(&l, "k", big);
    err = NULL;
    assert_int_equal(namespaces_create(f->db, "big", &l, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    err_free(err);
    free(big);
    labels_clear(&l);
}

static void test_delete(void **state)
{
    struct fixture *f = *state;
    struct berth_error *err = NULL;
    assert_int_equal(namespaces_create(f->db, "busy", NULL, NULL), 0);
    assert_int_equal(namespaces_create(f->db, "bus", NULL, NULL), 0);
    /* a record in another table keeps "busy" from being deleted, and not its prefix "bus" */
    struct metadata_txn t;
    assert_int_equal(metadata_txn_begin(f->db, true, &t, NULL), 0);
    struct metadata_key k = metadata_key_make("busy", "docker.io/library/busybox:latest");
    MDB_val key = {k.len, k.data}, val = {1, (void *)"x"};
    assert_int_equal(mdb_put(t.txn, metadata_table(&t, TABLE_IMAGES), &key, &val, 0), 0);
    metadata_key_free(&k);
    assert_int_equal(metadata_txn_commit(&t, NULL), 0);

    assert_int_equal(namespaces_delete(f->db, "busy", &err), -1);
    assert_int_equal(err->kind, ERR_FAILED_PRECONDITION);
    assert_string_equal(err->message,
                        "namespace \"busy\" must be empty, but it still has images: failed "
                        "precondition");
    err_free(err);
    err = NULL;
    assert_int_equal(namespaces_delete(f->db, "bus", &err), 0);
    assert_int_equal(namespaces_delete(f->db, "bus", &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    err_free(err);
}

static void test_record_bounds(void **state)
{
    /* a truncated or hostile record never reads past its end */
    uint8_t bad[] = {0x05, 0x01, 'a', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    for (size_t len = 0; len <= sizeof(bad); len++) {
        struct record_reader r = {bad, bad + len, false};
        struct labels l = {0};
        record_get_labels(&r, &l);
        labels_clear(&l);
    }
    struct record_buf b = {0};
    struct labels l = {0};
    labels_set(&l, "k", "v");
    record_put_labels(&b, &l);
    struct record_reader r = {b.data, b.data + b.len, false};
    struct labels back = {0};
    record_get_labels(&r, &back);
    assert_false(r.failed);
    assert_string_equal(labels_get(&back, "k"), "v");
    labels_clear(&l);
    labels_clear(&back);
    free(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_get_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test(test_record_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
