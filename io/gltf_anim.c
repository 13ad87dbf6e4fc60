/* What moves in a glTF file (see xs_gltf.h): morph targets and skin
 * attributes of primitives, the node table, skins and animations, each
 * checked as the glTF 2.0 specification states it before anything renders.
 * Keyframes and joints are counted against the limits before they are
 * allocated; every message names the animation, channel, sampler, skin or
 * primitive and the reason. Read here, evaluated in render/animation.c. */
#include "io/gltf_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- morph targets and skin attributes of a primitive ------------------------- */

xs_result xs_gltf_load_targets(xs_gltf_loader *L, const cJSON *p, const char *w, xs_gltf_primitive *x)
{
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(p, "targets");
    if (!targets)
        return XS_OK;
    if (!cJSON_IsArray(targets))
        return xs_gltf_bad(L, "%s.targets: must be an array", w);
    int nt = cJSON_GetArraySize(targets);
    if (nt == 0)
        return XS_OK;
    if ((uint64_t)nt > L->lim.max_morph_targets)
        return xs_gltf_bad(L, "%s.targets: %d morph targets exceed the limit of %llu a mesh (--max-morph-targets)",
                           w, nt, (unsigned long long)L->lim.max_morph_targets);
    const size_t nv = x->vertex_count;
    uint64_t deltas = (uint64_t)nt * nv;
    if (L->morph_deltas + deltas > L->lim.max_triangles)
        return xs_gltf_bad(L, "%s.targets: %d targets of %zu vertices bring the morph deltas over the "
                              "limit of %llu (--max-mtris)", w, nt, nv,
                           (unsigned long long)L->lim.max_triangles);
    L->morph_deltas += deltas;
    static const char *const names[3] = {"POSITION", "NORMAL", "TANGENT"};
    float **dst[3] = {&x->target_pos, &x->target_nrm, &x->target_tan};
    const bool present[3] = {true, x->normals != NULL, x->tangents != NULL};
    int k = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, targets) {
        char wt[160];
        snprintf(wt, sizeof wt, "%s.targets[%d]", w, k);
        if (!cJSON_IsObject(t))
            return xs_gltf_bad(L, "%s: must be an object of attributes", wt);
        for (int a = 0; a < 3; ++a) {
            int idx = -1;
            TRY(xs_gltf_index(L, t, names[a], L->accessors.n, wt, &idx));
            if (idx < 0 || !present[a])
                continue; /* a delta of an attribute the primitive lacks changes nothing */
            if (!*dst[a]) {
                *dst[a] = calloc((size_t)nt * nv * 3, sizeof(float));
                if (!*dst[a])
                    return xs_gltf_nomem(L);
            }
            char wx[200];
            snprintf(wx, sizeof wx, "%s.%s", wt, names[a]);
            float *f = NULL;
            TRY(xs_gltf_read_floats(L, idx, 3, nv, wx, &f));
            memcpy(*dst[a] + (size_t)k * nv * 3, f, nv * 3 * sizeof *f);
            free(f);
        }
        ++k;
    }
    x->target_count = nt;
    return XS_OK;
}

