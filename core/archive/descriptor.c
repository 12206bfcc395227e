/* Descriptors, media types and the Go-compatible JSON decoding the archive code relies on. */
#include "core/archive/archive-internal.h"
#include "lib/base/alloc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- key/value arrays ---- */

void archive_kv_free(struct archive_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

const char *archive_kv_get(const struct archive_kv *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].key, key) == 0)
            return kv[i].value;
    return NULL;
}

size_t archive_kv_set(struct archive_kv **kv, size_t n, const char *key, const char *value)
{
    size_t i = 0;
    while (i < n && strcmp((*kv)[i].key, key) < 0)
        i++;
    if (i < n && strcmp((*kv)[i].key, key) == 0) {
        free((*kv)[i].value);
        (*kv)[i].value = xstrdup(value);
        return n;
    }
    *kv = xrealloc(*kv, (n + 1) * sizeof(**kv));
    memmove(*kv + i + 1, *kv + i, (n - i) * sizeof(**kv));
    (*kv)[i].key = xstrdup(key);
    (*kv)[i].value = xstrdup(value);
    return n + 1;
}

static struct archive_kv *kv_copy(const struct archive_kv *kv, size_t n)
{
    if (n == 0)
        return NULL;
    struct archive_kv *out = xcalloc(n, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        out[i].key = xstrdup(kv[i].key);
        out[i].value = xstrdup(kv[i].value);
    }
    return out;
}

void archive_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- lifetimes ---- */

void archive_platform_clear(struct archive_platform *p)
{
    free(p->architecture);
    free(p->os);
    free(p->os_version);
    archive_strv_free(p->os_features, p->n_os_features);
    free(p->variant);
    memset(p, 0, sizeof(*p));
}

static char *strdup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void archive_platform_copy(struct archive_platform *dst, const struct archive_platform *src)
{
    dst->architecture = strdup_or_null(src->architecture);
    dst->os = strdup_or_null(src->os);
    dst->os_version = strdup_or_null(src->os_version);
    dst->variant = strdup_or_null(src->variant);
    dst->n_os_features = src->n_os_features;
    dst->os_features = src->n_os_features ? xcalloc(src->n_os_features, sizeof(char *)) : NULL;
    for (size_t i = 0; i < src->n_os_features; i++)
        dst->os_features[i] = xstrdup(src->os_features[i]);
}

void archive_descriptor_clear(struct archive_descriptor *d)
{
    free(d->media_type);
    free(d->digest);
    archive_kv_free(d->annotations, d->n_annotations);
    if (d->platform) {
        archive_platform_clear(d->platform);
        free(d->platform);
    }
    memset(d, 0, sizeof(*d));
}

void archive_descriptor_copy(struct archive_descriptor *dst, const struct archive_descriptor *src)
{
    dst->media_type = strdup_or_null(src->media_type);
    dst->digest = strdup_or_null(src->digest);
    dst->size = src->size;
    dst->annotations = kv_copy(src->annotations, src->n_annotations);
    dst->n_annotations = src->n_annotations;
    dst->platform = NULL;
    if (src->platform) {
        dst->platform = xcalloc(1, sizeof(*dst->platform));
        archive_platform_copy(dst->platform, src->platform);
    }
}

void archive_descriptors_free(struct archive_descriptor *d, size_t n)
{
    if (!d)
        return;
    for (size_t i = 0; i < n; i++)
        archive_descriptor_clear(&d[i]);
    free(d);
}

void archive_image_clear(struct archive_image *image)
{
    free(image->name);
    archive_descriptor_clear(&image->target);
    archive_kv_free(image->labels, image->n_labels);
    memset(image, 0, sizeof(*image));
}

void archive_images_free(struct archive_image *images, size_t n)
{
    for (size_t i = 0; i < n; i++)
        archive_image_clear(&images[i]);
    free(images);
}

/* ---- media types ---- */

bool archive_media_type_is_manifest(const char *mt)
{
    return mt && (strcmp(mt, ARCHIVE_MEDIA_TYPE_DOCKER_MANIFEST) == 0 ||
                  strcmp(mt, ARCHIVE_MEDIA_TYPE_OCI_MANIFEST) == 0);
}

