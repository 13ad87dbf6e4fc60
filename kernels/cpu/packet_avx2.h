/* Eight rays at a time through the wide BVH, for the CPU's AVX2 build: the
 * wavefront's ray queues are traced in packets of eight consecutive
 * entries (kernel_cpu.c), one AVX2 lane a ray, as Embree's and OSPRay's
 * packet kernels do. A node's four child boxes are tested against the eight
 * rays (one vector operation a slab for all of them), a child is opened for
 * the lanes that enter it no farther than their closest hit so far, and a
 * triangle is tested against the eight rays at once, each lane doing the
 * one-ray test's operations on its own values in the same order (no fused
 * multiply-add), so each lane has the one-ray test's bits; the lanes that
 * pass finish in the one-ray code (xs_tri_accept, xs_ray_wtri on an edge,
 * xs_leaf_accept with its alpha test).
 *
 * Why the pixels do not change: the closest hit is canonical (xs_hit_better
 * in kernels/xs_intersect.h: the least distance, then the first triangle and
 * instance), and a box or leaf is dropped for a lane only when the lane
 * enters it beyond its closest hit, so every lane ends with exactly the hit
 * its own one-ray walk finds, whatever the other seven rays are and in
 * whatever order the packet opens the nodes. Any-hit (shadow) queries
 * answer whether something lies within tmax, which no order changes.
 *
 * Instances: an instance child moves the lanes entering it into the
 * instance's object space by xs_instance_ray (the one-ray walk's own
 * arithmetic, so the same bits) and walks its mesh's tree with them.
 *
 * Scope: frames without motion blur (the caller's choice). A packet that
 * cannot take a scene (a deeper level, a full stack) returns false and its
 * rays take the one-ray walk.
 */
#ifndef XS_PACKET_AVX2_H
#define XS_PACKET_AVX2_H

#include "kernels/xs_intersect.h"

#include <immintrin.h>

enum { XS_PK = 8, XS_PK_STACK = 4 * XS_STACK };

/* Eight rays as the packet walk uses them: the one-ray set-up
 * (xs_ray_prepare) of each lane, computed eight lanes at once with the same
 * IEEE operations (so the same bits), spread across vectors. */
typedef struct xs_pk {
    __m256 ox, oy, oz, ix, iy, iz; /* origins, safe inverse directions: boxes */
    __m256 px, py, pz;             /* the origin along each lane's kx, ky, kz */
    __m256 sx, sy, sz;             /* the shear */
    __m256i kxi, kyi, kzi;         /* per lane: kx, ky, kz as indices 0..2 */
    xs_vec3 o[XS_PK], d[XS_PK];    /* the rays (the exact edge test sets one up again) */
} xs_pk;

/* Per lane: x, y or z as the lane's axis (masks m1: y, m2: z). */
XS_HOT __m256 xs_pk_axis(__m256 m1, __m256 m2, __m256 x, __m256 y, __m256 z)
{
    return _mm256_blendv_ps(_mm256_blendv_ps(x, y, m1), z, m2);
}

/* xs_safe_inv, lane by lane. */
XS_HOT __m256 xs_pk_safe_inv(__m256 d)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), big = _mm256_set1_ps(1e30f);
    const __m256 far = _mm256_cmp_ps(_mm256_andnot_ps(sign, d), _mm256_set1_ps(1e-30f), _CMP_GT_OQ);
    const __m256 pos = _mm256_cmp_ps(d, _mm256_setzero_ps(), _CMP_GE_OQ);
    const __m256 tiny = _mm256_blendv_ps(_mm256_sub_ps(_mm256_setzero_ps(), big), big, pos);
    return _mm256_blendv_ps(tiny, _mm256_div_ps(_mm256_set1_ps(1.0f), d), far);
}

