/* archive_export: an OCI layout tarball laid out and encoded as containerd's exporter does. */
#include "core/archive/archive-internal.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/digest/digest.h"
#include "lib/reference/reference.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (128 * 1024)

/* One tar entry: a directory, JSON made here, or a stored blob. */
struct record {
    char *name;
    char typeflag;
    unsigned mode;
    int64_t size;
    char *data;   /* owned content, or NULL */
    char *digest; /* blob to copy, or NULL */
};

/* A manifest that gets a manifest.json entry, and the names it is exported under. */
struct docker_entry {
    struct archive_descriptor manifest;
    char **names;
    size_t n_names;
};

struct export
{
    const struct export_options *options;
    const struct export_source *source;
    struct platform_matcher matcher;
    struct record *records;
    size_t n_records, records_capacity;
    char **algorithms;
    size_t n_algorithms;
    struct docker_entry *docker;
    size_t n_docker;
    size_t nodes;
};

static void add_record(struct export *x, const char *name, char typeflag, unsigned mode,
                       int64_t size, char *data, const char *digest)
{
    x->records =
        xreallocarray_grow(x->records, &x->records_capacity, x->n_records + 1, sizeof(*x->records));
    struct record *r = &x->records[x->n_records++];
    r->name = xstrdup(name);
    r->typeflag = typeflag;
    r->mode = mode;
    r->size = size;
    r->data = data;
    r->digest = digest ? xstrdup(digest) : NULL;
}

static char *blob_path(const char *digest)
{
    const char *colon = strchr(digest, ':');
    return xasprintf("blobs/%.*s/%s", (int)(colon - digest), digest, colon + 1);
}

/* blobRecord: a 0444 file at blobs/<alg>/<hex>, unless filtered out. */
static void add_blob_record(struct export *x, const struct archive_descriptor *d)
{
    if (x->options->skip_non_distributable &&
        archive_media_type_is_non_distributable(d->media_type))
        return;
    _cleanup_free_ char *name = blob_path(d->digest);
    add_record(x, name, '0', 0444, d->size, NULL, d->digest);
}

static void add_algorithm(struct export *x, const char *digest)
{
    size_t len = strcspn(digest, ":");
    for (size_t i = 0; i < x->n_algorithms; i++)
        if (strlen(x->algorithms[i]) == len && strncmp(x->algorithms[i], digest, len) == 0)
            return;
    x->algorithms = xrealloc(x->algorithms, (x->n_algorithms + 1) * sizeof(char *));
    x->algorithms[x->n_algorithms++] = xstrndup(digest, len);
}

static int read_blob(struct export *x, const struct archive_descriptor *d, char **ret,
                     size_t *ret_len, struct berth_error **err)
{
    return archive_blob_read_all(x->source->blob_read_at, x->source->arg, d->digest, d->size,
                                 ARCHIVE_JSON_MAX, ret, ret_len, err);
}

/* getRecords: the descriptor and everything below it, every platform. */
static int get_records(struct export *x, const struct archive_descriptor *d, int depth,
                       struct berth_error **err)
{
    if (depth > ARCHIVE_MAX_WALK_DEPTH || ++x->nodes > ARCHIVE_MAX_WALK_NODES)
        return err_make(err, ERR_RESOURCE_EXHAUSTED, 0, "image %s is nested too deep or wide",
                        d->digest);
    if (digest_validate(d->digest, err) < 0)
        return -1;
    struct archive_descriptor *children = NULL;
    size_t n = 0;
    if (archive_media_type_is_manifest(d->media_type) ||
        archive_media_type_is_index(d->media_type)) {
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        if (read_blob(x, d, &data, &len, err) < 0 ||
            archive_children(data, len, d->media_type, &children, &n, err) < 0)
            return err_wrap(err, "%s", d->digest);
    }
    add_blob_record(x, d);
    add_algorithm(x, d->digest);
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++)
        r = get_records(x, &children[i], depth + 1, err);
    archive_descriptors_free(children, n);
    return r;
}

