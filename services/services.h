/* The gRPC/ttrpc services berthd serves; each translates protobuf to core calls. */
#pragma once

#include "lib/base/errors.h"
#include "lib/rpc/rpc.h"

/* The containerd release whose API Berth implements. */
#define BERTH_CONTAINERD_API_VERSION "2.0.0"

extern const struct rpc_service version_service;
extern const struct rpc_service health_service;
/* What berthd reports as its version: containerd's, with Berth's as build metadata. */
const char *berth_server_version(void);

struct plugin_set;
struct event_exchange;
struct metadata_db;

/* What service plugins get as the daemon handle: where to register and what to report. */
struct service_host {
    struct rpc_registry *grpc;
    struct rpc_registry *ttrpc;
    struct plugin_set *plugins;
};

/*
 * Publishes an event message under `topic` in a namespace, as an Any with containerd's type URL
 * (the message's full proto name). A failure is logged, not returned: the change it reports has
 * already happened.
 */
void services_publish(struct event_exchange *exchange, const char *namespace_name,
                      const char *topic, const ProtobufCMessage *event);

/* Service plugins (io.containerd.grpc.v1.*). */
extern const struct plugin_registration version_plugin;
extern const struct plugin_registration healthcheck_plugin;
extern const struct plugin_registration introspection_plugin;
extern const struct plugin_registration namespaces_plugin;
extern const struct plugin_registration events_plugin;
extern const struct plugin_registration images_plugin;
extern const struct plugin_registration containers_plugin;
extern const struct plugin_registration tasks_plugin;
extern const struct plugin_registration leases_plugin;
extern const struct plugin_registration content_service_plugin;
extern const struct plugin_registration snapshots_service_plugin;
extern const struct plugin_registration diff_service_plugin;
/* io.containerd.differ.v1 "walking" (Apply onto mounts; served by the diff service) */
extern const struct plugin_registration walking_differ_plugin;
/* io.containerd.event.v1.exchange (registered here: it is the bus the events service serves) */
extern const struct plugin_registration exchange_plugin;
