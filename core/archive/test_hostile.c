/* Unit tests for hostile and broken archives: each fails clearly and stores no image. */
#include "core/archive/archive-internal.h"
#include "core/archive/test_sink.h"
#include "lib/base/alloc.h"

#include <archive_entry.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

/* A tiny valid OCI image, pieces of which the tests break. */
struct image_parts {
    char *config;
    char *layer; /* not a real tar: the importer does not look inside layers */
    char *manifest;
    char *index;
    char config_digest[80], layer_digest[80], manifest_digest[80];
};

static void parts_init(struct image_parts *p, const char *manifest_override)
{
    memset(p, 0, sizeof(*p));
    p->config = xstrdup("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":"
                        "\"layers\",\"diff_ids\":[]}}");
    p->layer = xstrdup("layer bytes");
    _cleanup_free_ char *cd = sha256_of(p->config, strlen(p->config));
    _cleanup_free_ char *ld = sha256_of(p->layer, strlen(p->layer));
    snprintf(p->config_digest, sizeof(p->config_digest), "%s", cd);
    snprintf(p->layer_digest, sizeof(p->layer_digest), "%s", ld);
    p->manifest =
        manifest_override
            ? xstrdup(manifest_override)
            : xasprintf(
                  "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
                  "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"application/"
                  "vnd.oci.image.layer.v1.tar\",\"digest\":\"%s\",\"size\":%zu}]}",
                  ARCHIVE_MEDIA_TYPE_OCI_MANIFEST, ARCHIVE_MEDIA_TYPE_OCI_CONFIG, cd,
                  strlen(p->config), ld, strlen(p->layer));
    _cleanup_free_ char *md = sha256_of(p->manifest, strlen(p->manifest));
    snprintf(p->manifest_digest, sizeof(p->manifest_digest), "%s", md);
    p->index = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":"
                         "\"%s\",\"size\":%zu,\"annotations\":{\"io.containerd.image.name\":"
                         "\"docker.io/library/x:1\"}}]}",
                         ARCHIVE_MEDIA_TYPE_OCI_MANIFEST, md, strlen(p->manifest));
}

static void parts_clear(struct image_parts *p)
{
    free(p->config);
    free(p->layer);
    free(p->manifest);
    free(p->index);
}

enum { WITH_CONFIG = 1, WITH_LAYER = 2, WITH_MANIFEST = 4, WITH_ALL = 7 };

static void add_parts(struct tar_builder *t, const struct image_parts *p, int which)
{
    tar_add_string(t, "oci-layout", layout);
    tar_add_dir(t, "blobs/");
    tar_add_dir(t, "blobs/sha256/");
    if (which & WITH_CONFIG)
        tar_add_blob(t, p->config, strlen(p->config));
    if (which & WITH_LAYER)
        tar_add_blob(t, p->layer, strlen(p->layer));
    if (which & WITH_MANIFEST)
        tar_add_blob(t, p->manifest, strlen(p->manifest));
    tar_add_string(t, "index.json", p->index);
}

static const struct import_options all_platforms = {.naming = IMPORT_NAMING_TRANSFER};

/* Imports and expects failure of `kind` with `needle` in the message, and no image stored. */
static void expect_failure(struct tar_builder *t, enum err_kind kind, const char *needle)
{
    size_t len = 0;
    _cleanup_free_ char *data = tar_builder_finish(t, &len);
    struct mem_store *s = mem_store_new();
    struct import_result res = {0};
    struct berth_error *err = NULL;
    struct import_reference ref = {"import", true, true, false, false};
    struct import_options o = all_platforms;
    o.references = &ref;
    o.n_references = 1;
    if (test_import_bytes(data, len, &o, s, &res, &err) == 0)
        fail_msg("import succeeded, want an error with \"%s\"", needle);
    if (err->kind != kind || !strstr(err->message, needle))
        fail_msg("got kind %d \"%s\", want kind %d with \"%s\"", err->kind, err->message, kind,
                 needle);
    assert_int_equal(s->image_store_calls, 0);
    assert_int_equal(s->open_writers, 0);
    err_free(err);
    mem_store_free(s);
}

static void test_valid_baseline(void **state)
{
    struct image_parts p;
    parts_init(&p, NULL);
    struct tar_builder *t = tar_builder_new();
    add_parts(t, &p, WITH_ALL);
    size_t len = 0;
    _cleanup_free_ char *data = tar_builder_finish(t, &len);
    struct mem_store *s = mem_store_new();
    struct import_result res = {0};
    struct berth_error *err = NULL;
    struct import_reference ref = {"import", true, true, false, false};
    struct import_options o = all_platforms;
    o.references = &ref;
    o.n_references = 1;
    if (test_import_bytes(data, len, &o, s, &res, &err) < 0)
        fail_msg("%s", err->message);
    assert_non_null(mem_store_image(s, "docker.io/library/x:1"));
    import_result_clear(&res);
    mem_store_free(s);
    parts_clear(&p);
}

