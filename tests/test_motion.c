/* Motion blur against closed forms, through the CPU back end:
 *
 * ramp_instance, ramp_camera, ramp_morph, ramp_skin: an emissive square
 *   (radiance 1, black world, box filter of one pixel) moves right at one
 *   unit a second while the shutter is open for one second; the camera sees
 *   the plane z = 0 at 0.02 units a pixel. A point x is covered for the
 *   time the square's span [t - 1, t] holds it within [0.5, 1.5], so the
 *   blurred profile rises linearly over x in [-0.5, 0.5] and falls over
 *   [0.5, 1.5]; each pixel is compared with that ramp averaged over the
 *   pixel. The motion comes from the instance's node, from the camera
 *   moving the other way, from a morph target's weight and from a joint.
 *   Tolerance 0.03 a column (20 rows x 256 samples: the noise is about
 *   0.007), 0.01 on the mean error. ramp_skin_union: the same with one tree
 *   bounding every motion step instead of one per segment.
 * spinning_disc: an emissive disc turning a quarter about its axis while
 *   the shutter is open stays a disc: its coverage matches the still disc's
 *   within 0.5% and every pixel well inside or outside it is exact, with 2
 *   and 3 motion steps (a matrix blend would shrink it by up to 29% between
 *   steps and lose a third of its area with 2 steps).
 * tile_alone: under motion blur a tile rendered alone holds the same bytes
 *   as the same pixels of the whole frame.
 * still_shutter: an animated scene at shutter 0, at a keyframe's time,
 *   renders bit for bit as the same scene written without animation.
 * wavefront_megakernel: under motion blur (a moving instance, a moving
 *   camera, a morph and a skin, the skin with a tree per segment and with
 *   one tree over every step) the wavefront integrator and the reference
 *   megakernel give the same bytes: both take each path's time from its
 *   sampler key, the same way.
 * scenes_wavefront_megakernel: the same on the shared animated scenes
 *   (BoxAnimated: moving instances; RiggedSimple: a skin; AnimatedMorphCube:
 *   morph targets) lit by a white sky, so shadow rays and bounces count,
 *   at a shutter of half a frame, the skin also with one tree over every
 *   step; needs XS_SCENES (skipped without).
 */
#include "io/xs_scene_input.h"
#include "kernels/cpu/kernel_cpu.h"
#include "render/xs_backend.h"
#include "render/xs_film.h"
#include "render/xs_scene.h"
#include "gltf_build.h"
#include "test_util.h"

#include <math.h>
#include <unistd.h>

enum { RAMP_W = 200, RAMP_H = 20 };

/* An emissive square [-1, 0] x [-1, 1] (or a disc of radius 0.8 about the
 * origin) moved by `mode`. */
