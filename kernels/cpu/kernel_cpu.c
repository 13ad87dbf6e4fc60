/* CPU entry of the shared kernels, like Cycles' kernel/device/cpu: the
 * loops that run the wavefront's steps over one thread's batch of paths,
 * and the megakernel reference; all rendering logic lives in
 * kernels/xs_*.h. Compiled once per instruction set (XS_CPU_ISA: base or
 * avx2, see kernel_cpu.h), each build's functions named with its suffix.
 *
 * A thread renders a row of a tile as (pixel, sample) pairs in order,
 * XS_CPU_WAVE paths a batch: the batch is generated, then bounce after
 * bounce each step runs over its queue, then the batch's samples are folded
 * into their pixels in sample order, the chunk partial and the pixel's sum
 * carried from one batch to the next. That fold is the megakernel's, so
 * both integrators give the same pixels, bit for bit. The AVX2 build traces
 * the queues of frames without motion blur in packets of eight rays
 * (packet_avx2.h), which find each ray's own hit, so the same pixels again.
 */
#include "kernels/cpu/kernel_cpu.h"
#include "kernels/xs_layout.h" /* the host side of the layout the GPU shares */
#include "kernels/xs_wavefront.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if !defined(XS_CPU_ISA)
#define XS_CPU_ISA base
#endif
#define XS_CAT2(a, b) a##_##b
#define XS_CAT(a, b) XS_CAT2(a, b)
#define XS_ISA_FN(name) XS_CAT(name, XS_CPU_ISA)

struct xs_cpu_wave {
    xs_wf wf;
    void *mem;
    const xs_cpu_tracer *tracer; /* NULL: the kernels' own traversal */
};

/* ---- the megakernel (reference) -------------------------------------------- */

static void XS_ISA_FN(rows_megakernel)(const xs_scene_view *s, const xs_tile_params *tp, int row_begin, int row_end,
                                      float *rgba, xs_counters *c)
{
    xs_render_rows(s, tp, row_begin, row_end, rgba, c);
}

/* ---- the wavefront ------------------------------------------------------------ */

#if defined(XS_CPU_ISA_AVX2)
#include "kernels/cpu/packet_avx2.h"
#include "kernels/cpu/shade_avx2.h"

_Static_assert(XS_CPU_WAVE % XS_PK == 0, "shade_avx2.h reads eight sample positions from any multiple of eight");

/* Closest hits of ray-queue q's positions [j, j + n) as one packet (the
 * same hits as xs_wf_intersect's, packet_avx2.h says why); false, with
 * nothing written, when the packet cannot take this scene. */
static bool pk_intersect(const xs_scene_view *s, const xs_wf *w, uint32_t q, uint32_t j, uint32_t n, bool alpha,
                         xs_counters *c)
{
    xs_vec3 o[XS_PK], d[XS_PK];
    float tmax[XS_PK];
    xs_hit h[XS_PK];
    for (uint32_t l = 0; l < n; ++l) {
        const xs_path *p = &w->path[w->queue[q][j + l]];
        o[l] = p->o, d[l] = p->d, tmax[l] = INFINITY;
    }
    if (!xs_pk_trace(s, o, d, tmax, n, false, alpha, h, c))
        return false;
    for (uint32_t l = 0; l < n; ++l) {
        const uint32_t i = w->queue[q][j + l];
        if (w->path[i].bounce == 0u)
            c->camera_rays++;
        else
            c->bounce_rays++;
        w->hit[i] = h[l];
    }
    return true;
}

/* Shadow rays [k, k + n) as one packet, as xs_wf_shadow each. */
static bool pk_shadow(const xs_scene_view *s, const xs_wf *w, uint32_t k, uint32_t n, bool alpha, xs_counters *c)
{
    xs_vec3 o[XS_PK], d[XS_PK];
    float tmax[XS_PK];
    xs_hit h[XS_PK];
    for (uint32_t l = 0; l < n; ++l) {
        const xs_shadow *sh = &w->shadow[k + l];
        o[l] = sh->o, d[l] = sh->d, tmax[l] = sh->tmax;
    }
    if (!xs_pk_trace(s, o, d, tmax, n, true, alpha, h, c))
        return false;
    for (uint32_t l = 0; l < n; ++l) {
        const xs_shadow *sh = &w->shadow[k + l];
        c->shadow_rays++;
        if (h[l].tri == UINT32_MAX) {
            xs_vec3 *L = &w->path[sh->path].L;
            *L = xs_add(*L, sh->contrib);
        }
    }
    return true;
}
#endif

