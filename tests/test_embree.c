/* The Embree back end (render/backend_embree.c) against the CPU back end
 * and against itself:
 *   cornell_agrees     the built-in Cornell box: the same mean within 0.5%
 *                      and a relative RMSE under 1% against `cpu` (another
 *                      triangle test and tree: the hits differ only at
 *                      edges, the samples are the same)
 *   shared_agrees      the shared scenes DamagedHelmet (textured, one mesh),
 *                      BoxAnimated (transformed instances, posed at a frame)
 *                      and RiggedSimple (a skinned mesh posed at a frame):
 *                      the same within 2% mean and 5% relative RMSE
 *   identical          bit-identical over thread counts (1, 3), over the
 *                      frame as one tile or as four, over two separate
 *                      builds of Embree's scene, and over parts (sample
 *                      chunks) merged: the determinism guarantees of `cpu`
 *   frame_update       a back end made at one frame and updated to another
 *                      (rigid and skinned animation) gives the bits of one
 *                      made at that frame
 *   alpha_mask         a masked quad (alpha under its cutoff) in front of a
 *                      white one is not there on either back end, and one
 *                      over its cutoff is, the same on both
 *   motion_agrees      motion blur (shutter 0.5): moving instances
 *                      (BoxAnimated), a skinned and a morphing mesh
 *                      deforming within the shutter (RiggedSimple,
 *                      AnimatedMorphCube) as `cpu` renders them, within 2%
 *                      mean and 5% relative RMSE, and the same bits on 2
 *                      and 3 threads (test_motion embree_ramps checks the
 *                      blur itself against exact coverage)
 *   memory_plan        Embree's memory (its memory monitor) on the built-in
 *                      Cornell box, grids of 3,200 and 180,000 triangles,
 *                      DamagedHelmet and BoxAnimated (instances): the memory
 *                      plan's per-rank Embree figure covers the build's peak
 *                      and is at most twice it (plus 256 KiB), and a node's
 *                      plan adds it to each rendering rank under embree only
 *   motion_refused     an instance moving within the shutter whose scale is
 *                      not along its own axes (Embree's motion transforms
 *                      cannot hold it) is refused at create with the reason;
 *                      the same frame with the shutter closed renders
 * Without shared scenes (XS_SCENES) the cases that need them skip (77);
 * in a build without Embree every case checks the "not built in" refusal. */
#include "gltf_build.h"
#include "io/xs_scene_input.h"
#include "io/xs_gltf.h"
#include "kernels/cpu/kernel_cpu.h"
#include "kernels/xs_path.h"
#include "render/xs_backend.h"
#include "render/xs_film.h"
#include "render/xs_memplan.h"
#include "render/xs_scene.h"
#include "test_util.h"

#include <math.h>
#include <unistd.h>

enum { W = 64, H = 48 };

static float *render_be(xs_backend *be, const xs_tile_params *tp)
{
    xs_err e;
    xs_counters c;
    memset(&c, 0, sizeof c);
    float *px = calloc((size_t)tp->width * (size_t)tp->height * 4, sizeof *px);
    CHECK_MSG(xs_backend_render_tile(be, tp, px, &c, &e) == XS_OK, "%s", e.msg);
    CHECK(c.camera_rays > 0 && c.shadow_rays > 0);
    /* Embree traced every ray: our walk, which counts nodes, never ran */
    if (strcmp(be->name, "embree") == 0)
        CHECK_MSG(c.node_visits == 0 && c.tri_tests == 0, "our traversal ran on the Embree back end");
    else
        CHECK(c.node_visits > 0);
    return px;
}

/* The frame rendered by a new back end (embree or cpu) of `threads`. */
static float *render(const xs_scene *s, bool embree, int threads, const xs_tile_params *tp)
{
    xs_backend *be = NULL;
    xs_err e;
    xs_result r = embree ? xs_backend_embree_create(s, W, H, threads, &be, &e)
                         : xs_backend_cpu_create(s, W, H, threads, &be, &e);
    CHECK_MSG(r == XS_OK, "%s", e.msg);
    if (r != XS_OK)
        return NULL;
    float *px = render_be(be, tp);
    xs_backend_destroy(be);
    return px;
}

