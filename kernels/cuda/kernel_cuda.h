/* The CUDA entry points of the shared kernels, callable from C (the CUDA
 * back end, render/backend_cuda.c). Errors are cudaError_t values as int
 * (0: success); the caller turns them into text with the CUDA runtime. */
#ifndef XS_KERNEL_CUDA_H
#define XS_KERNEL_CUDA_H

#include "kernels/xs_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Device bytes of the per-chunk partial sums of a tile of `pixels` pixels at
 * spp samples (xs_path.h: XS_SAMPLE_CHUNK). */
size_t xs_cuda_scratch_bytes(int pixels, int spp);

/* Queues one tile on `stream` (a cudaStream_t): one thread per (pixel,
 * sample chunk) writing its partial sums to scratch, then one thread per
 * pixel adding its chunks in order into d_out (tp->width * tp->height
 * records of xs_aov_channels(tp->aovs) floats). Counters are added to
 * *d_counters. view holds device pointers. Returns the launch error. */
int xs_cuda_launch_tile(const xs_scene_view *view, const xs_tile_params *tp, void *scratch,
                        float *d_out, xs_counters *d_counters, void *stream);

#ifdef __cplusplus
}
#endif
#endif
