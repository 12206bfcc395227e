/* Unpacking images into a snapshotter over berthd's Content, Snapshots and Diff services. */
#include "cmd/berth/unpack.h"
#include "cmd/berth/archive_remote.h"
#include "lib/base/alloc.h"
#include "lib/rpc/metadata.h"

#include "containerd/services/diff/v1/diff.pb-c.h"
#include "containerd/services/leases/v1/leases.pb-c.h"
#include "containerd/services/snapshots/v1/snapshots.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define SNAPSHOTS "containerd.services.snapshots.v1.Snapshots"
#define DIFF      "containerd.services.diff.v1.Diff"
#define LEASES    "containerd.services.leases.v1.Leases"
#define S(x)      containerd__services__snapshots__v1__##x
#define SINIT(x)  CONTAINERD__SERVICES__SNAPSHOTS__V1__##x##__INIT

#define LABEL_SNAPSHOT_REF     "containerd.io/snapshot.ref"
#define LABEL_GC_SNAPSHOT      "containerd.io/gc.ref.snapshot."
#define LABEL_INHERIT_PREFIX   "containerd.io/snapshot/"
#define PREPARE_ATTEMPTS       3
#define MAX_INHERITED_LABELS   64
#define LABEL_ENTRY_SIZE_BOUND 4096

typedef Containerd__Services__Snapshots__V1__PrepareSnapshotRequest__LabelsEntry PrepareLabel;

/* Every mounts-bearing response (Prepare, View, Mounts) has this layout. */
struct mounts_response {
    ProtobufCMessage base;
    size_t n_mounts;
    Containerd__Types__Mount **mounts;
};

const char *unpack_snapshotter_name(const char *name)
{
    if (name && *name)
        return name;
    const char *env = getenv("CONTAINERD_SNAPSHOTTER");
    return env && *env ? env : "overlayfs";
}

/* One unary call with the CLI's namespace and, when given, the lease. */
static int call(struct cli *cli, const char *lease, const char *service, const char *method,
                const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                ProtobufCMessage **ret, struct berth_error **err)
{
    struct rpc_metadata md = {0};
    rpc_metadata_copy(&md, &cli->metadata);
    if (lease)
        rpc_metadata_add(&md, "containerd-lease", lease);
    struct rpc_call_options opts = cli_call_options(cli);
    opts.metadata = &md;
    ProtobufCMessage *resp = NULL;
    int r = rpc_channel_unary(cli_channel(cli), service, method, req, resp_desc, &resp, &opts, err);
    rpc_metadata_clear(&md);
    if (r < 0)
        return -1;
    if (ret)
        *ret = resp;
    else
        protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* Go's base64.URLEncoding of 3 random bytes after the nanoseconds: containerd's uniquePart. */
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

int unpack_lease_create(struct cli *cli, const char *id, long expire_seconds, const char *key,
                        const char *value, struct berth_error **err)
{
    char expiry[48];
    time_t t = time(NULL) + expire_seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(expiry, sizeof(expiry), "%Y-%m-%dT%H:%M:%SZ", &tm); /* RFC 3339 */
    Containerd__Services__Leases__V1__CreateRequest__LabelsEntry labels[2];
    Containerd__Services__Leases__V1__CreateRequest__LabelsEntry *ptrs[2] = {&labels[0],
                                                                             &labels[1]};
    for (size_t i = 0; i < 2; i++)
        containerd__services__leases__v1__create_request__labels_entry__init(&labels[i]);
    labels[0].key = (char *)"containerd.io/gc.expire";
    labels[0].value = expiry;
    labels[1].key = (char *)key;
    labels[1].value = (char *)value;
    Containerd__Services__Leases__V1__CreateRequest req =
        CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__INIT;
    req.id = (char *)id;
    req.labels = ptrs;
    req.n_labels = key ? 2 : 1;
    return call(cli, NULL, LEASES, "Create", &req.base,
                &containerd__services__leases__v1__create_response__descriptor, NULL, err);
}

/* Snapshots/Stat: 1 when the snapshot exists, 0 when not, -1 on other failures. */
static int snapshot_stat(struct cli *cli, const char *snapshotter, const char *key,
                         struct berth_error **err)
{
    Containerd__Services__Snapshots__V1__StatSnapshotRequest req = SINIT(STAT_SNAPSHOT_REQUEST);
    req.snapshotter = (char *)snapshotter;
    req.key = (char *)key;
    struct berth_error *local = NULL;
    if (call(cli, NULL, SNAPSHOTS, "Stat", &req.base, &S(stat_snapshot_response__descriptor), NULL,
             &local) < 0) {
        if (local->kind == ERR_NOT_FOUND) {
            err_free(local);
            return 0;
        }
        *err = local;
        return -1;
    }
    return 1;
}

int unpack_snapshot_remove(struct cli *cli, const char *snapshotter, const char *key,
                           struct berth_error **err)
{
    Containerd__Services__Snapshots__V1__RemoveSnapshotRequest req = SINIT(REMOVE_SNAPSHOT_REQUEST);
    req.snapshotter = (char *)snapshotter;
    req.key = (char *)key;
    return call(cli, NULL, SNAPSHOTS, "Remove", &req.base, &google__protobuf__empty__descriptor,
                NULL, err);
}

/* Prepare (or View) with labels; the response's mounts stay in *ret. */
static int snapshot_prepare(struct cli *cli, const char *snapshotter, const char *lease, bool rw,
                            const char *key, const char *parent, PrepareLabel **labels,
                            size_t n_labels, struct mounts_response **ret, struct berth_error **err)
{
    /* Prepare and View requests share their layout and field numbers but not their type */
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest prepare =
        SINIT(PREPARE_SNAPSHOT_REQUEST);
    Containerd__Services__Snapshots__V1__ViewSnapshotRequest view = SINIT(VIEW_SNAPSHOT_REQUEST);
    prepare.snapshotter = view.snapshotter = (char *)snapshotter;
    prepare.key = view.key = (char *)key;
    prepare.parent = view.parent = (char *)(parent ? parent : "");
    prepare.labels = labels;
    prepare.n_labels = n_labels;
    if (!rw && n_labels > 0)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "view %s: labels are not supported", key);
    return call(cli, lease, SNAPSHOTS, rw ? "Prepare" : "View", rw ? &prepare.base : &view.base,
                rw ? &S(prepare_snapshot_response__descriptor)
                   : &S(view_snapshot_response__descriptor),
                (ProtobufCMessage **)ret, err);
}

