/* containerd's SpecOpts that ctr run applies: env, mounts, devices, capabilities, resources. */
#include "core/oci/opts.h"
#include "lib/base/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* WithEnvFile reads whole lines; Go's bufio.Scanner gives up past 64 KiB a line. */
#define ENV_FILE_MAX (1 << 20)
#define ENV_LINE_MAX (64 * 1024)
/* A /dev tree deeper than this is not a device tree. */
#define DEVICE_WALK_MAX_DEPTH 16

void oci_set_string(char **field, const char *value)
{
    free(*field);
    *field = value && *value ? xstrdup(value) : NULL;
}

static size_t key_length(const char *entry, bool *has_value)
{
    const char *eq = strchr(entry, '=');
    *has_value = eq != NULL;
    return eq ? (size_t)(eq - entry) : strlen(entry);
}

/* replaceOrAppendEnvValues(defaults, overrides) into *env. */
static void env_merge(struct oci_strv *env, char *const *overrides, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bool has_value;
        size_t klen = key_length(overrides[i], &has_value);
        ssize_t found = -1;
        /* containerd's cache maps a key to its last index among the defaults */
        for (size_t j = 0; j < env->n; j++) {
            bool unused;
            if (env->v[j][0] && key_length(env->v[j], &unused) == klen &&
                strncmp(env->v[j], overrides[i], klen) == 0)
                found = (ssize_t)j;
        }
        if (!has_value) {
            if (found >= 0)
                env->v[found][0] = '\0'; /* removed below */
            continue;
        }
        if (found >= 0) {
            free(env->v[found]);
            env->v[found] = xstrdup(overrides[i]);
        } else {
            oci_strv_push(env, overrides[i]);
        }
    }
    oci_strv_remove(env, "");
}

void oci_with_env(struct oci_spec *s, char *const *vars, size_t n)
{
    if (n > 0)
        env_merge(&s->process.env, vars, n);
}

int oci_with_env_file(struct oci_spec *s, const char *path, struct berth_error **err)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return err_make(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_UNKNOWN, errno, "open %s", path);
    struct oci_strv vars = {0};
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        total += (size_t)len;
        if (total > ENV_FILE_MAX || len > ENV_LINE_MAX) {
            rc = err_make(err, ERR_INVALID_ARGUMENT, 0, "env file %s: too long", path);
            break;
        }
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len > 0 && line[len - 1] == '\r') /* bufio.ScanLines drops a final \r too */
            line[--len] = '\0';
        oci_strv_push(&vars, line);
    }
    if (rc == 0 && ferror(f))
        rc = err_make(err, ERR_UNKNOWN, errno, "read %s", path);
    free(line);
    fclose(f);
    if (rc == 0)
        oci_with_env(s, vars.v, vars.n);
    oci_strv_clear(&vars);
    return rc;
}

void oci_mount_clear(struct oci_mount *m)
{
    free(m->destination);
    free(m->type);
    free(m->source);
    oci_strv_clear(&m->options);
    memset(m, 0, sizeof(*m));
}

/* One record of Go's encoding/csv: comma-separated, fields optionally in "quotes" ("" escapes). */
static int csv_fields(const char *text, struct oci_strv *ret, struct berth_error **err)
{
    const char *p = text;
    for (;;) {
        char *field = xmalloc(strlen(p) + 1);
        size_t n = 0;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p) {
                    free(field);
                    return err_make(err, ERR_INVALID_ARGUMENT, 0,
                                    "parse error: extraneous or missing \" in quoted-field");
                }
                if (*p == '"' && p[1] == '"') {
                    field[n++] = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    field[n++] = *p++;
                }
            }
            if (*p && *p != ',') {
                free(field);
                return err_make(err, ERR_INVALID_ARGUMENT, 0,
                                "parse error: extraneous or missing \" in quoted-field");
            }
        } else {
            while (*p && *p != ',' && *p != '\n') {
                if (*p == '"') {
                    free(field);
                    return err_make(err, ERR_INVALID_ARGUMENT, 0,
                                    "parse error: bare \" in non-quoted-field");
                }
                field[n++] = *p++;
            }
        }
        field[n] = '\0';
        oci_strv_push(ret, field);
        free(field);
        if (*p != ',')
            return 0;
        p++;
    }
}

