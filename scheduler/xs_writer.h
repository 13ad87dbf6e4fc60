/* Writer threads: where a worker's file work runs, off the thread that
 * drives the device (scheduler/worker.c). A task is a caller-owned struct
 * that starts with an xs_writer_task; submit queues it, a writer thread runs
 * it, take hands it back finished, in the order tasks finish. The worker
 * runs EXR compression and writes with their fsyncs, checksums, the
 * verification of an earlier run's tiles and frame assembly here, so the GPU
 * has its next tiles queued while older ones are written.
 *
 * With 0 threads a task runs inside submit (the synchronous path, for tests
 * that compare both). submit and take are called from one thread (the
 * device's); tasks must not touch what that thread changes meanwhile.
 */
#ifndef XS_WRITER_H
#define XS_WRITER_H

#include <stdbool.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_writer_task {
    void (*run)(struct xs_writer_task *task); /* runs on a writer thread */
    struct xs_writer_task *next;              /* the writer's */
} xs_writer_task;

typedef struct xs_writer xs_writer;

/* Starts `threads` writer threads (0: tasks run inside submit). */
xs_result xs_writer_create(int threads, xs_writer **out, xs_err *err);
/* Queues task (owned by the caller until take returns it). */
void xs_writer_submit(xs_writer *w, xs_writer_task *task);
/* A finished task, or NULL when none has finished yet (wait: blocks until
 * one finishes; NULL at once when none is queued or running). */
xs_writer_task *xs_writer_take(xs_writer *w, bool wait);
/* Tasks submitted and not yet taken. */
int xs_writer_pending(const xs_writer *w);
/* When tasks are running and none has finished untaken: waits until one
 * finishes or max_ns pass, and returns true. Else returns false at once
 * (nothing to wait for: the caller sleeps as it would). */
bool xs_writer_wait(xs_writer *w, long max_ns);
int xs_writer_threads(const xs_writer *w);
/* Waits for every queued task, joins the threads, frees (accepts NULL).
 * Finished tasks not taken are dropped (the caller owns them). */
void xs_writer_destroy(xs_writer *w);

#ifdef __cplusplus
}
#endif
#endif
