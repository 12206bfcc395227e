/* io.containerd.service.v1 "snapshots-service", and GC's removal of unreferenced backend snapshots.
 */
#include "core/metadata/gc.h"
#include "core/plugin/plugin.h"
#include "core/snapshots/metadata.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"

#include <string.h>

struct key_set {
    char **keys;
    size_t n, cap;
};

static bool key_set_has(const struct key_set *s, const char *key)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->keys[i], key) == 0)
            return true;
    return false;
}

/* The backend keys that records of snapshotter `sn` name, in every namespace. */
static void referenced_keys(struct metadata_db *db, const char *sn, struct key_set *out)
{
    struct metadata_txn t;
    if (metadata_txn_begin(db, false, &t, NULL) < 0)
        return;
    MDB_cursor *cur;
    if (mdb_cursor_open(t.txn, metadata_table(&t, TABLE_SNAPSHOTS), &cur) == 0) {
        MDB_val k, v;
        size_t sl = strlen(sn);
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            const char *p = k.mv_data;
            const char *a = memchr(p, '\0', k.mv_size);
            size_t rest = a ? k.mv_size - (size_t)(a + 1 - p) : 0;
            if (!a || rest <= sl || memcmp(a + 1, sn, sl) != 0 || a[1 + sl] != '\0')
                continue;
            struct record_reader r = {v.mv_data, (const uint8_t *)v.mv_data + v.mv_size, false};
            char *bkey = record_get_string(&r);
            if (!bkey)
                continue;
            out->keys = xreallocarray_grow(out->keys, &out->cap, out->n + 1, sizeof(char *));
            out->keys[out->n++] = bkey;
        }
        mdb_cursor_close(cur);
    }
    metadata_txn_abort(&t);
}

static int list_name(const struct snapshot_info *info, void *arg, struct berth_error **err)
{
    struct key_set *s = arg;
    s->keys = xreallocarray_grow(s->keys, &s->cap, s->n + 1, sizeof(char *));
    s->keys[s->n++] = xstrdup(info->name);
    return 0;
}

static void key_set_clear(struct key_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->keys[i]);
    free(s->keys);
    *s = (struct key_set){0};
}

size_t snapshots_metadata_collect_backends(struct snapshots_metadata *ms)
{
    struct metadata_db *db = snapshots_metadata_db(ms);
    size_t removed = 0;
    for (size_t i = 0; i < snapshots_metadata_backend_count(ms); i++) {
        const char *sn = snapshots_metadata_backend_name(ms, i);
        struct snapshotter *b = snapshots_metadata_backend(ms, sn);
        struct key_set keep = {0};
        snapshots_metadata_backend_lock(ms, true);
        referenced_keys(db, sn, &keep);
        /* children before parents: repeat while something could be removed */
        for (bool progress = true; progress;) {
            progress = false;
            struct key_set all = {0};
            b->ops->walk(b->self, NULL, list_name, &all, NULL);
            for (size_t j = 0; j < all.n; j++) {
                if (key_set_has(&keep, all.keys[j]))
                    continue;
                if (b->ops->remove(b->self, all.keys[j], NULL) == 0) {
                    removed++;
                    progress = true;
                }
            }
            key_set_clear(&all);
        }
        key_set_clear(&keep);
        struct berth_error *e = NULL;
        int cleaned = b->ops->cleanup(b->self, &e);
        snapshots_metadata_backend_unlock(ms);
        if (cleaned < 0) {
            log_record(LOG_WARN, LOG_FIELDS("snapshotter", sn, "error", e->message),
                       "snapshot cleanup failed");
            err_free(e);
        }
    }
    return removed;
}

static size_t gc_collect(void *arg)
{
    return snapshots_metadata_collect_backends(arg);
}

static int store_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct metadata_db *db = plugin_context_get_by_type(ctx, PLUGIN_METADATA);
    if (!db)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "no metadata database");
    struct snapshots_metadata *ms = snapshots_metadata_new(db);
    static const char *const ids[] = {"overlayfs", "native"};
    for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
        struct snapshotter *b = plugin_context_get(ctx, PLUGIN_SNAPSHOTTER, ids[i]);
        if (b)
            snapshots_metadata_add_backend(ms, b);
    }
    metadata_gc_add_collector(db, gc_collect, ms);
    *ret = ms;
    return 0;
}

static void store_close(void *instance)
{
    struct snapshots_metadata *ms = instance;
    metadata_gc_remove_collector(snapshots_metadata_db(ms), gc_collect, ms);
    snapshots_metadata_free(ms);
}

static const char *const requires[] = {PLUGIN_METADATA, PLUGIN_SNAPSHOTTER, NULL};

const struct plugin_registration snapshots_service_store_plugin = {
    .type = PLUGIN_SERVICE,
    .id = "snapshots-service",
    .requires = requires,
    .init = store_init,
    .close = store_close,
};
