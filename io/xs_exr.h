/* OpenEXR tiles and frames through OpenEXR Core.
 *
 * A tile file is a tiled EXR whose data window is the tile's rectangle in
 * frame coordinates and whose tile size is the job's, so it holds one chunk.
 * The frame file has the whole frame as its data window and the same tile
 * size, so assembly copies compressed chunks and never decompresses. Pixels
 * are records of 32-bit floats whose channel names the caller gives (io
 * knows nothing of AOVs). Files are written atomically (xs_file.h).
 */
#ifndef XS_EXR_H
#define XS_EXR_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "io/xs_image.h"
#include "io/xs_job_layout.h"
#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xs_exr_compression {
    XS_EXR_NONE = 0,
    XS_EXR_ZIP = 1, /* zlib, one tile a chunk here */
    XS_EXR_PIZ = 2
} xs_exr_compression;

enum { XS_EXR_MAX_CHANNELS = 16 };

/* What every tile and frame file of a job shares. */
typedef struct xs_exr_layout {
    int frame_width, frame_height; /* the display and frame data window */
    int tile_size;                 /* square EXR tiles, equal to the scheduler's tiles */
    xs_exr_compression compression;
    int zip_level;                 /* 0..9, used when compression is ZIP */
    /* The channels of a pixel record, in record order (R, G, B, A first). */
    int channel_count;             /* 1 .. XS_EXR_MAX_CHANNELS */
    const char *channels[XS_EXR_MAX_CHANNELS];
    /* Attributes written into every header (strings may be NULL). */
    const char *attr_job;
    const char *attr_software;
    int attr_frame;
    int attr_spp;
    uint32_t attr_seed;
    /* Tiles only: leave the sync of the file's folder to the caller, who
     * syncs it once for a batch of tiles (xs_fsync_dir) before reporting
     * them durable. */
    bool defer_dir_sync;
} xs_exr_layout;

/* Writes one tile as a tiled EXR whose data window is (x0, y0, w, h) in frame
 * coordinates, holding a single compressed chunk. rgba: w*h pixel records of
 * layout->channel_count floats, row-major, borrowed for the call. */
xs_result xs_exr_write_tile(const char *path, const xs_exr_layout *layout, int x0, int y0, int w,
                            int h, const float *rgba, xs_err *err);

/* Assembles frame `frame` of the job at path from its tile files (named by
 * the job layout, written with the same EXR layout): each tile's compressed
 * chunk is copied into the frame file unchanged. Atomic like a tile. *size
 * and *hash (XXH3-64) describe the bytes of the file written, for the
 * journal. With preview, a PNG preview is written too, a row of tiles at a
 * time as they are copied: memory for one row of tiles' pixels, never the
 * frame's (the preview is committed after the frame). */
xs_result xs_exr_assemble_frame(const char *path, const xs_exr_layout *layout,
                                const xs_job_layout *job, int frame, const char *preview,
                                uint64_t *size, uint64_t *hash, xs_err *err);

/* Reads any single-part scanline or tiled EXR with R, G, B (and optionally A)
 * into RGBA floats (A = 1 when absent). */
xs_result xs_exr_read_rgba(const char *path, xs_image *out, xs_err *err);
/* The same from bytes in memory; label names them in messages. An image
 * whose header claims more than max_pixels is refused before any pixel is
 * allocated. */
xs_result xs_exr_read_rgba_memory(const char *label, const void *data, size_t len,
                                  uint64_t max_pixels, xs_image *out, xs_err *err);
/* Reads a file with exactly these channels (all required) into records in
 * the given order, e.g. to verify a tile. */
xs_result xs_exr_read_record(const char *path, const char *const *channels, int channel_count,
                             xs_image *out, xs_err *err);

/* The same from bytes in memory (label names them), as a fuzz target reads. */
xs_result xs_exr_read_record_memory(const char *label, const void *data, size_t len,
                                    const char *const *channels, int channel_count, xs_image *out,
                                    xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
