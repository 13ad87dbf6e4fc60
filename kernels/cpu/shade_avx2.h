/* Eight paths shaded at once, for the CPU's AVX2 build: the wavefront's
 * shade step (xs_wf_shade, xs_path_shade in kernels/xs_path.h) over eight
 * consecutive ray-queue entries, one AVX2 lane a path, for the hits of
 * untextured opaque materials: the Lambert base alone (XS_MAT_LAMBERT: no
 * metal, IOR 1) or the GGX lobes over it (XS_MAT_GGX: metal and dielectric
 * coating, no transmission), neither emissive nor a solid, on a triangle of
 * a still instance (transformed or not; vertex normals or flat), with a light
 * choice of any kind (an untextured emissive triangle of a still instance,
 * transformed or mirrored, in the lanes; any other light sampled lane by
 * lane by xs_light_sample_at itself), or none. That covers the Cornell box Mitsuba's
 * vectorised back end is compared on and the untextured glTF materials
 * (whose default IOR 1.5 is a coat). Every other entry (textures,
 * emission, transmission, a deforming mesh), and every entry of a frame
 * with motion blur,
 * goes through xs_wf_shade in its place in the queue, so the queues, the
 * shadow rays and the counters are those of the one-path loop.
 *
 * Why the pixels do not change: each lane does xs_path_shade's IEEE
 * operations on its own values in the same order (no fused multiply-add,
 * correctly rounded division and square root, the same libm cosf and sinf
 * per lane), so each lane's results are the one-path code's bits; the
 * scalar code's branches become per-lane masks that pick the same values.
 * test_transport's isa_identical, lambert_lanes and ggx_lanes compare the
 * two builds bit for bit.
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

/* xs_oct_decode of eight codes. */
XS_HOT xs_v8 xs_v8_oct_decode(__m256i e)
{
    const __m256 k = _mm256_set1_ps(2.0f / 65535.0f), one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    const __m256i lo = _mm256_and_si256(e, _mm256_set1_epi32(0xFFFF)), hi = _mm256_srli_epi32(e, 16);
    __m256 x = _mm256_sub_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(lo), k), one);
    __m256 y = _mm256_sub_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(hi), k), one);
    const __m256 ax = xs_v8_abs(x), ay = xs_v8_abs(y);
    const __m256 z = _mm256_sub_ps(_mm256_sub_ps(one, ax), ay);
    const __m256 under = _mm256_cmp_ps(z, zero, _CMP_LT_OQ);
    /* xs_sign_nz: v >= 0 ? 1 : -1 */
    const __m256 sx = _mm256_blendv_ps(_mm256_set1_ps(-1.0f), one, _mm256_cmp_ps(x, zero, _CMP_GE_OQ));
    const __m256 sy = _mm256_blendv_ps(_mm256_set1_ps(-1.0f), one, _mm256_cmp_ps(y, zero, _CMP_GE_OQ));
    const __m256 ox = _mm256_mul_ps(_mm256_sub_ps(one, ay), sx), oy = _mm256_mul_ps(_mm256_sub_ps(one, ax), sy);
    x = _mm256_blendv_ps(x, ox, under);
    y = _mm256_blendv_ps(y, oy, under);
    return xs_v8_normalize((xs_v8){x, y, z});
}

/* xs_table_lookup of eight (cos_o, alpha). Indices are kept in the table
 * (a lane left to the one-path code may hold anything). */
XS_HOT __m256 xs_v8_table(const float *t, __m256 cos_o, __m256 alpha)
{
    const int n = XS_GGX_TABLE_N;
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps(), nm1 = _mm256_set1_ps((float)(n - 1));
    const __m256 x = _mm256_mul_ps(_mm256_max_ps(zero, _mm256_min_ps(one, cos_o)), nm1);
    const __m256 y = _mm256_mul_ps(_mm256_max_ps(zero, _mm256_min_ps(one, _mm256_sqrt_ps(alpha))), nm1);
    const __m256i top = _mm256_set1_epi32(n - 2), none = _mm256_setzero_si256();
    const __m256i x0 = _mm256_max_epi32(none, _mm256_min_epi32(_mm256_cvttps_epi32(x), top));
    const __m256i y0 = _mm256_max_epi32(none, _mm256_min_epi32(_mm256_cvttps_epi32(y), top));
    const __m256 fx = _mm256_sub_ps(x, _mm256_cvtepi32_ps(x0)), fy = _mm256_sub_ps(y, _mm256_cvtepi32_ps(y0));
    const __m256i i00 = _mm256_add_epi32(_mm256_mullo_epi32(y0, _mm256_set1_epi32(n)), x0);
    const __m256i i10 = _mm256_add_epi32(i00, _mm256_set1_epi32(n));
    const __m256 r00 = _mm256_i32gather_ps(t, i00, 4), r01 = _mm256_i32gather_ps(t + 1, i00, 4);
    const __m256 r10 = _mm256_i32gather_ps(t, i10, 4), r11 = _mm256_i32gather_ps(t + 1, i10, 4);
    const __m256 gx = _mm256_sub_ps(one, fx);
    return _mm256_add_ps(_mm256_mul_ps(_mm256_add_ps(_mm256_mul_ps(r00, gx), _mm256_mul_ps(r01, fx)), _mm256_sub_ps(one, fy)),
                         _mm256_mul_ps(_mm256_add_ps(_mm256_mul_ps(r10, gx), _mm256_mul_ps(r11, fx)), fy));
}

/* xs_luminance */
XS_HOT __m256 xs_v8_lum(xs_v8 c)
{
    return _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(0.2126f), c.x), _mm256_mul_ps(_mm256_set1_ps(0.7152f), c.y)),
                         _mm256_mul_ps(_mm256_set1_ps(0.0722f), c.z));
}

