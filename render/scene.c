/* The scene container (see xs_scene.h and scene_internal.h): meshes with
 * their BLAS and shading attributes, instances and the TLAS over them, a
 * scene from a triangle soup (one mesh, one instance), the kernels' view of
 * it and the arrays behind that view. A glTF scene is built in
 * scene_gltf.c, the lights in scene_lights.c. */
#include "render/scene_internal.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/cpu/kernel_cpu.h"
#include "kernels/xs_path.h"
#include "render/xs_parallel.h"
#include "render/xs_texcache.h"
#include "render/xs_wbvh.h"

double xs_scene_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double xs_scene_build_seconds(const xs_scene *s) { return s->build_seconds; }


void xs_scene_destroy(xs_scene *s)
{
    if (!s)
        return;
    if (!s->borrowed) {
        free(s->tris), free(s->attrs), free(s->nodes), free(s->meshes), free(s->instances);
        free(s->tlas), free(s->wtris), free(s->wnodes), free(s->materials), free(s->textures), free(s->texture_mean);
        free(s->tex_levels), free(s->tex_page), free(s->tex_pool);
        free(s->lights), free(s->light_cdf), free(s->light_pmf), free(s->env);
        free(s->inst_light_base), free(s->tri_light), free(s->env_row_cdf), free(s->env_col_cdf);
        free(s->tlas_order), free(s->inst_boxes), free(s->mesh_emissive);
    }
    free(s->motion_xf), free(s->motion_tris), free(s->motion_nodes);
    xs_scene_anim_destroy(s->anim);
    free(s);
}

xs_scene *xs_scene_alloc(const char *name, const xs_scene_build *build)
{
    xs_scene *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->name, sizeof s->name, "%s", name ? name : "scene");
    xs_srgb_table(s->srgb);
    s->ray_eps = 1e-5f;
    s->env_light = UINT32_MAX;
    s->camera_motion = UINT32_MAX;
    s->build_threads = build && build->threads > 0 ? build->threads : xs_cpu_count_affinity();
    s->bvh_method = build ? build->bvh : XS_BVH_AUTO;
    s->motion_bvh = build ? build->motion_bvh : XS_MOTION_BVH_SEGMENTS;
    xs_scene_set_filter(s, XS_FILTER_BLACKMAN_HARRIS, 1.5f);
    return s;
}

static bool grow(void **p, uint32_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    if (need > UINT32_MAX)
        return false;
    uint64_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    if (nc > UINT32_MAX)
        nc = UINT32_MAX;
    void *n = realloc(*p, (size_t)nc * elem);
    if (!n)
        return false;
    *p = n;
    *cap = (uint32_t)nc;
    return true;
}

/* Adds a mesh: triangles from positions (3 floats a vertex) and indices (3 a
 * triangle), optional uv sets (2 floats a vertex), one material a triangle.
 * Builds its BLAS and appends it. */
/* Tangent of triangle (a, b, c) from its uv gradient; w: handedness. false
 * when the uv mapping is degenerate. */
static bool uv_tangent(const float *pa, const float *pb, const float *pc, const float *ta,
                       const float *tb, const float *tc, const float *n, xs_vec3 *t, float *w)
{
    xs_vec3 e1 = xs_v3(pb[0] - pa[0], pb[1] - pa[1], pb[2] - pa[2]);
    xs_vec3 e2 = xs_v3(pc[0] - pa[0], pc[1] - pa[1], pc[2] - pa[2]);
    float du1 = tb[0] - ta[0], dv1 = tb[1] - ta[1], du2 = tc[0] - ta[0], dv2 = tc[1] - ta[1];
    float det = du1 * dv2 - du2 * dv1;
    if (!(fabsf(det) > 1e-20f))
        return false;
    float r = 1.0f / det;
    xs_vec3 tt = xs_scale(xs_sub(xs_scale(e1, dv2), xs_scale(e2, dv1)), r);
    xs_vec3 bb = xs_scale(xs_sub(xs_scale(e2, du1), xs_scale(e1, du2)), r);
    if (!(xs_dot(tt, tt) > 0.0f) || !isfinite(tt.x + tt.y + tt.z))
        return false;
    *t = xs_normalize(tt);
    xs_vec3 nn = n ? xs_v3(n[0], n[1], n[2]) : xs_cross(e1, e2);
    *w = xs_dot(xs_cross(nn, *t), bb) < 0.0f ? -1.0f : 1.0f;
    return true;
}

static bool nonzero3(const float *v) { return v[0] != 0.0f || v[1] != 0.0f || v[2] != 0.0f; }

/* Fills a triangle's normals and tangents (flags) from optional vertex
 * arrays; tangents fall back to the uv0 gradient (a normal map needs them). */
