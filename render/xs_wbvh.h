/* The wide BVH the kernels traverse (kernels/xs_types.h: xs_wnode), made
 * from the binary trees the builders of render/bvh.c give (each mesh's,
 * and the one over instances) by collapsing them: a wide node takes the
 * children of its binary node and keeps opening the child of largest
 * surface area until it has four (the usual SAH-greedy collapse, as
 * Embree's BVH4 from binary builders). Child boxes are recomputed from the
 * triangles' exact vertices (so every triangle lies inside its leaf's box
 * however the builder rounded), grown by a margin that covers the float
 * rounding of the kernels' slab distances, and stored as 8-bit offsets on
 * the node's box, rounded outwards.
 *
 * One array holds every node: first the top tree (over the instances; an
 * instance flagged `merged` is replaced by its mesh's nodes, in world space:
 * it must have the identity transform), then a tree for each mesh that an
 * unmerged instance walks (but a mesh flagged binary_mesh). Deterministic: the same inputs give the same
 * bytes. Single-threaded, linear in the nodes.
 */
#ifndef XS_WBVH_H
#define XS_WBVH_H

#include <stdint.h>

#include "io/xs_result.h"
#include "kernels/xs_types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_wbvh_input {
    const xs_wtri *tris;         /* every mesh's triangles, exact vertices */
    const xs_bvh_node *nodes;    /* every mesh's binary nodes (absolute indices) */
    uint32_t node_count;
    const uint32_t *mesh_root;   /* per mesh: its binary root in nodes */
    uint32_t mesh_count;
    const xs_instance *instances;
    uint32_t instance_count;
    const xs_bvh_node *tlas;     /* the binary tree over instances (leaves index instances) */
    uint32_t tlas_count;
    const uint8_t *merged;       /* per instance: 1 = part of the top tree (identity transform) */
    /* per instance (NULL: none): 1 = it moves or its mesh deforms within the
     * shutter, and its box in the top tree also covers inst_box[6 i ..]
     * (its world box over the whole shutter) */
    const uint8_t *moves;
    const float *inst_box;
    /* per mesh (NULL: none): 1 = its instances are walked by the binary
     * traversal (it deforms within the shutter): no wide tree of its own */
    const uint8_t *binary_mesh;
    /* every ray starts within [-origin_bound, origin_bound]^3 in world space
     * besides the scene's own box (the camera's position; 0: none outside) */
    float origin_bound;
} xs_wbvh_input;

typedef struct xs_wbvh {
    xs_wnode *nodes;
    uint32_t count;
    uint32_t root;       /* the top tree's root */
    uint32_t *mesh_root; /* per mesh: its own tree's root, UINT32_MAX when no instance walks it */
    int depth;           /* the most node levels a traversal goes down (top tree + a mesh's) */
} xs_wbvh;

/* Collapses the binary trees of in into *out (malloc'd; xs_wbvh_free).
 * Fails on memory, or when the trees are deeper than a traversal's stack
 * holds (XS_WBVH_MAX_DEPTH levels, kernels/xs_intersect.h). */
xs_result xs_wbvh_build(const xs_wbvh_input *in, xs_wbvh *out, xs_err *err);
void xs_wbvh_free(xs_wbvh *w);

/* The box child slot `slot` of n stands for, exactly (the kernels compute
 * its planes in float, within the margin the builder added). */
void xs_wnode_child_box(const xs_wnode *n, int slot, double lo[3], double hi[3]);

#ifdef __cplusplus
}
#endif
#endif
