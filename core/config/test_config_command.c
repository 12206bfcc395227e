/* Unit tests for `berthd config default|dump|migrate` (cmd/berthd/config_command.c). */
#include "config_command.h"
#include "core/config/config.h"
#include "core/deprecation/deprecation.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/toml/toml.h"
#include "test_config_helpers.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

struct run {
    int code;
    char *out, *err;
};

static char *redirect(FILE *stream, int fd_no, int *saved, const char *dir, const char *name)
{
    fflush(stream);
    char *path = xasprintf("%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    *saved = dup(fd_no);
    dup2(fd, fd_no);
    close(fd);
    return path;
}

static char *restore(FILE *stream, int fd_no, int saved, char *path)
{
    fflush(stream);
    dup2(saved, fd_no);
    close(saved);
    char *data = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(fs_read_small_file(path, 64 << 20, &data, &err), 0);
    free(path);
    return data;
}

static struct run run_command(const char *const *args, const char *config_path, bool explicit_path,
                              const struct plugin_set *plugins)
{
    _cleanup_free_ char *dir = make_temp_dir();
    int argc = 0;
    while (args[argc])
        argc++;
    int saved_out, saved_err;
    char *out_path = redirect(stdout, STDOUT_FILENO, &saved_out, dir, "stdout");
    char *err_path = redirect(stderr, STDERR_FILENO, &saved_err, dir, "stderr");
    struct run r;
    r.code = berthd_config_command(argc, (char **)args, config_path, explicit_path, plugins);
    r.out = restore(stdout, STDOUT_FILENO, saved_out, out_path);
    r.err = restore(stderr, STDERR_FILENO, saved_err, err_path);
    remove_tree(dir);
    return r;
}

static void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

static struct toml_value *nri_defaults(void)
{
    struct toml_value *t = toml_table_new();
    toml_table_set(t, "disable", toml_bool_new(false));
    toml_table_set(t, "socket_path", toml_string_new("/var/run/nri/nri.sock"));
    return t;
}

static const struct plugin_registration nri = {
    .type = "io.containerd.nri.v1", .id = "nri", .default_config = nri_defaults};

static void test_default(void **state)
{
    struct plugin_set *set = plugin_set_new();
    plugin_set_register(set, &nri);
    struct run r = run_command((const char *const[]){"config", "default", NULL},
                               "/nonexistent/config.toml", true, set);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.err, "");
    _cleanup_toml_ struct toml_value *t = parse_text(r.out);
    int64_t v;
    assert_true(toml_as_int(toml_table_get(t, "version"), &v));
    assert_int_equal(v, 3);
    assert_string_equal(toml_as_string(toml_get_dotted(t, "root")), "/var/lib/berth");
    assert_string_equal(
        toml_as_string(toml_get_dotted(t, "plugins.'io.containerd.nri.v1.nri'.socket_path")),
        "/var/run/nri/nri.sock");
    assert_string_equal(
        toml_as_string(toml_get_dotted(t, "timeouts.'io.containerd.timeout.task.state'")), "2s");
    run_free(&r);
    plugin_set_free(set);
}

