/* LMDB environment, tables and transactions for the metadata store. */
#include "core/metadata/db.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *const table_names[TABLE_COUNT] = {
    [TABLE_META] = "meta",
    [TABLE_NAMESPACES] = "namespaces",
    [TABLE_IMAGES] = "images",
    [TABLE_CONTAINERS] = "containers",
    [TABLE_CONTENT] = "content",
    [TABLE_LEASES] = "leases",
    [TABLE_SNAPSHOTS] = "snapshots",
    [TABLE_SANDBOXES] = "sandboxes",
    [TABLE_LEASE_RESOURCES] = "lease_resources",
    [TABLE_INGESTS] = "ingests",
};

struct metadata_db {
    MDB_env *env;
    MDB_dbi tables[TABLE_COUNT];
    bool content_shared;
    pthread_rwlock_t blob_lock;
};

void metadata_db_blob_lock_shared(struct metadata_db *db)
{
    pthread_rwlock_rdlock(&db->blob_lock);
}

void metadata_db_blob_lock_exclusive(struct metadata_db *db)
{
    pthread_rwlock_wrlock(&db->blob_lock);
}

void metadata_db_blob_unlock(struct metadata_db *db)
{
    pthread_rwlock_unlock(&db->blob_lock);
}

void metadata_db_set_content_shared(struct metadata_db *db, bool shared)
{
    db->content_shared = shared;
}

bool metadata_db_content_shared(const struct metadata_db *db)
{
    return db->content_shared;
}

int metadata_error(struct berth_error **err, int rc, const char *what)
{
    enum err_kind kind = rc == MDB_MAP_FULL ? ERR_RESOURCE_EXHAUSTED : ERR_INTERNAL;
    return err_make(err, kind, 0, "metadata %s: %s", what, mdb_strerror(rc));
}

int metadata_db_open(const char *dir, struct metadata_db **ret, struct berth_error **err)
{
    if (fs_mkdir_p(dir, 0700, err) < 0)
        return -1;
    struct metadata_db *db = xcalloc(1, sizeof(*db));
    pthread_rwlock_init(&db->blob_lock, NULL);
    int rc = mdb_env_create(&db->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(db->env, TABLE_COUNT + 4);
    /* The map is address space, not memory: sparse and grown by the kernel as pages are used. */
    if (rc == 0)
        rc = mdb_env_set_mapsize(db->env, (size_t)64 << 30);
    _cleanup_free_ char *path = xasprintf("%s/meta.mdb", dir);
    /* NOTLS: read transactions move between worker threads. */
    if (rc == 0)
        rc = mdb_env_open(db->env, path, MDB_NOSUBDIR | MDB_NOTLS, 0600);
    if (rc != 0) {
        mdb_env_close(db->env);
        free(db);
        return err_make(err, ERR_INTERNAL, 0, "open metadata database %s: %s", path,
                        mdb_strerror(rc));
    }
    MDB_txn *txn;
    rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    for (int i = 0; rc == 0 && i < TABLE_COUNT; i++)
        rc = mdb_dbi_open(txn, table_names[i], MDB_CREATE, &db->tables[i]);
    if (rc == 0) {
        MDB_val k = {6, (void *)"schema"}, v;
        if (mdb_get(txn, db->tables[TABLE_META], &k, &v) == MDB_NOTFOUND) {
            char version[16];
            int n = snprintf(version, sizeof(version), "%d", METADATA_SCHEMA_VERSION);
            v = (MDB_val){(size_t)n, version};
            rc = mdb_put(txn, db->tables[TABLE_META], &k, &v, 0);
        } else if (v.mv_size > 8 || atoi((const char *)v.mv_data) > METADATA_SCHEMA_VERSION) {
            mdb_txn_abort(txn);
            mdb_env_close(db->env);
            free(db);
            return err_make(err, ERR_FAILED_PRECONDITION, 0,
                            "metadata database %s is from a newer Berth (schema %.*s)", path,
                            (int)v.mv_size, (const char *)v.mv_data);
        }
    }
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc != 0) {
        mdb_env_close(db->env);
        free(db);
        return err_make(err, ERR_INTERNAL, 0, "initialise metadata database %s: %s", path,
                        mdb_strerror(rc));
    }
    *ret = db;
    return 0;
}

void metadata_db_close(struct metadata_db *db)
{
    if (!db)
        return;
    mdb_env_close(db->env);
    pthread_rwlock_destroy(&db->blob_lock);
    free(db);
}

int metadata_txn_begin(struct metadata_db *db, bool write, struct metadata_txn *ret,
                       struct berth_error **err)
{
    ret->db = db;
    ret->write = write;
    int rc = mdb_txn_begin(db->env, NULL, write ? 0 : MDB_RDONLY, &ret->txn);
    if (rc != 0)
        return metadata_error(err, rc, "begin transaction");
    return 0;
}

int metadata_txn_commit(struct metadata_txn *t, struct berth_error **err)
{
    int rc = mdb_txn_commit(t->txn);
    t->txn = NULL;
    if (rc != 0)
        return metadata_error(err, rc, "commit");
    return 0;
}

void metadata_txn_abort(struct metadata_txn *t)
{
    if (t->txn)
        mdb_txn_abort(t->txn);
    t->txn = NULL;
}

MDB_dbi metadata_table(const struct metadata_txn *t, enum metadata_table table)
{
    return t->db->tables[table];
}

struct metadata_key metadata_key_make(const char *namespace_name, const char *name)
{
    size_t a = strlen(namespace_name), b = name ? strlen(name) : 0;
    struct metadata_key k = {.data = xmalloc(a + 1 + b + 1), .len = a + 1 + b};
    memcpy(k.data, namespace_name, a + 1);
    if (b)
        memcpy(k.data + a + 1, name, b);
    k.data[a + 1 + b] = '\0';
    return k;
}

void metadata_key_free(struct metadata_key *k)
{
    free(k->data);
    k->data = NULL;
}

bool metadata_namespace_has_records(const struct metadata_txn *t, enum metadata_table table,
                                    const char *namespace_name)
{
    struct metadata_key prefix = metadata_key_make(namespace_name, NULL);
    MDB_cursor *cur;
    bool found = false;
    if (mdb_cursor_open(t->txn, metadata_table(t, table), &cur) == 0) {
        MDB_val k = {prefix.len, prefix.data}, v;
        if (mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) == 0)
            found = k.mv_size >= prefix.len && memcmp(k.mv_data, prefix.data, prefix.len) == 0;
        mdb_cursor_close(cur);
    }
    metadata_key_free(&prefix);
    return found;
}

int metadata_each_in_namespace(const struct metadata_txn *t, enum metadata_table table,
                               const char *namespace_name, metadata_record_fn fn, void *arg,
                               struct berth_error **err)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, metadata_table(t, table), &cur);
    if (rc)
        return metadata_error(err, rc, "open cursor");
    struct metadata_key prefix = metadata_key_make(namespace_name, NULL);
    MDB_val k = {prefix.len, prefix.data}, v;
    int r = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && r == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < prefix.len || memcmp(k.mv_data, prefix.data, prefix.len) != 0)
            break;
        r = fn((const char *)k.mv_data + prefix.len, k.mv_size - prefix.len, v.mv_data, v.mv_size,
               arg, err);
    }
    if (r == 0 && rc != 0 && rc != MDB_NOTFOUND)
        r = metadata_error(err, rc, "iterate records");
    mdb_cursor_close(cur);
    metadata_key_free(&prefix);
    return r < 0 ? -1 : 0;
}
