/* berth containers ls|info|rm|label, as ctr's containers commands. */
#include "cmd/berth/cli.h"
#include "cmd/berth/output.h"
#include "cmd/berth/tasks.h"
#include "lib/base/alloc.h"

#include "containerd/services/containers/v1/containers.pb-c.h"
#include "containerd/services/snapshots/v1/snapshots.pb-c.h"
#include "containerd/services/tasks/v1/tasks.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONTAINERS "containerd.services.containers.v1.Containers"
#define TASKS      "containerd.services.tasks.v1.Tasks"
#define CTR(x)     containerd__services__containers__v1__##x
#define INIT(x)    CONTAINERD__SERVICES__CONTAINERS__V1__##x##__INIT

/* The type URL Go clients register the OCI runtime spec under. */
#define SPEC_TYPE_URL "types.containerd.io/opencontainers/runtime-spec/1/Spec"
/* Go's encoding/json gives up nesting deeper than this. */
enum { JSON_MAX_DEPTH = 10000 };

typedef Containerd__Services__Containers__V1__Container PbContainer;
typedef Containerd__Services__Containers__V1__Container__LabelsEntry LabelEntry;

/* Go's flag package stops at the first argument that is not a flag, and takes -long too. */
static int next_flag(int argc, char **argv, const char *shorts, const struct option *longopts)
{
    return getopt_long_only(argc, argv, shorts, longopts, NULL);
}

static PbContainer *get_container(struct cli *cli, const char *id,
                                  Containerd__Services__Containers__V1__GetContainerResponse **ret)
{
    Containerd__Services__Containers__V1__GetContainerRequest req = INIT(GET_CONTAINER_REQUEST);
    req.id = (char *)id;
    *ret = (Containerd__Services__Containers__V1__GetContainerResponse *)cli_unary(
        cli, CONTAINERS, "Get", &req.base, &CTR(get_container_response__descriptor));
    if (!(*ret)->container)
        cli_fail("container \"%s\": not found", id);
    return (*ret)->container;
}

static int cmd_list(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"quiet", no_argument, NULL, 'q'}, {0}};
    bool quiet = false;
    int c;
    while ((c = next_flag(argc, argv, "+q", longopts)) != -1) {
        if (c != 'q')
            return 1;
        quiet = true;
    }
    Containerd__Services__Containers__V1__ListContainersRequest req = INIT(LIST_CONTAINERS_REQUEST);
    req.filters = argv + optind;
    req.n_filters = (size_t)(argc - optind);
    Containerd__Services__Containers__V1__ListContainersResponse *resp =
        (Containerd__Services__Containers__V1__ListContainersResponse *)cli_unary(
            cli, CONTAINERS, "List", &req.base, &CTR(list_containers_response__descriptor));
    if (quiet) {
        for (size_t i = 0; i < resp->n_containers; i++)
            printf("%s\n", resp->containers[i]->id);
    } else {
        struct table *t = table_new(4, 4);
        table_add(t, "CONTAINER\tIMAGE\tRUNTIME\t");
        for (size_t i = 0; i < resp->n_containers; i++) {
            PbContainer *m = resp->containers[i];
            table_add(t, "%s\t%s\t%s\t", m->id, m->image[0] ? m->image : "-",
                      m->runtime ? m->runtime->name : "");
        }
        table_print(t);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

/* ---- info: the JSON ctr prints of containerd's Go Container struct ---- */

static void newline(struct strbuf *b, int depth)
{
    strbuf_puts(b, "\n");
    for (int i = 0; i < depth; i++)
        strbuf_puts(b, "    ");
}

static void put_base64(struct strbuf *b, const uint8_t *p, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        char out[4] = {alphabet[(v >> 18) & 63], alphabet[(v >> 12) & 63],
                       i + 1 < n ? alphabet[(v >> 6) & 63] : '=',
                       i + 2 < n ? alphabet[v & 63] : '='};
        strbuf_add(b, out, 4);
    }
}

