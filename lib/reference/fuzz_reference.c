/* libFuzzer target: reference parsers never fault, and what parses prints back consistently. */
#include "lib/base/alloc.h"
#include "lib/base/gopath.h"
#include "lib/reference/reference.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what, const char *text)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz-reference: %s\n%s\n", what, text);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096 || memchr(data, '\0', size))
        return 0;
    _cleanup_free_ char *s = xstrndup((const char *)data, size);
    struct berth_error *err = NULL;

    struct reference r = {0};
    if (reference_parse(s, &r, &err) == 0) {
        _cleanup_free_ char *again = reference_string(&r);
        check(strcmp(again, s) == 0, "Parse(s).String() != s", s);
        reference_clear(&r);
    } else {
        check(err && err->kind == ERR_INVALID_ARGUMENT, "parse error without a kind", s);
        err_free(err);
        err = NULL;
    }

    if (reference_parse_normalized_named(s, &r, &err) == 0) {
        _cleanup_free_ char *full = reference_string(&r);
        check(strncmp(full, r.domain, strlen(r.domain)) == 0, "String() lost the domain", s);
        _cleanup_free_ char *familiar = reference_familiar_string(&r);
        /* The familiar form parses again, though not always to the same name: like Go,
         * "docker.io/a.b/c" familiarizes to "a.b/c", whose "a.b" reads as a domain. */
        struct reference back = {0};
        check(reference_parse_normalized_named(familiar, &back, NULL) == 0,
              "familiar form does not parse", familiar);
        reference_clear(&back);
        reference_clear(&r);
    } else {
        err_free(err);
        err = NULL;
    }

    struct reference_spec spec = {0};
    if (reference_spec_parse(s, &spec, &err) == 0) {
        _cleanup_free_ char *str = reference_spec_string(&spec);
        _cleanup_free_ char *host = reference_spec_hostname(&spec);
        _cleanup_free_ char *dgst = reference_spec_digest(&spec);
        check(*host != '\0', "spec without a host", s);
        reference_spec_clear(&spec);
    } else {
        err_free(err);
    }
    _cleanup_free_ char *clean = go_path_clean(s, size);
    _cleanup_free_ char *twice = go_path_clean(clean, strlen(clean));
    check(strcmp(clean, twice) == 0, "path.Clean is not idempotent", s);
    return 0;
}
