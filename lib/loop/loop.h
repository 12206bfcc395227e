/* The I/O loop: one libuv loop on one thread owns every socket; other threads post work to it. */
#pragma once

#include <stdbool.h>
#include <uv.h>

struct loop;

struct loop *loop_new(void);
/* Runs the loop on a new thread. */
int loop_start_thread(struct loop *loop);
/* Runs the loop on the calling thread until loop_stop(). */
void loop_run(struct loop *loop);
/* Asks the loop to return (thread-safe); loop_free joins a started thread. */
void loop_stop(struct loop *loop);
/* Waits for a started loop thread to end (after someone calls loop_stop). */
void loop_join(struct loop *loop);
void loop_free(struct loop *loop);

uv_loop_t *loop_uv(struct loop *loop);
bool loop_on_thread(const struct loop *loop);

/* Runs fn(arg) on the loop thread, in posting order. Thread-safe; callable from the loop too. */
void loop_post(struct loop *loop, void (*fn)(void *arg), void *arg);
/* Runs fn(arg) on the loop thread and waits for it to return (runs inline when on the loop). */
void loop_call_sync(struct loop *loop, void (*fn)(void *arg), void *arg);

/* Monotonic time in nanoseconds. */
long long monotonic_ns(void);
