/* Children of the shim: fork/exec with an explicit fd map, and reaping every exit on SIGCHLD. */
#include "cmd/shim/shim.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct watch {
    pid_t pid;
    child_exit_fn fn;
    void *arg;
    struct watch *next;
};

/* Exits of pids nobody knew yet (an exec that ends before its pid file is read). */
enum { UNCLAIMED_MAX = 128 };
struct unclaimed {
    pid_t pid;
    int status;
};

static struct watch *watches;
static struct unclaimed unclaimed[UNCLAIMED_MAX];
static size_t n_unclaimed;
static uv_signal_t sigchld;

int child_exit_code(int st)
{
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return 255;
}

/* Moves fd to at least `min` so the dup2 sequence cannot clobber it. */
static int lift(int fd, int min)
{
    if (fd < 0 || fd >= min)
        return fd;
    return fcntl(fd, F_DUPFD, min);
}

pid_t child_spawn(const struct child_spec *spec, struct berth_error **err)
{
    int n_env = 0;
    while (spec->env && spec->env[n_env])
        n_env++;
    pid_t pid = fork();
    if (pid < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "fork %s", spec->argv[0]);
    if (pid > 0)
        return pid;

    /* child: only async-signal-safe calls from here on */
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    if (spec->setsid)
        setsid();
    int top = 3 + spec->n_extra;
    int fds[3 + 16];
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int i = 0; i < 3; i++)
        fds[i] = lift(spec->fds[i] >= 0 ? spec->fds[i] : null_fd, top);
    for (int i = 0; i < spec->n_extra && i < 16; i++)
        fds[3 + i] = lift(spec->extra[i], top);
    for (int i = 0; i < top && i < 3 + 16; i++) {
        if (fds[i] < 0 || dup2(fds[i], i) < 0)
            _exit(127);
        /* dup2 onto the same number keeps CLOEXEC: clear it */
        fcntl(i, F_SETFD, 0);
    }
    if (spec->cwd && chdir(spec->cwd) < 0)
        _exit(127);
    if (spec->env_only) {
        static const char *const none[] = {NULL};
        execvpe(spec->argv[0], (char *const *)spec->argv,
                (char *const *)(spec->env ? spec->env : none));
        _exit(127);
    }
    for (int i = 0; i < n_env; i++)
        putenv((char *)spec->env[i]);
    execvp(spec->argv[0], (char *const *)spec->argv);
    _exit(127);
}

void child_watch(pid_t pid, child_exit_fn fn, void *arg)
{
    struct watch *w = xcalloc(1, sizeof(*w));
    w->pid = pid;
    w->fn = fn;
    w->arg = arg;
    w->next = watches;
    watches = w;
}

bool child_claim_exit(pid_t pid, int *ret_status)
{
    for (size_t i = 0; i < n_unclaimed; i++) {
        if (unclaimed[i].pid == pid) {
            *ret_status = unclaimed[i].status;
            memmove(&unclaimed[i], &unclaimed[i + 1], (n_unclaimed - i - 1) * sizeof(*unclaimed));
            n_unclaimed--;
            return true;
        }
    }
    return false;
}

void child_note_unclaimed(pid_t pid, int status)
{
    if (n_unclaimed == UNCLAIMED_MAX) { /* keep the newest */
        memmove(&unclaimed[0], &unclaimed[1], (UNCLAIMED_MAX - 1) * sizeof(*unclaimed));
        n_unclaimed--;
    }
    unclaimed[n_unclaimed++] = (struct unclaimed){pid, status};
}

static void on_sigchld(uv_signal_t *handle, int signum)
{
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0)
            break;
        if (!WIFEXITED(st) && !WIFSIGNALED(st))
            continue;
        struct watch **pp = &watches;
        while (*pp && (*pp)->pid != pid)
            pp = &(*pp)->next;
        if (*pp) {
            struct watch *w = *pp;
            *pp = w->next;
            w->fn(w->arg, pid, st);
            free(w);
        } else {
            task_on_exit(pid, st);
        }
    }
}

int child_reaper_start(struct loop *loop, struct berth_error **err)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        return err_make(err, err_kind_from_errno(errno), errno, "set child subreaper");
    uv_signal_init(loop_uv(loop), &sigchld);
    uv_signal_start(&sigchld, on_sigchld, SIGCHLD);
    /* children that ended before the handler was in place */
    on_sigchld(&sigchld, SIGCHLD);
    return 0;
}
