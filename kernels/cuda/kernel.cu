/* CUDA entry of the shared kernels: includes, the __global__ wrappers and
 * their C launcher; every bit of rendering logic lives in kernels/xs_*.h.
 *
 * A launch renders a group of tiles (kernel_cuda.h) on the caller's stream;
 * grid.y is the tile where a kernel runs per tile.
 *
 * The wavefront integrator (the default): the group's pixels, numbered tile
 * after tile, are cut into waves of up to wave_paths / 16 pixels; a wave
 * runs one 16-sample chunk of its pixels, a path a sample (path slot
 * 16 x pixel + sample in chunk):
 *   xs_wf_generate_k   starts each path (a pixel's samples past its tile's
 *                      spp are not started) and pushes it on ray queue 0
 *   per bounce, b = 0 .. the group's most bounces, queue q = b & 1:
 *     xs_wf_intersect_k  closest hit of each path in queue q (a trace
 *                        kernel: __launch_bounds__ for 64 registers, its
 *                        traversal stack's first entries in shared memory)
 *     xs_wf_shade_k      the bounce's sampler numbers, shading, a shadow ray
 *                        pushed, the path pushed on queue q ^ 1 if it goes on
 *     xs_wf_shadow_k     the shadow rays (any hit), light added if unoccluded
 *   xs_wf_accumulate_k one thread a pixel folds its samples in sample order
 *                      into the chunk's partial sums (scratch)
 * then xs_cuda_finish adds each pixel's chunks in chunk order. Kernels are
 * launched for every bounce (the host does not wait to learn the queues'
 * lengths); a thread past its queue's length does nothing, so a launch over
 * an empty queue costs its launch. Shading is not sorted by material: the
 * glTF BSDF is one material model with flags, not a set of kernels, and no
 * GPU was at hand to measure whether sorting pays.
 *
 * The megakernel (the reference): xs_cuda_chunks, one thread per (pixel,
 * sample chunk) running that chunk's samples whole (xs_render_chunk).
 *
 * Counters: each thread's are summed over the lanes of its warp that work
 * for the same tile (a queue mixes tiles) and added once per warp and tile.
 * Parameters are __grid_constant__, read in place from parameter space.
 */
#include "kernels/cuda/kernel_cuda.h"
#include "kernels/xs_layout.h"
#include "kernels/xs_wavefront.h"

#include <cuda_runtime.h>
#include <string.h>

/* ---- counters ----------------------------------------------------------------- */

