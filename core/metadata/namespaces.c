/* Namespace records: name → labels, in the namespaces table. */
#include "core/metadata/namespaces.h"
#include "lib/base/alloc.h"
#include "lib/identifiers/identifiers.h"

#include <stdlib.h>
#include <string.h>

/* What each table holds, for the "must be empty" message, in containerd's words. */
static const struct {
    enum metadata_table table;
    const char *what;
} namespaced_tables[] = {
    {TABLE_IMAGES, "images"},       {TABLE_CONTENT, "blobs"}, {TABLE_CONTAINERS, "containers"},
    {TABLE_SNAPSHOTS, "snapshots"}, {TABLE_LEASES, "leases"}, {TABLE_SANDBOXES, "sandboxes"},
};

void namespace_record_clear(struct namespace_record *ns)
{
    free(ns->name);
    labels_clear(&ns->labels);
    ns->name = NULL;
}

static int put_labels(struct metadata_txn *t, const char *name, const struct labels *labels,
                      struct berth_error **err)
{
    struct record_buf b = {0};
    struct labels sorted = {0};
    if (labels)
        labels_copy(&sorted, labels);
    labels_sort(&sorted);
    record_put_labels(&b, &sorted);
    labels_clear(&sorted);
    MDB_val k = {strlen(name), (void *)name}, v = {b.len, b.data};
    int rc = mdb_put(t->txn, metadata_table(t, TABLE_NAMESPACES), &k, &v, 0);
    free(b.data);
    return rc ? metadata_error(err, rc, "put namespace") : 0;
}

/* Returns 1 when found (labels filled), 0 when missing, -1 on error. */
static int read_labels(const struct metadata_txn *t, const char *name, struct labels *out,
                       struct berth_error **err)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    int rc = mdb_get(t->txn, metadata_table(t, TABLE_NAMESPACES), &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return metadata_error(err, rc, "get namespace");
    struct record_reader r = {v.mv_data, (const uint8_t *)v.mv_data + v.mv_size, false};
    record_get_labels(&r, out);
    if (r.failed)
        return err_make(err, ERR_DATA_LOSS, 0, "namespace %s: corrupt record", name);
    return 1;
}

static int validate(const char *name, const struct labels *labels, struct berth_error **err)
{
    if (identifier_validate(name, err) < 0)
        return -1;
    if (labels && labels_validate(labels, err) < 0)
        return err_wrap(err, "namespace.Labels");
    return 0;
}

int namespaces_create(struct metadata_db *db, const char *name, const struct labels *labels,
                      struct berth_error **err)
{
    if (validate(name, labels, err) < 0)
        return -1;
    struct metadata_txn t;
    if (metadata_txn_begin(db, true, &t, err) < 0)
        return -1;
    struct labels existing = {0};
    int found = read_labels(&t, name, &existing, err);
    labels_clear(&existing);
    if (found != 0) {
        metadata_txn_abort(&t);
        return found < 0 ? -1 : err_make(err, ERR_ALREADY_EXISTS, 0, "namespace \"%s\"", name);
    }
    /* Empty values are not stored: setting a label to "" removes it in containerd. */
    struct labels kept = {0};
    for (size_t i = 0; labels && i < labels->count; i++)
        if (labels->items[i].value[0])
            labels_set(&kept, labels->items[i].key, labels->items[i].value);
    int r = put_labels(&t, name, &kept, err);
    labels_clear(&kept);
    if (r < 0) {
        metadata_txn_abort(&t);
        return -1;
    }
    return metadata_txn_commit(&t, err);
}

int namespaces_ensure(struct metadata_txn *t, const char *name, struct berth_error **err)
{
    struct labels existing = {0};
    int found = read_labels(t, name, &existing, err);
    labels_clear(&existing);
    if (found < 0)
        return -1;
    if (found == 0) {
        if (identifier_validate(name, err) < 0)
            return -1;
        return put_labels(t, name, NULL, err);
    }
    return 0;
}

int namespaces_get(struct metadata_db *db, const char *name, struct namespace_record *ret,
                   struct berth_error **err)
{
    struct metadata_txn t;
    if (metadata_txn_begin(db, false, &t, err) < 0)
        return -1;
    *ret = (struct namespace_record){.name = xstrdup(name)};
    int r = read_labels(&t, name, &ret->labels, err);
    metadata_txn_abort(&t);
    if (r < 0) {
        namespace_record_clear(ret);
        return -1;
    }
    return 0;
}

