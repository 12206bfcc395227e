/* Config migration to version 3 on the TOML tree: v1 plugin names, then the v2 -> v3 steps. */
#include "core/config/config-internal.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/toml/toml.h"

#include <string.h>

struct migration {
    const char *file;
    struct berth_error **err;
};

static int type_error(struct migration *m, const char *path, const char *expected,
                      const struct toml_value *v)
{
    return err_make(m->err, ERR_INVALID_ARGUMENT, 0, "%s: %s must be %s, got %s", m->file, path,
                    expected, toml_kind_name(toml_kind(v)));
}

/* ---- version 1: short plugin names ---- */

static const struct {
    const char *v1, *v2;
} v1_core_plugins[] = {
    {"cri", "io.containerd.grpc.v1.cri"},
    {"cgroups", "io.containerd.monitor.v1.cgroups"},
    {"linux", "io.containerd.runtime.v1.linux"},
    {"scheduler", "io.containerd.gc.v1.scheduler"},
    {"bolt", "io.containerd.metadata.v1.bolt"},
    {"task", "io.containerd.runtime.v2.task"},
    {"opt", "io.containerd.internal.v1.opt"},
    {"restart", "io.containerd.internal.v1.restart"},
    {"tracing", "io.containerd.internal.v1.tracing"},
    {"otlp", "io.containerd.tracing.processor.v1.otlp"},
    {"aufs", "io.containerd.snapshotter.v1.aufs"},
    {"btrfs", "io.containerd.snapshotter.v1.btrfs"},
    {"devmapper", "io.containerd.snapshotter.v1.devmapper"},
    {"native", "io.containerd.snapshotter.v1.native"},
    {"overlayfs", "io.containerd.snapshotter.v1.overlayfs"},
    {"zfs", "io.containerd.snapshotter.v1.zfs"},
};

static bool has_suffix(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* The full URI of a v1 plugin name; names holding a '.' are already URIs. */
static char *v1_plugin_name(struct migration *m, const char *name)
{
    if (strchr(name, '.'))
        return xstrdup(name);
    for (size_t i = 0; i < ARRAY_SIZE(v1_core_plugins); i++)
        if (strcmp(name, v1_core_plugins[i].v1) == 0)
            return xstrdup(v1_core_plugins[i].v2);
    if (has_suffix(name, "-service"))
        return xasprintf("io.containerd.service.v1.%s", name);
    char *full;
    if (strcmp(name, "windows") == 0 || strcmp(name, "windows-lcow") == 0)
        full = xasprintf("io.containerd.snapshotter.v1.%s", name);
    else
        full = xasprintf("io.containerd.grpc.v1.%s", name);
    log_record(LOG_WARN, LOG_FIELDS("file", m->file),
               "Ambiguous %s plugin in v1 config, treating as %s", name, full);
    return full;
}

/* Renames the strings of disabled_plugins or required_plugins through rename(). */
static int rename_list(struct migration *m, struct toml_value *root, const char *key,
                       char *(*rename)(struct migration *, const char *))
{
    struct toml_value *list = toml_table_get(root, key);
    if (!list)
        return 0;
    if (!toml_is_array(list))
        return type_error(m, key, "an array of strings", list);
    size_t n = toml_array_count(list);
    for (size_t i = 0; i < n; i++)
        if (toml_kind(toml_array_at(list, i)) != TOML_STRING)
            return type_error(m, key, "an array of strings", toml_array_at(list, i));
    struct toml_value *renamed = toml_array_new();
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *name = rename(m, toml_as_string(toml_array_at(list, i)));
        toml_array_append(renamed, toml_string_new(name));
    }
    toml_table_set(root, key, renamed);
    return 0;
}

/* Puts section under name in plugins, deep-merging it over a section already there. */
static void plugins_put(struct toml_value *plugins, const char *name, struct toml_value *section)
{
    struct toml_value *existing = toml_table_get(plugins, name);
    if (existing && toml_is_table(existing) && toml_is_table(section)) {
        toml_merge(existing, section);
        toml_free(section);
    } else {
        toml_table_set(plugins, name, section);
    }
}

