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

const struct rpc_service *introspection_service_new(const char *root, struct berth_error **err);
void introspection_service_free(const struct rpc_service *service);
