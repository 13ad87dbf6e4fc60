/* The glTF metallic-roughness BSDF, in a local shading frame (z = shading
 * normal, wo and wi pointing away from the surface).
 *
 * Lobes, as glTF 2.0 Appendix B and KHR_materials_transmission define them:
 *   metal      m       * GGX reflection, Schlick Fresnel with F0 = base colour
 *   dielectric (1 - m) * [ GGX reflection, Schlick Fresnel with
 *                          F0 = ((ior - 1)/(ior + 1))^2,
 *                          over (1 - E_spec(wo)) * ( (1 - t) * Lambert(base)
 *                                                   + t * thin transmission(base) ) ]
 * GGX: Trowbridge-Reitz D with alpha = roughness^2, height-correlated Smith
 * G2 (Heitz 2014), sampled by visible normals (Heitz 2018). Single-scattering
 * GGX loses energy at high roughness; the lost share is restored by scaling
 * each specular lobe by 1 + F0 (1 - E) / E (Turquin 2019), E being the lobe's
 * directional albedo with F = 1, read from a table (xs_ggx_table) the host
 * builds with these same functions. The base under the dielectric coating gets
 * what the coating leaves: 1 - E_spec(wo), E_spec its albedo with Fresnel.
 * So a white furnace returns its input at every angle for a white metal and
 * for a white dielectric, whatever the roughness.
 *
 * Thin-walled transmission (glTF's default when KHR_materials_volume is
 * absent): light passes through without bending, blurred by the same GGX
 * lobe mirrored to the other side, tinted by the base colour.
 *
 * Solid transmission (KHR_materials_volume, eta > 0): the transmitting share
 * t of the dielectric is a rough dielectric boundary (Walter et al. 2007, as
 * pbrt-v4's DielectricBxDF): on each GGX microfacet the exact Fresnel
 * reflectance F(wo.h, eta) reflects, 1 - F refracts by Snell's law, tinted by
 * the base colour; radiance is scaled by 1 / eta^2 on the way through. The
 * coating and the Lambert base keep the other 1 - t:
 *   dielectric (1 - m) * [ (1 - t) * (coating over Lambert) + t * boundary ]
 * eta is the IOR beyond the surface over the IOR on wo's side: ior entering,
 * 1 / ior leaving. Single scattering: a rough boundary loses the energy of
 * the microfacet paths that would bounce twice (none when smooth).
 *
 * xs_bsdf_eval returns f * |cos(wi)| and the pdf xs_bsdf_sample would draw wi
 * with; xs_bsdf_sample picks a lobe by its estimated albedo and returns the
 * weight f |cos| / pdf, pdf summed over all lobes (one-sample MIS over lobes).
 */
#ifndef XS_BSDF_H
#define XS_BSDF_H

#include "kernels/xs_math.h"

enum { XS_GGX_TABLE_N = 32 }; /* entries in cos(theta_o) and in roughness */

typedef struct xs_bsdf {
    xs_vec3 base;       /* linear base colour */
    float metallic;
    float alpha;        /* GGX alpha = roughness^2, clamped away from 0 */
    float transmission; /* transmitting share of the dielectric base */
    float eta;          /* > 0: solid boundary, IOR beyond / IOR on wo's side; 0: thin wall */
    float f0;           /* dielectric normal-incidence reflectance from the IOR; 0 (IOR 1):
                           no interface, so no coating at all (a pure Lambert base) */
    /* filled by xs_bsdf_prepare for one wo */
    float w_spec, w_diff, w_trans; /* lobe choice probabilities */
    float coat;                   /* weight of the dielectric coating lobe */
    xs_vec3 spec_scale;           /* multiple-scattering compensation per channel */
    float diel_comp;              /* same, dielectric (scalar F0) */
    float base_weight;            /* 1 - E_spec(wo): what the coating leaves */
    float e_ggx;                  /* E(wo) of the bare lobe, F = 1 */
    bool lambert;                 /* no metal, no coating (IOR 1), no transmission: the Lambert
                                     base alone, evaluated and sampled without the GGX terms */
} xs_bsdf;

XS_DEVICE float xs_ggx_d(float alpha, float cos_h)
{
    float a2 = alpha * alpha;
    float c2 = cos_h * cos_h;
    float d = c2 * (a2 - 1.0f) + 1.0f;
    return a2 / (XS_PI * d * d);
}

