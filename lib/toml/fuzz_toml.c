/* libFuzzer target: any bytes must parse or fail cleanly; what parses must write and re-parse
 * equal. */
#include "lib/toml/toml.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what, const char *text)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz-toml: %s\n%s\n", what, text ? text : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct toml_value *root = NULL;
    struct berth_error *err = NULL;
    if (toml_parse((const char *)data, size, "fuzz", &root, &err) < 0) {
        check(err && err->kind == ERR_INVALID_ARGUMENT && strncmp(err->message, "fuzz:", 5) == 0,
              "parse failed without a positioned error", err ? err->message : NULL);
        err_free(err);
        return 0;
    }
    char *text = toml_write(root);
    check(text != NULL, "toml_write returned NULL for a parsed document", NULL);
    /* Escapes can make the output longer than the input limit; then it cannot be re-read. */
    size_t len = strlen(text);
    if (len <= TOML_MAX_INPUT_SIZE) {
        struct toml_value *again = NULL;
        if (toml_parse(text, len, "rewritten", &again, &err) < 0)
            check(false, err->message, text);
        check(toml_equal(root, again), "re-parsed document differs", text);
        toml_free(again);
    }
    struct toml_value *copy = toml_copy(root);
    check(toml_equal(root, copy), "copy differs", text);
    toml_free(copy);
    free(text);
    toml_free(root);
    return 0;
}
