/*
 * A backend snapshotter's own records: snapshot keys, ids, kinds, parent chains, labels, times
 * and committed usage, in an LMDB environment under the snapshotter's root (metadata.mdb).
 */
#pragma once

#include "core/snapshots/snapshots.h"

#include <lmdb.h>

struct snapshot_store;

int snapshot_store_open(const char *path, struct snapshot_store **ret, struct berth_error **err);
void snapshot_store_close(struct snapshot_store *store);

struct snapshot_txn {
    MDB_txn *txn;
    struct snapshot_store *store;
};
int snapshot_txn_begin(struct snapshot_store *store, bool write, struct snapshot_txn *ret,
                       struct berth_error **err);
int snapshot_txn_commit(struct snapshot_txn *t, struct berth_error **err);
void snapshot_txn_abort(struct snapshot_txn *t);

/* What a backend needs to build mounts: its id, kind and parents' ids (nearest first). */
struct storage_snapshot {
    char *id;
    enum snapshot_kind kind;
    char **parent_ids;
    size_t n_parent_ids;
};
void storage_snapshot_clear(struct storage_snapshot *s);

/* Creates an active or view snapshot of a committed parent ("" or NULL for none). */
int storage_create(struct snapshot_txn *t, enum snapshot_kind kind, const char *key,
                   const char *parent, const struct labels *labels, struct storage_snapshot *ret,
                   struct berth_error **err);
/* An active or view snapshot (FailedPrecondition for a committed one). */
int storage_get_snapshot(struct snapshot_txn *t, const char *key, struct storage_snapshot *ret,
                         struct berth_error **err);
/* Any of ret_id, ret_info, ret_usage may be NULL. */
int storage_get_info(struct snapshot_txn *t, const char *key, char **ret_id,
                     struct snapshot_info *ret_info, struct snapshot_usage *ret_usage,
                     struct berth_error **err);
int storage_update_info(struct snapshot_txn *t, const struct snapshot_info *info,
                        const char *const *paths, size_t n_paths, struct snapshot_info *ret,
                        struct berth_error **err);
/* Turns the active snapshot `key` into the committed `name`, keeping its id. */
int storage_commit_active(struct snapshot_txn *t, const char *key, const char *name,
                          const struct snapshot_usage *usage, const struct labels *labels,
                          struct berth_error **err);
int storage_remove(struct snapshot_txn *t, const char *key, char **ret_id,
                   enum snapshot_kind *ret_kind, struct berth_error **err);
int storage_walk(struct snapshot_txn *t, const struct filter *filter, snapshot_walk_fn fn,
                 void *arg, struct berth_error **err);
/* True when some record has this id. */
bool storage_id_in_use(struct snapshot_txn *t, const char *id);

/*
 * Label updates as containerd's stores apply them: no paths replaces every label; "labels"
 * likewise; "labels.<k>" sets or (when empty/absent) removes one. Other paths are InvalidArgument.
 */
int snapshot_labels_apply(struct labels *current, const struct labels *requested,
                          const char *const *paths, size_t n_paths, const char *name,
                          struct berth_error **err);
int64_t snapshot_now_ns(void);
