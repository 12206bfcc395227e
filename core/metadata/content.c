/* Namespaced content: blob records, labels and ingests over the local content store. */
#include "core/metadata/content.h"
#include "core/metadata/leases.h"
#include "core/metadata/namespaces.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/filters/filters.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct metadata_content {
    struct metadata_db *db;
    struct content_store *store;
    bool shared;
};

struct metadata_content_writer {
    struct metadata_content *mc;
    char *ns, *ref, *bref, *lease;
    struct content_writer *w; /* NULL for a shared blob: nothing to write */
    char shared_digest[DIGEST_STRING_SIZE];
    int64_t shared_size;
    struct timespec started;
};

/* An ingest record: the local ref, and for shared blobs what is expected. */
struct ingest_record {
    char *bref;
    char *expected;
    int64_t size;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void content_record_clear(struct content_record *r)
{
    labels_clear(&r->labels);
}

struct metadata_content *metadata_content_new(struct metadata_db *db, struct content_store *store,
                                              bool shared)
{
    struct metadata_content *mc = xcalloc(1, sizeof(*mc));
    mc->db = db;
    mc->store = store;
    mc->shared = shared;
    return mc;
}

void metadata_content_free(struct metadata_content *mc)
{
    free(mc);
}

struct content_store *metadata_content_store(struct metadata_content *mc)
{
    return mc->store;
}

/* ---- records ---- */

static int put_record(struct metadata_txn *t, const char *ns, const struct content_record *r,
                      struct berth_error **err)
{
    struct record_buf b = {0};
    record_put_u64(&b, (uint64_t)r->size);
    record_put_u64(&b, (uint64_t)r->created_ns);
    record_put_u64(&b, (uint64_t)r->updated_ns);
    struct labels sorted = {0};
    labels_copy(&sorted, &r->labels);
    labels_sort(&sorted);
    record_put_labels(&b, &sorted);
    labels_clear(&sorted);
    struct metadata_key k = metadata_key_make(ns, r->digest);
    MDB_val key = {k.len, k.data}, val = {b.len, b.data};
    int rc = mdb_put(t->txn, metadata_table(t, TABLE_CONTENT), &key, &val, 0);
    metadata_key_free(&k);
    free(b.data);
    return rc ? metadata_error(err, rc, "put content") : 0;
}

static bool decode_record(const MDB_val *v, const char *digest, struct content_record *ret)
{
    *ret = (struct content_record){0};
    snprintf(ret->digest, sizeof(ret->digest), "%s", digest);
    struct record_reader r = {v->mv_data, (const uint8_t *)v->mv_data + v->mv_size, false};
    ret->size = (int64_t)record_get_u64(&r);
    ret->created_ns = (int64_t)record_get_u64(&r);
    ret->updated_ns = (int64_t)record_get_u64(&r);
    record_get_labels(&r, &ret->labels);
    if (r.failed)
        content_record_clear(ret);
    return !r.failed;
}

bool content_record_decode(const void *data, size_t len, const char *digest,
                           struct content_record *ret)
{
    MDB_val v = {len, (void *)data};
    return decode_record(&v, digest, ret);
}

/* 1 found, 0 missing, -1 error. */
static int get_record(const struct metadata_txn *t, const char *ns, const char *digest,
                      struct content_record *ret, struct berth_error **err)
{
    struct metadata_key k = metadata_key_make(ns, digest);
    MDB_val key = {k.len, k.data}, v;
    int rc = mdb_get(t->txn, metadata_table(t, TABLE_CONTENT), &key, &v);
    metadata_key_free(&k);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return metadata_error(err, rc, "get content");
    if (!decode_record(&v, digest, ret))
        return err_make(err, ERR_DATA_LOSS, 0, "content %s: corrupt record", digest);
    return 1;
}

static int not_found(struct berth_error **err, const char *digest)
{
    return err_make(err, ERR_NOT_FOUND, 0, "content digest %s", digest);
}

int metadata_content_info(struct metadata_content *mc, const char *ns, const char *digest,
                          struct content_record *ret, struct berth_error **err)
{
    if (digest_validate(digest, err) < 0)
        return -1;
    struct metadata_txn t;
    if (metadata_txn_begin(mc->db, false, &t, err) < 0)
        return -1;
    int found = get_record(&t, ns, digest, ret, err);
    metadata_txn_abort(&t);
    if (found <= 0)
        return found < 0 ? -1 : not_found(err, digest);
    return 0;
}

int metadata_content_update(struct metadata_content *mc, const char *ns, const char *digest,
                            const struct labels *labels, const char *const *paths, size_t n_paths,
                            struct content_record *ret, struct berth_error **err)
{
    if (digest_validate(digest, err) < 0)
        return -1;
    struct metadata_txn t;
    if (metadata_txn_begin(mc->db, true, &t, err) < 0)
        return -1;
    struct content_record r;
    int found = get_record(&t, ns, digest, &r, err);
    if (found <= 0) {
        metadata_txn_abort(&t);
        return found < 0 ? -1 : not_found(err, digest);
    }
    int rc = 0;
    if (n_paths == 0) {
        labels_clear(&r.labels);
        if (labels)
            labels_copy(&r.labels, labels);
    }
    for (size_t i = 0; i < n_paths && rc == 0; i++) {
        if (strncmp(paths[i], "labels.", 7) == 0) {
            const char *v = labels ? labels_get(labels, paths[i] + 7) : NULL;
            /* containerd sets the key to the given value, "" when absent */
            labels_set(&r.labels, paths[i] + 7, v ? v : "");
        } else if (strcmp(paths[i], "labels") == 0) {
            labels_clear(&r.labels);
            if (labels)
                labels_copy(&r.labels, labels);
        } else {
            rc = err_make(err, ERR_INVALID_ARGUMENT, 0,
                          "cannot update \"%s\" field on content info \"%s\"", paths[i], digest);
        }
    }
    /* empty values are deletions, as containerd's writeInfo drops them */
    for (size_t i = 0; i < r.labels.count;)
        if (!r.labels.items[i].value[0])
            labels_remove(&r.labels, r.labels.items[i].key);
        else
            i++;
    if (rc == 0)
        rc = labels_validate(&r.labels, err);
    if (rc == 0) {
        r.updated_ns = now_ns();
        rc = put_record(&t, ns, &r, err);
    }
    if (rc == 0)
        rc = metadata_txn_commit(&t, err);
    else
        metadata_txn_abort(&t);
    if (rc < 0) {
        content_record_clear(&r);
        return -1;
    }
    labels_sort(&r.labels);
    *ret = r;
    return 0;
}

/* containerd's content adaptor: digest, size, labels.<k>. */
struct record_fields {
    const struct content_record *r;
    char size[24];
};

static bool record_field(void *object, const char *const *fieldpath, size_t n,
                         const char **ret_value)
{
    struct record_fields *f = object;
    if (n == 0)
        return false;
    if (strcmp(fieldpath[0], "digest") == 0) {
        *ret_value = f->r->digest;
        return true;
    }
    if (strcmp(fieldpath[0], "size") == 0) {
        snprintf(f->size, sizeof(f->size), "%" PRId64, f->r->size);
        *ret_value = f->size;
        return true;
    }
    if (strcmp(fieldpath[0], "labels") == 0 && n > 1) {
        for (size_t i = 0; i < f->r->labels.count; i++)
            if (filters_fieldpath_equals(f->r->labels.items[i].key, fieldpath + 1, n - 1)) {
                *ret_value = f->r->labels.items[i].value;
                return true;
            }
    }
    return false;
}

int metadata_content_walk(struct metadata_content *mc, const char *ns, const struct filter *filter,
                          metadata_content_fn fn, void *arg, struct berth_error **err)
{
    struct metadata_txn t;
    if (metadata_txn_begin(mc->db, false, &t, err) < 0)
        return -1;
    struct metadata_key prefix = metadata_key_make(ns, NULL);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t.txn, metadata_table(&t, TABLE_CONTENT), &cur);
    if (rc) {
        metadata_key_free(&prefix);
        metadata_txn_abort(&t);
        return metadata_error(err, rc, "walk content");
    }
    MDB_val k = {prefix.len, prefix.data}, v;
    int r = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && r >= 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= prefix.len || memcmp(k.mv_data, prefix.data, prefix.len) != 0)
            break;
        _cleanup_free_ char *digest =
            xstrndup((const char *)k.mv_data + prefix.len, k.mv_size - prefix.len);
        struct content_record rec;
        if (!decode_record(&v, digest, &rec))
            continue;
        struct record_fields fields = {.r = &rec};
        if (!filter || filters_match(filter, record_field, &fields))
            r = fn(&rec, arg, err);
        content_record_clear(&rec);
    }
    mdb_cursor_close(cur);
    metadata_key_free(&prefix);
    metadata_txn_abort(&t);
    return r < 0 ? -1 : 0;
}

