/* The worker: executes work items and, under MPI, pulls them from rank 0.
 *
 * A TILE item is rendered by the back end into one tile buffer and written as
 * a compressed EXR under OUT/JOB/tiles/FFFF/ (atomic rename). An ASSEMBLE item
 * copies the frame's tile chunks into OUT/JOB/NAME.FFFF.exr and writes the PNG
 * preview beside it. The loop keeps `prefetch` requests in flight: it asks for
 * the next items before it needs them, so it never waits on rank 0 between
 * tiles.
 */
#include "scheduler/farm_internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

xs_result xs_job_frame_path(const xs_options *o, int frame, const char *ext, char *out, size_t n,
                            xs_err *err)
{
    int k = snprintf(out, n, "%s/%s/%s.%04d.%s", o->out_dir, o->job, o->name, frame, ext);
    if (k < 0 || (size_t)k >= n)
        return xs_err_set(err, XS_ERR_INVALID, "--out: output path too long");
    return XS_OK;
}

xs_result xs_job_tile_path(const xs_options *o, const xs_film *film, int frame, int tile,
                           char *out, size_t n, xs_err *err)
{
    int k = snprintf(out, n, "%s/%s/tiles/%04d/x%04d_y%04d.exr", o->out_dir, o->job, frame,
                     tile % film->tiles_x, tile / film->tiles_x);
    if (k < 0 || (size_t)k >= n)
        return xs_err_set(err, XS_ERR_INVALID, "--out: output path too long");
    return XS_OK;
}

static xs_result scene_from_input(const xs_options *opt, const xs_scene_input *in, xs_scene **out,
                                  xs_err *err)
{
    const xs_manifest *m = &in->manifest;
    xs_scene_setup su;
    memset(&su, 0, sizeof su);
    su.name = opt->name;
    su.cam_mode = m->cam_mode;
    su.cam_name = m->cam_name;
    su.cam_index = m->cam_index;
    memcpy(su.cam_pos, m->cam_pos, sizeof su.cam_pos);
    memcpy(su.cam_target, m->cam_target, sizeof su.cam_target);
    memcpy(su.cam_up, m->cam_up, sizeof su.cam_up);
    su.cam_yfov_deg = m->cam_yfov_deg;
    memcpy(su.env_color, m->env_color, sizeof su.env_color);
    su.env_strength = m->env_strength;
    su.env_image = in->env.rgba ? &in->env : NULL;
    return xs_scene_from_gltf(in->gltf, &su, out, err);
}

xs_result xs_worker_ctx_init(xs_worker_ctx *w, const xs_options *opt, int threads, int gpu,
                             const xs_scene_input *input, xs_err *err)
{
    memset(w, 0, sizeof *w);
    w->opt = opt;
    w->threads = threads;
    w->gpu = gpu;
    xs_film_init(&w->film, opt->width, opt->height, opt->tile);
    int k = snprintf(w->job_dir, sizeof w->job_dir, "%s/%s", opt->out_dir, opt->job);
    if (k < 0 || (size_t)k >= sizeof w->job_dir)
        return xs_err_set(err, XS_ERR_INVALID, "--out: output path too long");
    if (opt->kernel == XS_KERNEL_EMPTY)
        return XS_OK;
    xs_scene_bvh_method((xs_bvh_method)opt->bvh);
    xs_result r = input ? scene_from_input(opt, input, &w->scene, err)
                        : xs_scene_builtin(opt->scene, &w->scene, err);
    if (r == XS_OK) {
        xs_scene_set_filter(w->scene, opt->filter, opt->filter_width);
        if (gpu >= 0)
            r = xs_backend_cuda_create(w->scene, opt->width, opt->height, gpu,
                                       opt->gpu_slots < XS_MAX_SLOTS ? opt->gpu_slots : XS_MAX_SLOTS,
                                       opt->tile * opt->tile, opt->spp, &w->backend, err);
        else
            r = xs_backend_cpu_create(w->scene, opt->width, opt->height, threads, &w->backend, err);
    }
    w->channels = xs_aov_channels(opt->aovs);
    if (r == XS_OK) {
        w->tile_rgba = malloc((size_t)opt->tile * (size_t)opt->tile * (size_t)w->channels * sizeof(float));
        if (!w->tile_rgba)
            r = xs_err_set(err, XS_ERR_NOMEM, "tile buffer: out of memory (%d x %d)", opt->tile,
                           opt->tile);
    }
    if (r != XS_OK)
        xs_worker_ctx_free(w);
    return r;
}

