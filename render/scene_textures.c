/* A glTF scene's textures (xs_scene_textures): one record per glTF texture
 * (its image's pyramid, its sampler's wrap modes), one set of level records
 * per image, and the pages behind them.
 *
 * Held whole (a plain glTF, or a package packed without pages): each
 * decoded image becomes its MIP pyramid (io/texpage.c, the same pyramid
 * `xisuan pack` writes), every page packed into one pool, tex_page[] giving
 * each page's place. Paged (a package from `xisuan pack`): the levels and
 * page numbers are the page store's, no texel is held here, and pages come
 * through the page cache attached later (render/texcache.c). Either way a
 * texture reads the same texels, so a scene renders the same pixels packed
 * or not. A texture whose image no material uses may have no pages (width
 * 0): nothing samples it.
 */
#include "render/scene_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint16_t wrap_flags(const xs_gltf_texture *t)
{
    return (uint16_t)((t->wrap_s == XS_WRAP_CLAMP ? XS_TEX_CLAMP_S : 0u) |
                      (t->wrap_t == XS_WRAP_CLAMP ? XS_TEX_CLAMP_T : 0u) |
                      (t->wrap_s == XS_WRAP_MIRROR ? XS_TEX_MIRROR_S : 0u) |
                      (t->wrap_t == XS_WRAP_MIRROR ? XS_TEX_MIRROR_T : 0u) |
                      (t->mag_filter == 9728 ? XS_TEX_NEAREST : 0u));
}

/* Per image: its size, levels, first level record and mean luminance
 * (width 0: no pages). */
typedef struct image_pages {
    uint32_t width, height, levels, level0;
    float mean;
} image_pages;

/* Level records of an image of w x h whose pages start at first_page. */
static void add_levels(xs_scene *s, uint32_t w, uint32_t h, uint64_t first_page)
{
    int levels = xs_texpage_levels(w, h);
    for (int l = 0; l < levels; ++l) {
        uint32_t lw, lh, nx, ny;
        xs_texpage_level(w, h, l, &lw, &lh, &nx, &ny);
        xs_tex_level *lv = &s->tex_levels[s->tex_level_count++];
        lv->width = lw;
        lv->height = lh;
        lv->pages_x = nx;
        lv->first_page = (uint32_t)first_page;
        first_page += (uint64_t)nx * ny;
    }
}

/* Every decoded image's pyramid into one pool. */
static xs_result build_whole(xs_scene *s, const xs_gltf_scene *g, image_pages *ip, xs_err *err)
{
    uint64_t pages = 0, units = 0, levels = 0;
    for (int i = 0; i < g->image_count; ++i) {
        const xs_image8 *im = &g->images[i];
        if (!im->rgba8 || im->width < 1 || im->height < 1)
            continue;
        uint32_t w = (uint32_t)im->width, h = (uint32_t)im->height;
        int nl = xs_texpage_levels(w, h);
        levels += (uint64_t)nl;
        for (int l = 0; l < nl; ++l) {
            uint32_t lw, lh, nx, ny;
            xs_texpage_level(w, h, l, &lw, &lh, &nx, &ny);
            pages += (uint64_t)nx * ny;
            for (uint32_t py = 0; py < ny; ++py)
                for (uint32_t px = 0; px < nx; ++px) {
                    uint32_t pw, ph;
                    xs_texpage_page_size(lw, lh, px, py, &pw, &ph);
                    units += (pw * ph + XS_TEX_UNIT - 1) / XS_TEX_UNIT;
                }
        }
    }
    if (pages >= UINT32_MAX || units >= UINT32_MAX)
        return xs_err_set(err, XS_ERR_INVALID,
                          "scene %s: textures of %llu pages are too many to hold in memory (pack the scene "
                          "with xisuan pack: its pages are read on demand)",
                          s->name, (unsigned long long)pages);
    s->tex_levels = calloc(levels ? levels : 1, sizeof *s->tex_levels);
    s->tex_page = malloc((pages ? pages : 1) * sizeof *s->tex_page);
    s->tex_pool = calloc(units ? units * XS_TEX_UNIT : 1, sizeof *s->tex_pool);
    if (!s->tex_levels || !s->tex_page || !s->tex_pool)
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory for %llu texture pages", s->name,
                          (unsigned long long)pages);
    s->tex_page_count = (uint32_t)pages;
    s->tex_pool_units = (size_t)units;
    uint64_t page = 0, unit = 0;
    for (int i = 0; i < g->image_count; ++i) {
        const xs_image8 *im = &g->images[i];
        if (!im->rgba8 || im->width < 1 || im->height < 1)
            continue;
        xs_texpage_pyramid p;
        xs_result r = xs_texpage_pyramid_build(im, xs_gltf_image_srgb(g, i), &p, err);
        if (r != XS_OK)
            return r;
        ip[i].width = (uint32_t)im->width;
        ip[i].height = (uint32_t)im->height;
        ip[i].levels = (uint32_t)p.levels;
        ip[i].level0 = s->tex_level_count;
        ip[i].mean = xs_texpage_mean_luminance(im, s->srgb);
        add_levels(s, ip[i].width, ip[i].height, page);
        for (int l = 0; l < p.levels; ++l) {
            uint32_t nx = (p.w[l] + XS_TEX_PAGE - 1) / XS_TEX_PAGE, ny = (p.h[l] + XS_TEX_PAGE - 1) / XS_TEX_PAGE;
            for (uint32_t py = 0; py < ny; ++py)
                for (uint32_t px = 0; px < nx; ++px) {
                    uint32_t n = xs_texpage_extract(&p, l, px, py, s->tex_pool + unit * XS_TEX_UNIT);
                    s->tex_page[page++] = (uint32_t)unit;
                    unit += (n + XS_TEX_UNIT - 1) / XS_TEX_UNIT;
                }
        }
        xs_texpage_pyramid_free(&p);
    }
    return XS_OK;
}

