/* The event exchange: validated envelopes fanned out to filtered, bounded subscriber queues. */
#include "core/events/events.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/filters/filters.h"
#include "lib/identifiers/gostring.h"
#include "lib/identifiers/identifiers.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* An envelope and its strings in one block, shared by every subscriber that queues it. */
struct envelope_box {
    atomic_size_t refs;
    size_t bytes;
    struct event_envelope env;
};

enum subscription_state {
    SUBSCRIPTION_OPEN,
    SUBSCRIPTION_FELL_BEHIND, /* queued events drain, then the error */
    SUBSCRIPTION_CLOSED,      /* by event_subscription_close */
    SUBSCRIPTION_ORPHANED,    /* the exchange was freed */
};

struct event_subscription {
    struct event_exchange *exchange;
    struct filter *filter;
    /* Guarded by exchange->lock. */
    struct event_subscription *prev, *next;
    bool linked;
    /* Guarded by lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    enum subscription_state state;
    struct envelope_box **ring;
    size_t ring_cap, head, count, bytes;
    size_t max_events, max_bytes;
};

struct event_exchange {
    pthread_mutex_t lock;
    atomic_size_t refs; /* the owner's and one per subscription */
    bool closed;
    struct event_subscription *subscriptions;
    event_field_fn field_hook;
    void *field_hook_data;
};

static struct envelope_box *box_of(struct event_envelope *env)
{
    return (struct envelope_box *)((char *)env - offsetof(struct envelope_box, env));
}

static struct envelope_box *box_ref(struct envelope_box *box)
{
    atomic_fetch_add_explicit(&box->refs, 1, memory_order_relaxed);
    return box;
}

static void box_unref(struct envelope_box *box)
{
    if (box && atomic_fetch_sub_explicit(&box->refs, 1, memory_order_acq_rel) == 1)
        free(box);
}

struct event_envelope *event_envelope_unref(struct event_envelope *env)
{
    if (env)
        box_unref(box_of(env));
    return NULL;
}

static struct envelope_box *box_new(long long timestamp_ns, const char *namespace_name,
                                    const char *topic, const char *type_url, const void *value,
                                    size_t value_len)
{
    type_url = type_url ? type_url : "";
    size_t ns_len = strlen(namespace_name), topic_len = strlen(topic), url_len = strlen(type_url);
    size_t size = sizeof(struct envelope_box) + ns_len + topic_len + url_len + 3 + value_len;
    struct envelope_box *box = xmalloc(size);
    atomic_init(&box->refs, 1);
    box->bytes = size;
    char *p = (char *)(box + 1);
    box->env = (struct event_envelope){.timestamp_ns = timestamp_ns, .value_len = value_len};
    box->env.namespace_name = memcpy(p, namespace_name, ns_len + 1);
    p += ns_len + 1;
    box->env.topic = memcpy(p, topic, topic_len + 1);
    p += topic_len + 1;
    box->env.type_url = memcpy(p, type_url, url_len + 1);
    p += url_len + 1;
    box->env.value = (uint8_t *)p;
    if (value_len)
        memcpy(p, value, value_len);
    return box;
}

