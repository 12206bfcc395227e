/*
 * containerd-shim-runc-v2 / containerd-shim-berth-v2: Berth's runtime v2 shim. `start` prints the
 * address of a (new or grouped) shim, `delete` cleans up after a dead one, no action serves the
 * task API on one single-threaded libuv loop.
 */
#include "berth-version.h"
#include "cmd/shim/shim.h"
#include "cmd/shim/util.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/base/log.h"
#include "lib/rpc/ttrpc_server.h"
#include "lib/rpc/unix_socket.h"
#include "proto/containerd/runtime/task/v3/shim.pb-c.h"
#include "proto/containerd/types/introspection.pb-c.h"
#include "proto/containerd/types/runc/options/oci.pb-c.h"
#include "proto/google/protobuf/any.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MAX_STDIN = 1 << 20 };

static struct ttrpc_server *server;

size_t shim_server_inflight(void)
{
    return server ? ttrpc_server_inflight(server) : 0;
}

static int fail(const char *what, struct berth_error *err)
{
    fprintf(stderr, "%s: %s\n", what, err ? err->message : strerror(errno));
    err_free(err);
    return 1;
}

/* stdin as given by containerd: a protobuf Any with the runtime options, maybe empty. */
static Google__Protobuf__Any *read_options_any(void)
{
    size_t cap = 4096, len = 0;
    _cleanup_free_ uint8_t *buf = xmalloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_STDIN)
                return NULL;
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t n = read(STDIN_FILENO, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    if (len == 0)
        return NULL;
    return google__protobuf__any__unpack(NULL, len, buf);
}

static bool can_connect(const char *path)
{
    int fd = unix_socket_connect(path, NULL);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static void adjust_oom_score(pid_t pid)
{
    _cleanup_free_ char *mine = NULL;
    if (fs_read_small_file("/proc/self/oom_score_adj", 32, &mine, NULL) < 0)
        return;
    int score = atoi(mine) + 1;
    if (score > 1000)
        score = 1000;
    char path[64], value[16];
    snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
    int n = snprintf(value, sizeof(value), "%d", score);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)!write(fd, value, (size_t)n);
        close(fd);
    }
}

/* Joins Options.shim_cgroup: every v1 hierarchy that has it, or the unified one. */
static void join_cgroup(pid_t pid, const char *cgroup)
{
    static const char *const roots[] = {
        "/sys/fs/cgroup/unified",     "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/pids",    "/sys/fs/cgroup/blkio",
        "/sys/fs/cgroup/devices",     "/sys/fs/cgroup/freezer", "/sys/fs/cgroup"};
    if (strstr(cgroup, ".."))
        return;
    char value[16];
    int n = snprintf(value, sizeof(value), "%d", (int)pid);
    for (size_t i = 0; i < ARRAY_SIZE(roots); i++) {
        _cleanup_free_ char *path = xasprintf("%s/%s/cgroup.procs", roots[i], cgroup);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            (void)!write(fd, value, (size_t)n);
            close(fd);
        }
    }
}

