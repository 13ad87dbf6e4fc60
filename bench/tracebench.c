/* xisuan-tracebench: the light-transport benchmark of one scene on this
 * rank's CPU cores, without the farm around it (docs/benchmarks.md).
 *
 *   xisuan-tracebench SCENE [--width W --height H --spp N --threads T
 *       --cam-pos x,y,z --cam-target x,y,z --yfov DEG --bg r,g,b
 *       --max-bounces B --out FILE.exr --json FILE --rays N --bvh auto|binned|clustered
 *       --integrator wavefront|megakernel --isa auto|x86-64|avx2
 *       --frame F --fps X --shutter S --motion-steps K --motion-bvh union|segments
 *       --backend cpu|embree]
 *   xisuan-tracebench --generate-tris N [--threads T]   (BVH build and traversal
 *       of a generated terrain mesh)
 *
 * Reports, for the scene: load time, BVH build time and rate (triangles/s,
 * per thread), path-tracing time of the whole frame (the render alone: no
 * load, no build, no file), samples/s, the kernel's counters as rays/s; and
 * the traversal rate of camera rays and of diffuse rays (cosine-distributed
 * from the camera rays' hit points), closest hit, traced on all threads.
 * SCENE is a .gltf, .glb or .tar.zst (its manifest ignored: the flags give
 * camera and lighting, as ../shared/peers/blender/render.py takes them), or
 * a built-in name. With --frame, an animated scene is posed for frame F
 * first (with the shutter: motion blur; --motion-bvh picks how deforming
 * meshes are bounded, to compare the two) and the report adds the time that
 * took ("frame_s") and the BVH nodes visited per traced ray. --backend
 * embree renders on the Embree back end (render/backend_embree.c; its
 * scene build is "backend_s"); the traversal rates stay ours. */
#define _GNU_SOURCE
#include "io/xs_scene_input.h"
#include "kernels/cpu/kernel_cpu.h"
#include "kernels/xs_path.h"
#include "io/xs_exr.h"
#include "render/xs_backend.h"
#include "render/xs_bvh.h"
#include "render/xs_film.h"
#include "render/xs_parallel.h"
#include "render/xs_scene.h"

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

/* CPU seconds this process has used (all threads): with the wall time of a
 * render, what a loaded machine took from it. */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int parse3(const char *s, float *v)
{
    return sscanf(s, "%f,%f,%f", &v[0], &v[1], &v[2]) == 3;
}

typedef struct ray_job {
    const xs_scene_view *v;
    const xs_ray *rays;
    size_t begin, end;
    uint64_t hits;
    xs_counters c;
} ray_job;

static void *ray_thread(void *arg)
{
    ray_job *j = (ray_job *)arg;
    for (size_t i = j->begin; i < j->end; ++i) {
        xs_hit hit;
        j->hits += xs_trace(j->v, &j->rays[i], false, &hit, &j->c);
    }
    return NULL;
}

/* Builds per_pixel camera rays a pixel (kind 0), or one diffuse ray from each
 * camera hit (kind 1: cosine-distributed about the shading normal), untimed;
 * then traces them closest-hit on `threads` threads, timed. */
static double trace_rate(const xs_scene_view *v, int w, int h, int per_pixel, int kind, int threads,
                         uint64_t *rays_out, xs_counters *c)
{
    size_t cap = (size_t)w * (size_t)h * (size_t)per_pixel, n = 0;
    xs_ray *rays = malloc(cap * sizeof *rays);
    if (!rays)
        return 0.0;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int k = 0; k < per_pixel; ++k) {
                xs_rng rng = xs_rng_init(9, 0, (uint32_t)x, (uint32_t)y, (uint32_t)k);
                xs_ray r = xs_camera_ray(&v->camera, w, h, (float)x + xs_rng_float(&rng),
                                         (float)y + xs_rng_float(&rng));
                if (kind == 0) {
                    rays[n++] = r;
                    continue;
                }
                xs_hit hit;
                xs_counters scratch = {0};
                if (!xs_trace(v, &r, false, &hit, &scratch))
                    continue;
                xs_surface sf;
                xs_surface_at(v, &r, &hit, 0.0f, &sf); /* texture level 0 */
                float u1 = xs_rng_float(&rng), u2 = xs_rng_float(&rng);
                float rr = sqrtf(u1), phi = 2.0f * XS_PI * u2;
                xs_vec3 d = xs_from_local(&sf, xs_v3(rr * cosf(phi), rr * sinf(phi), sqrtf(1.0f - u1)));
                xs_ray b;
                b.o = xs_offset(sf.p, sf.ng, v->ray_eps);
                b.d = xs_normalize(d);
                b.tmax = INFINITY;
                rays[n++] = b;
            }
    ray_job jobs[64];
    pthread_t th[64];
    double t0 = now();
    for (int i = 0; i < threads; ++i) {
        jobs[i] = (ray_job){v, rays, n * (size_t)i / (size_t)threads, n * (size_t)(i + 1) / (size_t)threads, 0, {0}};
        pthread_create(&th[i], NULL, ray_thread, &jobs[i]);
    }
    for (int i = 0; i < threads; ++i) {
        pthread_join(th[i], NULL);
        xs_counters_add(c, &jobs[i].c);
    }
    double dt = now() - t0;
    free(rays);
    *rays_out = n;
    return n ? (double)n / dt : 0.0;
}

