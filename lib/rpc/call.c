/* The call object shared by handler/client threads and the I/O loop, and the service registry. */
#include "lib/rpc/call_internal.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- registry ---- */

struct rpc_registry {
    const struct rpc_service **services;
    size_t count, capacity;
};

struct rpc_registry *rpc_registry_new(void)
{
    return xcalloc(1, sizeof(struct rpc_registry));
}

void rpc_registry_free(struct rpc_registry *registry)
{
    if (!registry)
        return;
    free(registry->services);
    free(registry);
}

void rpc_registry_add(struct rpc_registry *registry, const struct rpc_service *service)
{
    registry->services = xreallocarray_grow(registry->services, &registry->capacity,
                                            registry->count + 1, sizeof(*registry->services));
    registry->services[registry->count++] = service;
}

const struct rpc_service *rpc_registry_find_service(const struct rpc_registry *registry,
                                                    const char *service)
{
    for (size_t i = 0; i < registry->count; i++)
        if (strcmp(registry->services[i]->name, service) == 0)
            return registry->services[i];
    return NULL;
}

const struct rpc_method *rpc_service_find_method(const struct rpc_service *service,
                                                 const char *method)
{
    for (size_t i = 0; i < service->n_methods; i++)
        if (strcmp(service->methods[i].name, method) == 0)
            return &service->methods[i];
    return NULL;
}

size_t rpc_registry_count(const struct rpc_registry *registry)
{
    return registry->count;
}

const struct rpc_service *rpc_registry_at(const struct rpc_registry *registry, size_t index)
{
    return index < registry->count ? registry->services[index] : NULL;
}

/* ---- buffers ---- */

void rpc_buffer_queue_push(struct rpc_buffer_queue *q, uint8_t *data, size_t len)
{
    struct rpc_buffer *b = xmalloc(sizeof(*b));
    b->data = data;
    b->len = len;
    b->next = NULL;
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
    q->bytes += len;
}

struct rpc_buffer *rpc_buffer_queue_pop(struct rpc_buffer_queue *q)
{
    struct rpc_buffer *b = q->head;
    if (!b)
        return NULL;
    q->head = b->next;
    if (!q->head)
        q->tail = NULL;
    q->bytes -= b->len;
    return b;
}

void rpc_buffer_queue_clear(struct rpc_buffer_queue *q)
{
    struct rpc_buffer *b;
    while ((b = rpc_buffer_queue_pop(q))) {
        free(b->data);
        free(b);
    }
}

/* ---- lifecycle ---- */

struct rpc_call *rpc_call_new(struct loop *loop, const struct rpc_call_transport *transport,
                              void *stream, bool is_client)
{
    struct rpc_call *call = xcalloc(1, sizeof(*call));
    call->refs = 1;
    pthread_mutex_init(&call->mu, NULL);
    pthread_mutex_init(&call->hook_mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&call->cond, &attr);
    pthread_condattr_destroy(&attr);
    call->loop = loop;
    call->transport = transport;
    call->stream = stream;
    call->is_client = is_client;
    call->max_recv = RPC_DEFAULT_MAX_RECV;
    call->max_send = RPC_DEFAULT_MAX_SEND;
    return call;
}

void rpc_call_ref(struct rpc_call *call)
{
    call->refs++;
}

void rpc_call_unref(struct rpc_call *call)
{
    if (!call || --call->refs > 0)
        return;
    rpc_buffer_queue_clear(&call->in);
    rpc_buffer_queue_clear(&call->out);
    rpc_metadata_clear(&call->metadata);
    rpc_metadata_clear(&call->out_headers);
    rpc_metadata_clear(&call->out_trailers);
    if (call->request)
        protobuf_c_message_free_unpacked(call->request, NULL);
    free(call->service);
    free(call->method_name);
    free(call->status_message);
    free(call->in_error_message);
    pthread_cond_destroy(&call->cond);
    pthread_mutex_destroy(&call->mu);
    pthread_mutex_destroy(&call->hook_mu);
    free(call);
}

