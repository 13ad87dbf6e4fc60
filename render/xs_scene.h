/* The scene in memory: what one rank renders.
 *
 * Meshes (each with its BLAS, triangles in leaf order and their shading
 * attributes), instances placing meshes in the world, the TLAS over instance
 * bounds, materials and textures, lights chosen by power, the environment,
 * the camera, and the host-built tables the kernels read (pixel filter, GGX
 * albedo). Built once per job from a triangle soup (xs_scene_create), a loaded
 * glTF (xs_scene_from_gltf) or a built-in scene; read-only and shareable
 * across threads afterwards, except that an animated scene is posed for a
 * frame (xs_scene_set_frame) between renders, by its one owner. The kernels
 * see it through an xs_scene_view (a new one after each pose).
 */
#ifndef XS_SCENE_H
#define XS_SCENE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/xs_gltf.h"
#include "io/xs_image.h"
#include "io/xs_manifest.h"
#include "io/xs_texpage.h"
#include "io/xs_result.h"
#include "kernels/xs_types.h"
#include "render/xs_bvh.h"
#include "render/xs_film.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a mesh deforming within an open shutter is bounded: one tree per
 * segment between two motion steps, each covering its two steps (the
 * default, chosen by measurement: docs/benchmarks.md, "Motion blur": from
 * 6% to 9x fewer nodes visited, for steps - 1 times the nodes and refits),
 * or one tree whose boxes cover every step. */
enum { XS_MOTION_BVH_SEGMENTS = 0, XS_MOTION_BVH_UNION = 1 };