static void test_path_escapes(void **state)
{
    struct image_parts p;
    parts_init(&p, NULL);
    struct tar_builder *t = tar_builder_new();
    add_parts(t, &p, WITH_ALL);
    tar_add_string(t, "../evil", "x");
    expect_failure(t, ERR_INVALID_ARGUMENT, "\"../evil\"");

    t = tar_builder_new();
    tar_add_string(t, "blobs/../../evil", "x");
    add_parts(t, &p, WITH_ALL);
    expect_failure(t, ERR_INVALID_ARGUMENT, "blobs/../../evil");

    t = tar_builder_new();
    add_parts(t, &p, WITH_ALL);
    tar_add_string(t, "/etc/passwd", "x");
    expect_failure(t, ERR_INVALID_ARGUMENT, "absolute path");
    parts_clear(&p);
}

static void test_links_and_specials(void **state)
{
    struct image_parts p;
    parts_init(&p, NULL);
    struct tar_builder *t = tar_builder_new();
    add_parts(t, &p, WITH_ALL);
    tar_add_symlink(t, "blobs/sha256/x", "../../../etc/passwd");
    expect_failure(t, ERR_INVALID_ARGUMENT, "leads out of the archive");

    t = tar_builder_new();
    add_parts(t, &p, WITH_ALL);
    tar_add_symlink(t, "layer.tar", "/etc/passwd");
    expect_failure(t, ERR_INVALID_ARGUMENT, "symlink");

    t = tar_builder_new();
    add_parts(t, &p, WITH_ALL);
    tar_add_hardlink(t, "copy", "index.json");
    expect_failure(t, ERR_INVALID_ARGUMENT, "hard links");

    t = tar_builder_new();
    add_parts(t, &p, WITH_ALL);
    tar_add_special(t, "dev/null", AE_IFCHR);
    expect_failure(t, ERR_INVALID_ARGUMENT, "\"dev/null\"");

    t = tar_builder_new();
    add_parts(t, &p, WITH_ALL);
    tar_add_special(t, "fifo", AE_IFIFO);
    expect_failure(t, ERR_INVALID_ARGUMENT, "only files, directories and symlinks");
    parts_clear(&p);
}

static void test_duplicates(void **state)
{
    struct image_parts p;
    parts_init(&p, NULL);
    struct tar_builder *t = tar_builder_new();
    add_parts(t, &p, WITH_ALL);
    tar_add_string(t, "index.json", p.index);
    expect_failure(t, ERR_INVALID_ARGUMENT, "\"index.json\" appears more than once");

    t = tar_builder_new();
    add_parts(t, &p, WITH_ALL);
    tar_add_string(t, "./oci-layout", layout);
    expect_failure(t, ERR_INVALID_ARGUMENT, "\"oci-layout\" appears more than once");

    t = tar_builder_new();
    add_parts(t, &p, WITH_ALL);
    tar_add_symlink(t, "./index.json", "oci-layout");
    expect_failure(t, ERR_INVALID_ARGUMENT, "appears more than once");
    parts_clear(&p);
}

static void test_blob_mismatch(void **state)
{
    struct image_parts p;
    parts_init(&p, NULL);
    struct tar_builder *t = tar_builder_new();
    add_parts(t, &p, WITH_CONFIG | WITH_MANIFEST);
    _cleanup_free_ char *name = xasprintf("blobs/sha256/%s", p.layer_digest + 7);
    tar_add_string(t, name, "not the layer");
    expect_failure(t, ERR_INVALID_ARGUMENT, "not the one its name gives");
    parts_clear(&p);
}

static void test_missing_content(void **state)
{
    struct image_parts p;
    parts_init(&p, NULL);
    struct tar_builder *t = tar_builder_new();
    add_parts(t, &p, WITH_CONFIG | WITH_LAYER);
    expect_failure(t, ERR_NOT_FOUND, p.manifest_digest);

    t = tar_builder_new();
    add_parts(t, &p, WITH_CONFIG | WITH_MANIFEST);
    expect_failure(t, ERR_NOT_FOUND, p.layer_digest);

    t = tar_builder_new();
    add_parts(t, &p, WITH_LAYER | WITH_MANIFEST);
    expect_failure(t, ERR_NOT_FOUND, p.config_digest);

    t = tar_builder_new();
    tar_add_string(t, "oci-layout", layout);
    expect_failure(t, ERR_NOT_FOUND, "missing index.json in OCI layout 1.0.0");

    t = tar_builder_new();
    tar_add_string(t, "oci-layout", "{\"imageLayoutVersion\":\"2.0.0\"}");
    expect_failure(t, ERR_INVALID_ARGUMENT, "unsupported OCI version 2.0.0");

    t = tar_builder_new();
    tar_add_string(t, "README", "hello");
    expect_failure(t, ERR_INVALID_ARGUMENT, "unrecognized image format");

    /* A descriptor whose size lies. */
    free(p.index);
    p.index = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\",\"digest\":"
                        "\"%s\",\"size\":3}]}",
                        ARCHIVE_MEDIA_TYPE_OCI_MANIFEST, p.manifest_digest);
    t = tar_builder_new();
    add_parts(t, &p, WITH_ALL);
    expect_failure(t, ERR_FAILED_PRECONDITION, "does not match descriptor size");
    parts_clear(&p);
}

