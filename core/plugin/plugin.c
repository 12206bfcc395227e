/* Plugin registry: dependency ordering, init with skip/error recording, per-plugin config. */
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/toml/toml.h"

#include <string.h>

struct plugin_set {
    struct plugin_info *plugins; /* kept in dependency order once init sorts them */
    size_t count, capacity;
    bool sorted;
};

struct plugin_context {
    struct plugin_set *set;
    struct plugin_info *info;
    char *root, *state;
    struct toml_value *config;
    void *daemon;
    const char *grpc_address, *ttrpc_address;
};

struct plugin_set *plugin_set_new(void)
{
    return xcalloc(1, sizeof(struct plugin_set));
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void plugin_set_free(struct plugin_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++) {
        struct plugin_info *p = &set->plugins[i];
        err_free(p->init_error);
        free_strings(p->exports, p->n_exports * 2);
        free_strings(p->capabilities, p->n_capabilities);
        free_strings(p->platforms, p->n_platforms);
    }
    free(set->plugins);
    free(set);
}

void plugin_set_register(struct plugin_set *set, const struct plugin_registration *reg)
{
    set->plugins =
        xreallocarray_grow(set->plugins, &set->capacity, set->count + 1, sizeof(*set->plugins));
    set->plugins[set->count++] = (struct plugin_info){.reg = reg};
    set->sorted = false;
}

static bool requires_all(const struct plugin_registration *reg)
{
    for (const char *const *r = reg->requires; r && *r; r++)
        if (strcmp(*r, "*") == 0)
            return true;
    return false;
}

static bool type_registered(const struct plugin_set *set, const char *type)
{
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->plugins[i].reg->type, type) == 0)
            return true;
    return false;
}

/* Every plugin of `type` already placed (a type with no registration does not block). */
static bool type_placed(const struct plugin_set *set, const bool *placed, const char *type)
{
    for (size_t i = 0; i < set->count; i++)
        if (!placed[i] && strcmp(set->plugins[i].reg->type, type) == 0)
            return false;
    return true;
}

/* containerd's graph order: a plugin comes after every plugin of each type it requires. */
static void sort_plugins(struct plugin_set *set)
{
    if (set->sorted)
        return;
    size_t n = set->count;
    bool *placed = xcalloc(n ? n : 1, sizeof(bool));
    struct plugin_info *out = xcalloc(n ? n : 1, sizeof(*out));
    size_t done = 0;
    while (done < n) {
        bool progress = false;
        for (size_t i = 0; i < n; i++) {
            if (placed[i] || requires_all(set->plugins[i].reg))
                continue;
            bool ready = true;
            for (const char *const *r = set->plugins[i].reg->requires; r && *r && ready; r++)
                if (strcmp(*r, set->plugins[i].reg->type) != 0 && type_registered(set, *r))
                    ready = type_placed(set, placed, *r);
            if (ready) {
                out[done++] = set->plugins[i];
                placed[i] = true;
                progress = true;
            }
        }
        if (!progress) {
            /* "*" plugins, and any cycle, go last in registration order. */
            for (size_t i = 0; i < n; i++)
                if (!placed[i] && !requires_all(set->plugins[i].reg)) {
                    log_warn("plugin %s.%s: dependency cycle", set->plugins[i].reg->type,
                             set->plugins[i].reg->id);
                    out[done++] = set->plugins[i];
                    placed[i] = true;
                }
            for (size_t i = 0; i < n; i++)
                if (!placed[i]) {
                    out[done++] = set->plugins[i];
                    placed[i] = true;
                }
        }
    }
    free(set->plugins);
    set->plugins = out;
    set->capacity = n;
    set->sorted = true;
    free(placed);
}

size_t plugin_set_count(const struct plugin_set *set)
{
    sort_plugins((struct plugin_set *)set);
    return set->count;
}

const struct plugin_info *plugin_set_at(const struct plugin_set *set, size_t index)
{
    sort_plugins((struct plugin_set *)set);
    return index < set->count ? &set->plugins[index] : NULL;
}

const struct plugin_info *plugin_set_find(const struct plugin_set *set, const char *type,
                                          const char *id)
{
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->plugins[i].reg->type, type) == 0 &&
            strcmp(set->plugins[i].reg->id, id) == 0)
            return &set->plugins[i];
    return NULL;
}

static bool uri_listed(const char *const *list, const struct plugin_registration *reg)
{
    size_t tl = strlen(reg->type);
    for (; list && *list; list++)
        if (strncmp(*list, reg->type, tl) == 0 && (*list)[tl] == '.' &&
            strcmp(*list + tl + 1, reg->id) == 0)
            return true;
    return false;
}

static struct toml_value *plugin_config(const struct plugin_registration *reg,
                                        const struct toml_value *plugins_config)
{
    struct toml_value *config = reg->default_config ? reg->default_config() : NULL;
    if (!config)
        config = toml_table_new();
    _cleanup_free_ char *uri = xasprintf("%s.%s", reg->type, reg->id);
    const struct toml_value *section = plugins_config ? toml_table_get(plugins_config, uri) : NULL;
    if (section && toml_is_table(section))
        toml_merge(config, section);
    return config;
}

