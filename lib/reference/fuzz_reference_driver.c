/* Runs the reference fuzz target over built-in seeds and their mutants. */
#include "lib/base/alloc.h"
#include "lib/base/fuzz_mutants.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const seeds[] = {
    "busybox",
    "docker.io/library/busybox:latest",
    "localhost:5000/a/b-c__d.e:v1.0@sha256:"
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "[2001:db8::1]:5000/repo:tag",
    "index.docker.io/foo/bar",
    "Foo.com/bar@sha512:0123",
    "docker.io/library/redis:foo@sha256:abcdef?fooo=asdf#frag",
    "user@host:1/x%2fy",
    "../a/./b//c/..",
};

static size_t run_mutants(const uint8_t *data, size_t size)
{
    static const uint8_t replacements[] = {'/', ':', '@', '.', '_', '-',  'A',  '[',
                                           ']', '%', '?', '#', ' ', 0xc3, 0xff, '\t'};
    return fuzz_run_mutants(LLVMFuzzerTestOneInput, data, size, replacements, sizeof(replacements));
}

int main(void)
{
    size_t runs = 0;
    for (size_t i = 0; i < ARRAY_SIZE(seeds); i++)
        runs += run_mutants((const uint8_t *)seeds[i], strlen(seeds[i]));
    printf("fuzz-reference: %zu runs over %zu seeds\n", runs, ARRAY_SIZE(seeds));
    return 0;
}
