/* berth run and berth containers create: ctr's NewContainer (image, snapshot, spec, runtime). */
#include "cmd/berth/archive_remote.h"
#include "cmd/berth/task_io.h"
#include "cmd/berth/tasks.h"
#include "cmd/berth/unpack.h"
#include "core/oci/opts.h"
#include "lib/base/alloc.h"

#include "containerd/services/containers/v1/containers.pb-c.h"
#include "containerd/services/images/v1/images.pb-c.h"
#include "containerd/services/snapshots/v1/snapshots.pb-c.h"
#include "containerd/types/runc/options/oci.pb-c.h"
#include "containerd/types/runtimeoptions/v1/api.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONTAINERS    "containerd.services.containers.v1.Containers"
#define SNAPSHOTS     "containerd.services.snapshots.v1.Snapshots"
#define SPEC_TYPE_URL "types.containerd.io/opencontainers/runtime-spec/1/Spec"
#define RUNC_V2       "io.containerd.runc.v2"
#define STOP_SIGNAL   "io.containerd.image.config.stop-signal"
/* client.WithLease's default expiry for the lease around container creation */
#define CREATE_LEASE_SECONDS (24L * 3600)

struct strv {
    char **v;
    size_t n;
};

static void strv_add(struct strv *s, char *value)
{
    s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
    s->v[s->n++] = value;
}

struct run_flags {
    struct oci_run_options spec;
    struct strv env, mounts, annotations, labels, cap_add, cap_drop, with_ns, snapshotter_labels;
    const char *snapshotter, *runtime, *runtime_config_path, *runc_binary, *runc_root;
    const char *platform;
    bool runc_systemd_cgroup, rootfs;
    struct task_start_options task;
    bool rm;
};

enum {
    OPT_RM = 1000,
    OPT_NULL_IO,
    OPT_LOG_URI,
    OPT_FIFO_DIR,
    OPT_CGROUP,
    OPT_PLATFORM,
    OPT_CPUS,
    OPT_CPU_SHARES,
    OPT_CPUSET_CPUS,
    OPT_CPUSET_MEMS,
    OPT_PRIV_NO_DEV,
    OPT_RUNTIME,
    OPT_RUNTIME_CONFIG,
    OPT_RUNC_BINARY,
    OPT_RUNC_ROOT,
    OPT_RUNC_SYSTEMD,
    OPT_SNAPSHOTTER,
    OPT_SNAPSHOTTER_LABEL,
    OPT_CWD,
    OPT_ENV,
    OPT_ENV_FILE,
    OPT_LABEL,
    OPT_ANNOTATION,
    OPT_MOUNT,
    OPT_NET_HOST,
    OPT_PRIVILEGED,
    OPT_READ_ONLY,
    OPT_WITH_NS,
    OPT_PID_FILE,
    OPT_ALLOW_NEW_PRIVS,
    OPT_MEMORY_LIMIT,
    OPT_CAP_ADD,
    OPT_CAP_DROP,
    OPT_SECCOMP,
    OPT_HOSTNAME,
    OPT_ROOTFS,
    OPT_NO_PIVOT,
    OPT_CPU_QUOTA,
    OPT_CPU_PERIOD,
    OPT_ROOTFS_PROPAGATION,
    OPT_HELP,
};

