/* Ray queries: ray-triangle (Moller-Trumbore), ray-box (slabs), and the
 * two-level traversal: the TLAS over instances, then each hit instance's
 * BLAS with the ray moved into object space (affine, direction not
 * renormalised, so distances t agree in both spaces). Alpha-masked
 * triangles below their cutoff are skipped. Serves closest-hit and any-hit
 * (shadow) queries; counts node visits and triangle tests. Under motion blur
 * a ray meets moving instances and deforming triangles where they are at
 * its time (xs_motion.h); everything else reads the same arrays the same
 * way as without. */
#ifndef XS_INTERSECT_H
#define XS_INTERSECT_H

#include "kernels/xs_motion.h"
#include "kernels/xs_texture.h"

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

/* Entry distance of the ray into the box, or +inf when it misses within tmax. */
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

XS_DEVICE xs_vec3 xs_safe_inv(xs_vec3 d)
{
    const float big = 1e30f;
    return xs_v3(fabsf(d.x) > 1e-30f ? 1.0f / d.x : (d.x >= 0.0f ? big : -big),
                 fabsf(d.y) > 1e-30f ? 1.0f / d.y : (d.y >= 0.0f ? big : -big),
                 fabsf(d.z) > 1e-30f ? 1.0f / d.z : (d.z >= 0.0f ? big : -big));
}

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

XS_DEVICE bool xs_alpha_passes(const xs_scene_view *s, uint32_t tri, float b1, float b2)
{
    const xs_tri_attr *a = &s->attrs[tri];
    const xs_material *m = &s->materials[a->material];
    if ((m->flags & XS_MAT_ALPHA_MASK) == 0u)
        return true;
    xs_uv uv = xs_tri_uv(a, b1, b2);
    return xs_material_alpha(s, m, &uv) >= m->alpha_cutoff;
}

/* One BLAS (of mesh m, at the ray's time); updates hit when closer.
 * Returns true on an any-hit early out. */
XS_DEVICE bool xs_trace_blas(const xs_scene_view *s, const xs_mesh *m, xs_vec3 o, xs_vec3 d,
                             float time, bool any_hit, uint32_t instance, xs_hit *hit, xs_counters *c)
{
    const bool deforms = m->motion != UINT32_MAX;
    const xs_bvh_node *nodes = s->nodes;
    uint32_t root = m->root;
    if (deforms && m->seg_nodes != UINT32_MAX) { /* the tree of the ray's segment */
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
                bool got;
                if (!deforms) {
                    got = xs_ray_tri(o, d, &s->tris[i], hit->t, &t, &u, &v);
                } else {
                    xs_tri tm = xs_tri_at(s, m, i, time);
                    got = xs_ray_tri(o, d, &tm, hit->t, &t, &u, &v);
                }
                if (got && xs_alpha_passes(s, i, u, v)) {
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

/* Closest hit when any_hit is false; otherwise returns at the first hit. */
XS_DEVICE bool xs_trace(const xs_scene_view *s, const xs_ray *r, bool any_hit, xs_hit *hit,
                        xs_counters *c)
{
    hit->tri = UINT32_MAX;
    hit->instance = UINT32_MAX;
    hit->t = r->tmax;
    hit->u = hit->v = 0.0f;
    if (s->tlas_count == 0)
        return false;
    xs_vec3 inv_d = xs_safe_inv(r->d);
    uint32_t stack[XS_BVH_STACK];
    int sp = 0;
    uint32_t node = 0;
    c->node_visits++;
    if (xs_ray_box(&s->tlas[0], r->o, inv_d, hit->t) == INFINITY)
        return false;
    for (;;) {
        const xs_bvh_node *n = &s->tlas[node];
        if (n->count > 0) {
            for (uint32_t i = n->first; i < n->first + n->count; ++i) {
                const xs_instance *in = &s->instances[i];
                c->inst_visits++;
                const float *inv = in->inv;
                float xb[12], ib[12];
                if ((in->flags & XS_INST_MOTION) != 0u) {
                    xs_motion_xf_at(&s->motion_xf[in->motion], s->motion_steps, r->time, xb);
                    xs_xf_inverse(xb, ib);
                    inv = ib;
                }
                xs_vec3 o = xs_xf_point(inv, r->o), d = xs_xf_dir(inv, r->d);
                if (xs_trace_blas(s, &s->meshes[in->mesh], o, d, r->time, any_hit, i, hit, c))
                    return true;
            }
        } else if (xs_bvh_descend(s->tlas, n, r->o, inv_d, hit->t, stack, &sp, &node, c)) {
            continue;
        }
        if (sp == 0)
            break;
        node = stack[--sp];
    }
    return hit->tri != UINT32_MAX;
}

#endif
