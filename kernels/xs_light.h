/* Lights: choosing one by power, sampling a direction towards it, and the
 * solid-angle pdf of reaching it by any other means (for multiple importance
 * sampling). Emissive triangles of every instance, point, spot and
 * directional lights (KHR_lights_punctual; delta lights, light sampling only),
 * and the environment: a constant colour sampled uniformly over the sphere,
 * or an equirectangular image sampled in proportion to luminance x sin(theta)
 * (piecewise constant over its pixels, so the pdf matches the nearest-pixel
 * lookup of xs_env_radiance exactly).
 */
#ifndef XS_LIGHT_H
#define XS_LIGHT_H

#include "kernels/xs_intersect.h"

XS_DEVICE xs_vec3 xs_offset(xs_vec3 p, xs_vec3 n, float eps)
{
    float m = xs_maxf(fabsf(p.x), xs_maxf(fabsf(p.y), fabsf(p.z)));
    return xs_add(p, xs_scale(n, eps * (1.0f + m)));
}

/* The first index i of cdf[0..n) with u < cdf[i] (binary search); cdf ends at 1. */
XS_DEVICE uint32_t xs_cdf_find(const float *cdf, uint32_t n, float u)
{
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (u < cdf[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* xs_world_tri for an instance that moves, or whose mesh deforms, within
 * the shutter: the triangle and the transform at time u. */
XS_COLD void xs_world_tri_moving(const xs_scene_view *s, const xs_instance *in, uint32_t tri, float u, xs_vec3 *v0,
                                 xs_vec3 *e1, xs_vec3 *e2)
{
    const xs_tri t = xs_tri_at(s, &s->meshes[in->mesh], tri, u);
    const float *xf = in->xf;
    float xb[12];
    if ((in->flags & XS_INST_MOTION) != 0u) {
        xs_motion_xf_at(&s->motion_xf[in->motion], s->motion_steps, u, xb);
        xf = xb;
    }
    *v0 = xs_xf_point(xf, t.v0);
    *e1 = xs_xf_dir(xf, t.e1);
    *e2 = xs_xf_dir(xf, t.e2);
}

/* A triangle of an instance in world space at time u: v0, edges, and the
 * unnormalised normal of its front side (glTF: a mirroring transform
 * reverses winding, so the front is the object-space front carried by the
 * inverse transpose). */
XS_DEVICE void xs_world_tri(const xs_scene_view *s, uint32_t inst, uint32_t tri, float u, xs_vec3 *v0,
                            xs_vec3 *e1, xs_vec3 *e2, xs_vec3 *ng)
{
    const xs_instance *in = &s->instances[inst];
    if (s->motion_steps >= 2u &&
        ((in->flags & XS_INST_MOTION) != 0u || s->meshes[in->mesh].motion != UINT32_MAX)) {
        xs_world_tri_moving(s, in, tri, u, v0, e1, e2);
    } else {
        const xs_wtri *t = &s->tris[tri];
        const xs_vec3 a = xs_v3_load(t->v0);
        const xs_vec3 b = xs_sub(xs_v3_load(t->v1), a), c = xs_sub(xs_v3_load(t->v2), a);
        if ((in->flags & XS_INST_IDENTITY) != 0u) {
            *v0 = a;
            *e1 = b;
            *e2 = c;
        } else {
            *v0 = xs_xf_point(in->xf, a);
            *e1 = xs_xf_dir(in->xf, b);
            *e2 = xs_xf_dir(in->xf, c);
        }
    }
    *ng = xs_cross(*e1, *e2);
    if ((in->flags & XS_INST_FLIPPED) != 0u)
        *ng = xs_neg(*ng);
}

XS_DEVICE xs_vec3 xs_env_dir(float u, float v)
{
    float theta = v * XS_PI, phi = (u - 0.5f) * 2.0f * XS_PI;
    float st = sinf(theta);
    return xs_v3(st * sinf(phi), cosf(theta), -st * cosf(phi));
}

XS_DEVICE void xs_env_uv(xs_vec3 d, float *u, float *v)
{
    *u = 0.5f + atan2f(d.x, -d.z) * (0.5f * XS_INV_PI);
    *v = acosf(xs_maxf(-1.0f, xs_minf(1.0f, d.y))) * XS_INV_PI;
}

XS_DEVICE void xs_env_pixel(const xs_scene_view *s, xs_vec3 d, int *x, int *y)
{
    float u, v;
    xs_env_uv(d, &u, &v);
    int ix = (int)(u * (float)s->env_w), iy = (int)(v * (float)s->env_h);
    *x = ix < 0 ? 0 : (ix >= s->env_w ? s->env_w - 1 : ix);
    *y = iy < 0 ? 0 : (iy >= s->env_h ? s->env_h - 1 : iy);
}

XS_DEVICE xs_vec3 xs_env_radiance(const xs_scene_view *s, xs_vec3 d)
{
    if (!s->env)
        return s->background;
    int x, y;
    xs_env_pixel(s, d, &x, &y);
    const float *p = s->env + ((size_t)y * (size_t)s->env_w + (size_t)x) * 3u;
    return xs_mul(s->background, xs_v3(p[0], p[1], p[2]));
}

/* Solid-angle density of the environment's own sampling in direction d. */
XS_DEVICE float xs_env_pdf(const xs_scene_view *s, xs_vec3 d)
{
    if (!s->env)
        return 1.0f / (4.0f * XS_PI);
    if (!(s->env_func_int > 0.0f))
        return 0.0f;
    int x, y;
    xs_env_pixel(s, d, &x, &y);
    const float *row = s->env_col_cdf + (size_t)y * (size_t)(s->env_w + 1);
    float prow = s->env_row_cdf[y + 1] - s->env_row_cdf[y];
    float pcol = row[x + 1] - row[x];
    float st = sqrtf(xs_maxf(0.0f, 1.0f - d.y * d.y));
    if (!(st > 0.0f))
        return 0.0f;
    /* density on the unit square: prow * pcol * w * h; Jacobian 2 pi^2 sin */
    return prow * pcol * (float)s->env_w * (float)s->env_h / (2.0f * XS_PI * XS_PI * st);
}

XS_DEVICE bool xs_env_sample(const xs_scene_view *s, float u1, float u2, xs_vec3 *wi, float *pdf)
{
    if (!s->env) {
        float z = 1.0f - 2.0f * u1, r = sqrtf(xs_maxf(0.0f, 1.0f - z * z)), phi = 2.0f * XS_PI * u2;
        *wi = xs_v3(r * cosf(phi), z, r * sinf(phi));
        *pdf = 1.0f / (4.0f * XS_PI);
        return true;
    }
    if (!(s->env_func_int > 0.0f))
        return false;
    uint32_t y = xs_cdf_find(s->env_row_cdf + 1, (uint32_t)s->env_h, u2);
    float r0 = s->env_row_cdf[y], r1 = s->env_row_cdf[y + 1];
    float fy = r1 > r0 ? (u2 - r0) / (r1 - r0) : 0.5f;
    const float *row = s->env_col_cdf + (size_t)y * (size_t)(s->env_w + 1);
    uint32_t x = xs_cdf_find(row + 1, (uint32_t)s->env_w, u1);
    float c0 = row[x], c1 = row[x + 1];
    float fx = c1 > c0 ? (u1 - c0) / (c1 - c0) : 0.5f;
    fx = xs_minf(fx, 0.9999f);
    fy = xs_minf(fy, 0.9999f);
    float u = ((float)x + fx) / (float)s->env_w, v = ((float)y + fy) / (float)s->env_h;
    *wi = xs_env_dir(u, v);
    *pdf = xs_env_pdf(s, *wi);
    return *pdf > 0.0f;
}

/* A direction towards one light chosen by power. */
typedef struct xs_light_sample {
    xs_vec3 wi;
    float dist;   /* to the light's point; INFINITY for directional and environment */
    xs_vec3 L;    /* radiance (area, environment) or intensity x attenuation (delta) */
    float pdf;    /* solid angle, light choice included; for delta lights the pmf */
    bool delta;
} xs_light_sample;

XS_DEVICE bool xs_light_sample_at(const xs_scene_view *s, xs_vec3 p, float time, float ul, float u1,
                                  float u2, xs_light_sample *ls)
{
    if (s->light_count == 0)
        return false;
    uint32_t li = xs_cdf_find(s->light_cdf, s->light_count, ul);
    const xs_light *L = &s->lights[li];
    float pmf = s->light_pmf[li];
    if (!(pmf > 0.0f))
        return false;
    ls->delta = false;
    if (L->type == XS_LIGHT_TRI) {
        xs_vec3 v0, e1, e2, ng;
        xs_world_tri(s, L->instance, L->tri, time, &v0, &e1, &e2, &ng);
        float su = sqrtf(u1);
        float b1 = 1.0f - su, b2 = u2 * su;
        xs_vec3 lp = xs_add(v0, xs_add(xs_scale(e1, b1), xs_scale(e2, b2)));
        float area2 = xs_length(ng);
        if (!(area2 > 0.0f))
            return false;
        xs_vec3 ln = xs_scale(ng, 1.0f / area2);
        xs_vec3 d = xs_sub(lp, p);
        float dist2 = xs_dot(d, d);
        if (!(dist2 > 0.0f))
            return false;
        float dist = sqrtf(dist2);
        ls->wi = xs_scale(d, 1.0f / dist);
        const xs_tri_attr *at = &s->attrs[L->tri];
        const xs_material *m = &s->materials[at->material];
        float cos_l = -xs_dot(ln, ls->wi);
        if ((m->flags & XS_MAT_EMIT_TWO_SIDED) != 0u)
            cos_l = fabsf(cos_l);
        if (cos_l <= 0.0f)
            return false;
        if (m->emit_tex.tex >= 0) { /* the coordinates only for a texture (most lights have none) */
            const xs_uv uv = xs_tri_uv(at, b1, b2);
            const xs_lod none = xs_lod_none();
            ls->L = xs_textured(s, m->emission, &m->emit_tex, &uv, &none);
        } else {
            ls->L = m->emission;
        }
        ls->dist = dist;
        ls->pdf = pmf * dist2 / (cos_l * 0.5f * area2);
        return true;
    }
    if (L->type == XS_LIGHT_ENV) {
        float pdf;
        if (!xs_env_sample(s, u1, u2, &ls->wi, &pdf))
            return false;
        ls->L = xs_env_radiance(s, ls->wi);
        ls->dist = INFINITY;
        ls->pdf = pmf * pdf;
        return true;
    }
    ls->delta = true;
    ls->pdf = pmf;
    if (L->type == XS_LIGHT_DIR) {
        ls->wi = xs_neg(L->dir);
        ls->dist = INFINITY;
        ls->L = L->intensity;
        return true;
    }
    xs_vec3 d = xs_sub(L->pos, p);
    float dist2 = xs_dot(d, d);
    if (!(dist2 > 0.0f))
        return false;
    float dist = sqrtf(dist2);
    ls->wi = xs_scale(d, 1.0f / dist);
    ls->dist = dist;
    float att = 1.0f / dist2;
    if (L->range > 0.0f) {
        float r = dist / L->range, r4 = r * r * r * r;
        att *= xs_maxf(0.0f, xs_minf(1.0f, 1.0f - r4));
    }
    if (L->type == XS_LIGHT_SPOT) {
        float cd = -xs_dot(ls->wi, L->dir);
        float k = (cd - L->cos_outer) / xs_maxf(1e-4f, L->cos_inner - L->cos_outer);
        k = xs_maxf(0.0f, xs_minf(1.0f, k));
        att *= k * k;
    }
    if (!(att > 0.0f))
        return false;
    ls->L = xs_scale(L->intensity, att);
    return true;
}

/* Solid-angle pdf, light choice included, with which light sampling from p
 * would have produced the hit on emissive triangle (instance, tri) at
 * distance t along unit direction d, at time `time`. */
XS_DEVICE float xs_light_pdf_tri(const xs_scene_view *s, uint32_t instance, uint32_t tri,
                                 xs_vec3 d, float t, float time)
{
    uint32_t base = s->inst_light_base[instance], local = s->tri_light[tri];
    if (base == UINT32_MAX || local == UINT32_MAX)
        return 0.0f;
    float pmf = s->light_pmf[base + local];
    xs_vec3 v0, e1, e2, ng;
    xs_world_tri(s, instance, tri, time, &v0, &e1, &e2, &ng);
    float area2 = xs_length(ng);
    if (!(area2 > 0.0f))
        return 0.0f;
    float cos_l = fabsf(xs_dot(ng, d)) / area2;
    if (!(cos_l > 0.0f))
        return 0.0f;
    return pmf * t * t / (cos_l * 0.5f * area2);
}

XS_DEVICE float xs_light_pdf_env(const xs_scene_view *s, xs_vec3 d)
{
    if (s->env_light == UINT32_MAX)
        return 0.0f;
    return s->light_pmf[s->env_light] * xs_env_pdf(s, d);
}

#endif
