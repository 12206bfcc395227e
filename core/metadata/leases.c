/*
 * Leases: "<namespace>\0<id>" → created_at, labels in the leases table, and one key
 * "<namespace>\0<id>\0<type>\0<resource>" per resource in the lease_resources table.
 */
#include "core/metadata/leases.h"
#include "core/metadata/namespaces.h"
#include "lib/base/alloc.h"
#include "lib/digest/digest.h"
#include "lib/filters/filters.h"
#include "lib/identifiers/gostring.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

void lease_clear(struct lease *lease)
{
    free(lease->id);
    labels_clear(&lease->labels);
    *lease = (struct lease){0};
}

/* containerd's WithRandomID: the clock's nanoseconds and three random bytes in base64url. */
static char *random_id(void)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint8_t b[3];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        struct timespec mono;
        clock_gettime(CLOCK_MONOTONIC, &mono);
        memcpy(b, &mono.tv_nsec, sizeof(b));
    }
    char encoded[5] = {
        alphabet[b[0] >> 2],
        alphabet[((b[0] & 3) << 4) | (b[1] >> 4)],
        alphabet[((b[1] & 15) << 2) | (b[2] >> 6)],
        alphabet[b[2] & 63],
        '\0',
    };
    return xasprintf("%ld-%s", (long)ts.tv_nsec, encoded);
}

static size_t max_key_size(const struct metadata_txn *t)
{
    return (size_t)mdb_env_get_maxkeysize(mdb_txn_env(t->txn));
}

/* parts joined by NUL bytes; with `open`, a trailing NUL (a prefix for a range scan). */
static struct metadata_key key_join(const char *const *parts, size_t n, bool open)
{
    size_t len = open ? n : n - 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(parts[i]);
    struct metadata_key k = {.data = xmalloc(len + 1), .len = len};
    char *p = k.data;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(parts[i]);
        memcpy(p, parts[i], l);
        p += l;
        if (i + 1 < n || open)
            *p++ = '\0';
    }
    *p = '\0';
    return k;
}

static bool key_has_prefix(const MDB_val *k, const struct metadata_key *prefix)
{
    return k->mv_size >= prefix->len && memcmp(k->mv_data, prefix->data, prefix->len) == 0;
}

static int lease_not_found(struct berth_error **err, const char *id)
{
    _cleanup_free_ char *q = go_quote(id, strlen(id));
    return err_make(err, ERR_NOT_FOUND, 0, "lease %s", q);
}

/* Returns 1 when the lease exists, 0 when not, -1 on error. */
static int lease_exists(const struct metadata_txn *t, const char *ns, const char *id,
                        struct berth_error **err)
{
    struct metadata_key key = metadata_key_make(ns, id);
    MDB_val k = {key.len, key.data}, v;
    int rc = key.len > max_key_size(t) ? MDB_NOTFOUND
                                       : mdb_get(t->txn, metadata_table(t, TABLE_LEASES), &k, &v);
    metadata_key_free(&key);
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc ? metadata_error(err, rc, "get lease") : 1;
}

/*
 * containerd's parseLeaseResource: which types exist and how each must be written. Also refuses
 * what bbolt cannot store there: an empty resource id or snapshotter name.
 */
static int resource_check(const char *type, const char *id, struct berth_error **err)
{
    const char *slash = strchr(type, '/');
    size_t head = slash ? (size_t)(slash - type) : strlen(type);
    static const char *const flat[] = {LEASE_RESOURCE_CONTENT, LEASE_RESOURCE_INGESTS,
                                       LEASE_RESOURCE_IMAGES};
    bool is_flat = false;
    for (size_t i = 0; i < ARRAY_SIZE(flat); i++)
        is_flat |= strlen(flat[i]) == head && strncmp(type, flat[i], head) == 0;
    if (is_flat) {
        if (slash)
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "invalid resource type %s", type);
        if (strcmp(type, LEASE_RESOURCE_CONTENT) == 0) {
            const char *problem = digest_check(id);
            if (problem)
                return err_make(err, ERR_INVALID_ARGUMENT, 0, "invalid content resource id %s: %s",
                                id, problem);
        }
    } else if (head == strlen(LEASE_RESOURCE_SNAPSHOTS) &&
               strncmp(type, LEASE_RESOURCE_SNAPSHOTS, head) == 0) {
        if (!slash || strchr(slash + 1, '/') || !slash[1])
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "invalid snapshot resource type %s",
                            type);
    } else {
        return err_make(err, ERR_NOT_IMPLEMENTED, 0, "resource type %s not supported yet", type);
    }
    if (!id[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "resource id must not be empty");
    return 0;
}

