/* Test helpers: fake cgroupfs/procfs trees in temporary directories. */
#pragma once

#include <stddef.h>

/* A new empty directory under $TMPDIR (or /tmp); free the string after tree_remove. */
char *tree_new(void);
/* Writes root/rel (creating parent directories), failing the test on error. */
void tree_write(const char *root, const char *rel, const char *content);
void tree_mkdir(const char *root, const char *rel);
void tree_unlink(const char *root, const char *rel);
/* rm -rf root. */
void tree_remove(const char *root);
/* Open file descriptors of this process. */
size_t tree_count_fds(void);
