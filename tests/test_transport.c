/* Light-transport tests through the CPU back end (scene + kernel):
 *
 * furnace_sphere: a sphere in a uniform white environment (radiance 1) with
 *   a white material reflects exactly what it receives, so every pixel is 1:
 *   white Lambert, white dielectric (IOR 1.5, roughness 0.5), rough white
 *   metal (roughness 0.6) and white thin glass. Tolerance 1% on the mean of
 *   the pixels the sphere covers; the BSDF's own albedo error is below 0.2%
 *   at these roughnesses (test_bsdf albedo) and the noise of the mean at 64
 *   spp is about 0.1%.
 * mis_agree: the Cornell box with a glossy floor, a plastic box and an open
 *   front onto a grey sky, rendered with MIS, with BSDF sampling only and with
 *   light sampling only: the three image means agree per channel. Measured
 *   spread: see the test's output; tolerance 3%.
 * tile_alone: a tile rendered by itself equals the same pixels of the whole
 *   frame bit for bit, every AOV included (the filter is importance-sampled,
 *   so no sample crosses into another pixel).
 * bvh_threads: the BVH built on 1 and on 4 threads is byte-identical.
 * solid_slab: a glass slab with absorption transmits exactly the sum of its
 *   interreflections (see the test).
 * wavefront_megakernel: the wavefront integrator (the default) and the
 *   megakernel reference give the same pixels, AOVs and counters bit for bit
 *   on the glossy Cornell box (with MIS, BSDF-only and light-only, clamping,
 *   odd spp across the 16-sample chunks and the wave's batches), so they
 *   converge to the same mean; and each one's mean over 256 spp agrees with
 *   the other's from independent seeds within the noise (2%).
 * isa_identical: the AVX2 build of the CPU kernels and the baseline x86-64
 *   build give the same bits (skipped, exit 77, on a CPU without AVX2).
 * lambert_lanes: the same for the AVX2 build's eight-path Lambert shading
 *   (kernels/cpu/shade_avx2.h) on the Lambert Cornell box, in each mode its
 *   lanes tell apart: MIS, light sampling only, BSDF sampling only, a
 *   two-sided light, back faces (every triangle's winding reversed), a
 *   black wall, clamping, roulette from the first bounce, the last bounce,
 *   the first-hit AOVs, the sky picked by some lanes for their shadow ray,
 *   and a glossy material whose caller set XS_MAT_LAMBERT on it
 *   (the scene must clear it); and a textured quad over a Lambert floor
 *   (the ray cone the lanes hand on picks the quad's texture levels). Each
 *   case also checks, through xs_cpu_lanes_shaded8, that the AVX2 build took
 *   a share of the hits as lanes (10-60% here: the hits on the light, the
 *   black wall and textured surfaces go one by one) and the baseline none;
 *   lanes that pick the sky for their shadow ray are lanes too.
 * ggx_lanes: the same for the GGX lanes: the glossy Cornell box (rough
 *   plastic and metal, a polished part-metal, Lambert walls; AOVs, clamp,
 *   roulette from bounce 1), again with a part metal of IOR 1, metallic and
 *   roughness past [0, 1], a negative-luminance base, seen grazing the
 *   floor (all from an independent review's probe), again with twenty
 *   faint emitters (more lights than a batch's cache of 16), and an in-memory glTF scene of smooth-shaded
 *   quads (vertex normals), a polished metal plate, a textured wall lit off
 *   the floor (the cone of the specular lobe), a transformed box and one-sided
 *   lights placed by mirroring instances, dark, under a sky, and under a sky
 *   with point, spot and directional lights below a ceiling, with MIS, light
 *   sampling only and BSDF sampling only.
 */
#include "kernels/cpu/kernel_cpu.h"
#include "render/xs_backend.h"
#include "render/xs_bvh.h"
#include "render/xs_film.h"
#include "render/xs_scene.h"
#include "tex_scene.h"
#include "test_util.h"

#include <math.h>

static float *uv_sphere(int nu, int nv, float r, uint32_t *ntris)
{
    float *p = malloc((size_t)nu * (size_t)nv * 2 * 9 * sizeof *p);
    uint32_t n = 0;
    for (int j = 0; j < nv; ++j)
        for (int i = 0; i < nu; ++i) {
            float t0 = (float)M_PI * j / nv, t1 = (float)M_PI * (j + 1) / nv;
            float p0 = 2.0f * (float)M_PI * i / nu, p1 = 2.0f * (float)M_PI * (i + 1) / nu;
            float v[4][3] = {
                {r * sinf(t0) * cosf(p0), r * cosf(t0), r * sinf(t0) * sinf(p0)},
                {r * sinf(t0) * cosf(p1), r * cosf(t0), r * sinf(t0) * sinf(p1)},
                {r * sinf(t1) * cosf(p1), r * cosf(t1), r * sinf(t1) * sinf(p1)},
                {r * sinf(t1) * cosf(p0), r * cosf(t1), r * sinf(t1) * sinf(p0)},
            };
            /* outward winding: (a, c, b) */
            int tri[2][3] = {{0, 2, 1}, {0, 3, 2}};
            for (int k = 0; k < 2; ++k) {
                if ((j == 0 && k == 0) || (j == nv - 1 && k == 1))
                    continue; /* degenerate at the poles */
                for (int c = 0; c < 3; ++c)
                    memcpy(p + (size_t)n * 9 + (size_t)c * 3, v[tri[k][c]], 3 * sizeof(float));
                n++;
            }
        }
    *ntris = n;
    return p;
}

/* The same rays traced and the same hits shaded. Node, triangle and
 * instance visits may differ: the AVX2 build's wavefront traces packets of
 * eight rays (kernels/cpu/packet_avx2.h), which count each lane's tests in
 * the packet's order. */
static bool same_work(const xs_counters *a, const xs_counters *b)
{
    return a->camera_rays == b->camera_rays && a->bounce_rays == b->bounce_rays && a->shadow_rays == b->shadow_rays &&
           a->shade_events == b->shade_events && a->nonfinite == b->nonfinite;
}

static float *render(const xs_scene *s, int w, int h, xs_tile_params tp, xs_counters *c)
{
    xs_backend *be = NULL;
    xs_err e;
    CHECK(xs_backend_cpu_create(s, w, h, 2, &be, &e) == XS_OK);
    float *buf = malloc((size_t)tp.width * (size_t)tp.height * (size_t)xs_aov_channels(tp.aovs) * sizeof(float));
    CHECK(xs_backend_render_tile(be, &tp, buf, c, &e) == XS_OK);
    xs_backend_destroy(be);
    return buf;
}