XS_DEVICE float xs_ggx_lambda(float alpha, float cos_t)
{
    float c2 = cos_t * cos_t;
    if (c2 >= 1.0f)
        return 0.0f;
    float tan2 = (1.0f - c2) / xs_maxf(c2, 1e-12f);
    return 0.5f * (-1.0f + sqrtf(1.0f + alpha * alpha * tan2));
}

XS_DEVICE float xs_schlick_w(float c)
{
    float m = xs_maxf(0.0f, xs_minf(1.0f, 1.0f - c));
    float m2 = m * m;
    return m2 * m2 * m;
}

/* Visible-normal sampling (Heitz 2018): a half vector for wo (z > 0). */
XS_DEVICE xs_vec3 xs_ggx_sample_vndf(float alpha, xs_vec3 wo, float u1, float u2)
{
    xs_vec3 vh = xs_normalize(xs_v3(alpha * wo.x, alpha * wo.y, wo.z));
    float len2 = vh.x * vh.x + vh.y * vh.y;
    xs_vec3 t1 = len2 > 0.0f ? xs_scale(xs_v3(-vh.y, vh.x, 0.0f), 1.0f / sqrtf(len2))
                             : xs_v3(1.0f, 0.0f, 0.0f);
    xs_vec3 t2 = xs_cross(vh, t1);
    float r = sqrtf(u1), phi = 2.0f * XS_PI * u2;
    float p1 = r * cosf(phi), p2 = r * sinf(phi);
    float s = 0.5f * (1.0f + vh.z);
    p2 = (1.0f - s) * sqrtf(xs_maxf(0.0f, 1.0f - p1 * p1)) + s * p2;
    xs_vec3 nh = xs_add(xs_add(xs_scale(t1, p1), xs_scale(t2, p2)),
                        xs_scale(vh, sqrtf(xs_maxf(0.0f, 1.0f - p1 * p1 - p2 * p2))));
    return xs_normalize(xs_v3(alpha * nh.x, alpha * nh.y, xs_maxf(1e-7f, nh.z)));
}

/* The bare GGX reflection lobe (F = 1) for wo, wi above the surface:
 * returns D G2 / (4 cos_o) (that is f |cos_i|), the VNDF pdf of wi, and
 * wo.h for the Fresnel term. */
XS_DEVICE float xs_ggx_reflect_eval(float alpha, xs_vec3 wo, xs_vec3 wi, float *pdf, float *cos_oh)
{
    *pdf = 0.0f;
    *cos_oh = 0.0f;
    if (wo.z <= 0.0f || wi.z <= 0.0f)
        return 0.0f;
    xs_vec3 h = xs_add(wo, wi);
    float hl = xs_length(h);
    if (!(hl > 0.0f))
        return 0.0f;
    h = xs_scale(h, 1.0f / hl);
    float d = xs_ggx_d(alpha, h.z);
    float lo = xs_ggx_lambda(alpha, wo.z), li = xs_ggx_lambda(alpha, wi.z);
    float g1 = 1.0f / (1.0f + lo), g2 = 1.0f / (1.0f + lo + li);
    *pdf = g1 * d / (4.0f * wo.z);
    *cos_oh = xs_maxf(0.0f, xs_dot(wo, h));
    return d * g2 / (4.0f * wo.z);
}

/* Reflectance of a smooth dielectric boundary seen at cos_i (> 0) with
 * relative IOR eta (beyond / this side); *cos_t gets the refracted cosine.
 * 1 past the critical angle (total internal reflection). */
XS_DEVICE float xs_fresnel_dielectric(float cos_i, float eta, float *cos_t)
{
    cos_i = xs_minf(1.0f, cos_i);
    float sin2_t = (1.0f - cos_i * cos_i) / (eta * eta);
    if (sin2_t >= 1.0f) {
        *cos_t = 0.0f;
        return 1.0f;
    }
    float ct = sqrtf(1.0f - sin2_t);
    float rpar = (eta * cos_i - ct) / (eta * cos_i + ct);
    float rperp = (cos_i - eta * ct) / (cos_i + eta * ct);
    *cos_t = ct;
    return 0.5f * (rpar * rpar + rperp * rperp);
}

/* The refracting GGX lobe of a dielectric boundary for wo above and wi
 * below: returns f |cos_i| with the Fresnel transmittance 1 - F and the
 * 1 / eta^2 radiance scale, and the pdf of drawing wi (a VNDF half vector,
 * then refraction with probability 1 - F). */
