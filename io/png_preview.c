/* PNG previews: an 8-bit sRGB picture of a linear frame, for eyes and
 * dashboards, never for pixel comparisons (those read the EXR). Written with
 * libpng under a temporary name and committed atomically. */
#include "io/xs_file.h"
#include "io/xs_image.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char to_srgb8(float v)
{
    if (!(v > 0.0f))
        return 0; /* also NaN */
    if (v >= 1.0f)
        return 255;
    float s = v <= 0.0031308f ? 12.92f * v : 1.055f * powf(v, 1.0f / 2.4f) - 0.055f;
    return (unsigned char)(s * 255.0f + 0.5f);
}

struct xs_png_stream {
    char path[PATH_MAX], tmp[PATH_MAX];
    FILE *f;
    png_structp png;
    png_infop info;
    int width, height, rows_done;
    unsigned char *row;
};

void xs_png_stream_abort(xs_png_stream *s)
{
    if (!s)
        return;
    if (s->png)
        png_destroy_write_struct(&s->png, &s->info);
    if (s->f) {
        fclose(s->f);
        unlink(s->tmp);
    }
    free(s->row);
    free(s);
}

xs_result xs_png_stream_open(const char *path, int width, int height, xs_png_stream **out, xs_err *err)
{
    *out = NULL;
    xs_png_stream *s = calloc(1, sizeof *s);
    if (!s)
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
    snprintf(s->path, sizeof s->path, "%s", path);
    s->width = width;
    s->height = height;
    xs_result r = xs_tmp_path(path, s->tmp, sizeof s->tmp, err);
    if (r != XS_OK) {
        free(s);
        return r;
    }
    s->row = malloc((size_t)width * 3);
    s->f = s->row ? fopen(s->tmp, "wb") : NULL;
    if (!s->f) {
        int e = errno;
        r = s->row ? xs_err_set(err, XS_ERR_IO, "%s: cannot create: %s", path, strerror(e))
                   : xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
        xs_png_stream_abort(s);
        return r;
    }
    s->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    s->info = s->png ? png_create_info_struct(s->png) : NULL;
    if (!s->png || !s->info) {
        xs_png_stream_abort(s);
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
    }
    if (setjmp(png_jmpbuf(s->png))) {
        xs_png_stream_abort(s);
        return xs_err_set(err, XS_ERR_IO, "%s: libpng failed to write the preview", path);
    }
    png_init_io(s->png, s->f);
    png_set_IHDR(s->png, s->info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_sRGB(s->png, s->info, PNG_sRGB_INTENT_PERCEPTUAL);
    png_write_info(s->png, s->info);
    *out = s;
    return XS_OK;
}

xs_result xs_png_stream_rows(xs_png_stream *s, const float *rgba, int rows, xs_err *err)
{
    if (rows < 0 || s->rows_done + rows > s->height)
        return xs_err_set(err, XS_ERR_INTERNAL, "%s: %d rows past the image's %d", s->path,
                          s->rows_done + rows, s->height);
    if (setjmp(png_jmpbuf(s->png)))
        return xs_err_set(err, XS_ERR_IO, "%s: libpng failed to write the preview", s->path);
    const size_t W = (size_t)s->width;
    for (int y = 0; y < rows; ++y) {
        const float *src = rgba + (size_t)y * W * 4;
        for (size_t x = 0; x < W; ++x)
            for (int c = 0; c < 3; ++c)
                s->row[x * 3 + (size_t)c] = to_srgb8(src[x * 4 + (size_t)c]);
        png_write_row(s->png, s->row);
    }
    s->rows_done += rows;
    return XS_OK;
}

xs_result xs_png_stream_commit(xs_png_stream *s, xs_err *err)
{
    xs_result r = XS_OK;
    if (s->rows_done != s->height)
        r = xs_err_set(err, XS_ERR_INTERNAL, "%s: %d of %d rows written", s->path, s->rows_done, s->height);
    else if (setjmp(png_jmpbuf(s->png)))
        r = xs_err_set(err, XS_ERR_IO, "%s: libpng failed to write the preview", s->path);
    else
        png_write_end(s->png, NULL);
    if (r == XS_OK && (fflush(s->f) != 0 || ferror(s->f))) {
        int e = errno;
        r = xs_err_set(err, XS_ERR_IO, "%s: write failed: %s", s->path, strerror(e));
    }
    png_destroy_write_struct(&s->png, &s->info);
    s->png = NULL;
    int closed = fclose(s->f);
    s->f = NULL;
    if (r == XS_OK && closed != 0) {
        int e = errno;
        r = xs_err_set(err, XS_ERR_IO, "%s: write failed: %s", s->path, strerror(e));
    }
    if (r == XS_OK)
        r = xs_commit_file(s->tmp, s->path, err);
    else
        unlink(s->tmp);
    free(s->row);
    free(s);
    return r;
}

xs_result xs_png_write_preview(const char *path, const xs_image *img, xs_err *err)
{
    xs_png_stream *s = NULL;
    xs_result r = xs_png_stream_open(path, img->width, img->height, &s, err);
    if (r != XS_OK)
        return r;
    if ((r = xs_png_stream_rows(s, img->rgba, img->height, err)) != XS_OK) {
        xs_png_stream_abort(s);
        return r;
    }
    return xs_png_stream_commit(s, err);
}

/* ---- 8-bit pixels to PNG bytes in memory ------------------------------------ */

typedef struct png_buf {
    unsigned char *data;
    size_t len, cap;
    int oom;
} png_buf;

static void buf_write(png_structp png, png_bytep data, png_size_t n)
{
    png_buf *b = png_get_io_ptr(png);
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap : 65536;
        while (nc < b->len + n)
            nc *= 2;
        unsigned char *nd = realloc(b->data, nc);
        if (!nd) {
            b->oom = 1;
            return;
        }
        b->data = nd;
        b->cap = nc;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void buf_flush(png_structp png) { (void)png; }

xs_result xs_png_encode8(const unsigned char *pixels, int width, int height, int channels, unsigned char **out,
                         size_t *len, xs_err *err)
{
    *out = NULL;
    *len = 0;
    if (width < 1 || height < 1 || (channels != 3 && channels != 4))
        return xs_err_set(err, XS_ERR_INTERNAL, "png: bad image %dx%d with %d channel(s)", width, height,
                          channels);
    /* on the heap: a longjmp from libpng leaves it as the callbacks left it */
    png_buf *b = calloc(1, sizeof *b);
    png_structp png = b ? png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL) : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        free(b);
        return xs_err_set(err, XS_ERR_NOMEM, "png: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(b->data);
        free(b);
        return xs_err_set(err, XS_ERR_INTERNAL, "png: libpng failed to encode a %dx%d image", width, height);
    }
    png_set_write_fn(png, b, buf_write, buf_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 4 ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_sRGB(png, info, PNG_sRGB_INTENT_PERCEPTUAL);
    png_write_info(png, info);
    for (int y = 0; y < height; ++y)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * (size_t)width * (size_t)channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    xs_result r = XS_OK;
    if (b->oom) {
        free(b->data);
        r = xs_err_set(err, XS_ERR_NOMEM, "png: out of memory");
    } else {
        *out = b->data;
        *len = b->len;
    }
    free(b);
    return r;
}