ProtobufCMessage *unpack_snapshot_mounts(struct cli *cli, const char *snapshotter,
                                         const char *lease, bool rw, const char *key,
                                         const char *parent, void ***ret_mounts, size_t *ret_n,
                                         struct berth_error **err)
{
    struct mounts_response *resp = NULL;
    struct berth_error *local = NULL;
    if (snapshot_prepare(cli, snapshotter, lease, rw, key, parent, NULL, 0, &resp, &local) < 0) {
        if (local->kind != ERR_ALREADY_EXISTS) {
            *err = local;
            return NULL;
        }
        err_free(local);
        Containerd__Services__Snapshots__V1__MountsRequest req = SINIT(MOUNTS_REQUEST);
        req.snapshotter = (char *)snapshotter;
        req.key = (char *)key;
        if (call(cli, lease, SNAPSHOTS, "Mounts", &req.base, &S(mounts_response__descriptor),
                 (ProtobufCMessage **)&resp, err) < 0)
            return NULL;
    }
    *ret_mounts = (void **)resp->mounts;
    *ret_n = resp->n_mounts;
    return &resp->base;
}

/* content.ReadBlob: Info for the size, then the whole blob (bounded as the archive code is). */
static int read_blob(const struct export_source *source, const char *digest, char **ret,
                     size_t *ret_len, struct berth_error **err)
{
    int64_t size = 0;
    struct archive_kv *labels = NULL;
    size_t n_labels = 0;
    if (source->blob_info(source->arg, digest, &size, &labels, &n_labels, err) < 0)
        return -1;
    archive_kv_free(labels, n_labels);
    return archive_blob_read_all(source->blob_read_at, source->arg, digest, size, ARCHIVE_JSON_MAX,
                                 ret, ret_len, err);
}

struct manifest_walk {
    const struct export_source *source;
    const struct platform_matcher *matcher;
    struct archive_descriptor *manifest; /* config first, then layers */
    size_t n_manifest;
    struct json_object *config; /* the matching manifest's config document */
};

/* The config's platform, normalized (platforms.Normalize(config.Platform)). */
static int config_platform(struct json_object *doc, struct archive_platform *p,
                           struct berth_error **err)
{
    if (archive_json_string(doc, "os", "Image.os", &p->os, err) < 0 ||
        archive_json_string(doc, "architecture", "Image.architecture", &p->architecture, err) < 0 ||
        archive_json_string(doc, "variant", "Image.variant", &p->variant, err) < 0)
        return -1;
    if (!p->os)
        p->os = xstrdup("");
    if (!p->architecture)
        p->architecture = xstrdup("");
    archive_platform_normalize(p);
    return 0;
}

