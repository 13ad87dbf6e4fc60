/* render: one rank's engine.
 *
 * The scene in memory (triangles, materials, lights, camera, BVH), the film's
 * tile grid, the render options shared by every rank, and the device back
 * ends behind a small function table (CPU today; CUDA with the GPU issue).
 * Objects are built once per job and are read-only afterwards, so one scene
 * may serve several threads. No MPI here.
 */
#ifndef XS_RENDER_H
#define XS_RENDER_H

#include <stdbool.h>
#include <stdio.h>

#include "io/xs_gltf.h"
#include "io/xs_io.h"
#include "io/xs_manifest.h"
#include "io/xs_package.h"
#include "kernels/xs_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Scene -------------------------------------------------------------- */

/* A material of a triangle soup: diffuse and possibly emissive; the fields
 * after flags (zero by default) turn it into the glTF metallic-roughness
 * model. ior 0 means 1: no dielectric coating, a pure Lambert base. */
typedef struct xs_diffuse_material {
    xs_vec3 albedo;
    xs_vec3 emission;
    uint32_t flags; /* XS_MAT_EMIT_TWO_SIDED, XS_MAT_VOLUME */
    float metallic, roughness, ior, transmission;
    xs_vec3 sigma_a; /* XS_MAT_VOLUME: absorption per unit length inside */
} xs_diffuse_material;

/* A triangle soup with one material per triangle, as handed to the builder. */
typedef struct xs_scene_desc {
    const char *name;
    const float *positions;     /* tri_count * 9 floats: v0, v1, v2 */
    const uint32_t *materials_of; /* tri_count material indices */
    uint32_t tri_count;
    const xs_diffuse_material *materials;
    uint32_t material_count;
    xs_vec3 background;
    /* camera: position, look-at target, up, vertical field of view in degrees */
    xs_vec3 cam_pos, cam_target, cam_up;
    float cam_yfov_deg;
} xs_scene_desc;

typedef struct xs_scene xs_scene;

/* Builds the scene: copies the triangles, builds the BVH (binned SAH),
 * collects emissive triangles into a light distribution by power. */
xs_result xs_scene_create(const xs_scene_desc *desc, xs_scene **out, xs_err *err);
void xs_scene_destroy(xs_scene *scene); /* accepts NULL */
/* The kernel's view for a frame of the given size (the camera's aspect
 * follows it). Borrowed from the scene; valid while the scene lives. */
xs_scene_view xs_scene_view_for(const xs_scene *scene, int frame_width, int frame_height);
const char *xs_scene_name(const xs_scene *scene);

/* Pixel filters (importance-sampled: docs/architecture.md). */
typedef enum xs_filter_kind {
    XS_FILTER_BOX = 0,
    XS_FILTER_TENT = 1,
    XS_FILTER_GAUSSIAN = 2,
    XS_FILTER_BLACKMAN_HARRIS = 3
} xs_filter_kind;
/* Sets the pixel filter (width in pixels, > 0); the default is
 * Blackman-Harris of width 1.5, as Cycles'. Call before rendering. */
void xs_scene_set_filter(xs_scene *scene, xs_filter_kind kind, float width);
/* Threads the BVH builder may use for this scene's meshes (set before
 * loading: xs_scene_from_gltf and xs_scene_create take it from here). */
void xs_scene_build_threads(int threads);
/* Which BVH builder meshes get (render/bvh.c): auto takes the binned SAH
 * below XS_BVH_CLUSTER_MIN triangles and the clustered builder from there
 * on; binned gives the better tree (a few % fewer node visits) at a quarter
 * of the build speed. Set before loading, as the threads. */
typedef enum xs_bvh_method { XS_BVH_AUTO = 0, XS_BVH_BINNED = 1, XS_BVH_CLUSTERED = 2 } xs_bvh_method;
void xs_scene_bvh_method(xs_bvh_method method);
/* Seconds spent building BVHs (BLAS and TLAS) for this scene. */
double xs_scene_build_seconds(const xs_scene *scene);
/* The GGX albedo tables of xs_bsdf.h (computed once per process). */
const float *xs_ggx_table(void);
uint32_t xs_scene_tri_count(const xs_scene *scene); /* stored (each mesh once) */
uint32_t xs_scene_light_count(const xs_scene *scene);
uint32_t xs_scene_mesh_count(const xs_scene *scene);
uint32_t xs_scene_instance_count(const xs_scene *scene);

