/* The CUDA back end's host logic, over the runtime table of xs_cuda_rt.h
 * (the real runtime in render/cuda_rt.c, a fake device in the tests).
 *
 * The scene is uploaded once with explicit copies; its arrays' device
 * addresses are patched into a device copy of the scene view, and an empty
 * array's pointer is NULL there (never a host address). Each slot holds one
 * tile: its sample scratch, output and counters on the device, pinned host
 * buffers for the copy back. Tiles are launched in groups (kernel_cuda.h):
 * begin adds a tile to the open group and launches it when it is full; poll
 * launches a partial group when the GPU has nothing else to do; end launches
 * it if need be, then waits. A group's launch, its copies back and three
 * events (kernel start, kernel end, copies done) go on one stream, so the
 * kernel time CUDA's events measure is time the GPU spent rendering.
 *
 * Errors: every CUDA error is classified where it is reported
 * (xs_cuda_rt.error_class). One that spoils a call (out of memory) fails that
 * tile with CUDA's text and is cleared at once, and the last error is also
 * cleared before every launch, so a healthy tile never inherits an earlier
 * failure. One that spoils the context (sticky: an illegal address, a lost
 * device) retires the back end (xs_backend_lose): that tile and every later
 * one fail with XS_ERR_DEVICE without touching CUDA again.
 *
 * A paged scene's textures live on the device within a budget
 * (render/xs_texcache_gpu.h): a group that asked for pages it did not have
 * is run again, whole, once they are loaded, before its tiles are read, so
 * its pixels are those of a device holding every page. A device that
 * cannot hold the scene's arrays and one launch is refused at creation
 * with the numbers (XS_ERR_NOMEM), before anything is uploaded.
 *
 * Also here: the device probe (is there a GPU, and if not, why; device nodes
 * without a working CUDA are reported as broken, not as absent).
 */
#include "render/xs_backend.h"
#include "render/xs_cuda_rt.h"
#include "kernels/xs_path.h"
#include "render/xs_memplan.h"
#include "render/xs_texcache_gpu.h"

#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_FREE = 0, SLOT_OPEN = 1, SLOT_LAUNCHED = 2 };

typedef struct cuda_slot {
    void *scratch;
    size_t scratch_bytes;
    float *d_out, *h_out;
    xs_counters *d_counters, *h_counters;
    xs_tile_params tp;
    int state;        /* SLOT_* */
    int group;        /* launched: its group record */
    xs_result failed; /* launched: the launch's failure, reported by end */
    char fail_msg[512];
} cuda_slot;

/* A launch in flight. At most one per slot, so slot_count records. */
typedef struct cuda_group {
    void *ev_start, *ev_stop, *ev_done;
    int refs;          /* its tiles not yet ended; 0: the record is free */
    long long threads; /* of all its tiles */
    float kernel_ms;   /* < 0 until read from the events */
    float pass_ms;     /* earlier passes' kernel time (texture pages loaded between) */
    bool done;         /* ev_done was seen complete */
    bool resolved;     /* every texture page it asked for was loaded and it ran again */
    int slots[XS_CUDA_GROUP_MAX], count; /* its tiles, for a pass again */
    xs_result failed;  /* the texture pages it needs could not be loaded */
    char fail_msg[512];
} cuda_group;

typedef struct cuda_backend {
    xs_backend base;
    const xs_cuda_rt *rt;
    int device;
    xs_scene_view dview; /* the scene view with device pointers */
    void *blobs[XS_SCENE_BLOBS_MAX]; /* the scene's arrays */
    size_t blob_offset[XS_SCENE_BLOBS_MAX], blob_cap[XS_SCENE_BLOBS_MAX]; /* view field, bytes held */
    bool blob_stale[XS_SCENE_BLOBS_MAX]; /* left out of the last view (its host array may have changed since) */
    int blob_count;
    int fw, fh;
    void **textures;     /* each texture's device side (xs_cuda_rt.texture_create) */
    int texture_count;
    void *tex_objects;   /* the texture objects' handles (the view's tex_objects) */
    void *wave;          /* the wavefront's paths (xs_cuda_wave_bytes) */
    long long wave_paths;
    int integrator;      /* XS_CUDA_WAVEFRONT or XS_CUDA_MEGAKERNEL */
    size_t max_pixels;
    int group_max; /* tiles per launch */
    cuda_slot *slot;
    cuda_group *group;
    int slot_count;
    int open[XS_CUDA_GROUP_MAX]; /* slots of the group being filled */
    int open_count;
    void *stream;
    xs_gpu_pages *pages; /* a paged scene's textures on the device; NULL otherwise */
    bool *tex_object;     /* per texture: made a texture object (else read from its pages) */
    size_t tex_object_bytes; /* their levels' bytes */
    bool tex_all_objects; /* every texture is a texture object: no page is uploaded */
} cuda_backend;

bool xs_cuda_compiled(void) { return xs_cuda_rt_real() != NULL; }

/* ---- errors ---------------------------------------------------------------------- */

/* A CUDA error where it is reported. A sticky one, or one that says the
 * device is gone, retires the back end (XS_ERR_DEVICE); any other fails this
 * tile (XS_ERR_RENDER) and is cleared, so the next call does not read it
 * again. */
static xs_result cuda_fail(cuda_backend *be, xs_err *err, const char *what, int e)
{
    const xs_cuda_rt *rt = be->rt;
    int cls = rt->error_class(e);
    if (cls == XS_CUDA_ERR_CALL) {
        int last = rt->get_last_error(); /* clears e, and any other error pending */
        if (last != 0 && rt->error_class(last) >= XS_CUDA_ERR_STICKY) {
            e = last;
            cls = rt->error_class(last);
        }
    }
    char msg[400];
    snprintf(msg, sizeof msg, "CUDA: %s: %s (%s)", what, rt->error_string(e), rt->error_name(e));
    if (cls >= XS_CUDA_ERR_STICKY) {
        char why[512];
        snprintf(why, sizeof why, "%s; the GPU is lost to this process: its rank takes no more work", msg);
        xs_backend_lose(&be->base, why);
        return xs_err_set(err, XS_ERR_DEVICE, "%s", be->base.lost_why);
    }
    return xs_err_set(err, XS_ERR_RENDER, "%s", msg);
}

