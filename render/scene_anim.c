/* A frame's pose of an animated glTF scene (see xs_scene.h,
 * xs_scene_set_frame): the played animation at the frame's time moves
 * instances, the camera and punctual lights, and deforms skinned and
 * morphing meshes; with a shutter, motion_steps poses spread over it give
 * moving instances and the camera decomposed transforms per step and
 * deforming meshes triangles per step (kernels/xs_motion.h).
 *
 * Invariants that make a frame a pure function of (scene, timing, frame),
 * whatever this rank rendered before (ranks render different frames in
 * different orders, and a resumed job starts anywhere):
 * - instances live in glTF order (canon); the TLAS is built from their
 *   boxes in that order (the builder is deterministic), and a frame whose
 *   boxes equal the last build's reuses that build's order;
 * - a deforming mesh refits the tree built at rest (its shape never
 *   changes) and rebuilds from the frame's own triangles only when the
 *   refit's SAH cost exceeds XS_REFIT_MAX_COST times the rest tree's: both
 *   choices depend on the frame alone.
 * Each deforming instance owns its mesh (skinning and morph weights are per
 * node); a skinned mesh's vertices are in world space (glTF ignores the
 * skinned node's own transform), a morphing one's in its node's space.
 */
#include "render/scene_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/xs_intersect.h"
#include "kernels/xs_motion.h"
#include "render/xs_animation.h"
#include "render/xs_parallel.h"

/* transform samples per shutter segment for a moving instance's bounds */
enum { BOX_SAMPLES = 8 };

typedef struct deformer {
    int32_t node, skin;        /* glTF node; its skin (-1: none) */
    uint32_t mesh;             /* the scene mesh it owns */
    xs_mesh_arrays a;          /* rest vertices, triangles, materials */
    int targets;
    float *dpos, *dnrm, *dtan; /* morph deltas: targets * nv * 3 each (NULL: none) */
    int infl;                  /* skin influences a vertex (8 when any primitive has 8) */
    uint16_t *joints;
    float *jweights;
    xs_bvh_node *rest_nodes;   /* the tree built at rest, indices relative to its region */
    uint32_t rest_nn, *rest_order;
    double rest_cost;
    uint32_t node_cap;         /* node slots the scene keeps for it (2 nt - 1) */
    uint32_t nn, *order;       /* nodes in use, leaf order (rest_order or a rebuild's, owned) */
    bool moves;                /* changes with time */
    float *pos, *nrm, *tan;    /* deformed vertices (3, 3, 4 floats) */
    float *jm;                 /* joint matrices, 16 floats each */
    const float *weights_now;  /* this pose's morph weights (NULL: none) */
    bool attrs_rest;           /* the scene's attributes are laid out in the rest order */
    bool nodes_rest;           /* the scene's nodes hold the rest tree's shape */
    uint32_t *enc_n, *enc_t;   /* deformed normals and tangents, octahedral (NULL: none) */
    float *tbox;               /* 6 per triangle: this pose's boxes (leaf order) */
    xs_tri *steps;             /* motion steps * nt triangles, leaf order */
    uint32_t steps_cap;
} deformer;

struct xs_scene_anim {
    xs_anim *anim;
    uint32_t ninst;
    int32_t *inst_node, *inst_def; /* per glTF instance: node, deformer (-1: none) */
    float *inst_local;             /* per glTF instance: its own matrix under its node (EXT_mesh_gpu_instancing;
                                    * 16 floats, column-major), or NULL: every one at its node */
    xs_instance *canon;            /* this frame's instances, glTF order */
    float *boxes, *tlas_boxes;     /* 6 per instance: this frame's; the last TLAS build's */
    bool have_tlas_boxes;
    uint8_t *shares;               /* per glTF mesh */
    deformer *def;
    int ndef;
    int camera_node;
    bool camera_moves;
    xs_gltf_light *lights;         /* punctual lights, xform of the current pose */
    int nlights;
    bool any_time, posed;
    bool have_frame;
    int frame;
    xs_scene_timing timing;
    uint8_t *mesh_dirty;           /* per scene mesh: triangles rewritten this pose */
    float *step_xf;                /* motion steps * ninst * 12 */
    float cam_xf[64 * 12];
    uint32_t steps_cap;
};

/* ---- small helpers ------------------------------------------------------------ */

static xs_result nomem(const xs_scene *s, xs_err *err)
{
    return xs_err_set(err, XS_ERR_NOMEM, "scene %s: animation: out of memory", s->name);
}

/* Row-major 3x4 from a column-major 4x4. */
static void xf34(const float *m44, float *xf)
{
    for (int row = 0; row < 3; ++row)
        for (int c = 0; c < 4; ++c)
            xf[row * 4 + c] = m44[c * 4 + row];
}

static void tri_box(const xs_tri *t, float *b)
{
    xs_vec3 p1 = xs_add(t->v0, t->e1), p2 = xs_add(t->v0, t->e2);
    xs_vec3 lo = xs_vmin(t->v0, xs_vmin(p1, p2)), hi = xs_vmax(t->v0, xs_vmax(p1, p2));
    b[0] = lo.x, b[1] = lo.y, b[2] = lo.z, b[3] = hi.x, b[4] = hi.y, b[5] = hi.z;
}

static void box_union(float *b, const float *o)
{
    for (int k = 0; k < 3; ++k) {
        b[k] = o[k] < b[k] ? o[k] : b[k];
        b[3 + k] = o[3 + k] > b[3 + k] ? o[3 + k] : b[3 + k];
    }
}

/* A world matrix (row-major 3x4) decomposed as T R S (polar decomposition
 * of the 3x3 part, in double; a mirroring matrix keeps its reflection in S). */
