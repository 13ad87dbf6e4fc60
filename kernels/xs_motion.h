/* Motion within the shutter: where a moving instance, a deforming triangle
 * and the camera are at a ray's time (xs_types.h describes the steps).
 *
 * A time u in [0, 1) falls in segment floor(u * (steps - 1)) between two
 * steps. Transforms interpolate their decomposition (rotation by spherical
 * interpolation the short way round, translation and scale/shear linearly)
 * and are composed again, so a rotating object keeps its shape between steps
 * (a matrix blend would shrink a wheel turning a quarter to 71% of its size
 * halfway); triangles interpolate their corners linearly. The host computes
 * motion bounds with these same functions.
 */
#ifndef XS_MOTION_H
#define XS_MOTION_H

#include "kernels/xs_types.h"

/* The segment holding time u, and the fraction *f of the way through it. */
XS_DEVICE uint32_t xs_motion_segment(uint32_t steps, float u, float *f)
{
    float x = xs_maxf(0.0f, u) * (float)(steps - 1u);
    uint32_t seg = (uint32_t)x;
    if (seg > steps - 2u)
        seg = steps - 2u;
    *f = xs_minf(1.0f, x - (float)seg);
    return seg;
}

/* Unit quaternion q (x, y, z, w) as a row-major 3x3 rotation. */
XS_DEVICE void xs_quat_mat3(const float *q, float *r)
{
    float x = q[0], y = q[1], z = q[2], w = q[3];
    r[0] = 1.0f - 2.0f * (y * y + z * z);
    r[1] = 2.0f * (x * y - z * w);
    r[2] = 2.0f * (x * z + y * w);
    r[3] = 2.0f * (x * y + z * w);
    r[4] = 1.0f - 2.0f * (x * x + z * z);
    r[5] = 2.0f * (y * z - x * w);
    r[6] = 2.0f * (x * z - y * w);
    r[7] = 2.0f * (y * z + x * w);
    r[8] = 1.0f - 2.0f * (x * x + y * y);
}

/* Spherical interpolation of unit quaternions at f in [0, 1], the short way. */
XS_DEVICE void xs_quat_lerp_sphere(const float *a, const float *b, float f, float *out)
{
    float d = a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3];
    float sb = 1.0f;
    if (d < 0.0f) {
        d = -d;
        sb = -1.0f;
    }
    float ka = 1.0f - f, kb = f;
    if (d < 0.9995f) {
        float th = acosf(d), s = sinf(th);
        ka = sinf((1.0f - f) * th) / s;
        kb = sinf(f * th) / s;
    }
    kb *= sb;
    float l2 = 0.0f;
    for (int c = 0; c < 4; ++c) {
        out[c] = ka * a[c] + kb * b[c];
        l2 += out[c] * out[c];
    }
    float il = l2 > 0.0f ? 1.0f / sqrtf(l2) : 0.0f;
    for (int c = 0; c < 4; ++c)
        out[c] *= il;
}

/* The world-from-object transform (row-major 3x4) at time u of the steps
 * m[0 .. steps). */
XS_COLD void xs_motion_xf_at(const xs_motion_xf *m, uint32_t steps, float u, float *xf)
{
    float f;
    uint32_t seg = xs_motion_segment(steps, u, &f);
    const xs_motion_xf *a = &m[seg], *b = &m[seg + 1u];
    float q[4], r[9], s[9];
    xs_quat_lerp_sphere(a->q, b->q, f, q);
    xs_quat_mat3(q, r);
    for (int i = 0; i < 9; ++i)
        s[i] = a->s[i] + (b->s[i] - a->s[i]) * f;
    for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 3; ++j)
            xf[i * 4 + j] = r[i * 3 + 0] * s[0 * 3 + j] + r[i * 3 + 1] * s[1 * 3 + j] + r[i * 3 + 2] * s[2 * 3 + j];
        xf[i * 4 + 3] = a->t[i] + (b->t[i] - a->t[i]) * f;
    }
}