/* Before a launch: an error some earlier call left behind (a failed
 * allocation) is cleared, not read by the launch's own check; a sticky one
 * retires the back end. */
static xs_result clear_stale(cuda_backend *be, xs_err *err)
{
    int e = be->rt->get_last_error();
    if (e != 0 && be->rt->error_class(e) >= XS_CUDA_ERR_STICKY)
        return cuda_fail(be, err, "a pending error before the launch", e);
    return XS_OK;
}

/* ---- launches -------------------------------------------------------------------- */

static size_t out_bytes_of(const xs_tile_params *tp)
{
    return (size_t)tp->width * (size_t)tp->height * (size_t)xs_aov_channels(tp->aovs) * sizeof(float);
}

/* The open group failed to launch: each of its tiles ends with the failure. */
static xs_result fail_open(cuda_backend *be, xs_result r, const xs_err *e)
{
    for (int i = 0; i < be->open_count; ++i) {
        cuda_slot *s = &be->slot[be->open[i]];
        s->state = SLOT_LAUNCHED;
        s->group = -1;
        s->failed = r;
        snprintf(s->fail_msg, sizeof s->fail_msg, "%s", e->msg);
    }
    be->open_count = 0;
    return r;
}

/* Queues group g's tiles (slots[0..n)) on the stream: counters cleared, the
 * two kernels between the timing events, each tile's pixels and counters
 * copied back, the count of texture pages it asked for, then the completion
 * event. first: a fresh launch, not a pass again. *threads: of all its tiles. */
static xs_result queue_group(cuda_backend *be, cuda_group *g, int gi, const int *slots, int n, bool first,
                             long long *threads, xs_err *e)
{
    const xs_cuda_rt *rt = be->rt;
    xs_result r = clear_stale(be, e);
    int ce = 0;
    const char *what = "";
    xs_cuda_group launch;
    memset(&launch, 0, sizeof launch);
    launch.count = n;
    launch.integrator = be->integrator;
    *threads = 0;
    for (int i = 0; r == XS_OK && i < n; ++i) {
        cuda_slot *s = &be->slot[slots[i]];
        xs_cuda_tile *t = &launch.tile[i];
        t->tp = s->tp;
        t->scratch = s->scratch;
        t->out = s->d_out;
        t->counters = s->d_counters;
        *threads += rt->tile_paths(s->tp.width * s->tp.height, s->tp.spp);
        if ((ce = rt->memset_async(s->d_counters, 0, sizeof *s->d_counters, be->stream)) != 0)
            what = "clearing the tiles' counters";
    }
    if (r == XS_OK && ce == 0) {
        if ((ce = rt->event_record(g->ev_start, be->stream)) != 0 ||
            (ce = rt->launch_group(&be->dview, &launch, be->wave, be->wave_paths, be->stream)) != 0 ||
            (ce = rt->event_record(g->ev_stop, be->stream)) != 0)
            what = "launching the tiles' kernels";
    }
    for (int i = 0; r == XS_OK && ce == 0 && i < n; ++i) {
        cuda_slot *s = &be->slot[slots[i]];
        if ((ce = rt->memcpy_d2h_async(s->h_out, s->d_out, out_bytes_of(&s->tp), be->stream)) != 0 ||
            (ce = rt->memcpy_d2h_async(s->h_counters, s->d_counters, sizeof *s->h_counters, be->stream)) != 0)
            what = "queueing the tiles' copy back";
    }
    if (r == XS_OK && ce == 0 && be->pages && (ce = xs_gpu_pages_after_launch(be->pages, gi, be->stream, first)) != 0)
        what = "queueing the texture page count's copy back";
    if (r == XS_OK && ce == 0 && (ce = rt->event_record(g->ev_done, be->stream)) != 0)
        what = "queueing the tiles' copy back";
    if (r == XS_OK && ce != 0)
        r = cuda_fail(be, e, what, ce);
    return r;
}

/* Launches the open group (queue_group). */
static xs_result launch_open(cuda_backend *be, xs_err *err)
{
    if (be->open_count == 0)
        return XS_OK;
    xs_err e;
    xs_err_clear(&e);
    int gi = 0;
    while (gi < be->slot_count && be->group[gi].refs > 0)
        ++gi;
    if (gi == be->slot_count) { /* cannot happen: one launch per slot at most */
        xs_err_set(&e, XS_ERR_INTERNAL, "CUDA back end: no free launch record");
        xs_err_set(err, XS_ERR_INTERNAL, "%s", e.msg);
        return fail_open(be, XS_ERR_INTERNAL, &e);
    }
    cuda_group *g = &be->group[gi];
    long long threads = 0;
    xs_result r = queue_group(be, g, gi, be->open, be->open_count, true, &threads, &e);
    if (r != XS_OK) {
        xs_err_set(err, r, "%s", e.msg);
        return fail_open(be, r, &e);
    }
    memcpy(g->slots, be->open, (size_t)be->open_count * sizeof *g->slots);
    g->count = be->open_count;
    g->refs = be->open_count;
    g->threads = threads > 0 ? threads : 1;
    g->kernel_ms = -1.0f;
    g->pass_ms = 0.0f;
    g->resolved = be->pages == NULL;
    g->failed = XS_OK;
    g->done = false;
    for (int i = 0; i < be->open_count; ++i) {
        cuda_slot *s = &be->slot[be->open[i]];
        s->state = SLOT_LAUNCHED;
        s->group = gi;
        s->failed = XS_OK;
    }
    be->open_count = 0;
    return XS_OK;
}

/* True while a launched group has not finished on the GPU. */
static bool gpu_busy(cuda_backend *be)
{
    for (int i = 0; i < be->slot_count; ++i) {
        cuda_group *g = &be->group[i];
        if (g->refs == 0 || g->done)
            continue;
        int e = be->rt->event_query(g->ev_done);
        if (e == be->rt->not_ready)
            return true;
        if (e == 0)
            g->done = true;
        /* an error: end reports it */
    }
    return false;
}

/* ---- texture pages on demand -------------------------------------------------------- */

/* Group gi has completed: while it asked for texture pages, they are loaded
 * (every launch in flight waited for first) and it runs again, whole. A
 * failure to load stays with the group: each of its tiles reports it. */
