/* The spec ctr run and ctr containers create build: their flags applied in containerd's order. */
#include "core/oci/opts.h"
#include "lib/base/alloc.h"

#include <string.h>

static bool valid_namespace(const char *t)
{
    static const char *const types[] = {"pid", "network", "uts", "mount", "user", "ipc", "cgroup"};
    for (size_t i = 0; i < ARRAY_SIZE(types); i++)
        if (strcmp(t, types[i]) == 0)
            return true;
    return false;
}

static int check_caps(char *const *caps, size_t n, struct berth_error **err)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(caps[i], "CAP_", 4) != 0)
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "capabilities must be specified with 'CAP_' prefix");
    return 0;
}

static int apply(struct oci_spec *s, const struct oci_run_options *o, struct berth_error **err)
{
    oci_with_default_unix_devices(s);
    if (o->env_file && *o->env_file && oci_with_env_file(s, o->env_file, err) < 0)
        return -1;
    oci_with_env(s, o->env, o->n_env);
    if (o->n_mounts > 0) {
        struct oci_mount *mounts = xcalloc(o->n_mounts, sizeof(*mounts));
        for (size_t i = 0; i < o->n_mounts; i++) {
            if (oci_parse_mount(o->mounts[i], &mounts[i], err) < 0) {
                for (size_t j = 0; j < i; j++)
                    oci_mount_clear(&mounts[j]);
                free(mounts);
                return -1;
            }
        }
        oci_with_mounts(s, mounts, o->n_mounts);
        free(mounts);
    }
    if (o->rootfs)
        oci_set_string(&s->root_path, o->rootfs);
    else if (o->image && oci_with_image_config(s, o->image, o->root_fd, err) < 0)
        return -1;
    if (o->read_only)
        s->root_readonly = true;
    if (o->n_args > 0)
        oci_with_process_args(s, o->args, o->n_args);
    if (o->cwd && *o->cwd)
        oci_set_string(&s->process.cwd, o->cwd);
    if (o->user && *o->user) {
        if (oci_with_user(s, o->user, o->root_fd, err) < 0 ||
            oci_with_additional_gids(s, o->user, o->root_fd, err) < 0)
            return -1;
    }
    if (o->tty)
        oci_with_tty(s);
    if (o->privileged_without_host_devices && !o->privileged)
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "can't use 'privileged-without-host-devices' without 'privileged' "
                        "specified");
    if (o->privileged) {
        if (oci_with_privileged(s, err) < 0)
            return -1;
        if (!o->privileged_without_host_devices) {
            oci_with_all_devices_allowed(s);
            if (oci_with_host_devices(s, err) < 0)
                return -1;
        }
    }
    if (o->net_host)
        oci_with_host_network(s, o->host_hostname ? o->host_hostname : "");
    for (size_t i = 0; i < o->n_annotations; i++) {
        const char *eq = strchr(o->annotations[i], '=');
        if (!eq)
            return err_make(err, ERR_INVALID_ARGUMENT, 0, "invalid key=value format annotation: %s",
                            o->annotations[i]);
        _cleanup_free_ char *key = xstrndup(o->annotations[i], (size_t)(eq - o->annotations[i]));
        oci_with_annotation(s, key, eq + 1);
    }
    if (o->n_cap_add > 0) {
        if (check_caps(o->cap_add, o->n_cap_add, err) < 0)
            return -1;
        oci_with_added_capabilities(s, o->cap_add, o->n_cap_add);
    }
    if (o->n_cap_drop > 0) {
        if (check_caps(o->cap_drop, o->n_cap_drop, err) < 0)
            return -1;
        oci_with_dropped_capabilities(s, o->cap_drop, o->n_cap_drop);
    }
    if (o->seccomp) {
        oci_seccomp_free(s->linux_.seccomp);
        s->linux_.seccomp = oci_seccomp_default(s);
    }
    if (o->cpus > 0.0)
        oci_with_cpu_cfs(s, (int64_t)(o->cpus * 100000.0), 100000);
    if (o->cpuset_cpus && *o->cpuset_cpus)
        oci_with_cpus(s, o->cpuset_cpus);
    if (o->cpuset_mems && *o->cpuset_mems)
        oci_with_cpu_mems(s, o->cpuset_mems);
    if (o->cpu_shares > 0)
        oci_with_cpu_shares(s, (uint64_t)o->cpu_shares);
    if (o->cpu_quota != -1 || o->cpu_period != 0) {
        if (o->cpus > 0.0)
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "cpus and quota/period should be used separately");
        oci_with_cpu_cfs(s, o->cpu_quota, o->cpu_period);
    }
    for (size_t i = 0; i < o->n_with_ns; i++) {
        const char *colon = strchr(o->with_ns[i], ':');
        if (!colon)
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "joining a Linux namespace using --with-ns requires the format "
                            "'nstype:path'");
        _cleanup_free_ char *type = xstrndup(o->with_ns[i], (size_t)(colon - o->with_ns[i]));
        if (!valid_namespace(type))
            return err_make(err, ERR_INVALID_ARGUMENT, 0,
                            "the Linux namespace type specified in --with-ns is not valid: %s",
                            type);
        oci_with_linux_namespace(s, type, colon + 1);
    }
    if (o->allow_new_privs)
        s->process.no_new_privileges = false;
    if (o->has_cgroup)
        oci_set_string(&s->linux_.cgroups_path, o->cgroup);
    if (o->memory_limit != 0)
        oci_with_memory_limit(s, o->memory_limit);
    if (o->rootfs_propagation && *o->rootfs_propagation)
        oci_set_string(&s->linux_.rootfs_propagation, o->rootfs_propagation);
    if (o->hostname && *o->hostname)
        oci_set_string(&s->hostname, o->hostname);
    /* ctr's labels also become annotations (commands.LabelArgs: "k" alone means "true") */
    for (size_t i = 0; i < o->n_labels; i++) {
        const char *eq = strchr(o->labels[i], '=');
        _cleanup_free_ char *key =
            eq ? xstrndup(o->labels[i], (size_t)(eq - o->labels[i])) : xstrdup(o->labels[i]);
        oci_with_annotation(s, key, eq ? eq + 1 : "true");
    }
    return 0;
}

int oci_spec_for_run(const struct oci_run_options *o, struct oci_spec **ret,
                     struct berth_error **err)
{
    struct oci_spec *s = oci_spec_new_default(o->namespace_name, o->id);
    if (apply(s, o, err) < 0) {
        oci_spec_free(s);
        return -1;
    }
    *ret = s;
    return 0;
}
