/* Finding shim binaries and running their start and delete actions. */
#include "core/runtime/shim_binary.h"
#include "lib/base/alloc.h"
#include "lib/base/fs.h"
#include "lib/base/log.h"
#include "lib/json/json_writer.h"

#include "containerd/runtime/task/v3/shim.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum {
    /* What a shim may print; more is not a bootstrap answer. */
    SHIM_OUTPUT_MAX = 64 << 10,
    /* A shim that neither answers nor exits this long is killed (containerd bounds it by ctx). */
    SHIM_ACTION_TIMEOUT_MS = 60 * 1000,
};

static bool is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* containerd's BinaryName: the last two dot-separated parts, "containerd-shim-<a>-<b>". */
static char *binary_name(const char *runtime)
{
    const char *last = strrchr(runtime, '.');
    if (!last || last == runtime || last[1] == '\0' || runtime[0] == '.')
        return NULL;
    const char *prev = last;
    while (prev > runtime && prev[-1] != '.')
        prev--;
    if (prev == last)
        return NULL;
    return xasprintf("containerd-shim-%.*s-%s", (int)(last - prev), prev, last + 1);
}

int shim_binary_resolve(const struct shim_launch *l, const char *runtime, char **ret_path,
                        struct berth_error **err)
{
    *ret_path = NULL;
    if (!runtime || !*runtime)
        return err_make(err, ERR_INVALID_ARGUMENT, 0, "no runtime name");
    if (runtime[0] == '/') {
        if (access(runtime, F_OK) < 0)
            return err_make(err, err_kind_from_errno(errno), errno, "invalid custom binary path %s",
                            runtime);
        *ret_path = xstrdup(runtime);
        return 0;
    }
    _cleanup_free_ char *name = strchr(runtime, '/') ? NULL : binary_name(runtime);
    if (!name)
        return err_make(err, ERR_INVALID_ARGUMENT, 0,
                        "invalid runtime name %s, correct runtime name should be either format "
                        "like `io.containerd.runc.v2` or a full path to the binary",
                        runtime);
    for (size_t i = 0; i < l->n_shim_dirs; i++) {
        char *p = xasprintf("%s/%s", l->shim_dirs[i], name);
        if (is_executable_file(p)) {
            *ret_path = p;
            return 0;
        }
        free(p);
    }
    const char *path_env = getenv("PATH");
    _cleanup_free_ char *path = xstrdup(path_env ? path_env : "/usr/local/bin:/usr/bin:/bin");
    char *save = NULL;
    for (char *dir = strtok_r(path, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char *p = xasprintf("%s/%s", *dir ? dir : ".", name);
        if (is_executable_file(p)) {
            char real[PATH_MAX];
            *ret_path = realpath(p, real) ? (free(p), xstrdup(real)) : p;
            return 0;
        }
        free(p);
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            char *p = xasprintf("%.*s/%s", (int)(slash - self), self, name);
            if (is_executable_file(p)) {
                *ret_path = p;
                return 0;
            }
            free(p);
        }
    }
    return err_make(err, ERR_NOT_FOUND, 0, "runtime \"%s\" binary not installed \"%s\"", runtime,
                    name);
}

void shim_bootstrap_clear(struct shim_bootstrap *b)
{
    free(b->address);
    free(b->protocol);
    *b = (struct shim_bootstrap){0};
}

