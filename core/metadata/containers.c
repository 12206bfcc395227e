/* Container records: "<namespace>\0<id>" → the encoded container, in the containers table. */
#include "core/metadata/containers.h"
#include "core/metadata/namespaces.h"
#include "lib/base/alloc.h"
#include "lib/filters/filters.h"
#include "lib/identifiers/gostring.h"
#include "lib/identifiers/identifiers.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void container_any_clear(struct container_any *a)
{
    free(a->type_url);
    free(a->value);
    *a = (struct container_any){0};
}

void container_any_set(struct container_any *a, const char *type_url, const void *value, size_t len)
{
    container_any_clear(a);
    a->set = true;
    a->type_url = xstrdup(type_url ? type_url : "");
    a->value = len ? xmemdup(value, len) : NULL;
    a->value_len = len;
}

static void any_copy(struct container_any *dst, const struct container_any *src)
{
    if (src && src->set)
        container_any_set(dst, src->type_url, src->value, src->value_len);
    else
        container_any_clear(dst);
}

void container_clear(struct container *c)
{
    free(c->id);
    labels_clear(&c->labels);
    free(c->image);
    free(c->runtime_name);
    container_any_clear(&c->runtime_options);
    container_any_clear(&c->spec);
    free(c->snapshotter);
    free(c->snapshot_key);
    free(c->sandbox);
    for (size_t i = 0; i < c->n_extensions; i++) {
        free(c->extensions[i].key);
        container_any_clear(&c->extensions[i].value);
    }
    free(c->extensions);
    *c = (struct container){0};
}

static char *dup_or_empty(const char *s)
{
    return xstrdup(s ? s : "");
}

static void extensions_copy(struct container *dst, const struct container *src)
{
    for (size_t i = 0; i < src->n_extensions; i++)
        container_extension_set(dst, src->extensions[i].key, &src->extensions[i].value);
}

static void extensions_clear(struct container *c)
{
    for (size_t i = 0; i < c->n_extensions; i++) {
        free(c->extensions[i].key);
        container_any_clear(&c->extensions[i].value);
    }
    free(c->extensions);
    c->extensions = NULL;
    c->n_extensions = 0;
}

void container_copy(struct container *dst, const struct container *src)
{
    *dst = (struct container){
        .id = dup_or_empty(src->id),
        .image = dup_or_empty(src->image),
        .runtime_name = dup_or_empty(src->runtime_name),
        .snapshotter = dup_or_empty(src->snapshotter),
        .snapshot_key = dup_or_empty(src->snapshot_key),
        .sandbox = dup_or_empty(src->sandbox),
        .created_at = src->created_at,
        .updated_at = src->updated_at,
    };
    labels_copy(&dst->labels, &src->labels);
    any_copy(&dst->runtime_options, &src->runtime_options);
    any_copy(&dst->spec, &src->spec);
    extensions_copy(dst, src);
}

const struct container_any *container_extension_get(const struct container *c, const char *key)
{
    for (size_t i = 0; i < c->n_extensions; i++)
        if (strcmp(c->extensions[i].key, key) == 0)
            return &c->extensions[i].value;
    return NULL;
}

