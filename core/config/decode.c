/* One version 3 config tree into struct berth_config: type checks, unknown-key warnings. */
#include "core/config/config-internal.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/toml/toml.h"

#include <stddef.h>
#include <string.h>

enum field_kind { FIELD_STRING, FIELD_INT, FIELD_BOOL, FIELD_STRINGS };

struct field {
    const char *key;
    enum field_kind kind;
    size_t offset; /* into the struct being filled */
};

#define CFG(kind, key, member)                                                                     \
    {                                                                                              \
        key, kind, offsetof(struct berth_config, member)                                           \
    }

static const struct field top_fields[] = {
    CFG(FIELD_STRING, "root", root),
    CFG(FIELD_STRING, "state", state),
    CFG(FIELD_STRING, "temp", temp),
    CFG(FIELD_STRING, "plugin_dir", plugin_dir),
    CFG(FIELD_STRINGS, "disabled_plugins", disabled_plugins),
    CFG(FIELD_STRINGS, "required_plugins", required_plugins),
    CFG(FIELD_INT, "oom_score", oom_score),
    CFG(FIELD_STRINGS, "imports", imports),
};

static const struct field grpc_fields[] = {
    CFG(FIELD_STRING, "address", grpc.address),
    CFG(FIELD_STRING, "tcp_address", grpc.tcp_address),
    CFG(FIELD_STRING, "tcp_tls_ca", grpc.tcp_tls_ca),
    CFG(FIELD_STRING, "tcp_tls_cert", grpc.tcp_tls_cert),
    CFG(FIELD_STRING, "tcp_tls_key", grpc.tcp_tls_key),
    CFG(FIELD_INT, "uid", grpc.uid),
    CFG(FIELD_INT, "gid", grpc.gid),
    CFG(FIELD_INT, "max_recv_message_size", grpc.max_recv_message_size),
    CFG(FIELD_INT, "max_send_message_size", grpc.max_send_message_size),
};

static const struct field ttrpc_fields[] = {
    CFG(FIELD_STRING, "address", ttrpc.address),
    CFG(FIELD_INT, "uid", ttrpc.uid),
    CFG(FIELD_INT, "gid", ttrpc.gid),
};

static const struct field debug_fields[] = {
    CFG(FIELD_STRING, "address", debug.address),
    CFG(FIELD_INT, "uid", debug.uid),
    CFG(FIELD_INT, "gid", debug.gid),
    CFG(FIELD_STRING, "level", debug.level),
    CFG(FIELD_STRING, "format", debug.format),
};

static const struct field metrics_fields[] = {
    CFG(FIELD_STRING, "address", metrics.address),
    CFG(FIELD_BOOL, "grpc_histogram", metrics.grpc_histogram),
};

static const struct field cgroup_fields[] = {
    CFG(FIELD_STRING, "path", cgroup_path),
};

#define PROXY(kind, key, member)                                                                   \
    {                                                                                              \
        key, kind, offsetof(struct config_proxy_plugin, member)                                    \
    }
static const struct field proxy_fields[] = {
    PROXY(FIELD_STRING, "type", type),
    PROXY(FIELD_STRING, "address", address),
    PROXY(FIELD_STRING, "platform", platform),
    PROXY(FIELD_STRINGS, "capabilities", capabilities),
};

#define PROCESSOR(kind, key, member)                                                               \
    {                                                                                              \
        key, kind, offsetof(struct config_stream_processor, member)                                \
    }
static const struct field processor_fields[] = {
    PROCESSOR(FIELD_STRINGS, "accepts", accepts), PROCESSOR(FIELD_STRING, "returns", returns),
    PROCESSOR(FIELD_STRING, "path", path),        PROCESSOR(FIELD_STRINGS, "args", args),
    PROCESSOR(FIELD_STRINGS, "env", env),
};

static const struct {
    const char *key;
    const struct field *fields;
    size_t n_fields;
} sections[] = {
    {"grpc", grpc_fields, ARRAY_SIZE(grpc_fields)},
    {"ttrpc", ttrpc_fields, ARRAY_SIZE(ttrpc_fields)},
    {"debug", debug_fields, ARRAY_SIZE(debug_fields)},
    {"metrics", metrics_fields, ARRAY_SIZE(metrics_fields)},
    {"cgroup", cgroup_fields, ARRAY_SIZE(cgroup_fields)},
};

struct decoder {
    const char *file;
    struct berth_error **err;
};

char *config_key_join(const char *path, const char *key)
{
    bool bare = *key != '\0';
    for (const char *p = key; *p && bare; p++)
        bare = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
               *p == '_' || *p == '-';
    const char *sep = path && *path ? "." : "";
    if (!path)
        path = "";
    if (bare)
        return xasprintf("%s%s%s", path, sep, key);
    /* quoted as a TOML basic string; keys here come from parsed files, so escape " and \ */
    size_t len = strlen(key);
    _cleanup_free_ char *quoted = xmalloc(len * 2 + 3);
    char *q = quoted;
    *q++ = '"';
    for (const char *p = key; *p; p++) {
        if (*p == '"' || *p == '\\')
            *q++ = '\\';
        *q++ = *p;
    }
    *q++ = '"';
    *q = '\0';
    return xasprintf("%s%s%s", path, sep, quoted);
}

