/* One snapshotter of the metadata layer, in one namespace and lease, as a struct snapshotter. */
#include "core/snapshots/metadata.h"

#include "lib/base/alloc.h"

#include <stdlib.h>

struct bound {
    struct snapshots_metadata *ms;
    char *snapshotter, *ns, *lease;
};

static int b_stat(void *self, const char *key, struct snapshot_info *ret, struct berth_error **err)
{
    struct bound *b = self;
    return snapshots_metadata_stat(b->ms, b->snapshotter, b->ns, key, ret, err);
}

static int b_update(void *self, const struct snapshot_info *info, const char *const *paths,
                    size_t n_paths, struct snapshot_info *ret, struct berth_error **err)
{
    struct bound *b = self;
    return snapshots_metadata_update(b->ms, b->snapshotter, b->ns, info, paths, n_paths, ret, err);
}

static int b_usage(void *self, const char *key, struct snapshot_usage *ret,
                   struct berth_error **err)
{
    struct bound *b = self;
    return snapshots_metadata_usage(b->ms, b->snapshotter, b->ns, key, ret, err);
}

static int b_mounts(void *self, const char *key, struct mount_list *ret, struct berth_error **err)
{
    struct bound *b = self;
    return snapshots_metadata_mounts(b->ms, b->snapshotter, b->ns, key, ret, err);
}

static int b_prepare(void *self, const char *key, const char *parent, const struct labels *labels,
                     struct mount_list *ret, struct berth_error **err)
{
    struct bound *b = self;
    return snapshots_metadata_prepare(b->ms, b->snapshotter, b->ns, key, parent, labels, b->lease,
                                      false, ret, err);
}

static int b_view(void *self, const char *key, const char *parent, const struct labels *labels,
                  struct mount_list *ret, struct berth_error **err)
{
    struct bound *b = self;
    return snapshots_metadata_prepare(b->ms, b->snapshotter, b->ns, key, parent, labels, b->lease,
                                      true, ret, err);
}

static int b_commit(void *self, const char *name, const char *key, const struct labels *labels,
                    struct berth_error **err)
{
    struct bound *b = self;
    return snapshots_metadata_commit(b->ms, b->snapshotter, b->ns, name, key, labels, b->lease,
                                     err);
}

static int b_remove(void *self, const char *key, struct berth_error **err)
{
    struct bound *b = self;
    return snapshots_metadata_remove(b->ms, b->snapshotter, b->ns, key, b->lease, err);
}

static int b_walk(void *self, const struct filter *filter, snapshot_walk_fn fn, void *arg,
                  struct berth_error **err)
{
    struct bound *b = self;
    return snapshots_metadata_walk(b->ms, b->snapshotter, b->ns, filter, fn, arg, err);
}

static int b_cleanup(void *self, struct berth_error **err)
{
    struct bound *b = self;
    return snapshots_metadata_cleanup(b->ms, b->snapshotter, err);
}

static const struct snapshotter_ops bound_ops = {
    .stat = b_stat,
    .update = b_update,
    .usage = b_usage,
    .mounts = b_mounts,
    .prepare = b_prepare,
    .view = b_view,
    .commit = b_commit,
    .remove = b_remove,
    .walk = b_walk,
    .cleanup = b_cleanup,
};

static void bound_close(void *self)
{
    struct bound *b = self;
    free(b->snapshotter);
    free(b->ns);
    free(b->lease);
    free(b);
}

int snapshots_metadata_bind(struct snapshots_metadata *ms, const char *snapshotter, const char *ns,
                            const char *lease, struct snapshotter **ret, struct berth_error **err)
{
    if (snapshots_metadata_check(ms, snapshotter, err) < 0)
        return -1;
    struct bound *b = xcalloc(1, sizeof(*b));
    b->ms = ms;
    b->snapshotter = xstrdup(snapshotter);
    b->ns = xstrdup(ns);
    b->lease = lease && *lease ? xstrdup(lease) : NULL;
    struct snapshotter *sn = xcalloc(1, sizeof(*sn));
    sn->ops = &bound_ops;
    sn->self = b;
    sn->name = xstrdup(snapshotter);
    sn->close = bound_close;
    *ret = sn;
    return 0;
}

struct snapshotter *snapshots_metadata_unbind(struct snapshotter *sn)
{
    if (!sn)
        return NULL;
    sn->close(sn->self);
    free(sn->name);
    free(sn);
    return NULL;
}