static void decompose(const float *m, xs_motion_xf *out)
{
    double M[9], Q[9];
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c)
            M[r * 3 + c] = m[r * 4 + c];
    double det = M[0] * (M[4] * M[8] - M[5] * M[7]) - M[1] * (M[3] * M[8] - M[5] * M[6]) +
                 M[2] * (M[3] * M[7] - M[4] * M[6]);
    for (int i = 0; i < 9; ++i)
        Q[i] = det < 0.0 ? -M[i] : M[i];
    bool ok = fabs(det) > 1e-30;
    for (int it = 0; ok && it < 100; ++it) { /* Q <- (Q + Q^-T) / 2 converges to the rotation */
        double d = Q[0] * (Q[4] * Q[8] - Q[5] * Q[7]) - Q[1] * (Q[3] * Q[8] - Q[5] * Q[6]) +
                   Q[2] * (Q[3] * Q[7] - Q[4] * Q[6]);
        if (!(fabs(d) > 1e-300)) {
            ok = false;
            break;
        }
        double it_[9] = {(Q[4] * Q[8] - Q[5] * Q[7]) / d, (Q[5] * Q[6] - Q[3] * Q[8]) / d, (Q[3] * Q[7] - Q[4] * Q[6]) / d,
                         (Q[2] * Q[7] - Q[1] * Q[8]) / d, (Q[0] * Q[8] - Q[2] * Q[6]) / d, (Q[1] * Q[6] - Q[0] * Q[7]) / d,
                         (Q[1] * Q[5] - Q[2] * Q[4]) / d, (Q[2] * Q[3] - Q[0] * Q[5]) / d, (Q[0] * Q[4] - Q[1] * Q[3]) / d};
        double change = 0.0;
        for (int i = 0; i < 9; ++i) {
            double n = 0.5 * (Q[i] + it_[i]);
            change = fmax(change, fabs(n - Q[i]));
            Q[i] = n;
        }
        if (change < 1e-14)
            break;
    }
    if (!ok) /* singular (a scale of 0): no rotation, all of it in S */
        for (int i = 0; i < 9; ++i)
            Q[i] = (i % 4 == 0) ? 1.0 : 0.0;
    /* S = R^T M, so that R S = M */
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c)
            out->s[r * 3 + c] = (float)(Q[0 * 3 + r] * M[0 * 3 + c] + Q[1 * 3 + r] * M[1 * 3 + c] +
                                        Q[2 * 3 + r] * M[2 * 3 + c]);
    /* the rotation as a quaternion (Shepperd) */
    double tr = Q[0] + Q[4] + Q[8], q[4];
    if (tr > 0.0) {
        double k = 2.0 * sqrt(tr + 1.0);
        q[3] = 0.25 * k, q[0] = (Q[7] - Q[5]) / k, q[1] = (Q[2] - Q[6]) / k, q[2] = (Q[3] - Q[1]) / k;
    } else if (Q[0] > Q[4] && Q[0] > Q[8]) {
        double k = 2.0 * sqrt(1.0 + Q[0] - Q[4] - Q[8]);
        q[3] = (Q[7] - Q[5]) / k, q[0] = 0.25 * k, q[1] = (Q[1] + Q[3]) / k, q[2] = (Q[2] + Q[6]) / k;
    } else if (Q[4] > Q[8]) {
        double k = 2.0 * sqrt(1.0 + Q[4] - Q[0] - Q[8]);
        q[3] = (Q[2] - Q[6]) / k, q[0] = (Q[1] + Q[3]) / k, q[1] = 0.25 * k, q[2] = (Q[5] + Q[7]) / k;
    } else {
        double k = 2.0 * sqrt(1.0 + Q[8] - Q[0] - Q[4]);
        q[3] = (Q[3] - Q[1]) / k, q[0] = (Q[2] + Q[6]) / k, q[1] = (Q[5] + Q[7]) / k, q[2] = 0.25 * k;
    }
    double l = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    for (int c = 0; c < 4; ++c)
        out->q[c] = (float)(q[c] / l);
    for (int r = 0; r < 3; ++r)
        out->t[r] = m[r * 4 + 3];
}

/* ---- set-up -------------------------------------------------------------------- */

static void deformer_free(deformer *d)
{
    xs_mesh_arrays_free(&d->a);
    free(d->dpos), free(d->dnrm), free(d->dtan), free(d->joints), free(d->jweights);
    if (d->order != d->rest_order)
        free(d->order);
    free(d->rest_nodes), free(d->rest_order), free(d->pos), free(d->nrm), free(d->tan), free(d->jm);
    free(d->tbox), free(d->steps), free(d->enc_n), free(d->enc_t);
}

void xs_scene_anim_destroy(struct xs_scene_anim *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->ndef; ++i)
        deformer_free(&a->def[i]);
    xs_anim_destroy(a->anim);
    free(a->inst_node), free(a->inst_def), free(a->inst_local), free(a->canon), free(a->boxes), free(a->tlas_boxes);
    free(a->shares), free(a->def), free(a->lights), free(a->mesh_dirty), free(a->step_xf);
    free(a);
}

static bool any_weight(const xs_gltf_node *n)
{
    for (int k = 0; k < n->weight_count; ++k)
        if (n->weights[k] != 0.0f)
            return true;
    return false;
}

xs_result xs_scene_anim_create(xs_scene *s, const xs_gltf_scene *g, const char *play, xs_err *err)
{
    struct xs_scene_anim *A = calloc(1, sizeof *A);
    if (!A)
        return nomem(s, err);
    s->anim = A;
    xs_result r = xs_anim_create(g, play, &A->anim, err);
    if (r != XS_OK)
        return r;
    A->ninst = (uint32_t)g->instance_count;
    A->camera_node = -1;
    A->inst_node = malloc((size_t)(A->ninst ? A->ninst : 1) * sizeof *A->inst_node);
    A->inst_def = malloc((size_t)(A->ninst ? A->ninst : 1) * sizeof *A->inst_def);
    A->canon = calloc((size_t)(A->ninst ? A->ninst : 1), sizeof *A->canon);
    A->boxes = malloc((size_t)(A->ninst ? A->ninst : 1) * 6 * sizeof *A->boxes);
    A->tlas_boxes = malloc((size_t)(A->ninst ? A->ninst : 1) * 6 * sizeof *A->tlas_boxes);
    A->shares = calloc((size_t)(g->mesh_count ? g->mesh_count : 1), 1);
    A->def = calloc((size_t)(A->ninst ? A->ninst : 1), sizeof *A->def);
    A->lights = malloc((size_t)(g->light_count ? g->light_count : 1) * sizeof *A->lights);
    if (!A->inst_node || !A->inst_def || !A->canon || !A->boxes || !A->tlas_boxes || !A->shares ||
        !A->def || !A->lights)
        return nomem(s, err);
    if (g->instance_local) {
        A->inst_local = malloc((size_t)(A->ninst ? A->ninst : 1) * 16 * sizeof *A->inst_local);
        if (!A->inst_local)
            return nomem(s, err);
        memcpy(A->inst_local, g->instance_local, (size_t)A->ninst * 16 * sizeof *A->inst_local);
    }
    A->nlights = g->light_count;
    if (g->light_count)
        memcpy(A->lights, g->lights, (size_t)g->light_count * sizeof *A->lights);
    for (uint32_t i = 0; i < A->ninst; ++i) {
        const int node = g->instances[i].node, mesh = g->instances[i].mesh;
        const xs_gltf_node *n = &g->nodes[node];
        A->inst_node[i] = node;
        A->inst_def[i] = -1;
        bool skinned = n->skin >= 0;
        bool morphs = g->meshes[mesh].target_count > 0 &&
                      (xs_anim_weights_move(A->anim, node) || any_weight(n));
        if (skinned || morphs) {
            deformer *d = &A->def[A->ndef];
            d->node = node;
            d->skin = n->skin;
            A->inst_def[i] = A->ndef++;
        } else {
            A->shares[mesh] = 1;
        }
    }
    return XS_OK;
}

bool xs_scene_anim_shares(const xs_scene *s, int gmesh) { return s->anim->shares[gmesh] != 0; }

/* Pads the scene's node array with zeroed nodes (a deforming mesh's room to
 * rebuild its tree). */
