/* containerd's mergeConfig rules for one loaded file over the config built so far. */
#include "core/config/config-internal.h"
#include "lib/base/alloc.h"
#include "lib/toml/toml.h"

#include <string.h>

/* A later non-empty string wins. */
static void merge_string(char **dst, const char *src)
{
    if (!*src)
        return;
    free(*dst);
    *dst = xstrdup(src);
}

/* A later non-zero number wins (so a later 0 cannot reset an earlier value, as in containerd). */
static void merge_int(int64_t *dst, int64_t src)
{
    if (src)
        *dst = src;
}

static void merge_list(struct config_strings *dst, const struct config_strings *src)
{
    for (size_t i = 0; i < src->count; i++)
        config_strings_append_unique(dst, src->items[i]);
}

static void copy_proxy(struct config_proxy_plugin *dst, const struct config_proxy_plugin *src)
{
    *dst = (struct config_proxy_plugin){
        .name = xstrdup(src->name),
        .type = xstrdup(src->type),
        .address = xstrdup(src->address),
        .platform = xstrdup(src->platform),
    };
    config_strings_copy(&dst->exports, &src->exports);
    config_strings_copy(&dst->capabilities, &src->capabilities);
}

static void copy_processor(struct config_stream_processor *dst,
                           const struct config_stream_processor *src)
{
    *dst = (struct config_stream_processor){
        .id = xstrdup(src->id),
        .returns = xstrdup(src->returns),
        .path = xstrdup(src->path),
    };
    config_strings_copy(&dst->accepts, &src->accepts);
    config_strings_copy(&dst->args, &src->args);
    config_strings_copy(&dst->env, &src->env);
}

/* Map entries are replaced whole: the later file's entry is taken as it is. */
static void merge_proxies(struct berth_config *dst, const struct berth_config *src)
{
    for (size_t i = 0; i < src->n_proxy_plugins; i++) {
        const struct config_proxy_plugin *s = &src->proxy_plugins[i];
        size_t j = 0;
        while (j < dst->n_proxy_plugins && strcmp(dst->proxy_plugins[j].name, s->name) != 0)
            j++;
        if (j == dst->n_proxy_plugins)
            dst->proxy_plugins = xrealloc(dst->proxy_plugins,
                                          (++dst->n_proxy_plugins) * sizeof(*dst->proxy_plugins));
        else
            config_proxy_plugin_clear(&dst->proxy_plugins[j]);
        copy_proxy(&dst->proxy_plugins[j], s);
    }
}

static void merge_processors(struct berth_config *dst, const struct berth_config *src)
{
    for (size_t i = 0; i < src->n_stream_processors; i++) {
        const struct config_stream_processor *s = &src->stream_processors[i];
        size_t j = 0;
        while (j < dst->n_stream_processors && strcmp(dst->stream_processors[j].id, s->id) != 0)
            j++;
        if (j == dst->n_stream_processors)
            dst->stream_processors =
                xrealloc(dst->stream_processors,
                         (++dst->n_stream_processors) * sizeof(*dst->stream_processors));
        else
            config_stream_processor_clear(&dst->stream_processors[j]);
        copy_processor(&dst->stream_processors[j], s);
    }
}

static void merge_timeouts(struct berth_config *dst, const struct berth_config *src)
{
    for (size_t i = 0; i < src->n_timeouts; i++) {
        const struct config_timeout *s = &src->timeouts[i];
        size_t j = 0;
        while (j < dst->n_timeouts && strcmp(dst->timeouts[j].name, s->name) != 0)
            j++;
        if (j == dst->n_timeouts) {
            dst->timeouts = xrealloc(dst->timeouts, (++dst->n_timeouts) * sizeof(*dst->timeouts));
            dst->timeouts[j].name = xstrdup(s->name);
        } else {
            free(dst->timeouts[j].duration);
        }
        dst->timeouts[j].duration = xstrdup(s->duration);
    }
}

void config_merge(struct berth_config *dst, const struct berth_config *src)
{
    if (src->version)
        dst->version = src->version;
    merge_string(&dst->root, src->root);
    merge_string(&dst->state, src->state);
    merge_string(&dst->temp, src->temp);
    merge_string(&dst->plugin_dir, src->plugin_dir);

    merge_string(&dst->grpc.address, src->grpc.address);
    merge_string(&dst->grpc.tcp_address, src->grpc.tcp_address);
    merge_string(&dst->grpc.tcp_tls_ca, src->grpc.tcp_tls_ca);
    merge_string(&dst->grpc.tcp_tls_cert, src->grpc.tcp_tls_cert);
    merge_string(&dst->grpc.tcp_tls_key, src->grpc.tcp_tls_key);
    merge_int(&dst->grpc.uid, src->grpc.uid);
    merge_int(&dst->grpc.gid, src->grpc.gid);
    merge_int(&dst->grpc.max_recv_message_size, src->grpc.max_recv_message_size);
    merge_int(&dst->grpc.max_send_message_size, src->grpc.max_send_message_size);

    merge_string(&dst->ttrpc.address, src->ttrpc.address);
    merge_int(&dst->ttrpc.uid, src->ttrpc.uid);
    merge_int(&dst->ttrpc.gid, src->ttrpc.gid);

    merge_string(&dst->debug.address, src->debug.address);
    merge_int(&dst->debug.uid, src->debug.uid);
    merge_int(&dst->debug.gid, src->debug.gid);
    merge_string(&dst->debug.level, src->debug.level);
    merge_string(&dst->debug.format, src->debug.format);

    merge_string(&dst->metrics.address, src->metrics.address);
    if (src->metrics.grpc_histogram)
        dst->metrics.grpc_histogram = true;

    merge_list(&dst->disabled_plugins, &src->disabled_plugins);
    merge_list(&dst->required_plugins, &src->required_plugins);
    merge_list(&dst->imports, &src->imports);
    merge_int(&dst->oom_score, src->oom_score);
    merge_string(&dst->cgroup_path, src->cgroup_path);

    /* Nested tables combine key by key; any other value (arrays included) replaces. */
    toml_merge(dst->plugins, src->plugins);

    merge_proxies(dst, src);
    merge_timeouts(dst, src);
    merge_processors(dst, src);
}
