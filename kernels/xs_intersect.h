/* Ray queries over the scene's wide BVH (xs_types.h): closest hit and any
 * hit (shadow rays), counting node visits and triangle tests.
 *
 * Triangles: the watertight test of Woop, Benthin and Wald (JCGT 2(1),
 * 2013). Per ray, the axis the direction is largest along becomes z and a
 * shear maps the direction onto it; each triangle is then tested in 2-D by
 * three edge functions of its vertices relative to the ray origin. The
 * functions of an edge two triangles share are the same bits in both, so a
 * ray cannot slip between them; an edge function of exactly zero is
 * recomputed in double precision, as the paper does. No divide until a
 * candidate passes its edge and sign tests; then one reciprocal gives t and
 * the barycentrics.
 *
 * The closest hit is canonical: of the triangles at the least distance, the
 * one first in (triangle, instance) order (xs_hit_better), and nothing is
 * culled that could still tie (boxes entered at exactly the closest distance
 * are opened; the builder's box margins keep a box's computed entry below
 * the computed distance of any triangle inside it for rays that start at
 * the camera or within the scene, render/wbvh.c). So the answer does not
 * depend on the order a traversal tests triangles in: the one-ray walk
 * below, and the CPU's eight-ray packets (kernels/cpu/packet_avx2.h), give
 * the same hit, bit for bit. Not so the binary walk kept for meshes
 * deforming within the shutter (xs_trace_blas): it keeps strict tests, so a
 * tie there goes to the triangle met first, in the one fixed order every
 * device walks (frames under motion blur take no packets).
 *
 * Nodes: four children whose boxes are 8-bit offsets on the node's own
 * box; a child's slab distances are a + q * b per axis, a and b set up once
 * a node. Leaf children are tested on the spot (which shortens the ray
 * before the inner children are ordered), inner and instance children are
 * visited nearest first, the others stacked.
 *
 * Instances: a child of kind XS_WCHILD_INSTANCE moves the ray into the
 * instance's object space (xs_instance_ray: the one place a transform is
 * read; a transform evaluated at the ray's time goes there) and walks its
 * mesh's nodes; a marker on the stack brings the ray back to world space when
 * that walk is done. Meshes placed by an identity transform are part of the
 * top tree: no transform, no second level.
 *
 * Motion blur: a ray carries a time in [0, 1] across the shutter. A moving
 * instance (never merged into the top tree; its box there covers the
 * shutter) moves the ray by its transform at that time. A mesh deforming
 * within the shutter is walked by the binary traversal kept for it
 * (xs_trace_blas: its per-segment tree or its tree over every step, its
 * triangles interpolated at the ray's time, Moller-Trumbore's test): its
 * triangles are not the ones the wide tree was built over. Kernels for
 * frames without motion blur pass motion = false and compile none of it.
 *
 * Stack: XS_STACK entries (at most 3 a level, plus one marker: the builder
 * refuses trees deeper than that), each a reference and its entry distance;
 * on a GPU the first XS_STACK_FAST of them live in shared memory (kernels
 * launched with XS_STACK_SMEM_BYTES a thread of dynamic shared memory), the
 * rest in local memory.
 */
#ifndef XS_INTERSECT_H
#define XS_INTERSECT_H

#include "kernels/xs_motion.h"
#include "kernels/xs_texture.h"

#include <string.h>
#if defined(__SSE2__) && !defined(__CUDACC__)
#include <emmintrin.h>
#endif
#if defined(__AVX__) && !defined(__CUDACC__)
#include <immintrin.h>
#define XS_WTRI_AVX 1 /* the AVX2 build: xs_ray_wtri_avx below */
#endif
#if defined(__SSE4_1__) && !defined(__CUDACC__)
#include <smmintrin.h>
#endif

typedef struct xs_ray {
    xs_vec3 o, d;
    float tmax;
    float time; /* in [0, 1] across the shutter (read only under motion blur) */
} xs_ray;

typedef struct xs_hit {
    float t, u, v;
    uint32_t tri;      /* UINT32_MAX when nothing was hit */
    uint32_t instance;
} xs_hit;

enum {
    XS_STACK = 128,     /* entries a traversal may stack */
    XS_STACK_FAST = 24, /* of them in a GPU's shared memory (24 KB a block of 128: 8 blocks take 192 KB
                           of an SM's 256 KB; fewer would leave more to L1: not measured on a GPU) */
    XS_WBVH_MAX_DEPTH = (XS_STACK - 2) / 3, /* node levels (top tree + a mesh's) a traversal takes */
    XS_STACK_SMEM_BYTES = XS_STACK_FAST * 8  /* shared memory a GPU thread's stack takes */
};
/* Stack references: a node's index; an instance's index | XS_STACK_INSTANCE;
 * a leaf as its node's index << 2 | slot, | XS_STACK_LEAF (nodes stay
 * below 2^28: the builder checks); XS_STACK_MARKER: back to world space. */
#define XS_STACK_MARKER 0xFFFFFFFFu
#define XS_STACK_INSTANCE 0x80000000u
#define XS_STACK_LEAF 0x40000000u

/* A box's far distance is scaled by this before comparing (Ize 2013,
 * "Robust BVH Ray Traversal"): float rounding in the slab distances never
 * culls a box the ray touches. */
#define XS_BOX_FAR_SCALE 1.0000004f

/* The ray as a traversal uses it in one space (world, or an instance's). */
typedef struct xs_ray_pre {
    xs_vec3 o;
    xs_vec3 inv_d;     /* boxes */
    float sx, sy, sz;  /* the shear onto kz */
#if XS_GPU_CODE
    uint32_t k;        /* the watertight test's axes kx | ky << 2 | kz << 4: one register */
#else
    int kx, ky, kz;    /* the watertight test's axes, kz the largest of d */
    float ox, oy, oz;  /* the origin along them */
#endif
#if defined(__SSE2__) && !defined(__CUDACC__)
    __m128 o4, inv4;   /* o, 0 and inv_d, 0: a node's set-up in vectors */
#endif
#if defined(XS_WTRI_AVX)
    __m128i perm;      /* kx, ky, kz, kz: a vertex's axes into the test's order */
    __m128 ok4;        /* ox, oy, oz, oz: the origin in that order */
    __m128 s4;         /* sx, sy, 0, 0 */
#endif
} xs_ray_pre;

XS_DEVICE xs_vec3 xs_safe_inv(xs_vec3 d)
{
    const float big = 1e30f;
    return xs_v3(fabsf(d.x) > 1e-30f ? 1.0f / d.x : (d.x >= 0.0f ? big : -big),
                 fabsf(d.y) > 1e-30f ? 1.0f / d.y : (d.y >= 0.0f ? big : -big),
                 fabsf(d.z) > 1e-30f ? 1.0f / d.z : (d.z >= 0.0f ? big : -big));
}

