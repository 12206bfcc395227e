/* berth snapshots diff: a layer of a snapshot's changes through the Diff service, as ctr's. */
#include "cmd/berth/archive_remote.h"
#include "cmd/berth/cli.h"
#include "lib/base/alloc.h"

#include "containerd/services/content/v1/content.pb-c.h"
#include "containerd/services/diff/v1/diff.pb-c.h"
#include "containerd/services/snapshots/v1/snapshots.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SNAPSHOTS "containerd.services.snapshots.v1.Snapshots"
#define S(x)      containerd__services__snapshots__v1__##x
#define SINIT(x)  CONTAINERD__SERVICES__SNAPSHOTS__V1__##x##__INIT

/* Mounts of a snapshot to diff: an active one's own, else a temporary view (removed after). */
struct side {
    Containerd__Services__Snapshots__V1__MountsResponse *mounts; /* or a Prepare/View response */
    ProtobufCMessage *owner;
    char *view_key;
};

static Containerd__Types__Mount **side_mounts(const struct side *s, size_t *n)
{
    const ProtobufCMessage *m = s->owner;
    /* Mounts, Prepare and View responses all have `repeated Mount mounts = 1` */
    const ProtobufCFieldDescriptor *f = &m->descriptor->fields[0];
    *n = *(const size_t *)((const char *)m + f->quantifier_offset);
    return *(Containerd__Types__Mount ***)((const char *)m + f->offset);
}

static char *unique_part(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return xasprintf("%lld-%d", (long long)ts.tv_nsec, rand() % 100000);
}

static void side_open(struct cli *cli, const char *snapshotter, const char *id, bool parent_of,
                      struct side *out)
{
    *out = (struct side){0};
    Containerd__Services__Snapshots__V1__StatSnapshotRequest st = SINIT(STAT_SNAPSHOT_REQUEST);
    st.snapshotter = (char *)snapshotter;
    st.key = (char *)id;
    Containerd__Services__Snapshots__V1__StatSnapshotResponse *info =
        (void *)cli_unary(cli, SNAPSHOTS, "Stat", &st.base, &S(stat_snapshot_response__descriptor));
    const char *target = parent_of ? info->info->parent : id;
    bool active =
        !parent_of && info->info->kind == CONTAINERD__SERVICES__SNAPSHOTS__V1__KIND__ACTIVE;
    if (active) {
        Containerd__Services__Snapshots__V1__MountsRequest req = SINIT(MOUNTS_REQUEST);
        req.snapshotter = (char *)snapshotter;
        req.key = (char *)id;
        out->owner =
            cli_unary(cli, SNAPSHOTS, "Mounts", &req.base, &S(mounts_response__descriptor));
    } else {
        _cleanup_free_ char *u = unique_part();
        out->view_key =
            parent_of ? xasprintf("%s-parent-view-%s", target, u) : xasprintf("%s-view-%s", id, u);
        Containerd__Services__Snapshots__V1__ViewSnapshotRequest req = SINIT(VIEW_SNAPSHOT_REQUEST);
        req.snapshotter = (char *)snapshotter;
        req.key = out->view_key;
        req.parent = (char *)target;
        out->owner =
            cli_unary(cli, SNAPSHOTS, "View", &req.base, &S(view_snapshot_response__descriptor));
    }
    protobuf_c_message_free_unpacked(&info->base, NULL);
}

static void side_close(struct cli *cli, const char *snapshotter, struct side *s)
{
    if (s->view_key) {
        Containerd__Services__Snapshots__V1__RemoveSnapshotRequest req =
            SINIT(REMOVE_SNAPSHOT_REQUEST);
        req.snapshotter = (char *)snapshotter;
        req.key = s->view_key;
        struct rpc_call_options opts = cli_call_options(cli);
        ProtobufCMessage *resp = NULL;
        struct berth_error *err = NULL;
        if (rpc_channel_unary(cli_channel(cli), SNAPSHOTS, "Remove", &req.base,
                              &google__protobuf__empty__descriptor, &resp, &opts, &err) == 0)
            protobuf_c_message_free_unpacked(resp, NULL);
        err_free(err);
        free(s->view_key);
    }
    if (s->owner)
        protobuf_c_message_free_unpacked(s->owner, NULL);
}

