/* TOML 1.0 as a value tree: a bounded parser for untrusted input, tree editing, and a writer. */
#pragma once

#include "lib/base/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Limits on parsed input. Exceeding one is a parse error (ERR_INVALID_ARGUMENT), never a crash.
 * Strings and keys are bounded only by the input size.
 */
#define TOML_MAX_INPUT_SIZE (16u << 20) /* bytes of one document */
#define TOML_MAX_DEPTH      128         /* nested tables and arrays, from the root */
#define TOML_MAX_TABLE_KEYS (1u << 20)  /* keys in one table */
#define TOML_MAX_NODES      (1u << 20)  /* values (tables, arrays, leaves) in one document */

enum toml_kind {
    TOML_NONE = 0, /* what toml_kind() says of NULL */
    TOML_TABLE,
    TOML_ARRAY,
    TOML_STRING,
    TOML_INTEGER,
    TOML_FLOAT,
    TOML_BOOL,
    TOML_OFFSET_DATETIME, /* 1979-05-27T07:32:00-07:00 */
    TOML_LOCAL_DATETIME,  /* 1979-05-27T07:32:00 */
    TOML_LOCAL_DATE,      /* 1979-05-27 */
    TOML_LOCAL_TIME,      /* 07:32:00 */
};

/* How a table came to be: for TOML's redefinition rules, and the writer's choice of style. */
enum toml_table_origin {
    TOML_TABLE_EXPLICIT = 0, /* a [header], an [[array]] element, or built by the API */
    TOML_TABLE_IMPLICIT,     /* a parent named by a header path ([a.b] makes a) */
    TOML_TABLE_DOTTED,       /* made by a dotted key (a.b = 1 makes a) */
    TOML_TABLE_INLINE,       /* an inline table { ... }; written back inline */
};

/* Date and time components as written; fields a kind does not have are zero. */
struct toml_datetime {
    int year, month, day;     /* 0000-9999, 1-12, 1-31 (checked against the month) */
    int hour, minute, second; /* 0-23, 0-59, 0-60 (leap second) */
    int nanosecond;           /* fraction of the second, truncated to nanoseconds */
    int fraction_digits;      /* digits to print (0-9); more are printed if nanosecond needs */
    int offset_minutes;       /* TOML_OFFSET_DATETIME only: -1439..1439, 0 is written as Z */
};

/* Longest canonical datetime text, with its NUL: 2006-01-02T15:04:05.999999999+07:00. */
#define TOML_DATETIME_TEXT_MAX 40

struct toml_value;

/*
 * Parses a whole document into a tree whose root is a table. On error returns -1 and sets *err
 * (ERR_INVALID_ARGUMENT, message "file:line:col: reason"; filename NULL reads as "<input>").
 * *ret_root is untouched on failure.
 */
int toml_parse(const char *data, size_t len, const char *filename, struct toml_value **ret_root,
               struct berth_error **err);
/* Reads and parses a file (bounded by TOML_MAX_INPUT_SIZE); open errors keep their errno class. */
int toml_parse_file(const char *path, struct toml_value **ret_root, struct berth_error **err);

/*
 * Writes a table as a TOML document: [a.b] headers for tables, [[x]] for arrays whose items are
 * all non-inline tables, inline tables and arrays where the tree says so, keys quoted only when
 * needed, floats in their shortest round-trip form, datetimes canonical. Parsing the result gives
 * a tree equal (toml_equal) to root. Returns NULL when root is not a table.
 */
char *toml_write(const struct toml_value *root);

/* NULL-safe; frees the whole subtree and returns NULL. */
struct toml_value *toml_free(struct toml_value *value);
static inline void toml_freep(struct toml_value **value)
{
    toml_free(*value);
}
#define _cleanup_toml_ __attribute__((cleanup(toml_freep)))

struct toml_value *toml_copy(const struct toml_value *value);
/* Same kinds and contents; table key order, table origins and float NaN payloads are ignored. */
bool toml_equal(const struct toml_value *a, const struct toml_value *b);

/* Construction. Each returns a new value the caller owns. */
struct toml_value *toml_table_new(void);
struct toml_value *toml_array_new(void);
struct toml_value *toml_string_new(const char *s);
struct toml_value *toml_string_newn(const char *s, size_t len);
struct toml_value *toml_int_new(int64_t i);
struct toml_value *toml_float_new(double d);
struct toml_value *toml_bool_new(bool b);
/* NULL when kind is not a datetime kind or the components are out of range. */
struct toml_value *toml_datetime_new(enum toml_kind kind, const struct toml_datetime *dt);

