/* The memory plan (see xs_memplan.h). The per-element sizes are the
 * kernels' structs (kernels/xs_types.h); the BVH estimate is what both
 * builders give (render/bvh.c: one node per triangle on meshes of 10^3 to
 * 10^6 triangles, 1.05 TLAS nodes per instance, measured), with a margin. */
#include "render/xs_memplan.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/xs_texpage.h"
#include "kernels/xs_types.h"
#include "render/xs_texcache.h"

enum { MIB = 1 << 20 };

static uint64_t image_pages_bytes(uint32_t w, uint32_t h)
{
    uint64_t b = 0;
    int levels = xs_texpage_levels(w, h);
    for (int l = 0; l < levels; ++l) {
        uint32_t lw, lh, nx, ny;
        xs_texpage_level(w, h, l, &lw, &lh, &nx, &ny);
        for (uint32_t py = 0; py < ny; ++py)
            for (uint32_t px = 0; px < nx; ++px) {
                uint32_t pw, ph;
                xs_texpage_page_size(lw, lh, px, py, &pw, &ph);
                b += (uint64_t)(pw * ph + XS_TEX_UNIT - 1) / XS_TEX_UNIT * XS_TEX_UNIT * 4u + 4u;
            }
        b += sizeof(xs_tex_level);
    }
    return b;
}

/* An animated scene's per-rank extra (render/scene_anim.c): which
 * instances move (their node or an ancestor is a channel's target) and
 * which deform (a skin, or morph targets), what posing keeps for them, and
 * under a shutter, what each motion step adds. Deforming instances' mesh
 * copies go to geometry and BVH (the built scene has them). */
static void plan_animation(const xs_gltf_scene *g, const xs_render_settings *rs, xs_mem_scene *m)
{
    m->animated = g->animation_count > 0 && g->nodes && strcmp(rs->animations, "none") != 0;
    if (!m->animated)
        return;
    uint8_t *target = calloc((size_t)(g->node_count ? g->node_count : 1), 1);
    for (int a = 0; target && a < g->animation_count; ++a)
        for (int c = 0; c < g->animations[a].channel_count; ++c) {
            int n = g->animations[a].channels[c].node;
            if (n >= 0 && n < g->node_count)
                target[n] = 1;
        }
    m->motion_steps = rs->shutter > 0.0f ? (uint32_t)(rs->motion_steps < 2 ? 2 : rs->motion_steps > 64 ? 64 : rs->motion_steps) : 0u;
    const uint64_t steps = m->motion_steps;
    const uint64_t ni = (uint64_t)g->instance_count;
    /* per instance: its file-order copy, this pose's and the last TLAS's
     * boxes, node and deformer indices, the TLAS order */
    m->pose = ni * (sizeof(xs_instance) + 12u * sizeof(float) + 8u + 4u + (g->instance_local ? 64u : 0u)) +
              (uint64_t)g->node_count * 256u;
    for (int i = 0; i < g->instance_count; ++i) {
        const xs_gltf_instance *in = &g->instances[i];
        const xs_gltf_node *nd = in->node >= 0 && in->node < g->node_count ? &g->nodes[in->node] : NULL;
        bool moves = false;
        for (int n = in->node, depth = 0; target && n >= 0 && n < g->node_count && depth < 1024 && !moves; ++depth) {
            moves = target[n] != 0;
            n = g->nodes[n].parent;
        }
        m->moving += moves;
        const xs_gltf_mesh *me = &g->meshes[in->mesh];
        const bool deforms = (nd && nd->skin >= 0) || me->target_count > 0;
        if (moves && steps) /* each step's transform, and its decomposition */
            m->motion += steps * (12u * sizeof(float) + sizeof(xs_motion_xf));
        if (!deforms)
            continue;
        m->deforming++;
        uint64_t nv = 0, nt = 0, extra = 0;
        for (int k = 0; k < me->prim_count; ++k) {
            const xs_gltf_primitive *p = &me->prims[k];
            nv += p->vertex_count, nt += p->tri_count;
            extra += (uint64_t)p->vertex_count * ((uint64_t)me->target_count * 36u + (uint64_t)p->influences * 6u);
        }
        /* its own copy of the mesh in the scene: triangles, attributes, a
         * tree with room to rebuild (2 nt - 1 nodes) */
        m->geometry += nt * (sizeof(xs_tri) + sizeof(xs_tri_attr) + sizeof(uint32_t));
        m->bvh += 2u * nt * sizeof(xs_bvh_node);
        m->triangles += nt;
        /* rest arrays (positions, uvs, normals, tangents; indices,
         * materials), the rest tree and its orders, deformed vertices and
         * their encodings, this pose's boxes; morph deltas and skin weights */
        m->pose += nv * (12u + 16u + 12u + 16u + 40u + 8u) + nt * (16u + 8u + 24u) + 2u * nt * sizeof(xs_bvh_node) + extra;
        /* the steps' triangles (kept, and copied into the scene's), a tree per segment */
        if (steps)
            m->motion += 2u * steps * nt * sizeof(xs_tri) + (steps - 1u) * 2u * nt * sizeof(xs_bvh_node);
    }
    if (steps) /* the camera's steps */
        m->motion += steps * (12u * sizeof(float) + sizeof(xs_motion_xf));
    free(target);
}

