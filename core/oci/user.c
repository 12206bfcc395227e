/* The image config and user options: /etc/passwd and /etc/group read inside the rootfs only. */
#include "core/oci/opts.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* /etc/passwd and /etc/group of an image are small; a bigger one is hostile. */
#define ACCOUNT_FILE_MAX (4 << 20)

void oci_image_config_clear(struct oci_image_config *c)
{
    oci_strv_clear(&c->env);
    oci_strv_clear(&c->entrypoint);
    oci_strv_clear(&c->cmd);
    free(c->working_dir);
    free(c->user);
    memset(c, 0, sizeof(*c));
}

static int strings_of(struct json_object *obj, const char *key, struct oci_strv *ret,
                      struct berth_error **err)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_array))
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "image config: %s is not an array", key);
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        struct json_object *e = json_object_array_get_idx(v, i);
        if (!json_object_is_type(e, json_type_string))
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "image config: %s[%zu] is not a string",
                            key, i);
        oci_strv_push(ret, json_object_get_string(e));
    }
    return 0;
}

static int string_of(struct json_object *obj, const char *key, char **ret, struct berth_error **err)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "image config: %s is not a string", key);
    oci_set_string(ret, json_object_get_string(v));
    return 0;
}

int oci_image_config_from_json(struct json_object *doc, struct oci_image_config *ret,
                               struct berth_error **err)
{
    struct oci_image_config c = {0};
    struct json_object *config = NULL;
    int rc = 0;
    if (json_object_object_get_ex(doc, "config", &config) &&
        json_object_is_type(config, json_type_object)) {
        if (strings_of(config, "Env", &c.env, err) < 0 ||
            strings_of(config, "Entrypoint", &c.entrypoint, err) < 0 ||
            strings_of(config, "Cmd", &c.cmd, err) < 0 ||
            string_of(config, "WorkingDir", &c.working_dir, err) < 0 ||
            string_of(config, "User", &c.user, err) < 0)
            rc = -1;
    }
    if (rc < 0) {
        oci_image_config_clear(&c);
        return -1;
    }
    *ret = c;
    return 0;
}

/* ---- account files ---- */

struct account {
    char *name;
    long id, gid; /* passwd: uid and gid; group: gid */
    struct oci_strv members;
};

static void accounts_free(struct account *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].name);
        oci_strv_clear(&a[i].members);
    }
    free(a);
}

/* Go's strconv.Atoi with the error ignored: anything but a clean decimal int is 0. */
static long atoi_or_zero(const char *s)
{
    if (!*s)
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || s[0] == ' ' || s[0] == '\t')
        return 0;
    return v;
}

/*
 * Reads <root>/etc/<file> resolved inside the root. Returns 1 with the text, 0 when it does
 * not exist (containerd's os.IsNotExist cases), -1 on error.
 */
static int read_in_root(int root_fd, const char *rel, char **ret, struct berth_error **err)
{
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return err_make(err, ERR_UNKNOWN, errno, "open %s in the container's rootfs", rel);
    }
    char *buf = xmalloc(ACCOUNT_FILE_MAX + 1);
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, ACCOUNT_FILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int saved = errno;
            close(fd);
            free(buf);
            return err_make(err, ERR_UNKNOWN, saved, "read %s", rel);
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > ACCOUNT_FILE_MAX) {
            close(fd);
            free(buf);
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "%s: larger than %d bytes", rel,
                            ACCOUNT_FILE_MAX);
        }
    }
    close(fd);
    buf[len] = '\0';
    *ret = buf;
    return 1;
}

/*
 * moby/sys/user's parsing: each line trimmed of white space, empty ones skipped, fields split on
 * ':'. passwd is name:pass:uid:gid:..., group is name:pass:gid:member,member.
 */
