/* glTF 2.0 loading: .gltf (JSON with .bin and image files or data: URIs) and
 * .glb, parsed with cJSON into plain arrays the renderer can take as they are.
 *
 * Kept as written: the node hierarchy's world transforms, meshes used by
 * several nodes as instances of one mesh (never copied), perspective cameras,
 * metallic-roughness materials with their textures and KHR_texture_transform,
 * alpha mode, double-sidedness, KHR_materials_emissive_strength,
 * KHR_materials_transmission, KHR_materials_ior, KHR_materials_volume and
 * KHR_lights_punctual.
 * Images (PNG, JPEG) that a material uses are decoded to 8-bit RGBA with
 * libpng and libjpeg-turbo, after their headers were checked against the
 * limits; images no material uses are not decoded (width 0, rgba8 NULL).
 * What moves is kept as written too (gltf_anim.c): when the file animates,
 * skins or morphs anything, the node table (parent, local TRS or matrix,
 * mesh, skin, morph weights) and the default scene's nodes parents first;
 * animations (samplers with their keyframes, channels targeting node
 * translation, rotation, scale and morph weights); skins (joints, inverse
 * bind matrices); per primitive the morph targets' POSITION, NORMAL and
 * TANGENT deltas and JOINTS_n/WEIGHTS_n. render/animation.c evaluates them.
 * Sparse accessors are read wherever accessors are.
 * Refused with a message naming the object and the reason: primitives that
 * are not triangles, accessors or buffer views out of range, indices past the
 * vertex count, node cycles, missing buffers or images, samplers whose times
 * do not increase strictly or whose output count does not match the
 * interpolation, non-finite keyframes, zero quaternions, joints or morph
 * targets out of range, and anything over the limits. Loading is linear in
 * the size of every array (nodes, accessors, keyframes, ...), so a million
 * instance nodes load in seconds.
 * Occlusion textures are read and kept but the renderer ignores them.
 */
#ifndef XS_GLTF_H
#define XS_GLTF_H

#include <stdbool.h>

#include "io/xs_image.h"
#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Finds a file the glTF refers to (a .bin or an image): path is normalised
 * and relative to the glTF file's folder. *data stays valid until the loader
 * returns. */
typedef xs_result (*xs_gltf_fetch_fn)(void *user, const char *path, const unsigned char **data,
                                      size_t *len, xs_err *err);

typedef struct xs_gltf_texref {
    int32_t texture; /* -1: none */
    int32_t texcoord;
    float scale;     /* normalTexture.scale or occlusionTexture.strength */
    float offset[2], rotation, tscale[2]; /* KHR_texture_transform */
} xs_gltf_texref;

enum { XS_ALPHA_OPAQUE = 0, XS_ALPHA_MASK = 1, XS_ALPHA_BLEND = 2 };

typedef struct xs_gltf_material {
    char name[64];
    float base_color[4];
    xs_gltf_texref base_color_tex;
    float metallic, roughness;
    xs_gltf_texref metallic_roughness_tex;
    xs_gltf_texref normal_tex;
    xs_gltf_texref occlusion_tex;
    float emissive[3];
    float emissive_strength; /* KHR_materials_emissive_strength, 1 if absent */
    xs_gltf_texref emissive_tex;
    int alpha_mode;
    float alpha_cutoff;
    bool double_sided;
    float transmission; /* KHR_materials_transmission */
    xs_gltf_texref transmission_tex;
    float ior;          /* KHR_materials_ior, 1.5 if absent */
    /* KHR_materials_volume: thicknessFactor > 0 makes the transmission refract
     * into a solid; light inside loses (1 - colour) per distance */
    bool volume;
    float attenuation_color[3];  /* 1, 1, 1 if absent */
    float attenuation_distance;  /* 0: infinite (no absorption) */
} xs_gltf_material;

enum { XS_WRAP_REPEAT = 10497, XS_WRAP_CLAMP = 33071, XS_WRAP_MIRROR = 33648 };

typedef struct xs_gltf_texture {
    int32_t image;
    int32_t mag_filter, min_filter; /* GL enums, 0 if unset */
    int32_t wrap_s, wrap_t;
} xs_gltf_texture;

