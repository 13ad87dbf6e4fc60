/* The path tracer: one pixel's samples, and the loop over a block of a tile's
 * rows.
 *
 * Estimator: a unidirectional path tracer with next-event estimation and
 * multiple importance sampling (power heuristic) between BSDF sampling and
 * light sampling, for emissive triangles and the environment; punctual lights
 * are delta lights, reached by light sampling only. Materials are the glTF
 * metallic-roughness BSDF (xs_bsdf.h) with textured base colour,
 * metallic-roughness, emission, normal maps and alpha mask. Russian roulette
 * from bounce rr_start, a bounce limit, optional clamping of indirect light.
 *
 * Sampling: each sample draws its dimensions from the Owen-scrambled Sobol'
 * sampler (xs_sampler.h) keyed by (seed, frame, pixel, sample). The pixel
 * filter is importance-sampled (the offset is drawn from the filter itself),
 * so every sample lands in exactly one pixel with weight 1 and a pixel is the
 * plain mean of its samples: tiles never see each other's samples, and there
 * are no seams between them.
 *
 * Output per pixel (xs_aov_channels(tp->aovs) floats): RGBA, then the AOVs tp->aovs asks
 * for, in XS_AOV_* order.
 */
#ifndef XS_PATH_H
#define XS_PATH_H

#include "kernels/xs_bsdf.h"
#include "kernels/xs_light.h"
#include "kernels/xs_sampler.h"

XS_DEVICE float xs_power_heuristic(float a, float b)
{
    float a2 = a * a, b2 = b * b;
    return a2 + b2 > 0.0f ? a2 / (a2 + b2) : 0.0f;
}

XS_DEVICE bool xs_occluded(const xs_scene_view *s, xs_vec3 p, xs_vec3 n, xs_vec3 wi, float dist,
                           xs_counters *c)
{
    xs_ray sr;
    sr.o = xs_offset(p, n, s->ray_eps);
    sr.d = wi;
    sr.tmax = dist == INFINITY ? INFINITY : xs_length(xs_sub(xs_add(p, xs_scale(wi, dist)), sr.o)) * (1.0f - 1e-4f);
    xs_hit h;
    c->shadow_rays++;
    return xs_trace(s, &sr, true, &h, c);
}

/* Everything shading needs at a hit. */
typedef struct xs_surface {
    xs_vec3 p;
    xs_vec3 ng;      /* geometric normal on the side the ray came from */
    xs_vec3 ns;      /* shading normal, same side */
    xs_vec3 tx, ty;  /* shading frame with ns */
    bool front;      /* the ray hit the front face */
    const xs_material *m;
    xs_uv uv;
    xs_bsdf bsdf;
} xs_surface;

XS_DEVICE xs_vec3 xs_to_local(const xs_surface *sf, xs_vec3 v)
{
    return xs_v3(xs_dot(v, sf->tx), xs_dot(v, sf->ty), xs_dot(v, sf->ns));
}
XS_DEVICE xs_vec3 xs_from_local(const xs_surface *sf, xs_vec3 v)
{
    return xs_add(xs_add(xs_scale(sf->tx, v.x), xs_scale(sf->ty, v.y)), xs_scale(sf->ns, v.z));
}

/* Interpolates an octahedral attribute at barycentrics (b1, b2). */
XS_DEVICE xs_vec3 xs_attr_lerp(const uint32_t *e, float b1, float b2)
{
    xs_vec3 a = xs_oct_decode(e[0]), b = xs_oct_decode(e[1]), c = xs_oct_decode(e[2]);
    return xs_add(xs_add(xs_scale(a, 1.0f - b1 - b2), xs_scale(b, b1)), xs_scale(c, b2));
}

