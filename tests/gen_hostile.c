/* gen_hostile KIND ARGS: writes the small inputs that claim to be huge, for
 * tests/reliability.sh. Each is tiny on disk; only its header says otherwise.
 *
 *   png W H OUT.png          an all-zero W x H 1-bit grey PNG (a few KB per
 *                            16k rows: zlib squeezes the zeros)
 *   jpeg-claim W H OUT.jpg   an 8x8 JPEG whose frame header claims W x H
 *   exr-claim W H OUT.exr    an 8x8 RGBA EXR whose data window claims W x H
 *   gltf-image IMAGE N OUT.gltf
 *                            one triangle whose material uses texture 0; N
 *                            image entries (and textures) naming IMAGE
 *   gltf-unused IMAGE OUT.gltf
 *                            one triangle, no material; one image naming IMAGE
 *                            that nothing uses
 *   flat-nodes N OUT.gltf    N nodes in the scene's root list, each placing
 *                            one small mesh (a flat list of instances)
 *   gltf-external BIN OUT.gltf
 *                            one triangle whose buffer is the file BIN beside it
 *                            (the test makes BIN: a FIFO, a link, ...)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "io/xs_exr.h"

static int gen_png(int w, int h, const char *out)
{
    FILE *f = fopen(out, "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    if (!f || !p || !info)
        return 1;
    if (setjmp(png_jmpbuf(p)))
        return 1;
    png_init_io(p, f);
    png_set_compression_level(p, 9);
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, info);
    unsigned char *row = calloc((size_t)w / 8 + 1, 1);
    for (int y = 0; y < h; ++y)
        png_write_row(p, row);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    free(row);
    return fclose(f) != 0;
}

static int gen_jpeg_claim(int w, int h, const char *out)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    unsigned char *mem = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&c, &mem, &len);
    c.image_width = 8;
    c.image_height = 8;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_start_compress(&c, TRUE);
    unsigned char row[8 * 3] = {0};
    JSAMPROW r = row;
    for (int y = 0; y < 8; ++y)
        jpeg_write_scanlines(&c, &r, 1);
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    /* the SOF0 segment: FF C0, length (2), precision (1), height (2), width (2) */
    for (unsigned long i = 0; i + 9 < len; ++i)
        if (mem[i] == 0xff && mem[i + 1] == 0xc0) {
            mem[i + 5] = (unsigned char)(h >> 8), mem[i + 6] = (unsigned char)h;
            mem[i + 7] = (unsigned char)(w >> 8), mem[i + 8] = (unsigned char)w;
            break;
        }
    FILE *f = fopen(out, "wb");
    int bad = !f || fwrite(mem, 1, len, f) != len;
    if (f)
        bad |= fclose(f) != 0;
    free(mem);
    return bad;
}

/* Replaces the box2i value of attribute name (dataWindow, displayWindow). */
static void patch_box(unsigned char *b, size_t n, const char *name, int w, int h)
{
    size_t k = strlen(name);
    for (size_t i = 0; i + k + 7 + 4 + 16 < n; ++i)
        if (memcmp(b + i, name, k + 1) == 0 && memcmp(b + i + k + 1, "box2i", 6) == 0) {
            int32_t v[4] = {0, 0, w - 1, h - 1};
            memcpy(b + i + k + 1 + 6 + 4, v, sizeof v); /* little endian, as EXR */
            return;
        }
}

static int gen_exr_claim(int w, int h, const char *out)
{
    float px[8 * 8 * 4];
    for (int i = 0; i < 8 * 8 * 4; ++i)
        px[i] = 0.5f;
    xs_exr_layout l = {.frame_width = 8, .frame_height = 8, .tile_size = 8,
                       .compression = XS_EXR_NONE, .channel_count = 4,
                       .channels = {"R", "G", "B", "A"}};
    xs_err e;
    if (xs_exr_write_tile(out, &l, 0, 0, 8, 8, px, &e) != XS_OK) {
        fprintf(stderr, "gen_hostile: %s\n", e.msg);
        return 1;
    }
    FILE *f = fopen(out, "rb");
    if (!f)
        return 1;
    unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    patch_box(buf, n, "dataWindow", w, h);
    patch_box(buf, n, "displayWindow", w, h);
    f = fopen(out, "wb");
    int bad = !f || fwrite(buf, 1, n, f) != n;
    if (f)
        bad |= fclose(f) != 0;
    return bad;
}

/* A triangle as a data: URI buffer (3 float3 positions, no indices). */
static const char *tri_buffer =
    "{\"byteLength\": 36, \"uri\": \"data:application/octet-stream;base64,"
    "AAAAAAAAAAAAAAAAAACAPwAAAAAAAAAAAAAAAAAAgD8AAAAA\"}";

