/* Unit tests for filter parsing and matching: containerd's filter_test.go cases, and more. */
#include "lib/base/alloc.h"
#include "lib/filters/filters.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

struct entry {
    const char *name;
    const char *other;
    const char *labels[8]; /* key, value, ..., NULL */
};

/* containerd's test corpus. */
static const struct entry corpus[] = {
    {"foo", NULL, {"foo", "true", NULL}},
    {"bar", NULL, {NULL}},
    {"foo", NULL, {"foo", "present", "more complex label", "present", NULL}},
    {"bar", NULL, {"bar", "true", NULL}},
    {"fooer", NULL, {"more complex label with \\ and \"", "present", NULL}},
    {"fooer", NULL, {"more complex label with \\ and \".post", "present", NULL}},
    {"baz", "too complex, yo", {NULL}},
    {"bazo", "abc", {NULL}},
    {"compound", NULL, {"foo", "omg_asdf.asdf-qwer", NULL}},
};

static bool string_field(const char *s, const char **ret_value)
{
    *ret_value = s ? s : "";
    return s && s[0];
}

static bool entry_field(void *object, const char *const *fieldpath, size_t n,
                        const char **ret_value)
{
    const struct entry *e = object;
    if (n == 0)
        return false;
    if (strcmp(fieldpath[0], "name") == 0)
        return string_field(e->name, ret_value);
    if (strcmp(fieldpath[0], "other") == 0)
        return string_field(e->other, ret_value);
    if (strcmp(fieldpath[0], "labels") == 0)
        return filters_label_pairs_field(e->labels, fieldpath + 1, n - 1, ret_value);
    return false;
}

#define ALL 0x1ff

struct filter_case {
    const char *name;
    const char *input;
    unsigned expected; /* bit i: corpus[i] matches */
    const char *error; /* containerd's parse error, before ": invalid argument" */
};

