/* toml-test conformance (TOML 1.0 cases): valid cases against their JSON, invalid ones rejected. */
#include "lib/base/alloc.h"
#include "lib/toml/toml.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

void test_toml_suite_valid(void **state);
void test_toml_suite_invalid(void **state);

/* A tiny JSON reader for toml-test's expectations, building the TOML tree they describe. */

struct json {
    const char *p, *end;
};

static void json_ws(struct json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool json_eat(struct json *j, char c)
{
    json_ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return true;
    }
    return false;
}

static int json_hex4(struct json *j, uint32_t *ret)
{
    if (j->end - j->p < 4)
        return -1;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *j->p++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *ret = v;
    return 0;
}

static void add_utf8(char **out, size_t *len, size_t *cap, uint32_t c)
{
    char buf[4];
    size_t n;
    if (c < 0x80) {
        buf[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        buf[0] = (char)(0xc0 | (c >> 6));
        buf[1] = (char)(0x80 | (c & 0x3f));
        n = 2;
    } else if (c < 0x10000) {
        buf[0] = (char)(0xe0 | (c >> 12));
        buf[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        buf[2] = (char)(0x80 | (c & 0x3f));
        n = 3;
    } else {
        buf[0] = (char)(0xf0 | (c >> 18));
        buf[1] = (char)(0x80 | ((c >> 12) & 0x3f));
        buf[2] = (char)(0x80 | ((c >> 6) & 0x3f));
        buf[3] = (char)(0x80 | (c & 0x3f));
        n = 4;
    }
    *out = xreallocarray_grow(*out, cap, *len + n + 1, 1);
    memcpy(*out + *len, buf, n);
    *len += n;
}

/* A JSON string (at its opening quote) → malloc'd bytes and length. */
static char *json_string(struct json *j, size_t *ret_len)
{
    if (!json_eat(j, '"'))
        return NULL;
    char *out = NULL;
    size_t len = 0, cap = 0;
    out = xreallocarray_grow(out, &cap, 1, 1);
    while (j->p < j->end && *j->p != '"') {
        uint32_t c = (unsigned char)*j->p++;
        if (c == '\\') {
            if (j->p >= j->end)
                goto fail;
            char e = *j->p++;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                c = (unsigned char)e;
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            case 'u':
                if (json_hex4(j, &c) < 0)
                    goto fail;
                if (c >= 0xd800 && c <= 0xdbff) {
                    uint32_t low;
                    if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u')
                        goto fail;
                    j->p += 2;
                    if (json_hex4(j, &low) < 0 || low < 0xdc00 || low > 0xdfff)
                        goto fail;
                    c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
                }
                add_utf8(&out, &len, &cap, c);
                continue;
            default:
                goto fail;
            }
        }
        out = xreallocarray_grow(out, &cap, len + 2, 1);
        out[len++] = (char)c;
    }
    if (j->p >= j->end)
        goto fail;
    j->p++;
    out[len] = '\0';
    *ret_len = len;
    return out;
fail:
    free(out);
    return NULL;
}

/* A toml-test leaf {"type": ..., "value": ...} as a TOML value. */
static struct toml_value *json_leaf(const char *type, const char *value, size_t value_len)
{
    if (strcmp(type, "string") == 0)
        return toml_string_newn(value, value_len);
    if (strcmp(type, "integer") == 0) {
        char *end;
        errno = 0;
        long long i = strtoll(value, &end, 10);
        return errno || *end || end == value ? NULL : toml_int_new(i);
    }
    if (strcmp(type, "float") == 0) {
        const char *v = value + (value[0] == '+' || value[0] == '-');
        if (strcmp(v, "nan") == 0)
            return toml_float_new(NAN);
        if (strcmp(v, "inf") == 0)
            return toml_float_new(value[0] == '-' ? -INFINITY : INFINITY);
        char *end;
        double d = strtod(value, &end);
        return *end || end == value ? NULL : toml_float_new(d);
    }
    if (strcmp(type, "bool") == 0) {
        if (strcmp(value, "true") && strcmp(value, "false"))
            return NULL;
        return toml_bool_new(strcmp(value, "true") == 0);
    }
    static const struct {
        const char *name;
        enum toml_kind kind;
    } datetimes[] = {
        {"datetime", TOML_OFFSET_DATETIME},
        {"datetime-local", TOML_LOCAL_DATETIME},
        {"date-local", TOML_LOCAL_DATE},
        {"time-local", TOML_LOCAL_TIME},
    };
    for (size_t i = 0; i < ARRAY_SIZE(datetimes); i++) {
        if (strcmp(type, datetimes[i].name) != 0)
            continue;
        struct toml_datetime dt;
        enum toml_kind kind;
        if (toml_datetime_parse(value, strlen(value), &dt, &kind) < 0 || kind != datetimes[i].kind)
            return NULL;
        return toml_datetime_new(kind, &dt);
    }
    return NULL;
}

/* Any JSON value; *ret_raw_string tells a JSON string from a converted leaf. */
static struct toml_value *json_value(struct json *j, bool *ret_raw_string)
{
    *ret_raw_string = false;
    json_ws(j);
    if (j->p >= j->end)
        return NULL;
    if (*j->p == '"') {
        size_t len;
        _cleanup_free_ char *s = json_string(j, &len);
        if (!s)
            return NULL;
        *ret_raw_string = true;
        return toml_string_newn(s, len);
    }
    if (json_eat(j, '[')) {
        _cleanup_toml_ struct toml_value *array = toml_array_new();
        if (json_eat(j, ']'))
            return steal_ptr(array);
        do {
            bool raw;
            struct toml_value *item = json_value(j, &raw);
            if (!item || raw)
                return toml_free(item);
            toml_array_append(array, item);
        } while (json_eat(j, ','));
        return json_eat(j, ']') ? steal_ptr(array) : NULL;
    }
    if (!json_eat(j, '{'))
        return NULL;
    _cleanup_toml_ struct toml_value *table = toml_table_new();
    size_t raw_strings = 0;
    if (!json_eat(j, '}')) {
        do {
            json_ws(j);
            size_t key_len;
            _cleanup_free_ char *key = json_string(j, &key_len);
            bool raw;
            if (!key || !json_eat(j, ':'))
                return NULL;
            struct toml_value *value = json_value(j, &raw);
            if (!value || toml_table_getn(table, key, key_len))
                return toml_free(value);
            raw_strings += raw;
            toml_table_setn(table, key, key_len, value);
        } while (json_eat(j, ','));
        if (!json_eat(j, '}'))
            return NULL;
    }
    const char *type = toml_as_string(toml_table_get(table, "type"));
    const struct toml_value *value = toml_table_get(table, "value");
    if (toml_table_count(table) == 2 && raw_strings == 2 && type && toml_as_string(value))
        return json_leaf(type, toml_as_string(value), toml_string_length(value));
    return raw_strings ? NULL : steal_ptr(table);
}

/* Files and the suite's list. */

static char *read_file(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        data = xreallocarray_grow(data, &cap, len + 4096 + 1, 1);
        size_t n = fread(data + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    data[len] = '\0';
    *ret_len = len;
    return data;
}

static char *suite_dir(void)
{
    const char *testdata = getenv("BERTH_TESTDATA");
    char *dir = xasprintf("%s/toml-test/tests", testdata ? testdata : "../shared/testdata");
    _cleanup_free_ char *list = xasprintf("%s/files-toml-1.0.0", dir);
    struct stat st;
    if (stat(list, &st) == 0)
        return dir;
    print_message("SKIPPED: toml-test suite not found at %s (BERTH_TESTDATA=%s); the "
                  "conformance test needs ../shared/testdata/toml-test beside the project\n",
                  dir, testdata ? testdata : "unset");
    free(dir);
    return NULL;
}

/* Calls fn for each case of the TOML 1.0 list under prefix ("valid/" or "invalid/"). */
static void for_each_case(const char *dir, const char *prefix,
                          bool (*fn)(const char *dir, const char *name), size_t *ret_passed,
                          size_t *ret_total)
{
    _cleanup_free_ char *list_path = xasprintf("%s/files-toml-1.0.0", dir);
    size_t len;
    _cleanup_free_ char *list = read_file(list_path, &len);
    assert_non_null(list);
    size_t passed = 0, total = 0;
    for (char *save = NULL, *line = strtok_r(list, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(line);
        if (strncmp(line, prefix, strlen(prefix)) != 0 || n < 5 ||
            strcmp(line + n - 5, ".toml") != 0)
            continue;
        total++;
        if (fn(dir, line))
            passed++;
    }
    *ret_passed = passed;
    *ret_total = total;
}

static bool check_valid(const char *dir, const char *name)
{
    _cleanup_free_ char *toml_path = xasprintf("%s/%s", dir, name);
    _cleanup_free_ char *json_path = xasprintf("%.*s.json", (int)strlen(toml_path) - 5, toml_path);
    size_t toml_len, json_len;
    _cleanup_free_ char *toml_text = read_file(toml_path, &toml_len);
    _cleanup_free_ char *json_text = read_file(json_path, &json_len);
    if (!toml_text || !json_text) {
        print_message("FAIL %s: cannot read the case\n", name);
        return false;
    }
    struct json j = {json_text, json_text + json_len};
    bool raw;
    _cleanup_toml_ struct toml_value *expected = json_value(&j, &raw);
    if (!expected || toml_kind(expected) != TOML_TABLE) {
        print_message("FAIL %s: cannot read the expected JSON\n", name);
        return false;
    }
    _cleanup_toml_ struct toml_value *root = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    if (toml_parse(toml_text, toml_len, name, &root, &err) < 0) {
        print_message("FAIL %s: %s\n", name, err->message);
        return false;
    }
    if (!toml_equal(root, expected)) {
        _cleanup_free_ char *got = toml_write(root), *want = toml_write(expected);
        print_message("FAIL %s: parsed value differs\n--- got\n%s--- expected\n%s", name, got,
                      want);
        return false;
    }
    /* Round trip: write, re-parse, compare. */
    _cleanup_free_ char *written = toml_write(root);
    _cleanup_toml_ struct toml_value *again = NULL;
    if (toml_parse(written, strlen(written), "written", &again, &err) < 0) {
        print_message("FAIL %s: written document does not parse: %s\n%s", name, err->message,
                      written);
        return false;
    }
    if (!toml_equal(root, again)) {
        print_message("FAIL %s: written document reads back differently\n%s", name, written);
        return false;
    }
    return true;
}

/* "name:LINE:COL: " at the start of the message, with positive numbers. */
static bool has_position(const char *message, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(message, name, n) != 0 || message[n] != ':')
        return false;
    const char *p = message + n + 1;
    for (int field = 0; field < 2; field++) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || *end != ':')
            return false;
        p = end + 1;
    }
    return true;
}

