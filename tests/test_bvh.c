/* BVH builder tests (render/bvh.c), both builders, on generated inputs:
 *
 * valid: every tree is well formed: each node reached once from the root,
 *   children inside the node array, every child box inside its parent's
 *   box, every triangle inside its leaf's box, every triangle in exactly one
 *   leaf, leaves of 1 to 8 triangles. Inputs: a random soup, a terrain grid,
 *   a detailed object far inside a large sparse scene, and all triangles on
 *   one spot (equal Morton codes and centroids); binned and clustered, on 1
 *   and 3 threads.
 * threads_identical: the tree and the leaf order do not depend on the thread
 *   count (1, 2, 3, 8), for both builders.
 * quality: on the terrain and the soup, the clustered builder's SAH cost is
 *   within 10% of the binned builder's (measured: see the output).
 * boxes: the builder over boxes (instances) takes the clustered path above
 *   XS_BVH_CLUSTER_MIN boxes and gives a valid tree.
 * small: 1, 2, 3 and 5 triangles, and the clustered builder forced on tiny
 *   inputs.
 * refit: a tree refit to its own triangles holds the builder's boxes; refit
 *   to moved triangles it is valid for them (every box holds its children and
 *   triangles), the cost it returns is xs_bvh_sah_cost's, and the refits
 *   from triangles and from boxes agree byte for byte.
 */
#include "render/xs_backend.h"
#include "render/xs_bvh.h"
#include "render/xs_film.h"
#include "render/xs_scene.h"
#include "test_util.h"

#include <math.h>

static uint64_t g_z = 88172645463325252ull;
static float rnd(void)
{
    g_z ^= g_z << 13, g_z ^= g_z >> 7, g_z ^= g_z << 17;
    return (float)(g_z >> 40) / (float)(1u << 24);
}

enum { SOUP, TERRAIN, NEEDLE, SPOT };

static xs_tri *make(int kind, uint32_t n)
{
    xs_tri *t = malloc((size_t)n * sizeof *t);
    uint32_t side = (uint32_t)sqrt((double)n / 2.0) + 1;
    for (uint32_t i = 0; i < n; ++i) {
        xs_vec3 p;
        float s = 0.05f;
        switch (kind) {
        case SOUP:
            p = xs_v3(rnd() * 10.0f, rnd(), rnd() * 10.0f);
            break;
        case TERRAIN: {
            uint32_t q = i / 2;
            float x = (float)(q % side), z = (float)(q / side);
            p = xs_v3(x, sinf(x * 0.1f) * cosf(z * 0.07f) * 5.0f + rnd() * 0.3f, z);
            s = 1.0f;
            break;
        }
        case NEEDLE: /* 90% in a tiny object far from the origin, 10% spread wide */
            if (i % 10 != 0) {
                p = xs_v3(5000.0f + rnd() * 0.01f, 5000.0f + rnd() * 0.01f, 5000.0f + rnd() * 0.01f);
                s = 0.0005f;
            } else {
                p = xs_v3(rnd() * 1e4f, rnd() * 1e4f, rnd() * 1e4f);
            }
            break;
        default: /* SPOT */
            p = xs_v3(1.0f, 2.0f, 3.0f);
            break;
        }
        t[i].v0 = p;
        t[i].e1 = xs_v3(s * (rnd() - 0.5f), s * (rnd() - 0.5f), s * (rnd() - 0.5f));
        t[i].e2 = xs_v3(s * (rnd() - 0.5f), s * (rnd() - 0.5f), s * (rnd() - 0.5f));
    }
    return t;
}

static int inside(const xs_bvh_node *outer, const float *lo, const float *hi)
{
    for (int k = 0; k < 3; ++k)
        if (lo[k] < outer->bmin[k] || hi[k] > outer->bmax[k])
            return 0;
    return 1;
}

