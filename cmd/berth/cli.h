/* Shared state and helpers of the berth CLI's commands. */
#pragma once

#include "lib/base/errors.h"
#include "lib/loop/loop.h"
#include "lib/rpc/rpc.h"

#include <stdbool.h>

struct cli {
    const char *address;
    const char *namespace_name;
    long long timeout_ns; /* --timeout; 0: none */
    long long connect_timeout_ns;
    bool debug;
    struct loop *loop;
    struct rpc_channel *channel;
    struct rpc_metadata metadata; /* containerd-namespace */
};

struct cli_command {
    const char *name;
    const char *alias;
    const char *summary;
    int (*run)(struct cli *cli, int argc, char **argv);
};

/* Connects on first use; exits with a message when the daemon cannot be reached. */
struct rpc_channel *cli_channel(struct cli *cli);
/* Options for a call: namespace metadata and --timeout. */
struct rpc_call_options cli_call_options(struct cli *cli);
/* One unary call; on failure prints "berth: <message>" and exits 1, as ctr does. */
ProtobufCMessage *cli_unary(struct cli *cli, const char *service, const char *method,
                            const ProtobufCMessage *request,
                            const ProtobufCMessageDescriptor *response_descriptor);
/* Prints "berth: <message>" and exits 1. */
void cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Go-style durations: "300ms", "1.5h", "2m30s"; returns -1 when malformed. */
long long cli_parse_duration(const char *text);

/* Runs the subcommand argv[1] of group `name` (argv[0]); prints usage when missing or unknown. */
int cli_dispatch(struct cli *cli, const char *name, const struct cli_command *sub, size_t n,
                 int argc, char **argv);

int cli_version(struct cli *cli, int argc, char **argv);
int cli_namespaces(struct cli *cli, int argc, char **argv);
int cli_plugins(struct cli *cli, int argc, char **argv);
int cli_deprecations(struct cli *cli, int argc, char **argv);
int cli_info(struct cli *cli, int argc, char **argv);
int cli_events(struct cli *cli, int argc, char **argv);
int cli_content(struct cli *cli, int argc, char **argv);
int cli_images(struct cli *cli, int argc, char **argv);
int cli_containers(struct cli *cli, int argc, char **argv);
int cli_leases(struct cli *cli, int argc, char **argv);
int cli_snapshots(struct cli *cli, int argc, char **argv);
/* `berth snapshots diff`, with the group's snapshotter */
int cli_snapshots_diff(struct cli *cli, const char *snapshotter, int argc, char **argv);