static char *doc_for(gltf_b *b, const char *mode, bool animated)
{
    char nodes[1200], extra[1200] = "";
    float tk[3] = {0, 1, 2};
    int ti = gb_f(b, tk, 3, 1);
    float quad[12] = {-1, -1, 0, 0, -1, 0, 0, 1, 0, -1, 1, 0};
    uint16_t qi[6] = {0, 1, 2, 0, 2, 3};
    const char *mat = "\"materials\":[{\"pbrMetallicRoughness\":{\"baseColorFactor\":[0,0,0,1]},"
                      "\"emissiveFactor\":[1,1,1]}]";
    if (strcmp(mode, "disc") == 0) {
        float p[65 * 3];
        uint16_t ix[64 * 3];
        p[0] = p[1] = p[2] = 0;
        for (int i = 0; i < 64; ++i) {
            double a = 2 * 3.14159265358979 * i / 64;
            p[3 + 3 * i] = (float)(0.8 * cos(a)), p[4 + 3 * i] = (float)(0.8 * sin(a)), p[5 + 3 * i] = 0;
            ix[3 * i] = 0, ix[3 * i + 1] = (uint16_t)(1 + i), ix[3 * i + 2] = (uint16_t)(1 + (i + 1) % 64);
        }
        int pa = gb_f(b, p, 65, 3), ia = gb_u16(b, ix, 192, 1);
        float r[12] = {0, 0, 0, 1, 0, 0, 0.70710678f, 0.70710678f, 0, 0, 1, 0}; /* 0, 90, 180 degrees */
        int ra = gb_f(b, r, 3, 4);
        snprintf(nodes, sizeof nodes,
                 "\"nodes\":[{\"mesh\":0}],\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":%d},"
                 "\"indices\":%d,\"material\":0}]}]",
                 pa, ia);
        if (animated)
            snprintf(extra, sizeof extra,
                     ",\"animations\":[{\"samplers\":[{\"input\":%d,\"output\":%d}],\"channels\":[{\"sampler\":0,"
                     "\"target\":{\"node\":0,\"path\":\"rotation\"}}]}]",
                     ti, ra);
        return gb_doc(b, "\"scenes\":[{\"nodes\":[0]}],%s,%s%s", nodes, mat, extra);
    }
    int pa = gb_f(b, quad, 4, 3), ia = gb_u16(b, qi, 6, 1);
    float mv[9] = {0, 0, 0, 1, 0, 0, 2, 0, 0};
    if (strcmp(mode, "instance") == 0 || strcmp(mode, "still") == 0) {
        int ma = gb_f(b, mv, 3, 3);
        snprintf(nodes, sizeof nodes,
                 "\"nodes\":[{\"mesh\":0%s}],\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":%d},"
                 "\"indices\":%d,\"material\":0}]}]",
                 animated ? "" : ",\"translation\":[1,0,0]", pa, ia);
        if (animated)
            snprintf(extra, sizeof extra,
                     ",\"animations\":[{\"samplers\":[{\"input\":%d,\"output\":%d}],\"channels\":[{\"sampler\":0,"
                     "\"target\":{\"node\":0,\"path\":\"translation\"}}]}]",
                     ti, ma);
    } else if (strcmp(mode, "camera") == 0) {
        float cv[9] = {0, 0, 10, -1, 0, 10, -2, 0, 10};
        int ca = gb_f(b, cv, 3, 3);
        snprintf(nodes, sizeof nodes,
                 "\"nodes\":[{\"mesh\":0},{\"camera\":0,\"translation\":[0,0,10]}],\"cameras\":[{\"type\":"
                 "\"perspective\",\"perspective\":{\"yfov\":%.9g,\"znear\":0.1}}],\"meshes\":[{\"primitives\":"
                 "[{\"attributes\":{\"POSITION\":%d},\"indices\":%d,\"material\":0}]}]",
                 2.0 * atan(0.02), pa, ia);
        snprintf(extra, sizeof extra,
                 ",\"animations\":[{\"samplers\":[{\"input\":%d,\"output\":%d}],\"channels\":[{\"sampler\":0,"
                 "\"target\":{\"node\":1,\"path\":\"translation\"}}]}]",
                 ti, ca);
        return gb_doc(b, "\"scenes\":[{\"nodes\":[0,1]}],%s,%s%s", nodes, mat, extra);
    } else if (strcmp(mode, "morph") == 0) {
        float d[12] = {2, 0, 0, 2, 0, 0, 2, 0, 0, 2, 0, 0}, w[3] = {0, 0.5f, 1};
        int da = gb_f(b, d, 4, 3), wa = gb_f(b, w, 3, 1);
        snprintf(nodes, sizeof nodes,
                 "\"nodes\":[{\"mesh\":0}],\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":%d},"
                 "\"indices\":%d,\"material\":0,\"targets\":[{\"POSITION\":%d}]}]}]",
                 pa, ia, da);
        snprintf(extra, sizeof extra,
                 ",\"animations\":[{\"samplers\":[{\"input\":%d,\"output\":%d}],\"channels\":[{\"sampler\":0,"
                 "\"target\":{\"node\":0,\"path\":\"weights\"}}]}]",
                 ti, wa);
    } else { /* skin: every vertex on joint 0, which moves */
        uint16_t jn[16] = {0};
        float wt[16] = {0}, ibm[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
        for (int v = 0; v < 4; ++v)
            wt[4 * v] = 1.0f;
        int ja = gb_u16(b, jn, 4, 4), wa = gb_f(b, wt, 4, 4), ba = gb_f(b, ibm, 1, 16), ma = gb_f(b, mv, 3, 3);
        snprintf(nodes, sizeof nodes,
                 "\"nodes\":[{\"mesh\":0,\"skin\":0},{}],\"skins\":[{\"joints\":[1],\"inverseBindMatrices\":%d}],"
                 "\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":%d,\"JOINTS_0\":%d,\"WEIGHTS_0\":%d},"
                 "\"indices\":%d,\"material\":0}]}]",
                 ba, pa, ja, wa, ia);
        snprintf(extra, sizeof extra,
                 ",\"animations\":[{\"samplers\":[{\"input\":%d,\"output\":%d}],\"channels\":[{\"sampler\":0,"
                 "\"target\":{\"node\":1,\"path\":\"translation\"}}]}]",
                 ti, ma);
        return gb_doc(b, "\"scenes\":[{\"nodes\":[0,1]}],%s,%s%s", nodes, mat, extra);
    }
    return gb_doc(b, "\"scenes\":[{\"nodes\":[0]}],%s,%s%s", nodes, mat, extra);
}

