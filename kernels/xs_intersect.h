/* Ray queries: ray-triangle (Moller-Trumbore), ray-box (slabs) and the BVH
 * traversal that serves closest-hit and any-hit (shadow) queries. Counts node
 * visits and triangle tests into xs_counters. */
#ifndef XS_INTERSECT_H
#define XS_INTERSECT_H

#include "kernels/xs_types.h"

typedef struct xs_ray {
    xs_vec3 o, d;
    float tmax;
} xs_ray;

typedef struct xs_hit {
    float t, u, v;
    uint32_t tri; /* UINT32_MAX when nothing was hit */
} xs_hit;

enum { XS_BVH_STACK = 64 };

XS_DEVICE bool xs_ray_tri(const xs_ray *r, const xs_tri *t, float tmax, float *out_t, float *out_u,
                          float *out_v)
{
    xs_vec3 p = xs_cross(r->d, t->e2);
    float det = xs_dot(t->e1, p);
    if (fabsf(det) < 1e-20f)
        return false;
    float inv = 1.0f / det;
    xs_vec3 s = xs_sub(r->o, t->v0);
    float u = xs_dot(s, p) * inv;
    if (u < 0.0f || u > 1.0f)
        return false;
    xs_vec3 q = xs_cross(s, t->e1);
    float v = xs_dot(r->d, q) * inv;
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

/* Closest hit when any_hit is false; otherwise returns at the first hit
 * (shadow rays). Near child first. */
XS_DEVICE bool xs_trace(const xs_scene_view *s, const xs_ray *r, bool any_hit, xs_hit *hit,
                        xs_counters *c)
{
    hit->tri = UINT32_MAX;
    hit->t = r->tmax;
    hit->u = hit->v = 0.0f;
    if (s->node_count == 0)
        return false;
    xs_vec3 inv_d = xs_safe_inv(r->d);
    uint32_t stack[XS_BVH_STACK];
    int sp = 0;
    uint32_t node = 0;
    c->node_visits++;
    if (xs_ray_box(&s->nodes[0], r->o, inv_d, hit->t) == INFINITY)
        return false;
    for (;;) {
        const xs_bvh_node *n = &s->nodes[node];
        if (n->count > 0) {
            for (uint32_t i = n->first; i < n->first + n->count; ++i) {
                float t, u, v;
                c->tri_tests++;
                if (xs_ray_tri(r, &s->tris[i], hit->t, &t, &u, &v)) {
                    hit->t = t;
                    hit->u = u;
                    hit->v = v;
                    hit->tri = i;
                    if (any_hit)
                        return true;
                }
            }
        } else {
            uint32_t a = n->first, b = n->first + 1;
            c->node_visits += 2;
            float ta = xs_ray_box(&s->nodes[a], r->o, inv_d, hit->t);
            float tb = xs_ray_box(&s->nodes[b], r->o, inv_d, hit->t);
            if (tb < ta) {
                float tt = ta;
                ta = tb;
                tb = tt;
                uint32_t tmp = a;
                a = b;
                b = tmp;
            }
            if (ta != INFINITY) {
                if (tb != INFINITY && sp < XS_BVH_STACK)
                    stack[sp++] = b;
                node = a;
                continue;
            }
        }
        if (sp == 0)
            break;
        node = stack[--sp];
    }
    return hit->tri != UINT32_MAX;
}

#endif