static float *render_with(const xs_scene *s, int w, int h, xs_tile_params tp, const xs_cpu_options *o, int threads,
                          xs_counters *c)
{
    xs_backend *be = NULL;
    xs_err e;
    CHECK_MSG(xs_backend_cpu_create_with(s, w, h, threads, o, &be, &e) == XS_OK, "%s", e.msg);
    float *buf = malloc((size_t)tp.width * (size_t)tp.height * (size_t)xs_aov_channels(tp.aovs) * sizeof(float));
    CHECK(xs_backend_render_tile(be, &tp, buf, c, &e) == XS_OK);
    xs_backend_destroy(be);
    return buf;
}

static xs_tile_params params(int w, int h, int spp, int bounces)
{
    xs_tile_params tp = xs_tile_params_frame(w, h, spp, bounces);
    tp.seed = 5;
    tp.frame = 1;
    return tp;
}

static void test_furnace_sphere(void)
{
    uint32_t nt = 0;
    float *pos = uv_sphere(48, 24, 1.0f, &nt);
    uint32_t *mat = calloc(nt, sizeof *mat);
    struct {
        const char *label;
        xs_diffuse_material m;
        double tol;
    } cases[] = {
        {"white Lambert", {{1, 1, 1}, {0, 0, 0}, 0, 0.0f, 1.0f, 1.0f, 0.0f, {0, 0, 0}}, 0.01},
        {"white dielectric rough 0.5", {{1, 1, 1}, {0, 0, 0}, 0, 0.0f, 0.5f, 1.5f, 0.0f, {0, 0, 0}}, 0.01},
        {"white metal rough 0.6", {{1, 1, 1}, {0, 0, 0}, 0, 1.0f, 0.6f, 1.5f, 0.0f, {0, 0, 0}}, 0.01},
        {"white thin glass rough 0.2", {{1, 1, 1}, {0, 0, 0}, 0, 0.0f, 0.2f, 1.5f, 1.0f, {0, 0, 0}}, 0.01},
        /* a solid: light refracts in, bounces inside (total internal
         * reflection included) and refracts out; radiance is scaled by
         * 1 / eta^2 going in and eta^2 coming out */
        {"white solid glass smooth", {{1, 1, 1}, {0, 0, 0}, XS_MAT_VOLUME, 0.0f, 0.0f, 1.5f, 1.0f, {0, 0, 0}}, 0.01},
        /* rough: single scattering loses what bounces twice between
         * microfacets: measured 2.8% at roughness 0.3 (tolerance 4%) */
        {"white solid glass rough 0.3", {{1, 1, 1}, {0, 0, 0}, XS_MAT_VOLUME, 0.0f, 0.3f, 1.5f, 1.0f, {0, 0, 0}}, 0.04},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        xs_scene_desc d = {.name = "furnace-sphere", .positions = pos, .materials_of = mat,
                           .tri_count = nt, .materials = &cases[k].m, .material_count = 1,
                           .background = {1, 1, 1}, .cam_pos = {0, 0, 3.2f},
                           .cam_target = {0, 0, 0}, .cam_up = {0, 1, 0}, .cam_yfov_deg = 40};
        xs_scene *s = NULL;
        xs_err e;
        CHECK(xs_scene_create(&d, &s, &e) == XS_OK);
        CHECK(xs_scene_light_count(s) == 1); /* the environment */
        xs_tile_params tp = params(48, 48, 64, 64);
        xs_counters c = {0};
        float *buf = render(s, 48, 48, tp, &c);
        double sum = 0.0;
        int n = 0;
        for (int i = 0; i < 48 * 48; ++i)
            if (buf[i * 4 + 3] == 1.0f) {
                sum += (buf[i * 4] + buf[i * 4 + 1] + buf[i * 4 + 2]) / 3.0;
                n++;
            }
        double mean = sum / n;
        printf("%-28s mean over %d sphere pixels: %.5f (error %.3f%%)\n", cases[k].label, n, mean,
               100.0 * fabs(mean - 1.0));
        CHECK(n > 500);
        CHECK_MSG(fabs(mean - 1.0) < cases[k].tol && mean < 1.01, "%s: furnace mean %.5f", cases[k].label, mean);
        CHECK(c.nonfinite == 0);
        free(buf);
        xs_scene_destroy(s);
    }
    free(pos);
    free(mat);
}

/* Twelve triangles of the box lo..hi, wound so their normals face out. */
static void box_tris(const float lo[3], const float hi[3], float *out)
{
    int n = 0;
    for (int a = 0; a < 3; ++a)
        for (int side = 0; side < 2; ++side) {
            int b = (a + 1) % 3, c = (a + 2) % 3;
            float q[4][3];
            for (int k = 0; k < 4; ++k) {
                q[k][a] = side ? hi[a] : lo[a];
                q[k][b] = (k == 1 || k == 2) ? hi[b] : lo[b];
                q[k][c] = (k >= 2) ? hi[c] : lo[c];
            }
            int t[2][3] = {{0, 1, 2}, {0, 2, 3}};
            for (int i = 0; i < 2; ++i) {
                float *v = out + (size_t)n * 9;
                for (int j = 0; j < 3; ++j)
                    memcpy(v + 3 * j, q[t[i][j]], sizeof q[0]);
                float e1[3], e2[3];
                for (int k = 0; k < 3; ++k)
                    e1[k] = v[3 + k] - v[k], e2[k] = v[6 + k] - v[k];
                float nz = e1[b] * e2[c] - e1[c] * e2[b]; /* the normal's a component */
                if ((nz > 0.0f) != (side == 1)) { /* swap two corners */
                    float tmp[3];
                    memcpy(tmp, v + 3, sizeof tmp);
                    memcpy(v + 3, v + 6, sizeof tmp);
                    memcpy(v + 6, tmp, sizeof tmp);
                }
                n++;
            }
        }
}

/* A smooth solid slab of glass (IOR 1.5, thickness 1) seen head-on against a
 * white sky: per channel the pixel is F + (1 - F)^2 a / (1 - a F), F = 0.04
 * at normal incidence and a = exp(-sigma_a), the light that crosses once
 * (every order of reflection between the faces summed). Absorption per
 * channel: half, a quarter, none (attenuationColor (0.5, 0.25, 1) at
 * attenuationDistance 1). Tolerance 1%. */
