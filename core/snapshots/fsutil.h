/* Directory helpers for snapshotters: removal that stays on one filesystem, usage, tree copies. */
#pragma once

#include "core/snapshots/snapshots.h"

/* rm -rf that never descends into another filesystem (a forgotten mount stays untouched). */
int snapshot_fs_remove_all(const char *path, struct berth_error **err);
/* containerd's fs.DiskUsage: allocated bytes and inodes, each hardlinked inode counted once. */
int snapshot_fs_usage(const char *path, struct snapshot_usage *ret, struct berth_error **err);
/*
 * Copies the contents of src into the existing dir dst: regular files, dirs, symlinks, devices,
 * fifos and sockets, with modes, owners, times and xattrs; hardlinks stay hardlinks.
 */
int snapshot_fs_copy_tree(const char *src, const char *dst, struct berth_error **err);
