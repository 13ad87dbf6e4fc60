/* A worker executes work items (see xs_worker.h): tiles rendered on this
 * rank's back end and written as EXR tiles, earlier tiles verified, frames
 * assembled from their tiles' chunks. Per job the EXR layout and the tile
 * buffer are set once; per frame the kernel parameters are built once and the
 * frame's tile folder made once; per tile only its rectangle changes.
 */
#include "scheduler/xs_worker.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "io/xs_file.h"
#include "io/xs_image.h"
#include "render/xs_film.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

xs_result xs_worker_init(xs_worker *w, const xs_job *job, int rank, int threads, int gpu,
                         const xs_scene_input *input, xs_err *err)
{
    const xs_options *opt = job->opt;
    const xs_render_settings *rs = &opt->render;
    memset(w, 0, sizeof *w);
    w->job = job;
    w->rank = rank;
    w->threads = threads;
    w->gpu = gpu;
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
    w->channels = l->channel_count;
    if (opt->kernel == XS_KERNEL_EMPTY)
        return XS_OK;
    xs_scene_build build = {.threads = 0, .bvh = (xs_bvh_method)rs->bvh};
    xs_result r;
    if (input) {
        xs_scene_setup su;
        xs_scene_setup_from_manifest(&su, opt->name, &input->manifest, &input->env, &build);
        su.animations = rs->animations;
        r = xs_scene_from_gltf(input->gltf, &su, &w->scene, err);
    } else {
        r = xs_scene_builtin(opt->scene, &build, &w->scene, err);
    }
    if (r == XS_OK) {
        xs_scene_set_filter(w->scene, rs->filter, rs->filter_width);
        if (gpu >= 0)
            r = xs_backend_cuda_create(w->scene, rs->width, rs->height, gpu,
                                       rs->gpu_slots < XS_MAX_SLOTS ? rs->gpu_slots : XS_MAX_SLOTS,
                                       rs->tile * rs->tile, rs->spp, &w->backend, err);
        else
            r = xs_backend_cpu_create(w->scene, rs->width, rs->height, threads, &w->backend, err);
    }
    if (r == XS_OK) {
        w->tile_rgba = malloc((size_t)rs->tile * (size_t)rs->tile * (size_t)w->channels * sizeof(float));
        if (!w->tile_rgba)
            r = xs_err_set(err, XS_ERR_NOMEM, "tile buffer: out of memory (%d x %d)", rs->tile,
                           rs->tile);
    }
    if (r != XS_OK)
        xs_worker_free(w);
    return r;
}

void xs_worker_free(xs_worker *w)
{
    xs_backend_destroy(w->backend);
    xs_scene_destroy(w->scene);
    free(w->tile_rgba);
    w->backend = NULL;
    w->scene = NULL;
    w->tile_rgba = NULL;
}

/* The checksum of a tile's pixel records (every channel). */
static uint64_t pixels_hash(const float *rec, int w, int h, int channels)
{
    return XXH3_64bits(rec, (size_t)w * (size_t)h * (size_t)channels * sizeof(float));
}

/* An earlier run's tile: kept when its file decodes to the journaled checksum. */
static bool verify_tile(const xs_worker *w, const char *path, int x0, int y0, int tw, int th,
                        uint64_t expect)
{
    xs_image img;
    if (expect == 0 ||
        xs_exr_read_record(path, w->layout.channels, w->layout.channel_count, &img, NULL) != XS_OK)
        return false;
    bool ok = img.x0 == x0 && img.y0 == y0 && img.width == tw && img.height == th &&
              img.channels == w->channels && pixels_hash(img.rgba, tw, th, img.channels) == expect;
    xs_image_free(&img);
    return ok;
}

bool xs_worker_must_drain(const xs_worker *w, const xs_work_item *it)
{
    if (it->kind != XS_WORK_TILE || !w->scene || !xs_scene_animated(w->scene) || it->frame == w->scene_frame)
        return false;
    for (int i = 0; i < XS_MAX_SLOTS; ++i)
        if (w->flight[i].used)
            return true;
    return false;
}

/* An animated scene posed for `frame`, and the back end given what changed
 * (no tile in flight: the loop drains first). A failure leaves the scene
 * marked unposed, so the next tile poses it again. */
