/* Unit tests for lib/toml: API, writer, errors, limits, a containerd config; plus the suite. */
#include "lib/base/alloc.h"
#include "lib/toml/toml.h"

#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

void test_toml_suite_valid(void **state);
void test_toml_suite_invalid(void **state);

static struct toml_value *parse_ok(const char *text)
{
    struct toml_value *root = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    if (toml_parse(text, strlen(text), "test.toml", &root, &err) < 0)
        fail_msg("parse failed: %s\n%s", err->message, text);
    return root;
}

/* Parses text expecting failure; returns the message for the caller to inspect. */
static char *parse_fail(const char *text, size_t len)
{
    struct toml_value *root = NULL;
    struct berth_error *err = NULL;
    if (toml_parse(text, len, "test.toml", &root, &err) == 0) {
        toml_free(root);
        fail_msg("parse accepted: %.200s", text);
    }
    assert_null(root);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    char *message = xstrdup(err->message);
    err_free(err);
    return message;
}

static void assert_fails_with(const char *text, const char *expected)
{
    _cleanup_free_ char *message = parse_fail(text, strlen(text));
    if (!strstr(message, expected))
        fail_msg("message \"%s\" lacks \"%s\"", message, expected);
}

/* Writes root and re-parses it, asserting equality; returns the text. */
static char *round_trip(const struct toml_value *root)
{
    char *text = toml_write(root);
    assert_non_null(text);
    _cleanup_toml_ struct toml_value *again = parse_ok(text);
    if (!toml_equal(root, again))
        fail_msg("round trip differs:\n%s", text);
    return text;
}

static void test_build_and_edit(void **state)
{
    _cleanup_toml_ struct toml_value *root = toml_table_new();
    assert_int_equal(toml_kind(root), TOML_TABLE);
    assert_int_equal(toml_kind(NULL), TOML_NONE);
    toml_table_set(root, "version", toml_int_new(2));
    toml_table_set(root, "root", toml_string_new("/var/lib/berth"));
    struct toml_value *plugins = toml_table_ensure_table(root, "plugins");
    struct toml_value *cri = toml_table_ensure_table(plugins, "io.containerd.grpc.v1.cri");
    assert_ptr_equal(toml_table_ensure_table(plugins, "io.containerd.grpc.v1.cri"), cri);
    assert_null(toml_table_ensure_table(root, "version"));
    toml_table_set(cri, "enable_selinux", toml_bool_new(true));
    struct toml_value *list = toml_table_set(root, "imports", toml_array_new());
    toml_array_append(list, toml_string_new("a.toml"));
    toml_array_append(list, toml_string_new("b.toml"));

    int64_t i = 0;
    bool b = false;
    double d = 0;
    assert_true(toml_as_int(toml_table_get(root, "version"), &i));
    assert_int_equal(i, 2);
    assert_false(toml_as_bool(toml_table_get(root, "version"), &b));
    assert_false(toml_as_float(toml_table_get(root, "version"), &d));
    assert_null(toml_as_string(toml_table_get(root, "version")));
    assert_string_equal(toml_as_string(toml_table_get(root, "root")), "/var/lib/berth");
    assert_true(toml_as_bool(
        toml_get_path(root, "plugins", "io.containerd.grpc.v1.cri", "enable_selinux", NULL), &b));
    assert_true(b);
    assert_null(toml_get_path(root, "plugins", "nope", "enable_selinux", NULL));
    assert_ptr_equal(toml_get_dotted(root, "plugins.\"io.containerd.grpc.v1.cri\""), cri);
    assert_ptr_equal(toml_get_dotted(root, " plugins . 'io.containerd.grpc.v1.cri' "), cri);
    assert_null(toml_get_dotted(root, "plugins..x"));
    assert_null(toml_get_dotted(root, "plugins.io.containerd.grpc.v1.cri"));

    /* Replacing keeps the key's place; order is insertion order. */
    toml_table_set(root, "version", toml_int_new(3));
    assert_int_equal(toml_table_count(root), 4);
    size_t len;
    assert_string_equal(toml_table_key_at(root, 0, &len), "version");
    assert_int_equal(len, 7);
    assert_string_equal(toml_table_key_at(root, 3, NULL), "imports");
    assert_null(toml_table_key_at(root, 4, NULL));
    assert_true(toml_as_int(toml_table_value_at(root, 0), &i));
    assert_int_equal(i, 3);

    /* Take, remove, arrays. */
    assert_int_equal(toml_array_count(list), 2);
    _cleanup_toml_ struct toml_value *first = toml_array_take(list, 0);
    assert_string_equal(toml_as_string(first), "a.toml");
    assert_string_equal(toml_as_string(toml_array_at(list, 0)), "b.toml");
    assert_null(toml_array_at(list, 1));
    assert_null(toml_array_take(list, 5));
    _cleanup_toml_ struct toml_value *taken = toml_table_take(root, "root");
    assert_string_equal(toml_as_string(taken), "/var/lib/berth");
    assert_null(toml_table_get(root, "root"));
    assert_true(toml_table_remove(root, "imports"));
    assert_false(toml_table_remove(root, "imports"));
    assert_string_equal(toml_table_key_at(root, 1, NULL), "plugins");
    /* Setting on a non-table frees the value instead of leaking it. */
    assert_null(toml_table_set(taken, "x", toml_int_new(1)));
    assert_null(toml_array_append(taken, toml_int_new(1)));
    free(round_trip(root));
}

