/* The runtime v2 plugins berthd registers. */
#pragma once

#include "core/plugin/plugin.h"

#if defined(__x86_64__)
#define RUNTIME_HOST_PLATFORM "linux/amd64"
#elif defined(__aarch64__)
#define RUNTIME_HOST_PLATFORM "linux/arm64/v8"
#elif defined(__arm__)
#define RUNTIME_HOST_PLATFORM "linux/arm/v7"
#elif defined(__riscv) && __riscv_xlen == 64
#define RUNTIME_HOST_PLATFORM "linux/riscv64"
#elif defined(__s390x__)
#define RUNTIME_HOST_PLATFORM "linux/s390x"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define RUNTIME_HOST_PLATFORM "linux/ppc64le"
#else
#define RUNTIME_HOST_PLATFORM "linux/unknown"
#endif

/* io.containerd.shim.v1 "manager": how shims are launched ([plugins.*.manager] env). */
extern const struct plugin_registration shim_manager_plugin;
/* io.containerd.runtime.v2 "task": the task manager (instance: struct task_manager). */
extern const struct plugin_registration task_runtime_plugin;
