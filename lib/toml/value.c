/* The TOML value tree: construction, hashed ordered tables, arrays, copy, equality and merge. */
#include "lib/toml/toml-internal.h"
#include "lib/base/alloc.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Tables up to this many keys are searched linearly; bigger ones get a hash index. */
#define TABLE_LINEAR_MAX 8

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static uint64_t hash_key[2];
static locale_t c_locale;

static void init_globals(void)
{
    /* A secret hash key keeps hostile documents from forcing collisions (SipHash's purpose). */
    if (getrandom(hash_key, sizeof(hash_key), GRND_NONBLOCK) != sizeof(hash_key)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        hash_key[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uintptr_t)&ts;
        hash_key[1] = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ (uintptr_t)&init_once;
    }
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

locale_t toml_c_locale(void)
{
    pthread_once(&init_once, init_globals);
    return c_locale;
}

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL64(v1, 13);                                                                       \
        v1 ^= v0;                                                                                  \
        v0 = ROTL64(v0, 32);                                                                       \
        v2 += v3;                                                                                  \
        v3 = ROTL64(v3, 16);                                                                       \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL64(v3, 21);                                                                       \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL64(v1, 17);                                                                       \
        v1 ^= v2;                                                                                  \
        v2 = ROTL64(v2, 32);                                                                       \
    } while (0)