void container_extension_set(struct container *c, const char *key,
                             const struct container_any *value)
{
    static const struct container_any empty = {.set = true, .type_url = ""};
    size_t i = 0;
    while (i < c->n_extensions && strcmp(c->extensions[i].key, key) < 0)
        i++;
    if (i == c->n_extensions || strcmp(c->extensions[i].key, key) != 0) {
        c->extensions = xrealloc(c->extensions, (c->n_extensions + 1) * sizeof(*c->extensions));
        memmove(&c->extensions[i + 1], &c->extensions[i],
                (c->n_extensions - i) * sizeof(*c->extensions));
        c->extensions[i] = (struct container_extension){.key = xstrdup(key)};
        c->n_extensions++;
    }
    /* a missing value is stored as an empty Any, as containerd writes a nil one */
    any_copy(&c->extensions[i].value, value && value->set ? value : &empty);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- record encoding ---- */

static void put_any(struct record_buf *b, const struct container_any *a)
{
    record_put_u64(b, a->set ? 1 : 0);
    if (!a->set)
        return;
    record_put_string(b, a->type_url);
    record_put_u64(b, a->value_len);
    record_put_bytes(b, a->value, a->value_len);
}

static void get_any(struct record_reader *r, struct container_any *out)
{
    uint64_t set = record_get_u64(r);
    if (r->failed || set == 0)
        return;
    if (set != 1) {
        r->failed = true;
        return;
    }
    char *type_url = record_get_string(r);
    uint64_t n = record_get_u64(r);
    if (r->failed || n > (uint64_t)(r->end - r->p)) {
        free(type_url);
        r->failed = true;
        return;
    }
    container_any_set(out, type_url, r->p, (size_t)n);
    free(type_url);
    r->p += n;
}

void container_record_encode(const struct container *c, struct record_buf *out)
{
    record_put_u64(out, (uint64_t)c->created_at);
    record_put_u64(out, (uint64_t)c->updated_at);
    record_put_labels(out, &c->labels);
    record_put_string(out, c->image);
    record_put_string(out, c->runtime_name);
    put_any(out, &c->runtime_options);
    put_any(out, &c->spec);
    record_put_string(out, c->snapshotter);
    record_put_string(out, c->snapshot_key);
    record_put_string(out, c->sandbox);
    record_put_u64(out, c->n_extensions);
    for (size_t i = 0; i < c->n_extensions; i++) {
        record_put_string(out, c->extensions[i].key);
        put_any(out, &c->extensions[i].value);
    }
}

int container_record_decode(const void *data, size_t len, struct container *ret)
{
    struct record_reader r = {data, (const uint8_t *)data + len, false};
    struct container c = {0};
    c.created_at = (int64_t)record_get_u64(&r);
    c.updated_at = (int64_t)record_get_u64(&r);
    record_get_labels(&r, &c.labels);
    c.image = record_get_string(&r);
    c.runtime_name = record_get_string(&r);
    get_any(&r, &c.runtime_options);
    get_any(&r, &c.spec);
    c.snapshotter = record_get_string(&r);
    c.snapshot_key = record_get_string(&r);
    c.sandbox = record_get_string(&r);
    uint64_t n = record_get_u64(&r);
    /* each extension takes at least two bytes: never trust a count the record cannot hold */
    if (!r.failed && n > (uint64_t)(r.end - r.p) / 2)
        r.failed = true;
    for (uint64_t i = 0; i < n && !r.failed; i++) {
        _cleanup_free_ char *key = record_get_string(&r);
        struct container_any value = {0};
        get_any(&r, &value);
        if (!r.failed)
            container_extension_set(&c, key, &value);
        container_any_clear(&value);
    }
    if (r.failed || r.p != r.end) {
        container_clear(&c);
        return -1;
    }
    *ret = c;
    return 0;
}

/* ---- storage ---- */

static size_t max_key_size(const struct metadata_txn *t)
{
    return (size_t)mdb_env_get_maxkeysize(mdb_txn_env(t->txn));
}

/* Stored labels hold no empty values (containerd drops them on write) and are sorted. */
static void labels_normalise(struct labels *l)
{
    for (size_t i = l->count; i-- > 0;)
        if (!l->items[i].value[0])
            labels_remove(l, l->items[i].key);
    labels_sort(l);
}

/* Returns 1 and fills *ret (id included) when found, 0 when missing, -1 on error. */
static int read_container(const struct metadata_txn *t, const char *ns, const char *id,
                          struct container *ret, struct berth_error **err)
{
    struct metadata_key key = metadata_key_make(ns, id);
    MDB_val k = {key.len, key.data}, v;
    int rc = key.len > max_key_size(t)
                 ? MDB_NOTFOUND
                 : mdb_get(t->txn, metadata_table(t, TABLE_CONTAINERS), &k, &v);
    metadata_key_free(&key);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return metadata_error(err, rc, "get container");
    if (container_record_decode(v.mv_data, v.mv_size, ret) < 0) {
        _cleanup_free_ char *q = go_quote(id, strlen(id));
        return err_make(err, ERR_DATA_LOSS, 0, "failed to read container %s: corrupt record", q);
    }
    ret->id = xstrdup(id);
    return 1;
}

static int write_container(struct metadata_txn *t, const char *ns, struct container *c,
                           unsigned flags, struct berth_error **err)
{
    labels_normalise(&c->labels);
    struct metadata_key key = metadata_key_make(ns, c->id);
    if (key.len > max_key_size(t)) {
        metadata_key_free(&key);
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "container id of %zu bytes is too long for the metadata store",
                        strlen(c->id));
    }
    struct record_buf b = {0};
    container_record_encode(c, &b);
    MDB_val k = {key.len, key.data}, v = {b.len, b.data};
    int rc = mdb_put(t->txn, metadata_table(t, TABLE_CONTAINERS), &k, &v, flags);
    metadata_key_free(&key);
    free(b.data);
    if (rc == MDB_KEYEXIST) {
        _cleanup_free_ char *q = go_quote(c->id, strlen(c->id));
        return err_make(err, ERR_ALREADY_EXISTS, 0, "container %s", q);
    }
    return rc ? metadata_error(err, rc, "put container") : 0;
}

