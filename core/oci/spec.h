/* The OCI runtime spec as containerd generates it: defaults, the options ctr applies, Go JSON. */
#pragma once

#include "lib/base/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Only the parts of runtime-spec's specs.Spec that containerd's Linux defaults and ctr's flags
 * fill in. Every string and array is owned by the spec; oci_spec_free releases all of it.
 * "has_" flags stand for Go's pointer fields (nil vs set), so omitempty behaves as in Go.
 */
#define OCI_VERSION "1.2.0" /* runtime-spec v1.2.0, vendored by containerd 2.0.0 */

struct oci_strv {
    char **v;
    size_t n;
};

struct oci_mount {
    char *destination, *type, *source;
    struct oci_strv options;
};

struct oci_rlimit {
    char *type;
    uint64_t hard, soft;
};

struct oci_namespace {
    char *type, *path;
};

struct oci_device {
    char *path, *type;
    int64_t major, minor;
    uint32_t file_mode, uid, gid; /* always set by DeviceFromPath */
};

struct oci_device_cgroup {
    bool allow;
    char *type, *access;
    bool has_major, has_minor;
    int64_t major, minor;
};

struct oci_seccomp_arg {
    unsigned index;
    uint64_t value, value_two;
    const char *op; /* static */
};

struct oci_syscall {
    struct oci_strv names;
    const char *action; /* static */
    bool has_errno_ret;
    unsigned errno_ret;
    struct oci_seccomp_arg *args;
    size_t n_args;
};

struct oci_seccomp {
    const char *default_action; /* static */
    struct oci_strv architectures;
    struct oci_syscall *syscalls;
    size_t n_syscalls;
};

struct oci_kv {
    char *key, *value;
};

struct oci_capabilities {
    struct oci_strv bounding, effective, inheritable, permitted, ambient;
};

struct oci_process {
    bool terminal;
    uint32_t uid, gid;
    uint32_t *additional_gids;
    size_t n_additional_gids;
    struct oci_strv args, env;
    char *cwd;
    bool has_capabilities;
    struct oci_capabilities capabilities;
    struct oci_rlimit *rlimits;
    size_t n_rlimits;
    bool no_new_privileges;
    char *apparmor_profile, *selinux_label;
};

struct oci_cpu {
    bool has_shares, has_quota, has_burst, has_period;
    uint64_t shares, burst, period;
    int64_t quota;
    char *cpus, *mems;
};

struct oci_resources {
    struct oci_device_cgroup *devices;
    size_t n_devices;
    bool has_memory_limit;
    int64_t memory_limit;
    bool has_cpu;
    struct oci_cpu cpu;
};

struct oci_linux {
    bool has_resources;
    struct oci_resources resources;
    char *cgroups_path;
    struct oci_namespace *namespaces;
    size_t n_namespaces;
    struct oci_device *devices;
    size_t n_devices;
    struct oci_seccomp *seccomp;
    char *rootfs_propagation;
    struct oci_strv masked_paths, readonly_paths;
    char *intel_rdt_clos_id; /* intelRdt.closID; NULL: no intelRdt */
};

struct oci_spec {
    char *version;
    struct oci_process process;
    char *root_path;
    bool root_readonly;
    char *hostname, *domainname;
    struct oci_mount *mounts;
    size_t n_mounts;
    struct oci_kv *annotations; /* kept sorted by key, as Go writes a map */
    size_t n_annotations;
    struct oci_linux linux_;
};

/* ---- strings vectors ---- */
void oci_strv_push(struct oci_strv *s, const char *value);
void oci_strv_clear(struct oci_strv *s);
bool oci_strv_contains(const struct oci_strv *s, const char *value);
void oci_strv_remove(struct oci_strv *s, const char *value);
void oci_strv_copy(struct oci_strv *dst, const struct oci_strv *src);

/* ---- the spec ---- */

/* populateDefaultUnixSpec: containerd's Linux defaults, cgroup path /<namespace>/<id>. */
struct oci_spec *oci_spec_new_default(const char *namespace_name, const char *id);
void oci_spec_free(struct oci_spec *s);
static inline void oci_spec_freep(struct oci_spec **s)
{
    oci_spec_free(*s);
}
#define _cleanup_oci_spec_ __attribute__((cleanup(oci_spec_freep)))

/* The spec as Go's json.Marshal writes specs.Spec (field order, omitempty); malloc'd. */
char *oci_spec_to_json(const struct oci_spec *s, size_t *ret_len);
