/* The overlayfs and native snapshotters over one storage layer; they differ in dirs and mounts. */
#include "core/snapshots/local.h"
#include "core/snapshots/fsutil.h"
#include "core/snapshots/storage.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/base/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct local {
    struct snapshotter base;
    enum local_driver driver;
    char *root;
    char *snapshots_dir;
    struct snapshot_store *store;
    struct local_options options;
    size_t n_mount_options;
};

/* overlayfs: the upper dir snapshots/<id>/fs; native: the snapshot's dir snapshots/<id>. */
static char *upper_path(const struct local *l, const char *id)
{
    if (l->driver == LOCAL_DRIVER_OVERLAY)
        return xasprintf("%s/%s/fs", l->snapshots_dir, id);
    return xasprintf("%s/%s", l->snapshots_dir, id);
}

static void add_upperdir_label(struct local *l, struct snapshot_info *info, const char *id)
{
    if (l->driver != LOCAL_DRIVER_OVERLAY || !l->options.upperdir_label)
        return;
    _cleanup_free_ char *p = upper_path(l, id);
    labels_set(&info->labels, OVERLAY_UPPERDIR_LABEL, p);
}

static int local_stat(void *self, const char *key, struct snapshot_info *ret,
                      struct berth_error **err)
{
    struct local *l = self;
    struct snapshot_txn t;
    if (snapshot_txn_begin(l->store, false, &t, err) < 0)
        return -1;
    _cleanup_free_ char *id = NULL;
    int r = storage_get_info(&t, key, &id, ret, NULL, err);
    snapshot_txn_abort(&t);
    if (r == 0)
        add_upperdir_label(l, ret, id);
    return r;
}

static int local_update(void *self, const struct snapshot_info *info, const char *const *paths,
                        size_t n_paths, struct snapshot_info *ret, struct berth_error **err)
{
    struct local *l = self;
    struct snapshot_txn t;
    if (snapshot_txn_begin(l->store, true, &t, err) < 0)
        return -1;
    struct snapshot_info updated = {0};
    _cleanup_free_ char *id = NULL;
    int r = storage_update_info(&t, info, paths, n_paths, &updated, err);
    if (r == 0)
        r = storage_get_info(&t, info->name, &id, NULL, NULL, err);
    if (r == 0)
        r = snapshot_txn_commit(&t, err);
    else
        snapshot_txn_abort(&t);
    if (r < 0) {
        snapshot_info_clear(&updated);
        return -1;
    }
    add_upperdir_label(l, &updated, id);
    if (ret)
        *ret = updated;
    else
        snapshot_info_clear(&updated);
    return 0;
}

static int local_usage(void *self, const char *key, struct snapshot_usage *ret,
                       struct berth_error **err)
{
    struct local *l = self;
    struct snapshot_txn t;
    if (snapshot_txn_begin(l->store, false, &t, err) < 0)
        return -1;
    _cleanup_free_ char *id = NULL;
    struct snapshot_info info = {0};
    struct snapshot_usage usage = {0};
    int r = storage_get_info(&t, key, &id, &info, &usage, err);
    snapshot_txn_abort(&t);
    if (r < 0)
        return -1;
    enum snapshot_kind kind = info.kind;
    snapshot_info_clear(&info);
    if (kind == SNAPSHOT_KIND_ACTIVE) {
        _cleanup_free_ char *p = upper_path(l, id);
        if (snapshot_fs_usage(p, &usage, err) < 0)
            return -1;
    }
    *ret = usage;
    return 0;
}

