/* The service's runner: one thread that takes its Slurm jobs from queued to
 * done. A queued job is submitted with `xisuan submit` (the sbatch script it
 * writes, requeue and drain included); a submitted one is followed through
 * its event log and journal (io/xs_job_status.h) and squeue: each frame the
 * render assembles is hashed and recorded as done, the job ends completed or
 * failed, its GPU-hours are charged; a cancelled one is scancel'd. Every step
 * is recorded in the database before the next, so a restarted service picks
 * each job up where it was (a job caught between sbatch and the database is
 * found again by its script in squeue's list).
 */
#ifndef XS_RUNNER_H
#define XS_RUNNER_H

#include "io/xs_result.h"
#include "service/xs_log.h"
#include "service/xs_spool.h"
#include "service/xs_store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_runner xs_runner;

typedef struct xs_runner_config {
    xs_store *store;       /* borrowed for the runner's life */
    const xs_spool *spool;
    xs_log *log;
    const char *self;      /* the xisuan to run `submit` with */
    const char *launcher;  /* srun or mpirun */
    const char *partition; /* NULL: the default */
    double poll_s;
} xs_runner_config;

xs_result xs_runner_start(const xs_runner_config *cfg, xs_runner **out, xs_err *err);
/* Asks the runner to look at its jobs now (a job was queued or cancelled). */
void xs_runner_wake(xs_runner *r);
/* Stops and joins the thread. Accepts NULL. */
void xs_runner_stop(xs_runner *r);

#ifdef __cplusplus
}
#endif
#endif
