/* Unit tests for config_migrate_tree: testdata files per version, and each migration rule. */
#include "core/config/config-internal.h"
#include "core/deprecation/deprecation.h"
#include "lib/base/alloc.h"
#include "lib/toml/toml.h"
#include "test_config_helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/* Migrates text (or fails the test) and returns the tree. */
static struct toml_value *migrate_text(const char *text, int *ret_from)
{
    struct toml_value *root = parse_text(text);
    struct berth_error *err = NULL;
    if (config_migrate_tree(root, "test.toml", ret_from, &err) < 0)
        fail_msg("migrate: %s", err->message);
    return root;
}

static void check_testdata(const char *name, int want_from)
{
    _cleanup_free_ char *in_path = testdata_path(name);
    _cleanup_free_ char *want_name = xstrdup(name);
    *strrchr(want_name, '.') = '\0';
    _cleanup_free_ char *want_path_name = xasprintf("%s.expected.toml", want_name);
    _cleanup_free_ char *want_path = testdata_path(want_path_name);

    _cleanup_toml_ struct toml_value *tree = parse_path(in_path);
    _cleanup_toml_ struct toml_value *want = parse_path(want_path);
    struct berth_error *err = NULL;
    int from = -1;
    assert_int_equal(config_migrate_tree(tree, in_path, &from, &err), 0);
    assert_int_equal(from, want_from);
    assert_trees_equal(tree, want);

    /* migrating the result again changes nothing */
    assert_int_equal(config_migrate_tree(tree, in_path, &from, &err), 0);
    assert_int_equal(from, 3);
    assert_trees_equal(tree, want);

    /* and the writer's text of it reads back the same */
    _cleanup_free_ char *text = toml_write(tree);
    _cleanup_toml_ struct toml_value *reread = parse_text(text);
    assert_trees_equal(reread, want);
}

static void test_testdata_v1(void **state)
{
    struct log_capture cap;
    capture_logs(&cap);
    check_testdata("v1.toml", 1);
    capture_logs_end(&cap);
    assert_int_equal(count_substr(cap.data, "Ambiguous"), 0);
    free(cap.data);
}

static void test_testdata_v2(void **state)
{
    check_testdata("v2.toml", 2);
}

static void test_testdata_v3(void **state)
{
    check_testdata("v3.toml", 3);
}

/* The deprecation IDs each testdata file records when loaded. */
static void check_deprecations(const char *name, const char *const *want, size_t n_want)
{
    deprecation_reset();
    _cleanup_free_ char *path = testdata_path(name);
    struct berth_config *c = NULL;
    struct berth_error *err = NULL;
    struct log_capture cap;
    capture_logs(&cap);
    int r = config_load(path, true, &c, &err);
    capture_logs_end(&cap);
    if (r < 0)
        fail_msg("load %s: %s", name, err->message);
    assert_int_equal(c->deprecations.count, n_want);
    for (size_t i = 0; i < n_want; i++) {
        if (!config_strings_contains(&c->deprecations, want[i]))
            fail_msg("%s: %s not recorded", name, want[i]);
        /* each logged with its message */
        assert_int_equal(count_substr(cap.data, want[i]), 1);
    }
    struct deprecation_warning *list = NULL;
    assert_int_equal(deprecation_list(&list), n_want);
    free(list);
    free(cap.data);
    config_free(c);
}

static void test_testdata_deprecations(void **state)
{
    check_deprecations("v1.toml", (const char *const[]){DEPRECATION_CRI_REGISTRY_MIRRORS}, 1);
    check_deprecations("v2.toml",
                       (const char *const[]){
                           DEPRECATION_CRI_REGISTRY_MIRRORS,
                           DEPRECATION_CRI_REGISTRY_CONFIGS,
                           DEPRECATION_TRACING_PROCESSOR_CONFIG,
                           DEPRECATION_TRACING_SERVICE_CONFIG,
                       },
                       4);
    check_deprecations("v3.toml",
                       (const char *const[]){
                           DEPRECATION_GO_PLUGIN_LIBRARY,
                           DEPRECATION_CRI_REGISTRY_AUTHS,
                       },
                       2);
    deprecation_reset();
}

static void test_removed_properties_warn(void **state)
{
    _cleanup_free_ char *path = testdata_path("v1.toml");
    struct berth_config *c = NULL;
    struct berth_error *err = NULL;
    struct log_capture cap;
    capture_logs(&cap);
    assert_int_equal(config_load(path, true, &c, &err), 0);
    capture_logs_end(&cap);
    assert_int_equal(count_substr(cap.data, "removed in containerd v2.0"), 1);
    assert_non_null(strstr(cap.data, "key=systemd_cgroup"));
    assert_non_null(strstr(cap.data, "Configuration migrated from version 1"));
    free(cap.data);
    config_free(c);
    deprecation_reset();
}

