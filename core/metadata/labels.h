/* Label maps (string → string) with containerd's size rules, and their record encoding. */
#pragma once

#include "lib/base/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* containerd: key + value of one label at most 4096 bytes. */
enum { LABEL_MAX_SIZE = 4096 };

struct label {
    char *key;
    char *value;
};

struct labels {
    struct label *items;
    size_t count, capacity;
};

void labels_set(struct labels *l, const char *key, const char *value);
const char *labels_get(const struct labels *l, const char *key);
bool labels_remove(struct labels *l, const char *key);
void labels_clear(struct labels *l);
void labels_copy(struct labels *dst, const struct labels *src);
/* Sorts by key (records and listings are deterministic). */
void labels_sort(struct labels *l);
int labels_validate(const struct labels *l, struct berth_error **err);

/* A growable byte buffer for record encoding. */
struct record_buf {
    uint8_t *data;
    size_t len, cap;
};
void record_put_bytes(struct record_buf *b, const void *p, size_t n);
void record_put_u64(struct record_buf *b, uint64_t v);
void record_put_string(struct record_buf *b, const char *s);
void record_put_labels(struct record_buf *b, const struct labels *l);

/* Decoding: every reader checks bounds and fails on truncation. */
struct record_reader {
    const uint8_t *p, *end;
    bool failed;
};
uint64_t record_get_u64(struct record_reader *r);
char *record_get_string(struct record_reader *r); /* owned; NULL on failure */
void record_get_labels(struct record_reader *r, struct labels *out);
