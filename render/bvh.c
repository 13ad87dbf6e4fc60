/* BVH build: binned surface-area heuristic (Wald 2007), 16 bins on each of
 * the three axes in one pass, leaves of at most 8 primitives, the two
 * children of a node stored next to each other; over triangles (a mesh's
 * BLAS) or over boxes (the TLAS over instances).
 *
 * Multithreaded and deterministic: subtrees above PAR_MIN primitives are
 * handed to a pool of threads, but where each node lands does not depend on
 * which thread built it. A node over n primitives owns the index range of the
 * 2n - 1 nodes its subtree can use at most (children first, then the left
 * subtree's, then the right's), so every thread writes its own slots; one
 * depth-first pass then packs the nodes. Splits depend on the primitives
 * alone, so any thread count gives the same tree, byte for byte.
 */
#include "render/render_internal.h"

#include <float.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { BINS = 16, MAX_LEAF = 8, MIN_LEAF = 2, PAR_MIN = 4096, PAR_PRIMS = 65536 };

typedef struct aabb {
    float lo[3], hi[3];
} aabb;

/* A primitive as the builder moves it: its box and its input index. */
typedef struct prim {
    float lo[3];
    uint32_t id;
    float hi[3];
    uint32_t pad_;
} prim;

static void aabb_empty(aabb *b)
{
    for (int k = 0; k < 3; ++k) {
        b->lo[k] = FLT_MAX;
        b->hi[k] = -FLT_MAX;
    }
}
static void aabb_merge_p(aabb *b, const prim *p)
{
    for (int k = 0; k < 3; ++k) {
        b->lo[k] = p->lo[k] < b->lo[k] ? p->lo[k] : b->lo[k];
        b->hi[k] = p->hi[k] > b->hi[k] ? p->hi[k] : b->hi[k];
    }
}
/* Grows centroid bounds (kept doubled: lo + hi) by p's centroid. */
static void cb_grow(aabb *b, const prim *p)
{
    for (int k = 0; k < 3; ++k) {
        float c = p->lo[k] + p->hi[k];
        b->lo[k] = c < b->lo[k] ? c : b->lo[k];
        b->hi[k] = c > b->hi[k] ? c : b->hi[k];
    }
}
static float aabb_area(const aabb *b)
{
    float dx = b->hi[0] - b->lo[0], dy = b->hi[1] - b->lo[1], dz = b->hi[2] - b->lo[2];
    if (dx < 0.0f)
        return 0.0f;
    return 2.0f * (dx * dy + dy * dz + dz * dx);
}

typedef struct task {
    uint32_t node, desc; /* the node's slot, and where its descendants' slots begin */
    uint32_t begin, end;
    aabb b, cb;
} task;

typedef struct builder {
    prim *prims;
    xs_bvh_node *nodes; /* 2n - 1 slots, structural */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    task *shared;
    int shared_n, shared_cap;
    int pending; /* tasks queued or being built */
    int threads;
} builder;


/* 4-wide float and int vectors (GCC/Clang vector extensions: SSE on x86-64,
 * NEON on arm64, scalar code elsewhere); lane 3 is unused. */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f v4_load(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    v[3] = 0.0f; /* the id or padding shares the slot */
    return v;
}
static inline v4f v4_sel(v4i m, v4f a, v4f b) { return (v4f)(((v4i)a & m) | ((v4i)b & ~m)); }
#if defined(__SSE__)
#include <xmmintrin.h>
static inline v4f v4_min(v4f a, v4f b) { return (v4f)_mm_min_ps((__m128)a, (__m128)b); }
static inline v4f v4_max(v4f a, v4f b) { return (v4f)_mm_max_ps((__m128)a, (__m128)b); }
#else
static inline v4f v4_min(v4f a, v4f b) { return v4_sel(a < b, a, b); }
static inline v4f v4_max(v4f a, v4f b) { return v4_sel(a > b, a, b); }
#endif
static inline v4i v4i_clamp(v4i k, v4i lo, v4i hi)
{
    v4i m = k < lo;
    k = (lo & m) | (k & ~m);
    m = k > hi;
    return (hi & m) | (k & ~m);
}

typedef struct vbox {
    v4f lo, hi;
} vbox;

static inline void vbox_empty(vbox *b)
{
    b->lo = (v4f){FLT_MAX, FLT_MAX, FLT_MAX, FLT_MAX};
    b->hi = -b->lo;
}
static inline float vbox_area(const vbox *b)
{
    v4f d = b->hi - b->lo;
    if (d[0] < 0.0f)
        return 0.0f;
    return 2.0f * (d[0] * d[1] + d[1] * d[2] + d[2] * d[0]);
}