static void test_docker_missing(void **state)
{
    struct tar_builder *t = tar_builder_new();
    tar_add_string(t, "manifest.json",
                   "[{\"Config\":\"c.json\",\"RepoTags\":[\"x:1\"],\"Layers\":[\"l/layer.tar\"]}]");
    tar_add_string(t, "l/layer.tar", "layer");
    expect_failure(t, ERR_NOT_FOUND, "image config \"c.json\"");

    t = tar_builder_new();
    tar_add_string(t, "c.json", "{\"architecture\":\"amd64\",\"os\":\"linux\"}");
    tar_add_string(t, "manifest.json",
                   "[{\"Config\":\"c.json\",\"RepoTags\":[\"x:1\"],\"Layers\":[\"l/layer.tar\"]}]");
    expect_failure(t, ERR_NOT_FOUND, "layer \"l/layer.tar\"");

    t = tar_builder_new();
    tar_add_string(t, "c.json", "{\"architecture\":\"amd64\",\"os\":\"linux\"}");
    tar_add_symlink(t, "l/layer.tar", "../other/layer.tar");
    tar_add_string(t, "manifest.json",
                   "[{\"Config\":\"c.json\",\"RepoTags\":[\"x:1\"],\"Layers\":[\"l/layer.tar\"]}]");
    expect_failure(t, ERR_NOT_FOUND, "no target for symlink layer");

    t = tar_builder_new();
    tar_add_string(t, "c.json", "{\"architecture\":\"amd64\",\"os\":\"linux\"}");
    tar_add_string(t, "l/layer.tar", "layer");
    tar_add_string(t, "manifest.json",
                   "[{\"Config\":\"c.json\",\"RepoTags\":[\"NOT VALID\"],\"Layers\":[]}]");
    expect_failure(t, ERR_INVALID_ARGUMENT, "normalize image ref \"NOT VALID\"");

    t = tar_builder_new();
    tar_add_string(t, "c.json", "[1]");
    tar_add_string(t, "manifest.json", "[{\"Config\":\"c.json\",\"RepoTags\":[\"x:1\"]}]");
    expect_failure(t, ERR_INVALID_ARGUMENT, "unable to resolve platform");

    t = tar_builder_new();
    tar_add_string(t, "manifest.json", "[{\"Config\":5}]");
    expect_failure(t, ERR_INVALID_ARGUMENT, "untar manifest");
}

static void test_docker_symlinked_layer(void **state)
{
    /* docker save shares identical layers through symlinks; that must keep working. */
    struct tar_builder *t = tar_builder_new();
    tar_add_string(t, "c.json", "{\"architecture\":\"amd64\",\"os\":\"linux\"}");
    tar_add_string(t, "a/layer.tar", "layer");
    tar_add_symlink(t, "b/layer.tar", "../a/layer.tar");
    tar_add_string(t, "manifest.json",
                   "[{\"Config\":\"c.json\",\"RepoTags\":[\"x:1\"],\"Layers\":[\"a/layer.tar\","
                   "\"b/layer.tar\"]}]");
    size_t len = 0;
    _cleanup_free_ char *data = tar_builder_finish(t, &len);
    struct mem_store *s = mem_store_new();
    struct import_result res = {0};
    struct berth_error *err = NULL;
    struct import_reference ref = {"import", true, true, false, false};
    struct import_options o = all_platforms;
    o.references = &ref;
    o.n_references = 1;
    if (test_import_bytes(data, len, &o, s, &res, &err) < 0)
        fail_msg("%s", err->message);
    const struct archive_image *img = mem_store_image(s, "docker.io/library/x:1");
    assert_non_null(img);
    struct mem_blob *m = mem_store_blob(s, img->target.digest);
    _cleanup_free_ char *ld = sha256_of("layer", 5);
    _cleanup_free_ char *cd = sha256_of("{\"architecture\":\"amd64\",\"os\":\"linux\"}", 37);
    _cleanup_free_ char *want = xasprintf(
        "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\",\"digest\":"
        "\"%s\",\"size\":37},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":5},{"
        "\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":5}]}",
        ARCHIVE_MEDIA_TYPE_DOCKER_MANIFEST, ARCHIVE_MEDIA_TYPE_DOCKER_CONFIG, cd,
        ARCHIVE_MEDIA_TYPE_DOCKER_LAYER, ld, ARCHIVE_MEDIA_TYPE_DOCKER_LAYER, ld);
    assert_int_equal(m->len, strlen(want));
    assert_memory_equal(m->data, want, m->len);
    import_result_clear(&res);
    mem_store_free(s);
}

