/* Creating a layer from two directories (containerd's walking differ Compare / archive.WriteDiff).
 */
#pragma once

#include "lib/base/errors.h"
#include "lib/digest/digest.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIFF_MEDIA_TYPE_LAYER      "application/vnd.oci.image.layer.v1.tar"
#define DIFF_MEDIA_TYPE_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"

/* Receives the layer bytes (compressed when asked) in order; returns < 0 with *err to stop. */
typedef int (*diff_write_fn)(void *opaque, const void *data, size_t len, struct berth_error **err);

struct compare_options {
    /* gzip the tar (DIFF_MEDIA_TYPE_LAYER_GZIP) or not (DIFF_MEDIA_TYPE_LAYER) */
    bool gzip;
    /* Clamp entry mtimes to source_date_epoch (seconds) when set (WithModTimeUpperBound). */
    bool has_source_date_epoch;
    int64_t source_date_epoch;
};

struct compare_result {
    char digest[DIGEST_STRING_SIZE]; /* of the bytes handed to write (the blob) */
    int64_t size;
    char uncompressed_digest[DIGEST_STRING_SIZE]; /* of the tar: the diff_id */
    int64_t uncompressed_size;
    uint64_t entries;
};

/*
 * Media type → whether to gzip, as the walking differ accepts them ("" is the gzip layer).
 * NotImplemented "unsupported diff media type: M" otherwise.
 */
int diff_compare_media_type(const char *media_type, bool *ret_gzip, struct berth_error **err);

/*
 * Writes the changes that turn lower into upper as an OCI layer tar (continuity's double walk
 * and containerd's ChangeWriter): added and modified entries in path order with their parents,
 * deleted ones as `.wh.NAME`, hardlinks inside the layer as link entries, owners, modes,
 * whole-second mtimes and `security.capability` as containerd writes them. lower may be NULL
 * (every entry of upper is added). Output is deterministic for the same trees.
 */
int diff_compare(const char *lower, const char *upper, const struct compare_options *opts,
                 diff_write_fn write, void *opaque, struct compare_result *ret,
                 struct berth_error **err);

/*
 * The overlay fast path: the very layer diff_compare(lower, U) writes, where U is the overlay of
 * `layer` over lower, read from layer (which holds exactly U's changes: 0:0 character devices for
 * deletions, the overlay "opaque" xattr on replaced directories) and lower's tree, without walking
 * what did not change. userxattr: the markers are user.overlay.* (else trusted.overlay.*).
 * When layer uses what it cannot read alone (redirected directories, metacopy files, xattr
 * whiteouts) it fails NotImplemented with *ret_fallback set, having perhaps written part of a
 * layer: the caller starts over with diff_compare on the mounted trees.
 */
int diff_compare_overlay(const char *lower, const char *layer, bool userxattr,
                         const struct compare_options *opts, diff_write_fn write, void *opaque,
                         struct compare_result *ret, bool *ret_fallback, struct berth_error **err);
