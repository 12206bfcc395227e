/* docker save archives: the Docker schema 2 manifests and index containerd synthesizes for them. */
#include "core/archive/archive-internal.h"
#include "lib/base/alloc.h"
#include "lib/digest/digest.h"
#include "lib/identifiers/gostring.h"
#include "lib/reference/reference.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CHUNK (128 * 1024)

int import_write_json_blob(const struct import_sink *sink, const char *data, size_t len,
                           const char *media_type, struct archive_descriptor *ret,
                           struct berth_error **err)
{
    char digest[DIGEST_STRING_SIZE];
    if (digest_from_bytes(DIGEST_CANONICAL, data, len, digest, err) < 0)
        return -1;
    _cleanup_free_ char *ref = xasprintf("manifest-%s", digest);
    void *writer = NULL;
    struct berth_error *begin_err = NULL;
    if (sink->blob_begin(sink->arg, ref, (int64_t)len, digest, &writer, &begin_err) < 0) {
        if (!begin_err || begin_err->kind != ERR_ALREADY_EXISTS) {
            *err = begin_err;
            return -1;
        }
        err_free(begin_err);
        writer = NULL;
    }
    if (writer) {
        if (sink->blob_write(sink->arg, writer, data, len, err) < 0) {
            sink->blob_abort(sink->arg, writer);
            return -1;
        }
        if (sink->blob_commit(sink->arg, writer, (int64_t)len, digest, NULL, 0, err) < 0)
            return -1;
    }
    memset(ret, 0, sizeof(*ret));
    ret->media_type = xstrdup(media_type);
    ret->digest = xstrdup(digest);
    ret->size = (int64_t)len;
    return 0;
}

