/* io.containerd.metadata.v1.bolt: the metadata database as a plugin (the id stays containerd's). */
#include "core/metadata/db.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "lib/toml/toml.h"

#include <string.h>

static struct toml_value *metadata_default_config(void)
{
    struct toml_value *t = toml_table_new();
    toml_table_set(t, "content_sharing_policy", toml_string_new("shared"));
    return t;
}

static int metadata_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    const char *policy =
        toml_as_string(toml_table_get(plugin_context_config(ctx), "content_sharing_policy"));
    if (!policy || (strcmp(policy, "shared") != 0 && strcmp(policy, "isolated") != 0))
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "unknown policy: %s",
                        policy ? policy : "(not a string)");
    struct metadata_db *db;
    if (metadata_db_open(plugin_context_root(ctx), &db, err) < 0)
        return -1;
    _cleanup_free_ char *path = xasprintf("%s/meta.mdb", plugin_context_root(ctx));
    metadata_db_set_content_shared(db, strcmp(policy, "shared") == 0);
    plugin_context_export(ctx, "path", path);
    plugin_context_export(ctx, "policy", policy);
    *ret = db;
    return 0;
}

static void metadata_close(void *instance)
{
    metadata_db_close(instance);
}

static const char *const requires[] = {PLUGIN_CONTENT, PLUGIN_EVENT, PLUGIN_SNAPSHOTTER, NULL};

const struct plugin_registration metadata_plugin = {
    .type = PLUGIN_METADATA,
    .id = "bolt",
    .requires = requires,
    .default_config = metadata_default_config,
    .init = metadata_init,
    .close = metadata_close,
};
