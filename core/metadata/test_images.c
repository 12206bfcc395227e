/* Unit tests for image records: CRUD, field masks, filters, namespaces, leases, bad records. */
#include "core/metadata/images.h"
#include "core/metadata/leases.h"
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

#define DIGEST_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIGEST_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define INDEX    "application/vnd.oci.image.index.v1+json"
#define MANIFEST "application/vnd.oci.image.manifest.v1+json"

struct fixture {
    char dir[64];
    struct metadata_db *db;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/berth-images-XXXXXX");
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

/* An image to create; strings are borrowed, so free only its label maps. */
static struct image make(const char *name, const char *digest, const char *media_type)
{
    return (struct image){
        .name = (char *)name,
        .target = {.media_type = (char *)media_type, .digest = (char *)digest, .size = 100},
    };
}

static void drop(struct image *im)
{
    labels_clear(&im->labels);
    labels_clear(&im->target.annotations);
}

/* Asserts the call failed with kind and message, and frees the error. */
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

static void test_create_get(void **state)
{
    struct fixture *f = *state;
    struct image in = make("docker.io/library/busybox:latest", DIGEST_A, INDEX);
    labels_set(&in.labels, "b", "2");
    labels_set(&in.labels, "a", "1");
    labels_set(&in.labels, "empty", "");
    labels_set(&in.target.annotations, "org.opencontainers.image.ref.name", "latest");
    in.created_at = 5; /* ignored, as containerd ignores it */
    struct image out;
    struct berth_error *err = NULL;
    assert_int_equal(images_create(f->db, "default", &in, NULL, &out, &err), 0);
    assert_string_equal(out.name, "docker.io/library/busybox:latest");
    assert_int_equal(out.labels.count, 2);
    assert_string_equal(out.labels.items[0].key, "a");
    assert_true(out.created_at > 1000000000LL * 1600000000LL);
    assert_true(out.created_at == out.updated_at);
    image_clear(&out);

    assert_int_equal(images_get(f->db, "default", "docker.io/library/busybox:latest", &out, &err),
                     0);
    assert_string_equal(out.target.digest, DIGEST_A);
    assert_string_equal(out.target.media_type, INDEX);
    assert_int_equal(out.target.size, 100);
    assert_string_equal(labels_get(&out.target.annotations, "org.opencontainers.image.ref.name"),
                        "latest");
    assert_null(labels_get(&out.labels, "empty"));
    assert_string_equal(labels_get(&out.labels, "b"), "2");
    image_clear(&out);

    /* the namespace came into being with the image */
    struct namespace_record *nss;
    size_t n;
    assert_int_equal(namespaces_list(f->db, &nss, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(nss[0].name, "default");
    namespaces_list_free(nss, n);

    expect_error(images_create(f->db, "default", &in, NULL, &out, &err), &err, ERR_ALREADY_EXISTS,
                 "image \"docker.io/library/busybox:latest\": already exists");
    expect_error(images_get(f->db, "default", "nope", &out, &err), &err, ERR_NOT_FOUND,
                 "image \"nope\": not found");
    /* the same name in another namespace is another image */
    expect_error(images_get(f->db, "other", "docker.io/library/busybox:latest", &out, &err), &err,
                 ERR_NOT_FOUND, NULL);
    drop(&in);

    /* epoch: both timestamps are the given time */
    struct image_write_options opts = {.has_epoch = true, .epoch_ns = 1234567890123456789LL};
    in = make("epoch", DIGEST_A, INDEX);
    assert_int_equal(images_create(f->db, "default", &in, &opts, &out, NULL), 0);
    assert_int_equal(out.created_at, 1234567890123456789LL);
    assert_int_equal(out.updated_at, 1234567890123456789LL);
    image_clear(&out);
}

static void test_validation(void **state)
{
    struct fixture *f = *state;
    struct image out;
    struct berth_error *err = NULL;
    struct image in = make("", DIGEST_A, INDEX);
    expect_error(images_create(f->db, "default", &in, NULL, &out, &err), &err, ERR_INVALID_ARGUMENT,
                 "image name must not be empty: invalid argument");
    in = make("x", "sha256:abc", INDEX);
    expect_error(images_create(f->db, "default", &in, NULL, &out, &err), &err, ERR_INVALID_ARGUMENT,
                 "Target.Digest \"sha256:abc\" invalid: invalid checksum digest length: invalid "
                 "argument");
    in = make("x", "", INDEX);
    expect_error(images_create(f->db, "default", &in, NULL, &out, &err), &err, ERR_INVALID_ARGUMENT,
                 "Target.Digest \"\" invalid: invalid checksum digest format: invalid argument");
    in = make("x", DIGEST_A, "");
    expect_error(images_create(f->db, "default", &in, NULL, &out, &err), &err, ERR_INVALID_ARGUMENT,
                 "Target.MediaType must be set: invalid argument");
    in = make("x", DIGEST_A, INDEX);
    in.target.size = 0;
    expect_error(images_create(f->db, "default", &in, NULL, &out, &err), &err, ERR_INVALID_ARGUMENT,
                 "Target.Size must be greater than zero: invalid argument");
    in = make("x", DIGEST_A, INDEX);
    char *big = xmalloc(LABEL_MAX_SIZE + 2);
    memset(big, 'v', LABEL_MAX_SIZE + 1);
    big[LABEL_MAX_SIZE + 1] = '\0';
    labels_set(&in.labels, "k", big);
    free(big);
    assert_int_equal(images_create(f->db, "default", &in, NULL, &out, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    assert_true(strncmp(err->message, "image.Labels: label key and value length", 40) == 0);
    err_free(err);
    err = NULL;
    drop(&in);

    /* a name that cannot fit in an LMDB key is refused, and reads as missing */
    char *long_name = xmalloc(1001);
    memset(long_name, 'n', 1000);
    long_name[1000] = '\0';
    in = make(long_name, DIGEST_A, INDEX);
    expect_error(images_create(f->db, "default", &in, NULL, &out, &err), &err, ERR_INVALID_ARGUMENT,
                 NULL);
    expect_error(images_get(f->db, "default", long_name, &out, &err), &err, ERR_NOT_FOUND, NULL);
    expect_error(images_delete(f->db, "default", long_name, NULL, NULL, &err), &err, ERR_NOT_FOUND,
                 NULL);
    free(long_name);
}

static void test_update(void **state)
{
    struct fixture *f = *state;
    struct image in = make("img", DIGEST_A, INDEX);
    labels_set(&in.labels, "keep", "k");
    labels_set(&in.labels, "drop", "d");
    labels_set(&in.target.annotations, "ann", "1");
    struct image_write_options at1 = {.has_epoch = true, .epoch_ns = 1000};
    struct image out;
    assert_int_equal(images_create(f->db, "default", &in, &at1, &out, NULL), 0);
    image_clear(&out);
    drop(&in);

    /* labels.<k>: set from the request, or removed when the request lacks it */
    in = make("img", NULL, NULL);
    labels_set(&in.labels, "new", "n");
    const char *paths[] = {"labels.new", "labels.drop"};
    struct image_write_options at2 = {.has_epoch = true, .epoch_ns = 2000};
    assert_int_equal(images_update(f->db, "default", &in, paths, 2, &at2, &out, NULL), 0);
    assert_int_equal(out.labels.count, 2);
    assert_string_equal(labels_get(&out.labels, "keep"), "k");
    assert_string_equal(labels_get(&out.labels, "new"), "n");
    assert_int_equal(out.created_at, 1000);
    assert_int_equal(out.updated_at, 2000);
    assert_string_equal(out.target.digest, DIGEST_A); /* untouched */
    image_clear(&out);
    drop(&in);

    /* annotations.<k>, then annotations as a whole */
    in = make("img", NULL, NULL);
    labels_set(&in.target.annotations, "b", "2");
    const char *ann_paths[] = {"annotations.b", "annotations.ann"};
    assert_int_equal(images_update(f->db, "default", &in, ann_paths, 2, NULL, &out, NULL), 0);
    assert_int_equal(out.target.annotations.count, 1);
    assert_string_equal(labels_get(&out.target.annotations, "b"), "2");
    image_clear(&out);
    const char *all_ann[] = {"annotations"};
    labels_clear(&in.target.annotations);
    assert_int_equal(images_update(f->db, "default", &in, all_ann, 1, NULL, &out, NULL), 0);
    assert_int_equal(out.target.annotations.count, 0);
    image_clear(&out);
    drop(&in);

    /* target replaces the descriptor as a unit; labels replaces every label */
    in = make("img", DIGEST_B, MANIFEST);
    in.target.size = 7;
    labels_set(&in.labels, "only", "this");
    const char *both[] = {"target", "labels"};
    assert_int_equal(images_update(f->db, "default", &in, both, 2, NULL, &out, NULL), 0);
    assert_string_equal(out.target.digest, DIGEST_B);
    assert_string_equal(out.target.media_type, MANIFEST);
    assert_int_equal(out.target.size, 7);
    assert_int_equal(out.labels.count, 1);
    image_clear(&out);
    drop(&in);

    /* a target that fails validation is refused and nothing changes */
    struct berth_error *err = NULL;
    in = make("img", "nope", MANIFEST);
    const char *target[] = {"target"};
    expect_error(images_update(f->db, "default", &in, target, 1, NULL, &out, &err), &err,
                 ERR_INVALID_ARGUMENT, NULL);
    const char *bad[] = {"labels.x", "name"};
    expect_error(images_update(f->db, "default", &in, bad, 2, NULL, &out, &err), &err,
                 ERR_INVALID_ARGUMENT,
                 "cannot update \"name\" field on image \"img\": invalid argument");
    assert_int_equal(images_get(f->db, "default", "img", &out, NULL), 0);
    assert_string_equal(out.target.digest, DIGEST_B);
    assert_string_equal(labels_get(&out.labels, "only"), "this");
    image_clear(&out);

    /* no mask: labels and target replaced, created_at kept */
    in = make("img", DIGEST_A, INDEX);
    assert_int_equal(images_update(f->db, "default", &in, NULL, 0, NULL, &out, NULL), 0);
    assert_int_equal(out.labels.count, 0);
    assert_string_equal(out.target.digest, DIGEST_A);
    assert_int_equal(out.created_at, 1000);
    assert_true(out.updated_at > 2000);
    image_clear(&out);
    /* no mask and no target: containerd's validation answers */
    in = make("img", NULL, NULL);
    expect_error(images_update(f->db, "default", &in, NULL, 0, NULL, &out, &err), &err,
                 ERR_INVALID_ARGUMENT,
                 "Target.Digest \"\" invalid: invalid checksum digest format: invalid argument");

    in = make("missing", DIGEST_A, INDEX);
    expect_error(images_update(f->db, "default", &in, NULL, 0, NULL, &out, &err), &err,
                 ERR_NOT_FOUND, "image \"missing\": not found");
    in = make("", DIGEST_A, INDEX);
    expect_error(images_update(f->db, "default", &in, NULL, 0, NULL, &out, &err), &err,
                 ERR_INVALID_ARGUMENT, "image name is required for update: invalid argument");
}

static size_t list_count(struct metadata_db *db, const char *ns, const char *filter)
{
    struct image *list;
    size_t n;
    const char *filters[] = {filter};
    assert_int_equal(images_list(db, ns, filters, filter ? 1 : 0, &list, &n, NULL), 0);
    images_list_free(list, n);
    return n;
}

static void test_list_filters(void **state)
{
    struct fixture *f = *state;
    struct image out;
    const char *names[] = {"c", "a", "b"};
    for (size_t i = 0; i < 3; i++) {
        struct image in = make(names[i], i == 0 ? DIGEST_B : DIGEST_A, i == 2 ? MANIFEST : INDEX);
        if (i == 1) {
            labels_set(&in.labels, "tier", "gold");
            labels_set(&in.target.annotations, "io.x/ref", "v1");
        }
        assert_int_equal(images_create(f->db, "ns1", &in, NULL, &out, NULL), 0);
        image_clear(&out);
        drop(&in);
    }
    struct image in = make("a", DIGEST_A, INDEX);
    assert_int_equal(images_create(f->db, "ns10", &in, NULL, &out, NULL), 0);
    image_clear(&out);

    struct image *list;
    size_t n;
    assert_int_equal(images_list(f->db, "ns1", NULL, 0, &list, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].name, "a");
    assert_string_equal(list[1].name, "b");
    assert_string_equal(list[2].name, "c");
    images_list_free(list, n);

    assert_int_equal(list_count(f->db, "ns10", NULL), 1);
    assert_int_equal(list_count(f->db, "nothing", NULL), 0);
    assert_int_equal(list_count(f->db, "ns1", "name==b"), 1);
    assert_int_equal(list_count(f->db, "ns1", "name~=^[ab]$"), 2);
    assert_int_equal(list_count(f->db, "ns1", "target.digest==" DIGEST_A), 2);
    assert_int_equal(list_count(f->db, "ns1", "target.mediatype==" MANIFEST), 1);
    assert_int_equal(list_count(f->db, "ns1", "labels.tier==gold"), 1);
    assert_int_equal(list_count(f->db, "ns1", "labels.tier!=gold"), 2);
    assert_int_equal(list_count(f->db, "ns1", "labels.tier"), 1);
    assert_int_equal(list_count(f->db, "ns1", "annotations.\"io.x/ref\"==v1"), 1);
    assert_int_equal(list_count(f->db, "ns1", "name==a,labels.tier==silver"), 0);
    assert_int_equal(list_count(f->db, "ns1", "target"), 0);
    assert_int_equal(list_count(f->db, "ns1", "unknown==x"), 0);

    const char *any[] = {"name==a", "name==c"};
    assert_int_equal(images_list(f->db, "ns1", any, 2, &list, &n, NULL), 0);
    assert_int_equal(n, 2);
    images_list_free(list, n);

    struct berth_error *err = NULL;
    const char *bad[] = {"name=="};
    expect_error(images_list(f->db, "ns1", bad, 1, &list, &n, &err), &err, ERR_INVALID_ARGUMENT,
                 NULL);
}

static void test_delete(void **state)
{
    struct fixture *f = *state;
    struct image in = make("img", DIGEST_A, INDEX), out;
    assert_int_equal(images_create(f->db, "one", &in, NULL, &out, NULL), 0);
    image_clear(&out);
    assert_int_equal(images_create(f->db, "two", &in, NULL, &out, NULL), 0);
    image_clear(&out);

    struct berth_error *err = NULL;
    expect_error(images_delete(f->db, "one", "img", DIGEST_B, NULL, &err), &err, ERR_NOT_FOUND,
                 "image \"img\" has target " DIGEST_A ", not " DIGEST_B ": not found");
    assert_int_equal(images_delete(f->db, "one", "img", DIGEST_A, NULL, &err), 0);
    expect_error(images_delete(f->db, "one", "img", NULL, NULL, &err), &err, ERR_NOT_FOUND,
                 "image \"img\": not found");
    expect_error(images_delete(f->db, "one", "img", DIGEST_A, NULL, &err), &err, ERR_NOT_FOUND,
                 "image \"img\": not found");
    /* the other namespace's image is still there */
    assert_int_equal(images_get(f->db, "two", "img", &out, NULL), 0);
    image_clear(&out);
    assert_int_equal(images_delete(f->db, "two", "img", "", NULL, NULL), 0);
    assert_int_equal(namespaces_delete(f->db, "two", NULL), 0);
}

static void test_lease_header(void **state)
{
    struct fixture *f = *state;
    struct berth_error *err = NULL;
    struct image out;
    struct image_write_options opts = {.lease_id = "missing"};
    /* without gc.expire the lease is not consulted: the image is a root by itself */
    struct image in = make("plain", DIGEST_A, INDEX);
    assert_int_equal(images_create(f->db, "default", &in, &opts, &out, NULL), 0);
    image_clear(&out);

    in = make("expiring", DIGEST_A, INDEX);
    labels_set(&in.labels, IMAGE_LABEL_GC_EXPIRE, "2030-01-01T00:00:00Z");
    expect_error(images_create(f->db, "default", &in, &opts, &out, &err), &err, ERR_NOT_FOUND,
                 "lease does not exist: not found");
    expect_error(images_get(f->db, "default", "expiring", &out, &err), &err, ERR_NOT_FOUND, NULL);

    struct lease lease;
    assert_int_equal(leases_create(f->db, "default", "l1", NULL, &lease, NULL), 0);
    lease_clear(&lease);
    opts.lease_id = "l1";
    assert_int_equal(images_create(f->db, "default", &in, &opts, &out, NULL), 0);
    image_clear(&out);
    drop(&in);

    /* an update that adds gc.expire puts the image on the lease too */
    in = make("plain", NULL, NULL);
    labels_set(&in.labels, IMAGE_LABEL_GC_EXPIRE, "2030-01-01T00:00:00Z");
    const char *paths[] = {"labels." IMAGE_LABEL_GC_EXPIRE};
    assert_int_equal(images_update(f->db, "default", &in, paths, 1, &opts, &out, NULL), 0);
    image_clear(&out);
    drop(&in);

    struct lease_resource *rs;
    size_t n;
    assert_int_equal(leases_list_resources(f->db, "default", "l1", &rs, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(rs[0].type, "images");
    assert_string_equal(rs[0].id, "expiring");
    assert_string_equal(rs[1].id, "plain");
    lease_resources_free(rs, n);

    /* deleting under the lease drops the lease's reference */
    assert_int_equal(images_delete(f->db, "default", "expiring", NULL, &opts, NULL), 0);
    assert_int_equal(leases_list_resources(f->db, "default", "l1", &rs, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rs[0].id, "plain");
    lease_resources_free(rs, n);
}

static void put_raw(struct metadata_db *db, const char *ns, const char *name, const void *data,
                    size_t len)
{
    struct metadata_txn t;
    assert_int_equal(metadata_txn_begin(db, true, &t, NULL), 0);
    struct metadata_key k = metadata_key_make(ns, name);
    MDB_val key = {k.len, k.data}, val = {len, (void *)data};
    assert_int_equal(mdb_put(t.txn, metadata_table(&t, TABLE_IMAGES), &key, &val, 0), 0);
    metadata_key_free(&k);
    assert_int_equal(metadata_txn_commit(&t, NULL), 0);
}

static void test_corrupt_records(void **state)
{
    struct fixture *f = *state;
    struct image in = make("x", DIGEST_A, INDEX);
    labels_set(&in.labels, "k", "v");
    labels_set(&in.target.annotations, "a", "b");
    struct record_buf b = {0};
    image_record_encode(&in, &b);
    drop(&in);
    /* every truncation of a valid record is refused without reading past its end */
    for (size_t len = 0; len < b.len; len++) {
        uint8_t *copy = xmemdup(b.data, len ? len : 1);
        struct image out;
        assert_int_equal(image_record_decode(copy, len, &out), -1);
        free(copy);
    }
    struct image out;
    assert_int_equal(image_record_decode(b.data, b.len, &out), 0);
    assert_string_equal(out.target.digest, DIGEST_A);
    image_clear(&out);
    /* hostile lengths and counts */
    uint8_t hostile[] = {0x01, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x05, 'a'};
    assert_int_equal(image_record_decode(hostile, sizeof(hostile), &out), -1);
    uint8_t huge_string[] = {0x01, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff,
                             0xff, 0xff, 0xff, 0xff, 0x7f, 'a'};
    assert_int_equal(image_record_decode(huge_string, sizeof(huge_string), &out), -1);

    put_raw(f->db, "default", "bad", b.data, b.len / 2);
    free(b.data);
    struct berth_error *err = NULL;
    expect_error(images_get(f->db, "default", "bad", &out, &err), &err, ERR_DATA_LOSS,
                 "image \"bad\": corrupt record: data loss");
    struct image *list;
    size_t n;
    expect_error(images_list(f->db, "default", NULL, 0, &list, &n, &err), &err, ERR_DATA_LOSS,
                 NULL);
}

static void test_persistence(void **state)
{
    struct fixture *f = *state;
    struct image in = make("persist", DIGEST_A, INDEX), out;
    labels_set(&in.labels, "k", "v");
    assert_int_equal(images_create(f->db, "default", &in, NULL, &out, NULL), 0);
    int64_t created = out.created_at;
    image_clear(&out);
    drop(&in);
    metadata_db_close(f->db);
    assert_int_equal(metadata_db_open(f->dir, &f->db, NULL), 0);
    assert_int_equal(images_get(f->db, "default", "persist", &out, NULL), 0);
    assert_string_equal(labels_get(&out.labels, "k"), "v");
    assert_int_equal(out.created_at, created);
    image_clear(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