__device__ static inline unsigned long long xs_warp_sum_all(unsigned long long v)
{
    for (int off = 16; off > 0; off >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

/* Adds each active lane's counters to its tile's, once per warp and tile.
 * Every lane of the warp calls it. */
__device__ static inline void xs_tile_counters_add(const xs_cuda_group &g, bool active, uint32_t tile,
                                                   const xs_counters &c)
{
    const unsigned long long v[8] = {c.camera_rays, c.bounce_rays, c.shadow_rays, c.node_visits,
                                     c.tri_tests,   c.shade_events, c.inst_visits, c.nonfinite};
    const int lane = (int)(threadIdx.x & 31u);
    unsigned pending = __ballot_sync(0xffffffffu, active);
    while (pending != 0u) {
        const int leader = __ffs(pending) - 1;
        const uint32_t lt = __shfl_sync(0xffffffffu, tile, leader);
        const bool mine = active && tile == lt;
        const unsigned peers = __ballot_sync(0xffffffffu, mine);
        xs_counters *dst = g.tile[lt].counters;
        unsigned long long *d[8] = {
            (unsigned long long *)&dst->camera_rays, (unsigned long long *)&dst->bounce_rays,
            (unsigned long long *)&dst->shadow_rays, (unsigned long long *)&dst->node_visits,
            (unsigned long long *)&dst->tri_tests,   (unsigned long long *)&dst->shade_events,
            (unsigned long long *)&dst->inst_visits, (unsigned long long *)&dst->nonfinite};
        for (int k = 0; k < 8; ++k) {
            const unsigned long long s = xs_warp_sum_all(mine ? v[k] : 0ull);
            if (lane == leader && s != 0ull)
                atomicAdd(d[k], s);
        }
        pending &= ~peers;
    }
}

/* ---- the wavefront ---------------------------------------------------------------- */

/* What one wave covers: group pixels [p0, p0 + np) at sample chunk `chunk`;
 * pix_off[t]: tile t's first pixel in the group's numbering (pix_off[tiles]:
 * all of them). */
typedef struct xs_wave_args {
    xs_wf wf;
    uint32_t chunk, tiles, p0, np;
    uint32_t pix_off[XS_CUDA_GROUP_MAX + 1];
} xs_wave_args;

__device__ static inline uint32_t xs_tile_of(const xs_wave_args &a, uint32_t p)
{
    uint32_t lo = 0u, hi = a.tiles - 1u;
    while (lo < hi) {
        const uint32_t mid = (lo + hi + 1u) / 2u;
        if (a.pix_off[mid] <= p)
            lo = mid;
        else
            hi = mid - 1u;
    }
    return lo;
}

/* Samples tile tp has in chunk c (0 .. XS_SAMPLE_CHUNK). */
__device__ static inline int xs_chunk_samples(const xs_tile_params *tp, uint32_t c)
{
    const int n = tp->spp - (int)c * XS_SAMPLE_CHUNK;
    return n < 0 ? 0 : (n > XS_SAMPLE_CHUNK ? XS_SAMPLE_CHUNK : n);
}

extern "C" __global__ void __launch_bounds__(XS_CUDA_WF_BLOCK)
    xs_wf_generate_k(const __grid_constant__ xs_scene_view scene, const __grid_constant__ xs_cuda_group g,
                     const __grid_constant__ xs_wave_args a)
{
    const uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= a.np * (uint32_t)XS_SAMPLE_CHUNK)
        return;
    const uint32_t lp = i / (uint32_t)XS_SAMPLE_CHUNK, k = i % (uint32_t)XS_SAMPLE_CHUNK, p = a.p0 + lp;
    const uint32_t t = xs_tile_of(a, p);
    const xs_tile_params *tp = &g.tile[t].tp;
    if ((int)k >= xs_chunk_samples(tp, a.chunk))
        return;
    const uint32_t pix = p - a.pix_off[t];
    xs_wf_generate(&scene, tp, &a.wf, i, tp->x0 + (int)(pix % (uint32_t)tp->width),
                   tp->y0 + (int)(pix / (uint32_t)tp->width), a.chunk * (uint32_t)XS_SAMPLE_CHUNK + k, t, false);
}

/* The trace kernels, each three times: without alpha masks (the texture
 * lookup compiled out: the small kernel), with them, for scenes that have
 * some, and for frames under motion blur (masks tested where the scene has
 * them, moving instances and deforming meshes at each path's time: not held
 * to the small kernels' register budget). */
template <bool ALPHA, bool MOTION>
__device__ static inline void xs_intersect_body(const xs_scene_view &scene, const xs_cuda_group &g, const xs_wf &wf,
                                                uint32_t q)
{
    const uint32_t j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j == 0u) { /* the queues this bounce fills start empty */
        wf.count[q ^ 1u] = 0u;
        wf.count[2] = 0u;
    }
    xs_counters c = {0, 0, 0, 0, 0, 0, 0, 0};
    const bool active = j < wf.count[q];
    uint32_t tile = 0u;
    if (active) {
        tile = wf.path[wf.queue[q][j]].tile;
        xs_wf_intersect(&scene, &wf, q, j, MOTION ? (scene.flags & XS_VIEW_ALPHA) != 0u : ALPHA, MOTION, &c);
    }
    xs_tile_counters_add(g, active, tile, c);
}

template <bool ALPHA, bool MOTION>
__device__ static inline void xs_shadow_body(const xs_scene_view &scene, const xs_cuda_group &g, const xs_wf &wf)
{
    const uint32_t k = blockIdx.x * blockDim.x + threadIdx.x;
    xs_counters c = {0, 0, 0, 0, 0, 0, 0, 0};
    const bool active = k < wf.count[2];
    uint32_t tile = 0u;
    if (active) {
        tile = wf.path[wf.shadow[k].path].tile;
        xs_wf_shadow(&scene, &wf, k, MOTION ? (scene.flags & XS_VIEW_ALPHA) != 0u : ALPHA, MOTION, &c);
    }
    xs_tile_counters_add(g, active, tile, c);
}

extern "C" __global__ void __launch_bounds__(XS_CUDA_WF_BLOCK, XS_CUDA_TRACE_BLOCKS)
    xs_wf_intersect_k(const __grid_constant__ xs_scene_view scene, const __grid_constant__ xs_cuda_group g,
                      const __grid_constant__ xs_wf wf, uint32_t q)
{
    xs_intersect_body<false, false>(scene, g, wf, q);
}

