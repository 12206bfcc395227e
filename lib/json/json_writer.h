/* A small JSON writer that encodes as Go's encoding/json Marshal does, for byte-identical output.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Builds compact JSON (no whitespace) into a growing buffer. Strings are escaped exactly as Go's
 * json.Marshal escapes them (Go >= 1.22, which built containerd 2.0): `"` and `\` escaped,
 * \b \f \n \r \t by name, other control bytes as \u00XX, `<` `>` `&` as \u003c \u003e \u0026,
 * U+2028/U+2029 as \u2028/\u2029, and each byte of invalid UTF-8 as \ufffd. Everything else,
 * including DEL and valid non-ASCII, is written as is. Map keys must be given in the order Go
 * would write them (sorted by byte for maps, declaration order for struct fields).
 *
 * Commas and colons are placed automatically; nesting is limited to JSON_WRITER_MAX_DEPTH levels
 * (deeper begin calls abort, as a programming error).
 */
#define JSON_WRITER_MAX_DEPTH 64

struct json_writer {
    char *data;
    size_t len;
    size_t capacity;
    int depth;
    bool after_key;
    uint64_t has_items; /* bit d: level d already holds an item (needs a comma before the next) */
};

void json_writer_init(struct json_writer *w);
/* Releases the buffer; the writer may be reused after json_writer_init. */
void json_writer_clear(struct json_writer *w);
static inline void json_writer_clearp(struct json_writer *w)
{
    json_writer_clear(w);
}
#define _cleanup_json_writer_ __attribute__((cleanup(json_writer_clearp)))
/* Hands the NUL-terminated text over to the caller (free it) and resets the writer. */
char *json_writer_steal(struct json_writer *w, size_t *ret_len);

void json_writer_begin_object(struct json_writer *w);
void json_writer_end_object(struct json_writer *w);
void json_writer_begin_array(struct json_writer *w);
void json_writer_end_array(struct json_writer *w);
/* A member name inside an object; the next call writes its value. */
void json_writer_key(struct json_writer *w, const char *key);
void json_writer_string(struct json_writer *w, const char *s);
void json_writer_string_len(struct json_writer *w, const char *s, size_t len);
void json_writer_int(struct json_writer *w, int64_t v);
void json_writer_bool(struct json_writer *w, bool v);
void json_writer_null(struct json_writer *w);
/* A value that is already JSON text, inserted verbatim. */
void json_writer_raw(struct json_writer *w, const char *json, size_t len);

/* Appends s[0..len) as a Go-escaped JSON string (with quotes) to a plain buffer. */
void json_append_go_string(char **data, size_t *len, size_t *capacity, const char *s, size_t n);