/* xs_ggx_d */
XS_HOT __m256 xs_v8_ggx_d(__m256 alpha, __m256 cos_h)
{
    const __m256 a2 = _mm256_mul_ps(alpha, alpha), c2 = _mm256_mul_ps(cos_h, cos_h);
    const __m256 d = _mm256_add_ps(_mm256_mul_ps(c2, _mm256_sub_ps(a2, _mm256_set1_ps(1.0f))), _mm256_set1_ps(1.0f));
    return _mm256_div_ps(a2, _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(XS_PI), d), d));
}

/* xs_ggx_lambda */
XS_HOT __m256 xs_v8_lambda(__m256 alpha, __m256 cos_t)
{
    const __m256 one = _mm256_set1_ps(1.0f), c2 = _mm256_mul_ps(cos_t, cos_t);
    const __m256 tan2 = _mm256_div_ps(_mm256_sub_ps(one, c2), _mm256_max_ps(c2, _mm256_set1_ps(1e-12f)));
    const __m256 l = _mm256_mul_ps(_mm256_set1_ps(0.5f),
                                   _mm256_add_ps(_mm256_set1_ps(-1.0f),
                                                 _mm256_sqrt_ps(_mm256_add_ps(one, _mm256_mul_ps(_mm256_mul_ps(alpha, alpha), tan2)))));
    return _mm256_andnot_ps(_mm256_cmp_ps(c2, one, _CMP_GE_OQ), l);
}

/* An xs_bsdf of eight lanes: the Lambert base alone (lanes not in ggx) or
 * the GGX lobes over it (xs_bsdf_prepare's general case, no transmission,
 * no solid boundary). */
typedef struct xs_sh_bsdf {
    xs_v8 base, spec_scale;
    __m256 metallic, alpha, f0, transmission;
    __m256 w_spec, w_diff, w_trans, coat, diel_comp, base_weight;
    __m256 ggx; /* lanes with the GGX lobes */
} xs_sh_bsdf;

/* xs_bsdf_prepare for wo.z (its general case; the Lambert lanes' weights
 * are 0, 1, 0, as it sets them). */
XS_HOT void xs_sh_prepare(xs_sh_bsdf *b, const float *tables, __m256 woz)
{
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    const __m256 mu = _mm256_max_ps(_mm256_set1_ps(1e-4f), woz);
    const __m256 e = _mm256_max_ps(_mm256_set1_ps(1e-3f), xs_v8_table(tables, mu, b->alpha));
    const __m256 ew = xs_v8_table(tables + XS_GGX_TABLE_N * XS_GGX_TABLE_N, mu, b->alpha);
    const __m256 k = _mm256_div_ps(_mm256_sub_ps(one, e), e), eew = _mm256_sub_ps(e, ew);
    b->spec_scale = (xs_v8){_mm256_add_ps(one, _mm256_mul_ps(b->base.x, k)), _mm256_add_ps(one, _mm256_mul_ps(b->base.y, k)),
                            _mm256_add_ps(one, _mm256_mul_ps(b->base.z, k))};
    b->diel_comp = _mm256_and_ps(_mm256_add_ps(one, _mm256_mul_ps(b->f0, k)), xs_v8_gt(b->f0, zero));
    const __m256 e_diel = _mm256_min_ps(one, _mm256_mul_ps(_mm256_add_ps(_mm256_mul_ps(b->f0, eew), ew), b->diel_comp));
    b->base_weight = _mm256_sub_ps(one, e_diel);
    const xs_v8 e_metal = {_mm256_mul_ps(_mm256_add_ps(_mm256_mul_ps(b->base.x, eew), ew), b->spec_scale.x),
                           _mm256_mul_ps(_mm256_add_ps(_mm256_mul_ps(b->base.y, eew), ew), b->spec_scale.y),
                           _mm256_mul_ps(_mm256_add_ps(_mm256_mul_ps(b->base.z, eew), ew), b->spec_scale.z)};
    const __m256 lb = _mm256_max_ps(zero, xs_v8_lum(b->base));
    const __m256 om = _mm256_sub_ps(one, b->metallic), omb = _mm256_mul_ps(om, b->base_weight);
    const __m256 wd = _mm256_mul_ps(_mm256_mul_ps(omb, _mm256_sub_ps(one, b->transmission)), lb);
    b->coat = om; /* no solid boundary: 1 - metallic */
    const __m256 wt = _mm256_mul_ps(_mm256_mul_ps(omb, b->transmission), lb);
    const __m256 ws = _mm256_add_ps(_mm256_mul_ps(b->metallic, xs_v8_lum(e_metal)), _mm256_mul_ps(b->coat, e_diel));
    const __m256 sum = _mm256_add_ps(_mm256_add_ps(ws, wd), wt), pos = xs_v8_gt(sum, zero);
    b->w_spec = _mm256_blendv_ps(zero, _mm256_and_ps(_mm256_div_ps(ws, sum), pos), b->ggx);
    b->w_diff = _mm256_blendv_ps(one, _mm256_and_ps(_mm256_div_ps(wd, sum), pos), b->ggx);
    b->w_trans = _mm256_blendv_ps(zero, _mm256_and_ps(_mm256_div_ps(wt, sum), pos), b->ggx);
}

