/* Animation against closed forms (render/animation.c, render/scene_anim.c,
 * io/gltf_anim.c):
 *
 * step_linear: STEP and LINEAR samplers before, at, between and after their
 *   keyframes (outside the range the first or last value holds).
 * cubic: CUBICSPLINE against the Hermite form of glTF's Appendix C, the
 *   tangents scaled by the keyframe interval; the value (not a tangent) at
 *   and beyond the edges.
 * single_key: one keyframe holds at every time, for each interpolation.
 * slerp_short_way: rotations interpolate the short way round (0 to 350
 *   degrees passes -5 degrees halfway), at constant angular speed.
 * hierarchy: a child's world transform under an animated parent.
 * morph_half: a morph target at weight 0.5 (node weights, and a weights
 *   channel) moves the vertices halfway; a sparse target moves only the
 *   vertex it names.
 * skin_bend: a bar whose second joint turns 90 degrees bends where the
 *   inverse bind matrices say; the skinned node's own transform is ignored;
 *   normals follow the inverse transpose (a joint scaled 2x along x turns a
 *   (1, 1, 0) normal to (0.5, 1, 0), not (2, 1, 0)).
 * camera_light: a camera and a point light on animated nodes are where the
 *   nodes are at the frame's time.
 * frame_is_pure: a frame posed after other frames (refits and rebuilds on
 *   the way) holds the same bytes as the frame posed first.
 * refused: broken animations, skins and morph targets, each refused with
 *   the message naming what and why.
 * gpu_instances_posed: a node's EXT_mesh_gpu_instancing elements, the node
 *   animated: each element keeps its own offset under the node's pose (not
 *   all at the node), while a still node's elements keep theirs.
 * never_shared: an animated scene cannot become a node's shared block
 *   (render/scene_share.c): posing rewrites it per rank; a still one can.
 */
#include "render/xs_animation.h"
#include "render/xs_backend.h"
#include "render/xs_film.h"
#include "render/xs_scene.h"
#include "gltf_build.h"
#include "test_util.h"

#include <math.h>

static const double PI_ = 3.14159265358979323846;

static xs_gltf_scene *load(const char *json, xs_err *e)
{
    xs_gltf_scene *g = NULL;
    if (xs_gltf_load("t.gltf", (const unsigned char *)json, strlen(json), NULL, NULL, NULL, &g, e) != XS_OK)
        return NULL;
    return g;
}

static bool near3(const float *a, double x, double y, double z, double tol)
{
    return fabs(a[0] - x) <= tol && fabs(a[1] - y) <= tol && fabs(a[2] - z) <= tol;
}

/* ---- samplers --------------------------------------------------------------------- */

static void test_step_linear(void)
{
    float in[3] = {1, 2, 4};
    float out[9] = {0, 0, 0, 1, 2, 3, 3, 2, 1};
    xs_gltf_sampler s = {in, 3, out, 3, XS_INTERP_STEP};
    float v[3];
    const double ts[] = {0.0, 1.0, 1.5, 2.0, 3.99, 4.0, 10.0};
    const int step_key[] = {0, 0, 0, 1, 1, 2, 2};
    for (int i = 0; i < 7; ++i) {
        xs_anim_sample(&s, false, ts[i], v);
        const float *w = out + 3 * step_key[i];
        CHECK_MSG(near3(v, w[0], w[1], w[2], 0.0), "STEP at %g: %g %g %g", ts[i], (double)v[0], (double)v[1], (double)v[2]);
    }
    s.interpolation = XS_INTERP_LINEAR;
    const double lin[][4] = {{0.0, 0, 0, 0}, {1.0, 0, 0, 0}, {1.5, 0.5, 1, 1.5}, {2.0, 1, 2, 3},
                             {3.0, 2, 2, 2},  {3.5, 2.5, 2, 1.5}, {4.0, 3, 2, 1}, {9.0, 3, 2, 1}};
    for (int i = 0; i < 8; ++i) {
        xs_anim_sample(&s, false, lin[i][0], v);
        CHECK_MSG(near3(v, lin[i][1], lin[i][2], lin[i][3], 1e-6), "LINEAR at %g: %g %g %g", lin[i][0],
                  (double)v[0], (double)v[1], (double)v[2]);
    }
}

static double hermite(double t, double t0, double t1, double v0, double b0, double a1, double v1)
{
    double td = t1 - t0, s = (t - t0) / td, s2 = s * s, s3 = s2 * s;
    return (2 * s3 - 3 * s2 + 1) * v0 + (s3 - 2 * s2 + s) * td * b0 + (-2 * s3 + 3 * s2) * v1 + (s3 - s2) * td * a1;
}

