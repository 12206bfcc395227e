/* Running runc (or crun): command lines from the runc options, async runs, errors from log.json. */
#include "cmd/shim/shim.h"
#include "cmd/shim/util.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/base/log.h"
#include "lib/json/json_writer.h"
#include "proto/containerd/types/runc/options/oci.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MAX_ARGS = 48, MAX_OUTPUT = 4 << 20 };

void runc_options_defaults(struct runc_options *o, const char *bundle, const char *ns)
{
    memset(o, 0, sizeof(*o));
    o->binary = xstrdup("runc");
    /* The reference uses /run/containerd/runc/<ns>; Berth keeps it under the bundle's state. */
    _cleanup_free_ char *state = bundle ? shim_state_dir_from_bundle(bundle) : NULL;
    o->root = xasprintf("%s/runc/%s", state ? state : "/run/berth", ns);
}

void runc_options_clear(struct runc_options *o)
{
    free(o->binary);
    free(o->root);
    free(o->criu_path);
    free(o->criu_image_path);
    free(o->criu_work_path);
    memset(o, 0, sizeof(*o));
}

int runc_options_from_any(struct runc_options *o, const ProtobufCBinaryData *value,
                          const char *type_url, struct berth_error **err)
{
    const char *slash = strrchr(type_url, '/');
    const char *name = slash ? slash + 1 : type_url;
    if (strcmp(name, "containerd.runc.v1.Options") != 0)
        return 0; /* other runtimes' options (runtimeoptions.v1) carry nothing for runc */
    Containerd__Runc__V1__Options *opt =
        containerd__runc__v1__options__unpack(NULL, value->len, value->data);
    if (!opt)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "invalid containerd.runc.v1.Options");
    if (opt->binary_name && *opt->binary_name) {
        free(o->binary);
        o->binary = xstrdup(opt->binary_name);
    }
    if (opt->root && *opt->root) {
        /* as the reference's NewRunc: one runc root per namespace below the given one */
        free(o->root);
        o->root = xasprintf("%s/%s", opt->root, shim_global->namespace);
    }
    o->systemd_cgroup = opt->systemd_cgroup;
    o->no_pivot_root = opt->no_pivot_root;
    o->no_new_keyring = opt->no_new_keyring;
    o->io_uid = opt->io_uid;
    o->io_gid = opt->io_gid;
    if (opt->criu_image_path && *opt->criu_image_path)
        o->criu_image_path = xstrdup(opt->criu_image_path);
    if (opt->criu_work_path && *opt->criu_work_path)
        o->criu_work_path = xstrdup(opt->criu_work_path);
    containerd__runc__v1__options__free_unpacked(opt, NULL);
    return 0;
}

/* options.json and runtime in the bundle, so `delete` of a dead shim finds the same runc. */
int runc_options_save(const struct runc_options *o, const char *bundle, struct berth_error **err)
{
    _cleanup_json_writer_ struct json_writer w;
    json_writer_init(&w);
    json_writer_begin_object(&w);
    json_writer_key(&w, "binary_name");
    json_writer_string(&w, o->binary);
    json_writer_key(&w, "root");
    json_writer_string(&w, o->root);
    json_writer_key(&w, "systemd_cgroup");
    json_writer_bool(&w, o->systemd_cgroup);
    json_writer_end_object(&w);
    _cleanup_free_ char *path = xasprintf("%s/options.json", bundle);
    if (fs_write_file_atomic(path, w.data, w.len, 0600, err) < 0)
        return -1;
    _cleanup_free_ char *rt = xasprintf("%s/runtime", bundle);
    return fs_write_file_atomic(rt, o->binary, strlen(o->binary), 0600, err);
}

int runc_options_load(struct runc_options *o, const char *bundle, const char *ns,
                      struct berth_error **err)
{
    runc_options_defaults(o, bundle, ns);
    _cleanup_free_ char *path = xasprintf("%s/options.json", bundle);
    _cleanup_free_ char *data = NULL;
    if (fs_read_small_file(path, 1 << 16, &data, NULL) < 0)
        return 0; /* no options: the defaults */
    struct json_object *root = json_tokener_parse(data);
    if (!root)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "parse %s", path);
    struct json_object *v;
    if (json_object_object_get_ex(root, "binary_name", &v) && json_object_get_string_len(v)) {
        free(o->binary);
        o->binary = xstrdup(json_object_get_string(v));
    }
    if (json_object_object_get_ex(root, "root", &v) && json_object_get_string_len(v)) {
        free(o->root);
        o->root = xstrdup(json_object_get_string(v));
    }
    if (json_object_object_get_ex(root, "systemd_cgroup", &v))
        o->systemd_cgroup = json_object_get_boolean(v);
    json_object_put(root);
    return 0;
}

char *runc_pid_file(const struct container *c, const struct process *p)
{
    return p->is_init ? xasprintf("%s/init.pid", c->bundle)
                      : xasprintf("%s/%s.pid", c->bundle, p->id);
}

int runc_read_pid(const char *path, pid_t *ret, struct berth_error **err)
{
    _cleanup_free_ char *data = NULL;
    if (fs_read_small_file(path, 64, &data, err) < 0)
        return -1;
    char *end;
    long v = strtol(data, &end, 10);
    if (end == data || v <= 0 || v > 1 << 22)
        return err_make(err, ERR_INTERNAL, 0, "invalid pid in %s", path);
    *ret = (pid_t)v;
    return 0;
}

/* ---- running ---- */

struct runc_job {
    runc_done_fn done;
    void *arg;
    int out_fd; /* memfd with stdout, or -1 */
    int err_fd; /* memfd with stderr */
    char *log_path;
    off_t log_offset; /* log.json size before the run: only newer errors are ours */
    char *what;
};