static int action_start(const struct shim_flags *f, char **argv0)
{
    struct berth_error *err = NULL;
    if (!*f->namespace)
        return fail("start",
                    (err_make(&err, ERR_INVALID_ARGUMENT, 0, "namespace is required"), err));
    if (!shim_safe_name(f->id))
        return fail("start", (err_make(&err, ERR_INVALID_ARGUMENT, 0, "invalid id"), err));
    char cwd[4096];
    if (!getcwd(cwd, sizeof(cwd)))
        return fail("getcwd", NULL);
    const char *bundle = *f->bundle ? f->bundle : cwd;
    _cleanup_free_ char *spec_path = xasprintf("%s/config.json", bundle);
    _cleanup_free_ char *spec = NULL;
    if (fs_read_small_file(spec_path, 16 << 20, &spec, &err) < 0)
        return fail("read spec", err);
    _cleanup_free_ char *group = shim_group_from_spec(spec, strlen(spec), f->id, &err);
    if (!group)
        return fail("read spec", err);
    _cleanup_free_ char *path = shim_socket_path(bundle, f->address, f->namespace, group);
    _cleanup_free_ char *address = shim_address_of(path);
    bool v3 = getenv("MAX_SHIM_VERSION") != NULL;
    _cleanup_free_ char *out = v3 ? xasprintf("{\"version\":3,\"address\":\"%s\",\"protocol\":"
                                              "\"ttrpc\"}",
                                              address)
                                  : xstrdup(address);
    _cleanup_free_ char *address_file = xasprintf("%s/address", bundle);

    if (can_connect(path)) { /* a shim of the group is up: share it */
        if (fs_write_file_atomic(address_file, address, strlen(address), 0600, &err) < 0)
            return fail("write address", err);
        printf("%s", out);
        return 0;
    }
    _cleanup_free_ char *dir = xstrdup(path);
    *strrchr(dir, '/') = '\0';
    if (fs_mkdir_p(dir, 0700, &err) < 0)
        return fail("create socket dir", err);
    int lfd = unix_socket_listen(path, 0600, (uid_t)-1, (gid_t)-1, &err);
    if (lfd < 0)
        return fail("create shim socket", err);
    /* stderr of the shim: containerd's log FIFO in the bundle, read by containerd */
    _cleanup_free_ char *log_path = xasprintf("%s/log", bundle);
    int log_fd = open(log_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return fail("find own executable", NULL);
    self[n] = '\0';
    const char *args[16];
    int k = 0;
    args[k++] = self;
    args[k++] = "-namespace";
    args[k++] = f->namespace;
    args[k++] = "-id";
    args[k++] = f->id;
    args[k++] = "-address";
    args[k++] = f->address;
    if (*f->publish_binary) {
        args[k++] = "-publish-binary";
        args[k++] = f->publish_binary;
    }
    if (f->debug)
        args[k++] = "-debug";
    args[k] = NULL;
    int extra[] = {lfd};
    struct child_spec cs = {.argv = args,
                            .cwd = bundle,
                            .fds = {-1, -1, log_fd},
                            .extra = extra,
                            .n_extra = 1,
                            .setsid = true};
    pid_t pid = child_spawn(&cs, &err);
    close(lfd);
    if (log_fd >= 0)
        close(log_fd);
    if (pid < 0) {
        unlink(path);
        return fail("start shim", err);
    }
    Google__Protobuf__Any *any = read_options_any();
    if (any && any->type_url && strstr(any->type_url, "containerd.runc.v1.Options")) {
        Containerd__Runc__V1__Options *o =
            containerd__runc__v1__options__unpack(NULL, any->value.len, any->value.data);
        if (o && o->shim_cgroup && *o->shim_cgroup)
            join_cgroup(pid, o->shim_cgroup);
        if (o)
            containerd__runc__v1__options__free_unpacked(o, NULL);
    }
    if (any)
        google__protobuf__any__free_unpacked(any, NULL);
    adjust_oom_score(pid);
    if (fs_write_file_atomic(address_file, address, strlen(address), 0600, &err) < 0) {
        kill(pid, SIGKILL);
        unlink(path);
        return fail("write address", err);
    }
    printf("%s", out);
    return 0;
}

/*
 * A shim that was killed leaves its socket behind; once nothing listens there (no other task of
 * its group keeps the shim alive) the cleanup removes it.
 */
static void remove_dead_socket(const char *bundle)
{
    _cleanup_free_ char *file = xasprintf("%s/address", bundle);
    _cleanup_free_ char *address = NULL;
    if (fs_read_small_file(file, 4096, &address, NULL) < 0)
        return;
    address[strcspn(address, "\n")] = '\0';
    const char *path = unix_socket_path(address);
    if (path && path[0] == '/' && !can_connect(path))
        unlink(path);
}

static int action_delete(const struct shim_flags *f)
{
    struct berth_error *err = NULL;
    char cwd[4096];
    if (!getcwd(cwd, sizeof(cwd)))
        return fail("getcwd", NULL);
    const char *bundle = *f->bundle ? f->bundle : cwd;
    if (!shim_safe_name(f->id) || !*f->namespace)
        return fail("delete", (err_make(&err, ERR_INVALID_ARGUMENT, 0,
                                        "id and namespace are "
                                        "required"),
                               err));
    struct runc_options o;
    if (runc_options_load(&o, bundle, f->namespace, &err) < 0)
        return fail("delete", err);
    const char *args[] = {"delete", "--force", f->id, NULL};
    if (runc_run_sync(&o, bundle, args, NULL, &err) < 0) {
        fprintf(stderr, "failed to remove runc container: %s\n", err->message);
        err_free(err);
        err = NULL;
    }
    runc_options_clear(&o);
    rootfs_unmount(bundle);
    remove_dead_socket(bundle);
    _cleanup_free_ char *pid_file = xasprintf("%s/init.pid", bundle);
    pid_t pid = 0;
    if (runc_read_pid(pid_file, &pid, &err) < 0) {
        fprintf(stderr, "failed to read init pid file: %s\n", err->message);
        err_free(err);
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = now.tv_sec;
    ts.nanos = (int32_t)now.tv_nsec;
    Containerd__Task__V3__DeleteResponse resp = CONTAINERD__TASK__V3__DELETE_RESPONSE__INIT;
    resp.pid = (uint32_t)pid;
    resp.exit_status = 128 + SIGKILL;
    resp.exited_at = &ts;
    size_t len = containerd__task__v3__delete_response__get_packed_size(&resp);
    _cleanup_free_ uint8_t *buf = xmalloc(len + 1);
    containerd__task__v3__delete_response__pack(&resp, buf);
    fwrite(buf, 1, len, stdout);
    return 0;
}

/* `<runtime> features` output, compacted as the reference re-encodes it; NULL when it fails. */
static char *runtime_features(const char *binary)
{
    char *const argv[] = {(char *)binary, "features", NULL};
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return NULL;
    struct berth_error *err = NULL;
    struct child_spec cs = {.argv = (const char *const *)argv, .fds = {-1, fds[1], -1}};
    pid_t pid = child_spawn(&cs, &err);
    close(fds[1]);
    if (pid < 0) {
        err_free(err);
        close(fds[0]);
        return NULL;
    }
    size_t cap = 8192, len = 0;
    _cleanup_free_ char *out = xmalloc(cap);
    bool too_big = false;
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_STDIN) {
                too_big = true;
                break;
            }
            out = xrealloc(out, cap *= 2);
        }
        ssize_t n = read(fds[0], out + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (too_big || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return NULL;
    return shim_json_compact(out, len);
}

/* Writes the RuntimeInfo to stdout. */
static int print_info(const Containerd__Runc__V1__Options *opts, struct berth_error **err)
{
    const char *binary =
        opts && opts->binary_name && *opts->binary_name ? opts->binary_name : "runc";
    _cleanup_free_ char *abs = shim_look_path(binary, getenv("PATH"));
    if (!abs)
        return err_make(err, ERR_NOT_FOUND, 0, "failed to look up the path of \"%s\"", binary);
    _cleanup_free_ char *features = runtime_features(abs);

    Containerd__Types__RuntimeVersion version = CONTAINERD__TYPES__RUNTIME_VERSION__INIT;
    version.version = BERTH_VERSION;
    version.revision = BERTH_REVISION;
    Containerd__Types__RuntimeInfo info = CONTAINERD__TYPES__RUNTIME_INFO__INIT;
    info.name = "io.containerd.runc.v2";
    info.version = &version;
    _cleanup_free_ uint8_t *opts_bytes = NULL;
    Google__Protobuf__Any oany = GOOGLE__PROTOBUF__ANY__INIT;
    if (opts) {
        oany.type_url = "containerd.runc.v1.Options";
        oany.value.len = containerd__runc__v1__options__get_packed_size(opts);
        opts_bytes = xmalloc(oany.value.len + 1);
        containerd__runc__v1__options__pack(opts, opts_bytes);
        oany.value.data = opts_bytes;
        info.options = &oany;
    }
    Google__Protobuf__Any fany = GOOGLE__PROTOBUF__ANY__INIT;
    if (features) {
        fany.type_url = "types.containerd.io/opencontainers/runtime-spec/1/features/Features";
        fany.value.data = (uint8_t *)features;
        fany.value.len = strlen(features);
        info.features = &fany;
    }
    size_t len = containerd__types__runtime_info__get_packed_size(&info);
    _cleanup_free_ uint8_t *buf = xmalloc(len + 1);
    containerd__types__runtime_info__pack(&info, buf);
    fwrite(buf, 1, len, stdout);
    return 0;
}

/*
 * -info: RuntimeInfo as the reference's manager builds it: name, version, the options echoed
 * when stdin had containerd.runc.v1.Options (anything else is refused), the runtime's features
 * when `features` works.
 */
static int action_info(void)
{
    struct berth_error *err = NULL;
    Google__Protobuf__Any *any = read_options_any();
    Containerd__Runc__V1__Options *opts = NULL;
    int rc = -1;
    if (any) {
        const char *url = any->type_url ? any->type_url : "";
        const char *slash = strrchr(url, '/');
        const char *name = slash ? slash + 1 : url;
        if (strcmp(name, "containerd.runc.v1.Options") != 0)
            err_make(&err, ERR_INVALID_ARGUMENT, 0, "invalid type %s", name);
        else if (!(opts = containerd__runc__v1__options__unpack(NULL, any->value.len,
                                                                any->value.data)))
            err_make(&err, ERR_INVALID_ARGUMENT, 0, "invalid containerd.runc.v1.Options");
    }
    if (!err)
        rc = print_info(opts, &err);
    if (opts)
        containerd__runc__v1__options__free_unpacked(opts, NULL);
    if (any)
        google__protobuf__any__free_unpacked(any, NULL);
    return rc < 0 ? fail("info", err) : 0;
}

static uv_signal_t sigterm, sigint;

static void on_term(uv_signal_t *h, int signum)
{
    if (shim_global->socket_path)
        unlink(shim_global->socket_path);
    exit(0);
}

/* The socket the start action bound, inherited as fd 3: its path, for removal at exit. */
static char *listener_path(int fd)
{
    struct sockaddr_un sa;
    socklen_t len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 || sa.sun_family != AF_UNIX ||
        len <= offsetof(struct sockaddr_un, sun_path) || sa.sun_path[0] == '\0')
        return NULL;
    return xstrndup(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path));
}