void xs_worker_ctx_free(xs_worker_ctx *w)
{
    xs_backend_destroy(w->backend);
    xs_scene_destroy(w->scene);
    free(w->tile_rgba);
    w->backend = NULL;
    w->scene = NULL;
    w->tile_rgba = NULL;
}

static void fill_layout(const xs_worker_ctx *w, int frame, xs_exr_layout *l)
{
    memset(l, 0, sizeof *l);
    l->frame_width = w->opt->width;
    l->frame_height = w->opt->height;
    l->tile_size = w->opt->tile;
    l->compression = w->opt->compression;
    l->zip_level = w->opt->zip_level;
    l->aovs = w->opt->aovs;
    l->attr_job = w->opt->job;
    l->attr_software = "xisuan " XS_VERSION;
    l->attr_frame = frame;
    l->attr_spp = w->opt->spp;
    l->attr_seed = w->opt->seed;
}

typedef struct tile_paths {
    const xs_worker_ctx *w;
    int frame;
    char buf[XS_PATH_MAX];
} tile_paths;

static const char *tile_path_cb(void *user, int tile)
{
    tile_paths *tp = (tile_paths *)user;
    if (xs_job_tile_path(tp->w->opt, &tp->w->film, tp->frame, tile, tp->buf, sizeof tp->buf, NULL) !=
        XS_OK)
        tp->buf[0] = '\0';
    return tp->buf;
}

/* The checksum of a tile's pixel records (every channel). */
static uint64_t pixels_hash(const float *rec, int w, int h, int channels)
{
    return XXH3_64bits(rec, (size_t)w * (size_t)h * (size_t)channels * sizeof(float));
}

/* An earlier run's tile: kept when its file decodes to the journaled checksum. */
static bool verify_tile(const xs_worker_ctx *w, const char *path, int x0, int y0, int tw, int th,
                        uint64_t expect)
{
    xs_image img;
    if (expect == 0 || xs_exr_read_record(path, w->opt->aovs, &img, NULL) != XS_OK)
        return false;
    bool ok = img.x0 == x0 && img.y0 == y0 && img.width == tw && img.height == th &&
              img.channels == w->channels && pixels_hash(img.rgba, tw, th, img.channels) == expect;
    xs_image_free(&img);
    return ok;
}

/* Starts a tile: kept when verification finds it, else begun on a free slot
 * of the back end (*slot >= 0). */
static xs_result begin_tile(xs_worker_ctx *w, const xs_work_item *it, uint64_t expect_hash,
                            xs_item_report *rep, int *slot, xs_err *err)
{
    int x0, y0, tw, th;
    if (it->tile < 0 || it->tile >= xs_film_tile_count(&w->film))
        return xs_err_set(err, XS_ERR_INTERNAL, "tile index %d out of range", it->tile);
    xs_film_tile_rect(&w->film, it->tile, &x0, &y0, &tw, &th);
    if (w->opt->kernel == XS_KERNEL_EMPTY)
        return XS_OK;
    char path[XS_PATH_MAX];
    xs_result r = xs_job_tile_path(w->opt, &w->film, it->frame, it->tile, path, sizeof path, err);
    if (r != XS_OK)
        return r;
    if ((it->flags & XS_ITEM_VERIFY) && verify_tile(w, path, x0, y0, tw, th, expect_hash)) {
        rep->kept = 1;
        rep->hash = expect_hash;
        return XS_OK;
    }
    int s = xs_worker_free_slot(w);
    if (s < 0)
        return xs_err_set(err, XS_ERR_INTERNAL, "worker: no free back-end slot");
    xs_tile_params tp = xs_tile_params_frame(w->opt->width, w->opt->height, w->opt->spp,
                                             w->opt->max_bounces);
    tp.x0 = x0;
    tp.y0 = y0;
    tp.width = tw;
    tp.height = th;
    tp.seed = w->opt->seed;
    tp.frame = (uint32_t)it->frame;
    tp.clamp = w->opt->clamp;
    tp.mis = w->opt->mis;
    tp.aovs = w->opt->aovs;
    if ((r = w->backend->begin_tile(w->backend, s, &tp, err)) != XS_OK)
        return r;
    struct xs_flight *f = &w->flight[s];
    f->used = true;
    f->item = *it;
    f->x0 = x0, f->y0 = y0, f->tw = tw, f->th = th;
    snprintf(f->path, sizeof f->path, "%s", path);
    *slot = s;
    return XS_OK;
}

