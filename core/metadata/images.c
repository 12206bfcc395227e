/* Image records: "<namespace>\0<name>" → timestamps, labels and target, in the images table. */
#include "core/metadata/images.h"
#include "core/metadata/leases.h"
#include "core/metadata/namespaces.h"
#include "lib/base/alloc.h"
#include "lib/digest/digest.h"
#include "lib/filters/filters.h"
#include "lib/identifiers/gostring.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void image_clear(struct image *image)
{
    free(image->name);
    labels_clear(&image->labels);
    free(image->target.media_type);
    free(image->target.digest);
    labels_clear(&image->target.annotations);
    *image = (struct image){0};
}

static void target_copy(struct image_target *dst, const struct image_target *src)
{
    free(dst->media_type);
    free(dst->digest);
    labels_clear(&dst->annotations);
    dst->media_type = xstrdup(src->media_type ? src->media_type : "");
    dst->digest = xstrdup(src->digest ? src->digest : "");
    dst->size = src->size;
    labels_copy(&dst->annotations, &src->annotations);
}

void image_copy(struct image *dst, const struct image *src)
{
    *dst = (struct image){
        .name = xstrdup(src->name ? src->name : ""),
        .created_at = src->created_at,
        .updated_at = src->updated_at,
    };
    labels_copy(&dst->labels, &src->labels);
    target_copy(&dst->target, &src->target);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Stored maps hold no empty values (containerd drops them on write) and are sorted. */
static void labels_normalise(struct labels *l)
{
    for (size_t i = l->count; i-- > 0;)
        if (!l->items[i].value[0])
            labels_remove(l, l->items[i].key);
    labels_sort(l);
}

void image_record_encode(const struct image *image, struct record_buf *out)
{
    record_put_u64(out, (uint64_t)image->created_at);
    record_put_u64(out, (uint64_t)image->updated_at);
    record_put_labels(out, &image->labels);
    record_put_string(out, image->target.media_type);
    record_put_string(out, image->target.digest);
    record_put_u64(out, (uint64_t)image->target.size);
    record_put_labels(out, &image->target.annotations);
}

int image_record_decode(const void *data, size_t len, struct image *ret)
{
    struct record_reader r = {data, (const uint8_t *)data + len, false};
    struct image im = {0};
    im.created_at = (int64_t)record_get_u64(&r);
    im.updated_at = (int64_t)record_get_u64(&r);
    record_get_labels(&r, &im.labels);
    im.target.media_type = record_get_string(&r);
    im.target.digest = record_get_string(&r);
    im.target.size = (int64_t)record_get_u64(&r);
    record_get_labels(&r, &im.target.annotations);
    if (r.failed) {
        image_clear(&im);
        return -1;
    }
    *ret = im;
    return 0;
}

static size_t max_key_size(const struct metadata_txn *t)
{
    return (size_t)mdb_env_get_maxkeysize(mdb_txn_env(t->txn));
}

static int not_found(struct berth_error **err, const char *name)
{
    _cleanup_free_ char *q = go_quote(name, strlen(name));
    return err_make(err, ERR_NOT_FOUND, 0, "image %s", q);
}

/* Returns 1 and fills *ret (name included) when found, 0 when missing, -1 on error. */
static int read_image(const struct metadata_txn *t, const char *ns, const char *name,
                      struct image *ret, struct berth_error **err)
{
    struct metadata_key key = metadata_key_make(ns, name);
    MDB_val k = {key.len, key.data}, v;
    int rc = key.len > max_key_size(t) ? MDB_NOTFOUND
                                       : mdb_get(t->txn, metadata_table(t, TABLE_IMAGES), &k, &v);
    metadata_key_free(&key);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return metadata_error(err, rc, "get image");
    if (image_record_decode(v.mv_data, v.mv_size, ret) < 0) {
        _cleanup_free_ char *q = go_quote(name, strlen(name));
        return err_make(err, ERR_DATA_LOSS, 0, "image %s: corrupt record", q);
    }
    ret->name = xstrdup(name);
    return 1;
}

/* Normalises *image and stores it; flags are mdb_put's (MDB_NOOVERWRITE for create). */
static int write_image(struct metadata_txn *t, const char *ns, struct image *image, unsigned flags,
                       struct berth_error **err)
{
    labels_normalise(&image->labels);
    labels_normalise(&image->target.annotations);
    struct metadata_key key = metadata_key_make(ns, image->name);
    if (key.len > max_key_size(t)) {
        metadata_key_free(&key);
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "image name of %zu bytes is too long for the metadata store (at most %zu "
                        "with the namespace)",
                        strlen(image->name), max_key_size(t) - strlen(ns) - 1);
    }
    struct record_buf b = {0};
    image_record_encode(image, &b);
    MDB_val k = {key.len, key.data}, v = {b.len, b.data};
    int rc = mdb_put(t->txn, metadata_table(t, TABLE_IMAGES), &k, &v, flags);
    metadata_key_free(&key);
    free(b.data);
    if (rc == MDB_KEYEXIST) {
        _cleanup_free_ char *q = go_quote(image->name, strlen(image->name));
        return err_make(err, ERR_ALREADY_EXISTS, 0, "image %s", q);
    }
    return rc ? metadata_error(err, rc, "put image") : 0;
}