bool archive_media_type_is_index(const char *mt)
{
    return mt && (strcmp(mt, ARCHIVE_MEDIA_TYPE_OCI_INDEX) == 0 ||
                  strcmp(mt, ARCHIVE_MEDIA_TYPE_DOCKER_MANIFEST_LIST) == 0);
}

bool archive_media_type_is_config(const char *mt)
{
    return mt && (strcmp(mt, ARCHIVE_MEDIA_TYPE_DOCKER_CONFIG) == 0 ||
                  strcmp(mt, ARCHIVE_MEDIA_TYPE_OCI_CONFIG) == 0);
}

static bool is_known_config(const char *mt)
{
    return archive_media_type_is_config(mt) ||
           strcmp(mt, "application/vnd.containerd.container.criu.checkpoint.criu.tar") == 0 ||
           strcmp(mt, "application/vnd.containerd.container.checkpoint.config.v1+proto") == 0;
}

bool archive_media_type_is_layer(const char *mt)
{
    static const char *const docker_layers[] = {
        ARCHIVE_MEDIA_TYPE_DOCKER_LAYER,
        ARCHIVE_MEDIA_TYPE_DOCKER_LAYER_GZIP,
        "application/vnd.docker.image.rootfs.foreign.diff.tar",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.diff.tar.zstd",
    };
    if (!mt)
        return false;
    if (strncmp(mt, "application/vnd.oci.image.layer.", 32) == 0)
        return true;
    size_t base = strcspn(mt, "+");
    for (size_t i = 0; i < ARRAY_SIZE(docker_layers); i++)
        if (strlen(docker_layers[i]) == base && strncmp(mt, docker_layers[i], base) == 0)
            return true;
    return false;
}

bool archive_media_type_is_non_distributable(const char *mt)
{
    return mt && (strncmp(mt, "application/vnd.oci.image.layer.nondistributable.", 49) == 0 ||
                  strncmp(mt, "application/vnd.docker.image.rootfs.foreign.", 44) == 0);
}

const char *archive_child_gc_label(const char *mt)
{
    if (mt && is_known_config(mt))
        return "containerd.io/gc.ref.content.config";
    if (archive_media_type_is_manifest(mt))
        return "containerd.io/gc.ref.content.m.";
    if (archive_media_type_is_layer(mt))
        return "containerd.io/gc.ref.content.l.";
    return "containerd.io/gc.ref.content.";
}

/* ---- JSON ---- */

int archive_json_parse(const char *data, size_t len, bool allow_trailing, struct json_object **ret,
                       struct berth_error **err)
{
    if (len > ARCHIVE_JSON_MAX)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "json document of %zu bytes is over %d", len,
                        ARCHIVE_JSON_MAX);
    if (len > INT32_MAX)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "json document too large");
    struct json_tokener *tok = json_tokener_new_ex(ARCHIVE_JSON_DEPTH);
    if (!tok)
        return err_make(err, ERR_RESOURCE_EXHAUSTED, 0, "json parser");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *obj = json_tokener_parse_ex(tok, data, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (jerr == json_tokener_continue && !obj)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "json: unexpected end of input");
    if (jerr != json_tokener_success && !(jerr == json_tokener_continue && obj)) {
        json_object_put(obj);
        if (jerr == json_tokener_error_depth)
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "json: nested deeper than %d levels",
                            ARCHIVE_JSON_DEPTH);
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "json: %s at offset %zu",
                        json_tokener_error_desc(jerr), used);
    }
    if (!allow_trailing) {
        for (size_t i = used; i < len; i++) {
            if (data[i] != ' ' && data[i] != '\t' && data[i] != '\n' && data[i] != '\r') {
                json_object_put(obj);
                return err_make(err, ERR_INVALID_ARGUMENT, 0,
                                "json: invalid character after top-level value");
            }
        }
    }
    *ret = obj;
    return 0;
}

static struct json_object *member(struct json_object *obj, const char *key, bool *ret_found)
{
    struct json_object *found = NULL;
    *ret_found = false;
    if (!obj || !json_object_is_type(obj, json_type_object))
        return NULL;
    json_object_object_foreach(obj, k, v)
    {
        if (strcasecmp(k, key) == 0) {
            found = v;
            *ret_found = true;
        }
    }
    return found;
}