XS_HOT void xs_pk_prepare(xs_pk *pk, const xs_vec3 *o, const xs_vec3 *d, uint32_t n)
{
    for (uint32_t l = 0; l < XS_PK; ++l) { /* idle lanes repeat lane 0, masked off */
        pk->o[l] = o[l < n ? l : 0u];
        pk->d[l] = d[l < n ? l : 0u];
    }
    /* lane by lane into registers (not through an array: vector loads of
     * scalar stores stall) */
    const xs_vec3 *a = pk->o, *b = pk->d;
    pk->ox = _mm256_setr_ps(a[0].x, a[1].x, a[2].x, a[3].x, a[4].x, a[5].x, a[6].x, a[7].x);
    pk->oy = _mm256_setr_ps(a[0].y, a[1].y, a[2].y, a[3].y, a[4].y, a[5].y, a[6].y, a[7].y);
    pk->oz = _mm256_setr_ps(a[0].z, a[1].z, a[2].z, a[3].z, a[4].z, a[5].z, a[6].z, a[7].z);
    const __m256 dx = _mm256_setr_ps(b[0].x, b[1].x, b[2].x, b[3].x, b[4].x, b[5].x, b[6].x, b[7].x);
    const __m256 dy = _mm256_setr_ps(b[0].y, b[1].y, b[2].y, b[3].y, b[4].y, b[5].y, b[6].y, b[7].y);
    const __m256 dz = _mm256_setr_ps(b[0].z, b[1].z, b[2].z, b[3].z, b[4].z, b[5].z, b[6].z, b[7].z);
    pk->ix = xs_pk_safe_inv(dx), pk->iy = xs_pk_safe_inv(dy), pk->iz = xs_pk_safe_inv(dz);
    /* kz: the axis d is largest along, as xs_ray_prepare picks it */
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 ax = _mm256_andnot_ps(sign, dx), ay = _mm256_andnot_ps(sign, dy), az = _mm256_andnot_ps(sign, dz);
    const __m256 xy = _mm256_cmp_ps(ax, ay, _CMP_GT_OQ), xz = _mm256_cmp_ps(ax, az, _CMP_GT_OQ),
                 yz = _mm256_cmp_ps(ay, az, _CMP_GT_OQ);
    const __m256 z0 = _mm256_and_ps(xy, xz), z1 = _mm256_andnot_ps(xy, yz);
    const __m256 z2 = _mm256_andnot_ps(_mm256_or_ps(z0, z1), _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
    /* kx, ky follow it (kz 0: 1, 2; 1: 2, 0; 2: 0, 1), swapped where d[kz] < 0 */
    const __m256 dk = xs_pk_axis(z1, z2, dx, dy, dz);
    const __m256 neg = _mm256_cmp_ps(dk, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 x1 = z0, x2 = z1, y1 = z2, y2 = z0;
    /* per lane: axis k is y (k1) or z (k2) */
    const __m256 kx1 = _mm256_blendv_ps(x1, y1, neg), kx2 = _mm256_blendv_ps(x2, y2, neg);
    const __m256 ky1 = _mm256_blendv_ps(y1, x1, neg), ky2 = _mm256_blendv_ps(y2, x2, neg);
    const __m256 kz1 = z1, kz2 = z2;
    pk->sx = _mm256_div_ps(xs_pk_axis(kx1, kx2, dx, dy, dz), dk);
    pk->sy = _mm256_div_ps(xs_pk_axis(ky1, ky2, dx, dy, dz), dk);
    pk->sz = _mm256_div_ps(_mm256_set1_ps(1.0f), dk);
    const __m256i one = _mm256_set1_epi32(1), two = _mm256_set1_epi32(2);
    pk->kxi = _mm256_or_si256(_mm256_and_si256(_mm256_castps_si256(kx1), one),
                              _mm256_and_si256(_mm256_castps_si256(kx2), two));
    pk->kyi = _mm256_or_si256(_mm256_and_si256(_mm256_castps_si256(ky1), one),
                              _mm256_and_si256(_mm256_castps_si256(ky2), two));
    pk->kzi = _mm256_or_si256(_mm256_and_si256(_mm256_castps_si256(kz1), one),
                              _mm256_and_si256(_mm256_castps_si256(kz2), two));
    pk->px = xs_pk_axis(kx1, kx2, pk->ox, pk->oy, pk->oz);
    pk->py = xs_pk_axis(ky1, ky2, pk->ox, pk->oy, pk->oz);
    pk->pz = xs_pk_axis(kz1, kz2, pk->ox, pk->oy, pk->oz);
}

/* Entry distances of the eight rays into node n's four child slots (tn[i],
 * per lane) and the least of them over the lanes entering (key[i]); returns
 * the lanes of vector mask lv entering each slot
 * no farther than their closest hit, 8 bits a slot. xs_wnode_enter's
 * operations. */
XS_HOT uint32_t xs_pk_node(const xs_wnode *n, const xs_pk *pk, __m256 best, __m256 lv, __m256 *tn,
                           float *key)
{
    const __m256 ax = _mm256_mul_ps(_mm256_sub_ps(_mm256_set1_ps(n->origin[0]), pk->ox), pk->ix);
    const __m256 ay = _mm256_mul_ps(_mm256_sub_ps(_mm256_set1_ps(n->origin[1]), pk->oy), pk->iy);
    const __m256 az = _mm256_mul_ps(_mm256_sub_ps(_mm256_set1_ps(n->origin[2]), pk->oz), pk->iz);
    const __m256 bx = _mm256_mul_ps(_mm256_set1_ps(xs_bits_float((uint32_t)n->exp[0] << 23)), pk->ix);
    const __m256 by = _mm256_mul_ps(_mm256_set1_ps(xs_bits_float((uint32_t)n->exp[1] << 23)), pk->iy);
    const __m256 bz = _mm256_mul_ps(_mm256_set1_ps(xs_bits_float((uint32_t)n->exp[2] << 23)), pk->iz);
    const __m256 zero = _mm256_setzero_ps(), far = _mm256_set1_ps(XS_BOX_FAR_SCALE);
    /* the six planes of the four slots as floats: q[plane][slot] */
    float q[6][XS_WIDTH];
    for (int a = 0; a < 3; ++a) {
        _mm_storeu_ps(q[a], xs_q4(n->qlo[a]));
        _mm_storeu_ps(q[3 + a], xs_q4(n->qhi[a]));
    }
    uint32_t out = 0u;
    for (int i = 0; i < XS_WIDTH; ++i) {
        if (n->meta[i] == 0u)
            continue;
        const __m256 x0 = _mm256_add_ps(ax, _mm256_mul_ps(_mm256_broadcast_ss(&q[0][i]), bx));
        const __m256 x1 = _mm256_add_ps(ax, _mm256_mul_ps(_mm256_broadcast_ss(&q[3][i]), bx));
        const __m256 y0 = _mm256_add_ps(ay, _mm256_mul_ps(_mm256_broadcast_ss(&q[1][i]), by));
        const __m256 y1 = _mm256_add_ps(ay, _mm256_mul_ps(_mm256_broadcast_ss(&q[4][i]), by));
        const __m256 z0 = _mm256_add_ps(az, _mm256_mul_ps(_mm256_broadcast_ss(&q[2][i]), bz));
        const __m256 z1 = _mm256_add_ps(az, _mm256_mul_ps(_mm256_broadcast_ss(&q[5][i]), bz));
        const __m256 t0 = _mm256_max_ps(_mm256_max_ps(_mm256_min_ps(x0, x1), _mm256_min_ps(y0, y1)),
                                        _mm256_max_ps(_mm256_min_ps(z0, z1), zero));
        const __m256 t1 = _mm256_mul_ps(
            _mm256_min_ps(_mm256_min_ps(_mm256_max_ps(x0, x1), _mm256_max_ps(y0, y1)), _mm256_max_ps(z0, z1)), far);
        const __m256 in =
            _mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(t0, t1, _CMP_LE_OQ), _mm256_cmp_ps(t0, best, _CMP_LE_OQ)), lv);
        const uint32_t m = (uint32_t)_mm256_movemask_ps(in);
        if (m == 0u)
            continue;
        out |= m << (8 * i);
        tn[i] = t0;
        /* the nearest lane's entry: the order only decides speed */
        __m256 k = _mm256_blendv_ps(_mm256_set1_ps(INFINITY), t0, in);
        k = _mm256_min_ps(k, _mm256_permute2f128_ps(k, k, 1));
        k = _mm256_min_ps(k, _mm256_permute_ps(k, _MM_SHUFFLE(1, 0, 3, 2)));
        k = _mm256_min_ps(k, _mm256_permute_ps(k, _MM_SHUFFLE(2, 3, 0, 1)));
        key[i] = _mm256_cvtss_f32(k);
    }
    return out;
}