static int parse_accounts(int root_fd, const char *rel, bool group, struct account **ret,
                          size_t *ret_n, struct berth_error **err)
{
    *ret = NULL;
    *ret_n = 0;
    if (root_fd < 0)
        return 0;
    char *text = NULL;
    int r = read_in_root(root_fd, rel, &text, err);
    if (r <= 0)
        return r;
    struct account *list = NULL;
    size_t n = 0, cap = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ' || *line == '\t' || *line == '\r' || *line == '\v' || *line == '\f')
            line++;
        size_t len = strlen(line);
        while (len > 0 && strchr(" \t\r\v\f", line[len - 1]))
            line[--len] = '\0';
        if (!len)
            continue;
        char *fields[4] = {0};
        size_t nf = 0;
        char *p = line;
        while (nf < 4) {
            fields[nf++] = p;
            char *colon = strchr(p, ':');
            if (!colon)
                break;
            *colon = '\0';
            p = colon + 1;
        }
        struct account a = {.name = xstrdup(fields[0])};
        if (group) {
            a.id = a.gid = nf > 2 ? atoi_or_zero(fields[2]) : 0;
            if (nf > 3 && fields[3][0]) {
                char *msave = NULL;
                for (char *m = strtok_r(fields[3], ",", &msave); m; m = strtok_r(NULL, ",", &msave))
                    oci_strv_push(&a.members, m);
            }
        } else {
            a.id = nf > 2 ? atoi_or_zero(fields[2]) : 0;
            char *gid = nf > 3 ? fields[3] : (char *)"";
            char *colon = strchr(gid, ':');
            if (colon)
                *colon = '\0';
            a.gid = atoi_or_zero(gid);
        }
        list = xreallocarray_grow(list, &cap, n + 1, sizeof(*list));
        list[n++] = a;
    }
    free(text);
    *ret = list;
    *ret_n = n;
    return 1;
}

/* UserFromPath: 1 found, 0 none (file missing or no match: *missing tells which), -1 error. */
static int find_user(int root_fd, const char *name, long uid, struct account *ret, bool *missing,
                     struct berth_error **err)
{
    struct account *list;
    size_t n;
    int r = parse_accounts(root_fd, "/etc/passwd", false, &list, &n, err);
    if (r < 0)
        return -1;
    *missing = r == 0;
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) {
        if (name ? strcmp(list[i].name, name) == 0 : list[i].id == uid) {
            ret->name = xstrdup(list[i].name);
            ret->id = list[i].id;
            ret->gid = list[i].gid;
            found = 1;
        }
    }
    accounts_free(list, n);
    return found;
}

static void ensure_additional_gids(struct oci_process *p)
{
    for (size_t i = 0; i < p->n_additional_gids; i++)
        if (p->additional_gids[i] == p->gid)
            return;
    p->additional_gids =
        xrealloc(p->additional_gids, (p->n_additional_gids + 1) * sizeof(*p->additional_gids));
    memmove(p->additional_gids + 1, p->additional_gids,
            p->n_additional_gids * sizeof(*p->additional_gids));
    p->additional_gids[0] = p->gid;
    p->n_additional_gids++;
}

static void clear_additional_gids(struct oci_process *p)
{
    free(p->additional_gids);
    p->additional_gids = NULL;
    p->n_additional_gids = 0;
}

/* strconv.Atoi success (a full decimal int, sign allowed) */
static bool parse_int(const char *s, long *ret)
{
    if (!*s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || s[0] == ' ' || s[0] == '\t' || s[0] == '\n')
        return false;
    *ret = v;
    return true;
}