static struct docker_entry *docker_find(struct export *x, const char *digest)
{
    for (size_t i = 0; i < x->n_docker; i++)
        if (strcmp(x->docker[i].manifest.digest, digest) == 0)
            return &x->docker[i];
    return NULL;
}

/* dManifests[digest] = a fresh entry (replacing any earlier one, as containerd's map does). */
static struct docker_entry *docker_set(struct export *x, const struct archive_descriptor *m)
{
    struct docker_entry *e = docker_find(x, m->digest);
    if (e) {
        archive_descriptor_clear(&e->manifest);
        archive_strv_free(e->names, e->n_names);
    } else {
        x->docker = xrealloc(x->docker, (x->n_docker + 1) * sizeof(*x->docker));
        e = &x->docker[x->n_docker++];
    }
    memset(e, 0, sizeof(*e));
    archive_descriptor_copy(&e->manifest, m);
    return e;
}

static void docker_add_name(struct docker_entry *e, const char *name)
{
    e->names = xrealloc(e->names, (e->n_names + 1) * sizeof(char *));
    e->names[e->n_names++] = xstrdup(name);
}

/* An index: its blob, its matching (or all) manifests' records, the best match for Docker. */
static int export_index(struct export *x, const struct archive_descriptor *d, char **ret_chosen,
                        struct berth_error **err)
{
    if (digest_validate(d->digest, err) < 0)
        return -1;
    add_blob_record(x, d);
    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    struct json_object *doc = NULL;
    if (read_blob(x, d, &data, &len, err) < 0 ||
        archive_json_parse(data, len, false, &doc, err) < 0)
        return err_wrap(err, "%s", d->digest);
    struct json_object *list = archive_json_member(doc, "manifests");
    size_t n =
        list && json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    struct archive_descriptor *matching = xcalloc(n ? n : 1, sizeof(*matching));
    size_t n_matching = 0;
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        struct archive_descriptor m = {0};
        r = archive_descriptor_from_json(json_object_array_get_idx(list, i), &m, err);
        if (r < 0)
            break;
        bool match = !m.platform || platform_matcher_match(&x->matcher, m.platform);
        if (match || x->options->all_platforms)
            r = get_records(x, &m, 1, err);
        if (match && r == 0)
            matching[n_matching++] = m;
        else
            archive_descriptor_clear(&m);
    }
    json_object_put(doc);
    if (r == 0 && n_matching == 0)
        r = err_make(err, ERR_NOT_FOUND, 0, "no manifest found for platform");
    if (r == 0) {
        platform_matcher_sort(&x->matcher, matching, n_matching);
        docker_set(x, &matching[0]);
        *ret_chosen = xstrdup(matching[0].digest);
    }
    archive_descriptors_free(matching, n_matching);
    return r;
}

/* The index.json entry for an image: its target, named, with distribution-source labels. */
static int image_descriptor(struct export *x, const char *name, struct archive_descriptor *ret,
                            bool *ret_skip, struct berth_error **err)
{
    struct archive_image img = {0};
    if (x->source->image_get(x->source->arg, name, &img, err) < 0)
        return -1;
    *ret = img.target;
    memset(&img.target, 0, sizeof(img.target));
    archive_image_clear(&img);
    /* containerd's image records keep no platform, so index.json entries never carry one. */
    if (ret->platform) {
        archive_platform_clear(ret->platform);
        free(ret->platform);
        ret->platform = NULL;
    }

    struct reference_spec spec = {0};
    struct berth_error *spec_err = NULL;
    const char *ref_name = name;
    if (reference_spec_parse(name, &spec, &spec_err) == 0)
        ref_name = spec.object;
    err_free(spec_err);
    ret->n_annotations =
        archive_kv_set(&ret->annotations, ret->n_annotations, ARCHIVE_ANNOTATION_IMAGE_NAME, name);
    ret->n_annotations = archive_kv_set(&ret->annotations, ret->n_annotations,
                                        ARCHIVE_ANNOTATION_REF_NAME, ref_name);
    reference_spec_clear(&spec);

    struct archive_kv *labels = NULL;
    size_t n_labels = 0;
    int64_t size = 0;
    struct berth_error *info_err = NULL;
    *ret_skip = false;
    if (x->source->blob_info(x->source->arg, ret->digest, &size, &labels, &n_labels, &info_err) <
        0) {
        /* containerd warns and leaves the image out. */
        log_warn("failed to copy distribution.source labels of %s: %s", name,
                 info_err ? info_err->message : "unknown error");
        err_free(info_err);
        *ret_skip = true;
        return 0;
    }
    size_t plen = strlen(ARCHIVE_LABEL_DISTRIBUTION_SOURCE);
    for (size_t i = 0; i < n_labels; i++)
        if (strncmp(labels[i].key, ARCHIVE_LABEL_DISTRIBUTION_SOURCE, plen) == 0)
            ret->n_annotations = archive_kv_set(&ret->annotations, ret->n_annotations,
                                                labels[i].key, labels[i].value);
    archive_kv_free(labels, n_labels);
    return 0;
}

