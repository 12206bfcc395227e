/* Internals shared by the applier's files: contained path resolution, removal, path sets. */
#pragma once

#include "core/diff/diff.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* ---- paths (resolve.c) ---- */

/*
 * Cleans a tar name lexically into a path relative to root: no leading '/', no "." or empty
 * components, ".." never climbing above root (as filepath.Clean then fs.RootPath treat it). The
 * result is "" for root itself. Fails when longer than max or a component exceeds NAME_MAX.
 */
int diff_clean_path(const char *name, size_t max, char **ret, struct berth_error **err);
/* Splits a cleaned path at its last '/': *ret_parent ("" for root) is allocated; base points in. */
void diff_split_path(const char *rel, char **ret_parent, const char **ret_base);
/*
 * Opens rel ("" for root) below root_fd with flags, resolving every symlink as if root_fd were
 * "/" (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS). Without openat2, components are walked
 * with O_NOFOLLOW and a symlinked parent fails with ELOOP. Returns an fd or -1 with errno.
 */
int diff_open_in_root(int root_fd, const char *rel, int flags);
/* Removes name below dir_fd and everything under it; a missing name is fine. 0 or -1/errno. */
int diff_remove_all_at(int dir_fd, const char *name);
/* Copies xattrs (except trusted.*) from the file at from_fd to to_fd. 0 or -1/errno. */
int diff_copy_xattrs(int from_fd, int to_fd);

/* ---- a set of paths (pathset.c) ---- */

struct path_set;
struct path_set *path_set_new(void);
struct path_set *path_set_free(struct path_set *s);
void path_set_add(struct path_set *s, const char *path);
bool path_set_has(const struct path_set *s, const char *path);

/* ---- whiteouts (whiteout.c) ---- */

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"

/*
 * Handles an entry named base whose name starts with ".wh." in the directory rel_parent (open as
 * parent_fd): deletes or marks as opts says. unpacked lists what this layer has written so far.
 */
int diff_whiteout_apply(int root_fd, int parent_fd, const char *rel_parent, const char *base,
                        uid_t uid, gid_t gid, const struct apply_options *opts,
                        const struct path_set *unpacked, struct berth_error **err);