/* Checks the tree over tris (or boxes, 6 floats each); returns the problems. */
static int check_tree(const xs_bvh_node *nd, uint32_t count, const uint32_t *order, uint32_t n,
                      const xs_tri *tris, const float *boxes)
{
    int bad = 0;
    uint8_t *seen_node = calloc(count, 1), *seen_prim = calloc(n, 1);
    uint32_t *stack = malloc(((size_t)count + 1) * sizeof *stack), sp = 0;
    stack[sp++] = 0;
    while (sp > 0 && bad < 10) {
        uint32_t i = stack[--sp];
        if (i >= count || seen_node[i]) {
            fprintf(stderr, "node %u out of range or reached twice\n", i);
            bad++;
            continue;
        }
        seen_node[i] = 1;
        const xs_bvh_node *b = &nd[i];
        if (b->count == 0) {
            for (uint32_t c = 0; c < 2; ++c) {
                uint32_t ch = b->first + c;
                if (ch >= count || ch == 0) {
                    fprintf(stderr, "node %u: child %u out of range\n", i, ch);
                    bad++;
                    continue;
                }
                if (!inside(b, nd[ch].bmin, nd[ch].bmax)) {
                    fprintf(stderr, "node %u: child %u's box outside\n", i, ch);
                    bad++;
                }
                stack[sp++] = ch;
            }
            continue;
        }
        if (b->count > 8 || b->first + b->count > n) {
            fprintf(stderr, "node %u: leaf of %u at %u\n", i, b->count, b->first);
            bad++;
            continue;
        }
        for (uint32_t j = b->first; j < b->first + b->count; ++j) {
            uint32_t id = order[j];
            if (id >= n || seen_prim[id]) {
                fprintf(stderr, "leaf %u: primitive %u out of range or twice\n", i, id);
                bad++;
                continue;
            }
            seen_prim[id] = 1;
            float lo[3], hi[3];
            if (tris) {
                const xs_tri *t = &tris[id];
                float a[3] = {t->v0.x, t->v0.y, t->v0.z};
                float e1[3] = {t->e1.x, t->e1.y, t->e1.z}, e2[3] = {t->e2.x, t->e2.y, t->e2.z};
                for (int k = 0; k < 3; ++k) {
                    float u = a[k] + e1[k], v = a[k] + e2[k];
                    lo[k] = fminf(a[k], fminf(u, v));
                    hi[k] = fmaxf(a[k], fmaxf(u, v));
                }
            } else {
                for (int k = 0; k < 3; ++k)
                    lo[k] = boxes[6 * (size_t)id + k], hi[k] = boxes[6 * (size_t)id + 3 + k];
            }
            if (!inside(b, lo, hi)) {
                fprintf(stderr, "leaf %u: primitive %u outside its box\n", i, id);
                bad++;
            }
        }
    }
    for (uint32_t i = 0; i < n && bad < 10; ++i)
        if (!seen_prim[i]) {
            fprintf(stderr, "primitive %u in no leaf\n", i);
            bad++;
        }
    free(seen_node), free(seen_prim), free(stack);
    return bad;
}

static void build_check(const char *what, const xs_tri *t, uint32_t n, int threads, xs_bvh_method m,
                        double *sah)
{
    xs_bvh_node *nd = NULL;
    uint32_t count = 0, *order = NULL;
    xs_err e;
    CHECK(xs_bvh_build_with(t, n, threads, m, &nd, &count, &order, &e) == XS_OK);
    int bad = check_tree(nd, count, order, n, t, NULL);
    CHECK_MSG(bad == 0, "%s, method %d, %d threads: %d problems", what, (int)m, threads, bad);
    if (sah)
        *sah = xs_bvh_sah_cost(nd, count);
    free(nd), free(order);
}

static void test_valid(void)
{
    const char *names[] = {"soup", "terrain", "needle", "spot"};
    for (int kind = SOUP; kind <= SPOT; ++kind) {
        uint32_t n = 100000;
        xs_tri *t = make(kind, n);
        for (int m = XS_BVH_BINNED; m <= XS_BVH_CLUSTERED; ++m)
            for (int th = 1; th <= 3; th += 2)
                build_check(names[kind], t, n, th, (xs_bvh_method)m, NULL);
        free(t);
    }
}

static void test_threads_identical(void)
{
    const uint32_t n = 150000;
    xs_tri *t = make(SOUP, n);
    for (int m = XS_BVH_BINNED; m <= XS_BVH_CLUSTERED; ++m) {
        xs_bvh_node *a = NULL;
        uint32_t na = 0, *oa = NULL;
        xs_err e;
        CHECK(xs_bvh_build_with(t, n, 1, (xs_bvh_method)m, &a, &na, &oa, &e) == XS_OK);
        const int counts[] = {2, 3, 8};
        for (int c = 0; c < 3; ++c) {
            xs_bvh_node *b = NULL;
            uint32_t nb = 0, *ob = NULL;
            CHECK(xs_bvh_build_with(t, n, counts[c], (xs_bvh_method)m, &b, &nb, &ob, &e) == XS_OK);
            CHECK_MSG(na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0,
                      "method %d: the tree on %d threads differs from the tree on 1", m, counts[c]);
            CHECK(memcmp(oa, ob, (size_t)n * sizeof *oa) == 0);
            free(b), free(ob);
        }
        free(a), free(oa);
    }
    free(t);
}

static void test_quality(void)
{
    const char *names[] = {"soup", "terrain"};
    for (int kind = SOUP; kind <= TERRAIN; ++kind) {
        uint32_t n = 200000;
        xs_tri *t = make(kind, n);
        double binned = 0.0, clustered = 0.0;
        build_check(names[kind], t, n, 2, XS_BVH_BINNED, &binned);
        build_check(names[kind], t, n, 2, XS_BVH_CLUSTERED, &clustered);
        printf("%s: SAH cost binned %.2f, clustered %.2f (%+.1f%%)\n", names[kind], binned, clustered,
               100.0 * (clustered / binned - 1.0));
        CHECK_MSG(clustered < binned * 1.10, "%s: clustered SAH %.2f vs binned %.2f", names[kind],
                  clustered, binned);
        free(t);
    }
}

