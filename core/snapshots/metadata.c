/* Namespaced snapshot records over backend snapshotters, with containerd's errors and leases. */
#include "core/snapshots/metadata.h"
#include "core/metadata/leases.h"
#include "core/metadata/namespaces.h"
#include "core/snapshots/storage.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

struct snapshots_metadata {
    struct metadata_db *db;
    struct snapshotter **backends;
    size_t n_backends;
    /*
     * Backend snapshots are made before (prepare) or beside (commit) the record that names them.
     * Those steps hold this shared until the record is written; collecting unreferenced backend
     * snapshots holds it exclusively, so it never takes one whose record is on its way
     * (containerd's metadata snapshotter serialises them the same way).
     */
    pthread_rwlock_t backend_lock;
};

struct snapshots_metadata *snapshots_metadata_new(struct metadata_db *db)
{
    struct snapshots_metadata *ms = xcalloc(1, sizeof(*ms));
    ms->db = db;
    pthread_rwlock_init(&ms->backend_lock, NULL);
    return ms;
}

void snapshots_metadata_backend_lock(struct snapshots_metadata *ms, bool exclusive)
{
    if (exclusive)
        pthread_rwlock_wrlock(&ms->backend_lock);
    else
        pthread_rwlock_rdlock(&ms->backend_lock);
}

void snapshots_metadata_backend_unlock(struct snapshots_metadata *ms)
{
    pthread_rwlock_unlock(&ms->backend_lock);
}

void snapshots_metadata_free(struct snapshots_metadata *ms)
{
    if (!ms)
        return;
    free(ms->backends);
    pthread_rwlock_destroy(&ms->backend_lock);
    free(ms);
}

struct metadata_db *snapshots_metadata_db(const struct snapshots_metadata *ms)
{
    return ms->db;
}

void snapshots_metadata_add_backend(struct snapshots_metadata *ms, struct snapshotter *backend)
{
    ms->backends = xrealloc(ms->backends, (ms->n_backends + 1) * sizeof(*ms->backends));
    ms->backends[ms->n_backends++] = backend;
}

struct snapshotter *snapshots_metadata_backend(struct snapshots_metadata *ms, const char *name)
{
    for (size_t i = 0; name && i < ms->n_backends; i++)
        if (strcmp(ms->backends[i]->name, name) == 0)
            return ms->backends[i];
    return NULL;
}

size_t snapshots_metadata_backend_count(const struct snapshots_metadata *ms)
{
    return ms->n_backends;
}

const char *snapshots_metadata_backend_name(const struct snapshots_metadata *ms, size_t i)
{
    return i < ms->n_backends ? ms->backends[i]->name : NULL;
}

int snapshots_metadata_check(struct snapshots_metadata *ms, const char *snapshotter,
                             struct berth_error **err)
{
    if (!snapshotter || !snapshotter[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "snapshotter argument missing");
    if (!snapshots_metadata_backend(ms, snapshotter))
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "snapshotter not loaded: %s", snapshotter);
    return 0;
}

/* ---- records ---- */

static void record_clear(struct snapshot_record *r)
{
    free(r->backend_key);
    free(r->parent);
    labels_clear(&r->labels);
    *r = (struct snapshot_record){0};
}

static struct metadata_key record_key(const char *ns, const char *sn, const char *key)
{
    size_t a = strlen(ns), b = strlen(sn), c = key ? strlen(key) : 0;
    struct metadata_key k = {.data = xmalloc(a + b + c + 3), .len = a + b + 2 + c};
    memcpy(k.data, ns, a + 1);
    memcpy(k.data + a + 1, sn, b + 1);
    if (c)
        memcpy(k.data + a + b + 2, key, c);
    k.data[k.len] = '\0';
    return k;
}

static bool key_fits(const struct metadata_txn *t, const struct metadata_key *k)
{
    return k->len <= (size_t)mdb_env_get_maxkeysize(mdb_txn_env(t->txn));
}

static bool decode(const MDB_val *v, struct snapshot_record *r)
{
    struct record_reader rd = {v->mv_data, (const uint8_t *)v->mv_data + v->mv_size, false};
    *r = (struct snapshot_record){0};
    r->backend_key = record_get_string(&rd);
    r->parent = record_get_string(&rd);
    r->created_ns = (int64_t)record_get_u64(&rd);
    r->updated_ns = (int64_t)record_get_u64(&rd);
    record_get_labels(&rd, &r->labels);
    if (rd.failed)
        record_clear(r);
    return !rd.failed;
}

