/* A worker: executes work items on this rank's engine, as a pipeline.
 *
 * A TILE item is rendered by the back end and written as a compressed EXR
 * under OUT/JOB/tiles/FFFF/ (atomic rename, fsync); a tile that an earlier
 * run committed is first verified against the journal's checksum and kept
 * when it matches. An ASSEMBLE item copies the frame's tile chunks into
 * OUT/JOB/NAME.FFFF.exr and writes the PNG preview beside it. A PART item
 * renders some of a tile's sample chunks into a part file beside the tile
 * (io/xs_partials.h); a MERGE item reads the tile's parts, adds them in
 * chunk order and writes the tile, bit for bit the TILE's file, then
 * removes the parts; a missing or damaged part fails it, naming the file.
 *
 * The pipeline: the thread that calls xs_worker_pump drives the device and
 * nothing slower: it begins tiles on free back-end slots (a GPU holds
 * several launch groups), ends the oldest when the device has finished it,
 * copies its pixels into a free buffer and hands that to the writer threads
 * (scheduler/xs_writer.h), which hash, compress, write and sync it; they
 * also verify earlier tiles and assemble frames. An item's result (DONE or
 * FAILED) comes out of xs_worker_pump only when all its work is durable, so
 * rank 0 journals a tile only after its file is. Pixels and files are the
 * same whatever the number of writers.
 *
 * An animated scene (xs_scene_animated) is posed on the pumping thread for
 * the frame of the tile about to begin, and the back end takes what changed
 * (xs_backend_update); the worker keeps the frame it is posed for, so only a
 * change of frame costs anything. A tile of another frame waits until no
 * tile of the frame the scene shows is on the back end (a back end renders
 * from the scene until the tile ends); verifications and assemblies do not
 * wait. The tile that needed the change reports it (scene_frames, scene_s).
 *
 * A lost device (a sticky GPU error, XS_ERR_DEVICE) retires the worker: the
 * items it holds that need the device, and any it is given later, come back
 * FAILED with XS_REPORT_LOST; writes already under way finish.
 *
 * No MPI here except in xs_worker_run, the pull loop of ranks 1..N-1
 * (scheduler/worker_loop.c). The pump, push and free are called from one
 * thread.
 */
#ifndef XS_WORKER_H
#define XS_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <mpi.h>

#include "io/xs_exr.h"
#include "io/xs_scene_input.h"
#include "render/xs_backend.h"
#include "render/xs_scene.h"
#include "scheduler/xs_job.h"
#include "scheduler/xs_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Items a worker holds at most (xs_worker_depth is at most this). */
enum { XS_WORKER_MAX_HELD = XS_MAX_PREFETCH };

/* An item's outcome, as the worker reports it to rank 0. */
typedef struct xs_worker_result {
    xs_work_item item;
    xs_result r;                /* XS_OK: DONE; else FAILED */
    xs_item_report rep;
    char text[XS_MSG_TEXT_MAX]; /* FAILED: why */
} xs_worker_result;

typedef struct xs_worker_pipe xs_worker_pipe; /* worker.c's */

typedef struct xs_worker {
    const xs_job *job; /* borrowed */
    xs_scene *scene;
    bool scene_borrowed; /* the caller's (the node's shared copy): not destroyed here */
    xs_backend *backend;
    int channels;             /* floats per pixel record: 4 + the AOVs' */
    xs_exr_layout layout;     /* every tile's and frame's; attr_frame set per item on a copy */
    xs_tile_params frame_tp;  /* the kernel parameters of frame_tp.frame, set once per frame */
    /* an animated scene: the frame it is posed for (INT_MIN: none yet), how
     * frames become times, and what posing cost so far */
    int scene_frame;
    xs_scene_timing timing;
    xs_scene_frame_stats frame_stats;
    double scene_s;  /* posing and updating the device, in all */
    double upload_s; /* of which the back end's update */
    int tile_dir_frame;       /* the frame whose tile folder exists (-1: none yet) */
    int threads;
    int gpu;       /* the CUDA device ordinal it renders on; -1: the CPU */
    int rank;
    int writers;   /* writer threads (0: writes run on the pumping thread) */
    int64_t items; /* started so far */
    double last_done; /* when the last item ended (busy time never overlaps) */
    xs_worker_pipe *pipe;
    /* fault injection (tests): the Nth item (1-based, 0 = never) fails,
     * hangs, kills this process or finds the device lost; tiles (frame,
     * tile) that fail on every rank */
    int64_t fail_at, hang_at, kill_at, lost_at;
    int fail_tiles[8][2];
    int fail_tile_count;
} xs_worker;

