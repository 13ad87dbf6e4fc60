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
 * Work: for each frame, its tiles (row-major, or most expensive first with
 * balance); when a frame's last tile is done, an ASSEMBLE item for that frame
 * goes ahead of every tile. With frame affinity (an animated scene), a worker
 * gets what fits the frame it last rendered before other frames' items (taken
 * back, retried, or next in order), so it does not pose its scene back and
 * forth. Every per-event cost is O(1) in the number of workers, frames and
 * tiles, except where balance looks at idle workers at the very end of a job.
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

typedef enum xs_work_kind {
    XS_WORK_TILE = 1,     /* render a tile and write it */
    XS_WORK_ASSEMBLE = 2, /* assemble a frame from its tiles */
    XS_WORK_PART = 3,     /* render chunks [chunk_first, +chunk_count) of a tile's samples */
    XS_WORK_MERGE = 4     /* merge a split tile's parts (chunk_first of them, chunk_count
                             chunks in all) into its tile */
} xs_work_kind;

enum {
    XS_ITEM_VERIFY = 1, /* a previous run committed this tile: check its file, render if bad */
    XS_ITEM_COPY = 2    /* a speculative copy of an item another worker holds (balance) */
};

typedef struct xs_work_item {
    int32_t kind;  /* xs_work_kind */
    int32_t frame; /* frame number */
    int32_t tile;  /* row-major tile index in the frame; -1 for ASSEMBLE */
    int32_t flags; /* XS_ITEM_*; not part of an item's identity */
    int32_t chunk_first, chunk_count; /* PART: its chunks; MERGE: parts, chunks; else 0, 0 */
} xs_work_item;

enum { XS_SCHED_MAX_FRAME_NUMBER = 10000 }; /* frame numbers are in [0, 10000) */

typedef struct xs_sched_desc {
    const int *frames; /* frame numbers, in render order, distinct (copied) */
    int frame_count;
    int tiles_per_frame;
    int worker_count; /* workers are numbered 0 .. worker_count-1 */
    int prefetch;     /* requests each worker sends at start */
    /* Optional (copied): worker w sends worker_prefetch[w] requests at start
     * instead (a GPU worker holds more items than a CPU worker). */
    const int *worker_prefetch;
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
    /* Balance for mixed and tail-heavy farms (off: tiles in row-major order,
     * every request answered while there is work):
     *   - each worker's speed is estimated from its results' times
     *     (xs_sched_on_done_timed) and each tile's cost from the frames before;
     *   - a frame's tiles go out most expensive first;
     *   - a worker takes an item only when it would finish it no later than
     *     the farm would at its mean speed, or within the remaining work's
     *     horizon: a slow rank never holds work a fast one would finish first;
     *   - near the end, a tile is split into parts of its sample chunks for
     *     idle workers (chunks_per_tile > 1), merged by a MERGE item;
     *   - idle workers get a copy of the in-flight item expected to finish
     *     last when they would finish it sooner (the first result counts);
     *     this needs the time (xs_sched_set_time). */
    bool balance;
    int chunks_per_tile; /* the tile's spp in 16-sample chunks; 1 (or 0): never split */
    /* Optional (copied): each worker's speed before it has results, relative
     * (e.g. its device's peak FLOP/s over the workers' mean); NULL: equal. A
     * worker's first measured result replaces it. */
    const double *worker_speed;
    /* Frame affinity, for an animated scene (each worker poses it for the
     * frame it renders): among what a worker may take, items of the frame it
     * last rendered (and assemblies) come first, looking up to 64 items
     * behind the head of the priority queue; the cursor's tiles go to it
     * ahead of other frames' items while the cursor is in its frame. Off:
     * the order above, whatever frames workers render. */
    bool frame_affinity;
    /* Test hooks (tests/parts.sh; scheduler/job.c reads them from XS_TEST_SPLIT
     * and XS_TEST_COPY), so tests see splits and copies that the estimates
     * above would make only at a real tail: test_split >= 2 splits every tile
     * that renders (and has more than one chunk) into min(test_split,
     * chunks_per_tile) parts, whatever balance says; test_copy sends a copy
     * of every TILE and PART item to the next other worker that asks. 0:
     * off, as in production. */
    int test_split;
    bool test_copy;
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
/* The same with the seconds the worker spent on it (< 0: unknown), from
 * which its speed and the tile's cost are estimated. */
xs_result xs_sched_on_done_timed(xs_sched *s, int worker, xs_work_item item, double seconds, xs_err *err);
xs_result xs_sched_on_failed(xs_sched *s, int worker, xs_work_item item, xs_err *err);

/* The worker stopped answering: the items it holds go back to the queue for
 * others (whichever copy is reported first counts; a late reply from it is
 * still accepted), it gets no new work, and the job no longer waits for its
 * requests. A message from it later makes it a worker again. */
xs_result xs_sched_on_silent(xs_sched *s, int worker, xs_err *err);
/* The worker's device is lost (its reply for item said so): it is retired
 * for good. Every item it holds, this one included, goes back to the queue
 * for others without counting as a failure (a late DONE from it for an item
 * it had finished still counts; its other replies are accepted and change
 * nothing); it gets no new work, each of its requests is answered END at
 * once, and the job waits for its replies as for any live worker, so it
 * leaves cleanly. When every worker is retired or silent the job fails. The
 * reply carries a request like any other. */
xs_result xs_sched_on_lost(xs_sched *s, int worker, xs_work_item item, xs_err *err);
/* A worker's estimated speed (balance): cost units per second, 1 until it
 * has results of tiles whose cost was measured. */
double xs_sched_worker_speed(const xs_sched *s, int worker);
/* Workers retired so far, and whether one is. */
int xs_sched_retired_count(const xs_sched *s);
bool xs_sched_is_retired(const xs_sched *s, int worker);
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

/* The time now (seconds, any origin): when items are assigned, for the
 * speculation of balance. Without it, nothing is speculated. */
void xs_sched_set_time(xs_sched *s, double now);

/* Pops the next action, in the order they arose; false when none. */
bool xs_sched_next_action(xs_sched *s, xs_sched_action *out);

xs_sched_state xs_sched_get_state(const xs_sched *s);

typedef struct xs_sched_progress {
    int64_t tiles_total, tiles_done, tiles_in_flight;
    int frames_total, frames_done; /* frames assembled (or tiles done without assembly) */
    int64_t assigned;              /* items handed out so far */
    int64_t retries;               /* failed items put back in the queue */
    int64_t reassigned;            /* items taken back from silent or retired workers */
    int64_t splits, duplicates;    /* tiles split into parts; speculative copies sent */
} xs_sched_progress;
void xs_sched_get_progress(const xs_sched *s, xs_sched_progress *out);

#ifdef __cplusplus
}
#endif
#endif
