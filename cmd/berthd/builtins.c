/* The plugins compiled into berthd, as containerd's builtins list them. */
#include "cmd/berthd/daemon.h"
#include "core/metadata/db.h"
#include "core/plugin/plugin.h"
#include "services/services.h"

#include <stddef.h>

static const struct plugin_registration *const builtins[] = {
    &exchange_plugin, &metadata_plugin,   &version_plugin,       &healthcheck_plugin,
    &events_plugin,   &namespaces_plugin, &introspection_plugin,
};

void daemon_register_builtins(struct plugin_set *set)
{
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        plugin_set_register(set, builtins[i]);
}
