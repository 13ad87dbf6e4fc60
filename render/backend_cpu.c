/* The CPU back end: renders a tile with `threads` POSIX threads. Rows are
 * handed out through one atomic counter; each thread keeps its own counters
 * and its own wavefront arrays (made once, at create), and the counters are
 * summed after the join, so the hot path takes no lock. Pixels depend only
 * on (seed, frame, pixel, sample), so the split between threads never
 * changes the result. The kernels are the widest build the CPU runs
 * (kernels/cpu/kernel_cpu.h: AVX2 or baseline x86-64, the same bits). A
 * part of a tile (a range of its sample chunks, begin_part) renders the
 * same way, with the same integrator, into the part's packed records. */
#define _GNU_SOURCE
#include "render/xs_backend.h"
#include "render/xs_parallel.h"
#include "render/xs_texcache.h"
#include "kernels/cpu/kernel_cpu.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct cpu_backend {
    xs_backend base;
    xs_scene_view view;
    int fw, fh;
    int threads;
    const xs_cpu_kernels *k;
    int integrator;       /* XS_INTEGRATOR_* */
    xs_cpu_wave **waves;  /* one a thread */
    xs_tile_params pending; /* the slot's tile, rendered by end */
    bool has_pending;
    int chunk_first, chunk_count; /* a part: its sample chunks; 0, 0: the whole tile */
} cpu_backend;

typedef struct cpu_job {
    const cpu_backend *be;
    const xs_tile_params *tp;
    float *rgba;
    atomic_int next_row;
} cpu_job;

typedef struct cpu_worker {
    cpu_job *job;
    xs_cpu_wave *wave;
    xs_counters counters;
    pthread_t thread;
} cpu_worker;

static void *cpu_worker_main(void *arg)
{
    cpu_worker *w = (cpu_worker *)arg;
    cpu_job *job = w->job;
    const cpu_backend *be = job->be;
    for (;;) {
        int row = atomic_fetch_add(&job->next_row, 1);
        if (row >= job->tp->height)
            break;
        if (be->chunk_count > 0 && be->integrator == XS_INTEGRATOR_MEGAKERNEL)
            be->k->render_part_rows_megakernel(&be->view, job->tp, be->chunk_first, be->chunk_count, row, row + 1,
                                               job->rgba, &w->counters);
        else if (be->chunk_count > 0)
            be->k->render_part_rows_wavefront(&be->view, job->tp, be->chunk_first, be->chunk_count, row, row + 1,
                                              job->rgba, &w->counters, w->wave);
        else if (be->integrator == XS_INTEGRATOR_MEGAKERNEL)
            be->k->render_rows_megakernel(&be->view, job->tp, row, row + 1, job->rgba, &w->counters);
        else
            be->k->render_rows_wavefront(&be->view, job->tp, row, row + 1, job->rgba, &w->counters, w->wave);
    }
    xs_texcache_thread_flush();
    return NULL;
}

static xs_result cpu_begin_tile(xs_backend *self, int slot, const xs_tile_params *tp, xs_err *err)
{
    cpu_backend *be = (cpu_backend *)self;
    if (slot != 0 || be->has_pending)
        return xs_err_set(err, XS_ERR_INTERNAL, "CPU back end: slot %d is not free", slot);
    be->pending = *tp;
    be->has_pending = true;
    be->chunk_first = be->chunk_count = 0;
    return XS_OK;
}

