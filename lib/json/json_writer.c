/* Compact JSON output with Go encoding/json's escaping and layout. */
#include "lib/json/json_writer.h"
#include "lib/base/alloc.h"
#include "lib/identifiers/gostring.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void buf_reserve(char **data, size_t *len, size_t *capacity, size_t more)
{
    if (*len + more + 1 <= *capacity)
        return;
    *data = xreallocarray_grow(*data, capacity, *len + more + 1, 1);
}

static void buf_append(char **data, size_t *len, size_t *capacity, const char *s, size_t n)
{
    buf_reserve(data, len, capacity, n);
    memcpy(*data + *len, s, n);
    *len += n;
    (*data)[*len] = '\0';
}

/* Bytes Go writes unescaped when escapeHTML is on: printable ASCII but " \ < > &, plus DEL. */
static bool go_html_safe(unsigned char c)
{
    if (c < 0x20)
        return false;
    if (c >= 0x80)
        return false;
    return c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
}

void json_append_go_string(char **data, size_t *len, size_t *capacity, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    buf_append(data, len, capacity, "\"", 1);
    size_t start = 0, i = 0;
    while (i < n) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x80) {
            if (go_html_safe(b)) {
                i++;
                continue;
            }
            buf_append(data, len, capacity, s + start, i - start);
            char esc[6];
            size_t elen = 2;
            esc[0] = '\\';
            switch (b) {
            case '\\':
            case '"':
                esc[1] = (char)b;
                break;
            case '\b':
                esc[1] = 'b';
                break;
            case '\f':
                esc[1] = 'f';
                break;
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            default:
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[b >> 4];
                esc[5] = hex[b & 0xF];
                elen = 6;
            }
            buf_append(data, len, capacity, esc, elen);
            start = ++i;
            continue;
        }
        size_t width = 0;
        int32_t r = go_utf8_decode(s + i, n - i, &width);
        if (r == GO_RUNE_ERROR && width == 1) {
            buf_append(data, len, capacity, s + start, i - start);
            buf_append(data, len, capacity, "\\ufffd", 6);
            start = ++i;
            continue;
        }
        if (r == 0x2028 || r == 0x2029) {
            buf_append(data, len, capacity, s + start, i - start);
            char esc[7] = "\\u202";
            esc[5] = hex[r & 0xF];
            buf_append(data, len, capacity, esc, 6);
            i += width;
            start = i;
            continue;
        }
        i += width;
    }
    buf_append(data, len, capacity, s + start, n - start);
    buf_append(data, len, capacity, "\"", 1);
}

void json_writer_init(struct json_writer *w)
{
    memset(w, 0, sizeof(*w));
}

void json_writer_clear(struct json_writer *w)
{
    free(w->data);
    memset(w, 0, sizeof(*w));
}

char *json_writer_steal(struct json_writer *w, size_t *ret_len)
{
    if (!w->data)
        w->data = xcalloc(1, 1);
    char *data = w->data;
    if (ret_len)
        *ret_len = w->len;
    memset(w, 0, sizeof(*w));
    return data;
}

static void emit(struct json_writer *w, const char *s, size_t n)
{
    buf_append(&w->data, &w->len, &w->capacity, s, n);
}

/* Separates a new value from the previous item of the enclosing array or object. */
static void before_value(struct json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        uint64_t bit = UINT64_C(1) << (w->depth - 1);
        if (w->has_items & bit)
            emit(w, ",", 1);
        w->has_items |= bit;
    }
}

static void push(struct json_writer *w, const char *open)
{
    before_value(w);
    if (w->depth >= JSON_WRITER_MAX_DEPTH) {
        fprintf(stderr, "json_writer: nesting deeper than %d\n", JSON_WRITER_MAX_DEPTH);
        abort();
    }
    emit(w, open, 1);
    w->depth++;
    w->has_items &= ~(UINT64_C(1) << (w->depth - 1));
}

static void pop(struct json_writer *w, const char *close)
{
    if (w->depth <= 0) {
        fprintf(stderr, "json_writer: unbalanced %s\n", close);
        abort();
    }
    w->depth--;
    emit(w, close, 1);
}

void json_writer_begin_object(struct json_writer *w)
{
    push(w, "{");
}

void json_writer_end_object(struct json_writer *w)
{
    pop(w, "}");
}

void json_writer_begin_array(struct json_writer *w)
{
    push(w, "[");
}

void json_writer_end_array(struct json_writer *w)
{
    pop(w, "]");
}

void json_writer_key(struct json_writer *w, const char *key)
{
    before_value(w);
    json_append_go_string(&w->data, &w->len, &w->capacity, key, strlen(key));
    emit(w, ":", 1);
    w->after_key = true;
}

void json_writer_string_len(struct json_writer *w, const char *s, size_t len)
{
    before_value(w);
    json_append_go_string(&w->data, &w->len, &w->capacity, s, len);
}

void json_writer_string(struct json_writer *w, const char *s)
{
    json_writer_string_len(w, s, strlen(s));
}

void json_writer_int(struct json_writer *w, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRId64, v);
    before_value(w);
    emit(w, num, (size_t)n);
}

void json_writer_bool(struct json_writer *w, bool v)
{
    before_value(w);
    emit(w, v ? "true" : "false", v ? 4 : 5);
}

void json_writer_null(struct json_writer *w)
{
    before_value(w);
    emit(w, "null", 4);
}

void json_writer_raw(struct json_writer *w, const char *json, size_t len)
{
    before_value(w);
    emit(w, json, len);
}