/* xs_bsdf_eval: f |cos(wi)| and the pdf of wi (wo_ok: not wo.z <= 0). */
XS_HOT xs_v8 xs_sh_eval(const xs_sh_bsdf *b, xs_v8 wo, __m256 wo_ok, xs_v8 wi, __m256 *pdf)
{
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps(), inv_pi = _mm256_set1_ps(XS_INV_PI);
    const __m256 up = _mm256_and_ps(wo_ok, xs_v8_gt(wi.z, zero));
    /* the Lambert base alone */
    __m256 p = _mm256_and_ps(_mm256_mul_ps(_mm256_mul_ps(b->w_diff, wi.z), inv_pi), up);
    xs_v8 f = xs_v8_scale(b->base, _mm256_and_ps(_mm256_mul_ps(wi.z, inv_pi), up));
    if (_mm256_movemask_ps(_mm256_and_ps(b->ggx, up)) != 0) {
        /* xs_ggx_reflect_eval */
        const xs_v8 hs = xs_v8_add(wo, wi);
        const __m256 hl = xs_v8_length(hs);
        const __m256 ok = _mm256_and_ps(up, xs_v8_gt(hl, zero));
        const xs_v8 h = xs_v8_scale(hs, _mm256_div_ps(one, hl));
        const __m256 d = xs_v8_ggx_d(b->alpha, h.z);
        const __m256 lo = xs_v8_lambda(b->alpha, wo.z), li = xs_v8_lambda(b->alpha, wi.z);
        const __m256 g1 = _mm256_div_ps(one, _mm256_add_ps(one, lo));
        const __m256 g2 = _mm256_div_ps(one, _mm256_add_ps(_mm256_add_ps(one, lo), li));
        const __m256 four_o = _mm256_mul_ps(_mm256_set1_ps(4.0f), wo.z);
        const __m256 rp = _mm256_and_ps(_mm256_div_ps(_mm256_mul_ps(g1, d), four_o), ok);
        const __m256 coh = _mm256_and_ps(_mm256_max_ps(zero, xs_v8_dot(wo, h)), ok);
        const __m256 g = _mm256_and_ps(_mm256_div_ps(_mm256_mul_ps(d, g2), four_o), ok);
        /* xs_bsdf_spec_color */
        const __m256 m = _mm256_max_ps(zero, _mm256_min_ps(one, _mm256_sub_ps(one, coh)));
        const __m256 m2 = _mm256_mul_ps(m, m), sw = _mm256_mul_ps(_mm256_mul_ps(m2, m2), m);
        const xs_v8 fm = {_mm256_mul_ps(_mm256_add_ps(b->base.x, _mm256_mul_ps(_mm256_sub_ps(one, b->base.x), sw)), b->spec_scale.x),
                          _mm256_mul_ps(_mm256_add_ps(b->base.y, _mm256_mul_ps(_mm256_sub_ps(one, b->base.y), sw)), b->spec_scale.y),
                          _mm256_mul_ps(_mm256_add_ps(b->base.z, _mm256_mul_ps(_mm256_sub_ps(one, b->base.z), sw)), b->spec_scale.z)};
        const __m256 fd = _mm256_mul_ps(_mm256_add_ps(b->f0, _mm256_mul_ps(_mm256_sub_ps(one, b->f0), sw)), b->diel_comp);
        const __m256 cfd = _mm256_mul_ps(b->coat, fd);
        const xs_v8 sc = {_mm256_add_ps(_mm256_mul_ps(fm.x, b->metallic), cfd), _mm256_add_ps(_mm256_mul_ps(fm.y, b->metallic), cfd),
                          _mm256_add_ps(_mm256_mul_ps(fm.z, b->metallic), cfd)};
        xs_v8 fg = xs_v8_scale(sc, g);
        __m256 pg = _mm256_mul_ps(b->w_spec, rp);
        const __m256 kd = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(one, b->metallic), b->base_weight),
                                        _mm256_sub_ps(one, b->transmission));
        fg = xs_v8_add(fg, xs_v8_scale(b->base, _mm256_mul_ps(_mm256_mul_ps(kd, wi.z), inv_pi)));
        pg = _mm256_add_ps(pg, _mm256_mul_ps(_mm256_mul_ps(b->w_diff, wi.z), inv_pi));
        /* (wi below the surface: no lobe without transmission, 0 as for
         * the Lambert lanes) */
        const __m256 take = _mm256_and_ps(b->ggx, up);
        f = xs_v8_blend(f, fg, take);
        p = _mm256_blendv_ps(p, pg, take);
    }
    *pdf = p;
    return f;
}

/* xs_ggx_sample_vndf with r = sqrt(u1) and (cos, sin) of 2 pi u2. */
XS_HOT xs_v8 xs_sh_vndf(__m256 alpha, xs_v8 wo, __m256 r, __m256 cs, __m256 sn)
{
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    const xs_v8 vh = xs_v8_normalize((xs_v8){_mm256_mul_ps(alpha, wo.x), _mm256_mul_ps(alpha, wo.y), wo.z});
    const __m256 len2 = _mm256_add_ps(_mm256_mul_ps(vh.x, vh.x), _mm256_mul_ps(vh.y, vh.y));
    const __m256 k = _mm256_div_ps(one, _mm256_sqrt_ps(len2)), has = xs_v8_gt(len2, zero);
    const xs_v8 t1 = {_mm256_blendv_ps(one, _mm256_mul_ps(_mm256_xor_ps(vh.y, _mm256_set1_ps(-0.0f)), k), has),
                      _mm256_blendv_ps(zero, _mm256_mul_ps(vh.x, k), has), _mm256_blendv_ps(zero, _mm256_mul_ps(zero, k), has)};
    const xs_v8 t2 = xs_v8_cross(vh, t1);
    const __m256 p1 = _mm256_mul_ps(r, cs);
    __m256 p2 = _mm256_mul_ps(r, sn);
    const __m256 sv = _mm256_mul_ps(_mm256_set1_ps(0.5f), _mm256_add_ps(one, vh.z));
    const __m256 q1 = _mm256_sub_ps(one, _mm256_mul_ps(p1, p1));
    p2 = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(one, sv), _mm256_sqrt_ps(_mm256_max_ps(zero, q1))), _mm256_mul_ps(sv, p2));
    const __m256 q2 = _mm256_sqrt_ps(_mm256_max_ps(zero, _mm256_sub_ps(q1, _mm256_mul_ps(p2, p2))));
    const xs_v8 nh = xs_v8_add(xs_v8_add(xs_v8_scale(t1, p1), xs_v8_scale(t2, p2)), xs_v8_scale(vh, q2));
    return xs_v8_normalize((xs_v8){_mm256_mul_ps(alpha, nh.x), _mm256_mul_ps(alpha, nh.y),
                                   _mm256_max_ps(_mm256_set1_ps(1e-7f), nh.z)});
}