static const struct filter_case cases[] = {
    {"Empty", "", ALL},
    {"Present", "name", ALL},
    {"LabelPresent", "labels.foo", 1 << 0 | 1 << 2 | 1 << 8},
    {"NameAndLabelPresent", "labels.foo,name", 1 << 0 | 1 << 2 | 1 << 8},
    {"LabelValue", "labels.foo==true", 1 << 0},
    {"LabelValuePunctuated", "labels.foo==omg_asdf.asdf-qwer", 1 << 8},
    {"LabelValueNoAltQuoting", "labels.|foo|==omg_asdf.asdf-qwer", 0,
     "filters: parse error: [labels. >|||< foo|==omg_asdf.asdf-qwer]: invalid quote encountered"},
    {"Name", "name==bar", 1 << 1 | 1 << 3},
    {"NameNotEqual", "name!=bar", ALL & ~(1u << 1 | 1u << 3)},
    {"NameAndLabelPresent", "name==bar,labels.bar", 1 << 3},
    {"QuotedValue", "other==\"too complex, yo\"", 1 << 6},
    {"RegexpValue", "other~=[abc]+,name!=foo", 1 << 6 | 1 << 7},
    {"RegexpQuotedValue", "other~=/[abc]+/,name!=foo", 1 << 6 | 1 << 7},
    {"RegexpQuotedValue", "other~=/[abc]{1,2}/,name!=foo", 1 << 6 | 1 << 7},
    {"RegexpQuotedValueGarbage", "other~=/[abc]{0,1}\"\\//,name!=foo", 0},
    {"NameAndLabelValue", "name==bar,labels.bar==true", 1 << 3},
    {"NameAndLabelValueNoMatch", "name==bar,labels.bar==wrong", 0},
    {"LabelQuotedFieldPathPresent", "name==foo,labels.\"more complex label\"", 1 << 2},
    {"LabelQuotedFieldPathPresentWithQuoted",
     "labels.\"more complex label with \\\\ and \\\"\"==present", 1 << 4},
    {"LabelQuotedFieldPathPresentWithQuotedEmbed",
     "labels.\"more complex label with \\\\ and \\\"\".post==present", 1 << 5},
    {"LabelQuotedFieldPathPresentWithQuotedEmbedInvalid",
     "labels.?\"more complex label with \\\\ and \\\"\".post==present", 0,
     "filters: parse error: [labels. >|?|< \"more complex label with \\\\ and \\\"\".post==present]"
     ": expected field or quoted"},
    {"TrailingComma", "name==foo,", 0,
     "filters: parse error: [name==foo,]: expected field or quoted"},
    {"TrailingFieldSeparator", "labels.", 0,
     "filters: parse error: [labels.]: expected field or quoted"},
    {"MissingValue", "image~=,id?=?fbaq", 0,
     "filters: parse error: [image~= >|,|< id?=?fbaq]: expected value or quoted"},
    {"FieldQuotedLiteralNotTerminated", "labels.ns/key==value", 0,
     "filters: parse error: [labels.ns >|/|< key==value]: quoted literal not terminated"},
    {"ValueQuotedLiteralNotTerminated", "labels.key==/value", 0,
     "filters: parse error: [labels.key== >|/|< value]: quoted literal not terminated"},
    /* Berth's own cases, worked out from containerd's parser. */
    {"NotEqualMissingField", "other!=abc", ALL & ~(1u << 7)},
    {"NotEqualEmptyMatchesPresent", "other!=\"\"", 1 << 6 | 1 << 7},
    {"RegexpOnMissingField", "other~=^$", ALL & ~(1u << 6 | 1u << 7)},
    {"RegexpAnywhere", "name~=oo", 1 << 0 | 1 << 2 | 1 << 4 | 1 << 5},
    {"RegexpAnchored", "name~=^foo$", 1 << 0 | 1 << 2},
    {"RegexpPipeQuoted", "name~=|^ba[rz]$|", 1 << 1 | 1 << 3 | 1 << 6},
    {"RegexpDigitClass", "labels.foo~=\\w+_\\w+", 1 << 8},
    {"Spaces", "  name == bar", 1 << 1 | 1 << 3},
    {"UnsupportedOperator", "name=foo", 0,
     "filters: parse error: [name >|=|< foo]: unsupported operator \"=\""},
    {"LongOperator", "name===foo", 0,
     "filters: parse error: [name >|=|< ==foo]: unsupported operator \"===\""},
    {"ValueThenSpace", "name==foo bar", 0,
     "filters: parse error: [name==foo >| |< bar]: unexpected input:  "},
    {"QuotedThenSpace", "a==\"x y\" ,b", 0,
     "filters: parse error: [a==\"x y\" >| |< ,b]: unexpected input:  "},
    {"QuotedThenText", "name==\"foo\"bar", 0,
     "filters: parse error: [name==\"foo\" >|b|< ar]: unexpected input: b"},
    {"TrailingSpace", "name ", 0,
     "filters: parse error: [name ]: expected an operator (\"==\"|\"!=\"|\"~=\")"},
    {"NoValue", "name==", 0, "filters: parse error: [name==]: expected value or quoted"},
    {"SlashQuotedEqual", "name==/foo/", 0,
     "filters: parse error: [name== >|/|< foo/]: invalid quote encountered"},
    {"BadOctal", "\"a\\400\"==x", 0,
     "filters: parse error: [ >|\"|< a\\400\"==x]: unquoting failed: quote syntax error"},
    {"LeadingComma", ",name", 0, "filters: parse error: [ >|,|< name]: expected field or quoted"},
    {"UnterminatedField", "labels.\"foo", 0,
     "filters: parse error: [labels. >|\"|< foo]: quoted literal not terminated"},
    {"NonASCIIField", "牛", 0,
     "filters: parse error: [ >|\xe7|< \x89\x9b]: expected field or quoted"},
    {"InvalidUTF8", "a\xff", 0, "filters: parse error: [a >|\xff|< ]: rune error"},
    {"BadRegexp", "name~=[", 0,
     "filters: parse error: [name~= >|[|< ]: error parsing regexp: missing closing ]: \"[\""},
};

static void test_containerd_cases(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const struct filter_case *c = &cases[i];
        struct filter *f = NULL;
        struct berth_error *err = NULL;
        int r = filters_parse(c->input, &f, &err);
        if (c->error) {
            if (r == 0)
                fail_msg("%s: parsed, want an error", c->name);
            _cleanup_free_ char *want = xasprintf("%s: invalid argument", c->error);
            if (strcmp(err->message, want) != 0)
                fail_msg("%s:\n got  %s\n want %s", c->name, err->message, want);
            assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
            err_free(err);
            continue;
        }
        if (r != 0)
            fail_msg("%s: %s", c->name, err->message);
        unsigned got = 0;
        for (size_t k = 0; k < ARRAY_SIZE(corpus); k++)
            if (filters_match(f, entry_field, (void *)&corpus[k]))
                got |= 1u << k;
        if (got != c->expected)
            fail_msg("%s (%s): matched %#x, want %#x", c->name, c->input, got, c->expected);
        filters_free(f);
    }
}

