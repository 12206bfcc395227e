/* The backend snapshot records: "snapshots" maps a key to its record; "meta" holds the id counter.
 */
#include "core/snapshots/storage.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct snapshot_store {
    MDB_env *env;
    MDB_dbi snapshots, meta;
};

/* A record: id, kind, parent key, created, updated, size, inodes, labels. */
struct record {
    uint64_t id;
    enum snapshot_kind kind;
    char *parent;
    int64_t created, updated;
    struct snapshot_usage usage;
    struct labels labels;
};

static void record_clear(struct record *r)
{
    free(r->parent);
    labels_clear(&r->labels);
    *r = (struct record){0};
}

int64_t snapshot_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int store_error(struct berth_error **err, int rc, const char *what)
{
    return err_make(err, rc == MDB_MAP_FULL ? ERR_RESOURCE_EXHAUSTED : ERR_INTERNAL, 0,
                    "snapshot store %s: %s", what, mdb_strerror(rc));
}

int snapshot_store_open(const char *path, struct snapshot_store **ret, struct berth_error **err)
{
    struct snapshot_store *s = xcalloc(1, sizeof(*s));
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, 4);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, (size_t)16 << 30);
    if (rc == 0)
        rc = mdb_env_open(s->env, path, MDB_NOSUBDIR | MDB_NOTLS, 0600);
    MDB_txn *txn = NULL;
    if (rc == 0)
        rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "snapshots", MDB_CREATE, &s->snapshots);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (rc != 0) {
        if (txn)
            mdb_txn_abort(txn);
        mdb_env_close(s->env);
        free(s);
        return err_make(err, ERR_INTERNAL, 0, "open snapshot store %s: %s", path, mdb_strerror(rc));
    }
    *ret = s;
    return 0;
}

void snapshot_store_close(struct snapshot_store *store)
{
    if (!store)
        return;
    mdb_env_close(store->env);
    free(store);
}

int snapshot_txn_begin(struct snapshot_store *store, bool write, struct snapshot_txn *ret,
                       struct berth_error **err)
{
    ret->store = store;
    int rc = mdb_txn_begin(store->env, NULL, write ? 0 : MDB_RDONLY, &ret->txn);
    return rc ? store_error(err, rc, "begin") : 0;
}

int snapshot_txn_commit(struct snapshot_txn *t, struct berth_error **err)
{
    int rc = mdb_txn_commit(t->txn);
    t->txn = NULL;
    return rc ? store_error(err, rc, "commit") : 0;
}

void snapshot_txn_abort(struct snapshot_txn *t)
{
    if (t->txn)
        mdb_txn_abort(t->txn);
    t->txn = NULL;
}

void storage_snapshot_clear(struct storage_snapshot *s)
{
    free(s->id);
    for (size_t i = 0; i < s->n_parent_ids; i++)
        free(s->parent_ids[i]);
    free(s->parent_ids);
    *s = (struct storage_snapshot){0};
}

static bool key_fits(struct snapshot_txn *t, const char *key)
{
    size_t n = strlen(key);
    return n > 0 && n <= (size_t)mdb_env_get_maxkeysize(t->store->env);
}