static int migrate_v1(struct migration *m, struct toml_value *root)
{
    struct toml_value *plugins = toml_table_get(root, "plugins");
    if (plugins) {
        if (!toml_is_table(plugins))
            return type_error(m, "plugins", "a table", plugins);
        /* Rebuilt in order, so the file keeps its layout. */
        struct toml_value *renamed = toml_table_new();
        toml_table_set_origin(renamed, toml_table_origin(plugins));
        for (size_t i = 0; i < toml_table_count(plugins); i++) {
            size_t len;
            const char *key = toml_table_key_at(plugins, i, &len);
            struct toml_value *section = toml_copy(toml_table_value_at(plugins, i));
            if (strlen(key) != len) { /* a NUL in the name: no v1 name, kept as is */
                toml_table_setn(renamed, key, len, section);
                continue;
            }
            _cleanup_free_ char *name = v1_plugin_name(m, key);
            plugins_put(renamed, name, section);
        }
        toml_table_set(root, "plugins", renamed); /* frees the old table */
    }
    if (rename_list(m, root, "disabled_plugins", v1_plugin_name) < 0 ||
        rename_list(m, root, "required_plugins", v1_plugin_name) < 0)
        return -1;
    return 0;
}

/* ---- version 2 -> 3: per-plugin migrations ---- */

static const struct {
    const char *v2, *v3;
} v2_renamed_plugins[] = {
    {"io.containerd.monitor.v1.cgroups", "io.containerd.monitor.task.v1.cgroups"},
    {"io.containerd.internal.v1.restart", "io.containerd.monitor.container.v1.restart"},
};

static char *v2_plugin_name(struct migration *m, const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(v2_renamed_plugins); i++)
        if (strcmp(name, v2_renamed_plugins[i].v2) == 0)
            return xstrdup(v2_renamed_plugins[i].v3);
    return xstrdup(name);
}

static void migrate_renamed_plugins(struct toml_value *plugins)
{
    for (size_t i = 0; i < ARRAY_SIZE(v2_renamed_plugins); i++) {
        struct toml_value *section = toml_table_take(plugins, v2_renamed_plugins[i].v2);
        if (section)
            plugins_put(plugins, v2_renamed_plugins[i].v3, section);
    }
}

/* sched_core = true on the task runtime became SCHED_CORE=1 in the shim manager's env. */
static void migrate_sched_core(struct migration *m, struct toml_value *plugins)
{
    struct toml_value *task = toml_table_get(plugins, CONFIG_PLUGIN_RUNTIME_TASK);
    struct toml_value *sched_core =
        toml_is_table(task) ? toml_table_take(task, "sched_core") : NULL;
    if (!sched_core)
        return;
    bool enabled = false;
    if (!toml_as_bool(sched_core, &enabled))
        log_record(LOG_WARN, LOG_FIELDS("file", m->file),
                   "skipping migration for non-boolean 'sched_core' value");
    toml_free(sched_core);
    if (!enabled)
        return;
    struct toml_value *manager = toml_table_ensure_table(plugins, CONFIG_PLUGIN_SHIM_MANAGER);
    if (!manager)
        return;
    struct toml_value *env = toml_table_get(manager, "env");
    if (!toml_is_array(env))
        env = toml_table_set(manager, "env", toml_array_new());
    for (size_t i = 0; i < toml_array_count(env); i++) {
        const char *s = toml_as_string(toml_array_at(env, i));
        if (s && strcmp(s, "SCHED_CORE=1") == 0)
            return;
    }
    toml_array_append(env, toml_string_new("SCHED_CORE=1"));
}

/* Keys of the old CRI section that belong to the image service now. */
static const char *const cri_image_keys[] = {
    "registry",
    "image_decryption",
    "max_concurrent_downloads",
    "image_pull_progress_timeout",
    "image_pull_with_sync_fs",
    "stats_collect_period",
};
static const char *const cri_image_containerd_keys[] = {
    "snapshotter",
    "disable_snapshot_annotations",
    "discard_unpacked_layers",
};
/* ... and those the CRI gRPC server keeps (containerd v2.0.1's list). */
static const char *const cri_server_keys[] = {
    "disable_tcp_service", "stream_server_address", "stream_server_port",
    "stream_idle_timeout", "enable_tls_streaming",  "x509_key_pair_streaming",
};

static void copy_key(struct toml_value *dst, const struct toml_value *src, const char *key)
{
    const struct toml_value *v = toml_table_get(src, key);
    if (v)
        toml_table_set(dst, key, toml_copy(v));
}