/* Whether the hit at a lane's entry is one this file shades (a still
 * instance, a mesh that does not deform): *mat its material (XS_MAT_LAMBERT
 * or XS_MAT_GGX, marked by the host), *at its triangle's attributes. */
static inline bool xs_sh_surface(const xs_scene_view *s, const xs_tile_params *tp, const xs_path *p, const xs_hit *h,
                                 const xs_material **mat, const xs_tri_attr **at)
{
    if (h->tri == UINT32_MAX || (int)p->bounce >= tp->max_bounces)
        return false;
    const xs_instance *in = &s->instances[h->instance];
    if ((in->flags & XS_INST_MOTION) != 0u || s->meshes[in->mesh].motion != UINT32_MAX)
        return false;
    *at = &s->attrs[h->tri];
    *mat = &s->materials[(*at)->material];
    return ((*mat)->flags & (XS_MAT_LAMBERT | XS_MAT_GGX)) != 0u;
}

/* Light li as xs_light_sample_at would sample it, for the lanes: taken
 * (an untextured emissive triangle of a still instance: its triangle in
 * the world as xs_world_tri gives it, v0, the edges and the front's
 * unnormalised normal, one 16-byte row each; its material's emission, its
 * probability, whether it emits from both sides), none (probability 0: no
 * shadow ray), or any other (the environment, point, spot and directional
 * lights, textured emitters): sampled lane by lane by xs_light_sample_at
 * itself at the lane's hit point. Kept for the next lane that picks the
 * same light. */
enum { XS_SH_LIGHT_NONE = 1, XS_SH_LIGHT_TRI = 2, XS_SH_LIGHT_ONE = 3 };
typedef struct xs_sh_light {
    uint32_t li, kind;
    float rows[4][4]; /* v0, e1, e2, ng (the fourth words unused) */
    const float *emit;
    float pmf;
    bool two_sided;
} xs_sh_light;

static inline void xs_sh_light_of(const xs_scene_view *s, uint32_t li, xs_sh_light *o)
{
    const xs_light *L = &s->lights[li];
    o->li = li;
    o->pmf = s->light_pmf[li];
    o->kind = XS_SH_LIGHT_ONE; /* sampled lane by lane by xs_light_sample_at */
    if (!(o->pmf > 0.0f)) {
        o->kind = XS_SH_LIGHT_NONE; /* xs_light_sample_at finds nothing */
        return;
    }
    if (L->type != XS_LIGHT_TRI || (s->instances[L->instance].flags & XS_INST_MOTION) != 0u)
        return;
    const xs_material *lm = &s->materials[s->attrs[L->tri].material];
    if (lm->emit_tex.tex >= 0)
        return;
    xs_vec3 v[4]; /* a frame without blur: the still triangle, whatever the time */
    xs_world_tri(s, L->instance, L->tri, 0.5f, &v[0], &v[1], &v[2], &v[3]);
    for (int k = 0; k < 4; ++k) {
        o->rows[k][0] = v[k].x, o->rows[k][1] = v[k].y, o->rows[k][2] = v[k].z;
        o->rows[k][3] = 0.0f;
    }
    o->kind = XS_SH_LIGHT_TRI;
    o->emit = &lm->emission.x;
    o->two_sided = (lm->flags & XS_MAT_EMIT_TWO_SIDED) != 0u;
}

/* The lights a batch's lanes picked, each set up once a batch (the view
 * does not change within one): the first XS_SH_LIGHTS; any others are set
 * up in the call's own spare entries. */
enum { XS_SH_LIGHTS = 16 };
typedef struct xs_sh_lights {
    uint32_t count;
    xs_sh_light light[XS_SH_LIGHTS];
} xs_sh_lights;

/* Ray-queue position j shaded by the one-path code. */
static inline void xs_sh_one_path(const xs_scene_view *s, const xs_tile_params *tp, const xs_wf *w, uint32_t q,
                                  uint32_t j, xs_counters *c)
{
    float u[XS_BOUNCE_SAMPLES];
    xs_wf_samples_at(w, j, u);
    xs_wf_shade(s, tp, 0u, w, q, j, u, c);
}

/* Shades ray-queue q's entries [j, j + n) (n <= 8) of a frame without
 * motion blur, as xs_wf_shade does each in turn; returns how many it took
 * as lanes (the others went through xs_wf_shade). lc: the batch's lights
 * (count 0 at its start). */
