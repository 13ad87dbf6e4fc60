/* Texture lookups: trilinear filtering over a MIP pyramid of RGBA8 pages
 * (bilinear, or nearest when magnified with a NEAREST sampler), glTF's wrap
 * modes, KHR_texture_transform, and sRGB decoding for colours.
 *
 * The MIP level comes from the ray's footprint (xs_uv.fp, a ray cone; 0
 * reads level 0). A texel is read from its page: through the CPU's page
 * cache when the view has one (it loads a page that is not resident before
 * answering), else straight from tex_pool; a GPU page that is not resident
 * is recorded in tex_request and reads as 0, and the host runs the launch
 * again once it is loaded (render/texcache_gpu.c), so the value a finished
 * sample used never depends on what was resident. */
#ifndef XS_TEXTURE_H
#define XS_TEXTURE_H

#include "kernels/xs_types.h"

/* Interpolated texture coordinates (set 0 and 1) at barycentrics (b1, b2),
 * and the ray's footprint in each set's uv units (0: none, level 0). */
typedef struct xs_uv {
    float u[2], v[2];
    float fp[2];
} xs_uv;

XS_DEVICE xs_uv xs_tri_uv(const xs_tri_attr *a, float b1, float b2)
{
    float b0 = 1.0f - b1 - b2;
    xs_uv r;
    for (int k = 0; k < 2; ++k) {
        r.u[k] = b0 * a->uv[k][0] + b1 * a->uv[k][2] + b2 * a->uv[k][4];
        r.v[k] = b0 * a->uv[k][1] + b1 * a->uv[k][3] + b2 * a->uv[k][5];
        r.fp[k] = 0.0f;
    }
    return r;
}

/* The footprint in each uv set of a ray cone of width cone_w meeting the
 * triangle of attributes a and world-space edges e1, e2 at |cos| cosi
 * (Akenine-Moller et al. 2019, "Texture Level of Detail Strategies for
 * Real-Time Ray Tracing": width times sqrt(uv area / world area), divided
 * by the cosine, which is bounded below by 0.1). */
XS_DEVICE void xs_uv_footprint(xs_uv *uv, const xs_tri_attr *a, xs_vec3 e1, xs_vec3 e2, float cosi,
                               float cone_w)
{
    float wa = xs_length(xs_cross(e1, e2));
    float c = cosi > 0.1f ? cosi : 0.1f;
    for (int k = 0; k < 2; ++k) {
        float du1 = a->uv[k][2] - a->uv[k][0], dv1 = a->uv[k][3] - a->uv[k][1];
        float du2 = a->uv[k][4] - a->uv[k][0], dv2 = a->uv[k][5] - a->uv[k][1];
        float ta = fabsf(du1 * dv2 - du2 * dv1);
        uv->fp[k] = (wa > 0.0f && cone_w > 0.0f) ? cone_w / c * sqrtf(ta / wa) : 0.0f;
    }
}

XS_DEVICE int xs_wrap(int i, int n, bool clamp, bool mirror)
{
    if (clamp)
        return i < 0 ? 0 : (i >= n ? n - 1 : i);
    if (mirror) {
        int p = 2 * n;
        int k = ((i % p) + p) % p;
        return k < n ? k : p - 1 - k;
    }
    return ((i % n) + n) % n;
}

/* Demand loading on a GPU (tex_request set): a page that is not resident
 * is asked for (the launch runs again once it is loaded); a resident page
 * read is marked as read, so the host keeps it when it needs room. The two
 * bitmaps: requests in words [0, W), reads in [W, 2W), W = pages / 32. */
#if defined(__CUDACC__)
/* Out of line on the GPU: rarely more than a load, and the fetch that calls
 * it sits in the path tracer's hottest loop (registers, tests/ptxas.sh). */
static __device__ __noinline__ void xs_tex_mark_gpu(uint32_t *word, uint32_t bit, uint32_t *asked)
{
    if ((atomicOr(word, bit) & bit) == 0u && asked)
        atomicAdd(asked, 1u);
}
#endif

