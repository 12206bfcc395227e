/* Unpacking an image's layers into a snapshotter in-process (containerd's core/unpack). */
#pragma once

#include "core/content/content.h"
#include "core/diff/layer_reader.h"
#include "core/metadata/labels.h"
#include "core/snapshots/snapshots.h"
#include "lib/base/errors.h"
#include "lib/digest/digest.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One layer of a manifest, with its diff_id from the config (strings borrowed). */
struct unpack_layer {
    const char *digest;     /* the blob in the content store */
    const char *media_type; /* any layer type the diff service applies; "" is taken as a tar */
    int64_t size;
    const char *diff_id; /* rootfs.diff_ids[i] */
    /* the descriptor's annotations: the containerd.io/snapshot/ ones become labels */
    const struct labels *annotations;
};

/* Where the blobs are and how their labels are set. */
struct unpack_content {
    int (*open)(void *arg, const char *digest, struct content_reader **ret,
                struct berth_error **err);
    /* Sets one label on a blob (containerd.io/uncompressed, the gc reference); NULL: none kept. */
    int (*set_label)(void *arg, const char *digest, const char *key, const char *value,
                     struct berth_error **err);
    void *arg;
};

#define UNPACK_DEFAULT_READ_AHEAD (16u * 1024 * 1024)

struct unpack_options {
    struct snapshotter *snapshotter;
    /* the snapshotter's name in the gc reference label ("overlayfs") */
    const char *snapshotter_name;
    struct unpack_content content;
    /* the config blob: gets containerd.io/gc.ref.snapshot.<name>=<top chain>; NULL: none */
    const char *config_digest;
    /* where mounts that cannot be written directly are mounted (the differ's tmpmounts) */
    const char *tmp_mounts;
    /*
     * sequential: each layer decompressed on the applying thread, one after the other (the
     * behaviour before pipelining, kept for benchmarks). Otherwise a layer is decompressed on
     * its own thread while it is applied, and the next layer's decompression starts into a
     * read-ahead of read_ahead bytes (0: UNPACK_DEFAULT_READ_AHEAD) meanwhile.
     */
    bool sequential;
    size_t read_ahead;
    /* pipelined, but the next layer waits for this one to be applied (for benchmarks) */
    bool no_read_ahead;
    /* which inflater serves gzip layers (LAYER_GZIP_AUTO: igzip when built in) */
    enum layer_gzip_backend gzip_backend;
    bool sync_fs;
};

struct unpack_result {
    char chain_id[DIGEST_STRING_SIZE]; /* the top layer's chain: the image's snapshot */
    size_t applied, skipped;           /* layers applied here; layers whose chain existed */
};

/* identity.ChainID of diff_ids[0..n): the first, then sha256("<chain> <next>") each time. */
int unpack_chain_id(const char *const *diff_ids, size_t n, char ret[DIGEST_STRING_SIZE],
                    struct berth_error **err);

/*
 * Applies layers in order with containerd's unpacker contract: chains that exist are skipped;
 * each missing one is prepared as "extract-<unique> <chainID>" over its parent chain with the
 * layer's inherited annotations and containerd.io/snapshot.ref=<chainID>, applied, its diff_id
 * checked, committed as <chainID> (AlreadyExists: someone else won, fine) with the same labels,
 * and the blob labelled containerd.io/uncompressed=<diff_id>. A failed layer's extraction
 * snapshot is removed. Finally the config gets the gc reference to the top chain.
 */
int unpack_layers(const struct unpack_options *opts, const struct unpack_layer *layers, size_t n,
                  struct unpack_result *ret, struct berth_error **err);

struct metadata_content;
/* The namespaced content store as unpack_content (labels through Update, as containerd does). */
struct unpack_content_metadata {
    struct metadata_content *mc;
    const char *ns;
};
/* ret->arg points at binding, which must outlive ret. */
void unpack_content_from_metadata(struct unpack_content_metadata *binding,
                                  struct unpack_content *ret);
