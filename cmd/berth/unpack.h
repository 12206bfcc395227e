/* Unpacking an image's layers into a snapshotter through Snapshots and Diff, as containerd does. */
#pragma once

#include "cmd/berth/cli.h"
#include "core/archive/archive-internal.h"
#include "lib/digest/digest.h"

/*
 * Unpacks the manifest of `target` that best matches `matcher` into `snapshotter`, as
 * containerd's unpacker: each layer whose chain ID is not yet a committed snapshot is prepared
 * as "extract-<unique> <chainID>" (label containerd.io/snapshot.ref=<chainID>) on its parent
 * chain, applied through Diff/Apply, checked against the config's diff_id and committed as its
 * chain ID (a failed layer's snapshot is removed); the layer blob is labelled
 * containerd.io/uncompressed and the config containerd.io/gc.ref.snapshot.<snapshotter>=<top
 * chain ID>. Every call carries `lease` when given. Returns 0 with the top chain ID in
 * ret_chain (may be NULL), ERR_NOT_FOUND when no manifest matches, or -1.
 */
int unpack_image(struct cli *cli, const char *snapshotter, const char *lease,
                 const struct archive_descriptor *target, const struct platform_matcher *matcher,
                 char ret_chain[DIGEST_STRING_SIZE], struct berth_error **err);

/*
 * The image config (json-c document, put it) of the manifest of `target` matching `matcher`,
 * and the chain ID of all its layers (the snapshot an unpacked image ends in).
 */
struct json_object;
int unpack_image_config(struct cli *cli, const struct archive_descriptor *target,
                        const struct platform_matcher *matcher, struct json_object **ret_config,
                        char ret_chain[DIGEST_STRING_SIZE], struct berth_error **err);
/* One unary call with the CLI's namespace and, when `lease` is given, that lease; ret may be NULL.
 */
int unpack_call(struct cli *cli, const char *lease, const char *service, const char *method,
                const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                ProtobufCMessage **ret, struct berth_error **err);
/* 1 when the snapshot `key` exists, 0 when not, -1 on error. */
int unpack_snapshot_exists(struct cli *cli, const char *snapshotter, const char *key,
                           struct berth_error **err);

/* client.getSnapshotter's name: `name`, else $CONTAINERD_SNAPSHOTTER, else overlayfs. */
const char *unpack_snapshotter_name(const char *name);

/*
 * Leases/Create with this id, expiring in `expire_seconds`, plus one extra label (key may be
 * NULL). ERR_ALREADY_EXISTS is returned as is.
 */
int unpack_lease_create(struct cli *cli, const char *id, long expire_seconds, const char *key,
                        const char *value, struct berth_error **err);

/*
 * Snapshots/Prepare (rw) or View of `key` on `parent` under `lease` (may be NULL); a key that
 * exists already gives its Snapshots/Mounts instead, as ctr images mount does. Returns the
 * response (free with protobuf_c_message_free_unpacked) whose mounts *ret_mounts points into.
 */
ProtobufCMessage *unpack_snapshot_mounts(struct cli *cli, const char *snapshotter,
                                         const char *lease, bool rw, const char *key,
                                         const char *parent, void ***ret_mounts, size_t *ret_n,
                                         struct berth_error **err);
int unpack_snapshot_remove(struct cli *cli, const char *snapshotter, const char *key,
                           struct berth_error **err);

/* berth images mount|unmount (commands_mount.c), as ctr 1.6's. */
int cli_images_mount(struct cli *cli, int argc, char **argv);
int cli_images_unmount(struct cli *cli, int argc, char **argv);
