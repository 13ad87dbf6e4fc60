/* A job's set-up (see xs_job.h): its grid and folder, the key of its
 * settings, its journal and event log, and the policy over what is left. */
#include "scheduler/xs_job.h"
#include "io/xs_file.h"
#include "kernels/xs_path.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

/* Every setting that changes pixels or files, with the scene's content hash:
 * the journal's key. Frames are not in it: a resumed job may add frames. */
static void job_settings(const xs_options *o, uint64_t scene_hash, char *out, size_t n)
{
    static const char *comp[] = {"none", "zip", "piz"};
    const xs_render_settings *r = &o->render;
    char px[512];
    xs_render_settings_key(r, px, sizeof px);
    snprintf(out, n,
             "scene=%016" PRIx64 " res=%dx%d spp=%d tile=%d bounces=%d seed=%u compression=%s:%d "
             "name=%s kernel=%s %s xisuan=%s",
             scene_hash, r->width, r->height, r->spp, r->tile, r->max_bounces, (unsigned)r->seed,
             comp[o->compression], o->compression == XS_EXR_ZIP ? o->zip_level : 0, o->name,
             o->kernel == XS_KERNEL_PATH ? "path" : "empty", px, XS_VERSION);
}

xs_result xs_job_init(xs_job *job, const xs_options *opt, uint64_t scene_hash, xs_err *err)
{
    memset(job, 0, sizeof *job);
    job->opt = opt;
    job->scene_hash = scene_hash;
    xs_film_init(&job->film, opt->render.width, opt->render.height, opt->render.tile);
    memset(job->frame_index, 0xff, sizeof job->frame_index);
    for (int i = 0; i < opt->frame_count; ++i)
        job->frame_index[opt->frames[i]] = (int16_t)i;
    job_settings(opt, scene_hash, job->settings, sizeof job->settings);
    return xs_job_layout_init(&job->layout, opt->out_dir, opt->job, opt->name, job->film.tiles_x,
                              err);
}

int xs_job_frame_index(const xs_job *job, int frame)
{
    return frame >= 0 && frame < XS_MAX_FRAMES ? job->frame_index[frame] : -1;
}

xs_result xs_job_open_files(const xs_job *job, int ranks, xs_journal **journal,
                            xs_events **events, xs_err *err)
{
    const xs_options *o = job->opt;
    *journal = NULL;
    *events = NULL;
    char path[XS_PATH_MAX];
    xs_result r = xs_job_file_path(&job->layout, "events.jsonl", path, sizeof path, err);
    if (r == XS_OK)
        r = xs_events_open(path, events, err);
    if (r == XS_OK && o->kernel == XS_KERNEL_PATH) {
        r = xs_job_file_path(&job->layout, "journal", path, sizeof path, err);
        if (r == XS_OK)
            r = xs_journal_open(path, XXH3_64bits(job->settings, strlen(job->settings)),
                                job->settings, o->force, o->frames, o->frame_count,
                                xs_film_tile_count(&job->film), journal, err);
    }
    if (r != XS_OK) {
        xs_journal_close(*journal);
        xs_events_close(*events);
        *journal = NULL;
        *events = NULL;
        return r;
    }
    bool resumed = *journal && xs_journal_resumed(*journal);
    if (resumed)
        printf("xisuan: resuming job %s: the journal holds %lld committed tile(s) and %d assembled "
               "frame(s) of this run's frames; they are verified, not rendered again\n",
               o->job, (long long)xs_journal_loaded_tiles(*journal),
               xs_journal_loaded_frames(*journal));
    xs_events_emit(*events, "job_start",
                   "\"job\": \"%s\", \"scene\": \"%016" PRIx64 "\", \"frames\": %d, "
                   "\"tiles_per_frame\": %d, \"ranks\": %d, \"resumed\": %s, \"journal_tiles\": %lld, "
                   "\"settings\": \"%s\"",
                   o->job, job->scene_hash, o->frame_count, xs_film_tile_count(&job->film), ranks,
                   resumed ? "true" : "false",
                   (long long)(*journal ? xs_journal_loaded_tiles(*journal) : 0), job->settings);
    return XS_OK;
}

/* A frame an earlier run assembled is skipped only when its file is still
 * the one journaled: the same size and XXH3 checksum (read whole, once per
 * resume). A frame missing, truncated or changed is assembled again from its
 * tiles (which are verified, or rendered again where they are gone). */