static uint32_t xs_sh_shade8(const xs_scene_view *s, const xs_tile_params *tp, const xs_wf *w, uint32_t q, uint32_t j,
                             uint32_t n, xs_sh_lights *lc, xs_counters *c)
{
    static const float zero_rows[4 * 4] XS_ALIGN(16) = {0};
    const bool mis = tp->mis == XS_MIS_ON, use_nee = tp->mis != XS_MIS_BSDF_ONLY;
    const uint32_t cap = w->capacity;
    uint32_t ok = 0u, nee = 0u, two = 0u, first = 0u, later = 0u, rr = 0u, ggx = 0u, smooth = 0u;
    const float *prow[8], *drow[8], *trow[8], *v0[8], *v1[8], *v2[8], *alb[8], *mrow[8], *nrow[8];
    const float *iv0[8], *iv1[8], *iv2[8]; /* a transformed instance's inverse, row by row */
    uint32_t xfm = 0u; /* lanes on a transformed instance */
    const float *l0[8], *l1[8], *l2[8], *l3[8], *lem[8];
    const float (*lrows[8])[4]; /* each lane's light triangle (its xs_sh_light's rows) */
    float tt[8] XS_ALIGN(32), hu[8] XS_ALIGN(32), hv[8] XS_ALIGN(32), pmf[8] XS_ALIGN(32);
    /* a light sample made lane by lane: wi, radiance, pdf (light choice
     * included), distance; zeros in the other lanes, which blend it away */
    float ev[8][8] XS_ALIGN(32) = {{0}};
    uint32_t env = 0u, delta = 0u; /* lanes with such a sample; of them, a delta light's */
    uint32_t idx[8] XS_ALIGN(32) = {0}; /* the lanes' path indices */
    bool lt[8];
    const float *le_row[8];
    const xs_material *mt[8];
    const xs_tri_attr *ats[8];
    bool ts[8];
    xs_sh_light spare[8]; /* lights past the batch's XS_SH_LIGHTS */
    uint32_t nspare = 0;
    for (uint32_t l = 0; l < n; ++l) {
        const uint32_t i = w->queue[q][j + l];
        if (!xs_sh_surface(s, tp, &w->path[i], &w->hit[i], &mt[l], &ats[l]))
            continue;
        lt[l] = false;
        if (use_nee && s->light_count > 0u) { /* else xs_light_sample_at finds nothing */
            const uint32_t li = xs_cdf_find(s->light_cdf, s->light_count, w->u[(size_t)j + l]);
            const xs_sh_light *lg = NULL;
            for (uint32_t k = 0; k < lc->count && !lg; ++k)
                if (lc->light[k].li == li)
                    lg = &lc->light[k];
            for (uint32_t k = 0; k < nspare && !lg; ++k)
                if (spare[k].li == li)
                    lg = &spare[k];
            if (!lg) {
                xs_sh_light *nl = lc->count < XS_SH_LIGHTS ? &lc->light[lc->count++] : &spare[nspare++];
                xs_sh_light_of(s, li, nl);
                lg = nl;
            }
            if (lg->kind == XS_SH_LIGHT_TRI) {
                lt[l] = true, le_row[l] = lg->emit, pmf[l] = lg->pmf, ts[l] = lg->two_sided;
                lrows[l] = lg->rows;
            } else if (lg->kind == XS_SH_LIGHT_ONE) {
                /* xs_light_sample_at itself, at the hit point xs_surface_at
                 * computes (the same operations as the lanes', so the same
                 * point), the frame's time */
                const xs_path *p = &w->path[i];
                const xs_vec3 P = xs_add(p->o, xs_scale(p->d, w->hit[i].t));
                const float *uj = w->u + (size_t)j + l;
                xs_light_sample ls;
                if (xs_light_sample_at(s, P, 0.5f, uj[0], uj[(size_t)2 * cap], uj[(size_t)3 * cap], &ls)) {
                    ev[0][l] = ls.wi.x, ev[1][l] = ls.wi.y, ev[2][l] = ls.wi.z;
                    ev[3][l] = ls.L.x, ev[4][l] = ls.L.y, ev[5][l] = ls.L.z;
                    ev[6][l] = ls.pdf, ev[7][l] = ls.dist;
                    env |= 1u << l;
                    if (ls.delta)
                        delta |= 1u << l;
                }
            }
        }
        ok |= 1u << l;
    }
    if (ok == 0u) { /* nothing here for the lanes: the one-path code, in order */
        for (uint32_t l = 0; l < n; ++l)
            xs_sh_one_path(s, tp, w, q, j + l, c);
        return 0u;
    }
    for (uint32_t l = 0; l < 8; ++l) {
        if (((ok >> l) & 1u) == 0u) {
            /* a lane left to the one-path code: zeros, never stored */
            prow[l] = drow[l] = trow[l] = v0[l] = v1[l] = v2[l] = alb[l] = zero_rows;
            l0[l] = l1[l] = l2[l] = l3[l] = lem[l] = zero_rows;
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
        if ((mt[l]->flags & XS_MAT_GGX) != 0u) {
            ggx |= 1u << l;
            mrow[l] = &mt[l]->metallic; /* metallic, roughness, transmission, ior */
        }
        const xs_instance *in = &s->instances[h->instance];
        if ((in->flags & XS_INST_IDENTITY) == 0u) {
            xfm |= 1u << l;
            iv0[l] = in->inv, iv1[l] = in->inv + 4, iv2[l] = in->inv + 8;
        }
        if ((ats[l]->flags & XS_ATTR_NORMALS) != 0u) {
            smooth |= 1u << l;
            /* the vertex normals' codes (the row's fourth word is a tangent's) */
            nrow[l] = (const float *)(const void *)ats[l]->n;
            hu[l] = h->u, hv[l] = h->v;
        }
        tt[l] = h->t;
        if (p->bounce == 0u)
            first |= 1u << l;
        else
            later |= 1u << l;
        if ((int)p->bounce + 1 >= tp->rr_start)
            rr |= 1u << l;
        if ((env >> l) & 1u) {
            nee |= 1u << l;
            l0[l] = l1[l] = l2[l] = l3[l] = lem[l] = zero_rows;
            pmf[l] = 0.0f;
        } else if (lt[l]) {
            nee |= 1u << l;
            l0[l] = lrows[l][0], l1[l] = lrows[l][1], l2[l] = lrows[l][2], l3[l] = lrows[l][3];
            lem[l] = le_row[l];
            if (ts[l])
                two |= 1u << l;
        } else {
            l0[l] = l1[l] = l2[l] = l3[l] = lem[l] = zero_rows;
            pmf[l] = 0.0f;
        }
    }
    /* the material rows and the normals only where a lane needs them, zeros
     * elsewhere */
    for (uint32_t l = 0; l < 8 && ggx != 0u; ++l)
        if (((ggx >> l) & 1u) == 0u)
            mrow[l] = zero_rows;
    for (uint32_t l = 0; l < 8 && smooth != 0u; ++l)
        if (((smooth >> l) & 1u) == 0u)
            nrow[l] = zero_rows, hu[l] = hv[l] = 0.0f;
    for (uint32_t l = 0; l < 8 && xfm != 0u; ++l)
        if (((xfm >> l) & 1u) == 0u)
            iv0[l] = iv1[l] = iv2[l] = zero_rows;
    float ns_out[3][8] XS_ALIGN(32), base_out[3][8] XS_ALIGN(32);
    xs_sh4 newp[3], shv[3]; /* the paths' rows and the shadow rays' rows */
    newp[0].x = newp[0].y = newp[0].z = newp[0].w = _mm256_setzero_ps();
    newp[1] = newp[2] = shv[0] = shv[1] = shv[2] = newp[0];
    uint32_t alive = 0u;
    {
        const xs_sh4 po = xs_sh_rows(prow), pd = xs_sh_rows(drow), pt = xs_sh_rows(trow);
        const xs_sh4 tv0 = xs_sh_rows(v0), tv1 = xs_sh_rows(v1), tv2 = xs_sh_rows(v2), al = xs_sh_rows(alb);
        const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f), neg0 = _mm256_set1_ps(-0.0f);
        const __m256 t = _mm256_load_ps(tt);
        const xs_v8 o = {po.x, po.y, po.z}, d = {pd.x, pd.y, pd.z}, T = {pt.x, pt.y, pt.z};
        const __m256 cone_w = pd.w, cone_s = pt.w;
        const float *uj = w->u + j;
        const __m256 u_rr = _mm256_loadu_ps(uj + (size_t)1 * cap), ul1 = _mm256_loadu_ps(uj + (size_t)2 * cap),
                     ul2 = _mm256_loadu_ps(uj + (size_t)3 * cap), ub1 = _mm256_loadu_ps(uj + (size_t)4 * cap),
                     ub2 = _mm256_loadu_ps(uj + (size_t)5 * cap), u_lobe = _mm256_loadu_ps(uj + (size_t)6 * cap);
        /* xs_surface_at */
        const xs_v8 a = {tv0.x, tv0.y, tv0.z};
        const xs_v8 e1 = xs_v8_sub((xs_v8){tv1.x, tv1.y, tv1.z}, a), e2 = xs_v8_sub((xs_v8){tv2.x, tv2.y, tv2.z}, a);
        const xs_v8 P = xs_v8_add(o, xs_v8_scale(d, t));
        /* a transformed instance's normals to the world (xs_xf_normal: the
         * inverse's transpose) */
        xs_sh4 ir0 = {zero, zero, zero, zero}, ir1 = ir0, ir2 = ir0;
        const __m256 mxf = xs_pk_mask(xfm);
        if (xfm != 0u)
            ir0 = xs_sh_rows(iv0), ir1 = xs_sh_rows(iv1), ir2 = xs_sh_rows(iv2);
#define XS_SH_XF_NORMAL(n)                                                                                          \
    ((xs_v8){_mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(ir0.x, (n).x), _mm256_mul_ps(ir1.x, (n).y)),                   \
                           _mm256_mul_ps(ir2.x, (n).z)),                                                              \
             _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(ir0.y, (n).x), _mm256_mul_ps(ir1.y, (n).y)),                   \
                           _mm256_mul_ps(ir2.y, (n).z)),                                                              \
             _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(ir0.z, (n).x), _mm256_mul_ps(ir1.z, (n).y)),                   \
                           _mm256_mul_ps(ir2.z, (n).z))})
        xs_v8 onrm = xs_v8_cross(e1, e2);
        if (xfm != 0u)
            onrm = xs_v8_blend(onrm, XS_SH_XF_NORMAL(onrm), mxf);
        xs_v8 ng = xs_v8_normalize(onrm);
        const __m256 front = _mm256_cmp_ps(xs_v8_dot(ng, d), zero, _CMP_LT_OQ);
        xs_v8 ns = ng;
        if (smooth != 0u) { /* the vertex normals at the hit (xs_attr_lerp), kept when of length */
            const xs_sh4 nc = xs_sh_rows(nrow);
            const xs_v8 na = xs_v8_oct_decode(_mm256_castps_si256(nc.x)), nb = xs_v8_oct_decode(_mm256_castps_si256(nc.y)),
                        nn = xs_v8_oct_decode(_mm256_castps_si256(nc.z));
            const __m256 b1 = _mm256_load_ps(hu), b2 = _mm256_load_ps(hv);
            const __m256 w0 = _mm256_sub_ps(_mm256_sub_ps(one, b1), b2);
            xs_v8 an = xs_v8_add(xs_v8_add(xs_v8_scale(na, w0), xs_v8_scale(nb, b1)), xs_v8_scale(nn, b2));
            if (xfm != 0u)
                an = xs_v8_blend(an, XS_SH_XF_NORMAL(an), mxf);
            const xs_v8 nv = xs_v8_normalize(an);
            const __m256 keep = _mm256_and_ps(xs_pk_mask(smooth), xs_v8_gt(xs_v8_dot(nv, nv), _mm256_set1_ps(0.5f)));
            ns = xs_v8_blend(ns, nv, keep);
        }
