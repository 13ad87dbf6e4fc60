/* The kernel's view of a scene and of one tile's work: plain structs of
 * pointers and counts, laid out identically on the CPU and (after explicit
 * copies) on the GPU. The host builds them in render/; kernels only read them.
 *
 * Geometry: each mesh's triangles are stored once (xs_wtri, in its BVH's
 * leaf order); instances place meshes in the world with a 3x4 transform.
 * One wide BVH (xs_wnode, 4 children a node, render/wbvh.c) holds the
 * scene: its top tree runs over the instances, and a mesh placed by an
 * identity transform is part of that tree (its nodes and triangles in world
 * space: no transform, no second level); an instance with a real transform
 * is a child of kind XS_WCHILD_INSTANCE, and the ray moves into its object
 * space (xs_instance_ray, the one place a transform is looked up) to walk
 * its mesh's nodes from meshes[].root.
 *
 * Invariants: a wide node's inner children and instance children are
 * indices into wnodes and instances; a leaf child covers triangles [child,
 * child + count). In `nodes` (the builders' binary trees, kept for meshes
 * that deform within the shutter), a node with count > 0 is a leaf over
 * [first, first+count), otherwise its children are nodes first and first+1;
 * indices are absolute. Triangles are stored in their binary tree's leaf
 * order; instances in the binary top tree's leaf order. light_cdf is
 * non-decreasing and ends at 1.
 *
 * Motion blur (motion_steps >= 2): a ray carries a time in [0, 1] across the
 * shutter; motion_steps instants spread evenly over it hold the transforms of
 * moving instances and of the camera (decomposed, so rotations interpolate on
 * the sphere) and the triangles of deforming meshes; a ray at time u uses
 * segment floor(u * (steps - 1)) and interpolates within it. A moving
 * instance is never merged into the top tree: its box there covers the whole
 * shutter and xs_instance_ray moves the ray by its transform at the ray's
 * time. A mesh deforming within the shutter (meshes[].motion set) is walked
 * by the binary traversal over its per-segment trees (motion_nodes) or its
 * one tree over every step (nodes[meshes[].root]), with its triangles
 * interpolated at the ray's time (xs_motion.h); it has no wide tree.
 * With motion_steps 0 nothing moves within a frame and no time is ever read.
 */
#ifndef XS_TYPES_H
#define XS_TYPES_H

#include "kernels/xs_math.h"

/* A triangle as the BVH builders take it (render/bvh.c). */
typedef struct xs_tri {
    xs_vec3 v0, e1, e2; /* object space; v1 = v0 + e1, v2 = v0 + e2 */
} xs_tri;

enum {
    XS_WTRI_ALPHA = 1 /* its material is alpha-masked: test alpha before accepting a hit */
};

/* A triangle as the kernels intersect it: its three vertices exactly as the
 * mesh gives them (so an edge two triangles share is bit-identical in both,
 * which the watertight test needs), 16-byte rows, one vector load each. The
 * fourth lanes: flags (XS_WTRI_*), the instance that places it in the top
 * tree without a transform (UINT32_MAX: reached only through instances),
 * the material. */
typedef struct XS_ALIGN(16) xs_wtri {
    float v0[3];
    uint32_t flags;
    float v1[3];
    uint32_t world_inst;
    float v2[3];
    uint32_t material;
} xs_wtri;

enum {
    XS_ATTR_NORMALS = 1,   /* n[] holds vertex normals (else: flat shading) */
    XS_ATTR_TANGENTS = 2,  /* t[] holds tangents (else: none, no normal map) */
    XS_ATTR_BITAN_NEG = 4  /* bitangent = -(n x t) (glTF TANGENT.w = -1) */
};

/* What shading needs of a triangle beside its position. */
typedef struct xs_tri_attr {
    float uv[2][6];    /* TEXCOORD_0 and TEXCOORD_1 at v0, v1, v2 (zeros when absent) */
    uint32_t n[3];     /* object-space vertex normals, octahedral (xs_oct_encode) */
    uint32_t t[3];     /* object-space tangents, octahedral */
    uint32_t material;
    uint32_t flags;    /* XS_ATTR_* */
} xs_tri_attr;

/* A node of the builders' binary trees (render/bvh.c): a leaf when count >
 * 0 over [first, first+count), else children first and first+1. */
typedef struct xs_bvh_node {
    float bmin[3];
    uint32_t first; /* first primitive (leaf) or first child (inner) */
    float bmax[3];
    uint32_t count; /* primitives in a leaf, 0 for an inner node */
} xs_bvh_node;

/* The kinds of a wide node's children (meta bits 6-7). */
enum {
    XS_WCHILD_EMPTY = 0,
    XS_WCHILD_INNER = 1,    /* child: a node in wnodes */
    XS_WCHILD_LEAF = 2,     /* child: the first of (meta & 63) triangles */
    XS_WCHILD_INSTANCE = 3  /* child: an instance; its mesh's root is meshes[mesh].wroot */
};
enum { XS_WIDTH = 4 };

