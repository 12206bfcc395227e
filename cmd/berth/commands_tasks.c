/* berth tasks: ctr's tasks commands (start, ls, ps, kill, delete, exec, pause, resume, attach). */
#include "cmd/berth/output.h"
#include "cmd/berth/task_io.h"
#include "cmd/berth/tasks.h"
#include "cmd/berth/unpack.h"
#include "core/oci/opts.h"
#include "lib/base/alloc.h"

#include "containerd/services/containers/v1/containers.pb-c.h"
#include "containerd/services/tasks/v1/tasks.pb-c.h"
#include "containerd/types/runc/options/oci.pb-c.h"
#include "google/protobuf/empty.pb-c.h"

#include <getopt.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TASKS            "containerd.services.tasks.v1.Tasks"
#define CONTAINERS       "containerd.services.containers.v1.Containers"
#define T(x)             containerd__services__tasks__v1__##x
#define TINIT(x)         CONTAINERD__SERVICES__TASKS__V1__##x##__INIT
#define PROCESS_TYPE_URL "types.containerd.io/opencontainers/runtime-spec/1/Process"
#define STOP_SIGNAL      "io.containerd.image.config.stop-signal"

static const char *const status_names[] = {"UNKNOWN", "CREATED", "RUNNING",
                                           "STOPPED", "PAUSED",  "PAUSING"};

static const char *status_name(int s)
{
    return s >= 0 && s < (int)ARRAY_SIZE(status_names) ? status_names[s] : "UNKNOWN";
}

static ProtobufCMessage *call(struct cli *cli, const char *method, const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *desc)
{
    return cli_unary(cli, TASKS, method, req, desc);
}

static const char *first_arg(int argc, char **argv)
{
    return optind < argc ? argv[optind] : "";
}

static const char *require_id(int argc, char **argv)
{
    const char *id = first_arg(argc, argv);
    if (!*id)
        cli_fail("container id must be provided");
    return id;
}

/* The container must exist (client.LoadContainer), and its task (container.Task). */
static Containerd__Services__Containers__V1__GetContainerResponse *load_container(struct cli *cli,
                                                                                  const char *id)
{
    Containerd__Services__Containers__V1__GetContainerRequest req =
        CONTAINERD__SERVICES__CONTAINERS__V1__GET_CONTAINER_REQUEST__INIT;
    req.id = (char *)id;
    return (Containerd__Services__Containers__V1__GetContainerResponse *)cli_unary(
        cli, CONTAINERS, "Get", &req.base,
        &containerd__services__containers__v1__get_container_response__descriptor);
}

static Containerd__Services__Tasks__V1__GetResponse *get_process(struct cli *cli, const char *id,
                                                                 const char *exec_id)
{
    Containerd__Services__Tasks__V1__GetRequest req = TINIT(GET_REQUEST);
    req.container_id = (char *)id;
    req.exec_id = (char *)(exec_id ? exec_id : "");
    return (Containerd__Services__Tasks__V1__GetResponse *)call(cli, "Get", &req.base,
                                                                &T(get_response__descriptor));
}

static void simple(struct cli *cli, const char *method, const ProtobufCMessage *req)
{
    protobuf_c_message_free_unpacked(call(cli, method, req, &google__protobuf__empty__descriptor),
                                     NULL);
}

