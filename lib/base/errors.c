/* The error type and containerd's errdefs <-> gRPC code mapping. */
#include "lib/base/errors.h"
#include "lib/base/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *class_string;
    enum grpc_code code;
} kinds[] = {
    [ERR_UNKNOWN] = {"unknown", GRPC_UNKNOWN},
    [ERR_INVALID_ARGUMENT] = {"invalid argument", GRPC_INVALID_ARGUMENT},
    [ERR_NOT_FOUND] = {"not found", GRPC_NOT_FOUND},
    [ERR_ALREADY_EXISTS] = {"already exists", GRPC_ALREADY_EXISTS},
    [ERR_PERMISSION_DENIED] = {"permission denied", GRPC_PERMISSION_DENIED},
    [ERR_RESOURCE_EXHAUSTED] = {"resource exhausted", GRPC_RESOURCE_EXHAUSTED},
    [ERR_FAILED_PRECONDITION] = {"failed precondition", GRPC_FAILED_PRECONDITION},
    [ERR_CONFLICT] = {"conflict", GRPC_FAILED_PRECONDITION},
    [ERR_NOT_MODIFIED] = {"not modified", GRPC_FAILED_PRECONDITION},
    [ERR_ABORTED] = {"aborted", GRPC_ABORTED},
    [ERR_OUT_OF_RANGE] = {"out of range", GRPC_OUT_OF_RANGE},
    [ERR_NOT_IMPLEMENTED] = {"not implemented", GRPC_UNIMPLEMENTED},
    [ERR_INTERNAL] = {"internal", GRPC_INTERNAL},
    [ERR_UNAVAILABLE] = {"unavailable", GRPC_UNAVAILABLE},
    [ERR_DATA_LOSS] = {"data loss", GRPC_DATA_LOSS},
    [ERR_UNAUTHENTICATED] = {"unauthorized", GRPC_UNAUTHENTICATED},
    [ERR_CANCELED] = {"context canceled", GRPC_CANCELLED},
    [ERR_DEADLINE_EXCEEDED] = {"context deadline exceeded", GRPC_DEADLINE_EXCEEDED},
};

const char *err_kind_string(enum err_kind kind)
{
    if ((unsigned)kind >= ARRAY_SIZE(kinds))
        return NULL;
    return kinds[kind].class_string;
}