static void test_dump(void **state)
{
    struct plugin_set *set = plugin_set_new();
    plugin_set_register(set, &nri);
    _cleanup_free_ char *dir = make_temp_dir();
    _cleanup_free_ char *path =
        write_file(dir, "config.toml",
                   "version = 2\nroot = '/srv/berth'\nimports = ['more.toml']\n"
                   "[plugins.'io.containerd.grpc.v1.cri']\nsandbox_image = 'pause:3.9'\n"
                   "[plugins.'io.containerd.nri.v1.nri']\ndisable = true\n");
    free(write_file(dir, "more.toml", "version = 3\n[debug]\nlevel = 'debug'\n"));

    struct log_capture cap;
    capture_logs(&cap);
    struct run r = run_command((const char *const[]){"config", "dump", NULL}, path, true, set);
    capture_logs_end(&cap);
    assert_int_equal(r.code, 0);
    _cleanup_toml_ struct toml_value *t = parse_text(r.out);
    assert_string_equal(toml_as_string(toml_get_dotted(t, "root")), "/srv/berth");
    assert_string_equal(toml_as_string(toml_get_dotted(t, "state")), "/run/berth");
    assert_string_equal(toml_as_string(toml_get_dotted(t, "debug.level")), "debug");
    assert_string_equal(toml_as_string(toml_get_dotted(
                            t, "plugins.'io.containerd.cri.v1.images'.pinned_images.sandbox")),
                        "pause:3.9");
    bool disable = false;
    assert_true(
        toml_as_bool(toml_get_dotted(t, "plugins.'io.containerd.nri.v1.nri'.disable"), &disable));
    assert_true(disable);
    assert_non_null(toml_get_dotted(t, "plugins.'io.containerd.nri.v1.nri'.socket_path"));
    assert_null(toml_get_dotted(t, "plugins.'io.containerd.grpc.v1.cri'"));
    assert_non_null(strstr(cap.data, "Configuration migrated from version 2"));
    free(cap.data);
    run_free(&r);

    /* a missing default path dumps the defaults; an explicit one fails */
    r = run_command((const char *const[]){"config", "dump", NULL}, "/nonexistent/config.toml",
                    false, NULL);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "/var/lib/berth"));
    run_free(&r);
    r = run_command((const char *const[]){"config", "dump", NULL}, "/nonexistent/config.toml", true,
                    NULL);
    assert_int_equal(r.code, 1);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "berthd: config dump: "));
    assert_non_null(strstr(r.err, "/nonexistent/config.toml"));
    run_free(&r);
    remove_tree(dir);
    plugin_set_free(set);
    deprecation_reset();
}

static void test_migrate(void **state)
{
    static const char *const names[] = {"v1", "v2", "v3"};
    for (size_t i = 0; i < 3; i++) {
        _cleanup_free_ char *in_name = xasprintf("%s.toml", names[i]);
        _cleanup_free_ char *want_name = xasprintf("%s.expected.toml", names[i]);
        _cleanup_free_ char *in = testdata_path(in_name);
        _cleanup_free_ char *want_path = testdata_path(want_name);
        struct run r =
            run_command((const char *const[]){"config", "migrate", NULL}, in, true, NULL);
        assert_int_equal(r.code, 0);
        /* only what the file says, migrated: no defaults, imports not followed */
        _cleanup_toml_ struct toml_value *got = parse_text(r.out);
        _cleanup_toml_ struct toml_value *want = parse_path(want_path);
        assert_trees_equal(got, want);
        assert_null(strstr(r.out, "/var/lib/berth"));
        run_free(&r);
    }

    struct run r = run_command((const char *const[]){"config", "migrate", NULL},
                               "/nonexistent/config.toml", false, NULL);
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "version = 3\n");
    run_free(&r);

    _cleanup_free_ char *bad = testdata_path("version4.toml");
    r = run_command((const char *const[]){"config", "migrate", NULL}, bad, true, NULL);
    assert_int_equal(r.code, 1);
    assert_non_null(strstr(r.err, "got `4`"));
    run_free(&r);
}

static void test_usage(void **state)
{
    struct run r = run_command((const char *const[]){"config", NULL}, NULL, false, NULL);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "Usage: berthd config"));
    run_free(&r);
    r = run_command((const char *const[]){"config", "--help", NULL}, NULL, false, NULL);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "migrate"));
    run_free(&r);
    r = run_command((const char *const[]){"config", "frobnicate", NULL}, NULL, false, NULL);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "unknown command \"frobnicate\""));
    run_free(&r);
    r = run_command((const char *const[]){"config", "dump", "extra", NULL}, NULL, false, NULL);
    assert_int_equal(r.code, 2);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default),
        cmocka_unit_test(test_dump),
        cmocka_unit_test(test_migrate),
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests_name("config_command", tests, NULL, NULL);
}