static void test_parse_tree(void **state)
{
    _cleanup_filter_ struct filter *f = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(filters_parse("labels.\"a.b/c\"==x,name,id!=\"q\\tr\",n~=|a|b|", &f, &err),
                     -1);
    assert_non_null(strstr(err->message, "unexpected input: b"));
    err_free(err);
    err = NULL;

    assert_int_equal(filters_parse("labels.\"a.b/c\"==x,name,id!=\"q\\tr\",n~=|a\\|b|", &f, &err),
                     0);
    assert_int_equal(f->len, 1);
    const struct filter_conjunction *c = &f->any[0];
    assert_int_equal(c->len, 4);
    assert_int_equal(c->selectors[0].fieldpath_len, 2);
    assert_string_equal(c->selectors[0].fieldpath[0], "labels");
    assert_string_equal(c->selectors[0].fieldpath[1], "a.b/c");
    assert_int_equal(c->selectors[0].op, FILTER_OP_EQUAL);
    assert_string_equal(c->selectors[0].value, "x");
    assert_int_equal(c->selectors[1].op, FILTER_OP_PRESENT);
    assert_null(c->selectors[1].value);
    assert_int_equal(c->selectors[2].op, FILTER_OP_NOT_EQUAL);
    assert_string_equal(c->selectors[2].value, "q\tr");
    assert_int_equal(c->selectors[3].op, FILTER_OP_MATCHES);
    assert_string_equal(c->selectors[3].value, "a|b");
    assert_non_null(c->selectors[3].regex);
    assert_null(c->selectors[0].regex);
    assert_string_equal(filters_operator_string(FILTER_OP_PRESENT), "?");
    assert_string_equal(filters_operator_string(FILTER_OP_MATCHES), "~=");
    assert_string_equal(filters_operator_string((enum filter_operator)10), "unknown");
}

static void test_nul_bytes(void **state)
{
    struct filter *f = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(filters_parse_len("a\0b", 3, &f, &err), -1);
    assert_string_equal(err->message,
                        "filters: parse error: [a >|\\x00|< b]: unexpected null: invalid argument");
    err_free(err);
    err = NULL;

    /* A quoted NUL is legal: such a fieldpath names nothing, such a value equals nothing. */
    const struct entry e = {"x", NULL, {"a", "", NULL}};
    assert_int_equal(filters_parse("labels.\"a\\x00b\"", &f, &err), 0);
    assert_true(f->any[0].selectors[0].fieldpath_has_nul);
    assert_false(filters_match(f, entry_field, (void *)&e));
    f = filters_free(f);
    assert_int_equal(filters_parse("labels.\"a\\x00\"!=x", &f, &err), 0);
    assert_true(filters_match(f, entry_field, (void *)&e));
    f = filters_free(f);
    assert_int_equal(filters_parse("name==\"x\\x00\"", &f, &err), 0);
    assert_int_equal(f->any[0].selectors[0].value_len, 2);
    assert_false(filters_match(f, entry_field, (void *)&e));
    f = filters_free(f);
    /* A label present with an empty value is present and equals "". */
    assert_int_equal(filters_parse("labels.a,labels.a==\"\"", &f, &err), 0);
    assert_true(filters_match(f, entry_field, (void *)&e));
    filters_free(f);
}

static void test_parse_any(void **state)
{
    struct filter *f = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(filters_parse_any(NULL, 0, &f, &err), 0);
    assert_true(filters_is_always(f));
    assert_true(filters_match(f, entry_field, (void *)&corpus[0]));
    f = filters_free(f);

    const char *either[] = {"name==foo,labels.foo==true", "name==bazo"};
    assert_int_equal(filters_parse_any(either, 2, &f, &err), 0);
    assert_false(filters_is_always(f));
    unsigned got = 0;
    for (size_t k = 0; k < ARRAY_SIZE(corpus); k++)
        if (filters_match(f, entry_field, (void *)&corpus[k]))
            got |= 1u << k;
    assert_int_equal(got, 1 << 0 | 1 << 7);
    f = filters_free(f);

    const char *with_empty[] = {"name==nothing", ""};
    assert_int_equal(filters_parse_any(with_empty, 2, &f, &err), 0);
    assert_true(filters_is_always(f));
    assert_true(filters_match(f, entry_field, (void *)&corpus[1]));
    f = filters_free(f);

    const char *bad[] = {"name==foo", "name=="};
    assert_int_equal(filters_parse_any(bad, 2, &f, &err), -1);
    assert_null(f);
    assert_string_equal(
        err->message, "filters: parse error: [name==]: expected value or quoted: invalid argument");
    err_free(err);
}