/* Relative RMSE of a's RGB against b's, and the relative difference of
 * their means. */
static void compare(const float *a, const float *b, double *rmse, double *mean_diff)
{
    double se = 0.0, sa = 0.0, sb = 0.0;
    const size_t n = (size_t)W * H;
    for (size_t i = 0; i < n; ++i)
        for (int k = 0; k < 3; ++k) {
            const double d = (double)a[i * 4 + k] - (double)b[i * 4 + k];
            se += d * d;
            sa += a[i * 4 + k];
            sb += b[i * 4 + k];
        }
    const double mb = sb / (double)(3 * n);
    *rmse = sqrt(se / (double)(3 * n)) / mb;
    *mean_diff = fabs(sa - sb) / sb;
}

static bool skip_without_embree(void)
{
    if (xs_embree_compiled())
        return false;
    xs_scene *s = NULL;
    xs_err e;
    xs_backend *be = NULL;
    CHECK(xs_scene_builtin("cornell", NULL, &s, &e) == XS_OK);
    CHECK(xs_backend_embree_create(s, W, H, 1, &be, &e) == XS_ERR_INVALID && be == NULL);
    CHECK_MSG(strstr(e.msg, "built without Embree") != NULL, "%s", e.msg);
    xs_scene_destroy(s);
    return true;
}

static xs_tile_params params(int spp)
{
    xs_tile_params tp = xs_tile_params_frame(W, H, spp, 6);
    tp.seed = 11;
    tp.frame = 1;
    return tp;
}

static void test_cornell_agrees(void)
{
    if (skip_without_embree())
        return;
    xs_scene *s = NULL;
    xs_err e;
    CHECK(xs_scene_builtin("cornell", NULL, &s, &e) == XS_OK);
    const xs_tile_params tp = params(16);
    float *a = render(s, true, 2, &tp), *b = render(s, false, 2, &tp);
    double rmse = 1.0, md = 1.0;
    if (a && b)
        compare(a, b, &rmse, &md);
    printf("cornell: embree against cpu: relative RMSE %.6f, mean difference %.6f%%\n", rmse, 100.0 * md);
    CHECK_MSG(rmse < 0.01 && md < 0.005, "rmse %g mean %g", rmse, md);
    free(a), free(b);
    xs_scene_destroy(s);
}

/* Shared scene `name` posed at `frame` (24 fps; shutter 0 unless given)
 * under a white sky, with the file's first camera. */
static xs_scene *shared_scene(const char *name, int frame, float shutter)
{
    const char *dir = getenv("XS_SCENES");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s.glb", dir ? dir : "", name, name);
    if (!dir || access(path, R_OK) != 0) {
        printf("SKIP: no shared scenes (XS_SCENES)\n");
        exit(77);
    }
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
    su.name = name;
    su.cam_mode = XS_CAM_FIRST;
    su.env_color[0] = su.env_color[1] = su.env_color[2] = 1.0f, su.env_strength = 1.0f;
    su.build.threads = 1;
    xs_scene *s = NULL;
    CHECK_MSG(xs_scene_from_gltf(in->gltf, &su, &s, &e) == XS_OK, "%s", e.msg);
    xs_scene_input_destroy(in);
    xs_scene_timing tm = {24.0, 0.0, shutter, 3};
    if (s && xs_scene_animated(s))
        CHECK_MSG(xs_scene_set_frame(s, &tm, frame, NULL, &e) == XS_OK, "%s", e.msg);
    return s;
}

