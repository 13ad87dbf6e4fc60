/* The path tracer: one pixel's samples, and the loop over a block of a tile's
 * rows. Diffuse surfaces (glTF base colour and its texture), emission
 * (emissive factor x strength x texture), next-event estimation to one light
 * chosen by power (emissive triangles of every instance, point, spot and
 * directional lights), cosine-weighted bounces, Russian roulette, and a
 * constant or equirectangular environment for escaping rays.
 *
 * Estimator: emission is added where a camera ray hits a light directly;
 * after a bounce, direct light comes only from next-event estimation (so it is
 * never counted twice) and escaping rays add the environment, which NEE does
 * not sample. A pixel's value is the mean of its samples, accumulated in sample
 * order, so it depends on (seed, frame, pixel, sample) alone. Metallic,
 * roughness, transmission and IOR are carried in xs_material but shaded as
 * diffuse until the light-transport issue lands.
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

/* A triangle of an instance in world space: v0, edges, unnormalised normal
 * facing its front side. */
XS_DEVICE void xs_world_tri(const xs_scene_view *s, uint32_t inst, uint32_t tri, xs_vec3 *v0,
                            xs_vec3 *e1, xs_vec3 *e2, xs_vec3 *ng)
{
    const xs_instance *in = &s->instances[inst];
    const xs_tri *t = &s->tris[tri];
    *v0 = xs_xf_point(in->xf, t->v0);
    *e1 = xs_xf_dir(in->xf, t->e1);
    *e2 = xs_xf_dir(in->xf, t->e2);
    *ng = xs_cross(*e1, *e2);
    if ((in->flags & XS_INST_FLIPPED) != 0u)
        *ng = xs_neg(*ng);
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

XS_DEVICE xs_vec3 xs_emission_at(const xs_scene_view *s, const xs_material *m, const xs_uv *uv)
{
    return xs_textured(s, m->emission, &m->emit_tex, uv);
}

XS_DEVICE xs_vec3 xs_albedo_at(const xs_scene_view *s, const xs_material *m, const xs_uv *uv)
{
    return xs_textured(s, m->albedo, &m->base_tex, uv);
}

XS_DEVICE xs_vec3 xs_env_radiance(const xs_scene_view *s, xs_vec3 d)
{
    if (!s->env)
        return s->background;
    /* equirectangular: u around +y starting at -z, v from +y down */
    float u = 0.5f + atan2f(d.x, -d.z) * (0.5f * XS_INV_PI);
    float v = acosf(xs_maxf(-1.0f, xs_minf(1.0f, d.y))) * XS_INV_PI;
    int x = (int)(u * (float)s->env_w), y = (int)(v * (float)s->env_h);
    x = x < 0 ? 0 : (x >= s->env_w ? s->env_w - 1 : x);
    y = y < 0 ? 0 : (y >= s->env_h ? s->env_h - 1 : y);
    const float *p = s->env + ((size_t)y * (size_t)s->env_w + (size_t)x) * 3u;
    return xs_mul(s->background, xs_v3(p[0], p[1], p[2]));
}

XS_DEVICE bool xs_occluded(const xs_scene_view *s, xs_vec3 p, xs_vec3 n, xs_vec3 target,
                           bool to_infinity, xs_vec3 wi, xs_counters *c)
{
    xs_ray sr;
    sr.o = xs_offset(p, n, s->ray_eps);
    if (to_infinity) {
        sr.d = wi;
        sr.tmax = INFINITY;
    } else {
        xs_vec3 d2 = xs_sub(target, sr.o);
        float len = xs_length(d2);
        sr.d = xs_scale(d2, 1.0f / len);
        sr.tmax = len * (1.0f - 1e-4f);
    }
    xs_hit h;
    c->shadow_rays++;
    return xs_trace(s, &sr, true, &h, c);
}

/* Direct light at p (shading normal n) from one light chosen by power, with a
 * shadow ray: returns Li * cos / pdf (the caller multiplies by the BSDF). */
XS_DEVICE xs_vec3 xs_sample_direct(const xs_scene_view *s, xs_vec3 p, xs_vec3 n, xs_rng *rng,
                                   xs_counters *c)
{
    float ul = xs_rng_float(rng), u1 = xs_rng_float(rng), u2 = xs_rng_float(rng);
    xs_vec3 zero = xs_v3(0.0f, 0.0f, 0.0f);
    if (s->light_count == 0)
        return zero;
    uint32_t li = xs_pick_light(s, ul);
    const xs_light *L = &s->lights[li];
    float pmf = s->light_pmf[li];
    if (!(pmf > 0.0f))
        return zero;
    if (L->type == XS_LIGHT_TRI) {
        xs_vec3 v0, e1, e2, ng;
        xs_world_tri(s, L->instance, L->tri, &v0, &e1, &e2, &ng);
        float su = sqrtf(u1);
        float b1 = 1.0f - su, b2 = u2 * su;
        xs_vec3 lp = xs_add(v0, xs_add(xs_scale(e1, b1), xs_scale(e2, b2)));
        float area2 = xs_length(ng); /* twice the area */
        if (!(area2 > 0.0f))
            return zero;
        xs_vec3 ln = xs_scale(ng, 1.0f / area2);
        xs_vec3 d = xs_sub(lp, p);
        float dist2 = xs_dot(d, d);
        if (!(dist2 > 0.0f))
            return zero;
        xs_vec3 wi = xs_scale(d, 1.0f / sqrtf(dist2));
        const xs_tri_attr *at = &s->attrs[L->tri];
        const xs_material *m = &s->materials[at->material];
        float cos_s = xs_dot(n, wi), cos_l = -xs_dot(ln, wi);
        if ((m->flags & XS_MAT_EMIT_TWO_SIDED) != 0u)
            cos_l = fabsf(cos_l);
        if (cos_s <= 0.0f || cos_l <= 0.0f)
            return zero;
        if (xs_occluded(s, p, n, lp, false, wi, c))
            return zero;
        xs_uv uv = xs_tri_uv(at, b1, b2);
        /* pdf in area measure: pmf / area; to solid angle: * dist2 / cos_l */
        float w = cos_s * cos_l * (0.5f * area2) / (dist2 * pmf);
        return xs_scale(xs_emission_at(s, m, &uv), w);
    }
    if (L->type == XS_LIGHT_DIR) {
        xs_vec3 wi = xs_neg(L->dir);
        float cos_s = xs_dot(n, wi);
        if (cos_s <= 0.0f || xs_occluded(s, p, n, zero, true, wi, c))
            return zero;
        return xs_scale(L->intensity, cos_s / pmf);
    }
    /* point and spot */
    xs_vec3 d = xs_sub(L->pos, p);
    float dist2 = xs_dot(d, d);
    if (!(dist2 > 0.0f))
        return zero;
    float dist = sqrtf(dist2);
    xs_vec3 wi = xs_scale(d, 1.0f / dist);
    float cos_s = xs_dot(n, wi);
    if (cos_s <= 0.0f)
        return zero;
    float att = 1.0f / dist2;
    if (L->range > 0.0f) {
        float r = dist / L->range, r4 = r * r * r * r;
        att *= xs_maxf(0.0f, xs_minf(1.0f, 1.0f - r4));
    }
    if (L->type == XS_LIGHT_SPOT) {
        float cd = -xs_dot(wi, L->dir);
        float k = (cd - L->cos_outer) / xs_maxf(1e-4f, L->cos_inner - L->cos_outer);
        k = xs_maxf(0.0f, xs_minf(1.0f, k));
        att *= k * k;
    }
    if (!(att > 0.0f) || xs_occluded(s, p, n, L->pos, false, wi, c))
        return zero;
    return xs_scale(L->intensity, att * cos_s / pmf);
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
            L = xs_add(L, xs_mul(T, xs_env_radiance(s, ray.d)));
            break;
        }
        if (bounce == 0)
            *alpha = 1.0f;
        const xs_tri_attr *at = &s->attrs[h.tri];
        const xs_material *m = &s->materials[at->material];
        const xs_instance *in = &s->instances[h.instance];
        const xs_tri *t = &s->tris[h.tri];
        xs_vec3 ng = xs_normalize(xs_xf_normal(in->inv, xs_cross(t->e1, t->e2)));
        if ((in->flags & XS_INST_FLIPPED) != 0u)
            ng = xs_neg(ng);
        bool front = xs_dot(ng, ray.d) < 0.0f;
        xs_uv uv = xs_tri_uv(at, h.u, h.v);
        if (bounce == 0 && (front || (m->flags & XS_MAT_EMIT_TWO_SIDED) != 0u))
            L = xs_add(L, xs_mul(T, xs_emission_at(s, m, &uv)));
        if (bounce >= tp->max_bounces)
            break;
        xs_vec3 n = front ? ng : xs_neg(ng);
        xs_vec3 p = xs_add(ray.o, xs_scale(ray.d, h.t));
        xs_vec3 albedo = xs_albedo_at(s, m, &uv);
        if (xs_max3(albedo) <= 0.0f)
            break;
        xs_vec3 f = xs_scale(albedo, XS_INV_PI);
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
        T = xs_mul(T, albedo);
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
