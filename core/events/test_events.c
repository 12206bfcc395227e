/* Unit tests for the event exchange: fan-out, filters, validation, slow readers, threads. */
#include "core/events/events.h"
#include "lib/base/alloc.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#define MS 1000000LL

/* Test events are "key=value;key=value" bytes; the hook reads event.<key> from them. */
static bool text_event_field(void *data, const char *type_url, const uint8_t *value,
                             size_t value_len, const char *const *fieldpath, size_t n,
                             char **ret_value)
{
    if (n != 1)
        return false;
    _cleanup_free_ char *text = xstrndup((const char *)value, value_len);
    size_t key_len = strlen(fieldpath[0]);
    for (char *part = strtok(text, ";"); part; part = strtok(NULL, ";")) {
        if (strncmp(part, fieldpath[0], key_len) == 0 && part[key_len] == '=') {
            *ret_value = xstrdup(part + key_len + 1);
            return true;
        }
    }
    return false;
}

static void publish(struct event_exchange *ex, const char *ns, const char *topic, const char *value)
{
    struct berth_error *err = NULL;
    if (event_exchange_publish(ex, ns, topic, "test.Event", value, strlen(value), &err) < 0)
        fail_msg("publish %s: %s", topic, err->message);
}

/* Reads what is queued now; returns the values joined with ' '. */
static char *drain(struct event_subscription *sub)
{
    char *out = xstrdup("");
    struct event_envelope *env;
    struct berth_error *err = NULL;
    int r;
    while ((r = event_subscription_next(sub, 0, &env, &err)) == 1) {
        char *joined = xasprintf("%s%s%.*s", out, out[0] ? " " : "", (int)env->value_len,
                                 (const char *)env->value);
        free(out);
        out = joined;
        event_envelope_unref(env);
    }
    assert_int_equal(r, 0);
    return out;
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void test_basic(void **state)
{
    struct event_exchange *ex = event_exchange_new();
    struct berth_error *err = NULL;
    _cleanup_subscription_ struct event_subscription *a =
        event_exchange_subscribe(ex, NULL, 0, &err);
    _cleanup_subscription_ struct event_subscription *b =
        event_exchange_subscribe(ex, NULL, 0, &err);
    assert_non_null(a);
    assert_non_null(b);
    long long before = now_ns();
    publish(ex, "TestExchangeBasic", "/test", "asdf");
    publish(ex, "TestExchangeBasic", "/test", "qwer");
    publish(ex, "TestExchangeBasic", "/test", "zxcv");

    _cleanup_envelope_ struct event_envelope *env = NULL;
    assert_int_equal(event_subscription_next(a, -1, &env, &err), 1);
    assert_string_equal(env->namespace_name, "TestExchangeBasic");
    assert_string_equal(env->topic, "/test");
    assert_string_equal(env->type_url, "test.Event");
    assert_int_equal(env->value_len, 4);
    assert_memory_equal(env->value, "asdf", 4);
    assert_true(env->timestamp_ns >= before && env->timestamp_ns <= now_ns());

    _cleanup_free_ char *rest = drain(a);
    assert_string_equal(rest, "qwer zxcv");
    _cleanup_free_ char *all = drain(b);
    assert_string_equal(all, "asdf qwer zxcv");
    event_exchange_free(ex);
}

struct filter_case {
    const char *name;
    const char *filters[2];
    size_t n;
    const char *expected;
    struct event_subscription *sub;
};

static void test_filters(void **state)
{
    struct event_exchange *ex = event_exchange_new();
    event_exchange_set_field_hook(ex, text_event_field, NULL);
    struct filter_case cases[] = {
        {"no filter", {NULL}, 0, "id=asdf id=qwer id=zxcv container_id=abcdef"},
        {"one topic", {"topic==\"/containers/create\""}, 1, "id=asdf id=qwer id=zxcv"},
        {"event field", {"event.id"}, 1, "id=asdf id=qwer id=zxcv"},
        {"field or topic",
         {"topic==\"/containers/create\"", "event.id"},
         2,
         "id=asdf id=qwer id=zxcv"},
        {"regexp", {"topic~=\"/containers/*\""}, 1, "id=asdf id=qwer id=zxcv"},
        {"either topic",
         {"topic==\"/tasks/exit\"", "topic==\"/containers/create\""},
         2,
         "id=asdf id=qwer id=zxcv container_id=abcdef"},
        {"topic and id", {"topic==\"/containers/create\",event.id==\"qwer\""}, 1, "id=qwer"},
        {"other field", {"event.container_id~=^abc"}, 1, "container_id=abcdef"},
        {"namespace",
         {"namespace==TestExchangeFilters"},
         1,
         "id=asdf id=qwer id=zxcv container_id=abcdef"},
        {"other namespace", {"namespace==other"}, 1, ""},
        {"missing field", {"event.pid"}, 1, ""},
        {"not equal on missing", {"event.id!=qwer"}, 1, "id=asdf id=zxcv container_id=abcdef"},
    };
    struct berth_error *err = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        cases[i].sub = event_exchange_subscribe(ex, cases[i].filters, cases[i].n, &err);
        if (!cases[i].sub)
            fail_msg("%s: %s", cases[i].name, err->message);
    }
    publish(ex, "TestExchangeFilters", "/containers/create", "id=asdf");
    publish(ex, "TestExchangeFilters", "/containers/create", "id=qwer");
    publish(ex, "TestExchangeFilters", "/containers/create", "id=zxcv");
    publish(ex, "TestExchangeFilters", "/tasks/exit", "container_id=abcdef");
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *got = drain(cases[i].sub);
        if (strcmp(got, cases[i].expected) != 0)
            fail_msg("%s: got \"%s\", want \"%s\"", cases[i].name, got, cases[i].expected);
        event_subscription_free(cases[i].sub);
    }

    /* Without a hook, event.* selectors match nothing (and != matches everything). */
    event_exchange_set_field_hook(ex, NULL, NULL);
    const char *by_id[] = {"event.id"}, *not_id[] = {"event.id!=x"};
    _cleanup_subscription_ struct event_subscription *id =
        event_exchange_subscribe(ex, by_id, 1, &err);
    _cleanup_subscription_ struct event_subscription *nid =
        event_exchange_subscribe(ex, not_id, 1, &err);
    publish(ex, "TestExchangeFilters", "/containers/create", "id=asdf");
    _cleanup_free_ char *none = drain(id);
    assert_string_equal(none, "");
    _cleanup_free_ char *one = drain(nid);
    assert_string_equal(one, "id=asdf");
    event_exchange_free(ex);
}