/* JOINTS_set and WEIGHTS_set into influences [4 * set, 4 * set + 4) of each vertex. */
static xs_result skin_set(xs_gltf_loader *L, const cJSON *at, const char *w, int set, int ji, int wi,
                          xs_gltf_primitive *x)
{
    const size_t nv = x->vertex_count;
    xs_gltf_acc ja, wa;
    char wj[160], ww[160];
    snprintf(wj, sizeof wj, "%s.JOINTS_%d", w, set);
    snprintf(ww, sizeof ww, "%s.WEIGHTS_%d", w, set);
    TRY(xs_gltf_accessor(L, ji, wj, &ja));
    TRY(xs_gltf_accessor(L, wi, ww, &wa));
    if (ja.ncomp != 4 || (ja.comp != 5121 && ja.comp != 5123))
        return xs_gltf_bad(L, "%s: must be VEC4 of unsigned byte or short", wj);
    if (wa.ncomp != 4 || !(wa.comp == 5126 || ((wa.comp == 5121 || wa.comp == 5123) && wa.normalized)))
        return xs_gltf_bad(L, "%s: must be VEC4 of float or normalized unsigned byte or short", ww);
    if (ja.count != nv || wa.count != nv)
        return xs_gltf_bad(L, "%s, %s: %zu and %zu elements for %zu vertices", wj, ww, ja.count, wa.count, nv);
    const int stride = x->influences;
    for (size_t v = 0; v < nv; ++v)
        for (int k = 0; k < 4; ++k) {
            float wt = xs_gltf_acc_float(&wa, v, k);
            if (!isfinite(wt) || wt < 0.0f)
                return xs_gltf_bad(L, "%s: vertex %zu weight %d is %g (must be finite and at least 0)", ww,
                                   v, k, (double)wt);
            uint32_t j = xs_gltf_acc_uint(&ja, v, k);
            size_t o = v * (size_t)stride + (size_t)(4 * set + k);
            x->joints[o] = wt > 0.0f ? (uint16_t)j : 0;
            x->joint_weights[o] = wt;
            if (wt > 0.0f && j > x->max_joint)
                x->max_joint = j;
        }
    return XS_OK;
}

xs_result xs_gltf_load_skin_attrs(xs_gltf_loader *L, const cJSON *at, const char *w, xs_gltf_primitive *x)
{
    int j[2], wt[2];
    for (int set = 0; set < 2; ++set) {
        char jn[16], wn[16];
        snprintf(jn, sizeof jn, "JOINTS_%d", set);
        snprintf(wn, sizeof wn, "WEIGHTS_%d", set);
        TRY(xs_gltf_index(L, at, jn, L->accessors.n, w, &j[set]));
        TRY(xs_gltf_index(L, at, wn, L->accessors.n, w, &wt[set]));
        if ((j[set] < 0) != (wt[set] < 0))
            return xs_gltf_bad(L, "%s: %s and %s come together (one is missing)", w, jn, wn);
    }
    if (j[0] < 0) {
        if (j[1] >= 0)
            return xs_gltf_bad(L, "%s: JOINTS_1 without JOINTS_0", w);
        return XS_OK;
    }
    const size_t nv = x->vertex_count;
    x->influences = j[1] >= 0 ? 8 : 4;
    x->joints = calloc(nv * (size_t)x->influences, sizeof *x->joints);
    x->joint_weights = calloc(nv * (size_t)x->influences, sizeof *x->joint_weights);
    if (!x->joints || !x->joint_weights)
        return xs_gltf_nomem(L);
    for (int set = 0; set < 2 && j[set] >= 0; ++set)
        TRY(skin_set(L, at, w, set, j[set], wt[set], x));
    /* the weights of a vertex sum to 1 (the spec's rule, within its
     * tolerance for quantised weights): normalised here; none at all is
     * refused, since such a vertex has nowhere to go */
    for (size_t v = 0; v < nv; ++v) {
        float *wv = x->joint_weights + v * (size_t)x->influences;
        double sum = 0.0;
        for (int k = 0; k < x->influences; ++k)
            sum += wv[k];
        if (!(sum > 0.0))
            return xs_gltf_bad(L, "%s.WEIGHTS_0: vertex %zu has no skin weight above 0", w, v);
        for (int k = 0; k < x->influences; ++k)
            wv[k] = (float)(wv[k] / sum);
    }
    return XS_OK;
}

