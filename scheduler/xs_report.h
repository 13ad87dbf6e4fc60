/* Rank 0's bookkeeping of a run: per-rank statistics, the journal of
 * committed tiles and assembled frames, the event log, the progress line and
 * the summary. Used by the one driver loop (scheduler/driver.c) whether the
 * workers are MPI ranks or rank 0 itself. Rank 0 never reads pixels here:
 * checksums arrive with the workers' results. One thread at a time.
 */
#ifndef XS_REPORT_H
#define XS_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "io/xs_events.h"
#include "io/xs_journal.h"
#include "io/xs_lock.h"
#include "io/xs_result.h"
#include "scheduler/xs_job.h"
#include "scheduler/xs_protocol.h"
#include "scheduler/xs_sched.h"
#include "scheduler/xs_tile_cleaner.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_rank_stats {
    int64_t tiles, assemblies, failures;
    int64_t parts;      /* parts of split tiles rendered (their merges count as tiles) */
    int64_t duplicates; /* results for work another rank had finished first */
    double busy_s, samples;
    double kernel_s; /* the tiles' kernel time (a GPU's CUDA events; a CPU's render) */
    xs_counters counters;
    bool retired;    /* its device was lost */
} xs_rank_stats;

/* Where the report and the driver read the time: MPI_Wtime for a real run,
 * a simulation's virtual clock for xisuan simulate. */
typedef struct xs_clock {
    double (*now)(void *user);
    void *user;
} xs_clock;

typedef struct xs_job_report {
    const xs_job *job;    /* borrowed */
    xs_clock clock;
    int ranks;            /* stats per rank (index = rank) */
    xs_rank_stats *per_rank;
    double t_start;
    int64_t messages;
    double sched_busy_s;  /* rank 0 handling messages (receive to answers sent) */
    xs_lock *lock;        /* owned: the output folder's, for the run's life */
    xs_journal *journal;  /* owned; NULL for the empty kernel */
    xs_events *events;    /* owned */
    xs_tile_cleaner *cleaner; /* owned; NULL with --keep-tiles (or no journal) */
    int64_t rendered, kept; /* tiles */
    double last_progress;
    double progress_interval;
    bool tty;
    bool progress_off;
    bool progress_shown;
    bool quiet;            /* no per-frame lines and no summary on stdout (xisuan simulate) */
    bool journal_failed;   /* the journal could not be written: the job stopped */
    bool gave_up_inflight; /* drained past the grace period with work in flight */
    int silent_workers;    /* at the end: ranks given up on */
    int retired_workers;   /* at the end: ranks whose device was lost */
    xs_sched_progress final; /* the policy's figures at the end */
} xs_job_report;

/* Sets up the report of job over `ranks` ranks: takes the output folder's
 * lock (refused while another job holds it), removes the temporaries a
 * killed run left, and opens the job's journal and event log
 * (xs_job_open_files). */
xs_result xs_report_open(xs_job_report *r, const xs_job *job, int ranks, xs_err *err);
/* Closes the journal and event log, releases the lock and frees the
 * statistics (accepts a zeroed report). */
void xs_report_close(xs_job_report *r);
/* The time on the report's clock. */
double xs_report_now(const xs_job_report *r);
/* XS_PROGRESS_* mode and the interval of plain lines. */
void xs_report_set_progress(xs_job_report *r, int mode, double interval);
/* Records a finished item: statistics, journal (a failure to journal is
 * returned: the job must stop), events. */
xs_result xs_report_item(xs_job_report *r, int rank, const xs_work_item *it,
                         const xs_item_report *rep, bool ok, const char *text, xs_err *err);
void xs_report_dispatch(xs_job_report *r, int rank, const xs_work_item *it);
/* A result for work another copy already finished: counted, and the
 * tile_duplicate event. */
void xs_report_duplicate(xs_job_report *r, int rank, const xs_work_item *it, const xs_item_report *rep);
/* A rank's device is lost (its reply for `it` said why): printed once, and
 * the rank_retired event. */
void xs_report_retired(xs_job_report *r, int rank, const xs_work_item *it, const char *why);
/* The journal checksum the ASSIGN of it should carry (0 when none). */
uint64_t xs_report_expect_hash(const xs_job_report *r, const xs_work_item *it);
/* Prints the progress line when its interval has passed (or always with force). */
void xs_report_progress(xs_job_report *r, const xs_sched *s, bool force);
/* The summary: totals, the per-rank table, the job_summary event. */
void xs_report_print(const xs_job_report *r, const xs_sched *s, xs_sched_state st, int workers);

#ifdef __cplusplus
}
#endif
#endif
