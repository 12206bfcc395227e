/* Unit tests for config_load: errors, unknown keys, imports and containerd's merge rules. */
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

static struct berth_config *load_ok(const char *path)
{
    struct berth_config *c = NULL;
    struct berth_error *err = NULL;
    if (config_load(path, true, &c, &err) < 0)
        fail_msg("load %s: %s", path, err->message);
    return c;
}

static struct berth_error *load_error(const char *path, bool explicit_path)
{
    struct berth_config *c = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(config_load(path, explicit_path, &c, &err), -1);
    assert_null(c);
    assert_non_null(err);
    return err;
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* ---- missing files and errors ---- */

static void test_missing_files(void **state)
{
    struct berth_config *c = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(config_load("/nonexistent/berth/config.toml", false, &c, &err), 0);
    assert_string_equal(c->root, CONFIG_DEFAULT_ROOT);
    assert_int_equal(c->version, 3);
    config_free(c);

    err = load_error("/nonexistent/berth/config.toml", true);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    assert_contains(err->message, "/nonexistent/berth/config.toml");
    err_free(err);
}

static void test_malformed(void **state)
{
    _cleanup_free_ char *path = testdata_path("malformed.toml");
    struct berth_error *err = load_error(path, true);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    _cleanup_free_ char *where = xasprintf("%s:6:", path);
    assert_contains(err->message, where);
    err_free(err);
}

static void test_version_4(void **state)
{
    _cleanup_free_ char *path = testdata_path("version4.toml");
    struct berth_error *err = load_error(path, true);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    assert_contains(err->message, path);
    assert_contains(err->message, "got `4`");
    err_free(err);
}

static void test_wrong_types(void **state)
{
    _cleanup_free_ char *path = testdata_path("wrong-type.toml");
    struct berth_error *err = load_error(path, true);
    assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
    _cleanup_free_ char *want = xasprintf("%s: grpc.uid must be an integer, got string", path);
    assert_contains(err->message, want);
    err_free(err);

    static const struct {
        const char *text, *message;
    } cases[] = {
        {"root = 1\n", "root must be a string, got integer"},
        {"oom_score = 1.5\n", "oom_score must be an integer, got float"},
        {"[metrics]\ngrpc_histogram = 'yes'\n", "metrics.grpc_histogram must be a boolean"},
        {"grpc = 'x'\n", "grpc must be a table"},
        {"imports = ['a', 2]\n", "imports must be an array of strings"},
        {"[timeouts]\n'io.containerd.timeout.shim.load' = 5\n",
         "timeouts.\"io.containerd.timeout.shim.load\" must be a string"},
        {"[proxy_plugins.x]\ncapabilities = 'remap-ids'\n",
         "proxy_plugins.x.capabilities must be an array of strings"},
        {"[proxy_plugins.x.exports]\nroot = false\n",
         "proxy_plugins.x.exports.root must be a string"},
        {"[stream_processors.'io.x']\npath = ['a']\n",
         "stream_processors.\"io.x\".path must be a string"},
        {"plugins.x = 3\n", "plugins.x must be a table"},
        {"[debug]\nuid = 2020-01-01\n", "debug.uid must be an integer, got local date"},
    };
    _cleanup_free_ char *dir = make_temp_dir();
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        _cleanup_free_ char *text = xasprintf("version = 3\n%s", cases[i].text);
        _cleanup_free_ char *file = write_file(dir, "config.toml", text);
        err = load_error(file, true);
        assert_int_equal(err->kind, ERR_INVALID_ARGUMENT);
        assert_contains(err->message, cases[i].message);
        assert_contains(err->message, file);
        err_free(err);
    }
    remove_tree(dir);
}

