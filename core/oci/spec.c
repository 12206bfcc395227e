/* containerd's default Linux spec, and its Go-exact JSON encoding (specs.Spec field order). */
#include "core/oci/spec.h"
#include "core/oci/opts.h"
#include "lib/base/alloc.h"
#include "lib/json/json_writer.h"

#include <stdio.h>
#include <string.h>

void oci_strv_push(struct oci_strv *s, const char *value)
{
    s->v = xrealloc(s->v, (s->n + 2) * sizeof(*s->v));
    s->v[s->n++] = xstrdup(value);
    s->v[s->n] = NULL;
}

void oci_strv_clear(struct oci_strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

bool oci_strv_contains(const struct oci_strv *s, const char *value)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], value) == 0)
            return true;
    return false;
}

void oci_strv_remove(struct oci_strv *s, const char *value)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i], value) == 0)
            free(s->v[i]);
        else
            s->v[kept++] = s->v[i];
    }
    s->n = kept;
    if (s->v)
        s->v[kept] = NULL;
}

void oci_strv_copy(struct oci_strv *dst, const struct oci_strv *src)
{
    oci_strv_clear(dst);
    for (size_t i = 0; i < src->n; i++)
        oci_strv_push(dst, src->v[i]);
}

static void strv_set(struct oci_strv *s, const char *const *values, size_t n)
{
    oci_strv_clear(s);
    for (size_t i = 0; i < n; i++)
        oci_strv_push(s, values[i]);
}

static const char *const default_caps[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};

static const char *const default_masked[] = {
    "/proc/acpi",          "/proc/asound",
    "/proc/kcore",         "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats",   "/proc/sched_debug",
    "/sys/firmware",       "/sys/devices/virtual/powercap",
    "/proc/scsi",
};

