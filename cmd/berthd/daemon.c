/* berthd's daemon: builds the plugins from the config, serves gRPC and ttrpc, stops on signals. */
#include "cmd/berthd/daemon.h"
#include "core/config/config.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/base/log.h"
#include "lib/loop/loop.h"
#include "lib/loop/worker_pool.h"
#include "lib/rpc/grpc_server.h"
#include "lib/rpc/ttrpc_server.h"
#include "services/services.h"

#include "berth-version.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { SHUTDOWN_GRACE_SECONDS = 10 };

struct daemon {
    struct berth_config *config;
    struct loop *loop;
    struct worker_pool *pool;
    struct service_host host;
    struct grpc_server *grpc;
    struct ttrpc_server *ttrpc;
    uv_signal_t sigterm, sigint, sigusr1;
    bool stopping;
};

/* SIGTERM/SIGINT: drain from a thread of its own, since draining waits on the loop. */
static void *shutdown_thread(void *arg)
{
    struct daemon *d = arg;
    log_info("stopping berthd");
    grpc_server_shutdown(d->grpc, SHUTDOWN_GRACE_SECONDS * 1000000000LL);
    if (d->ttrpc)
        ttrpc_server_shutdown(d->ttrpc, 1000000000LL);
    loop_stop(d->loop);
    return NULL;
}

/* SIGUSR1: threads, in-flight calls and plugins, to the log (containerd dumps its goroutines). */
static void dump_state(struct daemon *d)
{
    log_record(LOG_INFO, NULL, "=== berthd state dump (SIGUSR1) ===");
    DIR *dir = opendir("/proc/self/task");
    for (struct dirent *e; dir && (e = readdir(dir));) {
        if (e->d_name[0] == '.')
            continue;
        _cleanup_free_ char *path = xasprintf("/proc/self/task/%s/comm", e->d_name);
        _cleanup_free_ char *comm = NULL;
        _cleanup_free_ char *wpath = xasprintf("/proc/self/task/%s/wchan", e->d_name);
        _cleanup_free_ char *wchan = NULL;
        fs_read_small_file(path, 64, &comm, NULL);
        fs_read_small_file(wpath, 128, &wchan, NULL);
        if (comm)
            comm[strcspn(comm, "\n")] = '\0';
        log_record(
            LOG_INFO,
            LOG_FIELDS("tid", e->d_name, "comm", comm ? comm : "?", "wchan", wchan ? wchan : "?"),
            "thread");
    }
    if (dir)
        closedir(dir);
    char inflight[32], threads[32];
    snprintf(inflight, sizeof(inflight), "%zu", grpc_server_inflight(d->grpc));
    snprintf(threads, sizeof(threads), "%zu", worker_pool_threads(d->pool));
    log_record(LOG_INFO, LOG_FIELDS("grpc_inflight", inflight, "worker_threads", threads), "rpc");
    static const char *const states[] = {"pending", "ok", "skip", "error", "disabled"};
    for (size_t i = 0; i < plugin_set_count(d->host.plugins); i++) {
        const struct plugin_info *p = plugin_set_at(d->host.plugins, i);
        log_record(LOG_INFO,
                   LOG_FIELDS("type", p->reg->type, "id", p->reg->id, "status", states[p->state],
                              "error", p->init_error ? p->init_error->message : ""),
                   "plugin");
    }
    log_record(LOG_INFO, NULL, "=== end of state dump ===");
}

static void on_signal(uv_signal_t *handle, int signum)
{
    struct daemon *d = handle->data;
    if (signum == SIGUSR1) {
        dump_state(d);
        return;
    }
    if (d->stopping)
        return;
    d->stopping = true;
    log_info("received signal %s", signum == SIGTERM ? "terminated" : "interrupt");
    pthread_t t;
    if (pthread_create(&t, NULL, shutdown_thread, d) == 0)
        pthread_detach(t);
    else
        loop_stop(d->loop);
}

static void watch_signals_on_loop(void *arg)
{
    struct daemon *d = arg;
    uv_signal_t *handles[] = {&d->sigterm, &d->sigint, &d->sigusr1};
    int signals[] = {SIGTERM, SIGINT, SIGUSR1};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(loop_uv(d->loop), handles[i]);
        handles[i]->data = d;
        uv_signal_start(handles[i], on_signal, signals[i]);
    }
}

static int prepare_dirs(const struct berth_config *c, struct berth_error **err)
{
    if (fs_mkdir_p(c->root, 0711, err) < 0 || fs_mkdir_p(c->state, 0711, err) < 0)
        return -1;
    /* Tighten existing dirs too: state holds sockets and bundles of every namespace. */
    if (chmod(c->root, 0711) < 0 || chmod(c->state, 0711) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "chmod root/state");
    if (c->temp[0]) {
        if (fs_mkdir_p(c->temp, 0711, err) < 0)
            return -1;
        setenv("TMPDIR", c->temp, 1);
    }
    return 0;
}

