/* `xisuan status OUT/JOB`: where a running or finished job stands, from its
 * journal and event log alone (no MPI, no pixels; scheduler/job_log.c):
 * the last run's state, frames assembled, tiles committed, per-rank work,
 * failures, retries, silent ranks, ranks retired with a lost device, and
 * drains, and how long ago the last event was. With --timeline it also
 * draws the last run (scheduler/timeline.c), with --html it writes the whole
 * status as one self-contained page (scheduler/status_html.c). */
#include "scheduler/cmd/xs_cmd.h"

#include "io/xs_file.h"
#include "io/xs_result.h"
#include "scheduler/xs_job_log.h"
#include "scheduler/xs_status_html.h"
#include "scheduler/xs_timeline.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fputs("usage: xisuan status OUT/JOB [--timeline FILE.svg|FILE.png] [--html FILE.html] [--frame N]\n"
          "\n"
          "Prints where a running or finished job stands, from OUT/JOB/journal and\n"
          "OUT/JOB/events.jsonl. Exit status 0 when the job completed, 3 while it is\n"
          "running or was interrupted, 1 when it failed, 2 when there is no job there\n"
          "or a flag is wrong or a file cannot be written.\n"
          "\n"
          "  --timeline FILE  draws the last run: a row per rank, a bar per item coloured by\n"
          "                   frame, failures and duplicates marked, the share of ranks busy,\n"
          "                   and a tile map of one frame; SVG or PNG by FILE's extension\n"
          "  --html FILE      writes one self-contained page (no script, no network): progress,\n"
          "                   the timeline, per-rank figures, failures, each finished frame's\n"
          "                   preview\n"
          "  --frame N        the frame of the tile map [the last frame whose tiles began]\n",
          f);
}

static void print_text(const xs_job_log *st)
{
    const time_t now = time(NULL);
    const bool stale = strcmp(st->state, "running") == 0 || strcmp(st->state, "draining") == 0;
    printf("job %s: %s%s\n", st->job, st->state,
           stale ? " (or stopped without a summary: killed, or its node lost)" : "");
    printf("  runs: %d (the first %.0f s ago); last event: %s, %.0f s ago\n", st->runs, (double)now - st->first_t,
           st->last_event, (double)now - st->last_t);
    if (st->wall_s > 0)
        printf("  last run: %.3f s wall\n", st->wall_s);
    printf("  frames: %d assembled of %d in the last run (journal: %d frame(s) finished)\n", st->assembled,
           st->frames_total, st->journal_frame_count);
    printf("  tiles: journal holds %lld committed of %lld; the runs rendered %lld and kept %lld verified "
           "from earlier runs; %d per frame\n",
           (long long)st->journal_tiles, (long long)st->frames_total * st->tiles_per_frame,
           (long long)st->rendered, (long long)st->kept, st->tiles_per_frame);
    printf("  failures: %lld, duplicates: %lld, silent ranks: %lld, ranks retired (device lost): %lld, "
           "drains: %lld\n",
           (long long)st->failures, (long long)st->duplicates, (long long)st->silent, (long long)st->retired,
           (long long)st->drains);
    const double wall = xs_job_log_run_wall(st);
    bool header = false;
    for (int r = 0; r < st->rank_count; ++r) {
        const xs_rank_status *s = &st->rank[r];
        if (s->tiles + s->kept + s->parts + s->assemblies + s->failures + s->duplicates == 0)
            continue;
        if (!header)
            printf("  last run, per rank:\n  rank  tiles   kept  parts  frames  busy_s  busy%%  fails   dups\n");
        header = true;
        printf("  %4d  %5lld  %5lld  %5lld  %6lld  %6.2f  %5.1f  %5lld  %5lld\n", r, (long long)s->tiles,
               (long long)s->kept, (long long)s->parts, (long long)s->assemblies, s->busy_s,
               wall > 0 ? 100.0 * s->busy_s / wall : 0.0, (long long)s->failures, (long long)s->duplicates);
    }
    if (st->settings[0])
        printf("  settings: %s\n", st->settings);
}

int xs_status_main(int argc, char **argv)
{
    const char *dir = NULL, *timeline = NULL, *html = NULL;
    int frame = -1;
    bool have_frame = false;
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (a[0] != '-') {
            if (dir) {
                fprintf(stderr, "xisuan status: error: one job folder at a time (got '%s' and '%s')\n", dir, a);
                return 2;
            }
            dir = a;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--timeline") != 0 && strcmp(a, "--html") != 0 && strcmp(a, "--frame") != 0) {
            fprintf(stderr, "xisuan status: error: unknown flag '%s' (see --help)\n", a);
            return 2;
        }
        if (!v || !v[0]) {
            fprintf(stderr, "xisuan status: error: %s: missing value (see --help)\n", a);
            return 2;
        }
        ++i;
        if (strcmp(a, "--timeline") == 0) {
            timeline = v;
        } else if (strcmp(a, "--html") == 0) {
            html = v;
        } else {
            char *end = NULL;
            errno = 0;
            long n = strtol(v, &end, 10);
            if (errno || *end || end == v || n < 0 || n > 9999) {
                fprintf(stderr, "xisuan status: error: --frame: must be a frame number in [0, 9999], got '%s'\n", v);
                return 2;
            }
            frame = (int)n;
            have_frame = true;
        }
    }
    if (!dir) {
        usage(stderr);
        return 2;
    }
    if (have_frame && !timeline && !html) {
        fprintf(stderr, "xisuan status: error: --frame chooses the tile map of --timeline or --html\n");
        return 2;
    }
    if (timeline) {
        const size_t n = strlen(timeline);
        if (n < 5 || (strcmp(timeline + n - 4, ".svg") != 0 && strcmp(timeline + n - 4, ".png") != 0)) {
            fprintf(stderr, "xisuan status: error: --timeline %s: the file must end in .svg or .png\n", timeline);
            return 2;
        }
    }
    xs_err e;
    xs_err_clear(&e);
    xs_job_log st;
    if (xs_job_log_read(dir, &st, &e) != XS_OK) {
        fprintf(stderr, "xisuan status: error: %s\n", e.msg);
        xs_job_log_free(&st);
        return 2;
    }
    int status = 0;
    if (timeline || html) {
        char events[XS_PATH_MAX];
        xs_timeline tl;
        memset(&tl, 0, sizeof tl);
        xs_result r = xs_path_join(events, sizeof events, dir, "events.jsonl", &e);
        if (r == XS_OK)
            r = xs_timeline_from_events(&tl, events, &e);
        if (r == XS_OK && have_frame)
            r = xs_timeline_set_map_frame(&tl, frame, &e);
        if (r == XS_OK && timeline) {
            char title[200];
            snprintf(title, sizeof title, "job %s", st.job);
            r = xs_timeline_write(&tl, timeline, title, &e);
        }
        if (r == XS_OK && html)
            r = xs_status_html_write(html, dir, &st, &tl, &e);
        xs_timeline_free(&tl);
        if (r != XS_OK) {
            fprintf(stderr, "xisuan status: error: %s\n", e.msg);
            status = 2;
        }
    }
    print_text(&st);
    if (status == 0 && timeline)
        printf("  timeline: %s\n", timeline);
    if (status == 0 && html)
        printf("  page: %s\n", html);
    const bool completed = strcmp(st.state, "completed") == 0, failed = strcmp(st.state, "failed") == 0;
    xs_job_log_free(&st);
    if (status)
        return status;
    if (completed)
        return 0;
    if (failed)
        return 1;
    return 3; /* running, draining, drained (waiting for its requeue), or killed */
}
