/* BVH build over triangles (a mesh's BLAS) or boxes (the TLAS over
 * instances); nodes are xs_bvh_node, the two children of a node side by side.
 * Two builders, both deterministic (any thread count gives the same tree,
 * byte for byte):
 *
 * Binned SAH (Wald 2007), below XS_BVH_CLUSTER_MIN primitives: 16 bins on
 * each of the three axes in one pass, leaves of at most 8 primitives, nodes
 * of at most SMALL primitives cut every possible way. Subtrees above PAR_MIN
 * primitives go to a pool of threads, but where each node lands does not
 * depend on which thread built it: a node over n primitives owns the index
 * range of the 2n - 1 nodes its subtree can use at most, so every thread
 * writes its own slots, and one depth-first pass packs the nodes.
 *
 * Clustered, from XS_BVH_CLUSTER_MIN primitives on (the second half of this
 * file): the same binned SAH over Morton-order clusters of up to 32
 * primitives, and a small SAH sweep inside each cluster. Measured on a
 * million-triangle mesh it builds about 3.5 times as fast as the binned
 * builder, for an SAH cost 3 to 6% higher (docs/benchmarks.md).
 */
#include "render/xs_bvh.h"
#include "render/xs_parallel.h"

#include <float.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { BINS = 16, MAX_LEAF = 8, MIN_LEAF = 2, PAR_MIN = 4096, PAR_PRIMS = 8192 };

typedef struct aabb {
    float lo[3], hi[3];
} aabb;

/* A primitive as the builder moves it: its box, its input index, and its
 * weight in the SAH (1 for a primitive; a cluster's primitive count). */
typedef struct prim {
    float lo[3];
    uint32_t id;
    float hi[3];
    uint32_t w;
} prim;

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
    uint32_t src; /* the buffer that holds prims begin..end */
    aabb b, cb;
} task;

