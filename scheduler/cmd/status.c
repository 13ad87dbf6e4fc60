/* `xisuan status OUT/JOB`: where a running or finished job stands, from its
 * journal and event log alone (no MPI, no pixels; io/xs_job_status.h reads
 * them): the last run's state, frames assembled, tiles committed, per-rank
 * work, failures, retries, silent ranks, ranks retired with a lost device,
 * and drains, and how long ago the last event was. */
#include "scheduler/cmd/xs_cmd.h"

#include "io/xs_job_status.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int xs_status_main(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-') {
        printf("usage: xisuan status OUT/JOB\n\n"
               "Prints where a running or finished job stands, from OUT/JOB/journal and\n"
               "OUT/JOB/events.jsonl. Exit status 0 when the job completed, 3 while it is\n"
               "running or was interrupted, 1 when it failed, 2 when there is no job there.\n");
        return argc == 1 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0) ? 0 : 2;
    }
    xs_err err;
    xs_job_status *s = NULL;
    if (xs_job_status_create(argv[0], &s, &err) != XS_OK) {
        fprintf(stderr, "xisuan status: error: %s\n", err.msg);
        return 2;
    }
    if (xs_job_status_update(s, &err) != XS_OK) {
        fprintf(stderr, "xisuan status: error: %s/events.jsonl: no event log here (is %s a job "
                        "folder?)\n", argv[0], argv[0]);
        xs_job_status_destroy(s);
        return 2;
    }
    time_t now = time(NULL);
    bool stale = strcmp(s->state, "running") == 0 || strcmp(s->state, "draining") == 0;
    printf("job %s: %s%s\n", s->job, s->state,
           stale ? " (or stopped without a summary: killed, or its node lost)" : "");
    printf("  runs: %d (the first %.0f s ago); last event: %s, %.0f s ago\n", s->runs,
           (double)now - s->first_t, s->last_event, (double)now - s->last_t);
    if (s->wall > 0)
        printf("  last run: %.3f s wall\n", s->wall);
    printf("  frames: %d assembled of %d in the last run (journal: %d frame record(s))\n",
           s->assembled, s->frames_total, s->journal_frames);
    printf("  tiles: journal holds %lld committed; the runs rendered %lld and kept %lld verified "
           "from earlier runs; %d per frame\n",
           (long long)s->journal_tiles, (long long)s->rendered, (long long)s->kept,
           s->tiles_per_frame);
    printf("  failures: %lld, silent ranks: %lld, ranks retired (device lost): %lld, drains: %lld\n",
           (long long)s->failures, (long long)s->silent, (long long)s->retired, (long long)s->drains);
    if (s->max_rank >= 0) {
        printf("  rank  tiles  busy_s\n");
        for (int r = 0; r <= s->max_rank; ++r)
            if (s->ranks[r].tiles)
                printf("  %4d  %5lld  %6.2f\n", r, (long long)s->ranks[r].tiles, s->ranks[r].busy);
    }
    if (s->settings[0])
        printf("  settings: %s\n", s->settings);
    int status = strcmp(s->state, "completed") == 0 ? 0 : strcmp(s->state, "failed") == 0 ? 1 : 3;
    xs_job_status_destroy(s);
    return status; /* 3: running, draining, drained (waiting for its requeue), or killed */
}
