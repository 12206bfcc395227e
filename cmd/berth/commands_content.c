/* berth content ls|get|ingest|rm|label|active, as ctr's content commands. */
#include "cmd/berth/cli.h"
#include "cmd/berth/output.h"
#include "lib/base/alloc.h"
#include "lib/digest/digest.h"

#include "containerd/services/content/v1/content.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CONTENT "containerd.services.content.v1.Content"
#define C(x)    containerd__services__content__v1__##x
#define INIT(x) CONTAINERD__SERVICES__CONTENT__V1__##x##__INIT

static int64_t since_ns(const Google__Protobuf__Timestamp *ts)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t t = ts ? ts->seconds * 1000000000LL + ts->nanos : 0;
    return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec - t;
}

static void print_labels(Containerd__Services__Content__V1__Info *info, struct strbuf *b)
{
    for (size_t i = 0; i < info->n_labels; i++)
        strbuf_printf(b, "%s%s=%s", i ? "," : "", info->labels[i]->key, info->labels[i]->value);
}

static int cmd_list(struct cli *cli, int argc, char **argv)
{
    bool quiet = false;
    static const struct option longopts[] = {{"quiet", no_argument, NULL, 'q'}, {0}};
    for (int c; (c = getopt_long(argc, argv, "q", longopts, NULL)) != -1;)
        if (c == 'q')
            quiet = true;
        else
            return 1;
    Containerd__Services__Content__V1__ListContentRequest req = INIT(LIST_CONTENT_REQUEST);
    req.filters = argv + optind;
    req.n_filters = (size_t)(argc - optind);
    struct rpc_call_options opts = cli_call_options(cli);
    struct berth_error *err = NULL;
    struct rpc_call *call = rpc_channel_start_call(cli_channel(cli), CONTENT, "List", &opts, &err);
    if (!call || rpc_call_send(call, &req.base, &err) < 0)
        cli_fail("%s", err->message);
    rpc_call_close_send(call);
    struct table *t = quiet ? NULL : table_new_tabs(1, 8, 1);
    if (t)
        table_add(t, "DIGEST\tSIZE\tAGE\tLABELS");
    for (;;) {
        ProtobufCMessage *msg;
        int r = rpc_call_recv(call, &C(list_content_response__descriptor), &msg, &err);
        if (r < 0)
            cli_fail("%s", err->message);
        if (r == 0)
            break;
        Containerd__Services__Content__V1__ListContentResponse *resp = (void *)msg;
        for (size_t i = 0; i < resp->n_info; i++) {
            Containerd__Services__Content__V1__Info *info = resp->info[i];
            if (quiet) {
                printf("%s\n", info->digest);
                continue;
            }
            struct strbuf labels = {0}, size = {0}, age = {0};
            print_labels(info, &labels);
            units_human_size(&size, (double)info->size);
            units_human_duration(&age, since_ns(info->created_at));
            table_add(t, "%s\t%s\t%s\t%s", info->digest, size.data, age.data,
                      labels.data ? labels.data : "-");
            free(labels.data);
            free(size.data);
            free(age.data);
        }
        protobuf_c_message_free_unpacked(msg, NULL);
    }
    rpc_call_unref(call);
    if (t)
        table_print(t);
    return 0;
}

static int cmd_get(struct cli *cli, int argc, char **argv)
{
    if (argc < 2)
        cli_fail("please specify a digest");
    struct berth_error *err = NULL;
    if (digest_validate(argv[1], &err) < 0)
        cli_fail("%s", err->message);
    Containerd__Services__Content__V1__ReadContentRequest req = INIT(READ_CONTENT_REQUEST);
    req.digest = argv[1];
    struct rpc_call_options opts = cli_call_options(cli);
    struct rpc_call *call = rpc_channel_start_call(cli_channel(cli), CONTENT, "Read", &opts, &err);
    if (!call || rpc_call_send(call, &req.base, &err) < 0)
        cli_fail("%s", err->message);
    rpc_call_close_send(call);
    for (;;) {
        ProtobufCMessage *msg;
        int r = rpc_call_recv(call, &C(read_content_response__descriptor), &msg, &err);
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
    return 0;
}

/* One Write exchange: send, then read the reply. */
static Containerd__Services__Content__V1__WriteContentResponse *
write_step(struct rpc_call *call, Containerd__Services__Content__V1__WriteContentRequest *req)
{
    struct berth_error *err = NULL;
    ProtobufCMessage *msg;
    if (rpc_call_send(call, &req->base, &err) < 0 ||
        rpc_call_recv(call, &C(write_content_response__descriptor), &msg, &err) <= 0) {
        if (!err)
            rpc_call_finish(call, &err);
        cli_fail("%s", err ? err->message : "the write ended early");
    }
    return (void *)msg;
}

static int cmd_ingest(struct cli *cli, int argc, char **argv)
{
    int64_t expected_size = 0;
    const char *expected_digest = "";
    static const struct option longopts[] = {{"expected-size", required_argument, NULL, 's'},
                                             {"expected-digest", required_argument, NULL, 'd'},
                                             {0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        if (c == 's')
            expected_size = atoll(optarg);
        else if (c == 'd')
            expected_digest = optarg;
        else
            return 1;
    }
    struct berth_error *err = NULL;
    if (*expected_digest && digest_validate(expected_digest, &err) < 0)
        cli_fail("%s", err->message);
    if (optind >= argc)
        cli_fail("must specify a transaction reference");
    const char *ref = argv[optind];
    struct rpc_call_options opts = cli_call_options(cli);
    struct rpc_call *call = rpc_channel_start_call(cli_channel(cli), CONTENT, "Write", &opts, &err);
    if (!call)
        cli_fail("%s", err->message);
    Containerd__Services__Content__V1__WriteContentRequest req = INIT(WRITE_CONTENT_REQUEST);
    req.action = CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__STAT;
    req.ref = (char *)ref;
    req.total = expected_size;
    req.expected = (char *)expected_digest;
    Containerd__Services__Content__V1__WriteContentResponse *resp = write_step(call, &req);
    int64_t offset = resp->offset;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    /* Resuming (or a blob another namespace has): skip what is already there, as ctr seeks. */
    if (offset > 0 && lseek(STDIN_FILENO, offset, SEEK_SET) != offset)
        cli_fail("unable to resume write to %s: failed to seek to offset %lld", ref,
                 (long long)offset);
    _cleanup_free_ uint8_t *buf = xmalloc(1 << 20);
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, 1 << 20);
        if (n < 0)
            cli_fail("read stdin failed");
        req.action = n == 0 ? CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__COMMIT
                            : CONTAINERD__SERVICES__CONTENT__V1__WRITE_ACTION__WRITE;
        req.offset = offset;
        req.data.data = buf;
        req.data.len = (size_t)n;
        resp = write_step(call, &req);
        offset = resp->offset;
        protobuf_c_message_free_unpacked(&resp->base, NULL);
        if (n == 0)
            break;
    }
    rpc_call_close_send(call);
    rpc_call_unref(call);
    return 0;
}