static void test_solid_slab(void)
{
    float pos[12 * 9];
    const float lo[3] = {-20.0f, -20.0f, -0.5f}, hi[3] = {20.0f, 20.0f, 0.5f};
    box_tris(lo, hi, pos);
    uint32_t mat[12] = {0};
    xs_diffuse_material m = {{1, 1, 1}, {0, 0, 0}, XS_MAT_VOLUME, 0.0f, 0.0f, 1.5f, 1.0f,
                             {-logf(0.5f), -logf(0.25f), 0.0f}};
    xs_scene_desc d = {.name = "slab", .positions = pos, .materials_of = mat, .tri_count = 12,
                       .materials = &m, .material_count = 1, .background = {1, 1, 1},
                       .cam_pos = {0, 0, 5}, .cam_target = {0, 0, 0}, .cam_up = {0, 1, 0},
                       .cam_yfov_deg = 2};
    xs_scene *s = NULL;
    xs_err e;
    CHECK(xs_scene_create(&d, &s, &e) == XS_OK);
    xs_tile_params tp = params(8, 8, 256, 64);
    xs_counters c = {0};
    float *buf = render(s, 8, 8, tp, &c);
    const double F = 0.04, a[3] = {0.5, 0.25, 1.0};
    for (int ch = 0; ch < 3; ++ch) {
        double sum = 0.0;
        for (int i = 0; i < 64; ++i)
            sum += buf[i * 4 + ch];
        double got = sum / 64.0, want = F + (1.0 - F) * (1.0 - F) * a[ch] / (1.0 - a[ch] * F);
        printf("slab channel %d: %.5f, expected %.5f (%+.2f%%)\n", ch, got, want, 100.0 * (got / want - 1.0));
        CHECK_MSG(fabs(got / want - 1.0) < 0.01, "channel %d: %.5f, expected %.5f", ch, got, want);
    }
    CHECK(c.nonfinite == 0);
    free(buf);
    xs_scene_destroy(s);
}

static xs_scene *glossy_cornell(void)
{
    xs_scene_desc d;
    xs_cornell_desc(&d);
    static xs_diffuse_material m[8];
    memcpy(m, d.materials, d.material_count * sizeof *m);
    /* 0 white, 1 red, 2 green, 3 light: white becomes a rough plastic, an
     * extra material (index count) a glossy metal used for the floor */
    m[0].ior = 1.5f;
    m[0].roughness = 0.35f;
    m[1].metallic = 1.0f;
    m[1].roughness = 0.45f;
    d.materials = m;
    d.background = xs_v3(0.3f, 0.3f, 0.35f);
    xs_scene *s = NULL;
    xs_err e;
    CHECK(xs_scene_create(&d, &s, &e) == XS_OK);
    return s;
}

static void image_mean(const float *buf, int n, double *mean)
{
    mean[0] = mean[1] = mean[2] = 0.0;
    for (int i = 0; i < n; ++i)
        for (int c = 0; c < 3; ++c)
            mean[c] += buf[i * 4 + c];
    for (int c = 0; c < 3; ++c)
        mean[c] /= n;
}

static void test_mis_agree(void)
{
    xs_scene *s = glossy_cornell();
    const int W = 48, H = 48;
    double m[3][3];
    const char *names[3] = {"MIS", "BSDF only", "light only"};
    int modes[3] = {XS_MIS_ON, XS_MIS_BSDF_ONLY, XS_MIS_LIGHT_ONLY};
    for (int k = 0; k < 3; ++k) {
        xs_tile_params tp = params(W, H, 256, 6);
        tp.mis = modes[k];
        tp.seed = 100u + (uint32_t)k; /* independent samples per estimator */
        xs_counters c = {0};
        float *buf = render(s, W, H, tp, &c);
        image_mean(buf, W * H, m[k]);
        printf("%-10s mean %.5f %.5f %.5f (shadow rays %llu)\n", names[k], m[k][0], m[k][1], m[k][2],
               (unsigned long long)c.shadow_rays);
        CHECK(modes[k] == XS_MIS_BSDF_ONLY ? c.shadow_rays == 0 : c.shadow_rays > 0);
        free(buf);
    }
    for (int k = 1; k < 3; ++k)
        for (int c = 0; c < 3; ++c) {
            double rel = fabs(m[k][c] - m[0][c]) / m[0][c];
            printf("%s vs MIS, channel %d: %.3f%%\n", names[k], c, 100.0 * rel);
            CHECK_MSG(rel < 0.03, "%s differs from MIS by %.2f%% in channel %d", names[k], 100.0 * rel, c);
        }
    xs_scene_destroy(s);
}

static void test_tile_alone(void)
{
    xs_scene *s = glossy_cornell();
    const int W = 40, H = 30;
    const uint32_t aovs = XS_AOV_ALBEDO | XS_AOV_NORMAL | XS_AOV_DEPTH | XS_AOV_SAMPLES;
    const int C = xs_aov_channels(aovs);
    CHECK(C == 12);
    xs_tile_params tp = params(W, H, 8, 4);
    tp.aovs = aovs;
    xs_counters c = {0};
    float *full = render(s, W, H, tp, &c);
    xs_tile_params t2 = tp;
    t2.x0 = 13, t2.y0 = 7, t2.width = 17, t2.height = 11;
    float *tile = render(s, W, H, t2, &c);
    int diff = 0;
    for (int y = 0; y < t2.height; ++y)
        diff += memcmp(tile + (size_t)y * t2.width * C, full + ((size_t)(y + t2.y0) * W + t2.x0) * C,
                       (size_t)t2.width * C * sizeof(float)) != 0;
    CHECK_MSG(diff == 0, "%d rows of the tile differ from the full frame", diff);
    /* the AOVs are there: samples = spp, normals unit length where hit */
    CHECK(full[(15 * W + 20) * C + 11] == 8.0f);
    float *n = full + (15 * W + 20) * C + 7;
    CHECK(fabsf(n[0] * n[0] + n[1] * n[1] + n[2] * n[2] - 1.0f) < 1e-3f);
    CHECK(full[(15 * W + 20) * C + 10] > 0.0f && full[(15 * W + 20) * C + 10] < 1e9f);
    free(full);
    free(tile);
    xs_scene_destroy(s);
}

