/* The plugins compiled into berthd, as containerd's builtins list them. */
#include "cmd/berthd/daemon.h"
#include "core/content/content.h"
#include "core/metadata/content.h"
#include "core/metadata/db.h"
#include "core/metadata/gc_scheduler.h"
#include "core/plugin/plugin.h"
#include "core/runtime/runtime.h"
#include "core/snapshots/local.h"
#include "core/snapshots/metadata.h"
#include "services/services.h"

#include <stddef.h>

static const struct plugin_registration *const builtins[] = {
    &exchange_plugin,
    &content_plugin,
    &metadata_plugin,
    &gc_scheduler_plugin,
    &content_service_store_plugin,
    &version_plugin,
    &healthcheck_plugin,
    &events_plugin,
    &namespaces_plugin,
    &content_service_plugin,
    &introspection_plugin,
    &images_plugin,
    &containers_plugin,
    &leases_plugin,
    &overlay_snapshotter_plugin,
    &native_snapshotter_plugin,
    &snapshots_service_store_plugin,
    &snapshots_service_plugin,
    &walking_differ_plugin,
    &diff_service_plugin,
    &shim_manager_plugin,
    &task_runtime_plugin,
    &tasks_plugin,
};

void daemon_register_builtins(struct plugin_set *set)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        plugin_set_register(set, builtins[i]);
}
