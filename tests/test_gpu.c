/* CPU/GPU agreement through the two back ends (label `gpu`). Every GPU case
 * exits 77 (ctest: skipped) with the reason when this machine has no GPU,
 * and fails (exit 1) when it has one CUDA cannot use: NVIDIA device nodes
 * but a CUDA error (a driver too old for the static CUDA 13 runtime), so a
 * broken GPU node never passes as "skipped".
 *
 * sampler_bitexact: the Owen-scrambled Sobol' sampler is integer arithmetic
 *   and one multiply by 2^-32: the GPU's values equal the CPU's bit for bit.
 * tiles_agree: the Cornell box (and the TransmissionTest glTF when the shared
 *   scenes are there) rendered tile by tile on both back ends with every AOV:
 *   per-channel tile means agree within 1% (the kernels run the same code;
 *   nvcc contracts a*b+c into FMAs and CUDA's sinf/expf differ from glibc's in
 *   the last bits, so a path may branch differently now and then); the output
 *   reports how many pixels are bit-identical. The counters agree within 1%.
 * oom_is_failed_tile: a tile whose sample scratch cannot be allocated comes
 *   back as XS_ERR_RENDER with CUDA's text, and the next tile still renders.
 * wavefront_megakernel: on the GPU, the wavefront integrator (the default)
 *   and the megakernel reference give per-channel means within 1% on the
 *   glossy-free Cornell box at 256 spp (each path runs the same code; nvcc
 *   contracts FMAs per call site, so bits may differ); the output reports
 *   how many pixels are bit-identical.
 * tiles_bitexact: the GPU wavefront's pixels do not depend on the tile size
 *   or on which tiles share a launch: a frame in 64-pixel tiles equals the
 *   same frame in 32-pixel tiles, bit for bit, every AOV included.
 * textured_agree: DamagedHelmet (textures through CUDA texture objects on
 *   the GPU, with hardware filtering and sRGB decoding) against the CPU:
 *   means within 1%; needs XS_SCENES (the shared scenes; skipped without).
 * has_gpu: exits 0 with a GPU, 77 without, 1 when it is unusable (tests/gpu.sh
 *   and scripts/gpu-check.sh ask it).
 * Cases that need no GPU (label unit, in CUDA builds):
 * gate_device_nodes: with a device folder holding nvidia0, the real runtime's
 *   probe says READY or BROKEN, never NONE (the gate above fails, not skips).
 * error_classes: which cudaError_t values retire a GPU (sticky, no device)
 *   and which fail one tile.
 * depth_channel: the agreement statistics find the depth channel by name
 *   and leave out its "no hit" value, whatever the AOV set. */
#include "io/xs_scene_input.h"
#include "kernels/cuda/kernel_cuda.h"
#include "kernels/xs_sampler.h"
#include "render/xs_backend.h"
#include "render/xs_cuda_rt.h"
#include "render/xs_film.h"
#include "render/xs_scene.h"
#include "test_util.h"

/* tests/gpu_probe.cu */
int xs_cuda_sampler_probe(uint32_t seed, uint32_t frame, int n, float *host_out);

#include <cuda_runtime_api.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

/* Runs where CUDA sees a GPU; skips (77) where the machine has none; fails
 * where it has one CUDA cannot use. */
static int gpu_or_skip(void)
{
    xs_gpu_probe p;
    xs_gpu_probe_system(&p);
    if (p.state == XS_GPU_READY)
        return 0;
    if (p.state == XS_GPU_BROKEN) {
        printf("FAIL: %s\n", p.why);
        exit(1);
    }
    printf("SKIP: no GPU here (%s); the GPU tests run on a machine with one\n", p.why);
    exit(77);
}

static void has_gpu(void) { gpu_or_skip(); }

static void sampler_bitexact(void)
{
    gpu_or_skip();
    const int n = 97 * 64;
    float *g = malloc((size_t)n * 8 * sizeof *g);
    CHECK(xs_cuda_sampler_probe(1234u, 7u, n, g) == 0);
    int same = 0;
    for (int i = 0; i < n; ++i) {
        xs_sampler smp = xs_sampler_init(1234u, 7u, (uint32_t)(i % 97), (uint32_t)(i / 97), (uint32_t)(i % 33));
        for (int k = 0; k < 4; ++k) {
            float a, b;
            xs_sample_2d(&smp, &a, &b);
            same += memcmp(&a, &g[i * 8 + 2 * k], sizeof a) == 0;
            same += memcmp(&b, &g[i * 8 + 2 * k + 1], sizeof b) == 0;
        }
    }
    printf("sampler: %d of %d values bit-identical\n", same, n * 8);
    CHECK(same == n * 8);
    free(g);
}