/* A gogo types.Any: {"type_url", "value"} with both omitted when empty. */
static void put_any(struct strbuf *b, const Google__Protobuf__Any *a, int depth)
{
    if (!a) {
        strbuf_puts(b, "null");
        return;
    }
    bool url = a->type_url && a->type_url[0], value = a->value.len > 0;
    if (!url && !value) {
        strbuf_puts(b, "{}");
        return;
    }
    strbuf_puts(b, "{");
    if (url) {
        newline(b, depth + 1);
        strbuf_puts(b, "\"type_url\": ");
        strbuf_json_string(b, a->type_url, strlen(a->type_url));
        if (value)
            strbuf_puts(b, ",");
    }
    if (value) {
        newline(b, depth + 1);
        strbuf_puts(b, "\"value\": \"");
        put_base64(b, a->value.data, a->value.len);
        strbuf_puts(b, "\"");
    }
    newline(b, depth);
    strbuf_puts(b, "}");
}

/* Go's time.Time in JSON, in UTC; an absent timestamp is Go's zero time. */
static void put_time(struct strbuf *b, const Google__Protobuf__Timestamp *ts)
{
    strbuf_puts(b, "\"");
    go_time(b, ts ? ts->seconds : -62135596800, ts ? ts->nanos : 0, true);
    strbuf_puts(b, "\"");
}

static int compare_labels(const void *a, const void *b)
{
    const LabelEntry *x = *(void *const *)a, *y = *(void *const *)b;
    return strcmp(x->key, y->key);
}

static int compare_extensions(const void *a, const void *b)
{
    const Containerd__Services__Containers__V1__Container__ExtensionsEntry *x = *(void *const *)a,
                                                                           *y = *(void *const *)b;
    return strcmp(x->key, y->key);
}

static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/*
 * Re-indents a JSON document as MarshalIndent with four spaces lays it out. Tokens are kept
 * as written (ctr goes through the Go spec struct, which also orders fields as the struct and
 * drops unknown ones). Returns -1 when the text is not well-formed enough to lay out.
 */
static int put_json(struct strbuf *b, const char *p, size_t len, int base)
{
    const char *end = p + len;
    char stack[JSON_MAX_DEPTH];
    int depth = 0;
    bool any = false;
    for (p = skip_space(p, end); p < end; p = skip_space(p, end)) {
        char c = *p;
        if (c == '{' || c == '[') {
            if (depth == JSON_MAX_DEPTH)
                return -1;
            const char *q = skip_space(p + 1, end);
            if (q < end && *q == (c == '{' ? '}' : ']')) {
                strbuf_add(b, c == '{' ? "{}" : "[]", 2);
                p = q + 1;
            } else {
                stack[depth++] = c;
                strbuf_add(b, p, 1);
                newline(b, base + depth);
                p++;
            }
        } else if (c == '}' || c == ']') {
            if (depth == 0 || stack[depth - 1] != (c == '}' ? '{' : '['))
                return -1;
            depth--;
            newline(b, base + depth);
            strbuf_add(b, p++, 1);
        } else if (c == ',') {
            if (depth == 0)
                return -1;
            strbuf_puts(b, ",");
            newline(b, base + depth);
            p++;
        } else if (c == ':') {
            strbuf_puts(b, ": ");
            p++;
        } else if (c == '"') {
            const char *q = p + 1;
            while (q < end && *q != '"')
                q += *q == '\\' ? 2 : 1;
            if (q >= end)
                return -1;
            strbuf_add(b, p, (size_t)(q + 1 - p));
            p = q + 1;
        } else {
            const char *q = p;
            while (q < end && !strchr(" \t\r\n,:{}[]\"", *q))
                q++;
            strbuf_add(b, p, (size_t)(q - p));
            p = q;
        }
        any = true;
    }
    return depth == 0 && any ? 0 : -1;
}

/* The spec as ctr decodes it (typeurl.UnmarshalAny): only the OCI spec type is known. */
static void put_spec(struct strbuf *b, const Google__Protobuf__Any *spec, int depth)
{
    if (strcmp(spec->type_url, SPEC_TYPE_URL) != 0)
        cli_fail("type with url %s: not found", spec->type_url);
    if (put_json(b, (const char *)spec->value.data, spec->value.len, depth) < 0)
        cli_fail("the container's spec is not valid JSON");
}

static void put_field(struct strbuf *b, const char *name, bool first)
{
    if (!first)
        strbuf_puts(b, ",");
    newline(b, 1);
    strbuf_printf(b, "\"%s\": ", name);
}

static void put_string_field(struct strbuf *b, const char *name, const char *value)
{
    put_field(b, name, false);
    strbuf_json_string(b, value, strlen(value));
}

