/* archive_import: detect the format, build the index, walk it for the platforms, name images. */
#include "core/archive/archive-internal.h"
#include "lib/base/alloc.h"
#include "lib/digest/digest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void import_result_clear(struct import_result *result)
{
    archive_descriptor_clear(&result->index);
    archive_images_free(result->images, result->n_images);
    memset(result, 0, sizeof(*result));
}

/* A set of digests already walked, so shared or repeated children are read once. */
struct digest_set {
    char **slots;
    size_t capacity; /* a power of two */
    size_t count;
};

static uint64_t hash_string(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Adds s; returns false when it was there already. */
static bool digest_set_add(struct digest_set *set, const char *s)
{
    if ((set->count + 1) * 2 > set->capacity) {
        size_t cap = set->capacity ? set->capacity * 2 : 64;
        char **slots = xcalloc(cap, sizeof(char *));
        for (size_t i = 0; i < set->capacity; i++)
            if (set->slots[i])
                for (size_t j = hash_string(set->slots[i]) & (cap - 1);; j = (j + 1) & (cap - 1))
                    if (!slots[j]) {
                        slots[j] = set->slots[i];
                        break;
                    }
        free(set->slots);
        set->slots = slots;
        set->capacity = cap;
    }
    for (size_t j = hash_string(s) & (set->capacity - 1);; j = (j + 1) & (set->capacity - 1)) {
        if (!set->slots[j]) {
            set->slots[j] = xstrdup(s);
            set->count++;
            return true;
        }
        if (strcmp(set->slots[j], s) == 0)
            return false;
    }
}

static void digest_set_clear(struct digest_set *set)
{
    for (size_t i = 0; i < set->capacity; i++)
        free(set->slots[i]);
    free(set->slots);
    memset(set, 0, sizeof(*set));
}

struct walk {
    const struct import_options *options;
    const struct import_sink *sink;
    struct platform_matcher matcher;
    const char *root_digest;
    struct digest_set seen;
    size_t nodes;
    bool not_empty;
    /* The index's own entries, which name the images. */
    struct archive_descriptor *top;
    size_t n_top;
};

static const char *kind_of(const struct archive_descriptor *d)
{
    if (archive_media_type_is_index(d->media_type))
        return "index";
    if (archive_media_type_is_manifest(d->media_type))
        return "manifest";
    if (archive_media_type_is_config(d->media_type))
        return "config";
    if (archive_media_type_is_layer(d->media_type))
        return "layer";
    return "blob";
}

/* The blob must be stored with the size its descriptor gives. */
static int require_blob(struct walk *w, const struct archive_descriptor *d,
                        struct berth_error **err)
{
    const char *why = digest_check(d->digest);
    if (why)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "%s descriptor with digest \"%s\": %s",
                        kind_of(d), d->digest, why);
    int64_t size = 0;
    if (w->sink->blob_size(w->sink->arg, d->digest, &size, err) < 0)
        return err_wrap(err, "%s %s", kind_of(d), d->digest);
    if (size != d->size)
        return err_make(err, ERR_FAILED_PRECONDITION, 0,
                        "%s %s: stored size %lld does not match descriptor size %lld", kind_of(d),
                        d->digest, (long long)size, (long long)d->size);
    return 0;
}

/* The archive's index is decoded as a plain ocispec.Index, whatever it claims to be. */
static int root_children(const char *data, size_t len, struct archive_descriptor **ret,
                         size_t *ret_n, struct berth_error **err)
{
    struct json_object *doc = NULL;
    if (archive_json_parse(data, len, false, &doc, err) < 0)
        return -1;
    int r = 0;
    *ret = NULL;
    *ret_n = 0;
    if (doc && !json_object_is_type(doc, json_type_object))
        r = err_make(err, ERR_INVALID_ARGUMENT, 0,
                     "json: cannot unmarshal into Go value of type v1.Index");
    struct json_object *list = archive_json_member(doc, "manifests");
    if (r == 0 && list && !json_object_is_type(list, json_type_array))
        r = err_make(err, ERR_INVALID_ARGUMENT, 0,
                     "json: cannot unmarshal into Go struct field Index.manifests");
    size_t n = r == 0 && list ? json_object_array_length(list) : 0;
    struct archive_descriptor *out = xcalloc(n ? n : 1, sizeof(*out));
    for (size_t i = 0; r == 0 && i < n; i++)
        if (archive_descriptor_from_json(json_object_array_get_idx(list, i), &out[i], err) < 0)
            r = -1;
    json_object_put(doc);
    if (r < 0) {
        archive_descriptors_free(out, n); /* entries past the failure are still zeroed */
        return -1;
    }
    *ret = out;
    *ret_n = n;
    return 0;
}