/* The page store's images: levels only. */
static xs_result build_paged(xs_scene *s, const xs_gltf_scene *g, const xs_texstore *st, image_pages *ip,
                             xs_err *err)
{
    uint64_t levels = 0;
    for (uint32_t k = 0; k < st->image_count; ++k)
        levels += st->images[k].levels;
    s->tex_levels = calloc(levels ? levels : 1, sizeof *s->tex_levels);
    if (!s->tex_levels)
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    for (int i = 0; i < g->image_count; ++i) {
        const xs_texstore_image *im = xs_texstore_find(st, (uint32_t)i);
        if (!im)
            continue; /* no material uses it (xs_scene_input checked) */
        ip[i].width = im->width;
        ip[i].height = im->height;
        ip[i].levels = im->levels;
        ip[i].level0 = s->tex_level_count;
        ip[i].mean = im->mean_luminance;
        add_levels(s, im->width, im->height, im->first_page);
    }
    s->tex_paged = true;
    s->tex_page_count = (uint32_t)st->page_count;
    s->tex_paged_bytes = st->texel_bytes;
    return XS_OK;
}

xs_result xs_scene_textures(xs_scene *s, const xs_gltf_scene *g, const xs_texstore *pages, xs_err *err)
{
    image_pages *ip = calloc((size_t)(g->image_count > 0 ? g->image_count : 1), sizeof *ip);
    s->textures = calloc((size_t)(g->texture_count ? g->texture_count : 1), sizeof *s->textures);
    s->texture_mean = calloc((size_t)(g->texture_count ? g->texture_count : 1), sizeof *s->texture_mean);
    xs_result r = ip && s->textures && s->texture_mean
                      ? XS_OK
                      : xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory for textures", s->name);
    if (r == XS_OK)
        r = pages ? build_paged(s, g, pages, ip, err) : build_whole(s, g, ip, err);
    for (int i = 0; r == XS_OK && i < g->texture_count; ++i) {
        const xs_gltf_texture *t = &g->textures[i];
        const image_pages *p = &ip[t->image];
        xs_texture *x = &s->textures[i];
        x->width = p->width;
        x->height = p->height;
        x->level0 = p->level0;
        x->levels = (uint16_t)p->levels;
        x->flags = wrap_flags(t);
        s->texture_mean[i] = p->mean;
    }
    if (r == XS_OK)
        s->texture_count = (uint32_t)g->texture_count;
    free(ip);
    return r;
}

void xs_scene_tex_info_get(const xs_scene *s, xs_scene_tex_info *o)
{
    memset(o, 0, sizeof *o);
    o->paged = s->tex_paged;
    o->textures = s->texture_count;
    o->pages = s->tex_page_count;
    o->paged_bytes = s->tex_paged ? s->tex_paged_bytes : 0;
    o->held_bytes = s->tex_paged ? 0 : (uint64_t)s->tex_pool_units * XS_TEX_UNIT * 4u;
}

void xs_scene_attach_texcache(xs_scene *s, struct xs_texcache *c) { s->texcache = c; }

bool xs_scene_textures_ready(const xs_scene *s, char *why, size_t n)
{
    if (s->tex_paged && !s->texcache && s->tex_page_count > 0) {
        snprintf(why, n, "scene %s: its %u texture pages need a page cache (none attached)", s->name,
                 s->tex_page_count);
        return false;
    }
    return true;
}

struct xs_texcache *xs_scene_texcache(const xs_scene *s) { return s->texcache; }
void xs_scene_set_gpu_texture_budget(xs_scene *s, uint64_t bytes) { s->gpu_tex_budget = bytes; }
uint64_t xs_scene_gpu_texture_budget(const xs_scene *s) { return s->gpu_tex_budget; }
