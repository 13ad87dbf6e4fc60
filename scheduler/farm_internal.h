/* Internals shared by the farm's files: the wire format, the worker's
 * execution context, and the job report that rank 0 keeps. */
#ifndef XS_FARM_INTERNAL_H
#define XS_FARM_INTERNAL_H

#include <mpi.h>

#include "io/xs_scene_input.h"
#include "render/xs_render.h"
#include "scheduler/xs_farm.h"
#include "scheduler/xs_journal.h"
#include "scheduler/xs_placement.h"
#include "scheduler/xs_sched.h"

/* ---- Wire format -------------------------------------------------------- */
/* One fixed-size message, sent as MPI_BYTE: the farm assumes ranks of one
 * architecture (same endianness and struct layout), as every cluster does. */
enum { XS_TAG_UP = 101, XS_TAG_DOWN = 102 };

typedef enum xs_msg_type {
    XS_MSG_REQUEST = 1, /* worker -> 0: one more item, please */
    XS_MSG_DONE = 2,    /* worker -> 0: item done (and one more request) */
    XS_MSG_FAILED = 3,  /* worker -> 0: item failed, text says why (and one more request) */
    XS_MSG_ASSIGN = 4,  /* 0 -> worker: do this item */
    XS_MSG_END = 5      /* 0 -> worker: no more work for this request */
} xs_msg_type;

typedef struct xs_item_report {
    double seconds; /* wall time spent on the item */
    double samples; /* camera samples rendered */
    xs_counters counters;
    uint64_t hash;  /* a tile's pixel checksum (XXH3 of its RGBA floats) */
    int32_t kept;   /* 1: a verified tile from an earlier run, not rendered */
    int32_t reserved;
} xs_item_report;

typedef struct xs_msg {
    int32_t type;
    int32_t reserved;
    xs_work_item item;
    uint64_t expect_hash; /* ASSIGN of an XS_ITEM_VERIFY tile: the journal's checksum */
    xs_item_report report;
    char text[768];
} xs_msg;

/* ---- Worker ------------------------------------------------------------- */

enum { XS_MAX_SLOTS = 8 };

typedef struct xs_worker_ctx {
    const xs_options *opt;
    xs_film film;
    xs_scene *scene;
    xs_backend *backend;
    float *tile_rgba; /* one tile's pixel records */
    int channels;     /* floats per record: 4 + the AOVs' */
    char job_dir[XS_PATH_MAX];
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
        char path[XS_PATH_MAX];
    } flight[XS_MAX_SLOTS];
    double last_done; /* when the last item ended (busy time never overlaps) */
    /* fault injection (tests): the Nth item (1-based, 0 = never) fails, hangs
     * or kills this process; tiles (frame, tile) that fail on every rank */
    int64_t fail_at, hang_at, kill_at;
    int fail_tiles[8][2];
    int fail_tile_count;
} xs_worker_ctx;

/* Fault injection for tests, from the environment: XS_FAULT holds specs
 * separated by ';': fail:RANK:N, hang:RANK:N, kill:RANK:N (the rank's Nth
 * item fails, hangs forever, or the process SIGKILLs itself) and
 * tile:FRAME:TILE (that tile fails on every rank). */
xs_result xs_fault_from_env(int rank, xs_worker_ctx *w, xs_err *err);

/* The CUDA devices this process sees, in PCI bus order, with their ordinals
 * and names (0 and why where there are none). */
int xs_visible_gpus(xs_place_gpu *gpus, char *why, size_t why_len);

/* Builds the rank's scene (from the opened scene input when given, else the
 * built-in scene opt->scene) and its back end: CUDA device `gpu`, or the CPU
 * with `threads` threads when gpu < 0. */
xs_result xs_worker_ctx_init(xs_worker_ctx *w, const xs_options *opt, int threads, int gpu,
                             const xs_scene_input *input, xs_err *err);
void xs_worker_ctx_free(xs_worker_ctx *w);
/* Executes one item: renders and writes a tile (or, for XS_ITEM_VERIFY, keeps
 * the tile file when its pixels hash to expect_hash), or assembles a frame. */
xs_result xs_worker_execute(xs_worker_ctx *w, const xs_work_item *it, uint64_t expect_hash,
                            xs_item_report *rep, xs_err *err);
/* The same in two halves, so a worker keeps several tiles on its device:
 * begin starts the item; a tile to render stays in flight in *slot (>= 0)
 * until xs_worker_finish (which writes it and fills rep); anything else ends
 * at once (*slot = -1, rep filled). Needs a free slot (xs_worker_free_slot). */
xs_result xs_worker_begin(xs_worker_ctx *w, const xs_work_item *it, uint64_t expect_hash,
                          xs_item_report *rep, int *slot, xs_err *err);