static int put_resource(struct metadata_txn *t, const char *ns, const char *lease_id,
                        const char *type, const char *id, struct berth_error **err)
{
    if (resource_check(type, id, err) < 0)
        return -1;
    const char *parts[] = {ns, lease_id, type, id};
    struct metadata_key key = key_join(parts, 4, false);
    int rc = MDB_BAD_VALSIZE;
    if (key.len <= max_key_size(t)) {
        MDB_val k = {key.len, key.data}, v = {0, NULL};
        rc = mdb_put(t->txn, metadata_table(t, TABLE_LEASE_RESOURCES), &k, &v, 0);
    }
    size_t len = key.len;
    metadata_key_free(&key);
    if (rc == MDB_BAD_VALSIZE)
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "lease resource %s %.64s: %zu bytes with its lease and namespace, more "
                        "than the metadata store's key limit of %zu",
                        type, id, len, max_key_size(t));
    return rc ? metadata_error(err, rc, "put lease resource") : 0;
}

static int del_resource(struct metadata_txn *t, const char *ns, const char *lease_id,
                        const char *type, const char *id, struct berth_error **err)
{
    const char *parts[] = {ns, lease_id, type, id};
    struct metadata_key key = key_join(parts, 4, false);
    MDB_val k = {key.len, key.data};
    int rc = key.len > max_key_size(t)
                 ? MDB_NOTFOUND
                 : mdb_del(t->txn, metadata_table(t, TABLE_LEASE_RESOURCES), &k, NULL);
    metadata_key_free(&key);
    return rc && rc != MDB_NOTFOUND ? metadata_error(err, rc, "delete lease resource") : 0;
}

static int commit_or_abort(struct metadata_txn *t, int r, struct berth_error **err)
{
    if (r < 0) {
        metadata_txn_abort(t);
        return -1;
    }
    return metadata_txn_commit(t, err);
}

int leases_create(struct metadata_db *db, const char *namespace_name, const char *id,
                  const struct labels *labels, struct lease *ret, struct berth_error **err)
{
    struct lease lease = {.id = id && id[0] ? xstrdup(id) : random_id()};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lease.created_at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    for (size_t i = 0; labels && i < labels->count; i++)
        if (labels->items[i].value[0])
            labels_set(&lease.labels, labels->items[i].key, labels->items[i].value);
    labels_sort(&lease.labels);

    struct metadata_txn t;
    if (metadata_txn_begin(db, true, &t, err) < 0) {
        lease_clear(&lease);
        return -1;
    }
    int r = namespaces_ensure(&t, namespace_name, err);
    struct metadata_key key = metadata_key_make(namespace_name, lease.id);
    if (r == 0 && key.len > max_key_size(&t))
        r = err_make(err, ERR_INVALID_ARGUMENT, 0,
                     "lease id of %zu bytes is too long for the metadata store", strlen(lease.id));
    if (r == 0) {
        struct record_buf b = {0};
        record_put_u64(&b, (uint64_t)lease.created_at);
        record_put_labels(&b, &lease.labels);
        MDB_val k = {key.len, key.data}, v = {b.len, b.data};
        int rc = mdb_put(t.txn, metadata_table(&t, TABLE_LEASES), &k, &v, MDB_NOOVERWRITE);
        free(b.data);
        if (rc == MDB_KEYEXIST) {
            _cleanup_free_ char *q = go_quote(lease.id, strlen(lease.id));
            r = err_make(err, ERR_ALREADY_EXISTS, 0, "lease %s", q);
        } else if (rc) {
            r = metadata_error(err, rc, "put lease");
        }
    }
    metadata_key_free(&key);
    if (commit_or_abort(&t, r, err) < 0) {
        lease_clear(&lease);
        return -1;
    }
    *ret = lease;
    return 0;
}