int plugin_set_init(struct plugin_set *set, const struct plugin_init_options *options,
                    struct berth_error **err)
{
    sort_plugins(set);
    for (const char *const *r = options->required; r && *r; r++) {
        bool found = false;
        for (size_t i = 0; i < set->count && !found; i++)
            found = uri_listed((const char *const[]){*r, NULL}, set->plugins[i].reg);
        if (!found)
            return err_make(err, ERR_FAILED_PRECONDITION, 0, "required plugin %s is not registered",
                            *r);
    }
    for (size_t i = 0; i < set->count; i++) {
        struct plugin_info *p = &set->plugins[i];
        const struct plugin_registration *reg = p->reg;
        bool required = uri_listed(options->required, reg);
        if (uri_listed(options->disabled, reg)) {
            if (required)
                return err_make(err, ERR_FAILED_PRECONDITION, 0,
                                "required plugin %s.%s is disabled", reg->type, reg->id);
            log_record(LOG_INFO, LOG_FIELDS("type", reg->type, "id", reg->id), "plugin disabled");
            p->state = PLUGIN_STATE_DISABLED;
            continue;
        }
        log_record(LOG_INFO, LOG_FIELDS("type", reg->type, "id", reg->id), "loading plugin");
        struct plugin_context ctx = {
            .set = set,
            .info = p,
            .root = xasprintf("%s/%s.%s", options->root, reg->type, reg->id),
            .state = xasprintf("%s/%s.%s", options->state, reg->type, reg->id),
            .config = plugin_config(reg, options->plugins_config),
            .daemon = options->daemon,
            .grpc_address = options->grpc_address ? options->grpc_address : "",
            .ttrpc_address = options->ttrpc_address ? options->ttrpc_address : "",
        };
        struct berth_error *init_err = NULL;
        int rc = reg->init ? reg->init(&ctx, &p->instance, &init_err) : 0;
        free(ctx.root);
        free(ctx.state);
        toml_free(ctx.config);
        if (rc == 0) {
            p->state = PLUGIN_STATE_OK;
            err_free(init_err);
            continue;
        }
        const char *why = init_err ? init_err->message : "unknown error";
        if (rc == PLUGIN_SKIP) {
            p->state = PLUGIN_STATE_SKIPPED;
            /* ctr tells a skip from an error by this phrase in the message. */
            err_make(&p->init_error, ERR_UNKNOWN, 0, "%s: skip plugin", why);
            log_record(LOG_INFO, LOG_FIELDS("type", reg->type, "id", reg->id, "error", why),
                       "skip loading plugin");
        } else {
            p->state = PLUGIN_STATE_ERROR;
            p->init_error = init_err;
            init_err = NULL;
            log_record(LOG_WARN, LOG_FIELDS("type", reg->type, "id", reg->id, "error", why),
                       "failed to load plugin");
            if (required) {
                err_free(init_err);
                return err_make(err, ERR_FAILED_PRECONDITION, 0, "load required plugin %s.%s: %s",
                                reg->type, reg->id, p->init_error->message);
            }
        }
        err_free(init_err);
    }
    return 0;
}

void plugin_set_close(struct plugin_set *set)
{
    for (size_t i = set->count; i-- > 0;) {
        struct plugin_info *p = &set->plugins[i];
        if (p->state == PLUGIN_STATE_OK && p->reg->close && p->instance)
            p->reg->close(p->instance);
        p->instance = NULL;
    }
}

const struct plugin_registration *plugin_context_registration(const struct plugin_context *ctx)
{
    return ctx->info->reg;
}

const char *plugin_context_root(const struct plugin_context *ctx)
{
    return ctx->root;
}

const char *plugin_context_state(const struct plugin_context *ctx)
{
    return ctx->state;
}

const struct toml_value *plugin_context_config(const struct plugin_context *ctx)
{
    return ctx->config;
}

void *plugin_context_daemon(const struct plugin_context *ctx)
{
    return ctx->daemon;
}

const char *plugin_context_grpc_address(const struct plugin_context *ctx)
{
    return ctx->grpc_address;
}

const char *plugin_context_ttrpc_address(const struct plugin_context *ctx)
{
    return ctx->ttrpc_address;
}

void *plugin_context_get(const struct plugin_context *ctx, const char *type, const char *id)
{
    const struct plugin_info *p = plugin_set_find(ctx->set, type, id);
    return p && p->state == PLUGIN_STATE_OK ? p->instance : NULL;
}

void *plugin_context_get_by_type(const struct plugin_context *ctx, const char *type)
{
    for (size_t i = 0; i < ctx->set->count; i++) {
        const struct plugin_info *p = &ctx->set->plugins[i];
        if (strcmp(p->reg->type, type) == 0 && p->state == PLUGIN_STATE_OK)
            return p->instance;
    }
    return NULL;
}

static void push(char ***v, size_t *n, const char *s)
{
    *v = xrealloc(*v, (*n + 1) * sizeof(char *));
    (*v)[(*n)++] = xstrdup(s);
}

void plugin_context_export(struct plugin_context *ctx, const char *key, const char *value)
{
    size_t n = ctx->info->n_exports * 2;
    push(&ctx->info->exports, &n, key);
    push(&ctx->info->exports, &n, value);
    ctx->info->n_exports = n / 2;
}

void plugin_context_add_capability(struct plugin_context *ctx, const char *capability)
{
    push(&ctx->info->capabilities, &ctx->info->n_capabilities, capability);
}

void plugin_context_add_platform(struct plugin_context *ctx, const char *platform)
{
    push(&ctx->info->platforms, &ctx->info->n_platforms, platform);
}
