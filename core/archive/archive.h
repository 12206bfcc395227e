/* Image archives: import (OCI layout or docker save tarballs) and export, as containerd does. */
#pragma once

#include "lib/base/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* ---- media types (core/images/mediatypes.go, image-spec) ---- */

#define ARCHIVE_MEDIA_TYPE_OCI_INDEX       "application/vnd.oci.image.index.v1+json"
#define ARCHIVE_MEDIA_TYPE_OCI_MANIFEST    "application/vnd.oci.image.manifest.v1+json"
#define ARCHIVE_MEDIA_TYPE_OCI_CONFIG      "application/vnd.oci.image.config.v1+json"
#define ARCHIVE_MEDIA_TYPE_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define ARCHIVE_MEDIA_TYPE_DOCKER_MANIFEST_LIST                                                    \
    "application/vnd.docker.distribution.manifest.list.v2+json"
#define ARCHIVE_MEDIA_TYPE_DOCKER_CONFIG     "application/vnd.docker.container.image.v1+json"
#define ARCHIVE_MEDIA_TYPE_DOCKER_LAYER      "application/vnd.docker.image.rootfs.diff.tar"
#define ARCHIVE_MEDIA_TYPE_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* Annotations containerd reads and writes on index.json entries. */
#define ARCHIVE_ANNOTATION_IMAGE_NAME "io.containerd.image.name"
#define ARCHIVE_ANNOTATION_REF_NAME   "org.opencontainers.image.ref.name"
/* Labels: the uncompressed digest of a layer blob; the registry a blob came from (a prefix). */
#define ARCHIVE_LABEL_UNCOMPRESSED        "containerd.io/uncompressed"
#define ARCHIVE_LABEL_DISTRIBUTION_SOURCE "containerd.io/distribution.source"

bool archive_media_type_is_manifest(const char *media_type); /* docker v2 and OCI manifests */
bool archive_media_type_is_index(const char *media_type); /* OCI index and docker manifest list */
bool archive_media_type_is_config(const char *media_type);
bool archive_media_type_is_layer(const char *media_type);
bool archive_media_type_is_non_distributable(const char *media_type);

/* ---- small value types ---- */

/* A label or annotation. Arrays of these are kept sorted by key, without duplicates. */
struct archive_kv {
    char *key;
    char *value;
};

struct archive_platform {
    char *architecture;
    char *os;
    char *os_version; /* NULL when absent */
    char **os_features;
    size_t n_os_features;
    char *variant; /* NULL when absent */
};

/* An OCI descriptor, with the fields an archive needs. */
struct archive_descriptor {
    char *media_type;
    char *digest;
    int64_t size;
    struct archive_kv *annotations;
    size_t n_annotations;
    struct archive_platform *platform; /* NULL when absent */
};

/* An image record: its name, target and labels. */
struct archive_image {
    char *name;
    struct archive_descriptor target;
    struct archive_kv *labels;
    size_t n_labels;
    /*
     * Set on images created by an import: whether an existing image of that name gets its
     * labels replaced by these (the transfer service replaces them always; client.Import only
     * when labels were given) or keeps its own.
     */
    bool replace_labels;
};

void archive_kv_free(struct archive_kv *kv, size_t n);
/* The value of key, or NULL. */
const char *archive_kv_get(const struct archive_kv *kv, size_t n, const char *key);
/* Sets key (keeping the array sorted); returns the new count. */
size_t archive_kv_set(struct archive_kv **kv, size_t n, const char *key, const char *value);

void archive_platform_clear(struct archive_platform *p);
void archive_platform_copy(struct archive_platform *dst, const struct archive_platform *src);
void archive_descriptor_clear(struct archive_descriptor *d);
void archive_descriptor_copy(struct archive_descriptor *dst, const struct archive_descriptor *src);
void archive_image_clear(struct archive_image *image);
void archive_images_free(struct archive_image *images, size_t n);

/* ---- platforms (github.com/containerd/platforms) ---- */

/* platforms.Parse: "linux", "amd64", "linux/arm64", "linux/arm/v7", "windows(10.0.17763)/amd64". */
int archive_platform_parse(const char *specifier, struct archive_platform *ret,
                           struct berth_error **err);
