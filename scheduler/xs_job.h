/* A job as every rank sees it: the options, the film's tile grid, the job
 * folder, the scene's content hash and the key that names the job's
 * settings; and rank 0's set-up of a run: the journal and event log opened
 * (a rerun resumes from the journal) and the policy created over the frames
 * and tiles still to do.
 */
#ifndef XS_JOB_H
#define XS_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "io/xs_events.h"
#include "io/xs_job_layout.h"
#include "io/xs_journal.h"
#include "io/xs_result.h"
#include "render/xs_film.h"
#include "scheduler/xs_options.h"
#include "scheduler/xs_sched.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_job {
    const xs_options *opt;  /* borrowed for the job's life */
    xs_film film;
    xs_job_layout layout;
    uint64_t scene_hash;    /* the package's bytes (or a built-in scene's name) */
    char settings[1024];    /* every setting that changes pixels or files */
    int16_t frame_index[XS_MAX_FRAMES]; /* frame number -> index in opt->frames, -1: not in the job */
    bool animated; /* rank 0: animations play (the farm sets it): the policy keeps workers on their frames */
} xs_job;

/* Fills job from the options (which it borrows) and the scene's hash. */
xs_result xs_job_init(xs_job *job, const xs_options *opt, uint64_t scene_hash, xs_err *err);
/* The index of frame number `frame` in the job's frames, or -1. */
int xs_job_frame_index(const xs_job *job, int frame);

/* Rank 0: opens the event log and (for the path kernel) the journal, which
 * refuses another job's folder unless --force; prints the resume line. */
xs_result xs_job_open_files(const xs_job *job, int ranks, xs_journal **journal,
                            xs_events **events, xs_err *err);

/* The policy for this job over `workers` workers (worker w sends
 * prefetch[w] requests at start): its frames and the film's tiles; with a
 * resumed journal, frames it assembled (whose file is there) are skipped and
 * tiles it committed are verified instead of rendered. Balance (the
 * options' default) is on for path-traced jobs; parts: every worker renders
 * PART and MERGE items, so tiles of more than one sample chunk may be split;
 * speed_prior (optional): the workers' relative speeds before any result. */
xs_result xs_job_sched_create(const xs_job *job, int workers, const int *prefetch, bool parts,
                              const double *speed_prior, const xs_journal *journal, xs_sched **out,
                              xs_err *err);

/* The process exit status for a final state: 0 done, 1 failed, 75 drained
 * (EX_TEMPFAIL: run it again, it resumes). */
int xs_job_exit_status(xs_sched_state state);

#ifdef __cplusplus
}
#endif
#endif
