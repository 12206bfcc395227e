/* cgroups_stats: building and freeing the protobuf-c Metrics trees. */
#include "core/cgroups/cgroups-internal.h"
#include "lib/base/alloc.h"

void *cg_message_new(const ProtobufCMessageDescriptor *desc)
{
    void *msg = xmalloc(desc->sizeof_message);
    protobuf_c_message_init(desc, msg);
    return msg;
}

void cg_append(void ***array, size_t *n, void *item)
{
    *array = xrealloc(*array, (*n + 1) * sizeof(**array));
    (*array)[(*n)++] = item;
}

int cg_error_pass(struct berth_error **err, struct berth_error *local)
{
    if (err && !*err)
        *err = local;
    else
        err_free(local);
    return -1;
}

int cgroups_stats(const struct cgroup *cg, ProtobufCMessage **ret_metrics, struct berth_error **err)
{
    return cg->unified ? cg_stats_v2(cg, ret_metrics, err) : cg_stats_v1(cg, ret_metrics, err);
}

void cgroups_metrics_free(ProtobufCMessage *metrics)
{
    /* Everything was allocated with malloc, which is protobuf-c's default allocator, so its
     * recursive free (strings, repeated fields, sub-messages) applies. */
    if (metrics)
        protobuf_c_message_free_unpacked(metrics, NULL);
}
