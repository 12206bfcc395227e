/* Tests for diff_apply: entry types, owners, modes, xattrs, times, hardlinks, whiteouts. */
#include "core/diff/test_layers.h"

#include "lib/base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

static char *root;

static int setup(void **state)
{
    root = test_mkdtemp("apply");
    return 0;
}

static int teardown(void **state)
{
    test_rm_rf(root);
    free(root);
    return 0;
}

static void apply_ok(const struct test_entry *entries, const struct apply_options *opts, bool gz)
{
    struct test_buf tar = {0}, z = {0};
    test_tar_build(entries, &tar);
    if (gz)
        test_gzip(tar.data, tar.len, &z);
    struct berth_error *err = NULL;
    int rc = test_apply(root, gz ? z.data : tar.data, gz ? z.len : tar.len, opts, &err);
    if (rc < 0)
        fail_msg("apply: %s", err->message);
    free(tar.data);
    free(z.data);
}

static struct stat lstat_ok(const char *rel)
{
    struct stat st;
    _cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
    if (lstat(p, &st) < 0)
        fail_msg("lstat %s: %s", rel, strerror(errno));
    return st;
}

static bool exists(const char *rel)
{
    struct stat st;
    _cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
    return lstat(p, &st) == 0;
}

static void test_entry_types(void **state)
{
    const struct test_entry layer[] = {
        {.name = "etc/", .type = S_IFDIR, .perm = 0750, .uid = 12, .gid = 34, .mtime = 1111},
        {.name = "etc/passwd",
         .data = "root:x:0:0\n",
         .perm = 04755,
         .uid = 5,
         .gid = 6,
         .mtime = 2222,
         .atime = 3333},
        {.name = "tmp/", .type = S_IFDIR, .perm = 01777},
        {.name = "bin/sh", .type = S_IFLNK, .symlink = "/bin/busybox", .uid = 7, .gid = 8},
        {.name = "bin/busybox", .data = "ELF", .perm = 0755},
        {.name = "bin/ls", .hardlink = "bin/busybox"},
        {.name = "dev/null", .type = S_IFCHR, .perm = 0666, .dev_major = 1, .dev_minor = 3},
        {.name = "dev/loop0", .type = S_IFBLK, .perm = 0660, .dev_major = 7, .dev_minor = 0},
        {.name = "run/fifo", .type = S_IFIFO, .perm = 0600},
        {.name = "usr/bin/ping",
         .data = "ping",
         .perm = 0755,
         .xattr_name = "security.capability",
         .xattr_value = "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                        "\x00\x00",
         .xattr_len = 20},
        {.name = "usr/share/x",
         .data = "x",
         .xattr_name = "user.berth",
         .xattr_value = "v",
         .xattr_len = 1},
        {.name = "usr/share/t",
         .data = "t",
         .xattr_name = "trusted.evil",
         .xattr_value = "v",
         .xattr_len = 1},
        {0},
    };
    apply_ok(layer, NULL, true);

    struct stat st = lstat_ok("etc");
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0750);
    assert_int_equal(st.st_uid, 12);
    assert_int_equal(st.st_gid, 34);
    assert_int_equal(st.st_mtim.tv_sec, 1111); /* set after its contents were written */

    st = lstat_ok("etc/passwd");
    assert_int_equal(st.st_mode & 07777, 04755); /* setuid survives the chown */
    assert_int_equal(st.st_uid, 5);
    assert_int_equal(st.st_mtim.tv_sec, 2222);
    assert_int_equal(st.st_atim.tv_sec, 3333);
    assert_string_equal(test_read(root, "etc/passwd"), "root:x:0:0\n");

    assert_int_equal(lstat_ok("tmp").st_mode & 07777, 01777);
    st = lstat_ok("bin/sh");
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(st.st_uid, 7);
    char target[64] = {0};
    _cleanup_free_ char *sh = xasprintf("%s/bin/sh", root);
    assert_int_equal(readlink(sh, target, sizeof(target)), 12);
    assert_string_equal(target, "/bin/busybox");

    assert_int_equal(lstat_ok("bin/ls").st_ino, lstat_ok("bin/busybox").st_ino);
    assert_int_equal(lstat_ok("bin/busybox").st_nlink, 2);

    st = lstat_ok("dev/null");
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(major(st.st_rdev), 1);
    assert_int_equal(minor(st.st_rdev), 3);
    assert_int_equal(st.st_mode & 07777, 0666);
    assert_true(S_ISBLK(lstat_ok("dev/loop0").st_mode));
    assert_true(S_ISFIFO(lstat_ok("run/fifo").st_mode));
    /* implied parents are 0755 */
    assert_int_equal(lstat_ok("usr/bin").st_mode & 07777, 0755);

    char value[64];
    _cleanup_free_ char *ping = xasprintf("%s/usr/bin/ping", root);
    assert_int_equal(lgetxattr(ping, "security.capability", value, sizeof(value)), 20);
    _cleanup_free_ char *x = xasprintf("%s/usr/share/x", root);
    assert_int_equal(lgetxattr(x, "user.berth", value, sizeof(value)), 1);
    _cleanup_free_ char *t = xasprintf("%s/usr/share/t", root);
    assert_int_equal(lgetxattr(t, "trusted.evil", value, sizeof(value)), -1);
}

