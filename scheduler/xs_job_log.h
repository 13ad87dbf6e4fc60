/* A job's status read back from its folder: what `xisuan status` prints and
 * what its HTML page shows, from OUT/JOB/events.jsonl and OUT/JOB/journal
 * alone (no MPI, no pixels), for a job running, stopped or finished.
 *
 * Counts over every run (rendered, kept, failures, ...) and the last run's
 * own figures (its frames assembled, its per-rank work, its wall time) are
 * kept apart: a rank's busy share is only meaningful against one run's wall.
 * The journal gives what is committed across runs, each tile and frame
 * counted once. Every text taken from the files (job name, settings, error
 * messages) is stored with its control characters escaped (xs_text_escape);
 * an HTML writer must still escape it for HTML. A torn last line (a job
 * killed mid-write) is ignored, as are events this reader does not know and
 * damaged lines (no time, or one out of range); values out of range count
 * as absent.
 */
#ifndef XS_JOB_LOG_H
#define XS_JOB_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One rank's work in the last run. Busy time is the sum of the seconds the
 * log gives (tiles rendered or verified, parts, duplicates); assemblies
 * carry no duration in the log and are counted, not timed. */
typedef struct xs_rank_status {
    int64_t tiles;      /* tiles rendered and committed */
    int64_t kept;       /* tiles of an earlier run verified and kept */
    int64_t parts;      /* parts of a tile rendered (part_done) */
    int64_t assemblies; /* frames assembled */
    int64_t failures;   /* tile_failed and assembly_failed */
    int64_t duplicates; /* replies for work another rank had already finished */
    int64_t dup_results; /* the same from the older duplicate_result event (folded into
                            duplicates when the log has no tile_duplicate) */
    double busy_s;      /* tiles, verifications, parts and duplicates */
    double tile_s;      /* of the tiles rendered alone (their mean) */
} xs_rank_status;

/* A failure as the log tells it (the first XS_STATUS_FAILURES kept). */
typedef struct xs_failure_note {
    double time;
    int frame, tile, rank; /* tile -1: an assembly */
    char error[512];
} xs_failure_note;

enum { XS_STATUS_FAILURES = 100 };

typedef struct xs_job_log {
    char job[128];       /* the job's name (from the last job_start) */
    char state[32];      /* running, draining, completed, drained, failed */
    char settings[1024]; /* the last run's settings line */
    char name[64];       /* the frame files' base name (settings' name=), or "" */
    char last_event[64];
    int runs;
    double first_t, last_t; /* Unix seconds of the log's first and last events */
    /* the last run */
    double run_start, wall_s; /* wall_s from its job_summary, 0 while running */
    int frames_total, tiles_per_frame, ranks; /* as its job_start says */
    int assembled;                            /* frames it assembled */
    xs_rank_status *rank;                     /* rank_count entries, by rank; malloc'd */
    int rank_count;
    /* every run */
    int64_t rendered, kept, parts, failures, duplicates, copies, silent, retired, drains;
    int64_t dup_results; /* duplicate_result events (see xs_rank_status) */
    xs_failure_note *failure_notes; /* malloc'd, failure_note_count of them */
    int failure_note_count;
    /* the journal (absent: have_journal false) */
    bool have_journal;
    int64_t journal_tiles;  /* distinct (frame, tile) committed */
    int *journal_frames;    /* distinct frames assembled, ascending; malloc'd */
    int journal_frame_count;
} xs_job_log;

/* Reads job_dir/events.jsonl (required: XS_ERR_IO naming it when it is not
 * there) and job_dir/journal (optional). Fills *st, which the caller frees
 * with xs_job_log_free (also after a failure). */
xs_result xs_job_log_read(const char *job_dir, xs_job_log *st, xs_err *err);
void xs_job_log_free(xs_job_log *st); /* accepts a zeroed status */

/* The wall time of the last run: its summary's, or (still running or
 * killed) from its start to the log's last event. */
double xs_job_log_run_wall(const xs_job_log *st);

#ifdef __cplusplus
}
#endif
#endif
