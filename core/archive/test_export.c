/* Unit tests for archive export: layout, Go tar headers, platforms, and import round trips. */
#include "core/archive/archive-internal.h"
#include "core/archive/test_sink.h"
#include "lib/base/alloc.h"

#include <archive.h>
#include <archive_entry.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#define NEED_IMAGES()                                                                              \
    do {                                                                                           \
        if (!test_images_available())                                                              \
            skip();                                                                                \
    } while (0)

static struct import_reference import_ref = {"import-2024-01-01", true, true, false, false};

static struct import_options all_options(void)
{
    return (struct import_options){
        .naming = IMPORT_NAMING_TRANSFER, .references = &import_ref, .n_references = 1};
}

static void load(struct mem_store *s, const char *file)
{
    size_t len = 0;
    _cleanup_free_ char *data = test_image_read(file, &len);
    struct import_options o = all_options();
    struct import_result res = {0};
    struct berth_error *err = NULL;
    if (test_import_bytes(data, len, &o, s, &res, &err) < 0)
        fail_msg("import %s: %s", file, err->message);
    import_result_clear(&res);
}

static char *export_names(struct mem_store *s, const char *const *names, size_t n,
                          struct export_options *extra, size_t *len)
{
    struct export_options o = extra ? *extra : (struct export_options){0};
    o.names = names;
    o.n_names = n;
    char *out = NULL;
    struct berth_error *err = NULL;
    if (test_export_bytes(&o, s, &out, len, &err) < 0)
        fail_msg("export: %s", err->message);
    return out;
}

/* Entry names in order, joined by "\n". */
struct listing {
    char *text;
};

static void list_cb(void *arg, const char *name, const char *data, size_t len, unsigned type,
                    const char *link)
{
    struct listing *l = arg;
    char *next = xasprintf("%s%s\n", l->text ? l->text : "", name);
    free(l->text);
    l->text = next;
}

static char *listing(const char *data, size_t len)
{
    struct listing l = {NULL};
    tar_each(data, len, list_cb, &l);
    return l.text ? l.text : xstrdup("");
}

static void test_round_trip(void **state)
{
    NEED_IMAGES();
    struct mem_store *a = mem_store_new();
    load(a, "busybox-oci.tar");
    const char *names[] = {"docker.io/library/busybox:latest"};
    size_t len = 0;
    _cleanup_free_ char *out = export_names(a, names, 1, NULL, &len);

    _cleanup_free_ char *manifest = test_image_info("busybox-oci.tar", "manifest", -1);
    _cleanup_free_ char *config = test_image_info("busybox-oci.tar", "config", -1);
    _cleanup_free_ char *layer = test_image_info("busybox-oci.tar", "layers", 0);
    /* Sorted as containerd writes them: directories, blobs, index.json, manifest.json,
     * oci-layout. */
    _cleanup_free_ char *list = listing(out, len);
    const char *blobs[] = {config + 7, layer + 7, manifest + 7};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (strcmp(blobs[i], blobs[j]) > 0) {
                const char *tmp = blobs[i];
                blobs[i] = blobs[j];
                blobs[j] = tmp;
            }
    _cleanup_free_ char *want = xasprintf(
        "blobs/\nblobs/sha256/\nblobs/sha256/%s\nblobs/sha256/%s\nblobs/sha256/%s\nindex.json\n"
        "manifest.json\noci-layout\n",
        blobs[0], blobs[1], blobs[2]);
    assert_string_equal(list, want);

    /* index.json and manifest.json as containerd writes them (build.py writes the same). */
    size_t orig_len = 0;
    _cleanup_free_ char *orig = test_image_read("busybox-oci.tar", &orig_len);
    _cleanup_free_ char *idx = tar_entry(out, len, "index.json", NULL);
    _cleanup_free_ char *orig_idx = tar_entry(orig, orig_len, "index.json", NULL);
    assert_string_equal(idx, orig_idx);
    _cleanup_free_ char *mj = tar_entry(out, len, "manifest.json", NULL);
    _cleanup_free_ char *orig_mj = tar_entry(orig, orig_len, "manifest.json", NULL);
    assert_string_equal(mj, orig_mj);
    _cleanup_free_ char *layout = tar_entry(out, len, "oci-layout", NULL);
    assert_string_equal(layout, "{\"imageLayoutVersion\":\"1.0.0\"}");

    /* Import the export: same image; export again: same bytes. */
    struct mem_store *b = mem_store_new();
    struct import_options o = all_options();
    struct import_result res = {0};
    struct berth_error *err = NULL;
    if (test_import_bytes(out, len, &o, b, &res, &err) < 0)
        fail_msg("%s", err->message);
    assert_string_equal(mem_store_image(b, names[0])->target.digest, manifest);
    import_result_clear(&res);
    size_t len2 = 0;
    _cleanup_free_ char *out2 = export_names(b, names, 1, NULL, &len2);
    assert_int_equal(len, len2);
    assert_memory_equal(out, out2, len);
    mem_store_free(a);
    mem_store_free(b);
}