static void test_cubic(void)
{
    /* one scalar value per keyframe: in-tangent, value, out-tangent */
    float in[3] = {0.5f, 2.5f, 3.0f};
    float out[9] = {7, 1, 3, -2, 5, 0.5f, 4, -1, 9};
    xs_gltf_sampler s = {in, 3, out, 1, XS_INTERP_CUBIC};
    float v;
    const double ts[] = {0.6, 1.0, 1.5, 2.4, 2.6, 2.9};
    for (int i = 0; i < 6; ++i) {
        xs_anim_sample(&s, false, ts[i], &v);
        double want = ts[i] < 2.5 ? hermite(ts[i], 0.5, 2.5, 1, 3, -2, 5) : hermite(ts[i], 2.5, 3.0, 5, 0.5, 4, -1);
        CHECK_MSG(fabs(v - want) < 1e-5, "CUBICSPLINE at %g: %g, closed form %g", ts[i], (double)v, want);
    }
    /* the edges hold the values, never a tangent */
    xs_anim_sample(&s, false, 0.0, &v);
    CHECK(v == 1.0f);
    xs_anim_sample(&s, false, 0.5, &v);
    CHECK(v == 1.0f);
    xs_anim_sample(&s, false, 3.0, &v);
    CHECK(v == -1.0f);
    xs_anim_sample(&s, false, 50.0, &v);
    CHECK(v == -1.0f);
    /* halfway the interval, the tangents' share is td/8 each */
    xs_anim_sample(&s, false, 1.5, &v);
    CHECK(fabs(v - (0.5 * 1 + 0.125 * 2 * 3 + 0.5 * 5 - 0.125 * 2 * -2)) < 1e-5);
    /* a rotation comes out unit length */
    float qin[2] = {0, 1};
    float qout[24] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0.7071068f, 0.7071068f, 0, 0, 0, 0};
    xs_gltf_sampler q = {qin, 2, qout, 4, XS_INTERP_CUBIC};
    float r[4];
    xs_anim_sample(&q, true, 0.5, r);
    CHECK(fabs(r[0] * r[0] + r[1] * r[1] + r[2] * r[2] + r[3] * r[3] - 1.0) < 1e-6);
}

static void test_single_key(void)
{
    float in[1] = {2};
    float out3[3] = {4, 5, 6};
    float cub[9] = {9, 9, 9, 4, 5, 6, 9, 9, 9};
    for (int mode = 0; mode < 3; ++mode) {
        xs_gltf_sampler s = {in, 1, mode == XS_INTERP_CUBIC ? cub : out3, 3, mode};
        for (double t = -1.0; t < 5.0; t += 0.75) {
            float v[3];
            xs_anim_sample(&s, false, t, v);
            CHECK_MSG(near3(v, 4, 5, 6, 0.0), "mode %d at %g: %g %g %g", mode, t, (double)v[0], (double)v[1], (double)v[2]);
        }
    }
}

static void test_slerp_short_way(void)
{
    const float a[4] = {0, 0, 0, 1};
    const double h = 350.0 / 2 * PI_ / 180; /* 350 degrees about z */
    const float b[4] = {0, 0, (float)sin(h), (float)cos(h)};
    for (int k = 0; k <= 4; ++k) {
        double u = k / 4.0, ang = -10.0 * u * PI_ / 180; /* the short way: down to -10 degrees */
        float q[4];
        xs_quat_slerp(a, b, u, q);
        double d = fabs(q[2] * sin(ang / 2) + q[3] * cos(ang / 2));
        CHECK_MSG(d > 1.0 - 1e-6 && fabs(q[0]) < 1e-7 && fabs(q[1]) < 1e-7,
                  "u %g: (%g %g %g %g) is not %g degrees about z", u, (double)q[0], (double)q[1], (double)q[2],
                  (double)q[3], ang * 180 / PI_);
    }
    /* a quarter turn at a third of the way is 30 degrees: constant speed */
    const float c[4] = {0, (float)sin(PI_ / 4), 0, (float)cos(PI_ / 4)};
    float q[4];
    xs_quat_slerp(a, c, 1.0 / 3.0, q);
    CHECK(fabs(q[1] - sin(PI_ / 12)) < 1e-6 && fabs(q[3] - cos(PI_ / 12)) < 1e-6);
}

/* ---- through the loader and the scene ------------------------------------------------ */

static const char *tri_mesh(gltf_b *b, char *out, size_t n)
{
    float p[9] = {0, 0, 0, 1, 0, 0, 0, 1, 0};
    int a = gb_f(b, p, 3, 3);
    snprintf(out, n, "{\"primitives\":[{\"attributes\":{\"POSITION\":%d}}]}", a);
    return out;
}

static void test_hierarchy(void)
{
    gltf_b *b = calloc(1, sizeof *b);
    char mesh[256];
    tri_mesh(b, mesh, sizeof mesh);
    float t[2] = {0, 1};
    float r[8] = {0, 0, 0, 1, 0, (float)sin(PI_ / 4), 0, (float)cos(PI_ / 4)}; /* 0 -> 90 degrees about y */
    int ti = gb_f(b, t, 2, 1), ri = gb_f(b, r, 2, 4);
    char *doc = gb_doc(b,
                       "\"scenes\":[{\"nodes\":[0]}],\"nodes\":[{\"children\":[1],\"translation\":[0,2,0]},"
                       "{\"mesh\":0,\"translation\":[1,0,0]}],\"meshes\":[%s],"
                       "\"animations\":[{\"samplers\":[{\"input\":%d,\"output\":%d}],"
                       "\"channels\":[{\"sampler\":0,\"target\":{\"node\":0,\"path\":\"rotation\"}}]}]",
                       mesh, ti, ri);
    xs_err e;
    xs_gltf_scene *g = load(doc, &e);
    CHECK_MSG(g != NULL, "%s", e.msg);
    xs_anim *a = NULL;
    if (g)
        CHECK(xs_anim_create(g, "", &a, &e) == XS_OK);
    if (a) {
        CHECK(xs_anim_node_moves(a, 0) && xs_anim_node_moves(a, 1));
        xs_anim_pose(a, 0.5); /* 45 degrees: the child at (cos 45, 2, -sin 45) */
        const float *w = xs_anim_world(a, 1);
        CHECK_MSG(near3(w + 12, cos(PI_ / 4), 2, -sin(PI_ / 4), 1e-6), "child at %g %g %g", (double)w[12],
                  (double)w[13], (double)w[14]);
        xs_anim_pose(a, 7.0); /* held at 90 degrees: (0, 2, -1) */
        CHECK(near3(xs_anim_world(a, 1) + 12, 0, 2, -1, 1e-6));
    }
    xs_anim_destroy(a);
    xs_gltf_destroy(g);
    free(doc);
    free(b);
}

