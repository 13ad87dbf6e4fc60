/* The CUDA entry points of the shared kernels, callable from C (the CUDA
 * back end, render/backend_cuda.c, through render/cuda_rt.c). Errors are
 * cudaError_t values as int (0: success); the caller turns them into text
 * with the CUDA runtime.
 *
 * A launch renders a group of up to XS_CUDA_GROUP_MAX tiles at once. With
 * the wavefront integrator (the default, kernels/xs_wavefront.h) it runs
 * each 16-sample chunk of the group's pixels as waves of up to the wave's
 * capacity in paths (a sample a path): a generate kernel, then per bounce a
 * trace kernel (closest hit), a shade kernel (samples, shading, next-event
 * shadow rays, the next ray) and a trace kernel for the shadow rays, then an
 * accumulate kernel that folds each pixel's samples, in sample order, into
 * the chunk's partial sums; the finish kernel then adds a pixel's chunks in
 * chunk order: the CPU's float operations in the CPU's order. With the
 * megakernel (the reference, XS_CUDA_MEGAKERNEL) one thread runs a (pixel,
 * chunk)'s whole samples. The group travels by value as a kernel parameter
 * (10 KiB: CUDA 12.1 and later take up to 32,764 bytes of parameters on
 * Volta and later, and CUDA 13 builds nothing older). This header is
 * compiled as C17 (the back end) and by nvcc (kernel.cu): the static asserts
 * below hold in both.
 */
#ifndef XS_KERNEL_CUDA_H
#define XS_KERNEL_CUDA_H

#include "kernels/xs_layout.h"
#include "kernels/xs_types.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    XS_CUDA_GROUP_MAX = 128, /* tiles per launch */
    XS_CUDA_BLOCK = 64,      /* the megakernel's and the finish kernel's blocks (at ~200 registers a
                                thread, blocks of 64 fit an SM's registers best) */
    XS_CUDA_WF_BLOCK = 128,  /* the wavefront kernels' blocks */
    XS_CUDA_TRACE_BLOCKS = 8, /* the trace kernels' blocks an SM (__launch_bounds__): 8 x 128 threads
                                 at 64 registers fill the 64 K registers */
    XS_CUDA_ALPHA_BLOCKS = 5, /* the same for the trace kernels with alpha masks (a texture lookup
                                 in the loop): up to 102 registers */
    XS_CUDA_MOTION_BLOCKS = 4 /* the same for the trace kernels of frames under motion blur (transforms
                                 and triangles at the ray's time): up to 128 registers */
};

/* The integrator a group's launch runs. */
enum { XS_CUDA_WAVEFRONT = 0, XS_CUDA_MEGAKERNEL = 1 };

/* One tile of a launch group: its parameters and its device buffers. */
typedef struct xs_cuda_tile {
    xs_tile_params tp;
    void *scratch;         /* chunk-major partial sums: chunks x pixels of xs_partial */
    float *out;            /* tp.width * tp.height records of xs_aov_channels(tp.aovs) floats */
    xs_counters *counters; /* zeroed before the launch; the kernels add to it */
} xs_cuda_tile;

/* What one launch renders: tile[0 .. count). */
typedef struct xs_cuda_group {
    int32_t count;
    int32_t integrator; /* XS_CUDA_WAVEFRONT or XS_CUDA_MEGAKERNEL */
    int32_t pad_[2];
    xs_cuda_tile tile[XS_CUDA_GROUP_MAX];
} xs_cuda_group;

/* The layout both compilations must agree on (kernels/xs_layout.h has the
 * scene's structs). */
static_assert(sizeof(xs_cuda_tile) == 80, "xs_cuda_tile: 80 bytes");
static_assert(XS_ALIGNOF(xs_cuda_tile) == 8, "xs_cuda_tile: 8-byte aligned");
static_assert(offsetof(xs_cuda_tile, tp) == 0, "xs_cuda_tile.tp");
static_assert(offsetof(xs_cuda_tile, scratch) == 56, "xs_cuda_tile.scratch");
static_assert(offsetof(xs_cuda_tile, out) == 64, "xs_cuda_tile.out");
static_assert(offsetof(xs_cuda_tile, counters) == 72, "xs_cuda_tile.counters");
static_assert(sizeof(xs_cuda_group) == 16 + 80 * XS_CUDA_GROUP_MAX, "xs_cuda_group: count + tiles");
static_assert(XS_ALIGNOF(xs_cuda_group) == 8, "xs_cuda_group: 8-byte aligned");
static_assert(offsetof(xs_cuda_group, integrator) == 4, "xs_cuda_group.integrator");
static_assert(offsetof(xs_cuda_group, tile) == 16, "xs_cuda_group.tile");
/* kernel parameters (the scene view, the group and a wave's arguments)
 * stay under CUDA's limit */
static_assert(sizeof(xs_scene_view) + sizeof(xs_cuda_group) + 2048 <= 32764, "kernel parameters over 32,764 bytes");

/* Device bytes of the per-chunk partial sums of a tile of `pixels` pixels at
 * spp samples (xs_path.h: XS_SAMPLE_CHUNK). */
size_t xs_cuda_scratch_bytes(int pixels, int spp);

/* Paths a tile keeps in flight in a wave: its pixels x one chunk's samples
 * (at most XS_SAMPLE_CHUNK); also the weight of a tile's share of its
 * launch's kernel time. */
long long xs_cuda_tile_paths(int pixels, int spp);

/* Device bytes of a wave of `paths` paths (xs_wf_bytes). */
size_t xs_cuda_wave_bytes(long long paths);

/* Queues group g on `stream` (a cudaStream_t). Wavefront: waves of up to
 * wave_paths paths in the device buffer `wave` (xs_cuda_wave_bytes);
 * megakernel: one thread per (pixel, sample chunk). Each tile's partial sums
 * go to its scratch, then one thread per pixel adds its chunks in order into
 * the tile's out. Counters are added to each tile's counters. view holds
 * device pointers. Returns the first launch error (cudaGetLastError after
 * each launch). */
int xs_cuda_launch_group(const xs_scene_view *view, const xs_cuda_group *g, void *wave, long long wave_paths,
                         void *stream);

/* Blocks of XS_CUDA_WF_BLOCK threads of the closest-hit trace kernel that
 * one SM of the current device holds at once
 * (cudaOccupancyMaxActiveBlocksPerMultiprocessor, with its shared memory),
 * in *blocks. Returns the cudaError_t. */
int xs_cuda_resident_blocks(int *blocks);

#ifdef __cplusplus
}
#endif
#endif
