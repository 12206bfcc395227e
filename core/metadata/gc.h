/*
 * Garbage collection, containerd's way: mark everything reachable from the roots (images,
 * unexpired leases and their resources, content labelled containerd.io/gc.root, active ingests),
 * following containerd.io/gc.ref.content* labels; delete unreachable content records and expired
 * leases; then remove blobs no namespace references and ingests no record knows.
 */
#pragma once

#include "core/content/content.h"
#include "core/metadata/db.h"

#include <stddef.h>

#define GC_LABEL_ROOT         "containerd.io/gc.root"
#define GC_LABEL_REF_CONTENT  "containerd.io/gc.ref.content"
#define GC_LABEL_REF_SNAPSHOT "containerd.io/gc.ref.snapshot."
#define GC_LABEL_EXPIRE       "containerd.io/gc.expire"
#define GC_LABEL_FLAT         "containerd.io/gc.flat"

struct gc_stats {
    size_t content_records_removed;
    size_t leases_removed;
    size_t images_removed;
    size_t blobs_removed;
    size_t ingests_removed;
    size_t snapshot_records_removed;
    long long mark_sweep_ns; /* time the metadata write transaction was held */
};

/*
 * Another store's last step of a collection, run after the records are swept (the snapshots
 * layer removes backend snapshots no record names). Returns how many objects it removed.
 */
typedef size_t (*gc_collector_fn)(void *arg);
void metadata_gc_add_collector(struct metadata_db *db, gc_collector_fn fn, void *arg);
void metadata_gc_remove_collector(struct metadata_db *db, gc_collector_fn fn, void *arg);

int metadata_gc(struct metadata_db *db, struct content_store *store, struct gc_stats *ret,
                struct berth_error **err);

/* containerd's gc.expire value: RFC 3339 (with optional fraction); false when malformed. */
bool gc_parse_expire(const char *value, int64_t *ret_ns);
