/* Pure helpers of the shim: flags, socket and state paths, group ids, stdio URIs (unit tested). */
#pragma once

#include "lib/base/errors.h"

#include <stdbool.h>
#include <stddef.h>

/* The reference shim's flags (Go's flag package syntax: -name value, -name=value, --name). */
struct shim_flags {
    const char *namespace;
    const char *id;
    const char *address;
    const char *publish_binary;
    const char *bundle;
    const char *socket;
    bool debug;
    bool info;
    bool version;
    const char *action; /* "start", "delete" or NULL (serve) */
};

int shim_flags_parse(int argc, char **argv, struct shim_flags *ret, struct berth_error **err);

/* SHA-256 of data as 64 lowercase hex digits and a NUL. */
void shim_sha256_hex(const void *data, size_t len, char out[65]);

/* Go's filepath.Clean (lexical: collapses //, ., .. and trailing slashes). */
char *shim_path_clean(const char *path);

/*
 * The state dir a bundle lives in: "<state>" for "<state>/io.containerd.runtime.v2.task/<ns>/<id>",
 * else NULL.
 */
char *shim_state_dir_from_bundle(const char *bundle);

/* Where shim sockets go when the state dir's path would be too long. */
#define SHIM_FALLBACK_SOCKET_DIR "/run/berth/s"

/*
 * The socket path (no "unix://") for a group: the reference hashes "<address>/<ns>/<group>"
 * (cleaned) with SHA-256; Berth puts <hex> under "<state>/s/" (state from the bundle) or under
 * SHIM_FALLBACK_SOCKET_DIR when there is no state dir or the path would not fit in sun_path.
 */
char *shim_socket_path(const char *bundle, const char *address, const char *ns, const char *group);

/*
 * The shim group of a container: the spec annotation io.containerd.runc.v2.group, else
 * io.kubernetes.cri.sandbox-id, else id. `spec_json` is config.json (may be NULL).
 */
char *shim_group_from_spec(const char *spec_json, size_t len, const char *id,
                           struct berth_error **err);

enum stdio_kind { STDIO_NULL, STDIO_FIFO, STDIO_FILE, STDIO_BINARY };

/* A parsed stdout URI (pkg/process/io.go): a FIFO path, file:///path or binary:///path?k=v. */
struct stdio_uri {
    enum stdio_kind kind;
    char *path;
    char **args; /* binary: argv after the path, NULL-terminated */
    size_t n_args;
};

int shim_stdio_uri_parse(const char *uri, struct stdio_uri *ret, struct berth_error **err);
void shim_stdio_uri_clear(struct stdio_uri *uri);

/* "unix://" + path, as printed by start. */
char *shim_address_of(const char *socket_path);

/* Whether s is a safe single path component (ids and exec ids end up in file names). */
bool shim_safe_name(const char *s);

/* exec.LookPath: a name with a slash as is, else the first executable file in path_env's dirs. */
char *shim_look_path(const char *name, const char *path_env);

/* JSON re-encoded without whitespace (key order kept), or NULL when data is not one JSON value. */
char *shim_json_compact(const char *data, size_t len);
