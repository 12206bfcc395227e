/* Private to lib/toml: the value layout and the scanner shared by the parser's files. */
#pragma once

#include "lib/toml/toml.h"

#include <locale.h>

struct toml_entry {
    char *key; /* NUL-terminated, but may hold NULs: key_len is the truth */
    size_t key_len;
    struct toml_value *value;
};

struct toml_value {
    enum toml_kind kind;
    enum toml_table_origin origin; /* tables */
    bool table_array;              /* arrays made by [[header]] */
    union {
        struct {
            struct toml_entry *entries;
            size_t count, capacity;
            uint32_t *slots; /* open-addressing index: entry index + 1, 0 = empty */
            size_t slot_count;
        } table;
        struct {
            struct toml_value **items;
            size_t count, capacity;
        } array;
        struct {
            char *text;
            size_t len;
        } string;
        int64_t integer;
        double fp;
        bool boolean;
        struct toml_datetime datetime;
    } u;
};

/* value.c */
struct toml_value *toml_value_new(enum toml_kind kind);
struct toml_entry *toml_table_find(const struct toml_value *table, const char *key, size_t len);
/* Appends key (owned from now on) that the caller knows is absent. */
void toml_table_add(struct toml_value *table, char *key, size_t len, struct toml_value *value);
void toml_array_push(struct toml_value *array, struct toml_value *value);
/* A "C" locale for strtod and printf of floats, whatever the process locale is. */
locale_t toml_c_locale(void);

/* datetime.c: scans a datetime at s (no further than end); 0 and *ret_end past it, or -1. */
int toml_datetime_scan(const char *s, const char *end, struct toml_datetime *ret,
                       enum toml_kind *ret_kind, const char **ret_end, const char **ret_error_at,
                       const char **ret_reason);
bool toml_datetime_valid(enum toml_kind kind, const struct toml_datetime *dt);

/* A growable byte buffer, always NUL-terminated once anything was added. */
struct toml_buffer {
    char *data;
    size_t len, capacity;
};
void toml_buffer_add(struct toml_buffer *b, const void *data, size_t len);
void toml_buffer_addc(struct toml_buffer *b, char c);
void toml_buffer_printf(struct toml_buffer *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends the UTF-8 encoding of a Unicode scalar value. */
void toml_buffer_add_utf8(struct toml_buffer *b, uint32_t codepoint);
/* writer.c: a key, bare when it can be, else as a quoted string. */
void toml_buffer_add_key(struct toml_buffer *b, const char *key, size_t len);

/* The scanner's state; errors point at a byte and become file:line:col. */
struct toml_scanner {
    const char *data, *pos, *end;
    const char *filename;
    struct berth_error **err;
};

/* One segment of a dotted key, and where it started (for error messages). */
struct toml_key_part {
    char *name;
    size_t len;
    const char *at;
    bool borrowed; /* name now belongs to a table the key was added to */
};

struct toml_key {
    struct toml_key_part *parts;
    size_t count, capacity;
};
void toml_key_clear(struct toml_key *key);

/* lexer.c */
int toml_scan_fail(struct toml_scanner *s, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Bytes in the valid UTF-8 sequence at p (of avail bytes), or 0 when it is not one. */
size_t toml_utf8_sequence_length(const unsigned char *p, size_t avail);
int toml_scan_check_utf8(struct toml_scanner *s);
/* "end of input", "end of line", "'x'", ... for messages about the byte at `at`. */
const char *toml_scan_describe(const struct toml_scanner *s, const char *at, char buf[32]);
static inline bool toml_scan_eof(const struct toml_scanner *s)
{
    return s->pos >= s->end;
}
static inline int toml_scan_peek(const struct toml_scanner *s, size_t ahead)
{
    return s->pos + ahead < s->end ? (unsigned char)s->pos[ahead] : -1;
}
bool toml_scan_at_newline(const struct toml_scanner *s);
void toml_scan_skip_ws(struct toml_scanner *s);
/* Spaces, tabs, comments and newlines, as allowed inside arrays. */
int toml_scan_skip_blank(struct toml_scanner *s);
/* Optional spaces and comment, then a newline or the end of input. */
int toml_scan_end_of_line(struct toml_scanner *s);
/* A dotted key; leaves s->pos after its last segment (and no whitespace). */
int toml_scan_key(struct toml_scanner *s, struct toml_key *ret);
/* A string value of any of the four forms; *ret_text is NUL-terminated and owned by the caller. */
int toml_scan_string(struct toml_scanner *s, char **ret_text, size_t *ret_len);
/* A number, boolean or datetime. */
int toml_scan_scalar(struct toml_scanner *s, struct toml_value **ret);