#undef XS_SH_XF_NORMAL
        ng = xs_v8_blend(xs_v8_neg(ng), ng, front);
        ns = xs_v8_blend(xs_v8_neg(ns), ns, front);
        /* a shading normal facing away from the viewer would leak light: ng */
        ns = xs_v8_blend(ns, ng, _mm256_cmp_ps(xs_v8_dot(ns, d), zero, _CMP_GE_OQ));
        /* xs_onb */
        const __m256 sign = _mm256_blendv_ps(_mm256_set1_ps(-1.0f), one, _mm256_cmp_ps(ns.z, zero, _CMP_GE_OQ));
        const __m256 oa = _mm256_div_ps(_mm256_set1_ps(-1.0f), _mm256_add_ps(sign, ns.z));
        const __m256 oc = _mm256_mul_ps(_mm256_mul_ps(ns.x, ns.y), oa);
        const xs_v8 tx = {_mm256_add_ps(one, _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(sign, ns.x), ns.x), oa)),
                          _mm256_mul_ps(sign, oc), _mm256_mul_ps(_mm256_xor_ps(sign, neg0), ns.x)};
        const xs_v8 ty = {oc, _mm256_add_ps(sign, _mm256_mul_ps(_mm256_mul_ps(ns.y, ns.y), oa)), _mm256_xor_ps(ns.y, neg0)};
        /* the material (xs_surface_at's parameters) */
        xs_sh_bsdf b;
        b.base = (xs_v8){al.x, al.y, al.z};
        b.ggx = xs_pk_mask(ggx);
        b.metallic = b.transmission = b.f0 = zero, b.alpha = one; /* the Lambert lanes read none of them */
        if (ggx != 0u) {
            const xs_sh4 mr = xs_sh_rows(mrow);
            b.metallic = _mm256_max_ps(zero, _mm256_min_ps(one, mr.x));
            const __m256 rough = _mm256_max_ps(zero, _mm256_min_ps(one, mr.y));
            b.alpha = _mm256_max_ps(_mm256_set1_ps(1e-3f), _mm256_mul_ps(rough, rough));
            b.transmission = _mm256_max_ps(zero, _mm256_min_ps(one, mr.z));
            const __m256 r = _mm256_div_ps(_mm256_sub_ps(mr.w, one), _mm256_add_ps(mr.w, one));
            b.f0 = _mm256_mul_ps(r, r);
        }
        /* wo in the shading frame */
        const xs_v8 nd = xs_v8_neg(d);
        const xs_v8 wo = {xs_v8_dot(nd, tx), xs_v8_dot(nd, ty), xs_v8_dot(nd, ns)};
        /* not (wo.z <= 0): xs_bsdf_eval's and xs_bsdf_sample's test */
        const __m256 wo_up = _mm256_cmp_ps(wo.z, zero, _CMP_NLE_UQ);
        if (ggx != 0u) {
            xs_sh_prepare(&b, s->ggx_tables, wo.z);
        } else { /* xs_bsdf_prepare's Lambert case */
            b.w_spec = b.w_trans = b.diel_comp = zero;
            b.w_diff = b.coat = b.base_weight = one;
            b.spec_scale = (xs_v8){one, one, one};
        }
        const __m256 eps = _mm256_set1_ps(s->ray_eps);
        const __m256 mlater = xs_pk_mask(later);
        /* next-event estimation: xs_light_sample_at's triangle */
        if (nee != 0u) {
            const xs_sh4 lv0 = xs_sh_rows(l0), lv1 = xs_sh_rows(l1), lv2 = xs_sh_rows(l2), lv3 = xs_sh_rows(l3),
                         le = xs_sh_rows(lem);
            const xs_v8 la = {lv0.x, lv0.y, lv0.z}, le1 = {lv1.x, lv1.y, lv1.z}, le2 = {lv2.x, lv2.y, lv2.z};
            const __m256 su = _mm256_sqrt_ps(ul1);
            const __m256 b1 = _mm256_sub_ps(one, su), b2 = _mm256_mul_ps(ul2, su);
            const xs_v8 lp = xs_v8_add(la, xs_v8_add(xs_v8_scale(le1, b1), xs_v8_scale(le2, b2)));
            const xs_v8 lng = {lv3.x, lv3.y, lv3.z};
            const __m256 area2 = xs_v8_length(lng);
            __m256 ls_ok = _mm256_and_ps(xs_pk_mask(nee), xs_v8_gt(area2, zero));
            const xs_v8 ln = xs_v8_scale(lng, _mm256_div_ps(one, area2));
            const xs_v8 dv = xs_v8_sub(lp, P);
            const __m256 dist2 = xs_v8_dot(dv, dv);
            ls_ok = _mm256_and_ps(ls_ok, xs_v8_gt(dist2, zero));
            __m256 dist = _mm256_sqrt_ps(dist2);
            xs_v8 wi = xs_v8_scale(dv, _mm256_div_ps(one, dist));
            __m256 cos_l = _mm256_xor_ps(xs_v8_dot(ln, wi), neg0);
            cos_l = _mm256_blendv_ps(cos_l, xs_v8_abs(cos_l), xs_pk_mask(two));
            ls_ok = _mm256_andnot_ps(_mm256_cmp_ps(cos_l, zero, _CMP_LE_OQ), ls_ok);
            xs_v8 Le = {le.x, le.y, le.z};
            __m256 lpdf = _mm256_div_ps(_mm256_mul_ps(_mm256_load_ps(pmf), dist2),
                                        _mm256_mul_ps(_mm256_mul_ps(cos_l, _mm256_set1_ps(0.5f)), area2));
            if (env != 0u) { /* the lanes sampled one by one: their sample */
                const __m256 me = xs_pk_mask(env);
                wi = xs_v8_blend(wi, (xs_v8){_mm256_load_ps(ev[0]), _mm256_load_ps(ev[1]), _mm256_load_ps(ev[2])}, me);
                Le = xs_v8_blend(Le, (xs_v8){_mm256_load_ps(ev[3]), _mm256_load_ps(ev[4]), _mm256_load_ps(ev[5])}, me);
                lpdf = _mm256_blendv_ps(lpdf, _mm256_load_ps(ev[6]), me);
                dist = _mm256_blendv_ps(dist, _mm256_load_ps(ev[7]), me);
                ls_ok = _mm256_or_ps(ls_ok, me);
            }
            /* the BSDF at wi (xs_bsdf_eval) */
            const xs_v8 wl = {xs_v8_dot(wi, tx), xs_v8_dot(wi, ty), xs_v8_dot(wi, ns)};
            const __m256 gside = xs_v8_dot(wi, ng);
            __m256 pdf_b;
            const xs_v8 f = xs_sh_eval(&b, wo, wo_up, wl, &pdf_b);
            const __m256 gup = xs_v8_gt(gside, zero);
            const __m256 side = _mm256_xor_ps(_mm256_xor_ps(xs_v8_gt(wl.z, zero), gup), _mm256_castsi256_ps(_mm256_set1_epi32(-1)));
            __m256 take = _mm256_and_ps(ls_ok, side);
            take = _mm256_and_ps(take, xs_v8_gt(xs_v8_max3(f), zero));
            take = _mm256_and_ps(take, xs_v8_gt(xs_v8_max3(Le), zero));
            /* (ls.delta || !mis) ? 1 : the power heuristic */
            const __m256 wgt = mis ? _mm256_blendv_ps(xs_v8_power(lpdf, pdf_b), one, xs_pk_mask(delta)) : one;
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
        /* BSDF sampling (xs_bsdf_sample): the lobe by u_lobe, the direction by
         * (ub1, ub2) */
        const __m256 r = _mm256_sqrt_ps(ub1);
        const __m256 phi = _mm256_mul_ps(_mm256_set1_ps(2.0f * XS_PI), ub2);
        float ph[8] XS_ALIGN(32), cs[8] XS_ALIGN(32), sn[8] XS_ALIGN(32);
        _mm256_store_ps(ph, phi);
        for (int l = 0; l < 8; ++l) {
            cs[l] = ((ok >> l) & 1u) ? cosf(ph[l]) : 0.0f;
            sn[l] = ((ok >> l) & 1u) ? sinf(ph[l]) : 0.0f;
        }
        const __m256 vcs = _mm256_load_ps(cs), vsn = _mm256_load_ps(sn);
        const __m256 spec = _mm256_cmp_ps(u_lobe, b.w_spec, _CMP_LT_OQ);
        const __m256 ws_wd = _mm256_add_ps(b.w_spec, b.w_diff);
        const __m256 diff = _mm256_andnot_ps(spec, _mm256_cmp_ps(u_lobe, ws_wd, _CMP_LT_OQ));
        /* the cosine-weighted direction; the specular lanes' reflection */
        xs_v8 wl = {_mm256_mul_ps(r, vcs), _mm256_mul_ps(r, vsn), _mm256_sqrt_ps(_mm256_max_ps(zero, _mm256_sub_ps(one, ub1)))};
        if (_mm256_movemask_ps(_mm256_and_ps(spec, xs_pk_mask(ok))) != 0) {
            const xs_v8 h = xs_sh_vndf(b.alpha, wo, r, vcs, vsn);
            const __m256 ch = xs_v8_dot(wo, h);
            wl = xs_v8_blend(wl, xs_v8_sub(xs_v8_scale(h, _mm256_mul_ps(_mm256_set1_ps(2.0f), ch)), wo), spec);
        }
        /* not (wo.z <= 0) and a lobe to draw; a lobe past them (transmission,
         * which these lanes have none of) ends the path; then wi.z > 0, pdf > 0 */
        __m256 go = _mm256_and_ps(wo_up, xs_pk_mask(ok));
        go = _mm256_and_ps(go, xs_v8_gt(_mm256_add_ps(ws_wd, b.w_trans), zero));
        go = _mm256_and_ps(go, _mm256_or_ps(spec, diff));
        const __m256 up = xs_v8_gt(wl.z, zero);
        go = _mm256_and_ps(go, up);
        __m256 pdf;
        const xs_v8 fb = xs_sh_eval(&b, wo, wo_up, wl, &pdf);
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
        /* the cone: wider by the lobe's spread (xs_lobe_spread) */
        __m256 spread = _mm256_set1_ps(0.5f); /* the Lambert lanes' lobe, always taken */
        if (ggx != 0u) {
            const __m256 in_diff =
                _mm256_and_ps(_mm256_cmp_ps(u_lobe, b.w_spec, _CMP_GE_OQ), _mm256_cmp_ps(u_lobe, ws_wd, _CMP_LT_OQ));
            spread = _mm256_blendv_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), _mm256_sqrt_ps(b.alpha)), spread, in_diff);
        }
        const __m256 cw2 = _mm256_add_ps(cone_w, _mm256_mul_ps(cone_s, t));
        const __m256 cs2 = _mm256_add_ps(cone_s, spread);
        const xs_v8 no = xs_v8_offset(P, xs_v8_blend(xs_v8_neg(ng), ng, gup), eps);
        const xs_v8 nd2 = xs_v8_normalize(wi);
        alive = (uint32_t)_mm256_movemask_ps(go);
        newp[0] = (xs_sh4){no.x, no.y, no.z, pdf};
        newp[1] = (xs_sh4){nd2.x, nd2.y, nd2.z, cw2};
        newp[2] = (xs_sh4){T2.x, T2.y, T2.z, cs2};
        _mm256_store_ps(ns_out[0], ns.x), _mm256_store_ps(ns_out[1], ns.y), _mm256_store_ps(ns_out[2], ns.z);
        _mm256_store_ps(base_out[0], b.base.x), _mm256_store_ps(base_out[1], b.base.y),
            _mm256_store_ps(base_out[2], b.base.z);
    }
    c->shade_events += (uint64_t)__builtin_popcount(ok);
    /* write back in queue order */
    float *rows[3][8] = {{NULL}}, *srows[3][8] = {{NULL}};
    for (uint32_t l = 0; l < n; ++l) {
        const uint32_t i = w->queue[q][j + l];
        if (((ok >> l) & 1u) == 0u) {
            xs_sh_one_path(s, tp, w, q, j + l, c);
            continue;
        }
        xs_path *p = &w->path[i];
        if ((first >> l) & 1u) {
            xs_first_hit *fh = &w->first[i];
            fh->alpha = 1.0f;
            fh->albedo[0] = base_out[0][l], fh->albedo[1] = base_out[1][l], fh->albedo[2] = base_out[2][l];
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
