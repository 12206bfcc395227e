/* Label maps and the compact record encoding used in the metadata database. */
#include "core/metadata/labels.h"
#include "lib/base/alloc.h"

#include <stdlib.h>
#include <string.h>

void labels_set(struct labels *l, const char *key, const char *value)
{
    for (size_t i = 0; i < l->count; i++) {
        if (strcmp(l->items[i].key, key) == 0) {
            free(l->items[i].value);
            l->items[i].value = xstrdup(value);
            return;
        }
    }
    l->items = xreallocarray_grow(l->items, &l->capacity, l->count + 1, sizeof(*l->items));
    l->items[l->count++] = (struct label){xstrdup(key), xstrdup(value)};
}

const char *labels_get(const struct labels *l, const char *key)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return l->items[i].value;
    return NULL;
}

bool labels_remove(struct labels *l, const char *key)
{
    for (size_t i = 0; i < l->count; i++) {
        if (strcmp(l->items[i].key, key) == 0) {
            free(l->items[i].key);
            free(l->items[i].value);
            l->items[i] = l->items[--l->count];
            return true;
        }
    }
    return false;
}

void labels_clear(struct labels *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    *l = (struct labels){0};
}

void labels_copy(struct labels *dst, const struct labels *src)
{
    for (size_t i = 0; i < src->count; i++)
        labels_set(dst, src->items[i].key, src->items[i].value);
}

static int compare_labels(const void *a, const void *b)
{
    return strcmp(((const struct label *)a)->key, ((const struct label *)b)->key);
}

void labels_sort(struct labels *l)
{
    if (l->count > 1)
        qsort(l->items, l->count, sizeof(*l->items), compare_labels);
}

int labels_validate(const struct labels *l, struct berth_error **err)
{
    for (size_t i = 0; i < l->count; i++) {
        size_t n = strlen(l->items[i].key) + strlen(l->items[i].value);
        if (n > LABEL_MAX_SIZE)
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "label key and value length (%zu bytes) greater than maximum size "
                            "(%d bytes), key: %.32s",
                            n, LABEL_MAX_SIZE, l->items[i].key);
    }
    return 0;
}

void record_put_bytes(struct record_buf *b, const void *p, size_t n)
{
    b->data = xreallocarray_grow(b->data, &b->cap, b->len + n, 1);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Varints keep small records small. */
void record_put_u64(struct record_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    record_put_bytes(b, tmp, n);
}

void record_put_string(struct record_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    record_put_u64(b, n);
    record_put_bytes(b, s, n);
}

void record_put_labels(struct record_buf *b, const struct labels *l)
{
    record_put_u64(b, l ? l->count : 0);
    for (size_t i = 0; l && i < l->count; i++) {
        record_put_string(b, l->items[i].key);
        record_put_string(b, l->items[i].value);
    }
}

uint64_t record_get_u64(struct record_reader *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            r->failed = true;
            return 0;
        }
        uint8_t c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    r->failed = true;
    return 0;
}

char *record_get_string(struct record_reader *r)
{
    uint64_t n = record_get_u64(r);
    if (r->failed || n > (uint64_t)(r->end - r->p)) {
        r->failed = true;
        return NULL;
    }
    char *s = xstrndup((const char *)r->p, (size_t)n);
    r->p += n;
    return s;
}

void record_get_labels(struct record_reader *r, struct labels *out)
{
    uint64_t n = record_get_u64(r);
    for (uint64_t i = 0; i < n && !r->failed; i++) {
        _cleanup_free_ char *k = record_get_string(r);
        _cleanup_free_ char *v = record_get_string(r);
        if (k && v)
            labels_set(out, k, v);
    }
}