/* platforms.DefaultSpec: this host (linux and the architecture Berth was built for). */
void archive_platform_default(struct archive_platform *ret);
/* platforms.Normalize in place: lowercase, x86_64 -> amd64, aarch64 -> arm64, arm -> arm/v7... */
void archive_platform_normalize(struct archive_platform *p);
/* platforms.Format: "os/arch[/variant]", or "unknown" without an OS. Malloc'd. */
char *archive_platform_format(const struct archive_platform *p);

/* ---- storage, as the archive code sees it ---- */

/*
 * Where an import puts things. Implemented over the content and image stores by the transfer
 * service, and over a hash table in the unit tests. Every callback returns 0 or -1 with *err
 * set, unless said otherwise.
 */
struct import_sink {
    void *arg;
    /*
     * Starts storing a blob of `size` bytes (-1: not known yet) under the ingest ref `ref`
     * (containerd's: "tar-<entry name>", "manifest-<digest>", "compress-blob-<alg>-<hex>").
     * `expected` is the digest when the archive states it, else NULL. Sets *ret_writer to the
     * sink's handle, or to NULL when the blob is already stored and no data is needed (an
     * ERR_ALREADY_EXISTS failure means the same).
     */
    int (*blob_begin)(void *arg, const char *ref, int64_t size, const char *expected,
                      void **ret_writer, struct berth_error **err);
    int (*blob_write)(void *arg, void *writer, const void *data, size_t len,
                      struct berth_error **err);
    /*
     * Commits the written data as `digest` (computed and checked by the importer) with `labels`
     * (may be empty) set on it. A blob that already exists is not an error (its labels are then
     * left alone). The writer is released whatever the outcome.
     */
    int (*blob_commit)(void *arg, void *writer, int64_t size, const char *digest,
                       const struct archive_kv *labels, size_t n_labels, struct berth_error **err);
    /* Drops an unfinished write and releases the writer. */
    void (*blob_abort)(void *arg, void *writer);
    /* The size of a stored blob, or ERR_NOT_FOUND. */
    int (*blob_size)(void *arg, const char *digest, int64_t *ret_size, struct berth_error **err);
    /* Reads up to len bytes at offset; returns the count (short only at the end) or -1. */
    ssize_t (*blob_read_at)(void *arg, const char *digest, int64_t offset, void *buf, size_t len,
                            struct berth_error **err);
    /* Adds or replaces these labels on a stored blob (containerd's Update "labels.<key>"). */
    int (*blob_set_labels)(void *arg, const char *digest, const struct archive_kv *labels,
                           size_t n_labels, struct berth_error **err);
    /*
     * Optional (NULL to skip): a stored blob labelled ARCHIVE_LABEL_UNCOMPRESSED=diff_id
     * (containerd takes the last one in digest order). Returns 1 with its digest and size, 0 if
     * none, -1.
     */
    int (*find_compressed)(void *arg, const char *diff_id, char **ret_digest, int64_t *ret_size,
                           struct berth_error **err);
    /*
     * Creates the image or, when one has that name, updates its target (and its labels when
     * image->replace_labels). Called only after every required blob has been verified.
     */
    int (*image_store)(void *arg, const struct archive_image *image, struct berth_error **err);
};

/* Where an export reads from. */
struct export_source {
    void *arg;
    /* The image record by name, or ERR_NOT_FOUND. */
    int (*image_get)(void *arg, const char *name, struct archive_image *ret,
                     struct berth_error **err);
    /* A stored blob's size and labels (the caller frees them with archive_kv_free). */
    int (*blob_info)(void *arg, const char *digest, int64_t *ret_size,
                     struct archive_kv **ret_labels, size_t *ret_n_labels,
                     struct berth_error **err);
    ssize_t (*blob_read_at)(void *arg, const char *digest, int64_t offset, void *buf, size_t len,
                            struct berth_error **err);
};

/* ---- import ---- */

/* Pulls archive bytes: returns the count, 0 at the end, or -1 with *err set. */
typedef ssize_t (*archive_read_fn)(void *arg, void *buf, size_t len, struct berth_error **err);

/* Which of containerd's two import paths decides names, labels and platforms. */
enum import_naming {
    /* The transfer service (ctr 2.0's default, core/transfer/image Store). */
    IMPORT_NAMING_TRANSFER = 0,
    /* The client library (client.Import: `ctr images import --local`, and ctr 1.x). */
    IMPORT_NAMING_CLIENT,
};