static bool frame_intact(const xs_job *job, const xs_journal *journal, int fi)
{
    uint64_t size = 0, hash = 0, fsize = 0, fhash = 0;
    char path[XS_PATH_MAX];
    if (!xs_journal_frame_assembled(journal, fi, &size, &hash) ||
        xs_job_frame_path(&job->layout, job->opt->frames[fi], "exr", path, sizeof path, NULL) != XS_OK ||
        access(path, F_OK) != 0)
        return false;
    if (size == 0 || xs_file_hash(path, &fsize, &fhash, NULL) != XS_OK || fsize != size || fhash != hash) {
        printf("xisuan: frame %d: %s differs from what the journal recorded (%llu bytes, now %llu); "
               "it is assembled again\n", job->opt->frames[fi], path, (unsigned long long)size,
               (unsigned long long)fsize);
        return false;
    }
    return true;
}

/* Test hooks (docs/operations.md, like XS_FAULT): XS_TEST_SPLIT=P splits
 * every tile into P parts (2..64) and XS_TEST_COPY=1 sends a copy of every
 * tile and part to another worker, so tests see what balance does only at a
 * real tail. Unset or empty: off. */
static xs_result test_hooks(xs_sched_desc *d, xs_err *err)
{
    const char *v = getenv("XS_TEST_SPLIT");
    if (v && *v) {
        char *end = NULL;
        long p = strtol(v, &end, 10);
        if (*end || p < 2 || p > 64)
            return xs_err_set(err, XS_ERR_INVALID, "XS_TEST_SPLIT: '%s': expected a part count in [2, 64]", v);
        d->test_split = (int)p;
    }
    v = getenv("XS_TEST_COPY");
    if (v && *v) {
        if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
            return xs_err_set(err, XS_ERR_INVALID, "XS_TEST_COPY: '%s': expected 0 or 1", v);
        d->test_copy = strcmp(v, "1") == 0;
    }
    return XS_OK;
}

xs_result xs_job_sched_create(const xs_job *job, int workers, const int *prefetch, bool parts,
                              const double *speed_prior, const xs_journal *journal, xs_sched **out,
                              xs_err *err)
{
    const xs_options *o = job->opt;
    const int nframes = o->frame_count, T = xs_film_tile_count(&job->film);
    xs_sched_desc d = {.frames = o->frames,
                       .frame_count = nframes,
                       .tiles_per_frame = T,
                       .worker_count = workers,
                       .prefetch = prefetch[0],
                       .worker_prefetch = prefetch,
                       .assemble = o->kernel == XS_KERNEL_PATH,
                       .max_retries = o->retries,
                       .balance = o->balance,
                       .chunks_per_tile = parts && o->kernel == XS_KERNEL_PATH
                                              ? (o->render.spp + XS_SAMPLE_CHUNK - 1) / XS_SAMPLE_CHUNK
                                              : 1,
                       .worker_speed = speed_prior,
                       .frame_affinity = job->animated};
    if (test_hooks(&d, err) != XS_OK)
        return XS_ERR_INVALID;
    /* resume: frames an earlier run assembled (and whose file is there) are
     * skipped; tiles it committed are verified instead of rendered */
    uint8_t *skip = NULL, *journaled = NULL;
    if (journal && xs_journal_resumed(journal)) {
        skip = calloc((size_t)nframes, 1);
        journaled = calloc((size_t)nframes * (size_t)T, 1);
        if (!skip || !journaled) {
            free(skip), free(journaled);
            return xs_err_set(err, XS_ERR_NOMEM, "out of memory");
        }
        for (int i = 0; i < nframes; ++i) {
            skip[i] = frame_intact(job, journal, i);
            for (int t = 0; t < T; ++t)
                journaled[(size_t)i * (size_t)T + (size_t)t] = xs_journal_tile_hash(journal, i, t) != 0;
        }
        d.skip = skip;
        d.journaled = journaled;
    }
    xs_result r = xs_sched_create(&d, out, err);
    /* the policy borrows skip and journaled for its life: keep them with it */
    if (r == XS_OK)
        xs_sched_adopt(*out, skip, journaled);
    else
        free(skip), free(journaled);
    return r;
}

int xs_job_exit_status(xs_sched_state st)
{
    switch (st) {
    case XS_SCHED_COMPLETED: return 0;
    case XS_SCHED_DRAINED: return 75;
    default: return 1;
    }
}