/* A vector mask of the lanes in bits m. */
XS_HOT __m256 xs_pk_mask(uint32_t m)
{
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)m), bit), bit));
}

/* Triangle i against the lanes of `lanes`; each lane that passes the
 * one-ray test's checks and is at least as good as its closest hit takes
 * it (xs_leaf_accept), and *best follows: the new closest distance, or -1
 * for a lane answered (any hit). Returns the lanes answered (any hit). The
 * distances stay in the vector: read back through memory after scalar
 * stores, they would stall the load. */
static inline uint32_t xs_pk_tri(const xs_scene_view *s, const xs_pk *pk, uint32_t i, uint32_t lanes, __m256 *best,
                                 uint32_t inst, bool any_hit, bool alpha, xs_hit *hit)
{
    const xs_wtri *t = &s->tris[i];
    const __m256 zero = _mm256_setzero_ps();
    /* per vertex: its x, y, z (and the word after them) in both halves, each
     * lane's kx, ky, kz picked by one permute, less the origin there */
    __m256 A[3], B[3], C[3];
    const __m256 V0 = _mm256_broadcast_ps((const __m128 *)(const void *)t->v0);
    const __m256 V1 = _mm256_broadcast_ps((const __m128 *)(const void *)t->v1);
    const __m256 V2 = _mm256_broadcast_ps((const __m128 *)(const void *)t->v2);
    A[0] = _mm256_sub_ps(_mm256_permutevar_ps(V0, pk->kxi), pk->px);
    A[1] = _mm256_sub_ps(_mm256_permutevar_ps(V0, pk->kyi), pk->py);
    A[2] = _mm256_sub_ps(_mm256_permutevar_ps(V0, pk->kzi), pk->pz);
    B[0] = _mm256_sub_ps(_mm256_permutevar_ps(V1, pk->kxi), pk->px);
    B[1] = _mm256_sub_ps(_mm256_permutevar_ps(V1, pk->kyi), pk->py);
    B[2] = _mm256_sub_ps(_mm256_permutevar_ps(V1, pk->kzi), pk->pz);
    C[0] = _mm256_sub_ps(_mm256_permutevar_ps(V2, pk->kxi), pk->px);
    C[1] = _mm256_sub_ps(_mm256_permutevar_ps(V2, pk->kyi), pk->py);
    C[2] = _mm256_sub_ps(_mm256_permutevar_ps(V2, pk->kzi), pk->pz);
    /* the shear: x = (v[kx] - o[kx]) - sx * z, as xs_ray_wtri */
    const __m256 ax = _mm256_sub_ps(A[0], _mm256_mul_ps(pk->sx, A[2]));
    const __m256 ay = _mm256_sub_ps(A[1], _mm256_mul_ps(pk->sy, A[2]));
    const __m256 bx = _mm256_sub_ps(B[0], _mm256_mul_ps(pk->sx, B[2]));
    const __m256 by = _mm256_sub_ps(B[1], _mm256_mul_ps(pk->sy, B[2]));
    const __m256 cx = _mm256_sub_ps(C[0], _mm256_mul_ps(pk->sx, C[2]));
    const __m256 cy = _mm256_sub_ps(C[1], _mm256_mul_ps(pk->sy, C[2]));
    const __m256 u = _mm256_sub_ps(_mm256_mul_ps(cx, by), _mm256_mul_ps(cy, bx));
    const __m256 v = _mm256_sub_ps(_mm256_mul_ps(ax, cy), _mm256_mul_ps(ay, cx));
    const __m256 w = _mm256_sub_ps(_mm256_mul_ps(bx, ay), _mm256_mul_ps(by, ax));
    const __m256 neg = _mm256_or_ps(_mm256_or_ps(_mm256_cmp_ps(u, zero, _CMP_LT_OQ), _mm256_cmp_ps(v, zero, _CMP_LT_OQ)),
                                    _mm256_cmp_ps(w, zero, _CMP_LT_OQ));
    const __m256 pos = _mm256_or_ps(_mm256_or_ps(_mm256_cmp_ps(u, zero, _CMP_GT_OQ), _mm256_cmp_ps(v, zero, _CMP_GT_OQ)),
                                    _mm256_cmp_ps(w, zero, _CMP_GT_OQ));
    uint32_t cand = lanes & ~(uint32_t)_mm256_movemask_ps(_mm256_and_ps(neg, pos));
    if (cand == 0u)
        return 0u;
    const uint32_t edge = (uint32_t)_mm256_movemask_ps(_mm256_or_ps(
        _mm256_or_ps(_mm256_cmp_ps(u, zero, _CMP_EQ_OQ), _mm256_cmp_ps(v, zero, _CMP_EQ_OQ)),
        _mm256_cmp_ps(w, zero, _CMP_EQ_OQ)));
    const __m256 T = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(u, _mm256_mul_ps(pk->sz, A[2])),
                                                 _mm256_mul_ps(v, _mm256_mul_ps(pk->sz, B[2]))),
                                   _mm256_mul_ps(w, _mm256_mul_ps(pk->sz, C[2])));
    /* xs_tri_accept's checks, lane by lane: det != 0, T on det's side, then
     * t = T / det in (0, closest so far] */
    const __m256 det = _mm256_add_ps(_mm256_add_ps(u, v), w);
    const __m256 side = _mm256_or_ps(
        _mm256_and_ps(_mm256_cmp_ps(det, zero, _CMP_GT_OQ), _mm256_cmp_ps(T, zero, _CMP_GT_OQ)),
        _mm256_and_ps(_mm256_cmp_ps(det, zero, _CMP_LT_OQ), _mm256_cmp_ps(T, zero, _CMP_LT_OQ)));
    const __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f), det);
    const __m256 tt = _mm256_mul_ps(T, inv);
    const __m256 ok = _mm256_and_ps(side, _mm256_and_ps(_mm256_cmp_ps(tt, zero, _CMP_GT_OQ),
                                                        _mm256_cmp_ps(tt, *best, _CMP_LE_OQ)));
    uint32_t pass = (cand & ~edge & (uint32_t)_mm256_movemask_ps(ok)) | (cand & edge);
    if (pass == 0u)
        return 0u;
    float lt[XS_PK], lu[XS_PK], lv[XS_PK];
    _mm256_storeu_ps(lt, tt), _mm256_storeu_ps(lu, _mm256_mul_ps(v, inv)), _mm256_storeu_ps(lv, _mm256_mul_ps(w, inv));
    uint32_t took = 0u, moved = 0u, moved_edge = 0u; /* answered; closer (vector t, an edge's own t) */
    while (pass != 0u) {
        const uint32_t l = (uint32_t)xs_ctz(pass);
        pass &= pass - 1u;
        float t1 = lt[l], b1 = lu[l], b2 = lv[l];
        const bool on_edge = ((edge >> l) & 1u) != 0u;
        if (on_edge) { /* the one-ray test decides it exactly */
            xs_ray_pre pre;
            xs_ray_prepare(pk->o[l], pk->d[l], &pre);
            if (!xs_ray_wtri(&pre, t, hit[l].t, &t1, &b1, &b2))
                continue;
        }
        const float was = hit[l].t;
        if (xs_leaf_accept(s, i, t1, b1, b2, inst, any_hit, alpha, &hit[l]))
            took |= 1u << l;
        else if (hit[l].t != was)
            *(on_edge ? &moved_edge : &moved) |= 1u << l;
    }
    if (took != 0u)
        *best = _mm256_blendv_ps(*best, _mm256_set1_ps(-1.0f), xs_pk_mask(took));
    if (moved != 0u)
        *best = _mm256_blendv_ps(*best, tt, xs_pk_mask(moved));
    if (moved_edge != 0u) { /* rare: an edge's t through memory */
        float b[XS_PK];
        _mm256_storeu_ps(b, *best);
        for (uint32_t m = moved_edge; m != 0u; m &= m - 1u)
            b[xs_ctz(m)] = hit[xs_ctz(m)].t;
        *best = _mm256_loadu_ps(b);
    }
    return took;
}

