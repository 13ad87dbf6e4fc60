/* Small vector maths for the kernels: xs_vec3 and its operations. */
#ifndef XS_MATH_H
#define XS_MATH_H

#include "kernels/xs_device.h"

typedef struct xs_vec3 {
    float x, y, z;
} xs_vec3;

#define XS_PI 3.14159265358979323846f
#define XS_INV_PI 0.31830988618379067154f

XS_DEVICE xs_vec3 xs_v3(float x, float y, float z)
{
    xs_vec3 v;
    v.x = x;
    v.y = y;
    v.z = z;
    return v;
}
XS_DEVICE xs_vec3 xs_v3_all(float a) { return xs_v3(a, a, a); }
XS_DEVICE xs_vec3 xs_add(xs_vec3 a, xs_vec3 b) { return xs_v3(a.x + b.x, a.y + b.y, a.z + b.z); }
XS_DEVICE xs_vec3 xs_sub(xs_vec3 a, xs_vec3 b) { return xs_v3(a.x - b.x, a.y - b.y, a.z - b.z); }
XS_DEVICE xs_vec3 xs_mul(xs_vec3 a, xs_vec3 b) { return xs_v3(a.x * b.x, a.y * b.y, a.z * b.z); }
XS_DEVICE xs_vec3 xs_scale(xs_vec3 a, float s) { return xs_v3(a.x * s, a.y * s, a.z * s); }
XS_DEVICE xs_vec3 xs_neg(xs_vec3 a) { return xs_v3(-a.x, -a.y, -a.z); }
XS_DEVICE float xs_dot(xs_vec3 a, xs_vec3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
XS_DEVICE xs_vec3 xs_cross(xs_vec3 a, xs_vec3 b)
{
    return xs_v3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}
XS_DEVICE float xs_length(xs_vec3 a) { return sqrtf(xs_dot(a, a)); }
XS_DEVICE xs_vec3 xs_normalize(xs_vec3 a)
{
    float l = xs_length(a);
    return l > 0.0f ? xs_scale(a, 1.0f / l) : a;
}
XS_DEVICE float xs_maxf(float a, float b) { return a > b ? a : b; }
XS_DEVICE float xs_minf(float a, float b) { return a < b ? a : b; }
XS_DEVICE float xs_max3(xs_vec3 a) { return xs_maxf(a.x, xs_maxf(a.y, a.z)); }
XS_DEVICE xs_vec3 xs_vmin(xs_vec3 a, xs_vec3 b)
{
    return xs_v3(xs_minf(a.x, b.x), xs_minf(a.y, b.y), xs_minf(a.z, b.z));
}
XS_DEVICE xs_vec3 xs_vmax(xs_vec3 a, xs_vec3 b)
{
    return xs_v3(xs_maxf(a.x, b.x), xs_maxf(a.y, b.y), xs_maxf(a.z, b.z));
}
XS_DEVICE float xs_v3_get(xs_vec3 a, int axis) { return axis == 0 ? a.x : (axis == 1 ? a.y : a.z); }
XS_DEVICE xs_vec3 xs_v3_load(const float *p) { return xs_v3(p[0], p[1], p[2]); }

/* The index of the lowest set bit of m (m != 0). */
XS_DEVICE int xs_ctz(uint32_t m)
{
#if XS_GPU_CODE
    return __ffs((int)m) - 1;
#else
    return __builtin_ctz(m);
#endif
}

/* The float whose bits are u (exponent-only values build powers of two). */
XS_DEVICE float xs_bits_float(uint32_t u)
{
#if XS_GPU_CODE
    return __uint_as_float(u);
#else
    union {
        uint32_t u;
        float f;
    } b;
    b.u = u;
    return b.f;
#endif
}

/* An orthonormal basis around unit n (Duff et al. 2017, "Building an
 * Orthonormal Basis, Revisited"). */
XS_DEVICE void xs_onb(xs_vec3 n, xs_vec3 *t, xs_vec3 *b)
{
    float sign = n.z >= 0.0f ? 1.0f : -1.0f;
    float a = -1.0f / (sign + n.z);
    float c = n.x * n.y * a;
    *t = xs_v3(1.0f + sign * n.x * n.x * a, sign * c, -sign * n.x);
    *b = xs_v3(c, sign + n.y * n.y * a, -n.y);
}

/* Octahedral unit-vector encoding in 2 x 16 bits (Cigolle et al. 2014):
 * about 0.002 degrees of error; used for vertex normals and tangents. */
XS_DEVICE float xs_sign_nz(float v) { return v >= 0.0f ? 1.0f : -1.0f; }
XS_DEVICE uint32_t xs_oct_encode(xs_vec3 n)
{
    float l1 = fabsf(n.x) + fabsf(n.y) + fabsf(n.z);
    if (!(l1 > 0.0f))
        return 0x7FFF7FFFu; /* (0, 0): +z */
    float x = n.x / l1, y = n.y / l1;
    if (n.z < 0.0f) {
        float ox = (1.0f - fabsf(y)) * xs_sign_nz(x), oy = (1.0f - fabsf(x)) * xs_sign_nz(y);
        x = ox;
        y = oy;
    }
    uint32_t qx = (uint32_t)(xs_minf(65535.0f, xs_maxf(0.0f, (x * 0.5f + 0.5f) * 65535.0f + 0.5f)));
    uint32_t qy = (uint32_t)(xs_minf(65535.0f, xs_maxf(0.0f, (y * 0.5f + 0.5f) * 65535.0f + 0.5f)));
    return qx | (qy << 16);
}
XS_DEVICE xs_vec3 xs_oct_decode(uint32_t e)
{
    float x = (float)(e & 0xFFFFu) * (2.0f / 65535.0f) - 1.0f;
    float y = (float)(e >> 16) * (2.0f / 65535.0f) - 1.0f;
    float z = 1.0f - fabsf(x) - fabsf(y);
    if (z < 0.0f) {
        float ox = (1.0f - fabsf(y)) * xs_sign_nz(x), oy = (1.0f - fabsf(x)) * xs_sign_nz(y);
        x = ox;
        y = oy;
    }
    return xs_normalize(xs_v3(x, y, z));
}

#endif
