/* A GC thread paced like containerd's scheduler: deletions trigger it, pauses stay rare. */
#include "core/metadata/gc_scheduler.h"
#include "core/config/config.h"
#include "core/metadata/gc.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/loop/loop.h"
#include "lib/toml/toml.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

struct gc_scheduler {
    struct metadata_db *db;
    struct content_store *store;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_mutex_t run_mu; /* one collection at a time */
    pthread_t thread;
    bool stopping;
    bool dirty;
    double pause_threshold;
    long long schedule_delay_ns;
    long long startup_delay_ns;
    long long next_allowed_ns; /* monotonic: when the pacing allows the next background run */
};

static int collect(struct gc_scheduler *s, struct berth_error **err)
{
    pthread_mutex_lock(&s->run_mu);
    struct gc_stats stats;
    long long start = monotonic_ns();
    int r = metadata_gc(s->db, s->store, &stats, err);
    long long took = monotonic_ns() - start;
    pthread_mutex_unlock(&s->run_mu);
    if (r == 0) {
        char d[32];
        snprintf(d, sizeof(d), "%.3fms", (double)took / 1e6);
        log_record(LOG_DEBUG, LOG_FIELDS("duration", d), "garbage collected");
    }
    pthread_mutex_lock(&s->mu);
    /* containerd's pause_threshold: GC may take at most that share of the time */
    if (s->pause_threshold > 0)
        s->next_allowed_ns = monotonic_ns() + (long long)((double)took / s->pause_threshold);
    pthread_mutex_unlock(&s->mu);
    return r;
}

static void timed_wait(struct gc_scheduler *s, long long until_ns)
{
    struct timespec ts = {.tv_sec = until_ns / 1000000000LL, .tv_nsec = until_ns % 1000000000LL};
    pthread_cond_timedwait(&s->cond, &s->mu, &ts);
}

static void *scheduler_thread(void *arg)
{
    struct gc_scheduler *s = arg;
    pthread_mutex_lock(&s->mu);
    long long first = monotonic_ns() + s->startup_delay_ns;
    while (!s->stopping && monotonic_ns() < first)
        timed_wait(s, first);
    s->dirty = true; /* one collection after start-up, as containerd runs one */
    while (!s->stopping) {
        if (!s->dirty) {
            pthread_cond_wait(&s->cond, &s->mu);
            continue;
        }
        long long when = monotonic_ns() + s->schedule_delay_ns;
        if (when < s->next_allowed_ns)
            when = s->next_allowed_ns;
        while (!s->stopping && monotonic_ns() < when)
            timed_wait(s, when);
        if (s->stopping)
            break;
        s->dirty = false;
        pthread_mutex_unlock(&s->mu);
        struct berth_error *err = NULL;
        if (collect(s, &err) < 0) {
            log_record(LOG_ERROR, LOG_FIELDS("error", err->message), "garbage collection failed");
            err_free(err);
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

void gc_scheduler_deleted(struct gc_scheduler *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->dirty = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

int gc_scheduler_run_sync(struct gc_scheduler *s, struct berth_error **err)
{
    if (!s)
        return 0;
    return collect(s, err);
}

/* containerd's defaults for [plugins."io.containerd.gc.v1.scheduler"]. */
static struct toml_value *scheduler_defaults(void)
{
    struct toml_value *t = toml_table_new();
    toml_table_set(t, "pause_threshold", toml_float_new(0.02));
    toml_table_set(t, "deletion_threshold", toml_int_new(0));
    toml_table_set(t, "mutation_threshold", toml_int_new(100));
    toml_table_set(t, "schedule_delay", toml_string_new("0s"));
    toml_table_set(t, "startup_delay", toml_string_new("100ms"));
    return t;
}

static int duration_option(const struct toml_value *config, const char *key, long long *ret,
                           struct berth_error **err)
{
    const char *text = toml_as_string(toml_table_get(config, key));
    int64_t ns;
    if (!text || config_parse_duration(text, &ns) < 0 || ns < 0)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "gc scheduler: %s must be a duration", key);
    *ret = ns;
    return 0;
}

static int scheduler_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    struct metadata_db *db = plugin_context_get_by_type(ctx, PLUGIN_METADATA);
    if (!db)
        return err_make(err, ERR_FAILED_PRECONDITION, 0, "no metadata database");
    struct gc_scheduler *s = xcalloc(1, sizeof(*s));
    s->db = db;
    s->store = plugin_context_get_by_type(ctx, PLUGIN_CONTENT);
    const struct toml_value *config = plugin_context_config(ctx);
    double pause = 0.02;
    if (!toml_as_float(toml_table_get(config, "pause_threshold"), &pause) || pause < 0 ||
        pause > 0.5) {
        free(s);
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "gc scheduler: pause_threshold must be between 0 and 0.5");
    }
    s->pause_threshold = pause;
    if (duration_option(config, "schedule_delay", &s->schedule_delay_ns, err) < 0 ||
        duration_option(config, "startup_delay", &s->startup_delay_ns, err) < 0) {
        free(s);
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->run_mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&s->thread, NULL, scheduler_thread, s) != 0) {
        free(s);
        return err_make(err, ERR_INTERNAL, 0, "gc scheduler: cannot start its thread");
    }
    *ret = s;
    return 0;
}

static void scheduler_close(void *instance)
{
    struct gc_scheduler *s = instance;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->run_mu);
    free(s);
}

static const char *const requires[] = {PLUGIN_METADATA, PLUGIN_CONTENT, NULL};

const struct plugin_registration gc_scheduler_plugin = {
    .type = PLUGIN_GC,
    .id = "scheduler",
    .requires = requires,
    .default_config = scheduler_defaults,
    .init = scheduler_init,
    .close = scheduler_close,
};
