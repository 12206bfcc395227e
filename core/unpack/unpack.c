/* The in-process unpacker: layers from content applied into a snapshotter, decompressed ahead. */
#include "core/unpack/unpack.h"

#include "core/diff/diff.h"
#include "core/diff/layer_reader.h"
#include "core/diff/mounts.h"
#include "core/metadata/content.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define PREPARE_ATTEMPTS   3
#define LABEL_UNCOMPRESSED "containerd.io/uncompressed"
#define LABEL_GC_SNAPSHOT  "containerd.io/gc.ref.snapshot."

int unpack_chain_id(const char *const *diff_ids, size_t n, char ret[DIGEST_STRING_SIZE],
                    struct berth_error **err)
{
    ret[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i == 0) {
            snprintf(ret, DIGEST_STRING_SIZE, "%s", diff_ids[0]);
            continue;
        }
        _cleanup_free_ char *pair = xasprintf("%s %s", ret, diff_ids[i]);
        if (digest_from_bytes(DIGEST_SHA256, pair, strlen(pair), ret, err) < 0)
            return -1;
    }
    return 0;
}

/* containerd's uniquePart: the nanoseconds, then Go's base64.URLEncoding of 3 random bytes. */
static char *unique_part(void)
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint8_t b[3] = {0};
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        long x = random();
        memcpy(b, &x, sizeof(b));
    }
    uint32_t v = (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
    return xasprintf("%ld-%c%c%c%c", now.tv_nsec, b64url[v >> 18 & 63], b64url[v >> 12 & 63],
                     b64url[v >> 6 & 63], b64url[v & 63]);
}

/* ---- a layer's stream: blob → decompression (on its own thread unless sequential) ---- */

struct layer_stream {
    struct content_reader *blob;
    int64_t offset;
    struct berth_error *source_err;
    struct layer_reader *reader;
};

static ssize_t blob_read(void *opaque, void *buf, size_t len)
{
    struct layer_stream *s = opaque;
    ssize_t n = content_reader_read_at(s->blob, buf, len, s->offset, &s->source_err);
    if (n < 0) {
        errno = s->source_err && s->source_err->errno_value ? s->source_err->errno_value : EIO;
        return -1;
    }
    s->offset += n;
    return n;
}

static struct layer_stream *stream_close(struct layer_stream *s)
{
    if (!s)
        return NULL;
    layer_reader_free(s->reader); /* joins its thread before the blob goes */
    content_reader_close(s->blob);
    err_free(s->source_err);
    free(s);
    return NULL;
}

/* Opens layer's blob; with buffer > 0 its decompression starts at once on a thread of its own,
 * else it stays on the applying thread. */
static struct layer_stream *stream_open(const struct unpack_options *o,
                                        const struct unpack_layer *layer, size_t buffer,
                                        struct berth_error **err)
{
    struct layer_stream *s = xcalloc(1, sizeof(*s));
    if (o->content.open(o->content.arg, layer->digest, &s->blob, err) < 0) {
        err_wrap(err, "failed to get reader from content store");
        return stream_close(s);
    }
    if (layer_reader_new(blob_read, s, o->gzip_backend, &s->reader, err) < 0)
        return stream_close(s);
    if (buffer == 0)
        layer_reader_keep_inline(s->reader);
    else if (layer_reader_start_thread(s->reader, buffer, err) < 0)
        return stream_close(s);
    return s;
}

/* ---- one layer ---- */

static struct diff_mount *diff_mounts_of(const struct mount_list *ml)
{
    struct diff_mount *m = xcalloc(ml->count ? ml->count : 1, sizeof(*m));
    for (size_t i = 0; i < ml->count; i++)
        m[i] = (struct diff_mount){
            .type = ml->items[i].type,
            .source = ml->items[i].source,
            .target = ml->items[i].target,
            .options = (const char *const *)ml->items[i].options,
            .n_options = ml->items[i].n_options,
        };
    return m;
}