/* A packet walk's state: the lanes' hits and closest distances, and the
 * stack (node, leaf and instance references, the lanes entering each and
 * their entry distances). */
typedef struct xs_pk_walk {
    const xs_scene_view *s;
    xs_hit *hit;
    bool any_hit, alpha;
    uint32_t all, done; /* any hit: lanes answered (their best then -1: no box is entered by them) */
    __m256 vbest;       /* each lane's closest distance so far */
    uint64_t nodes, tris, insts;
    uint32_t st_ref[XS_PK_STACK], st_mask[XS_PK_STACK];
    __m256 st_t[XS_PK_STACK];
} xs_pk_walk;

/* The lanes `lanes` of packet pk (in the space of instance inst; UINT32_MAX:
 * the world) from node root, with the stack above sp0. An instance child
 * moves the lanes entering it into the instance's object space
 * (xs_instance_ray, as the one-ray walk does) and walks its mesh's tree.
 * False when the scene has a level this walk does not take. */
static bool xs_pk_walk_from(xs_pk_walk *w, const xs_pk *pk, uint32_t root, uint32_t lanes, uint32_t inst, int sp0)
{
    const xs_scene_view *s = w->s;
    int sp = sp0;
    uint32_t ref = root;
    for (;;) {
    next:;
        /* a node: its entered children onto the stack, the farthest first (the
         * nearest, when it is an inner node, entered at once) */
        const xs_wnode *nd = &s->wnodes[ref];
        w->nodes += (uint64_t)__builtin_popcount(lanes);
        if (sp + XS_WIDTH > XS_PK_STACK)
            return false;
        __m256 tn[XS_WIDTH];
        float key[XS_WIDTH];
        const uint32_t in = xs_pk_node(nd, pk, w->vbest, xs_pk_mask(lanes), tn, key);
        int slot[XS_WIDTH], k = 0;
        for (int i = 0; i < XS_WIDTH; ++i) {
            if (((in >> (8 * i)) & 255u) == 0u)
                continue;
            int j = k++;
            while (j > 0 && key[slot[j - 1]] < key[i]) { /* descending: the nearest ends last */
                slot[j] = slot[j - 1];
                --j;
            }
            slot[j] = i;
        }
        for (int j = 0; j < k; ++j) {
            const int i = slot[j];
            const uint32_t r = xs_child_ref(nd, ref, (uint32_t)i);
            if (j == k - 1 && (r & (XS_STACK_LEAF | XS_STACK_INSTANCE)) == 0u) {
                ref = r, lanes = (in >> (8 * i)) & 255u; /* the nearest is an inner node: straight into it */
                goto next;
            }
            w->st_ref[sp] = r;
            w->st_mask[sp] = (in >> (8 * i)) & 255u;
            w->st_t[sp] = tn[i];
            ++sp;
        }
        /* the next node: leaves and instances on the way are taken */
        for (;;) {
            if (sp == sp0 || w->done == w->all)
                return true;
            --sp;
            uint32_t m =
                w->st_mask[sp] & (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(w->st_t[sp], w->vbest, _CMP_LE_OQ));
            if (m == 0u)
                continue;
            const uint32_t r = w->st_ref[sp];
            if ((r & XS_STACK_INSTANCE) != 0u) { /* one level down: the mesh in its object space */
                const uint32_t ii = r & ~XS_STACK_INSTANCE;
                const xs_mesh *me = &s->meshes[s->instances[ii].mesh];
                if (inst != UINT32_MAX || me->wroot == UINT32_MAX)
                    return false;
                xs_vec3 oo[XS_PK], od[XS_PK];
                for (uint32_t l = 0; l < XS_PK; ++l)
                    xs_instance_ray(s, ii, pk->o[l], pk->d[l], false, 0.5f, &oo[l], &od[l]);
                xs_pk obj;
                xs_pk_prepare(&obj, oo, od, XS_PK);
                w->insts += (uint64_t)__builtin_popcount(m);
                if (!xs_pk_walk_from(w, &obj, me->wroot, m, ii, sp))
                    return false;
                continue;
            }
            if ((r & XS_STACK_LEAF) == 0u) {
                ref = r, lanes = m;
                break;
            }
            const xs_wnode *ln = &s->wnodes[(r & ~XS_STACK_LEAF) >> 2];
            const int sl = (int)(r & 3u);
            const uint32_t first = ln->child[sl], count = (uint32_t)ln->meta[sl] & 63u;
            for (uint32_t t = first; t < first + count && m != 0u; ++t) {
                w->tris += (uint64_t)__builtin_popcount(m);
                const uint32_t took = xs_pk_tri(s, pk, t, m, &w->vbest, inst, w->any_hit, w->alpha, w->hit);
                w->done |= took;
                m &= ~took;
            }
        }
    }
}