void xs_scene_attr_frames(xs_tri_attr *at, const uint32_t *vi, const float *pos, const float *nrm,
                          const float *tan, const float *uv0)
{
    bool has_n = nrm != NULL, has_t = tan != NULL;
    for (int c = 0; c < 3 && has_n; ++c)
        has_n = nonzero3(nrm + 3 * (size_t)vi[c]);
    for (int c = 0; c < 3 && has_t; ++c)
        has_t = nonzero3(tan + 4 * (size_t)vi[c]);
    if (has_n) {
        at->flags |= XS_ATTR_NORMALS;
        for (int c = 0; c < 3; ++c) {
            const float *n = nrm + 3 * (size_t)vi[c];
            at->n[c] = xs_oct_encode(xs_v3(n[0], n[1], n[2]));
        }
    }
    if (has_t) {
        at->flags |= XS_ATTR_TANGENTS;
        for (int c = 0; c < 3; ++c) {
            const float *t = tan + 4 * (size_t)vi[c];
            at->t[c] = xs_oct_encode(xs_v3(t[0], t[1], t[2]));
        }
        if (tan[4 * (size_t)vi[0] + 3] < 0.0f)
            at->flags |= XS_ATTR_BITAN_NEG;
    } else if (uv0) {
        xs_vec3 t;
        float w;
        if (uv_tangent(pos + 3 * (size_t)vi[0], pos + 3 * (size_t)vi[1], pos + 3 * (size_t)vi[2],
                       uv0 + 2 * (size_t)vi[0], uv0 + 2 * (size_t)vi[1], uv0 + 2 * (size_t)vi[2],
                       has_n ? nrm + 3 * (size_t)vi[0] : NULL, &t, &w)) {
            at->flags |= XS_ATTR_TANGENTS | (w < 0.0f ? XS_ATTR_BITAN_NEG : 0u);
            at->t[0] = at->t[1] = at->t[2] = xs_oct_encode(t);
        }
    }
}

/* The triangle with corners a, b, c (3 floats each). */
xs_tri xs_tri_of(const float *a, const float *b, const float *c)
{
    xs_tri t;
    t.v0 = xs_v3(a[0], a[1], a[2]);
    t.e1 = xs_v3(b[0] - a[0], b[1] - a[1], b[2] - a[2]);
    t.e2 = xs_v3(c[0] - a[0], c[1] - a[1], c[2] - a[2]);
    return t;
}

void xs_mesh_blas_free(xs_mesh_blas *b)
{
    free(b->in), free(b->nodes), free(b->order);
    b->in = NULL, b->nodes = NULL, b->order = NULL;
}

/* Adds a mesh; with pre (its triangles and BLAS built ahead from the same
 * pos and idx) it takes them over instead of building. */