int metadata_content_delete(struct metadata_content *mc, const char *ns, const char *digest,
                            struct berth_error **err)
{
    if (digest_validate(digest, err) < 0)
        return -1;
    struct metadata_txn t;
    if (metadata_txn_begin(mc->db, true, &t, err) < 0)
        return -1;
    struct metadata_key k = metadata_key_make(ns, digest);
    MDB_val key = {k.len, k.data};
    int rc = mdb_del(t.txn, metadata_table(&t, TABLE_CONTENT), &key, NULL);
    metadata_key_free(&k);
    if (rc) {
        metadata_txn_abort(&t);
        return rc == MDB_NOTFOUND ? not_found(err, digest)
                                  : metadata_error(err, rc, "delete content");
    }
    return metadata_txn_commit(&t, err);
}

int metadata_content_reader_open(struct metadata_content *mc, const char *ns, const char *digest,
                                 struct content_reader **ret, struct berth_error **err)
{
    struct content_record r;
    if (metadata_content_info(mc, ns, digest, &r, err) < 0)
        return -1;
    content_record_clear(&r);
    return content_reader_open(mc->store, digest, ret, err);
}

/* ---- ingests ---- */

static void ingest_record_clear(struct ingest_record *r)
{
    free(r->bref);
    free(r->expected);
    *r = (struct ingest_record){0};
}