/* containerd's validateImage: only the fields it stores. */
static int validate(const struct image *image, struct berth_error **err)
{
    if (!image->name || !image->name[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "image name must not be empty");
    if (labels_validate(&image->labels, err) < 0)
        return err_wrap(err, "image.Labels");
    const char *digest = image->target.digest ? image->target.digest : "";
    const char *problem = digest_check(digest);
    if (problem) {
        _cleanup_free_ char *q = go_quote(digest, strlen(digest));
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "Target.Digest %s invalid: %s", q, problem);
    }
    if (image->target.size <= 0)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "Target.Size must be greater than zero");
    if (!image->target.media_type || !image->target.media_type[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "Target.MediaType must be set");
    return 0;
}

/* Only images that can expire need the lease: every other image is a GC root by itself. */
static int lease_image(struct metadata_txn *t, const char *ns, const struct image *image,
                       const struct image_write_options *options, struct berth_error **err)
{
    if (!options || !options->lease_id || !labels_get(&image->labels, IMAGE_LABEL_GC_EXPIRE))
        return 0;
    return leases_add_resource_txn(t, ns, options->lease_id, LEASE_RESOURCE_IMAGES, image->name,
                                   err);
}

static int64_t write_time(const struct image_write_options *options)
{
    return options && options->has_epoch ? options->epoch_ns : now_ns();
}

static int commit_or_abort(struct metadata_txn *t, int r, struct berth_error **err)
{
    if (r < 0) {
        metadata_txn_abort(t);
        return -1;
    }
    return metadata_txn_commit(t, err);
}

int images_get(struct metadata_db *db, const char *namespace_name, const char *name,
               struct image *ret, struct berth_error **err)
{
    struct metadata_txn t;
    if (metadata_txn_begin(db, false, &t, err) < 0)
        return -1;
    int found = read_image(&t, namespace_name, name ? name : "", ret, err);
    metadata_txn_abort(&t);
    if (found == 0)
        return not_found(err, name ? name : "");
    return found < 0 ? -1 : 0;
}

static bool labels_field(const struct labels *l, const char *const *fieldpath, size_t n,
                         const char **ret_value)
{
    /* containerd's checkMap: an empty map has no fields */
    for (size_t i = 0; i < l->count; i++) {
        if (filters_fieldpath_equals(l->items[i].key, fieldpath, n)) {
            *ret_value = l->items[i].value;
            return true;
        }
    }
    return false;
}

