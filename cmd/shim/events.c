/*
 * Event publishing: Envelopes forwarded in order over ttrpc to containerd's Events/Forward on
 * $TTRPC_ADDRESS, never blocking the loop: a bounded queue, one call in flight, retries with the
 * reference's back-off (count seconds, 5 tries). Without TTRPC_ADDRESS, the publish binary runs.
 */
#include "cmd/shim/shim.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"
#include "lib/rpc/ttrpc_client.h"
#include "proto/containerd/services/ttrpc/events/v1/events.pb-c.h"
#include "proto/google/protobuf/empty.pb-c.h"

#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum { QUEUE_MAX = 2048, MAX_TRIES = 5, CALL_TIMEOUT_MS = 5000 };

struct event {
    char *topic;
    char *type_url;
    uint8_t *data;
    size_t len;
    struct timespec at;
    int tries;
    struct event *next;
};

static struct shim *S;
static struct event *head, *tail;
static size_t queued;
static bool in_flight;
static struct rpc_channel *channel;
static uv_timer_t retry_timer;

static void pump(void);

void events_init(struct shim *s)
{
    S = s;
    uv_timer_init(loop_uv(s->loop), &retry_timer);
    uv_unref((uv_handle_t *)&retry_timer);
}

bool events_pending(void)
{
    return head != NULL || in_flight;
}

static void event_free(struct event *e)
{
    free(e->topic);
    free(e->type_url);
    free(e->data);
    free(e);
}

static void pop(void)
{
    struct event *e = head;
    head = e->next;
    if (!head)
        tail = NULL;
    queued--;
    event_free(e);
}

static void on_retry(uv_timer_t *t)
{
    pump();
}

static void failed(const char *why)
{
    struct event *e = head;
    if (++e->tries >= MAX_TRIES) {
        log_error("post event %s: %s (dropped after %d tries)", e->topic, why, e->tries);
        pop();
        pump();
        return;
    }
    log_warn("post event %s: %s (retrying)", e->topic, why);
    uv_timer_start(&retry_timer, on_retry, (uint64_t)e->tries * 1000, 0);
}

static void on_forwarded(void *arg, ProtobufCMessage *response, const struct berth_error *error)
{
    in_flight = false;
    if (response)
        protobuf_c_message_free_unpacked(response, NULL);
    if (error) {
        failed(error->message);
        return;
    }
    pop();
    pump();
    shim_exit_if_done();
}

static void publish_exited(void *arg, pid_t pid, int status)
{
    in_flight = false;
    if (status != 0) {
        failed("publish binary failed");
        return;
    }
    pop();
    pump();
    shim_exit_if_done();
}

/* The legacy path: `<publish-binary> --address A publish --topic T --namespace N` < Any. */
static void publish_exec(struct event *e)
{
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = e->type_url;
    any.value.data = e->data;
    any.value.len = e->len;
    size_t len = google__protobuf__any__get_packed_size(&any);
    _cleanup_free_ uint8_t *buf = xmalloc(len ? len : 1);
    google__protobuf__any__pack(&any, buf);
    int fd = memfd_create("event", MFD_CLOEXEC);
    if (fd < 0 || write(fd, buf, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) < 0) {
        if (fd >= 0)
            close(fd);
        failed("cannot stage the event for the publish binary");
        return;
    }
    const char *argv[] = {S->publish_binary, "--address",   S->address,   "publish", "--topic",
                          e->topic,          "--namespace", S->namespace, NULL};
    struct child_spec spec = {.argv = argv, .fds = {fd, -1, -1}};
    struct berth_error *err = NULL;
    pid_t pid = child_spawn(&spec, &err);
    close(fd);
    if (pid < 0) {
        failed(err->message);
        err_free(err);
        return;
    }
    in_flight = true;
    child_watch(pid, publish_exited, NULL);
}

static void pump(void)
{
    if (in_flight || !head || uv_is_active((uv_handle_t *)&retry_timer))
        return;
    struct event *e = head;
    if (!S->ttrpc_address || !*S->ttrpc_address) {
        if (!S->publish_binary || !*S->publish_binary) {
            log_error("post event %s: neither TTRPC_ADDRESS nor -publish-binary is set", e->topic);
            pop();
            pump();
            return;
        }
        publish_exec(e);
        return;
    }
    struct berth_error *err = NULL;
    if (channel && ttrpc_channel_closed(channel)) {
        ttrpc_channel_release(channel);
        channel = NULL;
    }
    if (!channel)
        channel = ttrpc_channel_connect(S->loop, S->ttrpc_address, NULL, &err);
    if (!channel) {
        failed(err->message);
        err_free(err);
        return;
    }
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = e->at.tv_sec;
    ts.nanos = (int32_t)e->at.tv_nsec;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = e->type_url;
    any.value.data = e->data;
    any.value.len = e->len;
    Containerd__Types__Envelope env = CONTAINERD__TYPES__ENVELOPE__INIT;
    env.timestamp = &ts;
    env.namespace_ = (char *)S->namespace;
    env.topic = e->topic;
    env.event = &any;
    Containerd__Services__Events__Ttrpc__V1__ForwardRequest req =
        CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
    req.envelope = &env;
    if (ttrpc_channel_unary_async(channel, "containerd.services.events.ttrpc.v1.Events", "Forward",
                                  &req.base, &google__protobuf__empty__descriptor,
                                  CALL_TIMEOUT_MS * 1000000LL, on_forwarded, NULL, &err) < 0) {
        failed(err->message);
        err_free(err);
        return;
    }
    in_flight = true;
}

void events_publish(const char *topic, const ProtobufCMessage *event)
{
    if (queued >= QUEUE_MAX) {
        log_error("event queue full: dropping %s", topic);
        return;
    }
    struct event *e = xcalloc(1, sizeof(*e));
    e->topic = xstrdup(topic);
    e->type_url = xstrdup(event->descriptor->name);
    e->len = protobuf_c_message_get_packed_size(event);
    e->data = xmalloc(e->len ? e->len : 1);
    protobuf_c_message_pack(event, e->data);
    clock_gettime(CLOCK_REALTIME, &e->at);
    if (tail)
        tail->next = e;
    else
        head = e;
    tail = e;
    queued++;
    pump();
}
