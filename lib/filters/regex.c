/* Go (RE2) regular expressions for `~=`, translated to POSIX extended ones (see README.md). */
#include "lib/base/alloc.h"
#include "lib/filters/filters-internal.h"
#include "lib/identifiers/gostring.h"

#include <stdio.h>
#include <string.h>

/* Go's limits: counted repetitions nest to at most 1000 iterations, groups to 1000 levels. */
#define REPEAT_MAX 1000
#define DEPTH_MAX  1000
/*
 * glibc expands counted repetitions when compiling (some 200 bytes per pattern byte), so the
 * pattern with its repetitions expanded is bounded: `.{100}` and `[0-9a-f]{64}` fit.
 */
#define WEIGHT_MAX FILTERS_MAX_REGEX_WEIGHT

/* A class over runes, held as ASCII members plus "every rune beyond ASCII" as one flag. */
struct charset {
    bool ascii[128];
    bool beyond_ascii;
};

struct translator {
    const char *p, *end;
    char *out;
    size_t out_len, out_cap;
    bool dotall;
    int cflags;
    const char *code; /* Go's wording of the first error */
    bool berth_limit; /* the error is a limit of the translation, not an invalid pattern */
    /* Repetition: is there an atom to repeat, did a repetition just end, and how many
     * iterations of counted repetitions nest inside the last atom. */
    bool can_repeat, after_repeat;
    long last_product;
    long *group_max; /* per open group (index 0: the whole pattern), the largest nested product */
    size_t *group_weight; /* per open group, its POSIX size with repetitions expanded */
    size_t last_weight;
    size_t depth, depth_cap, weight_cap;
};

static void put(struct translator *t, const char *s, size_t n)
{
    t->out = xreallocarray_grow(t->out, &t->out_cap, t->out_len + n + 1, 1);
    memcpy(t->out + t->out_len, s, n);
    t->out_len += n;
    t->out[t->out_len] = '\0';
}

static void putc_(struct translator *t, char c)
{
    put(t, &c, 1);
}

static void puts_(struct translator *t, const char *s)
{
    put(t, s, strlen(s));
}

static int fail(struct translator *t, const char *code)
{
    if (!t->code)
        t->code = code;
    return -1;
}

static int fail_unsupported(struct translator *t, const char *what)
{
    t->berth_limit = true;
    return fail(t, what);
}

static int add_weight(struct translator *t, size_t weight)
{
    t->group_weight[t->depth] += weight;
    if (t->group_weight[t->depth] > WEIGHT_MAX)
        return fail_unsupported(t, "expression too large");
    return 0;
}

/* An atom was emitted from output offset start on (its weight is what it emitted). */
static int atom_done(struct translator *t, long product, size_t start)
{
    t->can_repeat = true;
    t->after_repeat = false;
    t->last_product = product;
    t->last_weight = t->out_len - start;
    if (product > t->group_max[t->depth])
        t->group_max[t->depth] = product;
    return add_weight(t, t->last_weight);
}

static void put_literal_byte(struct translator *t, unsigned char c)
{
    if (strchr("^.[$()|*+?{\\", c))
        putc_(t, '\\');
    putc_(t, (char)c);
}

/* A literal rune; beyond ASCII its UTF-8 bytes are grouped so a repetition takes them all. */
static int put_literal_rune(struct translator *t, int32_t r)
{
    if (r == 0)
        return fail_unsupported(t, "NUL characters are not supported");
    size_t start = t->out_len;
    if (r < 0x80) {
        put_literal_byte(t, (unsigned char)r);
    } else {
        char bytes[4];
        size_t n = go_utf8_encode(r, bytes);
        putc_(t, '(');
        put(t, bytes, n);
        putc_(t, ')');
    }
    return atom_done(t, 1, start);
}

static void charset_add(struct charset *cs, int lo, int hi)
{
    for (int c = lo; c <= hi && c < 128; c++)
        cs->ascii[c] = true;
}

