/* containerd 2.0's deprecation warnings: the IDs, their messages, and a process-wide recorder. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Every ID starts with this (containerd filters plugin exports by it). */
#define DEPRECATION_PREFIX "io.containerd.deprecation/"

#define DEPRECATION_PULL_SCHEMA_1_IMAGE      DEPRECATION_PREFIX "pull-schema-1-image"
#define DEPRECATION_GO_PLUGIN_LIBRARY        DEPRECATION_PREFIX "go-plugin-library"
#define DEPRECATION_CRI_REGISTRY_MIRRORS     DEPRECATION_PREFIX "cri-registry-mirrors"
#define DEPRECATION_CRI_REGISTRY_AUTHS       DEPRECATION_PREFIX "cri-registry-auths"
#define DEPRECATION_CRI_REGISTRY_CONFIGS     DEPRECATION_PREFIX "cri-registry-configs"
#define DEPRECATION_TRACING_PROCESSOR_CONFIG DEPRECATION_PREFIX "tracing-processor-config"
#define DEPRECATION_TRACING_SERVICE_CONFIG   DEPRECATION_PREFIX "tracing-service-config"

/* Environment switches that re-enable a deprecated feature (containerd's names). */
#define DEPRECATION_ENV_PREFIX              "CONTAINERD_ENABLE_DEPRECATED_"
#define DEPRECATION_ENV_PULL_SCHEMA_1_IMAGE DEPRECATION_ENV_PREFIX "PULL_SCHEMA_1_IMAGE"

struct deprecation_warning {
    const char *id;             /* static */
    const char *message;        /* static */
    int64_t last_occurrence_ns; /* CLOCK_REALTIME */
};

/* The message for a known ID, NULL for anything else. */
const char *deprecation_message(const char *id);

/*
 * Records that a deprecated feature was used now. The first time an ID is recorded in this
 * process a warning is logged with its message; an unknown ID is logged and ignored.
 * Thread-safe.
 */
void deprecation_warn(const char *id);

/*
 * The IDs recorded so far, in the order of the table above, each with its last occurrence.
 * Sets *ret to a malloc'd array (free() it; NULL when nothing was recorded) and returns its
 * length. Thread-safe.
 */
size_t deprecation_list(struct deprecation_warning **ret);

/* Forgets every recorded warning (for tests). */
void deprecation_reset(void);