static void test_big_table_and_nul_keys(void **state)
{
    _cleanup_toml_ struct toml_value *t = toml_table_new();
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        toml_table_set(t, key, toml_int_new(i));
    }
    for (int i = 0; i < 5000; i += 2) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_true(toml_table_remove(t, key));
    }
    assert_int_equal(toml_table_count(t), 2500);
    for (int i = 0; i < 5000; i++) {
        int64_t v;
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(toml_as_int(toml_table_get(t, key), &v), i % 2 == 1);
        if (i % 2)
            assert_int_equal(v, i);
    }
    toml_table_setn(t, "a\0b", 3, toml_string_newn("x\0y", 3));
    assert_null(toml_table_get(t, "a"));
    struct toml_value *v = toml_table_getn(t, "a\0b", 3);
    assert_int_equal(toml_string_length(v), 3);
    assert_memory_equal(toml_as_string(v), "x\0y", 3);
    _cleanup_free_ char *text = round_trip(t);
    assert_non_null(strstr(text, "\"a\\u0000b\" = \"x\\u0000y\""));
}

static void test_copy_equal_merge(void **state)
{
    _cleanup_toml_ struct toml_value *a = parse_ok("x = 1\ny = nan\n[t]\nz = [1, 2.5, 'q']\n");
    _cleanup_toml_ struct toml_value *b = parse_ok("[t]\nz = [1, 2.5, \"q\"]\n\n[u]\n");
    _cleanup_toml_ struct toml_value *c = toml_copy(a);
    assert_true(toml_equal(a, c));
    toml_table_set(toml_table_get(c, "t"), "w", toml_bool_new(false));
    assert_false(toml_equal(a, c));
    assert_null(toml_table_get(toml_table_get(a, "t"), "w"));

    /* Order does not matter; kinds do (1 vs 1.0); NaN equals NaN; -0.0 differs from 0.0. */
    _cleanup_toml_ struct toml_value *d = parse_ok("y = -nan\nx = 1\nt.z = [1, 2.5, 'q']\n");
    assert_true(toml_equal(a, d));
    _cleanup_toml_ struct toml_value *e = parse_ok("y = nan\nx = 1.0\nt.z = [1, 2.5, 'q']\n");
    assert_false(toml_equal(a, e));
    _cleanup_toml_ struct toml_value *z1 = parse_ok("z = 0.0"), *z2 = parse_ok("z = -0.0");
    assert_false(toml_equal(z1, z2));

    toml_merge(a, b);
    assert_non_null(toml_table_get(a, "u"));
    int64_t i;
    assert_true(toml_as_int(toml_table_get(a, "x"), &i));
    assert_string_equal(toml_as_string(toml_array_at(toml_get_dotted(a, "t.z"), 2)), "q");
}

