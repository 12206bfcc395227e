/* berth plugins ls, deprecations list and info: what the daemon says about itself. */
#include "cmd/berth/cli.h"
#include "cmd/berth/output.h"
#include "lib/base/alloc.h"

#include "containerd/services/introspection/v1/introspection.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define INTROSPECTION "containerd.services.introspection.v1.Introspection"

static void platforms_column(struct strbuf *b,
                             const Containerd__Services__Introspection__V1__Plugin *p)
{
    for (size_t i = 0; i < p->n_platforms; i++) {
        const Containerd__Types__Platform *pl = p->platforms[i];
        strbuf_printf(b, "%s%s/%s%s%s", i ? "," : "", pl->os, pl->architecture,
                      pl->variant[0] ? "/" : "", pl->variant);
    }
    if (!b->data)
        strbuf_puts(b, "-");
}

static void print_detailed(const Containerd__Services__Introspection__V1__PluginsResponse *resp)
{
    struct table *t = table_new(4, 4);
    for (size_t i = 0; i < resp->n_plugins; i++) {
        const Containerd__Services__Introspection__V1__Plugin *p = resp->plugins[i];
        if (i)
            table_add(t, "\t\t\t");
        table_add(t, "Type:\t %s", p->type);
        table_add(t, "ID:\t %s", p->id);
        if (p->n_requires) {
            table_add(t, "Requires:\t");
            for (size_t j = 0; j < p->n_requires; j++)
                table_add(t, "\t %s", p->requires[j]);
        }
        if (p->n_platforms) {
            struct strbuf b = {0};
            platforms_column(&b, p);
            table_add(t, "Platforms:\t %s", b.data);
            free(b.data);
        }
        if (p->n_exports) {
            table_add(t, "Exports:\t");
            for (size_t j = 0; j < p->n_exports; j++)
                table_add(t, "\t %s \t %s", p->exports[j]->key, p->exports[j]->value);
        }
        if (p->n_capabilities) {
            struct strbuf b = {0};
            for (size_t j = 0; j < p->n_capabilities; j++)
                strbuf_printf(&b, "%s%s", j ? "," : "", p->capabilities[j]);
            table_add(t, "Capabilities:\t %s", b.data);
            free(b.data);
        }
        if (p->init_err) {
            table_add(t, "Error:\t");
            table_add(t, "\t Code:\t %s", grpc_code_name(p->init_err->code));
            table_add(t, "\t Message:\t %s", p->init_err->message);
        }
    }
    table_print(t);
}