static void test_unknown_keys_warn(void **state)
{
    _cleanup_free_ char *path = testdata_path("unknown-keys.toml");
    struct log_capture cap;
    capture_logs(&cap);
    struct berth_config *c = load_ok(path);
    capture_logs_end(&cap);
    /* known keys still apply */
    assert_string_equal(c->root, "/var/lib/berth-unknown");
    assert_string_equal(c->grpc.address, "/run/berth-unknown.sock");
    assert_true(c->metrics.grpc_histogram);
    assert_int_equal(c->n_proxy_plugins, 1);
    assert_string_equal(c->proxy_plugins[0].address, "/run/fast.sock");
    assert_int_equal(count_substr(cap.data, "msg=\"Ignoring unknown key in TOML\""), 5);
    assert_contains(cap.data, "key=subreaper");
    assert_contains(cap.data, "key=grpc.max_connections");
    assert_contains(cap.data, "key=metrics.scrape_interval");
    assert_contains(cap.data, "key=proxy_plugins.fast.secret_sauce");
    assert_contains(cap.data, "key=\"stream_processors.\\\"io.example.unzstd\\\".priority\"");
    _cleanup_free_ char *file_field = xasprintf("file=%s", path);
    assert_contains(cap.data, file_field);
    free(cap.data);
    config_free(c);
}

/* ---- imports ---- */

static void test_imports_glob_relative_breadth_first(void **state)
{
    _cleanup_free_ char *dir = make_temp_dir();
    _cleanup_free_ char *main_path = write_file(
        dir, "main.toml", "version = 3\nroot = '/main'\nimports = ['conf.d/*.toml', 'b.toml']\n");
    /* conf.d files apply in name order, and their imports are relative to conf.d */
    free(write_file(dir, "conf.d/20-second.toml",
                    "version = 3\nstate = '/state-20'\nrequired_plugins = ['io.x.v1.b']\n"));
    free(write_file(dir, "conf.d/10-first.toml",
                    "version = 3\nstate = '/state-10'\nrequired_plugins = ['io.x.v1.a']\n"
                    "imports = ['nested/deep.toml']\n"));
    free(write_file(dir, "conf.d/nested/deep.toml", "version = 3\nroot = '/deep'\n"));
    free(write_file(dir, "conf.d/skip.conf", "this is not TOML ["));
    free(write_file(dir, "b.toml", "version = 3\nroot = '/b'\ntemp = '/tmp/b'\n"));

    struct berth_config *c = load_ok(main_path);
    /* breadth-first: main, 10-first, 20-second, b, then deep (imported one level down) */
    assert_string_equal(c->root, "/deep");
    assert_string_equal(c->state, "/state-20");
    assert_string_equal(c->temp, "/tmp/b");
    assert_int_equal(c->required_plugins.count, 2);
    assert_string_equal(c->required_plugins.items[0], "io.x.v1.a");
    assert_string_equal(c->required_plugins.items[1], "io.x.v1.b");
    /* imports as written, appended */
    assert_int_equal(c->imports.count, 3);
    assert_string_equal(c->imports.items[2], "nested/deep.toml");
    config_free(c);
    remove_tree(dir);
}

static void test_imports_once_each(void **state)
{
    _cleanup_free_ char *dir = make_temp_dir();
    /* containerd's TestLoadConfigWithCircularImports */
    _cleanup_free_ char *data1 = write_file(dir, "data1.toml",
                                            "version = 2\nroot = '/var/lib/containerd'\n"
                                            "imports = ['data2.toml', 'data1.toml']\n");
    free(write_file(dir, "data2.toml",
                    "disabled_plugins = ['io.containerd.v1.xyz']\n"
                    "imports = ['data1.toml', './data2.toml']\n"));
    /* a diamond: c is reached twice, loaded once (each load of a v2 file logs a migration) */
    free(write_file(dir, "sub/c.toml", "version = 2\noom_score = 5\n"));
    free(write_file(dir, "sub/a.toml", "version = 3\nimports = ['c.toml']\n"));
    free(write_file(dir, "sub/b.toml", "version = 3\nimports = ['../sub/c.toml', 'c.toml']\n"));
    _cleanup_free_ char *top = write_file(
        dir, "top.toml", "version = 3\nimports = ['sub/a.toml', 'sub//b.toml', 'data1.toml']\n");

    struct log_capture cap;
    capture_logs(&cap);
    struct berth_config *c = load_ok(data1);
    capture_logs_end(&cap);
    assert_string_equal(c->root, "/var/lib/containerd");
    assert_int_equal(c->disabled_plugins.count, 1);
    assert_string_equal(c->disabled_plugins.items[0], "io.containerd.v1.xyz");
    assert_int_equal(count_substr(cap.data, "Configuration migrated from version"), 2);
    free(cap.data);
    config_free(c);

    capture_logs(&cap);
    c = load_ok(top);
    capture_logs_end(&cap);
    _cleanup_free_ char *c_path = xasprintf("%s/sub/c.toml", dir);
    _cleanup_free_ char *c_field = xasprintf("file=%s", c_path);
    assert_int_equal(count_substr(cap.data, c_field), 1);
    assert_int_equal(c->oom_score, 5);
    free(cap.data);
    config_free(c);
    remove_tree(dir);
}