static xs_scene *build(const xs_gltf_scene *g, const char *play)
{
    xs_scene_setup su;
    memset(&su, 0, sizeof su);
    su.name = "t";
    su.animations = play;
    su.cam_mode = XS_CAM_OVERRIDE;
    su.cam_pos[2] = 10.0f;
    su.cam_up[1] = 1.0f;
    su.cam_yfov_deg = 30.0f;
    su.env_strength = 1.0f;
    su.build.threads = 1;
    xs_scene *s = NULL;
    xs_err e;
    CHECK_MSG(xs_scene_from_gltf(g, &su, &s, &e) == XS_OK, "%s", e.msg);
    return s;
}

/* Every corner of the triangles of the scene's mesh `m` (3 per triangle). */
static int corners(const xs_scene_view *v, uint32_t m, float *out, int max)
{
    const xs_mesh *mesh = &v->meshes[m];
    int n = 0;
    for (uint32_t t = mesh->tri_first; t < mesh->tri_first + mesh->tri_count && n + 3 <= max; ++t) {
        const xs_wtri *tr = &v->tris[t];
        xs_vec3 c[3] = {xs_v3_load(tr->v0), xs_v3_load(tr->v1), xs_v3_load(tr->v2)};
        for (int k = 0; k < 3; ++k, ++n) {
            out[3 * n] = c[k].x, out[3 * n + 1] = c[k].y, out[3 * n + 2] = c[k].z;
        }
    }
    return n;
}

static bool has_corner(const float *c, int n, double x, double y, double z, double tol)
{
    for (int i = 0; i < n; ++i)
        if (near3(c + 3 * i, x, y, z, tol))
            return true;
    return false;
}

static void test_morph_half(void)
{
    gltf_b *b = calloc(1, sizeof *b);
    float p[12] = {0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0};
    uint16_t ix[6] = {0, 1, 2, 0, 2, 3};
    float d[12] = {0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1};
    int pa = gb_f(b, p, 4, 3), ia = gb_u16(b, ix, 6, 1), da = gb_f(b, d, 4, 3);
    /* a sparse target: zeros but for vertex 2, moved by (0, 0, 2) */
    uint16_t si[1] = {2};
    float sv[3] = {0, 0, 2};
    int siv = gb_view(b, si, sizeof si), svv = gb_view(b, sv, sizeof sv);
    char sparse[256];
    snprintf(sparse, sizeof sparse,
             "\"sparse\":{\"count\":1,\"indices\":{\"bufferView\":%d,\"componentType\":5123},"
             "\"values\":{\"bufferView\":%d}}", siv, svv);
    int spa = gb_acc(b, NULL, 0, 5126, 4, "VEC3", sparse);
    float t[2] = {0, 1}, w[4] = {0, 0, 0, 1}; /* weights (target 0, target 1) at t = 0 and 1 */
    int ti = gb_f(b, t, 2, 1), wi = gb_f(b, w, 4, 1);
    char *doc = gb_doc(b,
                       "\"scenes\":[{\"nodes\":[0,1]}],\"nodes\":[{\"mesh\":0,\"weights\":[0.5,0]},"
                       "{\"mesh\":0,\"translation\":[5,0,0]}],"
                       "\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":%d},\"indices\":%d,"
                       "\"targets\":[{\"POSITION\":%d},{\"POSITION\":%d}]}]}],"
                       "\"animations\":[{\"samplers\":[{\"input\":%d,\"output\":%d}],"
                       "\"channels\":[{\"sampler\":0,\"target\":{\"node\":1,\"path\":\"weights\"}}]}]",
                       pa, ia, da, spa, ti, wi);
    xs_err e;
    xs_gltf_scene *g = load(doc, &e);
    CHECK_MSG(g != NULL, "%s", e.msg);
    xs_scene *s = g ? build(g, "") : NULL;
    if (s) {
        CHECK(xs_scene_animated(s));
        xs_scene_timing tm = {4.0, 0.0, 0.0f, 3};
        CHECK(xs_scene_set_frame(s, &tm, 2, NULL, &e) == XS_OK); /* t = 0.5 */
        xs_scene_view v = xs_scene_view_for(s, 8, 8);
        float c[64 * 3];
        int found_static = 0, found_anim = 0;
        for (uint32_t i = 0; i < v.instance_count; ++i) {
            int n = corners(&v, v.instances[i].mesh, c, 64);
            if (v.instances[i].xf[3] == 0.0f) { /* node 0: weight 0.5 on target 0: z = 0.5 */
                found_static = 1;
                for (int k = 0; k < n; ++k)
                    CHECK_MSG(c[3 * k + 2] == 0.5f, "node 0 corner z %g", (double)c[3 * k + 2]);
            } else { /* node 1: target 1 (sparse) at weight 0.5: vertex 2 at z = 1, the others at 0 */
                found_anim = 1;
                CHECK(has_corner(c, n, 1, 1, 1, 1e-6) && has_corner(c, n, 0, 0, 0, 0) &&
                      has_corner(c, n, 1, 0, 0, 0) && has_corner(c, n, 0, 1, 0, 0));
            }
        }
        CHECK(found_static && found_anim);
    }
    xs_scene_destroy(s);
    xs_gltf_destroy(g);
    free(doc);
    free(b);
}

/* A bar along x from 0 to 2 in `segs` segments (vertex pairs at y = +-0.1),
 * the vertices past x = 1 bound to joint 1 (at x = 1), the others to joint
 * 0 (interleave: every other pair to joint 1 instead, so that moving joint 1
 * tears every leaf of the bar's tree apart); joint 1 gets joint1_trs (a
 * turn, a scale) and the document `anim`. */