void xs_memplan_scene(const xs_scene_input *in, uint64_t package_bytes, const xs_render_settings *rs,
                      xs_mem_scene *m)
{
    memset(m, 0, sizeof *m);
    const xs_gltf_scene *g = in->gltf;
    m->package = package_bytes;
    m->unpacked = in->pkg ? in->pkg->total_bytes : 0;
    uint64_t tris = 0, biggest = 0;
    for (int i = 0; i < g->mesh_count; ++i) {
        uint64_t mt = 0;
        for (int k = 0; k < g->meshes[i].prim_count; ++k) {
            const xs_gltf_primitive *p = &g->meshes[i].prims[k];
            uint64_t floats = 3u + (p->normals ? 3u : 0u) + (p->uv0 ? 2u : 0u) + (p->uv1 ? 2u : 0u) +
                              (p->tangents ? 4u : 0u);
            m->gltf += (uint64_t)p->vertex_count * floats * 4u + (uint64_t)p->tri_count * 12u;
            mt += p->tri_count;
        }
        tris += mt;
        biggest = mt > biggest ? mt : biggest;
    }
    m->gltf += (uint64_t)g->instance_count * sizeof(xs_gltf_instance);
    m->triangles = tris;
    m->embree_tris = tris;
    m->instance_count = (uint64_t)g->instance_count;
    m->geometry = tris * (sizeof(xs_tri) + sizeof(xs_tri_attr) + sizeof(uint32_t));
    m->bvh_estimated = true;
    m->bvh = (uint64_t)((double)tris * 1.1 + (double)g->instance_count * 1.2 + 64.0) * sizeof(xs_bvh_node);
    m->instances = m->instance_count * (sizeof(xs_instance) + sizeof(uint32_t));
    m->other = (uint64_t)(g->material_count + 1) * sizeof(xs_material) +
               (uint64_t)(g->light_count + 1) * (sizeof(xs_light) + 8u) +
               (uint64_t)g->texture_count * (sizeof(xs_texture) + sizeof(float));
    if (in->env.rgba) {
        uint64_t w = (uint64_t)in->env.width, h = (uint64_t)in->env.height;
        m->other += w * h * 3u * 4u + (h + 1u) * 4u + h * (w + 1u) * 4u;
        m->gltf += w * h * 16u; /* the decoded float image */
    }
    if (in->pages) {
        m->paged = true;
        m->texture_set = in->pages->texel_bytes;
        m->texture_pages = in->pages->page_count;
    } else {
        for (int i = 0; i < g->image_count; ++i) {
            const xs_image8 *im = &g->images[i];
            if (!im->rgba8 || im->width < 1 || im->height < 1)
                continue;
            m->gltf += (uint64_t)im->width * (uint64_t)im->height * 4u;
            m->textures_held += image_pages_bytes((uint32_t)im->width, (uint32_t)im->height);
            m->texture_pages += xs_texpage_count((uint32_t)im->width, (uint32_t)im->height);
        }
    }
    /* the builder's scratch: one batch of BLAS builds (up to 8 M triangles:
     * triangles in, nodes, order, the builders' keys) and the biggest mesh's
     * gathered vertex arrays; the TLAS: instance boxes, order, the sorted copy */
    uint64_t batch = biggest > (8u << 20) ? biggest : (tris < (8u << 20) ? tris : (8u << 20));
    m->build_extra = batch * (sizeof(xs_tri) + sizeof(xs_bvh_node) + 24u) + biggest * 64u +
                     m->instance_count * (24u + 8u + sizeof(xs_instance)) + m->textures_held / 4u;
    if (rs)
        plan_animation(g, rs, m);
}