extern "C" __global__ void __launch_bounds__(XS_CUDA_WF_BLOCK, XS_CUDA_ALPHA_BLOCKS)
    xs_wf_intersect_alpha_k(const __grid_constant__ xs_scene_view scene, const __grid_constant__ xs_cuda_group g,
                            const __grid_constant__ xs_wf wf, uint32_t q)
{
    xs_intersect_body<true, false>(scene, g, wf, q);
}

extern "C" __global__ void __launch_bounds__(XS_CUDA_WF_BLOCK)
    xs_wf_shade_k(const __grid_constant__ xs_scene_view scene, const __grid_constant__ xs_cuda_group g,
                  const __grid_constant__ xs_wf wf, uint32_t q)
{
    const uint32_t j = blockIdx.x * blockDim.x + threadIdx.x;
    xs_counters c = {0, 0, 0, 0, 0, 0, 0, 0};
    const bool active = j < wf.count[q];
    uint32_t tile = 0u;
    if (active) {
        const xs_path *p = &wf.path[wf.queue[q][j]];
        tile = p->tile;
        float u[XS_BOUNCE_SAMPLES];
        xs_path_samples(p->key, p->sample, p->bounce, u);
        xs_wf_shade(&scene, &g.tile[0].tp, (uint32_t)sizeof(xs_cuda_tile), &wf, q, j, u, &c);
    }
    xs_tile_counters_add(g, active, tile, c);
}

extern "C" __global__ void __launch_bounds__(XS_CUDA_WF_BLOCK, XS_CUDA_TRACE_BLOCKS)
    xs_wf_shadow_k(const __grid_constant__ xs_scene_view scene, const __grid_constant__ xs_cuda_group g,
                   const __grid_constant__ xs_wf wf)
{
    xs_shadow_body<false, false>(scene, g, wf);
}

extern "C" __global__ void __launch_bounds__(XS_CUDA_WF_BLOCK, XS_CUDA_ALPHA_BLOCKS)
    xs_wf_shadow_alpha_k(const __grid_constant__ xs_scene_view scene, const __grid_constant__ xs_cuda_group g,
                         const __grid_constant__ xs_wf wf)
{
    xs_shadow_body<true, false>(scene, g, wf);
}

extern "C" __global__ void __launch_bounds__(XS_CUDA_WF_BLOCK, XS_CUDA_MOTION_BLOCKS)
    xs_wf_intersect_motion_k(const __grid_constant__ xs_scene_view scene, const __grid_constant__ xs_cuda_group g,
                             const __grid_constant__ xs_wf wf, uint32_t q)
{
    xs_intersect_body<true, true>(scene, g, wf, q);
}

extern "C" __global__ void __launch_bounds__(XS_CUDA_WF_BLOCK, XS_CUDA_MOTION_BLOCKS)
    xs_wf_shadow_motion_k(const __grid_constant__ xs_scene_view scene, const __grid_constant__ xs_cuda_group g,
                          const __grid_constant__ xs_wf wf)
{
    xs_shadow_body<true, true>(scene, g, wf);
}

extern "C" __global__ void __launch_bounds__(XS_CUDA_WF_BLOCK)
    xs_wf_accumulate_k(const __grid_constant__ xs_cuda_group g, const __grid_constant__ xs_wave_args a)
{
    const uint32_t lp = blockIdx.x * blockDim.x + threadIdx.x;
    xs_counters c = {0, 0, 0, 0, 0, 0, 0, 0};
    bool active = lp < a.np;
    uint32_t t = 0u;
    if (active) {
        const uint32_t p = a.p0 + lp;
        t = xs_tile_of(a, p);
        const xs_cuda_tile *ct = &g.tile[t];
        const int ns = xs_chunk_samples(&ct->tp, a.chunk);
        active = ns > 0;
        if (active) {
            const uint32_t pix = p - a.pix_off[t];
            const size_t npix = (size_t)ct->tp.width * (size_t)ct->tp.height;
            xs_partial part;
            xs_partial_zero(&part);
            for (int k = 0; k < ns; ++k) {
                const uint32_t i = lp * (uint32_t)XS_SAMPLE_CHUNK + (uint32_t)k;
                xs_partial_add(&part, a.wf.path[i].L, &a.wf.first[i], &c);
            }
            ((xs_partial *)ct->scratch)[(size_t)a.chunk * npix + pix] = part;
        }
    }
    xs_tile_counters_add(g, active, t, c);
}

/* ---- the megakernel (reference) and the chunk sums ------------------------------------ */

