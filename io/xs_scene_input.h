/* Scene input: what `xisuan render SCENE` reads, as bytes and then as objects.
 *
 * Rank 0 reads the scene argument once (xs_scene_input_load): a .tar.zst is
 * read as it is and opened; a plain .gltf or .glb is read with the files it
 * refers to, parsed once, and wrapped into a package in memory with a default
 * manifest. The package bytes go to the other ranks, which open them in memory
 * (xs_scene_input_open): extraction under the package limits, manifest.json,
 * the glTF it names, and the environment image when there is one. Nothing here
 * touches the output directory or writes anything.
 */
#ifndef XS_SCENE_INPUT_H
#define XS_SCENE_INPUT_H

#include <stdbool.h>

#include "io/xs_gltf.h"
#include "io/xs_manifest.h"
#include "io/xs_package.h"
#include "io/xs_texpage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a scene may cost, every limit checked before anything is allocated
 * (docs/package.md): the package, the glTF (triangles, nodes, instances,
 * images), and the environment image. */
typedef struct xs_scene_limits {
    xs_pkg_limits pkg;
    xs_gltf_limits gltf;
    uint64_t max_env_pixels; /* the equirectangular environment; default 2^27 */
} xs_scene_limits;
void xs_scene_limits_default(xs_scene_limits *l);

typedef struct xs_scene_input {
    xs_pkg *pkg;  /* the package's files; NULL after xs_scene_input_load of a plain glTF */
    xs_manifest manifest;
    xs_gltf_scene *gltf;
    xs_image env; /* env.rgba is NULL for a constant environment */
    /* a paged package (xisuan pack): the page store at its end, which holds
     * every image a material uses (the glTF's images were not read); NULL
     * otherwise */
    xs_texstore *pages;
} xs_scene_input;

/* True when s names a scene file (ends in .tar.zst, .gltf or .glb). */
bool xs_is_scene_path(const char *s);

/* Reads the scene at path: its package bytes (malloc'd, for the other ranks)
 * and the scene opened from them, each file parsed once. pkg is NULL in the
 * result for a plain glTF (its files were read from disk). Of a paged
 * package only the tar part is read (its bytes are what *bytes holds); the
 * pages stay in the file. */
xs_result xs_scene_input_load(const char *path, const xs_scene_limits *limits,
                              unsigned char **bytes, size_t *len, xs_scene_input **out, xs_err *err);

/* Opens package bytes held in memory; label names them in messages. */
xs_result xs_scene_input_open(const char *label, const void *bytes, size_t len,
                              const xs_scene_limits *limits, xs_scene_input **out, xs_err *err);
/* The same for the tar part of a paged package: the glTF's images are not
 * read; the page store at the end of the file at pages_path is opened (each
 * node reads pages from the package file itself), its id checked against
 * pages_id (0: any), and every image a material uses must be in it. */
xs_result xs_scene_input_open_paged(const char *label, const void *bytes, size_t len,
                                    const xs_scene_limits *limits, const char *pages_path, uint64_t pages_id,
                                    xs_scene_input **out, xs_err *err);
void xs_scene_input_destroy(xs_scene_input *in); /* accepts NULL */

#ifdef __cplusplus
}
#endif
#endif