int shim_bootstrap_parse(const char *text, size_t len, struct shim_bootstrap *ret,
                         struct berth_error **err)
{
    *ret = (struct shim_bootstrap){0};
    while (len && (text[len - 1] == '\n' || text[len - 1] == ' ' || text[len - 1] == '\r' ||
                   text[len - 1] == '\t'))
        len--;
    while (len && (*text == '\n' || *text == ' ' || *text == '\r' || *text == '\t'))
        text++, len--;
    struct json_tokener *tok = json_tokener_new_ex(8);
    struct json_object *obj = tok ? json_tokener_parse_ex(tok, text, (int)len) : NULL;
    bool parsed = obj && json_tokener_get_error(tok) == json_tokener_success &&
                  json_object_is_type(obj, json_type_object);
    if (tok)
        json_tokener_free(tok);
    struct json_object *v;
    if (parsed && json_object_object_get_ex(obj, "version", &v))
        ret->version = json_object_get_int(v);
    if (!parsed || ret->version < 2) {
        /* a legacy shim: the whole output is a ttrpc address */
        json_object_put(obj);
        ret->version = 2;
        ret->address = xstrndup(text, len);
        ret->protocol = xstrdup("ttrpc");
        return 0;
    }
    const char *address =
        json_object_object_get_ex(obj, "address", &v) ? json_object_get_string(v) : "";
    const char *protocol =
        json_object_object_get_ex(obj, "protocol", &v) ? json_object_get_string(v) : "";
    ret->address = xstrdup(address ? address : "");
    ret->protocol = xstrdup(protocol ? protocol : "");
    json_object_put(obj);
    if (ret->version > 3) {
        int version = ret->version;
        shim_bootstrap_clear(ret);
        return err_make(err, ERR_NOT_IMPLEMENTED, 0, "unsupported shim version (%d)", version);
    }
    return 0;
}

int shim_bootstrap_write(const char *bundle, const struct shim_bootstrap *b,
                         struct berth_error **err)
{
    _cleanup_json_writer_ struct json_writer w;
    json_writer_init(&w);
    json_writer_begin_object(&w);
    json_writer_key(&w, "version");
    json_writer_int(&w, b->version);
    json_writer_key(&w, "address");
    json_writer_string(&w, b->address);
    json_writer_key(&w, "protocol");
    json_writer_string(&w, b->protocol);
    json_writer_end_object(&w);
    _cleanup_free_ char *path = xasprintf("%s/bootstrap.json", bundle);
    return fs_write_file_atomic(path, w.data, w.len, 0666, err);
}

int shim_bootstrap_read(const char *bundle, struct shim_bootstrap *ret, struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("%s/bootstrap.json", bundle);
    _cleanup_free_ char *data = NULL;
    if (fs_read_small_file(path, 64 << 10, &data, NULL) == 0)
        return shim_bootstrap_parse(data, strlen(data), ret, err);
    /* a 1.x bundle: only `address`; migrate it as containerd does */
    _cleanup_free_ char *legacy = xasprintf("%s/address", bundle);
    if (fs_read_small_file(legacy, 64 << 10, &data, err) < 0)
        return err_wrap(err, "unable to migrate shim: no socket address for bundle %s", bundle);
    if (shim_bootstrap_parse(data, strlen(data), ret, err) < 0)
        return -1;
    ret->version = 2;
    return shim_bootstrap_write(bundle, ret, err);
}

/* The daemon's environment with `extra` entries set (replacing same-named ones). */
static char **build_env(const char *const *extra, size_t n_extra)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = xcalloc(n + n_extra + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t key_len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool replaced = false;
        for (size_t j = 0; j < n_extra && !replaced; j++)
            replaced = strncmp(extra[j], environ[i], key_len) == 0 && extra[j][key_len] == '=';
        if (!replaced)
            env[k++] = xstrdup(environ[i]);
    }
    for (size_t j = 0; j < n_extra; j++)
        env[k++] = xstrdup(extra[j]);
    return env;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

struct capture {
    char *out; /* stdout (and stderr when combined) */
    size_t out_len;
    char *err_text; /* stderr when separate */
    size_t err_len;
    int status;
};

