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
 *
 * Cost: one 64-bit hash a pair for its three seeds, Sobol' dimension 1 in
 * closed form, four bit reversals (one instruction on a GPU): no loop.
 *
 * Dimension layout (pairs of one sample), the same in the megakernel and the
 * wavefront integrator (xs_path.h), which ask for a pair by number:
 *   XS_PAIR_FILTER      0   pixel filter offset (x, y)
 *   XS_PAIR_BOUNCE + 4b     bounce b: light choice, Russian roulette
 *                   + 1     light position (u1, u2)
 *                   + 2     BSDF direction (u1, u2)
 *                   + 3     BSDF lobe choice, (spare)
 * A camera pair (shutter time, lens) slots in by taking pair 1 and moving
 * XS_PAIR_BOUNCE to 2; nothing else numbers pairs.
 */
#ifndef XS_SAMPLER_H
#define XS_SAMPLER_H

#include "kernels/xs_rng.h"

enum { XS_PAIR_FILTER = 0, XS_PAIR_BOUNCE = 1, XS_PAIRS_PER_BOUNCE = 4 };

/* The first pair of bounce b's four. */
XS_DEVICE uint32_t xs_pair_of_bounce(int bounce)
{
    return (uint32_t)XS_PAIR_BOUNCE + (uint32_t)XS_PAIRS_PER_BOUNCE * (uint32_t)bounce;
}

typedef struct xs_sampler {
    uint64_t pixel_key;
    uint32_t index; /* the sample number within the pixel */
    uint32_t pair;  /* next dimension pair */
} xs_sampler;

XS_DEVICE uint32_t xs_reverse_bits(uint32_t x)
{
#if XS_GPU_CODE
    return __brev(x);
#else
    x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
    x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
    x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
    x = ((x >> 8) & 0x00FF00FFu) | ((x & 0x00FF00FFu) << 8);
    return (x >> 16) | (x << 16);
#endif
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

/* Sobol' dimension 1 (primitive polynomial x + 1) in closed form. Its
 * direction numbers m_k = m_{k-1} xor (m_{k-1} << 1), m_1 = 1, v_k = m_k <<
 * (32 - k) make its generator matrix the Pascal matrix mod 2: bit b of the
 * bit-reversed result is the xor of the index bits a with C(a, b) odd, that
 * is (Lucas) every a whose bits contain b's. That superset sum over the five
 * bits of a bit position takes five shift-and-xor steps instead of a loop
 * over the index's bits (~32 iterations). xs_sobol1_rev returns the value
 * bit-reversed, which is what the Owen scramble wants. */
XS_DEVICE uint32_t xs_sobol1_rev(uint32_t i)
{
    i ^= (i >> 1) & 0x55555555u;
    i ^= (i >> 2) & 0x33333333u;
    i ^= (i >> 4) & 0x0F0F0F0Fu;
    i ^= (i >> 8) & 0x00FF00FFu;
    i ^= (i >> 16) & 0x0000FFFFu;
    return i;
}
XS_DEVICE uint32_t xs_sobol1(uint32_t i) { return xs_reverse_bits(xs_sobol1_rev(i)); }

/* The three seeds of a pair (index shuffle, x scramble, y scramble) from one
 * hash of (pixel key, pair): the two halves of a SplitMix64 finalisation,
 * and the high half of its product with an odd constant (a function of all
 * 64 bits, no longer linear in either half). */
XS_DEVICE void xs_pair_seeds(uint64_t pixel_key, uint32_t pair, uint32_t *s0, uint32_t *s1, uint32_t *s2)
{
    uint64_t h = xs_mix64(pixel_key ^ ((uint64_t)pair * 0x9E3779B97F4A7C15ull));
    *s0 = (uint32_t)h;
    *s1 = (uint32_t)(h >> 32);
    *s2 = (uint32_t)((h * 0xD6E8FEB86659FD93ull) >> 32);
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

/* The 2-D point of dimension pair `pair` for this sample (fixed-point).
 * Dimension 0 of Sobol' is the bit-reversed index, so its Owen scramble
 * reverse(lk(reverse(reverse(i)))) is reverse(lk(i)); dimension 1 is scrambled
 * from its bit-reversed closed form: four bit reversals a pair in all. */
XS_DEVICE void xs_sobol_pair(uint64_t pixel_key, uint32_t index, uint32_t pair, uint32_t *x,
                             uint32_t *y)
{
    uint32_t s0, s1, s2;
    xs_pair_seeds(pixel_key, pair, &s0, &s1, &s2);
    uint32_t i = xs_owen(index, s0); /* shuffled index */
    *x = xs_reverse_bits(xs_lk_permute(i, s1));
    *y = xs_reverse_bits(xs_lk_permute(xs_sobol1_rev(i), s2));
}

XS_DEVICE float xs_u32_to_float(uint32_t v) { return (float)(v >> 8) * (1.0f / 16777216.0f); }

/* Pair `pair` of this sample as two floats in [0, 1). */
XS_DEVICE void xs_sample_pair(const xs_sampler *s, uint32_t pair, float *u, float *v)
{
    uint32_t x, y;
    xs_sobol_pair(s->pixel_key, s->index, pair, &x, &y);
    *u = xs_u32_to_float(x);
    *v = xs_u32_to_float(y);
}

/* The dimension pair of a camera sample's time under motion blur: one
 * number past any a path's pairs reach, so drawing it shifts none of them
 * (frames without motion blur keep every value they had). */
enum { XS_PAIR_TIME = 0x7FFFFFFF };

/* The time in [0, 1) across the shutter of sample `index` of the pixel with
 * this key: Sobol' dimension 0 of its own pair, Owen-scrambled per pixel
 * like every pair. A pure function of (key, index): a path's steps compute
 * it again rather than carry it. */
XS_DEVICE float xs_time_of(uint64_t pixel_key, uint32_t index)
{
    uint32_t x, y;
    xs_sobol_pair(pixel_key, index, (uint32_t)XS_PAIR_TIME, &x, &y);
    return xs_u32_to_float(x);
}

XS_DEVICE float xs_sample_time(const xs_sampler *s) { return xs_time_of(s->pixel_key, s->index); }

/* The next dimension pair as two floats in [0, 1). */
XS_DEVICE void xs_sample_2d(xs_sampler *s, float *u, float *v)
{
    uint32_t x, y;
    xs_sobol_pair(s->pixel_key, s->index, s->pair++, &x, &y);
    *u = xs_u32_to_float(x);
    *v = xs_u32_to_float(y);
}

#endif