/* How a glTF scene becomes a render scene: the camera and environment a
 * manifest (or the defaults) ask for. */
typedef struct xs_scene_setup {
    const char *name;
    xs_cam_mode cam_mode;
    const char *cam_name;
    int cam_index;
    float cam_pos[3], cam_target[3], cam_up[3], cam_yfov_deg;
    float env_color[3], env_strength;
    const xs_image *env_image; /* equirectangular, or NULL for the constant colour */
} xs_scene_setup;

/* Builds a render scene from a loaded glTF: each mesh once with its BLAS,
 * one instance per node that places it, the TLAS, materials, textures,
 * lights (emissive triangles and KHR_lights_punctual), the environment and
 * the chosen camera (without one: a 40 degree view down -z framing the
 * scene). The glTF scene may be destroyed afterwards. */
xs_result xs_scene_from_gltf(const xs_gltf_scene *g, const xs_scene_setup *setup, xs_scene **out,
                             xs_err *err);

/* The built-in scenes. "cornell": the Cornell box from the published Cornell
 * measurements (units: mm). */
xs_result xs_scene_builtin(const char *name, xs_scene **out, xs_err *err);
/* Fills desc with the Cornell box (static data; nothing to free). */
void xs_cornell_desc(xs_scene_desc *desc);

/* ---- Film: the frame's tile grid ------------------------------------------ */

typedef struct xs_film {
    int width, height, tile;
    int tiles_x, tiles_y;
} xs_film;

void xs_film_init(xs_film *film, int width, int height, int tile);
/* Kernel parameters covering the whole width x height frame with the engine's
 * defaults (Russian roulette from bounce 3, MIS on, no clamp, no AOVs, seed 0,
 * frame 0); callers narrow the rectangle and set what differs. */
xs_tile_params xs_tile_params_frame(int width, int height, int spp, int max_bounces);
int xs_film_tile_count(const xs_film *film);
/* Tile index (row-major) -> rectangle in frame pixels; edge tiles are cut. */
void xs_film_tile_rect(const xs_film *film, int index, int *x0, int *y0, int *w, int *h);

/* ---- Options (the `xisuan render` command line) ------------------------- */

typedef enum xs_kernel_mode {
    XS_KERNEL_PATH = 0,  /* the path tracer */
    XS_KERNEL_EMPTY = 1  /* benchmark only: no pixels, no files; measures dispatch */
} xs_kernel_mode;

enum { XS_NAME_MAX = 64, XS_PATH_MAX = 4096, XS_MAX_FRAMES = 10000 };

enum { XS_BACKEND_AUTO = 0, XS_BACKEND_CUDA = 1, XS_BACKEND_CPU = 2 };

enum { XS_PROGRESS_AUTO = 0, XS_PROGRESS_TTY = 1, XS_PROGRESS_PLAIN = 2, XS_PROGRESS_OFF = 3 };

/* Which flags the command line gave (they win over the package's manifest). */
enum {
    XS_GIVEN_RES = 1,
    XS_GIVEN_SPP = 2,
    XS_GIVEN_TILE = 4,
    XS_GIVEN_BOUNCES = 8,
    XS_GIVEN_FRAMES = 16,
    XS_GIVEN_PREFETCH = 32
};

typedef struct xs_options {
    char scene[XS_PATH_MAX]; /* a built-in scene name, or a .tar.zst, .gltf or .glb path */
    int width, height;
    int spp;
    int tile;
    uint32_t seed;
    int frames[XS_MAX_FRAMES]; /* frame numbers in render order, no duplicates */
    int frame_count;
    char frames_spec[256];     /* as given, for messages and the job key */
    char out_dir[XS_PATH_MAX];
    char job[XS_NAME_MAX];
    char name[XS_NAME_MAX];
    xs_exr_compression compression;
    int zip_level;
    int threads;     /* 0: one per core the rank was given */
    int bvh;         /* xs_bvh_method */
    int max_bounces;
    uint32_t aovs;      /* XS_AOV_* layers beside beauty */
    xs_filter_kind filter;
    float filter_width; /* pixels */
    float clamp;        /* > 0: indirect light clamped to this; 0: off */
    int mis;            /* XS_MIS_*: on, or one estimator alone (tests) */
    int prefetch;    /* requests a worker keeps in flight */
    int backend;     /* XS_BACKEND_* */
    int gpu_slots;   /* tiles a GPU holds in flight */
    bool bind;       /* hwloc placement of ranks (scheduler/placement.c) */
    xs_kernel_mode kernel;
    bool preview;    /* write a PNG beside each frame */
    bool help;
    bool force;      /* start afresh over a journal written for other settings */
    int retries;     /* a failed item is retried this often before the job fails */
    double stall_timeout_s; /* a worker silent this long with work in hand is given up on */
    double grace_s;  /* after a drain signal, wait this long for items in flight */
    int progress;    /* XS_PROGRESS_* */
    double progress_interval_s; /* between plain progress lines */
    unsigned given;  /* XS_GIVEN_* (the command line or the job file gave them) */
    char job_file[XS_PATH_MAX]; /* the job file this run came from, or "" */
    xs_pkg_limits pkg_limits;
} xs_options;