static int generate(uint32_t n, int threads)
{
    /* a terrain-like grid of n triangles plus noise: a stand-in for a large mesh */
    xs_tri *t = malloc((size_t)n * sizeof *t);
    if (!t)
        return 1;
    uint32_t side = (uint32_t)sqrt((double)n / 2.0) + 1;
    uint64_t z = 0x9E3779B97F4A7C15ull;
    for (uint32_t i = 0; i < n; ++i) {
        uint32_t q = i / 2, gx = q % side, gy = q / side;
        z ^= z << 13, z ^= z >> 7, z ^= z << 17;
        float hgt = (float)(z >> 40) / (float)(1u << 24) * 0.3f;
        float x = (float)gx, y = (float)gy;
        t[i].v0 = xs_v3(x, hgt + sinf(x * 0.1f) * cosf(y * 0.07f) * 5.0f, y);
        t[i].e1 = (i & 1) ? xs_v3(1.0f, 0.1f, 0.0f) : xs_v3(0.0f, 0.1f, 1.0f);
        t[i].e2 = xs_v3(1.0f, -0.05f, 1.0f);
    }
    /* each builder on 1 thread and on all, three builds each: the first
     * pays the page faults of fresh memory, the median is the rate */
    for (int method = 0; method < 2; ++method)
        for (int pass = 0; pass < 2; ++pass) {
            int nt = pass == 0 ? 1 : threads;
            if (pass == 1 && threads == 1)
                break;
            xs_bvh_method bm = method == 0 ? XS_BVH_AUTO : XS_BVH_BINNED;
            double dts[3];
            uint32_t nn = 0;
            double sah = 0.0;
            for (int rep = 0; rep < 3; ++rep) {
                xs_bvh_node *nodes = NULL;
                uint32_t *order = NULL;
                xs_err e;
                double t0 = now();
                if (xs_bvh_build_with(t, n, nt, bm, &nodes, &nn, &order, &e) != XS_OK) {
                    fprintf(stderr, "%s\n", e.msg);
                    return 1;
                }
                dts[rep] = now() - t0;
                sah = xs_bvh_sah_cost(nodes, nn);
                free(nodes);
                free(order);
            }
            double a = dts[0], b = dts[1], c = dts[2];
            double med = a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
            printf("[bvh] {\"triangles\": %u, \"builder\": \"%s\", \"threads\": %d, \"nodes\": %u, "
                   "\"build_s\": %.4f, \"first_build_s\": %.4f, \"mtris_per_s\": %.2f, "
                   "\"mtris_per_s_per_thread\": %.2f, \"sah_cost\": %.2f}\n",
                   n, method == 0 ? (n >= XS_BVH_CLUSTER_MIN ? "clustered" : "binned") : "binned", nt, nn,
                   med, dts[0], n / med / 1e6, n / med / 1e6 / nt, sah);
        }
    /* traversal on the same mesh as a scene: a camera above the terrain */
    float *pos = malloc((size_t)n * 9 * sizeof *pos);
    uint32_t *mat = calloc(n, sizeof *mat);
    if (!pos || !mat) {
        free(t), free(pos), free(mat);
        return 1;
    }
    for (uint32_t i = 0; i < n; ++i) {
        xs_vec3 a = t[i].v0, b = xs_add(a, t[i].e1), c = xs_add(a, t[i].e2);
        float v[9] = {a.x, a.y, a.z, b.x, b.y, b.z, c.x, c.y, c.z};
        memcpy(pos + (size_t)i * 9, v, sizeof v);
    }
    free(t);
    xs_diffuse_material m;
    memset(&m, 0, sizeof m);
    m.albedo = xs_v3(0.7f, 0.7f, 0.7f);
    xs_scene_desc d;
    memset(&d, 0, sizeof d);
    d.name = "generated";
    d.positions = pos;
    d.materials_of = mat;
    d.tri_count = n;
    d.materials = &m;
    d.material_count = 1;
    d.background = xs_v3(1.0f, 1.0f, 1.0f);
    d.cam_pos = xs_v3(0.5f * (float)side, 0.25f * (float)side, -0.1f * (float)side);
    d.cam_target = xs_v3(0.5f * (float)side, 0.0f, 0.5f * (float)side);
    d.cam_up = xs_v3(0.0f, 1.0f, 0.0f);
    d.cam_yfov_deg = 50.0f;
    /* the same rays through the tree of each builder */
    for (int method = 0; method < 2; ++method) {
        d.build.threads = threads;
        d.build.bvh = method == 0 ? XS_BVH_AUTO : XS_BVH_BINNED;
        xs_scene *sc = NULL;
        xs_err e;
        if (xs_scene_create(&d, &sc, &e) != XS_OK) {
            fprintf(stderr, "%s\n", e.msg);
            free(pos), free(mat);
            return 1;
        }
        int w = 320, h = 240;
        xs_scene_view v = xs_scene_view_for(sc, w, h);
        uint64_t cam_n = 0, dif_n = 0;
        xs_counters cc = {0}, dc = {0};
        double cam_rate = trace_rate(&v, w, h, 4, 0, threads, &cam_n, &cc);
        double dif_rate = trace_rate(&v, w, h, 4, 1, threads, &dif_n, &dc);
        printf("[trace] {\"triangles\": %u, \"builder\": \"%s\", \"threads\": %d, "
               "\"camera_trace_rays_per_s\": %.0f, \"diffuse_trace_rays_per_s\": %.0f, "
               "\"camera_nodes_per_ray\": %.1f, \"diffuse_nodes_per_ray\": %.1f}\n",
               n, method == 0 ? (n >= XS_BVH_CLUSTER_MIN ? "clustered" : "binned") : "binned", threads,
               cam_rate, dif_rate, cam_n ? (double)cc.node_visits / cam_n : 0.0,
               dif_n ? (double)dc.node_visits / dif_n : 0.0);
        xs_scene_destroy(sc);
    }
    free(pos), free(mat);
    return 0;
}