/* A pixel's sums while its samples are folded in (across batches). */
typedef struct fold {
    xs_partial acc, chunk;
} fold;

static void XS_ISA_FN(run_batch)(const xs_scene_view *s, const xs_tile_params *tp, xs_cpu_wave *cw, uint32_t n,
                                 xs_counters *c)
{
    const xs_wf *w = &cw->wf;
    const bool alpha = (s->flags & XS_VIEW_ALPHA) != 0u, motion = s->motion_steps >= 2u;
    const xs_cpu_tracer *tr = cw->tracer;
#if defined(XS_CPU_ISA_AVX2)
    /* packets of eight rays: frames without blur, the kernels' own traversal;
     * a packet the walk cannot take (a stack fuller than any tree the builder
     * accepts makes) goes ray by ray */
    const bool packets = !tr && !motion;
#endif
    uint32_t q = 0u, nq = n;
#if defined(XS_CPU_ISA_AVX2)
    uint64_t lanes8 = 0u; /* paths shaded eight at a time in this batch */
    xs_sh_lights lights;  /* the lights their lanes picked */
    lights.count = 0u;
#endif
    while (nq > 0u) {
#if defined(XS_CPU_ISA_AVX2)
        if (packets) {
            for (uint32_t j = 0; j < nq; j += XS_PK) {
                const uint32_t m = nq - j < XS_PK ? nq - j : XS_PK;
                if (!pk_intersect(s, w, q, j, m, alpha, c))
                    for (uint32_t l = j; l < j + m; ++l)
                        xs_wf_intersect(s, w, q, l, alpha, false, c);
            }
        } else
#endif
        if (tr) /* an outside tracer (Embree): one call a queue */
            tr->intersect(tr->ctx, s, w, q, nq, c);
        else if (motion) /* a constant in each loop: frames without blur get a walk without it */
            for (uint32_t j = 0; j < nq; ++j)
                xs_wf_intersect(s, w, q, j, alpha, true, c);
        else
            for (uint32_t j = 0; j < nq; ++j)
                xs_wf_intersect(s, w, q, j, alpha, false, c);
        xs_wf_samples_all(w, q, nq);
        w->count[q ^ 1u] = 0u;
        w->count[2] = 0u;
#if defined(XS_CPU_ISA_AVX2)
        if (!motion && (s->flags & XS_VIEW_LANES) != 0u) /* eight paths at once where shade_avx2.h
                                                            takes them */
            for (uint32_t j = 0; j < nq; j += XS_PK)
                lanes8 += xs_sh_shade8(s, tp, w, q, j, nq - j < XS_PK ? nq - j : XS_PK, &lights, c);
        else
#endif
            for (uint32_t j = 0; j < nq; ++j) {
                float u[XS_BOUNCE_SAMPLES];
                xs_wf_samples_at(w, j, u);
                xs_wf_shade(s, tp, 0u, w, q, j, u, c);
            }
        const uint32_t ns = w->count[2];
#if defined(XS_CPU_ISA_AVX2)
        if (packets) {
            for (uint32_t k = 0; k < ns; k += XS_PK) {
                const uint32_t m = ns - k < XS_PK ? ns - k : XS_PK;
                if (!pk_shadow(s, w, k, m, alpha, c))
                    for (uint32_t l = k; l < k + m; ++l)
                        xs_wf_shadow(s, w, l, alpha, false, c);
            }
        } else
#endif
        if (tr)
            tr->shadow(tr->ctx, s, w, ns, c);
        else if (motion)
            for (uint32_t k = 0; k < ns; ++k)
                xs_wf_shadow(s, w, k, alpha, true, c);
        else
            for (uint32_t k = 0; k < ns; ++k)
                xs_wf_shadow(s, w, k, alpha, false, c);
        q ^= 1u;
        nq = w->count[q];
    }
#if defined(XS_CPU_ISA_AVX2)
    if (lanes8 != 0u)
        xs_cpu_lanes_shaded8_add(lanes8);
#endif
}

