/* CUDA entry of the shared kernels: includes, the __global__ wrappers and
 * their C launchers; every bit of rendering logic lives in kernels/xs_*.h.
 *
 * A launch renders a group of tiles (kernel_cuda.h) in two kernels on the
 * caller's stream; grid.y is the tile in the group. xs_cuda_chunks: one
 * thread per (pixel, sample chunk) of each tile, writing its chunk's partial
 * sums to the tile's scratch; a 256x256 tile at 16 spp is 65,536 threads,
 * and the back end puts as many tiles in a group as fill the device.
 * xs_cuda_finish: one thread per pixel adds its chunks in chunk order, the
 * same float operations the CPU performs (xs_render_pixel), and writes the
 * pixel record. Counters are summed within each warp by shuffles and added
 * once per warp. Both kernels take their parameters as __grid_constant__,
 * read in place from parameter space (no per-thread copy of the scene view
 * or of the group).
 */
#include "kernels/cuda/kernel_cuda.h"
#include "kernels/xs_layout.h"
#include "kernels/xs_path.h"

#include <cuda_runtime.h>

__device__ static inline unsigned long long xs_warp_sum(unsigned long long v)
{
    for (int off = 16; off > 0; off >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, off);
    return v;
}

__device__ static inline void xs_warp_add_counters(xs_counters *dst, const xs_counters &c)
{
    const unsigned long long v[8] = {c.camera_rays, c.bounce_rays, c.shadow_rays, c.node_visits,
                                     c.tri_tests,   c.shade_events, c.inst_visits, c.nonfinite};
    unsigned long long s[8];
    for (int i = 0; i < 8; ++i)
        s[i] = xs_warp_sum(v[i]);
    if ((threadIdx.x & 31u) == 0u) {
        unsigned long long *d[8] = {
            (unsigned long long *)&dst->camera_rays, (unsigned long long *)&dst->bounce_rays,
            (unsigned long long *)&dst->shadow_rays, (unsigned long long *)&dst->node_visits,
            (unsigned long long *)&dst->tri_tests,   (unsigned long long *)&dst->shade_events,
            (unsigned long long *)&dst->inst_visits, (unsigned long long *)&dst->nonfinite};
        for (int i = 0; i < 8; ++i)
            if (s[i])
                atomicAdd(d[i], s[i]);
    }
}

/* No __launch_bounds__ here: with one, ptxas aims at 168 registers and
 * spills (seen with nvcc 13.0 for sm_90); without, it takes 174 and spills
 * nothing, and blocks of 64 threads still fit 5 to an SM. tests/ptxas.sh
 * holds the budget. */
extern "C" __global__ void xs_cuda_chunks(const __grid_constant__ xs_scene_view scene, const __grid_constant__ xs_cuda_group g)
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
    xs_warp_add_counters(ct->counters, c);
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

extern "C" size_t xs_cuda_scratch_bytes(int pixels, int spp)
{
    return (size_t)pixels * (size_t)xs_chunk_count(spp) * sizeof(xs_partial);
}

extern "C" long long xs_cuda_tile_threads(int pixels, int spp)
{
    return (long long)pixels * (long long)xs_chunk_count(spp);
}

extern "C" int xs_cuda_launch_group(const xs_scene_view *view, const xs_cuda_group *g, void *stream)
{
    long long threads = 0, pixels = 0;
    for (int i = 0; i < g->count; ++i) {
        const xs_tile_params *tp = &g->tile[i].tp;
        long long np = (long long)tp->width * (long long)tp->height;
        long long nt = np * (long long)xs_chunk_count(tp->spp);
        threads = nt > threads ? nt : threads;
        pixels = np > pixels ? np : pixels;
    }
    if (g->count < 1 || threads <= 0)
        return (int)cudaSuccess;
    cudaStream_t st = (cudaStream_t)stream;
    const dim3 chunks((unsigned)((threads + XS_CUDA_BLOCK - 1) / XS_CUDA_BLOCK), (unsigned)g->count);
    xs_cuda_chunks<<<chunks, XS_CUDA_BLOCK, 0, st>>>(*view, *g);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return (int)e;
    const dim3 finish((unsigned)((pixels + XS_CUDA_BLOCK - 1) / XS_CUDA_BLOCK), (unsigned)g->count);
    xs_cuda_finish<<<finish, XS_CUDA_BLOCK, 0, st>>>(*g);
    return (int)cudaGetLastError();
}

extern "C" int xs_cuda_resident_blocks(int *blocks)
{
    *blocks = 0;
    return (int)cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks, xs_cuda_chunks, XS_CUDA_BLOCK, 0);
}