static void test_shared_agrees(void)
{
    if (skip_without_embree())
        return;
    static const char *names[] = {"DamagedHelmet", "BoxAnimated", "RiggedSimple"};
    for (int k = 0; k < 3; ++k) {
        xs_scene *s = shared_scene(names[k], 7, 0.0f);
        if (!s)
            continue;
        xs_tile_params tp = params(16);
        tp.frame = 7;
        float *a = render(s, true, 2, &tp), *b = render(s, false, 2, &tp);
        double rmse = 1.0, md = 1.0;
        if (a && b)
            compare(a, b, &rmse, &md);
        printf("%s: embree against cpu: relative RMSE %.6f, mean difference %.6f%%\n", names[k], rmse, 100.0 * md);
        CHECK_MSG(rmse < 0.05 && md < 0.02, "%s: rmse %g mean %g", names[k], rmse, md);
        free(a), free(b);
        xs_scene_destroy(s);
    }
}

static void test_identical(void)
{
    if (skip_without_embree())
        return;
    xs_scene *s = NULL;
    xs_err e;
    CHECK(xs_scene_builtin("cornell", NULL, &s, &e) == XS_OK);
    const xs_tile_params tp = params(40); /* three sample chunks */
    const size_t bytes = (size_t)W * H * 4 * sizeof(float);
    float *a = render(s, true, 1, &tp), *b = render(s, true, 3, &tp);
    CHECK_MSG(a && b && memcmp(a, b, bytes) == 0, "1 and 3 threads (two builds of the scene) differ");
    /* the frame as four tiles, each from its own back end */
    float *c = calloc((size_t)W * H * 4, sizeof *c);
    for (int t = 0; t < 4; ++t) {
        xs_tile_params tt = tp;
        tt.x0 = (t % 2) * (W / 2), tt.y0 = (t / 2) * (H / 2);
        tt.width = W / 2, tt.height = H / 2;
        float *px = render(s, true, 2, &tt);
        for (int y = 0; px && y < tt.height; ++y)
            memcpy(c + ((size_t)(tt.y0 + y) * W + (size_t)tt.x0) * 4, px + (size_t)y * (size_t)tt.width * 4,
                   (size_t)tt.width * 4 * sizeof(float));
        free(px);
    }
    CHECK_MSG(a && memcmp(a, c, bytes) == 0, "the frame as one tile and as four differ");
    /* parts: the sample chunks in two parts, merged */
    xs_backend *be = NULL;
    CHECK(xs_backend_embree_create(s, W, H, 2, &be, &e) == XS_OK);
    if (be) {
        const int chunks = (tp.spp + XS_SAMPLE_CHUNK - 1) / XS_SAMPLE_CHUNK;
        const int first = chunks / 2 > 0 ? chunks / 2 : 1;
        printf("parts: %d chunk(s) as [0, %d) and [%d, %d)\n", chunks, first, first, chunks);
        if (chunks >= 2) {
            const size_t pf = (size_t)xs_part_floats(tp.aovs);
            float *p0 = calloc((size_t)W * H * (size_t)first * pf, sizeof(float));
            float *p1 = calloc((size_t)W * H * (size_t)(chunks - first) * pf, sizeof(float));
            double ks = 0.0;
            xs_counters cn;
            memset(&cn, 0, sizeof cn);
            CHECK(xs_backend_begin_part(be, 0, &tp, 0, first, &e) == XS_OK);
            CHECK(xs_backend_end(be, 0, p0, &cn, &ks, &e) == XS_OK);
            CHECK(xs_backend_begin_part(be, 0, &tp, first, chunks - first, &e) == XS_OK);
            CHECK(xs_backend_end(be, 0, p1, &cn, &ks, &e) == XS_OK);
            const float *parts[2] = {p0, p1};
            const int counts[2] = {first, chunks - first};
            float *m = calloc((size_t)W * H * 4, sizeof *m);
            xs_kernel_cpu_merge_parts(&tp, parts, counts, 2, m);
            CHECK_MSG(a && memcmp(a, m, bytes) == 0, "merged parts differ from the whole tile");
            free(p0), free(p1), free(m);
        }
        xs_backend_destroy(be);
    }
    free(a), free(b), free(c);
    xs_scene_destroy(s);
}