XS_DEVICE float xs_ggx_refract_eval(float alpha, float eta, xs_vec3 wo, xs_vec3 wi, float *pdf)
{
    *pdf = 0.0f;
    if (wo.z <= 0.0f || wi.z >= 0.0f)
        return 0.0f;
    xs_vec3 h = xs_add(wo, xs_scale(wi, eta)); /* the generalized half vector */
    float hl = xs_length(h);
    if (!(hl > 0.0f))
        return 0.0f;
    h = xs_scale(h, (h.z < 0.0f ? -1.0f : 1.0f) / hl);
    float doh = xs_dot(wo, h), dih = xs_dot(wi, h);
    if (doh <= 0.0f || dih >= 0.0f) /* the microfacet must face wo and have wi beyond it */
        return 0.0f;
    float ct;
    float tr = 1.0f - xs_fresnel_dielectric(doh, eta, &ct);
    float denom = dih + doh / eta;
    float denom2 = denom * denom;
    if (!(tr > 0.0f) || !(denom2 > 0.0f))
        return 0.0f;
    float d = xs_ggx_d(alpha, h.z);
    float lo = xs_ggx_lambda(alpha, wo.z), li = xs_ggx_lambda(alpha, -wi.z);
    float g1 = 1.0f / (1.0f + lo), g2 = 1.0f / (1.0f + lo + li);
    *pdf = tr * g1 * d * doh / wo.z * (-dih) / denom2;
    return tr * d * g2 * (-dih) * doh / (wo.z * denom2) / (eta * eta);
}

/* Bilinear lookup in one of the host-built tables (xs_ggx_table): row-major,
 * roughness (sqrt alpha) down, cos(theta_o) across, both on [0, 1]. */
XS_DEVICE float xs_table_lookup(const float *t, float cos_o, float alpha)
{
    const int n = XS_GGX_TABLE_N;
    float x = xs_maxf(0.0f, xs_minf(1.0f, cos_o)) * (float)(n - 1);
    float y = xs_maxf(0.0f, xs_minf(1.0f, sqrtf(alpha))) * (float)(n - 1);
    int x0 = (int)x, y0 = (int)y;
    x0 = x0 > n - 2 ? n - 2 : x0;
    y0 = y0 > n - 2 ? n - 2 : y0;
    float fx = x - (float)x0, fy = y - (float)y0;
    const float *r0 = t + y0 * n, *r1 = t + (y0 + 1) * n;
    return (r0[x0] * (1.0f - fx) + r0[x0 + 1] * fx) * (1.0f - fy) +
           (r1[x0] * (1.0f - fx) + r1[x0 + 1] * fx) * fy;
}

XS_DEVICE float xs_luminance(xs_vec3 c) { return 0.2126f * c.x + 0.7152f * c.y + 0.0722f * c.z; }

/* Per-wo set-up: lobe weights and energy compensation. tables: E (F = 1) and
 * E_w (the share of E weighted by Schlick's (1 - cos)^5), 2 x N x N floats. */