static void expect_limit(int r, struct berth_error **errp, const char *fragment)
{
    struct berth_error *err = *errp;
    *errp = NULL;
    assert_int_equal(r, -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    if (!strstr(err->message, fragment))
        fail_msg("%s lacks %s", err->message, fragment);
    err_free(err);
}

static void test_limits(void **state)
{
    struct filter *f = NULL;
    struct berth_error *err = NULL;
    _cleanup_free_ char *s = xmalloc(FILTERS_MAX_LENGTH + 2);
    memset(s, 'a', FILTERS_MAX_LENGTH + 1);
    s[FILTERS_MAX_LENGTH + 1] = '\0';
    expect_limit(filters_parse(s, &f, &err), &err, "longer than the limit");
    s[FILTERS_MAX_LENGTH] = '\0';
    assert_int_equal(filters_parse(s, &f, &err), 0);
    f = filters_free(f);

    /* 257 selectors "a,a,...". */
    size_t n = 0;
    for (int i = 0; i <= FILTERS_MAX_SELECTORS; i++)
        n += (size_t)sprintf(s + n, i ? ",a" : "a");
    expect_limit(filters_parse(s, &f, &err), &err, "more than 256 selectors");
    s[n - 2] = '\0';
    assert_int_equal(filters_parse(s, &f, &err), 0);
    assert_int_equal(f->any[0].len, FILTERS_MAX_SELECTORS);
    f = filters_free(f);

    n = 0;
    for (int i = 0; i <= FILTERS_MAX_FIELDPATH; i++)
        n += (size_t)sprintf(s + n, i ? ".a" : "a");
    expect_limit(filters_parse(s, &f, &err), &err, "fieldpath has more than 32 parts");

    const char **many = xcalloc(FILTERS_MAX_ANY + 1, sizeof(*many));
    for (size_t i = 0; i <= FILTERS_MAX_ANY; i++)
        many[i] = "name";
    expect_limit(filters_parse_any(many, FILTERS_MAX_ANY + 1, &f, &err), &err,
                 "more than the limit");
    assert_int_equal(filters_parse_any(many, FILTERS_MAX_ANY, &f, &err), 0);
    filters_free(f);
    free(many);
}

static void test_label_helpers(void **state)
{
    const char *path_ab[] = {"a", "b"};
    const char *path_dotted[] = {"a.b"};
    const char *path_a[] = {"a"};
    assert_true(filters_fieldpath_equals("a.b", path_ab, 2));
    assert_true(filters_fieldpath_equals("a.b", path_dotted, 1));
    assert_false(filters_fieldpath_equals("a.b", path_a, 1));
    assert_false(filters_fieldpath_equals("a", path_ab, 2));
    assert_false(filters_fieldpath_equals("a.bc", path_ab, 2));
    assert_false(filters_fieldpath_equals("a/b", path_ab, 2));
    assert_true(filters_fieldpath_equals("", NULL, 0));

    const char *keys[] = {"containerd.io/gc.root", "x"};
    const char *values[] = {"2024", ""};
    const char *gc[] = {"containerd.io/gc", "root"};
    const char *value = NULL;
    assert_true(filters_labels_field(keys, values, 2, gc, 2, &value));
    assert_string_equal(value, "2024");
    assert_true(filters_labels_field(keys, values, 2, path_dotted + 0, 0, &value) == false);
    assert_false(filters_labels_field(keys, values, 0, gc, 2, &value));

    /* Through the parser: dots in a quoted part and between parts both join with '.'. */
    _cleanup_filter_ struct filter *f = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(filters_parse("labels.\"containerd.io/gc\".root==2024", &f, &err), 0);
    const struct entry e = {"x", NULL, {"containerd.io/gc.root", "2024", NULL}};
    assert_true(filters_match(f, entry_field, (void *)&e));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_containerd_cases), cmocka_unit_test(test_parse_tree),
        cmocka_unit_test(test_nul_bytes),        cmocka_unit_test(test_parse_any),
        cmocka_unit_test(test_limits),           cmocka_unit_test(test_label_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
