/* Texture pages, the page store, the page cache, the scene's shared block
 * and the memory plan (label unit; also under ASan/UBSan).
 *
 * pyramid: levels down to 1 x 1, each texel the rounded mean of the 2 x 2
 *   below it (edges clamped), pages of every width cut row by row; for an
 *   image read as colour, the colour channels' mean in linear light (alpha
 *   still on the bytes).
 * store_roundtrip: every page of a written store reads back (alone, by
 *   offset) equal to the pyramid's page; images found by index.
 * store_hostile: a flipped byte in a page fails its read with a checksum
 *   message; a damaged index, a footer pointing past the file, a truncated
 *   file are refused at open with the file named.
 * cache_threads: 4 threads read every texel of every page in different
 *   orders through a cache of 16 slots (the set is 20 times more): every
 *   value is the page's, pages were evicted and loaded again.
 * cache_processes: 3 processes (fork) share one cache block (MAP_SHARED, as
 *   ranks share the node's MPI window), the first formats it, all read: every
 *   value right, the block's counters hold the loads of all three.
 * paged_equals_whole: the textured scene rendered on the CPU from its
 *   decoded images (held whole) and paged through caches of 16 slots and of
 *   every page: bit-identical tiles, AOVs included.
 * mip_level: a footprint of 2 texels reads level 1 exactly; 0 reads level 0.
 * scene_share: a scene written into a block and opened from it (at another
 *   address) renders the same tile, bit for bit, and frees nothing of it.
 * memplan: sizes parse with units; a node plan that exceeds the node's
 *   memory or a rank's budget does not fit and says which. */
#include "test_util.h"
#include "tex_scene.h"

#include <stdatomic.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kernels/xs_path.h"
#include "render/xs_backend.h"
#include "render/xs_memplan.h"
#include "render/xs_texcache.h"

static void tmp_path(char *out, size_t n, const char *name)
{
    const char *d = getenv("XS_TEST_TMP");
    snprintf(out, n, "%s/texpages-%d-%s", d ? d : "/tmp", (int)getpid(), name);
}

