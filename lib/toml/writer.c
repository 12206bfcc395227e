/* Writes a value tree as a TOML document that parses back to an equal tree. */
#include "lib/toml/toml-internal.h"
#include "lib/base/alloc.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write_value(struct toml_buffer *b, const struct toml_value *v);

static bool is_bare_key(const char *key, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* A basic string; bytes that are not valid UTF-8 become U+FFFD so the output stays TOML. */
static void write_string(struct toml_buffer *b, const char *s, size_t len)
{
    toml_buffer_addc(b, '"');
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            p++;
        toml_buffer_add(b, run, (size_t)(p - run));
        if (p >= end)
            break;
        unsigned char c = *p;
        switch (c) {
        case '"':
            toml_buffer_add(b, "\\\"", 2);
            break;
        case '\\':
            toml_buffer_add(b, "\\\\", 2);
            break;
        case '\b':
            toml_buffer_add(b, "\\b", 2);
            break;
        case '\t':
            toml_buffer_add(b, "\\t", 2);
            break;
        case '\n':
            toml_buffer_add(b, "\\n", 2);
            break;
        case '\f':
            toml_buffer_add(b, "\\f", 2);
            break;
        case '\r':
            toml_buffer_add(b, "\\r", 2);
            break;
        default:
            if (c < 0x80) {
                toml_buffer_printf(b, "\\u%04X", c);
            } else {
                size_t n = toml_utf8_sequence_length(p, (size_t)(end - p));
                if (n) {
                    toml_buffer_add(b, p, n);
                    p += n;
                } else {
                    toml_buffer_add(b, "\\uFFFD", 6);
                    p++;
                }
                continue;
            }
        }
        p++;
    }
    toml_buffer_addc(b, '"');
}

void toml_buffer_add_key(struct toml_buffer *b, const char *key, size_t len)
{
    if (is_bare_key(key, len))
        toml_buffer_add(b, key, len);
    else
        write_string(b, key, len);
}

/* The shortest text that reads back as the same double, always with a '.', 'e' or name. */
static void write_float(struct toml_buffer *b, double d)
{
    if (isnan(d)) {
        toml_buffer_add(b, "nan", 3);
        return;
    }
    if (isinf(d)) {
        toml_buffer_printf(b, "%sinf", d < 0 ? "-" : "");
        return;
    }
    char text[64];
    locale_t old = uselocale(toml_c_locale());
    int precision = 1;
    for (;; precision++) {
        snprintf(text, sizeof(text), "%.*e", precision - 1, d);
        if (precision == 17 || strtod(text, NULL) == d)
            break; /* 17 significant digits always read back exactly */
    }
    /* Plain decimals where they are short, exponents for very large and very small values. */
    int exponent = atoi(strchr(text, 'e') + 1);
    if (exponent >= -5 && exponent < 17) {
        int decimals = precision - 1 - exponent;
        snprintf(text, sizeof(text), "%.*f", decimals > 0 ? decimals : 0, d);
    } else {
        snprintf(text, sizeof(text), "%.*g", precision, d);
    }
    uselocale(old);
    toml_buffer_add(b, text, strlen(text));
    if (!strpbrk(text, ".e"))
        toml_buffer_add(b, ".0", 2);
}

