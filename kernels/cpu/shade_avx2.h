/* Eight paths shaded at once, for the CPU's AVX2 build: the wavefront's
 * shade step (xs_wf_shade, xs_path_shade in kernels/xs_path.h) over eight
 * consecutive ray-queue entries, one AVX2 lane a path, for the hits the
 * Lambert base alone shades: a still, untransformed triangle without
 * vertex normals, a material with no texture, no emission, no metal, no
 * coating (IOR 1) and no transmission, and a light choice that is an
 * untextured emissive triangle of an untransformed instance. That is the
 * shading Mitsuba's vectorised back end is compared on (the built-in
 * Cornell box), and any diffuse wall of a scene. Every other entry, and
 * every entry of a frame with motion blur, goes through xs_wf_shade in its
 * place in the queue, so the queues, the shadow rays and the counters are
 * those of the one-path loop.
 *
 * Why the pixels do not change: each lane does xs_path_shade's IEEE
 * operations on its own values in the same order (no fused multiply-add,
 * correctly rounded division and square root, the same libm cosf and sinf
 * per lane), so each lane's results are the one-path code's bits; the
 * scalar code's branches become per-lane masks that pick the same values.
 * test_transport's isa_identical and lambert_lanes compare the two builds
 * bit for bit.
 *
 * Loads and stores: the path, triangle and material rows (16 bytes each)
 * are loaded lane by lane and transposed into one vector per field, and the
 * path's and shadow ray's rows are transposed back and stored whole, for
 * the lanes that go on and those with a shadow ray. A path that ends here
 * keeps its old throughput and pdf where the one-path code updates them
 * before ending it: nothing reads a finished path but its radiance. The
 * lanes taken are counted (xs_cpu_lanes_shaded8, kernel_cpu.h).
 */
#ifndef XS_SHADE_AVX2_H
#define XS_SHADE_AVX2_H

#include "kernels/cpu/packet_avx2.h"
#include "kernels/xs_wavefront.h"

/* Four fields of eight lanes: rows of four floats transposed. */
typedef struct xs_sh4 {
    __m256 x, y, z, w;
} xs_sh4;

/* Eight 16-byte rows (lane l's at r[l]) into one vector per column. */
XS_HOT xs_sh4 xs_sh_rows(const float *const *r)
{
    const __m256 t0 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(r[0])), _mm_loadu_ps(r[4]), 1);
    const __m256 t1 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(r[1])), _mm_loadu_ps(r[5]), 1);
    const __m256 t2 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(r[2])), _mm_loadu_ps(r[6]), 1);
    const __m256 t3 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(r[3])), _mm_loadu_ps(r[7]), 1);
    const __m256 a = _mm256_unpacklo_ps(t0, t1), b = _mm256_unpackhi_ps(t0, t1);
    const __m256 c = _mm256_unpacklo_ps(t2, t3), d = _mm256_unpackhi_ps(t2, t3);
    xs_sh4 o;
    o.x = _mm256_shuffle_ps(a, c, 0x44);
    o.y = _mm256_shuffle_ps(a, c, 0xEE);
    o.z = _mm256_shuffle_ps(b, d, 0x44);
    o.w = _mm256_shuffle_ps(b, d, 0xEE);
    return o;
}

/* The inverse: lane l's four columns as one row, stored at r[l] for the
 * lanes in bits m. */
XS_HOT void xs_sh_store_rows(xs_sh4 v, float *const *r, uint32_t m)
{
    const __m256 a = _mm256_unpacklo_ps(v.x, v.y), b = _mm256_unpackhi_ps(v.x, v.y);
    const __m256 c = _mm256_unpacklo_ps(v.z, v.w), d = _mm256_unpackhi_ps(v.z, v.w);
    const __m256 t[4] = {_mm256_shuffle_ps(a, c, 0x44), _mm256_shuffle_ps(a, c, 0xEE), _mm256_shuffle_ps(b, d, 0x44),
                         _mm256_shuffle_ps(b, d, 0xEE)};
    for (int l = 0; l < 4; ++l) {
        if ((m >> l) & 1u)
            _mm_storeu_ps(r[l], _mm256_castps256_ps128(t[l]));
        if ((m >> (l + 4)) & 1u)
            _mm_storeu_ps(r[l + 4], _mm256_extractf128_ps(t[l], 1));
    }
}