/* SipHash-1-3 of the key bytes. */
static uint64_t hash_bytes(const char *data, size_t len)
{
    pthread_once(&init_once, init_globals);
    const unsigned char *in = (const unsigned char *)data;
    uint64_t v0 = 0x736f6d6570736575ull ^ hash_key[0], v1 = 0x646f72616e646f6dull ^ hash_key[1];
    uint64_t v2 = 0x6c7967656e657261ull ^ hash_key[0], v3 = 0x7465646279746573ull ^ hash_key[1];
    size_t full = len - len % 8;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m;
        memcpy(&m, in + i, 8);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t last = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        last |= (uint64_t)in[full + i] << (8 * i);
    v3 ^= last;
    SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

struct toml_value *toml_value_new(enum toml_kind kind)
{
    struct toml_value *v = xcalloc(1, sizeof(*v));
    v->kind = kind;
    return v;
}

struct toml_value *toml_free(struct toml_value *value)
{
    if (!value)
        return NULL;
    switch (value->kind) {
    case TOML_TABLE:
        for (size_t i = 0; i < value->u.table.count; i++) {
            free(value->u.table.entries[i].key);
            toml_free(value->u.table.entries[i].value);
        }
        free(value->u.table.entries);
        free(value->u.table.slots);
        break;
    case TOML_ARRAY:
        for (size_t i = 0; i < value->u.array.count; i++)
            toml_free(value->u.array.items[i]);
        free(value->u.array.items);
        break;
    case TOML_STRING:
        free(value->u.string.text);
        break;
    default:
        break;
    }
    free(value);
    return NULL;
}

/* Constructors. */

struct toml_value *toml_table_new(void)
{
    return toml_value_new(TOML_TABLE);
}

struct toml_value *toml_array_new(void)
{
    return toml_value_new(TOML_ARRAY);
}

struct toml_value *toml_string_newn(const char *s, size_t len)
{
    struct toml_value *v = toml_value_new(TOML_STRING);
    v->u.string.text = xmalloc(len + 1);
    memcpy(v->u.string.text, s, len);
    v->u.string.text[len] = '\0';
    v->u.string.len = len;
    return v;
}

struct toml_value *toml_string_new(const char *s)
{
    return toml_string_newn(s, strlen(s));
}

struct toml_value *toml_int_new(int64_t i)
{
    struct toml_value *v = toml_value_new(TOML_INTEGER);
    v->u.integer = i;
    return v;
}

struct toml_value *toml_float_new(double d)
{
    struct toml_value *v = toml_value_new(TOML_FLOAT);
    v->u.fp = d;
    return v;
}

struct toml_value *toml_bool_new(bool b)
{
    struct toml_value *v = toml_value_new(TOML_BOOL);
    v->u.boolean = b;
    return v;
}

struct toml_value *toml_datetime_new(enum toml_kind kind, const struct toml_datetime *dt)
{
    if (!toml_datetime_valid(kind, dt))
        return NULL;
    struct toml_value *v = toml_value_new(kind);
    v->u.datetime = *dt;
    return v;
}

/* Inspection. */

enum toml_kind toml_kind(const struct toml_value *value)
{
    return value ? value->kind : TOML_NONE;
}

const char *toml_kind_name(enum toml_kind kind)
{
    static const char *const names[] = {
        [TOML_NONE] = "nothing",
        [TOML_TABLE] = "table",
        [TOML_ARRAY] = "array",
        [TOML_STRING] = "string",
        [TOML_INTEGER] = "integer",
        [TOML_FLOAT] = "float",
        [TOML_BOOL] = "boolean",
        [TOML_OFFSET_DATETIME] = "offset datetime",
        [TOML_LOCAL_DATETIME] = "local datetime",
        [TOML_LOCAL_DATE] = "local date",
        [TOML_LOCAL_TIME] = "local time",
    };
    if ((unsigned)kind >= ARRAY_SIZE(names))
        return "unknown";
    return names[kind];
}

bool toml_is_table(const struct toml_value *value)
{
    return value && value->kind == TOML_TABLE;
}

bool toml_is_array(const struct toml_value *value)
{
    return value && value->kind == TOML_ARRAY;
}

const char *toml_as_string(const struct toml_value *value)
{
    return value && value->kind == TOML_STRING ? value->u.string.text : NULL;
}

size_t toml_string_length(const struct toml_value *value)
{
    return value && value->kind == TOML_STRING ? value->u.string.len : 0;
}

bool toml_as_int(const struct toml_value *value, int64_t *ret)
{
    if (!value || value->kind != TOML_INTEGER)
        return false;
    *ret = value->u.integer;
    return true;
}

bool toml_as_float(const struct toml_value *value, double *ret)
{
    if (!value || value->kind != TOML_FLOAT)
        return false;
    *ret = value->u.fp;
    return true;
}

bool toml_as_bool(const struct toml_value *value, bool *ret)
{
    if (!value || value->kind != TOML_BOOL)
        return false;
    *ret = value->u.boolean;
    return true;
}

bool toml_as_datetime(const struct toml_value *value, struct toml_datetime *ret)
{
    if (!value || value->kind < TOML_OFFSET_DATETIME || value->kind > TOML_LOCAL_TIME)
        return false;
    *ret = value->u.datetime;
    return true;
}

/* Tables. */

static void table_index_rebuild(struct toml_value *t)
{
    free(t->u.table.slots);
    t->u.table.slots = NULL;
    t->u.table.slot_count = 0;
    if (t->u.table.count <= TABLE_LINEAR_MAX)
        return;
    size_t n = 64;
    while (n < t->u.table.count * 2)
        n *= 2;
    t->u.table.slots = xcalloc(n, sizeof(uint32_t));
    t->u.table.slot_count = n;
    for (size_t i = 0; i < t->u.table.count; i++) {
        const struct toml_entry *e = &t->u.table.entries[i];
        size_t slot = hash_bytes(e->key, e->key_len) & (n - 1);
        while (t->u.table.slots[slot])
            slot = (slot + 1) & (n - 1);
        t->u.table.slots[slot] = (uint32_t)(i + 1);
    }
}

static size_t table_find_index(const struct toml_value *t, const char *key, size_t len)
{
    const struct toml_entry *entries = t->u.table.entries;
    if (!t->u.table.slots) {
        for (size_t i = 0; i < t->u.table.count; i++)
            if (entries[i].key_len == len && memcmp(entries[i].key, key, len) == 0)
                return i;
        return SIZE_MAX;
    }
    size_t mask = t->u.table.slot_count - 1;
    for (size_t slot = hash_bytes(key, len) & mask; t->u.table.slots[slot];
         slot = (slot + 1) & mask) {
        size_t i = t->u.table.slots[slot] - 1;
        if (entries[i].key_len == len && memcmp(entries[i].key, key, len) == 0)
            return i;
    }
    return SIZE_MAX;
}

struct toml_entry *toml_table_find(const struct toml_value *table, const char *key, size_t len)
{
    if (!table || table->kind != TOML_TABLE)
        return NULL;
    size_t i = table_find_index(table, key, len);
    return i == SIZE_MAX ? NULL : &table->u.table.entries[i];
}

void toml_table_add(struct toml_value *table, char *key, size_t len, struct toml_value *value)
{
    size_t i = table->u.table.count;
    table->u.table.entries = xreallocarray_grow(table->u.table.entries, &table->u.table.capacity,
                                                i + 1, sizeof(struct toml_entry));
    table->u.table.entries[i] = (struct toml_entry){.key = key, .key_len = len, .value = value};
    table->u.table.count = i + 1;
    if (table->u.table.count <= TABLE_LINEAR_MAX)
        return;
    if (!table->u.table.slots || table->u.table.count * 2 > table->u.table.slot_count) {
        table_index_rebuild(table);
        return;
    }
    size_t mask = table->u.table.slot_count - 1;
    size_t slot = hash_bytes(key, len) & mask;
    while (table->u.table.slots[slot])
        slot = (slot + 1) & mask;
    table->u.table.slots[slot] = (uint32_t)(i + 1);
}

size_t toml_table_count(const struct toml_value *table)
{
    return toml_is_table(table) ? table->u.table.count : 0;
}

const char *toml_table_key_at(const struct toml_value *table, size_t index, size_t *ret_len)
{
    if (!toml_is_table(table) || index >= table->u.table.count)
        return NULL;
    if (ret_len)
        *ret_len = table->u.table.entries[index].key_len;
    return table->u.table.entries[index].key;
}

struct toml_value *toml_table_value_at(const struct toml_value *table, size_t index)
{
    if (!toml_is_table(table) || index >= table->u.table.count)
        return NULL;
    return table->u.table.entries[index].value;
}

struct toml_value *toml_table_getn(const struct toml_value *table, const char *key, size_t len)
{
    struct toml_entry *e = toml_table_find(table, key, len);
    return e ? e->value : NULL;
}

struct toml_value *toml_table_get(const struct toml_value *table, const char *key)
{
    return toml_table_getn(table, key, strlen(key));
}

struct toml_value *toml_table_setn(struct toml_value *table, const char *key, size_t len,
                                   struct toml_value *value)
{
    if (!toml_is_table(table) || !value)
        return toml_free(value);
    struct toml_entry *e = toml_table_find(table, key, len);
    if (e) {
        if (e->value != value)
            toml_free(e->value);
        e->value = value;
        return value;
    }
    char *copy = xmalloc(len + 1);
    memcpy(copy, key, len);
    copy[len] = '\0';
    toml_table_add(table, copy, len, value);
    return value;
}

struct toml_value *toml_table_set(struct toml_value *table, const char *key,
                                  struct toml_value *value)
{
    return toml_table_setn(table, key, strlen(key), value);
}

struct toml_value *toml_table_take(struct toml_value *table, const char *key)
{
    if (!toml_is_table(table))
        return NULL;
    size_t i = table_find_index(table, key, strlen(key));
    if (i == SIZE_MAX)
        return NULL;
    struct toml_entry *entries = table->u.table.entries;
    struct toml_value *value = entries[i].value;
    free(entries[i].key);
    memmove(&entries[i], &entries[i + 1], (table->u.table.count - i - 1) * sizeof(*entries));
    table->u.table.count--;
    table_index_rebuild(table);
    return value;
}

bool toml_table_remove(struct toml_value *table, const char *key)
{
    struct toml_value *value = toml_table_take(table, key);
    if (!value)
        return false;
    toml_free(value);
    return true;
}

struct toml_value *toml_table_ensure_table(struct toml_value *table, const char *key)
{
    if (!toml_is_table(table))
        return NULL;
    struct toml_value *existing = toml_table_get(table, key);
    if (existing)
        return toml_is_table(existing) ? existing : NULL;
    return toml_table_set(table, key, toml_table_new());
}

enum toml_table_origin toml_table_origin(const struct toml_value *table)
{
    return toml_is_table(table) ? table->origin : TOML_TABLE_EXPLICIT;
}

void toml_table_set_origin(struct toml_value *table, enum toml_table_origin origin)
{
    if (toml_is_table(table))
        table->origin = origin;
}

/* Arrays. */

void toml_array_push(struct toml_value *array, struct toml_value *value)
{
    size_t i = array->u.array.count;
    array->u.array.items = xreallocarray_grow(array->u.array.items, &array->u.array.capacity, i + 1,
                                              sizeof(struct toml_value *));
    array->u.array.items[i] = value;
    array->u.array.count = i + 1;
}

size_t toml_array_count(const struct toml_value *array)
{
    return toml_is_array(array) ? array->u.array.count : 0;
}

struct toml_value *toml_array_at(const struct toml_value *array, size_t index)
{
    if (!toml_is_array(array) || index >= array->u.array.count)
        return NULL;
    return array->u.array.items[index];
}

struct toml_value *toml_array_append(struct toml_value *array, struct toml_value *value)
{
    if (!toml_is_array(array) || !value)
        return toml_free(value);
    toml_array_push(array, value);
    return value;
}

struct toml_value *toml_array_take(struct toml_value *array, size_t index)
{
    if (!toml_is_array(array) || index >= array->u.array.count)
        return NULL;
    struct toml_value **items = array->u.array.items;
    struct toml_value *value = items[index];
    memmove(&items[index], &items[index + 1], (array->u.array.count - index - 1) * sizeof(*items));
    array->u.array.count--;
    return value;
}

bool toml_array_is_table_array(const struct toml_value *array)
{
    return toml_is_array(array) && array->table_array;
}

/* Whole trees. */

struct toml_value *toml_copy(const struct toml_value *value)
{
    if (!value)
        return NULL;
    struct toml_value *copy = toml_value_new(value->kind);
    copy->origin = value->origin;
    copy->table_array = value->table_array;
    switch (value->kind) {
    case TOML_TABLE:
        for (size_t i = 0; i < value->u.table.count; i++) {
            const struct toml_entry *e = &value->u.table.entries[i];
            toml_table_add(copy, xmemdup(e->key, e->key_len + 1), e->key_len, toml_copy(e->value));
        }
        break;
    case TOML_ARRAY:
        for (size_t i = 0; i < value->u.array.count; i++)
            toml_array_push(copy, toml_copy(value->u.array.items[i]));
        break;
    case TOML_STRING:
        copy->u.string.text = xmemdup(value->u.string.text, value->u.string.len + 1);
        copy->u.string.len = value->u.string.len;
        break;
    default:
        copy->u = value->u;
        break;
    }
    return copy;
}

static bool datetime_equal(enum toml_kind kind, const struct toml_datetime *a,
                           const struct toml_datetime *b)
{
    if (kind != TOML_LOCAL_TIME && (a->year != b->year || a->month != b->month || a->day != b->day))
        return false;
    if (kind != TOML_LOCAL_DATE && (a->hour != b->hour || a->minute != b->minute ||
                                    a->second != b->second || a->nanosecond != b->nanosecond))
        return false;
    return kind != TOML_OFFSET_DATETIME || a->offset_minutes == b->offset_minutes;
}

bool toml_equal(const struct toml_value *a, const struct toml_value *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case TOML_TABLE:
        if (a->u.table.count != b->u.table.count)
            return false;
        for (size_t i = 0; i < a->u.table.count; i++) {
            const struct toml_entry *e = &a->u.table.entries[i];
            if (!toml_equal(e->value, toml_table_getn(b, e->key, e->key_len)))
                return false;
        }
        return true;
    case TOML_ARRAY:
        if (a->u.array.count != b->u.array.count)
            return false;
        for (size_t i = 0; i < a->u.array.count; i++)
            if (!toml_equal(a->u.array.items[i], b->u.array.items[i]))
                return false;
        return true;
    case TOML_STRING:
        return a->u.string.len == b->u.string.len &&
               memcmp(a->u.string.text, b->u.string.text, a->u.string.len) == 0;
    case TOML_INTEGER:
        return a->u.integer == b->u.integer;
    case TOML_FLOAT:
        if (isnan(a->u.fp) || isnan(b->u.fp))
            return isnan(a->u.fp) && isnan(b->u.fp);
        return a->u.fp == b->u.fp && signbit(a->u.fp) == signbit(b->u.fp);
    case TOML_BOOL:
        return a->u.boolean == b->u.boolean;
    case TOML_OFFSET_DATETIME:
    case TOML_LOCAL_DATETIME:
    case TOML_LOCAL_DATE:
    case TOML_LOCAL_TIME:
        return datetime_equal(a->kind, &a->u.datetime, &b->u.datetime);
    default:
        return false;
    }
}