XS_DEVICE void xs_ray_prepare(xs_vec3 o, xs_vec3 d, xs_ray_pre *p)
{
    p->o = o;
    p->inv_d = xs_safe_inv(d);
    float ax = fabsf(d.x), ay = fabsf(d.y), az = fabsf(d.z);
    int kz = ax > ay ? (ax > az ? 0 : 2) : (ay > az ? 1 : 2);
    int kx = kz == 2 ? 0 : kz + 1;
    int ky = kx == 2 ? 0 : kx + 1;
    float dz = xs_v3_get(d, kz);
    if (dz < 0.0f) { /* keep the winding: a mirrored view swaps the 2-D axes */
        int t = kx;
        kx = ky;
        ky = t;
    }
#if XS_GPU_CODE
    p->k = (uint32_t)kx | (uint32_t)ky << 2 | (uint32_t)kz << 4;
#else
    p->kx = kx, p->ky = ky, p->kz = kz;
    p->ox = xs_v3_get(o, kx), p->oy = xs_v3_get(o, ky), p->oz = xs_v3_get(o, kz);
#endif
    p->sx = xs_v3_get(d, kx) / dz;
    p->sy = xs_v3_get(d, ky) / dz;
    p->sz = 1.0f / dz;
#if defined(__SSE2__) && !defined(__CUDACC__)
    p->o4 = _mm_setr_ps(o.x, o.y, o.z, 0.0f);
    p->inv4 = _mm_setr_ps(p->inv_d.x, p->inv_d.y, p->inv_d.z, 0.0f);
#endif
#if defined(XS_WTRI_AVX)
    p->perm = _mm_setr_epi32(kx, ky, kz, kz);
    p->ok4 = _mm_setr_ps(p->ox, p->oy, p->oz, p->oz);
    p->s4 = _mm_setr_ps(p->sx, p->sy, 0.0f, 0.0f);
#endif
}

/* Whether a hit at distance tt on triangle tri (of instance inst) takes the
 * place of *hit: nearer, or as near and first in (triangle, instance) order.
 * A ray's initial tmax (no hit yet, tri UINT32_MAX) is never reached. */
XS_DEVICE bool xs_hit_better(float tt, uint32_t tri, uint32_t inst, const xs_hit *hit)
{
    return tt < hit->t ||
           (tt == hit->t && hit->tri != UINT32_MAX && (tri < hit->tri || (tri == hit->tri && inst < hit->instance)));
}

/* The end of the watertight test, from the edge functions (u, v, w) (of
 * one sign, or zero) and T = det * t: true with t in (0, tmax] and the
 * barycentrics of v1 and v2 (xs_hit_better then decides a t equal to the
 * closest so far). The scalar, AVX2 and packet tests share it. No test
 * against tmax before the divide: one that rounds differently from t itself
 * would make a tie's outcome depend on the order of the tests. */
XS_DEVICE bool xs_tri_accept(float u, float v, float w, float T, float tmax, float *out_t, float *out_u,
                             float *out_v)
{
    const float det = u + v + w;
    if (det == 0.0f)
        return false;
    if (det > 0.0f ? T <= 0.0f : T >= 0.0f) /* behind the origin */
        return false;
    const float inv = 1.0f / det;
    const float tt = T * inv;
    if (!(tt > 0.0f && tt <= tmax))
        return false;
    *out_t = tt;
    *out_u = v * inv;
    *out_v = w * inv;
    return true;
}

/* The watertight test against triangle t with the ray shortened to tmax:
 * true with t in (0, tmax] and the barycentrics of v1 and v2. */
XS_DEVICE bool xs_ray_wtri(const xs_ray_pre *r, const xs_wtri *t, float tmax, float *out_t, float *out_u,
                           float *out_v)
{
#if XS_GPU_CODE
    const int kx = (int)(r->k & 3u), ky = (int)((r->k >> 2) & 3u), kz = (int)(r->k >> 4);
    /* the origin along the three axes (selects, not a second copy of it) */
    const float ox = xs_v3_get(r->o, kx), oy = xs_v3_get(r->o, ky), oz = xs_v3_get(r->o, kz);
#else
    const int kx = r->kx, ky = r->ky, kz = r->kz;
    const float ox = r->ox, oy = r->oy, oz = r->oz;
#endif
    const float az = t->v0[kz] - oz, bz = t->v1[kz] - oz, cz = t->v2[kz] - oz;
    const float ax = (t->v0[kx] - ox) - r->sx * az, ay = (t->v0[ky] - oy) - r->sy * az;
    const float bx = (t->v1[kx] - ox) - r->sx * bz, by = (t->v1[ky] - oy) - r->sy * bz;
    const float cx = (t->v2[kx] - ox) - r->sx * cz, cy = (t->v2[ky] - oy) - r->sy * cz;
    float u = cx * by - cy * bx;
    float v = ax * cy - ay * cx;
    float w = bx * ay - by * ax;
    /* a positive and a negative edge function: outside, whatever a zero among
     * them would be exactly */
    if ((u < 0.0f || v < 0.0f || w < 0.0f) && (u > 0.0f || v > 0.0f || w > 0.0f))
        return false;
    if (u == 0.0f || v == 0.0f || w == 0.0f) { /* on an edge: decide it exactly */
        u = (float)((double)cx * (double)by - (double)cy * (double)bx);
        v = (float)((double)ax * (double)cy - (double)ay * (double)cx);
        w = (float)((double)bx * (double)ay - (double)by * (double)ax);
        if ((u < 0.0f || v < 0.0f || w < 0.0f) && (u > 0.0f || v > 0.0f || w > 0.0f))
            return false;
    }
    return xs_tri_accept(u, v, w, u * (r->sz * az) + v * (r->sz * bz) + w * (r->sz * cz), tmax, out_t, out_u,
                         out_v);
}

#if defined(XS_WTRI_AVX)
/* xs_ray_wtri in the AVX2 build: a vertex's axes go into the test's order
 * by one permute (a per-ray control) and the origin comes off in one
 * subtraction of four lanes, the three edge functions are one multiply-multiply-subtract of
 * three lanes; every lane does the scalar test's operations on its values
 * in its order (no fused multiply-add), and det and T are summed in the
 * scalar order, so the same bits. An edge function of exactly zero goes
 * through the scalar test (double precision). */
