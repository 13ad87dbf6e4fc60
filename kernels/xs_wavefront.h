/* The wavefront integrator: many paths in flight at once, each step of
 * xs_path.h a loop over a queue of them (pbrt-v4's wavefront integrator,
 * Cycles' GPU integrator). One source for both devices: the functions below
 * do one queue entry; the CPU back end runs each as a loop over a batch of
 * paths per thread (kernels/cpu/kernel_cpu.c), the GPU as one kernel per
 * step with a thread per entry (kernels/cuda/kernel.cu).
 *
 * A bounce is four steps over the ray queue of the paths still alive:
 *   intersect  closest hit of each path's ray (the trace kernel: small, so
 *              a GPU keeps many in flight)
 *   samples    the bounce's eight sampler numbers of each, into arrays by
 *              queue position (a loop of integer hashing the CPU vectorises)
 *   shade      xs_path_shade: light gathered, a shadow ray pushed onto the
 *              shadow queue, the path pushed onto the next ray queue if it
 *              goes on
 *   shadow     each shadow ray (any hit); unoccluded, its contribution is
 *              added to its path's radiance
 * Each path does exactly what the megakernel's xs_trace_sample does for the
 * same sample, in the same order (its NEE light is added before its next
 * shade), so a path's radiance and first hit are the same bits either way;
 * the queues only decide when, never what. Pixels are then folded from
 * their samples in sample order, chunk by chunk (xs_partial_add,
 * xs_partial_merge), as the megakernel folds them. Output is therefore a
 * function of (seed, frame, pixel, sample) alone, whatever the batch, queue
 * order, thread, tile or rank.
 *
 * Queues hold path indices; the shadow queue holds the shadow rays
 * themselves. A push is an increment on a CPU (one thread owns a batch) and
 * a warp-aggregated atomic on a GPU (the order of a queue is then not fixed,
 * and does not need to be).
 */
#ifndef XS_WAVEFRONT_H
#define XS_WAVEFRONT_H

#include "kernels/xs_path.h"

/* The arrays of a wavefront of `capacity` paths. Path i's state is path[i],
 * hit[i], first[i]; queue entries are path indices; u holds the samples of
 * ray-queue position j at u[k * capacity + j]. count[0] and count[1] are
 * the two ray queues' lengths (this bounce's and the next's, alternating),
 * count[2] the shadow queue's. */
typedef struct xs_wf {
    xs_path *path;
    xs_hit *hit;
    xs_first_hit *first;
    xs_shadow *shadow;
    float *u;
    uint32_t *queue[2];
    uint32_t *count;
    uint32_t capacity;
    uint32_t pad_;
} xs_wf;

/* The parameters of path p's tile: tile p->tile of tp0, tiles stride bytes
 * apart (a GPU launch group's tiles; one tile and stride 0 on a CPU). */
XS_DEVICE const xs_tile_params *xs_wf_tile(const xs_tile_params *tp0, uint32_t stride, uint32_t tile)
{
    return (const xs_tile_params *)(const void *)((const char *)tp0 + (size_t)stride * (size_t)tile);
}

/* A place at the end of a queue. */
XS_DEVICE uint32_t xs_wf_push(uint32_t *count)
{
#if XS_GPU_CODE
    /* one atomic a warp: the active lanes take consecutive places */
    const unsigned mask = __activemask();
    const int lane = (int)(threadIdx.x & 31u);
    const int leader = __ffs(mask) - 1;
    uint32_t base = 0u;
    if (lane == leader)
        base = atomicAdd(count, (uint32_t)__popc(mask));
    base = __shfl_sync(mask, base, leader);
    return base + (uint32_t)__popc(mask & ((1u << lane) - 1u));
#else
    return (*count)++;
#endif
}

/* Starts path i as sample `sample` of frame pixel (px, py) and queues it:
 * at position i of ray queue 0 (queued true), or pushed onto it. */