/* Adds a tile's per-channel values (records of the aovs' channels) into
 * sums; the depth channel's "nothing hit" value (1e10) counts as 0, so the
 * means compare geometry, not how many pixels missed. The depth channel is
 * found by name (render/film.c), never by a fixed index. */
static void channel_sums(const float *rec, long pixels, uint32_t aovs, double *sums)
{
    const char *names[16];
    const int ch = xs_aov_channel_names(aovs, names);
    int depth = -1;
    for (int c = 0; c < ch; ++c)
        if (strcmp(names[c], "depth.Z") == 0)
            depth = c;
    for (long i = 0; i < pixels; ++i)
        for (int c = 0; c < ch; ++c) {
            float v = rec[i * ch + c];
            if (c == depth && v > 1e9f)
                v = 0.0f;
            sums[c] += v;
        }
}

static void compare_scene(const xs_scene *s, const char *label, int w, int h, int tile, int spp)
{
    xs_backend *cpu = NULL, *gpu = NULL;
    xs_err e;
    xs_err_clear(&e);
    CHECK(xs_backend_cpu_create(s, w, h, 2, &cpu, &e) == XS_OK);
    xs_result r = xs_backend_cuda_create(s, w, h, 0, 2, tile * tile, spp, &gpu, &e);
    CHECK_MSG(r == XS_OK, "%s", e.msg);
    if (r != XS_OK) {
        xs_backend_destroy(cpu);
        return;
    }
    const uint32_t aovs = XS_AOV_ALBEDO | XS_AOV_NORMAL | XS_AOV_DEPTH | XS_AOV_SAMPLES;
    const int ch = xs_aov_channels(aovs);
    float *a = malloc((size_t)tile * (size_t)tile * (size_t)ch * sizeof *a);
    float *b = malloc((size_t)tile * (size_t)tile * (size_t)ch * sizeof *b);
    double sa[16] = {0}, sb[16] = {0};
    long px = 0, identical = 0;
    xs_counters ca, cb;
    memset(&ca, 0, sizeof ca);
    memset(&cb, 0, sizeof cb);
    for (int y0 = 0; y0 < h; y0 += tile)
        for (int x0 = 0; x0 < w; x0 += tile) {
            xs_tile_params tp = xs_tile_params_frame(w, h, spp, 8);
            tp.x0 = x0, tp.y0 = y0;
            tp.width = x0 + tile <= w ? tile : w - x0;
            tp.height = y0 + tile <= h ? tile : h - y0;
            tp.seed = 42;
            tp.frame = 3;
            tp.aovs = aovs;
            CHECK(xs_backend_render_tile(cpu, &tp, a, &ca, &e) == XS_OK);
            CHECK_MSG(xs_backend_render_tile(gpu, &tp, b, &cb, &e) == XS_OK, "%s", e.msg);
            for (int i = 0; i < tp.width * tp.height; ++i)
                identical += memcmp(a + (size_t)i * ch, b + (size_t)i * ch, (size_t)ch * sizeof(float)) == 0;
            channel_sums(a, (long)tp.width * tp.height, aovs, sa);
            channel_sums(b, (long)tp.width * tp.height, aovs, sb);
            px += (long)tp.width * tp.height;
        }
    printf("%s: %ld of %ld pixels bit-identical\n", label, identical, px);
    const char *names[16];
    xs_aov_channel_names(aovs, names);
    for (int c = 0; c < ch; ++c) {
        double ma = sa[c] / (double)px, mb = sb[c] / (double)px;
        double rel = fabs(ma - mb) / fmax(fabs(ma), 1e-3);
        printf("  %-9s cpu %.6f gpu %.6f rel %.5f\n", names[c], ma, mb, rel);
        CHECK_MSG(rel < 0.01, "%s %s: CPU mean %g, GPU mean %g", label, names[c], ma, mb);
    }
    double ra = (double)(ca.camera_rays + ca.bounce_rays + ca.shadow_rays);
    double rb = (double)(cb.camera_rays + cb.bounce_rays + cb.shadow_rays);
    printf("  rays cpu %.0f gpu %.0f; node visits cpu %llu gpu %llu\n", ra, rb,
           (unsigned long long)ca.node_visits, (unsigned long long)cb.node_visits);
    CHECK(ca.camera_rays == cb.camera_rays);
    CHECK(fabs(ra - rb) / ra < 0.01);
    free(a), free(b);
    xs_backend_destroy(cpu);
    xs_backend_destroy(gpu);
}