struct json_object *archive_json_member(struct json_object *obj, const char *key)
{
    bool found;
    return member(obj, key, &found);
}

bool archive_json_has_member(struct json_object *obj, const char *key)
{
    bool found;
    member(obj, key, &found);
    return found;
}

static const char *go_json_type(struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_boolean:
        return "bool";
    case json_type_double:
    case json_type_int:
        return "number";
    case json_type_string:
        return "string";
    case json_type_array:
        return "array";
    case json_type_object:
        return "object";
    default:
        return "null";
    }
}

static int type_error(struct berth_error **err, struct json_object *v, const char *where,
                      const char *go_type)
{
    return err_make(err, ERR_INVALID_ARGUMENT, 0,
                    "json: cannot unmarshal %s into Go struct field %s of type %s", go_json_type(v),
                    where, go_type);
}

static int string_value(struct json_object *v, const char *where, char **ret,
                        struct berth_error **err)
{
    if (!json_object_is_type(v, json_type_string))
        return type_error(err, v, where, "string");
    const char *s = json_object_get_string(v);
    size_t n = (size_t)json_object_get_string_len(v);
    if (strlen(s) != n)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "json: %s holds a NUL character", where);
    *ret = xstrdup(s);
    return 0;
}

int archive_json_string(struct json_object *obj, const char *key, const char *where, char **ret,
                        struct berth_error **err)
{
    *ret = NULL;
    struct json_object *v = archive_json_member(obj, key);
    if (!v)
        return 0;
    return string_value(v, where, ret, err);
}

int archive_json_int64(struct json_object *obj, const char *key, const char *where, int64_t *ret,
                       struct berth_error **err)
{
    *ret = 0;
    struct json_object *v = archive_json_member(obj, key);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return type_error(err, v, where, "int64");
    *ret = json_object_get_int64(v);
    return 0;
}

int archive_json_string_array(struct json_object *obj, const char *key, const char *where,
                              char ***ret, size_t *ret_n, struct berth_error **err)
{
    *ret = NULL;
    *ret_n = 0;
    struct json_object *v = archive_json_member(obj, key);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_array))
        return type_error(err, v, where, "[]string");
    size_t n = json_object_array_length(v);
    char **out = xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        struct json_object *item = json_object_array_get_idx(v, i);
        if (!item) {
            out[i] = xstrdup(""); /* null in a []string is "" in Go */
            continue;
        }
        if (string_value(item, where, &out[i], err) < 0) {
            archive_strv_free(out, i);
            return -1;
        }
    }
    *ret = out;
    *ret_n = n;
    return 0;
}

int archive_json_string_map(struct json_object *obj, const char *key, const char *where,
                            struct archive_kv **ret, size_t *ret_n, struct berth_error **err)
{
    *ret = NULL;
    *ret_n = 0;
    struct json_object *v = archive_json_member(obj, key);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_object))
        return type_error(err, v, where, "map[string]string");
    struct archive_kv *kv = NULL;
    size_t n = 0;
    json_object_object_foreach(v, k, item)
    {
        _cleanup_free_ char *value = NULL;
        if (item && string_value(item, where, &value, err) < 0) {
            archive_kv_free(kv, n);
            return -1;
        }
        n = archive_kv_set(&kv, n, k, value ? value : "");
    }
    *ret = kv;
    *ret_n = n;
    return 0;
}

int archive_platform_from_json(struct json_object *obj, struct archive_platform *ret,
                               struct berth_error **err)
{
    struct archive_platform p = {0};
    if (obj && !json_object_is_type(obj, json_type_object))
        return type_error(err, obj, "Platform", "v1.Platform");
    if (archive_json_string(obj, "architecture", "Platform.architecture", &p.architecture, err) <
            0 ||
        archive_json_string(obj, "os", "Platform.os", &p.os, err) < 0 ||
        archive_json_string(obj, "os.version", "Platform.os.version", &p.os_version, err) < 0 ||
        archive_json_string_array(obj, "os.features", "Platform.os.features", &p.os_features,
                                  &p.n_os_features, err) < 0 ||
        archive_json_string(obj, "variant", "Platform.variant", &p.variant, err) < 0) {
        archive_platform_clear(&p);
        return -1;
    }
    if (!p.architecture)
        p.architecture = xstrdup("");
    if (!p.os)
        p.os = xstrdup("");
    if (p.os_version && !*p.os_version) {
        free(p.os_version);
        p.os_version = NULL;
    }
    if (p.variant && !*p.variant) {
        free(p.variant);
        p.variant = NULL;
    }
    *ret = p;
    return 0;
}