/* Checks the shape the migration walks: containerd.runtimes.<name> are tables. */
static int check_cri_shape(struct migration *m, const struct toml_value *cri,
                           const struct toml_value **ret_runtimes)
{
    *ret_runtimes = NULL;
    const struct toml_value *containerd = toml_table_get(cri, "containerd");
    if (!containerd)
        return 0;
    if (!toml_is_table(containerd))
        return type_error(m, "plugins.\"" CONFIG_PLUGIN_CRI_SERVER "\".containerd", "a table",
                          containerd);
    const struct toml_value *runtimes = toml_table_get(containerd, "runtimes");
    if (!runtimes)
        return 0;
    if (!toml_is_table(runtimes))
        return type_error(m, "plugins.\"" CONFIG_PLUGIN_CRI_SERVER "\".containerd.runtimes",
                          "a table", runtimes);
    for (size_t i = 0; i < toml_table_count(runtimes); i++) {
        if (!toml_is_table(toml_table_value_at(runtimes, i))) {
            _cleanup_free_ char *path =
                config_key_join("plugins.\"" CONFIG_PLUGIN_CRI_SERVER "\".containerd.runtimes",
                                toml_table_key_at(runtimes, i, NULL));
            return type_error(m, path, "a table", toml_table_value_at(runtimes, i));
        }
    }
    *ret_runtimes = runtimes;
    return 0;
}

/* The image service's share of the old CRI section, merged into its v3 section. */
static void build_cri_images(const struct toml_value *cri, const struct toml_value *runtimes,
                             struct toml_value *images)
{
    const struct toml_value *sandbox_image = toml_table_get(cri, "sandbox_image");
    if (sandbox_image) {
        struct toml_value *pinned = toml_table_ensure_table(images, "pinned_images");
        if (pinned)
            toml_table_set(pinned, "sandbox", toml_copy(sandbox_image));
    }
    for (size_t i = 0; i < ARRAY_SIZE(cri_image_keys); i++)
        copy_key(images, cri, cri_image_keys[i]);
    const struct toml_value *containerd = toml_table_get(cri, "containerd");
    for (size_t i = 0; containerd && i < ARRAY_SIZE(cri_image_containerd_keys); i++)
        copy_key(images, containerd, cri_image_containerd_keys[i]);

    /*
     * A runtime's own snapshotter also decides where its images are unpacked: that is
     * runtime_platforms.<runtime>.snapshotter in v3. The platform is left out, which means the
     * host's default platform, what containerd meant to write.
     */
    for (size_t i = 0; runtimes && i < toml_table_count(runtimes); i++) {
        const struct toml_value *runtime = toml_table_value_at(runtimes, i);
        const char *snapshotter = toml_as_string(toml_table_get(runtime, "snapshotter"));
        if (!snapshotter || !*snapshotter)
            continue;
        struct toml_value *platforms = toml_table_get(images, "runtime_platforms");
        if (!platforms) {
            platforms = toml_table_set(images, "runtime_platforms", toml_table_new());
            toml_table_set_origin(platforms, TOML_TABLE_IMPLICIT); /* no header of its own */
        }
        if (!toml_is_table(platforms))
            continue;
        struct toml_value *entry =
            toml_table_ensure_table(platforms, toml_table_key_at(runtimes, i, NULL));
        if (entry)
            toml_table_set(entry, "snapshotter", toml_string_new(snapshotter));
    }
}

/* The runtime service's share: everything not moved to images or kept by the server. */
static struct toml_value *build_cri_runtime(const struct toml_value *cri)
{
    struct toml_value *runtime = toml_copy(cri);
    toml_table_remove(runtime, "sandbox_image");
    for (size_t i = 0; i < ARRAY_SIZE(cri_image_keys); i++)
        toml_table_remove(runtime, cri_image_keys[i]);
    for (size_t i = 0; i < ARRAY_SIZE(cri_server_keys); i++)
        toml_table_remove(runtime, cri_server_keys[i]);
    struct toml_value *containerd = toml_table_get(runtime, "containerd");
    if (!containerd)
        return runtime;
    for (size_t i = 0; i < ARRAY_SIZE(cri_image_containerd_keys); i++)
        toml_table_remove(containerd, cri_image_containerd_keys[i]);
    struct toml_value *runtimes = toml_table_get(containerd, "runtimes");
    for (size_t i = 0; i < toml_table_count(runtimes); i++) {
        struct toml_value *r = toml_table_value_at(runtimes, i);
        struct toml_value *mode = toml_table_take(r, "sandbox_mode");
        if (mode && !toml_table_get(r, "sandboxer"))
            toml_table_set(r, "sandboxer", mode);
        else
            toml_free(mode);
    }
    if (toml_table_count(containerd) == 0)
        toml_table_remove(runtime, "containerd");
    return runtime;
}

/*
 * containerd 2.0 split io.containerd.grpc.v1.cri into the image service, the runtime service and
 * the CRI gRPC server. Each key goes to exactly one of them.
 */
