/* Furnace tests of the path tracer. A closed cube whose every face emits Le
 * (both sides) and reflects diffusely with albedo rho has the radiance
 *     L = Le * (1 + rho + ... + rho^B) = Le * (1 - rho^(B+1)) / (1 - rho)
 * everywhere inside, for a path-length limit of B bounces (the camera hit's
 * emission, then next-event estimation at each of the B vertices). With B
 * large it is Le / (1 - rho). Rendered through the CPU back end with several
 * threads, Russian roulette on; the image mean must land within 1% of it.
 * Measured spread of one render's mean over 16 seeds: 1.25% at 32 spp and
 * 0.31% at 256 spp (rho 0.5), so at 512 spp (about 0.16%) 1% is over 6 sigma:
 * a failure means bias, not bad luck. */
#include "render/xs_backend.h"
#include "render/xs_film.h"
#include "render/xs_scene.h"
#include "test_util.h"

#include <math.h>

static const float cube[12][9] = {
    /* each face as two triangles; a cube from -1 to 1 */
    {-1, -1, -1, 1, -1, -1, 1, 1, -1}, {-1, -1, -1, 1, 1, -1, -1, 1, -1},
    {-1, -1, 1, 1, 1, 1, 1, -1, 1},    {-1, -1, 1, -1, 1, 1, 1, 1, 1},
    {-1, -1, -1, -1, 1, -1, -1, 1, 1}, {-1, -1, -1, -1, 1, 1, -1, -1, 1},
    {1, -1, -1, 1, 1, 1, 1, 1, -1},    {1, -1, -1, 1, -1, 1, 1, 1, 1},
    {-1, -1, -1, -1, -1, 1, 1, -1, 1}, {-1, -1, -1, 1, -1, 1, 1, -1, -1},
    {-1, 1, -1, 1, 1, 1, -1, 1, 1},    {-1, 1, -1, 1, 1, -1, 1, 1, 1},
};

static double render_mean(float le, float rho, int bounces, int spp, double *mean_alpha)
{
    uint32_t mats[12] = {0};
    xs_diffuse_material m = {{rho, rho, rho}, {le, le, le}, XS_MAT_EMIT_TWO_SIDED, 0.0f, 1.0f, 1.0f, 0.0f, {0, 0, 0}};
    xs_scene_desc d = {.name = "furnace", .positions = &cube[0][0], .materials_of = mats,
                       .tri_count = 12, .materials = &m, .material_count = 1,
                       .background = {0, 0, 0}, .cam_pos = {0.1f, 0.2f, 0.3f},
                       .cam_target = {1, 0.5f, -0.5f}, .cam_up = {0, 1, 0}, .cam_yfov_deg = 90};
    xs_scene *s = NULL;
    xs_err e;
    CHECK(xs_scene_create(&d, &s, &e) == XS_OK);
    CHECK(xs_scene_light_count(s) == 12);
    xs_backend *be = NULL;
    CHECK(xs_backend_cpu_create(s, 48, 32, 3, &be, &e) == XS_OK);
    xs_tile_params tp = {.frame_width = 48, .frame_height = 32, .x0 = 0, .y0 = 0, .width = 48,
                         .height = 32, .spp = spp, .max_bounces = bounces, .rr_start = 3,
                         .seed = 11, .frame = 1};
    float *rgba = malloc(48 * 32 * 4 * sizeof(float));
    xs_counters c = {0};
    CHECK(xs_backend_render_tile(be, &tp, rgba, &c, &e) == XS_OK);
    double sum = 0.0, asum = 0.0;
    for (int i = 0; i < 48 * 32; ++i) {
        sum += (rgba[i * 4] + rgba[i * 4 + 1] + rgba[i * 4 + 2]) / 3.0;
        asum += rgba[i * 4 + 3];
    }
    CHECK(c.camera_rays == 48u * 32u * (uint64_t)spp);
    CHECK(c.nonfinite == 0);
    CHECK(c.node_visits > 0 && c.tri_tests > 0);
    CHECK(bounces == 0 ? c.shadow_rays == 0 : c.shadow_rays > 0);
    free(rgba);
    xs_backend_destroy(be);
    xs_scene_destroy(s);
    *mean_alpha = asum / (48 * 32);
    return sum / (48 * 32);
}

static void check_furnace(float le, float rho, int bounces, int spp)
{
    double alpha = 0.0;
    double got = render_mean(le, rho, bounces, spp, &alpha);
    double expect = le * (1.0 - pow(rho, bounces + 1)) / (1.0 - rho);
    double rel = fabs(got - expect) / expect;
    printf("Le %.2f rho %.2f B %d: mean %.5f, analytic %.5f, error %.3f%%\n", le, rho, bounces,
           got, expect, 100.0 * rel);
    CHECK_MSG(rel < 0.01, "furnace mean %.5f vs analytic %.5f", got, expect);
    CHECK(fabs(alpha - 1.0) < 1e-6);
}

static void test_converges_half(void) { check_furnace(1.0f, 0.5f, 64, 512); }
static void test_converges_bright(void) { check_furnace(0.2f, 0.8f, 256, 512); }
/* Exact truncation: B = 2 gives Le (1 + rho + rho^2). */
static void test_bounce_limit(void) { check_furnace(1.0f, 0.5f, 2, 512); }
/* B = 0: only the camera hit's emission, exactly Le in every pixel. */
static void test_emission_only(void) { check_furnace(0.75f, 0.5f, 0, 4); }

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"converges_half", test_converges_half},
        {"converges_bright", test_converges_bright},
        {"bounce_limit", test_bounce_limit},
        {"emission_only", test_emission_only},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