/* The flags both commands share (ctr's RuntimeFlags, SnapshotterFlags and ContainerFlags). */
#define COMMON_OPTIONS                                                                             \
    {"runtime", required_argument, NULL, OPT_RUNTIME},                                             \
        {"runtime-config-path", required_argument, NULL, OPT_RUNTIME_CONFIG},                      \
        {"runc-binary", required_argument, NULL, OPT_RUNC_BINARY},                                 \
        {"runc-root", required_argument, NULL, OPT_RUNC_ROOT},                                     \
        {"runc-systemd-cgroup", no_argument, NULL, OPT_RUNC_SYSTEMD},                              \
        {"snapshotter", required_argument, NULL, OPT_SNAPSHOTTER},                                 \
        {"snapshotter-label", required_argument, NULL, OPT_SNAPSHOTTER_LABEL},                     \
        {"cwd", required_argument, NULL, OPT_CWD}, {"env", required_argument, NULL, OPT_ENV},      \
        {"env-file", required_argument, NULL, OPT_ENV_FILE},                                       \
        {"label", required_argument, NULL, OPT_LABEL},                                             \
        {"annotation", required_argument, NULL, OPT_ANNOTATION},                                   \
        {"mount", required_argument, NULL, OPT_MOUNT},                                             \
        {"net-host", no_argument, NULL, OPT_NET_HOST},                                             \
        {"privileged", no_argument, NULL, OPT_PRIVILEGED},                                         \
        {"read-only", no_argument, NULL, OPT_READ_ONLY}, {"tty", no_argument, NULL, 't'},          \
        {"with-ns", required_argument, NULL, OPT_WITH_NS},                                         \
        {"pid-file", required_argument, NULL, OPT_PID_FILE},                                       \
        {"allow-new-privs", no_argument, NULL, OPT_ALLOW_NEW_PRIVS},                               \
        {"memory-limit", required_argument, NULL, OPT_MEMORY_LIMIT},                               \
        {"cap-add", required_argument, NULL, OPT_CAP_ADD},                                         \
        {"cap-drop", required_argument, NULL, OPT_CAP_DROP},                                       \
        {"seccomp", no_argument, NULL, OPT_SECCOMP},                                               \
        {"hostname", required_argument, NULL, OPT_HOSTNAME},                                       \
        {"user", required_argument, NULL, 'u'}, {"rootfs", no_argument, NULL, OPT_ROOTFS},         \
        {"no-pivot", no_argument, NULL, OPT_NO_PIVOT},                                             \
        {"cpu-quota", required_argument, NULL, OPT_CPU_QUOTA},                                     \
        {"cpu-period", required_argument, NULL, OPT_CPU_PERIOD},                                   \
        {"rootfs-propagation", required_argument, NULL, OPT_ROOTFS_PROPAGATION},                   \
    {                                                                                              \
        "help", no_argument, NULL, OPT_HELP                                                        \
    }

static uint64_t parse_u64(const char *flag, const char *text)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || end == text || *end || text[0] == '-')
        cli_fail("invalid value \"%s\" for flag -%s", text, flag);
    return v;
}

static int64_t parse_i64(const char *flag, const char *text)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 0);
    if (errno || end == text || *end)
        cli_fail("invalid value \"%s\" for flag -%s", text, flag);
    return v;
}

static void usage(bool run)
{
    printf("NAME:\n   berth %s - %s\n\nUSAGE:\n   berth %s [command options] [flags] "
           "Image|RootFS %s [COMMAND] [ARG...]\n\n"
           "See docs/cli.md for the flags (ctr's).\n",
           run ? "run" : "containers create", run ? "Run a container" : "Create container",
           run ? "run" : "containers create", run ? "ID" : "CONTAINER");
}