XS_DEVICE void xs_bsdf_prepare(xs_bsdf *b, const float *tables, xs_vec3 wo)
{
    /* the Lambert base alone: every other lobe's weight is exactly 0 */
    b->lambert = b->metallic == 0.0f && b->f0 == 0.0f && b->transmission == 0.0f;
    if (b->lambert) {
        const bool lit = xs_luminance(b->base) > 0.0f;
        b->w_spec = b->w_trans = 0.0f;
        b->w_diff = lit ? 1.0f : 0.0f;
        b->coat = 1.0f;
        b->spec_scale = xs_v3_all(1.0f);
        b->diel_comp = 0.0f;
        b->base_weight = 1.0f;
        b->e_ggx = 1.0f;
        return;
    }
    float mu = xs_maxf(1e-4f, wo.z);
    float e = xs_maxf(1e-3f, xs_table_lookup(tables, mu, b->alpha));
    float ew = xs_table_lookup(tables + XS_GGX_TABLE_N * XS_GGX_TABLE_N, mu, b->alpha);
    b->e_ggx = e;
    /* Schlick: E_F = F0 (E - E_w) + E_w; compensation 1 + F0 (1 - E) / E */
    float k = (1.0f - e) / e;
    b->spec_scale = xs_v3(1.0f + b->base.x * k, 1.0f + b->base.y * k, 1.0f + b->base.z * k);
    b->diel_comp = b->f0 > 0.0f ? 1.0f + b->f0 * k : 0.0f;
    float e_diel = xs_minf(1.0f, (b->f0 * (e - ew) + ew) * b->diel_comp);
    b->base_weight = 1.0f - e_diel;
    xs_vec3 e_metal = xs_v3((b->base.x * (e - ew) + ew) * b->spec_scale.x,
                            (b->base.y * (e - ew) + ew) * b->spec_scale.y,
                            (b->base.z * (e - ew) + ew) * b->spec_scale.z);
    float lb = xs_maxf(0.0f, xs_luminance(b->base));
    float wd = (1.0f - b->metallic) * b->base_weight * (1.0f - b->transmission) * lb;
    float wt;
    if (b->eta > 0.0f) {
        /* the boundary replaces the coating over the transmitting share; its
         * albedo is about F0 + (1 - F0) times the tint */
        b->coat = (1.0f - b->metallic) * (1.0f - b->transmission);
        float r = (b->eta - 1.0f) / (b->eta + 1.0f);
        wt = (1.0f - b->metallic) * b->transmission * (r * r + (1.0f - r * r) * xs_maxf(lb, 0.02f));
    } else {
        b->coat = 1.0f - b->metallic;
        wt = (1.0f - b->metallic) * b->base_weight * b->transmission * lb;
    }
    float ws = b->metallic * xs_luminance(e_metal) + b->coat * e_diel;
    float sum = ws + wd + wt;
    if (!(sum > 0.0f)) {
        b->w_spec = b->w_diff = b->w_trans = 0.0f;
        return;
    }
    b->w_spec = ws / sum;
    b->w_diff = wd / sum;
    b->w_trans = wt / sum;
}

/* The specular reflection of both lobes for a given wo.h: metal and coating. */
XS_DEVICE xs_vec3 xs_bsdf_spec_color(const xs_bsdf *b, float cos_oh)
{
    float w = xs_schlick_w(cos_oh);
    xs_vec3 fm = xs_v3((b->base.x + (1.0f - b->base.x) * w) * b->spec_scale.x,
                       (b->base.y + (1.0f - b->base.y) * w) * b->spec_scale.y,
                       (b->base.z + (1.0f - b->base.z) * w) * b->spec_scale.z);
    float fd = (b->f0 + (1.0f - b->f0) * w) * b->diel_comp;
    return xs_add(xs_scale(fm, b->metallic), xs_v3_all(b->coat * fd));
}

/* f |cos(wi)| and the sampling pdf of wi. */
XS_DEVICE xs_vec3 xs_bsdf_eval(const xs_bsdf *b, xs_vec3 wo, xs_vec3 wi, float *pdf)
{
    xs_vec3 f = xs_v3_all(0.0f);
    *pdf = 0.0f;
    if (wo.z <= 0.0f)
        return f;
    if (b->lambert) {
        if (wi.z > 0.0f) {
            *pdf = b->w_diff * wi.z * XS_INV_PI;
            f = xs_scale(b->base, wi.z * XS_INV_PI);
        }
        return f;
    }
    if (wi.z > 0.0f) {
        float p, coh;
        float g = xs_ggx_reflect_eval(b->alpha, wo, wi, &p, &coh);
        f = xs_scale(xs_bsdf_spec_color(b, coh), g);
        *pdf = b->w_spec * p;
        float kd = (1.0f - b->metallic) * b->base_weight * (1.0f - b->transmission);
        f = xs_add(f, xs_scale(b->base, kd * wi.z * XS_INV_PI));
        *pdf += b->w_diff * wi.z * XS_INV_PI;
        if (b->eta > 0.0f && b->transmission > 0.0f && coh > 0.0f) {
            /* the boundary's reflection: exact Fresnel, chosen with probability F */
            float ct, fr = xs_fresnel_dielectric(coh, b->eta, &ct);
            f = xs_add(f, xs_v3_all((1.0f - b->metallic) * b->transmission * fr * g));
            *pdf += b->w_trans * fr * p;
        }
    } else if (wi.z < 0.0f && b->transmission > 0.0f && b->eta > 0.0f) {
        float p;
        float g = xs_ggx_refract_eval(b->alpha, b->eta, wo, wi, &p);
        f = xs_scale(b->base, (1.0f - b->metallic) * b->transmission * g);
        *pdf = b->w_trans * p;
    } else if (wi.z < 0.0f && b->transmission > 0.0f) {
        xs_vec3 wm = xs_v3(wi.x, wi.y, -wi.z); /* thin wall: mirror back up */
        float p, coh;
        float g = xs_ggx_reflect_eval(b->alpha, wo, wm, &p, &coh);
        float kt = (1.0f - b->metallic) * b->base_weight * b->transmission / b->e_ggx;
        f = xs_scale(b->base, kt * g);
        *pdf = b->w_trans * p;
    }
    return f;
}