static int with_user_inner(struct oci_spec *s, const char *user, int root_fd,
                           struct berth_error **err)
{
    struct oci_process *p = &s->process;
    clear_additional_gids(p);
    const char *colon = strchr(user, ':');
    if (colon && strchr(colon + 1, ':'))
        return err_make(err, ERR_UNKNOWN, 0, "invalid USER value %s", user);
    bool missing;
    struct account a = {0};
    long v;
    if (!colon) {
        if (parse_int(user, &v)) {
            /* WithUserID: the passwd entry's gid, else gid 0 */
            int r = find_user(root_fd, NULL, (uint32_t)v, &a, &missing, err);
            if (r < 0)
                return -1;
            p->uid = (uint32_t)v;
            p->gid = r ? (uint32_t)a.gid : 0;
            if (r)
                p->uid = (uint32_t)a.id;
            free(a.name);
            return 0;
        }
        int r = find_user(root_fd, user, 0, &a, &missing, err);
        if (r < 0)
            return -1;
        if (r == 0)
            return missing ? err_make(err, ERR_NOT_FOUND, ENOENT, "open /etc/passwd")
                           : err_make(err, ERR_NOT_FOUND, 0, "no users found");
        p->uid = (uint32_t)a.id;
        p->gid = (uint32_t)a.gid;
        free(a.name);
        return 0;
    }
    _cleanup_free_ char *name = xstrndup(user, (size_t)(colon - user));
    const char *group = colon + 1;
    uint32_t uid = 0, gid = 0;
    bool by_name = false, by_group = false;
    if (parse_int(name, &v))
        uid = (uint32_t)v;
    else
        by_name = true;
    if (parse_int(group, &v))
        gid = (uint32_t)v;
    else
        by_group = true;
    /* containerd tests for empty names, so "" counts as numeric 0 */
    by_name = by_name && *name;
    by_group = by_group && *group;
    if (by_name) {
        int r = find_user(root_fd, name, 0, &a, &missing, err);
        if (r < 0)
            return -1;
        if (r == 0)
            return missing ? err_make(err, ERR_NOT_FOUND, ENOENT, "open /etc/passwd")
                           : err_make(err, ERR_NOT_FOUND, 0, "no users found");
        uid = (uint32_t)a.id;
        free(a.name);
    }
    if (by_group) {
        struct account *list;
        size_t n;
        int r = parse_accounts(root_fd, "/etc/group", true, &list, &n, err);
        if (r < 0)
            return -1;
        bool found = false;
        for (size_t i = 0; i < n && !found; i++) {
            if (strcmp(list[i].name, group) == 0) {
                gid = (uint32_t)list[i].gid;
                found = true;
            }
        }
        accounts_free(list, n);
        if (!found)
            return r == 0 ? err_make(err, ERR_NOT_FOUND, ENOENT, "open /etc/group")
                          : err_make(err, ERR_NOT_FOUND, 0, "no groups found");
    }
    p->uid = uid;
    p->gid = gid;
    return 0;
}

int oci_with_user(struct oci_spec *s, const char *user, int root_fd, struct berth_error **err)
{
    int rc = with_user_inner(s, user, root_fd, err);
    ensure_additional_gids(&s->process); /* containerd's deferred call runs on errors too */
    return rc;
}

int oci_with_additional_gids(struct oci_spec *s, const char *user, int root_fd,
                             struct berth_error **err)
{
    struct oci_process *p = &s->process;
    clear_additional_gids(p);
    _cleanup_free_ char *username = NULL;
    long uid;
    if (parse_int(user, &uid)) {
        struct account a = {0};
        bool missing;
        int r = find_user(root_fd, NULL, uid, &a, &missing, err);
        if (r < 0) {
            ensure_additional_gids(p);
            return -1;
        }
        if (r == 0) {
            ensure_additional_gids(p);
            return 0;
        }
        username = a.name;
    } else {
        username = xstrdup(user);
    }
    struct account *list;
    size_t n;
    int r = parse_accounts(root_fd, "/etc/group", true, &list, &n, err);
    if (r < 0) {
        ensure_additional_gids(p);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].name, username) == 0 || !oci_strv_contains(&list[i].members, username))
            continue;
        p->additional_gids =
            xrealloc(p->additional_gids, (p->n_additional_gids + 1) * sizeof(*p->additional_gids));
        p->additional_gids[p->n_additional_gids++] = (uint32_t)list[i].gid;
    }
    accounts_free(list, n);
    ensure_additional_gids(p);
    return 0;
}

int oci_with_image_config(struct oci_spec *s, const struct oci_image_config *c, int root_fd,
                          struct berth_error **err)
{
    struct oci_process *p = &s->process;
    /* the image's Env (or the default PATH) with the spec's env replacing or appending */
    struct oci_strv env = {0};
    if (c->env.n > 0)
        oci_strv_copy(&env, &c->env);
    else
        oci_strv_push(&env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    struct oci_strv overrides = p->env;
    p->env = env;
    oci_with_env(s, overrides.v, overrides.n);
    oci_strv_clear(&overrides);

    oci_strv_clear(&p->args);
    for (size_t i = 0; i < c->entrypoint.n; i++)
        oci_strv_push(&p->args, c->entrypoint.v[i]);
    for (size_t i = 0; i < c->cmd.n; i++)
        oci_strv_push(&p->args, c->cmd.v[i]);
    oci_set_string(&p->cwd, c->working_dir && *c->working_dir ? c->working_dir : "/");
    if (c->user && *c->user) {
        if (oci_with_user(s, c->user, root_fd, err) < 0)
            return -1;
        char uid[16];
        snprintf(uid, sizeof(uid), "%u", p->uid);
        return oci_with_additional_gids(s, uid, root_fd, err);
    }
    return oci_with_additional_gids(s, "root", root_fd, err);
}
