/* A pull reader over a layer blob: detects gzip/zstd/plain, inflates, and digests both sides. */
#pragma once

#include "lib/base/errors.h"
#include "lib/digest/digest.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Where the raw (possibly compressed) bytes come from: fills buf with up to len bytes and returns
 * how many, 0 at the end, or -1 with errno set.
 */
typedef ssize_t (*layer_source_fn)(void *opaque, void *buf, size_t len);

enum layer_compression {
    LAYER_COMPRESSION_NONE,
    LAYER_COMPRESSION_GZIP,
    LAYER_COMPRESSION_ZSTD,
};

/* Which inflater serves gzip. AUTO is ISA-L's igzip when Berth was built with it, else zlib. */
enum layer_gzip_backend {
    LAYER_GZIP_AUTO,
    LAYER_GZIP_IGZIP,
    LAYER_GZIP_ZLIB,
};

struct layer_reader;

/* What a reader saw, once its stream has been read to the end. */
struct layer_reader_result {
    enum layer_compression compression;
    char compressed_digest[DIGEST_STRING_SIZE];   /* of the raw bytes: the blob's digest */
    char uncompressed_digest[DIGEST_STRING_SIZE]; /* of the tar stream: the diff_id */
    int64_t compressed_size;
    int64_t uncompressed_size;
};

/* A reader pulling from source; nothing is read until the first layer_reader_read. */
int layer_reader_new(layer_source_fn source, void *opaque, enum layer_gzip_backend backend,
                     struct layer_reader **ret, struct berth_error **err);
/* A reader over fd from its current offset; fd stays owned by the caller. */
int layer_reader_new_fd(int fd, enum layer_gzip_backend backend, struct layer_reader **ret,
                        struct berth_error **err);
/* A reader over a memory buffer, which must outlive the reader. */
int layer_reader_new_memory(const void *data, size_t len, enum layer_gzip_backend backend,
                            struct layer_reader **ret, struct berth_error **err);
struct layer_reader *layer_reader_free(struct layer_reader *r);
static inline void layer_reader_freep(struct layer_reader **r)
{
    layer_reader_free(*r);
}
#define _cleanup_layer_reader_ __attribute__((cleanup(layer_reader_freep)))

/*
 * Reads up to len uncompressed bytes into buf: returns the count, 0 at the end of the stream, or
 * -1 with *err set (corrupt or truncated data, a failing source). Errors are sticky.
 */
ssize_t layer_reader_read(struct layer_reader *r, void *buf, size_t len, struct berth_error **err);
/*
 * As layer_reader_read, without a copy: *ret points at up to max bytes that stay valid until the
 * next call on r (with a thread, they are the ring's own; the producer does not reuse them).
 */
ssize_t layer_reader_read_borrow(struct layer_reader *r, size_t max, const void **ret,
                                 struct berth_error **err);
/*
 * Reads whatever is left (tar padding after the end-of-archive blocks, trailing frames) so the
 * digests cover the whole blob, then fills *ret. A truncated or corrupt stream fails here.
 */
int layer_reader_finish(struct layer_reader *r, struct layer_reader_result *ret,
                        struct berth_error **err);
/*
 * Moves decompression (and both digests) to a thread of its own that fills a ring of
 * buffer_size bytes (0: LAYER_READER_THREAD_BUFFER) ahead of layer_reader_read, so inflating
 * and whatever consumes the tar run on two cores. Must come before the first read; a second call
 * does nothing. The thread runs to the end of the stream or until layer_reader_finish /
 * layer_reader_free, which join it; its errors reach layer_reader_read after the bytes before
 * them.
 */
#define LAYER_READER_THREAD_BUFFER (4u * 1024 * 1024)
int layer_reader_start_thread(struct layer_reader *r, size_t buffer_size, struct berth_error **err);
/* Decompression threads started and not yet joined, in this process (for tests and dumps). */
size_t layer_reader_live_threads(void);
/* Marks r to decompress on the reading thread: diff_apply then starts no thread for it. */
void layer_reader_keep_inline(struct layer_reader *r);
bool layer_reader_kept_inline(const struct layer_reader *r);
/* The compression seen so far (NONE until the first read; with a thread, valid after finish). */
enum layer_compression layer_reader_compression(const struct layer_reader *r);
/* The backend actually used for gzip: IGZIP or ZLIB. */
enum layer_gzip_backend layer_reader_gzip_backend(const struct layer_reader *r);
/* Whether this build has ISA-L's igzip. */
bool layer_reader_have_igzip(void);
const char *layer_compression_name(enum layer_compression c);