typedef struct xs_gltf_primitive {
    uint32_t vertex_count, tri_count;
    float *positions; /* 3 per vertex */
    float *normals;   /* 3 per vertex or NULL */
    float *uv0, *uv1; /* 2 per vertex or NULL */
    float *tangents;  /* 4 per vertex or NULL */
    uint32_t *indices; /* 3 per triangle (generated for non-indexed primitives) */
    int32_t material;  /* -1: the default material */
    /* morph targets: target_count sets of vertex_count * 3 deltas each
     * (target t, vertex v at [(t * vertex_count + v) * 3]); NULL where no
     * target has that attribute (TANGENT deltas move xyz, w is kept) */
    int target_count;
    float *target_pos, *target_nrm, *target_tan;
    /* skinning: influences (4 or 8: JOINTS_0/WEIGHTS_0 and _1) per vertex,
     * weights normalised to sum 1; 0 and NULL when the primitive has none */
    int influences;
    uint16_t *joints;
    float *joint_weights;
    uint32_t max_joint; /* the largest joint index with a weight above 0 */
} xs_gltf_primitive;

typedef struct xs_gltf_mesh {
    char name[64];
    xs_gltf_primitive *prims;
    int prim_count;
    int target_count;   /* morph targets of every primitive (the spec makes them agree) */
    float *weights;     /* the mesh's default morph weights (target_count; zeros if absent) */
} xs_gltf_mesh;

/* A node as the file writes it (kept when the file animates, skins or
 * morphs). Animation channels override t, r, s and weights; a node with a
 * matrix cannot be animated. */
typedef struct xs_gltf_node {
    int32_t parent;     /* -1: none */
    int32_t mesh, skin; /* -1: none */
    bool in_scene;      /* reached from the default scene's roots */
    bool has_matrix;
    float matrix[16];   /* column-major, when has_matrix */
    float t[3], r[4], s[3]; /* otherwise: translation, rotation quaternion (x, y, z, w) as
                             * written (not zero; normalised where used), scale */
    float *weights;     /* morph weights (the node's, else its mesh's); weight_count of them */
    int weight_count;
} xs_gltf_node;

typedef struct xs_gltf_skin {
    char name[64];
    int32_t *joints;    /* node indices */
    int joint_count;
    float *inverse_bind; /* 16 per joint, column-major (identity when the file gives none) */
} xs_gltf_skin;

enum { XS_INTERP_STEP = 0, XS_INTERP_LINEAR = 1, XS_INTERP_CUBIC = 2 };
enum { XS_PATH_TRANSLATION = 0, XS_PATH_ROTATION = 1, XS_PATH_SCALE = 2, XS_PATH_WEIGHTS = 3 };

/* Keyframes: key_count strictly increasing times (seconds, from 0) and
 * their values, `width` floats each (3: translation or scale, 4: a unit
 * rotation quaternion, N: N morph weights); CUBICSPLINE stores three values
 * per keyframe (in-tangent, value, out-tangent), so output holds
 * key_count * width * (3 or 1) floats. */
typedef struct xs_gltf_sampler {
    float *input;
    int key_count;
    float *output;
    int width;
    int interpolation; /* XS_INTERP_* */
} xs_gltf_sampler;

typedef struct xs_gltf_channel {
    int32_t sampler; /* index into its animation's samplers */
    int32_t node;
    int32_t path;    /* XS_PATH_* */
} xs_gltf_channel;

typedef struct xs_gltf_animation {
    char name[64];
    xs_gltf_channel *channels;
    int channel_count;
    xs_gltf_sampler *samplers; /* only those a channel uses are filled (others: key_count 0) */
    int sampler_count;
    float t_first, t_last;     /* the keyframes' time range over its channels */
} xs_gltf_animation;

/* One placement of a mesh: the world-from-object matrix of its node. */
typedef struct xs_gltf_instance {
    int32_t mesh, node;
    float xform[16]; /* column-major 4x4 */
} xs_gltf_instance;

typedef struct xs_gltf_camera {
    char name[64]; /* the camera's name, else its node's */
    int32_t camera, node;
    float yfov;    /* radians */
    float aspect;  /* 0 when not given */
    float xform[16];
} xs_gltf_camera;

enum { XS_GLTF_LIGHT_DIRECTIONAL = 0, XS_GLTF_LIGHT_POINT = 1, XS_GLTF_LIGHT_SPOT = 2 };

typedef struct xs_gltf_light {
    int32_t type;
    int32_t node;    /* the node that places it */
    float color[3];
    float intensity; /* cd for point/spot, lux for directional */
    float range;     /* 0: infinite */
    float inner_cone, outer_cone;
    float xform[16];
} xs_gltf_light;

