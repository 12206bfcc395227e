/* One error type for all of Berth: a containerd errdefs kind, an errno and a message. */
#pragma once

#include <stdarg.h>

/* containerd's errdefs classes, plus context cancellation and deadlines. */
enum err_kind {
    ERR_UNKNOWN = 0,
    ERR_INVALID_ARGUMENT,
    ERR_NOT_FOUND,
    ERR_ALREADY_EXISTS,
    ERR_PERMISSION_DENIED,
    ERR_RESOURCE_EXHAUSTED,
    ERR_FAILED_PRECONDITION,
    ERR_CONFLICT,
    ERR_NOT_MODIFIED,
    ERR_ABORTED,
    ERR_OUT_OF_RANGE,
    ERR_NOT_IMPLEMENTED,
    ERR_INTERNAL,
    ERR_UNAVAILABLE,
    ERR_DATA_LOSS,
    ERR_UNAUTHENTICATED,
    ERR_CANCELED,
    ERR_DEADLINE_EXCEEDED,
};

/* gRPC status codes (google.rpc.Code). */
enum grpc_code {
    GRPC_OK = 0,
    GRPC_CANCELLED = 1,
    GRPC_UNKNOWN = 2,
    GRPC_INVALID_ARGUMENT = 3,
    GRPC_DEADLINE_EXCEEDED = 4,
    GRPC_NOT_FOUND = 5,
    GRPC_ALREADY_EXISTS = 6,
    GRPC_PERMISSION_DENIED = 7,
    GRPC_RESOURCE_EXHAUSTED = 8,
    GRPC_FAILED_PRECONDITION = 9,
    GRPC_ABORTED = 10,
    GRPC_OUT_OF_RANGE = 11,
    GRPC_UNIMPLEMENTED = 12,
    GRPC_INTERNAL = 13,
    GRPC_UNAVAILABLE = 14,
    GRPC_DATA_LOSS = 15,
    GRPC_UNAUTHENTICATED = 16,
};

struct berth_error {
    enum err_kind kind;
    int errno_value; /* 0 when no system call is behind the error */
    char *message;   /* the whole text, context first, e.g. `namespace "x": not found` */
};

/*
 * Sets *err (when err is non-NULL and *err is NULL) and returns -1, so a failing function can
 * `return err_make(err, ERR_NOT_FOUND, 0, "namespace %s", name);`. The message gets the errno text
 * and then the class string appended the way containerd's wrapped errors read
 * ("namespace x: not found"), which keeps the class recoverable by clients from the message alone.
 */
int err_make(struct berth_error **err, enum err_kind kind, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int err_makev(struct berth_error **err, enum err_kind kind, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/* Like err_make but the message is taken exactly as given (for errors received from peers). */
int err_make_raw(struct berth_error **err, enum err_kind kind, const char *message);
/* Prefixes context to an existing error: "context: old message". Returns -1. */
int err_wrap(struct berth_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_free(struct berth_error *err);
static inline void err_freep(struct berth_error **err)
{
    err_free(*err);
}
#define _cleanup_error_ __attribute__((cleanup(err_freep)))

/* containerd's class strings ("not found", ...); NULL for kinds without one. */
const char *err_kind_string(enum err_kind kind);
/* errdefs → gRPC code, as containerd's errgrpc.ToGRPC maps it. */
enum grpc_code err_kind_to_grpc(enum err_kind kind);
/* gRPC code (+ message, for Conflict/NotModified) → errdefs kind, as errgrpc.ToNative. */
enum err_kind err_kind_from_grpc(enum grpc_code code, const char *message);
const char *grpc_code_name(enum grpc_code code);
/* A kind for a system errno (ENOENT → not found, EEXIST → already exists, ...). */
enum err_kind err_kind_from_errno(int errnum);
