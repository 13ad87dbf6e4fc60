/* Texture lookups: trilinear (or nearest) filtering of a MIP pyramid of
 * RGBA8 pages with glTF's wrap modes, KHR_texture_transform, and sRGB
 * decoding for colours.
 *
 * Level of detail: a lookup's level is chosen from the ray cone's footprint
 * on the surface (xs_path.h carries the cone): lod = log2(footprint width in
 * texels), i.e. log2(width / |cos|) + 0.5 log2(texels per unit of surface
 * area), the ray-cone LOD of Akenine-Moller et al. ("Texture Level of Detail
 * Strategies for Real-Time Ray Tracing", Ray Tracing Gems, 2019). A lookup
 * with no footprint (alpha tests in traversal, light sampling) reads level 0.
 *
 * Wrapping is done on the coordinate (u - floor(u), or its mirror) before
 * texels are addressed, so no integer remainder is taken per texel.
 *
 * Texels: a texel is read from its page (kernels/xs_types.h): through the
 * CPU's page cache when the view has one (it loads a page that is not
 * resident before answering), else straight from tex_pool. On a GPU a
 * texture the back end made a CUDA texture object of (tex_objects, within
 * the device's texture budget) is read through it (the hardware filters,
 * wraps and decodes sRGB; its filter weights have 8 fractional bits, so a
 * GPU texel blend differs from the CPU's in the last bits); the others are
 * read from their pages, and a page that is not resident is recorded in
 * tex_request and reads as 0: the host runs the launch again once it is
 * loaded (render/texcache_gpu.c), so the value a finished sample used never
 * depends on what was resident.
 */
#ifndef XS_TEXTURE_H
#define XS_TEXTURE_H

#include "kernels/xs_types.h"

/* Interpolated texture coordinates (set 0 and 1) at barycentrics (b1, b2). */
typedef struct xs_uv {
    float u[2], v[2];
} xs_uv;

/* A surface's footprint for level-of-detail: per uv set, log2 of the ray
 * cone's width on the surface in uv units (to which a texture adds log2 of
 * its size); -INFINITY: read level 0. */
typedef struct xs_lod {
    float uv_log2[2];
} xs_lod;

XS_DEVICE xs_lod xs_lod_none(void)
{
    xs_lod l;
    l.uv_log2[0] = l.uv_log2[1] = -INFINITY;
    return l;
}

XS_DEVICE xs_uv xs_tri_uv(const xs_tri_attr *a, float b1, float b2)
{
    float b0 = 1.0f - b1 - b2;
    xs_uv r;
    for (int k = 0; k < 2; ++k) {
        r.u[k] = b0 * a->uv[k][0] + b1 * a->uv[k][2] + b2 * a->uv[k][4];
        r.v[k] = b0 * a->uv[k][1] + b1 * a->uv[k][3] + b2 * a->uv[k][5];
    }
    return r;
}

/* A coordinate in [0, 1] after wrapping (clamp, mirrored repeat or repeat). */
XS_DEVICE float xs_wrap_coord(float u, bool clamp, bool mirror)
{
    if (clamp)
        return xs_minf(1.0f, xs_maxf(0.0f, u));
    if (mirror) {
        float t = u * 0.5f;
        t = 2.0f * (t - floorf(t)); /* [0, 2) */
        return t > 1.0f ? 2.0f - t : t;
    }
    return u - floorf(u);
}

/* A texel index just outside [0, n) (-1 or n, from a wrapped coordinate's
 * neighbour) brought back in: around for repeat, onto the edge otherwise. */
XS_DEVICE int xs_wrap_index(int i, int n, bool repeat)
{
    if (i < 0)
        return repeat ? n - 1 : 0;
    if (i >= n)
        return repeat ? 0 : n - 1;
    return i;
}

/* Demand loading on a GPU (tex_request set): a page that is not resident
 * is asked for (its request bit set) and the launch flags itself
 * (tex_asked), so it runs again once the page is loaded; a resident page
 * read is marked as read, so the host keeps it when it needs room. The two
 * bitmaps: requests in words [0, W), reads in [W, 2W), W = pages / 32. A
 * launch that misses a page flags itself even when another launch in
 * flight already set the page's bit: the bit is asked once, but every
 * launch that read without the page must run again. */
#if defined(__CUDACC__)
/* Out of line on the GPU: rarely more than a load, and the fetch that calls
 * it sits in the path tracer's hottest loop (registers, tests/ptxas.sh). */
static __device__ __noinline__ void xs_tex_mark_gpu(uint32_t *word, uint32_t bit, uint32_t *asked)
{
    if ((*word & bit) == 0u)
        atomicOr(word, bit);
    if (asked)
        *(volatile uint32_t *)asked = 1u; /* every writer stores the same 1 */
}
#endif