bool image_filter_field(void *object, const char *const *fieldpath, size_t n,
                        const char **ret_value)
{
    const struct image *image = object;
    if (n == 0)
        return false;
    if (strcmp(fieldpath[0], "name") == 0) {
        *ret_value = image->name;
        return image->name[0] != '\0';
    }
    if (strcmp(fieldpath[0], "target") == 0 && n >= 2) {
        const char *value = NULL;
        if (strcmp(fieldpath[1], "digest") == 0)
            value = image->target.digest;
        else if (strcmp(fieldpath[1], "mediatype") == 0)
            value = image->target.media_type;
        if (!value)
            return false;
        *ret_value = value;
        return value[0] != '\0';
    }
    if (strcmp(fieldpath[0], "labels") == 0)
        return labels_field(&image->labels, fieldpath + 1, n - 1, ret_value);
    if (strcmp(fieldpath[0], "annotations") == 0)
        return labels_field(&image->target.annotations, fieldpath + 1, n - 1, ret_value);
    return false;
}

/* containerd's stores add the class again to a filter parse error. */
static int parse_filters(const char *const *filters, size_t n, struct filter **ret,
                         struct berth_error **err)
{
    if (filters_parse_any(filters, n, ret, err) == 0)
        return 0;
    if (err && *err) {
        char *message = xasprintf("%s: %s", (*err)->message, err_kind_string(ERR_INVALID_ARGUMENT));
        free((*err)->message);
        (*err)->message = message;
    }
    return -1;
}

struct image_list {
    const struct filter *filter;
    struct image *items;
    size_t count, cap;
};

static int collect_image(const char *key, size_t key_len, const void *value, size_t value_len,
                         void *arg, struct berth_error **err)
{
    struct image_list *l = arg;
    struct image im;
    char *name = xstrndup(key, key_len);
    if (image_record_decode(value, value_len, &im) < 0) {
        _cleanup_free_ char *q = go_quote(name, strlen(name));
        free(name);
        return err_make(err, ERR_DATA_LOSS, 0, "image %s: corrupt record", q);
    }
    im.name = name;
    if (!filters_match(l->filter, image_filter_field, &im)) {
        image_clear(&im);
        return 0;
    }
    l->items = xreallocarray_grow(l->items, &l->cap, l->count + 1, sizeof(*l->items));
    l->items[l->count++] = im;
    return 0;
}

int images_list(struct metadata_db *db, const char *namespace_name, const char *const *filters,
                size_t n_filters, struct image **ret, size_t *ret_count, struct berth_error **err)
{
    _cleanup_filter_ struct filter *filter = NULL;
    if (parse_filters(filters, n_filters, &filter, err) < 0)
        return -1;
    struct metadata_txn t;
    if (metadata_txn_begin(db, false, &t, err) < 0)
        return -1;
    struct image_list l = {.filter = filter};
    int r = metadata_each_in_namespace(&t, TABLE_IMAGES, namespace_name, collect_image, &l, err);
    metadata_txn_abort(&t);
    if (r < 0) {
        images_list_free(l.items, l.count);
        return -1;
    }
    *ret = l.items;
    *ret_count = l.count;
    return 0;
}

void images_list_free(struct image *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        image_clear(&list[i]);
    free(list);
}

int images_create(struct metadata_db *db, const char *namespace_name, const struct image *image,
                  const struct image_write_options *options, struct image *ret,
                  struct berth_error **err)
{
    if (validate(image, err) < 0)
        return -1;
    struct metadata_txn t;
    if (metadata_txn_begin(db, true, &t, err) < 0)
        return -1;
    struct image record;
    image_copy(&record, image);
    /* a caller's timestamps are ignored, as containerd discards them */
    record.created_at = record.updated_at = write_time(options);
    int r = namespaces_ensure(&t, namespace_name, err);
    if (r == 0)
        r = lease_image(&t, namespace_name, &record, options, err);
    if (r == 0)
        r = write_image(&t, namespace_name, &record, MDB_NOOVERWRITE, err);
    if (commit_or_abort(&t, r, err) < 0) {
        image_clear(&record);
        return -1;
    }
    *ret = record;
    return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Applies the field mask to *updated (the stored record) from *image, in path order. */
static int apply_paths(struct image *updated, const struct image *image, const char *const *paths,
                       size_t n_paths, struct berth_error **err)
{
    for (size_t i = 0; i < n_paths; i++) {
        const char *path = paths[i];
        if (has_prefix(path, "labels.")) {
            const char *value = labels_get(&image->labels, path + 7);
            labels_set(&updated->labels, path + 7, value ? value : "");
        } else if (has_prefix(path, "annotations.")) {
            const char *value = labels_get(&image->target.annotations, path + 12);
            labels_set(&updated->target.annotations, path + 12, value ? value : "");
        } else if (strcmp(path, "labels") == 0) {
            labels_clear(&updated->labels);
            labels_copy(&updated->labels, &image->labels);
        } else if (strcmp(path, "target") == 0) {
            /* the target is replaced as a unit, annotations included */
            target_copy(&updated->target, &image->target);
        } else if (strcmp(path, "annotations") == 0) {
            labels_clear(&updated->target.annotations);
            labels_copy(&updated->target.annotations, &image->target.annotations);
        } else {
            _cleanup_free_ char *qp = go_quote(path, strlen(path));
            _cleanup_free_ char *qn = go_quote(image->name, strlen(image->name));
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "cannot update %s field on image %s", qp,
                            qn);
        }
    }
    return 0;
}

