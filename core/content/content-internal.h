/* Internals shared by the content store's files: the store struct, paths, locks, file helpers. */
#pragma once

#include "core/content/content.h"

#include <pthread.h>
#include <stdbool.h>

struct ref_lock {
    char *ref;
    struct timespec since;
    struct ref_lock *next;
};

struct content_store {
    char *root;
    char *blobs_dir;  /* <root>/blobs */
    char *ingest_dir; /* <root>/ingest */
    pthread_mutex_t locks_mutex;
    struct ref_lock *locks; /* refs with an open writer */
};

/* Modes: containerd's, without relying on the daemon's umask for the files. */
#define CONTENT_DIR_MODE  0755
#define CONTENT_FILE_MODE 0644

/* "ref must not be empty" / too long: InvalidArgument. */
int content_check_ref(const char *ref, struct berth_error **err);
/* <root>/ingest/<sha256 hex of ref>. */
char *content_ingest_path(const struct content_store *store, const char *ref);
/*
 * <root>/blobs/<alg>/<hex>, or InvalidArgument worded as containerd's
 * "<context>: cannot calculate blob path from invalid digest: <reason>".
 */
int content_blob_path(const struct content_store *store, const char *digest, const char *context,
                      char **ret_path, struct berth_error **err);
/* Reads an ingest directory's status as containerd's store.status does. */
int content_read_status(const char *ingest_path, struct content_status *ret,
                        struct berth_error **err);

/* Ref locks (containerd's locks.go): Unavailable when ref is already held. */
int content_lock_ref(struct content_store *store, const char *ref, struct berth_error **err);
void content_unlock_ref(struct content_store *store, const char *ref);

/* ---- files.c ---- */

/* Time as Go's MarshalText writes it (RFC 3339 with trimmed nanoseconds), in UTC. */
#define CONTENT_TIMESTAMP_SIZE 64
void content_format_timestamp(const struct timespec *ts, char out[CONTENT_TIMESTAMP_SIZE]);
/* Parses RFC 3339 as Go's UnmarshalText does (any offset, optional fraction). */
bool content_parse_timestamp(const char *text, struct timespec *ret);
/* Go's time.Duration.String ("1.5s", "250ms", "1h0m0s"). */
void content_format_duration(int64_t ns, char out[40]);
/* Go's time.Time.String, in UTC ("2006-01-02 15:04:05.999999999 +0000 UTC"). */
void content_format_time(const struct timespec *ts, char out[CONTENT_TIMESTAMP_SIZE]);
struct timespec content_now(void);
int content_timespec_compare(const struct timespec *a, const struct timespec *b);

/* Writes path via path.tmp (synced) and rename, as containerd's writeToCompletion. */
int content_write_file(const char *path, const void *data, size_t len, struct berth_error **err);
int content_write_timestamp(const char *path, const struct timespec *ts, struct berth_error **err);
int content_read_timestamp(const char *path, struct timespec *ret, struct berth_error **err);
/* rm -rf that does not follow symlinks; a missing path is success. Sets errno on failure. */
int content_remove_tree(const char *path);
/* fsync of a directory, for renames into it to be durable. */
int content_sync_dir(const char *path, struct berth_error **err);
/* The sorted entries of a directory (NULL-terminated, malloc'd); ENOENT gives an empty list. */
int content_list_dir(const char *path, char ***ret_names, size_t *ret_count,
                     struct berth_error **err);
void content_free_names(char **names, size_t count);
