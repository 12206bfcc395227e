/*
 * The metadata database: one LMDB environment holding every namespaced record (namespaces,
 * images, containers, content labels, leases, snapshots, sandboxes). Each change that touches
 * several records is one write transaction; readers never block writers.
 */
#pragma once

#include "lib/base/errors.h"

#include <lmdb.h>
#include <stdbool.h>

/* Bumped when the record layout changes; older databases are migrated on open. */
enum { METADATA_SCHEMA_VERSION = 1 };

/* The tables ("sub-databases"); keys are "<namespace>\0<name>" unless noted. */
enum metadata_table {
    TABLE_META,       /* "schema" → version */
    TABLE_NAMESPACES, /* "<namespace>" → labels */
    TABLE_IMAGES,
    TABLE_CONTAINERS,
    TABLE_CONTENT,
    TABLE_LEASES,
    TABLE_SNAPSHOTS,
    TABLE_SANDBOXES,
    TABLE_LEASE_RESOURCES, /* "<namespace>\0<lease>\0<type>\0<id>" → empty */
    TABLE_INGESTS,         /* "<namespace>\0<ref>" → the local ingest behind a client's ref */
    TABLE_COUNT,
};

struct metadata_db;

/* Opens (creating) <dir>/meta.mdb; dir is made 0700. */
int metadata_db_open(const char *dir, struct metadata_db **ret, struct berth_error **err);
void metadata_db_close(struct metadata_db *db);
/* content_sharing_policy: "shared" (true) lets namespaces reuse each other's blobs. */
void metadata_db_set_content_shared(struct metadata_db *db, bool shared);
bool metadata_db_content_shared(const struct metadata_db *db);
/*
 * The blob lock: content commits hold it shared from the local commit until their record is in
 * the database; garbage collection holds it exclusively while it removes unreferenced blobs, so
 * it never removes a blob whose record is about to be written.
 */
void metadata_db_blob_lock_shared(struct metadata_db *db);
void metadata_db_blob_lock_exclusive(struct metadata_db *db);
void metadata_db_blob_unlock(struct metadata_db *db);

struct metadata_txn {
    MDB_txn *txn;
    struct metadata_db *db;
    bool write;
};

int metadata_txn_begin(struct metadata_db *db, bool write, struct metadata_txn *ret,
                       struct berth_error **err);
int metadata_txn_commit(struct metadata_txn *t, struct berth_error **err);
void metadata_txn_abort(struct metadata_txn *t);
MDB_dbi metadata_table(const struct metadata_txn *t, enum metadata_table table);

/* Key helpers: "<namespace>\0<name>". */
struct metadata_key {
    char *data;
    size_t len;
};
struct metadata_key metadata_key_make(const char *namespace_name, const char *name);
void metadata_key_free(struct metadata_key *k);
/* True when any record of `table` belongs to the namespace. */
bool metadata_namespace_has_records(const struct metadata_txn *t, enum metadata_table table,
                                    const char *namespace_name);
/*
 * Visits every record of `table` in a namespace, in key order: fn gets the name (the key after
 * "<namespace>\0", not NUL-terminated) and the value. fn returns 0 to go on or < 0 (with *err
 * set) to stop with that error.
 */
typedef int (*metadata_record_fn)(const char *name, size_t name_len, const void *value,
                                  size_t value_len, void *arg, struct berth_error **err);
int metadata_each_in_namespace(const struct metadata_txn *t, enum metadata_table table,
                               const char *namespace_name, metadata_record_fn fn, void *arg,
                               struct berth_error **err);
/* An LMDB failure as a Berth error. */
int metadata_error(struct berth_error **err, int rc, const char *what);
struct plugin_registration;
extern const struct plugin_registration metadata_plugin;
