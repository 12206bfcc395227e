/* Snapshots: core types and the snapshotter interface shared by backends and the metadata layer. */
#pragma once

#include "core/metadata/labels.h"
#include "lib/base/errors.h"
#include "lib/filters/filters.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* containerd's snapshots.Kind, with the API's numbers. */
enum snapshot_kind {
    SNAPSHOT_KIND_UNKNOWN = 0,
    SNAPSHOT_KIND_VIEW = 1,
    SNAPSHOT_KIND_ACTIVE = 2,
    SNAPSHOT_KIND_COMMITTED = 3,
};

/* "View", "Active", "Committed", "Unknown", as containerd's Kind.String (filters use lower case).
 */
const char *snapshot_kind_string(enum snapshot_kind kind);

struct snapshot_info {
    char *name;
    char *parent; /* "" when none */
    enum snapshot_kind kind;
    struct labels labels;
    int64_t created_ns, updated_ns; /* CLOCK_REALTIME */
};
void snapshot_info_clear(struct snapshot_info *info);

struct snapshot_usage {
    int64_t size;
    int64_t inodes;
};

struct mount {
    char *type;
    char *source;
    char *target;
    char **options;
    size_t n_options;
};

struct mount_list {
    struct mount *items;
    size_t count;
};
void mount_list_clear(struct mount_list *list);
/* Appends one mount; options is a NULL-terminated list, copied. */
struct mount *mount_list_add(struct mount_list *list, const char *type, const char *source);
void mount_add_option(struct mount *m, const char *option);

/* Labels containerd passes on to a backend: "containerd.io/snapshot/..." and snapshot.ref. */
#define SNAPSHOT_LABEL_INHERITED_PREFIX "containerd.io/snapshot/"
#define SNAPSHOT_LABEL_REF              "containerd.io/snapshot.ref"
void snapshot_labels_inherited(const struct labels *in, struct labels *out);

/* A filter field adaptor for snapshot_info: kind, name, parent, labels.<k>. */
bool snapshot_info_filter_field(void *object, const char *const *fieldpath, size_t n,
                                const char **ret_value);

typedef int (*snapshot_walk_fn)(const struct snapshot_info *info, void *arg,
                                struct berth_error **err);

/* Every snapshotter (backend or the metadata layer's view of one) answers these. */
struct snapshotter_ops {
    int (*stat)(void *self, const char *key, struct snapshot_info *ret, struct berth_error **err);
    /* paths: NULL/0 replaces all labels; else "labels" or "labels.<k>". */
    int (*update)(void *self, const struct snapshot_info *info, const char *const *paths,
                  size_t n_paths, struct snapshot_info *ret, struct berth_error **err);
    int (*usage)(void *self, const char *key, struct snapshot_usage *ret, struct berth_error **err);
    int (*mounts)(void *self, const char *key, struct mount_list *ret, struct berth_error **err);
    int (*prepare)(void *self, const char *key, const char *parent, const struct labels *labels,
                   struct mount_list *ret, struct berth_error **err);
    int (*view)(void *self, const char *key, const char *parent, const struct labels *labels,
                struct mount_list *ret, struct berth_error **err);
    int (*commit)(void *self, const char *name, const char *key, const struct labels *labels,
                  struct berth_error **err);
    int (*remove)(void *self, const char *key, struct berth_error **err);
    int (*walk)(void *self, const struct filter *filter, snapshot_walk_fn fn, void *arg,
                struct berth_error **err);
    int (*cleanup)(void *self, struct berth_error **err);
};

/* A backend snapshotter plugin instance (io.containerd.snapshotter.v1.<name>). */
struct snapshotter {
    const struct snapshotter_ops *ops;
    void *self;
    char *name;
    void (*close)(void *self);
};