void xs_memplan_scene_built(const xs_scene *s, xs_mem_scene *m)
{
    xs_scene_view v = xs_scene_view_for(s, 1, 1);
    xs_scene_blob b[XS_SCENE_BLOBS_MAX];
    int n = xs_scene_blobs(s, &v, b, XS_SCENE_BLOBS_MAX);
    uint64_t geo = 0, bvh = 0, inst = 0, held = 0, other = 0;
    for (int i = 0; i < n; ++i) {
        const char *k = b[i].name;
        if (!strcmp(k, "tris") || !strcmp(k, "attrs") || !strcmp(k, "tri_light"))
            geo += b[i].bytes;
        else if (!strcmp(k, "nodes") || !strcmp(k, "tlas"))
            bvh += b[i].bytes;
        else if (!strcmp(k, "instances") || !strcmp(k, "inst_light_base"))
            inst += b[i].bytes;
        else if (!strcmp(k, "tex_pool") || !strcmp(k, "tex_page") || !strcmp(k, "tex_levels"))
            held += b[i].bytes;
        else if (strcmp(k, "ggx_tables") != 0 && strcmp(k, "filter_icdf") != 0 && strcmp(k, "srgb_to_linear") != 0)
            other += b[i].bytes;
    }
    m->geometry = geo;
    m->bvh = bvh;
    m->instances = inst;
    m->other = other;
    xs_scene_tex_info ti;
    xs_scene_tex_info_get(s, &ti);
    if (!ti.paged)
        m->textures_held = held;
    m->bvh_estimated = false;
    /* what Embree builds (render/backend_embree.c): an identity instance's
     * triangles in the top scene, each transformed instance's mesh once */
    uint64_t et = 0;
    uint8_t *seen = calloc(v.meshes ? (size_t)xs_scene_mesh_count(s) + 1u : 1u, 1);
    for (uint32_t i = 0; i < v.instance_count; ++i) {
        const xs_instance *in = &v.instances[i];
        const uint64_t mt = v.meshes[in->mesh].tri_count;
        if ((in->flags & XS_INST_IDENTITY) != 0u)
            et += mt;
        else if (!seen || !seen[in->mesh]) {
            et += mt;
            if (seen)
                seen[in->mesh] = 1;
        }
    }
    free(seen);
    m->embree_tris = et;
    m->instance_count = v.instance_count;
}

/* Embree's bytes (its memory monitor, render/backend_embree.c) measured at
 * 69-83 a triangle held and 114-155 at the build's peak, on 32 to 180,000
 * triangles (tests/test_embree memory_plan prints them); planned at the
 * peak with a margin, plus each instance's geometry and a device's base. */
enum { EMBREE_TRI = 160, EMBREE_INSTANCE = 512, EMBREE_BASE = 64 * 1024 };

uint64_t xs_memplan_embree(const xs_mem_scene *m)
{
    return m->embree_tris * EMBREE_TRI + m->instance_count * EMBREE_INSTANCE + EMBREE_BASE;
}

uint64_t xs_memplan_scene_bytes(const xs_mem_scene *m)
{
    return m->geometry + m->bvh + m->instances + m->other + m->textures_held;
}

/* ---- the node ---------------------------------------------------------------------------- */

static uint64_t read_u64_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long long v = 0;
    if (fscanf(f, "%llu", &v) != 1)
        v = 0;
    fclose(f);
    return (uint64_t)v;
}

/* The cgroup's memory limit and usage (v2 memory.max, v1
 * memory.limit_in_bytes), at the process's cgroup path or at the root (a
 * cgroup namespace shows the root). */
