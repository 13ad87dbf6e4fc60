/* The CUDA back end's host logic (render/backend_cuda.c) on a fake device
 * (tests/fake_cuda_rt.c) that keeps CUDA's error rules: what a GPU's first
 * run would trip over, checked without a GPU, in every build (the logic is
 * plain C; only the real runtime table needs CUDA).
 *
 * oom_then_healthy: a tile whose scratch cannot be allocated fails with
 *   CUDA's text, and the next tile renders (the failed cudaMalloc's error is
 *   cleared where it is reported, not read by the next launch's check).
 * stale_error_cleared: an error some earlier call left pending does not fail
 *   the next launch (cleared before each launch).
 * sticky_retires: a kernel fault (sticky, reported asynchronously) fails
 *   its tile with XS_ERR_DEVICE and retires the back end: later tiles fail
 *   the same way without a single CUDA call.
 * empty_arrays_null: a scene array with no elements has NULL, not a host
 *   address, in the device view; every launch sees device pointers only.
 * groups: tiles launch in groups sized from the SMs and occupancy (full
 *   groups at begin, a partial one when the GPU would idle: polled, or seen
 *   idle when an earlier group finishes), every tile gets
 *   its own pixels and counters back, kernel time is shared out by threads.
 * launch_failure: a launch that fails fails its group's tiles and no more.
 * probe: device nodes with a CUDA that cannot use them are BROKEN (tests
 *   fail, --backend auto warns), not NONE (skip); hidden devices are NONE.
 * create_fails_cleanly: too little device memory for the scene: refused
 *   before any upload with the numbers; where the free memory cannot be
 *   read, a clear error naming the array; nothing left allocated.
 * texture_pages: a paged scene on a fake device that runs the real kernels
 *   on the host: with a budget of 16 pages, with one of 48 and with every
 *   page, launches that miss pages are run again once they are loaded, and
 *   every tile equals the CPU's render of the scene held whole, bit for bit;
 *   the scene held whole renders the same from its uploaded pool; a device
 *   that cannot hold the scene is refused at creation with the numbers.
 * texture_objects_budget: which textures become texture objects: a scene
 *   held whole, all of them (no page uploaded) or, over the GPU texture
 *   budget, none (its pages uploaded); a paged scene, all of them with no
 *   budget (no page table) or, in texture order, those that fit with 16
 *   pages' room left, the others' pages on demand; a texture no material
 *   reads (no levels) does not keep the others from being objects; one
 *   wider than 32768 texels stays paged.
 * texture_pages_two_in_flight: two launches in flight missing the same
 *   page both run again once it is loaded.
 * texture_pages_update: a paged scene's back end updated between tiles (a
 *   frame change): the device keeps its page table and pool, never the
 *   host's page cache, and renders the same pixels.
 * wave: the wavefront's path buffer is device memory sized from the SMs and
 *   occupancy, capped by the device's memory, given to every wavefront
 *   launch; the megakernel (set before the first tile) needs none; both
 *   return each tile's own pixels.
 * textures: a textured scene's textures become texture objects (two each:
 *   linear and sRGB, over one upload of its MIP levels), their handles a
 *   device array in the view (tex_objects), the host texels not uploaded;
 *   all freed with the back end. Too little memory for them: a clear error
 *   naming the texture, nothing left.
 * update_dirty_ranges: an animated scene (a morphing mesh, a moving
 *   instance, a shutter) posed for another frame: update copies the byte
 *   ranges the frame rewrote (not the whole scene), arrays that appear or
 *   grow are allocated, and every array the next launch sees holds the
 *   host's bytes at device addresses; update with a tile in flight, or on a
 *   lost device, is refused. */
#include "fake_cuda_rt.h"
#include "gltf_build.h"
#include "io/xs_gltf.h"
#include "render/xs_backend.h"
#include "kernels/cuda/kernel_cuda.h"
#include "render/xs_scene.h"
#include "render/xs_texcache.h"
#include "tex_scene.h"
#include "test_util.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static xs_scene *cornell(void)
{
    xs_scene *s = NULL;
    xs_err e;
    CHECK(xs_scene_builtin("cornell", NULL, &s, &e) == XS_OK);
    return s;
}

static xs_tile_params tile(int x0, int y0, int w, int h, int spp, uint32_t frame)
{
    xs_tile_params tp = xs_tile_params_frame(256, 256, spp, 8);
    tp.x0 = x0, tp.y0 = y0, tp.width = w, tp.height = h;
    tp.frame = frame;
    return tp;
}

/* Every value of the tile is the fake's for this tile. */
static bool pixels_ok(const xs_tile_params *tp, const float *rgba)
{
    const int ch = xs_aov_channels(tp->aovs);
    for (int y = 0; y < tp->height; ++y)
        for (int x = 0; x < tp->width; ++x)
            for (int c = 0; c < ch; ++c)
                if (rgba[((size_t)y * (size_t)tp->width + (size_t)x) * (size_t)ch + (size_t)c] !=
                    fake_pixel(tp, tp->x0 + x, tp->y0 + y, c))
                    return false;
    return true;
}

static float buf[64 * 64 * 12];

static void oom_then_healthy(void)
{
    fake_gpu g = {.devices = 1, .memory = 8u << 20};
    const xs_cuda_rt *rt = fake_cuda_rt(&g);
    xs_scene *s = cornell();
    xs_backend *b = NULL;
    xs_err e;
    xs_err_clear(&e);
    CHECK_MSG(xs_backend_cuda_create_rt(rt, s, 256, 256, 0, 1, 64 * 64, 16, &b, &e) == XS_OK, "%s", e.msg);
    xs_counters c;
    memset(&c, 0, sizeof c);
    xs_tile_params huge = tile(0, 0, 64, 64, 1 << 20, 1); /* 65,536 chunks a pixel: 12 GB of scratch */
    xs_result r = xs_backend_render_tile(b, &huge, buf, &c, &e);
    printf("huge tile: %s\n", e.msg);
    CHECK(r == XS_ERR_RENDER);
    CHECK(strstr(e.msg, "out of memory") && strstr(e.msg, "cudaErrorMemoryAllocation"));
    CHECK(!b->lost);
    xs_tile_params tp = tile(64, 0, 64, 64, 16, 1);
    r = xs_backend_render_tile(b, &tp, buf, &c, &e);
    CHECK_MSG(r == XS_OK, "the tile after the failed allocation: %s", e.msg);
    CHECK(pixels_ok(&tp, buf));
    CHECK(c.camera_rays == 64u * 64u * 16u);
    xs_backend_destroy(b);
    xs_scene_destroy(s);
    CHECK(g.used == 0);
    fake_cuda_reset();
}

