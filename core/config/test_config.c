/* Unit tests for the config struct: defaults, validation, durations, paths, writing. */
#include "core/config/config-internal.h"
#include "core/deprecation/deprecation.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "lib/toml/toml.h"
#include "test_config_helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

extern const struct CMUnitTest migrate_tests[];
extern const size_t n_migrate_tests;
extern const struct CMUnitTest load_tests[];
extern const size_t n_load_tests;

static void test_defaults(void **state)
{
    _cleanup_config_ struct berth_config *c = config_new_default();
    assert_int_equal(c->version, 3);
    assert_string_equal(c->root, "/var/lib/berth");
    assert_string_equal(c->state, "/run/berth");
    assert_string_equal(c->temp, "");
    assert_string_equal(c->grpc.address, "/run/berth/berth.sock");
    assert_int_equal(c->grpc.max_recv_message_size, 16 * 1024 * 1024);
    assert_int_equal(c->grpc.max_send_message_size, 16 * 1024 * 1024);
    assert_string_equal(c->ttrpc.address, "");
    assert_int_equal(toml_table_count(c->plugins), 0);
    assert_int_equal(c->n_timeouts, 6);
    assert_string_equal(c->timeouts[0].name, "io.containerd.timeout.bolt.open");
    assert_string_equal(c->timeouts[0].duration, "0s");
    assert_string_equal(c->timeouts[4].name, "io.containerd.timeout.shim.shutdown");
    assert_string_equal(c->timeouts[4].duration, "3s");
    assert_int_equal(c->n_stream_processors, 2);
    const struct config_stream_processor *gz = &c->stream_processors[0];
    assert_string_equal(gz->id, "io.containerd.ocicrypt.decoder.v1.tar.gzip");
    assert_string_equal(gz->accepts.items[0],
                        "application/vnd.oci.image.layer.v1.tar+gzip+encrypted");
    assert_string_equal(gz->returns, "application/vnd.oci.image.layer.v1.tar+gzip");
    assert_string_equal(gz->path, "ctd-decoder");
    assert_int_equal(gz->args.count, 2);
    assert_string_equal(gz->env.items[0], "OCICRYPT_KEYPROVIDER_CONFIG="
                                          "/etc/containerd/ocicrypt/ocicrypt_keyprovider.conf");
    assert_int_equal(config_validate(c, NULL), 0);
    assert_null(config_free(NULL));
}

