/* A libuv loop with a thread-safe post queue (uv_async) so workers can hand it jobs. */
#include "lib/loop/loop.h"
#include "lib/base/alloc.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

struct loop_job {
    void (*fn)(void *arg);
    void *arg;
    struct loop_job *next;
};

struct loop {
    uv_loop_t uv;
    uv_async_t wakeup;
    pthread_mutex_t mu;
    struct loop_job *head, *tail;
    pthread_t thread;
    bool thread_started;
    _Atomic bool stopping;
    pthread_t owner; /* thread currently running the loop */
    _Atomic bool running;
};

static void drain_jobs(struct loop *loop)
{
    pthread_mutex_lock(&loop->mu);
    struct loop_job *job = loop->head;
    loop->head = loop->tail = NULL;
    pthread_mutex_unlock(&loop->mu);
    while (job) {
        struct loop_job *next = job->next;
        job->fn(job->arg);
        free(job);
        job = next;
    }
}

static void run_posted(uv_async_t *handle)
{
    struct loop *loop = handle->data;
    drain_jobs(loop);
    if (loop->stopping)
        uv_stop(&loop->uv);
}

struct loop *loop_new(void)
{
    /* A peer that goes away must cost us an EPIPE on that socket, not the process. */
    signal(SIGPIPE, SIG_IGN);
    struct loop *loop = xcalloc(1, sizeof(*loop));
    if (uv_loop_init(&loop->uv) < 0) {
        free(loop);
        return NULL;
    }
    pthread_mutex_init(&loop->mu, NULL);
    uv_async_init(&loop->uv, &loop->wakeup, run_posted);
    loop->wakeup.data = loop;
    return loop;
}

uv_loop_t *loop_uv(struct loop *loop)
{
    return &loop->uv;
}

bool loop_on_thread(const struct loop *loop)
{
    return loop->running && pthread_equal(loop->owner, pthread_self());
}

void loop_run(struct loop *loop)
{
    loop->owner = pthread_self();
    loop->running = true;
    while (!loop->stopping)
        if (uv_run(&loop->uv, UV_RUN_DEFAULT) == 0 && !loop->stopping)
            break;
    /* Jobs posted during shutdown still run, so nobody waits forever on loop_call_sync. */
    drain_jobs(loop);
    loop->running = false;
}

static void *loop_thread_main(void *arg)
{
    loop_run(arg);
    return NULL;
}

int loop_start_thread(struct loop *loop)
{
    if (pthread_create(&loop->thread, NULL, loop_thread_main, loop) != 0)
        return -1;
    loop->thread_started = true;
    return 0;
}

void loop_post(struct loop *loop, void (*fn)(void *arg), void *arg)
{
    struct loop_job *job = xmalloc(sizeof(*job));
    job->fn = fn;
    job->arg = arg;
    job->next = NULL;
    pthread_mutex_lock(&loop->mu);
    if (loop->tail)
        loop->tail->next = job;
    else
        loop->head = job;
    loop->tail = job;
    pthread_mutex_unlock(&loop->mu);
    uv_async_send(&loop->wakeup);
}

struct sync_call {
    void (*fn)(void *arg);
    void *arg;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done;
};

static void run_sync_call(void *arg)
{
    struct sync_call *sc = arg;
    sc->fn(sc->arg);
    pthread_mutex_lock(&sc->mu);
    sc->done = true;
    pthread_cond_signal(&sc->cond);
    pthread_mutex_unlock(&sc->mu);
}

void loop_call_sync(struct loop *loop, void (*fn)(void *arg), void *arg)
{
    if (loop_on_thread(loop)) {
        fn(arg);
        return;
    }
    struct sync_call sc = {.fn = fn, .arg = arg, .done = false};
    pthread_mutex_init(&sc.mu, NULL);
    pthread_cond_init(&sc.cond, NULL);
    loop_post(loop, run_sync_call, &sc);
    pthread_mutex_lock(&sc.mu);
    while (!sc.done)
        pthread_cond_wait(&sc.cond, &sc.mu);
    pthread_mutex_unlock(&sc.mu);
    pthread_cond_destroy(&sc.cond);
    pthread_mutex_destroy(&sc.mu);
}

void loop_stop(struct loop *loop)
{
    loop->stopping = true;
    uv_async_send(&loop->wakeup);
}

static void close_any(uv_handle_t *handle, void *arg)
{
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

void loop_join(struct loop *loop)
{
    if (loop->thread_started) {
        pthread_join(loop->thread, NULL);
        loop->thread_started = false;
    }
}

void loop_free(struct loop *loop)
{
    if (!loop)
        return;
    if (loop->thread_started) {
        loop_stop(loop);
        pthread_join(loop->thread, NULL);
    }
    uv_walk(&loop->uv, close_any, NULL);
    uv_run(&loop->uv, UV_RUN_DEFAULT);
    uv_loop_close(&loop->uv);
    pthread_mutex_destroy(&loop->mu);
    free(loop);
}

long long monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