static xs_result pad_nodes(xs_scene *s, uint32_t n, xs_err *err)
{
    uint64_t need = (uint64_t)s->node_count + n;
    if (need > UINT32_MAX)
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: too many BVH nodes", s->name);
    if (need > s->node_cap) {
        xs_bvh_node *nn = realloc(s->nodes, (size_t)need * sizeof *nn);
        if (!nn)
            return nomem(s, err);
        s->nodes = nn;
        s->node_cap = (uint32_t)need;
    }
    memset(s->nodes + s->node_count, 0, (size_t)n * sizeof *s->nodes);
    s->node_count += n;
    return XS_OK;
}

/* Deformer d of glTF instance i: its own mesh (the rest pose), the rest
 * tree kept for refits, and its morph and skin data gathered over the
 * primitives like the vertices. */
static xs_result add_deformer(xs_scene *s, const xs_gltf_scene *g, int inst, deformer *d, xs_err *err)
{
    const int gm = g->instances[inst].mesh;
    const xs_gltf_mesh *m = &g->meshes[gm];
    xs_err ge;
    xs_result r = xs_mesh_arrays_gather(g, gm, s->material_count - 1, &d->a, &ge);
    if (r != XS_OK)
        return xs_err_set(err, r, "scene %s: %s", s->name, ge.msg);
    const uint32_t nv = d->a.nv, nt = d->a.nt;
    d->mesh = s->mesh_count;
    uint32_t *order = NULL;
    r = xs_scene_add_mesh(s, d->a.pos, nv, d->a.idx, nt, d->a.uv0, d->a.uv1, d->a.nrm, d->a.tan, d->a.mat,
                          NULL, &order, err);
    if (r != XS_OK)
        return r;
    const xs_mesh *sm = &s->meshes[d->mesh];
    d->rest_order = d->order = order;
    d->rest_nn = d->nn = s->node_count - sm->root;
    d->node_cap = nt ? 2 * nt - 1 : 1;
    if (d->node_cap < d->rest_nn)
        d->node_cap = d->rest_nn;
    d->rest_nodes = malloc((size_t)d->rest_nn * sizeof *d->rest_nodes);
    if (!d->rest_nodes)
        return nomem(s, err);
    for (uint32_t k = 0; k < d->rest_nn; ++k) {
        xs_bvh_node n = s->nodes[sm->root + k];
        n.first -= n.count > 0 ? sm->tri_first : sm->root;
        d->rest_nodes[k] = n;
    }
    d->rest_cost = xs_bvh_sah_cost(d->rest_nodes, d->rest_nn);
    if ((r = pad_nodes(s, d->node_cap - d->rest_nn, err)) != XS_OK)
        return r;
    /* morph deltas and skin influences, primitive after primitive */
    d->targets = m->target_count;
    bool any_dp = false, any_dn = false, any_dt = false;
    for (int k = 0; k < m->prim_count; ++k) {
        any_dp |= m->prims[k].target_pos != NULL;
        any_dn |= m->prims[k].target_nrm != NULL && d->a.nrm;
        any_dt |= m->prims[k].target_tan != NULL && d->a.tan;
        if (m->prims[k].influences > d->infl)
            d->infl = m->prims[k].influences;
    }
    const size_t td = (size_t)d->targets * nv * 3;
    if ((any_dp && !(d->dpos = calloc(td, sizeof(float)))) || (any_dn && !(d->dnrm = calloc(td, sizeof(float)))) ||
        (any_dt && !(d->dtan = calloc(td, sizeof(float)))))
        return nomem(s, err);
    if (d->skin >= 0 && (!(d->joints = calloc((size_t)nv * (size_t)d->infl, sizeof *d->joints)) ||
                         !(d->jweights = calloc((size_t)nv * (size_t)d->infl, sizeof *d->jweights)) ||
                         !(d->jm = malloc((size_t)g->skins[d->skin].joint_count * 16 * sizeof *d->jm))))
        return nomem(s, err);
    uint32_t vb = 0;
    for (int k = 0; k < m->prim_count; ++k) {
        const xs_gltf_primitive *p = &m->prims[k];
        const size_t pv = p->vertex_count;
        for (int t = 0; t < d->targets; ++t) {
            const size_t src = (size_t)t * pv * 3, dst = ((size_t)t * nv + vb) * 3;
            if (p->target_pos && d->dpos)
                memcpy(d->dpos + dst, p->target_pos + src, pv * 3 * sizeof(float));
            if (p->target_nrm && d->dnrm)
                memcpy(d->dnrm + dst, p->target_nrm + src, pv * 3 * sizeof(float));
            if (p->target_tan && d->dtan)
                memcpy(d->dtan + dst, p->target_tan + src, pv * 3 * sizeof(float));
        }
        for (size_t v = 0; d->joints && v < pv; ++v)
            for (int q = 0; q < p->influences; ++q) {
                d->joints[(vb + v) * (size_t)d->infl + (size_t)q] = p->joints[v * (size_t)p->influences + (size_t)q];
                d->jweights[(vb + v) * (size_t)d->infl + (size_t)q] =
                    p->joint_weights[v * (size_t)p->influences + (size_t)q];
            }
        vb += (uint32_t)pv;
    }
    /* frames encoded per vertex, unless the tangents come from the uvs per triangle */
    const bool per_vertex = d->a.tan || !d->a.uv0;
    if (per_vertex && d->a.nrm && !(d->enc_n = malloc((size_t)nv * sizeof *d->enc_n)))
        return nomem(s, err);
    if (per_vertex && d->a.tan && !(d->enc_t = malloc((size_t)nv * sizeof *d->enc_t)))
        return nomem(s, err);
    d->pos = malloc((size_t)nv * 3 * sizeof *d->pos);
    d->nrm = d->a.nrm ? malloc((size_t)nv * 3 * sizeof *d->nrm) : NULL;
    d->tan = d->a.tan ? malloc((size_t)nv * 4 * sizeof *d->tan) : NULL;
    d->tbox = malloc((size_t)(nt ? nt : 1) * 6 * sizeof *d->tbox);
    if (!d->pos || (d->a.nrm && !d->nrm) || (d->a.tan && !d->tan) || !d->tbox)
        return nomem(s, err);
    return XS_OK;
}

xs_result xs_scene_anim_meshes(xs_scene *s, const xs_gltf_scene *g, const int32_t *gmesh_scene,
                               uint32_t *inst_mesh, xs_err *err)
{
    struct xs_scene_anim *A = s->anim;
    for (uint32_t i = 0; i < A->ninst; ++i) {
        if (A->inst_def[i] < 0) {
            inst_mesh[i] = A->canon[i].mesh = (uint32_t)gmesh_scene[g->instances[i].mesh];
            continue;
        }
        deformer *d = &A->def[A->inst_def[i]];
        xs_result r = add_deformer(s, g, (int)i, d, err);
        if (r != XS_OK)
            return r;
        inst_mesh[i] = A->canon[i].mesh = d->mesh;
        d->moves = (d->skin >= 0 && xs_anim_skin_moves(A->anim, d->skin)) ||
                   (d->targets > 0 && xs_anim_weights_move(A->anim, d->node));
    }
    A->mesh_dirty = calloc(s->mesh_count, 1);
    return A->mesh_dirty ? XS_OK : nomem(s, err);
}