extern "C" __global__ void xs_cuda_chunks(const __grid_constant__ xs_scene_view scene,
                                          const __grid_constant__ xs_cuda_group g)
{
    const xs_cuda_tile *ct = &g.tile[blockIdx.y];
    const long long npix = (long long)ct->tp.width * (long long)ct->tp.height;
    const long long total = npix * (long long)xs_chunk_count(ct->tp.spp);
    const long long first = (long long)blockIdx.x * (long long)blockDim.x;
    if (first >= total)
        return; /* the whole block lies past this tile (a smaller tile of the group) */
    const long long t = first + (long long)threadIdx.x;
    xs_counters c = {0, 0, 0, 0, 0, 0, 0, 0};
    if (t < total) { /* no early return: every lane takes part in the warp sums */
        int chunk = (int)(t / npix);
        int pix = (int)(t % npix);
        xs_partial p;
        xs_render_chunk(&scene, &ct->tp, ct->tp.x0 + pix % ct->tp.width, ct->tp.y0 + pix / ct->tp.width,
                        chunk, &p, &c);
        ((xs_partial *)ct->scratch)[(size_t)chunk * (size_t)npix + (size_t)pix] = p;
    }
    xs_tile_counters_add(g, t < total, blockIdx.y, c);
}

extern "C" __global__ void __launch_bounds__(XS_CUDA_BLOCK) xs_cuda_finish(const __grid_constant__ xs_cuda_group g)
{
    const xs_cuda_tile *ct = &g.tile[blockIdx.y];
    const int npix = ct->tp.width * ct->tp.height;
    const int pix = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (pix >= npix)
        return;
    const xs_partial *scratch = (const xs_partial *)ct->scratch;
    xs_partial acc;
    xs_partial_zero(&acc);
    const int n = xs_chunk_count(ct->tp.spp);
    for (int k = 0; k < n; ++k)
        xs_partial_merge(&acc, &scratch[(size_t)k * (size_t)npix + (size_t)pix]);
    xs_pixel_finish(&acc, &ct->tp, ct->out + (size_t)pix * (size_t)xs_aov_channels(ct->tp.aovs));
}

/* ---- the C side --------------------------------------------------------------------------- */

extern "C" size_t xs_cuda_scratch_bytes(int pixels, int spp)
{
    return (size_t)pixels * (size_t)xs_chunk_count(spp) * sizeof(xs_partial);
}

extern "C" long long xs_cuda_tile_paths(int pixels, int spp)
{
    return (long long)pixels * (long long)(spp < XS_SAMPLE_CHUNK ? (spp > 0 ? spp : 1) : XS_SAMPLE_CHUNK);
}

extern "C" size_t xs_cuda_wave_bytes(long long paths)
{
    return xs_wf_bytes((uint32_t)paths, false);
}

static const size_t xs_trace_smem = (size_t)XS_CUDA_WF_BLOCK * (size_t)XS_STACK_SMEM_BYTES;

static int xs_launch_megakernel(const xs_scene_view *view, const xs_cuda_group *g, cudaStream_t st)
{
    long long threads = 0;
    for (int i = 0; i < g->count; ++i) {
        const xs_tile_params *tp = &g->tile[i].tp;
        long long nt = (long long)tp->width * (long long)tp->height * (long long)xs_chunk_count(tp->spp);
        threads = nt > threads ? nt : threads;
    }
    if (threads <= 0)
        return (int)cudaSuccess;
    const dim3 chunks((unsigned)((threads + XS_CUDA_BLOCK - 1) / XS_CUDA_BLOCK), (unsigned)g->count);
    xs_cuda_chunks<<<chunks, XS_CUDA_BLOCK, (size_t)XS_CUDA_BLOCK * (size_t)XS_STACK_SMEM_BYTES, st>>>(*view, *g);
    return (int)cudaGetLastError();
}