XS_DEVICE bool xs_ray_wtri_avx(const xs_ray_pre *r, const xs_wtri *t, float tmax, float *out_t, float *out_u,
                               float *out_v)
{
    /* per vertex: its axes in the test's order (the fourth word, not a
     * coordinate, dropped before any arithmetic), less the origin, then
     * (x, y, z, z) after the shear: x = (v[kx] - o[kx]) - s * z */
    const __m128 A = _mm_sub_ps(_mm_permutevar_ps(_mm_loadu_ps(t->v0), r->perm), r->ok4);
    const __m128 B = _mm_sub_ps(_mm_permutevar_ps(_mm_loadu_ps(t->v1), r->perm), r->ok4);
    const __m128 C = _mm_sub_ps(_mm_permutevar_ps(_mm_loadu_ps(t->v2), r->perm), r->ok4);
    const __m128 A2 = _mm_sub_ps(A, _mm_mul_ps(r->s4, _mm_shuffle_ps(A, A, _MM_SHUFFLE(2, 2, 2, 2))));
    const __m128 B2 = _mm_sub_ps(B, _mm_mul_ps(r->s4, _mm_shuffle_ps(B, B, _MM_SHUFFLE(2, 2, 2, 2))));
    const __m128 C2 = _mm_sub_ps(C, _mm_mul_ps(r->s4, _mm_shuffle_ps(C, C, _MM_SHUFFLE(2, 2, 2, 2))));
    /* P = (ax, bx, cx, cx), Q = (ay, by, cy, cy), Z = (az, bz, cz, cz) */
    const __m128 t0 = _mm_unpacklo_ps(A2, B2), t1 = _mm_unpacklo_ps(C2, C2);
    const __m128 P = _mm_movelh_ps(t0, t1), Q = _mm_movehl_ps(t1, t0);
    const __m128 Z = _mm_movelh_ps(_mm_unpackhi_ps(A, B), _mm_unpackhi_ps(C, C));
    /* (u, v, w) = (cx by - cy bx, ax cy - ay cx, bx ay - by ax) */
    const __m128 uvw = _mm_sub_ps(
        _mm_mul_ps(_mm_shuffle_ps(P, P, _MM_SHUFFLE(2, 1, 0, 2)), _mm_shuffle_ps(Q, Q, _MM_SHUFFLE(1, 0, 2, 1))),
        _mm_mul_ps(_mm_shuffle_ps(Q, Q, _MM_SHUFFLE(2, 1, 0, 2)), _mm_shuffle_ps(P, P, _MM_SHUFFLE(1, 0, 2, 1))));
    const __m128 zero = _mm_setzero_ps();
    const int neg = _mm_movemask_ps(_mm_cmplt_ps(uvw, zero)) & 7, pos = _mm_movemask_ps(_mm_cmpgt_ps(uvw, zero)) & 7;
    if (neg != 0 && pos != 0)
        return false;
    if ((_mm_movemask_ps(_mm_cmpeq_ps(uvw, zero)) & 7) != 0) /* on an edge: decide it exactly */
        return xs_ray_wtri(r, t, tmax, out_t, out_u, out_v);
    float l[4], m[4];
    _mm_storeu_ps(l, uvw);
    _mm_storeu_ps(m, _mm_mul_ps(uvw, _mm_mul_ps(_mm_set1_ps(r->sz), Z)));
    const float u = l[0], v = l[1], w = l[2];
    return xs_tri_accept(u, v, w, m[0] + m[1] + m[2], tmax, out_t, out_u, out_v);
}
#endif

/* Row-major 3x4 transform of a point and of a direction. */
XS_DEVICE xs_vec3 xs_xf_point(const float *m, xs_vec3 p)
{
    return xs_v3(m[0] * p.x + m[1] * p.y + m[2] * p.z + m[3],
                 m[4] * p.x + m[5] * p.y + m[6] * p.z + m[7],
                 m[8] * p.x + m[9] * p.y + m[10] * p.z + m[11]);
}
XS_DEVICE xs_vec3 xs_xf_dir(const float *m, xs_vec3 d)
{
    return xs_v3(m[0] * d.x + m[1] * d.y + m[2] * d.z, m[4] * d.x + m[5] * d.y + m[6] * d.z,
                 m[8] * d.x + m[9] * d.y + m[10] * d.z);
}
/* A normal to world space: the transpose of object-from-world. */
XS_DEVICE xs_vec3 xs_xf_normal(const float *inv, xs_vec3 n)
{
    return xs_v3(inv[0] * n.x + inv[4] * n.y + inv[8] * n.z, inv[1] * n.x + inv[5] * n.y + inv[9] * n.z,
                 inv[2] * n.x + inv[6] * n.y + inv[10] * n.z);
}

/* A world ray in instance inst's object space: affine, the direction not
 * renormalised, so distances t agree in both spaces. The one place a
 * traversal reads an instance's transform. */
XS_DEVICE void xs_instance_ray(const xs_scene_view *s, uint32_t inst, xs_vec3 o, xs_vec3 d, bool motion,
                               float time, xs_vec3 *oo, xs_vec3 *od)
{
    const xs_instance *in = &s->instances[inst];
    const float *inv = in->inv;
    float xb[12], ib[12];
    if (motion && (in->flags & XS_INST_MOTION) != 0u) { /* where it is at the ray's time */
        xs_motion_xf_at(&s->motion_xf[in->motion], s->motion_steps, time, xb);
        xs_xf_inverse(xb, ib);
        inv = ib;
    }
    *oo = xs_xf_point(inv, o);
    *od = xs_xf_dir(inv, d);
}

/* Entry distances of the ray into node n's four children; INFINITY where a
 * slot is empty, missed, or entered beyond tmax (a box entered at exactly
 * tmax may hold a triangle that ties with the closest hit). Returns the slots
 * entered as a bit mask. On x86-64 CPUs the
 * four slots are one SSE2 vector each step (SSE2 is part of the baseline
 * ISA): the same IEEE operations lane by lane as the scalar loop (minps and
 * maxps return the second operand unless the first is smaller or larger,
 * which is xs_minf and xs_maxf), so both give the same bits. */
#if defined(__SSE2__) && !defined(__CUDACC__)
XS_DEVICE __m128 xs_q4(const uint8_t *q)
{
    uint32_t w;
    memcpy(&w, q, 4);
    __m128i b = _mm_cvtsi32_si128((int)w);
#if defined(__SSE4_1__) /* the AVX2 build: one zero-extension, the same integers */
    b = _mm_cvtepu8_epi32(b);
#else
    b = _mm_unpacklo_epi8(b, _mm_setzero_si128());
    b = _mm_unpacklo_epi16(b, _mm_setzero_si128());
#endif
    return _mm_cvtepi32_ps(b);
}

