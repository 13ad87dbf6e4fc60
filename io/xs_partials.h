/* Part files: one share of a split tile's samples (the scheduler's PART
 * items), written by the rank that rendered it and read by the rank that
 * merges the tile (MERGE). io knows nothing of the kernels: a part is
 * width x height pixels x chunk_count records of `floats` 32-bit floats,
 * and `mask` (which of the kernels' partial sums a record keeps, one bit
 * per float) is carried and checked, never interpreted.
 *
 * The file (all integers little-endian; the floats are the host's, and
 * every host xisuan builds for is little-endian):
 *
 *   offset size
 *    0      8   magic "XSPARTS\n"
 *    8      4   version (1)
 *   12      4   header bytes (96)
 *   16      4   frame         20  4  tile (row-major in the frame's grid)
 *   24      4   x0            28  4  y0        32  4  width    36  4  height
 *   40      4   spp           44  4  chunk_first            48  4  chunk_count
 *   52      4   mask          56  4  floats per record (the bits of mask)
 *   60      4   encoding: 0 raw, 1 zstd (one frame with its content size)
 *   64      8   payload bytes before encoding (width*height*chunk_count*floats*4)
 *   72      8   payload bytes as stored
 *   80      8   XXH3-64 of the payload before encoding
 *   88      8   XXH3-64 of header bytes [0, 88)
 *   96          the payload: for each pixel (row-major), chunk_count records
 *
 * Written atomically like every output (xs_file.h: a temporary name, fsync,
 * rename), so a reader sees a whole part or none; two ranks writing the same
 * part at once (a speculative copy) write the same bytes. A reader checks
 * every field against what the merge expects and the payload's checksum;
 * each error names the file, the field and the reason.
 */
#ifndef XS_PARTIALS_H
#define XS_PARTIALS_H

#include <stddef.h>
#include <stdint.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { XS_PARTIALS_HEADER_BYTES = 96, XS_PARTIALS_VERSION = 1 };

/* What a part file holds, beside its payload. */
typedef struct xs_partials_info {
    int32_t frame, tile;
    int32_t x0, y0, width, height; /* the tile in frame pixels */
    int32_t spp;                   /* the tile's samples per pixel */
    int32_t chunk_first, chunk_count;
    uint32_t mask;  /* which partial sums a record keeps (opaque here) */
    int32_t floats; /* floats per record: the bits set in mask */
} xs_partials_info;

/* Floats of the payload: width*height*chunk_count*floats; 0 when a
 * dimension is below 1 or the count does not fit in memory. */
size_t xs_partials_floats(const xs_partials_info *info);

/* Writes records (xs_partials_floats(info) floats, borrowed) to path
 * atomically. zstd_level > 0 compresses the payload at that level, kept
 * only when smaller; 0 stores it raw. */
xs_result xs_partials_write(const char *path, const xs_partials_info *info, const float *records, int zstd_level,
                            xs_err *err);

/* Reads the part at path, which must be exactly what `expect` describes
 * (every field), with an intact payload; *records: malloc'd
 * xs_partials_floats(expect) floats, the caller frees. */
xs_result xs_partials_read(const char *path, const xs_partials_info *expect, float **records, xs_err *err);
/* The same from bytes in memory; label names them in messages. */
xs_result xs_partials_read_memory(const char *label, const void *data, size_t len, const xs_partials_info *expect,
                                  float **records, xs_err *err);
/* Parses and checks a header alone (magic, version, sizes, its checksum,
 * fields consistent with each other) into *info. */
xs_result xs_partials_read_header(const char *label, const void *data, size_t len, xs_partials_info *info,
                                  xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