XS_DEVICE void xs_surface_at(const xs_scene_view *s, const xs_ray *ray, const xs_hit *h,
                             xs_surface *sf)
{
    const xs_tri_attr *at = &s->attrs[h->tri];
    const xs_instance *in = &s->instances[h->instance];
    const bool ident = (in->flags & XS_INST_IDENTITY) != 0u;
    const xs_wtri *t = &s->tris[h->tri];
    const xs_material *m = &s->materials[at->material];
    sf->m = m;
    sf->p = xs_add(ray->o, xs_scale(ray->d, h->t));
    sf->uv = xs_tri_uv(at, h->u, h->v);
    const xs_vec3 tv0 = xs_v3_load(t->v0);
    const xs_vec3 onrm = xs_cross(xs_sub(xs_v3_load(t->v1), tv0), xs_sub(xs_v3_load(t->v2), tv0));
    xs_vec3 ng = xs_normalize(ident ? onrm : xs_xf_normal(in->inv, onrm));
    sf->front = xs_dot(ng, ray->d) < 0.0f;
    xs_vec3 ns = ng;
    if ((at->flags & XS_ATTR_NORMALS) != 0u) {
        const xs_vec3 an = xs_attr_lerp(at->n, h->u, h->v);
        xs_vec3 n = xs_normalize(ident ? an : xs_xf_normal(in->inv, an));
        if (xs_dot(n, n) > 0.5f)
            ns = n;
    }
    if (m->normal_tex.tex >= 0 && (at->flags & XS_ATTR_TANGENTS) != 0u) {
        float tx[4];
        xs_tex_sample(s, &m->normal_tex, &sf->uv, false, tx);
        xs_vec3 tn = xs_v3((2.0f * tx[0] - 1.0f) * m->normal_scale,
                           (2.0f * tx[1] - 1.0f) * m->normal_scale, 2.0f * tx[2] - 1.0f);
        const xs_vec3 at_t = xs_attr_lerp(at->t, h->u, h->v);
        xs_vec3 T = ident ? at_t : xs_xf_dir(in->xf, at_t);
        T = xs_sub(T, xs_scale(ns, xs_dot(ns, T))); /* Gram-Schmidt against ns */
        if (xs_dot(T, T) > 1e-12f) {
            T = xs_normalize(T);
            xs_vec3 B = xs_cross(ns, T);
            if ((at->flags & XS_ATTR_BITAN_NEG) != 0u)
                B = xs_neg(B);
            if ((in->flags & XS_INST_FLIPPED) != 0u)
                B = xs_neg(B);
            xs_vec3 n = xs_normalize(xs_add(xs_add(xs_scale(T, tn.x), xs_scale(B, tn.y)),
                                            xs_scale(ns, tn.z)));
            if (xs_dot(n, n) > 0.5f)
                ns = n;
        }
    }
    if (!sf->front) {
        ng = xs_neg(ng);
        ns = xs_neg(ns);
    }
    /* a shading normal facing away from the viewer would leak light: fall back */
    if (xs_dot(ns, ray->d) >= 0.0f)
        ns = ng;
    sf->ng = ng;
    sf->ns = ns;
    xs_onb(ns, &sf->tx, &sf->ty);
    /* material parameters at this point */
    xs_bsdf *b = &sf->bsdf;
    b->base = xs_textured(s, m->albedo, &m->base_tex, &sf->uv);
    float metallic = m->metallic, roughness = m->roughness, trans = m->transmission;
    if (m->mr_tex.tex >= 0) {
        float tm[4];
        xs_tex_sample(s, &m->mr_tex, &sf->uv, false, tm);
        roughness *= tm[1];
        metallic *= tm[2];
    }
    if (m->trans_tex.tex >= 0 && trans > 0.0f) {
        float tt[4];
        xs_tex_sample(s, &m->trans_tex, &sf->uv, false, tt);
        trans *= tt[0];
    }
    b->metallic = xs_maxf(0.0f, xs_minf(1.0f, metallic));
    b->alpha = xs_roughness_to_alpha(roughness);
    b->transmission = xs_maxf(0.0f, xs_minf(1.0f, trans));
    float r = (m->ior - 1.0f) / (m->ior + 1.0f);
    b->f0 = r * r;
    /* a solid's boundary: the ray enters through the front, leaves through the back */
    b->eta = (m->flags & XS_MAT_VOLUME) != 0u ? (sf->front ? m->ior : 1.0f / m->ior) : 0.0f;
}

XS_DEVICE xs_vec3 xs_clamp_contrib(xs_vec3 v, float clamp)
{
    float m = xs_max3(v);
    return (clamp > 0.0f && m > clamp) ? xs_scale(v, clamp / m) : v;
}