XS_DEVICE uint32_t xs_wnode_enter(const xs_wnode *n, const xs_ray_pre *r, float tmax, float *tn)
{
    /* per axis a = (origin - o) * inv_d and b = 2^(exp - 127) * inv_d, the
     * three axes at once (the node's fourth word, its exponent bytes, masked
     * off: as a float it would be a denormal), then each broadcast */
    const __m128i head = _mm_loadu_si128((const __m128i *)(const void *)n->origin);
    const __m128 org = _mm_castsi128_ps(_mm_and_si128(head, _mm_setr_epi32(-1, -1, -1, 0)));
    __m128i e = _mm_srli_si128(head, 12); /* exp[0..2], pad0_: four bytes */
#if defined(__SSE4_1__)
    e = _mm_cvtepu8_epi32(e);
#else
    e = _mm_unpacklo_epi16(_mm_unpacklo_epi8(e, _mm_setzero_si128()), _mm_setzero_si128());
#endif
    const __m128 a4 = _mm_mul_ps(_mm_sub_ps(org, r->o4), r->inv4);
    const __m128 b4 = _mm_mul_ps(_mm_castsi128_ps(_mm_slli_epi32(e, 23)), r->inv4);
    const __m128 ax = _mm_shuffle_ps(a4, a4, _MM_SHUFFLE(0, 0, 0, 0));
    const __m128 ay = _mm_shuffle_ps(a4, a4, _MM_SHUFFLE(1, 1, 1, 1));
    const __m128 az = _mm_shuffle_ps(a4, a4, _MM_SHUFFLE(2, 2, 2, 2));
    const __m128 bx = _mm_shuffle_ps(b4, b4, _MM_SHUFFLE(0, 0, 0, 0));
    const __m128 by = _mm_shuffle_ps(b4, b4, _MM_SHUFFLE(1, 1, 1, 1));
    const __m128 bz = _mm_shuffle_ps(b4, b4, _MM_SHUFFLE(2, 2, 2, 2));
    const __m128 x0 = _mm_add_ps(ax, _mm_mul_ps(xs_q4(n->qlo[0]), bx));
    const __m128 x1 = _mm_add_ps(ax, _mm_mul_ps(xs_q4(n->qhi[0]), bx));
    const __m128 y0 = _mm_add_ps(ay, _mm_mul_ps(xs_q4(n->qlo[1]), by));
    const __m128 y1 = _mm_add_ps(ay, _mm_mul_ps(xs_q4(n->qhi[1]), by));
    const __m128 z0 = _mm_add_ps(az, _mm_mul_ps(xs_q4(n->qlo[2]), bz));
    const __m128 z1 = _mm_add_ps(az, _mm_mul_ps(xs_q4(n->qhi[2]), bz));
    /* xs_minf(a, b) is a < b ? a : b, which is _mm_min_ps(a, b) */
    const __m128 t0 = _mm_max_ps(_mm_max_ps(_mm_min_ps(x0, x1), _mm_min_ps(y0, y1)),
                                 _mm_max_ps(_mm_min_ps(z0, z1), _mm_setzero_ps()));
    const __m128 t1 = _mm_mul_ps(_mm_min_ps(_mm_min_ps(_mm_max_ps(x0, x1), _mm_max_ps(y0, y1)), _mm_max_ps(z0, z1)),
                                 _mm_set1_ps(XS_BOX_FAR_SCALE));
    uint32_t meta;
    memcpy(&meta, n->meta, 4);
    const __m128i used = _mm_cmpeq_epi8(_mm_cvtsi32_si128((int)meta), _mm_setzero_si128());
    const __m128i used32 = _mm_unpacklo_epi16(_mm_unpacklo_epi8(used, used), _mm_unpacklo_epi8(used, used));
    const __m128 hit = _mm_andnot_ps(_mm_castsi128_ps(used32),
                                     _mm_and_ps(_mm_cmple_ps(t0, t1), _mm_cmple_ps(t0, _mm_set1_ps(tmax))));
    const __m128 out = _mm_or_ps(_mm_and_ps(hit, t0), _mm_andnot_ps(hit, _mm_set1_ps(INFINITY)));
    _mm_storeu_ps(tn, out);
    return (uint32_t)_mm_movemask_ps(hit);
}
#elif XS_GPU_CODE
/* On a GPU: the node as three of its four 16-byte rows (vector loads
 * through the read-only cache), the 8-bit planes taken out of their words. */
XS_DEVICE float xs_qbyte(uint32_t w, int i) { return (float)((w >> (8 * i)) & 255u); }
XS_DEVICE uint32_t xs_wnode_enter(const xs_wnode *n, const xs_ray_pre *r, float tmax, float *tn)
{
    const uint4 *row = (const uint4 *)(const void *)n;
    const uint4 r0 = __ldg(row), r2 = __ldg(row + 2), r3 = __ldg(row + 3);
    /* r0: origin, exponents; r2: qlo x y z, qhi x; r3: qhi y z, meta */
    const float ax = (__uint_as_float(r0.x) - r->o.x) * r->inv_d.x;
    const float ay = (__uint_as_float(r0.y) - r->o.y) * r->inv_d.y;
    const float az = (__uint_as_float(r0.z) - r->o.z) * r->inv_d.z;
    const float bx = __uint_as_float((r0.w & 255u) << 23) * r->inv_d.x;
    const float by = __uint_as_float(((r0.w >> 8) & 255u) << 23) * r->inv_d.y;
    const float bz = __uint_as_float(((r0.w >> 16) & 255u) << 23) * r->inv_d.z;
    uint32_t mask = 0u;
    for (int i = 0; i < XS_WIDTH; ++i) {
        const float x0 = ax + xs_qbyte(r2.x, i) * bx, x1 = ax + xs_qbyte(r2.w, i) * bx;
        const float y0 = ay + xs_qbyte(r2.y, i) * by, y1 = ay + xs_qbyte(r3.x, i) * by;
        const float z0 = az + xs_qbyte(r2.z, i) * bz, z1 = az + xs_qbyte(r3.y, i) * bz;
        const float t0 = xs_maxf(xs_maxf(xs_minf(x0, x1), xs_minf(y0, y1)), xs_maxf(xs_minf(z0, z1), 0.0f));
        const float t1 = xs_minf(xs_minf(xs_maxf(x0, x1), xs_maxf(y0, y1)), xs_maxf(z0, z1)) * XS_BOX_FAR_SCALE;
        const bool in = ((r3.z >> (8 * i)) & 255u) != 0u && t0 <= t1 && t0 <= tmax;
        tn[i] = in ? t0 : INFINITY;
        mask |= in ? 1u << i : 0u;
    }
    return mask;
}
#else
XS_DEVICE uint32_t xs_wnode_enter(const xs_wnode *n, const xs_ray_pre *r, float tmax, float *tn)
{
    uint32_t mask = 0u;
    /* per axis: plane q of a child lies at origin + q * 2^(exp - 127) */
    const float ax = (n->origin[0] - r->o.x) * r->inv_d.x;
    const float ay = (n->origin[1] - r->o.y) * r->inv_d.y;
    const float az = (n->origin[2] - r->o.z) * r->inv_d.z;
    const float bx = xs_bits_float((uint32_t)n->exp[0] << 23) * r->inv_d.x;
    const float by = xs_bits_float((uint32_t)n->exp[1] << 23) * r->inv_d.y;
    const float bz = xs_bits_float((uint32_t)n->exp[2] << 23) * r->inv_d.z;
    for (int i = 0; i < XS_WIDTH; ++i) {
        const float x0 = ax + (float)n->qlo[0][i] * bx, x1 = ax + (float)n->qhi[0][i] * bx;
        const float y0 = ay + (float)n->qlo[1][i] * by, y1 = ay + (float)n->qhi[1][i] * by;
        const float z0 = az + (float)n->qlo[2][i] * bz, z1 = az + (float)n->qhi[2][i] * bz;
        const float t0 = xs_maxf(xs_maxf(xs_minf(x0, x1), xs_minf(y0, y1)), xs_maxf(xs_minf(z0, z1), 0.0f));
        const float t1 = xs_minf(xs_minf(xs_maxf(x0, x1), xs_maxf(y0, y1)), xs_maxf(z0, z1)) * XS_BOX_FAR_SCALE;
        const bool in = n->meta[i] != 0u && t0 <= t1 && t0 <= tmax;
        tn[i] = in ? t0 : INFINITY;
        mask |= in ? 1u << i : 0u;
    }
    return mask;
}
#endif

