/* Tests for the in-process unpacker: real overlay and native snapshotters, layers built here. */
#include "core/unpack/unpack.h"

#include "core/diff/layer_reader.h"

#include "core/diff/mounts.h"
#include "core/diff/test_layers.h"
#include "core/metadata/content.h"
#include "core/snapshots/local.h"
#include "core/snapshots/metadata.h"
#include "lib/base/alloc.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#define N_LAYERS 3

struct fixture {
    char *dir;
    struct content_store *store;
    struct snapshotter *sn;
    const char *sn_name;
    struct labels blob_labels[8]; /* labels set on blobs, by index of blob_digests */
    char blob_digests[8][DIGEST_STRING_SIZE];
    size_t n_blobs;
    char layer_digests[N_LAYERS][DIGEST_STRING_SIZE];
    char diff_ids[N_LAYERS][DIGEST_STRING_SIZE];
    struct labels annotations;
    struct unpack_layer layers[N_LAYERS];
};

static const char *const config_digest =
    "sha256:0000000000000000000000000000000000000000000000000000000000000001";

/* ~3 MiB of poorly compressible bytes, so layers outgrow small rings and read-aheads. */
static char *big_data(void)
{
    size_t n = 3u << 20;
    char *b = xmalloc(n + 1);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b[i] = (char)('a' + x % 26);
    }
    b[n] = 0;
    return b;
}

/* Stores data as a blob; its digest in out. */
static void put_blob(struct fixture *f, const void *data, size_t len, char out[DIGEST_STRING_SIZE])
{
    struct content_writer *w = NULL;
    _cleanup_free_ char *ref = xasprintf("test-%zu", f->n_blobs);
    assert_int_equal(content_writer_open(f->store, ref, 0, NULL, &w, NULL), 0);
    assert_int_equal(content_writer_write(w, data, len, NULL), 0);
    assert_int_equal(content_writer_digest(w, out, NULL), 0);
    assert_int_equal(content_writer_commit(w, (int64_t)len, out, NULL), 0);
    content_writer_close(w);
    snprintf(f->blob_digests[f->n_blobs++], DIGEST_STRING_SIZE, "%s", out);
}

static int c_open(void *arg, const char *digest, struct content_reader **ret,
                  struct berth_error **err)
{
    struct fixture *f = arg;
    return content_reader_open(f->store, digest, ret, err);
}

static int c_set_label(void *arg, const char *digest, const char *key, const char *value,
                       struct berth_error **err)
{
    (void)err;
    struct fixture *f = arg;
    for (size_t i = 0; i < f->n_blobs; i++)
        if (strcmp(f->blob_digests[i], digest) == 0) {
            labels_set(&f->blob_labels[i], key, value);
            return 0;
        }
    if (strcmp(digest, config_digest) == 0) {
        labels_set(&f->blob_labels[7], key, value);
        return 0;
    }
    return err_make(err, ERR_NOT_FOUND, 0, "no blob %s", digest);
}

static const char *blob_label(struct fixture *f, const char *digest, const char *key)
{
    if (strcmp(digest, config_digest) == 0)
        return labels_get(&f->blob_labels[7], key);
    for (size_t i = 0; i < f->n_blobs; i++)
        if (strcmp(f->blob_digests[i], digest) == 0)
            return labels_get(&f->blob_labels[i], key);
    return NULL;
}

/*
 * Three layers: a base tree; one that deletes etc/gone and replaces dir/ (opaque); one with a
 * big file. gzip, zstd and plain tar, so every decompressor runs on the thread.
 */