/* Parses the flags; returns the index of the first argument. */
static int parse_flags(struct run_flags *f, bool run, int argc, char **argv)
{
    static const struct option run_options[] = {
        {"rm", no_argument, NULL, OPT_RM},
        {"null-io", no_argument, NULL, OPT_NULL_IO},
        {"log-uri", required_argument, NULL, OPT_LOG_URI},
        {"detach", no_argument, NULL, 'd'},
        {"fifo-dir", required_argument, NULL, OPT_FIFO_DIR},
        {"cgroup", required_argument, NULL, OPT_CGROUP},
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"cpus", required_argument, NULL, OPT_CPUS},
        {"cpu-shares", required_argument, NULL, OPT_CPU_SHARES},
        {"cpuset-cpus", required_argument, NULL, OPT_CPUSET_CPUS},
        {"cpuset-mems", required_argument, NULL, OPT_CPUSET_MEMS},
        {"privileged-without-host-devices", no_argument, NULL, OPT_PRIV_NO_DEV},
        COMMON_OPTIONS,
        {0},
    };
    static const struct option create_options[] = {COMMON_OPTIONS, {0}};
    f->runtime = RUNC_V2;
    f->spec.cpu_quota = -1;
    f->spec.root_fd = -1;
    if (run)
        f->spec.cpu_shares = 1024; /* ctr run's --cpu-shares default */
    int c;
    while ((c = getopt_long_only(argc, argv, run ? "+dtu:" : "+tu:",
                                 run ? run_options : create_options, NULL)) != -1) {
        switch (c) {
        case OPT_RM:
            f->rm = true;
            break;
        case OPT_NULL_IO:
            f->task.null_io = true;
            break;
        case OPT_LOG_URI:
            f->task.log_uri = optarg;
            break;
        case 'd':
            f->task.detach = true;
            break;
        case OPT_FIFO_DIR:
            f->task.fifo_dir = optarg;
            break;
        case OPT_CGROUP:
            f->spec.has_cgroup = true;
            f->spec.cgroup = optarg;
            break;
        case OPT_PLATFORM:
            f->platform = optarg;
            break;
        case OPT_CPUS: {
            char *end;
            f->spec.cpus = strtod(optarg, &end);
            if (end == optarg || *end)
                cli_fail("invalid value \"%s\" for flag -cpus", optarg);
            break;
        }
        case OPT_CPU_SHARES:
            f->spec.cpu_shares = parse_i64("cpu-shares", optarg);
            break;
        case OPT_CPUSET_CPUS:
            f->spec.cpuset_cpus = optarg;
            break;
        case OPT_CPUSET_MEMS:
            f->spec.cpuset_mems = optarg;
            break;
        case OPT_PRIV_NO_DEV:
            f->spec.privileged_without_host_devices = true;
            break;
        case OPT_RUNTIME:
            f->runtime = optarg;
            break;
        case OPT_RUNTIME_CONFIG:
            f->runtime_config_path = optarg;
            break;
        case OPT_RUNC_BINARY:
            f->runc_binary = optarg;
            break;
        case OPT_RUNC_ROOT:
            f->runc_root = optarg;
            break;
        case OPT_RUNC_SYSTEMD:
            f->runc_systemd_cgroup = true;
            break;
        case OPT_SNAPSHOTTER:
            f->snapshotter = optarg;
            break;
        case OPT_SNAPSHOTTER_LABEL:
            strv_add(&f->snapshotter_labels, optarg);
            break;
        case OPT_CWD:
            f->spec.cwd = optarg;
            break;
        case OPT_ENV:
            strv_add(&f->env, optarg);
            break;
        case OPT_ENV_FILE:
            f->spec.env_file = optarg;
            break;
        case OPT_LABEL:
            strv_add(&f->labels, optarg);
            break;
        case OPT_ANNOTATION:
            strv_add(&f->annotations, optarg);
            break;
        case OPT_MOUNT:
            strv_add(&f->mounts, optarg);
            break;
        case OPT_NET_HOST:
            f->spec.net_host = true;
            break;
        case OPT_PRIVILEGED:
            f->spec.privileged = true;
            break;
        case OPT_READ_ONLY:
            f->spec.read_only = true;
            break;
        case 't':
            f->spec.tty = true;
            break;
        case OPT_WITH_NS:
            strv_add(&f->with_ns, optarg);
            break;
        case OPT_PID_FILE:
            f->task.pid_file = optarg;
            break;
        case OPT_ALLOW_NEW_PRIVS:
            f->spec.allow_new_privs = true;
            break;
        case OPT_MEMORY_LIMIT:
            f->spec.memory_limit = parse_u64("memory-limit", optarg);
            break;
        case OPT_CAP_ADD:
            strv_add(&f->cap_add, optarg);
            break;
        case OPT_CAP_DROP:
            strv_add(&f->cap_drop, optarg);
            break;
        case OPT_SECCOMP:
            f->spec.seccomp = true;
            break;
        case OPT_HOSTNAME:
            f->spec.hostname = optarg;
            break;
        case 'u':
            f->spec.user = optarg;
            break;
        case OPT_ROOTFS:
            f->rootfs = true;
            break;
        case OPT_NO_PIVOT:
            f->task.no_pivot = true;
            break;
        case OPT_CPU_QUOTA:
            f->spec.cpu_quota = parse_i64("cpu-quota", optarg);
            break;
        case OPT_CPU_PERIOD:
            f->spec.cpu_period = parse_u64("cpu-period", optarg);
            break;
        case OPT_ROOTFS_PROPAGATION:
            f->spec.rootfs_propagation = optarg;
            break;
        case OPT_HELP:
            usage(run);
            exit(0);
        default:
            exit(1);
        }
    }
    f->spec.env = f->env.v;
    f->spec.n_env = f->env.n;
    f->spec.mounts = f->mounts.v;
    f->spec.n_mounts = f->mounts.n;
    f->spec.annotations = f->annotations.v;
    f->spec.n_annotations = f->annotations.n;
    f->spec.labels = f->labels.v;
    f->spec.n_labels = f->labels.n;
    f->spec.cap_add = f->cap_add.v;
    f->spec.n_cap_add = f->cap_add.n;
    f->spec.cap_drop = f->cap_drop.v;
    f->spec.n_cap_drop = f->cap_drop.n;
    f->spec.with_ns = f->with_ns.v;
    f->spec.n_with_ns = f->with_ns.n;
    return optind;
}