static char *bar_doc(gltf_b *b, int segs, bool interleave, const char *joint1_trs, const char *anim)
{
    const int nv = 2 * (segs + 1);
    float *p = malloc((size_t)nv * 3 * sizeof *p), *n = malloc((size_t)nv * 3 * sizeof *n);
    float *wt = calloc((size_t)nv * 4, sizeof *wt);
    uint16_t *jn = calloc((size_t)nv * 4, sizeof *jn), *ix = malloc((size_t)segs * 6 * sizeof *ix);
    for (int i = 0; i <= segs; ++i)
        for (int k = 0; k < 2; ++k) {
            int v = 2 * i + k;
            float x = 2.0f * (float)i / (float)segs;
            p[3 * v] = x, p[3 * v + 1] = k ? 0.1f : -0.1f, p[3 * v + 2] = 0;
            n[3 * v] = 0.70710678f, n[3 * v + 1] = 0.70710678f, n[3 * v + 2] = 0;
            jn[4 * v] = (interleave ? (i & 1) : x > 1.0f) ? 1 : 0;
            wt[4 * v] = 1.0f;
        }
    for (int i = 0; i < segs; ++i) {
        uint16_t a = (uint16_t)(2 * i), q[6] = {a, (uint16_t)(a + 2), (uint16_t)(a + 3), a, (uint16_t)(a + 3), (uint16_t)(a + 1)};
        memcpy(ix + 6 * i, q, sizeof q);
    }
    float ibm[32] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, -1, 0, 0, 1};
    int pa = gb_f(b, p, nv, 3), na = gb_f(b, n, nv, 3), ia = gb_u16(b, ix, segs * 6, 1), ja = gb_u16(b, jn, nv, 4),
        wa = gb_f(b, wt, nv, 4), ma = gb_f(b, ibm, 2, 16);
    free(p), free(n), free(wt), free(jn), free(ix);
    return gb_doc(b,
                  "\"scenes\":[{\"nodes\":[0,1]}],\"nodes\":[{\"children\":[2]},"
                  "{\"mesh\":0,\"skin\":0,\"translation\":[50,0,0]},{\"translation\":[1,0,0]%s}],"
                  "\"skins\":[{\"joints\":[0,2],\"inverseBindMatrices\":%d}],"
                  "\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":%d,\"NORMAL\":%d,\"JOINTS_0\":%d,"
                  "\"WEIGHTS_0\":%d},\"indices\":%d}]}]%s",
                  joint1_trs, ma, pa, na, ja, wa, ia, anim);
}

static void test_skin_bend(void)
{
    gltf_b *b = calloc(1, sizeof *b);
    char *doc = bar_doc(b, 2, false, ",\"rotation\":[0,0,0.70710678,0.70710678]", "");
    xs_err e;
    xs_gltf_scene *g = load(doc, &e);
    CHECK_MSG(g != NULL, "%s", e.msg);
    xs_scene *s = g ? build(g, "") : NULL;
    if (s) {
        xs_scene_view v = xs_scene_view_for(s, 8, 8);
        CHECK(v.instance_count == 1 && v.instances[0].xf[3] == 0.0f); /* the node's (50, 0, 0) is ignored */
        float c[64 * 3];
        int n = corners(&v, v.instances[0].mesh, c, 64);
        /* joint 0 keeps x = 0, 1; joint 1 turns (2, +-0.1) to (1 -+ 0.1, 1) */
        CHECK(has_corner(c, n, 0, -0.1, 0, 1e-6) && has_corner(c, n, 1, 0.1, 0, 1e-6));
        CHECK_MSG(has_corner(c, n, 1.1, 1, 0, 1e-5) && has_corner(c, n, 0.9, 1, 0, 1e-5), "bent ends missing");
        CHECK(!has_corner(c, n, 2, -0.1, 0, 1e-3));
        /* the bent end's normal turned too: (1, 1, 0) -> (-1, 1, 0) */
        const xs_mesh *m = &v.meshes[v.instances[0].mesh];
        int turned = 0;
        for (uint32_t t = m->tri_first; t < m->tri_first + m->tri_count; ++t) {
            const xs_wtri *tr = &v.tris[t];
            xs_vec3 cs[3] = {xs_v3_load(tr->v0), xs_v3_load(tr->v1), xs_v3_load(tr->v2)};
            for (int k = 0; k < 3; ++k)
                if (cs[k].y > 0.5f) {
                    xs_vec3 nn = xs_oct_decode(v.attrs[t].n[k]);
                    CHECK(fabs(nn.x + 0.70710678) < 1e-3 && fabs(nn.y - 0.70710678) < 1e-3);
                    turned++;
                }
        }
        CHECK(turned > 0);
    }
    xs_scene_destroy(s);
    xs_gltf_destroy(g);
    free(doc);
    memset(b, 0, sizeof *b);
    /* a joint scaled 2x along x: normals by the inverse transpose */
    doc = bar_doc(b, 2, false, ",\"scale\":[2,1,1]", "");
    g = load(doc, &e);
    s = g ? build(g, "") : NULL;
    if (s) {
        xs_scene_view v = xs_scene_view_for(s, 8, 8);
        const xs_mesh *m = &v.meshes[v.instances[0].mesh];
        int seen = 0;
        for (uint32_t t = m->tri_first; t < m->tri_first + m->tri_count; ++t) {
            const xs_wtri *tr = &v.tris[t];
            xs_vec3 cs[3] = {xs_v3_load(tr->v0), xs_v3_load(tr->v1), xs_v3_load(tr->v2)};
            for (int k = 0; k < 3; ++k)
                if (cs[k].x > 2.5f) { /* (2, y) -> (1 + 2 * 1, y) = (3, y) */
                    xs_vec3 nn = xs_oct_decode(v.attrs[t].n[k]);
                    double l = sqrt(1.25);
                    CHECK_MSG(fabs(nn.x - 0.5 / l) < 2e-3 && fabs(nn.y - 1.0 / l) < 2e-3, "normal %g %g %g",
                              (double)nn.x, (double)nn.y, (double)nn.z);
                    seen++;
                }
        }
        CHECK(seen > 0);
    }
    xs_scene_destroy(s);
    xs_gltf_destroy(g);
    free(doc);
    free(b);
}