static void test_v1_names(void **state)
{
    struct log_capture cap;
    capture_logs(&cap);
    int from = -1;
    _cleanup_toml_ struct toml_value *t =
        migrate_text("disabled_plugins = ['cri', 'walking-service', 'io.containerd.x.v1.y']\n"
                     "required_plugins = ['bolt', 'windows-lcow', 'stargz']\n"
                     "[plugins.linux]\n"
                     "shim_debug = true\n"
                     "[plugins.windows]\n"
                     "[plugins.stargz]\n"
                     "x = 1\n"
                     "[plugins.\"io.containerd.gc.v1.scheduler\"]\n"
                     "pause_threshold = 0.5\n",
                     &from);
    capture_logs_end(&cap);
    assert_int_equal(from, 1);
    _cleanup_toml_ struct toml_value *want =
        parse_text("version = 3\n"
                   "disabled_plugins = ['io.containerd.grpc.v1.cri', "
                   "'io.containerd.service.v1.walking-service', 'io.containerd.x.v1.y']\n"
                   "required_plugins = ['io.containerd.metadata.v1.bolt', "
                   "'io.containerd.snapshotter.v1.windows-lcow', 'io.containerd.grpc.v1.stargz']\n"
                   "[plugins.'io.containerd.runtime.v1.linux']\n"
                   "shim_debug = true\n"
                   "[plugins.'io.containerd.snapshotter.v1.windows']\n"
                   "[plugins.'io.containerd.grpc.v1.stargz']\n"
                   "x = 1\n"
                   "[plugins.'io.containerd.gc.v1.scheduler']\n"
                   "pause_threshold = 0.5\n");
    assert_trees_equal(t, want);
    /* windows, windows-lcow and stargz (twice) are ambiguous */
    assert_int_equal(count_substr(cap.data, "Ambiguous"), 4);
    assert_non_null(strstr(cap.data, "Ambiguous stargz plugin in v1 config, treating as "
                                     "io.containerd.grpc.v1.stargz"));
    free(cap.data);

    /* version 0 is read as 1; version is set to 3 as the first key */
    _cleanup_toml_ struct toml_value *zero = migrate_text("version = 0\n[plugins.cri]\n", &from);
    assert_int_equal(from, 0);
    assert_string_equal(toml_table_key_at(zero, 0, NULL), "version");
    assert_null(toml_get_path(zero, "plugins", "cri", NULL));
}

/* containerd's TestLoadConfigWithDefaultConfigVersion: Docker's own config.toml. */
static void test_v1_docker_disables_cri(void **state)
{
    _cleanup_toml_ struct toml_value *t = migrate_text("disabled_plugins = [\"cri\"]\n", NULL);
    _cleanup_toml_ struct toml_value *want =
        parse_text("version = 3\ndisabled_plugins = ['io.containerd.grpc.v1.cri']\n");
    assert_trees_equal(t, want);
}

/* Quirk 8.3: a v1 file gets the v2 -> v3 plugin migrations too, CRI split included. */
static void test_v1_gets_v3_migrations(void **state)
{
    _cleanup_toml_ struct toml_value *t = migrate_text("[plugins.cri]\n"
                                                       "sandbox_image = 'k8s.gcr.io/pause:3.2'\n"
                                                       "[plugins.cri.containerd.runtimes.runc]\n"
                                                       "runtime_type = 'io.containerd.runc.v2'\n"
                                                       "[plugins.cgroups]\n"
                                                       "no_prometheus = true\n",
                                                       NULL);
    _cleanup_toml_ struct toml_value *want =
        parse_text("version = 3\n"
                   "[plugins.'io.containerd.cri.v1.images'.pinned_images]\n"
                   "sandbox = 'k8s.gcr.io/pause:3.2'\n"
                   "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]\n"
                   "runtime_type = 'io.containerd.runc.v2'\n"
                   "[plugins.'io.containerd.monitor.task.v1.cgroups']\n"
                   "no_prometheus = true\n");
    assert_trees_equal(t, want);
}

