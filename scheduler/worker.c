/* A worker executes work items (see xs_worker.h) as a pipeline: the
 * pumping thread drives the back end; writer threads do the file work.
 * Per job the EXR layout is set once; per frame the kernel parameters are
 * built once and the frame's tile folder made once (by the pumping thread,
 * before the frame's first write); per tile only its rectangle changes.
 *
 * Each item held is an entry that moves through these states:
 *   QUEUED -> (VERIFY at a writer: kept -> RESULT; else back to QUEUED to render)
 *   QUEUED -> DEVICE (a back-end slot) -> WRITE (a buffer, at a writer) -> RESULT
 *   QUEUED -> ASSEMBLE (at a writer) -> RESULT
 *   QUEUED -> MERGE (at a writer) -> RESULT
 * and any state that fails -> RESULT. A tile of an animated scene is posed
 * for its frame just before DEVICE, once the device holds no tile of another
 * frame. A PART (some of a tile's sample
 * chunks) goes the way of a tile, with a buffer of its own for its packed
 * records, written as a part file (io/xs_partials.h); a MERGE reads its
 * tile's parts, adds them in chunk order (render/xs_parts.h), writes the
 * tile as a TILE would have (the same bytes and checksum), then removes the
 * parts. Items start in the order they came; results leave in the order they
 * finished. Entries are allocated once and never move (writer tasks point
 * into them).
 */
#include "scheduler/xs_worker.h"

#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "io/xs_file.h"
#include "io/xs_image.h"
#include "io/xs_partials.h"
#include "render/xs_film.h"
#include "render/xs_parts.h"
#include "scheduler/xs_protocol.h"
#include "scheduler/xs_writer.h"

enum { E_FREE = 0, E_QUEUED, E_VERIFY, E_DEVICE, E_WRITE, E_ASSEMBLE, E_MERGE, E_RESULT };

/* zstd level of part files: the fastest (partial sums of noise compress
 * little; alpha and sample counts do) */
enum { PART_ZSTD_LEVEL = 1 };

typedef struct entry {
    xs_writer_task task; /* run at a writer: verify, write, merge or assemble */
    const xs_worker *w;  /* read-only at the writer */
    int state;
    bool started;        /* counted as an item (faults) and timed */
    bool render;         /* verification failed: render it */
    uint64_t seq;        /* arrival order: items start in it */
    uint64_t dev_seq;    /* order on the device: the oldest ends first */
    uint64_t done_seq;   /* order of results */
    xs_work_item item;
    uint64_t expect;
    int slot, buf;
    int x0, y0, tw, th;
    float *part;       /* a PART's records, from the device to its writer (owned) */
    xs_tile_params tp; /* a MERGE's tile (set by the pumping thread, read at the writer) */
    double t0;
    xs_exr_layout layout; /* a copy, attr_frame set */
    xs_result r;
    xs_err err;
    xs_item_report rep;
} entry;