static void cgroup_memory(uint64_t *limit, uint64_t *usage)
{
    *limit = *usage = 0;
    char line[512], v1[400] = "", v2[400] = "";
    FILE *f = fopen("/proc/self/cgroup", "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "0::", 3) == 0)
            snprintf(v2, sizeof v2, "%s", line + 3);
        char *m = strstr(line, ":memory:");
        if (m)
            snprintf(v1, sizeof v1, "%s", m + 8);
    }
    if (f)
        fclose(f);
    /* {folder under /sys/fs/cgroup, the cgroup's path, limit file, usage file} */
    const char *cand[4][4] = {{"", v2, "memory.max", "memory.current"},
                              {"", "", "memory.max", "memory.current"},
                              {"/memory", v1, "memory.limit_in_bytes", "memory.usage_in_bytes"},
                              {"/memory", "", "memory.limit_in_bytes", "memory.usage_in_bytes"}};
    for (int i = 0; i < 4; ++i) {
        char p[600];
        snprintf(p, sizeof p, "/sys/fs/cgroup%s%s/%s", cand[i][0], cand[i][1], cand[i][2]);
        uint64_t v = read_u64_file(p); /* "max" reads as 0: no limit */
        if (v > 0 && v < (1ull << 60)) {
            *limit = v;
            snprintf(p, sizeof p, "/sys/fs/cgroup%s%s/%s", cand[i][0], cand[i][1], cand[i][3]);
            *usage = read_u64_file(p);
            return;
        }
    }
}

void xs_node_memory_read(xs_node_memory *o)
{
    memset(o, 0, sizeof *o);
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        unsigned long long kb = 0;
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
            o->total = (uint64_t)kb << 10;
        else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            o->available = (uint64_t)kb << 10;
    }
    if (f)
        fclose(f);
    cgroup_memory(&o->cgroup_limit, &o->cgroup_usage);
}

uint64_t xs_node_memory_usable(const xs_node_memory *m)
{
    uint64_t u = m->available ? m->available : m->total;
    if (m->cgroup_limit) {
        uint64_t left = m->cgroup_limit > m->cgroup_usage ? m->cgroup_limit - m->cgroup_usage : 0;
        u = left < u ? left : u;
    }
    return u;
}

void xs_process_memory(uint64_t *rss, uint64_t *pss)
{
    *rss = *pss = 0;
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f)) {
        unsigned long long kb = 0;
        if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
            *rss = (uint64_t)kb << 10;
    }
    if (f)
        fclose(f);
    f = fopen("/proc/self/smaps_rollup", "r");
    while (f && fgets(line, sizeof line, f)) {
        unsigned long long kb = 0;
        if (sscanf(line, "Pss: %llu kB", &kb) == 1)
            *pss = (uint64_t)kb << 10;
    }
    if (f)
        fclose(f);
}

uint64_t xs_memplan_rank_buffers(const xs_render_settings *rs, int writers)
{
    uint64_t ch = (uint64_t)xs_aov_channels(rs->aovs);
    uint64_t tile = (uint64_t)rs->tile * (uint64_t)rs->tile * ch * 4u;
    int wr = writers > 0 ? writers : 1;
    /* tile buffers (one per writer and one being filled), each writer's
     * compression (the packed chunk and OpenEXR's scratch: 2 tiles), and a
     * frame's assembly: a band of tile rows across the frame */
    return (uint64_t)(wr + 1) * tile + (uint64_t)wr * 2u * tile +
           (uint64_t)rs->tile * (uint64_t)rs->width * 4u * 4u + 4u * MIB;
}

