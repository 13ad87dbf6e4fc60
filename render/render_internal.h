/* render module internals shared between its .c files. */
#ifndef XS_RENDER_INTERNAL_H
#define XS_RENDER_INTERNAL_H

#include "render/xs_render.h"

/* Builds a BVH over n triangles on up to `threads` threads (the tree does
 * not depend on the count). Below XS_BVH_CLUSTER_MIN primitives: a binned
 * SAH over the primitives (16 bins, 3 axes); from there on: the same binned
 * SAH over Morton-order clusters of up to 32 primitives, each cluster's
 * subtree an SAH sweep over its list (render/bvh.c says why).
 * *nodes (node 0 = root) and *order (leaf order: order[i] is the input index
 * of the triangle stored at position i) are malloc'd for the caller. */
enum { XS_BVH_CLUSTER_MIN = 65536 };
xs_result xs_bvh_build(const xs_tri *tris, uint32_t n, int threads, xs_bvh_node **nodes, uint32_t *node_count,
                       uint32_t **order, xs_err *err);

/* The same over n boxes given as 6 floats each (lo x y z, hi x y z). */
xs_result xs_bvh_build_boxes(const float *lohi, uint32_t n, int threads, xs_bvh_node **nodes,
                             uint32_t *node_count, uint32_t **order, xs_err *err);

/* Either builder by name (xs_bvh_method, xs_render.h), whatever the size:
 * XS_BVH_AUTO chooses as xs_bvh_build does. */
xs_result xs_bvh_build_with(const xs_tri *tris, uint32_t n, int threads, xs_bvh_method method,
                            xs_bvh_node **nodes, uint32_t *node_count, uint32_t **order, xs_err *err);

/* Runs fn(ctx, begin, end, part) over [0, n) cut into `parts` contiguous
 * chunks (1 to 64), each on its own thread, the caller's included; a chunk
 * whose thread cannot start runs on the caller's. Returns when all are done. */
typedef void (*xs_par_fn)(void *ctx, uint32_t begin, uint32_t end, int part);
void xs_parallel_for(int parts, uint32_t n, xs_par_fn fn, void *ctx);

/* The tree's SAH cost relative to its root's area (traversal step and
 * triangle test both cost 1): the expected work of a ray that enters the
 * root, under the heuristic's assumptions. Lower is better. */
double xs_bvh_sah_cost(const xs_bvh_node *nodes, uint32_t count);

#endif
