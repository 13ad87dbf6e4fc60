/* Tests of the glTF BSDF (kernels/xs_bsdf.h) and the sampler
 * (kernels/xs_sampler.h), without a scene.
 *
 * chi2_*: each configuration draws N directions with xs_bsdf_sample and
 * compares their histogram over the sphere (cos(theta) x phi bins) with the
 * counts the pdf of xs_bsdf_eval predicts (integrated per bin on a 24x24
 * sub-grid), Pearson's chi-square with bins of expected count < 5 pooled. The
 * test fails when the p-value is below 1e-4 / (number of configurations)
 * (Sidak-style correction; pbrt-v4 uses the same scheme).
 * weights: the returned weight equals f |cos| / pdf from xs_bsdf_eval.
 * albedo: the mean weight over many samples (the directional albedo) is 1
 * for a white metal and a white dielectric at every roughness and angle
 * (energy compensation), and never above 1 + 2% for coloured ones.
 * sobol: the sampler's 2-D points are stratified: with 2^k samples every
 * elementary interval of area 2^-k holds exactly one point; a sample's
 * dimension pairs, and two pixels' points, are uncorrelated.
 * solid: the refracting boundary of a solid (KHR_materials_volume): chi-square
 * of its sampling entering (eta 1.5) and leaving (eta 1 / 1.5, with total
 * internal reflection) at three roughnesses, mixed with a Lambert share;
 * Snell's law for a smooth boundary (sin t = sin o / eta, the plane of
 * incidence kept); energy: with the 1 / eta^2 radiance scale taken out, a
 * white boundary returns what it receives within 1% when smooth and never
 * more than that when rough (single scattering loses some). */
#include "kernels/xs_bsdf.h"
#include "kernels/xs_rng.h"
#include "kernels/xs_sampler.h"
#include "render/xs_backend.h"
#include "render/xs_film.h"
#include "render/xs_scene.h"
#include "test_util.h"

#include <math.h>

enum { NT = 24, NP = 48 };

static xs_bsdf make(xs_vec3 base, float metallic, float rough, float trans, float ior)
{
    xs_bsdf b;
    memset(&b, 0, sizeof b);
    b.base = base;
    b.metallic = metallic;
    b.alpha = xs_roughness_to_alpha(rough);
    b.transmission = trans;
    float r = (ior - 1.0f) / (ior + 1.0f);
    b.f0 = r * r;
    return b;
}

static xs_bsdf make_solid(xs_vec3 base, float rough, float trans, float eta)
{
    float ior = eta >= 1.0f ? eta : 1.0f / eta;
    xs_bsdf b = make(base, 0.0f, rough, trans, ior);
    b.eta = eta;
    return b;
}

static xs_vec3 wo_at(float cos_o)
{
    return xs_v3(sqrtf(1.0f - cos_o * cos_o), 0.0f, cos_o);
}

/* Upper regularized incomplete gamma Q(a, x) for the chi-square p-value:
 * series for x < a + 1, continued fraction otherwise (Numerical Recipes' scheme). */
static double gamma_q(double a, double x)
{
    if (x <= 0.0)
        return 1.0;
    double gln = lgamma(a);
    if (x < a + 1.0) {
        double ap = a, sum = 1.0 / a, del = sum;
        for (int n = 0; n < 10000; ++n) {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if (fabs(del) < fabs(sum) * 1e-14)
                break;
        }
        return 1.0 - sum * exp(-x + a * log(x) - gln);
    }
    double b = x + 1.0 - a, c = 1.0 / 1e-300, d = 1.0 / b, h = d;
    for (int i = 1; i < 10000; ++i) {
        double an = -i * (i - a);
        b += 2.0;
        d = an * d + b;
        if (fabs(d) < 1e-300)
            d = 1e-300;
        c = b + an / c;
        if (fabs(c) < 1e-300)
            c = 1e-300;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < 1e-14)
            break;
    }
    return exp(-x + a * log(x) - gln) * h;
}

static xs_vec3 dir_of(double ct, double ph)
{
    double st = sqrt(fmax(0.0, 1.0 - ct * ct));
    return xs_v3((float)(st * cos(ph)), (float)(st * sin(ph)), (float)ct);
}


/* ---- the closed forms, written out here (double precision) ---------------
 * glTF 2.0 Appendix B and the papers xs_bsdf.h cites: Trowbridge-Reitz
 * D(h) = a^2 / (pi ((n.h)^2 (a^2 - 1) + 1)^2), a = roughness^2; Smith's
 * Lambda(w) = (-1 + sqrt(1 + a^2 tan^2)) / 2, height-correlated
 * G2 = 1 / (1 + Lambda(o) + Lambda(i)), G1 = 1 / (1 + Lambda(o)); Schlick
 * F = F0 + (1 - F0) (1 - o.h)^5; reflection f |cos_i| = F D G2 / (4 cos_o);
 * the VNDF pdf G1 D / (4 cos_o); refraction (Walter 2007, pbrt-v4's
 * DielectricBxDF) f |cos_i| = (1 - F_exact) D G2 |i.h| |o.h| /
 * (cos_o (i.h + o.h / eta)^2) / eta^2, h = normalize(o + eta i). E(cos_o),
 * the directional albedo of the bare lobe (F = 1), and E_F(F0) are
 * integrated here by quadrature over the hemisphere; the energy
 * compensation is Turquin's 1 + F0 (1 - E) / E. */
