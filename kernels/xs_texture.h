/* Texture lookups: bilinear (or nearest) filtering of RGBA8 texels with
 * glTF's wrap modes, KHR_texture_transform, and sRGB decoding for colours. */
#ifndef XS_TEXTURE_H
#define XS_TEXTURE_H

#include "kernels/xs_types.h"

/* Interpolated texture coordinates (set 0 and 1) at barycentrics (b1, b2). */
typedef struct xs_uv {
    float u[2], v[2];
} xs_uv;

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

XS_DEVICE void xs_texel(const xs_scene_view *s, const xs_texture *t, int x, int y, bool srgb,
                        float *out)
{
    x = xs_wrap(x, (int)t->width, (t->flags & XS_TEX_CLAMP_S) != 0u, (t->flags & XS_TEX_MIRROR_S) != 0u);
    y = xs_wrap(y, (int)t->height, (t->flags & XS_TEX_CLAMP_T) != 0u, (t->flags & XS_TEX_MIRROR_T) != 0u);
    uint32_t p = s->texels[t->offset + (uint32_t)y * t->width + (uint32_t)x];
    for (int c = 0; c < 3; ++c) {
        uint32_t b = (p >> (8 * c)) & 255u;
        out[c] = srgb ? s->srgb_to_linear[b] : (float)b * (1.0f / 255.0f);
    }
    out[3] = (float)(p >> 24) * (1.0f / 255.0f);
}

/* RGBA at uv through a material's slot; colours decoded from sRGB when srgb. */
XS_DEVICE void xs_tex_sample(const xs_scene_view *s, const xs_texslot *slot, const xs_uv *uv,
                             bool srgb, float *out)
{
    const xs_texture *t = &s->textures[slot->tex];
    float u = uv->u[slot->texcoord & 1], v = uv->v[slot->texcoord & 1];
    float tu = slot->m[0] * u + slot->m[1] * v + slot->m[2];
    float tv = slot->m[3] * u + slot->m[4] * v + slot->m[5];
    float fx = tu * (float)t->width - 0.5f, fy = tv * (float)t->height - 0.5f;
    if ((t->flags & XS_TEX_NEAREST) != 0u) {
        xs_texel(s, t, (int)floorf(fx + 0.5f), (int)floorf(fy + 0.5f), srgb, out);
        return;
    }
    float x0 = floorf(fx), y0 = floorf(fy);
    float ax = fx - x0, ay = fy - y0;
    int ix = (int)x0, iy = (int)y0;
    float a[4], b[4], c[4], d[4];
    xs_texel(s, t, ix, iy, srgb, a);
    xs_texel(s, t, ix + 1, iy, srgb, b);
    xs_texel(s, t, ix, iy + 1, srgb, c);
    xs_texel(s, t, ix + 1, iy + 1, srgb, d);
    for (int k = 0; k < 4; ++k)
        out[k] = (a[k] * (1.0f - ax) + b[k] * ax) * (1.0f - ay) + (c[k] * (1.0f - ax) + d[k] * ax) * ay;
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
