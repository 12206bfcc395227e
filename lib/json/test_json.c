/* Unit tests for the Go-compatible JSON writer. */
#include "lib/base/alloc.h"
#include "lib/json/json_writer.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static char *encode(const char *s, size_t n)
{
    char *data = NULL;
    size_t len = 0, cap = 0;
    json_append_go_string(&data, &len, &cap, s, n);
    assert_int_equal(strlen(data), len);
    return data;
}

static void test_escaping(void **state)
{
    /* Expected texts are what Go 1.22+'s json.Marshal produces for the same bytes. */
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } cases[] = {
        {"plain", 5, "\"plain\""},
        {"", 0, "\"\""},
        {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
        {"\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\""},
        {"\x01\x1f", 2, "\"\\u0001\\u001f\""},
        {"\x7f", 1, "\"\x7f\""},
        {"<a>&", 4, "\"\\u003ca\\u003e\\u0026\""},
        {"caf\xc3\xa9", 5, "\"caf\xc3\xa9\""},
        {"\xe2\x80\xa8\xe2\x80\xa9", 6, "\"\\u2028\\u2029\""},
        {"a\xffz", 3, "\"a\\ufffdz\""},
        {"\xc0\xaf", 2, "\"\\ufffd\\ufffd\""},            /* overlong */
        {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""}, /* surrogate */
        {"a\0b", 3, "\"a\\u0000b\""},
        {"\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *got = encode(cases[i].in, cases[i].n);
        assert_string_equal(got, cases[i].out);
    }
}

static void test_structure(void **state)
{
    _cleanup_json_writer_ struct json_writer w;
    json_writer_init(&w);
    json_writer_begin_object(&w);
    json_writer_key(&w, "schemaVersion");
    json_writer_int(&w, 2);
    json_writer_key(&w, "manifests");
    json_writer_begin_array(&w);
    json_writer_begin_object(&w);
    json_writer_key(&w, "size");
    json_writer_int(&w, -5);
    json_writer_end_object(&w);
    json_writer_begin_object(&w);
    json_writer_end_object(&w);
    json_writer_string(&w, "x");
    json_writer_bool(&w, true);
    json_writer_null(&w);
    json_writer_raw(&w, "[1]", 3);
    json_writer_end_array(&w);
    json_writer_key(&w, "e");
    json_writer_begin_array(&w);
    json_writer_end_array(&w);
    json_writer_end_object(&w);
    size_t len = 0;
    _cleanup_free_ char *text = json_writer_steal(&w, &len);
    assert_string_equal(text,
                        "{\"schemaVersion\":2,\"manifests\":[{\"size\":-5},{},\"x\",true,null,[1]],"
                        "\"e\":[]}");
    assert_int_equal(len, strlen(text));
    assert_null(w.data);
}

static void test_top_level_values(void **state)
{
    _cleanup_json_writer_ struct json_writer w;
    json_writer_init(&w);
    json_writer_int(&w, INT64_MIN);
    _cleanup_free_ char *a = json_writer_steal(&w, NULL);
    assert_string_equal(a, "-9223372036854775808");
    json_writer_init(&w);
    _cleanup_free_ char *empty = json_writer_steal(&w, NULL);
    assert_string_equal(empty, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_top_level_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
