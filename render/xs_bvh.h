/* BVH builders: a mesh's BLAS over triangles, the TLAS over instance boxes;
 * and the refit of a built tree to moved primitives.
 *
 * Nodes are the kernels' xs_bvh_node, children side by side and after their
 * parent, leaves of up to 8 primitives. Two builders, both deterministic (any thread count gives the
 * same tree, byte for byte): a binned SAH, and from XS_BVH_CLUSTER_MIN
 * primitives on a clustered builder (Morton clusters under the binned SAH),
 * about 3.5 times as fast for a tree 3-6% costlier (render/bvh.c says how,
 * docs/benchmarks.md what was measured).
 */
#ifndef XS_BVH_H
#define XS_BVH_H

#include <stdint.h>

#include "io/xs_result.h"
#include "kernels/xs_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which builder meshes get: auto takes the binned SAH below
 * XS_BVH_CLUSTER_MIN triangles and the clustered builder from there on;
 * binned gives the better tree (a few % fewer node visits) at a quarter of
 * the build speed. */
typedef enum xs_bvh_method { XS_BVH_AUTO = 0, XS_BVH_BINNED = 1, XS_BVH_CLUSTERED = 2 } xs_bvh_method;

enum { XS_BVH_CLUSTER_MIN = 65536 };

/* Builds a BVH over n triangles on up to `threads` threads (the tree does
 * not depend on the count), the builder chosen as XS_BVH_AUTO does.
 * *nodes (node 0 = root) and *order (leaf order: order[i] is the input index
 * of the triangle stored at position i) are malloc'd for the caller. */
xs_result xs_bvh_build(const xs_tri *tris, uint32_t n, int threads, xs_bvh_node **nodes,
                       uint32_t *node_count, uint32_t **order, xs_err *err);

/* The same with the builder named, whatever the size. */
xs_result xs_bvh_build_with(const xs_tri *tris, uint32_t n, int threads, xs_bvh_method method,
                            xs_bvh_node **nodes, uint32_t *node_count, uint32_t **order, xs_err *err);

/* The same over n boxes given as 6 floats each (lo x y z, hi x y z). */
xs_result xs_bvh_build_boxes(const float *lohi, uint32_t n, int threads, xs_bvh_node **nodes,
                             uint32_t *node_count, uint32_t **order, xs_err *err);

/* Recomputes the bounds of the count nodes from nodes[root] on (a tree as
 * built, children indices absolute, every child after its parent) bottom up:
 * a leaf's from its primitives' boxes, primitive p's 6 floats (lo x y z, hi
 * x y z) at boxes[6 * (p - prim_base)]; an inner node's from its children.
 * The tree keeps its shape: a deforming mesh's tree follows its triangles. */
void xs_bvh_refit(xs_bvh_node *nodes, uint32_t root, uint32_t count, const float *boxes,
                  uint32_t prim_base);

/* The same with each leaf's bounds from its triangles (tris[p] for a leaf's
 * primitive p, absolute indices); returns the refit tree's SAH cost, as
 * xs_bvh_sah_cost would (summed from the last node back). */
double xs_bvh_refit_tris(xs_bvh_node *nodes, uint32_t root, uint32_t count, const xs_tri *tris);

/* The tree's SAH cost relative to its root's area (traversal step and
 * triangle test both cost 1): the expected work of a ray that enters the
 * root, under the heuristic's assumptions. Lower is better. */
double xs_bvh_sah_cost(const xs_bvh_node *nodes, uint32_t count);

#ifdef __cplusplus
}
#endif
#endif