static void stale_error_cleared(void)
{
    fake_gpu g = {.devices = 1};
    const xs_cuda_rt *rt = fake_cuda_rt(&g);
    xs_scene *s = cornell();
    xs_backend *b = NULL;
    xs_err e;
    xs_err_clear(&e);
    CHECK(xs_backend_cuda_create_rt(rt, s, 256, 256, 0, 1, 64 * 64, 16, &b, &e) == XS_OK);
    g.last_error = FAKE_INVALID_VALUE; /* left by some call that was not checked */
    xs_counters c;
    memset(&c, 0, sizeof c);
    xs_tile_params tp = tile(0, 0, 32, 32, 16, 2);
    CHECK_MSG(xs_backend_render_tile(b, &tp, buf, &c, &e) == XS_OK, "%s", e.msg);
    CHECK(pixels_ok(&tp, buf));
    xs_backend_destroy(b);
    xs_scene_destroy(s);
    fake_cuda_reset();
}

static void sticky_retires(void)
{
    fake_gpu g = {.devices = 1, .lose_at_launch = 2};
    const xs_cuda_rt *rt = fake_cuda_rt(&g);
    xs_scene *s = cornell();
    xs_backend *b = NULL;
    xs_err e;
    xs_err_clear(&e);
    CHECK(xs_backend_cuda_create_rt(rt, s, 256, 256, 0, 1, 64 * 64, 16, &b, &e) == XS_OK);
    xs_counters c;
    memset(&c, 0, sizeof c);
    xs_tile_params tp = tile(0, 0, 64, 64, 16, 1);
    CHECK(xs_backend_render_tile(b, &tp, buf, &c, &e) == XS_OK);
    tp.x0 = 64;
    xs_result r = xs_backend_render_tile(b, &tp, buf, &c, &e);
    printf("faulting tile: %s\n", e.msg);
    CHECK(r == XS_ERR_DEVICE);
    CHECK(b->lost);
    CHECK(strstr(e.msg, "illegal memory access") && strstr(e.msg, "lost"));
    int calls = g.calls;
    for (int i = 0; i < 3; ++i) {
        tp.x0 = 128;
        CHECK(xs_backend_render_tile(b, &tp, buf, &c, &e) == XS_ERR_DEVICE);
        CHECK(xs_backend_poll(b, 0));
    }
    CHECK_MSG(g.calls == calls, "a lost back end made %d CUDA call(s)", g.calls - calls);
    CHECK(strstr(e.msg, "illegal memory access") != NULL); /* the first reason stays */
    xs_backend_destroy(b);
    xs_scene_destroy(s);
    fake_cuda_reset();
}

static void empty_arrays_null(void)
{
    xs_scene *s = cornell();
    xs_scene_view v = xs_scene_view_for(s, 256, 256);
    /* the built-in scene has no textures and no environment: give those
     * pointers a host address, as an allocator may for zero elements */
    static uint32_t host_word[4];
    v.textures = (const xs_texture *)host_word;
    v.tex_pool = host_word;
    v.tex_levels = (const xs_tex_level *)host_word;
    v.tex_page = host_word;
    v.env = (const float *)host_word;
    v.env_row_cdf = (const float *)host_word;
    v.env_col_cdf = (const float *)host_word;
    xs_scene_blob blobs[XS_SCENE_BLOBS_MAX];
    int n = xs_scene_blobs(s, &v, blobs, XS_SCENE_BLOBS_MAX);
    CHECK(v.textures == NULL && v.tex_pool == NULL && v.tex_levels == NULL && v.tex_page == NULL && v.env == NULL && v.env_row_cdf == NULL && v.env_col_cdf == NULL);
    for (int i = 0; i < n; ++i) {
        CHECK(blobs[i].bytes > 0);
        CHECK_MSG(blobs[i].host != (const void *)host_word, "%s listed with no elements", blobs[i].name);
    }
    CHECK(v.tris != NULL && v.lights != NULL); /* arrays with elements stay */
    /* and through the back end: every launch sees NULL or device pointers */
    fake_gpu g = {.devices = 1};
    const xs_cuda_rt *rt = fake_cuda_rt(&g);
    xs_backend *b = NULL;
    xs_err e;
    CHECK(xs_backend_cuda_create_rt(rt, s, 256, 256, 0, 1, 64 * 64, 16, &b, &e) == XS_OK);
    xs_counters c;
    memset(&c, 0, sizeof c);
    xs_tile_params tp = tile(0, 0, 16, 16, 4, 1);
    CHECK_MSG(xs_backend_render_tile(b, &tp, buf, &c, &e) == XS_OK, "%s", e.msg);
    CHECK(g.view_faults == 0);
    xs_backend_destroy(b);
    xs_scene_destroy(s);
    fake_cuda_reset();
}

static void groups(void)
{
    /* 2 waves of 4 SMs x 2 blocks of 64 threads = 1024 threads: 4 tiles of
     * 16x16 at 16 spp (256 threads each) a launch */
    fake_gpu g = {.devices = 1, .sm_count = 4, .resident_blocks = 2, .kernel_ms = 2.0f};
    const xs_cuda_rt *rt = fake_cuda_rt(&g);
    xs_scene *s = cornell();
    xs_backend *b = NULL;
    xs_err e;
    xs_err_clear(&e);
    CHECK(xs_backend_cuda_create_rt(rt, s, 256, 256, 0, 0, 16 * 16, 16, &b, &e) == XS_OK);
    CHECK_MSG(b->group == 4 && b->slots == 12, "group %d, slots %d", b->group, b->slots);
    xs_tile_params tp[12];
    for (int i = 0; i < 12; ++i) {
        tp[i] = tile(16 * i, 16 * (i % 3), 16 - (i == 5), 16, 16, (uint32_t)(1 + i / 8));
        CHECK(xs_backend_begin(b, i, &tp[i], &e) == XS_OK);
        CHECK_MSG(g.launches == (i + 1) / 4, "after %d begins: %d launches", i + 1, g.launches);
    }
    CHECK(g.max_group == 4);
    double kernel = 0.0;
    for (int i = 0; i < 12; ++i) {
        xs_counters c;
        memset(&c, 0, sizeof c);
        CHECK(xs_backend_poll(b, i));
        CHECK(xs_backend_end(b, i, buf, &c, &kernel, &e) == XS_OK);
        CHECK_MSG(pixels_ok(&tp[i], buf), "tile %d came back with another tile's pixels", i);
        CHECK(c.camera_rays == (uint64_t)tp[i].width * 16u * 16u);
    }
    CHECK_MSG(kernel > 5.999e-3 && kernel < 6.001e-3, "3 launches of 2 ms shared out: %g s", kernel);
    /* a partial group waits for more tiles while the GPU works, and is
     * launched when it would otherwise idle */
    g.not_ready_polls = 2;
    xs_tile_params a = tile(0, 100, 16, 16, 16, 4), c2 = tile(16, 100, 16, 16, 16, 4);
    CHECK(xs_backend_begin(b, 3, &a, &e) == XS_OK);
    CHECK(xs_backend_begin(b, 7, &c2, &e) == XS_OK);
    CHECK(g.launches == 3);
    CHECK(!xs_backend_poll(b, 3)); /* the GPU is idle: the partial group goes */
    CHECK(g.launches == 4);
    CHECK(!xs_backend_poll(b, 3)); /* not ready */
    CHECK(!xs_backend_poll(b, 3));
    CHECK(xs_backend_poll(b, 3));
    xs_counters c;
    memset(&c, 0, sizeof c);
    CHECK(xs_backend_end(b, 7, buf, &c, &kernel, &e) == XS_OK && pixels_ok(&c2, buf));
    CHECK(xs_backend_end(b, 3, buf, &c, &kernel, &e) == XS_OK && pixels_ok(&a, buf));
    CHECK(g.max_group == 4 && g.view_faults == 0);
    /* a full group done while a partial one waits: the partial one goes as
     * soon as the GPU is seen idle */
    g.not_ready_polls = 0;
    xs_tile_params q[6];
    for (int i = 0; i < 6; ++i) {
        q[i] = tile(16 * i, 200, 16, 16, 16, 5);
        CHECK(xs_backend_begin(b, i, &q[i], &e) == XS_OK);
    }
    int before = g.launches;
    CHECK(xs_backend_poll(b, 0));
    CHECK_MSG(g.launches == before + 1, "the waiting partial group was not launched (%d launches)", g.launches - before);
    for (int i = 0; i < 6; ++i) {
        memset(&c, 0, sizeof c);
        CHECK(xs_backend_end(b, i, buf, &c, &kernel, &e) == XS_OK && pixels_ok(&q[i], buf));
    }
    xs_backend_destroy(b);
    xs_scene_destroy(s);
    CHECK(g.used == 0);
    fake_cuda_reset();
}