static void kick_on_loop(void *arg)
{
    struct rpc_call *call = arg;
    pthread_mutex_lock(&call->mu);
    call->kick_posted = false;
    bool attached = call->stream != NULL;
    pthread_mutex_unlock(&call->mu);
    if (attached)
        call->transport->kick(call);
    rpc_call_unref(call);
}

void rpc_call_kick_locked(struct rpc_call *call)
{
    if (call->kick_posted || !call->stream)
        return;
    call->kick_posted = true;
    rpc_call_ref(call);
    loop_post(call->loop, kick_on_loop, call);
}

/* Waits on the call's condition until the deadline; marks the call expired when it passes. */
static void wait_locked(struct rpc_call *call)
{
    if (!call->deadline_ns) {
        pthread_cond_wait(&call->cond, &call->mu);
        return;
    }
    long long now = monotonic_ns();
    if (now >= call->deadline_ns) {
        if (!call->cancelled) {
            call->cancelled = ERR_DEADLINE_EXCEEDED;
            rpc_call_kick_locked(call);
        }
        return;
    }
    struct timespec until = {.tv_sec = call->deadline_ns / 1000000000LL,
                             .tv_nsec = call->deadline_ns % 1000000000LL};
    pthread_cond_timedwait(&call->cond, &call->mu, &until);
}

static int cancelled_error(struct rpc_call *call, struct berth_error **err)
{
    return err_make_raw(err, call->cancelled, err_kind_string(call->cancelled));
}

static int status_error(struct rpc_call *call, struct berth_error **err)
{
    return err_make_raw(err, err_kind_from_grpc(call->status_code, call->status_message),
                        call->status_message ? call->status_message : "");
}

/* ---- the call API ---- */

int rpc_call_recv(struct rpc_call *call, const ProtobufCMessageDescriptor *descriptor,
                  ProtobufCMessage **ret_message, struct berth_error **err)
{
    if (!descriptor && call->method)
        descriptor = call->method->input;
    if (!descriptor)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "rpc_call_recv needs a message type");
    pthread_mutex_lock(&call->mu);
    for (;;) {
        struct rpc_buffer *b = rpc_buffer_queue_pop(&call->in);
        if (b) {
            if (call->uncredited && call->in.bytes < RPC_QUEUE_HIGH_WATER) {
                call->credit_pending += call->uncredited;
                call->uncredited = 0;
                rpc_call_kick_locked(call);
            }
            pthread_mutex_unlock(&call->mu);
            ProtobufCMessage *msg = protobuf_c_message_unpack(descriptor, NULL, b->len, b->data);
            free(b->data);
            free(b);
            if (!msg)
                return err_make(err, ERR_INTERNAL, 0, "grpc: failed to unmarshal the received %s",
                                descriptor->name);
            *ret_message = msg;
            return 1;
        }
        if (call->in_error) {
            int r = err_make_raw(err, call->in_error, call->in_error_message);
            pthread_mutex_unlock(&call->mu);
            return r;
        }
        if (call->cancelled) {
            int r = cancelled_error(call, err);
            pthread_mutex_unlock(&call->mu);
            return r;
        }
        if (call->in_closed) {
            int r = 0;
            if (call->is_client && call->status_set && call->status_code != GRPC_OK)
                r = status_error(call, err);
            pthread_mutex_unlock(&call->mu);
            return r;
        }
        wait_locked(call);
    }
}

int rpc_call_send_packed(struct rpc_call *call, const void *data, size_t len,
                         struct berth_error **err)
{
    if (len > call->max_send)
        return err_make(err, ERR_RESOURCE_EXHAUSTED, 0,
                        "grpc: trying to send message larger than max (%zu vs. %zu)", len,
                        call->max_send);
    pthread_mutex_lock(&call->mu);
    while (call->out.bytes > RPC_QUEUE_HIGH_WATER && !call->cancelled && call->stream)
        wait_locked(call);
    int r = 0;
    if (call->cancelled)
        r = cancelled_error(call, err);
    else if (call->is_client && call->status_set)
        r = call->status_code != GRPC_OK
                ? status_error(call, err)
                : err_make(err, ERR_FAILED_PRECONDITION, 0, "send on a finished stream");
    else if (!call->stream)
        r = err_make(err, ERR_UNAVAILABLE, 0, "transport is closing");
    else if (call->out_closed)
        r = err_make(err, ERR_FAILED_PRECONDITION, 0, "send after the stream was closed");
    if (r == 0) {
        rpc_buffer_queue_push(&call->out, xmemdup(data, len), len);
        rpc_call_kick_locked(call);
    }
    pthread_mutex_unlock(&call->mu);
    return r;
}

