/* berthd: the Berth daemon — containerd's API on a unix socket. */
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/base/log.h"
#include "lib/loop/loop.h"
#include "lib/loop/worker_pool.h"
#include "lib/rpc/grpc_server.h"
#include "services/services.h"

#include "berth-version.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_ROOT    "/var/lib/berth"
#define DEFAULT_STATE   "/run/berth"
#define DEFAULT_ADDRESS "/run/berth/berth.sock"
#define DEFAULT_CONFIG  "/etc/berth/config.toml"

struct options {
    const char *config;
    const char *root;
    const char *state;
    const char *address;
    const char *log_level;
};

struct daemon {
    struct options opts;
    struct loop *loop;
    struct worker_pool *pool;
    struct rpc_registry *registry;
    struct grpc_server *grpc;
    const struct rpc_service *introspection;
    uv_signal_t sigterm, sigint;
    bool stopping;
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: berthd [OPTIONS]\n"
                 "\n"
                 "Berth: a containerd 2.0 compatible container runtime daemon.\n"
                 "\n"
                 "Options:\n"
                 "  -c, --config PATH      config file (default " DEFAULT_CONFIG ")\n"
                 "  -l, --log-level LEVEL  trace, debug, info, warn, error, fatal, panic\n"
                 "  -a, --address PATH     gRPC socket (default " DEFAULT_ADDRESS ")\n"
                 "      --root PATH        persistent state (default " DEFAULT_ROOT ")\n"
                 "      --state PATH       runtime state (default " DEFAULT_STATE ")\n"
                 "  -v, --version          print the version and exit\n"
                 "  -h, --help             show this help\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
    enum { OPT_ROOT = 1000, OPT_STATE };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'l'},
        {"address", required_argument, NULL, 'a'},
        {"root", required_argument, NULL, OPT_ROOT},
        {"state", required_argument, NULL, OPT_STATE},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "c:l:a:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            break;
        case 'l':
            o->log_level = optarg;
            break;
        case 'a':
            o->address = optarg;
            break;
        case OPT_ROOT:
            o->root = optarg;
            break;
        case OPT_STATE:
            o->state = optarg;
            break;
        case 'v':
            printf("berthd github.com/berth-runtime/berth %s %s\n", BERTH_VERSION, BERTH_REVISION);
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "berthd: unexpected argument %s\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* SIGTERM/SIGINT: drain from a thread of its own, since draining waits on the loop. */
static void *shutdown_thread(void *arg)
{
    struct daemon *d = arg;
    log_info("stopping berthd");
    grpc_server_shutdown(d->grpc, 10LL * 1000000000LL);
    loop_stop(d->loop);
    return NULL;
}

static void on_signal(uv_signal_t *handle, int signum)
{
    struct daemon *d = handle->data;
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
    uv_signal_init(loop_uv(d->loop), &d->sigterm);
    uv_signal_init(loop_uv(d->loop), &d->sigint);
    d->sigterm.data = d->sigint.data = d;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);
}

static int prepare_dirs(const struct options *o, struct berth_error **err)
{
    if (fs_mkdir_p(o->root, 0711, err) < 0 || fs_mkdir_p(o->state, 0711, err) < 0)
        return -1;
    /* Tighten existing dirs too: state holds sockets and bundles of every namespace. */
    if (chmod(o->root, 0711) < 0 || chmod(o->state, 0711) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "chmod root/state");
    return 0;
}

static int run(struct daemon *d, struct berth_error **err)
{
    long long started = monotonic_ns();
    log_record(LOG_INFO, LOG_FIELDS("revision", BERTH_REVISION, "version", BERTH_VERSION),
               "starting berthd");
    if (prepare_dirs(&d->opts, err) < 0)
        return -1;
    d->loop = loop_new();
    d->pool = worker_pool_new(2, 4096);
    d->registry = rpc_registry_new();
    d->introspection = introspection_service_new(d->opts.root, err);
    if (!d->introspection)
        return err_wrap(err, "introspection");
    rpc_registry_add(d->registry, &version_service);
    rpc_registry_add(d->registry, &health_service);
    rpc_registry_add(d->registry, d->introspection);
    for (size_t i = 0; i < rpc_registry_count(d->registry); i++)
        log_record(LOG_INFO,
                   LOG_FIELDS("type", "io.containerd.grpc.v1", "id",
                              rpc_registry_at(d->registry, i)->name),
                   "loading plugin");

    d->grpc = grpc_server_new(d->loop, d->registry, d->pool, NULL);
    /* The loop must run before listening: listening is done on the loop thread. */
    if (loop_start_thread(d->loop) < 0)
        return err_make(err, ERR_INTERNAL, errno, "start the I/O loop");
    loop_call_sync(d->loop, watch_signals_on_loop, d);
    if (grpc_server_listen_unix(d->grpc, d->opts.address, 0660, (uid_t)-1, (gid_t)-1, err) < 0)
        return -1;
    log_record(LOG_INFO, LOG_FIELDS("address", d->opts.address), "serving...");
    char took[32];
    snprintf(took, sizeof(took), "%.6fs", (double)(monotonic_ns() - started) / 1e9);
    log_record(LOG_INFO, LOG_FIELDS("took", took), "berthd successfully booted");
    return 0;
}

int main(int argc, char **argv)
{
    struct daemon d = {.opts = {.config = DEFAULT_CONFIG,
                                .root = DEFAULT_ROOT,
                                .state = DEFAULT_STATE,
                                .address = DEFAULT_ADDRESS,
                                .log_level = "info"}};
    if (parse_args(argc, argv, &d.opts) < 0)
        return 1;
    enum log_level level;
    if (log_level_parse(d.opts.log_level, &level) < 0) {
        fprintf(stderr, "berthd: unknown log level %s\n", d.opts.log_level);
        return 1;
    }
    log_set_level(level);
    if (access(d.opts.config, F_OK) == 0)
        log_record(LOG_WARN, LOG_FIELDS("path", d.opts.config),
                   "config file found but config loading is not implemented yet; using defaults");

    struct berth_error *err = NULL;
    int rc = run(&d, &err);
    if (rc < 0) {
        log_record(LOG_FATAL, LOG_FIELDS("error", err ? err->message : "unknown"),
                   "berthd failed to start");
        err_free(err);
        if (d.grpc && d.loop && loop_on_thread(d.loop) == false)
            grpc_server_shutdown(d.grpc, 0);
    } else {
        /* The loop thread runs until a signal stops it. */
        loop_join(d.loop);
        log_info("berthd stopped");
    }
    if (d.loop)
        loop_free(d.loop);
    worker_pool_free(d.pool);
    grpc_server_free(d.grpc);
    rpc_registry_free(d.registry);
    introspection_service_free(d.introspection);
    return rc < 0 ? 1 : 0;
}