static void launch_failure(void)
{
    fake_gpu g = {.devices = 1};
    const xs_cuda_rt *rt = fake_cuda_rt(&g);
    xs_scene *s = cornell();
    xs_backend *b = NULL;
    xs_err e;
    xs_err_clear(&e);
    CHECK(xs_backend_cuda_create_rt(rt, s, 256, 256, 0, 4, 16 * 16, 16, &b, &e) == XS_OK);
    /* a group as large as the slots: 4 */
    CHECK(b->group == 4);
    g.fail_launch = FAKE_INVALID_VALUE;
    xs_tile_params tp[4];
    xs_result r[4];
    for (int i = 0; i < 4; ++i) {
        tp[i] = tile(16 * i, 0, 16, 16, 16, 1);
        r[i] = xs_backend_begin(b, i, &tp[i], &e);
    }
    CHECK(r[0] == XS_OK && r[1] == XS_OK && r[2] == XS_OK && r[3] == XS_ERR_RENDER);
    double k = 0.0;
    xs_counters c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < 3; ++i) {
        CHECK(xs_backend_poll(b, i));
        CHECK(xs_backend_end(b, i, buf, &c, &k, &e) == XS_ERR_RENDER);
        CHECK(strstr(e.msg, "launching") != NULL);
    }
    CHECK(!b->lost);
    for (int i = 0; i < 4; ++i)
        CHECK(xs_backend_begin(b, i, &tp[i], &e) == XS_OK);
    for (int i = 0; i < 4; ++i)
        CHECK(xs_backend_end(b, i, buf, &c, &k, &e) == XS_OK && pixels_ok(&tp[i], buf));
    xs_backend_destroy(b);
    xs_scene_destroy(s);
    fake_cuda_reset();
}

