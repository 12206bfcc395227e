/* Runs the apply fuzz target over built-in seed layers (tar, gzip, zstd) and their mutants. */
#include "core/diff/test_layers.h"

#include "lib/base/alloc.h"
#include "lib/base/fuzz_mutants.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* With an argument, only that seed (meson runs one test per seed, each with its own limit). */
int main(int argc, char **argv)
{
    static const struct test_entry seeds[][6] = {
        {{.name = "d/", .type = S_IFDIR}, {.name = "d/f", .data = "x"}, {0}},
        {{.name = "s", .type = S_IFLNK, .symlink = "../.."},
         {.name = "s/f", .data = "y"},
         {.name = "h", .hardlink = "s/f"},
         {0}},
        {{.name = "a/.wh.b"}, {.name = "a/.wh..wh..opq"}, {.name = "c", .type = S_IFIFO}, {0}},
    };
    static const uint8_t replacements[] = {'\0', '/', '.', '0', '7', 'x', 'L', 0xff};
    size_t runs = 0;
    size_t first = 0, last = ARRAY_SIZE(seeds);
    if (argc > 1) {
        first = strtoul(argv[1], NULL, 10);
        if (first >= last) {
            fprintf(stderr, "fuzz-apply-corpus: no seed %s\n", argv[1]);
            return 2;
        }
        last = first + 1;
    }
    for (size_t i = first; i < last; i++) {
        struct test_buf tar = {0}, gz = {0}, zs = {0};
        test_tar_build(seeds[i], &tar);
        test_gzip(tar.data, tar.len, &gz);
        test_zstd(tar.data, tar.len, &zs);
        /* headers carry the interesting fields: substitute there, and cut anywhere */
        size_t head = tar.len < 1536 ? tar.len : 1536;
        runs += fuzz_run_mutants(LLVMFuzzerTestOneInput, tar.data, head, replacements,
                                 sizeof(replacements));
        runs += fuzz_run_mutants(LLVMFuzzerTestOneInput, gz.data, gz.len, replacements, 2);
        runs += fuzz_run_mutants(LLVMFuzzerTestOneInput, zs.data, zs.len, replacements, 2);
        free(tar.data);
        free(gz.data);
        free(zs.data);
    }
    printf("fuzz-apply-corpus: %zu inputs, no failures\n", runs);
    return 0;
}
