/* berth leases create|ls|rm, as ctr's leases commands. */
#include "cmd/berth/cli.h"
#include "cmd/berth/output.h"
#include "lib/base/alloc.h"

#include "containerd/services/leases/v1/leases.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEASES "containerd.services.leases.v1.Leases"

typedef Containerd__Services__Leases__V1__Lease__LabelsEntry LabelEntry;
typedef Containerd__Services__Leases__V1__CreateRequest__LabelsEntry CreateLabelEntry;

/* Go's time.Format(time.RFC3339) in the local zone: "2006-01-02T15:04:05Z07:00". */
static void format_rfc3339_local(time_t t, char out[48])
{
    struct tm tm;
    tzset();
    localtime_r(&t, &tm);
    size_t n = strftime(out, 48, "%Y-%m-%dT%H:%M:%S", &tm);
    long offset = tm.tm_gmtoff;
    if (offset == 0) {
        snprintf(out + n, 48 - n, "Z");
        return;
    }
    long a = labs(offset);
    snprintf(out + n, 48 - n, "%c%02ld:%02ld", offset < 0 ? '-' : '+', a / 3600, a % 3600 / 60);
}

static int compare_entries(const void *a, const void *b)
{
    const LabelEntry *x = *(void *const *)a, *y = *(void *const *)b;
    return strcmp(x->key, y->key);
}

static int cmd_list(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"quiet", no_argument, NULL, 'q'}, {0}};
    bool quiet = false;
    int c;
    while ((c = getopt_long_only(argc, argv, "+q", longopts, NULL)) != -1) {
        if (c != 'q')
            return 1;
        quiet = true;
    }
    Containerd__Services__Leases__V1__ListRequest req =
        CONTAINERD__SERVICES__LEASES__V1__LIST_REQUEST__INIT;
    req.filters = argv + optind;
    req.n_filters = (size_t)(argc - optind);
    Containerd__Services__Leases__V1__ListResponse *resp =
        (Containerd__Services__Leases__V1__ListResponse *)cli_unary(
            cli, LEASES, "List", &req.base,
            &containerd__services__leases__v1__list_response__descriptor);
    if (quiet) {
        for (size_t i = 0; i < resp->n_leases; i++)
            printf("%s\n", resp->leases[i]->id);
    } else {
        struct table *t = table_new(1, 1);
        table_add(t, "ID\tCREATED AT\tLABELS\t");
        for (size_t i = 0; i < resp->n_leases; i++) {
            Containerd__Services__Leases__V1__Lease *l = resp->leases[i];
            if (l->n_labels > 1) /* qsort takes no NULL array, even empty */
                qsort(l->labels, l->n_labels, sizeof(*l->labels), compare_entries);
            struct strbuf labels = {0};
            for (size_t j = 0; j < l->n_labels; j++)
                strbuf_printf(&labels, "%s%s=%s", j ? "," : "", l->labels[j]->key,
                              l->labels[j]->value);
            char created[48];
            /* a lease without a time reads as Go's zero time, as ctr would print it */
            if (l->created_at)
                format_rfc3339_local((time_t)l->created_at->seconds, created);
            else
                snprintf(created, sizeof(created), "0001-01-01T00:00:00Z");
            table_add(t, "%s\t%s\t%s\t", l->id, created, labels.data ? labels.data : "-");
            free(labels.data);
        }
        table_print(t);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

static int cmd_create(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"id", required_argument, NULL, 'i'},
        {"expires", required_argument, NULL, 'x'},
        {0},
    };
    const char *id = "";
    long long expires_ns = 24LL * 3600 * 1000000000; /* ctr's default */
    int c;
    while ((c = getopt_long_only(argc, argv, "+x:", longopts, NULL)) != -1) {
        if (c == 'i') {
            id = optarg;
        } else if (c == 'x') {
            if ((expires_ns = cli_parse_duration(optarg)) < 0)
                cli_fail("invalid value \"%s\" for flag -expires", optarg);
        } else {
            return 1;
        }
    }
    size_t n = (size_t)(argc - optind);
    /* one more for the expiry label */
    CreateLabelEntry *entries = xcalloc(n + 1, sizeof(*entries));
    CreateLabelEntry **labels = xcalloc(n + 1, sizeof(*labels));
    size_t n_labels = 0;
    for (size_t i = 0; i < n; i++) {
        /* ctr: "k=v", or "k" alone for an empty value; a later key wins */
        char *arg = argv[optind + (int)i];
        char *eq = strchr(arg, '=');
        if (eq)
            *eq = '\0';
        CreateLabelEntry *e = NULL;
        for (size_t j = 0; j < n_labels && !e; j++)
            if (strcmp(labels[j]->key, arg) == 0)
                e = labels[j];
        if (!e) {
            e = &entries[n_labels];
            containerd__services__leases__v1__create_request__labels_entry__init(e);
            e->key = arg;
            labels[n_labels++] = e;
        }
        e->value = eq ? eq + 1 : (char *)"";
    }
    char expiry[48];
    if (expires_ns > 0) {
        /* as ctr's WithExpiration: set after the arguments, so it wins over a label of that key */
        format_rfc3339_local(time(NULL) + (time_t)(expires_ns / 1000000000), expiry);
        CreateLabelEntry *e = NULL;
        for (size_t j = 0; j < n_labels && !e; j++)
            if (strcmp(labels[j]->key, "containerd.io/gc.expire") == 0)
                e = labels[j];
        if (!e) {
            e = &entries[n_labels];
            containerd__services__leases__v1__create_request__labels_entry__init(e);
            e->key = (char *)"containerd.io/gc.expire";
            labels[n_labels++] = e;
        }
        e->value = expiry;
    }
    Containerd__Services__Leases__V1__CreateRequest req =
        CONTAINERD__SERVICES__LEASES__V1__CREATE_REQUEST__INIT;
    req.id = (char *)id;
    req.labels = labels;
    req.n_labels = n_labels;
    Containerd__Services__Leases__V1__CreateResponse *resp =
        (Containerd__Services__Leases__V1__CreateResponse *)cli_unary(
            cli, LEASES, "Create", &req.base,
            &containerd__services__leases__v1__create_response__descriptor);
    printf("%s\n", resp->lease ? resp->lease->id : id);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    free(labels);
    free(entries);
    return 0;
}

