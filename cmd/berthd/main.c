/* berthd: the Berth daemon — containerd's API on a unix socket. */
#include "cmd/berthd/config_command.h"
#include "cmd/berthd/daemon.h"
#include "cmd/berthd/publish_command.h"
#include "core/config/config.h"
#include "core/plugin/plugin.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"

#include "berth-version.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct options {
    const char *config;
    bool config_given;
    const char *root;
    const char *state;
    const char *address;
    const char *log_level;
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: berthd [OPTIONS] [COMMAND]\n"
                 "\n"
                 "Berth: a containerd 2.0 compatible container runtime daemon.\n"
                 "\n"
                 "Commands:\n"
                 "  config default         print the default configuration (version 3)\n"
                 "  config dump            print the effective configuration\n"
                 "  config migrate         print the config file migrated to version 3\n"
                 "  publish --namespace NS --topic T\n"
                 "                         publish the event (a protobuf Any) read from stdin\n"
                 "\n"
                 "Options:\n"
                 "  -c, --config PATH      config file (default " CONFIG_DEFAULT_PATH ")\n"
                 "  -l, --log-level LEVEL  trace, debug, info, warn, error, fatal, panic\n"
                 "  -a, --address PATH     gRPC socket (default " CONFIG_DEFAULT_ADDRESS ")\n"
                 "      --root PATH        persistent state (default " CONFIG_DEFAULT_ROOT ")\n"
                 "      --state PATH       runtime state (default " CONFIG_DEFAULT_STATE ")\n"
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
    while ((c = getopt_long(argc, argv, "+c:l:a:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->config = optarg;
            o->config_given = true;
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
    return 0;
}

/* Flags override the file; root and state are made absolute, as containerd does. */
static void apply_flags(struct berth_config *c, const struct options *o)
{
    if (o->root) {
        free(c->root);
        c->root = realpath(o->root, NULL);
        if (!c->root)
            c->root = o->root[0] == '/' ? xstrdup(o->root)
                                        : xasprintf("%s/%s", getenv("PWD") ?: ".", o->root);
    }
    if (o->state) {
        free(c->state);
        c->state = realpath(o->state, NULL);
        if (!c->state)
            c->state = o->state[0] == '/' ? xstrdup(o->state)
                                          : xasprintf("%s/%s", getenv("PWD") ?: ".", o->state);
    }
    if (o->address) {
        free(c->grpc.address);
        c->grpc.address = xstrdup(o->address);
    }
    if (o->log_level) {
        free(c->debug.level);
        c->debug.level = xstrdup(o->log_level);
    }
}

static int configure_logging(const struct berth_config *c)
{
    if (c->debug.level[0]) {
        enum log_level level;
        if (log_level_parse(c->debug.level, &level) < 0) {
            fprintf(stderr, "berthd: unknown log level %s\n", c->debug.level);
            return -1;
        }
        log_set_level(level);
    }
    if (strcmp(c->debug.format, "json") == 0)
        log_set_format(LOG_FORMAT_JSON);
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {.config = CONFIG_DEFAULT_PATH};
    if (parse_args(argc, argv, &o) < 0)
        return 1;
    /* The log level applies to config loading too. */
    if (o.log_level) {
        enum log_level level;
        if (log_level_parse(o.log_level, &level) < 0) {
            fprintf(stderr, "berthd: unknown log level %s\n", o.log_level);
            return 1;
        }
        log_set_level(level);
    }
    if (optind < argc && strcmp(argv[optind], "publish") == 0)
        return berthd_publish_command(argc - optind, argv + optind,
                                      o.address ? o.address : CONFIG_DEFAULT_ADDRESS);
    if (optind < argc) {
        if (strcmp(argv[optind], "config") != 0) {
            fprintf(stderr, "berthd: unknown command %s\n", argv[optind]);
            return 1;
        }
        struct plugin_set *plugins = plugin_set_new();
        daemon_register_builtins(plugins);
        int rc =
            berthd_config_command(argc - optind, argv + optind, o.config, o.config_given, plugins);
        plugin_set_free(plugins);
        return rc;
    }

    struct berth_config *config = NULL;
    struct berth_error *err = NULL;
    if (config_load(o.config, o.config_given, &config, &err) < 0) {
        fprintf(stderr, "berthd: failed to load config: %s\n", err->message);
        err_free(err);
        return 1;
    }
    apply_flags(config, &o);
    config_resolve(config);
    if (config_validate(config, &err) < 0) {
        fprintf(stderr, "berthd: invalid config: %s\n", err->message);
        err_free(err);
        config_free(config);
        return 1;
    }
    if (configure_logging(config) < 0) {
        config_free(config);
        return 1;
    }
    int rc = daemon_run(config);
    config_free(config);
    return rc;
}