/* 1 found, 0 missing, -1 error. */
static int get_record(struct snapshot_txn *t, const char *key, struct record *ret,
                      struct berth_error **err)
{
    if (!key || !key_fits(t, key))
        return 0;
    MDB_val k = {strlen(key), (void *)key}, v;
    int rc = mdb_get(t->txn, t->store->snapshots, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return store_error(err, rc, "get");
    struct record_reader rd = {v.mv_data, (const uint8_t *)v.mv_data + v.mv_size, false};
    *ret = (struct record){0};
    ret->id = record_get_u64(&rd);
    ret->kind = (enum snapshot_kind)record_get_u64(&rd);
    ret->parent = record_get_string(&rd);
    ret->created = (int64_t)record_get_u64(&rd);
    ret->updated = (int64_t)record_get_u64(&rd);
    ret->usage.size = (int64_t)record_get_u64(&rd);
    ret->usage.inodes = (int64_t)record_get_u64(&rd);
    record_get_labels(&rd, &ret->labels);
    if (rd.failed) {
        record_clear(ret);
        return err_make(err, ERR_DATA_LOSS, 0, "snapshot %s: corrupt record", key);
    }
    return 1;
}

static int put_record(struct snapshot_txn *t, const char *key, const struct record *r,
                      unsigned flags, struct berth_error **err)
{
    struct record_buf b = {0};
    record_put_u64(&b, r->id);
    record_put_u64(&b, (uint64_t)r->kind);
    record_put_string(&b, r->parent);
    record_put_u64(&b, (uint64_t)r->created);
    record_put_u64(&b, (uint64_t)r->updated);
    record_put_u64(&b, (uint64_t)r->usage.size);
    record_put_u64(&b, (uint64_t)r->usage.inodes);
    record_put_labels(&b, &r->labels);
    MDB_val k = {strlen(key), (void *)key}, v = {b.len, b.data};
    int rc = mdb_put(t->txn, t->store->snapshots, &k, &v, flags);
    free(b.data);
    if (rc == MDB_KEYEXIST)
        return 1;
    return rc ? store_error(err, rc, "put") : 0;
}

static int next_id(struct snapshot_txn *t, uint64_t *ret, struct berth_error **err)
{
    MDB_val k = {3, (void *)"seq"}, v;
    uint64_t id = 0;
    int rc = mdb_get(t->txn, t->store->meta, &k, &v);
    if (rc == 0 && v.mv_size == sizeof(id))
        memcpy(&id, v.mv_data, sizeof(id));
    else if (rc && rc != MDB_NOTFOUND)
        return store_error(err, rc, "sequence");
    id++;
    v = (MDB_val){sizeof(id), &id};
    rc = mdb_put(t->txn, t->store->meta, &k, &v, 0);
    if (rc)
        return store_error(err, rc, "sequence");
    *ret = id;
    return 0;
}

static char *id_string(uint64_t id)
{
    return xasprintf("%llu", (unsigned long long)id);
}

/* The ids of `parent` and its ancestors, nearest first. */
static int parent_chain(struct snapshot_txn *t, const char *parent, struct storage_snapshot *s,
                        struct berth_error **err)
{
    _cleanup_free_ char *cur = parent && parent[0] ? xstrdup(parent) : NULL;
    size_t cap = 0;
    while (cur) {
        struct record r;
        int found = get_record(t, cur, &r, err);
        if (found < 0)
            return -1;
        if (found == 0)
            return err_make(err, ERR_NOT_FOUND, 0, "missing parent");
        if (s->n_parent_ids > 4096) {
            record_clear(&r);
            return err_make(err, ERR_FAILED_PRECONDITION, 0, "parent chain too long");
        }
        s->parent_ids =
            xreallocarray_grow(s->parent_ids, &cap, s->n_parent_ids + 1, sizeof(char *));
        s->parent_ids[s->n_parent_ids++] = id_string(r.id);
        free(cur);
        cur = r.parent && r.parent[0] ? steal_ptr(r.parent) : NULL;
        record_clear(&r);
    }
    return 0;
}

int storage_create(struct snapshot_txn *t, enum snapshot_kind kind, const char *key,
                   const char *parent, const struct labels *labels, struct storage_snapshot *ret,
                   struct berth_error **err)
{
    if (kind != SNAPSHOT_KIND_ACTIVE && kind != SNAPSHOT_KIND_VIEW)
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "snapshot type %s invalid; only snapshots of type Active or View can be "
                        "created",
                        snapshot_kind_string(kind));
    if (!key || !key_fits(t, key))
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "snapshot key of %zu bytes is not valid",
                        key ? strlen(key) : 0);
    if (parent && parent[0]) {
        struct record p;
        int found = get_record(t, parent, &p, err);
        if (found < 0)
            return -1;
        if (found == 0)
            return err_make(err, ERR_NOT_FOUND, 0, "missing parent \"%s\" bucket", parent);
        enum snapshot_kind pk = p.kind;
        record_clear(&p);
        if (pk != SNAPSHOT_KIND_COMMITTED)
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "parent \"%s\" is not committed snapshot",
                            parent);
    }
    struct record r = {.kind = kind, .parent = (char *)(parent ? parent : "")};
    r.created = r.updated = snapshot_now_ns();
    if (next_id(t, &r.id, err) < 0)
        return -1;
    for (size_t i = 0; labels && i < labels->count; i++)
        if (labels->items[i].value[0])
            labels_set(&r.labels, labels->items[i].key, labels->items[i].value);
    labels_sort(&r.labels);
    int put = put_record(t, key, &r, MDB_NOOVERWRITE, err);
    labels_clear(&r.labels);
    if (put < 0)
        return -1;
    if (put == 1)
        return err_make(err, ERR_ALREADY_EXISTS, 0, "snapshot %s", key);
    struct storage_snapshot s = {.id = id_string(r.id), .kind = kind};
    if (parent_chain(t, parent, &s, err) < 0) {
        storage_snapshot_clear(&s);
        return err_wrap(err, "failed to get parent chain for snapshot \"%s\"", key);
    }
    *ret = s;
    return 0;
}