static xs_result pose_scene(xs_worker *w, int frame, double *seconds, bool *posed, xs_err *err)
{
    *seconds = 0.0;
    *posed = false;
    if (!xs_scene_animated(w->scene) || frame == w->scene_frame)
        return XS_OK;
    for (int i = 0; i < XS_MAX_SLOTS; ++i)
        if (w->flight[i].used)
            return xs_err_set(err, XS_ERR_INTERNAL, "worker: frame %d asked for with tiles in flight", frame);
    double t0 = now_s();
    w->scene_frame = INT_MIN;
    xs_result r = xs_scene_set_frame(w->scene, &w->timing, frame, &w->frame_stats, err);
    double t1 = now_s();
    if (r == XS_OK && w->backend->update)
        r = w->backend->update(w->backend, w->scene, err);
    w->upload_s += now_s() - t1;
    if (r != XS_OK)
        return r;
    xs_scene_blobs_taken(w->scene);
    w->scene_frame = frame;
    *posed = true;
    *seconds = now_s() - t0;
    w->scene_s += *seconds;
    return XS_OK;
}

/* Starts a tile: kept when verification finds it, else begun on a free slot
 * of the back end (*slot >= 0). */
static xs_result begin_tile(xs_worker *w, const xs_work_item *it, uint64_t expect_hash,
                            xs_item_report *rep, int *slot, xs_err *err)
{
    const xs_job *job = w->job;
    int x0, y0, tw, th;
    if (it->tile < 0 || it->tile >= xs_film_tile_count(&job->film))
        return xs_err_set(err, XS_ERR_INTERNAL, "tile index %d out of range", it->tile);
    xs_film_tile_rect(&job->film, it->tile, &x0, &y0, &tw, &th);
    if (job->opt->kernel == XS_KERNEL_EMPTY)
        return XS_OK;
    if (it->flags & XS_ITEM_VERIFY) {
        char path[XS_PATH_MAX];
        xs_result r = xs_job_tile_path(&job->layout, it->frame, it->tile, path, sizeof path, err);
        if (r != XS_OK)
            return r;
        if (verify_tile(w, path, x0, y0, tw, th, expect_hash)) {
            rep->kept = 1;
            rep->hash = expect_hash;
            return XS_OK;
        }
    }
    int s = xs_worker_free_slot(w);
    if (s < 0)
        return xs_err_set(err, XS_ERR_INTERNAL, "worker: no free back-end slot");
    if (w->frame_tp.frame != (uint32_t)it->frame)
        w->frame_tp = xs_render_tile_params(&job->opt->render, it->frame);
    double scene_s = 0.0;
    bool posed = false;
    xs_result r = pose_scene(w, it->frame, &scene_s, &posed, err);
    if (r != XS_OK)
        return r;
    xs_tile_params tp = w->frame_tp;
    tp.x0 = x0;
    tp.y0 = y0;
    tp.width = tw;
    tp.height = th;
    r = w->backend->begin_tile(w->backend, s, &tp, err);
    if (r != XS_OK)
        return r;
    struct xs_flight *f = &w->flight[s];
    f->scene_s = scene_s;
    f->scene_frames = posed;
    f->used = true;
    f->item = *it;
    f->x0 = x0, f->y0 = y0, f->tw = tw, f->th = th;
    *slot = s;
    return XS_OK;
}

/* Ends the tile in flight on slot: its pixels back, hashed, written. */
static xs_result finish_tile(xs_worker *w, struct xs_flight *f, xs_item_report *rep, xs_err *err)
{
    const xs_job *job = w->job;
    xs_result r = w->backend->end_tile(w->backend, (int)(f - w->flight), w->tile_rgba, &rep->counters, err);
    if (r != XS_OK)
        return r;
    const int tw = f->tw, th = f->th, frame = f->item.frame;
    rep->samples = (double)tw * (double)th * (double)job->opt->render.spp;
    rep->hash = pixels_hash(w->tile_rgba, tw, th, w->channels);
    char path[XS_PATH_MAX];
    if (w->tile_dir_frame != frame) { /* the frame's tile folder, once */
        if ((r = xs_job_tile_dir(&job->layout, frame, path, sizeof path, err)) != XS_OK ||
            (r = xs_mkdir_p(path, err)) != XS_OK)
            return r;
        w->tile_dir_frame = frame;
    }
    if ((r = xs_job_tile_path(&job->layout, frame, f->item.tile, path, sizeof path, err)) != XS_OK)
        return r;
    w->layout.attr_frame = frame;
    return xs_exr_write_tile(path, &w->layout, f->x0, f->y0, tw, th, w->tile_rgba, err);
}