xs_result xs_gltf_load_mesh_weights(xs_gltf_loader *L, const cJSON *m, int mi, xs_gltf_mesh *x)
{
    int nt = x->prim_count ? x->prims[0].target_count : 0;
    for (int k = 1; k < x->prim_count; ++k)
        if (x->prims[k].target_count != nt)
            return xs_gltf_bad(L, "meshes[%d].primitives[%d].targets: %d morph targets, primitive 0 has %d "
                                  "(every primitive of a mesh has the same)", mi, k, x->prims[k].target_count, nt);
    const cJSON *wj = cJSON_GetObjectItemCaseSensitive(m, "weights");
    if (nt == 0) {
        if (wj && (!cJSON_IsArray(wj) || cJSON_GetArraySize(wj) != 0))
            return xs_gltf_bad(L, "meshes[%d].weights: the mesh has no morph targets", mi);
        return XS_OK;
    }
    x->target_count = nt;
    x->weights = calloc((size_t)nt, sizeof *x->weights);
    if (!x->weights)
        return xs_gltf_nomem(L);
    char w[64];
    snprintf(w, sizeof w, "meshes[%d]", mi);
    if (wj && (!cJSON_IsArray(wj) || cJSON_GetArraySize(wj) != nt))
        return xs_gltf_bad(L, "%s.weights: must be %d numbers, one per morph target", w, nt);
    return xs_gltf_nums(L, m, "weights", nt, x->weights, w);
}

/* ---- the node table ------------------------------------------------------------ */

bool xs_gltf_wants_nodes(const xs_gltf_loader *L)
{
    if (L->animations.n > 0 || L->skins.n > 0)
        return true;
    for (int i = 0; i < L->s->mesh_count; ++i)
        if (L->s->meshes[i].target_count > 0)
            return true;
    return false;
}

xs_result xs_gltf_load_nodes(xs_gltf_loader *L)
{
    const int n = L->nodes.n;
    if (n == 0)
        return XS_OK;
    if ((uint64_t)n > L->lim.max_nodes)
        return xs_gltf_bad(L, "nodes: %d nodes exceeds the limit of %llu (--max-nodes)", n,
                           (unsigned long long)L->lim.max_nodes);
    xs_gltf_scene *s = L->s;
    s->nodes = calloc((size_t)n, sizeof *s->nodes);
    s->scene_nodes = malloc((size_t)n * sizeof *s->scene_nodes);
    if (!s->nodes || !s->scene_nodes)
        return xs_gltf_nomem(L);
    s->node_count = n;
    for (int i = 0; i < n; ++i) {
        const cJSON *o = L->nodes.v[i];
        xs_gltf_node *x = &s->nodes[i];
        char w[64];
        snprintf(w, sizeof w, "nodes[%d]", i);
        x->parent = -1;
        TRY(xs_gltf_index(L, o, "mesh", s->mesh_count, w, &x->mesh));
        TRY(xs_gltf_index(L, o, "skin", L->skins.n, w, &x->skin));
        x->t[0] = x->t[1] = x->t[2] = 0.0f;
        x->r[0] = x->r[1] = x->r[2] = 0.0f;
        x->r[3] = 1.0f;
        x->s[0] = x->s[1] = x->s[2] = 1.0f;
        if (cJSON_GetObjectItemCaseSensitive(o, "matrix")) {
            x->has_matrix = true;
            TRY(xs_gltf_node_matrix(L, o, w, x->matrix));
        } else {
            TRY(xs_gltf_nums(L, o, "translation", 3, x->t, w));
            TRY(xs_gltf_nums(L, o, "rotation", 4, x->r, w));
            TRY(xs_gltf_nums(L, o, "scale", 3, x->s, w));
            float ql = sqrtf(x->r[0] * x->r[0] + x->r[1] * x->r[1] + x->r[2] * x->r[2] + x->r[3] * x->r[3]);
            if (!(ql > 0.0f))
                return xs_gltf_bad(L, "%s.rotation: zero quaternion", w);
        }
        const int nt = x->mesh >= 0 ? s->meshes[x->mesh].target_count : 0;
        const cJSON *wj = cJSON_GetObjectItemCaseSensitive(o, "weights");
        if (wj && (!cJSON_IsArray(wj) || cJSON_GetArraySize(wj) != nt))
            return xs_gltf_bad(L, "%s.weights: must be %d numbers, one per morph target of its mesh", w, nt);
        if (nt > 0) {
            x->weights = malloc((size_t)nt * sizeof *x->weights);
            if (!x->weights)
                return xs_gltf_nomem(L);
            x->weight_count = nt;
            memcpy(x->weights, s->meshes[x->mesh].weights, (size_t)nt * sizeof *x->weights);
            TRY(xs_gltf_nums(L, o, "weights", nt, x->weights, w));
        }
    }
    return XS_OK;
}

