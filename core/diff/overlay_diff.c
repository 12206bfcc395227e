/* Deciding the overlay fast path of Diff from the mounts the snapshotter handed out. */
#include "core/diff/mounts.h"

#include "lib/base/alloc.h"

#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 512

struct layers {
    const char *dirs[MAX_LAYERS];
    size_t n;
    bool userxattr;
};

static bool has_prefix(const char *s, const char *prefix, const char **ret_rest)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0)
        return false;
    *ret_rest = s + n;
    return true;
}

/* Overlay features whose on-disk form the fast path cannot read with certainty. */
static bool unreadable_option(const char *o)
{
    if (strncmp(o, "lowerdir+", 9) == 0 || strncmp(o, "datadir+", 8) == 0)
        return true;
    const char *eq = strchr(o, '=');
    if (!eq)
        return false;
    size_t key = (size_t)(eq - o);
    const char *v = eq + 1;
    if (key == 8 && strncmp(o, "metacopy", key) == 0)
        return strcmp(v, "off") != 0;
    if (key == 12 && strncmp(o, "redirect_dir", key) == 0)
        return strcmp(v, "off") != 0 && strcmp(v, "nofollow") != 0;
    if (key == 5 && strncmp(o, "index", key) == 0)
        return strcmp(v, "off") != 0;
    return false;
}

static bool add_layer(struct layers *l, const char *dir, size_t len, char **pool, size_t *n_pool)
{
    if (len == 0 || dir[0] != '/' || l->n == MAX_LAYERS)
        return false;
    pool[*n_pool] = xstrndup(dir, len);
    l->dirs[l->n++] = pool[(*n_pool)++];
    return true;
}

/*
 * The directories of one mount, top first, or false when the mount is not one this path can
 * read with certainty. Strings are allocated into pool (at most MAX_LAYERS).
 */
static bool mount_layers(const struct diff_mount *m, struct layers *l, char **pool, size_t *n_pool)
{
    memset(l, 0, sizeof(*l));
    if (m->target && *m->target)
        return false;
    if (strcmp(m->type, "bind") == 0 || strcmp(m->type, "rbind") == 0)
        return m->source && add_layer(l, m->source, strlen(m->source), pool, n_pool);
    if (strcmp(m->type, "overlay") != 0)
        return false;
    const char *upper = NULL, *lower = NULL;
    for (size_t i = 0; i < m->n_options; i++) {
        const char *o = m->options[i], *v;
        if (has_prefix(o, "upperdir=", &v))
            upper = v;
        else if (has_prefix(o, "lowerdir=", &v))
            lower = v;
        else if (strcmp(o, "userxattr") == 0)
            l->userxattr = true;
        else if (unreadable_option(o))
            return false;
    }
    if (!lower || strchr(lower, '\\'))
        return false;
    if (upper && (strchr(upper, '\\') || !add_layer(l, upper, strlen(upper), pool, n_pool)))
        return false;
    for (const char *p = lower;;) {
        size_t len = strcspn(p, ":");
        if (!add_layer(l, p, len, pool, n_pool))
            return false;
        if (!p[len])
            break;
        p += len + 1;
    }
    return true;
}

bool diff_overlay_plan(const struct diff_mount *lower, size_t n_lower,
                       const struct diff_mount *upper, size_t n_upper,
                       struct overlay_diff_plan *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (n_lower != 1 || n_upper != 1 || strcmp(upper[0].type, "overlay") != 0)
        return false;
    char **pool = xcalloc(2 * MAX_LAYERS + 2, sizeof(*pool));
    size_t n_pool = 0;
    struct layers *u = xcalloc(1, sizeof(*u)), *l = xcalloc(1, sizeof(*l));
    bool ok = mount_layers(&upper[0], u, pool, &n_pool) &&
              mount_layers(&lower[0], l, pool, &n_pool) && u->n == l->n + 1;
    for (size_t i = 0; ok && i < l->n; i++)
        ok = strcmp(u->dirs[i + 1], l->dirs[i]) == 0;
    if (ok) {
        ret->layer = xstrdup(u->dirs[0]);
        ret->userxattr = u->userxattr;
    }
    for (size_t i = 0; i < n_pool; i++)
        free(pool[i]);
    free(pool);
    free(u);
    free(l);
    return ok;
}

void overlay_diff_plan_clear(struct overlay_diff_plan *plan)
{
    free(plan->layer);
    plan->layer = NULL;
}