static void test_frame_update(void)
{
    if (skip_without_embree())
        return;
    static const char *names[] = {"BoxAnimated", "RiggedSimple"};
    for (int k = 0; k < 2; ++k) {
        xs_scene *s = shared_scene(names[k], 3, 0.0f);
        if (!s)
            continue;
        xs_err e;
        xs_backend *be = NULL;
        CHECK_MSG(xs_backend_embree_create(s, W, H, 2, &be, &e) == XS_OK, "%s", e.msg);
        xs_scene_timing tm = {24.0, 0.0, 0.0f, 3};
        xs_tile_params tp = params(4);
        tp.frame = 15;
        CHECK_MSG(xs_scene_set_frame(s, &tm, 15, NULL, &e) == XS_OK, "%s", e.msg);
        CHECK_MSG(be && xs_backend_update(be, s, &e) == XS_OK, "%s", e.msg);
        float *a = be ? render_be(be, &tp) : NULL;
        xs_backend_destroy(be);
        float *b = render(s, true, 2, &tp);
        tp.frame = 3;
        xs_scene_set_frame(s, &tm, 3, NULL, &e);
        float *c = render(s, true, 2, &tp);
        CHECK_MSG(a && b && memcmp(a, b, (size_t)W * H * 4 * sizeof(float)) == 0,
                  "%s: updated to frame 15 differs from made at frame 15", names[k]);
        CHECK_MSG(b && c && memcmp(b, c, (size_t)W * H * 4 * sizeof(float)) != 0,
                  "%s: frames 3 and 15 are the same: nothing moved", names[k]);
        free(a), free(b), free(c);
        xs_scene_destroy(s);
    }
}

/* A white quad at z = 0 and a red one in front of it (z = 1, half its
 * size), alpha-masked with alpha `alpha` against a cutoff of 0.5. */
static xs_scene *alpha_scene(float alpha)
{
    gltf_b *b = calloc(1, sizeof *b);
    const float pos[] = {-2, -2, 0, 2, -2, 0, 2, 2, 0, -2, 2, 0, -1, -1, 1, 1, -1, 1, 1, 1, 1, -1, 1, 1};
    const uint16_t idx[] = {0, 1, 2, 0, 2, 3};
    const int pa = gb_f(b, pos, 4, 3), pb = gb_f(b, pos + 12, 4, 3), ix = gb_u16(b, idx, 6, 1);
    char *doc = gb_doc(b,
                       "\"scene\":0,\"scenes\":[{\"nodes\":[0,1]}],\"nodes\":[{\"mesh\":0},{\"mesh\":1}],"
                       "\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":%d},\"indices\":%d,\"material\":0}]},"
                       "{\"primitives\":[{\"attributes\":{\"POSITION\":%d},\"indices\":%d,\"material\":1}]}],"
                       "\"materials\":[{\"pbrMetallicRoughness\":{\"baseColorFactor\":[1,1,1,1],\"metallicFactor\":0}},"
                       "{\"alphaMode\":\"MASK\",\"alphaCutoff\":0.5,\"doubleSided\":true,"
                       "\"pbrMetallicRoughness\":{\"baseColorFactor\":[1,0,0,%g],\"metallicFactor\":0}}]",
                       pa, ix, pb, ix, (double)alpha);
    xs_gltf_scene *g = NULL;
    xs_err e;
    xs_scene *s = NULL;
    if (xs_gltf_load("alpha.gltf", (const unsigned char *)doc, strlen(doc), NULL, NULL, NULL, &g, &e) != XS_OK) {
        CHECK_MSG(false, "%s", e.msg);
    } else {
        xs_scene_setup su;
        memset(&su, 0, sizeof su);
        su.name = "alpha";
        su.cam_mode = XS_CAM_OVERRIDE;
        su.cam_pos[2] = 6.0f;
        su.cam_up[1] = 1.0f;
        su.cam_yfov_deg = 50.0f;
        su.env_color[0] = su.env_color[1] = su.env_color[2] = 1.0f, su.env_strength = 1.0f;
        su.build.threads = 1;
        CHECK_MSG(xs_scene_from_gltf(g, &su, &s, &e) == XS_OK, "%s", e.msg);
        xs_gltf_destroy(g);
    }
    free(doc), free(b);
    return s;
}