/* Applies the stream onto mounts and checks the diff_id, as the Diff service's Apply does. */
static int apply_stream(const struct unpack_options *o, const struct unpack_layer *layer,
                        struct layer_stream *s, const struct mount_list *mounts,
                        struct berth_error **err)
{
    _cleanup_free_ struct diff_mount *dm = diff_mounts_of(mounts);
    struct layer_reader_result res;
    int rc = diff_apply_mounts(o->tmp_mounts, dm, mounts->count, s->reader, o->sync_fs, NULL, err);
    if (rc == 0)
        rc = layer_reader_finish(s->reader, &res, err);
    /* the reader's thread reads the blob: stop it before looking at source_err */
    if (rc < 0)
        s->reader = layer_reader_free(s->reader);
    if (rc < 0 && s->source_err)
        err_wrap(err, "read content %s: %s", layer->digest, s->source_err->message);
    if (rc < 0)
        return err_wrap(err, "failed to extract layer %s", layer->diff_id);
    if (strcmp(res.uncompressed_digest, layer->diff_id) != 0)
        return err_make(err, ERR_FAILED_PRECONDITION, 0,
                        "wrong diff id calculated on extraction \"%s\"", layer->diff_id);
    return 0;
}

/* The labels a layer's snapshot gets: inherited annotations, then snapshot.ref=chain. */
static void layer_labels(const struct unpack_layer *layer, const char *chain, struct labels *out)
{
    struct labels inherited = {0};
    snapshot_labels_inherited(layer->annotations, &inherited);
    for (size_t i = 0; i < inherited.count; i++)
        if (strcmp(inherited.items[i].key, SNAPSHOT_LABEL_REF) != 0 &&
            strlen(inherited.items[i].key) + strlen(inherited.items[i].value) <= LABEL_MAX_SIZE)
            labels_set(out, inherited.items[i].key, inherited.items[i].value);
    labels_clear(&inherited);
    labels_set(out, SNAPSHOT_LABEL_REF, chain);
}

/* 1 when the snapshot exists, 0 when not, -1 on other failures. */
static int snapshot_exists(struct snapshotter *sn, const char *key, struct berth_error **err)
{
    struct snapshot_info info = {0};
    struct berth_error *local = NULL;
    if (sn->ops->stat(sn->self, key, &info, &local) == 0) {
        snapshot_info_clear(&info);
        return 1;
    }
    if (local->kind == ERR_NOT_FOUND) {
        err_free(local);
        return 0;
    }
    *err = local;
    return -1;
}

/* One missing layer: prepared, applied from s, committed. 0 also when another unpack won. */
static int unpack_one(const struct unpack_options *o, const struct unpack_layer *layer,
                      struct layer_stream *s, const char *parent, const char *chain,
                      bool *ret_applied, struct berth_error **err)
{
    struct snapshotter *sn = o->snapshotter;
    struct labels labels = {0};
    layer_labels(layer, chain, &labels);
    struct mount_list mounts = {0};
    _cleanup_free_ char *key = NULL;
    bool prepared = false;
    int rc = -1;
    *ret_applied = false;
    for (int attempt = 1; attempt <= PREPARE_ATTEMPTS && !prepared; attempt++) {
        free(key);
        _cleanup_free_ char *unique = unique_part();
        key = xasprintf("extract-%s %s", unique, chain); /* snapshots.UnpackKeyFormat */
        struct berth_error *local = NULL;
        if (sn->ops->prepare(sn->self, key, *parent ? parent : NULL, &labels, &mounts, &local) ==
            0) {
            prepared = true;
            break;
        }
        if (local->kind != ERR_ALREADY_EXISTS) {
            err_wrap(&local, "failed to prepare extraction snapshot \"%s\"", key);
            *err = local;
            goto out;
        }
        err_free(local);
        int exists = snapshot_exists(sn, chain, err);
        if (exists != 0) { /* someone else unpacked it meanwhile, or stat failed */
            rc = exists > 0 ? 0 : err_wrap(err, "failed to stat snapshot %s", chain);
            goto out;
        }
    }
    if (!prepared) {
        err_make(err, ERR_ALREADY_EXISTS, 0, "unable to prepare extraction snapshot %s", chain);
        goto out;
    }
    struct berth_error *local = NULL;
    if (apply_stream(o, layer, s, &mounts, err) == 0) {
        if (sn->ops->commit(sn->self, chain, key, &labels, &local) == 0) {
            *ret_applied = true;
            rc = 0;
            if (o->content.set_label &&
                o->content.set_label(o->content.arg, layer->digest, LABEL_UNCOMPRESSED,
                                     layer->diff_id, err) < 0)
                rc = err_wrap(err, "failed to set uncompressed label");
            goto out;
        }
        if (local->kind == ERR_ALREADY_EXISTS) {
            err_free(local);
            rc = 0;
        } else {
            err_wrap(&local, "failed to commit snapshot %s", key);
            *err = local;
        }
    }
    /* not committed: the extraction snapshot goes */
    struct berth_error *ignored = NULL;
    if (sn->ops->remove(sn->self, key, &ignored) < 0)
        err_free(ignored);
out:
    mount_list_clear(&mounts);
    labels_clear(&labels);
    return rc;
}

