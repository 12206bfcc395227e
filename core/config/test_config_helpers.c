/* Shared helpers for the core/config unit tests. */
#include "test_config_helpers.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/toml/toml.h"

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

char *testdata_path(const char *name)
{
    const char *dir = getenv("CONFIG_TESTDATA");
    return xasprintf("%s/%s", dir ? dir : "core/config/testdata", name);
}

char *make_temp_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = xasprintf("%s/berth-config-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void remove_tree(const char *dir)
{
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *write_file(const char *dir, const char *name, const char *content)
{
    char *path = xasprintf("%s/%s", dir, name);
    for (char *slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(path, 0700) < 0)
            assert_int_equal(errno, EEXIST);
        *slash = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

struct toml_value *parse_text(const char *text)
{
    struct toml_value *root = NULL;
    struct berth_error *err = NULL;
    if (toml_parse(text, strlen(text), "test", &root, &err) < 0)
        fail_msg("parse: %s", err->message);
    return root;
}

struct toml_value *parse_path(const char *path)
{
    struct toml_value *root = NULL;
    struct berth_error *err = NULL;
    if (toml_parse_file(path, &root, &err) < 0)
        fail_msg("parse: %s", err->message);
    return root;
}

void assert_trees_equal(const struct toml_value *got, const struct toml_value *want)
{
    if (toml_equal(got, want))
        return;
    _cleanup_free_ char *g = toml_write(got);
    _cleanup_free_ char *w = toml_write(want);
    print_error("--- got ---\n%s\n--- want ---\n%s\n", g, w);
    fail_msg("TOML trees differ");
}

void capture_logs(struct log_capture *c)
{
    *c = (struct log_capture){0};
    c->f = open_memstream(&c->data, &c->len);
    assert_non_null(c->f);
    log_set_output(c->f);
}

void capture_logs_end(struct log_capture *c)
{
    log_set_output(NULL);
    fclose(c->f);
    c->f = NULL;
}

size_t count_substr(const char *haystack, const char *needle)
{
    size_t n = 0;
    for (const char *p = haystack; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}