/* ---- skins ------------------------------------------------------------------------ */

xs_result xs_gltf_load_skins(xs_gltf_loader *L)
{
    xs_gltf_scene *s = L->s;
    const int n = L->skins.n;
    if (n > 0) {
        s->skins = calloc((size_t)n, sizeof *s->skins);
        if (!s->skins)
            return xs_gltf_nomem(L);
        s->skin_count = n;
    }
    for (int i = 0; i < n; ++i) {
        const cJSON *o = L->skins.v[i];
        xs_gltf_skin *x = &s->skins[i];
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
        snprintf(x->name, sizeof x->name, "%s", cJSON_IsString(nm) ? nm->valuestring : "");
        char w[128];
        snprintf(w, sizeof w, "skins[%d]%s%s%s", i, x->name[0] ? " '" : "", x->name, x->name[0] ? "'" : "");
        const cJSON *joints = xs_gltf_arr(o, "joints");
        int nj = joints ? cJSON_GetArraySize(joints) : 0;
        if (nj == 0)
            return xs_gltf_bad(L, "%s.joints: missing or empty", w);
        if ((uint64_t)nj > L->lim.max_joints)
            return xs_gltf_bad(L, "%s.joints: %d joints exceed the limit of %llu a skin (--max-joints)", w, nj,
                               (unsigned long long)L->lim.max_joints);
        x->joints = malloc((size_t)nj * sizeof *x->joints);
        x->inverse_bind = malloc((size_t)nj * 16 * sizeof *x->inverse_bind);
        if (!x->joints || !x->inverse_bind)
            return xs_gltf_nomem(L);
        x->joint_count = nj;
        int k = 0;
        const cJSON *j;
        cJSON_ArrayForEach(j, joints) {
            if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < 0 ||
                j->valuedouble >= L->nodes.n)
                return xs_gltf_bad(L, "%s.joints[%d]: node index out of range (%d nodes)", w, k, L->nodes.n);
            x->joints[k++] = (int32_t)j->valuedouble;
        }
        int ibm = -1;
        TRY(xs_gltf_index(L, o, "inverseBindMatrices", L->accessors.n, w, &ibm));
        if (ibm < 0) { /* the spec's default: identity matrices */
            for (int q = 0; q < nj; ++q)
                for (int e = 0; e < 16; ++e)
                    x->inverse_bind[q * 16 + e] = (e % 5 == 0) ? 1.0f : 0.0f;
            continue;
        }
        char wi[160];
        snprintf(wi, sizeof wi, "%s.inverseBindMatrices", w);
        xs_gltf_acc a;
        TRY(xs_gltf_accessor(L, ibm, wi, &a));
        if (a.ncomp != 16 || a.comp != 5126)
            return xs_gltf_bad(L, "%s: accessor %d must be MAT4 of float", wi, ibm);
        if (a.count < (size_t)nj)
            return xs_gltf_bad(L, "%s: accessor %d holds %zu matrices for %d joints (a joint without its "
                                  "matrix)", wi, ibm, a.count, nj);
        for (int q = 0; q < nj; ++q)
            for (int e = 0; e < 16; ++e) {
                float v = xs_gltf_acc_float(&a, (size_t)q, e);
                if (!isfinite(v))
                    return xs_gltf_bad(L, "%s: matrix %d is not finite", wi, q);
                x->inverse_bind[q * 16 + e] = v;
            }
    }
    /* skinned nodes of the scene: a mesh whose every primitive has joints,
     * each joint index within the skin, every joint in the scene */
    for (int k = 0; k < s->scene_node_count; ++k) {
        const int ni = s->scene_nodes[k];
        const xs_gltf_node *nd = &s->nodes[ni];
        if (nd->skin < 0)
            continue;
        const xs_gltf_skin *sk = &s->skins[nd->skin];
        if (nd->mesh < 0)
            return xs_gltf_bad(L, "nodes[%d].skin: skins[%d] on a node without a mesh", ni, nd->skin);
        const xs_gltf_mesh *m = &s->meshes[nd->mesh];
        for (int p = 0; p < m->prim_count; ++p) {
            if (m->prims[p].influences == 0)
                return xs_gltf_bad(L, "nodes[%d]: skins[%d] on meshes[%d], whose primitive %d has no "
                                      "JOINTS_0/WEIGHTS_0", ni, nd->skin, nd->mesh, p);
            if (m->prims[p].max_joint >= (uint32_t)sk->joint_count)
                return xs_gltf_bad(L, "meshes[%d].primitives[%d].JOINTS_0: joint %u is out of range of "
                                      "skins[%d] '%s' (%d joints), placed by nodes[%d]", nd->mesh, p,
                                   m->prims[p].max_joint, nd->skin, sk->name, sk->joint_count, ni);
        }
        for (int q = 0; q < sk->joint_count; ++q)
            if (!s->nodes[sk->joints[q]].in_scene)
                return xs_gltf_bad(L, "skins[%d] '%s'.joints[%d]: node %d is not in the rendered scene",
                                   nd->skin, sk->name, q, sk->joints[q]);
    }
    return XS_OK;
}