static const char *article_kind(enum field_kind kind)
{
    switch (kind) {
    case FIELD_STRING:
        return "a string";
    case FIELD_INT:
        return "an integer";
    case FIELD_BOOL:
        return "a boolean";
    case FIELD_STRINGS:
        return "an array of strings";
    }
    return "?";
}

static int type_error(struct decoder *d, const char *path, const char *expected,
                      const struct toml_value *v)
{
    return err_make(d->err, ERR_INVALID_ARGUMENT, 0, "%s: %s must be %s, got %s", d->file, path,
                    expected, toml_kind_name(toml_kind(v)));
}

static void warn_unknown(struct decoder *d, const char *path)
{
    log_record(LOG_WARN, LOG_FIELDS("file", d->file, "key", path), "Ignoring unknown key in TOML");
}

static int decode_strings(struct decoder *d, const struct toml_value *v, const char *path,
                          struct config_strings *out)
{
    if (!toml_is_array(v))
        return type_error(d, path, "an array of strings", v);
    size_t n = toml_array_count(v);
    for (size_t i = 0; i < n; i++)
        if (toml_kind(toml_array_at(v, i)) != TOML_STRING)
            return type_error(d, path, "an array of strings", toml_array_at(v, i));
    config_strings_clear(out);
    for (size_t i = 0; i < n; i++)
        config_strings_append(out, toml_as_string(toml_array_at(v, i)));
    return 0;
}

static int decode_field(struct decoder *d, const struct field *f, const struct toml_value *v,
                        const char *path, void *base)
{
    char *at = (char *)base + f->offset;
    switch (f->kind) {
    case FIELD_STRING:
        if (toml_kind(v) != TOML_STRING)
            return type_error(d, path, article_kind(f->kind), v);
        free(*(char **)at);
        *(char **)at = xstrdup(toml_as_string(v));
        return 0;
    case FIELD_INT:
        if (!toml_as_int(v, (int64_t *)at))
            return type_error(d, path, article_kind(f->kind), v);
        return 0;
    case FIELD_BOOL:
        if (!toml_as_bool(v, (bool *)at))
            return type_error(d, path, article_kind(f->kind), v);
        return 0;
    case FIELD_STRINGS:
        return decode_strings(d, v, path, (struct config_strings *)at);
    }
    return 0;
}

static const struct field *find_field(const struct field *fields, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i].key, key) == 0)
            return &fields[i];
    return NULL;
}

/* Fills base from table by the field list; unknown keys warn. */
static int decode_table(struct decoder *d, const struct toml_value *table, const char *path,
                        const struct field *fields, size_t n_fields, void *base)
{
    if (!toml_is_table(table))
        return type_error(d, path, "a table", table);
    for (size_t i = 0; i < toml_table_count(table); i++) {
        const char *key = toml_table_key_at(table, i, NULL);
        _cleanup_free_ char *key_path = config_key_join(path, key);
        const struct field *f = find_field(fields, n_fields, key);
        if (!f) {
            warn_unknown(d, key_path);
            continue;
        }
        if (decode_field(d, f, toml_table_value_at(table, i), key_path, base) < 0)
            return -1;
    }
    return 0;
}

static int decode_plugins(struct decoder *d, const struct toml_value *v, struct berth_config *c)
{
    if (!toml_is_table(v))
        return type_error(d, "plugins", "a table", v);
    for (size_t i = 0; i < toml_table_count(v); i++) {
        size_t len;
        const char *key = toml_table_key_at(v, i, &len);
        const struct toml_value *section = toml_table_value_at(v, i);
        if (!toml_is_table(section)) {
            _cleanup_free_ char *path = config_key_join("plugins", key);
            return type_error(d, path, "a table", section);
        }
    }
    toml_free(c->plugins);
    c->plugins = toml_copy(v);
    return 0;
}

static int decode_exports(struct decoder *d, const struct toml_value *v, const char *path,
                          struct config_strings *out)
{
    if (!toml_is_table(v))
        return type_error(d, path, "a table of strings", v);
    config_strings_clear(out);
    for (size_t i = 0; i < toml_table_count(v); i++) {
        const char *key = toml_table_key_at(v, i, NULL);
        const struct toml_value *value = toml_table_value_at(v, i);
        if (toml_kind(value) != TOML_STRING) {
            _cleanup_free_ char *key_path = config_key_join(path, key);
            return type_error(d, key_path, "a string", value);
        }
        config_strings_append(out, key);
        config_strings_append(out, toml_as_string(value));
    }
    return 0;
}

