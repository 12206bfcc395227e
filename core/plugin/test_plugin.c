/* Unit tests for the plugin registry: order, skip/error/required/disabled, config, exports. */
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "lib/toml/toml.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

static char order[256];

static int record_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    const struct plugin_registration *reg = plugin_context_registration(ctx);
    strcat(order, reg->id);
    strcat(order, " ");
    *ret = (void *)reg->id;
    return 0;
}

static int skip_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    return err_make(err, ERR_UNKNOWN, 0, "no scratch file") < 0 ? PLUGIN_SKIP : 0;
}

static int fail_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    return err_make(err, ERR_INVALID_ARGUMENT, 0, "bad config");
}

static struct toml_value *defaults(void)
{
    struct toml_value *t = toml_table_new();
    toml_table_set(t, "level", toml_int_new(1));
    toml_table_set(t, "name", toml_string_new("default"));
    return t;
}

static int config_init(struct plugin_context *ctx, void **ret, struct berth_error **err)
{
    const struct toml_value *c = plugin_context_config(ctx);
    int64_t level = 0;
    assert_true(toml_as_int(toml_table_get(c, "level"), &level));
    assert_int_equal(level, 7); /* from the config file */
    assert_string_equal(toml_as_string(toml_table_get(c, "name")), "default"); /* default kept */
    assert_non_null(strstr(plugin_context_root(ctx), "/root/test.cfg.c"));
    assert_non_null(plugin_context_get(ctx, "test.base", "a")); /* a dependency is ready */
    plugin_context_export(ctx, "k", "v");
    plugin_context_add_capability(ctx, "cap");
    plugin_context_add_platform(ctx, "linux/amd64");
    *ret = ctx;
    return 0;
}

static const char *const needs_base[] = {"test.base", NULL};
static const char *const needs_all[] = {"*", NULL};
static const char *const needs_missing[] = {"test.nothing", NULL};

static const struct plugin_registration all = {"test.last", "z", needs_all, NULL, record_init};
static const struct plugin_registration mid = {"test.mid", "m", needs_base, NULL, record_init};
static const struct plugin_registration base_a = {"test.base", "a", NULL, NULL, record_init};
static const struct plugin_registration base_b = {"test.base", "b", needs_missing, NULL,
                                                  record_init};
static const struct plugin_registration skipper = {"test.skip", "s", NULL, NULL, skip_init};
static const struct plugin_registration failer = {"test.fail", "f", NULL, NULL, fail_init};
static const struct plugin_registration configured = {"test.cfg", "c", needs_base, defaults,
                                                      config_init};

static void test_order_and_states(void **state)
{
    order[0] = '\0';
    struct plugin_set *set = plugin_set_new();
    plugin_set_register(set, &all);
    plugin_set_register(set, &mid);
    plugin_set_register(set, &base_a);
    plugin_set_register(set, &base_b);
    plugin_set_register(set, &skipper);
    plugin_set_register(set, &failer);
    struct plugin_init_options opts = {.root = "/r", .state = "/s"};
    assert_int_equal(plugin_set_init(set, &opts, NULL), 0);
    /* every base before mid, "*" last, registration order among equals */
    assert_string_equal(order, "a b m z ");
    const struct plugin_info *s = plugin_set_find(set, "test.skip", "s");
    assert_int_equal(s->state, PLUGIN_STATE_SKIPPED);
    assert_string_equal(s->init_error->message, "no scratch file: skip plugin");
    const struct plugin_info *f = plugin_set_find(set, "test.fail", "f");
    assert_int_equal(f->state, PLUGIN_STATE_ERROR);
    assert_int_equal(f->init_error->kind, ERR_INVALID_ARGUMENT);
    plugin_set_close(set);
    plugin_set_free(set);
}

static void test_required_and_disabled(void **state)
{
    struct plugin_set *set = plugin_set_new();
    plugin_set_register(set, &failer);
    plugin_set_register(set, &base_a);
    const char *const required[] = {"test.fail.f", NULL};
    struct plugin_init_options opts = {.root = "/r", .state = "/s", .required = required};
    struct berth_error *err = NULL;
    assert_int_equal(plugin_set_init(set, &opts, &err), -1);
    assert_non_null(strstr(err->message, "load required plugin test.fail.f"));
    err_free(err);
    plugin_set_free(set);

    set = plugin_set_new();
    plugin_set_register(set, &base_a);
    plugin_set_register(set, &failer);
    const char *const disabled[] = {"test.fail.f", NULL};
    const char *const required_missing[] = {"test.none.x", NULL};
    opts = (struct plugin_init_options){.root = "/r", .state = "/s", .disabled = disabled};
    assert_int_equal(plugin_set_init(set, &opts, NULL), 0);
    assert_int_equal(plugin_set_find(set, "test.fail", "f")->state, PLUGIN_STATE_DISABLED);
    plugin_set_close(set);
    plugin_set_free(set);

    set = plugin_set_new();
    plugin_set_register(set, &base_a);
    opts = (struct plugin_init_options){.root = "/r", .state = "/s", .required = required_missing};
    err = NULL;
    assert_int_equal(plugin_set_init(set, &opts, &err), -1);
    assert_int_equal(err->kind, ERR_FAILED_PRECONDITION);
    err_free(err);
    plugin_set_free(set);
}

static void test_config_and_exports(void **state)
{
    struct plugin_set *set = plugin_set_new();
    plugin_set_register(set, &configured);
    plugin_set_register(set, &base_a);
    struct toml_value *plugins = NULL;
    const char *text = "[\"test.cfg.c\"]\nlevel = 7\n";
    assert_int_equal(toml_parse(text, strlen(text), NULL, &plugins, NULL), 0);
    struct plugin_init_options opts = {.root = "/root", .state = "/s", .plugins_config = plugins};
    assert_int_equal(plugin_set_init(set, &opts, NULL), 0);
    const struct plugin_info *p = plugin_set_find(set, "test.cfg", "c");
    assert_int_equal(p->state, PLUGIN_STATE_OK);
    assert_int_equal(p->n_exports, 1);
    assert_string_equal(p->exports[0], "k");
    assert_string_equal(p->exports[1], "v");
    assert_string_equal(p->capabilities[0], "cap");
    assert_string_equal(p->platforms[0], "linux/amd64");
    toml_free(plugins);
    plugin_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_states),
        cmocka_unit_test(test_required_and_disabled),
        cmocka_unit_test(test_config_and_exports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