static const struct shim_flags *serve_flags;
static int serve_status;

/* Runs as the loop's first job, so loop_call_sync calls inside run inline. */
static void serve_setup(void *arg)
{
    const struct shim_flags *f = serve_flags;
    struct shim *sh = shim_global;
    struct berth_error *err = NULL;
    events_init(sh);
    shim_cgroups_init();
    struct rpc_registry *registry = rpc_registry_new();
    rpc_registry_add(registry, &shim_task_service_v2);
    rpc_registry_add(registry, &shim_task_service_v3);
    struct ttrpc_server_options opts = {.require_same_user = true};
    server = ttrpc_server_new(sh->loop, registry, NULL, &opts);
    if (*f->socket) {
        sh->socket_path = xstrdup(unix_socket_path(f->socket));
        if (ttrpc_server_listen_unix(server, sh->socket_path, 0600, (uid_t)-1, (gid_t)-1, &err) < 0)
            exit(fail("listen", err));
    } else {
        sh->socket_path = listener_path(3);
        if (ttrpc_server_listen_fd(server, 3, &err) < 0)
            exit(fail("serve fd 3", err));
    }
    if (child_reaper_start(sh->loop, &err) < 0)
        exit(fail("reaper", err));
    uv_signal_init(loop_uv(sh->loop), &sigterm);
    uv_signal_start(&sigterm, on_term, SIGTERM);
    uv_signal_init(loop_uv(sh->loop), &sigint);
    uv_signal_start(&sigint, on_term, SIGINT);
    (void)serve_status;
}