/* Whether an alpha-masked triangle is a surface at barycentrics (b1, b2).
 * Only traversals that test alpha call it: a GPU runs scenes without masks
 * in trace kernels compiled without it (kernels/cuda/kernel.cu). XS_HOT
 * makes the GPU inline the walk, so that choice is a constant there; the
 * CPU's compilers inline it too (the wavefront's stage loops then get a walk
 * each with any_hit, alpha and motion constants: the shadow rays' walk
 * without the ordering, see xs_trace_walk), and the small leaf test into it. */
#if XS_GPU_CODE
#define XS_HOT static __device__ __forceinline__
#elif defined(__CUDACC__)
#define XS_HOT XS_DEVICE
#else
#define XS_HOT static inline __attribute__((always_inline))
#endif
XS_DEVICE bool xs_alpha_passes(const xs_scene_view *s, uint32_t tri, float b1, float b2)
{
    const xs_tri_attr *a = &s->attrs[tri];
    const xs_material *m = &s->materials[a->material];
    if ((m->flags & XS_MAT_ALPHA_MASK) == 0u)
        return true;
    xs_uv uv = xs_tri_uv(a, b1, b2);
    return xs_material_alpha(s, m, &uv) >= m->alpha_cutoff;
}

/* The triangles [first, first + count) of a leaf; hit is updated when
 * closer. inst: the instance whose space the ray is in (UINT32_MAX: the
 * world, where each triangle names its own). True on an any-hit early out. */
/* A triangle that passed xs_ray_wtri's tests (or the four-wide ones below
 * with the same values): the alpha mask, then the hit. True on an any-hit
 * early out. */
XS_DEVICE bool xs_leaf_accept(const xs_scene_view *s, uint32_t i, float tt, float u, float v, uint32_t inst,
                              bool any_hit, bool alpha, xs_hit *hit)
{
    const xs_wtri *t = &s->tris[i];
    const uint32_t in = inst != UINT32_MAX ? inst : t->world_inst;
    if (!xs_hit_better(tt, i, in, hit))
        return false;
    if (alpha && (t->flags & XS_WTRI_ALPHA) != 0u && !xs_alpha_passes(s, i, u, v))
        return false;
    hit->t = tt;
    hit->u = u;
    hit->v = v;
    hit->tri = i;
    hit->instance = in;
    return any_hit;
}

#if defined(__SSE2__) && !defined(__CUDACC__)
/* On x86-64 CPUs: four triangles of a leaf at once. Their rows are loaded
 * and transposed into x, y and z of each vertex, and the watertight test's
 * arithmetic runs lane by lane in the scalar test's order, so each lane has
 * the scalar test's bits; a lane that passes is then checked and taken in
 * triangle order against the closest hit so far, exactly as the scalar loop
 * would (a lane with a zero edge function goes through the scalar test,
 * which decides it in double precision). Leaves of one or two triangles
 * take the scalar loop. */
static __attribute__((noinline)) bool xs_trace_leaf4(const xs_scene_view *s, const xs_ray_pre *r, uint32_t first,
                                                      uint32_t count, uint32_t inst, bool any_hit, bool alpha,
                                                      xs_hit *hit)
{
    const __m128 zero = _mm_setzero_ps();
    const __m128 ox = _mm_set1_ps(r->ox), oy = _mm_set1_ps(r->oy), oz = _mm_set1_ps(r->oz);
    const __m128 sx = _mm_set1_ps(r->sx), sy = _mm_set1_ps(r->sy), sz = _mm_set1_ps(r->sz);
    for (uint32_t g = first; g < first + count; g += 4u) {
        const uint32_t n = first + count - g < 4u ? first + count - g : 4u;
        __m128 v[3][4]; /* vertex, then the four triangles' rows */
        for (uint32_t k = 0; k < 4u; ++k) {
            const xs_wtri *t = &s->tris[g + (k < n ? k : n - 1u)];
            v[0][k] = _mm_load_ps(t->v0);
            v[1][k] = _mm_load_ps(t->v1);
            v[2][k] = _mm_load_ps(t->v2);
        }
        __m128 c[3][3]; /* vertex, axis x y z: four lanes */
        for (int q = 0; q < 3; ++q) {
            __m128 a0 = v[q][0], a1 = v[q][1], a2 = v[q][2], a3 = v[q][3];
            _MM_TRANSPOSE4_PS(a0, a1, a2, a3);
            c[q][0] = a0, c[q][1] = a1, c[q][2] = a2;
        }
        const __m128 az = _mm_sub_ps(c[0][r->kz], oz), bz = _mm_sub_ps(c[1][r->kz], oz), cz = _mm_sub_ps(c[2][r->kz], oz);
        const __m128 ax = _mm_sub_ps(_mm_sub_ps(c[0][r->kx], ox), _mm_mul_ps(sx, az));
        const __m128 ay = _mm_sub_ps(_mm_sub_ps(c[0][r->ky], oy), _mm_mul_ps(sy, az));
        const __m128 bx = _mm_sub_ps(_mm_sub_ps(c[1][r->kx], ox), _mm_mul_ps(sx, bz));
        const __m128 by = _mm_sub_ps(_mm_sub_ps(c[1][r->ky], oy), _mm_mul_ps(sy, bz));
        const __m128 cx = _mm_sub_ps(_mm_sub_ps(c[2][r->kx], ox), _mm_mul_ps(sx, cz));
        const __m128 cy = _mm_sub_ps(_mm_sub_ps(c[2][r->ky], oy), _mm_mul_ps(sy, cz));
        const __m128 u = _mm_sub_ps(_mm_mul_ps(cx, by), _mm_mul_ps(cy, bx));
        const __m128 vv = _mm_sub_ps(_mm_mul_ps(ax, cy), _mm_mul_ps(ay, cx));
        const __m128 w = _mm_sub_ps(_mm_mul_ps(bx, ay), _mm_mul_ps(by, ax));
        const __m128 neg = _mm_or_ps(_mm_or_ps(_mm_cmplt_ps(u, zero), _mm_cmplt_ps(vv, zero)), _mm_cmplt_ps(w, zero));
        const __m128 pos = _mm_or_ps(_mm_or_ps(_mm_cmpgt_ps(u, zero), _mm_cmpgt_ps(vv, zero)), _mm_cmpgt_ps(w, zero));
        const int out = _mm_movemask_ps(_mm_and_ps(neg, pos));
        const int onedge =
            _mm_movemask_ps(_mm_or_ps(_mm_or_ps(_mm_cmpeq_ps(u, zero), _mm_cmpeq_ps(vv, zero)), _mm_cmpeq_ps(w, zero)));
        const __m128 det = _mm_add_ps(_mm_add_ps(u, vv), w);
        const __m128 T = _mm_add_ps(_mm_add_ps(_mm_mul_ps(u, _mm_mul_ps(sz, az)), _mm_mul_ps(vv, _mm_mul_ps(sz, bz))),
                                    _mm_mul_ps(w, _mm_mul_ps(sz, cz)));
        float lv[4], lw[4], ld[4], lt[4];
        _mm_storeu_ps(lv, vv), _mm_storeu_ps(lw, w), _mm_storeu_ps(ld, det), _mm_storeu_ps(lt, T);
        for (uint32_t k = 0; k < n; ++k) {
            if ((out >> k) & 1)
                continue;
            float tt, bu, bv;
            if ((onedge >> k) & 1) { /* the scalar test: the same values, then double precision */
                if (!xs_ray_wtri(r, &s->tris[g + k], hit->t, &tt, &bu, &bv))
                    continue;
            } else {
                const float dk = ld[k], Tk = lt[k], tmax = hit->t;
                if (dk == 0.0f || (dk > 0.0f ? Tk <= 0.0f : Tk >= 0.0f))
                    continue;
                const float inv = 1.0f / dk;
                tt = Tk * inv;
                if (!(tt > 0.0f && tt <= tmax))
                    continue;
                bu = lv[k] * inv;
                bv = lw[k] * inv;
            }
            if (xs_leaf_accept(s, g + k, tt, bu, bv, inst, any_hit, alpha, hit))
                return true;
        }
    }
    return false;
}
/* Leaves of one or two triangles (a small scene's usual leaf) inline in the
 * walk: the scalar test does less, and a call with the four-wide test's
 * frame would cost about as much as the test. */
