/* Event payload types by type URL, and the fields filters can read from them. */
#include "services/event_types.h"
#include "lib/base/alloc.h"

#include "containerd/events/container.pb-c.h"
#include "containerd/events/content.pb-c.h"
#include "containerd/events/image.pb-c.h"
#include "containerd/events/namespace.pb-c.h"
#include "containerd/events/sandbox.pb-c.h"
#include "containerd/events/snapshot.pb-c.h"
#include "containerd/events/task.pb-c.h"

#include <string.h>

/* The event payloads the daemon and shims publish, by type URL (their full proto names). */
static const ProtobufCMessageDescriptor *const event_types[] = {
    &containerd__events__container_create__descriptor,
    &containerd__events__container_update__descriptor,
    &containerd__events__container_delete__descriptor,
    &containerd__events__content_delete__descriptor,
    &containerd__services__images__v1__image_create__descriptor,
    &containerd__services__images__v1__image_update__descriptor,
    &containerd__services__images__v1__image_delete__descriptor,
    &containerd__events__namespace_create__descriptor,
    &containerd__events__namespace_update__descriptor,
    &containerd__events__namespace_delete__descriptor,
    &containerd__events__sandbox_create__descriptor,
    &containerd__events__sandbox_start__descriptor,
    &containerd__events__sandbox_exit__descriptor,
    &containerd__events__snapshot_prepare__descriptor,
    &containerd__events__snapshot_commit__descriptor,
    &containerd__events__snapshot_remove__descriptor,
    &containerd__events__task_create__descriptor,
    &containerd__events__task_start__descriptor,
    &containerd__events__task_delete__descriptor,
    &containerd__events__task_io__descriptor,
    &containerd__events__task_exit__descriptor,
    &containerd__events__task_oom__descriptor,
    &containerd__events__task_exec_added__descriptor,
    &containerd__events__task_exec_started__descriptor,
    &containerd__events__task_paused__descriptor,
    &containerd__events__task_resumed__descriptor,
    &containerd__events__task_checkpointed__descriptor,
};

const ProtobufCMessageDescriptor *event_type(const char *type_url)
{
    /* typeurl resolves by the name after the last '/' */
    const char *slash = strrchr(type_url, '/');
    const char *name = slash ? slash + 1 : type_url;
    for (size_t i = 0; i < ARRAY_SIZE(event_types); i++)
        if (strcmp(event_types[i]->name, name) == 0)
            return event_types[i];
    return NULL;
}

static bool message_field(const ProtobufCMessage *m, const char *const *fieldpath, size_t n,
                          char **ret_value)
{
    if (n == 0)
        return false;
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, fieldpath[0]);
    if (!f)
        return false;
    const char *base = (const char *)m;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        const ProtobufCMessageDescriptor *entry = f->descriptor;
        /* only map<string,string>: a repeated *Entry message of two strings */
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || entry->n_fields != 2 ||
            entry->fields[0].type != PROTOBUF_C_TYPE_STRING ||
            entry->fields[1].type != PROTOBUF_C_TYPE_STRING || n < 2)
            return false;
        size_t count = *(const size_t *)(base + f->quantifier_offset);
        const char *const *items = *(const char *const *const *)(base + f->offset);
        for (size_t i = 0; i < count; i++) {
            const char *e = items[i];
            const char *k = *(char *const *)(e + entry->fields[0].offset);
            const char *v = *(char *const *)(e + entry->fields[1].offset);
            /* the key is the rest of the path, joined as containerd joins it */
            size_t off = 0;
            bool same = true;
            for (size_t j = 1; j < n && same; j++) {
                size_t l = strlen(fieldpath[j]);
                same = strncmp(k + off, fieldpath[j], l) == 0;
                off += l;
                if (same && j + 1 < n)
                    same = k[off++] == '.';
            }
            if (same && k[off] == '\0') {
                *ret_value = xstrdup(v ? v : "");
                return true;
            }
        }
        return false;
    }
    if (f->type == PROTOBUF_C_TYPE_STRING && n == 1) {
        const char *s = *(char *const *)(base + f->offset);
        if (!s || !*s)
            return false;
        *ret_value = xstrdup(s);
        return true;
    }
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
        return sub && message_field(sub, fieldpath + 1, n - 1, ret_value);
    }
    return false;
}

bool event_field(const char *type_url, const uint8_t *value, size_t len,
                 const char *const *fieldpath, size_t n, char **ret_value)
{
    const ProtobufCMessageDescriptor *type = event_type(type_url);
    if (!type)
        return false;
    ProtobufCMessage *m = protobuf_c_message_unpack(type, NULL, len, value);
    if (!m)
        return false;
    bool found = message_field(m, fieldpath, n, ret_value);
    protobuf_c_message_free_unpacked(m, NULL);
    return found;
}
