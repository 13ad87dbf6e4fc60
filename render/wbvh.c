/* The wide BVH: binary trees collapsed into 4-wide nodes with 8-bit child
 * boxes (see xs_wbvh.h for what and why).
 *
 * Items are what a wide node's slot can hold before it is decided: a binary
 * node of a mesh (BNODE), a binary node of the tree over instances (TNODE),
 * a run of instances from a leaf of that tree (LIST), or one instance to be
 * entered with its transform (INST). A wide node opens its own item into
 * its children and then, while it has fewer than four, opens the child of
 * largest surface area that fits; BNODE leaves and INST are never opened.
 * A LIST opens into its instances (a merged instance becoming its mesh's
 * root BNODE), or into two halves when it has more than four.
 *
 * Boxes: binary nodes are refit from the triangles' exact vertices (the
 * builders boxed v0 + e1 and v0 + e2, which may differ from the vertices in
 * the last bit); instance boxes are the eight corners of their mesh's box
 * moved by the transform. Before quantising, every child box grows by
 * 2^-19 of the largest coordinate magnitude a ray meets in its tree's
 * space: the tree's own (its root box), the scene's and the camera's
 * (origin_bound) for the top tree, and for a mesh's tree also those mapped
 * into each of its instances' object space (a small mesh instanced far from
 * the camera sees ray origins far beyond its own extent). The kernels
 * compute a slab's distance as a + q * b and a triangle's as T / det, each
 * with a few roundings relative to those magnitudes, which the margin
 * covers: a box's computed entry never exceeds the computed distance of a
 * triangle inside it, so culling a box beyond the closest hit never drops a
 * triangle that ties with it, and the closest hit is canonical
 * (xs_hit_better). Rays starting beyond every bound (not the renderer's:
 * its rays start at the camera or on a surface) lose that guarantee, not
 * the picture.
 */
#include "render/xs_wbvh.h"

#include "kernels/xs_intersect.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { IT_BNODE = 0, IT_TNODE = 1, IT_LIST = 2, IT_INST = 3 };

typedef struct item {
    int kind;
    uint32_t idx, n; /* n: a LIST's instance count */
    float lo[3], hi[3];
} item;

typedef struct wb {
    const xs_wbvh_input *in;
    float (*bbox)[6];  /* binary mesh nodes, exact */
    float (*ibox)[6];  /* instances in world space (merged: their mesh's box) */
    float (*tbox)[6];  /* tree over instances */
    xs_wnode *nodes;
    uint32_t count, cap;
    float margin; /* of the tree being built */
    bool oom;
} wb;

static void box_empty(float *b)
{
    b[0] = b[1] = b[2] = FLT_MAX;
    b[3] = b[4] = b[5] = -FLT_MAX;
}
static void box_add_point(float *b, const float *p)
{
    for (int k = 0; k < 3; ++k) {
        b[k] = fminf(b[k], p[k]);
        b[3 + k] = fmaxf(b[3 + k], p[k]);
    }
}
static void box_add_box(float *b, const float *o)
{
    for (int k = 0; k < 3; ++k) {
        b[k] = fminf(b[k], o[k]);
        b[3 + k] = fmaxf(b[3 + k], o[3 + k]);
    }
}

/* Exact boxes of a mesh's binary subtree, children before parents. */
static void refit(wb *b, uint32_t node)
{
    const xs_bvh_node *n = &b->in->nodes[node];
    float *bx = b->bbox[node];
    box_empty(bx);
    if (n->count > 0) {
        for (uint32_t i = n->first; i < n->first + n->count; ++i) {
            const xs_wtri *t = &b->in->tris[i];
            box_add_point(bx, t->v0);
            box_add_point(bx, t->v1);
            box_add_point(bx, t->v2);
        }
        return;
    }
    refit(b, n->first);
    refit(b, n->first + 1);
    box_add_box(bx, b->bbox[n->first]);
    box_add_box(bx, b->bbox[n->first + 1]);
}

