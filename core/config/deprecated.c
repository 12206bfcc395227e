/* Deprecated and removed config properties (RELEASES.md's table), found in a loaded config. */
#include "core/config/config-internal.h"
#include "core/deprecation/deprecation.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/toml/toml.h"

#include <string.h>

static void record(struct berth_config *c, const char *id)
{
    config_strings_append_unique(&c->deprecations, id);
    deprecation_warn(id);
}

static bool non_empty_table(const struct toml_value *v)
{
    return toml_is_table(v) && toml_table_count(v) > 0;
}

static bool non_empty_string(const struct toml_value *v)
{
    const char *s = toml_as_string(v);
    return s && *s;
}

static bool true_bool(const struct toml_value *v)
{
    bool b = false;
    return toml_as_bool(v, &b) && b;
}

static bool non_zero_number(const struct toml_value *v)
{
    double d;
    int64_t i;
    if (toml_as_float(v, &d))
        return d != 0;
    return toml_as_int(v, &i) && i != 0;
}

/* Properties containerd 2.0 dropped from the CRI runtime config; now ignored. */
static const struct {
    const char *path; /* under the runtime section; "*" is any runtime */
    const char *advice;
} removed_cri[] = {
    {"systemd_cgroup", "use SystemdCgroup in the runc runtime's options"},
    {"disable_cgroup", "no replacement"},
    {"containerd.untrusted_workload_runtime", "define the untrusted runtime under runtimes"},
    {"containerd.default_runtime", "use default_runtime_name"},
    {"containerd.runtimes.*.runtime_engine", "use a runtime v2 shim (runtime_type)"},
    {"containerd.runtimes.*.runtime_root", "use options.Root"},
    {"containerd.runtimes.*.options.CriuPath", "put the criu binary on $PATH"},
};

static void warn_removed(const char *key, const char *advice)
{
    log_record(LOG_WARN, LOG_FIELDS("plugin", CONFIG_PLUGIN_CRI_RUNTIME, "key", key),
               "Ignoring config property removed in containerd v2.0: %s", advice);
}

static void check_removed_cri(const struct toml_value *runtime)
{
    const struct toml_value *runtimes = toml_get_path(runtime, "containerd", "runtimes", NULL);
    for (size_t i = 0; i < ARRAY_SIZE(removed_cri); i++) {
        const char *path = removed_cri[i].path;
        const char *star = strstr(path, ".*.");
        if (!star) {
            if (toml_get_dotted(runtime, path))
                warn_removed(path, removed_cri[i].advice);
            continue;
        }
        const char *rest = star + 3;
        for (size_t r = 0; r < toml_table_count(runtimes); r++) {
            if (!toml_get_dotted(toml_table_value_at(runtimes, r), rest))
                continue;
            _cleanup_free_ char *runtime_path =
                config_key_join("containerd.runtimes", toml_table_key_at(runtimes, r, NULL));
            _cleanup_free_ char *key = xasprintf("%s.%s", runtime_path, rest);
            warn_removed(key, removed_cri[i].advice);
        }
    }
}

void config_check_deprecated(struct berth_config *c)
{
    if (*c->plugin_dir)
        record(c, DEPRECATION_GO_PLUGIN_LIBRARY);

    const struct toml_value *registry =
        toml_get_path(c->plugins, CONFIG_PLUGIN_CRI_IMAGES, "registry", NULL);
    if (non_empty_table(toml_table_get(registry, "mirrors")))
        record(c, DEPRECATION_CRI_REGISTRY_MIRRORS);
    if (non_empty_table(toml_table_get(registry, "configs")))
        record(c, DEPRECATION_CRI_REGISTRY_CONFIGS);
    if (non_empty_table(toml_table_get(registry, "auths")))
        record(c, DEPRECATION_CRI_REGISTRY_AUTHS);

    const struct toml_value *otlp = toml_table_get(c->plugins, CONFIG_PLUGIN_OTLP);
    if (non_empty_string(toml_table_get(otlp, "endpoint")) ||
        non_empty_string(toml_table_get(otlp, "protocol")) ||
        true_bool(toml_table_get(otlp, "insecure")))
        record(c, DEPRECATION_TRACING_PROCESSOR_CONFIG);

    const struct toml_value *tracing = toml_table_get(c->plugins, CONFIG_PLUGIN_TRACING);
    if (non_empty_string(toml_table_get(tracing, "service_name")) ||
        non_zero_number(toml_table_get(tracing, "sampling_ratio")))
        record(c, DEPRECATION_TRACING_SERVICE_CONFIG);

    const struct toml_value *runtime = toml_table_get(c->plugins, CONFIG_PLUGIN_CRI_RUNTIME);
    if (toml_is_table(runtime))
        check_removed_cri(runtime);
}