static xs_result resolve_group(cuda_backend *be, int gi, xs_err *err)
{
    const xs_cuda_rt *rt = be->rt;
    cuda_group *g = &be->group[gi];
    g->resolved = true;
    for (int pass = 0; xs_gpu_pages_asked(be->pages, gi) > 0; ++pass) {
        xs_err e;
        xs_err_clear(&e);
        xs_result r = XS_OK;
        if (pass >= XS_GPU_PAGES_MAX_PASSES)
            r = xs_err_set(&e, XS_ERR_RENDER,
                           "GPU texture pages: the launch still asked for pages after %d passes (the budget is "
                           "too small for what it reads; raise --gpu-texture-mib)",
                           XS_GPU_PAGES_MAX_PASSES);
        void *inflight[XS_BACKEND_MAX_SLOTS];
        int n = 0;
        for (int i = 0; r == XS_OK && i < be->slot_count; ++i)
            if (i != gi && be->group[i].refs > 0 && !be->group[i].done)
                inflight[n++] = be->group[i].ev_done;
        if (r == XS_OK)
            r = xs_gpu_pages_resolve(be->pages, gi, inflight, n, &e);
        /* the pass's kernel time counts: the GPU spent it */
        float ms = 0.0f;
        if (r == XS_OK && rt->event_elapsed_ms(&ms, g->ev_start, g->ev_stop) == 0)
            g->pass_ms += ms;
        long long threads = 0;
        if (r == XS_OK)
            r = queue_group(be, g, gi, g->slots, g->count, false, &threads, &e);
        int ce = r == XS_OK ? rt->event_sync(g->ev_done) : 0;
        if (ce != 0)
            r = cuda_fail(be, &e, "rendering the tiles again with their texture pages", ce);
        if (r != XS_OK) {
            if (r == XS_ERR_DEVICE)
                return xs_err_set(err, r, "%s", e.msg);
            g->failed = r;
            snprintf(g->fail_msg, sizeof g->fail_msg, "%s", e.msg);
            return XS_OK; /* each tile of the group reports it */
        }
    }
    return XS_OK;
}

/* ---- the table --------------------------------------------------------------------- */

static xs_result cuda_begin_tile(xs_backend *self, int slot, const xs_tile_params *tp, xs_err *err)
{
    cuda_backend *be = (cuda_backend *)self;
    const xs_cuda_rt *rt = be->rt;
    if (slot < 0 || slot >= be->slot_count || be->slot[slot].state != SLOT_FREE)
        return xs_err_set(err, XS_ERR_INTERNAL, "CUDA back end: slot %d is not free", slot);
    size_t pixels = (size_t)tp->width * (size_t)tp->height;
    if (pixels > be->max_pixels)
        return xs_err_set(err, XS_ERR_INTERNAL, "CUDA back end: tile of %zu pixels over the %zu allocated",
                          pixels, be->max_pixels);
    cuda_slot *s = &be->slot[slot];
    size_t need = rt->scratch_bytes((int)pixels, tp->spp);
    if (need > s->scratch_bytes) { /* more samples than planned: grow once */
        rt->free_device(s->scratch);
        s->scratch = NULL;
        s->scratch_bytes = 0;
        int e = rt->malloc_device(&s->scratch, need);
        if (e != 0) {
            s->scratch = NULL;
            char what[128];
            snprintf(what, sizeof what, "allocating the tile's sample scratch (%zu bytes)", need);
            return cuda_fail(be, err, what, e);
        }
        s->scratch_bytes = need;
    }
    s->tp = *tp;
    s->state = SLOT_OPEN;
    be->open[be->open_count++] = slot;
    if (be->open_count < be->group_max)
        return XS_OK;
    xs_result r = launch_open(be, err);
    if (r != XS_OK)
        s->state = SLOT_FREE; /* its begin fails: the caller will not end it */
    return r;
}

static bool cuda_poll_tile(xs_backend *self, int slot)
{
    cuda_backend *be = (cuda_backend *)self;
    if (slot < 0 || slot >= be->slot_count)
        return true;
    cuda_slot *s = &be->slot[slot];
    if (s->state == SLOT_OPEN) {
        if (!gpu_busy(be)) /* never leave the GPU idle while a tile waits for its group */
            launch_open(be, NULL);
        return s->state == SLOT_LAUNCHED && s->failed != XS_OK;
    }
    if (s->state != SLOT_LAUNCHED || s->failed != XS_OK)
        return true;
    cuda_group *g = &be->group[s->group];
    if (g->done)
        return true;
    int e = be->rt->event_query(g->ev_done);
    if (e == be->rt->not_ready)
        return false;
    g->done = e == 0;
    /* the GPU may have just run dry: a partial group waiting goes now */
    if (be->open_count > 0 && !gpu_busy(be))
        launch_open(be, NULL);
    return true; /* done, or an error end reports */
}

static xs_result cuda_end_tile(xs_backend *self, int slot, float *rgba, xs_counters *counters,
                               double *kernel_s, xs_err *err)
{
    cuda_backend *be = (cuda_backend *)self;
    const xs_cuda_rt *rt = be->rt;
    if (slot < 0 || slot >= be->slot_count || be->slot[slot].state == SLOT_FREE)
        return xs_err_set(err, XS_ERR_INTERNAL, "CUDA back end: slot %d holds no tile", slot);
    cuda_slot *s = &be->slot[slot];
    if (s->state == SLOT_OPEN)
        launch_open(be, NULL); /* a failure lands in the slot */
    s->state = SLOT_FREE;
    if (s->failed != XS_OK) {
        xs_result r = s->failed;
        s->failed = XS_OK;
        return xs_err_set(err, r, "%s", s->fail_msg);
    }
    cuda_group *g = &be->group[s->group];
    g->refs--;
    int e = g->done ? 0 : rt->event_sync(g->ev_done);
    if (e != 0)
        return cuda_fail(be, err, "rendering the tile", e);
    g->done = true;
    if (!g->resolved) {
        xs_result r = resolve_group(be, s->group, err);
        if (r != XS_OK)
            return r;
    }
    if (g->failed != XS_OK)
        return xs_err_set(err, g->failed, "%s", g->fail_msg);
    if (g->kernel_ms < 0.0f) {
        float ms = 0.0f;
        if (rt->event_elapsed_ms(&ms, g->ev_start, g->ev_stop) != 0) {
            ms = 0.0f; /* timing is not worth failing a tile: cleared */
            (void)rt->get_last_error();
        }
        g->kernel_ms = ms;
    }
    double share = (double)rt->tile_paths(s->tp.width * s->tp.height, s->tp.spp) / (double)g->threads;
    *kernel_s += 1e-3 * (double)(g->kernel_ms + g->pass_ms) * share;
    memcpy(rgba, s->h_out, out_bytes_of(&s->tp));
    xs_counters_add(counters, s->h_counters);
    return XS_OK;
}