static void refit_tlas(wb *b, uint32_t node)
{
    const xs_bvh_node *n = &b->in->tlas[node];
    float *bx = b->tbox[node];
    box_empty(bx);
    if (n->count > 0) {
        for (uint32_t i = n->first; i < n->first + n->count; ++i)
            box_add_box(bx, b->ibox[i]);
        return;
    }
    refit_tlas(b, n->first);
    refit_tlas(b, n->first + 1);
    box_add_box(bx, b->tbox[n->first]);
    box_add_box(bx, b->tbox[n->first + 1]);
}

static float area(const item *x)
{
    float dx = x->hi[0] - x->lo[0], dy = x->hi[1] - x->lo[1], dz = x->hi[2] - x->lo[2];
    if (dx < 0.0f)
        return 0.0f;
    return dx * dy + dy * dz + dz * dx;
}

static item make_item(const wb *b, int kind, uint32_t idx, uint32_t n)
{
    item x;
    x.kind = kind;
    x.idx = idx;
    x.n = n;
    const float *bx = NULL;
    float lb[6];
    if (kind == IT_BNODE)
        bx = b->bbox[idx];
    else if (kind == IT_TNODE)
        bx = b->tbox[idx];
    else if (kind == IT_INST)
        bx = b->ibox[idx];
    else {
        box_empty(lb);
        for (uint32_t i = idx; i < idx + n; ++i)
            box_add_box(lb, b->ibox[i]);
        bx = lb;
    }
    memcpy(x.lo, bx, sizeof x.lo);
    memcpy(x.hi, bx + 3, sizeof x.hi);
    return x;
}

/* An instance as a slot sees it: its mesh's nodes when merged, else itself. */
static item instance_item(const wb *b, uint32_t i)
{
    if (b->in->merged && b->in->merged[i])
        return make_item(b, IT_BNODE, b->in->mesh_root[b->in->instances[i].mesh], 0);
    return make_item(b, IT_INST, i, 0);
}

/* How many items opening x gives; 0: x is never opened. */
static int open_count(const wb *b, const item *x)
{
    switch (x->kind) {
    case IT_BNODE:
        return b->in->nodes[x->idx].count > 0 ? 0 : 2;
    case IT_TNODE: {
        const xs_bvh_node *n = &b->in->tlas[x->idx];
        return n->count > 0 ? (n->count <= XS_WIDTH ? (int)n->count : 2) : 2;
    }
    case IT_LIST:
        return x->n <= XS_WIDTH ? (int)x->n : 2;
    default:
        return 0;
    }
}

static int open_item(const wb *b, const item *x, item *out)
{
    uint32_t first, n;
    if (x->kind == IT_BNODE) {
        const xs_bvh_node *bn = &b->in->nodes[x->idx];
        out[0] = make_item(b, IT_BNODE, bn->first, 0);
        out[1] = make_item(b, IT_BNODE, bn->first + 1, 0);
        return 2;
    }
    if (x->kind == IT_TNODE) {
        const xs_bvh_node *tn = &b->in->tlas[x->idx];
        if (tn->count == 0) {
            out[0] = make_item(b, IT_TNODE, tn->first, 0);
            out[1] = make_item(b, IT_TNODE, tn->first + 1, 0);
            return 2;
        }
        first = tn->first, n = tn->count;
    } else {
        first = x->idx, n = x->n;
    }
    if (n > XS_WIDTH) {
        out[0] = make_item(b, IT_LIST, first, n / 2);
        out[1] = make_item(b, IT_LIST, first + n / 2, n - n / 2);
        return 2;
    }
    for (uint32_t i = 0; i < n; ++i)
        out[i] = instance_item(b, first + i);
    return (int)n;
}

static uint32_t alloc_node(wb *b)
{
    if (b->count == b->cap) {
        uint32_t nc = b->cap ? b->cap * 2 : 256;
        xs_wnode *p = realloc(b->nodes, (size_t)nc * sizeof *p);
        if (!p) {
            b->oom = true;
            return UINT32_MAX;
        }
        b->nodes = p;
        b->cap = nc;
    }
    memset(&b->nodes[b->count], 0, sizeof b->nodes[0]);
    return b->count++;
}

