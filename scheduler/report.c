/* Rank 0's bookkeeping of a run (see xs_report.h). */
#include "scheduler/xs_report.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>

#include "io/xs_json.h"

static double mpi_now(void *user)
{
    (void)user;
    return MPI_Wtime();
}

double xs_report_now(const xs_job_report *r) { return r->clock.now(r->clock.user); }

xs_result xs_report_open(xs_job_report *r, const xs_job *job, int ranks, xs_err *err)
{
    memset(r, 0, sizeof *r);
    r->job = job;
    r->clock.now = mpi_now;
    r->per_rank = calloc((size_t)ranks, sizeof *r->per_rank);
    if (!r->per_rank)
        return xs_err_set(err, XS_ERR_NOMEM, "report: out of memory");
    r->ranks = ranks;
    r->t_start = xs_report_now(r);
    r->last_progress = r->t_start;
    r->progress_interval = 30.0;
    xs_report_set_progress(r, job->opt->progress, job->opt->progress_interval_s);
    char path[XS_PATH_MAX];
    xs_result res = xs_job_file_path(&job->layout, "lock", path, sizeof path, err);
    if (res == XS_OK)
        res = xs_lock_acquire(path, &r->lock, err);
    int64_t removed = 0;
    if (res == XS_OK)
        res = xs_job_clean_temporaries(&job->layout, &removed, err);
    if (res == XS_OK && removed > 0)
        printf("xisuan: removed %lld temporary file(s) an interrupted run left in %s\n",
               (long long)removed, job->layout.dir);
    if (res == XS_OK)
        res = xs_job_open_files(job, ranks, &r->journal, &r->events, err);
    /* tile files go once their frame's record is durable (--keep-tiles keeps them) */
    if (res == XS_OK && r->journal && !job->opt->keep_tiles && job->opt->kernel == XS_KERNEL_PATH) {
        res = xs_tile_cleaner_create(job, &r->cleaner, err);
        if (res == XS_OK)
            xs_journal_on_durable(r->journal, xs_tile_cleaner_on_durable, r->cleaner);
    }
    return res;
}

/* Open MPI's singleton (a process started without a launcher) sets PMIX_RANK
 * too, through the helper daemon it forks; its ess component says which. */
static bool xs_mpi_singleton(void)
{
    const char *ess = getenv("OMPI_MCA_ess");
    return ess && strcmp(ess, "singleton") == 0;
}

void xs_report_set_progress(xs_job_report *r, int mode, double interval)
{
    /* under a launcher a rank's stdout is a pty even when the job's log is a
     * file, so auto keeps the live line for interactive single processes */
    bool launched = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_RANK") || getenv("SLURM_PROCID") ||
                    (getenv("PMIX_RANK") && !xs_mpi_singleton());
    if (mode == XS_PROGRESS_AUTO)
        mode = isatty(STDOUT_FILENO) && !launched ? XS_PROGRESS_TTY : XS_PROGRESS_PLAIN;
    r->tty = mode == XS_PROGRESS_TTY;
    r->progress_off = mode == XS_PROGRESS_OFF;
    r->progress_interval = r->tty ? 1.0 : interval;
}

void xs_report_close(xs_job_report *r)
{
    xs_journal_close(r->journal); /* its last batch's frames go to the cleaner */
    int64_t removed = 0, failed = 0;
    xs_tile_cleaner_destroy(r->cleaner, &removed, &failed);
    r->cleaner = NULL;
    if (failed > 0)
        fprintf(stderr, "xisuan: warning: %lld tile file(s) could not be removed after assembly (see above)\n",
                (long long)failed);
    xs_events_close(r->events);
    xs_lock_release(r->lock);
    free(r->per_rank);
    r->lock = NULL;
    r->journal = NULL;
    r->events = NULL;
    r->per_rank = NULL;
}

uint64_t xs_report_expect_hash(const xs_job_report *r, const xs_work_item *it)
{
    if (!r->journal || !(it->flags & XS_ITEM_VERIFY) || it->kind != XS_WORK_TILE)
        return 0;
    int fi = xs_job_frame_index(r->job, it->frame);
    return fi < 0 ? 0 : xs_journal_tile_hash(r->journal, fi, it->tile);
}

