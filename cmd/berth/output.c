/* Tables and JSON for the CLI, matching what ctr prints. */
#include "cmd/berth/output.h"
#include "lib/base/alloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void strbuf_add(struct strbuf *b, const char *s, size_t n)
{
    b->data = xreallocarray_grow(b->data, &b->cap, b->len + n + 1, 1);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void strbuf_puts(struct strbuf *b, const char *s)
{
    strbuf_add(b, s, strlen(s));
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *s = xvasprintf(fmt, ap);
    va_end(ap);
    strbuf_puts(b, s);
}

/* Go's encoding/json escaping, including its HTML-safe escapes of <, > and &. */
void strbuf_json_string(struct strbuf *b, const char *s, size_t n)
{
    strbuf_puts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            strbuf_puts(b, "\\\"");
            break;
        case '\\':
            strbuf_puts(b, "\\\\");
            break;
        case '\n':
            strbuf_puts(b, "\\n");
            break;
        case '\r':
            strbuf_puts(b, "\\r");
            break;
        case '\t':
            strbuf_puts(b, "\\t");
            break;
        case '<':
        case '>':
        case '&':
            strbuf_printf(b, "\\u%04x", c);
            break;
        default:
            if (c < 0x20)
                strbuf_printf(b, "\\u%04x", c);
            else
                strbuf_add(b, (const char *)&c, 1);
        }
    }
    strbuf_puts(b, "\"");
}

void units_human_size(struct strbuf *b, double size)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    size_t i = 0;
    while (size >= 1000.0 && i + 1 < ARRAY_SIZE(units)) {
        size /= 1000.0;
        i++;
    }
    strbuf_printf(b, "%.4g%s", size, units[i]);
}

void units_human_duration(struct strbuf *b, int64_t ns)
{
    int64_t seconds = ns / 1000000000LL, minutes = seconds / 60;
    int64_t hours = (ns + 1800LL * 1000000000LL) / (3600LL * 1000000000LL); /* rounded */
    if (seconds < 1)
        strbuf_puts(b, "Less than a second");
    else if (seconds == 1)
        strbuf_puts(b, "1 second");
    else if (seconds < 60)
        strbuf_printf(b, "%lld seconds", (long long)seconds);
    else if (minutes == 1)
        strbuf_puts(b, "About a minute");
    else if (minutes < 60)
        strbuf_printf(b, "%lld minutes", (long long)minutes);
    else if (hours == 1)
        strbuf_puts(b, "About an hour");
    else if (hours < 48)
        strbuf_printf(b, "%lld hours", (long long)hours);
    else if (hours < 24 * 7 * 2)
        strbuf_printf(b, "%lld days", (long long)(hours / 24));
    else if (hours < 24 * 30 * 2)
        strbuf_printf(b, "%lld weeks", (long long)(hours / 24 / 7));
    else if (hours < 24 * 365 * 2)
        strbuf_printf(b, "%lld months", (long long)(hours / 24 / 30));
    else
        strbuf_printf(b, "%lld years", (long long)(ns / 3600000000000LL / 24 / 365));
}

/* ---- time ---- */

void go_time(struct strbuf *b, int64_t seconds, int32_t nanos, bool rfc3339)
{
    time_t secs = (time_t)seconds;
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        memset(&tm, 0, sizeof(tm));
    /* %04d: strftime's %Y would print year 1 as "1" */
    strbuf_printf(b, "%04d-%02d-%02d%c%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  rfc3339 ? 'T' : ' ', tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (nanos > 0 && nanos < 1000000000) {
        char frac[16];
        snprintf(frac, sizeof(frac), "%09d", (int)nanos);
        size_t n = strlen(frac);
        while (n > 0 && frac[n - 1] == '0')
            n--;
        strbuf_puts(b, ".");
        strbuf_add(b, frac, n);
    }
    strbuf_puts(b, rfc3339 ? "Z" : " +0000 UTC");
}

/* ---- tables ---- */

struct table {
    char **lines;
    size_t count, capacity;
    size_t minwidth, padding;
    size_t tabwidth; /* 0: pad with spaces */
};

struct table *table_new_tabs(size_t minwidth, size_t tabwidth, size_t padding)
{
    struct table *t = table_new(minwidth, padding);
    t->tabwidth = tabwidth;
    return t;
}

