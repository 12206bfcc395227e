/* libFuzzer target: any bytes must parse or fail with a positioned InvalidArgument; what parses
 * must match an object without faults. */
#include "lib/filters/filters-internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what, const char *text)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz-filters: %s\n%s\n", what, text ? text : "");
    abort();
}

/* An object with a few fields and labels, whatever the fieldpath asks for. */
static bool fuzz_field(void *object, const char *const *fieldpath, size_t n, const char **ret_value)
{
    static const char *const labels[] = {"a", "1", "b.c", "", "牛", "x y", NULL};
    if (n == 0)
        return false;
    if (strcmp(fieldpath[0], "name") == 0) {
        *ret_value = "foo.bar-baz";
        return true;
    }
    if (strcmp(fieldpath[0], "labels") == 0)
        return filters_label_pairs_field(labels, fieldpath + 1, n - 1, ret_value);
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct filter *f = NULL;
    struct berth_error *err = NULL;
    if (filters_parse_len((const char *)data, size, &f, &err) < 0) {
        check(err && err->kind == ERR_INVALID_ARGUMENT &&
                  strncmp(err->message, "filters: ", 9) == 0,
              "parse failed without a filters error", err ? err->message : NULL);
        err_free(err);
    } else {
        check(f && f->len == 1, "parse gave no conjunction", NULL);
        filters_match(f, fuzz_field, NULL);
        filters_free(f);
    }

    /* The regexp translation on its own, for patterns the scanner would never hand it. */
    char *posix = NULL, *reason = NULL;
    int cflags;
    if (filter_regex_translate((const char *)data, size, &posix, &cflags, NULL, &reason) == 0) {
        regex_t *re = NULL;
        char *why = NULL;
        if (filter_regex_compile((const char *)data, size, &re, NULL, &why) == 0) {
            filter_regex_match(re, "foo.bar-baz 牛\n");
            filter_regex_free(re);
        }
        free(why);
    }
    free(posix);
    free(reason);

    size_t len;
    free(filter_unquote((const char *)data, size, &len));
    return 0;
}