static void test_json_limits(void **state)
{
    /* Deeper than the parser allows. */
    char deep[400];
    size_t n = 0;
    for (int i = 0; i < 150; i++)
        deep[n++] = '[';
    for (int i = 0; i < 150; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    struct tar_builder *t = tar_builder_new();
    tar_add_string(t, "manifest.json", deep);
    expect_failure(t, ERR_INVALID_ARGUMENT, "nested deeper");

    t = tar_builder_new();
    tar_add_string(t, "oci-layout", layout);
    tar_add_string(t, "index.json", deep);
    expect_failure(t, ERR_INVALID_ARGUMENT, "nested deeper");

    /* Larger than containerd's 20 MiB JSON limit. */
    size_t big = ARCHIVE_JSON_MAX + 16;
    _cleanup_free_ char *huge = xmalloc(big);
    memset(huge, ' ', big);
    huge[0] = '[';
    huge[big - 1] = ']';
    t = tar_builder_new();
    tar_add_file(t, "manifest.json", huge, big);
    expect_failure(t, ERR_INVALID_ARGUMENT, "over the 20971520 byte limit");

    /* Not JSON, and the wrong document for the media type. */
    t = tar_builder_new();
    tar_add_string(t, "oci-layout", "{\"imageLayoutVersion\":");
    expect_failure(t, ERR_INVALID_ARGUMENT, "untar oci layout");

    struct image_parts p;
    parts_init(&p, "{\"schemaVersion\":2,\"manifests\":[]}");
    t = tar_builder_new();
    add_parts(t, &p, WITH_ALL);
    expect_failure(t, ERR_INVALID_ARGUMENT, "expected manifest but found index");
    parts_clear(&p);

    parts_init(&p, "{\"schemaVersion\":1,\"fsLayers\":[]}");
    t = tar_builder_new();
    add_parts(t, &p, WITH_ALL);
    expect_failure(t, ERR_INVALID_ARGUMENT, "schema 1 not supported");
    parts_clear(&p);

    parts_init(&p, "{\"schemaVersion\":2,\"config\":{\"size\":\"big\"}}");
    t = tar_builder_new();
    add_parts(t, &p, WITH_ALL);
    expect_failure(t, ERR_INVALID_ARGUMENT, "cannot unmarshal string");
    parts_clear(&p);
}

static void test_not_a_tar(void **state)
{
    struct mem_store *s = mem_store_new();
    struct import_result res = {0};
    struct berth_error *err = NULL;
    char junk[2048];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)(i * 7 + 3);
    assert_int_equal(test_import_bytes(junk, sizeof(junk), &all_platforms, s, &res, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    err_free(err);
    err = NULL;
    /* An empty stream has no format at all. */
    assert_int_equal(test_import_bytes("", 0, &all_platforms, s, &res, &err), -1);
    err_free(err);
    assert_int_equal(s->image_store_calls, 0);
    mem_store_free(s);
}

static void test_wide_and_deep_indexes(void **state)
{
    /* An index nesting itself through 40 levels of indexes. */
    struct tar_builder *t = tar_builder_new();
    tar_add_string(t, "oci-layout", layout);
    _cleanup_free_ char *inner = xstrdup("{\"schemaVersion\":2,\"manifests\":[]}");
    for (int i = 0; i < 40; i++) {
        const char *d = tar_add_blob(t, inner, strlen(inner));
        char *next = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"%s\","
                               "\"digest\":\"%s\",\"size\":%zu}]}",
                               ARCHIVE_MEDIA_TYPE_OCI_INDEX, d, strlen(inner));
        free(inner);
        inner = next;
    }
    tar_add_string(t, "index.json", inner);
    expect_failure(t, ERR_INVALID_ARGUMENT, "nested deeper than 16 levels");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_baseline),        cmocka_unit_test(test_path_escapes),
        cmocka_unit_test(test_links_and_specials),    cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_blob_mismatch),         cmocka_unit_test(test_missing_content),
        cmocka_unit_test(test_docker_missing),        cmocka_unit_test(test_docker_symlinked_layer),
        cmocka_unit_test(test_json_limits),           cmocka_unit_test(test_not_a_tar),
        cmocka_unit_test(test_wide_and_deep_indexes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