typedef struct builder {
    prim *buf[2]; /* the primitives, and where a partition moves them */
    uint32_t *order; /* leaves write their primitives' input indexes here */
    xs_bvh_node *nodes; /* 2n - 1 slots, structural */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    task *shared;
    int shared_n, shared_cap;
    int pending; /* tasks queued or being built */
    int threads;
    uint32_t min_leaf, max_leaf; /* leaves hold min_leaf or fewer, or up to max_leaf if SAH says so */
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

/* Nodes of at most SMALL primitives try every way to cut them in two. */
enum { SMALL = 4 };

static void task_bounds(task *t, const prim *P)
{
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

/* split() for min_leaf < cnt <= SMALL: the cheapest of all 2^(cnt-1) - 1
 * cuts (the last primitive always on the right), the primitives reordered
 * in place, left ones first. */
static bool split_small(builder *B, const task *tk, xs_bvh_node *nd, task *left, task *right)
{
    prim *P = B->buf[tk->src] + tk->begin;
    const uint32_t cnt = tk->end - tk->begin;
    v4f lo[SMALL], hi[SMALL];
    for (uint32_t i = 0; i < cnt; ++i)
        lo[i] = v4_load(P[i].lo), hi[i] = v4_load(P[i].hi);
    unsigned best_mask = 1;
    float best = FLT_MAX;
    for (unsigned mask = 1; mask < (1u << (cnt - 1)); ++mask) {
        vbox l, r;
        vbox_empty(&l);
        vbox_empty(&r);
        uint32_t wl = 0, wr = 0;
        for (uint32_t i = 0; i < cnt; ++i) {
            unsigned on = (mask >> i) & 1u;
            vbox *t = on ? &l : &r;
            wl += on ? P[i].w : 0;
            wr += on ? 0 : P[i].w;
            t->lo = v4_min(t->lo, lo[i]);
            t->hi = v4_max(t->hi, hi[i]);
        }
        float cost = vbox_area(&l) * (float)wl + vbox_area(&r) * (float)wr;
        if (cost < best) {
            best = cost;
            best_mask = mask;
        }
    }
    float area = aabb_area(&tk->b);
    if (cnt <= B->max_leaf && best + area >= (float)cnt * area) {
        nd->first = tk->begin;
        nd->count = cnt;
        for (uint32_t i = 0; i < cnt; ++i)
            B->order[tk->begin + i] = P[i].id;
        return false;
    }
    prim tmp[SMALL];
    uint32_t nl = 0;
    for (uint32_t i = 0; i < cnt; ++i)
        if ((best_mask >> i) & 1u)
            tmp[nl++] = P[i];
    uint32_t w = nl;
    for (uint32_t i = 0; i < cnt; ++i)
        if (!((best_mask >> i) & 1u))
            tmp[w++] = P[i];
    memcpy(P, tmp, cnt * sizeof *P);
    uint32_t mid = tk->begin + nl;
    memset(left, 0, sizeof *left);
    memset(right, 0, sizeof *right);
    nd->first = tk->desc;
    nd->count = 0;
    left->node = tk->desc, left->desc = tk->desc + 2, left->begin = tk->begin, left->end = mid;
    right->node = tk->desc + 1, right->desc = tk->desc + 2 + 2 * nl - 2;
    right->begin = mid, right->end = tk->end;
    left->src = right->src = tk->src;
    task_bounds(left, B->buf[tk->src]);
    task_bounds(right, B->buf[tk->src]);
    return true;
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
    if (cnt > B->min_leaf && cnt <= SMALL)
        return split_small(B, tk, nd, left, right);
    prim *P = B->buf[tk->src];
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
    vbox bins[3][BINS];
    uint32_t nb[3][BINS];
    if (cnt > B->min_leaf) {
        /* two sets of bins, for even and odd primitives: neighbours often
         * share a bin, and one set would chain every update through memory */
        vbox bins2[3][BINS];
        uint32_t nb2[3][BINS];
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
                nb[a][k[a]] += P[i].w;
                nb2[a][k2[a]] += P[i + 1].w;
            }
        }
        for (; i < tk->end; ++i) {
            v4f lo = v4_load(P[i].lo), hi = v4_load(P[i].hi);
            v4i k = v4i_clamp(__builtin_convertvector((lo + hi - cblo) * scale, v4i), zero, top);
            for (int a = 0; a < 3; ++a) {
                vbox *bb = &bins[a][k[a]];
                bb->lo = v4_min(bb->lo, lo);
                bb->hi = v4_max(bb->hi, hi);
                nb[a][k[a]] += P[i].w;
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
    bool make_leaf = cnt <= B->min_leaf || (best_axis < 0 && cnt <= B->max_leaf) ||
                     (best_axis >= 0 && cnt <= B->max_leaf && best_cost + area >= leaf_cost);
    if (make_leaf) {
        nd->first = tk->begin;
        nd->count = cnt;
        for (uint32_t i = tk->begin; i < tk->end; ++i)
            B->order[i] = P[i].id;
        return false;
    }
    memset(left, 0, sizeof *left);
    memset(right, 0, sizeof *right);
    uint32_t mid;
    if (best_axis >= 0) {
        /* Partition into the other buffer, branch-free, computing
         * the children's centroid bounds on the way; their boxes are the
         * unions of the bins on either side of the split. */
        const int ax = best_axis;
        vbox lb, rb;
        vbox_empty(&lb);
        vbox_empty(&rb);
        for (int k = 0; k < nbins; ++k) {
            vbox *t = k < best_split ? &lb : &rb;
            t->lo = v4_min(t->lo, bins[ax][k].lo);
            t->hi = v4_max(t->hi, bins[ax][k].hi);
        }
        /* left ones from the front, right ones from the back */
        prim *Q = B->buf[tk->src ^ 1u];
        uint32_t l = tk->begin, r = tk->end - 1;
        const v4f big = {FLT_MAX, FLT_MAX, FLT_MAX, FLT_MAX};
        vbox lcb, rcb;
        vbox_empty(&lcb);
        vbox_empty(&rcb);
        for (uint32_t i = tk->begin; i < tk->end; ++i) {
            v4f lo = v4_load(P[i].lo), hi = v4_load(P[i].hi), c = lo + hi;
            v4i k = v4i_clamp(__builtin_convertvector((c - cblo) * scale, v4i), zero, top);
            int32_t isl = k[ax] < best_split;
            v4i m = (v4i){-isl, -isl, -isl, -isl};
            Q[isl ? l : r] = P[i];
            l += (uint32_t)isl;
            r -= (uint32_t)(1 - isl);
            lcb.lo = v4_min(lcb.lo, v4_sel(m, c, big));
            lcb.hi = v4_max(lcb.hi, v4_sel(m, c, -big));
            rcb.lo = v4_min(rcb.lo, v4_sel(m, big, c));
            rcb.hi = v4_max(rcb.hi, v4_sel(m, -big, c));
        }
        mid = l;
        left->src = right->src = tk->src ^ 1u;
        for (int k = 0; k < 3; ++k) {
            left->b.lo[k] = lb.lo[k], left->b.hi[k] = lb.hi[k];
            left->cb.lo[k] = lcb.lo[k], left->cb.hi[k] = lcb.hi[k];
            right->b.lo[k] = rb.lo[k], right->b.hi[k] = rb.hi[k];
            right->cb.lo[k] = rcb.lo[k], right->cb.hi[k] = rcb.hi[k];
        }
    } else {
        /* identical centroids: split the list where it lies */
        mid = tk->begin + cnt / 2;
        left->src = right->src = tk->src;
        left->begin = tk->begin, left->end = mid;
        right->begin = mid, right->end = tk->end;
        task_bounds(left, P);
        task_bounds(right, P);
    }
    uint32_t nl = mid - tk->begin;
    nd->first = tk->desc;
    nd->count = 0;
    left->node = tk->desc, left->desc = tk->desc + 2, left->begin = tk->begin, left->end = mid;
    right->node = tk->desc + 1, right->desc = tk->desc + 2 + 2 * nl - 2;
    right->begin = mid, right->end = tk->end;
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
static xs_result build(prim *prims, uint32_t n, int threads, uint32_t min_leaf, uint32_t max_leaf,
                       xs_bvh_node **out_nodes, uint32_t *out_count, uint32_t **out_order, xs_err *err)
{
    *out_nodes = NULL;
    *out_order = NULL;
    *out_count = 0;
    if (n == 0)
        return XS_OK;
    uint32_t cap = 2 * n - 1;
    builder B;
    memset(&B, 0, sizeof B);
    B.min_leaf = min_leaf;
    B.max_leaf = max_leaf;
    B.buf[0] = prims;
    B.buf[1] = malloc((size_t)n * sizeof *prims);
    B.nodes = malloc((size_t)cap * sizeof *B.nodes);
    B.threads = n >= PAR_PRIMS ? (threads < 1 ? 1 : (threads > 64 ? 64 : threads)) : 1;
    B.shared_cap = 64;
    B.shared = malloc((size_t)B.shared_cap * sizeof *B.shared);
    uint32_t *order = malloc((size_t)n * sizeof *order);
    xs_bvh_node *packed = malloc((size_t)cap * sizeof *packed);
    uint32_t *stack = malloc((size_t)(2 * cap + 2) * sizeof *stack);
    B.order = order;
    if (!B.buf[1] || !B.nodes || !B.shared || !order || !packed || !stack) {
        free(B.buf[1]), free(B.nodes), free(B.shared), free(order), free(packed), free(stack);
        return xs_err_set(err, XS_ERR_NOMEM, "BVH build: out of memory for %u primitives", n);
    }
    task root;
    memset(&root, 0, sizeof root);
    root.desc = 1;
    root.end = n;
    task_bounds(&root, prims);
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
    free(B.buf[1]), free(B.nodes), free(B.shared), free(stack);
    *out_nodes = packed;
    *out_count = count;
    *out_order = order;
    return XS_OK;
}

/* ---- Large inputs: binned SAH over Morton clusters --------------------------
 *
 * Binning every primitive at every level costs some 20 cycles a primitive a
 * level, and most of the time goes to the many small nodes near the leaves.
 * So, in the manner of HLBVH (Pantaleoni and Luebke 2010, with the SAH top of
 * Garanzha et al. 2011) and of AAC's small clusters (Gu et al. 2013):
 *
 * 1. Morton codes of the centroids (30 bits; one scale for the three axes,
 *    so the curve's cells are cubes) and an LSD radix sort, three passes of
 *    10 bits, parallel and stable: equal codes keep input order.
 * 2. The sorted list is cut where the curve's highest differing bit changes
 *    (equal codes: in halves) into clusters of at most CLUSTER_SIZE.
 * 3. The binned SAH builder above builds the top of the tree over the
 *    clusters' boxes, each weighted by its primitive count, down to one
 *    cluster a leaf.
 * 4. Each cluster gets its own subtree, built on a copy of its primitives in
 *    L1: at each node its list is sorted along the node's longest axis
 *    (unless already so) and cut where the SAH is lowest; leaves as in the
 *    binned builder. Clusters are spread over the threads in runs of about
 *    equal primitive counts; each run writes its subtrees one after another,
 *    and the runs are moved together after.
 *
 * Every step is a function of the input alone, so the tree is the same for
 * any thread count. */

enum { CLUSTER_MIN = XS_BVH_CLUSTER_MIN, CLUSTER_SIZE = 32 };

/* 10 bits spread to every third bit. */
static uint32_t spread10(uint32_t v)
{
    v &= 0x3ffu;
    v = (v | (v << 16)) & 0x030000FFu;
    v = (v | (v << 8)) & 0x0300F00Fu;
    v = (v | (v << 4)) & 0x030C30C3u;
    v = (v | (v << 2)) & 0x09249249u;
    return v;
}

/* Buffers of 32 MiB and more ask for transparent huge pages (kernels set to
 * "madvise" give them only on request): a million triangles touch some
 * 100 MB, and on the development machine 4 KiB page faults made a one-thread
 * build 97 ms instead of 79 ms. Smaller ones stay with malloc, which keeps
 * and reuses them from one mesh's build to the next (glibc's mmap threshold
 * grows up to 32 MiB). Freed with free(). */
static void *big_alloc(size_t bytes)
{
    const size_t huge = (size_t)2 << 20;
    if (bytes < 16 * huge)
        return malloc(bytes ? bytes : 1);
    size_t size = (bytes + huge - 1) / huge * huge;
    void *p = NULL;
    if (posix_memalign(&p, huge, size) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, size, MADV_HUGEPAGE);
#endif
    return p;
}

/* Where the primitives come from: triangles or boxes (lo xyz, hi xyz). */
typedef struct source {
    const xs_tri *tris;
    const float *boxes;
} source;

static inline void source_box(const source *S, uint32_t i, v4f *lo, v4f *hi)
{
    if (S->tris) {
        const xs_tri *t = &S->tris[i];
        v4f a = {t->v0.x, t->v0.y, t->v0.z, 0.0f}, e1 = {t->e1.x, t->e1.y, t->e1.z, 0.0f},
            e2 = {t->e2.x, t->e2.y, t->e2.z, 0.0f};
        v4f b = a + e1, c = a + e2;
        *lo = v4_min(v4_min(a, b), c);
        *hi = v4_max(v4_max(a, b), c);
    } else {
        const float *b = S->boxes + (size_t)i * 6;
        *lo = (v4f){b[0], b[1], b[2], 0.0f};
        *hi = (v4f){b[3], b[4], b[5], 0.0f};
    }
}

static inline void prim_set(prim *p, v4f lo, v4f hi, uint32_t id)
{
    for (int k = 0; k < 3; ++k)
        p->lo[k] = lo[k], p->hi[k] = hi[k];
    p->id = id;
    p->w = 1;
}

typedef struct big {
    int parts;
    source src;
    uint32_t n;
    uint64_t *keys, *tmp; /* code << 32 | input index */
    uint32_t (*hist)[3][1024]; /* per part: the three passes' digit counts */
    aabb part_cb[64];
    v4f cblo, cscale;
    prim *sorted;         /* Morton order */
    uint32_t *cl;         /* cluster c holds sorted[cl[c] .. cl[c + 1]) */
    uint32_t clusters;
    prim *cprims;         /* the clusters as the top builder's primitives (it reorders them) */
    uint32_t top_count;
    uint32_t *leaf_of;    /* cluster -> its top leaf's node */
    uint32_t part_begin[65], part_used[64]; /* clusters of each part; nodes it wrote */
    xs_bvh_node *out;
    uint32_t *order;
    uint32_t min_leaf, max_leaf;
    int pass; /* the radix pass running */
} big;

static void big_bounds(void *ctx, uint32_t b, uint32_t e, int part)
{
    big *G = (big *)ctx;
    vbox cb;
    vbox_empty(&cb);
    for (uint32_t i = b; i < e; ++i) {
        v4f lo, hi;
        source_box(&G->src, i, &lo, &hi);
        v4f c = lo + hi;
        cb.lo = v4_min(cb.lo, c);
        cb.hi = v4_max(cb.hi, c);
    }
    for (int k = 0; k < 3; ++k)
        G->part_cb[part].lo[k] = cb.lo[k], G->part_cb[part].hi[k] = cb.hi[k];
}

/* Keys and, per part, the three radix passes' digit counts. */
static void big_codes(void *ctx, uint32_t b, uint32_t e, int part)
{
    big *G = (big *)ctx;
    const v4f top = {1023.0f, 1023.0f, 1023.0f, 0.0f}, zero = {0.0f, 0.0f, 0.0f, 0.0f};
    uint32_t(*h)[1024] = G->hist[part];
    memset(h, 0, sizeof G->hist[part]);
    for (uint32_t i = b; i < e; ++i) {
        v4f lo, hi;
        source_box(&G->src, i, &lo, &hi);
        v4i q = __builtin_convertvector(v4_min(v4_max((lo + hi - G->cblo) * G->cscale, zero), top), v4i);
        uint32_t code = spread10((uint32_t)q[0]) << 2 | spread10((uint32_t)q[1]) << 1 |
                        spread10((uint32_t)q[2]);
        G->keys[i] = (uint64_t)code << 32 | i;
        h[0][code & 1023u]++;
        h[1][(code >> 10) & 1023u]++;
        h[2][(code >> 20) & 1023u]++;
    }
}

/* One stable radix pass over this part's keys: every part writes its
 * digits' keys after the same digits of the parts before it. */
static void big_scatter(void *ctx, uint32_t b, uint32_t e, int part)
{
    big *G = (big *)ctx;
    const int pass = G->pass, shift = 32 + 10 * pass;
    uint32_t *h = G->hist[part][pass]; /* turned into write positions */
    const uint64_t *src = G->keys;
    uint64_t *dst = G->tmp;
    for (uint32_t i = b; i < e; ++i) {
        uint64_t key = src[i];
        dst[h[(key >> shift) & 1023u]++] = key;
    }
}

static void big_count(void *ctx, uint32_t b, uint32_t e, int part)
{
    big *G = (big *)ctx;
    const int shift = 32 + 10 * G->pass;
    uint32_t *h = G->hist[part][G->pass];
    memset(h, 0, 1024 * sizeof *h);
    for (uint32_t i = b; i < e; ++i)
        h[(G->keys[i] >> shift) & 1023u]++;
}

/* LSD radix sort of the keys by their 30-bit codes: three stable passes of
 * 10 bits, so equal codes keep input order. A pass's digits are counted per
 * part of its input (the first pass's counts come with the codes). */
static void big_sort(big *G)
{
    for (int pass = 0; pass < 3; ++pass) {
        G->pass = pass;
        if (pass > 0)
            xs_parallel_for(G->parts, G->n, big_count, G);
        uint32_t sum = 0;
        for (int k = 0; k < 1024; ++k)
            for (int p = 0; p < G->parts; ++p) {
                uint32_t c = G->hist[p][pass][k];
                G->hist[p][pass][k] = sum;
                sum += c;
            }
        xs_parallel_for(G->parts, G->n, big_scatter, G);
        uint64_t *t = G->keys;
        G->keys = G->tmp;
        G->tmp = t;
    }
}

/* The primitives in Morton order. */
static void big_gather(void *ctx, uint32_t b, uint32_t e, int part)
{
    (void)part;
    big *G = (big *)ctx;
    for (uint32_t i = b; i < e; ++i) {
        uint32_t id = (uint32_t)G->keys[i];
        v4f lo, hi;
        source_box(&G->src, id, &lo, &hi);
        prim_set(&G->sorted[i], lo, hi, id);
    }
}

/* Cuts the sorted list into clusters where the curve's highest differing
 * bit changes (equal codes: in halves); returns their count. */
static uint32_t big_clusters(big *G)
{
    uint32_t stack[4 * 64], sp = 0, k = 0;
    stack[sp++] = 0;
    stack[sp++] = G->n;
    while (sp > 0) {
        uint32_t e = stack[--sp], b = stack[--sp];
        if (e - b <= CLUSTER_SIZE) {
            G->cl[k++] = b;
            continue;
        }
        uint32_t ca = (uint32_t)(G->keys[b] >> 32), cz = (uint32_t)(G->keys[e - 1] >> 32), mid;
        if (ca == cz) {
            mid = b + (e - b) / 2;
        } else {
            uint32_t bit = 1u << (31 - __builtin_clz(ca ^ cz));
            uint32_t lo = b + 1, hi = e - 1; /* the first key with the bit set */
            while (lo < hi) {
                uint32_t m = lo + (hi - lo) / 2;
                if ((uint32_t)(G->keys[m] >> 32) & bit)
                    hi = m;
                else
                    lo = m + 1;
            }
            mid = lo;
        }
        /* right half pushed first: clusters come out in list order */
        stack[sp++] = mid;
        stack[sp++] = e;
        stack[sp++] = b;
        stack[sp++] = mid;
    }
    G->cl[k] = G->n;
    return k;
}

static void big_cluster_boxes(void *ctx, uint32_t b, uint32_t e, int part)
{
    (void)part;
    big *G = (big *)ctx;
    for (uint32_t c = b; c < e; ++c) {
        vbox box;
        vbox_empty(&box);
        for (uint32_t i = G->cl[c]; i < G->cl[c + 1]; ++i) {
            box.lo = v4_min(box.lo, v4_load(G->sorted[i].lo));
            box.hi = v4_max(box.hi, v4_load(G->sorted[i].hi));
        }
        prim_set(&G->cprims[c], box.lo, box.hi, c);
        G->cprims[c].w = G->cl[c + 1] - G->cl[c];
    }
}

/* The cheapest SAH cut of P[ix[0..m)] in that order:
 * returns its cost (FLT_MAX if none), the cut in *cut, the left part's box
 * in *lbox and the box of each suffix from j on in rbox[j]. */
static float sweep_cut(const prim *P, const uint8_t *ix, uint32_t m, vbox *rbox, uint32_t *cut,
                       vbox *lbox)
{
    vbox acc;
    vbox_empty(&acc);
    for (uint32_t j = m - 1; j > 0; --j) {
        const prim *p = &P[ix[j]];
        acc.lo = v4_min(acc.lo, v4_load(p->lo));
        acc.hi = v4_max(acc.hi, v4_load(p->hi));
        rbox[j] = acc;
    }
    vbox_empty(&acc);
    float best = FLT_MAX;
    for (uint32_t j = 1; j < m; ++j) {
        const prim *p = &P[ix[j - 1]];
        acc.lo = v4_min(acc.lo, v4_load(p->lo));
        acc.hi = v4_max(acc.hi, v4_load(p->hi));
        float cost = vbox_area(&acc) * (float)j + vbox_area(&rbox[j]) * (float)(m - j);
        if (cost < best) {
            best = cost;
            *cut = j;
            *lbox = acc;
        }
    }
    return best;
}

/* One cluster's subtree over sorted[b0..e0), built on a copy of its
 * primitives: a node's list is sorted along its box's longest axis (unless it
 * already is) and cut where the SAH is lowest; leaves as in split(). The root
 * goes to *root (the top leaf, whose box is the cluster's); the other nodes
 * to out[0..), children side by side, pointing at out's absolute index `at`;
 * returns how many went to out. The leaf order goes to G->order. */
static uint32_t bottom_build(const big *G, uint32_t b0, uint32_t e0, xs_bvh_node *root, xs_bvh_node *out,
                             uint32_t at)
{
    typedef struct item {
        vbox box;
        uint32_t b, e, slot; /* slot UINT32_MAX: the root */
        int axis;            /* the axis its list is sorted on; -1: Morton order */
    } item;
    prim L[CLUSTER_SIZE];
    uint8_t perm[CLUSTER_SIZE]; /* the list: L[perm[0..n)] */
    const uint32_t n = e0 - b0;
    memcpy(L, G->sorted + b0, n * sizeof *L);
    for (uint32_t i = 0; i < n; ++i)
        perm[i] = (uint8_t)i;
    item st[2 * CLUSTER_SIZE];
    vbox rbox[CLUSTER_SIZE];
    uint32_t sp = 0, next = 0;
    st[sp].box.lo = v4_load(root->bmin); /* the top leaf's box: the cluster's */
    st[sp].box.hi = v4_load(root->bmax);
    st[sp].b = 0, st[sp].e = n, st[sp].slot = UINT32_MAX, st[sp].axis = -1;
    sp++;
    while (sp > 0) {
        const item it = st[--sp];
        const uint32_t b = it.b, e = it.e, m = e - b;
        xs_bvh_node *nd = it.slot == UINT32_MAX ? root : &out[it.slot];
        for (int k = 0; k < 3; ++k)
            nd->bmin[k] = it.box.lo[k], nd->bmax[k] = it.box.hi[k];
        uint32_t cut = 0;
        float best = FLT_MAX;
        vbox lbest;
        v4f d = it.box.hi - it.box.lo;
        const int ax = d[0] >= d[1] ? (d[0] >= d[2] ? 0 : 2) : (d[1] >= d[2] ? 1 : 2);
        if (m > G->min_leaf) {
            if (it.axis != ax) {
                /* sort on the longest axis (insertion sort of the centroids:
                 * lists are short, and often nearly sorted already) */
                float key[CLUSTER_SIZE];
                for (uint32_t i = 0; i < m; ++i) {
                    uint8_t id = perm[b + i];
                    float c = L[id].lo[ax] + L[id].hi[ax];
                    uint32_t j = i;
                    while (j > 0 && key[j - 1] > c) {
                        key[j] = key[j - 1];
                        perm[b + j] = perm[b + j - 1];
                        --j;
                    }
                    key[j] = c;
                    perm[b + j] = id;
                }
            }
            best = sweep_cut(L, perm + b, m, rbox, &cut, &lbest);
        }
        float area = vbox_area(&it.box);
        if (m <= G->min_leaf || (m <= G->max_leaf && best + area >= (float)m * area)) {
            nd->first = b0 + b;
            nd->count = m;
            continue;
        }
        nd->first = at + next;
        nd->count = 0;
        st[sp].box = rbox[cut];
        st[sp].b = b + cut, st[sp].e = e, st[sp].slot = next + 1, st[sp].axis = ax;
        sp++;
        st[sp].box = lbest;
        st[sp].b = b, st[sp].e = b + cut, st[sp].slot = next, st[sp].axis = ax;
        sp++;
        next += 2;
    }
    for (uint32_t i = 0; i < n; ++i)
        G->order[b0 + i] = L[perm[i]].id;
    return next;
}

/* A part's clusters write their subtrees one after another from where the
 * part's worst case begins (2 m - 2 nodes below each root); compacted after. */
static void big_bottoms(void *ctx, uint32_t b, uint32_t e, int part)
{
    (void)b, (void)e;
    big *G = (big *)ctx;
    uint32_t c0 = G->part_begin[part], c1 = G->part_begin[part + 1];
    uint32_t at = G->top_count + 2 * (G->cl[c0] - c0), used = 0;
    for (uint32_t c = c0; c < c1; ++c)
        used += bottom_build(G, G->cl[c], G->cl[c + 1], &G->out[G->leaf_of[c]], G->out + at + used,
                             at + used);
    G->part_used[part] = used;
}

static xs_result build_big(const source *src, uint32_t n, int threads, xs_bvh_node **out_nodes,
                           uint32_t *out_count, uint32_t **out_order, xs_err *err)
{
    big *G = calloc(1, sizeof *G);
    if (!G)
        return xs_err_set(err, XS_ERR_NOMEM, "BVH build: out of memory for %u primitives", n);
    G->parts = threads < 1 ? 1 : (threads > 64 ? 64 : threads);
    G->src = *src;
    G->n = n;
    G->min_leaf = MIN_LEAF;
    G->max_leaf = MAX_LEAF;
    G->keys = big_alloc((size_t)n * sizeof *G->keys);
    G->tmp = big_alloc((size_t)n * sizeof *G->tmp);
    G->order = big_alloc((size_t)n * sizeof *G->order);
    G->cl = malloc(((size_t)n + 1) * sizeof *G->cl);
    G->hist = malloc((size_t)G->parts * sizeof *G->hist);
    xs_bvh_node *top = NULL;
    uint32_t *top_order = NULL, top_count = 0;
    xs_result r = XS_OK;
    if (!G->keys || !G->tmp || !G->order || !G->cl || !G->hist)
        goto nomem;
    xs_parallel_for(G->parts, n, big_bounds, G);
    vbox cb;
    vbox_empty(&cb);
    for (int p = 0; p < G->parts; ++p)
        for (int k = 0; k < 3; ++k) {
            cb.lo[k] = G->part_cb[p].lo[k] < cb.lo[k] ? G->part_cb[p].lo[k] : cb.lo[k];
            cb.hi[k] = G->part_cb[p].hi[k] > cb.hi[k] ? G->part_cb[p].hi[k] : cb.hi[k];
        }
    /* one scale for the three axes: the curve's cells are cubes, so a flat
     * mesh is not cut as finely across its thin axis as along the others */
    G->cblo = cb.lo;
    float ext = 0.0f;
    for (int k = 0; k < 3; ++k)
        ext = cb.hi[k] - cb.lo[k] > ext ? cb.hi[k] - cb.lo[k] : ext;
    for (int k = 0; k < 3; ++k)
        G->cscale[k] = ext > 0.0f ? 1024.0f / ext : 0.0f;
    G->cblo[3] = G->cscale[3] = 0.0f;
    xs_parallel_for(G->parts, n, big_codes, G);
    big_sort(G);
    free(G->tmp), G->tmp = NULL;
    G->sorted = big_alloc((size_t)n * sizeof *G->sorted);
    if (!G->sorted)
        goto nomem;
    xs_parallel_for(G->parts, n, big_gather, G);
    G->clusters = big_clusters(G);
    free(G->keys), G->keys = NULL;
    uint32_t k = G->clusters;
    G->cprims = malloc((size_t)k * sizeof *G->cprims);
    G->leaf_of = malloc((size_t)k * sizeof *G->leaf_of);
    if (!G->cprims || !G->leaf_of)
        goto nomem;
    xs_parallel_for(G->parts, k, big_cluster_boxes, G);
    r = build(G->cprims, k, threads, 1, 1, &top, &top_count, &top_order, err);
    if (r != XS_OK)
        goto done;
    G->top_count = top_count;
    for (uint32_t i = 0; i < top_count; ++i)
        if (top[i].count > 0)
            G->leaf_of[top_order[top[i].first]] = i;
    size_t cap = (size_t)top_count + 2 * ((size_t)n - k);
    G->out = big_alloc(cap * sizeof *G->out);
    if (!G->out)
        goto nomem;
    memcpy(G->out, top, (size_t)top_count * sizeof *top);
    /* parts of about equal primitive counts, cut at cluster boundaries */
    for (int p = 0; p <= G->parts; ++p) {
        uint32_t want = (uint32_t)((uint64_t)n * (uint64_t)p / (uint64_t)G->parts), lo = 0, hi = k;
        while (lo < hi) { /* the first cluster starting at or after want */
            uint32_t m = lo + (hi - lo) / 2;
            if (G->cl[m] < want)
                lo = m + 1;
            else
                hi = m;
        }
        G->part_begin[p] = p == G->parts ? k : lo;
    }
    xs_parallel_for(G->parts, (uint32_t)G->parts, big_bottoms, G);
    /* compact: each part's nodes move down to follow the previous part's */
    uint32_t end = top_count + G->part_used[0];
    for (int p = 1; p < G->parts; ++p) {
        uint32_t c0 = G->part_begin[p], c1 = G->part_begin[p + 1];
        uint32_t at = top_count + 2 * (G->cl[c0] - c0), used = G->part_used[p], shift = at - end;
        if (shift > 0 && used > 0) {
            memmove(G->out + end, G->out + at, (size_t)used * sizeof *G->out);
            for (uint32_t i = end; i < end + used; ++i)
                if (G->out[i].count == 0)
                    G->out[i].first -= shift;
        }
        if (shift > 0)
            for (uint32_t c = c0; c < c1; ++c)
                if (G->out[G->leaf_of[c]].count == 0)
                    G->out[G->leaf_of[c]].first -= shift;
        end += used;
    }
    *out_nodes = G->out;
    *out_count = end;
    *out_order = G->order;
    G->out = NULL;
    G->order = NULL;
    goto done;
nomem:
    r = xs_err_set(err, XS_ERR_NOMEM, "BVH build: out of memory for %u primitives", n);
done:
    free(G->sorted), free(G->keys), free(G->tmp), free(G->order), free(G->cl), free(G->cprims);
    free(G->leaf_of), free(G->out), free(G->hist), free(top), free(top_order), free(G);
    return r;
}

/* Either builder over the primitives of S (ids = input order). */
static xs_result build_source(const source *S, uint32_t n, int threads, xs_bvh_method method,
                              xs_bvh_node **nodes, uint32_t *node_count, uint32_t **order, xs_err *err)
{
    *nodes = NULL;
    *order = NULL;
    *node_count = 0;
    if (n == 0)
        return XS_OK;
    if (method == XS_BVH_CLUSTERED || (method == XS_BVH_AUTO && n >= CLUSTER_MIN))
        return build_big(S, n, threads, nodes, node_count, order, err);
    prim *p = malloc((size_t)n * sizeof *p);
    if (!p)
        return xs_err_set(err, XS_ERR_NOMEM, "BVH build: out of memory for %u primitives", n);
    for (uint32_t i = 0; i < n; ++i) {
        v4f lo, hi;
        source_box(S, i, &lo, &hi);
        prim_set(&p[i], lo, hi, i);
    }
    xs_result r = build(p, n, threads, MIN_LEAF, MAX_LEAF, nodes, node_count, order, err);
    free(p);
    return r;
}

xs_result xs_bvh_build_with(const xs_tri *tris, uint32_t n, int threads, xs_bvh_method method,
                            xs_bvh_node **nodes, uint32_t *node_count, uint32_t **order, xs_err *err)
{
    source S = {tris, NULL};
    return build_source(&S, n, threads, method, nodes, node_count, order, err);
}

xs_result xs_bvh_build(const xs_tri *tris, uint32_t n, int threads, xs_bvh_node **nodes,
                       uint32_t *node_count, uint32_t **order, xs_err *err)
{
    return xs_bvh_build_with(tris, n, threads, XS_BVH_AUTO, nodes, node_count, order, err);
}

void xs_bvh_refit(xs_bvh_node *nodes, uint32_t root, uint32_t count, const float *boxes,
                  uint32_t prim_base)
{
    /* children come after their parent, so one pass from the last node back
     * sees every child before its parent */
    for (uint32_t i = root + count; i-- > root;) {
        xs_bvh_node *n = &nodes[i];
        float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
        if (n->count > 0) {
            for (uint32_t p = n->first; p < n->first + n->count; ++p) {
                const float *b = boxes + 6 * (size_t)(p - prim_base);
                for (int k = 0; k < 3; ++k) {
                    lo[k] = b[k] < lo[k] ? b[k] : lo[k];
                    hi[k] = b[3 + k] > hi[k] ? b[3 + k] : hi[k];
                }
            }
        } else {
            const xs_bvh_node *a = &nodes[n->first], *b = &nodes[n->first + 1];
            for (int k = 0; k < 3; ++k) {
                lo[k] = a->bmin[k] < b->bmin[k] ? a->bmin[k] : b->bmin[k];
                hi[k] = a->bmax[k] > b->bmax[k] ? a->bmax[k] : b->bmax[k];
            }
        }
        for (int k = 0; k < 3; ++k) {
            n->bmin[k] = lo[k];
            n->bmax[k] = hi[k];
        }
    }
}

double xs_bvh_refit_tris(xs_bvh_node *nodes, uint32_t root, uint32_t count, const xs_tri *tris)
{
    double sum = 0.0, area = 0.0;
    for (uint32_t i = root + count; i-- > root;) {
        xs_bvh_node *n = &nodes[i];
        float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
        if (n->count > 0) {
            for (uint32_t p = n->first; p < n->first + n->count; ++p) {
                const xs_tri *t = &tris[p];
                const float c[3][3] = {{t->v0.x, t->v0.y, t->v0.z},
                                       {t->v0.x + t->e1.x, t->v0.y + t->e1.y, t->v0.z + t->e1.z},
                                       {t->v0.x + t->e2.x, t->v0.y + t->e2.y, t->v0.z + t->e2.z}};
                for (int v = 0; v < 3; ++v)
                    for (int k = 0; k < 3; ++k) {
                        lo[k] = c[v][k] < lo[k] ? c[v][k] : lo[k];
                        hi[k] = c[v][k] > hi[k] ? c[v][k] : hi[k];
                    }
            }
        } else {
            const xs_bvh_node *a = &nodes[n->first], *b = &nodes[n->first + 1];
            for (int k = 0; k < 3; ++k) {
                lo[k] = a->bmin[k] < b->bmin[k] ? a->bmin[k] : b->bmin[k];
                hi[k] = a->bmax[k] > b->bmax[k] ? a->bmax[k] : b->bmax[k];
            }
        }
        for (int k = 0; k < 3; ++k) {
            n->bmin[k] = lo[k];
            n->bmax[k] = hi[k];
        }
        double dx = (double)hi[0] - lo[0], dy = (double)hi[1] - lo[1], dz = (double)hi[2] - lo[2];
        area = 2.0 * (dx * dy + dy * dz + dz * dx);
        sum += area * (n->count ? (double)n->count : 1.0);
    }
    return area > 0.0 ? sum / area : 0.0; /* the last area is the root's */
}

double xs_bvh_sah_cost(const xs_bvh_node *nodes, uint32_t count)
{
    double sum = 0.0, root = 0.0;
    for (uint32_t i = 0; i < count; ++i) {
        const xs_bvh_node *b = &nodes[i];
        double dx = (double)b->bmax[0] - b->bmin[0], dy = (double)b->bmax[1] - b->bmin[1],
               dz = (double)b->bmax[2] - b->bmin[2];
        double a = 2.0 * (dx * dy + dy * dz + dz * dx);
        if (i == 0)
            root = a;
        sum += a * (b->count ? (double)b->count : 1.0);
    }
    return root > 0.0 ? sum / root : 0.0;
}

xs_result xs_bvh_build_boxes(const float *lohi, uint32_t n, int threads, xs_bvh_node **nodes,
                             uint32_t *node_count, uint32_t **order, xs_err *err)
{
    source S = {NULL, lohi};
    return build_source(&S, n, threads, XS_BVH_AUTO, nodes, node_count, order, err);
}