xs_result xs_scene_add_mesh(xs_scene *s, const float *pos, uint32_t nverts,
                                const uint32_t *idx, uint32_t ntris, const float *uv0,
                                const float *uv1, const float *nrm, const float *tan,
                                const uint32_t *mat_of_tri, xs_mesh_blas *pre, uint32_t **order_out,
                                xs_err *err)
{
    (void)nverts;
    xs_tri *in = NULL;
    xs_bvh_node *nodes = NULL;
    uint32_t nn = 0, *order = NULL;
    if (pre) {
        in = pre->in, nodes = pre->nodes, nn = pre->nn, order = pre->order;
        pre->in = NULL, pre->nodes = NULL, pre->order = NULL;
    } else {
        in = malloc((ntris ? ntris : 1) * sizeof *in);
        if (!in)
            return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
        for (uint32_t i = 0; i < ntris; ++i)
            in[i] = xs_tri_of(pos + 3 * (size_t)idx[3 * i], pos + 3 * (size_t)idx[3 * i + 1],
                           pos + 3 * (size_t)idx[3 * i + 2]);
        double t0 = xs_scene_clock();
        xs_result r = xs_bvh_build_with(in, ntris, s->build_threads, s->bvh_method, &nodes, &nn, &order, err);
        s->build_seconds += xs_scene_clock() - t0;
        if (r != XS_OK) {
            free(in);
            return r;
        }
    }
    uint32_t tbase = s->tri_count, nbase = s->node_count;
    uint32_t mcap = s->mesh_cap;
    if (!grow((void **)&s->tris, &s->tri_cap, (uint64_t)tbase + ntris, sizeof *s->tris) ||
        !(s->attrs = realloc(s->attrs, (size_t)s->tri_cap * sizeof *s->attrs)) ||
        !grow((void **)&s->nodes, &s->node_cap, (uint64_t)nbase + nn, sizeof *s->nodes) ||
        !(s->wtris = realloc(s->wtris, (size_t)s->tri_cap * sizeof *s->wtris)) ||
        !grow((void **)&s->meshes, &mcap, (uint64_t)s->mesh_count + 1, sizeof *s->meshes)) {
        free(in), free(nodes), free(order);
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    }
    s->mesh_cap = mcap;
    for (uint32_t i = 0; i < ntris; ++i) {
        uint32_t k = order[i];
        s->tris[tbase + i] = in[k];
        /* the vertices exactly as the mesh gives them: shared edges stay
         * bit-identical (the watertight test needs that) */
        xs_wtri *wt = &s->wtris[tbase + i];
        memset(wt, 0, sizeof *wt);
        memcpy(wt->v0, pos + 3 * (size_t)idx[3 * k], sizeof wt->v0);
        memcpy(wt->v1, pos + 3 * (size_t)idx[3 * k + 1], sizeof wt->v1);
        memcpy(wt->v2, pos + 3 * (size_t)idx[3 * k + 2], sizeof wt->v2);
        wt->world_inst = UINT32_MAX;
        wt->material = mat_of_tri[k];
        xs_tri_attr *at = &s->attrs[tbase + i];
        memset(at, 0, sizeof *at);
        for (int c = 0; c < 3; ++c) {
            uint32_t v = idx[3 * k + (uint32_t)c];
            if (uv0) {
                at->uv[0][2 * c] = uv0[2 * (size_t)v];
                at->uv[0][2 * c + 1] = uv0[2 * (size_t)v + 1];
            }
            if (uv1) {
                at->uv[1][2 * c] = uv1[2 * (size_t)v];
                at->uv[1][2 * c + 1] = uv1[2 * (size_t)v + 1];
            }
        }
        at->material = mat_of_tri[k];
        xs_scene_attr_frames(at, idx + 3 * (size_t)k, pos, nrm, tan, uv0);
    }
    for (uint32_t i = 0; i < nn; ++i) {
        xs_bvh_node n = nodes[i];
        n.first += n.count > 0 ? tbase : nbase;
        s->nodes[nbase + i] = n;
    }
    s->meshes[s->mesh_count].root = nbase;
    s->meshes[s->mesh_count].wroot = UINT32_MAX; /* its wide tree, when an instance walks it (xs_scene_wide) */
    s->meshes[s->mesh_count].tri_first = tbase;
    s->meshes[s->mesh_count].tri_count = ntris;
    s->meshes[s->mesh_count].motion = UINT32_MAX;
    s->meshes[s->mesh_count].seg_nodes = UINT32_MAX;
    s->meshes[s->mesh_count].seg_stride = 0;
    s->mesh_count++;
    s->tri_count += ntris;
    s->node_count += nn;
    free(in), free(nodes);
    if (order_out)
        *order_out = order;
    else
        free(order);
    return XS_OK;
}

/* Inverts a row-major 3x4 affine transform; false when singular. */
bool xs_scene_invert34(const float *m, float *inv, float *det_out)
{
    double a = m[0], b = m[1], c = m[2], d = m[4], e = m[5], f = m[6], g = m[8], h = m[9], i = m[10];
    double det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
    *det_out = (float)det;
    if (!(fabs(det) > 1e-30) || !isfinite(det))
        return false;
    double id = 1.0 / det;
    double r[9] = {(e * i - f * h) * id, (c * h - b * i) * id, (b * f - c * e) * id,
                   (f * g - d * i) * id, (a * i - c * g) * id, (c * d - a * f) * id,
                   (d * h - e * g) * id, (b * g - a * h) * id, (a * e - b * d) * id};
    for (int row = 0; row < 3; ++row) {
        inv[row * 4 + 0] = (float)r[row * 3 + 0];
        inv[row * 4 + 1] = (float)r[row * 3 + 1];
        inv[row * 4 + 2] = (float)r[row * 3 + 2];
        inv[row * 4 + 3] = (float)-(r[row * 3 + 0] * m[3] + r[row * 3 + 1] * m[7] + r[row * 3 + 2] * m[11]);
    }
    return true;
}

xs_result xs_scene_add_instance(xs_scene *s, uint32_t mesh, const float *xf34, uint32_t *cap,
                                    xs_err *err)
{
    if (!grow((void **)&s->instances, cap, (uint64_t)s->instance_count + 1, sizeof *s->instances))
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    xs_instance *in = &s->instances[s->instance_count];
    memset(in, 0, sizeof *in);
    memcpy(in->xf, xf34, sizeof in->xf);
    float det = 0.0f;
    if (!xs_scene_invert34(xf34, in->inv, &det))
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: instance %u has a singular transform",
                          s->name, s->instance_count);
    in->mesh = mesh;
    in->flags = det < 0.0f ? XS_INST_FLIPPED : 0u;
    s->instance_count++;
    return XS_OK;
}

