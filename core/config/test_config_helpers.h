/* Shared helpers for the core/config unit tests: temp dirs, files, log capture, tree compare. */
#pragma once

#include "lib/base/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct toml_value;

/* A file under core/config/testdata (malloc'd path). */
char *testdata_path(const char *name);
/* A fresh directory under $TMPDIR; remove_tree() removes it. */
char *make_temp_dir(void);
void remove_tree(const char *dir);
/* Writes dir/name (creating parent dirs); returns the malloc'd path. */
char *write_file(const char *dir, const char *name, const char *content);
/* Parses text or fails the test. */
struct toml_value *parse_text(const char *text);
struct toml_value *parse_path(const char *path);
/* Fails the test, printing both documents, when the trees differ. */
void assert_trees_equal(const struct toml_value *got, const struct toml_value *want);

/* Collects log records while active. */
struct log_capture {
    char *data;
    size_t len;
    FILE *f;
};
void capture_logs(struct log_capture *c);
/* Stops capturing; c->data holds the text (free it). */
void capture_logs_end(struct log_capture *c);
size_t count_substr(const char *haystack, const char *needle);