static void probe(void)
{
    char dir[] = "/tmp/xs-devXXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char node[64];
    snprintf(node, sizeof node, "%s/nvidiactl", dir);
    FILE *f = fopen(node, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    unsetenv("CUDA_VISIBLE_DEVICES");
    xs_gpu_probe p;
    /* a driver too old for the runtime, no GPU nodes (nvidiactl alone is none) */
    fake_gpu g = {.count_error = FAKE_INSUFFICIENT_DRIVER};
    const xs_cuda_rt *rt = fake_cuda_rt(&g);
    xs_gpu_probe_run(rt, dir, &p);
    CHECK(p.state == XS_GPU_NONE && p.nodes == 0);
    /* the same with a GPU's node: broken, loudly */
    snprintf(node, sizeof node, "%s/nvidia0", dir);
    f = fopen(node, "w");
    if (f)
        fclose(f);
    xs_gpu_probe_run(rt, dir, &p);
    printf("broken: %s\n", p.why);
    CHECK(p.state == XS_GPU_BROKEN && p.nodes == 1);
    CHECK(strstr(p.why, "driver version is insufficient") && strstr(p.why, "device node"));
    CHECK(g.last_error == 0); /* the probe leaves no error behind */
    /* a working device */
    fake_gpu g2 = {.devices = 2};
    rt = fake_cuda_rt(&g2);
    xs_gpu_probe_run(rt, dir, &p);
    CHECK(p.state == XS_GPU_READY && p.count == 2);
    /* no device: hidden on purpose, or broken */
    fake_gpu g3 = {.devices = 0};
    rt = fake_cuda_rt(&g3);
    xs_gpu_probe_run(rt, dir, &p);
    CHECK(p.state == XS_GPU_BROKEN);
    setenv("CUDA_VISIBLE_DEVICES", "", 1);
    xs_gpu_probe_run(rt, dir, &p);
    CHECK(p.state == XS_GPU_NONE);
    CHECK(strstr(p.why, "CUDA_VISIBLE_DEVICES") != NULL);
    unsetenv("CUDA_VISIBLE_DEVICES");
    /* a build without CUDA */
    xs_gpu_probe_run(NULL, dir, &p);
    CHECK(p.state == XS_GPU_BROKEN && strstr(p.why, "built without CUDA"));
    unlink(node);
    xs_gpu_probe_run(NULL, dir, &p);
    CHECK(p.state == XS_GPU_NONE);
    snprintf(node, sizeof node, "%s/nvidiactl", dir);
    unlink(node);
    rmdir(dir);
    /* the decision alone */
    CHECK(xs_gpu_probe_classify(0, 1, XS_CUDA_ERR_NONE, false, NULL) == XS_GPU_READY);
    CHECK(xs_gpu_probe_classify(0, 0, XS_CUDA_ERR_NODEV, false, NULL) == XS_GPU_NONE);
    CHECK(xs_gpu_probe_classify(2, 0, XS_CUDA_ERR_NODEV, false, NULL) == XS_GPU_BROKEN);
    CHECK(xs_gpu_probe_classify(2, 0, XS_CUDA_ERR_NODEV, true, "") == XS_GPU_NONE);
    CHECK(xs_gpu_probe_classify(2, 0, XS_CUDA_ERR_NODEV, true, NULL) == XS_GPU_BROKEN);
    CHECK(xs_gpu_probe_classify(2, 0, XS_CUDA_ERR_CALL, false, "0") == XS_GPU_BROKEN);
    fake_cuda_reset();
}

static void create_fails_cleanly(void)
{
    fake_gpu g = {.devices = 1, .memory = 4096};
    const xs_cuda_rt *rt = fake_cuda_rt(&g);
    xs_scene *s = cornell();
    xs_backend *b = NULL;
    xs_err e;
    xs_err_clear(&e);
    xs_result r = xs_backend_cuda_create_rt(rt, s, 256, 256, 0, 0, 64 * 64, 16, &b, &e);
    printf("create: %s\n", e.msg);
    /* refused before any upload, with the numbers */
    CHECK(r == XS_ERR_NOMEM && b == NULL);
    CHECK(strstr(e.msg, "cannot hold the scene") && strstr(e.msg, "4.0 KiB free"));
    CHECK(g.used == 0);
    /* where the free memory cannot be read, the upload itself fails by name */
    g.mem_info_error = FAKE_INVALID_VALUE;
    r = xs_backend_cuda_create_rt(rt, s, 256, 256, 0, 0, 64 * 64, 16, &b, &e);
    printf("create: %s\n", e.msg);
    CHECK(r == XS_ERR_RENDER && b == NULL);
    CHECK(strstr(e.msg, "uploading the scene's") && strstr(e.msg, "out of memory"));
    CHECK(g.used == 0);
    fake_gpu none = {.count_error = FAKE_INSUFFICIENT_DRIVER};
    rt = fake_cuda_rt(&none);
    CHECK(xs_backend_cuda_create_rt(rt, s, 256, 256, 0, 0, 64 * 64, 16, &b, &e) == XS_ERR_INVALID);
    CHECK(strstr(e.msg, "no CUDA device 0") && strstr(e.msg, "insufficient"));
    CHECK(xs_backend_cuda_create_rt(NULL, s, 256, 256, 0, 0, 64 * 64, 16, &b, &e) == XS_ERR_INVALID);
    CHECK(strstr(e.msg, "built without CUDA") != NULL);
    xs_scene_destroy(s);
    fake_cuda_reset();
}

/* The textured scene of tests/tex_scene.h held whole and paged: its page
 * store written beside the test, the paged scene reading it through a node
 * cache of cache_pages pages. */
typedef struct tex_fixture {
    xs_gltf_scene gl;
    char path[4096];
    xs_texstore *st;
    xs_scene *whole, *paged;
    void *mem;
    xs_texcache *cache;
} tex_fixture;

static void tex_fixture_open(tex_fixture *f, const char *name, int cache_pages)
{
    memset(f, 0, sizeof *f);
    tex_gltf(&f->gl);
    const char *d = getenv("XS_TEST_TMP");
    snprintf(f->path, sizeof f->path, "%s/cuda-host-%s-%d.tar.zst", d ? d : "/tmp", name, (int)getpid());
    xs_err e;
    CHECK_MSG(tex_store_write(&f->gl, f->path, &e) == XS_OK, "%s", e.msg);
    CHECK_MSG(xs_texstore_open(f->path, &f->st, &e) == XS_OK, "%s", e.msg);
    CHECK_MSG(tex_scene_build(&f->gl, NULL, &f->whole, &e) == XS_OK, "%s", e.msg);
    CHECK_MSG(tex_scene_build(&f->gl, f->st, &f->paged, &e) == XS_OK, "%s", e.msg);
    size_t cbytes = xs_texcache_bytes(f->st->page_count, cache_pages);
    f->mem = aligned_alloc(64, (cbytes + 63) & ~(size_t)63);
    CHECK_MSG(xs_texcache_create(f->mem, cbytes, true, cache_pages, f->st, &f->cache, &e) == XS_OK, "%s", e.msg);
    xs_scene_attach_texcache(f->paged, f->cache);
}

static void tex_fixture_close(tex_fixture *f)
{
    xs_scene_destroy(f->whole), xs_scene_destroy(f->paged);
    xs_texcache_destroy(f->cache);
    free(f->mem);
    xs_texstore_close(f->st);
    unlink(f->path);
    tex_gltf_free(&f->gl);
}

/* The tile the texture tests render: 32x24 at (8, 4) of a 64x48 frame, 8
 * spp, the albedo AOV (n: its floats). */
static xs_tile_params tex_tile(size_t *n)
{
    xs_tile_params tp = xs_tile_params_frame(64, 48, 8, 3);
    tp.x0 = 8, tp.y0 = 4, tp.width = 32, tp.height = 24;
    tp.aovs = XS_AOV_ALBEDO;
    *n = (size_t)tp.width * (size_t)tp.height * (size_t)xs_aov_channels(tp.aovs);
    return tp;
}

static float *tex_render_cpu(xs_scene *sc, const xs_tile_params *tp)
{
    xs_backend *b = NULL;
    xs_err e;
    CHECK(xs_backend_cpu_create(sc, tp->frame_width, tp->frame_height, 1, &b, &e) == XS_OK);
    float *out = calloc((size_t)tp->width * (size_t)tp->height * (size_t)xs_aov_channels(tp->aovs), sizeof *out);
    xs_counters c;
    memset(&c, 0, sizeof c);
    CHECK(xs_backend_render_tile(b, tp, out, &c, &e) == XS_OK);
    xs_backend_destroy(b);
    return out;
}

/* Renders tp on the fake device; XS_OK and the pixels in out, or the
 * error in e. *launches: the fake's launches it took. */
static xs_result tex_render_fake(xs_scene *sc, const xs_tile_params *tp, uint64_t budget, float *out, int *launches,
                                 xs_err *e)
{
    fake_gpu g = {.devices = 1, .run_kernels = true};
    const xs_cuda_rt *rt = fake_cuda_rt(&g);
    xs_scene_set_gpu_texture_budget(sc, budget);
    xs_backend *b = NULL;
    xs_result r = xs_backend_cuda_create_rt(rt, sc, tp->frame_width, tp->frame_height, 0, 1,
                                            tp->width * tp->height, tp->spp, &b, e);
    xs_counters c;
    memset(&c, 0, sizeof c);
    if (r == XS_OK)
        r = xs_backend_render_tile(b, tp, out, &c, e);
    CHECK(g.view_faults == 0);
    *launches = g.launches;
    xs_backend_destroy(b);
    CHECK(g.used == 0); /* everything freed */
    fake_cuda_reset();
    return r;
}

static void texture_pages(void)
{
    tex_fixture f;
    tex_fixture_open(&f, "pages", 16);
    xs_err e;
    xs_scene *whole = f.whole, *paged = f.paged;
    size_t n = 0;
    xs_tile_params tp = tex_tile(&n);
    float *ref = tex_render_cpu(whole, &tp);
    float *out = calloc(n, sizeof *out);
    const uint64_t page = XS_TEX_PAGE_TEXELS * 4u;
    int launches = 0, fits = 0;
    const uint64_t budgets[3] = {16 * page, 48 * page, 0};
    for (int k = 0; k < 3; ++k) {
        memset(out, 0, n * sizeof *out);
        xs_result r = tex_render_fake(paged, &tp, budgets[k], out, &launches, &e);
        if (r != XS_OK) { /* only a budget too small for one launch may fail, and says so */
            CHECK_MSG(k == 0 && r == XS_ERR_RENDER && strstr(e.msg, "--gpu-texture-mib"), "budget %d: %s", k, e.msg);
            continue;
        }
        fits++;
        CHECK_MSG(memcmp(out, ref, n * sizeof *out) == 0, "budget %d: the GPU's tile differs from the CPU's", k);
        CHECK_MSG(launches >= 2, "budget %d: %d launch(es): the first must miss pages", k, launches);
        printf("texture_pages: budget %d: identical after %d launches\n", k, launches);
    }
    CHECK(fits >= 2);
    memset(out, 0, n * sizeof *out);
    /* held whole, over a texture budget too small for its texture objects:
     * every page uploaded, no pass again (within the budget the textures
     * are texture objects, which a host running the kernels cannot read:
     * the test textures covers those) */
    CHECK(tex_render_fake(whole, &tp, 16, out, &launches, &e) == XS_OK);
    CHECK(memcmp(out, ref, n * sizeof *out) == 0 && launches == 1);
    /* a device that cannot hold the scene */
    fake_gpu small = {.devices = 1, .memory = 4096};
    const xs_cuda_rt *rt = fake_cuda_rt(&small);
    xs_backend *b = NULL;
    CHECK(xs_backend_cuda_create_rt(rt, whole, 64, 48, 0, 1, 32 * 24, 8, &b, &e) == XS_ERR_NOMEM);
    CHECK_MSG(strstr(e.msg, "cannot hold the scene") && strstr(e.msg, "free of"), "%s", e.msg);
    CHECK(small.used == 0);
    fake_cuda_reset();
    free(ref), free(out);
    tex_fixture_close(&f);
}

/* Two launches in flight that miss the same page: the first sets the page's
 * request bit; the second finds it set and must still run again once the
 * page is loaded (a launch that reads a missing page always asks), or its
 * tile keeps texel 0 where the page is. Found by review: every other test
 * ran one launch at a time. */
static void texture_pages_two_in_flight(void)
{
    tex_fixture f;
    tex_fixture_open(&f, "two", 16);
    xs_err e;
    xs_scene *whole = f.whole, *paged = f.paged;
    size_t n = 0;
    xs_tile_params tp = tex_tile(&n);
    float *ref = tex_render_cpu(whole, &tp);
    fake_gpu g = {.devices = 1, .run_kernels = true};
    const xs_cuda_rt *rt = fake_cuda_rt(&g);
    xs_scene_set_gpu_texture_budget(paged, 48 * XS_TEX_PAGE_TEXELS * 4u);
    xs_backend *b = NULL;
    CHECK_MSG(xs_backend_cuda_create_rt(rt, paged, 64, 48, 0, 2, tp.width * tp.height, tp.spp, &b, &e) == XS_OK,
              "%s", e.msg);
    float *o0 = calloc(n, sizeof *o0), *o1 = calloc(n, sizeof *o1);
    xs_counters c;
    memset(&c, 0, sizeof c);
    double k = 0;
    CHECK(xs_backend_begin(b, 0, &tp, &e) == XS_OK);
    xs_backend_poll(b, 0);
    CHECK(xs_backend_begin(b, 1, &tp, &e) == XS_OK);
    xs_backend_poll(b, 1);
    CHECK_MSG(xs_backend_end(b, 0, o0, &c, &k, &e) == XS_OK, "%s", e.msg);
    CHECK_MSG(xs_backend_end(b, 1, o1, &c, &k, &e) == XS_OK, "%s", e.msg);
    CHECK_MSG(memcmp(o0, ref, n * sizeof *o0) == 0, "the first launch's tile differs from the CPU's");
    CHECK_MSG(memcmp(o1, ref, n * sizeof *o1) == 0, "the second launch's tile differs from the CPU's");
    xs_backend_destroy(b);
    fake_cuda_reset();
    free(ref), free(o0), free(o1);
    tex_fixture_close(&f);
}

static void wave(void)
{
    fake_gpu g = {.devices = 1, .sm_count = 4, .resident_blocks = 2};
    const xs_cuda_rt *rt = fake_cuda_rt(&g);
    xs_scene *s = cornell();
    xs_backend *b = NULL;
    xs_err e;
    xs_err_clear(&e);
    CHECK_MSG(xs_backend_cuda_create_rt(rt, s, 256, 256, 0, 0, 32 * 32, 64, &b, &e) == XS_OK, "%s", e.msg);
    xs_counters c;
    memset(&c, 0, sizeof c);
    xs_tile_params tp = tile(32, 32, 32, 32, 64, 1);
    CHECK(xs_backend_render_tile(b, &tp, buf, &c, &e) == XS_OK && pixels_ok(&tp, buf));
    /* 16 x 4 SMs x 2 blocks x 128 threads */
    CHECK_MSG(g.wavefront_launches == 1 && g.max_wave == 16 * 4 * 2 * 128, "%d launches, waves of %lld",
              g.wavefront_launches, g.max_wave);
    CHECK(g.view_faults == 0);
    xs_backend_destroy(b);
    /* the megakernel reference */
    CHECK(xs_backend_cuda_create_rt(rt, s, 256, 256, 0, 0, 32 * 32, 64, &b, &e) == XS_OK);
    xs_backend_cuda_set_integrator(b, XS_CUDA_MEGAKERNEL);
    CHECK(xs_backend_render_tile(b, &tp, buf, &c, &e) == XS_OK && pixels_ok(&tp, buf));
    CHECK(g.megakernel_launches == 1 && g.wavefront_launches == 1 && g.view_faults == 0);
    xs_backend_destroy(b);
    /* a small device: the wave takes at most a quarter of it */
    fake_gpu small = {.devices = 1, .memory = 8u << 20};
    rt = fake_cuda_rt(&small);
    CHECK(xs_backend_cuda_create_rt(rt, s, 256, 256, 0, 0, 32 * 32, 64, &b, &e) == XS_OK);
    CHECK(xs_backend_render_tile(b, &tp, buf, &c, &e) == XS_OK && pixels_ok(&tp, buf));
    CHECK_MSG(small.max_wave > 0 && small.max_wave * 256 <= (2 << 20) && small.max_wave % 16 == 0,
              "waves of %lld paths on an 8 MB device", small.max_wave);
    xs_backend_destroy(b);
    CHECK(small.used == 0 && g.used == 0);
    xs_scene_destroy(s);
    fake_cuda_reset();
}

/* A quad with a 4x2 base-colour texture, built as the glTF loader would
 * hand it over. */
static xs_scene *textured(void)
{
    static float pos[12] = {-1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 1, 0};
    static float uv[8] = {0, 1, 1, 1, 1, 0, 0, 0};
    static uint32_t idx[6] = {0, 1, 2, 0, 2, 3};
    static unsigned char px[4 * 2 * 4];
    for (int i = 0; i < 8; ++i)
        px[4 * i] = (unsigned char)(30 * i), px[4 * i + 1] = 200, px[4 * i + 2] = 50, px[4 * i + 3] = 255;
    xs_gltf_primitive prim = {.vertex_count = 4, .tri_count = 2, .positions = pos, .uv0 = uv, .indices = idx,
                              .material = 0};
    xs_gltf_mesh mesh = {.prims = &prim, .prim_count = 1};
    xs_gltf_instance inst = {.mesh = 0, .node = 0, .xform = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}};
    xs_gltf_material mat;
    memset(&mat, 0, sizeof mat);
    mat.base_color[0] = mat.base_color[1] = mat.base_color[2] = mat.base_color[3] = 1.0f;
    mat.base_color_tex.texture = 0;
    mat.base_color_tex.tscale[0] = mat.base_color_tex.tscale[1] = 1.0f;
    mat.metallic_roughness_tex.texture = mat.normal_tex.texture = mat.occlusion_tex.texture = -1;
    mat.emissive_tex.texture = mat.transmission_tex.texture = -1;
    mat.roughness = 1.0f, mat.ior = 1.5f, mat.emissive_strength = 1.0f;
    mat.attenuation_color[0] = mat.attenuation_color[1] = mat.attenuation_color[2] = 1.0f;
    xs_gltf_texture tex = {.image = 0, .wrap_s = XS_WRAP_REPEAT, .wrap_t = XS_WRAP_MIRROR};
    xs_image8 img = {.width = 4, .height = 2, .rgba8 = px};
    xs_gltf_scene g = {.meshes = &mesh, .mesh_count = 1, .instances = &inst, .instance_count = 1,
                       .materials = &mat, .material_count = 1, .textures = &tex, .texture_count = 1,
                       .images = &img, .image_count = 1};
    xs_scene_setup su;
    memset(&su, 0, sizeof su);
    su.name = "textured";
    su.cam_mode = XS_CAM_OVERRIDE;
    su.cam_pos[2] = 3.0f, su.cam_up[1] = 1.0f, su.cam_yfov_deg = 40.0f;
    su.env_color[0] = su.env_color[1] = su.env_color[2] = 1.0f, su.env_strength = 1.0f;
    xs_scene *s = NULL;
    xs_err e;
    CHECK_MSG(xs_scene_from_gltf(&g, &su, &s, &e) == XS_OK, "%s", e.msg);
    CHECK(xs_scene_texture_count(s) == 1);
    return s;
}