typedef struct { double x, y, z; } dvec;

static dvec dv(double x, double y, double z) { dvec v = {x, y, z}; return v; }
static dvec dnorm(dvec v)
{
    double l = sqrt(v.x * v.x + v.y * v.y + v.z * v.z);
    return dv(v.x / l, v.y / l, v.z / l);
}
static double ddot(dvec a, dvec b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
static double ref_d(double a, double ch)
{
    double t = ch * ch * (a * a - 1.0) + 1.0;
    return a * a / (M_PI * t * t);
}
static double ref_lambda(double a, double c)
{
    if (c >= 1.0)
        return 0.0;
    double t2 = (1.0 - c * c) / (c * c);
    return 0.5 * (-1.0 + sqrt(1.0 + a * a * t2));
}
static double ref_schlick(double f0, double c) { return f0 + (1.0 - f0) * pow(1.0 - c, 5.0); }
/* bare GGX reflection (F = 1): f |cos_i|; *coh = o.h, *pdf the VNDF pdf */
static double ref_ggx(double a, dvec o, dvec i, double *coh, double *pdf)
{
    dvec h = dnorm(dv(o.x + i.x, o.y + i.y, o.z + i.z));
    double lo = ref_lambda(a, o.z), li = ref_lambda(a, i.z), d = ref_d(a, h.z);
    *coh = ddot(o, h);
    *pdf = d / (1.0 + lo) / (4.0 * o.z);
    return d / (1.0 + lo + li) / (4.0 * o.z);
}
/* E(cos_o) with F = 1 and E_F with Schlick(f0): the integral over wi
 * written over half vectors distributed by D (cos^2 theta_h =
 * (1 - u) / (1 + u (a^2 - 1)), pdf D cos theta_h, d wi = 4 o.h d h), so
 * f |cos_i| d wi = F G2 (o.h) / (cos_o cos_h) du dphi / (2 pi), smooth for any
 * roughness; midpoint rule over (u, phi), 600 x 600 */
static void ref_albedo(double a, double cos_o, double f0, double *e, double *ef)
{
    dvec o = dv(sqrt(fmax(0.0, 1.0 - cos_o * cos_o)), 0.0, cos_o);
    const int n = 600;
    double se = 0.0, sf = 0.0;
    for (int k = 0; k < n; ++k) {
        double u = (k + 0.5) / n;
        double ch = sqrt((1.0 - u) / (1.0 + u * (a * a - 1.0))), sh = sqrt(fmax(0.0, 1.0 - ch * ch));
        for (int m = 0; m < n; ++m) {
            double ph = 2.0 * M_PI * (m + 0.5) / n;
            dvec h = dv(sh * cos(ph), sh * sin(ph), ch);
            double coh = ddot(o, h);
            if (coh <= 0.0)
                continue;
            dvec i = dv(2.0 * coh * h.x - o.x, 2.0 * coh * h.y - o.y, 2.0 * coh * h.z - o.z);
            if (i.z <= 0.0)
                continue;
            double g2 = 1.0 / (1.0 + ref_lambda(a, o.z) + ref_lambda(a, i.z));
            double v = g2 * coh / (cos_o * ch);
            se += v;
            sf += v * ref_schlick(f0, coh);
        }
    }
    double dw = 1.0 / ((double)n * n); /* du dphi / (2 pi) */
    *e = se * dw;
    *ef = sf * dw;
}
static double ref_fresnel_exact(double ci, double eta)
{
    double s2 = (1.0 - ci * ci) / (eta * eta);
    if (s2 >= 1.0)
        return 1.0;
    double ct = sqrt(1.0 - s2);
    double rpar = (eta * ci - ct) / (eta * ci + ct), rperp = (ci - eta * ct) / (ci + eta * ct);
    return 0.5 * (rpar * rpar + rperp * rperp);
}

static dvec ddir(double cos_t, double phi)
{
    double st = sqrt(1.0 - cos_t * cos_t);
    return dv(st * cos(phi), st * sin(phi), cos_t);
}

/* relative error against a reference, with a floor for values near 0 */
static double rel_err(double got, double want) { return fabs(got - want) / fmax(fabs(want), 1e-4); }

/* Returns the p-value of one configuration. */
static double chi2_run(const char *label, xs_bsdf b, float cos_o, int n)
{
    static double obs[NT * NP], expct[NT * NP];
    const float *tab = xs_ggx_table();
    xs_vec3 wo = wo_at(cos_o);
    xs_bsdf_prepare(&b, tab, wo);
    memset(obs, 0, sizeof obs);
    xs_rng rng = xs_rng_init(7, 0, 1, 2, 3);
    int drawn = 0;
    for (int i = 0; i < n; ++i) {
        float ul = xs_rng_float(&rng), u1 = xs_rng_float(&rng), u2 = xs_rng_float(&rng);
        xs_vec3 wi, w;
        float pdf;
        if (!xs_bsdf_sample(&b, wo, ul, u1, u2, &wi, &w, &pdf))
            continue;
        drawn++;
        int t = (int)((wi.z + 1.0f) * 0.5f * NT);
        double ph = atan2((double)wi.y, (double)wi.x);
        if (ph < 0.0)
            ph += 2.0 * M_PI;
        int p = (int)(ph / (2.0 * M_PI) * NP);
        t = t < 0 ? 0 : (t >= NT ? NT - 1 : t);
        p = p < 0 ? 0 : (p >= NP ? NP - 1 : p);
        obs[t * NP + p] += 1.0;
    }
    const int S = 24;
    double total_pdf = 0.0;
    for (int t = 0; t < NT; ++t)
        for (int p = 0; p < NP; ++p) {
            double acc = 0.0;
            for (int i = 0; i < S; ++i)
                for (int j = 0; j < S; ++j) {
                    double ct = -1.0 + 2.0 * (t + (i + 0.5) / S) / NT;
                    double ph = 2.0 * M_PI * (p + (j + 0.5) / S) / NP;
                    float pdf;
                    xs_bsdf_eval(&b, wo, dir_of(ct, ph), &pdf);
                    acc += pdf;
                }
            /* solid angle of a bin: d(cos) d(phi) */
            double area = (2.0 / NT) * (2.0 * M_PI / NP);
            expct[t * NP + p] = acc / (S * S) * area * n;
            total_pdf += acc / (S * S) * area;
        }
    /* pool small bins into one */
    double chi2 = 0.0, pool_o = 0.0, pool_e = 0.0;
    int dof = 0;
    for (int k = 0; k < NT * NP; ++k) {
        if (expct[k] < 5.0) {
            pool_o += obs[k];
            pool_e += expct[k];
            continue;
        }
        double d = obs[k] - expct[k];
        chi2 += d * d / expct[k];
        dof++;
    }
    if (pool_e > 5.0) {
        double d = pool_o - pool_e;
        chi2 += d * d / pool_e;
        dof++;
    } else if (pool_o > 25.0) {
        chi2 += 1e9; /* samples where the pdf says (almost) none */
    }
    dof -= 1;
    double pval = dof > 0 ? gamma_q(0.5 * dof, 0.5 * chi2) : 1.0;
    /* The pdf integrates to the probability that a sample is drawn at all
     * (a microfacet reflection below the horizon is lost): both ways, so a
     * pdf that is too small everywhere fails too. The tolerance covers the
     * bins' integration of narrow lobes (measured worst: 0.0085, a refracted
     * lobe of roughness 0.2 seen head-on; the others within 0.002). */
    double share = (double)drawn / n;
    printf("%-34s cos_o %.2f: chi2 %.1f dof %d p %.4f (pdf integral %.4f, share drawn %.4f)\n", label,
           cos_o, chi2, dof, pval, total_pdf, share);
    CHECK_MSG(total_pdf < 1.0 + 0.02, "%s: the pdf integrates to %.4f > 1", label, total_pdf);
    CHECK_MSG(fabs(total_pdf - share) < 0.015, "%s at cos %.2f: the pdf integrates to %.4f but %.4f of "
              "the samples were drawn", label, cos_o, total_pdf, share);
    return pval;
}

static void test_chi2(void)
{
    struct {
        const char *label;
        xs_vec3 base;
        float metallic, rough, trans, ior;
    } cfg[] = {
        {"lambert (ior 1)", {0.8f, 0.8f, 0.8f}, 0.0f, 1.0f, 0.0f, 1.0f},
        {"metal rough 0.3", {0.9f, 0.6f, 0.3f}, 1.0f, 0.3f, 0.0f, 1.5f},
        {"metal rough 0.7", {0.9f, 0.9f, 0.9f}, 1.0f, 0.7f, 0.0f, 1.5f},
        {"metal rough 1.0", {1.0f, 1.0f, 1.0f}, 1.0f, 1.0f, 0.0f, 1.5f},
        {"plastic rough 0.4", {0.2f, 0.5f, 0.8f}, 0.0f, 0.4f, 0.0f, 1.5f},
        {"plastic rough 0.15", {0.5f, 0.5f, 0.5f}, 0.0f, 0.15f, 0.0f, 1.5f},
        {"half metal rough 0.5", {0.7f, 0.7f, 0.3f}, 0.5f, 0.5f, 0.0f, 1.5f},
        {"thin glass rough 0.3", {1.0f, 1.0f, 1.0f}, 0.0f, 0.3f, 1.0f, 1.5f},
        {"half thin glass rough 0.6", {0.6f, 0.9f, 0.6f}, 0.0f, 0.6f, 0.5f, 1.33f},
    };
    const float cosines[] = {0.95f, 0.5f, 0.15f};
    int runs = (int)(sizeof cfg / sizeof cfg[0]) * 3;
    double alpha = 1e-4 / runs;
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; ++i)
        for (int c = 0; c < 3; ++c) {
            xs_bsdf b = make(cfg[i].base, cfg[i].metallic, cfg[i].rough, cfg[i].trans, cfg[i].ior);
            double p = chi2_run(cfg[i].label, b, cosines[c], 400000);
            CHECK_MSG(p > alpha, "%s at cos %.2f: p %.2g below %.2g: sampling does not match the pdf",
                      cfg[i].label, cosines[c], p, alpha);
        }
}

