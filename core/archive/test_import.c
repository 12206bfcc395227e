/* Unit tests for archive import: both formats, names, platforms, labels, layer compression. */
#include "core/archive/archive-internal.h"
#include "core/archive/test_sink.h"
#include "lib/base/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <cmocka.h>

#define NEED_IMAGES()                                                                              \
    do {                                                                                           \
        if (!test_images_available())                                                              \
            skip();                                                                                \
    } while (0)

static char *date_prefix(void)
{
    return archive_import_default_prefix(1704067200);
}

/* What `ctr images import` (2.0, transfer) asks for with no flags: the generated prefix, which
 * annotations may override, and this host's platform. */
struct ctr_import {
    struct import_reference ref;
    struct archive_platform host;
    struct import_options options;
    char *prefix;
};

static void ctr_import_init(struct ctr_import *c)
{
    memset(c, 0, sizeof(*c));
    c->prefix = date_prefix();
    c->ref =
        (struct import_reference){.name = c->prefix, .is_prefix = true, .allow_overwrite = true};
    archive_platform_default(&c->host);
    c->options = (struct import_options){
        .naming = IMPORT_NAMING_TRANSFER,
        .references = &c->ref,
        .n_references = 1,
        .platforms = &c->host,
        .n_platforms = 1,
    };
}

static void ctr_import_clear(struct ctr_import *c)
{
    archive_platform_clear(&c->host);
    free(c->prefix);
}

static void import_file(const char *file, const struct import_options *o, struct mem_store *s,
                        struct import_result *ret)
{
    size_t len = 0;
    _cleanup_free_ char *data = test_image_read(file, &len);
    struct berth_error *err = NULL;
    if (test_import_bytes(data, len, o, s, ret, &err) < 0)
        fail_msg("import %s: %s", file, err->message);
    assert_int_equal(s->open_writers, 0);
}

static void assert_label(struct mem_store *s, const char *digest, const char *key, const char *want)
{
    const char *got = mem_blob_label(mem_store_blob(s, digest), key);
    if (!want) {
        if (got)
            fail_msg("%s: label %s=%s, want none", digest, key, got);
        return;
    }
    if (!got || strcmp(got, want) != 0)
        fail_msg("%s: label %s=%s, want %s", digest, key, got ? got : "(none)", want);
}

static void test_oci_import(void **state)
{
    NEED_IMAGES();
    struct ctr_import c;
    ctr_import_init(&c);
    struct mem_store *s = mem_store_new();
    struct import_result res = {0};
    import_file("busybox-oci.tar", &c.options, s, &res);
    _cleanup_free_ char *manifest = test_image_info("busybox-oci.tar", "manifest", -1);
    _cleanup_free_ char *config = test_image_info("busybox-oci.tar", "config", -1);
    _cleanup_free_ char *layer = test_image_info("busybox-oci.tar", "layers", 0);

    assert_string_equal(res.index.media_type, ARCHIVE_MEDIA_TYPE_OCI_INDEX);
    assert_int_equal(res.n_images, 1);
    assert_int_equal(s->image_store_calls, 1);
    const struct archive_image *img = mem_store_image(s, "docker.io/library/busybox:latest");
    assert_non_null(img);
    assert_string_equal(img->target.digest, manifest);
    assert_string_equal(img->target.media_type, ARCHIVE_MEDIA_TYPE_OCI_MANIFEST);
    assert_string_equal(archive_kv_get(img->target.annotations, img->target.n_annotations,
                                       ARCHIVE_ANNOTATION_REF_NAME),
                        "latest");
    /* Child GC labels, as the transfer service sets them. */
    assert_label(s, res.index.digest, "containerd.io/gc.ref.content.m.0", manifest);
    assert_label(s, manifest, "containerd.io/gc.ref.content.config", config);
    assert_label(s, manifest, "containerd.io/gc.ref.content.l.0", layer);

    /* Importing again updates the same image. */
    struct import_result again = {0};
    import_file("busybox-oci.tar", &c.options, s, &again);
    assert_int_equal(s->n_images, 1);
    assert_string_equal(again.index.digest, res.index.digest);
    import_result_clear(&again);
    import_result_clear(&res);
    mem_store_free(s);
    ctr_import_clear(&c);
}