static void test_writer_format(void **state)
{
    _cleanup_toml_ struct toml_value *root = toml_table_new();
    toml_table_set(root, "title", toml_string_new("tab\there \"quoted\" back\\slash\x01\x7f é"));
    toml_table_set(root, "with space", toml_int_new(-5));
    toml_table_set(root, "", toml_bool_new(false));
    struct toml_value *server = toml_table_set(root, "server", toml_table_new());
    toml_table_set(server, "host", toml_string_new("h"));
    struct toml_value *items = toml_table_set(root, "items", toml_array_new());
    for (int i = 0; i < 2; i++) {
        struct toml_value *item = toml_array_append(items, toml_table_new());
        toml_table_set(item, "n", toml_int_new(i));
    }
    struct toml_value *point = toml_table_set(root, "point", toml_table_new());
    toml_table_set_origin(point, TOML_TABLE_INLINE);
    toml_table_set(point, "x", toml_int_new(1));
    toml_table_set(point, "y", toml_table_new());
    _cleanup_free_ char *text = round_trip(root);
    assert_string_equal(text,
                        "title = \"tab\\there \\\"quoted\\\" back\\\\slash\\u0001\\u007F é\"\n"
                        "\"with space\" = -5\n"
                        "\"\" = false\n"
                        "point = { x = 1, y = {} }\n"
                        "\n[server]\nhost = \"h\"\n"
                        "\n[[items]]\nn = 0\n"
                        "\n[[items]]\nn = 1\n");

    /* Parents holding only sub-tables get no header unless they were written with one. */
    _cleanup_toml_ struct toml_value *nested = parse_ok("[a.b.c]\nd = 1\n[x]\n[x.y]\n");
    _cleanup_free_ char *nested_text = round_trip(nested);
    assert_string_equal(nested_text, "[a.b.c]\nd = 1\n\n[x]\n\n[x.y]\n");
    /* Static arrays of tables stay inline; [[ ]] arrays stay sections. */
    _cleanup_toml_ struct toml_value *arrays =
        parse_ok("a = [{b = 1}, {b = 2}]\n[[c]]\n[c.d]\ne = 1\n[[c]]\n");
    _cleanup_free_ char *arrays_text = round_trip(arrays);
    assert_string_equal(arrays_text,
                        "a = [{ b = 1 }, { b = 2 }]\n\n[[c]]\n\n[c.d]\ne = 1\n\n[[c]]\n");
}