static void test_wavefront_megakernel(void)
{
    xs_scene *s = glossy_cornell();
    const int W = 40, H = 30;
    const uint32_t aovs = XS_AOV_ALBEDO | XS_AOV_NORMAL | XS_AOV_DEPTH | XS_AOV_SAMPLES;
    const int C = xs_aov_channels(aovs);
    struct {
        int spp, mis;
        float clamp;
    } cases[] = {{37, XS_MIS_ON, 0.0f}, {16, XS_MIS_BSDF_ONLY, 0.0f}, {9, XS_MIS_LIGHT_ONLY, 0.0f}, {21, XS_MIS_ON, 2.0f}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        xs_tile_params tp = params(W, H, cases[k].spp, 6);
        tp.aovs = aovs;
        tp.mis = cases[k].mis;
        tp.clamp = cases[k].clamp;
        xs_cpu_options wf = {.integrator = XS_INTEGRATOR_WAVEFRONT, .isa = XS_CPU_ISA_AUTO}, mk = {.integrator = XS_INTEGRATOR_MEGAKERNEL, .isa = XS_CPU_ISA_AUTO};
        xs_counters ca = {0}, cb = {0};
        float *a = render_with(s, W, H, tp, &wf, 2, &ca);
        float *b = render_with(s, W, H, tp, &mk, 3, &cb);
        size_t n = (size_t)W * H * (size_t)C, diff = 0;
        for (size_t i = 0; i < n; ++i)
            diff += memcmp(&a[i], &b[i], sizeof a[i]) != 0;
        CHECK_MSG(diff == 0, "case %zu (spp %d): %zu of %zu values differ between the integrators", k, tp.spp, diff, n);
        CHECK_MSG(same_work(&ca, &cb), "case %zu: the kernels' counters differ", k);
        free(a), free(b);
    }
    /* the means of independent renders of each agree within their noise */
    double m[2][3];
    for (int k = 0; k < 2; ++k) {
        xs_tile_params tp = params(W, H, 256, 6);
        tp.seed = 7u + (uint32_t)k;
        xs_cpu_options o = {.integrator = k == 0 ? XS_INTEGRATOR_WAVEFRONT : XS_INTEGRATOR_MEGAKERNEL, .isa = XS_CPU_ISA_AUTO};
        xs_counters c = {0};
        float *buf = render_with(s, W, H, tp, &o, 2, &c);
        image_mean(buf, W * H, m[k]);
        free(buf);
    }
    for (int c = 0; c < 3; ++c) {
        double rel = fabs(m[0][c] - m[1][c]) / m[1][c];
        printf("channel %d: wavefront %.5f, megakernel %.5f (independent seeds): %.3f%%\n", c, m[0][c], m[1][c],
               100.0 * rel);
        CHECK_MSG(rel < 0.02, "channel %d: the means differ by %.2f%%", c, 100.0 * rel);
    }
    xs_scene_destroy(s);
}

/* The AVX2 build, or the case skipped (exit 77) where it is not built or
 * this CPU lacks AVX2. */
static const xs_cpu_kernels *need_avx2(void)
{
    const xs_cpu_kernels *avx2 = xs_cpu_kernels_avx2();
    if (!avx2 || xs_cpu_kernels_best() != avx2) {
        printf("SKIP: no AVX2 build or no AVX2 on this CPU\n");
        exit(77);
    }
    return avx2;
}

static void test_isa_identical(void)
{
    const xs_cpu_kernels *avx2 = need_avx2();
    xs_scene *s = glossy_cornell();
    const int W = 32, H = 24;
    xs_tile_params tp = params(W, H, 19, 6);
    tp.aovs = XS_AOV_ALBEDO | XS_AOV_NORMAL | XS_AOV_DEPTH;
    xs_cpu_options a = {.integrator = XS_INTEGRATOR_WAVEFRONT, .isa = XS_CPU_ISA_AVX2}, b = {.integrator = XS_INTEGRATOR_WAVEFRONT, .isa = XS_CPU_ISA_BASE};
    xs_counters ca = {0}, cb = {0};
    float *x = render_with(s, W, H, tp, &a, 2, &ca), *y = render_with(s, W, H, tp, &b, 2, &cb);
    size_t n = (size_t)W * H * (size_t)xs_aov_channels(tp.aovs);
    CHECK_MSG(memcmp(x, y, n * sizeof *x) == 0, "the AVX2 and the baseline kernels give different pixels");
    CHECK(same_work(&ca, &cb));
    printf("kernels: %s and x86-64 builds agree on %zu values (node tests %llu and %llu)\n", avx2->isa, n,
           (unsigned long long)ca.node_visits, (unsigned long long)cb.node_visits);
    free(x), free(y);
    xs_scene_destroy(s);
}

/* Scene s rendered by the AVX2 and the baseline kernels (wavefront): the
 * same bits, the same work, a lit picture, and at least min_share of the
 * AVX2 render's shade events taken eight at a time (none by the baseline). */
static size_t lanes_agree(const char *label, const xs_scene *s, int W, int H, const xs_tile_params *tp,
                          double min_share)
{
    xs_cpu_options a = {.integrator = XS_INTEGRATOR_WAVEFRONT, .isa = XS_CPU_ISA_AVX2},
                   b = {.integrator = XS_INTEGRATOR_WAVEFRONT, .isa = XS_CPU_ISA_BASE};
    xs_counters ca = {0}, cb = {0};
    const uint64_t l0 = xs_cpu_lanes_shaded8();
    float *x = render_with(s, W, H, *tp, &a, 2, &ca);
    const uint64_t l1 = xs_cpu_lanes_shaded8();
    float *y = render_with(s, W, H, *tp, &b, 2, &cb);
    const uint64_t l2 = xs_cpu_lanes_shaded8();
    const size_t n = (size_t)W * H * (size_t)xs_aov_channels(tp->aovs);
    size_t diff = 0, lit = 0;
    for (size_t i = 0; i < n; ++i) {
        diff += memcmp(&x[i], &y[i], sizeof *x) != 0;
        lit += x[i] > 0.0f;
    }
    CHECK_MSG(diff == 0, "%s: %zu of %zu values differ between the AVX2 and the baseline kernels", label, diff, n);
    CHECK(same_work(&ca, &cb));
    CHECK(lit > n / 4); /* a lit picture, not two black ones */
    const double share = ca.shade_events ? (double)(l1 - l0) / (double)ca.shade_events : 0.0;
    CHECK_MSG(share >= min_share && l2 == l1, "%s: %.3f of the hits shaded eight at a time (at least %.2f wanted), "
              "%llu by the baseline build", label, share, min_share, (unsigned long long)(l2 - l1));
    printf("%s: %zu values agree; %llu hits shaded, %.1f%% of them eight at a time\n", label, n,
           (unsigned long long)ca.shade_events, 100.0 * share);
    free(x), free(y);
    return n;
}

