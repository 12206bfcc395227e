/*
 * The namespaced content store: containerd's metadata layer over the local blob store. A blob is
 * visible in a namespace only once committed (or shared) into it; labels live here; ingests are
 * tracked per namespace and map to a unique ref in the local store.
 */
#pragma once

#include "core/content/content.h"
#include "core/metadata/db.h"
#include "core/metadata/labels.h"

struct filter;

struct content_record {
    char digest[DIGEST_STRING_SIZE];
    int64_t size;
    int64_t created_ns; /* realtime */
    int64_t updated_ns;
    struct labels labels;
};

void content_record_clear(struct content_record *r);
/* A stored record's value (for garbage collection); false when corrupt. */
bool content_record_decode(const void *data, size_t len, const char *digest,
                           struct content_record *ret);

struct metadata_content;

/* shared: containerd's content_sharing_policy "shared" (blobs of other namespaces are reused). */
struct metadata_content *metadata_content_new(struct metadata_db *db, struct content_store *store,
                                              bool shared);
void metadata_content_free(struct metadata_content *mc);
struct content_store *metadata_content_store(struct metadata_content *mc);

/* NotFound: "content digest <d>: not found". */
int metadata_content_info(struct metadata_content *mc, const char *ns, const char *digest,
                          struct content_record *ret, struct berth_error **err);
/* containerd's Update: paths "labels" or "labels.<k>"; none = replace labels. */
int metadata_content_update(struct metadata_content *mc, const char *ns, const char *digest,
                            const struct labels *labels, const char *const *paths, size_t n_paths,
                            struct content_record *ret, struct berth_error **err);
/* Records of a namespace matching filter (NULL: all), in digest order; fn returns < 0 to stop. */
typedef int (*metadata_content_fn)(const struct content_record *r, void *arg,
                                   struct berth_error **err);
int metadata_content_walk(struct metadata_content *mc, const char *ns, const struct filter *filter,
                          metadata_content_fn fn, void *arg, struct berth_error **err);
/* Removes the namespace's record; the blob goes when garbage collection finds it unused. */
int metadata_content_delete(struct metadata_content *mc, const char *ns, const char *digest,
                            struct berth_error **err);
int metadata_content_reader_open(struct metadata_content *mc, const char *ns, const char *digest,
                                 struct content_reader **ret, struct berth_error **err);

/* Ingests by the client's ref (namespaced): NotFound "reference <ref>: not found". */
int metadata_content_status(struct metadata_content *mc, const char *ns, const char *ref,
                            struct content_status *ret, struct berth_error **err);
typedef int (*metadata_status_fn)(const struct content_status *status, void *arg,
                                  struct berth_error **err);
int metadata_content_list_statuses(struct metadata_content *mc, const char *ns,
                                   const struct filter *filter, metadata_status_fn fn, void *arg,
                                   struct berth_error **err);
int metadata_content_abort(struct metadata_content *mc, const char *ns, const char *ref,
                           struct berth_error **err);

struct metadata_content_writer;
/*
 * Opens a writer for ref in ns. AlreadyExists ("content <d>: already exists") when expected is
 * already in ns. With `lease` (the containerd-lease header) the ingest and the committed blob
 * are added to that lease.
 */
int metadata_content_writer_open(struct metadata_content *mc, const char *ns, const char *ref,
                                 int64_t total, const char *expected, const char *lease,
                                 struct metadata_content_writer **ret, struct berth_error **err);
void metadata_content_writer_status(struct metadata_content_writer *w, struct content_status *ret);
int metadata_content_writer_write_at(struct metadata_content_writer *w, int64_t offset,
                                     const void *data, size_t len, struct berth_error **err);
int metadata_content_writer_digest(struct metadata_content_writer *w, char out[DIGEST_STRING_SIZE],
                                   struct berth_error **err);
/* Verifies, commits the blob and records it in ns with labels; AlreadyExists if it was there. */
int metadata_content_writer_commit(struct metadata_content_writer *w, int64_t size,
                                   const char *expected, const struct labels *labels,
                                   struct berth_error **err);
/* Keeps an uncommitted ingest for resumption. NULL-safe; returns NULL. */
struct metadata_content_writer *metadata_content_writer_close(struct metadata_content_writer *w);

/* io.containerd.service.v1 "content-service": the namespaced store gRPC and others use. */
struct plugin_registration;
extern const struct plugin_registration content_service_store_plugin;
