/* The scene's insides, shared by the files that build it: scene.c (the
 * container: meshes, instances, the TLAS, the view), scene_gltf.c (a glTF
 * scene's materials, textures, meshes, environment and camera) and
 * scene_lights.c (the light distribution and environment sampling tables).
 * Nothing outside render/scene*.c includes this. */
#ifndef XS_SCENE_INTERNAL_H
#define XS_SCENE_INTERNAL_H

#include <stdbool.h>

#include "kernels/xs_types.h"
#include "render/xs_scene.h"

struct xs_scene {
    char name[64];
    xs_wtri *tris;      /* exact vertices, each mesh's in its binary tree's leaf order */
    xs_tri_attr *attrs;
    uint32_t tri_count, tri_cap;
    xs_bvh_node *nodes; /* the meshes' binary trees (the wide BVH is made from them) */
    uint32_t node_count, node_cap;
    xs_mesh *meshes;    /* root: the mesh's wide tree (set by xs_scene_finish) */
    uint32_t *mesh_broot; /* per mesh: its binary root in nodes */
    uint32_t mesh_count, mesh_cap;
    xs_instance *instances;
    uint32_t instance_count;
    xs_bvh_node *tlas;  /* the binary tree over instances */
    uint32_t tlas_count;
    xs_wnode *wnodes;   /* the wide BVH (render/xs_wbvh.h) */
    uint32_t wnode_count, wroot;
    int wdepth;
    bool has_alpha; /* some triangle is alpha-masked */
    xs_material *materials;
    uint32_t material_count;
    xs_texture *textures;
    uint32_t texture_count;
    float *texture_mean; /* linear mean colour luminance per texture (light power) */
    uint32_t *texels;
    size_t texel_count;
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
 * and idx) it takes them over instead of building. */
xs_result xs_scene_add_mesh(xs_scene *s, const float *pos, uint32_t nverts, const uint32_t *idx,
                            uint32_t ntris, const float *uv0, const float *uv1, const float *nrm,
                            const float *tan, const uint32_t *mat_of_tri, xs_mesh_blas *pre,
                            xs_err *err);
/* Places mesh with a row-major 3x4 world-from-object transform; *cap is the
 * instance array's capacity. */
xs_result xs_scene_add_instance(xs_scene *s, uint32_t mesh, const float *xf34, uint32_t *cap,
                                xs_err *err);
/* After the instances: world bounds, the TLAS, instances in TLAS order,
 * identity instances merged into the top tree, the wide BVH. */
xs_result xs_scene_finish(xs_scene *s, xs_err *err);
/* After the environment is set: the light distribution (scene_lights.c). */
xs_result xs_scene_lights(xs_scene *s, const xs_gltf_light *pl, int npl, xs_err *err);

#endif
