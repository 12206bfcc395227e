/* Tests for the layer reader: detection, igzip and zlib, zstd, digests, truncation, corruption. */
#include "core/diff/test_layers.h"

#include "lib/base/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static struct test_buf plain; /* ~1 MiB of compressible bytes */
/* 0: decompress inline; else on a thread through a ring of this many bytes */
static size_t thread_buffer;

static int setup(void **state)
{
    if (plain.len)
        return 0;
    char line[64];
    for (int i = 0; plain.len < (1u << 20); i++) {
        int n = snprintf(line, sizeof(line), "line %d of a test layer %x\n", i, i * 2654435761u);
        test_buf_append(&plain, line, (size_t)n);
    }
    return 0;
}

/* Reads everything through a reader; returns 0 and fills res, or -1 with *err. */
static int read_all(const struct test_buf *in, enum layer_gzip_backend backend,
                    struct test_buf *out, struct layer_reader_result *res, struct berth_error **err)
{
    struct layer_reader *r = NULL;
    assert_int_equal(layer_reader_new_memory(in->data, in->len, backend, &r, err), 0);
    if (thread_buffer)
        assert_int_equal(layer_reader_start_thread(r, thread_buffer, err), 0);
    uint8_t buf[7777]; /* an odd size to cross every boundary */
    int rc = 0;
    for (;;) {
        ssize_t n = layer_reader_read(r, buf, sizeof(buf), err);
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        if (out)
            test_buf_append(out, buf, (size_t)n);
    }
    if (rc == 0)
        rc = layer_reader_finish(r, res, err);
    layer_reader_free(r);
    assert_int_equal(layer_reader_live_threads(),
                     0); /* finish or free joined the decompression thread */
    return rc;
}

static void check_roundtrip(const struct test_buf *compressed, enum layer_gzip_backend backend,
                            enum layer_compression want)
{
    struct test_buf out = {0};
    struct layer_reader_result res;
    struct berth_error *err = NULL;
    assert_int_equal(read_all(compressed, backend, &out, &res, &err), 0);
    assert_null(err);
    assert_int_equal(res.compression, want);
    assert_int_equal(out.len, plain.len);
    assert_memory_equal(out.data, plain.data, plain.len);
    char d[DIGEST_STRING_SIZE];
    assert_int_equal(digest_from_bytes(DIGEST_SHA256, plain.data, plain.len, d, NULL), 0);
    assert_string_equal(res.uncompressed_digest, d);
    assert_int_equal(digest_from_bytes(DIGEST_SHA256, compressed->data, compressed->len, d, NULL),
                     0);
    assert_string_equal(res.compressed_digest, d);
    assert_int_equal(res.compressed_size, (int64_t)compressed->len);
    assert_int_equal(res.uncompressed_size, (int64_t)plain.len);
    free(out.data);
}

static void test_plain(void **state)
{
    check_roundtrip(&plain, LAYER_GZIP_AUTO, LAYER_COMPRESSION_NONE);
}

static void test_gzip_both_backends(void **state)
{
    struct test_buf gz = {0};
    test_gzip(plain.data, plain.len, &gz);
    check_roundtrip(&gz, LAYER_GZIP_ZLIB, LAYER_COMPRESSION_GZIP);
    if (layer_reader_have_igzip())
        check_roundtrip(&gz, LAYER_GZIP_IGZIP, LAYER_COMPRESSION_GZIP);
    check_roundtrip(&gz, LAYER_GZIP_AUTO, LAYER_COMPRESSION_GZIP);
    free(gz.data);
}

static void test_gzip_multi_member(void **state)
{
    struct test_buf gz = {0};
    /* three members of odd sizes, as pigz or concatenated blobs produce */
    test_gzip(plain.data, 1000, &gz);
    test_gzip(plain.data + 1000, 300001, &gz);
    test_gzip(plain.data + 301001, plain.len - 301001, &gz);
    check_roundtrip(&gz, LAYER_GZIP_ZLIB, LAYER_COMPRESSION_GZIP);
    if (layer_reader_have_igzip())
        check_roundtrip(&gz, LAYER_GZIP_IGZIP, LAYER_COMPRESSION_GZIP);
    free(gz.data);
}

static void test_zstd_stream(void **state)
{
    struct test_buf zs = {0};
    test_zstd(plain.data, plain.len, &zs);
    check_roundtrip(&zs, LAYER_GZIP_AUTO, LAYER_COMPRESSION_ZSTD);
    free(zs.data);
}

static void expect_failure(const struct test_buf *in, enum layer_gzip_backend backend)
{
    struct berth_error *err = NULL;
    struct layer_reader_result res;
    assert_int_equal(read_all(in, backend, NULL, &res, &err), -1);
    assert_non_null(err);
    err_free(err);
}

static void test_truncated(void **state)
{
    struct test_buf gz = {0}, zs = {0};
    test_gzip(plain.data, plain.len, &gz);
    test_zstd(plain.data, plain.len, &zs);
    size_t cuts[] = {3, 10, 100, gz.len / 2, gz.len - 8, gz.len - 1};
    for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
        struct test_buf t = {.data = gz.data, .len = cuts[i]};
        expect_failure(&t, LAYER_GZIP_ZLIB);
        if (layer_reader_have_igzip())
            expect_failure(&t, LAYER_GZIP_IGZIP);
    }
    struct test_buf t = {.data = zs.data, .len = zs.len - 1};
    expect_failure(&t, LAYER_GZIP_AUTO);
    t.len = zs.len / 2;
    expect_failure(&t, LAYER_GZIP_AUTO);
    free(gz.data);
    free(zs.data);
}