XS_DEVICE void xs_tex_mark(const xs_scene_view *s, uint32_t page, bool missing)
{
    uint32_t bit = 1u << (page & 31u);
    uint32_t *word = s->tex_request + (missing ? 0u : (s->tex_page_count + 31u) / 32u) + (page >> 5);
#if XS_GPU_CODE
    if (missing || (*word & bit) == 0u)
        xs_tex_mark_gpu(word, bit, missing ? s->tex_asked : NULL);
#else
    /* a host emulating a device (tests/fake_cuda_rt.c) runs one thread */
    *word |= bit;
    if (missing)
        s->tex_asked[0] = 1u;
#endif
}

/* Where texel (x, y) of level lv lies: its page and its index there. */
XS_DEVICE uint32_t xs_tex_page_of(const xs_tex_level *lv, uint32_t x, uint32_t y, uint32_t *idx)
{
    uint32_t px = x >> XS_TEX_PAGE_SHIFT, py = y >> XS_TEX_PAGE_SHIFT;
    uint32_t pw = lv->width - (px << XS_TEX_PAGE_SHIFT);
    pw = pw < (uint32_t)XS_TEX_PAGE ? pw : (uint32_t)XS_TEX_PAGE;
    *idx = (y & (XS_TEX_PAGE - 1u)) * pw + (x & (XS_TEX_PAGE - 1u));
    return lv->first_page + py * lv->pages_x + px;
}

/* The packed RGBA8 texel (x, y) of level lv (coordinates inside it). */
XS_DEVICE uint32_t xs_tex_fetch(const xs_scene_view *s, const xs_tex_level *lv, uint32_t x, uint32_t y)
{
    uint32_t idx;
    uint32_t page = xs_tex_page_of(lv, x, y, &idx);
#if !XS_GPU_CODE
    if (s->tex_fetch) {
        uint32_t v;
        s->tex_fetch(s->tex_ctx, page, &idx, 1, &v);
        return v;
    }
#endif
    uint32_t at = s->tex_page[page];
    if (s->tex_request)
        xs_tex_mark(s, page, at == UINT32_MAX);
    return at == UINT32_MAX ? 0u : s->tex_pool[(size_t)at * XS_TEX_UNIT + idx];
}

XS_DEVICE void xs_tex_decode(const xs_scene_view *s, uint32_t p, bool srgb, float *out)
{
    for (int c = 0; c < 3; ++c) {
        uint32_t b = (p >> (8 * c)) & 255u;
        out[c] = srgb ? s->srgb_to_linear[b] : (float)b * (1.0f / 255.0f);
    }
    out[3] = (float)(p >> 24) * (1.0f / 255.0f);
}

/* Bilinear (or nearest) RGBA of level `level` at wrapped coordinates (u, v). */
XS_DEVICE void xs_tex_level_read(const xs_scene_view *s, const xs_texture *t, uint32_t level, float u, float v,
                                 bool srgb, float *out)
{
    const xs_tex_level *lv = &s->tex_levels[t->level0 + level];
    const int w = (int)lv->width, h = (int)lv->height;
    const bool rep_s = (t->flags & (XS_TEX_CLAMP_S | XS_TEX_MIRROR_S)) == 0u;
    const bool rep_t = (t->flags & (XS_TEX_CLAMP_T | XS_TEX_MIRROR_T)) == 0u;
    if ((t->flags & XS_TEX_NEAREST) != 0u) {
        int x = xs_wrap_index((int)floorf(u * (float)w), w, rep_s);
        int y = xs_wrap_index((int)floorf(v * (float)h), h, rep_t);
        xs_tex_decode(s, xs_tex_fetch(s, lv, (uint32_t)x, (uint32_t)y), srgb, out);
        return;
    }
    const float fx = u * (float)w - 0.5f, fy = v * (float)h - 0.5f;
    const float x0 = floorf(fx), y0 = floorf(fy);
    const float ax = fx - x0, ay = fy - y0;
    const uint32_t ix0 = (uint32_t)xs_wrap_index((int)x0, w, rep_s), ix1 = (uint32_t)xs_wrap_index((int)x0 + 1, w, rep_s);
    const uint32_t iy0 = (uint32_t)xs_wrap_index((int)y0, h, rep_t), iy1 = (uint32_t)xs_wrap_index((int)y0 + 1, h, rep_t);
    uint32_t p[4];
#if !XS_GPU_CODE
    /* the CPU's cache: the four texels in one call when one page holds them
     * (nearly always: 64 x 64 pages), one read of the slot's sequence */
    if (s->tex_fetch) {
        uint32_t idx[4];
        uint32_t pa = xs_tex_page_of(lv, ix0, iy0, &idx[0]);
        uint32_t pb = xs_tex_page_of(lv, ix1, iy0, &idx[1]);
        uint32_t pc = xs_tex_page_of(lv, ix0, iy1, &idx[2]);
        uint32_t pd = xs_tex_page_of(lv, ix1, iy1, &idx[3]);
        if (pa == pb && pa == pc && pa == pd) {
            s->tex_fetch(s->tex_ctx, pa, idx, 4, p);
        } else {
            s->tex_fetch(s->tex_ctx, pa, &idx[0], 1, &p[0]);
            s->tex_fetch(s->tex_ctx, pb, &idx[1], 1, &p[1]);
            s->tex_fetch(s->tex_ctx, pc, &idx[2], 1, &p[2]);
            s->tex_fetch(s->tex_ctx, pd, &idx[3], 1, &p[3]);
        }
    } else
#endif
    {
        p[0] = xs_tex_fetch(s, lv, ix0, iy0);
        p[1] = xs_tex_fetch(s, lv, ix1, iy0);
        p[2] = xs_tex_fetch(s, lv, ix0, iy1);
        p[3] = xs_tex_fetch(s, lv, ix1, iy1);
    }
    float a[4], b[4], c[4], d[4];
    xs_tex_decode(s, p[0], srgb, a);
    xs_tex_decode(s, p[1], srgb, b);
    xs_tex_decode(s, p[2], srgb, c);
    xs_tex_decode(s, p[3], srgb, d);
    for (int k = 0; k < 4; ++k)
        out[k] = (a[k] * (1.0f - ax) + b[k] * ax) * (1.0f - ay) + (c[k] * (1.0f - ax) + d[k] * ax) * ay;
}