XS_DEVICE void xs_wf_generate(const xs_scene_view *s, const xs_tile_params *tp, const xs_wf *w, uint32_t i, int px,
                              int py, uint32_t sample, uint32_t tile, bool in_place)
{
    xs_path_start(s, tp, px, py, sample, tile, &w->path[i]);
    xs_first_hit_none(&w->first[i]);
    w->queue[0][in_place ? i : xs_wf_push(&w->count[0])] = i;
}

/* One allocation for a wavefront of `capacity` paths: the queue counts, then
 * each array 256-byte aligned; with_u: the per-position sample arrays (the
 * CPU's; a GPU draws samples in its shade kernel). */
XS_DEVICE size_t xs_wf_align(size_t n) { return (n + 255u) & ~(size_t)255u; }
XS_DEVICE size_t xs_wf_bytes(uint32_t capacity, bool with_u)
{
    const size_t n = capacity;
    return xs_wf_align(4 * sizeof(uint32_t)) + xs_wf_align(n * sizeof(xs_path)) + xs_wf_align(n * sizeof(xs_hit)) +
           xs_wf_align(n * sizeof(xs_first_hit)) + xs_wf_align(n * sizeof(xs_shadow)) +
           2 * xs_wf_align(n * sizeof(uint32_t)) + (with_u ? xs_wf_align(n * XS_BOUNCE_SAMPLES * sizeof(float)) : 0u);
}
XS_DEVICE void xs_wf_layout(void *base, uint32_t capacity, bool with_u, xs_wf *w)
{
    const size_t n = capacity;
    char *p = (char *)base;
    w->count = (uint32_t *)(void *)p;
    p += xs_wf_align(4 * sizeof(uint32_t));
    w->path = (xs_path *)(void *)p;
    p += xs_wf_align(n * sizeof(xs_path));
    w->hit = (xs_hit *)(void *)p;
    p += xs_wf_align(n * sizeof(xs_hit));
    w->first = (xs_first_hit *)(void *)p;
    p += xs_wf_align(n * sizeof(xs_first_hit));
    w->shadow = (xs_shadow *)(void *)p;
    p += xs_wf_align(n * sizeof(xs_shadow));
    w->queue[0] = (uint32_t *)(void *)p;
    p += xs_wf_align(n * sizeof(uint32_t));
    w->queue[1] = (uint32_t *)(void *)p;
    p += xs_wf_align(n * sizeof(uint32_t));
    w->u = with_u ? (float *)(void *)p : NULL;
    w->capacity = capacity;
    w->pad_ = 0u;
}

/* Closest hit of the path at position j of ray queue q; alpha: test alpha
 * masks (a constant in a GPU's kernels, (s->flags & XS_VIEW_ALPHA) on a CPU);
 * motion: things move within the shutter (the same, s->motion_steps >= 2). */
XS_DEVICE void xs_wf_intersect(const xs_scene_view *s, const xs_wf *w, uint32_t q, uint32_t j, bool alpha,
                               bool motion, xs_counters *c)
{
    const uint32_t i = w->queue[q][j];
    const xs_path *p = &w->path[i];
    if (p->bounce == 0u)
        c->camera_rays++;
    else
        c->bounce_rays++;
    const float time = motion ? xs_path_time(s, p->key, p->sample) : 0.5f;
    xs_trace_walk(s, &p->o, &p->d, INFINITY, false, alpha, motion, time, &w->hit[i], c);
}

/* The bounce's samples of the path at position j of ray queue q. */
XS_DEVICE void xs_wf_samples(const xs_wf *w, uint32_t q, uint32_t j)
{
    const xs_path *p = &w->path[w->queue[q][j]];
    float u[XS_BOUNCE_SAMPLES];
    xs_path_samples(p->key, p->sample, p->bounce, u);
    for (int k = 0; k < XS_BOUNCE_SAMPLES; ++k)
        w->u[(size_t)k * w->capacity + j] = u[k];
}

/* The same for positions [0, n) of ray queue q, pair by pair: written so a
 * compiler vectorises each loop (8 lanes of AVX2: gathers of the paths'
 * keys, 64-bit and 32-bit integer hashing, bit reversals); the same integer
 * operations as xs_wf_samples, so the same numbers. For CPU loops. */