void xs_memplan_node(const xs_mem_scene *m, xs_mem_node_plan *p)
{
    p->scene = xs_memplan_scene_bytes(m);
    p->embree_copy = p->embree ? xs_memplan_embree(m) : 0u;
    /* an animated scene is posed per rank: never the node's one copy */
    const bool one_copy = p->shared && !m->animated;
    int copies = one_copy ? (p->renderers > 0 ? 1 : 0) : p->renderers;
    p->scene_total = p->scene * (uint64_t)copies;
    const uint64_t posed = m->animated ? m->pose + m->motion : 0; /* a rendering rank's own */
    /* the builder holds the package, its files, the parsed glTF and the
     * build's scratch, and (sharing) the scene before its copy to the block */
    p->build = m->package + m->unpacked + m->gltf + m->build_extra + (one_copy ? p->scene : 0);
    uint64_t ranks = (uint64_t)p->ranks, rend = (uint64_t)p->renderers;
    uint64_t cache = m->paged && rend > 0 ? p->cache : 0;
    uint64_t caches = p->shared ? cache : cache * rend; /* one a node, or one a rendering rank */
    p->node_steady = ranks * p->runtime + rend * (p->rank_buffers + posed + p->embree_copy) + p->scene_total + caches;
    /* builders: one per node when shared; else every renderer builds its own at once */
    uint64_t builders = one_copy ? (rend > 0 ? 1 : 0) : rend;
    p->node_peak = p->node_steady - rend * p->rank_buffers + builders * p->build;
    if (p->node_peak < p->node_steady)
        p->node_peak = p->node_steady;
    p->rank_peak = p->runtime + p->build + p->scene + posed;
    p->rank_steady = p->runtime + p->rank_buffers + p->scene + posed + cache + p->embree_copy;
    p->node_limit = p->node_has;
    if (p->node_budget && p->node_budget < p->node_limit)
        p->node_limit = p->node_budget;
    p->fits = true;
    p->why[0] = '\0';
    char a[32], b[32];
    if (p->node_limit && p->node_peak > p->node_limit) {
        p->fits = false;
        snprintf(p->why, sizeof p->why, "the node needs %s at its peak, over the %s it %s",
                 xs_mem_str(p->node_peak, a, sizeof a), xs_mem_str(p->node_limit, b, sizeof b),
                 p->node_budget && p->node_budget <= p->node_has ? "may use (--mem-budget node=)" : "has available");
    } else if (p->rank_budget && (p->rank_peak > p->rank_budget || p->rank_steady > p->rank_budget)) {
        p->fits = false;
        uint64_t worst = p->rank_peak > p->rank_steady ? p->rank_peak : p->rank_steady;
        snprintf(p->why, sizeof p->why, "a rank needs %s at its peak, over the budget of %s a rank (--mem-budget)",
                 xs_mem_str(worst, a, sizeof a), xs_mem_str(p->rank_budget, b, sizeof b));
    }
}

uint64_t xs_memplan_cache(const xs_mem_scene *m, const xs_mem_node_plan *p0, uint64_t given)
{
    if (!m->paged)
        return 0;
    uint64_t c = given;
    if (!c) {
        uint64_t left = p0->node_limit > p0->node_peak ? p0->node_limit - p0->node_peak : 0;
        uint64_t all = xs_texcache_bytes(m->texture_pages, m->texture_pages);
        c = all < left / 4 ? all : left / 4;
    }
    return xs_texcache_bytes(m->texture_pages, xs_texcache_slots_for(c, m->texture_pages));
}

const char *xs_mem_str(uint64_t v, char *buf, size_t n)
{
    if (v >= (1ull << 30))
        snprintf(buf, n, "%.2f GiB", (double)v / (double)(1ull << 30));
    else if (v >= (1ull << 20))
        snprintf(buf, n, "%.1f MiB", (double)v / (double)(1ull << 20));
    else if (v >= 1024)
        snprintf(buf, n, "%.1f KiB", (double)v / 1024.0);
    else
        snprintf(buf, n, "%" PRIu64 " B", v);
    return buf;
}

