/* berth images check, as ctr 1.6's: required/present/missing content and the unpacked state. */
#include "cmd/berth/commands_check.h"
#include "cmd/berth/archive_remote.h"
#include "cmd/berth/output.h"
#include "core/archive/archive-internal.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/digest/digest.h"

#include "containerd/services/images/v1/images.pb-c.h"
#include "containerd/services/snapshots/v1/snapshots.pb-c.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMAGES    "containerd.services.images.v1.Images"
#define SNAPSHOTS "containerd.services.snapshots.v1.Snapshots"

typedef Containerd__Services__Images__V1__Image PbImage;

/* What one image's walk found: the manifest's config and layers, or the error that stopped it. */
struct check_walk {
    const struct export_source *source;
    const struct platform_matcher *matcher;
    const char *image_digest;
    struct archive_descriptor *manifest; /* config first, then layers; NULL until found */
    size_t n_manifest;
};

/* ctr's progress.Bytes: go-units' CustomSize("%02.1f %s", size, 1024, B..YiB). */
static void human_size(int64_t bytes, char out[32])
{
    static const char *const units[] = {"B",   "KiB", "MiB", "GiB", "TiB",
                                        "PiB", "EiB", "ZiB", "YiB"};
    double size = (double)bytes;
    size_t i = 0;
    while (size >= 1024 && i < ARRAY_SIZE(units) - 1) {
        size /= 1024;
        i++;
    }
    snprintf(out, 32, "%02.1f %s", size, units[i]);
}

/* content.ReadBlob through the proxy store: Info for the size, then Read. */
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

/* Whether a manifest without a platform in its index fits, by its config's os/architecture. */
static int config_matches(struct check_walk *w, const struct archive_descriptor *config,
                          bool *ret_match, struct berth_error **err)
{
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    if (read_blob(w->source, config->digest, &data, &len, err) < 0)
        return -1;
    struct json_object *doc = NULL;
    if (archive_json_parse(data, len, false, &doc, err) < 0)
        return -1;
    struct archive_platform p = {0};
    int r = archive_json_string(doc, "os", "Image.os", &p.os, err);
    if (r == 0)
        r = archive_json_string(doc, "architecture", "Image.architecture", &p.architecture, err);
    json_object_put(doc);
    if (r == 0) {
        if (!p.os)
            p.os = xstrdup("");
        if (!p.architecture)
            p.architecture = xstrdup("");
        archive_platform_normalize(&p);
        *ret_match = platform_matcher_match(w->matcher, &p);
    }
    archive_platform_clear(&p);
    return r;
}

/* images.Manifest's walk: indexes narrowed to their best matching manifest, the first manifest
 * that fits the platform wins. */
static int walk(struct check_walk *w, const struct archive_descriptor *d, unsigned depth,
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
        bool fits = true;
        if (strcmp(d->digest, w->image_digest) != 0) {
            if (d->platform)
                fits = platform_matcher_match(w->matcher, d->platform);
            else
                r = config_matches(w, &children[0], &fits, err);
        }
        if (r == 0 && fits && !w->manifest) {
            w->manifest = steal_ptr(children);
            w->n_manifest = n;
        }
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
        /* limit 1: only the best manifest of an index is walked */
        if (n > 0)
            r = walk(w, &children[0], depth + 1, err);
    }
    archive_descriptors_free(children, n);
    return r;
}

/* images.Manifest: the image's manifest for this host, as its config and layers. */
static int image_manifest(struct check_walk *w, const struct archive_descriptor *target,
                          struct berth_error **err)
{
    if (walk(w, target, 0, err) < 0)
        return -1;
    if (!w->manifest)
        return err_make(err, ERR_NOT_FOUND, 0, "%s %s",
                        archive_media_type_is_index(target->media_type)
                            ? "no match for platform in manifest"
                            : "manifest",
                        target->digest);
    return 0;
}

