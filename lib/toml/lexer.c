/* TOML's lexical layer: UTF-8, whitespace, comments, keys, strings, numbers, booleans. */
#include "lib/toml/toml-internal.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int toml_scan_fail(struct toml_scanner *s, const char *at, const char *fmt, ...)
{
    if (!s->err || *s->err)
        return -1;
    if (!at || at > s->end)
        at = s->end;
    /* Columns count characters, not bytes: continuation bytes do not advance them. */
    size_t line = 1, column = 1;
    for (const char *p = s->data; p < at; p++) {
        if (*p == '\n') {
            line++;
            column = 1;
        } else if (((unsigned char)*p & 0xc0) != 0x80) {
            column++;
        }
    }
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *reason = xvasprintf(fmt, ap);
    va_end(ap);
    return err_make(s->err, ERR_INVALID_ARGUMENT, 0, "%s:%zu:%zu: %s",
                    s->filename ? s->filename : "<input>", line, column, reason);
}

/* The code point at p, which toml_scan_check_utf8 has already validated. */
static uint32_t decode_utf8(const char *at, const char *end)
{
    const unsigned char *p = (const unsigned char *)at;
    size_t n = toml_utf8_sequence_length(p, (size_t)(end - at));
    if (n < 2)
        return 0xfffd;
    uint32_t c = p[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++)
        c = c << 6 | (p[i] & 0x3f);
    return c;
}

/* A short description of the character at `at` for messages. */
const char *toml_scan_describe(const struct toml_scanner *s, const char *at, char buf[32])
{
    if (at >= s->end)
        return "end of input";
    unsigned char c = (unsigned char)*at;
    if (c == '\n' || c == '\r')
        return "end of line";
    if (c < 0x20 || c == 0x7f)
        snprintf(buf, 32, "control character U+%04X", c);
    else if (c >= 0x80)
        snprintf(buf, 32, "character U+%04X", decode_utf8(at, s->end));
    else
        snprintf(buf, 32, "'%c'", c);
    return buf;
}

static bool is_control(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static bool is_bare_key_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

size_t toml_utf8_sequence_length(const unsigned char *p, size_t avail)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 2;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* UTF-16 surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* beyond U+10FFFF */
    } else {
        return 0;
    }
    if (avail <= n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i <= n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n + 1;
}

int toml_scan_check_utf8(struct toml_scanner *s)
{
    const unsigned char *p = (const unsigned char *)s->data, *end = (const unsigned char *)s->end;
    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        size_t n = toml_utf8_sequence_length(p, (size_t)(end - p));
        if (!n)
            return toml_scan_fail(s, (const char *)p, "invalid UTF-8 sequence");
        p += n;
    }
    return 0;
}

bool toml_scan_at_newline(const struct toml_scanner *s)
{
    int c = toml_scan_peek(s, 0);
    return c == '\n' || (c == '\r' && toml_scan_peek(s, 1) == '\n');
}

static void eat_newline(struct toml_scanner *s)
{
    s->pos += *s->pos == '\r' ? 2 : 1;
}

void toml_scan_skip_ws(struct toml_scanner *s)
{
    while (s->pos < s->end && (*s->pos == ' ' || *s->pos == '\t'))
        s->pos++;
}

/* At '#': the comment up to (not including) its newline. */
static int skip_comment(struct toml_scanner *s)
{
    for (s->pos++; s->pos < s->end && !toml_scan_at_newline(s); s->pos++) {
        unsigned char c = (unsigned char)*s->pos;
        if (c == '\r')
            return toml_scan_fail(s, s->pos, "carriage return not followed by a line feed");
        if (is_control(c))
            return toml_scan_fail(s, s->pos, "control character U+%04X in comment", c);
    }
    return 0;
}

int toml_scan_skip_blank(struct toml_scanner *s)
{
    for (;;) {
        toml_scan_skip_ws(s);
        int c = toml_scan_peek(s, 0);
        if (c == '#') {
            if (skip_comment(s) < 0)
                return -1;
        } else if (toml_scan_at_newline(s)) {
            eat_newline(s);
        } else if (c == '\r') {
            return toml_scan_fail(s, s->pos, "carriage return not followed by a line feed");
        } else {
            return 0;
        }
    }
}

int toml_scan_end_of_line(struct toml_scanner *s)
{
    toml_scan_skip_ws(s);
    if (toml_scan_peek(s, 0) == '#' && skip_comment(s) < 0)
        return -1;
    if (toml_scan_eof(s))
        return 0;
    if (toml_scan_at_newline(s)) {
        eat_newline(s);
        return 0;
    }
    char buf[32];
    if (*s->pos == '\r')
        return toml_scan_fail(s, s->pos, "carriage return not followed by a line feed");
    return toml_scan_fail(s, s->pos, "expected the end of the line, found %s",
                          toml_scan_describe(s, s->pos, buf));
}