void xs_memplan_print(FILE *f, const char *in, const xs_mem_scene *m, const xs_mem_node_plan *p)
{
    char a[32], b[32], c[32], d[32], e[32], g[32];
    fprintf(f, "%sscene, one copy: %s = geometry %s (%" PRIu64 " triangles) + BVH %s%s + instances %s (%" PRIu64
               ") + materials, lights, environment %s + textures held whole %s\n",
            in, xs_mem_str(p->scene, a, sizeof a), xs_mem_str(m->geometry, b, sizeof b), m->triangles,
            xs_mem_str(m->bvh, c, sizeof c), m->bvh_estimated ? " (estimated)" : "",
            xs_mem_str(m->instances, d, sizeof d), m->instance_count, xs_mem_str(m->other, e, sizeof e),
            xs_mem_str(m->textures_held, g, sizeof g));
    if (m->paged)
        fprintf(f, "%stexture pages: %s in %" PRIu64 " pages, read on demand through a cache of %s per node (%.1f%% of the set)\n",
                in, xs_mem_str(m->texture_set, a, sizeof a), m->texture_pages, xs_mem_str(p->cache, b, sizeof b),
                m->texture_set ? 100.0 * (double)p->cache / (double)m->texture_set : 100.0);
    if (m->animated)
        fprintf(f, "%sanimated: each rendering rank builds and poses its own copy; per rank besides it: pose state %s "
                   "(%" PRIu64 " moving, %" PRIu64 " deforming instance(s)), motion blur %s (%u steps)%s\n",
                in, xs_mem_str(m->pose, a, sizeof a), m->moving, m->deforming, xs_mem_str(m->motion, b, sizeof b),
                m->motion_steps, m->paged && p->shared ? "; the texture cache stays one per node" : "");
    fprintf(f, "%sbuilding it (once per %s, then freed): package %s, its files %s, parsed glTF %s, build scratch %s%s\n",
            in, p->shared && !m->animated ? "node" : "rendering rank", xs_mem_str(m->package, a, sizeof a),
            xs_mem_str(m->unpacked, b, sizeof b), xs_mem_str(m->gltf, c, sizeof c),
            xs_mem_str(m->build_extra, d, sizeof d),
            p->shared && !m->animated ? " and the scene before its copy to the node's block" : "");
    fprintf(f, "%sper rank: runtime %s; a rendering rank's tile buffers, compression and assembly %s\n", in,
            xs_mem_str(p->runtime, a, sizeof a), xs_mem_str(p->rank_buffers, b, sizeof b));
    if (p->embree)
        fprintf(f, "%s--backend embree: a rendering rank's own Embree copy (BVHs, primitive data, at its build's "
                   "peak) %s (%" PRIu64 " triangles)\n",
                in, xs_mem_str(p->embree_copy, a, sizeof a), m->embree_tris);
    fprintf(f, "%snode of %d rank(s) (%d rendering, scene %s): %s while rendering, %s at the peak of the build; "
               "a rank: %s rendering, %s building\n",
            in, p->ranks, p->renderers,
            p->shared && !m->animated ? "shared once" : m->animated ? "posed once per rendering rank" : "once per rendering rank",
            xs_mem_str(p->node_steady, a, sizeof a), xs_mem_str(p->node_peak, b, sizeof b),
            xs_mem_str(p->rank_steady, c, sizeof c), xs_mem_str(p->rank_peak, d, sizeof d));
    char nb[64] = "", rb[64] = "";
    if (p->node_budget)
        snprintf(nb, sizeof nb, ", a budget of %s the node", xs_mem_str(p->node_budget, b, sizeof b));
    if (p->rank_budget)
        snprintf(rb, sizeof rb, ", %s a rank", xs_mem_str(p->rank_budget, e, sizeof e));
    fprintf(f, "%sthe node has %s usable%s%s; %s\n", in, xs_mem_str(p->node_has, a, sizeof a), nb, rb,
            p->fits ? "it fits" : p->why);
}

xs_result xs_mem_parse(const char *field, const char *s, uint64_t *out, xs_err *err)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0)
        return xs_err_set(err, XS_ERR_INVALID, "%s: expected a size such as 512M or 8G, got '%s'", field, s);
    double unit = 1.0;
    switch (*end) {
    case 'k': case 'K': unit = 1024.0, ++end; break;
    case 'm': case 'M': unit = 1048576.0, ++end; break;
    case 'g': case 'G': unit = 1073741824.0, ++end; break;
    case 't': case 'T': unit = 1099511627776.0, ++end; break;
    default: break;
    }
    if (unit > 1.0 && *end == 'i')
        ++end;
    if (*end == 'B')
        ++end;
    if (*end != '\0')
        return xs_err_set(err, XS_ERR_INVALID, "%s: expected a size such as 512M or 8G, got '%s'", field, s);
    double b = v * unit;
    if (b < 1048576.0 || b > 1.0e18)
        return xs_err_set(err, XS_ERR_INVALID, "%s: must be from 1M to 800P bytes, got '%s'", field, s);
    *out = (uint64_t)b;
    return XS_OK;
}