static char *index_json(const struct archive_descriptor *manifests, size_t n, size_t *len)
{
    _cleanup_json_writer_ struct json_writer w;
    json_writer_init(&w);
    json_writer_begin_object(&w);
    json_writer_key(&w, "schemaVersion");
    json_writer_int(&w, 2);
    json_writer_key(&w, "mediaType");
    json_writer_string(&w, ARCHIVE_MEDIA_TYPE_OCI_INDEX);
    json_writer_key(&w, "manifests");
    json_writer_begin_array(&w);
    for (size_t i = 0; i < n; i++)
        archive_descriptor_write_json(&w, &manifests[i]);
    json_writer_end_array(&w);
    json_writer_end_object(&w);
    return json_writer_steal(&w, len);
}

/* manifestsRecord: [{"Config","RepoTags","Layers"}] for docker load. */
static int manifest_json(struct export *x, char **ret, size_t *ret_len, struct berth_error **err)
{
    _cleanup_json_writer_ struct json_writer w;
    json_writer_init(&w);
    json_writer_begin_array(&w);
    for (size_t i = 0; i < x->n_docker; i++) {
        struct docker_entry *e = &x->docker[i];
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        struct archive_descriptor *children = NULL;
        size_t n = 0;
        /* Decoded as a plain ocispec.Manifest: config first, then the layers. */
        if (read_blob(x, &e->manifest, &data, &len, err) < 0 ||
            archive_children(data, len, ARCHIVE_MEDIA_TYPE_OCI_MANIFEST, &children, &n, err) < 0)
            return -1;
        int r = digest_validate(children[0].digest, err);
        if (r == 0) {
            _cleanup_free_ char *config = blob_path(children[0].digest);
            json_writer_begin_object(&w);
            json_writer_key(&w, "Config");
            json_writer_string(&w, config);
            json_writer_key(&w, "RepoTags");
            if (e->n_names == 0)
                json_writer_null(&w);
            else
                json_writer_begin_array(&w);
        }
        for (size_t j = 0; r == 0 && j < e->n_names; j++) {
            _cleanup_free_ char *familiar = NULL;
            if (reference_familiarize(e->names[j], &familiar, err) < 0)
                r = err_wrap(err, "failed to parse \"%s\"", e->names[j]);
            else
                json_writer_string(&w, familiar);
        }
        if (r == 0) {
            if (e->n_names)
                json_writer_end_array(&w);
            json_writer_key(&w, "Layers");
            if (n == 1)
                json_writer_null(&w);
            else
                json_writer_begin_array(&w);
            for (size_t j = 1; j < n; j++) {
                _cleanup_free_ char *path = blob_path(children[j].digest);
                json_writer_string(&w, path);
            }
            if (n > 1)
                json_writer_end_array(&w);
            json_writer_end_object(&w);
        }
        archive_descriptors_free(children, n);
        if (r < 0)
            return -1;
    }
    json_writer_end_array(&w);
    *ret = json_writer_steal(&w, ret_len);
    return 0;
}

static int compare_records(const void *a, const void *b)
{
    return strcmp(((const struct record *)a)->name, ((const struct record *)b)->name);
}

