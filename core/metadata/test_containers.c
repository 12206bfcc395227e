/* Unit tests for container records: CRUD, validation, field masks, filters, namespaces, bad
 * records. */
#include "core/metadata/containers.h"
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

#define SPEC_URL "types.containerd.io/opencontainers/runtime-spec/1/Spec"
#define SPEC     "{\"ociVersion\":\"1.0.2\"}"

struct fixture {
    char dir[64];
    struct metadata_db *db;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/berth-containers-XXXXXX");
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

/* An owned container with a runtime and a spec. */
static struct container make(const char *id)
{
    struct container in = {0}, c = {
                                   .id = (char *)id,
                                   .runtime_name = (char *)"io.containerd.runc.v2",
                               };
    container_copy(&in, &c);
    container_any_set(&in.spec, SPEC_URL, SPEC, strlen(SPEC));
    return in;
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

static void create(struct fixture *f, const char *ns, struct container *in)
{
    struct container out;
    assert_int_equal(containers_create(f->db, ns, in, &out, NULL), 0);
    container_clear(&out);
}

static void test_create_get(void **state)
{
    struct fixture *f = *state;
    struct container in = make("c1");
    labels_set(&in.labels, "b", "2");
    labels_set(&in.labels, "a", "1");
    labels_set(&in.labels, "empty", "");
    in.image = (free(in.image), xstrdup("docker.io/library/busybox:latest"));
    in.snapshotter = (free(in.snapshotter), xstrdup("overlayfs"));
    in.snapshot_key = (free(in.snapshot_key), xstrdup("c1-snapshot"));
    in.sandbox = (free(in.sandbox), xstrdup("pod"));
    const uint8_t opts[] = {0x0a, 0x00, 0x12, 0x01, 0x78}; /* NUL bytes survive */
    container_any_set(&in.runtime_options, "containerd.runc.v1.Options", opts, sizeof(opts));
    struct container_any ext = {0};
    container_any_set(&ext, "x/y", "\x01\x02", 2);
    container_extension_set(&in, "zeta", &ext);
    container_extension_set(&in, "alpha", &ext);
    container_any_clear(&ext);
    in.created_at = 5; /* ignored */

    struct container out;
    assert_int_equal(containers_create(f->db, "default", &in, &out, NULL), 0);
    assert_true(out.created_at > 5);
    assert_int_equal(out.created_at, out.updated_at);
    container_clear(&out);

    struct container got;
    assert_int_equal(containers_get(f->db, "default", "c1", &got, NULL), 0);
    assert_string_equal(got.id, "c1");
    assert_int_equal(got.labels.count, 2);
    assert_string_equal(got.labels.items[0].key, "a");
    assert_null(labels_get(&got.labels, "empty"));
    assert_string_equal(got.image, "docker.io/library/busybox:latest");
    assert_string_equal(got.runtime_name, "io.containerd.runc.v2");
    assert_true(got.runtime_options.set);
    assert_int_equal(got.runtime_options.value_len, sizeof(opts));
    assert_memory_equal(got.runtime_options.value, opts, sizeof(opts));
    assert_true(got.spec.set);
    assert_string_equal(got.spec.type_url, SPEC_URL);
    assert_memory_equal(got.spec.value, SPEC, strlen(SPEC));
    assert_string_equal(got.snapshotter, "overlayfs");
    assert_string_equal(got.snapshot_key, "c1-snapshot");
    assert_string_equal(got.sandbox, "pod");
    assert_int_equal(got.n_extensions, 2);
    assert_string_equal(got.extensions[0].key, "alpha");
    assert_string_equal(got.extensions[1].key, "zeta");
    assert_string_equal(got.extensions[1].value.type_url, "x/y");
    container_clear(&got);

    struct berth_error *err = NULL;
    expect_error(containers_create(f->db, "default", &in, &out, &err), &err, ERR_ALREADY_EXISTS,
                 "container \"c1\": already exists");
    expect_error(containers_get(f->db, "default", "nope", &got, &err), &err, ERR_NOT_FOUND,
                 "container \"nope\" in namespace \"default\": not found");
    container_clear(&in);
}

static void test_validation(void **state)
{
    struct fixture *f = *state;
    struct berth_error *err = NULL;
    struct container out;

    struct container in = make("bad id");
    expect_error(containers_create(f->db, "default", &in, &out, &err), &err, ERR_INVALID_ARGUMENT,
                 NULL);
    container_clear(&in);

    in = make("c");
    in.runtime_name[0] = '\0';
    expect_error(containers_create(f->db, "default", &in, &out, &err), &err, ERR_INVALID_ARGUMENT,
                 "create container failed validation: container.Runtime.Name must be set: "
                 "invalid argument");
    container_clear(&in);

    in = make("c");
    container_any_clear(&in.spec);
    expect_error(containers_create(f->db, "default", &in, &out, &err), &err, ERR_INVALID_ARGUMENT,
                 "create container failed validation: container.Spec must be set: invalid "
                 "argument");
    container_clear(&in);

    in = make("c");
    in.snapshot_key = (free(in.snapshot_key), xstrdup("k"));
    expect_error(containers_create(f->db, "default", &in, &out, &err), &err, ERR_INVALID_ARGUMENT,
                 "create container failed validation: container.Snapshotter must be set if "
                 "container.SnapshotKey is set: invalid argument");
    container_clear(&in);

    in = make("c");
    container_extension_set(&in, "", NULL);
    expect_error(containers_create(f->db, "default", &in, &out, &err), &err, ERR_INVALID_ARGUMENT,
                 "create container failed validation: container.Extension keys must not be "
                 "zero-length: invalid argument");
    container_clear(&in);

    in = make("c");
    char big[LABEL_MAX_SIZE + 1];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    labels_set(&in.labels, "k", big);
    expect_error(containers_create(f->db, "default", &in, &out, &err), &err, ERR_INVALID_ARGUMENT,
                 NULL);
    container_clear(&in);
}

static void test_update(void **state)
{
    struct fixture *f = *state;
    struct berth_error *err = NULL;
    struct container in = make("c1");
    in.snapshotter = (free(in.snapshotter), xstrdup("overlayfs"));
    in.snapshot_key = (free(in.snapshot_key), xstrdup("k1"));
    labels_set(&in.labels, "keep", "1");
    labels_set(&in.labels, "drop", "1");
    create(f, "default", &in);
    struct container created;
    assert_int_equal(containers_get(f->db, "default", "c1", &created, NULL), 0);

    struct container req = {0}, base = {.id = (char *)"c1"};
    container_copy(&req, &base);
    labels_set(&req.labels, "new", "v");
    const char *const p1[] = {"labels.new", "labels.drop"};
    struct container out;
    assert_int_equal(containers_update(f->db, "default", &req, p1, 2, &out, NULL), 0);
    assert_string_equal(labels_get(&out.labels, "new"), "v");
    assert_string_equal(labels_get(&out.labels, "keep"), "1");
    assert_null(labels_get(&out.labels, "drop"));
    assert_int_equal(out.created_at, created.created_at);
    assert_true(out.updated_at >= created.updated_at);
    assert_string_equal(out.snapshot_key, "k1");
    container_clear(&out);

    req.image = (free(req.image), xstrdup("img"));
    req.snapshot_key = (free(req.snapshot_key), xstrdup("k2"));
    container_any_set(&req.spec, SPEC_URL, "{}", 2);
    struct container_any ext = {0};
    container_any_set(&ext, "t", "v", 1);
    container_extension_set(&req, "e", &ext);
    container_any_clear(&ext);
    const char *const p2[] = {"image", "snapshotkey", "spec", "extensions.e"};
    assert_int_equal(containers_update(f->db, "default", &req, p2, 4, &out, NULL), 0);
    assert_string_equal(out.image, "img");
    assert_string_equal(out.snapshot_key, "k2");
    assert_int_equal(out.spec.value_len, 2);
    assert_int_equal(out.n_extensions, 1);
    container_clear(&out);

    const char *const bad[] = {"runtime"};
    expect_error(containers_update(f->db, "default", &req, bad, 1, &out, &err), &err,
                 ERR_INVALID_ARGUMENT,
                 "cannot update \"runtime\" field on \"c1\": invalid argument");
    const char *const bad2[] = {"snapshot_key"};
    expect_error(containers_update(f->db, "default", &req, bad2, 1, &out, &err), &err,
                 ERR_INVALID_ARGUMENT, NULL);

    /* an empty mask replaces all, but immutable fields must match */
    expect_error(containers_update(f->db, "default", &req, NULL, 0, &out, &err), &err,
                 ERR_INVALID_ARGUMENT,
                 "container.Snapshotter field is immutable: invalid argument");
    req.snapshotter = (free(req.snapshotter), xstrdup("overlayfs"));
    expect_error(containers_update(f->db, "default", &req, NULL, 0, &out, &err), &err,
                 ERR_INVALID_ARGUMENT,
                 "container.Runtime.Name field is immutable: invalid argument");
    req.runtime_name = (free(req.runtime_name), xstrdup("io.containerd.runc.v2"));
    assert_int_equal(containers_update(f->db, "default", &req, NULL, 0, &out, NULL), 0);
    assert_int_equal(out.labels.count, 1);
    assert_string_equal(labels_get(&out.labels, "new"), "v");
    container_clear(&out);

    /* removing the spec fails validation and changes nothing */
    container_any_clear(&req.spec);
    const char *const p3[] = {"spec"};
    expect_error(containers_update(f->db, "default", &req, p3, 1, &out, &err), &err,
                 ERR_INVALID_ARGUMENT,
                 "update failed validation: container.Spec must be set: invalid argument");

    struct container missing = {.id = (char *)"nope"};
    expect_error(containers_update(f->db, "default", &missing, p3, 1, &out, &err), &err,
                 ERR_NOT_FOUND, "container \"nope\": not found");
    expect_error(containers_update(f->db, "other", &missing, p3, 1, &out, &err), &err,
                 ERR_NOT_FOUND,
                 "cannot update container \"nope\" in namespace \"other\": not found");
    struct container noid = {0};
    expect_error(containers_update(f->db, "default", &noid, p3, 1, &out, &err), &err,
                 ERR_INVALID_ARGUMENT, "must specify a container id: invalid argument");
    container_clear(&req);
    container_clear(&created);
    container_clear(&in);
}

static void test_list_filters_namespaces(void **state)
{
    struct fixture *f = *state;
    struct container a = make("a"), b = make("b"), c = make("c");
    a.image = (free(a.image), xstrdup("busybox"));
    labels_set(&b.labels, "role", "web");
    c.runtime_name = (free(c.runtime_name), xstrdup("io.containerd.runsc.v1"));
    create(f, "ns1", &c);
    create(f, "ns1", &a);
    create(f, "ns1", &b);
    create(f, "ns2", &a);

    struct container *list;
    size_t n;
    assert_int_equal(containers_list(f->db, "ns1", NULL, 0, &list, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].id, "a");
    assert_string_equal(list[2].id, "c");
    containers_list_free(list, n);

    const char *const f1[] = {"image==busybox"};
    assert_int_equal(containers_list(f->db, "ns1", f1, 1, &list, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "a");
    containers_list_free(list, n);

    const char *const f2[] = {"labels.role==web", "runtime.name~=runsc"};
    assert_int_equal(containers_list(f->db, "ns1", f2, 2, &list, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "b");
    assert_string_equal(list[1].id, "c");
    containers_list_free(list, n);

    const char *const f3[] = {"id==a,image"};
    assert_int_equal(containers_list(f->db, "ns2", f3, 1, &list, &n, NULL), 0);
    assert_int_equal(n, 1);
    containers_list_free(list, n);

    const char *const bad[] = {"id=="};
    struct berth_error *err = NULL;
    assert_int_equal(containers_list(f->db, "ns1", bad, 1, &list, &n, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    err_free(err);
    err = NULL;

    /* the namespace exists now and cannot go while it holds a container */
    expect_error(namespaces_delete(f->db, "ns2", &err), &err, ERR_FAILED_PRECONDITION, NULL);
    expect_error(containers_delete(f->db, "ns3", "a", &err), &err, ERR_NOT_FOUND,
                 "cannot delete container \"a\" in namespace \"ns3\": not found");
    expect_error(containers_delete(f->db, "ns2", "zz", &err), &err, ERR_NOT_FOUND,
                 "container zz: not found");
    assert_int_equal(containers_delete(f->db, "ns2", "a", NULL), 0);
    assert_int_equal(namespaces_delete(f->db, "ns2", NULL), 0);
    struct container got;
    assert_int_equal(containers_get(f->db, "ns1", "a", &got, NULL), 0);
    container_clear(&got);
    container_clear(&a);
    container_clear(&b);
    container_clear(&c);
}

static void test_corrupt_records(void **state)
{
    (void)state;
    struct container in = make("c");
    labels_set(&in.labels, "k", "v");
    container_any_set(&in.runtime_options, "o", "xyz", 3);
    container_extension_set(&in, "e", &in.runtime_options);
    struct record_buf b = {0};
    container_record_encode(&in, &b);
    struct container out;
    assert_int_equal(container_record_decode(b.data, b.len, &out), 0);
    container_clear(&out);
    /* every truncation fails cleanly; each copy is exactly sized so ASan sees any overread */
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *copy = xmemdup(b.data, n ? n : 1);
        assert_int_equal(container_record_decode(copy, n, &out), -1);
        free(copy);
    }
    /* trailing bytes are corruption too */
    record_put_u64(&b, 7);
    assert_int_equal(container_record_decode(b.data, b.len, &out), -1);
    /* a huge extension count is rejected before it allocates */
    struct container bare = make("c");
    struct record_buf h = {0};
    container_record_encode(&bare, &h);
    h.len--; /* drop the zero count */
    record_put_u64(&h, UINT64_MAX / 2);
    assert_int_equal(container_record_decode(h.data, h.len, &out), -1);
    /* random bytes never read out of bounds */
    srand(42);
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(rand() % 64) + 1;
        uint8_t *junk = xmalloc(n);
        for (size_t j = 0; j < n; j++)
            junk[j] = (uint8_t)rand();
        if (container_record_decode(junk, n, &out) == 0)
            container_clear(&out);
        free(junk);
    }
    free(h.data);
    free(b.data);
    container_clear(&bare);
    container_clear(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters_namespaces, setup, teardown),
        cmocka_unit_test(test_corrupt_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
