/* Unit tests for the filter scanner: containerd's scanner cases as token streams, and unquoting. */
#include "lib/base/alloc.h"
#include "lib/filters/filters-internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define EOF_    FILTER_TOKEN_EOF
#define QUOTED  FILTER_TOKEN_QUOTED
#define VALUE   FILTER_TOKEN_VALUE
#define FIELD   FILTER_TOKEN_FIELD
#define SEP     FILTER_TOKEN_SEPARATOR
#define OP      FILTER_TOKEN_OPERATOR
#define ILLEGAL FILTER_TOKEN_ILLEGAL

struct token_result {
    size_t pos;
    int32_t token;
    const char *text;
    const char *err;
};

struct scanner_case {
    const char *name;
    const char *input;
    size_t input_len; /* 0: strlen */
    struct token_result expected[20];
};

static const struct scanner_case cases[] = {
    {"Field", "name", 0, {{0, FIELD, "name"}, {4, EOF_}}},
    {"SelectorsWithOperators",
     "name==value,foo!=bar",
     0,
     {{0, FIELD, "name"},
      {4, OP, "=="},
      {6, VALUE, "value"},
      {11, SEP, ","},
      {12, FIELD, "foo"},
      {15, OP, "!="},
      {17, VALUE, "bar"},
      {20, EOF_}}},
    {"SelectorsWithFieldPaths",
     "name==value,labels.foo=value,other.bar~=match",
     0,
     {{0, FIELD, "name"},
      {4, OP, "=="},
      {6, VALUE, "value"},
      {11, SEP, ","},
      {12, FIELD, "labels"},
      {18, SEP, "."},
      {19, FIELD, "foo"},
      {22, OP, "="},
      {23, VALUE, "value"},
      {28, SEP, ","},
      {29, FIELD, "other"},
      {34, SEP, "."},
      {35, FIELD, "bar"},
      {38, OP, "~="},
      {40, VALUE, "match"},
      {45, EOF_}}},
    {"RegexpValue",
     "name~=[abc]+,foo=test",
     0,
     {{0, FIELD, "name"},
      {4, OP, "~="},
      {6, VALUE, "[abc]+"},
      {12, SEP, ","},
      {13, FIELD, "foo"},
      {16, OP, "="},
      {17, VALUE, "test"},
      {21, EOF_}}},
    {"RegexpEscapedValue",
     "name~=[abc]\\+,foo=test",
     0,
     {{0, FIELD, "name"},
      {4, OP, "~="},
      {6, VALUE, "[abc]\\+"},
      {13, SEP, ","},
      {14, FIELD, "foo"},
      {17, OP, "="},
      {18, VALUE, "test"},
      {22, EOF_}}},
    {"RegexpQuotedValue",
     "name~=/[abc]{0,2}/,foo=test",
     0,
     {{0, FIELD, "name"},
      {4, OP, "~="},
      {6, QUOTED, "/[abc]{0,2}/"},
      {18, SEP, ","},
      {19, FIELD, "foo"},
      {22, OP, "="},
      {23, VALUE, "test"},
      {27, EOF_}}},
    {"Cowsay",
     "name~=牛,labels.moo=true",
     0,
     {{0, FIELD, "name"},
      {4, OP, "~="},
      {6, VALUE, "牛"},
      {9, SEP, ","},
      {10, FIELD, "labels"},
      {16, SEP, "."},
      {17, FIELD, "moo"},
      {20, OP, "="},
      {21, VALUE, "true"},
      {25, EOF_}}},
    {"CowsayRegexpQuoted",
     "name~=|牛|,labels.moo=true",
     0,
     {{0, FIELD, "name"},
      {4, OP, "~="},
      {6, QUOTED, "|牛|"},
      {11, SEP, ","},
      {12, FIELD, "labels"},
      {18, SEP, "."},
      {19, FIELD, "moo"},
      {22, OP, "="},
      {23, VALUE, "true"},
      {27, EOF_}}},
    {"Escapes",
     "name~=\"asdf\\n\\tfooo\"",
     0,
     {{0, FIELD, "name"}, {4, OP, "~="}, {6, QUOTED, "\"asdf\\n\\tfooo\""}, {20, EOF_}}},
    {"NullInput",
     "foo\0bar",
     7,
     {{0, FIELD, "foo"}, {3, ILLEGAL, "", "unexpected null"}, {4, FIELD, "bar"}, {7, EOF_}}},
    {"SpacesChomped",
     "foo = bar    ",
     0,
     {{0, FIELD, "foo"}, {4, OP, "="}, {6, VALUE, "bar"}, {13, EOF_}}},
    {"ValuesPunctuated",
     "compound.labels==punctuated_value.foo-bar",
     0,
     {{0, FIELD, "compound"},
      {8, SEP, "."},
      {9, FIELD, "labels"},
      {15, OP, "=="},
      {17, VALUE, "punctuated_value.foo-bar"},
      {41, EOF_}}},
    {"PartialInput", "interrupted=", 0, {{0, FIELD, "interrupted"}, {11, OP, "="}, {12, EOF_}}},
    {"DoubleValue",
     "doublevalue=value value",
     0,
     {{0, FIELD, "doublevalue"},
      {11, OP, "="},
      {12, VALUE, "value"},
      {18, FIELD, "value"},
      {23, EOF_}}},
    {"LeadingWithQuoted",
     "\"leading quote\".postquote==value",
     0,
     {{0, QUOTED, "\"leading quote\""},
      {15, SEP, "."},
      {16, FIELD, "postquote"},
      {25, OP, "=="},
      {27, VALUE, "value"},
      {32, EOF_}}},
    {"MissingValue",
     "input==,id!=ff",
     0,
     {{0, FIELD, "input"},
      {5, OP, "=="},
      {7, SEP, ","},
      {8, FIELD, "id"},
      {10, OP, "!="},
      {12, VALUE, "ff"},
      {14, EOF_}}},
    {"QuotedRegexp",
     "input~=/foo\\/bar/,id!=ff",
     0,
     {{0, FIELD, "input"},
      {5, OP, "~="},
      {7, QUOTED, "/foo\\/bar/"},
      {17, SEP, ","},
      {18, FIELD, "id"},
      {20, OP, "!="},
      {22, VALUE, "ff"},
      {24, EOF_}}},
    {"QuotedRegexpAlt",
     "input~=|foo/bar|,id!=ff",
     0,
     {{0, FIELD, "input"},
      {5, OP, "~="},
      {7, QUOTED, "|foo/bar|"},
      {16, SEP, ","},
      {17, FIELD, "id"},
      {19, OP, "!="},
      {21, VALUE, "ff"},
      {23, EOF_}}},
    {"IllegalQuoted",
     "labels.containerd.io/key==value",
     0,
     {{0, FIELD, "labels"},
      {6, SEP, "."},
      {7, FIELD, "containerd"},
      {17, SEP, "."},
      {18, FIELD, "io"},
      {20, ILLEGAL, "/key==value", "quoted literal not terminated"},
      {31, EOF_}}},
    {"IllegalQuotedWithNewLine",
     "labels.\"containerd.io\nkey\"==value",
     0,
     {{0, FIELD, "labels"},
      {6, SEP, "."},
      {7, ILLEGAL, "\"containerd.io\n", "quoted literal not terminated"},
      {22, FIELD, "key"},
      {25, ILLEGAL, "\"==value", "quoted literal not terminated"},
      {33, EOF_}}},
    {"IllegalEscapeSequence",
     "labels.\"\\g\"",
     0,
     {{0, FIELD, "labels"},
      {6, SEP, "."},
      {7, ILLEGAL, "\"\\g\"", "illegal escape sequence"},
      {11, EOF_}}},
    {"IllegalNumericEscapeSequence",
     "labels.\"\\xaz\"",
     0,
     {{0, FIELD, "labels"},
      {6, SEP, "."},
      {7, ILLEGAL, "\"\\xaz\"", "illegal numeric escape sequence"},
      {13, EOF_}}},
    /* Berth's own cases. */
    {"InvalidUTF8", "a\xff", 0, {{0, FIELD, "a"}, {1, ILLEGAL, "", "rune error"}, {2, EOF_}}},
    {"ValueTakesAnyFirstRune",
     "a==\x01x y",
     0,
     {{0, FIELD, "a"}, {1, OP, "=="}, {3, VALUE, "\x01x"}, {6, FIELD, "y"}, {7, EOF_}}},
    {"UnicodeSpacesChomped",
     "a\xe3\x80\x80==b",
     0,
     {{0, FIELD, "a"}, {4, OP, "=="}, {6, VALUE, "b"}, {7, EOF_}}},
    {"OtherRune", "?x", 0, {{0, '?', ""}, {1, FIELD, "x"}, {2, EOF_}}},
    {"QuotedWithEscapedQuote",
     "\"a\\\"b\",x",
     0,
     {{0, QUOTED, "\"a\\\"b\""}, {6, SEP, ","}, {7, FIELD, "x"}, {8, EOF_}}},
};

