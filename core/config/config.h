/* berthd's configuration: containerd's config.toml (versions 1, 2, 3), loaded, merged, migrated. */
#pragma once

#include "lib/base/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct toml_value;
struct plugin_set;

/* The version Berth writes and migrates to (containerd 2.0's version.ConfigVersion). */
#define CONFIG_VERSION 3

#define CONFIG_DEFAULT_PATH     "/etc/berth/config.toml"
#define CONFIG_DEFAULT_ROOT     "/var/lib/berth"
#define CONFIG_DEFAULT_STATE    "/run/berth"
#define CONFIG_DEFAULT_ADDRESS  "/run/berth/berth.sock"
#define CONFIG_DEFAULT_MSG_SIZE (16 << 20)

struct config_strings {
    char **items;
    size_t count;
};

struct config_grpc {
    char *address, *tcp_address, *tcp_tls_ca, *tcp_tls_cert, *tcp_tls_key;
    int64_t uid, gid;
    int64_t max_recv_message_size, max_send_message_size;
};

struct config_ttrpc {
    char *address; /* "" means <grpc.address>.ttrpc (config_resolve) */
    int64_t uid, gid;
};

struct config_debug {
    char *address;
    int64_t uid, gid;
    char *level;  /* "" or trace, debug, info, warn, warning, error, fatal, panic */
    char *format; /* "", "text" or "json" */
};

struct config_metrics {
    char *address;
    bool grpc_histogram;
};

struct config_proxy_plugin {
    char *name;
    char *type, *address, *platform;
    struct config_strings exports; /* key, value pairs: count is twice the number of exports */
    struct config_strings capabilities;
};

struct config_timeout {
    char *name;     /* "io.containerd.timeout.shim.load", ... */
    char *duration; /* a Go duration, "5s" */
};

struct config_stream_processor {
    char *id;
    struct config_strings accepts;
    char *returns, *path;
    struct config_strings args, env;
};

/* Every top-level key of containerd's version 3 config. Strings are never NULL. */
struct berth_config {
    int version;
    char *root, *state, *temp, *plugin_dir;
    struct config_grpc grpc;
    struct config_ttrpc ttrpc;
    struct config_debug debug;
    struct config_metrics metrics;
    struct config_strings disabled_plugins, required_plugins; /* "<type>.<id>" */
    /* [plugins]: a table of tables keyed "<type>.<id>" (version 3 names); never NULL */
    struct toml_value *plugins;
    int64_t oom_score;
    char *cgroup_path; /* [cgroup] path */
    struct config_proxy_plugin *proxy_plugins;
    size_t n_proxy_plugins;
    struct config_timeout *timeouts;
    size_t n_timeouts;
    struct config_strings imports;
    struct config_stream_processor *stream_processors;
    size_t n_stream_processors;
    /* Deprecation IDs the loaded files triggered (also sent to deprecation_warn), no repeats. */
    struct config_strings deprecations;
};

/* Berth's defaults: containerd's with Berth's paths, its timeouts and stream processors. */
struct berth_config *config_new_default(void);
/* NULL-safe; returns NULL. */
struct berth_config *config_free(struct berth_config *c);
static inline void config_freep(struct berth_config **c)
{
    config_free(*c);
}
#define _cleanup_config_ __attribute__((cleanup(config_freep)))

/*
 * Loads path over the defaults, then its imports breadth-first (globs allowed, relative to the
 * importing file's directory, each file once), migrating each file to version 3 before merging it
 * with containerd's rules. A missing path is fine (defaults) unless explicit_path. Errors:
 * malformed TOML ("file:line:col: ..."), a version above 3, a key of the wrong type
 * ("<file>: grpc.uid must be an integer"): ERR_INVALID_ARGUMENT; a missing file: ERR_NOT_FOUND.
 * Unknown keys are logged ("Ignoring unknown key in TOML") and skipped. Deprecated properties are
 * recorded through deprecation_warn and in (*ret)->deprecations.
 */
int config_load(const char *path, bool explicit_path, struct berth_config **ret,
                struct berth_error **err);

/*
 * Checks what containerd checks before starting: version, root and state set and different,
 * disabled/required entries are "<type>.<id>" URIs, a gRPC address, positive message sizes,
 * timeouts that parse as durations, a known debug level and format.
 */
int config_validate(const struct berth_config *c, struct berth_error **err);

/* What containerd's main does after flags: an unset ttrpc address follows the gRPC socket. */
void config_resolve(struct berth_config *c);

/* "<type>.<id>" is listed in disabled_plugins. */
bool config_plugin_disabled(const struct berth_config *c, const char *type, const char *id);

/*
 * The config as a version 3 TOML document with every top-level section. When plugins is given,
 * [plugins] also holds every registered, non-disabled plugin's defaults merged with its configured
 * section (containerd's `config default` and `config dump`). Returns a malloc'd string.
 */
char *config_to_toml(const struct berth_config *c, const struct plugin_set *plugins);

/*
 * Migrates a parsed config file to version 3 in place: v1 plugin names (plugins, disabled and
 * required), then each v2 -> v3 plugin migration (also for v1 files), and sets version = 3. A
 * missing version is 1; above 3 is an error. *ret_from_version (may be NULL) gets the version the
 * tree had. filename names the file in errors and warnings (may be NULL).
 */
int config_migrate_tree(struct toml_value *root, const char *filename, int *ret_from_version,
                        struct berth_error **err);

/* Go's time.ParseDuration ("1h2m3.5s", "300ms", "0"): nanoseconds; -1 when not a duration. */
int config_parse_duration(const char *text, int64_t *ret_ns);