static void exchange_unref(struct event_exchange *ex)
{
    if (atomic_fetch_sub_explicit(&ex->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_destroy(&ex->lock);
    free(ex);
}

struct event_exchange *event_exchange_new(void)
{
    struct event_exchange *ex = xcalloc(1, sizeof(*ex));
    pthread_mutex_init(&ex->lock, NULL);
    atomic_init(&ex->refs, 1);
    return ex;
}

void event_exchange_set_field_hook(struct event_exchange *ex, event_field_fn fn, void *data)
{
    pthread_mutex_lock(&ex->lock);
    ex->field_hook = fn;
    ex->field_hook_data = data;
    pthread_mutex_unlock(&ex->lock);
}

/* Called with ex->lock held. */
static void unlink_subscription(struct event_exchange *ex, struct event_subscription *sub)
{
    if (!sub->linked)
        return;
    if (sub->prev)
        sub->prev->next = sub->next;
    else
        ex->subscriptions = sub->next;
    if (sub->next)
        sub->next->prev = sub->prev;
    sub->prev = sub->next = NULL;
    sub->linked = false;
}

/* Called with sub->lock held. */
static void drop_queue(struct event_subscription *sub)
{
    while (sub->count) {
        box_unref(sub->ring[sub->head]);
        sub->head = (sub->head + 1) % sub->ring_cap;
        sub->count--;
    }
    sub->bytes = 0;
}

struct event_exchange *event_exchange_free(struct event_exchange *ex)
{
    if (!ex)
        return NULL;
    pthread_mutex_lock(&ex->lock);
    ex->closed = true;
    while (ex->subscriptions) {
        struct event_subscription *sub = ex->subscriptions;
        unlink_subscription(ex, sub);
        pthread_mutex_lock(&sub->lock);
        if (sub->state != SUBSCRIPTION_CLOSED) {
            sub->state = SUBSCRIPTION_ORPHANED;
            drop_queue(sub);
        }
        pthread_cond_broadcast(&sub->cond);
        pthread_mutex_unlock(&sub->lock);
    }
    pthread_mutex_unlock(&ex->lock);
    exchange_unref(ex);
    return NULL;
}

int event_topic_validate(const char *topic, struct berth_error **err)
{
    if (!topic || !topic[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "must not be empty");
    if (topic[0] != '/')
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "must start with '/'");
    if (!topic[1])
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "must have at least one component");
    for (const char *part = topic + 1;;) {
        const char *slash = strchr(part, '/');
        size_t len = slash ? (size_t)(slash - part) : strlen(part);
        _cleanup_free_ char *component = xstrndup(part, len);
        if (identifier_validate(component, err) < 0) {
            _cleanup_free_ char *quoted = go_quote(component, len);
            return err_wrap(err, "failed validation on component %s", quoted);
        }
        if (!slash)
            return 0;
        part = slash + 1;
    }
}

static int validate_topic(const char *topic, struct berth_error **err)
{
    if (event_topic_validate(topic, err) == 0)
        return 0;
    _cleanup_free_ char *quoted = go_quote(topic ? topic : "", topic ? strlen(topic) : 0);
    return err_wrap(err, "envelope topic %s", quoted);
}

/* Adaptor over an envelope: namespace, topic, and event.* through the exchange's hook. */
struct envelope_fields {
    const struct event_envelope *env;
    event_field_fn hook;
    void *hook_data;
    char *decoded; /* the last value the hook returned */
};

static bool envelope_field(void *object, const char *const *fieldpath, size_t n,
                           const char **ret_value)
{
    struct envelope_fields *f = object;
    if (n == 0)
        return false;
    if (strcmp(fieldpath[0], "namespace") == 0) {
        *ret_value = f->env->namespace_name;
        return f->env->namespace_name[0] != '\0';
    }
    if (strcmp(fieldpath[0], "topic") == 0) {
        *ret_value = f->env->topic;
        return f->env->topic[0] != '\0';
    }
    if (strcmp(fieldpath[0], "event") == 0 && f->hook) {
        free(f->decoded);
        f->decoded = NULL;
        bool present = f->hook(f->hook_data, f->env->type_url, f->env->value, f->env->value_len,
                               fieldpath + 1, n - 1, &f->decoded);
        *ret_value = f->decoded;
        return present;
    }
    return false;
}

/* Called with sub->lock held: queues the envelope, or marks the subscriber as fallen behind. */
static bool enqueue(struct event_subscription *sub, struct envelope_box *box)
{
    if (sub->count > 0 &&
        (sub->count >= sub->max_events || sub->bytes + box->bytes > sub->max_bytes)) {
        sub->state = SUBSCRIPTION_FELL_BEHIND;
        return false;
    }
    if (sub->count == sub->ring_cap) {
        size_t cap = sub->ring_cap ? sub->ring_cap * 2 : 16;
        if (cap > sub->max_events)
            cap = sub->max_events;
        struct envelope_box **ring = xcalloc(cap, sizeof(*ring));
        for (size_t i = 0; i < sub->count; i++)
            ring[i] = sub->ring[(sub->head + i) % sub->ring_cap];
        free(sub->ring);
        sub->ring = ring;
        sub->ring_cap = cap;
        sub->head = 0;
    }
    sub->ring[(sub->head + sub->count) % sub->ring_cap] = box_ref(box);
    sub->count++;
    sub->bytes += box->bytes;
    return true;
}

/* Fans the envelope out under the exchange lock, so every subscriber sees one order. */
static void broadcast(struct event_exchange *ex, struct envelope_box *box)
{
    size_t dropped = 0;
    pthread_mutex_lock(&ex->lock);
    struct envelope_fields fields = {
        .env = &box->env, .hook = ex->field_hook, .hook_data = ex->field_hook_data};
    for (struct event_subscription *sub = ex->subscriptions, *next; sub; sub = next) {
        next = sub->next;
        bool match = filters_match(sub->filter, envelope_field, &fields);
        free(fields.decoded);
        fields.decoded = NULL;
        if (!match)
            continue;
        pthread_mutex_lock(&sub->lock);
        bool queued = sub->state == SUBSCRIPTION_OPEN && enqueue(sub, box);
        pthread_cond_broadcast(&sub->cond);
        pthread_mutex_unlock(&sub->lock);
        if (!queued) {
            /* Publishers never wait for a slow reader: it is cut off instead. */
            unlink_subscription(ex, sub);
            dropped++;
        }
    }
    pthread_mutex_unlock(&ex->lock);
    if (dropped) {
        char count[32];
        snprintf(count, sizeof(count), "%zu", dropped);
        log_record(LOG_WARN, LOG_FIELDS("topic", box->env.topic, "subscribers", count),
                   "dropped event subscribers that fell behind");
    }
}

static long long realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int event_exchange_publish(struct event_exchange *ex, const char *namespace_name, const char *topic,
                           const char *type_url, const void *value, size_t len,
                           struct berth_error **err)
{
    if (!namespace_name || !namespace_name[0])
        return err_make(err, ERR_FAILED_PRECONDITION, 0,
                        "failed publishing event: namespace is required");
    if (identifier_validate(namespace_name, err) < 0)
        return err_wrap(err, "failed publishing event: namespace validation");
    if (validate_topic(topic, err) < 0)
        return -1;
    struct envelope_box *box = box_new(realtime_ns(), namespace_name, topic, type_url, value, len);
    broadcast(ex, box);
    if (log_enabled(LOG_TRACE))
        log_record(LOG_TRACE,
                   LOG_FIELDS("topic", topic, "ns", namespace_name, "type", box->env.type_url),
                   "event published");
    box_unref(box);
    return 0;
}

int event_exchange_forward(struct event_exchange *ex, const struct event_envelope *env,
                           struct berth_error **err)
{
    if (identifier_validate(env->namespace_name, err) < 0)
        return err_wrap(err, "event envelope has invalid namespace");
    if (validate_topic(env->topic, err) < 0)
        return -1;
    if (env->timestamp_ns == EVENT_TIMESTAMP_UNSET)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "timestamp must be set on forwarded event");
    struct envelope_box *box = box_new(env->timestamp_ns, env->namespace_name, env->topic,
                                       env->type_url, env->value, env->value_len);
    broadcast(ex, box);
    if (log_enabled(LOG_TRACE))
        log_record(
            LOG_TRACE,
            LOG_FIELDS("topic", env->topic, "ns", env->namespace_name, "type", box->env.type_url),
            "event forwarded");
    box_unref(box);
    return 0;
}