/* 1 found, 0 missing, -1 error. */
static int get(const struct metadata_txn *t, const char *ns, const char *sn, const char *key,
               struct snapshot_record *ret, struct berth_error **err)
{
    if (!key || !key[0])
        return 0;
    struct metadata_key k = record_key(ns, sn, key);
    int rc = MDB_NOTFOUND;
    MDB_val mk = {k.len, k.data}, v;
    if (key_fits(t, &k))
        rc = mdb_get(t->txn, metadata_table(t, TABLE_SNAPSHOTS), &mk, &v);
    metadata_key_free(&k);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return metadata_error(err, rc, "get snapshot");
    if (!decode(&v, ret))
        return err_make(err, ERR_DATA_LOSS, 0, "snapshot %s: corrupt record", key);
    return 1;
}

static int put(struct metadata_txn *t, const char *ns, const char *sn, const char *key,
               const struct snapshot_record *r, struct berth_error **err)
{
    struct metadata_key k = record_key(ns, sn, key);
    if (!key_fits(t, &k)) {
        metadata_key_free(&k);
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "snapshot key of %zu bytes is too long",
                        strlen(key));
    }
    struct record_buf b = {0};
    record_put_string(&b, r->backend_key);
    record_put_string(&b, r->parent);
    record_put_u64(&b, (uint64_t)r->created_ns);
    record_put_u64(&b, (uint64_t)r->updated_ns);
    record_put_labels(&b, &r->labels);
    MDB_val mk = {k.len, k.data}, v = {b.len, b.data};
    int rc = mdb_put(t->txn, metadata_table(t, TABLE_SNAPSHOTS), &mk, &v, 0);
    free(b.data);
    metadata_key_free(&k);
    return rc ? metadata_error(err, rc, "put snapshot") : 0;
}

static int del(struct metadata_txn *t, const char *ns, const char *sn, const char *key,
               struct berth_error **err)
{
    struct metadata_key k = record_key(ns, sn, key);
    MDB_val mk = {k.len, k.data};
    int rc = mdb_del(t->txn, metadata_table(t, TABLE_SNAPSHOTS), &mk, NULL);
    metadata_key_free(&k);
    return rc && rc != MDB_NOTFOUND ? metadata_error(err, rc, "delete snapshot") : 0;
}

typedef bool (*each_fn)(const char *key, const struct snapshot_record *r, void *arg);

/* Calls fn for every record of ns/sn until it returns false. */
static int each(const struct metadata_txn *t, const char *ns, const char *sn, each_fn fn, void *arg,
                struct berth_error **err)
{
    struct metadata_key prefix = record_key(ns, sn, NULL);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, metadata_table(t, TABLE_SNAPSHOTS), &cur);
    if (rc) {
        metadata_key_free(&prefix);
        return metadata_error(err, rc, "list snapshots");
    }
    MDB_val k = {prefix.len, prefix.data}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size >= prefix.len && memcmp(k.mv_data, prefix.data, prefix.len) == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct snapshot_record r;
        if (!decode(&v, &r))
            continue;
        _cleanup_free_ char *key =
            xstrndup((const char *)k.mv_data + prefix.len, k.mv_size - prefix.len);
        bool more = fn(key, &r, arg);
        record_clear(&r);
        if (!more)
            break;
    }
    mdb_cursor_close(cur);
    metadata_key_free(&prefix);
    return 0;
}

static bool find_child(const char *key, const struct snapshot_record *r, void *arg)
{
    const char **parent = arg;
    if (*parent && r->parent && strcmp(r->parent, *parent) == 0) {
        *parent = NULL; /* found */
        return false;
    }
    return true;
}

static int next_backend_key(struct metadata_txn *t, const char *ns, const char *key, char **ret,
                            struct berth_error **err)
{
    MDB_val k = {12, (void *)"snapshot_seq"}, v;
    uint64_t seq = 0;
    int rc = mdb_get(t->txn, metadata_table(t, TABLE_META), &k, &v);
    if (rc == 0 && v.mv_size == sizeof(seq))
        memcpy(&seq, v.mv_data, sizeof(seq));
    else if (rc && rc != MDB_NOTFOUND)
        return metadata_error(err, rc, "snapshot sequence");
    seq++;
    v = (MDB_val){sizeof(seq), &seq};
    if ((rc = mdb_put(t->txn, metadata_table(t, TABLE_META), &k, &v, 0)))
        return metadata_error(err, rc, "snapshot sequence");
    *ret = xasprintf("%s/%llu/%s", ns, (unsigned long long)seq, key);
    return 0;
}