static void pyramid(void)
{
    xs_image8 im;
    tex_image(&im, 300, 200, 7);
    xs_texpage_pyramid p;
    xs_err e;
    CHECK(xs_texpage_pyramid_build(&im, false, &p, &e) == XS_OK);
    CHECK(p.levels == 9); /* 300x200 150x100 75x50 37x25 18x12 9x6 4x3 2x1 1x1 */
    CHECK(p.w[3] == 37 && p.h[3] == 25 && p.w[8] == 1 && p.h[8] == 1);
    CHECK(xs_texpage_levels(300, 200) == 9);
    /* a texel of level 1, and one at a clamped edge of level 3 (odd size) */
    const unsigned char *a = im.rgba8;
    uint32_t want = 0;
    for (int k = 0; k < 4; ++k) {
        unsigned s = (unsigned)a[(0 * 300 + 2) * 4 + k] + a[(0 * 300 + 3) * 4 + k] + a[(1 * 300 + 2) * 4 + k] +
                     a[(1 * 300 + 3) * 4 + k];
        want |= ((s + 2u) >> 2) << (8 * k);
    }
    CHECK(p.level[1][1] == want);
    /* level 8 (1 x 1) from level 7 (2 x 1): the missing row clamped to row 0 */
    const uint32_t *l7 = p.level[7];
    CHECK(p.w[7] == 2 && p.h[7] == 1);
    uint32_t edge = 0;
    for (int k = 0; k < 32; k += 8) {
        unsigned s = 2u * (((l7[0] >> k) & 255u) + ((l7[1] >> k) & 255u));
        edge |= ((s + 2u) >> 2) << k;
    }
    CHECK(p.level[8][0] == edge);
    /* pages: level 0 is 5 x 4 pages, the last column 300 - 256 = 44 wide */
    uint32_t lw, lh, nx, ny, pw, ph;
    xs_texpage_level(300, 200, 0, &lw, &lh, &nx, &ny);
    CHECK(nx == 5 && ny == 4);
    xs_texpage_page_size(lw, lh, 4, 3, &pw, &ph);
    CHECK(pw == 44 && ph == 8);
    uint32_t page[XS_TEXPAGE_TEXELS];
    CHECK(xs_texpage_extract(&p, 0, 4, 3, page) == 44 * 8);
    CHECK(page[1 * 44 + 3] == p.level[0][(192 + 1) * 300 + 256 + 3]);
    uint64_t total = 0;
    for (int l = 0; l < p.levels; ++l) {
        xs_texpage_level(300, 200, l, &lw, &lh, &nx, &ny);
        total += (uint64_t)nx * ny;
    }
    CHECK(xs_texpage_count(300, 200) == total);
    /* an image read as colour: its colour channels averaged in linear
     * light (issue 17's filter), alpha on the bytes */
    xs_texpage_pyramid q;
    CHECK(xs_texpage_pyramid_build(&im, true, &q, &e) == XS_OK);
    CHECK(q.levels == p.levels && q.level[0][5] == p.level[0][5]);
    float lin[256];
    xs_srgb_table(lin);
    int differs = 0;
    for (int i = 0; i < 150 * 100; ++i) {
        const int x = i % 150, y = i / 150;
        uint32_t lin_want = 0;
        for (int k = 0; k < 4; ++k) {
            const unsigned a0 = a[((2 * y) * 300 + 2 * x) * 4 + k], a1 = a[((2 * y) * 300 + 2 * x + 1) * 4 + k];
            const unsigned a2 = a[((2 * y + 1) * 300 + 2 * x) * 4 + k],
                           a3 = a[((2 * y + 1) * 300 + 2 * x + 1) * 4 + k];
            unsigned b;
            if (k < 3) {
                float v = 0.25f * (lin[a0] + lin[a1] + lin[a2] + lin[a3]);
                float enc = v <= 0.0031308f ? 12.92f * v : 1.055f * powf(v, 1.0f / 2.4f) - 0.055f;
                b = (unsigned)(enc * 255.0f + 0.5f);
            } else {
                b = (a0 + a1 + a2 + a3 + 2u) >> 2;
            }
            lin_want |= (b > 255u ? 255u : b) << (8 * k);
        }
        CHECK_MSG(q.level[1][i] == lin_want, "level 1 texel %d: %08x, want %08x", i, q.level[1][i], lin_want);
        differs += q.level[1][i] != p.level[1][i];
    }
    CHECK_MSG(differs > 0, "the colour pyramid equals the bytes' one");
    xs_texpage_pyramid_free(&q);
    xs_texpage_pyramid_free(&p);
    free(im.rgba8);
}

static xs_texstore *open_store(xs_gltf_scene *g, const char *name, char *path, size_t n)
{
    tmp_path(path, n, name);
    xs_err e;
    xs_result r = tex_store_write(g, path, &e);
    CHECK_MSG(r == XS_OK, "%s", e.msg);
    xs_texstore *s = NULL;
    r = xs_texstore_open(path, &s, &e);
    CHECK_MSG(r == XS_OK, "%s", e.msg);
    return s;
}

