/*
 * io.containerd.shim.v1 "manager" (how shims are launched: env) and io.containerd.runtime.v2
 * "task" (the task manager the Tasks service drives), as containerd registers them.
 */
#include "core/metadata/db.h"
#include "core/plugin/plugin.h"
#include "core/runtime/runtime.h"
#include "core/runtime/task_manager.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/toml/toml.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct shim_manager {
    struct shim_launch launch;
    char **env;
    char *shim_dirs[3];
    char *publish_binary;
};

static struct toml_value *manager_defaults(void)
{
    struct toml_value *t = toml_table_new();
    toml_table_set(t, "env", toml_array_new());
    return t;
}

/*
 * Berth's own shims come first: the installed libexec dir, then the same layout beside this
 * executable (an unpacked install), then the build tree (build/cmd/berthd → build/cmd/shim).
 */
static void shim_dirs(struct shim_manager *m)
{
    size_t n = 0;
    m->shim_dirs[n++] = xstrdup(BERTH_LIBEXEC_DIR);
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len > 0) {
        self[len] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            m->shim_dirs[n++] = xasprintf("%s/../libexec/berth", self);
            m->shim_dirs[n++] = xasprintf("%s/../shim", self);
        }
    }
    m->launch.shim_dirs = (const char *const *)m->shim_dirs;
    m->launch.n_shim_dirs = n;
}

static int manager_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct shim_manager *m = xcalloc(1, sizeof(*m));
    const struct toml_value *env = toml_table_get(plugin_context_config(ctx), "env");
    size_t n = env && toml_is_array(env) ? toml_array_count(env) : 0;
    m->env = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const char *s = toml_as_string(toml_array_at(env, i));
        if (!s) {
            for (size_t j = 0; j < i; j++)
                free(m->env[j]);
            free(m->env);
            free(m);
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "env entries must be strings");
        }
        m->env[i] = xstrdup(s);
    }
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    m->publish_binary = len > 0 ? xstrndup(self, (size_t)len) : xstrdup("berthd");
    m->launch = (struct shim_launch){
        .grpc_address = plugin_context_grpc_address(ctx),
        .ttrpc_address = plugin_context_ttrpc_address(ctx),
        .publish_binary = m->publish_binary,
        .env = (const char *const *)m->env,
        .n_env = n,
        .debug = log_enabled(LOG_DEBUG),
    };
    shim_dirs(m);
    *ret = m;
    return 0;
}

static void manager_close(void *instance)
{
    struct shim_manager *m = instance;
    for (size_t i = 0; m->env[i]; i++)
        free(m->env[i]);
    free(m->env);
    for (size_t i = 0; i < ARRAY_SIZE(m->shim_dirs); i++)
        free(m->shim_dirs[i]);
    free(m->publish_binary);
    free(m);
}

static const char *const manager_requires[] = {PLUGIN_EVENT, PLUGIN_METADATA, NULL};

const struct plugin_registration shim_manager_plugin = {
    .type = PLUGIN_SHIM,
    .id = "manager",
    .requires = manager_requires,
    .default_config = manager_defaults,
    .init = manager_init,
    .close = manager_close,
};

static struct toml_value *task_defaults(void)
{
    struct toml_value *t = toml_table_new();
    struct toml_value *platforms = toml_array_new();
    toml_array_append(platforms, toml_string_new(RUNTIME_HOST_PLATFORM));
    toml_table_set(t, "platforms", platforms);
    return t;
}

static int task_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct shim_manager *m = plugin_context_get(ctx, PLUGIN_SHIM, "manager");
    struct event_exchange *events = plugin_context_get_by_type(ctx, PLUGIN_EVENT);
    struct metadata_db *db = plugin_context_get_by_type(ctx, PLUGIN_METADATA);
    if (!m || !events)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "no shim manager or event exchange");
    const struct toml_value *platforms = toml_table_get(plugin_context_config(ctx), "platforms");
    for (size_t i = 0; platforms && toml_is_array(platforms) && i < toml_array_count(platforms);
         i++) {
        const char *p = toml_as_string(toml_array_at(platforms, i));
        if (p)
            plugin_context_add_platform(ctx, p);
    }
    struct task_manager_config config = {
        .root = plugin_context_root(ctx),
        .state = plugin_context_state(ctx),
        .launch = m->launch,
    };
    struct task_manager *tm = task_manager_new(&config, events, db, err);
    if (!tm)
        return -1;
    *ret = tm;
    return 0;
}

static void task_close(void *instance)
{
    task_manager_free(instance);
}

static const char *const task_requires[] = {PLUGIN_EVENT, PLUGIN_METADATA, PLUGIN_SHIM, NULL};

const struct plugin_registration task_runtime_plugin = {
    .type = PLUGIN_RUNTIME_V2,
    .id = "task",
    .requires = task_requires,
    .default_config = task_defaults,
    .init = task_init,
    .close = task_close,
};