static int cmd_remove(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{"sync", no_argument, NULL, 's'}, {0}};
    bool sync = false;
    int c;
    while ((c = getopt_long_only(argc, argv, "+", longopts, NULL)) != -1) {
        if (c != 's')
            return 1;
        sync = true;
    }
    if (optind >= argc) {
        printf("USAGE:\n   berth leases delete [command options] [flags] <lease id> ...\n\n"
               "OPTIONS:\n   --sync  Synchronously remove leases and all unreferenced "
               "resources\n");
        return 0;
    }
    for (int i = optind; i < argc; i++) {
        Containerd__Services__Leases__V1__DeleteRequest req =
            CONTAINERD__SERVICES__LEASES__V1__DELETE_REQUEST__INIT;
        req.id = argv[i];
        /* as ctr, only the last delete waits for the collection */
        req.sync = sync && i == argc - 1;
        ProtobufCMessage *resp =
            cli_unary(cli, LEASES, "Delete", &req.base, &google__protobuf__empty__descriptor);
        protobuf_c_message_free_unpacked(resp, NULL);
        printf("%s\n", argv[i]);
        fflush(stdout); /* keeps its place before a later error */
    }
    return 0;
}

int cli_leases(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command sub[] = {
        {"list", "ls", "list all active leases", cmd_list},
        {"create", NULL, "create lease", cmd_create},
        {"delete", "rm", "delete a lease", cmd_remove},
    };
    return cli_dispatch(cli, "leases", sub, ARRAY_SIZE(sub), argc, argv);
}