static void test_namespaces(void **state)
{
    struct event_exchange *ex = event_exchange_new();
    struct berth_error *err = NULL;
    const char *only_a[] = {"namespace==a"};
    const char *k8s[] = {"namespace==\"k8s.io\",topic~=^/tasks/"};
    _cleanup_subscription_ struct event_subscription *all =
        event_exchange_subscribe(ex, NULL, 0, &err);
    _cleanup_subscription_ struct event_subscription *a =
        event_exchange_subscribe(ex, only_a, 1, &err);
    _cleanup_subscription_ struct event_subscription *k =
        event_exchange_subscribe(ex, k8s, 1, &err);
    publish(ex, "a", "/x", "1");
    publish(ex, "b", "/x", "2");
    publish(ex, "k8s.io", "/tasks/start", "3");
    publish(ex, "k8s.io", "/containers/create", "4");
    publish(ex, "a", "/y", "5");
    _cleanup_free_ char *got_all = drain(all), *got_a = drain(a), *got_k = drain(k);
    assert_string_equal(got_all, "1 2 3 4 5");
    assert_string_equal(got_a, "1 5");
    assert_string_equal(got_k, "3");
    event_exchange_free(ex);
}

static void expect_error(int r, struct berth_error **errp, enum err_kind kind, const char *msg)
{
    struct berth_error *err = *errp;
    *errp = NULL;
    assert_int_equal(r, -1);
    assert_non_null(err);
    if (strcmp(err->message, msg) != 0)
        fail_msg("\n got  %s\n want %s", err->message, msg);
    assert_int_equal(err->kind, kind);
    err_free(err);
}