XS_HOT bool xs_trace_leaf(const xs_scene_view *s, const xs_ray_pre *r, uint32_t first, uint32_t count,
                          uint32_t inst, bool any_hit, bool alpha, xs_hit *hit, uint32_t *tests)
{
    *tests += count;
    if (count >= 3u)
        return xs_trace_leaf4(s, r, first, count, inst, any_hit, alpha, hit);
    for (uint32_t i = first; i < first + count; ++i) {
        float tt, u, v;
#if defined(XS_WTRI_AVX)
        if (xs_ray_wtri_avx(r, &s->tris[i], hit->t, &tt, &u, &v) &&
            xs_leaf_accept(s, i, tt, u, v, inst, any_hit, alpha, hit))
            return true;
#else
        if (xs_ray_wtri(r, &s->tris[i], hit->t, &tt, &u, &v) && xs_leaf_accept(s, i, tt, u, v, inst, any_hit, alpha, hit))
            return true;
#endif
    }
    return false;
}
#else
XS_DEVICE bool xs_trace_leaf(const xs_scene_view *s, const xs_ray_pre *r, uint32_t first, uint32_t count,
                             uint32_t inst, bool any_hit, bool alpha, xs_hit *hit, uint32_t *tests)
{
    for (uint32_t i = first; i < first + count; ++i) {
        const xs_wtri *t = &s->tris[i];
        float tt, u, v;
        ++*tests;
        if (!xs_ray_wtri(r, t, hit->t, &tt, &u, &v))
            continue;
        if (xs_leaf_accept(s, i, tt, u, v, inst, any_hit, alpha, hit))
            return true;
    }
    return false;
}
#endif

/* ---- The binary traversal kept for meshes deforming within the shutter ------ */

enum { XS_BVH_STACK = 64 };

XS_DEVICE bool xs_ray_tri(xs_vec3 o, xs_vec3 d, const xs_tri *t, float tmax, float *out_t,
                          float *out_u, float *out_v)
{
    xs_vec3 p = xs_cross(d, t->e2);
    float det = xs_dot(t->e1, p);
    if (fabsf(det) < 1e-30f)
        return false;
    float inv = 1.0f / det;
    xs_vec3 s = xs_sub(o, t->v0);
    float u = xs_dot(s, p) * inv;
    if (u < 0.0f || u > 1.0f)
        return false;
    xs_vec3 q = xs_cross(s, t->e1);
    float v = xs_dot(d, q) * inv;
    if (v < 0.0f || u + v > 1.0f)
        return false;
    float tt = xs_dot(t->e2, q) * inv;
    if (!(tt > 0.0f && tt < tmax))
        return false;
    *out_t = tt;
    *out_u = u;
    *out_v = v;
    return true;
}

XS_DEVICE float xs_ray_box(const xs_bvh_node *n, xs_vec3 o, xs_vec3 inv_d, float tmax)
{
    float t0x = (n->bmin[0] - o.x) * inv_d.x, t1x = (n->bmax[0] - o.x) * inv_d.x;
    float t0y = (n->bmin[1] - o.y) * inv_d.y, t1y = (n->bmax[1] - o.y) * inv_d.y;
    float t0z = (n->bmin[2] - o.z) * inv_d.z, t1z = (n->bmax[2] - o.z) * inv_d.z;
    float tn = xs_maxf(xs_maxf(xs_minf(t0x, t1x), xs_minf(t0y, t1y)), xs_minf(t0z, t1z));
    float tf = xs_minf(xs_minf(xs_maxf(t0x, t1x), xs_maxf(t0y, t1y)), xs_maxf(t0z, t1z));
    tn = xs_maxf(tn, 0.0f);
    return (tn <= tf && tn < tmax) ? tn : INFINITY;
}

/* At inner node n: the nearer child the ray enters within tmax becomes *node
 * and the farther one (if entered) is pushed; false when it enters neither. */
XS_DEVICE bool xs_bvh_descend(const xs_bvh_node *nodes, const xs_bvh_node *n, xs_vec3 o,
                              xs_vec3 inv_d, float tmax, uint32_t *stack, int *sp, uint32_t *node,
                              xs_counters *c)
{
    uint32_t a = n->first, b = n->first + 1;
    c->node_visits += 2;
    float ta = xs_ray_box(&nodes[a], o, inv_d, tmax);
    float tb = xs_ray_box(&nodes[b], o, inv_d, tmax);
    if (tb < ta) {
        float tt = ta;
        ta = tb;
        tb = tt;
        uint32_t tmp = a;
        a = b;
        b = tmp;
    }
    if (ta == INFINITY)
        return false;
    if (tb != INFINITY && *sp < XS_BVH_STACK)
        stack[(*sp)++] = b;
    *node = a;
    return true;
}
/* Mesh m, deforming within the shutter (m->motion set), in the space of
 * `instance` (o, d there), at the ray's time: the tree of the time's segment
 * (or the one tree over every step), the triangles interpolated at that
 * time; updates hit when closer. Returns true on an any-hit early out. */