int oci_parse_mount(const char *text, struct oci_mount *ret, struct berth_error **err)
{
    struct oci_strv fields = {0};
    struct oci_mount m = {0};
    int rc = csv_fields(text, &fields, err);
    for (size_t i = 0; rc == 0 && i < fields.n; i++) {
        char *key = fields.v[i];
        char *eq = strchr(key, '=');
        if (!eq) {
            rc = err_make(err, ERR_INVALID_ARGUMENT, 0,
                          "invalid mount specification: expected key=val");
            break;
        }
        *eq = '\0';
        const char *val = eq + 1;
        if (strcmp(key, "type") == 0) {
            oci_set_string(&m.type, val);
        } else if (strcmp(key, "source") == 0 || strcmp(key, "src") == 0) {
            oci_set_string(&m.source, val);
        } else if (strcmp(key, "destination") == 0 || strcmp(key, "dst") == 0) {
            oci_set_string(&m.destination, val);
        } else if (strcmp(key, "options") == 0) {
            oci_strv_clear(&m.options);
            /* strings.Split: "" gives one empty option, as in Go */
            const char *p = val;
            for (;;) {
                const char *colon = strchr(p, ':');
                size_t len = colon ? (size_t)(colon - p) : strlen(p);
                _cleanup_free_ char *opt = xstrndup(p, len);
                oci_strv_push(&m.options, opt);
                if (!colon)
                    break;
                p = colon + 1;
            }
        } else {
            rc = err_make(err, ERR_INVALID_ARGUMENT, 0, "mount option \"%s\" not supported", key);
        }
    }
    oci_strv_clear(&fields);
    if (rc < 0) {
        oci_mount_clear(&m);
        return rc;
    }
    *ret = m;
    return 0;
}

/* filepath.Clean for comparing destinations. */
static char *clean_path(const char *path)
{
    bool abs = path[0] == '/';
    char **parts = xcalloc(strlen(path) + 1, sizeof(*parts));
    size_t n = 0;
    _cleanup_free_ char *copy = xstrdup(path);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0) {
            if (n > 0 && strcmp(parts[n - 1], "..") != 0)
                n--;
            else if (!abs)
                parts[n++] = c;
            continue;
        }
        parts[n++] = c;
    }
    size_t len = 2;
    for (size_t i = 0; i < n; i++)
        len += strlen(parts[i]) + 1;
    char *out = xcalloc(len, 1);
    if (abs)
        strcat(out, "/");
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(out, "/");
        strcat(out, parts[i]);
    }
    if (!*out)
        strcat(out, ".");
    free(parts);
    return out;
}

void oci_with_mounts(struct oci_spec *s, struct oci_mount *mounts, size_t n)
{
    /* WithoutMounts(dests...) then WithMounts: a user mount replaces a default one */
    size_t kept = 0;
    for (size_t i = 0; i < s->n_mounts; i++) {
        _cleanup_free_ char *dest =
            clean_path(s->mounts[i].destination ? s->mounts[i].destination : "");
        bool drop = false;
        for (size_t j = 0; j < n && !drop; j++)
            drop = strcmp(dest, mounts[j].destination ? mounts[j].destination : "") == 0;
        if (drop)
            oci_mount_clear(&s->mounts[i]);
        else
            s->mounts[kept++] = s->mounts[i];
    }
    s->mounts = xrealloc(s->mounts, (kept + n + 1) * sizeof(*s->mounts));
    for (size_t j = 0; j < n; j++)
        s->mounts[kept + j] = mounts[j];
    s->n_mounts = kept + n;
}