static void test_imports_missing(void **state)
{
    _cleanup_free_ char *dir = make_temp_dir();
    _cleanup_free_ char *ok = write_file(dir, "ok.toml", "imports = ['none.d/*.toml']\n");
    struct berth_config *c = load_ok(ok); /* a glob without matches is fine */
    config_free(c);

    _cleanup_free_ char *bad = write_file(dir, "bad.toml", "imports = ['missing.toml']\n");
    struct berth_error *err = load_error(bad, false);
    assert_int_equal(err->kind, ERR_NOT_FOUND);
    _cleanup_free_ char *missing = xasprintf("%s/missing.toml", dir);
    assert_contains(err->message, missing);
    err_free(err);

    /* an error in an import names the import */
    free(write_file(dir, "broken.toml", "[grpc]\naddress = \n"));
    _cleanup_free_ char *top = write_file(dir, "top.toml", "imports = ['broken.toml']\n");
    err = load_error(top, true);
    _cleanup_free_ char *where = xasprintf("%s/broken.toml:2:", dir);
    assert_contains(err->message, where);
    err_free(err);
    remove_tree(dir);
}

static void test_resolve_imports(void **state)
{
    /* containerd's TestResolveImports */
    _cleanup_free_ char *dir = make_temp_dir();
    free(write_file(dir, "config_1.toml", ""));
    free(write_file(dir, "config_2.toml", ""));
    free(write_file(dir, "test.toml", ""));
    _cleanup_free_ char *parent = xasprintf("%s/root.toml", dir);
    _cleanup_free_ char *glob_abs = xasprintf("%s/config_*.toml", dir);
    _cleanup_free_ char *dot = xasprintf("%s/./test.toml", dir);
    struct config_strings in = {0}, out = {0};
    config_strings_append(&in, glob_abs);
    config_strings_append(&in, dot);
    config_strings_append(&in, "current.toml");
    config_strings_append(&in, "config_*.toml");
    struct berth_error *err = NULL;
    assert_int_equal(config_resolve_imports(parent, &in, &out, &err), 0);
    const char *want[] = {"config_1.toml", "config_2.toml", "test.toml",
                          "current.toml",  "config_1.toml", "config_2.toml"};
    assert_int_equal(out.count, ARRAY_SIZE(want));
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, want[i]);
        assert_string_equal(out.items[i], p);
    }
    config_strings_clear(&in);
    config_strings_clear(&out);

    /* relative to a relative parent */
    config_strings_append(&in, "../x.toml");
    assert_int_equal(config_resolve_imports("etc/berth/config.toml", &in, &out, &err), 0);
    assert_string_equal(out.items[0], "etc/x.toml");
    config_strings_clear(&in);
    config_strings_clear(&out);
    remove_tree(dir);
}

/* ---- merge rules (containerd's TestMergeConfigs and TestMergingPlugins*) ---- */

static struct berth_config *decode_text(const char *text)
{
    _cleanup_toml_ struct toml_value *root = parse_text(text);
    struct berth_error *err = NULL;
    assert_int_equal(config_migrate_tree(root, "t.toml", NULL, &err), 0);
    struct berth_config *c = config_new_empty();
    assert_int_equal(config_decode(root, "t.toml", c, &err), 0);
    return c;
}