/* ---- a pose -------------------------------------------------------------------- */

/* Work on a deformer's vertices or triangles split over the scene's build
 * threads (each part writes its own range, so any split gives the same
 * bytes); small meshes stay on one thread. */
typedef struct par_ctx {
    xs_scene *s;
    deformer *d;
    const uint32_t *order;
    xs_tri *tris; /* where triangles go (leaf order), NULL: not written */
    bool boxes;   /* their boxes into d->tbox too */
    int attrs;    /* 0: none; 1: the shading frames only (uvs and materials are in place); 2: all */
} par_ctx;

static int parts_for(const xs_scene *s, uint32_t n)
{
    int p = s->build_threads > 0 ? s->build_threads : 1;
    return n < 16384u ? 1 : p > 64 ? 64 : p;
}

/* Vertices [b, e) as the current pose has them: morph targets, then the
 * skin (normals by the inverse transpose). d->jm holds the joint matrices. */
static void deform_range(void *ctx, uint32_t b, uint32_t e, int part)
{
    (void)part;
    const par_ctx *c = (const par_ctx *)ctx;
    deformer *d = c->d;
    const size_t nv = d->a.nv;
    memcpy(d->pos + (size_t)b * 3, d->a.pos + (size_t)b * 3, (size_t)(e - b) * 3 * sizeof *d->pos);
    if (d->nrm)
        memcpy(d->nrm + (size_t)b * 3, d->a.nrm + (size_t)b * 3, (size_t)(e - b) * 3 * sizeof *d->nrm);
    if (d->tan)
        memcpy(d->tan + (size_t)b * 4, d->a.tan + (size_t)b * 4, (size_t)(e - b) * 4 * sizeof *d->tan);
    for (int t = 0; d->weights_now && t < d->targets; ++t) {
        const float wt = d->weights_now[t];
        if (wt == 0.0f)
            continue;
        const size_t o = (size_t)t * nv * 3;
        for (size_t v = b; v < e; ++v)
            for (int k = 0; k < 3; ++k) {
                if (d->dpos)
                    d->pos[v * 3 + (size_t)k] += wt * d->dpos[o + v * 3 + (size_t)k];
                if (d->dnrm)
                    d->nrm[v * 3 + (size_t)k] += wt * d->dnrm[o + v * 3 + (size_t)k];
                if (d->dtan)
                    d->tan[v * 4 + (size_t)k] += wt * d->dtan[o + v * 3 + (size_t)k];
            }
    }
    for (size_t v = b; d->skin >= 0 && v < e; ++v) {
        float M[12] = {0}; /* sum of weight x joint matrix, row-major 3x4 */
        for (int q = 0; q < d->infl; ++q) {
            const float wt = d->jweights[v * (size_t)d->infl + (size_t)q];
            if (wt == 0.0f)
                continue;
            const float *J = d->jm + 16 * (size_t)d->joints[v * (size_t)d->infl + (size_t)q];
            for (int r = 0; r < 3; ++r)
                for (int k = 0; k < 4; ++k)
                    M[r * 4 + k] += wt * J[k * 4 + r];
        }
        const float *p = d->pos + v * 3;
        float np[3];
        for (int r = 0; r < 3; ++r)
            np[r] = M[r * 4] * p[0] + M[r * 4 + 1] * p[1] + M[r * 4 + 2] * p[2] + M[r * 4 + 3];
        memcpy(d->pos + v * 3, np, sizeof np);
        if (d->nrm) { /* the cofactor matrix is det times the inverse transpose */
            float a = M[0], bb = M[1], cc = M[2], ee = M[4], f = M[5], g = M[6], h = M[8], i = M[9], k = M[10];
            float C[9] = {f * k - g * i, g * h - ee * k, ee * i - f * h,
                          cc * i - bb * k, a * k - cc * h, bb * h - a * i,
                          bb * g - cc * f, cc * ee - a * g, a * f - bb * ee};
            float det = a * C[0] + bb * C[1] + cc * C[2];
            float sg = det < 0.0f ? -1.0f : 1.0f;
            float *n = d->nrm + v * 3;
            float nn[3];
            for (int r = 0; r < 3; ++r)
                nn[r] = sg * (C[r * 3] * n[0] + C[r * 3 + 1] * n[1] + C[r * 3 + 2] * n[2]);
            memcpy(n, nn, sizeof nn);
        }
        if (d->tan) {
            float *t = d->tan + v * 4;
            float nt_[3];
            for (int r = 0; r < 3; ++r)
                nt_[r] = M[r * 4] * t[0] + M[r * 4 + 1] * t[1] + M[r * 4 + 2] * t[2];
            memcpy(t, nt_, sizeof nt_);
        }
    }
    /* each vertex's frame encoded once (its triangles share it) */
    for (size_t v = b; d->enc_n && v < e; ++v)
        d->enc_n[v] = xs_oct_encode(xs_v3(d->nrm[v * 3], d->nrm[v * 3 + 1], d->nrm[v * 3 + 2]));
    for (size_t v = b; d->enc_t && v < e; ++v)
        d->enc_t[v] = xs_oct_encode(xs_v3(d->tan[v * 4], d->tan[v * 4 + 1], d->tan[v * 4 + 2]));
}

static bool nonzero3(const float *v) { return v[0] != 0.0f || v[1] != 0.0f || v[2] != 0.0f; }

/* A triangle's shading frames from the vertices' encoded ones: what
 * xs_scene_attr_frames makes of the same normals and tangents, each vertex
 * encoded once. A mesh without tangents but with uvs derives them per
 * triangle there instead. */
static void frames(xs_tri_attr *at, const uint32_t *vi, const deformer *d)
{
    if (!d->enc_n && !d->enc_t) {
        xs_scene_attr_frames(at, vi, d->pos, d->nrm, d->tan, d->a.uv0);
        return;
    }
    bool has_n = d->enc_n != NULL, has_t = d->enc_t != NULL;
    for (int c = 0; c < 3 && has_n; ++c)
        has_n = nonzero3(d->nrm + 3 * (size_t)vi[c]);
    for (int c = 0; c < 3 && has_t; ++c)
        has_t = nonzero3(d->tan + 4 * (size_t)vi[c]);
    if (has_n) {
        at->flags |= XS_ATTR_NORMALS;
        for (int c = 0; c < 3; ++c)
            at->n[c] = d->enc_n[vi[c]];
    }
    if (has_t) {
        at->flags |= XS_ATTR_TANGENTS;
        for (int c = 0; c < 3; ++c)
            at->t[c] = d->enc_t[vi[c]];
        if (d->tan[4 * (size_t)vi[0] + 3] < 0.0f)
            at->flags |= XS_ATTR_BITAN_NEG;
    }
}