static int cmd_plugins_list(struct cli *cli, int argc, char **argv)
{
    bool quiet = false, detailed = false;
    static const struct option longopts[] = {
        {"quiet", no_argument, NULL, 'q'}, {"detailed", no_argument, NULL, 'd'}, {0}};
    int c;
    while ((c = getopt_long(argc, argv, "qd", longopts, NULL)) != -1) {
        if (c == 'q')
            quiet = true;
        else if (c == 'd')
            detailed = true;
        else
            return 1;
    }
    Containerd__Services__Introspection__V1__PluginsRequest req =
        CONTAINERD__SERVICES__INTROSPECTION__V1__PLUGINS_REQUEST__INIT;
    req.filters = argv + optind;
    req.n_filters = (size_t)(argc - optind);
    Containerd__Services__Introspection__V1__PluginsResponse *resp =
        (Containerd__Services__Introspection__V1__PluginsResponse *)cli_unary(
            cli, INTROSPECTION, "Plugins", &req.base,
            &containerd__services__introspection__v1__plugins_response__descriptor);
    if (quiet) {
        for (size_t i = 0; i < resp->n_plugins; i++)
            printf("%s\n", resp->plugins[i]->id);
    } else if (detailed) {
        print_detailed(resp);
    } else {
        struct table *t = table_new(4, 4);
        table_add(t, "TYPE\tID\tPLATFORMS\tSTATUS\t");
        for (size_t i = 0; i < resp->n_plugins; i++) {
            const Containerd__Services__Introspection__V1__Plugin *p = resp->plugins[i];
            const char *status = "ok";
            if (p->init_err)
                status = strstr(p->init_err->message, "skip plugin") ? "skip" : "error";
            struct strbuf b = {0};
            platforms_column(&b, p);
            table_add(t, "%s\t%s\t%s\t%s\t", p->type, p->id, b.data, status);
            free(b.data);
        }
        table_print(t);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

int cli_plugins(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command sub[] = {
        {"list", "ls", "list plugins", cmd_plugins_list},
    };
    return cli_dispatch(cli, "plugins", sub, ARRAY_SIZE(sub), argc, argv);
}

static Containerd__Services__Introspection__V1__ServerResponse *server_info(struct cli *cli)
{
    Google__Protobuf__Empty empty = GOOGLE__PROTOBUF__EMPTY__INIT;
    return (Containerd__Services__Introspection__V1__ServerResponse *)cli_unary(
        cli, INTROSPECTION, "Server", &empty.base,
        &containerd__services__introspection__v1__server_response__descriptor);
}

/* time.Time's RFC 3339 with nanoseconds, trailing zeros trimmed, in UTC. */
static void format_rfc3339_nano(char *out, size_t n, const Google__Protobuf__Timestamp *ts)
{
    time_t secs = ts ? (time_t)ts->seconds : 0;
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t len = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    int nanos = ts ? ts->nanos : 0;
    if (nanos) {
        char frac[16];
        snprintf(frac, sizeof(frac), ".%09d", nanos);
        for (size_t i = strlen(frac) - 1; frac[i] == '0'; i--)
            frac[i] = '\0';
        snprintf(out + len, n - len, "%sZ", frac);
    } else {
        snprintf(out + len, n - len, "Z");
    }
}

static int cmd_deprecations_list(struct cli *cli, int argc, char **argv)
{
    const char *format = "";
    static const struct option longopts[] = {{"format", required_argument, NULL, 'f'}, {0}};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c != 'f')
            return 1;
        format = optarg;
    }
    Containerd__Services__Introspection__V1__ServerResponse *s = server_info(cli);
    if (s->n_deprecations && strcmp(format, "json") == 0) {
        struct strbuf b = {0};
        strbuf_puts(&b, "[");
        for (size_t i = 0; i < s->n_deprecations; i++) {
            const Containerd__Services__Introspection__V1__DeprecationWarning *w =
                s->deprecations[i];
            char when[64];
            format_rfc3339_nano(when, sizeof(when), w->last_occurrence);
            strbuf_puts(&b, i ? ",\n    {\n        \"id\": " : "\n    {\n        \"id\": ");
            strbuf_json_string(&b, w->id, strlen(w->id));
            strbuf_puts(&b, ",\n        \"message\": ");
            strbuf_json_string(&b, w->message, strlen(w->message));
            strbuf_printf(&b, ",\n        \"lastOccurrence\": \"%s\"\n    }", when);
        }
        strbuf_puts(&b, "\n]\n");
        fputs(b.data, stdout);
        free(b.data);
    } else if (s->n_deprecations) {
        struct table *t = table_new(4, 4);
        table_add(t, "ID\tLAST OCCURRENCE\tMESSAGE\t");
        for (size_t i = 0; i < s->n_deprecations; i++) {
            char when[64];
            format_rfc3339_nano(when, sizeof(when), s->deprecations[i]->last_occurrence);
            table_add(t, "%s\t%s\t%s", s->deprecations[i]->id, when, s->deprecations[i]->message);
        }
        table_print(t);
    }
    protobuf_c_message_free_unpacked(&s->base, NULL);
    return 0;
}

int cli_deprecations(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command sub[] = {
        {"list", NULL, "print warnings for deprecations", cmd_deprecations_list},
    };
    return cli_dispatch(cli, "deprecations", sub, ARRAY_SIZE(sub), argc, argv);
}

int cli_info(struct cli *cli, int argc, char **argv)
{
    Containerd__Services__Introspection__V1__ServerResponse *s = server_info(cli);
    struct strbuf b = {0};
    strbuf_puts(&b, "{\n    \"server\": ");
    struct strbuf inner = {0};
    pb_to_go_json(&inner, &s->base, "    ");
    /* indent the nested object one level, as MarshalIndent does */
    for (const char *p = inner.data; *p; p++) {
        strbuf_add(&b, p, 1);
        if (*p == '\n')
            strbuf_puts(&b, "    ");
    }
    strbuf_puts(&b, "\n}\n");
    fputs(b.data, stdout);
    free(b.data);
    free(inner.data);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    return 0;
}