/* containerd's validateContainer, with its messages. */
static int validate(const struct container *c, struct berth_error **err)
{
    if (identifier_validate(c->id ? c->id : "", err) < 0)
        return err_wrap(err, "container.ID");
    for (size_t i = 0; i < c->n_extensions; i++)
        if (!c->extensions[i].key[0])
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "container.Extension keys must not be zero-length");
    if (labels_validate(&c->labels, err) < 0)
        return err_wrap(err, "containers.Labels");
    if (!c->runtime_name || !c->runtime_name[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "container.Runtime.Name must be set");
    if (!c->spec.set)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "container.Spec must be set");
    if (c->snapshot_key && c->snapshot_key[0] && (!c->snapshotter || !c->snapshotter[0]))
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "container.Snapshotter must be set if container.SnapshotKey is set");
    return 0;
}

static int commit_or_abort(struct metadata_txn *t, int r, struct berth_error **err)
{
    if (r < 0) {
        metadata_txn_abort(t);
        return -1;
    }
    return metadata_txn_commit(t, err);
}

int containers_get(struct metadata_db *db, const char *namespace_name, const char *id,
                   struct container *ret, struct berth_error **err)
{
    if (!id)
        id = "";
    struct metadata_txn t;
    if (metadata_txn_begin(db, false, &t, err) < 0)
        return -1;
    int found = read_container(&t, namespace_name, id, ret, err);
    metadata_txn_abort(&t);
    if (found == 0) {
        _cleanup_free_ char *qi = go_quote(id, strlen(id));
        _cleanup_free_ char *qn = go_quote(namespace_name, strlen(namespace_name));
        return err_make(err, ERR_NOT_FOUND, 0, "container %s in namespace %s", qi, qn);
    }
    return found < 0 ? -1 : 0;
}

static bool labels_field(const struct labels *l, const char *const *fieldpath, size_t n,
                         const char **ret_value)
{
    for (size_t i = 0; i < l->count; i++) {
        if (filters_fieldpath_equals(l->items[i].key, fieldpath, n)) {
            *ret_value = l->items[i].value;
            return true;
        }
    }
    return false;
}