void xs_report_dispatch(xs_job_report *r, int rank, const xs_work_item *it)
{
    const bool copy = (it->flags & XS_ITEM_COPY) != 0;
    if (it->kind == XS_WORK_TILE)
        xs_events_tile_dispatched(r->events, it->frame, it->tile, rank, (it->flags & XS_ITEM_VERIFY) != 0, copy);
    else if (it->kind == XS_WORK_PART || it->kind == XS_WORK_MERGE)
        xs_events_part_dispatched(r->events, it->frame, it->tile, rank, it->kind == XS_WORK_MERGE,
                                  it->chunk_first, it->chunk_count, copy);
    else
        xs_events_assembly_dispatched(r->events, it->frame, rank);
}

void xs_report_duplicate(xs_job_report *r, int rank, const xs_work_item *it, const xs_item_report *rep)
{
    /* a tile written after its frame may have been cleaned */
    if (it->kind == XS_WORK_TILE || it->kind == XS_WORK_MERGE)
        xs_tile_cleaner_stray(r->cleaner, it->frame, it->tile);
    if (rank >= 0 && rank < r->ranks) {
        r->per_rank[rank].duplicates++;
        r->per_rank[rank].busy_s += rep->seconds;
    }
    xs_events_duplicate(r->events, it->frame, it->kind == XS_WORK_ASSEMBLE ? -1 : it->tile, rank, rep->seconds);
}

void xs_report_retired(xs_job_report *r, int rank, const xs_work_item *it, const char *why)
{
    if (r->progress_shown && r->tty)
        printf("\n");
    r->progress_shown = false;
    fprintf(stderr, "xisuan: warning: rank %d is retired: %s; it takes no more work and its items go to "
                    "other ranks\n", rank, why);
    fflush(stderr);
    if (rank >= 0 && rank < r->ranks)
        r->per_rank[rank].retired = true;
    char esc[1600];
    xs_json_escape(why, esc, sizeof esc);
    xs_events_emit(r->events, "rank_retired", "\"rank\": %d, \"frame\": %d, \"tile\": %d, \"error\": \"%s\"",
                   rank, it->frame, it->tile, esc);
}

