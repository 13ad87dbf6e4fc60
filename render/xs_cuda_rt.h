/* The CUDA runtime as the CUDA back end calls it: a table of the few calls
 * it makes, with error codes as int (cudaError_t values in the real one).
 *
 * The back end's logic (render/backend_cuda.c: slots, launch groups, error
 * handling, retiring a lost device, kernel timing, the device probe) runs
 * against this table only, so it is the same code over the real runtime
 * (render/cuda_rt.c, built when nvcc is found) and over a fake device in the
 * tests (tests/fake_cuda_rt.c), which emulates CUDA's error rules: a failed
 * call leaves its error as the "last error" until cudaGetLastError reads it,
 * and a sticky error (an illegal address, a lost device) is returned by every
 * later call. That is how the defects of a GPU's first run are tested
 * without a GPU.
 *
 * Streams and events are opaque pointers. Every call is made from the one
 * thread that drives the device.
 */
#ifndef XS_CUDA_RT_H
#define XS_CUDA_RT_H

#include <stddef.h>

#include "kernels/cuda/kernel_cuda.h"
#include "kernels/xs_types.h"

#ifdef __cplusplus
extern "C" {
#endif

struct xs_gpu_info;

/* What an error means for the back end. */
typedef enum xs_cuda_err_class {
    XS_CUDA_ERR_NONE = 0,   /* success */
    XS_CUDA_ERR_CALL = 1,   /* this call failed (out of memory, a bad value, a launch too
                               large); the context lives on: the tile fails, the next renders */
    XS_CUDA_ERR_STICKY = 2, /* the context is corrupt (illegal address, launch failure, ECC,
                               a trap): every later call fails; the device is lost */
    XS_CUDA_ERR_NODEV = 3   /* no usable driver or device (too old a driver, none visible,
                               the device fell off the bus) */
} xs_cuda_err_class;

typedef struct xs_cuda_rt {
    const char *name; /* "CUDA runtime" or the fake's name */
    int not_ready;    /* the code event_query returns while work is pending */
    int no_device;    /* the code device_count returns when no device is visible */
    int (*error_class)(int e); /* xs_cuda_err_class */
    const char *(*error_name)(int e);
    const char *(*error_string)(int e);
    /* returns and clears the last error (a sticky one stays) */
    int (*get_last_error)(void);

    int (*device_count)(int *n);
    int (*device_info)(int device, struct xs_gpu_info *info); /* fills info (render/xs_backend.h) */
    int (*set_device)(int device);
    int (*resident_blocks)(int *blocks); /* blocks of XS_CUDA_WF_BLOCK of the trace kernel per SM (kernel_cuda.h) */

    int (*malloc_device)(void **p, size_t bytes);
    int (*free_device)(void *p);
    int (*malloc_host)(void **p, size_t bytes); /* pinned */
    int (*free_host)(void *p);
    int (*memcpy_h2d)(void *dst, const void *src, size_t bytes); /* synchronous */
    int (*memcpy_d2h)(void *dst, const void *src, size_t bytes); /* synchronous */
    int (*mem_get_info)(size_t *free_bytes, size_t *total_bytes); /* the current device's */

    int (*stream_create)(void **stream);
    int (*stream_destroy)(void *stream);
    int (*event_create)(void **event, int timing); /* timing 0: cudaEventDisableTiming */
    int (*event_destroy)(void *event);
    int (*event_record)(void *event, void *stream);
    int (*event_query)(void *event); /* 0: done, not_ready: pending, else an error */
    int (*event_sync)(void *event);
    int (*event_elapsed_ms)(float *ms, void *start, void *stop);
    int (*memset_async)(void *dst, int value, size_t bytes, void *stream);
    int (*memcpy_d2h_async)(void *dst, const void *src, size_t bytes, void *stream);

    /* xs_cuda_launch_group, xs_cuda_scratch_bytes, xs_cuda_tile_paths, xs_cuda_wave_bytes
     * (kernel_cuda.h) */
    int (*launch_group)(const xs_scene_view *view, const xs_cuda_group *g, void *wave, long long wave_paths,
                        void *stream);
    size_t (*scratch_bytes)(int pixels, int spp);
    long long (*tile_paths)(int pixels, int spp);
    size_t (*wave_bytes)(long long paths);

    /* Texture t (its MIP levels in texels: level 0, then each next level
     * right after, row-major, gathered from its pages by the back end) as a CUDA
     * mipmapped array of RGBA8 and two texture objects on it, obj[0] reading
     * linear values, obj[1] decoding sRGB; both with t's wrap modes, bilinear
     * (or nearest) filtering, trilinear between levels, normalised
     * coordinates. *handle owns them all (texture_destroy). Device bytes
     * taken: *bytes. NULL: no texture objects (a test device running the
     * kernels on the host): every texture is read from its pages. */
    int (*texture_create)(const xs_texture *t, const uint32_t *texels, void **handle, unsigned long long obj[2],
                          size_t *bytes);
    int (*texture_destroy)(void *handle);
} xs_cuda_rt;

/* The real runtime (render/cuda_rt.c), or NULL in a build without CUDA
 * (render/backend_nocuda.c). */
const xs_cuda_rt *xs_cuda_rt_real(void);

#ifdef __cplusplus
}
#endif
#endif