static void store_roundtrip(void)
{
    xs_gltf_scene g;
    tex_gltf(&g);
    char path[4096];
    xs_texstore *s = open_store(&g, "rt.tar.zst", path, sizeof path);
    CHECK(s && s->image_count == 2 && s->tar_bytes == 100);
    CHECK(s->page_count == xs_texpage_count(300, 200) + xs_texpage_count(64, 64));
    const xs_texstore_image *im = xs_texstore_find(s, 1);
    CHECK(im && im->width == 64 && im->first_page == xs_texpage_count(300, 200));
    CHECK(xs_texstore_find(s, 2) == NULL);
    bool has = false;
    uint64_t tar = 0, file = 0;
    xs_err e;
    CHECK(xs_texstore_probe(path, &has, &tar, &file, &e) == XS_OK && has && tar == 100);
    for (int i = 0; i < 2; ++i) {
        xs_texpage_pyramid p;
        CHECK(xs_texpage_pyramid_build(&g.images[i], xs_gltf_image_srgb(&g, i), &p, &e) == XS_OK);
        uint64_t page = xs_texstore_find(s, (uint32_t)i)->first_page;
        for (int l = 0; l < p.levels; ++l) {
            uint32_t lw, lh, nx, ny;
            xs_texpage_level(p.w[0], p.h[0], l, &lw, &lh, &nx, &ny);
            for (uint32_t py = 0; py < ny; ++py)
                for (uint32_t px = 0; px < nx; ++px, ++page) {
                    uint32_t want[XS_TEXPAGE_TEXELS], got[XS_TEXPAGE_TEXELS], n = 0, st = 0;
                    uint32_t wn = xs_texpage_extract(&p, l, px, py, want);
                    CHECK(xs_texstore_read(s, page, got, &n, &st, &e) == XS_OK);
                    CHECK(n == wn && st > 0 && memcmp(want, got, wn * 4) == 0);
                    CHECK(xs_texstore_page_texels(s, page) == wn);
                }
        }
        xs_texpage_pyramid_free(&p);
    }
    xs_texstore_close(s);
    unlink(path);
    tex_gltf_free(&g);
}

static void patch(const char *path, long off, int whence, unsigned char x)
{
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    fseek(f, off, whence);
    int c = fgetc(f);
    fseek(f, -1, SEEK_CUR);
    fputc(c ^ x, f);
    fclose(f);
}

static void store_hostile(void)
{
    xs_gltf_scene g;
    tex_gltf(&g);
    char path[4096];
    xs_texstore *s = open_store(&g, "bad.tar.zst", path, sizeof path);
    uint64_t off = s->pages[3].offset;
    xs_texstore_close(s);
    /* a page's byte: the open succeeds, that page's read fails by name */
    patch(path, (long)off + 2, SEEK_SET, 0x40);
    xs_err e;
    CHECK(xs_texstore_open(path, &s, &e) == XS_OK);
    uint32_t buf[XS_TEXPAGE_TEXELS];
    CHECK(xs_texstore_read(s, 2, buf, NULL, NULL, &e) == XS_OK);
    CHECK(xs_texstore_read(s, 3, buf, NULL, NULL, &e) != XS_OK);
    CHECK_MSG(strstr(e.msg, "checksum mismatch") && strstr(e.msg, "page 3"), "%s", e.msg);
    xs_texstore_close(s);
    /* the index: refused at open */
    xs_texstore_close(open_store(&g, "bad.tar.zst", path, sizeof path));
    patch(path, -60, SEEK_END, 0x01);
    CHECK(xs_texstore_open(path, &s, &e) != XS_OK);
    CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, "texture pages"), "%s", e.msg);
    /* the footer pointing past the file */
    xs_texstore *ok = open_store(&g, "bad.tar.zst", path, sizeof path);
    xs_texstore_close(ok);
    patch(path, -20, SEEK_END, 0x80); /* the index offset's high byte */
    CHECK(xs_texstore_open(path, &s, &e) != XS_OK);
    /* truncated: no footer any more */
    ok = open_store(&g, "bad.tar.zst", path, sizeof path);
    xs_texstore_close(ok);
    CHECK(truncate(path, 5000) == 0);
    CHECK(xs_texstore_open(path, &s, &e) != XS_OK && strstr(e.msg, "no page store"));
    unlink(path);
    tex_gltf_free(&g);
}

/* ---- the cache --------------------------------------------------------------------------- */

typedef struct reader {
    xs_texcache *c;
    const xs_texstore *s;
    uint32_t **pages; /* every page's texels */
    uint32_t seed;
    int bad;
} reader;

