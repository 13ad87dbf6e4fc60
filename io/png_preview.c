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

xs_result xs_png_write_preview(const char *path, const xs_image *img, xs_err *err)
{
    char tmp[PATH_MAX];
    xs_result r = xs_tmp_path(path, tmp, sizeof tmp, err);
    if (r != XS_OK)
        return r;
    const size_t W = (size_t)img->width, H = (size_t)img->height;
    unsigned char *row = malloc(W * 3);
    if (!row)
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int e = errno;
        free(row);
        return xs_err_set(err, XS_ERR_IO, "%s: cannot create: %s", path, strerror(e));
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        unlink(tmp);
        free(row);
        return xs_err_set(err, XS_ERR_IO, "%s: libpng failed to write the preview", path);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_sRGB(png, info, PNG_sRGB_INTENT_PERCEPTUAL);
    png_write_info(png, info);
    for (size_t y = 0; y < H; ++y) {
        const float *src = img->rgba + y * W * 4;
        for (size_t x = 0; x < W; ++x)
            for (int c = 0; c < 3; ++c)
                row[x * 3 + (size_t)c] = to_srgb8(src[x * 4 + (size_t)c]);
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    if (fflush(f) != 0 || ferror(f)) {
        int e = errno;
        fclose(f);
        unlink(tmp);
        return xs_err_set(err, XS_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    if (fclose(f) != 0) {
        int e = errno;
        unlink(tmp);
        return xs_err_set(err, XS_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return xs_commit_file(tmp, path, err);
}