/*
 * images.Manifest narrowed as the unpacker sees it: indexes walked best platform first, the first
 * manifest whose config's platform matches wins (the unpacker matches the config, not the index).
 */
static int walk(struct manifest_walk *w, const struct archive_descriptor *d, unsigned depth,
                struct berth_error **err)
{
    bool manifest = archive_media_type_is_manifest(d->media_type);
    if (!manifest && !archive_media_type_is_index(d->media_type))
        return err_make(err, ERR_NOT_FOUND, 0, "unexpected media type %s for %s", d->media_type,
                        d->digest);
    if (depth > ARCHIVE_MAX_WALK_DEPTH)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "manifest %s: nested too deep", d->digest);
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    if (read_blob(w->source, d->digest, &data, &len, err) < 0)
        return -1;
    struct archive_descriptor *children = NULL;
    size_t n = 0;
    if (archive_children(data, len, d->media_type, &children, &n, err) < 0)
        return err_wrap(err, "manifest: invalid desc %s", d->digest);
    int r = 0;
    if (manifest) {
        if (n == 0 || !children[0].digest) {
            archive_descriptors_free(children, n);
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "manifest %s: no config", d->digest);
        }
        _cleanup_free_ char *cfg = NULL;
        size_t cfg_len = 0;
        struct json_object *doc = NULL;
        r = read_blob(w->source, children[0].digest, &cfg, &cfg_len, err);
        if (r == 0)
            r = archive_json_parse(cfg, cfg_len, false, &doc, err);
        struct archive_platform p = {0};
        if (r == 0)
            r = config_platform(doc, &p, err);
        if (r == 0 && !w->manifest && platform_matcher_match(w->matcher, &p)) {
            w->manifest = steal_ptr(children);
            w->n_manifest = n;
            w->config = steal_ptr(doc);
            n = 0;
        }
        archive_platform_clear(&p);
        if (doc)
            json_object_put(doc);
    } else {
        size_t kept = 0;
        for (size_t i = 0; i < n; i++) {
            if (!children[i].platform || platform_matcher_match(w->matcher, children[i].platform))
                children[kept++] = children[i];
            else
                archive_descriptor_clear(&children[i]);
        }
        platform_matcher_sort(w->matcher, children, kept);
        n = kept;
        for (size_t i = 0; i < n && r == 0 && !w->manifest; i++)
            r = walk(w, &children[i], depth + 1, err);
    }
    archive_descriptors_free(children, n);
    return r;
}

/* identity.ChainID of the first n diff IDs. */
static int chain_of(char *const *diff_ids, size_t n, char out[DIGEST_STRING_SIZE],
                    struct berth_error **err)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i == 0) {
            snprintf(out, DIGEST_STRING_SIZE, "%s", diff_ids[0]);
            continue;
        }
        _cleanup_free_ char *pair = xasprintf("%s %s", out, diff_ids[i]);
        if (digest_from_bytes(DIGEST_SHA256, pair, strlen(pair), out, err) < 0)
            return -1;
    }
    return 0;
}

static void free_labels(PrepareLabel **labels, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(labels[i]->key);
        free(labels[i]->value);
        free(labels[i]);
    }
    free(labels);
}

static PrepareLabel *new_label(const char *key, const char *value)
{
    PrepareLabel *l = xcalloc(1, sizeof(*l));
    containerd__services__snapshots__v1__prepare_snapshot_request__labels_entry__init(l);
    l->key = xstrdup(key);
    l->value = xstrdup(value);
    return l;
}

/* snapshots.FilterInheritedLabels over the layer's annotations, then snapshot.ref=chainID. */
static PrepareLabel **snapshot_labels(const struct archive_descriptor *layer, const char *chain,
                                      size_t *ret_n)
{
    PrepareLabel **labels = xcalloc(MAX_INHERITED_LABELS + 2, sizeof(*labels));
    size_t n = 0;
    for (size_t i = 0; i < layer->n_annotations && n < MAX_INHERITED_LABELS; i++) {
        const struct archive_kv *a = &layer->annotations[i];
        if (strncmp(a->key, LABEL_INHERIT_PREFIX, strlen(LABEL_INHERIT_PREFIX)) == 0 &&
            strcmp(a->key, LABEL_SNAPSHOT_REF) != 0 &&
            strlen(a->key) + strlen(a->value) <= LABEL_ENTRY_SIZE_BOUND)
            labels[n++] = new_label(a->key, a->value);
    }
    labels[n++] = new_label(LABEL_SNAPSHOT_REF, chain);
    *ret_n = n;
    return labels;
}

