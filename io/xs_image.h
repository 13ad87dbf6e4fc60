/* Images in memory: linear float images (frames read back, environments) and
 * 8-bit RGBA textures decoded from PNG and JPEG, plus the PNG preview writer
 * and an in-memory PNG encoder of 8-bit pixels.
 *
 * Decoders check sizes against a pixel limit before any pixel buffer is
 * allocated, and report a corrupt image as an error naming it.
 */
#ifndef XS_IMAGE_H
#define XS_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A float image of `channels` floats per pixel (4: RGBA). */
typedef struct xs_image {
    int x0, y0; /* data window origin */
    int width, height;
    int channels; /* floats per pixel: 4, or a record's (xs_exr_read_record) */
    float *rgba;  /* width*height*channels, owned; free with xs_image_free */
} xs_image;
void xs_image_free(xs_image *img); /* accepts NULL; leaves rgba NULL */

/* An 8-bit RGBA image (a texture as stored in the file, sRGB or linear). */
typedef struct xs_image8 {
    int width, height;
    unsigned char *rgba8; /* width*height*4, owned */
} xs_image8;

/* A PNG's or JPEG's size from its header, without decoding it. */
xs_result xs_image_probe(const char *label, const unsigned char *data, size_t len, int *width,
                         int *height, xs_err *err);
/* Decodes a PNG or JPEG (by signature) to RGBA8; label names it in messages. */
xs_result xs_image_decode(const char *label, const unsigned char *data, size_t len,
                          uint64_t max_pixels, xs_image8 *out, xs_err *err);

/* Writes an 8-bit sRGB preview of linear RGB (clamped to [0,1], sRGB curve),
 * atomically. */
xs_result xs_png_write_preview(const char *path, const xs_image *img, xs_err *err);

/* The same written a band of rows at a time, so a frame's preview needs
 * memory for one band, not the frame: open, rows (RGBA floats, width
 * pixels a row, top to bottom) until height rows, then commit (atomic) or
 * abort (removes the temporary; accepts NULL). */
typedef struct xs_png_stream xs_png_stream;
xs_result xs_png_stream_open(const char *path, int width, int height, xs_png_stream **out, xs_err *err);
xs_result xs_png_stream_rows(xs_png_stream *s, const float *rgba, int rows, xs_err *err);
xs_result xs_png_stream_commit(xs_png_stream *s, xs_err *err);
void xs_png_stream_abort(xs_png_stream *s);

/* Encodes 8-bit sRGB pixels (channels 3: RGB, 4: RGBA; rows top to bottom)
 * as PNG bytes in memory: *out is malloc'd, *len its size. For pictures
 * made here (timelines, thumbnails), not for frames. */
xs_result xs_png_encode8(const unsigned char *pixels, int width, int height, int channels, unsigned char **out,
                         size_t *len, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