static void test_lambert_lanes(void)
{
    need_avx2();
    xs_scene_desc d;
    xs_cornell_desc(&d);
    /* 0 white, 1 red, 2 green, 3 light (Lambert, IOR 1); 4 black */
    static xs_diffuse_material m[5];
    memcpy(m, d.materials, d.material_count * sizeof *m);
    m[4] = m[0];
    m[4].albedo = xs_v3(0.0f, 0.0f, 0.0f);
    m[1].ior = 1.5f; /* a plastic: not the Lambert base alone, whatever its flags say */
    m[1].roughness = 0.3f;
    m[1].flags = XS_MAT_LAMBERT;
    m[3].flags = XS_MAT_EMIT_TWO_SIDED;
    uint32_t *mat = malloc(d.tri_count * sizeof *mat);
    float *flipped = malloc((size_t)d.tri_count * 9 * sizeof *flipped);
    memcpy(mat, d.materials_of, d.tri_count * sizeof *mat);
    mat[d.tri_count - 1] = mat[d.tri_count - 2] = 4; /* a box face */
    for (uint32_t i = 0; i < d.tri_count; ++i) {
        const float *t = d.positions + (size_t)i * 9;
        float *f = flipped + (size_t)i * 9;
        memcpy(f, t, 3 * sizeof *f);
        memcpy(f + 3, t + 6, 3 * sizeof *f);
        memcpy(f + 6, t + 3, 3 * sizeof *f);
    }
    d.materials = m;
    d.material_count = 5;
    d.materials_of = mat;
    d.background = xs_v3(0.2f, 0.25f, 0.3f); /* an open front onto a sky: a second light */
    struct {
        const char *label;
        bool flip;
        int mis, bounces, rr_start;
        float clamp;
        double share; /* of the hits shaded eight at a time, at least */
    } cases[] = {
        {"MIS, clamp 2, roulette from bounce 1", false, XS_MIS_ON, 6, 1, 2.0f, 0.6},
        {"light sampling only", false, XS_MIS_LIGHT_ONLY, 5, 3, 0.0f, 0.6},
        {"BSDF sampling only", false, XS_MIS_BSDF_ONLY, 5, 3, 0.0f, 0.5},
        {"back faces, two bounces", true, XS_MIS_ON, 2, 1, 0.5f, 0.6},
    };
    const int W = 40, H = 32;
    size_t total = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        xs_scene_desc dk = d;
        if (cases[k].flip)
            dk.positions = flipped;
        xs_scene *s = NULL;
        xs_err e;
        CHECK_MSG(xs_scene_create(&dk, &s, &e) == XS_OK, "%s", e.msg);
        xs_tile_params tp = params(W, H, 21, cases[k].bounces);
        tp.aovs = XS_AOV_ALBEDO | XS_AOV_NORMAL | XS_AOV_DEPTH;
        tp.mis = cases[k].mis;
        tp.rr_start = cases[k].rr_start;
        tp.clamp = cases[k].clamp;
        total += lanes_agree(cases[k].label, s, W, H, &tp, cases[k].share);
        xs_scene_destroy(s);
    }
    /* texture levels: a textured quad (tests/tex_scene.h) above a Lambert
     * floor, BSDF sampling only (its lights are textured), so the rays the
     * lanes send on from the floor carry the ray cone (width and spread)
     * that picks the quad's texture levels */
    {
        xs_gltf_scene g;
        tex_gltf(&g);
        xs_gltf_mesh *me = &g.meshes[0];
        xs_gltf_primitive *np = calloc(2, sizeof *np);
        np[0] = me->prims[0];
        static float fpos[12] = {-3, -0.6f, 0, 3, -0.6f, 0, 3, -0.6f, 3, -3, -0.6f, 3};
        static uint32_t fidx[6] = {0, 2, 1, 0, 3, 2};
        np[1].vertex_count = 4, np[1].tri_count = 2;
        np[1].positions = fpos, np[1].indices = fidx, np[1].material = 1;
        xs_gltf_primitive *old = me->prims;
        me->prims = np, me->prim_count = 2;
        xs_gltf_material *nm = calloc(2, sizeof *nm), *old_m = g.materials;
        nm[0] = g.materials[0];
        nm[1] = nm[0];
        const xs_gltf_texref none = {.texture = -1, .scale = 1, .tscale = {1, 1}};
        nm[1].base_color_tex = nm[1].metallic_roughness_tex = nm[1].normal_tex = nm[1].occlusion_tex = none;
        nm[1].emissive_tex = nm[1].transmission_tex = none;
        nm[1].emissive[0] = nm[1].emissive[1] = nm[1].emissive[2] = 0.0f;
        nm[1].metallic = 0.0f, nm[1].ior = 1.0f;
        nm[1].base_color[0] = 0.8f, nm[1].base_color[1] = 0.7f, nm[1].base_color[2] = 0.6f;
        g.materials = nm, g.material_count = 2;
        g.tri_count_instanced = g.tri_count_unique = 4;
        xs_scene *s = NULL;
        xs_err e;
        CHECK_MSG(tex_scene_build(&g, NULL, &s, &e) == XS_OK, "%s", e.msg);
        xs_tile_params tp = params(48, 40, 16, 4);
        tp.mis = XS_MIS_BSDF_ONLY;
        total += lanes_agree("textured quad over a Lambert floor", s, 48, 40, &tp, 0.1);
        xs_scene_destroy(s);
        me->prims = old, me->prim_count = 1;
        g.materials = old_m, g.material_count = 1;
        free(np), free(nm);
        tex_gltf_free(&g);
        (void)tex_store_write;
    }
    printf("lambert lanes: %zu values bit-identical across the two builds\n", total);
    free(mat), free(flipped);
}

/* A glTF scene in memory for the GGX lanes: a floor of smooth-shaded
 * quads (vertex normals tilted apart, so the interpolated normal is not the
 * face's) in a rough plastic with a polished metal plate on it, a textured
 * back wall (one by one; the ray cone the floor's lanes hand on picks its
 * texture levels), a smooth-shaded box of a smooth plastic placed by a
 * rotated, sheared and unevenly scaled instance (its normals through the
 * inverse's transpose), and a one-sided emissive quad placed twice by mirroring
 * instances (the light's triangle in the world, its front flipped). */
