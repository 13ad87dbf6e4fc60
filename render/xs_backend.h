/* Device back ends: what renders a tile, behind a small function table.
 *
 * The CPU back end (render/backend_cpu.c) and the CUDA back end
 * (render/backend_cuda.c, or backend_nocuda.c in a build without nvcc) run
 * the same kernel headers. A device error (launch failure, out of memory)
 * comes back as XS_ERR_RENDER with the device's own text: a failed tile,
 * never a crash. A back end is used by one thread at a time.
 */
#ifndef XS_BACKEND_H
#define XS_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "io/xs_result.h"
#include "kernels/xs_types.h"
#include "render/xs_scene.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { XS_BACKEND_AUTO = 0, XS_BACKEND_CUDA = 1, XS_BACKEND_CPU = 2 };

/* A device back end renders tiles. It holds `slots` tiles in flight: begin
 * starts slot's tile (on a GPU: queued on the slot's stream, returning at
 * once), end waits for it and copies its pixel records (w*h records of
 * xs_aov_channels(tp->aovs) floats) into rgba and adds its counters. The
 * worker begins the next tiles before it ends (and writes) the oldest, so
 * the device works while the host compresses and writes. A device error
 * (launch failure, out of memory) comes back as XS_ERR_RENDER with the
 * device's own text: a failed tile, never a crash. */
typedef struct xs_backend {
    const char *name;   /* "cpu" or "cuda" */
    char device[160];   /* what it runs on, for logs and `xisuan bench` */
    int slots;          /* tiles it can hold in flight (>= 1) */
    xs_result (*begin_tile)(struct xs_backend *self, int slot, const xs_tile_params *tp, xs_err *err);
    xs_result (*end_tile)(struct xs_backend *self, int slot, float *rgba, xs_counters *counters,
                          xs_err *err);
    /* The scene moved to another frame (xs_scene_set_frame): the back end
     * takes what changed (a GPU uploads only the arrays' byte ranges that
     * xs_scene_blobs marks dirty). Only with no tile in flight. */
    xs_result (*update)(struct xs_backend *self, const xs_scene *scene, xs_err *err);
    void (*destroy)(struct xs_backend *self);
} xs_backend;

/* begin + end on slot 0: one tile, synchronously. */
xs_result xs_backend_render_tile(xs_backend *b, const xs_tile_params *tp, float *rgba,
                                 xs_counters *counters, xs_err *err);

/* The CPU back end: `threads` worker threads per tile (>= 1), rows handed out
 * through an atomic counter, no lock in the hot path. One slot: end renders.
 * The scene is borrowed. */
xs_result xs_backend_cpu_create(const xs_scene *scene, int frame_width, int frame_height,
                                int threads, xs_backend **out, xs_err *err);

/* The CUDA back end on CUDA device `device` (an ordinal of the devices this
 * process sees): uploads the scene once, then renders tiles of up to
 * max_tile_pixels pixels at up to max_spp samples on `slots` streams. Fails
 * with a clear message where the build has no CUDA or there is no such GPU. */
xs_result xs_backend_cuda_create(const xs_scene *scene, int frame_width, int frame_height,
                                 int device, int slots, int max_tile_pixels, int max_spp,
                                 xs_backend **out, xs_err *err);
/* CUDA devices this process sees (0 without CUDA, a driver or a GPU); when
 * why is given it says why there are none. */
int xs_cuda_device_count(char *why, size_t why_len);
/* Facts of CUDA device `device` for placement and FLOP peaks. */
typedef struct xs_gpu_info {
    char name[128];
    char pci_bus_id[32]; /* "0000:3b:00.0" form, lower case */
    int sm_count;
    int fp32_lanes_per_sm; /* from the compute capability (docs/benchmarks.md) */
    double clock_hz;       /* the SM clock the device reports */
    double memory_bytes;
    int cc_major, cc_minor;
} xs_gpu_info;
xs_result xs_cuda_device_info(int device, xs_gpu_info *info, xs_err *err);
bool xs_cuda_compiled(void); /* the build has the CUDA back end */

void xs_backend_destroy(xs_backend *b); /* accepts NULL */

#ifdef __cplusplus
}
#endif
#endif