#define IDENTIFIER_RULE "must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$"

static void test_validation(void **state)
{
    struct event_exchange *ex = event_exchange_new();
    struct berth_error *err = NULL;
    _cleanup_subscription_ struct event_subscription *sub =
        event_exchange_subscribe(ex, NULL, 0, &err);

    expect_error(event_exchange_publish(ex, NULL, "/test", "t", "", 0, &err), &err,
                 ERR_FAILED_PRECONDITION,
                 "failed publishing event: namespace is required: failed precondition");
    expect_error(event_exchange_publish(ex, "", "/test", "t", "", 0, &err), &err,
                 ERR_FAILED_PRECONDITION,
                 "failed publishing event: namespace is required: failed precondition");
    expect_error(
        event_exchange_publish(ex, "bad ns", "/test", "t", "", 0, &err), &err, ERR_INVALID_ARGUMENT,
        "failed publishing event: namespace validation: identifier \"bad ns\" " IDENTIFIER_RULE
        ": invalid argument");
    expect_error(event_exchange_publish(ex, "ns", "test", "t", "", 0, &err), &err,
                 ERR_INVALID_ARGUMENT,
                 "envelope topic \"test\": must start with '/': invalid argument");
    expect_error(event_exchange_publish(ex, "ns", "sandboxes/create", "t", "", 0, &err), &err,
                 ERR_INVALID_ARGUMENT,
                 "envelope topic \"sandboxes/create\": must start with '/': invalid argument");
    expect_error(event_exchange_publish(ex, "ns", "", "t", "", 0, &err), &err, ERR_INVALID_ARGUMENT,
                 "envelope topic \"\": must not be empty: invalid argument");
    expect_error(event_exchange_publish(ex, "ns", "/", "t", "", 0, &err), &err,
                 ERR_INVALID_ARGUMENT,
                 "envelope topic \"/\": must have at least one component: invalid argument");
    expect_error(event_exchange_publish(ex, "ns", "/a//b", "t", "", 0, &err), &err,
                 ERR_INVALID_ARGUMENT,
                 "envelope topic \"/a//b\": failed validation on component \"\": identifier must "
                 "not be empty: invalid argument");
    expect_error(event_exchange_publish(ex, "ns", "/tasks/", "t", "", 0, &err), &err,
                 ERR_INVALID_ARGUMENT,
                 "envelope topic \"/tasks/\": failed validation on component \"\": identifier "
                 "must not be empty: invalid argument");
    expect_error(event_exchange_publish(ex, "ns", "/tasks/bad id", "t", "", 0, &err), &err,
                 ERR_INVALID_ARGUMENT,
                 "envelope topic \"/tasks/bad id\": failed validation on component \"bad id\": "
                 "identifier \"bad id\" " IDENTIFIER_RULE ": invalid argument");
    assert_int_equal(event_exchange_publish(ex, "ns", "/test/test", NULL, NULL, 0, &err), 0);

    struct event_envelope env = {
        .timestamp_ns = 1234, .namespace_name = "", .topic = "/x", .type_url = "t"};
    expect_error(event_exchange_forward(ex, &env, &err), &err, ERR_INVALID_ARGUMENT,
                 "event envelope has invalid namespace: identifier must not be empty: invalid "
                 "argument");
    env.namespace_name = "ns";
    env.topic = "x";
    expect_error(event_exchange_forward(ex, &env, &err), &err, ERR_INVALID_ARGUMENT,
                 "envelope topic \"x\": must start with '/': invalid argument");
    env.topic = "/x";
    env.timestamp_ns = EVENT_TIMESTAMP_UNSET;
    expect_error(event_exchange_forward(ex, &env, &err), &err, ERR_INVALID_ARGUMENT,
                 "timestamp must be set on forwarded event: invalid argument");

    const char *bad[] = {"topic=="};
    assert_null(event_exchange_subscribe(ex, bad, 1, &err));
    expect_error(-1, &err, ERR_INVALID_ARGUMENT,
                 "failed parsing subscription filters: filters: parse error: [topic==]: expected "
                 "value or quoted: invalid argument");

    /* Only the valid publish arrived; forward keeps the timestamp, the epoch included. */
    _cleanup_free_ char *got = drain(sub);
    assert_string_equal(got, "");
    env.timestamp_ns = 0;
    env.value = (uint8_t *)"v";
    env.value_len = 1;
    assert_int_equal(event_exchange_forward(ex, &env, &err), 0);
    env.timestamp_ns = 1700000000123456789LL;
    assert_int_equal(event_exchange_forward(ex, &env, &err), 0);
    struct event_envelope *e1, *e2;
    assert_int_equal(event_subscription_next(sub, 0, &e1, &err), 1);
    assert_int_equal(event_subscription_next(sub, 0, &e2, &err), 1);
    assert_int_equal(e1->timestamp_ns, 0);
    assert_int_equal(e2->timestamp_ns, 1700000000123456789LL);
    assert_string_equal(e2->namespace_name, "ns");
    assert_memory_equal(e2->value, "v", 1);
    event_envelope_unref(e1);
    event_envelope_unref(e2);
    event_exchange_free(ex);
}