int unpack_layers(const struct unpack_options *o, const struct unpack_layer *layers, size_t n,
                  struct unpack_result *ret, struct berth_error **err)
{
    struct unpack_result res = {0};
    const char **diff_ids = xcalloc(n ? n : 1, sizeof(*diff_ids));
    for (size_t i = 0; i < n; i++)
        diff_ids[i] = layers[i].diff_id;
    char(*chains)[DIGEST_STRING_SIZE] = xcalloc(n ? n : 1, sizeof(*chains));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!layers[i].digest || !layers[i].diff_id || !*layers[i].diff_id)
            rc = err_make(err, ERR_INVALID_ARGUMENT, 0, "layer %zu: no digest or diff_id", i);
        else
            rc = unpack_chain_id(diff_ids, i + 1, chains[i], err);
    }
    /* a chain exists only over its parent: the first missing one and all above it are applied */
    size_t first = 0;
    for (; rc == 0 && first < n; first++) {
        int exists = snapshot_exists(o->snapshotter, chains[first], err);
        if (exists < 0)
            rc = -1;
        if (exists <= 0)
            break;
    }
    res.skipped = rc == 0 ? first : 0;
    size_t buffer = o->sequential ? 0 : LAYER_READER_THREAD_BUFFER;
    size_t ahead = o->read_ahead ? o->read_ahead : UNPACK_DEFAULT_READ_AHEAD;
    struct layer_stream *current = NULL, *next = NULL;
    if (rc == 0 && first < n && !(current = stream_open(o, &layers[first], buffer, err)))
        rc = -1;
    for (size_t i = first; rc == 0 && i < n; i++) {
        /* layer i+1 inflates into its read-ahead while layer i is applied */
        if (!o->sequential && !o->no_read_ahead && i + 1 < n &&
            !(next = stream_open(o, &layers[i + 1], ahead, err))) {
            rc = -1;
            break;
        }
        bool applied = false;
        rc = unpack_one(o, &layers[i], current, i ? chains[i - 1] : "", chains[i], &applied, err);
        if (applied)
            res.applied++;
        else if (rc == 0)
            res.skipped++;
        current = stream_close(current);
        if (rc == 0 && i + 1 < n) {
            current = next ? next : stream_open(o, &layers[i + 1], buffer, err);
            next = NULL;
            if (!current)
                rc = -1;
        }
    }
    stream_close(current);
    stream_close(next);
    if (rc == 0 && n > 0 && o->config_digest && o->content.set_label) {
        _cleanup_free_ char *key = xasprintf(LABEL_GC_SNAPSHOT "%s", o->snapshotter_name);
        rc = o->content.set_label(o->content.arg, o->config_digest, key, chains[n - 1], err);
    }
    if (rc == 0 && n > 0)
        snprintf(res.chain_id, sizeof(res.chain_id), "%s", chains[n - 1]);
    free(diff_ids);
    free(chains);
    if (rc == 0 && ret)
        *ret = res;
    return rc;
}

/* ---- the namespaced content store ---- */

static int metadata_open(void *arg, const char *digest, struct content_reader **ret,
                         struct berth_error **err)
{
    struct unpack_content_metadata *b = arg;
    return metadata_content_reader_open(b->mc, b->ns, digest, ret, err);
}

static int metadata_set_label(void *arg, const char *digest, const char *key, const char *value,
                              struct berth_error **err)
{
    struct unpack_content_metadata *b = arg;
    struct labels one = {0};
    labels_set(&one, key, value);
    _cleanup_free_ char *path = xasprintf("labels.%s", key);
    const char *paths[] = {path};
    struct content_record updated = {0};
    int rc = metadata_content_update(b->mc, b->ns, digest, &one, paths, 1, &updated, err);
    content_record_clear(&updated);
    labels_clear(&one);
    return rc;
}

void unpack_content_from_metadata(struct unpack_content_metadata *binding,
                                  struct unpack_content *ret)
{
    *ret = (struct unpack_content){
        .open = metadata_open, .set_label = metadata_set_label, .arg = binding};
}
