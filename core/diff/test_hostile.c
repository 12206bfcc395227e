/* Hostile layers: every escape attempt is contained in root or rejected; bounds are enforced. */
#include "core/diff/test_layers.h"

#include "lib/base/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static char *base, *root, *sentinel;

static int setup(void **state)
{
    base = test_mkdtemp("hostile");
    root = xasprintf("%s/root", base);
    sentinel = xasprintf("%s/sentinel", base);
    assert_int_equal(mkdir(root, 0755), 0);
    assert_int_equal(mkdir(sentinel, 0755), 0);
    _cleanup_free_ char *f = xasprintf("%s/file", sentinel);
    FILE *fp = fopen(f, "w");
    fputs("safe", fp);
    fclose(fp);
    return 0;
}

/* Nothing beside root changed: the sentinel holds exactly its one untouched file. */
static void check_sentinel(void)
{
    DIR *d = opendir(sentinel);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    assert_int_equal(n, 1);
    assert_string_equal(test_read(sentinel, "file"), "safe");
    struct stat st;
    _cleanup_free_ char *f = xasprintf("%s/file", sentinel);
    assert_int_equal(lstat(f, &st), 0);
    assert_int_equal(st.st_nlink, 1);
    assert_int_equal(st.st_mode & 07777, 0644);
    d = opendir(base);
    n = 0;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    assert_int_equal(n, 2); /* root and sentinel only */
}

static int teardown(void **state)
{
    check_sentinel();
    test_rm_rf(base);
    free(base);
    free(root);
    free(sentinel);
    return 0;
}

/* Applies and returns rc; the error (if any) is printed for the log. */
static int apply(const struct test_entry *entries, const struct apply_options *opts)
{
    struct test_buf tar = {0};
    test_tar_build(entries, &tar);
    struct berth_error *err = NULL;
    int rc = test_apply(root, tar.data, tar.len, opts, &err);
    if (err)
        printf("  (rejected: %s)\n", err->message);
    err_free(err);
    free(tar.data);
    return rc;
}

static int apply_raw(const void *data, size_t len, const struct apply_options *opts)
{
    struct berth_error *err = NULL;
    int rc = test_apply(root, data, len, opts, &err);
    if (err)
        printf("  (rejected: %s)\n", err->message);
    err_free(err);
    return rc;
}

static void test_dotdot_and_absolute(void **state)
{
    const struct test_entry l[] = {
        {.name = "../sentinel/file", .data = "pwned"},
        {.name = "../../../../escape", .data = "x"},
        {.name = "/abs", .data = "y"},
        {.name = "a/../../sentinel/new", .data = "z"},
        {0},
    };
    assert_int_equal(apply(l, NULL), 0);
    /* contained: ".." stops at root */
    assert_string_equal(test_read(root, "sentinel/file"), "pwned");
    assert_string_equal(test_read(root, "escape"), "x");
    assert_string_equal(test_read(root, "abs"), "y");
    assert_string_equal(test_read(root, "sentinel/new"), "z");
}

static void test_symlink_then_write_through(void **state)
{
    _cleanup_free_ char *abs_file = xasprintf("%s/file", sentinel);
    _cleanup_free_ char *mirror = xasprintf("%s/", sentinel + 1);
    /* The targets exist inside root: writes resolve there, as containerd's RootPath does. */
    const struct test_entry l[] = {
        {.name = mirror, .type = S_IFDIR},
        {.name = "sentinel/", .type = S_IFDIR},
        {.name = "evil", .type = S_IFLNK, .symlink = sentinel},
        {.name = "evil/file", .data = "pwned"},
        {.name = "rel", .type = S_IFLNK, .symlink = "../sentinel"},
        {.name = "rel/file", .data = "pwned"},
        {.name = "direct", .type = S_IFLNK, .symlink = abs_file},
        {.name = "direct", .data = "replaced, not written through"},
        {.name = "up", .type = S_IFLNK, .symlink = "../.."},
        {.name = "up/up2", .type = S_IFLNK, .symlink = ".."},
        {.name = "up/up2/sentinel/file2", .data = "pwned"},
        {0},
    };
    assert_int_equal(apply(l, NULL), 0);
    _cleanup_free_ char *inside = xasprintf("%s/file", sentinel + 1);
    assert_string_equal(test_read(root, inside), "pwned");
    assert_string_equal(test_read(root, "sentinel/file"), "pwned");
    assert_string_equal(test_read(root, "sentinel/file2"), "pwned");
    assert_string_equal(test_read(root, "direct"), "replaced, not written through");
    /* Dangling in root: rejected (containerd would create the directories in root). */
    const struct test_entry l2[] = {
        {.name = "dangling", .type = S_IFLNK, .symlink = "/nonexistent/dir"},
        {.name = "dangling/file", .data = "x"},
        {0},
    };
    assert_int_equal(apply(l2, NULL), -1);
}