static xs_result cpu_begin_part(xs_backend *self, int slot, const xs_tile_params *tp, int chunk_first,
                                int chunk_count, xs_err *err)
{
    cpu_backend *be = (cpu_backend *)self;
    if (chunk_first < 0 || chunk_count < 1)
        return xs_err_set(err, XS_ERR_INTERNAL, "CPU back end: a part of chunks [%d, +%d)", chunk_first,
                          chunk_count);
    xs_result r = cpu_begin_tile(self, slot, tp, err);
    if (r == XS_OK) {
        be->chunk_first = chunk_first;
        be->chunk_count = chunk_count;
    }
    return r;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static xs_result cpu_end_tile(xs_backend *self, int slot, float *rgba, xs_counters *counters,
                              double *kernel_s, xs_err *err)
{
    cpu_backend *be = (cpu_backend *)self;
    if (slot != 0 || !be->has_pending)
        return xs_err_set(err, XS_ERR_INTERNAL, "CPU back end: slot %d holds no tile", slot);
    be->has_pending = false;
    const xs_tile_params *tp = &be->pending;
    int n = be->threads < tp->height ? be->threads : tp->height;
    if (n < 1)
        n = 1;
    cpu_worker *ws = calloc((size_t)n, sizeof *ws);
    if (!ws)
        return xs_err_set(err, XS_ERR_NOMEM, "CPU back end: out of memory for %d threads", n);
    const double t0 = now_s();
    cpu_job job = {.be = be, .tp = tp, .rgba = rgba};
    atomic_init(&job.next_row, 0);
    int started = 0;
    for (int i = 1; i < n; ++i) {
        ws[i].job = &job;
        ws[i].wave = be->waves[i];
        if (pthread_create(&ws[i].thread, NULL, cpu_worker_main, &ws[i]) != 0)
            break;
        started = i;
    }
    ws[0].job = &job;
    for (int i = 0; i < n; ++i)
        ws[i].wave = be->waves[i];
    cpu_worker_main(&ws[0]); /* the calling thread works too */
    for (int i = 1; i <= started; ++i)
        pthread_join(ws[i].thread, NULL);
    for (int i = 0; i <= started; ++i) {
        xs_counters_add(counters, &ws[i].counters);
    }
    free(ws);
    *kernel_s += now_s() - t0; /* the kernel is this render */
    char why[512];
    if (be->view.tex_fetch && xs_texcache_take_failure((xs_texcache *)be->view.tex_ctx, why, sizeof why))
        return xs_err_set(err, XS_ERR_RENDER, "%s", why); /* a texture page could not be read */
    return XS_OK;
}

static void cpu_destroy(xs_backend *self)
{
    cpu_backend *be = (cpu_backend *)self;
    for (int i = 0; be->waves && i < be->threads; ++i)
        xs_cpu_wave_destroy(be->waves[i]);
    free(be->waves);
    free(be);
}

/* The arrays are the scene's own: a new view of it is all a frame needs. */
static xs_result cpu_update(xs_backend *self, const xs_scene *scene, xs_err *err)
{
    cpu_backend *be = (cpu_backend *)self;
    if (be->has_pending)
        return xs_err_set(err, XS_ERR_INTERNAL, "CPU back end: the scene changed under a tile in flight");
    be->view = xs_scene_view_for(scene, be->fw, be->fh);
    return XS_OK;
}

xs_result xs_backend_cpu_create_with(const xs_scene *scene, int fw, int fh, int threads, const xs_cpu_options *opt,
                                     xs_backend **out, xs_err *err)
{
    char why[256];
    if (!xs_scene_textures_ready(scene, why, sizeof why))
        return xs_err_set(err, XS_ERR_INTERNAL, "CPU back end: %s", why);
    const xs_cpu_kernels *k = xs_cpu_kernels_best();
    if (opt && opt->isa == XS_CPU_ISA_BASE)
        k = xs_cpu_kernels_base();
    else if (opt && opt->isa == XS_CPU_ISA_AVX2) {
        k = xs_cpu_kernels_avx2();
        if (!k || xs_cpu_kernels_best() != k)
            return xs_err_set(err, XS_ERR_INVALID, "CPU back end: AVX2 kernels asked for, but %s",
                              k ? "this CPU has no AVX2" : "this build has none");
    }
    if (opt && opt->tracer && opt->integrator == XS_INTEGRATOR_MEGAKERNEL)
        return xs_err_set(err, XS_ERR_INVALID, "CPU back end: an outside tracer runs the wavefront only, "
                                               "not the megakernel");
    cpu_backend *be = calloc(1, sizeof *be);
    if (!be)
        return xs_err_set(err, XS_ERR_NOMEM, "CPU back end: out of memory");
    be->base.name = opt && opt->name ? opt->name : "cpu";
    be->base.slots = 1;
    be->base.group = 1;
    be->base.begin_tile = cpu_begin_tile;
    be->base.end_tile = cpu_end_tile;
    be->base.update = cpu_update;
    be->base.destroy = cpu_destroy;
    be->base.begin_part = cpu_begin_part;
    be->view = xs_scene_view_for(scene, fw, fh);
    be->fw = fw;
    be->fh = fh;
    be->threads = threads < 1 ? 1 : threads;
    be->k = k;
    be->integrator = opt ? opt->integrator : XS_INTEGRATOR_WAVEFRONT;
    be->waves = calloc((size_t)be->threads, sizeof *be->waves);
    for (int i = 0; be->waves && i < be->threads; ++i) {
        if (!(be->waves[i] = xs_cpu_wave_create()))
            break;
        xs_cpu_wave_set_tracer(be->waves[i], opt ? opt->tracer : NULL);
    }
    if (!be->waves || !be->waves[be->threads - 1]) {
        cpu_destroy(&be->base);
        return xs_err_set(err, XS_ERR_NOMEM, "CPU back end: out of memory for %d threads' path arrays", threads);
    }
    snprintf(be->base.device, sizeof be->base.device, "CPU, %d thread(s), %s kernels%s%s", be->threads, k->isa,
             be->integrator == XS_INTEGRATOR_MEGAKERNEL ? ", megakernel" : "",
             opt && opt->tracer ? ", Embree traversal" : "");
    *out = &be->base;
    return XS_OK;
}

xs_result xs_backend_cpu_create(const xs_scene *scene, int fw, int fh, int threads, xs_backend **out, xs_err *err)
{
    return xs_backend_cpu_create_with(scene, fw, fh, threads, NULL, out, err);
}