/* Applies a JSON job file (docs/operations.md) as the base the command line
 * overrides: call it on fresh defaults, then xs_options_parse. label names the
 * file in messages; dir is its folder (relative package paths start there). */
xs_result xs_options_apply_job(xs_options *o, const char *label, const char *dir,
                               const char *json, size_t len, xs_err *err);

/* Fills render settings the command line left open from the manifest. */
void xs_options_apply_manifest(xs_options *o, const xs_manifest *m);

void xs_options_defaults(xs_options *o);
/* Parses `xisuan render` flags (argv[0] is the first flag). Every value is
 * range-checked; the message names the flag, the value and the reason. */
xs_result xs_options_parse(int argc, char **argv, xs_options *o, xs_err *err);
void xs_options_print_help(FILE *f);
int xs_options_frame_count(const xs_options *o);
/* Parses an AOV list: comma-separated names from albedo, normal, depth,
 * samples (and beauty, always written), or "all"; "" or "beauty": none. */
xs_result xs_aovs_parse(const char *field, const char *spec, uint32_t *aovs, xs_err *err);
/* Parses a back end name (auto, cuda, cpu) into XS_BACKEND_*. */
xs_result xs_backend_parse(const char *field, const char *val, int *backend, xs_err *err);
/* The settings that change pixels, as a string for the journal key. */
void xs_options_pixel_settings(const xs_options *o, char *out, size_t n);

/* Parses a frame list: comma-separated items "F", "A-B" or "A-BxS" (every
 * S-th frame from A to B), each frame in [0, 9999], none twice. field names
 * the flag or field in messages. */
xs_result xs_frames_parse(const char *field, const char *spec, int *frames, int *count, xs_err *err);

/* ---- Back ends -------------------------------------------------------------- */

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

/* ---- The FLOP model (render/flops.c, docs/benchmarks.md) ------------------ */

/* FP32 operations per counted event (add, sub, mul, div, min, max, compare,
 * sqrt: one each; an FMA: two), counted off kernels/xs_intersect.h and
 * xs_bsdf.h; each is the work every such event does at least. */
enum {
    XS_FLOPS_BOX = 25,      /* one ray-box slab test (xs_ray_box) */
    XS_FLOPS_TRI = 27,      /* one ray-triangle test, up to the first barycentric test */
    XS_FLOPS_INSTANCE = 39, /* moving a ray into an instance (2 affine maps, 1/d) */
    XS_FLOPS_SHADE = 200    /* one shaded hit: BSDF set-up, one evaluation, one sample */
};
double xs_counted_flops(const xs_counters *c);
/* Peak FP32 FLOP/s: GPU from the device's SMs, lanes and clock; CPU from
 * `cores`, the widest FMA the CPU has and its clock (desc says which). */
double xs_gpu_peak_flops(const xs_gpu_info *g);
double xs_cpu_peak_flops(int cores, char *desc, size_t desc_len);

/* The arrays a scene view points into, for a device's upload: each with its
 * bytes and the offset of its pointer in xs_scene_view. Returns the count
 * (at most max). */
typedef struct xs_scene_blob {
    const char *name;
    const void *host;
    size_t bytes;
    size_t view_offset;
} xs_scene_blob;
enum { XS_SCENE_BLOBS_MAX = 24 };
int xs_scene_blobs(const xs_scene *scene, const xs_scene_view *view, xs_scene_blob *out, int max);

/* Cores this process may run on (its affinity mask), at least 1. */
int xs_cpu_count_affinity(void);
int xs_cpu_count_online(void);

#ifdef __cplusplus
}
#endif
#endif
