/* libFuzzer target: any bytes must import cleanly or fail with an error, never storing an image
 * on failure and never leaving a blob write open. */
#include "core/archive/test_sink.h"
#include "lib/base/alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz-archive: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct import_reference ref = {"import", true, true, true, false};
    const struct import_options options[] = {
        {.naming = IMPORT_NAMING_TRANSFER, .references = &ref, .n_references = 1},
        {.naming = IMPORT_NAMING_CLIENT,
         .references = &ref,
         .n_references = 1,
         .all_platforms = true},
    };
    for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
        struct mem_store *s = mem_store_new();
        struct import_result res = {0};
        struct berth_error *err = NULL;
        int r = test_import_bytes(data, size, &options[i], s, &res, &err);
        check(s->open_writers == 0, "a blob write left open");
        if (r < 0) {
            check(err && err->message && *err->message, "failure without an error");
            check(s->image_store_calls == 0, "image stored by a failed import");
            err_free(err);
        } else {
            check(err == NULL, "success with an error");
            check((size_t)s->image_store_calls == res.n_images, "images not all stored");
            import_result_clear(&res);
        }
        mem_store_free(s);
    }
    return 0;
}
