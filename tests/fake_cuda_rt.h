/* A fake CUDA device behind xs_cuda_rt (render/xs_cuda_rt.h), for testing
 * the CUDA back end's logic (render/backend_cuda.c) without a GPU.
 *
 * It keeps CUDA's error rules, the ones a GPU's first run trips over:
 * - a failed call leaves its error as the last error, and cudaGetLastError
 *   (get_last_error) returns and clears it; a kernel launch does not clear it,
 *   so the launch's own check (launch_group returns cudaGetLastError) reads
 *   any stale error an earlier call left;
 * - a kernel fault is asynchronous: the launch succeeds, the next sync or
 *   query reports it, and from then on it is sticky: every call returns it.
 * Device memory is host memory it tracks, with a capacity; launches check
 * that every pointer they get (the scene view's, the tiles') is NULL or
 * device memory (a host pointer faults, as on a GPU), as must the wavefront's
 * path buffer for its size; textures are device memory of their levels'
 * bytes with two object numbers each; launches fill each tile
 * with pixels that depend on the tile alone (fake_pixel), counting one
 * camera ray per sample; or, with run_kernels, runs the real kernels on the
 * host over the device view (its "device" memory is host memory), so the
 * back end's texture demand loading runs end to end. Streams run at once: an event is complete when
 * recorded (unless not_ready_polls says otherwise).
 *
 * One fake device per process (the runtime table has no context pointer).
 */
#ifndef XS_FAKE_CUDA_RT_H
#define XS_FAKE_CUDA_RT_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/xs_types.h"
#include "render/xs_cuda_rt.h"

/* Its error codes (CUDA's numbers, for readable messages). */
enum {
    FAKE_OK = 0,
    FAKE_INVALID_VALUE = 1,
    FAKE_OUT_OF_MEMORY = 2,
    FAKE_INSUFFICIENT_DRIVER = 35,
    FAKE_NO_DEVICE = 100,
    FAKE_NOT_READY = 600,
    FAKE_ILLEGAL_ADDRESS = 700
};

typedef struct fake_gpu {
    /* set by the test */
    int devices;             /* what device_count reports (0: FAKE_NO_DEVICE) */
    int count_error;         /* != 0: device_count fails with it */
    size_t memory;           /* device bytes; an allocation past it fails */
    int sm_count, resident_blocks;
    float kernel_ms;         /* each launch's kernel time */
    int lose_at_launch;      /* the Nth launch faults (sticky illegal address, reported later) */
    int fail_launch;         /* != 0: the next launch fails with it (not sticky) */
    int not_ready_polls;     /* event queries answer "not ready" this many times after a record */
    int mem_info_error;      /* != 0: mem_get_info fails with it */
    bool run_kernels;        /* launches run the real kernels on the host (kernels/xs_path.h) with
                                the device view, one thread, instead of writing fake_pixel; such a
                                device has no texture objects (texture_create NULL): its
                                textures are read from their pages */
    /* what happened */
    size_t used;
    int last_error;
    int sticky;              /* once set, every call returns it */
    int pending_sticky;      /* a fault the next sync or query reports */
    int launches;
    int calls;               /* runtime calls made */
    int view_faults;         /* launches that met a host pointer */
    int max_group;           /* most tiles a launch held */
    int wavefront_launches, megakernel_launches;
    long long max_wave;      /* most paths a wavefront launch was given */
    int texture_objects;     /* texture objects made */
    int textures_live;       /* textures made and not yet destroyed */
    size_t h2d_bytes;        /* bytes copied to the device */
    xs_scene_view view;      /* the scene view of the last launch */
} fake_gpu;

/* Makes g the fake device (zeroed fields get 1 GiB, 132 SMs, 5 blocks an
 * SM, 2 ms a launch; devices stays as set) and returns its runtime table. */
const xs_cuda_rt *fake_cuda_rt(fake_gpu *g);
/* Frees what the fake still tracks (the test's clean-up). */
void fake_cuda_reset(void);
/* The value the fake writes at channel c of frame pixel (x, y) of a tile
 * rendered with tp. */
float fake_pixel(const xs_tile_params *tp, int x, int y, int c);

#endif