bool container_filter_field(void *object, const char *const *fieldpath, size_t n,
                            const char **ret_value)
{
    const struct container *c = object;
    if (n == 0)
        return false;
    if (strcmp(fieldpath[0], "id") == 0) {
        *ret_value = c->id;
        return c->id[0] != '\0';
    }
    if (strcmp(fieldpath[0], "runtime") == 0) {
        if (n < 2 || strcmp(fieldpath[1], "name") != 0)
            return false;
        *ret_value = c->runtime_name;
        return c->runtime_name[0] != '\0';
    }
    if (strcmp(fieldpath[0], "image") == 0) {
        *ret_value = c->image;
        return c->image[0] != '\0';
    }
    if (strcmp(fieldpath[0], "labels") == 0)
        return labels_field(&c->labels, fieldpath + 1, n - 1, ret_value);
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

struct container_list {
    const struct filter *filter;
    struct container *items;
    size_t count, cap;
};

static int collect_container(const char *key, size_t key_len, const void *value, size_t value_len,
                             void *arg, struct berth_error **err)
{
    struct container_list *l = arg;
    struct container c;
    char *id = xstrndup(key, key_len);
    if (container_record_decode(value, value_len, &c) < 0) {
        _cleanup_free_ char *q = go_quote(id, strlen(id));
        free(id);
        return err_make(err, ERR_DATA_LOSS, 0, "failed to read container %s: corrupt record", q);
    }
    c.id = id;
    if (!filters_match(l->filter, container_filter_field, &c)) {
        container_clear(&c);
        return 0;
    }
    l->items = xreallocarray_grow(l->items, &l->cap, l->count + 1, sizeof(*l->items));
    l->items[l->count++] = c;
    return 0;
}

int containers_list(struct metadata_db *db, const char *namespace_name, const char *const *filters,
                    size_t n_filters, struct container **ret, size_t *ret_count,
                    struct berth_error **err)
{
    _cleanup_filter_ struct filter *filter = NULL;
    if (parse_filters(filters, n_filters, &filter, err) < 0)
        return -1;
    struct metadata_txn t;
    if (metadata_txn_begin(db, false, &t, err) < 0)
        return -1;
    struct container_list l = {.filter = filter};
    int r = metadata_each_in_namespace(&t, TABLE_CONTAINERS, namespace_name, collect_container, &l,
                                       err);
    metadata_txn_abort(&t);
    if (r < 0) {
        containers_list_free(l.items, l.count);
        return -1;
    }
    *ret = l.items;
    *ret_count = l.count;
    return 0;
}

void containers_list_free(struct container *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        container_clear(&list[i]);
    free(list);
}

int containers_create(struct metadata_db *db, const char *namespace_name,
                      const struct container *container, struct container *ret,
                      struct berth_error **err)
{
    if (validate(container, err) < 0)
        return err_wrap(err, "create container failed validation");
    struct metadata_txn t;
    if (metadata_txn_begin(db, true, &t, err) < 0)
        return -1;
    struct container record;
    container_copy(&record, container);
    record.created_at = record.updated_at = now_ns();
    int r = namespaces_ensure(&t, namespace_name, err);
    if (r == 0)
        r = write_container(&t, namespace_name, &record, MDB_NOOVERWRITE, err);
    if (commit_or_abort(&t, r, err) < 0) {
        container_clear(&record);
        return -1;
    }
    *ret = record;
    return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void replace_string(char **dst, const char *src)
{
    free(*dst);
    *dst = dup_or_empty(src);
}

/* Applies the field mask to *updated (the stored record) from *c, in path order. */
static int apply_paths(struct container *updated, const struct container *c,
                       const char *const *paths, size_t n_paths, struct berth_error **err)
{
    for (size_t i = 0; i < n_paths; i++) {
        const char *path = paths[i];
        if (has_prefix(path, "labels.")) {
            const char *value = labels_get(&c->labels, path + 7);
            labels_set(&updated->labels, path + 7, value ? value : "");
        } else if (has_prefix(path, "extensions.")) {
            container_extension_set(updated, path + 11, container_extension_get(c, path + 11));
        } else if (strcmp(path, "labels") == 0) {
            labels_clear(&updated->labels);
            labels_copy(&updated->labels, &c->labels);
        } else if (strcmp(path, "spec") == 0) {
            any_copy(&updated->spec, &c->spec);
        } else if (strcmp(path, "extensions") == 0) {
            extensions_clear(updated);
            extensions_copy(updated, c);
        } else if (strcmp(path, "image") == 0) {
            replace_string(&updated->image, c->image);
        } else if (strcmp(path, "snapshotkey") == 0) {
            replace_string(&updated->snapshot_key, c->snapshot_key);
        } else {
            _cleanup_free_ char *qp = go_quote(path, strlen(path));
            _cleanup_free_ char *qi = go_quote(c->id, strlen(c->id));
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "cannot update %s field on %s", qp, qi);
        }
    }
    return 0;
}

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

int containers_update(struct metadata_db *db, const char *namespace_name,
                      const struct container *container, const char *const *paths, size_t n_paths,
                      struct container *ret, struct berth_error **err)
{
    if (!container->id || !container->id[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "must specify a container id");
    struct metadata_txn t;
    if (metadata_txn_begin(db, true, &t, err) < 0)
        return -1;
    struct container updated = {0};
    int r = read_container(&t, namespace_name, container->id, &updated, err);
    if (r == 0) {
        _cleanup_free_ char *qi = go_quote(container->id, strlen(container->id));
        if (!metadata_namespace_has_records(&t, TABLE_CONTAINERS, namespace_name)) {
            _cleanup_free_ char *qn = go_quote(namespace_name, strlen(namespace_name));
            r = err_make(err, ERR_NOT_FOUND, 0, "cannot update container %s in namespace %s", qi,
                         qn);
        } else {
            r = err_make(err, ERR_NOT_FOUND, 0, "container %s", qi);
        }
    }
    if (r > 0) {
        int64_t created_at = updated.created_at;
        static const char *const all[] = {"labels", "spec", "extensions", "image", "snapshotkey"};
        r = 0;
        if (n_paths == 0) {
            /* immutable fields must match on a full replace, so that they may become mutable */
            if (!same(updated.snapshotter, container->snapshotter))
                r = err_make(err, ERR_INVALID_ARGUMENT, 0,
                             "container.Snapshotter field is immutable");
            else if (!same(updated.runtime_name, container->runtime_name))
                r = err_make(err, ERR_INVALID_ARGUMENT, 0,
                             "container.Runtime.Name field is immutable");
            paths = all;
            n_paths = ARRAY_SIZE(all);
        }
        if (r == 0)
            r = apply_paths(&updated, container, paths, n_paths, err);
        if (r == 0 && validate(&updated, err) < 0)
            r = err_wrap(err, "update failed validation");
        updated.created_at = created_at;
        updated.updated_at = now_ns();
    }
    if (r == 0)
        r = write_container(&t, namespace_name, &updated, 0, err);
    if (commit_or_abort(&t, r, err) < 0) {
        container_clear(&updated);
        return -1;
    }
    *ret = updated;
    return 0;
}

int containers_delete(struct metadata_db *db, const char *namespace_name, const char *id,
                      struct berth_error **err)
{
    if (!id)
        id = "";
    struct metadata_txn t;
    if (metadata_txn_begin(db, true, &t, err) < 0)
        return -1;
    int r = 0;
    if (!metadata_namespace_has_records(&t, TABLE_CONTAINERS, namespace_name)) {
        _cleanup_free_ char *qi = go_quote(id, strlen(id));
        _cleanup_free_ char *qn = go_quote(namespace_name, strlen(namespace_name));
        r = err_make(err, ERR_NOT_FOUND, 0, "cannot delete container %s in namespace %s", qi, qn);
    } else {
        struct metadata_key key = metadata_key_make(namespace_name, id);
        MDB_val k = {key.len, key.data};
        int rc = key.len > max_key_size(&t)
                     ? MDB_NOTFOUND
                     : mdb_del(t.txn, metadata_table(&t, TABLE_CONTAINERS), &k, NULL);
        metadata_key_free(&key);
        /* containerd prints this id with %v: unquoted */
        if (rc == MDB_NOTFOUND)
            r = err_make(err, ERR_NOT_FOUND, 0, "container %s", id);
        else if (rc)
            r = metadata_error(err, rc, "delete container");
    }
    return commit_or_abort(&t, r, err);
}
