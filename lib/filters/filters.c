/* containerd's filter parser (selectors, fieldpaths, operators, values) and the filter tree. */
#include "lib/base/alloc.h"
#include "lib/filters/filters-internal.h"
#include "lib/identifiers/gostring.h"

#include <stdio.h>
#include <string.h>

struct parser {
    const char *input;
    size_t len;
    struct filter_scanner scanner;
    size_t *regex_weight; /* summed over every string of one request */
    struct berth_error **err;
};

/* Appends s[0..len) to *o with NUL bytes spelled \x00, so a message stays one C string. */
static char *append_text(char *o, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i])
            *o++ = s[i];
        else
            o = stpcpy(o, "\\x00");
    }
    return o;
}

/* containerd's parse error: the input cut around the byte at pos, then the reason. */
static int parser_error(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int parser_error(struct parser *p, size_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *reason = xvasprintf(fmt, ap);
    va_end(ap);
    _cleanup_free_ char *where = xmalloc(p->len * 4 + 16);
    char *o = where;
    *o++ = '[';
    if (pos < p->len) {
        o = append_text(o, p->input, pos);
        o = stpcpy(o, " >|");
        o = append_text(o, p->input + pos, 1);
        o = stpcpy(o, "|< ");
        o = append_text(o, p->input + pos + 1, p->len - pos - 1);
    } else {
        o = append_text(o, p->input, p->len);
    }
    *o++ = ']';
    *o = '\0';
    return err_make(p->err, ERR_INVALID_ARGUMENT, 0, "filters: parse error: %s: %s", where, reason);
}

static void selector_clear(struct filter_selector *s)
{
    for (size_t i = 0; i < s->fieldpath_len; i++)
        free(s->fieldpath[i]);
    free(s->fieldpath);
    free(s->value);
    filter_regex_free(s->regex);
    *s = (struct filter_selector){0};
}

static void conjunction_clear(struct filter_conjunction *c)
{
    for (size_t i = 0; i < c->len; i++)
        selector_clear(&c->selectors[i]);
    free(c->selectors);
    *c = (struct filter_conjunction){0};
}

struct filter *filters_free(struct filter *f)
{
    if (!f)
        return NULL;
    for (size_t i = 0; i < f->len; i++)
        conjunction_clear(&f->any[i]);
    free(f->any);
    free(f);
    return NULL;
}

static int parser_unquote(struct parser *p, size_t pos, size_t end, bool allow_alternatives,
                          char **ret, size_t *ret_len)
{
    char quote = p->input[pos];
    if (!allow_alternatives && quote != '\'' && quote != '"')
        return parser_error(p, pos, "invalid quote encountered");
    char *text = filter_unquote(p->input + pos, end - pos, ret_len);
    if (!text)
        return parser_error(p, pos, "unquoting failed: quote syntax error");
    *ret = text;
    return 0;
}

static const char *scanner_reason(const struct parser *p)
{
    return p->scanner.err ? p->scanner.err : "";
}

static int parse_field(struct parser *p, char **ret, bool *ret_has_nul)
{
    size_t pos, end, len;
    int32_t token = filter_scanner_scan(&p->scanner, &pos, &end);
    switch (token) {
    case FILTER_TOKEN_FIELD:
        *ret = xstrndup(p->input + pos, end - pos);
        return 0;
    case FILTER_TOKEN_QUOTED:
        if (parser_unquote(p, pos, end, false, ret, &len) < 0)
            return -1;
        if (strlen(*ret) != len)
            *ret_has_nul = true;
        return 0;
    case FILTER_TOKEN_ILLEGAL:
        return parser_error(p, pos, "%s", scanner_reason(p));
    }
    return parser_error(p, pos, "expected field or quoted");
}

static int parse_fieldpath(struct parser *p, struct filter_selector *s)
{
    size_t capacity = 0;
    for (;;) {
        if (s->fieldpath_len == FILTERS_MAX_FIELDPATH)
            return parser_error(p, p->scanner.ppos, "fieldpath has more than %d parts",
                                FILTERS_MAX_FIELDPATH);
        s->fieldpath = xreallocarray_grow(s->fieldpath, &capacity, s->fieldpath_len + 1,
                                          sizeof(*s->fieldpath));
        s->fieldpath[s->fieldpath_len] = NULL;
        if (parse_field(p, &s->fieldpath[s->fieldpath_len], &s->fieldpath_has_nul) < 0)
            return -1;
        s->fieldpath_len++;
        if (filter_scanner_peek(&p->scanner) != '.')
            return 0;
        size_t pos, end;
        if (filter_scanner_scan(&p->scanner, &pos, &end) != FILTER_TOKEN_SEPARATOR)
            return parser_error(p, pos, "expected a field separator (`.`)");
    }
}

static int parse_operator(struct parser *p, enum filter_operator *ret)
{
    size_t pos, end;
    int32_t token = filter_scanner_scan(&p->scanner, &pos, &end);
    if (token == FILTER_TOKEN_OPERATOR) {
        const char *text = p->input + pos;
        size_t len = end - pos;
        if (len == 2 && text[1] == '=') {
            switch (text[0]) {
            case '=':
                *ret = FILTER_OP_EQUAL;
                return 0;
            case '!':
                *ret = FILTER_OP_NOT_EQUAL;
                return 0;
            case '~':
                *ret = FILTER_OP_MATCHES;
                return 0;
            }
        }
        _cleanup_free_ char *quoted = go_quote(text, len);
        return parser_error(p, pos, "unsupported operator %s", quoted);
    }
    if (token == FILTER_TOKEN_ILLEGAL)
        return parser_error(p, pos, "%s", scanner_reason(p));
    return parser_error(p, pos, "expected an operator (\"==\"|\"!=\"|\"~=\")");
}

static int parse_value(struct parser *p, struct filter_selector *s, size_t *ret_pos)
{
    size_t pos, end;
    int32_t token = filter_scanner_scan(&p->scanner, &pos, &end);
    *ret_pos = pos;
    switch (token) {
    case FILTER_TOKEN_VALUE:
    case FILTER_TOKEN_FIELD:
        s->value = xstrndup(p->input + pos, end - pos);
        s->value_len = end - pos;
        return 0;
    case FILTER_TOKEN_QUOTED:
        /* Regular expressions may also be quoted as /.../ or |...|. */
        return parser_unquote(p, pos, end, s->op == FILTER_OP_MATCHES, &s->value, &s->value_len);
    case FILTER_TOKEN_ILLEGAL:
        return parser_error(p, pos, "%s", scanner_reason(p));
    }
    return parser_error(p, pos, "expected value or quoted");
}

static int parse_selector(struct parser *p, struct filter_selector *s)
{
    if (parse_fieldpath(p, s) < 0)
        return -1;
    int32_t next = filter_scanner_peek(&p->scanner);
    if (next == ',' || next == FILTER_TOKEN_EOF) {
        s->op = FILTER_OP_PRESENT;
        return 0;
    }
    if (parse_operator(p, &s->op) < 0)
        return -1;
    size_t value_pos;
    if (parse_value(p, s, &value_pos) < 0)
        return -1;
    if (s->op == FILTER_OP_MATCHES) {
        _cleanup_free_ char *reason = NULL;
        size_t weight;
        if (filter_regex_compile(s->value, s->value_len, &s->regex, &weight, &reason) < 0)
            return parser_error(p, value_pos, "error parsing regexp: %s", reason);
        *p->regex_weight += weight;
        if (*p->regex_weight > FILTERS_MAX_REGEX_TOTAL)
            return parser_error(p, value_pos, "regular expressions larger than %d in total",
                                FILTERS_MAX_REGEX_TOTAL);
    }
    return 0;
}

static int parse_selectors(struct parser *p, struct filter_conjunction *c)
{
    size_t capacity = 0;
    for (;;) {
        if (c->len == FILTERS_MAX_SELECTORS)
            return parser_error(p, p->scanner.ppos, "more than %d selectors",
                                FILTERS_MAX_SELECTORS);
        c->selectors =
            xreallocarray_grow(c->selectors, &capacity, c->len + 1, sizeof(*c->selectors));
        c->selectors[c->len] = (struct filter_selector){0};
        int r = parse_selector(p, &c->selectors[c->len]);
        c->len++;
        if (r < 0)
            return -1;

        int32_t next = filter_scanner_peek(&p->scanner);
        if (next == FILTER_TOKEN_EOF)
            return 0;
        if (next != ',') {
            char rune[4];
            size_t width = go_utf8_encode(next, rune);
            return parser_error(p, p->scanner.ppos, "unexpected input: %.*s", (int)width, rune);
        }
        size_t pos, end;
        if (filter_scanner_scan(&p->scanner, &pos, &end) != FILTER_TOKEN_SEPARATOR)
            return parser_error(p, pos, "expected a separator");
    }
}

/* Parses one filter string into *c; "" gives no selectors, which matches everything. */
static int parse_conjunction(const char *s, size_t len, struct filter_conjunction *c,
                             size_t *regex_weight, struct berth_error **err)
{
    *c = (struct filter_conjunction){0};
    if (len == 0)
        return 0;
    if (len > FILTERS_MAX_LENGTH)
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "filters: filter of %zu bytes is longer than the limit of %d bytes", len,
                        FILTERS_MAX_LENGTH);
    struct parser p = {.input = s, .len = len, .regex_weight = regex_weight, .err = err};
    filter_scanner_init(&p.scanner, s, len);
    if (parse_selectors(&p, c) < 0) {
        conjunction_clear(c);
        return -1;
    }
    return 0;
}

