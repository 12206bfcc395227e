/* The spec options ctr applies (containerd's pkg/oci SpecOpts), on Berth's oci_spec. */
#pragma once

#include "core/oci/spec.h"

/* Extra environment: replaceOrAppendEnvValues (KEY=v replaces KEY, a bare KEY removes it). */
void oci_with_env(struct oci_spec *s, char *const *vars, size_t n);
/* WithEnvFile: one variable per line; bounded (1 MiB). */
int oci_with_env_file(struct oci_spec *s, const char *path, struct berth_error **err);
/*
 * ctr's --mount "type=bind,src=/a,dst=/b,options=rbind:ro" (CSV fields; keys type, source|src,
 * destination|dst, options). The mounts replace defaults with the same destination.
 */
int oci_parse_mount(const char *text, struct oci_mount *ret, struct berth_error **err);
void oci_with_mounts(struct oci_spec *s, struct oci_mount *mounts, size_t n); /* takes them */
void oci_mount_clear(struct oci_mount *m);

void oci_with_default_unix_devices(struct oci_spec *s);
void oci_with_process_args(struct oci_spec *s, char *const *args, size_t n);
void oci_with_tty(struct oci_spec *s);
void oci_with_host_network(struct oci_spec *s, const char *hostname); /* --net-host */
void oci_with_linux_namespace(struct oci_spec *s, const char *type, const char *path);
/* Sets annotations (or replaces values of existing keys). */
void oci_with_annotation(struct oci_spec *s, const char *key, const char *value);
void oci_with_added_capabilities(struct oci_spec *s, char *const *caps, size_t n);
void oci_with_dropped_capabilities(struct oci_spec *s, char *const *caps, size_t n);
/* WithPrivileged: all current capabilities (from /proc/self/status), no masks, rw sysfs... */
int oci_with_privileged(struct oci_spec *s, struct berth_error **err);
void oci_with_all_devices_allowed(struct oci_spec *s);
/* WithHostDevices: every device node under /dev, as containerd walks it. */
int oci_with_host_devices(struct oci_spec *s, struct berth_error **err);
void oci_with_memory_limit(struct oci_spec *s, uint64_t limit);
void oci_with_cpu_shares(struct oci_spec *s, uint64_t shares);
void oci_with_cpu_cfs(struct oci_spec *s, int64_t quota, uint64_t period);
void oci_with_cpus(struct oci_spec *s, const char *cpus);
void oci_with_cpu_mems(struct oci_spec *s, const char *mems);
void oci_set_string(char **field, const char *value); /* NULL or "" clears */

/* Capability names known to this host, in containerd's cap.Current order, from CapBnd. */
int oci_current_capabilities(struct oci_strv *ret, struct berth_error **err);

/* ---- the image config (WithImageConfig) ---- */
struct oci_image_config {
    struct oci_strv env, entrypoint, cmd;
    char *working_dir, *user;
};
void oci_image_config_clear(struct oci_image_config *c);
/* Reads config.{Env,Entrypoint,Cmd,WorkingDir,User} of an image config document (json-c). */
struct json_object;
int oci_image_config_from_json(struct json_object *doc, struct oci_image_config *ret,
                               struct berth_error **err);

/*
 * User resolution reads /etc/passwd and /etc/group inside `root_fd` (the container's rootfs,
 * mounted read-only by the caller); paths resolve within it (openat2 RESOLVE_IN_ROOT), so links
 * in the image cannot point outside. root_fd < 0 means no rootfs is at hand: as containerd with
 * a missing file, name lookups fail and numeric ones keep gid 0.
 */
/*
 * WithImageConfig: Env merged over the image's (PATH default), Entrypoint+Cmd, WorkingDir (or
 * /), the image's User, then WithAdditionalGIDs.
 */
int oci_with_image_config(struct oci_spec *s, const struct oci_image_config *c, int root_fd,
                          struct berth_error **err);
/* WithUser: "uid", "name", "uid:gid", "name:group" ... resolved in the rootfs. */
int oci_with_user(struct oci_spec *s, const char *user, int root_fd, struct berth_error **err);
/* WithAdditionalGIDs: the groups listing the user (by name, or the name of a numeric uid). */
int oci_with_additional_gids(struct oci_spec *s, const char *user, int root_fd,
                             struct berth_error **err);

/* seccomp.DefaultProfile for this architecture and the spec's bounding capabilities. */
struct oci_seccomp *oci_seccomp_default(const struct oci_spec *s);
void oci_seccomp_free(struct oci_seccomp *p);

/* ---- everything ctr run / containers create apply, in ctr's order ---- */
struct oci_run_options {
    const char *namespace_name, *id;
    const char *env_file;
    char *const *env;
    size_t n_env;
    char *const *mounts; /* --mount texts */
    size_t n_mounts;
    const char *rootfs;                   /* --rootfs: absolute path; NULL: an image's snapshot */
    const struct oci_image_config *image; /* NULL with --rootfs */
    int root_fd; /* the rootfs, opened read-only, for user lookups; -1: none */
    bool read_only;
    char *const *args;
    size_t n_args;
    const char *cwd, *user;
    bool tty, privileged, privileged_without_host_devices;
    bool net_host;
    const char *host_hostname; /* os.Hostname() for --net-host */
    char *const *annotations;  /* key=value */
    size_t n_annotations;
    char *const *cap_add, *const *cap_drop;
    size_t n_cap_add, n_cap_drop;
    bool seccomp;
    double cpus;
    const char *cpuset_cpus, *cpuset_mems;
    int64_t cpu_shares; /* 0: not set (containers create has no such flag) */
    int64_t cpu_quota;  /* -1: not set */
    uint64_t cpu_period;
    char *const *with_ns; /* type:path */
    size_t n_with_ns;
    bool allow_new_privs;
    bool has_cgroup;
    const char *cgroup;
    uint64_t memory_limit;
    const char *rootfs_propagation, *hostname;
    char *const *labels; /* key[=value]; also the spec's annotations */
    size_t n_labels;
};
/* The spec containerd 2.0's ctr builds from these flags (run_unix.go's NewContainer). */
int oci_spec_for_run(const struct oci_run_options *o, struct oci_spec **ret,
                     struct berth_error **err);