/* A wide BVH node: four children with their boxes compressed to 8 bits an
 * axis relative to this node's box (as CWBVH, Ylitie et al. 2017): child
 * slot i spans origin[k] + q[k][i] * 2^(exp[k] - 127) on axis k, rounded
 * outwards when built, so the decoded box always holds the child. 64 bytes,
 * 16-byte aligned: four vector loads on a GPU, one cache line on a CPU. */
typedef struct XS_ALIGN(16) xs_wnode {
    float origin[3];
    uint8_t exp[3];               /* biased exponents of the three axis scales */
    uint8_t pad0_;
    uint32_t child[XS_WIDTH];     /* node, first triangle or instance, by kind */
    uint8_t qlo[3][XS_WIDTH];     /* [axis][slot] */
    uint8_t qhi[3][XS_WIDTH];
    uint8_t meta[XS_WIDTH];       /* kind << 6 | leaf triangle count */
    uint32_t pad1_;
} xs_wnode;

typedef struct xs_mesh {
    uint32_t root; /* its binary tree's root in nodes (the host's; the kernels' for deforming meshes) */
    uint32_t tri_first, tri_count;
    /* a mesh deforming within the shutter: step k's triangles (leaf order)
     * at motion_tris[motion + k * tri_count]; UINT32_MAX: tris[] holds it */
    uint32_t motion;
    /* and, when it has a tree per segment (XS_MOTION_BVH_SEGMENTS), segment
     * s's root at motion_nodes[seg_nodes + s * seg_stride]; UINT32_MAX: its
     * one tree at `root` bounds every step */
    uint32_t seg_nodes, seg_stride;
    uint32_t wroot; /* its wide tree's root in wnodes (an instance walks it); UINT32_MAX: none */
} xs_mesh;

enum {
    XS_INST_FLIPPED = 1, /* negative determinant: winding reversed */
    XS_INST_MOTION = 2,  /* moves within the shutter: motion_xf[motion ...], xf/inv at the frame's time */
    XS_INST_IDENTITY = 4 /* the identity transform and still: shading skips it */
};

typedef struct xs_instance {
    float xf[12];  /* world from object, row-major 3x4 */
    float inv[12]; /* object from world */
    uint32_t mesh;
    uint32_t flags;
    uint32_t motion; /* XS_INST_MOTION: its first step in motion_xf */
    uint32_t pad_;
} xs_instance;

/* A world-from-object transform at one motion step, decomposed as
 * M = T R(q) S (as Cycles' DecomposedTransform): interpolating q on the
 * sphere and t, s linearly keeps a spinning wheel round. */
typedef struct xs_motion_xf {
    float q[4]; /* rotation, unit quaternion (x, y, z, w) */
    float t[3]; /* translation */
    float s[9]; /* scale and shear, row-major 3x3 */
} xs_motion_xf;

enum {
    XS_TEX_CLAMP_S = 1,
    XS_TEX_CLAMP_T = 2,
    XS_TEX_MIRROR_S = 4,
    XS_TEX_MIRROR_T = 8,
    XS_TEX_NEAREST = 16
};

/* Textures are MIP pyramids cut into pages of up to XS_TEX_PAGE x
 * XS_TEX_PAGE texels (RGBA8 packed, R in the low byte), row-major within a
 * page; the last column and row of pages of a level are narrower. A page is
 * found through tex_page[] (xs_scene_view): its place in tex_pool in units
 * of XS_TEX_UNIT texels, or UINT32_MAX while it is not resident. The same
 * layout serves textures held whole in memory, the CPU's page cache
 * (render/texcache.c, through tex_fetch) and a GPU's demand-loaded pages. */
enum { XS_TEX_PAGE_SHIFT = 6, XS_TEX_PAGE = 64, XS_TEX_PAGE_TEXELS = 4096, XS_TEX_UNIT = 16 };

/* One MIP level of a texture: its size and its pages, pages_x a row,
 * numbered from first_page row by row. Level l is max(1, width >> l) by
 * max(1, height >> l) texels, a 2x2 box filter of level l - 1, averaged in
 * linear light for an image a material reads as sRGB (io/texpage.c). */
typedef struct xs_tex_level {
    uint32_t width, height;
    uint32_t pages_x;
    uint32_t first_page;
} xs_tex_level;

enum { XS_TEX_LEVELS = 16 }; /* a CUDA texture object's levels at most (32768 texels a side); a larger texture is read from its pages */

/* A texture: its image's MIP levels (tex_levels[level0 ..]) and a
 * sampler's wrap and filter modes. */
