/* io.containerd.content.v1 "content": the local content store at the plugin's root dir. */
#include "core/content/content.h"
#include "core/plugin/plugin.h"

static int content_plugin_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    const char *root = plugin_context_root(ctx);
    struct content_store *store;
    if (content_store_open(root, &store, err) < 0)
        return -1;
    plugin_context_export(ctx, "root", root);
    *ret = store;
    return 0;
}

static void content_plugin_close(void *instance)
{
    content_store_close(instance);
}

const struct plugin_registration content_plugin = {
    .type = PLUGIN_CONTENT,
    .id = "content",
    .init = content_plugin_init,
    .close = content_plugin_close,
};