xs_result xs_report_item(xs_job_report *r, int rank, const xs_work_item *it, const xs_item_report *rep,
                         bool ok, const char *text, xs_err *err)
{
    const xs_options *o = r->job->opt;
    xs_rank_stats *s = &r->per_rank[rank];
    s->busy_s += rep->seconds;
    if (!ok) {
        s->failures++;
        char esc[1600];
        xs_json_escape(text, esc, sizeof esc);
        if (it->kind != XS_WORK_ASSEMBLE) {
            const char *what = it->kind == XS_WORK_PART ? "part" : it->kind == XS_WORK_MERGE ? "merge" : "tile";
            if (!r->quiet)
                fprintf(stderr, "xisuan: error: rank %d: frame %d tile %d%s%s: %s\n", rank, it->frame,
                        it->tile, it->kind == XS_WORK_TILE ? "" : " ", it->kind == XS_WORK_TILE ? "" : what,
                        text);
            xs_events_emit(r->events, "tile_failed",
                           "\"frame\": %d, \"tile\": %d, \"rank\": %d, \"kind\": \"%s\", \"error\": \"%s\"",
                           it->frame, it->tile, rank, what, esc);
        } else {
            if (!r->quiet)
                fprintf(stderr, "xisuan: error: rank %d: frame %d assembly: %s\n", rank, it->frame, text);
            xs_events_emit(r->events, "assembly_failed", "\"frame\": %d, \"rank\": %d, \"error\": \"%s\"",
                           it->frame, rank, esc);
        }
        return XS_OK;
    }
    if (it->kind == XS_WORK_PART) { /* a share of a tile: its merge commits the tile */
        s->parts++;
        s->samples += rep->samples;
        s->kernel_s += rep->kernel_s;
        xs_counters_add(&s->counters, &rep->counters);
        xs_events_part_done(r->events, it->frame, it->tile, rank, it->chunk_first, it->chunk_count, rep->seconds);
        return XS_OK;
    }
    if (it->kind == XS_WORK_TILE || it->kind == XS_WORK_MERGE) {
        s->tiles++;
        s->samples += rep->samples;
        s->kernel_s += rep->kernel_s;
        xs_counters_add(&s->counters, &rep->counters);
        if (rep->kept)
            r->kept++;
        else
            r->rendered++;
        xs_events_tile_committed(r->events, it->frame, it->tile, rank, rep->seconds, rep->kept != 0,
                                 rep->hash);
        if (r->journal && !rep->kept)
            return xs_journal_commit_tile(r->journal, it->frame, it->tile, rep->hash, err);
        return XS_OK;
    }
    s->assemblies++;
    char path[XS_PATH_MAX];
    if (xs_job_frame_path(&r->job->layout, it->frame, "exr", path, sizeof path, NULL) == XS_OK) {
        if (r->progress_shown && r->tty)
            printf("\n");
        r->progress_shown = false;
        if (!r->quiet)
            printf("xisuan: frame %d written: %s\n", it->frame, path);
        char esc[XS_PATH_MAX * 2];
        xs_json_escape(path, esc, sizeof esc);
        xs_events_emit(r->events, "frame_assembled", "\"frame\": %d, \"rank\": %d, \"path\": \"%s\"",
                       it->frame, rank, esc);
    }
    if (o->preview && !r->quiet &&
        xs_job_frame_path(&r->job->layout, it->frame, "png", path, sizeof path, NULL) == XS_OK)
        printf("xisuan: preview: %s\n", path);
    fflush(stdout);
    if (r->journal)
        return xs_journal_commit_frame(r->journal, it->frame, rep->bytes, rep->hash, err);
    return XS_OK;
}

void xs_report_progress(xs_job_report *r, const xs_sched *s, bool force)
{
    double now = xs_report_now(r);
    if (r->progress_off || (!force && now - r->last_progress < r->progress_interval))
        return;
    r->last_progress = now;
    xs_sched_progress p;
    xs_sched_get_progress(s, &p);
    double wall = now - r->t_start, samples = 0.0;
    for (int i = 0; i < r->ranks; ++i)
        samples += r->per_rank[i].samples;
    int64_t left = p.tiles_total - p.tiles_done;
    double rate = wall > 0 ? (double)(r->rendered + r->kept) / wall : 0.0;
    char eta[32] = "?";
    if (rate > 0 && r->rendered > 0)
        snprintf(eta, sizeof eta, "%.0f s", (double)left / rate);
    else if (left == 0)
        snprintf(eta, sizeof eta, "0 s");
    printf("%sxisuan: frames %d/%d, tiles %lld/%lld (%lld in flight), %.3f Msamples/s, ETA %s%s",
           r->tty ? "\r" : "", p.frames_done, p.frames_total, (long long)p.tiles_done,
           (long long)p.tiles_total, (long long)p.tiles_in_flight,
           wall > 0 ? samples / wall * 1e-6 : 0.0, eta, r->tty ? "   " : "\n");
    r->progress_shown = true;
    fflush(stdout);
}