int tasks_parse_signal(const char *text)
{
    static const struct {
        const char *name;
        int sig;
    } sigs[] = {
        {"ABRT", SIGABRT},     {"ALRM", SIGALRM},     {"BUS", SIGBUS},   {"CHLD", SIGCHLD},
        {"CONT", SIGCONT},     {"FPE", SIGFPE},       {"HUP", SIGHUP},   {"ILL", SIGILL},
        {"INT", SIGINT},       {"IO", SIGIO},         {"IOT", SIGIOT},   {"KILL", SIGKILL},
        {"PIPE", SIGPIPE},     {"PROF", SIGPROF},     {"PWR", SIGPWR},   {"QUIT", SIGQUIT},
        {"SEGV", SIGSEGV},     {"STKFLT", SIGSTKFLT}, {"STOP", SIGSTOP}, {"SYS", SIGSYS},
        {"TERM", SIGTERM},     {"TRAP", SIGTRAP},     {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
        {"TTOU", SIGTTOU},     {"URG", SIGURG},       {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
        {"VTALRM", SIGVTALRM}, {"WINCH", SIGWINCH},   {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
    };
    char *end;
    long n = strtol(text, &end, 10);
    if (*text && !*end)
        return n > 0 && n < 65 ? (int)n : -1;
    const char *name = strncmp(text, "SIG", 3) == 0 ? text + 3 : text;
    for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
        if (strcmp(sigs[i].name, name) == 0)
            return sigs[i].sig;
    return -1;
}

/* ---- start ---- */

static int cmd_start(struct cli *cli, int argc, char **argv)
{
    enum { NULL_IO = 1000, LOG_URI, FIFO_DIR, PID_FILE, NO_PIVOT };
    static const struct option longopts[] = {
        {"null-io", no_argument, NULL, NULL_IO},
        {"log-uri", required_argument, NULL, LOG_URI},
        {"fifo-dir", required_argument, NULL, FIFO_DIR},
        {"pid-file", required_argument, NULL, PID_FILE},
        {"detach", no_argument, NULL, 'd'},
        {"no-pivot", no_argument, NULL, NO_PIVOT},
        {0},
    };
    struct task_start_options o = {0};
    int c;
    while ((c = getopt_long_only(argc, argv, "+d", longopts, NULL)) != -1) {
        switch (c) {
        case NULL_IO:
            o.null_io = true;
            break;
        case LOG_URI:
            o.log_uri = optarg;
            break;
        case FIFO_DIR:
            o.fifo_dir = optarg;
            break;
        case PID_FILE:
            o.pid_file = optarg;
            break;
        case 'd':
            o.detach = true;
            break;
        case NO_PIVOT:
            o.no_pivot = true;
            break;
        default:
            return 1;
        }
    }
    const char *id = require_id(argc, argv);
    if (!o.detach)
        task_signals_block();
    struct berth_error *err = NULL;
    int code = tasks_run(cli, id, &o, &err);
    if (code < 0)
        cli_fail("%s", err->message);
    return code;
}

/* ---- ls, ps ---- */

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
    Containerd__Services__Tasks__V1__ListTasksRequest req = TINIT(LIST_TASKS_REQUEST);
    Containerd__Services__Tasks__V1__ListTasksResponse *resp =
        (Containerd__Services__Tasks__V1__ListTasksResponse *)call(
            cli, "List", &req.base, &T(list_tasks_response__descriptor));
    if (quiet) {
        for (size_t i = 0; i < resp->n_tasks; i++)
            printf("%s\n", resp->tasks[i]->id);
    } else {
        struct table *t = table_new(4, 4);
        table_add(t, "TASK\tPID\tSTATUS\t");
        for (size_t i = 0; i < resp->n_tasks; i++)
            table_add(t, "%s\t%u\t%s", resp->tasks[i]->id, resp->tasks[i]->pid,
                      status_name(resp->tasks[i]->status));
        table_print(t);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

static int cmd_ps(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{0}};
    if (getopt_long_only(argc, argv, "+", longopts, NULL) != -1)
        return 1;
    const char *id = require_id(argc, argv);
    protobuf_c_message_free_unpacked(&load_container(cli, id)->base, NULL);
    Containerd__Services__Tasks__V1__ListPidsRequest req = TINIT(LIST_PIDS_REQUEST);
    req.container_id = (char *)id;
    Containerd__Services__Tasks__V1__ListPidsResponse *resp =
        (Containerd__Services__Tasks__V1__ListPidsResponse *)call(
            cli, "ListPids", &req.base, &T(list_pids_response__descriptor));
    struct table *t = table_new(1, 4);
    table_add(t, "PID\tINFO");
    for (size_t i = 0; i < resp->n_processes; i++) {
        const Google__Protobuf__Any *info = resp->processes[i]->info;
        /* runc's ProcessDetails as Go's %+v prints the struct: &ProcessDetails{ExecID:...} */
        if (info && strcmp(info->type_url, "containerd.runc.v1.ProcessDetails") == 0) {
            Containerd__Runc__V1__ProcessDetails *d = containerd__runc__v1__process_details__unpack(
                NULL, info->value.len, info->value.data);
            table_add(t, "%u\t&ProcessDetails{ExecID:%s,}", resp->processes[i]->pid,
                      d ? d->exec_id : "");
            if (d)
                containerd__runc__v1__process_details__free_unpacked(d, NULL);
        } else if (info) {
            table_add(t, "%u\t%s", resp->processes[i]->pid, info->type_url);
        } else {
            table_add(t, "%u\t-", resp->processes[i]->pid);
        }
    }
    table_print(t);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

/* ---- kill, pause, resume ---- */

static int cmd_kill(struct cli *cli, int argc, char **argv)
{
    enum { EXEC_ID = 1000 };
    static const struct option longopts[] = {{"signal", required_argument, NULL, 's'},
                                             {"exec-id", required_argument, NULL, EXEC_ID},
                                             {"all", no_argument, NULL, 'a'},
                                             {0}};
    const char *signal_text = NULL, *exec_id = "";
    bool all = false;
    int c;
    while ((c = getopt_long_only(argc, argv, "+s:a", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            signal_text = optarg;
            break;
        case EXEC_ID:
            exec_id = optarg;
            break;
        case 'a':
            all = true;
            break;
        default:
            return 1;
        }
    }
    const char *id = require_id(argc, argv);
    if (all && *exec_id)
        cli_fail("specify an exec-id or all; not both");
    Containerd__Services__Containers__V1__GetContainerResponse *got = load_container(cli, id);
    int sig = SIGTERM;
    const char *text = signal_text;
    /* containerd.GetStopSignal: the container's stop-signal label, else SIGTERM */
    for (size_t i = 0; !text && got->container && i < got->container->n_labels; i++)
        if (strcmp(got->container->labels[i]->key, STOP_SIGNAL) == 0)
            text = got->container->labels[i]->value;
    if (text && (sig = tasks_parse_signal(text)) < 0)
        cli_fail("invalid signal \"%s\"", text);
    protobuf_c_message_free_unpacked(&got->base, NULL);
    Containerd__Services__Tasks__V1__KillRequest req = TINIT(KILL_REQUEST);
    req.container_id = (char *)id;
    req.exec_id = (char *)exec_id;
    req.signal = (uint32_t)sig;
    req.all = all;
    simple(cli, "Kill", &req.base);
    return 0;
}

static int cmd_pause(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{0}};
    if (getopt_long_only(argc, argv, "+", longopts, NULL) != -1)
        return 1;
    Containerd__Services__Tasks__V1__PauseTaskRequest req = TINIT(PAUSE_TASK_REQUEST);
    req.container_id = (char *)require_id(argc, argv);
    simple(cli, "Pause", &req.base);
    return 0;
}

static int cmd_resume(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{0}};
    if (getopt_long_only(argc, argv, "+", longopts, NULL) != -1)
        return 1;
    Containerd__Services__Tasks__V1__ResumeTaskRequest req = TINIT(RESUME_TASK_REQUEST);
    req.container_id = (char *)require_id(argc, argv);
    simple(cli, "Resume", &req.base);
    return 0;
}

/* ---- delete ---- */

static int wait_exit(struct cli *cli, const char *id, const char *exec_id, uint32_t *status,
                     struct berth_error **err)
{
    Containerd__Services__Tasks__V1__WaitRequest req = TINIT(WAIT_REQUEST);
    req.container_id = (char *)id;
    req.exec_id = (char *)exec_id;
    struct rpc_call_options opts = {.metadata = &cli->metadata};
    ProtobufCMessage *resp = NULL;
    if (rpc_channel_unary(cli_channel(cli), TASKS, "Wait", &req.base, &T(wait_response__descriptor),
                          &resp, &opts, err) < 0)
        return -1;
    if (status)
        *status = ((Containerd__Services__Tasks__V1__WaitResponse *)resp)->exit_status;
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static const char *status_lower(int s)
{
    static const char *const names[] = {"unknown", "created", "running",
                                        "stopped", "paused",  "pausing"};
    return s >= 0 && s < (int)ARRAY_SIZE(names) ? names[s] : "unknown";
}

/*
 * ctr's task.Delete and process.Delete: a task must be stopped (or created without a pid), an
 * exec must not be running, paused or pausing; unless forced (SIGKILL, wait), they are refused.
 */
int tasks_delete(struct cli *cli, const char *id, const char *exec_id, bool force,
                 uint32_t *ret_status, struct berth_error **err)
{
    struct rpc_call_options opts = cli_call_options(cli);
    Containerd__Services__Tasks__V1__GetRequest get = TINIT(GET_REQUEST);
    get.container_id = (char *)id;
    get.exec_id = (char *)exec_id;
    Containerd__Services__Tasks__V1__GetResponse *got = NULL;
    if (rpc_channel_unary(cli_channel(cli), TASKS, "Get", &get.base, &T(get_response__descriptor),
                          (ProtobufCMessage **)&got, &opts, err) < 0)
        return -1;
    int status = got->process ? (int)got->process->status : 0;
    uint32_t pid = got->process ? got->process->pid : 0;
    const char *paths[3] = {got->process ? got->process->stdin : NULL,
                            got->process ? got->process->stdout : NULL,
                            got->process ? got->process->stderr : NULL};
    char *saved[3];
    for (int i = 0; i < 3; i++)
        saved[i] = paths[i] ? xstrdup(paths[i]) : NULL;
    protobuf_c_message_free_unpacked(&got->base, NULL);
    bool live;
    if (*exec_id)
        live = status == CONTAINERD__V1__TYPES__STATUS__RUNNING ||
               status == CONTAINERD__V1__TYPES__STATUS__PAUSED ||
               status == CONTAINERD__V1__TYPES__STATUS__PAUSING;
    else
        live = status != CONTAINERD__V1__TYPES__STATUS__STOPPED &&
               status != CONTAINERD__V1__TYPES__STATUS__UNKNOWN &&
               !(status == CONTAINERD__V1__TYPES__STATUS__CREATED && pid == 0);
    int rc = 0;
    if (live) {
        if (!force) {
            rc = err_make(err, ERR_FAILED_PRECONDITION, 0, "%s must be stopped before deletion: %s",
                          *exec_id ? "process" : "task", status_lower(status));
        } else {
            Containerd__Services__Tasks__V1__KillRequest k = TINIT(KILL_REQUEST);
            k.container_id = (char *)id;
            k.exec_id = (char *)exec_id;
            k.signal = SIGKILL;
            k.all = !*exec_id;
            ProtobufCMessage *r = NULL;
            if (rpc_channel_unary(cli_channel(cli), TASKS, "Kill", &k.base,
                                  &google__protobuf__empty__descriptor, &r, &opts, err) < 0 ||
                (protobuf_c_message_free_unpacked(r, NULL),
                 wait_exit(cli, id, exec_id, NULL, err) < 0))
                rc = -1;
        }
    }
    if (rc == 0) {
        ProtobufCMessage *resp = NULL;
        if (*exec_id) {
            Containerd__Services__Tasks__V1__DeleteProcessRequest req =
                TINIT(DELETE_PROCESS_REQUEST);
            req.container_id = (char *)id;
            req.exec_id = (char *)exec_id;
            rc = rpc_channel_unary(cli_channel(cli), TASKS, "DeleteProcess", &req.base,
                                   &T(delete_response__descriptor), &resp, &opts, err);
        } else {
            Containerd__Services__Tasks__V1__DeleteTaskRequest req = TINIT(DELETE_TASK_REQUEST);
            req.container_id = (char *)id;
            rc = rpc_channel_unary(cli_channel(cli), TASKS, "Delete", &req.base,
                                   &T(delete_response__descriptor), &resp, &opts, err);
        }
        if (rc == 0) {
            *ret_status = ((Containerd__Services__Tasks__V1__DeleteResponse *)resp)->exit_status;
            protobuf_c_message_free_unpacked(resp, NULL);
            /* cio.Load's Close: the FIFOs of a detached start go with the task */
            task_io_remove_paths(*exec_id ? exec_id : id, (const char *const *)saved);
        }
    }
    for (int i = 0; i < 3; i++)
        free(saved[i]);
    return rc;
}

static int cmd_delete(struct cli *cli, int argc, char **argv)
{
    enum { EXEC_ID = 1000 };
    static const struct option longopts[] = {
        {"force", no_argument, NULL, 'f'}, {"exec-id", required_argument, NULL, EXEC_ID}, {0}};
    bool force = false;
    const char *exec_id = "";
    int c;
    while ((c = getopt_long_only(argc, argv, "+f", longopts, NULL)) != -1) {
        if (c == 'f')
            force = true;
        else if (c == EXEC_ID)
            exec_id = optarg;
        else
            return 1;
    }
    struct berth_error *err = NULL;
    uint32_t status = 0;
    if (*exec_id) {
        const char *id = first_arg(argc, argv);
        protobuf_c_message_free_unpacked(&load_container(cli, id)->base, NULL);
        if (tasks_delete(cli, id, exec_id, force, &status, &err) < 0)
            cli_fail("%s", err->message);
        return (int)status;
    }
    char *first_error = NULL;
    for (int i = optind; i < argc; i++) {
        if (tasks_delete(cli, argv[i], "", force, &status, &err) < 0) {
            fprintf(stderr, "berth: unable to delete %s: %s\n", argv[i], err->message);
            if (!first_error)
                first_error = xstrdup(err->message);
            err_free(err);
            err = NULL;
            continue;
        }
        if (status != 0)
            fprintf(stderr, "berth: task %s exit with non-zero exit code %u\n", argv[i], status);
    }
    if (first_error)
        cli_fail("%s", first_error);
    return 0;
}

/* ---- exec ---- */

/* The container's process spec with exec's changes (json-c: the shim reads it, not Go). */
static char *exec_process_json(struct cli *cli, const char *id, bool tty, char **args,
                               size_t n_args, const char *cwd, const char *user)
{
    Containerd__Services__Containers__V1__GetContainerResponse *got = load_container(cli, id);
    const Containerd__Services__Containers__V1__Container *c = got->container;
    if (!c || !c->spec)
        cli_fail("container \"%s\" has no spec", id);
    struct json_tokener *tok = json_tokener_new_ex(64);
    struct json_object *doc =
        json_tokener_parse_ex(tok, (const char *)c->spec->value.data, (int)c->spec->value.len);
    json_tokener_free(tok);
    struct json_object *process = NULL;
    if (!doc || !json_object_object_get_ex(doc, "process", &process) ||
        !json_object_is_type(process, json_type_object))
        cli_fail("container \"%s\": the spec has no process", id);
    if (user && *user) {
        /* oci.WithUser on the container's rootfs */
        struct berth_error *err = NULL;
        int fd = -1;
        if (c->snapshot_key[0] &&
            (fd = tasks_open_rootfs(cli, c->snapshotter, c->snapshot_key, &err)) < 0)
            cli_fail("%s", err->message);
        struct oci_spec *s = oci_spec_new_default(cli->namespace_name, id);
        if (oci_with_user(s, user, fd, &err) < 0)
            cli_fail("%s", err->message);
        if (fd >= 0)
            close(fd);
        struct json_object *u = json_object_new_object();
        json_object_object_add(u, "uid", json_object_new_int64(s->process.uid));
        json_object_object_add(u, "gid", json_object_new_int64(s->process.gid));
        struct json_object *gids = json_object_new_array();
        for (size_t i = 0; i < s->process.n_additional_gids; i++)
            json_object_array_add(gids, json_object_new_int64(s->process.additional_gids[i]));
        json_object_object_add(u, "additionalGids", gids);
        json_object_object_add(process, "user", u);
        oci_spec_free(s);
    }
    json_object_object_add(process, "terminal", json_object_new_boolean(tty));
    struct json_object *a = json_object_new_array();
    for (size_t i = 0; i < n_args; i++)
        json_object_array_add(a, json_object_new_string(args[i]));
    json_object_object_add(process, "args", a);
    if (cwd && *cwd)
        json_object_object_add(process, "cwd", json_object_new_string(cwd));
    char *out = xstrdup(json_object_to_json_string_ext(
        process, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(doc);
    protobuf_c_message_free_unpacked(&got->base, NULL);
    return out;
}

struct exec_waiter {
    struct cli *cli;
    const char *id, *exec_id;
    uint32_t status;
    int rc;
    struct berth_error *err;
};

static void *exec_wait_thread(void *arg)
{
    struct exec_waiter *w = arg;
    w->rc = wait_exit(w->cli, w->id, w->exec_id, &w->status, &w->err);
    return NULL;
}

static int cmd_exec(struct cli *cli, int argc, char **argv)
{
    enum { EXEC_ID = 1000, CWD, FIFO_DIR, LOG_URI };
    static const struct option longopts[] = {
        {"cwd", required_argument, NULL, CWD},
        {"tty", no_argument, NULL, 't'},
        {"detach", no_argument, NULL, 'd'},
        {"exec-id", required_argument, NULL, EXEC_ID},
        {"fifo-dir", required_argument, NULL, FIFO_DIR},
        {"log-uri", required_argument, NULL, LOG_URI},
        {"user", required_argument, NULL, 'u'},
        {0},
    };
    const char *exec_id = NULL, *cwd = NULL, *fifo_dir = NULL, *log_uri = NULL, *user = NULL;
    bool tty = false, detach = false;
    int c;
    while ((c = getopt_long_only(argc, argv, "+tdu:", longopts, NULL)) != -1) {
        switch (c) {
        case CWD:
            cwd = optarg;
            break;
        case 't':
            tty = true;
            break;
        case 'd':
            detach = true;
            break;
        case EXEC_ID:
            exec_id = optarg;
            break;
        case FIFO_DIR:
            fifo_dir = optarg;
            break;
        case LOG_URI:
            log_uri = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        default:
            return 1;
        }
    }
    if (!exec_id)
        cli_fail("Required flag \"exec-id\" not set");
    const char *id = require_id(argc, argv);
    if (tty && log_uri)
        cli_fail("can't use log-uri with tty");
    if (log_uri && fifo_dir)
        cli_fail("can't use log-uri with fifo-dir");
    if (!detach)
        task_signals_block();
    _cleanup_free_ char *process =
        exec_process_json(cli, id, tty, argv + optind + 1, (size_t)(argc - optind - 1), cwd, user);
    struct berth_error *err = NULL;
    struct task_io *io = NULL;
    if (tty && task_io_terminal_raw(&err) < 0)
        cli_fail("%s", err->message);
    if (log_uri)
        io = task_io_new_log_uri(log_uri);
    else if (task_io_new_fifos(fifo_dir, exec_id, tty, &io, &err) < 0)
        cli_fail("%s", err->message);
    task_io_start(io, cli, id, exec_id);

    Google__Protobuf__Any spec = GOOGLE__PROTOBUF__ANY__INIT;
    spec.type_url = (char *)PROCESS_TYPE_URL;
    spec.value.data = (uint8_t *)process;
    spec.value.len = strlen(process);
    Containerd__Services__Tasks__V1__ExecProcessRequest req = TINIT(EXEC_PROCESS_REQUEST);
    req.container_id = (char *)id;
    req.exec_id = (char *)exec_id;
    req.stdin = (char *)task_io_stdin(io);
    req.stdout = (char *)task_io_stdout(io);
    req.stderr = (char *)task_io_stderr(io);
    req.terminal = tty;
    req.spec = &spec;
    struct rpc_call_options opts = cli_call_options(cli);
    ProtobufCMessage *resp = NULL;
    if (rpc_channel_unary(cli_channel(cli), TASKS, "Exec", &req.base,
                          &google__protobuf__empty__descriptor, &resp, &opts, &err) < 0) {
        task_io_cancel(io);
        task_io_free(io, true);
        cli_fail("%s", err->message);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    task_io_process_created(io);
    struct exec_waiter w = {.cli = cli, .id = id, .exec_id = exec_id};
    pthread_t waiter;
    bool waiting = !detach && pthread_create(&waiter, NULL, exec_wait_thread, &w) == 0;
    Containerd__Services__Tasks__V1__StartRequest start = TINIT(START_REQUEST);
    start.container_id = (char *)id;
    start.exec_id = (char *)exec_id;
    if (rpc_channel_unary(cli_channel(cli), TASKS, "Start", &start.base,
                          &T(start_response__descriptor), &resp, &opts, &err) < 0) {
        uint32_t ignored_status;
        struct berth_error *ignored = NULL;
        if (tasks_delete(cli, id, exec_id, true, &ignored_status, &ignored) < 0)
            err_free(ignored);
        task_io_cancel(io);
        cli_fail("%s", err->message);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    if (detach) {
        task_io_detach(io);
        return 0;
    }
    task_signals_start(cli, id, exec_id, tty);
    if (waiting)
        pthread_join(waiter, NULL);
    task_io_wait(io);
    uint32_t deleted;
    struct berth_error *ignored = NULL;
    if (tasks_delete(cli, id, exec_id, false, &deleted, &ignored) < 0)
        err_free(ignored);
    task_io_free(io, true);
    if (waiting && w.rc < 0)
        cli_fail("%s", w.err->message);
    return (int)w.status;
}

/* ---- attach ---- */

static int cmd_attach(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {{0}};
    if (getopt_long_only(argc, argv, "+", longopts, NULL) != -1)
        return 1;
    const char *id = require_id(argc, argv);
    task_signals_block();
    protobuf_c_message_free_unpacked(&load_container(cli, id)->base, NULL);
    Containerd__Services__Tasks__V1__GetResponse *got = get_process(cli, id, NULL);
    if (!got->process)
        cli_fail("no running task found: task %s not found", id);
    bool tty = got->process->terminal;
    struct task_io *io =
        task_io_attach(got->process->stdin, got->process->stdout, got->process->stderr, tty);
    protobuf_c_message_free_unpacked(&got->base, NULL);
    struct berth_error *err = NULL;
    if (tty && task_io_terminal_raw(&err) < 0)
        cli_fail("%s", err->message);
    struct exec_waiter w = {.cli = cli, .id = id, .exec_id = ""};
    pthread_t waiter;
    bool waiting = pthread_create(&waiter, NULL, exec_wait_thread, &w) == 0;
    task_io_start(io, cli, id, NULL);
    task_io_process_created(io);
    task_signals_start(cli, id, NULL, tty);
    if (waiting)
        pthread_join(waiter, NULL);
    task_io_wait(io);
    task_io_free(io, false);
    if (waiting && w.rc < 0)
        cli_fail("%s", w.err->message);
    return (int)w.status;
}

int cli_tasks(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command sub[] = {
        {"attach", NULL, "Attach to the IO of a running container", cmd_attach},
        {"delete", "rm", "Delete one or more tasks", cmd_delete},
        {"del", "remove", "Delete one or more tasks", cmd_delete},
        {"exec", NULL, "Execute additional processes in an existing container", cmd_exec},
        {"list", "ls", "List tasks", cmd_list},
        {"kill", NULL, "Signal a container (default: SIGTERM)", cmd_kill},
        {"metrics", "metric", "Get a single data point of metrics for a task", tasks_metrics},
        {"pause", NULL, "Pause an existing container", cmd_pause},
        {"ps", NULL, "List processes for container", cmd_ps},
        {"resume", NULL, "Resume a paused container", cmd_resume},
        {"start", NULL, "Start a container that has been created", cmd_start},
    };
    return cli_dispatch(cli, "tasks", sub, ARRAY_SIZE(sub), argc, argv);
}