/* ---- labels ---- */

struct label_set {
    char **keys, **values;
    size_t n;
};

static void label_set(struct label_set *l, const char *key, const char *value)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->keys[i], key) == 0) {
            free(l->values[i]);
            l->values[i] = xstrdup(value);
            return;
        }
    }
    l->keys = xrealloc(l->keys, (l->n + 1) * sizeof(char *));
    l->values = xrealloc(l->values, (l->n + 1) * sizeof(char *));
    l->keys[l->n] = xstrdup(key);
    l->values[l->n++] = xstrdup(value);
}

static void label_set_arg(struct label_set *l, const char *arg)
{
    const char *eq = strchr(arg, '=');
    _cleanup_free_ char *key = eq ? xstrndup(arg, (size_t)(eq - arg)) : xstrdup(arg);
    label_set(l, key, eq ? eq + 1 : "true");
}

static void label_clear(struct label_set *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->keys[i]);
        free(l->values[i]);
    }
    free(l->keys);
    free(l->values);
    memset(l, 0, sizeof(*l));
}

/* ---- runtime options ---- */

static int runtime_options(const struct run_flags *f, Google__Protobuf__Any *any,
                           struct berth_error **err)
{
    bool runc = strcmp(f->runtime, RUNC_V2) == 0;
    if (((f->runc_binary && *f->runc_binary) || f->runc_systemd_cgroup) && !runc)
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "specifying runc-binary and runc-systemd-cgroup is only supported for "
                        "\"io.containerd.runc.v2\" runtime");
    if (runc) {
        Containerd__Runc__V1__Options o = CONTAINERD__RUNC__V1__OPTIONS__INIT;
        if (f->runc_binary && *f->runc_binary)
            o.binary_name = (char *)f->runc_binary;
        if (f->runc_systemd_cgroup) {
            if (!f->spec.has_cgroup || !*f->spec.cgroup)
                return err_make(err, ERR_INVALID_ARGUMENT, 0,
                                "option --runc-systemd-cgroup requires --cgroup to be set, e.g. "
                                "\"machine.slice:foo:deadbeef\"");
            o.systemd_cgroup = true;
        }
        if (f->runc_root && *f->runc_root)
            o.root = (char *)f->runc_root;
        any->type_url = xstrdup("containerd.runc.v1.Options");
        any->value.len = protobuf_c_message_get_packed_size(&o.base);
        any->value.data = xmalloc(any->value.len + 1);
        protobuf_c_message_pack(&o.base, any->value.data);
        return 1;
    }
    if (f->runtime_config_path && *f->runtime_config_path) {
        Runtimeoptions__V1__Options o = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
        o.config_path = (char *)f->runtime_config_path;
        any->type_url = xstrdup("runtimeoptions.v1.Options");
        any->value.len = protobuf_c_message_get_packed_size(&o.base);
        any->value.data = xmalloc(any->value.len + 1);
        protobuf_c_message_pack(&o.base, any->value.data);
        return 1;
    }
    return 0;
}

/* ---- the image ---- */

struct image {
    char *name;
    struct label_set record_labels; /* the image record's labels */
    struct json_object *config;     /* the config document */
    char chain[DIGEST_STRING_SIZE];
};

