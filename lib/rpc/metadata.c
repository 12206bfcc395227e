/* RPC metadata multimap. */
#include "lib/rpc/metadata.h"
#include "lib/base/alloc.h"

#include <ctype.h>
#include <string.h>

void rpc_metadata_add(struct rpc_metadata *md, const char *key, const char *value)
{
    md->entries =
        xreallocarray_grow(md->entries, &md->capacity, md->count + 1, sizeof(*md->entries));
    char *k = xstrdup(key);
    for (char *p = k; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    md->entries[md->count].key = k;
    md->entries[md->count].value = xstrdup(value);
    md->count++;
}

const char *rpc_metadata_get(const struct rpc_metadata *md, const char *key)
{
    for (size_t i = 0; i < md->count; i++)
        if (strcasecmp(md->entries[i].key, key) == 0)
            return md->entries[i].value;
    return NULL;
}

void rpc_metadata_copy(struct rpc_metadata *dst, const struct rpc_metadata *src)
{
    for (size_t i = 0; src && i < src->count; i++)
        rpc_metadata_add(dst, src->entries[i].key, src->entries[i].value);
}

void rpc_metadata_clear(struct rpc_metadata *md)
{
    for (size_t i = 0; i < md->count; i++) {
        free(md->entries[i].key);
        free(md->entries[i].value);
    }
    free(md->entries);
    md->entries = NULL;
    md->count = md->capacity = 0;
}