/* Quirk 8.2: the CRI server keeps its stream settings; with none, its section goes. */
static void test_cri_server_keys(void **state)
{
    _cleanup_toml_ struct toml_value *t =
        migrate_text("version = 2\n"
                     "[plugins.'io.containerd.grpc.v1.cri']\n"
                     "stream_server_port = '10010'\n"
                     "stream_idle_timeout = '1h'\n"
                     "enable_tls_streaming = true\n"
                     "[plugins.'io.containerd.grpc.v1.cri'.x509_key_pair_streaming]\n"
                     "tls_cert_file = '/etc/cert.pem'\n",
                     NULL);
    _cleanup_toml_ struct toml_value *want =
        parse_text("version = 3\n"
                   "[plugins.'io.containerd.grpc.v1.cri']\n"
                   "stream_server_port = '10010'\n"
                   "stream_idle_timeout = '1h'\n"
                   "enable_tls_streaming = true\n"
                   "[plugins.'io.containerd.grpc.v1.cri'.x509_key_pair_streaming]\n"
                   "tls_cert_file = '/etc/cert.pem'\n");
    assert_trees_equal(t, want);

    _cleanup_toml_ struct toml_value *only_images =
        migrate_text("version = 2\n[plugins.'io.containerd.grpc.v1.cri'.registry]\n"
                     "config_path = '/etc/containerd/certs.d'\n",
                     NULL);
    _cleanup_toml_ struct toml_value *want_images =
        parse_text("version = 3\n[plugins.'io.containerd.cri.v1.images'.registry]\n"
                   "config_path = '/etc/containerd/certs.d'\n");
    assert_trees_equal(only_images, want_images);
}

/*
 * Quirk 8.4: a runtime's snapshotter goes to runtime_platforms.<runtime>.snapshotter (not
 * runtime_platform, not from a `snapshot` key); the image service's own keys move even without a
 * runtimes table; sandbox_mode becomes sandboxer unless one is set.
 */
static void test_cri_runtime_snapshotter_and_sandboxer(void **state)
{
    _cleanup_toml_ struct toml_value *t =
        migrate_text("version = 2\n"
                     "[plugins.'io.containerd.grpc.v1.cri'.containerd]\n"
                     "snapshotter = 'overlayfs'\n"
                     "[plugins.'io.containerd.grpc.v1.cri'.containerd.runtimes.kata]\n"
                     "snapshotter = 'devmapper'\n"
                     "sandbox_mode = 'shim'\n"
                     "[plugins.'io.containerd.grpc.v1.cri'.containerd.runtimes.gvisor]\n"
                     "snapshotter = ''\n"
                     "sandbox_mode = 'shim'\n"
                     "sandboxer = 'podsandbox'\n",
                     NULL);
    _cleanup_toml_ struct toml_value *want =
        parse_text("version = 3\n"
                   "[plugins.'io.containerd.cri.v1.images']\n"
                   "snapshotter = 'overlayfs'\n"
                   "runtime_platforms.kata.snapshotter = 'devmapper'\n"
                   "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.kata]\n"
                   "snapshotter = 'devmapper'\n"
                   "sandboxer = 'shim'\n"
                   "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.gvisor]\n"
                   "snapshotter = ''\n"
                   "sandboxer = 'podsandbox'\n");
    assert_trees_equal(t, want);

    _cleanup_toml_ struct toml_value *no_runtimes =
        migrate_text("version = 2\n"
                     "[plugins.'io.containerd.grpc.v1.cri'.containerd]\n"
                     "snapshotter = 'native'\n"
                     "discard_unpacked_layers = true\n",
                     NULL);
    _cleanup_toml_ struct toml_value *want_images =
        parse_text("version = 3\n"
                   "[plugins.'io.containerd.cri.v1.images']\n"
                   "snapshotter = 'native'\n"
                   "discard_unpacked_layers = true\n");
    assert_trees_equal(no_runtimes, want_images);

    /* a v3 section already present is merged into, not replaced */
    _cleanup_toml_ struct toml_value *merged =
        migrate_text("version = 2\n"
                     "[plugins.'io.containerd.grpc.v1.cri']\n"
                     "sandbox_image = 'pause:1'\n"
                     "enable_cdi = true\n"
                     "[plugins.'io.containerd.cri.v1.images'.pinned_images]\n"
                     "base = 'busybox:latest'\n"
                     "[plugins.'io.containerd.cri.v1.runtime']\n"
                     "enable_selinux = true\n",
                     NULL);
    _cleanup_toml_ struct toml_value *want_merged =
        parse_text("version = 3\n"
                   "[plugins.'io.containerd.cri.v1.images'.pinned_images]\n"
                   "base = 'busybox:latest'\n"
                   "sandbox = 'pause:1'\n"
                   "[plugins.'io.containerd.cri.v1.runtime']\n"
                   "enable_selinux = true\n"
                   "enable_cdi = true\n");
    assert_trees_equal(merged, want_merged);
}