/* What the first hit of a camera ray leaves for the AOVs. */
typedef struct xs_first_hit {
    bool hit;
    xs_vec3 albedo, normal;
    float depth;
} xs_first_hit;

/* Radiance along one camera sample; writes alpha (1 when the camera ray hit). */
XS_DEVICE xs_vec3 xs_trace_path(const xs_scene_view *s, const xs_tile_params *tp, xs_ray ray,
                                xs_sampler *smp, float *alpha, xs_first_hit *fh, xs_counters *c)
{
    xs_vec3 L = xs_v3_all(0.0f);
    xs_vec3 T = xs_v3_all(1.0f);
    float prev_pdf = 0.0f; /* solid-angle pdf of the BSDF sample that made ray; 0: camera */
    bool mis = tp->mis == XS_MIS_ON, use_nee = tp->mis != XS_MIS_BSDF_ONLY;
    *alpha = 0.0f;
    fh->hit = false;
    fh->albedo = fh->normal = xs_v3_all(0.0f);
    fh->depth = 1e10f;
    for (int bounce = 0;; ++bounce) {
        xs_hit h;
        if (bounce == 0)
            c->camera_rays++;
        else
            c->bounce_rays++;
        if (!xs_trace(s, &ray, false, &h, c)) {
            /* escaped: the environment */
            float w = 1.0f;
            if (bounce > 0 && use_nee && s->env_light != UINT32_MAX)
                w = mis ? xs_power_heuristic(prev_pdf, xs_light_pdf_env(s, ray.d)) : 0.0f;
            xs_vec3 e = xs_scale(xs_mul(T, xs_env_radiance(s, ray.d)), w);
            L = xs_add(L, bounce > 0 ? xs_clamp_contrib(e, tp->clamp) : e);
            break;
        }
        xs_surface sf;
        xs_surface_at(s, &ray, &h, &sf);
        const xs_material *m = sf.m;
        /* the segment ran inside a solid when it ends on the solid's back:
         * Beer-Lambert absorption (KHR_materials_volume attenuation) */
        if (!sf.front && (m->flags & XS_MAT_VOLUME) != 0u && xs_max3(m->sigma_a) > 0.0f)
            T = xs_mul(T, xs_v3(expf(-m->sigma_a.x * h.t), expf(-m->sigma_a.y * h.t),
                                expf(-m->sigma_a.z * h.t)));
        if (bounce == 0) {
            *alpha = 1.0f;
            fh->hit = true;
            fh->albedo = sf.bsdf.base;
            fh->normal = sf.ns;
            fh->depth = h.t * xs_dot(ray.d, s->camera.fwd);
        }
        /* emission reached by the BSDF sample (or the camera) */
        if (sf.front || (m->flags & XS_MAT_EMIT_TWO_SIDED) != 0u) {
            if (xs_max3(m->emission) > 0.0f) {
                float w = 1.0f;
                if (bounce > 0 && use_nee)
                    w = mis ? xs_power_heuristic(prev_pdf, xs_light_pdf_tri(s, h.instance, h.tri, ray.d, h.t))
                            : 0.0f;
                xs_vec3 e = xs_scale(xs_mul(T, xs_emission_at_uv(s, m, &sf.uv)), w);
                L = xs_add(L, bounce > 0 ? xs_clamp_contrib(e, tp->clamp) : e);
            }
        }
        if (bounce >= tp->max_bounces)
            break;
        c->shade_events++;
        xs_vec3 wo = xs_to_local(&sf, xs_neg(ray.d));
        xs_bsdf_prepare(&sf.bsdf, s->ggx_tables, wo);
        float u_light, u_rr, ul1, ul2, ub1, ub2, u_lobe, u_unused;
        xs_sample_2d(smp, &u_light, &u_rr);
        xs_sample_2d(smp, &ul1, &ul2);
        xs_sample_2d(smp, &ub1, &ub2);
        xs_sample_2d(smp, &u_lobe, &u_unused);
        (void)u_unused;
        /* next-event estimation */
        xs_light_sample ls;
        if (use_nee && xs_light_sample_at(s, sf.p, u_light, ul1, ul2, &ls)) {
            xs_vec3 wl = xs_to_local(&sf, ls.wi);
            float gside = xs_dot(ls.wi, sf.ng);
            float pdf_b;
            xs_vec3 f = xs_bsdf_eval(&sf.bsdf, wo, wl, &pdf_b);
            /* the geometric side must agree with the lobe (reflect / transmit) */
            bool ok = (wl.z > 0.0f) == (gside > 0.0f) && xs_max3(f) > 0.0f && xs_max3(ls.L) > 0.0f;
            if (ok && !xs_occluded(s, sf.p, gside > 0.0f ? sf.ng : xs_neg(sf.ng), ls.wi, ls.dist, c)) {
                float w = (ls.delta || !mis) ? 1.0f : xs_power_heuristic(ls.pdf, pdf_b);
                xs_vec3 d = xs_scale(xs_mul(T, xs_mul(f, ls.L)), w / ls.pdf);
                L = xs_add(L, bounce > 0 ? xs_clamp_contrib(d, tp->clamp) : d);
            }
        }
        /* BSDF sampling */
        xs_vec3 wl, weight;
        float pdf;
        if (!xs_bsdf_sample(&sf.bsdf, wo, u_lobe, ub1, ub2, &wl, &weight, &pdf))
            break;
        xs_vec3 wi = xs_from_local(&sf, wl);
        float gside = xs_dot(wi, sf.ng);
        if ((wl.z > 0.0f) != (gside > 0.0f))
            break;
        T = xs_mul(T, weight);
        prev_pdf = pdf;
        if (bounce + 1 >= tp->rr_start) {
            float q = xs_minf(0.95f, xs_max3(T));
            if (!(u_rr < q))
                break;
            T = xs_scale(T, 1.0f / q);
        }
        ray.o = xs_offset(sf.p, gside > 0.0f ? sf.ng : xs_neg(sf.ng), s->ray_eps);
        ray.d = xs_normalize(wi);
        ray.tmax = INFINITY;
    }
    return L;
}

