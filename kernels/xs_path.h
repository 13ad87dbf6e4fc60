/* The path tracer: one camera sample's path as a few steps that the
 * megakernel (below) and the wavefront integrator (xs_wavefront.h) both run,
 * so the two compute the same float operations in the same order.
 *
 * Estimator: a unidirectional path tracer with next-event estimation and
 * multiple importance sampling (power heuristic) between BSDF sampling and
 * light sampling, for emissive triangles and the environment; punctual lights
 * are delta lights, reached by light sampling only. Materials are the glTF
 * metallic-roughness BSDF (xs_bsdf.h) with textured base colour,
 * metallic-roughness, emission, normal maps and alpha mask. Russian roulette
 * from bounce rr_start, a bounce limit, optional clamping of indirect light.
 *
 * A path (xs_path) is its next ray, throughput, radiance so far, the pdf of
 * the BSDF sample that made the ray (for MIS), its sampler key and its ray
 * cone (texture level of detail). Its steps:
 *   xs_path_start    the camera ray of (pixel, sample), through the filter
 *   xs_trace         closest hit (xs_intersect.h)
 *   xs_path_samples  the bounce's four sampler pairs
 *   xs_path_shade    what the hit adds (escape, emission), a shadow ray for
 *                    next-event estimation (xs_shadow) and the next ray
 *   xs_shadow_trace  the shadow ray; its contribution is added if unoccluded
 *
 * Sampling: each sample draws its dimensions from the Owen-scrambled Sobol'
 * sampler (xs_sampler.h) keyed by (seed, frame, pixel, sample), a pair per
 * purpose (xs_sampler.h lists them). The pixel filter is importance-sampled
 * (the offset is drawn from the filter itself), so every sample lands in
 * exactly one pixel with weight 1 and a pixel is the plain mean of its
 * samples: tiles never see each other's samples, and there are no seams.
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

/* Everything shading needs at a hit. */
typedef struct xs_surface {
    xs_vec3 p;
    xs_vec3 ng;      /* geometric normal on the side the ray came from */
    xs_vec3 ns;      /* shading normal, same side */
    xs_vec3 tx, ty;  /* shading frame with ns */
    bool front;      /* the ray hit the front face */
    const xs_material *m;
    xs_uv uv;
    xs_lod lod;      /* the ray cone's footprint, for texture levels */
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

XS_DEVICE bool xs_material_textured(const xs_material *m)
{
    return m->base_tex.tex >= 0 || m->emit_tex.tex >= 0 || m->mr_tex.tex >= 0 || m->normal_tex.tex >= 0 ||
           m->trans_tex.tex >= 0;
}

/* The Lambert base alone and nothing else, at every point: no texture, no
 * emission, not a solid, no metal, no coating (IOR 1, so F0 = 0), no
 * transmission, and a base with some luminance (xs_surface_at's parameters
 * and xs_bsdf_prepare's test, on the same values). */
XS_DEVICE bool xs_material_lambert(const xs_material *m)
{
    const float r = (m->ior - 1.0f) / (m->ior + 1.0f);
    return !xs_material_textured(m) && !(xs_max3(m->emission) > 0.0f) && (m->flags & XS_MAT_VOLUME) == 0u &&
           xs_maxf(0.0f, xs_minf(1.0f, m->metallic)) == 0.0f && r * r == 0.0f &&
           xs_maxf(0.0f, xs_minf(1.0f, m->transmission)) == 0.0f && xs_luminance(m->albedo) > 0.0f;
}

/* The metal and dielectric GGX lobes over the base, untextured and
 * opaque: no texture, no emission, not a solid, no transmission, and not
 * the Lambert base alone (some metal, or an IOR other than 1). */
XS_DEVICE bool xs_material_ggx(const xs_material *m)
{
    const float r = (m->ior - 1.0f) / (m->ior + 1.0f);
    return !xs_material_textured(m) && !(xs_max3(m->emission) > 0.0f) && (m->flags & XS_MAT_VOLUME) == 0u &&
           xs_maxf(0.0f, xs_minf(1.0f, m->transmission)) == 0.0f &&
           !(xs_maxf(0.0f, xs_minf(1.0f, m->metallic)) == 0.0f && r * r == 0.0f);
}

/* The footprint of a ray cone `width` wide arriving at cosine cos_i on a
 * triangle whose edges span area2 (twice its area) in the world: per uv set,
 * log2 of its width in uv units. */
XS_DEVICE xs_lod xs_lod_at(const xs_tri_attr *at, float width, float cos_i, float area2)
{
    xs_lod l = xs_lod_none();
    if (!(width > 0.0f) || !(area2 > 0.0f))
        return l;
    const float fw = log2f(width / xs_maxf(cos_i, 1e-3f));
    for (int k = 0; k < 2; ++k) {
        const float du1 = at->uv[k][2] - at->uv[k][0], dv1 = at->uv[k][3] - at->uv[k][1];
        const float du2 = at->uv[k][4] - at->uv[k][0], dv2 = at->uv[k][5] - at->uv[k][1];
        const float uv2 = fabsf(du1 * dv2 - du2 * dv1);
        if (uv2 > 0.0f)
            l.uv_log2[k] = fw + 0.5f * log2f(uv2 / area2);
    }
    return l;
}

/* The surface at hit h of ray; cone_width: the ray cone's width there (0:
 * textures read at level 0). */
XS_DEVICE void xs_surface_at(const xs_scene_view *s, const xs_ray *ray, const xs_hit *h, float cone_width,
                             xs_surface *sf)
{
    const xs_tri_attr *at = &s->attrs[h->tri];
    const xs_instance *in = &s->instances[h->instance];
    const bool ident = (in->flags & XS_INST_IDENTITY) != 0u;
    const xs_mesh *mesh = &s->meshes[in->mesh];
    /* a mesh deforming within the shutter: the triangle at the ray's time */
    const xs_tri t = mesh->motion != UINT32_MAX ? xs_tri_at(s, mesh, h->tri, ray->time) : xs_tri_from_w(&s->tris[h->tri]);
    float xb[12], ib[12];
    const float *xf, *inv; /* the instance's transforms (at the ray's time when it moves) */
    xs_instance_at(s, in, ray->time, xb, ib, &xf, &inv);
    const xs_material *m = &s->materials[at->material];
    sf->m = m;
    sf->p = xs_add(ray->o, xs_scale(ray->d, h->t));
    /* texture coordinates only for a textured material: nothing else reads them */
    const bool textured = xs_material_textured(m);
    if (textured) {
        sf->uv = xs_tri_uv(at, h->u, h->v);
    } else {
        for (int k = 0; k < 2; ++k)
            sf->uv.u[k] = sf->uv.v[k] = 0.0f;
    }
    const xs_vec3 onrm = xs_cross(t.e1, t.e2);
    xs_vec3 ng = xs_normalize(ident ? onrm : xs_xf_normal(inv, onrm));
    sf->front = xs_dot(ng, ray->d) < 0.0f;
    sf->lod = xs_lod_none();
    if (textured) {
        /* the triangle's world area: its edges moved by the instance */
        xs_vec3 wn = onrm;
        if (!ident)
            wn = xs_cross(xs_xf_dir(xf, t.e1), xs_xf_dir(xf, t.e2));
        sf->lod = xs_lod_at(at, cone_width, fabsf(xs_dot(ng, ray->d)), xs_length(wn));
    }
    xs_vec3 ns = ng;
    if ((at->flags & XS_ATTR_NORMALS) != 0u) {
        const xs_vec3 an = xs_attr_lerp(at->n, h->u, h->v);
        xs_vec3 n = xs_normalize(ident ? an : xs_xf_normal(inv, an));
        if (xs_dot(n, n) > 0.5f)
            ns = n;
    }
    if (m->normal_tex.tex >= 0 && (at->flags & XS_ATTR_TANGENTS) != 0u) {
        float tx[4];
        xs_tex_sample(s, &m->normal_tex, &sf->uv, &sf->lod, false, tx);
        xs_vec3 tn = xs_v3((2.0f * tx[0] - 1.0f) * m->normal_scale,
                           (2.0f * tx[1] - 1.0f) * m->normal_scale, 2.0f * tx[2] - 1.0f);
        const xs_vec3 at_t = xs_attr_lerp(at->t, h->u, h->v);
        xs_vec3 T = ident ? at_t : xs_xf_dir(xf, at_t);
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
    b->base = xs_textured(s, m->albedo, &m->base_tex, &sf->uv, &sf->lod);
    float metallic = m->metallic, roughness = m->roughness, trans = m->transmission;
    if (m->mr_tex.tex >= 0) {
        float tm[4];
        xs_tex_sample(s, &m->mr_tex, &sf->uv, &sf->lod, false, tm);
        roughness *= tm[1];
        metallic *= tm[2];
    }
    if (m->trans_tex.tex >= 0 && trans > 0.0f) {
        float tt[4];
        xs_tex_sample(s, &m->trans_tex, &sf->uv, &sf->lod, false, tt);
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

/* The camera ray through frame position (fx, fy) in pixels, y down. */
XS_DEVICE xs_ray xs_camera_ray(const xs_camera *cam, int fw, int fh, float fx, float fy)
{
    float sx = (2.0f * fx / (float)fw - 1.0f) * cam->tan_half_fovy * cam->aspect;
    float sy = (1.0f - 2.0f * fy / (float)fh) * cam->tan_half_fovy;
    xs_ray r;
    r.o = cam->pos;
    r.d = xs_normalize(xs_add(cam->fwd, xs_add(xs_scale(cam->right, sx), xs_scale(cam->up, sy))));
    r.tmax = INFINITY;
    r.time = 0.5f; /* the frame's own time: the middle of a centred shutter */
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

/* ---- A path's steps ----------------------------------------------------------- */

/* A path between two vertices. 80 bytes, 16-byte aligned (five vector loads
 * on a GPU, where the wavefront keeps one per sample in flight). */
typedef struct XS_ALIGN(16) xs_path {
    xs_vec3 o;
    float prev_pdf; /* solid-angle pdf of the BSDF sample that made d; 0: the camera's */
    xs_vec3 d;
    float cone_w;   /* ray cone: width at o */
    xs_vec3 T;      /* throughput */
    float cone_s;   /* ray cone: spread angle */
    xs_vec3 L;      /* radiance gathered so far */
    uint32_t sample;
    uint64_t key;   /* the sampler's pixel key */
    uint32_t bounce;
    uint32_t tile;  /* the tile of a GPU launch group it belongs to (0 on the CPU) */
} xs_path;

/* What the first hit of a camera ray leaves for alpha and the AOVs. */
typedef struct xs_first_hit {
    float alpha; /* 1 when the camera ray hit */
    float albedo[3], normal[3];
    float depth; /* camera-space z; 1e10 when nothing was hit */
} xs_first_hit;

/* A shadow ray of next-event estimation and what it adds when unoccluded. */
typedef struct XS_ALIGN(16) xs_shadow {
    xs_vec3 o;
    float tmax;
    xs_vec3 d;
    uint32_t path;    /* the wavefront's path index */
    xs_vec3 contrib;  /* throughput x BSDF x light x MIS weight / pdf, clamped */
    uint32_t valid;   /* 0: nothing to trace */
} xs_shadow;

/* The ray cone's spread at the camera: a pixel's angle, narrowed as pbrt-v4
 * narrows its ray differentials, by max(1/8, 1/sqrt(spp)): many samples a
 * pixel already average the texture over it. */
XS_DEVICE float xs_camera_spread(const xs_scene_view *s, const xs_tile_params *tp)
{
    float k = 1.0f / sqrtf((float)(tp->spp > 0 ? tp->spp : 1));
    return 2.0f * s->camera.tan_half_fovy / (float)tp->frame_height * xs_maxf(0.125f, k);
}

/* The time across the shutter of path p's sample (0.5, the frame's own,
 * without motion blur): a function of its key and sample, computed where a
 * step needs it rather than carried. */
XS_DEVICE float xs_path_time(const xs_scene_view *s, uint64_t key, uint32_t sample)
{
    return s->motion_steps < 2u ? 0.5f : xs_time_of(key, sample);
}

/* Starts sample `sample` of frame pixel (px, py): the camera ray through the
 * filter's offset (pair XS_PAIR_FILTER), from the camera where it is at the
 * sample's time under motion blur. */
XS_DEVICE void xs_path_start(const xs_scene_view *s, const xs_tile_params *tp, int px, int py, uint32_t sample,
                             uint32_t tile, xs_path *p)
{
    xs_sampler smp = xs_sampler_init(tp->seed, tp->frame, (uint32_t)px, (uint32_t)py, sample);
    float u1, u2;
    xs_sample_pair(&smp, XS_PAIR_FILTER, &u1, &u2);
    float fx = (float)px + 0.5f + xs_filter_offset(s, u1);
    float fy = (float)py + 0.5f + xs_filter_offset(s, u2);
    xs_ray ray;
    if (s->motion_steps < 2u) {
        ray = xs_camera_ray(&s->camera, tp->frame_width, tp->frame_height, fx, fy);
    } else {
        const xs_camera cam = xs_camera_at(s, xs_sample_time(&smp));
        ray = xs_camera_ray(&cam, tp->frame_width, tp->frame_height, fx, fy);
    }
    p->o = ray.o;
    p->d = ray.d;
    p->prev_pdf = 0.0f;
    p->T = xs_v3_all(1.0f);
    p->L = xs_v3_all(0.0f);
    p->cone_w = 0.0f;
    p->cone_s = xs_camera_spread(s, tp);
    p->sample = sample;
    p->key = smp.pixel_key;
    p->bounce = 0u;
    p->tile = tile;
}

XS_DEVICE void xs_first_hit_none(xs_first_hit *f)
{
    f->alpha = 0.0f;
    for (int k = 0; k < 3; ++k)
        f->albedo[k] = f->normal[k] = 0.0f;
    f->depth = 1e10f;
}

/* The eight numbers of a bounce (xs_sampler.h's layout): light choice,
 * roulette, light position (2), BSDF direction (2), lobe choice, spare. */
enum { XS_BOUNCE_SAMPLES = 8 };
XS_DEVICE void xs_path_samples(uint64_t key, uint32_t sample, uint32_t bounce, float *u)
{
    const uint32_t pair = xs_pair_of_bounce((int)bounce);
    for (uint32_t k = 0; k < (uint32_t)XS_PAIRS_PER_BOUNCE; ++k) {
        uint32_t x, y;
        xs_sobol_pair(key, sample, pair + k, &x, &y);
        u[2 * k] = xs_u32_to_float(x);
        u[2 * k + 1] = xs_u32_to_float(y);
    }
}

/* How much wider a ray cone leaves a surface than it arrived, by the lobe
 * the sample took (ul: the lobe choice): a heuristic path footprint, about
 * half the lobe's angular width: roughness / 2 radians for the GGX lobes
 * (alpha = roughness^2), 0.5 for Lambert. It only chooses texture levels:
 * wide after diffuse bounces, so indirect rays read small, cached levels. */
XS_DEVICE float xs_lobe_spread(const xs_bsdf *b, float ul)
{
    if (ul >= b->w_spec && ul < b->w_spec + b->w_diff)
        return 0.5f;
    return 0.5f * sqrtf(b->alpha);
}

/* Shades path p at hit h (h->tri == UINT32_MAX: it escaped) with the
 * bounce's samples u: adds escaped or emitted light to p->L, fills *fh at the
 * camera's hit (bounce 0), sets *sh to the shadow ray of next-event
 * estimation (valid 0 when there is none), and moves p to its next ray.
 * Returns false when the path ends here (its shadow ray, if any, still
 * counts). */
XS_DEVICE bool xs_path_shade(const xs_scene_view *s, const xs_tile_params *tp, xs_path *p, const xs_hit *h,
                             const float *u, xs_first_hit *fh, xs_shadow *sh, xs_counters *c)
{
    const bool mis = tp->mis == XS_MIS_ON, use_nee = tp->mis != XS_MIS_BSDF_ONLY;
    const int bounce = (int)p->bounce;
    sh->valid = 0u;
    sh->contrib = xs_v3_all(0.0f);
    if (h->tri == UINT32_MAX) {
        /* escaped: the environment */
        float w = 1.0f;
        if (bounce > 0 && use_nee && s->env_light != UINT32_MAX)
            w = mis ? xs_power_heuristic(p->prev_pdf, xs_light_pdf_env(s, p->d)) : 0.0f;
        xs_vec3 e = xs_scale(xs_mul(p->T, xs_env_radiance(s, p->d)), w);
        p->L = xs_add(p->L, bounce > 0 ? xs_clamp_contrib(e, tp->clamp) : e);
        return false;
    }
    xs_ray ray;
    ray.o = p->o;
    ray.d = p->d;
    ray.tmax = INFINITY;
    ray.time = xs_path_time(s, p->key, p->sample);
    xs_surface sf;
    xs_surface_at(s, &ray, h, p->cone_w + p->cone_s * h->t, &sf);
    const xs_material *m = sf.m;
    /* the segment ran inside a solid when it ends on the solid's back:
     * Beer-Lambert absorption (KHR_materials_volume attenuation) */
    if (!sf.front && (m->flags & XS_MAT_VOLUME) != 0u && xs_max3(m->sigma_a) > 0.0f)
        p->T = xs_mul(p->T, xs_v3(expf(-m->sigma_a.x * h->t), expf(-m->sigma_a.y * h->t),
                                  expf(-m->sigma_a.z * h->t)));
    if (bounce == 0) {
        fh->alpha = 1.0f;
        fh->albedo[0] = sf.bsdf.base.x;
        fh->albedo[1] = sf.bsdf.base.y;
        fh->albedo[2] = sf.bsdf.base.z;
        fh->normal[0] = sf.ns.x;
        fh->normal[1] = sf.ns.y;
        fh->normal[2] = sf.ns.z;
        const xs_vec3 fwd = s->motion_steps < 2u ? s->camera.fwd : xs_camera_at(s, ray.time).fwd;
        fh->depth = h->t * xs_dot(p->d, fwd);
    }
    /* emission reached by the BSDF sample (or the camera) */
    if (sf.front || (m->flags & XS_MAT_EMIT_TWO_SIDED) != 0u) {
        if (xs_max3(m->emission) > 0.0f) {
            float w = 1.0f;
            if (bounce > 0 && use_nee)
                w = mis ? xs_power_heuristic(p->prev_pdf, xs_light_pdf_tri(s, h->instance, h->tri, p->d, h->t, ray.time))
                        : 0.0f;
            xs_vec3 e = xs_scale(xs_mul(p->T, xs_emission_at_uv(s, m, &sf.uv, &sf.lod)), w);
            p->L = xs_add(p->L, bounce > 0 ? xs_clamp_contrib(e, tp->clamp) : e);
        }
    }
    if (bounce >= tp->max_bounces)
        return false;
    c->shade_events++;
    xs_vec3 wo = xs_to_local(&sf, xs_neg(p->d));
    xs_bsdf_prepare(&sf.bsdf, s->ggx_tables, wo);
    const float u_light = u[0], u_rr = u[1], ul1 = u[2], ul2 = u[3], ub1 = u[4], ub2 = u[5], u_lobe = u[6];
    /* next-event estimation: a shadow ray, traced by the caller */
    xs_light_sample ls;
    if (use_nee && xs_light_sample_at(s, sf.p, ray.time, u_light, ul1, ul2, &ls)) {
        xs_vec3 wl = xs_to_local(&sf, ls.wi);
        float gside = xs_dot(ls.wi, sf.ng);
        float pdf_b;
        xs_vec3 f = xs_bsdf_eval(&sf.bsdf, wo, wl, &pdf_b);
        /* the geometric side must agree with the lobe (reflect / transmit) */
        if ((wl.z > 0.0f) == (gside > 0.0f) && xs_max3(f) > 0.0f && xs_max3(ls.L) > 0.0f) {
            float w = (ls.delta || !mis) ? 1.0f : xs_power_heuristic(ls.pdf, pdf_b);
            xs_vec3 d = xs_scale(xs_mul(p->T, xs_mul(f, ls.L)), w / ls.pdf);
            sh->contrib = bounce > 0 ? xs_clamp_contrib(d, tp->clamp) : d;
            sh->o = xs_offset(sf.p, gside > 0.0f ? sf.ng : xs_neg(sf.ng), s->ray_eps);
            sh->d = ls.wi;
            sh->tmax = ls.dist == INFINITY
                           ? INFINITY
                           : xs_length(xs_sub(xs_add(sf.p, xs_scale(ls.wi, ls.dist)), sh->o)) * (1.0f - 1e-4f);
            sh->valid = 1u;
        }
    }
    /* BSDF sampling */
    xs_vec3 wl, weight;
    float pdf;
    if (!xs_bsdf_sample(&sf.bsdf, wo, u_lobe, ub1, ub2, &wl, &weight, &pdf))
        return false;
    xs_vec3 wi = xs_from_local(&sf, wl);
    float gside = xs_dot(wi, sf.ng);
    if ((wl.z > 0.0f) != (gside > 0.0f))
        return false;
    p->T = xs_mul(p->T, weight);
    p->prev_pdf = pdf;
    if (bounce + 1 >= tp->rr_start) {
        float q = xs_minf(0.95f, xs_max3(p->T));
        if (!(u_rr < q))
            return false;
        p->T = xs_scale(p->T, 1.0f / q);
    }
    /* the cone leaves with the width it arrived with, wider by the lobe's roughness */
    p->cone_w = p->cone_w + p->cone_s * h->t;
    p->cone_s = p->cone_s + xs_lobe_spread(&sf.bsdf, u_lobe);
    p->o = xs_offset(sf.p, gside > 0.0f ? sf.ng : xs_neg(sf.ng), s->ray_eps);
    p->d = xs_normalize(wi);
    p->bounce = (uint32_t)bounce + 1u;
    return true;
}

/* Traces a valid shadow ray at time `time` (its path's); its contribution
 * is added to L when nothing blocks it. */
XS_DEVICE void xs_shadow_trace(const xs_scene_view *s, const xs_shadow *sh, float time, xs_vec3 *L,
                               xs_counters *c)
{
    xs_hit hh;
    c->shadow_rays++;
    if (!xs_trace_from(s, &sh->o, &sh->d, sh->tmax, time, true, &hh, c))
        *L = xs_add(*L, sh->contrib);
}

/* ---- The megakernel: a sample's whole path in one call (the reference) -------- */

/* Radiance along sample `sample` of frame pixel (px, py), and its first hit. */
XS_DEVICE xs_vec3 xs_trace_sample(const xs_scene_view *s, const xs_tile_params *tp, int px, int py,
                                  uint32_t sample, xs_first_hit *fh, xs_counters *c)
{
    xs_path p;
    xs_path_start(s, tp, px, py, sample, 0u, &p);
    xs_first_hit_none(fh);
    const float time = xs_path_time(s, p.key, p.sample);
    for (;;) {
        xs_ray ray;
        ray.o = p.o;
        ray.d = p.d;
        ray.tmax = INFINITY;
        ray.time = time;
        xs_hit h;
        if (p.bounce == 0u)
            c->camera_rays++;
        else
            c->bounce_rays++;
        xs_trace(s, &ray, false, &h, c);
        float u[XS_BOUNCE_SAMPLES];
        xs_path_samples(p.key, p.sample, p.bounce, u);
        xs_shadow sh;
        bool more = xs_path_shade(s, tp, &p, &h, u, fh, &sh, c);
        if (sh.valid != 0u)
            xs_shadow_trace(s, &sh, time, &p.L, c);
        if (!more)
            break;
    }
    return p.L;
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

/* Adds one sample's radiance and first hit to a chunk's partial sums; a
 * sample that is not finite is dropped and counted. */
XS_DEVICE void xs_partial_add(xs_partial *p, xs_vec3 L, const xs_first_hit *fh, xs_counters *c)
{
    if (!(isfinite(L.x) && isfinite(L.y) && isfinite(L.z))) {
        c->nonfinite++;
        return;
    }
    p->v[11] += 1.0f;
    p->v[0] += L.x;
    p->v[1] += L.y;
    p->v[2] += L.z;
    p->v[3] += fh->alpha;
    if (fh->alpha > 0.0f) {
        p->v[4] += fh->albedo[0];
        p->v[5] += fh->albedo[1];
        p->v[6] += fh->albedo[2];
        p->v[7] += fh->normal[0];
        p->v[8] += fh->normal[1];
        p->v[9] += fh->normal[2];
        p->v[10] = xs_minf(p->v[10], fh->depth);
    }
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
        xs_first_hit fh;
        xs_vec3 L = xs_trace_sample(s, tp, px, py, (uint32_t)k, &fh, c);
        xs_partial_add(p, L, &fh, c);
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

/* ---- sample splits ------------------------------------------------------------
 *
 * A tile's samples may be split into parts of whole chunks, rendered apart
 * (even on other ranks) and merged later (the scheduler's PART and MERGE
 * items). A part keeps each (pixel, chunk)'s partial sums as a packed record
 * of the floats of xs_partial that the pixel's record reads (xs_part_mask:
 * RGB, alpha and samples kept always; albedo, normal and nearest depth when
 * the AOVs ask). The merge unpacks a pixel's records in chunk order into a
 * zeroed xs_partial with xs_partial_merge, then xs_pixel_finish: the float
 * operations of xs_render_pixel on every float the record reads, so a merged
 * tile is the whole tile bit for bit (xs_pixel_finish never reads a float
 * the mask leaves out). */

/* Which floats of xs_partial a part keeps (bit i: v[i]). */
XS_DEVICE uint32_t xs_part_mask(uint32_t aovs)
{
    uint32_t m = 0x80Fu; /* RGB and alpha (v[0..3]), samples kept (v[11]) */
    if ((aovs & XS_AOV_ALBEDO) != 0u)
        m |= 0x070u; /* v[4..6] */
    if ((aovs & XS_AOV_NORMAL) != 0u)
        m |= 0x380u; /* v[7..9] */
    if ((aovs & XS_AOV_DEPTH) != 0u)
        m |= 0x400u; /* v[10] */
    return m;
}

/* Floats of a packed record: the bits of xs_part_mask(aovs). */
XS_DEVICE int xs_part_floats(uint32_t aovs)
{
    const uint32_t m = xs_part_mask(aovs);
    int n = 0;
    for (int i = 0; i < XS_PARTIAL_FLOATS; ++i)
        n += (int)((m >> i) & 1u);
    return n;
}

XS_DEVICE void xs_partial_pack(const xs_partial *p, uint32_t mask, float *out)
{
    int o = 0;
    for (int i = 0; i < XS_PARTIAL_FLOATS; ++i)
        if (((mask >> i) & 1u) != 0u)
            out[o++] = p->v[i];
}

/* The partial sums of a packed record; the floats it does not keep are as
 * xs_partial_zero leaves them. */
XS_DEVICE void xs_partial_unpack(const float *rec, uint32_t mask, xs_partial *p)
{
    xs_partial_zero(p);
    int o = 0;
    for (int i = 0; i < XS_PARTIAL_FLOATS; ++i)
        if (((mask >> i) & 1u) != 0u)
            p->v[i] = rec[o++];
}

/* Renders sample chunks [chunk_first, chunk_first + chunk_count) of tile
 * rows [row_begin, row_end) into buf, the part's own buffer: for each pixel
 * of the tile (row-major), chunk_count packed records of
 * xs_part_floats(tp->aovs) floats, in chunk order. */
XS_DEVICE void xs_render_part_rows(const xs_scene_view *s, const xs_tile_params *tp, int chunk_first,
                                   int chunk_count, int row_begin, int row_end, float *XS_RESTRICT buf,
                                   xs_counters *c)
{
    const uint32_t mask = xs_part_mask(tp->aovs);
    const size_t stride = (size_t)xs_part_floats(tp->aovs);
    for (int y = row_begin; y < row_end; ++y)
        for (int x = 0; x < tp->width; ++x) {
            float *rec = buf + ((size_t)y * (size_t)tp->width + (size_t)x) * (size_t)chunk_count * stride;
            for (int k = 0; k < chunk_count; ++k) {
                xs_partial p;
                xs_render_chunk(s, tp, tp->x0 + x, tp->y0 + y, chunk_first + k, &p, c);
                xs_partial_pack(&p, mask, rec + (size_t)k * stride);
            }
        }
}

/* Pixel `pixel` (row-major in the tile) of a tile split into part_count
 * parts, in chunk order: parts[j] holds part j's records as
 * xs_render_part_rows wrote them (chunk_counts[j] chunks a pixel). Writes
 * the pixel's record (xs_aov_channels(tp->aovs) floats) to out, as
 * xs_render_pixel would have. */
XS_DEVICE void xs_merge_part_pixel(const float *const *parts, const int *chunk_counts, int part_count,
                                   size_t pixel, const xs_tile_params *tp, float *out)
{
    const uint32_t mask = xs_part_mask(tp->aovs);
    const size_t stride = (size_t)xs_part_floats(tp->aovs);
    xs_partial acc, p;
    xs_partial_zero(&acc);
    for (int j = 0; j < part_count; ++j) {
        const float *rec = parts[j] + pixel * (size_t)chunk_counts[j] * stride;
        for (int k = 0; k < chunk_counts[j]; ++k) {
            xs_partial_unpack(rec + (size_t)k * stride, mask, &p);
            xs_partial_merge(&acc, &p);
        }
    }
    xs_pixel_finish(&acc, tp, out);
}

#endif