static int migrate_cri(struct migration *m, struct toml_value *plugins)
{
    struct toml_value *cri = toml_table_get(plugins, CONFIG_PLUGIN_CRI_SERVER);
    if (!cri)
        return 0;
    if (!toml_is_table(cri))
        return type_error(m, "plugins.\"" CONFIG_PLUGIN_CRI_SERVER "\"", "a table", cri);
    const struct toml_value *runtimes;
    if (check_cri_shape(m, cri, &runtimes) < 0)
        return -1;

    struct toml_value *images = toml_table_get(plugins, CONFIG_PLUGIN_CRI_IMAGES);
    if (images && !toml_is_table(images))
        return type_error(m, "plugins.\"" CONFIG_PLUGIN_CRI_IMAGES "\"", "a table", images);
    struct toml_value *new_images = images ? NULL : toml_table_new();
    build_cri_images(cri, runtimes, images ? images : new_images);
    if (new_images && toml_table_count(new_images))
        toml_table_set(plugins, CONFIG_PLUGIN_CRI_IMAGES, steal_ptr(new_images));
    toml_free(new_images);

    struct toml_value *runtime = build_cri_runtime(cri);
    if (toml_table_count(runtime))
        plugins_put(plugins, CONFIG_PLUGIN_CRI_RUNTIME, runtime);
    else
        toml_free(runtime);

    struct toml_value *server = toml_table_new();
    for (size_t i = 0; i < ARRAY_SIZE(cri_server_keys); i++)
        copy_key(server, cri, cri_server_keys[i]);
    if (toml_table_count(server)) {
        toml_table_set_origin(server, toml_table_origin(cri));
        toml_table_set(plugins, CONFIG_PLUGIN_CRI_SERVER, server);
    } else {
        toml_free(server);
        toml_table_remove(plugins, CONFIG_PLUGIN_CRI_SERVER);
    }
    return 0;
}

static int migrate_v2(struct migration *m, struct toml_value *root)
{
    struct toml_value *plugins = toml_table_get(root, "plugins");
    if (plugins) {
        if (!toml_is_table(plugins))
            return type_error(m, "plugins", "a table", plugins);
        migrate_renamed_plugins(plugins);
        migrate_sched_core(m, plugins);
        if (migrate_cri(m, plugins) < 0)
            return -1;
    }
    if (rename_list(m, root, "disabled_plugins", v2_plugin_name) < 0 ||
        rename_list(m, root, "required_plugins", v2_plugin_name) < 0)
        return -1;
    return 0;
}

/* Sets version = 3 as the first key, where a reader looks for it. */
static void set_version_first(struct toml_value *root)
{
    for (size_t i = 0; i < toml_table_count(root); i++) {
        size_t len;
        if (strlen(toml_table_key_at(root, i, &len)) != len) {
            /* keys with NULs cannot be moved by name: leave the order alone */
            toml_table_set(root, "version", toml_int_new(CONFIG_VERSION));
            return;
        }
    }
    toml_table_remove(root, "version");
    struct toml_value *rest = toml_table_new();
    while (toml_table_count(root)) {
        size_t len;
        _cleanup_free_ char *key = xstrdup(toml_table_key_at(root, 0, &len));
        toml_table_setn(rest, key, len, toml_table_take(root, key));
    }
    toml_table_set(root, "version", toml_int_new(CONFIG_VERSION));
    while (toml_table_count(rest)) {
        size_t len;
        _cleanup_free_ char *key = xstrdup(toml_table_key_at(rest, 0, &len));
        toml_table_setn(root, key, len, toml_table_take(rest, key));
    }
    toml_free(rest);
}

int config_migrate_tree(struct toml_value *root, const char *filename, int *ret_from_version,
                        struct berth_error **err)
{
    struct migration m = {.file = filename ? filename : "<input>", .err = err};
    if (!toml_is_table(root))
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "%s: not a TOML table", m.file);
    int64_t version = 1;
    const struct toml_value *v = toml_table_get(root, "version");
    if (v && !toml_as_int(v, &version))
        return type_error(&m, "version", "an integer", v);
    if (version > CONFIG_VERSION)
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "%s: expected config version equal to or less than `%d`, got `%lld`",
                        m.file, CONFIG_VERSION, (long long)version);
    if (version < 0)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "%s: invalid config version `%lld`", m.file,
                        (long long)version);
    /* Version 0 is not defined: containerd reads it as 1, and so does Berth. */
    if (version < 2 && migrate_v1(&m, root) < 0)
        return -1;
    if (version < 3 && migrate_v2(&m, root) < 0)
        return -1;
    if (version < 3)
        set_version_first(root);
    if (ret_from_version)
        *ret_from_version = (int)version;
    return 0;
}