/* Mean red minus mean green over the frame's middle (where the red quad is). */
static double red_excess(const float *px)
{
    double r = 0.0, g = 0.0;
    for (int y = H / 2 - 4; y < H / 2 + 4; ++y)
        for (int x = W / 2 - 4; x < W / 2 + 4; ++x)
            r += px[((size_t)y * W + (size_t)x) * 4], g += px[((size_t)y * W + (size_t)x) * 4 + 1];
    return (r - g) / 64.0;
}

static void test_alpha_mask(void)
{
    if (skip_without_embree())
        return;
    for (int k = 0; k < 2; ++k) {
        const float alpha = k == 0 ? 0.2f : 0.9f; /* under the cutoff: not there; over: there */
        xs_scene *s = alpha_scene(alpha);
        if (!s)
            return;
        const xs_tile_params tp = params(8);
        float *a = render(s, true, 2, &tp), *b = render(s, false, 2, &tp);
        double rmse = 1.0, md = 1.0;
        if (a && b)
            compare(a, b, &rmse, &md);
        const double ra = a ? red_excess(a) : -1.0, rb = b ? red_excess(b) : -1.0;
        printf("alpha %.1f: red excess embree %.4f cpu %.4f, relative RMSE %.6f\n", (double)alpha, ra, rb, rmse);
        CHECK_MSG(rmse < 0.01 && md < 0.005, "alpha %g: rmse %g mean %g", (double)alpha, rmse, md);
        if (k == 0)
            CHECK_MSG(fabs(ra) < 0.05 && fabs(rb) < 0.05, "a masked-out quad shows: %g %g", ra, rb);
        else
            CHECK_MSG(ra > 0.2 && rb > 0.2, "a masked-in quad is missing: %g %g", ra, rb);
        free(a), free(b);
        xs_scene_destroy(s);
    }
}

static void test_motion_agrees(void)
{
    if (skip_without_embree())
        return;
    /* moving instances; a skinned and a morphing mesh deforming within the shutter */
    static const char *names[] = {"BoxAnimated", "RiggedSimple", "AnimatedMorphCube"};
    for (int k = 0; k < 3; ++k) {
        xs_scene *s = shared_scene(names[k], 7, 0.5f);
        if (!s)
            continue;
        xs_tile_params tp = params(16);
        tp.frame = 7;
        float *a = render(s, true, 2, &tp), *b = render(s, false, 2, &tp), *c = render(s, true, 3, &tp);
        double rmse = 1.0, md = 1.0;
        if (a && b)
            compare(a, b, &rmse, &md);
        printf("%s, shutter 0.5: embree against cpu: relative RMSE %.6f, mean difference %.6f%%\n", names[k], rmse,
               100.0 * md);
        CHECK_MSG(rmse < 0.05 && md < 0.02, "%s: rmse %g mean %g", names[k], rmse, md);
        CHECK_MSG(a && c && memcmp(a, c, (size_t)W * H * 4 * sizeof(float)) == 0, "%s: 2 and 3 threads differ",
                  names[k]);
        free(a), free(b), free(c);
        xs_scene_destroy(s);
    }
}

/* A quad turned 45 degrees under a parent scaled along x, moving within the
 * shutter: its world transform's scale is not along its own axes. */
