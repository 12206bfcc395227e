/* io.containerd.service.v1 "content-service": the namespaced content store as a plugin. */
#include "core/metadata/content.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"

static int metadata_content_plugin_init(struct plugin_context *ctx, void **ret,
                                        struct berth_error **err)
{
    struct metadata_db *db = plugin_context_get_by_type(ctx, PLUGIN_METADATA);
    struct content_store *store = plugin_context_get_by_type(ctx, PLUGIN_CONTENT);
    if (!db || !store)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "no metadata database or content store");
    *ret = metadata_content_new(db, store, metadata_db_content_shared(db));
    return 0;
}

static void metadata_content_plugin_close(void *instance)
{
    metadata_content_free(instance);
}

static const char *const requires[] = {PLUGIN_METADATA, PLUGIN_CONTENT, NULL};

const struct plugin_registration content_service_store_plugin = {
    .type = PLUGIN_SERVICE,
    .id = "content-service",
    .requires = requires,
    .init = metadata_content_plugin_init,
    .close = metadata_content_plugin_close,
};