static void test_docker_import(void **state)
{
    NEED_IMAGES();
    struct ctr_import c;
    ctr_import_init(&c);
    struct mem_store *s = mem_store_new();
    struct import_result res = {0};
    import_file("busybox-docker.tar", &c.options, s, &res);
    _cleanup_free_ char *config = test_image_info("busybox-docker.tar", "config", -1);
    _cleanup_free_ char *diff = test_image_info("busybox-docker.tar", "diff_ids", 0);
    _cleanup_free_ char *layer_size = test_image_info("busybox-docker.tar", "layer_sizes", 0);
    _cleanup_free_ char *arch = test_image_info(NULL, "architecture", -1);
    _cleanup_free_ char *variant = test_image_info(NULL, "variant", -1);
    struct mem_blob *cfg = mem_store_blob(s, config);
    assert_non_null(cfg);

    /* The bytes Go's json.Marshal gives containerd's manifest struct. */
    _cleanup_free_ char *want_manifest = xasprintf(
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+"
        "json\",\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\","
        "\"digest\":\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"application/"
        "vnd.docker.image.rootfs.diff.tar\",\"digest\":\"%s\",\"size\":%s}]}",
        config, cfg->len, diff, layer_size);
    _cleanup_free_ char *manifest = sha256_of(want_manifest, strlen(want_manifest));
    struct mem_blob *m = mem_store_blob(s, manifest);
    if (!m)
        fail_msg("no blob with the expected manifest bytes %s", want_manifest);
    _cleanup_free_ char *platform =
        *variant ? xasprintf("{\"architecture\":\"%s\",\"os\":\"linux\",\"variant\":\"%s\"}", arch,
                             variant)
                 : xasprintf("{\"architecture\":\"%s\",\"os\":\"linux\"}", arch);
    _cleanup_free_ char *want_index = xasprintf(
        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
        "vnd.docker.distribution.manifest.v2+json\",\"digest\":\"%s\",\"size\":%zu,"
        "\"annotations\":{\"io.containerd.image.name\":\"docker.io/library/busybox:latest\","
        "\"org.opencontainers.image.ref.name\":\"latest\"},\"platform\":%s}]}",
        manifest, strlen(want_manifest), platform);
    struct mem_blob *index = mem_store_blob(s, res.index.digest);
    assert_non_null(index);
    assert_int_equal(index->len, strlen(want_index));
    assert_memory_equal(index->data, want_index, index->len);

    assert_int_equal(res.n_images, 1);
    const struct archive_image *img = mem_store_image(s, "docker.io/library/busybox:latest");
    assert_non_null(img);
    assert_string_equal(img->target.digest, manifest);
    assert_string_equal(img->target.media_type, ARCHIVE_MEDIA_TYPE_DOCKER_MANIFEST);
    assert_non_null(img->target.platform);
    assert_string_equal(img->target.platform->architecture, arch);
    assert_label(s, manifest, "containerd.io/gc.ref.content.l.0", diff);
    import_result_clear(&res);
    mem_store_free(s);
    ctr_import_clear(&c);
}

static void test_three_layers(void **state)
{
    NEED_IMAGES();
    struct ctr_import c;
    ctr_import_init(&c);
    struct mem_store *s = mem_store_new();
    struct import_result res = {0};
    import_file("busybox-3layer-oci.tar", &c.options, s, &res);
    _cleanup_free_ char *manifest = test_image_info("busybox-3layer-oci.tar", "manifest", -1);
    assert_non_null(mem_store_image(s, "docker.io/library/busybox:3layer"));
    for (int i = 0; i < 3; i++) {
        _cleanup_free_ char *layer = test_image_info("busybox-3layer-oci.tar", "layers", i);
        _cleanup_free_ char *key = xasprintf("containerd.io/gc.ref.content.l.%d", i);
        assert_label(s, manifest, key, layer);
    }
    import_result_clear(&res);
    mem_store_free(s);
    ctr_import_clear(&c);
}