int archive_descriptor_from_json(struct json_object *obj, struct archive_descriptor *ret,
                                 struct berth_error **err)
{
    struct archive_descriptor d = {0};
    if (obj && !json_object_is_type(obj, json_type_object))
        return type_error(err, obj, "Descriptor", "v1.Descriptor");
    _cleanup_free_ char *artifact = NULL;
    _cleanup_free_ char *data = NULL;
    char **urls = NULL;
    size_t n_urls = 0;
    if (archive_json_string(obj, "mediaType", "Descriptor.mediaType", &d.media_type, err) < 0 ||
        archive_json_string(obj, "digest", "Descriptor.digest", &d.digest, err) < 0 ||
        archive_json_int64(obj, "size", "Descriptor.size", &d.size, err) < 0 ||
        archive_json_string_array(obj, "urls", "Descriptor.urls", &urls, &n_urls, err) < 0 ||
        archive_json_string_map(obj, "annotations", "Descriptor.annotations", &d.annotations,
                                &d.n_annotations, err) < 0 ||
        archive_json_string(obj, "data", "Descriptor.data", &data, err) < 0 ||
        archive_json_string(obj, "artifactType", "Descriptor.artifactType", &artifact, err) < 0)
        goto fail;
    archive_strv_free(urls, n_urls);
    struct json_object *platform = archive_json_member(obj, "platform");
    if (platform) {
        d.platform = xcalloc(1, sizeof(*d.platform));
        if (archive_platform_from_json(platform, d.platform, err) < 0)
            goto fail;
    }
    if (!d.media_type)
        d.media_type = xstrdup("");
    if (!d.digest)
        d.digest = xstrdup("");
    *ret = d;
    return 0;
fail:
    archive_descriptor_clear(&d);
    return -1;
}

static void platform_write_json(struct json_writer *w, const struct archive_platform *p)
{
    json_writer_begin_object(w);
    json_writer_key(w, "architecture");
    json_writer_string(w, p->architecture ? p->architecture : "");
    json_writer_key(w, "os");
    json_writer_string(w, p->os ? p->os : "");
    if (p->os_version && *p->os_version) {
        json_writer_key(w, "os.version");
        json_writer_string(w, p->os_version);
    }
    if (p->n_os_features) {
        json_writer_key(w, "os.features");
        json_writer_begin_array(w);
        for (size_t i = 0; i < p->n_os_features; i++)
            json_writer_string(w, p->os_features[i]);
        json_writer_end_array(w);
    }
    if (p->variant && *p->variant) {
        json_writer_key(w, "variant");
        json_writer_string(w, p->variant);
    }
    json_writer_end_object(w);
}

void archive_descriptor_write_json(struct json_writer *w, const struct archive_descriptor *d)
{
    json_writer_begin_object(w);
    json_writer_key(w, "mediaType");
    json_writer_string(w, d->media_type ? d->media_type : "");
    json_writer_key(w, "digest");
    json_writer_string(w, d->digest ? d->digest : "");
    json_writer_key(w, "size");
    json_writer_int(w, d->size);
    if (d->n_annotations) {
        /* Go writes map keys sorted; the array is kept sorted by key. */
        json_writer_key(w, "annotations");
        json_writer_begin_object(w);
        for (size_t i = 0; i < d->n_annotations; i++) {
            json_writer_key(w, d->annotations[i].key);
            json_writer_string(w, d->annotations[i].value);
        }
        json_writer_end_object(w);
    }
    if (d->platform) {
        json_writer_key(w, "platform");
        platform_write_json(w, d->platform);
    }
    json_writer_end_object(w);
}