static bool is_identity(const float *xf)
{
    static const float id[12] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
    for (int i = 0; i < 12; ++i)
        if (xf[i] != id[i])
            return false;
    return true;
}

/* Marks the elements of array `now` (n of them, `size` bytes each; the
 * view's field at view_offset) that differ from `was` (n_was of them), as
 * one range from the first to the last; elements past n_was count as
 * changed. */
static void mark_changed(xs_scene *s, size_t view_offset, const void *was, uint32_t n_was, const void *now,
                         uint32_t n, size_t size)
{
    uint32_t lo = UINT32_MAX, hi = 0;
    const char *a = (const char *)was, *b = (const char *)now;
    for (uint32_t i = 0; i < n; ++i)
        if (i >= n_was || !a || memcmp(a + (size_t)i * size, b + (size_t)i * size, size) != 0) {
            lo = lo < i ? lo : i;
            hi = i + 1;
        }
    if (lo < hi)
        xs_scene_mark(s, view_offset, (size_t)lo * size, (size_t)hi * size);
}

/* The largest coordinate of the camera's position: rays start there or on
 * a surface, and the wide BVH's box margins cover both (render/wbvh.c). */
static float camera_magnitude(const xs_scene *s)
{
    return fmaxf(fabsf(s->cam_pos.x), fmaxf(fabsf(s->cam_pos.y), fabsf(s->cam_pos.z)));
}

xs_result xs_scene_cover_camera(xs_scene *s, xs_err *err)
{
    if (s->wnodes && !(camera_magnitude(s) <= s->wide_origin_bound))
        return xs_scene_wide(s, err);
    return XS_OK;
}

/* The wide BVH over the binary trees; the first still identity instance of
 * each mesh that does not deform within the shutter joins the top tree (its
 * triangles name it as their instance), so a scene of identity instances is
 * walked without a transform or a second level. Then each triangle's alpha
 * flag from its material. Moving instances stay instances: the top tree
 * takes their boxes from the binary top tree, which covers the shutter. */
