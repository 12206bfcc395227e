/* Mark-and-sweep garbage collection over the metadata records and the local content store. */
#include "core/metadata/gc.h"
#include "core/metadata/containers.h"
#include "core/metadata/content.h"
#include "core/metadata/images.h"
#include "core/metadata/labels.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/loop/loop.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- a set of strings (open addressing, FNV-1a) ---- */

struct strset {
    char **slots;
    size_t cap, count;
};

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static bool strset_add(struct strset *set, char *owned);

static void strset_grow(struct strset *set)
{
    struct strset bigger = {.cap = set->cap ? set->cap * 2 : 64};
    bigger.slots = xcalloc(bigger.cap, sizeof(char *));
    for (size_t i = 0; i < set->cap; i++)
        if (set->slots[i])
            strset_add(&bigger, set->slots[i]);
    free(set->slots);
    *set = bigger;
}

/* Takes ownership; returns true when newly added. */
static bool strset_add(struct strset *set, char *owned)
{
    if ((set->count + 1) * 2 > set->cap)
        strset_grow(set);
    size_t i = hash(owned, strlen(owned)) & (set->cap - 1);
    while (set->slots[i]) {
        if (strcmp(set->slots[i], owned) == 0) {
            free(owned);
            return false;
        }
        i = (i + 1) & (set->cap - 1);
    }
    set->slots[i] = owned;
    set->count++;
    return true;
}

static bool strset_has(const struct strset *set, const char *s)
{
    if (!set->cap)
        return false;
    size_t i = hash(s, strlen(s)) & (set->cap - 1);
    while (set->slots[i]) {
        if (strcmp(set->slots[i], s) == 0)
            return true;
        i = (i + 1) & (set->cap - 1);
    }
    return false;
}

static void strset_clear(struct strset *set)
{
    for (size_t i = 0; i < set->cap; i++)
        free(set->slots[i]);
    free(set->slots);
    *set = (struct strset){0};
}

/* ---- expiry ---- */

bool gc_parse_expire(const char *value, int64_t *ret_ns)
{
    struct tm tm = {0};
    const char *p = strptime(value, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return false;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 9)
                frac = frac * 10 + (*p - '0');
        for (; digits < 9; digits++)
            frac *= 10;
    }
    long offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
            return false;
        offset = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    *ret_ns = ((int64_t)timegm(&tm) - offset) * 1000000000LL + frac;
    return true;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool expired(const struct labels *labels, int64_t now)
{
    const char *v = labels_get(labels, GC_LABEL_EXPIRE);
    int64_t when;
    return v && gc_parse_expire(v, &when) && when < now;
}

/* ---- marking ---- */

struct gc_state {
    struct metadata_txn *t;
    struct strset marked; /* "c\0<ns>\0<digest>" flattened as "c|ns|digest" */
    char **queue;         /* content keys marked but not yet followed */
    size_t queue_len, queue_cap;
    struct strset snapshots; /* "<ns>\x1f<snapshotter>\x1f<key>" */
    char **snapshot_queue;
    size_t snapshot_queue_len, snapshot_queue_cap;
};

static void mark_snapshot(struct gc_state *st, const char *ns, const char *snapshotter,
                          const char *key);

static char *content_key(const char *ns, const char *digest)
{
    return xasprintf("%s\x1f%s", ns, digest);
}

/* Marks content; queues it for following unless flat. */
static void mark_content(struct gc_state *st, const char *ns, const char *digest, bool follow)
{
    char *key = content_key(ns, digest);
    if (!strset_add(&st->marked, key))
        return;
    if (follow) {
        st->queue =
            xreallocarray_grow(st->queue, &st->queue_cap, st->queue_len + 1, sizeof(char *));
        st->queue[st->queue_len++] = xstrdup(key);
    }
}

