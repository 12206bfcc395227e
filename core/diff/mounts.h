/* Applying a layer onto a set of mounts (containerd's apply.go): overlay upperdir or a temp mount.
 */
#pragma once

#include "core/diff/diff.h"
#include "core/diff/layer_reader.h"
#include "lib/base/errors.h"

#include <stdbool.h>
#include <stddef.h>

/* One mount as the snapshotters hand them out (containerd's mount.Mount); strings borrowed. */
struct diff_mount {
    const char *type;
    const char *source;
    const char *target; /* relative to the mount root; NULL or "" for the root itself */
    const char *const *options;
    size_t n_options;
};

/*
 * Mounts every mount, in order, on target (containerd's mount.All). Overlay's `volatile` is
 * dropped, as WithTempMount drops it. On failure what was mounted is left for diff_mounts_unmount.
 */
int diff_mounts_mount(const struct diff_mount *mounts, size_t n, const char *target,
                      struct berth_error **err);
/* Unmounts everything stacked on target and on each mount's target, last first. */
int diff_mounts_unmount(const struct diff_mount *mounts, size_t n, const char *target,
                        struct berth_error **err);

/*
 * Applies the layer in `in` onto mounts as containerd's fsApplier does: one overlay mount with an
 * upperdir is written directly (overlay whiteouts, lowerdirs as parents; not in a user namespace);
 * otherwise the mounts are mounted on a private directory made under tmp_parent, the layer is
 * applied natively, and the mounts are unmounted and the directory removed on every path.
 * sync_fs syncs the filesystem written to. The reader is not finished here.
 */
int diff_apply_mounts(const char *tmp_parent, const struct diff_mount *mounts, size_t n,
                      struct layer_reader *in, bool sync_fs, struct apply_result *ret,
                      struct berth_error **err);

/* Whether this process runs in a user namespace (uid_map is not the identity over all ids). */
bool diff_running_in_userns(void);

/* How Diff(lower, upper) can take the overlay fast path (diff_compare_overlay). */
struct overlay_diff_plan {
    char *layer;    /* upper's top layer: its upperdir, or the first lowerdir of a read-only view */
    bool userxattr; /* upper is mounted with userxattr: markers are user.overlay.* */
};

/*
 * Whether upper is one overlay mount whose layers (upperdir, then lowerdirs) are exactly one
 * layer over lower's (one bind mount of a directory, or one overlay mount), as the overlayfs
 * snapshotter hands out a snapshot and its parent. Mounts it cannot read with certainty
 * (escaped ':' in lowerdir, lowerdir+=, metacopy, redirect_dir, index, relative paths) say no.
 */
bool diff_overlay_plan(const struct diff_mount *lower, size_t n_lower,
                       const struct diff_mount *upper, size_t n_upper,
                       struct overlay_diff_plan *ret);
void overlay_diff_plan_clear(struct overlay_diff_plan *plan);