/* Builds the rank's scene (from the opened scene input when given, else the
 * built-in scene named by the options) and its back end: CUDA device `gpu`,
 * or the CPU with `threads` threads when gpu < 0; and `writers` writer
 * threads (0: writes on the pumping thread). rank names it in messages and
 * fault specs. */
xs_result xs_worker_init(xs_worker *w, const xs_job *job, int rank, int threads, int gpu, int writers,
                         const xs_scene_input *input, xs_err *err);
/* The same over a scene the caller built and keeps (borrowed: it outlives
 * the worker): the node's one copy (scheduler/xs_node_share.h). */
xs_result xs_worker_init_scene(xs_worker *w, const xs_job *job, int rank, int threads, int gpu, int writers,
                               xs_scene *scene, xs_err *err);
/* The same over a back end the caller made (owned by the worker from then
 * on, also on failure): tests and bench/hostbench.c pass the stand-in. */
xs_result xs_worker_init_backend(xs_worker *w, const xs_job *job, int rank, xs_backend *backend,
                                 int writers, xs_err *err);
/* Waits for the writers, frees everything (accepts a zeroed worker). */
void xs_worker_free(xs_worker *w);

/* Fault injection for tests, from the environment: XS_FAULT holds specs
 * separated by ';': fail:RANK:N, hang:RANK:N, kill:RANK:N, lost:RANK:N (the
 * rank's Nth item fails, hangs forever, the process SIGKILLs itself, or its
 * device is lost as a sticky GPU error would lose it) and tile:FRAME:TILE
 * (that tile fails on every rank). */
xs_result xs_worker_faults_from_env(xs_worker *w, xs_err *err);

/* Items the worker wants in hand to keep its device and writers busy: the
 * back end's slots, one per writer and one more (at most
 * XS_WORKER_MAX_HELD; 2 for the empty kernel). The farm asks rank 0 for this
 * many ahead. */
int xs_worker_depth(const xs_worker *w);
/* Hands the worker an item (XS_ERR_INTERNAL past XS_WORKER_MAX_HELD held). */
xs_result xs_worker_push(xs_worker *w, const xs_work_item *it, uint64_t expect_hash, xs_err *err);
/* Moves the pipeline on without waiting: starts what can start, ends what
 * the device has finished, hands pixels to the writers, collects what they
 * finished. Writes up to max results into out and returns how many;
 * *progress is true when anything moved (results or not). */
int xs_worker_pump(xs_worker *w, xs_worker_result *out, int max, bool *progress);
/* Items held: queued, on the device, at the writers, or with a result not
 * yet returned. */
int xs_worker_held(const xs_worker *w);
/* The pumping thread's wait when nothing moved (xs_backoff's steps): while
 * its writers have work in progress it sleeps until one finishes (or the
 * step's time passes), so the writer gets the core and its result goes out
 * at once. Reset *idle to 0 on progress. */
void xs_worker_backoff(xs_worker *w, int *idle);
/* The worker renders PART items (its back end renders parts of tiles) and
 * merges them (MERGE), so rank 0 may split tiles. */
bool xs_worker_parts(const xs_worker *w);
/* The device is lost: every item needing it fails with XS_REPORT_LOST. */
bool xs_worker_lost(const xs_worker *w);
/* The MPI pull loop of ranks 1..N-1: keeps `prefetch` requests in flight,
 * runs what rank 0 assigns, returns when rank 0 has answered every request.
 * An error means the protocol broke (the caller aborts the job). */
xs_result xs_worker_run(MPI_Comm comm, xs_worker *w, int prefetch, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
