/*
 * Runtime v2 shim binaries: finding one for a runtime name, and running its `start` and
 * `delete` actions with containerd's arguments and environment (core/runtime/v2/binary.go).
 */
#pragma once

#include "lib/base/errors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How shims are launched: the daemon's addresses and what it adds to their environment. */
struct shim_launch {
    const char *grpc_address;
    const char *ttrpc_address;
    const char *publish_binary; /* the daemon executable (`berthd publish`) */
    const char *const
        *env; /* extra "K=V" entries ([plugins."io.containerd.shim.v1.manager"].env) */
    size_t n_env;
    bool debug;
    /* Directories searched before containerd's order (Berth's own shims come first). */
    const char *const *shim_dirs;
    size_t n_shim_dirs;
};

/*
 * Resolves a runtime name as containerd does: an absolute path as is (it must exist); a name
 * with '/' is rejected; "io.containerd.runc.v2" → containerd-shim-runc-v2, looked up in
 * shim_dirs, then beside the name, in $PATH and beside the daemon.
 */
int shim_binary_resolve(const struct shim_launch *l, const char *runtime, char **ret_path,
                        struct berth_error **err);

/* What a shim's start printed (containerd's BootstrapParams). */
struct shim_bootstrap {
    int version;    /* 2 or 3 */
    char *address;  /* "unix:///path" */
    char *protocol; /* "ttrpc" or "grpc" */
};
void shim_bootstrap_clear(struct shim_bootstrap *b);
/* JSON params, or a bare address meaning version 2 over ttrpc; version > 3 is NotImplemented. */
int shim_bootstrap_parse(const char *text, size_t len, struct shim_bootstrap *ret,
                         struct berth_error **err);
/* Writes <bundle>/bootstrap.json as containerd does (Go field order). */
int shim_bootstrap_write(const char *bundle, const struct shim_bootstrap *b,
                         struct berth_error **err);
/* Reads bootstrap.json, or migrates a legacy `address` file. */
int shim_bootstrap_read(const char *bundle, struct shim_bootstrap *ret, struct berth_error **err);

/*
 * Runs `<shim> -namespace NS -address A -publish-binary P -id ID [-debug] start` in the bundle
 * with the options Any (packed; may be empty) on stdin, and parses what it printed (stdout and
 * stderr together, as containerd reads them).
 */
int shim_binary_start(const struct shim_launch *l, const char *shim_path, const char *ns,
                      const char *id, const char *bundle, const void *options, size_t options_len,
                      struct shim_bootstrap *ret, struct berth_error **err);

/* The DeleteResponse of a shim's `delete` action. */
struct shim_exit {
    uint32_t pid;
    uint32_t exit_status;
    int64_t exited_at; /* ns since the epoch */
};

/* Runs the `delete` action for a dead or failed shim (cleans runc state, unmounts rootfs). */
int shim_binary_delete(const struct shim_launch *l, const char *shim_path, const char *ns,
                       const char *id, const char *bundle, struct shim_exit *ret,
                       struct berth_error **err);