/* ---- animations -------------------------------------------------------------------- */

static const char *const path_names[4] = {"translation", "rotation", "scale", "weights"};

/* samplers[si] of an animation (w names it): input times, output values. */
static xs_result load_sampler(xs_gltf_loader *L, const cJSON *o, const char *w, xs_gltf_sampler *x)
{
    const cJSON *ip = cJSON_GetObjectItemCaseSensitive(o, "interpolation");
    x->interpolation = XS_INTERP_LINEAR;
    if (ip) {
        if (!cJSON_IsString(ip))
            return xs_gltf_bad(L, "%s.interpolation: must be STEP, LINEAR or CUBICSPLINE", w);
        if (strcmp(ip->valuestring, "STEP") == 0)
            x->interpolation = XS_INTERP_STEP;
        else if (strcmp(ip->valuestring, "CUBICSPLINE") == 0)
            x->interpolation = XS_INTERP_CUBIC;
        else if (strcmp(ip->valuestring, "LINEAR") != 0)
            return xs_gltf_bad(L, "%s.interpolation: '%s' is not STEP, LINEAR or CUBICSPLINE", w, ip->valuestring);
    }
    int ii = -1, oi = -1;
    TRY(xs_gltf_index(L, o, "input", L->accessors.n, w, &ii));
    TRY(xs_gltf_index(L, o, "output", L->accessors.n, w, &oi));
    if (ii < 0 || oi < 0)
        return xs_gltf_bad(L, "%s: needs input and output accessors", w);
    char wi[160], wo[160];
    snprintf(wi, sizeof wi, "%s.input", w);
    snprintf(wo, sizeof wo, "%s.output", w);
    xs_gltf_acc in, out;
    TRY(xs_gltf_accessor(L, ii, wi, &in));
    TRY(xs_gltf_accessor(L, oi, wo, &out));
    if (in.ncomp != 1 || in.comp != 5126)
        return xs_gltf_bad(L, "%s: accessor %d must be SCALAR float (times in seconds)", wi, ii);
    if (L->keyframes + in.count > L->lim.max_keyframes)
        return xs_gltf_bad(L, "%s: %zu keyframes bring the animations over the limit of %llu keyframes "
                              "(--max-keyframes)", wi, in.count, (unsigned long long)L->lim.max_keyframes);
    L->keyframes += in.count;
    const int cubic = x->interpolation == XS_INTERP_CUBIC ? 3 : 1;
    if (cubic == 3 && in.count < 2)
        return xs_gltf_bad(L, "%s: CUBICSPLINE needs at least 2 keyframes, got %zu", wi, in.count);
    if (!(out.ncomp == 1 || out.ncomp == 3 || out.ncomp == 4))
        return xs_gltf_bad(L, "%s: accessor %d must be SCALAR, VEC3 or VEC4", wo, oi);
    if (!(out.comp == 5126 || (out.normalized && out.comp != 5125)))
        return xs_gltf_bad(L, "%s: accessor %d must be float or normalized integers", wo, oi);
    /* VEC3 and VEC4 outputs hold one element a keyframe value; SCALAR ones
     * (morph weights) `width` elements, one per target */
    const size_t slots = in.count * (size_t)cubic;
    const size_t width = out.ncomp == 1 ? out.count / slots : (size_t)out.ncomp;
    if (width == 0 || out.count != slots * (out.ncomp == 1 ? width : 1))
        return xs_gltf_bad(L, "%s: %zu output elements do not match %zu keyframes of %s interpolation "
                              "(%s a keyframe)", wo, out.count, in.count,
                           cubic == 3 ? "CUBICSPLINE" : (x->interpolation == XS_INTERP_STEP ? "STEP" : "LINEAR"),
                           cubic == 3 ? "3 values" : "1 value");
    x->key_count = (int)in.count;
    x->width = (int)width;
    x->input = malloc(in.count * sizeof *x->input);
    x->output = malloc(in.count * (size_t)cubic * width * sizeof *x->output);
    if (!x->input || !x->output)
        return xs_gltf_nomem(L);
    for (size_t k = 0; k < in.count; ++k) {
        float t = xs_gltf_acc_float(&in, k, 0);
        if (!isfinite(t) || t < 0.0f)
            return xs_gltf_bad(L, "%s: keyframe %zu time %g must be finite and at least 0", wi, k, (double)t);
        if (k > 0 && !(t > x->input[k - 1]))
            return xs_gltf_bad(L, "%s: times must increase strictly: keyframe %zu at %g s follows %g s", wi,
                               k, (double)t, (double)x->input[k - 1]);
        x->input[k] = t;
    }
    const size_t nvals = in.count * (size_t)cubic * width;
    for (size_t e = 0; e < nvals; ++e) {
        float v = out.ncomp == 1 ? xs_gltf_acc_float(&out, e, 0)
                                 : xs_gltf_acc_float(&out, e / width, (int)(e % width));
        if (!isfinite(v))
            return xs_gltf_bad(L, "%s: keyframe %zu is not finite", wo, e / ((size_t)cubic * width));
        x->output[e] = v;
    }
    return XS_OK;
}