/* containerd.io/gc.ref.content and containerd.io/gc.ref.content.<anything> name content. */
static void mark_label_refs(struct gc_state *st, const char *ns, const struct labels *labels)
{
    size_t n = strlen(GC_LABEL_REF_CONTENT), ns_len = strlen(GC_LABEL_REF_SNAPSHOT);
    for (size_t i = 0; i < labels->count; i++) {
        const char *k = labels->items[i].key;
        if (strncmp(k, GC_LABEL_REF_CONTENT, n) == 0 && (k[n] == '\0' || k[n] == '.'))
            mark_content(st, ns, labels->items[i].value, true);
        /* containerd.io/gc.ref.snapshot.<snapshotter>[/<anything>] = key */
        if (strncmp(k, GC_LABEL_REF_SNAPSHOT, ns_len) == 0 && k[ns_len]) {
            const char *slash = strchr(k + ns_len, '/');
            _cleanup_free_ char *sn =
                slash ? xstrndup(k + ns_len, (size_t)(slash - k - ns_len)) : xstrdup(k + ns_len);
            if (sn[0])
                mark_snapshot(st, ns, sn, labels->items[i].value);
        }
    }
}

/* ---- snapshots: "<ns>\0<snapshotter>\0<key>" → backend key, parent, times, labels ---- */

static void mark_snapshot(struct gc_state *st, const char *ns, const char *snapshotter,
                          const char *key)
{
    char *id = xasprintf("%s\x1f%s\x1f%s", ns, snapshotter, key);
    if (!strset_add(&st->snapshots, id))
        return;
    st->snapshot_queue = xreallocarray_grow(st->snapshot_queue, &st->snapshot_queue_cap,
                                            st->snapshot_queue_len + 1, sizeof(char *));
    st->snapshot_queue[st->snapshot_queue_len++] = xstrdup(id);
}

/* Decodes a snapshot record's parent and labels (the layout core/snapshots/metadata.h names). */
static bool snapshot_record_refs(const MDB_val *v, char **ret_parent, struct labels *ret_labels)
{
    struct record_reader r = {v->mv_data, (const uint8_t *)v->mv_data + v->mv_size, false};
    free(record_get_string(&r));
    char *parent = record_get_string(&r);
    record_get_u64(&r);
    record_get_u64(&r);
    record_get_labels(&r, ret_labels);
    if (r.failed) {
        free(parent);
        labels_clear(ret_labels);
        return false;
    }
    *ret_parent = parent;
    return true;
}

/* A marked snapshot keeps its parent and what its labels reference. */
static void follow_snapshots(struct gc_state *st)
{
    while (st->snapshot_queue_len) {
        char *id = st->snapshot_queue[--st->snapshot_queue_len];
        char *sep1 = strchr(id, '\x1f');
        char *sep2 = strchr(sep1 + 1, '\x1f');
        *sep1 = *sep2 = '\0';
        size_t a = strlen(id), b = strlen(sep1 + 1), c = strlen(sep2 + 1);
        char *k = xmalloc(a + b + c + 3);
        memcpy(k, id, a + 1);
        memcpy(k + a + 1, sep1 + 1, b + 1);
        memcpy(k + a + b + 2, sep2 + 1, c);
        MDB_val mk = {a + b + 2 + c, k}, v;
        if (mk.mv_size <= (size_t)mdb_env_get_maxkeysize(mdb_txn_env(st->t->txn)) &&
            mdb_get(st->t->txn, metadata_table(st->t, TABLE_SNAPSHOTS), &mk, &v) == 0) {
            char *parent = NULL;
            struct labels labels = {0};
            if (snapshot_record_refs(&v, &parent, &labels)) {
                if (parent[0])
                    mark_snapshot(st, id, sep1 + 1, parent);
                mark_label_refs(st, id, &labels);
                labels_clear(&labels);
                free(parent);
            }
        }
        free(k);
        free(id);
    }
}

/* Splits "<ns>\0<snapshotter>\0<key>". */
static bool split_snapshot_key(const MDB_val *k, char **ret_ns, char **ret_sn, char **ret_key)
{
    const char *p = k->mv_data, *end = p + k->mv_size;
    const char *a = memchr(p, '\0', k->mv_size);
    const char *b = a ? memchr(a + 1, '\0', (size_t)(end - a - 1)) : NULL;
    if (!b)
        return false;
    *ret_ns = xstrndup(p, (size_t)(a - p));
    *ret_sn = xstrndup(a + 1, (size_t)(b - a - 1));
    *ret_key = xstrndup(b + 1, (size_t)(end - b - 1));
    return true;
}

