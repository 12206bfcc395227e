/* The config struct: defaults, lifetime, string lists and small queries. */
#include "core/config/config-internal.h"
#include "lib/base/alloc.h"
#include "lib/toml/toml.h"

#include <string.h>

void config_strings_append(struct config_strings *s, const char *value)
{
    s->items = xrealloc(s->items, (s->count + 1) * sizeof(*s->items));
    s->items[s->count++] = xstrdup(value);
}

bool config_strings_contains(const struct config_strings *s, const char *value)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->items[i], value) == 0)
            return true;
    return false;
}

bool config_strings_append_unique(struct config_strings *s, const char *value)
{
    if (config_strings_contains(s, value))
        return false;
    config_strings_append(s, value);
    return true;
}

void config_strings_clear(struct config_strings *s)
{
    for (size_t i = 0; i < s->count; i++)
        free(s->items[i]);
    free(s->items);
    *s = (struct config_strings){0};
}

void config_strings_copy(struct config_strings *dst, const struct config_strings *src)
{
    config_strings_clear(dst);
    for (size_t i = 0; i < src->count; i++)
        config_strings_append(dst, src->items[i]);
}

struct berth_config *config_new_empty(void)
{
    struct berth_config *c = xcalloc(1, sizeof(*c));
    char **strings[] = {
        &c->root,
        &c->state,
        &c->temp,
        &c->plugin_dir,
        &c->grpc.address,
        &c->grpc.tcp_address,
        &c->grpc.tcp_tls_ca,
        &c->grpc.tcp_tls_cert,
        &c->grpc.tcp_tls_key,
        &c->ttrpc.address,
        &c->debug.address,
        &c->debug.level,
        &c->debug.format,
        &c->metrics.address,
        &c->cgroup_path,
    };
    for (size_t i = 0; i < ARRAY_SIZE(strings); i++)
        *strings[i] = xstrdup("");
    c->plugins = toml_table_new();
    return c;
}

static void add_timeout(struct berth_config *c, const char *name, const char *duration)
{
    c->timeouts = xrealloc(c->timeouts, (c->n_timeouts + 1) * sizeof(*c->timeouts));
    c->timeouts[c->n_timeouts++] =
        (struct config_timeout){.name = xstrdup(name), .duration = xstrdup(duration)};
}

static void add_decoder(struct berth_config *c, const char *suffix, const char *accepts,
                        const char *returns)
{
    c->stream_processors = xrealloc(c->stream_processors,
                                    (c->n_stream_processors + 1) * sizeof(*c->stream_processors));
    struct config_stream_processor *p = &c->stream_processors[c->n_stream_processors++];
    *p = (struct config_stream_processor){0};
    p->id = xasprintf("io.containerd.ocicrypt.decoder.v1.%s", suffix);
    config_strings_append(&p->accepts, accepts);
    p->returns = xstrdup(returns);
    p->path = xstrdup("ctd-decoder");
    /* containerd's paths under its config dir, which Berth accepts as is. */
    config_strings_append(&p->args, "--decryption-keys-path");
    config_strings_append(&p->args, "/etc/containerd/ocicrypt/keys");
    config_strings_append(&p->env, "OCICRYPT_KEYPROVIDER_CONFIG="
                                   "/etc/containerd/ocicrypt/ocicrypt_keyprovider.conf");
}

static void set_string(char **field, const char *value)
{
    free(*field);
    *field = xstrdup(value);
}

struct berth_config *config_new_default(void)
{
    struct berth_config *c = config_new_empty();
    c->version = CONFIG_VERSION;
    set_string(&c->root, CONFIG_DEFAULT_ROOT);
    set_string(&c->state, CONFIG_DEFAULT_STATE);
    set_string(&c->grpc.address, CONFIG_DEFAULT_ADDRESS);
    c->grpc.max_recv_message_size = CONFIG_DEFAULT_MSG_SIZE;
    c->grpc.max_send_message_size = CONFIG_DEFAULT_MSG_SIZE;
    /* pkg/timeout registrations of a containerd 2.0 daemon */
    add_timeout(c, "io.containerd.timeout.bolt.open", "0s");
    add_timeout(c, "io.containerd.timeout.metrics.shimstats", "2s");
    add_timeout(c, "io.containerd.timeout.shim.cleanup", "5s");
    add_timeout(c, "io.containerd.timeout.shim.load", "5s");
    add_timeout(c, "io.containerd.timeout.shim.shutdown", "3s");
    add_timeout(c, "io.containerd.timeout.task.state", "2s");
    add_decoder(c, "tar.gzip", "application/vnd.oci.image.layer.v1.tar+gzip+encrypted",
                "application/vnd.oci.image.layer.v1.tar+gzip");
    add_decoder(c, "tar", "application/vnd.oci.image.layer.v1.tar+encrypted",
                "application/vnd.oci.image.layer.v1.tar");
    return c;
}

void config_proxy_plugin_clear(struct config_proxy_plugin *p)
{
    free(p->name);
    free(p->type);
    free(p->address);
    free(p->platform);
    config_strings_clear(&p->exports);
    config_strings_clear(&p->capabilities);
}

void config_stream_processor_clear(struct config_stream_processor *p)
{
    free(p->id);
    config_strings_clear(&p->accepts);
    free(p->returns);
    free(p->path);
    config_strings_clear(&p->args);
    config_strings_clear(&p->env);
}

struct berth_config *config_free(struct berth_config *c)
{
    if (!c)
        return NULL;
    char *strings[] = {
        c->root,
        c->state,
        c->temp,
        c->plugin_dir,
        c->grpc.address,
        c->grpc.tcp_address,
        c->grpc.tcp_tls_ca,
        c->grpc.tcp_tls_cert,
        c->grpc.tcp_tls_key,
        c->ttrpc.address,
        c->debug.address,
        c->debug.level,
        c->debug.format,
        c->metrics.address,
        c->cgroup_path,
    };
    for (size_t i = 0; i < ARRAY_SIZE(strings); i++)
        free(strings[i]);
    config_strings_clear(&c->disabled_plugins);
    config_strings_clear(&c->required_plugins);
    config_strings_clear(&c->imports);
    config_strings_clear(&c->deprecations);
    toml_free(c->plugins);
    for (size_t i = 0; i < c->n_proxy_plugins; i++)
        config_proxy_plugin_clear(&c->proxy_plugins[i]);
    free(c->proxy_plugins);
    for (size_t i = 0; i < c->n_timeouts; i++) {
        free(c->timeouts[i].name);
        free(c->timeouts[i].duration);
    }
    free(c->timeouts);
    for (size_t i = 0; i < c->n_stream_processors; i++)
        config_stream_processor_clear(&c->stream_processors[i]);
    free(c->stream_processors);
    free(c);
    return NULL;
}

bool config_plugin_disabled(const struct berth_config *c, const char *type, const char *id)
{
    _cleanup_free_ char *uri = xasprintf("%s.%s", type, id);
    return config_strings_contains(&c->disabled_plugins, uri);
}

void config_resolve(struct berth_config *c)
{
    if (*c->ttrpc.address)
        return;
    free(c->ttrpc.address);
    c->ttrpc.address = xasprintf("%s.ttrpc", c->grpc.address);
    c->ttrpc.uid = c->grpc.uid;
    c->ttrpc.gid = c->grpc.gid;
}
