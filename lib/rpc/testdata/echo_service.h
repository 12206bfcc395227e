/* The berth.test.v1.Echo service, for RPC unit and interop tests. */
#pragma once

#include "lib/rpc/rpc.h"

extern const struct rpc_service echo_service;