static void follow_queue(struct gc_state *st)
{
    while (st->queue_len) {
        char *key = st->queue[--st->queue_len];
        char *sep = strchr(key, '\x1f');
        *sep = '\0';
        struct metadata_key k = metadata_key_make(key, sep + 1);
        MDB_val mk = {k.len, k.data}, v;
        if (mdb_get(st->t->txn, metadata_table(st->t, TABLE_CONTENT), &mk, &v) == 0) {
            struct content_record r;
            if (content_record_decode(v.mv_data, v.mv_size, sep + 1, &r)) {
                mark_label_refs(st, key, &r.labels);
                content_record_clear(&r);
            }
        }
        metadata_key_free(&k);
        free(key);
    }
}

/* Splits "<ns>\0<rest>" keys. */
static bool split_key(const MDB_val *k, char **ret_ns, char **ret_rest)
{
    const char *p = k->mv_data;
    const char *nul = memchr(p, '\0', k->mv_size);
    if (!nul)
        return false;
    *ret_ns = xstrndup(p, (size_t)(nul - p));
    *ret_rest = xstrndup(nul + 1, k->mv_size - (size_t)(nul + 1 - p));
    return true;
}

typedef void (*record_fn)(struct gc_state *st, const char *ns, const char *name,
                          const MDB_val *value, void *arg);

static void each_record(struct gc_state *st, enum metadata_table table, record_fn fn, void *arg)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(st->t->txn, metadata_table(st->t, table), &cur))
        return;
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char *ns, *name;
        if (!split_key(&k, &ns, &name))
            continue;
        fn(st, ns, name, &v, arg);
        free(ns);
        free(name);
    }
    mdb_cursor_close(cur);
}

struct sweep_list {
    struct metadata_key *keys;
    size_t n, cap;
};

static void sweep_add(struct sweep_list *l, const char *ns, const char *name)
{
    l->keys = xreallocarray_grow(l->keys, &l->cap, l->n + 1, sizeof(*l->keys));
    l->keys[l->n++] = metadata_key_make(ns, name);
}

static int sweep_delete(struct metadata_txn *t, enum metadata_table table, struct sweep_list *l,
                        struct berth_error **err)
{
    int r = 0;
    for (size_t i = 0; i < l->n; i++) {
        MDB_val k = {l->keys[i].len, l->keys[i].data};
        int rc = mdb_del(t->txn, metadata_table(t, table), &k, NULL);
        if (rc && rc != MDB_NOTFOUND && r == 0)
            r = metadata_error(err, rc, "gc delete");
        metadata_key_free(&l->keys[i]);
    }
    free(l->keys);
    *l = (struct sweep_list){0};
    return r;
}

/*
 * Snapshot records: with roots, marks those labelled gc.root; otherwise collects the unmarked
 * ones' keys for deletion.
 */
static void snapshots_pass(struct gc_state *st, bool roots, struct metadata_key **ret_keys,
                           size_t *ret_n)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(st->t->txn, metadata_table(st->t, TABLE_SNAPSHOTS), &cur))
        return;
    size_t cap = 0;
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char *ns, *sn, *key;
        if (!split_snapshot_key(&k, &ns, &sn, &key))
            continue;
        if (roots) {
            char *parent = NULL;
            struct labels labels = {0};
            if (snapshot_record_refs(&v, &parent, &labels)) {
                if (labels_get(&labels, GC_LABEL_ROOT))
                    mark_snapshot(st, ns, sn, key);
                labels_clear(&labels);
                free(parent);
            }
        } else {
            _cleanup_free_ char *id = xasprintf("%s\x1f%s\x1f%s", ns, sn, key);
            if (!strset_has(&st->snapshots, id)) {
                *ret_keys = xreallocarray_grow(*ret_keys, &cap, *ret_n + 1, sizeof(**ret_keys));
                (*ret_keys)[(*ret_n)++] =
                    (struct metadata_key){.data = xmemdup(k.mv_data, k.mv_size), .len = k.mv_size};
            }
        }
        free(ns);
        free(sn);
        free(key);
    }
    mdb_cursor_close(cur);
}

struct root_args {
    int64_t now;
    struct sweep_list expired;
    struct strset flat_leases; /* "<ns>\x1f<lease>" */
    struct strset live_leases;
};

