/* xisuan-embreebench: our CPU traversal against Embree's on the same rays
 * (docs/benchmarks.md, "Embree"). Built only where CMake finds Debian's
 * libembree-dev (Embree 3).
 *
 *   xisuan-embreebench SCENE [--width W --height H --threads T --cam-pos x,y,z
 *       --cam-target x,y,z --yfov DEG]
 *   xisuan-embreebench --generate-tris N [--threads T]
 *
 * The scene is built as the renderer builds it (xs_scene_from_gltf or the
 * built-in Cornell box, or the generated height field of xisuan-tracebench
 * --generate-tris); Embree gets the same meshes (one triangle geometry each,
 * in a scene of its own) and the same instances (instance geometries with
 * our 3x4 transforms, identity included), built at RTC_BUILD_QUALITY_HIGH
 * with the robust flag (watertight). Rays: 4 camera rays a pixel, then one
 * cosine-distributed diffuse ray from each camera hit (as
 * xisuan-tracebench), generated untimed; each set traced closest-hit on T
 * threads by both, timed separately, three times each alternating, the best
 * of three reported. Also: how many rays both answer with the same
 * triangle, and Embree's build time. */
#define _GNU_SOURCE
#include "io/xs_scene_input.h"
#include "kernels/xs_path.h"
#include "render/xs_parallel.h"
#include "render/xs_scene.h"

#include <embree3/rtcore.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct job {
    const xs_scene_view *v;
    RTCScene es;
    const xs_ray *rays;
    uint32_t *tri; /* hit triangle per ray (UINT32_MAX: none) */
    size_t begin, end;
    int embree;
} job;

static void *trace_thread(void *arg)
{
    job *j = (job *)arg;
    xs_counters c;
    memset(&c, 0, sizeof c);
    struct RTCIntersectContext ctx;
    rtcInitIntersectContext(&ctx);
    for (size_t i = j->begin; i < j->end; ++i) {
        const xs_ray *r = &j->rays[i];
        if (!j->embree) {
            xs_hit h;
            j->tri[i] = xs_trace(j->v, r, false, &h, &c) ? h.tri : UINT32_MAX;
            continue;
        }
        struct RTCRayHit rh;
        rh.ray.org_x = r->o.x, rh.ray.org_y = r->o.y, rh.ray.org_z = r->o.z;
        rh.ray.dir_x = r->d.x, rh.ray.dir_y = r->d.y, rh.ray.dir_z = r->d.z;
        rh.ray.tnear = 0.0f;
        rh.ray.tfar = INFINITY;
        rh.ray.mask = 0xFFFFFFFFu;
        rh.ray.flags = 0;
        rh.ray.time = 0.0f;
        rh.hit.geomID = RTC_INVALID_GEOMETRY_ID;
        rh.hit.instID[0] = RTC_INVALID_GEOMETRY_ID;
        rtcIntersect1(j->es, &ctx, &rh);
        if (rh.hit.geomID == RTC_INVALID_GEOMETRY_ID) {
            j->tri[i] = UINT32_MAX;
        } else {
            const xs_instance *in = &j->v->instances[rh.hit.instID[0]];
            j->tri[i] = j->v->meshes[in->mesh].tri_first + rh.hit.primID;
        }
    }
    return NULL;
}

/* Rays/s of tracing rays[0..n) on `threads` threads, by Embree or by us. */
static double trace(const xs_scene_view *v, RTCScene es, const xs_ray *rays, size_t n, int threads, int embree,
                    uint32_t *tri)
{
    job jobs[64];
    pthread_t th[64];
    double t0 = now();
    for (int i = 0; i < threads; ++i) {
        jobs[i] = (job){v, es, rays, tri, n * (size_t)i / (size_t)threads, n * (size_t)(i + 1) / (size_t)threads, embree};
        pthread_create(&th[i], NULL, trace_thread, &jobs[i]);
    }
    for (int i = 0; i < threads; ++i)
        pthread_join(th[i], NULL);
    return (double)n / (now() - t0);
}

