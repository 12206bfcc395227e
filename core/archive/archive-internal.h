/* Shared pieces of the archive importer and exporter: limits, JSON decoding, walking, tar. */
#pragma once

#include "core/archive/archive.h"
#include "lib/json/json_writer.h"

#include <json-c/json.h>

/* containerd reads oci-layout and manifest.json through a 20 MiB LimitReader; Berth bounds every
 * JSON document it reads (indexes, manifests, configs) the same way. */
#define ARCHIVE_JSON_MAX (20 << 20)
/* Image JSON nests about six levels; anything past this is hostile. */
#define ARCHIVE_JSON_DEPTH 64
/* Bounds on what an archive may make the importer hold in memory or do. */
#define ARCHIVE_MAX_ENTRIES    65536
#define ARCHIVE_MAX_NAME       4096
#define ARCHIVE_MAX_WALK_DEPTH 16
#define ARCHIVE_MAX_WALK_NODES 65536
/* docker save archives: images in manifest.json, and layers per image (real ones stop near 127). */
#define ARCHIVE_MAX_IMAGES 4096
#define ARCHIVE_MAX_LAYERS 1024

#define ARCHIVE_LABEL_GC_PREFIX "containerd.io/gc.ref.content."

typedef ssize_t (*archive_blob_read_fn)(void *arg, const char *digest, int64_t offset, void *buf,
                                        size_t len, struct berth_error **err);

/* ---- JSON, decoded the way Go's encoding/json fills the structs containerd uses ---- */

/*
 * Parses one JSON value (strict syntax, depth-limited). With allow_trailing the first value is
 * taken and the rest ignored (json.Decoder.Decode); otherwise only whitespace may follow
 * (json.Unmarshal).
 */
int archive_json_parse(const char *data, size_t len, bool allow_trailing, struct json_object **ret,
                       struct berth_error **err);
/* A member as Go matches struct fields: keys compare case-insensitively and the last one wins.
 * NULL when absent. A JSON null is returned as NULL too (Go leaves the field unset). */
struct json_object *archive_json_member(struct json_object *obj, const char *key);
/* Whether a member is present at all, null included (json.RawMessage fields). */
bool archive_json_has_member(struct json_object *obj, const char *key);
/* Typed members: absent or null gives NULL / 0 / no items; a wrong type is an error that names
 * `where` (e.g. "Descriptor.size"). */
int archive_json_string(struct json_object *obj, const char *key, const char *where, char **ret,
                        struct berth_error **err);
int archive_json_int64(struct json_object *obj, const char *key, const char *where, int64_t *ret,
                       struct berth_error **err);
int archive_json_string_array(struct json_object *obj, const char *key, const char *where,
                              char ***ret, size_t *ret_n, struct berth_error **err);
int archive_json_string_map(struct json_object *obj, const char *key, const char *where,
                            struct archive_kv **ret, size_t *ret_n, struct berth_error **err);
void archive_strv_free(char **v, size_t n);

/* An ocispec.Descriptor / Platform from a JSON object (null gives an empty one). */
int archive_descriptor_from_json(struct json_object *obj, struct archive_descriptor *ret,
                                 struct berth_error **err);
int archive_platform_from_json(struct json_object *obj, struct archive_platform *ret,
                               struct berth_error **err);
/* The descriptor as ocispec.Descriptor marshals: mediaType, digest, size, annotations, platform. */
void archive_descriptor_write_json(struct json_writer *w, const struct archive_descriptor *d);

/*
 * images.Children on a blob's bytes: a manifest's config and layers, an index's manifests,
 * nothing for other types. Checks the document against its media type first (containerd's
 * validateMediaType) and refuses schema 1.
 */
int archive_children(const char *data, size_t len, const char *media_type,
                     struct archive_descriptor **ret, size_t *ret_n, struct berth_error **err);
void archive_descriptors_free(struct archive_descriptor *d, size_t n);

/* Reads a whole blob of at most `max` bytes (ERR_RESOURCE_EXHAUSTED beyond). */
int archive_blob_read_all(archive_blob_read_fn read, void *arg, const char *digest, int64_t size,
                          size_t max, char **ret, size_t *ret_len, struct berth_error **err);

