/* A small textured scene built in memory for the texture paging tests
 * (tests/test_texpages.c, tests/test_cuda_host.c): a glTF scene of one quad
 * filling the view (uv repeated 3 times) with a base colour texture of odd
 * size (300 x 200: pages of every width), a metallic-roughness texture and
 * the first texture as emission too (light sampling reads level 0 all over
 * it), a white sky; its images decoded (held whole) or left to a page store
 * written beside the test (paged). */
#ifndef XS_TEX_SCENE_H
#define XS_TEX_SCENE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/xs_gltf.h"
#include "io/xs_texpage.h"
#include "render/xs_scene.h"

static uint32_t tex_hash(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static void tex_image(xs_image8 *im, int w, int h, uint32_t seed)
{
    im->width = w;
    im->height = h;
    im->rgba8 = malloc((size_t)w * (size_t)h * 4);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            unsigned char *p = im->rgba8 + ((size_t)y * (size_t)w + (size_t)x) * 4;
            uint32_t n = tex_hash((uint32_t)(y * w + x) * 2654435761u + seed);
            int c = ((x / 7) + (y / 5)) & 1;
            p[0] = (unsigned char)(c ? 200 + (n & 31) : 30 + (n & 15));
            p[1] = (unsigned char)((x * 255) / w);
            p[2] = (unsigned char)((y * 255) / h);
            p[3] = 255;
        }
}

/* The glTF scene (images decoded in *g). Free with tex_gltf_free. */
static void tex_gltf(xs_gltf_scene *g)
{
    memset(g, 0, sizeof *g);
    static float pos[12] = {-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0};
    static float uv[8] = {0, 3, 3, 3, 3, 0, 0, 0};
    static uint32_t idx[6] = {0, 1, 2, 0, 2, 3};
    g->meshes = calloc(1, sizeof *g->meshes);
    g->meshes[0].prims = calloc(1, sizeof *g->meshes[0].prims);
    g->meshes[0].prim_count = 1;
    xs_gltf_primitive *p = &g->meshes[0].prims[0];
    p->vertex_count = 4;
    p->tri_count = 2;
    p->positions = malloc(sizeof pos), memcpy(p->positions, pos, sizeof pos);
    p->uv0 = malloc(sizeof uv), memcpy(p->uv0, uv, sizeof uv);
    p->indices = malloc(sizeof idx), memcpy(p->indices, idx, sizeof idx);
    p->material = 0;
    g->mesh_count = 1;
    g->instances = calloc(1, sizeof *g->instances);
    g->instance_count = 1;
    static const float id[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    memcpy(g->instances[0].xform, id, sizeof id);
    g->images = calloc(2, sizeof *g->images);
    g->image_count = 2;
    tex_image(&g->images[0], 300, 200, 1);
    tex_image(&g->images[1], 64, 64, 2);
    g->textures = calloc(2, sizeof *g->textures);
    g->texture_count = 2;
    for (int i = 0; i < 2; ++i) {
        g->textures[i].image = i;
        g->textures[i].wrap_s = g->textures[i].wrap_t = XS_WRAP_REPEAT;
    }
    g->materials = calloc(1, sizeof *g->materials);
    g->material_count = 1;
    xs_gltf_material *m = &g->materials[0];
    xs_gltf_texref none = {.texture = -1, .scale = 1, .tscale = {1, 1}};
    m->base_color[0] = m->base_color[1] = m->base_color[2] = m->base_color[3] = 1.0f;
    m->base_color_tex = m->metallic_roughness_tex = m->normal_tex = m->occlusion_tex = none;
    m->emissive_tex = m->transmission_tex = none;
    m->base_color_tex.texture = 0;
    m->metallic_roughness_tex.texture = 1;
    m->emissive_tex.texture = 0;
    m->emissive[0] = m->emissive[1] = m->emissive[2] = 0.5f;
    m->emissive_strength = 1.0f;
    m->metallic = 0.5f;
    m->roughness = 1.0f;
    m->ior = 1.5f;
    m->alpha_mode = XS_ALPHA_OPAQUE;
    m->double_sided = true;
    g->tri_count_instanced = g->tri_count_unique = 2;
}

static void tex_gltf_free(xs_gltf_scene *g)
{
    free(g->meshes[0].prims[0].positions), free(g->meshes[0].prims[0].uv0), free(g->meshes[0].prims[0].indices);
    free(g->meshes[0].prims), free(g->meshes), free(g->instances), free(g->textures), free(g->materials);
    for (int i = 0; i < g->image_count; ++i)
        free(g->images[i].rgba8);
    free(g->images);
}

/* Writes the page store of g's images at path (after a stand-in tar part). */
static xs_result tex_store_write(const xs_gltf_scene *g, const char *path, xs_err *e)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    xs_texstore_writer *w = NULL;
    xs_result r = xs_texstore_writer_create(tmp, 3, &w, e);
    for (int i = 0; r == XS_OK && i < g->image_count; ++i)
        r = xs_texstore_writer_add(w, i, &g->images[i], xs_gltf_image_srgb(g, i), "test image", e);
    static const unsigned char tar[100] = {0};
    if (r == XS_OK)
        r = xs_texstore_writer_finish(w, tar, sizeof tar, path, e);
    xs_texstore_writer_destroy(w);
    return r;
}

/* The render scene of g: held whole (pages NULL: g's images decoded) or
 * paged (pages: g's images are not read). */
static xs_result tex_scene_build(const xs_gltf_scene *g, const xs_texstore *pages, xs_scene **out, xs_err *e)
{
    xs_scene_setup su;
    memset(&su, 0, sizeof su);
    su.name = "textured";
    su.cam_mode = XS_CAM_OVERRIDE;
    su.cam_pos[2] = 2.2f;
    su.cam_up[1] = 1.0f;
    su.cam_yfov_deg = 50.0f;
    su.env_color[0] = su.env_color[1] = su.env_color[2] = 1.0f;
    su.env_strength = 1.0f;
    su.pages = pages;
    su.build.threads = 1;
    return xs_scene_from_gltf(g, &su, out, e);
}

#endif
