/* The event payload types containerd publishes, by type URL, and their filterable fields. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

/* The message type of an event's Any (typeurl resolves the name after the last '/'), or NULL. */
const ProtobufCMessageDescriptor *event_type(const char *type_url);

/*
 * `event.<field>` for filters, as containerd's generated Field methods answer: string fields
 * (present when not empty), map<string,string> fields by key (the rest of the path joined with
 * '.'), nested messages recursively; other kinds are not filterable. *ret_value is malloc'd.
 */
bool event_field(const char *type_url, const uint8_t *value, size_t len,
                 const char *const *fieldpath, size_t n, char **ret_value);