/* Diff/Apply of the layer onto the mounts; the applied (uncompressed) digest in ret. */
static int apply_layer(struct cli *cli, const struct archive_descriptor *layer,
                       const struct mounts_response *mounts, char ret[DIGEST_STRING_SIZE],
                       struct berth_error **err)
{
    Containerd__Types__Descriptor desc = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    desc.media_type = layer->media_type;
    desc.digest = layer->digest;
    desc.size = layer->size;
    Containerd__Services__Diff__V1__ApplyRequest req =
        CONTAINERD__SERVICES__DIFF__V1__APPLY_REQUEST__INIT;
    req.diff = &desc;
    req.mounts = mounts->mounts;
    req.n_mounts = mounts->n_mounts;
    Containerd__Services__Diff__V1__ApplyResponse *resp = NULL;
    if (call(cli, NULL, DIFF, "Apply", &req.base,
             &containerd__services__diff__v1__apply_response__descriptor,
             (ProtobufCMessage **)&resp, err) < 0)
        return -1;
    snprintf(ret, DIGEST_STRING_SIZE, "%s",
             resp->applied && resp->applied->digest ? resp->applied->digest : "");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

/* One layer: 0 when it is committed (by us or someone else), -1 with the snapshot removed. */
static int unpack_layer(struct cli *cli, const char *snapshotter, const char *lease,
                        const struct archive_descriptor *layer, const char *diff_id,
                        const char *parent, const char *chain, const struct import_sink *sink,
                        struct berth_error **err)
{
    size_t n_labels = 0;
    PrepareLabel **labels = snapshot_labels(layer, chain, &n_labels);
    struct mounts_response *mounts = NULL;
    _cleanup_free_ char *key = NULL;
    int rc = -1;
    for (int attempt = 1; attempt <= PREPARE_ATTEMPTS; attempt++) {
        free(key);
        _cleanup_free_ char *unique = unique_part();
        key = xasprintf("extract-%s %s", unique, chain); /* snapshots.UnpackKeyFormat */
        struct berth_error *local = NULL;
        if (snapshot_prepare(cli, snapshotter, lease, true, key, parent, labels, n_labels, &mounts,
                             &local) == 0)
            break;
        if (local->kind != ERR_ALREADY_EXISTS) {
            err_wrap(&local, "failed to prepare extraction snapshot \"%s\"", key);
            *err = local;
            goto out;
        }
        err_free(local);
        int exists = snapshot_stat(cli, snapshotter, chain, err);
        if (exists < 0) {
            err_wrap(err, "failed to stat snapshot %s", chain);
            goto out;
        }
        if (exists) { /* someone else unpacked it meanwhile */
            rc = 0;
            goto out;
        }
    }
    if (!mounts) {
        err_make(err, ERR_ALREADY_EXISTS, 0, "unable to prepare extraction snapshot %s", chain);
        goto out;
    }

