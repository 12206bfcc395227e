/* berth tasks metrics: one sample of a task's cgroup Metrics (v1 or v2), as ctr 2.0 prints it. */
#include "cmd/berth/output.h"
#include "cmd/berth/tasks.h"
#include "lib/base/alloc.h"

#include "containerd/cgroups/cgroup1/stats/metrics.pb-c.h"
#include "containerd/cgroups/cgroup2/stats/metrics.pb-c.h"
#include "containerd/services/containers/v1/containers.pb-c.h"
#include "containerd/services/tasks/v1/tasks.pb-c.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TASKS      "containerd.services.tasks.v1.Tasks"
#define CONTAINERS "containerd.services.containers.v1.Containers"
#define V1_METRICS "io.containerd.cgroups.v1.Metrics"
#define V2_METRICS "io.containerd.cgroups.v2.Metrics"

typedef Io__Containerd__Cgroups__V1__Metrics V1Metrics;
typedef Io__Containerd__Cgroups__V2__Metrics V2Metrics;

/* Tasks/Get for the container's task; NotFound reads as ctr's container.Task error. */
static int task_get(struct cli *cli, const char *id, struct berth_error **err)
{
    Containerd__Services__Tasks__V1__GetRequest req =
        CONTAINERD__SERVICES__TASKS__V1__GET_REQUEST__INIT;
    req.container_id = (char *)id;
    req.exec_id = "";
    struct rpc_call_options opts = cli_call_options(cli);
    ProtobufCMessage *resp = NULL;
    if (rpc_channel_unary(cli_channel(cli), TASKS, "Get", &req.base,
                          &containerd__services__tasks__v1__get_response__descriptor, &resp, &opts,
                          err) < 0)
        return -1;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* ctr's %v of a []uint64: "[1 2 3]" */
static char *uint64_list(const uint64_t *v, size_t n)
{
    struct strbuf b = {0};
    strbuf_puts(&b, "[");
    for (size_t i = 0; i < n; i++)
        strbuf_printf(&b, "%s%" PRIu64, i ? " " : "", v[i]);
    strbuf_puts(&b, "]");
    return b.data;
}

static void v1_table(struct table *t, const V1Metrics *m)
{
    table_add(t, "METRIC\tVALUE\t");
    if (m->memory) {
        /* ctr dereferences usage unchecked; an absent one reads as zero here */
        const Io__Containerd__Cgroups__V1__MemoryEntry *u = m->memory->usage;
        table_add(t, "memory.usage_in_bytes\t%" PRIu64 "\t", u ? u->usage : 0);
        table_add(t, "memory.limit_in_bytes\t%" PRIu64 "\t", u ? u->limit : 0);
        table_add(t, "memory.stat.cache\t%" PRIu64 "\t", m->memory->total_cache);
    }
    if (m->cpu) {
        const Io__Containerd__Cgroups__V1__CPUUsage *u = m->cpu->usage;
        _cleanup_free_ char *percpu = uint64_list(u ? u->per_cpu : NULL, u ? u->n_per_cpu : 0);
        table_add(t, "cpuacct.usage\t%" PRIu64 "\t", u ? u->total : 0);
        table_add(t, "cpuacct.usage_percpu\t%s\t", percpu);
    }
    if (m->pids) {
        table_add(t, "pids.current\t%" PRIu64 "\t", m->pids->current);
        table_add(t, "pids.limit\t%" PRIu64 "\t", m->pids->limit);
    }
}

static void v2_table(struct table *t, const V2Metrics *m)
{
    table_add(t, "METRIC\tVALUE\t");
    if (m->pids) {
        table_add(t, "pids.current\t%" PRIu64 "\t", m->pids->current);
        table_add(t, "pids.limit\t%" PRIu64 "\t", m->pids->limit);
    }
    if (m->cpu) {
        table_add(t, "cpu.usage_usec\t%" PRIu64 "\t", m->cpu->usage_usec);
        table_add(t, "cpu.user_usec\t%" PRIu64 "\t", m->cpu->user_usec);
        table_add(t, "cpu.system_usec\t%" PRIu64 "\t", m->cpu->system_usec);
        table_add(t, "cpu.nr_periods\t%" PRIu64 "\t", m->cpu->nr_periods);
        table_add(t, "cpu.nr_throttled\t%" PRIu64 "\t", m->cpu->nr_throttled);
        table_add(t, "cpu.throttled_usec\t%" PRIu64 "\t", m->cpu->throttled_usec);
    }
    if (m->memory) {
        table_add(t, "memory.usage\t%" PRIu64 "\t", m->memory->usage);
        table_add(t, "memory.usage_limit\t%" PRIu64 "\t", m->memory->usage_limit);
        table_add(t, "memory.swap_usage\t%" PRIu64 "\t", m->memory->swap_usage);
        table_add(t, "memory.swap_limit\t%" PRIu64 "\t", m->memory->swap_limit);
    }
}

/*
 * ctr prints the sample's time with %s of a protobuf Timestamp, i.e. its one-line text format:
 * "seconds:N nanos:M", zero fields left out, "<nil>" when absent.
 */
static char *timestamp_text(const Google__Protobuf__Timestamp *ts)
{
    struct strbuf b = {0};
    strbuf_puts(&b, ""); /* allocated even when both fields are zero */
    if (!ts) {
        strbuf_puts(&b, "<nil>");
        return b.data;
    }
    if (ts->seconds)
        strbuf_printf(&b, "seconds:%" PRId64, ts->seconds);
    if (ts->nanos)
        strbuf_printf(&b, "%snanos:%" PRId32, ts->seconds ? " " : "", ts->nanos);
    return b.data;
}

int tasks_metrics(struct cli *cli, int argc, char **argv)
{
    enum { FORMAT = 1000 };
    static const struct option longopts[] = {{"format", required_argument, NULL, FORMAT}, {0}};
    const char *format = "table";
    int c;
    while ((c = getopt_long_only(argc, argv, "+", longopts, NULL)) != -1) {
        if (c != FORMAT)
            return 1;
        format = optarg;
    }
    /* as ctr: no id check of its own, the daemon judges "" */
    const char *id = optind < argc ? argv[optind] : "";

    /* client.LoadContainer, then container.Task */
    Containerd__Services__Containers__V1__GetContainerRequest creq =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
    creq.id = (char *)id;
    protobuf_c_message_free_unpacked(
        cli_unary(cli, CONTAINERS, "Get", &creq.base,
                  &containerd__services__containers__v1__get_container_response__descriptor),
        NULL);
    struct berth_error *err = NULL;
    if (task_get(cli, id, &err) < 0) {
        if (err->kind == ERR_NOT_FOUND)
            cli_fail("no running task found: %s", err->message);
        cli_fail("%s", err->message);
    }

    /* task.Metrics: the daemon's sample for this id only */
    _cleanup_free_ char *filter = xasprintf("id==%s", id);
    char *filters[] = {filter};
    Containerd__Services__Tasks__V1__MetricsRequest mreq =
        CONTAINERD__SERVICES__TASKS__V1__METRICS_REQUEST__INIT;
    mreq.n_filters = 1;
    mreq.filters = filters;
    Containerd__Services__Tasks__V1__MetricsResponse *resp =
        (Containerd__Services__Tasks__V1__MetricsResponse *)cli_unary(
            cli, TASKS, "Metrics", &mreq.base,
            &containerd__services__tasks__v1__metrics_response__descriptor);
    if (resp->n_metrics == 0) {
        /* a task that went away in between is NotFound; otherwise the runtime gave nothing */
        if (task_get(cli, id, &err) < 0 && err->kind == ERR_NOT_FOUND)
            cli_fail("%s", err->message);
        cli_fail("no metrics received");
    }
    const Containerd__Types__Metric *metric = resp->metrics[0];
    const Google__Protobuf__Any *data = metric->data;
    const ProtobufCMessageDescriptor *desc = NULL;
    if (data && data->type_url && strcmp(data->type_url, V1_METRICS) == 0)
        desc = &io__containerd__cgroups__v1__metrics__descriptor;
    else if (data && data->type_url && strcmp(data->type_url, V2_METRICS) == 0)
        desc = &io__containerd__cgroups__v2__metrics__descriptor;
    else
        cli_fail("cannot convert metric data to cgroups.Metrics or windows.Statistics");
    ProtobufCMessage *stats =
        protobuf_c_message_unpack(desc, NULL, data->value.len, data->value.data);
    if (!stats)
        cli_fail("proto: cannot parse invalid wire-format data");

    if (strcmp(format, "table") == 0) {
        /* two tabwriter blocks: the empty line between them ends the first one's columns */
        _cleanup_free_ char *when = timestamp_text(metric->timestamp);
        struct table *head = table_new(1, 4);
        table_add(head, "ID\tTIMESTAMP\t");
        table_add(head, "%s\t%s\t", metric->id ? metric->id : "", when);
        table_print(head);
        putchar('\n');
        struct table *t = table_new(1, 4);
        if (desc == &io__containerd__cgroups__v1__metrics__descriptor)
            v1_table(t, (const V1Metrics *)stats);
        else
            v2_table(t, (const V2Metrics *)stats);
        table_print(t);
    } else if (strcmp(format, "json") == 0) {
        struct strbuf b = {0};
        pb_to_go_json(&b, stats, "  ");
        printf("%s\n", b.data);
        free(b.data);
    } else {
        cli_fail("format must be table or json");
    }
    protobuf_c_message_free_unpacked(stats, NULL);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}