/* How BVHs are built for a scene (zero: the defaults). */
typedef struct xs_scene_build {
    int threads;          /* 0: every core of this process's affinity */
    xs_bvh_method bvh;    /* XS_BVH_AUTO by default */
    int motion_bvh;       /* XS_MOTION_BVH_* */
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
 * manifest (or the defaults) ask for, which animations play, and how to
 * build. */
typedef struct xs_scene_setup {
    const char *name;
    const char *animations; /* "" or NULL: all; "none"; or names/indices (xs_anim_create) */
    xs_cam_mode cam_mode;
    const char *cam_name;
    int cam_index;
    float cam_pos[3], cam_target[3], cam_up[3], cam_yfov_deg;
    float env_color[3], env_strength;
    const xs_image *env_image; /* equirectangular, or NULL for the constant colour */
    const xs_texstore *pages;  /* a paged package's page store (its images were not decoded), or NULL */
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

/* Time: how frame numbers become times on the glTF timeline, and the
 * shutter. Frame F shows t = F / fps + time_offset seconds (as Blender's glTF
 * importer and exporter count: t = 1.25 s is frame 30 at 24 fps). */
typedef struct xs_scene_timing {
    double fps;
    double time_offset;
    float shutter;    /* open this fraction of a frame interval, centred on the frame: [0, 1], 0: no blur */
    int motion_steps; /* instants spread over an open shutter, >= 2 */
} xs_scene_timing;

/* What a frame change cost (xs_scene_set_frame adds to it). */
typedef struct xs_scene_frame_stats {
    int frames;             /* frame changes */
    double pose_s;          /* sampling channels, composing worlds, deforming vertices */
    double blas_s;          /* deforming meshes' BVHs and triangles: refit or rebuild, rewrite */
    double refit_s;         /* of which the refits alone (bounds and their SAH cost) */
    double tlas_s;          /* instance bounds, the TLAS and the wide BVH (xs_scene_wide) */
    double lights_s;        /* the light distribution */
    uint64_t refit_tris, rebuilt_tris;
    uint64_t moved_instances;
} xs_scene_frame_stats;

/* A deforming mesh's BVH is refit while the refit tree's SAH cost stays
 * within this factor of the tree built at rest, and rebuilt beyond it
 * (docs/benchmarks.md, "Animation"). */
#ifndef XS_REFIT_MAX_COST /* -DXS_REFIT_MAX_COST=... for the measurement */
#define XS_REFIT_MAX_COST 1.5
#endif

/* Whether anything the scene shows changes with time (a camera, an
 * instance, a light or a deforming mesh under a played animation). */
bool xs_scene_animated(const xs_scene *scene);
/* Poses the scene for frame number `frame`: the played animation at the
 * frame's time; with a shutter, motion_steps poses across it. Instances
 * moved rebuild the TLAS; deforming meshes refit their BVH (or rebuild it
 * when a refit would cost more than XS_REFIT_MAX_COST times the tree built
 * at rest). A pure function of (scene, timing, frame): the same frame gives
 * the same bytes whichever frames came before. Nothing to do when the scene
 * already shows that frame. stats (may be NULL) accumulates what it cost.
 * Not while a back end renders from the scene. */
xs_result xs_scene_set_frame(xs_scene *scene, const xs_scene_timing *tm, int frame,
                             xs_scene_frame_stats *stats, xs_err *err);

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

/* Textures (render/scene_textures.c): held whole in the scene, or paged
 * (a package from xisuan pack: pages come from a page cache). */
typedef struct xs_scene_tex_info {
    bool paged;
    uint32_t textures;
    uint64_t pages;       /* every level of every image */
    uint64_t paged_bytes; /* paged: the page set decompressed */
    uint64_t held_bytes;  /* held whole: the pages' bytes in the scene */
} xs_scene_tex_info;
void xs_scene_tex_info_get(const xs_scene *scene, xs_scene_tex_info *out);
struct xs_texcache;
/* The page cache a paged scene reads through (borrowed; attach it before a
 * back end is made: the CPU's view reads through it). */
void xs_scene_attach_texcache(xs_scene *scene, struct xs_texcache *cache);
/* The attached page cache (NULL: none). */
struct xs_texcache *xs_scene_texcache(const xs_scene *scene);
/* The bytes a GPU may give this scene's texture pages (0: auto; see
 * render/xs_texcache_gpu.h). Set before a CUDA back end is made. */
void xs_scene_set_gpu_texture_budget(xs_scene *scene, uint64_t bytes);
uint64_t xs_scene_gpu_texture_budget(const xs_scene *scene);
/* False (why says) while a paged scene has no page cache. */
bool xs_scene_textures_ready(const xs_scene *scene, char *why, size_t n);

/* One copy per node (render/scene_share.c): a built scene as one
 * relocatable block, written once into memory the caller provides (the
 * node's shared window) and opened in place by every process that maps it.
 * The opened scene borrows the block (which must outlive it) and never
 * writes it; its pixel filter and page cache are its own. An animated
 * scene is refused by xs_scene_share_write (each rank poses its own). */
size_t xs_scene_share_bytes(const xs_scene *scene);
xs_result xs_scene_share_write(const xs_scene *scene, void *block, size_t bytes, xs_err *err);
xs_result xs_scene_share_open(const void *block, size_t bytes, const xs_scene_build *build, xs_scene **out,
                              xs_err *err);

/* The GGX albedo tables of xs_bsdf.h (computed once per process). */
const float *xs_ggx_table(void);

/* The arrays a scene view points into, for a device's upload: each with its
 * bytes and the offset of its pointer in xs_scene_view, and the bytes
 * [dirty_lo, dirty_hi) a frame change rewrote since the device last took
 * them (xs_scene_blobs_taken). The pointer of an array with no elements is
 * set to NULL in view (a device view holds device addresses or NULL).
 * Returns the count (at most max). */
typedef struct xs_scene_blob {
    const char *name;
    const void *host;
    size_t bytes;
    size_t view_offset;
    size_t dirty_lo, dirty_hi; /* equal: unchanged */
} xs_scene_blob;
enum { XS_SCENE_BLOBS_MAX = 32 };
int xs_scene_blobs(const xs_scene *scene, xs_scene_view *view, xs_scene_blob *out, int max);
/* The device has the arrays as they are now: forget the dirty ranges. */
void xs_scene_blobs_taken(xs_scene *scene);

#ifdef __cplusplus
}
#endif
#endif