static int gen_gltf_image(const char *image, int n, int used, const char *out)
{
    FILE *f = fopen(out, "w");
    if (!f)
        return 1;
    fprintf(f, "{\"asset\": {\"version\": \"2.0\"}, \"scene\": 0, \"scenes\": [{\"nodes\": [0]}],\n"
               " \"nodes\": [{\"mesh\": 0}],\n"
               " \"meshes\": [{\"primitives\": [{\"attributes\": {\"POSITION\": 0}%s}]}],\n"
               " \"accessors\": [{\"bufferView\": 0, \"componentType\": 5126, \"count\": 3, "
               "\"type\": \"VEC3\", \"min\": [0, 0, 0], \"max\": [1, 1, 0]}],\n"
               " \"bufferViews\": [{\"buffer\": 0, \"byteLength\": 36}],\n"
               " \"buffers\": [%s],\n",
            used ? ", \"material\": 0" : "", tri_buffer);
    if (used) {
        fprintf(f, " \"materials\": [");
        for (int i = 0; i < n; ++i)
            fprintf(f, "%s{\"pbrMetallicRoughness\": {\"baseColorTexture\": {\"index\": %d}}}",
                    i ? ", " : "", i);
        fprintf(f, "],\n \"textures\": [");
        for (int i = 0; i < n; ++i)
            fprintf(f, "%s{\"source\": %d}", i ? ", " : "", i);
        fprintf(f, "],\n");
    }
    fprintf(f, " \"images\": [");
    for (int i = 0; i < n; ++i)
        fprintf(f, "%s{\"uri\": \"%s\"}", i ? ", " : "", image);
    fprintf(f, "]}\n");
    return fclose(f) != 0;
}

static int gen_gltf_external(const char *bin, const char *out)
{
    FILE *f = fopen(out, "w");
    if (!f)
        return 1;
    fprintf(f, "{\"asset\": {\"version\": \"2.0\"}, \"scene\": 0, \"scenes\": [{\"nodes\": [0]}],\n"
               " \"nodes\": [{\"mesh\": 0}],\n"
               " \"meshes\": [{\"primitives\": [{\"attributes\": {\"POSITION\": 0}}]}],\n"
               " \"accessors\": [{\"bufferView\": 0, \"componentType\": 5126, \"count\": 3, "
               "\"type\": \"VEC3\", \"min\": [0, 0, 0], \"max\": [1, 1, 0]}],\n"
               " \"bufferViews\": [{\"buffer\": 0, \"byteLength\": 36}],\n"
               " \"buffers\": [{\"byteLength\": 36, \"uri\": \"%s\"}]}\n",
            bin);
    return fclose(f) != 0;
}

static int gen_flat_nodes(long n, const char *out)
{
    FILE *f = fopen(out, "w");
    if (!f)
        return 1;
    fprintf(f, "{\"asset\": {\"version\": \"2.0\"}, \"scene\": 0, \"scenes\": [{\"nodes\": [");
    for (long i = 0; i < n; ++i)
        fprintf(f, "%s%ld", i ? "," : "", i);
    fprintf(f, "]}],\n \"nodes\": [");
    for (long i = 0; i < n; ++i)
        fprintf(f, "%s{\"mesh\":0,\"translation\":[%ld,%ld,0]}", i ? "," : "", i % 1000, i / 1000);
    fprintf(f, "],\n \"meshes\": [{\"primitives\": [{\"attributes\": {\"POSITION\": 0}}]}],\n"
               " \"accessors\": [{\"bufferView\": 0, \"componentType\": 5126, \"count\": 3, "
               "\"type\": \"VEC3\", \"min\": [0, 0, 0], \"max\": [1, 1, 0]}],\n"
               " \"bufferViews\": [{\"buffer\": 0, \"byteLength\": 36}],\n"
               " \"buffers\": [%s]}\n",
            tri_buffer);
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    const char *k = argc > 1 ? argv[1] : "";
    int bad = 2;
    if (strcmp(k, "png") == 0 && argc == 5)
        bad = gen_png(atoi(argv[2]), atoi(argv[3]), argv[4]);
    else if (strcmp(k, "jpeg-claim") == 0 && argc == 5)
        bad = gen_jpeg_claim(atoi(argv[2]), atoi(argv[3]), argv[4]);
    else if (strcmp(k, "exr-claim") == 0 && argc == 5)
        bad = gen_exr_claim(atoi(argv[2]), atoi(argv[3]), argv[4]);
    else if (strcmp(k, "gltf-image") == 0 && argc == 5)
        bad = gen_gltf_image(argv[2], atoi(argv[3]), 1, argv[4]);
    else if (strcmp(k, "gltf-unused") == 0 && argc == 4)
        bad = gen_gltf_image(argv[2], 1, 0, argv[3]);
    else if (strcmp(k, "gltf-external") == 0 && argc == 4)
        bad = gen_gltf_external(argv[2], argv[3]);
    else if (strcmp(k, "flat-nodes") == 0 && argc == 4)
        bad = gen_flat_nodes(atol(argv[2]), argv[3]);
    if (bad == 2)
        fprintf(stderr, "usage: see the head of tests/gen_hostile.c\n");
    else if (bad)
        fprintf(stderr, "gen_hostile %s: failed\n", k);
    return bad;
}