static void test_weights(void)
{
    const float *tab = xs_ggx_table();
    xs_rng rng = xs_rng_init(3, 1, 4, 1, 5);
    for (int i = 0; i < 20000; ++i) {
        xs_bsdf b = make(xs_v3(xs_rng_float(&rng), xs_rng_float(&rng), xs_rng_float(&rng)),
                         xs_rng_float(&rng), xs_rng_float(&rng), xs_rng_float(&rng) < 0.3f ? 0.7f : 0.0f,
                         1.0f + 1.5f * xs_rng_float(&rng));
        if (b.transmission > 0.0f && xs_rng_float(&rng) < 0.5f) /* a solid's boundary */
            b.eta = xs_rng_float(&rng) < 0.5f ? 1.0f / (1.0f + 1.5f * xs_rng_float(&rng))
                                              : 1.0f + 1.5f * xs_rng_float(&rng);
        xs_vec3 wo = wo_at(0.02f + 0.98f * xs_rng_float(&rng));
        xs_bsdf_prepare(&b, tab, wo);
        xs_vec3 wi, w;
        float pdf;
        if (!xs_bsdf_sample(&b, wo, xs_rng_float(&rng), xs_rng_float(&rng), xs_rng_float(&rng), &wi, &w, &pdf))
            continue;
        float pdf2;
        xs_vec3 f = xs_bsdf_eval(&b, wo, wi, &pdf2);
        CHECK(fabsf(pdf - pdf2) <= 1e-4f * pdf2);
        CHECK(isfinite(w.x) && isfinite(w.y) && isfinite(w.z));
        /* every channel; the tolerance scales with |f| so it stays positive
         * when a channel of f is negative (which is itself a failure) */
        const float fc[3] = {f.x, f.y, f.z}, wc[3] = {w.x, w.y, w.z};
        for (int c = 0; c < 3; ++c) {
            CHECK_MSG(fc[c] >= 0.0f, "sample %d channel %d: f |cos| = %g is negative", i, c, fc[c]);
            CHECK_MSG(fabsf(wc[c] * pdf2 - fc[c]) <= 1e-3f * (fabsf(fc[c]) + 1e-6f),
                      "sample %d channel %d: weight %g x pdf %g != f |cos| %g", i, c, wc[c], pdf2, fc[c]);
        }
        if (xs_test_failures)
            return;
    }
}