static void *read_all(void *arg)
{
    reader *r = (reader *)arg;
    uint32_t n = (uint32_t)r->s->page_count;
    for (int round = 0; round < 3; ++round)
        for (uint32_t k = 0; k < n; ++k) {
            uint32_t page = (k * 7919u + r->seed * 131u + (uint32_t)round) % n;
            uint32_t cnt = xs_texstore_page_texels(r->s, page);
            for (uint32_t i = 0; i < cnt; i += 1 + (r->seed % 5)) {
                /* one texel, or a bilinear quad's four of one page */
                uint32_t idx[4] = {i, (i + 1) % cnt, (i + 7) % cnt, (i * 3) % cnt}, got[4];
                int m = (i & 1) ? 4 : 1;
                xs_texcache_fetch(r->c, page, idx, m, got);
                for (int q = 0; q < m; ++q)
                    if (got[q] != r->pages[page][idx[q]])
                        r->bad++;
            }
        }
    xs_texcache_thread_flush();
    return NULL;
}

static uint32_t **all_pages(const xs_texstore *s)
{
    uint32_t **p = calloc(s->page_count, sizeof *p);
    xs_err e;
    for (uint64_t i = 0; i < s->page_count; ++i) {
        p[i] = malloc(XS_TEXPAGE_TEXELS * 4);
        CHECK(xs_texstore_read(s, i, p[i], NULL, NULL, &e) == XS_OK);
    }
    return p;
}

static void free_pages(const xs_texstore *s, uint32_t **p)
{
    for (uint64_t i = 0; i < s->page_count; ++i)
        free(p[i]);
    free(p);
}

static void cache_threads(void)
{
    xs_gltf_scene g;
    tex_gltf(&g);
    char path[4096];
    xs_texstore *s = open_store(&g, "c.tar.zst", path, sizeof path);
    uint32_t **pages = all_pages(s);
    size_t bytes = xs_texcache_bytes(s->page_count, 16);
    void *mem = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    xs_texcache *c = NULL;
    xs_err e;
    CHECK(xs_texcache_create(mem, bytes, true, 16, s, &c, &e) == XS_OK);
    reader r[4];
    pthread_t t[4];
    for (int i = 0; i < 4; ++i) {
        r[i] = (reader){.c = c, .s = s, .pages = pages, .seed = (uint32_t)i + 1};
        CHECK(pthread_create(&t[i], NULL, read_all, &r[i]) == 0);
    }
    for (int i = 0; i < 4; ++i) {
        pthread_join(t[i], NULL);
        CHECK_MSG(r[i].bad == 0, "thread %d read %d wrong texels", i, r[i].bad);
    }
    xs_texcache_stats st;
    xs_texcache_stats_get(c, &st);
    CHECK(st.slots == 16 && st.pages == s->page_count);
    CHECK_MSG(st.loads > s->page_count && st.evictions > 0, "loads %llu evictions %llu",
              (unsigned long long)st.loads, (unsigned long long)st.evictions);
    CHECK(st.fetches > 0 && st.hits <= st.fetches && st.resident == 16);
    CHECK(!xs_texcache_take_failure(c, NULL, 0));
    xs_texcache_destroy(c);
    free(mem);
    free_pages(s, pages);
    xs_texstore_close(s);
    unlink(path);
    tex_gltf_free(&g);
}