static void test_hardlink_outside(void **state)
{
    _cleanup_free_ char *abs_file = xasprintf("%s/file", sentinel);
    const struct test_entry l1[] = {{.name = "h", .hardlink = "../sentinel/file"}, {0}};
    assert_int_equal(apply(l1, NULL), -1);
    const struct test_entry l2[] = {{.name = "h", .hardlink = abs_file}, {0}};
    assert_int_equal(apply(l2, NULL), -1);
    const struct test_entry l3[] = {
        {.name = "s", .type = S_IFLNK, .symlink = sentinel},
        {.name = "h", .hardlink = "s/file"},
        {0},
    };
    assert_int_equal(apply(l3, NULL), -1);
    /* a hardlink to a symlink links the symlink itself, as link(2) does */
    const struct test_entry l4[] = {
        {.name = "s2", .type = S_IFLNK, .symlink = abs_file},
        {.name = "h2", .hardlink = "s2"},
        {.name = "h2", .data = "x"},
        {0},
    };
    assert_int_equal(apply(l4, NULL), 0);
}

static void test_whiteouts_through_symlinks(void **state)
{
    const struct test_entry l[] = {
        {.name = "s", .type = S_IFLNK, .symlink = sentinel},
        {.name = "s/.wh.file"},
        {.name = "r", .type = S_IFLNK, .symlink = "../sentinel"},
        {.name = "r/.wh..wh..opq"},
        {0},
    };
    apply(l, NULL); /* rejected (dangling in root) or contained: the sentinel says */
    const struct test_entry bad[] = {{.name = ".wh.."}, {0}};
    assert_int_equal(apply(bad, NULL), -1);
    struct apply_options o = {.whiteouts = DIFF_WHITEOUT_OVERLAY};
    const struct test_entry l2[] = {
        {.name = "s", .type = S_IFLNK, .symlink = sentinel},
        {.name = "s/.wh.file"},
        {.name = "r", .type = S_IFLNK, .symlink = "../sentinel"},
        {.name = "r/.wh..wh..opq"},
        {0},
    };
    apply(l2, &o);
}

static void test_device_and_parent_replacement(void **state)
{
    const struct test_entry l[] = {
        {.name = "d/", .type = S_IFDIR},
        {.name = "d", .type = S_IFLNK, .symlink = sentinel},
        {.name = "d/file", .data = "pwned"},
        {0},
    };
    assert_int_equal(apply(l, NULL), -1); /* d now dangles inside root */
}

static void test_bounds(void **state)
{
    /* a name longer than the bound */
    char *longname = xmalloc(5000);
    memset(longname, 'a', 4999);
    for (int i = 200; i < 4999; i += 200)
        longname[i] = '/';
    longname[4999] = '\0';
    const struct test_entry l1[] = {{.name = longname, .data = "x"}, {0}};
    assert_int_equal(apply(l1, NULL), -1);
    free(longname);
    /* a component longer than NAME_MAX */
    char comp[300];
    memset(comp, 'b', 299);
    comp[299] = '\0';
    const struct test_entry l2[] = {{.name = comp, .data = "x"}, {0}};
    assert_int_equal(apply(l2, NULL), -1);
    /* too many entries */
    const struct test_entry l3[] = {
        {.name = "1"}, {.name = "2"}, {.name = "3"}, {.name = "4"}, {0}};
    struct apply_options o = {.max_entries = 3};
    assert_int_equal(apply(l3, &o), -1);
}

static void test_huge_and_broken_headers(void **state)
{
    uint8_t blocks[512 * 4] = {0};
    /* a file claiming 8 GiB with no data */
    test_raw_header(blocks, "big", '0', "77777777777", NULL);
    assert_int_equal(apply_raw(blocks, sizeof(blocks), NULL), -1);
    /* a pax header claiming 8 GiB of records */
    test_raw_header(blocks, "PaxHeader", 'x', "77777777777", NULL);
    assert_int_equal(apply_raw(blocks, sizeof(blocks), NULL), -1);
    /* a GNU long name claiming 8 GiB */
    test_raw_header(blocks, "././@LongLink", 'L', "77777777777", NULL);
    assert_int_equal(apply_raw(blocks, sizeof(blocks), NULL), -1);
    /* a pax record whose length overflows */
    test_raw_header(blocks, "PaxHeader", 'x', "00000000040", NULL);
    memcpy(blocks + 512, "99999999999999999999 path=x\n", 28);
    test_raw_header(blocks + 1024, "f", '0', "0", NULL);
    apply_raw(blocks, sizeof(blocks), NULL); /* whatever libarchive decides, nothing escapes */
    /* a bad checksum */
    test_raw_header(blocks, "f", '0', "0", NULL);
    blocks[148] = '7';
    assert_int_equal(apply_raw(blocks, sizeof(blocks), NULL), -1);
    /* not a tar at all */
    memset(blocks, 'Z', sizeof(blocks));
    assert_int_equal(apply_raw(blocks, sizeof(blocks), NULL), -1);
}

static void test_truncated_layers(void **state)
{
    const struct test_entry l[] = {{.name = "f", .data = "0123456789abcdef"}, {0}};
    struct test_buf tar = {0}, gz = {0};
    test_tar_build(l, &tar);
    test_gzip(tar.data, tar.len, &gz);
    assert_int_equal(apply_raw(tar.data, 600, NULL), -1);       /* inside the file data */
    assert_int_equal(apply_raw(gz.data, gz.len - 5, NULL), -1); /* gzip trailer cut */
    assert_int_equal(apply_raw(gz.data, gz.len / 2, NULL), -1);
    free(tar.data);
    free(gz.data);
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIP: needs root\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dotdot_and_absolute, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_then_write_through, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardlink_outside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whiteouts_through_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_and_parent_replacement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_and_broken_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_layers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