/* Quantises the children's boxes (grown by the margin) onto the node's box. */
static void quantize(xs_wnode *w, const item *ch, int n, float margin)
{
    double lo[XS_WIDTH][3], hi[XS_WIDTH][3], nlo[3], nhi[3];
    for (int k = 0; k < 3; ++k)
        nlo[k] = DBL_MAX, nhi[k] = -DBL_MAX;
    for (int i = 0; i < n; ++i)
        for (int k = 0; k < 3; ++k) {
            lo[i][k] = (double)ch[i].lo[k] - (double)margin;
            hi[i][k] = (double)ch[i].hi[k] + (double)margin;
            nlo[k] = fmin(nlo[k], lo[i][k]);
            nhi[k] = fmax(nhi[k], hi[i][k]);
        }
    for (int k = 0; k < 3; ++k) {
        /* the origin: the node's low corner rounded down to a float */
        float o = (float)nlo[k];
        if ((double)o > nlo[k])
            o = nextafterf(o, -INFINITY);
        w->origin[k] = o;
        double ext = nhi[k] - (double)o;
        int e = -126;
        if (ext > 0.0) {
            int ex;
            frexp(ext / 255.0, &ex); /* ext / 255 < 2^ex */
            e = ex < -126 ? -126 : ex;
        }
        for (;; ++e) {
            double s = ldexp(1.0, e);
            bool fits = true;
            for (int i = 0; i < n && fits; ++i) {
                double ql = floor((lo[i][k] - (double)o) / s), qh = ceil((hi[i][k] - (double)o) / s);
                fits = ql >= 0.0 && qh <= 255.0;
            }
            if (fits || e >= 127)
                break;
        }
        w->exp[k] = (uint8_t)(e + 127);
        double s = ldexp(1.0, e);
        for (int i = 0; i < n; ++i) {
            double ql = floor((lo[i][k] - (double)o) / s), qh = ceil((hi[i][k] - (double)o) / s);
            w->qlo[k][i] = (uint8_t)(ql < 0.0 ? 0.0 : (ql > 255.0 ? 255.0 : ql));
            w->qhi[k][i] = (uint8_t)(qh < 0.0 ? 0.0 : (qh > 255.0 ? 255.0 : qh));
        }
    }
}

/* The box a node's slots decode to, rounded outwards to floats. */
static void decoded_extent(const xs_wnode *n, float *lo, float *hi)
{
    double l[3] = {DBL_MAX, DBL_MAX, DBL_MAX}, h[3] = {-DBL_MAX, -DBL_MAX, -DBL_MAX};
    for (int i = 0; i < XS_WIDTH; ++i) {
        if (n->meta[i] == 0u)
            continue;
        double cl[3], chh[3];
        xs_wnode_child_box(n, i, cl, chh);
        for (int k = 0; k < 3; ++k)
            l[k] = fmin(l[k], cl[k]), h[k] = fmax(h[k], chh[k]);
    }
    for (int k = 0; k < 3; ++k) {
        float a = (float)l[k], c = (float)h[k];
        lo[k] = (double)a > l[k] ? nextafterf(a, -INFINITY) : a;
        hi[k] = (double)c < h[k] ? nextafterf(c, INFINITY) : c;
    }
}

/* A wide node over item x's children (or over x alone when it is never
 * opened); returns its subtree's depth in levels, *out its index. */
