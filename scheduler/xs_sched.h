/* scheduler: the rank-0 policy as a pure state machine.
 *
 * No MPI, no clocks, no I/O: events go in (a worker asks for work, a worker
 * finished or failed an item), actions come out (assign an item to a worker,
 * tell a worker there is no more work). The MPI layer (scheduler/master.c)
 * and the single-process driver (scheduler/farm.c) feed it; unit tests and
 * simulators feed it too.
 *
 * Protocol the policy assumes: each worker sends `prefetch` requests when it
 * starts and exactly one more with every reply (done or failed), and expects
 * one answer (assign or end) to every request. The job is finished once the
 * work is complete (or has failed) and every request has been answered, so no
 * worker is ever left waiting and rank 0 never waits on a message that will
 * not come.
 *
 * Work: for each frame, its tiles in row-major order; when a frame's last
 * tile is done, an ASSEMBLE item for that frame goes ahead of every tile. A
 * worker gets the tiles of the frame it last rendered before others (taken
 * back, retried, or next in order): a worker posing an animated scene for a
 * frame does not switch frames back and forth.
 * Not thread-safe: one thread drives one xs_sched.
 */
#ifndef XS_SCHED_H
#define XS_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xs_work_kind { XS_WORK_TILE = 1, XS_WORK_ASSEMBLE = 2 } xs_work_kind;

enum {
    XS_ITEM_VERIFY = 1 /* a previous run committed this tile: check its file, render if bad */
};

typedef struct xs_work_item {
    int32_t kind;  /* xs_work_kind */
    int32_t frame; /* frame number */
    int32_t tile;  /* row-major tile index in the frame; -1 for ASSEMBLE */
    int32_t flags; /* XS_ITEM_*; not part of an item's identity */
} xs_work_item;

enum { XS_SCHED_MAX_FRAME_NUMBER = 10000 }; /* frame numbers are in [0, 10000) */

typedef struct xs_sched_desc {
    const int *frames; /* frame numbers, in render order, distinct (copied) */
    int frame_count;
    int tiles_per_frame;
    int worker_count; /* workers are numbered 0 .. worker_count-1 */
    int prefetch;     /* requests each worker sends at start */
    bool assemble;    /* queue an ASSEMBLE item when a frame's tiles are done */
    /* Resume (both optional, borrowed for the scheduler's life): frames a
     * previous run finished (skip[frame index] != 0: no item at all), and
     * tiles it committed (journaled[frame index * tiles_per_frame + tile] != 0:
     * the tile's item carries XS_ITEM_VERIFY). */
    const uint8_t *skip;
    const uint8_t *journaled;
    /* A failed item is retried up to this many times, on another worker when
     * there is one; then the job fails. */
    int max_retries;
} xs_sched_desc;

typedef enum xs_sched_action_kind { XS_ACT_ASSIGN = 1, XS_ACT_END = 2 } xs_sched_action_kind;

typedef struct xs_sched_action {
    int kind; /* xs_sched_action_kind */
    int worker;
    xs_work_item item; /* for ASSIGN */
} xs_sched_action;

typedef enum xs_sched_state {
    XS_SCHED_RUNNING = 0,
    XS_SCHED_COMPLETED = 1, /* every item done; every request answered */
    XS_SCHED_FAILED = 2,    /* an item failed past its retries (or abort); every request answered */
    XS_SCHED_DRAINED = 3    /* drain: no new work was handed out; in-flight items came back */
} xs_sched_state;

typedef struct xs_sched xs_sched;

xs_result xs_sched_create(const xs_sched_desc *desc, xs_sched **out, xs_err *err);
/* Hands the scheduler ownership of malloc'd skip/journaled tables (freed
 * with it). */
void xs_sched_adopt(xs_sched *s, uint8_t *skip, uint8_t *journaled);
void xs_sched_destroy(xs_sched *s); /* accepts NULL */

/* Events. Each returns XS_ERR_INVALID (and changes nothing) for an event the
 * protocol does not allow: an unknown worker, a reply for an item the worker
 * does not hold, a request beyond the protocol's count. */
xs_result xs_sched_on_request(xs_sched *s, int worker, xs_err *err);
xs_result xs_sched_on_done(xs_sched *s, int worker, xs_work_item item, xs_err *err);
xs_result xs_sched_on_failed(xs_sched *s, int worker, xs_work_item item, xs_err *err);

/* The worker stopped answering: the items it holds go back to the queue for
 * others (whichever copy is reported first counts; a late reply from it is
 * still accepted), it gets no new work, and the job no longer waits for its
 * requests. A message from it later makes it a worker again. */
xs_result xs_sched_on_silent(xs_sched *s, int worker, xs_err *err);
/* Stop handing out work (a signal: the job will be requeued); items in flight
 * may still come back. Ends in XS_SCHED_DRAINED. */
void xs_sched_drain(xs_sched *s);
/* Stop handing out work because the job cannot go on (e.g. the journal cannot
 * be written). Ends in XS_SCHED_FAILED. */
void xs_sched_abort(xs_sched *s);
/* Workers marked silent now. */
int xs_sched_silent_count(const xs_sched *s);
bool xs_sched_is_silent(const xs_sched *s, int worker);
/* The item that exhausted its retries (valid in XS_SCHED_FAILED after one):
 * false when the failure was an abort. failed_ranks lists the workers it
 * failed on (up to 16), count in *n. */
bool xs_sched_failed_item(const xs_sched *s, xs_work_item *item, int *workers, int *n);
/* True when the reply just recorded with xs_sched_on_done was a duplicate (the
 * tile or frame was already done by another worker). */
bool xs_sched_last_was_duplicate(const xs_sched *s);
/* True when this item's work (tile or frame assembly) is already done. */
bool xs_sched_item_done(const xs_sched *s, const xs_work_item *item);

/* Pops the next action, in the order they arose; false when none. */
bool xs_sched_next_action(xs_sched *s, xs_sched_action *out);

xs_sched_state xs_sched_get_state(const xs_sched *s);

typedef struct xs_sched_progress {
    int64_t tiles_total, tiles_done, tiles_in_flight;
    int frames_total, frames_done; /* frames assembled (or tiles done without assembly) */
    int64_t assigned;              /* items handed out so far */
    int64_t retries;               /* failed items put back in the queue */
    int64_t reassigned;            /* items taken back from silent workers */
} xs_sched_progress;
void xs_sched_get_progress(const xs_sched *s, xs_sched_progress *out);

#ifdef __cplusplus
}
#endif
#endif