static void expect_invalid(struct berth_config *c, const char *message_part)
{
    struct berth_error *err = NULL;
    assert_int_equal(config_validate(c, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    if (!strstr(err->message, message_part))
        fail_msg("\"%s\" lacks \"%s\"", err->message, message_part);
    err_free(err);
}

static void replace(char **field, const char *value)
{
    free(*field);
    *field = xstrdup(value);
}

static void test_validate(void **state)
{
    struct berth_config *c = config_new_default();
    replace(&c->state, c->root);
    expect_invalid(c, "root and state must be different paths");
    replace(&c->state, "");
    expect_invalid(c, "state must be specified");
    replace(&c->root, "");
    expect_invalid(c, "root must be specified");
    config_free(c);

    c = config_new_default();
    config_strings_append(&c->disabled_plugins, "io.containerd.grpc.v1.cri");
    config_strings_append(&c->disabled_plugins, "cri");
    expect_invalid(c, "invalid disabled plugin URI \"cri\" expect io.containerd.x.vx");
    config_strings_clear(&c->disabled_plugins);
    config_strings_append(&c->required_plugins, "aufs");
    expect_invalid(c, "invalid required plugin URI \"aufs\"");
    config_strings_clear(&c->required_plugins);

    replace(&c->grpc.address, "");
    expect_invalid(c, "grpc address cannot be empty");
    replace(&c->grpc.address, "/run/x.sock");
    c->grpc.max_recv_message_size = 0;
    expect_invalid(c, "must be positive");
    c->grpc.max_recv_message_size = 1;
    c->oom_score = -1001;
    expect_invalid(c, "oom_score -1001 is out of range");
    c->oom_score = -999;
    replace(&c->timeouts[2].duration, "5 seconds");
    expect_invalid(c, "unable to parse 5 seconds into a time duration");
    replace(&c->timeouts[2].duration, "1m30s");
    replace(&c->debug.level, "loud");
    expect_invalid(c, "not a valid log level");
    replace(&c->debug.level, "warning");
    replace(&c->debug.format, "xml");
    expect_invalid(c, "unknown log format");
    replace(&c->debug.format, "json");
    c->version = 4;
    expect_invalid(c, "got `4`");
    c->version = 2;
    assert_int_equal(config_validate(c, NULL), 0);
    config_free(c);
}

static void test_durations(void **state)
{
    static const struct {
        const char *text;
        int64_t ns;
    } good[] = {
        {"0", 0},
        {"0s", 0},
        {"5s", 5000000000},
        {"-1.5h", -5400000000000},
        {"+300ms", 300000000},
        {"1h2m3.5s", 3723500000000},
        {"4h0m0s", 14400000000000},
        {"1.0000000009s", 1000000000},
        {"10us", 10000},
        {"10\xc2\xb5s", 10000},
        {"10\xce\xbcs", 10000},
        {".5s", 500000000},
        {"1.s", 1000000000},
        {"2562047h47m16.854775807s", INT64_MAX},
        {"-2562047h47m16.854775808s", INT64_MIN},
    };
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        int64_t ns = 42;
        if (config_parse_duration(good[i].text, &ns) < 0)
            fail_msg("%s rejected", good[i].text);
        assert_int_equal(ns, good[i].ns);
    }
    static const char *const bad[] = {
        "",
        "-",
        "s",
        "5",
        "1.5",
        "5 s",
        "5sec",
        "1d",
        ".s",
        "3000000h",
        "2562047h47m16.854775808s",
        "1h-1m",
        "++1s",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        int64_t ns = 42;
        if (config_parse_duration(bad[i], &ns) == 0)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_int_equal(ns, 42);
    }
}

static void test_path_clean(void **state)
{
    static const char *const cases[][2] = {
        {"", "."},
        {"/", "/"},
        {"abc", "abc"},
        {"a//b/./c/", "a/b/c"},
        {"/../a", "/a"},
        {"a/../..", ".."},
        {"../../x/../y", "../../y"},
        {"/a/b/../../..", "/"},
        {"./", "."},
        {"a/b/../c", "a/c"},
        {"//a//", "/a"},
        {"..a/.b", "..a/.b"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *p = config_path_clean(cases[i][0]);
        if (strcmp(p, cases[i][1]) != 0)
            fail_msg("clean(\"%s\") = \"%s\", want \"%s\"", cases[i][0], p, cases[i][1]);
    }
}

static void test_resolve_and_disabled(void **state)
{
    _cleanup_config_ struct berth_config *c = config_new_default();
    c->grpc.uid = 5;
    config_resolve(c);
    assert_string_equal(c->ttrpc.address, "/run/berth/berth.sock.ttrpc");
    assert_int_equal(c->ttrpc.uid, 5);
    replace(&c->ttrpc.address, "/x.ttrpc");
    config_resolve(c);
    assert_string_equal(c->ttrpc.address, "/x.ttrpc");

    config_strings_append(&c->disabled_plugins, "io.containerd.snapshotter.v1.zfs");
    assert_true(config_plugin_disabled(c, "io.containerd.snapshotter.v1", "zfs"));
    assert_false(config_plugin_disabled(c, "io.containerd.snapshotter.v1", "btrfs"));
}

static void test_to_toml_defaults(void **state)
{
    _cleanup_config_ struct berth_config *c = config_new_default();
    _cleanup_free_ char *text = config_to_toml(c, NULL);
    _cleanup_toml_ struct toml_value *t = parse_text(text);
    int64_t v;
    assert_true(toml_as_int(toml_table_get(t, "version"), &v));
    assert_int_equal(v, 3);
    static const char *const sections[] = {"grpc",     "ttrpc",         "debug",
                                           "metrics",  "cgroup",        "plugins",
                                           "timeouts", "proxy_plugins", "stream_processors"};
    for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
        if (!toml_is_table(toml_table_get(t, sections[i])))
            fail_msg("no [%s] in\n%s", sections[i], text);
    for (const char *const *k =
             (const char *const[]){"root", "state", "temp", "plugin_dir", "disabled_plugins",
                                   "required_plugins", "oom_score", "imports", NULL};
         *k; k++)
        assert_non_null(toml_table_get(t, *k));
    assert_string_equal(toml_as_string(toml_get_dotted(t, "grpc.address")),
                        "/run/berth/berth.sock");
    assert_string_equal(
        toml_as_string(toml_get_dotted(t, "timeouts.\"io.containerd.timeout.shim.load\"")), "5s");
    assert_string_equal(toml_as_string(toml_get_dotted(
                            t, "stream_processors.\"io.containerd.ocicrypt.decoder.v1.tar\".path")),
                        "ctd-decoder");
}

/* Loading what config_to_toml wrote gives the same config back. */
static void test_to_toml_round_trip(void **state)
{
    _cleanup_free_ char *path = testdata_path("v2.toml");
    struct berth_config *c = NULL;
    struct berth_error *err = NULL;
    struct log_capture cap;
    capture_logs(&cap);
    assert_int_equal(config_load(path, true, &c, &err), 0);
    capture_logs_end(&cap);
    free(cap.data);
    _cleanup_free_ char *text = config_to_toml(c, NULL);

    _cleanup_free_ char *dir = make_temp_dir();
    _cleanup_free_ char *copy = write_file(dir, "dump.toml", text);
    struct berth_config *again = NULL;
    capture_logs(&cap);
    assert_int_equal(config_load(copy, true, &again, &err), 0);
    capture_logs_end(&cap);
    /* a version 3 file: no migration, no unknown keys */
    assert_int_equal(count_substr(cap.data, "migrated"), 0);
    assert_int_equal(count_substr(cap.data, "unknown key"), 0);
    free(cap.data);
    _cleanup_free_ char *text2 = config_to_toml(again, NULL);
    assert_string_equal(text, text2);
    /* defaults merged with the file: timeouts from both, processors from both */
    assert_int_equal(again->n_timeouts, 6);
    assert_int_equal(again->n_stream_processors, 3);
    assert_string_equal(again->debug.format, "json");
    config_free(c);
    config_free(again);
    remove_tree(dir);
    deprecation_reset();
}

static struct toml_value *alpha_defaults(void)
{
    struct toml_value *t = toml_table_new();
    toml_table_set(t, "size", toml_int_new(10));
    toml_table_set(t, "name", toml_string_new("alpha"));
    return t;
}

static struct toml_value *beta_defaults(void)
{
    struct toml_value *t = toml_table_new();
    toml_table_set(t, "enabled", toml_bool_new(true));
    return t;
}

static void test_to_toml_plugin_defaults(void **state)
{
    static const struct plugin_registration alpha = {
        .type = "io.berth.test.v1", .id = "alpha", .default_config = alpha_defaults};
    static const struct plugin_registration beta = {
        .type = "io.berth.test.v1", .id = "beta", .default_config = beta_defaults};
    static const struct plugin_registration gamma = {.type = "io.berth.test.v1", .id = "gamma"};
    struct plugin_set *set = plugin_set_new();
    plugin_set_register(set, &alpha);
    plugin_set_register(set, &beta);
    plugin_set_register(set, &gamma);

    _cleanup_config_ struct berth_config *c = config_new_default();
    struct toml_value *section = toml_table_ensure_table(c->plugins, "io.berth.test.v1.alpha");
    toml_table_set(section, "size", toml_int_new(20));
    toml_table_set(section, "extra", toml_string_new("kept"));
    toml_table_ensure_table(c->plugins, "io.berth.other.v1.unregistered");
    config_strings_append(&c->disabled_plugins, "io.berth.test.v1.beta");

    _cleanup_free_ char *text = config_to_toml(c, set);
    _cleanup_toml_ struct toml_value *t = parse_text(text);
    _cleanup_toml_ struct toml_value *want =
        parse_text("['io.berth.other.v1.unregistered']\n"
                   "['io.berth.test.v1.alpha']\nsize = 20\nname = 'alpha'\nextra = 'kept'\n");
    assert_trees_equal(toml_table_get(t, "plugins"), want);
    /* written in key order */
    assert_string_equal(toml_table_key_at(toml_table_get(t, "plugins"), 0, NULL),
                        "io.berth.other.v1.unregistered");

    /* not disabled: beta's defaults appear; the config itself is untouched */
    config_strings_clear(&c->disabled_plugins);
    _cleanup_free_ char *text2 = config_to_toml(c, set);
    _cleanup_toml_ struct toml_value *t2 = parse_text(text2);
    int64_t size;
    assert_true(toml_as_int(toml_get_dotted(t2, "plugins.'io.berth.test.v1.alpha'.size"), &size));
    assert_int_equal(size, 20);
    bool enabled = false;
    assert_true(
        toml_as_bool(toml_get_dotted(t2, "plugins.'io.berth.test.v1.beta'.enabled"), &enabled));
    assert_true(enabled);
    assert_null(toml_table_get(c->plugins, "io.berth.test.v1.beta"));
    plugin_set_free(set);
}

static const struct CMUnitTest config_tests[] = {
    cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_validate),
    cmocka_unit_test(test_durations),
    cmocka_unit_test(test_path_clean),
    cmocka_unit_test(test_resolve_and_disabled),
    cmocka_unit_test(test_to_toml_defaults),
    cmocka_unit_test(test_to_toml_round_trip),
    cmocka_unit_test(test_to_toml_plugin_defaults),
};

int main(void)
{
    int failed = cmocka_run_group_tests_name("config", config_tests, NULL, NULL);
    failed += _cmocka_run_group_tests("config_migrate", migrate_tests, n_migrate_tests, NULL, NULL);
    failed += _cmocka_run_group_tests("config_load", load_tests, n_load_tests, NULL, NULL);
    return failed;
}