static void test_slow_subscriber(void **state)
{
    struct event_exchange *ex = event_exchange_new();
    struct berth_error *err = NULL;
    struct event_subscription_limits few = {.max_events = 4};
    _cleanup_subscription_ struct event_subscription *slow =
        event_exchange_subscribe_with_limits(ex, NULL, 0, &few, &err);
    _cleanup_subscription_ struct event_subscription *fast =
        event_exchange_subscribe(ex, NULL, 0, &err);
    char value[16];
    for (int i = 0; i < 10; i++) {
        snprintf(value, sizeof(value), "%d", i);
        publish(ex, "ns", "/x", value);
    }
    _cleanup_free_ char *got_fast = drain(fast);
    assert_string_equal(got_fast, "0 1 2 3 4 5 6 7 8 9");
    /* The slow one keeps what it had queued, then learns it was cut off. */
    struct event_envelope *env;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(event_subscription_next(slow, -1, &env, &err), 1);
        assert_int_equal(env->value[0], '0' + i);
        event_envelope_unref(env);
    }
    expect_error(event_subscription_next(slow, -1, &env, &err), &err, ERR_RESOURCE_EXHAUSTED,
                 "event subscriber fell behind: more than 4 events or 4194304 bytes queued: "
                 "resource exhausted");
    expect_error(event_subscription_next(slow, 0, &env, &err), &err, ERR_RESOURCE_EXHAUSTED,
                 "event subscriber fell behind: more than 4 events or 4194304 bytes queued: "
                 "resource exhausted");

    /* A byte budget: one event always fits, a second one over the budget does not. */
    struct event_subscription_limits small = {.max_bytes = 100};
    _cleanup_subscription_ struct event_subscription *tiny =
        event_exchange_subscribe_with_limits(ex, NULL, 0, &small, &err);
    char big[200];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    publish(ex, "ns", "/x", big);
    publish(ex, "ns", "/x", "after");
    assert_int_equal(event_subscription_next(tiny, 0, &env, &err), 1);
    assert_int_equal(env->value_len, sizeof(big) - 1);
    event_envelope_unref(env);
    assert_int_equal(event_subscription_next(tiny, 0, &env, &err), -1);
    assert_int_equal(err->kind, ERR_RESOURCE_EXHAUSTED);
    err_free(err);
    err = NULL;
    _cleanup_free_ char *rest = drain(fast);
    assert_string_equal(rest + strlen(rest) - 5, "after");
    event_exchange_free(ex);
}

