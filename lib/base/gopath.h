/* Go's path.Clean and path.Join for slash-separated names (references, tar entries, shim paths). */
#pragma once

#include <stddef.h>

/*
 * path.Clean: the shortest equivalent path by purely lexical processing (repeated slashes
 * collapsed, "." elements removed, ".." elements resolved against the previous element or kept
 * at the start of a relative path, a rooted "/.." becoming "/"); "" becomes ".". Malloc'd.
 */
char *go_path_clean(const char *p, size_t len);
/* path.Join of two elements: empty elements are skipped, the result cleaned ("" if both are). */
char *go_path_join(const char *a, const char *b);