/* The camera ray through frame position (fx, fy) in pixels, y down. */
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

/* A pixel offset drawn from the filter (inverse CDF table, linear between
 * entries); u in [0, 1). */
XS_DEVICE float xs_filter_offset(const xs_scene_view *s, float u)
{
    float x = u * (float)XS_FILTER_TABLE;
    int i = (int)x;
    i = i >= XS_FILTER_TABLE ? XS_FILTER_TABLE - 1 : i;
    float f = x - (float)i;
    return s->filter_icdf[i] * (1.0f - f) + s->filter_icdf[i + 1] * f;
}

/* Samples are summed in chunks of XS_SAMPLE_CHUNK: a chunk's partial sum
 * starts from zero and adds its samples in order; the pixel adds the chunk
 * sums in chunk order. The CPU runs the chunks of a pixel one after another,
 * the GPU runs them in parallel threads; both perform the same float
 * operations in the same order, so the estimate does not depend on the
 * device's schedule. */
enum { XS_SAMPLE_CHUNK = 16 };

/* A chunk's partial sums: RGB, alpha, albedo (3), normal (3), nearest depth,
 * samples kept. */
enum { XS_PARTIAL_FLOATS = 12 };
typedef struct xs_partial {
    float v[XS_PARTIAL_FLOATS];
} xs_partial;

XS_DEVICE int xs_chunk_count(int spp) { return (spp + XS_SAMPLE_CHUNK - 1) / XS_SAMPLE_CHUNK; }

XS_DEVICE void xs_partial_zero(xs_partial *p)
{
    for (int i = 0; i < XS_PARTIAL_FLOATS; ++i)
        p->v[i] = 0.0f;
    p->v[10] = 1e10f;
}

/* acc += p (depth: the nearer). */
XS_DEVICE void xs_partial_merge(xs_partial *acc, const xs_partial *p)
{
    for (int i = 0; i < 10; ++i)
        acc->v[i] += p->v[i];
    acc->v[10] = xs_minf(acc->v[10], p->v[10]);
    acc->v[11] += p->v[11];
}

/* Chunk `chunk` of frame pixel (px, py): samples [chunk * XS_SAMPLE_CHUNK,
 * min(spp, (chunk + 1) * XS_SAMPLE_CHUNK)), each placed by the filter around
 * the pixel's centre. */