static int get_ingest(const struct metadata_txn *t, const char *ns, const char *ref,
                      struct ingest_record *ret, struct berth_error **err)
{
    struct metadata_key k = metadata_key_make(ns, ref);
    MDB_val key = {k.len, k.data}, v;
    int rc = mdb_get(t->txn, metadata_table(t, TABLE_INGESTS), &key, &v);
    metadata_key_free(&k);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return metadata_error(err, rc, "get ingest");
    struct record_reader r = {v.mv_data, (const uint8_t *)v.mv_data + v.mv_size, false};
    ret->bref = record_get_string(&r);
    ret->expected = record_get_string(&r);
    ret->size = (int64_t)record_get_u64(&r);
    if (r.failed) {
        ingest_record_clear(ret);
        return err_make(err, ERR_DATA_LOSS, 0, "ingest %s: corrupt record", ref);
    }
    return 1;
}

static int put_ingest(struct metadata_txn *t, const char *ns, const char *ref,
                      const struct ingest_record *rec, struct berth_error **err)
{
    struct record_buf b = {0};
    record_put_string(&b, rec->bref);
    record_put_string(&b, rec->expected);
    record_put_u64(&b, (uint64_t)rec->size);
    struct metadata_key k = metadata_key_make(ns, ref);
    MDB_val key = {k.len, k.data}, val = {b.len, b.data};
    int rc = mdb_put(t->txn, metadata_table(t, TABLE_INGESTS), &key, &val, 0);
    metadata_key_free(&k);
    free(b.data);
    return rc ? metadata_error(err, rc, "put ingest") : 0;
}

static int delete_ingest(struct metadata_txn *t, const char *ns, const char *ref,
                         struct berth_error **err)
{
    struct metadata_key k = metadata_key_make(ns, ref);
    MDB_val key = {k.len, k.data};
    int rc = mdb_del(t->txn, metadata_table(t, TABLE_INGESTS), &key, NULL);
    metadata_key_free(&k);
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc ? metadata_error(err, rc, "delete ingest") : 0;
}

/* A per-daemon sequence keeps local refs unique when a client reuses a ref after an abort. */
static int next_sequence(struct metadata_txn *t, uint64_t *ret, struct berth_error **err)
{
    MDB_val key = {10, (void *)"ingest-seq"}, v;
    uint64_t seq = 0;
    int rc = mdb_get(t->txn, metadata_table(t, TABLE_META), &key, &v);
    if (rc == 0 && v.mv_size == sizeof(seq))
        memcpy(&seq, v.mv_data, sizeof(seq));
    else if (rc && rc != MDB_NOTFOUND)
        return metadata_error(err, rc, "ingest sequence");
    seq++;
    v = (MDB_val){sizeof(seq), &seq};
    rc = mdb_put(t->txn, metadata_table(t, TABLE_META), &key, &v, 0);
    if (rc)
        return metadata_error(err, rc, "ingest sequence");
    *ret = seq;
    return 0;
}

