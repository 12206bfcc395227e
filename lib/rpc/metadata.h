/* RPC metadata: an ordered multimap of lower-case keys to string values. */
#pragma once

#include <stddef.h>

struct rpc_metadata_entry {
    char *key;
    char *value;
};

struct rpc_metadata {
    struct rpc_metadata_entry *entries;
    size_t count, capacity;
};

/* Adds a pair; the key is stored lower-cased as gRPC and ttrpc both require. */
void rpc_metadata_add(struct rpc_metadata *md, const char *key, const char *value);
/* The first value for key (containerd reads the first), or NULL. */
const char *rpc_metadata_get(const struct rpc_metadata *md, const char *key);
void rpc_metadata_copy(struct rpc_metadata *dst, const struct rpc_metadata *src);
void rpc_metadata_clear(struct rpc_metadata *md);