/* Strings. */

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* At the backslash of an escape in a basic string. */
static int scan_escape(struct toml_scanner *s, bool multiline, struct toml_buffer *out)
{
    const char *at = s->pos;
    int c = toml_scan_peek(s, 1);
    if (c < 0)
        return toml_scan_fail(s, at, "unterminated string");
    s->pos += 2;
    switch (c) {
    case 'b':
        toml_buffer_addc(out, '\b');
        return 0;
    case 't':
        toml_buffer_addc(out, '\t');
        return 0;
    case 'n':
        toml_buffer_addc(out, '\n');
        return 0;
    case 'f':
        toml_buffer_addc(out, '\f');
        return 0;
    case 'r':
        toml_buffer_addc(out, '\r');
        return 0;
    case '"':
        toml_buffer_addc(out, '"');
        return 0;
    case '\\':
        toml_buffer_addc(out, '\\');
        return 0;
    case 'u':
    case 'U': {
        int n = c == 'u' ? 4 : 8;
        uint32_t codepoint = 0;
        for (int i = 0; i < n; i++) {
            int h = hex_value(toml_scan_peek(s, (size_t)i));
            if (h < 0)
                return toml_scan_fail(s, at, "\\%c escape needs %d hex digits", c, n);
            codepoint = codepoint << 4 | (uint32_t)h;
        }
        s->pos += n;
        if (codepoint > 0x10ffff || (codepoint >= 0xd800 && codepoint <= 0xdfff))
            return toml_scan_fail(s, at, "escape \\%c%.*s is not a Unicode scalar value", c, n,
                                  at + 2);
        toml_buffer_add_utf8(out, codepoint);
        return 0;
    }
    default:
        break;
    }
    if (multiline && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
        /* A line-ending backslash: whitespace may follow it, but then must come a newline. */
        s->pos = at + 1;
        toml_scan_skip_ws(s);
        if (!toml_scan_at_newline(s))
            return toml_scan_fail(s, at, "only whitespace may follow a line-ending backslash");
        while (toml_scan_at_newline(s) || toml_scan_peek(s, 0) == ' ' ||
               toml_scan_peek(s, 0) == '\t') {
            if (toml_scan_at_newline(s))
                eat_newline(s);
            else
                s->pos++;
        }
        return 0;
    }
    if (c >= 0x20 && c < 0x7f)
        return toml_scan_fail(s, at, "invalid escape sequence \\%c", c);
    return toml_scan_fail(s, at, "invalid escape sequence");
}

/* The body of a string after its opening quote(s), through its closing quote(s). */
static int scan_string_body(struct toml_scanner *s, const char *start, char quote, bool multiline,
                            struct toml_buffer *out)
{
    bool basic = quote == '"';
    for (;;) {
        const char *run = s->pos;
        while (s->pos < s->end) {
            unsigned char c = (unsigned char)*s->pos;
            if (c == (unsigned char)quote || (basic && c == '\\') || is_control(c))
                break;
            s->pos++;
        }
        toml_buffer_add(out, run, (size_t)(s->pos - run));
        if (toml_scan_eof(s))
            return toml_scan_fail(s, start, "unterminated string");
        unsigned char c = (unsigned char)*s->pos;
        if (c == (unsigned char)quote) {
            if (!multiline) {
                s->pos++;
                return 0;
            }
            size_t n = 0;
            while (toml_scan_peek(s, n) == quote)
                n++;
            if (n >= 3) {
                if (n > 5)
                    return toml_scan_fail(s, s->pos + 5, "too many quotes closing a string");
                toml_buffer_add(out, s->pos, n - 3);
                s->pos += n;
                return 0;
            }
            toml_buffer_add(out, s->pos, n);
            s->pos += n;
        } else if (c == '\\') {
            if (scan_escape(s, multiline, out) < 0)
                return -1;
        } else if (toml_scan_at_newline(s)) {
            if (!multiline)
                return toml_scan_fail(s, s->pos, "newline in a single-line string");
            toml_buffer_addc(out, '\n'); /* CRLF is kept as the platform's newline */
            eat_newline(s);
        } else if (c == '\r') {
            return toml_scan_fail(s, s->pos, "carriage return not followed by a line feed");
        } else {
            return toml_scan_fail(s, s->pos, "control character U+%04X must be escaped", c);
        }
    }
}