int rpc_call_send(struct rpc_call *call, const ProtobufCMessage *message, struct berth_error **err)
{
    size_t len = protobuf_c_message_get_packed_size(message);
    if (len > call->max_send)
        return err_make(err, ERR_RESOURCE_EXHAUSTED, 0,
                        "grpc: trying to send message larger than max (%zu vs. %zu)", len,
                        call->max_send);
    _cleanup_free_ uint8_t *buf = xmalloc(len);
    protobuf_c_message_pack(message, buf);
    return rpc_call_send_packed(call, buf, len, err);
}

const char *rpc_call_metadata(const struct rpc_call *call, const char *key)
{
    return rpc_metadata_get(&call->metadata, key);
}

const struct rpc_metadata *rpc_call_metadata_all(const struct rpc_call *call)
{
    return &call->metadata;
}

void rpc_call_add_header(struct rpc_call *call, const char *key, const char *value)
{
    pthread_mutex_lock(&call->mu);
    rpc_metadata_add(&call->out_headers, key, value);
    pthread_mutex_unlock(&call->mu);
}

void rpc_call_add_trailer(struct rpc_call *call, const char *key, const char *value)
{
    pthread_mutex_lock(&call->mu);
    rpc_metadata_add(&call->out_trailers, key, value);
    pthread_mutex_unlock(&call->mu);
}

long long rpc_call_deadline(const struct rpc_call *call)
{
    return call->deadline_ns;
}

enum err_kind rpc_call_cancelled(const struct rpc_call *call)
{
    struct rpc_call *c = (struct rpc_call *)call; /* the lock is not part of the value */
    pthread_mutex_lock(&c->mu);
    enum err_kind why = c->cancelled;
    pthread_mutex_unlock(&c->mu);
    if (!why && call->deadline_ns && monotonic_ns() >= call->deadline_ns)
        return ERR_DEADLINE_EXCEEDED;
    return why;
}

const char *rpc_call_service_name(const struct rpc_call *call)
{
    return call->service;
}

const char *rpc_call_method_name(const struct rpc_call *call)
{
    return call->method_name;
}

enum err_kind rpc_call_wait_done(struct rpc_call *call, long long timeout_ns)
{
    long long until = timeout_ns > 0 ? monotonic_ns() + timeout_ns : 0;
    pthread_mutex_lock(&call->mu);
    while (!call->cancelled && call->stream) {
        long long now = monotonic_ns();
        if (until && now >= until)
            break;
        long long wake = until;
        if (call->deadline_ns && (!wake || call->deadline_ns < wake))
            wake = call->deadline_ns;
        if (!wake) {
            pthread_cond_wait(&call->cond, &call->mu);
            continue;
        }
        if (call->deadline_ns && now >= call->deadline_ns) {
            call->cancelled = ERR_DEADLINE_EXCEEDED;
            rpc_call_kick_locked(call);
            break;
        }
        struct timespec ts = {.tv_sec = wake / 1000000000LL, .tv_nsec = wake % 1000000000LL};
        pthread_cond_timedwait(&call->cond, &call->mu, &ts);
    }
    enum err_kind why = call->cancelled ? call->cancelled : (call->stream ? 0 : ERR_CANCELED);
    pthread_mutex_unlock(&call->mu);
    return why;
}

/* Runs the cancel hook once; never with call->mu held. */
static void run_cancel_hook(struct rpc_call *call)
{
    pthread_mutex_lock(&call->hook_mu);
    void (*fn)(void *) = call->cancel_hook;
    call->cancel_hook = NULL;
    if (fn)
        fn(call->cancel_hook_arg);
    pthread_mutex_unlock(&call->hook_mu);
}

static bool call_is_done(struct rpc_call *call)
{
    pthread_mutex_lock(&call->mu);
    bool done = call->cancelled || !call->stream;
    pthread_mutex_unlock(&call->mu);
    return done;
}

