/* A string set (open addressing, FNV-1a) for the paths a layer has written. */
#include "core/diff/diff-internal.h"

#include "lib/base/alloc.h"

#include <stdint.h>
#include <string.h>

struct path_set {
    char **slots;
    size_t cap; /* a power of two */
    size_t count;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

struct path_set *path_set_new(void)
{
    struct path_set *s = xcalloc(1, sizeof(*s));
    s->cap = 64;
    s->slots = xcalloc(s->cap, sizeof(*s->slots));
    return s;
}

struct path_set *path_set_free(struct path_set *s)
{
    if (!s)
        return NULL;
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i]);
    free(s->slots);
    free(s);
    return NULL;
}

static char **find(char **slots, size_t cap, const char *path)
{
    size_t i = (size_t)hash(path) & (cap - 1);
    while (slots[i] && strcmp(slots[i], path) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

void path_set_add(struct path_set *s, const char *path)
{
    if ((s->count + 1) * 2 > s->cap) {
        size_t ncap = s->cap * 2;
        char **n = xcalloc(ncap, sizeof(*n));
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i])
                *find(n, ncap, s->slots[i]) = s->slots[i];
        free(s->slots);
        s->slots = n;
        s->cap = ncap;
    }
    char **slot = find(s->slots, s->cap, path);
    if (!*slot) {
        *slot = xstrdup(path);
        s->count++;
    }
}

bool path_set_has(const struct path_set *s, const char *path)
{
    return *find(s->slots, s->cap, path) != NULL;
}
