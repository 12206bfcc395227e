/* Internals of the differ: the change writer (tar of changes) shared by the walking and overlay
 * paths. */
#pragma once

#include "core/diff/compare.h"

#include <sys/stat.h>

#define CAPABILITY_XATTR "security.capability"
#define MAX_CAPABILITY   1024

enum change_kind { CHANGE_ADD, CHANGE_MODIFY, CHANGE_DELETE, CHANGE_UNMODIFIED };

/* containerd's ChangeWriter: turns changes (in path order) into tar entries, gzip and digests. */
struct change_writer;

/* upper is where entries' data, owners and xattrs are read from (path is relative to it). */
struct change_writer *change_writer_new(const char *upper, const struct compare_options *opts,
                                        diff_write_fn write, void *opaque,
                                        struct berth_error **err);
/*
 * One change. st is upper's lstat of path (NULL for CHANGE_DELETE). CHANGE_UNMODIFIED entries
 * matter only for hardlinks: a later added name of the same inode writes them as links.
 */
int change_writer_handle(struct change_writer *cw, enum change_kind kind, const char *path,
                         const struct stat *st, struct berth_error **err);
/* Writes the end of the archive, finishes compression and fills *ret. */
int change_writer_finish(struct change_writer *cw, struct compare_result *ret,
                         struct berth_error **err);
struct change_writer *change_writer_free(struct change_writer *cw);

/* "a/b", or b alone when a is "" (and a alone when b is ""). */
char *diff_join(const char *a, const char *b);