/* Copies a blob into the tar, checking its digest and size as it goes. */
static int copy_blob(struct export *x, const struct record *rec, archive_write_fn write, void *arg,
                     struct berth_error **err)
{
    enum digest_algorithm alg;
    if (digest_parse(rec->digest, &alg, NULL, err) < 0)
        return -1;
    _cleanup_digester_ struct digester *dg = NULL;
    if (digester_new(alg, &dg, err) < 0)
        return -1;
    _cleanup_free_ char *buf = xmalloc(CHUNK);
    int64_t off = 0;
    while (off < rec->size) {
        size_t want = rec->size - off < CHUNK ? (size_t)(rec->size - off) : CHUNK;
        ssize_t n = x->source->blob_read_at(x->source->arg, rec->digest, off, buf, want, err);
        if (n < 0)
            return err_wrap(err, "failed to get reader");
        if (n == 0)
            return err_make(err, ERR_DATA_LOSS, 0, "unexpected copy size for %s", rec->name);
        digester_update(dg, buf, (size_t)n);
        if (write(arg, buf, (size_t)n, err) < 0)
            return -1;
        off += n;
    }
    char got[DIGEST_STRING_SIZE];
    if (digester_digest(dg, got, err) < 0)
        return -1;
    if (strcmp(got, rec->digest) != 0)
        return err_make(err, ERR_DATA_LOSS, 0, "unexpected digest %s copied", got);
    return archive_tar_write_padding(write, arg, rec->size, err);
}

/* Sorted by name, duplicates dropped, every blob checked before the first byte goes out. */
static int write_tar(struct export *x, archive_write_fn write, void *arg, struct berth_error **err)
{
    qsort(x->records, x->n_records, sizeof(*x->records), compare_records);
    for (size_t i = 0; i < x->n_records; i++) {
        const struct record *rec = &x->records[i];
        if (!rec->digest || (i > 0 && strcmp(rec->name, x->records[i - 1].name) == 0))
            continue;
        int64_t size = 0;
        struct archive_kv *labels = NULL;
        size_t n_labels = 0;
        if (x->source->blob_info(x->source->arg, rec->digest, &size, &labels, &n_labels, err) < 0)
            return err_wrap(err, "blob %s", rec->digest);
        archive_kv_free(labels, n_labels);
        if (size != rec->size)
            return err_make(err, ERR_FAILED_PRECONDITION, 0,
                            "blob %s: stored size %lld does not match descriptor size %lld",
                            rec->digest, (long long)size, (long long)rec->size);
    }
    for (size_t i = 0; i < x->n_records; i++) {
        const struct record *rec = &x->records[i];
        if (i > 0 && strcmp(rec->name, x->records[i - 1].name) == 0)
            continue;
        if (archive_tar_write_header(write, arg, rec->name, rec->mode, rec->size, rec->typeflag,
                                     err) < 0)
            return -1;
        if (rec->digest) {
            if (copy_blob(x, rec, write, arg, err) < 0)
                return -1;
        } else if (rec->data) {
            if (write(arg, rec->data, (size_t)rec->size, err) < 0 ||
                archive_tar_write_padding(write, arg, rec->size, err) < 0)
                return -1;
        }
    }
    return archive_tar_write_end(write, arg, err);
}