int storage_get_snapshot(struct snapshot_txn *t, const char *key, struct storage_snapshot *ret,
                         struct berth_error **err)
{
    struct record r;
    int found = get_record(t, key, &r, err);
    if (found < 0)
        return -1;
    if (found == 0)
        return err_make(err, ERR_NOT_FOUND, 0, "snapshot does not exist");
    if (r.kind != SNAPSHOT_KIND_ACTIVE && r.kind != SNAPSHOT_KIND_VIEW) {
        record_clear(&r);
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "requested snapshot %s not active or view",
                        key);
    }
    struct storage_snapshot s = {.id = id_string(r.id), .kind = r.kind};
    int rc = parent_chain(t, r.parent, &s, err);
    record_clear(&r);
    if (rc < 0) {
        storage_snapshot_clear(&s);
        return err_wrap(err, "failed to get parent chain");
    }
    *ret = s;
    return 0;
}

static void record_to_info(const char *key, struct record *r, struct snapshot_info *info)
{
    *info = (struct snapshot_info){
        .name = xstrdup(key),
        .parent = xstrdup(r->parent ? r->parent : ""),
        .kind = r->kind,
        .created_ns = r->created,
        .updated_ns = r->updated,
    };
    labels_copy(&info->labels, &r->labels);
}

int storage_get_info(struct snapshot_txn *t, const char *key, char **ret_id,
                     struct snapshot_info *ret_info, struct snapshot_usage *ret_usage,
                     struct berth_error **err)
{
    struct record r;
    int found = get_record(t, key, &r, err);
    if (found < 0)
        return -1;
    if (found == 0)
        return err_make(err, ERR_NOT_FOUND, 0, "snapshot does not exist");
    if (ret_id)
        *ret_id = id_string(r.id);
    if (ret_info)
        record_to_info(key, &r, ret_info);
    if (ret_usage)
        *ret_usage = r.usage;
    record_clear(&r);
    return 0;
}

int snapshot_labels_apply(struct labels *current, const struct labels *requested,
                          const char *const *paths, size_t n_paths, const char *name,
                          struct berth_error **err)
{
    static const struct labels none = {0};
    if (!requested)
        requested = &none;
    if (n_paths == 0) {
        labels_clear(current);
        labels_copy(current, requested);
    }
    for (size_t i = 0; i < n_paths; i++) {
        if (strncmp(paths[i], "labels.", 7) == 0) {
            const char *v = labels_get(requested, paths[i] + 7);
            if (v && v[0])
                labels_set(current, paths[i] + 7, v);
            else
                labels_remove(current, paths[i] + 7);
        } else if (strcmp(paths[i], "labels") == 0) {
            labels_clear(current);
            labels_copy(current, requested);
        } else {
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "cannot update \"%s\" field on snapshot \"%s\"", paths[i], name);
        }
    }
    /* empty values are not stored */
    for (size_t i = 0; i < current->count;)
        if (!current->items[i].value[0])
            labels_remove(current, current->items[i].key);
        else
            i++;
    labels_sort(current);
    return labels_validate(current, err);
}

int storage_update_info(struct snapshot_txn *t, const struct snapshot_info *info,
                        const char *const *paths, size_t n_paths, struct snapshot_info *ret,
                        struct berth_error **err)
{
    struct record r;
    int found = get_record(t, info->name, &r, err);
    if (found < 0)
        return -1;
    if (found == 0)
        return err_make(err, ERR_NOT_FOUND, 0, "snapshot does not exist");
    int rc = snapshot_labels_apply(&r.labels, &info->labels, paths, n_paths, info->name, err);
    if (rc == 0) {
        r.updated = snapshot_now_ns();
        rc = put_record(t, info->name, &r, 0, err);
    }
    if (rc == 0 && ret)
        record_to_info(info->name, &r, ret);
    record_clear(&r);
    return rc;
}

