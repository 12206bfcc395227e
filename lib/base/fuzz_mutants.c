/* Prefix and byte-substitution mutants for the fuzz drivers that run in the unit suite. */
#include "lib/base/fuzz_mutants.h"
#include "lib/base/alloc.h"

size_t fuzz_run_mutants(fuzz_target_fn target, const uint8_t *data, size_t size,
                        const uint8_t *replacements, size_t n_replacements)
{
    size_t runs = 0;
    _cleanup_free_ uint8_t *copy = xmemdup(data, size ? size : 1);
    for (size_t n = 0; n <= size; n++, runs++)
        target(data, n);
    for (size_t i = 0; i < size; i++) {
        uint8_t saved = copy[i];
        for (size_t r = 0; r < n_replacements; r++, runs++) {
            copy[i] = replacements[r];
            target(copy, size);
        }
        copy[i] = saved;
    }
    return runs;
}
