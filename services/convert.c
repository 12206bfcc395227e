/* Protobuf <-> core conversions used by several services. */
#include "services/convert.h"
#include "lib/base/alloc.h"
#include "lib/identifiers/identifiers.h"

#include <string.h>

void pb_labels_to_core(void *const *entries, size_t n, struct labels *out)
{
    for (size_t i = 0; i < n; i++) {
        const struct pb_string_entry *e = entries[i];
        labels_set(out, e->key ? e->key : "", e->value ? e->value : "");
    }
}

const char *service_namespace(struct rpc_call *call, struct berth_error **err)
{
    const char *ns = rpc_call_metadata(call, "containerd-namespace");
    if (!ns)
        ns = rpc_call_metadata(call, "containerd-namespace-ttrpc");
    if (!ns || !*ns) {
        err_make(err, ERR_FAILED_PRECONDITION, 0, "namespace is required");
        return NULL;
    }
    if (identifier_validate(ns, err) < 0) {
        err_wrap(err, "namespace validation");
        return NULL;
    }
    return ns;
}

void *pb_arena_alloc(struct pb_arena *a, size_t size)
{
    void *p = xcalloc(1, size ? size : 1);
    a->ptrs = xreallocarray_grow(a->ptrs, &a->capacity, a->count + 1, sizeof(void *));
    a->ptrs[a->count++] = p;
    return p;
}

void *pb_arena_message(struct pb_arena *a, const ProtobufCMessageDescriptor *type)
{
    void *m = pb_arena_alloc(a, type->sizeof_message);
    protobuf_c_message_init(type, m);
    return m;
}

char *pb_arena_strdup(struct pb_arena *a, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = pb_arena_alloc(a, n);
    memcpy(p, s, n);
    return p;
}

void pb_arena_free(struct pb_arena *a)
{
    for (size_t i = 0; i < a->count; i++)
        free(a->ptrs[i]);
    free(a->ptrs);
    *a = (struct pb_arena){0};
}

Google__Protobuf__Timestamp *pb_arena_timestamp(struct pb_arena *a, int64_t ns)
{
    Google__Protobuf__Timestamp *ts = pb_arena_message(a, &google__protobuf__timestamp__descriptor);
    ts->seconds = ns / 1000000000LL;
    ts->nanos = (int32_t)(ns % 1000000000LL);
    if (ts->nanos < 0) { /* protobuf wants 0 <= nanos < 1e9 */
        ts->nanos += 1000000000;
        ts->seconds--;
    }
    return ts;
}

Google__Protobuf__Timestamp *pb_arena_timespec(struct pb_arena *a, struct timespec t)
{
    return pb_arena_timestamp(a, (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec);
}

void **pb_arena_labels(struct pb_arena *a, const struct labels *l,
                       const ProtobufCMessageDescriptor *entry_type, size_t *ret_n)
{
    size_t n = l ? l->count : 0;
    void **entries = pb_arena_alloc(a, n * sizeof(void *));
    for (size_t i = 0; i < n; i++) {
        struct pb_string_entry *e = pb_arena_message(a, entry_type);
        e->key = l->items[i].key;
        e->value = l->items[i].value;
        entries[i] = e;
    }
    *ret_n = n;
    return entries;
}

static int pb_batcher_flush(struct pb_batcher *b, struct berth_error **err)
{
    if (b->n == 0)
        return 0;
    const ProtobufCMessageDescriptor *type = b->response_type;
    _cleanup_free_ char *resp = xcalloc(1, type->sizeof_message);
    protobuf_c_message_init(type, resp);
    for (unsigned i = 0; i < type->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &type->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE) {
            *(size_t *)(resp + f->quantifier_offset) = b->n;
            *(void ***)(resp + f->offset) = b->items;
            break;
        }
    }
    int rc = rpc_call_send(b->call, (ProtobufCMessage *)resp, err);
    pb_arena_free(&b->arena);
    b->n = 0;
    return rc;
}

int pb_batcher_add(struct pb_batcher *b, void *item, struct berth_error **err)
{
    b->items[b->n++] = item;
    return b->n == PB_BATCH_SIZE ? pb_batcher_flush(b, err) : 0;
}

int pb_batcher_finish(struct pb_batcher *b, struct berth_error **err)
{
    int rc = pb_batcher_flush(b, err);
    pb_arena_free(&b->arena);
    return rc;
}