static void cache_processes(void)
{
    xs_gltf_scene g;
    tex_gltf(&g);
    char path[4096];
    xs_texstore *s = open_store(&g, "cp.tar.zst", path, sizeof path);
    uint32_t **pages = all_pages(s);
    size_t bytes = xs_texcache_bytes(s->page_count, 20);
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED);
    xs_texcache *c = NULL;
    xs_err e;
    CHECK(xs_texcache_create(mem, bytes, true, 20, s, &c, &e) == XS_OK);
    pid_t kids[3];
    for (int k = 0; k < 3; ++k) {
        kids[k] = fork();
        if (kids[k] == 0) {
            /* a rank of the node: its own store reader and handle, the shared block */
            xs_texstore *mine = NULL;
            xs_texcache *h = NULL;
            int bad = xs_texstore_open(path, &mine, &e) != XS_OK ||
                      xs_texcache_create(mem, bytes, false, 20, mine, &h, &e) != XS_OK;
            reader r = {.c = h, .s = mine, .pages = pages, .seed = (uint32_t)k + 3};
            if (!bad)
                read_all(&r);
            _exit(bad || r.bad ? 1 : 0);
        }
    }
    for (int k = 0; k < 3; ++k) {
        int st = 0;
        CHECK(waitpid(kids[k], &st, 0) == kids[k]);
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "process %d read wrong texels", k);
    }
    xs_texcache_stats st;
    xs_texcache_stats_get(c, &st);
    CHECK_MSG(st.loads >= s->page_count && st.fetches > 0, "loads %llu fetches %llu",
              (unsigned long long)st.loads, (unsigned long long)st.fetches);
    xs_texcache_destroy(c);
    munmap(mem, bytes);
    free_pages(s, pages);
    xs_texstore_close(s);
    unlink(path);
    tex_gltf_free(&g);
}

/* ---- rendering ----------------------------------------------------------------------------- */

static float *render(xs_scene *sc, const xs_tile_params *tp)
{
    xs_backend *b = NULL;
    xs_err e;
    CHECK_MSG(xs_backend_cpu_create(sc, tp->frame_width, tp->frame_height, 2, &b, &e) == XS_OK, "%s", e.msg);
    size_t n = (size_t)tp->width * (size_t)tp->height * (size_t)xs_aov_channels(tp->aovs);
    float *out = calloc(n, sizeof *out);
    xs_counters c;
    memset(&c, 0, sizeof c);
    CHECK_MSG(b && xs_backend_render_tile(b, tp, out, &c, &e) == XS_OK, "%s", e.msg);
    xs_backend_destroy(b);
    return out;
}

static xs_tile_params tex_tile(void)
{
    xs_tile_params tp = xs_tile_params_frame(96, 64, 8, 4);
    tp.x0 = 16, tp.y0 = 8, tp.width = 48, tp.height = 40;
    tp.aovs = XS_AOV_ALBEDO | XS_AOV_NORMAL | XS_AOV_DEPTH;
    return tp;
}

static void paged_equals_whole(void)
{
    xs_gltf_scene g;
    tex_gltf(&g);
    char path[4096];
    xs_texstore *s = open_store(&g, "pw.tar.zst", path, sizeof path);
    xs_scene *whole = NULL, *paged = NULL;
    xs_err e;
    CHECK_MSG(tex_scene_build(&g, NULL, &whole, &e) == XS_OK, "%s", e.msg);
    CHECK_MSG(tex_scene_build(&g, s, &paged, &e) == XS_OK, "%s", e.msg);
    char why[256];
    CHECK(!xs_scene_textures_ready(paged, why, sizeof why) && strstr(why, "page cache"));
    xs_tile_params tp = tex_tile();
    size_t n = (size_t)tp.width * (size_t)tp.height * (size_t)xs_aov_channels(tp.aovs);
    float *a = render(whole, &tp);
    for (int k = 0; k < 2; ++k) {
        uint64_t slots = k == 0 ? 16 : s->page_count;
        size_t bytes = xs_texcache_bytes(s->page_count, slots);
        void *mem = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
        xs_texcache *c = NULL;
        CHECK(xs_texcache_create(mem, bytes, true, slots, s, &c, &e) == XS_OK);
        xs_scene_attach_texcache(paged, c);
        float *b = render(paged, &tp);
        CHECK_MSG(memcmp(a, b, n * sizeof *a) == 0, "paged through %llu slots differs from held whole",
                  (unsigned long long)slots);
        xs_texcache_stats st;
        xs_texcache_stats_get(c, &st);
        CHECK(st.loads > 0 && (k == 1 || st.evictions > 0));
        free(b);
        xs_texcache_destroy(c);
        free(mem);
    }
    xs_scene_tex_info ti;
    xs_scene_tex_info_get(paged, &ti);
    CHECK(ti.paged && ti.pages == s->page_count && ti.paged_bytes == s->texel_bytes);
    xs_scene_tex_info_get(whole, &ti);
    CHECK(!ti.paged && ti.held_bytes >= s->texel_bytes);
    free(a);
    xs_scene_destroy(whole);
    xs_scene_destroy(paged);
    xs_texstore_close(s);
    unlink(path);
    tex_gltf_free(&g);
}