static void test_motion_refused(void)
{
    if (skip_without_embree())
        return;
    gltf_b *b = calloc(1, sizeof *b);
    const float pos[] = {-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0}, tk[3] = {0, 1, 2};
    const float mv[9] = {0, 0, 0, 1, 0, 0, 2, 0, 0};
    const uint16_t idx[] = {0, 1, 2, 0, 2, 3};
    const int pa = gb_f(b, pos, 4, 3), ix = gb_u16(b, idx, 6, 1), ti = gb_f(b, tk, 3, 1), ma = gb_f(b, mv, 3, 3);
    char *doc = gb_doc(b,
                       "\"scene\":0,\"scenes\":[{\"nodes\":[0]}],\"nodes\":[{\"scale\":[2,1,1],\"children\":[1]},"
                       "{\"mesh\":0,\"rotation\":[0,0,0.38268343,0.92387953]}],"
                       "\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":%d},\"indices\":%d}]}],"
                       "\"animations\":[{\"samplers\":[{\"input\":%d,\"output\":%d}],\"channels\":[{\"sampler\":0,"
                       "\"target\":{\"node\":1,\"path\":\"translation\"}}]}]",
                       pa, ix, ti, ma);
    xs_gltf_scene *g = NULL;
    xs_err e;
    xs_scene *s = NULL;
    CHECK_MSG(xs_gltf_load("sheared.gltf", (const unsigned char *)doc, strlen(doc), NULL, NULL, NULL, &g, &e) == XS_OK,
              "%s", e.msg);
    if (g) {
        xs_scene_setup su;
        memset(&su, 0, sizeof su);
        su.name = "sheared";
        su.cam_mode = XS_CAM_OVERRIDE;
        su.cam_pos[2] = 6.0f;
        su.cam_up[1] = 1.0f;
        su.cam_yfov_deg = 50.0f;
        su.build.threads = 1;
        CHECK_MSG(xs_scene_from_gltf(g, &su, &s, &e) == XS_OK, "%s", e.msg);
        xs_gltf_destroy(g);
    }
    xs_scene_timing tm = {1.0, 0.0, 0.5f, 3};
    if (s)
        CHECK_MSG(xs_scene_set_frame(s, &tm, 1, NULL, &e) == XS_OK, "%s", e.msg);
    xs_backend *be = NULL;
    CHECK(s && xs_backend_embree_create(s, W, H, 2, &be, &e) == XS_ERR_INVALID && be == NULL);
    CHECK_MSG(strstr(e.msg, "motion blur of an instance scaled along axes other than its own") && strstr(e.msg, "sheared"),
              "%s", e.msg);
    printf("refused: %s\n", e.msg);
    /* the same still (shutter closed) renders */
    tm.shutter = 0.0f;
    if (s)
        CHECK_MSG(xs_scene_set_frame(s, &tm, 1, NULL, &e) == XS_OK, "%s", e.msg);
    CHECK_MSG(s && xs_backend_embree_create(s, W, H, 2, &be, &e) == XS_OK, "%s", e.msg);
    xs_backend_destroy(be);
    xs_scene_destroy(s);
    free(doc), free(b);
}