static void test_boxes(void)
{
    const uint32_t n = XS_BVH_CLUSTER_MIN + 1000;
    float *b = malloc((size_t)n * 6 * sizeof *b);
    for (uint32_t i = 0; i < n; ++i) {
        float x = rnd() * 100.0f, y = rnd() * 100.0f, z = rnd() * 100.0f, s = rnd() * 2.0f;
        float v[6] = {x, y, z, x + s, y + s * 0.5f, z + s};
        memcpy(b + 6 * (size_t)i, v, sizeof v);
    }
    xs_bvh_node *nd = NULL;
    uint32_t count = 0, *order = NULL;
    xs_err e;
    CHECK(xs_bvh_build_boxes(b, n, 2, &nd, &count, &order, &e) == XS_OK);
    CHECK(check_tree(nd, count, order, n, NULL, b) == 0);
    free(nd), free(order), free(b);
}

static void test_refit(void)
{
    for (int m = XS_BVH_BINNED; m <= XS_BVH_CLUSTERED; ++m) {
        uint32_t n = 70000;
        xs_tri *t = make(SOUP, n);
        xs_bvh_node *nd = NULL;
        uint32_t count = 0, *order = NULL;
        xs_err e;
        CHECK(xs_bvh_build_with(t, n, 2, (xs_bvh_method)m, &nd, &count, &order, &e) == XS_OK);
        xs_tri *leaf = malloc((size_t)n * sizeof *leaf);
        for (uint32_t i = 0; i < n; ++i)
            leaf[i] = t[order[i]];
        xs_bvh_node *re = malloc((size_t)count * sizeof *re);
        memcpy(re, nd, (size_t)count * sizeof *re);
        xs_bvh_refit_tris(re, 0, count, leaf);
        CHECK_MSG(memcmp(re, nd, (size_t)count * sizeof *re) == 0, "method %d: a refit to the same triangles changed boxes", m);
        /* move every triangle: a turn, a shift and a jitter of its own */
        for (uint32_t i = 0; i < n; ++i) {
            xs_tri *q = &t[i];
            xs_vec3 v0 = q->v0;
            q->v0 = xs_v3(0.8f * v0.x - 0.6f * v0.z + 3.0f, v0.y + 0.01f * rnd(), 0.6f * v0.x + 0.8f * v0.z);
            q->e1 = xs_v3(0.8f * q->e1.x - 0.6f * q->e1.z, q->e1.y * 2.0f, 0.6f * q->e1.x + 0.8f * q->e1.z);
        }
        for (uint32_t i = 0; i < n; ++i)
            leaf[i] = t[order[i]];
        double cost = xs_bvh_refit_tris(re, 0, count, leaf);
        CHECK_MSG(check_tree(re, count, order, n, t, NULL) == 0, "method %d: the refit tree is not valid", m);
        double want = xs_bvh_sah_cost(re, count);
        CHECK_MSG(fabs(cost - want) <= 1e-9 * want, "method %d: cost %.12g, xs_bvh_sah_cost %.12g", m, cost, want);
        float *boxes = malloc((size_t)n * 6 * sizeof *boxes);
        for (uint32_t i = 0; i < n; ++i) {
            xs_vec3 a = leaf[i].v0, b = xs_add(a, leaf[i].e1), c = xs_add(a, leaf[i].e2);
            xs_vec3 lo = xs_vmin(a, xs_vmin(b, c)), hi = xs_vmax(a, xs_vmax(b, c));
            float *x = boxes + 6 * (size_t)i;
            x[0] = lo.x, x[1] = lo.y, x[2] = lo.z, x[3] = hi.x, x[4] = hi.y, x[5] = hi.z;
        }
        xs_bvh_node *rb = malloc((size_t)count * sizeof *rb);
        memcpy(rb, nd, (size_t)count * sizeof *rb);
        xs_bvh_refit(rb, 0, count, boxes, 0);
        CHECK(memcmp(rb, re, (size_t)count * sizeof *rb) == 0);
        printf("method %d: %u nodes refit; SAH cost built %.2f, after the move %.2f\n", m, count,
               xs_bvh_sah_cost(nd, count), cost);
        free(t), free(nd), free(order), free(leaf), free(re), free(rb), free(boxes);
    }
}

static void test_small(void)
{
    const uint32_t sizes[] = {1, 2, 3, 5, 40};
    for (int i = 0; i < 5; ++i) {
        xs_tri *t = make(SOUP, sizes[i]);
        build_check("small", t, sizes[i], 1, XS_BVH_BINNED, NULL);
        build_check("small", t, sizes[i], 2, XS_BVH_CLUSTERED, NULL);
        build_check("small", t, sizes[i], 2, XS_BVH_AUTO, NULL);
        free(t);
    }
    xs_bvh_node *nd = (xs_bvh_node *)1;
    uint32_t count = 7, *order = (uint32_t *)1;
    xs_err e;
    CHECK(xs_bvh_build(NULL, 0, 1, &nd, &count, &order, &e) == XS_OK);
    CHECK(nd == NULL && order == NULL && count == 0);
}

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"valid", test_valid},
        {"refit", test_refit},
        {"threads_identical", test_threads_identical},
        {"quality", test_quality},
        {"boxes", test_boxes},
        {"small", test_small},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
