/* Device back ends: what renders a tile, behind a small function table.
 *
 * The CPU back end (render/backend_cpu.c) and the CUDA back end
 * (render/backend_cuda.c over the CUDA runtime of render/cuda_rt.c) run the
 * same kernel headers. A device error that spoils one tile (out of memory, a
 * launch too large) comes back as XS_ERR_RENDER with the device's own text: a
 * failed tile, never a crash, and the next tile renders. An error that spoils
 * the device (a sticky CUDA error: an illegal address, a lost GPU) retires
 * the back end: it comes back as XS_ERR_DEVICE, and every later begin or end
 * fails the same way at once, so the worker stops taking work
 * (scheduler/worker.c). A back end is used by one thread at a time.
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

/* What --backend names: auto (a GPU where the rank has one, else the
 * CPU), cuda, cpu (our traversal), embree (the CPU back end with Embree's
 * traversal, render/backend_embree.c). */
enum { XS_BACKEND_AUTO = 0, XS_BACKEND_CUDA = 1, XS_BACKEND_CPU = 2, XS_BACKEND_EMBREE = 3 };
/* The choice renders on the CPU alone (cpu or embree): no GPU is looked for. */
static inline bool xs_backend_cpu_only(int backend)
{
    return backend == XS_BACKEND_CPU || backend == XS_BACKEND_EMBREE;
}

/* The most tiles a back end holds in flight (a GPU: 3 launch groups of up to
 * XS_CUDA_GROUP_MAX tiles). */
enum { XS_BACKEND_MAX_SLOTS = 384 };

/* A device back end renders tiles. It holds `slots` tiles in flight: begin
 * starts slot's tile (on a GPU: queued, returning at once), poll says whether
 * it has finished, end waits for it and copies its pixel records (w*h records
 * of xs_aov_channels(tp->aovs) floats) into rgba, adds its counters and the
 * device time its kernels took. The worker begins the next tiles before it
 * ends (and hands to a writer) the oldest, so the device works while the host
 * compresses and writes. */
typedef struct xs_backend {
    const char *name;   /* "cpu" or "cuda" (or "stand-in") */
    char device[160];   /* what it runs on, for logs and `xisuan bench` */
    int slots;          /* tiles it can hold in flight (1 .. XS_BACKEND_MAX_SLOTS) */
    int group;          /* tiles per launch (a GPU); 1 elsewhere */
    bool lost;          /* the device is lost: every begin and end fails with XS_ERR_DEVICE */
    char lost_why[512]; /* why, when lost */
    xs_result (*begin_tile)(struct xs_backend *self, int slot, const xs_tile_params *tp, xs_err *err);
    /* true when end would not wait; NULL: end does the work (the CPU) */
    bool (*poll_tile)(struct xs_backend *self, int slot);
    xs_result (*end_tile)(struct xs_backend *self, int slot, float *rgba, xs_counters *counters,
                          double *kernel_s, xs_err *err);
    /* The scene moved to another frame (xs_scene_set_frame): the back end
     * takes what changed (a GPU uploads only the arrays' byte ranges that
     * xs_scene_blobs marks dirty). Only with no tile in flight. NULL: nothing
     * to take (the back end reads the host scene). */
    xs_result (*update)(struct xs_backend *self, const xs_scene *scene, xs_err *err);
    void (*destroy)(struct xs_backend *self);
    /* Sample splits (NULL: this back end renders no parts, and a farm with
     * it never splits a tile): begins sample chunks [chunk_first,
     * chunk_first + chunk_count) of tp's tile on slot; poll and end are a
     * tile's, but end writes the part's records instead of pixel records:
     * per pixel (row-major), chunk_count packed records of
     * xs_part_floats(tp->aovs) floats (kernels/xs_path.h). */
    xs_result (*begin_part)(struct xs_backend *self, int slot, const xs_tile_params *tp, int chunk_first,
                            int chunk_count, xs_err *err);
} xs_backend;