/* d's vertices as the current pose of the animation has them. */
static void deform(xs_scene *s, deformer *d, const xs_anim *an)
{
    int nw = 0;
    d->weights_now = d->targets ? xs_anim_weights(an, d->node, &nw) : NULL;
    if (nw < d->targets)
        d->weights_now = NULL;
    if (d->skin >= 0)
        xs_anim_joint_matrices(an, d->skin, d->jm);
    par_ctx c = {s, d, NULL, NULL, false, 0};
    xs_parallel_for(parts_for(s, d->a.nv), d->a.nv, deform_range, &c);
}

static xs_tri corner_tri(const deformer *d, uint32_t o)
{
    const uint32_t *vi = d->a.idx + 3 * (size_t)o;
    return xs_tri_of(d->pos + 3 * (size_t)vi[0], d->pos + 3 * (size_t)vi[1], d->pos + 3 * (size_t)vi[2]);
}

/* Triangles [b, e) of the leaf order: into c->tris with their boxes, and
 * their shading attributes into the scene when c->attrs. */
static void tris_range(void *ctx, uint32_t b, uint32_t e, int part)
{
    (void)part;
    const par_ctx *c = (const par_ctx *)ctx;
    const deformer *d = c->d;
    const uint32_t tf = c->s->meshes[d->mesh].tri_first;
    for (uint32_t i = b; i < e; ++i) {
        const uint32_t o = c->order[i];
        if (c->tris) {
            c->tris[i] = corner_tri(d, o);
            if (c->boxes)
                tri_box(&c->tris[i], d->tbox + 6 * (size_t)i);
        }
        if (!c->attrs)
            continue;
        const uint32_t *vi = d->a.idx + 3 * (size_t)o;
        xs_tri_attr *at = &c->s->attrs[tf + i];
        if (c->attrs == 1) { /* the bytes a full rewrite would leave, uvs and material kept */
            at->flags = 0;
            memset(at->n, 0, sizeof at->n);
            memset(at->t, 0, sizeof at->t);
            frames(at, vi, d);
            continue;
        }
        memset(at, 0, sizeof *at);
        for (int k = 0; k < 3; ++k) {
            if (d->a.uv0) {
                at->uv[0][2 * k] = d->a.uv0[2 * (size_t)vi[k]];
                at->uv[0][2 * k + 1] = d->a.uv0[2 * (size_t)vi[k] + 1];
            }
            if (d->a.uv1) {
                at->uv[1][2 * k] = d->a.uv1[2 * (size_t)vi[k]];
                at->uv[1][2 * k + 1] = d->a.uv1[2 * (size_t)vi[k] + 1];
            }
        }
        at->material = d->a.mat[o];
        frames(at, vi, d);
    }
}

/* The tree of deformer d for this pose: the rest tree refit, or a rebuild
 * when the refit costs over XS_REFIT_MAX_COST times the rest tree; then its
 * triangles and shading frames written in the tree's leaf order. */
static xs_result place(xs_scene *s, deformer *d, xs_scene_frame_stats *st, xs_err *err)
{
    const xs_mesh *m = &s->meshes[d->mesh];
    const uint32_t nt = d->a.nt, root = m->root, tf = m->tri_first, old_nn = d->nn;
    double t0 = xs_scene_clock();
    for (uint32_t k = 0; !d->nodes_rest && k < d->rest_nn; ++k) { /* the refit below sets every box */
        xs_bvh_node n = d->rest_nodes[k];
        n.first += n.count > 0 ? tf : root;
        s->nodes[root + k] = n;
    }
    d->nodes_rest = true;
    /* the triangles in the rest tree's order; the tree refit to them */
    par_ctx c = {s, d, d->rest_order, s->tris + tf, false, 0};
    xs_parallel_for(parts_for(s, nt), nt, tris_range, &c);
    double r0 = xs_scene_clock();
    double cost = xs_bvh_refit_tris(s->nodes, root, d->rest_nn, s->tris);
    if (st)
        st->refit_s += xs_scene_clock() - r0;
    uint32_t *order = d->rest_order;
    uint32_t nn = d->rest_nn;
    if (cost > XS_REFIT_MAX_COST * d->rest_cost) {
        xs_tri *in = malloc((size_t)(nt ? nt : 1) * sizeof *in);
        if (!in)
            return nomem(s, err);
        for (uint32_t i = 0; i < nt; ++i) /* back to the mesh's own order */
            in[d->rest_order[i]] = s->tris[tf + i];
        xs_bvh_node *nodes = NULL;
        xs_result r = xs_bvh_build_with(in, nt, s->build_threads, s->bvh_method, &nodes, &nn, &order, err);
        free(in);
        if (r != XS_OK)
            return r;
        if (nn > d->node_cap) { /* cannot happen (a binary tree over nt leaves) */
            free(nodes), free(order);
            return xs_err_set(err, XS_ERR_INTERNAL, "scene %s: a rebuilt tree outgrew its room", s->name);
        }
        for (uint32_t k = 0; k < nn; ++k) {
            xs_bvh_node n = nodes[k];
            n.first += n.count > 0 ? tf : root;
            s->nodes[root + k] = n;
        }
        free(nodes);
        d->nodes_rest = false;
        if (st)
            st->rebuilt_tris += nt;
    } else if (st) {
        st->refit_tris += nt;
    }
    /* nodes past the tree (the rest tree's, or a bigger tree's) go: the
     * region holds what a first pose of this frame would */
    const uint32_t used = old_nn > d->rest_nn ? old_nn : d->rest_nn;
    if (used > nn)
        memset(s->nodes + root + nn, 0, (size_t)(used - nn) * sizeof *s->nodes);
    if (d->order != d->rest_order)
        free(d->order);
    d->order = order;
    d->nn = nn;
    /* the attributes (and, after a rebuild, the triangles) in the tree's
     * order; when they are laid out in it already, the frames alone */
    const bool rest = order == d->rest_order;
    c.order = order;
    c.tris = rest ? NULL : s->tris + tf;
    c.attrs = rest && d->attrs_rest ? 1 : 2;
    xs_parallel_for(parts_for(s, nt), nt, tris_range, &c);
    if (!rest || !d->attrs_rest) /* the emissive triangles' indices follow the order */
        s->anim->mesh_dirty[d->mesh] = 1;
    d->attrs_rest = rest;
    /* the kernels' triangles: the posed vertices exactly, in the tree's order
     * (their instance and alpha flag follow in xs_scene_wide) */
    for (uint32_t i = 0; i < nt; ++i) {
        const uint32_t o = order[i];
        const uint32_t *vi = d->a.idx + 3 * (size_t)o;
        xs_wtri *w = &s->wtris[tf + i];
        memcpy(w->v0, d->pos + 3 * (size_t)vi[0], sizeof w->v0);
        memcpy(w->v1, d->pos + 3 * (size_t)vi[1], sizeof w->v1);
        memcpy(w->v2, d->pos + 3 * (size_t)vi[2], sizeof w->v2);
        w->material = d->a.mat[o];
    }
    xs_scene_mark(s, offsetof(xs_scene_view, tris), tf * sizeof(xs_wtri), (tf + nt) * sizeof(xs_wtri));
    xs_scene_mark(s, offsetof(xs_scene_view, attrs), tf * sizeof(xs_tri_attr), (tf + nt) * sizeof(xs_tri_attr));
    uint32_t hi = root + (nn > used ? nn : used);
    xs_scene_mark(s, offsetof(xs_scene_view, nodes), root * sizeof(xs_bvh_node), hi * sizeof(xs_bvh_node));
    xs_scene_mark(s, offsetof(xs_scene_view, tri_light), tf * sizeof(uint32_t), (tf + nt) * sizeof(uint32_t));
    if (st)
        st->blas_s += xs_scene_clock() - t0;
    return XS_OK;
}