struct table *table_new(size_t minwidth, size_t padding)
{
    struct table *t = xcalloc(1, sizeof(*t));
    t->minwidth = minwidth;
    t->padding = padding;
    return t;
}

void table_add(struct table *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = xvasprintf(fmt, ap);
    va_end(ap);
    t->lines = xreallocarray_grow(t->lines, &t->capacity, t->count + 1, sizeof(char *));
    t->lines[t->count++] = line;
}

/* UTF-8 aware width: tabwriter counts runes. */
static size_t text_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            w++;
    return w;
}

void table_print(struct table *t)
{
    size_t widths[32] = {0};
    for (size_t i = 0; i < t->count; i++) {
        const char *p = t->lines[i];
        for (size_t col = 0; col < 32; col++) {
            const char *tab = strchr(p, '\t');
            if (!tab)
                break;
            size_t w = text_width(p, (size_t)(tab - p)) + t->padding;
            if (w < t->minwidth)
                w = t->minwidth;
            if (w > widths[col])
                widths[col] = w;
            p = tab + 1;
        }
    }
    for (size_t i = 0; i < t->count; i++) {
        const char *p = t->lines[i];
        for (size_t col = 0;; col++) {
            const char *tab = strchr(p, '\t');
            if (!tab || col >= 32) {
                fputs(p, stdout);
                break;
            }
            size_t w = text_width(p, (size_t)(tab - p));
            fwrite(p, 1, (size_t)(tab - p), stdout);
            if (t->tabwidth) {
                /* text/tabwriter: the cell rounds up to whole tabs */
                size_t cell = (widths[col] + t->tabwidth - 1) / t->tabwidth * t->tabwidth;
                for (size_t n = (cell - w + t->tabwidth - 1) / t->tabwidth; n > 0; n--)
                    fputc('\t', stdout);
            } else {
                for (; w < widths[col]; w++)
                    fputc(' ', stdout);
            }
            p = tab + 1;
        }
        fputc('\n', stdout);
        free(t->lines[i]);
    }
    free(t->lines);
    free(t);
}

/* ---- protobuf as Go's encoding/json ---- */

static void newline(struct strbuf *b, const char *indent, int depth)
{
    if (!indent)
        return;
    strbuf_puts(b, "\n");
    for (int i = 0; i < depth; i++)
        strbuf_puts(b, indent);
}

static const char base64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void put_base64(struct strbuf *b, const uint8_t *p, size_t n)
{
    strbuf_puts(b, "\"");
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char out[4] = {base64_chars[v >> 18 & 63], base64_chars[v >> 12 & 63],
                       i + 1 < n ? base64_chars[v >> 6 & 63] : '=',
                       i + 2 < n ? base64_chars[v & 63] : '='};
        strbuf_add(b, out, 4);
    }
    strbuf_puts(b, "\"");
}

static void put_message(struct strbuf *b, const ProtobufCMessage *m, const char *indent, int depth);

/*
 * A float as encoding/json writes it: the shortest digits that read back as the same value,
 * in plain decimal notation unless the magnitude is below 1e-6 or from 1e21 on ("1e-07" becomes
 * "1e-7"). Go refuses NaN and infinities; they come out as null here.
 */
static void put_go_float(struct strbuf *b, double v, bool single)
{
    if (isnan(v) || isinf(v)) {
        strbuf_puts(b, "null");
        return;
    }
    char e[40];
    for (int precision = 0; precision <= 17; precision++) {
        snprintf(e, sizeof(e), "%.*e", precision, v);
        if (single ? strtof(e, NULL) == (float)v : strtod(e, NULL) == v)
            break;
    }
    double a = fabs(v);
    double low = 1e-6, high = 1e21;
    if (single ? (a != 0 && ((float)a < (float)low || (float)a >= (float)high))
               : (a != 0 && (a < low || a >= high))) {
        size_t n = strlen(e);
        if (n >= 4 && e[n - 4] == 'e' && e[n - 3] == '-' && e[n - 2] == '0')
            memmove(e + n - 2, e + n - 1, 2);
        strbuf_puts(b, e);
        return;
    }
    /* e is [-]d[.ddd]e(+|-)xx: rewrite its digits in positional notation */
    const char *p = e;
    if (*p == '-') {
        strbuf_puts(b, "-");
        p++;
    }
    char digits[24];
    size_t nd = 0;
    for (; *p != 'e'; p++)
        if (*p != '.' && nd < sizeof(digits))
            digits[nd++] = *p;
    int exponent = atoi(p + 1);
    if (exponent < 0) {
        strbuf_puts(b, "0.");
        for (int i = -1; i > exponent; i--)
            strbuf_puts(b, "0");
        strbuf_add(b, digits, nd);
        return;
    }
    for (int i = 0; i <= exponent; i++)
        strbuf_add(b, (size_t)i < nd ? &digits[i] : "0", 1);
    if ((size_t)exponent + 1 < nd) {
        strbuf_puts(b, ".");
        strbuf_add(b, digits + exponent + 1, nd - (size_t)exponent - 1);
    }
}