/* Directional albedo by sampling: mean of the weights. */
static double albedo(xs_bsdf b, float cos_o, int n, double *chan)
{
    xs_vec3 wo = wo_at(cos_o);
    xs_bsdf_prepare(&b, xs_ggx_table(), wo);
    double s[3] = {0, 0, 0};
    for (int i = 0; i < n; ++i) {
        /* stratified over the lobe choice and a 2-D Sobol' pattern */
        uint32_t x, y;
        xs_sobol_pair(0x1234u, (uint32_t)i, 0, &x, &y);
        float ul = ((float)(i % 97) + 0.5f) / 97.0f;
        xs_vec3 wi, w;
        float pdf;
        if (!xs_bsdf_sample(&b, wo, ul, xs_u32_to_float(x), xs_u32_to_float(y), &wi, &w, &pdf))
            continue;
        s[0] += w.x, s[1] += w.y, s[2] += w.z;
    }
    for (int c = 0; c < 3; ++c)
        chan[c] = s[c] / n;
    return (chan[0] + chan[1] + chan[2]) / 3.0;
}

static void test_albedo(void)
{
    const float roughs[] = {0.05f, 0.3f, 0.6f, 1.0f};
    const float cosines[] = {1.0f, 0.7f, 0.3f, 0.08f};
    double worst_metal = 0.0, worst_plastic = 0.0, worst_thin = 0.0, worst_col = 0.0, ch[3];
    for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) {
            double m = albedo(make(xs_v3_all(1.0f), 1.0f, roughs[r], 0.0f, 1.5f), cosines[c], 1 << 17, ch);
            double p = albedo(make(xs_v3_all(1.0f), 0.0f, roughs[r], 0.0f, 1.5f), cosines[c], 1 << 17, ch);
            double t = albedo(make(xs_v3_all(1.0f), 0.0f, roughs[r], 1.0f, 1.5f), cosines[c], 1 << 17, ch);
            printf("rough %.2f cos %.2f: white metal %.4f, white plastic %.4f, white thin glass %.4f\n",
                   roughs[r], cosines[c], m, p, t);
            worst_metal = fmax(worst_metal, fabs(m - 1.0));
            worst_plastic = fmax(worst_plastic, fabs(p - 1.0));
            worst_thin = fmax(worst_thin, fabs(t - 1.0));
            /* coloured: never more than it receives, and per channel what the
             * closed form gives: E_F(F0) (1 + F0 (1 - E) / E) */
            const double col[3] = {0.9, 0.5, 0.1};
            xs_bsdf cb = make(xs_v3(0.9f, 0.5f, 0.1f), 1.0f, roughs[r], 0.0f, 1.5f);
            double cm = albedo(cb, cosines[c], 1 << 15, ch);
            CHECK(ch[0] < 1.02 && cm < 1.0);
            for (int k = 0; k < 3; ++k) {
                double e, ef;
                ref_albedo((double)cb.alpha, cosines[c], col[k], &e, &ef);
                double want = ef * (1.0 + col[k] * (1.0 - e) / e);
                double err = fabs(ch[k] - want) / want;
                worst_col = fmax(worst_col, err);
                CHECK_MSG(err < 0.02, "coloured metal rough %.2f cos %.2f channel %d (F0 %.1f): albedo %.4f, "
                          "closed form %.4f", roughs[r], cosines[c], k, col[k], ch[k], want);
            }
        }
    printf("worst |albedo - 1|: metal %.4f, plastic %.4f, thin glass %.4f; coloured metal against "
           "the closed form: %.4f (relative)\n", worst_metal, worst_plastic, worst_thin, worst_col);
    /* tolerance: the 32x32 table's interpolation (measured worst about 1%) */
    CHECK_MSG(worst_metal < 0.02, "white metal albedo off by %.4f", worst_metal);
    CHECK_MSG(worst_plastic < 0.02, "white plastic albedo off by %.4f", worst_plastic);
    CHECK_MSG(worst_thin < 0.02, "white thin glass albedo off by %.4f", worst_thin);
}