struct reader {
    struct event_subscription *sub;
    int result;
    enum err_kind kind;
};

static void *read_one(void *arg)
{
    struct reader *r = arg;
    struct event_envelope *env = NULL;
    struct berth_error *err = NULL;
    r->result = event_subscription_next(r->sub, -1, &env, &err);
    r->kind = err ? err->kind : ERR_UNKNOWN;
    err_free(err);
    event_envelope_unref(env);
    return NULL;
}

static void test_close_wakes_reader(void **state)
{
    struct event_exchange *ex = event_exchange_new();
    struct berth_error *err = NULL;
    struct reader r = {.sub = event_exchange_subscribe(ex, NULL, 0, &err)};
    pthread_t thread;
    pthread_create(&thread, NULL, read_one, &r);
    nanosleep(&(struct timespec){.tv_nsec = 20 * MS}, NULL); /* let it block (not required) */
    event_subscription_close(r.sub);
    pthread_join(thread, NULL);
    assert_int_equal(r.result, -1);
    assert_int_equal(r.kind, ERR_CANCELED);
    event_subscription_close(r.sub); /* twice is fine */
    publish(ex, "ns", "/x", "after close");
    struct event_envelope *env;
    assert_int_equal(event_subscription_next(r.sub, 0, &env, &err), -1);
    err_free(err);
    err = NULL;
    event_subscription_free(r.sub);

    /* Freeing the exchange wakes readers too; their subscriptions outlive it. */
    struct reader r2 = {.sub = event_exchange_subscribe(ex, NULL, 0, &err)};
    pthread_create(&thread, NULL, read_one, &r2);
    nanosleep(&(struct timespec){.tv_nsec = 20 * MS}, NULL);
    event_exchange_free(ex);
    pthread_join(thread, NULL);
    assert_int_equal(r2.result, -1);
    assert_int_equal(r2.kind, ERR_UNAVAILABLE);
    event_subscription_free(r2.sub);
}

