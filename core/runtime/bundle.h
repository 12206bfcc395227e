/*
 * Task bundles as containerd's runtime v2 lays them out: <state>/<ns>/<id> holds config.json,
 * rootfs/ and the shim's files; <root>/<ns>/<id> is the work dir the bundle's `work` links to.
 */
#pragma once

#include "lib/base/errors.h"

#include <stddef.h>

/*
 * Creates the bundle (dir 0700, parents 0711), rootfs/ (0711), the work dir (recreated if
 * stale) with its `work` link, and config.json from `spec` when it is non-NULL. On failure
 * nothing is left behind. Returns the bundle path (free it).
 */
char *bundle_create(const char *root, const char *state, const char *ns, const char *id,
                    const void *spec, size_t spec_len, struct berth_error **err);

/*
 * Unmounts everything under the bundle's rootfs and removes the bundle and its work dir, each
 * by renaming it to ".<id>" first so a crash never leaves a half-removed bundle that looks live.
 */
int bundle_delete(const char *bundle, struct berth_error **err);

/* Unmounts every mount at or below path, deepest first (containerd's UnmountRecursive). */
int unmount_recursive(const char *path, struct berth_error **err);

/* rm -rf that neither follows symlinks nor crosses mounts; 0 or -1 with errno. */
int remove_tree(const char *path);
