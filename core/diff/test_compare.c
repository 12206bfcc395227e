/* Tests for diff_compare: additions, modifications, whiteouts, replaced dirs, hardlinks, digests.
 */
#include "core/diff/compare.h"
#include "core/diff/test_layers.h"

#include "lib/base/alloc.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

static char *lower, *upper;

static int setup(void **state)
{
    (void)state;
    lower = test_mkdtemp("compare-lower");
    upper = test_mkdtemp("compare-upper");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_rm_rf(lower);
    test_rm_rf(upper);
    free(lower);
    free(upper);
    return 0;
}

static void put(const char *root, const char *rel, const char *data, time_t mtime)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    close(fd);
    struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimes(path, tv), 0);
}

static void mkd(const char *root, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    assert_int_equal(mkdir(path, 0755), 0);
}

static void dir_time(const char *root, const char *rel, time_t mtime)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimes(path, tv), 0);
}

static int collect(void *opaque, const void *data, size_t len, struct berth_error **err)
{
    (void)err;
    test_buf_append(opaque, data, len);
    return 0;
}

/* "TYPE NAME[>LINK]\n" for each entry of an uncompressed tar (pax headers skipped). */
static char *listing(const struct test_buf *tar)
{
    struct test_buf out = {0};
    size_t off = 0;
    while (off + 512 <= tar->len) {
        const unsigned char *b = (const unsigned char *)tar->data + off;
        if (b[0] == 0)
            break;
        size_t size = strtoull((const char *)b + 124, NULL, 8);
        off += 512 + (size + 511) / 512 * 512;
        if (b[156] == 'x')
            continue;
        char line[1024];
        char prefix[156] = "";
        memcpy(prefix, b + 345, 155);
        int n = snprintf(line, sizeof(line), "%c %s%s%.100s", b[156], prefix, *prefix ? "/" : "",
                         (const char *)b);
        if (b[156] == '1' || b[156] == '2')
            n += snprintf(line + n, sizeof(line) - (size_t)n, ">%.100s", (const char *)b + 157);
        line[n++] = '\n';
        test_buf_append(&out, line, (size_t)n);
    }
    test_buf_append(&out, "", 1);
    return (char *)out.data;
}

static char *run(bool gzip, struct compare_result *res)
{
    struct test_buf tar = {0};
    struct compare_options opts = {.gzip = gzip};
    struct berth_error *err = NULL;
    int rc = diff_compare(lower, upper, &opts, collect, &tar, res, &err);
    if (rc < 0)
        fail_msg("%s", err->message);
    assert_int_equal(res->size, (int64_t)tar.len);
    char *l = gzip ? NULL : listing(&tar);
    free(tar.data);
    return l;
}

static void base_tree(void)
{
    const char *roots[] = {lower, upper};
    for (int i = 0; i < 2; i++) {
        mkd(roots[i], "etc");
        put(roots[i], "etc/keep", "same", 1000);
        put(roots[i], "etc/gone", "x", 1000);
        mkd(roots[i], "var");
        put(roots[i], "var/file", "v", 1000);
        dir_time(roots[i], "etc", 1000);
        dir_time(roots[i], "var", 1000);
    }
}

static void test_add_modify_delete(void **state)
{
    (void)state;
    base_tree();
    put(upper, "etc/keep", "diff", 1000); /* same size and second: content decides */
    char path[4096];
    snprintf(path, sizeof(path), "%s/etc/gone", upper);
    assert_int_equal(unlink(path), 0);
    put(upper, "etc/new", "n", 1000);
    dir_time(upper, "etc", 1000);
    struct compare_result res;
    char *l = run(false, &res);
    /* etc/ is unchanged (same mtime) but comes in as the parent of the first change. */
    assert_string_equal(l, "5 etc/\n0 etc/.wh.gone\n0 etc/keep\n0 etc/new\n");
    free(l);
    assert_int_equal(res.size, res.uncompressed_size);
    assert_string_equal(res.digest, res.uncompressed_digest);
}

static void test_parents_included(void **state)
{
    (void)state;
    base_tree();
    put(upper, "var/file", "w", 1000);
    dir_time(upper, "var", 2000);
    mkd(upper, "new");
    mkd(upper, "new/sub");
    put(upper, "new/sub/f", "f", 3000);
    struct compare_result res;
    char *l = run(false, &res);
    assert_string_equal(l, "5 new/\n5 new/sub/\n0 new/sub/f\n5 var/\n0 var/file\n");
    free(l);
}

static void test_dir_replaced_by_file(void **state)
{
    (void)state;
    base_tree();
    test_rm_rf(upper);
    assert_int_equal(mkdir(upper, 0755), 0);
    mkd(upper, "etc");
    put(upper, "etc/keep", "same", 1000);
    put(upper, "etc/gone", "x", 1000);
    dir_time(upper, "etc", 1000);
    put(upper, "var", "now a file", 1000);
    struct compare_result res;
    char *l = run(false, &res);
    assert_string_equal(l, "0 var\n");
    free(l);
}

static void test_hardlinks(void **state)
{
    (void)state;
    base_tree();
    put(upper, "var/a", "linked", 1000);
    char a[4096], b[4096];
    snprintf(a, sizeof(a), "%s/var/a", upper);
    snprintf(b, sizeof(b), "%s/var/b", upper);
    assert_int_equal(link(a, b), 0);
    dir_time(upper, "var", 1000);
    struct compare_result res;
    char *l = run(false, &res);
    assert_string_equal(l, "5 var/\n0 var/a\n1 var/b>var/a\n");
    free(l);
}

static void test_deterministic(void **state)
{
    (void)state;
    base_tree();
    put(upper, "var/file", "changed", 1000);
    mkd(upper, "a-very-long-directory-name-to-go-beyond-the-hundred-byte-ustar-name-field");
    put(upper,
        "a-very-long-directory-name-to-go-beyond-the-hundred-byte-ustar-name-field/and-a-long-"
        "file-name-too",
        "long", 1000);
    struct compare_result r1, r2, r3;
    run(true, &r1);
    run(true, &r2);
    assert_string_equal(r1.digest, r2.digest);
    assert_string_equal(r1.uncompressed_digest, r2.uncompressed_digest);
    assert_true(r1.size < r1.uncompressed_size);
    char *l = run(false, &r3);
    assert_string_equal(r3.digest, r1.uncompressed_digest);
    assert_non_null(strstr(l, "and-a-long-file-name-too"));
    free(l);
}

static void test_media_type(void **state)
{
    (void)state;
    bool gz = false;
    struct berth_error *err = NULL;
    assert_int_equal(diff_compare_media_type("", &gz, &err), 0);
    assert_true(gz);
    assert_int_equal(diff_compare_media_type(DIFF_MEDIA_TYPE_LAYER, &gz, &err), 0);
    assert_false(gz);
    assert_int_equal(diff_compare_media_type("application/x-foo", &gz, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_IMPLEMENTED);
    err_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_modify_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parents_included, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_replaced_by_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deterministic, setup, teardown),
        cmocka_unit_test(test_media_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
