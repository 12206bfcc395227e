/* containerd.services.diff.v1.Diff (Apply) over the walking differ: layers from content to mounts.
 */
#include "core/content/content.h"
#include "core/diff/compare.h"
#include "core/diff/diff.h"
#include "core/diff/layer_reader.h"
#include "core/diff/mounts.h"
#include "core/metadata/content.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/base/log.h"
#include "services/convert.h"
#include "services/services.h"

#include "containerd/services/diff/v1/diff.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define D(x) containerd__services__diff__v1__##x

#define MEDIA_TYPE_OCI_LAYER         "application/vnd.oci.image.layer.v1.tar"
#define MEDIA_TYPE_OCI_LAYER_NONDIST "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define MEDIA_TYPE_DOCKER_LAYER      "application/vnd.docker.image.rootfs.diff.tar"
#define MEDIA_TYPE_DOCKER_FOREIGN    "application/vnd.docker.image.rootfs.foreign.diff.tar"

/* io.containerd.differ.v1 "walking": the content store and where temp mounts go. */
struct walking_differ {
    struct metadata_content *mc;
    char *tmp_mounts;
};

struct diff_service {
    struct rpc_service svc;
    struct walking_differ *differ;
};

/*
 * Whether a layer of this media type can be applied (containerd's compressedHandler over
 * images.DiffCompression). The decompressor is picked by magic, as DecompressStream does. Berth has
 * no stream processors, so wrapped (`+encrypted`) layers are refused.
 */
static int check_media_type(const char *media_type, struct berth_error **err)
{
    size_t base_len = strcspn(media_type, "+");
    const char *ext = media_type + base_len;
    static const char *const bases[] = {
        MEDIA_TYPE_OCI_LAYER,
        MEDIA_TYPE_OCI_LAYER_NONDIST,
        MEDIA_TYPE_DOCKER_LAYER,
        MEDIA_TYPE_DOCKER_LAYER ".gzip",
        MEDIA_TYPE_DOCKER_LAYER ".zstd",
        MEDIA_TYPE_DOCKER_FOREIGN,
        MEDIA_TYPE_DOCKER_FOREIGN ".gzip",
    };
    bool known = false;
    for (size_t i = 0; i < ARRAY_SIZE(bases) && !known; i++)
        known = strlen(bases[i]) == base_len && strncmp(media_type, bases[i], base_len) == 0;
    if (!known)
        return err_make_raw(err, ERR_UNKNOWN, "no processor for media-type");
    for (const char *p = ext; *p == '+'; p += strcspn(p + 1, "+") + 1) {
        size_t n = strcspn(p + 1, "+");
        if (n == strlen("encrypted") && strncmp(p + 1, "encrypted", n) == 0)
            return err_make_raw(err, ERR_NOT_IMPLEMENTED,
                                "no processor for media-type: stream processors are not "
                                "supported: not implemented");
    }
    return 0;
}

struct content_source {
    struct content_reader *reader;
    int64_t offset;
    struct berth_error *err;
};

static ssize_t content_source_read(void *opaque, void *buf, size_t len)
{
    struct content_source *src = opaque;
    ssize_t n = content_reader_read_at(src->reader, buf, len, src->offset, &src->err);
    if (n < 0) {
        errno = src->err && src->err->errno_value ? src->err->errno_value : EIO;
        return -1;
    }
    src->offset += n;
    return n;
}

/* The walking differ's Apply (containerd's fsApplier.Apply): applied is the tar's descriptor. */
static int walking_apply(struct walking_differ *d, const char *ns, const char *media_type,
                         const char *digest, const struct diff_mount *mounts, size_t n_mounts,
                         bool sync_fs, struct layer_reader_result *ret, struct berth_error **err)
{
    struct content_source src = {0};
    struct layer_reader *in = NULL;
    if (metadata_content_reader_open(d->mc, ns, digest, &src.reader, err) < 0)
        return err_wrap(err, "failed to get reader from content store");
    int rc = check_media_type(media_type, err);
    if (rc < 0) {
        err_wrap(err, "failed to get stream processor for %s", media_type);
        goto out;
    }
    rc = layer_reader_new(content_source_read, &src, LAYER_GZIP_AUTO, &in, err);
    if (rc < 0)
        goto out;
    rc = diff_apply_mounts(d->tmp_mounts, mounts, n_mounts, in, sync_fs, NULL, err);
    if (rc == 0)
        rc = layer_reader_finish(in, ret, err);
    /* the reader's thread calls content_source_read: stop it before looking at src.err */
    in = layer_reader_free(in);
    if (rc < 0 && src.err && err && *err && (*err)->errno_value == src.err->errno_value)
        err_wrap(err, "read content %s: %s", digest, src.err->message);
out:
    layer_reader_free(in);
    err_free(src.err);
    content_reader_close(src.reader);
    return rc;
}

