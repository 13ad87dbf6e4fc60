/* A built scene as one relocatable block (see xs_scene.h, "one copy per
 * node"): a head holding the scene's scalars and, for each array, where it
 * lies in the block (offsets, never addresses), then the arrays, each
 * 64-byte aligned. Written once by the process that built the scene into
 * memory the caller provides (the node's MPI-3 shared window); opened in
 * place by every process that maps it: the opened scene's arrays point into
 * the block and are never freed or written through it. Only what is the
 * same for every rank is in the block; what a rank sets for itself (the
 * pixel filter, a page cache) stays in its own xs_scene.
 *
 * An animated scene is never written here: posing rewrites its triangles,
 * trees, instances, TLAS and lights for each frame, and ranks of a node
 * render different frames (scheduler/xs_node_share.h: each rank builds and
 * poses its own). A still scene opened from a block has no pose state, so
 * xs_scene_set_frame leaves it alone.
 */
#include "render/scene_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint64_t SHARE_MAGIC = 0x3145524148535358ull; /* "XSSHARE1" */

/* The arrays: field, element count (expressions over the scene s). */
#define XS_SHARE_ARRAYS(X)                                                                       \
    X(tris, s->tri_count)                                                                        \
    X(attrs, s->tri_count)                                                                       \
    X(nodes, s->node_count)                                                                      \
    X(meshes, s->mesh_count)                                                                     \
    X(instances, s->instance_count)                                                              \
    X(tlas, s->tlas_count)                                                                       \
    X(tlas_order, s->tlas_order ? s->instance_count : 0u)                                        \
    X(inst_boxes, s->inst_boxes ? (size_t)s->instance_count * 6u : 0u)                           \
    X(wtris, s->tri_count)                                                                       \
    X(wnodes, s->wnode_count)                                                                    \
    X(materials, s->material_count)                                                              \
    X(textures, s->texture_count)                                                                \
    X(texture_mean, s->texture_count)                                                            \
    X(tex_levels, s->tex_level_count)                                                            \
    X(tex_page, s->tex_pool ? s->tex_page_count : 0u)                                            \
    X(tex_pool, s->tex_pool ? s->tex_pool_units * XS_TEX_UNIT : 0u)                              \
    X(lights, s->light_count)                                                                    \
    X(light_cdf, s->light_count)                                                                 \
    X(light_pmf, s->light_count)                                                                 \
    X(inst_light_base, s->instance_count)                                                        \
    X(tri_light, s->tri_light ? (s->tri_count ? s->tri_count : 1u) : 0u)                         \
    X(env, s->env ? (size_t)s->env_w * (size_t)s->env_h * 3u : 0u)                               \
    X(env_row_cdf, s->env_row_cdf ? (size_t)s->env_h + 1u : 0u)                                  \
    X(env_col_cdf, s->env_col_cdf ? (size_t)s->env_h * ((size_t)s->env_w + 1u) : 0u)

enum {
#define XS_COUNT_ONE(field, count) SHARE_##field,
    XS_SHARE_ARRAYS(XS_COUNT_ONE)
#undef XS_COUNT_ONE
        SHARE_ARRAY_COUNT
};

typedef struct share_head {
    uint64_t magic;
    uint64_t bytes;
    uint64_t off[SHARE_ARRAY_COUNT], len[SHARE_ARRAY_COUNT]; /* bytes */
    char name[64];
    uint32_t tri_count, node_count, mesh_count, instance_count, tlas_count, material_count;
    uint32_t texture_count, tex_level_count, tex_page_count, light_count, env_light;
    uint32_t wnode_count, wroot, has_alpha;
    int wdepth;
    int env_w, env_h;
    uint64_t tex_pool_units, tex_paged_bytes;
    uint32_t tex_paged;
    float env_func_int, ray_eps, cam_yfov_deg;
    double build_seconds;
    xs_vec3 background, cam_pos, cam_fwd, cam_up, world_lo, world_hi;
} share_head;

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Each array's bytes and offset in a block for s; returns the block's size. */
static size_t layout(const xs_scene *s, uint64_t *off, uint64_t *len)
{
    size_t at = align64(sizeof(share_head));
    int k = 0;
#define XS_LAY_ONE(field, count)                                                                   \
    len[k] = (uint64_t)(count) * sizeof *s->field;                                                 \
    off[k] = at;                                                                                   \
    at += align64((size_t)len[k]);                                                                 \
    ++k;
    XS_SHARE_ARRAYS(XS_LAY_ONE)
#undef XS_LAY_ONE
    return at;
}

size_t xs_scene_share_bytes(const xs_scene *s)
{
    uint64_t off[SHARE_ARRAY_COUNT], len[SHARE_ARRAY_COUNT];
    return layout(s, off, len);
}