int images_update(struct metadata_db *db, const char *namespace_name, const struct image *image,
                  const char *const *paths, size_t n_paths,
                  const struct image_write_options *options, struct image *ret,
                  struct berth_error **err)
{
    if (!image->name || !image->name[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "image name is required for update");
    struct metadata_txn t;
    if (metadata_txn_begin(db, true, &t, err) < 0)
        return -1;
    struct image updated = {0};
    int r = read_image(&t, namespace_name, image->name, &updated, err);
    if (r == 0)
        r = not_found(err, image->name);
    if (r > 0) {
        int64_t created_at = updated.created_at;
        if (n_paths > 0) {
            r = apply_paths(&updated, image, paths, n_paths, err);
        } else {
            image_clear(&updated);
            image_copy(&updated, image);
            r = 0;
        }
        updated.created_at = created_at;
        updated.updated_at = write_time(options);
    }
    if (r == 0)
        r = validate(&updated, err);
    /* a gc.expire label may have been added: then the lease holds the image */
    if (r == 0)
        r = lease_image(&t, namespace_name, &updated, options, err);
    if (r == 0)
        r = write_image(&t, namespace_name, &updated, 0, err);
    if (commit_or_abort(&t, r, err) < 0) {
        image_clear(&updated);
        return -1;
    }
    *ret = updated;
    return 0;
}

int images_delete(struct metadata_db *db, const char *namespace_name, const char *name,
                  const char *target_digest, const struct image_write_options *options,
                  struct berth_error **err)
{
    if (!name)
        name = "";
    struct metadata_txn t;
    if (metadata_txn_begin(db, true, &t, err) < 0)
        return -1;
    int r = 0;
    if (options && options->lease_id)
        r = leases_remove_resource_txn(&t, namespace_name, options->lease_id, LEASE_RESOURCE_IMAGES,
                                       name, err);
    if (r == 0 && target_digest && target_digest[0]) {
        struct image check = {0};
        int found = read_image(&t, namespace_name, name, &check, err);
        if (found == 0)
            r = not_found(err, name);
        else if (found < 0)
            r = -1;
        else if (strcmp(check.target.digest, target_digest) != 0) {
            _cleanup_free_ char *q = go_quote(name, strlen(name));
            r = err_make(err, ERR_NOT_FOUND, 0, "image %s has target %s, not %s", q,
                         check.target.digest, target_digest);
        }
        image_clear(&check);
    }
    if (r == 0) {
        struct metadata_key key = metadata_key_make(namespace_name, name);
        MDB_val k = {key.len, key.data};
        int rc = key.len > max_key_size(&t)
                     ? MDB_NOTFOUND
                     : mdb_del(t.txn, metadata_table(&t, TABLE_IMAGES), &k, NULL);
        metadata_key_free(&key);
        if (rc == MDB_NOTFOUND)
            r = not_found(err, name);
        else if (rc)
            r = metadata_error(err, rc, "delete image");
    }
    /* Its content stays until a garbage collector exists in Berth to take it (and sync). */
    return commit_or_abort(&t, r, err);
}