/* At a quote: one string, single-line only when allow_multiline is false (keys). */
static int scan_string(struct toml_scanner *s, bool allow_multiline, char **ret_text,
                       size_t *ret_len)
{
    const char *start = s->pos;
    char quote = *s->pos;
    bool multiline = toml_scan_peek(s, 1) == quote && toml_scan_peek(s, 2) == quote;
    if (multiline && !allow_multiline)
        return toml_scan_fail(s, start, "a multi-line string cannot be a key");
    struct toml_buffer out = {0};
    toml_buffer_add(&out, "", 0);
    if (multiline) {
        s->pos += 3;
        /* A newline right after the opening delimiter is trimmed. */
        if (toml_scan_at_newline(s))
            eat_newline(s);
    } else {
        s->pos++;
    }
    if (scan_string_body(s, start, quote, multiline, &out) < 0) {
        free(out.data);
        return -1;
    }
    *ret_text = out.data;
    *ret_len = out.len;
    return 0;
}

int toml_scan_string(struct toml_scanner *s, char **ret_text, size_t *ret_len)
{
    return scan_string(s, true, ret_text, ret_len);
}

/* Keys. */

void toml_key_clear(struct toml_key *key)
{
    for (size_t i = 0; i < key->count; i++)
        if (!key->parts[i].borrowed)
            free(key->parts[i].name);
    free(key->parts);
    *key = (struct toml_key){0};
}

int toml_scan_key(struct toml_scanner *s, struct toml_key *ret)
{
    struct toml_key key = {0};
    for (;;) {
        struct toml_key_part part = {.at = s->pos};
        int c = toml_scan_peek(s, 0);
        if (c == '"' || c == '\'') {
            if (scan_string(s, false, &part.name, &part.len) < 0)
                goto fail;
        } else if (is_bare_key_char(c)) {
            const char *start = s->pos;
            while (is_bare_key_char(toml_scan_peek(s, 0)))
                s->pos++;
            part.len = (size_t)(s->pos - start);
            part.name = xstrndup(start, part.len);
        } else {
            char buf[32];
            toml_scan_fail(s, s->pos, "expected a key, found %s",
                           toml_scan_describe(s, s->pos, buf));
            goto fail;
        }
        /* Every part but the last names a table, and tables nest at most TOML_MAX_DEPTH. */
        if (key.count > TOML_MAX_DEPTH) {
            free(part.name);
            toml_scan_fail(s, part.at, "key has more than %d dotted parts", TOML_MAX_DEPTH + 1);
            goto fail;
        }
        key.parts = xreallocarray_grow(key.parts, &key.capacity, key.count + 1, sizeof(part));
        key.parts[key.count++] = part;
        const char *after = s->pos;
        toml_scan_skip_ws(s);
        if (toml_scan_peek(s, 0) != '.') {
            s->pos = after;
            break;
        }
        s->pos++;
        toml_scan_skip_ws(s);
    }
    *ret = key;
    return 0;
fail:
    toml_key_clear(&key);
    return -1;
}

/* Numbers, booleans, datetimes. */

/*
 * Digits of `base` with single underscores between them: returns the end of the run, or NULL
 * (after reporting) when empty or an underscore is misplaced.
 */
static const char *digit_run(struct toml_scanner *s, const char *p, const char *end, int base)
{
    const char *start = p;
    for (; p < end; p++) {
        int c = (unsigned char)*p;
        if (c == '_') {
            if (p == start || p + 1 >= end || p[-1] == '_' || hex_value(p[1]) < 0 ||
                hex_value(p[1]) >= base) {
                toml_scan_fail(s, p, "underscores in numbers must be between digits");
                return NULL;
            }
            continue;
        }
        int v = hex_value(c);
        if (v < 0 || v >= base)
            break;
    }
    if (p == start) {
        char buf[32];
        toml_scan_fail(s, p, "expected a digit, found %s", toml_scan_describe(s, p, buf));
        return NULL;
    }
    return p;
}

static int scan_prefixed_integer(struct toml_scanner *s, const char *p, const char *end,
                                 struct toml_value **ret)
{
    int base = p[1] == 'x' ? 16 : p[1] == 'o' ? 8 : 2;
    const char *start = p;
    p += 2;
    const char *run_end = digit_run(s, p, end, base);
    if (!run_end)
        return -1;
    if (run_end != end)
        return toml_scan_fail(s, run_end, "invalid digit in base-%d integer", base);
    uint64_t v = 0;
    for (; p < end; p++) {
        if (*p == '_')
            continue;
        uint64_t d = (uint64_t)hex_value((unsigned char)*p);
        if (v > ((uint64_t)INT64_MAX - d) / (uint64_t)base)
            return toml_scan_fail(s, start, "integer does not fit in 64 bits");
        v = v * (uint64_t)base + d;
    }
    *ret = toml_int_new((int64_t)v);
    return 0;
}