static void test_writer_floats(void **state)
{
    static const struct {
        double value;
        const char *text;
    } cases[] = {
        {1.0, "1.0"},
        {0.1, "0.1"},
        {-0.0, "-0.0"},
        {1e300, "1e+300"},
        {5e-324, "5e-324"},
        {1.0 / 3, "0.3333333333333333"},
        {123456789012345680.0, "1.2345678901234568e+17"},
        {100.0, "100.0"},
        {INFINITY, "inf"},
        {-INFINITY, "-inf"},
        {NAN, "nan"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        _cleanup_toml_ struct toml_value *root = toml_table_new();
        toml_table_set(root, "f", toml_float_new(cases[i].value));
        _cleanup_free_ char *text = round_trip(root);
        _cleanup_free_ char *expected = xasprintf("f = %s\n", cases[i].text);
        assert_string_equal(text, expected);
    }
}

static void test_datetimes(void **state)
{
    struct toml_datetime dt;
    enum toml_kind kind;
    char text[TOML_DATETIME_TEXT_MAX];
    static const struct {
        const char *in, *out;
        enum toml_kind kind;
    } cases[] = {
        {"1979-05-27T07:32:00-07:00", "1979-05-27T07:32:00-07:00", TOML_OFFSET_DATETIME},
        {"1979-05-27 07:32:00.5z", "1979-05-27T07:32:00.5Z", TOML_OFFSET_DATETIME},
        {"1979-05-27t07:32:00.999999999+00:00", "1979-05-27T07:32:00.999999999Z",
         TOML_OFFSET_DATETIME},
        {"1979-05-27T07:32:00.1234567891", "1979-05-27T07:32:00.123456789", TOML_LOCAL_DATETIME},
        {"2024-02-29", "2024-02-29", TOML_LOCAL_DATE},
        {"23:59:60.000", "23:59:60.000", TOML_LOCAL_TIME},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        assert_int_equal(toml_datetime_parse(cases[i].in, strlen(cases[i].in), &dt, &kind), 0);
        assert_int_equal(kind, cases[i].kind);
        toml_datetime_format(kind, &dt, text);
        assert_string_equal(text, cases[i].out);
    }
    static const char *const bad[] = {"2023-02-29",       "1979-13-01", "1979-05-27T24:00:00",
                                      "1979-05-27T07:32", "07:32:00Z",  "1979-05-27T07:32:00+24:00",
                                      "1979-05-27 ",      "979-05-27"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        assert_int_equal(toml_datetime_parse(bad[i], strlen(bad[i]), &dt, &kind), -1);
    struct toml_datetime feb29 = {.year = 2023, .month = 2, .day = 29};
    assert_null(toml_datetime_new(TOML_LOCAL_DATE, &feb29));
    feb29.year = 2000;
    _cleanup_toml_ struct toml_value *v = toml_datetime_new(TOML_LOCAL_DATE, &feb29);
    assert_non_null(v);
    assert_true(toml_as_datetime(v, &dt));
    assert_int_equal(dt.day, 29);
    assert_null(toml_datetime_new(TOML_STRING, &feb29));
}

/* TOML's trickier rules, each with the value it must produce (as written back) or rejected. */
static void test_semantics(void **state)
{
    static const struct {
        const char *toml, *written;
    } valid[] = {
        {"a.b = 1\n[a.c]\nd = 2\n", "[a]\nb = 1\n\n[a.c]\nd = 2\n"},
        {"[a]\nb.c = 1\n[a.b.d]\n", "[a]\n\n[a.b]\nc = 1\n\n[a.b.d]\n"},
        {"[[a]]\n[a.b]\n[[a]]\n[a.b]\nc = 1\n", "[[a]]\n\n[a.b]\n\n[[a]]\n\n[a.b]\nc = 1\n"},
        {"[a.b.c]\n[a.b]\n[a]\n", "[a]\n\n[a.b]\n\n[a.b.c]\n"},
        {"k = {a.b = 1, a.c = 2}", "k = { a = { b = 1, c = 2 } }\n"},
        {"a = [1, 'x', [2], {b = 3}, 1.5]", "a = [1, \"x\", [2], { b = 3 }, 1.5]\n"},
        {"a = [\n  1, # one\n\n  2,\n]\n", "a = [1, 2]\n"},
        {"\xef\xbb\xbf\"\" = 1\n'a.b' = 2", "\"\" = 1\n\"a.b\" = 2\n"},
        {"s = \"\"\"\r\nline1\r\nline2\"\"\"", "s = \"line1\\nline2\"\n"},
        {"s = '''a''''", "s = \"a'\"\n"},
        {"s = \"\"\"a\\ \n   \n  b\"\"\"\"\"", "s = \"ab\\\"\\\"\"\n"},
        {"s = \"\\u00e9\\U0001F600\\t\"", "s = \"\xc3\xa9\xf0\x9f\x98\x80\\t\"\n"},
        {"t = 23:59:60", "t = 23:59:60\n"},
        {"x = [0xDEAD_beef, 0o777, 0b1010, -9223372036854775808, +0, -0]",
         "x = [3735928559, 511, 10, -9223372036854775808, 0, 0]\n"},
        {"x = [1_000.5e-1_0, -0.0, +inf, -nan, 6.02E23]",
         "x = [1.0005e-07, -0.0, inf, nan, 6.02e+23]\n"},
        {"d = [1979-05-27, 1979-05-27 07:32:00, 1979-05-27T07:32:00.50-00:30]",
         "d = [1979-05-27, 1979-05-27T07:32:00, 1979-05-27T07:32:00.50-00:30]\n"},
        {"d = 1979-05-27 # a date, then a comment", "d = 1979-05-27\n"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(valid); i++) {
        _cleanup_toml_ struct toml_value *root = parse_ok(valid[i].toml);
        _cleanup_free_ char *text = round_trip(root);
        if (strcmp(text, valid[i].written) != 0)
            fail_msg("case %zu: %s\nwrote:\n%s\nexpected:\n%s", i, valid[i].toml, text,
                     valid[i].written);
    }
    static const struct {
        const char *toml, *message;
    } invalid[] = {
        {"a = {b = 1,\n c = 2}", "1:12: expected a key, found end of line"},
        {"a = {b = 1\n}", "1:11: newline inside an inline table"},
        {"a = [1 2]", "1:8: expected ',' or ']'"},
        {"x = 9223372036854775808", "1:5: integer does not fit in 64 bits"},
        {"x = 0x8000000000000000", "1:5: integer does not fit in 64 bits"},
        {"x = 1__0", "1:6: underscores in numbers must be between digits"},
        {"a.b = 1\n[a.b]", "2:1: cannot make a.b a table: it is already an integer"},
        {"[a]\nx = 1\n[a.x]", "3:1: cannot make a.x a table"},
        {"a = {}\na.b = 1", "2:1: inline table a cannot be extended"},
        {"a = {}\n[a]", "2:1: table a is already defined"},
        {"d = 1979-05-27T07:32:00.Z", "1:25: expected digits after the decimal point"},
        {"k = \"\\uD800\"", "1:6: escape \\uD800 is not a Unicode scalar value"},
        {"k = \"\\U00110000\"", "1:6: escape \\U00110000 is not a Unicode scalar value"},
        {"s = '''a''''''", "1:14: too many quotes"},
        {"s = \"\"\"a\\ b\"\"\"", "1:9: only whitespace may follow a line-ending backslash"},
        {"\xe3\x80\x80"
         "a = 1",
         "1:1: expected a key, found character U+3000"},
        {"a = \"\xed\xa0\x80\"", "1:6: invalid UTF-8"},
        {"a = 1 # \x7f", "1:9: control character U+007F in comment"},
        {"a = 1\n\xef\xbb\xbf", "2:1: expected a key, found character U+FEFF"},
        {"[a]]", "1:4: expected the end of the line, found ']'"},
        {"[[a] ]", "1:4: expected ']]' to close the table header"},
        {"a = true false", "1:10: expected the end of the line, found 'f'"},
        {"t = 07:32:00Z", "1:13: expected the end of the line, found 'Z'"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(invalid); i++) {
        _cleanup_free_ char *expected = xasprintf("test.toml:%s", invalid[i].message);
        assert_fails_with(invalid[i].toml, expected);
    }
}

static void test_error_positions(void **state)
{
    assert_fails_with("a = 1\nb = \n", "test.toml:2:5: expected a value, found end of line");
    assert_fails_with("a = 1\na = 2\n", "test.toml:2:1: duplicate key a");
    assert_fails_with("s = 'é'\nt = x\n", "test.toml:2:5: invalid value 'x'");
    assert_fails_with("[a]\n[a]\n", "test.toml:2:1: table a is already defined");
    assert_fails_with("x = \"\\q\"", "test.toml:1:6: invalid escape sequence \\q");
    assert_fails_with("x = 1\r\ny = 2\rz = 3", "test.toml:2:6:");
    assert_fails_with("bad = \xff\n", "test.toml:1:7: invalid UTF-8");
    assert_fails_with("x = 99999999999999999999", "does not fit in 64 bits");
    assert_fails_with("x = 1e999", "float out of range");

    struct toml_value *root = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(toml_parse("=", 1, NULL, &root, &err), -1);
    assert_null(root);
    assert_non_null(strstr(err->message, "<input>:1:1: expected a key"));
    err_free(err);
    /* No error object wanted: still fails cleanly. */
    assert_int_equal(toml_parse("=", 1, NULL, &root, NULL), -1);
    /* An empty document is an empty table. */
    assert_int_equal(toml_parse(NULL, 0, NULL, &root, NULL), 0);
    assert_int_equal(toml_table_count(root), 0);
    toml_free(root);
}

/* text = prefix + (open × n) + middle + (close × n) + suffix */
static char *nested(const char *prefix, const char *open, int n, const char *middle,
                    const char *close, const char *suffix)
{
    size_t len = strlen(prefix) + (strlen(open) + strlen(close)) * (size_t)n + strlen(middle) +
                 strlen(suffix);
    char *text = xmalloc(len + 1), *p = stpcpy(text, prefix);
    for (int i = 0; i < n; i++)
        p = stpcpy(p, open);
    p = stpcpy(p, middle);
    for (int i = 0; i < n; i++)
        p = stpcpy(p, close);
    stpcpy(p, suffix);
    return text;
}

static void test_limit_depth(void **state)
{
    const int max = TOML_MAX_DEPTH;
    struct {
        const char *prefix, *open, *middle, *close, *suffix;
        int extra; /* containers outside the repeated part */
    } shapes[] = {
        {"a = ", "[", "", "]", "\n", 0},          {"a = ", "[", "{}", "]", "\n", 1},
        {"a = ", "{b = ", "{}", "}", "\n", 1},    {"[", "a.", "a", "", "]\n", 1},
        {"", "a.", "a = 1", "", "\n", 0},         {"[[x]]\n", "a.", "a = 1", "", "\n", 2},
        {"[[x.y]]\nz = ", "[", "", "]", "\n", 3},
    };
    for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
        int n = max - shapes[i].extra;
        _cleanup_free_ char *ok = nested(shapes[i].prefix, shapes[i].open, n, shapes[i].middle,
                                         shapes[i].close, shapes[i].suffix);
        _cleanup_toml_ struct toml_value *root = parse_ok(ok);
        free(round_trip(root));
        _cleanup_free_ char *deep = nested(shapes[i].prefix, shapes[i].open, n + 1,
                                           shapes[i].middle, shapes[i].close, shapes[i].suffix);
        _cleanup_free_ char *message = parse_fail(deep, strlen(deep));
        if (!strstr(message, "deeper than 128") && !strstr(message, "more than 129 dotted"))
            fail_msg("shape %zu: %s", i, message);
    }
    /* Far too deep: still a clean error, not a stack overflow. */
    _cleanup_free_ char *very = nested("a = ", "[", 1000000, "", "]", "");
    _cleanup_free_ char *message = parse_fail(very, strlen(very));
    assert_non_null(strstr(message, "test.toml:1:133: nesting deeper than 128"));
}

static void test_limit_size(void **state)
{
    size_t max = TOML_MAX_INPUT_SIZE;
    _cleanup_free_ char *big = xmalloc(max + 2);
    /* The biggest document: one string filling it. */
    memset(big, 'x', max);
    memcpy(big, "s = \"", 5);
    memcpy(big + max - 2, "\"\n", 2);
    big[max] = '\n';
    struct toml_value *root = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(toml_parse(big, max, NULL, &root, &err), 0);
    assert_int_equal(toml_string_length(toml_table_get(root, "s")), max - 7);
    toml_free(root);
    /* One byte more is refused before anything is read. */
    _cleanup_free_ char *message = parse_fail(big, max + 1);
    assert_non_null(strstr(message, "test.toml:1:1: document is 16777217 bytes, more than"));
}

static void test_limit_nodes(void **state)
{
    /* The array is one value, so it can hold TOML_MAX_NODES - 1 items. */
    size_t items = TOML_MAX_NODES - 1;
    _cleanup_free_ char *text = xmalloc(items * 2 + 16);
    char *p = stpcpy(text, "a = [");
    for (size_t i = 0; i < items; i++)
        p = stpcpy(p, "0,");
    stpcpy(p, "]");
    _cleanup_toml_ struct toml_value *root = parse_ok(text);
    assert_int_equal(toml_array_count(toml_table_get(root, "a")), items);
    stpcpy(p, "0]");
    _cleanup_free_ char *message = parse_fail(text, strlen(text));
    assert_non_null(strstr(message, "more than 1048576 values"));

    /* Many keys in one table: hashed, so this stays fast. */
    size_t keys = 200000;
    _cleanup_free_ char *doc = xmalloc(keys * 24);
    p = doc;
    for (size_t i = 0; i < keys; i++)
        p += sprintf(p, "k%zu = %zu\n", i, i);
    _cleanup_toml_ struct toml_value *many = parse_ok(doc);
    assert_int_equal(toml_table_count(many), keys);
    int64_t v;
    assert_true(toml_as_int(toml_table_get(many, "k123456"), &v));
    assert_int_equal(v, 123456);
    sprintf(p, "k77 = 1\n");
    _cleanup_free_ char *dup = parse_fail(doc, strlen(doc));
    assert_non_null(strstr(dup, "test.toml:200001:1: duplicate key k77"));
}

static const char containerd_config[] =
    "# containerd config, version 2\n"
    "version = 2\n"
    "root = \"/var/lib/containerd\"\n"
    "state = \"/run/containerd\"\n"
    "oom_score = -999\n"
    "imports = [\"/etc/containerd/conf.d/*.toml\"]\n"
    "disabled_plugins = [\"io.containerd.internal.v1.restart\"]\n"
    "required_plugins = []\n"
    "\n"
    "[grpc]\n"
    "  address = \"/run/containerd/containerd.sock\"\n"
    "  max_recv_message_size = 16777216\n"
    "  max_send_message_size = 16_777_216\n"
    "\n"
    "[debug]\n"
    "  level = \"info\"\n"
    "\n"
    "[plugins]\n"
    "  [plugins.\"io.containerd.gc.v1.scheduler\"]\n"
    "    pause_threshold = 0.02\n"
    "    deletion_threshold = 0\n"
    "    schedule_delay = \"0s\"\n"
    "  [plugins.\"io.containerd.grpc.v1.cri\"]\n"
    "    sandbox_image = \"registry.k8s.io/pause:3.9\"\n"
    "    max_container_log_line_size = 16384\n"
    "    enable_selinux = false\n"
    "    [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
    "      snapshotter = \"overlayfs\"\n"
    "      default_runtime_name = \"runc\"\n"
    "      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
    "        runtime_type = \"io.containerd.runc.v2\"\n"
    "        [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
    "          SystemdCgroup = true\n"
    "          BinaryName = '/usr/bin/runc'\n"
    "    [plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
    "      bin_dir = \"/opt/cni/bin\"\n"
    "      conf_dir = \"/etc/cni/net.d\"\n"
    "    [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\"]\n"
    "      endpoint = [\"https://mirror.example.com\", \"https://registry-1.docker.io\"]\n"
    "\n"
    "[proxy_plugins.stargz]\n"
    "  type = \"snapshot\"\n"
    "  address = \"/run/containerd-stargz-grpc/containerd-stargz-grpc.sock\"\n"
    "\n"
    "[timeouts]\n"
    "  \"io.containerd.timeout.shim.cleanup\" = \"5s\"\n"
    "  \"io.containerd.timeout.task.state\" = \"2s\"\n";

static void test_containerd_config(void **state)
{
    _cleanup_toml_ struct toml_value *root = parse_ok(containerd_config);
    int64_t i;
    bool b;
    double d;
    assert_true(toml_as_int(toml_table_get(root, "version"), &i));
    assert_int_equal(i, 2);
    assert_true(toml_as_int(toml_get_dotted(root, "grpc.max_send_message_size"), &i));
    assert_int_equal(i, 16777216);
    assert_true(toml_as_int(toml_table_get(root, "oom_score"), &i));
    assert_int_equal(i, -999);
    assert_int_equal(toml_array_count(toml_table_get(root, "required_plugins")), 0);
    const char *runc = "plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc";
    _cleanup_free_ char *options_key = xasprintf("%s.options", runc);
    struct toml_value *options = toml_get_dotted(root, options_key);
    assert_true(toml_as_bool(toml_table_get(options, "SystemdCgroup"), &b));
    assert_true(b);
    assert_string_equal(toml_as_string(toml_table_get(options, "BinaryName")), "/usr/bin/runc");
    assert_string_equal(
        toml_as_string(toml_get_path(root, "plugins", "io.containerd.grpc.v1.cri", "containerd",
                                     "runtimes", "runc", "runtime_type", NULL)),
        "io.containerd.runc.v2");
    assert_true(toml_as_float(
        toml_get_dotted(root, "plugins.'io.containerd.gc.v1.scheduler'.pause_threshold"), &d));
    assert_true(d == 0.02);
    assert_string_equal(
        toml_as_string(toml_get_path(root, "timeouts", "io.containerd.timeout.task.state", NULL)),
        "2s");
    struct toml_value *mirrors = toml_get_dotted(
        root, "plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"docker.io\".endpoint");
    assert_int_equal(toml_array_count(mirrors), 2);
    assert_int_equal(toml_table_origin(toml_get_dotted(root, "plugins")), TOML_TABLE_EXPLICIT);
    assert_int_equal(toml_table_origin(toml_get_dotted(root, "proxy_plugins")),
                     TOML_TABLE_IMPLICIT);

    _cleanup_free_ char *text = round_trip(root);
    assert_non_null(strstr(text, "\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes."
                                 "runc.options]\nSystemdCgroup = true\n"));
    assert_non_null(
        strstr(text, "\n[timeouts]\n\"io.containerd.timeout.shim.cleanup\" = \"5s\"\n"));

    /* A conf.d drop-in merged over it, as imports are. */
    _cleanup_toml_ struct toml_value *dropin =
        parse_ok("[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
                 "SystemdCgroup = false\n"
                 "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.crun]\n"
                 "runtime_type = \"io.containerd.runc.v2\"\n"
                 "[debug]\nlevel = \"debug\"\n");
    toml_merge(root, dropin);
    assert_true(toml_as_bool(toml_table_get(options, "SystemdCgroup"), &b));
    assert_false(b);
    assert_string_equal(toml_as_string(toml_table_get(options, "BinaryName")), "/usr/bin/runc");
    assert_string_equal(toml_as_string(toml_get_dotted(root, "debug.level")), "debug");
    _cleanup_free_ char *crun_key = xasprintf("%s", runc);
    memcpy(crun_key + strlen(crun_key) - 4, "crun", 4);
    assert_non_null(toml_get_dotted(root, crun_key));

    /* A migration-style edit: move a table to a new key, drop an old one. */
    struct toml_value *cri_plugins = toml_table_get(root, "plugins");
    struct toml_value *cri = toml_table_take(cri_plugins, "io.containerd.grpc.v1.cri");
    toml_table_set(cri_plugins, "io.containerd.cri.v1.runtime", cri);
    assert_true(toml_table_remove(root, "required_plugins"));
    _cleanup_free_ char *migrated = round_trip(root);
    assert_non_null(strstr(migrated, "[plugins.\"io.containerd.cri.v1.runtime\".cni]\n"));
    assert_null(strstr(migrated, "io.containerd.grpc.v1.cri"));
}

static void test_parse_file(void **state)
{
    char path[] = "/tmp/berth-toml-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "a = 1\nb = [\n", 12), 12);
    close(fd);
    struct toml_value *root = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(toml_parse_file(path, &root, &err), -1);
    _cleanup_free_ char *prefix = xasprintf("%s:2:5: unterminated array", path);
    if (strncmp(err->message, prefix, strlen(prefix)) != 0)
        fail_msg("message: %s", err->message);
    err_free(err);
    err = NULL;
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "a = 1\n", 6), 6);
    close(fd);
    assert_int_equal(toml_parse_file(path, &root, &err), 0);
    assert_int_equal(toml_table_count(root), 1);
    toml_free(root);
    unlink(path);
    assert_int_equal(toml_parse_file(path, &root, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    err_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_and_edit),     cmocka_unit_test(test_big_table_and_nul_keys),
        cmocka_unit_test(test_copy_equal_merge),   cmocka_unit_test(test_writer_format),
        cmocka_unit_test(test_writer_floats),      cmocka_unit_test(test_datetimes),
        cmocka_unit_test(test_semantics),          cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_limit_depth),        cmocka_unit_test(test_limit_size),
        cmocka_unit_test(test_limit_nodes),        cmocka_unit_test(test_containerd_config),
        cmocka_unit_test(test_parse_file),         cmocka_unit_test(test_toml_suite_valid),
        cmocka_unit_test(test_toml_suite_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