/* One scalar or message value at p (a pointer into the message struct). */
static void put_value(struct strbuf *b, const ProtobufCFieldDescriptor *f, const void *p,
                      const char *indent, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        strbuf_printf(b, "%d", *(const int32_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        strbuf_printf(b, "%u", *(const uint32_t *)p);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        strbuf_printf(b, "%lld", (long long)*(const int64_t *)p);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        strbuf_printf(b, "%llu", (unsigned long long)*(const uint64_t *)p);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        put_go_float(b, *(const float *)p, true);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        put_go_float(b, *(const double *)p, false);
        break;
    case PROTOBUF_C_TYPE_BOOL:
        strbuf_puts(b, *(const protobuf_c_boolean *)p ? "true" : "false");
        break;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        strbuf_json_string(b, s ? s : "", s ? strlen(s) : 0);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *d = p;
        put_base64(b, d->data, d->len);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (sub)
            put_message(b, sub, indent, depth);
        else
            strbuf_puts(b, "null");
        break;
    }
    }
}

static bool is_empty(const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return !s || !*s;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(void *const *)p == NULL;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const uint64_t *)p == 0;
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)p == 0;
    default:
        return *(const uint32_t *)p == 0;
    }
}

static size_t value_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

/* A map field is a repeated message whose type is a generated *Entry with key and value. */
static bool is_map(const ProtobufCFieldDescriptor *f)
{
    if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label != PROTOBUF_C_LABEL_REPEATED)
        return false;
    const ProtobufCMessageDescriptor *d = f->descriptor;
    size_t n = strlen(d->name);
    return n > 5 && strcmp(d->name + n - 5, "Entry") == 0 && d->n_fields == 2;
}

static void put_message(struct strbuf *b, const ProtobufCMessage *m, const char *indent, int depth)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    strbuf_puts(b, "{");
    bool first = true;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            if (n == 0)
                continue;
            const char *arr = *(const char *const *)(base + f->offset);
            strbuf_puts(b, first ? "" : ",");
            first = false;
            newline(b, indent, depth + 1);
            strbuf_json_string(b, f->name, strlen(f->name));
            strbuf_puts(b, indent ? ": " : ":");
            bool map = is_map(f);
            strbuf_puts(b, map ? "{" : "[");
            for (size_t j = 0; j < n; j++) {
                strbuf_puts(b, j ? "," : "");
                newline(b, indent, depth + 2);
                const void *elem = arr + j * value_size(f);
                if (map) {
                    const ProtobufCMessageDescriptor *entry = f->descriptor;
                    const char *e = *(const char *const *)elem;
                    const char *k = *(char *const *)(e + entry->fields[0].offset);
                    strbuf_json_string(b, k ? k : "", k ? strlen(k) : 0);
                    strbuf_puts(b, indent ? ": " : ":");
                    put_value(b, &entry->fields[1], e + entry->fields[1].offset, indent, depth + 2);
                } else {
                    put_value(b, f, elem, indent, depth + 2);
                }
            }
            newline(b, indent, depth + 1);
            strbuf_puts(b, map ? "}" : "]");
            continue;
        }
        const void *p = base + f->offset;
        if (is_empty(f, p))
            continue;
        strbuf_puts(b, first ? "" : ",");
        first = false;
        newline(b, indent, depth + 1);
        strbuf_json_string(b, f->name, strlen(f->name));
        strbuf_puts(b, indent ? ": " : ":");
        put_value(b, f, p, indent, depth + 1);
    }
    if (!first)
        newline(b, indent, depth);
    strbuf_puts(b, "}");
}

void pb_to_go_json(struct strbuf *b, const ProtobufCMessage *m, const char *indent)
{
    put_message(b, m, indent, 0);
}