/* The scene of doc posed at frame 1 (fps 1, so t = 1 s) with the shutter,
 * rendered whole (or the tile (x0, y0, tw, th) when tw > 0) at spp. */
static int motion_bvh = XS_MOTION_BVH_SEGMENTS;
static const xs_cpu_options *cpu_opt = NULL; /* NULL: the CPU back end's defaults */
static bool use_embree = false; /* the Embree back end instead (render/backend_embree.c) */

static float *render(const char *doc, int w, int h, double tan_half, float shutter, int steps, int spp,
                     int x0, int y0, int tw, int th, bool file_camera)
{
    xs_gltf_scene *g = NULL;
    xs_err e;
    if (xs_gltf_load("t.gltf", (const unsigned char *)doc, strlen(doc), NULL, NULL, NULL, &g, &e) != XS_OK) {
        CHECK_MSG(false, "%s", e.msg);
        return NULL;
    }
    xs_scene_setup su;
    memset(&su, 0, sizeof su);
    su.name = "t";
    su.cam_mode = file_camera ? XS_CAM_FIRST : XS_CAM_OVERRIDE;
    su.cam_pos[2] = 10.0f;
    su.cam_up[1] = 1.0f;
    su.cam_yfov_deg = (float)(2.0 * atan(tan_half) * 180.0 / 3.14159265358979);
    su.env_strength = 0.0f;
    su.build.threads = 1;
    su.build.motion_bvh = motion_bvh;
    xs_scene *s = NULL;
    xs_backend *be = NULL;
    float *px = NULL;
    CHECK_MSG(xs_scene_from_gltf(g, &su, &s, &e) == XS_OK, "%s", e.msg);
    xs_gltf_destroy(g);
    if (!s)
        return NULL;
    xs_scene_set_filter(s, XS_FILTER_BOX, 1.0f);
    xs_scene_timing tm = {1.0, 0.0, shutter, steps};
    CHECK_MSG(xs_scene_set_frame(s, &tm, 1, NULL, &e) == XS_OK, "%s", e.msg);
    if (use_embree)
        CHECK_MSG(xs_backend_embree_create(s, w, h, 2, &be, &e) == XS_OK, "%s", e.msg);
    else
        CHECK(xs_backend_cpu_create_with(s, w, h, 2, cpu_opt, &be, &e) == XS_OK);
    xs_tile_params tp = xs_tile_params_frame(w, h, spp, 2);
    tp.seed = 3;
    tp.frame = 1;
    if (tw > 0)
        tp.x0 = x0, tp.y0 = y0, tp.width = tw, tp.height = th;
    px = malloc((size_t)tp.width * (size_t)tp.height * 4 * sizeof *px);
    xs_counters c;
    memset(&c, 0, sizeof c);
    CHECK(be && xs_backend_render_tile(be, &tp, px, &c, &e) == XS_OK);
    xs_backend_destroy(be);
    xs_scene_destroy(s);
    return px;
}