static void mip_level(void)
{
    xs_gltf_scene g;
    tex_gltf(&g);
    xs_scene *sc = NULL;
    xs_err e;
    CHECK(tex_scene_build(&g, NULL, &sc, &e) == XS_OK);
    xs_scene_view v = xs_scene_view_for(sc, 64, 64);
    xs_texslot slot = {.tex = 0, .texcoord = 0, .m = {1, 0, 0, 0, 1, 0}};
    xs_uv uv = {{0.3f, 0.3f}, {0.6f, 0.6f}};
    xs_lod lod = xs_lod_none();
    float lvl0[4], lvl1[4], got[4];
    xs_tex_level_read(&v, &v.textures[0], 0, 0.3f, 0.6f, false, lvl0);
    xs_tex_level_read(&v, &v.textures[0], 1, 0.3f, 0.6f, false, lvl1);
    xs_tex_sample(&v, &slot, &uv, &lod, false, got);
    CHECK(memcmp(got, lvl0, sizeof got) == 0);
    /* 2 texels of level 0 across the footprint (xs_lod: log2 of its width in
     * uv units): level 1 */
    lod.uv_log2[0] = 1.0f - 0.5f * log2f(300.0f * 200.0f);
    xs_tex_sample(&v, &slot, &uv, &lod, false, got);
    CHECK_MSG(fabsf(got[0] - lvl1[0]) < 1e-5f && fabsf(got[1] - lvl1[1]) < 1e-5f, "%g %g vs level 1 %g %g",
              (double)got[0], (double)got[1], (double)lvl1[0], (double)lvl1[1]);
    CHECK(memcmp(lvl0, lvl1, sizeof lvl0) != 0);
    xs_scene_destroy(sc);
    tex_gltf_free(&g);
}

static void scene_share(void)
{
    xs_gltf_scene g;
    tex_gltf(&g);
    xs_scene *sc = NULL;
    xs_err e;
    CHECK(tex_scene_build(&g, NULL, &sc, &e) == XS_OK);
    xs_tile_params tp = tex_tile();
    size_t n = (size_t)tp.width * (size_t)tp.height * (size_t)xs_aov_channels(tp.aovs);
    float *a = render(sc, &tp);
    size_t bytes = xs_scene_share_bytes(sc);
    void *block = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    CHECK(xs_scene_share_write(sc, block, bytes, &e) == XS_OK);
    xs_scene_destroy(sc);
    /* opened at another address, as another process maps it */
    void *moved = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    memcpy(moved, block, bytes);
    memset(block, 0xab, bytes);
    free(block);
    xs_scene *sh = NULL;
    CHECK_MSG(xs_scene_share_open(moved, bytes, NULL, &sh, &e) == XS_OK, "%s", e.msg);
    float *b = render(sh, &tp);
    CHECK_MSG(memcmp(a, b, n * sizeof *a) == 0, "the shared scene renders differently");
    CHECK(xs_scene_tri_count(sh) == 2 && xs_scene_instance_count(sh) == 1);
    xs_scene_destroy(sh); /* frees its own struct, never the block */
    CHECK(xs_scene_share_open(moved, 16, NULL, &sh, &e) != XS_OK);
    free(moved);
    free(a), free(b);
    tex_gltf_free(&g);
}

