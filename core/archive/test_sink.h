/* Test helpers for core/archive: an in-memory blob and image store, tar building, test images. */
#pragma once

#include "core/archive/archive.h"

#include <stdbool.h>
#include <stddef.h>

struct mem_blob {
    char *digest;
    char *data;
    size_t len;
    struct archive_kv *labels;
    size_t n_labels;
};

struct mem_store {
    struct mem_blob *blobs;
    size_t n_blobs;
    struct archive_image *images;
    size_t n_images;
    int image_store_calls;
    int open_writers; /* begun and not yet committed or aborted */
    int commits;
};

struct mem_store *mem_store_new(void);
void mem_store_free(struct mem_store *s);
struct import_sink mem_store_sink(struct mem_store *s);
struct export_source mem_store_source(struct mem_store *s);
struct mem_blob *mem_store_blob(struct mem_store *s, const char *digest);
const struct archive_image *mem_store_image(struct mem_store *s, const char *name);
/* Adds a blob directly; returns its digest (static buffer, valid until the next call). */
const char *mem_store_put(struct mem_store *s, const void *data, size_t len);
void mem_store_remove(struct mem_store *s, const char *digest);
const char *mem_blob_label(const struct mem_blob *b, const char *key);

/* Imports bytes (fed in odd-sized chunks to exercise streaming). */
int test_import_bytes(const void *data, size_t len, const struct import_options *o,
                      struct mem_store *s, struct import_result *ret, struct berth_error **err);
/* Exports into a malloc'd buffer. */
int test_export_bytes(const struct export_options *o, struct mem_store *s, char **ret,
                      size_t *ret_len, struct berth_error **err);

/* ---- tar building with libarchive's writer ---- */

struct tar_builder;
struct tar_builder *tar_builder_new(void);
void tar_add_file(struct tar_builder *t, const char *name, const void *data, size_t len);
void tar_add_string(struct tar_builder *t, const char *name, const char *text);
void tar_add_dir(struct tar_builder *t, const char *name);
void tar_add_symlink(struct tar_builder *t, const char *name, const char *target);
void tar_add_hardlink(struct tar_builder *t, const char *name, const char *target);
void tar_add_special(struct tar_builder *t, const char *name, unsigned type /* AE_IFCHR... */);
/* Adds blobs/sha256/<digest of data>; returns the digest (static buffer). */
const char *tar_add_blob(struct tar_builder *t, const void *data, size_t len);
/* Finishes the archive and hands its bytes over. */
char *tar_builder_finish(struct tar_builder *t, size_t *ret_len);

/* Reads a tar from memory: calls fn for each regular entry (name, data, len). */
void tar_each(const char *data, size_t len,
              void (*fn)(void *arg, const char *name, const char *data, size_t len, unsigned type,
                         const char *link),
              void *arg);
/* The content of one entry (malloc'd) or NULL. */
char *tar_entry(const char *data, size_t len, const char *name, size_t *ret_len);

/* ---- test images from tests/images/build.sh ---- */

/* Builds them once; false (with a message) when they cannot be built, e.g. no busybox-static. */
bool test_images_available(void);
/* The bytes of an archive from the test image directory (malloc'd). */
char *test_image_read(const char *file, size_t *ret_len);
/* A string from images.json: images.<file>.<key> (or a top-level key when file is NULL);
 * index picks an array element (-1 for a plain string). Malloc'd, NULL when absent. */
char *test_image_info(const char *file, const char *key, int index);

char *sha256_of(const void *data, size_t len);