static int scan_number(struct toml_scanner *s, const char *start, const char *end,
                       struct toml_value **ret)
{
    const char *p = start;
    bool negative = *p == '-';
    if (*p == '+' || *p == '-')
        p++;
    if (end - p == 3 && (memcmp(p, "inf", 3) == 0 || memcmp(p, "nan", 3) == 0)) {
        double d = p[0] == 'i' ? INFINITY : NAN;
        *ret = toml_float_new(negative ? -d : d);
        return 0;
    }
    if (end - p >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'o' || p[1] == 'b')) {
        if (p != start)
            return toml_scan_fail(s, start, "hex, octal and binary integers take no sign");
        return scan_prefixed_integer(s, p, end, ret);
    }
    const char *int_end = digit_run(s, p, end, 10);
    if (!int_end)
        return -1;
    if (*p == '0' && int_end - p > 1)
        return toml_scan_fail(s, p, "leading zeros are not allowed");
    const char *q = int_end;
    bool is_float = false;
    if (q < end && *q == '.') {
        is_float = true;
        if (!(q = digit_run(s, q + 1, end, 10)))
            return -1;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        is_float = true;
        q++;
        if (q < end && (*q == '+' || *q == '-'))
            q++;
        if (!(q = digit_run(s, q, end, 10)))
            return -1;
    }
    if (q != end) {
        char buf[32];
        return toml_scan_fail(s, q, "invalid number: unexpected %s", toml_scan_describe(s, q, buf));
    }
    if (!is_float) {
        uint64_t v = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        for (const char *d = p; d < end; d++) {
            if (*d == '_')
                continue;
            uint64_t digit = (uint64_t)(*d - '0');
            if (v > (limit - digit) / 10)
                return toml_scan_fail(s, start, "integer does not fit in 64 bits");
            v = v * 10 + digit;
        }
        *ret = toml_int_new(negative ? (int64_t)(0 - v) : (int64_t)v);
        return 0;
    }
    _cleanup_free_ char *text = xmalloc((size_t)(end - start) + 1);
    size_t n = 0;
    for (const char *d = start; d < end; d++)
        if (*d != '_')
            text[n++] = *d;
    text[n] = '\0';
    errno = 0;
    double d = strtod_l(text, NULL, toml_c_locale());
    if (errno == ERANGE && isinf(d))
        return toml_scan_fail(s, start, "float out of range");
    *ret = toml_float_new(d);
    return 0;
}

static bool is_number_char(int c)
{
    return is_bare_key_char(c) || c == '.' || c == '+';
}

int toml_scan_scalar(struct toml_scanner *s, struct toml_value **ret)
{
    const char *start = s->pos;
    int c0 = toml_scan_peek(s, 0);
    if (is_digit(c0) && is_digit(toml_scan_peek(s, 1)) &&
        (toml_scan_peek(s, 2) == ':' ||
         (is_digit(toml_scan_peek(s, 2)) && is_digit(toml_scan_peek(s, 3)) &&
          toml_scan_peek(s, 4) == '-'))) {
        struct toml_datetime dt;
        enum toml_kind kind;
        const char *error_at, *reason;
        if (toml_datetime_scan(s->pos, s->end, &dt, &kind, &s->pos, &error_at, &reason) < 0)
            return toml_scan_fail(s, error_at, "%s", reason);
        *ret = toml_value_new(kind);
        (*ret)->u.datetime = dt;
        return 0;
    }
    const char *end = s->pos;
    while (end < s->end && is_number_char((unsigned char)*end))
        end++;
    size_t len = (size_t)(end - start);
    if (len == 4 && memcmp(start, "true", 4) == 0) {
        *ret = toml_bool_new(true);
    } else if (len == 5 && memcmp(start, "false", 5) == 0) {
        *ret = toml_bool_new(false);
    } else if (is_digit(c0) || c0 == '+' || c0 == '-' || c0 == 'i' || c0 == 'n') {
        if (scan_number(s, start, end, ret) < 0)
            return -1;
    } else if (len == 0) {
        char buf[32];
        return toml_scan_fail(s, start, "expected a value, found %s",
                              toml_scan_describe(s, start, buf));
    } else {
        return toml_scan_fail(s, start, "invalid value '%.*s'", len > 40 ? 40 : (int)len, start);
    }
    s->pos = end;
    return 0;
}