XS_DEVICE void xs_tex_mark(const xs_scene_view *s, uint32_t page, bool missing)
{
    uint32_t bit = 1u << (page & 31u);
    uint32_t *word = s->tex_request + (missing ? 0u : (s->tex_page_count + 31u) / 32u) + (page >> 5);
#if XS_GPU_CODE
    if ((*word & bit) == 0u)
        xs_tex_mark_gpu(word, bit, missing ? s->tex_asked : NULL);
#else
    /* a host emulating a device (tests/fake_cuda_rt.c) runs one thread */
    if ((*word & bit) == 0u) {
        *word |= bit;
        if (missing)
            s->tex_asked[0]++;
    }
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

XS_DEVICE void xs_texel(const xs_scene_view *s, const xs_texture *t, const xs_tex_level *lv, int x, int y,
                        bool srgb, float *out)
{
    x = xs_wrap(x, (int)lv->width, (t->flags & XS_TEX_CLAMP_S) != 0u, (t->flags & XS_TEX_MIRROR_S) != 0u);
    y = xs_wrap(y, (int)lv->height, (t->flags & XS_TEX_CLAMP_T) != 0u, (t->flags & XS_TEX_MIRROR_T) != 0u);
    xs_tex_decode(s, xs_tex_fetch(s, lv, (uint32_t)x, (uint32_t)y), srgb, out);
}

/* Bilinear at (tu, tv) in level lv. */
XS_DEVICE void xs_tex_bilinear(const xs_scene_view *s, const xs_texture *t, const xs_tex_level *lv, float tu,
                               float tv, bool srgb, float *out)
{
    float fx = tu * (float)lv->width - 0.5f, fy = tv * (float)lv->height - 0.5f;
    float x0 = floorf(fx), y0 = floorf(fy);
    float ax = fx - x0, ay = fy - y0;
    int ix = (int)x0, iy = (int)y0;
    float a[4], b[4], c[4], d[4];
#if !XS_GPU_CODE
    /* the CPU's cache: the four texels in one call when one page holds them
     * (nearly always: 64 x 64 pages), one read of the slot's sequence */
    if (s->tex_fetch) {
        bool cs = (t->flags & XS_TEX_CLAMP_S) != 0u, ms = (t->flags & XS_TEX_MIRROR_S) != 0u;
        bool ct = (t->flags & XS_TEX_CLAMP_T) != 0u, mt = (t->flags & XS_TEX_MIRROR_T) != 0u;
        uint32_t xa = (uint32_t)xs_wrap(ix, (int)lv->width, cs, ms), xb = (uint32_t)xs_wrap(ix + 1, (int)lv->width, cs, ms);
        uint32_t ya = (uint32_t)xs_wrap(iy, (int)lv->height, ct, mt), yb = (uint32_t)xs_wrap(iy + 1, (int)lv->height, ct, mt);
        uint32_t idx[4], p[4];
        uint32_t pa = xs_tex_page_of(lv, xa, ya, &idx[0]);
        uint32_t pb = xs_tex_page_of(lv, xb, ya, &idx[1]);
        uint32_t pc = xs_tex_page_of(lv, xa, yb, &idx[2]);
        uint32_t pd = xs_tex_page_of(lv, xb, yb, &idx[3]);
        if (pa == pb && pa == pc && pa == pd) {
            s->tex_fetch(s->tex_ctx, pa, idx, 4, p);
        } else {
            s->tex_fetch(s->tex_ctx, pa, &idx[0], 1, &p[0]);
            s->tex_fetch(s->tex_ctx, pb, &idx[1], 1, &p[1]);
            s->tex_fetch(s->tex_ctx, pc, &idx[2], 1, &p[2]);
            s->tex_fetch(s->tex_ctx, pd, &idx[3], 1, &p[3]);
        }
        xs_tex_decode(s, p[0], srgb, a);
        xs_tex_decode(s, p[1], srgb, b);
        xs_tex_decode(s, p[2], srgb, c);
        xs_tex_decode(s, p[3], srgb, d);
    } else
#endif
    {
        xs_texel(s, t, lv, ix, iy, srgb, a);
        xs_texel(s, t, lv, ix + 1, iy, srgb, b);
        xs_texel(s, t, lv, ix, iy + 1, srgb, c);
        xs_texel(s, t, lv, ix + 1, iy + 1, srgb, d);
    }
    for (int k = 0; k < 4; ++k)
        out[k] = (a[k] * (1.0f - ax) + b[k] * ax) * (1.0f - ay) + (c[k] * (1.0f - ax) + d[k] * ax) * ay;
}

/* RGBA at uv through a material's slot; colours decoded from sRGB when
 * srgb. The level: log2 of the footprint in texels of level 0 (through the
 * slot's transform), trilinear between the two levels around it. */
XS_DEVICE void xs_tex_sample(const xs_scene_view *s, const xs_texslot *slot, const xs_uv *uv,
                             bool srgb, float *out)
{
    const xs_texture *t = &s->textures[slot->tex];
    int k = slot->texcoord & 1;
    float u = uv->u[k], v = uv->v[k];
    float tu = slot->m[0] * u + slot->m[1] * v + slot->m[2];
    float tv = slot->m[3] * u + slot->m[4] * v + slot->m[5];
    float lod = 0.0f;
    if (uv->fp[k] > 0.0f && t->levels > 1u) {
        float det = fabsf(slot->m[0] * slot->m[4] - slot->m[1] * slot->m[3]);
        float w = uv->fp[k] * sqrtf(det * (float)t->width * (float)t->height);
        lod = w > 1.0f ? log2f(w) : 0.0f;
        float top = (float)(t->levels - 1u);
        lod = lod < top ? lod : top;
    }
    const xs_tex_level *lv = &s->tex_levels[t->level0];
    if (lod == 0.0f && (t->flags & XS_TEX_NEAREST) != 0u) {
        float fx = tu * (float)lv->width - 0.5f, fy = tv * (float)lv->height - 0.5f;
        xs_texel(s, t, lv, (int)floorf(fx + 0.5f), (int)floorf(fy + 0.5f), srgb, out);
        return;
    }
    int l0 = (int)lod;
    float f = lod - (float)l0;
    xs_tex_bilinear(s, t, lv + l0, tu, tv, srgb, out);
    if (f > 0.0f && l0 + 1 < (int)t->levels) {
        float hi[4];
        xs_tex_bilinear(s, t, lv + l0 + 1, tu, tv, srgb, hi);
        for (int c = 0; c < 4; ++c)
            out[c] = out[c] * (1.0f - f) + hi[c] * f;
    }
}

/* Alpha of a material at uv (base colour alpha times its texture's). */
XS_DEVICE float xs_material_alpha(const xs_scene_view *s, const xs_material *m, const xs_uv *uv)
{
    float a = m->alpha;
    if (m->base_tex.tex >= 0) {
        float t[4];
        xs_tex_sample(s, &m->base_tex, uv, true, t);
        a *= t[3];
    }
    return a;
}

/* A colour factor times its texture (sRGB-decoded) at uv, when there is one. */
XS_DEVICE xs_vec3 xs_textured(const xs_scene_view *s, xs_vec3 factor, const xs_texslot *slot,
                              const xs_uv *uv)
{
    if (slot->tex < 0)
        return factor;
    float t[4];
    xs_tex_sample(s, slot, uv, true, t);
    return xs_mul(factor, xs_v3(t[0], t[1], t[2]));
}

XS_DEVICE xs_vec3 xs_emission_at_uv(const xs_scene_view *s, const xs_material *m, const xs_uv *uv)
{
    return xs_textured(s, m->emission, &m->emit_tex, uv);
}

#endif
