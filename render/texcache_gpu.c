/* A GPU's texture pages within a budget (see xs_texcache_gpu.h).
 *
 * Device memory: the table (a word a page), the pool (slots of
 * XS_TEX_PAGE_TEXELS texels), the bitmaps (requests, then reads: W words
 * each, W = pages / 32 rounded up) and the count of new requests. The host
 * keeps a mirror of the table and, per slot, its page and the resolve that
 * loaded it. */
#include "render/xs_texcache_gpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/xs_backend.h"
#include "render/xs_memplan.h"

#define ABSENT UINT32_MAX

struct xs_gpu_pages {
    const xs_cuda_rt *rt;
    xs_texcache *cache;
    uint32_t pages, slots, words;
    void *d_table, *d_pool, *d_bits, *d_asked;
    uint32_t *h_table;      /* mirror of the device table */
    uint32_t *slot_page;    /* ABSENT: free */
    uint32_t *slot_epoch;   /* the resolve that loaded it */
    uint32_t *h_bits;       /* the bitmaps, read back */
    uint32_t *h_asked;      /* pinned: a word per group */
    uint32_t *group_epoch;  /* the resolve count when the group was launched afresh */
    int groups;
    uint32_t epoch, hand, filled;
    uint32_t *staging;      /* one page's texels */
    uint64_t loads, evictions, resolves;
};

static xs_result rt_fail(const xs_cuda_rt *rt, int e, const char *what, xs_err *err)
{
    int cls = rt->error_class(e);
    (void)rt->get_last_error();
    return xs_err_set(err, cls >= XS_CUDA_ERR_STICKY ? XS_ERR_DEVICE : XS_ERR_RENDER, "CUDA: %s: %s (%s)", what,
                      rt->error_string(e), rt->error_name(e));
}

void xs_gpu_pages_destroy(xs_gpu_pages *g)
{
    if (!g)
        return;
    const xs_cuda_rt *rt = g->rt;
    rt->free_device(g->d_table);
    rt->free_device(g->d_pool);
    rt->free_device(g->d_bits);
    rt->free_device(g->d_asked);
    if (g->h_asked)
        rt->free_host(g->h_asked);
    free(g->h_table), free(g->slot_page), free(g->slot_epoch), free(g->h_bits), free(g->group_epoch);
    free(g->staging);
    free(g);
}