/* Copies a tar, leaving out the blobs named in drop (NULL-terminated digests). */
struct filter_ctx {
    struct tar_builder *out;
    const char *const *drop;
};

static void filter_cb(void *arg, const char *name, const char *data, size_t len, unsigned type,
                      const char *link)
{
    struct filter_ctx *f = arg;
    for (const char *const *d = f->drop; *d; d++)
        if (strncmp(name, "blobs/sha256/", 13) == 0 && strcmp(name + 13, *d + 7) == 0)
            return;
    if (type == 0040000)
        tar_add_dir(f->out, name);
    else
        tar_add_file(f->out, name, data, len);
}

static char *tar_without(const char *file, const char *const *drop, size_t *ret_len)
{
    size_t len = 0;
    _cleanup_free_ char *data = test_image_read(file, &len);
    struct filter_ctx f = {tar_builder_new(), drop};
    tar_each(data, len, filter_cb, &f);
    return tar_builder_finish(f.out, ret_len);
}

static void test_multi_platform(void **state)
{
    NEED_IMAGES();
    const char *file = "busybox-multi-oci.tar";
    _cleanup_free_ char *index = test_image_info(file, "index", -1);
    _cleanup_free_ char *host_manifest = test_image_info(file, "manifest", -1);
    _cleanup_free_ char *other = test_image_info(file, "other_manifest", -1);
    _cleanup_free_ char *other_config = test_image_info(file, "other_config", -1);
    _cleanup_free_ char *other_layer = test_image_info(file, "other_layers", 0);
    _cleanup_free_ char *other_arch = test_image_info(file, "other_architecture", -1);
    const char *drop[] = {other, other_config, other_layer, NULL};
    size_t len = 0;
    _cleanup_free_ char *partial = tar_without(file, drop, &len);
    struct berth_error *err = NULL;

    /* This host only: the foreign manifest's blobs may be absent. */
    struct ctr_import c;
    ctr_import_init(&c);
    struct mem_store *s = mem_store_new();
    struct import_result res = {0};
    if (test_import_bytes(partial, len, &c.options, s, &res, &err) < 0)
        fail_msg("%s", err->message);
    const struct archive_image *img = mem_store_image(s, "docker.io/library/busybox:multi");
    assert_non_null(img);
    assert_string_equal(img->target.digest, index);
    assert_string_equal(img->target.media_type, ARCHIVE_MEDIA_TYPE_OCI_INDEX);
    /* The transfer service labels every child, the filtered-out one too. */
    assert_label(s, index, "containerd.io/gc.ref.content.m.0", host_manifest);
    assert_label(s, index, "containerd.io/gc.ref.content.m.1", other);
    import_result_clear(&res);
    mem_store_free(s);

    /* All platforms: the missing blobs are an error, and nothing is stored. */
    s = mem_store_new();
    c.options.n_platforms = 0;
    assert_int_equal(test_import_bytes(partial, len, &c.options, s, &res, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    assert_non_null(strstr(err->message, other));
    assert_int_equal(s->image_store_calls, 0);
    assert_int_equal(s->open_writers, 0);
    err_free(err);
    err = NULL;
    mem_store_free(s);

    /* All platforms with everything present. */
    s = mem_store_new();
    import_file(file, &c.options, s, &res);
    assert_label(s, other, "containerd.io/gc.ref.content.l.0", other_layer);
    import_result_clear(&res);
    mem_store_free(s);

    /* client.Import's default (this host and compatible ones) labels only what it walks. */
    s = mem_store_new();
    c.options.naming = IMPORT_NAMING_CLIENT;
    if (test_import_bytes(partial, len, &c.options, s, &res, &err) < 0)
        fail_msg("%s", err->message);
    assert_label(s, index, "containerd.io/gc.ref.content.m.0", host_manifest);
    assert_label(s, index, "containerd.io/gc.ref.content.m.1", NULL);
    import_result_clear(&res);
    mem_store_free(s);

    /* --platform for the other architecture: this host's manifest may be absent instead. */
    const char *drop_host[] = {host_manifest, NULL};
    size_t len2 = 0;
    _cleanup_free_ char *no_host = tar_without(file, drop_host, &len2);
    _cleanup_free_ char *spec = xasprintf("linux/%s", other_arch);
    struct archive_platform p = {0};
    assert_int_equal(archive_platform_parse(spec, &p, NULL), 0);
    c.options.naming = IMPORT_NAMING_TRANSFER;
    c.options.platforms = &p;
    c.options.n_platforms = 1;
    s = mem_store_new();
    if (test_import_bytes(no_host, len2, &c.options, s, &res, &err) < 0)
        fail_msg("%s", err->message);
    assert_non_null(mem_store_image(s, "docker.io/library/busybox:multi"));
    import_result_clear(&res);
    mem_store_free(s);
    archive_platform_clear(&p);
    ctr_import_clear(&c);
}

static void test_docker_filtered_out(void **state)
{
    NEED_IMAGES();
    struct ctr_import c;
    ctr_import_init(&c);
    struct archive_platform p = {0};
    assert_int_equal(archive_platform_parse("linux/s390x", &p, NULL), 0);
    c.options.platforms = &p;
    struct mem_store *s = mem_store_new();
    size_t len = 0;
    _cleanup_free_ char *data = test_image_read("busybox-docker.tar", &len);
    struct import_result res = {0};
    struct berth_error *err = NULL;
    assert_int_equal(test_import_bytes(data, len, &c.options, s, &res, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    assert_string_equal(err->message, "image might be filtered out: not found");
    assert_int_equal(s->image_store_calls, 0);
    err_free(err);
    mem_store_free(s);
    archive_platform_clear(&p);
    ctr_import_clear(&c);
}

static void test_compress_blobs(void **state)
{
    NEED_IMAGES();
    struct ctr_import c;
    ctr_import_init(&c);
    c.options.compress = true;
    struct mem_store *s = mem_store_new();
    struct import_result res = {0};
    import_file("busybox-docker.tar", &c.options, s, &res);
    _cleanup_free_ char *diff = test_image_info("busybox-docker.tar", "diff_ids", 0);
    const struct archive_image *img = mem_store_image(s, "docker.io/library/busybox:latest");
    struct mem_blob *m = mem_store_blob(s, img->target.digest);
    assert_non_null(strstr(m->data, ARCHIVE_MEDIA_TYPE_DOCKER_LAYER_GZIP));
    const struct mem_blob *gz = NULL;
    for (size_t i = 0; i < s->n_blobs; i++)
        if (mem_blob_label(&s->blobs[i], ARCHIVE_LABEL_UNCOMPRESSED))
            gz = &s->blobs[i];
    assert_non_null(gz);
    assert_string_equal(mem_blob_label(gz, ARCHIVE_LABEL_UNCOMPRESSED), diff);
    assert_true(gz->len > 10 && (unsigned char)gz->data[0] == 0x1f);
    /* It decompresses to the original layer. */
    struct mem_blob *raw = mem_store_blob(s, diff);
    _cleanup_free_ char *out = xmalloc(raw->len + 1);
    z_stream z = {0};
    inflateInit2(&z, 31);
    z.next_in = (unsigned char *)gz->data;
    z.avail_in = (uInt)gz->len;
    z.next_out = (unsigned char *)out;
    z.avail_out = (uInt)raw->len + 1;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, raw->len);
    assert_memory_equal(out, raw->data, raw->len);
    inflateEnd(&z);
    _cleanup_free_ char *gz_digest = xstrdup(gz->digest);
    _cleanup_free_ char *first = xstrdup(img->target.digest);
    import_result_clear(&res);

    /* Without --compress-blobs, a stored compressed twin is used (containerd's Walk). */
    c.options.compress = false;
    import_file("busybox-docker.tar", &c.options, s, &res);
    img = mem_store_image(s, "docker.io/library/busybox:latest");
    assert_string_equal(img->target.digest, first);
    assert_label(s, first, "containerd.io/gc.ref.content.l.0", gz_digest);
    import_result_clear(&res);
    mem_store_free(s);
    ctr_import_clear(&c);
}

static void test_gzipped_archive(void **state)
{
    NEED_IMAGES();
    size_t len = 0;
    _cleanup_free_ char *data = test_image_read("busybox-oci.tar", &len);
    size_t cap = compressBound((uLong)len) + 64;
    _cleanup_free_ unsigned char *gz = xmalloc(cap);
    z_stream z = {0};
    deflateInit2(&z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)len;
    z.next_out = gz;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t gz_len = z.total_out;
    deflateEnd(&z);
    struct ctr_import c;
    ctr_import_init(&c);
    struct mem_store *s = mem_store_new();
    struct import_result res = {0};
    struct berth_error *err = NULL;
    if (test_import_bytes(gz, gz_len, &c.options, s, &res, &err) < 0)
        fail_msg("%s", err->message);
    assert_non_null(mem_store_image(s, "docker.io/library/busybox:latest"));
    import_result_clear(&res);
    mem_store_free(s);
    ctr_import_clear(&c);
}

/* ---- naming rules, straight on descriptors ---- */

static struct archive_descriptor named(const char *image_name, const char *ref_name)
{
    struct archive_descriptor d = {0};
    d.media_type = xstrdup(ARCHIVE_MEDIA_TYPE_OCI_MANIFEST);
    d.digest = xstrdup("sha256:0000000000000000000000000000000000000000000000000000000000000001");
    if (image_name)
        d.n_annotations = archive_kv_set(&d.annotations, d.n_annotations,
                                         ARCHIVE_ANNOTATION_IMAGE_NAME, image_name);
    if (ref_name)
        d.n_annotations =
            archive_kv_set(&d.annotations, d.n_annotations, ARCHIVE_ANNOTATION_REF_NAME, ref_name);
    return d;
}

#define DGST "@sha256:0000000000000000000000000000000000000000000000000000000000000001"

/* Names for one descriptor, joined by " " ("" for none). */
static char *names_of(const struct import_options *o, const char *image_name, const char *ref_name)
{
    struct archive_descriptor d = named(image_name, ref_name);
    struct archive_image *images = NULL;
    size_t n = 0;
    import_names_for_manifest(o, &d, &images, &n);
    char *out = xstrdup("");
    for (size_t i = 0; i < n; i++) {
        char *next = xasprintf("%s%s%s", out, i ? " " : "", images[i].name);
        free(out);
        out = next;
    }
    archive_images_free(images, n);
    archive_descriptor_clear(&d);
    return out;
}

static void expect_names(const struct import_options *o, const char *image_name,
                         const char *ref_name, const char *want)
{
    _cleanup_free_ char *got = names_of(o, image_name, ref_name);
    if (strcmp(got, want) != 0)
        fail_msg("names(%s, %s) = \"%s\", want \"%s\"", image_name ? image_name : "-",
                 ref_name ? ref_name : "-", got, want);
}

static void test_names_transfer(void **state)
{
    /* No --base-name: "import-<date>", overridable by full names. */
    struct import_reference ref = {"import-2024-01-01", true, true, false, false};
    struct import_options o = {
        .naming = IMPORT_NAMING_TRANSFER, .references = &ref, .n_references = 1};
    expect_names(&o, "docker.io/library/busybox:latest", "latest",
                 "docker.io/library/busybox:latest");
    expect_names(&o, NULL, "latest", "import-2024-01-01:latest");
    expect_names(&o, NULL, "quay.io/x/y:1", "quay.io/x/y:1");
    expect_names(&o, NULL, NULL, "");

    /* --base-name foo/bar: only names under it. */
    ref = (struct import_reference){"foo/bar", true, false, false, false};
    expect_names(&o, "docker.io/library/busybox:latest", "latest", "");
    expect_names(&o, "foo/bar:1", "1", "foo/bar:1");
    expect_names(&o, "foo/barbaz:1", NULL, "");
    expect_names(&o, NULL, "latest", "foo/bar:latest");
    expect_names(&o, NULL, "foo/bar@sha256:abc", "foo/bar@sha256:abc");
    expect_names(&o, NULL, "other/x:1", "");

    /* --digests, with and without --skip-digest-for-named. */
    ref = (struct import_reference){"foo/bar", true, false, true, false};
    expect_names(&o, NULL, "latest", "foo/bar:latest foo/bar" DGST);
    expect_names(&o, NULL, NULL, "foo/bar" DGST);
    ref.skip_named_digest = true;
    expect_names(&o, NULL, "latest", "foo/bar:latest");
    expect_names(&o, "docker.io/library/busybox:latest", NULL, "foo/bar" DGST);

    /* Complete (non-prefix) references only name the index. */
    ref = (struct import_reference){"x/y:z", false, false, false, false};
    expect_names(&o, NULL, "latest", "");
    struct archive_descriptor index = named(NULL, NULL);
    struct archive_image *images = NULL;
    size_t n = 0;
    o.index_name = "my/index:1";
    import_names_for_index(&o, &index, &images, &n);
    assert_int_equal(n, 2);
    assert_string_equal(images[0].name, "my/index:1");
    assert_string_equal(images[1].name, "x/y:z");
    assert_true(images[0].replace_labels);
    archive_images_free(images, n);
    archive_descriptor_clear(&index);
}

static void test_names_client(void **state)
{
    struct import_reference ref = {"import-2024-01-01", true, true, false, false};
    struct archive_kv label = {"a", "b"};
    struct import_options o = {
        .naming = IMPORT_NAMING_CLIENT, .references = &ref, .n_references = 1};
    /* client.Import takes the containerd name as is, whatever the prefix. */
    expect_names(&o, "docker.io/library/busybox:latest", NULL, "docker.io/library/busybox:latest");
    expect_names(&o, NULL, "latest", "import-2024-01-01:latest");
    ref = (struct import_reference){"foo/bar", true, false, true, true};
    expect_names(&o, "docker.io/library/busybox:latest", NULL, "docker.io/library/busybox:latest");
    expect_names(&o, NULL, "v1", "foo/bar:v1");
    expect_names(&o, NULL, "other/x:1", "foo/bar" DGST);
    ref.skip_named_digest = false;
    expect_names(&o, NULL, "v1", "foo/bar:v1 foo/bar" DGST);

    struct archive_descriptor d = named("a/b:c", NULL);
    struct archive_image *images = NULL;
    size_t n = 0;
    import_names_for_manifest(&o, &d, &images, &n);
    assert_false(images[0].replace_labels); /* no --label: existing labels stay */
    archive_images_free(images, n);
    images = NULL;
    n = 0;
    o.labels = &label;
    o.n_labels = 1;
    import_names_for_manifest(&o, &d, &images, &n);
    assert_true(images[0].replace_labels);
    assert_string_equal(archive_kv_get(images[0].labels, images[0].n_labels, "a"), "b");
    archive_images_free(images, n);
    archive_descriptor_clear(&d);

    _cleanup_free_ char *prefix = date_prefix();
    assert_int_equal(strlen(prefix), strlen("import-2024-01-01"));
    assert_memory_equal(prefix, "import-202", 10);
}

/* ---- platforms ---- */

static void expect_platform(const char *spec, const char *want)
{
    struct archive_platform p = {0};
    struct berth_error *err = NULL;
    if (archive_platform_parse(spec, &p, &err) < 0)
        fail_msg("%s: %s", spec, err->message);
    _cleanup_free_ char *got = archive_platform_format(&p);
    if (strcmp(got, want) != 0)
        fail_msg("parse(%s) = %s, want %s", spec, got, want);
    archive_platform_clear(&p);
}

static bool matches(struct platform_matcher *m, const char *spec)
{
    struct archive_platform p = {0};
    const char *slash = strchr(spec, '/');
    p.os = xstrndup(spec, (size_t)(slash - spec));
    const char *rest = slash + 1;
    const char *slash2 = strchr(rest, '/');
    p.architecture = slash2 ? xstrndup(rest, (size_t)(slash2 - rest)) : xstrdup(rest);
    p.variant = slash2 ? xstrdup(slash2 + 1) : NULL;
    bool ok = platform_matcher_match(m, &p);
    archive_platform_clear(&p);
    return ok;
}

static void test_platforms(void **state)
{
    expect_platform("linux/amd64", "linux/amd64");
    expect_platform("linux/x86_64", "linux/amd64");
    expect_platform("LINUX/AMD64", "linux/amd64");
    expect_platform("linux/aarch64", "linux/arm64");
    expect_platform("linux/arm64/v8", "linux/arm64/v8");
    expect_platform("linux/arm", "linux/arm");
    expect_platform("linux/arm/v6", "linux/arm/v6");
    expect_platform("linux/armhf", "linux/arm");
    expect_platform("arm64", "linux/arm64");
    expect_platform("darwin/arm64", "darwin/arm64");
    expect_platform("macos/arm64", "darwin/arm64");
    struct archive_platform w = {0};
    assert_int_equal(archive_platform_parse("windows(10.0.17763)/amd64", &w, NULL), 0);
    assert_string_equal(w.os_version, "10.0.17763");
    archive_platform_clear(&w);
    const char *bad[] = {"linux/*",      "",        "foo", "linux/a/b/c", "lin ux/amd64",
                         "linux/am d64", "amd64(1)"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct archive_platform p = {0};
        struct berth_error *err = NULL;
        if (archive_platform_parse(bad[i], &p, &err) == 0)
            fail_msg("%s parsed", bad[i]);
        assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
        err_free(err);
    }

    struct archive_platform amd64 = {.os = "linux", .architecture = "amd64"};
    struct platform_matcher m;
    platform_matcher_only(&m, &amd64);
    assert_true(matches(&m, "linux/amd64"));
    assert_true(matches(&m, "linux/386"));
    assert_true(matches(&m, "linux/x86_64"));
    assert_false(matches(&m, "linux/arm64"));
    platform_matcher_clear(&m);
    platform_matcher_only_strict(&m, &amd64);
    assert_false(matches(&m, "linux/386"));
    platform_matcher_clear(&m);

    struct archive_platform arm64 = {.os = "linux", .architecture = "arm64"};
    platform_matcher_only(&m, &arm64);
    assert_true(matches(&m, "linux/arm64"));
    assert_true(matches(&m, "linux/arm64/v8"));
    assert_true(matches(&m, "linux/arm/v7"));
    assert_true(matches(&m, "linux/arm/v5"));
    assert_false(matches(&m, "linux/amd64"));
    platform_matcher_clear(&m);

    /* Ordered: best first, platform-less entries last, stable otherwise. */
    struct archive_platform list[] = {arm64, amd64};
    platform_matcher_ordered(&m, list, 2);
    struct archive_descriptor d[3] = {0};
    struct archive_platform pa = amd64, pb = arm64;
    d[0].digest = "none";
    d[1].digest = "amd64";
    d[1].platform = &pa;
    d[2].digest = "arm64";
    d[2].platform = &pb;
    platform_matcher_sort(&m, d, 3);
    assert_string_equal(d[0].digest, "arm64");
    assert_string_equal(d[1].digest, "amd64");
    assert_string_equal(d[2].digest, "none");
    platform_matcher_clear(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oci_import),          cmocka_unit_test(test_docker_import),
        cmocka_unit_test(test_three_layers),        cmocka_unit_test(test_multi_platform),
        cmocka_unit_test(test_docker_filtered_out), cmocka_unit_test(test_compress_blobs),
        cmocka_unit_test(test_gzipped_archive),     cmocka_unit_test(test_names_transfer),
        cmocka_unit_test(test_names_client),        cmocka_unit_test(test_platforms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