/* Splits tk; false when it becomes a leaf. Fills the children's tasks. */
static bool split(builder *B, const task *tk, task *left, task *right)
{
    xs_bvh_node *nd = &B->nodes[tk->node];
    for (int k = 0; k < 3; ++k) {
        nd->bmin[k] = tk->b.lo[k];
        nd->bmax[k] = tk->b.hi[k];
    }
    uint32_t cnt = tk->end - tk->begin;
    prim *P = B->prims;
    int best_axis = -1, best_split = 0;
    float best_cost = FLT_MAX;
    /* fewer bins for small nodes: the sweep would cost more than the binning */
    const int nbins = cnt < BINS ? (int)(cnt < 4 ? 4 : cnt) : BINS;
    v4f cblo = {tk->cb.lo[0], tk->cb.lo[1], tk->cb.lo[2], 0.0f}, scale;
    for (int a = 0; a < 3; ++a) {
        float ext = tk->cb.hi[a] - tk->cb.lo[a];
        scale[a] = ext > 0.0f ? (float)nbins / ext : 0.0f;
    }
    scale[3] = 0.0f;
    const v4i zero = {0, 0, 0, 0}, top = {nbins - 1, nbins - 1, nbins - 1, 0};
    if (cnt > MIN_LEAF) {
        /* two sets of bins, for even and odd primitives: neighbours often
         * share a bin, and one set would chain every update through memory */
        vbox bins[3][BINS], bins2[3][BINS];
        uint32_t nb[3][BINS], nb2[3][BINS];
        memset(nb, 0, sizeof nb);
        memset(nb2, 0, sizeof nb2);
        for (int a = 0; a < 3; ++a)
            for (int k = 0; k < nbins; ++k) {
                vbox_empty(&bins[a][k]);
                vbox_empty(&bins2[a][k]);
            }
        uint32_t i = tk->begin;
        for (; i + 1 < tk->end; i += 2) {
            v4f lo = v4_load(P[i].lo), hi = v4_load(P[i].hi);
            v4f lo2 = v4_load(P[i + 1].lo), hi2 = v4_load(P[i + 1].hi);
            v4i k = v4i_clamp(__builtin_convertvector((lo + hi - cblo) * scale, v4i), zero, top);
            v4i k2 = v4i_clamp(__builtin_convertvector((lo2 + hi2 - cblo) * scale, v4i), zero, top);
            for (int a = 0; a < 3; ++a) {
                vbox *bb = &bins[a][k[a]], *b2 = &bins2[a][k2[a]];
                bb->lo = v4_min(bb->lo, lo);
                bb->hi = v4_max(bb->hi, hi);
                b2->lo = v4_min(b2->lo, lo2);
                b2->hi = v4_max(b2->hi, hi2);
                nb[a][k[a]]++;
                nb2[a][k2[a]]++;
            }
        }
        for (; i < tk->end; ++i) {
            v4f lo = v4_load(P[i].lo), hi = v4_load(P[i].hi);
            v4i k = v4i_clamp(__builtin_convertvector((lo + hi - cblo) * scale, v4i), zero, top);
            for (int a = 0; a < 3; ++a) {
                vbox *bb = &bins[a][k[a]];
                bb->lo = v4_min(bb->lo, lo);
                bb->hi = v4_max(bb->hi, hi);
                nb[a][k[a]]++;
            }
        }
        for (int a = 0; a < 3; ++a)
            for (int k = 0; k < nbins; ++k) {
                bins[a][k].lo = v4_min(bins[a][k].lo, bins2[a][k].lo);
                bins[a][k].hi = v4_max(bins[a][k].hi, bins2[a][k].hi);
                nb[a][k] += nb2[a][k];
            }
        for (int a = 0; a < 3; ++a) {
            if (!(scale[a] > 0.0f))
                continue;
            float right_area[BINS];
            uint32_t right_n[BINS];
            vbox acc;
            vbox_empty(&acc);
            uint32_t accn = 0;
            for (int k = nbins - 1; k > 0; --k) {
                acc.lo = v4_min(acc.lo, bins[a][k].lo);
                acc.hi = v4_max(acc.hi, bins[a][k].hi);
                accn += nb[a][k];
                right_area[k] = vbox_area(&acc);
                right_n[k] = accn;
            }
            vbox_empty(&acc);
            accn = 0;
            for (int k = 0; k < nbins - 1; ++k) {
                acc.lo = v4_min(acc.lo, bins[a][k].lo);
                acc.hi = v4_max(acc.hi, bins[a][k].hi);
                accn += nb[a][k];
                if (accn == 0 || right_n[k + 1] == 0)
                    continue;
                float cost = vbox_area(&acc) * (float)accn + right_area[k + 1] * (float)right_n[k + 1];
                if (cost < best_cost) {
                    best_cost = cost;
                    best_axis = a;
                    best_split = k + 1;
                }
            }
        }
    }
    /* SAH: traversal cost 1, triangle test cost 1, relative to the parent. */
    float area = aabb_area(&tk->b);
    float leaf_cost = (float)cnt * area;
    bool make_leaf = cnt <= MIN_LEAF || (best_axis < 0 && cnt <= MAX_LEAF) ||
                     (best_axis >= 0 && cnt <= MAX_LEAF && best_cost + area >= leaf_cost);
    if (make_leaf) {
        nd->first = tk->begin;
        nd->count = cnt;
        return false;
    }
    uint32_t mid;
    if (best_axis >= 0) {
        uint32_t i = tk->begin, j = tk->end;
        const int ax = best_axis;
        float lo = cblo[ax], sc = scale[ax];
        while (i < j) {
            const prim *p = &P[i];
            int k = (int)((p->lo[ax] + p->hi[ax] - lo) * sc);
            k = k < 0 ? 0 : (k > nbins - 1 ? nbins - 1 : k);
            if (k < best_split) {
                ++i;
            } else {
                prim t = P[i];
                P[i] = P[--j];
                P[j] = t;
            }
        }
        mid = i;
        if (mid == tk->begin || mid == tk->end)
            mid = tk->begin + cnt / 2;
    } else {
        mid = tk->begin + cnt / 2; /* identical centroids: split the list */
    }
    uint32_t nl = mid - tk->begin;
    nd->first = tk->desc;
    nd->count = 0;
    memset(left, 0, sizeof *left);
    memset(right, 0, sizeof *right);
    left->node = tk->desc, left->desc = tk->desc + 2, left->begin = tk->begin, left->end = mid;
    right->node = tk->desc + 1, right->desc = tk->desc + 2 + 2 * nl - 2;
    right->begin = mid, right->end = tk->end;
    for (int side = 0; side < 2; ++side) {
        task *t = side == 0 ? left : right;
        vbox b, cb;
        vbox_empty(&b);
        vbox_empty(&cb);
        for (uint32_t i = t->begin; i < t->end; ++i) {
            v4f lo = v4_load(P[i].lo), hi = v4_load(P[i].hi), c = lo + hi;
            b.lo = v4_min(b.lo, lo);
            b.hi = v4_max(b.hi, hi);
            cb.lo = v4_min(cb.lo, c);
            cb.hi = v4_max(cb.hi, c);
        }
        for (int k = 0; k < 3; ++k) {
            t->b.lo[k] = b.lo[k], t->b.hi[k] = b.hi[k];
            t->cb.lo[k] = cb.lo[k], t->cb.hi[k] = cb.hi[k];
        }
    }
    return true;
}