/* RGBA at uv through a material's slot; colours decoded from sRGB when srgb;
 * the level from the footprint lod (xs_lod_none: level 0). */
XS_DEVICE void xs_tex_sample(const xs_scene_view *s, const xs_texslot *slot, const xs_uv *uv, const xs_lod *lod,
                             bool srgb, float *out)
{
    const xs_texture *t = &s->textures[slot->tex];
    const int set = slot->texcoord & 1;
    float u = uv->u[set], v = uv->v[set];
    float tu = slot->m[0] * u + slot->m[1] * v + slot->m[2];
    float tv = slot->m[3] * u + slot->m[4] * v + slot->m[5];
    /* the level: the footprint in uv units, times the texture's size and the
     * slot transform's scale */
    float level = 0.0f;
    if (t->levels > 1u && lod->uv_log2[set] > -INFINITY) {
        float det = fabsf(slot->m[0] * slot->m[4] - slot->m[1] * slot->m[3]);
        level = lod->uv_log2[set] + 0.5f * log2f((float)t->width * (float)t->height * det);
        level = xs_minf(xs_maxf(level, 0.0f), (float)(t->levels - 1u));
        if (!(level >= 0.0f))
            level = 0.0f; /* NaN from a degenerate transform */
    }
#if XS_GPU_CODE
    /* a texture the back end made texture objects of is read through them */
    const unsigned long long obj = s->tex_objects ? s->tex_objects[2 * slot->tex + (srgb ? 1 : 0)] : 0ull;
    if (obj != 0ull) {
        const float4 r = tex2DLod<float4>((cudaTextureObject_t)obj, tu, tv, level);
        out[0] = r.x;
        out[1] = r.y;
        out[2] = r.z;
        out[3] = r.w;
        return;
    }
#endif
    u = xs_wrap_coord(tu, (t->flags & XS_TEX_CLAMP_S) != 0u, (t->flags & XS_TEX_MIRROR_S) != 0u);
    v = xs_wrap_coord(tv, (t->flags & XS_TEX_CLAMP_T) != 0u, (t->flags & XS_TEX_MIRROR_T) != 0u);
    const uint32_t l0 = (uint32_t)level;
    const float f = level - (float)l0;
    xs_tex_level_read(s, t, l0, u, v, srgb, out);
    if (f > 0.0f && l0 + 1u < t->levels) {
        float o1[4];
        xs_tex_level_read(s, t, l0 + 1u, u, v, srgb, o1);
        for (int k = 0; k < 4; ++k)
            out[k] = out[k] * (1.0f - f) + o1[k] * f;
    }
}

/* Alpha of a material at uv (base colour alpha times its texture's), level 0. */
XS_DEVICE float xs_material_alpha(const xs_scene_view *s, const xs_material *m, const xs_uv *uv)
{
    float a = m->alpha;
    if (m->base_tex.tex >= 0) {
        float t[4];
        xs_lod none = xs_lod_none();
        xs_tex_sample(s, &m->base_tex, uv, &none, true, t);
        a *= t[3];
    }
    return a;
}

/* A colour factor times its texture (sRGB-decoded) at uv, when there is one. */
XS_DEVICE xs_vec3 xs_textured(const xs_scene_view *s, xs_vec3 factor, const xs_texslot *slot, const xs_uv *uv,
                              const xs_lod *lod)
{
    if (slot->tex < 0)
        return factor;
    float t[4];
    xs_tex_sample(s, slot, uv, lod, true, t);
    return xs_mul(factor, xs_v3(t[0], t[1], t[2]));
}

XS_DEVICE xs_vec3 xs_emission_at_uv(const xs_scene_view *s, const xs_material *m, const xs_uv *uv,
                                    const xs_lod *lod)
{
    return xs_textured(s, m->emission, &m->emit_tex, uv, lod);
}

#endif
