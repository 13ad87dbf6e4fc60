/* The options of `xisuan render`: the scene, the render settings of every
 * rank (render/xs_settings.h), and the farm's own: frames, output, scheduling,
 * retries, progress, package limits.
 *
 * Two parsers fill them, with one meaning for every name: the command line
 * (scheduler/options.c) and JSON job files (scheduler/job_file.c,
 * docs/operations.md); a job file is applied first and the command line
 * overrides it, and a package's manifest fills what both left open. Pure (no
 * MPI, no files): every rank parses the same input to the same options, so
 * bad input stops every rank before any rendering starts.
 */
#ifndef XS_OPTIONS_H
#define XS_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "io/xs_exr.h"
#include "io/xs_file.h"
#include "io/xs_manifest.h"
#include "io/xs_package.h"
#include "io/xs_scene_input.h"
#include "io/xs_result.h"
#include "render/xs_settings.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xs_kernel_mode {
    XS_KERNEL_PATH = 0, /* the path tracer */
    XS_KERNEL_EMPTY = 1 /* benchmark only: no pixels, no files; measures dispatch */
} xs_kernel_mode;

enum { XS_NAME_MAX = 64, XS_MAX_FRAMES = 10000, XS_MAX_PREFETCH = 512 };

enum { XS_PROGRESS_AUTO = 0, XS_PROGRESS_TTY = 1, XS_PROGRESS_PLAIN = 2, XS_PROGRESS_OFF = 3 };

/* Which settings the command line or the job file gave (they win over the
 * package's manifest). */
enum {
    XS_GIVEN_RES = 1,
    XS_GIVEN_SPP = 2,
    XS_GIVEN_TILE = 4,
    XS_GIVEN_BOUNCES = 8,
    XS_GIVEN_FRAMES = 16,
    XS_GIVEN_PREFETCH = 32,
    XS_GIVEN_MANIFEST_TILE = 64, /* the package's manifest chose the tile */
    XS_GIVEN_FPS = 128,
    XS_GIVEN_TIME_OFFSET = 256,
    XS_GIVEN_ANIMATIONS = 512,
    XS_GIVEN_SHUTTER = 1024,
    XS_GIVEN_MOTION_STEPS = 2048
};

/* The default tile a job gets when a worker has a GPU (and no tile was
 * chosen): a GPU launch wants many threads, and a tile's fixed host costs
 * (EXR header, create, fsync, rename, messages) are paid per tile. */
enum { XS_GPU_DEFAULT_TILE = 256 };

typedef struct xs_options {
    char scene[XS_PATH_MAX]; /* a built-in scene name, or a .tar.zst, .gltf or .glb path */
    xs_render_settings render;
    int frames[XS_MAX_FRAMES]; /* frame numbers in render order, no duplicates */
    int frame_count;
    char frames_spec[256];     /* as given, for messages and the job key */
    char out_dir[XS_PATH_MAX];
    char job[XS_NAME_MAX];
    char name[XS_NAME_MAX];
    xs_exr_compression compression;
    int zip_level;
    int prefetch;    /* requests a worker keeps in flight (given: XS_GIVEN_PREFETCH; else each
                        worker's own depth, scheduler/xs_worker.h) */
    int writers;     /* writer threads per worker; 0: auto (a GPU rank's cores but one; 1 on a CPU rank) */
    bool bind;       /* hwloc placement of ranks (scheduler/placement.c) */
    xs_kernel_mode kernel;
    bool preview;    /* write a PNG beside each frame */
    bool keep_tiles; /* leave tile files after their frame is assembled and journaled */
    bool balance;    /* speed-aware admission, cost order, tail splits and copies (xs_sched.h) */
    bool help;
    bool force;      /* start afresh over a journal written for other settings */
    int retries;     /* a failed item is retried this often before the job fails */
    double stall_timeout_s; /* a worker silent this long with work in hand is given up on */
    double grace_s;  /* after a drain signal, wait this long for items in flight */
    int progress;    /* XS_PROGRESS_* */
    double progress_interval_s; /* between plain progress lines */
    unsigned given;  /* XS_GIVEN_* */
    char job_file[XS_PATH_MAX]; /* the job file this run came from, or "" */
    xs_scene_limits limits; /* what the scene may cost (package, glTF, environment) */
    /* memory (render/xs_memplan.h): budgets in bytes (0: none but what the
     * node has), the texture page cache per node and a GPU's texture pages
     * (0: auto), one copy of the scene per node */
    uint64_t mem_rank, mem_node;
    uint64_t tex_cache_bytes, gpu_tex_bytes;
    bool node_share;
} xs_options;

void xs_options_defaults(xs_options *o);
/* Parses `xisuan render` flags (argv[0] is the first flag). Every value is
 * range-checked; the message names the flag, the value and the reason. */
xs_result xs_options_parse(int argc, char **argv, xs_options *o, xs_err *err);
void xs_options_print_help(FILE *f);

/* Applies a JSON job file (docs/operations.md) as the base the command line
 * overrides: call it on fresh defaults, then xs_options_parse. label names the
 * file in messages; dir is its folder (relative package paths start there). */
xs_result xs_options_apply_job(xs_options *o, const char *label, const char *dir,
                               const char *json, size_t len, xs_err *err);

/* Fills render settings the command line and job file left open from the
 * manifest. */
void xs_options_apply_manifest(xs_options *o, const xs_manifest *m);

/* Where some worker has a GPU (any_gpu) and no tile was chosen (flag, job
 * file or manifest), the job renders XS_GPU_DEFAULT_TILE-pixel tiles. */
void xs_options_gpu_defaults(xs_options *o, bool any_gpu);

/* Parses a frame list: comma-separated items "F", "A-B" or "A-BxS" (every
 * S-th frame from A to B), each frame in [0, 9999], none twice. field names
 * the flag or field in messages. */
xs_result xs_frames_parse(const char *field, const char *spec, int *frames, int *count, xs_err *err);

/* Checks a name that becomes a file or folder name (--job, --name): 1 to
 * out_size-1 of letters, digits, '.', '_', '-', not starting with '.'; copies
 * it to out. */
xs_result xs_name_parse(const char *field, const char *val, char *out, size_t out_size, xs_err *err);

/* Sets a budget by its flag (--max-image-mpix, ...) or job-file key
 * (image_mpix, texture_mib, env_mpix, mtriangles, nodes, instances, joints,
 * keyframes, morph_targets) to value in that name's unit; field names it in
 * messages. */
xs_result xs_limit_set(xs_scene_limits *l, const char *name, long value, const char *field, xs_err *err);

/* Parses --mem-budget: SIZE (a rank's), rank=SIZE, node=SIZE, or both
 * separated by a comma (sizes as 512M, 8G). */
xs_result xs_mem_budget_parse(const char *field, const char *spec, xs_options *o, xs_err *err);

/* True when path ends with suffix. */
bool xs_has_suffix(const char *path, const char *suffix);

#ifdef __cplusplus
}
#endif
#endif