static void lease_root(struct gc_state *st, const char *ns, const char *id, const MDB_val *v,
                       void *arg)
{
    struct root_args *a = arg;
    struct record_reader r = {v->mv_data, (const uint8_t *)v->mv_data + v->mv_size, false};
    record_get_u64(&r);
    struct labels labels = {0};
    record_get_labels(&r, &labels);
    if (expired(&labels, a->now)) {
        sweep_add(&a->expired, ns, id);
    } else {
        strset_add(&a->live_leases, content_key(ns, id));
        if (labels_get(&labels, GC_LABEL_FLAT))
            strset_add(&a->flat_leases, content_key(ns, id));
    }
    labels_clear(&labels);
}

/* Lease resources: "<ns>\0<lease>\0<type>\0<id>". */
static void lease_resources(struct gc_state *st, struct root_args *a, struct strset *leased_images)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(st->t->txn, metadata_table(st->t, TABLE_LEASE_RESOURCES), &cur))
        return;
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const char *parts[4];
        const char *p = k.mv_data, *end = p + k.mv_size;
        size_t n = 0;
        for (const char *q = p; n < 4 && q <= end; q++) {
            if (q == end || *q == '\0') {
                parts[n++] = p;
                p = q + 1;
            }
        }
        if (n != 4 || end[-1] == '\0')
            continue;
        _cleanup_free_ char *id = xstrndup(parts[3], (size_t)(end - parts[3]));
        _cleanup_free_ char *lease = content_key(parts[0], parts[1]);
        if (!strset_has(&a->live_leases, lease))
            continue;
        bool flat = strset_has(&a->flat_leases, lease);
        if (strcmp(parts[2], "content") == 0)
            mark_content(st, parts[0], id, !flat);
        else if (strcmp(parts[2], "images") == 0)
            strset_add(leased_images, content_key(parts[0], id));
        else if (strncmp(parts[2], "snapshots/", 10) == 0 && parts[2][10])
            mark_snapshot(st, parts[0], parts[2] + 10, id); /* followed even when flat */
    }
    mdb_cursor_close(cur);
}

struct image_args {
    int64_t now;
    struct strset *leased;
    struct sweep_list expired;
};

static void image_root(struct gc_state *st, const char *ns, const char *name, const MDB_val *v,
                       void *arg)
{
    struct image_args *a = arg;
    struct image img = {0};
    if (image_record_decode(v->mv_data, v->mv_size, &img) < 0)
        return;
    _cleanup_free_ char *key = content_key(ns, name);
    /* an image with gc.expire lives while unexpired or leased */
    if (labels_get(&img.labels, GC_LABEL_EXPIRE) && expired(&img.labels, a->now) &&
        !strset_has(a->leased, key)) {
        sweep_add(&a->expired, ns, name);
    } else {
        if (img.target.digest && img.target.digest[0])
            mark_content(st, ns, img.target.digest, true);
        mark_label_refs(st, ns, &img.labels);
    }
    image_clear(&img);
}

/* A container keeps its rootfs snapshot and what its labels reference (it never expires). */
static void container_root(struct gc_state *st, const char *ns, const char *id, const MDB_val *v,
                           void *arg)
{
    (void)id;
    (void)arg;
    struct container c = {0};
    if (container_record_decode(v->mv_data, v->mv_size, &c) < 0)
        return;
    if (c.snapshotter[0] && c.snapshot_key[0])
        mark_snapshot(st, ns, c.snapshotter, c.snapshot_key);
    mark_label_refs(st, ns, &c.labels);
    container_clear(&c);
}

static void content_root(struct gc_state *st, const char *ns, const char *digest, const MDB_val *v,
                         void *arg)
{
    struct content_record r;
    if (!content_record_decode(v->mv_data, v->mv_size, digest, &r))
        return;
    if (labels_get(&r.labels, GC_LABEL_ROOT))
        mark_content(st, ns, digest, true);
    content_record_clear(&r);
}

static void content_sweep(struct gc_state *st, const char *ns, const char *digest, const MDB_val *v,
                          void *arg)
{
    _cleanup_free_ char *key = content_key(ns, digest);
    if (!strset_has(&st->marked, key))
        sweep_add(arg, ns, digest);
}

