/* The event exchange: publish, forward and filtered subscriptions, as containerd's exchange. */
#pragma once

#include "lib/base/errors.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A timestamp that was never set (the only one Forward refuses; the Unix epoch is a time). */
#define EVENT_TIMESTAMP_UNSET LLONG_MIN

/* Default bound of a subscriber's queue; a subscriber that falls further behind is dropped. */
#define EVENT_SUBSCRIPTION_MAX_EVENTS 4096
#define EVENT_SUBSCRIPTION_MAX_BYTES  (4u << 20)

/* An event with its routing, the event itself an Any (type URL + opaque bytes). */
struct event_envelope {
    long long timestamp_ns; /* CLOCK_REALTIME nanoseconds since the Unix epoch */
    char *namespace_name;
    char *topic;
    char *type_url;
    uint8_t *value;
    size_t value_len;
};

/*
 * Envelopes returned by event_subscription_next are shared between subscribers: read-only, and
 * released with event_envelope_unref (NULL-safe, returns NULL). Envelopes built by callers (for
 * forward) are theirs; never pass those here.
 */
struct event_envelope *event_envelope_unref(struct event_envelope *env);
static inline void event_envelope_unrefp(struct event_envelope **env)
{
    event_envelope_unref(*env);
}
#define _cleanup_envelope_ __attribute__((cleanup(event_envelope_unrefp)))

/*
 * Reads fieldpath[0..n) of an event (what follows `event.` in a filter) from its Any. Returns
 * true when present, with *ret_value malloc'd (the exchange frees it). Called with the exchange's
 * lock held: it must not call back into the exchange.
 */
typedef bool (*event_field_fn)(void *data, const char *type_url, const uint8_t *value,
                               size_t value_len, const char *const *fieldpath, size_t n,
                               char **ret_value);

struct event_exchange;
struct event_subscription;

struct event_exchange *event_exchange_new(void);
/* Closes every subscription (their readers get ERR_UNAVAILABLE); NULL-safe, returns NULL. */
struct event_exchange *event_exchange_free(struct event_exchange *ex);
/* Sets the decoder for `event.<field>` selectors; without one they never match. */
void event_exchange_set_field_hook(struct event_exchange *ex, event_field_fn fn, void *data);

/*
 * Publishes an event, stamped now. namespace_name is required (FailedPrecondition when NULL or
 * empty) and must be an identifier; the topic must start with '/' and each component be an
 * identifier (InvalidArgument, worded as containerd's). Never blocks on subscribers.
 */
int event_exchange_publish(struct event_exchange *ex, const char *namespace_name, const char *topic,
                           const char *type_url, const void *value, size_t len,
                           struct berth_error **err);
/* Distributes an envelope published elsewhere (a shim), keeping its timestamp. */
int event_exchange_forward(struct event_exchange *ex, const struct event_envelope *env,
                           struct berth_error **err);

struct event_subscription_limits {
    size_t max_events; /* 0: EVENT_SUBSCRIPTION_MAX_EVENTS */
    size_t max_bytes;  /* 0: EVENT_SUBSCRIPTION_MAX_BYTES */
};

/*
 * Subscribes to events matching any of the n filters (none: every event of every namespace).
 * Filter fields: `namespace`, `topic`, `event.<field>` (through the field hook).
 */
struct event_subscription *event_exchange_subscribe(struct event_exchange *ex,
                                                    const char *const *filters, size_t n,
                                                    struct berth_error **err);
struct event_subscription *
event_exchange_subscribe_with_limits(struct event_exchange *ex, const char *const *filters,
                                     size_t n, const struct event_subscription_limits *limits,
                                     struct berth_error **err);

/*
 * Waits for the next event: timeout_ns < 0 waits without limit, 0 polls. Returns 1 with *ret
 * (release with event_envelope_unref), 0 on timeout, or -1 when the subscription ended:
 * ERR_CANCELED after event_subscription_close, ERR_UNAVAILABLE when the exchange was freed,
 * ERR_RESOURCE_EXHAUSTED (after the events queued before) when the subscriber fell behind.
 * One reader at a time.
 */
int event_subscription_next(struct event_subscription *sub, long long timeout_ns,
                            struct event_envelope **ret, struct berth_error **err);
/* Ends the subscription and wakes its reader; callable from any thread, more than once. */
void event_subscription_close(struct event_subscription *sub);
/* Closes and frees; no thread may be inside event_subscription_next. NULL-safe, returns NULL. */
struct event_subscription *event_subscription_free(struct event_subscription *sub);
static inline void event_subscription_freep(struct event_subscription **sub)
{
    event_subscription_free(*sub);
}
#define _cleanup_subscription_ __attribute__((cleanup(event_subscription_freep)))

/* containerd's topic rule alone (the message without the `envelope topic "..."` context). */
int event_topic_validate(const char *topic, struct berth_error **err);