/* The camera rays (4 a pixel) and the diffuse rays from their hits. */
static xs_ray *make_rays(const xs_scene_view *v, int w, int h, int kind, size_t *count)
{
    size_t cap = (size_t)w * (size_t)h * 4, n = 0;
    xs_ray *rays = malloc(cap * sizeof *rays);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int k = 0; k < 4; ++k) {
                xs_rng rng = xs_rng_init(9, 0, (uint32_t)x, (uint32_t)y, (uint32_t)k);
                xs_ray r = xs_camera_ray(&v->camera, w, h, (float)x + xs_rng_float(&rng), (float)y + xs_rng_float(&rng));
                if (kind == 0) {
                    rays[n++] = r;
                    continue;
                }
                xs_hit hit;
                xs_counters c;
                memset(&c, 0, sizeof c);
                if (!xs_trace(v, &r, false, &hit, &c))
                    continue;
                xs_surface sf;
                xs_surface_at(v, &r, &hit, 0.0f, &sf);
                float u1 = xs_rng_float(&rng), u2 = xs_rng_float(&rng);
                float rr = sqrtf(u1), phi = 2.0f * XS_PI * u2;
                xs_vec3 d = xs_from_local(&sf, xs_v3(rr * cosf(phi), rr * sinf(phi), sqrtf(1.0f - u1)));
                xs_ray b;
                b.o = xs_offset(sf.p, sf.ng, v->ray_eps);
                b.d = xs_normalize(d);
                b.tmax = INFINITY;
                rays[n++] = b;
            }
    *count = n;
    return rays;
}

/* Embree's two-level copy of the view's meshes and instances. */
static RTCScene embree_scene(RTCDevice dev, const xs_scene_view *v, uint32_t mesh_count, double *build_s)
{
    double t0 = now();
    RTCScene *ms = calloc(mesh_count, sizeof *ms);
    for (uint32_t m = 0; m < mesh_count; ++m) {
        const xs_mesh *me = &v->meshes[m];
        ms[m] = rtcNewScene(dev);
        rtcSetSceneFlags(ms[m], RTC_SCENE_FLAG_ROBUST);
        rtcSetSceneBuildQuality(ms[m], RTC_BUILD_QUALITY_HIGH);
        RTCGeometry g = rtcNewGeometry(dev, RTC_GEOMETRY_TYPE_TRIANGLE);
        float *vb = rtcSetNewGeometryBuffer(g, RTC_BUFFER_TYPE_VERTEX, 0, RTC_FORMAT_FLOAT3, 12,
                                            (size_t)me->tri_count * 3);
        unsigned *ib = rtcSetNewGeometryBuffer(g, RTC_BUFFER_TYPE_INDEX, 0, RTC_FORMAT_UINT3, 12, me->tri_count);
        for (uint32_t t = 0; t < me->tri_count; ++t) {
            const xs_wtri *wt = &v->tris[me->tri_first + t];
            memcpy(vb + 9 * (size_t)t, wt->v0, 12);
            memcpy(vb + 9 * (size_t)t + 3, wt->v1, 12);
            memcpy(vb + 9 * (size_t)t + 6, wt->v2, 12);
            ib[3 * t] = 3 * t, ib[3 * t + 1] = 3 * t + 1, ib[3 * t + 2] = 3 * t + 2;
        }
        rtcCommitGeometry(g);
        rtcAttachGeometry(ms[m], g);
        rtcReleaseGeometry(g);
        rtcCommitScene(ms[m]);
    }
    RTCScene top = rtcNewScene(dev);
    rtcSetSceneFlags(top, RTC_SCENE_FLAG_ROBUST);
    rtcSetSceneBuildQuality(top, RTC_BUILD_QUALITY_HIGH);
    for (uint32_t i = 0; i < v->instance_count; ++i) {
        const xs_instance *in = &v->instances[i];
        RTCGeometry g = rtcNewGeometry(dev, RTC_GEOMETRY_TYPE_INSTANCE);
        rtcSetGeometryInstancedScene(g, ms[in->mesh]);
        float xf[12]; /* column-major 3x4 */
        for (int c = 0; c < 4; ++c)
            for (int r = 0; r < 3; ++r)
                xf[c * 3 + r] = in->xf[r * 4 + c];
        rtcSetGeometryTransform(g, 0, RTC_FORMAT_FLOAT3X4_COLUMN_MAJOR, xf);
        rtcCommitGeometry(g);
        rtcAttachGeometryByID(top, g, i);
        rtcReleaseGeometry(g);
    }
    rtcCommitScene(top);
    *build_s = now() - t0;
    for (uint32_t m = 0; m < mesh_count; ++m)
        rtcReleaseScene(ms[m]);
    free(ms);
    return top;
}

