/* containerd.services.introspection.v1.Introspection: plugins, server identity, deprecations. */
#include "services/services.h"
#include "core/deprecation/deprecation.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/filters/filters.h"
#include "services/convert.h"

#include "containerd/services/introspection/v1/introspection.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

struct introspection {
    struct rpc_service service;
    const struct plugin_set *plugins;
    char uuid[37];
    unsigned long long pidns;
};

/* containerd's plugin adaptor: only type and id can be filtered on. */
static bool plugin_field(void *object, const char *const *fieldpath, size_t n,
                         const char **ret_value)
{
    const struct plugin_info *p = object;
    if (n == 0)
        return false;
    if (strcmp(fieldpath[0], "type") == 0)
        *ret_value = p->reg->type;
    else if (strcmp(fieldpath[0], "id") == 0)
        *ret_value = p->reg->id;
    else
        return false;
    return **ret_value != '\0';
}

static Containerd__Types__Platform *platform_from_string(struct pb_arena *a, const char *s)
{
    Containerd__Types__Platform *p = pb_arena_message(a, &containerd__types__platform__descriptor);
    char *copy = pb_arena_strdup(a, s);
    char *arch = strchr(copy, '/');
    char *variant = arch ? strchr(arch + 1, '/') : NULL;
    if (arch)
        *arch++ = '\0';
    if (variant)
        *variant++ = '\0';
    p->os = copy;
    p->architecture = arch ? arch : (char *)"";
    p->variant = variant ? variant : (char *)"";
    return p;
}

static Containerd__Services__Introspection__V1__Plugin *plugin_to_pb(struct pb_arena *a,
                                                                     const struct plugin_info *p)
{
    Containerd__Services__Introspection__V1__Plugin *m =
        pb_arena_message(a, &containerd__services__introspection__v1__plugin__descriptor);
    m->type = (char *)p->reg->type;
    m->id = (char *)p->reg->id;
    for (const char *const *r = p->reg->requires; r && *r; r++)
        m->n_requires++;
    m->requires = (char **)p->reg->requires;
    m->n_platforms = p->n_platforms;
    m->platforms = pb_arena_alloc(a, p->n_platforms * sizeof(*m->platforms));
    for (size_t i = 0; i < p->n_platforms; i++)
        m->platforms[i] = platform_from_string(a, p->platforms[i]);
    m->n_exports = p->n_exports;
    m->exports = pb_arena_alloc(a, p->n_exports * sizeof(*m->exports));
    for (size_t i = 0; i < p->n_exports; i++) {
        Containerd__Services__Introspection__V1__Plugin__ExportsEntry *e = pb_arena_message(
            a, &containerd__services__introspection__v1__plugin__exports_entry__descriptor);
        e->key = p->exports[2 * i];
        e->value = p->exports[2 * i + 1];
        m->exports[i] = e;
    }
    m->n_capabilities = p->n_capabilities;
    m->capabilities = p->capabilities;
    if (p->init_error) {
        Google__Rpc__Status *st = pb_arena_message(a, &google__rpc__status__descriptor);
        st->code = (int32_t)err_kind_to_grpc(p->init_error->kind);
        st->message = p->init_error->message;
        m->init_err = st;
    }
    return m;
}

static int plugins(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                   struct berth_error **err)
{
    struct introspection *in = data;
    const Containerd__Services__Introspection__V1__PluginsRequest *req =
        (const Containerd__Services__Introspection__V1__PluginsRequest *)request;
    _cleanup_filter_ struct filter *filter = NULL;
    if (filters_parse_any((const char *const *)req->filters, req->n_filters, &filter, err) < 0)
        return -1;
    struct pb_arena a = {0};
    Containerd__Services__Introspection__V1__PluginsResponse resp =
        CONTAINERD__SERVICES__INTROSPECTION__V1__PLUGINS_RESPONSE__INIT;
    size_t n = plugin_set_count(in->plugins);
    resp.plugins = pb_arena_alloc(&a, n * sizeof(*resp.plugins));
    for (size_t i = 0; i < n; i++) {
        const struct plugin_info *p = plugin_set_at(in->plugins, i);
        if (p->state == PLUGIN_STATE_DISABLED || p->state == PLUGIN_STATE_PENDING)
            continue;
        if (filters_match(filter, plugin_field, (void *)p))
            resp.plugins[resp.n_plugins++] = plugin_to_pb(&a, p);
    }
    int r = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    return r;
}

