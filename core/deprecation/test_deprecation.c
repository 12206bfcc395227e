/* Unit tests for the deprecation table and recorder. */
#include "core/deprecation/deprecation.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static const char *const all_ids[] = {
    DEPRECATION_PULL_SCHEMA_1_IMAGE,    DEPRECATION_GO_PLUGIN_LIBRARY,
    DEPRECATION_CRI_REGISTRY_MIRRORS,   DEPRECATION_CRI_REGISTRY_AUTHS,
    DEPRECATION_CRI_REGISTRY_CONFIGS,   DEPRECATION_TRACING_PROCESSOR_CONFIG,
    DEPRECATION_TRACING_SERVICE_CONFIG,
};

/* Captures log output in memory for the duration of a test. */
struct capture {
    char *data;
    size_t len;
    FILE *f;
};

static void capture_start(struct capture *c)
{
    *c = (struct capture){0};
    c->f = open_memstream(&c->data, &c->len);
    log_set_output(c->f);
}

static size_t count_substr(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void capture_end(struct capture *c)
{
    log_set_output(NULL);
    fclose(c->f);
}

static int setup(void **state)
{
    deprecation_reset();
    return 0;
}

static void test_ids_and_messages(void **state)
{
    /* containerd's exact IDs */
    assert_string_equal(DEPRECATION_CRI_REGISTRY_MIRRORS,
                        "io.containerd.deprecation/cri-registry-mirrors");
    assert_string_equal(DEPRECATION_TRACING_PROCESSOR_CONFIG,
                        "io.containerd.deprecation/tracing-processor-config");
    for (size_t i = 0; i < ARRAY_SIZE(all_ids); i++) {
        const char *m = deprecation_message(all_ids[i]);
        assert_non_null(m);
        assert_non_null(strstr(m, "containerd v"));
    }
    assert_non_null(strstr(deprecation_message(DEPRECATION_CRI_REGISTRY_AUTHS), "v1.3"));
    assert_non_null(strstr(deprecation_message(DEPRECATION_CRI_REGISTRY_AUTHS), "v2.1"));
    assert_non_null(strstr(deprecation_message(DEPRECATION_CRI_REGISTRY_MIRRORS), "config_path"));
    assert_non_null(strstr(deprecation_message(DEPRECATION_PULL_SCHEMA_1_IMAGE),
                           "io.containerd.image/converted-docker-schema1"));
    assert_null(deprecation_message("io.containerd.deprecation/nope"));
    assert_null(deprecation_message(NULL));
}

static void test_warn_once_and_list(void **state)
{
    struct deprecation_warning *list = NULL;
    assert_int_equal(deprecation_list(&list), 0);
    assert_null(list);

    struct capture cap;
    capture_start(&cap);
    deprecation_warn(DEPRECATION_CRI_REGISTRY_CONFIGS);
    deprecation_warn(DEPRECATION_GO_PLUGIN_LIBRARY);
    deprecation_warn(DEPRECATION_CRI_REGISTRY_CONFIGS);
    deprecation_warn("io.containerd.deprecation/unknown");
    capture_end(&cap);
    /* one line per ID, plus one for the invalid ID */
    assert_int_equal(count_substr(cap.data, "id=io.containerd.deprecation/cri-registry-configs"),
                     1);
    assert_int_equal(count_substr(cap.data, "id=io.containerd.deprecation/go-plugin-library"), 1);
    assert_int_equal(count_substr(cap.data, "invalid deprecation warning"), 1);
    assert_int_equal(count_substr(cap.data, "level=warning"), 3);
    free(cap.data);

    size_t n = deprecation_list(&list);
    assert_int_equal(n, 2);
    /* table order, not call order */
    assert_string_equal(list[0].id, DEPRECATION_GO_PLUGIN_LIBRARY);
    assert_string_equal(list[1].id, DEPRECATION_CRI_REGISTRY_CONFIGS);
    assert_string_equal(list[1].message, deprecation_message(DEPRECATION_CRI_REGISTRY_CONFIGS));
    assert_true(list[0].last_occurrence_ns > 1600000000LL * 1000000000LL);
    int64_t first = list[1].last_occurrence_ns;
    free(list);

    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
    capture_start(&cap);
    deprecation_warn(DEPRECATION_CRI_REGISTRY_CONFIGS);
    capture_end(&cap);
    assert_int_equal(cap.len, 0); /* already logged once */
    free(cap.data);
    n = deprecation_list(&list);
    assert_int_equal(n, 2);
    assert_true(list[1].last_occurrence_ns > first);
    free(list);

    deprecation_reset();
    assert_int_equal(deprecation_list(&list), 0);
}

static void *hammer(void *arg)
{
    for (int i = 0; i < 2000; i++) {
        deprecation_warn(all_ids[(i + (intptr_t)arg) % ARRAY_SIZE(all_ids)]);
        struct deprecation_warning *list;
        deprecation_list(&list);
        free(list);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct capture cap;
    capture_start(&cap);
    pthread_t t[8];
    for (intptr_t i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *)i), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    capture_end(&cap);
    /* each ID logged exactly once however many threads raced */
    assert_int_equal(count_substr(cap.data, "level=warning"), ARRAY_SIZE(all_ids));
    free(cap.data);
    struct deprecation_warning *list;
    assert_int_equal(deprecation_list(&list), ARRAY_SIZE(all_ids));
    free(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_ids_and_messages, setup),
        cmocka_unit_test_setup(test_warn_once_and_list, setup),
        cmocka_unit_test_setup(test_threads, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