/* A new frame of an animated scene: each array's rewritten byte range is
 * copied (an array that grew, or is new, is allocated again and copied
 * whole), then the device view takes the host view's counts, camera and
 * motion fields with the device pointers patched in (an empty array: NULL);
 * its texture fields stay (a paged scene's pages on the device are the
 * page table's, and posing never touches textures).
 * Called with no tile in flight (the worker drains first: every launched
 * group's copies back were waited for), so the synchronous copies race with
 * no kernel. */
static xs_result cuda_update(xs_backend *self, const xs_scene *scene, xs_err *err)
{
    cuda_backend *be = (cuda_backend *)self;
    const xs_cuda_rt *rt = be->rt;
    for (int i = 0; i < be->slot_count; ++i)
        if (be->slot[i].state != SLOT_FREE)
            return xs_err_set(err, XS_ERR_INTERNAL, "CUDA back end: the scene changed under a tile in flight");
    int e = rt->set_device(be->device);
    if (e != 0)
        return cuda_fail(be, err, "selecting the device", e);
    xs_scene_view v = xs_scene_view_for(scene, be->fw, be->fh);
    xs_scene_blob blobs[XS_SCENE_BLOBS_MAX];
    int nb = xs_scene_blobs(scene, &v, blobs, XS_SCENE_BLOBS_MAX);
    bool listed[XS_SCENE_BLOBS_MAX] = {false};
    for (int i = 0; i < nb; ++i) {
        const xs_scene_blob *b = &blobs[i];
        if (be->tex_all_objects && (b->view_offset == offsetof(xs_scene_view, tex_pool) ||
                                    b->view_offset == offsetof(xs_scene_view, tex_page)))
            continue; /* textures are read through texture objects, uploaded once (posing leaves them) */
        int k = 0;
        while (k < be->blob_count && be->blob_offset[k] != b->view_offset)
            ++k;
        if (k == be->blob_count) { /* an array the device has not held yet */
            if (k == XS_SCENE_BLOBS_MAX)
                return xs_err_set(err, XS_ERR_INTERNAL, "CUDA back end: too many scene arrays");
            be->blobs[k] = NULL;
            be->blob_cap[k] = 0;
            be->blob_offset[k] = b->view_offset;
            be->blob_count++;
        }
        size_t lo = b->dirty_lo, hi = b->dirty_hi;
        listed[k] = true;
        if (be->blob_stale[k]) /* back in the view (the binary trees when a shutter opens again): whole */
            lo = 0, hi = b->bytes;
        if (b->bytes > be->blob_cap[k]) {
            if (be->blobs[k])
                rt->free_device(be->blobs[k]);
            be->blobs[k] = NULL;
            be->blob_cap[k] = 0;
            void *d = NULL;
            if ((e = rt->malloc_device(&d, b->bytes)) != 0) {
                char what[96];
                snprintf(what, sizeof what, "allocating the scene's %s (%zu bytes)", b->name, b->bytes);
                return cuda_fail(be, err, what, e);
            }
            be->blobs[k] = d;
            be->blob_cap[k] = b->bytes;
            lo = 0, hi = b->bytes;
        }
        if (hi > lo && (e = rt->memcpy_h2d((char *)be->blobs[k] + lo, (const char *)b->host + lo, hi - lo)) != 0) {
            char what[96];
            snprintf(what, sizeof what, "updating the scene's %s (%zu bytes)", b->name, hi - lo);
            return cuda_fail(be, err, what, e);
        }
        memcpy((char *)&v + b->view_offset, &be->blobs[k], sizeof be->blobs[k]);
    }
    for (int k = 0; k < be->blob_count; ++k)
        be->blob_stale[k] = !listed[k];
    /* textures never change with a frame: their texture objects, and a
     * paged scene's page table, pool and request bitmaps stay the device's
     * (render/texcache_gpu.c); the host's page cache is never the device's */
    v.tex_fetch = NULL;
    v.tex_ctx = NULL;
    v.tex_objects = be->dview.tex_objects;
    if (be->pages || be->tex_all_objects) {
        v.tex_page = be->dview.tex_page;
        v.tex_pool = be->dview.tex_pool;
        v.tex_request = be->dview.tex_request;
        v.tex_asked = be->dview.tex_asked;
        v.tex_page_count = be->dview.tex_page_count;
    }
    be->dview = v;
    return XS_OK;
}

static void cuda_destroy(xs_backend *self)
{
    cuda_backend *be = (cuda_backend *)self;
    const xs_cuda_rt *rt = be->rt;
    rt->set_device(be->device);
    if (be->stream && !be->base.lost) {
        /* let queued work finish before its buffers go */
        for (int i = 0; i < be->slot_count; ++i)
            if (be->group && be->group[i].refs > 0 && !be->group[i].done)
                rt->event_sync(be->group[i].ev_done);
    }
    for (int i = 0; be->slot && i < be->slot_count; ++i) {
        cuda_slot *s = &be->slot[i];
        rt->free_device(s->scratch);
        rt->free_device(s->d_out);
        rt->free_device(s->d_counters);
        rt->free_host(s->h_out);
        rt->free_host(s->h_counters);
    }
    for (int i = 0; be->group && i < be->slot_count; ++i) {
        cuda_group *g = &be->group[i];
        if (g->ev_start)
            rt->event_destroy(g->ev_start);
        if (g->ev_stop)
            rt->event_destroy(g->ev_stop);
        if (g->ev_done)
            rt->event_destroy(g->ev_done);
    }
    if (be->stream)
        rt->stream_destroy(be->stream);
    for (int i = 0; i < be->blob_count; ++i)
        rt->free_device(be->blobs[i]);
    xs_gpu_pages_destroy(be->pages);
    for (int i = 0; be->textures && i < be->texture_count; ++i)
        rt->texture_destroy(be->textures[i]);
    rt->free_device(be->tex_objects);
    rt->free_device(be->wave);
    (void)rt->get_last_error(); /* what the clean-up met stays here */
    free(be->textures);
    free(be->tex_object);
    free(be->slot);
    free(be->group);
    free(be);
}

