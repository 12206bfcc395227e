/* Unit tests for the Go (RE2) to POSIX regexp translation behind `~=`. */
#include "lib/base/alloc.h"
#include "lib/filters/filters-internal.h"

#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

struct match_case {
    const char *pattern;
    const char *value;
    bool matches; /* as Go's regexp.MatchString */
};

static const struct match_case matches[] = {
    {"", "anything", true},
    {"abc", "xxabcxx", true},
    {"^abc$", "xxabcxx", false},
    {"[abc]+", "too complex, yo", true},
    {"[abc]{0,1}\"/", "abc", false},
    {"/containers/*", "/containers/create", true},
    {"/containers/*", "/tasks/exit", false},
    {"a|", "zzz", true},
    {"(|a)b", "b", true},
    {"\\d+", "ab12", true},
    {"^\\d+$", "ab12", false},
    {"^\\D+$", "ab", true},
    {"^\\w+$", "a_B9", true},
    {"^\\W$", "é", true},
    {"^\\s$", "\t", true},
    {"^\\S$", " ", false},
    {"[\\d\\s]+", " 1", true},
    {"^[^\\D]$", "5", true},
    {"^[^\\D]$", "x", false},
    {"(?i)FOO", "foo", true},
    {"(?i)^[a-c]+$", "ABC", true},
    {"(?s)^a.b$", "a\nb", true},
    {"^a.b$", "a\nb", false},
    {"^[^x]$", "\n", true}, /* negated classes take newlines in Go */
    {"\\bfoo\\b", "a foo b", true},
    {"\\bfoo\\b", "afoob", false},
    {"\\Bfoo", "afoo", true},
    {"\\Afoo\\z", "foo", true},
    {"\\Afoo\\z", "foox", false},
    {"^*a", "a", true},
    {"^.$", "牛", true}, /* one rune, not one byte */
    {"^..$", "牛", false},
    {"^[^a]$", "牛", true},
    {"^\\x{725b}+$", "牛牛", true},
    {"^牛{2}$", "牛牛", true},
    {"^é+$", "éé", true},
    {"^[\\x{80}-\\x{10FFFF}]$", "é", true},
    {"^[^\\x00-\\x7f]$", "é", true},
    {"^[^\\x00-\\x7f]$", "e", false},
    {"a{,3}", "a{,3}", true}, /* not a repetition: literal */
    {"a{01}", "a{01}", true}, /* leading zero: literal */
    {"x{2,}", "xx", true},
    {"^x{2,3}$", "xxxx", false},
    {"^x{0}$", "", true},
    {"a*?b", "aab", true},
    {"\\12", "a\nb", true}, /* octal, not a backreference */
    {"\\x41\\x{42}", "AB", true},
    {"[\\]\\-^[]+", "]-^[", true},
    {"^[-^]$", "^", true},
    {"^[-^]$", "a", false},
    {"\\Qa.b\\E", "a.b", true},
    {"\\Qa.b\\E", "axb", false},
    {"\\Qa.b", "a.b", true},
    {"(?P<name>a)(?<other>b)(?:c)", "abc", true},
    {"[[:alpha:]]+", "abc", true},
    {"^[[:^digit:]]+$", "abc", true},
    {"^[[:^digit:]]+$", "a1", false},
    {"^[[:punct:]]+$", "!/:@[`{~", true},
    {"[[:xdigit:]]", "g", false},
    {"^\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\$", ".*+?()[]{}|^$\\", true},
    {"^\\_\\-\\/$", "_-/", true},
    {"^[a\\-z]+$", "-az", true},
    {"^[a\\-z]+$", "b", false},
    {"^[\\\\]$", "\\", true},
    {"^[.]$", "x", false},
    {"^[[]$", "[", true},
    {"^[[:x]$", ":", true}, /* not a named class: '[', ':' and 'x' */
    {"a]b}c", "a]b}c", true},
    {"^\\t\\n\\r\\f\\v\\a$", "\t\n\r\f\v\a", true},
    {"(a{2}){500}", "aa", false},
    {"^$", "", true},
    {"x$*", "x", true},
};

static void test_matches(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(matches); i++) {
        const struct match_case *c = &matches[i];
        regex_t *re = NULL;
        _cleanup_free_ char *reason = NULL;
        if (filter_regex_compile(c->pattern, strlen(c->pattern), &re, NULL, &reason) < 0)
            fail_msg("%s: %s", c->pattern, reason);
        if (filter_regex_match(re, c->value) != c->matches) {
            _cleanup_free_ char *posix = NULL, *why = NULL;
            int cflags;
            filter_regex_translate(c->pattern, strlen(c->pattern), &posix, &cflags, NULL, &why);
            fail_msg("%s (POSIX %s) on %s: want %d", c->pattern, posix, c->value, c->matches);
        }
        filter_regex_free(re);
    }
}

struct error_case {
    const char *pattern;
    const char *reason;
};