/* The child labels containerd's ChildGCLabels picks ("containerd.io/gc.ref.content.m." etc.). */
const char *archive_child_gc_label(const char *media_type);

/* ---- platform matching (platforms.MatchComparer) ---- */

struct platform_matcher {
    bool all;
    struct archive_platform *platforms; /* in preference order */
    size_t n;
};

void platform_matcher_clear(struct platform_matcher *m);
/* platforms.All, Ordered(list...), Only(p) and OnlyStrict(p). */
void platform_matcher_all(struct platform_matcher *m);
void platform_matcher_ordered(struct platform_matcher *m, const struct archive_platform *list,
                              size_t n);
void platform_matcher_only(struct platform_matcher *m, const struct archive_platform *p);
void platform_matcher_only_strict(struct platform_matcher *m, const struct archive_platform *p);
bool platform_matcher_match(const struct platform_matcher *m, const struct archive_platform *p);
bool platform_matcher_less(const struct platform_matcher *m, const struct archive_platform *a,
                           const struct archive_platform *b);
/* Stable sort of descriptors, best platform first, those without a platform last. */
void platform_matcher_sort(const struct platform_matcher *m, struct archive_descriptor *d,
                           size_t n);

/* ---- import pieces ---- */

/* What the tar pass learned: every regular entry stored as a blob, and the two JSON files. */
struct import_entry {
    char *name; /* cleaned (path.Clean) */
    char *digest;
    int64_t size;
    unsigned char head[10]; /* the first bytes, to sniff compression */
    size_t head_len;
};

struct import_symlink {
    char *name;
    char *target; /* path.Join(path.Dir(name), linkname) */
};

struct import_archive {
    struct import_entry *entries; /* sorted by name once the pass ends */
    size_t n_entries;
    struct import_symlink *symlinks;
    size_t n_symlinks;
    char *layout_version;                 /* oci-layout's imageLayoutVersion, NULL if none */
    struct json_object *docker_manifests; /* manifest.json, NULL if none */
};

void import_archive_clear(struct import_archive *a);
/* Streams the tar, storing blobs in the sink. */
int import_archive_read(archive_read_fn read, void *read_arg, const struct import_sink *sink,
                        struct import_archive *ret, struct berth_error **err);
const struct import_entry *import_archive_find(const struct import_archive *a, const char *name);

/* Stores JSON bytes as a blob ("manifest-<digest>" ref) and describes it. */
int import_write_json_blob(const struct import_sink *sink, const char *data, size_t len,
                           const char *media_type, struct archive_descriptor *ret,
                           struct berth_error **err);
/* Synthesizes the docker manifests and their index from manifest.json (ImportIndex's path). */
int import_docker_index(const struct import_archive *a, const struct import_sink *sink,
                        bool compress, struct archive_descriptor *ret, struct berth_error **err);

/* The images to store for one descriptor, per the naming mode; appended to *images. */
void import_names_for_index(const struct import_options *options,
                            const struct archive_descriptor *index, struct archive_image **images,
                            size_t *n_images);
void import_names_for_manifest(const struct import_options *options,
                               const struct archive_descriptor *manifest,
                               struct archive_image **images, size_t *n_images);

/* ---- export pieces ---- */

/*
 * Writes the header(s) Go's archive/tar Writer writes for a Header with only Name, Mode, Size
 * and Typeflag set: USTAR (name split into prefix/name past 100 bytes), or a PAX extended header
 * first when the name or size does not fit.
 */
int archive_tar_write_header(archive_write_fn write, void *arg, const char *name, unsigned mode,
                             int64_t size, char typeflag, struct berth_error **err);
/* Zero padding after an entry's data, to the next 512-byte block. */
int archive_tar_write_padding(archive_write_fn write, void *arg, int64_t size,
                              struct berth_error **err);
/* The end of the archive: two zero blocks (Go does not pad to a record size). */
int archive_tar_write_end(archive_write_fn write, void *arg, struct berth_error **err);
