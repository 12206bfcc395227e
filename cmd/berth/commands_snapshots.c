/* berth snapshots ls|tree|info|usage|mounts|prepare|view|commit|rm|label, as ctr's. */
#include "cmd/berth/cli.h"
#include "cmd/berth/output.h"
#include "lib/base/alloc.h"

#include "containerd/services/snapshots/v1/snapshots.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SNAPSHOTS "containerd.services.snapshots.v1.Snapshots"
#define S(x)      containerd__services__snapshots__v1__##x
#define INIT(x)   CONTAINERD__SERVICES__SNAPSHOTS__V1__##x##__INIT
typedef Containerd__Services__Snapshots__V1__Info Info;
typedef Containerd__Services__Snapshots__V1__Info__LabelsEntry LabelEntry;

/* --snapshotter on the group (ctr: env CONTAINERD_SNAPSHOTTER, default overlayfs). */
static const char *snapshotter = NULL;

static const char *sn(void)
{
    if (snapshotter)
        return snapshotter;
    const char *env = getenv("CONTAINERD_SNAPSHOTTER");
    return env && env[0] ? env : "overlayfs";
}

static const char *kind_name(int kind)
{
    static const char *const names[] = {"Unknown", "View", "Active", "Committed"};
    return kind >= 0 && kind <= 3 ? names[kind] : "Unknown";
}

static void gc_root_label(char out[32])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_mounts(const char *target, Containerd__Types__Mount **m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        printf("mount -t %s %s %s -o ", m[i]->type, m[i]->source, target);
        for (size_t j = 0; j < m[i]->n_options; j++)
            printf("%s%s", j ? "," : "", m[i]->options[j]);
        printf("\n");
    }
}

/* Every Info of the List stream; the caller frees with free_infos. */
static Info **list_all(struct cli *cli, size_t *ret_n, ProtobufCMessage ***ret_msgs,
                       size_t *ret_n_msgs)
{
    Containerd__Services__Snapshots__V1__ListSnapshotsRequest req = INIT(LIST_SNAPSHOTS_REQUEST);
    req.snapshotter = (char *)sn();
    struct rpc_call_options opts = cli_call_options(cli);
    struct berth_error *err = NULL;
    struct rpc_call *call =
        rpc_channel_start_call(cli_channel(cli), SNAPSHOTS, "List", &opts, &err);
    if (!call || rpc_call_send(call, &req.base, &err) < 0)
        cli_fail("%s", err->message);
    rpc_call_close_send(call);
    Info **all = NULL;
    size_t n = 0, cap = 0, n_msgs = 0, msgs_cap = 0;
    ProtobufCMessage **msgs = NULL;
    for (;;) {
        ProtobufCMessage *msg;
        int r = rpc_call_recv(call, &S(list_snapshots_response__descriptor), &msg, &err);
        if (r < 0)
            cli_fail("%s", err->message);
        if (r == 0)
            break;
        msgs = xreallocarray_grow(msgs, &msgs_cap, n_msgs + 1, sizeof(*msgs));
        msgs[n_msgs++] = msg;
        Containerd__Services__Snapshots__V1__ListSnapshotsResponse *resp = (void *)msg;
        for (size_t i = 0; i < resp->n_info; i++) {
            all = xreallocarray_grow(all, &cap, n + 1, sizeof(*all));
            all[n++] = resp->info[i];
        }
    }
    rpc_call_unref(call);
    *ret_n = n;
    *ret_msgs = msgs;
    *ret_n_msgs = n_msgs;
    return all;
}

static void free_infos(Info **all, ProtobufCMessage **msgs, size_t n_msgs)
{
    for (size_t i = 0; i < n_msgs; i++)
        protobuf_c_message_free_unpacked(msgs[i], NULL);
    free(msgs);
    free(all);
}

static int cmd_list(struct cli *cli, int argc, char **argv)
{
    size_t n, n_msgs;
    ProtobufCMessage **msgs;
    Info **all = list_all(cli, &n, &msgs, &n_msgs);
    struct table *t = table_new(1, 1);
    table_add(t, "KEY\tPARENT\tKIND\t");
    for (size_t i = 0; i < n; i++)
        table_add(t, "%s\t%s\t%s\t", all[i]->name, all[i]->parent, kind_name(all[i]->kind));
    table_print(t);
    free_infos(all, msgs, n_msgs);
    return 0;
}

static void print_node(Info **all, size_t n, const char *name, int level)
{
    printf("%*s%s %s\n", level * 2, "", level > 0 ? "\\_" : "", name);
    for (size_t i = 0; i < n; i++)
        if (strcmp(all[i]->parent, name) == 0)
            print_node(all, n, all[i]->name, level + 1);
}

