/* Unit tests for the cgroupfs/procfs text parsers, including malformed input. */
#include "core/cgroups/cgroups-internal.h"
#include "core/cgroups/test_tree.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static void test_lines_and_fields(void **state)
{
    char text[] = "a b\n\n c\td  e \nlast";
    char *cursor = text, *line, *f[2];
    assert_true(cg_next_line(&cursor, &line));
    assert_int_equal(cg_fields(line, f, 2), 2);
    assert_string_equal(f[0], "a");
    assert_string_equal(f[1], "b");
    assert_true(cg_next_line(&cursor, &line));
    assert_int_equal(cg_fields(line, f, 2), 0);
    assert_true(cg_next_line(&cursor, &line));
    assert_int_equal(cg_fields(line, f, 2), 3); /* counts past max */
    assert_string_equal(f[0], "c");
    assert_string_equal(f[1], "d");
    assert_true(cg_next_line(&cursor, &line));
    assert_string_equal(line, "last");
    assert_false(cg_next_line(&cursor, &line));

    /* a final newline does not make an empty last line */
    char two[] = "x\n";
    cursor = two;
    assert_true(cg_next_line(&cursor, &line));
    assert_false(cg_next_line(&cursor, &line));
}

static void test_parse_uint(void **state)
{
    uint64_t v = 7;
    assert_int_equal(cg_parse_uint("0", 64, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cg_parse_uint("18446744073709551615", 64, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(cg_parse_uint("18446744073709551616", 64, &v), -1);
    assert_int_equal(cg_parse_uint("4294967295", 32, &v), 0);
    assert_int_equal(cg_parse_uint("4294967296", 32, &v), -1);
    /* negatives read as 0, of any size; "-0" and "+1" do not parse (Go's ParseInt/ParseUint) */
    v = 7;
    assert_int_equal(cg_parse_uint("-1", 64, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cg_parse_uint("-99999999999999999999999", 64, &v), 0);
    assert_int_equal(cg_parse_uint("-0", 64, &v), -1);
    assert_int_equal(cg_parse_uint("+1", 64, &v), -1);
    assert_int_equal(cg_parse_uint("", 64, &v), -1);
    assert_int_equal(cg_parse_uint("-", 64, &v), -1);
    assert_int_equal(cg_parse_uint("12a", 64, &v), -1);
    assert_int_equal(cg_parse_uint(" 1", 64, &v), -1);
    /* the strict form takes no negatives */
    assert_int_equal(cg_parse_uint_strict("-1", 64, &v), -1);
}

static void test_kv(void **state)
{
    struct cg_kv kv = {0};
    char good[] = "cache 10\nrss 20\nrss -1\n";
    assert_int_equal(cg_kv_parse(good, "memory.stat", &kv, NULL), 0);
    assert_int_equal(cg_kv_get(&kv, "cache"), 10);
    assert_int_equal(cg_kv_get(&kv, "rss"), 0); /* later duplicate wins; negative is 0 */
    assert_true(cg_kv_has(&kv, "rss"));
    assert_false(cg_kv_has(&kv, "nope"));
    assert_int_equal(cg_kv_get(&kv, "nope"), 0);
    cg_kv_clear(&kv);

    const char *bad[] = {"cache\n", "cache 1 2\n", "cache x\n", "a 1\n\nb 2\n"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *text = xstrdup(bad[i]);
        struct berth_error *err = NULL;
        assert_int_equal(cg_kv_parse(text, "memory.stat", &kv, &err), -1);
        assert_int_equal(err->kind, ERR_UNKNOWN);
        assert_non_null(strstr(err->message, "memory.stat line"));
        err_free(err);
        cg_kv_clear(&kv);
        free(text);
    }
}

static void test_read_uint_file(void **state)
{
    _cleanup_free_ char *root = tree_new();
    const struct {
        const char *content;
        int r;
        uint64_t value;
    } cases[] = {
        {"42\n", 0, 42},
        {"  7  \n", 0, 7},
        {"max\n", 0, 99},
        {"-1\n", 0, 0},
        {"9223372036854771712\n", 0, 9223372036854771712ull},
        {"", -1, 0},
        {"abc\n", -1, 0},
        {"1 2\n", -1, 0},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        tree_write(root, "f", cases[i].content);
        _cleanup_free_ char *path = xasprintf("%s/f", root);
        uint64_t v = 12345;
        struct berth_error *err = NULL;
        assert_int_equal(cg_read_uint_file(path, 99, &v, &err), cases[i].r);
        if (cases[i].r == 0) {
            assert_true(v == cases[i].value);
        } else {
            assert_int_equal(err->kind, ERR_UNKNOWN);
            err_free(err);
        }
    }
    /* missing: not found, with the errno to tell it apart */
    _cleanup_free_ char *missing = xasprintf("%s/missing", root);
    uint64_t v;
    struct berth_error *err = NULL;
    assert_int_equal(cg_read_uint_file(missing, 0, &v, &err), -1);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    assert_int_equal(err->errno_value, ENOENT);
    err_free(err);
    /* a NUL inside a text file is refused */
    tree_write(root, "nul", "a 1\n");
    _cleanup_free_ char *nul_path = xasprintf("%s/nul", root);
    FILE *f = fopen(nul_path, "a");
    fputc('\0', f);
    fclose(f);
    char *text = NULL;
    err = NULL;
    assert_int_equal(cg_read_file(nul_path, &text, &err), -1);
    err_free(err);
    tree_remove(root);
}

static void test_proc_cgroup(void **state)
{
    char text[] = "12:cpu,cpuacct:/a\n9:name=systemd:/s\n0::/u\n1:memory:/with:colon\n";
    struct cg_proc_entry *e;
    size_t n;
    assert_int_equal(cg_parse_proc_cgroup(text, &e, &n, NULL), 0);
    assert_int_equal(n, 4);
    assert_string_equal(e[0].controllers, "cpu,cpuacct");
    assert_string_equal(e[0].path, "/a");
    assert_string_equal(e[1].controllers, "name=systemd");
    assert_string_equal(e[2].controllers, "");
    assert_string_equal(e[2].path, "/u");
    assert_string_equal(e[3].path, "/with:colon");
    cg_proc_entries_free(e, n);

    char bad[] = "1:memory:/a\ngarbage\n";
    struct berth_error *err = NULL;
    assert_int_equal(cg_parse_proc_cgroup(bad, &e, &n, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err->message, "garbage"));
    err_free(err);
}

static void test_mountinfo(void **state)
{
    const char *mi =
        "22 1 0:21 /not-cgroup /sys rw,nosuid shared:7 - sysfs sysfs rw,memory\n"
        "30 25 0:26 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw\n"
        "31 25 0:27 /outer /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory\n"
        "32 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw shared:12 - cgroup cgroup rw,cpu,cpuacct\n"
        "33 25 0:29 /with\\040space /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
        "short line\n";
    _cleanup_free_ char *mem = cg_mountinfo_cgroup_root(mi, "memory");
    assert_string_equal(mem, "/outer");
    _cleanup_free_ char *cpuacct = cg_mountinfo_cgroup_root(mi, "cpuacct");
    assert_string_equal(cpuacct, "/");
    _cleanup_free_ char *systemd = cg_mountinfo_cgroup_root(mi, "name=systemd");
    assert_string_equal(systemd, "/with space");
    assert_null(cg_mountinfo_cgroup_root(mi, "pids"));
    assert_null(cg_mountinfo_cgroup_root(mi, "cpuset"));
    assert_null(cg_mountinfo_cgroup_root("", "memory"));
}

static void test_clean_path(void **state)
{
    assert_true(cg_path_is_clean("/"));
    assert_true(cg_path_is_clean("/a/b.c/..d"));
    assert_false(cg_path_is_clean(""));
    assert_false(cg_path_is_clean("a"));
    assert_false(cg_path_is_clean("/a/"));
    assert_false(cg_path_is_clean("//a"));
    assert_false(cg_path_is_clean("/a/../b"));
    assert_false(cg_path_is_clean("/.."));
    assert_false(cg_path_is_clean("/./a"));
}

static void test_partitions(void **state)
{
    char text[] = "major minor  #blocks  name\n\n   8        0  1000 sda\n   8        1  500 sda1\n"
                  "   8        0  1000 dup\nshort\n 259 0 10 nvme0n1\n";
    struct cg_device *d;
    size_t n;
    assert_int_equal(cg_parse_partitions(text, &d, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_string_equal(d[0].name, "/dev/sda");
    assert_int_equal(d[1].minor, 1);
    assert_string_equal(d[2].name, "/dev/nvme0n1");
    assert_int_equal(d[2].major, 259);
    cg_devices_free(d, n);

    char bad[] = "h\n\nx 0 1 sda\n";
    struct berth_error *err = NULL;
    assert_int_equal(cg_parse_partitions(bad, &d, &n, &err), -1);
    assert_int_equal(err->kind, ERR_UNKNOWN);
    err_free(err);
}

static void test_hugepage_sizes(void **state)
{
    _cleanup_free_ char *root = tree_new();
    tree_mkdir(root, "hp/hugepages-2048kB");
    tree_mkdir(root, "hp/hugepages-1048576kB");
    tree_mkdir(root, "hp/hugepages-64kB");
    tree_mkdir(root, "hp/hugepages-junk");
    _cleanup_free_ char *dir = xasprintf("%s/hp", root);
    /* sorted by entry name: 1048576kB, 2048kB, 64kB */
    _cleanup_free_ char *v1 = cg_hugepage_sizes(dir, false);
    assert_string_equal(v1, "1GB");
    assert_string_equal(v1 + 4, "2MB");
    assert_string_equal(v1 + 8, "64KB");
    assert_string_equal(v1 + 13, "");
    _cleanup_free_ char *v2 = cg_hugepage_sizes(dir, true);
    assert_string_equal(v2, "1GB");
    assert_string_equal(v2 + 4, "2MB");
    assert_string_equal(v2 + 8, "64KB");
    assert_string_equal(v2 + 13, "");

    _cleanup_free_ char *missing = xasprintf("%s/none", root);
    assert_null(cg_hugepage_sizes(missing, false));
    tree_mkdir(root, "empty");
    _cleanup_free_ char *empty_dir = xasprintf("%s/empty", root);
    _cleanup_free_ char *empty = cg_hugepage_sizes(empty_dir, true);
    assert_string_equal(empty, "");
    tree_remove(root);
}

static void test_psi(void **state)
{
    char text[] = "some avg10=1.50 avg60=0.25 avg300=0.00 total=123\n"
                  "full avg10=0.00 avg60=0.00 avg300=2.00 total=9\n";
    struct cg_psi_line some, full;
    assert_true(cg_parse_psi(text, &some, &full));
    assert_true(some.present && full.present);
    assert_true(some.avg10 == 1.5 && some.avg60 == 0.25 && some.total == 123);
    assert_true(full.avg300 == 2.0 && full.total == 9);

    char only_some[] = "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n\n";
    assert_true(cg_parse_psi(only_some, &some, &full));
    assert_true(some.present);
    assert_false(full.present);

    const char *bad[] = {"some avg10\n", "some avg10=x\n", "full total=-1\n", "some total=\n"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *t = xstrdup(bad[i]);
        assert_false(cg_parse_psi(t, &some, &full));
        free(t);
    }
}

static void test_rdma_line(void **state)
{
    char line[] = "mlx4_0 hca_handle=2 hca_object=max";
    char *device;
    uint32_t h, o;
    assert_true(cg_parse_rdma_line(line, &device, &h, &o));
    assert_string_equal(device, "mlx4_0");
    assert_int_equal(h, 2);
    assert_true(o == UINT32_MAX);
    /* bad values leave the field 0 */
    char odd[] = "dev hca_handle=x=y hca_object=99999999999";
    assert_true(cg_parse_rdma_line(odd, &device, &h, &o));
    assert_int_equal(h, 0);
    assert_int_equal(o, 0);
    char short_line[] = "dev hca_handle=1";
    assert_false(cg_parse_rdma_line(short_line, &device, &h, &o));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_and_fields),
        cmocka_unit_test(test_parse_uint),
        cmocka_unit_test(test_kv),
        cmocka_unit_test(test_read_uint_file),
        cmocka_unit_test(test_proc_cgroup),
        cmocka_unit_test(test_mountinfo),
        cmocka_unit_test(test_clean_path),
        cmocka_unit_test(test_partitions),
        cmocka_unit_test(test_hugepage_sizes),
        cmocka_unit_test(test_psi),
        cmocka_unit_test(test_rdma_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