struct event_subscription *
event_exchange_subscribe_with_limits(struct event_exchange *ex, const char *const *filters,
                                     size_t n, const struct event_subscription_limits *limits,
                                     struct berth_error **err)
{
    struct filter *filter = NULL;
    if (filters_parse_any(filters, n, &filter, err) < 0) {
        err_wrap(err, "failed parsing subscription filters");
        return NULL;
    }
    struct event_subscription *sub = xcalloc(1, sizeof(*sub));
    sub->filter = filter;
    sub->max_events =
        limits && limits->max_events ? limits->max_events : EVENT_SUBSCRIPTION_MAX_EVENTS;
    sub->max_bytes = limits && limits->max_bytes ? limits->max_bytes : EVENT_SUBSCRIPTION_MAX_BYTES;
    pthread_mutex_init(&sub->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&sub->cond, &attr);
    pthread_condattr_destroy(&attr);

    pthread_mutex_lock(&ex->lock);
    if (ex->closed) {
        pthread_mutex_unlock(&ex->lock);
        sub->exchange = NULL;
        event_subscription_free(sub);
        err_make(err, ERR_UNAVAILABLE, 0, "event exchange closed");
        return NULL;
    }
    atomic_fetch_add_explicit(&ex->refs, 1, memory_order_relaxed);
    sub->exchange = ex;
    sub->next = ex->subscriptions;
    if (sub->next)
        sub->next->prev = sub;
    ex->subscriptions = sub;
    sub->linked = true;
    pthread_mutex_unlock(&ex->lock);
    return sub;
}