static void test_merge_scalars_and_lists(void **state)
{
    struct berth_config *a =
        decode_text("version = 2\nroot = 'old_root'\nstate = 'old_state'\noom_score = 1\n"
                    "required_plugins = ['io.containerd.old_plugin.v1']\n"
                    "disabled_plugins = ['io.containerd.old_plugin.v1']\n"
                    "[grpc]\nuid = 7\naddress = '/a.sock'\n[metrics]\ngrpc_histogram = true\n");
    struct berth_config *b = decode_text(
        "version = 2\nroot = 'new_root'\noom_score = 2\n"
        "required_plugins = ['io.containerd.new_plugin1.v1', 'io.containerd.new_plugin2.v1']\n"
        "disabled_plugins = ['io.containerd.old_plugin.v1']\n"
        "[grpc]\nuid = 0\naddress = ''\n[metrics]\ngrpc_histogram = false\n");
    config_merge(a, b);
    assert_int_equal(a->version, 3);
    assert_string_equal(a->root, "new_root");   /* later non-empty wins */
    assert_string_equal(a->state, "old_state"); /* an empty value does not reset */
    assert_int_equal(a->oom_score, 2);
    assert_int_equal(a->grpc.uid, 7); /* 0 does not reset */
    assert_string_equal(a->grpc.address, "/a.sock");
    assert_true(a->metrics.grpc_histogram); /* false does not reset */
    assert_int_equal(a->required_plugins.count, 3);
    assert_string_equal(a->required_plugins.items[0], "io.containerd.old_plugin.v1");
    assert_string_equal(a->required_plugins.items[1], "io.containerd.new_plugin1.v1");
    assert_string_equal(a->required_plugins.items[2], "io.containerd.new_plugin2.v1");
    assert_int_equal(a->disabled_plugins.count, 1);
    config_free(a);
    config_free(b);

    a = decode_text("version = 2\noom_score = 1\n");
    b = decode_text("version = 2\noom_score = 0\n");
    config_merge(a, b);
    assert_int_equal(a->oom_score, 1);
    config_free(a);
    config_free(b);
}

static void test_merge_maps_replace_entries(void **state)
{
    struct berth_config *a = decode_text(
        "version = 2\n[timeouts]\na = '1'\n"
        "[stream_processors.'1']\npath = '2'\nreturns = '4'\n"
        "[stream_processors.'2']\npath = '5'\n"
        "[proxy_plugins.p]\ntype = 'snapshot'\naddress = '/p.sock'\ncapabilities = ['x']\n"
        "[proxy_plugins.q]\ntype = 'content'\naddress = '/q.sock'\n");
    struct berth_config *b = decode_text("version = 2\n[timeouts]\nb = '2'\n"
                                         "[stream_processors.'1']\npath = '3'\n"
                                         "[proxy_plugins.p]\naddress = '/p2.sock'\n");
    config_merge(a, b);
    assert_int_equal(a->n_timeouts, 2);
    assert_string_equal(a->timeouts[0].name, "a");
    assert_string_equal(a->timeouts[1].duration, "2");
    assert_int_equal(a->n_stream_processors, 2);
    /* entry '1' replaced whole: returns is gone */
    assert_string_equal(a->stream_processors[0].id, "1");
    assert_string_equal(a->stream_processors[0].path, "3");
    assert_string_equal(a->stream_processors[0].returns, "");
    assert_string_equal(a->stream_processors[1].path, "5");
    assert_int_equal(a->n_proxy_plugins, 2);
    assert_string_equal(a->proxy_plugins[0].address, "/p2.sock");
    assert_string_equal(a->proxy_plugins[0].type, "");
    assert_int_equal(a->proxy_plugins[0].capabilities.count, 0);
    assert_string_equal(a->proxy_plugins[1].address, "/q.sock");
    config_free(a);
    config_free(b);
}

/* Loads each text as its own file, merges them in order, returns the [plugins] tree. */
static struct toml_value *merged_plugins(const char *const *texts, size_t n)
{
    _cleanup_free_ char *dir = make_temp_dir();
    struct berth_config *result = NULL;
    for (size_t i = 0; i < n; i++) {
        _cleanup_free_ char *name = xasprintf("data%zu.toml", i + 1);
        _cleanup_free_ char *path = write_file(dir, name, texts[i]);
        struct berth_config *c = load_ok(path);
        if (!result) {
            result = c;
            continue;
        }
        config_merge(result, c);
        config_free(c);
    }
    remove_tree(dir);
    struct toml_value *plugins = toml_copy(result->plugins);
    config_free(result);
    return plugins;
}

static void check_merge(const char *const *texts, size_t n, const char *want_text)
{
    _cleanup_toml_ struct toml_value *got = merged_plugins(texts, n);
    _cleanup_toml_ struct toml_value *want = parse_text(want_text);
    assert_trees_equal(got, want);
}