static void compare(const char *name, const xs_scene *s, int w, int h, int threads)
{
    xs_scene_view v = xs_scene_view_for(s, w, h);
    RTCDevice dev = rtcNewDevice(NULL);
    double eb = 0.0;
    RTCScene es = embree_scene(dev, &v, xs_scene_mesh_count(s), &eb);
    for (int kind = 0; kind < 2; ++kind) {
        size_t n = 0;
        xs_ray *rays = make_rays(&v, w, h, kind, &n);
        uint32_t *a = malloc((n ? n : 1) * sizeof *a), *b = malloc((n ? n : 1) * sizeof *b);
        double ours = 0.0, theirs = 0.0;
        for (int rep = 0; rep < 3; ++rep) {
            double x = trace(&v, es, rays, n, threads, 0, a), y = trace(&v, es, rays, n, threads, 1, b);
            ours = x > ours ? x : ours;
            theirs = y > theirs ? y : theirs;
        }
        size_t same = 0;
        for (size_t i = 0; i < n; ++i)
            same += a[i] == b[i];
        printf("[embree] {\"scene\": \"%s\", \"triangles\": %u, \"rays\": \"%s\", \"count\": %zu, \"threads\": %d, "
               "\"xisuan_rays_per_s\": %.0f, \"embree_rays_per_s\": %.0f, \"embree_over_xisuan\": %.3f, "
               "\"same_triangle\": %.5f, \"embree_build_s\": %.4f, \"xisuan_build_s\": %.4f}\n",
               name, xs_scene_tri_count(s), kind ? "diffuse" : "camera", n, threads, ours, theirs, theirs / ours,
               n ? (double)same / (double)n : 1.0, eb, xs_scene_build_seconds(s));
        free(rays), free(a), free(b);
    }
    rtcReleaseScene(es);
    rtcReleaseDevice(dev);
}

static int parse3(const char *s, float *v) { return sscanf(s, "%f,%f,%f", &v[0], &v[1], &v[2]) == 3; }