xs_result xs_scene_share_write(const xs_scene *s, void *block, size_t bytes, xs_err *err)
{
    if (s->anim && xs_scene_animated(s))
        return xs_err_set(err, XS_ERR_INTERNAL,
                          "scene %s: an animated scene is posed by each rank and cannot be the node's one copy",
                          s->name);
    share_head h;
    memset(&h, 0, sizeof h);
    size_t need = layout(s, h.off, h.len);
    if (bytes < need || ((uintptr_t)block & 63) != 0)
        return xs_err_set(err, XS_ERR_INTERNAL, "scene %s: a shared block of %zu bytes for %zu", s->name, bytes, need);
    unsigned char *b = (unsigned char *)block;
    int k = 0;
#define XS_COPY_ONE(field, count)                                                                  \
    if (h.len[k])                                                                                  \
        memcpy(b + h.off[k], s->field, (size_t)h.len[k]);                                          \
    ++k;
    XS_SHARE_ARRAYS(XS_COPY_ONE)
#undef XS_COPY_ONE
    h.bytes = need;
    snprintf(h.name, sizeof h.name, "%s", s->name);
    h.tri_count = s->tri_count, h.node_count = s->node_count, h.mesh_count = s->mesh_count;
    h.instance_count = s->instance_count, h.tlas_count = s->tlas_count, h.material_count = s->material_count;
    h.texture_count = s->texture_count, h.tex_level_count = s->tex_level_count;
    h.tex_page_count = s->tex_page_count, h.light_count = s->light_count, h.env_light = s->env_light;
    h.env_w = s->env_w, h.env_h = s->env_h;
    h.wnode_count = s->wnode_count, h.wroot = s->wroot, h.has_alpha = s->has_alpha, h.wdepth = s->wdepth;
    h.tex_pool_units = s->tex_pool_units, h.tex_paged_bytes = s->tex_paged_bytes, h.tex_paged = s->tex_paged;
    h.env_func_int = s->env_func_int, h.ray_eps = s->ray_eps, h.cam_yfov_deg = s->cam_yfov_deg;
    h.build_seconds = s->build_seconds;
    h.background = s->background, h.cam_pos = s->cam_pos, h.cam_fwd = s->cam_fwd, h.cam_up = s->cam_up;
    h.world_lo = s->world_lo, h.world_hi = s->world_hi;
    h.magic = SHARE_MAGIC;
    memcpy(block, &h, sizeof h);
    return XS_OK;
}

xs_result xs_scene_share_open(const void *block, size_t bytes, const xs_scene_build *build, xs_scene **out,
                              xs_err *err)
{
    *out = NULL;
    share_head h;
    if (bytes < sizeof h)
        return xs_err_set(err, XS_ERR_INTERNAL, "shared scene: a block of %zu bytes", bytes);
    memcpy(&h, block, sizeof h);
    if (h.magic != SHARE_MAGIC || h.bytes > bytes)
        return xs_err_set(err, XS_ERR_INTERNAL, "shared scene: the node's block holds no scene");
    xs_scene *s = xs_scene_alloc(h.name, build);
    if (!s)
        return xs_err_set(err, XS_ERR_NOMEM, "shared scene: out of memory");
    s->borrowed = true;
    s->tri_count = s->tri_cap = h.tri_count;
    s->node_count = s->node_cap = h.node_count;
    s->mesh_count = h.mesh_count, s->instance_count = h.instance_count, s->tlas_count = h.tlas_count;
    s->material_count = h.material_count, s->texture_count = h.texture_count;
    s->tex_level_count = h.tex_level_count, s->tex_page_count = h.tex_page_count;
    s->light_count = h.light_count, s->env_light = h.env_light, s->env_w = h.env_w, s->env_h = h.env_h;
    s->wnode_count = h.wnode_count, s->wroot = h.wroot, s->has_alpha = h.has_alpha != 0, s->wdepth = h.wdepth;
    s->tex_pool_units = (size_t)h.tex_pool_units, s->tex_paged_bytes = h.tex_paged_bytes;
    s->tex_paged = h.tex_paged != 0;
    s->env_func_int = h.env_func_int, s->ray_eps = h.ray_eps, s->cam_yfov_deg = h.cam_yfov_deg;
    s->build_seconds = h.build_seconds;
    s->background = h.background, s->cam_pos = h.cam_pos, s->cam_fwd = h.cam_fwd, s->cam_up = h.cam_up;
    s->world_lo = h.world_lo, s->world_hi = h.world_hi;
    const unsigned char *b = (const unsigned char *)block;
    int k = 0;
    bool ok = true;
#define XS_OPEN_ONE(field, count)                                                                  \
    ok &= h.off[k] <= h.bytes && h.len[k] <= h.bytes - h.off[k];                                   \
    s->field = h.len[k] ? (void *)(uintptr_t)(b + h.off[k]) : NULL;                               \
    ++k;
    XS_SHARE_ARRAYS(XS_OPEN_ONE)
#undef XS_OPEN_ONE
    uint64_t off[SHARE_ARRAY_COUNT], len[SHARE_ARRAY_COUNT];
    layout(s, off, len); /* the counts the head gives, against the arrays' sizes */
    for (int i = 0; i < SHARE_ARRAY_COUNT; ++i)
        ok &= len[i] == h.len[i];
    if (!ok) {
        xs_scene_destroy(s);
        return xs_err_set(err, XS_ERR_INTERNAL, "shared scene: the block's arrays do not match its counts");
    }
    *out = s;
    return XS_OK;
}