static int image_resolve(struct cli *cli, const char *ref, const char *platform,
                         const char *snapshotter, const char *lease, struct image *img,
                         struct berth_error **err)
{
    struct archive_remote *remote = archive_remote_new(cli, lease, IMPORT_NAMING_CLIENT);
    struct export_source source = archive_remote_source(remote);
    struct archive_image rec = {0};
    int rc = source.image_get(source.arg, ref, &rec, err);
    archive_remote_free(remote);
    if (rc < 0) {
        archive_image_clear(&rec);
        return -1;
    }
    img->name = xstrdup(rec.name ? rec.name : ref);
    for (size_t i = 0; i < rec.n_labels; i++)
        label_set(&img->record_labels, rec.labels[i].key, rec.labels[i].value);
    struct archive_platform p = {0};
    if (platform && *platform) {
        if (archive_platform_parse(platform, &p, err) < 0) {
            archive_image_clear(&rec);
            return -1;
        }
    } else {
        archive_platform_default(&p);
    }
    struct platform_matcher matcher = {0};
    platform_matcher_only(&matcher, &p);
    rc = unpack_image_config(cli, &rec.target, &matcher, &img->config, img->chain, err);
    if (rc == 0) {
        /* image.IsUnpacked, else image.Unpack */
        int exists = unpack_snapshot_exists(cli, snapshotter, img->chain, err);
        if (exists < 0)
            rc = -1;
        else if (!exists &&
                 unpack_image(cli, snapshotter, lease, &rec.target, &matcher, NULL, err) < 0)
            rc = -1;
    }
    platform_matcher_clear(&matcher);
    archive_platform_clear(&p);
    archive_image_clear(&rec);
    return rc;
}

static void image_clear(struct image *img)
{
    free(img->name);
    label_clear(&img->record_labels);
    if (img->config)
        json_object_put(img->config);
}

static int snapshot_prepare(struct cli *cli, const char *lease, const char *snapshotter,
                            const char *key, const char *parent, const struct strv *labels,
                            struct berth_error **err)
{
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__INIT;
    req.snapshotter = (char *)snapshotter;
    req.key = (char *)key;
    req.parent = (char *)parent;
    struct label_set set = {0};
    for (size_t i = 0; i < labels->n; i++)
        label_set_arg(&set, labels->v[i]);
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest__LabelsEntry *entries =
        xcalloc(set.n + 1, sizeof(*entries));
    req.labels = xcalloc(set.n + 1, sizeof(*req.labels));
    for (size_t i = 0; i < set.n; i++) {
        containerd__services__snapshots__v1__prepare_snapshot_request__labels_entry__init(
            &entries[i]);
        entries[i].key = set.keys[i];
        entries[i].value = set.values[i];
        req.labels[i] = &entries[i];
    }
    req.n_labels = set.n;
    int rc = unpack_call(
        cli, lease, SNAPSHOTS, "Prepare", &req.base,
        &containerd__services__snapshots__v1__prepare_snapshot_response__descriptor, NULL, err);
    free(req.labels);
    free(entries);
    label_clear(&set);
    return rc;
}

/* The container record: image config labels, then ctr's and the image's, then the stop signal. */
static void container_labels(const struct run_flags *f, const struct image *img,
                             struct label_set *ret)
{
    struct json_object *config = NULL, *labels = NULL, *stop = NULL;
    if (img && json_object_object_get_ex(img->config, "config", &config) &&
        json_object_object_get_ex(config, "Labels", &labels) &&
        json_object_is_type(labels, json_type_object)) {
        json_object_object_foreach(labels, k, v)
        {
            if (json_object_is_type(v, json_type_string))
                label_set(ret, k, json_object_get_string(v));
        }
    }
    if (img)
        for (size_t i = 0; i < img->record_labels.n; i++)
            label_set(ret, img->record_labels.keys[i], img->record_labels.values[i]);
    for (size_t i = 0; i < f->labels.n; i++)
        label_set_arg(ret, f->labels.v[i]);
    if (img) {
        const char *signal = "SIGTERM";
        if (config && json_object_object_get_ex(config, "StopSignal", &stop) &&
            json_object_is_type(stop, json_type_string) && json_object_get_string_len(stop) > 0)
            signal = json_object_get_string(stop);
        label_set(ret, STOP_SIGNAL, signal);
    }
}