static bool check_invalid(const char *dir, const char *name)
{
    _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
    size_t len;
    _cleanup_free_ char *text = read_file(path, &len);
    if (!text) {
        print_message("FAIL %s: cannot read the case\n", name);
        return false;
    }
    _cleanup_toml_ struct toml_value *root = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    if (toml_parse(text, len, name, &root, &err) == 0) {
        _cleanup_free_ char *got = toml_write(root);
        print_message("FAIL %s: accepted, read as\n%s", name, got);
        return false;
    }
    if (err->kind != ERR_INVALID_ARGUMENT || !has_position(err->message, name)) {
        print_message("FAIL %s: error lacks file:line:col: %s\n", name, err->message);
        return false;
    }
    if (getenv("TOML_TEST_VERBOSE"))
        print_message("ok %s: %s\n", name, err->message);
    return true;
}

void test_toml_suite_valid(void **state)
{
    _cleanup_free_ char *dir = suite_dir();
    if (!dir)
        skip();
    size_t passed, total;
    for_each_case(dir, "valid/", check_valid, &passed, &total);
    print_message("toml-test 1.0.0 valid cases: %zu/%zu pass (parse, compare with JSON, "
                  "write and re-parse)\n",
                  passed, total);
    assert_true(total > 0);
    assert_int_equal(passed, total);
}

void test_toml_suite_invalid(void **state)
{
    _cleanup_free_ char *dir = suite_dir();
    if (!dir)
        skip();
    size_t passed, total;
    for_each_case(dir, "invalid/", check_invalid, &passed, &total);
    print_message("toml-test 1.0.0 invalid cases: %zu/%zu rejected with file:line:col\n", passed,
                  total);
    assert_true(total > 0);
    assert_int_equal(passed, total);
}