/* A camera and a point light hang off animated nodes: the view has them
 * where the nodes are at the frame's time. */
static void test_camera_light(void)
{
    gltf_b *b = calloc(1, sizeof *b);
    char mesh[256];
    tri_mesh(b, mesh, sizeof mesh);
    float t[2] = {0, 2}, cam[6] = {0, 0, 10, 4, 0, 10}, lift[6] = {0, 0, 0, 0, 6, 0};
    int ti = gb_f(b, t, 2, 1), ca = gb_f(b, cam, 2, 3), la = gb_f(b, lift, 2, 3);
    char *doc = gb_doc(b,
                       "\"extensionsUsed\":[\"KHR_lights_punctual\"],\"extensions\":{\"KHR_lights_punctual\":"
                       "{\"lights\":[{\"type\":\"point\",\"intensity\":5}]}},"
                       "\"scenes\":[{\"nodes\":[0,1,2]}],\"nodes\":[{\"mesh\":0},{\"camera\":0},"
                       "{\"children\":[3]},{\"translation\":[1,0,0],\"extensions\":{\"KHR_lights_punctual\":"
                       "{\"light\":0}}}],\"cameras\":[{\"type\":\"perspective\",\"perspective\":{\"yfov\":0.5,"
                       "\"znear\":0.1}}],\"meshes\":[%s],\"animations\":[{\"samplers\":[{\"input\":%d,"
                       "\"output\":%d},{\"input\":%d,\"output\":%d}],\"channels\":[{\"sampler\":0,\"target\":"
                       "{\"node\":1,\"path\":\"translation\"}},{\"sampler\":1,\"target\":{\"node\":2,"
                       "\"path\":\"translation\"}}]}]",
                       mesh, ti, ca, ti, la);
    xs_err e;
    xs_gltf_scene *g = load(doc, &e);
    CHECK_MSG(g != NULL, "%s", e.msg);
    xs_scene_setup su;
    memset(&su, 0, sizeof su);
    su.name = "t";
    su.cam_mode = XS_CAM_FIRST;
    su.env_strength = 1.0f;
    su.build.threads = 1;
    xs_scene *s = NULL;
    if (g)
        CHECK_MSG(xs_scene_from_gltf(g, &su, &s, &e) == XS_OK, "%s", e.msg);
    if (s) {
        xs_scene_timing tm = {2.0, 0.0, 0.0f, 3};
        CHECK(xs_scene_set_frame(s, &tm, 1, NULL, &e) == XS_OK); /* t = 0.5: a quarter of the way */
        xs_scene_view v = xs_scene_view_for(s, 8, 8);
        CHECK_MSG(fabs(v.camera.pos.x - 1.0) < 1e-6 && fabs(v.camera.pos.z - 10.0) < 1e-6, "camera at %g %g %g",
                  (double)v.camera.pos.x, (double)v.camera.pos.y, (double)v.camera.pos.z);
        int points = 0;
        for (uint32_t k = 0; k < v.light_count; ++k)
            if (v.lights[k].type == XS_LIGHT_POINT) {
                points++;
                CHECK_MSG(fabs(v.lights[k].pos.x - 1.0) < 1e-6 && fabs(v.lights[k].pos.y - 1.5) < 1e-6,
                          "light at %g %g %g", (double)v.lights[k].pos.x, (double)v.lights[k].pos.y,
                          (double)v.lights[k].pos.z);
            }
        CHECK(points == 1);
    }
    xs_scene_destroy(s);
    xs_gltf_destroy(g);
    free(doc);
    free(b);
}

/* The bytes a frame's pose leaves in the scene's view arrays. */
static uint64_t view_hash(const xs_scene *s)
{
    xs_scene_view v = xs_scene_view_for(s, 8, 8);
    xs_scene_blob bl[XS_SCENE_BLOBS_MAX];
    int n = xs_scene_blobs(s, &v, bl, XS_SCENE_BLOBS_MAX);
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; ++i)
        for (size_t k = 0; k < bl[i].bytes; ++k)
            h = (h ^ ((const unsigned char *)bl[i].host)[k]) * 1099511628211ull;
    h ^= (uint64_t)v.wnode_count << 32 ^ (uint64_t)v.wroot << 16 ^ v.motion_steps;
    return h;
}