/* A flat grid of 2 n^2 triangles, each its own quad half. */
static xs_scene *grid_scene(int n)
{
    const uint32_t nt = (uint32_t)(2 * n * n);
    float *pos = malloc((size_t)nt * 9 * sizeof *pos);
    uint32_t *mat = calloc(nt, sizeof *mat);
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < n; ++i) {
            const float x0 = (float)i / (float)n - 0.5f, x1 = (float)(i + 1) / (float)n - 0.5f;
            const float y0 = (float)j / (float)n - 0.5f, y1 = (float)(j + 1) / (float)n - 0.5f;
            const float q[2][9] = {{x0, y0, 0, x1, y0, 0, x1, y1, 0}, {x0, y0, 0, x1, y1, 0, x0, y1, 0}};
            memcpy(pos + ((size_t)(j * n + i) * 2) * 9, q, sizeof q);
        }
    static const xs_diffuse_material m = {{0.8f, 0.8f, 0.8f}, {0, 0, 0}, 0u, 0.0f, 1.0f, 1.0f, 0.0f, {0, 0, 0}};
    xs_scene_desc d = {.name = "grid", .positions = pos, .materials_of = mat, .tri_count = nt, .materials = &m,
                       .material_count = 1, .background = {1, 1, 1}, .cam_pos = {0, 0, 2},
                       .cam_target = {0, 0, 0}, .cam_up = {0, 1, 0}, .cam_yfov_deg = 40};
    xs_scene *s = NULL;
    xs_err e;
    CHECK_MSG(xs_scene_create(&d, &s, &e) == XS_OK, "%s", e.msg);
    free(pos), free(mat);
    return s;
}

static void test_memory_plan(void)
{
    if (skip_without_embree())
        return;
    xs_err e;
    /* the shared scenes when there are some (the others need none) */
    const int cases = getenv("XS_SCENES") ? 5 : 3;
    for (int k = 0; k < cases; ++k) {
        xs_scene *s = NULL;
        const char *label = "";
        if (k == 0) {
            CHECK(xs_scene_builtin("cornell", NULL, &s, &e) == XS_OK);
            label = "cornell";
        } else if (k == 1 || k == 2) {
            s = grid_scene(k == 1 ? 40 : 300);
            label = k == 1 ? "grid 3,200" : "grid 180,000";
        } else {
            label = k == 3 ? "DamagedHelmet" : "BoxAnimated";
            s = shared_scene(label, 7, 0.0f);
        }
        xs_backend *be = NULL;
        CHECK_MSG(xs_backend_embree_create(s, W, H, 1, &be, &e) == XS_OK, "%s", e.msg);
        uint64_t now = 0, peak = 0;
        CHECK(xs_backend_embree_memory(be, &now, &peak));
        xs_mem_scene m;
        memset(&m, 0, sizeof m);
        xs_memplan_scene_built(s, &m);
        const uint64_t plan = xs_memplan_embree(&m);
        printf("%s: %llu triangles built, %llu instances: Embree holds %llu bytes (%.1f a triangle), %llu at most "
               "(%.1f); the plan says %llu\n",
               label, (unsigned long long)m.embree_tris, (unsigned long long)m.instance_count,
               (unsigned long long)now, (double)now / (double)m.embree_tris, (unsigned long long)peak,
               (double)peak / (double)m.embree_tris, (unsigned long long)plan);
        CHECK(m.embree_tris == xs_scene_tri_count(s)); /* one identity instance, or each mesh once */
        CHECK(now > 0 && peak >= now);
        CHECK_MSG(plan >= peak && plan <= 2 * peak + 256 * 1024, "%s: plan %llu against a peak of %llu", label,
                  (unsigned long long)plan, (unsigned long long)peak);
        /* a node's plan carries it on each rendering rank, only for embree */
        xs_mem_node_plan p;
        memset(&p, 0, sizeof p);
        p.ranks = 3, p.renderers = 2, p.shared = true;
        xs_memplan_node(&m, &p);
        const uint64_t steady = p.node_steady, rank = p.rank_steady;
        p.embree = true;
        xs_memplan_node(&m, &p);
        CHECK(p.embree_copy == plan && p.node_steady == steady + 2 * plan && p.rank_steady == rank + plan);
        xs_backend_destroy(be);
        xs_scene_destroy(s);
    }
}

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"cornell_agrees", test_cornell_agrees}, {"shared_agrees", test_shared_agrees},
        {"memory_plan", test_memory_plan},
        {"identical", test_identical},           {"frame_update", test_frame_update},
        {"alpha_mask", test_alpha_mask},         {"motion_agrees", test_motion_agrees},
        {"motion_refused", test_motion_refused},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