/* ---- the device probe -------------------------------------------------------------- */

/* NVIDIA device nodes (nvidia0, nvidia1, ...: one per GPU) in dir. */
static int count_nodes(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        const char *p = de->d_name;
        if (strncmp(p, "nvidia", 6) != 0 || !p[6])
            continue;
        bool digits = true;
        for (p += 6; *p; ++p)
            digits &= *p >= '0' && *p <= '9';
        n += digits;
    }
    closedir(d);
    return n;
}

xs_gpu_state xs_gpu_probe_classify(int nodes, int count, int err_class, bool err_is_no_device,
                                   const char *visible_devices)
{
    if (count > 0 && err_class == XS_CUDA_ERR_NONE)
        return XS_GPU_READY;
    if (nodes == 0)
        return XS_GPU_NONE;
    /* device nodes, yet CUDA sees no device: hidden on purpose, or broken */
    if ((err_is_no_device || err_class == XS_CUDA_ERR_NONE) && visible_devices)
        return XS_GPU_NONE;
    return XS_GPU_BROKEN;
}

void xs_gpu_probe_run(const xs_cuda_rt *rt, const char *dev_dir, xs_gpu_probe *out)
{
    memset(out, 0, sizeof *out);
    out->nodes = count_nodes(dev_dir);
    const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
    if (!rt) {
        out->state = out->nodes > 0 ? XS_GPU_BROKEN : XS_GPU_NONE;
        if (out->nodes > 0)
            snprintf(out->why, sizeof out->why,
                     "this machine has %d NVIDIA GPU device node(s) in %s, but this xisuan was built without "
                     "CUDA (no nvcc at build time): rebuild it with the CUDA toolkit",
                     out->nodes, dev_dir);
        else
            snprintf(out->why, sizeof out->why, "this xisuan was built without CUDA (no nvcc at build time)");
        return;
    }
    int n = 0;
    int e = rt->device_count(&n);
    int cls = rt->error_class(e);
    if (e != 0) {
        (void)rt->get_last_error();
        n = 0;
    }
    out->count = n;
    out->state = xs_gpu_probe_classify(out->nodes, n, cls, e == rt->no_device, cvd);
    if (out->state == XS_GPU_READY)
        return;
    char cuda[200];
    if (e != 0)
        snprintf(cuda, sizeof cuda, "%s (%s)", rt->error_string(e), rt->error_name(e));
    else
        snprintf(cuda, sizeof cuda, "no CUDA device is visible");
    if (out->state == XS_GPU_NONE)
        snprintf(out->why, sizeof out->why, "%s%s%s%s", cuda, cvd ? "; CUDA_VISIBLE_DEVICES=" : "",
                 cvd ? cvd : "", cvd && out->nodes ? " hides this machine's GPUs" : "");
    else
        snprintf(out->why, sizeof out->why,
                 "this machine has %d NVIDIA GPU device node(s) in %s, but CUDA cannot use them: %s%s", out->nodes,
                 dev_dir, cuda,
                 cls == XS_CUDA_ERR_NODEV ? " (is the driver older than this build's CUDA runtime needs, or "
                                            "not loaded? nvidia-smi shows the driver's CUDA version)"
                                          : "");
}

/* XS_DEV_DIR (tests only, like XS_FAULT: docs/operations.md) points the
 * probe at a folder with a fake nvidia0, to check what a machine with a GPU
 * that CUDA cannot use does; nothing else reads it. */
void xs_gpu_probe_system(xs_gpu_probe *out)
{
    const char *dev = getenv("XS_DEV_DIR");
    xs_gpu_probe_run(xs_cuda_rt_real(), dev && *dev ? dev : "/dev", out);
}

int xs_cuda_device_count(char *why, size_t why_len)
{
    xs_gpu_probe p;
    xs_gpu_probe_system(&p);
    if (p.state != XS_GPU_READY && why)
        snprintf(why, why_len, "%s", p.why);
    return p.state == XS_GPU_READY ? p.count : 0;
}

xs_result xs_cuda_device_info(int device, xs_gpu_info *info, xs_err *err)
{
    memset(info, 0, sizeof *info);
    const xs_cuda_rt *rt = xs_cuda_rt_real();
    if (!rt)
        return xs_err_set(err, XS_ERR_INVALID, "CUDA device %d: this xisuan was built without CUDA", device);
    int e = rt->device_info(device, info);
    if (e != 0) {
        (void)rt->get_last_error();
        return xs_err_set(err, XS_ERR_RENDER, "CUDA: reading device %d's properties: %s (%s)", device,
                          rt->error_string(e), rt->error_name(e));
    }
    return XS_OK;
}

/* ---- creation -------------------------------------------------------------------------- */

/* The wave (paths in flight) and the tiles per launch. The wave: 16 times
 * the paths the trace kernel keeps resident on the whole device (its SMs x
 * its resident blocks x XS_CUDA_WF_BLOCK), so each step's launch is many
 * waves of the GPU deep and a bounce's tail of short queues is a small
 * share (an H100 or H200: 132 x 8 x 128 x 16 = 2.2 M paths, some 400 MB);
 * a multiple of XS_SAMPLE_CHUNK paths (a pixel's chunk), and at most a
 * quarter of the device's memory. A launch groups enough tiles to fill a
 * wave, at most XS_CUDA_GROUP_MAX. */
static void wave_size(cuda_backend *be, const xs_gpu_info *gi, int max_spp, long long *paths, int *group)
{
    int blocks = 0;
    if (be->rt->resident_blocks(&blocks) != 0 || blocks < 1) {
        (void)be->rt->get_last_error();
        blocks = 1;
    }
    long long want = 16LL * (long long)gi->sm_count * (long long)blocks * (long long)XS_CUDA_WF_BLOCK;
    const long long per_path = (long long)be->rt->wave_bytes(1024) / 1024 + 1;
    const long long fit = (long long)(gi->memory_bytes / 4.0) / per_path;
    want = want < fit ? want : fit;
    want -= want % XS_SAMPLE_CHUNK;
    *paths = want < XS_SAMPLE_CHUNK ? XS_SAMPLE_CHUNK : want;
    const double per_tile = (double)be->rt->tile_paths((int)be->max_pixels, max_spp);
    const double g = per_tile > 0 ? (double)*paths / per_tile : 1.0;
    const int n = g >= XS_CUDA_GROUP_MAX ? XS_CUDA_GROUP_MAX : (int)g + (g > (int)g);
    *group = n < 1 ? 1 : n;
}