/* Builds the subtree of tk; big subtrees go to the shared queue while other
 * threads could take them. */
static void build_task(builder *B, task tk)
{
    enum { LOCAL = 128 };
    task local[LOCAL];
    int n = 0;
    local[n++] = tk;
    while (n > 0) {
        task t = local[--n], l, r;
        if (!split(B, &t, &l, &r))
            continue;
        task kids[2] = {r, l}; /* left on top: built first */
        for (int k = 0; k < 2; ++k) {
            task c = kids[k];
            bool give = false;
            if (B->threads > 1 && c.end - c.begin >= PAR_MIN) {
                pthread_mutex_lock(&B->lock);
                if (B->shared_n < B->shared_cap && B->shared_n < B->threads) {
                    B->shared[B->shared_n++] = c;
                    B->pending++;
                    give = true;
                    pthread_cond_signal(&B->cond);
                }
                pthread_mutex_unlock(&B->lock);
            }
            if (!give) {
                if (n < LOCAL)
                    local[n++] = c;
                else
                    build_task(B, c); /* deep, unbalanced trees: recurse */
            }
        }
    }
}

static void *build_thread(void *arg)
{
    builder *B = (builder *)arg;
    pthread_mutex_lock(&B->lock);
    for (;;) {
        while (B->shared_n == 0 && B->pending > 0)
            pthread_cond_wait(&B->cond, &B->lock);
        if (B->shared_n == 0)
            break;
        task t = B->shared[--B->shared_n];
        pthread_mutex_unlock(&B->lock);
        build_task(B, t);
        pthread_mutex_lock(&B->lock);
        if (--B->pending == 0)
            pthread_cond_broadcast(&B->cond);
    }
    pthread_mutex_unlock(&B->lock);
    return NULL;
}