static const char *const default_readonly[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static const struct {
    const char *destination, *type, *source, *options[7];
} default_mounts[] = {
    {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
    {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
    {"/dev/pts",
     "devpts",
     "devpts",
     {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
    {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
    {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
    {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
    {"/run", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
};

static const char *const default_namespaces[] = {"pid", "ipc", "uts", "mount", "network"};

struct oci_spec *oci_spec_new_default(const char *namespace_name, const char *id)
{
    struct oci_spec *s = xcalloc(1, sizeof(*s));
    s->version = xstrdup(OCI_VERSION);
    s->root_path = xstrdup("rootfs");
    struct oci_process *p = &s->process;
    p->cwd = xstrdup("/");
    p->no_new_privileges = true;
    p->has_capabilities = true;
    strv_set(&p->capabilities.bounding, default_caps, ARRAY_SIZE(default_caps));
    strv_set(&p->capabilities.permitted, default_caps, ARRAY_SIZE(default_caps));
    strv_set(&p->capabilities.effective, default_caps, ARRAY_SIZE(default_caps));
    p->rlimits = xcalloc(1, sizeof(*p->rlimits));
    p->rlimits[0] = (struct oci_rlimit){xstrdup("RLIMIT_NOFILE"), 1024, 1024};
    p->n_rlimits = 1;

    struct oci_linux *l = &s->linux_;
    strv_set(&l->masked_paths, default_masked, ARRAY_SIZE(default_masked));
    strv_set(&l->readonly_paths, default_readonly, ARRAY_SIZE(default_readonly));
    /* filepath.Join("/", ns, id): ids are validated identifiers, so no cleaning is needed */
    l->cgroups_path = xasprintf("/%s/%s", namespace_name, id);
    l->has_resources = true;
    l->resources.devices = xcalloc(1, sizeof(*l->resources.devices));
    l->resources.devices[0] = (struct oci_device_cgroup){.allow = false, .access = xstrdup("rwm")};
    l->resources.n_devices = 1;
    l->namespaces = xcalloc(ARRAY_SIZE(default_namespaces), sizeof(*l->namespaces));
    for (size_t i = 0; i < ARRAY_SIZE(default_namespaces); i++)
        l->namespaces[i].type = xstrdup(default_namespaces[i]);
    l->n_namespaces = ARRAY_SIZE(default_namespaces);

    s->mounts = xcalloc(ARRAY_SIZE(default_mounts), sizeof(*s->mounts));
    for (size_t i = 0; i < ARRAY_SIZE(default_mounts); i++) {
        struct oci_mount *m = &s->mounts[i];
        m->destination = xstrdup(default_mounts[i].destination);
        m->type = xstrdup(default_mounts[i].type);
        m->source = xstrdup(default_mounts[i].source);
        for (size_t j = 0;
             j < ARRAY_SIZE(default_mounts[i].options) && default_mounts[i].options[j]; j++)
            oci_strv_push(&m->options, default_mounts[i].options[j]);
    }
    s->n_mounts = ARRAY_SIZE(default_mounts);
    return s;
}

static void capabilities_clear(struct oci_capabilities *c)
{
    oci_strv_clear(&c->bounding);
    oci_strv_clear(&c->effective);
    oci_strv_clear(&c->inheritable);
    oci_strv_clear(&c->permitted);
    oci_strv_clear(&c->ambient);
}

void oci_seccomp_free(struct oci_seccomp *p)
{
    if (!p)
        return;
    oci_strv_clear(&p->architectures);
    for (size_t i = 0; i < p->n_syscalls; i++) {
        oci_strv_clear(&p->syscalls[i].names);
        free(p->syscalls[i].args);
    }
    free(p->syscalls);
    free(p);
}

void oci_spec_free(struct oci_spec *s)
{
    if (!s)
        return;
    free(s->version);
    struct oci_process *p = &s->process;
    free(p->additional_gids);
    oci_strv_clear(&p->args);
    oci_strv_clear(&p->env);
    free(p->cwd);
    capabilities_clear(&p->capabilities);
    for (size_t i = 0; i < p->n_rlimits; i++)
        free(p->rlimits[i].type);
    free(p->rlimits);
    free(p->apparmor_profile);
    free(p->selinux_label);
    free(s->root_path);
    free(s->hostname);
    free(s->domainname);
    for (size_t i = 0; i < s->n_mounts; i++)
        oci_mount_clear(&s->mounts[i]);
    free(s->mounts);
    for (size_t i = 0; i < s->n_annotations; i++) {
        free(s->annotations[i].key);
        free(s->annotations[i].value);
    }
    free(s->annotations);
    struct oci_linux *l = &s->linux_;
    for (size_t i = 0; i < l->resources.n_devices; i++) {
        free(l->resources.devices[i].type);
        free(l->resources.devices[i].access);
    }
    free(l->resources.devices);
    free(l->resources.cpu.cpus);
    free(l->resources.cpu.mems);
    free(l->cgroups_path);
    for (size_t i = 0; i < l->n_namespaces; i++) {
        free(l->namespaces[i].type);
        free(l->namespaces[i].path);
    }
    free(l->namespaces);
    for (size_t i = 0; i < l->n_devices; i++) {
        free(l->devices[i].path);
        free(l->devices[i].type);
    }
    free(l->devices);
    oci_seccomp_free(l->seccomp);
    free(l->rootfs_propagation);
    oci_strv_clear(&l->masked_paths);
    oci_strv_clear(&l->readonly_paths);
    free(l->intel_rdt_clos_id);
    free(s);
}

/* ---- JSON, in specs-go's declaration order with its omitempty rules ---- */

static bool set(const char *s)
{
    return s && *s;
}

static void put_string_field(struct json_writer *w, const char *key, const char *value)
{
    if (set(value)) {
        json_writer_key(w, key);
        json_writer_string(w, value);
    }
}

static void put_strv(struct json_writer *w, const struct oci_strv *s)
{
    json_writer_begin_array(w);
    for (size_t i = 0; i < s->n; i++)
        json_writer_string(w, s->v[i]);
    json_writer_end_array(w);
}

static void put_strv_field(struct json_writer *w, const char *key, const struct oci_strv *s)
{
    if (s->n > 0) {
        json_writer_key(w, key);
        put_strv(w, s);
    }
}

static void put_uint(struct json_writer *w, uint64_t v)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    json_writer_raw(w, buf, (size_t)n);
}

static void put_process(struct json_writer *w, const struct oci_process *p)
{
    json_writer_begin_object(w);
    if (p->terminal) {
        json_writer_key(w, "terminal");
        json_writer_bool(w, true);
    }
    json_writer_key(w, "user");
    json_writer_begin_object(w);
    json_writer_key(w, "uid");
    json_writer_int(w, p->uid);
    json_writer_key(w, "gid");
    json_writer_int(w, p->gid);
    if (p->n_additional_gids > 0) {
        json_writer_key(w, "additionalGids");
        json_writer_begin_array(w);
        for (size_t i = 0; i < p->n_additional_gids; i++)
            json_writer_int(w, p->additional_gids[i]);
        json_writer_end_array(w);
    }
    json_writer_end_object(w);
    put_strv_field(w, "args", &p->args);
    put_strv_field(w, "env", &p->env);
    json_writer_key(w, "cwd");
    json_writer_string(w, p->cwd ? p->cwd : "");
    if (p->has_capabilities) {
        const struct oci_capabilities *c = &p->capabilities;
        json_writer_key(w, "capabilities");
        json_writer_begin_object(w);
        put_strv_field(w, "bounding", &c->bounding);
        put_strv_field(w, "effective", &c->effective);
        put_strv_field(w, "inheritable", &c->inheritable);
        put_strv_field(w, "permitted", &c->permitted);
        put_strv_field(w, "ambient", &c->ambient);
        json_writer_end_object(w);
    }
    if (p->n_rlimits > 0) {
        json_writer_key(w, "rlimits");
        json_writer_begin_array(w);
        for (size_t i = 0; i < p->n_rlimits; i++) {
            json_writer_begin_object(w);
            json_writer_key(w, "type");
            json_writer_string(w, p->rlimits[i].type);
            json_writer_key(w, "hard");
            put_uint(w, p->rlimits[i].hard);
            json_writer_key(w, "soft");
            put_uint(w, p->rlimits[i].soft);
            json_writer_end_object(w);
        }
        json_writer_end_array(w);
    }
    if (p->no_new_privileges) {
        json_writer_key(w, "noNewPrivileges");
        json_writer_bool(w, true);
    }
    put_string_field(w, "apparmorProfile", p->apparmor_profile);
    put_string_field(w, "selinuxLabel", p->selinux_label);
    json_writer_end_object(w);
}

static void put_mount(struct json_writer *w, const struct oci_mount *m)
{
    json_writer_begin_object(w);
    json_writer_key(w, "destination");
    json_writer_string(w, m->destination ? m->destination : "");
    put_string_field(w, "type", m->type);
    put_string_field(w, "source", m->source);
    put_strv_field(w, "options", &m->options);
    json_writer_end_object(w);
}

static void put_resources(struct json_writer *w, const struct oci_resources *r)
{
    json_writer_begin_object(w);
    if (r->n_devices > 0) {
        json_writer_key(w, "devices");
        json_writer_begin_array(w);
        for (size_t i = 0; i < r->n_devices; i++) {
            const struct oci_device_cgroup *d = &r->devices[i];
            json_writer_begin_object(w);
            json_writer_key(w, "allow");
            json_writer_bool(w, d->allow);
            put_string_field(w, "type", d->type);
            if (d->has_major) {
                json_writer_key(w, "major");
                json_writer_int(w, d->major);
            }
            if (d->has_minor) {
                json_writer_key(w, "minor");
                json_writer_int(w, d->minor);
            }
            put_string_field(w, "access", d->access);
            json_writer_end_object(w);
        }
        json_writer_end_array(w);
    }
    if (r->has_memory_limit) {
        json_writer_key(w, "memory");
        json_writer_begin_object(w);
        json_writer_key(w, "limit");
        json_writer_int(w, r->memory_limit);
        json_writer_end_object(w);
    }
    if (r->has_cpu) {
        const struct oci_cpu *c = &r->cpu;
        json_writer_key(w, "cpu");
        json_writer_begin_object(w);
        if (c->has_shares) {
            json_writer_key(w, "shares");
            put_uint(w, c->shares);
        }
        if (c->has_quota) {
            json_writer_key(w, "quota");
            json_writer_int(w, c->quota);
        }
        if (c->has_burst) {
            json_writer_key(w, "burst");
            put_uint(w, c->burst);
        }
        if (c->has_period) {
            json_writer_key(w, "period");
            put_uint(w, c->period);
        }
        put_string_field(w, "cpus", c->cpus);
        put_string_field(w, "mems", c->mems);
        json_writer_end_object(w);
    }
    json_writer_end_object(w);
}

static void put_seccomp(struct json_writer *w, const struct oci_seccomp *p)
{
    json_writer_begin_object(w);
    json_writer_key(w, "defaultAction");
    json_writer_string(w, p->default_action);
    put_strv_field(w, "architectures", &p->architectures);
    if (p->n_syscalls > 0) {
        json_writer_key(w, "syscalls");
        json_writer_begin_array(w);
        for (size_t i = 0; i < p->n_syscalls; i++) {
            const struct oci_syscall *c = &p->syscalls[i];
            json_writer_begin_object(w);
            json_writer_key(w, "names");
            put_strv(w, &c->names); /* not omitempty */
            json_writer_key(w, "action");
            json_writer_string(w, c->action);
            if (c->has_errno_ret) {
                json_writer_key(w, "errnoRet");
                put_uint(w, c->errno_ret);
            }
            if (c->n_args > 0) {
                json_writer_key(w, "args");
                json_writer_begin_array(w);
                for (size_t j = 0; j < c->n_args; j++) {
                    const struct oci_seccomp_arg *a = &c->args[j];
                    json_writer_begin_object(w);
                    json_writer_key(w, "index");
                    put_uint(w, a->index);
                    json_writer_key(w, "value");
                    put_uint(w, a->value);
                    if (a->value_two) {
                        json_writer_key(w, "valueTwo");
                        put_uint(w, a->value_two);
                    }
                    json_writer_key(w, "op");
                    json_writer_string(w, a->op);
                    json_writer_end_object(w);
                }
                json_writer_end_array(w);
            }
            json_writer_end_object(w);
        }
        json_writer_end_array(w);
    }
    json_writer_end_object(w);
}

static void put_linux(struct json_writer *w, const struct oci_linux *l)
{
    json_writer_begin_object(w);
    if (l->has_resources) {
        json_writer_key(w, "resources");
        put_resources(w, &l->resources);
    }
    put_string_field(w, "cgroupsPath", l->cgroups_path);
    if (l->n_namespaces > 0) {
        json_writer_key(w, "namespaces");
        json_writer_begin_array(w);
        for (size_t i = 0; i < l->n_namespaces; i++) {
            json_writer_begin_object(w);
            json_writer_key(w, "type");
            json_writer_string(w, l->namespaces[i].type);
            put_string_field(w, "path", l->namespaces[i].path);
            json_writer_end_object(w);
        }
        json_writer_end_array(w);
    }
    if (l->n_devices > 0) {
        json_writer_key(w, "devices");
        json_writer_begin_array(w);
        for (size_t i = 0; i < l->n_devices; i++) {
            const struct oci_device *d = &l->devices[i];
            json_writer_begin_object(w);
            json_writer_key(w, "path");
            json_writer_string(w, d->path);
            json_writer_key(w, "type");
            json_writer_string(w, d->type);
            json_writer_key(w, "major");
            json_writer_int(w, d->major);
            json_writer_key(w, "minor");
            json_writer_int(w, d->minor);
            json_writer_key(w, "fileMode");
            json_writer_int(w, d->file_mode);
            json_writer_key(w, "uid");
            json_writer_int(w, d->uid);
            json_writer_key(w, "gid");
            json_writer_int(w, d->gid);
            json_writer_end_object(w);
        }
        json_writer_end_array(w);
    }
    if (l->seccomp) {
        json_writer_key(w, "seccomp");
        put_seccomp(w, l->seccomp);
    }
    put_string_field(w, "rootfsPropagation", l->rootfs_propagation);
    put_strv_field(w, "maskedPaths", &l->masked_paths);
    put_strv_field(w, "readonlyPaths", &l->readonly_paths);
    if (l->intel_rdt_clos_id) {
        json_writer_key(w, "intelRdt");
        json_writer_begin_object(w);
        put_string_field(w, "closID", l->intel_rdt_clos_id);
        json_writer_end_object(w);
    }
    json_writer_end_object(w);
}

char *oci_spec_to_json(const struct oci_spec *s, size_t *ret_len)
{
    struct json_writer w;
    json_writer_init(&w);
    json_writer_begin_object(&w);
    json_writer_key(&w, "ociVersion");
    json_writer_string(&w, s->version ? s->version : "");
    json_writer_key(&w, "process");
    put_process(&w, &s->process);
    json_writer_key(&w, "root");
    json_writer_begin_object(&w);
    json_writer_key(&w, "path");
    json_writer_string(&w, s->root_path ? s->root_path : "");
    if (s->root_readonly) {
        json_writer_key(&w, "readonly");
        json_writer_bool(&w, true);
    }
    json_writer_end_object(&w);
    put_string_field(&w, "hostname", s->hostname);
    put_string_field(&w, "domainname", s->domainname);
    if (s->n_mounts > 0) {
        json_writer_key(&w, "mounts");
        json_writer_begin_array(&w);
        for (size_t i = 0; i < s->n_mounts; i++)
            put_mount(&w, &s->mounts[i]);
        json_writer_end_array(&w);
    }
    if (s->n_annotations > 0) {
        json_writer_key(&w, "annotations");
        json_writer_begin_object(&w);
        for (size_t i = 0; i < s->n_annotations; i++) {
            json_writer_key(&w, s->annotations[i].key);
            json_writer_string(&w, s->annotations[i].value);
        }
        json_writer_end_object(&w);
    }
    json_writer_key(&w, "linux");
    put_linux(&w, &s->linux_);
    json_writer_end_object(&w);
    return json_writer_steal(&w, ret_len);
}