static int xs_launch_wavefront(const xs_scene_view *view, const xs_cuda_group *g, void *wave, long long wave_paths,
                               cudaStream_t st)
{
    if (!wave || wave_paths < XS_SAMPLE_CHUNK || wave_paths > 0x7fffffffLL)
        return (int)cudaErrorInvalidValue;
    xs_wave_args a;
    memset(&a, 0, sizeof a);
    xs_wf_layout(wave, (uint32_t)wave_paths, false, &a.wf);
    a.tiles = (uint32_t)g->count;
    int chunks = 0, bounces = 0;
    uint64_t total = 0;
    for (int i = 0; i < g->count; ++i) {
        const xs_tile_params *tp = &g->tile[i].tp;
        a.pix_off[i] = (uint32_t)total;
        total += (uint64_t)tp->width * (uint64_t)tp->height;
        chunks = xs_chunk_count(tp->spp) > chunks ? xs_chunk_count(tp->spp) : chunks;
        bounces = tp->max_bounces > bounces ? tp->max_bounces : bounces;
    }
    if (total > 0xffffffffull)
        return (int)cudaErrorInvalidValue;
    a.pix_off[g->count] = (uint32_t)total;
    const uint32_t wave_pixels = (uint32_t)(wave_paths / XS_SAMPLE_CHUNK);
    for (int c = 0; c < chunks; ++c)
        for (uint64_t p0 = 0; p0 < total; p0 += wave_pixels) {
            a.chunk = (uint32_t)c;
            a.p0 = (uint32_t)p0;
            a.np = (uint32_t)(total - p0 < wave_pixels ? total - p0 : wave_pixels);
            const unsigned grid = (unsigned)(((size_t)a.np * XS_SAMPLE_CHUNK + XS_CUDA_WF_BLOCK - 1) / XS_CUDA_WF_BLOCK);
            cudaError_t e = cudaMemsetAsync(a.wf.count, 0, 4 * sizeof(uint32_t), st);
            if (e != cudaSuccess)
                return (int)e;
            xs_wf_generate_k<<<grid, XS_CUDA_WF_BLOCK, 0, st>>>(*view, *g, a);
            const bool alpha = (view->flags & XS_VIEW_ALPHA) != 0u, motion = view->motion_steps >= 2u;
            for (int b = 0; b <= bounces; ++b) {
                const uint32_t q = (uint32_t)b & 1u;
                if (motion)
                    xs_wf_intersect_motion_k<<<grid, XS_CUDA_WF_BLOCK, xs_trace_smem, st>>>(*view, *g, a.wf, q);
                else if (alpha)
                    xs_wf_intersect_alpha_k<<<grid, XS_CUDA_WF_BLOCK, xs_trace_smem, st>>>(*view, *g, a.wf, q);
                else
                    xs_wf_intersect_k<<<grid, XS_CUDA_WF_BLOCK, xs_trace_smem, st>>>(*view, *g, a.wf, q);
                xs_wf_shade_k<<<grid, XS_CUDA_WF_BLOCK, 0, st>>>(*view, *g, a.wf, q);
                if (motion)
                    xs_wf_shadow_motion_k<<<grid, XS_CUDA_WF_BLOCK, xs_trace_smem, st>>>(*view, *g, a.wf);
                else if (alpha)
                    xs_wf_shadow_alpha_k<<<grid, XS_CUDA_WF_BLOCK, xs_trace_smem, st>>>(*view, *g, a.wf);
                else
                    xs_wf_shadow_k<<<grid, XS_CUDA_WF_BLOCK, xs_trace_smem, st>>>(*view, *g, a.wf);
            }
            xs_wf_accumulate_k<<<(a.np + XS_CUDA_WF_BLOCK - 1) / XS_CUDA_WF_BLOCK, XS_CUDA_WF_BLOCK, 0, st>>>(*g, a);
            if ((e = cudaGetLastError()) != cudaSuccess)
                return (int)e;
        }
    return (int)cudaSuccess;
}

extern "C" int xs_cuda_launch_group(const xs_scene_view *view, const xs_cuda_group *g, void *wave,
                                    long long wave_paths, void *stream)
{
    if (g->count < 1)
        return (int)cudaSuccess;
    cudaStream_t st = (cudaStream_t)stream;
    int e = g->integrator == XS_CUDA_MEGAKERNEL ? xs_launch_megakernel(view, g, st)
                                                : xs_launch_wavefront(view, g, wave, wave_paths, st);
    if (e != (int)cudaSuccess)
        return e;
    int pixels = 0;
    for (int i = 0; i < g->count; ++i) {
        const int np = g->tile[i].tp.width * g->tile[i].tp.height;
        pixels = np > pixels ? np : pixels;
    }
    const dim3 finish((unsigned)((pixels + XS_CUDA_BLOCK - 1) / XS_CUDA_BLOCK), (unsigned)g->count);
    xs_cuda_finish<<<finish, XS_CUDA_BLOCK, 0, st>>>(*g);
    return (int)cudaGetLastError();
}

extern "C" int xs_cuda_resident_blocks(int *blocks)
{
    *blocks = 0;
    return (int)cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks, xs_wf_intersect_k, XS_CUDA_WF_BLOCK,
                                                              xs_trace_smem);
}