static void append_mount(struct oci_spec *s, const char *dest, const char *type, const char *source,
                         const char *const *options, size_t n_options)
{
    struct oci_mount m = {xstrdup(dest), xstrdup(type), xstrdup(source), {0}};
    for (size_t i = 0; i < n_options; i++)
        oci_strv_push(&m.options, options[i]);
    s->mounts = xrealloc(s->mounts, (s->n_mounts + 1) * sizeof(*s->mounts));
    s->mounts[s->n_mounts++] = m;
}

static void add_device_rule(struct oci_resources *r, const char *type, int64_t major, int64_t minor,
                            bool has_minor, const char *access)
{
    r->devices = xrealloc(r->devices, (r->n_devices + 1) * sizeof(*r->devices));
    r->devices[r->n_devices++] = (struct oci_device_cgroup){
        .allow = true,
        .type = xstrdup(type),
        .has_major = true,
        .major = major,
        .has_minor = has_minor,
        .minor = minor,
        .access = xstrdup(access),
    };
}

void oci_with_default_unix_devices(struct oci_spec *s)
{
    static const struct {
        int64_t major, minor;
        bool has_minor;
    } devs[] = {{1, 3, true}, {1, 8, true}, {1, 7, true},    {5, 0, true}, {1, 5, true},
                {1, 9, true}, {5, 1, true}, {136, 0, false}, {5, 2, true}};
    s->linux_.has_resources = true;
    for (size_t i = 0; i < ARRAY_SIZE(devs); i++)
        add_device_rule(&s->linux_.resources, "c", devs[i].major, devs[i].minor, devs[i].has_minor,
                        "rwm");
}

void oci_with_process_args(struct oci_spec *s, char *const *args, size_t n)
{
    oci_strv_clear(&s->process.args);
    for (size_t i = 0; i < n; i++)
        oci_strv_push(&s->process.args, args[i]);
}

void oci_with_tty(struct oci_spec *s)
{
    s->process.terminal = true;
    oci_strv_push(&s->process.env, "TERM=xterm");
}

void oci_with_host_network(struct oci_spec *s, const char *hostname)
{
    /* WithHostNamespace(network): the first network entry goes */
    struct oci_linux *l = &s->linux_;
    for (size_t i = 0; i < l->n_namespaces; i++) {
        if (strcmp(l->namespaces[i].type, "network") == 0) {
            free(l->namespaces[i].type);
            free(l->namespaces[i].path);
            memmove(&l->namespaces[i], &l->namespaces[i + 1],
                    (l->n_namespaces - i - 1) * sizeof(*l->namespaces));
            l->n_namespaces--;
            break;
        }
    }
    static const char *const ro_bind[] = {"rbind", "ro"};
    append_mount(s, "/etc/hosts", "bind", "/etc/hosts", ro_bind, 2);
    append_mount(s, "/etc/resolv.conf", "bind", "/etc/resolv.conf", ro_bind, 2);
    _cleanup_free_ char *env = xasprintf("HOSTNAME=%s", hostname);
    char *vars[] = {env};
    oci_with_env(s, vars, 1);
}

void oci_with_linux_namespace(struct oci_spec *s, const char *type, const char *path)
{
    struct oci_linux *l = &s->linux_;
    for (size_t i = 0; i < l->n_namespaces; i++) {
        if (strcmp(l->namespaces[i].type, type) == 0) {
            oci_set_string(&l->namespaces[i].path, path);
            return;
        }
    }
    l->namespaces = xrealloc(l->namespaces, (l->n_namespaces + 1) * sizeof(*l->namespaces));
    l->namespaces[l->n_namespaces].type = xstrdup(type);
    l->namespaces[l->n_namespaces].path = path && *path ? xstrdup(path) : NULL;
    l->n_namespaces++;
}