static void textures(void)
{
    fake_gpu g = {.devices = 1};
    const xs_cuda_rt *rt = fake_cuda_rt(&g);
    xs_scene *s = textured();
    xs_backend *b = NULL;
    xs_err e;
    xs_err_clear(&e);
    CHECK_MSG(xs_backend_cuda_create_rt(rt, s, 64, 64, 0, 0, 32 * 32, 16, &b, &e) == XS_OK, "%s", e.msg);
    CHECK(g.texture_objects == 2 && g.textures_live == 1);
    xs_counters c;
    memset(&c, 0, sizeof c);
    xs_tile_params tp = tile(0, 0, 32, 32, 16, 1);
    tp.frame_width = tp.frame_height = 64;
    CHECK(xs_backend_render_tile(b, &tp, buf, &c, &e) == XS_OK && pixels_ok(&tp, buf));
    CHECK_MSG(g.view_faults == 0, "a launch met a host pointer (the texture objects' handles?)");
    xs_backend_destroy(b);
    CHECK(g.textures_live == 0 && g.used == 0);
    /* too little memory for the texture (4x2, 3 levels: 44 bytes) after the
     * scene's arrays: some size between what the arrays need and more (the
     * free memory unreadable, so no refusal comes before the uploads) */
    bool named = false;
    for (size_t mem = 4096; mem < 65536 && !named; mem += 4) {
        fake_gpu t = {.devices = 1, .memory = mem, .mem_info_error = FAKE_INVALID_VALUE};
        rt = fake_cuda_rt(&t);
        xs_result r = xs_backend_cuda_create_rt(rt, s, 64, 64, 0, 0, 32 * 32, 16, &b, &e);
        CHECK(t.textures_live == 0 || r == XS_OK);
        if (r == XS_OK) {
            xs_backend_destroy(b);
            CHECK(t.used == 0 && t.textures_live == 0);
            continue;
        }
        CHECK(t.used == 0);
        if (strstr(e.msg, "texture")) {
            printf("texture: %s\n", e.msg);
            CHECK(strstr(e.msg, "uploading texture 1 of 1 (4x2, 3 levels)") && strstr(e.msg, "out of memory"));
            named = true;
        }
    }
    CHECK_MSG(named, "no device size made the texture upload fail");
    xs_scene_destroy(s);
}