static xs_scene *ggx_scene(float sky, bool punctual)
{
    static float fpos[] = {-2, 0, -1, 2, 0, -1, 2, 0, 2, -2, 0, 2,                           /* floor */
                           -2, 0, -1, 2, 0, -1, 2, 2, -1, -2, 2, -1,                         /* wall */
                           -1.6f, 0.01f, 0, -0.4f, 0.01f, 0, -0.4f, 0.01f, 1.5f, -1.6f, 0.01f, 1.5f}; /* plate */
    static float fuv[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static float fnrm[] = {-0.3f, 1, 0.1f, 0.2f, 1, -0.2f, 0.1f, 1, 0.3f, -0.1f, 1, 0,
                           -0.2f, 0.1f, 1, 0.3f, -0.1f, 1, 0.1f, 0.2f, 1, -0.3f, 0, 1,
                           0.2f, 1, 0.1f, -0.2f, 1, 0.2f, 0.1f, 1, -0.2f, 0, 1, 0.1f};
    static uint32_t fidx[] = {0, 2, 1, 0, 3, 2, 4, 5, 6, 4, 6, 7};
    static float bpos[] = {-0.4f, 0, -0.4f, 0.4f, 0, -0.4f, 0.4f, 0.8f, -0.4f, -0.4f, 0.8f, -0.4f,
                           -0.4f, 0, 0.4f, 0.4f, 0, 0.4f, 0.4f, 0.8f, 0.4f, -0.4f, 0.8f, 0.4f};
    static uint32_t bidx[] = {0, 1, 2, 0, 2, 3, 4, 6, 5, 4, 7, 6, 0, 4, 5, 0, 5, 1,
                              3, 2, 6, 3, 6, 7, 0, 3, 7, 0, 7, 4, 1, 5, 6, 1, 6, 2};
    static float lpos[] = {-0.3f, 0, -0.3f, 0.3f, 0, -0.3f, 0.3f, 0, 0.3f, -0.3f, 0, 0.3f};
    static uint32_t lidx[] = {0, 1, 2, 0, 2, 3};
    static xs_gltf_primitive fp[3], bp[1], lp[1];
    memset(fp, 0, sizeof fp), memset(bp, 0, sizeof bp), memset(lp, 0, sizeof lp);
    fp[0] = (xs_gltf_primitive){.vertex_count = 4, .tri_count = 2, .positions = fpos, .normals = fnrm, .indices = fidx,
                                .material = 0};
    static uint32_t fidx2[] = {0, 1, 2, 0, 2, 3}, fidx3[] = {0, 2, 1, 0, 3, 2};
    fp[1] = (xs_gltf_primitive){.vertex_count = 4, .tri_count = 2, .positions = fpos + 12, .normals = fnrm + 12,
                                .uv0 = fuv + 8, .indices = fidx2, .material = 4};
    fp[2] = (xs_gltf_primitive){.vertex_count = 4, .tri_count = 2, .positions = fpos + 24, .normals = fnrm + 24,
                                .indices = fidx3, .material = 1};
    static float bnrm[] = {-1, -1, -1, 1, -1, -1, 1, 1, -1, -1, 1, -1, -1, -1, 1, 1, -1, 1, 1, 1, 1, -1, 1, 1};
    bp[0] = (xs_gltf_primitive){.vertex_count = 8, .tri_count = 12, .positions = bpos, .normals = bnrm, .indices = bidx,
                                .material = 2};
    lp[0] = (xs_gltf_primitive){.vertex_count = 4, .tri_count = 2, .positions = lpos, .indices = lidx, .material = 3};
    /* with the punctual lights, a ceiling above them (a shadow ray that ran
     * past its light would meet it) */
    static float cpos[] = {-2, 2.4f, -1, 2, 2.4f, -1, 2, 2.4f, 2, -2, 2.4f, 2};
    static uint32_t cidx[] = {0, 1, 2, 0, 2, 3};
    static xs_gltf_primitive cp[1];
    memset(cp, 0, sizeof cp);
    cp[0] = (xs_gltf_primitive){.vertex_count = 4, .tri_count = 2, .positions = cpos, .indices = cidx, .material = 0};
    static xs_gltf_mesh meshes[4];
    memset(meshes, 0, sizeof meshes);
    meshes[3].prims = cp, meshes[3].prim_count = 1;
    meshes[0].prims = fp, meshes[0].prim_count = 3;
    meshes[1].prims = bp, meshes[1].prim_count = 1;
    meshes[2].prims = lp, meshes[2].prim_count = 1;
    static xs_gltf_instance inst[5];
    memset(inst, 0, sizeof inst);
    static const float id[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    /* column-major: a box turned 30 degrees about y; the lights tilted to
     * face down, scaled, and one mirrored in x */
    const float c = 0.8660254f, sn = 0.5f;
    const float box[16] = {1.3f * c, 0, -1.3f * sn, 0, 0, 0.7f, 0.1f, 0, sn, 0, c, 0, 0.6f, 0, 0.4f, 1};
    const float l1[16] = {1.2f, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0.8f, 0, -0.5f, 1.8f, 0.5f, 1};
    const float l2[16] = {-0.9f, 0, 0, 0, 0, 1, 0.2f, 0, 0, -0.2f, 1, 0, 0.8f, 1.6f, 0.8f, 1};
    for (int i = 0; i < 5; ++i)
        inst[i].node = -1;
    inst[4].mesh = 3, memcpy(inst[4].xform, id, sizeof id);
    inst[0].mesh = 0, memcpy(inst[0].xform, id, sizeof id);
    inst[1].mesh = 1, memcpy(inst[1].xform, box, sizeof box);
    inst[2].mesh = 2, memcpy(inst[2].xform, l1, sizeof l1);
    inst[3].mesh = 2, memcpy(inst[3].xform, l2, sizeof l2);
    static xs_gltf_material mats[5];
    memset(mats, 0, sizeof mats);
    const xs_gltf_texref none = {.texture = -1, .scale = 1, .tscale = {1, 1}};
    for (int i = 0; i < 5; ++i) {
        xs_gltf_material *m = &mats[i];
        m->base_color_tex = m->metallic_roughness_tex = m->normal_tex = m->occlusion_tex = none;
        m->emissive_tex = m->transmission_tex = none;
        m->base_color[3] = 1.0f, m->emissive_strength = 1.0f, m->ior = 1.5f, m->alpha_mode = XS_ALPHA_OPAQUE;
        m->attenuation_color[0] = m->attenuation_color[1] = m->attenuation_color[2] = 1.0f;
    }
    mats[0].base_color[0] = 0.7f, mats[0].base_color[1] = 0.6f, mats[0].base_color[2] = 0.5f; /* rough plastic */
    mats[0].roughness = 0.6f;
    mats[1].base_color[0] = 0.9f, mats[1].base_color[1] = 0.8f, mats[1].base_color[2] = 0.4f; /* polished metal */
    mats[1].metallic = 1.0f, mats[1].roughness = 0.15f;
    mats[2].base_color[0] = 0.2f, mats[2].base_color[1] = 0.5f, mats[2].base_color[2] = 0.8f; /* smooth plastic */
    mats[2].roughness = 0.0f;
    mats[3].base_color[0] = mats[3].base_color[1] = mats[3].base_color[2] = 0.5f; /* the light, Lambert */
    mats[3].ior = 1.0f, mats[3].roughness = 1.0f;
    mats[4].base_color[0] = mats[4].base_color[1] = mats[4].base_color[2] = 0.9f; /* the wall: textured */
    mats[4].roughness = 0.8f, mats[4].base_color_tex.texture = 0;
    static xs_image8 img;
    static xs_gltf_texture tex;
    if (!img.rgba8)
        tex_image(&img, 64, 48, 7);
    tex.image = 0, tex.wrap_s = tex.wrap_t = XS_WRAP_REPEAT;
    mats[3].emissive[0] = 9.0f, mats[3].emissive[1] = 8.0f, mats[3].emissive[2] = 6.0f;
    xs_gltf_scene g;
    memset(&g, 0, sizeof g);
    g.meshes = meshes, g.mesh_count = punctual ? 4 : 3;
    g.instances = inst, g.instance_count = punctual ? 5 : 4;
    g.materials = mats, g.material_count = 5;
    g.images = &img, g.image_count = 1;
    g.textures = &tex, g.texture_count = 1;
    /* KHR_lights_punctual: a point light with a range, a spot light facing
     * down, a directional light (column-major: position in column 3, the
     * light looks down its -z) */
    static xs_gltf_light pl[3];
    memset(pl, 0, sizeof pl);
    const float down[16] = {1, 0, 0, 0, 0, 0, -1, 0, 0, 1, 0, 0, 0, 0, 0, 1};
    for (int k = 0; k < 3; ++k) {
        memcpy(pl[k].xform, down, sizeof down);
        pl[k].node = -1;
        pl[k].color[0] = 1.0f, pl[k].color[1] = 0.9f, pl[k].color[2] = 0.7f;
    }
    pl[0].type = XS_GLTF_LIGHT_POINT, pl[0].intensity = 3.0f, pl[0].range = 4.0f;
    pl[0].xform[12] = 0.8f, pl[0].xform[13] = 1.4f, pl[0].xform[14] = 1.2f;
    pl[1].type = XS_GLTF_LIGHT_SPOT, pl[1].intensity = 6.0f, pl[1].inner_cone = 0.3f, pl[1].outer_cone = 0.7f;
    pl[1].xform[12] = -1.0f, pl[1].xform[13] = 1.9f, pl[1].xform[14] = 0.6f;
    pl[2].type = XS_GLTF_LIGHT_DIRECTIONAL, pl[2].intensity = 0.8f;
    pl[2].xform[9] = 0.9f, pl[2].xform[10] = 0.4f; /* slanted */
    if (punctual)
        g.lights = pl, g.light_count = 3;
    g.tri_count_unique = 6 + 12 + 2 + (punctual ? 2 : 0);
    g.tri_count_instanced = 6 + 12 + 4 + (punctual ? 2 : 0);
    xs_scene_setup su;
    memset(&su, 0, sizeof su);
    su.name = "ggx-lanes";
    su.cam_mode = XS_CAM_OVERRIDE;
    su.cam_pos[0] = 0.3f, su.cam_pos[1] = 1.2f, su.cam_pos[2] = 4.0f;
    su.cam_target[1] = 0.6f;
    su.cam_up[1] = 1.0f;
    su.cam_yfov_deg = 45.0f;
    su.env_color[0] = su.env_color[1] = su.env_color[2] = sky;
    su.env_strength = 1.0f;
    su.build.threads = 1;
    xs_scene *s = NULL;
    xs_err e;
    CHECK_MSG(xs_scene_from_gltf(&g, &su, &s, &e) == XS_OK, "%s", e.msg);
    return s;
}

/* The GGX lanes (kernels/cpu/shade_avx2.h) against the baseline build, bit
 * for bit: the glossy Cornell box of the desc path (a rough plastic, a
 * rough metal, a polished part metal, Lambert walls), again with clamped
 * parameters seen grazing, and ggx_scene, dark and under a sky, in each
 * sampling mode. */
static void test_ggx_lanes(void)
{
    need_avx2();
    size_t total = 0;
    {
        xs_scene_desc d;
        xs_cornell_desc(&d);
        static xs_diffuse_material m[4];
        memcpy(m, d.materials, d.material_count * sizeof *m);
        m[0].ior = 1.5f, m[0].roughness = 0.35f;        /* white: a rough plastic */
        m[1].metallic = 1.0f, m[1].roughness = 0.45f;   /* red: a rough metal */
        m[2].metallic = 0.7f, m[2].roughness = 0.02f;   /* green: mostly a polished metal (alpha at its floor) */
        m[2].ior = 2.0f;
        d.materials = m;
        xs_scene *s = NULL;
        xs_err e;
        CHECK_MSG(xs_scene_create(&d, &s, &e) == XS_OK, "%s", e.msg);
        xs_tile_params tp = params(40, 32, 21, 6);
        tp.aovs = XS_AOV_ALBEDO | XS_AOV_NORMAL | XS_AOV_DEPTH;
        tp.rr_start = 1, tp.clamp = 4.0f;
        total += lanes_agree("glossy Cornell box, MIS, clamp 4", s, 40, 32, &tp, 0.5);
        xs_scene_destroy(s);
        /* parameters the scalar code clamps, and a view grazing the floor */
        m[0].metallic = 0.5f, m[0].ior = 1.0f, m[0].roughness = 0.4f; /* part metal, no coat */
        m[1].metallic = 1.3f, m[1].roughness = -0.2f;                 /* past [0, 1] both ways */
        m[2].metallic = -0.5f, m[2].roughness = 1.2f, m[2].ior = 1.0001f;
        m[2].albedo = xs_v3(0.5f, -0.4f, -0.3f);                       /* negative luminance */
        d.cam_pos = xs_v3(278.0f, 4.0f, -40.0f);
        d.cam_target = xs_v3(278.0f, 0.0f, 300.0f);
        CHECK_MSG(xs_scene_create(&d, &s, &e) == XS_OK, "%s", e.msg);
        total += lanes_agree("clamped parameters, a grazing view", s, 40, 32, &tp, 0.3);
        xs_scene_destroy(s);
        /* many lights: the two boxes' twenty triangles faintly emissive, so a
         * batch picks more distinct lights than its cache holds (16) */
        xs_cornell_desc(&d);
        static xs_diffuse_material ml[5];
        memcpy(ml, m, 4 * sizeof *ml);
        ml[4] = ml[0];
        ml[4].emission = xs_v3(0.6f, 0.5f, 0.4f);
        static uint32_t mat_of[64];
        memcpy(mat_of, d.materials_of, d.tri_count * sizeof *mat_of);
        for (uint32_t t = 12; t < d.tri_count; ++t)
            mat_of[t] = 4;
        d.materials = ml, d.material_count = 5, d.materials_of = mat_of;
        CHECK(d.tri_count <= 64);
        CHECK_MSG(xs_scene_create(&d, &s, &e) == XS_OK, "%s", e.msg);
        CHECK(xs_scene_light_count(s) > 16);
        total += lanes_agree("more lights than a batch's cache", s, 40, 32, &tp, 0.3);
        xs_scene_destroy(s);
    }
    const int modes[3] = {XS_MIS_ON, XS_MIS_LIGHT_ONLY, XS_MIS_BSDF_ONLY};
    const char *names[3] = {"MIS", "light sampling only", "BSDF sampling only"};
    for (int sky = 0; sky < 3; ++sky) /* none, a sky, a sky and punctual lights */
        for (int k = 0; k < 3; ++k) {
            xs_scene *s = ggx_scene(sky ? 0.4f : 0.0f, sky == 2);
            xs_tile_params tp = params(48, 36, 17, 5);
            tp.aovs = XS_AOV_ALBEDO | XS_AOV_NORMAL | XS_AOV_DEPTH;
            tp.mis = modes[k];
            tp.rr_start = 2;
            char label[160];
            snprintf(label, sizeof label, "smooth normals, transformed lights, %s, %s",
                     sky == 2 ? "a sky and point, spot and directional lights" : sky ? "a sky" : "no sky", names[k]);
            total += lanes_agree(label, s, 48, 36, &tp, 0.4);
            xs_scene_destroy(s);
        }
    printf("ggx lanes: %zu values bit-identical across the two builds\n", total);
}

/* Forty coplanar copies of a quad, each copy its own colour, seen from 400
 * units by a narrow camera: every camera ray ties forty ways, and its colour
 * says which copy won. The AVX2 build's packets, the baseline build's one-ray
 * walk and the megakernel must give the same bits: the canonical hit
 * (xs_hit_better) with box margins that cover the camera's distance
 * (xs_scene_cover_camera, render/wbvh.c). Skipped without AVX2. */
static void test_far_ties(void)
{
    need_avx2();
    enum { COPIES = 40 };
    static float pos[COPIES * 18];
    static uint32_t mat[COPIES * 2];
    static xs_diffuse_material m[COPIES];
    for (int c = 0; c < COPIES; ++c) {
        const float q[18] = {-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, -1, 0, 1, 1, 0, -1, 1, 0};
        memcpy(pos + 18 * c, q, sizeof q);
        mat[2 * c] = mat[2 * c + 1] = (uint32_t)c;
        memset(&m[c], 0, sizeof m[c]);
        m[c].albedo = xs_v3((float)(c % 5 + 1) * 0.15f, (float)(c % 7 + 1) / 8.0f, (float)(c + 1) / (float)(COPIES + 1));
        m[c].ior = 1.5f;
        m[c].roughness = 1.0f;
    }
    xs_scene_desc d;
    memset(&d, 0, sizeof d);
    d.name = "far_ties";
    d.positions = pos;
    d.materials_of = mat;
    d.tri_count = 2 * COPIES;
    d.materials = m;
    d.material_count = COPIES;
    d.background = xs_v3(1.0f, 1.0f, 1.0f);
    d.cam_pos = xs_v3(3.0f, -2.0f, -400.0f);
    d.cam_target = xs_v3(0.0f, 0.0f, 0.0f);
    d.cam_up = xs_v3(0.0f, 1.0f, 0.0f);
    d.cam_yfov_deg = 0.35f;
    xs_scene *s = NULL;
    xs_err e;
    CHECK(xs_scene_create(&d, &s, &e) == XS_OK);
    const int W = 40, H = 40;
    xs_tile_params tp = params(W, H, 8, 2);
    tp.aovs = XS_AOV_ALBEDO;
    const xs_cpu_options o[3] = {{.integrator = XS_INTEGRATOR_WAVEFRONT, .isa = XS_CPU_ISA_AVX2},
                                 {.integrator = XS_INTEGRATOR_WAVEFRONT, .isa = XS_CPU_ISA_BASE},
                                 {.integrator = XS_INTEGRATOR_MEGAKERNEL, .isa = XS_CPU_ISA_AVX2}};
    float *img[3];
    for (int k = 0; k < 3; ++k) {
        xs_counters c = {0};
        img[k] = render_with(s, W, H, tp, &o[k], 2, &c);
    }
    const size_t n = (size_t)W * H * (size_t)xs_aov_channels(tp.aovs);
    size_t diff[2] = {0, 0};
    for (size_t i = 0; i < n; ++i)
        for (int k = 0; k < 2; ++k)
            diff[k] += memcmp(&img[0][i], &img[k + 1][i], sizeof(float)) != 0;
    /* the first copy wins every tie: its albedo (a mean of equal samples) in the pixels */
    size_t first = 0, covered = 0;
    const size_t stride = (size_t)xs_aov_channels(tp.aovs);
    for (size_t p = 0; p < (size_t)W * H; ++p)
        covered += img[0][p * stride + 3] == 1.0f;
    for (size_t p = 0; p < (size_t)W * H; ++p)
        first += img[0][p * stride + 3] == 1.0f && fabsf(img[0][p * stride + 4] - m[0].albedo.x) < 1e-5f &&
                 fabsf(img[0][p * stride + 5] - m[0].albedo.y) < 1e-5f &&
                 fabsf(img[0][p * stride + 6] - m[0].albedo.z) < 1e-5f;
    printf("far ties: %zu and %zu of %zu values differ from packets (one ray, megakernel); the first copy in %zu of "
           "%zu covered pixels\n",
           diff[0], diff[1], n, first, covered);
    CHECK_MSG(diff[0] == 0 && diff[1] == 0, "ties decided differently");
    CHECK(covered > (size_t)(W * H) / 2 && first == covered);
    for (int k = 0; k < 3; ++k)
        free(img[k]);
    xs_scene_destroy(s);
}

static void test_bvh_threads(void)
{
    const uint32_t n = 150000;
    xs_tri *t = malloc(n * sizeof *t);
    uint64_t z = 88172645463325252ull;
    for (uint32_t i = 0; i < n; ++i) {
        float v[9];
        for (int k = 0; k < 9; ++k) {
            z ^= z << 13, z ^= z >> 7, z ^= z << 17;
            v[k] = (float)(z >> 40) / (float)(1u << 24) * (k % 3 == 0 ? 10.0f : 1.0f) +
                   (k >= 3 ? v[k % 3] * 0.0f : 0.0f);
        }
        t[i].v0 = xs_v3(v[0], v[1], v[2]);
        t[i].e1 = xs_v3(v[3] * 0.05f, v[4] * 0.05f, v[5] * 0.05f);
        t[i].e2 = xs_v3(v[6] * 0.05f, v[7] * 0.05f, v[8] * 0.05f);
    }
    xs_bvh_node *a = NULL, *b = NULL;
    uint32_t na = 0, nb = 0, *oa = NULL, *ob = NULL;
    xs_err e;
    CHECK(xs_bvh_build(t, n, 1, &a, &na, &oa, &e) == XS_OK);
    CHECK(xs_bvh_build(t, n, 4, &b, &nb, &ob, &e) == XS_OK);
    CHECK(na == nb && na > n / 8);
    CHECK(na == nb && memcmp(a, b, na * sizeof *a) == 0);
    CHECK(memcmp(oa, ob, n * sizeof *oa) == 0);
    /* every triangle in exactly one leaf */
    uint32_t covered = 0;
    for (uint32_t i = 0; i < na; ++i)
        covered += a[i].count;
    CHECK(covered == n);
    free(a), free(b), free(oa), free(ob), free(t);
}

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"furnace_sphere", test_furnace_sphere},
        {"mis_agree", test_mis_agree},
        {"tile_alone", test_tile_alone},
        {"solid_slab", test_solid_slab},
        {"bvh_threads", test_bvh_threads},
        {"wavefront_megakernel", test_wavefront_megakernel},
        {"isa_identical", test_isa_identical},
        {"far_ties", test_far_ties},
        {"lambert_lanes", test_lambert_lanes},
        {"ggx_lanes", test_ggx_lanes},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