static void tiles_agree(void)
{
    gpu_or_skip();
    xs_scene *s = NULL;
    xs_err e;
    CHECK(xs_scene_builtin("cornell", NULL, &s, &e) == XS_OK);
    compare_scene(s, "cornell", 256, 256, 64, 64);
    xs_scene_destroy(s);
}

/* A frame rendered tile by tile on b into out (records of aovs). */
static void render_frame(xs_backend *b, int w, int h, int tile, int spp, uint32_t aovs, float *out)
{
    const int ch = xs_aov_channels(aovs);
    float *t = malloc((size_t)tile * (size_t)tile * (size_t)ch * sizeof *t);
    xs_counters c;
    memset(&c, 0, sizeof c);
    xs_err e;
    for (int y0 = 0; y0 < h; y0 += tile)
        for (int x0 = 0; x0 < w; x0 += tile) {
            xs_tile_params tp = xs_tile_params_frame(w, h, spp, 8);
            tp.x0 = x0, tp.y0 = y0;
            tp.width = x0 + tile <= w ? tile : w - x0;
            tp.height = y0 + tile <= h ? tile : h - y0;
            tp.seed = 42, tp.frame = 3, tp.aovs = aovs;
            CHECK_MSG(xs_backend_render_tile(b, &tp, t, &c, &e) == XS_OK, "%s", e.msg);
            for (int y = 0; y < tp.height; ++y)
                memcpy(out + ((size_t)(y0 + y) * (size_t)w + (size_t)x0) * (size_t)ch,
                       t + (size_t)y * (size_t)tp.width * (size_t)ch, (size_t)tp.width * (size_t)ch * sizeof *t);
        }
    free(t);
}

static void wavefront_megakernel(void)
{
    gpu_or_skip();
    xs_scene *s = NULL;
    xs_err e;
    CHECK(xs_scene_builtin("cornell", NULL, &s, &e) == XS_OK);
    const int w = 128, h = 128, spp = 256;
    float *img[2];
    for (int k = 0; k < 2; ++k) {
        xs_backend *gpu = NULL;
        CHECK_MSG(xs_backend_cuda_create(s, w, h, 0, 2, 64 * 64, spp, &gpu, &e) == XS_OK, "%s", e.msg);
        if (!gpu)
            return;
        xs_backend_cuda_set_integrator(gpu, k == 0 ? XS_CUDA_WAVEFRONT : XS_CUDA_MEGAKERNEL);
        img[k] = malloc((size_t)w * h * 4 * sizeof(float));
        render_frame(gpu, w, h, 64, spp, 0, img[k]);
        xs_backend_destroy(gpu);
    }
    double m[2][4] = {{0}};
    long same = 0;
    for (int i = 0; i < w * h; ++i) {
        same += memcmp(img[0] + 4 * i, img[1] + 4 * i, 4 * sizeof(float)) == 0;
        for (int k = 0; k < 2; ++k)
            for (int c = 0; c < 4; ++c)
                m[k][c] += img[k][4 * i + c] / (double)(w * h);
    }
    printf("wavefront vs megakernel on the GPU: %ld of %d pixels bit-identical\n", same, w * h);
    for (int c = 0; c < 4; ++c) {
        double rel = fabs(m[0][c] - m[1][c]) / fmax(m[1][c], 1e-6);
        printf("  channel %d: wavefront %.6f megakernel %.6f rel %.5f\n", c, m[0][c], m[1][c], rel);
        CHECK_MSG(rel < 0.01, "channel %d: means differ by %.3f%%", c, 100.0 * rel);
    }
    free(img[0]), free(img[1]);
    xs_scene_destroy(s);
}