static int mark_and_sweep(struct metadata_txn *t, struct gc_stats *stats, struct berth_error **err)
{
    struct gc_state st = {.t = t};
    struct root_args leases = {.now = now_ns()};
    struct strset leased_images = {0};
    each_record(&st, TABLE_LEASES, lease_root, &leases);
    lease_resources(&st, &leases, &leased_images);
    struct image_args images = {.now = leases.now, .leased = &leased_images};
    each_record(&st, TABLE_IMAGES, image_root, &images);
    each_record(&st, TABLE_CONTAINERS, container_root, NULL);
    each_record(&st, TABLE_CONTENT, content_root, NULL);
    snapshots_pass(&st, true, NULL, NULL);
    while (st.queue_len || st.snapshot_queue_len) {
        follow_queue(&st);
        follow_snapshots(&st);
    }

    struct sweep_list content = {0};
    each_record(&st, TABLE_CONTENT, content_sweep, &content);
    stats->content_records_removed = content.n;
    stats->leases_removed = leases.expired.n;
    stats->images_removed = images.expired.n;
    int r = sweep_delete(t, TABLE_CONTENT, &content, err);
    if (r == 0)
        r = sweep_delete(t, TABLE_IMAGES, &images.expired, err);
    struct sweep_list snapshots = {0};
    snapshots_pass(&st, false, &snapshots.keys, &snapshots.n);
    stats->snapshot_records_removed = snapshots.n;
    if (r == 0)
        r = sweep_delete(t, TABLE_SNAPSHOTS, &snapshots, err);
    else
        sweep_delete(t, TABLE_SNAPSHOTS, &snapshots, NULL);
    /* expired leases go with their resources */
    for (size_t i = 0; r == 0 && i < leases.expired.n; i++) {
        const struct metadata_key *lk = &leases.expired.keys[i];
        MDB_cursor *cur;
        if (mdb_cursor_open(t->txn, metadata_table(t, TABLE_LEASE_RESOURCES), &cur) == 0) {
            struct metadata_key prefix = {.data = xmalloc(lk->len + 1), .len = lk->len + 1};
            memcpy(prefix.data, lk->data, lk->len);
            prefix.data[lk->len] = '\0';
            MDB_val k = {prefix.len, prefix.data}, v;
            while (mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) == 0 && k.mv_size >= prefix.len &&
                   memcmp(k.mv_data, prefix.data, prefix.len) == 0) {
                mdb_cursor_del(cur, 0);
                k = (MDB_val){prefix.len, prefix.data};
            }
            metadata_key_free(&prefix);
            mdb_cursor_close(cur);
        }
    }
    if (r == 0)
        r = sweep_delete(t, TABLE_LEASES, &leases.expired, err);
    else
        sweep_delete(t, TABLE_LEASES, &leases.expired, NULL);
    strset_clear(&st.marked);
    strset_clear(&leases.flat_leases);
    strset_clear(&leases.live_leases);
    strset_clear(&leased_images);
    strset_clear(&st.snapshots);
    free(st.snapshot_queue);
    free(st.queue);
    return r;
}

/* ---- blobs and ingests ---- */

struct blob_args {
    struct strset referenced; /* digests some namespace records */
    struct content_store *store;
    size_t removed;
};

static int sweep_blob(const struct content_info *info, void *arg, struct berth_error **err)
{
    struct blob_args *a = arg;
    if (strset_has(&a->referenced, info->digest))
        return 0;
    struct berth_error *e = NULL;
    if (content_delete(a->store, info->digest, &e) == 0)
        a->removed++;
    else
        log_record(LOG_WARN, LOG_FIELDS("digest", info->digest, "error", e->message),
                   "gc: remove blob");
    err_free(e);
    return 0;
}

struct ingest_args {
    struct strset known; /* local refs that ingest records name */
    char **orphans;      /* directory names */
    size_t n, cap;
    int64_t now;
};

/* A directory without a readable ref may be a writer mid-creation: only old ones are orphans. */
enum { UNREADABLE_INGEST_GRACE_SECONDS = 600 };

static int find_orphan_ingest(const char *dir_name, const char *ref,
                              const struct timespec *modified, void *arg, struct berth_error **err)
{
    struct ingest_args *a = arg;
    if (ref && strset_has(&a->known, ref))
        return 0;
    int64_t age = a->now - ((int64_t)modified->tv_sec * 1000000000LL + modified->tv_nsec);
    if (!ref && age < UNREADABLE_INGEST_GRACE_SECONDS * 1000000000LL)
        return 0;
    a->orphans = xreallocarray_grow(a->orphans, &a->cap, a->n + 1, sizeof(char *));
    a->orphans[a->n++] = xstrdup(dir_name);
    return 0;
}

