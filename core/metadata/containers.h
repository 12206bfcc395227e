/* Container records: id, runtime, spec, snapshot, image, labels and extensions, per namespace. */
#pragma once

#include "core/metadata/db.h"
#include "core/metadata/labels.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A google.protobuf.Any kept as sent: its type URL and encoded value. */
struct container_any {
    bool set; /* false: the field was absent (nil in containerd) */
    char *type_url;
    uint8_t *value;
    size_t value_len;
};

struct container_extension {
    char *key;
    struct container_any value;
};

struct container {
    char *id;
    struct labels labels;
    char *image;
    char *runtime_name;
    struct container_any runtime_options;
    struct container_any spec;
    char *snapshotter;
    char *snapshot_key;
    char *sandbox;
    int64_t created_at; /* CLOCK_REALTIME, ns */
    int64_t updated_at;
    struct container_extension *extensions; /* sorted by key once stored */
    size_t n_extensions;
};

void container_clear(struct container *c);
/* A deep copy of src into *dst (strings that are NULL in src become ""). */
void container_copy(struct container *dst, const struct container *src);
void container_any_set(struct container_any *a, const char *type_url, const void *value,
                       size_t len);
void container_any_clear(struct container_any *a);
/* Sets (replacing) an extension; value NULL stores an empty Any. */
void container_extension_set(struct container *c, const char *key,
                             const struct container_any *value);
const struct container_any *container_extension_get(const struct container *c, const char *key);

int containers_get(struct metadata_db *db, const char *namespace_name, const char *id,
                   struct container *ret, struct berth_error **err);
/* The namespace's containers sorted by id, those matching the filters (containerd's syntax). */
int containers_list(struct metadata_db *db, const char *namespace_name, const char *const *filters,
                    size_t n_filters, struct container **ret, size_t *ret_count,
                    struct berth_error **err);
void containers_list_free(struct container *list, size_t count);
/*
 * Creates a container as containerd's store does: validated (identifier, labels, runtime name,
 * spec, snapshotter with a snapshot key), timestamps set, the namespace created if missing.
 */
int containers_create(struct metadata_db *db, const char *namespace_name,
                      const struct container *container, struct container *ret,
                      struct berth_error **err);
/*
 * Updates the fields named by paths ("labels", "labels.<k>", "extensions", "extensions.<k>",
 * "spec", "image", "snapshotkey"); with no paths those five are replaced and a snapshotter or
 * runtime name different from the stored one is an error. created_at is kept.
 */
int containers_update(struct metadata_db *db, const char *namespace_name,
                      const struct container *container, const char *const *paths, size_t n_paths,
                      struct container *ret, struct berth_error **err);
int containers_delete(struct metadata_db *db, const char *namespace_name, const char *id,
                      struct berth_error **err);

/* The filter adaptor: id, runtime.name, image, labels.<k>. */
bool container_filter_field(void *container, const char *const *fieldpath, size_t n,
                            const char **ret_value);

/* Record encoding (exposed for tests and GC); decoding returns -1 for a corrupt record. */
void container_record_encode(const struct container *c, struct record_buf *out);
int container_record_decode(const void *data, size_t len, struct container *ret);