int main(int argc, char **argv)
{
    const char *scene = NULL;
    int w = 320, h = 240, threads = xs_cpu_count_affinity(), gen = 0;
    float cam_pos[3] = {0, 0, 3}, cam_target[3] = {0, 0, 0}, yfov = 40.0f;
    bool have_cam = false;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            scene = a;
            continue;
        }
        if (!val) {
            fprintf(stderr, "xisuan-embreebench: %s: missing value\n", a);
            return 2;
        }
        ++i;
        if (!strcmp(a, "--width")) w = atoi(val);
        else if (!strcmp(a, "--height")) h = atoi(val);
        else if (!strcmp(a, "--threads")) threads = atoi(val);
        else if (!strcmp(a, "--generate-tris")) gen = atoi(val);
        else if (!strcmp(a, "--yfov")) yfov = (float)atof(val), have_cam = true;
        else if (!strcmp(a, "--cam-pos")) have_cam = parse3(val, cam_pos);
        else if (!strcmp(a, "--cam-target")) have_cam = parse3(val, cam_target);
        else {
            fprintf(stderr, "xisuan-embreebench: unknown flag %s\n", a);
            return 2;
        }
    }
    if (threads < 1 || threads > 64 || w < 1 || h < 1 || (!scene && gen <= 0)) {
        fprintf(stderr, "usage: xisuan-embreebench SCENE | --generate-tris N [flags] (see the source's header)\n");
        return 2;
    }
    xs_err err;
    xs_scene *s = NULL;
    xs_scene_build build = {threads, XS_BVH_AUTO, XS_MOTION_BVH_SEGMENTS};
    if (gen > 0) { /* xisuan-tracebench --generate-tris's height field */
        uint32_t n = (uint32_t)gen, side = (uint32_t)sqrt((double)n / 2.0) + 1;
        float *pos = malloc((size_t)n * 9 * sizeof *pos);
        uint32_t *mat = calloc(n, sizeof *mat);
        uint64_t z = 0x9E3779B97F4A7C15ull;
        for (uint32_t i = 0; i < n; ++i) {
            uint32_t q = i / 2, gx = q % side, gy = q / side;
            z ^= z << 13, z ^= z >> 7, z ^= z << 17;
            float hgt = (float)(z >> 40) / (float)(1u << 24) * 0.3f, x = (float)gx, y = (float)gy;
            xs_vec3 a = xs_v3(x, hgt + sinf(x * 0.1f) * cosf(y * 0.07f) * 5.0f, y);
            xs_vec3 e1 = (i & 1) ? xs_v3(1.0f, 0.1f, 0.0f) : xs_v3(0.0f, 0.1f, 1.0f), e2 = xs_v3(1.0f, -0.05f, 1.0f);
            xs_vec3 b = xs_add(a, e1), c = xs_add(a, e2);
            float t9[9] = {a.x, a.y, a.z, b.x, b.y, b.z, c.x, c.y, c.z};
            memcpy(pos + (size_t)i * 9, t9, sizeof t9);
        }
        xs_diffuse_material m;
        memset(&m, 0, sizeof m);
        m.albedo = xs_v3(0.7f, 0.7f, 0.7f);
        xs_scene_desc d;
        memset(&d, 0, sizeof d);
        d.name = "generated";
        d.positions = pos, d.materials_of = mat, d.tri_count = n, d.materials = &m, d.material_count = 1;
        d.background = xs_v3(1, 1, 1);
        d.cam_pos = xs_v3(0.5f * (float)side, 0.25f * (float)side, -0.1f * (float)side);
        d.cam_target = xs_v3(0.5f * (float)side, 0.0f, 0.5f * (float)side);
        d.cam_up = xs_v3(0, 1, 0);
        d.cam_yfov_deg = 50.0f;
        d.build = build;
        if (xs_scene_create(&d, &s, &err) != XS_OK) {
            fprintf(stderr, "xisuan-embreebench: %s\n", err.msg);
            return 1;
        }
        free(pos), free(mat);
        scene = "generated";
    } else if (xs_is_scene_path(scene)) {
        xs_scene_limits lim;
        xs_scene_limits_default(&lim);
        unsigned char *bytes = NULL;
        size_t len = 0;
        xs_scene_input *in = NULL;
        if (xs_scene_input_load(scene, &lim, &bytes, &len, &in, &err) != XS_OK) {
            fprintf(stderr, "xisuan-embreebench: %s\n", err.msg);
            return 2;
        }
        free(bytes);
        xs_scene_setup su;
        memset(&su, 0, sizeof su);
        su.name = "bench";
        su.cam_mode = have_cam ? XS_CAM_OVERRIDE : XS_CAM_FIRST;
        memcpy(su.cam_pos, cam_pos, sizeof cam_pos);
        memcpy(su.cam_target, cam_target, sizeof cam_target);
        su.cam_up[1] = 1.0f;
        su.cam_yfov_deg = yfov;
        su.env_color[0] = su.env_color[1] = su.env_color[2] = 1.0f;
        su.env_strength = 1.0f;
        su.build = build;
        if (xs_scene_from_gltf(in->gltf, &su, &s, &err) != XS_OK) {
            fprintf(stderr, "xisuan-embreebench: %s\n", err.msg);
            return 2;
        }
        xs_scene_input_destroy(in);
    } else if (xs_scene_builtin(scene, &build, &s, &err) != XS_OK) {
        fprintf(stderr, "xisuan-embreebench: %s\n", err.msg);
        return 2;
    }
    compare(scene, s, w, h, threads);
    xs_scene_destroy(s);
    return 0;
}