xs_result xs_scene_wide(xs_scene *s, xs_err *err)
{
    uint8_t *merged = calloc(s->instance_count ? s->instance_count : 1, 1);
    uint8_t *taken = calloc((size_t)s->mesh_count + 1, 1);
    uint8_t *moves = calloc(s->instance_count ? s->instance_count : 1, 1);
    uint8_t *binary = calloc((size_t)s->mesh_count + 1, 1);
    uint32_t *broot = malloc(((size_t)s->mesh_count + 1) * sizeof *broot);
    xs_mesh *was_meshes = malloc(((size_t)s->mesh_count + 1) * sizeof *was_meshes);
    xs_instance *was_inst = malloc(((size_t)s->instance_count + 1) * sizeof *was_inst);
    if (!merged || !taken || !moves || !binary || !broot || !was_meshes || !was_inst) {
        free(merged), free(taken), free(moves), free(binary), free(broot), free(was_meshes), free(was_inst);
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    }
    memcpy(was_meshes, s->meshes, (size_t)s->mesh_count * sizeof *was_meshes);
    memcpy(was_inst, s->instances, (size_t)s->instance_count * sizeof *was_inst);
    for (uint32_t m = 0; m < s->mesh_count; ++m) {
        broot[m] = s->meshes[m].root;
        /* deforming within the shutter: walked by the binary traversal only */
        binary[m] = s->motion_steps >= 2u && s->meshes[m].motion != UINT32_MAX;
    }
    for (uint32_t i = 0; i < s->instance_count; ++i) {
        xs_instance *in = &s->instances[i];
        in->flags &= ~(uint32_t)XS_INST_IDENTITY;
        moves[i] = (in->flags & XS_INST_MOTION) != 0u || s->meshes[in->mesh].motion != UINT32_MAX;
        if (!is_identity(in->xf) || (in->flags & XS_INST_MOTION) != 0u)
            continue;
        in->flags |= XS_INST_IDENTITY;
        if (taken[in->mesh] || s->meshes[in->mesh].motion != UINT32_MAX)
            continue; /* a second identity copy of a mesh, or one deforming within the shutter: an instance */
        taken[in->mesh] = 1;
        merged[i] = 1;
    }
    /* each triangle's instance in the top tree, and its alpha flag */
    uint32_t lo = UINT32_MAX, hi = 0;
    s->has_alpha = false;
    for (uint32_t m = 0; m < s->mesh_count; ++m) {
        const xs_mesh *me = &s->meshes[m];
        uint32_t wi = UINT32_MAX;
        for (uint32_t i = 0; i < s->instance_count && taken[m]; ++i)
            if (merged[i] && s->instances[i].mesh == m) {
                wi = i;
                break;
            }
        for (uint32_t t = me->tri_first; t < me->tri_first + me->tri_count; ++t) {
            xs_wtri *w = &s->wtris[t];
            const xs_material *mat = &s->materials[w->material];
            const uint32_t flags = (mat->flags & XS_MAT_ALPHA_MASK) != 0u ? XS_WTRI_ALPHA : 0u;
            s->has_alpha |= flags != 0u;
            if (w->world_inst != wi || w->flags != flags) {
                w->world_inst = wi;
                w->flags = flags;
                lo = lo < t ? lo : t;
                hi = t + 1;
            }
        }
    }
    if (lo < hi)
        xs_scene_mark(s, offsetof(xs_scene_view, tris), (size_t)lo * sizeof(xs_wtri), (size_t)hi * sizeof(xs_wtri));
    xs_wbvh_input wi = {.tris = s->wtris, .nodes = s->nodes, .node_count = s->node_count,
                        .mesh_root = broot, .mesh_count = s->mesh_count,
                        .instances = s->instances, .instance_count = s->instance_count,
                        .tlas = s->tlas, .tlas_count = s->tlas_count, .merged = merged,
                        .moves = moves, .inst_box = s->inst_boxes, .binary_mesh = binary,
                        .origin_bound = camera_magnitude(s)};
    xs_wbvh w;
    double t0 = xs_scene_clock();
    xs_result r = xs_wbvh_build(&wi, &w, err);
    s->build_seconds += xs_scene_clock() - t0;
    free(merged), free(taken), free(moves), free(binary), free(broot);
    if (r != XS_OK) {
        free(was_meshes), free(was_inst);
        return r;
    }
    for (uint32_t m = 0; m < s->mesh_count; ++m)
        s->meshes[m].wroot = w.mesh_root[m];
    mark_changed(s, offsetof(xs_scene_view, wnodes), s->wnodes, s->wnode_count, w.nodes, w.count, sizeof(xs_wnode));
    mark_changed(s, offsetof(xs_scene_view, meshes), was_meshes, s->mesh_count, s->meshes, s->mesh_count,
                 sizeof(xs_mesh));
    mark_changed(s, offsetof(xs_scene_view, instances), was_inst, s->instance_count, s->instances,
                 s->instance_count, sizeof(xs_instance));
    free(was_meshes), free(was_inst);
    free(s->wnodes);
    s->wnodes = w.nodes;
    s->wnode_count = w.count;
    s->wroot = w.root;
    s->wdepth = w.depth;
    s->wide_origin_bound = wi.origin_bound;
    w.nodes = NULL;
    xs_wbvh_free(&w);
    return XS_OK;
}

/* The world box of mesh `in->mesh` placed by in's transform (its root box's
 * corners transformed). */
void xs_scene_instance_box(const xs_scene *s, const xs_instance *in, float *b)
{
    const xs_bvh_node *root = &s->nodes[s->meshes[in->mesh].root];
    xs_vec3 lo = xs_v3(INFINITY, INFINITY, INFINITY), hi = xs_neg(lo);
    for (int k = 0; k < 8; ++k) {
        xs_vec3 c = xs_v3((k & 1) ? root->bmax[0] : root->bmin[0],
                          (k & 2) ? root->bmax[1] : root->bmin[1],
                          (k & 4) ? root->bmax[2] : root->bmin[2]);
        xs_vec3 w = xs_xf_point(in->xf, c);
        lo = xs_vmin(lo, w);
        hi = xs_vmax(hi, w);
    }
    b[0] = lo.x, b[1] = lo.y, b[2] = lo.z, b[3] = hi.x, b[4] = hi.y, b[5] = hi.z;
}

xs_result xs_scene_tlas(xs_scene *s, const xs_instance *canon, const float *boxes, uint32_t n,
                        xs_err *err)
{
    s->world_lo = xs_v3(INFINITY, INFINITY, INFINITY);
    s->world_hi = xs_v3(-INFINITY, -INFINITY, -INFINITY);
    for (uint32_t i = 0; i < n; ++i) {
        const float *b = boxes + (size_t)i * 6;
        s->world_lo = xs_vmin(s->world_lo, xs_v3(b[0], b[1], b[2]));
        s->world_hi = xs_vmax(s->world_hi, xs_v3(b[3], b[4], b[5]));
    }
    uint32_t *order = NULL, count = 0;
    xs_bvh_node *tlas = NULL;
    double t0 = xs_scene_clock();
    xs_result r = xs_bvh_build_boxes(boxes, n, s->build_threads, &tlas, &count, &order, err);
    s->build_seconds += xs_scene_clock() - t0;
    if (r != XS_OK)
        return r;
    xs_instance *sorted = canon == s->instances ? malloc((size_t)n * sizeof *sorted) : s->instances;
    float *ib = realloc(s->inst_boxes, ((size_t)n + 1) * 6 * sizeof *ib);
    if (ib)
        s->inst_boxes = ib;
    if (!sorted || !ib) {
        if (sorted != s->instances)
            free(sorted);
        free(order), free(tlas);
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    }
    for (uint32_t i = 0; i < n; ++i) {
        sorted[i] = canon[order[i]];
        memcpy(ib + 6 * (size_t)i, boxes + 6 * (size_t)order[i], 6 * sizeof *ib);
    }
    if (sorted != s->instances)
        free(s->instances);
    free(s->tlas_order);
    s->tlas_order = order;
    free(s->tlas);
    s->instances = sorted;
    s->tlas = tlas;
    s->tlas_count = count;
    return XS_OK;
}

