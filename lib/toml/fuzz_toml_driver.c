/* Runs the fuzz target over files or directories (the toml-test corpus by default), with mutants.
 */
#include "lib/base/alloc.h"
#include "lib/base/fuzz_mutants.h"

#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Mutants are made of files up to this size: every prefix and some byte substitutions. */
#define MUTATE_MAX 4096

static size_t files, runs;

static void run_mutants(const uint8_t *data, size_t size)
{
    static const uint8_t replacements[] = {'"',  '\'', '[',  ']', '{', '}', '.',  '=',  ',',  '#',
                                           '\n', '\r', '\\', ' ', '0', 'e', '\0', 0x7f, 0xc3, 0xff};
    runs +=
        fuzz_run_mutants(LLVMFuzzerTestOneInput, data, size, replacements, sizeof(replacements));
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    if (type != FTW_F)
        return 0;
    size_t len = strlen(path);
    if (len < 5 || strcmp(path + len - 5, ".toml") != 0)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz-toml-corpus: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    _cleanup_free_ uint8_t *data = xmalloc((size_t)st->st_size + 1);
    size_t size = fread(data, 1, (size_t)st->st_size, f);
    fclose(f);
    files++;
    runs++;
    LLVMFuzzerTestOneInput(data, size);
    if (size <= MUTATE_MAX)
        run_mutants(data, size);
    return 0;
}

static int walk(const char *root)
{
    if (nftw(root, visit, 16, FTW_PHYS) != 0) {
        fprintf(stderr, "fuzz-toml-corpus: cannot walk %s\n", root);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            if (walk(argv[i]) < 0)
                return 1;
    } else {
        const char *testdata = getenv("BERTH_TESTDATA");
        _cleanup_free_ char *corpus =
            xasprintf("%s/toml-test/tests", testdata ? testdata : "../shared/testdata");
        struct stat st;
        if (stat(corpus, &st) < 0) {
            printf("SKIP: toml-test corpus not found at %s (set BERTH_TESTDATA)\n", corpus);
            return 77; /* meson's "skipped" */
        }
        if (walk(corpus) < 0)
            return 1;
    }
    printf("fuzz-toml-corpus: %zu files, %zu inputs, no failures\n", files, runs);
    return 0;
}