typedef struct xs_texture {
    uint32_t width, height; /* level 0 */
    uint32_t level0;        /* its first level in tex_levels[] */
    uint16_t flags;         /* XS_TEX_* */
    uint16_t levels;        /* down to 1 x 1 */
} xs_texture;

XS_DEVICE uint32_t xs_tex_level_size(uint32_t n, uint32_t level)
{
    uint32_t m = n >> level;
    return m ? m : 1u;
}

/* A texture as a material uses it: uv' = (m0 u + m1 v + m2, m3 u + m4 v + m5)
 * (KHR_texture_transform). tex < 0: none. */
typedef struct xs_texslot {
    int32_t tex;
    int32_t texcoord; /* 0 or 1 */
    float m[6];
} xs_texslot;

enum {
    XS_MAT_EMIT_TWO_SIDED = 1, /* emits from both sides (glTF doubleSided) */
    XS_MAT_ALPHA_MASK = 2,     /* alpha below cutoff is not a surface */
    XS_MAT_VOLUME = 4,         /* the boundary of a solid: transmission refracts (KHR_materials_volume) */
    XS_MAT_LAMBERT = 8,        /* set by the host (xs_scene_mark_materials) where xs_material_lambert
                                  holds: the CPU's eight-path shading takes it (kernels/cpu/shade_avx2.h) */
    XS_MAT_GGX = 16            /* the same for xs_material_ggx: untextured GGX lobes over the base */
};

typedef struct xs_material {
    xs_vec3 albedo;   /* diffuse reflectance (glTF baseColorFactor.rgb) */
    xs_vec3 emission; /* emitted radiance (emissiveFactor * emissiveStrength) */
    uint32_t flags;
    float alpha, alpha_cutoff;
    xs_texslot base_tex, emit_tex;
    xs_texslot mr_tex;     /* metallic (B) and roughness (G), linear */
    xs_texslot normal_tex; /* tangent-space normal map, linear */
    xs_texslot trans_tex;  /* transmission (R), linear */
    float normal_scale;
    float metallic, roughness, transmission, ior;
    xs_vec3 sigma_a; /* XS_MAT_VOLUME: absorption inside, per unit length (0: clear) */
    float pad_;
} xs_material;

enum { XS_LIGHT_TRI = 0, XS_LIGHT_POINT = 1, XS_LIGHT_SPOT = 2, XS_LIGHT_DIR = 3, XS_LIGHT_ENV = 4 };

typedef struct xs_light {
    uint32_t type;
    uint32_t instance, tri; /* XS_LIGHT_TRI */
    uint32_t pad_;
    xs_vec3 pos;       /* point, spot */
    xs_vec3 dir;       /* spot, directional: the direction light travels */
    xs_vec3 intensity; /* colour * intensity (cd for point/spot, lux for directional) */
    float range;       /* 0: infinite */
    float cos_inner, cos_outer;
} xs_light;

typedef struct xs_camera {
    xs_vec3 pos;
    xs_vec3 right, up, fwd; /* unit axes */
    float tan_half_fovy;
    float aspect; /* width / height of the frame */
} xs_camera;

typedef struct xs_scene_view {
    const xs_wtri *tris;
    const xs_tri_attr *attrs;
    const xs_wnode *wnodes; /* the top tree, then each instanced mesh's */
    const xs_mesh *meshes;
    const xs_instance *instances;
    const unsigned long long *tex_objects; /* GPU: per texture its CUDA texture objects
                                              (linear, sRGB), 0 for one read from its
                                              pages; NULL on the CPU */
    uint32_t tri_count, wnode_count, instance_count;
    uint32_t wroot; /* the top tree's root node */
    const xs_material *materials;
    const xs_texture *textures;
    const uint32_t *tex_pool; /* resident pages (see xs_texture) */
    const float *srgb_to_linear; /* 256 entries */
    const xs_light *lights;
    const float *light_cdf; /* chosen by power */
    const float *light_pmf;
    uint32_t light_count;
    uint32_t flags; /* XS_VIEW_* */
    /* emissive triangle -> light: inst_light_base[instance] + tri_light[tri]
     * (UINT32_MAX in either: not a light) */
    const uint32_t *inst_light_base;
    const uint32_t *tri_light;
    uint32_t env_light;  /* index of the environment in lights[], UINT32_MAX: none */
    xs_vec3 background;  /* radiance of escaping rays (times env when present) */
    const float *env;    /* equirectangular RGB float, env_w x env_h, or NULL */
    int env_w, env_h;
    /* environment importance sampling: piecewise-constant over env pixels
     * by luminance x sin(theta); row CDF (env_h + 1) and per-row CDFs
     * (env_h x (env_w + 1)), and the function's integral over [0,1]^2 */
    const float *env_row_cdf;
    const float *env_col_cdf;
    float env_func_int;
    const float *ggx_tables; /* 2 x XS_GGX_TABLE_N^2: E and E_w (xs_bsdf.h) */
    const float *filter_icdf; /* XS_FILTER_TABLE + 1 entries: pixel offset at CDF u */
    float world_radius;
    float ray_eps;       /* self-intersection offset, relative to coordinates */
    xs_camera camera;
    /* motion blur (see the top of this file): steps over the shutter (0: none) */
    uint32_t motion_steps;
    uint32_t camera_motion; /* the camera's first step in motion_xf; UINT32_MAX: still */
    const xs_motion_xf *motion_xf;
    const xs_tri *motion_tris;
    const xs_bvh_node *motion_nodes; /* per-segment trees of deforming meshes */
    const xs_bvh_node *nodes; /* the binary trees: a deforming mesh's one tree over every step */
    /* texture pages (see xs_texture): levels, and each page's place in
     * tex_pool (UINT32_MAX: not resident) */
    const xs_tex_level *tex_levels;
    const uint32_t *tex_page;
    /* a GPU's demand loading: a page not resident sets its bit in
     * tex_request (shared by the launches in flight) and tex_asked[0] to 1
     * (the launch's own flag, read back after it); the host loads the pages
     * asked for and runs every flagged launch again (NULL: every page is
     * resident, or tex_fetch serves them) */
    uint32_t *tex_request;
    uint32_t *tex_asked;
    /* the CPU's page cache (render/texcache.c): when set, texels index[0..n)
     * of page `page` come from it into out (loaded first when not
     * resident); never set in a device's view */
    void (*tex_fetch)(const void *ctx, uint32_t page, const uint32_t *index, int n, uint32_t *out);
    const void *tex_ctx;
    uint32_t tex_page_count;
    uint32_t tex_pad_;
} xs_scene_view;