/* containerd's mount rules for each driver. */
static void build_mounts(const struct local *l, const struct storage_snapshot *s,
                         struct mount_list *ret)
{
    *ret = (struct mount_list){0};
    const char *ro = s->kind == SNAPSHOT_KIND_VIEW ? "ro" : "rw";
    if (l->driver == LOCAL_DRIVER_NATIVE || s->n_parent_ids == 0) {
        _cleanup_free_ char *p = upper_path(l, s->id);
        struct mount *m = mount_list_add(ret, "bind", p);
        mount_add_option(m, ro);
        mount_add_option(m, "rbind");
        return;
    }
    if (s->kind != SNAPSHOT_KIND_ACTIVE && s->n_parent_ids == 1) {
        /* a view of a single layer needs no overlay */
        _cleanup_free_ char *p = upper_path(l, s->parent_ids[0]);
        struct mount *m = mount_list_add(ret, "bind", p);
        mount_add_option(m, "ro");
        mount_add_option(m, "rbind");
        return;
    }
    struct mount *m = mount_list_add(ret, "overlay", "overlay");
    if (s->kind == SNAPSHOT_KIND_ACTIVE) {
        _cleanup_free_ char *work = xasprintf("workdir=%s/%s/work", l->snapshots_dir, s->id);
        _cleanup_free_ char *up = upper_path(l, s->id);
        _cleanup_free_ char *upper = xasprintf("upperdir=%s", up);
        mount_add_option(m, work);
        mount_add_option(m, upper);
    }
    /* lowerdir: nearest parent first; long chains are the mounter's concern, as in containerd */
    size_t len = strlen("lowerdir=") + 1;
    char **paths = xcalloc(s->n_parent_ids, sizeof(char *));
    for (size_t i = 0; i < s->n_parent_ids; i++) {
        paths[i] = upper_path(l, s->parent_ids[i]);
        len += strlen(paths[i]) + 1;
    }
    char *lower = xmalloc(len);
    char *p = stpcpy(lower, "lowerdir=");
    for (size_t i = 0; i < s->n_parent_ids; i++) {
        if (i)
            *p++ = ':';
        p = stpcpy(p, paths[i]);
        free(paths[i]);
    }
    free(paths);
    mount_add_option(m, lower);
    free(lower);
    for (size_t i = 0; i < l->n_mount_options; i++)
        mount_add_option(m, l->options.mount_options[i]);
}

static int local_mounts(void *self, const char *key, struct mount_list *ret,
                        struct berth_error **err)
{
    struct local *l = self;
    struct snapshot_txn t;
    if (snapshot_txn_begin(l->store, false, &t, err) < 0)
        return -1;
    struct storage_snapshot s = {0};
    int r = storage_get_snapshot(&t, key, &s, err);
    snapshot_txn_abort(&t);
    if (r < 0)
        return err_wrap(err, "failed to get active mount");
    build_mounts(l, &s, ret);
    storage_snapshot_clear(&s);
    return 0;
}

static int prepare_directory(struct local *l, enum snapshot_kind kind, char **ret_td,
                             struct berth_error **err)
{
    char *td = xasprintf("%s/new-XXXXXX", l->snapshots_dir);
    if (!mkdtemp(td)) {
        int e = errno;
        free(td);
        return err_make(err, ERR_INTERNAL, e, "failed to create prepare snapshot dir");
    }
    *ret_td = td;
    if (l->driver == LOCAL_DRIVER_NATIVE) {
        if (chmod(td, 0755) < 0)
            return err_make(err, ERR_INTERNAL, errno, "chmod %s", td);
        return 0;
    }
    _cleanup_free_ char *fs = xasprintf("%s/fs", td);
    if (mkdir(fs, 0755) < 0)
        return err_make(err, ERR_INTERNAL, errno, "mkdir %s", fs);
    if (kind == SNAPSHOT_KIND_ACTIVE) {
        _cleanup_free_ char *work = xasprintf("%s/work", td);
        if (mkdir(work, 0711) < 0)
            return err_make(err, ERR_INTERNAL, errno, "mkdir %s", work);
    }
    return 0;
}

/* Fills the new dir from the parent: native copies it; overlayfs takes the parent's owner. */
static int populate(struct local *l, const char *td, const struct storage_snapshot *s,
                    struct berth_error **err)
{
    if (s->n_parent_ids == 0)
        return 0;
    _cleanup_free_ char *parent = upper_path(l, s->parent_ids[0]);
    if (l->driver == LOCAL_DRIVER_NATIVE)
        return snapshot_fs_copy_tree(parent, td, err) < 0
                   ? err_wrap(err, "copying of parent failed")
                   : 0;
    struct stat st;
    if (stat(parent, &st) < 0)
        return err_make(err, ERR_INTERNAL, errno, "failed to stat parent");
    _cleanup_free_ char *fs = xasprintf("%s/fs", td);
    if (lchown(fs, st.st_uid, st.st_gid) < 0)
        return err_make(err, ERR_INTERNAL, errno, "failed to chown");
    return 0;
}