static void memplan(void)
{
    uint64_t v = 0;
    xs_err e;
    CHECK(xs_mem_parse("x", "8G", &v, &e) == XS_OK && v == 8ull << 30);
    CHECK(xs_mem_parse("x", "512MiB", &v, &e) == XS_OK && v == 512ull << 20);
    CHECK(xs_mem_parse("x", "1.5T", &v, &e) == XS_OK && v == 3ull << 39);
    CHECK(xs_mem_parse("--mem-budget", "12Q", &v, &e) != XS_OK && strstr(e.msg, "--mem-budget"));
    CHECK(xs_mem_parse("x", "100", &v, &e) != XS_OK); /* 100 bytes: under 1M */
    xs_mem_scene m;
    memset(&m, 0, sizeof m);
    m.geometry = 600ull << 20, m.bvh = 200ull << 20, m.package = 100ull << 20, m.gltf = 300ull << 20;
    xs_mem_node_plan p;
    memset(&p, 0, sizeof p);
    p.ranks = 4, p.renderers = 3, p.shared = true, p.runtime = 50ull << 20, p.rank_buffers = 10ull << 20;
    p.node_has = 3ull << 30;
    xs_memplan_node(&m, &p);
    CHECK(p.fits && p.scene == 800ull << 20 && p.scene_total == p.scene);
    uint64_t shared_peak = p.node_peak;
    p.shared = false; /* three copies, built at once: 3.7 GiB at the peak, over 3 */
    xs_memplan_node(&m, &p);
    CHECK(p.scene_total == 3 * p.scene && p.node_peak > shared_peak);
    CHECK_MSG(!p.fits && strstr(p.why, "has available"), "%s", p.why);
    p.shared = true, p.node_has = 1ull << 30;
    xs_memplan_node(&m, &p);
    CHECK(!p.fits && strstr(p.why, "the node needs"));
    p.node_has = 64ull << 30, p.rank_budget = 1ull << 30;
    xs_memplan_node(&m, &p);
    CHECK(!p.fits && strstr(p.why, "a rank needs") && strstr(p.why, "--mem-budget"));
    p.rank_budget = 4ull << 30;
    xs_memplan_node(&m, &p);
    CHECK(p.fits);
    char buf[2048];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    xs_memplan_print(f, "  ", &m, &p);
    fclose(f);
    CHECK(strstr(buf, "geometry 600.0 MiB") && strstr(buf, "it fits"));
    /* an animated scene: posed per rendering rank even when sharing, each
     * with its pose state and motion steps; the page cache stays one a node */
    m.paged = true, m.texture_pages = 1000;
    p.cache = 64ull << 20, p.rank_budget = 0, p.node_has = 64ull << 30;
    xs_memplan_node(&m, &p);
    const uint64_t still_steady = p.node_steady;
    m.animated = true, m.pose = 30ull << 20, m.motion = 20ull << 20, m.motion_steps = 3;
    xs_memplan_node(&m, &p);
    CHECK(p.scene_total == 3 * p.scene);
    CHECK_MSG(p.node_steady == still_steady + 2 * p.scene + 3 * (50ull << 20), "steady %llu, still %llu",
              (unsigned long long)p.node_steady, (unsigned long long)still_steady);
    CHECK(p.rank_steady == p.runtime + p.rank_buffers + p.scene + (50ull << 20) + p.cache);
    f = fmemopen(buf, sizeof buf, "w");
    xs_memplan_print(f, "  ", &m, &p);
    fclose(f);
    CHECK_MSG(strstr(buf, "posed once per rendering rank") && strstr(buf, "motion blur 20.0 MiB (3 steps)") &&
                  strstr(buf, "the texture cache stays one per node"),
              "%s", buf);
}

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"pyramid", pyramid},       {"store_roundtrip", store_roundtrip}, {"store_hostile", store_hostile},
        {"cache_threads", cache_threads}, {"cache_processes", cache_processes},
        {"paged_equals_whole", paged_equals_whole}, {"mip_level", mip_level}, {"scene_share", scene_share},
        {"memplan", memplan},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
