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
 *
 * The wide BVH (render/wbvh.c) the kernels traverse, over a test scene of
 * several meshes, placed by identity instances (merged into the top tree)
 * and by moved, scaled, rotated and mirrored instances (walked with their
 * transform), each mesh either a soup, a terrain or a closed grid box:
 * wide_valid: every triangle reachable exactly once (in the top tree for
 *   merged meshes, in its mesh's own tree for instanced ones), every
 *   instance once; each child slot's box inside its parent slot's box;
 *   every triangle inside its leaf slot's box, every instance's world box
 *   inside its slot's; leaves of 1 to 8; depth within the stack's limit.
 * wide_closest: xs_trace gives the same closest hit (distance bit for bit,
 *   triangle and instance: of those at that distance the first in
 *   (triangle, instance) order, xs_hit_better) as an exhaustive search with
 *   the same triangle test, on 20,000 random rays
 *   from inside and outside the scene, and agrees on any-hit.
 * watertight: rays from inside a closed box mesh aimed exactly at its
 *   vertices and at points on its edges, and in random directions, through
 *   the whole traversal: none escapes.
 */
#include "render/xs_backend.h"
#include "render/xs_bvh.h"
#include "render/xs_film.h"
#include "render/xs_scene.h"
#include "render/xs_wbvh.h"
#include "kernels/xs_intersect.h"
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

/* ---- the wide BVH ------------------------------------------------------------- */

typedef struct wmesh {
    float *v; /* 9 floats a triangle */
    uint32_t n;
} wmesh;

/* A closed box of a grid of g x g quads a face, vertices on exact floats. */
static wmesh grid_box(int g, float size)
{
    wmesh m;
    m.n = (uint32_t)(6 * g * g * 2);
    m.v = malloc((size_t)m.n * 9 * sizeof *m.v);
    uint32_t k = 0;
    for (int f = 0; f < 6; ++f) {
        int ax = f / 2, u = (ax + 1) % 3, w = (ax + 2) % 3;
        float side = (f & 1) ? size : -size;
        for (int i = 0; i < g; ++i)
            for (int j = 0; j < g; ++j) {
                float p[4][3];
                for (int c = 0; c < 4; ++c) {
                    int di = (c == 1 || c == 2), dj = (c >= 2);
                    p[c][ax] = side;
                    p[c][u] = -size + 2.0f * size * (float)(i + di) / (float)g;
                    p[c][w] = -size + 2.0f * size * (float)(j + dj) / (float)g;
                }
                int tri[2][3] = {{0, 1, 2}, {0, 2, 3}};
                for (int t = 0; t < 2; ++t, ++k)
                    for (int c = 0; c < 3; ++c)
                        memcpy(m.v + (size_t)k * 9 + (size_t)c * 3, p[tri[t][(f & 1) ? c : 2 - c]],
                               3 * sizeof(float));
            }
    }
    return m;
}

static wmesh soup_mesh(int kind, uint32_t n)
{
    xs_tri *t = make(kind, n);
    wmesh m;
    m.n = n;
    m.v = malloc((size_t)n * 9 * sizeof *m.v);
    for (uint32_t i = 0; i < n; ++i) {
        xs_vec3 a = t[i].v0, b = xs_add(a, t[i].e1), c = xs_add(a, t[i].e2);
        float v[9] = {a.x, a.y, a.z, b.x, b.y, b.z, c.x, c.y, c.z};
        memcpy(m.v + (size_t)i * 9, v, sizeof v);
    }
    free(t);
    return m;
}

typedef struct wscene {
    xs_wtri *tris;
    xs_bvh_node *nodes;
    uint32_t tri_count, node_count;
    xs_mesh meshes[8];
    uint32_t broot[8];
    uint32_t mesh_count;
    xs_instance inst[16];
    uint8_t merged[16];
    uint32_t inst_count;
    xs_bvh_node *tlas;
    uint32_t tlas_count;
    xs_wbvh w;
    xs_scene_view v;
    float origin_bound; /* rays start within this magnitude too (the camera) */
} wscene;

static void ws_add_mesh(wscene *S, const wmesh *m)
{
    xs_tri *in = malloc((size_t)m->n * sizeof *in);
    for (uint32_t i = 0; i < m->n; ++i) {
        const float *p = m->v + (size_t)i * 9;
        in[i].v0 = xs_v3(p[0], p[1], p[2]);
        in[i].e1 = xs_v3(p[3] - p[0], p[4] - p[1], p[5] - p[2]);
        in[i].e2 = xs_v3(p[6] - p[0], p[7] - p[1], p[8] - p[2]);
    }
    xs_bvh_node *nd = NULL;
    uint32_t nn = 0, *order = NULL;
    xs_err e;
    CHECK(xs_bvh_build(in, m->n, 2, &nd, &nn, &order, &e) == XS_OK);
    uint32_t tb = S->tri_count, nb = S->node_count;
    S->tris = realloc(S->tris, (size_t)(tb + m->n) * sizeof *S->tris);
    S->nodes = realloc(S->nodes, (size_t)(nb + nn) * sizeof *S->nodes);
    for (uint32_t i = 0; i < m->n; ++i) {
        const float *p = m->v + (size_t)order[i] * 9;
        xs_wtri *t = &S->tris[tb + i];
        memset(t, 0, sizeof *t);
        memcpy(t->v0, p, 12), memcpy(t->v1, p + 3, 12), memcpy(t->v2, p + 6, 12);
        t->world_inst = UINT32_MAX;
    }
    for (uint32_t i = 0; i < nn; ++i) {
        xs_bvh_node n = nd[i];
        n.first += n.count > 0 ? tb : nb;
        S->nodes[nb + i] = n;
    }
    S->meshes[S->mesh_count].tri_first = tb;
    S->meshes[S->mesh_count].tri_count = m->n;
    S->broot[S->mesh_count++] = nb;
    S->tri_count += m->n;
    S->node_count += nn;
    free(in), free(nd), free(order);
}

/* An instance: uniform scale s, rotation by angle a about y, translation t,
 * mirrored in x when flip; merged (in the top tree) when it is the identity. */
static void ws_add_instance(wscene *S, uint32_t mesh, float s, float a, xs_vec3 t, bool flip, bool merged)
{
    xs_instance *in = &S->inst[S->inst_count];
    memset(in, 0, sizeof *in);
    double c = cos(a), sn = sin(a), fx = flip ? -1.0 : 1.0;
    double m[9] = {fx * s * c, 0, s * sn, 0, s, 0, -fx * s * sn, 0, s * c};
    double tt[3] = {t.x, t.y, t.z};
    for (int r = 0; r < 3; ++r) {
        for (int k = 0; k < 3; ++k)
            in->xf[r * 4 + k] = (float)m[r * 3 + k];
        in->xf[r * 4 + 3] = (float)tt[r];
    }
    /* inverse: (R S F)^-1 = F^-1 S^-1 R^T */
    double im[9] = {fx * c / s, 0, -fx * sn / s, 0, 1.0 / s, 0, sn / s, 0, c / s};
    for (int r = 0; r < 3; ++r) {
        for (int k = 0; k < 3; ++k)
            in->inv[r * 4 + k] = (float)im[r * 3 + k];
        in->inv[r * 4 + 3] = (float)-(im[r * 3 + 0] * tt[0] + im[r * 3 + 1] * tt[1] + im[r * 3 + 2] * tt[2]);
    }
    in->mesh = mesh;
    in->flags = (flip ? XS_INST_FLIPPED : 0u) | (merged ? XS_INST_IDENTITY : 0u);
    S->merged[S->inst_count++] = merged ? 1 : 0;
}

static void ws_finish(wscene *S)
{
    float *boxes = malloc((size_t)S->inst_count * 6 * sizeof *boxes);
    for (uint32_t i = 0; i < S->inst_count; ++i) {
        const xs_bvh_node *r = &S->nodes[S->broot[S->inst[i].mesh]];
        float *b = boxes + 6 * (size_t)i;
        b[0] = b[1] = b[2] = INFINITY, b[3] = b[4] = b[5] = -INFINITY;
        for (int k = 0; k < 8; ++k) {
            xs_vec3 c = xs_v3((k & 1) ? r->bmax[0] : r->bmin[0], (k & 2) ? r->bmax[1] : r->bmin[1],
                              (k & 4) ? r->bmax[2] : r->bmin[2]);
            xs_vec3 w = xs_xf_point(S->inst[i].xf, c);
            float p[3] = {w.x, w.y, w.z};
            for (int a = 0; a < 3; ++a)
                b[a] = fminf(b[a], p[a]), b[3 + a] = fmaxf(b[3 + a], p[a]);
        }
    }
    uint32_t *order = NULL;
    xs_err e;
    CHECK(xs_bvh_build_boxes(boxes, S->inst_count, 1, &S->tlas, &S->tlas_count, &order, &e) == XS_OK);
    xs_instance sorted[16];
    uint8_t merged[16];
    memset(sorted, 0, sizeof sorted);
    memset(merged, 0, sizeof merged);
    for (uint32_t i = 0; i < S->inst_count; ++i)
        sorted[i] = S->inst[order[i]], merged[i] = S->merged[order[i]];
    memcpy(S->inst, sorted, sizeof sorted);
    memcpy(S->merged, merged, sizeof merged);
    for (uint32_t i = 0; i < S->inst_count; ++i)
        if (S->merged[i]) {
            const xs_mesh *m = &S->meshes[S->inst[i].mesh];
            for (uint32_t t = m->tri_first; t < m->tri_first + m->tri_count; ++t)
                S->tris[t].world_inst = i;
        }
    xs_wbvh_input wi = {.tris = S->tris, .nodes = S->nodes, .node_count = S->node_count,
                        .mesh_root = S->broot, .mesh_count = S->mesh_count, .instances = S->inst,
                        .instance_count = S->inst_count, .tlas = S->tlas, .tlas_count = S->tlas_count,
                        .merged = S->merged, .origin_bound = S->origin_bound};
    CHECK_MSG(xs_wbvh_build(&wi, &S->w, &e) == XS_OK, "%s", e.msg);
    for (uint32_t m = 0; m < S->mesh_count; ++m) {
        S->meshes[m].root = S->broot[m];
        S->meshes[m].wroot = S->w.mesh_root[m];
        S->meshes[m].motion = S->meshes[m].seg_nodes = UINT32_MAX; /* nothing deforms */
    }
    memset(&S->v, 0, sizeof S->v);
    S->v.tris = S->tris;
    S->v.wnodes = S->w.nodes;
    S->v.meshes = S->meshes;
    S->v.instances = S->inst;
    S->v.tri_count = S->tri_count;
    S->v.wnode_count = S->w.count;
    S->v.instance_count = S->inst_count;
    S->v.wroot = S->w.root;
    free(boxes), free(order);
}

static void ws_free(wscene *S)
{
    free(S->tris), free(S->nodes), free(S->tlas);
    xs_wbvh_free(&S->w);
}

/* Four meshes (soup, terrain, grid box, a small soup), eleven instances. */
static void ws_standard(wscene *S)
{
    memset(S, 0, sizeof *S);
    wmesh m[4] = {soup_mesh(SOUP, 3000), soup_mesh(TERRAIN, 5000), grid_box(12, 1.0f), soup_mesh(SOUP, 5)};
    for (int i = 0; i < 4; ++i) {
        ws_add_mesh(S, &m[i]);
        free(m[i].v);
    }
    ws_add_instance(S, 0, 1.0f, 0.0f, xs_v3(0, 0, 0), false, true);
    ws_add_instance(S, 1, 1.0f, 0.0f, xs_v3(0, 0, 0), false, true);
    ws_add_instance(S, 2, 1.0f, 0.0f, xs_v3(0, 0, 0), false, true);
    for (int i = 0; i < 5; ++i)
        ws_add_instance(S, 2, 0.5f + 0.3f * (float)i, 0.7f * (float)i, xs_v3(12.0f * (float)i - 20.0f, 3.0f, 8.0f),
                        (i & 1) != 0, false);
    for (int i = 0; i < 3; ++i)
        ws_add_instance(S, 3, 2.0f, 0.4f * (float)i, xs_v3(5.0f * (float)i, -4.0f, -6.0f), false, false);
    ws_finish(S);
}

static bool box_in(const double *lo, const double *hi, const double *olo, const double *ohi)
{
    for (int k = 0; k < 3; ++k)
        if (lo[k] < olo[k] || hi[k] > ohi[k])
            return false;
    return true;
}

/* Walks the tree from node `root` inside slot box (plo, phi); counts each
 * triangle and instance reached; returns the problems. */
static int walk_wide(const wscene *S, uint32_t root, const double *plo, const double *phi, uint32_t *tri_seen,
                     uint32_t *inst_seen, int depth, int *max_depth)
{
    int bad = 0;
    if (depth > *max_depth)
        *max_depth = depth;
    const xs_wnode *n = &S->w.nodes[root];
    int used = 0;
    for (int i = 0; i < XS_WIDTH; ++i) {
        if (n->meta[i] == 0u)
            continue;
        used++;
        double lo[3], hi[3];
        xs_wnode_child_box(n, i, lo, hi);
        if (plo && !box_in(lo, hi, plo, phi)) {
            fprintf(stderr, "node %u slot %d: box outside its parent's slot\n", root, i);
            bad++;
        }
        uint32_t kind = (uint32_t)n->meta[i] >> 6, c = n->child[i];
        if (kind == XS_WCHILD_INNER) {
            if (c >= S->w.count || c <= root) {
                fprintf(stderr, "node %u slot %d: child %u out of range\n", root, i, c);
                bad++;
                continue;
            }
            bad += walk_wide(S, c, lo, hi, tri_seen, inst_seen, depth + 1, max_depth);
        } else if (kind == XS_WCHILD_LEAF) {
            uint32_t cnt = (uint32_t)n->meta[i] & 63u;
            if (cnt < 1 || cnt > 8 || c + cnt > S->tri_count) {
                fprintf(stderr, "node %u slot %d: leaf of %u at %u\n", root, i, cnt, c);
                bad++;
                continue;
            }
            for (uint32_t t = c; t < c + cnt; ++t) {
                tri_seen[t]++;
                const float *vs[3] = {S->tris[t].v0, S->tris[t].v1, S->tris[t].v2};
                for (int v = 0; v < 3; ++v) {
                    double p[3] = {vs[v][0], vs[v][1], vs[v][2]};
                    if (!box_in(p, p, lo, hi)) {
                        fprintf(stderr, "triangle %u outside its leaf's box\n", t);
                        bad++;
                    }
                }
            }
        } else {
            if (c >= S->inst_count) {
                bad++;
                continue;
            }
            inst_seen[c]++;
            const xs_instance *in = &S->inst[c];
            const xs_mesh *m = &S->meshes[in->mesh];
            for (uint32_t t = m->tri_first; t < m->tri_first + m->tri_count; ++t) {
                const float *vs[3] = {S->tris[t].v0, S->tris[t].v1, S->tris[t].v2};
                for (int v = 0; v < 3; ++v) {
                    xs_vec3 w = xs_xf_point(in->xf, xs_v3_load(vs[v]));
                    double p[3] = {w.x, w.y, w.z};
                    if (!box_in(p, p, lo, hi)) {
                        fprintf(stderr, "instance %u: triangle %u outside its slot's box\n", c, t);
                        bad++;
                        break;
                    }
                }
            }
        }
    }
    if (used == 0) {
        fprintf(stderr, "node %u has no children\n", root);
        bad++;
    }
    return bad;
}

static void test_wide_valid(void)
{
    wscene S;
    ws_standard(&S);
    uint32_t *top = calloc(S.tri_count, sizeof *top), *mine = calloc(S.tri_count, sizeof *mine);
    uint32_t inst_top[16] = {0}, inst_mesh[16] = {0};
    int depth = 0, mdepth = 0, bad = walk_wide(&S, S.w.root, NULL, NULL, top, inst_top, 1, &depth);
    for (uint32_t m = 0; m < S.mesh_count; ++m) {
        bool walked = false, merged = false;
        for (uint32_t i = 0; i < S.inst_count; ++i) {
            walked |= S.inst[i].mesh == m && !S.merged[i];
            merged |= S.inst[i].mesh == m && S.merged[i];
        }
        CHECK_MSG(walked == (S.w.mesh_root[m] != UINT32_MAX), "mesh %u: own tree %u, walked %d", m,
                  S.w.mesh_root[m], walked);
        if (walked) {
            int d = 0;
            bad += walk_wide(&S, S.w.mesh_root[m], NULL, NULL, mine, inst_mesh, 1, &d);
            mdepth = d > mdepth ? d : mdepth;
        }
        const xs_mesh *me = &S.meshes[m];
        for (uint32_t t = me->tri_first; t < me->tri_first + me->tri_count; ++t) {
            CHECK_MSG(top[t] == (merged ? 1u : 0u), "triangle %u reached %u times in the top tree", t, top[t]);
            CHECK_MSG(mine[t] == (walked ? 1u : 0u), "triangle %u reached %u times in its mesh's tree", t, mine[t]);
        }
    }
    for (uint32_t i = 0; i < S.inst_count; ++i) {
        CHECK_MSG(inst_top[i] == (S.merged[i] ? 0u : 1u), "instance %u reached %u times", i, inst_top[i]);
        CHECK(inst_mesh[i] == 0u);
    }
    CHECK_MSG(bad == 0, "%d problems", bad);
    CHECK(S.w.depth <= depth + mdepth && S.w.depth <= XS_WBVH_MAX_DEPTH);
    printf("wide BVH: %u triangles, %u nodes (binary: %u + %u), depth %d (top %d, meshes %d)\n", S.tri_count,
           S.w.count, S.node_count, S.tlas_count, S.w.depth, depth, mdepth);
    free(top), free(mine);
    ws_free(&S);
}

/* Exhaustive closest hit with the kernels' triangle test and transforms. */
static bool brute(const wscene *S, const xs_ray *r, xs_hit *h)
{
    h->t = r->tmax;
    h->tri = h->instance = UINT32_MAX;
    for (uint32_t i = 0; i < S->inst_count; ++i) {
        xs_vec3 o = r->o, d = r->d;
        if (!S->merged[i])
            xs_instance_ray(&S->v, i, r->o, r->d, false, 0.5f, &o, &d);
        xs_ray_pre p;
        xs_ray_prepare(o, d, &p);
        const xs_mesh *m = &S->meshes[S->inst[i].mesh];
        for (uint32_t t = m->tri_first; t < m->tri_first + m->tri_count; ++t) {
            float tt, u, v;
            if (xs_ray_wtri(&p, &S->tris[t], h->t, &tt, &u, &v) && xs_hit_better(tt, t, i, h)) {
                h->t = tt, h->u = u, h->v = v, h->tri = t, h->instance = i;
            }
        }
    }
    return h->tri != UINT32_MAX;
}

static xs_vec3 rnd_dir(void)
{
    for (;;) {
        xs_vec3 d = xs_v3(2.0f * rnd() - 1.0f, 2.0f * rnd() - 1.0f, 2.0f * rnd() - 1.0f);
        float l = xs_dot(d, d);
        if (l > 0.01f && l <= 1.0f)
            return xs_normalize(d);
    }
}

static void test_wide_closest(void)
{
    wscene S;
    ws_standard(&S);
    int bad = 0, hits = 0;
    xs_counters c = {0};
    for (int k = 0; k < 20000 && bad < 10; ++k) {
        xs_ray r;
        r.time = 0.5f;
        if (k % 2 == 0) /* inside the scene's box */
            r.o = xs_v3(-25.0f + 60.0f * rnd(), -6.0f + 14.0f * rnd(), -8.0f + 20.0f * rnd());
        else /* from far outside, towards it */
            r.o = xs_scale(rnd_dir(), 200.0f);
        r.d = k % 2 == 0 ? rnd_dir() : xs_normalize(xs_sub(xs_v3(-10.0f + 30.0f * rnd(), 2.0f * rnd(), 10.0f * rnd()), r.o));
        r.tmax = (k % 7 == 0) ? 5.0f + 20.0f * rnd() : INFINITY;
        xs_hit a, b;
        bool ha = xs_trace(&S.v, &r, false, &a, &c), hb = brute(&S, &r, &b);
        hits += hb;
        if (ha != hb || (hb && (memcmp(&a.t, &b.t, sizeof a.t) != 0 || a.tri != b.tri || a.instance != b.instance))) {
            fprintf(stderr, "ray %d: wide %d t %.9g (tri %u), exhaustive %d t %.9g (tri %u)\n", k, ha, (double)a.t,
                    a.tri, hb, (double)b.t, b.tri);
            bad++;
            continue;
        }
        xs_hit any;
        bool hany = xs_trace(&S.v, &r, true, &any, &c);
        if (hany != hb) {
            fprintf(stderr, "ray %d: any-hit %d, closest %d\n", k, hany, hb);
            bad++;
        }
    }
    printf("wide_closest: %d of 20000 rays hit, %.1f nodes and %.1f triangles a ray\n", hits,
           (double)c.node_visits / 40000.0, (double)c.tri_tests / 40000.0);
    CHECK_MSG(bad == 0, "%d rays differ", bad);
    CHECK(hits > 2000);
    ws_free(&S);
}

static void test_watertight(void)
{
    for (int pass = 0; pass < 2; ++pass) {
        wscene S;
        memset(&S, 0, sizeof S);
        wmesh m = grid_box(16, 3.0f);
        ws_add_mesh(&S, &m);
        /* merged (world space), then walked through a rotated, scaled instance */
        if (pass == 0)
            ws_add_instance(&S, 0, 1.0f, 0.0f, xs_v3(0, 0, 0), false, true);
        else
            ws_add_instance(&S, 0, 1.7f, 0.61f, xs_v3(0.25f, -0.5f, 0.125f), true, false);
        ws_finish(&S);
        int miss = 0, rays = 0;
        xs_counters c = {0};
        for (uint32_t t = 0; t < S.tri_count; ++t) {
            const xs_wtri *tr = &S.tris[t];
            xs_vec3 a = xs_v3_load(tr->v0), b = xs_v3_load(tr->v1), cc = xs_v3_load(tr->v2);
            xs_vec3 targets[5] = {a, b, cc, xs_add(a, xs_scale(xs_sub(b, a), 0.5f)),
                                  xs_add(b, xs_scale(xs_sub(cc, b), 0.25f))};
            for (int k = 0; k < 5; ++k) {
                xs_vec3 o = xs_scale(xs_v3(2.0f * rnd() - 1.0f, 2.0f * rnd() - 1.0f, 2.0f * rnd() - 1.0f), 1.5f);
                xs_vec3 tw = targets[k];
                if (pass == 1) { /* into world space: o and the target both */
                    tw = xs_xf_point(S.inst[0].xf, tw);
                    o = xs_xf_point(S.inst[0].xf, o);
                }
                xs_ray r = {o, xs_normalize(xs_sub(tw, o)), INFINITY, 0.5f};
                xs_hit h;
                rays++;
                miss += !xs_trace(&S.v, &r, false, &h, &c);
                r.d = rnd_dir();
                rays++;
                miss += !xs_trace(&S.v, &r, false, &h, &c);
            }
        }
        printf("watertight (%s): %d of %d rays from inside escaped\n", pass ? "instance" : "world", miss, rays);
        CHECK_MSG(miss == 0, "%d rays slipped through the closed mesh", miss);
        free(m.v);
        ws_free(&S);
    }
}

#if defined(__AVX2__)
#include "kernels/cpu/packet_avx2.h"

/* Packets of 1 to 8 rays against the one-ray walk, bit for bit. */
static int packet_check(const xs_scene_view *v, const xs_ray *r, uint32_t n, int *refused)
{
    xs_vec3 o[XS_PK], d[XS_PK];
    float tmax[XS_PK];
    for (uint32_t l = 0; l < n; ++l)
        o[l] = r[l].o, d[l] = r[l].d, tmax[l] = r[l].tmax;
    int bad = 0;
    for (int any = 0; any < 2; ++any) {
        xs_hit h[XS_PK];
        xs_counters c = {0};
        if (!xs_pk_trace(v, o, d, tmax, n, any != 0, false, h, &c)) {
            ++*refused;
            continue;
        }
        for (uint32_t l = 0; l < n; ++l) {
            xs_hit one;
            const bool hit = xs_trace(v, &r[l], any != 0, &one, &c);
            if (hit != (h[l].tri != UINT32_MAX) ||
                (!any && hit && (memcmp(&one.t, &h[l].t, sizeof one.t) != 0 || memcmp(&one.u, &h[l].u, 4) != 0 ||
                                 memcmp(&one.v, &h[l].v, 4) != 0 || one.tri != h[l].tri ||
                                 one.instance != h[l].instance))) {
                if (bad++ < 5)
                    fprintf(stderr, "%s lane %u of %u: packet tri %u t %.9g, one ray tri %u t %.9g\n",
                            any ? "any hit" : "closest", l, n, h[l].tri, (double)h[l].t, one.tri, (double)one.t);
            }
        }
    }
    return bad;
}

/* The CPU's eight-ray packets (kernels/cpu/packet_avx2.h) give the one-ray
 * walk's hits bit for bit: a one-level scene of a soup, a terrain, a closed
 * grid box and an exact copy of the box (every hit on the box ties with its
 * copy: the first triangle must win in both), random rays from inside and
 * outside, rays aimed at the box's vertices and edges (the exact edge test),
 * finite tmax, packets of 1 to 8 rays; and the same on a two-level scene
 * (instances moved, scaled, rotated and mirrored). */
static void test_packets(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2")) {
        printf("SKIP: no AVX2 on this CPU\n");
        exit(77);
    }
    wscene S;
    memset(&S, 0, sizeof S);
    wmesh m[4] = {soup_mesh(SOUP, 2000), soup_mesh(TERRAIN, 3000), grid_box(10, 2.0f), grid_box(10, 2.0f)};
    for (int i = 0; i < 4; ++i) {
        ws_add_mesh(&S, &m[i]);
        ws_add_instance(&S, (uint32_t)i, 1.0f, 0.0f, xs_v3(0, 0, 0), false, true);
    }
    ws_finish(&S);
    int bad = 0, refused = 0, rays = 0, ties = 0, copy = 0;
    xs_ray r[XS_PK];
    for (int k = 0; k < 6000; ++k) {
        const uint32_t n = 1u + (uint32_t)k % XS_PK;
        for (uint32_t l = 0; l < n; ++l) {
            r[l].time = 0.5f;
            r[l].tmax = (k + (int)l) % 5 == 0 ? 1.0f + 10.0f * rnd() : INFINITY;
            if (k % 3 == 0) { /* inside the box, at a vertex or along an edge of it */
                const xs_wtri *t = &S.tris[S.meshes[2].tri_first + (uint32_t)(rnd() * 0.999f * 1200.0f)];
                xs_vec3 a = xs_v3_load(t->v0), b = xs_v3_load(t->v1);
                xs_vec3 tw = (l & 1) ? a : xs_add(a, xs_scale(xs_sub(b, a), 0.5f));
                r[l].o = xs_scale(xs_v3(2.0f * rnd() - 1.0f, 2.0f * rnd() - 1.0f, 2.0f * rnd() - 1.0f), 1.5f);
                r[l].d = xs_normalize(xs_sub(tw, r[l].o));
            } else if (k % 3 == 1) {
                r[l].o = xs_v3(-25.0f + 60.0f * rnd(), -6.0f + 14.0f * rnd(), -8.0f + 20.0f * rnd());
                r[l].d = rnd_dir();
            } else { /* eight nearby rays: a coherent packet */
                const xs_vec3 o = xs_scale(rnd_dir(), 60.0f);
                r[l].o = o;
                r[l].d = xs_normalize(xs_sub(xs_v3(rnd() - 0.5f, rnd() - 0.5f, rnd() - 0.5f), o));
            }
        }
        rays += (int)n;
        bad += packet_check(&S.v, r, n, &refused);
        for (uint32_t l = 0; l < n; ++l) {
            xs_hit h;
            xs_counters c = {0};
            if (xs_trace(&S.v, &r[l], false, &h, &c) && h.tri >= S.meshes[2].tri_first &&
                h.tri < S.meshes[2].tri_first + S.meshes[2].tri_count)
                ties++; /* on the box, which its copy (mesh 3) ties with */
            copy += h.tri >= S.meshes[3].tri_first && h.tri != UINT32_MAX; /* the copy never wins a tie */
        }
    }
    printf("packets: %d rays, %d on the box (a tie with its copy every time), %d differ, %d refused\n", rays, ties,
           bad, refused);
    CHECK_MSG(bad == 0, "%d lanes differ from the one-ray walk", bad);
    CHECK(refused == 0);
    CHECK(ties > 1000);
    CHECK_MSG(copy == 0, "%d hits on the copy of the box", copy);
    for (int i = 0; i < 4; ++i)
        free(m[i].v);
    ws_free(&S);
    /* two levels: moved, scaled, rotated and mirrored instances walked in their object space */
    ws_standard(&S);
    refused = 0;
    bad = 0;
    for (int k = 0; k < 500; ++k) {
        for (uint32_t l = 0; l < XS_PK; ++l) {
            r[l].o = xs_v3(-25.0f + 60.0f * rnd(), -6.0f + 14.0f * rnd(), -8.0f + 20.0f * rnd());
            r[l].d = rnd_dir();
            r[l].tmax = INFINITY;
            r[l].time = 0.5f;
        }
        bad += packet_check(&S.v, r, XS_PK, &refused);
    }
    printf("packets, two levels: %d of 1000 packets refused, %d lanes differ\n", refused, bad);
    CHECK(refused == 0);
    CHECK_MSG(bad == 0, "%d lanes differ from the one-ray walk", bad);
    ws_free(&S);
    /* ties seen from far beyond a tree's own extent: 40 coplanar copies of a
     * quad, (a) a small one instanced into a larger world and rays from
     * across that world, (b) a world of them alone and rays from 100 to 500
     * units away (its camera's magnitude given to the builder). Every lane:
     * the canonical hit (the exhaustive search), one ray and packet alike. */
    for (int pass = 0; pass < 2; ++pass) {
        memset(&S, 0, sizeof S);
        const float q = pass == 0 ? 0.02f : 1.0f, x = pass == 0 ? 0.0f : 5.0f;
        wmesh dup;
        dup.n = 80;
        dup.v = malloc((size_t)dup.n * 9 * sizeof *dup.v);
        for (int c = 0; c < 40; ++c) {
            const float v[18] = {x, -q, -q, x, q, -q, x, q, q, x, -q, -q, x, q, q, x, -q, q};
            memcpy(dup.v + 18 * c, v, sizeof v);
        }
        wmesh soup = soup_mesh(SOUP, 2000);
        if (pass == 0) {
            ws_add_mesh(&S, &soup);
            ws_add_mesh(&S, &dup);
            ws_add_instance(&S, 0, 1.0f, 0.0f, xs_v3(0, 0, 0), false, true);
            ws_add_instance(&S, 1, 1.0f, 0.0f, xs_v3(10.0f, 0.5f, 0.5f), false, false);
        } else {
            ws_add_mesh(&S, &dup);
            ws_add_instance(&S, 0, 1.0f, 0.0f, xs_v3(0, 0, 0), false, true);
            S.origin_bound = 600.0f;
        }
        ws_finish(&S);
        int wrong = 0, lanes = 0, on = 0;
        bad = refused = 0;
        for (int k = 0; k < 4000; ++k) {
            const xs_vec3 base = pass == 0 ? xs_v3(-10.0f + 5.0f * rnd(), rnd(), rnd()) : xs_v3(0, 0, 0);
            const float dist = 100.0f + 400.0f * rnd();
            for (uint32_t l = 0; l < XS_PK; ++l) {
                xs_vec3 tgt;
                if (pass == 0) {
                    r[l].o = base;
                    tgt = xs_v3(10.0f, 0.5f + q * (1.8f * rnd() - 0.9f), 0.5f + q * (1.8f * rnd() - 0.9f));
                } else {
                    r[l].o = xs_v3(5.0f - dist, (2.0f * rnd() - 1.0f) * 0.3f * dist, (2.0f * rnd() - 1.0f) * 0.3f * dist);
                    tgt = xs_v3(5.0f, 1.8f * rnd() - 0.9f, 1.8f * rnd() - 0.9f);
                }
                r[l].d = xs_normalize(xs_sub(tgt, r[l].o));
                r[l].tmax = INFINITY;
                r[l].time = 0.5f;
                xs_hit a, e;
                xs_counters c = {0};
                const bool ha = xs_trace(&S.v, &r[l], false, &a, &c);
                brute(&S, &r[l], &e);
                lanes++;
                on += ha && S.inst[a.instance].mesh == (pass == 0 ? 1u : 0u);
                if (ha != (e.tri != UINT32_MAX) ||
                    (ha && (a.tri != e.tri || a.instance != e.instance || memcmp(&a.t, &e.t, sizeof a.t) != 0))) {
                    if (wrong++ < 5)
                        fprintf(stderr, "pass %d: one ray tri %u t %a, canonical tri %u t %a\n", pass, a.tri,
                                (double)a.t, e.tri, (double)e.t);
                }
            }
            bad += packet_check(&S.v, r, XS_PK, &refused);
        }
        printf("packets, ties from afar (%s): %d of %d rays on the copies; %d not canonical, %d lanes differ\n",
               pass == 0 ? "a small instance in a world" : "a camera 100-500 units away", on, lanes, wrong, bad);
        CHECK(on > lanes / 2);
        CHECK_MSG(wrong == 0, "%d one-ray hits are not the canonical one", wrong);
        CHECK_MSG(bad == 0 && refused == 0, "%d lanes differ from the one-ray walk", bad);
        free(dup.v), free(soup.v);
        ws_free(&S);
    }
}
#endif

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"valid", test_valid},
        {"refit", test_refit},
        {"threads_identical", test_threads_identical},
        {"quality", test_quality},
        {"boxes", test_boxes},
        {"small", test_small},
        {"wide_valid", test_wide_valid},
        {"wide_closest", test_wide_closest},
        {"watertight", test_watertight},
#if defined(__AVX2__)
        {"packets", test_packets},
#endif
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