int metadata_content_status(struct metadata_content *mc, const char *ns, const char *ref,
                            struct content_status *ret, struct berth_error **err)
{
    struct metadata_txn t;
    if (metadata_txn_begin(mc->db, false, &t, err) < 0)
        return -1;
    struct ingest_record rec = {0};
    int found = get_ingest(&t, ns, ref, &rec, err);
    metadata_txn_abort(&t);
    if (found <= 0)
        return found < 0 ? -1 : err_make(err, ERR_NOT_FOUND, 0, "reference %s", ref);
    int rc = content_status(mc->store, rec.bref, ret, err);
    ingest_record_clear(&rec);
    if (rc < 0)
        return -1;
    free(ret->ref);
    ret->ref = xstrdup(ref);
    return 0;
}

struct status_fields {
    const char *ref;
};

static bool status_field(void *object, const char *const *fieldpath, size_t n,
                         const char **ret_value)
{
    struct status_fields *f = object;
    if (n == 1 && strcmp(fieldpath[0], "ref") == 0) {
        *ret_value = f->ref;
        return true;
    }
    return false;
}

int metadata_content_list_statuses(struct metadata_content *mc, const char *ns,
                                   const struct filter *filter, metadata_status_fn fn, void *arg,
                                   struct berth_error **err)
{
    /* Collect refs first: reading the local ingests is I/O, no transaction is held across it. */
    struct metadata_txn t;
    if (metadata_txn_begin(mc->db, false, &t, err) < 0)
        return -1;
    struct metadata_key prefix = metadata_key_make(ns, NULL);
    MDB_cursor *cur;
    char **refs = NULL, **brefs = NULL;
    size_t n = 0, cap = 0, cap2 = 0;
    if (mdb_cursor_open(t.txn, metadata_table(&t, TABLE_INGESTS), &cur) == 0) {
        MDB_val k = {prefix.len, prefix.data}, v;
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            if (k.mv_size <= prefix.len || memcmp(k.mv_data, prefix.data, prefix.len) != 0)
                break;
            struct record_reader r = {v.mv_data, (const uint8_t *)v.mv_data + v.mv_size, false};
            char *bref = record_get_string(&r);
            if (!bref)
                continue;
            refs = xreallocarray_grow(refs, &cap, n + 1, sizeof(char *));
            brefs = xreallocarray_grow(brefs, &cap2, n + 1, sizeof(char *));
            refs[n] = xstrndup((const char *)k.mv_data + prefix.len, k.mv_size - prefix.len);
            brefs[n++] = bref;
        }
        mdb_cursor_close(cur);
    }
    metadata_key_free(&prefix);
    metadata_txn_abort(&t);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        struct content_status st;
        struct status_fields fields = {.ref = refs[i]};
        if (r == 0 && (!filter || filters_match(filter, status_field, &fields)) &&
            content_status(mc->store, brefs[i], &st, NULL) == 0) {
            free(st.ref);
            st.ref = xstrdup(refs[i]);
            r = fn(&st, arg, err);
            content_status_clear(&st);
        }
        free(refs[i]);
        free(brefs[i]);
    }
    free(refs);
    free(brefs);
    return r < 0 ? -1 : 0;
}

int metadata_content_abort(struct metadata_content *mc, const char *ns, const char *ref,
                           struct berth_error **err)
{
    struct metadata_txn t;
    if (metadata_txn_begin(mc->db, true, &t, err) < 0)
        return -1;
    struct ingest_record rec = {0};
    int found = get_ingest(&t, ns, ref, &rec, err);
    if (found <= 0) {
        metadata_txn_abort(&t);
        return found < 0 ? -1 : err_make(err, ERR_NOT_FOUND, 0, "reference %s", ref);
    }
    if (delete_ingest(&t, ns, ref, err) < 0 || metadata_txn_commit(&t, err) < 0) {
        metadata_txn_abort(&t);
        ingest_record_clear(&rec);
        return -1;
    }
    /* The record is gone first: a crash here leaves an orphan ingest that GC removes. */
    struct berth_error *local_err = NULL;
    if (content_abort(mc->store, rec.bref, &local_err) < 0 && local_err->kind != ERR_NOT_FOUND) {
        ingest_record_clear(&rec);
        *err = local_err;
        return -1;
    }
    err_free(local_err);
    ingest_record_clear(&rec);
    return 0;
}

/* ---- writers ---- */

static int add_lease_resource(struct metadata_content *mc, struct metadata_txn *t, const char *ns,
                              const char *lease, const char *type, const char *id,
                              struct berth_error **err)
{
    if (!lease || !*lease)
        return 0;
    return leases_add_resource_txn(t, ns, lease, type, id, err);
}