/*
 * A way to name imported manifests, as the transfer API's ImageReference. With
 * IMPORT_NAMING_CLIENT only the first is used, always as a prefix: allow_overwrite selects
 * AddRefPrefix (ctr without --base-name) over FilterRefPrefix, add_digest adds
 * "<name>@<digest>" images (--digests), skip_named_digest skips those for named manifests.
 */
struct import_reference {
    const char *name;
    bool is_prefix;
    bool allow_overwrite;
    bool add_digest;
    bool skip_named_digest;
};

struct import_options {
    enum import_naming naming;
    /* An image name for the archive's index itself (--index-name, ImageStore.name). */
    const char *index_name;
    const struct import_reference *references;
    size_t n_references;
    /* Labels for every created image (--label). */
    const struct archive_kv *labels;
    size_t n_labels;
    /*
     * Platforms whose content must be present. Transfer: none means all, several are matched
     * in order (platforms.Ordered). Client: all_platforms, else the first given (OnlyStrict),
     * else this host and its compatible platforms (platforms.Default).
     */
    const struct archive_platform *platforms;
    size_t n_platforms;
    bool all_platforms;
    bool all_metadata;       /* transfer: walk other platforms' manifests and configs too */
    uint32_t manifest_limit; /* transfer: keep at most this many manifests per index (0: all) */
    bool compress;           /* gzip uncompressed docker layers (--compress-blobs) */
};

struct import_result {
    struct archive_descriptor index; /* the archive's index (synthesized for docker archives) */
    struct archive_image *images;    /* the images stored, in order */
    size_t n_images;
};

void import_result_clear(struct import_result *result);

/*
 * Imports an image archive as containerd's ImportIndex and its callers do: an OCI image layout
 * (when "oci-layout" is present) or a docker save archive (manifest.json), optionally gzip or
 * zstd compressed. Every regular entry is stored as a blob while the tar streams by; blobs named
 * blobs/<alg>/<hex> must hash to their name. Docker archives get a synthesized Docker schema 2
 * manifest per image and one index, byte for byte as containerd writes them. Then the index is
 * walked for the selected platforms, setting containerd's gc.ref labels, and every blob the walk
 * reaches (indexes, manifests, configs, layers but non-distributable ones) must be present with
 * its stated size; only then are images stored, named as the naming mode and references say.
 * Hostile input (absolute or ".." names, links out of the archive, devices, duplicate entries,
 * oversized or too deep JSON) fails with ERR_INVALID_ARGUMENT naming the entry; missing content
 * fails with ERR_NOT_FOUND.
 */
int archive_import(archive_read_fn read, void *read_arg, const struct import_options *options,
                   const struct import_sink *sink, struct import_result *ret,
                   struct berth_error **err);
int archive_import_fd(int fd, const struct import_options *options, const struct import_sink *sink,
                      struct import_result *ret, struct berth_error **err);

/* ctr's generated prefix for nameless imports: "import-YYYY-MM-DD" in local time. Malloc'd. */
char *archive_import_default_prefix(time_t now);

/* ---- export ---- */

/* Pushes archive bytes; returns 0 or -1 with *err set. */
typedef int (*archive_write_fn)(void *arg, const void *data, size_t len, struct berth_error **err);

struct export_options {
    const char *const *names; /* images to export, in index.json order */
    size_t n_names;
    /* Platforms for indexes (platforms.Ordered); none means this host only (DefaultStrict). */
    const struct archive_platform *platforms;
    size_t n_platforms;
    bool all_platforms;          /* every manifest of an index, not only matching ones */
    bool skip_manifest_json;     /* no docker-compatible manifest.json */
    bool skip_non_distributable; /* leave out foreign / non-distributable layers */
};

/*
 * Writes an OCI image layout tarball as containerd's exporter does: oci-layout, the blobs of
 * every image (all platforms of an index with all_platforms, else the matching ones), index.json
 * naming each image through the io.containerd.image.name and org.opencontainers.image.ref.name
 * annotations (plus the images' distribution-source labels), and a docker manifest.json for the
 * best-matching manifest of each image. Entries are sorted by name with Go's tar headers (mode,
 * zero times and owners), so the same images give the same bytes. Every blob is checked to be
 * present before anything is written, and verified against its digest while being copied.
 */
int archive_export(archive_write_fn write, void *write_arg, const struct export_options *options,
                   const struct export_source *source, struct berth_error **err);
int archive_export_fd(int fd, const struct export_options *options,
                      const struct export_source *source, struct berth_error **err);