/* Rotation keyframes (the values, not CUBICSPLINE tangents): zero refused,
 * others made unit length. */
static xs_result normalise_rotations(xs_gltf_loader *L, xs_gltf_sampler *x, const char *w)
{
    const int cubic = x->interpolation == XS_INTERP_CUBIC;
    for (int k = 0; k < x->key_count; ++k) {
        float *q = x->output + (size_t)k * (cubic ? 12 : 4) + (cubic ? 4 : 0);
        double l = sqrt((double)q[0] * q[0] + (double)q[1] * q[1] + (double)q[2] * q[2] + (double)q[3] * q[3]);
        if (!(l > 1e-12))
            return xs_gltf_bad(L, "%s: keyframe %d is a zero quaternion", w, k);
        for (int c = 0; c < 4; ++c)
            q[c] = (float)(q[c] / l);
    }
    return XS_OK;
}

static xs_result load_animation(xs_gltf_loader *L, const cJSON *o, int ai, xs_gltf_animation *x)
{
    xs_gltf_scene *s = L->s;
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
    snprintf(x->name, sizeof x->name, "%s", cJSON_IsString(nm) ? nm->valuestring : "");
    char w[128];
    snprintf(w, sizeof w, "animations[%d]%s%s%s", ai, x->name[0] ? " '" : "", x->name, x->name[0] ? "'" : "");
    const cJSON *samplers = xs_gltf_arr(o, "samplers"), *channels = xs_gltf_arr(o, "channels");
    int ns = samplers ? cJSON_GetArraySize(samplers) : 0, nc = channels ? cJSON_GetArraySize(channels) : 0;
    if (ns == 0 || nc == 0)
        return xs_gltf_bad(L, "%s: needs samplers and channels", w);
    x->samplers = calloc((size_t)ns, sizeof *x->samplers);
    x->channels = calloc((size_t)nc, sizeof *x->channels);
    if (!x->samplers || !x->channels)
        return xs_gltf_nomem(L);
    x->sampler_count = ns;
    int k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, samplers) {
        char ws[160];
        snprintf(ws, sizeof ws, "%s.samplers[%d]", w, k);
        TRY(load_sampler(L, it, ws, &x->samplers[k]));
        ++k;
    }
    x->t_first = INFINITY;
    x->t_last = -INFINITY;
    k = 0;
    cJSON_ArrayForEach(it, channels) {
        char wc[160];
        snprintf(wc, sizeof wc, "%s.channels[%d]", w, k++);
        xs_gltf_channel c = {-1, -1, -1};
        TRY(xs_gltf_index(L, it, "sampler", ns, wc, &c.sampler));
        if (c.sampler < 0)
            return xs_gltf_bad(L, "%s.sampler: missing", wc);
        const cJSON *tg = cJSON_GetObjectItemCaseSensitive(it, "target");
        if (!cJSON_IsObject(tg))
            return xs_gltf_bad(L, "%s.target: missing", wc);
        char wt[200];
        snprintf(wt, sizeof wt, "%s.target", wc);
        TRY(xs_gltf_index(L, tg, "node", L->nodes.n, wt, &c.node));
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(tg, "path");
        if (!cJSON_IsString(path))
            return xs_gltf_bad(L, "%s.path: missing", wt);
        for (int p = 0; p < 4; ++p)
            if (strcmp(path->valuestring, path_names[p]) == 0)
                c.path = p;
        if (c.path < 0 || c.node < 0)
            continue; /* a target an extension defines (e.g. KHR_animation_pointer): not animated here */
        const xs_gltf_node *nd = &s->nodes[c.node];
        char wd[260];
        snprintf(wd, sizeof wd, "%s (nodes[%d] %s)", wc, c.node, path_names[c.path]);
        if (nd->has_matrix)
            return xs_gltf_bad(L, "%s: the node has a matrix, and a node with a matrix cannot be animated", wd);
        for (int q = 0; q < x->channel_count; ++q)
            if (x->channels[q].node == c.node && x->channels[q].path == c.path)
                return xs_gltf_bad(L, "%s: channel %d of this animation already targets it", wd, q);
        xs_gltf_sampler *sm = &x->samplers[c.sampler];
        int want = c.path == XS_PATH_ROTATION ? 4 : c.path == XS_PATH_WEIGHTS ? nd->weight_count : 3;
        if (c.path == XS_PATH_WEIGHTS && want == 0)
            return xs_gltf_bad(L, "%s: the node's mesh has no morph targets", wd);
        if (sm->width != want)
            return xs_gltf_bad(L, "%s: sampler %d gives %d values a keyframe, %s needs %d", wd, c.sampler,
                               sm->width, path_names[c.path], want);
        if (c.path == XS_PATH_ROTATION) {
            char wr[300];
            snprintf(wr, sizeof wr, "%s: sampler %d", wd, c.sampler);
            TRY(normalise_rotations(L, sm, wr));
        }
        if (sm->input[0] < x->t_first)
            x->t_first = sm->input[0];
        if (sm->input[sm->key_count - 1] > x->t_last)
            x->t_last = sm->input[sm->key_count - 1];
        x->channels[x->channel_count++] = c;
    }
    if (x->channel_count == 0)
        x->t_first = x->t_last = 0.0f;
    return XS_OK;
}

xs_result xs_gltf_load_animations(xs_gltf_loader *L)
{
    const int n = L->animations.n;
    if (n == 0)
        return XS_OK;
    xs_gltf_scene *s = L->s;
    s->animations = calloc((size_t)n, sizeof *s->animations);
    if (!s->animations)
        return xs_gltf_nomem(L);
    s->animation_count = n;
    for (int i = 0; i < n; ++i)
        TRY(load_animation(L, L->animations.v[i], i, &s->animations[i]));
    return XS_OK;
}
