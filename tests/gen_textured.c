/* gen_textured DIR COUNT SIZE [SEED]: writes a textured scene folder for the
 * texture paging tests and benchmarks: COUNT PNG textures of SIZE x SIZE
 * (a per-texture pattern of checkers, rings and hashed noise, so the MIP
 * levels differ and the pages compress a little), a grid of COUNT quads
 * facing the camera, each with its own base colour texture and the next
 * texture as its metallic-roughness, repeated twice across it, and a ground
 * quad seen at grazing angles with texture 0 repeated 40 times (every MIP
 * level is read). Quad 0 also emits through its texture (light sampling
 * reads level 0 all over it) and the odd quads are alpha-tested (traversal
 * reads level 0 where rays hit them; every texel is opaque). scene.gltf +
 * scene.bin, and manifest.json with a camera and a white sky. Prints the
 * textures' decoded bytes. With `animate` after the seed, quad 2 slides 1.5
 * units along x and 0.5 towards the camera over the first second (a LINEAR
 * translation): an animated textured scene, posed per frame by each rank. */
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t hash(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static int write_png(const char *path, int w, int h, const unsigned char *rgba)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    if (setjmp(png_jmpbuf(p))) {
        png_destroy_write_struct(&p, &info);
        fclose(f);
        return -1;
    }
    png_init_io(p, f);
    png_set_compression_level(p, 1);
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGBA, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, info);
    for (int y = 0; y < h; ++y)
        png_write_row(p, rgba + (size_t)y * (size_t)w * 4);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    return fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: gen_textured DIR COUNT SIZE [SEED [animate]]\n");
        return 2;
    }
    const char *dir = argv[1];
    int count = atoi(argv[2]), size = atoi(argv[3]);
    uint32_t seed = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 10) : 1u;
    const int animate = argc > 5 && strcmp(argv[5], "animate") == 0;
    if (count < 2 || count > 4096 || size < 4 || size > 16384) {
        fprintf(stderr, "gen_textured: COUNT in [2, 4096], SIZE in [4, 16384]\n");
        return 2;
    }
    char path[4096];
    unsigned char *img = malloc((size_t)size * (size_t)size * 4);
    if (!img)
        return 1;
    for (int t = 0; t < count; ++t) {
        uint32_t hs = hash(seed * 7919u + (uint32_t)t);
        float cr = (float)(hs & 255u), cg = (float)((hs >> 8) & 255u), cb = (float)((hs >> 16) & 255u);
        int checker = 4 + (int)(hs % 13u);
        for (int y = 0; y < size; ++y)
            for (int x = 0; x < size; ++x) {
                unsigned char *px = img + ((size_t)y * (size_t)size + (size_t)x) * 4;
                float u = (float)x / (float)size, v = (float)y / (float)size;
                int c = ((int)(u * checker) + (int)(v * checker)) & 1;
                float ring = 0.5f + 0.5f * sinf(40.0f * sqrtf((u - 0.5f) * (u - 0.5f) + (v - 0.5f) * (v - 0.5f)));
                uint32_t n = hash((uint32_t)(y * size + x) ^ hs);
                float noise = (float)(n & 63u) / 63.0f;
                float k = 0.35f + 0.45f * (float)c + 0.15f * ring + 0.05f * noise;
                px[0] = (unsigned char)fminf(255.0f, cr * k + 20.0f);
                px[1] = (unsigned char)fminf(255.0f, cg * k + 20.0f);
                px[2] = (unsigned char)fminf(255.0f, cb * k + 20.0f);
                px[3] = 255;
            }
        snprintf(path, sizeof path, "%s/tex_%03d.png", dir, t);
        if (write_png(path, size, size, img) != 0) {
            perror(path);
            return 1;
        }
    }
    free(img);
    /* geometry: count quads in a grid (z = 0, facing +z), the ground quad */
    int side = (int)ceil(sqrt((double)count));
    int nq = count + 1;
    size_t nv = (size_t)nq * 4;
    float *pos = calloc(nv * 3, sizeof *pos), *uv = calloc(nv * 2, sizeof *uv);
    uint32_t idx[6] = {0, 1, 2, 0, 2, 3};
    for (int q = 0; q < nq; ++q) {
        float *p = pos + (size_t)q * 12, *t = uv + (size_t)q * 8;
        if (q < count) {
            float x0 = (float)(q % side) * 1.1f - 0.55f * (float)side, y0 = (float)(q / side) * 1.1f;
            float c[12] = {x0, y0, 0, x0 + 1, y0, 0, x0 + 1, y0 + 1, 0, x0, y0 + 1, 0};
            float tc[8] = {0, 2, 2, 2, 2, 0, 0, 0};
            memcpy(p, c, sizeof c);
            memcpy(t, tc, sizeof tc);
        } else {
            float e = 6.0f * (float)side;
            float c[12] = {-e, -0.01f, e, e, -0.01f, e, e, -0.01f, -e, -e, -0.01f, -e};
            float tc[8] = {0, 40, 40, 40, 40, 0, 0, 0};
            memcpy(p, c, sizeof c);
            memcpy(t, tc, sizeof tc);
        }
    }
    size_t pos_bytes = nv * 12, uv_bytes = nv * 8;
    snprintf(path, sizeof path, "%s/scene.bin", dir);
    FILE *b = fopen(path, "wb");
    if (!b)
        return 1;
    fwrite(pos, 1, pos_bytes, b);
    fwrite(uv, 1, uv_bytes, b);
    fwrite(idx, 1, sizeof idx, b);
    const float key_t[2] = {0, 1}, key_x[6] = {0, 0, 0, 1.5f, 0, 0.5f};
    if (animate)
        fwrite(key_t, 1, sizeof key_t, b), fwrite(key_x, 1, sizeof key_x, b);
    fclose(b);
    const size_t anim_bytes = animate ? sizeof key_t + sizeof key_x : 0;
    snprintf(path, sizeof path, "%s/scene.gltf", dir);
    FILE *j = fopen(path, "w");
    if (!j)
        return 1;
    fprintf(j, "{\"asset\":{\"version\":\"2.0\",\"generator\":\"xisuan tests/gen_textured\"},\"scene\":0,"
               "\"scenes\":[{\"nodes\":[");
    for (int q = 0; q < nq; ++q)
        fprintf(j, "%s%d", q ? "," : "", q);
    fprintf(j, "]}],\"nodes\":[");
    for (int q = 0; q < nq; ++q)
        fprintf(j, "%s{\"mesh\":%d}", q ? "," : "", q);
    fprintf(j, "],\"meshes\":[");
    for (int q = 0; q < nq; ++q)
        fprintf(j, "%s{\"primitives\":[{\"attributes\":{\"POSITION\":%d,\"TEXCOORD_0\":%d},\"indices\":%d,"
                   "\"material\":%d}]}",
                q ? "," : "", 2 * q, 2 * q + 1, 2 * nq, q < count ? q : 0);
    fprintf(j, "],\"materials\":[");
    for (int q = 0; q < count; ++q) {
        char extra[200] = "";
        if (q == 0) /* a textured light: light sampling reads level 0 all over it */
            snprintf(extra, sizeof extra, ",\"emissiveFactor\":[2,2,2],\"emissiveTexture\":{\"index\":0}");
        else if (q % 2 == 1) /* alpha-tested in traversal (level 0; every texel is opaque) */
            snprintf(extra, sizeof extra, ",\"alphaMode\":\"MASK\",\"alphaCutoff\":0.5");
        fprintf(j, "%s{\"pbrMetallicRoughness\":{\"baseColorTexture\":{\"index\":%d},\"metallicFactor\":0.3,"
                   "\"metallicRoughnessTexture\":{\"index\":%d}}%s}",
                q ? "," : "", q, (q + 1) % count, extra);
    }
    fprintf(j, "],\"textures\":[");
    for (int q = 0; q < count; ++q)
        fprintf(j, "%s{\"source\":%d,\"sampler\":0}", q ? "," : "", q);
    fprintf(j, "],\"samplers\":[{\"wrapS\":10497,\"wrapT\":10497}],\"images\":[");
    for (int q = 0; q < count; ++q)
        fprintf(j, "%s{\"uri\":\"tex_%03d.png\"}", q ? "," : "", q);
    fprintf(j, "],\"buffers\":[{\"uri\":\"scene.bin\",\"byteLength\":%zu}],\"bufferViews\":[",
            pos_bytes + uv_bytes + sizeof idx + anim_bytes);
    for (int q = 0; q < nq; ++q)
        fprintf(j, "{\"buffer\":0,\"byteOffset\":%zu,\"byteLength\":48},{\"buffer\":0,\"byteOffset\":%zu,"
                   "\"byteLength\":32},",
                (size_t)q * 48, pos_bytes + (size_t)q * 32);
    fprintf(j, "{\"buffer\":0,\"byteOffset\":%zu,\"byteLength\":24}", pos_bytes + uv_bytes);
    if (animate)
        fprintf(j, ",{\"buffer\":0,\"byteOffset\":%zu,\"byteLength\":8},{\"buffer\":0,\"byteOffset\":%zu,"
                   "\"byteLength\":24}",
                pos_bytes + uv_bytes + sizeof idx, pos_bytes + uv_bytes + sizeof idx + sizeof key_t);
    fprintf(j, "],\"accessors\":[");
    for (int q = 0; q < nq; ++q) {
        const float *p = pos + (size_t)q * 12;
        float lo[3], hi[3];
        for (int c = 0; c < 3; ++c) {
            lo[c] = fminf(fminf(p[c], p[3 + c]), fminf(p[6 + c], p[9 + c]));
            hi[c] = fmaxf(fmaxf(p[c], p[3 + c]), fmaxf(p[6 + c], p[9 + c]));
        }
        fprintf(j, "{\"bufferView\":%d,\"componentType\":5126,\"count\":4,\"type\":\"VEC3\",\"min\":[%g,%g,%g],"
                   "\"max\":[%g,%g,%g]},{\"bufferView\":%d,\"componentType\":5126,\"count\":4,\"type\":\"VEC2\"},",
                2 * q, (double)lo[0], (double)lo[1], (double)lo[2], (double)hi[0], (double)hi[1], (double)hi[2],
                2 * q + 1);
    }
    fprintf(j, "{\"bufferView\":%d,\"componentType\":5125,\"count\":6,\"type\":\"SCALAR\"}", 2 * nq);
    if (animate)
        fprintf(j, ",{\"bufferView\":%d,\"componentType\":5126,\"count\":2,\"type\":\"SCALAR\",\"min\":[0],"
                   "\"max\":[1]},{\"bufferView\":%d,\"componentType\":5126,\"count\":2,\"type\":\"VEC3\"}],"
                   "\"animations\":[{\"samplers\":[{\"input\":%d,\"output\":%d}],\"channels\":[{\"sampler\":0,"
                   "\"target\":{\"node\":2,\"path\":\"translation\"}}]}",
                2 * nq + 1, 2 * nq + 2, 2 * nq + 1, 2 * nq + 2);
    fprintf(j, "]}\n");
    fclose(j);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    FILE *m = fopen(path, "w");
    if (!m)
        return 1;
    float cy = 0.55f * (float)side, dist = 1.6f * (float)side + 2.0f;
    fprintf(m, "{\"schema\": 1, \"scene\": \"scene.gltf\", \"camera\": {\"position\": [0, %g, %g], \"target\": "
               "[0, %g, 0], \"yfov_deg\": 45}, \"environment\": {\"type\": \"constant\", \"color\": [1, 1, 1]}}\n",
            (double)(cy + 0.3f * dist), (double)dist, (double)cy * 0.7);
    fclose(m);
    free(pos);
    free(uv);
    printf("textures %d of %dx%d: %llu bytes decoded\n", count, size, size,
           (unsigned long long)count * (unsigned long long)size * (unsigned long long)size * 4ull);
    return 0;
}
