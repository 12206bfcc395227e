/* Runs the fuzz target over built-in seeds (containerd's test inputs and regexps) and mutants. */
#include "lib/base/alloc.h"
#include "lib/base/fuzz_mutants.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const seeds[] = {
    "name==foo,labels.bar",
    "labels.\"more complex label with \\\\ and \\\"\".post==present",
    "other~=/[abc]{0,1}\"\\//,name!=foo",
    "name~=|牛|,labels.moo=true",
    "labels.\"\\xaz\"",
    "input~=/foo\\/bar/,id!=ff",
    "image~=,id?=?fbaq",
    "topic~=\"/containers/*\",event.id==\"qwer\"",
    "name~=(?i)^[a-z]+\\d{2,3}(x|y)*?$",
    "n~=\\Qa.b\\E[[:alpha:][:^digit:]\\w-]\\x{263a}\\12",
    "a~=((a{10}){10}){10}",
    "a ==  \"x\\u00e9\\U0001F42E\\101\" , b",
};

/* Every prefix, and each byte replaced by characters the grammar cares about. */
static size_t run_mutants(const uint8_t *data, size_t size)
{
    static const uint8_t replacements[] = {'"', '/', '|', '\\', ',',  '.',  '=',  '!',  '~',
                                           ' ', '[', ']', '(',  ')',  '{',  '}',  '*',  '?',
                                           '^', '$', 'x', '0',  '\0', '\n', 0x7f, 0xc3, 0xff};
    return fuzz_run_mutants(LLVMFuzzerTestOneInput, data, size, replacements, sizeof(replacements));
}

int main(void)
{
    size_t runs = 0;
    for (size_t i = 0; i < ARRAY_SIZE(seeds); i++)
        runs += run_mutants((const uint8_t *)seeds[i], strlen(seeds[i]));
    printf("fuzz-filters: %zu runs over %zu seeds\n", runs, ARRAY_SIZE(seeds));
    return 0;
}