/* Draws wi with (ul: lobe choice; u1, u2: direction). Returns false when the
 * sample is absorbed. weight = f |cos| / pdf. */
XS_DEVICE bool xs_bsdf_sample(const xs_bsdf *b, xs_vec3 wo, float ul, float u1, float u2,
                              xs_vec3 *wi, xs_vec3 *weight, float *pdf)
{
    if (wo.z <= 0.0f || !(b->w_spec + b->w_diff + b->w_trans > 0.0f))
        return false;
    bool transmit = false;
    if (ul < b->w_spec) {
        xs_vec3 h = xs_ggx_sample_vndf(b->alpha, wo, u1, u2);
        float c = xs_dot(wo, h);
        *wi = xs_sub(xs_scale(h, 2.0f * c), wo);
    } else if (ul < b->w_spec + b->w_diff) {
        float r = sqrtf(u1), phi = 2.0f * XS_PI * u2;
        *wi = xs_v3(r * cosf(phi), r * sinf(phi), sqrtf(xs_maxf(0.0f, 1.0f - u1)));
    } else if (b->eta > 0.0f) {
        /* the boundary: reflect with probability F, else refract; the lobe's
         * share of ul decides */
        xs_vec3 h = xs_ggx_sample_vndf(b->alpha, wo, u1, u2);
        float c = xs_dot(wo, h), ct;
        float fr = xs_fresnel_dielectric(c, b->eta, &ct);
        float u = (ul - b->w_spec - b->w_diff) / xs_maxf(b->w_trans, 1e-20f);
        if (u < fr) {
            *wi = xs_sub(xs_scale(h, 2.0f * c), wo);
        } else {
            *wi = xs_add(xs_scale(wo, -1.0f / b->eta), xs_scale(h, c / b->eta - ct));
            transmit = true;
        }
    } else {
        xs_vec3 h = xs_ggx_sample_vndf(b->alpha, wo, u1, u2);
        float c = xs_dot(wo, h);
        xs_vec3 r = xs_sub(xs_scale(h, 2.0f * c), wo);
        *wi = xs_v3(r.x, r.y, -r.z);
        transmit = true;
    }
    /* a microfacet reflection below the horizon is lost (single scattering):
     * it must not be mistaken for the other side's lobe */
    if (transmit ? !(wi->z < 0.0f) : !(wi->z > 0.0f))
        return false;
    xs_vec3 f = xs_bsdf_eval(b, wo, *wi, pdf);
    if (!(*pdf > 0.0f))
        return false;
    *weight = xs_scale(f, 1.0f / *pdf);
    return true;
}

/* One entry of the host's tables: E and E_w at (cos_o, alpha), integrated by
 * n x n stratified VNDF samples (the VNDF weight is G2 / G1). */
XS_DEVICE void xs_ggx_albedo(float cos_o, float alpha, int n, float *e, float *ew)
{
    cos_o = xs_maxf(1e-4f, cos_o);
    xs_vec3 wo = xs_v3(sqrtf(xs_maxf(0.0f, 1.0f - cos_o * cos_o)), 0.0f, cos_o);
    double se = 0.0, sw = 0.0;
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
            xs_vec3 h = xs_ggx_sample_vndf(alpha, wo, ((float)i + 0.5f) / (float)n,
                                           ((float)j + 0.5f) / (float)n);
            float c = xs_dot(wo, h);
            xs_vec3 wi = xs_sub(xs_scale(h, 2.0f * c), wo);
            if (wi.z <= 0.0f)
                continue;
            float lo = xs_ggx_lambda(alpha, wo.z), li = xs_ggx_lambda(alpha, wi.z);
            float w = (1.0f + lo) / (1.0f + lo + li);
            se += (double)w;
            sw += (double)(w * xs_schlick_w(c));
        }
    *e = (float)(se / (double)(n * n));
    *ew = (float)(sw / (double)(n * n));
}

XS_DEVICE float xs_roughness_to_alpha(float roughness)
{
    float r = xs_maxf(0.0f, xs_minf(1.0f, roughness));
    return xs_maxf(1e-3f, r * r);
}

#endif