/* The calls the worker makes (render/backend.c): each fails at once with
 * XS_ERR_DEVICE and the lost reason once the back end is lost. end adds the
 * tile's kernel time to *kernel_s (the CPU: its render time; a GPU: its share
 * of its launch's CUDA-event time). */
xs_result xs_backend_begin(xs_backend *b, int slot, const xs_tile_params *tp, xs_err *err);
bool xs_backend_poll(xs_backend *b, int slot);
xs_result xs_backend_end(xs_backend *b, int slot, float *rgba, xs_counters *counters, double *kernel_s,
                         xs_err *err);
/* The scene moved to another frame: the back end takes what changed (no
 * tile may be in flight); nothing to do where update is NULL. */
xs_result xs_backend_update(xs_backend *b, const xs_scene *scene, xs_err *err);
/* A part (see begin_part): XS_ERR_INVALID when the back end renders none. */
xs_result xs_backend_begin_part(xs_backend *b, int slot, const xs_tile_params *tp, int chunk_first,
                                int chunk_count, xs_err *err);
/* The back end renders parts. */
bool xs_backend_parts(const xs_backend *b);
/* Retires the back end: lost, with why (a sticky device error, or a fault
 * injected by a test). */
void xs_backend_lose(xs_backend *b, const char *why);

/* begin + end on slot 0: one tile, synchronously. */
xs_result xs_backend_render_tile(xs_backend *b, const xs_tile_params *tp, float *rgba,
                                 xs_counters *counters, xs_err *err);

/* The CPU back end: `threads` worker threads per tile (>= 1), rows handed out
 * through an atomic counter, no lock in the hot path. One slot: end renders.
 * The scene is borrowed. */
xs_result xs_backend_cpu_create(const xs_scene *scene, int frame_width, int frame_height,
                                int threads, xs_backend **out, xs_err *err);

/* Which kernels the CPU back end runs: by default the wavefront integrator
 * with the widest instruction set the CPU has. The megakernel (a sample's
 * whole path at a time, the reference) and the baseline build are for tests
 * and benchmarks; all of them give the same pixels. */
enum { XS_CPU_ISA_AUTO = 0, XS_CPU_ISA_BASE = 1, XS_CPU_ISA_AVX2 = 2 };
struct xs_cpu_tracer;
typedef struct xs_cpu_options {
    int integrator; /* XS_INTEGRATOR_WAVEFRONT (0) or XS_INTEGRATOR_MEGAKERNEL (kernels/cpu/kernel_cpu.h) */
    int isa;        /* XS_CPU_ISA_*; AVX2 on a CPU without it fails */
    /* an outside traversal for the wavefront's intersect and shadow stages
     * (kernels/cpu/kernel_cpu.h; the Embree back end's); borrowed, NULL:
     * ours. Not with the megakernel. */
    const struct xs_cpu_tracer *tracer;
    const char *name; /* the back end's name ("cpu" when NULL) */
} xs_cpu_options;
xs_result xs_backend_cpu_create_with(const xs_scene *scene, int frame_width, int frame_height, int threads,
                                     const xs_cpu_options *opt, xs_backend **out, xs_err *err);

/* The Embree back end (render/backend_embree.c): the CPU back end's
 * threads, wavefront and shading over Embree's closest-hit and occlusion
 * queries (Debian's libembree-dev 3), motion blur included. A frame it
 * cannot render as `cpu` does (an instance moving within the shutter whose
 * scale is not along its own axes) is refused here and by update, with the
 * reason; a build without Embree says it is not built in. The scene is
 * borrowed; update rebuilds Embree's scene for the new frame. */
xs_result xs_backend_embree_create(const xs_scene *scene, int frame_width, int frame_height, int threads,
                                   xs_backend **out, xs_err *err);
bool xs_embree_compiled(void); /* the build has the Embree back end */
/* The Embree back end's memory: what Embree holds now and held at most
 * (its memory monitor: BVHs, primitive data, build scratch) plus our index
 * buffer; false (zeros) for any other back end. The memory plan's per-rank
 * Embree estimate (render/memplan.c) is checked against it. */
