/* Worker threads: jobs in FIFO order; a job may block for as long as its RPC lives. */
#include "lib/loop/worker_pool.h"
#include "lib/base/alloc.h"
#include "lib/base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

struct pool_job {
    void (*fn)(void *arg);
    void *arg;
    struct pool_job *next;
};

struct worker_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_ready;
    pthread_cond_t all_exited;
    struct pool_job *head, *tail;
    size_t threads, idle, queued, min_idle, max;
    bool stopping;
};

enum { IDLE_EXIT_SECONDS = 30 };

static void *worker_main(void *arg)
{
    struct worker_pool *pool = arg;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->head && !pool->stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += IDLE_EXIT_SECONDS;
            pool->idle++;
            int rc = pthread_cond_timedwait(&pool->work_ready, &pool->mu, &until);
            pool->idle--;
            if (rc == ETIMEDOUT && !pool->head && pool->threads > pool->min_idle)
                goto out;
        }
        if (!pool->head)
            break; /* stopping and drained */
        struct pool_job *job = pool->head;
        pool->head = job->next;
        pool->queued--;
        if (!pool->head)
            pool->tail = NULL;
        pthread_mutex_unlock(&pool->mu);
        job->fn(job->arg);
        free(job);
        pthread_mutex_lock(&pool->mu);
    }
out:
    pool->threads--;
    if (pool->threads == 0)
        pthread_cond_broadcast(&pool->all_exited);
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

/* Called with pool->mu held. */
static void start_worker(struct worker_pool *pool)
{
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /*
     * 1 MiB of address space per thread; only touched pages cost memory, so hundreds of idle
     * streams stay cheap while deep handlers (tree copies, sanitizer builds) have room.
     */
    pthread_attr_setstacksize(&attr, 1024 * 1024);
    if (pthread_create(&t, &attr, worker_main, pool) == 0)
        pool->threads++;
    else
        log_error("worker pool: cannot start a thread (%zu running)", pool->threads);
    pthread_attr_destroy(&attr);
}

struct worker_pool *worker_pool_new(size_t min_idle, size_t max)
{
    struct worker_pool *pool = xcalloc(1, sizeof(*pool));
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->work_ready, NULL);
    pthread_cond_init(&pool->all_exited, NULL);
    pool->min_idle = min_idle;
    pool->max = max ? max : 1;
    return pool;
}

void worker_pool_submit(struct worker_pool *pool, void (*fn)(void *arg), void *arg)
{
    struct pool_job *job = xmalloc(sizeof(*job));
    job->fn = fn;
    job->arg = arg;
    job->next = NULL;
    pthread_mutex_lock(&pool->mu);
    if (pool->tail)
        pool->tail->next = job;
    else
        pool->head = job;
    pool->tail = job;
    /* Every queued job needs a thread of its own: a job may block until its stream ends. */
    if (++pool->queued > pool->idle && pool->threads < pool->max)
        start_worker(pool);
    pthread_cond_signal(&pool->work_ready);
    pthread_mutex_unlock(&pool->mu);
}

size_t worker_pool_threads(struct worker_pool *pool)
{
    pthread_mutex_lock(&pool->mu);
    size_t n = pool->threads;
    pthread_mutex_unlock(&pool->mu);
    return n;
}

void worker_pool_free(struct worker_pool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    pool->stopping = true;
    pthread_cond_broadcast(&pool->work_ready);
    while (pool->threads > 0)
        pthread_cond_wait(&pool->all_exited, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
    pthread_cond_destroy(&pool->work_ready);
    pthread_cond_destroy(&pool->all_exited);
    pthread_mutex_destroy(&pool->mu);
    free(pool);
}