static void test_solid(void)
{
    struct {
        const char *label;
        float rough, trans, eta;
    } cfg[] = {
        {"solid glass entering rough 0.2", 0.2f, 1.0f, 1.5f},
        {"solid glass entering rough 0.4", 0.4f, 1.0f, 1.5f},
        {"solid glass leaving rough 0.3", 0.3f, 1.0f, 1.0f / 1.5f},
        {"solid glass leaving rough 0.8", 0.8f, 1.0f, 1.0f / 1.5f},
        {"half solid glass entering 0.5", 0.5f, 0.5f, 1.33f},
    };
    const float cosines[] = {0.95f, 0.5f, 0.15f};
    int runs = (int)(sizeof cfg / sizeof cfg[0]) * 3;
    double alpha = 1e-4 / runs;
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; ++i)
        for (int c = 0; c < 3; ++c) {
            xs_bsdf b = make_solid(xs_v3(0.9f, 0.8f, 0.7f), cfg[i].rough, cfg[i].trans, cfg[i].eta);
            double p = chi2_run(cfg[i].label, b, cosines[c], 400000);
            CHECK_MSG(p > alpha, "%s at cos %.2f: p %.2g below %.2g: sampling does not match the pdf",
                      cfg[i].label, cosines[c], p, alpha);
        }
    /* Snell's law on a smooth boundary, entering at 60 degrees */
    const float *tab = xs_ggx_table();
    xs_bsdf b = make_solid(xs_v3_all(1.0f), 0.0f, 1.0f, 1.5f);
    xs_vec3 wo = wo_at(0.5f);
    xs_bsdf_prepare(&b, tab, wo);
    int refracted = 0;
    for (int i = 0; i < 64; ++i) {
        xs_vec3 wi, w;
        float pdf;
        float ul = b.w_spec + b.w_diff + b.w_trans * 0.999f; /* past F: refract */
        if (!xs_bsdf_sample(&b, wo, ul, (i + 0.5f) / 64.0f, 0.37f, &wi, &w, &pdf))
            continue;
        refracted++;
        float sin_o = sqrtf(1.0f - 0.25f), sin_t = sqrtf(wi.x * wi.x + wi.y * wi.y);
        CHECK_MSG(wi.z < 0.0f && fabsf(sin_t * 1.5f - sin_o) < 0.01f && wi.x < 0.0f &&
                      fabsf(wi.y) < 0.01f,
                  "refracted (%g, %g, %g): sin_t %g, want %g", wi.x, wi.y, wi.z, sin_t, sin_o / 1.5f);
    }
    CHECK(refracted > 60);
    /* energy: weights with the radiance scale taken out */
    const float roughs[] = {0.02f, 0.3f, 0.7f};
    const float etas[] = {1.5f, 1.0f / 1.5f};
    const float cos3[] = {0.95f, 0.6f, 0.2f};
    for (int r = 0; r < 3; ++r)
        for (int e = 0; e < 2; ++e)
            for (int c = 0; c < 3; ++c) {
                xs_bsdf s = make_solid(xs_v3_all(1.0f), roughs[r], 1.0f, etas[e]);
                xs_vec3 o = wo_at(cos3[c]);
                xs_bsdf_prepare(&s, tab, o);
                double sum = 0.0;
                const int n = 1 << 16;
                for (int i = 0; i < n; ++i) {
                    uint32_t x, y;
                    xs_sobol_pair(0x4321u, (uint32_t)i, 0, &x, &y);
                    xs_vec3 wi, w;
                    float pdf;
                    if (!xs_bsdf_sample(&s, o, ((float)(i % 89) + 0.5f) / 89.0f, xs_u32_to_float(x),
                                        xs_u32_to_float(y), &wi, &w, &pdf))
                        continue;
                    sum += (double)w.x * (wi.z < 0.0f ? (double)(etas[e] * etas[e]) : 1.0);
                }
                double a = sum / n;
                printf("solid rough %.2f eta %.3f cos %.2f: energy %.4f\n", roughs[r], etas[e], cos3[c], a);
                CHECK_MSG(a < 1.01, "rough %.2f eta %.3f cos %.2f: a white boundary returns %.4f",
                          roughs[r], etas[e], cos3[c], a);
                if (r == 0)
                    CHECK_MSG(a > 0.99, "smooth boundary eta %.3f cos %.2f returns %.4f", etas[e], cos3[c], a);
            }
}


/* xs_bsdf_eval at fixed directions against the closed forms above, every
 * channel. Tolerance 1.5%: the energy compensation and the dielectric base
 * read E from the kernel's 32 x 32 table (bilinear, about 1% off at worst);
 * the lobes themselves agree to float precision. */