static void put_info(struct strbuf *b, PbContainer *m)
{
    bool decode_spec = m->spec && m->spec->value.len > 0;
    strbuf_puts(b, "{");
    put_field(b, "ID", true);
    strbuf_json_string(b, m->id, strlen(m->id));
    put_field(b, "Labels", false);
    if (m->n_labels == 0) {
        strbuf_puts(b, "null");
    } else {
        /* Go writes maps sorted by key */
        qsort(m->labels, m->n_labels, sizeof(*m->labels), compare_labels);
        strbuf_puts(b, "{");
        for (size_t i = 0; i < m->n_labels; i++) {
            newline(b, 2);
            strbuf_json_string(b, m->labels[i]->key, strlen(m->labels[i]->key));
            strbuf_puts(b, ": ");
            strbuf_json_string(b, m->labels[i]->value, strlen(m->labels[i]->value));
            if (i + 1 < m->n_labels)
                strbuf_puts(b, ",");
        }
        newline(b, 1);
        strbuf_puts(b, "}");
    }
    put_string_field(b, "Image", m->image);
    put_field(b, "Runtime", false);
    strbuf_puts(b, "{");
    newline(b, 2);
    strbuf_puts(b, "\"Name\": ");
    const char *runtime = m->runtime ? m->runtime->name : "";
    strbuf_json_string(b, runtime, strlen(runtime));
    strbuf_puts(b, ",");
    newline(b, 2);
    strbuf_puts(b, "\"Options\": ");
    put_any(b, m->runtime ? m->runtime->options : NULL, 2);
    newline(b, 1);
    strbuf_puts(b, "}");
    /* a decoded spec shadows the struct's field and so comes last */
    if (!decode_spec) {
        put_field(b, "Spec", false);
        put_any(b, m->spec, 1);
    }
    put_string_field(b, "SnapshotKey", m->snapshot_key);
    put_string_field(b, "Snapshotter", m->snapshotter);
    put_field(b, "CreatedAt", false);
    put_time(b, m->created_at);
    put_field(b, "UpdatedAt", false);
    put_time(b, m->updated_at);
    put_field(b, "Extensions", false);
    if (m->n_extensions == 0) {
        strbuf_puts(b, "null");
    } else {
        qsort(m->extensions, m->n_extensions, sizeof(*m->extensions), compare_extensions);
        strbuf_puts(b, "{");
        for (size_t i = 0; i < m->n_extensions; i++) {
            newline(b, 2);
            strbuf_json_string(b, m->extensions[i]->key, strlen(m->extensions[i]->key));
            strbuf_puts(b, ": ");
            static const Google__Protobuf__Any empty = GOOGLE__PROTOBUF__ANY__INIT;
            put_any(b, m->extensions[i]->value ? m->extensions[i]->value : &empty, 2);
            if (i + 1 < m->n_extensions)
                strbuf_puts(b, ",");
        }
        newline(b, 1);
        strbuf_puts(b, "}");
    }
    if (decode_spec) {
        put_field(b, "Spec", false);
        put_spec(b, m->spec, 1);
    }
    newline(b, 0);
    strbuf_puts(b, "}");
}

static int cmd_info(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"spec", no_argument, NULL, 's'}, {0}};
    bool spec_only = false;
    int c;
    while ((c = next_flag(argc, argv, "+", longopts)) != -1) {
        if (c != 's')
            return 1;
        spec_only = true;
    }
    if (optind >= argc || !argv[optind][0])
        cli_fail("container id must be provided: invalid argument");
    Containerd__Services__Containers__V1__GetContainerResponse *resp;
    PbContainer *m = get_container(cli, argv[optind], &resp);
    struct strbuf b = {0};
    if (spec_only) {
        if (!m->spec)
            cli_fail("the container has no spec");
        put_spec(&b, m->spec, 0);
    } else {
        put_info(&b, m);
    }
    printf("%s\n", b.data);
    free(b.data);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

/* ---- rm ---- */

static int remove_snapshot(struct cli *cli, const PbContainer *m, struct berth_error **err)
{
    if (!m->snapshot_key[0])
        return 0;
    if (!m->snapshotter[0])
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "container.Snapshotter must be set to cleanup rootfs snapshot");
    Containerd__Services__Snapshots__V1__RemoveSnapshotRequest req =
        CONTAINERD__SERVICES__SNAPSHOTS__V1__REMOVE_SNAPSHOT_REQUEST__INIT;
    req.snapshotter = m->snapshotter;
    req.key = m->snapshot_key;
    struct rpc_call_options opts = cli_call_options(cli);
    ProtobufCMessage *resp = NULL;
    if (rpc_channel_unary(cli_channel(cli), "containerd.services.snapshots.v1.Snapshots", "Remove",
                          &req.base, &google__protobuf__empty__descriptor, &resp, &opts, err) < 0) {
        if ((*err)->kind != ERR_NOT_FOUND)
            return -1;
        err_free(*err);
        *err = NULL;
    }
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