XS_DEVICE void xs_render_chunk(const xs_scene_view *s, const xs_tile_params *tp, int px, int py,
                               int chunk, xs_partial *p, xs_counters *c)
{
    xs_partial_zero(p);
    int k0 = chunk * XS_SAMPLE_CHUNK;
    int k1 = k0 + XS_SAMPLE_CHUNK < tp->spp ? k0 + XS_SAMPLE_CHUNK : tp->spp;
    for (int k = k0; k < k1; ++k) {
        xs_sampler smp = xs_sampler_init(tp->seed, tp->frame, (uint32_t)px, (uint32_t)py, (uint32_t)k);
        float u1, u2;
        xs_sample_2d(&smp, &u1, &u2);
        float fx = (float)px + 0.5f + xs_filter_offset(s, u1);
        float fy = (float)py + 0.5f + xs_filter_offset(s, u2);
        xs_ray ray = xs_camera_ray(&s->camera, tp->frame_width, tp->frame_height, fx, fy);
        float a;
        xs_first_hit fh;
        xs_vec3 L = xs_trace_path(s, tp, ray, &smp, &a, &fh, c);
        if (!(isfinite(L.x) && isfinite(L.y) && isfinite(L.z))) {
            c->nonfinite++;
            continue;
        }
        p->v[11] += 1.0f;
        p->v[0] += L.x;
        p->v[1] += L.y;
        p->v[2] += L.z;
        p->v[3] += a;
        if (fh.hit) {
            p->v[4] += fh.albedo.x;
            p->v[5] += fh.albedo.y;
            p->v[6] += fh.albedo.z;
            p->v[7] += fh.normal.x;
            p->v[8] += fh.normal.y;
            p->v[9] += fh.normal.z;
            p->v[10] = xs_minf(p->v[10], fh.depth);
        }
    }
}

/* A pixel's record (xs_aov_channels(tp->aovs) floats) from its summed
 * chunks: the mean of the samples kept. */
XS_DEVICE void xs_pixel_finish(const xs_partial *acc, const xs_tile_params *tp, float *out)
{
    float good = acc->v[11];
    float inv = good > 0.0f ? 1.0f / good : 0.0f;
    for (int i = 0; i < 4; ++i)
        out[i] = acc->v[i] * inv;
    int o = 4;
    if ((tp->aovs & XS_AOV_ALBEDO) != 0u) {
        out[o++] = acc->v[4] * inv;
        out[o++] = acc->v[5] * inv;
        out[o++] = acc->v[6] * inv;
    }
    if ((tp->aovs & XS_AOV_NORMAL) != 0u) {
        xs_vec3 n = xs_normalize(xs_v3(acc->v[7], acc->v[8], acc->v[9]));
        out[o++] = n.x;
        out[o++] = n.y;
        out[o++] = n.z;
    }
    if ((tp->aovs & XS_AOV_DEPTH) != 0u)
        out[o++] = acc->v[10];
    if ((tp->aovs & XS_AOV_SAMPLES) != 0u)
        out[o++] = good;
}

/* Renders frame pixel (px, py) into out: its chunks in order, then the mean. */
XS_DEVICE void xs_render_pixel(const xs_scene_view *s, const xs_tile_params *tp, int px, int py,
                               float *out, xs_counters *c)
{
    xs_partial acc, p;
    xs_partial_zero(&acc);
    int n = xs_chunk_count(tp->spp);
    for (int k = 0; k < n; ++k) {
        xs_render_chunk(s, tp, px, py, k, &p, c);
        xs_partial_merge(&acc, &p);
    }
    xs_pixel_finish(&acc, tp, out);
}

/* Renders tile rows [row_begin, row_end) into buf (the tile's own buffer,
 * width*height records of xs_aov_channels(tp->aovs) floats, row-major). */
XS_DEVICE void xs_render_rows(const xs_scene_view *s, const xs_tile_params *tp, int row_begin,
                              int row_end, float *XS_RESTRICT buf, xs_counters *c)
{
    size_t stride = (size_t)xs_aov_channels(tp->aovs);
    for (int y = row_begin; y < row_end; ++y)
        for (int x = 0; x < tp->width; ++x)
            xs_render_pixel(s, tp, tp->x0 + x, tp->y0 + y,
                            buf + ((size_t)y * (size_t)tp->width + (size_t)x) * stride, c);
}

#endif