void oci_with_annotation(struct oci_spec *s, const char *key, const char *value)
{
    size_t i = 0;
    while (i < s->n_annotations && strcmp(s->annotations[i].key, key) < 0)
        i++;
    if (i < s->n_annotations && strcmp(s->annotations[i].key, key) == 0) {
        free(s->annotations[i].value);
        s->annotations[i].value = xstrdup(value);
        return;
    }
    s->annotations = xrealloc(s->annotations, (s->n_annotations + 1) * sizeof(*s->annotations));
    memmove(&s->annotations[i + 1], &s->annotations[i],
            (s->n_annotations - i) * sizeof(*s->annotations));
    s->annotations[i] = (struct oci_kv){xstrdup(key), xstrdup(value)};
    s->n_annotations++;
}

void oci_with_added_capabilities(struct oci_spec *s, char *const *caps, size_t n)
{
    struct oci_capabilities *c = &s->process.capabilities;
    s->process.has_capabilities = true;
    for (size_t i = 0; i < n; i++) {
        struct oci_strv *sets[] = {&c->bounding, &c->effective, &c->permitted};
        for (size_t j = 0; j < ARRAY_SIZE(sets); j++)
            if (!oci_strv_contains(sets[j], caps[i]))
                oci_strv_push(sets[j], caps[i]);
    }
}

void oci_with_dropped_capabilities(struct oci_spec *s, char *const *caps, size_t n)
{
    struct oci_capabilities *c = &s->process.capabilities;
    s->process.has_capabilities = true;
    for (size_t i = 0; i < n; i++) {
        struct oci_strv *sets[] = {&c->bounding, &c->effective, &c->permitted, &c->inheritable};
        for (size_t j = 0; j < ARRAY_SIZE(sets); j++)
            oci_strv_remove(sets[j], caps[i]);
    }
}

/* Capability names by bit, as containerd's pkg/cap knows them (kernel 5.9). */
static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

int oci_current_capabilities(struct oci_strv *ret, struct berth_error **err)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return err_make(err, ERR_UNKNOWN, errno, "open /proc/self/status");
    char line[256];
    bool found = false;
    uint64_t eff = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "CapEff:", 7) == 0) {
            char *end;
            errno = 0;
            eff = strtoull(line + 7, &end, 16);
            found = errno == 0 && end != line + 7;
            break;
        }
    }
    fclose(f);
    if (!found)
        return err_make(err, ERR_UNKNOWN, 0, "no CapEff in /proc/self/status");
    oci_strv_clear(ret);
    for (size_t bit = 0; bit < ARRAY_SIZE(cap_names); bit++)
        if (eff & (1ULL << bit))
            oci_strv_push(ret, cap_names[bit]);
    return 0;
}

int oci_with_privileged(struct oci_spec *s, struct berth_error **err)
{
    /* WithAllCurrentCapabilities = WithCapabilities(cap.Current()) */
    struct oci_strv caps = {0};
    if (oci_current_capabilities(&caps, err) < 0)
        return -1;
    struct oci_capabilities *c = &s->process.capabilities;
    s->process.has_capabilities = true;
    oci_strv_copy(&c->bounding, &caps);
    oci_strv_copy(&c->effective, &caps);
    oci_strv_copy(&c->permitted, &caps);
    if (caps.n == 0) {
        oci_strv_clear(&c->inheritable);
    } else {
        struct oci_strv kept = {0};
        for (size_t i = 0; i < c->inheritable.n; i++)
            if (oci_strv_contains(&caps, c->inheritable.v[i]))
                oci_strv_push(&kept, c->inheritable.v[i]);
        oci_strv_clear(&c->inheritable);
        c->inheritable = kept;
    }
    oci_strv_clear(&caps);
    oci_strv_clear(&s->linux_.masked_paths);
    oci_strv_clear(&s->linux_.readonly_paths);
    for (size_t i = 0; i < s->n_mounts; i++) {
        const char *type = s->mounts[i].type ? s->mounts[i].type : "";
        if (strcmp(type, "sysfs") != 0 && strcmp(type, "cgroup") != 0)
            continue;
        for (size_t j = 0; j < s->mounts[i].options.n; j++) {
            if (strcmp(s->mounts[i].options.v[j], "ro") == 0) {
                free(s->mounts[i].options.v[j]);
                s->mounts[i].options.v[j] = xstrdup("rw");
            }
        }
    }
    oci_set_string(&s->process.selinux_label, NULL);
    oci_set_string(&s->process.apparmor_profile, NULL);
    oci_seccomp_free(s->linux_.seccomp);
    s->linux_.seccomp = NULL;
    return 0;
}