/* A moving instance's bounds over the shutter: its mesh's box carried by
 * the interpolated transform at BOX_SAMPLES times a segment, padded by half
 * the farthest a corner moves between samples (an arc strays from its chord
 * by less than that). */
static void motion_box(const xs_scene *s, const xs_instance *in, uint32_t steps, float *b)
{
    const xs_bvh_node *root = &s->nodes[s->meshes[in->mesh].root];
    const xs_motion_xf *m = &s->motion_xf[in->motion];
    const int n = (int)(steps - 1u) * BOX_SAMPLES;
    xs_vec3 prev[8];
    float pad = 0.0f;
    b[0] = b[1] = b[2] = INFINITY;
    b[3] = b[4] = b[5] = -INFINITY;
    for (int j = 0; j <= n; ++j) {
        float xf[12];
        xs_motion_xf_at(m, steps, (float)j / (float)n, xf);
        for (int k = 0; k < 8; ++k) {
            xs_vec3 c = xs_v3((k & 1) ? root->bmax[0] : root->bmin[0], (k & 2) ? root->bmax[1] : root->bmin[1],
                              (k & 4) ? root->bmax[2] : root->bmin[2]);
            xs_vec3 w = xs_xf_point(xf, c);
            float p[6] = {w.x, w.y, w.z, w.x, w.y, w.z};
            box_union(b, p);
            if (j > 0)
                pad = fmaxf(pad, xs_length(xs_sub(w, prev[k])));
            prev[k] = w;
        }
    }
    for (int k = 0; k < 3; ++k) {
        b[k] -= 0.5f * pad;
        b[3 + k] += 0.5f * pad;
    }
}

/* XS_MOTION_BVH_SEGMENTS: deformer d's tree copied once per segment into
 * motion_nodes, each refit to the boxes of its segment's two steps. */
static xs_result segment_trees(xs_scene *s, deformer *d, uint32_t steps, xs_scene_frame_stats *st, xs_err *err)
{
    xs_mesh *m = &s->meshes[d->mesh];
    const size_t nt = d->a.nt;
    const uint64_t need = (uint64_t)s->motion_node_count + (uint64_t)(steps - 1u) * d->nn;
    if (need > UINT32_MAX)
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: too many BVH nodes under motion blur", s->name);
    if (need > s->motion_node_cap) {
        xs_bvh_node *n = realloc(s->motion_nodes, (size_t)need * sizeof *n);
        if (!n)
            return nomem(s, err);
        s->motion_nodes = n;
        s->motion_node_cap = (uint32_t)need;
    }
    m->seg_nodes = s->motion_node_count;
    m->seg_stride = d->nn;
    for (uint32_t g = 0; g + 1u < steps; ++g) {
        const uint32_t base = s->motion_node_count;
        for (uint32_t k = 0; k < d->nn; ++k) {
            xs_bvh_node n = s->nodes[m->root + k];
            if (n.count == 0)
                n.first = n.first - m->root + base;
            s->motion_nodes[base + k] = n;
        }
        for (size_t i = 0; i < nt; ++i) {
            float b[6];
            tri_box(&d->steps[(size_t)g * nt + i], d->tbox + 6 * i);
            tri_box(&d->steps[(size_t)(g + 1u) * nt + i], b);
            box_union(d->tbox + 6 * i, b);
        }
        double r0 = xs_scene_clock();
        xs_bvh_refit(s->motion_nodes, base, d->nn, d->tbox, m->tri_first);
        if (st)
            st->refit_s += xs_scene_clock() - r0, st->refit_tris += nt;
        s->motion_node_count += d->nn;
    }
    return XS_OK;
}

static xs_result grow_motion(xs_scene *s, uint32_t xf_need, uint64_t tri_need, xs_err *err)
{
    if (xf_need > s->motion_xf_cap) {
        xs_motion_xf *n = realloc(s->motion_xf, (size_t)xf_need * sizeof *n);
        if (!n)
            return nomem(s, err);
        s->motion_xf = n;
        s->motion_xf_cap = xf_need;
    }
    if (tri_need > UINT32_MAX)
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: too many deforming triangles under motion blur", s->name);
    if (tri_need > s->motion_tri_cap) {
        xs_tri *n = realloc(s->motion_tris, (size_t)tri_need * sizeof *n);
        if (!n)
            return nomem(s, err);
        s->motion_tris = n;
        s->motion_tri_cap = (uint32_t)tri_need;
    }
    return XS_OK;
}

/* The instance transform of canonical instance i in the current pose. */
static void inst_xf(const struct xs_scene_anim *A, uint32_t i, float *xf)
{
    static const float id[12] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
    const int d = A->inst_def[i];
    if (d >= 0 && A->def[d].skin >= 0) { /* a skinned mesh is posed in world space */
        memcpy(xf, id, sizeof id);
    } else if (A->inst_local) { /* one of a node's EXT_mesh_gpu_instancing elements */
        const float *w = xs_anim_world(A->anim, A->inst_node[i]), *l = A->inst_local + (size_t)i * 16;
        float m[16];
        for (int c = 0; c < 4; ++c)
            for (int row = 0; row < 4; ++row)
                m[c * 4 + row] = w[row] * l[c * 4] + w[4 + row] * l[c * 4 + 1] + w[8 + row] * l[c * 4 + 2] +
                                 w[12 + row] * l[c * 4 + 3];
        xf34(m, xf);
    } else {
        xf34(xs_anim_world(A->anim, A->inst_node[i]), xf);
    }
}

static void camera_from(xs_scene *s, const float *m44)
{
    s->cam_pos = xs_v3(m44[12], m44[13], m44[14]);
    s->cam_fwd = xs_normalize(xs_v3(-m44[8], -m44[9], -m44[10]));
    s->cam_up = xs_normalize(xs_v3(m44[4], m44[5], m44[6]));
}

/* The scene at time t; with dt > 0 and steps >= 2, motion blur over
 * [t - dt/2, t + dt/2]. */