/* Closest hits (any_hit false) or any hits of the n <= 8 rays (o[l], d[l])
 * within tmax[l], into hit[l] as xs_trace_walk leaves them (the frame
 * without motion blur). False when the packet cannot take the scene (hit[]
 * is then not to be used). */
static inline bool xs_pk_trace(const xs_scene_view *s, const xs_vec3 *o, const xs_vec3 *d, const float *tmax,
                               uint32_t n, bool any_hit, bool alpha, xs_hit *hit, xs_counters *c)
{
    xs_pk_walk w;
    w.s = s, w.hit = hit, w.any_hit = any_hit, w.alpha = alpha;
    w.all = (1u << n) - 1u, w.done = 0u;
    w.nodes = w.tris = w.insts = 0u;
    float b[XS_PK];
    for (uint32_t l = 0; l < XS_PK; ++l) {
        b[l] = l < n ? tmax[l] : 0.0f;
        hit[l].tri = UINT32_MAX;
        hit[l].instance = UINT32_MAX;
        hit[l].t = b[l];
        hit[l].u = hit[l].v = 0.0f;
    }
    if (s->wnode_count == 0)
        return true;
    w.vbest = _mm256_setr_ps(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
    xs_pk pk;
    xs_pk_prepare(&pk, o, d, n);
    if (!xs_pk_walk_from(&w, &pk, s->wroot, w.all, UINT32_MAX, 0))
        return false; /* the one-ray walks that follow count their own tests */
    c->node_visits += w.nodes;
    c->tri_tests += w.tris;
    c->inst_visits += w.insts;
    return true;
}

#endif
