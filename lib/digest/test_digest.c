/* Unit tests for lib/digest: go-digest's validation cases and known hash vectors. */
#include "lib/base/alloc.h"
#include "lib/digest/digest.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define FORMAT      "invalid checksum digest format"
#define UNSUPPORTED "unsupported digest algorithm"
#define LENGTH      "invalid checksum digest length"

static void test_validate(void **state)
{
    static const struct {
        const char *input;
        const char *reason; /* NULL: valid */
    } cases[] = {
        {"sha256:e58fcf7418d4390dec8e8fb69d88c06ec07039d651fedd3aa72af9972e7d046b", NULL},
        {"sha384:d3fc7881460b7e22e3d172954463dddd7866d17597e7248453c48b3e9d26d959"
         "6bf9c4a9cf8072c9d5bad76e19af801d",
         NULL},
        {"sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
         "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
         NULL},
        /* no algorithm, empty parts */
        {"e58fcf7418d4390dec8e8fb69d88c06ec07039d651fedd3aa72af9972e7d046b", FORMAT},
        {"", FORMAT},
        {":", FORMAT},
        {"sha256:", FORMAT},
        {":e58fcf7418d4390dec8e8fb69d88c06ec07039d651fedd3aa72af9972e7d046b", FORMAT},
        /* known algorithm, bad encoded part */
        {"sha256:e58fcf7418d4390dec8e8fb69d88c06ec07039d651fedd3aa72af9972e7d046", LENGTH},
        {"sha256:d41d8cd98f00b204e9800m98ecf8427e", LENGTH},
        {"sha256:E58FCF7418D4390DEC8E8FB69D88C06EC07039D651FEDD3AA72AF9972E7D046B", FORMAT},
        {"sha256:e58fcf7418d4390dec8e8fb69d88c06ec07039d651fedd3aa72af9972e7d046g", FORMAT},
        {"sha384:e58fcf7418d4390dec8e8fb69d88c06ec07039d651fedd3aa72af9972e7d046b", LENGTH},
        /* unknown algorithms: well formed or not */
        {"md5:d41d8cd98f00b204e9800998ecf8427e", UNSUPPORTED},
        {"foo:d41d8cd98f00b204e9800998ecf8427e", UNSUPPORTED},
        {"sha256+b64:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", UNSUPPORTED},
        {"a.b_c+d-e:x=", UNSUPPORTED},
        {"SHA256:e58fcf7418d4390dec8e8fb69d88c06ec07039d651fedd3aa72af9972e7d046b", FORMAT},
        {"sha256.:abc", FORMAT},
        {".sha256:abc", FORMAT},
        {"sha..256:abc", FORMAT},
        {"foo:a:b", FORMAT},
        {"foo:a b", FORMAT},
        {"sha256:e58fcf7418d4390dec8e8fb69d88c06ec07039d651fedd3aa72af9972e7d046b:", LENGTH},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const char *reason = digest_check(cases[i].input);
        if (!cases[i].reason) {
            if (reason)
                fail_msg("%s: unexpected %s", cases[i].input, reason);
        } else {
            if (!reason || strcmp(reason, cases[i].reason) != 0)
                fail_msg("%s: got %s, want %s", cases[i].input, reason ? reason : "valid",
                         cases[i].reason);
        }
    }
    assert_non_null(digest_check(NULL));

    struct berth_error *err = NULL;
    assert_int_equal(digest_validate("sha256:abc", &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    assert_string_equal(err->message, "invalid checksum digest length: invalid argument");
    err_free(err);
}

static void test_parse_format(void **state)
{
    const char *s = "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
    enum digest_algorithm algorithm = DIGEST_SHA256;
    const char *encoded = NULL;
    assert_int_equal(digest_parse(s, &algorithm, &encoded, NULL), 0);
    assert_int_equal(algorithm, DIGEST_SHA512);
    assert_ptr_equal(encoded, s + 7);
    assert_string_equal(digest_algorithm_name(algorithm), "sha512");
    assert_int_equal(digest_algorithm_size(algorithm), 64);
    assert_int_equal(strlen(s), DIGEST_MAX_LENGTH);
    assert_int_equal(digest_parse("sha1:abc", NULL, NULL, NULL), -1);

    unsigned char raw[32];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (unsigned char)(i * 9);
    char out[DIGEST_STRING_SIZE];
    digest_format(DIGEST_SHA256, raw, out);
    assert_string_equal(out,
                        "sha256:0009121b242d363f48515a636c757e879099a2abb4bdc6cfd8e1eaf3fc050e17");
    assert_null(digest_check(out));

    assert_true(digest_equal(out, out));
    assert_false(digest_equal(out, s));
    assert_false(digest_equal(out, NULL));
    assert_true(digest_equal(NULL, NULL));
    assert_false(digest_algorithm_from_name("sha2566", 7, NULL));
    assert_true(digest_algorithm_from_name("sha384xyz", 6, &algorithm));
    assert_int_equal(algorithm, DIGEST_SHA384);
}

static void test_vectors(void **state)
{
    static const struct {
        enum digest_algorithm algorithm;
        const char *input;
        const char *digest;
    } cases[] = {
        {DIGEST_SHA256, "",
         "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {DIGEST_SHA256, "abc",
         "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {DIGEST_SHA384, "abc",
         "sha384:cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
         "8086072ba1e7cc2358baeca134c825a7"},
        {DIGEST_SHA512, "abc",
         "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
         "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
        {DIGEST_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char out[DIGEST_STRING_SIZE];
        assert_int_equal(digest_from_bytes(cases[i].algorithm, cases[i].input,
                                           strlen(cases[i].input), out, NULL),
                         0);
        assert_string_equal(out, cases[i].digest);
    }
}

/* A million 'a's, fed in uneven pieces; the digest can be read midway without disturbing it. */
static void test_streaming(void **state)
{
    struct digester *d = NULL;
    assert_int_equal(digester_new(DIGEST_SHA256, &d, NULL), 0);
    assert_int_equal(digester_algorithm(d), DIGEST_SHA256);
    char chunk[997];
    memset(chunk, 'a', sizeof(chunk));
    size_t left = 1000000;
    char mid[DIGEST_STRING_SIZE], out[DIGEST_STRING_SIZE];
    while (left > 0) {
        size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
        digester_update(d, chunk, n);
        left -= n;
        if (left == 500000 - 500000 % 997)
            assert_int_equal(digester_digest(d, mid, NULL), 0);
    }
    assert_int_equal(digester_digest(d, out, NULL), 0);
    assert_string_equal(out,
                        "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    /* Reading it twice gives the same answer. */
    assert_int_equal(digester_digest(d, out, NULL), 0);
    assert_string_equal(out,
                        "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    assert_string_not_equal(mid, out);

    digester_reset(d);
    assert_int_equal(digester_digest(d, out, NULL), 0);
    assert_string_equal(out,
                        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_null(digester_free(d));
    assert_null(digester_free(NULL));
}

static void test_fd(void **state)
{
    char path[] = "/tmp/berth-digest-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    /* Larger than the read buffer, so several reads are needed. */
    size_t len = 1000000;
    _cleanup_free_ char *data = xmalloc(len);
    memset(data, 'a', len);
    assert_int_equal(write(fd, data, len), (ssize_t)len);

    char out[DIGEST_STRING_SIZE];
    int64_t n = -1;
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(digest_from_fd(DIGEST_SHA256, fd, out, &n, NULL), 0);
    assert_int_equal(n, (int64_t)len);
    assert_string_equal(out,
                        "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

    /* From the current position on. */
    assert_int_equal(lseek(fd, (off_t)len - 3, SEEK_SET), (off_t)len - 3);
    assert_int_equal(digest_from_fd(DIGEST_SHA256, fd, out, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_string_equal(out,
                        "sha256:9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0");
    close(fd);

    struct berth_error *err = NULL;
    assert_int_equal(digest_from_fd(DIGEST_SHA256, -1, out, NULL, &err), -1);
    assert_non_null(err);
    err_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate), cmocka_unit_test(test_parse_format),
        cmocka_unit_test(test_vectors),  cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