/* Texture t's levels' bytes (its texture object's mipmapped array). */
static size_t levels_bytes(const xs_scene_view *hv, const xs_texture *t)
{
    size_t bytes = 0;
    for (uint32_t l = 0; l < t->levels; ++l)
        bytes += 4u * (size_t)hv->tex_levels[t->level0 + l].width * hv->tex_levels[t->level0 + l].height;
    return bytes;
}

/* Which textures become texture objects (be->tex_object), within `room`
 * bytes (the GPU texture budget when one is set, else what the device has
 * free past the scene, a launch and 512 MiB; SIZE_MAX: unknown). A texture
 * qualifies with 1 to XS_TEX_LEVELS levels. A scene held whole: every
 * texture or none (its pages are uploaded whole otherwise). A paged scene:
 * in texture order, each that fits what is left, keeping 16 pages' room for
 * the demand-loaded pages of the others. No texture_create in the runtime:
 * none. */
static xs_result choose_objects(cuda_backend *be, const xs_scene *scene, size_t room, xs_err *err)
{
    const uint32_t n = xs_scene_texture_count(scene);
    be->tex_object_bytes = 0;
    be->tex_all_objects = false;
    if (n == 0)
        return XS_OK;
    be->tex_object = calloc(n, sizeof *be->tex_object);
    if (!be->tex_object)
        return xs_err_set(err, XS_ERR_NOMEM, "CUDA back end: out of memory");
    if (!be->rt->texture_create)
        return XS_OK;
    xs_scene_tex_info ti;
    xs_scene_tex_info_get(scene, &ti);
    const xs_scene_view hv = xs_scene_view_for(scene, 1, 1);
    const size_t reserve = ti.paged ? 16u * XS_TEX_PAGE_TEXELS * 4u : 0u;
    size_t used = 0;
    uint32_t made = 0;
    uint32_t needed = 0; /* textures some material reads (the others were never decoded: no levels) */
    for (uint32_t i = 0; i < n; ++i) {
        const xs_texture *t = &hv.textures[i];
        if (t->levels < 1u)
            continue;
        ++needed;
        /* a CUDA mipmapped array holds at most 32768 texels a side
         * (cudaDevAttrMaxTexture2DMipmappedWidth/Height on sm_60 to sm_90) */
        if (t->levels > XS_TEX_LEVELS || t->width > 32768u || t->height > 32768u)
            continue;
        const size_t b = levels_bytes(&hv, t);
        if (b > room || used + b > room - (room > reserve ? reserve : room))
            continue;
        be->tex_object[i] = true;
        used += b;
        ++made;
    }
    if (!ti.paged && made < needed) { /* held whole: its pool serves every texture */
        memset(be->tex_object, 0, n * sizeof *be->tex_object);
        used = made = 0;
    }
    be->tex_object_bytes = used;
    be->tex_all_objects = made == needed;
    return XS_OK;
}

/* Texture t's levels back to back, gathered from its pages (hv: the host
 * view, every page resident in tex_pool); NULL when out of memory. */
static uint32_t *gather_levels(const xs_scene_view *hv, const xs_texture *t)
{
    size_t n = 0;
    for (uint32_t l = 0; l < t->levels; ++l)
        n += (size_t)hv->tex_levels[t->level0 + l].width * hv->tex_levels[t->level0 + l].height;
    uint32_t *out = malloc((n ? n : 1) * sizeof *out), *at = out;
    for (uint32_t l = 0; out && l < t->levels; ++l) {
        const xs_tex_level *lv = &hv->tex_levels[t->level0 + l];
        for (uint32_t y = 0; y < lv->height; ++y)
            for (uint32_t x = 0; x < lv->width; ++x)
                *at++ = xs_tex_fetch(hv, lv, x, y);
    }
    return out;
}

/* The chosen textures' mipmapped arrays and two texture objects each (their
 * levels gathered from their pages: the pool of a scene held whole, the
 * node's page cache for a paged one); the objects' handles (0 for a
 * texture read from its pages) go to the device as one more array, the
 * view's tex_objects. */
static xs_result upload_textures(cuda_backend *be, const xs_scene *scene, xs_err *err)
{
    const xs_cuda_rt *rt = be->rt;
    const int n = (int)xs_scene_texture_count(scene);
    bool any = false;
    for (int i = 0; i < n; ++i)
        any |= be->tex_object[i];
    if (!any)
        return XS_OK;
    xs_scene_view hv = xs_scene_view_for(scene, 1, 1);
    unsigned long long *obj = calloc((size_t)n * 2u, sizeof *obj);
    be->textures = calloc((size_t)n, sizeof *be->textures);
    if (!obj || !be->textures) {
        free(obj);
        return xs_err_set(err, XS_ERR_NOMEM, "CUDA back end: out of memory");
    }
    be->texture_count = n; /* NULL handles destroy as nothing */
    for (int i = 0; i < n; ++i) {
        if (!be->tex_object[i])
            continue;
        size_t bytes = 0;
        uint32_t *texels = gather_levels(&hv, &hv.textures[i]);
        char why[512];
        if (hv.tex_fetch) {
            xs_texcache_thread_flush();
            if (xs_texcache_take_failure((xs_texcache *)hv.tex_ctx, why, sizeof why)) {
                free(texels), free(obj);
                return xs_err_set(err, XS_ERR_RENDER, "CUDA back end: texture %d's levels: %s", i + 1, why);
            }
        }
        if (!texels) {
            free(obj);
            return xs_err_set(err, XS_ERR_NOMEM, "CUDA back end: out of memory for texture %d's levels", i + 1);
        }
        int e = rt->texture_create(&hv.textures[i], texels, &be->textures[i], obj + 2 * i, &bytes);
        free(texels);
        if (e != 0) {
            free(obj);
            char what[128];
            snprintf(what, sizeof what, "uploading texture %d of %d (%ux%u, %u levels)", i + 1, n,
                     hv.textures[i].width, hv.textures[i].height, (unsigned)hv.textures[i].levels);
            return cuda_fail(be, err, what, e);
        }
    }
    void *d = NULL;
    int e = rt->malloc_device(&d, (size_t)n * 2u * sizeof *obj);
    if (e == 0)
        e = rt->memcpy_h2d(d, obj, (size_t)n * 2u * sizeof *obj);
    free(obj);
    if (e != 0) {
        if (d)
            rt->free_device(d);
        return cuda_fail(be, err, "uploading the texture objects' handles", e);
    }
    be->tex_objects = d;
    be->dview.tex_objects = (const unsigned long long *)d;
    return XS_OK;
}

