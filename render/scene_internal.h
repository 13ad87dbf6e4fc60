/* The scene's insides, shared by the files that build it: scene.c (the
 * container: meshes, instances, the TLAS, the view), scene_gltf.c (a glTF
 * scene's materials, textures, meshes, environment and camera),
 * scene_lights.c (the light distribution and environment sampling tables)
 * and scene_anim.c (a frame's pose: what moves, deforms and blurs).
 * Nothing outside render/scene*.c includes this. */
#ifndef XS_SCENE_INTERNAL_H
#define XS_SCENE_INTERNAL_H

#include <stdbool.h>

#include "io/xs_texpage.h"
#include "kernels/xs_types.h"
#include "render/xs_scene.h"

struct xs_scene {
    char name[64];
    xs_tri *tris;       /* each mesh's in its binary tree's leaf order (builders, refits, posing) */
    xs_tri_attr *attrs;
    uint32_t tri_count, tri_cap;
    xs_bvh_node *nodes; /* the meshes' binary trees (the wide BVH is made from them) */
    uint32_t node_count, node_cap;
    xs_mesh *meshes;    /* root: the binary tree's root; wroot: the wide tree's (xs_scene_wide) */
    uint32_t mesh_count, mesh_cap;
    xs_instance *instances;
    uint32_t instance_count;
    xs_bvh_node *tlas;  /* the binary tree over instances */
    uint32_t tlas_count;
    uint32_t *tlas_order; /* the TLAS's leaf order over the instances it was built from */
    float *inst_boxes;    /* per instance (instances' order): its world box the TLAS was built over */
    /* what the kernels traverse (render/xs_wbvh.h), made from the binary
     * trees by xs_scene_wide after each build or pose: each triangle with its
     * exact vertices (tris' order), the wide nodes */
    xs_wtri *wtris;
    xs_wnode *wnodes;
    uint32_t wnode_count, wroot;
    int wdepth;
    bool has_alpha; /* some triangle is alpha-masked */
    float wide_origin_bound; /* the camera's coordinate magnitude the wide BVH's box margins cover */
    xs_material *materials;
    uint32_t material_count;
    xs_texture *textures;
    uint32_t texture_count;
    float *texture_mean; /* linear mean colour luminance per texture (light power) */
    /* texture pages (kernels/xs_types.h, render/scene_textures.c): levels;
     * held whole: every page in tex_pool, tex_page its places; paged: no
     * pool here, pages come from the attached cache (render/texcache.c) */
    xs_tex_level *tex_levels;
    uint32_t tex_level_count;
    uint32_t *tex_page;
    uint32_t tex_page_count;
    uint32_t *tex_pool;
    size_t tex_pool_units; /* XS_TEX_UNIT texels each */
    bool tex_paged;
    uint64_t tex_paged_bytes; /* paged: the page set decompressed */
    struct xs_texcache *texcache; /* paged: attached, not owned */
    uint64_t gpu_tex_budget;      /* a GPU's texture pages (0: auto) */
    bool borrowed;        /* the arrays live in a shared block (scene_share.c): not freed here */
    float srgb[256];
    xs_light *lights;
    float *light_cdf, *light_pmf;
    uint32_t light_count;
    uint32_t *inst_light_base, *tri_light;
    uint32_t env_light;
    xs_vec3 background;
    float *env;
    int env_w, env_h;
    float *env_row_cdf, *env_col_cdf;
    float env_func_int;
    float filter_icdf[XS_FILTER_TABLE + 1];
    float ray_eps;
    int build_threads;
    xs_bvh_method bvh_method;
    double build_seconds; /* BLAS and TLAS builds, summed */
    xs_vec3 cam_pos, cam_fwd, cam_up;
    float cam_yfov_deg;
    xs_vec3 world_lo, world_hi;
    double env_lum;           /* the environment's mean luminance (its light power) */
    uint32_t *mesh_emissive;  /* per mesh: its emissive triangles */
    /* animation (NULL: nothing in the scene changes with time) and the
     * current frame's motion blur: steps (0: none), the transforms of moving
     * instances and the camera, the triangles of deforming meshes */
    struct xs_scene_anim *anim;
    uint32_t motion_steps, camera_motion;
    xs_motion_xf *motion_xf;
    uint32_t motion_xf_count, motion_xf_cap;
    xs_tri *motion_tris;
    uint32_t motion_tri_count, motion_tri_cap;
    int motion_bvh;           /* XS_MOTION_BVH_* */
    xs_bvh_node *motion_nodes; /* per-segment trees (XS_MOTION_BVH_SEGMENTS) */
    uint32_t motion_node_count, motion_node_cap;
    /* byte ranges of the view's arrays written since a device last took
     * them (xs_scene_blobs), by the array's offset in xs_scene_view */
    struct {
        size_t view_offset, lo, hi;
    } dirty[XS_SCENE_BLOBS_MAX];
    int dirty_count;
};

/* A mesh's triangles and BLAS, built ahead (xs_scene_from_gltf builds the
 * meshes of a batch in parallel) or by xs_scene_add_mesh itself. */
typedef struct xs_mesh_blas {
    xs_tri *in;
    xs_bvh_node *nodes;
    uint32_t nn, *order;
    xs_result r;
    xs_err err;
} xs_mesh_blas;

/* A monotonic clock in seconds (build timings). */
double xs_scene_clock(void);
/* A scene with its defaults: the name, how to build, the sRGB table, the
 * default pixel filter. NULL when out of memory. */