static void capture_clear(struct capture *c)
{
    free(c->out);
    free(c->err_text);
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
    if (*len + n > SHIM_OUTPUT_MAX)
        n = SHIM_OUTPUT_MAX - *len;
    *buf = xrealloc(*buf, *len + n + 1);
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Runs argv in cwd with env, `input` on stdin, and collects stdout (with stderr when combined)
 * until both close and the process exits. The child leads its own process group, as
 * containerd's Setpgid, so signals meant for the daemon do not reach a starting shim.
 */
static int run_capture(char *const argv[], char *const env[], const char *cwd, const void *input,
                       size_t input_len, bool combined, struct capture *c, struct berth_error **err)
{
    *c = (struct capture){0};
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
        (!combined && pipe2(errp, O_CLOEXEC) < 0)) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0)
                close(in[i]);
            if (out[i] >= 0)
                close(out[i]);
            if (errp[i] >= 0)
                close(errp[i]);
        }
        return err_make(err, err_kind_from_errno(e), e, "pipe");
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        if (!combined)
            close(errp[0]), close(errp[1]);
        return err_make(err, err_kind_from_errno(e), e, "fork %s", argv[0]);
    }
    if (pid == 0) {
        setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        if ((cwd && chdir(cwd) < 0) || dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 ||
            dup2(combined ? out[1] : errp[1], 2) < 0)
            _exit(127);
        execve(argv[0], argv, env);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    if (!combined)
        close(errp[1]);
    /* options are small; a shim that does not read them just sees the pipe close */
    size_t off = 0;
    while (off < input_len) {
        ssize_t w = write(in[1], (const char *)input + off, input_len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(in[1]);
    struct pollfd fds[2] = {{.fd = out[0], .events = POLLIN},
                            {.fd = combined ? -1 : errp[0], .events = POLLIN}};
    long long deadline = now_ms() + SHIM_ACTION_TIMEOUT_MS;
    bool timed_out = false;
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        int r = poll(fds, 2, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !fds[i].revents)
                continue;
            char buf[4096];
            ssize_t n = read(fds[i].fd, buf, sizeof(buf));
            if (n > 0) {
                if (i == 0)
                    append(&c->out, &c->out_len, buf, (size_t)n);
                else
                    append(&c->err_text, &c->err_len, buf, (size_t)n);
            } else if (n == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    if (timed_out)
        kill(-pid, SIGKILL);
    while (waitpid(pid, &c->status, 0) < 0 && errno == EINTR)
        ;
    if (timed_out) {
        capture_clear(c);
        return err_make(err, ERR_DEADLINE_EXCEEDED, 0, "%s did not finish", argv[0]);
    }
    return 0;
}

static char **shim_argv(const struct shim_launch *l, const char *shim_path, const char *ns,
                        const char *id, const char *bundle, const char *action)
{
    char **argv = xcalloc(16, sizeof(char *));
    size_t n = 0;
    argv[n++] = xstrdup(shim_path);
    argv[n++] = xstrdup("-namespace");
    argv[n++] = xstrdup(ns);
    argv[n++] = xstrdup("-address");
    argv[n++] = xstrdup(l->grpc_address);
    argv[n++] = xstrdup("-publish-binary");
    argv[n++] = xstrdup(l->publish_binary);
    argv[n++] = xstrdup("-id");
    argv[n++] = xstrdup(id);
    if (bundle) {
        argv[n++] = xstrdup("-bundle");
        argv[n++] = xstrdup(bundle);
    }
    if (l->debug)
        argv[n++] = xstrdup("-debug");
    argv[n++] = xstrdup(action);
    return argv;
}

static const char *exit_text(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "signal: %s", strsignal(WTERMSIG(status)));
    else
        snprintf(buf, size, "status %d", status);
    return buf;
}

int shim_binary_start(const struct shim_launch *l, const char *shim_path, const char *ns,
                      const char *id, const char *bundle, const void *options, size_t options_len,
                      struct shim_bootstrap *ret, struct berth_error **err)
{
    *ret = (struct shim_bootstrap){0};
    char **argv = shim_argv(l, shim_path, ns, id, NULL, "start");
    _cleanup_free_ char *ttrpc = xasprintf("TTRPC_ADDRESS=%s", l->ttrpc_address);
    _cleanup_free_ char *grpc = xasprintf("GRPC_ADDRESS=%s", l->grpc_address);
    _cleanup_free_ char *nsvar = xasprintf("NAMESPACE=%s", ns);
    const char **extra = xcalloc(l->n_env + 5, sizeof(char *));
    size_t n = 0;
    /* what containerd sets: Go shims read GOMAXPROCS; MAX_SHIM_VERSION is always 2 there */
    extra[n++] = "GOMAXPROCS=2";
    extra[n++] = "MAX_SHIM_VERSION=2";
    extra[n++] = ttrpc;
    extra[n++] = grpc;
    extra[n++] = nsvar;
    for (size_t i = 0; i < l->n_env; i++)
        extra[n++] = l->env[i];
    char **env = build_env(extra, n);
    free(extra);
    struct capture c;
    int rc = run_capture(argv, env, bundle, options, options_len, true, &c, err);
    free_strv(env);
    free_strv(argv);
    if (rc < 0)
        return -1;
    if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0) {
        char why[64];
        err_make(err, ERR_UNKNOWN, 0, "%s: %s", c.out ? c.out : "",
                 exit_text(c.status, why, sizeof(why)));
        capture_clear(&c);
        return err_wrap(err, "start failed");
    }
    rc = shim_bootstrap_parse(c.out ? c.out : "", c.out_len, ret, err);
    capture_clear(&c);
    if (rc == 0 && strcmp(ret->protocol, "ttrpc") != 0) {
        err_make(err, ERR_NOT_IMPLEMENTED, 0, "shim protocol %s: only ttrpc shims are supported",
                 ret->protocol);
        shim_bootstrap_clear(ret);
        return -1;
    }
    return rc;
}

int shim_binary_delete(const struct shim_launch *l, const char *shim_path, const char *ns,
                       const char *id, const char *bundle, struct shim_exit *ret,
                       struct berth_error **err)
{
    *ret = (struct shim_exit){0};
    char **argv = shim_argv(l, shim_path, ns, id, bundle, "delete");
    _cleanup_free_ char *ttrpc = xasprintf("TTRPC_ADDRESS=%s", l->ttrpc_address);
    _cleanup_free_ char *grpc = xasprintf("GRPC_ADDRESS=%s", l->grpc_address);
    _cleanup_free_ char *nsvar = xasprintf("NAMESPACE=%s", ns);
    const char *extra[] = {ttrpc, grpc, nsvar};
    char **env = build_env(extra, 3);
    struct capture c;
    int rc = run_capture(argv, env, bundle, NULL, 0, false, &c, err);
    free_strv(env);
    free_strv(argv);
    if (rc < 0)
        return -1;
    if (c.err_len)
        log_record(LOG_WARN, LOG_FIELDS("id", id, "namespace", ns), "cleanup warnings %s",
                   c.err_text);
    if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0) {
        char why[64];
        err_make(err, ERR_UNKNOWN, 0, "%s: %s", c.err_text ? c.err_text : "",
                 exit_text(c.status, why, sizeof(why)));
        capture_clear(&c);
        return -1;
    }
    Containerd__Task__V3__DeleteResponse *resp = containerd__task__v3__delete_response__unpack(
        NULL, c.out_len, (const uint8_t *)(c.out ? c.out : ""));
    capture_clear(&c);
    if (!resp)
        return err_make(err, ERR_DATA_LOSS, 0, "shim delete printed no DeleteResponse");
    ret->pid = resp->pid;
    ret->exit_status = resp->exit_status;
    if (resp->exited_at)
        ret->exited_at = resp->exited_at->seconds * 1000000000LL + resp->exited_at->nanos;
    containerd__task__v3__delete_response__free_unpacked(resp, NULL);
    return 0;
}