static xs_result pose(xs_scene *s, double t, double dt, uint32_t steps, xs_scene_frame_stats *st, xs_err *err)
{
    struct xs_scene_anim *A = s->anim;
    const bool first = !A->posed;
    double c0 = xs_scene_clock(), b0 = st ? st->blas_s : 0.0;
    xs_result r = XS_OK;
    xs_anim_pose(A->anim, t);
    /* the frame's own instant: instances, camera, lights, deformed meshes */
    bool changed = first;
    for (uint32_t i = 0; i < A->ninst; ++i) {
        xs_instance *in = &A->canon[i];
        float xf[12];
        inst_xf(A, i, xf);
        if (!first && !(in->flags & XS_INST_MOTION) && memcmp(xf, in->xf, sizeof xf) == 0)
            continue;
        memcpy(in->xf, xf, sizeof xf);
        float det = 0.0f;
        if (!xs_scene_invert34(xf, in->inv, &det))
            memset(in->inv, 0, sizeof in->inv); /* scaled to nothing: no ray meets it */
        in->flags = det < 0.0f ? XS_INST_FLIPPED : 0u;
        in->motion = 0;
        changed = true;
        if (st)
            st->moved_instances++;
    }
    if (A->camera_moves)
        camera_from(s, xs_anim_world(A->anim, A->camera_node));
    for (int j = 0; j < A->nlights; ++j)
        if (xs_anim_node_moves(A->anim, A->lights[j].node) || first) {
            memcpy(A->lights[j].xform, xs_anim_world(A->anim, A->lights[j].node), sizeof A->lights[j].xform);
            changed = true;
        }
    memset(A->mesh_dirty, 0, s->mesh_count);
    for (int k = 0; k < A->ndef; ++k) {
        deformer *d = &A->def[k];
        s->meshes[d->mesh].motion = UINT32_MAX;
        if (!d->moves && !first)
            continue;
        deform(s, d, A->anim);
        if ((r = place(s, d, st, err)) != XS_OK)
            return r;
        changed = true;
    }
    if (st) /* less what place() counted as BVH work */
        st->pose_s += xs_scene_clock() - c0 - (st->blas_s - b0);
    /* the shutter: poses at its steps */
    s->motion_xf_count = s->motion_tri_count = s->motion_node_count = 0;
    for (int k = 0; k < A->ndef; ++k)
        s->meshes[A->def[k].mesh].seg_nodes = UINT32_MAX;
    s->camera_motion = UINT32_MAX;
    uint32_t used = 0;
    if (steps >= 2u && dt > 0.0 && A->any_time) {
        double c1 = xs_scene_clock();
        if (steps > A->steps_cap) {
            float *n = realloc(A->step_xf, (size_t)steps * (A->ninst ? A->ninst : 1) * 12 * sizeof *n);
            if (!n)
                return nomem(s, err);
            A->step_xf = n;
            A->steps_cap = steps;
        }
        for (int k = 0; k < A->ndef; ++k) {
            deformer *d = &A->def[k];
            if (d->moves && steps * d->a.nt > d->steps_cap) {
                xs_tri *n = realloc(d->steps, (size_t)steps * d->a.nt * sizeof *n);
                if (!n)
                    return nomem(s, err);
                d->steps = n;
                d->steps_cap = steps * d->a.nt;
            }
        }
        for (uint32_t k = 0; k < steps; ++k) {
            xs_anim_pose(A->anim, t + ((double)k / (double)(steps - 1u) - 0.5) * dt);
            for (uint32_t i = 0; i < A->ninst; ++i)
                if (xs_anim_node_moves(A->anim, A->inst_node[i]))
                    inst_xf(A, i, A->step_xf + ((size_t)k * A->ninst + i) * 12);
            if (A->camera_moves)
                xf34(xs_anim_world(A->anim, A->camera_node), A->cam_xf + (size_t)k * 12);
            for (int q = 0; q < A->ndef; ++q) {
                deformer *d = &A->def[q];
                if (!d->moves)
                    continue;
                deform(s, d, A->anim);
                par_ctx c = {s, d, d->order, d->steps + (size_t)k * d->a.nt, false, 0};
                xs_parallel_for(parts_for(s, d->a.nt), d->a.nt, tris_range, &c);
            }
        }
        /* what moves within the shutter gets its steps */
        uint32_t nxf = 0;
        uint64_t ntri = 0;
        for (uint32_t i = 0; i < A->ninst; ++i)
            if (xs_anim_node_moves(A->anim, A->inst_node[i]))
                nxf += steps;
        nxf += A->camera_moves ? steps : 0u;
        for (int q = 0; q < A->ndef; ++q)
            ntri += A->def[q].moves ? (uint64_t)steps * A->def[q].a.nt : 0u;
        if ((r = grow_motion(s, nxf, ntri, err)) != XS_OK)
            return r;
        for (uint32_t i = 0; i < A->ninst; ++i) {
            if (!xs_anim_node_moves(A->anim, A->inst_node[i]))
                continue;
            const float *x0 = A->step_xf + (size_t)i * 12;
            bool moving = false;
            for (uint32_t k = 1; k < steps && !moving; ++k)
                moving = memcmp(x0, A->step_xf + ((size_t)k * A->ninst + i) * 12, 12 * sizeof(float)) != 0;
            if (!moving)
                continue;
            xs_instance *in = &A->canon[i];
            in->flags |= XS_INST_MOTION;
            in->motion = s->motion_xf_count;
            for (uint32_t k = 0; k < steps; ++k)
                decompose(A->step_xf + ((size_t)k * A->ninst + i) * 12, &s->motion_xf[s->motion_xf_count++]);
            changed = true;
            used = steps;
        }
        if (A->camera_moves) {
            bool moving = false;
            for (uint32_t k = 1; k < steps && !moving; ++k)
                moving = memcmp(A->cam_xf, A->cam_xf + (size_t)k * 12, 12 * sizeof(float)) != 0;
            if (moving) {
                s->camera_motion = s->motion_xf_count;
                for (uint32_t k = 0; k < steps; ++k)
                    decompose(A->cam_xf + (size_t)k * 12, &s->motion_xf[s->motion_xf_count++]);
                used = steps;
            }
        }
        if (st)
            st->pose_s += xs_scene_clock() - c1;
        for (int q = 0; q < A->ndef; ++q) {
            deformer *d = &A->def[q];
            if (!d->moves)
                continue;
            const size_t nt = d->a.nt;
            bool moving = false;
            for (uint32_t k = 1; k < steps && !moving; ++k)
                moving = memcmp(d->steps, d->steps + (size_t)k * nt, nt * sizeof *d->steps) != 0;
            if (!moving)
                continue;
            double c2 = xs_scene_clock();
            xs_mesh *m = &s->meshes[d->mesh];
            m->motion = s->motion_tri_count;
            memcpy(s->motion_tris + s->motion_tri_count, d->steps, (size_t)steps * nt * sizeof *d->steps);
            s->motion_tri_count += (uint32_t)((size_t)steps * nt);
            if (s->motion_bvh == XS_MOTION_BVH_SEGMENTS && (r = segment_trees(s, d, steps, st, err)) != XS_OK)
                return r;
            /* the tree's bounds cover every step */
            for (size_t i = 0; i < nt; ++i)
                tri_box(&d->steps[i], d->tbox + 6 * i);
            for (uint32_t k = 1; k < steps; ++k)
                for (size_t i = 0; i < nt; ++i) {
                    float b[6];
                    tri_box(&d->steps[(size_t)k * nt + i], b);
                    box_union(d->tbox + 6 * i, b);
                }
            double r0 = xs_scene_clock();
            xs_bvh_refit(s->nodes, m->root, d->nn, d->tbox, m->tri_first);
            if (st)
                st->refit_s += xs_scene_clock() - r0, st->refit_tris += nt;
            xs_scene_mark(s, offsetof(xs_scene_view, nodes), m->root * sizeof(xs_bvh_node),
                          (m->root + d->nn) * sizeof(xs_bvh_node));
            used = steps;
            if (st)
                st->blas_s += xs_scene_clock() - c2;
        }
    }
    s->motion_steps = used;
    if (!used)
        s->camera_motion = UINT32_MAX;
    /* a deforming mesh's record holds where its steps and segment trees are
     * (reset above, set again under a shutter): the device takes it too */
    for (int k = 0; k < A->ndef; ++k) {
        const size_t m = (size_t)A->def[k].mesh;
        xs_scene_mark(s, offsetof(xs_scene_view, meshes), m * sizeof(xs_mesh), (m + 1) * sizeof(xs_mesh));
    }
    xs_scene_mark(s, offsetof(xs_scene_view, motion_xf), 0, (size_t)s->motion_xf_count * sizeof(xs_motion_xf));
    xs_scene_mark(s, offsetof(xs_scene_view, motion_tris), 0, (size_t)s->motion_tri_count * sizeof(xs_tri));
    xs_scene_mark(s, offsetof(xs_scene_view, motion_nodes), 0, (size_t)s->motion_node_count * sizeof(xs_bvh_node));
    if (!changed) {
        /* which instances the top tree may merge follows the shutter */
        if ((r = xs_scene_wide(s, err)) != XS_OK)
            return r;
        A->posed = true;
        return XS_OK;
    }
    /* instance bounds; the TLAS again when they changed */
    double c3 = xs_scene_clock();
    for (uint32_t i = 0; i < A->ninst; ++i) {
        if (A->canon[i].flags & XS_INST_MOTION)
            motion_box(s, &A->canon[i], steps, A->boxes + 6 * (size_t)i);
        else
            xs_scene_instance_box(s, &A->canon[i], A->boxes + 6 * (size_t)i);
    }
    const size_t bbytes = (size_t)A->ninst * 6 * sizeof(float);
    if (!A->have_tlas_boxes || memcmp(A->boxes, A->tlas_boxes, bbytes) != 0) {
        if ((r = xs_scene_tlas(s, A->canon, A->boxes, A->ninst, err)) != XS_OK)
            return r;
        memcpy(A->tlas_boxes, A->boxes, bbytes);
        A->have_tlas_boxes = true;
    } else {
        for (uint32_t i = 0; i < A->ninst; ++i)
            s->instances[i] = A->canon[s->tlas_order[i]];
    }
    xs_scene_mark(s, offsetof(xs_scene_view, instances), 0, (size_t)A->ninst * sizeof(xs_instance));
    /* the wide BVH the kernels walk, from the trees and instances as posed */
    if ((r = xs_scene_wide(s, err)) != XS_OK)
        return r;
    double c4 = xs_scene_clock();
    if (st)
        st->tlas_s += c4 - c3;
    /* lights at their new places, with their new power */
    if ((r = xs_scene_relight(s, A->lights, A->nlights, A->mesh_dirty, err)) != XS_OK)
        return r;
    xs_scene_mark(s, offsetof(xs_scene_view, inst_light_base), 0, (size_t)s->instance_count * sizeof(uint32_t));
    xs_scene_mark(s, offsetof(xs_scene_view, lights), 0, (size_t)s->light_count * sizeof(xs_light));
    xs_scene_mark(s, offsetof(xs_scene_view, light_cdf), 0, (size_t)s->light_count * sizeof(float));
    xs_scene_mark(s, offsetof(xs_scene_view, light_pmf), 0, (size_t)s->light_count * sizeof(float));
    if (st)
        st->lights_s += xs_scene_clock() - c4;
    A->posed = true;
    return XS_OK;
}