xs_result xs_gpu_pages_create(const xs_cuda_rt *rt, xs_texcache *cache, uint32_t pages, uint64_t budget, int groups,
                              xs_scene_view *dview, xs_gpu_pages **out, xs_err *err)
{
    *out = NULL;
    xs_gpu_pages *g = calloc(1, sizeof *g);
    if (!g)
        return xs_err_set(err, XS_ERR_NOMEM, "GPU texture pages: out of memory");
    g->rt = rt;
    g->cache = cache;
    g->pages = pages;
    g->words = (pages + 31u) / 32u;
    g->groups = groups > 0 ? groups : 1;
    const uint64_t slot_bytes = (uint64_t)XS_TEX_PAGE_TEXELS * 4u;
    const uint64_t fixed = (uint64_t)pages * 4u + (uint64_t)g->words * 8u + 64u;
    if (budget == 0) {
        size_t free_b = 0, total_b = 0;
        int e = rt->mem_get_info(&free_b, &total_b);
        if (e != 0) {
            xs_gpu_pages_destroy(g);
            return rt_fail(rt, e, "reading the device's free memory", err);
        }
        uint64_t margin = 512ull << 20;
        budget = free_b > fixed + margin ? free_b - fixed - margin : 0;
    }
    uint64_t slots = budget / slot_bytes;
    if (slots > pages)
        slots = pages;
    if (slots < 16) {
        char a[32];
        xs_result r = xs_err_set(err, XS_ERR_NOMEM,
                                 "GPU texture pages: a budget of %s holds %llu pages, fewer than the 16 a launch "
                                 "needs at least (--gpu-texture-mib)",
                                 xs_mem_str(budget, a, sizeof a), (unsigned long long)slots);
        xs_gpu_pages_destroy(g);
        return r;
    }
    g->slots = (uint32_t)slots;
    g->h_table = malloc((size_t)pages * 4u);
    g->slot_page = malloc((size_t)slots * 4u);
    g->slot_epoch = calloc((size_t)slots, 4u);
    g->h_bits = malloc((size_t)g->words * 8u);
    g->group_epoch = calloc((size_t)g->groups, 4u);
    g->staging = malloc(slot_bytes);
    if (!g->h_table || !g->slot_page || !g->slot_epoch || !g->h_bits || !g->group_epoch || !g->staging) {
        xs_gpu_pages_destroy(g);
        return xs_err_set(err, XS_ERR_NOMEM, "GPU texture pages: out of memory");
    }
    memset(g->h_table, 0xff, (size_t)pages * 4u);
    memset(g->slot_page, 0xff, (size_t)slots * 4u);
    memset(g->h_bits, 0, (size_t)g->words * 8u);
    int e = 0;
    const char *what = "";
    if ((e = rt->malloc_device(&g->d_table, (size_t)pages * 4u)) != 0)
        what = "allocating the texture page table";
    else if ((e = rt->malloc_device(&g->d_pool, (size_t)(slots * slot_bytes))) != 0)
        what = "allocating the texture page pool";
    else if ((e = rt->malloc_device(&g->d_bits, (size_t)g->words * 8u)) != 0 ||
             (e = rt->malloc_device(&g->d_asked, 4u)) != 0)
        what = "allocating the texture page bitmaps";
    else if ((e = rt->malloc_host((void **)&g->h_asked, (size_t)g->groups * 4u)) != 0)
        what = "allocating pinned texture page counts";
    else if ((e = rt->memcpy_h2d(g->d_table, g->h_table, (size_t)pages * 4u)) != 0 ||
             (e = rt->memcpy_h2d(g->d_bits, g->h_bits, (size_t)g->words * 8u)) != 0 ||
             (e = rt->memcpy_h2d(g->d_asked, g->h_bits, 4u)) != 0)
        what = "clearing the texture page table";
    if (e != 0) {
        char w[160];
        snprintf(w, sizeof w, "%s (%u pages, %u slots)", what, pages, g->slots);
        xs_result r = rt_fail(rt, e, w, err);
        xs_gpu_pages_destroy(g);
        return r;
    }
    memset(g->h_asked, 0, (size_t)g->groups * 4u);
    dview->tex_page = (const uint32_t *)g->d_table;
    dview->tex_pool = (const uint32_t *)g->d_pool;
    dview->tex_request = (uint32_t *)g->d_bits;
    dview->tex_asked = (uint32_t *)g->d_asked;
    dview->tex_page_count = pages;
    dview->tex_fetch = NULL;
    dview->tex_ctx = NULL;
    *out = g;
    return XS_OK;
}

int xs_gpu_pages_after_launch(xs_gpu_pages *g, int group, void *stream, int first)
{
    if (first)
        g->group_epoch[group] = g->epoch;
    int e = g->rt->memcpy_d2h_async(&g->h_asked[group], g->d_asked, 4u, stream);
    return e ? e : g->rt->memset_async(g->d_asked, 0, 4u, stream);
}

uint32_t xs_gpu_pages_asked(const xs_gpu_pages *g, int group) { return g->h_asked[group]; }

/* A slot for a page asked now: a free one, else the first the clock hand
 * finds neither read since the last resolve (second chance: its bit is
 * cleared as the hand passes) nor loaded for this group. ABSENT: none. */
static uint32_t pick_slot(xs_gpu_pages *g, uint32_t pinned_from)
{
    if (g->filled < g->slots)
        return g->filled++;
    const uint32_t *used = g->h_bits + g->words;
    for (uint64_t n = 0; n < 2ull * g->slots; ++n) {
        uint32_t i = g->hand++ % g->slots;
        uint32_t p = g->slot_page[i];
        if (g->slot_epoch[i] >= pinned_from)
            continue; /* loaded for this group (or since it was launched) */
        if (p != ABSENT && (used[p >> 5] & (1u << (p & 31u)))) {
            ((uint32_t *)used)[p >> 5] &= ~(1u << (p & 31u));
            continue;
        }
        return i;
    }
    return ABSENT;
}

