/* berth events: stream the daemon's events, printed as ctr prints them. */
#include "cmd/berth/cli.h"
#include "cmd/berth/output.h"
#include "lib/base/alloc.h"
#include "services/event_types.h"

#include "containerd/services/events/v1/events.pb-c.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Go's default time.Time format, "2006-01-02 15:04:05.999999999 -0700 MST", in UTC. */
static void format_go_time(char *out, size_t n, const Google__Protobuf__Timestamp *ts)
{
    time_t secs = ts ? (time_t)ts->seconds : 0;
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t len = strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
    int nanos = ts ? ts->nanos : 0;
    if (nanos) {
        char frac[16];
        snprintf(frac, sizeof(frac), ".%09d", nanos);
        for (size_t i = strlen(frac) - 1; frac[i] == '0'; i--)
            frac[i] = '\0';
        len += (size_t)snprintf(out + len, n - len, "%s", frac);
    }
    snprintf(out + len, n - len, " +0000 UTC");
}

int cli_events(struct cli *cli, int argc, char **argv)
{
    Containerd__Services__Events__V1__SubscribeRequest req =
        CONTAINERD__SERVICES__EVENTS__V1__SUBSCRIBE_REQUEST__INIT;
    req.filters = argv + 1;
    req.n_filters = argc > 1 ? (size_t)(argc - 1) : 0;
    struct rpc_call_options opts = cli_call_options(cli);
    struct berth_error *err = NULL;
    struct rpc_call *call = rpc_channel_start_call(
        cli_channel(cli), "containerd.services.events.v1.Events", "Subscribe", &opts, &err);
    if (!call || rpc_call_send(call, &req.base, &err) < 0)
        cli_fail("%s", err->message);
    rpc_call_close_send(call);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (;;) {
        ProtobufCMessage *msg;
        int r = rpc_call_recv(call, &containerd__types__envelope__descriptor, &msg, &err);
        if (r < 0)
            cli_fail("%s", err->message);
        if (r == 0)
            break;
        Containerd__Types__Envelope *env = (Containerd__Types__Envelope *)msg;
        struct strbuf json = {0};
        if (env->event) {
            const ProtobufCMessageDescriptor *type = event_type(env->event->type_url);
            ProtobufCMessage *ev =
                type ? protobuf_c_message_unpack(type, NULL, env->event->value.len,
                                                 env->event->value.data)
                     : NULL;
            if (!ev) {
                fprintf(stderr, "berth: cannot unmarshal an event from Any (%s)\n",
                        env->event->type_url);
                protobuf_c_message_free_unpacked(msg, NULL);
                continue;
            }
            pb_to_go_json(&json, ev, NULL);
            protobuf_c_message_free_unpacked(ev, NULL);
        }
        char when[64];
        format_go_time(when, sizeof(when), env->timestamp);
        printf("%s %s %s %s\n", when, env->namespace_, env->topic, json.data ? json.data : "");
        free(json.data);
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    rpc_call_unref(call);
    return 0;
}