static void collect_references(struct metadata_db *db, struct strset *digests, struct strset *brefs)
{
    struct metadata_txn t;
    if (metadata_txn_begin(db, false, &t, NULL) < 0)
        return;
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(t.txn, metadata_table(&t, TABLE_CONTENT), &cur) == 0) {
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            const char *nul = memchr(k.mv_data, '\0', k.mv_size);
            if (nul)
                strset_add(
                    digests,
                    xstrndup(nul + 1, k.mv_size - (size_t)(nul + 1 - (const char *)k.mv_data)));
        }
        mdb_cursor_close(cur);
    }
    if (mdb_cursor_open(t.txn, metadata_table(&t, TABLE_INGESTS), &cur) == 0) {
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            struct record_reader r = {v.mv_data, (const uint8_t *)v.mv_data + v.mv_size, false};
            char *bref = record_get_string(&r);
            char *expected = record_get_string(&r);
            if (bref)
                strset_add(brefs, bref);
            /* a shared ingest's blob must survive until its commit */
            if (expected && expected[0])
                strset_add(digests, expected);
            else
                free(expected);
        }
        mdb_cursor_close(cur);
    }
    metadata_txn_abort(&t);
}

/* ---- other stores' steps ---- */

static struct {
    struct metadata_db *db;
    gc_collector_fn fn;
    void *arg;
} collectors[8];
static pthread_mutex_t collectors_lock = PTHREAD_MUTEX_INITIALIZER;

void metadata_gc_add_collector(struct metadata_db *db, gc_collector_fn fn, void *arg)
{
    pthread_mutex_lock(&collectors_lock);
    for (size_t i = 0; i < ARRAY_SIZE(collectors); i++) {
        if (!collectors[i].fn) {
            collectors[i].db = db;
            collectors[i].fn = fn;
            collectors[i].arg = arg;
            break;
        }
    }
    pthread_mutex_unlock(&collectors_lock);
}

void metadata_gc_remove_collector(struct metadata_db *db, gc_collector_fn fn, void *arg)
{
    pthread_mutex_lock(&collectors_lock);
    for (size_t i = 0; i < ARRAY_SIZE(collectors); i++)
        if (collectors[i].db == db && collectors[i].fn == fn && collectors[i].arg == arg)
            collectors[i].fn = NULL;
    pthread_mutex_unlock(&collectors_lock);
}

/* Runs under collectors_lock so a collector cannot be removed (and freed) while it runs. */
static void run_collectors(struct metadata_db *db)
{
    pthread_mutex_lock(&collectors_lock);
    for (size_t i = 0; i < ARRAY_SIZE(collectors); i++)
        if (collectors[i].fn && collectors[i].db == db)
            collectors[i].fn(collectors[i].arg);
    pthread_mutex_unlock(&collectors_lock);
}

int metadata_gc(struct metadata_db *db, struct content_store *store, struct gc_stats *ret,
                struct berth_error **err)
{
    struct gc_stats stats = {0};
    long long start = monotonic_ns();
    struct metadata_txn t;
    if (metadata_txn_begin(db, true, &t, err) < 0)
        return -1;
    if (mark_and_sweep(&t, &stats, err) < 0 || metadata_txn_commit(&t, err) < 0) {
        metadata_txn_abort(&t);
        return -1;
    }
    stats.mark_sweep_ns = monotonic_ns() - start;
    run_collectors(db);

    if (store) {
        metadata_db_blob_lock_exclusive(db);
        struct blob_args blobs = {.store = store};
        struct ingest_args ingests = {.now = now_ns()};
        collect_references(db, &blobs.referenced, &ingests.known);
        int r = content_walk(store, sweep_blob, &blobs, err);
        if (r == 0)
            r = content_walk_ingests(store, find_orphan_ingest, &ingests, err);
        metadata_db_blob_unlock(db);
        for (size_t i = 0; i < ingests.n; i++) {
            if (content_remove_ingest_dir(store, ingests.orphans[i], NULL) == 0)
                stats.ingests_removed++;
            free(ingests.orphans[i]);
        }
        free(ingests.orphans);
        stats.blobs_removed = blobs.removed;
        strset_clear(&blobs.referenced);
        strset_clear(&ingests.known);
        if (r < 0)
            return -1;
    }
    if (ret)
        *ret = stats;
    return 0;
}