static void test_scanner_cases(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const struct scanner_case *c = &cases[i];
        size_t len = c->input_len ? c->input_len : strlen(c->input);
        struct filter_scanner s;
        filter_scanner_init(&s, c->input, len);
        for (size_t k = 0;; k++) {
            const struct token_result *want = &c->expected[k];
            size_t pos, end;
            int32_t token = filter_scanner_scan(&s, &pos, &end);
            if (token != want->token || pos != want->pos)
                fail_msg("%s: token %zu: got %d at %zu, want %d at %zu", c->name, k, token, pos,
                         want->token, want->pos);
            const char *want_text = want->text ? want->text : "";
            if (end - pos != strlen(want_text) || memcmp(c->input + pos, want_text, end - pos))
                fail_msg("%s: token %zu: got text %.*s, want %s", c->name, k, (int)(end - pos),
                         c->input + pos, want_text);
            if (token == ILLEGAL)
                assert_string_equal(s.err, want->err);
            if (token == EOF_)
                break;
        }
        size_t pos, end;
        assert_int_equal(filter_scanner_scan(&s, &pos, &end), EOF_);
    }
}

static void expect_unquote(const char *quoted, const char *want, size_t want_len)
{
    size_t len;
    _cleanup_free_ char *got = filter_unquote(quoted, strlen(quoted), &len);
    if (!want) {
        if (got)
            fail_msg("%s: unquoted, want an error", quoted);
        return;
    }
    if (!got)
        fail_msg("%s: error, want %s", quoted, want);
    assert_int_equal(len, want_len);
    assert_memory_equal(got, want, len);
}