static int create(struct local *l, enum snapshot_kind kind, const char *key, const char *parent,
                  const struct labels *labels, struct mount_list *ret, struct berth_error **err)
{
    struct snapshot_txn t;
    if (snapshot_txn_begin(l->store, true, &t, err) < 0)
        return -1;
    _cleanup_free_ char *td = NULL;
    struct storage_snapshot s = {0};
    int r = prepare_directory(l, kind, &td, err);
    if (r == 0 && storage_create(&t, kind, key, parent, labels, &s, err) < 0)
        r = err_wrap(err, "failed to create snapshot");
    if (r == 0)
        r = populate(l, td, &s, err);
    _cleanup_free_ char *path = s.id ? xasprintf("%s/%s", l->snapshots_dir, s.id) : NULL;
    if (r == 0 && rename(td, path) < 0)
        r = err_make(err, ERR_INTERNAL, errno, "failed to rename");
    if (r == 0) {
        free(steal_ptr(td));
        r = snapshot_txn_commit(&t, err);
        if (r < 0)
            snapshot_fs_remove_all(path, NULL);
    } else {
        snapshot_txn_abort(&t);
    }
    if (td)
        snapshot_fs_remove_all(td, NULL);
    if (r == 0 && ret)
        build_mounts(l, &s, ret);
    storage_snapshot_clear(&s);
    return r;
}

static int local_prepare(void *self, const char *key, const char *parent,
                         const struct labels *labels, struct mount_list *ret,
                         struct berth_error **err)
{
    return create(self, SNAPSHOT_KIND_ACTIVE, key, parent, labels, ret, err);
}

static int local_view(void *self, const char *key, const char *parent, const struct labels *labels,
                      struct mount_list *ret, struct berth_error **err)
{
    return create(self, SNAPSHOT_KIND_VIEW, key, parent, labels, ret, err);
}

static int local_commit(void *self, const char *name, const char *key, const struct labels *labels,
                        struct berth_error **err)
{
    struct local *l = self;
    struct snapshot_txn t;
    if (snapshot_txn_begin(l->store, true, &t, err) < 0)
        return -1;
    _cleanup_free_ char *id = NULL;
    struct snapshot_usage usage = {0};
    int r = storage_get_info(&t, key, &id, NULL, NULL, err);
    if (r == 0) {
        _cleanup_free_ char *p = upper_path(l, id);
        r = snapshot_fs_usage(p, &usage, err);
    }
    if (r == 0 && storage_commit_active(&t, key, name, &usage, labels, err) < 0)
        r = err_wrap(err, "failed to commit snapshot %s", key);
    if (r == 0)
        return snapshot_txn_commit(&t, err);
    snapshot_txn_abort(&t);
    return -1;
}

/* Directories under snapshots/ that no record names; inside a write transaction. */
static char **cleanup_directories(struct local *l, struct snapshot_txn *t, size_t *ret_n)
{
    char **out = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(l->snapshots_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (storage_id_in_use(t, e->d_name))
            continue;
        out = xreallocarray_grow(out, &cap, n + 1, sizeof(char *));
        out[n++] = xasprintf("%s/%s", l->snapshots_dir, e->d_name);
    }
    if (d)
        closedir(d);
    *ret_n = n;
    return out;
}

static void remove_directories(char **dirs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct berth_error *e = NULL;
        if (snapshot_fs_remove_all(dirs[i], &e) < 0) {
            log_record(LOG_WARN, LOG_FIELDS("path", dirs[i], "error", e->message),
                       "failed to remove directory");
            err_free(e);
        }
        free(dirs[i]);
    }
    free(dirs);
}

static int local_remove(void *self, const char *key, struct berth_error **err)
{
    struct local *l = self;
    struct snapshot_txn t;
    if (snapshot_txn_begin(l->store, true, &t, err) < 0)
        return -1;
    if (storage_remove(&t, key, NULL, NULL, err) < 0) {
        snapshot_txn_abort(&t);
        return err_wrap(err, "failed to remove snapshot %s", key);
    }
    char **dirs = NULL;
    size_t n = 0;
    if (l->options.sync_remove)
        dirs = cleanup_directories(l, &t, &n);
    if (snapshot_txn_commit(&t, err) < 0) {
        for (size_t i = 0; i < n; i++)
            free(dirs[i]);
        free(dirs);
        return -1;
    }
    remove_directories(dirs, n);
    return 0;
}

