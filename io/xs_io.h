/* io: bytes in and out for xisuan.
 *
 * Errors (xs_err), atomic file helpers, OpenEXR tiles and frames through
 * OpenEXR Core, and PNG previews. Nothing here knows about MPI, scenes or
 * scheduling. Every function that can fail returns an xs_result and, when an
 * xs_err is given, fills it with a message that names the file, the field and
 * the reason. All functions are safe to call from several threads on distinct
 * objects.
 */
#ifndef XS_IO_H
#define XS_IO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Results and error messages ---------------------------------------- */

typedef enum xs_result {
    XS_OK = 0,
    XS_ERR_INVALID = 1, /* bad input: a flag, a value, a file's content */
    XS_ERR_IO = 2,      /* the operating system refused (open, write, rename) */
    XS_ERR_NOMEM = 3,
    XS_ERR_EXR = 4,     /* OpenEXR Core reported an error */
    XS_ERR_MPI = 5,
    XS_ERR_RENDER = 6,
    XS_ERR_INTERNAL = 7
} xs_result;

typedef struct xs_err {
    xs_result code;
    char msg[1024];
} xs_err;

/* Sets err (when not NULL) to code and a printf-style message; returns code. */
xs_result xs_err_set(xs_err *err, xs_result code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Clears err to XS_OK and an empty message. */
void xs_err_clear(xs_err *err);
/* A short name for a result code ("invalid input", "I/O error", ...). */
const char *xs_result_name(xs_result code);

/* ---- Files ---------------------------------------------------------------- */

/* mkdir -p: creates path and its parents with mode 0777 & ~umask. */
xs_result xs_mkdir_p(const char *path, xs_err *err);
/* Checks that dir exists (creating it if needed) and accepts a new file:
 * creates, fsyncs and removes a probe file. */
xs_result xs_check_writable_dir(const char *dir, xs_err *err);
/* Writes a temporary name beside final_path ("dir/.name.tmp-PID-N"). */
xs_result xs_tmp_path(const char *final_path, char *out, size_t out_size, xs_err *err);
/* Makes a written temporary file durable under its final name: fsync(tmp),
 * rename(tmp, final), fsync(directory). On failure removes tmp. */
xs_result xs_commit_file(const char *tmp_path, const char *final_path, xs_err *err);
/* Joins a and b with one '/' into out; fails when it does not fit. */
xs_result xs_path_join(char *out, size_t out_size, const char *a, const char *b, xs_err *err);

/* ---- EXR ------------------------------------------------------------------ */

typedef enum xs_exr_compression {
    XS_EXR_NONE = 0,
    XS_EXR_ZIP = 1, /* zlib, 16 lines a block in scanline files, one tile a chunk here */
    XS_EXR_PIZ = 2
} xs_exr_compression;

/* What every tile and frame file of a job shares. */
typedef struct xs_exr_layout {
    int frame_width, frame_height; /* the display and frame data window */
    int tile_size;                 /* square EXR tiles, equal to the scheduler's tiles */
    xs_exr_compression compression;
    int zip_level;                 /* 0..9, used when compression is ZIP */
    uint32_t aovs;                 /* XS_AOV_* channels beside RGBA (xs_exr_channel_names) */
    /* Optional string attributes written into every header (may be NULL). */
    const char *attr_job;
    const char *attr_software;
    int attr_frame;
    int attr_spp;
    uint32_t attr_seed;
} xs_exr_layout;

enum { XS_EXR_MAX_CHANNELS = 16 };

/* The channel names of a pixel record, in record order: R G B A, then
 * albedo.R/G/B, normal.X/Y/Z, depth.Z, samples.N as aovs (XS_AOV_*) asks.
 * names needs XS_EXR_MAX_CHANNELS slots; returns the count. */
int xs_exr_channel_names(uint32_t aovs, const char **names);

/* Writes one tile as a tiled EXR whose data window is the tile's rectangle
 * (x0, y0, w, h) in frame coordinates, holding a single compressed chunk.
 * rgba: w*h pixel records (4 floats plus the layout's AOVs), row-major,
 * borrowed for the call.
 * Written under a temporary name and committed with xs_commit_file. */
xs_result xs_exr_write_tile(const char *path, const xs_exr_layout *layout,
                            int x0, int y0, int w, int h, const float *rgba, xs_err *err);

/* Assembles the frame: for each tile index t (row-major over the tile grid)
 * tile_path(t) names a file written by xs_exr_write_tile with the same
 * layout. Its compressed chunk is copied into the frame file unchanged (no
 * decompression). Atomic like xs_exr_write_tile. */
typedef const char *(*xs_tile_path_fn)(void *user, int tile_index);
xs_result xs_exr_assemble_frame(const char *path, const xs_exr_layout *layout,
                                xs_tile_path_fn tile_path, void *user, xs_err *err);

/* An RGBA float image. */
typedef struct xs_image {
    int x0, y0;          /* data window origin */
    int width, height;
    int channels;        /* floats per pixel: 4, or a record's (xs_exr_read_record) */
    float *rgba;         /* width*height*channels, owned; free with xs_image_free */
} xs_image;

/* Reads any single-part scanline or tiled EXR with R, G, B (and optionally A)
 * into RGBA floats (A = 1 when absent). */
xs_result xs_exr_read_rgba(const char *path, xs_image *out, xs_err *err);
/* The same from bytes in memory; label names them in messages. */
xs_result xs_exr_read_rgba_memory(const char *label, const void *data, size_t len, xs_image *out,
                                  xs_err *err);
/* Reads a file with exactly the records of a job with these AOVs (all its
 * channels required), e.g. to verify a tile. */
xs_result xs_exr_read_record(const char *path, uint32_t aovs, xs_image *out, xs_err *err);
void xs_image_free(xs_image *img);

/* ---- PNG ------------------------------------------------------------------ */

/* Writes an 8-bit sRGB preview of linear RGB (clamped to [0,1], sRGB curve),
 * atomically. */
xs_result xs_png_write_preview(const char *path, const xs_image *img, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