XS_COLD bool xs_trace_blas(const xs_scene_view *s, const xs_mesh *m, xs_vec3 o, xs_vec3 d,
                           float time, bool any_hit, uint32_t instance, xs_hit *hit, xs_counters *c)
{
    const xs_bvh_node *nodes = s->nodes;
    uint32_t root = m->root;
    if (m->seg_nodes != UINT32_MAX) { /* the tree of the ray's segment */
        float f;
        nodes = s->motion_nodes;
        root = m->seg_nodes + xs_motion_segment(s->motion_steps, time, &f) * m->seg_stride;
    }
    xs_vec3 inv_d = xs_safe_inv(d);
    uint32_t stack[XS_BVH_STACK];
    int sp = 0;
    uint32_t node = root;
    c->node_visits++;
    if (xs_ray_box(&nodes[root], o, inv_d, hit->t) == INFINITY)
        return false;
    for (;;) {
        const xs_bvh_node *n = &nodes[node];
        if (n->count > 0) {
            for (uint32_t i = n->first; i < n->first + n->count; ++i) {
                float t, u, v;
                c->tri_tests++;
                const xs_tri tm = xs_tri_at(s, m, i, time);
                if (xs_ray_tri(o, d, &tm, hit->t, &t, &u, &v) && xs_alpha_passes(s, i, u, v)) {
                    hit->t = t;
                    hit->u = u;
                    hit->v = v;
                    hit->tri = i;
                    hit->instance = instance;
                    if (any_hit)
                        return true;
                }
            }
        } else if (xs_bvh_descend(nodes, n, o, inv_d, hit->t, stack, &sp, &node, c)) {
            continue;
        }
        if (sp == 0)
            break;
        node = stack[--sp];
    }
    return false;
}

#if XS_GPU_CODE
/* The fast part of each thread's traversal stack, interleaved by thread:
 * XS_STACK_FAST entries of (reference, entry distance). */
extern __shared__ uint32_t xs_stack_smem[];
#endif

/* The traversal stack: node, instance and leaf references with the distance
 * at which the ray enters them (a popped entry beyond the closest hit so far
 * is dropped unopened). XS_STACK_FAST entries in shared memory on a GPU. */
typedef struct xs_stack {
#if XS_GPU_CODE
    uint32_t slow_ref[XS_STACK - XS_STACK_FAST];
    float slow_t[XS_STACK - XS_STACK_FAST];
#else
    uint32_t ref[XS_STACK];
    float t[XS_STACK];
#endif
} xs_stack;

/* Pushes (ref, t) at *sp (the stack pointer lives apart from the arrays, in
 * a register). */
XS_DEVICE void xs_stack_push(xs_stack *st, int *sp, uint32_t ref, float t)
{
    const int i = (*sp)++;
#if XS_GPU_CODE
    const unsigned tid = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const unsigned nt = blockDim.x * blockDim.y * blockDim.z;
    if (i < XS_STACK_FAST) {
        xs_stack_smem[(2u * (unsigned)i) * nt + tid] = ref;
        xs_stack_smem[(2u * (unsigned)i + 1u) * nt + tid] = __float_as_uint(t);
    } else {
        st->slow_ref[i - XS_STACK_FAST] = ref;
        st->slow_t[i - XS_STACK_FAST] = t;
    }
#else
    st->ref[i] = ref;
    st->t[i] = t;
#endif
}

XS_DEVICE uint32_t xs_stack_pop(const xs_stack *st, int *sp, float *t)
{
    const int i = --*sp;
#if XS_GPU_CODE
    const unsigned tid = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    const unsigned nt = blockDim.x * blockDim.y * blockDim.z;
    if (i < XS_STACK_FAST) {
        *t = __uint_as_float(xs_stack_smem[(2u * (unsigned)i + 1u) * nt + tid]);
        return xs_stack_smem[(2u * (unsigned)i) * nt + tid];
    }
    *t = st->slow_t[i - XS_STACK_FAST];
    return st->slow_ref[i - XS_STACK_FAST];
#else
    *t = st->t[i];
    return st->ref[i];
#endif
}

/* A compare-and-swap of the sorting network below: distances t, and the
 * slot each position holds, 8 bits a position in *order (constant indices
 * keep all of it in registers on a GPU). */
XS_DEVICE void xs_cswap(float *t, uint32_t *order, int a, int b)
{
    if (t[b] < t[a]) {
        const float tt = t[a];
        t[a] = t[b];
        t[b] = tt;
        const uint32_t sa = (*order >> (8 * a)) & 255u, sb = (*order >> (8 * b)) & 255u;
        *order = (*order & ~((255u << (8 * a)) | (255u << (8 * b)))) | sb << (8 * a) | sa << (8 * b);
    }
}

/* The stack reference of node `node`'s child slot `slot`. */
XS_DEVICE uint32_t xs_child_ref(const xs_wnode *n, uint32_t node, uint32_t slot)
{
    const uint32_t kind = (uint32_t)n->meta[slot] >> 6;
    return kind == XS_WCHILD_LEAF       ? (XS_STACK_LEAF | node << 2 | slot)
           : kind == XS_WCHILD_INSTANCE ? (n->child[slot] | XS_STACK_INSTANCE)
                                        : n->child[slot];
}

/* What a traversal counts, in 32 bits while it runs. */
typedef struct xs_trace_count {
    uint32_t nodes, tris, insts;
} xs_trace_count;

/* Tests leaf reference ref (a node's slot) against the ray in pre's space. */
XS_HOT bool xs_trace_leaf_ref(const xs_scene_view *s, const xs_ray_pre *pre, uint32_t ref, uint32_t inst,
                                 bool any_hit, bool alpha, xs_hit *hit, xs_trace_count *tc)
{
    const xs_wnode *ln = &s->wnodes[(ref & ~XS_STACK_LEAF) >> 2];
    const int slot = (int)(ref & 3u);
    const uint32_t first = ln->child[slot], count = (uint32_t)ln->meta[slot] & 63u;
    return xs_trace_leaf(s, pre, first, count, inst, any_hit, alpha, hit, &tc->tris);
}

/* Closest hit of the ray (*ro, *rd) within tmax when any_hit is false;
 * otherwise returns at the first hit. At a node, the children the ray enters are ordered nearest first; leaves
 * before the nearest inner child are tested at once, the nearest inner (or
 * instance) child is visited next, and everything farther is stacked
 * farthest first. */
