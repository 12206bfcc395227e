/* Snapshot info, mounts and label helpers shared by the backends and the metadata layer. */
#include "core/snapshots/snapshots.h"
#include "lib/base/alloc.h"

#include <string.h>

const char *snapshot_kind_string(enum snapshot_kind kind)
{
    switch (kind) {
    case SNAPSHOT_KIND_VIEW:
        return "View";
    case SNAPSHOT_KIND_ACTIVE:
        return "Active";
    case SNAPSHOT_KIND_COMMITTED:
        return "Committed";
    default:
        return "Unknown";
    }
}

void snapshot_info_clear(struct snapshot_info *info)
{
    free(info->name);
    free(info->parent);
    labels_clear(&info->labels);
    *info = (struct snapshot_info){0};
}

void mount_list_clear(struct mount_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        struct mount *m = &list->items[i];
        free(m->type);
        free(m->source);
        free(m->target);
        for (size_t j = 0; j < m->n_options; j++)
            free(m->options[j]);
        free(m->options);
    }
    free(list->items);
    *list = (struct mount_list){0};
}

struct mount *mount_list_add(struct mount_list *list, const char *type, const char *source)
{
    list->items = xrealloc(list->items, (list->count + 1) * sizeof(*list->items));
    struct mount *m = &list->items[list->count++];
    *m = (struct mount){.type = xstrdup(type), .source = xstrdup(source), .target = xstrdup("")};
    return m;
}

void mount_add_option(struct mount *m, const char *option)
{
    m->options = xrealloc(m->options, (m->n_options + 1) * sizeof(char *));
    m->options[m->n_options++] = xstrdup(option);
}

void snapshot_labels_inherited(const struct labels *in, struct labels *out)
{
    size_t n = strlen(SNAPSHOT_LABEL_INHERITED_PREFIX);
    for (size_t i = 0; in && i < in->count; i++) {
        const char *k = in->items[i].key;
        if (strncmp(k, SNAPSHOT_LABEL_INHERITED_PREFIX, n) == 0 ||
            strcmp(k, SNAPSHOT_LABEL_REF) == 0)
            labels_set(out, k, in->items[i].value);
    }
}

bool snapshot_info_filter_field(void *object, const char *const *fieldpath, size_t n,
                                const char **ret_value)
{
    const struct snapshot_info *info = object;
    if (n == 0)
        return false;
    if (strcmp(fieldpath[0], "kind") == 0) {
        static const char *const names[] = {[SNAPSHOT_KIND_VIEW] = "view",
                                            [SNAPSHOT_KIND_ACTIVE] = "active",
                                            [SNAPSHOT_KIND_COMMITTED] = "committed"};
        if (info->kind < SNAPSHOT_KIND_VIEW || info->kind > SNAPSHOT_KIND_COMMITTED)
            return false;
        *ret_value = names[info->kind];
        return true;
    }
    if (strcmp(fieldpath[0], "name") == 0) {
        *ret_value = info->name ? info->name : "";
        return true;
    }
    if (strcmp(fieldpath[0], "parent") == 0) {
        *ret_value = info->parent ? info->parent : "";
        return true;
    }
    if (strcmp(fieldpath[0], "labels") != 0)
        return false;
    for (size_t i = 0; i < info->labels.count; i++) {
        if (filters_fieldpath_equals(info->labels.items[i].key, fieldpath + 1, n - 1)) {
            *ret_value = info->labels.items[i].value;
            return true;
        }
    }
    return false;
}