/* The covered share of the shutter [0.5, 1.5] at x, for the span [t-1, t]. */
static double coverage(double x)
{
    double a = fmax(0.5, x), b = fmin(1.5, x + 1.0);
    return b > a ? b - a : 0.0;
}

static void ramp(const char *mode)
{
    gltf_b *b = calloc(1, sizeof *b);
    char *doc = doc_for(b, mode, true);
    float *px = render(doc, RAMP_W, RAMP_H, 0.02, 1.0f, 3, 256, 0, 0, 0, 0, strcmp(mode, "camera") == 0);
    double worst = 0.0, sum = 0.0, mid = 0.0;
    for (int i = 0; px && i < RAMP_W; ++i) {
        double got = 0.0;
        for (int y = 0; y < RAMP_H; ++y)
            got += px[((size_t)y * RAMP_W + (size_t)i) * 4];
        got /= RAMP_H;
        double want = 0.0;
        for (int k = 0; k < 64; ++k) /* the ramp averaged over the pixel (box filter) */
            want += coverage(-2.0 + 0.02 * (i + (k + 0.5) / 64.0));
        want /= 64.0;
        double d = fabs(got - want);
        worst = fmax(worst, d);
        sum += d;
        if (i == 100)
            mid = got; /* x = 0.01: halfway up the ramp */
    }
    printf("%s: worst column error %.4f, mean %.4f; at x = 0.01: %.3f (ramp: 0.51)\n", mode, worst,
           sum / RAMP_W, mid);
    CHECK(px && worst < 0.03 && sum / RAMP_W < 0.01);
    CHECK(fabs(mid - 0.51) < 0.03); /* not a step: the edge is smeared */
    free(px);
    free(doc);
    free(b);
}

static void test_ramp_instance(void) { ramp("instance"); }
static void test_ramp_camera(void) { ramp("camera"); }
static void test_ramp_morph(void) { ramp("morph"); }
static void test_ramp_skin(void) { ramp("skin"); }
static void test_ramp_skin_union(void)
{
    motion_bvh = XS_MOTION_BVH_UNION; /* one tree bounding every step, the other scheme */
    ramp("skin");
}

static void test_spinning_disc(void)
{
    gltf_b *b = calloc(1, sizeof *b);
    char *doc = doc_for(b, "disc", true);
    float *still = render(doc, 64, 64, 0.1, 0.0f, 3, 64, 0, 0, 0, 0, false);
    for (int steps = 2; still && steps <= 3; ++steps) {
        float *blur = render(doc, 64, 64, 0.1, 1.0f, steps, 64, 0, 0, 0, 0, false);
        double cs = 0.0, cb = 0.0;
        int bad = 0;
        for (int y = 0; blur && y < 64; ++y)
            for (int x = 0; x < 64; ++x) {
                size_t i = ((size_t)y * 64 + (size_t)x) * 4;
                cs += still[i];
                cb += blur[i];
                double r = hypot((x + 0.5) / 32.0 - 1.0, (y + 0.5) / 32.0 - 1.0);
                if ((r < 0.7 && blur[i] != 1.0f) || (r > 0.9 && blur[i] != 0.0f))
                    bad++;
            }
        printf("%d steps: coverage blurred %.1f, still %.1f (%.3f%%); pixels off the disc's shape: %d\n", steps,
               cb, cs, 100.0 * (cb - cs) / cs, bad);
        CHECK(blur && fabs(cb - cs) / cs < 0.005 && bad == 0);
        free(blur);
    }
    free(still);
    free(doc);
    free(b);
}