/* Node 0: a triangle whose morph target's weight goes 0 -> 1 over a
 * second; node 1: a triangle that moves 3 units along x. */
static xs_scene *animated_scene(void)
{
    gltf_b *b = calloc(1, sizeof *b);
    float p[9] = {0, 0, 0, 1, 0, 0, 0, 1, 0}, d[9] = {0, 0, 0.5f, 0, 0, 0.5f, 0.5f, 0.5f, 0};
    float t[2] = {0, 1}, w[2] = {0, 1}, x[6] = {2, 0, 0, 5, 0, 0};
    int pa = gb_f(b, p, 3, 3), da = gb_f(b, d, 3, 3), pb = gb_f(b, p, 3, 3);
    int ta = gb_f(b, t, 2, 1), wa = gb_f(b, w, 2, 1), xa = gb_f(b, x, 2, 3);
    char *doc = gb_doc(b,
                       "\"scenes\":[{\"nodes\":[0,1]}],\"nodes\":[{\"mesh\":0},{\"mesh\":1}],"
                       "\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":%d},\"targets\":[{\"POSITION\":%d}]}],"
                       "\"weights\":[0]},{\"primitives\":[{\"attributes\":{\"POSITION\":%d}}]}],"
                       "\"animations\":[{\"samplers\":[{\"input\":%d,\"output\":%d},{\"input\":%d,\"output\":%d}],"
                       "\"channels\":[{\"sampler\":0,\"target\":{\"node\":0,\"path\":\"weights\"}},"
                       "{\"sampler\":1,\"target\":{\"node\":1,\"path\":\"translation\"}}]}]",
                       pa, da, pb, ta, wa, ta, xa);
    xs_err e;
    xs_gltf_scene *g = NULL;
    CHECK_MSG(xs_gltf_load("anim.gltf", (const unsigned char *)doc, strlen(doc), NULL, NULL, NULL, &g, &e) == XS_OK,
              "%s", e.msg);
    xs_scene *s = NULL;
    if (g) {
        xs_scene_setup su;
        memset(&su, 0, sizeof su);
        su.name = "anim";
        su.cam_mode = XS_CAM_OVERRIDE;
        su.cam_pos[2] = 10.0f;
        su.cam_up[1] = 1.0f;
        su.cam_yfov_deg = 30.0f;
        su.env_strength = 1.0f;
        su.build.threads = 1;
        CHECK_MSG(xs_scene_from_gltf(g, &su, &s, &e) == XS_OK, "%s", e.msg);
    }
    xs_gltf_destroy(g);
    free(doc);
    free(b);
    return s;
}