static void test_frame_is_pure(void)
{
    gltf_b *b = calloc(1, sizeof *b);
    float t[3] = {0, 1, 2};
    float r[12] = {0, 0, 0, 1, 0, 0, 0.8660254f, 0.5f, 0, 0, 0.5f, -0.8660254f}; /* 0, 120, 240 degrees */
    int ti = gb_f(b, t, 3, 1), ri = gb_f(b, r, 3, 4);
    char anim[800];
    /* joint 1 turns and moves away (node 2 translation), joint 0 (the root) moves */
    float tr[9] = {0, 0, 0, 1, 0, 0, 2, 1, 0}, far[9] = {1, 0, 0, 1, 0.2f, 0, 1, 6, 0};
    int fa = gb_f(b, far, 3, 3);
    int tra = gb_f(b, tr, 3, 3);
    snprintf(anim, sizeof anim,
             ",\"animations\":[{\"samplers\":[{\"input\":%d,\"output\":%d},{\"input\":%d,\"output\":%d},"
             "{\"input\":%d,\"output\":%d}],"
             "\"channels\":[{\"sampler\":0,\"target\":{\"node\":2,\"path\":\"rotation\"}},"
             "{\"sampler\":1,\"target\":{\"node\":0,\"path\":\"translation\"}},"
             "{\"sampler\":2,\"target\":{\"node\":2,\"path\":\"translation\"}}]}]",
             ti, ri, ti, tra, ti, fa);
    char *doc = bar_doc(b, 200, true, "", anim);
    xs_err e;
    xs_gltf_scene *g = load(doc, &e);
    CHECK_MSG(g != NULL, "%s", e.msg);
    for (int shutter = 0; g && shutter < 2; ++shutter) {
        xs_scene_timing tm = {8.0, 0.0, shutter ? 0.5f : 0.0f, 3};
        xs_scene *fresh = build(g, ""), *used = build(g, "");
        if (!fresh || !used) {
            xs_scene_destroy(fresh), xs_scene_destroy(used);
            break;
        }
        xs_scene_frame_stats st;
        memset(&st, 0, sizeof st);
        const int path[] = {12, 3, 16, 9, 0, 7};
        for (int i = 0; i < 6; ++i)
            CHECK(xs_scene_set_frame(used, &tm, path[i], &st, &e) == XS_OK);
        CHECK(xs_scene_set_frame(used, &tm, 5, &st, &e) == XS_OK);
        CHECK(xs_scene_set_frame(fresh, &tm, 5, NULL, &e) == XS_OK);
        CHECK_MSG(view_hash(used) == view_hash(fresh), "shutter %d: frame 5 after others differs", shutter);
        if (view_hash(used) != view_hash(fresh)) { /* say which arrays */
            xs_scene_view vu = xs_scene_view_for(used, 8, 8), vf = xs_scene_view_for(fresh, 8, 8);
            xs_scene_blob bu[XS_SCENE_BLOBS_MAX], bf[XS_SCENE_BLOBS_MAX];
            int nu = xs_scene_blobs(used, &vu, bu, XS_SCENE_BLOBS_MAX), nf = xs_scene_blobs(fresh, &vf, bf, XS_SCENE_BLOBS_MAX);
            for (int i = 0; i < nu && i < nf; ++i)
                if (bu[i].bytes != bf[i].bytes || memcmp(bu[i].host, bf[i].host, bu[i].bytes) != 0) {
                    size_t k = 0;
                    while (k < bu[i].bytes && k < bf[i].bytes && ((const unsigned char *)bu[i].host)[k] == ((const unsigned char *)bf[i].host)[k])
                        ++k;
                    fprintf(stderr, "  %s differs (%zu and %zu bytes; first at byte %zu)\n", bu[i].name, bu[i].bytes,
                            bf[i].bytes, k);
                    if (strcmp(bu[i].name, "nodes") == 0) {
                        const xs_bvh_node *a = (const xs_bvh_node *)bu[i].host + k / 32, *c = (const xs_bvh_node *)bf[i].host + k / 32;
                        fprintf(stderr, "  used %g %g %g first %u count %u / fresh %g %g %g first %u count %u\n",
                                (double)a->bmin[0], (double)a->bmin[1], (double)a->bmax[0], a->first, a->count,
                                (double)c->bmin[0], (double)c->bmin[1], (double)c->bmax[0], c->first, c->count);
                    }
                }
        }
        CHECK(st.frames == 7 && st.rebuilt_tris > 0 && st.refit_tris > 0); /* both paths were taken */
        printf("shutter %d: refit %llu, rebuilt %llu triangles over 7 frames\n", shutter,
               (unsigned long long)st.refit_tris, (unsigned long long)st.rebuilt_tris);
        xs_scene_destroy(fresh);
        xs_scene_destroy(used);
    }
    xs_gltf_destroy(g);
    free(doc);
    free(b);
}

/* ---- bad input ------------------------------------------------------------------------ */