enum { XS_FILTER_TABLE = 256 };

enum {
    XS_VIEW_ALPHA = 1,  /* some triangle is alpha-masked (XS_WTRI_ALPHA): traversal must test alpha */
    XS_VIEW_LANES = 2 /* some material is XS_MAT_LAMBERT or XS_MAT_GGX: the CPU's eight-path shading may
                         take hits */
};

/* Which estimators the path tracer combines (tests compare them). */
enum { XS_MIS_ON = 0, XS_MIS_BSDF_ONLY = 1, XS_MIS_LIGHT_ONLY = 2 };

/* Output channels beside RGBA, in this order in a pixel's record. */
enum {
    XS_AOV_ALBEDO = 1,  /* 3: base colour at the first hit */
    XS_AOV_NORMAL = 2,  /* 3: world shading normal at the first hit */
    XS_AOV_DEPTH = 4,   /* 1: camera-space z of the nearest first hit (1e10: none) */
    XS_AOV_SAMPLES = 8  /* 1: samples that went into the pixel */
};

/* Floats a pixel record holds for the given AOV set. */
XS_DEVICE int xs_aov_channels(uint32_t aovs)
{
    return 4 + ((aovs & XS_AOV_ALBEDO) ? 3 : 0) + ((aovs & XS_AOV_NORMAL) ? 3 : 0) +
           ((aovs & XS_AOV_DEPTH) ? 1 : 0) + ((aovs & XS_AOV_SAMPLES) ? 1 : 0);
}

/* What one tile's render needs beside the scene. */
typedef struct xs_tile_params {
    int frame_width, frame_height;
    int x0, y0, width, height; /* the tile in frame pixels */
    int spp;
    int max_bounces; /* path vertices after the camera hit */
    int rr_start;    /* bounce from which Russian roulette applies */
    uint32_t seed;
    uint32_t frame;
    float clamp;     /* > 0: indirect contributions clamped to this (max channel) */
    int mis;         /* XS_MIS_* */
    uint32_t aovs;   /* XS_AOV_*: a pixel record is xs_aov_channels(aovs) floats */
} xs_tile_params;

/* What the kernel did, counted per tile: the basis of rays/s and FLOP
 * accounting. */
typedef struct xs_counters {
    uint64_t camera_rays;
    uint64_t bounce_rays;
    uint64_t shadow_rays;
    uint64_t node_visits;
    uint64_t tri_tests;
    uint64_t shade_events; /* surface hits shaded (BSDF set up and sampled) */
    uint64_t inst_visits;  /* rays moved into an instance's object space */
    uint64_t nonfinite; /* samples discarded as NaN or Inf */
} xs_counters;

XS_DEVICE void xs_counters_add(xs_counters *a, const xs_counters *b)
{
    a->camera_rays += b->camera_rays;
    a->bounce_rays += b->bounce_rays;
    a->shadow_rays += b->shadow_rays;
    a->node_visits += b->node_visits;
    a->tri_tests += b->tri_tests;
    a->nonfinite += b->nonfinite;
    a->shade_events += b->shade_events;
    a->inst_visits += b->inst_visits;
}

#endif
