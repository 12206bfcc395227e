/* Garbage collection: what roots keep, what goes, across namespaces, leases and labels. */
#include "core/metadata/content.h"
#include "core/metadata/gc.h"
#include "core/metadata/images.h"
#include "core/metadata/leases.h"
#include "lib/base/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

struct fixture {
    char dir[64];
    struct metadata_db *db;
    struct content_store *store;
    struct metadata_content *mc;
};

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/berth-gc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    _cleanup_free_ char *meta = xasprintf("%s/meta", f->dir);
    _cleanup_free_ char *blobs = xasprintf("%s/content", f->dir);
    assert_int_equal(metadata_db_open(meta, &f->db, NULL), 0);
    assert_int_equal(content_store_open(blobs, &f->store, NULL), 0);
    f->mc = metadata_content_new(f->db, f->store, true);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    metadata_content_free(f->mc);
    content_store_close(f->store);
    metadata_db_close(f->db);
    _cleanup_free_ char *cmd = xasprintf("rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Writes data into ns as a blob with labels; returns its digest in out. */
static void put_blob(struct fixture *f, const char *ns, const char *data, const struct labels *l,
                     const char *lease, char out[DIGEST_STRING_SIZE])
{
    assert_int_equal(digest_from_bytes(DIGEST_SHA256, data, strlen(data), out, NULL), 0);
    struct metadata_content_writer *w = NULL;
    struct berth_error *err = NULL;
    _cleanup_free_ char *ref = xasprintf("ref-%s", out);
    if (metadata_content_writer_open(f->mc, ns, ref, 0, out, lease, &w, &err) < 0) {
        assert_int_equal(err->kind, ERR_ALREADY_EXISTS);
        err_free(err);
        return;
    }
    assert_int_equal(metadata_content_writer_write_at(w, 0, data, strlen(data), NULL), 0);
    err = NULL;
    int r = metadata_content_writer_commit(w, 0, out, l, &err);
    if (r < 0) {
        assert_int_equal(err->kind, ERR_ALREADY_EXISTS);
        err_free(err);
    }
    metadata_content_writer_close(w);
}

static bool visible(struct fixture *f, const char *ns, const char *digest)
{
    struct content_record r;
    struct berth_error *err = NULL;
    if (metadata_content_info(f->mc, ns, digest, &r, &err) < 0) {
        err_free(err);
        return false;
    }
    content_record_clear(&r);
    return true;
}

static bool on_disk(struct fixture *f, const char *digest)
{
    struct content_info info;
    struct berth_error *err = NULL;
    if (content_info(f->store, digest, &info, &err) < 0) {
        err_free(err);
        return false;
    }
    return true;
}

static void gc(struct fixture *f)
{
    struct gc_stats stats;
    struct berth_error *err = NULL;
    if (metadata_gc(f->db, f->store, &stats, &err) < 0)
        fail_msg("gc: %s", err->message);
}

static void test_image_references(void **state)
{
    struct fixture *f = *state;
    char layer[DIGEST_STRING_SIZE], config[DIGEST_STRING_SIZE], manifest[DIGEST_STRING_SIZE],
        stray[DIGEST_STRING_SIZE];
    put_blob(f, "ns", "layer", NULL, NULL, layer);
    put_blob(f, "ns", "config", NULL, NULL, config);
    struct labels l = {0};
    labels_set(&l, "containerd.io/gc.ref.content.l.0", layer);
    labels_set(&l, "containerd.io/gc.ref.content.config", config);
    put_blob(f, "ns", "manifest", &l, NULL, manifest);
    labels_clear(&l);
    put_blob(f, "ns", "stray", NULL, NULL, stray);

    struct image img = {.name = "example.com/app:1"};
    img.target.media_type = "application/vnd.oci.image.manifest.v1+json";
    img.target.digest = manifest;
    img.target.size = 8;
    struct image stored;
    assert_int_equal(
        images_create(f->db, "ns", &img, &(struct image_write_options){0}, &stored, NULL), 0);
    image_clear(&stored);

    gc(f);
    assert_true(visible(f, "ns", manifest) && visible(f, "ns", layer) && visible(f, "ns", config));
    assert_false(visible(f, "ns", stray));
    assert_false(on_disk(f, stray));
    assert_true(on_disk(f, layer));

    /* the image goes: so does everything it held */
    assert_int_equal(images_delete(f->db, "ns", "example.com/app:1", NULL,
                                   &(struct image_write_options){0}, NULL),
                     0);
    gc(f);
    assert_false(visible(f, "ns", manifest) || visible(f, "ns", layer));
    assert_false(on_disk(f, manifest) || on_disk(f, layer) || on_disk(f, config));
}

static void test_shared_across_namespaces(void **state)
{
    struct fixture *f = *state;
    char d[DIGEST_STRING_SIZE];
    struct labels root = {0};
    labels_set(&root, "containerd.io/gc.root", "x");
    put_blob(f, "a", "both", &root, NULL, d);
    put_blob(f, "b", "both", NULL, NULL, d);
    labels_clear(&root);
    gc(f);
    /* b's record is unreferenced and goes; the blob stays for a */
    assert_true(visible(f, "a", d));
    assert_false(visible(f, "b", d));
    assert_true(on_disk(f, d));
}

static void test_leases(void **state)
{
    struct fixture *f = *state;
    struct lease lease;
    assert_int_equal(leases_create(f->db, "ns", "hold", NULL, &lease, NULL), 0);
    lease_clear(&lease);
    char held[DIGEST_STRING_SIZE], child[DIGEST_STRING_SIZE];
    put_blob(f, "ns", "child", NULL, NULL, child);
    struct labels l = {0};
    labels_set(&l, "containerd.io/gc.ref.content", child);
    put_blob(f, "ns", "held", &l, "hold", held);
    labels_clear(&l);
    gc(f);
    assert_true(visible(f, "ns", held));
    assert_true(visible(f, "ns", child)); /* followed from the leased blob */

    /* an expired lease holds nothing and is removed */
    struct labels expiring = {0};
    labels_set(&expiring, "containerd.io/gc.expire", "2001-01-01T00:00:00Z");
    assert_int_equal(leases_create(f->db, "ns", "old", &expiring, &lease, NULL), 0);
    lease_clear(&lease);
    labels_clear(&expiring);
    char old[DIGEST_STRING_SIZE];
    put_blob(f, "ns", "old", NULL, "old", old);
    gc(f);
    assert_false(visible(f, "ns", old));
    struct lease *list;
    size_t n;
    assert_int_equal(leases_list(f->db, "ns", NULL, 0, &list, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "hold");
    leases_list_free(list, n);

    assert_int_equal(leases_delete(f->db, "ns", "hold", NULL), 0);
    gc(f);
    assert_false(visible(f, "ns", held) || visible(f, "ns", child));
    assert_false(on_disk(f, held) || on_disk(f, child));
}

static void test_ingests_survive(void **state)
{
    struct fixture *f = *state;
    struct metadata_content_writer *w = NULL;
    assert_int_equal(
        metadata_content_writer_open(f->mc, "ns", "in-flight", 0, NULL, NULL, &w, NULL), 0);
    assert_int_equal(metadata_content_writer_write_at(w, 0, "part", 4, NULL), 0);
    metadata_content_writer_close(w);
    gc(f);
    struct content_status st;
    assert_int_equal(metadata_content_status(f->mc, "ns", "in-flight", &st, NULL), 0);
    assert_int_equal(st.offset, 4);
    content_status_clear(&st);
}

static void test_expire_parse(void **state)
{
    int64_t ns;
    assert_true(gc_parse_expire("2001-01-01T00:00:00Z", &ns));
    assert_int_equal(ns, 978307200LL * 1000000000LL);
    assert_true(gc_parse_expire("2001-01-01T01:00:00.5+01:00", &ns));
    assert_int_equal(ns, 978307200LL * 1000000000LL + 500000000LL);
    assert_false(gc_parse_expire("tomorrow", &ns));
    assert_false(gc_parse_expire("2001-01-01T00:00:00", &ns));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_image_references, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_across_namespaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingests_survive, setup, teardown),
        cmocka_unit_test(test_expire_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