static void test_timeouts(void **state)
{
    struct event_exchange *ex = event_exchange_new();
    struct berth_error *err = NULL;
    _cleanup_subscription_ struct event_subscription *sub =
        event_exchange_subscribe(ex, NULL, 0, &err);
    struct event_envelope *env = NULL;
    assert_int_equal(event_subscription_next(sub, 0, &env, &err), 0);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    assert_int_equal(event_subscription_next(sub, 30 * MS, &env, &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long waited = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
    assert_true(waited >= 30 * MS);
    assert_null(env);
    assert_null(err);
    event_exchange_free(ex);
}

#define PUBLISHERS    8
#define PER_PUBLISHER 2000

static void *publisher(void *arg)
{
    struct event_exchange *ex = ((void **)arg)[0];
    int id = (int)(intptr_t)((void **)arg)[1];
    char ns[16], value[32];
    snprintf(ns, sizeof(ns), "ns%d", id);
    for (int i = 0; i < PER_PUBLISHER; i++) {
        snprintf(value, sizeof(value), "p=%d;seq=%d", id, i);
        struct berth_error *err = NULL;
        if (event_exchange_publish(ex, ns, i % 2 ? "/tasks/exit" : "/tasks/start", "t", value,
                                   strlen(value), &err) < 0)
            abort();
    }
    return NULL;
}

struct consumer {
    struct event_subscription *sub;
    int expected;
    int received;
    bool in_order;
};

static void *consume(void *arg)
{
    struct consumer *c = arg;
    int last[PUBLISHERS];
    for (int i = 0; i < PUBLISHERS; i++)
        last[i] = -1;
    c->in_order = true;
    while (c->received < c->expected) {
        struct event_envelope *env;
        struct berth_error *err = NULL;
        int r = event_subscription_next(c->sub, 5000 * MS, &env, &err);
        if (r != 1) {
            err_free(err);
            break;
        }
        int p, seq;
        _cleanup_free_ char *text = xstrndup((const char *)env->value, env->value_len);
        if (sscanf(text, "p=%d;seq=%d", &p, &seq) != 2 || p < 0 || p >= PUBLISHERS ||
            seq <= last[p])
            c->in_order = false;
        else
            last[p] = seq;
        c->received++;
        event_envelope_unref(env);
    }
    return NULL;
}

static void *churn(void *arg)
{
    struct event_exchange *ex = arg;
    const char *filters[] = {"topic==\"/tasks/exit\""};
    for (int i = 0; i < 200; i++) {
        struct berth_error *err = NULL;
        struct event_subscription *sub = event_exchange_subscribe(ex, filters, 1, &err);
        struct event_envelope *env;
        if (event_subscription_next(sub, 0, &env, &err) == 1)
            event_envelope_unref(env);
        event_subscription_free(sub);
    }
    return NULL;
}

static void test_concurrency(void **state)
{
    struct event_exchange *ex = event_exchange_new();
    event_exchange_set_field_hook(ex, text_event_field, NULL);
    struct berth_error *err = NULL;
    struct event_subscription_limits roomy = {.max_events = 1 << 20, .max_bytes = 1 << 30};
    const char *ns3[] = {"namespace==ns3"};
    const char *exits[] = {"topic~=exit$"};
    const char *p5[] = {"event.p==5", "event.p==6"};
    struct consumer consumers[] = {
        {event_exchange_subscribe_with_limits(ex, NULL, 0, &roomy, &err),
         PUBLISHERS * PER_PUBLISHER},
        {event_exchange_subscribe_with_limits(ex, ns3, 1, &roomy, &err), PER_PUBLISHER},
        {event_exchange_subscribe_with_limits(ex, exits, 1, &roomy, &err),
         PUBLISHERS * PER_PUBLISHER / 2},
        {event_exchange_subscribe_with_limits(ex, p5, 2, &roomy, &err), 2 * PER_PUBLISHER},
    };
    pthread_t consumer_threads[ARRAY_SIZE(consumers)], publishers[PUBLISHERS], churner;
    void *args[PUBLISHERS][2];
    for (size_t i = 0; i < ARRAY_SIZE(consumers); i++)
        pthread_create(&consumer_threads[i], NULL, consume, &consumers[i]);
    pthread_create(&churner, NULL, churn, ex);
    for (int i = 0; i < PUBLISHERS; i++) {
        args[i][0] = ex;
        args[i][1] = (void *)(intptr_t)i;
        pthread_create(&publishers[i], NULL, publisher, args[i]);
    }
    for (int i = 0; i < PUBLISHERS; i++)
        pthread_join(publishers[i], NULL);
    pthread_join(churner, NULL);
    for (size_t i = 0; i < ARRAY_SIZE(consumers); i++) {
        pthread_join(consumer_threads[i], NULL);
        if (consumers[i].received != consumers[i].expected)
            fail_msg("consumer %zu: %d of %d events", i, consumers[i].received,
                     consumers[i].expected);
        assert_true(consumers[i].in_order);
        struct event_envelope *env;
        assert_int_equal(event_subscription_next(consumers[i].sub, 0, &env, &err), 0);
        event_subscription_free(consumers[i].sub);
    }
    event_exchange_free(ex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),           cmocka_unit_test(test_filters),
        cmocka_unit_test(test_namespaces),      cmocka_unit_test(test_validation),
        cmocka_unit_test(test_slow_subscriber), cmocka_unit_test(test_close_wakes_reader),
        cmocka_unit_test(test_timeouts),        cmocka_unit_test(test_concurrency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
