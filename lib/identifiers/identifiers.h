/* containerd's identifier rules for namespaces, container, task and lease ids and topic parts. */
#pragma once

#include "lib/base/errors.h"

#include <stdbool.h>
#include <stddef.h>

/* The longest identifier containerd accepts, in bytes. */
#define IDENTIFIER_MAX_LENGTH 76
/* The rule as containerd states it in its error messages. */
#define IDENTIFIER_PATTERN "^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$"

/*
 * Returns 0 when s is a valid identifier, else -1 with an ERR_INVALID_ARGUMENT error worded as
 * containerd's (`identifier "a..b" must match ^...$: invalid argument`). NULL reads as empty.
 */
int identifier_validate(const char *s, struct berth_error **err);
/* The same test without an error object. */
bool identifier_is_valid(const char *s);