xs_result xs_gpu_pages_resolve(xs_gpu_pages *g, int group, void *const *inflight, int ninflight, xs_err *err)
{
    const xs_cuda_rt *rt = g->rt;
    int e = 0;
    for (int i = 0; i < ninflight; ++i) /* nothing may read a slot while it is rewritten */
        if (inflight[i] && (e = rt->event_sync(inflight[i])) != 0)
            return rt_fail(rt, e, "waiting for the launches in flight before loading texture pages", err);
    if ((e = rt->memcpy_d2h(g->h_bits, g->d_bits, (size_t)g->words * 8u)) != 0)
        return rt_fail(rt, e, "reading the texture pages asked for", err);
    g->resolves++;
    g->epoch++;
    const uint32_t pinned_from = g->group_epoch[group] + 1u;
    uint32_t loaded = 0;
    xs_result r = XS_OK;
    for (uint32_t w = 0; r == XS_OK && w < g->words; ++w) {
        uint32_t bits = g->h_bits[w];
        while (bits && r == XS_OK) {
            uint32_t b = (uint32_t)__builtin_ctz(bits);
            bits &= bits - 1u;
            uint32_t page = w * 32u + b;
            if (page >= g->pages || g->h_table[page] != ABSENT)
                continue; /* asked by a launch before another resolve loaded it */
            uint32_t slot = pick_slot(g, pinned_from);
            if (slot == ABSENT) {
                char a[32];
                r = xs_err_set(err, XS_ERR_RENDER,
                               "GPU texture pages: a launch needs more pages than the %u slots (%s) hold together; "
                               "raise --gpu-texture-mib or lower --gpu-slots",
                               g->slots, xs_mem_str((uint64_t)g->slots * XS_TEX_PAGE_TEXELS * 4u, a, sizeof a));
                break;
            }
            uint32_t old = g->slot_page[slot];
            uint32_t texels = 0;
            r = xs_texcache_copy_page(g->cache, page, g->staging, &texels, err);
            if (r != XS_OK)
                break;
            if (old != ABSENT) {
                g->h_table[old] = ABSENT;
                g->evictions++;
                if ((e = rt->memcpy_h2d((uint32_t *)g->d_table + old, &g->h_table[old], 4u)) != 0)
                    return rt_fail(rt, e, "updating the texture page table", err);
            }
            const uint32_t at = slot * (uint32_t)(XS_TEX_PAGE_TEXELS / XS_TEX_UNIT);
            if ((e = rt->memcpy_h2d((uint32_t *)g->d_pool + (size_t)slot * XS_TEX_PAGE_TEXELS, g->staging,
                                    (size_t)texels * 4u)) != 0)
                return rt_fail(rt, e, "uploading a texture page", err);
            g->h_table[page] = at;
            g->slot_page[slot] = page;
            g->slot_epoch[slot] = g->epoch;
            if ((e = rt->memcpy_h2d((uint32_t *)g->d_table + page, &g->h_table[page], 4u)) != 0)
                return rt_fail(rt, e, "updating the texture page table", err);
            g->loads++;
            loaded++;
        }
    }
    /* both bitmaps start empty for the next pass */
    memset(g->h_bits, 0, (size_t)g->words * 8u);
    if ((e = rt->memcpy_h2d(g->d_bits, g->h_bits, (size_t)g->words * 8u)) != 0)
        return rt_fail(rt, e, "clearing the texture page bitmaps", err);
    (void)loaded;
    return r;
}

void xs_gpu_pages_stats_get(const xs_gpu_pages *g, xs_gpu_pages_stats *o)
{
    memset(o, 0, sizeof *o);
    if (!g)
        return;
    o->slots = g->slots;
    o->loads = g->loads;
    o->evictions = g->evictions;
    o->resolves = g->resolves;
}