/* SetChildrenMappedLabels: containerd.io/gc.ref.content.* labels from a parent to its children. */
static int set_child_labels(struct walk *w, const struct archive_descriptor *parent,
                            const struct archive_descriptor *children, size_t n,
                            struct berth_error **err)
{
    if (n == 0)
        return 0;
    struct archive_kv *labels = NULL;
    size_t n_labels = 0;
    const char **keys = xcalloc(n, sizeof(char *));
    size_t *counts = xcalloc(n, sizeof(size_t));
    size_t n_keys = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = archive_child_gc_label(children[i].media_type);
        size_t k = 0;
        while (k < n_keys && strcmp(keys[k], key) != 0)
            k++;
        if (k == n_keys)
            keys[n_keys++] = key;
        size_t idx = counts[k]++;
        _cleanup_free_ char *label = NULL;
        if (idx > 0 || key[strlen(key) - 1] == '.')
            label = xasprintf("%s%zu", key, idx);
        else
            label = xstrdup(key);
        n_labels = archive_kv_set(&labels, n_labels, label, children[i].digest);
    }
    free(keys);
    free(counts);
    int r = w->sink->blob_set_labels(w->sink->arg, parent->digest, labels, n_labels, err);
    archive_kv_free(labels, n_labels);
    return r;
}

/* Keeps the children a platform filter lets through; returns the new count. */
static size_t filter_children(struct walk *w, const struct archive_descriptor *parent,
                              struct archive_descriptor *c, size_t n)
{
    const struct import_options *o = w->options;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        bool keep;
        if (o->naming == IMPORT_NAMING_TRANSFER && o->all_metadata) {
            /* FilterManifestByPlatformHandler: a foreign manifest keeps only its config. */
            keep = !parent->platform || !archive_media_type_is_manifest(parent->media_type) ||
                   platform_matcher_match(&w->matcher, parent->platform) ||
                   archive_media_type_is_config(c[i].media_type);
        } else {
            keep = !c[i].platform || platform_matcher_match(&w->matcher, c[i].platform);
        }
        if (keep)
            c[kept++] = c[i];
        else
            archive_descriptor_clear(&c[i]);
    }
    return kept;
}

static int walk(struct walk *w, const struct archive_descriptor *d, int depth,
                struct berth_error **err)
{
    if (depth > ARCHIVE_MAX_WALK_DEPTH)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "%s %s: nested deeper than %d levels",
                        kind_of(d), d->digest, ARCHIVE_MAX_WALK_DEPTH);
    if (++w->nodes > ARCHIVE_MAX_WALK_NODES)
        return err_make(err, ERR_RESOURCE_EXHAUSTED, 0, "image references more than %d blobs",
                        ARCHIVE_MAX_WALK_NODES);
    bool root = strcmp(d->digest, w->root_digest) == 0;
    bool parent = root || archive_media_type_is_manifest(d->media_type) ||
                  archive_media_type_is_index(d->media_type);
    if (!parent && archive_media_type_is_non_distributable(d->media_type))
        return 0; /* may be left out of archives (--skip-non-distributable) */
    if (require_blob(w, d, err) < 0)
        return -1;
    if (!parent || !digest_set_add(&w->seen, d->digest))
        return 0;

    _cleanup_free_ char *data = NULL;
    size_t len = 0;
    struct archive_descriptor *children = NULL;
    size_t n = 0;
    if (archive_blob_read_all(w->sink->blob_read_at, w->sink->arg, d->digest, d->size,
                              ARCHIVE_JSON_MAX, &data, &len, err) < 0)
        return -1;
    int r = root ? root_children(data, len, &children, &n, err)
                 : archive_children(data, len, d->media_type, &children, &n, err);
    if (r < 0)
        return err_wrap(err, "%s %s", kind_of(d), d->digest);
    if (n > ARCHIVE_MAX_WALK_NODES) {
        archive_descriptors_free(children, n);
        return err_make(err, ERR_RESOURCE_EXHAUSTED, 0, "%s %s lists more than %d children",
                        kind_of(d), d->digest, ARCHIVE_MAX_WALK_NODES);
    }
    if (root && !w->top) {
        w->top = xcalloc(n ? n : 1, sizeof(*w->top));
        w->n_top = n;
        for (size_t i = 0; i < n; i++)
            archive_descriptor_copy(&w->top[i], &children[i]);
    }
    bool transfer = w->options->naming == IMPORT_NAMING_TRANSFER;
    if (transfer)
        r = set_child_labels(w, d, children, n, err);
    if (r == 0)
        n = filter_children(w, d, children, n);
    if (r == 0 && !transfer)
        r = set_child_labels(w, d, children, n, err);
    if (r == 0 && transfer && w->options->manifest_limit > 0 &&
        archive_media_type_is_index(d->media_type)) {
        platform_matcher_sort(&w->matcher, children, n);
        if (n == 0)
            r = err_make(err, ERR_NOT_FOUND, 0, "no match for platform in manifest");
        while (r == 0 && n > w->options->manifest_limit)
            archive_descriptor_clear(&children[--n]);
    }
    if (n > 0)
        w->not_empty = true;
    for (size_t i = 0; r == 0 && i < n; i++)
        r = walk(w, &children[i], depth + 1, err);
    archive_descriptors_free(children, n);
    return r;
}

