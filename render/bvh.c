/* BVH build: binned surface-area heuristic (Wald 2007), 16 bins on each axis,
 * leaves of at most 8 triangles, children of a node stored next to each
 * other; over triangles (a mesh's BLAS) or over boxes (the TLAS over
 * instances). Single-threaded for now: the scenes of the backbone are small; the
 * light-transport issue brings the multithreaded, two-level build.
 */
#include "render/render_internal.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

enum { BINS = 16, MAX_LEAF = 8, MIN_LEAF = 2 };

typedef struct aabb {
    xs_vec3 lo, hi;
} aabb;

static aabb aabb_empty(void)
{
    aabb b = {xs_v3(FLT_MAX, FLT_MAX, FLT_MAX), xs_v3(-FLT_MAX, -FLT_MAX, -FLT_MAX)};
    return b;
}
static void aabb_grow(aabb *b, xs_vec3 p)
{
    b->lo = xs_vmin(b->lo, p);
    b->hi = xs_vmax(b->hi, p);
}
static void aabb_merge(aabb *b, const aabb *o)
{
    b->lo = xs_vmin(b->lo, o->lo);
    b->hi = xs_vmax(b->hi, o->hi);
}
static float aabb_area(const aabb *b)
{
    xs_vec3 d = xs_sub(b->hi, b->lo);
    if (d.x < 0.0f)
        return 0.0f;
    return 2.0f * (d.x * d.y + d.y * d.z + d.z * d.x);
}

typedef struct build_task {
    uint32_t node, begin, end;
} build_task;

/* The builder over primitive boxes (box[i] is primitive i's bounds). */
static xs_result build(const aabb *box, uint32_t n, xs_bvh_node **out_nodes, uint32_t *out_count,
                       uint32_t **out_order, xs_err *err)
{
    *out_nodes = NULL;
    *out_order = NULL;
    *out_count = 0;
    if (n == 0)
        return XS_OK;
    uint32_t cap = 2 * n - 1;
    xs_bvh_node *nodes = calloc(cap, sizeof *nodes);
    uint32_t *order = malloc(n * sizeof *order);
    xs_vec3 *cen = malloc(n * sizeof *cen);
    build_task *stack = malloc(cap * sizeof *stack);
    if (!nodes || !order || !cen || !stack) {
        free(nodes), free(order), free(cen), free(stack);
        return xs_err_set(err, XS_ERR_NOMEM, "BVH build: out of memory for %u primitives", n);
    }
    for (uint32_t i = 0; i < n; ++i) {
        cen[i] = xs_scale(xs_add(box[i].lo, box[i].hi), 0.5f);
        order[i] = i;
    }
    uint32_t count = 1;
    int sp = 0;
    stack[sp++] = (build_task){0, 0, n};
    while (sp > 0) {
        build_task tk = stack[--sp];
        aabb b = aabb_empty(), cb = aabb_empty();
        for (uint32_t i = tk.begin; i < tk.end; ++i) {
            aabb_merge(&b, &box[order[i]]);
            aabb_grow(&cb, cen[order[i]]);
        }
        xs_bvh_node *nd = &nodes[tk.node];
        nd->bmin[0] = b.lo.x, nd->bmin[1] = b.lo.y, nd->bmin[2] = b.lo.z;
        nd->bmax[0] = b.hi.x, nd->bmax[1] = b.hi.y, nd->bmax[2] = b.hi.z;
        uint32_t cnt = tk.end - tk.begin;
        int best_axis = -1, best_split = 0;
        float best_cost = FLT_MAX;
        if (cnt > MIN_LEAF) {
            for (int axis = 0; axis < 3; ++axis) {
                float lo = xs_v3_get(cb.lo, axis), hi = xs_v3_get(cb.hi, axis);
                if (!(hi > lo))
                    continue;
                aabb bins[BINS];
                uint32_t nb[BINS] = {0};
                for (int k = 0; k < BINS; ++k)
                    bins[k] = aabb_empty();
                float scale = (float)BINS / (hi - lo);
                for (uint32_t i = tk.begin; i < tk.end; ++i) {
                    int k = (int)((xs_v3_get(cen[order[i]], axis) - lo) * scale);
                    k = k < 0 ? 0 : (k >= BINS ? BINS - 1 : k);
                    nb[k]++;
                    aabb_merge(&bins[k], &box[order[i]]);
                }
                float right_area[BINS];
                uint32_t right_n[BINS];
                aabb acc = aabb_empty();
                uint32_t accn = 0;
                for (int k = BINS - 1; k > 0; --k) {
                    aabb_merge(&acc, &bins[k]);
                    accn += nb[k];
                    right_area[k] = aabb_area(&acc);
                    right_n[k] = accn;
                }
                acc = aabb_empty();
                accn = 0;
                for (int k = 0; k < BINS - 1; ++k) {
                    aabb_merge(&acc, &bins[k]);
                    accn += nb[k];
                    if (accn == 0 || right_n[k + 1] == 0)
                        continue;
                    float cost = aabb_area(&acc) * (float)accn +
                                 right_area[k + 1] * (float)right_n[k + 1];
                    if (cost < best_cost) {
                        best_cost = cost;
                        best_axis = axis;
                        best_split = k + 1;
                    }
                }
            }
        }
        /* SAH: traversal cost 1, triangle test cost 1, relative to the parent. */
        float leaf_cost = (float)cnt * aabb_area(&b);
        bool make_leaf = cnt <= MIN_LEAF ||
                         (best_axis < 0 && cnt <= MAX_LEAF) ||
                         (best_axis >= 0 && cnt <= MAX_LEAF && best_cost + aabb_area(&b) >= leaf_cost);
        if (make_leaf) {
            nd->first = tk.begin;
            nd->count = cnt;
            continue;
        }
        uint32_t mid;
        if (best_axis >= 0) {
            float lo = xs_v3_get(cb.lo, best_axis), hi = xs_v3_get(cb.hi, best_axis);
            float scale = (float)BINS / (hi - lo);
            uint32_t i = tk.begin, j = tk.end;
            while (i < j) {
                int k = (int)((xs_v3_get(cen[order[i]], best_axis) - lo) * scale);
                k = k < 0 ? 0 : (k >= BINS ? BINS - 1 : k);
                if (k < best_split) {
                    ++i;
                } else {
                    uint32_t t = order[i];
                    order[i] = order[--j];
                    order[j] = t;
                }
            }
            mid = i;
        } else {
            mid = tk.begin + cnt / 2; /* identical centroids: split the list */
        }
        if (mid == tk.begin || mid == tk.end)
            mid = tk.begin + cnt / 2;
        uint32_t c = count;
        count += 2;
        nd->first = c;
        nd->count = 0;
        stack[sp++] = (build_task){c + 1, mid, tk.end};
        stack[sp++] = (build_task){c, tk.begin, mid};
    }
    free(cen);
    free(stack);
    *out_nodes = nodes;
    *out_count = count;
    *out_order = order;
    return XS_OK;
}