enum grpc_code err_kind_to_grpc(enum err_kind kind)
{
    if ((unsigned)kind >= ARRAY_SIZE(kinds))
        return GRPC_UNKNOWN;
    return kinds[kind].code;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* errgrpc.ToNative recovers Conflict and NotModified only from the message text. */
static int message_is_class(const char *message, const char *class_string)
{
    if (!message)
        return 0;
    if (strcmp(message, class_string) == 0)
        return 1;
    char suffix[64];
    snprintf(suffix, sizeof(suffix), ": %s", class_string);
    return ends_with(message, suffix);
}

enum err_kind err_kind_from_grpc(enum grpc_code code, const char *message)
{
    switch (code) {
    case GRPC_INVALID_ARGUMENT:
        return ERR_INVALID_ARGUMENT;
    case GRPC_NOT_FOUND:
        return ERR_NOT_FOUND;
    case GRPC_ALREADY_EXISTS:
        return ERR_ALREADY_EXISTS;
    case GRPC_PERMISSION_DENIED:
        return ERR_PERMISSION_DENIED;
    case GRPC_RESOURCE_EXHAUSTED:
        return ERR_RESOURCE_EXHAUSTED;
    case GRPC_FAILED_PRECONDITION:
        if (message_is_class(message, "conflict"))
            return ERR_CONFLICT;
        if (message_is_class(message, "not modified"))
            return ERR_NOT_MODIFIED;
        return ERR_FAILED_PRECONDITION;
    case GRPC_ABORTED:
        return ERR_ABORTED;
    case GRPC_OUT_OF_RANGE:
        return ERR_OUT_OF_RANGE;
    case GRPC_UNIMPLEMENTED:
        return ERR_NOT_IMPLEMENTED;
    case GRPC_INTERNAL:
        return ERR_INTERNAL;
    case GRPC_UNAVAILABLE:
        return ERR_UNAVAILABLE;
    case GRPC_DATA_LOSS:
        return ERR_DATA_LOSS;
    case GRPC_UNAUTHENTICATED:
        return ERR_UNAUTHENTICATED;
    case GRPC_CANCELLED:
        return ERR_CANCELED;
    case GRPC_DEADLINE_EXCEEDED:
        return ERR_DEADLINE_EXCEEDED;
    default:
        return ERR_UNKNOWN;
    }
}

const char *grpc_code_name(enum grpc_code code)
{
    static const char *const names[] = {
        "OK",
        "Canceled",
        "Unknown",
        "InvalidArgument",
        "DeadlineExceeded",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "ResourceExhausted",
        "FailedPrecondition",
        "Aborted",
        "OutOfRange",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
        "Unauthenticated",
    };
    if ((unsigned)code >= ARRAY_SIZE(names))
        return "Unknown";
    return names[code];
}

enum err_kind err_kind_from_errno(int errnum)
{
    switch (errnum) {
    case ENOENT:
        return ERR_NOT_FOUND;
    case EEXIST:
        return ERR_ALREADY_EXISTS;
    case EACCES:
    case EPERM:
        return ERR_PERMISSION_DENIED;
    case EINVAL:
    case ENAMETOOLONG:
        return ERR_INVALID_ARGUMENT;
    case ENOSPC:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        return ERR_RESOURCE_EXHAUSTED;
    case ENOTSUP:
    case ENOSYS:
        return ERR_NOT_IMPLEMENTED;
    case ETIMEDOUT:
        return ERR_DEADLINE_EXCEEDED;
    case ECANCELED:
        return ERR_CANCELED;
    case ECONNREFUSED:
    case ECONNRESET:
    case EPIPE:
        return ERR_UNAVAILABLE;
    default:
        return ERR_UNKNOWN;
    }
}

static int set_error(struct berth_error **err, enum err_kind kind, int errnum, char *message)
{
    if (!err || *err) {
        free(message);
        return -1;
    }
    struct berth_error *e = xcalloc(1, sizeof(*e));
    e->kind = kind;
    e->errno_value = errnum;
    e->message = message;
    *err = e;
    return -1;
}

int err_makev(struct berth_error **err, enum err_kind kind, int errnum, const char *fmt, va_list ap)
{
    if (!err || *err)
        return -1;
    _cleanup_free_ char *text = fmt ? xvasprintf(fmt, ap) : xstrdup("");
    const char *cls = NULL;
    /* Unknown and internal errors carry their cause, not a class word. */
    if (kind != ERR_UNKNOWN && kind != ERR_INTERNAL)
        cls = err_kind_string(kind);
    char errbuf[128] = "";
    if (errnum)
        snprintf(errbuf, sizeof(errbuf), "%s", strerror(errnum));
    const char *parts[3] = {text, errbuf, cls ? cls : ""};
    size_t len = 0;
    for (size_t i = 0; i < 3; i++)
        len += strlen(parts[i]) + 2;
    char *msg = xmalloc(len + 1), *p = msg;
    *p = '\0';
    for (size_t i = 0; i < 3; i++) {
        if (!parts[i][0])
            continue;
        if (p != msg)
            p = stpcpy(p, ": ");
        p = stpcpy(p, parts[i]);
    }
    return set_error(err, kind, errnum, msg);
}

int err_make(struct berth_error **err, enum err_kind kind, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_makev(err, kind, errnum, fmt, ap);
    va_end(ap);
    return -1;
}

int err_make_raw(struct berth_error **err, enum err_kind kind, const char *message)
{
    return set_error(err, kind, 0, xstrdup(message ? message : ""));
}

int err_wrap(struct berth_error **err, const char *fmt, ...)
{
    if (!err || !*err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *ctx = xvasprintf(fmt, ap);
    va_end(ap);
    char *msg = xasprintf("%s: %s", ctx, (*err)->message);
    free((*err)->message);
    (*err)->message = msg;
    return -1;
}

void err_free(struct berth_error *err)
{
    if (!err)
        return;
    free(err->message);
    free(err);
}
