/* Pieces of core/config shared between its files and its tests. */
#pragma once

#include "core/config/config.h"

struct toml_value;

/* containerd's plugin names involved in migrations. */
#define CONFIG_PLUGIN_CRI_SERVER   "io.containerd.grpc.v1.cri"
#define CONFIG_PLUGIN_CRI_IMAGES   "io.containerd.cri.v1.images"
#define CONFIG_PLUGIN_CRI_RUNTIME  "io.containerd.cri.v1.runtime"
#define CONFIG_PLUGIN_RUNTIME_TASK "io.containerd.runtime.v2.task"
#define CONFIG_PLUGIN_SHIM_MANAGER "io.containerd.shim.v1.manager"
#define CONFIG_PLUGIN_OTLP         "io.containerd.tracing.processor.v1.otlp"
#define CONFIG_PLUGIN_TRACING      "io.containerd.internal.v1.tracing"

/* String lists. */
void config_strings_append(struct config_strings *s, const char *value);
/* Appends unless already present; returns whether it appended. */
bool config_strings_append_unique(struct config_strings *s, const char *value);
bool config_strings_contains(const struct config_strings *s, const char *value);
void config_strings_clear(struct config_strings *s);
void config_strings_copy(struct config_strings *dst, const struct config_strings *src);

/* Free what an entry holds (not the entry itself). */
void config_proxy_plugin_clear(struct config_proxy_plugin *p);
void config_stream_processor_clear(struct config_stream_processor *p);

/* Every field zero, strings "", plugins an empty table: what one file decodes into. */
struct berth_config *config_new_empty(void);

/*
 * Decodes a version 3 tree into c (fresh from config_new_empty). Unknown keys are logged with
 * the file name and skipped; a value of the wrong type is an ERR_INVALID_ARGUMENT naming the file
 * and the key.
 */
int config_decode(const struct toml_value *root, const char *filename, struct berth_config *c,
                  struct berth_error **err);

/*
 * containerd's mergeConfig: scalars from src win when not zero, lists are appended without
 * repeats, plugins are deep-merged, proxy_plugins, timeouts and stream_processors entries are
 * replaced whole.
 */
void config_merge(struct berth_config *dst, const struct berth_config *src);

/*
 * Looks for deprecated and removed properties in a loaded (merged, version 3) config: records each
 * deprecation ID in c->deprecations and through deprecation_warn, and logs removed properties.
 */
void config_check_deprecated(struct berth_config *c);

/* Lexical path cleanup as Go's filepath.Clean does it ("a//b/../c/" -> "a/c"). */
char *config_path_clean(const char *path);
/*
 * An importing file's imports as paths: cleaned, relative ones joined to the importing file's
 * directory, those holding '*' expanded as globs (sorted; no match gives nothing).
 */
int config_resolve_imports(const char *parent, const struct config_strings *imports,
                           struct config_strings *ret, struct berth_error **err);

/* Appends a TOML key to a dotted path, quoting it when it is not a bare key. */
char *config_key_join(const char *path, const char *key);
