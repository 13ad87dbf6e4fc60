/* render module internals shared between its .c files. */
#ifndef XS_RENDER_INTERNAL_H
#define XS_RENDER_INTERNAL_H

#include "render/xs_render.h"

/* Builds a BVH over n triangles with a binned SAH (16 bins, 3 axes), on up
 * to `threads` threads (the tree does not depend on the count).
 * *nodes (node 0 = root) and *order (leaf order: order[i] is the input index
 * of the triangle stored at position i) are malloc'd for the caller. */
xs_result xs_bvh_build(const xs_tri *tris, uint32_t n, int threads, xs_bvh_node **nodes, uint32_t *node_count,
                       uint32_t **order, xs_err *err);

/* The same over n boxes given as 6 floats each (lo x y z, hi x y z). */
xs_result xs_bvh_build_boxes(const float *lohi, uint32_t n, int threads, xs_bvh_node **nodes,
                             uint32_t *node_count, uint32_t **order, xs_err *err);

#endif