static void test_docker_round_trip(void **state)
{
    NEED_IMAGES();
    struct mem_store *a = mem_store_new();
    load(a, "busybox-docker.tar");
    const char *names[] = {"docker.io/library/busybox:latest"};
    const struct archive_image *img = mem_store_image(a, names[0]);
    _cleanup_free_ char *manifest = xstrdup(img->target.digest);
    size_t len = 0;
    _cleanup_free_ char *out = export_names(a, names, 1, NULL, &len);
    struct mem_store *b = mem_store_new();
    struct import_options o = all_options();
    struct import_result res = {0};
    struct berth_error *err = NULL;
    if (test_import_bytes(out, len, &o, b, &res, &err) < 0)
        fail_msg("%s", err->message);
    assert_string_equal(mem_store_image(b, names[0])->target.digest, manifest);
    assert_string_equal(mem_store_image(b, names[0])->target.media_type,
                        ARCHIVE_MEDIA_TYPE_DOCKER_MANIFEST);
    import_result_clear(&res);
    mem_store_free(a);
    mem_store_free(b);
}

static void test_go_tar_headers(void **state)
{
    NEED_IMAGES();
    struct mem_store *a = mem_store_new();
    load(a, "busybox-oci.tar");
    const char *names[] = {"docker.io/library/busybox:latest"};
    size_t len = 0;
    _cleanup_free_ char *out = export_names(a, names, 1, NULL, &len);
    /* The first header: "blobs/", a directory, as Go's tar.Writer formats it. */
    const char *h = out;
    assert_string_equal(h, "blobs/");
    assert_memory_equal(h + 100, "0000755\0", 8);
    assert_memory_equal(h + 108, "0000000\0", 8);
    assert_memory_equal(h + 116, "0000000\0", 8);
    assert_memory_equal(h + 124, "00000000000\0", 12);
    assert_memory_equal(h + 136, "00000000000\0", 12);
    assert_int_equal(h[156], '5');
    assert_memory_equal(h + 257,
                        "ustar\0"
                        "00",
                        8);
    assert_memory_equal(h + 329,
                        "0000000\0"
                        "0000000\0",
                        16);
    assert_int_equal(h[154], '\0');
    assert_int_equal(h[155], ' ');
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += (i >= 148 && i < 156) ? ' ' : (unsigned char)h[i];
    char chk[8];
    snprintf(chk, sizeof(chk), "%06o", sum);
    assert_memory_equal(h + 148, chk, 6);
    /* The archive ends with exactly two zero blocks, no record padding. */
    for (size_t i = len - 1024; i < len; i++)
        assert_int_equal(out[i], 0);
    assert_int_equal(len % 512, 0);
    /* A blob's mode is 0444, index.json's 0644. */
    size_t off = 0;
    while (off < len && strcmp(out + off, "index.json") != 0) {
        long long size = strtoll(out + off + 124, NULL, 8);
        off += 512 + (size_t)((size + 511) / 512 * 512);
    }
    assert_true(off < len);
    assert_memory_equal(out + off + 100, "0000644\0", 8);
    mem_store_free(a);
}