static void test_closed_form(void)
{
    const float *tab = xs_ggx_table();
    const double tol = 0.015;
    const float cosines[] = {0.9f, 0.5f, 0.12f};
    /* wi: the mirror direction, off the mirror in and out of the plane, near
     * the normal, grazing */
    const double wi_off[][2] = {{0.0, 0.0}, {0.15, 0.0}, {-0.2, 0.0}, {0.1, 0.6}, {0.0, 2.0}};
    struct {
        const char *label;
        xs_vec3 base;
        float metallic, rough, trans, ior;
    } cfg[] = {
        {"gold metal rough 0.5", {1.0f, 0.71f, 0.29f}, 1.0f, 0.5f, 0.0f, 1.5f},
        {"blue metal rough 0.3", {0.05f, 0.2f, 0.9f}, 1.0f, 0.3f, 0.0f, 1.5f},
        {"red plastic rough 0.4", {0.8f, 0.1f, 0.05f}, 0.0f, 0.4f, 0.0f, 1.5f},
        {"half metal rough 0.6", {0.6f, 0.9f, 0.3f}, 0.5f, 0.6f, 0.0f, 1.5f},
        {"thin glass rough 0.35", {0.9f, 0.6f, 0.3f}, 0.0f, 0.35f, 1.0f, 1.5f},
        {"lambert (ior 1)", {0.7f, 0.5f, 0.2f}, 0.0f, 0.5f, 0.0f, 1.0f},
    };
    double worst = 0.0;
    for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; ++k)
        for (int c = 0; c < 3; ++c) {
            xs_bsdf b = make(cfg[k].base, cfg[k].metallic, cfg[k].rough, cfg[k].trans, cfg[k].ior);
            double a = (double)b.alpha, f0d = (double)b.f0, m = cfg[k].metallic, t = cfg[k].trans;
            double co = cosines[c];
            xs_vec3 wo = wo_at(cosines[c]);
            dvec o = dv(wo.x, wo.y, wo.z);
            xs_bsdf_prepare(&b, tab, wo);
            const double base[3] = {cfg[k].base.x, cfg[k].base.y, cfg[k].base.z};
            double e, ef_d, e_unused, ef_c[3];
            ref_albedo(a, co, f0d, &e, &ef_d);
            for (int ch = 0; ch < 3; ++ch)
                ref_albedo(a, co, base[ch], &e_unused, &ef_c[ch]);
            double comp_d = f0d > 0.0 ? 1.0 + f0d * (1.0 - e) / e : 0.0;
            double e_spec = fmin(1.0, ef_d * comp_d); /* what the coating reflects */
            double theta_o = acos(co);
            for (size_t d = 0; d < sizeof wi_off / sizeof wi_off[0]; ++d) {
                /* reflected: theta_i = theta_o + offset, azimuth pi (+ offset) */
                double ti = fmin(1.5, fmax(0.02, theta_o + wi_off[d][0]));
                if (wi_off[d][1] == 2.0)
                    ti = 1.45; /* grazing */
                dvec i = ddir(cos(ti), M_PI + wi_off[d][1]);
                for (int side = 0; side < 2; ++side) {
                    if (side == 1 && t == 0.0)
                        continue;
                    /* side 1: the thin wall's transmission, wi mirrored below */
                    dvec wi_d = side ? dv(i.x, i.y, -i.z) : i;
                    double coh, pdf_spec, g = ref_ggx(a, o, i, &coh, &pdf_spec);
                    double want[3];
                    for (int ch = 0; ch < 3; ++ch) {
                        if (side == 0) {
                            double comp_m = 1.0 + base[ch] * (1.0 - e) / e;
                            double metal = ref_schlick(base[ch], coh) * g * comp_m;
                            double coat = f0d > 0.0 ? ref_schlick(f0d, coh) * g * comp_d : 0.0;
                            double lambert = base[ch] * (1.0 - e_spec) * (1.0 - t) * i.z / M_PI;
                            want[ch] = m * metal + (1.0 - m) * (coat + lambert);
                        } else {
                            /* tinted, scaled by what the coating leaves, the bare lobe's
                             * loss restored (1 / E) */
                            want[ch] = base[ch] * (1.0 - m) * (1.0 - e_spec) * t * g / e;
                        }
                    }
                    float pdf;
                    xs_vec3 f = xs_bsdf_eval(&b, wo, xs_v3((float)wi_d.x, (float)wi_d.y, (float)wi_d.z), &pdf);
                    const double got[3] = {f.x, f.y, f.z};
                    for (int ch = 0; ch < 3; ++ch) {
                        double r = rel_err(got[ch], want[ch]);
                        worst = fmax(worst, r);
                        CHECK_MSG(r < tol, "%s, cos_o %.2f, wi (%.3f, %.3f, %.3f)%s: channel %d f|cos| = %.6g, "
                                  "closed form %.6g (%.2f%% off)", cfg[k].label, co, wi_d.x, wi_d.y, wi_d.z,
                                  side ? " (through the thin wall)" : "", ch, got[ch], want[ch], 100.0 * r);
                    }
                    if (m == 1.0 && d > 0) {
                        /* a pure metal is one lobe: against the mirror direction the
                         * table's factor cancels, so the shape of F D G2 must hold to
                         * float precision */
                        dvec mi = ddir(co, M_PI);
                        double mcoh, mpdf, mg = ref_ggx(a, o, mi, &mcoh, &mpdf);
                        float mp;
                        xs_vec3 mf = xs_bsdf_eval(&b, wo, xs_v3((float)mi.x, (float)mi.y, (float)mi.z), &mp);
                        const double mgot[3] = {mf.x, mf.y, mf.z};
                        for (int ch = 0; ch < 3; ++ch) {
                            double rwant = ref_schlick(base[ch], coh) * g / (ref_schlick(base[ch], mcoh) * mg);
                            double r = rel_err(got[ch] / mgot[ch], rwant);
                            CHECK_MSG(r < 2e-3, "%s, cos_o %.2f, wi (%.3f, %.3f, %.3f): channel %d f / f(mirror) "
                                      "= %.6g, closed form %.6g", cfg[k].label, co, i.x, i.y, i.z, ch,
                                      got[ch] / mgot[ch], rwant);
                        }
                    }
                    if (m == 1.0) { /* a pure metal samples only its lobe: the VNDF pdf */
                        double r = rel_err(pdf, pdf_spec);
                        CHECK_MSG(r < 1e-3, "%s, cos_o %.2f: pdf %.6g, VNDF pdf %.6g", cfg[k].label, co, pdf,
                                  pdf_spec);
                    }
                }
            }
        }
    /* a rough solid boundary: refraction entering (eta 1.5) and leaving
     * (1 / 1.5), Walter's form, tinted by the base colour */
    const float etas[] = {1.5f, 1.0f / 1.5f};
    for (int ei = 0; ei < 2; ++ei)
        for (int c = 0; c < 3; ++c) {
            xs_vec3 tint = xs_v3(0.9f, 0.7f, 0.4f);
            xs_bsdf b = make_solid(tint, 0.4f, 1.0f, etas[ei]);
            double a = (double)b.alpha, eta = etas[ei];
            xs_vec3 wo = wo_at(cosines[c]);
            dvec o = dv(wo.x, wo.y, wo.z);
            xs_bsdf_prepare(&b, tab, wo);
            const double base[3] = {tint.x, tint.y, tint.z};
            for (int d = 0; d < 4; ++d) {
                double ti = 0.1 + 0.25 * d;
                dvec i = ddir(-cos(ti), M_PI + 0.2 * d);
                dvec h = dnorm(dv(o.x + eta * i.x, o.y + eta * i.y, o.z + eta * i.z));
                if (h.z < 0.0)
                    h = dv(-h.x, -h.y, -h.z);
                double doh = ddot(o, h), dih = ddot(i, h), want1 = 0.0;
                if (doh > 0.0 && dih < 0.0) {
                    double fr = ref_fresnel_exact(doh, eta);
                    double g2 = 1.0 / (1.0 + ref_lambda(a, o.z) + ref_lambda(a, -i.z));
                    double den = dih + doh / eta;
                    want1 = (1.0 - fr) * ref_d(a, h.z) * g2 * fabs(dih) * doh / (o.z * den * den) / (eta * eta);
                }
                float pdf;
                xs_vec3 f = xs_bsdf_eval(&b, wo, xs_v3((float)i.x, (float)i.y, (float)i.z), &pdf);
                const double got[3] = {f.x, f.y, f.z};
                for (int ch = 0; ch < 3; ++ch) {
                    double want = base[ch] * want1, r = rel_err(got[ch], want);
                    worst = fmax(worst, r);
                    CHECK_MSG(r < 1e-3 || fabs(got[ch] - want) < 1e-6,
                              "solid eta %.3f cos_o %.2f wi (%.3f, %.3f, %.3f): channel %d f|cos| = %.6g, "
                              "Walter %.6g", eta, cosines[c], i.x, i.y, i.z, ch, got[ch], want);
                }
            }
        }
    printf("closed forms: worst relative difference %.4f%%\n", 100.0 * worst);
}
static void test_sobol_decorrelated(void);
static void test_sobol(void)
{
    test_sobol_decorrelated();
    for (int k = 2; k <= 10; k += 2) {
        int n = 1 << k;
        for (uint32_t pair = 0; pair < 4; ++pair) {
            /* elementary intervals 2^a x 2^(k-a) */
            for (int a = 0; a <= k; ++a) {
                int nx = 1 << a, ny = 1 << (k - a);
                unsigned char *cell = calloc((size_t)n, 1);
                for (int i = 0; i < n; ++i) {
                    uint32_t x, y;
                    xs_sobol_pair(0xABCDEFull + pair, (uint32_t)i, pair, &x, &y);
                    int cx = (int)(((uint64_t)x * (uint64_t)nx) >> 32);
                    int cy = (int)(((uint64_t)y * (uint64_t)ny) >> 32);
                    cell[cy * nx + cx]++;
                }
                int bad = 0;
                for (int i = 0; i < n; ++i)
                    bad += cell[i] != 1;
                CHECK_MSG(bad == 0, "2^%d points, pair %u, intervals %dx%d: %d not holding one point",
                          k, pair, nx, ny, bad);
                free(cell);
            }
        }
    }
}