static void charset_negate(struct charset *cs)
{
    for (int c = 0; c < 128; c++)
        cs->ascii[c] = !cs->ascii[c];
    cs->beyond_ascii = !cs->beyond_ascii;
}

static bool charset_add_range(struct charset *cs, int32_t lo, int32_t hi)
{
    charset_add(cs, lo, hi);
    if (hi < 0x80)
        return true;
    /* Only "all of it" is representable beyond ASCII. */
    if (lo <= 0x80 && hi >= GO_MAX_RUNE) {
        cs->beyond_ascii = true;
        return true;
    }
    return false;
}

/* A bracket expression listing members (two or more): ']' first, '[' '^' '-' last. */
static void put_bracket(struct translator *t, const bool *member)
{
    putc_(t, '[');
    size_t start = t->out_len;
    if (member[']'])
        putc_(t, ']');
    for (int c = 1; c < 128;) {
        if (!member[c] || strchr("]^-[", c)) {
            c++;
            continue;
        }
        int hi = c;
        while (hi + 1 < 128 && member[hi + 1] && !strchr("]^-[", hi + 1))
            hi++;
        if (hi - c >= 2) {
            putc_(t, (char)c);
            putc_(t, '-');
            putc_(t, (char)hi);
        } else {
            for (int x = c; x <= hi; x++)
                putc_(t, (char)x);
        }
        c = hi + 1;
    }
    if (member['['])
        putc_(t, '[');
    bool dash = member['-'];
    if (member['^']) {
        /* A leading '^' would negate: put the '-' before it instead. */
        if (t->out_len == start && dash) {
            putc_(t, '-');
            dash = false;
        }
        putc_(t, '^');
    }
    if (dash)
        putc_(t, '-');
    putc_(t, ']');
}

/*
 * Emits a class. Runes beyond ASCII are matched whole: a UTF-8 lead byte and its continuation
 * bytes, so `^.$` matches one character as Go does, not one byte.
 */
static int put_charset(struct translator *t, struct charset *cs)
{
    cs->ascii[0] = false; /* values are C strings */
    int count = 0, only = 0;
    for (int c = 1; c < 128; c++)
        if (cs->ascii[c])
            count++, only = c;
    if (count == 0 && !cs->beyond_ascii)
        return fail_unsupported(t, "empty character classes are not supported");
    size_t start = t->out_len;
    if (cs->beyond_ascii)
        putc_(t, '(');
    if (count == 1)
        put_literal_byte(t, (unsigned char)only);
    else if (count > 1)
        put_bracket(t, cs->ascii);
    if (cs->beyond_ascii) {
        if (count)
            putc_(t, '|');
        puts_(t, "[\xc0-\xff][\x80-\xbf]*)");
    }
    return atom_done(t, 1, start);
}

/* \d \s \w and their negations, as RE2 defines them (ASCII only). */
static bool perl_class(char c, struct charset *cs)
{
    switch (c | 0x20) {
    case 'd':
        charset_add(cs, '0', '9');
        break;
    case 's':
        charset_add(cs, '\t', '\n');
        charset_add(cs, '\f', '\r');
        charset_add(cs, ' ', ' ');
        break;
    case 'w':
        charset_add(cs, '0', '9');
        charset_add(cs, 'A', 'Z');
        charset_add(cs, 'a', 'z');
        charset_add(cs, '_', '_');
        break;
    default:
        return false;
    }
    if (c >= 'A' && c <= 'Z')
        charset_negate(cs);
    return true;
}

static const struct {
    const char *name;
    const char *ranges; /* pairs of lo, hi */
} posix_classes[] = {
    {"alnum", "09AZaz"},
    {"alpha", "AZaz"},
    {"ascii", "\x01\x7f"},
    {"blank", "\t\t  "},
    {"cntrl", "\x01\x1f\x7f\x7f"},
    {"digit", "09"},
    {"graph", "!~"},
    {"lower", "az"},
    {"print", " ~"},
    {"punct", "!/:@[`{~"},
    {"space", "\t\r  "},
    {"upper", "AZ"},
    {"word", "09AZaz__"},
    {"xdigit", "09AFaf"},
};

