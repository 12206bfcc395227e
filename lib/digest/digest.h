/* Content digests as go-digest has them ("sha256:<hex>"), and streaming hashers over libcrypto. */
#pragma once

#include "lib/base/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum digest_algorithm {
    DIGEST_SHA256,
    DIGEST_SHA384,
    DIGEST_SHA512,
};

/* containerd's canonical algorithm: ingest keys and committed blobs are always sha256. */
#define DIGEST_CANONICAL DIGEST_SHA256

/* The longest digest string ("sha512:" and 128 hex digits) and a buffer that holds it. */
#define DIGEST_MAX_LENGTH  (7 + 128)
#define DIGEST_STRING_SIZE (DIGEST_MAX_LENGTH + 1)
/* The longest raw hash (SHA-512). */
#define DIGEST_MAX_RAW_SIZE 64

/* "sha256", "sha384", "sha512". */
const char *digest_algorithm_name(enum digest_algorithm algorithm);
/* The hash size in bytes (the encoded part is twice as long). */
size_t digest_algorithm_size(enum digest_algorithm algorithm);
/* Looks an algorithm up by name (name[0..len)); false when go-digest would not know it. */
bool digest_algorithm_from_name(const char *name, size_t len, enum digest_algorithm *ret_algorithm);

/*
 * Checks s as go-digest's Digest.Validate does. Returns NULL when valid, or go-digest's reason:
 * "invalid checksum digest format", "unsupported digest algorithm" or
 * "invalid checksum digest length".
 */
const char *digest_check(const char *s);
/* digest_check as an error: ERR_INVALID_ARGUMENT with go-digest's reason. */
int digest_validate(const char *s, struct berth_error **err);
/*
 * Validates s and splits it: its algorithm and a pointer to its encoded (hex) part inside s.
 * Either out-param may be NULL.
 */
int digest_parse(const char *s, enum digest_algorithm *ret_algorithm, const char **ret_encoded,
                 struct berth_error **err);
/* Formats "<algorithm>:<hex of raw>"; raw must be digest_algorithm_size(algorithm) bytes. */
void digest_format(enum digest_algorithm algorithm, const unsigned char *raw,
                   char out[DIGEST_STRING_SIZE]);
/* Digests compare as strings (go-digest's Digest is a string); NULL equals only NULL. */
bool digest_equal(const char *a, const char *b);

/* ---- hashing ---- */

struct digester;

/* A fresh hasher; fails only when libcrypto cannot provide the algorithm. */
int digester_new(enum digest_algorithm algorithm, struct digester **ret, struct berth_error **err);
/* NULL-safe; returns NULL. */
struct digester *digester_free(struct digester *d);
static inline void digester_freep(struct digester **d)
{
    digester_free(*d);
}
#define _cleanup_digester_ __attribute__((cleanup(digester_freep)))

enum digest_algorithm digester_algorithm(const struct digester *d);
/* Feeds bytes. A libcrypto failure is remembered and reported by digester_digest. */
void digester_update(struct digester *d, const void *data, size_t len);
/* Reads fd from its current position to EOF into the hasher; *ret_bytes (may be NULL) counts. */
int digester_update_fd(struct digester *d, int fd, int64_t *ret_bytes, struct berth_error **err);
/*
 * The digest of everything fed so far, as go-digest's Digester.Digest: the hasher is left as it
 * was, so more bytes can follow.
 */
int digester_digest(struct digester *d, char out[DIGEST_STRING_SIZE], struct berth_error **err);
/* Forgets everything fed, as hash.Hash.Reset. */
void digester_reset(struct digester *d);

/* One-shot helpers. */
int digest_from_bytes(enum digest_algorithm algorithm, const void *data, size_t len,
                      char out[DIGEST_STRING_SIZE], struct berth_error **err);
/* Hashes fd from its current position to EOF; *ret_bytes (may be NULL) gets the byte count. */
int digest_from_fd(enum digest_algorithm algorithm, int fd, char out[DIGEST_STRING_SIZE],
                   int64_t *ret_bytes, struct berth_error **err);