/* Three vectors: a vector of xs_vec3, one lane a path. */
typedef struct xs_v8 {
    __m256 x, y, z;
} xs_v8;

XS_HOT __m256 xs_v8_sel(__m256 a, __m256 b, __m256 m) { return _mm256_blendv_ps(a, b, m); } /* m ? b : a */
XS_HOT xs_v8 xs_v8_blend(xs_v8 a, xs_v8 b, __m256 m)
{
    xs_v8 r = {xs_v8_sel(a.x, b.x, m), xs_v8_sel(a.y, b.y, m), xs_v8_sel(a.z, b.z, m)};
    return r;
}
XS_HOT xs_v8 xs_v8_add(xs_v8 a, xs_v8 b)
{
    xs_v8 r = {_mm256_add_ps(a.x, b.x), _mm256_add_ps(a.y, b.y), _mm256_add_ps(a.z, b.z)};
    return r;
}
XS_HOT xs_v8 xs_v8_sub(xs_v8 a, xs_v8 b)
{
    xs_v8 r = {_mm256_sub_ps(a.x, b.x), _mm256_sub_ps(a.y, b.y), _mm256_sub_ps(a.z, b.z)};
    return r;
}
XS_HOT xs_v8 xs_v8_mul(xs_v8 a, xs_v8 b)
{
    xs_v8 r = {_mm256_mul_ps(a.x, b.x), _mm256_mul_ps(a.y, b.y), _mm256_mul_ps(a.z, b.z)};
    return r;
}
XS_HOT xs_v8 xs_v8_scale(xs_v8 a, __m256 s)
{
    xs_v8 r = {_mm256_mul_ps(a.x, s), _mm256_mul_ps(a.y, s), _mm256_mul_ps(a.z, s)};
    return r;
}
XS_HOT xs_v8 xs_v8_neg(xs_v8 a)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    xs_v8 r = {_mm256_xor_ps(a.x, sign), _mm256_xor_ps(a.y, sign), _mm256_xor_ps(a.z, sign)};
    return r;
}
/* ((a.x b.x + a.y b.y) + a.z b.z), as xs_dot */
XS_HOT __m256 xs_v8_dot(xs_v8 a, xs_v8 b)
{
    return _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(a.x, b.x), _mm256_mul_ps(a.y, b.y)), _mm256_mul_ps(a.z, b.z));
}
XS_HOT xs_v8 xs_v8_cross(xs_v8 a, xs_v8 b)
{
    xs_v8 r = {_mm256_sub_ps(_mm256_mul_ps(a.y, b.z), _mm256_mul_ps(a.z, b.y)),
               _mm256_sub_ps(_mm256_mul_ps(a.z, b.x), _mm256_mul_ps(a.x, b.z)),
               _mm256_sub_ps(_mm256_mul_ps(a.x, b.y), _mm256_mul_ps(a.y, b.x))};
    return r;
}
XS_HOT __m256 xs_v8_length(xs_v8 a) { return _mm256_sqrt_ps(xs_v8_dot(a, a)); }
/* l > 0 ? a * (1 / l) : a, as xs_normalize */
XS_HOT xs_v8 xs_v8_normalize(xs_v8 a)
{
    const __m256 l = xs_v8_length(a);
    const __m256 pos = _mm256_cmp_ps(l, _mm256_setzero_ps(), _CMP_GT_OQ);
    return xs_v8_blend(a, xs_v8_scale(a, _mm256_div_ps(_mm256_set1_ps(1.0f), l)), pos);
}
/* max(a.x, max(a.y, a.z)) with xs_maxf's a > b ? a : b (vmaxps's rule) */
XS_HOT __m256 xs_v8_max3(xs_v8 a) { return _mm256_max_ps(a.x, _mm256_max_ps(a.y, a.z)); }
XS_HOT __m256 xs_v8_abs(__m256 a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
/* xs_offset: p + n * (eps * (1 + max |p|)) */
XS_HOT xs_v8 xs_v8_offset(xs_v8 p, xs_v8 n, __m256 eps)
{
    const __m256 m = _mm256_max_ps(xs_v8_abs(p.x), _mm256_max_ps(xs_v8_abs(p.y), xs_v8_abs(p.z)));
    return xs_v8_add(p, xs_v8_scale(n, _mm256_mul_ps(eps, _mm256_add_ps(_mm256_set1_ps(1.0f), m))));
}
/* xs_power_heuristic */
XS_HOT __m256 xs_v8_power(__m256 a, __m256 b)
{
    const __m256 a2 = _mm256_mul_ps(a, a), b2 = _mm256_mul_ps(b, b), s = _mm256_add_ps(a2, b2);
    return _mm256_and_ps(_mm256_div_ps(a2, s), _mm256_cmp_ps(s, _mm256_setzero_ps(), _CMP_GT_OQ));
}
XS_HOT __m256 xs_v8_gt(__m256 a, __m256 b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }

/* Whether the hit at a lane's entry is one this file shades: *mat its
 * material. */
static inline bool xs_sh_surface(const xs_scene_view *s, const xs_tile_params *tp, const xs_path *p, const xs_hit *h,
                                 const xs_material **mat)
{
    if (h->tri == UINT32_MAX || (int)p->bounce >= tp->max_bounces)
        return false;
    const xs_instance *in = &s->instances[h->instance];
    if ((in->flags & (XS_INST_IDENTITY | XS_INST_MOTION)) != XS_INST_IDENTITY ||
        s->meshes[in->mesh].motion != UINT32_MAX)
        return false;
    const xs_tri_attr *at = &s->attrs[h->tri];
    if ((at->flags & XS_ATTR_NORMALS) != 0u)
        return false;
    *mat = &s->materials[at->material];
    return ((*mat)->flags & XS_MAT_LAMBERT) != 0u; /* xs_material_lambert, marked by the host */
}

/* Light li as xs_light_sample_at would sample it, for the lanes: taken
 * (an untextured emissive triangle of an untransformed instance: its row,
 * its material's emission, its probability, whether it emits from both
 * sides), none (probability 0: no shadow ray), or left to the one-path
 * code. Kept for the next lane that picks the same light. */
enum { XS_SH_LIGHT_ONE_PATH = 0, XS_SH_LIGHT_NONE = 1, XS_SH_LIGHT_TRI = 2 };
typedef struct xs_sh_light {
    uint32_t li, kind;
    const xs_wtri *tri;
    const float *emit;
    float pmf;
    bool two_sided;
} xs_sh_light;

static inline void xs_sh_light_of(const xs_scene_view *s, uint32_t li, xs_sh_light *o)
{
    const xs_light *L = &s->lights[li];
    o->li = li;
    o->pmf = s->light_pmf[li];
    o->kind = XS_SH_LIGHT_ONE_PATH;
    if (!(o->pmf > 0.0f)) {
        o->kind = XS_SH_LIGHT_NONE; /* xs_light_sample_at finds nothing */
        return;
    }
    if (L->type != XS_LIGHT_TRI)
        return;
    const xs_instance *in = &s->instances[L->instance];
    if ((in->flags & (XS_INST_IDENTITY | XS_INST_MOTION | XS_INST_FLIPPED)) != XS_INST_IDENTITY)
        return;
    const xs_material *lm = &s->materials[s->attrs[L->tri].material];
    if (lm->emit_tex.tex >= 0)
        return;
    o->kind = XS_SH_LIGHT_TRI;
    o->tri = &s->tris[L->tri];
    o->emit = &lm->emission.x;
    o->two_sided = (lm->flags & XS_MAT_EMIT_TWO_SIDED) != 0u;
}

/* Shades ray-queue q's entries [j, j + n) (n <= 8) of a frame without
 * motion blur, as xs_wf_shade does each in turn; returns how many it took
 * as lanes (the others went through xs_wf_shade). */
static uint32_t xs_sh_shade8(const xs_scene_view *s, const xs_tile_params *tp, const xs_wf *w, uint32_t q, uint32_t j,
                         uint32_t n, xs_counters *c)
{
    static const float zero_rows[4 * 4] XS_ALIGN(16) = {0};
    const bool mis = tp->mis == XS_MIS_ON, use_nee = tp->mis != XS_MIS_BSDF_ONLY;
    const uint32_t cap = w->capacity;
    uint32_t ok = 0u, nee = 0u, two = 0u, first = 0u, later = 0u, rr = 0u;
    const float *prow[8], *drow[8], *trow[8], *v0[8], *v1[8], *v2[8], *alb[8], *l0[8], *l1[8], *l2[8], *lem[8];
    float tt[8] XS_ALIGN(32), pmf[8] XS_ALIGN(32) = {0};
    uint32_t idx[8] XS_ALIGN(32) = {0}; /* the lanes' path indices */
    const xs_wtri *lt[8];
    const float *le_row[8];
    const xs_material *mt[8];
    bool ts[8];
    xs_sh_light light = {UINT32_MAX, XS_SH_LIGHT_ONE_PATH, NULL, NULL, 0.0f, false};
    for (uint32_t l = 0; l < n; ++l) {
        const uint32_t i = w->queue[q][j + l];
        if (!xs_sh_surface(s, tp, &w->path[i], &w->hit[i], &mt[l]))
            continue;
        lt[l] = NULL;
        if (use_nee && s->light_count > 0u) { /* else xs_light_sample_at finds nothing */
            const uint32_t li = xs_cdf_find(s->light_cdf, s->light_count, w->u[(size_t)j + l]);
            if (li != light.li)
                xs_sh_light_of(s, li, &light);
            if (light.kind == XS_SH_LIGHT_ONE_PATH)
                continue;
            if (light.kind == XS_SH_LIGHT_TRI) {
                lt[l] = light.tri, le_row[l] = light.emit, pmf[l] = light.pmf, ts[l] = light.two_sided;
            }
        }
        ok |= 1u << l;
    }
    if (ok == 0u) { /* nothing here for the lanes: the one-path code, in order */
        for (uint32_t l = 0; l < n; ++l) {
            float u[XS_BOUNCE_SAMPLES];
            xs_wf_samples_at(w, j + l, u);
            xs_wf_shade(s, tp, 0u, w, q, j + l, u, c);
        }
        return 0u;
    }
    for (uint32_t l = 0; l < 8; ++l) {
        if (((ok >> l) & 1u) == 0u) {
            /* a lane left to the one-path code: zeros, never stored */
            prow[l] = drow[l] = trow[l] = v0[l] = v1[l] = v2[l] = alb[l] = l0[l] = l1[l] = l2[l] = lem[l] = zero_rows;
            tt[l] = pmf[l] = 0.0f;
            continue;
        }
        const uint32_t i = w->queue[q][j + l];
        const xs_path *p = &w->path[i];
        const xs_hit *h = &w->hit[i];
        idx[l] = i;
        prow[l] = &p->o.x, drow[l] = &p->d.x, trow[l] = &p->T.x;
        const xs_wtri *t = &s->tris[h->tri];
        v0[l] = t->v0, v1[l] = t->v1, v2[l] = t->v2;
        alb[l] = &mt[l]->albedo.x;
        tt[l] = h->t;
        if (p->bounce == 0u)
            first |= 1u << l;
        else
            later |= 1u << l;
        if ((int)p->bounce + 1 >= tp->rr_start)
            rr |= 1u << l;
        if (lt[l]) {
            nee |= 1u << l;
            l0[l] = lt[l]->v0, l1[l] = lt[l]->v1, l2[l] = lt[l]->v2;
            lem[l] = le_row[l];
            if (ts[l])
                two |= 1u << l;
        } else {
            l0[l] = l1[l] = l2[l] = lem[l] = zero_rows;
        }
    }
    /* the one-path code for every entry but the lanes taken here, in queue
     * order, so each queue comes out in the same order */
    float ns_out[3][8] XS_ALIGN(32);
    xs_sh4 newp[3], shv[3]; /* the paths' rows and the shadow rays' rows */
    newp[0].x = newp[0].y = newp[0].z = newp[0].w = _mm256_setzero_ps();
    newp[1] = newp[2] = shv[0] = shv[1] = shv[2] = newp[0];
    uint32_t alive = 0u;
    if (ok != 0u) {
        const xs_sh4 po = xs_sh_rows(prow), pd = xs_sh_rows(drow), pt = xs_sh_rows(trow);
        const xs_sh4 tv0 = xs_sh_rows(v0), tv1 = xs_sh_rows(v1), tv2 = xs_sh_rows(v2), al = xs_sh_rows(alb);
        const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
        const __m256 t = _mm256_load_ps(tt);
        const xs_v8 o = {po.x, po.y, po.z}, d = {pd.x, pd.y, pd.z}, T = {pt.x, pt.y, pt.z};
        const __m256 cone_w = pd.w, cone_s = pt.w;
        const float *uj = w->u + j;
        const __m256 u_rr = _mm256_loadu_ps(uj + (size_t)1 * cap), ul1 = _mm256_loadu_ps(uj + (size_t)2 * cap),
                     ul2 = _mm256_loadu_ps(uj + (size_t)3 * cap), ub1 = _mm256_loadu_ps(uj + (size_t)4 * cap),
                     ub2 = _mm256_loadu_ps(uj + (size_t)5 * cap);
        /* xs_surface_at */
        const xs_v8 a = {tv0.x, tv0.y, tv0.z};
        const xs_v8 e1 = xs_v8_sub((xs_v8){tv1.x, tv1.y, tv1.z}, a), e2 = xs_v8_sub((xs_v8){tv2.x, tv2.y, tv2.z}, a);
        const xs_v8 P = xs_v8_add(o, xs_v8_scale(d, t));
        xs_v8 ng = xs_v8_normalize(xs_v8_cross(e1, e2));
        const __m256 front = _mm256_cmp_ps(xs_v8_dot(ng, d), zero, _CMP_LT_OQ);
        ng = xs_v8_blend(xs_v8_neg(ng), ng, front);
        /* no vertex normals: the shading normal is ng (whose side faces d,
         * so xs_surface_at's fall-back to ng changes nothing) */
        const xs_v8 ns = ng;
        /* xs_onb */
        const __m256 sign = _mm256_blendv_ps(_mm256_set1_ps(-1.0f), one, _mm256_cmp_ps(ns.z, zero, _CMP_GE_OQ));
        const __m256 oa = _mm256_div_ps(_mm256_set1_ps(-1.0f), _mm256_add_ps(sign, ns.z));
        const __m256 oc = _mm256_mul_ps(_mm256_mul_ps(ns.x, ns.y), oa);
        const xs_v8 tx = {_mm256_add_ps(one, _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(sign, ns.x), ns.x), oa)),
                          _mm256_mul_ps(sign, oc), _mm256_mul_ps(_mm256_xor_ps(sign, _mm256_set1_ps(-0.0f)), ns.x)};
        const xs_v8 ty = {oc, _mm256_add_ps(sign, _mm256_mul_ps(_mm256_mul_ps(ns.y, ns.y), oa)),
                          _mm256_xor_ps(ns.y, _mm256_set1_ps(-0.0f))};
        const xs_v8 base = {al.x, al.y, al.z};
        /* wo in the shading frame */
        const xs_v8 nd = xs_v8_neg(d);
        const xs_v8 wo = {xs_v8_dot(nd, tx), xs_v8_dot(nd, ty), xs_v8_dot(nd, ns)};
        /* not (wo.z <= 0): xs_bsdf_eval's and xs_bsdf_sample's test */
        const __m256 wo_up = _mm256_cmp_ps(wo.z, zero, _CMP_NLE_UQ);
        const __m256 inv_pi = _mm256_set1_ps(XS_INV_PI), eps = _mm256_set1_ps(s->ray_eps);
        const __m256 mlater = xs_pk_mask(later);
        /* next-event estimation: xs_light_sample_at's triangle */
        if (nee != 0u) {
            const xs_sh4 lv0 = xs_sh_rows(l0), lv1 = xs_sh_rows(l1), lv2 = xs_sh_rows(l2), le = xs_sh_rows(lem);
            const xs_v8 la = {lv0.x, lv0.y, lv0.z};
            const xs_v8 le1 = xs_v8_sub((xs_v8){lv1.x, lv1.y, lv1.z}, la),
                        le2 = xs_v8_sub((xs_v8){lv2.x, lv2.y, lv2.z}, la);
            const __m256 su = _mm256_sqrt_ps(ul1);
            const __m256 b1 = _mm256_sub_ps(one, su), b2 = _mm256_mul_ps(ul2, su);
            const xs_v8 lp = xs_v8_add(la, xs_v8_add(xs_v8_scale(le1, b1), xs_v8_scale(le2, b2)));
            const xs_v8 lng = xs_v8_cross(le1, le2);
            const __m256 area2 = xs_v8_length(lng);
            __m256 ls_ok = _mm256_and_ps(xs_pk_mask(nee), xs_v8_gt(area2, zero));
            const xs_v8 ln = xs_v8_scale(lng, _mm256_div_ps(one, area2));
            const xs_v8 dv = xs_v8_sub(lp, P);
            const __m256 dist2 = xs_v8_dot(dv, dv);
            ls_ok = _mm256_and_ps(ls_ok, xs_v8_gt(dist2, zero));
            const __m256 dist = _mm256_sqrt_ps(dist2);
            const xs_v8 wi = xs_v8_scale(dv, _mm256_div_ps(one, dist));
            __m256 cos_l = _mm256_xor_ps(xs_v8_dot(ln, wi), _mm256_set1_ps(-0.0f));
            cos_l = _mm256_blendv_ps(cos_l, xs_v8_abs(cos_l), xs_pk_mask(two));
            ls_ok = _mm256_andnot_ps(_mm256_cmp_ps(cos_l, zero, _CMP_LE_OQ), ls_ok);
            const xs_v8 Le = {le.x, le.y, le.z};
            const __m256 lpdf = _mm256_div_ps(_mm256_mul_ps(_mm256_load_ps(pmf), dist2),
                                              _mm256_mul_ps(_mm256_mul_ps(cos_l, _mm256_set1_ps(0.5f)), area2));
            /* the Lambert lobe at wi (xs_bsdf_eval) */
            const xs_v8 wl = {xs_v8_dot(wi, tx), xs_v8_dot(wi, ty), xs_v8_dot(wi, ns)};
            const __m256 gside = xs_v8_dot(wi, ng);
            const __m256 lit = _mm256_and_ps(wo_up, xs_v8_gt(wl.z, zero));
            const __m256 pdf_b = _mm256_and_ps(_mm256_mul_ps(_mm256_mul_ps(one, wl.z), inv_pi), lit);
            const xs_v8 f = xs_v8_scale(base, _mm256_and_ps(_mm256_mul_ps(wl.z, inv_pi), lit));
            const __m256 gup = xs_v8_gt(gside, zero);
            const __m256 side = _mm256_xor_ps(_mm256_xor_ps(xs_v8_gt(wl.z, zero), gup), _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
            __m256 take = _mm256_and_ps(ls_ok, side);
            take = _mm256_and_ps(take, xs_v8_gt(xs_v8_max3(f), zero));
            take = _mm256_and_ps(take, xs_v8_gt(xs_v8_max3(Le), zero));
            const __m256 wgt = mis ? xs_v8_power(lpdf, pdf_b) : one;
            xs_v8 dc = xs_v8_scale(xs_v8_mul(T, xs_v8_mul(f, Le)), _mm256_div_ps(wgt, lpdf));
            if (tp->clamp > 0.0f) {
                const __m256 cl = _mm256_set1_ps(tp->clamp), mx = xs_v8_max3(dc);
                const __m256 over = _mm256_and_ps(mlater, xs_v8_gt(mx, cl));
                dc = xs_v8_blend(dc, xs_v8_scale(dc, _mm256_div_ps(cl, mx)), over);
            }
            const xs_v8 so = xs_v8_offset(P, xs_v8_blend(xs_v8_neg(ng), ng, gup), eps);
            __m256 tmax = _mm256_mul_ps(xs_v8_length(xs_v8_sub(xs_v8_add(P, xs_v8_scale(wi, dist)), so)),
                                        _mm256_set1_ps(1.0f - 1e-4f));
            tmax = _mm256_blendv_ps(tmax, dist, _mm256_cmp_ps(dist, _mm256_set1_ps(INFINITY), _CMP_EQ_OQ));
            nee = (uint32_t)_mm256_movemask_ps(take);
            shv[0] = (xs_sh4){so.x, so.y, so.z, tmax};
            shv[1] = (xs_sh4){wi.x, wi.y, wi.z, _mm256_castsi256_ps(_mm256_load_si256((const __m256i *)(const void *)idx))};
            shv[2] = (xs_sh4){dc.x, dc.y, dc.z, _mm256_castsi256_ps(_mm256_set1_epi32(1))};
        }
        /* BSDF sampling: the Lambert lobe (xs_bsdf_sample) */
        const __m256 r = _mm256_sqrt_ps(ub1);
        const __m256 phi = _mm256_mul_ps(_mm256_set1_ps(2.0f * XS_PI), ub2);
        float ph[8] XS_ALIGN(32), cs[8] XS_ALIGN(32), sn[8] XS_ALIGN(32);
        _mm256_store_ps(ph, phi);
        for (int l = 0; l < 8; ++l) {
            cs[l] = ((ok >> l) & 1u) ? cosf(ph[l]) : 0.0f;
            sn[l] = ((ok >> l) & 1u) ? sinf(ph[l]) : 0.0f;
        }
        const xs_v8 wl = {_mm256_mul_ps(r, _mm256_load_ps(cs)), _mm256_mul_ps(r, _mm256_load_ps(sn)),
                          _mm256_sqrt_ps(_mm256_max_ps(zero, _mm256_sub_ps(one, ub1)))};
        /* not (wo.z <= 0), then wi.z > 0, then pdf > 0 */
        __m256 go = _mm256_and_ps(wo_up, xs_pk_mask(ok));
        const __m256 up = xs_v8_gt(wl.z, zero);
        go = _mm256_and_ps(go, up);
        const __m256 pdf = _mm256_and_ps(_mm256_mul_ps(_mm256_mul_ps(one, wl.z), inv_pi), _mm256_and_ps(wo_up, up));
        const xs_v8 fb = xs_v8_scale(base, _mm256_and_ps(_mm256_mul_ps(wl.z, inv_pi), _mm256_and_ps(wo_up, up)));
        go = _mm256_and_ps(go, xs_v8_gt(pdf, zero));
        const xs_v8 weight = xs_v8_scale(fb, _mm256_div_ps(one, pdf));
        const xs_v8 wi = xs_v8_add(xs_v8_add(xs_v8_scale(tx, wl.x), xs_v8_scale(ty, wl.y)), xs_v8_scale(ns, wl.z));
        const __m256 gside = xs_v8_dot(wi, ng);
        const __m256 gup = xs_v8_gt(gside, zero);
        go = _mm256_andnot_ps(_mm256_xor_ps(up, gup), go);
        xs_v8 T2 = xs_v8_mul(T, weight);
        /* Russian roulette */
        const __m256 mrr = xs_pk_mask(rr);
        const __m256 qq = _mm256_min_ps(_mm256_set1_ps(0.95f), xs_v8_max3(T2));
        go = _mm256_andnot_ps(_mm256_andnot_ps(_mm256_cmp_ps(u_rr, qq, _CMP_LT_OQ), mrr), go);
        T2 = xs_v8_blend(T2, xs_v8_scale(T2, _mm256_div_ps(one, qq)), mrr);
        const __m256 cw2 = _mm256_add_ps(cone_w, _mm256_mul_ps(cone_s, t));
        const __m256 cs2 = _mm256_add_ps(cone_s, _mm256_set1_ps(0.5f));
        const xs_v8 no = xs_v8_offset(P, xs_v8_blend(xs_v8_neg(ng), ng, gup), eps);
        const xs_v8 nd2 = xs_v8_normalize(wi);
        alive = (uint32_t)_mm256_movemask_ps(go);
        newp[0] = (xs_sh4){no.x, no.y, no.z, pdf};
        newp[1] = (xs_sh4){nd2.x, nd2.y, nd2.z, cw2};
        newp[2] = (xs_sh4){T2.x, T2.y, T2.z, cs2};
        _mm256_store_ps(ns_out[0], ns.x), _mm256_store_ps(ns_out[1], ns.y), _mm256_store_ps(ns_out[2], ns.z);
    }
    c->shade_events += (uint64_t)__builtin_popcount(ok);
    /* write back in queue order */
    float *rows[3][8] = {{NULL}}, *srows[3][8] = {{NULL}};
    for (uint32_t l = 0; l < n; ++l) {
        const uint32_t i = w->queue[q][j + l];
        if (((ok >> l) & 1u) == 0u) {
            float u[XS_BOUNCE_SAMPLES];
            xs_wf_samples_at(w, j + l, u);
            xs_wf_shade(s, tp, 0u, w, q, j + l, u, c);
            continue;
        }
        xs_path *p = &w->path[i];
        if ((first >> l) & 1u) {
            const xs_material *m = &s->materials[s->attrs[w->hit[i].tri].material];
            xs_first_hit *fh = &w->first[i];
            fh->alpha = 1.0f;
            fh->albedo[0] = m->albedo.x, fh->albedo[1] = m->albedo.y, fh->albedo[2] = m->albedo.z;
            fh->normal[0] = ns_out[0][l], fh->normal[1] = ns_out[1][l], fh->normal[2] = ns_out[2][l];
            fh->depth = w->hit[i].t * xs_dot(p->d, s->camera.fwd);
        }
        if ((nee >> l) & 1u) { /* its shadow ray's place: (o, tmax), (d, path), (contrib, valid 1) */
            xs_shadow *sh = &w->shadow[w->count[2]++];
            srows[0][l] = &sh->o.x, srows[1][l] = &sh->d.x, srows[2][l] = &sh->contrib.x;
        }
        if ((alive >> l) & 1u) {
            p->bounce++;
            w->queue[q ^ 1u][xs_wf_push(&w->count[q ^ 1u])] = i;
        }
        rows[0][l] = &p->o.x, rows[1][l] = &p->d.x, rows[2][l] = &p->T.x;
    }
    /* the paths that go on: origin and pdf, direction and cone width,
     * throughput and cone spread, stored whole (after the loop above read
     * the directions it needed) */
    if (alive != 0u)
        for (int k = 0; k < 3; ++k)
            xs_sh_store_rows(newp[k], rows[k], alive);
    if (nee != 0u)
        for (int k = 0; k < 3; ++k)
            xs_sh_store_rows(shv[k], srows[k], nee);
    return (uint32_t)__builtin_popcount(ok);
}

#endif