XS_HOT bool xs_trace_walk(const xs_scene_view *s, const xs_vec3 *XS_RESTRICT ro, const xs_vec3 *XS_RESTRICT rd,
                           float tmax, bool any_hit, bool alpha, bool motion, float time, xs_hit *hit,
                           xs_counters *c)
{
    hit->tri = UINT32_MAX;
    hit->instance = UINT32_MAX;
    hit->t = tmax;
    hit->u = hit->v = 0.0f;
    if (s->wnode_count == 0)
        return false;
    xs_ray_pre pre;
    xs_ray_prepare(*ro, *rd, &pre);
    uint32_t inst = UINT32_MAX; /* the instance whose space pre is in */
    xs_trace_count tc = {0u, 0u, 0u};
    xs_stack st;
    int sp = 0;
    uint32_t ref = s->wroot;
    for (;;) {
        bool descend = true;
        if ((ref & XS_STACK_INSTANCE) != 0u) { /* into an instance's object space */
            const uint32_t ii = ref & ~XS_STACK_INSTANCE;
            xs_vec3 o, d;
            xs_instance_ray(s, ii, *ro, *rd, motion, time, &o, &d);
            tc.insts++;
            const xs_mesh *m = &s->meshes[s->instances[ii].mesh];
            if (motion && m->motion != UINT32_MAX) { /* deforming within the shutter: its binary trees */
                if (xs_trace_blas(s, m, o, d, time, any_hit, ii, hit, c))
                    goto done;
                descend = false;
            } else {
                inst = ii;
                xs_ray_prepare(o, d, &pre);
                xs_stack_push(&st, &sp, XS_STACK_MARKER, -INFINITY);
                ref = m->wroot;
            }
        }
        if (descend) {
            const xs_wnode *n = &s->wnodes[ref];
            tc.nodes++;
            float ct[XS_WIDTH];
            const uint32_t mask = xs_wnode_enter(n, &pre, hit->t, ct);
            if (any_hit) {
                /* any hit: whether something blocks the ray does not depend on the
                 * order, and the ray is never shortened before that answer, so no
                 * sorting: leaves tested in slot order, the first inner child
                 * visited next, the other inner children stacked */
                uint32_t m = mask, next = XS_STACK_MARKER;
                while (m != 0u) {
                    const uint32_t slot = (uint32_t)xs_ctz(m);
                    m &= m - 1u;
                    if ((uint32_t)n->meta[slot] >> 6 == XS_WCHILD_LEAF) {
                        if (xs_trace_leaf_ref(s, &pre, XS_STACK_LEAF | ref << 2 | slot, inst, true, alpha, hit, &tc))
                            goto done;
                    } else if (next == XS_STACK_MARKER) {
                        next = xs_child_ref(n, ref, slot);
                    } else {
                        xs_stack_push(&st, &sp, xs_child_ref(n, ref, slot), ct[slot]);
                    }
                }
                if (next != XS_STACK_MARKER) {
                    ref = next;
                    continue;
                }
            } else if (mask != 0u && (mask & (mask - 1u)) == 0u) { /* one child entered: no ordering */
                const uint32_t slot = (uint32_t)xs_ctz(mask);
                if ((uint32_t)n->meta[slot] >> 6 != XS_WCHILD_LEAF) {
                    ref = xs_child_ref(n, ref, slot);
                    continue;
                }
                if (xs_trace_leaf_ref(s, &pre, XS_STACK_LEAF | ref << 2 | slot, inst, any_hit, alpha, hit, &tc))
                    goto done;
            } else if (mask != 0u) {
                /* nearest first; slots missed (INFINITY) go last */
                uint32_t order = 0x03020100u;
                xs_cswap(ct, &order, 0, 1);
                xs_cswap(ct, &order, 2, 3);
                xs_cswap(ct, &order, 0, 2);
                xs_cswap(ct, &order, 1, 3);
                xs_cswap(ct, &order, 1, 2);
                /* leaves nearer than the nearest inner child now, then that child;
                 * the rest, farthest first, onto the stack */
                int next = -1;
                for (int i = 0; i < XS_WIDTH; ++i) {
                    if (next >= 0 || !(ct[i] <= hit->t && ct[i] < INFINITY))
                        continue;
                    const uint32_t slot = (order >> (8 * i)) & 255u;
                    if ((uint32_t)n->meta[slot] >> 6 == XS_WCHILD_LEAF) {
                        if (xs_trace_leaf_ref(s, &pre, XS_STACK_LEAF | ref << 2 | slot, inst, any_hit, alpha, hit, &tc))
                            goto done; /* any hit: found (hit->tri is set) */
                    } else {
                        next = i;
                    }
                }
                if (next >= 0) {
                    for (int i = XS_WIDTH - 1; i > 0; --i)
                        if (i > next && ct[i] <= hit->t && ct[i] < INFINITY)
                            xs_stack_push(&st, &sp, xs_child_ref(n, ref, (order >> (8 * i)) & 255u), ct[i]);
                    ref = xs_child_ref(n, ref, (order >> (8 * next)) & 255u);
                    continue;
                }
            }
        }
        /* back up the stack: to the next node or instance still ahead */
        for (;;) {
            if (sp == 0)
                goto done;
            float t;
            ref = xs_stack_pop(&st, &sp, &t);
            if (ref == XS_STACK_MARKER) {
                xs_ray_prepare(*ro, *rd, &pre); /* back to world space (re-read, not kept) */
                inst = UINT32_MAX;
                continue;
            }
            if (!(t <= hit->t))
                continue;
            if ((ref & (XS_STACK_LEAF | XS_STACK_INSTANCE)) == XS_STACK_LEAF) {
                if (xs_trace_leaf_ref(s, &pre, ref, inst, any_hit, alpha, hit, &tc))
                    goto done;
                continue;
            }
            break;
        }
    }
done:
    c->node_visits += tc.nodes;
    c->tri_tests += tc.tris;
    c->inst_visits += tc.insts;
    return hit->tri != UINT32_MAX;
}

/* The walk, testing alpha masks where the scene has them. A GPU's trace
 * kernels call xs_trace_walk with alpha a constant instead: a scene without
 * masks gets a kernel without the texture lookup. */
XS_DEVICE bool xs_trace_from(const xs_scene_view *s, const xs_vec3 *XS_RESTRICT ro, const xs_vec3 *XS_RESTRICT rd,
                              float tmax, float time, bool any_hit, xs_hit *hit, xs_counters *c)
{
    return xs_trace_walk(s, ro, rd, tmax, any_hit, (s->flags & XS_VIEW_ALPHA) != 0u, s->motion_steps >= 2u, time,
                         hit, c);
}

/* The same for ray r. The origin and direction are read where they are, when
 * they are needed (a GPU re-reads them from memory rather than holding them
 * in registers for the whole walk). */
XS_DEVICE bool xs_trace(const xs_scene_view *s, const xs_ray *r, bool any_hit, xs_hit *hit, xs_counters *c)
{
    return xs_trace_from(s, &r->o, &r->d, r->tmax, r->time, any_hit, hit, c);
}

#endif
