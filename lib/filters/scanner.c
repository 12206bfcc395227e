/* containerd's filter scanner and unquoting, rune for rune, so positions and errors agree. */
#include "lib/base/alloc.h"
#include "lib/filters/filters-internal.h"
#include "lib/identifiers/gostring.h"

#include <string.h>

void filter_scanner_init(struct filter_scanner *s, const char *input, size_t len)
{
    *s = (struct filter_scanner){.input = input, .len = len};
}

static void scanner_error(struct filter_scanner *s, const char *msg)
{
    if (!s->err)
        s->err = msg;
}

static int32_t scanner_next(struct filter_scanner *s)
{
    /* containerd tests pos, not ppos, here: the last rune's end is reached one call later. */
    if (s->pos >= s->len)
        return FILTER_TOKEN_EOF;
    s->pos = s->ppos;
    size_t width;
    int32_t r = go_utf8_decode(s->input + s->ppos, s->len - s->ppos, &width);
    s->ppos += width;
    if (r == GO_RUNE_ERROR) {
        if (width > 0) {
            scanner_error(s, "rune error");
            return FILTER_TOKEN_ILLEGAL;
        }
        return FILTER_TOKEN_EOF;
    }
    if (r == 0) {
        scanner_error(s, "unexpected null");
        return FILTER_TOKEN_ILLEGAL;
    }
    return r;
}

int32_t filter_scanner_peek(struct filter_scanner *s)
{
    size_t pos = s->pos, ppos = s->ppos;
    int32_t r = scanner_next(s);
    s->pos = pos;
    s->ppos = ppos;
    return r;
}

static bool is_field_rune(int32_t r)
{
    return r == '_' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9');
}

static bool is_operator_rune(int32_t r)
{
    return r == '=' || r == '!' || r == '~';
}

static bool is_quote_rune(int32_t r)
{
    return r == '/' || r == '|' || r == '"';
}

static bool is_separator_rune(int32_t r)
{
    return r == ',' || r == '.';
}

/* Letters, digits, numbers, graphics and punctuation, except ',' and spaces. */
static bool is_value_rune(int32_t r)
{
    return r >= 0 && r != ',' && !go_rune_is_space(r) && go_rune_is_graphic(r);
}

static int digit_value(int32_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 16;
}

static int32_t scan_digits(struct filter_scanner *s, int32_t ch, int base, int n, bool *legal)
{
    while (n > 0 && digit_value(ch) < base) {
        ch = scanner_next(s);
        n--;
    }
    *legal = n == 0;
    if (n > 0)
        scanner_error(s, "illegal numeric escape sequence");
    return ch;
}

/* Called after a backslash; returns the rune following the escape. */
static int32_t scan_escape(struct filter_scanner *s, int32_t quote, bool *legal)
{
    int32_t ch = scanner_next(s);
    *legal = false;
    switch (ch) {
    case 'a':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
    case 'v':
    case '\\':
        *legal = true;
        return scanner_next(s);
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
        return scan_digits(s, ch, 8, 3, legal);
    case 'x':
        return scan_digits(s, scanner_next(s), 16, 2, legal);
    case 'u':
        return scan_digits(s, scanner_next(s), 16, 4, legal);
    case 'U':
        return scan_digits(s, scanner_next(s), 16, 8, legal);
    }
    if (ch == quote) {
        *legal = true;
        return scanner_next(s);
    }
    scanner_error(s, "illegal escape sequence");
    return ch;
}

static bool scan_quoted(struct filter_scanner *s, int32_t quote)
{
    bool illegal = false;
    int32_t ch = scanner_next(s);
    while (ch != quote) {
        if (ch == '\n' || ch < 0) {
            scanner_error(s, "quoted literal not terminated");
            return false;
        }
        if (ch == '\\') {
            bool legal;
            ch = scan_escape(s, quote, &legal);
            if (!legal)
                illegal = true;
        } else {
            ch = scanner_next(s);
        }
    }
    return !illegal;
}

static void scan_while(struct filter_scanner *s, bool (*accept)(int32_t))
{
    while (accept(filter_scanner_peek(s)))
        scanner_next(s);
}