int leases_delete(struct metadata_db *db, const char *namespace_name, const char *id,
                  struct berth_error **err)
{
    if (!id)
        id = "";
    struct metadata_txn t;
    if (metadata_txn_begin(db, true, &t, err) < 0)
        return -1;
    struct metadata_key key = metadata_key_make(namespace_name, id);
    MDB_val k = {key.len, key.data};
    int rc = key.len > max_key_size(&t)
                 ? MDB_NOTFOUND
                 : mdb_del(t.txn, metadata_table(&t, TABLE_LEASES), &k, NULL);
    metadata_key_free(&key);
    int r = 0;
    if (rc == MDB_NOTFOUND)
        r = lease_not_found(err, id);
    else if (rc)
        r = metadata_error(err, rc, "delete lease");
    /* the lease's resources go with it */
    MDB_cursor *cur = NULL;
    if (r == 0 && (rc = mdb_cursor_open(t.txn, metadata_table(&t, TABLE_LEASE_RESOURCES), &cur)))
        r = metadata_error(err, rc, "delete lease resources");
    const char *parts[] = {namespace_name, id};
    struct metadata_key prefix = key_join(parts, 2, true);
    while (r == 0) {
        MDB_val rk = {prefix.len, prefix.data}, rv;
        rc = mdb_cursor_get(cur, &rk, &rv, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND || (rc == 0 && !key_has_prefix(&rk, &prefix)))
            break;
        if (rc == 0)
            rc = mdb_cursor_del(cur, 0);
        if (rc)
            r = metadata_error(err, rc, "delete lease resources");
    }
    if (cur)
        mdb_cursor_close(cur);
    metadata_key_free(&prefix);
    return commit_or_abort(&t, r, err);
}

static bool lease_filter_field(void *object, const char *const *fieldpath, size_t n,
                               const char **ret_value)
{
    const struct lease *lease = object;
    if (n == 0)
        return false;
    if (strcmp(fieldpath[0], "id") == 0) {
        *ret_value = lease->id;
        return lease->id[0] != '\0';
    }
    if (strcmp(fieldpath[0], "labels") != 0)
        return false;
    /* containerd's checkMap: an empty map has no fields */
    for (size_t i = 0; i < lease->labels.count; i++) {
        if (filters_fieldpath_equals(lease->labels.items[i].key, fieldpath + 1, n - 1)) {
            *ret_value = lease->labels.items[i].value;
            return true;
        }
    }
    return false;
}

int leases_list(struct metadata_db *db, const char *namespace_name, const char *const *filters,
                size_t n_filters, struct lease **ret, size_t *ret_count, struct berth_error **err)
{
    _cleanup_filter_ struct filter *filter = NULL;
    if (filters_parse_any(filters, n_filters, &filter, err) < 0) {
        /* containerd's store adds the class once more */
        if (err && *err) {
            char *m = xasprintf("%s: %s", (*err)->message, err_kind_string(ERR_INVALID_ARGUMENT));
            free((*err)->message);
            (*err)->message = m;
        }
        return -1;
    }
    struct metadata_txn t;
    if (metadata_txn_begin(db, false, &t, err) < 0)
        return -1;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t.txn, metadata_table(&t, TABLE_LEASES), &cur);
    if (rc) {
        metadata_txn_abort(&t);
        return metadata_error(err, rc, "list leases");
    }
    struct metadata_key prefix = metadata_key_make(namespace_name, NULL);
    struct lease *list = NULL;
    size_t count = 0, cap = 0;
    int r = 0;
    MDB_val k = {prefix.len, prefix.data}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && key_has_prefix(&k, &prefix);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct lease lease = {
            .id = xstrndup((const char *)k.mv_data + prefix.len, k.mv_size - prefix.len),
        };
        struct record_reader rd = {v.mv_data, (const uint8_t *)v.mv_data + v.mv_size, false};
        lease.created_at = (int64_t)record_get_u64(&rd);
        record_get_labels(&rd, &lease.labels);
        if (rd.failed) {
            _cleanup_free_ char *q = go_quote(lease.id, strlen(lease.id));
            lease_clear(&lease);
            r = err_make(err, ERR_DATA_LOSS, 0, "lease %s: corrupt record", q);
            break;
        }
        if (!filters_match(filter, lease_filter_field, &lease)) {
            lease_clear(&lease);
            continue;
        }
        list = xreallocarray_grow(list, &cap, count + 1, sizeof(*list));
        list[count++] = lease;
    }
    if (r == 0 && rc != 0 && rc != MDB_NOTFOUND)
        r = metadata_error(err, rc, "list leases");
    mdb_cursor_close(cur);
    metadata_txn_abort(&t);
    metadata_key_free(&prefix);
    if (r < 0) {
        leases_list_free(list, count);
        return -1;
    }
    *ret = list;
    *ret_count = count;
    return 0;
}