/* The builder over prims[0..n) (their ids are the input order). */
static xs_result build(prim *prims, uint32_t n, int threads, xs_bvh_node **out_nodes,
                       uint32_t *out_count, uint32_t **out_order, xs_err *err)
{
    *out_nodes = NULL;
    *out_order = NULL;
    *out_count = 0;
    if (n == 0)
        return XS_OK;
    uint32_t cap = 2 * n - 1;
    builder B;
    memset(&B, 0, sizeof B);
    B.prims = prims;
    B.nodes = malloc((size_t)cap * sizeof *B.nodes);
    B.threads = n >= PAR_PRIMS ? (threads < 1 ? 1 : (threads > 64 ? 64 : threads)) : 1;
    B.shared_cap = 64;
    B.shared = malloc((size_t)B.shared_cap * sizeof *B.shared);
    uint32_t *order = malloc((size_t)n * sizeof *order);
    xs_bvh_node *packed = malloc((size_t)cap * sizeof *packed);
    uint32_t *stack = malloc((size_t)(2 * cap + 2) * sizeof *stack);
    if (!B.nodes || !B.shared || !order || !packed || !stack) {
        free(B.nodes), free(B.shared), free(order), free(packed), free(stack);
        return xs_err_set(err, XS_ERR_NOMEM, "BVH build: out of memory for %u primitives", n);
    }
    task root;
    memset(&root, 0, sizeof root);
    root.desc = 1;
    root.end = n;
    aabb_empty(&root.b);
    aabb_empty(&root.cb);
    for (uint32_t i = 0; i < n; ++i) {
        aabb_merge_p(&root.b, &prims[i]);
        cb_grow(&root.cb, &prims[i]);
    }
    pthread_mutex_init(&B.lock, NULL);
    pthread_cond_init(&B.cond, NULL);
    B.shared[B.shared_n++] = root;
    B.pending = 1;
    pthread_t th[64];
    int started = 0;
    for (int i = 1; i < B.threads; ++i) {
        if (pthread_create(&th[started], NULL, build_thread, &B) != 0)
            break;
        started++;
    }
    build_thread(&B);
    for (int i = 0; i < started; ++i)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&B.lock);
    pthread_cond_destroy(&B.cond);
    /* pack depth-first: children pairs stay adjacent */
    uint32_t count = 1, sp = 0;
    packed[0] = B.nodes[0];
    stack[sp++] = 0; /* old index */
    stack[sp++] = 0; /* new index */
    while (sp > 0) {
        uint32_t nw = stack[--sp], old = stack[--sp];
        xs_bvh_node nd = B.nodes[old];
        if (nd.count > 0) {
            packed[nw] = nd;
            continue;
        }
        uint32_t c = count;
        count += 2;
        packed[nw] = nd;
        packed[nw].first = c;
        stack[sp++] = nd.first + 1;
        stack[sp++] = c + 1;
        stack[sp++] = nd.first;
        stack[sp++] = c;
    }
    for (uint32_t i = 0; i < n; ++i)
        order[i] = prims[i].id;
    free(B.nodes), free(B.shared), free(stack);
    *out_nodes = packed;
    *out_count = count;
    *out_order = order;
    return XS_OK;
}

xs_result xs_bvh_build(const xs_tri *tris, uint32_t n, int threads, xs_bvh_node **nodes,
                       uint32_t *node_count, uint32_t **order, xs_err *err)
{
    prim *p = malloc((n ? n : 1) * sizeof *p);
    if (!p)
        return xs_err_set(err, XS_ERR_NOMEM, "BVH build: out of memory for %u triangles", n);
    for (uint32_t i = 0; i < n; ++i) {
        const xs_tri *t = &tris[i];
        float a[3] = {t->v0.x, t->v0.y, t->v0.z};
        float b[3] = {a[0] + t->e1.x, a[1] + t->e1.y, a[2] + t->e1.z};
        float c[3] = {a[0] + t->e2.x, a[1] + t->e2.y, a[2] + t->e2.z};
        for (int k = 0; k < 3; ++k) {
            float lo = a[k] < b[k] ? a[k] : b[k], hi = a[k] > b[k] ? a[k] : b[k];
            p[i].lo[k] = lo < c[k] ? lo : c[k];
            p[i].hi[k] = hi > c[k] ? hi : c[k];
        }
        p[i].id = i;
        p[i].pad_ = 0;
    }
    xs_result r = build(p, n, threads, nodes, node_count, order, err);
    free(p);
    return r;
}

xs_result xs_bvh_build_boxes(const float *lohi, uint32_t n, int threads, xs_bvh_node **nodes,
                             uint32_t *node_count, uint32_t **order, xs_err *err)
{
    prim *p = malloc((n ? n : 1) * sizeof *p);
    if (!p)
        return xs_err_set(err, XS_ERR_NOMEM, "BVH build: out of memory for %u boxes", n);
    for (uint32_t i = 0; i < n; ++i) {
        const float *b = lohi + (size_t)i * 6;
        for (int k = 0; k < 3; ++k) {
            p[i].lo[k] = b[k];
            p[i].hi[k] = b[3 + k];
        }
        p[i].id = i;
        p[i].pad_ = 0;
    }
    xs_result r = build(p, n, threads, nodes, node_count, order, err);
    free(p);
    return r;
}