static void XS_ISA_FN(rows_wavefront)(const xs_scene_view *s, const xs_tile_params *tp, int row_begin, int row_end,
                                     float *rgba, xs_counters *c, xs_cpu_wave *cw)
{
    const size_t stride = (size_t)xs_aov_channels(tp->aovs);
    const uint32_t spp = (uint32_t)tp->spp, cap = cw->wf.capacity;
    for (int y = row_begin; y < row_end; ++y) {
        const uint64_t total = (uint64_t)tp->width * spp;
        fold f;
        xs_partial_zero(&f.acc);
        xs_partial_zero(&f.chunk);
        for (uint64_t g0 = 0; g0 < total; g0 += cap) {
            const uint32_t n = (uint32_t)(total - g0 < cap ? total - g0 : cap);
            for (uint32_t i = 0; i < n; ++i) {
                const uint64_t g = g0 + i;
                xs_wf_generate(s, tp, &cw->wf, i, tp->x0 + (int)(g / spp), tp->y0 + y, (uint32_t)(g % spp), 0u, true);
            }
            XS_ISA_FN(run_batch)(s, tp, cw, n, c);
            /* fold in sample order: a chunk's sum from zero, chunks into the pixel */
            for (uint32_t i = 0; i < n; ++i) {
                const uint64_t g = g0 + i;
                const uint32_t k = (uint32_t)(g % spp);
                if (k % XS_SAMPLE_CHUNK == 0u)
                    xs_partial_zero(&f.chunk);
                xs_partial_add(&f.chunk, cw->wf.path[i].L, &cw->wf.first[i], c);
                if (k % XS_SAMPLE_CHUNK == XS_SAMPLE_CHUNK - 1u || k == spp - 1u)
                    xs_partial_merge(&f.acc, &f.chunk);
                if (k == spp - 1u) {
                    const size_t x = (size_t)(g / spp);
                    xs_pixel_finish(&f.acc, tp, rgba + ((size_t)y * (size_t)tp->width + x) * stride);
                    xs_partial_zero(&f.acc);
                }
            }
        }
    }
}

/* Chunks [chunk_first, chunk_first + chunk_count) of rows [row_begin,
 * row_end) as a part: the row's (pixel, sample) pairs of those chunks in
 * order through the batches, each chunk's sum folded from zero in sample
 * order exactly as rows_wavefront folds it, then packed where the part's
 * record of that (pixel, chunk) goes. */
static void XS_ISA_FN(part_rows_wavefront)(const xs_scene_view *s, const xs_tile_params *tp, int chunk_first,
                                          int chunk_count, int row_begin, int row_end, float *buf, xs_counters *c,
                                          xs_cpu_wave *cw)
{
    const uint32_t mask = xs_part_mask(tp->aovs);
    const size_t stride = (size_t)xs_part_floats(tp->aovs);
    const uint32_t spp = (uint32_t)tp->spp, cap = cw->wf.capacity;
    const uint32_t s0 = (uint32_t)chunk_first * XS_SAMPLE_CHUNK;
    uint32_t s1 = (uint32_t)(chunk_first + chunk_count) * XS_SAMPLE_CHUNK;
    s1 = s1 < spp ? s1 : spp;
    if (s1 <= s0)
        return;
    const uint32_t ns = s1 - s0; /* samples a pixel in this part */
    for (int y = row_begin; y < row_end; ++y) {
        const uint64_t total = (uint64_t)tp->width * ns;
        xs_partial chunk;
        xs_partial_zero(&chunk);
        for (uint64_t g0 = 0; g0 < total; g0 += cap) {
            const uint32_t n = (uint32_t)(total - g0 < cap ? total - g0 : cap);
            for (uint32_t i = 0; i < n; ++i) {
                const uint64_t g = g0 + i;
                xs_wf_generate(s, tp, &cw->wf, i, tp->x0 + (int)(g / ns), tp->y0 + y, s0 + (uint32_t)(g % ns), 0u,
                               true);
            }
            XS_ISA_FN(run_batch)(s, tp, cw, n, c);
            for (uint32_t i = 0; i < n; ++i) {
                const uint64_t g = g0 + i;
                const uint32_t k = s0 + (uint32_t)(g % ns);
                if (k % XS_SAMPLE_CHUNK == 0u)
                    xs_partial_zero(&chunk);
                xs_partial_add(&chunk, cw->wf.path[i].L, &cw->wf.first[i], c);
                if (k % XS_SAMPLE_CHUNK == XS_SAMPLE_CHUNK - 1u || k == s1 - 1u) {
                    const size_t x = (size_t)(g / ns);
                    const size_t j = (size_t)(k / XS_SAMPLE_CHUNK) - (size_t)chunk_first;
                    float *rec = buf + ((size_t)y * (size_t)tp->width + x) * (size_t)chunk_count * stride;
                    xs_partial_pack(&chunk, mask, rec + j * stride);
                }
            }
        }
    }
}

