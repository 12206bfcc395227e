/* Shared by the fuzz targets' corpus drivers: run a target over every prefix and byte swap. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef int (*fuzz_target_fn)(const uint8_t *data, size_t size);

/*
 * Runs target on every prefix of data (lengths 0..size) and on data with each byte replaced by
 * each of `replacements` in turn. Returns the number of runs.
 */
size_t fuzz_run_mutants(fuzz_target_fn target, const uint8_t *data, size_t size,
                        const uint8_t *replacements, size_t n_replacements);