bool xs_backend_embree_memory(xs_backend *b, uint64_t *now, uint64_t *peak);

/* The CUDA back end on CUDA device `device` (an ordinal of the devices this
 * process sees): uploads the scene once, then renders tiles of up to
 * max_tile_pixels pixels at up to max_spp samples. Tiles are launched in
 * groups sized from the device's SMs and the sample kernel's occupancy so
 * that a launch fills the GPU; slots 0 (auto) holds three groups in flight,
 * slots > 0 that many tiles. Fails with a clear message where the build has
 * no CUDA or there is no such GPU. */
xs_result xs_backend_cuda_create(const xs_scene *scene, int frame_width, int frame_height,
                                 int device, int slots, int max_tile_pixels, int max_spp,
                                 xs_backend **out, xs_err *err);
/* The CUDA back end's integrator, before its first tile: XS_CUDA_WAVEFRONT
 * (the default) or XS_CUDA_MEGAKERNEL (the reference; kernels/cuda/kernel_cuda.h).
 * For tests and benchmarks. */
void xs_backend_cuda_set_integrator(xs_backend *b, int integrator);
struct xs_cuda_rt;
/* The same over a given runtime (render/xs_cuda_rt.h; tests pass a fake). */
xs_result xs_backend_cuda_create_rt(const struct xs_cuda_rt *rt, const xs_scene *scene, int frame_width,
                                    int frame_height, int device, int slots, int max_tile_pixels,
                                    int max_spp, xs_backend **out, xs_err *err);

/* The stand-in back end, for tests and bench/hostbench.c only (the farm never
 * creates it; no flag or setting selects it): `slots` tiles in flight, each
 * "rendered" at once by copying the given pixel records (a tile of up to
 * tile x tile records of `channels` floats, copied; a smaller tile takes its
 * first rows and columns), so the host's side of a GPU rank (the worker's
 * pipeline, EXR compression, writes) can be measured and tested without a
 * GPU. lose_at > 0: the lose_at-th tile begun finds the device lost
 * (XS_ERR_DEVICE), as a sticky CUDA error would. */
xs_result xs_backend_standin_create(const float *pixels, int tile, int channels, int slots, int lose_at,
                                    xs_backend **out, xs_err *err);

/* Whether this process can use a GPU, and if not, why (the device probe). */
typedef enum xs_gpu_state {
    XS_GPU_NONE = 0,  /* no GPU here: no NVIDIA device nodes (or CUDA_VISIBLE_DEVICES hides them) */
    XS_GPU_READY = 1, /* CUDA sees count devices */
    XS_GPU_BROKEN = 2 /* NVIDIA device nodes exist but CUDA cannot use them (a driver too old
                         for this build's CUDA runtime, a broken install, a build without CUDA) */
} xs_gpu_state;
typedef struct xs_gpu_probe {
    xs_gpu_state state;
    int count;     /* CUDA devices this process sees */
    int nodes;     /* NVIDIA device nodes (nvidiaN) in the device folder */
    char why[512]; /* NONE, BROKEN: why, in words, for messages */
} xs_gpu_probe;
/* Probes CUDA through rt (NULL: a build without CUDA) and dev_dir (normally
 * "/dev") for nvidiaN device nodes. */
void xs_gpu_probe_run(const struct xs_cuda_rt *rt, const char *dev_dir, xs_gpu_probe *out);
/* The same with the real runtime and /dev ($XS_DEV_DIR instead in tests). */
void xs_gpu_probe_system(xs_gpu_probe *out);
/* The decision alone: nodes found, CUDA's count, the class of its error
 * (xs_cuda_err_class), whether that error was "no device", and
 * CUDA_VISIBLE_DEVICES (NULL: unset). */
xs_gpu_state xs_gpu_probe_classify(int nodes, int count, int err_class, bool err_is_no_device,
                                   const char *visible_devices);

/* CUDA devices this process sees (0 without CUDA, a driver or a GPU); when
 * why is given it says why there are none (for a BROKEN probe, loudly). */
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