/* Inspection. Every getter accepts NULL and values of the wrong kind. */
enum toml_kind toml_kind(const struct toml_value *value);
const char *toml_kind_name(enum toml_kind kind); /* "table", "string", "offset datetime", ... */
bool toml_is_table(const struct toml_value *value);
bool toml_is_array(const struct toml_value *value);
/* The string (NUL-terminated; it may hold NULs, see toml_string_length), or NULL. */
const char *toml_as_string(const struct toml_value *value);
size_t toml_string_length(const struct toml_value *value);
/* These return false, leaving *ret untouched, when value is not of the kind. */
bool toml_as_int(const struct toml_value *value, int64_t *ret);
bool toml_as_float(const struct toml_value *value, double *ret);
bool toml_as_bool(const struct toml_value *value, bool *ret);
bool toml_as_datetime(const struct toml_value *value, struct toml_datetime *ret);

/* Tables: entries keep insertion order; lookups are hashed. Keys may hold NULs (the n forms). */
size_t toml_table_count(const struct toml_value *table);
const char *toml_table_key_at(const struct toml_value *table, size_t index, size_t *ret_len);
struct toml_value *toml_table_value_at(const struct toml_value *table, size_t index);
struct toml_value *toml_table_get(const struct toml_value *table, const char *key);
struct toml_value *toml_table_getn(const struct toml_value *table, const char *key, size_t len);
/*
 * Stores value under key, taking ownership; an existing value under that key is freed and the key
 * keeps its place. Returns value, or NULL (value freed) when table is not a table or value is
 * NULL.
 */
struct toml_value *toml_table_set(struct toml_value *table, const char *key,
                                  struct toml_value *value);
struct toml_value *toml_table_setn(struct toml_value *table, const char *key, size_t len,
                                   struct toml_value *value);
/* Detaches and returns the value under key (the caller owns it), or NULL when absent. */
struct toml_value *toml_table_take(struct toml_value *table, const char *key);
/* Removes and frees; false when absent. */
bool toml_table_remove(struct toml_value *table, const char *key);
/* The table under key, created when absent; NULL when key holds something else. */
struct toml_value *toml_table_ensure_table(struct toml_value *table, const char *key);
enum toml_table_origin toml_table_origin(const struct toml_value *table);
/* Picks how the writer shows a table (TOML_TABLE_INLINE writes it as { ... }). */
void toml_table_set_origin(struct toml_value *table, enum toml_table_origin origin);

/* Arrays. */
size_t toml_array_count(const struct toml_value *array);
struct toml_value *toml_array_at(const struct toml_value *array, size_t index);
/* Appends, taking ownership; returns value, or NULL (value freed) when array is not an array. */
struct toml_value *toml_array_append(struct toml_value *array, struct toml_value *value);
/* Detaches and returns item index (the caller owns it), or NULL when out of range. */
struct toml_value *toml_array_take(struct toml_value *array, size_t index);
/* True when the array was made by [[header]]s. */
bool toml_array_is_table_array(const struct toml_value *array);

/* Follows table keys: toml_get_path(root, "plugins", "io.containerd.grpc.v1.cri", NULL). */
struct toml_value *toml_get_path(const struct toml_value *root, ...) __attribute__((sentinel));
/* Follows a TOML dotted key: toml_get_dotted(root, "plugins.'io.containerd.grpc.v1.cri'.cni"). */
struct toml_value *toml_get_dotted(const struct toml_value *root, const char *dotted_key);

/*
 * Deep merge of src into dst (both tables): tables merge key by key, anything else in src
 * replaces (a copy of it) what dst has under the same key. Does nothing if either is not a table.
 */
void toml_merge(struct toml_value *dst, const struct toml_value *src);

/*
 * Datetimes as text. Parse takes exactly one TOML datetime (any of the four forms) and says which
 * kind it is; returns -1 if the text is not one. Format writes the canonical form
 * (YYYY-MM-DDTHH:MM:SS[.fraction][Z|+HH:MM]) and returns its length.
 */
int toml_datetime_parse(const char *text, size_t len, struct toml_datetime *ret,
                        enum toml_kind *ret_kind);
size_t toml_datetime_format(enum toml_kind kind, const struct toml_datetime *dt,
                            char buf[TOML_DATETIME_TEXT_MAX]);
