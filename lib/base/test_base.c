/* Unit tests for the error type, errdefs <-> gRPC mapping and logfmt output. */
#include "lib/base/alloc.h"
#include "lib/base/errors.h"
#include "lib/base/log.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static void test_error_message_shape(void **state)
{
    struct berth_error *err = NULL;
    assert_int_equal(err_make(&err, ERR_NOT_FOUND, 0, "namespace %s", "x"), -1);
    assert_string_equal(err->message, "namespace x: not found");
    err_wrap(&err, "delete");
    assert_string_equal(err->message, "delete: namespace x: not found");
    /* a second error does not overwrite the first */
    err_make(&err, ERR_INTERNAL, 0, "other");
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    err_free(err);

    err = NULL;
    err_make(&err, ERR_NOT_FOUND, ENOENT, "open /nope");
    assert_string_equal(err->message, "open /nope: No such file or directory: not found");
    assert_int_equal(err->errno_value, ENOENT);
    err_free(err);

    err = NULL;
    err_make(&err, ERR_INTERNAL, 0, "boom");
    assert_string_equal(err->message, "boom");
    err_free(err);

    err = NULL;
    err_make(&err, ERR_ALREADY_EXISTS, 0, NULL);
    assert_string_equal(err->message, "already exists");
    err_free(err);
}

static void test_grpc_mapping(void **state)
{
    assert_int_equal(err_kind_to_grpc(ERR_CONFLICT), GRPC_FAILED_PRECONDITION);
    assert_int_equal(err_kind_to_grpc(ERR_NOT_MODIFIED), GRPC_FAILED_PRECONDITION);
    assert_int_equal(err_kind_to_grpc(ERR_NOT_IMPLEMENTED), GRPC_UNIMPLEMENTED);
    assert_int_equal(err_kind_to_grpc(ERR_UNAUTHENTICATED), GRPC_UNAUTHENTICATED);
    assert_int_equal(err_kind_to_grpc(ERR_CANCELED), GRPC_CANCELLED);
    assert_int_equal(err_kind_to_grpc(ERR_UNKNOWN), GRPC_UNKNOWN);
    assert_int_equal(err_kind_from_grpc(GRPC_FAILED_PRECONDITION, "x: conflict"), ERR_CONFLICT);
    assert_int_equal(err_kind_from_grpc(GRPC_FAILED_PRECONDITION, "not modified"),
                     ERR_NOT_MODIFIED);
    assert_int_equal(err_kind_from_grpc(GRPC_FAILED_PRECONDITION, "conflicting"),
                     ERR_FAILED_PRECONDITION);
    for (int k = ERR_UNKNOWN; k <= ERR_DEADLINE_EXCEEDED; k++) {
        if (k == ERR_CONFLICT || k == ERR_NOT_MODIFIED)
            continue;
        assert_int_equal(err_kind_from_grpc(err_kind_to_grpc(k), ""), k);
    }
    assert_string_equal(grpc_code_name(GRPC_RESOURCE_EXHAUSTED), "ResourceExhausted");
    assert_string_equal(grpc_code_name(99), "Unknown");
}

static void test_logfmt(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    log_set_output(f);
    log_set_level(LOG_INFO);
    log_debug("hidden");
    log_record(LOG_WARN, LOG_FIELDS("namespace", "default", "id", "a b"), "hello \"%s\"", "w");
    fclose(f);
    log_set_output(NULL);
    assert_non_null(
        strstr(buf, " level=warning msg=\"hello \\\"w\\\"\" namespace=default id=\"a b\"\n"));
    assert_null(strstr(buf, "hidden"));
    assert_memory_equal(buf, "time=\"", 6);
    free(buf);

    enum log_level lvl;
    assert_int_equal(log_level_parse("WARN", &lvl), 0);
    assert_int_equal(lvl, LOG_WARN);
    assert_int_equal(log_level_parse("bogus", &lvl), -1);
}

static void test_grow(void **state)
{
    size_t cap = 0;
    int *a = NULL;
    a = xreallocarray_grow(a, &cap, 100, sizeof(int));
    assert_true(cap >= 100);
    a[99] = 1;
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_message_shape),
        cmocka_unit_test(test_grpc_mapping),
        cmocka_unit_test(test_logfmt),
        cmocka_unit_test(test_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