xs_result xs_scene_anim_finish(xs_scene *s, int camera_node, xs_err *err)
{
    struct xs_scene_anim *A = s->anim;
    A->camera_node = camera_node;
    A->camera_moves = camera_node >= 0 && xs_anim_node_moves(A->anim, camera_node);
    bool any = A->camera_moves;
    for (uint32_t i = 0; i < A->ninst; ++i)
        any |= xs_anim_node_moves(A->anim, A->inst_node[i]);
    for (int k = 0; k < A->ndef; ++k)
        any |= A->def[k].moves;
    for (int j = 0; j < A->nlights; ++j)
        any |= xs_anim_node_moves(A->anim, A->lights[j].node);
    A->any_time = any && xs_anim_plays(A->anim);
    xs_result r = pose(s, 0.0, 0.0, 0, NULL, err);
    A->have_frame = false;
    xs_scene_blobs_taken(s);
    return r;
}

bool xs_scene_animated(const xs_scene *s) { return s->anim && s->anim->any_time; }

xs_result xs_scene_set_frame(xs_scene *s, const xs_scene_timing *tm, int frame, xs_scene_frame_stats *st,
                             xs_err *err)
{
    struct xs_scene_anim *A = s->anim;
    if (!A || !A->any_time)
        return XS_OK;
    if (A->have_frame && A->frame == frame && A->timing.fps == tm->fps &&
        A->timing.time_offset == tm->time_offset && A->timing.shutter == tm->shutter &&
        A->timing.motion_steps == tm->motion_steps)
        return XS_OK;
    if (!(tm->fps > 0.0) || !(tm->shutter >= 0.0f && tm->shutter <= 1.0f))
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: fps %g and shutter %g: fps must be above 0, the "
                                               "shutter in [0, 1]", s->name, tm->fps, (double)tm->shutter);
    uint32_t steps = tm->motion_steps < 2 ? 2u : tm->motion_steps > 64 ? 64u : (uint32_t)tm->motion_steps;
    A->have_frame = false;
    xs_result r = pose(s, (double)frame / tm->fps + tm->time_offset, (double)tm->shutter / tm->fps,
                       tm->shutter > 0.0f ? steps : 0u, st, err);
    if (r != XS_OK)
        return r;
    if (st)
        st->frames++;
    A->have_frame = true;
    A->frame = frame;
    A->timing = *tm;
    return XS_OK;
}
