/* CUDA entry of the shared kernels: includes, the __global__ wrappers and
 * their C launchers; every bit of rendering logic lives in kernels/xs_*.h.
 *
 * A tile runs as two launches on the caller's stream. xs_cuda_chunks: one
 * thread per (pixel, sample chunk), so a 64x64 tile at 64 spp is 16k
 * threads and a 256x256 tile 262k; each writes its chunk's partial sums.
 * xs_cuda_finish: one thread per pixel adds its chunks in chunk order, the
 * same float operations the CPU performs (xs_render_pixel), and writes the
 * pixel record. Counters are summed within each warp by shuffles and added
 * once per warp. */
#include "kernels/cuda/kernel_cuda.h"
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

extern "C" __global__ void xs_cuda_chunks(xs_scene_view scene, xs_tile_params tp, xs_partial *scratch,
                                          xs_counters *counters)
{
    const long long npix = (long long)tp.width * (long long)tp.height;
    const long long total = npix * (long long)xs_chunk_count(tp.spp);
    const long long t = (long long)blockIdx.x * (long long)blockDim.x + (long long)threadIdx.x;
    xs_counters c = {0, 0, 0, 0, 0, 0, 0, 0};
    if (t < total) { /* no early return: every lane takes part in the warp sums */
        int chunk = (int)(t / npix);
        int pix = (int)(t % npix);
        xs_partial p;
        xs_render_chunk(&scene, &tp, tp.x0 + pix % tp.width, tp.y0 + pix / tp.width, chunk, &p, &c);
        scratch[(size_t)chunk * (size_t)npix + (size_t)pix] = p;
    }
    xs_warp_add_counters(counters, c);
}

extern "C" __global__ void xs_cuda_finish(xs_tile_params tp, const xs_partial *scratch, float *out)
{
    const int npix = tp.width * tp.height;
    const int pix = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (pix >= npix)
        return;
    xs_partial acc;
    xs_partial_zero(&acc);
    const int n = xs_chunk_count(tp.spp);
    for (int k = 0; k < n; ++k)
        xs_partial_merge(&acc, &scratch[(size_t)k * (size_t)npix + (size_t)pix]);
    xs_pixel_finish(&acc, &tp, out + (size_t)pix * (size_t)xs_aov_channels(tp.aovs));
}

extern "C" size_t xs_cuda_scratch_bytes(int pixels, int spp)
{
    return (size_t)pixels * (size_t)xs_chunk_count(spp) * sizeof(xs_partial);
}

extern "C" int xs_cuda_launch_tile(const xs_scene_view *view, const xs_tile_params *tp, void *scratch,
                                   float *d_out, xs_counters *d_counters, void *stream)
{
    const int block = 128;
    const long long npix = (long long)tp->width * (long long)tp->height;
    const long long total = npix * (long long)xs_chunk_count(tp->spp);
    if (total <= 0)
        return (int)cudaSuccess;
    cudaStream_t st = (cudaStream_t)stream;
    xs_cuda_chunks<<<(unsigned)((total + block - 1) / block), block, 0, st>>>(
        *view, *tp, (xs_partial *)scratch, d_counters);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return (int)e;
    xs_cuda_finish<<<(unsigned)((npix + block - 1) / block), block, 0, st>>>(
        *tp, (const xs_partial *)scratch, d_out);
    return (int)cudaGetLastError();
}