int metadata_content_writer_open(struct metadata_content *mc, const char *ns, const char *ref,
                                 int64_t total, const char *expected, const char *lease,
                                 struct metadata_content_writer **ret, struct berth_error **err)
{
    if (!ref || !*ref)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "ref must not be empty");
    if (expected && *expected && digest_validate(expected, err) < 0)
        return -1;
    bool have_expected = expected && *expected;
    struct content_info shared_info;
    bool shared = false;
    /* Blob stat before the transaction: it is I/O. */
    if (have_expected && mc->shared && content_info(mc->store, expected, &shared_info, NULL) == 0 &&
        (total == 0 || total == shared_info.size))
        shared = true;

    struct metadata_txn t;
    if (metadata_txn_begin(mc->db, true, &t, err) < 0)
        return -1;
    int rc = 0;
    if (have_expected) {
        struct content_record existing;
        int found = get_record(&t, ns, expected, &existing, err);
        if (found > 0) {
            content_record_clear(&existing);
            rc = add_lease_resource(mc, &t, ns, lease, "content", expected, err);
            if (rc == 0)
                rc = metadata_txn_commit(&t, err);
            else
                metadata_txn_abort(&t);
            return rc < 0 ? -1 : err_make(err, ERR_ALREADY_EXISTS, 0, "content %s", expected);
        }
        if (found < 0) {
            metadata_txn_abort(&t);
            return -1;
        }
    }
    struct ingest_record rec = {0};
    int found = get_ingest(&t, ns, ref, &rec, err);
    if (found < 0)
        rc = -1;
    if (rc == 0 && found == 0) {
        uint64_t seq = 0;
        rc = next_sequence(&t, &seq, err);
        if (rc == 0) {
            rec.bref = xasprintf("%s/%" PRIu64 "/%s", ns, seq, ref);
            rec.expected = xstrdup(shared ? expected : "");
            rec.size = shared ? shared_info.size : 0;
            rc = put_ingest(&t, ns, ref, &rec, err);
        }
    }
    if (rc == 0)
        rc = namespaces_ensure(&t, ns, err);
    if (rc == 0)
        rc = add_lease_resource(mc, &t, ns, lease, "ingests", ref, err);
    if (rc == 0)
        rc = metadata_txn_commit(&t, err);
    else
        metadata_txn_abort(&t);
    if (rc < 0) {
        ingest_record_clear(&rec);
        return -1;
    }

    struct metadata_content_writer *w = xcalloc(1, sizeof(*w));
    w->mc = mc;
    w->ns = xstrdup(ns);
    w->ref = xstrdup(ref);
    w->bref = steal_ptr(rec.bref);
    w->lease = lease && *lease ? xstrdup(lease) : NULL;
    clock_gettime(CLOCK_REALTIME, &w->started);
    if (shared) {
        snprintf(w->shared_digest, sizeof(w->shared_digest), "%s", expected);
        w->shared_size = shared_info.size;
    } else if (content_writer_open(mc->store, w->bref, total, NULL, &w->w, err) < 0) {
        ingest_record_clear(&rec);
        metadata_content_writer_close(w);
        return -1;
    }
    ingest_record_clear(&rec);
    *ret = w;
    return 0;
}

void metadata_content_writer_status(struct metadata_content_writer *w, struct content_status *ret)
{
    if (w->w) {
        content_writer_status(w->w, ret);
        free(ret->ref);
    } else {
        *ret = (struct content_status){.offset = w->shared_size,
                                       .total = w->shared_size,
                                       .started_at = w->started,
                                       .updated_at = w->started};
        snprintf(ret->expected, sizeof(ret->expected), "%s", w->shared_digest);
    }
    ret->ref = xstrdup(w->ref);
}

int metadata_content_writer_write_at(struct metadata_content_writer *w, int64_t offset,
                                     const void *data, size_t len, struct berth_error **err)
{
    if (!w->w) {
        if (len == 0 && offset != 0)
            return 0;
        /* Writing from the start unshares: the client sends the data itself, as containerd's
         * writer does after a truncate to 0. */
        if (offset != 0)
            return err_make(err, ERR_FAILED_PRECONDITION, 0,
                            "%s: content already present; write from offset 0 to replace it",
                            w->ref);
        if (content_writer_open(w->mc->store, w->bref, 0, NULL, &w->w, err) < 0)
            return -1;
        w->shared_digest[0] = '\0';
        w->shared_size = 0;
    }
    return content_writer_write_at(w->w, offset, data, len, err);
}