static int cmd_tree(struct cli *cli, int argc, char **argv)
{
    size_t n, n_msgs;
    ProtobufCMessage **msgs;
    Info **all = list_all(cli, &n, &msgs, &n_msgs);
    for (size_t i = 0; i < n; i++)
        if (!all[i]->parent[0])
            print_node(all, n, all[i]->name, 0);
    free_infos(all, msgs, n_msgs);
    return 0;
}

static void human_bytes(char out[32], int64_t size)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)size;
    size_t u = 0;
    while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
        v /= 1024;
        u++;
    }
    snprintf(out, 32, "%.1f %s", v, units[u]);
}

static void usage_row(struct cli *cli, struct table *t, const char *key, bool bytes)
{
    Containerd__Services__Snapshots__V1__UsageRequest req = INIT(USAGE_REQUEST);
    req.snapshotter = (char *)sn();
    req.key = (char *)key;
    Containerd__Services__Snapshots__V1__UsageResponse *resp =
        (void *)cli_unary(cli, SNAPSHOTS, "Usage", &req.base, &S(usage_response__descriptor));
    char size[32];
    if (bytes)
        snprintf(size, sizeof(size), "%lld", (long long)resp->size);
    else
        human_bytes(size, resp->size);
    table_add(t, "%s\t%s\t%lld\t", key, size, (long long)resp->inodes);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
}

static int cmd_usage(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"b", no_argument, NULL, 'b'}, {0}};
    bool bytes = false;
    for (int c; (c = getopt_long_only(argc, argv, "+b", longopts, NULL)) != -1;)
        if (c == 'b')
            bytes = true;
        else
            return 1;
    struct table *t = table_new(1, 1);
    table_add(t, "KEY\tSIZE\tINODES\t");
    if (optind < argc) {
        for (int i = optind; i < argc; i++)
            usage_row(cli, t, argv[i], bytes);
    } else {
        size_t n, n_msgs;
        ProtobufCMessage **msgs;
        Info **all = list_all(cli, &n, &msgs, &n_msgs);
        for (size_t i = 0; i < n; i++)
            usage_row(cli, t, all[i]->name, bytes);
        free_infos(all, msgs, n_msgs);
    }
    table_print(t);
    return 0;
}

static int compare_entries(const void *a, const void *b)
{
    const LabelEntry *x = *(void *const *)a, *y = *(void *const *)b;
    return strcmp(x->key, y->key);
}

/* Go's time.Time JSON: RFC 3339 with nanoseconds, trailing zeros trimmed. */
static void json_time(struct strbuf *b, const Google__Protobuf__Timestamp *ts)
{
    time_t secs = ts ? (time_t)ts->seconds : 0;
    int nanos = ts ? ts->nanos : 0;
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32], frac[16] = "";
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    if (nanos) {
        snprintf(frac, sizeof(frac), ".%09d", nanos);
        for (size_t n = strlen(frac); frac[n - 1] == '0'; n--)
            frac[n - 1] = '\0';
    }
    strbuf_printf(b, "\"%s%sZ\"", base, frac);
}

