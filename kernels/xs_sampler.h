/* The low-discrepancy sampler: Sobol' points in 2-D pairs with Owen
 * scrambling, as in Burley 2020 ("Practical Hash-based Owen Scrambling",
 * JCGT 9(4)). Every dimension pair of a path (pixel filter, light choice,
 * light position, BSDF lobe, BSDF direction, ...) gets the first two Sobol'
 * dimensions, with the sample index shuffled by a nested uniform scramble
 * seeded per (pixel, pair) and each coordinate Owen-scrambled with its own
 * seed. The pixel key is a hash of (seed, frame, pixel x, pixel y), so a
 * value depends on (seed, frame, pixel, sample, dimension) alone: never on a
 * rank, thread or tile.
 *
 * Why pairs: each 2-D projection is then a (0,2)-sequence (stratified at
 * every power of two) while distinct pairs stay decorrelated ("padding").
 */
#ifndef XS_SAMPLER_H
#define XS_SAMPLER_H

#include "kernels/xs_rng.h"

typedef struct xs_sampler {
    uint64_t pixel_key;
    uint32_t index; /* the sample number within the pixel */
    uint32_t pair;  /* next dimension pair */
} xs_sampler;

XS_DEVICE uint32_t xs_reverse_bits(uint32_t x)
{
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
    x = ((x >> 8) & 0x00FF00FFu) | ((x & 0x00FF00FFu) << 8);
    return (x >> 16) | (x << 16);
}

/* Laine and Karras' hash: each bit is flipped by a function of the bits below
 * it only, i.e. a nested uniform scramble of the bit-reversed value. */
XS_DEVICE uint32_t xs_lk_permute(uint32_t x, uint32_t seed)
{
    x += seed;
    x ^= x * 0x6c50b47cu;
    x ^= x * 0xb82f1e52u;
    x ^= x * 0xc7afe638u;
    x ^= x * 0x8d22f6e6u;
    return x;
}

/* Owen scrambling of a 32-bit fixed-point value in [0, 1). */
XS_DEVICE uint32_t xs_owen(uint32_t x, uint32_t seed)
{
    return xs_reverse_bits(xs_lk_permute(xs_reverse_bits(x), seed));
}

/* Sobol' dimension 1 (primitive polynomial x + 1): direction numbers
 * m_k = m_{k-1} xor (m_{k-1} << 1), m_1 = 1, v_k = m_k << (32 - k). */
XS_DEVICE uint32_t xs_sobol1(uint32_t i)
{
    uint32_t r = 0u, m = 1u;
    for (int k = 1; i != 0u; ++k, i >>= 1) {
        if ((i & 1u) != 0u)
            r ^= m << (32 - k);
        m ^= m << 1;
    }
    return r;
}

XS_DEVICE uint32_t xs_hash32(uint64_t key, uint32_t a, uint32_t b)
{
    return (uint32_t)(xs_mix64(key ^ xs_mix64(((uint64_t)a << 32) | (uint64_t)b)) >> 32);
}

XS_DEVICE xs_sampler xs_sampler_init(uint32_t seed, uint32_t frame, uint32_t px, uint32_t py,
                                     uint32_t sample)
{
    xs_sampler s;
    uint64_t k = xs_mix64((uint64_t)seed ^ 0x5A3C0FFEEull);
    k = xs_mix64(k ^ (uint64_t)frame);
    s.pixel_key = xs_mix64(k ^ (((uint64_t)py << 32) | (uint64_t)px));
    s.index = sample;
    s.pair = 0u;
    return s;
}

/* The 2-D point of dimension pair `pair` for this sample (fixed-point). */
XS_DEVICE void xs_sobol_pair(uint64_t pixel_key, uint32_t index, uint32_t pair, uint32_t *x,
                             uint32_t *y)
{
    uint32_t i = xs_owen(index, xs_hash32(pixel_key, pair, 0x9E37u)); /* shuffled index */
    *x = xs_owen(xs_reverse_bits(i), xs_hash32(pixel_key, pair, 1u));
    *y = xs_owen(xs_sobol1(i), xs_hash32(pixel_key, pair, 2u));
}

XS_DEVICE float xs_u32_to_float(uint32_t v) { return (float)(v >> 8) * (1.0f / 16777216.0f); }

/* The dimension pair of a camera sample's time under motion blur: one
 * number past any a path's pairs reach, so drawing it shifts none of them
 * (frames without motion blur keep every value they had). */
enum { XS_PAIR_TIME = 0x7FFFFFFF };

/* The sample's time in [0, 1) across the shutter: Sobol' dimension 0 of its
 * own pair, Owen-scrambled per pixel like every pair. */
XS_DEVICE float xs_sample_time(const xs_sampler *s)
{
    uint32_t x, y;
    xs_sobol_pair(s->pixel_key, s->index, (uint32_t)XS_PAIR_TIME, &x, &y);
    return xs_u32_to_float(x);
}

/* The next dimension pair as two floats in [0, 1). */
XS_DEVICE void xs_sample_2d(xs_sampler *s, float *u, float *v)
{
    uint32_t x, y;
    xs_sobol_pair(s->pixel_key, s->index, s->pair++, &x, &y);
    *u = xs_u32_to_float(x);
    *v = xs_u32_to_float(y);
}

#endif