typedef struct xs_gltf_scene {
    xs_gltf_mesh *meshes;
    int mesh_count;
    xs_gltf_instance *instances;
    int instance_count;
    xs_gltf_material *materials;
    int material_count;
    xs_gltf_texture *textures;
    int texture_count;
    xs_image8 *images; /* decoded (PNG, JPEG) */
    int image_count;
    xs_gltf_camera *cameras; /* instantiated cameras, in node order */
    int camera_count;
    xs_gltf_light *lights;   /* instantiated lights */
    int light_count;
    uint64_t tri_count_instanced; /* triangles as placed (sum over instances) */
    uint64_t tri_count_unique;    /* triangles stored (sum over meshes) */
    /* what moves (all NULL / 0 for a file without animations, skins and
     * morph targets): every node, the default scene's nodes parents first,
     * skins, animations */
    xs_gltf_node *nodes;
    int node_count;
    int32_t *scene_nodes;
    int scene_node_count;
    xs_gltf_skin *skins;
    int skin_count;
    xs_gltf_animation *animations;
    int animation_count;
    /* EXT_mesh_gpu_instancing in a file that keeps its node table: per
     * instance, the element's own T x R x S (16 floats, column-major; the
     * identity for an ordinary placement), so a pose places it at its
     * node's world x this; NULL otherwise */
    float *instance_local;
} xs_gltf_scene;

/* What a scene may cost, checked from the file's own numbers (accessor
 * counts, image headers) before anything is allocated; the defaults fit a
 * GPU node, and `xisuan render` flags raise them (docs/package.md). */
typedef struct xs_gltf_limits {
    uint64_t max_triangles;     /* over all meshes, each stored once */
    uint64_t max_image_pixels;  /* one decoded image */
    uint64_t max_texture_bytes; /* every decoded image together, RGBA8 */
    uint64_t max_nodes;         /* entries of nodes[] */
    uint64_t max_instances;     /* mesh placements (nodes with a mesh in the scene) */
    int max_node_depth;
    uint64_t max_joints;        /* joints of one skin */
    uint64_t max_keyframes;     /* keyframes over every animation sampler */
    uint64_t max_morph_targets; /* morph targets of one mesh */
    /* Images a material uses (zero: decoded). skip_images: neither read
     * nor decoded (a paged package's textures are its pages; width 0, rgba8
     * NULL). image_sink: each is handed over as stored, once its header
     * passed the limits, and not decoded here (xisuan pack pages them one
     * at a time); data stays valid for the call only. */
    bool skip_images;
    xs_result (*image_sink)(void *user, int image, const unsigned char *data, size_t len, bool srgb,
                            const char *label, xs_err *err);
    void *image_sink_user;
} xs_gltf_limits;

/* 2^28 triangles, 2^27 pixels an image (16384 x 8192), 8 GiB of decoded
 * textures, 2^24 nodes and instances, depth 256, 16384 joints a skin,
 * 2^24 keyframes, 256 morph targets a mesh. Morph target deltas count
 * against the triangle limit (one delta vertex as one triangle). */
void xs_gltf_limits_default(xs_gltf_limits *l);

/* Loads a .gltf (JSON) or .glb (detected by its magic) held in memory.
 * label names the file in messages; fetch finds external files. */
xs_result xs_gltf_load(const char *label, const unsigned char *data, size_t len,
                       xs_gltf_fetch_fn fetch, void *user, const xs_gltf_limits *limits,
                       xs_gltf_scene **out, xs_err *err);
void xs_gltf_destroy(xs_gltf_scene *s); /* accepts NULL */
/* Whether a material reads image `image` as a colour (base colour or
 * emission: sRGB-encoded, its MIP levels averaged in linear light). */
bool xs_gltf_image_srgb(const xs_gltf_scene *s, int image);

/* The column-major matrix of a node's translation t, rotation q (a unit
 * quaternion x, y, z, w; normalised here) and scale s: the loader's rest
 * pose and the animation's poses both come from here, so they agree bit for
 * bit. */
void xs_gltf_trs_matrix(const float *t, const float *q, const float *s, float *m);
/* out = a x b, column-major 4x4 (out may be a or b): node worlds at rest and
 * posed are composed with it alike. */
void xs_gltf_mat4_mul(const float *a, const float *b, float *out);

#ifdef __cplusplus
}
#endif
#endif