int namespaces_list(struct metadata_db *db, struct namespace_record **ret, size_t *ret_count,
                    struct berth_error **err)
{
    struct metadata_txn t;
    if (metadata_txn_begin(db, false, &t, err) < 0)
        return -1;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t.txn, metadata_table(&t, TABLE_NAMESPACES), &cur);
    if (rc) {
        metadata_txn_abort(&t);
        return metadata_error(err, rc, "list namespaces");
    }
    struct namespace_record *list = NULL;
    size_t count = 0, cap = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        list = xreallocarray_grow(list, &cap, count + 1, sizeof(*list));
        struct namespace_record *ns = &list[count++];
        *ns = (struct namespace_record){.name = xstrndup(k.mv_data, k.mv_size)};
        struct record_reader r = {v.mv_data, (const uint8_t *)v.mv_data + v.mv_size, false};
        record_get_labels(&r, &ns->labels);
    }
    mdb_cursor_close(cur);
    metadata_txn_abort(&t);
    *ret = list;
    *ret_count = count;
    return 0;
}

void namespaces_list_free(struct namespace_record *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        namespace_record_clear(&list[i]);
    free(list);
}

int namespaces_update(struct metadata_db *db, const char *name, const struct labels *labels,
                      const char *const *paths, size_t n_paths, struct namespace_record *ret,
                      struct berth_error **err)
{
    if (validate(name, labels, err) < 0)
        return -1;
    for (size_t i = 0; i < n_paths; i++)
        if (strncmp(paths[i], "labels.", 7) != 0)
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "cannot update \"%s\" field", paths[i]);
    struct metadata_txn t;
    if (metadata_txn_begin(db, true, &t, err) < 0)
        return -1;
    struct labels current = {0};
    if (read_labels(&t, name, &current, err) < 0) {
        metadata_txn_abort(&t);
        return -1;
    }
    if (n_paths == 0) {
        labels_clear(&current);
        for (size_t i = 0; labels && i < labels->count; i++)
            if (labels->items[i].value[0])
                labels_set(&current, labels->items[i].key, labels->items[i].value);
    } else {
        for (size_t i = 0; i < n_paths; i++) {
            const char *key = paths[i] + 7;
            const char *value = labels ? labels_get(labels, key) : NULL;
            if (value && value[0])
                labels_set(&current, key, value);
            else
                labels_remove(&current, key);
        }
    }
    if (put_labels(&t, name, &current, err) < 0 || metadata_txn_commit(&t, err) < 0) {
        metadata_txn_abort(&t);
        labels_clear(&current);
        return -1;
    }
    labels_sort(&current);
    *ret = (struct namespace_record){.name = xstrdup(name), .labels = current};
    return 0;
}

int namespaces_delete(struct metadata_db *db, const char *name, struct berth_error **err)
{
    struct metadata_txn t;
    if (metadata_txn_begin(db, true, &t, err) < 0)
        return -1;
    char what[256] = "";
    for (size_t i = 0; i < sizeof(namespaced_tables) / sizeof(namespaced_tables[0]); i++) {
        if (metadata_namespace_has_records(&t, namespaced_tables[i].table, name)) {
            if (what[0])
                strncat(what, ", ", sizeof(what) - strlen(what) - 1);
            strncat(what, namespaced_tables[i].what, sizeof(what) - strlen(what) - 1);
        }
    }
    if (what[0]) {
        metadata_txn_abort(&t);
        return err_make(err, ERR_FAILED_PRECONDITION, 0,
                        "namespace \"%s\" must be empty, but it still has %s", name, what);
    }
    MDB_val k = {strlen(name), (void *)name};
    int rc = mdb_del(t.txn, metadata_table(&t, TABLE_NAMESPACES), &k, NULL);
    if (rc == MDB_NOTFOUND) {
        metadata_txn_abort(&t);
        return err_make(err, ERR_NOT_FOUND, 0, "namespace \"%s\"", name);
    }
    if (rc) {
        metadata_txn_abort(&t);
        return metadata_error(err, rc, "delete namespace");
    }
    return metadata_txn_commit(&t, err);
}
