/*
 * The plugin registry: every part of berthd (stores, snapshotters, services) is a plugin with a
 * type and id, initialised in dependency order, as containerd builds its daemon.
 */
#pragma once

#include "lib/base/errors.h"

#include <stdbool.h>
#include <stddef.h>

struct toml_value;
struct plugin_context;

/* containerd's plugin types (plugins/types.go). */
#define PLUGIN_CONTENT            "io.containerd.content.v1"
#define PLUGIN_EVENT              "io.containerd.event.v1"
#define PLUGIN_METADATA           "io.containerd.metadata.v1"
#define PLUGIN_GC                 "io.containerd.gc.v1"
#define PLUGIN_LEASE              "io.containerd.lease.v1"
#define PLUGIN_SNAPSHOTTER        "io.containerd.snapshotter.v1"
#define PLUGIN_DIFFER             "io.containerd.differ.v1"
#define PLUGIN_SERVICE            "io.containerd.service.v1"
#define PLUGIN_GRPC               "io.containerd.grpc.v1"
#define PLUGIN_TTRPC              "io.containerd.ttrpc.v1"
#define PLUGIN_WARNING            "io.containerd.warning.v1"
#define PLUGIN_INTERNAL           "io.containerd.internal.v1"
#define PLUGIN_RUNTIME_V2         "io.containerd.runtime.v2"
#define PLUGIN_SHIM               "io.containerd.shim.v1"
#define PLUGIN_TRANSFER           "io.containerd.transfer.v1"
#define PLUGIN_STREAMING          "io.containerd.streaming.v1"
#define PLUGIN_SANDBOX_STORE      "io.containerd.sandbox.store.v1"
#define PLUGIN_SANDBOX_CONTROLLER "io.containerd.sandbox.controller.v1"
#define PLUGIN_CRI                "io.containerd.cri.v1"
#define PLUGIN_NRI                "io.containerd.nri.v1"
#define PLUGIN_IMAGE_VERIFIER     "io.containerd.image-verifier.v1"
#define PLUGIN_TASK_MONITOR       "io.containerd.monitor.task.v1"
#define PLUGIN_CONTAINER_MONITOR  "io.containerd.monitor.container.v1"

/* Returned by init to skip a plugin; the reason goes in *err (its message says why). */
#define PLUGIN_SKIP 1

struct plugin_registration {
    const char *type;
    const char *id;
    /* Types this plugin needs initialised first; NULL-terminated. "*" means every other type. */
    const char *const *requires;
    /*
     * The plugin's defaults as a TOML table (its [plugins."<type>.<id>"] section); NULL when
     * the plugin has no config. The registry owns the returned tree.
     */
    struct toml_value *(*default_config)(void);
    /* Returns 0 with *ret_instance set, PLUGIN_SKIP, or -1; err explains the last two. */
    int (*init)(struct plugin_context *ctx, void **ret_instance, struct berth_error **err);
    /* Releases the instance at shutdown, in reverse init order. */
    void (*close)(void *instance);
};

/* Disabled plugins are not loaded and, as in containerd, not listed by introspection. */
enum plugin_state {
    PLUGIN_STATE_PENDING,
    PLUGIN_STATE_OK,
    PLUGIN_STATE_SKIPPED,
    PLUGIN_STATE_ERROR,
    PLUGIN_STATE_DISABLED,
};

/* One plugin as introspection reports it. */
struct plugin_info {
    const struct plugin_registration *reg;
    enum plugin_state state;
    struct berth_error *init_error; /* skip reason or failure */
    void *instance;
    /* exports (key, value pairs), capabilities and platforms set by init through the context */
    char **exports;
    size_t n_exports; /* pairs */
    char **capabilities;
    size_t n_capabilities;
    char **platforms;
    size_t n_platforms;
};

struct plugin_set;

struct plugin_set *plugin_set_new(void);
void plugin_set_free(struct plugin_set *set);
void plugin_set_register(struct plugin_set *set, const struct plugin_registration *reg);
/* The registrations in dependency order (stable: registration order among equals). */
size_t plugin_set_count(const struct plugin_set *set);
const struct plugin_info *plugin_set_at(const struct plugin_set *set, size_t index);
const struct plugin_info *plugin_set_find(const struct plugin_set *set, const char *type,
                                          const char *id);

/* What init gets: directories, its config, and the other plugins. */
struct plugin_init_options {
    const char *root;  /* the daemon's root; the plugin's dir is <root>/<type>.<id> */
    const char *state; /* likewise under state */
    const struct toml_value *plugins_config; /* the [plugins] table, v3 names; may be NULL */
    const char *const *disabled;             /* "<type>.<id>" URIs; NULL-terminated; may be NULL */
    const char *const *required;
    void *daemon; /* opaque daemon handle for plugins that register services */
    /* Where the daemon serves, for plugins that hand the addresses on (shims). */
    const char *grpc_address;
    const char *ttrpc_address;
};

/*
 * Initialises every registered plugin in dependency order. A failing plugin is recorded and
 * skipped, unless it is required: then this fails. A required plugin that is missing or disabled
 * also fails.
 */
int plugin_set_init(struct plugin_set *set, const struct plugin_init_options *options,
                    struct berth_error **err);
/* Closes initialised plugins in reverse order. */
void plugin_set_close(struct plugin_set *set);

/* ---- for plugins, inside init ---- */
const struct plugin_registration *plugin_context_registration(const struct plugin_context *ctx);
/* <root>/<type>.<id> and <state>/<type>.<id> (not created: plugins make what they use). */
const char *plugin_context_root(const struct plugin_context *ctx);
const char *plugin_context_state(const struct plugin_context *ctx);
/* This plugin's config table (defaults merged with the config file), never NULL. */
const struct toml_value *plugin_context_config(const struct plugin_context *ctx);
void *plugin_context_daemon(const struct plugin_context *ctx);
/* The daemon's gRPC and ttrpc socket addresses ("" when not known, as in tests). */
const char *plugin_context_grpc_address(const struct plugin_context *ctx);
const char *plugin_context_ttrpc_address(const struct plugin_context *ctx);
/* An initialised plugin's instance, or NULL (not registered, skipped, failed, or not yet). */
void *plugin_context_get(const struct plugin_context *ctx, const char *type, const char *id);
/* The first initialised instance of a type, or NULL. */
void *plugin_context_get_by_type(const struct plugin_context *ctx, const char *type);
void plugin_context_export(struct plugin_context *ctx, const char *key, const char *value);
void plugin_context_add_capability(struct plugin_context *ctx, const char *capability);
void plugin_context_add_platform(struct plugin_context *ctx, const char *platform);
