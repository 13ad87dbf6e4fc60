/* PNG and JPEG decoding to RGBA8 for glTF textures: libpng's simplified API
 * and libjpeg-turbo, from memory. Sizes are checked against a pixel limit
 * before any pixel buffer is allocated; a corrupt image is an error naming
 * the image, never an exit() from inside a library. */
#include "io/xs_image.h"

#include <stdio.h> /* before jpeglib.h, which uses FILE */

#include <jpeglib.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static xs_result decode_png(const char *label, const unsigned char *data, size_t len,
                            uint64_t max_pixels, xs_image8 *out, xs_err *err)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, len))
        return xs_err_set(err, XS_ERR_INVALID, "%s: PNG: %s", label, img.message);
    if ((uint64_t)img.width * img.height > max_pixels || img.width == 0 || img.height == 0) {
        png_image_free(&img);
        return xs_err_set(err, XS_ERR_INVALID, "%s: PNG of %ux%u pixels exceeds the limit of %llu pixels",
                          label, img.width, img.height, (unsigned long long)max_pixels);
    }
    img.format = PNG_FORMAT_RGBA;
    unsigned char *px = malloc(PNG_IMAGE_SIZE(img));
    if (!px) {
        png_image_free(&img);
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", label);
    }
    if (!png_image_finish_read(&img, NULL, px, 0, NULL)) {
        free(px);
        return xs_err_set(err, XS_ERR_INVALID, "%s: PNG: %s", label, img.message);
    }
    out->width = (int)img.width;
    out->height = (int)img.height;
    out->rgba8 = px;
    return XS_OK;
}

typedef struct jpeg_fail {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_fail;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_fail *f = (jpeg_fail *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, f->msg);
    longjmp(f->jump, 1);
}

static void jpeg_quiet(j_common_ptr cinfo, int level) { (void)cinfo, (void)level; }

static xs_result decode_jpeg(const char *label, const unsigned char *data, size_t len,
                             uint64_t max_pixels, xs_image8 *out, xs_err *err)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_fail jf;
    unsigned char *volatile px = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jf.mgr);
    jf.mgr.error_exit = jpeg_on_error;
    jf.mgr.emit_message = jpeg_quiet;
    jf.msg[0] = '\0';
    if (setjmp(jf.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(px);
        return xs_err_set(err, XS_ERR_INVALID, "%s: JPEG: %s", label, jf.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if ((uint64_t)cinfo.image_width * cinfo.image_height > max_pixels) {
        jpeg_destroy_decompress(&cinfo);
        return xs_err_set(err, XS_ERR_INVALID, "%s: JPEG of %ux%u pixels exceeds the limit of %llu pixels",
                          label, cinfo.image_width, cinfo.image_height, (unsigned long long)max_pixels);
    }
    cinfo.out_color_space = JCS_EXT_RGBA;
    jpeg_start_decompress(&cinfo);
    size_t w = cinfo.output_width, h = cinfo.output_height;
    px = malloc(w * h * 4);
    if (!px) {
        jpeg_destroy_decompress(&cinfo);
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", label);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = px + (size_t)cinfo.output_scanline * w * 4;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    out->width = (int)w;
    out->height = (int)h;
    out->rgba8 = px;
    return XS_OK;
}

/* A JPEG's size from its header alone. */
static xs_result probe_jpeg(const char *label, const unsigned char *data, size_t len, int *w, int *h,
                            xs_err *err)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_fail jf;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jf.mgr);
    jf.mgr.error_exit = jpeg_on_error;
    jf.mgr.emit_message = jpeg_quiet;
    jf.msg[0] = '\0';
    if (setjmp(jf.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return xs_err_set(err, XS_ERR_INVALID, "%s: JPEG: %s", label, jf.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    *w = (int)cinfo.image_width;
    *h = (int)cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    return XS_OK;
}

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

xs_result xs_image_probe(const char *label, const unsigned char *data, size_t len, int *width,
                         int *height, xs_err *err)
{
    *width = *height = 0;
    if (len >= 8 && memcmp(data, png_sig, 8) == 0) {
        png_image img;
        memset(&img, 0, sizeof img);
        img.version = PNG_IMAGE_VERSION;
        if (!png_image_begin_read_from_memory(&img, data, len))
            return xs_err_set(err, XS_ERR_INVALID, "%s: PNG: %s", label, img.message);
        *width = (int)(img.width > INT32_MAX ? INT32_MAX : img.width);
        *height = (int)(img.height > INT32_MAX ? INT32_MAX : img.height);
        png_image_free(&img);
        return XS_OK;
    }
    if (len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return probe_jpeg(label, data, len, width, height, err);
    return xs_err_set(err, XS_ERR_INVALID, "%s: not a PNG or JPEG image", label);
}

xs_result xs_image_decode(const char *label, const unsigned char *data, size_t len,
                          uint64_t max_pixels, xs_image8 *out, xs_err *err)
{
    memset(out, 0, sizeof *out);
    if (len >= 8 && memcmp(data, png_sig, 8) == 0)
        return decode_png(label, data, len, max_pixels, out, err);
    if (len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return decode_jpeg(label, data, len, max_pixels, out, err);
    return xs_err_set(err, XS_ERR_INVALID, "%s: not a PNG or JPEG image", label);
}

void xs_image_free(xs_image *img)
{
    if (img) {
        free(img->rgba);
        img->rgba = NULL;
    }
}
