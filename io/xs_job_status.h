/* Where a job stands, read from its folder: the event log (OUT/JOB/events.jsonl,
 * xs_events.h) and the journal's record counts (OUT/JOB/journal). `xisuan
 * status` prints it; the submission service (service/runner.c) follows its
 * Slurm jobs with it while they run.
 *
 * Reading is incremental: each xs_job_status_update reads only what was
 * appended since the last call and stops before a torn last line (a record
 * being written), which it reads next time. Nothing here writes. One thread
 * at a time per object.
 */
#ifndef XS_JOB_STATUS_H
#define XS_JOB_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { XS_JOB_STATUS_RANKS = 4096, XS_JOB_STATUS_FRAMES = 10000 };

typedef struct xs_job_status_rank {
    int64_t tiles;
    double busy; /* seconds */
} xs_job_status_rank;

typedef struct xs_job_status {
    char dir[4096];
    char job[128];         /* the job's name, from job_start */
    char state[32];        /* running, draining, or job_summary's: completed, drained, failed */
    char settings[1024];
    char last_event[64];
    char frame_name[64];   /* frame files' base name, from frame_assembled paths */
    int runs, frames_total, tiles_per_frame, assembled, max_rank;
    int64_t rendered, kept, failures, silent, retired, drains;
    double first_t, last_t, wall; /* Unix seconds; wall: the last run's */
    double wall_total;     /* every run's wall seconds, summed over job_summary events */
    int64_t journal_tiles;
    int journal_frames;
    uint8_t frame_done[XS_JOB_STATUS_FRAMES]; /* frame number -> assembled in some run */
    xs_job_status_rank *ranks; /* XS_JOB_STATUS_RANKS rows */
    long events_offset, journal_offset; /* bytes read so far */
} xs_job_status;

/* A reader for the job folder dir (OUT/JOB); reads nothing yet. */
xs_result xs_job_status_create(const char *dir, xs_job_status **out, xs_err *err);
void xs_job_status_destroy(xs_job_status *s); /* accepts NULL */
/* Reads what the event log and journal gained since the last call. Returns
 * XS_ERR_IO (with the reason) when the folder has no event log. */
xs_result xs_job_status_update(xs_job_status *s, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