/* [:name:] or [:^name:] at t->p inside a class: 1 when taken, 0 when not one, -1 on error. */
static int named_class(struct translator *t, struct charset *cs)
{
    if (t->end - t->p <= 2 || t->p[0] != '[' || t->p[1] != ':')
        return 0;
    const char *close = NULL;
    for (const char *q = t->p + 2; q + 1 < t->end; q++)
        if (q[0] == ':' && q[1] == ']') {
            close = q;
            break;
        }
    if (!close)
        return 0;
    const char *name = t->p + 2;
    bool negated = name < close && *name == '^';
    if (negated)
        name++;
    for (size_t i = 0; i < ARRAY_SIZE(posix_classes); i++) {
        if (strlen(posix_classes[i].name) != (size_t)(close - name) ||
            memcmp(posix_classes[i].name, name, (size_t)(close - name)) != 0)
            continue;
        struct charset group = {0};
        for (const char *r = posix_classes[i].ranges; *r; r += 2)
            charset_add(&group, (unsigned char)r[0], (unsigned char)r[1]);
        if (negated)
            charset_negate(&group);
        for (int c = 0; c < 128; c++)
            cs->ascii[c] |= group.ascii[c];
        cs->beyond_ascii |= group.beyond_ascii;
        t->p = close + 2;
        return 1;
    }
    return fail(t, "invalid character class range");
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* An escaped rune after the backslash at t->p (octal, \x, \a\f\n\r\t\v, punctuation). */
static int escaped_rune(struct translator *t, int32_t *ret)
{
    const char *p = t->p + 1;
    if (p >= t->end)
        return fail(t, "trailing backslash at end of expression");
    unsigned char c = (unsigned char)*p++;
    int32_t r = 0;
    switch (c) {
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
        /* A single non-zero digit is a backreference, which RE2 does not have. */
        if (p >= t->end || *p < '0' || *p > '7')
            return fail(t, "invalid escape sequence");
        /* fall through */
    case '0':
        r = c - '0';
        for (int i = 1; i < 3 && p < t->end && *p >= '0' && *p <= '7'; i++)
            r = r * 8 + (*p++ - '0');
        break;
    case 'x':
        if (p < t->end && *p == '{') {
            int digits = 0;
            for (p++;; p++, digits++) {
                if (p >= t->end)
                    return fail(t, "invalid escape sequence");
                if (*p == '}')
                    break;
                int v = hex_value(*p);
                if (v < 0)
                    return fail(t, "invalid escape sequence");
                r = r * 16 + v;
                if (r > GO_MAX_RUNE)
                    return fail(t, "invalid escape sequence");
            }
            if (digits == 0)
                return fail(t, "invalid escape sequence");
            p++;
        } else {
            int hi = p < t->end ? hex_value(p[0]) : -1;
            int lo = p + 1 < t->end ? hex_value(p[1]) : -1;
            if (hi < 0 || lo < 0)
                return fail(t, "invalid escape sequence");
            r = hi * 16 + lo;
            p += 2;
        }
        break;
    case 'a':
        r = '\a';
        break;
    case 'f':
        r = '\f';
        break;
    case 'n':
        r = '\n';
        break;
    case 'r':
        r = '\r';
        break;
    case 't':
        r = '\t';
        break;
    case 'v':
        r = '\v';
        break;
    default:
        /* Escaped ASCII punctuation stands for itself; anything else is an error. */
        if (c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
            return fail(t, "invalid escape sequence");
        r = c;
    }
    t->p = p;
    *ret = r;
    return 0;
}

/* One rune of a class at t->p, escaped or literal. */
static int class_rune(struct translator *t, int32_t *ret)
{
    if (t->p >= t->end)
        return fail(t, "missing closing ]");
    if (*t->p == '\\')
        return escaped_rune(t, ret);
    size_t width;
    *ret = go_utf8_decode(t->p, (size_t)(t->end - t->p), &width);
    if (*ret == GO_RUNE_ERROR && width == 1)
        return fail(t, "invalid UTF-8");
    t->p += width;
    return 0;
}

static int translate_class(struct translator *t)
{
    struct charset cs = {0};
    t->p++; /* [ */
    bool negated = t->p < t->end && *t->p == '^';
    if (negated)
        t->p++;
    for (bool first = true; t->p >= t->end || *t->p != ']' || first; first = false) {
        int named = named_class(t, &cs);
        if (named < 0)
            return -1;
        if (named > 0)
            continue;
        if (t->end - t->p >= 2 && t->p[0] == '\\') {
            if (perl_class(t->p[1], &cs)) {
                t->p += 2;
                continue;
            }
            if (t->p[1] == 'p' || t->p[1] == 'P')
                return fail_unsupported(t, "Unicode classes (\\p) are not supported");
        }
        int32_t lo, hi;
        if (class_rune(t, &lo) < 0)
            return -1;
        hi = lo;
        if (t->end - t->p >= 2 && t->p[0] == '-' && t->p[1] != ']') {
            t->p++;
            if (class_rune(t, &hi) < 0)
                return -1;
            if (hi < lo)
                return fail(t, "invalid character class range");
        }
        if (!charset_add_range(&cs, lo, hi))
            return fail_unsupported(t, "characters beyond ASCII in a class are not supported");
    }
    t->p++; /* ] */
    if (negated)
        charset_negate(&cs);
    return put_charset(t, &cs);
}

/* Digits at *p into *ret (capped, so huge counts stay huge); false when none or a leading 0. */
static bool parse_number(const char **p, const char *end, long *ret)
{
    const char *q = *p;
    if (q >= end || *q < '0' || *q > '9')
        return false;
    if (*q == '0' && q + 1 < end && q[1] >= '0' && q[1] <= '9')
        return false;
    long n = 0;
    for (; q < end && *q >= '0' && *q <= '9'; q++)
        if (n <= 100000)
            n = n * 10 + (*q - '0');
    *p = q;
    *ret = n;
    return true;
}

/* {n}, {n,} or {n,m} at t->p, leaving t->p after it; false when it is a literal '{'. */
static bool parse_count(struct translator *t, long *ret_min, long *ret_max)
{
    const char *p = t->p + 1;
    long min, max;
    if (!parse_number(&p, t->end, &min))
        return false;
    max = min;
    if (p < t->end && *p == ',') {
        p++;
        max = -1;
        if (p < t->end && *p != '}' && !parse_number(&p, t->end, &max))
            return false;
    }
    if (p >= t->end || *p != '}')
        return false;
    t->p = p + 1;
    *ret_min = min;
    *ret_max = max;
    return true;
}

/*
 * Applies a repetition that ended just before t->p to the last atom: `op` (*, + or ?), or
 * {min,max} when op is NULL (max -1: no upper bound). A following '?' (lazy) is dropped: it does
 * not change whether a value matches.
 */
static int repeat(struct translator *t, const char *op, long min, long max)
{
    if (!t->can_repeat)
        return fail(t, t->after_repeat ? "invalid nested repetition operator"
                                       : "missing argument to repetition operator");
    if (op) {
        puts_(t, op);
    } else {
        long n = max == -1 ? min : max;
        if (min > REPEAT_MAX || max > REPEAT_MAX || (max >= 0 && min > max) ||
            n * t->last_product > REPEAT_MAX)
            return fail(t, "invalid repeat count");
        if (n * t->last_product > t->group_max[t->depth])
            t->group_max[t->depth] = n * t->last_product;
        if (n > 1 && add_weight(t, t->last_weight * (size_t)(n - 1)) < 0)
            return -1;
        char buf[64];
        if (max == min)
            snprintf(buf, sizeof(buf), "{%ld}", min);
        else if (max == -1)
            snprintf(buf, sizeof(buf), "{%ld,}", min);
        else
            snprintf(buf, sizeof(buf), "{%ld,%ld}", min, max);
        puts_(t, buf);
    }
    if (t->p < t->end && *t->p == '?')
        t->p++;
    t->can_repeat = false;
    t->after_repeat = true;
    return 0;
}

static int open_group(struct translator *t)
{
    if (t->depth + 1 >= DEPTH_MAX)
        return fail(t, "expression nests too deeply");
    t->group_max =
        xreallocarray_grow(t->group_max, &t->depth_cap, t->depth + 2, sizeof(*t->group_max));
    t->group_weight =
        xreallocarray_grow(t->group_weight, &t->weight_cap, t->depth + 2, sizeof(*t->group_weight));
    t->depth++;
    t->group_max[t->depth] = 1;
    t->group_weight[t->depth] = 1;
    putc_(t, '(');
    t->can_repeat = t->after_repeat = false;
    return 0;
}

/* (?:...), (?P<name>...) and (?<name>...): groups; other (? forms are not supported. */
static int translate_group(struct translator *t)
{
    const char *p = t->p + 1;
    if (p < t->end && *p == '?') {
        p++;
        if (p < t->end && *p == ':') {
            p++;
        } else if (p < t->end && (*p == '<' || (*p == 'P' && p + 1 < t->end && p[1] == '<'))) {
            p += *p == 'P' ? 2 : 1;
            const char *name = p;
            while (p < t->end && (*p == '_' || (*p >= '0' && *p <= '9') ||
                                  ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')))
                p++;
            if (p >= t->end || *p != '>' || p == name)
                return fail(t, "invalid named capture");
            p++;
        } else {
            return fail_unsupported(t, "flags other than a leading (?i) or (?s) are not supported");
        }
    }
    t->p = p;
    return open_group(t);
}

static int close_group(struct translator *t)
{
    if (t->depth == 0)
        return fail(t, "unexpected )");
    long inner = t->group_max[t->depth];
    size_t weight = t->group_weight[t->depth] + 1;
    t->depth--;
    t->p++;
    putc_(t, ')');
    t->can_repeat = true;
    t->after_repeat = false;
    t->last_product = inner;
    t->last_weight = weight;
    if (inner > t->group_max[t->depth])
        t->group_max[t->depth] = inner;
    return add_weight(t, weight);
}

/* Zero-width assertions are grouped so that Go's `^*` stays valid POSIX. */
static int put_assertion(struct translator *t, const char *posix)
{
    size_t start = t->out_len;
    putc_(t, '(');
    puts_(t, posix);
    putc_(t, ')');
    return atom_done(t, 1, start);
}

static int translate_escape(struct translator *t)
{
    if (t->p + 1 >= t->end)
        return fail(t, "trailing backslash at end of expression");
    char c = t->p[1];
    struct charset cs = {0};
    if (perl_class(c, &cs)) {
        t->p += 2;
        return put_charset(t, &cs);
    }
    switch (c) {
    case 'b':
    case 'B':
        t->p += 2;
        return put_assertion(t, c == 'b' ? "\\b" : "\\B");
    case 'A':
        t->p += 2;
        return put_assertion(t, "^");
    case 'z':
        t->p += 2;
        return put_assertion(t, "$");
    case 'p':
    case 'P':
        return fail_unsupported(t, "Unicode classes (\\p) are not supported");
    case 'Q': {
        /* Literal text up to \E or the end. */
        const char *q = t->p + 2;
        while (q < t->end && !(q + 1 < t->end && q[0] == '\\' && q[1] == 'E')) {
            size_t width;
            int32_t r = go_utf8_decode(q, (size_t)(t->end - q), &width);
            if (r == GO_RUNE_ERROR && width == 1)
                return fail(t, "invalid UTF-8");
            if (put_literal_rune(t, r) < 0)
                return -1;
            q += width;
        }
        t->p = q < t->end ? q + 2 : q;
        return 0;
    }
    }
    int32_t r;
    if (escaped_rune(t, &r) < 0)
        return -1;
    return put_literal_rune(t, r);
}

/* Leading (?flags) groups: i (case-insensitive) and s (. matches \n) are supported. */
static void translate_flags(struct translator *t)
{
    while (t->end - t->p >= 3 && t->p[0] == '(' && t->p[1] == '?') {
        const char *p = t->p + 2;
        bool i = false, s = false;
        for (; p < t->end && (*p == 'i' || *p == 's'); p++)
            *(*p == 'i' ? &i : &s) = true;
        if (p >= t->end || *p != ')' || p == t->p + 2)
            return;
        if (i)
            t->cflags |= REG_ICASE;
        t->dotall |= s;
        t->p = p + 1;
    }
}

static int translate(struct translator *t)
{
    translate_flags(t);
    while (t->p < t->end) {
        unsigned char c = (unsigned char)*t->p;
        int r = 0;
        switch (c) {
        case '(':
            r = translate_group(t);
            break;
        case ')':
            r = close_group(t);
            break;
        case '|':
            putc_(t, '|');
            t->p++;
            t->can_repeat = t->after_repeat = false;
            break;
        case '*':
        case '+':
        case '?': {
            char op[2] = {(char)c, '\0'};
            t->p++;
            r = repeat(t, op, 0, 0);
            break;
        }
        case '{': {
            long min, max;
            if (parse_count(t, &min, &max)) {
                r = repeat(t, NULL, min, max);
            } else {
                t->p++;
                r = put_literal_rune(t, '{');
            }
            break;
        }
        case '^':
        case '$':
            t->p++;
            r = put_assertion(t, c == '^' ? "^" : "$");
            break;
        case '.': {
            struct charset cs = {0};
            charset_add_range(&cs, 0, GO_MAX_RUNE);
            if (!t->dotall)
                cs.ascii['\n'] = false;
            t->p++;
            r = put_charset(t, &cs);
            break;
        }
        case '[':
            r = translate_class(t);
            break;
        case '\\':
            r = translate_escape(t);
            break;
        default: {
            size_t width;
            int32_t rune = go_utf8_decode(t->p, (size_t)(t->end - t->p), &width);
            if (rune == GO_RUNE_ERROR && width == 1)
                return fail(t, "invalid UTF-8");
            t->p += width;
            r = put_literal_rune(t, rune);
        }
        }
        if (r < 0)
            return -1;
    }
    if (t->depth > 0)
        return fail(t, "missing closing )");
    if (!t->out)
        puts_(t, "()"); /* the empty pattern matches everything */
    return 0;
}

int filter_regex_translate(const char *pattern, size_t len, char **ret_posix, int *ret_cflags,
                           size_t *ret_weight, char **ret_reason)
{
    struct translator t = {.p = pattern, .end = pattern + len};
    t.group_max = xreallocarray_grow(NULL, &t.depth_cap, 1, sizeof(*t.group_max));
    t.group_weight = xreallocarray_grow(NULL, &t.weight_cap, 1, sizeof(*t.group_weight));
    t.group_max[0] = 1;
    t.group_weight[0] = 0;
    int r = translate(&t);
    size_t weight = t.group_weight[0];
    free(t.group_max);
    free(t.group_weight);
    if (r < 0) {
        free(t.out);
        _cleanup_free_ char *quoted = go_quote(pattern, len);
        if (t.berth_limit)
            *ret_reason = xasprintf("%s in Berth's POSIX translation: %s", t.code, quoted);
        else
            *ret_reason = xasprintf("%s: %s", t.code, quoted);
        return -1;
    }
    *ret_posix = t.out;
    *ret_cflags = t.cflags;
    if (ret_weight)
        *ret_weight = weight ? weight : 1;
    return 0;
}