static void test_tile_alone(void)
{
    gltf_b *b = calloc(1, sizeof *b);
    char *doc = doc_for(b, "skin", true);
    float *whole = render(doc, RAMP_W, RAMP_H, 0.02, 0.7f, 4, 16, 0, 0, 0, 0, false);
    float *tile = render(doc, RAMP_W, RAMP_H, 0.02, 0.7f, 4, 16, 80, 4, 64, 12, false);
    int diff = 0;
    for (int y = 0; whole && tile && y < 12; ++y)
        diff += memcmp(tile + (size_t)y * 64 * 4, whole + ((size_t)(y + 4) * RAMP_W + 80) * 4, 64 * 4 * sizeof(float)) != 0;
    CHECK(whole && tile && diff == 0);
    free(whole), free(tile), free(doc), free(b);
}

static void test_still_shutter(void)
{
    gltf_b *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    char *anim = doc_for(a, "instance", true), *still = doc_for(b, "still", false);
    /* frame 1 at 1 fps is t = 1: the animation's keyframe (1, 0, 0), the
     * still scene's translation */
    float *pa = render(anim, RAMP_W, RAMP_H, 0.02, 0.0f, 3, 8, 0, 0, 0, 0, false);
    float *pb = render(still, RAMP_W, RAMP_H, 0.02, 0.0f, 3, 8, 0, 0, 0, 0, false);
    CHECK(pa && pb && memcmp(pa, pb, (size_t)RAMP_W * RAMP_H * 4 * sizeof(float)) == 0);
    free(pa), free(pb), free(anim), free(still), free(a), free(b);
}

static void test_wavefront_megakernel(void)
{
    static const char *modes[] = {"instance", "camera", "morph", "skin", "skin"};
    const xs_cpu_options mega = {.integrator = XS_INTEGRATOR_MEGAKERNEL, .isa = XS_CPU_ISA_AUTO};
    for (int k = 0; k < 5; ++k) {
        gltf_b *b = calloc(1, sizeof *b);
        char *doc = doc_for(b, modes[k], true);
        motion_bvh = k == 4 ? XS_MOTION_BVH_UNION : XS_MOTION_BVH_SEGMENTS;
        cpu_opt = NULL;
        float *wf = render(doc, RAMP_W, RAMP_H, 0.02, 0.7f, 3, 16, 0, 0, 0, 0, k == 1);
        cpu_opt = &mega;
        float *mk = render(doc, RAMP_W, RAMP_H, 0.02, 0.7f, 3, 16, 0, 0, 0, 0, k == 1);
        cpu_opt = NULL;
        double sum = 0.0;
        for (int i = 0; wf && i < RAMP_W * RAMP_H * 4; i += 4)
            sum += wf[i];
        CHECK_MSG(wf && mk && memcmp(wf, mk, (size_t)RAMP_W * RAMP_H * 4 * sizeof(float)) == 0,
                  "%s%s: the wavefront and the megakernel differ", modes[k], k == 4 ? " (one tree)" : "");
        CHECK_MSG(sum > 1.0, "%s: nothing rendered", modes[k]);
        free(wf), free(mk), free(doc), free(b);
    }
    motion_bvh = XS_MOTION_BVH_SEGMENTS;
}

/* Shared scene `name` posed at frame 7 (24 fps, shutter 0.5, 3 steps) under a
 * white sky, rendered at 48x48, 8 spp with the given options. */
