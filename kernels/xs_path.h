/* The path tracer: one pixel's samples, and the loop over a block of a tile's
 * rows. Diffuse and emissive surfaces, next-event estimation to emissive
 * triangles chosen by power, cosine-weighted bounces, Russian roulette.
 *
 * Estimator: emission is added where a camera ray hits a light directly;
 * after a diffuse bounce, direct light comes only from next-event estimation
 * (so it is never counted twice) and escaping rays add the background, which
 * NEE does not sample. A pixel's value is the mean of its samples, accumulated
 * in sample order, so it depends on (seed, frame, pixel, sample) alone.
 */
#ifndef XS_PATH_H
#define XS_PATH_H

#include "kernels/xs_intersect.h"
#include "kernels/xs_rng.h"

XS_DEVICE xs_vec3 xs_offset(xs_vec3 p, xs_vec3 n, float eps)
{
    float m = xs_maxf(fabsf(p.x), xs_maxf(fabsf(p.y), fabsf(p.z)));
    return xs_add(p, xs_scale(n, eps * (1.0f + m)));
}

/* Index of the light whose CDF interval holds u (binary search). */
XS_DEVICE uint32_t xs_pick_light(const xs_scene_view *s, float u)
{
    uint32_t lo = 0, hi = s->light_count - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (u < s->light_cdf[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Geometric normal (unnormalised cross product) of a triangle. */
XS_DEVICE xs_vec3 xs_tri_ng(const xs_tri *t) { return xs_cross(t->e1, t->e2); }

/* Direct light at p (shading normal n) from one emissive triangle chosen by
 * power, with a shadow ray. Returns the unweighted-by-albedo estimate
 * Le * cos * G / pdf (the caller multiplies by albedo / pi). */
XS_DEVICE xs_vec3 xs_sample_direct(const xs_scene_view *s, xs_vec3 p, xs_vec3 n, xs_rng *rng,
                                   xs_counters *c)
{
    float ul = xs_rng_float(rng), u1 = xs_rng_float(rng), u2 = xs_rng_float(rng);
    if (s->light_count == 0)
        return xs_v3(0.0f, 0.0f, 0.0f);
    uint32_t li = xs_pick_light(s, ul);
    uint32_t ti = s->light_tris[li];
    const xs_tri *t = &s->tris[ti];
    const xs_material *m = &s->materials[s->tri_material[ti]];
    /* uniform point on the triangle */
    float su = sqrtf(u1);
    float b1 = 1.0f - su, b2 = u2 * su;
    xs_vec3 lp = xs_add(t->v0, xs_add(xs_scale(t->e1, b1), xs_scale(t->e2, b2)));
    xs_vec3 ng = xs_tri_ng(t);
    float area2 = xs_length(ng); /* twice the area */
    if (!(area2 > 0.0f))
        return xs_v3(0.0f, 0.0f, 0.0f);
    xs_vec3 ln = xs_scale(ng, 1.0f / area2);
    xs_vec3 d = xs_sub(lp, p);
    float dist2 = xs_dot(d, d);
    if (!(dist2 > 0.0f))
        return xs_v3(0.0f, 0.0f, 0.0f);
    float dist = sqrtf(dist2);
    xs_vec3 wi = xs_scale(d, 1.0f / dist);
    float cos_s = xs_dot(n, wi);
    float cos_l = -xs_dot(ln, wi);
    if ((m->flags & XS_MAT_EMIT_TWO_SIDED) != 0u)
        cos_l = fabsf(cos_l);
    if (cos_s <= 0.0f || cos_l <= 0.0f)
        return xs_v3(0.0f, 0.0f, 0.0f);
    xs_ray sr;
    sr.o = xs_offset(p, n, s->ray_eps);
    xs_vec3 d2 = xs_sub(lp, sr.o);
    float len2 = xs_length(d2);
    sr.d = xs_scale(d2, 1.0f / len2);
    sr.tmax = len2 * (1.0f - 1e-4f);
    xs_hit h;
    c->shadow_rays++;
    if (xs_trace(s, &sr, true, &h, c))
        return xs_v3(0.0f, 0.0f, 0.0f);
    /* pdf in area measure: pmf / area; convert to solid angle: * dist2 / cos_l */
    float pdf_area = s->light_pmf[li] / (0.5f * area2);
    float w = cos_s * cos_l / (dist2 * pdf_area);
    return xs_scale(m->emission, w);
}

/* Radiance along one camera sample; writes alpha (1 when the camera ray hit). */
XS_DEVICE xs_vec3 xs_trace_path(const xs_scene_view *s, const xs_tile_params *tp, xs_ray ray,
                                xs_rng *rng, float *alpha, xs_counters *c)
{
    xs_vec3 L = xs_v3(0.0f, 0.0f, 0.0f);
    xs_vec3 T = xs_v3(1.0f, 1.0f, 1.0f);
    *alpha = 0.0f;
    for (int bounce = 0;; ++bounce) {
        xs_hit h;
        if (bounce == 0)
            c->camera_rays++;
        else
            c->bounce_rays++;
        if (!xs_trace(s, &ray, false, &h, c)) {
            L = xs_add(L, xs_mul(T, s->background));
            break;
        }
        if (bounce == 0)
            *alpha = 1.0f;
        const xs_tri *t = &s->tris[h.tri];
        const xs_material *m = &s->materials[s->tri_material[h.tri]];
        xs_vec3 ng = xs_normalize(xs_tri_ng(t));
        float cos_o = -xs_dot(ng, ray.d);
        bool front = cos_o > 0.0f;
        if (bounce == 0 && (front || (m->flags & XS_MAT_EMIT_TWO_SIDED) != 0u))
            L = xs_add(L, xs_mul(T, m->emission));
        if (bounce >= tp->max_bounces)
            break;
        xs_vec3 n = front ? ng : xs_neg(ng);
        xs_vec3 p = xs_add(ray.o, xs_scale(ray.d, h.t));
        xs_vec3 f = xs_scale(m->albedo, XS_INV_PI);
        if (xs_max3(m->albedo) <= 0.0f)
            break;
        /* next-event estimation */
        xs_vec3 Ld = xs_sample_direct(s, p, n, rng, c);
        L = xs_add(L, xs_mul(T, xs_mul(f, Ld)));
        /* cosine-weighted bounce: f * cos / pdf = albedo */
        float u1 = xs_rng_float(rng), u2 = xs_rng_float(rng);
        float r = sqrtf(u1), phi = 2.0f * XS_PI * u2;
        float lx = r * cosf(phi), ly = r * sinf(phi), lz = sqrtf(xs_maxf(0.0f, 1.0f - u1));
        xs_vec3 tx, ty;
        xs_onb(n, &tx, &ty);
        xs_vec3 wi = xs_add(xs_add(xs_scale(tx, lx), xs_scale(ty, ly)), xs_scale(n, lz));
        T = xs_mul(T, m->albedo);
        /* Russian roulette */
        float ur = xs_rng_float(rng);
        if (bounce + 1 >= tp->rr_start) {
            float q = xs_minf(0.95f, xs_max3(T));
            if (ur >= q)
                break;
            T = xs_scale(T, 1.0f / q);
        }
        ray.o = xs_offset(p, n, s->ray_eps);
        ray.d = xs_normalize(wi);
        ray.tmax = INFINITY;
    }
    return L;
}

/* The camera ray through frame pixel (px + jx, py + jy), y down. */
XS_DEVICE xs_ray xs_camera_ray(const xs_camera *cam, int fw, int fh, float fx, float fy)
{
    float sx = (2.0f * fx / (float)fw - 1.0f) * cam->tan_half_fovy * cam->aspect;
    float sy = (1.0f - 2.0f * fy / (float)fh) * cam->tan_half_fovy;
    xs_ray r;
    r.o = cam->pos;
    r.d = xs_normalize(xs_add(cam->fwd, xs_add(xs_scale(cam->right, sx), xs_scale(cam->up, sy))));
    r.tmax = INFINITY;
    return r;
}

/* Renders frame pixel (px, py): out receives RGBA, the mean of spp samples. */
XS_DEVICE void xs_render_pixel(const xs_scene_view *s, const xs_tile_params *tp, int px, int py,
                               float *out, xs_counters *c)
{
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int k = 0; k < tp->spp; ++k) {
        xs_rng rng = xs_rng_init(tp->seed, tp->frame, (uint32_t)px, (uint32_t)py, (uint32_t)k);
        float jx = xs_rng_float(&rng), jy = xs_rng_float(&rng);
        xs_ray ray = xs_camera_ray(&s->camera, tp->frame_width, tp->frame_height,
                                   (float)px + jx, (float)py + jy);
        float a;
        xs_vec3 L = xs_trace_path(s, tp, ray, &rng, &a, c);
        if (!(isfinite(L.x) && isfinite(L.y) && isfinite(L.z))) {
            c->nonfinite++;
            continue;
        }
        acc[0] += L.x;
        acc[1] += L.y;
        acc[2] += L.z;
        acc[3] += a;
    }
    float inv = 1.0f / (float)tp->spp;
    out[0] = acc[0] * inv;
    out[1] = acc[1] * inv;
    out[2] = acc[2] * inv;
    out[3] = acc[3] * inv;
}

/* Renders tile rows [row_begin, row_end) into rgba (the tile's own buffer,
 * width*height*4 floats, row-major). */
XS_DEVICE void xs_render_rows(const xs_scene_view *s, const xs_tile_params *tp, int row_begin,
                              int row_end, float *XS_RESTRICT rgba, xs_counters *c)
{
    for (int y = row_begin; y < row_end; ++y)
        for (int x = 0; x < tp->width; ++x)
            xs_render_pixel(s, tp, tp->x0 + x, tp->y0 + y,
                            rgba + ((size_t)y * (size_t)tp->width + (size_t)x) * 4u, c);
}

#endif