/*
 * containerd's drop-ins carry no version, so they are version 1 files with full plugin URIs:
 * Berth migrates them (quirk 8.3), so the CRI keys land in the v3 sections.
 */
static void test_merge_plugins_two_cri_drop_ins(void **state)
{
    const char *data1 = "[plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
                        "bin_dir = \"/cm/local/apps/kubernetes/current/bin/cni\"\n";
    const char *data2 = "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n"
                        "config_path = \"/cm/local/apps/containerd/var/etc/certs.d\"\n";
    const char *want = "[\"io.containerd.cri.v1.runtime\".cni]\n"
                       "bin_dir = '/cm/local/apps/kubernetes/current/bin/cni'\n"
                       "[\"io.containerd.cri.v1.images\".registry]\n"
                       "config_path = '/cm/local/apps/containerd/var/etc/certs.d'\n";
    check_merge((const char *const[]){data1, data2}, 2, want);
    check_merge((const char *const[]){data2, data1}, 2, want);
}

static void test_merge_plugins_two_cni_drop_ins(void **state)
{
    const char *data1 = "[plugins.\"io.containerd.grpc.v1.cri\".cni]\n"
                        "bin_dir = \"/cm/local/apps/kubernetes/current/bin/cni\"\n";
    const char *data2 = "[plugins.\"io.containerd.grpc.v1.cri\".cni]\nconf_dir = \"/tmp\"\n";
    check_merge((const char *const[]){data1, data2}, 2,
                "[\"io.containerd.cri.v1.runtime\".cni]\n"
                "bin_dir = '/cm/local/apps/kubernetes/current/bin/cni'\n"
                "conf_dir = '/tmp'\n");
}

static void test_merge_plugins_two_runtime_drop_ins(void **state)
{
    const char *runc = "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
                       "runtime_type = \"io.containerd.runc.v2\"\n"
                       "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
                       "SystemdCgroup = true\n";
    const char *nvidia =
        "[plugins]\n"
        "[plugins.\"io.containerd.grpc.v1.cri\"]\n"
        "[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
        "default_runtime_name = \"nvidia\"\n"
        "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes]\n"
        "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia]\n"
        "privileged_without_host_devices = false\n"
        "runtime_engine = \"\"\n"
        "runtime_root = \"\"\n"
        "runtime_type = \"io.containerd.runc.v2\"\n"
        "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia.options]\n"
        "BinaryName = \"/usr/bin/nvidia-container-runtime\"\n"
        "SystemdCgroup = true\n";
    const char *runc_default = "[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
                               "default_runtime_name = \"runc\"\n";
#define RUNTIMES                                                                                   \
    "[\"io.containerd.cri.v1.runtime\".containerd.runtimes.nvidia]\n"                              \
    "privileged_without_host_devices = false\n"                                                    \
    "runtime_engine = ''\n"                                                                        \
    "runtime_root = ''\n"                                                                          \
    "runtime_type = 'io.containerd.runc.v2'\n"                                                     \
    "[\"io.containerd.cri.v1.runtime\".containerd.runtimes.nvidia.options]\n"                      \
    "BinaryName = '/usr/bin/nvidia-container-runtime'\n"                                           \
    "SystemdCgroup = true\n"                                                                       \
    "[\"io.containerd.cri.v1.runtime\".containerd.runtimes.runc]\n"                                \
    "runtime_type = 'io.containerd.runc.v2'\n"                                                     \
    "[\"io.containerd.cri.v1.runtime\".containerd.runtimes.runc.options]\n"                        \
    "SystemdCgroup = true\n"
    const char *want_nvidia = "[\"io.containerd.cri.v1.runtime\".containerd]\n"
                              "default_runtime_name = 'nvidia'\n" RUNTIMES;
    const char *want_runc = "[\"io.containerd.cri.v1.runtime\".containerd]\n"
                            "default_runtime_name = 'runc'\n" RUNTIMES;
#undef RUNTIMES
    check_merge((const char *const[]){runc, nvidia}, 2, want_nvidia);
    check_merge((const char *const[]){runc, nvidia, runc_default}, 3, want_runc);
    check_merge((const char *const[]){runc, runc_default, nvidia}, 3, want_nvidia);
}

