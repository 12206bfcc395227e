/* Image records: a name bound to a target descriptor, with labels and timestamps, per namespace. */
#pragma once

#include "core/metadata/db.h"
#include "core/metadata/labels.h"

#include <stdbool.h>
#include <stdint.h>

/* containerd's label that makes an image collectable; only such images are added to a lease. */
#define IMAGE_LABEL_GC_EXPIRE "containerd.io/gc.expire"

/* The descriptor an image points at (only the fields containerd stores for images). */
struct image_target {
    char *media_type;
    char *digest;
    int64_t size;
    struct labels annotations;
};

struct image {
    char *name;
    struct labels labels;
    struct image_target target;
    int64_t created_at; /* CLOCK_REALTIME, ns */
    int64_t updated_at;
};

void image_clear(struct image *image);
/* A deep copy of src into *dst. */
void image_copy(struct image *dst, const struct image *src);

/* What a write takes from the request besides the record. */
struct image_write_options {
    const char *lease_id; /* the containerd-lease header; NULL without one */
    bool has_epoch;       /* source_date_epoch given: timestamps are epoch_ns, not now */
    int64_t epoch_ns;
};

int images_get(struct metadata_db *db, const char *namespace_name, const char *name,
               struct image *ret, struct berth_error **err);
/* The namespace's images sorted by name, those matching the filters (containerd's syntax). */
int images_list(struct metadata_db *db, const char *namespace_name, const char *const *filters,
                size_t n_filters, struct image **ret, size_t *ret_count, struct berth_error **err);
void images_list_free(struct image *list, size_t count);
/*
 * Creates an image as containerd's store does: validated, timestamps set, labels and annotations
 * with empty values dropped, the namespace created if missing, and the image added to the lease
 * when it carries IMAGE_LABEL_GC_EXPIRE. The stored record is returned in *ret.
 */
int images_create(struct metadata_db *db, const char *namespace_name, const struct image *image,
                  const struct image_write_options *options, struct image *ret,
                  struct berth_error **err);
/*
 * Updates the fields named by paths ("labels", "labels.<k>", "target", "annotations",
 * "annotations.<k>"), or, with no paths, replaces labels and target. created_at is kept.
 */
int images_update(struct metadata_db *db, const char *namespace_name, const struct image *image,
                  const char *const *paths, size_t n_paths,
                  const struct image_write_options *options, struct image *ret,
                  struct berth_error **err);
/*
 * Deletes an image. With target_digest (non-empty) the image must point at that digest, else
 * NotFound. A lease in the options loses its reference to the image.
 */
int images_delete(struct metadata_db *db, const char *namespace_name, const char *name,
                  const char *target_digest, const struct image_write_options *options,
                  struct berth_error **err);

/* The filter adaptor: name, target.digest, target.mediatype, labels.<k>, annotations.<k>. */
bool image_filter_field(void *image, const char *const *fieldpath, size_t n,
                        const char **ret_value);

/* Record encoding (exposed for tests); decoding returns -1 for a corrupt record (name unset). */
void image_record_encode(const struct image *image, struct record_buf *out);
int image_record_decode(const void *data, size_t len, struct image *ret);