/* Sobol' dimension 1 in closed form (xs_sobol1) equals the direction-number
 * loop it replaced, and a pair's points equal Burley's construction written
 * out with full Owen scrambles (owen(reverse(i)), owen(sobol1(i)) of the
 * shuffled index), on 2^20 consecutive indices and 2^20 random ones. */
static uint32_t sobol1_loop(uint32_t i)
{
    uint32_t r = 0u, m = 1u;
    for (int k = 1; i != 0u; ++k, i >>= 1) {
        if ((i & 1u) != 0u)
            r ^= m << (32 - k);
        m ^= m << 1;
    }
    return r;
}

static void test_sobol_closed_form(void)
{
    uint64_t z = 0x1234567ull;
    int bad = 0, bad_pair = 0;
    for (uint32_t n = 0; n < (2u << 20); ++n) {
        z = z * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t i = n < (1u << 20) ? n : (uint32_t)(z >> 32);
        bad += xs_sobol1(i) != sobol1_loop(i);
        uint64_t key = z ^ 0xABCDull;
        uint32_t pair = n & 31u, s0, s1, s2, x, y;
        xs_pair_seeds(key, pair, &s0, &s1, &s2);
        uint32_t sh = xs_owen(i, s0);
        xs_sobol_pair(key, i, pair, &x, &y);
        bad_pair += x != xs_owen(xs_reverse_bits(sh), s1) || y != xs_owen(sobol1_loop(sh), s2);
    }
    CHECK_MSG(bad == 0, "closed-form Sobol' dimension 1 differs from the loop at %d indices", bad);
    CHECK_MSG(bad_pair == 0, "xs_sobol_pair differs from Burley's construction at %d points", bad_pair);
}