static int export_images(struct export *x, struct archive_descriptor *manifests, size_t *n,
                         struct berth_error **err)
{
    const struct export_options *o = x->options;
    for (size_t i = 0; i < o->n_names; i++) {
        bool skip = false;
        if (image_descriptor(x, o->names[i], &manifests[*n], &skip, err) < 0)
            return -1;
        if (skip)
            archive_descriptor_clear(&manifests[*n]);
        else
            (*n)++;
    }
    char **resolved_from = NULL, **resolved_to = NULL;
    size_t n_resolved = 0;
    int r = 0;
    for (size_t i = 0; r == 0 && i < *n; i++) {
        const struct archive_descriptor *d = &manifests[i];
        const char *name =
            archive_kv_get(d->annotations, d->n_annotations, ARCHIVE_ANNOTATION_IMAGE_NAME);
        if (archive_media_type_is_manifest(d->media_type)) {
            struct docker_entry *e = docker_find(x, d->digest);
            if (!e) {
                r = get_records(x, d, 0, err);
                if (r < 0)
                    break;
                e = docker_set(x, d);
            }
            if (name && *name)
                docker_add_name(e, name);
        } else if (archive_media_type_is_index(d->media_type)) {
            size_t k = 0;
            while (k < n_resolved && strcmp(resolved_from[k], d->digest) != 0)
                k++;
            if (k == n_resolved) {
                char *chosen = NULL;
                r = export_index(x, d, &chosen, err);
                if (r < 0)
                    break;
                resolved_from = xrealloc(resolved_from, (n_resolved + 1) * sizeof(char *));
                resolved_to = xrealloc(resolved_to, (n_resolved + 1) * sizeof(char *));
                resolved_from[n_resolved] = xstrdup(d->digest);
                resolved_to[n_resolved++] = chosen;
            }
            struct docker_entry *e = docker_find(x, resolved_to[k]);
            if (e && name && *name)
                docker_add_name(e, name);
        } else {
            r = err_make(err, ERR_INVALID_ARGUMENT, 0, "only manifests may be exported");
        }
    }
    archive_strv_free(resolved_from, n_resolved);
    archive_strv_free(resolved_to, n_resolved);
    return r;
}

int archive_export(archive_write_fn write, void *write_arg, const struct export_options *options,
                   const struct export_source *source, struct berth_error **err)
{
    struct export x = {.options = options, .source = source};
    if (options->n_platforms > 0) {
        platform_matcher_ordered(&x.matcher, options->platforms, options->n_platforms);
    } else {
        struct archive_platform host;
        archive_platform_default(&host);
        platform_matcher_only_strict(&x.matcher, &host);
        archive_platform_clear(&host);
    }
    add_record(&x, "oci-layout", '0', 0444, 30, xstrdup("{\"imageLayoutVersion\":\"1.0.0\"}"),
               NULL);
    struct archive_descriptor *manifests = xcalloc(options->n_names + 1, sizeof(*manifests));
    size_t n = 0;
    int r = export_images(&x, manifests, &n, err);
    if (r == 0) {
        size_t len = 0;
        char *index = index_json(manifests, n, &len);
        add_record(&x, "index.json", '0', 0644, (int64_t)len, index, NULL);
    }
    if (r == 0 && !options->skip_manifest_json && x.n_docker > 0) {
        char *data = NULL;
        size_t len = 0;
        r = manifest_json(&x, &data, &len, err);
        if (r < 0)
            err_wrap(err, "unable to create manifests file");
        else
            add_record(&x, "manifest.json", '0', 0644, (int64_t)len, data, NULL);
    }
    if (r == 0 && x.n_algorithms > 0) {
        add_record(&x, "blobs/", '5', 0755, 0, NULL, NULL);
        for (size_t i = 0; i < x.n_algorithms; i++) {
            _cleanup_free_ char *dir = xasprintf("blobs/%s/", x.algorithms[i]);
            add_record(&x, dir, '5', 0755, 0, NULL, NULL);
        }
    }
    if (r == 0)
        r = write_tar(&x, write, write_arg, err);

    archive_descriptors_free(manifests, n);
    for (size_t i = 0; i < x.n_records; i++) {
        free(x.records[i].name);
        free(x.records[i].data);
        free(x.records[i].digest);
    }
    free(x.records);
    archive_strv_free(x.algorithms, x.n_algorithms);
    for (size_t i = 0; i < x.n_docker; i++) {
        archive_descriptor_clear(&x.docker[i].manifest);
        archive_strv_free(x.docker[i].names, x.docker[i].n_names);
    }
    free(x.docker);
    platform_matcher_clear(&x.matcher);
    return r;
}

static int fd_write(void *arg, const void *data, size_t len, struct berth_error **err)
{
    int fd = *(int *)arg;
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_make(err, err_kind_from_errno(errno), errno, "write archive");
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int archive_export_fd(int fd, const struct export_options *options,
                      const struct export_source *source, struct berth_error **err)
{
    return archive_export(fd_write, &fd, options, source, err);
}