int main(int argc, char **argv)
{
    const char *scene = NULL, *out = NULL, *json = NULL;
    int w = 512, h = 512, spp = 64, threads = xs_cpu_count_affinity(), bounces = 8, gen = 0;
    float cam_pos[3] = {0, 0, 3}, cam_target[3] = {0, 0, 0}, bg[3] = {1, 1, 1}, yfov = 40.0f;
    bool have_cam = false;
    xs_scene_build build = {0, XS_BVH_AUTO, XS_MOTION_BVH_SEGMENTS};
    xs_cpu_options copt = {.integrator = XS_INTEGRATOR_WAVEFRONT, .isa = XS_CPU_ISA_AUTO};
    int frame = -1, embree = 0;
    xs_scene_timing timing = {24.0, 0.0, 0.0f, 3};
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') {
            scene = a;
            continue;
        }
        if (!v) {
            fprintf(stderr, "xisuan-tracebench: %s: missing value\n", a);
            return 2;
        }
        ++i;
        if (!strcmp(a, "--width")) w = atoi(v);
        else if (!strcmp(a, "--height")) h = atoi(v);
        else if (!strcmp(a, "--spp")) spp = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--max-bounces")) bounces = atoi(v);
        else if (!strcmp(a, "--generate-tris")) gen = atoi(v);
        else if (!strcmp(a, "--bvh")) {
            if (!strcmp(v, "binned"))
                build.bvh = XS_BVH_BINNED;
            else if (!strcmp(v, "clustered"))
                build.bvh = XS_BVH_CLUSTERED;
            else if (strcmp(v, "auto") != 0) {
                fprintf(stderr, "xisuan-tracebench: --bvh: auto, binned or clustered\n");
                return 2;
            }
        }
        else if (!strcmp(a, "--integrator")) {
            if (!strcmp(v, "megakernel"))
                copt.integrator = XS_INTEGRATOR_MEGAKERNEL;
            else if (strcmp(v, "wavefront") != 0) {
                fprintf(stderr, "xisuan-tracebench: --integrator: wavefront or megakernel\n");
                return 2;
            }
        }
        else if (!strcmp(a, "--isa")) {
            if (!strcmp(v, "x86-64"))
                copt.isa = XS_CPU_ISA_BASE;
            else if (!strcmp(v, "avx2"))
                copt.isa = XS_CPU_ISA_AVX2;
            else if (strcmp(v, "auto") != 0) {
                fprintf(stderr, "xisuan-tracebench: --isa: auto, x86-64 or avx2\n");
                return 2;
            }
        }
        else if (!strcmp(a, "--backend")) {
            if (!strcmp(v, "embree"))
                embree = 1;
            else if (strcmp(v, "cpu") != 0) {
                fprintf(stderr, "xisuan-tracebench: --backend: cpu or embree\n");
                return 2;
            }
        }
        else if (!strcmp(a, "--frame")) frame = atoi(v);
        else if (!strcmp(a, "--fps")) timing.fps = atof(v);
        else if (!strcmp(a, "--shutter")) timing.shutter = (float)atof(v);
        else if (!strcmp(a, "--motion-steps")) timing.motion_steps = atoi(v);
        else if (!strcmp(a, "--motion-bvh")) {
            if (!strcmp(v, "union"))
                build.motion_bvh = XS_MOTION_BVH_UNION;
            else if (strcmp(v, "segments") != 0) {
                fprintf(stderr, "xisuan-tracebench: --motion-bvh: union or segments\n");
                return 2;
            }
        }
        else if (!strcmp(a, "--yfov")) yfov = (float)atof(v), have_cam = true;
        else if (!strcmp(a, "--cam-pos")) have_cam = parse3(v, cam_pos);
        else if (!strcmp(a, "--cam-target")) have_cam = parse3(v, cam_target);
        else if (!strcmp(a, "--bg")) parse3(v, bg);
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--json")) json = v;
        else {
            fprintf(stderr, "xisuan-tracebench: unknown flag %s\n", a);
            return 2;
        }
    }
    if (threads < 1 || threads > 64 || w < 1 || h < 1 || spp < 1) {
        fprintf(stderr, "xisuan-tracebench: bad sizes\n");
        return 2;
    }
    if (gen > 0)
        return generate((uint32_t)gen, threads);
    if (!scene) {
        fprintf(stderr, "usage: xisuan-tracebench SCENE [flags] (see the source's header)\n");
        return 2;
    }
    build.threads = threads;
    xs_err err;
    xs_scene *s = NULL;
    double t0 = now();
    double load_s = 0.0;
    if (xs_is_scene_path(scene)) {
        xs_scene_limits lim;
        xs_scene_limits_default(&lim);
        unsigned char *bytes = NULL;
        size_t len = 0;
        xs_scene_input *in = NULL;
        if (xs_scene_input_load(scene, &lim, &bytes, &len, &in, &err) != XS_OK) {
            fprintf(stderr, "xisuan-tracebench: %s\n", err.msg);
            return 2;
        }
        free(bytes);
        load_s = now() - t0;
        xs_scene_setup su;
        memset(&su, 0, sizeof su);
        su.name = "bench";
        su.cam_mode = have_cam ? XS_CAM_OVERRIDE : XS_CAM_FIRST;
        memcpy(su.cam_pos, cam_pos, sizeof cam_pos);
        memcpy(su.cam_target, cam_target, sizeof cam_target);
        su.cam_up[1] = 1.0f;
        su.cam_yfov_deg = yfov;
        memcpy(su.env_color, bg, sizeof bg);
        su.env_strength = 1.0f;
        su.build = build;
        if (xs_scene_from_gltf(in->gltf, &su, &s, &err) != XS_OK) {
            fprintf(stderr, "xisuan-tracebench: %s\n", err.msg);
            return 2;
        }
        xs_scene_input_destroy(in);
    } else if (xs_scene_builtin(scene, &build, &s, &err) != XS_OK) {
        fprintf(stderr, "xisuan-tracebench: %s\n", err.msg);
        return 2;
    }
    double setup_s = now() - t0 - load_s;
    double build_s = xs_scene_build_seconds(s);
    double frame_s = 0.0;
    if (frame >= 0) {
        double f0 = now();
        if (xs_scene_set_frame(s, &timing, frame, NULL, &err) != XS_OK) {
            fprintf(stderr, "xisuan-tracebench: %s\n", err.msg);
            return 1;
        }
        frame_s = now() - f0;
    }
    uint32_t tris = xs_scene_tri_count(s);

    xs_backend *be = NULL;
    const double b0 = now();
    if ((embree ? xs_backend_embree_create(s, w, h, threads, &be, &err)
                : xs_backend_cpu_create_with(s, w, h, threads, &copt, &be, &err)) != XS_OK) {
        fprintf(stderr, "xisuan-tracebench: %s\n", err.msg);
        return 1;
    }
    const double backend_s = now() - b0;
    xs_tile_params tp = xs_tile_params_frame(w, h, spp, bounces);
    tp.frame = frame >= 0 ? (uint32_t)frame : 0u;
    float *buf = malloc((size_t)w * (size_t)h * 4 * sizeof(float));
    xs_counters c = {0};
    const uint64_t lanes0 = xs_cpu_lanes_shaded8();
    double r0 = now(), c0 = cpu_now();
    if (xs_backend_render_tile(be, &tp, buf, &c, &err) != XS_OK) {
        fprintf(stderr, "xisuan-tracebench: %s\n", err.msg);
        return 1;
    }
    double render_s = now() - r0, render_cpu_s = cpu_now() - c0;
    const uint64_t lanes8 = xs_cpu_lanes_shaded8() - lanes0;
    if (out) {
        xs_exr_layout l;
        memset(&l, 0, sizeof l);
        l.frame_width = w;
        l.frame_height = h;
        l.tile_size = w > h ? w : h;
        l.compression = XS_EXR_ZIP;
        l.zip_level = 4;
        l.channel_count = xs_aov_channel_names(0, l.channels);
        if (xs_exr_write_tile(out, &l, 0, 0, w, h, buf, &err) != XS_OK) {
            fprintf(stderr, "xisuan-tracebench: %s\n", err.msg);
            return 1;
        }
    }
    xs_scene_view v = xs_scene_view_for(s, w, h);
    uint64_t cam_n = 0, dif_n = 0;
    xs_counters cc = {0}, dc = {0};
    double cam_rate = trace_rate(&v, w, h, 4, 0, threads, &cam_n, &cc);
    double dif_rate = trace_rate(&v, w, h, 4, 1, threads, &dif_n, &dc);
    double rays = (double)(c.camera_rays + c.bounce_rays + c.shadow_rays);
    char line[2048];
    snprintf(line, sizeof line,
             "{\"scene\": \"%s\", \"device\": \"%s\", \"width\": %d, \"height\": %d, \"spp\": %d, \"threads\": %d, "
             "\"triangles\": %u, \"load_s\": %.4f, \"setup_s\": %.4f, \"bvh_build_s\": %.4f, "
             "\"bvh_mtris_per_s_per_thread\": %.2f, \"render_s\": %.4f, \"render_cpu_s\": %.4f, "
             "\"samples_per_s\": %.0f, \"samples_per_cpu_s\": %.0f, "
             "\"rays_per_s\": %.0f, \"camera_rays\": %llu, \"bounce_rays\": %llu, \"shadow_rays\": %llu, "
             "\"node_visits\": %llu, \"tri_tests\": %llu, \"nonfinite\": %llu, "
             "\"camera_trace_rays_per_s\": %.0f, \"diffuse_trace_rays_per_s\": %.0f, "
             "\"camera_nodes_per_ray\": %.1f, \"diffuse_nodes_per_ray\": %.1f, \"frame_s\": %.4f, "
             "\"render_nodes_per_ray\": %.2f, \"render_tri_tests_per_ray\": %.2f, \"backend_s\": %.4f, "
             "\"shade_events\": %llu, \"shaded8_share\": %.4f}",
             scene, be->device, w, h, spp, threads, tris, load_s, setup_s, build_s,
             build_s > 0 ? tris / build_s / 1e6 / threads : 0.0, render_s, render_cpu_s,
             (double)w * h * spp / render_s, (double)w * h * spp / render_cpu_s, rays / render_s, (unsigned long long)c.camera_rays,
             (unsigned long long)c.bounce_rays, (unsigned long long)c.shadow_rays,
             (unsigned long long)c.node_visits, (unsigned long long)c.tri_tests,
             (unsigned long long)c.nonfinite, cam_rate, dif_rate,
             cam_n ? (double)cc.node_visits / cam_n : 0.0, dif_n ? (double)dc.node_visits / dif_n : 0.0,
             frame_s, rays > 0 ? (double)c.node_visits / rays : 0.0, rays > 0 ? (double)c.tri_tests / rays : 0.0,
             backend_s, (unsigned long long)c.shade_events,
             c.shade_events ? (double)lanes8 / (double)c.shade_events : 0.0);
    printf("[xisuan] %s\n", line);
    if (json) {
        FILE *f = fopen(json, "w");
        if (f) {
            fprintf(f, "%s\n", line);
            fclose(f);
        }
    }
    free(buf);
    xs_backend_destroy(be);
    xs_scene_destroy(s);
    return 0;
}