static int set_oom_score(int64_t score, struct berth_error **err)
{
    if (score == 0)
        return 0;
    if (score < -1000 || score > 1000)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "oom_score %lld out of range",
                        (long long)score);
    char text[16];
    int n = snprintf(text, sizeof(text), "%lld", (long long)score);
    _cleanup_close_ int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, (size_t)n) != n)
        return err_make(err, err_kind_from_errno(errno), errno, "set oom_score_adj");
    return 0;
}

static const char *const *strings_null_terminated(const struct config_strings *s, char ***store)
{
    *store = xcalloc(s->count + 1, sizeof(char *));
    for (size_t i = 0; i < s->count; i++)
        (*store)[i] = s->items[i];
    return (const char *const *)*store;
}

/* Sockets are chown'ed only when the config names another owner than ourselves. */
static uid_t owner_uid(int64_t uid)
{
    return (uid_t)uid == geteuid() ? (uid_t)-1 : (uid_t)uid;
}

static gid_t owner_gid(int64_t gid)
{
    return (gid_t)gid == getegid() ? (gid_t)-1 : (gid_t)gid;
}

static int start(struct daemon *d, struct berth_error **err)
{
    struct berth_config *c = d->config;
    long long started = monotonic_ns();
    log_record(LOG_INFO, LOG_FIELDS("revision", BERTH_REVISION, "version", BERTH_VERSION),
               "starting berthd");
    if (prepare_dirs(c, err) < 0 || set_oom_score(c->oom_score, err) < 0)
        return -1;
    d->loop = loop_new();
    d->pool = worker_pool_new(2, 4096);
    d->host.grpc = rpc_registry_new();
    d->host.ttrpc = rpc_registry_new();
    d->host.plugins = plugin_set_new();
    daemon_register_builtins(d->host.plugins);

    _cleanup_free_ char **disabled = NULL, **required = NULL;
    struct plugin_init_options opts = {
        .root = c->root,
        .state = c->state,
        .plugins_config = c->plugins,
        .disabled = strings_null_terminated(&c->disabled_plugins, &disabled),
        .required = strings_null_terminated(&c->required_plugins, &required),
        .daemon = &d->host,
        .grpc_address = c->grpc.address,
        .ttrpc_address = c->ttrpc.address,
    };
    if (plugin_set_init(d->host.plugins, &opts, err) < 0)
        return -1;

    struct grpc_server_options gopts = {
        .max_recv_message_size = (size_t)c->grpc.max_recv_message_size,
        .max_send_message_size = (size_t)c->grpc.max_send_message_size,
    };
    d->grpc = grpc_server_new(d->loop, d->host.grpc, d->pool, &gopts);
    struct ttrpc_server_options topts = {.require_same_user = true};
    d->ttrpc = ttrpc_server_new(d->loop, d->host.ttrpc, d->pool, &topts);
    /* The loop must run before listening: sockets are opened on the loop thread. */
    if (loop_start_thread(d->loop) < 0)
        return err_make(err, ERR_INTERNAL, errno, "start the I/O loop");
    loop_call_sync(d->loop, watch_signals_on_loop, d);
    if (ttrpc_server_listen_unix(d->ttrpc, c->ttrpc.address, 0660, owner_uid(c->ttrpc.uid),
                                 owner_gid(c->ttrpc.gid), err) < 0)
        return err_wrap(err, "ttrpc");
    log_record(LOG_INFO, LOG_FIELDS("address", c->ttrpc.address), "serving...");
    if (grpc_server_listen_unix(d->grpc, c->grpc.address, 0660, owner_uid(c->grpc.uid),
                                owner_gid(c->grpc.gid), err) < 0)
        return err_wrap(err, "grpc");
    log_record(LOG_INFO, LOG_FIELDS("address", c->grpc.address), "serving...");
    char took[32];
    snprintf(took, sizeof(took), "%.6fs", (double)(monotonic_ns() - started) / 1e9);
    log_record(LOG_INFO, LOG_FIELDS("took", took), "berthd successfully booted");
    return 0;
}

int daemon_run(struct berth_config *config)
{
    struct daemon d = {.config = config};
    struct berth_error *err = NULL;
    int rc = start(&d, &err);
    if (rc < 0) {
        log_record(LOG_FATAL, LOG_FIELDS("error", err ? err->message : "unknown"),
                   "berthd failed to start");
        err_free(err);
        if (d.grpc && d.loop)
            grpc_server_shutdown(d.grpc, 0);
        if (d.ttrpc && d.loop)
            ttrpc_server_shutdown(d.ttrpc, 0);
    } else {
        loop_join(d.loop); /* until a signal stops the loop */
        log_info("berthd stopped");
    }
    loop_free(d.loop);
    worker_pool_free(d.pool);
    if (d.host.plugins)
        plugin_set_close(d.host.plugins);
    grpc_server_free(d.grpc);
    ttrpc_server_free(d.ttrpc);
    rpc_registry_free(d.host.grpc);
    rpc_registry_free(d.host.ttrpc);
    plugin_set_free(d.host.plugins);
    return rc < 0 ? 1 : 0;
}