struct xs_worker_pipe {
    xs_writer *writer;
    entry *e[XS_WORKER_MAX_HELD];
    int count;   /* entries allocated */
    int held;    /* entries not free */
    float **buf; /* pixel buffers for writes */
    bool *buf_used;
    int nbuf;
    int slot_entry[XS_BACKEND_MAX_SLOTS]; /* the entry on each back-end slot, -1: free */
    uint64_t next_seq, next_dev, next_done;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int slot_count(const xs_worker *w)
{
    int n = w->backend ? w->backend->slots : 1;
    return n < XS_BACKEND_MAX_SLOTS ? n : XS_BACKEND_MAX_SLOTS;
}

/* ---- set-up ---------------------------------------------------------------------- */

/* Everything but the scene and back end: layout, writers, buffers. */
static xs_result init_common(xs_worker *w, const xs_job *job, int rank, int writers, xs_err *err)
{
    const xs_options *opt = job->opt;
    const xs_render_settings *rs = &opt->render;
    w->job = job;
    w->rank = rank;
    w->writers = writers > 0 ? writers : 0;
    w->tile_dir_frame = -1;
    w->frame_tp.frame = UINT32_MAX;
    w->scene_frame = INT_MIN;
    w->timing.fps = rs->fps;
    w->timing.time_offset = rs->time_offset;
    w->timing.shutter = rs->shutter;
    w->timing.motion_steps = rs->motion_steps;
    xs_exr_layout *l = &w->layout;
    l->frame_width = rs->width;
    l->frame_height = rs->height;
    l->tile_size = rs->tile;
    l->compression = opt->compression;
    l->zip_level = opt->zip_level;
    l->channel_count = xs_aov_channel_names(rs->aovs, l->channels);
    l->attr_job = opt->job;
    l->attr_software = "xisuan " XS_VERSION;
    l->attr_spp = rs->spp;
    l->attr_seed = rs->seed;
    l->defer_dir_sync = true; /* collect() syncs each frame's tile folder once per batch */
    w->channels = l->channel_count;
    xs_worker_pipe *p = calloc(1, sizeof *p);
    if (!p)
        return xs_err_set(err, XS_ERR_NOMEM, "worker: out of memory");
    w->pipe = p;
    for (int i = 0; i < XS_BACKEND_MAX_SLOTS; ++i)
        p->slot_entry[i] = -1;
    xs_result r = xs_writer_create(w->writers, &p->writer, err);
    if (r != XS_OK)
        return r;
    /* a buffer for each writer's tile and one being filled from the device */
    p->nbuf = opt->kernel == XS_KERNEL_EMPTY ? 0 : w->writers + 1;
    p->buf = calloc((size_t)(p->nbuf ? p->nbuf : 1), sizeof *p->buf);
    p->buf_used = calloc((size_t)(p->nbuf ? p->nbuf : 1), sizeof *p->buf_used);
    if (!p->buf || !p->buf_used)
        return xs_err_set(err, XS_ERR_NOMEM, "worker: out of memory");
    size_t bytes = (size_t)rs->tile * (size_t)rs->tile * (size_t)w->channels * sizeof(float);
    for (int i = 0; i < p->nbuf; ++i)
        if (!(p->buf[i] = malloc(bytes)))
            return xs_err_set(err, XS_ERR_NOMEM, "tile buffers: out of memory (%d of %zu bytes)", p->nbuf, bytes);
    return XS_OK;
}

/* The back end over w->scene: CUDA device w->gpu, or the CPU. A GPU that
 * cannot hold the scene retires this rank before it renders: it says so,
 * and its back end is lost from the start, so every item it is given goes
 * back to rank 0 (XS_REPORT_LOST) for the ranks that can. */
static xs_result make_backend(xs_worker *w, const xs_options *opt, int threads, xs_err *err)
{
    const xs_render_settings *rs = &opt->render;
    xs_scene_set_filter(w->scene, rs->filter, rs->filter_width);
    if (w->gpu < 0)
        return rs->backend == XS_BACKEND_EMBREE
                   ? xs_backend_embree_create(w->scene, rs->width, rs->height, threads, &w->backend, err)
                   : xs_backend_cpu_create(w->scene, rs->width, rs->height, threads, &w->backend, err);
    xs_scene_set_gpu_texture_budget(w->scene, opt->gpu_tex_bytes);
    xs_result r = xs_backend_cuda_create(w->scene, rs->width, rs->height, w->gpu, rs->gpu_slots, rs->tile * rs->tile,
                                         rs->spp, &w->backend, err);
    if (r != XS_ERR_NOMEM)
        return r;
    static const float none[1] = {0.0f};
    char why[600];
    snprintf(why, sizeof why, "%s; this rank renders nothing, its work goes to the ranks that can", err->msg);
    fprintf(stderr, "xisuan: warning: rank %d: %s\n", w->rank, why);
    r = xs_backend_standin_create(none, 1, 1, 1, 0, &w->backend, err);
    if (r == XS_OK)
        xs_backend_lose(w->backend, why);
    return r;
}

xs_result xs_worker_init(xs_worker *w, const xs_job *job, int rank, int threads, int gpu, int writers,
                         const xs_scene_input *input, xs_err *err)
{
    const xs_options *opt = job->opt;
    const xs_render_settings *rs = &opt->render;
    memset(w, 0, sizeof *w);
    w->threads = threads;
    w->gpu = gpu;
    xs_result r = init_common(w, job, rank, writers, err);
    if (r == XS_OK && opt->kernel == XS_KERNEL_PATH) {
        xs_scene_build build = {.threads = 0, .bvh = (xs_bvh_method)rs->bvh};
        if (input) {
            xs_scene_setup su;
            xs_scene_setup_from_manifest(&su, opt->name, &input->manifest, &input->env, &build);
            su.pages = input->pages;
            su.animations = rs->animations;
            r = xs_scene_from_gltf(input->gltf, &su, &w->scene, err);
        } else {
            r = xs_scene_builtin(opt->scene, &build, &w->scene, err);
        }
        if (r == XS_OK)
            r = make_backend(w, opt, threads, err);
    }
    if (r != XS_OK)
        xs_worker_free(w);
    return r;
}

xs_result xs_worker_init_scene(xs_worker *w, const xs_job *job, int rank, int threads, int gpu, int writers,
                               xs_scene *scene, xs_err *err)
{
    memset(w, 0, sizeof *w);
    w->threads = threads;
    w->gpu = gpu;
    xs_result r = init_common(w, job, rank, writers, err);
    if (r == XS_OK && job->opt->kernel == XS_KERNEL_PATH) {
        w->scene = scene;
        w->scene_borrowed = true;
        r = make_backend(w, job->opt, threads, err);
    }
    if (r != XS_OK)
        xs_worker_free(w);
    return r;
}

xs_result xs_worker_init_backend(xs_worker *w, const xs_job *job, int rank, xs_backend *backend, int writers,
                                 xs_err *err)
{
    memset(w, 0, sizeof *w);
    w->threads = 1;
    w->gpu = -1;
    w->backend = backend;
    xs_result r = init_common(w, job, rank, writers, err);
    if (r != XS_OK)
        xs_worker_free(w);
    return r;
}

void xs_worker_free(xs_worker *w)
{
    xs_worker_pipe *p = w->pipe;
    if (p) {
        xs_writer_destroy(p->writer); /* waits for every task: they point into entries */
        for (int i = 0; i < p->count; ++i) {
            free(p->e[i]->part);
            free(p->e[i]);
        }
        for (int i = 0; p->buf && i < p->nbuf; ++i)
            free(p->buf[i]);
        free(p->buf);
        free(p->buf_used);
        free(p);
    }
    xs_backend_destroy(w->backend);
    if (!w->scene_borrowed)
        xs_scene_destroy(w->scene);
    w->pipe = NULL;
    w->backend = NULL;
    w->scene = NULL;
}

int xs_worker_depth(const xs_worker *w)
{
    if (w->job && w->job->opt->kernel == XS_KERNEL_EMPTY)
        return 2; /* nothing to overlap: dispatch alone */
    int d = slot_count(w) + w->writers + 1;
    return d < XS_WORKER_MAX_HELD ? d : XS_WORKER_MAX_HELD;
}

int xs_worker_held(const xs_worker *w) { return w->pipe ? w->pipe->held : 0; }

void xs_worker_backoff(xs_worker *w, int *idle)
{
    long ns = xs_backoff_step(idle);
    /* past the first spins, a write in progress is what the worker waits
     * for: it sleeps on the writers (woken as one finishes), not the clock */
    if (ns != 0 && w->pipe && w->pipe->writer && xs_writer_wait(w->pipe->writer, ns > 0 ? ns : 20000L))
        return;
    if (ns < 0) {
        sched_yield();
    } else if (ns > 0) {
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
    }
}

bool xs_worker_parts(const xs_worker *w)
{
    return w->job && w->job->opt->kernel == XS_KERNEL_PATH && xs_backend_parts(w->backend);
}

bool xs_worker_lost(const xs_worker *w) { return w->backend && w->backend->lost; }

/* ---- the writers' tasks ------------------------------------------------------------ */

#define ENTRY_OF(t) ((entry *)((char *)(t) - offsetof(entry, task)))

/* The checksum of a tile's pixel records (every channel). */
static uint64_t pixels_hash(const float *rec, int w, int h, int channels)
{
    return XXH3_64bits(rec, (size_t)w * (size_t)h * (size_t)channels * sizeof(float));
}

/* Hash, compress, write and sync a rendered tile. */
static void task_write(xs_writer_task *t)
{
    entry *e = ENTRY_OF(t);
    const xs_worker *w = e->w;
    const float *px = w->pipe->buf[e->buf];
    e->rep.hash = pixels_hash(px, e->tw, e->th, w->channels);
    char path[XS_PATH_MAX];
    e->r = xs_job_tile_path(&w->job->layout, e->item.frame, e->item.tile, path, sizeof path, &e->err);
    if (e->r == XS_OK)
        e->r = xs_exr_write_tile(path, &e->layout, e->x0, e->y0, e->tw, e->th, px, &e->err);
}

/* What a part file of this entry's tile holds: chunks [first, first + count). */
static xs_partials_info part_info(const entry *e, int first, int count)
{
    const xs_render_settings *rs = &e->w->job->opt->render;
    xs_partials_info in = {.frame = e->item.frame,
                           .tile = e->item.tile,
                           .x0 = e->x0,
                           .y0 = e->y0,
                           .width = e->tw,
                           .height = e->th,
                           .spp = rs->spp,
                           .chunk_first = first,
                           .chunk_count = count,
                           .mask = xs_parts_mask(rs->aovs),
                           .floats = xs_parts_floats(rs->aovs)};
    return in;
}

/* Write and sync a rendered part. */
static void task_write_part(xs_writer_task *t)
{
    entry *e = ENTRY_OF(t);
    const xs_worker *w = e->w;
    char path[XS_PATH_MAX];
    xs_partials_info in = part_info(e, e->item.chunk_first, e->item.chunk_count);
    e->r = xs_job_part_path(&w->job->layout, e->item.frame, e->item.tile, in.chunk_first, in.chunk_count, path,
                            sizeof path, &e->err);
    if (e->r == XS_OK)
        e->r = xs_partials_write(path, &in, e->part, PART_ZSTD_LEVEL, &e->err);
}

/* A split tile: its parts (chunk_first of them over chunk_count chunks, cut
 * as the policy cuts) read and checked, added in chunk order, and written
 * as the tile; then the parts are removed (a part a copy writes later is
 * removed at the end of the run). */
static void task_merge(xs_writer_task *t)
{
    entry *e = ENTRY_OF(t);
    const xs_worker *w = e->w;
    const int P = e->item.chunk_first, C = e->item.chunk_count;
    float **parts = calloc((size_t)P, sizeof *parts);
    int *counts = calloc((size_t)P, sizeof *counts);
    float *px = malloc((size_t)e->tw * (size_t)e->th * (size_t)w->channels * sizeof(float));
    char path[XS_PATH_MAX];
    e->r = parts && counts && px ? XS_OK
                                 : xs_err_set(&e->err, XS_ERR_NOMEM, "merging frame %d tile %d: out of memory",
                                              e->item.frame, e->item.tile);
    for (int j = 0; e->r == XS_OK && j < P; ++j) {
        const int first = xs_parts_first(j, P, C);
        counts[j] = xs_parts_first(j + 1, P, C) - first;
        xs_partials_info in = part_info(e, first, counts[j]);
        e->r = xs_job_part_path(&w->job->layout, e->item.frame, e->item.tile, first, counts[j], path, sizeof path,
                                &e->err);
        if (e->r == XS_OK && (e->r = xs_partials_read(path, &in, &parts[j], &e->err)) != XS_OK) {
            char why[sizeof e->err.msg];
            snprintf(why, sizeof why, "%s", e->err.msg);
            xs_err_set(&e->err, e->r, "merging frame %d tile %d: part %d of %d (sample chunks [%d, %d)): %s",
                       e->item.frame, e->item.tile, j + 1, P, first, first + counts[j], why);
        }
    }
    if (e->r == XS_OK) {
        xs_parts_merge(&e->tp, (const float *const *)parts, counts, P, px);
        e->rep.hash = pixels_hash(px, e->tw, e->th, w->channels);
        e->r = xs_job_tile_path(&w->job->layout, e->item.frame, e->item.tile, path, sizeof path, &e->err);
    }
    if (e->r == XS_OK)
        e->r = xs_exr_write_tile(path, &e->layout, e->x0, e->y0, e->tw, e->th, px, &e->err);
    /* the tile is durable: its parts are of no more use */
    for (int j = 0; e->r == XS_OK && j < P; ++j) {
        const int first = xs_parts_first(j, P, C);
        if (xs_job_part_path(&w->job->layout, e->item.frame, e->item.tile, first, counts[j], path, sizeof path,
                             NULL) == XS_OK)
            (void)unlink(path); /* one left behind is removed at the end of the run */
    }
    for (int j = 0; parts && j < P; ++j)
        free(parts[j]);
    free(parts);
    free(counts);
    free(px);
}

/* An earlier run's tile: kept when its file decodes to the journaled checksum. */
static void task_verify(xs_writer_task *t)
{
    entry *e = ENTRY_OF(t);
    const xs_worker *w = e->w;
    char path[XS_PATH_MAX];
    xs_image img;
    e->rep.kept = 0;
    if (e->expect == 0 || xs_job_tile_path(&w->job->layout, e->item.frame, e->item.tile, path, sizeof path, NULL) != XS_OK ||
        xs_exr_read_record(path, w->layout.channels, w->layout.channel_count, &img, NULL) != XS_OK)
        return;
    e->rep.kept = img.x0 == e->x0 && img.y0 == e->y0 && img.width == e->tw && img.height == e->th &&
                  img.channels == w->channels && pixels_hash(img.rgba, e->tw, e->th, img.channels) == e->expect;
    xs_image_free(&img);
}

/* A frame from its tiles' chunks, with its preview written on the way (a
 * row of tiles at a time), and the frame file's size and checksum for the
 * journal. */
static void task_assemble(xs_writer_task *t)
{
    entry *e = ENTRY_OF(t);
    const xs_job *job = e->w->job;
    char path[XS_PATH_MAX], png[XS_PATH_MAX];
    e->r = xs_job_frame_path(&job->layout, e->item.frame, "exr", path, sizeof path, &e->err);
    if (e->r == XS_OK && job->opt->preview)
        e->r = xs_job_frame_path(&job->layout, e->item.frame, "png", png, sizeof png, &e->err);
    if (e->r == XS_OK)
        e->r = xs_exr_assemble_frame(path, &e->layout, &job->layout, e->item.frame,
                                     job->opt->preview ? png : NULL, &e->rep.bytes, &e->rep.hash, &e->err);
}

/* ---- the pipeline ------------------------------------------------------------------ */

/* Seconds an item occupied this rank: from its start or the end of the item
 * before, whichever is later, so items in flight together count once. */
static double item_seconds(xs_worker *w, double t0)
{
    double t = now_s();
    double s = t - (t0 > w->last_done ? t0 : w->last_done);
    w->last_done = t;
    return s > 0.0 ? s : 0.0;
}

/* The entry's outcome is known: r (with e->err when it failed). */
static void finish(xs_worker *w, entry *e, xs_result r)
{
    free(e->part); /* a PART's records: written, or of no use */
    e->part = NULL;
    e->r = r;
    if (r == XS_ERR_DEVICE)
        e->rep.flags |= XS_REPORT_LOST;
    e->rep.seconds = e->started ? item_seconds(w, e->t0) : 0.0;
    e->state = E_RESULT;
    e->done_seq = w->pipe->next_done++;
}

static void fail(xs_worker *w, entry *e, xs_result r, const char *msg)
{
    xs_err_set(&e->err, r, "%s", msg);
    finish(w, e, r);
}

/* The reason every item needing the lost device fails with. */
static const char *lost_why(const xs_worker *w)
{
    return w->backend && w->backend->lost_why[0] ? w->backend->lost_why : "the device is lost";
}

xs_result xs_worker_push(xs_worker *w, const xs_work_item *it, uint64_t expect_hash, xs_err *err)
{
    xs_worker_pipe *p = w->pipe;
    entry *e = NULL;
    for (int i = 0; i < p->count && !e; ++i)
        if (p->e[i]->state == E_FREE)
            e = p->e[i];
    if (!e) {
        if (p->count == XS_WORKER_MAX_HELD)
            return xs_err_set(err, XS_ERR_INTERNAL, "worker: more than %d items held", XS_WORKER_MAX_HELD);
        if (!(e = malloc(sizeof *e)))
            return xs_err_set(err, XS_ERR_NOMEM, "worker: out of memory");
        p->e[p->count++] = e;
    }
    memset(e, 0, offsetof(entry, err));
    xs_err_clear(&e->err);
    memset(&e->rep, 0, sizeof e->rep);
    e->w = w;
    e->state = E_QUEUED;
    e->item = *it;
    e->expect = expect_hash;
    e->seq = p->next_seq++;
    e->slot = e->buf = -1;
    p->held++;
    return XS_OK;
}

/* A PART or MERGE this worker can do: a back end that renders parts (for a
 * PART), a chunk range (PART) or a cut (MERGE: chunk_first parts over
 * chunk_count chunks, the job's) that fits the job's spp. False: it ended. */
static bool check_part(xs_worker *w, entry *e)
{
    const xs_render_settings *rs = &w->job->opt->render;
    const int chunks = xs_parts_chunks(rs->spp);
    xs_result r = XS_OK;
    if (e->item.kind == XS_WORK_PART) {
        if (!xs_backend_parts(w->backend))
            r = xs_err_set(&e->err, XS_ERR_INVALID, "rank %d: frame %d tile %d: its %s back end renders no parts of tiles",
                           w->rank, e->item.frame, e->item.tile, w->backend ? w->backend->name : "(no)");
        else if (xs_parts_check_range(rs->spp, e->item.chunk_first, e->item.chunk_count, &e->err) != XS_OK)
            r = XS_ERR_INTERNAL;
    } else if (e->item.chunk_count != chunks || e->item.chunk_first < 1 || e->item.chunk_first > chunks) {
        r = xs_err_set(&e->err, XS_ERR_INTERNAL,
                       "frame %d tile %d: a merge of %d part(s) over %d chunk(s); the job's tiles have %d chunk(s)",
                       e->item.frame, e->item.tile, e->item.chunk_first, e->item.chunk_count, chunks);
    } else {
        e->tp = xs_render_tile_params(rs, e->item.frame);
        e->tp.x0 = e->x0;
        e->tp.y0 = e->y0;
        e->tp.width = e->tw;
        e->tp.height = e->th;
    }
    if (r != XS_OK)
        finish(w, e, r);
    return r == XS_OK;
}

/* The item starts (first time only): counted, timed, and the injected
 * faults for its number applied. False when it ended right there. */
static bool start_item(xs_worker *w, entry *e)
{
    if (e->started)
        return true;
    e->started = true;
    e->t0 = now_s();
    ++w->items;
    if (w->items == w->kill_at) {
        fprintf(stderr, "xisuan: rank %d: injected fault (XS_FAULT): SIGKILL at item %lld\n", w->rank,
                (long long)w->items);
        fflush(stderr);
        raise(SIGKILL);
    }
    if (w->items == w->hang_at) {
        fprintf(stderr, "xisuan: rank %d: injected fault (XS_FAULT): hanging at item %lld\n", w->rank,
                (long long)w->items);
        fflush(stderr);
        for (;;)
            pause();
    }
    if (w->items == w->lost_at && w->backend)
        xs_backend_lose(w->backend, "injected fault (XS_FAULT): the device is lost");
    bool bad_tile = false;
    for (int i = 0; i < w->fail_tile_count; ++i)
        bad_tile |= e->item.kind != XS_WORK_ASSEMBLE && e->item.frame == w->fail_tiles[i][0] &&
                    e->item.tile == w->fail_tiles[i][1];
    if (w->items == w->fail_at || bad_tile) {
        xs_err_set(&e->err, XS_ERR_RENDER, "injected fault (XS_FAULT) at item %lld", (long long)w->items);
        finish(w, e, XS_ERR_RENDER);
        return false;
    }
    const int kind = e->item.kind;
    if (kind != XS_WORK_TILE && kind != XS_WORK_ASSEMBLE && kind != XS_WORK_PART && kind != XS_WORK_MERGE) {
        xs_err_set(&e->err, XS_ERR_INTERNAL, "unknown work item kind %d", e->item.kind);
        finish(w, e, XS_ERR_INTERNAL);
        return false;
    }
    if (kind != XS_WORK_ASSEMBLE) {
        const xs_film *film = &w->job->film;
        if (e->item.tile < 0 || e->item.tile >= xs_film_tile_count(film)) {
            xs_err_set(&e->err, XS_ERR_INTERNAL, "tile index %d out of range", e->item.tile);
            finish(w, e, XS_ERR_INTERNAL);
            return false;
        }
        xs_film_tile_rect(film, e->item.tile, &e->x0, &e->y0, &e->tw, &e->th);
    }
    if ((kind == XS_WORK_PART || kind == XS_WORK_MERGE) && w->job->opt->kernel == XS_KERNEL_PATH &&
        !check_part(w, e))
        return false;
    e->layout = w->layout;
    e->layout.attr_frame = e->item.frame;
    return true;
}

static int free_slot(const xs_worker *w)
{
    const int n = slot_count(w);
    for (int s = 0; s < n; ++s)
        if (w->pipe->slot_entry[s] < 0)
            return s;
    return -1;
}

static int entry_index(const xs_worker_pipe *p, const entry *e)
{
    for (int i = 0; i < p->count; ++i)
        if (p->e[i] == e)
            return i;
    return -1;
}

/* ---- an animated scene's frame ----------------------------------------------------- */

/* The entry's tile needs the scene posed for another frame than it shows. */
static bool needs_pose(const xs_worker *w, const entry *e)
{
    return w->scene && xs_scene_animated(w->scene) && e->item.frame != w->scene_frame;
}

/* A tile is on the back end (begun, not yet ended): the scene must hold still. */
static bool device_busy(const xs_worker *w)
{
    const int n = slot_count(w);
    for (int s = 0; s < n; ++s)
        if (w->pipe->slot_entry[s] >= 0)
            return true;
    return false;
}

/* Poses the animated scene for the entry's frame and gives the back end what
 * changed, on the pumping thread, with no tile on the back end (start_queued
 * drains first: a back end renders from the scene as it is until the tile
 * ends). The entry's report carries the frame change and its seconds. A
 * failure leaves the scene marked unposed, so the next tile poses it again. */
static xs_result pose_scene(xs_worker *w, entry *e)
{
    if (device_busy(w))
        return xs_err_set(&e->err, XS_ERR_INTERNAL, "worker: frame %d asked for with tiles on the device",
                          e->item.frame);
    double t0 = now_s();
    w->scene_frame = INT_MIN;
    xs_result r = xs_scene_set_frame(w->scene, &w->timing, e->item.frame, &w->frame_stats, &e->err);
    double t1 = now_s();
    if (r == XS_OK)
        r = xs_backend_update(w->backend, w->scene, &e->err);
    w->upload_s += now_s() - t1;
    if (r != XS_OK)
        return r;
    xs_scene_blobs_taken(w->scene);
    w->scene_frame = e->item.frame;
    e->rep.scene_frames = 1;
    e->rep.scene_s = now_s() - t0;
    w->scene_s += e->rep.scene_s;
    return XS_OK;
}

/* Begins a tile on slot s of the back end (the scene posed for its frame first). */
static void begin_tile(xs_worker *w, entry *e, int s)
{
    xs_worker_pipe *p = w->pipe;
    if (needs_pose(w, e)) {
        xs_result r = pose_scene(w, e);
        if (r != XS_OK) {
            finish(w, e, r);
            return;
        }
    }
    if (w->frame_tp.frame != (uint32_t)e->item.frame)
        w->frame_tp = xs_render_tile_params(&w->job->opt->render, e->item.frame);
    xs_tile_params tp = w->frame_tp;
    tp.x0 = e->x0;
    tp.y0 = e->y0;
    tp.width = e->tw;
    tp.height = e->th;
    if (e->item.kind == XS_WORK_PART) { /* its records' buffer, before the device holds it */
        const size_t n = xs_parts_record_floats(e->tw, e->th, e->item.chunk_count, tp.aovs);
        if (!(e->part = malloc(n * sizeof(float)))) {
            xs_err_set(&e->err, XS_ERR_NOMEM, "frame %d tile %d: out of memory for a part of %zu bytes",
                       e->item.frame, e->item.tile, n * sizeof(float));
            finish(w, e, XS_ERR_NOMEM);
            return;
        }
    }
    xs_result r = e->item.kind == XS_WORK_PART ? xs_backend_begin_part(w->backend, s, &tp, e->item.chunk_first,
                                                                         e->item.chunk_count, &e->err)
                                                : xs_backend_begin(w->backend, s, &tp, &e->err);
    if (r != XS_OK) {
        finish(w, e, r);
        return;
    }
    p->slot_entry[s] = entry_index(p, e);
    e->slot = s;
    e->state = E_DEVICE;
    e->dev_seq = p->next_dev++;
}

/* A queued entry that needs a device slot to go on. */
static bool needs_device(const entry *e)
{
    return (e->item.kind == XS_WORK_TILE && (e->render || !(e->item.flags & XS_ITEM_VERIFY))) ||
           e->item.kind == XS_WORK_PART;
}

/* Starts queued items in arrival order: tiles to render as far as the
 * device has free slots (once one must wait, later ones wait too; a tile of
 * another frame of an animated scene waits until the device has ended every
 * tile of the frame it shows); verifications and assemblies go to the
 * writers whatever the device does. */
static bool start_queued(xs_worker *w)
{
    xs_worker_pipe *p = w->pipe;
    const bool empty_kernel = w->job->opt->kernel == XS_KERNEL_EMPTY;
    bool moved = false, device_full = false;
    for (;;) {
        entry *e = NULL;
        for (int i = 0; i < p->count; ++i) {
            entry *c = p->e[i];
            if (c->state == E_QUEUED && !(device_full && needs_device(c)) && (!e || c->seq < e->seq))
                e = c;
        }
        if (!e)
            return moved;
        int s = -1;
        if (needs_device(e) && !empty_kernel && !xs_worker_lost(w) &&
            ((s = free_slot(w)) < 0 || (needs_pose(w, e) && device_busy(w)))) {
            device_full = true;
            continue;
        }
        moved = true;
        if (!start_item(w, e))
            continue;
        if (xs_worker_lost(w)) {
            fail(w, e, XS_ERR_DEVICE, lost_why(w));
        } else if (empty_kernel) {
            finish(w, e, XS_OK); /* no pixels, no files: dispatch alone is measured */
        } else if (e->item.kind == XS_WORK_ASSEMBLE) {
            e->state = E_ASSEMBLE;
            e->task.run = task_assemble;
            xs_writer_submit(p->writer, &e->task);
        } else if (e->item.kind == XS_WORK_MERGE) {
            e->state = E_MERGE;
            e->task.run = task_merge;
            xs_writer_submit(p->writer, &e->task);
        } else if (!needs_device(e)) {
            e->state = E_VERIFY;
            e->task.run = task_verify;
            xs_writer_submit(p->writer, &e->task);
        } else {
            begin_tile(w, e, s);
        }
    }
}

/* Ends device tiles, oldest first, while the device has finished them and a
 * buffer is free; each goes to a writer. */
static bool end_finished(xs_worker *w)
{
    xs_worker_pipe *p = w->pipe;
    bool moved = false;
    for (;;) {
        entry *e = NULL;
        for (int i = 0; i < p->count; ++i)
            if (p->e[i]->state == E_DEVICE && (!e || p->e[i]->dev_seq < e->dev_seq))
                e = p->e[i];
        if (!e)
            return moved;
        const bool part = e->item.kind == XS_WORK_PART; /* a buffer of its own */
        int b = 0;
        while (!part && b < p->nbuf && p->buf_used[b])
            ++b;
        if (!part && b == p->nbuf && !xs_worker_lost(w))
            return moved; /* every buffer is at a writer: the writers are the bottleneck */
        if (!xs_backend_poll(w->backend, e->slot))
            return moved;
        moved = true;
        p->slot_entry[e->slot] = -1;
        if (xs_worker_lost(w)) { /* nothing comes back from a lost device */
            fail(w, e, XS_ERR_DEVICE, lost_why(w));
            continue;
        }
        const int spp = w->job->opt->render.spp;
        xs_result r = xs_backend_end(w->backend, e->slot, part ? e->part : p->buf[b], &e->rep.counters,
                                     &e->rep.kernel_s, &e->err);
        if (r != XS_OK) {
            finish(w, e, r);
            continue;
        }
        e->rep.samples = (double)e->tw * (double)e->th *
                         (double)(part ? xs_parts_samples(spp, e->item.chunk_first, e->item.chunk_count) : spp);
        if (w->tile_dir_frame != e->item.frame) { /* the frame's tile folder, once */
            char dir[XS_PATH_MAX];
            if ((r = xs_job_tile_dir(&w->job->layout, e->item.frame, dir, sizeof dir, &e->err)) != XS_OK ||
                (r = xs_mkdir_p(dir, &e->err)) != XS_OK) {
                finish(w, e, r);
                continue;
            }
            w->tile_dir_frame = e->item.frame;
        }
        if (!part) {
            p->buf_used[b] = true;
            e->buf = b;
        }
        e->state = E_WRITE;
        e->task.run = part ? task_write_part : task_write;
        xs_writer_submit(p->writer, &e->task);
    }
}

/* A tile file this entry renamed into place, its folder not yet synced: a
 * rendered tile or a merged one (a part file is synced on its own). */
static bool tile_renamed(const entry *e)
{
    return e->r == XS_OK && ((e->state == E_WRITE && e->item.kind == XS_WORK_TILE) || e->state == E_MERGE);
}

/* Takes what the writers finished. Tile files are renamed into place
 * without a sync of their folder (the layout defers it): the folder of each
 * frame among them is synced once, then their results go out, durable. */
static bool collect(xs_worker *w)
{
    xs_worker_pipe *p = w->pipe;
    entry *done[XS_WORKER_MAX_HELD];
    int n = 0;
    bool moved = false;
    for (xs_writer_task *t; n < XS_WORKER_MAX_HELD && (t = xs_writer_take(p->writer, false)) != NULL;) {
        entry *e = ENTRY_OF(t);
        moved = true;
        if (e->state == E_VERIFY) {
            if (e->rep.kept) {
                e->rep.hash = e->expect;
                finish(w, e, XS_OK);
            } else {
                e->render = true; /* missing or different: render it, in its turn */
                e->state = E_QUEUED;
            }
            continue;
        }
        if (e->state == E_WRITE && e->buf >= 0) {
            p->buf_used[e->buf] = false;
            e->buf = -1;
        }
        done[n++] = e;
    }
    for (int i = 0; i < n; ++i) {
        entry *e = done[i];
        if (!tile_renamed(e))
            continue;
        bool synced = false; /* this frame's folder, for an earlier entry of the batch */
        for (int k = 0; k < i && !synced; ++k)
            synced = tile_renamed(done[k]) && done[k]->item.frame == e->item.frame;
        if (synced)
            continue;
        char dir[XS_PATH_MAX];
        xs_result r = xs_job_tile_dir(&w->job->layout, e->item.frame, dir, sizeof dir, &e->err);
        if (r == XS_OK)
            r = xs_fsync_dir(dir, &e->err);
        if (r != XS_OK) /* every tile of this frame in the batch fails with it */
            for (int k = i; k < n; ++k)
                if (tile_renamed(done[k]) && done[k]->item.frame == e->item.frame) {
                    done[k]->r = r;
                    done[k]->err = e->err;
                }
    }
    for (int i = 0; i < n; ++i)
        finish(w, done[i], done[i]->r);
    return moved;
}

/* A lost device: what waits for it fails now. */
static bool fail_lost(xs_worker *w)
{
    xs_worker_pipe *p = w->pipe;
    bool moved = false;
    if (!xs_worker_lost(w))
        return false;
    for (int i = 0; i < p->count; ++i) {
        entry *e = p->e[i];
        bool waits = e->state == E_DEVICE ||
                     (e->state == E_QUEUED && (e->item.kind == XS_WORK_ASSEMBLE || e->render ||
                                               !(e->item.flags & XS_ITEM_VERIFY)));
        if (!waits)
            continue;
        if (e->state == E_DEVICE)
            p->slot_entry[e->slot] = -1;
        fail(w, e, XS_ERR_DEVICE, lost_why(w));
        moved = true;
    }
    return moved;
}

int xs_worker_pump(xs_worker *w, xs_worker_result *out, int max, bool *progress)
{
    xs_worker_pipe *p = w->pipe;
    bool moved = collect(w);
    moved |= fail_lost(w);
    moved |= start_queued(w);
    moved |= end_finished(w);
    moved |= start_queued(w); /* slots the ends freed */
    moved |= collect(w);      /* writes that ran inline (0 writers) */
    moved |= fail_lost(w);
    int n = 0;
    while (n < max) {
        entry *e = NULL;
        for (int i = 0; i < p->count; ++i)
            if (p->e[i]->state == E_RESULT && (!e || p->e[i]->done_seq < e->done_seq))
                e = p->e[i];
        if (!e)
            break;
        xs_worker_result *res = &out[n++];
        res->item = e->item;
        res->r = e->r;
        res->rep = e->rep;
        snprintf(res->text, sizeof res->text, "%s", e->r == XS_OK ? "" : e->err.msg);
        e->state = E_FREE;
        p->held--;
    }
    *progress = moved || n > 0;
    return n;
}

/* ---- faults ---------------------------------------------------------------------------- */

xs_result xs_worker_faults_from_env(xs_worker *w, xs_err *err)
{
    const char *v = getenv("XS_FAULT");
    if (!v || !*v)
        return XS_OK;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *spec = strtok_r(buf, ";", &save); spec; spec = strtok_r(NULL, ";", &save)) {
        char kind[16];
        long long a = -1, b = -1;
        char tail = 0;
        if (sscanf(spec, "%15[a-z]:%lld:%lld%c", kind, &a, &b, &tail) != 3 || a < 0 || b < 0)
            return xs_err_set(err, XS_ERR_INVALID,
                              "XS_FAULT: '%s': expected fail|hang|kill|lost:RANK:N or tile:FRAME:TILE", spec);
        if (strcmp(kind, "tile") == 0) {
            if (w->fail_tile_count < 8) {
                w->fail_tiles[w->fail_tile_count][0] = (int)a;
                w->fail_tiles[w->fail_tile_count++][1] = (int)b;
            }
            continue;
        }
        if (b < 1)
            return xs_err_set(err, XS_ERR_INVALID, "XS_FAULT: '%s': N must be at least 1", spec);
        if (strcmp(kind, "fail") != 0 && strcmp(kind, "hang") != 0 && strcmp(kind, "kill") != 0 &&
            strcmp(kind, "lost") != 0)
            return xs_err_set(err, XS_ERR_INVALID, "XS_FAULT: '%s': unknown kind '%s'", spec, kind);
        if (a != w->rank)
            continue;
        if (strcmp(kind, "fail") == 0)
            w->fail_at = b;
        else if (strcmp(kind, "hang") == 0)
            w->hang_at = b;
        else if (strcmp(kind, "kill") == 0)
            w->kill_at = b;
        else
            w->lost_at = b;
    }
    return XS_OK;
}