xs_result xs_bvh_build(const xs_tri *tris, uint32_t n, xs_bvh_node **nodes, uint32_t *node_count,
                       uint32_t **order, xs_err *err)
{
    aabb *box = malloc((n ? n : 1) * sizeof *box);
    if (!box)
        return xs_err_set(err, XS_ERR_NOMEM, "BVH build: out of memory for %u triangles", n);
    for (uint32_t i = 0; i < n; ++i) {
        const xs_tri *t = &tris[i];
        box[i] = aabb_empty();
        aabb_grow(&box[i], t->v0);
        aabb_grow(&box[i], xs_add(t->v0, t->e1));
        aabb_grow(&box[i], xs_add(t->v0, t->e2));
    }
    xs_result r = build(box, n, nodes, node_count, order, err);
    free(box);
    return r;
}

xs_result xs_bvh_build_boxes(const float *lohi, uint32_t n, xs_bvh_node **nodes,
                             uint32_t *node_count, uint32_t **order, xs_err *err)
{
    aabb *box = malloc((n ? n : 1) * sizeof *box);
    if (!box)
        return xs_err_set(err, XS_ERR_NOMEM, "BVH build: out of memory for %u boxes", n);
    for (uint32_t i = 0; i < n; ++i) {
        const float *b = lohi + (size_t)i * 6;
        box[i].lo = xs_v3(b[0], b[1], b[2]);
        box[i].hi = xs_v3(b[3], b[4], b[5]);
    }
    xs_result r = build(box, n, nodes, node_count, order, err);
    free(box);
    return r;
}
