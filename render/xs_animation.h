/* Animation: a glTF scene's pose at a time.
 *
 * Holds what the loader read of what moves (the node tree with each node's
 * rest transform and morph weights, the skins, the animations chosen to
 * play) as its own copy, so the glTF scene may be destroyed once the render
 * scene is built. xs_anim_pose evaluates every played channel at time t as
 * glTF 2.0's Appendix C defines the interpolations (STEP; LINEAR, rotations
 * by spherical linear interpolation the short way round; CUBICSPLINE, Hermite
 * with the tangents scaled by the keyframe interval), holds the first or last
 * value outside a sampler's keyframes, and composes world matrices parents
 * first. Several animations play together (later ones win where two target
 * the same property). Only nodes that can move are evaluated per pose; the
 * others keep their world matrix from creation. One thread at a time per
 * xs_anim (the pose is its state).
 */
#ifndef XS_ANIMATION_H
#define XS_ANIMATION_H

#include <stdbool.h>

#include "io/xs_gltf.h"
#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_anim xs_anim;

/* The animation of g that plays: `play` is "" or "all" (every animation,
 * together, as viewers do), "none", or a comma-separated list of animation
 * names or indices. A name that is not in the file is an error naming the
 * ones that are. g must hold the node table (g->node_count > 0). */
xs_result xs_anim_create(const xs_gltf_scene *g, const char *play, xs_anim **out, xs_err *err);
void xs_anim_destroy(xs_anim *a); /* accepts NULL */
/* Whether `play` names only animations g has (the check xs_anim_create
 * makes, for a scene without the node table too), before anything is built. */
xs_result xs_anim_check(const xs_gltf_scene *g, const char *play, xs_err *err);

/* Whether anything plays at all; whether node n's world matrix can change
 * with time; whether its morph weights can. */
bool xs_anim_plays(const xs_anim *a);
bool xs_anim_node_moves(const xs_anim *a, int node);
bool xs_anim_weights_move(const xs_anim *a, int node);
/* The keyframes' time range over the played channels (0, 0 when none). */
void xs_anim_range(const xs_anim *a, double *t_first, double *t_last);

/* Evaluates the pose at time t (seconds of the glTF timeline). */
void xs_anim_pose(xs_anim *a, double t);
/* Of the last pose: node n's world matrix (16 floats, column-major) and its
 * morph weights (NULL when its mesh has no targets; count in *n_weights). */
const float *xs_anim_world(const xs_anim *a, int node);
const float *xs_anim_weights(const xs_anim *a, int node, int *n_weights);
/* Of the last pose: skin's joint matrices, world(joint) x inverse bind, 16
 * floats each (column-major) into out (joint_count of them). */
void xs_anim_joint_matrices(const xs_anim *a, int skin, float *out);
int xs_anim_joint_count(const xs_anim *a, int skin);
/* Whether skin's joints can move (any joint's world matrix can change). */
bool xs_anim_skin_moves(const xs_anim *a, int skin);

/* One sampler at time t into out (s->width floats): the interpolation of
 * its keyframes, rotations (rotation = true) as unit quaternions. */
void xs_anim_sample(const xs_gltf_sampler *s, bool rotation, double t, float *out);
/* Spherical linear interpolation of unit quaternions a and b (x, y, z, w) at
 * u in [0, 1], the short way round (glTF's Appendix C). */
void xs_quat_slerp(const float *a, const float *b, double u, float *out);

#ifdef __cplusplus
}
#endif
#endif
