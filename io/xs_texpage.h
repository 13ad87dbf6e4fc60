/* Texture pages: each texture image as a tiled MIP pyramid, and the page
 * store a package carries after its tar (docs/package.md, "Texture pages").
 *
 * A pyramid: level 0 is the image; level l+1 is max(1, w_l / 2) x max(1,
 * h_l / 2), each texel the rounded mean of the 2 x 2 texels below it
 * (xs_texpage_pyramid_build: colours a material reads as sRGB averaged in
 * linear light, other channels on the bytes), down to 1 x 1. A level is
 * cut into pages of up to 64 x 64 texels (XS_TEX_PAGE), row by row; a page
 * holds pw x ph packed RGBA8 texels (R in the low byte), pw = min(64, what is
 * left of the row), the layout the kernels read (kernels/xs_types.h).
 *
 * The store: zstd skippable frames appended to the package's .tar.zst, so
 * the tar part stays a plain .tar.zst any tool reads, and the pages are read
 * alone with pread and decompressed alone: each page is one zstd frame of
 * its texels, checked against the 32 bits of XXH3 the index keeps. The last
 * 48 bytes of the file are the footer frame (where the tar ends, where the
 * index is, its XXH3); the index frame lists the images (glTF image index,
 * size, first page, mean luminance for light power) and every page (offset,
 * compressed size, checksum). Readers check every offset and size against
 * the file before using it. A store reader is shareable between threads
 * (pread, a decompression context per call).
 */
#ifndef XS_TEXPAGE_H
#define XS_TEXPAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/xs_image.h"
#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { XS_TEXPAGE_SIDE = 64, XS_TEXPAGE_TEXELS = 4096, XS_TEXPAGE_MAX_LEVELS = 32 };

/* The sRGB-to-linear table the renderer decodes colours with. */
void xs_srgb_table(float table[256]);

/* The geometry of a w x h image's pyramid. */
int xs_texpage_levels(uint32_t w, uint32_t h);
void xs_texpage_level(uint32_t w, uint32_t h, int level, uint32_t *lw, uint32_t *lh, uint32_t *pages_x,
                      uint32_t *pages_y);
uint64_t xs_texpage_count(uint32_t w, uint32_t h); /* pages over all levels */
/* Texels of page (px, py) of a level of lw x lh: pw x ph. */
void xs_texpage_page_size(uint32_t lw, uint32_t lh, uint32_t px, uint32_t py, uint32_t *pw, uint32_t *ph);

/* A pyramid in memory: levels[l] holds w[l] x h[l] packed texels. */
typedef struct xs_texpage_pyramid {
    int levels;
    uint32_t w[XS_TEXPAGE_MAX_LEVELS], h[XS_TEXPAGE_MAX_LEVELS];
    uint32_t *level[XS_TEXPAGE_MAX_LEVELS];
} xs_texpage_pyramid;
/* Builds the pyramid of an RGBA8 image (owned by *out; free it with
 * xs_texpage_pyramid_free): level l is a 2x2 box filter of level l - 1 (the
 * halved size rounds down, so an odd side's last texel is not read by the
 * next level; a side of 1 reads its one texel twice), the colour channels averaged in
 * linear light when srgb (an image a material reads as colour), alpha and
 * other images' channels on the bytes, rounded to nearest. The only place
 * levels are made: a package's pages and a scene held whole agree. */
xs_result xs_texpage_pyramid_build(const xs_image8 *img, bool srgb, xs_texpage_pyramid *out, xs_err *err);
void xs_texpage_pyramid_free(xs_texpage_pyramid *p);
/* Copies page (px, py) of level l into out (pw x ph texels, row stride pw);
 * returns the texel count. */
uint32_t xs_texpage_extract(const xs_texpage_pyramid *p, int l, uint32_t px, uint32_t py, uint32_t *out);

/* Mean linear luminance of an RGBA8 image's texels through the sRGB table
 * (the light-power estimate of an emission texture). */
float xs_texpage_mean_luminance(const xs_image8 *img, const float srgb[256]);

/* ---- writing a store ------------------------------------------------------------- */

typedef struct xs_texstore_writer xs_texstore_writer;
/* Pages go to a temporary file at tmp_path (removed by finish or destroy),
 * zstd level `level`. */
xs_result xs_texstore_writer_create(const char *tmp_path, int level, xs_texstore_writer **out, xs_err *err);
/* Adds glTF image `image` (in any order, each once): its pyramid, paged and
 * compressed. label names it in messages. */
xs_result xs_texstore_writer_add(xs_texstore_writer *w, int image, const xs_image8 *img, bool srgb,
                                 const char *label, xs_err *err);
/* Writes the package atomically at path: tar (the .tar.zst of the scene's
 * other files), the pages, the index and the footer. */
xs_result xs_texstore_writer_finish(xs_texstore_writer *w, const void *tar, size_t tar_len, const char *path,
                                    xs_err *err);
void xs_texstore_writer_destroy(xs_texstore_writer *w); /* accepts NULL */
/* What the writer holds so far. */
void xs_texstore_writer_stats(const xs_texstore_writer *w, uint64_t *pages, uint64_t *texel_bytes,
                              uint64_t *stored_bytes);

/* ---- reading a store --------------------------------------------------------------- */

typedef struct xs_texstore_image {
    uint32_t image;      /* the glTF image index */
    uint32_t width, height;
    uint32_t levels;
    uint64_t first_page; /* its pages: levels in order, each row by row */
    float mean_luminance;
} xs_texstore_image;

typedef struct xs_texstore_page {
    uint64_t offset; /* in the file */
    uint32_t size;   /* compressed bytes */
    uint32_t check;  /* low 32 bits of XXH3-64 of the compressed bytes */
} xs_texstore_page;

typedef struct xs_texstore {
    char *path;
    int fd;
    uint64_t file_bytes, tar_bytes;
    uint32_t image_count;
    xs_texstore_image *images; /* sorted by image index */
    uint64_t page_count;
    xs_texstore_page *pages;
    uint64_t texel_bytes;  /* every page decompressed */
    uint64_t stored_bytes; /* every page compressed */
    uint64_t id;           /* XXH3 of the index: the same store everywhere */
} xs_texstore;

/* Reads the footer of the file at path: *has tells whether it ends with a
 * page store, and *tar_bytes where its tar part ends (the file's size when
 * there is none). */
xs_result xs_texstore_probe(const char *path, bool *has, uint64_t *tar_bytes, uint64_t *file_bytes,
                            xs_err *err);
/* Opens the store at the end of the package at path and checks its index. */
xs_result xs_texstore_open(const char *path, xs_texstore **out, xs_err *err);
void xs_texstore_close(xs_texstore *s); /* accepts NULL */
/* The image record of glTF image `image`, or NULL. */
const xs_texstore_image *xs_texstore_find(const xs_texstore *s, uint32_t image);
/* Reads page `page` into out (XS_TEXPAGE_TEXELS room): checks its checksum,
 * decompresses it and checks its size against the pyramid's. *stored gets the
 * bytes read. Thread-safe. */
xs_result xs_texstore_read(const xs_texstore *s, uint64_t page, uint32_t *out, uint32_t *texels, uint32_t *stored,
                           xs_err *err);
/* Texels of page `page` (from the index and the pyramid's geometry). */
uint32_t xs_texstore_page_texels(const xs_texstore *s, uint64_t page);

#ifdef __cplusplus
}
#endif
#endif
