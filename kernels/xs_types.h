/* The kernel's view of a scene and of one tile's work: plain structs of
 * pointers and counts, laid out identically on the CPU and (after explicit
 * copies) on the GPU. The host builds them in render/; kernels only read them.
 *
 * Invariants: triangles are stored in BVH leaf order; node 0 is the root; a
 * node with count > 0 is a leaf over tris[first .. first+count); otherwise its
 * children are nodes[first] and nodes[first+1]. light_cdf is non-decreasing
 * and ends at 1; light_tris lists emissive triangles.
 */
#ifndef XS_TYPES_H
#define XS_TYPES_H

#include "kernels/xs_math.h"

typedef struct xs_tri {
    xs_vec3 v0, e1, e2; /* v1 = v0 + e1, v2 = v0 + e2 */
} xs_tri;

typedef struct xs_bvh_node {
    float bmin[3];
    uint32_t first; /* first triangle (leaf) or first child (inner) */
    float bmax[3];
    uint32_t count; /* triangles in a leaf, 0 for an inner node */
} xs_bvh_node;

enum { XS_MAT_EMIT_TWO_SIDED = 1 };

typedef struct xs_material {
    xs_vec3 albedo;   /* diffuse reflectance */
    xs_vec3 emission; /* emitted radiance (W sr^-1 m^-2 in scene units) */
    uint32_t flags;
    uint32_t pad_;
} xs_material;

typedef struct xs_camera {
    xs_vec3 pos;
    xs_vec3 right, up, fwd; /* unit axes */
    float tan_half_fovy;
    float aspect; /* width / height of the frame */
} xs_camera;

typedef struct xs_scene_view {
    const xs_tri *tris;
    const uint32_t *tri_material;
    uint32_t tri_count;
    const xs_bvh_node *nodes;
    uint32_t node_count;
    const xs_material *materials;
    const uint32_t *light_tris; /* emissive triangles */
    const float *light_cdf;     /* by emitted power */
    const float *light_pmf;
    uint32_t light_count;
    xs_vec3 background; /* radiance of rays that escape */
    float ray_eps;      /* self-intersection offset, scaled to the scene */
    xs_camera camera;
} xs_scene_view;

/* What one tile's render needs beside the scene. */
typedef struct xs_tile_params {
    int frame_width, frame_height;
    int x0, y0, width, height; /* the tile in frame pixels */
    int spp;
    int max_bounces; /* path vertices after the camera hit */
    int rr_start;    /* bounce from which Russian roulette applies */
    uint32_t seed;
    uint32_t frame;
} xs_tile_params;

/* What the kernel did, counted per tile: the basis of rays/s and FLOP
 * accounting. */
typedef struct xs_counters {
    uint64_t camera_rays;
    uint64_t bounce_rays;
    uint64_t shadow_rays;
    uint64_t node_visits;
    uint64_t tri_tests;
    uint64_t nonfinite; /* samples discarded as NaN or Inf */
} xs_counters;

#endif
