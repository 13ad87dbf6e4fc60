/* Animation (see xs_animation.h): the played channels sampled at a time,
 * node worlds composed parents first, joint matrices for skins.
 *
 * Invariants: nodes[] mirrors the glTF node table; order[] lists the
 * default scene's nodes parents first; a node "moves" when a played channel
 * targets its translation, rotation or scale or those of an ancestor, and
 * only moving nodes are recomposed per pose (the others keep the world
 * computed at creation, with the loader's arithmetic, so a node that never
 * moves has the loader's matrix bit for bit). */
#include "render/xs_animation.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct anim_node {
    int32_t parent;
    bool in_scene, has_matrix;
    bool moves;          /* its world can change */
    bool weights_move;   /* a played channel animates its morph weights */
    float matrix[16];
    float t[3], r[4], s[3];        /* rest */
    float pt[3], pr[4], ps[3];     /* the pose's */
    float world[16];
    int weight_count;
    float *rest_weights, *weights; /* weight_count each */
} anim_node;

typedef struct anim_channel {
    const xs_gltf_sampler *sampler; /* in the copied animation */
    int32_t node, path;
} anim_channel;

struct xs_anim {
    anim_node *nodes;
    int node_count;
    int32_t *order; /* the scene's moving nodes, parents first */
    int order_count;
    xs_gltf_skin *skins;
    int skin_count;
    bool *skin_moves;
    xs_gltf_sampler *samplers; /* copies of the played animations' samplers */
    int sampler_count;
    anim_channel *channels;
    int channel_count;
    double t_first, t_last;
};

/* ---- sampling (glTF 2.0, Appendix C) ------------------------------------------------ */

void xs_quat_slerp(const float *a, const float *b, double u, float *out)
{
    double d = (double)a[0] * b[0] + (double)a[1] * b[1] + (double)a[2] * b[2] + (double)a[3] * b[3];
    double bs = 1.0;
    if (d < 0.0) { /* the short way round */
        d = -d;
        bs = -1.0;
    }
    double ka, kb;
    if (d > 0.9995) { /* nearly equal: linear, then normalised */
        ka = 1.0 - u;
        kb = u * bs;
    } else {
        double th0 = acos(d), th = u * th0, s0 = sin(th0);
        ka = cos(th) - d * sin(th) / s0;
        kb = sin(th) / s0 * bs;
    }
    double q[4], l = 0.0;
    for (int c = 0; c < 4; ++c) {
        q[c] = ka * a[c] + kb * b[c];
        l += q[c] * q[c];
    }
    l = sqrt(l);
    for (int c = 0; c < 4; ++c)
        out[c] = (float)(l > 0.0 ? q[c] / l : (c == 3));
}