struct toml_value *toml_get_path(const struct toml_value *root, ...)
{
    va_list ap;
    va_start(ap, root);
    const struct toml_value *v = root;
    for (const char *key = va_arg(ap, const char *); key && v; key = va_arg(ap, const char *))
        v = toml_table_get(v, key);
    va_end(ap);
    return (struct toml_value *)v;
}

struct toml_value *toml_get_dotted(const struct toml_value *root, const char *dotted_key)
{
    struct toml_scanner s = {
        .data = dotted_key, .pos = dotted_key, .end = dotted_key + strlen(dotted_key)};
    struct toml_key key = {0};
    toml_scan_skip_ws(&s);
    if (toml_scan_key(&s, &key) < 0)
        return NULL;
    toml_scan_skip_ws(&s);
    const struct toml_value *v = toml_scan_eof(&s) ? root : NULL;
    for (size_t i = 0; i < key.count && v; i++)
        v = toml_table_getn(v, key.parts[i].name, key.parts[i].len);
    toml_key_clear(&key);
    return (struct toml_value *)v;
}

void toml_merge(struct toml_value *dst, const struct toml_value *src)
{
    if (!toml_is_table(dst) || !toml_is_table(src))
        return;
    for (size_t i = 0; i < src->u.table.count; i++) {
        const struct toml_entry *e = &src->u.table.entries[i];
        struct toml_value *mine = toml_table_getn(dst, e->key, e->key_len);
        if (toml_is_table(mine) && toml_is_table(e->value))
            toml_merge(mine, e->value);
        else
            toml_table_setn(dst, e->key, e->key_len, toml_copy(e->value));
    }
}

/* Buffers. */

void toml_buffer_add(struct toml_buffer *b, const void *data, size_t len)
{
    b->data = xreallocarray_grow(b->data, &b->capacity, b->len + len + 1, 1);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void toml_buffer_addc(struct toml_buffer *b, char c)
{
    toml_buffer_add(b, &c, 1);
}

void toml_buffer_printf(struct toml_buffer *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *text = xvasprintf(fmt, ap);
    va_end(ap);
    toml_buffer_add(b, text, strlen(text));
}

void toml_buffer_add_utf8(struct toml_buffer *b, uint32_t c)
{
    char out[4];
    size_t n;
    if (c < 0x80) {
        out[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        out[0] = (char)(0xc0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3f));
        n = 2;
    } else if (c < 0x10000) {
        out[0] = (char)(0xe0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        n = 3;
    } else {
        out[0] = (char)(0xf0 | (c >> 18));
        out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[3] = (char)(0x80 | (c & 0x3f));
        n = 4;
    }
    toml_buffer_add(b, out, n);
}