static int descriptor_array(struct json_object *obj, const char *key, const char *where,
                            struct archive_descriptor **ret, size_t *ret_n,
                            struct berth_error **err)
{
    *ret = NULL;
    *ret_n = 0;
    struct json_object *v = archive_json_member(obj, key);
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_array))
        return type_error(err, v, where, "[]v1.Descriptor");
    size_t n = json_object_array_length(v);
    struct archive_descriptor *out = xcalloc(n ? n : 1, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        if (archive_descriptor_from_json(json_object_array_get_idx(v, i), &out[i], err) < 0) {
            archive_descriptors_free(out, i);
            return -1;
        }
    }
    *ret = out;
    *ret_n = n;
    return 0;
}

/* validateMediaType: the document must be what its descriptor says it is. */
static int validate_media_type(struct json_object *doc, const char *mt, struct berth_error **err)
{
    _cleanup_free_ char *doc_type = NULL;
    if (!json_object_is_type(doc, json_type_object) && !json_object_is_type(doc, json_type_null))
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "json: cannot unmarshal %s into Go value of type images.unknownDocument",
                        go_json_type(doc));
    if (archive_json_string(doc, "mediaType", "unknownDocument.mediaType", &doc_type, err) < 0)
        return -1;
    if (archive_json_has_member(doc, "fsLayers"))
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "media-type: schema 1 not supported");
    if (archive_media_type_is_manifest(mt) &&
        (archive_json_has_member(doc, "manifests") || archive_media_type_is_index(doc_type)))
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "media-type: expected manifest but found index (%s)", mt);
    if (archive_media_type_is_index(mt) &&
        (archive_json_has_member(doc, "config") || archive_json_has_member(doc, "layers") ||
         archive_media_type_is_manifest(doc_type)))
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "media-type: expected index but found manifest (%s)", mt);
    return 0;
}

int archive_children(const char *data, size_t len, const char *mt, struct archive_descriptor **ret,
                     size_t *ret_n, struct berth_error **err)
{
    *ret = NULL;
    *ret_n = 0;
    bool manifest = archive_media_type_is_manifest(mt);
    if (!manifest && !archive_media_type_is_index(mt))
        return 0;
    struct json_object *doc = NULL;
    if (archive_json_parse(data, len, false, &doc, err) < 0)
        return -1;
    int r = validate_media_type(doc, mt, err);
    if (r == 0 && manifest) {
        struct archive_descriptor config = {0};
        struct archive_descriptor *layers = NULL;
        size_t n_layers = 0;
        r = archive_descriptor_from_json(archive_json_member(doc, "config"), &config, err);
        if (r == 0)
            r = descriptor_array(doc, "layers", "Manifest.layers", &layers, &n_layers, err);
        if (r == 0) {
            struct archive_descriptor *all = xcalloc(n_layers + 1, sizeof(*all));
            all[0] = config;
            if (n_layers)
                memcpy(all + 1, layers, n_layers * sizeof(*layers));
            free(layers);
            *ret = all;
            *ret_n = n_layers + 1;
        } else {
            archive_descriptor_clear(&config);
        }
    } else if (r == 0) {
        r = descriptor_array(doc, "manifests", "Index.manifests", ret, ret_n, err);
    }
    json_object_put(doc);
    return r;
}

int archive_blob_read_all(archive_blob_read_fn read, void *arg, const char *digest, int64_t size,
                          size_t max, char **ret, size_t *ret_len, struct berth_error **err)
{
    if (size < 0 || (uint64_t)size > max)
        return err_make(err, ERR_RESOURCE_EXHAUSTED, 0, "blob %s: %lld bytes is over %zu", digest,
                        (long long)size, max);
    _cleanup_free_ char *buf = xmalloc((size_t)size + 1);
    size_t got = 0;
    while (got < (size_t)size) {
        ssize_t n = read(arg, digest, (int64_t)got, buf + got, (size_t)size - got, err);
        if (n < 0)
            return -1;
        if (n == 0)
            return err_make(err, ERR_DATA_LOSS, 0, "blob %s: unexpected end after %zu of %lld",
                            digest, got, (long long)size);
        got += (size_t)n;
    }
    buf[got] = '\0';
    *ret = steal_ptr(buf);
    *ret_len = got;
    return 0;
}
