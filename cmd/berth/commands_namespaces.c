/* berth namespaces create|ls|label|rm, as ctr's namespaces commands. */
#include "cmd/berth/cli.h"
#include "cmd/berth/output.h"
#include "lib/base/alloc.h"

#include "containerd/services/namespaces/v1/namespace.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/field_mask.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_SERVICE "containerd.services.namespaces.v1.Namespaces"

typedef Containerd__Services__Namespaces__V1__Namespace__LabelsEntry LabelEntry;

/* "<name> [k=v ...]" as ctr's ObjectWithLabelArgs: entries point into argv. */
static LabelEntry **labels_from_args(int argc, char **argv, size_t *ret_n)
{
    LabelEntry **entries = xcalloc((size_t)argc + 1, sizeof(*entries));
    size_t n = 0;
    for (int i = 0; i < argc; i++) {
        LabelEntry *e = xmalloc(sizeof(*e));
        containerd__services__namespaces__v1__namespace__labels_entry__init(e);
        char *eq = strchr(argv[i], '=');
        if (eq)
            *eq = '\0';
        e->key = argv[i];
        e->value = eq ? eq + 1 : (char *)"";
        entries[n++] = e;
    }
    *ret_n = n;
    return entries;
}

static void free_entries(LabelEntry **entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(entries[i]);
    free(entries);
}

static int cmd_create(struct cli *cli, int argc, char **argv)
{
    argc--, argv++; /* past the subcommand's name */
    if (argc < 1)
        cli_fail("please specify a namespace");
    Containerd__Services__Namespaces__V1__Namespace ns =
        CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__INIT;
    ns.name = argv[0];
    ns.labels = labels_from_args(argc - 1, argv + 1, &ns.n_labels);
    Containerd__Services__Namespaces__V1__CreateNamespaceRequest req =
        CONTAINERD__SERVICES__NAMESPACES__V1__CREATE_NAMESPACE_REQUEST__INIT;
    req.namespace_ = &ns;
    ProtobufCMessage *resp =
        cli_unary(cli, NS_SERVICE, "Create", &req.base,
                  &containerd__services__namespaces__v1__create_namespace_response__descriptor);
    protobuf_c_message_free_unpacked(resp, NULL);
    free_entries(ns.labels, ns.n_labels);
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    const Containerd__Services__Namespaces__V1__Namespace *x = *(void *const *)a,
                                                          *y = *(void *const *)b;
    return strcmp(x->name, y->name);
}

static int compare_entries(const void *a, const void *b)
{
    const LabelEntry *x = *(void *const *)a, *y = *(void *const *)b;
    return strcmp(x->key, y->key);
}

static int cmd_list(struct cli *cli, int argc, char **argv)
{
    argc--, argv++; /* past the subcommand's name */
    bool quiet = argc > 0 && (strcmp(argv[0], "-q") == 0 || strcmp(argv[0], "--quiet") == 0);
    Containerd__Services__Namespaces__V1__ListNamespacesRequest req =
        CONTAINERD__SERVICES__NAMESPACES__V1__LIST_NAMESPACES_REQUEST__INIT;
    Containerd__Services__Namespaces__V1__ListNamespacesResponse *resp =
        (Containerd__Services__Namespaces__V1__ListNamespacesResponse *)cli_unary(
            cli, NS_SERVICE, "List", &req.base,
            &containerd__services__namespaces__v1__list_namespaces_response__descriptor);
    if (resp->n_namespaces)
        qsort(resp->namespaces, resp->n_namespaces, sizeof(*resp->namespaces), compare_names);
    if (quiet) {
        for (size_t i = 0; i < resp->n_namespaces; i++)
            printf("%s\n", resp->namespaces[i]->name);
    } else {
        struct table *t = table_new(1, 1);
        table_add(t, "NAME\tLABELS\t");
        for (size_t i = 0; i < resp->n_namespaces; i++) {
            Containerd__Services__Namespaces__V1__Namespace *ns = resp->namespaces[i];
            if (ns->n_labels)
                qsort(ns->labels, ns->n_labels, sizeof(*ns->labels), compare_entries);
            struct strbuf labels = {0};
            for (size_t j = 0; j < ns->n_labels; j++)
                strbuf_printf(&labels, "%s%s=%s", j ? "," : "", ns->labels[j]->key,
                              ns->labels[j]->value);
            table_add(t, "%s\t%s\t", ns->name, labels.data ? labels.data : "");
            free(labels.data);
        }
        table_print(t);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

static int cmd_label(struct cli *cli, int argc, char **argv)
{
    argc--, argv++; /* past the subcommand's name */
    if (argc < 1)
        cli_fail("please specify a namespace");
    Containerd__Services__Namespaces__V1__Namespace ns =
        CONTAINERD__SERVICES__NAMESPACES__V1__NAMESPACE__INIT;
    ns.name = argv[0];
    ns.labels = labels_from_args(argc - 1, argv + 1, &ns.n_labels);
    /* one "labels.<key>" path per label, as ctr's SetLabel calls do */
    char **paths = xcalloc(ns.n_labels + 1, sizeof(char *));
    for (size_t i = 0; i < ns.n_labels; i++)
        paths[i] = xasprintf("labels.%s", ns.labels[i]->key);
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    mask.paths = paths;
    mask.n_paths = ns.n_labels;
    Containerd__Services__Namespaces__V1__UpdateNamespaceRequest req =
        CONTAINERD__SERVICES__NAMESPACES__V1__UPDATE_NAMESPACE_REQUEST__INIT;
    req.namespace_ = &ns;
    req.update_mask = &mask;
    ProtobufCMessage *resp =
        cli_unary(cli, NS_SERVICE, "Update", &req.base,
                  &containerd__services__namespaces__v1__update_namespace_response__descriptor);
    protobuf_c_message_free_unpacked(resp, NULL);
    for (size_t i = 0; i < ns.n_labels; i++)
        free(paths[i]);
    free(paths);
    free_entries(ns.labels, ns.n_labels);
    return 0;
}

/* Unlike ctr, a namespace that is not there is an error: scripts can tell. */
static int cmd_remove(struct cli *cli, int argc, char **argv)
{
    argc--, argv++; /* past the subcommand's name */
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-')
            continue;
        Containerd__Services__Namespaces__V1__DeleteNamespaceRequest req =
            CONTAINERD__SERVICES__NAMESPACES__V1__DELETE_NAMESPACE_REQUEST__INIT;
        req.name = argv[i];
        struct rpc_call_options opts = cli_call_options(cli);
        ProtobufCMessage *resp = NULL;
        struct berth_error *err = NULL;
        if (rpc_channel_unary(cli_channel(cli), NS_SERVICE, "Delete", &req.base,
                              &google__protobuf__empty__descriptor, &resp, &opts, &err) < 0) {
            fprintf(stderr, "berth: unable to delete %s: %s\n", argv[i], err->message);
            err_free(err);
            rc = 1;
            continue;
        }
        protobuf_c_message_free_unpacked(resp, NULL);
        printf("%s\n", argv[i]);
    }
    return rc;
}

int cli_namespaces(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command sub[] = {
        {"create", "c", "create a new namespace", cmd_create},
        {"list", "ls", "list namespaces", cmd_list},
        {"label", NULL, "set and clear labels for a namespace", cmd_label},
        {"remove", "rm", "remove one or more namespaces", cmd_remove},
    };
    return cli_dispatch(cli, "namespaces", sub, ARRAY_SIZE(sub), argc, argv);
}
