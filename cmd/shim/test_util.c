/* Unit tests of the shim's pure helpers: flags, SHA-256, paths, socket names, groups, URIs. */
#include "cmd/shim/util.h"
#include "lib/base/alloc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static void test_flags(void **state)
{
    struct shim_flags f;
    char *argv[] = {"shim",
                    "-namespace",
                    "k8s.io",
                    "--id=abc",
                    "-address",
                    "/run/c.sock",
                    "-publish-binary",
                    "/usr/bin/containerd",
                    "-debug",
                    "start",
                    NULL};
    assert_int_equal(shim_flags_parse(10, argv, &f, NULL), 0);
    assert_string_equal(f.namespace, "k8s.io");
    assert_string_equal(f.id, "abc");
    assert_string_equal(f.address, "/run/c.sock");
    assert_string_equal(f.publish_binary, "/usr/bin/containerd");
    assert_true(f.debug);
    assert_string_equal(f.action, "start");

    char *serve[] = {"shim", "-namespace", "n", "-id", "x", "-debug=false", NULL};
    assert_int_equal(shim_flags_parse(6, serve, &f, NULL), 0);
    assert_null(f.action);
    assert_false(f.debug);

    char *info[] = {"shim", "-info", NULL};
    assert_int_equal(shim_flags_parse(2, info, &f, NULL), 0);
    assert_true(f.info);

    struct berth_error *err = NULL;
    char *bad[] = {"shim", "-nope", NULL};
    assert_int_equal(shim_flags_parse(2, bad, &f, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    err_free(err);
    err = NULL;
    char *missing[] = {"shim", "-id", NULL};
    assert_int_equal(shim_flags_parse(2, missing, &f, &err), -1);
    err_free(err);
    err = NULL;
    char *action[] = {"shim", "-id", "x", "frobnicate", NULL};
    assert_int_equal(shim_flags_parse(4, action, &f, &err), -1);
    err_free(err);
}

static void test_sha256(void **state)
{
    char hex[65];
    shim_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    shim_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    shim_sha256_hex(two, strlen(two), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char million[1000];
    memset(million, 'a', sizeof(million));
    shim_sha256_hex(million, 64, hex); /* a block boundary */
    assert_string_equal(hex, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

static void expect_clean(const char *in, const char *want)
{
    char *got = shim_path_clean(in);
    assert_string_equal(got, want);
    free(got);
}

static void test_paths(void **state)
{
    expect_clean("", ".");
    expect_clean("/", "/");
    expect_clean("//a//b/", "/a/b");
    expect_clean("/a/./b/../c", "/a/c");
    expect_clean("/../a", "/a");
    expect_clean("a/../../b", "../b");
    expect_clean("unix:///run/x.sock/ns/id", "unix:/run/x.sock/ns/id");

    char *s = shim_state_dir_from_bundle("/run/berth/io.containerd.runtime.v2.task/default/c1");
    assert_string_equal(s, "/run/berth");
    free(s);
    s = shim_state_dir_from_bundle("/tmp/x/state/io.containerd.runtime.v2.task/ns/id/");
    assert_string_equal(s, "/tmp/x/state");
    free(s);
    assert_null(shim_state_dir_from_bundle("/tmp/bundle"));
    assert_null(shim_state_dir_from_bundle("relative/io.containerd.runtime.v2.task/a/b"));
    assert_null(shim_state_dir_from_bundle("/x/io.containerd.runtime.v2.tusk/a/b"));
}

static void test_socket_path(void **state)
{
    /* The hash is the reference's: sha256 of the cleaned "<address>/<ns>/<group>". */
    char hex[65];
    const char *key = "/run/containerd/containerd.sock/default/c1";
    shim_sha256_hex(key, strlen(key), hex);
    char *want = xasprintf("/run/containerd/s/%s", hex);
    char *got = shim_socket_path("/run/containerd/io.containerd.runtime.v2.task/default/c1",
                                 "/run/containerd/containerd.sock", "default", "c1");
    assert_string_equal(got, want);
    free(got);
    /* the same key whatever the slashes */
    got = shim_socket_path("/run/containerd/io.containerd.runtime.v2.task/default/c1",
                           "/run/containerd//containerd.sock/", "default", "c1");
    assert_string_equal(got, want);
    free(got);
    free(want);
    /* a long state dir falls back to /run/berth/s */
    got = shim_socket_path("/tmp/a-very-long-directory-name-for-tests/state/"
                           "io.containerd.runtime.v2.task/default/c1",
                           "/run/containerd/containerd.sock", "default", "c1");
    assert_true(strncmp(got, SHIM_FALLBACK_SOCKET_DIR "/", strlen(SHIM_FALLBACK_SOCKET_DIR) + 1) ==
                0);
    assert_int_equal(strlen(got), strlen(SHIM_FALLBACK_SOCKET_DIR) + 1 + 64);
    free(got);
    got = shim_socket_path("/somewhere/else", "/a.sock", "default", "c1");
    assert_true(strncmp(got, SHIM_FALLBACK_SOCKET_DIR, strlen(SHIM_FALLBACK_SOCKET_DIR)) == 0);
    free(got);
    got = shim_address_of("/run/x");
    assert_string_equal(got, "unix:///run/x");
    free(got);
}

static void test_group(void **state)
{
    const char *spec = "{\"annotations\":{\"io.kubernetes.cri.sandbox-id\":\"pod\","
                       "\"io.containerd.runc.v2.group\":\"grp\"}}";
    char *g = shim_group_from_spec(spec, strlen(spec), "c1", NULL);
    assert_string_equal(g, "grp");
    free(g);
    spec = "{\"annotations\":{\"io.kubernetes.cri.sandbox-id\":\"pod\"}}";
    g = shim_group_from_spec(spec, strlen(spec), "c1", NULL);
    assert_string_equal(g, "pod");
    free(g);
    spec = "{\"ociVersion\":\"1.0.2\",\"annotations\":{\"x\":1}}";
    g = shim_group_from_spec(spec, strlen(spec), "c1", NULL);
    assert_string_equal(g, "c1");
    free(g);
    struct berth_error *err = NULL;
    spec = "{\"annotations\":";
    assert_null(shim_group_from_spec(spec, strlen(spec), "c1", &err));
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    err_free(err);
}

static void test_uri(void **state)
{
    struct stdio_uri u;
    assert_int_equal(shim_stdio_uri_parse("/run/fifo/x-stdout", &u, NULL), 0);
    assert_int_equal(u.kind, STDIO_FIFO);
    assert_string_equal(u.path, "/run/fifo/x-stdout");
    shim_stdio_uri_clear(&u);
    assert_int_equal(shim_stdio_uri_parse("", &u, NULL), 0);
    assert_int_equal(u.kind, STDIO_NULL);
    shim_stdio_uri_clear(&u);
    assert_int_equal(shim_stdio_uri_parse("file:///var/log/c%201.log", &u, NULL), 0);
    assert_int_equal(u.kind, STDIO_FILE);
    assert_string_equal(u.path, "/var/log/c 1.log");
    shim_stdio_uri_clear(&u);
    assert_int_equal(shim_stdio_uri_parse("binary:///usr/bin/logger?id=abc&flag&x=a+b", &u, NULL),
                     0);
    assert_int_equal(u.kind, STDIO_BINARY);
    assert_string_equal(u.path, "/usr/bin/logger");
    assert_int_equal(u.n_args, 5);
    assert_string_equal(u.args[0], "id");
    assert_string_equal(u.args[1], "abc");
    assert_string_equal(u.args[2], "flag");
    assert_string_equal(u.args[3], "x");
    assert_string_equal(u.args[4], "a b");
    assert_null(u.args[5]);
    shim_stdio_uri_clear(&u);
    struct berth_error *err = NULL;
    assert_int_equal(shim_stdio_uri_parse("ftp:///x", &u, &err), -1);
    assert_non_null(strstr(err->message, "unknown STDIO scheme"));
    err_free(err);
    err = NULL;
    assert_int_equal(shim_stdio_uri_parse("binary:///x?a=%zz", &u, &err), -1);
    err_free(err);
    err = NULL;
    assert_int_equal(shim_stdio_uri_parse("file:///x%00y", &u, &err), -1);
    err_free(err);
    err = NULL;
    assert_int_equal(shim_stdio_uri_parse("binary://host/x", &u, &err), -1);
    err_free(err);

    assert_true(shim_safe_name("exec-1"));
    assert_false(shim_safe_name("../x"));
    assert_false(shim_safe_name(".."));
    assert_false(shim_safe_name(""));
    assert_false(shim_safe_name("a/b"));
}

static void test_look_path(void **state)
{
    char *p = shim_look_path("sh", "/nonexistent:/bin:/usr/bin");
    assert_non_null(p);
    assert_string_equal(p, "/bin/sh");
    free(p);
    p = shim_look_path("/bin/sh", "");
    assert_string_equal(p, "/bin/sh");
    free(p);
    assert_null(shim_look_path("no-such-binary-berth", "/bin:/usr/bin"));
    assert_null(shim_look_path("/nonexistent/sh", "/bin"));
    assert_null(shim_look_path("", "/bin"));
    /* directories are not executables */
    assert_null(shim_look_path("bin", "/"));
}

static void test_json_compact(void **state)
{
    const char *in = "{\n  \"b\": [1, 2],\n  \"a\": {\"x\": true, \"p\": \"/a/b\"}\n}\n";
    char *out = shim_json_compact(in, strlen(in));
    assert_string_equal(out, "{\"b\":[1,2],\"a\":{\"x\":true,\"p\":\"/a/b\"}}");
    free(out);
    assert_null(shim_json_compact("{\"a\":", 5));
    assert_null(shim_json_compact("{} x", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags),     cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_paths),     cmocka_unit_test(test_socket_path),
        cmocka_unit_test(test_group),     cmocka_unit_test(test_uri),
        cmocka_unit_test(test_look_path), cmocka_unit_test(test_json_compact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