void leases_list_free(struct lease *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        lease_clear(&list[i]);
    free(list);
}

/* Opens a write transaction on an existing lease (NotFound `lease "x"` otherwise). */
static int begin_on_lease(struct metadata_db *db, bool write, const char *ns, const char *id,
                          struct metadata_txn *t, struct berth_error **err)
{
    if (metadata_txn_begin(db, write, t, err) < 0)
        return -1;
    int found = lease_exists(t, ns, id, err);
    if (found == 0)
        lease_not_found(err, id);
    if (found <= 0) {
        metadata_txn_abort(t);
        return -1;
    }
    return 0;
}

int leases_add_resource(struct metadata_db *db, const char *namespace_name, const char *lease_id,
                        const struct lease_resource *resource, struct berth_error **err)
{
    struct metadata_txn t;
    if (begin_on_lease(db, true, namespace_name, lease_id, &t, err) < 0)
        return -1;
    int r = put_resource(&t, namespace_name, lease_id, resource->type, resource->id, err);
    return commit_or_abort(&t, r, err);
}

int leases_delete_resource(struct metadata_db *db, const char *namespace_name, const char *lease_id,
                           const struct lease_resource *resource, struct berth_error **err)
{
    struct metadata_txn t;
    if (begin_on_lease(db, true, namespace_name, lease_id, &t, err) < 0)
        return -1;
    int r = resource_check(resource->type, resource->id, err);
    if (r == 0)
        r = del_resource(&t, namespace_name, lease_id, resource->type, resource->id, err);
    return commit_or_abort(&t, r, err);
}

int leases_list_resources(struct metadata_db *db, const char *namespace_name, const char *lease_id,
                          struct lease_resource **ret, size_t *ret_count, struct berth_error **err)
{
    struct metadata_txn t;
    if (begin_on_lease(db, false, namespace_name, lease_id, &t, err) < 0)
        return -1;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t.txn, metadata_table(&t, TABLE_LEASE_RESOURCES), &cur);
    if (rc) {
        metadata_txn_abort(&t);
        return metadata_error(err, rc, "list lease resources");
    }
    const char *parts[] = {namespace_name, lease_id};
    struct metadata_key prefix = key_join(parts, 2, true);
    struct lease_resource *list = NULL;
    size_t count = 0, cap = 0;
    MDB_val k = {prefix.len, prefix.data}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && key_has_prefix(&k, &prefix);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *rest = (const char *)k.mv_data + prefix.len;
        size_t rest_len = k.mv_size - prefix.len;
        const char *nul = memchr(rest, '\0', rest_len);
        if (!nul)
            continue; /* not a key this file writes */
        list = xreallocarray_grow(list, &cap, count + 1, sizeof(*list));
        list[count++] = (struct lease_resource){
            .type = xstrndup(rest, (size_t)(nul - rest)),
            .id = xstrndup(nul + 1, rest_len - (size_t)(nul - rest) - 1),
        };
    }
    int r = rc == 0 || rc == MDB_NOTFOUND ? 0 : metadata_error(err, rc, "list lease resources");
    mdb_cursor_close(cur);
    metadata_txn_abort(&t);
    metadata_key_free(&prefix);
    if (r < 0) {
        lease_resources_free(list, count);
        return -1;
    }
    *ret = list;
    *ret_count = count;
    return 0;
}

void lease_resources_free(struct lease_resource *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(list[i].id);
        free(list[i].type);
    }
    free(list);
}

int leases_add_resource_txn(struct metadata_txn *t, const char *namespace_name,
                            const char *lease_id, const char *type, const char *id,
                            struct berth_error **err)
{
    int found = lease_exists(t, namespace_name, lease_id, err);
    if (found < 0)
        return -1;
    if (found == 0)
        return err_make(err, ERR_NOT_FOUND, 0, "lease does not exist");
    return put_resource(t, namespace_name, lease_id, type, id, err);
}

int leases_remove_resource_txn(struct metadata_txn *t, const char *namespace_name,
                               const char *lease_id, const char *type, const char *id,
                               struct berth_error **err)
{
    return del_resource(t, namespace_name, lease_id, type, id, err);
}