static int server(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                  struct berth_error **err)
{
    struct introspection *in = data;
    struct pb_arena a = {0};
    Containerd__Services__Introspection__V1__ServerResponse resp =
        CONTAINERD__SERVICES__INTROSPECTION__V1__SERVER_RESPONSE__INIT;
    resp.uuid = in->uuid;
    resp.pid = (uint64_t)getpid();
    resp.pidns = in->pidns;
    struct deprecation_warning *warnings = NULL;
    size_t n = deprecation_list(&warnings);
    resp.deprecations = pb_arena_alloc(&a, n * sizeof(*resp.deprecations));
    for (size_t i = 0; i < n; i++) {
        Containerd__Services__Introspection__V1__DeprecationWarning *w = pb_arena_message(
            &a, &containerd__services__introspection__v1__deprecation_warning__descriptor);
        w->id = (char *)warnings[i].id;
        w->message = (char *)warnings[i].message;
        w->last_occurrence = pb_arena_timestamp(&a, warnings[i].last_occurrence_ns);
        resp.deprecations[resp.n_deprecations++] = w;
    }
    int r = rpc_call_send(call, &resp.base, err);
    free(warnings);
    pb_arena_free(&a);
    return r;
}

static int plugin_info(struct rpc_call *call, const ProtobufCMessage *request, void *data,
                       struct berth_error **err)
{
    struct introspection *in = data;
    const Containerd__Services__Introspection__V1__PluginInfoRequest *req =
        (const Containerd__Services__Introspection__V1__PluginInfoRequest *)request;
    const struct plugin_info *p = plugin_set_find(in->plugins, req->type, req->id);
    if (!p || p->state == PLUGIN_STATE_DISABLED)
        return err_make(err, ERR_NOT_FOUND, 0, "plugin %s.%s not found", req->type, req->id);
    if (req->options) {
        if (p->state != PLUGIN_STATE_OK)
            return err_make(err, ERR_FAILED_PRECONDITION, 0,
                            "cannot get extra info, plugin not successfully loaded");
        /* No plugin offers extra information yet (the runtime will, with RuntimeRequest). */
        return err_make(err, ERR_NOT_IMPLEMENTED, 0, "plugin does not provided extra information");
    }
    struct pb_arena a = {0};
    Containerd__Services__Introspection__V1__PluginInfoResponse resp =
        CONTAINERD__SERVICES__INTROSPECTION__V1__PLUGIN_INFO_RESPONSE__INIT;
    resp.plugin = plugin_to_pb(&a, p);
    int r = rpc_call_send(call, &resp.base, err);
    pb_arena_free(&a);
    return r;
}

static const struct rpc_method methods[] = {
    {"Plugins", RPC_UNARY, &containerd__services__introspection__v1__plugins_request__descriptor,
     &containerd__services__introspection__v1__plugins_response__descriptor, plugins},
    {"Server", RPC_UNARY, &google__protobuf__empty__descriptor,
     &containerd__services__introspection__v1__server_response__descriptor, server},
    {"PluginInfo", RPC_UNARY,
     &containerd__services__introspection__v1__plugin_info_request__descriptor,
     &containerd__services__introspection__v1__plugin_info_response__descriptor, plugin_info},
};

static bool uuid_valid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
            return false;
    }
    return true;
}

/* The UUID identifies this daemon's root across restarts, kept where containerd keeps it. */
static int load_or_create_uuid(const char *dir, char out[37], struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("%s/uuid", dir);
    _cleanup_free_ char *text = NULL;
    if (fs_read_small_file(path, 64, &text, NULL) == 0) {
        text[strcspn(text, "\n")] = '\0';
        if (uuid_valid(text)) {
            memcpy(out, text, 37);
            return 0;
        }
    }
    uint8_t b[16];
    if (getrandom(b, sizeof(b), 0) != sizeof(b))
        return err_make(err, ERR_INTERNAL, errno, "generate uuid");
    b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
    b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    if (fs_mkdir_p(dir, 0700, err) < 0)
        return -1;
    return fs_write_file_atomic(path, out, 36, 0644, err);
}

static int introspection_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct service_host *host = plugin_context_daemon(ctx);
    struct introspection *in = xcalloc(1, sizeof(*in));
    if (load_or_create_uuid(plugin_context_root(ctx), in->uuid, err) < 0) {
        free(in);
        return -1;
    }
    struct stat st;
    if (stat("/proc/self/ns/pid", &st) == 0)
        in->pidns = (unsigned long long)st.st_ino;
    in->plugins = host->plugins;
    in->service = (struct rpc_service){
        .name = "containerd.services.introspection.v1.Introspection",
        .methods = methods,
        .n_methods = ARRAY_SIZE(methods),
        .data = in,
    };
    rpc_registry_add(host->grpc, &in->service);
    *ret = in;
    return 0;
}

static const char *const requires[] = {"*", NULL};

const struct plugin_registration introspection_plugin = {
    .type = PLUGIN_GRPC,
    .id = "introspection",
    .requires = requires,
    .init = introspection_init,
    .close = free,
};