struct event_subscription *event_exchange_subscribe(struct event_exchange *ex,
                                                    const char *const *filters, size_t n,
                                                    struct berth_error **err)
{
    return event_exchange_subscribe_with_limits(ex, filters, n, NULL, err);
}

static struct timespec deadline_after(long long timeout_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ns = ts.tv_nsec + timeout_ns % 1000000000LL;
    ts.tv_sec += (time_t)(timeout_ns / 1000000000LL + ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}

int event_subscription_next(struct event_subscription *sub, long long timeout_ns,
                            struct event_envelope **ret, struct berth_error **err)
{
    struct timespec deadline = deadline_after(timeout_ns > 0 ? timeout_ns : 0);
    pthread_mutex_lock(&sub->lock);
    while (sub->count == 0 && sub->state == SUBSCRIPTION_OPEN) {
        if (timeout_ns == 0)
            break;
        if (timeout_ns < 0) {
            pthread_cond_wait(&sub->cond, &sub->lock);
        } else if (pthread_cond_timedwait(&sub->cond, &sub->lock, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    int r = 0;
    enum subscription_state state = sub->state;
    if (state == SUBSCRIPTION_CLOSED) {
        r = err_make(err, ERR_CANCELED, 0, "event subscription closed");
    } else if (state == SUBSCRIPTION_ORPHANED) {
        r = err_make(err, ERR_UNAVAILABLE, 0, "event exchange closed");
    } else if (sub->count > 0) {
        struct envelope_box *box = sub->ring[sub->head];
        sub->head = (sub->head + 1) % sub->ring_cap;
        sub->count--;
        sub->bytes -= box->bytes;
        *ret = &box->env;
        r = 1;
    } else if (state == SUBSCRIPTION_FELL_BEHIND) {
        r = err_make(err, ERR_RESOURCE_EXHAUSTED, 0,
                     "event subscriber fell behind: more than %zu events or %zu bytes queued",
                     sub->max_events, sub->max_bytes);
    }
    pthread_mutex_unlock(&sub->lock);
    return r;
}

void event_subscription_close(struct event_subscription *sub)
{
    if (!sub)
        return;
    struct event_exchange *ex = sub->exchange;
    if (ex) {
        pthread_mutex_lock(&ex->lock);
        unlink_subscription(ex, sub);
        pthread_mutex_unlock(&ex->lock);
    }
    pthread_mutex_lock(&sub->lock);
    sub->state = SUBSCRIPTION_CLOSED;
    drop_queue(sub);
    pthread_cond_broadcast(&sub->cond);
    pthread_mutex_unlock(&sub->lock);
}

struct event_subscription *event_subscription_free(struct event_subscription *sub)
{
    if (!sub)
        return NULL;
    event_subscription_close(sub);
    pthread_cond_destroy(&sub->cond);
    pthread_mutex_destroy(&sub->lock);
    free(sub->ring);
    filters_free(sub->filter);
    if (sub->exchange)
        exchange_unref(sub->exchange);
    free(sub);
    return NULL;
}