static int cmd_info(struct cli *cli, int argc, char **argv)
{
    if (argc < 2)
        cli_fail("snapshot key must be provided");
    Containerd__Services__Snapshots__V1__StatSnapshotRequest req = INIT(STAT_SNAPSHOT_REQUEST);
    req.snapshotter = (char *)sn();
    req.key = argv[1];
    Containerd__Services__Snapshots__V1__StatSnapshotResponse *resp = (void *)cli_unary(
        cli, SNAPSHOTS, "Stat", &req.base, &S(stat_snapshot_response__descriptor));
    Info *info = resp->info;
    struct strbuf b = {0};
    strbuf_printf(&b, "{\n    \"Kind\": \"%s\",\n    \"Name\": ", kind_name(info->kind));
    strbuf_json_string(&b, info->name, strlen(info->name));
    if (info->parent[0]) {
        strbuf_puts(&b, ",\n    \"Parent\": ");
        strbuf_json_string(&b, info->parent, strlen(info->parent));
    }
    if (info->n_labels) {
        if (info->n_labels > 1)
            qsort(info->labels, info->n_labels, sizeof(*info->labels), compare_entries);
        strbuf_puts(&b, ",\n    \"Labels\": {");
        for (size_t i = 0; i < info->n_labels; i++) {
            strbuf_puts(&b, i ? ",\n        " : "\n        ");
            strbuf_json_string(&b, info->labels[i]->key, strlen(info->labels[i]->key));
            strbuf_puts(&b, ": ");
            strbuf_json_string(&b, info->labels[i]->value, strlen(info->labels[i]->value));
        }
        strbuf_puts(&b, "\n    }");
    }
    strbuf_puts(&b, ",\n    \"Created\": ");
    json_time(&b, info->created_at);
    strbuf_puts(&b, ",\n    \"Updated\": ");
    json_time(&b, info->updated_at);
    strbuf_puts(&b, "\n}");
    printf("%s\n", b.data);
    free(b.data);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

static int cmd_mounts(struct cli *cli, int argc, char **argv)
{
    if (argc < 3)
        cli_fail("must specify mount target and key");
    Containerd__Services__Snapshots__V1__MountsRequest req = INIT(MOUNTS_REQUEST);
    req.snapshotter = (char *)sn();
    req.key = argv[2];
    Containerd__Services__Snapshots__V1__MountsResponse *resp =
        (void *)cli_unary(cli, SNAPSHOTS, "Mounts", &req.base, &S(mounts_response__descriptor));
    print_mounts(argv[1], resp->mounts, resp->n_mounts);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

/* prepare and view: <key> [<parent>], --target/-t, --mounts. */
static int create(struct cli *cli, int argc, char **argv, bool view)
{
    static const struct option longopts[] = {
        {"target", required_argument, NULL, 't'}, {"mounts", no_argument, NULL, 'm'}, {0}};
    const char *target = NULL;
    bool show = false;
    for (int c; (c = getopt_long_only(argc, argv, "+t:", longopts, NULL)) != -1;) {
        if (c == 't')
            target = optarg;
        else if (c == 'm')
            show = true;
        else
            return 1;
    }
    if (optind >= argc)
        cli_fail("must provide a snapshot key");
    const char *key = argv[optind];
    const char *parent = optind + 1 < argc ? argv[optind + 1] : "";
    char root[32];
    gc_root_label(root);
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest__LabelsEntry entry =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__PREPARE_SNAPSHOT_REQUEST__LABELS_ENTRY__INIT;
    entry.key = (char *)"containerd.io/gc.root";
    entry.value = root;
    Containerd__Services__Snapshots__V1__PrepareSnapshotRequest__LabelsEntry *labels[] = {&entry};
    ProtobufCMessage *resp;
    Containerd__Types__Mount **mounts;
    size_t n_mounts;
    if (view) {
        Containerd__Services__Snapshots__V1__ViewSnapshotRequest req = INIT(VIEW_SNAPSHOT_REQUEST);
        req.snapshotter = (char *)sn();
        req.key = (char *)key;
        req.parent = (char *)parent;
        resp = cli_unary(cli, SNAPSHOTS, "View", &req.base, &S(view_snapshot_response__descriptor));
        mounts = ((Containerd__Services__Snapshots__V1__ViewSnapshotResponse *)resp)->mounts;
        n_mounts = ((Containerd__Services__Snapshots__V1__ViewSnapshotResponse *)resp)->n_mounts;
    } else {
        Containerd__Services__Snapshots__V1__PrepareSnapshotRequest req =
            INIT(PREPARE_SNAPSHOT_REQUEST);
        req.snapshotter = (char *)sn();
        req.key = (char *)key;
        req.parent = (char *)parent;
        req.labels = labels;
        req.n_labels = 1;
        resp = cli_unary(cli, SNAPSHOTS, "Prepare", &req.base,
                         &S(prepare_snapshot_response__descriptor));
        mounts = ((Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *)resp)->mounts;
        n_mounts = ((Containerd__Services__Snapshots__V1__PrepareSnapshotResponse *)resp)->n_mounts;
    }
    if (target)
        print_mounts(target, mounts, n_mounts);
    else if (show)
        print_mounts("", mounts, n_mounts);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static int cmd_prepare(struct cli *cli, int argc, char **argv)
{
    return create(cli, argc, argv, false);
}

static int cmd_view(struct cli *cli, int argc, char **argv)
{
    return create(cli, argc, argv, true);
}

static int cmd_commit(struct cli *cli, int argc, char **argv)
{
    if (argc < 3)
        cli_fail("must provide name and key");
    char root[32];
    gc_root_label(root);
    Containerd__Services__Snapshots__V1__CommitSnapshotRequest__LabelsEntry entry =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__COMMIT_SNAPSHOT_REQUEST__LABELS_ENTRY__INIT;
    entry.key = (char *)"containerd.io/gc.root";
    entry.value = root;
    Containerd__Services__Snapshots__V1__CommitSnapshotRequest__LabelsEntry *labels[] = {&entry};
    Containerd__Services__Snapshots__V1__CommitSnapshotRequest req = INIT(COMMIT_SNAPSHOT_REQUEST);
    req.snapshotter = (char *)sn();
    req.name = argv[1];
    req.key = argv[2];
    req.labels = labels;
    req.n_labels = 1;
    protobuf_c_message_free_unpacked(
        cli_unary(cli, SNAPSHOTS, "Commit", &req.base, &google__protobuf__empty__descriptor), NULL);
    return 0;
}

static int cmd_remove(struct cli *cli, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        Containerd__Services__Snapshots__V1__RemoveSnapshotRequest req =
            INIT(REMOVE_SNAPSHOT_REQUEST);
        req.snapshotter = (char *)sn();
        req.key = argv[i];
        protobuf_c_message_free_unpacked(
            cli_unary(cli, SNAPSHOTS, "Remove", &req.base, &google__protobuf__empty__descriptor),
            NULL);
    }
    return 0;
}

/* the default second snapshot is the first one's parent, as ctr's */
static int cmd_diff(struct cli *cli, int argc, char **argv)
{
    return cli_snapshots_diff(cli, sn(), argc, argv);
}

static int cmd_label(struct cli *cli, int argc, char **argv)
{
    if (argc < 2)
        cli_fail("snapshot key must be provided");
    size_t n = (size_t)(argc - 2);
    LabelEntry *entries = xcalloc(n + 1, sizeof(*entries));
    LabelEntry **labels = xcalloc(n + 1, sizeof(*labels));
    char **paths = xcalloc(n + 1, sizeof(*paths));
    for (size_t i = 0; i < n; i++) {
        char *arg = argv[2 + i];
        char *eq = strchr(arg, '=');
        if (eq)
            *eq = '\0';
        S(info__labels_entry__init)(&entries[i]);
        entries[i].key = arg;
        entries[i].value = eq ? eq + 1 : (char *)"";
        labels[i] = &entries[i];
        paths[i] = xasprintf("labels.%s", arg);
    }
    Info info = INIT(INFO);
    info.name = argv[1];
    info.labels = labels;
    info.n_labels = n;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    mask.paths = paths;
    mask.n_paths = n;
    Containerd__Services__Snapshots__V1__UpdateSnapshotRequest req = INIT(UPDATE_SNAPSHOT_REQUEST);
    req.snapshotter = (char *)sn();
    req.info = &info;
    req.update_mask = &mask;
    Containerd__Services__Snapshots__V1__UpdateSnapshotResponse *resp = (void *)cli_unary(
        cli, SNAPSHOTS, "Update", &req.base, &S(update_snapshot_response__descriptor));
    Info *out = resp->info;
    if (out && out->n_labels > 1)
        qsort(out->labels, out->n_labels, sizeof(*out->labels), compare_entries);
    for (size_t i = 0; out && i < out->n_labels; i++)
        printf("%s%s=%s", i ? "," : "", out->labels[i]->key, out->labels[i]->value);
    printf("\n");
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(labels);
    free(entries);
    return 0;
}

int cli_snapshots(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command sub[] = {
        {"list", "ls", "list snapshots", cmd_list},
        {"tree", NULL, "display tree view of snapshot branches", cmd_tree},
        {"info", NULL, "get info about a snapshot", cmd_info},
        {"usage", NULL, "usage snapshots", cmd_usage},
        {"mounts", "m", "mount gets mount commands for the snapshots", cmd_mounts},
        {"prepare", NULL, "prepare a snapshot from a committed snapshot", cmd_prepare},
        {"view", NULL, "create a read-only snapshot from a committed snapshot", cmd_view},
        {"commit", NULL, "commit an active snapshot into the provided name", cmd_commit},
        {"delete", "rm", "remove snapshots", cmd_remove},
        {"label", NULL, "add labels to content", cmd_label},
        {"diff", NULL, "get the diff of two snapshots", cmd_diff},
    };
    /* the group's own flag comes before the subcommand */
    int i = 1;
    while (i < argc && strncmp(argv[i], "-", 1) == 0) {
        const char *a = argv[i] + (argv[i][1] == '-' ? 2 : 1);
        if (strncmp(a, "snapshotter=", 12) == 0) {
            snapshotter = a + 12;
            i++;
        } else if (strcmp(a, "snapshotter") == 0 && i + 1 < argc) {
            snapshotter = argv[i + 1];
            i += 2;
        } else {
            break;
        }
    }
    argv[i - 1] = argv[0];
    return cli_dispatch(cli, "snapshots", sub, ARRAY_SIZE(sub), argc - (i - 1), argv + (i - 1));
}