/* Creates the container; returns 0, or -1 with *err set (nothing is left behind). */
static int create_container(struct cli *cli, struct run_flags *f, const char *ref, const char *id,
                            char **args, size_t n_args, struct berth_error **err)
{
    if (!*id)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "container id must be provided");
    const char *snapshotter = unpack_snapshotter_name(f->snapshotter);
    struct image img = {0};
    struct oci_image_config config = {0};
    struct oci_spec *spec = NULL;
    struct label_set labels = {0};
    Google__Protobuf__Any runtime_any = GOOGLE__PROTOBUF__ANY__INIT;
    runtime_any.type_url = NULL; /* set (malloc'd) only when the runtime takes options */
    bool snapshot_made = false;
    int root_fd = -1;
    int rc = -1;
    char hostname[HOST_NAME_MAX + 1] = "";
    _cleanup_free_ char *abs_rootfs = NULL;
    _cleanup_free_ char *spec_json = NULL;
    char *lease = archive_remote_lease_create(cli, CREATE_LEASE_SECONDS, err);
    if (!lease)
        return -1;

    f->spec.namespace_name = cli->namespace_name;
    f->spec.id = id;
    f->spec.args = args;
    f->spec.n_args = n_args;
    if (f->spec.net_host && gethostname(hostname, sizeof(hostname) - 1) < 0) {
        err_make(err, ERR_UNKNOWN, errno, "get hostname");
        goto out;
    }
    f->spec.host_hostname = hostname;
    if (f->rootfs) {
        abs_rootfs = ref[0] == '/' ? xstrdup(ref) : NULL;
        if (!abs_rootfs) {
            char cwd[PATH_MAX];
            if (!getcwd(cwd, sizeof(cwd))) {
                err_make(err, ERR_UNKNOWN, errno, "getcwd");
                goto out;
            }
            abs_rootfs = xasprintf("%s/%s", cwd, ref);
        }
        f->spec.rootfs = abs_rootfs;
        root_fd = open(abs_rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else {
        if (image_resolve(cli, ref, f->platform, snapshotter, lease, &img, err) < 0)
            goto out;
        if (oci_image_config_from_json(img.config, &config, err) < 0)
            goto out;
        if (snapshot_prepare(cli, lease, snapshotter, id, img.chain, &f->snapshotter_labels, err) <
            0)
            goto out;
        snapshot_made = true;
        root_fd = tasks_open_rootfs(cli, snapshotter, id, err);
        if (root_fd < 0)
            goto out;
        f->spec.image = &config;
    }
    f->spec.root_fd = root_fd;
    if (runtime_options(f, &runtime_any, err) < 0)
        goto out;
    if (oci_spec_for_run(&f->spec, &spec, err) < 0)
        goto out;
    container_labels(f, f->rootfs ? NULL : &img, &labels);

    size_t spec_len = 0;
    spec_json = oci_spec_to_json(spec, &spec_len);
    Google__Protobuf__Any spec_any = GOOGLE__PROTOBUF__ANY__INIT;
    spec_any.type_url = (char *)SPEC_TYPE_URL;
    spec_any.value.data = (uint8_t *)spec_json;
    spec_any.value.len = spec_len;
    Containerd__Services__Containers__V1__Container__Runtime runtime =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__RUNTIME__INIT;
    runtime.name = (char *)f->runtime;
    runtime.options = runtime_any.type_url ? &runtime_any : NULL;
    Containerd__Services__Containers__V1__Container c =
        CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    c.id = (char *)id;
    c.image = img.name ? img.name : (char *)"";
    c.runtime = &runtime;
    c.spec = &spec_any;
    c.snapshotter = f->rootfs ? (char *)"" : (char *)snapshotter;
    c.snapshot_key = f->rootfs ? (char *)"" : (char *)id;
    Containerd__Services__Containers__V1__Container__LabelsEntry *entries =
        xcalloc(labels.n + 1, sizeof(*entries));
    c.labels = xcalloc(labels.n + 1, sizeof(*c.labels));
    for (size_t i = 0; i < labels.n; i++) {
        containerd__services__containers__v1__container__labels_entry__init(&entries[i]);
        entries[i].key = labels.keys[i];
        entries[i].value = labels.values[i];
        c.labels[i] = &entries[i];
    }
    c.n_labels = labels.n;
    Containerd__Services__Containers__V1__CreateContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__CREATE_CONTAINER_REQUEST__INIT;
    req.container = &c;
    rc = unpack_call(cli, lease, CONTAINERS, "Create", &req.base,
                     &containerd__services__containers__v1__create_container_response__descriptor,
                     NULL, err);
    free(c.labels);
    free(entries);

out:
    if (rc < 0 && snapshot_made) {
        struct berth_error *ignored = NULL;
        if (unpack_snapshot_remove(cli, snapshotter, id, &ignored) < 0)
            err_free(ignored);
    }
    {
        struct berth_error *ignored = NULL;
        if (archive_remote_lease_delete(cli, lease, false, &ignored) < 0)
            err_free(ignored);
    }
    free(lease);
    if (root_fd >= 0)
        close(root_fd);
    free(runtime_any.type_url);
    free(runtime_any.value.data);
    label_clear(&labels);
    oci_spec_free(spec);
    oci_image_config_clear(&config);
    image_clear(&img);
    return rc;
}

static void flags_clear(struct run_flags *f)
{
    free(f->env.v);
    free(f->mounts.v);
    free(f->annotations.v);
    free(f->labels.v);
    free(f->cap_add.v);
    free(f->cap_drop.v);
    free(f->with_ns.v);
    free(f->snapshotter_labels.v);
}

int cli_containers_create(struct cli *cli, int argc, char **argv)
{
    struct run_flags f = {0};
    int first = parse_flags(&f, false, argc, argv);
    argc -= first, argv += first;
    const char *ref = argc > 0 ? argv[0] : "";
    const char *id = argc > 1 ? argv[1] : "";
    if (!*ref)
        cli_fail("image ref must be provided");
    struct berth_error *err = NULL;
    int rc = create_container(cli, &f, ref, id, argv + 2, argc > 2 ? (size_t)argc - 2 : 0, &err);
    flags_clear(&f);
    if (rc < 0)
        cli_fail("%s", err->message);
    return 0;
}

/* container.Delete(WithSnapshotCleanup) */
static void remove_container(struct cli *cli, const char *id)
{
    Containerd__Services__Containers__V1__GetContainerRequest get =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
    get.id = (char *)id;
    Containerd__Services__Containers__V1__GetContainerResponse *got = NULL;
    struct berth_error *err = NULL;
    if (unpack_call(cli, NULL, CONTAINERS, "Get", &get.base,
                    &containerd__services__containers__v1__get_container_response__descriptor,
                    (ProtobufCMessage **)&got, &err) == 0) {
        const Containerd__Services__Containers__V1__Container *c = got->container;
        if (c && c->snapshot_key[0] && c->snapshotter[0] &&
            unpack_snapshot_remove(cli, c->snapshotter, c->snapshot_key, &err) < 0 &&
            err->kind != ERR_NOT_FOUND)
            fprintf(stderr, "berth: failed to cleanup container: %s\n", err->message);
        err_free(err);
        err = NULL;
        protobuf_c_message_free_unpacked(&got->base, NULL);
        Containerd__Services__Containers__V1__DeleteContainerRequest del =
            CONTAINERD__SERVICES__CONTAINERS__V1__DELETE_CONTAINER_REQUEST__INIT;
        del.id = (char *)id;
        if (unpack_call(cli, NULL, CONTAINERS, "Delete", &del.base,
                        &google__protobuf__empty__descriptor, NULL, &err) == 0)
            return;
    }
    fprintf(stderr, "berth: failed to cleanup container: %s\n", err->message);
    err_free(err);
}

int cli_run(struct cli *cli, int argc, char **argv)
{
    struct run_flags f = {0};
    int first = parse_flags(&f, true, argc, argv);
    argc -= first, argv += first;
    const char *ref = argc > 0 ? argv[0] : "";
    const char *id = argc > 1 ? argv[1] : "";
    if (!*ref)
        cli_fail("image ref must be provided");
    if (!*id)
        cli_fail("container id must be provided");
    if (f.rm && f.task.detach)
        cli_fail("flags --detach and --rm cannot be specified together");
    if (!f.task.detach)
        task_signals_block(); /* before the RPC thread exists */
    struct berth_error *err = NULL;
    if (create_container(cli, &f, ref, id, argv + 2, argc > 2 ? (size_t)argc - 2 : 0, &err) < 0)
        cli_fail("%s", err->message);
    int code = tasks_run(cli, id, &f.task, &err);
    if (f.rm)
        remove_container(cli, id);
    flags_clear(&f);
    if (code < 0)
        cli_fail("%s", err->message);
    return code;
}
