/* Runtime v2 pieces without a daemon: bootstrap params, runtime names, bundles, shim actions. */
#include "core/runtime/bundle.h"
#include "core/runtime/shim_binary.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"

#include "containerd/runtime/task/v3/shim.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static char *make_tmp(void)
{
    char *d = xstrdup("/tmp/berth-runtime-test.XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void write_script(const char *path, const char *body)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
}

static void test_bootstrap_parse(void **state)
{
    (void)state;
    struct shim_bootstrap b;
    const char *v3 = "{\"version\":3,\"address\":\"unix:///run/x/s/ab\",\"protocol\":\"ttrpc\"}\n";
    assert_int_equal(shim_bootstrap_parse(v3, strlen(v3), &b, NULL), 0);
    assert_int_equal(b.version, 3);
    assert_string_equal(b.address, "unix:///run/x/s/ab");
    assert_string_equal(b.protocol, "ttrpc");
    shim_bootstrap_clear(&b);

    const char *bare = "  unix:///run/containerd/s/123\n";
    assert_int_equal(shim_bootstrap_parse(bare, strlen(bare), &b, NULL), 0);
    assert_int_equal(b.version, 2);
    assert_string_equal(b.address, "unix:///run/containerd/s/123");
    assert_string_equal(b.protocol, "ttrpc");
    shim_bootstrap_clear(&b);

    /* version 1 JSON is legacy too: the whole text is taken as the address */
    const char *v1 = "{\"version\":1,\"address\":\"x\"}";
    assert_int_equal(shim_bootstrap_parse(v1, strlen(v1), &b, NULL), 0);
    assert_int_equal(b.version, 2);
    assert_string_equal(b.address, v1);
    shim_bootstrap_clear(&b);

    struct berth_error *err = NULL;
    const char *v4 = "{\"version\":4,\"address\":\"unix:///x\",\"protocol\":\"ttrpc\"}";
    assert_int_equal(shim_bootstrap_parse(v4, strlen(v4), &b, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_IMPLEMENTED);
    err_free(err);
}

static void test_bootstrap_file(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_tmp();
    struct shim_bootstrap b = {
        .version = 3, .address = xstrdup("unix:///run/berth/s/00"), .protocol = xstrdup("ttrpc")};
    assert_int_equal(shim_bootstrap_write(dir, &b, NULL), 0);
    shim_bootstrap_clear(&b);
    _cleanup_free_ char *path = xasprintf("%s/bootstrap.json", dir);
    _cleanup_free_ char *text = NULL;
    assert_int_equal(fs_read_small_file(path, 4096, &text, NULL), 0);
    assert_string_equal(
        text, "{\"version\":3,\"address\":\"unix:///run/berth/s/00\",\"protocol\":\"ttrpc\"}");
    assert_int_equal(shim_bootstrap_read(dir, &b, NULL), 0);
    assert_int_equal(b.version, 3);
    shim_bootstrap_clear(&b);
    unlink(path);

    /* a 1.x bundle has only `address`: it is migrated into bootstrap.json */
    _cleanup_free_ char *legacy = xasprintf("%s/address", dir);
    assert_int_equal(fs_write_file_atomic(legacy, "unix:///old", 11, 0600, NULL), 0);
    assert_int_equal(shim_bootstrap_read(dir, &b, NULL), 0);
    assert_int_equal(b.version, 2);
    assert_string_equal(b.address, "unix:///old");
    shim_bootstrap_clear(&b);
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);
    unlink(legacy);
    rmdir(dir);
}

static void test_resolve(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_tmp();
    _cleanup_free_ char *shim = xasprintf("%s/containerd-shim-foo-v9", dir);
    write_script(shim, "exit 0");
    const char *dirs[] = {dir};
    struct shim_launch l = {.shim_dirs = dirs, .n_shim_dirs = 1};
    char *path = NULL;
    assert_int_equal(shim_binary_resolve(&l, "io.containerd.foo.v9", &path, NULL), 0);
    assert_string_equal(path, shim);
    free(path);
    assert_int_equal(shim_binary_resolve(&l, shim, &path, NULL), 0);
    free(path);

    struct berth_error *err = NULL;
    const char *bad[] = {"", "runc", "a/b.c", ".x", "io.containerd.", "io..v2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(shim_binary_resolve(&l, bad[i], &path, &err), -1);
        assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
        err_free(err);
        err = NULL;
    }
    assert_int_equal(shim_binary_resolve(&l, "io.containerd.nosuch.v7", &path, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    err_free(err);
    err = NULL;
    assert_int_equal(shim_binary_resolve(&l, "/nonexistent/shim", &path, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    err_free(err);
    unlink(shim);
    rmdir(dir);
}

static void test_bundle(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_tmp();
    _cleanup_free_ char *root = xasprintf("%s/root", dir);
    _cleanup_free_ char *st = xasprintf("%s/state", dir);
    struct berth_error *err = NULL;
    assert_null(bundle_create(root, st, "ns", "../escape", "{}", 2, &err));
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    err_free(err);
    err = NULL;

    char *b = bundle_create(root, st, "ns", "c1", "{\"ociVersion\":\"1.2.0\"}", 22, NULL);
    assert_non_null(b);
    struct stat sb;
    assert_int_equal(stat(b, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0700);
    _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", b);
    assert_int_equal(stat(rootfs, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0711);
    _cleanup_free_ char *work = xasprintf("%s/ns/c1", root);
    _cleanup_free_ char *link = xasprintf("%s/work", b);
    char target[4096];
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, work);
    /* a second bundle with the same id is refused and leaves the first alone */
    assert_null(bundle_create(root, st, "ns", "c1", NULL, 0, &err));
    assert_int_equal(err->kind, ERR_ALREADY_EXISTS);
    err_free(err);
    err = NULL;
    assert_int_equal(access(rootfs, F_OK), 0);

    /* mounts stacked on rootfs (the shim's) are taken down with the bundle */
    bool mounted = mount("tmpfs", rootfs, "tmpfs", 0, "size=1m") == 0 &&
                   mount("tmpfs", rootfs, "tmpfs", 0, "size=1m") == 0;
    assert_int_equal(bundle_delete(b, NULL), 0);
    assert_int_equal(access(b, F_OK), -1);
    assert_int_equal(access(work, F_OK), -1);
    _cleanup_free_ char *hidden = xasprintf("%s/ns/.c1", st);
    assert_int_equal(access(hidden, F_OK), -1);
    if (mounted) {
        /* nothing of ours may remain in the mount table */
        _cleanup_free_ char *mi = NULL;
        assert_int_equal(fs_read_small_file("/proc/self/mountinfo", 1 << 20, &mi, NULL), 0);
        assert_null(strstr(mi, rootfs));
    }
    free(b);
    _cleanup_free_ char *cmd = xasprintf("rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_shim_start_and_delete(void **state)
{
    (void)state;
    _cleanup_free_ char *dir = make_tmp();
    _cleanup_free_ char *shim = xasprintf("%s/containerd-shim-fake-v1", dir);
    /* echoes what containerd hands a shim, then answers like a v3 shim */
    write_script(
        shim, "if [ \"$(eval echo \\${$#})\" = delete ]; then\n"
              "  printf '\\010\\052\\020\\211\\001'; echo cleaned >&2; exit 0; fi\n"
              "cat >stdin.bin\n"
              "echo \"$@\" >args.txt\n"
              "echo \"$TTRPC_ADDRESS $GRPC_ADDRESS $NAMESPACE $MAX_SHIM_VERSION $EXTRA\" "
              ">env.txt\n"
              "echo '{\"version\":3,\"address\":\"unix:///tmp/x.sock\",\"protocol\":\"ttrpc\"}'");
    const char *env[] = {"EXTRA=yes"};
    struct shim_launch l = {.grpc_address = "/g.sock",
                            .ttrpc_address = "/t.sock",
                            .publish_binary = "/bin/berthd",
                            .env = env,
                            .n_env = 1};
    struct shim_bootstrap b;
    assert_int_equal(shim_binary_start(&l, shim, "ns1", "id1", dir, "OPTS", 4, &b, NULL), 0);
    assert_int_equal(b.version, 3);
    assert_string_equal(b.address, "unix:///tmp/x.sock");
    shim_bootstrap_clear(&b);
    _cleanup_free_ char *p = xasprintf("%s/stdin.bin", dir), *text = NULL;
    assert_int_equal(fs_read_small_file(p, 4096, &text, NULL), 0);
    assert_string_equal(text, "OPTS");
    free(text);
    text = NULL;
    free(p);
    p = xasprintf("%s/args.txt", dir);
    assert_int_equal(fs_read_small_file(p, 4096, &text, NULL), 0);
    assert_string_equal(text, "-namespace ns1 -address /g.sock -publish-binary /bin/berthd -id "
                              "id1 start\n");
    free(text);
    text = NULL;
    free(p);
    p = xasprintf("%s/env.txt", dir);
    assert_int_equal(fs_read_small_file(p, 4096, &text, NULL), 0);
    assert_string_equal(text, "/t.sock /g.sock ns1 2 yes\n");
    free(text);
    text = NULL;

    struct shim_exit ex;
    assert_int_equal(shim_binary_delete(&l, shim, "ns1", "id1", dir, &ex, NULL), 0);
    assert_int_equal(ex.pid, 42);
    assert_int_equal(ex.exit_status, 137);

    /* a failing start reports what it printed */
    write_script(shim, "echo 'no runc here'; exit 3");
    struct berth_error *err = NULL;
    assert_int_equal(shim_binary_start(&l, shim, "ns1", "id1", dir, NULL, 0, &b, &err), -1);
    assert_non_null(strstr(err->message, "no runc here"));
    assert_non_null(strstr(err->message, "exit status 3"));
    err_free(err);
    _cleanup_free_ char *cmd = xasprintf("rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bootstrap_parse),
        cmocka_unit_test(test_bootstrap_file),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_bundle),
        cmocka_unit_test(test_shim_start_and_delete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