/* TLAS, instance order, world bounds, the wide BVH. */
xs_result xs_scene_finish(xs_scene *s, xs_err *err)
{
    if (s->instance_count == 0 || s->tri_count == 0)
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: no triangles to render", s->name);
    float *boxes = malloc((size_t)s->instance_count * 6 * sizeof *boxes);
    if (!boxes)
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    for (uint32_t i = 0; i < s->instance_count; ++i)
        xs_scene_instance_box(s, &s->instances[i], boxes + (size_t)i * 6);
    xs_result r = xs_scene_tlas(s, s->instances, boxes, s->instance_count, err);
    free(boxes);
    if (r != XS_OK)
        return r;
    return xs_scene_wide(s, err);
}

void xs_scene_set_filter(xs_scene *s, xs_filter_kind kind, float width)
{
    xs_filter_table(kind, width, s->filter_icdf);
}

void xs_scene_mark_materials(xs_material *m, uint32_t n)
{
    for (uint32_t i = 0; i < n; ++i) {
        m[i].flags &= ~(uint32_t)(XS_MAT_LAMBERT | XS_MAT_GGX);
        if (xs_cpu_material_lambert(&m[i]))
            m[i].flags |= XS_MAT_LAMBERT;
        else if (xs_cpu_material_ggx(&m[i]))
            m[i].flags |= XS_MAT_GGX;
    }
}

void xs_scene_default_material(xs_material *m)
{
    memset(m, 0, sizeof *m);
    m->albedo = xs_v3(1.0f, 1.0f, 1.0f);
    m->alpha = 1.0f;
    m->alpha_cutoff = 0.5f;
    m->base_tex.tex = m->emit_tex.tex = m->mr_tex.tex = m->normal_tex.tex = m->trans_tex.tex = -1;
    m->normal_scale = 1.0f;
    m->metallic = m->roughness = 1.0f;
    m->ior = 1.5f;
}

xs_result xs_scene_create(const xs_scene_desc *d, xs_scene **out, xs_err *err)
{
    *out = NULL;
    const char *name = d->name ? d->name : "scene";
    if (d->tri_count == 0)
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: no triangles", name);
    if (d->material_count == 0)
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: no materials", name);
    if (!(d->cam_yfov_deg > 0.0f && d->cam_yfov_deg < 180.0f))
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: camera.yfov: must be in (0, 180), got %g",
                          name, (double)d->cam_yfov_deg);
    for (uint32_t i = 0; i < d->tri_count; ++i) {
        for (int k = 0; k < 9; ++k)
            if (!isfinite(d->positions[(size_t)i * 9 + (size_t)k]))
                return xs_err_set(err, XS_ERR_INVALID, "scene %s: triangle %u: non-finite vertex",
                                  name, i);
        if (d->materials_of[i] >= d->material_count)
            return xs_err_set(err, XS_ERR_INVALID,
                              "scene %s: triangle %u: material %u out of range (%u materials)",
                              name, i, d->materials_of[i], d->material_count);
    }
    xs_scene *s = xs_scene_alloc(name, &d->build);
    uint32_t *idx = malloc((size_t)d->tri_count * 3 * sizeof *idx);
    if (s)
        s->materials = malloc(d->material_count * sizeof *s->materials);
    if (!s || !idx || !s->materials) {
        free(idx);
        xs_scene_destroy(s);
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", name);
    }
    for (uint32_t i = 0; i < d->material_count; ++i) {
        xs_scene_default_material(&s->materials[i]);
        s->materials[i].albedo = d->materials[i].albedo;
        s->materials[i].emission = d->materials[i].emission;
        s->materials[i].flags = d->materials[i].flags;
        s->materials[i].metallic = d->materials[i].metallic;
        s->materials[i].roughness = d->materials[i].roughness;
        s->materials[i].transmission = d->materials[i].transmission;
        s->materials[i].ior = d->materials[i].ior > 0.0f ? d->materials[i].ior : 1.0f;
        s->materials[i].sigma_a = d->materials[i].sigma_a;
    }
    s->material_count = d->material_count;
    xs_scene_mark_materials(s->materials, s->material_count);
    for (uint32_t i = 0; i < d->tri_count * 3; ++i)
        idx[i] = i;
    static const float identity[12] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
    uint32_t icap = 0;
    xs_result r = xs_scene_add_mesh(s, d->positions, d->tri_count * 3, idx, d->tri_count, NULL, NULL,
                                 NULL, NULL, d->materials_of, NULL, NULL, err);
    free(idx);
    if (r == XS_OK)
        r = xs_scene_add_instance(s, 0, identity, &icap, err);
    if (r == XS_OK)
        r = xs_scene_finish(s, err);
    if (r == XS_OK) {
        s->background = d->background;
        r = xs_scene_lights(s, NULL, 0, err);
    }
    if (r != XS_OK) {
        xs_scene_destroy(s);
        return r;
    }
    s->cam_pos = d->cam_pos;
    s->cam_fwd = xs_normalize(xs_sub(d->cam_target, d->cam_pos));
    s->cam_up = d->cam_up;
    s->cam_yfov_deg = d->cam_yfov_deg;
    if ((r = xs_scene_cover_camera(s, err)) != XS_OK) {
        xs_scene_destroy(s);
        return r;
    }
    *out = s;
    return XS_OK;
}