struct membuf {
    char *data;
    size_t len, cap;
};

static int membuf_write(void *arg, const void *data, size_t len, struct berth_error **err)
{
    struct membuf *b = arg;
    b->data = xreallocarray_grow(b->data, &b->cap, b->len + len + 1, 1);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

static void test_pax_headers(void **state)
{
    /* Sizes past 8 GiB and unsplittable long names need PAX records, as Go writes them. */
    struct membuf buf = {0};
    _cleanup_free_ char *name = xasprintf("blobs/sha512/%0128d", 7);
    int64_t size = (int64_t)1 << 34;
    struct berth_error *err = NULL;
    assert_int_equal(archive_tar_write_header(membuf_write, &buf, name, 0444, size, '0', &err), 0);
    assert_int_equal(buf.len, 3 * 512);
    /* "<dir>/PaxHeaders.0/<base>" cut to 100 bytes. */
    _cleanup_free_ char *xname = xasprintf("blobs/sha512/PaxHeaders.0/%s", name + 13);
    assert_memory_equal(buf.data, xname, 100);
    assert_int_equal(buf.data[156], 'x');
    _cleanup_free_ char *want = xasprintf("151 path=%s\n20 size=17179869184\n", name);
    assert_memory_equal(buf.data + 512, want, strlen(want));
    assert_int_equal(buf.data[1024 + 156], '0');
    assert_memory_equal(buf.data + 1024 + 124, "00000000000\0", 12);

    /* libarchive reads it back as one entry with that name and size. */
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    assert_int_equal(archive_read_open_memory(a, buf.data, buf.len), ARCHIVE_OK);
    struct archive_entry *e;
    assert_int_equal(archive_read_next_header(a, &e), ARCHIVE_OK);
    assert_string_equal(archive_entry_pathname(e), name);
    assert_int_equal(archive_entry_size(e), size);
    archive_read_free(a);
    free(buf.data);

    /* A 109-byte name splits into prefix and name, USTAR still. */
    struct membuf b2 = {0};
    _cleanup_free_ char *split = xasprintf("blobs/sha384/%096d", 3);
    assert_int_equal(archive_tar_write_header(membuf_write, &b2, split, 0444, 5, '0', &err), 0);
    assert_int_equal(b2.len, 512);
    assert_string_equal(b2.data, split + 13);
    assert_string_equal(b2.data + 345, "blobs/sha384");
    free(b2.data);
}

static void test_platforms_and_options(void **state)
{
    NEED_IMAGES();
    const char *file = "busybox-multi-oci.tar";
    struct mem_store *a = mem_store_new();
    load(a, file);
    _cleanup_free_ char *host_config = test_image_info("busybox-oci.tar", "config", -1);
    _cleanup_free_ char *other = test_image_info(file, "other_manifest", -1);
    _cleanup_free_ char *other_config = test_image_info(file, "other_config", -1);
    _cleanup_free_ char *other_arch = test_image_info(file, "other_architecture", -1);
    const char *names[] = {"docker.io/library/busybox:multi"};
    _cleanup_free_ char *other_path = xasprintf("blobs/sha256/%s", other + 7);

    /* Default: this host's manifest only; manifest.json points at its config. */
    size_t len = 0;
    _cleanup_free_ char *out = export_names(a, names, 1, NULL, &len);
    _cleanup_free_ char *list = listing(out, len);
    assert_null(strstr(list, other_path));
    _cleanup_free_ char *mj = tar_entry(out, len, "manifest.json", NULL);
    assert_non_null(strstr(mj, host_config + 7));
    assert_non_null(strstr(mj, "\"RepoTags\":[\"busybox:multi\"]"));

    /* All platforms: the other manifest too; Docker still gets this host's. */
    struct export_options o = {.all_platforms = true};
    size_t len2 = 0;
    _cleanup_free_ char *all = export_names(a, names, 1, &o, &len2);
    _cleanup_free_ char *list2 = listing(all, len2);
    assert_non_null(strstr(list2, other_path));
    _cleanup_free_ char *mj2 = tar_entry(all, len2, "manifest.json", NULL);
    assert_string_equal(mj2, mj);

    /* --platform for the other architecture; and --skip-manifest-json. */
    struct archive_platform p = {0};
    _cleanup_free_ char *spec = xasprintf("linux/%s", other_arch);
    assert_int_equal(archive_platform_parse(spec, &p, NULL), 0);
    o = (struct export_options){.platforms = &p, .n_platforms = 1};
    size_t len3 = 0;
    _cleanup_free_ char *third = export_names(a, names, 1, &o, &len3);
    _cleanup_free_ char *mj3 = tar_entry(third, len3, "manifest.json", NULL);
    assert_non_null(strstr(mj3, other_config + 7));
    o.skip_manifest_json = true;
    size_t len4 = 0;
    _cleanup_free_ char *fourth = export_names(a, names, 1, &o, &len4);
    _cleanup_free_ char *mj4 = tar_entry(fourth, len4, "manifest.json", NULL);
    assert_null(mj4);
    archive_platform_clear(&p);

    /* A platform nothing matches. */
    assert_int_equal(archive_platform_parse("linux/s390x", &p, NULL), 0);
    o = (struct export_options){.platforms = &p, .n_platforms = 1, .names = names, .n_names = 1};
    char *none = NULL;
    size_t none_len = 0;
    struct berth_error *err = NULL;
    assert_int_equal(test_export_bytes(&o, a, &none, &none_len, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    assert_non_null(strstr(err->message, "no manifest found for platform"));
    err_free(err);
    archive_platform_clear(&p);
    mem_store_free(a);
}

static void test_export_errors_and_labels(void **state)
{
    NEED_IMAGES();
    struct mem_store *a = mem_store_new();
    load(a, "busybox-oci.tar");
    const char *names[] = {"docker.io/library/busybox:latest"};
    _cleanup_free_ char *manifest = test_image_info("busybox-oci.tar", "manifest", -1);
    _cleanup_free_ char *layer = test_image_info("busybox-oci.tar", "layers", 0);

    /* Distribution-source labels become index.json annotations. */
    struct mem_blob *m = mem_store_blob(a, manifest);
    m->n_labels = archive_kv_set(&m->labels, m->n_labels,
                                 "containerd.io/distribution.source.docker.io", "library/busybox");
    size_t len = 0;
    _cleanup_free_ char *out = export_names(a, names, 1, NULL, &len);
    _cleanup_free_ char *idx = tar_entry(out, len, "index.json", NULL);
    assert_non_null(strstr(idx, "\"annotations\":{\"containerd.io/distribution.source.docker.io\":"
                                "\"library/busybox\",\"io.containerd.image.name\":"));

    /* Unknown image; missing layer (nothing is written); a non-manifest target. */
    struct export_options o = {.names = (const char *[]){"nope:1"}, .n_names = 1};
    char *data = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(test_export_bytes(&o, a, &data, &len, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    err_free(err);
    err = NULL;

    struct mem_blob *l = mem_store_blob(a, layer);
    struct mem_blob saved = *l;
    saved.data = xmemdup(l->data, l->len);
    saved.digest = xstrdup(l->digest);
    mem_store_remove(a, layer);
    o = (struct export_options){.names = names, .n_names = 1};
    assert_int_equal(test_export_bytes(&o, a, &data, &len, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    assert_non_null(strstr(err->message, layer));
    err_free(err);
    err = NULL;
    free(saved.data);
    free(saved.digest);

    struct archive_image *img = (struct archive_image *)mem_store_image(a, names[0]);
    free(img->target.media_type);
    img->target.media_type = xstrdup(ARCHIVE_MEDIA_TYPE_OCI_CONFIG);
    assert_int_equal(test_export_bytes(&o, a, &data, &len, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    assert_string_equal(err->message, "only manifests may be exported: invalid argument");
    err_free(err);
    mem_store_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_docker_round_trip),
        cmocka_unit_test(test_go_tar_headers),
        cmocka_unit_test(test_pax_headers),
        cmocka_unit_test(test_platforms_and_options),
        cmocka_unit_test(test_export_errors_and_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