static int cmd_remove(struct cli *cli, int argc, char **argv)
{
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        Containerd__Services__Content__V1__DeleteContentRequest req = INIT(DELETE_CONTENT_REQUEST);
        req.digest = argv[i];
        struct rpc_call_options opts = cli_call_options(cli);
        ProtobufCMessage *resp = NULL;
        struct berth_error *err = NULL;
        if (rpc_channel_unary(cli_channel(cli), CONTENT, "Delete", &req.base,
                              &google__protobuf__empty__descriptor, &resp, &opts, &err) < 0) {
            fprintf(stderr, "berth: unable to delete %s: %s\n", argv[i], err->message);
            err_free(err);
            rc = 1;
            continue;
        }
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return rc;
}

static int cmd_label(struct cli *cli, int argc, char **argv)
{
    if (argc < 2)
        cli_fail("please specify a digest");
    Containerd__Services__Content__V1__Info info = INIT(INFO);
    info.digest = argv[1];
    size_t n = (size_t)(argc - 2);
    info.labels = xcalloc(n + 1, sizeof(*info.labels));
    char **paths = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        char *kv = argv[i + 2], *eq = strchr(kv, '=');
        if (eq)
            *eq = '\0';
        paths[i] = xasprintf("labels.%s", kv);
        if (eq && eq[1]) {
            Containerd__Services__Content__V1__Info__LabelsEntry *e = xmalloc(sizeof(*e));
            C(info__labels_entry__init)(e);
            e->key = kv;
            e->value = eq + 1;
            info.labels[info.n_labels++] = e;
        }
    }
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    mask.paths = paths;
    mask.n_paths = n;
    Containerd__Services__Content__V1__UpdateRequest req = INIT(UPDATE_REQUEST);
    req.info = &info;
    req.update_mask = &mask;
    Containerd__Services__Content__V1__UpdateResponse *resp =
        (void *)cli_unary(cli, CONTENT, "Update", &req.base, &C(update_response__descriptor));
    struct strbuf labels = {0};
    print_labels(resp->info, &labels);
    printf("%s\n", labels.data ? labels.data : "");
    free(labels.data);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    for (size_t i = 0; i < info.n_labels; i++)
        free(info.labels[i]);
    free(info.labels);
    free(paths);
    return 0;
}

static int cmd_active(struct cli *cli, int argc, char **argv)
{
    Containerd__Services__Content__V1__ListStatusesRequest req = INIT(LIST_STATUSES_REQUEST);
    char *filter = argc > 1 ? argv[1] : NULL;
    req.filters = &filter;
    req.n_filters = filter ? 1 : 0;
    Containerd__Services__Content__V1__ListStatusesResponse *resp = (void *)cli_unary(
        cli, CONTENT, "ListStatuses", &req.base, &C(list_statuses_response__descriptor));
    struct table *t = table_new_tabs(1, 8, 1);
    table_add(t, "REF\tSIZE\tAGE\t");
    for (size_t i = 0; i < resp->n_statuses; i++) {
        struct strbuf size = {0}, age = {0};
        units_human_size(&size, (double)resp->statuses[i]->offset);
        units_human_duration(&age, since_ns(resp->statuses[i]->started_at));
        table_add(t, "%s\t%s\t%s\t", resp->statuses[i]->ref, size.data, age.data);
        free(size.data);
        free(age.data);
    }
    table_print(t);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int cli_content(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command sub[] = {
        {"active", NULL, "display active transfers", cmd_active},
        {"delete", "rm", "permanently delete one or more blobs", cmd_remove},
        {"get", NULL, "get the data for an object", cmd_get},
        {"ingest", NULL, "accept content into the store", cmd_ingest},
        {"label", NULL, "add labels to content", cmd_label},
        {"list", "ls", "list all blobs in the store", cmd_list},
    };
    return cli_dispatch(cli, "content", sub, ARRAY_SIZE(sub), argc, argv);
}