void rpc_call_set_cancel_hook(struct rpc_call *call, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&call->hook_mu);
    call->cancel_hook = fn;
    call->cancel_hook_arg = arg;
    pthread_mutex_unlock(&call->hook_mu);
    if (fn && call_is_done(call))
        run_cancel_hook(call);
}

void rpc_call_set_status(struct rpc_call *call, enum grpc_code code, const char *message)
{
    pthread_mutex_lock(&call->mu);
    if (!call->status_set) {
        call->status_set = true;
        call->status_code = code;
        call->status_message = xstrdup(message ? message : "");
        call->out_closed = true;
        rpc_call_kick_locked(call);
    }
    pthread_cond_broadcast(&call->cond);
    pthread_mutex_unlock(&call->mu);
}

void rpc_call_complete(struct rpc_call *call, const struct berth_error *error)
{
    if (error)
        rpc_call_set_status(call, err_kind_to_grpc(error->kind), error->message);
    else
        rpc_call_set_status(call, GRPC_OK, NULL);
}

void rpc_call_close_send(struct rpc_call *call)
{
    pthread_mutex_lock(&call->mu);
    if (!call->out_closed) {
        call->out_closed = true;
        rpc_call_kick_locked(call);
    }
    pthread_mutex_unlock(&call->mu);
}

int rpc_call_finish(struct rpc_call *call, struct berth_error **err)
{
    rpc_call_close_send(call);
    pthread_mutex_lock(&call->mu);
    while (!call->status_set && !call->cancelled)
        wait_locked(call);
    int r = 0;
    if (call->status_set)
        r = call->status_code == GRPC_OK ? 0 : status_error(call, err);
    else
        r = cancelled_error(call, err);
    pthread_mutex_unlock(&call->mu);
    return r;
}

void rpc_call_cancel_with(struct rpc_call *call, enum err_kind why)
{
    pthread_mutex_lock(&call->mu);
    if (!call->cancelled && !(call->is_client && call->status_set)) {
        call->cancelled = why;
        rpc_call_kick_locked(call);
    }
    pthread_cond_broadcast(&call->cond);
    pthread_mutex_unlock(&call->mu);
    run_cancel_hook(call);
}

void rpc_call_cancel(struct rpc_call *call)
{
    rpc_call_cancel_with(call, ERR_CANCELED);
}

/* ---- loop side ---- */

void rpc_call_deliver(struct rpc_call *call, uint8_t *data, size_t len)
{
    pthread_mutex_lock(&call->mu);
    rpc_buffer_queue_push(&call->in, data, len);
    pthread_cond_broadcast(&call->cond);
    pthread_mutex_unlock(&call->mu);
}

void rpc_call_deliver_end(struct rpc_call *call)
{
    pthread_mutex_lock(&call->mu);
    call->in_closed = true;
    pthread_cond_broadcast(&call->cond);
    pthread_mutex_unlock(&call->mu);
}

void rpc_call_deliver_status(struct rpc_call *call, enum grpc_code code, const char *message)
{
    pthread_mutex_lock(&call->mu);
    if (!call->status_set) {
        call->status_set = true;
        call->status_code = code;
        call->status_message = xstrdup(message ? message : "");
    }
    call->in_closed = true;
    pthread_cond_broadcast(&call->cond);
    pthread_mutex_unlock(&call->mu);
}

void rpc_call_detach(struct rpc_call *call, enum err_kind why, const char *message)
{
    pthread_mutex_lock(&call->mu);
    call->stream = NULL;
    if (call->is_client) {
        if (!call->status_set) {
            call->status_set = true;
            call->status_code = err_kind_to_grpc(why);
            call->status_message = xstrdup(message ? message : err_kind_string(why));
        }
        call->in_closed = true;
    } else if (!call->status_set && !call->cancelled) {
        call->cancelled = why;
    }
    pthread_cond_broadcast(&call->cond);
    pthread_mutex_unlock(&call->mu);
    run_cancel_hook(call);
}