static double correlation(const double *a, const double *b, int n)
{
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < n; ++i)
        ma += a[i] / n, mb += b[i] / n;
    for (int i = 0; i < n; ++i) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / sqrt(saa * sbb);
}

/* The dimension pairs of one sample, and one pair in two pixels, are
 * independent: over a pixel's 256 samples, the correlation between pair 0's
 * coordinates and pair p's (the index is shuffled per pair), and between two
 * pixels' same coordinate (scrambled per pixel), is noise: root mean square
 * over 64 pixels (keys as xs_sampler_init makes them: hashed) about
 * 1 / sqrt(256) = 0.06 (measured 0.08); an unshuffled index gives 0.5 to
 * 0.8. */
static void test_sobol_decorrelated(void)
{
    enum { N = 256, PIXELS = 64 };
    static double v[2][4][2][N]; /* pixel a/b, pair, coordinate, sample */
    double pairs2 = 0.0, pixels2 = 0.0;
    int npairs = 0, npixels = 0;
    for (int k = 0; k < PIXELS; ++k) {
        xs_sampler sa = xs_sampler_init(1, 1, (uint32_t)k, 7, 0), sb = xs_sampler_init(1, 1, (uint32_t)k, 8, 0);
        const uint64_t keys[2] = {sa.pixel_key, sb.pixel_key};
        for (int q = 0; q < 2; ++q)
            for (uint32_t pair = 0; pair < 4; ++pair)
                for (int i = 0; i < N; ++i) {
                    uint32_t x, y;
                    xs_sobol_pair(keys[q], (uint32_t)i, pair, &x, &y);
                    v[q][pair][0][i] = xs_u32_to_float(x);
                    v[q][pair][1][i] = xs_u32_to_float(y);
                }
        for (int p = 1; p < 4; ++p)
            for (int c = 0; c < 2; ++c)
                for (int c2 = 0; c2 < 2; ++c2) {
                    double r = correlation(v[0][0][c], v[0][p][c2], N);
                    pairs2 += r * r, npairs++;
                }
        for (int p = 0; p < 4; ++p)
            for (int c = 0; c < 2; ++c) {
                double r = correlation(v[0][p][c], v[1][p][c], N);
                pixels2 += r * r, npixels++;
            }
    }
    /* Owen scrambling places each point anywhere inside its stratum: with
     * 256 points in 256 strata of a coordinate, the positions within the
     * strata spread over [0, 1) (a mere shift would put them all at one) */
    for (int p = 0; p < 4; ++p)
        for (int c = 0; c < 2; ++c) {
            double lo = 1.0, hi = 0.0;
            for (int i = 0; i < N; ++i) {
                double f = v[0][p][c][i] * N - floor(v[0][p][c][i] * N);
                lo = fmin(lo, f), hi = fmax(hi, f);
            }
            CHECK_MSG(hi - lo > 0.5, "pair %d coordinate %d: the points sit at %.3f..%.3f inside their 1/%d "
                      "strata: not Owen-scrambled", p, c, lo, hi, N);
        }
    double rp = sqrt(pairs2 / npairs), rx = sqrt(pixels2 / npixels);
    printf("sobol: rms correlation between a sample's pairs %.3f, between pixels %.3f\n", rp, rx);
    CHECK_MSG(rp < 0.15, "a sample's dimension pairs correlate: rms r = %.3f", rp);
    CHECK_MSG(rx < 0.15, "neighbouring pixels' points correlate: rms r = %.3f", rx);
}

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"chi2", test_chi2},
        {"weights", test_weights},
        {"albedo", test_albedo},
        {"sobol", test_sobol},
        {"sobol_closed_form", test_sobol_closed_form},
        {"solid", test_solid},
        {"closed_form", test_closed_form},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