static xs_result do_assemble(xs_worker *w, const xs_work_item *it, xs_item_report *rep, xs_err *err)
{
    const xs_job *job = w->job;
    if (job->opt->kernel == XS_KERNEL_EMPTY)
        return XS_OK;
    char path[XS_PATH_MAX];
    xs_result r = xs_job_frame_path(&job->layout, it->frame, "exr", path, sizeof path, err);
    if (r != XS_OK)
        return r;
    w->layout.attr_frame = it->frame;
    if ((r = xs_exr_assemble_frame(path, &w->layout, &job->layout, it->frame, &rep->bytes,
                                   &rep->hash, err)) != XS_OK)
        return r;
    if (!job->opt->preview)
        return XS_OK;
    xs_image img;
    if ((r = xs_exr_read_rgba(path, &img, err)) != XS_OK)
        return r;
    char png[XS_PATH_MAX];
    r = xs_job_frame_path(&job->layout, it->frame, "png", png, sizeof png, err);
    if (r == XS_OK)
        r = xs_png_write_preview(png, &img, err);
    xs_image_free(&img);
    return r;
}

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
                              "XS_FAULT: '%s': expected fail|hang|kill:RANK:N or tile:FRAME:TILE", spec);
        if (strcmp(kind, "tile") == 0) {
            if (w->fail_tile_count < 8) {
                w->fail_tiles[w->fail_tile_count][0] = (int)a;
                w->fail_tiles[w->fail_tile_count++][1] = (int)b;
            }
            continue;
        }
        if (b < 1)
            return xs_err_set(err, XS_ERR_INVALID, "XS_FAULT: '%s': N must be at least 1", spec);
        if (a != w->rank)
            continue;
        if (strcmp(kind, "fail") == 0)
            w->fail_at = b;
        else if (strcmp(kind, "hang") == 0)
            w->hang_at = b;
        else if (strcmp(kind, "kill") == 0)
            w->kill_at = b;
        else
            return xs_err_set(err, XS_ERR_INVALID, "XS_FAULT: '%s': unknown kind '%s'", spec, kind);
    }
    return XS_OK;
}

int xs_worker_free_slot(const xs_worker *w)
{
    int n = w->backend ? w->backend->slots : 1;
    n = n < XS_MAX_SLOTS ? n : XS_MAX_SLOTS;
    for (int i = 0; i < n; ++i)
        if (!w->flight[i].used)
            return i;
    return -1;
}

/* Seconds an item occupied this rank: from its start or the end of the item
 * before, whichever is later, so items in flight together count once. */
static double item_seconds(xs_worker *w, double t0)
{
    double t = now_s();
    double s = t - (t0 > w->last_done ? t0 : w->last_done);
    w->last_done = t;
    return s > 0.0 ? s : 0.0;
}

xs_result xs_worker_begin(xs_worker *w, const xs_work_item *it, uint64_t expect_hash,
                          xs_item_report *rep, int *slot, xs_err *err)
{
    memset(rep, 0, sizeof *rep);
    *slot = -1;
    double t0 = now_s();
    xs_result r;
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
    bool bad_tile = false;
    for (int i = 0; i < w->fail_tile_count; ++i)
        bad_tile |= it->kind == XS_WORK_TILE && it->frame == w->fail_tiles[i][0] &&
                    it->tile == w->fail_tiles[i][1];
    if (w->items == w->fail_at || bad_tile)
        r = xs_err_set(err, XS_ERR_RENDER, "injected fault (XS_FAULT) at item %lld",
                       (long long)w->items);
    else if (it->kind == XS_WORK_TILE)
        r = begin_tile(w, it, expect_hash, rep, slot, err);
    else if (it->kind == XS_WORK_ASSEMBLE)
        r = do_assemble(w, it, rep, err);
    else
        r = xs_err_set(err, XS_ERR_INTERNAL, "unknown work item kind %d", it->kind);
    if (*slot >= 0)
        w->flight[*slot].t0 = t0;
    else
        rep->seconds = item_seconds(w, t0);
    return r;
}

xs_result xs_worker_finish(xs_worker *w, int slot, xs_item_report *rep, xs_err *err)
{
    struct xs_flight *f = &w->flight[slot];
    memset(rep, 0, sizeof *rep);
    xs_result r = finish_tile(w, f, rep, err);
    rep->scene_s = f->scene_s;
    rep->scene_frames = f->scene_frames;
    f->used = false;
    rep->seconds = item_seconds(w, f->t0);
    return r;
}

xs_result xs_worker_execute(xs_worker *w, const xs_work_item *it, uint64_t expect_hash,
                            xs_item_report *rep, xs_err *err)
{
    int slot = -1;
    xs_result r = xs_worker_begin(w, it, expect_hash, rep, &slot, err);
    if (r == XS_OK && slot >= 0)
        r = xs_worker_finish(w, slot, rep, err);
    return r;
}