xs_scene *xs_scene_alloc(const char *name, const xs_scene_build *build);
/* The glTF default material (white, rough, IOR 1.5). */
void xs_scene_default_material(xs_material *m);
/* The triangle with corners a, b, c (3 floats each). */
xs_tri xs_tri_of(const float *a, const float *b, const float *c);
void xs_mesh_blas_free(xs_mesh_blas *b);
/* Adds a mesh: triangles from positions (3 floats a vertex) and indices (3 a
 * triangle), optional uv sets, normals and tangents, one material a
 * triangle; with pre (its triangles and BLAS built ahead from the same pos
 * and idx) it takes them over instead of building. order_out (may be NULL)
 * receives the leaf order (malloc'd: order[i] is the input triangle stored
 * at position i). */
xs_result xs_scene_add_mesh(xs_scene *s, const float *pos, uint32_t nverts, const uint32_t *idx,
                            uint32_t ntris, const float *uv0, const float *uv1, const float *nrm,
                            const float *tan, const uint32_t *mat_of_tri, xs_mesh_blas *pre,
                            uint32_t **order_out, xs_err *err);

/* A glTF mesh's primitives gathered into one vertex and triangle list
 * (scene_gltf.c): vertex arrays (NULL where no primitive has the
 * attribute; zeros for those that lack it), indices offset by each
 * primitive's first vertex, a material per triangle (default_mat where the
 * primitive has none). */
typedef struct xs_mesh_arrays {
    uint32_t nv, nt;
    float *pos, *uv0, *uv1, *nrm, *tan;
    uint32_t *idx, *mat;
} xs_mesh_arrays;
xs_result xs_mesh_arrays_gather(const xs_gltf_scene *g, int mesh, uint32_t default_mat,
                                xs_mesh_arrays *a, xs_err *err);
void xs_mesh_arrays_free(xs_mesh_arrays *a);
/* Places mesh with a row-major 3x4 world-from-object transform; *cap is the
 * instance array's capacity. */
xs_result xs_scene_add_instance(xs_scene *s, uint32_t mesh, const float *xf34, uint32_t *cap,
                                xs_err *err);
/* After the instances: world bounds, the TLAS, instances in TLAS order,
 * identity instances merged into the top tree, the wide BVH. */
xs_result xs_scene_finish(xs_scene *s, xs_err *err);
/* Textures and their pages (scene_textures.c): from the glTF's decoded
 * images, or from the page store of a paged package (pages given). */
xs_result xs_scene_textures(xs_scene *s, const xs_gltf_scene *g, const xs_texstore *pages, xs_err *err);
/* After the environment is set: the light distribution (scene_lights.c). */
xs_result xs_scene_lights(xs_scene *s, const xs_gltf_light *pl, int npl, xs_err *err);
/* The light distribution again after things moved: emissive triangles'
 * indices again for meshes with mesh_dirty set (NULL: all), then every
 * light's power at its current place. Arrays keep their sizes. */
xs_result xs_scene_relight(xs_scene *s, const xs_gltf_light *pl, int npl, const uint8_t *mesh_dirty,
                           xs_err *err);
/* A triangle's shading frames (scene.c's, for meshes that deform). */
void xs_scene_attr_frames(xs_tri_attr *at, const uint32_t *vi, const float *pos, const float *nrm,
                          const float *tan, const float *uv0);
bool xs_scene_invert34(const float *m, float *inv, float *det_out);
/* The world box (6 floats) of in's mesh under in's own transform. */
void xs_scene_instance_box(const xs_scene *s, const xs_instance *in, float *box);
/* The TLAS over n instances in canonical order with their world boxes:
 * s->tlas, s->instances (canon in TLAS order; canon may be s->instances)
 * and the world bounds. */
xs_result xs_scene_tlas(xs_scene *s, const xs_instance *canon, const float *boxes, uint32_t n,
                        xs_err *err);
/* The wide BVH (render/xs_wbvh.h) and the kernels' triangles again from
 * the binary trees, the instances and tris: which identity instances join
 * the top tree (never one that moves within the shutter or whose mesh
 * deforms within it), each triangle's instance and alpha flag, the wide
 * nodes. What changed since the last call is marked for the devices.
 * xs_scene_finish calls it, and posing after every frame's change. */
xs_result xs_scene_wide(xs_scene *s, xs_err *err);
/* The wide BVH made again when the camera has moved beyond the coordinate
 * magnitude its box margins cover (a still scene's camera set after it). */
xs_result xs_scene_cover_camera(xs_scene *s, xs_err *err);

/* Sets XS_MAT_LAMBERT on each of the n materials xs_material_lambert holds
 * for, XS_MAT_GGX where xs_material_ggx does, and clears them on the
 * others: once a scene's materials are final. */
void xs_scene_mark_materials(xs_material *m, uint32_t n);
/* Marks bytes [lo, hi) of the view array at view_offset as written. */
void xs_scene_mark(xs_scene *s, size_t view_offset, size_t lo, size_t hi);

/* scene_anim.c, in the order xs_scene_from_gltf calls it: the animation and
 * which instances deform (each will own a mesh), before the meshes; the
 * deforming instances' meshes after the shared ones (inst_mesh: the scene
 * mesh of each glTF instance); once the camera is chosen (camera_node: its
 * glTF node, -1 for a manifest's camera), the scene posed at t = 0. */
xs_result xs_scene_anim_create(xs_scene *s, const xs_gltf_scene *g, const char *play, xs_err *err);
/* Whether glTF mesh m is placed by some instance that does not deform. */
bool xs_scene_anim_shares(const xs_scene *s, int gmesh);
xs_result xs_scene_anim_meshes(xs_scene *s, const xs_gltf_scene *g, const int32_t *gmesh_scene,
                               uint32_t *inst_mesh, xs_err *err);
xs_result xs_scene_anim_finish(xs_scene *s, int camera_node, xs_err *err);
void xs_scene_anim_destroy(struct xs_scene_anim *a);

#endif