/* The keyframe interval holding t: the last k with input[k] <= t (binary search). */
static int find_key(const xs_gltf_sampler *s, double t)
{
    int lo = 0, hi = s->key_count - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if ((double)s->input[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

void xs_anim_sample(const xs_gltf_sampler *s, bool rotation, double t, float *out)
{
    const int w = s->width, n = s->key_count;
    const bool cubic = s->interpolation == XS_INTERP_CUBIC;
    const int stride = cubic ? 3 * w : w, vo = cubic ? w : 0; /* a keyframe's floats; its value's offset */
    if (n == 1 || t <= (double)s->input[0] || t >= (double)s->input[n - 1]) {
        const float *v = s->output + (size_t)(n == 1 || t <= (double)s->input[0] ? 0 : n - 1) * (size_t)stride + (size_t)vo;
        memcpy(out, v, (size_t)w * sizeof *out);
        return;
    }
    const int k = find_key(s, t);
    const double t0 = s->input[k], t1 = s->input[k + 1], td = t1 - t0, u = (t - t0) / td;
    const float *a = s->output + (size_t)k * (size_t)stride, *b = a + stride;
    if (s->interpolation == XS_INTERP_STEP) {
        memcpy(out, a + vo, (size_t)w * sizeof *out);
        return;
    }
    if (!cubic) {
        if (rotation) {
            xs_quat_slerp(a, b, u, out);
            return;
        }
        for (int c = 0; c < w; ++c)
            out[c] = (float)((1.0 - u) * a[c] + u * b[c]);
        return;
    }
    /* Hermite: v_k, its out-tangent b_k, the next in-tangent a_k+1 and
     * value v_k+1, tangents scaled by the interval td */
    const double u2 = u * u, u3 = u2 * u;
    const double h00 = 2 * u3 - 3 * u2 + 1, h10 = u3 - 2 * u2 + u, h01 = -2 * u3 + 3 * u2, h11 = u3 - u2;
    double l = 0.0;
    for (int c = 0; c < w; ++c) {
        double v = h00 * a[w + c] + h10 * td * a[2 * w + c] + h01 * b[w + c] + h11 * td * b[c];
        out[c] = (float)v;
        l += v * v;
    }
    if (rotation && l > 0.0) {
        l = sqrt(l);
        for (int c = 0; c < 4; ++c)
            out[c] = (float)(out[c] / l);
    }
}

/* ---- creation -------------------------------------------------------------------- */

void xs_anim_destroy(xs_anim *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->node_count; ++i)
        free(a->nodes[i].rest_weights), free(a->nodes[i].weights);
    for (int i = 0; i < a->skin_count; ++i)
        free(a->skins[i].joints), free(a->skins[i].inverse_bind);
    for (int i = 0; i < a->sampler_count; ++i)
        free(a->samplers[i].input), free(a->samplers[i].output);
    free(a->nodes), free(a->order), free(a->skins), free(a->skin_moves), free(a->samplers);
    free(a->channels);
    free(a);
}

/* Which animations play: play[i] for each of g's animations. */
static xs_result choose(const xs_gltf_scene *g, const char *play, bool *on, xs_err *err)
{
    const int n = g->animation_count;
    bool all = !play || !play[0] || strcmp(play, "all") == 0;
    for (int i = 0; i < n; ++i)
        on[i] = all;
    if (all || strcmp(play, "none") == 0)
        return XS_OK;
    const char *p = play;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int hit = -1;
        for (int i = 0; i < n && hit < 0; ++i)
            if (strlen(g->animations[i].name) == len && strncmp(g->animations[i].name, p, len) == 0)
                hit = i;
        if (hit < 0 && len > 0 && len < 10) {
            char num[16];
            memcpy(num, p, len);
            num[len] = '\0';
            char *end = NULL;
            long v = strtol(num, &end, 10);
            if (*end == '\0' && v >= 0 && v < n)
                hit = (int)v;
        }
        if (hit < 0) {
            char names[400] = "";
            size_t o = 0;
            for (int i = 0; i < n && o + 80 < sizeof names; ++i)
                o += (size_t)snprintf(names + o, sizeof names - o, "%s%d '%s'", i ? ", " : "", i,
                                      g->animations[i].name);
            return xs_err_set(err, XS_ERR_INVALID, "animations: no animation '%.*s' in the scene (it has %d%s%s)",
                              (int)len, p, n, n ? ": " : "", names);
        }
        on[hit] = true;
        if (!e)
            break;
        p = e + 1;
    }
    return XS_OK;
}

xs_result xs_anim_check(const xs_gltf_scene *g, const char *play, xs_err *err)
{
    bool *on = calloc((size_t)(g->animation_count ? g->animation_count : 1), sizeof *on);
    if (!on)
        return xs_err_set(err, XS_ERR_NOMEM, "animation: out of memory");
    xs_result r = choose(g, play, on, err);
    free(on);
    return r;
}

static bool copy_floats(float **dst, const float *src, size_t n)
{
    *dst = malloc((n ? n : 1) * sizeof **dst);
    if (*dst && n)
        memcpy(*dst, src, n * sizeof **dst);
    return *dst != NULL;
}

xs_result xs_anim_create(const xs_gltf_scene *g, const char *play, xs_anim **out, xs_err *err)
{
    *out = NULL;
    xs_anim *a = calloc(1, sizeof *a);
    bool *on = calloc((size_t)(g->animation_count ? g->animation_count : 1), sizeof *on);
    if (!a || !on) {
        free(a), free(on);
        return xs_err_set(err, XS_ERR_NOMEM, "animation: out of memory");
    }
    xs_result r = choose(g, play, on, err);
    if (r != XS_OK) {
        free(on), free(a);
        return r;
    }
    const int nn = g->node_count;
    a->nodes = calloc((size_t)(nn ? nn : 1), sizeof *a->nodes);
    a->order = malloc((size_t)(g->scene_node_count ? g->scene_node_count : 1) * sizeof *a->order);
    a->skins = calloc((size_t)(g->skin_count ? g->skin_count : 1), sizeof *a->skins);
    a->skin_moves = calloc((size_t)(g->skin_count ? g->skin_count : 1), sizeof *a->skin_moves);
    int nch = 0, nsm = 0;
    for (int i = 0; i < g->animation_count; ++i)
        if (on[i])
            nch += g->animations[i].channel_count, nsm += g->animations[i].sampler_count;
    a->channels = malloc((size_t)(nch ? nch : 1) * sizeof *a->channels);
    a->samplers = calloc((size_t)(nsm ? nsm : 1), sizeof *a->samplers);
    bool ok = a->nodes && a->order && a->skins && a->skin_moves && a->channels && a->samplers;
    a->node_count = nn;
    a->skin_count = g->skin_count;
    for (int i = 0; ok && i < nn; ++i) {
        const xs_gltf_node *s = &g->nodes[i];
        anim_node *d = &a->nodes[i];
        d->parent = s->parent;
        d->in_scene = s->in_scene;
        d->has_matrix = s->has_matrix;
        memcpy(d->matrix, s->matrix, sizeof d->matrix);
        memcpy(d->t, s->t, sizeof d->t), memcpy(d->r, s->r, sizeof d->r), memcpy(d->s, s->s, sizeof d->s);
        d->weight_count = s->weight_count;
        if (s->weight_count)
            ok = copy_floats(&d->rest_weights, s->weights, (size_t)s->weight_count) &&
                 copy_floats(&d->weights, s->weights, (size_t)s->weight_count);
    }
    for (int i = 0; ok && i < g->skin_count; ++i) {
        a->skins[i].joint_count = g->skins[i].joint_count;
        ok = (a->skins[i].joints = malloc((size_t)g->skins[i].joint_count * sizeof(int32_t))) != NULL &&
             copy_floats(&a->skins[i].inverse_bind, g->skins[i].inverse_bind, (size_t)g->skins[i].joint_count * 16);
        if (ok)
            memcpy(a->skins[i].joints, g->skins[i].joints, (size_t)g->skins[i].joint_count * sizeof(int32_t));
    }
    /* the played channels, their samplers copied */
    a->t_first = INFINITY;
    a->t_last = -INFINITY;
    for (int i = 0; ok && i < g->animation_count; ++i) {
        if (!on[i])
            continue;
        const xs_gltf_animation *an = &g->animations[i];
        const int base = a->sampler_count;
        for (int k = 0; ok && k < an->sampler_count; ++k) {
            const xs_gltf_sampler *s = &an->samplers[k];
            xs_gltf_sampler *d = &a->samplers[a->sampler_count++];
            *d = *s;
            d->input = NULL, d->output = NULL;
            size_t nout = (size_t)s->key_count * (size_t)s->width * (s->interpolation == XS_INTERP_CUBIC ? 3u : 1u);
            ok = copy_floats(&d->input, s->input, (size_t)s->key_count) && copy_floats(&d->output, s->output, nout);
        }
        for (int k = 0; ok && k < an->channel_count; ++k) {
            const xs_gltf_channel *c = &an->channels[k];
            if (!g->nodes[c->node].in_scene)
                continue;
            anim_channel *d = &a->channels[a->channel_count++];
            d->sampler = &a->samplers[base + c->sampler];
            d->node = c->node;
            d->path = c->path;
            if (c->path == XS_PATH_WEIGHTS)
                a->nodes[c->node].weights_move = true;
            else
                a->nodes[c->node].moves = true;
            a->t_first = fmin(a->t_first, d->sampler->input[0]);
            a->t_last = fmax(a->t_last, d->sampler->input[d->sampler->key_count - 1]);
        }
    }
    free(on);
    if (!ok) {
        xs_anim_destroy(a);
        return xs_err_set(err, XS_ERR_NOMEM, "animation: out of memory");
    }
    if (a->channel_count == 0)
        a->t_first = a->t_last = 0.0;
    /* worlds at rest, parents first; a node moves when its parent does */
    static const float id[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    for (int k = 0; k < g->scene_node_count; ++k) {
        const int i = g->scene_nodes[k];
        anim_node *d = &a->nodes[i];
        float local[16];
        if (d->has_matrix)
            memcpy(local, d->matrix, sizeof local);
        else
            xs_gltf_trs_matrix(d->t, d->r, d->s, local);
        xs_gltf_mat4_mul(d->parent >= 0 ? a->nodes[d->parent].world : id, local, d->world);
        if (d->parent >= 0 && a->nodes[d->parent].moves)
            d->moves = true;
        if (d->moves)
            a->order[a->order_count++] = i;
    }
    for (int i = 0; i < a->skin_count; ++i)
        for (int q = 0; q < a->skins[i].joint_count; ++q)
            a->skin_moves[i] |= a->nodes[a->skins[i].joints[q]].moves;
    *out = a;
    return XS_OK;
}

bool xs_anim_plays(const xs_anim *a) { return a->channel_count > 0; }
bool xs_anim_node_moves(const xs_anim *a, int node) { return a->nodes[node].moves; }
bool xs_anim_weights_move(const xs_anim *a, int node) { return a->nodes[node].weights_move; }
bool xs_anim_skin_moves(const xs_anim *a, int skin) { return a->skin_moves[skin]; }
int xs_anim_joint_count(const xs_anim *a, int skin) { return a->skins[skin].joint_count; }

void xs_anim_range(const xs_anim *a, double *t_first, double *t_last)
{
    *t_first = a->t_first;
    *t_last = a->t_last;
}

/* ---- the pose -------------------------------------------------------------------- */

void xs_anim_pose(xs_anim *a, double t)
{
    for (int k = 0; k < a->order_count; ++k) {
        anim_node *d = &a->nodes[a->order[k]];
        memcpy(d->pt, d->t, sizeof d->pt), memcpy(d->pr, d->r, sizeof d->pr), memcpy(d->ps, d->s, sizeof d->ps);
    }
    for (int i = 0; i < a->node_count; ++i)
        if (a->nodes[i].weights_move)
            memcpy(a->nodes[i].weights, a->nodes[i].rest_weights, (size_t)a->nodes[i].weight_count * sizeof(float));
    for (int c = 0; c < a->channel_count; ++c) {
        const anim_channel *ch = &a->channels[c];
        anim_node *d = &a->nodes[ch->node];
        float *dst = ch->path == XS_PATH_TRANSLATION ? d->pt
                     : ch->path == XS_PATH_ROTATION  ? d->pr
                     : ch->path == XS_PATH_SCALE     ? d->ps
                                                     : d->weights;
        xs_anim_sample(ch->sampler, ch->path == XS_PATH_ROTATION, t, dst);
    }
    static const float id[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    for (int k = 0; k < a->order_count; ++k) {
        anim_node *d = &a->nodes[a->order[k]];
        float local[16];
        if (d->has_matrix)
            memcpy(local, d->matrix, sizeof local);
        else
            xs_gltf_trs_matrix(d->pt, d->pr, d->ps, local);
        xs_gltf_mat4_mul(d->parent >= 0 ? a->nodes[d->parent].world : id, local, d->world);
    }
}

const float *xs_anim_world(const xs_anim *a, int node) { return a->nodes[node].world; }

const float *xs_anim_weights(const xs_anim *a, int node, int *n_weights)
{
    *n_weights = a->nodes[node].weight_count;
    return a->nodes[node].weight_count ? a->nodes[node].weights : NULL;
}

void xs_anim_joint_matrices(const xs_anim *a, int skin, float *out)
{
    const xs_gltf_skin *s = &a->skins[skin];
    for (int q = 0; q < s->joint_count; ++q)
        xs_gltf_mat4_mul(a->nodes[s->joints[q]].world, s->inverse_bind + 16 * (size_t)q, out + 16 * (size_t)q);
}
