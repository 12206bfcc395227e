/* Small file helpers: bounded reads and crash-safe writes. */
#pragma once

#include "lib/base/errors.h"

#include <stddef.h>
#include <sys/types.h>

/* Reads a whole file of at most max_size bytes, NUL-terminated; larger files are an error. */
int fs_read_small_file(const char *path, size_t max_size, char **ret_data,
                       struct berth_error **err);
/* Writes via a temporary file, fsync and rename, so readers see the old or the new content. */
int fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         struct berth_error **err);
/* mkdir -p with mode for every created directory. */
int fs_mkdir_p(const char *path, mode_t mode, struct berth_error **err);