/* Every array the last launch saw holds the host scene's bytes. */
static void device_matches_host(const fake_gpu *g, const xs_scene *s, int frame)
{
    xs_scene_view v = xs_scene_view_for(s, 256, 256);
    xs_scene_blob bl[XS_SCENE_BLOBS_MAX];
    int n = xs_scene_blobs(s, &v, bl, XS_SCENE_BLOBS_MAX);
    CHECK(n > 0);
    for (int i = 0; i < n; ++i) {
        const void *d = NULL;
        memcpy(&d, (const char *)&g->view + bl[i].view_offset, sizeof d);
        CHECK_MSG(d != NULL && d != bl[i].host && memcmp(d, bl[i].host, bl[i].bytes) == 0,
                  "frame %d: the device's %s (%zu bytes) is not the host's", frame, bl[i].name, bl[i].bytes);
    }
    CHECK(g->view.tri_count == v.tri_count && g->view.wnode_count == v.wnode_count && g->view.wroot == v.wroot &&
          g->view.motion_steps == v.motion_steps && g->view.camera_motion == v.camera_motion);
    CHECK(g->view_faults == 0);
}

static void update_dirty_ranges(void)
{
    xs_scene *s = animated_scene();
    if (!s)
        return;
    CHECK(xs_scene_animated(s));
    fake_gpu g = {.devices = 1};
    const xs_cuda_rt *rt = fake_cuda_rt(&g);
    xs_backend *b = NULL;
    xs_err e;
    xs_err_clear(&e);
    CHECK_MSG(xs_backend_cuda_create_rt(rt, s, 256, 256, 0, 2, 32 * 32, 16, &b, &e) == XS_OK, "%s", e.msg);
    xs_scene_view v0 = xs_scene_view_for(s, 256, 256);
    xs_scene_blob bl[XS_SCENE_BLOBS_MAX];
    int n = xs_scene_blobs(s, &v0, bl, XS_SCENE_BLOBS_MAX);
    size_t total = 0;
    for (int i = 0; i < n; ++i)
        total += bl[i].bytes;
    xs_counters c;
    memset(&c, 0, sizeof c);
    const int frames[] = {12, 18, 3, 18};
    const float shutters[] = {0.0f, 0.0f, 0.5f, 0.5f};
    for (int k = 0; k < 4; ++k) {
        xs_scene_timing tm = {24.0, 0.0, shutters[k], 3};
        CHECK(xs_scene_set_frame(s, &tm, frames[k], NULL, &e) == XS_OK);
        size_t before = g.h2d_bytes;
        CHECK_MSG(xs_backend_update(b, s, &e) == XS_OK, "%s", e.msg);
        xs_scene_blobs_taken(s);
        size_t copied = g.h2d_bytes - before;
        printf("frame %d, shutter %.1f: %zu of %zu scene bytes copied\n", frames[k], (double)shutters[k], copied,
               total);
        CHECK(copied > 0);
        if (k < 2)
            CHECK_MSG(copied < total / 4, "frame %d: %zu of %zu bytes copied: not only what changed", frames[k],
                      copied, total);
        xs_tile_params tp = tile(0, 0, 32, 32, 4, (uint32_t)frames[k]);
        CHECK_MSG(xs_backend_render_tile(b, &tp, buf, &c, &e) == XS_OK, "%s", e.msg);
        device_matches_host(&g, s, frames[k]);
    }
    /* a tile in flight: the scene must hold still */
    xs_tile_params tp = tile(0, 0, 32, 32, 4, 5);
    CHECK(xs_backend_begin(b, 0, &tp, &e) == XS_OK);
    xs_result r = xs_backend_update(b, s, &e);
    CHECK_MSG(r == XS_ERR_INTERNAL && strstr(e.msg, "in flight"), "update with a tile in flight: %d %s", (int)r,
              e.msg);
    double k = 0.0;
    CHECK(xs_backend_end(b, 0, buf, &c, &k, &e) == XS_OK);
    xs_backend_lose(b, "lost for the test");
    CHECK(xs_backend_update(b, s, &e) == XS_ERR_DEVICE);
    xs_backend_destroy(b);
    xs_scene_destroy(s);
    CHECK(g.used == 0);
    fake_cuda_reset();
}

/* Renders one tile of sc on the fake device g (no kernels run: fake
 * pixels) with GPU texture budget `budget`; g keeps the last launch's view. */
static void objects_render(fake_gpu *g, xs_scene *sc, uint64_t budget, int *live, unsigned long long handles[4])
{
    const xs_cuda_rt *rt = fake_cuda_rt(g);
    xs_scene_set_gpu_texture_budget(sc, budget);
    xs_backend *b = NULL;
    xs_err e;
    CHECK_MSG(xs_backend_cuda_create_rt(rt, sc, 64, 48, 0, 1, 32 * 24, 8, &b, &e) == XS_OK, "%s", e.msg);
    *live = g->textures_live;
    xs_tile_params tp = xs_tile_params_frame(64, 48, 8, 3);
    tp.width = 32, tp.height = 24;
    xs_counters c;
    memset(&c, 0, sizeof c);
    CHECK(xs_backend_render_tile(b, &tp, buf, &c, &e) == XS_OK && pixels_ok(&tp, buf));
    CHECK(g->view_faults == 0);
    for (int k = 0; k < 4; ++k) /* the handles' device array (the fake's is host memory) */
        handles[k] = g->view.tex_objects ? g->view.tex_objects[k] : 0;
    xs_backend_destroy(b);
    CHECK(g->used == 0 && g->textures_live == 0);
}