static const struct error_case errors[] = {
    {"[", "missing closing ]: \"[\""},
    {"[a-", "missing closing ]: \"[a-\""},
    {"(a", "missing closing ): \"(a\""},
    {"a)", "unexpected ): \"a)\""},
    {"*a", "missing argument to repetition operator: \"*a\""},
    {"a|*", "missing argument to repetition operator: \"a|*\""},
    {"(+)", "missing argument to repetition operator: \"(+)\""},
    {"a**", "invalid nested repetition operator: \"a**\""},
    {"a{2}{3}", "invalid nested repetition operator: \"a{2}{3}\""},
    {"a???", "invalid nested repetition operator: \"a???\""},
    {"a{1001}", "invalid repeat count: \"a{1001}\""},
    {"a{3,2}", "invalid repeat count: \"a{3,2}\""},
    {"(a{2}){501}", "invalid repeat count: \"(a{2}){501}\""},
    {"((a{10}){10}){11}", "invalid repeat count: \"((a{10}){10}){11}\""},
    {"\\1", "invalid escape sequence: \"\\\\1\""},
    {"\\8", "invalid escape sequence: \"\\\\8\""},
    {"\\q", "invalid escape sequence: \"\\\\q\""},
    {"\\x4", "invalid escape sequence: \"\\\\x4\""},
    {"\\x{}", "invalid escape sequence: \"\\\\x{}\""},
    {"\\x{110000}", "invalid escape sequence: \"\\\\x{110000}\""},
    {"[\\b]", "invalid escape sequence: \"[\\\\b]\""},
    {"ab\\", "trailing backslash at end of expression: \"ab\\\\\""},
    {"[z-a]", "invalid character class range: \"[z-a]\""},
    {"[[:foo:]]", "invalid character class range: \"[[:foo:]]\""},
    {"(?P<>a)", "invalid named capture: \"(?P<>a)\""},
    {"(?P<a", "invalid named capture: \"(?P<a\""},
    {"a\xff", "invalid UTF-8: \"a\\xff\""},
    {"\\pL", "Unicode classes (\\p) are not supported in Berth's POSIX translation: \"\\\\pL\""},
    {"[\\p{Greek}]", "Unicode classes (\\p) are not supported in Berth's POSIX translation: "
                     "\"[\\\\p{Greek}]\""},
    {"[é]", "characters beyond ASCII in a class are not supported in Berth's POSIX "
            "translation: \"[é]\""},
    {"a(?i)b", "flags other than a leading (?i) or (?s) are not supported in Berth's POSIX "
               "translation: \"a(?i)b\""},
    {"(?m)^a", "flags other than a leading (?i) or (?s) are not supported in Berth's POSIX "
               "translation: \"(?m)^a\""},
    {"\\x00", "NUL characters are not supported in Berth's POSIX translation: \"\\\\x00\""},
    {"[^\\x00-\\x{10FFFF}]", "empty character classes are not supported in Berth's POSIX "
                             "translation: \"[^\\\\x00-\\\\x{10FFFF}]\""},
    {"x.{1000}", "expression too large in Berth's POSIX translation: \"x.{1000}\""},
    {"(x.{100}){10}", "expression too large in Berth's POSIX translation: \"(x.{100}){10}\""},
};

static void test_errors(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(errors); i++) {
        const struct error_case *c = &errors[i];
        regex_t *re = NULL;
        _cleanup_free_ char *reason = NULL;
        if (filter_regex_compile(c->pattern, strlen(c->pattern), &re, NULL, &reason) == 0)
            fail_msg("%s: compiled, want %s", c->pattern, c->reason);
        if (strcmp(reason, c->reason) != 0)
            fail_msg("%s:\n got  %s\n want %s", c->pattern, reason, c->reason);
    }
}

static void test_weights(void **state)
{
    /* Legitimate sizes fit: a digest, a hundred of anything, a thousand of one byte. */
    const char *fit[] = {"^sha256:[0-9a-f]{64}$", "x.{100}", "a{1000}", "((a{10}){10}){10}"};
    for (size_t i = 0; i < ARRAY_SIZE(fit); i++) {
        regex_t *re = NULL;
        size_t weight = 0;
        _cleanup_free_ char *reason = NULL;
        if (filter_regex_compile(fit[i], strlen(fit[i]), &re, &weight, &reason) < 0)
            fail_msg("%s: %s", fit[i], reason);
        assert_true(weight > 0 && weight <= FILTERS_MAX_REGEX_WEIGHT);
        filter_regex_free(re);
    }
    /* Many large regexps in one request exceed the total. */
    _cleanup_free_ char *s = xmalloc(FILTERS_MAX_LENGTH);
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(s + n, FILTERS_MAX_LENGTH - n, "%sa~=x.{100}", i ? "," : "");
    struct filter *f = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(filters_parse(s, &f, &err), -1);
    assert_non_null(strstr(err->message, "regular expressions larger than 65536 in total"));
    err_free(err);
}

static void test_process_locale(void **state)
{
    /* A daemon that sets a UTF-8 locale gets the same results: matching pins the C locale. */
    if (!setlocale(LC_ALL, "C.UTF-8"))
        skip();
    const struct match_case cases[] = {{"^.$", "牛", true},
                                       {"^..$", "牛", false},
                                       {"^[^a]b$", "éb", true},
                                       {"(?i)^A$", "a", true}};
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        regex_t *re = NULL;
        _cleanup_free_ char *reason = NULL;
        if (filter_regex_compile(cases[i].pattern, strlen(cases[i].pattern), &re, NULL, &reason) <
            0)
            fail_msg("%s: %s", cases[i].pattern, reason);
        assert_int_equal(filter_regex_match(re, cases[i].value), cases[i].matches);
        filter_regex_free(re);
    }
    setlocale(LC_ALL, "C");
}

static void test_deep_nesting(void **state)
{
    /* Go refuses nesting beyond 1000 levels; so does the translation, without recursion. */
    char *deep = xmalloc(2 * 1001 + 2);
    size_t n = 0;
    for (int i = 0; i < 1001; i++)
        deep[n++] = '(';
    deep[n++] = 'a';
    for (int i = 0; i < 1001; i++)
        deep[n++] = ')';
    regex_t *re = NULL;
    _cleanup_free_ char *reason = NULL;
    assert_int_equal(filter_regex_compile(deep, n, &re, NULL, &reason), -1);
    assert_non_null(strstr(reason, "expression nests too deeply"));
    free(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches),      cmocka_unit_test(test_errors),
        cmocka_unit_test(test_weights),      cmocka_unit_test(test_process_locale),
        cmocka_unit_test(test_deep_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