xs_result xs_worker_finish(xs_worker_ctx *w, int slot, xs_item_report *rep, xs_err *err);
int xs_worker_free_slot(const xs_worker_ctx *w); /* -1: none */
/* The MPI worker loop of ranks 1..N-1. */
xs_result xs_worker_run(MPI_Comm comm, xs_worker_ctx *w, xs_err *err);

/* Paths of a job's outputs. */
xs_result xs_job_frame_path(const xs_options *o, int frame, const char *ext, char *out, size_t n,
                            xs_err *err);
xs_result xs_job_tile_path(const xs_options *o, const xs_film *film, int frame, int tile,
                           char *out, size_t n, xs_err *err);

/* ---- Rank 0's report ------------------------------------------------------ */

typedef struct xs_rank_stats {
    int64_t tiles, assemblies, failures;
    double busy_s, samples;
    xs_counters counters;
} xs_rank_stats;

/* ---- `xisuan bench`: what a render run leaves for the benchmark ---------- */

typedef struct xs_bench_run {
    int ranks;
    xs_rank_stats *per_rank;   /* malloc'd copies (index = rank) */
    char (*device)[160];       /* each rank's back end */
    double *peak_flops;        /* each rank's peak FP32 FLOP/s (0: the scheduler) */
    char (*peak_desc)[160];
    double wall_s, sched_busy_s;
    int status;
} xs_bench_run;
/* Set by `xisuan bench` around xs_farm_render_main; NULL otherwise. */
extern xs_bench_run *xs_bench_active;
void xs_bench_run_free(xs_bench_run *b);

/* Rank 0's view of the job: per-rank statistics, the journal, the event
 * log, the progress line. */
typedef struct xs_job_report {
    int ranks;            /* stats per rank (index = rank) */
    xs_rank_stats *per_rank;
    double t_start;
    int64_t messages;
    double sched_busy_s;  /* rank 0 handling messages (receive to answers sent) */
    xs_journal *journal;  /* may be NULL (the empty kernel keeps none) */
    xs_events *events;
    int64_t rendered, kept; /* tiles */
    double last_progress;
    double progress_interval;
    bool tty;
    bool progress_off;
    bool progress_shown;
    bool journal_failed;   /* the journal could not be written: the job stopped */
    bool gave_up_inflight; /* drained past the grace period with work in flight */
    int silent_workers;    /* at the end: ranks given up on */
} xs_job_report;

xs_result xs_report_init(xs_job_report *r, int ranks, xs_err *err);
/* XS_PROGRESS_* mode and the interval of plain lines. */
void xs_report_set_progress(xs_job_report *r, int mode, double interval);
void xs_report_free(xs_job_report *r);
/* Records a finished item: statistics, journal (a failure to journal is
 * returned: the job must stop), events. */
xs_result xs_report_item(xs_job_report *r, int rank, const xs_work_item *it,
                         const xs_item_report *rep, bool ok, const xs_options *o, const char *text,
                         xs_err *err);
void xs_report_dispatch(xs_job_report *r, int rank, const xs_work_item *it);
/* Prints the progress line when its interval has passed (or always with force). */
void xs_report_progress(xs_job_report *r, const xs_sched *s, bool force);
void xs_report_print(const xs_job_report *r, const xs_options *o, const xs_sched *s,
                     xs_sched_state st, int workers);

/* The journal checksum the ASSIGN of it should carry (0 when none). */
uint64_t xs_report_expect_hash(const xs_job_report *r, const xs_options *o, const xs_work_item *it);

/* The rank-0 MPI loop: returns the final scheduler state. */
xs_sched_state xs_master_run(MPI_Comm comm, const xs_options *o, const xs_film *film,
                             xs_job_report *report, xs_err *err);

/* Sets err from an MPI error code: "what: MPI's error string". */
xs_result xs_mpi_fail(xs_err *err, const char *what, int rc);

/* The policy for this job: its frames, the film's tiles, `workers` workers. */
xs_result xs_job_sched_create(const xs_options *o, const xs_film *film, int workers,
                              const xs_job_report *rep, xs_sched **out, xs_err *err);

/* Rank 0 drains on SIGTERM and SIGUSR1; workers ignore both (rank 0 tells
 * them when to stop). */
void xs_install_signal_handlers(bool scheduler);
/* The drain signal received so far (0: none). */
int xs_drain_requested(void);

/* Sleeps a little longer each call while nothing happens (reset to 0 on
 * progress): spins first, then yields, then sleeps up to 1 ms, so an idle
 * rank 0 leaves the cores to the workers. */
void xs_backoff(int *idle);

#endif
