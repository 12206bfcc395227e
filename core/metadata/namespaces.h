/* Namespaces: the top of every record's key; labels; deletion only when empty. */
#pragma once

#include "core/metadata/db.h"
#include "core/metadata/labels.h"

struct namespace_record {
    char *name;
    struct labels labels;
};

void namespace_record_clear(struct namespace_record *ns);

int namespaces_create(struct metadata_db *db, const char *name, const struct labels *labels,
                      struct berth_error **err);
/* A missing namespace reads as one without labels, as containerd's store answers. */
int namespaces_get(struct metadata_db *db, const char *name, struct namespace_record *ret,
                   struct berth_error **err);
/* All namespaces, sorted by name. */
int namespaces_list(struct metadata_db *db, struct namespace_record **ret, size_t *ret_count,
                    struct berth_error **err);
void namespaces_list_free(struct namespace_record *list, size_t count);
/*
 * Updates labels as containerd's namespaces service does: with no paths every label is replaced;
 * each path must be "labels.<key>" (set to labels[key], or removed when that is absent or empty).
 * A missing namespace is created. Returns the updated record in *ret.
 */
int namespaces_update(struct metadata_db *db, const char *name, const struct labels *labels,
                      const char *const *paths, size_t n_paths, struct namespace_record *ret,
                      struct berth_error **err);
/* Fails with FailedPrecondition while the namespace still holds any record. */
int namespaces_delete(struct metadata_db *db, const char *name, struct berth_error **err);
/* Creates the namespace if missing, inside an existing write transaction (implicit creation). */
int namespaces_ensure(struct metadata_txn *t, const char *name, struct berth_error **err);