static void write_value(struct toml_buffer *b, const struct toml_value *v)
{
    switch (v->kind) {
    case TOML_STRING:
        write_string(b, v->u.string.text, v->u.string.len);
        break;
    case TOML_INTEGER:
        toml_buffer_printf(b, "%" PRId64, v->u.integer);
        break;
    case TOML_FLOAT:
        write_float(b, v->u.fp);
        break;
    case TOML_BOOL:
        toml_buffer_add(b, v->u.boolean ? "true" : "false", v->u.boolean ? 4 : 5);
        break;
    case TOML_OFFSET_DATETIME:
    case TOML_LOCAL_DATETIME:
    case TOML_LOCAL_DATE:
    case TOML_LOCAL_TIME: {
        char text[TOML_DATETIME_TEXT_MAX];
        size_t n = toml_datetime_format(v->kind, &v->u.datetime, text);
        toml_buffer_add(b, text, n);
        break;
    }
    case TOML_ARRAY:
        toml_buffer_addc(b, '[');
        for (size_t i = 0; i < v->u.array.count; i++) {
            if (i)
                toml_buffer_add(b, ", ", 2);
            write_value(b, v->u.array.items[i]);
        }
        toml_buffer_addc(b, ']');
        break;
    case TOML_TABLE:
        toml_buffer_addc(b, '{');
        for (size_t i = 0; i < v->u.table.count; i++) {
            const struct toml_entry *e = &v->u.table.entries[i];
            toml_buffer_add(b, i ? ", " : " ", i ? 2 : 1);
            toml_buffer_add_key(b, e->key, e->key_len);
            toml_buffer_add(b, " = ", 3);
            write_value(b, e->value);
        }
        toml_buffer_add(b, v->u.table.count ? " }" : "}", v->u.table.count ? 2 : 1);
        break;
    default:
        break;
    }
}

/* Written as a [header] section rather than inline. */
static bool is_section(const struct toml_value *v)
{
    return v->kind == TOML_TABLE && v->origin != TOML_TABLE_INLINE;
}

/* Written as [[header]] sections: a non-empty array of section tables only. */
static bool is_section_array(const struct toml_value *v)
{
    if (v->kind != TOML_ARRAY || v->u.array.count == 0)
        return false;
    for (size_t i = 0; i < v->u.array.count; i++)
        if (!is_section(v->u.array.items[i]))
            return false;
    return true;
}

static bool has_plain_entries(const struct toml_value *t)
{
    for (size_t i = 0; i < t->u.table.count; i++) {
        const struct toml_value *v = t->u.table.entries[i].value;
        if (!is_section(v) && !is_section_array(v))
            return true;
    }
    return false;
}

static void write_header(struct toml_buffer *b, const struct toml_buffer *path, bool array)
{
    if (b->len)
        toml_buffer_addc(b, '\n');
    toml_buffer_add(b, array ? "[[" : "[", array ? 2 : 1);
    toml_buffer_add(b, path->data, path->len);
    toml_buffer_add(b, array ? "]]\n" : "]\n", array ? 3 : 2);
}

/* A table's own key/value lines, then its sub-tables under full-path headers. */
static void write_section(struct toml_buffer *b, const struct toml_value *t,
                          struct toml_buffer *path)
{
    for (size_t i = 0; i < t->u.table.count; i++) {
        const struct toml_entry *e = &t->u.table.entries[i];
        if (is_section(e->value) || is_section_array(e->value))
            continue;
        toml_buffer_add_key(b, e->key, e->key_len);
        toml_buffer_add(b, " = ", 3);
        write_value(b, e->value);
        toml_buffer_addc(b, '\n');
    }
    for (size_t i = 0; i < t->u.table.count; i++) {
        const struct toml_entry *e = &t->u.table.entries[i];
        bool section = is_section(e->value);
        if (!section && !is_section_array(e->value))
            continue;
        size_t saved = path->len;
        if (saved)
            toml_buffer_addc(path, '.');
        toml_buffer_add_key(path, e->key, e->key_len);
        if (section) {
            /* Parents that only hold sub-tables need no header of their own. */
            if (e->value->origin == TOML_TABLE_EXPLICIT || e->value->u.table.count == 0 ||
                has_plain_entries(e->value))
                write_header(b, path, false);
            write_section(b, e->value, path);
        } else {
            for (size_t j = 0; j < e->value->u.array.count; j++) {
                write_header(b, path, true);
                write_section(b, e->value->u.array.items[j], path);
            }
        }
        path->len = saved;
        path->data[saved] = '\0';
    }
}

char *toml_write(const struct toml_value *root)
{
    if (!toml_is_table(root))
        return NULL;
    struct toml_buffer b = {0}, path = {0};
    toml_buffer_add(&b, "", 0);
    toml_buffer_add(&path, "", 0);
    write_section(&b, root, &path);
    free(path.data);
    return b.data;
}