static int serve(const struct shim_flags *f)
{
    if (f->debug)
        log_set_level(LOG_DEBUG);
    /* nothing but stdio and the listener may leak in from whoever started us */
    close_range(4, ~0U, 0);
    static struct shim s;
    shim_global = &s;
    s.namespace = f->namespace;
    s.id = f->id;
    s.address = f->address;
    s.publish_binary = f->publish_binary;
    s.ttrpc_address = getenv("TTRPC_ADDRESS");
    s.loop = loop_new();
    if (!s.loop)
        return fail("loop", NULL);
    serve_flags = f;
    loop_post(s.loop, serve_setup, NULL);
    loop_run(s.loop);
    return 0;
}

int main(int argc, char **argv)
{
    struct shim_flags f;
    struct berth_error *err = NULL;
    if (shim_flags_parse(argc, argv, &f, &err) < 0)
        return fail("usage", err);
    if (f.version) {
        printf("%s:\n  Version:  %s\n  Revision: %s\n  Runtime:  berth (C)\n",
               strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0], BERTH_VERSION,
               BERTH_REVISION);
        return 0;
    }
    if (f.info)
        return action_info();
    if (f.action && strcmp(f.action, "start") == 0)
        return action_start(&f, argv);
    if (f.action && strcmp(f.action, "delete") == 0)
        return action_delete(&f);
    return serve(&f);
}