static void test_unquote(void **state)
{
    expect_unquote("\"plain\"", "plain", 5);
    expect_unquote("\"\"", "", 0);
    expect_unquote("\"a\\nb\\t\\\\\\\"\"", "a\nb\t\\\"", 6);
    expect_unquote("\"\\x41\\101\\u00e9\\U0001F42E\"", "AAé\xf0\x9f\x90\xae", 8);
    expect_unquote("\"\\xff\"", "\xff", 1); /* \x is a byte, not a rune */
    expect_unquote("\"\\x00z\"", "\0z", 2);
    expect_unquote("\"\\ud800\"", "\xef\xbf\xbd", 3); /* a surrogate encodes as U+FFFD */
    expect_unquote("/a\\/b/", "a/b", 3);
    expect_unquote("|a\\|b|", "a|b", 3);
    expect_unquote("/牛/", "牛", 3);
    expect_unquote("\"\\400\"", NULL, 0);       /* octal beyond a byte */
    expect_unquote("\"\\U00110000\"", NULL, 0); /* beyond Unicode */
    expect_unquote("\"\\'\"", NULL, 0);         /* only the own quote may be escaped */
    expect_unquote("/\\\"/", NULL, 0);
    expect_unquote("\"\\q\"", NULL, 0);
    expect_unquote("\"a\nb\"", NULL, 0);
    expect_unquote("\"ab", NULL, 0);
    expect_unquote("\"", NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scanner_cases),
        cmocka_unit_test(test_unquote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
