/* Internals of lib/filters shared by its files and unit tests: scanner, unquoting, regexps. */
#pragma once

#include "lib/filters/filters.h"

#include <stdint.h>

/* Tokens as containerd's scanner has them: negative codes, or the rune itself. */
enum filter_token {
    FILTER_TOKEN_EOF = -1,
    FILTER_TOKEN_QUOTED = -2,
    FILTER_TOKEN_VALUE = -3,
    FILTER_TOKEN_FIELD = -4,
    FILTER_TOKEN_SEPARATOR = -5,
    FILTER_TOKEN_OPERATOR = -6,
    FILTER_TOKEN_ILLEGAL = -7,
};

struct filter_scanner {
    const char *input;
    size_t len;
    size_t pos;      /* start of the current rune */
    size_t ppos;     /* end of the current rune */
    bool value;      /* an operator was seen: the next bare word is a value */
    const char *err; /* the first error met, never reset (as containerd's) */
};

void filter_scanner_init(struct filter_scanner *s, const char *input, size_t len);
/* Returns the token (enum filter_token, or a rune) with its position and text input[pos..end). */
int32_t filter_scanner_scan(struct filter_scanner *s, size_t *ret_pos, size_t *ret_end);
/* The next rune without consuming it (may set s->err, as containerd's peek does). */
int32_t filter_scanner_peek(struct filter_scanner *s);

/*
 * Unquotes a quoted token ("...", /.../ or |...|) with Go's escapes. Returns a malloc'd buffer
 * (NUL-terminated, may hold NUL bytes) and its length, or NULL on a quote syntax error.
 */
char *filter_unquote(const char *s, size_t len, size_t *ret_len);

/*
 * Compiles a Go (RE2) regular expression into a POSIX extended one, matched in the C locale, and
 * reports its size with repetitions expanded (at most FILTERS_MAX_REGEX_WEIGHT) in *ret_weight.
 * On failure returns -1 with a reason worded as Go's (`missing closing ]`) in *ret_reason.
 */
int filter_regex_compile(const char *pattern, size_t len, regex_t **ret, size_t *ret_weight,
                         char **ret_reason);
bool filter_regex_match(const regex_t *re, const char *value);
void filter_regex_free(regex_t *re);
/* The POSIX translation alone (for tests): malloc'd pattern and regcomp flags, or -1. */
int filter_regex_translate(const char *pattern, size_t len, char **ret_posix, int *ret_cflags,
                           size_t *ret_weight, char **ret_reason);