int filters_parse_len(const char *s, size_t len, struct filter **ret, struct berth_error **err)
{
    struct filter_conjunction c;
    size_t regex_weight = 0;
    if (parse_conjunction(s ? s : "", s ? len : 0, &c, &regex_weight, err) < 0)
        return -1;
    struct filter *f = xcalloc(1, sizeof(*f));
    f->any = xmemdup(&c, sizeof(c));
    f->len = 1;
    *ret = f;
    return 0;
}

int filters_parse(const char *s, struct filter **ret, struct berth_error **err)
{
    return filters_parse_len(s, s ? strlen(s) : 0, ret, err);
}

int filters_parse_any(const char *const *filters, size_t n, struct filter **ret,
                      struct berth_error **err)
{
    if (n > FILTERS_MAX_ANY)
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "filters: %zu filters are more than the limit of %d", n, FILTERS_MAX_ANY);
    _cleanup_filter_ struct filter *f = xcalloc(1, sizeof(*f));
    if (n)
        f->any = xcalloc(n, sizeof(*f->any));
    size_t regex_weight = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = filters[i] ? filters[i] : "";
        if (parse_conjunction(s, strlen(s), &f->any[i], &regex_weight, err) < 0)
            return -1;
        f->len++;
    }
    *ret = steal_ptr(f);
    return 0;
}

const char *filters_operator_string(enum filter_operator op)
{
    switch (op) {
    case FILTER_OP_PRESENT:
        return "?";
    case FILTER_OP_EQUAL:
        return "==";
    case FILTER_OP_NOT_EQUAL:
        return "!=";
    case FILTER_OP_MATCHES:
        return "~=";
    }
    return "unknown";
}