XS_DEVICE void xs_wf_samples_pair(const xs_path *XS_RESTRICT path, const uint32_t *XS_RESTRICT queue, uint32_t n,
                                  uint32_t k, float *XS_RESTRICT ux, float *XS_RESTRICT uy)
{
    for (uint32_t j = 0; j < n; ++j) {
        const xs_path *p = &path[queue[j]];
        uint32_t x, y;
        xs_sobol_pair(p->key, p->sample, xs_pair_of_bounce((int)p->bounce) + k, &x, &y);
        ux[j] = xs_u32_to_float(x);
        uy[j] = xs_u32_to_float(y);
    }
}
XS_DEVICE void xs_wf_samples_all(const xs_wf *w, uint32_t q, uint32_t n)
{
    for (uint32_t k = 0; k < (uint32_t)XS_PAIRS_PER_BOUNCE; ++k)
        xs_wf_samples_pair(w->path, w->queue[q], n, k, w->u + (size_t)(2 * k) * w->capacity,
                           w->u + (size_t)(2 * k + 1) * w->capacity);
}

/* The samples of ray-queue position j, from the arrays xs_wf_samples_all
 * filled. */
XS_DEVICE void xs_wf_samples_at(const xs_wf *w, uint32_t j, float *u)
{
    for (int k = 0; k < XS_BOUNCE_SAMPLES; ++k)
        u[k] = w->u[(size_t)k * w->capacity + j];
}

/* Shades the path at position j of ray queue q with its bounce's samples u:
 * pushes its shadow ray, and the path onto queue q ^ 1 if it goes on. */
XS_DEVICE void xs_wf_shade(const xs_scene_view *s, const xs_tile_params *tp0, uint32_t tp_stride, const xs_wf *w,
                           uint32_t q, uint32_t j, const float *u, xs_counters *c)
{
    const uint32_t i = w->queue[q][j];
#if XS_GPU_CODE
    /* the path in registers, the shadow ray pushed once it is known */
    xs_path p = w->path[i];
    xs_shadow sh;
    const bool more = xs_path_shade(s, xs_wf_tile(tp0, tp_stride, p.tile), &p, &w->hit[i], u, &w->first[i], &sh, c);
    w->path[i] = p;
    if (sh.valid != 0u) {
        sh.path = i;
        w->shadow[xs_wf_push(&w->count[2])] = sh;
    }
#else
    /* in place: the path where it lives, the shadow ray written into the
     * queue's next place and kept when valid (one thread owns the queue; a
     * copy written field by field and read back whole stalls the loads) */
    xs_shadow *sh = &w->shadow[w->count[2]];
    const bool more =
        xs_path_shade(s, xs_wf_tile(tp0, tp_stride, w->path[i].tile), &w->path[i], &w->hit[i], u, &w->first[i], sh, c);
    if (sh->valid != 0u) {
        sh->path = i;
        w->count[2]++;
    }
#endif
    if (more)
        w->queue[q ^ 1u][xs_wf_push(&w->count[q ^ 1u])] = i;
}

/* The shadow ray at position k of the shadow queue, at its path's time;
 * alpha and motion as for xs_wf_intersect. */
XS_DEVICE void xs_wf_shadow(const xs_scene_view *s, const xs_wf *w, uint32_t k, bool alpha, bool motion,
                            xs_counters *c)
{
    const xs_shadow *sh = &w->shadow[k];
    xs_hit hh;
    c->shadow_rays++;
    float time = 0.5f;
    if (motion) {
        const xs_path *p = &w->path[sh->path];
        time = xs_path_time(s, p->key, p->sample);
    }
    if (!xs_trace_walk(s, &sh->o, &sh->d, sh->tmax, true, alpha, motion, time, &hh, c)) {
        xs_vec3 *L = &w->path[sh->path].L;
        *L = xs_add(*L, sh->contrib);
    }
}

#endif
