/* A pool of worker threads for blocking-style handlers; grows on demand up to a cap. */
#pragma once

#include <stddef.h>

struct worker_pool;

/* min_idle threads are kept; up to max threads run at once; idle extras exit after a while. */
struct worker_pool *worker_pool_new(size_t min_idle, size_t max);
/* Queues fn(arg); a thread picks it up as soon as one is free (or a new one is started). */
void worker_pool_submit(struct worker_pool *pool, void (*fn)(void *arg), void *arg);
/* Waits for queued and running jobs to finish, then stops the threads. */
void worker_pool_free(struct worker_pool *pool);
size_t worker_pool_threads(struct worker_pool *pool);
