/* A config as a version 3 TOML document, optionally with every plugin's defaults filled in. */
#include "core/config/config-internal.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "lib/toml/toml.h"

#include <stdlib.h>
#include <string.h>

static void put_string(struct toml_value *t, const char *key, const char *value)
{
    toml_table_set(t, key, toml_string_new(value));
}

static void put_int(struct toml_value *t, const char *key, int64_t value)
{
    toml_table_set(t, key, toml_int_new(value));
}

static void put_strings(struct toml_value *t, const char *key, const struct config_strings *s)
{
    struct toml_value *a = toml_table_set(t, key, toml_array_new());
    for (size_t i = 0; i < s->count; i++)
        toml_array_append(a, toml_string_new(s->items[i]));
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Map-like sections are written in key order (as containerd's encoder does), not file order. */
static const char **sorted_keys(const struct toml_value *table, size_t *ret_n)
{
    size_t n = toml_table_count(table);
    const char **keys = xcalloc(n ? n : 1, sizeof(*keys));
    for (size_t i = 0; i < n; i++)
        keys[i] = toml_table_key_at(table, i, NULL);
    if (n > 1)
        qsort(keys, n, sizeof(*keys), compare_strings);
    *ret_n = n;
    return keys;
}

static struct toml_value *plugins_tree(const struct berth_config *c,
                                       const struct plugin_set *plugins)
{
    _cleanup_toml_ struct toml_value *all = toml_copy(c->plugins);
    for (size_t i = 0; plugins && i < plugin_set_count(plugins); i++) {
        const struct plugin_registration *reg = plugin_set_at(plugins, i)->reg;
        if (!reg->default_config || config_plugin_disabled(c, reg->type, reg->id))
            continue;
        struct toml_value *defaults = reg->default_config();
        if (!defaults)
            continue;
        _cleanup_free_ char *uri = xasprintf("%s.%s", reg->type, reg->id);
        const struct toml_value *configured = toml_table_get(c->plugins, uri);
        if (toml_is_table(configured))
            toml_merge(defaults, configured);
        toml_table_set(all, uri, defaults);
    }
    struct toml_value *out = toml_table_new();
    size_t n;
    _cleanup_free_ const char **keys = sorted_keys(all, &n);
    for (size_t i = 0; i < n; i++)
        toml_table_set(out, keys[i], toml_copy(toml_table_get(all, keys[i])));
    return out;
}

static int compare_proxies(const void *a, const void *b)
{
    return strcmp(((const struct config_proxy_plugin *)a)->name,
                  ((const struct config_proxy_plugin *)b)->name);
}

static struct toml_value *proxy_tree(const struct berth_config *c)
{
    struct toml_value *out = toml_table_new();
    if (!c->n_proxy_plugins)
        return out;
    _cleanup_free_ struct config_proxy_plugin *sorted =
        xmemdup(c->proxy_plugins, c->n_proxy_plugins * sizeof(*c->proxy_plugins));
    qsort(sorted, c->n_proxy_plugins, sizeof(*sorted), compare_proxies);
    for (size_t i = 0; i < c->n_proxy_plugins; i++) {
        const struct config_proxy_plugin *p = &sorted[i];
        struct toml_value *t = toml_table_set(out, p->name, toml_table_new());
        put_string(t, "type", p->type);
        put_string(t, "address", p->address);
        put_string(t, "platform", p->platform);
        if (p->exports.count) {
            struct toml_value *exports = toml_table_set(t, "exports", toml_table_new());
            for (size_t k = 0; k + 1 < p->exports.count; k += 2)
                put_string(exports, p->exports.items[k], p->exports.items[k + 1]);
        }
        put_strings(t, "capabilities", &p->capabilities);
    }
    return out;
}

static int compare_timeouts(const void *a, const void *b)
{
    return strcmp(((const struct config_timeout *)a)->name,
                  ((const struct config_timeout *)b)->name);
}

static struct toml_value *timeouts_tree(const struct berth_config *c)
{
    struct toml_value *out = toml_table_new();
    if (!c->n_timeouts)
        return out;
    _cleanup_free_ struct config_timeout *sorted =
        xmemdup(c->timeouts, c->n_timeouts * sizeof(*c->timeouts));
    qsort(sorted, c->n_timeouts, sizeof(*sorted), compare_timeouts);
    for (size_t i = 0; i < c->n_timeouts; i++)
        put_string(out, sorted[i].name, sorted[i].duration);
    return out;
}

static int compare_processors(const void *a, const void *b)
{
    return strcmp(((const struct config_stream_processor *)a)->id,
                  ((const struct config_stream_processor *)b)->id);
}

static struct toml_value *processors_tree(const struct berth_config *c)
{
    struct toml_value *out = toml_table_new();
    if (!c->n_stream_processors)
        return out;
    _cleanup_free_ struct config_stream_processor *sorted =
        xmemdup(c->stream_processors, c->n_stream_processors * sizeof(*c->stream_processors));
    qsort(sorted, c->n_stream_processors, sizeof(*sorted), compare_processors);
    for (size_t i = 0; i < c->n_stream_processors; i++) {
        const struct config_stream_processor *p = &sorted[i];
        struct toml_value *t = toml_table_set(out, p->id, toml_table_new());
        put_strings(t, "accepts", &p->accepts);
        put_string(t, "returns", p->returns);
        put_string(t, "path", p->path);
        put_strings(t, "args", &p->args);
        put_strings(t, "env", &p->env);
    }
    return out;
}

char *config_to_toml(const struct berth_config *c, const struct plugin_set *plugins)
{
    _cleanup_toml_ struct toml_value *root = toml_table_new();
    put_int(root, "version", CONFIG_VERSION);
    put_string(root, "root", c->root);
    put_string(root, "state", c->state);
    put_string(root, "temp", c->temp);
    put_string(root, "plugin_dir", c->plugin_dir);
    put_strings(root, "disabled_plugins", &c->disabled_plugins);
    put_strings(root, "required_plugins", &c->required_plugins);
    put_int(root, "oom_score", c->oom_score);
    put_strings(root, "imports", &c->imports);

    struct toml_value *grpc = toml_table_set(root, "grpc", toml_table_new());
    put_string(grpc, "address", c->grpc.address);
    put_string(grpc, "tcp_address", c->grpc.tcp_address);
    put_string(grpc, "tcp_tls_ca", c->grpc.tcp_tls_ca);
    put_string(grpc, "tcp_tls_cert", c->grpc.tcp_tls_cert);
    put_string(grpc, "tcp_tls_key", c->grpc.tcp_tls_key);
    put_int(grpc, "uid", c->grpc.uid);
    put_int(grpc, "gid", c->grpc.gid);
    put_int(grpc, "max_recv_message_size", c->grpc.max_recv_message_size);
    put_int(grpc, "max_send_message_size", c->grpc.max_send_message_size);

    struct toml_value *ttrpc = toml_table_set(root, "ttrpc", toml_table_new());
    put_string(ttrpc, "address", c->ttrpc.address);
    put_int(ttrpc, "uid", c->ttrpc.uid);
    put_int(ttrpc, "gid", c->ttrpc.gid);

    struct toml_value *debug = toml_table_set(root, "debug", toml_table_new());
    put_string(debug, "address", c->debug.address);
    put_int(debug, "uid", c->debug.uid);
    put_int(debug, "gid", c->debug.gid);
    put_string(debug, "level", c->debug.level);
    put_string(debug, "format", c->debug.format);

    struct toml_value *metrics = toml_table_set(root, "metrics", toml_table_new());
    put_string(metrics, "address", c->metrics.address);
    toml_table_set(metrics, "grpc_histogram", toml_bool_new(c->metrics.grpc_histogram));

    struct toml_value *cgroup = toml_table_set(root, "cgroup", toml_table_new());
    put_string(cgroup, "path", c->cgroup_path);

    toml_table_set(root, "plugins", plugins_tree(c, plugins));
    toml_table_set(root, "proxy_plugins", proxy_tree(c));
    toml_table_set(root, "timeouts", timeouts_tree(c));
    toml_table_set(root, "stream_processors", processors_tree(c));
    return toml_write(root);
}
