/* Unit tests for docker reference parsing and normalization, and containerd's reference spec. */
#include "lib/base/alloc.h"
#include "lib/base/gopath.h"
#include "lib/reference/reference.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#define HEX64 "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
#define DGST  "sha256:" HEX64

static void expect_parse(const char *in, const char *domain, const char *path, const char *tag,
                         const char *digest)
{
    struct berth_error *err = NULL;
    _cleanup_reference_ struct reference r = {0};
    if (reference_parse(in, &r, &err) < 0)
        fail_msg("%s: %s", in, err->message);
    assert_string_equal(r.domain, domain);
    assert_string_equal(r.path, path);
    if (tag)
        assert_string_equal(r.tag, tag);
    else
        assert_null(r.tag);
    if (digest)
        assert_string_equal(r.digest, digest);
    else
        assert_null(r.digest);
    _cleanup_free_ char *again = reference_string(&r);
    assert_string_equal(again, in);
}

static void expect_parse_error(const char *in, const char *message)
{
    struct berth_error *err = NULL;
    struct reference r = {0};
    if (reference_parse(in, &r, &err) == 0)
        fail_msg("%s: parsed", in);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    if (strcmp(err->message, message) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", in, err->message, message);
    err_free(err);
}

static void test_parse(void **state)
{
    expect_parse("test_com", "", "test_com", NULL, NULL);
    expect_parse("test.com:tag", "", "test.com", "tag", NULL);
    expect_parse("test.com:5000", "", "test.com", "5000", NULL);
    expect_parse("test.com/repo:tag", "test.com", "repo", "tag", NULL);
    expect_parse("test:5000/repo", "test:5000", "repo", NULL, NULL);
    expect_parse("test:5000/repo:tag", "test:5000", "repo", "tag", NULL);
    expect_parse("test:5000/repo@" DGST, "test:5000", "repo", NULL, DGST);
    expect_parse("test:5000/repo:tag@" DGST, "test:5000", "repo", "tag", DGST);
    expect_parse("lowercase:Uppercase", "", "lowercase", "Uppercase", NULL);
    expect_parse("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", NULL, NULL);
    expect_parse("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", NULL);
    expect_parse("foo_bar.com:8080", "", "foo_bar.com", "8080", NULL);
    expect_parse("foo/foo_bar.com:8080", "foo", "foo_bar.com", "8080", NULL);
    expect_parse("[2001:db8::1]/repo", "[2001:db8::1]", "repo", NULL, NULL);
    expect_parse("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag", NULL);
    expect_parse("a__b/c-----d/e.f", "", "a__b/c-----d/e.f", NULL, NULL);
    expect_parse("Foo.com/bar", "Foo.com", "bar", NULL, NULL);

    expect_parse_error("", "repository name must have at least one component");
    expect_parse_error(":justtag", "invalid reference format");
    expect_parse_error("@" DGST, "invalid reference format");
    expect_parse_error("repo@sha256:ffffffffffffffffffffffffffffffffff",
                       "invalid checksum digest length");
    expect_parse_error("validname@invaliddigest:" HEX64, "unsupported digest algorithm");
    expect_parse_error("Uppercase:tag", "repository name must be lowercase");
    expect_parse_error("test:5000/Uppercase/lowercase:tag", "repository name must be lowercase");
    expect_parse_error("aa/asdf$$^/aa", "invalid reference format");
    expect_parse_error("[2001:db8::1]", "invalid reference format");
    expect_parse_error("[fe80::1%eth0]:5000/repo", "invalid reference format");
    expect_parse_error("a.b.c..d/foo", "invalid reference format");
    expect_parse_error("a._b", "invalid reference format");
    expect_parse_error("a___b", "invalid reference format");
    expect_parse_error("a-", "invalid reference format");
    expect_parse_error("repo:-tag", "invalid reference format");
    expect_parse_error("foo/", "invalid reference format");
    expect_parse_error("foo//bar", "invalid reference format");

    /* v0.6 bounds the path only: "a/" x 128 + "a" is domain "a" and a 255-byte path. */
    char longname[600] = "";
    for (int i = 0; i < 128; i++)
        strcat(longname, "a/");
    strcat(longname, "a:tag");
    char longpath[600];
    snprintf(longpath, sizeof(longpath), "%.*s", (int)strlen(longname) - 6, longname + 2);
    assert_int_equal(strlen(longpath), 255);
    expect_parse(longname, "a", longpath, "tag", NULL);
    memmove(longname + 2, longname, strlen(longname) + 1);
    memcpy(longname, "a/", 2);
    expect_parse_error(longname, "repository name must not be more than 255 characters");
    char longtag[200] = "a:";
    memset(longtag + 2, 'b', 128);
    longtag[130] = '\0';
    expect_parse(longtag, "", "a", longtag + 2, NULL);
    longtag[130] = 'b';
    longtag[131] = '\0';
    expect_parse_error(longtag, "invalid reference format");
}

static void expect_normalized(const char *in, const char *name, const char *familiar)
{
    struct berth_error *err = NULL;
    _cleanup_reference_ struct reference r = {0};
    if (reference_parse_normalized_named(in, &r, &err) < 0)
        fail_msg("%s: %s", in, err->message);
    _cleanup_free_ char *s = reference_string(&r);
    assert_string_equal(s, name);
    _cleanup_free_ char *f = reference_familiar_string(&r);
    assert_string_equal(f, familiar);
}

static void test_normalize(void **state)
{
    expect_normalized("busybox", "docker.io/library/busybox", "busybox");
    expect_normalized("busybox:latest", "docker.io/library/busybox:latest", "busybox:latest");
    expect_normalized("library/foo", "docker.io/library/foo", "foo");
    expect_normalized("docker.io/foo", "docker.io/library/foo", "foo");
    expect_normalized("index.docker.io/foo", "docker.io/library/foo", "foo");
    expect_normalized("foo/bar", "docker.io/foo/bar", "foo/bar");
    expect_normalized("docker.io/library/foo/bar", "docker.io/library/foo/bar", "library/foo/bar");
    expect_normalized("localhost/foo", "localhost/foo", "localhost/foo");
    expect_normalized("localhost:5000/foo:1", "localhost:5000/foo:1", "localhost:5000/foo:1");
    expect_normalized("Docker.io/foo", "Docker.io/foo", "Docker.io/foo");
    expect_normalized("ghcr.io/a/b@" DGST, "ghcr.io/a/b@" DGST, "ghcr.io/a/b@" DGST);

    struct berth_error *err = NULL;
    struct reference r = {0};
    assert_int_equal(reference_parse_normalized_named("FOO", &r, &err), -1);
    assert_string_equal(err->message,
                        "invalid reference format: repository name (library/FOO) must be "
                        "lowercase");
    err_free(err);
    err = NULL;
    assert_int_equal(reference_parse_normalized_named(HEX64, &r, &err), -1);
    assert_string_equal(err->message, "invalid repository name (" HEX64
                                      "), cannot specify 64-byte hexadecimal strings");
    err_free(err);
    err = NULL;
    assert_int_equal(reference_parse_normalized_named("foo/bar:Tag@x", &r, &err), -1);
    assert_string_equal(err->message, "invalid reference format");
    err_free(err);
}

static void test_docker_ref(void **state)
{
    static const char *const cases[][2] = {
        {"nginx", "docker.io/library/nginx:latest"},
        {"nginx:latest", "docker.io/library/nginx:latest"},
        {"nginx:1.25", "docker.io/library/nginx:1.25"},
        {"nginx@" DGST, "docker.io/library/nginx@" DGST},
        {"nginx:tag@" DGST, "docker.io/library/nginx@" DGST},
        {"docker.io/library/nginx:tag@" DGST, "docker.io/library/nginx@" DGST},
        {"gcr.io/x/y", "gcr.io/x/y:latest"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct berth_error *err = NULL;
        _cleanup_free_ char *out = NULL;
        if (reference_normalize(cases[i][0], &out, &err) < 0)
            fail_msg("%s: %s", cases[i][0], err->message);
        assert_string_equal(out, cases[i][1]);
    }
    static const char *const familiar[][2] = {
        {"docker.io/library/busybox:latest", "busybox:latest"},
        {"docker.io/library/busybox", "busybox:latest"},
        {"docker.io/foo/bar:1", "foo/bar:1"},
        {"quay.io/a/b@" DGST, "quay.io/a/b@" DGST},
    };
    for (size_t i = 0; i < ARRAY_SIZE(familiar); i++) {
        struct berth_error *err = NULL;
        _cleanup_free_ char *out = NULL;
        if (reference_familiarize(familiar[i][0], &out, &err) < 0)
            fail_msg("%s: %s", familiar[i][0], err->message);
        assert_string_equal(out, familiar[i][1]);
    }
}

static void expect_spec(const char *in, const char *locator, const char *object,
                        const char *hostname, const char *digest)
{
    struct berth_error *err = NULL;
    struct reference_spec spec = {0};
    if (reference_spec_parse(in, &spec, &err) < 0)
        fail_msg("%s: %s", in, err->message);
    assert_string_equal(spec.locator, locator);
    assert_string_equal(spec.object, object);
    _cleanup_free_ char *h = reference_spec_hostname(&spec);
    assert_string_equal(h, hostname);
    _cleanup_free_ char *d = reference_spec_digest(&spec);
    assert_string_equal(d, digest);
    reference_spec_clear(&spec);
}

static void expect_spec_error(const char *in, const char *message)
{
    struct berth_error *err = NULL;
    struct reference_spec spec = {0};
    if (reference_spec_parse(in, &spec, &err) == 0)
        fail_msg("%s: parsed", in);
    if (strcmp(err->message, message) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", in, err->message, message);
    err_free(err);
}

static void test_spec(void **state)
{
    expect_spec("docker.io/library/redis:foo?fooo=asdf", "docker.io/library/redis", "foo",
                "docker.io", "");
    expect_spec("docker.io/library/redis:foo@sha256:abcdef?fooo=asdf", "docker.io/library/redis",
                "foo@sha256:abcdef", "docker.io", "sha256:abcdef");
    expect_spec("docker.io/library/redis@sha256:abcdef?fooo=asdf", "docker.io/library/redis",
                "@sha256:abcdef", "docker.io", "sha256:abcdef");
    expect_spec("localhost:5000/library/redis:obj@abcdef?fooo=asdf", "localhost:5000/library/redis",
                "obj@abcdef", "localhost:5000", "abcdef");
    expect_spec("docker.io/library/redis?fooo=asdf", "docker.io/library/redis", "", "docker.io",
                "");
    expect_spec("b.gcr.io/test.example.com/my-app:test.example.com",
                "b.gcr.io/test.example.com/my-app", "test.example.com", "b.gcr.io", "");
    expect_spec("foo", "foo", "", "foo", "");
    expect_spec("docker.io/a/../b:1", "docker.io/b", "1", "docker.io", "");
    expect_spec("docker.io/a%2fb:1", "docker.io/a/b", "1", "docker.io", "");
    expect_spec("[::1]:5000/x:y", "[::1]:5000/x", "y", "[::1]:5000", "");

    expect_spec_error("/docker.io/library/redis:obj@abcdef?fooo=asdf", "hostname required");
    expect_spec_error("http://xn--7o8h.com/myimage:xn--7o8h.com@sha512:fffffff",
                      "invalid reference");
    expect_spec_error("busybox@sha256:abc",
                      "parse \"dummy://busybox@sha256:abc\": invalid port \":abc\" after host");
    expect_spec_error("a b/c", "parse \"dummy://a b/c\": invalid character \" \" in host name");
    expect_spec_error("a/b%zz", "parse \"dummy://a/b%zz\": invalid URL escape \"%zz\"");
    expect_spec_error("a/b\tc",
                      "parse \"dummy://a/b\\tc\": net/url: invalid control character in URL");
    expect_spec_error("[::1/x", "parse \"dummy://[::1/x\": missing ']' in host");
}

static void test_path_clean(void **state)
{
    static const char *const cases[][2] = {
        {"", "."},
        {"abc", "abc"},
        {"a/./b", "a/b"},
        {"a//b/", "a/b"},
        {"../a", "../a"},
        {"a/../../b", "../b"},
        {"/../a", "/a"},
        {"/", "/"},
        {"./", "."},
        {"a/b/..", "a"},
        {"..", ".."},
        {"/a/b/../../..", "/"},
        {"blobs//sha256/x", "blobs/sha256/x"},
        {"./index.json", "index.json"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *out = go_path_clean(cases[i][0], strlen(cases[i][0]));
        if (strcmp(out, cases[i][1]) != 0)
            fail_msg("clean(%s) = %s, want %s", cases[i][0], out, cases[i][1]);
    }
    _cleanup_free_ char *j = go_path_join("a", "../../etc");
    assert_string_equal(j, "../etc");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),      cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_docker_ref), cmocka_unit_test(test_spec),
        cmocka_unit_test(test_path_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