/* The inverse of a row-major 3x4 affine transform (zeros when singular). */
XS_COLD void xs_xf_inverse(const float *m, float *inv)
{
    float a = m[0], b = m[1], c = m[2], d = m[4], e = m[5], f = m[6], g = m[8], h = m[9], i = m[10];
    float c0 = e * i - f * h, c1 = f * g - d * i, c2 = d * h - e * g;
    float det = a * c0 + b * c1 + c * c2;
    float id = fabsf(det) > 1e-30f ? 1.0f / det : 0.0f;
    float r[9] = {c0 * id, (c * h - b * i) * id, (b * f - c * e) * id,
                  c1 * id, (a * i - c * g) * id, (c * d - a * f) * id,
                  c2 * id, (b * g - a * h) * id, (a * e - b * d) * id};
    for (int row = 0; row < 3; ++row) {
        inv[row * 4 + 0] = r[row * 3 + 0];
        inv[row * 4 + 1] = r[row * 3 + 1];
        inv[row * 4 + 2] = r[row * 3 + 2];
        inv[row * 4 + 3] = -(r[row * 3 + 0] * m[3] + r[row * 3 + 1] * m[7] + r[row * 3 + 2] * m[11]);
    }
}

/* Instance `in`'s transforms at time u: *xf and *inv point at its own for an
 * instance that does not move, else at the buffers filled here. */
XS_DEVICE void xs_instance_at(const xs_scene_view *s, const xs_instance *in, float u, float *xf_buf,
                              float *inv_buf, const float **xf, const float **inv)
{
    if ((in->flags & XS_INST_MOTION) == 0u) {
        *xf = in->xf;
        *inv = in->inv;
        return;
    }
    xs_motion_xf_at(&s->motion_xf[in->motion], s->motion_steps, u, xf_buf);
    xs_xf_inverse(xf_buf, inv_buf);
    *xf = xf_buf;
    *inv = inv_buf;
}

/* A wide BVH's triangle as v0 and edges. */
XS_DEVICE xs_tri xs_tri_from_w(const xs_wtri *w)
{
    xs_tri t;
    t.v0 = xs_v3_load(w->v0);
    t.e1 = xs_sub(xs_v3_load(w->v1), t.v0);
    t.e2 = xs_sub(xs_v3_load(w->v2), t.v0);
    return t;
}

/* Triangle tri of mesh m, deforming within the shutter, at time u: its
 * corners interpolated between the two steps around u. */
XS_COLD xs_tri xs_tri_moving(const xs_scene_view *s, const xs_mesh *m, uint32_t tri, float u)
{
    float f;
    uint32_t seg = xs_motion_segment(s->motion_steps, u, &f);
    const xs_tri *a = &s->motion_tris[m->motion + seg * m->tri_count + (tri - m->tri_first)];
    const xs_tri *b = a + m->tri_count;
    xs_tri t;
    t.v0 = xs_add(a->v0, xs_scale(xs_sub(b->v0, a->v0), f));
    t.e1 = xs_add(a->e1, xs_scale(xs_sub(b->e1, a->e1), f));
    t.e2 = xs_add(a->e2, xs_scale(xs_sub(b->e2, a->e2), f));
    return t;
}

/* Triangle tri (of mesh m) at time u: tris[tri], or its deforming corners
 * interpolated between the two steps around u. */
XS_DEVICE xs_tri xs_tri_at(const xs_scene_view *s, const xs_mesh *m, uint32_t tri, float u)
{
    if (m->motion == UINT32_MAX)
        return xs_tri_from_w(&s->tris[tri]);
    return xs_tri_moving(s, m, tri, u);
}

/* The camera at time u: the still one, or its steps' pose with the still
 * one's field of view and aspect. */
XS_COLD xs_camera xs_camera_at(const xs_scene_view *s, float u)
{
    xs_camera c = s->camera;
    if (s->camera_motion == UINT32_MAX || s->motion_steps < 2u)
        return c;
    float m[12];
    xs_motion_xf_at(&s->motion_xf[s->camera_motion], s->motion_steps, u, m);
    c.pos = xs_v3(m[3], m[7], m[11]);
    c.fwd = xs_normalize(xs_v3(-m[2], -m[6], -m[10]));
    xs_vec3 up = xs_normalize(xs_v3(m[1], m[5], m[9]));
    c.right = xs_normalize(xs_cross(c.fwd, up));
    c.up = xs_cross(c.right, c.fwd);
    return c;
}

#endif
