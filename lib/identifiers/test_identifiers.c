/* Unit tests for identifier validation and the Go string helpers behind containerd's wording. */
#include "lib/base/alloc.h"
#include "lib/identifiers/gostring.h"
#include "lib/identifiers/identifiers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static void test_valid(void **state)
{
    char longest[IDENTIFIER_MAX_LENGTH + 1];
    memset(longest, 'a', IDENTIFIER_MAX_LENGTH);
    longest[IDENTIFIER_MAX_LENGTH] = '\0';
    const char *valid[] = {
        "default",
        "Default",
        "TestValidIdentifiers",
        "default-default",
        "containerd.io",
        "foo.boo",
        "swarmkit.docker.io",
        "0912341234",
        "task.0.0123456789",
        "container.system-75-f19a.00",
        "underscores_are_allowed",
        longest,
        "a",
        "k8s.io",
        "a_b-c.d",
    };
    for (size_t i = 0; i < ARRAY_SIZE(valid); i++) {
        struct berth_error *err = NULL;
        if (identifier_validate(valid[i], &err) != 0)
            fail_msg("%s: %s", valid[i], err->message);
        assert_true(identifier_is_valid(valid[i]));
    }
}

static void test_invalid(void **state)
{
    char too_long[IDENTIFIER_MAX_LENGTH + 2];
    memset(too_long, 'a', IDENTIFIER_MAX_LENGTH + 1);
    too_long[IDENTIFIER_MAX_LENGTH + 1] = '\0';
    const char *invalid[] = {
        "",
        ".foo..foo",
        "foo/foo",
        "foo/..",
        "foo..foo",
        "foo.-boo",
        "-foo.boo",
        "foo.boo-",
        "but__only_tasteful_underscores",
        "zn--e9.org",
        "default--default",
        too_long,
        "a b",
        "é",
        "a.",
        "_",
    };
    for (size_t i = 0; i < ARRAY_SIZE(invalid); i++) {
        struct berth_error *err = NULL;
        assert_int_equal(identifier_validate(invalid[i], &err), -1);
        assert_non_null(err);
        assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
        assert_false(identifier_is_valid(invalid[i]));
        err_free(err);
    }
    assert_false(identifier_is_valid(NULL));
}

static void expect_message(const char *input, const char *message)
{
    struct berth_error *err = NULL;
    assert_int_equal(identifier_validate(input, &err), -1);
    assert_string_equal(err->message, message);
    err_free(err);
}

static void test_messages(void **state)
{
    expect_message("", "identifier must not be empty: invalid argument");
    expect_message(NULL, "identifier must not be empty: invalid argument");
    expect_message("foo..foo", "identifier \"foo..foo\" must match "
                               "^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: invalid argument");
    expect_message("a\"b\n", "identifier \"a\\\"b\\n\" must match "
                             "^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$: invalid argument");
    char too_long[80];
    memset(too_long, 'x', 77);
    too_long[77] = '\0';
    _cleanup_free_ char *want =
        xasprintf("identifier \"%s\" greater than maximum length (76 characters): invalid argument",
                  too_long);
    expect_message(too_long, want);
}

static void expect_quote(const char *input, size_t len, const char *want)
{
    _cleanup_free_ char *got = go_quote(input, len);
    assert_string_equal(got, want);
}

static void test_go_quote(void **state)
{
    expect_quote("", 0, "\"\"");
    expect_quote("plain", 5, "\"plain\"");
    expect_quote("\a\b\f\n\r\t\v\\\"", 9, "\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\"");
    expect_quote("\x01\x7f", 2, "\"\\x01\\x7f\"");
    expect_quote("\0", 1, "\"\\x00\"");
    expect_quote("牛", strlen("牛"), "\"牛\"");
    expect_quote("\xff", 1, "\"\\xff\"");
    expect_quote("\xc2\x85", 2, "\"\\u0085\"");             /* NEL, a C1 control */
    expect_quote("\xc2\xa0", 2, "\"\\u00a0\"");             /* no-break space: not printable */
    expect_quote("\xe2\x80\x8b", 3, "\"\\u200b\"");         /* zero-width space, a format char */
    expect_quote("\xf3\xa0\x80\x81", 4, "\"\\U000e0001\""); /* language tag */
    expect_quote("\xef\xbf\xbd", 3, "\"\xef\xbf\xbd\"");    /* a real U+FFFD is printable */
    expect_quote("\xed\xa0\x80", 3, "\"\\xed\\xa0\\x80\""); /* an encoded surrogate is invalid */
}

static void test_utf8(void **state)
{
    size_t w;
    assert_int_equal(go_utf8_decode("", 0, &w), GO_RUNE_ERROR);
    assert_int_equal(w, 0);
    assert_int_equal(go_utf8_decode("a", 1, &w), 'a');
    assert_int_equal(w, 1);
    assert_int_equal(go_utf8_decode("\xe7\x89\x9b", 3, &w), 0x725B);
    assert_int_equal(w, 3);
    assert_int_equal(go_utf8_decode("\xe7\x89", 2, &w), GO_RUNE_ERROR); /* truncated */
    assert_int_equal(w, 1);
    assert_int_equal(go_utf8_decode("\xc0\x80", 2, &w), GO_RUNE_ERROR); /* overlong */
    assert_int_equal(w, 1);
    assert_int_equal(go_utf8_decode("\xf4\x90\x80\x80", 4, &w), GO_RUNE_ERROR); /* > U+10FFFF */
    assert_int_equal(go_utf8_decode("\xf0\x9f\x90\xae", 4, &w), 0x1F42E);
    assert_int_equal(w, 4);
    char buf[4];
    assert_int_equal(go_utf8_encode(0x1F42E, buf), 4);
    assert_memory_equal(buf, "\xf0\x9f\x90\xae", 4);
    assert_int_equal(go_utf8_encode(0xD800, buf), 3);
    assert_memory_equal(buf, "\xef\xbf\xbd", 3);
    assert_int_equal(go_utf8_encode(0xFF, buf), 2);
    assert_memory_equal(buf, "\xc3\xbf", 2);

    assert_true(go_rune_is_space(0x3000));
    assert_true(go_rune_is_space(0x85));
    assert_false(go_rune_is_space(0x200B));
    assert_true(go_rune_is_graphic(0x3000));
    assert_false(go_rune_is_print(0x3000));
    assert_true(go_rune_is_graphic(0x725B));
    assert_false(go_rune_is_graphic(0xE000));
    assert_false(go_rune_is_graphic(0x1FFFF));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),    cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_messages), cmocka_unit_test(test_go_quote),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