/* Ends the tile in flight on slot: its pixels back, hashed, written. */
static xs_result finish_tile(xs_worker_ctx *w, struct xs_flight *f, xs_item_report *rep, xs_err *err)
{
    xs_result r = w->backend->end_tile(w->backend, (int)(f - w->flight), w->tile_rgba, &rep->counters, err);
    if (r != XS_OK)
        return r;
    const int tw = f->tw, th = f->th;
    rep->samples = (double)tw * (double)th * (double)w->opt->spp;
    rep->hash = pixels_hash(w->tile_rgba, tw, th, w->channels);
    char dir[XS_PATH_MAX];
    int k = snprintf(dir, sizeof dir, "%s/tiles/%04d", w->job_dir, f->item.frame);
    if (k < 0 || (size_t)k >= sizeof dir)
        return xs_err_set(err, XS_ERR_INVALID, "--out: output path too long");
    if ((r = xs_mkdir_p(dir, err)) != XS_OK)
        return r;
    xs_exr_layout layout;
    fill_layout(w, f->item.frame, &layout);
    return xs_exr_write_tile(f->path, &layout, f->x0, f->y0, tw, th, w->tile_rgba, err);
}

static xs_result do_assemble(xs_worker_ctx *w, const xs_work_item *it, xs_err *err)
{
    if (w->opt->kernel == XS_KERNEL_EMPTY)
        return XS_OK;
    char path[XS_PATH_MAX];
    xs_result r = xs_job_frame_path(w->opt, it->frame, "exr", path, sizeof path, err);
    if (r != XS_OK)
        return r;
    xs_exr_layout layout;
    fill_layout(w, it->frame, &layout);
    tile_paths tp = {.w = w, .frame = it->frame};
    if ((r = xs_exr_assemble_frame(path, &layout, tile_path_cb, &tp, err)) != XS_OK)
        return r;
    if (!w->opt->preview)
        return XS_OK;
    xs_image img;
    if ((r = xs_exr_read_rgba(path, &img, err)) != XS_OK)
        return r;
    char png[XS_PATH_MAX];
    r = xs_job_frame_path(w->opt, it->frame, "png", png, sizeof png, err);
    if (r == XS_OK)
        r = xs_png_write_preview(png, &img, err);
    xs_image_free(&img);
    return r;
}

xs_result xs_fault_from_env(int rank, xs_worker_ctx *w, xs_err *err)
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
        if (a != rank)
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

int xs_worker_free_slot(const xs_worker_ctx *w)
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
static double item_seconds(xs_worker_ctx *w, double t0)
{
    double t = now_s();
    double s = t - (t0 > w->last_done ? t0 : w->last_done);
    w->last_done = t;
    return s > 0.0 ? s : 0.0;
}

xs_result xs_worker_begin(xs_worker_ctx *w, const xs_work_item *it, uint64_t expect_hash,
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
        r = do_assemble(w, it, err);
    else
        r = xs_err_set(err, XS_ERR_INTERNAL, "unknown work item kind %d", it->kind);
    if (*slot >= 0)
        w->flight[*slot].t0 = t0;
    else
        rep->seconds = item_seconds(w, t0);
    return r;
}

xs_result xs_worker_finish(xs_worker_ctx *w, int slot, xs_item_report *rep, xs_err *err)
{
    struct xs_flight *f = &w->flight[slot];
    memset(rep, 0, sizeof *rep);
    xs_result r = finish_tile(w, f, rep, err);
    f->used = false;
    rep->seconds = item_seconds(w, f->t0);
    return r;
}

xs_result xs_worker_execute(xs_worker_ctx *w, const xs_work_item *it, uint64_t expect_hash,
                            xs_item_report *rep, xs_err *err)
{
    int slot = -1;
    xs_result r = xs_worker_begin(w, it, expect_hash, rep, &slot, err);
    if (r == XS_OK && slot >= 0)
        r = xs_worker_finish(w, slot, rep, err);
    return r;
}

/* Sends an item's result to rank 0 (it carries the next request). */
static xs_result send_result(MPI_Comm comm, const xs_work_item *it, xs_result r, const xs_item_report *rep,
                             const xs_err *e, xs_err *err)
{
    xs_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.report = *rep;
    msg.type = r == XS_OK ? XS_MSG_DONE : XS_MSG_FAILED;
    msg.item = *it;
    if (r != XS_OK)
        snprintf(msg.text, sizeof msg.text, "%s", e->msg);
    int rc = MPI_Send(&msg, (int)sizeof msg, MPI_BYTE, 0, XS_TAG_UP, comm);
    return rc == MPI_SUCCESS ? XS_OK : xs_mpi_fail(err, "worker: sending a result to rank 0", rc);
}