static int build_argv(const struct runc_options *o, const char *bundle, const char *const *args,
                      const char **argv, char **log_path)
{
    int n = 0;
    argv[n++] = o->binary;
    argv[n++] = "--root";
    argv[n++] = o->root;
    *log_path = xasprintf("%s/log.json", bundle);
    argv[n++] = "--log";
    argv[n++] = *log_path;
    argv[n++] = "--log-format";
    argv[n++] = "json";
    if (o->systemd_cgroup)
        argv[n++] = "--systemd-cgroup";
    for (int i = 0; args[i] && n < MAX_ARGS - 1; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return n;
}

static char *read_all(int fd, size_t *ret_len)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0) {
        *ret_len = 0;
        return xstrdup("");
    }
    size_t len = (size_t)st.st_size > MAX_OUTPUT ? MAX_OUTPUT : (size_t)st.st_size;
    char *buf = xmalloc(len + 1);
    ssize_t n = pread(fd, buf, len, 0);
    len = n > 0 ? (size_t)n : 0;
    buf[len] = '\0';
    *ret_len = len;
    return buf;
}

/* The last "error" message runc logged after `offset`, as the reference's runtime error. */
static char *last_log_error(const char *path, off_t offset)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size <= offset)
        return NULL;
    size_t len = (size_t)(st.st_size - offset);
    if (len > 1 << 20) {
        offset = st.st_size - (1 << 20);
        len = 1 << 20;
    }
    _cleanup_free_ char *buf = xmalloc(len + 1);
    ssize_t n = pread(fd, buf, len, offset);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    char *result = NULL;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        struct json_object *o = json_tokener_parse(line);
        struct json_object *lvl, *msg;
        if (o && json_object_object_get_ex(o, "level", &lvl) &&
            strcmp(json_object_get_string(lvl), "error") == 0 &&
            json_object_object_get_ex(o, "msg", &msg)) {
            free(result);
            result = xstrdup(json_object_get_string(msg));
        }
        json_object_put(o);
    }
    return result;
}

static void job_error(struct runc_job *job, int status, struct berth_error **err)
{
    _cleanup_free_ char *msg = last_log_error(job->log_path, job->log_offset);
    if (!msg) {
        size_t len;
        msg = read_all(job->err_fd, &len);
        while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
            msg[--len] = '\0';
    }
    enum err_kind kind = ERR_UNKNOWN;
    /* runc's words for a container that is not there or no longer running */
    if (strstr(msg, "container does not exist") || strstr(msg, "not running") ||
        strstr(msg, "process already finished"))
        kind = ERR_NOT_FOUND;
    if (*msg)
        err_make(err, kind, 0, "%s: %s", job->what, msg);
    else
        err_make(err, kind, 0, "%s: exit status %d", job->what, child_exit_code(status));
}

static void job_free(struct runc_job *job)
{
    if (job->out_fd >= 0)
        close(job->out_fd);
    if (job->err_fd >= 0)
        close(job->err_fd);
    free(job->log_path);
    free(job->what);
    free(job);
}

static void job_exited(void *arg, pid_t pid, int status)
{
    struct runc_job *job = arg;
    struct berth_error *err = NULL;
    size_t len = 0;
    _cleanup_free_ char *out = NULL;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        job_error(job, status, &err);
    else
        out = read_all(job->out_fd, &len);
    job->done(job->arg, out, len, err);
    err_free(err);
    job_free(job);
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : 0;
}

int runc_run(struct container *c, const char *const *args, int stdio[3], const char *what,
             runc_done_fn done, void *arg, struct berth_error **err)
{
    struct runc_job *job = xcalloc(1, sizeof(*job));
    job->done = done;
    job->arg = arg;
    job->what = xstrdup(what);
    job->out_fd = stdio ? -1 : memfd_create("runc-out", MFD_CLOEXEC);
    job->err_fd = memfd_create("runc-err", MFD_CLOEXEC);
    const char *argv[MAX_ARGS];
    build_argv(&c->opts, c->bundle, args, argv, &job->log_path);
    job->log_offset = file_size(job->log_path);
    struct child_spec spec = {
        .argv = argv,
        .cwd = c->bundle,
        .fds = {stdio ? stdio[0] : -1, stdio ? stdio[1] : job->out_fd,
                stdio ? stdio[2] : job->err_fd},
    };
    pid_t pid = child_spawn(&spec, err);
    if (stdio)
        for (int i = 0; i < 3; i++)
            if (stdio[i] >= 0) {
                close(stdio[i]);
                stdio[i] = -1;
            }
    if (pid < 0) {
        job_free(job);
        return -1;
    }
    child_watch(pid, job_exited, job);
    return 0;
}

int runc_run_sync(const struct runc_options *o, const char *bundle, const char *const *args,
                  char **ret_out, struct berth_error **err)
{
    struct runc_job job = {.out_fd = memfd_create("runc-out", MFD_CLOEXEC),
                           .err_fd = memfd_create("runc-err", MFD_CLOEXEC),
                           .what = (char *)args[0]};
    const char *argv[MAX_ARGS];
    build_argv(o, bundle, args, argv, &job.log_path);
    job.log_offset = file_size(job.log_path);
    struct child_spec spec = {.argv = argv, .cwd = bundle, .fds = {-1, job.out_fd, job.err_fd}};
    pid_t pid = child_spawn(&spec, err);
    int r = -1, st = 0;
    if (pid > 0) {
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            size_t len;
            char *out = read_all(job.out_fd, &len);
            if (ret_out)
                *ret_out = out;
            else
                free(out);
            r = 0;
        } else {
            job_error(&job, st, err);
        }
    }
    close(job.out_fd);
    close(job.err_fd);
    free(job.log_path);
    return r;
}