static void build_layers(struct fixture *f)
{
    _cleanup_free_ char *big = big_data();
    struct test_entry l1[] = {
        {.name = "etc/", .type = S_IFDIR, .perm = 0755},
        {.name = "etc/keep", .data = "keep"},
        {.name = "etc/gone", .data = "gone"},
        {.name = "dir/", .type = S_IFDIR, .perm = 0755},
        {.name = "dir/old", .data = "old"},
        {.name = "big1", .data = big},
        {0},
    };
    struct test_entry l2[] = {
        {.name = "etc/.wh.gone"},
        {.name = "dir/", .type = S_IFDIR, .perm = 0755},
        {.name = "dir/.wh..wh..opq"},
        {.name = "dir/new", .data = "new"},
        {.name = "big2", .data = big + 1000},
        {0},
    };
    struct test_entry l3[] = {
        {.name = "etc/added", .data = "added"},
        {.name = "big3", .data = big + 2000},
        {0},
    };
    const struct test_entry *layers[N_LAYERS] = {l1, l2, l3};
    for (size_t i = 0; i < N_LAYERS; i++) {
        struct test_buf tar = {0}, blob = {0};
        test_tar_build(layers[i], &tar);
        assert_int_equal(digest_from_bytes(DIGEST_SHA256, tar.data, tar.len, f->diff_ids[i], NULL),
                         0);
        if (i == 0)
            test_gzip(tar.data, tar.len, &blob);
        else if (i == 1)
            test_zstd(tar.data, tar.len, &blob);
        else
            test_buf_append(&blob, tar.data, tar.len);
        put_blob(f, blob.data, blob.len, f->layer_digests[i]);
        f->layers[i] = (struct unpack_layer){
            .digest = f->layer_digests[i],
            .media_type = "application/vnd.oci.image.layer.v1.tar+gzip",
            .size = (int64_t)blob.len,
            .diff_id = f->diff_ids[i],
            .annotations = &f->annotations,
        };
        free(tar.data);
        free(blob.data);
    }
}

static int setup_with(void **state, enum local_driver driver)
{
    if (geteuid() != 0)
        return 0;
    struct fixture *f = xcalloc(1, sizeof(*f));
    f->dir = test_mkdtemp("unpack");
    _cleanup_free_ char *content = xasprintf("%s/content", f->dir);
    _cleanup_free_ char *snaps = xasprintf("%s/snapshots", f->dir);
    assert_int_equal(content_store_open(content, &f->store, NULL), 0);
    static char *options[] = {"index=off", NULL};
    struct local_options lo = {.mount_options = options};
    f->sn_name = driver == LOCAL_DRIVER_OVERLAY ? "overlayfs" : "native";
    assert_int_equal(local_snapshotter_open(driver, f->sn_name, snaps, &lo, &f->sn, NULL), 0);
    labels_set(&f->annotations, "containerd.io/snapshot/test.inherited", "yes");
    labels_set(&f->annotations, "org.example.not-inherited", "no");
    build_layers(f);
    *state = f;
    return 0;
}

static int setup_overlay(void **state)
{
    return setup_with(state, LOCAL_DRIVER_OVERLAY);
}