static void texture_objects_budget(void)
{
    tex_fixture f;
    tex_fixture_open(&f, "objects", 16);
    xs_err e;
    xs_scene *whole = f.whole, *paged = f.paged;
    int live = -1;
    unsigned long long h[4];
    /* held whole, no budget: two texture objects, no page uploaded */
    fake_gpu g1 = {.devices = 1};
    objects_render(&g1, whole, 0, &live, h);
    CHECK(live == 2 && g1.texture_objects == 4);
    CHECK(g1.view.tex_objects && !g1.view.tex_pool && !g1.view.tex_page);
    fake_cuda_reset();
    /* held whole, a budget under its levels: its pages, no texture object */
    fake_gpu g2 = {.devices = 1};
    objects_render(&g2, whole, 4096, &live, h);
    CHECK(live == 0 && !g2.view.tex_objects && g2.view.tex_pool && g2.view.tex_page);
    fake_cuda_reset();
    /* paged, no budget: both textures objects (their levels read through
     * the node's page cache), no page table */
    fake_gpu g3 = {.devices = 1};
    objects_render(&g3, paged, 0, &live, h);
    CHECK(live == 2 && g3.view.tex_objects && !g3.view.tex_page && !g3.view.tex_request);
    fake_cuda_reset();
    /* paged, a budget for the first texture's levels (300x200: 319,840
     * bytes) and 16 pages but not the second's: one object, the other
     * texture's pages on demand */
    fake_gpu g4 = {.devices = 1};
    objects_render(&g4, paged, 600000, &live, h);
    CHECK(live == 1 && g4.view.tex_objects && g4.view.tex_page && g4.view.tex_request);
    CHECK(h[0] && h[1] && h[0] != h[1] && h[2] == 0 && h[3] == 0); /* texture 1: 0, read from its pages */
    fake_cuda_reset();
    /* held whole with a texture no material reads (never decoded, no
     * levels): the others are still all texture objects, no page uploaded */
    f.gl.materials[0].metallic_roughness_tex.texture = -1;
    free(f.gl.images[1].rgba8); /* as the loader leaves an image no material reads */
    f.gl.images[1].rgba8 = NULL;
    xs_scene *unused = NULL;
    CHECK(tex_scene_build(&f.gl, NULL, &unused, &e) == XS_OK);
    fake_gpu g5 = {.devices = 1};
    objects_render(&g5, unused, 0, &live, h);
    CHECK_MSG(live == 1 && g5.view.tex_objects && !g5.view.tex_pool && !g5.view.tex_page,
              "an unused texture: %d object(s), pool %s", live, g5.view.tex_pool ? "uploaded" : "not uploaded");
    CHECK(h[0] && h[1] && h[2] == 0 && h[3] == 0);
    fake_cuda_reset();
    xs_scene_destroy(unused);
    /* held whole with a texture wider than a CUDA mipmapped array holds
     * (32769 texels: 16 levels, within XS_TEX_LEVELS): read from its pages,
     * so (all or none) no texture object at all */
    xs_gltf_scene wide;
    tex_gltf(&wide);
    free(wide.images[0].rgba8);
    tex_image(&wide.images[0], 32769, 2, 1);
    xs_scene *wsc = NULL;
    CHECK(tex_scene_build(&wide, NULL, &wsc, &e) == XS_OK);
    fake_gpu g6 = {.devices = 1};
    objects_render(&g6, wsc, 0, &live, h);
    CHECK_MSG(live == 0 && !g6.view.tex_objects && g6.view.tex_pool && g6.view.tex_page,
              "a 32769-texel texture: %d object(s)", live);
    fake_cuda_reset();
    xs_scene_destroy(wsc);
    tex_gltf_free(&wide);
    tex_fixture_close(&f);
}


/* A paged scene's back end updated between tiles (as a frame change does):
 * the device keeps its page table, pool and request bitmaps, never the
 * host's page cache, and renders the same pixels after the update. */
static void texture_pages_update(void)
{
    tex_fixture f;
    tex_fixture_open(&f, "pages-update", 64);
    xs_err e;
    xs_scene *whole = f.whole, *paged = f.paged;
    size_t n = 0;
    xs_tile_params tp = tex_tile(&n);
    float *ref = tex_render_cpu(whole, &tp);
    float *out = calloc(n, sizeof *out);
    fake_gpu g = {.devices = 1, .run_kernels = true};
    const xs_cuda_rt *rt = fake_cuda_rt(&g);
    xs_scene_set_gpu_texture_budget(paged, 48 * XS_TEX_PAGE_TEXELS * 4u);
    xs_backend *b = NULL;
    CHECK_MSG(xs_backend_cuda_create_rt(rt, paged, 64, 48, 0, 1, 32 * 24, 8, &b, &e) == XS_OK, "%s", e.msg);
    xs_counters c;
    memset(&c, 0, sizeof c);
    for (int k = 0; b && k < 2; ++k) {
        if (k == 1)
            CHECK_MSG(xs_backend_update(b, paged, &e) == XS_OK, "%s", e.msg);
        memset(out, 0, n * sizeof *out);
        CHECK_MSG(xs_backend_render_tile(b, &tp, out, &c, &e) == XS_OK, "%s", e.msg);
        CHECK_MSG(memcmp(out, ref, n * sizeof *out) == 0, "%s the update: the GPU's tile differs from the CPU's",
                  k ? "after" : "before");
        CHECK_MSG(g.view_faults == 0, "%s the update: the device view holds host pointers", k ? "after" : "before");
    }
    xs_backend_destroy(b);
    CHECK(g.used == 0);
    fake_cuda_reset();
    free(ref), free(out);
    tex_fixture_close(&f);
}

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"oom_then_healthy", oom_then_healthy},
        {"stale_error_cleared", stale_error_cleared},
        {"sticky_retires", sticky_retires},
        {"empty_arrays_null", empty_arrays_null},
        {"groups", groups},
        {"launch_failure", launch_failure},
        {"probe", probe},
        {"create_fails_cleanly", create_fails_cleanly},
        {"wave", wave},
        {"textures", textures},
        {"update_dirty_ranges", update_dirty_ranges},
        {"texture_pages", texture_pages},
        {"texture_pages_update", texture_pages_update},
        {"texture_objects_budget", texture_objects_budget},
        {"texture_pages_two_in_flight", texture_pages_two_in_flight},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