xs_result xs_worker_run(MPI_Comm comm, xs_worker_ctx *w, xs_err *err)
{
    const int prefetch = w->opt->prefetch;
    xs_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.type = XS_MSG_REQUEST;
    for (int i = 0; i < prefetch; ++i) {
        int rc = MPI_Send(&msg, (int)sizeof msg, MPI_BYTE, 0, XS_TAG_UP, comm);
        if (rc != MPI_SUCCESS)
            return xs_mpi_fail(err, "worker: sending a request to rank 0", rc);
    }
    int outstanding = prefetch;
    /* local queue: at most `prefetch` items can be held at once */
    xs_work_item *queue = malloc((size_t)prefetch * sizeof *queue);
    uint64_t *hashes = malloc((size_t)prefetch * sizeof *hashes);
    if (!queue || !hashes) {
        free(queue);
        free(hashes);
        return xs_err_set(err, XS_ERR_NOMEM, "worker: out of memory");
    }
    /* tiles in flight on the back end, oldest first */
    int fifo[XS_MAX_SLOTS], fhead = 0, flen = 0;
    int qhead = 0, qlen = 0, idle = 0;
    xs_result result = XS_OK;
    while (qlen > 0 || outstanding > 0 || flen > 0) {
        /* take every answer that has arrived; wait for one only when there
         * is nothing to start and nothing in flight */
        for (;;) {
            int flag = 0;
            MPI_Status st;
            int rc = MPI_Iprobe(0, XS_TAG_DOWN, comm, &flag, &st);
            if (rc != MPI_SUCCESS) {
                result = xs_mpi_fail(err, "worker: probing for rank 0's answers", rc);
                goto done;
            }
            if (!flag) {
                if (qlen > 0 || flen > 0 || outstanding == 0)
                    break;
                xs_backoff(&idle);
                continue;
            }
            idle = 0;
            rc = MPI_Recv(&msg, (int)sizeof msg, MPI_BYTE, 0, XS_TAG_DOWN, comm, MPI_STATUS_IGNORE);
            if (rc != MPI_SUCCESS) {
                result = xs_mpi_fail(err, "worker: receiving from rank 0", rc);
                goto done;
            }
            outstanding--;
            if (msg.type == XS_MSG_ASSIGN) {
                if (qlen == prefetch) {
                    result = xs_err_set(err, XS_ERR_INTERNAL, "worker: queue overflow");
                    goto done;
                }
                hashes[(qhead + qlen) % prefetch] = msg.expect_hash;
                queue[(qhead + qlen++) % prefetch] = msg.item;
            }
            if (outstanding == 0 && qlen == 0)
                break;
        }
        /* start what the back end has room for (a GPU holds several tiles) */
        while (qlen > 0 && xs_worker_free_slot(w) >= 0) {
            xs_work_item it = queue[qhead];
            uint64_t expect = hashes[qhead];
            qhead = (qhead + 1) % prefetch;
            qlen--;
            xs_err e;
            xs_err_clear(&e);
            xs_item_report rep;
            int slot = -1;
            xs_result r = xs_worker_begin(w, &it, expect, &rep, &slot, &e);
            if (r == XS_OK && slot >= 0) {
                fifo[(fhead + flen++) % XS_MAX_SLOTS] = slot;
                continue;
            }
            if ((result = send_result(comm, &it, r, &rep, &e, err)) != XS_OK)
                goto done;
            outstanding++; /* every reply carries one more request */
        }
        /* end the oldest tile in flight: the others keep the device busy
         * while this one is compressed and written */
        if (flen > 0) {
            int slot = fifo[fhead];
            fhead = (fhead + 1) % XS_MAX_SLOTS;
            flen--;
            xs_work_item it = w->flight[slot].item;
            xs_err e;
            xs_err_clear(&e);
            xs_item_report rep;
            xs_result r = xs_worker_finish(w, slot, &rep, &e);
            if ((result = send_result(comm, &it, r, &rep, &e, err)) != XS_OK)
                goto done;
            outstanding++;
        }
    }
done:
    free(queue);
    free(hashes);
    return result;
}