xs_scene_view xs_scene_view_for(const xs_scene *s, int fw, int fh)
{
    xs_scene_view v;
    memset(&v, 0, sizeof v);
    v.tris = s->wtris;
    v.attrs = s->attrs;
    v.wnodes = s->wnodes;
    v.meshes = s->meshes;
    v.instances = s->instances;
    v.tex_objects = NULL;
    v.tri_count = s->tri_count;
    v.wnode_count = s->wnode_count;
    v.instance_count = s->instance_count;
    v.wroot = s->wroot;
    v.materials = s->materials;
    v.textures = s->textures;
    v.tex_pool = s->tex_pool;
    v.tex_levels = s->tex_levels;
    v.tex_page = s->tex_page;
    v.tex_page_count = s->tex_page_count;
    if (s->texcache) {
        v.tex_fetch = xs_texcache_fetch;
        v.tex_ctx = s->texcache;
    }
    v.srgb_to_linear = s->srgb;
    v.lights = s->lights;
    v.light_cdf = s->light_cdf;
    v.light_pmf = s->light_pmf;
    v.light_count = s->light_count;
    v.flags = s->has_alpha ? XS_VIEW_ALPHA : 0u;
    for (uint32_t i = 0; i < s->material_count; ++i)
        if ((s->materials[i].flags & (XS_MAT_LAMBERT | XS_MAT_GGX)) != 0u) {
            v.flags |= XS_VIEW_LANES;
            break;
        }
    v.inst_light_base = s->inst_light_base;
    v.tri_light = s->tri_light;
    v.env_light = s->env_light;
    v.background = s->background;
    v.env = s->env;
    v.env_w = s->env_w;
    v.env_h = s->env_h;
    v.env_row_cdf = s->env_row_cdf;
    v.env_col_cdf = s->env_col_cdf;
    v.env_func_int = s->env_func_int;
    v.ggx_tables = xs_ggx_table();
    v.filter_icdf = s->filter_icdf;
    v.world_radius = 0.5f * xs_length(xs_sub(s->world_hi, s->world_lo));
    v.ray_eps = s->ray_eps;
    xs_camera *c = &v.camera;
    c->pos = s->cam_pos;
    c->fwd = s->cam_fwd;
    /* right-handed, y up: looking down +z with up +y puts +x on the left */
    c->right = xs_normalize(xs_cross(c->fwd, s->cam_up));
    c->up = xs_cross(c->right, c->fwd);
    c->tan_half_fovy = tanf(0.5f * s->cam_yfov_deg * XS_PI / 180.0f);
    c->aspect = (float)fw / (float)fh;
    v.motion_steps = s->motion_steps;
    v.camera_motion = s->motion_steps ? s->camera_motion : UINT32_MAX;
    v.motion_xf = s->motion_steps ? s->motion_xf : NULL;
    v.motion_tris = s->motion_steps ? s->motion_tris : NULL;
    v.motion_nodes = s->motion_steps ? s->motion_nodes : NULL;
    /* the binary trees: for meshes deforming within the shutter (their one
     * tree over every step); no device holds them otherwise */
    v.nodes = s->motion_steps ? s->nodes : NULL;
    return v;
}