static void test_merge_plugins_arrays_replace(void **state)
{
    const char *runc1 = "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
                        "runtime_type = \"io.containerd.runc.v2\"\n"
                        "cni_conf_dir = \"/foo\"\n"
                        "pod_annotations = [\"a\", \"b\", \"c\"]\n";
    const char *runc2 = "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
                        "runtime_type = \"io.containerd.runc.v2\"\n"
                        "cni_conf_dir = \"/bar\"\n"
                        "pod_annotations = [\"d\", \"e\", \"f\"]\n";
    check_merge((const char *const[]){runc1, runc2}, 2,
                "[\"io.containerd.cri.v1.runtime\".containerd.runtimes.runc]\n"
                "cni_conf_dir = '/bar'\n"
                "pod_annotations = ['d', 'e', 'f']\n"
                "runtime_type = 'io.containerd.runc.v2'\n");
    check_merge((const char *const[]){runc2, runc1}, 2,
                "[\"io.containerd.cri.v1.runtime\".containerd.runtimes.runc]\n"
                "cni_conf_dir = '/foo'\n"
                "pod_annotations = ['a', 'b', 'c']\n"
                "runtime_type = 'io.containerd.runc.v2'\n");
    /* in plugin sections a later false or empty value does replace (a leaf, not a scalar field) */
    check_merge((const char *const[]){"version = 3\n[plugins.'io.x.v1.y']\na = true\nb = 's'\n",
                                      "version = 3\n[plugins.'io.x.v1.y']\na = false\nb = ''\n"},
                2, "['io.x.v1.y']\na = false\nb = ''\n");
}

/* A v2 main file and a v1 drop-in with the same CRI section, through imports. */
static void test_merge_through_imports(void **state)
{
    _cleanup_free_ char *dir = make_temp_dir();
    _cleanup_free_ char *main_path =
        write_file(dir, "config.toml",
                   "version = 2\nimports = ['conf.d/*.toml']\n"
                   "[plugins.'io.containerd.grpc.v1.cri']\nsandbox_image = 'pause:3.9'\n"
                   "[plugins.'io.containerd.grpc.v1.cri'.cni]\nbin_dir = '/opt/cni/bin'\n");
    free(write_file(dir, "conf.d/cni.toml",
                    "[plugins.'io.containerd.grpc.v1.cri'.cni]\nconf_dir = '/etc/cni/net.d'\n"));
    free(write_file(dir, "conf.d/pause.toml",
                    "version = 3\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\n"
                    "sandbox = 'pause:3.10'\n"));
    struct berth_config *c = load_ok(main_path);
    _cleanup_toml_ struct toml_value *want =
        parse_text("['io.containerd.cri.v1.images'.pinned_images]\nsandbox = 'pause:3.10'\n"
                   "['io.containerd.cri.v1.runtime'.cni]\nbin_dir = '/opt/cni/bin'\n"
                   "conf_dir = '/etc/cni/net.d'\n");
    assert_trees_equal(c->plugins, want);
    config_free(c);
    remove_tree(dir);
}

const struct CMUnitTest load_tests[] = {
    cmocka_unit_test(test_missing_files),
    cmocka_unit_test(test_malformed),
    cmocka_unit_test(test_version_4),
    cmocka_unit_test(test_wrong_types),
    cmocka_unit_test(test_unknown_keys_warn),
    cmocka_unit_test(test_imports_glob_relative_breadth_first),
    cmocka_unit_test(test_imports_once_each),
    cmocka_unit_test(test_imports_missing),
    cmocka_unit_test(test_resolve_imports),
    cmocka_unit_test(test_merge_scalars_and_lists),
    cmocka_unit_test(test_merge_maps_replace_entries),
    cmocka_unit_test(test_merge_plugins_two_cri_drop_ins),
    cmocka_unit_test(test_merge_plugins_two_cni_drop_ins),
    cmocka_unit_test(test_merge_plugins_two_runtime_drop_ins),
    cmocka_unit_test(test_merge_plugins_arrays_replace),
    cmocka_unit_test(test_merge_through_imports),
};
const size_t n_load_tests = sizeof(load_tests) / sizeof(load_tests[0]);