static int emit(wb *b, const item *x, uint32_t *out)
{
    item ch[XS_WIDTH + 4];
    int n;
    if (open_count(b, x) == 0) {
        ch[0] = *x;
        n = 1;
    } else {
        n = open_item(b, x, ch);
    }
    for (;;) {
        int best = -1;
        float best_a = -1.0f;
        for (int i = 0; i < n; ++i) {
            int k = open_count(b, &ch[i]);
            if (k == 0 || n - 1 + k > XS_WIDTH)
                continue;
            float a = area(&ch[i]);
            if (a > best_a) {
                best_a = a;
                best = i;
            }
        }
        if (best < 0)
            break;
        item sub[XS_WIDTH];
        int k = open_item(b, &ch[best], sub);
        /* in place: the opened item's children take its slot and the next */
        for (int i = n - 1; i > best; --i)
            ch[i + k - 1] = ch[i];
        for (int i = 0; i < k; ++i)
            ch[best + i] = sub[i];
        n += k - 1;
    }
    uint32_t idx = alloc_node(b);
    if (idx == UINT32_MAX)
        return -1;
    xs_wnode w;
    memset(&w, 0, sizeof w);
    int depth = 1;
    for (int i = 0; i < n; ++i) {
        const item *c = &ch[i];
        if (c->kind == IT_BNODE && b->in->nodes[c->idx].count > 0) {
            const xs_bvh_node *bn = &b->in->nodes[c->idx];
            w.child[i] = bn->first;
            w.meta[i] = (uint8_t)(XS_WCHILD_LEAF << 6 | bn->count);
        } else if (c->kind == IT_INST) {
            w.child[i] = c->idx;
            w.meta[i] = (uint8_t)(XS_WCHILD_INSTANCE << 6);
        } else {
            uint32_t sub;
            int d = emit(b, c, &sub);
            if (d < 0)
                return -1;
            depth = d + 1 > depth ? d + 1 : depth;
            w.child[i] = sub;
            w.meta[i] = (uint8_t)(XS_WCHILD_INNER << 6);
            /* this slot's box holds what the child node's slots decode to
             * (a child's rounding never pokes out of its parent) */
            decoded_extent(&b->nodes[sub], ch[i].lo, ch[i].hi);
        }
    }
    quantize(&w, ch, n, b->margin);
    b->nodes[idx] = w;
    *out = idx;
    return depth;
}

/* The largest coordinate magnitude of a tree's root box. */
static float magnitude_of(const item *root)
{
    float m = 0.0f;
    for (int k = 0; k < 3; ++k)
        m = fmaxf(m, fmaxf(fabsf(root->lo[k]), fabsf(root->hi[k])));
    return m;
}

/* 2^-19 of magnitude m. */
static float margin_of(float m) { return isfinite(m) ? ldexpf(m, -19) : 0.0f; }

/* The largest coordinate magnitude of the world cube [-w, w]^3 in instance
 * inst's object space (its inverse transform at the frame's time). */
static float object_magnitude(const xs_instance *inst, float w)
{
    float m = 0.0f;
    for (int r = 0; r < 3; ++r) {
        const float *row = inst->inv + 4 * r;
        m = fmaxf(m, (fabsf(row[0]) + fabsf(row[1]) + fabsf(row[2])) * w + fabsf(row[3]));
    }
    return m;
}