static void test_sched_core_and_renames(void **state)
{
    _cleanup_toml_ struct toml_value *t =
        migrate_text("version = 2\n"
                     "disabled_plugins = ['io.containerd.monitor.v1.cgroups']\n"
                     "[plugins.'io.containerd.runtime.v2.task']\n"
                     "sched_core = true\n"
                     "platforms = ['linux/arm64']\n"
                     "[plugins.'io.containerd.shim.v1.manager']\n"
                     "env = ['A=1', 'SCHED_CORE=1']\n"
                     "[plugins.'io.containerd.internal.v1.restart']\n"
                     "interval = '5s'\n",
                     NULL);
    _cleanup_toml_ struct toml_value *want =
        parse_text("version = 3\n"
                   "disabled_plugins = ['io.containerd.monitor.task.v1.cgroups']\n"
                   "[plugins.'io.containerd.runtime.v2.task']\n"
                   "platforms = ['linux/arm64']\n"
                   "[plugins.'io.containerd.shim.v1.manager']\n"
                   "env = ['A=1', 'SCHED_CORE=1']\n"
                   "[plugins.'io.containerd.monitor.container.v1.restart']\n"
                   "interval = '5s'\n");
    assert_trees_equal(t, want);

    struct log_capture cap;
    capture_logs(&cap);
    _cleanup_toml_ struct toml_value *odd = migrate_text(
        "version = 2\n[plugins.'io.containerd.runtime.v2.task']\nsched_core = 'yes'\n", NULL);
    capture_logs_end(&cap);
    assert_non_null(strstr(cap.data, "non-boolean 'sched_core'"));
    free(cap.data);
    _cleanup_toml_ struct toml_value *want_odd =
        parse_text("version = 3\n[plugins.'io.containerd.runtime.v2.task']\n");
    assert_trees_equal(odd, want_odd);
}

static void expect_error(const char *text, const char *message_part)
{
    _cleanup_toml_ struct toml_value *root = parse_text(text);
    struct berth_error *err = NULL;
    assert_int_equal(config_migrate_tree(root, "bad.toml", NULL, &err), -1);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    if (!strstr(err->message, message_part))
        fail_msg("error \"%s\" lacks \"%s\"", err->message, message_part);
    assert_non_null(strstr(err->message, "bad.toml"));
    err_free(err);
}

static void test_errors(void **state)
{
    expect_error("version = 4\n", "expected config version equal to or less than `3`, got `4`");
    expect_error("version = -1\n", "invalid config version");
    expect_error("version = '2'\n", "version must be an integer, got string");
    expect_error("plugins = 1\n", "plugins must be a table");
    expect_error("disabled_plugins = 'cri'\n", "disabled_plugins must be an array of strings");
    expect_error("required_plugins = [1]\n", "required_plugins must be an array of strings");
    expect_error("version = 2\nplugins.'io.containerd.grpc.v1.cri' = 'x'\n",
                 "plugins.\"io.containerd.grpc.v1.cri\" must be a table");
    expect_error("version = 2\n[plugins.'io.containerd.grpc.v1.cri'.containerd]\nruntimes = 3\n",
                 "containerd.runtimes must be a table");
    expect_error("version = 2\n[plugins.'io.containerd.grpc.v1.cri'.containerd.runtimes]\n"
                 "runc = 'io.containerd.runc.v2'\n",
                 "containerd.runtimes.runc must be a table");
    /* v3 files are not walked: their plugin sections are the plugins' business */
    _cleanup_toml_ struct toml_value *v3 =
        migrate_text("version = 3\nplugins.'io.containerd.grpc.v1.cri' = 'x'\n", NULL);
}

const struct CMUnitTest migrate_tests[] = {
    cmocka_unit_test(test_testdata_v1),
    cmocka_unit_test(test_testdata_v2),
    cmocka_unit_test(test_testdata_v3),
    cmocka_unit_test(test_testdata_deprecations),
    cmocka_unit_test(test_removed_properties_warn),
    cmocka_unit_test(test_v1_names),
    cmocka_unit_test(test_v1_docker_disables_cri),
    cmocka_unit_test(test_v1_gets_v3_migrations),
    cmocka_unit_test(test_cri_server_keys),
    cmocka_unit_test(test_cri_runtime_snapshotter_and_sandboxer),
    cmocka_unit_test(test_sched_core_and_renames),
    cmocka_unit_test(test_errors),
};
const size_t n_migrate_tests = sizeof(migrate_tests) / sizeof(migrate_tests[0]);