/* A file of the archive by name, following symlinks as containerd does (one level). */
static const struct import_entry *lookup(const struct import_archive *a, const char *name)
{
    const struct import_entry *e = import_archive_find(a, name);
    if (e)
        return e;
    /* Symlinks are sorted by name. */
    size_t lo = 0, hi = a->n_symlinks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(a->symlinks[mid].name, name);
        if (c == 0)
            return import_archive_find(a, a->symlinks[mid].target);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* compression.DetectCompression: gzip and zstd (a frame or a skippable frame) magic. */
static bool looks_compressed(const unsigned char *b, size_t n)
{
    if (n >= 3 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 0x08)
        return true;
    if (n >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd)
        return true;
    if (n >= 8) {
        uint32_t magic =
            (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        if ((magic & 0xFFFFFFF0u) == 0x184D2A50u)
            return true;
    }
    return false;
}

/* compressBlob: gzips a stored uncompressed layer into a new blob labelled with its diff ID. */
static int compress_layer(const struct import_sink *sink, const char *diff_id, int64_t size,
                          struct archive_descriptor *ret, struct berth_error **err)
{
    const char *hex = strchr(diff_id, ':') + 1;
    _cleanup_free_ char *ref =
        xasprintf("compress-blob-%.*s-%s", (int)(hex - diff_id - 1), diff_id, hex);
    void *writer = NULL;
    if (sink->blob_begin(sink->arg, ref, -1, NULL, &writer, err) < 0)
        return -1;
    _cleanup_digester_ struct digester *dg = NULL;
    if (digester_new(DIGEST_CANONICAL, &dg, err) < 0) {
        if (writer)
            sink->blob_abort(sink->arg, writer);
        return -1;
    }
    z_stream z = {0};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        if (writer)
            sink->blob_abort(sink->arg, writer);
        return err_make(err, ERR_INTERNAL, 0, "gzip: cannot initialize");
    }
    _cleanup_free_ unsigned char *in = xmalloc(CHUNK);
    _cleanup_free_ unsigned char *out = xmalloc(CHUNK);
    int64_t offset = 0, written = 0;
    int r = 0;
    bool done = false;
    while (r == 0 && !done) {
        ssize_t n = 0;
        if (offset < size) {
            n = sink->blob_read_at(sink->arg, diff_id, offset, in, CHUNK, err);
            if (n < 0) {
                r = -1;
                break;
            }
            if (n == 0) {
                r = err_make(err, ERR_DATA_LOSS, 0, "blob %s ends early", diff_id);
                break;
            }
            offset += n;
        }
        z.next_in = in;
        z.avail_in = (uInt)n;
        int flush = offset >= size ? Z_FINISH : Z_NO_FLUSH;
        do {
            z.next_out = out;
            z.avail_out = CHUNK;
            int zr = deflate(&z, flush);
            if (zr == Z_STREAM_ERROR) {
                r = err_make(err, ERR_INTERNAL, 0, "gzip: stream error");
                break;
            }
            size_t produced = CHUNK - z.avail_out;
            digester_update(dg, out, produced);
            if (produced && writer && sink->blob_write(sink->arg, writer, out, produced, err) < 0)
                r = -1;
            written += (int64_t)produced;
            if (zr == Z_STREAM_END)
                done = true;
        } while (r == 0 && z.avail_out == 0);
    }
    deflateEnd(&z);
    char digest[DIGEST_STRING_SIZE];
    if (r == 0)
        r = digester_digest(dg, digest, err);
    if (r < 0) {
        if (writer)
            sink->blob_abort(sink->arg, writer);
        return -1;
    }
    struct archive_kv label = {(char *)ARCHIVE_LABEL_UNCOMPRESSED, (char *)diff_id};
    if (writer && sink->blob_commit(sink->arg, writer, written, digest, &label, 1, err) < 0)
        return -1;
    ret->media_type = xstrdup(ARCHIVE_MEDIA_TYPE_DOCKER_LAYER_GZIP);
    ret->digest = xstrdup(digest);
    ret->size = written;
    return 0;
}

/* resolveLayers: descriptors for the layer files, with media types from their first bytes. */
static int resolve_layer(const struct import_archive *a, const struct import_sink *sink,
                         const char *file, bool compress, struct archive_descriptor *ret,
                         struct berth_error **err)
{
    const struct import_entry *e = lookup(a, file);
    if (!e) {
        _cleanup_free_ char *q = go_quote(file, strlen(file));
        return err_make(err, ERR_NOT_FOUND, 0, "failed to resolve layers: layer %s", q);
    }
    if (sink->find_compressed) {
        char *found = NULL;
        int64_t found_size = 0;
        int r = sink->find_compressed(sink->arg, e->digest, &found, &found_size, err);
        if (r < 0)
            return err_wrap(err, "failed to resolve layers: failure checking for compressed blobs");
        if (r > 0) {
            unsigned char head[10];
            ssize_t n = found_size >= 10
                            ? sink->blob_read_at(sink->arg, found, 0, head, sizeof(head), err)
                            : 0;
            if (n < 0) {
                free(found);
                return err_wrap(err, "failed to resolve layers: failed to detect media type of "
                                     "layer");
            }
            ret->media_type =
                xstrdup(n == 10 && looks_compressed(head, 10) ? ARCHIVE_MEDIA_TYPE_DOCKER_LAYER_GZIP
                                                              : ARCHIVE_MEDIA_TYPE_DOCKER_LAYER);
            ret->digest = found;
            ret->size = found_size;
            return 0;
        }
    }
    if (looks_compressed(e->head, e->head_len)) {
        ret->media_type = xstrdup(ARCHIVE_MEDIA_TYPE_DOCKER_LAYER_GZIP);
    } else if (compress) {
        if (compress_layer(sink, e->digest, e->size, ret, err) < 0)
            return err_wrap(err, "failed to resolve layers");
        return 0;
    } else {
        ret->media_type = xstrdup(ARCHIVE_MEDIA_TYPE_DOCKER_LAYER);
    }
    ret->digest = xstrdup(e->digest);
    ret->size = e->size;
    return 0;
}

/* images.Platforms of a one-config manifest: the config's own platform, normalized. */
static int config_platform(const struct import_sink *sink, const struct archive_descriptor *cfg,
                           struct archive_platform *ret, struct berth_error **err)
{
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    struct json_object *doc = NULL;
    if (archive_blob_read_all(sink->blob_read_at, sink->arg, cfg->digest, cfg->size,
                              ARCHIVE_JSON_MAX, &data, &len, err) < 0 ||
        archive_json_parse(data, len, false, &doc, err) < 0)
        return err_wrap(err, "unable to resolve platform");
    int r = archive_platform_from_json(doc, ret, err);
    json_object_put(doc);
    if (r < 0)
        return err_wrap(err, "unable to resolve platform");
    archive_platform_normalize(ret);
    return 0;
}

/* The manifest JSON exactly as Go marshals containerd's anonymous manifest struct. */
static char *docker_manifest_json(const struct archive_descriptor *config,
                                  const struct archive_descriptor *layers, size_t n, size_t *len)
{
    _cleanup_json_writer_ struct json_writer w;
    json_writer_init(&w);
    json_writer_begin_object(&w);
    json_writer_key(&w, "schemaVersion");
    json_writer_int(&w, 2);
    json_writer_key(&w, "mediaType");
    json_writer_string(&w, ARCHIVE_MEDIA_TYPE_DOCKER_MANIFEST);
    json_writer_key(&w, "config");
    archive_descriptor_write_json(&w, config);
    json_writer_key(&w, "layers");
    json_writer_begin_array(&w);
    for (size_t i = 0; i < n; i++)
        archive_descriptor_write_json(&w, &layers[i]);
    json_writer_end_array(&w);
    json_writer_end_object(&w);
    return json_writer_steal(&w, len);
}

/* One manifest.json entry: its manifest blob, and one index entry per RepoTag (or one). */
static int docker_image(const struct import_archive *a, const struct import_sink *sink,
                        struct json_object *m, bool compress, struct json_writer *index,
                        struct berth_error **err)
{
    _cleanup_free_ char *config_file = NULL;
    char **tags = NULL, **files = NULL;
    size_t n_tags = 0, n_files = 0;
    struct archive_descriptor config = {0}, desc = {0};
    struct archive_descriptor *layers = NULL;
    struct archive_platform platform = {0};
    _cleanup_free_ char *manifest = NULL;
    size_t manifest_len = 0;
    int r = archive_json_string(m, "Config", ".Config", &config_file, err);
    if (r == 0)
        r = archive_json_string_array(m, "RepoTags", ".RepoTags", &tags, &n_tags, err);
    if (r == 0)
        r = archive_json_string_array(m, "Layers", ".Layers", &files, &n_files, err);
    if (r < 0)
        goto out;
    if (n_files > ARCHIVE_MAX_LAYERS) {
        r = err_make(err, ERR_RESOURCE_EXHAUSTED, 0, "image with %zu layers (more than %d)",
                     n_files, ARCHIVE_MAX_LAYERS);
        goto out;
    }
    const struct import_entry *ce = lookup(a, config_file ? config_file : "");
    if (!ce) {
        _cleanup_free_ char *q =
            go_quote(config_file ? config_file : "", config_file ? strlen(config_file) : 0);
        r = err_make(err, ERR_NOT_FOUND, 0, "image config %s", q);
        goto out;
    }
    config.media_type = xstrdup(ARCHIVE_MEDIA_TYPE_DOCKER_CONFIG);
    config.digest = xstrdup(ce->digest);
    config.size = ce->size;
    layers = xcalloc(n_files ? n_files : 1, sizeof(*layers));
    for (size_t i = 0; r == 0 && i < n_files; i++)
        r = resolve_layer(a, sink, files[i], compress, &layers[i], err);
    if (r < 0)
        goto out;
    manifest = docker_manifest_json(&config, layers, n_files, &manifest_len);
    r = import_write_json_blob(sink, manifest, manifest_len, ARCHIVE_MEDIA_TYPE_DOCKER_MANIFEST,
                               &desc, err);
    if (r < 0) {
        err_wrap(err, "write docker manifest");
        goto out;
    }
    r = config_platform(sink, &config, &platform, err);
    if (r < 0)
        goto out;
    desc.platform = xmemdup(&platform, sizeof(platform));
    memset(&platform, 0, sizeof(platform));
    if (n_tags == 0)
        archive_descriptor_write_json(index, &desc);
    for (size_t i = 0; i < n_tags; i++) {
        _cleanup_free_ char *normalized = NULL;
        if (reference_normalize(tags[i], &normalized, err) < 0) {
            _cleanup_free_ char *q = go_quote(tags[i], strlen(tags[i]));
            r = err_wrap(err, "normalize image ref %s", q);
            goto out;
        }
        struct archive_descriptor tagged = {0};
        archive_descriptor_copy(&tagged, &desc);
        struct reference_spec spec = {0};
        const char *ref_name = normalized;
        struct berth_error *spec_err = NULL;
        if (reference_spec_parse(normalized, &spec, &spec_err) == 0)
            ref_name = spec.object;
        err_free(spec_err);
        tagged.n_annotations = archive_kv_set(&tagged.annotations, tagged.n_annotations,
                                              ARCHIVE_ANNOTATION_IMAGE_NAME, normalized);
        tagged.n_annotations = archive_kv_set(&tagged.annotations, tagged.n_annotations,
                                              ARCHIVE_ANNOTATION_REF_NAME, ref_name);
        reference_spec_clear(&spec);
        archive_descriptor_write_json(index, &tagged);
        archive_descriptor_clear(&tagged);
    }
out:
    archive_strv_free(tags, n_tags);
    archive_strv_free(files, n_files);
    archive_descriptors_free(layers, n_files);
    archive_descriptor_clear(&config);
    archive_descriptor_clear(&desc);
    archive_platform_clear(&platform);
    return r;
}

int import_docker_index(const struct import_archive *a, const struct import_sink *sink,
                        bool compress, struct archive_descriptor *ret, struct berth_error **err)
{
    for (size_t i = 0; i < a->n_symlinks; i++)
        if (!import_archive_find(a, a->symlinks[i].target)) {
            _cleanup_free_ char *qn = go_quote(a->symlinks[i].name, strlen(a->symlinks[i].name));
            _cleanup_free_ char *qt =
                go_quote(a->symlinks[i].target, strlen(a->symlinks[i].target));
            return err_make(err, ERR_NOT_FOUND, 0, "no target for symlink layer from %s to %s", qn,
                            qt);
        }
    /* Go marshals the index's nil manifest slice as null when manifest.json lists nothing. */
    size_t n = json_object_array_length(a->docker_manifests);
    if (n > ARCHIVE_MAX_IMAGES)
        return err_make(err, ERR_RESOURCE_EXHAUSTED, 0,
                        "manifest.json lists %zu images (more than %d)", n, ARCHIVE_MAX_IMAGES);
    _cleanup_json_writer_ struct json_writer w;
    json_writer_init(&w);
    json_writer_begin_object(&w);
    json_writer_key(&w, "schemaVersion");
    json_writer_int(&w, 2);
    json_writer_key(&w, "manifests");
    if (n == 0)
        json_writer_null(&w);
    else
        json_writer_begin_array(&w);
    for (size_t i = 0; i < n; i++)
        if (docker_image(a, sink, json_object_array_get_idx(a->docker_manifests, i), compress, &w,
                         err) < 0)
            return -1;
    if (n > 0)
        json_writer_end_array(&w);
    json_writer_end_object(&w);
    size_t len = 0;
    _cleanup_free_ char *index = json_writer_steal(&w, &len);
    return import_write_json_blob(sink, index, len, ARCHIVE_MEDIA_TYPE_OCI_INDEX, ret, err);
}