static void test_refused(void)
{
    struct {
        const char *name, *expect;
        const char *trs, *anim, *skin_joints;
        int ibm_count;
        float t[3], v[12];
        int keys, width;
        const char *interp;
        uint64_t max_joints;
    } cases[] = {
        {"times not increasing", "animations[0] 'a'.samplers[0].input: times must increase strictly: keyframe 2 at 1 s follows 1 s",
         "", "translation", "[0,2]", 2, {0, 1, 1}, {0}, 3, 3, "LINEAR", 0},
        {"negative time", "samplers[0].input: keyframe 0 time -1 must be finite and at least 0",
         "", "translation", "[0,2]", 2, {-1, 1, 2}, {0}, 3, 3, "LINEAR", 0},
        {"output count", "samplers[0].output: 3 output elements do not match 3 keyframes of CUBICSPLINE interpolation (3 values a keyframe)",
         "", "translation", "[0,2]", 2, {0, 1, 2}, {0}, 3, 3, "CUBICSPLINE", 0},
        {"non-finite keyframe", "samplers[0].output: keyframe 1 is not finite",
         "", "translation", "[0,2]", 2, {0, 1, 2}, {0, 0, 0, 0, 0, (float)INFINITY}, 3, 3, "LINEAR", 0},
        {"zero quaternion", "channels[0] (nodes[2] rotation): sampler 0: keyframe 1 is a zero quaternion",
         "", "rotation", "[0,2]", 2, {0, 1, 2}, {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, 3, 4, "LINEAR", 0},
        {"wrong width", "channels[0] (nodes[2] rotation): sampler 0 gives 3 values a keyframe, rotation needs 4",
         "", "rotation", "[0,2]", 2, {0, 1, 2}, {0}, 3, 3, "LINEAR", 0},
        {"cubic of one key", "CUBICSPLINE needs at least 2 keyframes, got 1",
         "", "translation", "[0,2]", 2, {0}, {0}, 1, 3, "CUBICSPLINE", 0},
        {"matrix animated", "channels[0] (nodes[2] translation): the node has a matrix",
         ",\"matrix\":[1,0,0,0,0,1,0,0,0,0,1,0,1,0,0,1]", "translation", "[0,2]", 2, {0, 1, 2}, {0}, 3, 3, "LINEAR", 0},
        {"weights without targets", "channels[0] (nodes[2] weights): the node's mesh has no morph targets",
         "", "weights", "[0,2]", 2, {0, 1, 2}, {0}, 3, 1, "LINEAR", 0},
        {"joint out of range", "meshes[0].primitives[0].JOINTS_0: joint 1 is out of range of skins[0] '' (1 joints)",
         "", "translation", "[0]", 1, {0, 1, 2}, {0}, 3, 3, "LINEAR", 0},
        {"joint node out of range", "skins[0].joints[1]: node index out of range (3 nodes)",
         "", "translation", "[0,7]", 2, {0, 1, 2}, {0}, 3, 3, "LINEAR", 0},
        {"too many joints", "skins[0].joints: 2 joints exceed the limit of 1 a skin (--max-joints)",
         "", "translation", "[0,2]", 2, {0, 1, 2}, {0}, 3, 3, "LINEAR", 1},
        {"skin without its matrices", "skins[0].inverseBindMatrices: accessor 6 holds 1 matrices for 2 joints (a joint without its matrix)",
         "", "translation", "[0,2]", 1, {0, 1, 2}, {0}, 3, 3, "LINEAR", 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        gltf_b *b = calloc(1, sizeof *b);
        float p[18] = {0, -0.1f, 0, 0, 0.1f, 0, 1, -0.1f, 0, 1, 0.1f, 0, 2, -0.1f, 0, 2, 0.1f, 0};
        uint16_t ix[12] = {0, 2, 3, 0, 3, 1, 2, 4, 5, 2, 5, 3}, jn[24] = {0};
        float wt[24] = {0}, ibm[32] = {0};
        for (int v = 0; v < 6; ++v)
            jn[4 * v] = v >= 4 ? 1 : 0, wt[4 * v] = 1.0f;
        for (int k = 0; k < 32; ++k)
            ibm[k] = (k % 5 == 0) ? 1.0f : 0.0f;
        int pa = gb_f(b, p, 6, 3), ia = gb_u16(b, ix, 12, 1), ja = gb_u16(b, jn, 6, 4), wa = gb_f(b, wt, 6, 4);
        int ti = gb_f(b, cases[c].t, cases[c].keys, 1);
        int cub = strcmp(cases[c].interp, "CUBICSPLINE") == 0 && strcmp(cases[c].name, "output count") != 0 ? 3 : 1;
        float *vals = calloc(64, sizeof *vals);
        memcpy(vals, cases[c].v, sizeof cases[c].v);
        int vi = gb_f(b, vals, cases[c].keys * cub, cases[c].width);
        free(vals);
        int mi = gb_f(b, ibm, cases[c].ibm_count, 16);
        char *doc = gb_doc(b,
                           "\"scenes\":[{\"nodes\":[0,1]}],\"nodes\":[{\"children\":[2]},{\"mesh\":0,\"skin\":0},"
                           "{\"translation\":[1,0,0]%s}],"
                           "\"skins\":[{\"joints\":%s,\"inverseBindMatrices\":%d}],"
                           "\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":%d,\"JOINTS_0\":%d,"
                           "\"WEIGHTS_0\":%d},\"indices\":%d}]}],"
                           "\"animations\":[{\"name\":\"a\",\"samplers\":[{\"input\":%d,\"output\":%d,"
                           "\"interpolation\":\"%s\"}],\"channels\":[{\"sampler\":0,\"target\":{\"node\":2,"
                           "\"path\":\"%s\"}}]}]",
                           cases[c].trs, cases[c].skin_joints, mi, pa, ja, wa, ia, ti, vi, cases[c].interp,
                           cases[c].anim);
        xs_gltf_limits lim;
        xs_gltf_limits_default(&lim);
        if (cases[c].max_joints)
            lim.max_joints = cases[c].max_joints;
        xs_gltf_scene *g = NULL;
        xs_err e;
        xs_err_clear(&e);
        xs_result r = xs_gltf_load("t.gltf", (const unsigned char *)doc, strlen(doc), NULL, NULL, &lim, &g, &e);
        CHECK_MSG(r == XS_ERR_INVALID && strstr(e.msg, cases[c].expect), "%s: got '%s' (expected '%s')",
                  cases[c].name, e.msg, cases[c].expect);
        CHECK(g == NULL);
        xs_gltf_destroy(g);
        free(doc);
        free(b);
    }
    /* a played animation that is not in the file */
    gltf_b *b = calloc(1, sizeof *b);
    char mesh[256];
    tri_mesh(b, mesh, sizeof mesh);
    float t[1] = {0}, v[3] = {0};
    int ti = gb_f(b, t, 1, 1), vi = gb_f(b, v, 1, 3);
    char *doc = gb_doc(b,
                       "\"scenes\":[{\"nodes\":[0]}],\"nodes\":[{\"mesh\":0}],\"meshes\":[%s],"
                       "\"animations\":[{\"name\":\"walk\",\"samplers\":[{\"input\":%d,\"output\":%d}],"
                       "\"channels\":[{\"sampler\":0,\"target\":{\"node\":0,\"path\":\"translation\"}}]}]",
                       mesh, ti, vi);
    xs_err e;
    xs_gltf_scene *g = load(doc, &e);
    xs_anim *a = NULL;
    CHECK(g && xs_anim_create(g, "run", &a, &e) == XS_ERR_INVALID &&
          strstr(e.msg, "animations: no animation 'run' in the scene (it has 1: 0 'walk')"));
    CHECK(g && xs_anim_create(g, "walk", &a, &e) == XS_OK && xs_anim_plays(a));
    xs_anim_destroy(a);
    a = NULL;
    CHECK(g && xs_anim_create(g, "none", &a, &e) == XS_OK && !xs_anim_plays(a));
    xs_anim_destroy(a);
    xs_gltf_destroy(g);
    free(doc);
    free(b);
}

/* Node 0 places mesh 0 three times (EXT_mesh_gpu_instancing: at x = 0, 5
 * and y = 5) and slides 1 along z over a second; node 1 places it three
 * times at z = -10 and holds still. */
static char *instanced_doc(gltf_b *b)
{
    char mesh[256];
    tri_mesh(b, mesh, sizeof mesh);
    float off[9] = {0, 0, 0, 5, 0, 0, 0, 5, 0}, t[2] = {0, 1}, z[6] = {0, 0, 0, 0, 0, 1};
    int oa = gb_f(b, off, 3, 3), ti = gb_f(b, t, 2, 1), za = gb_f(b, z, 2, 3);
    return gb_doc(b,
                  "\"extensionsUsed\":[\"EXT_mesh_gpu_instancing\"],\"scenes\":[{\"nodes\":[0,1]}],"
                  "\"nodes\":[{\"mesh\":0,\"extensions\":{\"EXT_mesh_gpu_instancing\":{\"attributes\":{\"TRANSLATION\":%d}}}},"
                  "{\"mesh\":0,\"translation\":[0,0,-10],\"extensions\":{\"EXT_mesh_gpu_instancing\":"
                  "{\"attributes\":{\"TRANSLATION\":%d}}}}],\"meshes\":[%s],"
                  "\"animations\":[{\"samplers\":[{\"input\":%d,\"output\":%d}],"
                  "\"channels\":[{\"sampler\":0,\"target\":{\"node\":0,\"path\":\"translation\"}}]}]",
                  oa, oa, mesh, ti, za);
}

static void test_gpu_instances_posed(void)
{
    gltf_b *b = calloc(1, sizeof *b);
    char *doc = instanced_doc(b);
    xs_err e;
    xs_gltf_scene *g = load(doc, &e);
    CHECK_MSG(g != NULL, "%s", e.msg);
    xs_scene *s = g ? build(g, "") : NULL;
    if (s) {
        CHECK(xs_scene_animated(s));
        xs_scene_timing tm = {4.0, 0.0, 0.0f, 3};
        CHECK(xs_scene_set_frame(s, &tm, 2, NULL, &e) == XS_OK); /* t = 0.5 s: node 0 at z = 0.5 */
        xs_scene_view v = xs_scene_view_for(s, 8, 8);
        CHECK(v.instance_count == 6);
        const double want[6][3] = {{0, 0, 0.5}, {5, 0, 0.5}, {0, 5, 0.5}, {0, 0, -10}, {5, 0, -10}, {0, 5, -10}};
        for (int k = 0; k < 6; ++k) {
            bool found = false;
            for (uint32_t i = 0; i < v.instance_count && !found; ++i) {
                const float *x = v.instances[i].xf;
                const float tr[3] = {x[3], x[7], x[11]};
                found = near3(tr, want[k][0], want[k][1], want[k][2], 1e-6);
            }
            CHECK_MSG(found, "no instance at (%g, %g, %g)", want[k][0], want[k][1], want[k][2]);
        }
    }
    xs_scene_destroy(s);
    xs_gltf_destroy(g);
    free(doc);
    free(b);
}

static void test_never_shared(void)
{
    gltf_b *b = calloc(1, sizeof *b);
    char *doc = instanced_doc(b);
    xs_err e;
    xs_gltf_scene *g = load(doc, &e);
    CHECK_MSG(g != NULL, "%s", e.msg);
    for (int k = 0; g && k < 2; ++k) {
        xs_scene *s = build(g, k == 0 ? "" : "none");
        if (!s)
            continue;
        CHECK(xs_scene_animated(s) == (k == 0));
        size_t n = xs_scene_share_bytes(s);
        void *block = aligned_alloc(64, (n + 63) & ~(size_t)63);
        xs_result r = xs_scene_share_write(s, block, n, &e);
        if (k == 0)
            CHECK_MSG(r != XS_OK && strstr(e.msg, "animated scene is posed by each rank"), "%d %s", (int)r, e.msg);
        else
            CHECK_MSG(r == XS_OK, "%s", e.msg);
        free(block);
        xs_scene_destroy(s);
    }
    xs_gltf_destroy(g);
    free(doc);
    free(b);
}

int main(int argc, char **argv)
{
    const xs_test_case cases[] = {
        {"step_linear", test_step_linear},     {"cubic", test_cubic},
        {"single_key", test_single_key},       {"slerp_short_way", test_slerp_short_way},
        {"hierarchy", test_hierarchy},         {"morph_half", test_morph_half},
        {"skin_bend", test_skin_bend},         {"frame_is_pure", test_frame_is_pure},
        {"camera_light", test_camera_light},
        {"refused", test_refused},
        {"gpu_instances_posed", test_gpu_instances_posed},
        {"never_shared", test_never_shared},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