int metadata_content_writer_digest(struct metadata_content_writer *w, char out[DIGEST_STRING_SIZE],
                                   struct berth_error **err)
{
    if (!w->w) {
        memcpy(out, w->shared_digest, DIGEST_STRING_SIZE);
        return 0;
    }
    return content_writer_digest(w->w, out, err);
}

static int commit_locked(struct metadata_content_writer *w, int64_t size, const char *expected,
                         const struct labels *labels, char actual[DIGEST_STRING_SIZE],
                         struct berth_error **err);

int metadata_content_writer_commit(struct metadata_content_writer *w, int64_t size,
                                   const char *expected, const struct labels *labels,
                                   struct berth_error **err)
{
    if (labels && labels_validate(labels, err) < 0)
        return -1;
    char actual[DIGEST_STRING_SIZE];
    /* From the blob's arrival until its record exists, GC must not take the blob. */
    metadata_db_blob_lock_shared(w->mc->db);
    int rc = commit_locked(w, size, expected, labels, actual, err);
    metadata_db_blob_unlock(w->mc->db);
    return rc;
}

static int commit_locked(struct metadata_content_writer *w, int64_t size, const char *expected,
                         const struct labels *labels, char actual[DIGEST_STRING_SIZE],
                         struct berth_error **err)
{
    if (w->w) {
        struct content_status st;
        content_writer_status(w->w, &st);
        int64_t offset = st.offset;
        content_status_clear(&st);
        if (size != 0 && size != offset)
            return err_make(err, ERR_FAILED_PRECONDITION, 0,
                            "\"%s\" failed size validation: %" PRId64 " != %" PRId64, w->ref,
                            offset, size);
        size = offset;
        if (content_writer_digest(w->w, actual, err) < 0)
            return -1;
        struct berth_error *cerr = NULL;
        if (content_writer_commit(w->w, size, expected, &cerr) < 0 &&
            cerr->kind != ERR_ALREADY_EXISTS) {
            *err = cerr;
            return -1;
        }
        err_free(cerr);
    } else {
        if (size != 0 && size != w->shared_size)
            return err_make(err, ERR_FAILED_PRECONDITION, 0,
                            "\"%s\" failed size validation: %" PRId64 " != %" PRId64, w->ref,
                            w->shared_size, size);
        if (expected && *expected && strcmp(expected, w->shared_digest) != 0)
            return err_make(err, ERR_FAILED_PRECONDITION, 0, "\"%s\" unexpected digest", w->ref);
        size = w->shared_size;
        memcpy(actual, w->shared_digest, DIGEST_STRING_SIZE);
    }

    struct metadata_txn t;
    if (metadata_txn_begin(w->mc->db, true, &t, err) < 0)
        return -1;
    struct content_record existing;
    int found = get_record(&t, w->ns, actual, &existing, err);
    int rc = found < 0 ? -1 : 0;
    if (found > 0)
        content_record_clear(&existing);
    if (rc == 0 && found == 0) {
        int64_t now = now_ns();
        struct content_record r = {.size = size, .created_ns = now, .updated_ns = now};
        snprintf(r.digest, sizeof(r.digest), "%s", actual);
        for (size_t i = 0; labels && i < labels->count; i++)
            if (labels->items[i].value[0])
                labels_set(&r.labels, labels->items[i].key, labels->items[i].value);
        rc = put_record(&t, w->ns, &r, err);
        content_record_clear(&r);
    }
    if (rc == 0)
        rc = delete_ingest(&t, w->ns, w->ref, err);
    if (rc == 0 && w->lease)
        rc = leases_remove_resource_txn(&t, w->ns, w->lease, "ingests", w->ref, err);
    if (rc == 0)
        rc = add_lease_resource(w->mc, &t, w->ns, w->lease, "content", actual, err);
    if (rc == 0)
        rc = metadata_txn_commit(&t, err);
    else
        metadata_txn_abort(&t);
    if (rc < 0)
        return -1;
    if (found > 0)
        return err_make(err, ERR_ALREADY_EXISTS, 0, "content %s", actual);
    return 0;
}

struct metadata_content_writer *metadata_content_writer_close(struct metadata_content_writer *w)
{
    if (!w)
        return NULL;
    content_writer_close(w->w);
    free(w->ns);
    free(w->ref);
    free(w->bref);
    free(w->lease);
    free(w);
    return NULL;
}