static void XS_ISA_FN(part_rows_megakernel)(const xs_scene_view *s, const xs_tile_params *tp, int chunk_first,
                                           int chunk_count, int row_begin, int row_end, float *buf, xs_counters *c)
{
    xs_render_part_rows(s, tp, chunk_first, chunk_count, row_begin, row_end, buf, c);
}

static const xs_cpu_kernels XS_ISA_FN(kernels) = {
#if defined(XS_CPU_ISA_AVX2)
    .isa = "avx2",
#elif defined(__x86_64__)
    .isa = "x86-64",
#else
    .isa = "generic",
#endif
    .render_rows_wavefront = XS_ISA_FN(rows_wavefront),
    .render_rows_megakernel = XS_ISA_FN(rows_megakernel),
    .render_part_rows_wavefront = XS_ISA_FN(part_rows_wavefront),
    .render_part_rows_megakernel = XS_ISA_FN(part_rows_megakernel),
};

const xs_cpu_kernels *XS_ISA_FN(xs_cpu_kernels)(void) { return &XS_ISA_FN(kernels); }

/* The wave's arrays and the dispatch, once (in the baseline build). */
#if !defined(XS_CPU_ISA_AVX2)
xs_cpu_wave *xs_cpu_wave_create(void)
{
    xs_cpu_wave *cw = calloc(1, sizeof *cw);
    if (!cw)
        return NULL;
    const size_t bytes = xs_wf_bytes(XS_CPU_WAVE, true);
    cw->mem = aligned_alloc(256, bytes);
    if (!cw->mem) {
        free(cw);
        return NULL;
    }
    memset(cw->mem, 0, bytes);
    xs_wf_layout(cw->mem, XS_CPU_WAVE, true, &cw->wf);
    return cw;
}

void xs_cpu_wave_set_tracer(xs_cpu_wave *cw, const xs_cpu_tracer *t) { cw->tracer = t; }

bool xs_cpu_material_lambert(const xs_material *m) { return xs_material_lambert(m); }
bool xs_cpu_material_ggx(const xs_material *m) { return xs_material_ggx(m); }

/* one atomic add a batch (512 paths' whole bounce loop): nothing the
 * threads wait on */
static _Atomic uint64_t lanes_shaded8;
uint64_t xs_cpu_lanes_shaded8(void) { return atomic_load_explicit(&lanes_shaded8, memory_order_relaxed); }
void xs_cpu_lanes_shaded8_add(uint64_t n) { atomic_fetch_add_explicit(&lanes_shaded8, n, memory_order_relaxed); }

void xs_cpu_wave_destroy(xs_cpu_wave *cw)
{
    if (!cw)
        return;
    free(cw->mem);
    free(cw);
}

const xs_cpu_kernels *xs_cpu_kernels_best(void)
{
#if defined(__x86_64__) && defined(XS_HAVE_AVX2_BUILD)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2"))
        return xs_cpu_kernels_avx2();
#endif
    return xs_cpu_kernels_base();
}

#if !defined(XS_HAVE_AVX2_BUILD)
const xs_cpu_kernels *xs_cpu_kernels_avx2(void) { return NULL; }
#endif

void xs_kernel_cpu_merge_parts(const xs_tile_params *tp, const float *const *parts, const int *chunk_counts,
                               int part_count, float *out)
{
    const size_t n = (size_t)tp->width * (size_t)tp->height, stride = (size_t)xs_aov_channels(tp->aovs);
    for (size_t i = 0; i < n; ++i)
        xs_merge_part_pixel(parts, chunk_counts, part_count, i, tp, out + i * stride);
}
#endif