/* Tasks/Get of the container's task: NULL with *err set when it fails (NotFound: no task). */
static Containerd__Services__Tasks__V1__GetResponse *get_task(struct cli *cli, const char *id,
                                                              struct berth_error **err)
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
        return NULL;
    return (Containerd__Services__Tasks__V1__GetResponse *)resp;
}

/*
 * ctr's Status of a task as its %v prints it: {running 0 0001-01-01 00:00:00 +0000 UTC}; an
 * absent exit time is the Unix epoch (protobuf's AsTime of nil).
 */
static char *task_status_text(const Containerd__V1__Types__Process *p)
{
    static const char *const names[] = {"unknown", "created", "running",
                                        "stopped", "paused",  "pausing"};
    int status = p ? (int)p->status : 0;
    struct strbuf b = {0};
    strbuf_printf(&b, "{%s %u ",
                  status >= 0 && status < (int)ARRAY_SIZE(names) ? names[status] : "unknown",
                  p ? p->exit_status : 0);
    const Google__Protobuf__Timestamp *at = p ? p->exited_at : NULL;
    go_time(&b, at ? at->seconds : 0, at ? at->nanos : 0, false);
    strbuf_puts(&b, "}");
    return b.data;
}

/*
 * ctr's deleteContainer: a task that is stopped or only created is deleted first (with its
 * FIFOs), any other refused; then container.Delete, which insists there is no task left, removes
 * the snapshot (unless kept) and the record.
 */
static int delete_container(struct cli *cli, const char *id, bool keep_snapshot,
                            struct berth_error **err)
{
    struct rpc_call_options opts = cli_call_options(cli);
    Containerd__Services__Containers__V1__GetContainerRequest get = INIT(GET_CONTAINER_REQUEST);
    get.id = (char *)id;
    ProtobufCMessage *got = NULL;
    if (rpc_channel_unary(cli_channel(cli), CONTAINERS, "Get", &get.base,
                          &CTR(get_container_response__descriptor), &got, &opts, err) < 0)
        return -1;

    struct berth_error *task_err = NULL;
    Containerd__Services__Tasks__V1__GetResponse *task = get_task(cli, id, &task_err);
    if (task) {
        int status = task->process ? (int)task->process->status : 0;
        if (status != CONTAINERD__V1__TYPES__STATUS__STOPPED &&
            status != CONTAINERD__V1__TYPES__STATUS__CREATED) {
            _cleanup_free_ char *text = task_status_text(task->process);
            _cleanup_free_ char *message =
                xasprintf("cannot delete a non stopped container: %s", text);
            protobuf_c_message_free_unpacked(&task->base, NULL);
            protobuf_c_message_free_unpacked(got, NULL);
            /* ctr's own error, without a class word */
            return err_make_raw(err, ERR_FAILED_PRECONDITION, message);
        }
        protobuf_c_message_free_unpacked(&task->base, NULL);
        uint32_t exit_status;
        if (tasks_delete(cli, id, "", false, &exit_status, err) < 0) {
            protobuf_c_message_free_unpacked(got, NULL);
            return -1;
        }
        /* container.Delete: a task that is back (or never went) keeps the container */
        task = get_task(cli, id, &task_err);
        if (task) {
            protobuf_c_message_free_unpacked(&task->base, NULL);
            protobuf_c_message_free_unpacked(got, NULL);
            return err_make(err, ERR_FAILED_PRECONDITION, 0, "cannot delete running task %s", id);
        }
    }
    /* a failing Tasks/Get (NotFound or otherwise) counts as no task, as in ctr */
    err_free(task_err);