/* Writes the blob to stdout through Content/Read. */
static void print_blob(struct cli *cli, const char *digest)
{
    Containerd__Services__Content__V1__ReadContentRequest req =
        CONTAINERD__SERVICES__CONTENT__V1__READ_CONTENT_REQUEST__INIT;
    req.digest = (char *)digest;
    struct rpc_call_options opts = cli_call_options(cli);
    struct berth_error *err = NULL;
    struct rpc_call *call = rpc_channel_start_call(
        cli_channel(cli), "containerd.services.content.v1.Content", "Read", &opts, &err);
    if (!call || rpc_call_send(call, &req.base, &err) < 0)
        cli_fail("%s", err->message);
    rpc_call_close_send(call);
    for (;;) {
        ProtobufCMessage *msg;
        int r = rpc_call_recv(call,
                              &containerd__services__content__v1__read_content_response__descriptor,
                              &msg, &err);
        if (r < 0)
            cli_fail("%s", err->message);
        if (r == 0)
            break;
        Containerd__Services__Content__V1__ReadContentResponse *resp = (void *)msg;
        if (fwrite(resp->data.data, 1, resp->data.len, stdout) != resp->data.len)
            cli_fail("write to stdout failed");
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    rpc_call_unref(call);
}

int cli_snapshots_diff(struct cli *cli, const char *snapshotter, int argc, char **argv)
{
    const char *media_type = "", *ref = "";
    bool keep = false;
    size_t n_labels = 0;
    Containerd__Services__Diff__V1__DiffRequest__LabelsEntry **labels =
        xcalloc((size_t)argc + 1, sizeof(*labels));
    static const struct option longopts[] = {{"media-type", required_argument, NULL, 'm'},
                                             {"ref", required_argument, NULL, 'r'},
                                             {"label", required_argument, NULL, 'l'},
                                             {"keep", no_argument, NULL, 'k'},
                                             {0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        if (c == 'm') {
            media_type = optarg;
        } else if (c == 'r') {
            ref = optarg;
        } else if (c == 'k') {
            keep = true;
        } else if (c == 'l') {
            Containerd__Services__Diff__V1__DiffRequest__LabelsEntry *e = xmalloc(sizeof(*e));
            containerd__services__diff__v1__diff_request__labels_entry__init(e);
            char *eq = strchr(optarg, '=');
            if (eq)
                *eq = '\0';
            e->key = optarg;
            e->value = eq ? eq + 1 : (char *)"";
            labels[n_labels++] = e;
        } else {
            return 1;
        }
    }
    if (optind >= argc)
        cli_fail("snapshot id must be provided");
    const char *id_a = argv[optind], *id_b = optind + 1 < argc ? argv[optind + 1] : NULL;

    /* Without --keep the result lives only under a temporary lease, as ctr does it. */
    struct berth_error *err = NULL;
    _cleanup_free_ char *lease = NULL;
    if (!keep && !(lease = archive_remote_lease_create(cli, 24 * 3600, &err)))
        cli_fail("%s", err->message);
    if (lease)
        rpc_metadata_add(&cli->metadata, "containerd-lease", lease);

    struct side upper, lower;
    side_open(cli, snapshotter, id_a, false, &upper);
    if (id_b)
        side_open(cli, snapshotter, id_b, false, &lower);
    else
        side_open(cli, snapshotter, id_a, true, &lower);
    Containerd__Services__Diff__V1__DiffRequest req =
        CONTAINERD__SERVICES__DIFF__V1__DIFF_REQUEST__INIT;
    req.left = side_mounts(&lower, &req.n_left);
    req.right = side_mounts(&upper, &req.n_right);
    req.media_type = (char *)media_type;
    req.ref = (char *)ref;
    req.labels = labels;
    req.n_labels = n_labels;
    struct rpc_call_options opts = cli_call_options(cli);
    ProtobufCMessage *resp = NULL;
    int rc = rpc_channel_unary(
        cli_channel(cli), "containerd.services.diff.v1.Diff", "Diff", &req.base,
        &containerd__services__diff__v1__diff_response__descriptor, &resp, &opts, &err);
    side_close(cli, snapshotter, &lower);
    side_close(cli, snapshotter, &upper);
    if (rc == 0)
        print_blob(cli, ((Containerd__Services__Diff__V1__DiffResponse *)resp)->diff->digest);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    if (lease)
        archive_remote_lease_delete(cli, lease, false, NULL);
    for (size_t i = 0; i < n_labels; i++)
        free(labels[i]);
    free(labels);
    if (rc < 0)
        cli_fail("%s", err->message);
    return 0;
}
