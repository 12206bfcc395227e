/* containerd's local content store: verified blobs by digest and resumable ingests by ref. */
#pragma once

#include "lib/base/errors.h"
#include "lib/digest/digest.h"

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/*
 * On disk, exactly containerd's layout (plugins/content/local), so either daemon reads the
 * other's root:
 *   <root>/blobs/<alg>/<hex>           committed, read-only blobs
 *   <root>/ingest/<sha256 hex of ref>/ one per active write: data, ref, startedat, updatedat, total
 * Labels, namespaces and leases are not kept here; the metadata layer above does that.
 *
 * Every function is blocking and thread-safe on a store; a writer or reader belongs to one
 * thread at a time.
 */

/* Refs are hashed into paths, so any bytes are safe; only their length is bounded. */
#define CONTENT_REF_MAX 4096

struct content_store;
struct content_writer;
struct content_reader;

struct content_info {
    char digest[DIGEST_STRING_SIZE];
    int64_t size;
    struct timespec created_at; /* the blob's mtime: its commit time */
    struct timespec updated_at; /* its atime, as containerd reads it */
};

struct content_status {
    char *ref; /* owned: release with content_status_clear */
    int64_t offset;
    int64_t total;                     /* 0 when not known */
    char expected[DIGEST_STRING_SIZE]; /* "" unless a writer was opened with one */
    struct timespec started_at;
    struct timespec updated_at;
};

void content_status_clear(struct content_status *status);

/* Opens (creating <root>, blobs/ and ingest/ as needed) a store. */
int content_store_open(const char *root, struct content_store **ret, struct berth_error **err);
/* NULL-safe; writers and readers must be closed first. Returns NULL. */
struct content_store *content_store_close(struct content_store *store);
const char *content_store_root(const struct content_store *store);

/* ---- committed blobs ---- */

/* NotFound as containerd words it: "content sha256:...: not found". */
int content_info(struct content_store *store, const char *digest, struct content_info *ret,
                 struct berth_error **err);
/* Removes a blob; NotFound when absent. */
int content_delete(struct content_store *store, const char *digest, struct berth_error **err);

/*
 * Calls fn for every blob of a supported algorithm, in lexical order (as containerd's
 * filepath.Walk). fn returns 0 to go on, CONTENT_WALK_STOP to stop with success, or < 0 (having
 * set *err) to stop with that error.
 */
#define CONTENT_WALK_STOP 1
typedef int (*content_walk_fn)(const struct content_info *info, void *arg,
                               struct berth_error **err);
int content_walk(struct content_store *store, content_walk_fn fn, void *arg,
                 struct berth_error **err);

/* A blob opened for reading at offsets (containerd's ReaderAt). */
int content_reader_open(struct content_store *store, const char *digest,
                        struct content_reader **ret, struct berth_error **err);
int64_t content_reader_size(const struct content_reader *reader);
/* The open file (O_RDONLY), e.g. for sendfile or mmap; owned by the reader. */
int content_reader_fd(const struct content_reader *reader);
/* Reads up to len bytes at offset; returns the count (short only at the end of the blob, 0 past
 * it) or -1. */
ssize_t content_reader_read_at(struct content_reader *reader, void *buf, size_t len, int64_t offset,
                               struct berth_error **err);
/* NULL-safe; returns NULL. */
struct content_reader *content_reader_close(struct content_reader *reader);
static inline void content_reader_closep(struct content_reader **reader)
{
    content_reader_close(*reader);
}

/* ---- ingests ---- */

/* The status of an ingest by ref, from its files; NotFound when there is none. */
int content_status(struct content_store *store, const char *ref, struct content_status *ret,
                   struct berth_error **err);
/*
 * Calls fn for every readable ingest, in the order of their directory names; half-made or
 * vanishing ones are skipped, as containerd does. fn returns as for content_walk.
 */
typedef int (*content_status_fn)(const struct content_status *status, void *arg,
                                 struct berth_error **err);
int content_list_statuses(struct content_store *store, content_status_fn fn, void *arg,
                          struct berth_error **err);
/*
 * Every ingest directory with the ref its `ref` file names (NULL when unreadable: half made or
 * foreign) and its directory's mtime — for garbage collection, which must see even the ingests
 * that content_list_statuses skips. fn returns < 0 (with *err) to stop.
 */
typedef int (*content_ingest_fn)(const char *dir_name, const char *ref,
                                 const struct timespec *modified, void *arg,
                                 struct berth_error **err);
int content_walk_ingests(struct content_store *store, content_ingest_fn fn, void *arg,
                         struct berth_error **err);
/* Removes an ingest directory by name (from content_walk_ingests). */
int content_remove_ingest_dir(struct content_store *store, const char *dir_name,
                              struct berth_error **err);
/* Removes an ingest and its data; NotFound when there is none. */
int content_abort(struct content_store *store, const char *ref, struct berth_error **err);

/*
 * Starts or resumes the write identified by ref (containerd's Store.Writer). Only one writer per
 * ref at a time: another open fails Unavailable ("ref <ref> locked for <duration> (since
 * <time>)") until this one is closed or committed. An existing ingest continues at its offset,
 * its digest rebuilt by re-reading the data. total (0 = unknown) and expected ("" or NULL =
 * unknown) describe the content; when expected is already a blob, AlreadyExists.
 */
int content_writer_open(struct content_store *store, const char *ref, int64_t total,
                        const char *expected, struct content_writer **ret,
                        struct berth_error **err);
/* Appends at the current offset. */
int content_writer_write(struct content_writer *writer, const void *data, size_t len,
                         struct berth_error **err);
/*
 * The Write RPC's offset rule: offset > 0 must equal the current offset (else OutOfRange "write
 * @<offset> must occur at current offset <current>"); offset 0 on a writer holding data restarts
 * it from empty; then data is appended.
 */
int content_writer_write_at(struct content_writer *writer, int64_t offset, const void *data,
                            size_t len, struct berth_error **err);
/* Only 0 is supported, as in containerd: drops the data and the digest state. */
int content_writer_truncate(struct content_writer *writer, int64_t size, struct berth_error **err);
/* The writer's own view: ref, offset, total, expected, started and updated times. */
void content_writer_status(const struct content_writer *writer, struct content_status *ret);
/* The digest of the data written so far. */
int content_writer_digest(struct content_writer *writer, char out[DIGEST_STRING_SIZE],
                          struct berth_error **err);
/*
 * Verifies size (if > 0) and expected digest (if non-empty), makes the data durable and
 * read-only, and renames it into blobs/. FailedPrecondition on a mismatch (the ingest stays, for
 * a retry or an abort); AlreadyExists if the blob appeared meanwhile (the ingest is removed).
 * Whatever the outcome the writer is finished: its lock is released; only close remains.
 */
int content_writer_commit(struct content_writer *writer, int64_t size, const char *expected,
                          struct berth_error **err);
/* Flushes the data to disk. */
int content_writer_sync(struct content_writer *writer, struct berth_error **err);
/*
 * Releases the writer. An uncommitted ingest stays on disk to be resumed by ref (or aborted);
 * the lock is released. NULL-safe; returns NULL.
 */
struct content_writer *content_writer_close(struct content_writer *writer);
static inline void content_writer_closep(struct content_writer **writer)
{
    content_writer_close(*writer);
}

/* io.containerd.content.v1 "content": the store at the plugin's root, exporting "root". */
struct plugin_registration;
extern const struct plugin_registration content_plugin;