void oci_with_all_devices_allowed(struct oci_spec *s)
{
    struct oci_resources *r = &s->linux_.resources;
    s->linux_.has_resources = true;
    for (size_t i = 0; i < r->n_devices; i++) {
        free(r->devices[i].type);
        free(r->devices[i].access);
    }
    r->devices = xrealloc(r->devices, sizeof(*r->devices));
    r->devices[0] = (struct oci_device_cgroup){.allow = true, .access = xstrdup("rwm")};
    r->n_devices = 1;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* getDevices("/dev", ""): os.ReadDir order (sorted), skipping what containerd skips. */
static int walk_devices(struct oci_linux *l, const char *dir, int depth, struct berth_error **err)
{
    if (depth > DEVICE_WALK_MAX_DEPTH)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "%s: nested too deep", dir);
    DIR *d = opendir(dir);
    if (!d)
        return err_make(err, ERR_UNKNOWN, errno, "open %s", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        names = xreallocarray_grow(names, &cap, n + 1, sizeof(*names));
        names[n++] = xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), compare_names);
    static const char *const skipped_dirs[] = {"pts",  "shm",         "fd",   "mqueue",
                                               ".lxc", ".lxd-mounts", ".udev"};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, names[i]);
        struct stat st;
        if (lstat(path, &st) < 0) {
            if (errno != ENOENT)
                rc = err_make(err, ERR_UNKNOWN, errno, "lstat %s", path);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            bool skip = false;
            for (size_t j = 0; j < ARRAY_SIZE(skipped_dirs); j++)
                skip = skip || strcmp(names[i], skipped_dirs[j]) == 0;
            if (!skip)
                rc = walk_devices(l, path, depth + 1, err);
            continue;
        }
        if (strcmp(names[i], "console") == 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
            continue;
        l->devices = xrealloc(l->devices, (l->n_devices + 1) * sizeof(*l->devices));
        l->devices[l->n_devices++] = (struct oci_device){
            .path = xstrdup(path),
            .type = xstrdup(S_ISBLK(st.st_mode) ? "b" : "c"),
            .major = major(st.st_rdev),
            .minor = minor(st.st_rdev),
            .file_mode = st.st_mode & ~(unsigned)S_IFMT,
            .uid = st.st_uid,
            .gid = st.st_gid,
        };
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int oci_with_host_devices(struct oci_spec *s, struct berth_error **err)
{
    return walk_devices(&s->linux_, "/dev", 0, err);
}

void oci_with_memory_limit(struct oci_spec *s, uint64_t limit)
{
    s->linux_.has_resources = true;
    s->linux_.resources.has_memory_limit = true;
    s->linux_.resources.memory_limit = (int64_t)limit;
}

static struct oci_cpu *cpu(struct oci_spec *s)
{
    s->linux_.has_resources = true;
    s->linux_.resources.has_cpu = true;
    return &s->linux_.resources.cpu;
}

void oci_with_cpu_shares(struct oci_spec *s, uint64_t shares)
{
    struct oci_cpu *c = cpu(s);
    c->has_shares = true;
    c->shares = shares;
}

void oci_with_cpu_cfs(struct oci_spec *s, int64_t quota, uint64_t period)
{
    struct oci_cpu *c = cpu(s);
    c->has_quota = c->has_period = true;
    c->quota = quota;
    c->period = period;
}

void oci_with_cpus(struct oci_spec *s, const char *cpus)
{
    oci_set_string(&cpu(s)->cpus, cpus);
}

void oci_with_cpu_mems(struct oci_spec *s, const char *mems)
{
    oci_set_string(&cpu(s)->mems, mems);
}
