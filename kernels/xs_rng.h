/* Counter-based random numbers: every value is a pure function of
 * (seed, frame, pixel x, pixel y, sample, dimension), never of a rank, thread
 * or tile. That is what makes any rank count, tile size or resume produce the
 * same pixels. The mixer is the SplitMix64 finaliser (Steele et al. 2014),
 * applied to a key built by chaining the coordinates through it.
 */
#ifndef XS_RNG_H
#define XS_RNG_H

#include "kernels/xs_device.h"

typedef struct xs_rng {
    uint64_t key;
    uint32_t dim;
} xs_rng;

XS_DEVICE uint64_t xs_mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

XS_DEVICE xs_rng xs_rng_init(uint32_t seed, uint32_t frame, uint32_t px, uint32_t py,
                             uint32_t sample)
{
    uint64_t k = xs_mix64((uint64_t)seed);
    k = xs_mix64(k ^ (uint64_t)frame);
    k = xs_mix64(k ^ (((uint64_t)py << 32) | (uint64_t)px));
    k = xs_mix64(k ^ (uint64_t)sample);
    xs_rng r;
    r.key = k;
    r.dim = 0;
    return r;
}

/* The next 32 random bits of this (seed, frame, pixel, sample) stream. */
XS_DEVICE uint32_t xs_rng_u32(xs_rng *r)
{
    uint64_t h = xs_mix64(r->key + 0xD1B54A32D192ED03ull * (uint64_t)(r->dim + 1u));
    r->dim++;
    return (uint32_t)(h >> 32);
}

/* A float uniform in [0, 1): 24 random bits, so 1.0 is never returned. */
XS_DEVICE float xs_rng_float(xs_rng *r)
{
    return (float)(xs_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

#endif