static float *render_shared(const char *path, int motion, const xs_cpu_options *o)
{
    xs_scene_limits lim;
    xs_scene_limits_default(&lim);
    unsigned char *bytes = NULL;
    size_t len = 0;
    xs_scene_input *in = NULL;
    xs_err e;
    CHECK_MSG(xs_scene_input_load(path, &lim, &bytes, &len, &in, &e) == XS_OK, "%s", e.msg);
    free(bytes);
    if (!in)
        return NULL;
    xs_scene_setup su;
    memset(&su, 0, sizeof su);
    su.name = "shared";
    su.cam_mode = XS_CAM_FIRST;
    su.env_color[0] = su.env_color[1] = su.env_color[2] = 1.0f, su.env_strength = 1.0f;
    su.build.threads = 1;
    su.build.motion_bvh = motion;
    xs_scene *s = NULL;
    CHECK_MSG(xs_scene_from_gltf(in->gltf, &su, &s, &e) == XS_OK, "%s", e.msg);
    xs_scene_input_destroy(in);
    float *px = NULL;
    xs_scene_timing tm = {24.0, 0.0, 0.5f, 3};
    xs_backend *be = NULL;
    if (s && xs_scene_set_frame(s, &tm, 7, NULL, &e) == XS_OK &&
        xs_backend_cpu_create_with(s, 48, 48, 2, o, &be, &e) == XS_OK) {
        xs_tile_params tp = xs_tile_params_frame(48, 48, 8, 4);
        tp.frame = 7;
        px = malloc(48 * 48 * 4 * sizeof *px);
        xs_counters c;
        memset(&c, 0, sizeof c);
        CHECK_MSG(xs_backend_render_tile(be, &tp, px, &c, &e) == XS_OK, "%s", e.msg);
        CHECK(c.shadow_rays > 0 && c.bounce_rays > 0);
    } else {
        CHECK_MSG(false, "%s", e.msg);
    }
    xs_backend_destroy(be);
    xs_scene_destroy(s);
    return px;
}

static void test_scenes_wavefront_megakernel(void)
{
    static const char *names[] = {"BoxAnimated", "RiggedSimple", "AnimatedMorphCube", "RiggedSimple"};
    const char *dir = getenv("XS_SCENES");
    char path[1024];
    snprintf(path, sizeof path, "%s/BoxAnimated/BoxAnimated.glb", dir ? dir : "");
    if (!dir || access(path, R_OK) != 0) {
        printf("SKIP: no shared scenes (XS_SCENES)\n");
        exit(77);
    }
    const xs_cpu_options mega = {.integrator = XS_INTEGRATOR_MEGAKERNEL, .isa = XS_CPU_ISA_AUTO};
    for (int k = 0; k < 4; ++k) {
        snprintf(path, sizeof path, "%s/%s/%s.glb", dir, names[k], names[k]);
        const int motion = k == 3 ? XS_MOTION_BVH_UNION : XS_MOTION_BVH_SEGMENTS;
        float *wf = render_shared(path, motion, NULL), *mk = render_shared(path, motion, &mega);
        CHECK_MSG(wf && mk && memcmp(wf, mk, 48 * 48 * 4 * sizeof(float)) == 0,
                  "%s%s: the wavefront and the megakernel differ", names[k], k == 3 ? " (one tree)" : "");
        free(wf), free(mk);
    }
}

/* The Embree back end under the same motion: the ramps' exact coverage
 * (a moving instance, the camera, a morphing and a skinned mesh deforming
 * within the shutter) and the spinning disc that stays round (Embree's
 * quaternion motion transforms). */
static void test_embree_ramps(void)
{
    if (!xs_embree_compiled()) {
        printf("SKIP: built without Embree\n");
        exit(77);
    }
    use_embree = true;
    ramp("instance");
    ramp("camera");
    ramp("morph");
    ramp("skin");
    test_spinning_disc();
    use_embree = false;
}

int main(int argc, char **argv)
{
    const xs_test_case cases[] = {
        {"ramp_instance", test_ramp_instance}, {"ramp_camera", test_ramp_camera},
        {"ramp_morph", test_ramp_morph},       {"ramp_skin", test_ramp_skin},
        {"ramp_skin_union", test_ramp_skin_union},
        {"spinning_disc", test_spinning_disc}, {"tile_alone", test_tile_alone},
        {"still_shutter", test_still_shutter}, {"wavefront_megakernel", test_wavefront_megakernel},
        {"scenes_wavefront_megakernel", test_scenes_wavefront_megakernel},
        {"embree_ramps", test_embree_ramps},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
