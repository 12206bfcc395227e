/* berth: the command-line client, with ctr's global flags and command tree. */
#include "cmd/berth/cli.h"
#include "cmd/berth/tasks.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/rpc/grpc_client.h"

#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ADDRESS   "/run/berth/berth.sock"
#define DEFAULT_NAMESPACE "default"

static const struct cli_command commands[] = {
    {"containers", "container", "manage containers", cli_containers},
    {"content", NULL, "manage content", cli_content},
    {"deprecations", NULL, "print warnings for deprecations", cli_deprecations},
    {"events", "event", "display the daemon's events", cli_events},
    {"images", "image", "manage images", cli_images},
    {"info", NULL, "print the server info", cli_info},
    {"leases", NULL, "manage leases", cli_leases},
    {"snapshots", "snapshot", "manage snapshots", cli_snapshots},
    {"namespaces", "ns", "manage namespaces", cli_namespaces},
    {"plugins", "plugin", "provides information about the daemon's plugins", cli_plugins},
    {"run", NULL, "run a container", cli_run},
    {"tasks", "t", "manage tasks", cli_tasks},
    {"task", NULL, "manage tasks", cli_tasks},
    {"c", NULL, "manage containers", cli_containers},
    {"version", NULL, "print the client and server versions", cli_version},
};

static void usage(FILE *out)
{
    fprintf(out, "NAME:\n   berth - the Berth command-line client (ctr-compatible)\n\n"
                 "USAGE:\n   berth [global options] command [command options] [arguments...]\n\n"
                 "COMMANDS:\n");
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        fprintf(out, "   %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nGLOBAL OPTIONS:\n"
                 "   --debug                      enable debug output in logs\n"
                 "   --address value, -a value    address for the daemon's gRPC server (default: "
                 "\"" DEFAULT_ADDRESS "\") [$CONTAINERD_ADDRESS]\n"
                 "   --timeout value              total timeout for commands (default: 0s)\n"
                 "   --connect-timeout value      timeout for connecting to the daemon\n"
                 "   --namespace value, -n value  namespace to use with commands (default: "
                 "\"" DEFAULT_NAMESPACE "\") [$CONTAINERD_NAMESPACE]\n"
                 "   --help, -h                   show help\n"
                 "   --version, -v                print the version\n");
}

void cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("berth: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

long long cli_parse_duration(const char *text)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {{"ns", 1},  {"us", 1e3}, {"µs", 1e3},  {"ms", 1e6},
                 {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    if (strcmp(text, "0") == 0)
        return 0;
    double total = 0;
    const char *p = text;
    if (!*p)
        return -1;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || v < 0)
            return -1;
        p = end;
        size_t best = 0;
        int found = -1;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
            size_t n = strlen(units[i].unit);
            if (strncmp(p, units[i].unit, n) == 0 && n > best &&
                !(n == 1 && p[0] == 'm' && p[1] == 's')) {
                best = n;
                found = (int)i;
            }
        }
        if (found < 0)
            return -1;
        total += v * units[found].ns;
        p += best;
    }
    return (long long)total;
}

int cli_dispatch(struct cli *cli, const char *name, const struct cli_command *sub, size_t n,
                 int argc, char **argv)
{
    const char *want = argc > 1 ? argv[1] : NULL;
    for (size_t i = 0; want && i < n; i++) {
        if (strcmp(sub[i].name, want) == 0 || (sub[i].alias && strcmp(sub[i].alias, want) == 0)) {
            optind = 1; /* the subcommand parses its own flags from argv[1..] */
            return sub[i].run(cli, argc - 1, argv + 1);
        }
    }
    FILE *out = want ? stderr : stdout;
    if (want)
        fprintf(stderr, "berth %s: no such command \"%s\"\n", name, want);
    fprintf(out, "USAGE:\n   berth %s command [arguments...]\n\nCOMMANDS:\n", name);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "   %-10s %s\n", sub[i].name, sub[i].summary);
    return want ? 1 : 0;
}

struct rpc_channel *cli_channel(struct cli *cli)
{
    if (cli->channel)
        return cli->channel;
    if (!cli->loop) {
        cli->loop = loop_new();
        if (!cli->loop || loop_start_thread(cli->loop) < 0)
            cli_fail("cannot start the I/O thread");
    }
    struct berth_error *err = NULL;
    cli->channel = grpc_channel_connect(cli->loop, cli->address, NULL, &err);
    if (!cli->channel)
        cli_fail("failed to dial \"%s\": %s", cli->address, err->message);
    return cli->channel;
}

struct rpc_call_options cli_call_options(struct cli *cli)
{
    return (struct rpc_call_options){.metadata = &cli->metadata, .timeout_ns = cli->timeout_ns};
}

ProtobufCMessage *cli_unary(struct cli *cli, const char *service, const char *method,
                            const ProtobufCMessage *request,
                            const ProtobufCMessageDescriptor *response_descriptor)
{
    struct rpc_call_options opts = cli_call_options(cli);
    ProtobufCMessage *resp = NULL;
    struct berth_error *err = NULL;
    if (rpc_channel_unary(cli_channel(cli), service, method, request, response_descriptor, &resp,
                          &opts, &err) < 0)
        cli_fail("%s", err->message);
    return resp;
}

int main(int argc, char **argv)
{
    struct cli cli = {
        .address = getenv("CONTAINERD_ADDRESS"),
        .namespace_name = getenv("CONTAINERD_NAMESPACE"),
    };
    if (!cli.address || !*cli.address)
        cli.address = DEFAULT_ADDRESS;
    if (!cli.namespace_name || !*cli.namespace_name)
        cli.namespace_name = DEFAULT_NAMESPACE;

    enum { OPT_TIMEOUT = 1000, OPT_CONNECT_TIMEOUT, OPT_DEBUG };
    static const struct option longopts[] = {
        {"address", required_argument, NULL, 'a'},
        {"namespace", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
        {"debug", no_argument, NULL, OPT_DEBUG},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {0},
    };
    int c;
    /* '+': stop at the first command word; the rest belongs to the command. */
    while ((c = getopt_long(argc, argv, "+a:n:hv", longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            cli.address = optarg;
            break;
        case 'n':
            cli.namespace_name = optarg;
            break;
        case OPT_TIMEOUT:
            if ((cli.timeout_ns = cli_parse_duration(optarg)) < 0)
                cli_fail("invalid value \"%s\" for flag -timeout", optarg);
            break;
        case OPT_CONNECT_TIMEOUT:
            if ((cli.connect_timeout_ns = cli_parse_duration(optarg)) < 0)
                cli_fail("invalid value \"%s\" for flag -connect-timeout", optarg);
            break;
        case OPT_DEBUG:
            cli.debug = true;
            log_set_level(LOG_DEBUG);
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'v':
            return cli_version(&cli, 0, NULL) == 0 ? 0 : 1;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (optind >= argc) {
        usage(stdout);
        return 0;
    }
    rpc_metadata_add(&cli.metadata, "containerd-namespace", cli.namespace_name);
    const char *name = argv[optind];
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (strcmp(commands[i].name, name) == 0 ||
            (commands[i].alias && strcmp(commands[i].alias, name) == 0)) {
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            optind = 1; /* commands parse their own flags */
            int rc = commands[i].run(&cli, sub_argc, sub_argv);
            rpc_channel_free(cli.channel);
            loop_free(cli.loop);
            rpc_metadata_clear(&cli.metadata);
            return rc;
        }
    }
    fprintf(stderr, "berth: no such command \"%s\"\n", name);
    return 1;
}