static int finish(struct metadata_txn *t, int r, struct berth_error **err)
{
    if (r < 0) {
        metadata_txn_abort(t);
        return -1;
    }
    return metadata_txn_commit(t, err);
}

static int not_exist(struct berth_error **err, const char *key)
{
    return err_make(err, ERR_NOT_FOUND, 0, "snapshot %s does not exist", key);
}

/* ---- operations ---- */

int snapshots_metadata_prepare(struct snapshots_metadata *ms, const char *sn, const char *ns,
                               const char *key, const char *parent, const struct labels *labels,
                               const char *lease, bool readonly, struct mount_list *ret,
                               struct berth_error **err)
{
    struct snapshotter *b = snapshots_metadata_backend(ms, sn);
    if (!b)
        return snapshots_metadata_check(ms, sn, err);
    if (!key || !key[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "key must not be empty");
    if (labels && labels_validate(labels, err) < 0)
        return -1;
    const char *target = labels ? labels_get(labels, SNAPSHOT_LABEL_REF) : NULL;
    if (!parent)
        parent = "";

    /* first: cheap checks and the backend key */
    struct metadata_txn t;
    if (metadata_txn_begin(ms->db, true, &t, err) < 0)
        return -1;
    struct snapshot_record existing, p = {0};
    int r = namespaces_ensure(&t, ns, err);
    int found = r < 0 ? -1 : target && target[0] ? get(&t, ns, sn, target, &existing, err) : 0;
    if (found > 0) {
        record_clear(&existing);
        r = err_make(err, ERR_ALREADY_EXISTS, 0, "target snapshot \"%s\"", target);
    } else if (found < 0) {
        r = -1;
    }
    if (r == 0 && (found = get(&t, ns, sn, key, &existing, err)) != 0) {
        if (found > 0)
            record_clear(&existing);
        r = found > 0 ? err_make(err, ERR_ALREADY_EXISTS, 0, "snapshot \"%s\"", key) : -1;
    }
    if (r == 0 && parent[0] && (found = get(&t, ns, sn, parent, &p, err)) <= 0)
        r = found == 0
                ? err_make(err, ERR_NOT_FOUND, 0, "parent snapshot %s does not exist", parent)
                : -1;
    _cleanup_free_ char *bkey = NULL;
    if (r == 0)
        r = next_backend_key(&t, ns, key, &bkey, err);
    if (finish(&t, r, err) < 0) {
        record_clear(&p);
        return -1;
    }

    /* the backend snapshot, outside any metadata transaction but never beside a collection */
    snapshots_metadata_backend_lock(ms, false);
    struct labels inherited = {0};
    snapshot_labels_inherited(labels, &inherited);
    struct mount_list mounts = {0};
    r = (readonly ? b->ops->view : b->ops->prepare)(b->self, bkey, p.backend_key, &inherited,
                                                    &mounts, err);
    labels_clear(&inherited);
    if (r < 0) {
        snapshots_metadata_backend_unlock(ms);
        record_clear(&p);
        return -1;
    }

    /* then the record, checking again what may have changed meanwhile */
    struct snapshot_record rec = {.backend_key = bkey, .parent = (char *)parent};
    rec.created_ns = rec.updated_ns = snapshot_now_ns();
    for (size_t i = 0; labels && i < labels->count; i++)
        if (labels->items[i].value[0])
            labels_set(&rec.labels, labels->items[i].key, labels->items[i].value);
    labels_sort(&rec.labels);
    r = metadata_txn_begin(ms->db, true, &t, err);
    if (r == 0 && (found = get(&t, ns, sn, key, &existing, err)) != 0) {
        if (found > 0)
            record_clear(&existing);
        r = found > 0 ? err_make(err, ERR_ALREADY_EXISTS, 0, "snapshot \"%s\"", key) : -1;
    }
    struct snapshot_record p2 = {0};
    if (r == 0 && parent[0]) {
        found = get(&t, ns, sn, parent, &p2, err);
        if (found == 0)
            r = err_make(err, ERR_NOT_FOUND, 0, "parent snapshot %s does not exist", parent);
        else if (found < 0)
            r = -1;
        else if (strcmp(p2.backend_key, p.backend_key) != 0)
            r = err_make(err, ERR_INVALID_ARGUMENT, 0, "mismatched parent %s from target %s",
                         parent, target ? target : "");
        record_clear(&p2);
    }
    if (r == 0 && lease && lease[0]) {
        _cleanup_free_ char *type = xasprintf("%s/%s", LEASE_RESOURCE_SNAPSHOTS, sn);
        r = leases_add_resource_txn(&t, ns, lease, type, key, err);
    }
    if (r == 0)
        r = put(&t, ns, sn, key, &rec, err);
    labels_clear(&rec.labels);
    record_clear(&p);
    r = t.txn ? finish(&t, r, err) : -1;
    snapshots_metadata_backend_unlock(ms);
    if (r < 0) {
        struct berth_error *e = NULL;
        if (b->ops->remove(b->self, bkey, &e) < 0 || b->ops->cleanup(b->self, &e) < 0) {
            log_record(LOG_ERROR, LOG_FIELDS("snapshotter", sn, "key", bkey, "error", e->message),
                       "failed to cleanup unreferenced snapshot");
            err_free(e);
        }
        mount_list_clear(&mounts);
        return -1;
    }
    if (ret)
        *ret = mounts;
    else
        mount_list_clear(&mounts);
    return 0;
}

/* The backend key of ns/sn/key, or NotFound "snapshot <key> does not exist". */
static int resolve(struct snapshots_metadata *ms, const char *sn, const char *ns, const char *key,
                   struct snapshotter **ret_backend, struct snapshot_record *ret,
                   struct berth_error **err)
{
    *ret_backend = snapshots_metadata_backend(ms, sn);
    if (!*ret_backend)
        return snapshots_metadata_check(ms, sn, err);
    struct metadata_txn t;
    if (metadata_txn_begin(ms->db, false, &t, err) < 0)
        return -1;
    int found = get(&t, ns, sn, key, ret, err);
    metadata_txn_abort(&t);
    if (found == 0)
        return not_exist(err, key ? key : "");
    return found < 0 ? -1 : 0;
}

int snapshots_metadata_mounts(struct snapshots_metadata *ms, const char *sn, const char *ns,
                              const char *key, struct mount_list *ret, struct berth_error **err)
{
    struct snapshotter *b;
    struct snapshot_record r;
    if (resolve(ms, sn, ns, key, &b, &r, err) < 0)
        return -1;
    int rc = b->ops->mounts(b->self, r.backend_key, ret, err);
    record_clear(&r);
    return rc;
}

int snapshots_metadata_usage(struct snapshots_metadata *ms, const char *sn, const char *ns,
                             const char *key, struct snapshot_usage *ret, struct berth_error **err)
{
    struct snapshotter *b;
    struct snapshot_record r;
    if (resolve(ms, sn, ns, key, &b, &r, err) < 0)
        return -1;
    int rc = b->ops->usage(b->self, r.backend_key, ret, err);
    record_clear(&r);
    return rc;
}

/* containerd's overlayInfo: the backend's kind with the record's name, parent, labels, times. */
static void to_info(const char *key, struct snapshot_record *r, enum snapshot_kind kind,
                    struct snapshot_info *ret)
{
    *ret = (struct snapshot_info){
        .name = xstrdup(key),
        .parent = xstrdup(r->parent ? r->parent : ""),
        .kind = kind,
        .created_ns = r->created_ns,
        .updated_ns = r->updated_ns,
    };
    labels_copy(&ret->labels, &r->labels);
}

static enum snapshot_kind backend_kind(struct snapshotter *b, const char *bkey)
{
    struct snapshot_info bi;
    if (b->ops->stat(b->self, bkey, &bi, NULL) < 0)
        return SNAPSHOT_KIND_UNKNOWN;
    enum snapshot_kind kind = bi.kind;
    snapshot_info_clear(&bi);
    return kind;
}

int snapshots_metadata_stat(struct snapshots_metadata *ms, const char *sn, const char *ns,
                            const char *key, struct snapshot_info *ret, struct berth_error **err)
{
    struct snapshotter *b;
    struct snapshot_record r;
    if (resolve(ms, sn, ns, key, &b, &r, err) < 0)
        return -1;
    struct snapshot_info bi;
    int rc = b->ops->stat(b->self, r.backend_key, &bi, err);
    if (rc == 0) {
        to_info(key, &r, bi.kind, ret);
        snapshot_info_clear(&bi);
    }
    record_clear(&r);
    return rc;
}

int snapshots_metadata_update(struct snapshots_metadata *ms, const char *sn, const char *ns,
                              const struct snapshot_info *info, const char *const *paths,
                              size_t n_paths, struct snapshot_info *ret, struct berth_error **err)
{
    struct snapshotter *b = snapshots_metadata_backend(ms, sn);
    if (!b)
        return snapshots_metadata_check(ms, sn, err);
    if (!info->name || !info->name[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "snapshot name must not be empty");
    struct metadata_txn t;
    if (metadata_txn_begin(ms->db, true, &t, err) < 0)
        return -1;
    struct snapshot_record r = {0};
    int found = get(&t, ns, sn, info->name, &r, err);
    int rc = found == 0 ? not_exist(err, info->name) : found < 0 ? -1 : 0;
    if (rc == 0)
        rc = snapshot_labels_apply(&r.labels, &info->labels, paths, n_paths, info->name, err);
    if (rc == 0) {
        r.updated_ns = snapshot_now_ns();
        rc = put(&t, ns, sn, info->name, &r, err);
    }
    struct snapshot_info bi = {0};
    if (rc == 0) {
        /* the backend keeps the inherited labels only */
        struct snapshot_info inner = {.name = r.backend_key};
        snapshot_labels_inherited(&r.labels, &inner.labels);
        rc = b->ops->update(b->self, &inner, NULL, 0, &bi, err);
        labels_clear(&inner.labels);
    }
    rc = finish(&t, rc, err);
    if (rc == 0 && ret)
        to_info(info->name, &r, bi.kind, ret);
    snapshot_info_clear(&bi);
    record_clear(&r);
    return rc;
}

int snapshots_metadata_commit(struct snapshots_metadata *ms, const char *sn, const char *ns,
                              const char *name, const char *key, const struct labels *labels,
                              const char *lease, struct berth_error **err)
{
    struct snapshotter *b = snapshots_metadata_backend(ms, sn);
    if (!b)
        return snapshots_metadata_check(ms, sn, err);
    if (!name || !name[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "name must not be empty");
    if (labels && labels_validate(labels, err) < 0)
        return -1;
    struct metadata_txn t;
    if (metadata_txn_begin(ms->db, true, &t, err) < 0)
        return -1;
    struct snapshot_record existing, active = {0};
    int found = get(&t, ns, sn, name, &existing, err);
    int r = 0;
    if (found != 0) {
        if (found > 0)
            record_clear(&existing);
        r = found > 0 ? err_make(err, ERR_ALREADY_EXISTS, 0, "snapshot \"%s\"", name) : -1;
    }
    if (r == 0 && (found = get(&t, ns, sn, key, &active, err)) <= 0)
        r = found == 0 ? not_exist(err, key ? key : "") : -1;
    _cleanup_free_ char *name_key = NULL;
    if (r == 0)
        r = next_backend_key(&t, ns, name, &name_key, err);
    struct snapshot_record rec = {.backend_key = name_key, .parent = active.parent};
    rec.created_ns = rec.updated_ns = snapshot_now_ns();
    for (size_t i = 0; labels && i < labels->count; i++)
        if (labels->items[i].value[0])
            labels_set(&rec.labels, labels->items[i].key, labels->items[i].value);
    labels_sort(&rec.labels);
    if (r == 0 && rec.parent && rec.parent[0]) {
        struct snapshot_record p;
        if ((found = get(&t, ns, sn, rec.parent, &p, err)) <= 0)
            r = found == 0 ? err_make(err, ERR_NOT_FOUND, 0, "parent snapshot %s does not exist",
                                      rec.parent)
                           : -1;
        else
            record_clear(&p);
    }
    if (r == 0)
        r = put(&t, ns, sn, name, &rec, err);
    if (r == 0)
        r = del(&t, ns, sn, key, err);
    _cleanup_free_ char *type = xasprintf("%s/%s", LEASE_RESOURCE_SNAPSHOTS, sn);
    if (r == 0 && lease && lease[0]) {
        r = leases_remove_resource_txn(&t, ns, lease, type, key, err);
        if (r == 0)
            r = leases_add_resource_txn(&t, ns, lease, type, name, err);
    }
    snapshots_metadata_backend_lock(ms, false);
    if (r == 0) {
        /* inside the transaction, as containerd does, so a failed commit changes nothing */
        struct labels inherited = {0};
        snapshot_labels_inherited(&rec.labels, &inherited);
        r = b->ops->commit(b->self, name_key, active.backend_key, &inherited, err);
        labels_clear(&inherited);
    }
    labels_clear(&rec.labels);
    record_clear(&active);
    r = finish(&t, r, err);
    snapshots_metadata_backend_unlock(ms);
    return r;
}

static void remove_backend(struct snapshotter *b, const char *sn, const char *bkey)
{
    struct berth_error *e = NULL;
    if (b->ops->remove(b->self, bkey, &e) < 0 || b->ops->cleanup(b->self, &e) < 0) {
        log_record(LOG_WARN, LOG_FIELDS("snapshotter", sn, "key", bkey, "error", e->message),
                   "remove backend snapshot");
        err_free(e);
    }
}

int snapshots_metadata_remove(struct snapshots_metadata *ms, const char *sn, const char *ns,
                              const char *key, const char *lease, struct berth_error **err)
{
    struct snapshotter *b = snapshots_metadata_backend(ms, sn);
    if (!b)
        return snapshots_metadata_check(ms, sn, err);
    struct metadata_txn t;
    if (metadata_txn_begin(ms->db, true, &t, err) < 0)
        return -1;
    struct snapshot_record r = {0};
    int found = get(&t, ns, sn, key, &r, err);
    int rc = found == 0 ? not_exist(err, key ? key : "") : found < 0 ? -1 : 0;
    const char *child = key;
    if (rc == 0 && (rc = each(&t, ns, sn, find_child, &child, err)) == 0 && !child)
        rc = err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot remove snapshot with child");
    if (rc == 0)
        rc = del(&t, ns, sn, key, err);
    if (rc == 0 && lease && lease[0]) {
        _cleanup_free_ char *type = xasprintf("%s/%s", LEASE_RESOURCE_SNAPSHOTS, sn);
        rc = leases_remove_resource_txn(&t, ns, lease, type, key, err);
    }
    rc = finish(&t, rc, err);
    /* the backend snapshot has no other record: it goes now rather than at the next GC */
    if (rc == 0)
        remove_backend(b, sn, r.backend_key);
    record_clear(&r);
    return rc;
}

struct walk_collect {
    struct snapshotter *b;
    const struct filter *filter;
    struct snapshot_info *items;
    size_t n, cap;
};

static bool collect_one(const char *key, const struct snapshot_record *r, void *arg)
{
    struct walk_collect *c = arg;
    struct snapshot_info info;
    to_info(key, (struct snapshot_record *)r, backend_kind(c->b, r->backend_key), &info);
    if (c->filter && !filters_match(c->filter, snapshot_info_filter_field, &info)) {
        snapshot_info_clear(&info);
        return true;
    }
    c->items = xreallocarray_grow(c->items, &c->cap, c->n + 1, sizeof(*c->items));
    c->items[c->n++] = info;
    return true;
}

int snapshots_metadata_walk(struct snapshots_metadata *ms, const char *sn, const char *ns,
                            const struct filter *filter, snapshot_walk_fn fn, void *arg,
                            struct berth_error **err)
{
    struct snapshotter *b = snapshots_metadata_backend(ms, sn);
    if (!b)
        return snapshots_metadata_check(ms, sn, err);
    struct metadata_txn t;
    if (metadata_txn_begin(ms->db, false, &t, err) < 0)
        return -1;
    struct walk_collect c = {.b = b, .filter = filter};
    int r = each(&t, ns, sn, collect_one, &c, err);
    metadata_txn_abort(&t);
    for (size_t i = 0; i < c.n; i++) {
        if (r == 0)
            r = fn(&c.items[i], arg, err);
        snapshot_info_clear(&c.items[i]);
    }
    free(c.items);
    return r;
}

int snapshots_metadata_cleanup(struct snapshots_metadata *ms, const char *sn,
                               struct berth_error **err)
{
    struct snapshotter *b = snapshots_metadata_backend(ms, sn);
    if (!b)
        return snapshots_metadata_check(ms, sn, err);
    return b->ops->cleanup(b->self, err);
}