static int decode_proxy_plugins(struct decoder *d, const struct toml_value *v,
                                struct berth_config *c)
{
    if (!toml_is_table(v))
        return type_error(d, "proxy_plugins", "a table", v);
    for (size_t i = 0; i < toml_table_count(v); i++) {
        const char *name = toml_table_key_at(v, i, NULL);
        const struct toml_value *entry = toml_table_value_at(v, i);
        _cleanup_free_ char *path = config_key_join("proxy_plugins", name);
        if (!toml_is_table(entry))
            return type_error(d, path, "a table", entry);
        c->proxy_plugins =
            xrealloc(c->proxy_plugins, (c->n_proxy_plugins + 1) * sizeof(*c->proxy_plugins));
        struct config_proxy_plugin *p = &c->proxy_plugins[c->n_proxy_plugins++];
        *p = (struct config_proxy_plugin){.name = xstrdup(name),
                                          .type = xstrdup(""),
                                          .address = xstrdup(""),
                                          .platform = xstrdup("")};
        for (size_t k = 0; k < toml_table_count(entry); k++) {
            const char *key = toml_table_key_at(entry, k, NULL);
            const struct toml_value *value = toml_table_value_at(entry, k);
            _cleanup_free_ char *key_path = config_key_join(path, key);
            int r;
            const struct field *f = find_field(proxy_fields, ARRAY_SIZE(proxy_fields), key);
            if (f)
                r = decode_field(d, f, value, key_path, p);
            else if (strcmp(key, "exports") == 0)
                r = decode_exports(d, value, key_path, &p->exports);
            else {
                warn_unknown(d, key_path);
                r = 0;
            }
            if (r < 0)
                return -1;
        }
    }
    return 0;
}

static int decode_timeouts(struct decoder *d, const struct toml_value *v, struct berth_config *c)
{
    if (!toml_is_table(v))
        return type_error(d, "timeouts", "a table", v);
    for (size_t i = 0; i < toml_table_count(v); i++) {
        const char *name = toml_table_key_at(v, i, NULL);
        const struct toml_value *value = toml_table_value_at(v, i);
        if (toml_kind(value) != TOML_STRING) {
            _cleanup_free_ char *path = config_key_join("timeouts", name);
            return type_error(d, path, "a string", value);
        }
        c->timeouts = xrealloc(c->timeouts, (c->n_timeouts + 1) * sizeof(*c->timeouts));
        c->timeouts[c->n_timeouts++] = (struct config_timeout){
            .name = xstrdup(name), .duration = xstrdup(toml_as_string(value))};
    }
    return 0;
}

static int decode_stream_processors(struct decoder *d, const struct toml_value *v,
                                    struct berth_config *c)
{
    if (!toml_is_table(v))
        return type_error(d, "stream_processors", "a table", v);
    for (size_t i = 0; i < toml_table_count(v); i++) {
        const char *id = toml_table_key_at(v, i, NULL);
        _cleanup_free_ char *path = config_key_join("stream_processors", id);
        c->stream_processors = xrealloc(c->stream_processors, (c->n_stream_processors + 1) *
                                                                  sizeof(*c->stream_processors));
        struct config_stream_processor *p = &c->stream_processors[c->n_stream_processors++];
        *p = (struct config_stream_processor){
            .id = xstrdup(id), .returns = xstrdup(""), .path = xstrdup("")};
        if (decode_table(d, toml_table_value_at(v, i), path, processor_fields,
                         ARRAY_SIZE(processor_fields), p) < 0)
            return -1;
    }
    return 0;
}

int config_decode(const struct toml_value *root, const char *filename, struct berth_config *c,
                  struct berth_error **err)
{
    struct decoder d = {.file = filename ? filename : "<input>", .err = err};
    for (size_t i = 0; i < toml_table_count(root); i++) {
        const char *key = toml_table_key_at(root, i, NULL);
        const struct toml_value *v = toml_table_value_at(root, i);
        int r = 0;
        const struct field *f = find_field(top_fields, ARRAY_SIZE(top_fields), key);
        if (f) {
            r = decode_field(&d, f, v, key, c);
        } else if (strcmp(key, "version") == 0) {
            int64_t version;
            if (!toml_as_int(v, &version))
                return type_error(&d, key, "an integer", v);
            c->version = (int)version;
        } else if (strcmp(key, "plugins") == 0) {
            r = decode_plugins(&d, v, c);
        } else if (strcmp(key, "proxy_plugins") == 0) {
            r = decode_proxy_plugins(&d, v, c);
        } else if (strcmp(key, "timeouts") == 0) {
            r = decode_timeouts(&d, v, c);
        } else if (strcmp(key, "stream_processors") == 0) {
            r = decode_stream_processors(&d, v, c);
        } else {
            size_t s = 0;
            while (s < ARRAY_SIZE(sections) && strcmp(sections[s].key, key) != 0)
                s++;
            if (s < ARRAY_SIZE(sections))
                r = decode_table(&d, v, key, sections[s].fields, sections[s].n_fields, c);
            else
                warn_unknown(&d, key);
        }
        if (r < 0)
            return -1;
    }
    return 0;
}
