/* Conversions between protobuf-c messages and core types shared by the services. */
#pragma once

#include "core/metadata/labels.h"
#include "lib/base/errors.h"
#include "lib/rpc/rpc.h"

#include "google/protobuf/timestamp.pb-c.h"

#include <protobuf-c/protobuf-c.h>
#include <time.h>

/* Every generated map<string,string> entry has this layout. */
struct pb_string_entry {
    ProtobufCMessage base;
    char *key;
    char *value;
};

/* map<string,string> → labels (later duplicates win, as protobuf maps). */
void pb_labels_to_core(void *const *entries, size_t n, struct labels *out);

/*
 * The namespace of a request (containerd-namespace metadata), validated as containerd's
 * NamespaceRequired: FailedPrecondition when missing, InvalidArgument when malformed.
 */
const char *service_namespace(struct rpc_call *call, struct berth_error **err);

/* Allocations for building one response; freed together once it is sent. */
struct pb_arena {
    void **ptrs;
    size_t count, capacity;
};
void *pb_arena_alloc(struct pb_arena *a, size_t size);
/* A zeroed, initialised message of the given type. */
void *pb_arena_message(struct pb_arena *a, const ProtobufCMessageDescriptor *type);
char *pb_arena_strdup(struct pb_arena *a, const char *s);
void pb_arena_free(struct pb_arena *a);
/* A realtime instant (ns since the epoch, may be negative) as a Timestamp in the arena. */
Google__Protobuf__Timestamp *pb_arena_timestamp(struct pb_arena *a, int64_t ns);
/* The same for a struct timespec. */
Google__Protobuf__Timestamp *pb_arena_timespec(struct pb_arena *a, struct timespec t);
/* labels → map entries allocated in the arena (strings borrowed). */
void **pb_arena_labels(struct pb_arena *a, const struct labels *l,
                       const ProtobufCMessageDescriptor *entry_type, size_t *ret_n);

/*
 * Streams items of a List response in batches, as containerd sends 100 per message. The
 * response type must have one repeated message field (the items); items live in `arena` until
 * their batch is sent.
 */
enum { PB_BATCH_SIZE = 100 };
struct pb_batcher {
    struct rpc_call *call;
    const ProtobufCMessageDescriptor *response_type;
    struct pb_arena arena;
    void *items[PB_BATCH_SIZE];
    size_t n;
};
int pb_batcher_add(struct pb_batcher *b, void *item, struct berth_error **err);
/* Sends what is pending and releases the arena; call once at the end. */
int pb_batcher_finish(struct pb_batcher *b, struct berth_error **err);