void rpc_call_run_handler(struct rpc_call *call)
{
    const struct rpc_method *m = call->method;
    struct berth_error *err = NULL;
    int rc;
    if (m->kind == RPC_UNARY || m->kind == RPC_SERVER_STREAMING) {
        ProtobufCMessage *req = NULL;
        rc = rpc_call_recv(call, m->input, &req, &err);
        if (rc == 0)
            rc = err_make(&err, ERR_INTERNAL, 0, "grpc: the request message is missing");
        if (rc < 0) {
            rpc_call_complete(call, err);
            err_free(err);
            return;
        }
        call->request = req;
    }
    rc = m->handler(call, call->request, call->svc->data, &err);
    if (rc == RPC_DEFERRED)
        return;
    if (rc < 0 && !err)
        err_make(&err, ERR_UNKNOWN, 0, "%s/%s failed", call->service, m->name);
    rpc_call_complete(call, rc < 0 ? err : NULL);
    err_free(err);
}

/* ---- grpc-message encoding ---- */

char *rpc_percent_encode(const char *s)
{
    size_t n = strlen(s);
    char *out = xmalloc(n * 3 + 1), *p = out;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c >= 0x20 && *c <= 0x7e && *c != '%') {
            *p++ = (char)*c;
        } else {
            snprintf(p, 4, "%%%02X", *c);
            p += 3;
        }
    }
    *p = '\0';
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *rpc_percent_decode(const char *s)
{
    char *out = xmalloc(strlen(s) + 1), *p = out;
    for (; *s; s++) {
        int hi, lo;
        if (*s == '%' && (hi = hexval(s[1])) >= 0 && (lo = hexval(s[2])) >= 0) {
            *p++ = (char)(hi * 16 + lo);
            s += 2;
        } else {
            *p++ = *s;
        }
    }
    *p = '\0';
    return out;
}

/* ---- channels ---- */

struct rpc_call *rpc_channel_start_call(struct rpc_channel *channel, const char *service,
                                        const char *method, const struct rpc_call_options *options,
                                        struct berth_error **err)
{
    return channel->ops->start_call(channel, service, method, options, err);
}

static void cancel_child(void *call)
{
    rpc_call_cancel(call);
}

int rpc_channel_unary(struct rpc_channel *channel, const char *service, const char *method,
                      const ProtobufCMessage *request,
                      const ProtobufCMessageDescriptor *response_descriptor,
                      ProtobufCMessage **ret_response, const struct rpc_call_options *options,
                      struct berth_error **err)
{
    struct rpc_call_options opts = options ? *options : (struct rpc_call_options){0};
    long long deadline = opts.parent ? rpc_call_deadline(opts.parent) : 0;
    if (deadline) {
        long long left = deadline - monotonic_ns();
        if (left <= 0)
            return err_make_raw(err, ERR_DEADLINE_EXCEEDED, "context deadline exceeded");
        if (!opts.timeout_ns || left < opts.timeout_ns)
            opts.timeout_ns = left;
    }
    struct rpc_call *call = rpc_channel_start_call(channel, service, method, &opts, err);
    if (!call)
        return -1;
    if (opts.parent)
        rpc_call_set_cancel_hook(opts.parent, cancel_child, call);
    ProtobufCMessage *resp = NULL;
    int r = rpc_call_send(call, request, err);
    if (r == 0) {
        rpc_call_close_send(call);
        r = rpc_call_recv(call, response_descriptor, &resp, err);
        if (r == 0) /* no message: the status says why, or the server broke the contract */
            r = rpc_call_finish(call, err) < 0
                    ? -1
                    : err_make(err, ERR_INTERNAL, 0, "no response message for %s/%s", service,
                               method);
        else if (r == 1)
            r = rpc_call_finish(call, err);
    }
    if (opts.parent)
        rpc_call_set_cancel_hook(opts.parent, NULL, NULL);
    if (r < 0) {
        if (resp)
            protobuf_c_message_free_unpacked(resp, NULL);
        rpc_call_cancel(call);
        rpc_call_unref(call);
        return -1;
    }
    *ret_response = resp;
    rpc_call_unref(call);
    return 0;
}

void rpc_channel_free(struct rpc_channel *channel)
{
    if (channel)
        channel->ops->free(channel);
}
