/* The glTF loader's insides, shared by its two files: gltf.c (the file,
 * buffers, accessors, images, materials, meshes, the node walk) and
 * gltf_anim.c (what moves: the node table, morph targets, skins and
 * animations). Every accessor read goes through xs_gltf_accessor, which has
 * checked it against its buffer view (and a sparse accessor's substitutions
 * against theirs) before anything reads it. Nothing outside io/gltf*.c
 * includes this.
 */
#ifndef XS_GLTF_INTERNAL_H
#define XS_GLTF_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "io/xs_gltf.h"

#define TRY(x)                                                                                 \
    do {                                                                                       \
        xs_result r_ = (x);                                                                    \
        if (r_ != XS_OK)                                                                       \
            return r_;                                                                         \
    } while (0)

/* A top-level array's elements, indexed once (cJSON's own lookup by index
 * walks the list, which made every per-element lookup linear). */
typedef struct xs_gltf_jarr {
    const cJSON **v;
    int n;
} xs_gltf_jarr;

typedef struct xs_gltf_loader {
    const char *label;
    xs_err *err;
    cJSON *root;
    xs_gltf_fetch_fn fetch;
    void *user;
    xs_gltf_limits lim;
    const unsigned char *glb_bin;
    size_t glb_bin_len;
    bool is_glb;
    int buffer_count;
    const unsigned char **buf;
    size_t *buf_len;
    unsigned char **buf_owned;
    xs_gltf_scene *s;
    unsigned char *node_state; /* 0 unvisited, 1 on the path, 2 done */
    xs_gltf_jarr nodes, accessors, views, meshes, cameras, images, textures, samplers, materials,
        lights, skins, animations;
    uint8_t *texture_used;     /* per texture: a material refers to it */
    int instance_cap, camera_cap, light_cap;
    size_t local_cap;          /* instance_local's room, in instances */
    bool keep_nodes;           /* the file animates, skins or morphs: keep the node table */
    uint64_t morph_deltas;     /* morph target vertices read so far (bounded by the limits) */
    uint64_t keyframes;        /* animation keyframes read so far */
} xs_gltf_loader;

/* An accessor as checked: count elements of ncomp components of type comp,
 * from base with stride (base NULL: zeros), and a sparse accessor's
 * substitutions (sparse_count > 0: element sparse_idx[k] is the k-th of
 * sparse_val; indices strictly increase). */
typedef struct xs_gltf_acc {
    size_t count;
    int comp, ncomp, csize;
    bool normalized;
    const unsigned char *base;
    size_t stride;
    size_t sparse_count;
    int sparse_icomp;            /* component type of the indices */
    const unsigned char *sparse_idx, *sparse_val;
} xs_gltf_acc;

xs_result xs_gltf_bad(xs_gltf_loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
xs_result xs_gltf_nomem(xs_gltf_loader *L);
const cJSON *xs_gltf_arr(const cJSON *o, const char *k);
xs_result xs_gltf_index_array(xs_gltf_loader *L, const cJSON *a, xs_gltf_jarr *out);
/* An optional integer index into an array of n; -1 when absent. */
xs_result xs_gltf_index(xs_gltf_loader *L, const cJSON *o, const char *k, int n, const char *what,
                        int *out);
/* A number, or dflt when absent, not a number, or beyond float range. */
double xs_gltf_num(const cJSON *o, const char *k, double dflt);
/* n finite numbers into out when the key is present (else out is kept). */
xs_result xs_gltf_nums(xs_gltf_loader *L, const cJSON *o, const char *k, int n, float *out,
                       const char *what);
xs_result xs_gltf_accessor(xs_gltf_loader *L, int idx, const char *what, xs_gltf_acc *a);
float xs_gltf_acc_float(const xs_gltf_acc *a, size_t i, int k);
uint32_t xs_gltf_acc_uint(const xs_gltf_acc *a, size_t i, int k);
/* A float attribute of ncomp components into a new array (want_count: the
 * count it must have, 0 for any); every value finite. */
xs_result xs_gltf_read_floats(xs_gltf_loader *L, int idx, int ncomp, size_t want_count,
                              const char *what, float **out);
/* Appends v to an array of *count elements and *cap capacity (doubling). */
xs_result xs_gltf_push(void **arrp, int *count, int *cap, size_t elem, const void *v,
                       xs_gltf_loader *L);

/* gltf_anim.c: a primitive's morph targets and skin attributes (after its
 * POSITION was read), a mesh's default weights, and after the node walk the
 * node table, skins and animations. */
xs_result xs_gltf_load_targets(xs_gltf_loader *L, const cJSON *p, const char *w, xs_gltf_primitive *x);
xs_result xs_gltf_load_skin_attrs(xs_gltf_loader *L, const cJSON *at, const char *w,
                                  xs_gltf_primitive *x);
xs_result xs_gltf_load_mesh_weights(xs_gltf_loader *L, const cJSON *m, int mi, xs_gltf_mesh *x);
/* Before the walk: whether the file needs the node table; the table itself
 * (every node's local transform, mesh, skin, weights). */
bool xs_gltf_wants_nodes(const xs_gltf_loader *L);
xs_result xs_gltf_load_nodes(xs_gltf_loader *L);
/* After the walk (parents and the scene's order are known). */
xs_result xs_gltf_load_skins(xs_gltf_loader *L);
xs_result xs_gltf_load_animations(xs_gltf_loader *L);
/* A node's local matrix from its matrix or TRS (column-major). */
xs_result xs_gltf_node_matrix(xs_gltf_loader *L, const cJSON *n, const char *w, float *m);

#endif
