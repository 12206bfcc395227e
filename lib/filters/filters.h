/* containerd's filter language: `fieldpath[op value]` selectors, ANDed by commas, ORed by list. */
#pragma once

#include "lib/base/errors.h"

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

/* Bounds on untrusted filters (containerd has none but the gRPC message size). */
#define FILTERS_MAX_LENGTH    16384 /* bytes of one filter string */
#define FILTERS_MAX_SELECTORS 256   /* selectors in one filter string */
#define FILTERS_MAX_FIELDPATH 32    /* parts of one fieldpath */
#define FILTERS_MAX_ANY       1024  /* filter strings ORed in one request */
/* Size of one `~=` regexp with its counted repetitions expanded, and of all in one request. */
#define FILTERS_MAX_REGEX_WEIGHT 16384
#define FILTERS_MAX_REGEX_TOTAL  (4 * FILTERS_MAX_REGEX_WEIGHT)

enum filter_operator {
    FILTER_OP_PRESENT,   /* no operator: the field exists */
    FILTER_OP_EQUAL,     /* == */
    FILTER_OP_NOT_EQUAL, /* != (also true when the field is missing and value is not empty) */
    FILTER_OP_MATCHES,   /* ~= a regular expression, matched anywhere in the value */
};

/* One parsed selector; read-only for callers (a store may inspect it to use an index). */
struct filter_selector {
    char **fieldpath; /* unquoted parts; a part holding a NUL byte can name no field */
    size_t fieldpath_len;
    bool fieldpath_has_nul;
    enum filter_operator op;
    char *value; /* unquoted, NUL-terminated; may hold NUL bytes before value_len */
    size_t value_len;
    regex_t *regex; /* for FILTER_OP_MATCHES: the value compiled, see README.md */
};

/* Selectors that must all match (one filter string; none for "", which matches everything). */
struct filter_conjunction {
    struct filter_selector *selectors;
    size_t len;
};

/* Conjunctions of which one must match; with none at all, everything matches. */
struct filter {
    struct filter_conjunction *any;
    size_t len;
};

/*
 * Adaptor: reports the value of fieldpath[0..n) on object. Returns true when the field is present,
 * with *ret_value set; a missing field reads as "" (or as *ret_value when the adaptor sets it
 * anyway, as containerd's adaptors may). The value must stay valid until the next call on the
 * same object or until filters_match returns.
 */
typedef bool (*filters_field_fn)(void *object, const char *const *fieldpath, size_t n,
                                 const char **ret_value);

/* Parses one filter string; "" matches everything. Errors are ERR_INVALID_ARGUMENT. */
int filters_parse(const char *s, struct filter **ret, struct berth_error **err);
/* As filters_parse for s[0..len), which may hold NUL bytes (they are rejected as containerd does).
 */
int filters_parse_len(const char *s, size_t len, struct filter **ret, struct berth_error **err);
/*
 * Parses n filter strings, ORed (containerd's ParseAll); n == 0 matches everything. Error
 * messages read as containerd's, e.g.
 * `filters: parse error: [image~= >|,|< id==x]: expected value or quoted: invalid argument`.
 */
int filters_parse_any(const char *const *filters, size_t n, struct filter **ret,
                      struct berth_error **err);

bool filters_match(const struct filter *f, filters_field_fn field, void *object);
bool filters_match_all(const struct filter_conjunction *c, filters_field_fn field, void *object);
bool filters_selector_match(const struct filter_selector *s, filters_field_fn field, void *object);
/* True when the filter matches everything (no strings, or one of them empty). */
bool filters_is_always(const struct filter *f);

struct filter *filters_free(struct filter *f);
static inline void filters_freep(struct filter **f)
{
    filters_free(*f);
}
#define _cleanup_filter_ __attribute__((cleanup(filters_freep)))

const char *filters_operator_string(enum filter_operator op);

/* Adaptor helpers. */

/* True when key equals fieldpath[0..n) joined with '.' (how containerd looks labels up). */
bool filters_fieldpath_equals(const char *key, const char *const *fieldpath, size_t n);
/*
 * containerd's label lookup for `labels.<k>`: fieldpath is what follows "labels"; the label map
 * is keys[i] => values[i]. An empty map has no fields.
 */
bool filters_labels_field(const char *const *keys, const char *const *values, size_t count,
                          const char *const *fieldpath, size_t n, const char **ret_value);
/* The same over a NULL-terminated key, value, key, value, ... list. */
bool filters_label_pairs_field(const char *const *pairs, const char *const *fieldpath, size_t n,
                               const char **ret_value);
