/* config_load: the main file and its imports, breadth-first, each migrated and merged. */
#include "core/config/config-internal.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/toml/toml.h"

#include <errno.h>
#include <glob.h>
#include <string.h>
#include <sys/stat.h>

/* Bounds a hostile import graph; containerd has none, but no real setup comes near. */
#define CONFIG_MAX_FILES 1024

char *config_path_clean(const char *path)
{
    if (!*path)
        return xstrdup(".");
    bool rooted = path[0] == '/';
    size_t len = strlen(path);
    char *out = xmalloc(len + 2);
    size_t n = 0;     /* bytes in out */
    size_t floor = 0; /* out[0..floor) cannot be removed by ".." */
    if (rooted)
        out[n++] = '/', floor = 1;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        const char *end = strchrnul(p, '/');
        size_t elen = (size_t)(end - p);
        if (elen == 0 || (elen == 1 && p[0] == '.')) {
            /* empty or "." */
        } else if (elen == 2 && p[0] == '.' && p[1] == '.') {
            if (n > floor) { /* drop the last element */
                while (n > floor && out[n - 1] != '/')
                    n--;
                if (n > floor)
                    n--; /* its separator */
            } else if (!rooted) {
                if (n)
                    out[n++] = '/';
                out[n++] = '.', out[n++] = '.';
                floor = n;
            }
        } else {
            if (n > (rooted ? 1u : 0u))
                out[n++] = '/';
            memcpy(out + n, p, elen);
            n += elen;
        }
        p = end;
    }
    if (n == 0)
        out[n++] = '.';
    out[n] = '\0';
    return out;
}

/* Go's filepath.Dir: all but the last element, cleaned. */
static char *path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    _cleanup_free_ char *dir = xstrndup(path, (size_t)(slash - path) + 1);
    return config_path_clean(dir);
}

int config_resolve_imports(const char *parent, const struct config_strings *imports,
                           struct config_strings *ret, struct berth_error **err)
{
    _cleanup_free_ char *dir = path_dir(parent);
    for (size_t i = 0; i < imports->count; i++) {
        _cleanup_free_ char *cleaned = config_path_clean(imports->items[i]);
        _cleanup_free_ char *joined =
            cleaned[0] == '/' ? xstrdup(cleaned) : xasprintf("%s/%s", dir, cleaned);
        _cleanup_free_ char *path = config_path_clean(joined);
        if (!strchr(path, '*')) {
            config_strings_append(ret, path);
            continue;
        }
        glob_t g;
        int r = glob(path, 0, NULL, &g);
        if (r == GLOB_NOMATCH)
            continue;
        if (r != 0) {
            if (r == GLOB_NOSPACE)
                globfree(&g);
            return err_make(err, ERR_INVALID_ARGUMENT, r == GLOB_ABORTED ? errno : 0,
                            "%s: import %s: cannot expand pattern", parent, imports->items[i]);
        }
        for (size_t k = 0; k < g.gl_pathc; k++)
            config_strings_append(ret, g.gl_pathv[k]);
        globfree(&g);
    }
    return 0;
}

/* Parses, migrates and decodes one file into a fresh config. */
static int load_file(const char *path, struct berth_config **ret, struct berth_error **err)
{
    _cleanup_toml_ struct toml_value *tree = NULL;
    if (toml_parse_file(path, &tree, err) < 0)
        return err_wrap(err, "failed to load TOML");
    int from_version;
    if (config_migrate_tree(tree, path, &from_version, err) < 0)
        return -1;
    if (from_version < CONFIG_VERSION)
        log_record(LOG_WARN, LOG_FIELDS("file", path),
                   "Configuration migrated from version %d, use `berthd config migrate` to avoid "
                   "migration",
                   from_version);
    struct berth_config *c = config_new_empty();
    if (config_decode(tree, path, c, err) < 0) {
        config_free(c);
        return -1;
    }
    *ret = c;
    return 0;
}

int config_load(const char *path, bool explicit_path, struct berth_config **ret,
                struct berth_error **err)
{
    _cleanup_config_ struct berth_config *c = config_new_default();
    struct stat st;
    if (!explicit_path && stat(path, &st) < 0 && errno == ENOENT) {
        *ret = steal_ptr(c);
        return 0;
    }

    /* Breadth-first over imports; each path (cleaned) is loaded once, which also ends cycles. */
    struct config_strings queue = {0}, loaded = {0};
    _cleanup_free_ char *main_path = config_path_clean(path);
    config_strings_append(&queue, main_path);
    int r = 0;
    for (size_t head = 0; head < queue.count && r == 0; head++) {
        const char *file = queue.items[head];
        if (config_strings_contains(&loaded, file))
            continue;
        if (loaded.count >= CONFIG_MAX_FILES || queue.count > CONFIG_MAX_FILES * 64) {
            r = err_make(err, ERR_RESOURCE_EXHAUSTED, 0, "%s: more than %d config files imported",
                         main_path, CONFIG_MAX_FILES);
            break;
        }
        struct berth_config *fc = NULL;
        r = load_file(file, &fc, err);
        if (r == 0) {
            config_merge(c, fc);
            r = config_resolve_imports(file, &fc->imports, &queue, err);
        }
        config_free(fc);
        config_strings_append(&loaded, file);
    }
    config_strings_clear(&queue);
    config_strings_clear(&loaded);
    if (r < 0)
        return -1;

    c->version = CONFIG_VERSION;
    config_check_deprecated(c);
    *ret = steal_ptr(c);
    return 0;
}