    const PbContainer *m =
        ((Containerd__Services__Containers__V1__GetContainerResponse *)got)->container;
    int r = m && !keep_snapshot ? remove_snapshot(cli, m, err) : 0;
    protobuf_c_message_free_unpacked(got, NULL);
    if (r < 0)
        return -1;
    Containerd__Services__Containers__V1__DeleteContainerRequest req =
        INIT(DELETE_CONTAINER_REQUEST);
    req.id = (char *)id;
    ProtobufCMessage *resp = NULL;
    if (rpc_channel_unary(cli_channel(cli), CONTAINERS, "Delete", &req.base,
                          &google__protobuf__empty__descriptor, &resp, &opts, err) < 0)
        return -1;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static int cmd_remove(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"keep-snapshot", no_argument, NULL, 'k'}, {0}};
    bool keep = false;
    int c;
    while ((c = next_flag(argc, argv, "+", longopts)) != -1) {
        if (c != 'k')
            return 1;
        keep = true;
    }
    if (optind >= argc)
        cli_fail("must specify at least one container to delete: invalid argument");
    char *first = NULL;
    for (int i = optind; i < argc; i++) {
        struct berth_error *err = NULL;
        if (delete_container(cli, argv[i], keep, &err) < 0) {
            fprintf(stderr, "berth: failed to delete container \"%s\": %s\n", argv[i],
                    err->message);
            if (!first)
                first = xstrdup(err->message);
            err_free(err);
        }
    }
    if (first)
        cli_fail("%s", first);
    return 0;
}

/* ---- label ---- */

static int cmd_label(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{0}};
    if (next_flag(argc, argv, "+", longopts) != -1)
        return 1;
    argc -= optind, argv += optind;
    if (argc < 1 || !argv[0][0])
        cli_fail("container id must be provided: invalid argument");
    /* ctr loads the container first: a missing one fails before any update */
    Containerd__Services__Containers__V1__GetContainerResponse *existing;
    get_container(cli, argv[0], &existing);
    protobuf_c_message_free_unpacked(&existing->base, NULL);

    PbContainer container = CONTAINERD__SERVICES__CONTAINERS__V1__CONTAINER__INIT;
    container.id = argv[0];
    size_t n = (size_t)argc - 1;
    LabelEntry *entries = xcalloc(n + 1, sizeof(*entries));
    container.labels = xcalloc(n + 1, sizeof(*container.labels));
    char **paths = xcalloc(n + 1, sizeof(*paths));
    for (size_t i = 0; i < n; i++) {
        /* ctr's LabelArgs: "k=v", or "k" alone for "true" */
        LabelEntry *e = &entries[i];
        containerd__services__containers__v1__container__labels_entry__init(e);
        char *eq = strchr(argv[i + 1], '=');
        if (eq)
            *eq = '\0';
        e->key = argv[i + 1];
        e->value = eq ? eq + 1 : (char *)"true";
        container.labels[container.n_labels++] = e;
        paths[i] = xasprintf("labels.%s", e->key);
    }
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    mask.paths = paths;
    mask.n_paths = n;
    Containerd__Services__Containers__V1__UpdateContainerRequest req =
        INIT(UPDATE_CONTAINER_REQUEST);
    req.container = &container;
    req.update_mask = n ? &mask : NULL;
    Containerd__Services__Containers__V1__UpdateContainerResponse *resp =
        (Containerd__Services__Containers__V1__UpdateContainerResponse *)cli_unary(
            cli, CONTAINERS, "Update", &req.base, &CTR(update_container_response__descriptor));
    /* ctr prints Go's map order (random); sorted is the stable choice */
    struct strbuf b = {0};
    PbContainer *m = resp->container;
    if (m && m->n_labels > 1)
        qsort(m->labels, m->n_labels, sizeof(*m->labels), compare_labels);
    for (size_t i = 0; m && i < m->n_labels; i++)
        strbuf_printf(&b, "%s%s=%s", i ? "," : "", m->labels[i]->key, m->labels[i]->value);
    printf("%s\n", b.data ? b.data : "");
    free(b.data);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(container.labels);
    free(entries);
    return 0;
}

int cli_containers(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command sub[] = {
        {"create", NULL, "create container", cli_containers_create},
        {"list", "ls", "list containers", cmd_list},
        {"delete", "rm", "delete one or more existing containers", cmd_remove},
        {"del", NULL, "delete one or more existing containers", cmd_remove},
        {"remove", NULL, "delete one or more existing containers", cmd_remove},
        {"label", NULL, "set and clear labels for a container", cmd_label},
        {"info", NULL, "get info about a container", cmd_info},
    };
    return cli_dispatch(cli, "containers", sub, ARRAY_SIZE(sub), argc, argv);
}
