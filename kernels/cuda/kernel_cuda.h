/* The CUDA entry points of the shared kernels, callable from C (the CUDA
 * back end, render/backend_cuda.c, through render/cuda_rt.c). Errors are
 * cudaError_t values as int (0: success); the caller turns them into text
 * with the CUDA runtime.
 *
 * A launch renders a group of up to XS_CUDA_GROUP_MAX tiles at once, so one
 * launch fills the GPU whatever the spp and for tiles down to 32 pixels at
 * 16 spp (128 x 1,024 threads: 1.5 waves of an H100): the back end sizes a
 * group from the device's SM count and resident threads per SM. The group
 * travels by value as a kernel parameter (10 KiB: CUDA 12.1 and later take
 * up to 32,764 bytes of parameters on Volta and later, and CUDA 13 builds
 * nothing older), so nothing but the tiles' scratch, output and counters
 * lives in device memory, and a launch needs no copy of its parameters.
 * This header is compiled as C17 (the back end) and by nvcc (kernel.cu): the
 * static asserts below hold in both.
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
    XS_CUDA_BLOCK = 64      /* threads per block of both kernels: at ~174 registers a
                               thread, 5 blocks of 64 fit an SM's 64 K registers where
                               only 2 of 128 would */
};

/* One tile of a launch group: its parameters and its device buffers. */
typedef struct xs_cuda_tile {
    xs_tile_params tp;
    void *scratch;         /* chunk-major partial sums: chunks x pixels of xs_partial */
    float *out;            /* tp.width * tp.height records of xs_aov_channels(tp.aovs) floats */
    xs_counters *counters; /* zeroed before the launch; the kernel adds to it */
} xs_cuda_tile;

/* What one launch renders: tile[0 .. count). */
typedef struct xs_cuda_group {
    int32_t count;
    int32_t pad_[3];
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
static_assert(offsetof(xs_cuda_group, tile) == 16, "xs_cuda_group.tile");
/* kernel parameters (the scene view and the group) stay under CUDA's limit */
static_assert(sizeof(xs_scene_view) + sizeof(xs_cuda_group) <= 32764, "kernel parameters over 32,764 bytes");

/* Device bytes of the per-chunk partial sums of a tile of `pixels` pixels at
 * spp samples (xs_path.h: XS_SAMPLE_CHUNK). */
size_t xs_cuda_scratch_bytes(int pixels, int spp);

/* Threads a tile runs as: one per (pixel, sample chunk). */
long long xs_cuda_tile_threads(int pixels, int spp);

/* Queues group g on `stream` (a cudaStream_t): one thread per (pixel,
 * sample chunk) of every tile writing its partial sums to the tile's
 * scratch, then one thread per pixel adding its chunks in order into the
 * tile's out. Counters are added to each tile's counters. view holds device
 * pointers. Returns the launch error (cudaGetLastError after each launch). */
int xs_cuda_launch_group(const xs_scene_view *view, const xs_cuda_group *g, void *stream);

/* Blocks of XS_CUDA_BLOCK threads of the sample kernel that one SM of the
 * current device holds at once (cudaOccupancyMaxActiveBlocksPerMultiprocessor),
 * in *blocks. Returns the cudaError_t. */
int xs_cuda_resident_blocks(int *blocks);

#ifdef __cplusplus
}
#endif
#endif