static int setup_native(void **state)
{
    return setup_with(state, LOCAL_DRIVER_NATIVE);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    local_snapshotter_close(f->sn);
    content_store_close(f->store);
    for (size_t i = 0; i < ARRAY_SIZE(f->blob_labels); i++)
        labels_clear(&f->blob_labels[i]);
    labels_clear(&f->annotations);
    test_rm_rf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static struct unpack_options options(struct fixture *f, bool sequential, size_t read_ahead)
{
    _cleanup_free_ char *tmp = xasprintf("%s/tmpmounts", f->dir);
    static char tmp_mounts[4096];
    snprintf(tmp_mounts, sizeof(tmp_mounts), "%s", tmp);
    return (struct unpack_options){
        .snapshotter = f->sn,
        .snapshotter_name = f->sn_name,
        .content = {.open = c_open, .set_label = c_set_label, .arg = f},
        .config_digest = config_digest,
        .tmp_mounts = tmp_mounts,
        .sequential = sequential,
        .read_ahead = read_ahead,
    };
}

/* Keys of every snapshot the snapshotter has, one line each (sorted by the walk). */
static int collect_key(const struct snapshot_info *info, void *arg, struct berth_error **err)
{
    (void)err;
    test_buf_append(arg, info->name, strlen(info->name));
    test_buf_append(arg, "\n", 1);
    return 0;
}

static char *snapshot_keys(struct fixture *f)
{
    struct test_buf out = {0};
    assert_int_equal(f->sn->ops->walk(f->sn->self, NULL, collect_key, &out, NULL), 0);
    test_buf_append(&out, "", 1);
    return (char *)out.data;
}

/* Mounts a view of chain, checks the merged tree, and removes the view. */
static void check_tree(struct fixture *f, const char *chain)
{
    struct mount_list ml = {0};
    assert_int_equal(f->sn->ops->view(f->sn->self, "check", chain, NULL, &ml, NULL), 0);
    _cleanup_free_ char *target = xasprintf("%s/check", f->dir);
    assert_int_equal(mkdir(target, 0755), 0);
    struct diff_mount *dm = xcalloc(ml.count, sizeof(*dm));
    for (size_t i = 0; i < ml.count; i++)
        dm[i] = (struct diff_mount){.type = ml.items[i].type,
                                    .source = ml.items[i].source,
                                    .options = (const char *const *)ml.items[i].options,
                                    .n_options = ml.items[i].n_options};
    struct berth_error *err = NULL;
    if (diff_mounts_mount(dm, ml.count, target, &err) < 0)
        fail_msg("mount: %s", err->message);
    assert_string_equal(test_read(target, "etc/keep"), "keep");
    assert_string_equal(test_read(target, "etc/added"), "added");
    assert_null(test_read(target, "etc/gone"));
    assert_null(test_read(target, "dir/old"));
    assert_string_equal(test_read(target, "dir/new"), "new");
    _cleanup_free_ char *big3 = xasprintf("%s/big3", target);
    struct stat st;
    assert_int_equal(stat(big3, &st), 0);
    assert_int_equal(st.st_size, (3 << 20) - 2000);
    assert_int_equal(diff_mounts_unmount(dm, ml.count, target, NULL), 0);
    free(dm);
    mount_list_clear(&ml);
    rmdir(target);
    assert_int_equal(f->sn->ops->remove(f->sn->self, "check", NULL), 0);
}

static void check_unpacked(struct fixture *f, const struct unpack_result *res)
{
    const char *ids[N_LAYERS] = {f->diff_ids[0], f->diff_ids[1], f->diff_ids[2]};
    char chain[DIGEST_STRING_SIZE];
    for (size_t i = 0; i < N_LAYERS; i++) {
        assert_int_equal(unpack_chain_id(ids, i + 1, chain, NULL), 0);
        struct snapshot_info info = {0};
        assert_int_equal(f->sn->ops->stat(f->sn->self, chain, &info, NULL), 0);
        assert_int_equal(info.kind, SNAPSHOT_KIND_COMMITTED);
        /* the backend keeps the inherited labels and the chain reference */
        assert_string_equal(labels_get(&info.labels, SNAPSHOT_LABEL_REF), chain);
        assert_string_equal(labels_get(&info.labels, "containerd.io/snapshot/test.inherited"),
                            "yes");
        snapshot_info_clear(&info);
        assert_string_equal(blob_label(f, f->layer_digests[i], "containerd.io/uncompressed"),
                            f->diff_ids[i]);
    }
    assert_string_equal(res->chain_id, chain);
    _cleanup_free_ char *gc = xasprintf("containerd.io/gc.ref.snapshot.%s", f->sn_name);
    assert_string_equal(blob_label(f, config_digest, gc), chain);
    /* nothing but the three chains: no extraction snapshot left */
    _cleanup_free_ char *keys = snapshot_keys(f);
    assert_null(strstr(keys, "extract-"));
    check_tree(f, chain);
    assert_int_equal(layer_reader_live_threads(), 0);
}

static void run_and_check(void **state, bool sequential, size_t read_ahead)
{
    struct fixture *f = *state;
    if (!f) {
        skip();
        return;
    }
    struct unpack_options o = options(f, sequential, read_ahead);
    struct unpack_result res;
    struct berth_error *err = NULL;
    if (unpack_layers(&o, f->layers, N_LAYERS, &res, &err) < 0)
        fail_msg("unpack: %s", err->message);
    assert_int_equal(res.applied, N_LAYERS);
    assert_int_equal(res.skipped, 0);
    check_unpacked(f, &res);
    /* again: every chain exists, nothing is applied */
    struct unpack_result again;
    assert_int_equal(unpack_layers(&o, f->layers, N_LAYERS, &again, &err), 0);
    assert_int_equal(again.applied, 0);
    assert_int_equal(again.skipped, N_LAYERS);
    assert_string_equal(again.chain_id, res.chain_id);
}

static void test_pipelined_overlay(void **state)
{
    run_and_check(state, false, 0);
}

static void test_small_read_ahead_overlay(void **state)
{
    run_and_check(state, false, 64 * 1024);
}

static void test_sequential_native(void **state)
{
    run_and_check(state, true, 0);
}

static void test_pipelined_native(void **state)
{
    run_and_check(state, false, 0);
}

/* The bottom layer exists already: only the two above it are applied. */
static void test_skips_existing_chain(void **state)
{
    struct fixture *f = *state;
    if (!f) {
        skip();
        return;
    }
    struct unpack_options o = options(f, false, 0);
    struct unpack_result res;
    assert_int_equal(unpack_layers(&o, f->layers, 1, &res, NULL), 0);
    assert_int_equal(res.applied, 1);
    assert_int_equal(unpack_layers(&o, f->layers, N_LAYERS, &res, NULL), 0);
    assert_int_equal(res.applied, 2);
    assert_int_equal(res.skipped, 1);
    check_unpacked(f, &res);
}

/* A wrong diff_id in the middle: the bottom chain stays, nothing else, no thread left. */
static void test_wrong_diff_id(void **state)
{
    struct fixture *f = *state;
    if (!f) {
        skip();
        return;
    }
    snprintf(f->diff_ids[1], DIGEST_STRING_SIZE, "%s",
             "sha256:1111111111111111111111111111111111111111111111111111111111111111");
    struct unpack_options o = options(f, false, 0);
    struct unpack_result res;
    struct berth_error *err = NULL;
    assert_int_equal(unpack_layers(&o, f->layers, N_LAYERS, &res, &err), -1);
    assert_int_equal(err->kind, ERR_FAILED_PRECONDITION);
    assert_non_null(strstr(err->message, "wrong diff id calculated on extraction"));
    err_free(err);
    _cleanup_free_ char *keys = snapshot_keys(f);
    char bottom[DIGEST_STRING_SIZE + 1];
    snprintf(bottom, sizeof(bottom), "%s\n", f->diff_ids[0]);
    assert_string_equal(keys, bottom);
    assert_int_equal(layer_reader_live_threads(), 0);
    assert_null(blob_label(f, config_digest, "containerd.io/gc.ref.snapshot.overlayfs"));
}

/* A corrupt blob (a valid blob whose gzip is broken) fails its layer cleanly. */
static void test_corrupt_layer(void **state)
{
    struct fixture *f = *state;
    if (!f) {
        skip();
        return;
    }
    struct test_entry e[] = {{.name = "x", .data = "some data to compress"}, {0}};
    struct test_buf tar = {0}, gz = {0};
    test_tar_build(e, &tar);
    test_gzip(tar.data, tar.len, &gz);
    gz.data[gz.len - 6] ^= 0xff; /* its CRC */
    char digest[DIGEST_STRING_SIZE];
    put_blob(f, gz.data, gz.len, digest);
    snprintf(f->layer_digests[2], DIGEST_STRING_SIZE, "%s", digest);
    assert_int_equal(digest_from_bytes(DIGEST_SHA256, tar.data, tar.len, f->diff_ids[2], NULL), 0);
    free(tar.data);
    free(gz.data);
    struct unpack_options o = options(f, false, 0);
    struct berth_error *err = NULL;
    assert_int_equal(unpack_layers(&o, f->layers, N_LAYERS, NULL, &err), -1);
    assert_non_null(strstr(err->message, "failed to extract layer"));
    err_free(err);
    err = NULL;
    _cleanup_free_ char *keys = snapshot_keys(f);
    assert_null(strstr(keys, "extract-"));
    assert_int_equal(layer_reader_live_threads(), 0);
    /* a missing blob, too */
    f->layers[2].digest = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    assert_int_equal(unpack_layers(&o, f->layers, N_LAYERS, NULL, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    err_free(err);
    assert_int_equal(layer_reader_live_threads(), 0);
}

/* Copies a blob of the local store into namespace ns of mc. */
static void share_blob(struct fixture *f, struct metadata_content *mc, const char *ns,
                       const char *digest)
{
    struct content_reader *r = NULL;
    assert_int_equal(content_reader_open(f->store, digest, &r, NULL), 0);
    int64_t size = content_reader_size(r);
    char *data = xmalloc((size_t)size + 1);
    assert_int_equal(content_reader_read_at(r, data, (size_t)size, 0, NULL), size);
    content_reader_close(r);
    struct metadata_content_writer *w = NULL;
    _cleanup_free_ char *ref = xasprintf("share-%s", digest);
    assert_int_equal(metadata_content_writer_open(mc, ns, ref, size, NULL, NULL, &w, NULL), 0);
    assert_int_equal(metadata_content_writer_write_at(w, 0, data, (size_t)size, NULL), 0);
    struct berth_error *err = NULL;
    if (metadata_content_writer_commit(w, size, digest, NULL, &err) < 0) {
        assert_int_equal(err->kind, ERR_ALREADY_EXISTS);
        err_free(err);
    }
    metadata_content_writer_close(w);
    free(data);
}

/* The way the Transfer service will call it: namespaced content and snapshots, a lease. */
static void test_through_metadata(void **state)
{
    struct fixture *f = *state;
    if (!f) {
        skip();
        return;
    }
    _cleanup_free_ char *meta = xasprintf("%s/meta", f->dir);
    struct metadata_db *db = NULL;
    assert_int_equal(metadata_db_open(meta, &db, NULL), 0);
    struct metadata_content *mc = metadata_content_new(db, f->store, true);
    struct snapshots_metadata *ms = snapshots_metadata_new(db);
    snapshots_metadata_add_backend(ms, f->sn);
    static const char config[] = "{}";
    char config_dgst[DIGEST_STRING_SIZE];
    put_blob(f, config, 2, config_dgst);
    for (size_t i = 0; i < N_LAYERS; i++)
        share_blob(f, mc, "ns1", f->layer_digests[i]);
    share_blob(f, mc, "ns1", config_dgst);

    struct snapshotter *bound = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(snapshots_metadata_bind(ms, "nope", "ns1", NULL, &bound, &err), -1);
    err_free(err);
    err = NULL;
    assert_int_equal(snapshots_metadata_bind(ms, "overlayfs", "ns1", NULL, &bound, NULL), 0);
    struct unpack_content_metadata binding = {.mc = mc, .ns = "ns1"};
    struct unpack_options o = options(f, false, 0);
    o.snapshotter = bound;
    o.config_digest = config_dgst;
    unpack_content_from_metadata(&binding, &o.content);
    struct unpack_result res;
    if (unpack_layers(&o, f->layers, N_LAYERS, &res, &err) < 0)
        fail_msg("unpack: %s", err->message);
    assert_int_equal(res.applied, N_LAYERS);
    /* labels as containerd sets them, in the namespace's records */
    struct content_record rec = {0};
    assert_int_equal(metadata_content_info(mc, "ns1", f->layer_digests[2], &rec, NULL), 0);
    assert_string_equal(labels_get(&rec.labels, "containerd.io/uncompressed"), f->diff_ids[2]);
    content_record_clear(&rec);
    assert_int_equal(metadata_content_info(mc, "ns1", config_dgst, &rec, NULL), 0);
    assert_string_equal(labels_get(&rec.labels, "containerd.io/gc.ref.snapshot.overlayfs"),
                        res.chain_id);
    content_record_clear(&rec);
    struct snapshot_info info = {0};
    assert_int_equal(bound->ops->stat(bound->self, res.chain_id, &info, NULL), 0);
    assert_string_equal(labels_get(&info.labels, "containerd.io/snapshot/test.inherited"), "yes");
    snapshot_info_clear(&info);
    /* another namespace does not see them */
    struct snapshotter *other = NULL;
    assert_int_equal(snapshots_metadata_bind(ms, "overlayfs", "ns2", NULL, &other, NULL), 0);
    assert_int_equal(other->ops->stat(other->self, res.chain_id, &info, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    err_free(err);
    snapshots_metadata_unbind(other);
    snapshots_metadata_unbind(bound);
    snapshots_metadata_free(ms);
    metadata_content_free(mc);
    metadata_db_close(db);
    assert_int_equal(layer_reader_live_threads(), 0);
}

static void test_chain_id(void **state)
{
    (void)state;
    /* identity.ChainID of two diff_ids: sha256 of "<a> <b>" */
    const char *ids[] = {"sha256:a", "sha256:b"};
    char chain[DIGEST_STRING_SIZE], want[DIGEST_STRING_SIZE];
    assert_int_equal(unpack_chain_id(ids, 1, chain, NULL), 0);
    assert_string_equal(chain, "sha256:a");
    assert_int_equal(unpack_chain_id(ids, 2, chain, NULL), 0);
    assert_int_equal(digest_from_bytes(DIGEST_SHA256, "sha256:a sha256:b", 17, want, NULL), 0);
    assert_string_equal(chain, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelined_overlay, setup_overlay, teardown),
        cmocka_unit_test_setup_teardown(test_small_read_ahead_overlay, setup_overlay, teardown),
        cmocka_unit_test_setup_teardown(test_sequential_native, setup_native, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_native, setup_native, teardown),
        cmocka_unit_test_setup_teardown(test_skips_existing_chain, setup_overlay, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_diff_id, setup_overlay, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_layer, setup_overlay, teardown),
        cmocka_unit_test_setup_teardown(test_through_metadata, setup_overlay, teardown),
        cmocka_unit_test(test_chain_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