static void test_corrupt(void **state)
{
    struct test_buf gz = {0};
    test_gzip(plain.data, plain.len, &gz);
    gz.data[gz.len - 6] ^= 0xff; /* the CRC32 */
    expect_failure(&gz, LAYER_GZIP_ZLIB);
    if (layer_reader_have_igzip())
        expect_failure(&gz, LAYER_GZIP_IGZIP);
    gz.data[gz.len - 6] ^= 0xff;
    test_buf_append(&gz, "garbage!", 8); /* not another member */
    expect_failure(&gz, LAYER_GZIP_ZLIB);
    if (layer_reader_have_igzip())
        expect_failure(&gz, LAYER_GZIP_IGZIP);
    free(gz.data);
}

static void test_empty(void **state)
{
    struct test_buf empty = {0};
    struct layer_reader_result res;
    struct berth_error *err = NULL;
    assert_int_equal(read_all(&empty, LAYER_GZIP_AUTO, NULL, &res, &err), 0);
    assert_string_equal(res.uncompressed_digest, "sha256:"
                                                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934c"
                                                 "a495991b7852b855");
}

/* The threaded reader hands over the bytes before a failure, then the failure, as inline does. */
static void test_thread_error_after_data(void **state)
{
    struct test_buf gz = {0};
    test_gzip(plain.data, plain.len, &gz);
    struct test_buf cut = {.data = gz.data, .len = gz.len / 2};
    size_t got[2];
    for (int threaded = 0; threaded < 2; threaded++) {
        thread_buffer = threaded ? 4099 : 0;
        struct test_buf out = {0};
        struct layer_reader_result res;
        struct berth_error *err = NULL;
        assert_int_equal(read_all(&cut, LAYER_GZIP_ZLIB, &out, &res, &err), -1);
        assert_non_null(strstr(err->message, "gzip"));
        err_free(err);
        got[threaded] = out.len;
        assert_true(out.len > 0);
        assert_memory_equal(out.data, plain.data, out.len);
        free(out.data);
    }
    assert_int_equal(got[0], got[1]);
    free(gz.data);
}

/* A consumer that gives up early (a bad tar entry) frees the reader: the thread stops and joins
 * though the stream has not ended and its ring is full. */
static void test_thread_stopped_early(void **state)
{
    struct test_buf gz = {0};
    test_gzip(plain.data, plain.len, &gz);
    for (size_t reads = 0; reads < 3; reads++) {
        struct layer_reader *r = NULL;
        struct berth_error *err = NULL;
        assert_int_equal(layer_reader_new_memory(gz.data, gz.len, LAYER_GZIP_AUTO, &r, &err), 0);
        assert_int_equal(layer_reader_start_thread(r, 8192, &err), 0);
        assert_int_equal(layer_reader_start_thread(r, 8192, &err), 0); /* once is enough */
        assert_int_equal(layer_reader_live_threads(), 1);
        uint8_t buf[1000];
        for (size_t i = 0; i < reads; i++)
            assert_int_equal(layer_reader_read(r, buf, sizeof(buf), &err), (ssize_t)sizeof(buf));
        layer_reader_free(r);
        assert_int_equal(layer_reader_live_threads(), 0);
    }
    /* too late once reading has begun inline */
    struct layer_reader *r = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(layer_reader_new_memory(gz.data, gz.len, LAYER_GZIP_AUTO, &r, &err), 0);
    uint8_t buf[10];
    assert_int_equal(layer_reader_read(r, buf, sizeof(buf), &err), (ssize_t)sizeof(buf));
    assert_int_equal(layer_reader_start_thread(r, 0, &err), -1);
    assert_int_equal(err->kind, ERR_FAILED_PRECONDITION);
    err_free(err);
    layer_reader_free(r);
    free(gz.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_plain, setup),
        cmocka_unit_test_setup(test_gzip_both_backends, setup),
        cmocka_unit_test_setup(test_gzip_multi_member, setup),
        cmocka_unit_test_setup(test_zstd_stream, setup),
        cmocka_unit_test_setup(test_truncated, setup),
        cmocka_unit_test_setup(test_corrupt, setup),
        cmocka_unit_test_setup(test_empty, setup),
    };
    int rc = cmocka_run_group_tests_name("inline", tests, NULL, NULL);
    /* again with decompression on its own thread through a small ring of odd size */
    thread_buffer = 4099;
    rc |= cmocka_run_group_tests_name("threaded", tests, NULL, NULL);
    const struct CMUnitTest thread_tests[] = {
        cmocka_unit_test_setup(test_thread_error_after_data, setup),
        cmocka_unit_test_setup(test_thread_stopped_early, setup),
    };
    rc |= cmocka_run_group_tests_name("thread", thread_tests, NULL, NULL);
    free(plain.data);
    return rc;
}