int32_t filter_scanner_scan(struct filter_scanner *s, size_t *ret_pos, size_t *ret_end)
{
    int32_t ch = scanner_next(s);
    size_t pos = s->pos;
    for (;;) {
        if (ch == FILTER_TOKEN_EOF || ch == FILTER_TOKEN_ILLEGAL)
            break;
        int32_t token;
        if (is_quote_rune(ch)) {
            token = scan_quoted(s, ch) ? FILTER_TOKEN_QUOTED : FILTER_TOKEN_ILLEGAL;
        } else if (is_separator_rune(ch)) {
            s->value = false;
            token = FILTER_TOKEN_SEPARATOR;
        } else if (is_operator_rune(ch)) {
            scan_while(s, is_operator_rune);
            s->value = true;
            token = FILTER_TOKEN_OPERATOR;
        } else if (go_rune_is_space(ch)) {
            ch = scanner_next(s);
            pos = s->pos;
            continue;
        } else if (s->value) {
            /* The first rune of a value is taken whatever it is; the rest must be value runes. */
            scan_while(s, is_value_rune);
            s->value = false;
            token = FILTER_TOKEN_VALUE;
        } else if (is_field_rune(ch)) {
            scan_while(s, is_field_rune);
            token = FILTER_TOKEN_FIELD;
        } else {
            break;
        }
        *ret_pos = pos;
        *ret_end = s->ppos;
        return token;
    }
    *ret_pos = s->pos;
    *ret_end = s->pos;
    return ch;
}

static int unhex(char c)
{
    int v = digit_value((unsigned char)c);
    return v < 16 ? v : -1;
}

/* One character of a quoted body: appends its bytes to *o and advances *p; false on bad syntax. */
static bool unquote_char(const char **p, const char *end, char quote, char **o)
{
    const char *s = *p;
    char c = s[0];
    if (c == quote)
        return false;
    if (c != '\\') {
        /* Bytes are copied as they are: the scanner admitted only valid UTF-8. */
        *(*o)++ = c;
        *p = s + 1;
        return true;
    }
    if (end - s < 2)
        return false;
    c = s[1];
    s += 2;
    int32_t value;
    bool multibyte = false;
    switch (c) {
    case 'a':
        value = '\a';
        break;
    case 'b':
        value = '\b';
        break;
    case 'f':
        value = '\f';
        break;
    case 'n':
        value = '\n';
        break;
    case 'r':
        value = '\r';
        break;
    case 't':
        value = '\t';
        break;
    case 'v':
        value = '\v';
        break;
    case 'x':
    case 'u':
    case 'U': {
        int n = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        if (end - s < n)
            return false;
        uint32_t v = 0;
        for (int j = 0; j < n; j++) {
            int x = unhex(s[j]);
            if (x < 0)
                return false;
            v = v << 4 | (uint32_t)x;
        }
        s += n;
        if (c != 'x') {
            if (v > GO_MAX_RUNE)
                return false;
            multibyte = true;
        }
        value = (int32_t)v;
        break;
    }
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7': {
        int32_t v = c - '0';
        if (end - s < 2)
            return false;
        for (int j = 0; j < 2; j++) {
            int x = s[j] - '0';
            if (x < 0 || x > 7)
                return false;
            v = (v << 3) | x;
        }
        s += 2;
        if (v > 255)
            return false;
        value = v;
        break;
    }
    case '\\':
        value = '\\';
        break;
    case '\'':
    case '"':
    case '|':
    case '/':
        if (c != quote)
            return false;
        value = (unsigned char)c;
        break;
    default:
        return false;
    }
    if (value < 0x80 || !multibyte)
        *(*o)++ = (char)value;
    else
        *o += go_utf8_encode(value, *o);
    *p = s;
    return true;
}

char *filter_unquote(const char *s, size_t len, size_t *ret_len)
{
    if (len < 2 || s[0] != s[len - 1])
        return NULL;
    char quote = s[0];
    if (quote != '"' && quote != '/' && quote != '|')
        return NULL;
    const char *p = s + 1, *end = s + len - 1;
    if (memchr(p, '\n', (size_t)(end - p)))
        return NULL;
    /* Escapes never grow: \u and \U take at least as many bytes as their encoding. */
    _cleanup_free_ char *out = xmalloc((size_t)(end - p) + 1);
    char *o = out;
    while (p < end)
        if (!unquote_char(&p, end, quote, &o))
            return NULL;
    *o = '\0';
    *ret_len = (size_t)(o - out);
    return steal_ptr(out);
}