int storage_commit_active(struct snapshot_txn *t, const char *key, const char *name,
                          const struct snapshot_usage *usage, const struct labels *labels,
                          struct berth_error **err)
{
    if (!name || !key_fits(t, name))
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "snapshot name of %zu bytes is not valid",
                        name ? strlen(name) : 0);
    struct record existing;
    int found = get_record(t, name, &existing, err);
    if (found < 0)
        return -1;
    if (found) {
        record_clear(&existing);
        return err_make(err, ERR_ALREADY_EXISTS, 0, "committed snapshot %s", name);
    }
    struct record r;
    found = get_record(t, key, &r, err);
    if (found < 0)
        return -1;
    if (found == 0)
        return err_make(err, ERR_NOT_FOUND, 0, "failed to get active snapshot \"%s\"", key);
    if (r.kind != SNAPSHOT_KIND_ACTIVE) {
        record_clear(&r);
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "snapshot \"%s\" is not active", key);
    }
    MDB_val k = {strlen(key), (void *)key};
    int rc = mdb_del(t->txn, t->store->snapshots, &k, NULL);
    if (rc) {
        record_clear(&r);
        return store_error(err, rc, "delete active");
    }
    r.kind = SNAPSHOT_KIND_COMMITTED;
    r.created = r.updated = snapshot_now_ns();
    if (usage)
        r.usage = *usage;
    labels_clear(&r.labels);
    for (size_t i = 0; labels && i < labels->count; i++)
        if (labels->items[i].value[0])
            labels_set(&r.labels, labels->items[i].key, labels->items[i].value);
    labels_sort(&r.labels);
    int put = put_record(t, name, &r, 0, err);
    record_clear(&r);
    return put < 0 ? -1 : 0;
}

static bool has_child(struct snapshot_txn *t, const char *key)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(t->txn, t->store->snapshots, &cur))
        return false;
    bool found = false;
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !found;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct record_reader rd = {v.mv_data, (const uint8_t *)v.mv_data + v.mv_size, false};
        record_get_u64(&rd);
        record_get_u64(&rd);
        _cleanup_free_ char *parent = record_get_string(&rd);
        found = parent && strcmp(parent, key) == 0;
    }
    mdb_cursor_close(cur);
    return found;
}

int storage_remove(struct snapshot_txn *t, const char *key, char **ret_id,
                   enum snapshot_kind *ret_kind, struct berth_error **err)
{
    struct record r;
    int found = get_record(t, key, &r, err);
    if (found < 0)
        return -1;
    if (found == 0)
        return err_make(err, ERR_NOT_FOUND, 0, "snapshot %s", key);
    if (has_child(t, key)) {
        record_clear(&r);
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot remove snapshot with child");
    }
    MDB_val k = {strlen(key), (void *)key};
    int rc = mdb_del(t->txn, t->store->snapshots, &k, NULL);
    if (rc == 0) {
        if (ret_id)
            *ret_id = id_string(r.id);
        if (ret_kind)
            *ret_kind = r.kind;
    }
    record_clear(&r);
    return rc ? store_error(err, rc, "failed to delete snapshot") : 0;
}

int storage_walk(struct snapshot_txn *t, const struct filter *filter, snapshot_walk_fn fn,
                 void *arg, struct berth_error **err)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, t->store->snapshots, &cur);
    if (rc)
        return store_error(err, rc, "walk");
    MDB_val k, v;
    int r = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && r == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        _cleanup_free_ char *key = xstrndup(k.mv_data, k.mv_size);
        struct record rec;
        if (get_record(t, key, &rec, err) <= 0) {
            r = -1;
            break;
        }
        struct snapshot_info info;
        record_to_info(key, &rec, &info);
        record_clear(&rec);
        if (!filter || filters_match(filter, snapshot_info_filter_field, &info))
            r = fn(&info, arg, err);
        snapshot_info_clear(&info);
    }
    mdb_cursor_close(cur);
    return r;
}

bool storage_id_in_use(struct snapshot_txn *t, const char *id)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(t->txn, t->store->snapshots, &cur))
        return true;
    char *end;
    unsigned long long want = strtoull(id, &end, 10);
    if (*end != '\0' || !id[0]) {
        mdb_cursor_close(cur);
        return false; /* leftovers such as "new-*" are not snapshots */
    }
    bool found = false;
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !found;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct record_reader rd = {v.mv_data, (const uint8_t *)v.mv_data + v.mv_size, false};
        found = record_get_u64(&rd) == want;
    }
    mdb_cursor_close(cur);
    return found;
}