/* identity.ChainID over the config's rootfs.diff_ids ("" when there are none). */
static int chain_id(const struct export_source *source, const struct archive_descriptor *config,
                    char out[DIGEST_STRING_SIZE], struct berth_error **err)
{
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    if (read_blob(source, config->digest, &data, &len, err) < 0)
        return -1;
    struct json_object *doc = NULL;
    if (archive_json_parse(data, len, false, &doc, err) < 0)
        return -1;
    char **diff_ids = NULL;
    size_t n = 0;
    int r = archive_json_string_array(archive_json_member(doc, "rootfs"), "diff_ids",
                                      "Image.rootfs.diff_ids", &diff_ids, &n, err);
    json_object_put(doc);
    if (r < 0)
        return -1;
    out[0] = '\0';
    for (size_t i = 0; i < n && r == 0; i++) {
        if (i == 0) {
            snprintf(out, DIGEST_STRING_SIZE, "%s", diff_ids[0]);
            continue;
        }
        _cleanup_free_ char *pair = xasprintf("%s %s", out, diff_ids[i]);
        r = digest_from_bytes(DIGEST_SHA256, pair, strlen(pair), out, err);
    }
    archive_strv_free(diff_ids, n);
    return r;
}

/* Whether the snapshotter has the chain ID: NotFound is false, other failures are errors. */
static int snapshot_exists(struct cli *cli, const char *snapshotter, const char *key,
                           bool *ret_exists, struct berth_error **err)
{
    Containerd__Services__Snapshots__V1__StatSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__STAT_SNAPSHOT_REQUEST__INIT;
    req.snapshotter = (char *)snapshotter;
    req.key = (char *)key;
    struct rpc_call_options opts = cli_call_options(cli);
    ProtobufCMessage *resp = NULL;
    struct berth_error *local = NULL;
    if (rpc_channel_unary(cli_channel(cli), SNAPSHOTS, "Stat", &req.base,
                          &containerd__services__snapshots__v1__stat_snapshot_response__descriptor,
                          &resp, &opts, &local) < 0) {
        if (local->kind == ERR_NOT_FOUND) {
            err_free(local);
            *ret_exists = false;
            return 0;
        }
        *err = local;
        return -1;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    *ret_exists = true;
    return 0;
}

/* Keeps the first failure as the command's, as ctr's exitErr. */
static void keep_first(char **exit_message, const char *what, const char *name,
                       const struct berth_error *e)
{
    if (!*exit_message)
        *exit_message = xasprintf("%s %s: %s", what, name, e->message);
    /* as ctr, every failure is logged, only the first decides the exit message */
    log_record(LOG_ERROR, LOG_FIELDS("error", e->message), "%s %s", what, name);
}

static int list_images(struct cli *cli, char **filters, size_t n_filters,
                       Containerd__Services__Images__V1__ListImagesResponse **ret)
{
    Containerd__Services__Images__V1__ListImagesRequest req =
        CONTAINERD__SERVICES__IMAGES__V1__LIST_IMAGES_REQUEST__INIT;
    req.filters = filters;
    req.n_filters = n_filters;
    struct rpc_call_options opts = cli_call_options(cli);
    _cleanup_error_ struct berth_error *err = NULL;
    if (rpc_channel_unary(cli_channel(cli), IMAGES, "List", &req.base,
                          &containerd__services__images__v1__list_images_response__descriptor,
                          (ProtobufCMessage **)ret, &opts, &err) < 0)
        cli_fail("failed listing images: %s", err->message);
    return 0;
}

int cli_images_check(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"quiet", no_argument, NULL, 'q'}, {"snapshotter", required_argument, NULL, 's'}, {0}};
    bool quiet = false;
    const char *snapshotter = getenv("CONTAINERD_SNAPSHOTTER");
    int c;
    while ((c = getopt_long_only(argc, argv, "+q", longopts, NULL)) != -1) {
        if (c == 'q')
            quiet = true;
        else if (c == 's')
            snapshotter = optarg;
        else
            return 1;
    }
    /* client.getSnapshotter: an unset name is the default one */
    if (!snapshotter || !snapshotter[0])
        snapshotter = "overlayfs";

    Containerd__Services__Images__V1__ListImagesResponse *list = NULL;
    list_images(cli, argv + optind, (size_t)(argc - optind), &list);
    if (list->n_images == 0) {
        protobuf_c_message_free_unpacked(&list->base, NULL);
        return 0;
    }

    struct archive_remote *remote = archive_remote_new(cli, NULL, IMPORT_NAMING_CLIENT);
    struct export_source source = archive_remote_source(remote);
    struct archive_platform host = {0};
    archive_platform_default(&host);
    struct platform_matcher matcher = {0};
    platform_matcher_only(&matcher, &host); /* platforms.Default() */

    struct table *t = quiet ? NULL : table_new(1, 1);
    if (t)
        table_add(t, "REF\tTYPE\tDIGEST\tSTATUS\tSIZE\tUNPACKED\t");
    _cleanup_free_ char *exit_message = NULL;
    for (size_t i = 0; i < list->n_images; i++) {
        PbImage *im = list->images[i];
        struct archive_descriptor target = {0};
        if (im->target) {
            target.media_type = im->target->media_type;
            target.digest = im->target->digest;
            target.size = im->target->size;
        } else {
            target.media_type = (char *)"";
            target.digest = (char *)"";
        }

        /* images.Check */
        struct check_walk w = {
            .source = &source, .matcher = &matcher, .image_digest = target.digest};
        _cleanup_error_ struct berth_error *manifest_err = NULL;
        bool available = image_manifest(&w, &target, &manifest_err) == 0;
        bool failed = false, complete = true;
        size_t n_present = 0, n_required = 0;
        int64_t present_size = 0, required_size = 0;
        if (available) {
            n_required = w.n_manifest;
            for (size_t j = 0; j < w.n_manifest && !failed; j++) {
                const struct archive_descriptor *d = &w.manifest[j];
                int64_t size = 0;
                struct archive_kv *labels = NULL;
                size_t n_labels = 0;
                _cleanup_error_ struct berth_error *e = NULL;
                if (source.blob_info(source.arg, d->digest, &size, &labels, &n_labels, &e) < 0) {
                    if (e->kind == ERR_NOT_FOUND)
                        continue;
                    err_wrap(&e, "failed to check image %s", d->digest);
                    keep_first(&exit_message, "unable to check", im->name, e);
                    failed = true;
                    break;
                }
                archive_kv_free(labels, n_labels);
                n_present++;
                present_size += d->size;
            }
            for (size_t j = 0; j < w.n_manifest; j++)
                required_size += w.manifest[j].size;
        } else if (manifest_err->kind == ERR_NOT_FOUND) {
            n_required = 1; /* the target itself, missing */
            required_size = target.size;
        } else {
            struct berth_error *e = NULL;
            err_make_raw(&e, manifest_err->kind, manifest_err->message);
            err_wrap(&e, "failed to check image %s", target.digest);
            keep_first(&exit_message, "unable to check", im->name, e);
            err_free(e);
            failed = true;
        }

        _cleanup_free_ char *status = NULL;
        _cleanup_free_ char *size = NULL;
        if (failed) {
            status = xstrdup("error");
            size = xstrdup("-");
            complete = false;
        } else {
            char present_h[32], required_h[32];
            human_size(present_size, present_h);
            human_size(required_size, required_h);
            const char *state = n_present < n_required ? "incomplete" : "complete";
            if (n_present < n_required)
                complete = false;
            if (available) {
                status = xasprintf("%s (%zu/%zu)", state, n_present, n_required);
                size = xasprintf("%s/%s", present_h, required_h);
            } else {
                status = xasprintf("unavailable (%zu/?)", n_present);
                size = xasprintf("%s/?", present_h);
                complete = false;
            }
        }

        /* image.IsUnpacked: the chain ID of the config's diff IDs in the snapshotter */
        bool unpacked = false;
        _cleanup_error_ struct berth_error *unpack_err = NULL;
        if (!available) {
            err_make_raw(&unpack_err, manifest_err->kind, manifest_err->message);
        } else {
            char chain[DIGEST_STRING_SIZE];
            if (chain_id(&source, &w.manifest[0], chain, &unpack_err) == 0)
                snapshot_exists(cli, snapshotter, chain, &unpacked, &unpack_err);
        }
        if (unpack_err)
            keep_first(&exit_message, "unable to check unpack for", im->name, unpack_err);

        if (t)
            table_add(t, "%s\t%s\t%s\t%s\t%s\t%s", im->name, target.media_type, target.digest,
                      status, size, unpacked ? "true" : "false");
        else if (complete) {
            printf("%s\n", im->name);
            fflush(stdout);
        }
        archive_descriptors_free(w.manifest, w.n_manifest);
    }
    if (t)
        table_print(t);
    fflush(stdout); /* the table comes before the error, as ctr's */

    platform_matcher_clear(&matcher);
    archive_platform_clear(&host);
    archive_remote_free(remote);
    protobuf_c_message_free_unpacked(&list->base, NULL);
    if (exit_message)
        cli_fail("%s", exit_message);
    return 0;
}