static void tiles_bitexact(void)
{
    gpu_or_skip();
    xs_scene *s = NULL;
    xs_err e;
    CHECK(xs_scene_builtin("cornell", NULL, &s, &e) == XS_OK);
    const int w = 160, h = 96, spp = 40;
    const uint32_t aovs = XS_AOV_ALBEDO | XS_AOV_NORMAL | XS_AOV_DEPTH | XS_AOV_SAMPLES;
    const size_t n = (size_t)w * h * (size_t)xs_aov_channels(aovs);
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    const int tiles[2] = {64, 32};
    for (int k = 0; k < 2; ++k) {
        xs_backend *gpu = NULL;
        CHECK_MSG(xs_backend_cuda_create(s, w, h, 0, 0, tiles[k] * tiles[k], spp, &gpu, &e) == XS_OK, "%s", e.msg);
        if (!gpu)
            return;
        render_frame(gpu, w, h, tiles[k], spp, aovs, k == 0 ? a : b);
        xs_backend_destroy(gpu);
    }
    size_t diff = 0;
    for (size_t i = 0; i < n; ++i)
        diff += memcmp(&a[i], &b[i], sizeof a[i]) != 0;
    printf("tiles of 64 vs 32 on the GPU: %zu of %zu values differ\n", diff, n);
    CHECK(diff == 0);
    free(a), free(b);
    xs_scene_destroy(s);
}

static void textured_agree(void)
{
    gpu_or_skip();
    const char *dir = getenv("XS_SCENES");
    char path[1024];
    snprintf(path, sizeof path, "%s/DamagedHelmet/DamagedHelmet.glb", dir ? dir : "");
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
    xs_scene_setup su;
    memset(&su, 0, sizeof su);
    su.name = "helmet";
    su.cam_mode = XS_CAM_OVERRIDE;
    su.cam_pos[2] = 3.0f, su.cam_up[1] = 1.0f, su.cam_yfov_deg = 40.0f;
    su.env_color[0] = su.env_color[1] = su.env_color[2] = 1.0f, su.env_strength = 1.0f;
    xs_scene *s = NULL;
    CHECK_MSG(xs_scene_from_gltf(in->gltf, &su, &s, &e) == XS_OK, "%s", e.msg);
    xs_scene_input_destroy(in);
    if (s)
        compare_scene(s, "helmet", 256, 144, 64, 64);
    xs_scene_destroy(s);
}

static void oom_is_failed_tile(void)
{
    gpu_or_skip();
    xs_scene *s = NULL;
    xs_err e;
    xs_err_clear(&e);
    CHECK(xs_scene_builtin("cornell", NULL, &s, &e) == XS_OK);
    xs_backend *gpu = NULL;
    CHECK(xs_backend_cuda_create(s, 4096, 4096, 0, 1, 4096 * 4096, 1, &gpu, &e) == XS_OK);
    if (!gpu) {
        xs_scene_destroy(s);
        return;
    }
    float *buf = malloc((size_t)64 * 64 * 4 * sizeof *buf);
    xs_counters c;
    memset(&c, 0, sizeof c);
    /* 4096^2 pixels x 65536 chunks x 48 bytes: no GPU holds that */
    xs_tile_params tp = xs_tile_params_frame(4096, 4096, 1 << 20, 8);
    xs_result r = xs_backend_render_tile(gpu, &tp, buf, &c, &e);
    printf("huge tile: %s\n", e.msg);
    CHECK(r == XS_ERR_RENDER);
    CHECK(strstr(e.msg, "CUDA") != NULL);
    tp = xs_tile_params_frame(4096, 4096, 4, 8);
    tp.width = tp.height = 64;
    CHECK_MSG(xs_backend_render_tile(gpu, &tp, buf, &c, &e) == XS_OK, "%s", e.msg);
    free(buf);
    xs_backend_destroy(gpu);
    xs_scene_destroy(s);
}