static void test_replace_and_no_same_owner(void **state)
{
    const struct test_entry l1[] = {
        {.name = "a/", .type = S_IFDIR},
        {.name = "a/f", .data = "one"},
        {.name = "b", .data = "file"},
        {0},
    };
    apply_ok(l1, NULL, false);
    const struct test_entry l2[] = {
        {.name = "a", .data = "now a file", .uid = 99},
        {.name = "b/", .type = S_IFDIR},
        {.name = "b/c", .data = "in dir"},
        {0},
    };
    struct apply_options o = {.no_same_owner = true};
    apply_ok(l2, &o, false);
    assert_string_equal(test_read(root, "a"), "now a file");
    assert_int_equal(lstat_ok("a").st_uid, 0);
    assert_string_equal(test_read(root, "b/c"), "in dir");
}

static void test_whiteouts_native(void **state)
{
    const struct test_entry l1[] = {
        {.name = "etc/motd", .data = "hi"}, {.name = "etc/keep", .data = "k"},
        {.name = "data/a", .data = "a"},    {.name = "data/sub/deep", .data = "d"},
        {.name = "gone/x", .data = "x"},    {0},
    };
    apply_ok(l1, NULL, true);
    const struct test_entry l2[] = {
        {.name = "etc/.wh.motd"},
        {.name = ".wh.gone"},
        {.name = "data/b", .data = "b"},
        {.name = "data/.wh..wh..opq"},
        {.name = "data/sub/new", .data = "n"}, /* after the marker: kept */
        {0},
    };
    apply_ok(l2, NULL, true);
    assert_false(exists("etc/motd"));
    assert_true(exists("etc/keep"));
    assert_false(exists("gone"));
    assert_false(exists("data/a"));
    assert_false(exists("data/sub/deep"));
    assert_string_equal(test_read(root, "data/b"), "b");
    assert_string_equal(test_read(root, "data/sub/new"), "n");
    assert_false(exists(".wh.gone"));
    assert_false(exists("data/.wh..wh..opq"));
}

static void test_whiteouts_overlay(void **state)
{
    const struct test_entry l[] = {
        {.name = "etc/.wh.motd", .uid = 3, .gid = 4},
        {.name = "data/.wh..wh..opq"},
        {.name = "data/b", .data = "b"},
        {0},
    };
    struct apply_options o = {.whiteouts = DIFF_WHITEOUT_OVERLAY};
    apply_ok(l, &o, true);
    struct stat st = lstat_ok("etc/motd");
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(0, 0));
    assert_int_equal(st.st_uid, 3);
    char v[4];
    _cleanup_free_ char *data = xasprintf("%s/data", root);
    assert_int_equal(lgetxattr(data, "trusted.overlay.opaque", v, sizeof(v)), 1);
    assert_int_equal(v[0], 'y');

    const struct test_entry l2[] = {{.name = "u/.wh..wh..opq"}, {0}};
    o.overlay_userxattr = true;
    apply_ok(l2, &o, false);
    _cleanup_free_ char *u = xasprintf("%s/u", root);
    assert_int_equal(lgetxattr(u, "user.overlay.opaque", v, sizeof(v)), 1);
}

static void test_parents_copied(void **state)
{
    _cleanup_free_ char *lower = test_mkdtemp("lower");
    _cleanup_free_ char *ldir = xasprintf("%s/opt", lower);
    assert_int_equal(mkdir(ldir, 0711), 0);
    assert_int_equal(chown(ldir, 42, 43), 0);
    assert_int_equal(chmod(ldir, 0711), 0);
    const struct test_entry l[] = {{.name = "opt/tool", .data = "t"}, {0}};
    const char *parents[] = {lower, NULL};
    struct apply_options o = {.whiteouts = DIFF_WHITEOUT_OVERLAY, .parents = parents};
    apply_ok(l, &o, false);
    struct stat st = lstat_ok("opt");
    assert_int_equal(st.st_uid, 42);
    assert_int_equal(st.st_mode & 07777, 0711);
    test_rm_rf(lower);
}

static void test_bad_whiteout_names(void **state)
{
    const char *names[] = {"a/.wh.", "a/.wh..", "a/.wh.."};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        const struct test_entry l[] = {{.name = names[i]}, {0}};
        struct test_buf tar = {0};
        test_tar_build(l, &tar);
        struct berth_error *err = NULL;
        assert_int_equal(test_apply(root, tar.data, tar.len, NULL, &err), -1);
        assert_non_null(strstr(err->message, "invalid whiteout"));
        err_free(err);
        free(tar.data);
    }
}

static void test_wrong_diff_id(void **state)
{
    /* The caller compares the diff_id; the reader must report the true one. */
    const struct test_entry l[] = {{.name = "f", .data = "data"}, {0}};
    struct test_buf tar = {0}, gz = {0};
    test_tar_build(l, &tar);
    test_gzip(tar.data, tar.len, &gz);
    struct layer_reader *r = NULL;
    assert_int_equal(layer_reader_new_memory(gz.data, gz.len, LAYER_GZIP_AUTO, &r, NULL), 0);
    struct apply_result res;
    assert_int_equal(diff_apply(root, r, NULL, &res, NULL), 0);
    assert_int_equal(res.entries, 1);
    assert_int_equal(res.size, 4);
    struct layer_reader_result lr;
    assert_int_equal(layer_reader_finish(r, &lr, NULL), 0);
    char want[DIGEST_STRING_SIZE];
    digest_from_bytes(DIGEST_SHA256, tar.data, tar.len, want, NULL);
    assert_string_equal(lr.uncompressed_digest, want);
    tar.data[0] ^= 1;
    digest_from_bytes(DIGEST_SHA256, tar.data, tar.len, want, NULL);
    assert_false(digest_equal(lr.uncompressed_digest, want));
    layer_reader_free(r);
    free(tar.data);
    free(gz.data);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIP: needs root (devices, chown, trusted xattrs)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_entry_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_and_no_same_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whiteouts_native, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whiteouts_overlay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parents_copied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_whiteout_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_diff_id, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