const char *xs_scene_name(const xs_scene *s) { return s->name; }
uint32_t xs_scene_tri_count(const xs_scene *s) { return s->tri_count; }
uint32_t xs_scene_light_count(const xs_scene *s) { return s->light_count; }
uint32_t xs_scene_mesh_count(const xs_scene *s) { return s->mesh_count; }
uint32_t xs_scene_instance_count(const xs_scene *s) { return s->instance_count; }
uint32_t xs_scene_texture_count(const xs_scene *s) { return s->texture_count; }

/* ---- The arrays behind a view (for a device back end's upload) ------------- */

void xs_scene_mark(xs_scene *s, size_t view_offset, size_t lo, size_t hi)
{
    if (hi <= lo)
        return;
    for (int i = 0; i < s->dirty_count; ++i)
        if (s->dirty[i].view_offset == view_offset) {
            s->dirty[i].lo = lo < s->dirty[i].lo ? lo : s->dirty[i].lo;
            s->dirty[i].hi = hi > s->dirty[i].hi ? hi : s->dirty[i].hi;
            return;
        }
    if (s->dirty_count < XS_SCENE_BLOBS_MAX) {
        s->dirty[s->dirty_count].view_offset = view_offset;
        s->dirty[s->dirty_count].lo = lo;
        s->dirty[s->dirty_count++].hi = hi;
    }
}

void xs_scene_blobs_taken(xs_scene *s) { s->dirty_count = 0; }

static void blob_dirty(const xs_scene *s, xs_scene_blob *b)
{
    b->dirty_lo = b->dirty_hi = 0;
    for (int i = 0; i < s->dirty_count; ++i)
        if (s->dirty[i].view_offset == b->view_offset) {
            b->dirty_lo = s->dirty[i].lo < b->bytes ? s->dirty[i].lo : b->bytes;
            b->dirty_hi = s->dirty[i].hi < b->bytes ? s->dirty[i].hi : b->bytes;
        }
}

/* An array with elements is listed for the upload; an empty one's pointer is
 * set to NULL in the view, so a device view holds device addresses or NULL,
 * never a host address the GPU would fault on. */
#define XS_BLOB(field, count)                                                                   \
    do {                                                                                        \
        if (!v->field || (count) == 0) {                                                        \
            v->field = NULL;                                                                    \
        } else if (n < max) {                                                                   \
            out[n].name = #field;                                                               \
            out[n].host = v->field;                                                             \
            out[n].bytes = (size_t)(count) * sizeof *v->field;                                  \
            out[n].view_offset = offsetof(xs_scene_view, field);                                \
            blob_dirty(s, &out[n]);                                                             \
            ++n;                                                                                \
        }                                                                                       \
    } while (0)

int xs_scene_blobs(const xs_scene *s, xs_scene_view *v, xs_scene_blob *out, int max)
{
    int n = 0;
    XS_BLOB(tris, s->tri_count);
    XS_BLOB(attrs, s->tri_count);
    XS_BLOB(wnodes, s->wnode_count);
    XS_BLOB(meshes, s->mesh_count);
    XS_BLOB(instances, s->instance_count);
    XS_BLOB(materials, s->material_count);
    XS_BLOB(textures, s->texture_count);
    XS_BLOB(tex_levels, s->tex_level_count);
    XS_BLOB(tex_page, s->tex_pool ? s->tex_page_count : 0u);
    XS_BLOB(tex_pool, s->tex_pool ? s->tex_pool_units * XS_TEX_UNIT : 0u);
    XS_BLOB(srgb_to_linear, 256);
    XS_BLOB(lights, s->light_count);
    XS_BLOB(light_cdf, s->light_count);
    XS_BLOB(light_pmf, s->light_count);
    XS_BLOB(inst_light_base, s->instance_count);
    XS_BLOB(tri_light, s->tri_count ? s->tri_count : 1);
    XS_BLOB(env, (size_t)s->env_w * (size_t)s->env_h * 3u);
    XS_BLOB(env_row_cdf, s->env ? (size_t)s->env_h + 1u : 0u);
    XS_BLOB(env_col_cdf, s->env ? (size_t)s->env_h * ((size_t)s->env_w + 1u) : 0u);
    XS_BLOB(ggx_tables, 2 * XS_GGX_TABLE_N * XS_GGX_TABLE_N);
    XS_BLOB(filter_icdf, XS_FILTER_TABLE + 1);
    XS_BLOB(motion_xf, s->motion_xf_count);
    XS_BLOB(motion_tris, s->motion_tri_count);
    XS_BLOB(motion_nodes, s->motion_node_count);
    XS_BLOB(nodes, s->node_count);
    return n;
}
#undef XS_BLOB