    char applied[DIGEST_STRING_SIZE];
    struct berth_error *local = NULL;
    if (apply_layer(cli, layer, mounts, applied, &local) < 0) {
        err_wrap(&local, "failed to extract layer %s", diff_id);
        *err = local;
    } else if (strcmp(applied, diff_id) != 0) {
        err_make(err, ERR_FAILED_PRECONDITION, 0, "wrong diff id calculated on extraction \"%s\"",
                 diff_id);
    } else {
        Containerd__Services__Snapshots__V1__CommitSnapshotRequest req =
            SINIT(COMMIT_SNAPSHOT_REQUEST);
        req.snapshotter = (char *)snapshotter;
        req.name = (char *)chain;
        req.key = key;
        /* same field layout as Prepare's labels entries */
        req.labels = (void *)labels;
        req.n_labels = n_labels;
        if (call(cli, lease, SNAPSHOTS, "Commit", &req.base, &google__protobuf__empty__descriptor,
                 NULL, &local) == 0) {
            struct archive_kv kv = {.key = (char *)ARCHIVE_LABEL_UNCOMPRESSED,
                                    .value = (char *)diff_id};
            rc = sink->blob_set_labels(sink->arg, layer->digest, &kv, 1, err);
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
    if (unpack_snapshot_remove(cli, snapshotter, key, &ignored) < 0)
        err_free(ignored);
out:
    if (mounts)
        protobuf_c_message_free_unpacked(&mounts->base, NULL);
    free_labels(labels, n_labels);
    return rc;
}

int unpack_image(struct cli *cli, const char *snapshotter, const char *lease,
                 const struct archive_descriptor *target, const struct platform_matcher *matcher,
                 char ret_chain[DIGEST_STRING_SIZE], struct berth_error **err)
{
    struct archive_remote *remote = archive_remote_new(cli, lease, IMPORT_NAMING_CLIENT);
    struct export_source source = archive_remote_source(remote);
    struct import_sink sink = archive_remote_sink(remote);
    struct manifest_walk w = {.source = &source, .matcher = matcher};
    char **diff_ids = NULL;
    size_t n_diff_ids = 0;
    int rc = walk(&w, target, 0, err);
    if (rc == 0 && !w.manifest)
        rc =
            err_make(err, ERR_NOT_FOUND, 0, "no match for platform in manifest %s", target->digest);
    if (rc == 0)
        rc = archive_json_string_array(archive_json_member(w.config, "rootfs"), "diff_ids",
                                       "Image.rootfs.diff_ids", &diff_ids, &n_diff_ids, err);
    size_t n_layers = w.manifest ? w.n_manifest - 1 : 0;
    if (rc == 0 && n_layers != n_diff_ids)
        rc = err_make(err, ERR_INVALID_ARGUMENT, 0,
                      "number of layers and diffIDs don't match: %zu != %zu", n_layers, n_diff_ids);
    char parent[DIGEST_STRING_SIZE] = "", chain[DIGEST_STRING_SIZE] = "";
    for (size_t i = 0; rc == 0 && i < n_layers; i++) {
        snprintf(parent, sizeof(parent), "%s", chain);
        rc = chain_of(diff_ids, i + 1, chain, err);
        if (rc < 0)
            break;
        int exists = snapshot_stat(cli, snapshotter, chain, err);
        if (exists < 0)
            rc = -1;
        else if (!exists)
            rc = unpack_layer(cli, snapshotter, lease, &w.manifest[i + 1], diff_ids[i], parent,
                              chain, &sink, err);
    }
    if (rc == 0 && n_layers > 0) {
        _cleanup_free_ char *key = xasprintf(LABEL_GC_SNAPSHOT "%s", snapshotter);
        struct archive_kv kv = {.key = key, .value = chain};
        rc = sink.blob_set_labels(sink.arg, w.manifest[0].digest, &kv, 1, err);
    }
    if (rc == 0 && ret_chain)
        snprintf(ret_chain, DIGEST_STRING_SIZE, "%s", chain);
    archive_strv_free(diff_ids, n_diff_ids);
    archive_descriptors_free(w.manifest, w.n_manifest);
    if (w.config)
        json_object_put(w.config);
    archive_remote_free(remote);
    return rc;
}

int unpack_image_config(struct cli *cli, const struct archive_descriptor *target,
                        const struct platform_matcher *matcher, struct json_object **ret_config,
                        char ret_chain[DIGEST_STRING_SIZE], struct berth_error **err)
{
    struct archive_remote *remote = archive_remote_new(cli, NULL, IMPORT_NAMING_CLIENT);
    struct export_source source = archive_remote_source(remote);
    struct manifest_walk w = {.source = &source, .matcher = matcher};
    char **diff_ids = NULL;
    size_t n_diff_ids = 0;
    int rc = walk(&w, target, 0, err);
    if (rc == 0 && !w.manifest)
        rc =
            err_make(err, ERR_NOT_FOUND, 0, "no match for platform in manifest %s", target->digest);
    if (rc == 0)
        rc = archive_json_string_array(archive_json_member(w.config, "rootfs"), "diff_ids",
                                       "Image.rootfs.diff_ids", &diff_ids, &n_diff_ids, err);
    if (rc == 0)
        rc = chain_of(diff_ids, n_diff_ids, ret_chain, err);
    if (rc == 0)
        *ret_config = steal_ptr(w.config);
    archive_strv_free(diff_ids, n_diff_ids);
    archive_descriptors_free(w.manifest, w.n_manifest);
    if (w.config)
        json_object_put(w.config);
    archive_remote_free(remote);
    return rc;
}

int unpack_snapshot_exists(struct cli *cli, const char *snapshotter, const char *key,
                           struct berth_error **err)
{
    return snapshot_stat(cli, snapshotter, key, err);
}

int unpack_call(struct cli *cli, const char *lease, const char *service, const char *method,
                const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                ProtobufCMessage **ret, struct berth_error **err)
{
    return call(cli, lease, service, method, req, resp_desc, ret, err);
}
