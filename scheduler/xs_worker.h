/* A worker: executes work items on this rank's engine.
 *
 * A TILE item is rendered by the back end into one tile buffer and written as
 * a compressed EXR under OUT/JOB/tiles/FFFF/ (atomic rename); a tile that an
 * earlier run committed is first verified against the journal's checksum and
 * kept when it matches. An ASSEMBLE item copies the frame's tile chunks into
 * OUT/JOB/NAME.FFFF.exr and writes the PNG preview beside it. A GPU back end
 * holds several tiles in flight: begin starts one, finish ends the oldest.
 * No MPI here except in xs_worker_run, the pull loop of ranks 1..N-1
 * (scheduler/worker_loop.c). One thread at a time.
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

enum { XS_MAX_SLOTS = 8 };

typedef struct xs_worker {
    const xs_job *job; /* borrowed */
    xs_scene *scene;
    xs_backend *backend;
    float *tile_rgba; /* one tile's pixel records */
    int channels;     /* floats per record: 4 + the AOVs' */
    xs_exr_layout layout;     /* every tile's and frame's, set once; attr_frame per item */
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
    int64_t items; /* executed so far */
    /* tiles in flight on the back end, one per slot (at most XS_MAX_SLOTS) */
    struct xs_flight {
        bool used;
        xs_work_item item;
        int x0, y0, tw, th;
        double t0;
        double scene_s;   /* frame change this tile needed */
        int32_t scene_frames;
    } flight[XS_MAX_SLOTS];
    double last_done; /* when the last item ended (busy time never overlaps) */
    /* fault injection (tests): the Nth item (1-based, 0 = never) fails, hangs
     * or kills this process; tiles (frame, tile) that fail on every rank */
    int64_t fail_at, hang_at, kill_at;
    int fail_tiles[8][2];
    int fail_tile_count;
} xs_worker;

/* Builds the rank's scene (from the opened scene input when given, else the
 * built-in scene named by the options) and its back end: CUDA device `gpu`,
 * or the CPU with `threads` threads when gpu < 0. rank names it in messages
 * and fault specs. */
xs_result xs_worker_init(xs_worker *w, const xs_job *job, int rank, int threads, int gpu,
                         const xs_scene_input *input, xs_err *err);
void xs_worker_free(xs_worker *w); /* accepts a zeroed worker */

/* Fault injection for tests, from the environment: XS_FAULT holds specs
 * separated by ';': fail:RANK:N, hang:RANK:N, kill:RANK:N (the rank's Nth
 * item fails, hangs forever, or the process SIGKILLs itself) and
 * tile:FRAME:TILE (that tile fails on every rank). */
xs_result xs_worker_faults_from_env(xs_worker *w, xs_err *err);

/* Executes one item: renders and writes a tile (or, for XS_ITEM_VERIFY, keeps
 * the tile file when its pixels hash to expect_hash), or assembles a frame. */
xs_result xs_worker_execute(xs_worker *w, const xs_work_item *it, uint64_t expect_hash,
                            xs_item_report *rep, xs_err *err);
/* The same in two halves, so a worker keeps several tiles on its device:
 * begin starts the item; a tile to render stays in flight in *slot (>= 0)
 * until xs_worker_finish (which writes it and fills rep); anything else ends
 * at once (*slot = -1, rep filled). Needs a free slot (xs_worker_free_slot). */
xs_result xs_worker_begin(xs_worker *w, const xs_work_item *it, uint64_t expect_hash,
                          xs_item_report *rep, int *slot, xs_err *err);
xs_result xs_worker_finish(xs_worker *w, int slot, xs_item_report *rep, xs_err *err);
int xs_worker_free_slot(const xs_worker *w); /* -1: none */
/* True when item `it` needs the scene at another frame while tiles of the
 * current one are still in flight: finish those first (a back end renders
 * from the scene as it is when the tile ends). */
bool xs_worker_must_drain(const xs_worker *w, const xs_work_item *it);

/* The MPI pull loop of ranks 1..N-1: keeps `prefetch` requests in flight,
 * runs what rank 0 assigns, returns when rank 0 has answered every request.
 * An error means the protocol broke (the caller aborts the job). */
xs_result xs_worker_run(MPI_Comm comm, xs_worker *w, int prefetch, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
