/* Applying OCI layer tar streams to a directory (containerd's archive.Apply), contained in root. */
#pragma once

#include "core/diff/layer_reader.h"
#include "lib/base/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How OCI whiteouts (`.wh.NAME`, `.wh..wh..opq`) are written. */
enum diff_whiteout_mode {
    /* Native: delete NAME; an opaque marker empties the directory of what this layer did not add.
     */
    DIFF_WHITEOUT_NATIVE,
    /* Overlay: NAME becomes a 0:0 character device; opaque sets the overlay opaque xattr. */
    DIFF_WHITEOUT_OVERLAY,
};

/* Bounds on what a layer may contain; zero means the default. */
#define DIFF_DEFAULT_MAX_ENTRIES     (4u * 1024 * 1024)
#define DIFF_DEFAULT_MAX_PATH        4096
#define DIFF_DEFAULT_MAX_XATTRS      128
#define DIFF_DEFAULT_MAX_XATTR_VALUE (64 * 1024)

struct apply_options {
    enum diff_whiteout_mode whiteouts;
    /* overlay mode: set `user.overlay.opaque` instead of `trusted.overlay.opaque` (userxattr). */
    bool overlay_userxattr;
    /* Do not lchown entries to the uid/gid in the tar (containerd's WithNoSameOwner). */
    bool no_same_owner;
    /*
     * Lower directories, nearest first (overlay parents): a parent directory this layer needs but
     * does not carry takes its owner, mode, times and xattrs from the first lower that has it,
     * as containerd's WithParents does. NULL-terminated; may be NULL.
     */
    const char *const *parents;
    size_t max_entries;
    size_t max_path;
};

struct apply_result {
    /* sum of the entries' sizes as the tar headers give them (containerd's Apply return) */
    int64_t size;
    uint64_t entries;
};

/*
 * Applies the tar stream in `in` (already decompressed by the layer reader) under root, which
 * must exist. Every filesystem operation is relative to a descriptor of root and resolved inside
 * it (openat2 RESOLVE_IN_ROOT), so no entry lands outside root whatever its name or links.
 * On failure the error names the entry and root is left partly written: the caller (the diff
 * service / snapshotter) owns root and removes it, as containerd removes a failed snapshot.
 * The stream is not drained: call layer_reader_finish afterwards to get the digests.
 * Decompression moves to a thread of its own (layer_reader_start_thread) unless the reader has
 * one already or was told to stay inline (layer_reader_keep_inline).
 */
int diff_apply(const char *root, struct layer_reader *in, const struct apply_options *opts,
               struct apply_result *ret, struct berth_error **err);