static void matcher_for(const struct import_options *o, struct platform_matcher *m)
{
    if (o->naming == IMPORT_NAMING_TRANSFER) {
        if (o->n_platforms == 0)
            platform_matcher_all(m);
        else
            platform_matcher_ordered(m, o->platforms, o->n_platforms);
        return;
    }
    if (o->all_platforms) {
        platform_matcher_all(m);
    } else if (o->n_platforms > 0) {
        platform_matcher_only_strict(m, &o->platforms[0]);
    } else {
        struct archive_platform host;
        archive_platform_default(&host);
        platform_matcher_only(m, &host);
        archive_platform_clear(&host);
    }
}

/* Finds the archive's index: index.json of an OCI layout, or one made from manifest.json. */
static int archive_index(const struct import_archive *a, const struct import_options *o,
                         const struct import_sink *sink, struct archive_descriptor *ret,
                         struct berth_error **err)
{
    if (a->layout_version && *a->layout_version) {
        if (strcmp(a->layout_version, "1.0.0") != 0)
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "unsupported OCI version %s",
                            a->layout_version);
        const struct import_entry *e = import_archive_find(a, "index.json");
        if (!e)
            return err_make(err, ERR_NOT_FOUND, 0, "missing index.json in OCI layout 1.0.0");
        memset(ret, 0, sizeof(*ret));
        ret->media_type = xstrdup(ARCHIVE_MEDIA_TYPE_OCI_INDEX);
        ret->digest = xstrdup(e->digest);
        ret->size = e->size;
        return 0;
    }
    if (!a->docker_manifests)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "unrecognized image format");
    return import_docker_index(a, sink, o->compress, ret, err);
}

int archive_import(archive_read_fn read, void *read_arg, const struct import_options *options,
                   const struct import_sink *sink, struct import_result *ret,
                   struct berth_error **err)
{
    struct import_archive a = {0};
    struct import_result result = {0};
    struct walk w = {.options = options, .sink = sink};
    int r = import_archive_read(read, read_arg, sink, &a, err);
    if (r == 0)
        r = archive_index(&a, options, sink, &result.index, err);
    import_archive_clear(&a);
    if (r < 0)
        goto out;

    matcher_for(options, &w.matcher);
    w.root_digest = result.index.digest;
    r = walk(&w, &result.index, 0, err);
    if (r == 0 && !w.not_empty)
        r = err_make(err, ERR_NOT_FOUND, 0, "image might be filtered out");
    if (r < 0)
        goto out;

    /* Every required blob is in place: name and store the images. */
    import_names_for_index(options, &result.index, &result.images, &result.n_images);
    for (size_t i = 0; i < w.n_top; i++)
        import_names_for_manifest(options, &w.top[i], &result.images, &result.n_images);
    for (size_t i = 0; r == 0 && i < result.n_images; i++)
        if (sink->image_store(sink->arg, &result.images[i], err) < 0)
            r = err_wrap(err, "store image %s", result.images[i].name);
out:
    platform_matcher_clear(&w.matcher);
    digest_set_clear(&w.seen);
    archive_descriptors_free(w.top, w.n_top);
    if (r < 0) {
        import_result_clear(&result);
        return -1;
    }
    *ret = result;
    return 0;
}

static ssize_t fd_read(void *arg, void *buf, size_t len, struct berth_error **err)
{
    int fd = *(int *)arg;
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return err_make(err, err_kind_from_errno(errno), errno, "read archive");
    }
}

int archive_import_fd(int fd, const struct import_options *options, const struct import_sink *sink,
                      struct import_result *ret, struct berth_error **err)
{
    return archive_import(fd_read, &fd, options, sink, ret, err);
}