void xs_backend_cuda_set_integrator(xs_backend *b, int integrator)
{
    ((cuda_backend *)b)->integrator = integrator;
}

xs_result xs_backend_cuda_create_rt(const xs_cuda_rt *rt, const xs_scene *scene, int fw, int fh, int device,
                                    int slots, int max_tile_pixels, int max_spp, xs_backend **out, xs_err *err)
{
    *out = NULL;
    if (!rt)
        return xs_err_set(err, XS_ERR_INVALID,
                          "--backend cuda: this xisuan was built without CUDA (no nvcc at build time); "
                          "use --backend cpu");
    int count = 0;
    int e = rt->device_count(&count);
    if (e != 0) {
        (void)rt->get_last_error();
        count = 0;
    }
    if (device < 0 || device >= count)
        return xs_err_set(err, XS_ERR_INVALID, "CUDA back end: no CUDA device %d (%d visible%s%s)", device, count,
                          e ? ": " : "", e ? rt->error_string(e) : "");
    cuda_backend *be = calloc(1, sizeof *be);
    if (!be)
        return xs_err_set(err, XS_ERR_NOMEM, "CUDA back end: out of memory");
    be->rt = rt;
    be->base.name = "cuda";
    be->base.begin_tile = cuda_begin_tile;
    be->base.poll_tile = cuda_poll_tile;
    be->base.end_tile = cuda_end_tile;
    be->base.update = cuda_update;
    be->base.destroy = cuda_destroy;
    be->device = device;
    be->fw = fw;
    be->fh = fh;
    be->max_pixels = (size_t)(max_tile_pixels > 0 ? max_tile_pixels : 1);
    max_spp = max_spp > 0 ? max_spp : 1;
    xs_gpu_info gi;
    if ((e = rt->device_info(device, &gi)) != 0 || (e = rt->set_device(device)) != 0) {
        xs_result r = cuda_fail(be, err, "opening the device", e);
        cuda_destroy(&be->base);
        return r;
    }
    /* the scene, once: each array with an explicit copy, its device pointer
     * patched into the device view (empty arrays: NULL); the CPU's page
     * cache is the host's (a paged scene's pages come through xs_gpu_pages) */
    be->dview = xs_scene_view_for(scene, fw, fh);
    be->dview.tex_fetch = NULL;
    be->dview.tex_ctx = NULL;
    xs_scene_blob blobs[XS_SCENE_BLOBS_MAX];
    int nb = xs_scene_blobs(scene, &be->dview, blobs, XS_SCENE_BLOBS_MAX);
    /* a device that cannot hold the scene and one launch is refused before
     * anything is uploaded, with the numbers */
    size_t scene_bytes = 0, pool_bytes = 0, free_b = 0, total_b = 0;
    for (int i = 0; i < nb; ++i) {
        if (blobs[i].view_offset == offsetof(xs_scene_view, tex_pool) ||
            blobs[i].view_offset == offsetof(xs_scene_view, tex_page))
            pool_bytes += blobs[i].bytes;
        else
            scene_bytes += blobs[i].bytes;
    }
    size_t launch_bytes = rt->scratch_bytes((int)be->max_pixels, max_spp) +
                          be->max_pixels * (size_t)xs_aov_channels(0xffffffffu) * sizeof(float);
    xs_scene_tex_info ti;
    xs_scene_tex_info_get(scene, &ti);
    const bool have_free = (e = rt->mem_get_info(&free_b, &total_b)) == 0;
    size_t room = SIZE_MAX;
    if (xs_scene_gpu_texture_budget(scene) > 0)
        room = (size_t)xs_scene_gpu_texture_budget(scene);
    else if (have_free) {
        /* the device's total memory (not what is free now: every GPU of a
         * model makes the same choice, so ranks read a texture the same way,
         * hardware-filtered or from its pages) past the scene, every tile
         * slot's launch, the wavefront's paths and 512 MiB (CUDA's own,
         * arrays' padding); a device with less free than that is refused
         * below with the numbers */
        long long wp = 0;
        int gm = 1;
        wave_size(be, &gi, max_spp, &wp, &gm);
        int sc = slots > 0 ? slots : 3 * gm;
        sc = sc > XS_BACKEND_MAX_SLOTS ? XS_BACKEND_MAX_SLOTS : sc;
        const size_t keep = scene_bytes + (size_t)sc * launch_bytes + rt->wave_bytes(wp) + ((size_t)512 << 20);
        room = total_b > keep ? total_b - keep : 0;
    }
    xs_result cr = choose_objects(be, scene, room, err);
    if (cr != XS_OK) {
        cuda_destroy(&be->base);
        return cr;
    }
    const bool paged_left = ti.paged && ti.pages > 0 && !be->tex_all_objects;
    if (!be->tex_all_objects)
        scene_bytes += pool_bytes;
    scene_bytes += be->tex_object_bytes; /* the texture objects' levels */
    size_t pages_min = paged_left ? (size_t)ti.pages * 4u + 16u * XS_TEX_PAGE_TEXELS * 4u : 0;
    if (have_free && scene_bytes + launch_bytes + pages_min > free_b) {
        char a[32], b[32], c[32], d[32];
        xs_result r = xs_err_set(err, XS_ERR_NOMEM,
                                 "CUDA device %d (%s, %s free of %s) cannot hold the scene: its arrays need %s and "
                                 "a launch %s%s",
                                 device, gi.name, xs_mem_str(free_b, a, sizeof a), xs_mem_str(total_b, b, sizeof b),
                                 xs_mem_str(scene_bytes, c, sizeof c), xs_mem_str(launch_bytes, d, sizeof d),
                                 paged_left ? ", plus the texture page table and 16 pages" : "");
        cuda_destroy(&be->base);
        return r;
    }
    if (e != 0)
        (void)rt->get_last_error(); /* the upload below says what is wrong */
    char why[256];
    if (!xs_scene_textures_ready(scene, why, sizeof why)) {
        cuda_destroy(&be->base);
        return xs_err_set(err, XS_ERR_INTERNAL, "CUDA back end: %s", why);
    }
    for (int i = 0; i < nb; ++i) {
        void *d = NULL;
        if (be->tex_all_objects && (blobs[i].view_offset == offsetof(xs_scene_view, tex_pool) ||
                                    blobs[i].view_offset == offsetof(xs_scene_view, tex_page))) {
            /* every texture is read through its texture objects: no page */
            memset((char *)&be->dview + blobs[i].view_offset, 0, sizeof(void *));
            continue;
        }
        if ((e = rt->malloc_device(&d, blobs[i].bytes)) != 0 ||
            (e = rt->memcpy_h2d(d, blobs[i].host, blobs[i].bytes)) != 0) {
            if (d)
                rt->free_device(d);
            char what[96];
            snprintf(what, sizeof what, "uploading the scene's %s (%zu bytes)", blobs[i].name, blobs[i].bytes);
            xs_result r = cuda_fail(be, err, what, e);
            cuda_destroy(&be->base);
            return r;
        }
        be->blob_offset[be->blob_count] = blobs[i].view_offset;
        be->blob_cap[be->blob_count] = blobs[i].bytes;
        be->blobs[be->blob_count++] = d;
        memcpy((char *)&be->dview + blobs[i].view_offset, &d, sizeof d);
    }
    xs_result tr = upload_textures(be, scene, err);
    if (tr != XS_OK) {
        cuda_destroy(&be->base);
        return tr;
    }
    wave_size(be, &gi, max_spp, &be->wave_paths, &be->group_max);
    if ((e = rt->malloc_device(&be->wave, rt->wave_bytes(be->wave_paths))) != 0) {
        be->wave = NULL;
        char what[128];
        snprintf(what, sizeof what, "allocating the wavefront's %lld paths (%zu bytes)", be->wave_paths,
                 rt->wave_bytes(be->wave_paths));
        xs_result r = cuda_fail(be, err, what, e);
        cuda_destroy(&be->base);
        return r;
    }
    if (slots > 0 && be->group_max > slots)
        be->group_max = slots;
    be->slot_count = slots > 0 ? slots : 3 * be->group_max;
    if (be->slot_count > XS_BACKEND_MAX_SLOTS)
        be->slot_count = XS_BACKEND_MAX_SLOTS;
    be->base.slots = be->slot_count;
    be->base.group = be->group_max;
    snprintf(be->base.device, sizeof be->base.device,
             "CUDA %d: %s, %d SMs, PCI %s, %d tile(s) a launch, waves of %lld paths", device, gi.name, gi.sm_count,
             gi.pci_bus_id, be->group_max, be->wave_paths);
    be->slot = calloc((size_t)be->slot_count, sizeof *be->slot);
    be->group = calloc((size_t)be->slot_count, sizeof *be->group);
    if (!be->slot || !be->group) {
        cuda_destroy(&be->base);
        return xs_err_set(err, XS_ERR_NOMEM, "CUDA back end: out of memory");
    }
    size_t out_bytes = be->max_pixels * (size_t)xs_aov_channels(0xffffffffu) * sizeof(float);
    size_t scratch = rt->scratch_bytes((int)be->max_pixels, max_spp);
    if ((e = rt->stream_create(&be->stream)) != 0) {
        xs_result r = cuda_fail(be, err, "creating a stream", e);
        cuda_destroy(&be->base);
        return r;
    }
    for (int i = 0; i < be->slot_count; ++i) {
        cuda_slot *s = &be->slot[i];
        cuda_group *g = &be->group[i];
        if ((e = rt->event_create(&g->ev_start, 1)) != 0 || (e = rt->event_create(&g->ev_stop, 1)) != 0 ||
            (e = rt->event_create(&g->ev_done, 0)) != 0 || (e = rt->malloc_device(&s->scratch, scratch)) != 0 ||
            (e = rt->malloc_device((void **)&s->d_out, out_bytes)) != 0 ||
            (e = rt->malloc_device((void **)&s->d_counters, sizeof *s->d_counters)) != 0 ||
            (e = rt->malloc_host((void **)&s->h_out, out_bytes)) != 0 ||
            (e = rt->malloc_host((void **)&s->h_counters, sizeof *s->h_counters)) != 0) {
            char what[96];
            snprintf(what, sizeof what, "allocating tile slot %d of %d", i + 1, be->slot_count);
            xs_result r = cuda_fail(be, err, what, e);
            cuda_destroy(&be->base);
            return r;
        }
        s->scratch_bytes = scratch;
    }
    if (paged_left) {
        /* the pages of the textures that are not texture objects, within
         * what the budget leaves */
        uint64_t budget = xs_scene_gpu_texture_budget(scene);
        if (budget > 0)
            budget = budget > be->tex_object_bytes ? budget - be->tex_object_bytes : 1;
        xs_result r = xs_gpu_pages_create(rt, xs_scene_texcache(scene), (uint32_t)ti.pages, budget, be->slot_count,
                                          &be->dview, &be->pages, err);
        if (r != XS_OK) {
            cuda_destroy(&be->base);
            return r;
        }
        xs_gpu_pages_stats st;
        xs_gpu_pages_stats_get(be->pages, &st);
        size_t n = strlen(be->base.device);
        snprintf(be->base.device + n, sizeof be->base.device - n, ", %llu texture pages", (unsigned long long)st.slots);
    }
    *out = &be->base;
    return XS_OK;
}

xs_result xs_backend_cuda_create(const xs_scene *scene, int fw, int fh, int device, int slots,
                                 int max_tile_pixels, int max_spp, xs_backend **out, xs_err *err)
{
    return xs_backend_cuda_create_rt(xs_cuda_rt_real(), scene, fw, fh, device, slots, max_tile_pixels,
                                     max_spp, out, err);
}
