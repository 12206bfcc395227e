/* The deprecation table and a mutex-guarded record of which warnings fired, and when. */
#include "core/deprecation/deprecation.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

static const struct {
    const char *id;
    const char *message;
} table[] = {
    {DEPRECATION_PULL_SCHEMA_1_IMAGE,
     "Docker schema 1 images are deprecated since containerd v1.7: pulling them is disabled in "
     "containerd v2.0 and support is removed in containerd v2.1. Since containerd v1.7.8 such "
     "images carry the label \"io.containerd.image/converted-docker-schema1\"."},
    {DEPRECATION_GO_PLUGIN_LIBRARY,
     "Go plugins loaded as shared libraries (`plugin_dir`) are deprecated since containerd v2.0 "
     "and removed in containerd v2.1. Use proxy plugins or external binaries instead."},
    {DEPRECATION_CRI_REGISTRY_MIRRORS,
     "`mirrors` in the CRI registry section (`[plugins.\"io.containerd.cri.v1.images\".registry]`, "
     "formerly `[plugins.\"io.containerd.grpc.v1.cri\".registry]`) is deprecated since containerd "
     "v1.5 and will be removed in containerd v2.1. Configure registry hosts through "
     "`config_path` instead."},
    {DEPRECATION_CRI_REGISTRY_AUTHS,
     "`auths` in the CRI registry section (`[plugins.\"io.containerd.cri.v1.images\".registry]`, "
     "formerly `[plugins.\"io.containerd.grpc.v1.cri\".registry]`) is deprecated since containerd "
     "v1.3 and will be removed in containerd v2.1. Pass credentials with Kubernetes "
     "`ImagePullSecrets` instead."},
    {DEPRECATION_CRI_REGISTRY_CONFIGS,
     "`configs` in the CRI registry section (`[plugins.\"io.containerd.cri.v1.images\".registry]`, "
     "formerly `[plugins.\"io.containerd.grpc.v1.cri\".registry]`) is deprecated since containerd "
     "v1.5 and will be removed in containerd v2.1. Configure registry hosts through "
     "`config_path` instead."},
    {DEPRECATION_TRACING_PROCESSOR_CONFIG,
     "`endpoint`, `protocol` and `insecure` in "
     "`[plugins.\"io.containerd.tracing.processor.v1.otlp\"]` are deprecated since containerd "
     "v1.6 and slated for removal in containerd v2.0. Set the OTLP exporter environment variables "
     "instead (https://opentelemetry.io/docs/specs/otel/protocol/exporter/)."},
    {DEPRECATION_TRACING_SERVICE_CONFIG,
     "`service_name` and `sampling_ratio` in `[plugins.\"io.containerd.internal.v1.tracing\"]` "
     "are deprecated since containerd v1.6 and slated for removal in containerd v2.0. Set the "
     "OpenTelemetry SDK environment variables instead "
     "(https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/)."},
};

#define N_IDS ARRAY_SIZE(table)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_seen_ns[N_IDS]; /* 0: never */
static bool logged[N_IDS];

static int find(const char *id)
{
    if (!id)
        return -1;
    for (size_t i = 0; i < N_IDS; i++)
        if (strcmp(table[i].id, id) == 0)
            return (int)i;
    return -1;
}

const char *deprecation_message(const char *id)
{
    int i = find(id);
    return i < 0 ? NULL : table[i].message;
}

void deprecation_warn(const char *id)
{
    int i = find(id);
    if (i < 0) {
        log_record(LOG_WARN, LOG_FIELDS("warningID", id ? id : "(null)"),
                   "invalid deprecation warning");
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;

    pthread_mutex_lock(&lock);
    last_seen_ns[i] = now > 0 ? now : 1;
    bool first = !logged[i];
    logged[i] = true;
    pthread_mutex_unlock(&lock);

    /* Logged outside the lock: the log sink may block. */
    if (first)
        log_record(LOG_WARN, LOG_FIELDS("id", table[i].id), "%s", table[i].message);
}

size_t deprecation_list(struct deprecation_warning **ret)
{
    struct deprecation_warning found[N_IDS];
    size_t n = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < N_IDS; i++)
        if (last_seen_ns[i])
            found[n++] =
                (struct deprecation_warning){table[i].id, table[i].message, last_seen_ns[i]};
    pthread_mutex_unlock(&lock);
    *ret = n ? xmemdup(found, n * sizeof(found[0])) : NULL;
    return n;
}

void deprecation_reset(void)
{
    pthread_mutex_lock(&lock);
    memset(last_seen_ns, 0, sizeof(last_seen_ns));
    memset(logged, 0, sizeof(logged));
    pthread_mutex_unlock(&lock);
}
