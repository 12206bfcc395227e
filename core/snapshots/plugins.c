/*
 * io.containerd.snapshotter.v1 "overlayfs" and "native": config, kernel probes and registration.
 * overlayfs is skipped (with the reason) where the kernel cannot mount overlay at its root.
 */
#include "core/plugin/plugin.h"
#include "core/snapshots/fsutil.h"
#include "core/snapshots/local.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/toml/toml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* A test mount like containerd's overlayutils.Supported: two lowers, an upper and a work dir. */
static int try_overlay_mount(const char *root, const char *extra, struct berth_error **err)
{
    char *td = xasprintf("%s/overlay-check-XXXXXX", root);
    if (!mkdtemp(td)) {
        int e = errno;
        free(td);
        return err_make(err, ERR_INTERNAL, e, "create overlay check dir in %s", root);
    }
    static const char *const dirs[] = {"lower1", "lower2", "upper", "work", "merged"};
    int r = 0;
    for (size_t i = 0; i < ARRAY_SIZE(dirs) && r == 0; i++) {
        _cleanup_free_ char *p = xasprintf("%s/%s", td, dirs[i]);
        if (mkdir(p, 0755) < 0)
            r = err_make(err, ERR_INTERNAL, errno, "mkdir %s", p);
    }
    if (r == 0) {
        _cleanup_free_ char *opts =
            xasprintf("lowerdir=%s/lower2:%s/lower1,upperdir=%s/upper,workdir=%s/work%s%s", td, td,
                      td, td, extra ? "," : "", extra ? extra : "");
        _cleanup_free_ char *merged = xasprintf("%s/merged", td);
        if (mount("overlay", merged, "overlay", 0, opts) < 0)
            r = err_make(err, ERR_NOT_IMPLEMENTED, errno, "failed to mount overlay");
        else
            umount2(merged, MNT_DETACH);
    }
    snapshot_fs_remove_all(td, NULL);
    free(td);
    return r;
}

int overlay_check_supported(const char *root, struct berth_error **err)
{
    if (fs_mkdir_p(root, 0700, err) < 0)
        return -1;
    if (try_overlay_mount(root, NULL, err) < 0)
        return err_wrap(err, "overlayfs not supported");
    return 0;
}

/* Outside a user namespace (a full uid map) trusted xattrs work; inside one userxattr is needed. */
bool overlay_needs_userxattr(const char *root)
{
    _cleanup_free_ char *map = NULL;
    if (fs_read_small_file("/proc/self/uid_map", 65536, &map, NULL) < 0)
        return false;
    unsigned long a, b, c;
    if (sscanf(map, "%lu %lu %lu", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295UL)
        return false;
    return try_overlay_mount(root, "userxattr", NULL) == 0;
}

bool overlay_supports_index(void)
{
    return access("/sys/module/overlay/parameters/index", F_OK) == 0;
}

static bool config_bool(const struct toml_value *config, const char *key)
{
    bool v = false;
    toml_as_bool(toml_table_get(config, key), &v);
    return v;
}

static const char *root_of(struct plugin_context *ctx)
{
    const char *path = toml_as_string(toml_table_get(plugin_context_config(ctx), "root_path"));
    return path && path[0] ? path : plugin_context_root(ctx);
}

static bool has_option(char **options, size_t n, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < n; i++)
        if (strcmp(options[i], key) == 0 ||
            (strncmp(options[i], key, kl) == 0 && options[i][kl] == '='))
            return true;
    return false;
}

static struct toml_value *overlay_default_config(void)
{
    struct toml_value *t = toml_table_new();
    toml_table_set(t, "root_path", toml_string_new(""));
    toml_table_set(t, "upperdir_label", toml_bool_new(false));
    toml_table_set(t, "sync_remove", toml_bool_new(false));
    toml_table_set(t, "slow_chown", toml_bool_new(false));
    toml_table_set(t, "mount_options", toml_array_new());
    return t;
}

static int overlay_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    const struct toml_value *config = plugin_context_config(ctx);
    const char *root = root_of(ctx);
    if (overlay_check_supported(root, err) < 0)
        return PLUGIN_SKIP;
    const struct toml_value *list = toml_table_get(config, "mount_options");
    size_t n = list ? toml_array_count(list) : 0;
    char **options = xcalloc(n + 3, sizeof(char *));
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        const char *o = toml_as_string(toml_array_at(list, i));
        if (o)
            options[count++] = (char *)o;
    }
    if (!has_option(options, count, "userxattr") && overlay_needs_userxattr(root))
        options[count++] = "userxattr";
    if (!has_option(options, count, "index") && overlay_supports_index())
        options[count++] = "index=off";
    struct local_options lo = {
        .upperdir_label = config_bool(config, "upperdir_label"),
        .sync_remove = config_bool(config, "sync_remove"),
        .mount_options = options,
    };
    struct snapshotter *sn;
    int r = local_snapshotter_open(LOCAL_DRIVER_OVERLAY, "overlayfs", root, &lo, &sn, err);
    free(options);
    if (r < 0)
        return -1;
    /* idmapped mounts are not offered yet, so only the "only-remap-ids" promise is made */
    if (!config_bool(config, "slow_chown"))
        plugin_context_add_capability(ctx, "only-remap-ids");
    plugin_context_export(ctx, "root", root);
    *ret = sn;
    return 0;
}

static struct toml_value *native_default_config(void)
{
    struct toml_value *t = toml_table_new();
    toml_table_set(t, "root_path", toml_string_new(""));
    return t;
}

static int native_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    const char *root = root_of(ctx);
    struct local_options lo = {.sync_remove = false};
    struct snapshotter *sn;
    if (local_snapshotter_open(LOCAL_DRIVER_NATIVE, "native", root, &lo, &sn, err) < 0)
        return -1;
    plugin_context_export(ctx, "root", root);
    *ret = sn;
    return 0;
}

static void snapshotter_plugin_close(void *instance)
{
    local_snapshotter_close(instance);
}

const struct plugin_registration overlay_snapshotter_plugin = {
    .type = PLUGIN_SNAPSHOTTER,
    .id = "overlayfs",
    .default_config = overlay_default_config,
    .init = overlay_init,
    .close = snapshotter_plugin_close,
};

const struct plugin_registration native_snapshotter_plugin = {
    .type = PLUGIN_SNAPSHOTTER,
    .id = "native",
    .default_config = native_default_config,
    .init = native_init,
    .close = snapshotter_plugin_close,
};