void xs_report_print(const xs_job_report *r, const xs_sched *s, xs_sched_state st, int workers)
{
    const xs_options *o = r->job->opt;
    double wall = xs_report_now(r) - r->t_start;
    xs_sched_progress p;
    xs_sched_get_progress(s, &p);
    if (r->progress_shown && r->tty)
        printf("\n");
    const char *state = st == XS_SCHED_COMPLETED ? "completed" : st == XS_SCHED_DRAINED ? "drained" : "FAILED";
    FILE *out = r->quiet ? NULL : stdout;
    /* a farm of many ranks: the first ones, then the spread */
    enum { SHOWN = 32 };
    if (out)
        fprintf(out, "xisuan: job %s %s: %d frame(s), %lld/%lld tiles (%lld rendered, %lld kept from an "
           "earlier run), %d worker(s), %.3f s wall\n",
           o->job, state, p.frames_total, (long long)p.tiles_done, (long long)p.tiles_total,
           (long long)r->rendered, (long long)r->kept, workers, wall);
    if (out && r->retired_workers > 0)
        fprintf(out, "  %d rank(s) retired (device lost); %lld item(s) went to other ranks\n",
                r->retired_workers, (long long)p.reassigned);
    if (out)
        fprintf(out, "  rank  tiles  frames  busy_s   busy%%  Msamples/s  Mrays/s  speed\n");
    double samples = 0.0, rays = 0.0, bmin = 1e300, bmax = 0.0, bsum = 0.0;
    int shown = 0, active = 0;
    /* the policy's speed estimates, relative to the workers' mean (worker w is rank w + offset) */
    const int offset = r->ranks - workers;
    double mean_speed = 0.0;
    for (int w = 0; w < workers; ++w)
        mean_speed += xs_sched_worker_speed(s, w) / workers;
    for (int i = 0; i < r->ranks; ++i) {
        const xs_rank_stats *x = &r->per_rank[i];
        if (x->tiles == 0 && x->assemblies == 0 && x->failures == 0 && !x->retired)
            continue;
        double nr = (double)(x->counters.camera_rays + x->counters.bounce_rays +
                             x->counters.shadow_rays);
        samples += x->samples;
        rays += nr;
        double b = wall > 0 ? 100.0 * x->busy_s / wall : 0.0;
        bmin = b < bmin ? b : bmin, bmax = b > bmax ? b : bmax, bsum += b, ++active;
        double speed = i - offset >= 0 && i - offset < workers && mean_speed > 0
                           ? xs_sched_worker_speed(s, i - offset) / mean_speed : 0.0;
        if (out && shown++ < SHOWN)
            fprintf(out, "  %4d  %5lld  %6lld  %6.2f  %5.1f%%  %10.3f  %7.2f  %5.2f%s\n", i, (long long)x->tiles,
                    (long long)x->assemblies, x->busy_s, b,
                    x->busy_s > 0 ? x->samples / x->busy_s * 1e-6 : 0.0,
                    x->busy_s > 0 ? nr / x->busy_s * 1e-6 : 0.0, speed,
                    x->retired ? "  (retired: device lost)" : "");
    }
    if (out && active > SHOWN)
        fprintf(out, "  ... %d more rank(s); busy%% over all %d: min %.1f, mean %.1f, max %.1f\n",
                active - SHOWN, active, bmin, bsum / active, bmax);
    if (out && (p.splits > 0 || p.duplicates > 0))
        fprintf(out, "  balance: %lld tile(s) split into parts, %lld speculative cop%s\n", (long long)p.splits,
                (long long)p.duplicates, p.duplicates == 1 ? "y" : "ies");
    if (out)
        fprintf(out, "  total: %.3f Msamples/s, %.2f Mrays/s over wall time; dispatch %lld items, "
           "%.0f items/s\n",
           wall > 0 ? samples / wall * 1e-6 : 0.0, wall > 0 ? rays / wall * 1e-6 : 0.0,
           (long long)p.assigned, wall > 0 ? (double)p.assigned / wall : 0.0);
    fflush(stdout);
    xs_events_emit(r->events, "job_summary",
                   "\"job\": \"%s\", \"state\": \"%s\", \"frames\": %d, \"tiles\": %lld, "
                   "\"rendered\": %lld, \"kept\": %lld, \"wall_s\": %.3f, \"samples_per_s\": %.1f, "
                   "\"rays_per_s\": %.1f",
                   o->job, st == XS_SCHED_COMPLETED ? "completed" : st == XS_SCHED_DRAINED ? "drained" : "failed",
                   p.frames_total,
                   (long long)p.tiles_total, (long long)r->rendered, (long long)r->kept, wall,
                   wall > 0 ? samples / wall : 0.0, wall > 0 ? rays / wall : 0.0);
}