static void gate_device_nodes(void)
{
    char dir[] = "/tmp/xs-devXXXXXX", node[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(node, sizeof node, "%s/nvidia0", dir);
    FILE *f = fopen(node, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    xs_gpu_probe p;
    xs_gpu_probe_run(xs_cuda_rt_real(), dir, &p);
    printf("device nodes in %s: state %d (%s)\n", dir, (int)p.state, p.state == XS_GPU_READY ? "ready" : p.why);
    CHECK_MSG(p.state != XS_GPU_NONE, "a GPU node with CUDA failing must not read as 'no GPU': %s", p.why);
    unlink(node);
    rmdir(dir);
}

static void error_classes(void)
{
    const xs_cuda_rt *rt = xs_cuda_rt_real();
    CHECK(rt != NULL);
    if (!rt)
        return;
    const cudaError_t sticky[] = {cudaErrorIllegalAddress, cudaErrorLaunchFailure, cudaErrorMisalignedAddress,
                                  cudaErrorHardwareStackError, cudaErrorIllegalInstruction, cudaErrorInvalidPc,
                                  cudaErrorAssert, cudaErrorECCUncorrectable, cudaErrorLaunchTimeout,
                                  cudaErrorContained, cudaErrorUnknown};
    const cudaError_t nodev[] = {cudaErrorInsufficientDriver, cudaErrorNoDevice, cudaErrorInitializationError,
                                 cudaErrorSystemDriverMismatch, cudaErrorDevicesUnavailable};
    const cudaError_t call[] = {cudaErrorMemoryAllocation, cudaErrorInvalidValue, cudaErrorLaunchOutOfResources,
                                cudaErrorInvalidConfiguration, cudaErrorNotReady};
    for (size_t i = 0; i < sizeof sticky / sizeof sticky[0]; ++i)
        CHECK_MSG(rt->error_class((int)sticky[i]) == XS_CUDA_ERR_STICKY, "%s", cudaGetErrorName(sticky[i]));
    for (size_t i = 0; i < sizeof nodev / sizeof nodev[0]; ++i)
        CHECK_MSG(rt->error_class((int)nodev[i]) == XS_CUDA_ERR_NODEV, "%s", cudaGetErrorName(nodev[i]));
    for (size_t i = 0; i < sizeof call / sizeof call[0]; ++i)
        CHECK_MSG(rt->error_class((int)call[i]) == XS_CUDA_ERR_CALL, "%s", cudaGetErrorName(call[i]));
    CHECK(rt->error_class((int)cudaSuccess) == XS_CUDA_ERR_NONE);
    CHECK(rt->not_ready == (int)cudaErrorNotReady && rt->no_device == (int)cudaErrorNoDevice);
}

static void depth_channel(void)
{
    /* two pixels of every AOV: the second hit nothing (depth 1e10) */
    const uint32_t all = XS_AOV_ALBEDO | XS_AOV_NORMAL | XS_AOV_DEPTH | XS_AOV_SAMPLES;
    float rec[2][12];
    for (int p = 0; p < 2; ++p)
        for (int c = 0; c < 12; ++c)
            rec[p][c] = 0.5f;
    rec[0][10] = 3.0f, rec[1][10] = 1e10f; /* depth */
    rec[0][11] = 16.0f, rec[1][11] = 16.0f; /* samples */
    double sums[16] = {0};
    channel_sums(&rec[0][0], 2, all, sums);
    CHECK_MSG(sums[10] == 3.0, "depth sum %g: the miss must count as 0", sums[10]);
    CHECK_MSG(sums[11] == 32.0, "samples sum %g: samples are not masked", sums[11]);
    /* depth alone: it is channel 4 */
    float d[2][5] = {{0.1f, 0.2f, 0.3f, 1.0f, 2.0f}, {0.1f, 0.2f, 0.3f, 1.0f, 1e10f}};
    double s2[16] = {0};
    channel_sums(&d[0][0], 2, XS_AOV_DEPTH, s2);
    CHECK_MSG(s2[4] == 2.0, "depth-only sum %g", s2[4]);
}

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"has_gpu", has_gpu},
        {"gate_device_nodes", gate_device_nodes},
        {"error_classes", error_classes},
        {"depth_channel", depth_channel},
        {"sampler_bitexact", sampler_bitexact},
        {"tiles_agree", tiles_agree},
        {"oom_is_failed_tile", oom_is_failed_tile},
        {"wavefront_megakernel", wavefront_megakernel},
        {"tiles_bitexact", tiles_bitexact},
        {"textured_agree", textured_agree},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
