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
static void aabb_merge(aabb *b, const aabb *o)
{
    for (int k = 0; k < 3; ++k) {
        b->lo[k] = o->lo[k] < b->lo[k] ? o->lo[k] : b->lo[k];
        b->hi[k] = o->hi[k] > b->hi[k] ? o->hi[k] : b->hi[k];
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

static int bin_of(float c, float lo, float scale)
{
    int k = (int)((c - lo) * scale);
    return k < 0 ? 0 : (k >= BINS ? BINS - 1 : k);
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
    float scale[3];
    if (cnt > MIN_LEAF) {
        aabb bins[3][BINS];
        uint32_t nb[3][BINS];
        memset(nb, 0, sizeof nb);
        for (int a = 0; a < 3; ++a) {
            for (int k = 0; k < BINS; ++k)
                aabb_empty(&bins[a][k]);
            float ext = tk->cb.hi[a] - tk->cb.lo[a];
            scale[a] = ext > 0.0f ? (float)BINS / ext : 0.0f;
        }
        for (uint32_t i = tk->begin; i < tk->end; ++i) {
            const prim *p = &P[i];
            for (int a = 0; a < 3; ++a) {
                int k = bin_of(p->lo[a] + p->hi[a], tk->cb.lo[a], scale[a]);
                nb[a][k]++;
                aabb_merge_p(&bins[a][k], p);
            }
        }
        for (int a = 0; a < 3; ++a) {
            if (!(scale[a] > 0.0f))
                continue;
            float right_area[BINS];
            uint32_t right_n[BINS];
            aabb acc;
            aabb_empty(&acc);
            uint32_t accn = 0;
            for (int k = BINS - 1; k > 0; --k) {
                aabb_merge(&acc, &bins[a][k]);
                accn += nb[a][k];
                right_area[k] = aabb_area(&acc);
                right_n[k] = accn;
            }
            aabb_empty(&acc);
            accn = 0;
            for (int k = 0; k < BINS - 1; ++k) {
                aabb_merge(&acc, &bins[a][k]);
                accn += nb[a][k];
                if (accn == 0 || right_n[k + 1] == 0)
                    continue;
                float cost = aabb_area(&acc) * (float)accn + right_area[k + 1] * (float)right_n[k + 1];
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
        float lo = tk->cb.lo[best_axis], sc = scale[best_axis];
        while (i < j) {
            const prim *p = &P[i];
            if (bin_of(p->lo[best_axis] + p->hi[best_axis], lo, sc) < best_split) {
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
    aabb_empty(&left->b), aabb_empty(&left->cb), aabb_empty(&right->b), aabb_empty(&right->cb);
    for (uint32_t i = tk->begin; i < mid; ++i) {
        aabb_merge_p(&left->b, &P[i]);
        cb_grow(&left->cb, &P[i]);
    }
    for (uint32_t i = mid; i < tk->end; ++i) {
        aabb_merge_p(&right->b, &P[i]);
        cb_grow(&right->cb, &P[i]);
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