static int apply(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                 struct berth_error **err)
{
    struct diff_service *s = data;
    const Containerd__Services__Diff__V1__ApplyRequest *req =
        (const Containerd__Services__Diff__V1__ApplyRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    const char *media_type = req->diff ? req->diff->media_type : "";
    const char *digest = req->diff ? req->diff->digest : "";
    _cleanup_free_ struct diff_mount *mounts =
        xcalloc(req->n_mounts ? req->n_mounts : 1, sizeof(*mounts));
    for (size_t i = 0; i < req->n_mounts; i++) {
        const Containerd__Types__Mount *m = req->mounts[i];
        mounts[i] = (struct diff_mount){
            .type = m->type,
            .source = m->source,
            .target = m->target,
            .options = (const char *const *)m->options,
            .n_options = m->n_options,
        };
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct layer_reader_result result;
    if (walking_apply(s->differ, ns, media_type, digest, mounts, req->n_mounts, req->sync_fs,
                      &result, err) < 0)
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (log_enabled(LOG_DEBUG)) {
        char elapsed[32], size[32];
        snprintf(elapsed, sizeof(elapsed), "%.3fms",
                 (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
        snprintf(size, sizeof(size), "%lld", (long long)(req->diff ? req->diff->size : 0));
        log_record(LOG_DEBUG,
                   LOG_FIELDS("d", elapsed, "digest", digest, "size", size, "media", media_type),
                   "diff applied");
    }
    Containerd__Types__Descriptor applied = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    applied.media_type = (char *)MEDIA_TYPE_OCI_LAYER;
    applied.digest = result.uncompressed_digest;
    applied.size = result.uncompressed_size;
    Containerd__Services__Diff__V1__ApplyResponse resp =
        CONTAINERD__SERVICES__DIFF__V1__APPLY_RESPONSE__INIT;
    resp.applied = &applied;
    return rpc_call_send(call, &resp.base, err);
}

/* Mounts on a fresh directory under tmp_parent (WithTempMount); *ret_root on success. */
static int temp_mount(const char *tmp_parent, const struct diff_mount *mounts, size_t n,
                      char **ret_root, struct berth_error **err)
{
    if (fs_mkdir_p(tmp_parent, 0700, err) < 0)
        return err_wrap(err, "failed to create temp dir");
    _cleanup_free_ char *root = NULL;
    if (asprintf(&root, "%s/containerd-mountXXXXXX", tmp_parent) < 0)
        abort();
    if (!mkdtemp(root))
        return err_make(err, err_kind_from_errno(errno), errno, "failed to create temp dir");
    if (diff_mounts_mount(mounts, n, root, err) < 0) {
        err_wrap(err, "failed to mount %s", root);
        struct berth_error *unmount_err = NULL;
        if (diff_mounts_unmount(mounts, n, root, &unmount_err) == 0)
            rmdir(root);
        err_free(unmount_err);
        return -1;
    }
    *ret_root = steal_ptr(root);
    return 0;
}

/* Unmounts and removes root; keeps the directory when unmounting fails (data behind it). */
static int temp_unmount(const struct diff_mount *mounts, size_t n, char *root, int rc,
                        struct berth_error **err)
{
    if (!root)
        return rc;
    struct berth_error *unmount_err = NULL;
    if (diff_mounts_unmount(mounts, n, root, &unmount_err) < 0) {
        if (rc == 0) {
            *err = unmount_err;
            rc = err_wrap(err, "failed to unmount %s", root);
        } else {
            err_free(unmount_err);
        }
    } else {
        rmdir(root);
    }
    free(root);
    return rc;
}

struct diff_sink {
    struct metadata_content_writer *w;
    int64_t offset;
};

static int diff_sink_write(void *opaque, const void *data, size_t len, struct berth_error **err)
{
    struct diff_sink *sink = opaque;
    if (metadata_content_writer_write_at(sink->w, sink->offset, data, len, err) < 0)
        return -1;
    sink->offset += (int64_t)len;
    return 0;
}

static struct diff_mount *mounts_from(Containerd__Types__Mount **in, size_t n, bool readonly)
{
    struct diff_mount *mounts = xcalloc(n ? n : 1, sizeof(*mounts));
    for (size_t i = 0; i < n; i++) {
        const Containerd__Types__Mount *m = in[i];
        const char **options = xcalloc(m->n_options + 2, sizeof(*options));
        for (size_t j = 0; j < m->n_options; j++)
            options[j] = m->options[j];
        size_t n_options = m->n_options;
        if (readonly)
            options[n_options++] = "ro";
        mounts[i] = (struct diff_mount){
            .type = m->type,
            .source = m->source,
            .target = m->target,
            .options = options,
            .n_options = n_options,
        };
    }
    return mounts;
}

static void mounts_free(struct diff_mount *mounts, size_t n)
{
    for (size_t i = 0; mounts && i < n; i++)
        free((void *)mounts[i].options);
    free(mounts);
}

/* The walking differ's Compare: lower and upper mounted, the diff written into content. */
static int walking_compare(struct walking_differ *d, const char *ns, const char *lease,
                           const Containerd__Services__Diff__V1__DiffRequest *req,
                           Containerd__Types__Descriptor *desc, char ret_digest[DIGEST_STRING_SIZE],
                           struct berth_error **err)
{
    struct compare_options opts = {0};
    if (diff_compare_media_type(req->media_type, &opts.gzip, err) < 0)
        return -1;
    if (req->source_date_epoch) {
        opts.has_source_date_epoch = true;
        opts.source_date_epoch = req->source_date_epoch->seconds;
    }
    struct labels labels = {0};
    for (size_t i = 0; i < req->n_labels; i++)
        labels_set(&labels, req->labels[i]->key, req->labels[i]->value);
    _cleanup_free_ char *ref = NULL;
    if (req->ref && *req->ref) {
        ref = xstrdup(req->ref);
    } else {
        unsigned char rnd[16];
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
            memset(rnd, 0, sizeof(rnd));
        if (fd >= 0)
            close(fd);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        char hex[33];
        for (size_t i = 0; i < sizeof(rnd); i++)
            snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
        if (asprintf(&ref, "%lld-%s", (long long)now.tv_nsec, hex) < 0)
            abort();
    }
    struct diff_mount *lower_mounts = mounts_from(req->left, req->n_left, false);
    struct diff_mount *upper_mounts = mounts_from(req->right, req->n_right, true);
    struct overlay_diff_plan plan = {0};
    bool fast = diff_overlay_plan(lower_mounts, req->n_left, upper_mounts, req->n_right, &plan);
    char *lower_root = NULL, *upper_root = NULL;
    struct diff_sink sink = {0};
    struct compare_result result;
    int rc = temp_mount(d->tmp_mounts, lower_mounts, req->n_left, &lower_root, err);
    if (rc == 0) {
        rc = metadata_content_writer_open(d->mc, ns, ref, 0, NULL, lease, &sink.w, err);
        if (rc < 0)
            err_wrap(err, "failed to open writer");
    }
    if (rc == 0 && fast) {
        /* the snapshot's own layer read against its parent: no walk of the unchanged tree */
        bool fallback = false;
        rc = diff_compare_overlay(lower_root, plan.layer, plan.userxattr, &opts, diff_sink_write,
                                  &sink, &result, &fallback, err);
        if (rc < 0 && !fallback)
            err_wrap(err, opts.gzip ? "failed to write compressed diff" : "failed to write diff");
        if (rc < 0 && fallback) {
            log_record(LOG_DEBUG, LOG_FIELDS("reason", (*err)->message),
                       "overlay diff falls back to walking");
            err_free(*err);
            *err = NULL;
            fast = false;
            metadata_content_writer_close(sink.w);
            sink = (struct diff_sink){0};
            metadata_content_abort(d->mc, ns, ref, NULL);
            rc = metadata_content_writer_open(d->mc, ns, ref, 0, NULL, lease, &sink.w, err);
            if (rc < 0)
                err_wrap(err, "failed to open writer");
        }
    }
    if (rc == 0 && !fast) {
        rc = temp_mount(d->tmp_mounts, upper_mounts, req->n_right, &upper_root, err);
        if (rc == 0 && (rc = diff_compare(lower_root, upper_root, &opts, diff_sink_write, &sink,
                                          &result, err)) < 0)
            err_wrap(err, opts.gzip ? "failed to write compressed diff" : "failed to write diff");
    }
    if (rc == 0) {
        if (opts.gzip)
            labels_set(&labels, "containerd.io/uncompressed", result.uncompressed_digest);
        struct berth_error *commit_err = NULL;
        if (metadata_content_writer_commit(sink.w, result.size, result.digest, &labels,
                                           &commit_err) < 0) {
            if (commit_err->kind != ERR_ALREADY_EXISTS) {
                *err = commit_err;
                rc = err_wrap(err, "failed to commit");
            } else {
                err_free(commit_err);
                metadata_content_abort(d->mc, ns, ref, NULL);
            }
        }
    }
    if (rc == 0 && opts.gzip) {
        /* A blob that existed already may lack the label (containerd sets it then). */
        struct content_record info = {0};
        rc = metadata_content_info(d->mc, ns, result.digest, &info, err);
        if (rc == 0 && !labels_get(&info.labels, "containerd.io/uncompressed")) {
            struct labels one = {0};
            labels_set(&one, "containerd.io/uncompressed", result.uncompressed_digest);
            const char *path = "labels.containerd.io/uncompressed";
            struct content_record updated = {0};
            rc = metadata_content_update(d->mc, ns, result.digest, &one, &path, 1, &updated, err);
            content_record_clear(&updated);
            labels_clear(&one);
            if (rc < 0)
                err_wrap(err, "error setting uncompressed label");
        }
        content_record_clear(&info);
    }
    if (rc < 0 && sink.w && !(req->ref && *req->ref)) {
        metadata_content_writer_close(sink.w);
        sink.w = NULL;
        metadata_content_abort(d->mc, ns, ref, NULL);
    }
    metadata_content_writer_close(sink.w);
    rc = temp_unmount(upper_mounts, req->n_right, upper_root, rc, err);
    rc = temp_unmount(lower_mounts, req->n_left, lower_root, rc, err);
    mounts_free(lower_mounts, req->n_left);
    mounts_free(upper_mounts, req->n_right);
    labels_clear(&labels);
    overlay_diff_plan_clear(&plan);
    if (rc == 0 && log_enabled(LOG_DEBUG)) {
        char size[32];
        snprintf(size, sizeof(size), "%lld", (long long)result.size);
        log_record(LOG_DEBUG,
                   LOG_FIELDS("digest", result.digest, "size", size, "media",
                              opts.gzip ? DIFF_MEDIA_TYPE_LAYER_GZIP : DIFF_MEDIA_TYPE_LAYER,
                              "path", fast ? "overlay" : "walking"),
                   "diff created");
    }
    if (rc == 0) {
        desc->media_type = (char *)(opts.gzip ? DIFF_MEDIA_TYPE_LAYER_GZIP : DIFF_MEDIA_TYPE_LAYER);
        memcpy(ret_digest, result.digest, DIGEST_STRING_SIZE);
        desc->digest = ret_digest;
        desc->size = result.size;
    }
    return rc;
}

static int diff(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                struct berth_error **err)
{
    struct diff_service *s = data;
    const Containerd__Services__Diff__V1__DiffRequest *req =
        (const Containerd__Services__Diff__V1__DiffRequest *)request;
    const char *ns = service_namespace(call, err);
    if (!ns)
        return -1;
    Containerd__Types__Descriptor desc = CONTAINERD__TYPES__DESCRIPTOR__INIT;
    char digest[DIGEST_STRING_SIZE];
    if (walking_compare(s->differ, ns, rpc_call_metadata(call, "containerd-lease"), req, &desc,
                        digest, err) < 0)
        return -1;
    Containerd__Services__Diff__V1__DiffResponse resp =
        CONTAINERD__SERVICES__DIFF__V1__DIFF_RESPONSE__INIT;
    resp.diff = &desc;
    return rpc_call_send(call, &resp.base, err);
}

static const struct rpc_method methods[] = {
    {"Apply", RPC_UNARY, &D(apply_request__descriptor), &D(apply_response__descriptor), apply},
    {"Diff", RPC_UNARY, &D(diff_request__descriptor), &D(diff_response__descriptor), diff},
};

static int walking_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct metadata_content *mc = plugin_context_get(ctx, PLUGIN_SERVICE, "content-service");
    if (!mc)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "no content store");
    struct walking_differ *d = xcalloc(1, sizeof(*d));
    d->mc = mc;
    /* A private directory for temp mounts (containerd's tmpmounts), made on first use. */
    if (asprintf(&d->tmp_mounts, "%s/tmpmounts", plugin_context_state(ctx)) < 0)
        abort();
    *ret = d;
    return 0;
}

static void walking_close(void *instance)
{
    struct walking_differ *d = instance;
    if (!d)
        return;
    free(d->tmp_mounts);
    free(d);
}

static const char *const walking_requires[] = {PLUGIN_SERVICE, NULL};

const struct plugin_registration walking_differ_plugin = {
    .type = PLUGIN_DIFFER,
    .id = "walking",
    .requires = walking_requires,
    .init = walking_init,
    .close = walking_close,
};

static int diff_service_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct service_host *host = plugin_context_daemon(ctx);
    struct walking_differ *differ = plugin_context_get(ctx, PLUGIN_DIFFER, "walking");
    if (!differ)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "no differ walking");
    struct diff_service *s = xcalloc(1, sizeof(*s));
    s->differ = differ;
    s->svc = (struct rpc_service){
        .name = "containerd.services.diff.v1.Diff",
        .methods = methods,
        .n_methods = ARRAY_SIZE(methods),
        .data = s,
    };
    rpc_registry_add(host->grpc, &s->svc);
    *ret = s;
    return 0;
}

static const char *const diff_requires[] = {PLUGIN_DIFFER, NULL};

const struct plugin_registration diff_service_plugin = {
    .type = PLUGIN_GRPC,
    .id = "diff",
    .requires = diff_requires,
    .init = diff_service_init,
    .close = free,
};