struct walk_args {
    struct local *l;
    struct snapshot_txn *t;
    snapshot_walk_fn fn;
    void *arg;
};

static int walk_one(const struct snapshot_info *info, void *arg, struct berth_error **err)
{
    struct walk_args *a = arg;
    if (a->l->driver != LOCAL_DRIVER_OVERLAY || !a->l->options.upperdir_label)
        return a->fn(info, a->arg, err);
    struct snapshot_info copy = {.name = info->name,
                                 .parent = info->parent,
                                 .kind = info->kind,
                                 .created_ns = info->created_ns,
                                 .updated_ns = info->updated_ns};
    labels_copy(&copy.labels, &info->labels);
    _cleanup_free_ char *id = NULL;
    if (storage_get_info(a->t, info->name, &id, NULL, NULL, NULL) == 0)
        add_upperdir_label(a->l, &copy, id);
    int r = a->fn(&copy, a->arg, err);
    labels_clear(&copy.labels);
    return r;
}

static int local_walk(void *self, const struct filter *filter, snapshot_walk_fn fn, void *arg,
                      struct berth_error **err)
{
    struct local *l = self;
    struct snapshot_txn t;
    if (snapshot_txn_begin(l->store, false, &t, err) < 0)
        return -1;
    struct walk_args a = {l, &t, fn, arg};
    int r = storage_walk(&t, filter, walk_one, &a, err);
    snapshot_txn_abort(&t);
    return r;
}

static int local_cleanup(void *self, struct berth_error **err)
{
    struct local *l = self;
    struct snapshot_txn t;
    if (snapshot_txn_begin(l->store, true, &t, err) < 0)
        return -1;
    size_t n = 0;
    char **dirs = cleanup_directories(l, &t, &n);
    snapshot_txn_abort(&t);
    remove_directories(dirs, n);
    return 0;
}

static const struct snapshotter_ops local_ops = {
    .stat = local_stat,
    .update = local_update,
    .usage = local_usage,
    .mounts = local_mounts,
    .prepare = local_prepare,
    .view = local_view,
    .commit = local_commit,
    .remove = local_remove,
    .walk = local_walk,
    .cleanup = local_cleanup,
};

static void local_free(struct local *l)
{
    snapshot_store_close(l->store);
    for (size_t i = 0; i < l->n_mount_options; i++)
        free(l->options.mount_options[i]);
    free(l->options.mount_options);
    free(l->root);
    free(l->snapshots_dir);
    free(l->base.name);
    free(l);
}

static void local_close_self(void *self)
{
    local_free(self);
}

int local_snapshotter_open(enum local_driver driver, const char *name, const char *root,
                           const struct local_options *options, struct snapshotter **ret,
                           struct berth_error **err)
{
    if (fs_mkdir_p(root, 0700, err) < 0)
        return -1;
    struct local *l = xcalloc(1, sizeof(*l));
    l->driver = driver;
    l->root = xstrdup(root);
    l->snapshots_dir = xasprintf("%s/snapshots", root);
    l->options.upperdir_label = options && options->upperdir_label;
    l->options.sync_remove = options && options->sync_remove;
    for (size_t i = 0; options && options->mount_options && options->mount_options[i]; i++) {
        l->options.mount_options =
            xrealloc(l->options.mount_options, (l->n_mount_options + 2) * sizeof(char *));
        l->options.mount_options[l->n_mount_options++] = xstrdup(options->mount_options[i]);
        l->options.mount_options[l->n_mount_options] = NULL;
    }
    l->base = (struct snapshotter){
        .ops = &local_ops, .self = l, .name = xstrdup(name), .close = local_close_self};
    _cleanup_free_ char *db = xasprintf("%s/metadata.mdb", root);
    if (snapshot_store_open(db, &l->store, err) < 0) {
        local_free(l);
        return -1;
    }
    if (mkdir(l->snapshots_dir, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        local_free(l);
        return err_make(err, ERR_INTERNAL, e, "mkdir %s/snapshots", root);
    }
    *ret = &l->base;
    return 0;
}

void local_snapshotter_close(struct snapshotter *sn)
{
    if (sn)
        local_free(sn->self);
}
