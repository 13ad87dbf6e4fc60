/* The scene in memory: what one rank renders.
 *
 * Meshes (each with its BLAS, triangles in leaf order and their shading
 * attributes), instances placing meshes in the world, the TLAS over instance
 * bounds, materials and textures, lights chosen by power, the environment,
 * the camera, and the host-built tables the kernels read (pixel filter, GGX
 * albedo). Built once per job from a triangle soup (xs_scene_create), a loaded
 * glTF (xs_scene_from_gltf) or a built-in scene; read-only and shareable
 * across threads afterwards. The kernels see it through an xs_scene_view.
 */
#ifndef XS_SCENE_H
#define XS_SCENE_H

#include <stddef.h>
#include <stdint.h>

#include "io/xs_gltf.h"
#include "io/xs_image.h"
#include "io/xs_manifest.h"
#include "io/xs_result.h"
#include "kernels/xs_types.h"
#include "render/xs_bvh.h"
#include "render/xs_film.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How BVHs are built for a scene (zero: the defaults). */
typedef struct xs_scene_build {
    int threads;          /* 0: every core of this process's affinity */
    xs_bvh_method bvh;    /* XS_BVH_AUTO by default */
} xs_scene_build;

/* A material of a triangle soup: diffuse and possibly emissive; the fields
 * after flags (zero by default) turn it into the glTF metallic-roughness
 * model. ior 0 means 1: no dielectric coating, a pure Lambert base. */
typedef struct xs_diffuse_material {
    xs_vec3 albedo;
    xs_vec3 emission;
    uint32_t flags; /* XS_MAT_EMIT_TWO_SIDED, XS_MAT_VOLUME */
    float metallic, roughness, ior, transmission;
    xs_vec3 sigma_a; /* XS_MAT_VOLUME: absorption per unit length inside */
} xs_diffuse_material;

/* A triangle soup with one material per triangle, as handed to the builder. */
typedef struct xs_scene_desc {
    const char *name;
    const float *positions;       /* tri_count * 9 floats: v0, v1, v2 */
    const uint32_t *materials_of; /* tri_count material indices */
    uint32_t tri_count;
    const xs_diffuse_material *materials;
    uint32_t material_count;
    xs_vec3 background;
    /* camera: position, look-at target, up, vertical field of view in degrees */
    xs_vec3 cam_pos, cam_target, cam_up;
    float cam_yfov_deg;
    xs_scene_build build;
} xs_scene_desc;

typedef struct xs_scene xs_scene;

/* Builds the scene: copies the triangles, builds the BVH, collects emissive
 * triangles into a light distribution by power. */
xs_result xs_scene_create(const xs_scene_desc *desc, xs_scene **out, xs_err *err);
void xs_scene_destroy(xs_scene *scene); /* accepts NULL */

/* How a glTF scene becomes a render scene: the camera and environment a
 * manifest (or the defaults) ask for, and how to build. */
typedef struct xs_scene_setup {
    const char *name;
    xs_cam_mode cam_mode;
    const char *cam_name;
    int cam_index;
    float cam_pos[3], cam_target[3], cam_up[3], cam_yfov_deg;
    float env_color[3], env_strength;
    const xs_image *env_image; /* equirectangular, or NULL for the constant colour */
    xs_scene_build build;
} xs_scene_setup;

/* The setup a package's manifest asks for (env_image: the opened image or
 * NULL). Borrows the manifest's strings. */
void xs_scene_setup_from_manifest(xs_scene_setup *su, const char *name, const xs_manifest *m,
                                  const xs_image *env_image, const xs_scene_build *build);

/* Builds a render scene from a loaded glTF: each mesh once with its BLAS,
 * one instance per node that places it, the TLAS, materials, textures,
 * lights (emissive triangles and KHR_lights_punctual), the environment and
 * the chosen camera (without one: a 40 degree view down -z framing the
 * scene). The glTF scene may be destroyed afterwards. */
xs_result xs_scene_from_gltf(const xs_gltf_scene *g, const xs_scene_setup *setup, xs_scene **out,
                             xs_err *err);

/* The built-in scenes. "cornell": the Cornell box from the published Cornell
 * measurements (units: mm). build may be NULL (defaults). */
xs_result xs_scene_builtin(const char *name, const xs_scene_build *build, xs_scene **out,
                           xs_err *err);
/* Fills desc with the Cornell box (static data; nothing to free). */
void xs_cornell_desc(xs_scene_desc *desc);

/* Sets the pixel filter (width in pixels, > 0); the default is
 * Blackman-Harris of width 1.5, as Cycles'. Call before rendering. */
void xs_scene_set_filter(xs_scene *scene, xs_filter_kind kind, float width);

/* The kernel's view for a frame of the given size (the camera's aspect
 * follows it). Borrowed from the scene; valid while the scene lives. */
xs_scene_view xs_scene_view_for(const xs_scene *scene, int frame_width, int frame_height);

const char *xs_scene_name(const xs_scene *scene);
double xs_scene_build_seconds(const xs_scene *scene); /* BLAS and TLAS builds, summed */
uint32_t xs_scene_tri_count(const xs_scene *scene);   /* stored (each mesh once) */
uint32_t xs_scene_light_count(const xs_scene *scene);
uint32_t xs_scene_mesh_count(const xs_scene *scene);
uint32_t xs_scene_instance_count(const xs_scene *scene);
uint32_t xs_scene_texture_count(const xs_scene *scene);

/* The GGX albedo tables of xs_bsdf.h (computed once per process). */
const float *xs_ggx_table(void);

/* The arrays a scene view points into, for a device's upload: each with its
 * bytes and the offset of its pointer in xs_scene_view. The pointer of an
 * array with no elements is set to NULL in view (a device view holds device
 * addresses or NULL). Returns the count (at most max). */
typedef struct xs_scene_blob {
    const char *name;
    const void *host;
    size_t bytes;
    size_t view_offset;
} xs_scene_blob;
enum { XS_SCENE_BLOBS_MAX = 24 };
int xs_scene_blobs(const xs_scene *scene, xs_scene_view *view, xs_scene_blob *out, int max);

#ifdef __cplusplus
}
#endif
#endif