xs_result xs_wbvh_build(const xs_wbvh_input *in, xs_wbvh *out, xs_err *err)
{
    memset(out, 0, sizeof *out);
    if (in->instance_count == 0 || in->tlas_count == 0)
        return xs_err_set(err, XS_ERR_INVALID, "wide BVH: no instances");
    wb b;
    memset(&b, 0, sizeof b);
    b.in = in;
    b.bbox = malloc(((size_t)in->node_count + 1) * sizeof *b.bbox);
    b.ibox = malloc((size_t)in->instance_count * sizeof *b.ibox);
    b.tbox = malloc((size_t)in->tlas_count * sizeof *b.tbox);
    out->mesh_root = malloc(((size_t)in->mesh_count + 1) * sizeof *out->mesh_root);
    uint8_t *walked = calloc((size_t)in->mesh_count + 1, 1);
    xs_result r = XS_OK;
    if (!b.bbox || !b.ibox || !b.tbox || !out->mesh_root || !walked) {
        r = xs_err_set(err, XS_ERR_NOMEM, "wide BVH: out of memory");
        goto done;
    }
    for (uint32_t m = 0; m < in->mesh_count; ++m) {
        out->mesh_root[m] = UINT32_MAX;
        refit(&b, in->mesh_root[m]);
    }
    for (uint32_t i = 0; i < in->instance_count; ++i) {
        const xs_instance *inst = &in->instances[i];
        const float *mb = b.bbox[in->mesh_root[inst->mesh]];
        float *ib = b.ibox[i];
        if (in->merged && in->merged[i]) {
            memcpy(ib, mb, 6 * sizeof *ib);
            continue;
        }
        walked[inst->mesh] = 1;
        box_empty(ib);
        for (int k = 0; k < 8; ++k) {
            xs_vec3 c = xs_v3(mb[(k & 1) ? 3 : 0], mb[(k & 2) ? 4 : 1], mb[(k & 4) ? 5 : 2]);
            xs_vec3 w = xs_xf_point(inst->xf, c);
            float p[3] = {w.x, w.y, w.z};
            box_add_point(ib, p);
        }
        if (in->moves && in->moves[i] && in->inst_box)
            box_add_box(ib, in->inst_box + 6 * (size_t)i);
    }
    refit_tlas(&b, 0);
    /* the top tree first, then each walked mesh's */
    item top = make_item(&b, IT_TNODE, 0, 0);
    const float world = fmaxf(magnitude_of(&top), in->origin_bound);
    b.margin = margin_of(world);
    int depth = emit(&b, &top, &out->root);
    int mesh_depth = 0;
    for (uint32_t m = 0; m < in->mesh_count && depth >= 0; ++m) {
        if (!walked[m] || (in->binary_mesh && in->binary_mesh[m]))
            continue;
        item mr = make_item(&b, IT_BNODE, in->mesh_root[m], 0);
        float mag = magnitude_of(&mr);
        for (uint32_t i = 0; i < in->instance_count; ++i)
            if (in->instances[i].mesh == m && !(in->merged && in->merged[i]))
                mag = fmaxf(mag, object_magnitude(&in->instances[i], world));
        b.margin = margin_of(mag);
        int d = emit(&b, &mr, &out->mesh_root[m]);
        if (d < 0)
            depth = -1;
        mesh_depth = d > mesh_depth ? d : mesh_depth;
    }
    if (depth < 0 || b.oom) {
        r = xs_err_set(err, XS_ERR_NOMEM, "wide BVH: out of memory");
        goto done;
    }
    if (b.count >= (1u << 28)) {
        r = xs_err_set(err, XS_ERR_INVALID, "wide BVH: %u nodes, more than the 2^28 a traversal addresses",
                       b.count);
        goto done;
    }
    out->depth = depth + mesh_depth;
    if (out->depth > XS_WBVH_MAX_DEPTH) {
        r = xs_err_set(err, XS_ERR_INVALID,
                       "wide BVH: %d levels deep, more than a traversal's stack holds (%d): the "
                       "scene's trees are degenerate",
                       out->depth, XS_WBVH_MAX_DEPTH);
        goto done;
    }
    out->nodes = b.nodes;
    out->count = b.count;
    b.nodes = NULL;
done:
    free(b.bbox), free(b.ibox), free(b.tbox), free(b.nodes), free(walked);
    if (r != XS_OK)
        xs_wbvh_free(out);
    return r;
}

void xs_wbvh_free(xs_wbvh *w)
{
    if (!w)
        return;
    free(w->nodes);
    free(w->mesh_root);
    memset(w, 0, sizeof *w);
}

void xs_wnode_child_box(const xs_wnode *n, int slot, double lo[3], double hi[3])
{
    for (int k = 0; k < 3; ++k) {
        double s = ldexp(1.0, (int)n->exp[k] - 127);
        lo[k] = (double)n->origin[k] + (double)n->qlo[k][slot] * s;
        hi[k] = (double)n->origin[k] + (double)n->qhi[k][slot] * s;
    }
}
