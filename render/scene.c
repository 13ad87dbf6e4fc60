/* The scene in memory: meshes (each with its BLAS, triangles in leaf order and
 * their shading attributes), instances placing meshes in the world, the TLAS
 * over instances, materials and textures, lights chosen by power, an optional
 * environment image, and the camera. Built once per job by xs_scene_create
 * (a triangle soup: one mesh, one instance) or xs_scene_from_gltf; read-only
 * and shareable across threads afterwards. */
#include "render/render_internal.h"
#include "kernels/xs_bsdf.h"
#include "kernels/xs_light.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct xs_scene {
    char name[XS_NAME_MAX];
    xs_tri *tris;
    xs_tri_attr *attrs;
    uint32_t tri_count, tri_cap;
    xs_bvh_node *nodes;
    uint32_t node_count, node_cap;
    xs_mesh *meshes;
    uint32_t mesh_count;
    xs_instance *instances;
    uint32_t instance_count;
    xs_bvh_node *tlas;
    uint32_t tlas_count;
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
    double build_seconds; /* BLAS and TLAS builds, summed */
    xs_vec3 cam_pos, cam_fwd, cam_up;
    float cam_yfov_deg;
    xs_vec3 world_lo, world_hi;
};

static int g_build_threads; /* 0: every core of this process's affinity */

void xs_scene_build_threads(int threads) { g_build_threads = threads > 0 ? threads : 0; }
static xs_bvh_method g_bvh_method;
void xs_scene_bvh_method(xs_bvh_method method) { g_bvh_method = method; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double xs_scene_build_seconds(const xs_scene *s) { return s->build_seconds; }


void xs_scene_destroy(xs_scene *s)
{
    if (!s)
        return;
    free(s->tris), free(s->attrs), free(s->nodes), free(s->meshes), free(s->instances);
    free(s->tlas), free(s->materials), free(s->textures), free(s->texture_mean), free(s->texels);
    free(s->lights), free(s->light_cdf), free(s->light_pmf), free(s->env);
    free(s->inst_light_base), free(s->tri_light), free(s->env_row_cdf), free(s->env_col_cdf);
    free(s);
}

static xs_scene *scene_alloc(const char *name)
{
    xs_scene *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->name, sizeof s->name, "%s", name ? name : "scene");
    for (int i = 0; i < 256; ++i) {
        float c = (float)i / 255.0f;
        s->srgb[i] = c <= 0.04045f ? c / 12.92f : powf((c + 0.055f) / 1.055f, 2.4f);
    }
    s->ray_eps = 1e-5f;
    s->env_light = UINT32_MAX;
    s->build_threads = g_build_threads > 0 ? g_build_threads : xs_cpu_count_affinity();
    xs_scene_set_filter(s, XS_FILTER_BLACKMAN_HARRIS, 1.5f);
    return s;
}

static bool grow(void **p, uint32_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    if (need > UINT32_MAX)
        return false;
    uint64_t nc = *cap ? *cap : 64;
    while (nc < need)
        nc *= 2;
    if (nc > UINT32_MAX)
        nc = UINT32_MAX;
    void *n = realloc(*p, (size_t)nc * elem);
    if (!n)
        return false;
    *p = n;
    *cap = (uint32_t)nc;
    return true;
}

/* Adds a mesh: triangles from positions (3 floats a vertex) and indices (3 a
 * triangle), optional uv sets (2 floats a vertex), one material a triangle.
 * Builds its BLAS and appends it. */
/* Tangent of triangle (a, b, c) from its uv gradient; w: handedness. false
 * when the uv mapping is degenerate. */
static bool uv_tangent(const float *pa, const float *pb, const float *pc, const float *ta,
                       const float *tb, const float *tc, const float *n, xs_vec3 *t, float *w)
{
    xs_vec3 e1 = xs_v3(pb[0] - pa[0], pb[1] - pa[1], pb[2] - pa[2]);
    xs_vec3 e2 = xs_v3(pc[0] - pa[0], pc[1] - pa[1], pc[2] - pa[2]);
    float du1 = tb[0] - ta[0], dv1 = tb[1] - ta[1], du2 = tc[0] - ta[0], dv2 = tc[1] - ta[1];
    float det = du1 * dv2 - du2 * dv1;
    if (!(fabsf(det) > 1e-20f))
        return false;
    float r = 1.0f / det;
    xs_vec3 tt = xs_scale(xs_sub(xs_scale(e1, dv2), xs_scale(e2, dv1)), r);
    xs_vec3 bb = xs_scale(xs_sub(xs_scale(e2, du1), xs_scale(e1, du2)), r);
    if (!(xs_dot(tt, tt) > 0.0f) || !isfinite(tt.x + tt.y + tt.z))
        return false;
    *t = xs_normalize(tt);
    xs_vec3 nn = n ? xs_v3(n[0], n[1], n[2]) : xs_cross(e1, e2);
    *w = xs_dot(xs_cross(nn, *t), bb) < 0.0f ? -1.0f : 1.0f;
    return true;
}

static bool nonzero3(const float *v) { return v[0] != 0.0f || v[1] != 0.0f || v[2] != 0.0f; }

/* Fills a triangle's normals and tangents (flags) from optional vertex
 * arrays; tangents fall back to the uv0 gradient (a normal map needs them). */
static void attr_frames(xs_tri_attr *at, const uint32_t *vi, const float *pos, const float *nrm,
                        const float *tan, const float *uv0)
{
    bool has_n = nrm != NULL, has_t = tan != NULL;
    for (int c = 0; c < 3 && has_n; ++c)
        has_n = nonzero3(nrm + 3 * (size_t)vi[c]);
    for (int c = 0; c < 3 && has_t; ++c)
        has_t = nonzero3(tan + 4 * (size_t)vi[c]);
    if (has_n) {
        at->flags |= XS_ATTR_NORMALS;
        for (int c = 0; c < 3; ++c) {
            const float *n = nrm + 3 * (size_t)vi[c];
            at->n[c] = xs_oct_encode(xs_v3(n[0], n[1], n[2]));
        }
    }
    if (has_t) {
        at->flags |= XS_ATTR_TANGENTS;
        for (int c = 0; c < 3; ++c) {
            const float *t = tan + 4 * (size_t)vi[c];
            at->t[c] = xs_oct_encode(xs_v3(t[0], t[1], t[2]));
        }
        if (tan[4 * (size_t)vi[0] + 3] < 0.0f)
            at->flags |= XS_ATTR_BITAN_NEG;
    } else if (uv0) {
        xs_vec3 t;
        float w;
        if (uv_tangent(pos + 3 * (size_t)vi[0], pos + 3 * (size_t)vi[1], pos + 3 * (size_t)vi[2],
                       uv0 + 2 * (size_t)vi[0], uv0 + 2 * (size_t)vi[1], uv0 + 2 * (size_t)vi[2],
                       has_n ? nrm + 3 * (size_t)vi[0] : NULL, &t, &w)) {
            at->flags |= XS_ATTR_TANGENTS | (w < 0.0f ? XS_ATTR_BITAN_NEG : 0u);
            at->t[0] = at->t[1] = at->t[2] = xs_oct_encode(t);
        }
    }
}

/* A mesh's triangles and BLAS, built ahead (xs_scene_from_gltf builds the
 * meshes of a batch in parallel) or by scene_add_mesh itself. */
typedef struct mesh_blas {
    xs_tri *in;
    xs_bvh_node *nodes;
    uint32_t nn, *order;
    xs_result r;
    xs_err err;
} mesh_blas;

/* The triangle with corners a, b, c (3 floats each). */
static xs_tri tri_of(const float *a, const float *b, const float *c)
{
    xs_tri t;
    t.v0 = xs_v3(a[0], a[1], a[2]);
    t.e1 = xs_v3(b[0] - a[0], b[1] - a[1], b[2] - a[2]);
    t.e2 = xs_v3(c[0] - a[0], c[1] - a[1], c[2] - a[2]);
    return t;
}

static void mesh_blas_free(mesh_blas *b)
{
    free(b->in), free(b->nodes), free(b->order);
    b->in = NULL, b->nodes = NULL, b->order = NULL;
}

/* Adds a mesh; with pre (its triangles and BLAS built ahead from the same
 * pos and idx) it takes them over instead of building. */
static xs_result scene_add_mesh(xs_scene *s, const float *pos, uint32_t nverts,
                                const uint32_t *idx, uint32_t ntris, const float *uv0,
                                const float *uv1, const float *nrm, const float *tan,
                                const uint32_t *mat_of_tri, mesh_blas *pre, xs_err *err)
{
    (void)nverts;
    xs_tri *in = NULL;
    xs_bvh_node *nodes = NULL;
    uint32_t nn = 0, *order = NULL;
    if (pre) {
        in = pre->in, nodes = pre->nodes, nn = pre->nn, order = pre->order;
        pre->in = NULL, pre->nodes = NULL, pre->order = NULL;
    } else {
        in = malloc((ntris ? ntris : 1) * sizeof *in);
        if (!in)
            return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
        for (uint32_t i = 0; i < ntris; ++i)
            in[i] = tri_of(pos + 3 * (size_t)idx[3 * i], pos + 3 * (size_t)idx[3 * i + 1],
                           pos + 3 * (size_t)idx[3 * i + 2]);
        double t0 = now_s();
        xs_result r = xs_bvh_build_with(in, ntris, s->build_threads, g_bvh_method, &nodes, &nn, &order, err);
        s->build_seconds += now_s() - t0;
        if (r != XS_OK) {
            free(in);
            return r;
        }
    }
    uint32_t tbase = s->tri_count, nbase = s->node_count;
    uint32_t mcap = s->mesh_count;
    if (!grow((void **)&s->tris, &s->tri_cap, (uint64_t)tbase + ntris, sizeof *s->tris) ||
        !(s->attrs = realloc(s->attrs, (size_t)s->tri_cap * sizeof *s->attrs)) ||
        !grow((void **)&s->nodes, &s->node_cap, (uint64_t)nbase + nn, sizeof *s->nodes) ||
        !grow((void **)&s->meshes, &mcap, (uint64_t)s->mesh_count + 1, sizeof *s->meshes)) {
        free(in), free(nodes), free(order);
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    }
    for (uint32_t i = 0; i < ntris; ++i) {
        uint32_t k = order[i];
        s->tris[tbase + i] = in[k];
        xs_tri_attr *at = &s->attrs[tbase + i];
        memset(at, 0, sizeof *at);
        for (int c = 0; c < 3; ++c) {
            uint32_t v = idx[3 * k + (uint32_t)c];
            if (uv0) {
                at->uv[0][2 * c] = uv0[2 * (size_t)v];
                at->uv[0][2 * c + 1] = uv0[2 * (size_t)v + 1];
            }
            if (uv1) {
                at->uv[1][2 * c] = uv1[2 * (size_t)v];
                at->uv[1][2 * c + 1] = uv1[2 * (size_t)v + 1];
            }
        }
        at->material = mat_of_tri[k];
        attr_frames(at, idx + 3 * (size_t)k, pos, nrm, tan, uv0);
    }
    for (uint32_t i = 0; i < nn; ++i) {
        xs_bvh_node n = nodes[i];
        n.first += n.count > 0 ? tbase : nbase;
        s->nodes[nbase + i] = n;
    }
    s->meshes[s->mesh_count].root = nbase;
    s->meshes[s->mesh_count].tri_first = tbase;
    s->meshes[s->mesh_count].tri_count = ntris;
    s->mesh_count++;
    s->tri_count += ntris;
    s->node_count += nn;
    free(in), free(nodes), free(order);
    return XS_OK;
}

/* Inverts a row-major 3x4 affine transform; false when singular. */
static bool invert34(const float *m, float *inv, float *det_out)
{
    double a = m[0], b = m[1], c = m[2], d = m[4], e = m[5], f = m[6], g = m[8], h = m[9], i = m[10];
    double det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
    *det_out = (float)det;
    if (!(fabs(det) > 1e-30) || !isfinite(det))
        return false;
    double id = 1.0 / det;
    double r[9] = {(e * i - f * h) * id, (c * h - b * i) * id, (b * f - c * e) * id,
                   (f * g - d * i) * id, (a * i - c * g) * id, (c * d - a * f) * id,
                   (d * h - e * g) * id, (b * g - a * h) * id, (a * e - b * d) * id};
    for (int row = 0; row < 3; ++row) {
        inv[row * 4 + 0] = (float)r[row * 3 + 0];
        inv[row * 4 + 1] = (float)r[row * 3 + 1];
        inv[row * 4 + 2] = (float)r[row * 3 + 2];
        inv[row * 4 + 3] = (float)-(r[row * 3 + 0] * m[3] + r[row * 3 + 1] * m[7] + r[row * 3 + 2] * m[11]);
    }
    return true;
}

static xs_result scene_add_instance(xs_scene *s, uint32_t mesh, const float *xf34, uint32_t *cap,
                                    xs_err *err)
{
    if (!grow((void **)&s->instances, cap, (uint64_t)s->instance_count + 1, sizeof *s->instances))
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    xs_instance *in = &s->instances[s->instance_count];
    memset(in, 0, sizeof *in);
    memcpy(in->xf, xf34, sizeof in->xf);
    float det = 0.0f;
    if (!invert34(xf34, in->inv, &det))
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: instance %u has a singular transform",
                          s->name, s->instance_count);
    in->mesh = mesh;
    in->flags = det < 0.0f ? XS_INST_FLIPPED : 0u;
    s->instance_count++;
    return XS_OK;
}

static float tex_mean_lum(const xs_scene *s, int32_t tex)
{
    return tex >= 0 ? s->texture_mean[tex] : 1.0f;
}

/* TLAS, instance order, lights, world bounds. */
static xs_result scene_finish(xs_scene *s, xs_err *err)
{
    if (s->instance_count == 0 || s->tri_count == 0)
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: no triangles to render", s->name);
    float *boxes = malloc((size_t)s->instance_count * 6 * sizeof *boxes);
    if (!boxes)
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    s->world_lo = xs_v3(INFINITY, INFINITY, INFINITY);
    s->world_hi = xs_v3(-INFINITY, -INFINITY, -INFINITY);
    for (uint32_t i = 0; i < s->instance_count; ++i) {
        const xs_instance *in = &s->instances[i];
        const xs_bvh_node *root = &s->nodes[s->meshes[in->mesh].root];
        xs_vec3 lo = xs_v3(INFINITY, INFINITY, INFINITY), hi = xs_neg(lo);
        for (int k = 0; k < 8; ++k) {
            xs_vec3 c = xs_v3((k & 1) ? root->bmax[0] : root->bmin[0],
                              (k & 2) ? root->bmax[1] : root->bmin[1],
                              (k & 4) ? root->bmax[2] : root->bmin[2]);
            xs_vec3 w = xs_xf_point(in->xf, c);
            lo = xs_vmin(lo, w);
            hi = xs_vmax(hi, w);
        }
        float *b = boxes + (size_t)i * 6;
        b[0] = lo.x, b[1] = lo.y, b[2] = lo.z, b[3] = hi.x, b[4] = hi.y, b[5] = hi.z;
        s->world_lo = xs_vmin(s->world_lo, lo);
        s->world_hi = xs_vmax(s->world_hi, hi);
    }
    uint32_t *order = NULL;
    double t0 = now_s();
    xs_result r = xs_bvh_build_boxes(boxes, s->instance_count, s->build_threads, &s->tlas,
                                     &s->tlas_count, &order, err);
    s->build_seconds += now_s() - t0;
    free(boxes);
    if (r != XS_OK)
        return r;
    xs_instance *sorted = malloc((size_t)s->instance_count * sizeof *sorted);
    if (!sorted) {
        free(order);
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    }
    for (uint32_t i = 0; i < s->instance_count; ++i)
        sorted[i] = s->instances[order[i]];
    free(s->instances);
    free(order);
    s->instances = sorted;

    return XS_OK;
}

/* The environment's sampling tables: luminance x sin(theta) per pixel. */
static xs_result env_tables(xs_scene *s, double *mean_lum, xs_err *err)
{
    *mean_lum = 0.0;
    if (!s->env) {
        *mean_lum = (double)xs_luminance(s->background);
        return XS_OK;
    }
    int w = s->env_w, h = s->env_h;
    s->env_row_cdf = malloc((size_t)(h + 1) * sizeof *s->env_row_cdf);
    s->env_col_cdf = malloc((size_t)h * (size_t)(w + 1) * sizeof *s->env_col_cdf);
    double *rows = malloc((size_t)h * sizeof *rows);
    if (!s->env_row_cdf || !s->env_col_cdf || !rows) {
        free(rows);
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory for the environment", s->name);
    }
    double total = 0.0, lum_sum = 0.0, sin_sum = 0.0;
    for (int y = 0; y < h; ++y) {
        double st = sin(((double)y + 0.5) / (double)h * 3.14159265358979);
        float *cdf = s->env_col_cdf + (size_t)y * (size_t)(w + 1);
        double acc = 0.0;
        cdf[0] = 0.0f;
        for (int x = 0; x < w; ++x) {
            const float *p = s->env + ((size_t)y * (size_t)w + (size_t)x) * 3;
            double l = (double)xs_luminance(xs_mul(s->background, xs_v3(p[0], p[1], p[2])));
            if (!(l > 0.0) || !isfinite(l))
                l = 0.0;
            lum_sum += l * st;
            acc += l * st;
            cdf[x + 1] = (float)acc;
        }
        for (int x = 1; x <= w; ++x)
            cdf[x] = acc > 0.0 ? (float)((double)cdf[x] / acc) : (float)x / (float)w;
        cdf[w] = 1.0f;
        rows[y] = acc;
        total += acc;
        sin_sum += st * (double)w;
    }
    double acc = 0.0;
    s->env_row_cdf[0] = 0.0f;
    for (int y = 0; y < h; ++y) {
        acc += rows[y];
        s->env_row_cdf[y + 1] = total > 0.0 ? (float)(acc / total) : (float)(y + 1) / (float)h;
    }
    s->env_row_cdf[h] = 1.0f;
    free(rows);
    s->env_func_int = (float)(total / ((double)w * (double)h));
    *mean_lum = sin_sum > 0.0 ? lum_sum / sin_sum : 0.0;
    return XS_OK;
}

/* Lights, chosen by power: emissive triangles of every instance, punctual
 * lights, then the environment; and the map from an emissive triangle hit
 * back to its light (for MIS). Runs after the environment is set. */
static xs_result scene_lights(xs_scene *s, const xs_gltf_light *pl, int npl, xs_err *err)
{
    double env_lum = 0.0;
    xs_result r = env_tables(s, &env_lum, err);
    if (r != XS_OK)
        return r;
    s->tri_light = malloc((size_t)(s->tri_count ? s->tri_count : 1) * sizeof *s->tri_light);
    s->inst_light_base = malloc((size_t)s->instance_count * sizeof *s->inst_light_base);
    if (!s->tri_light || !s->inst_light_base)
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    /* per mesh: local index of each emissive triangle */
    uint32_t *mesh_emissive = calloc((size_t)s->mesh_count, sizeof *mesh_emissive);
    if (!mesh_emissive)
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    for (uint32_t mi = 0; mi < s->mesh_count; ++mi) {
        const xs_mesh *m = &s->meshes[mi];
        for (uint32_t t = m->tri_first; t < m->tri_first + m->tri_count; ++t)
            s->tri_light[t] = xs_luminance(s->materials[s->attrs[t].material].emission) > 0.0f
                                  ? mesh_emissive[mi]++
                                  : UINT32_MAX;
    }
    uint64_t ntri = 0; /* triangle lights come first, instance by instance */
    for (uint32_t i = 0; i < s->instance_count; ++i) {
        uint32_t ne = mesh_emissive[s->instances[i].mesh];
        s->inst_light_base[i] = ne && ntri < UINT32_MAX / 2 ? (uint32_t)ntri : UINT32_MAX;
        ntri += ne;
    }
    free(mesh_emissive);
    uint64_t nl = ntri + (uint64_t)npl + (env_lum > 0.0 ? 1u : 0u);
    if (nl > UINT32_MAX / 2)
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: too many emissive triangles", s->name);
    if (nl == 0)
        return XS_OK;
    s->lights = calloc((size_t)nl, sizeof *s->lights);
    s->light_cdf = malloc((size_t)nl * sizeof *s->light_cdf);
    s->light_pmf = malloc((size_t)nl * sizeof *s->light_pmf);
    double *power = malloc((size_t)nl * sizeof *power);
    if (!s->lights || !s->light_cdf || !s->light_pmf || !power) {
        free(power);
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    }
    xs_vec3 ext = xs_sub(s->world_hi, s->world_lo);
    double radius2 = 0.25 * (double)xs_dot(ext, ext);
    uint32_t k = 0;
    double total = 0.0;
    for (uint32_t i = 0; i < s->instance_count; ++i) {
        const xs_instance *in = &s->instances[i];
        const xs_mesh *m = &s->meshes[in->mesh];
        if (s->inst_light_base[i] == UINT32_MAX)
            continue;
        for (uint32_t t = m->tri_first; t < m->tri_first + m->tri_count; ++t) {
            if (s->tri_light[t] == UINT32_MAX)
                continue;
            const xs_material *mat = &s->materials[s->attrs[t].material];
            float lum = xs_luminance(mat->emission);
            xs_vec3 e1 = xs_xf_dir(in->xf, s->tris[t].e1), e2 = xs_xf_dir(in->xf, s->tris[t].e2);
            double area = 0.5 * (double)xs_length(xs_cross(e1, e2));
            double sides = (mat->flags & XS_MAT_EMIT_TWO_SIDED) ? 2.0 : 1.0;
            xs_light *L = &s->lights[k];
            L->type = XS_LIGHT_TRI;
            L->instance = i;
            L->tri = t;
            power[k++] = (double)lum * tex_mean_lum(s, mat->emit_tex.tex) * area * sides * 3.14159265;
        }
    }
    for (int j = 0; j < npl; ++j) {
        const xs_gltf_light *g = &pl[j];
        xs_light *L = &s->lights[k];
        L->type = g->type == XS_GLTF_LIGHT_DIRECTIONAL ? XS_LIGHT_DIR
                  : g->type == XS_GLTF_LIGHT_SPOT      ? XS_LIGHT_SPOT
                                                       : XS_LIGHT_POINT;
        L->pos = xs_v3(g->xform[12], g->xform[13], g->xform[14]);
        L->dir = xs_normalize(xs_v3(-g->xform[8], -g->xform[9], -g->xform[10]));
        L->intensity = xs_scale(xs_v3(g->color[0], g->color[1], g->color[2]), g->intensity);
        L->range = g->range;
        L->cos_inner = cosf(g->inner_cone);
        L->cos_outer = cosf(g->outer_cone);
        double lum = (double)xs_luminance(L->intensity);
        power[k++] = L->type == XS_LIGHT_DIR ? lum * 3.14159265 * radius2 : lum * 4.0 * 3.14159265;
    }
    if (env_lum > 0.0) {
        s->lights[k].type = XS_LIGHT_ENV;
        s->env_light = k;
        /* pbrt-v4's infinite-light power: pi r^2 times the integral of L */
        power[k++] = 3.14159265 * radius2 * 4.0 * 3.14159265 * env_lum;
    }
    for (uint32_t j = 0; j < k; ++j)
        total += power[j];
    double acc = 0.0;
    for (uint32_t j = 0; j < k; ++j) {
        double pmf = total > 0.0 ? power[j] / total : 1.0 / k;
        acc += pmf;
        s->light_pmf[j] = (float)pmf;
        s->light_cdf[j] = (float)acc;
    }
    s->light_cdf[k - 1] = 1.0f;
    s->light_count = k;
    free(power);
    return XS_OK;
}

void xs_scene_set_filter(xs_scene *s, xs_filter_kind kind, float width)
{
    /* the filter's CDF on a fine grid over [-r, r], inverted at table points */
    enum { FINE = 4096 };
    double r = 0.5 * (double)width, cdf[FINE + 1];
    cdf[0] = 0.0;
    for (int i = 0; i < FINE; ++i) {
        double x = -r + 2.0 * r * ((double)i + 0.5) / FINE, f;
        switch (kind) {
        case XS_FILTER_BOX: f = 1.0; break;
        case XS_FILTER_TENT: f = 1.0 - fabs(x) / r; break;
        case XS_FILTER_GAUSSIAN: {
            double sg = r / 3.0; /* Cycles: sigma = width / 6 */
            f = exp(-x * x / (2.0 * sg * sg));
            break;
        }
        default: {
            double a = 2.0 * 3.14159265358979 * (x / (2.0 * r) + 0.5);
            f = 0.35875 - 0.48829 * cos(a) + 0.14128 * cos(2.0 * a) - 0.01168 * cos(3.0 * a);
            break;
        }
        }
        cdf[i + 1] = cdf[i] + (f > 0.0 ? f : 0.0);
    }
    int j = 0;
    for (int k = 0; k <= XS_FILTER_TABLE; ++k) {
        double u = (double)k / XS_FILTER_TABLE * cdf[FINE];
        while (j < FINE - 1 && cdf[j + 1] < u)
            ++j;
        double span = cdf[j + 1] - cdf[j];
        double t = span > 0.0 ? (u - cdf[j]) / span : 0.5;
        t = t < 0.0 ? 0.0 : (t > 1.0 ? 1.0 : t);
        s->filter_icdf[k] = (float)(-r + 2.0 * r * ((double)j + t) / FINE);
    }
    s->filter_icdf[0] = (float)-r;
    s->filter_icdf[XS_FILTER_TABLE] = (float)r;
}

static pthread_once_t ggx_once = PTHREAD_ONCE_INIT;
static float ggx_tables[2 * XS_GGX_TABLE_N * XS_GGX_TABLE_N];

static void ggx_init(void)
{
    const int n = XS_GGX_TABLE_N;
    for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x) {
            float rough = (float)y / (float)(n - 1), mu = (float)x / (float)(n - 1);
            float e, ew;
            xs_ggx_albedo(mu, xs_roughness_to_alpha(rough), 32, &e, &ew);
            ggx_tables[y * n + x] = e;
            ggx_tables[n * n + y * n + x] = ew;
        }
}

const float *xs_ggx_table(void)
{
    pthread_once(&ggx_once, ggx_init);
    return ggx_tables;
}

static void default_material(xs_material *m)
{
    memset(m, 0, sizeof *m);
    m->albedo = xs_v3(1.0f, 1.0f, 1.0f);
    m->alpha = 1.0f;
    m->alpha_cutoff = 0.5f;
    m->base_tex.tex = m->emit_tex.tex = m->mr_tex.tex = m->normal_tex.tex = m->trans_tex.tex = -1;
    m->normal_scale = 1.0f;
    m->metallic = m->roughness = 1.0f;
    m->ior = 1.5f;
}

xs_result xs_scene_create(const xs_scene_desc *d, xs_scene **out, xs_err *err)
{
    *out = NULL;
    const char *name = d->name ? d->name : "scene";
    if (d->tri_count == 0)
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: no triangles", name);
    if (d->material_count == 0)
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: no materials", name);
    if (!(d->cam_yfov_deg > 0.0f && d->cam_yfov_deg < 180.0f))
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: camera.yfov: must be in (0, 180), got %g",
                          name, (double)d->cam_yfov_deg);
    for (uint32_t i = 0; i < d->tri_count; ++i) {
        for (int k = 0; k < 9; ++k)
            if (!isfinite(d->positions[(size_t)i * 9 + (size_t)k]))
                return xs_err_set(err, XS_ERR_INVALID, "scene %s: triangle %u: non-finite vertex",
                                  name, i);
        if (d->materials_of[i] >= d->material_count)
            return xs_err_set(err, XS_ERR_INVALID,
                              "scene %s: triangle %u: material %u out of range (%u materials)",
                              name, i, d->materials_of[i], d->material_count);
    }
    xs_scene *s = scene_alloc(name);
    uint32_t *idx = malloc((size_t)d->tri_count * 3 * sizeof *idx);
    if (s)
        s->materials = malloc(d->material_count * sizeof *s->materials);
    if (!s || !idx || !s->materials) {
        free(idx);
        xs_scene_destroy(s);
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", name);
    }
    for (uint32_t i = 0; i < d->material_count; ++i) {
        default_material(&s->materials[i]);
        s->materials[i].albedo = d->materials[i].albedo;
        s->materials[i].emission = d->materials[i].emission;
        s->materials[i].flags = d->materials[i].flags;
        s->materials[i].metallic = d->materials[i].metallic;
        s->materials[i].roughness = d->materials[i].roughness;
        s->materials[i].transmission = d->materials[i].transmission;
        s->materials[i].ior = d->materials[i].ior > 0.0f ? d->materials[i].ior : 1.0f;
        s->materials[i].sigma_a = d->materials[i].sigma_a;
    }
    s->material_count = d->material_count;
    for (uint32_t i = 0; i < d->tri_count * 3; ++i)
        idx[i] = i;
    static const float identity[12] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
    uint32_t icap = 0;
    xs_result r = scene_add_mesh(s, d->positions, d->tri_count * 3, idx, d->tri_count, NULL, NULL,
                                 NULL, NULL, d->materials_of, NULL, err);
    free(idx);
    if (r == XS_OK)
        r = scene_add_instance(s, 0, identity, &icap, err);
    if (r == XS_OK)
        r = scene_finish(s, err);
    if (r == XS_OK) {
        s->background = d->background;
        r = scene_lights(s, NULL, 0, err);
    }
    if (r != XS_OK) {
        xs_scene_destroy(s);
        return r;
    }
    s->cam_pos = d->cam_pos;
    s->cam_fwd = xs_normalize(xs_sub(d->cam_target, d->cam_pos));
    s->cam_up = d->cam_up;
    s->cam_yfov_deg = d->cam_yfov_deg;
    *out = s;
    return XS_OK;
}

/* ---- from glTF ------------------------------------------------------------------ */

static void texslot_from(xs_texslot *t, const xs_gltf_texref *g)
{
    t->tex = g->texture;
    t->texcoord = g->texcoord;
    float c = cosf(g->rotation), sn = sinf(g->rotation);
    /* KHR_texture_transform: T * R * S, R = [cos sin; -sin cos] */
    t->m[0] = c * g->tscale[0];
    t->m[1] = sn * g->tscale[1];
    t->m[2] = g->offset[0];
    t->m[3] = -sn * g->tscale[0];
    t->m[4] = c * g->tscale[1];
    t->m[5] = g->offset[1];
}

static xs_result load_textures(xs_scene *s, const xs_gltf_scene *g, xs_err *err)
{
    size_t total = 0;
    uint32_t *image_offset = calloc((size_t)(g->image_count ? g->image_count : 1), sizeof *image_offset);
    if (!image_offset)
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    for (int i = 0; i < g->image_count; ++i) {
        if (total > UINT32_MAX) {
            free(image_offset);
            return xs_err_set(err, XS_ERR_INVALID, "scene %s: textures exceed 2^32 texels", s->name);
        }
        image_offset[i] = (uint32_t)total;
        total += (size_t)g->images[i].width * (size_t)g->images[i].height;
    }
    s->texels = malloc((total ? total : 1) * sizeof *s->texels);
    s->textures = calloc((size_t)(g->texture_count ? g->texture_count : 1), sizeof *s->textures);
    s->texture_mean = calloc((size_t)(g->texture_count ? g->texture_count : 1), sizeof *s->texture_mean);
    if (!s->texels || !s->textures || !s->texture_mean) {
        free(image_offset);
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory for textures", s->name);
    }
    for (int i = 0; i < g->image_count; ++i) {
        const xs_gltf_image *im = &g->images[i];
        size_t n = (size_t)im->width * (size_t)im->height;
        for (size_t p = 0; p < n; ++p) {
            const unsigned char *c = im->rgba8 + p * 4;
            s->texels[image_offset[i] + p] = (uint32_t)c[0] | (uint32_t)c[1] << 8 |
                                             (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
        }
    }
    s->texel_count = total;
    for (int i = 0; i < g->texture_count; ++i) {
        const xs_gltf_texture *t = &g->textures[i];
        const xs_gltf_image *im = &g->images[t->image];
        xs_texture *x = &s->textures[i];
        x->width = (uint32_t)im->width;
        x->height = (uint32_t)im->height;
        x->offset = image_offset[t->image];
        x->flags = (t->wrap_s == XS_WRAP_CLAMP ? XS_TEX_CLAMP_S : 0u) |
                   (t->wrap_t == XS_WRAP_CLAMP ? XS_TEX_CLAMP_T : 0u) |
                   (t->wrap_s == XS_WRAP_MIRROR ? XS_TEX_MIRROR_S : 0u) |
                   (t->wrap_t == XS_WRAP_MIRROR ? XS_TEX_MIRROR_T : 0u) |
                   (t->mag_filter == 9728 ? XS_TEX_NEAREST : 0u);
        double sum = 0.0;
        size_t n = (size_t)im->width * (size_t)im->height;
        for (size_t p = 0; p < n; ++p) {
            const unsigned char *c = im->rgba8 + p * 4;
            sum += 0.2126 * s->srgb[c[0]] + 0.7152 * s->srgb[c[1]] + 0.0722 * s->srgb[c[2]];
        }
        s->texture_mean[i] = n ? (float)(sum / (double)n) : 0.0f;
    }
    s->texture_count = (uint32_t)g->texture_count;
    free(image_offset);
    return XS_OK;
}

/* Row-major 3x4 from a column-major 4x4. */
static void xf34_from44(const float *m44, float *xf)
{
    for (int row = 0; row < 3; ++row)
        for (int c = 0; c < 4; ++c)
            xf[row * 4 + c] = m44[c * 4 + row];
}

/* ---- BLAS of a glTF scene's meshes, in parallel batches ---------------------
 *
 * A scene of many meshes builds each mesh's BLAS on one thread, several
 * meshes at once (threads take the next mesh from a counter); a scene of few
 * meshes gives each build all the threads. A tree depends only on its mesh,
 * so the scene is the same either way. Batches of consecutive meshes up to
 * BLAS_BATCH_TRIS triangles (or one bigger mesh) bound the memory held by
 * built but not yet added meshes. */
enum { BLAS_BATCH_TRIS = 8 << 20, BLAS_BATCH_MESHES = 4096 };

static uint64_t gltf_mesh_tris(const xs_gltf_mesh *gm)
{
    uint64_t nt = 0;
    for (int k = 0; k < gm->prim_count; ++k)
        nt += gm->prims[k].tri_count;
    return nt;
}

static int blas_batch_end(const xs_gltf_scene *g, int begin)
{
    uint64_t tris = 0;
    int end = begin;
    while (end < g->mesh_count && end - begin < BLAS_BATCH_MESHES) {
        uint64_t t = gltf_mesh_tris(&g->meshes[end]);
        if (end > begin && tris + t > BLAS_BATCH_TRIS)
            break;
        tris += t;
        end++;
    }
    return end;
}

typedef struct blas_work {
    const xs_gltf_scene *g;
    mesh_blas *pre;
    int begin, end, threads_each;
    xs_bvh_method method;
    int next; /* the next mesh to take (under lock) */
    pthread_mutex_t lock;
} blas_work;

/* One mesh's triangles (its primitives' in order, as scene_add_mesh makes
 * them from the gathered arrays) and BLAS. */
static void blas_one(blas_work *w, int mi)
{
    const xs_gltf_mesh *gm = &w->g->meshes[mi];
    mesh_blas *b = &w->pre[mi - w->begin];
    uint64_t nt = gltf_mesh_tris(gm);
    if (nt > UINT32_MAX / 3) {
        b->r = xs_err_set(&b->err, XS_ERR_INVALID, "mesh %d is too large", mi);
        return;
    }
    b->in = malloc((size_t)(nt ? nt : 1) * sizeof *b->in);
    if (!b->in) {
        b->r = xs_err_set(&b->err, XS_ERR_NOMEM, "out of memory for mesh %d", mi);
        return;
    }
    size_t t = 0;
    for (int k = 0; k < gm->prim_count; ++k) {
        const xs_gltf_primitive *p = &gm->prims[k];
        for (uint32_t i = 0; i < p->tri_count; ++i, ++t)
            b->in[t] = tri_of(p->positions + 3 * (size_t)p->indices[3 * i],
                              p->positions + 3 * (size_t)p->indices[3 * i + 1],
                              p->positions + 3 * (size_t)p->indices[3 * i + 2]);
    }
    b->r = xs_bvh_build_with(b->in, (uint32_t)nt, w->threads_each, w->method, &b->nodes, &b->nn,
                             &b->order, &b->err);
}

/* A worker: takes the next mesh until none is left. */
static void blas_worker(void *ctx, uint32_t begin, uint32_t end, int part)
{
    (void)begin, (void)end, (void)part;
    blas_work *w = (blas_work *)ctx;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        int mi = w->next < w->end ? w->next++ : -1;
        pthread_mutex_unlock(&w->lock);
        if (mi < 0)
            return;
        blas_one(w, mi);
    }
}

static xs_result blas_batch(xs_scene *s, const xs_gltf_scene *g, int begin, int end, mesh_blas *pre,
                            xs_err *err)
{
    int n = end - begin, threads = s->build_threads > 0 ? s->build_threads : 1;
    int workers = n < threads ? n : threads;
    if (workers > 64)
        workers = 64;
    blas_work w = {g, pre, begin, end, threads / (workers > 0 ? workers : 1), g_bvh_method, begin,
                   PTHREAD_MUTEX_INITIALIZER};
    if (w.threads_each < 1)
        w.threads_each = 1;
    xs_parallel_for(workers, (uint32_t)workers, blas_worker, &w);
    pthread_mutex_destroy(&w.lock);
    for (int k = 0; k < n; ++k)
        if (pre[k].r != XS_OK) {
            xs_result r = xs_err_set(err, pre[k].r, "scene %s: %s", s->name, pre[k].err.msg);
            for (int j = 0; j < n; ++j)
                mesh_blas_free(&pre[j]);
            return r;
        }
    return XS_OK;
}

xs_result xs_scene_from_gltf(const xs_gltf_scene *g, const xs_scene_setup *o, xs_scene **out,
                             xs_err *err)
{
    *out = NULL;
    xs_scene *s = scene_alloc(o->name);
    if (!s)
        return xs_err_set(err, XS_ERR_NOMEM, "scene: out of memory");
    xs_result r = load_textures(s, g, err);
    /* materials: the file's, then the glTF default material last */
    uint32_t nm = (uint32_t)g->material_count + 1;
    s->materials = calloc(nm, sizeof *s->materials);
    if (r == XS_OK && !s->materials)
        r = xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    for (uint32_t i = 0; r == XS_OK && i < nm; ++i) {
        xs_material *m = &s->materials[i];
        default_material(m);
        if (i == nm - 1)
            break;
        const xs_gltf_material *gm = &g->materials[i];
        m->albedo = xs_v3(gm->base_color[0], gm->base_color[1], gm->base_color[2]);
        m->alpha = gm->base_color[3];
        m->emission = xs_scale(xs_v3(gm->emissive[0], gm->emissive[1], gm->emissive[2]),
                               gm->emissive_strength);
        m->flags = (gm->double_sided ? XS_MAT_EMIT_TWO_SIDED : 0u) |
                   (gm->alpha_mode == XS_ALPHA_MASK ? XS_MAT_ALPHA_MASK : 0u);
        m->alpha_cutoff = gm->alpha_cutoff;
        texslot_from(&m->base_tex, &gm->base_color_tex);
        texslot_from(&m->emit_tex, &gm->emissive_tex);
        texslot_from(&m->mr_tex, &gm->metallic_roughness_tex);
        texslot_from(&m->normal_tex, &gm->normal_tex);
        texslot_from(&m->trans_tex, &gm->transmission_tex);
        m->normal_scale = gm->normal_tex.scale;
        m->metallic = gm->metallic;
        m->roughness = gm->roughness;
        m->transmission = gm->transmission;
        m->ior = gm->ior;
        /* a solid boundary only where light can enter it and bend (IOR 0 or 1:
         * no interface, so the thin-walled model is exact) */
        if (gm->volume && gm->transmission > 0.0f && gm->ior > 1.0f) {
            m->flags |= XS_MAT_VOLUME;
            float dist = gm->attenuation_distance;
            float sa[3];
            for (int k = 0; k < 3; ++k) {
                float c = gm->attenuation_color[k] > 1e-6f ? gm->attenuation_color[k] : 1e-6f;
                sa[k] = dist > 0.0f ? -logf(c) / dist : 0.0f;
            }
            m->sigma_a = xs_v3(sa[0], sa[1], sa[2]);
        }
    }
    s->material_count = nm;
    /* meshes: all primitives of a glTF mesh form one mesh (one BLAS). Their
     * BLAS are built ahead in batches, the meshes of a batch in parallel. */
    mesh_blas *pre = NULL;
    int batch_begin = 0, batch_end = 0;
    for (int mi = 0; r == XS_OK && mi < g->mesh_count; ++mi) {
        const xs_gltf_mesh *gm = &g->meshes[mi];
        if (mi == batch_end) {
            free(pre);
            pre = NULL;
            batch_begin = mi;
            batch_end = blas_batch_end(g, mi);
            pre = calloc((size_t)(batch_end - batch_begin), sizeof *pre);
            if (!pre) {
                r = xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
                break;
            }
            double t0 = now_s();
            r = blas_batch(s, g, batch_begin, batch_end, pre, err);
            s->build_seconds += now_s() - t0;
            if (r != XS_OK)
                break;
        }
        uint64_t nv = 0, nt = 0;
        bool any_uv0 = false, any_uv1 = false, any_n = false, any_t = false;
        for (int k = 0; k < gm->prim_count; ++k) {
            nv += gm->prims[k].vertex_count;
            nt += gm->prims[k].tri_count;
            any_uv0 |= gm->prims[k].uv0 != NULL;
            any_uv1 |= gm->prims[k].uv1 != NULL;
            any_n |= gm->prims[k].normals != NULL;
            any_t |= gm->prims[k].tangents != NULL;
        }
        if (nv > UINT32_MAX || nt > UINT32_MAX / 3) {
            r = xs_err_set(err, XS_ERR_INVALID, "scene %s: mesh %d is too large", s->name, mi);
            break;
        }
        float *pos = malloc((size_t)(nv ? nv : 1) * 3 * sizeof *pos);
        float *uv0 = any_uv0 ? calloc((size_t)nv * 2, sizeof *uv0) : NULL;
        float *uv1 = any_uv1 ? calloc((size_t)nv * 2, sizeof *uv1) : NULL;
        float *nrm = any_n ? calloc((size_t)nv * 3, sizeof *nrm) : NULL;
        float *tan = any_t ? calloc((size_t)nv * 4, sizeof *tan) : NULL;
        uint32_t *idx = malloc((size_t)(nt ? nt : 1) * 3 * sizeof *idx);
        uint32_t *mat = malloc((size_t)(nt ? nt : 1) * sizeof *mat);
        if (!pos || !idx || !mat || (any_uv0 && !uv0) || (any_uv1 && !uv1) || (any_n && !nrm) ||
            (any_t && !tan)) {
            r = xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
        } else {
            uint32_t vb = 0, tb = 0;
            for (int k = 0; k < gm->prim_count; ++k) {
                const xs_gltf_primitive *p = &gm->prims[k];
                memcpy(pos + (size_t)vb * 3, p->positions, (size_t)p->vertex_count * 3 * sizeof *pos);
                if (p->uv0)
                    memcpy(uv0 + (size_t)vb * 2, p->uv0, (size_t)p->vertex_count * 2 * sizeof *uv0);
                if (p->uv1)
                    memcpy(uv1 + (size_t)vb * 2, p->uv1, (size_t)p->vertex_count * 2 * sizeof *uv1);
                if (p->normals)
                    memcpy(nrm + (size_t)vb * 3, p->normals, (size_t)p->vertex_count * 3 * sizeof *nrm);
                if (p->tangents)
                    memcpy(tan + (size_t)vb * 4, p->tangents, (size_t)p->vertex_count * 4 * sizeof *tan);
                for (uint32_t t = 0; t < p->tri_count * 3; ++t)
                    idx[(size_t)tb * 3 + t] = vb + p->indices[t];
                for (uint32_t t = 0; t < p->tri_count; ++t)
                    mat[tb + t] = p->material >= 0 ? (uint32_t)p->material : nm - 1;
                vb += p->vertex_count;
                tb += p->tri_count;
            }
            r = scene_add_mesh(s, pos, (uint32_t)nv, idx, (uint32_t)nt, uv0, uv1, nrm, tan, mat,
                               &pre[mi - batch_begin], err);
        }
        free(pos), free(uv0), free(uv1), free(nrm), free(tan), free(idx), free(mat);
    }
    if (pre)
        for (int k = 0; k < batch_end - batch_begin; ++k)
            mesh_blas_free(&pre[k]);
    free(pre);
    uint32_t icap = 0;
    for (int i = 0; r == XS_OK && i < g->instance_count; ++i) {
        float xf[12];
        xf34_from44(g->instances[i].xform, xf);
        r = scene_add_instance(s, (uint32_t)g->instances[i].mesh, xf, &icap, err);
    }
    if (r == XS_OK)
        r = scene_finish(s, err);
    if (r != XS_OK) {
        xs_scene_destroy(s);
        return r;
    }
    /* environment */
    s->background = xs_scale(xs_v3(o->env_color[0], o->env_color[1], o->env_color[2]), o->env_strength);
    if (o->env_image) {
        size_t n = (size_t)o->env_image->width * (size_t)o->env_image->height;
        s->env = malloc(n * 3 * sizeof *s->env);
        if (!s->env) {
            xs_scene_destroy(s);
            return xs_err_set(err, XS_ERR_NOMEM, "scene: out of memory for the environment");
        }
        for (size_t p = 0; p < n; ++p)
            for (int c = 0; c < 3; ++c)
                s->env[p * 3 + (size_t)c] = o->env_image->rgba[p * 4 + (size_t)c];
        s->env_w = o->env_image->width;
        s->env_h = o->env_image->height;
        s->background = xs_v3(o->env_strength, o->env_strength, o->env_strength);
    }
    r = scene_lights(s, g->lights, g->light_count, err);
    if (r != XS_OK) {
        xs_scene_destroy(s);
        return r;
    }
    /* camera */
    if (o->cam_mode == XS_CAM_OVERRIDE) {
        s->cam_pos = xs_v3(o->cam_pos[0], o->cam_pos[1], o->cam_pos[2]);
        s->cam_fwd = xs_normalize(xs_sub(xs_v3(o->cam_target[0], o->cam_target[1], o->cam_target[2]), s->cam_pos));
        s->cam_up = xs_v3(o->cam_up[0], o->cam_up[1], o->cam_up[2]);
        s->cam_yfov_deg = o->cam_yfov_deg;
    } else {
        int ci = -1;
        if (o->cam_mode == XS_CAM_NAMED) {
            for (int i = 0; i < g->camera_count && ci < 0; ++i)
                if (strcmp(g->cameras[i].name, o->cam_name) == 0)
                    ci = i;
            if (ci < 0) {
                xs_scene_destroy(s);
                return xs_err_set(err, XS_ERR_INVALID, "camera.name: no camera named '%s' in the scene (%d cameras)",
                                  o->cam_name, g->camera_count);
            }
        } else if (o->cam_mode == XS_CAM_INDEX) {
            if (o->cam_index >= g->camera_count) {
                xs_scene_destroy(s);
                return xs_err_set(err, XS_ERR_INVALID, "camera.index: %d is past the scene's %d cameras",
                                  o->cam_index, g->camera_count);
            }
            ci = o->cam_index;
        } else if (g->camera_count > 0) {
            ci = 0;
        }
        if (ci >= 0) {
            const float *m = g->cameras[ci].xform;
            s->cam_pos = xs_v3(m[12], m[13], m[14]);
            s->cam_fwd = xs_normalize(xs_v3(-m[8], -m[9], -m[10]));
            s->cam_up = xs_normalize(xs_v3(m[4], m[5], m[6]));
            s->cam_yfov_deg = g->cameras[ci].yfov * 180.0f / XS_PI;
        } else {
            /* no camera: look down -z at the world's bounds, 40 degrees */
            xs_vec3 c = xs_scale(xs_add(s->world_lo, s->world_hi), 0.5f);
            float rad = 0.5f * xs_length(xs_sub(s->world_hi, s->world_lo));
            s->cam_yfov_deg = 40.0f;
            s->cam_pos = xs_add(c, xs_v3(0.0f, 0.0f, 1.1f * rad / sinf(20.0f * XS_PI / 180.0f)));
            s->cam_fwd = xs_v3(0.0f, 0.0f, -1.0f);
            s->cam_up = xs_v3(0.0f, 1.0f, 0.0f);
        }
    }
    *out = s;
    return XS_OK;
}

xs_scene_view xs_scene_view_for(const xs_scene *s, int fw, int fh)
{
    xs_scene_view v;
    memset(&v, 0, sizeof v);
    v.tris = s->tris;
    v.attrs = s->attrs;
    v.nodes = s->nodes;
    v.meshes = s->meshes;
    v.instances = s->instances;
    v.tlas = s->tlas;
    v.tri_count = s->tri_count;
    v.node_count = s->node_count;
    v.instance_count = s->instance_count;
    v.tlas_count = s->tlas_count;
    v.materials = s->materials;
    v.textures = s->textures;
    v.texels = s->texels;
    v.srgb_to_linear = s->srgb;
    v.lights = s->lights;
    v.light_cdf = s->light_cdf;
    v.light_pmf = s->light_pmf;
    v.light_count = s->light_count;
    v.inst_light_base = s->inst_light_base;
    v.tri_light = s->tri_light;
    v.env_light = s->env_light;
    v.background = s->background;
    v.env = s->env;
    v.env_w = s->env_w;
    v.env_h = s->env_h;
    v.env_row_cdf = s->env_row_cdf;
    v.env_col_cdf = s->env_col_cdf;
    v.env_func_int = s->env_func_int;
    v.ggx_tables = xs_ggx_table();
    v.filter_icdf = s->filter_icdf;
    v.world_radius = 0.5f * xs_length(xs_sub(s->world_hi, s->world_lo));
    v.ray_eps = s->ray_eps;
    xs_camera *c = &v.camera;
    c->pos = s->cam_pos;
    c->fwd = s->cam_fwd;
    /* right-handed, y up: looking down +z with up +y puts +x on the left */
    c->right = xs_normalize(xs_cross(c->fwd, s->cam_up));
    c->up = xs_cross(c->right, c->fwd);
    c->tan_half_fovy = tanf(0.5f * s->cam_yfov_deg * XS_PI / 180.0f);
    c->aspect = (float)fw / (float)fh;
    return v;
}

const char *xs_scene_name(const xs_scene *s) { return s->name; }
uint32_t xs_scene_tri_count(const xs_scene *s) { return s->tri_count; }
uint32_t xs_scene_light_count(const xs_scene *s) { return s->light_count; }
uint32_t xs_scene_mesh_count(const xs_scene *s) { return s->mesh_count; }
uint32_t xs_scene_instance_count(const xs_scene *s) { return s->instance_count; }

/* ---- The arrays behind a view (for a device back end's upload) ------------- */

#define XS_BLOB(field, count)                                                                   \
    do {                                                                                        \
        if (n < max && v->field && (count) > 0) {                                               \
            out[n].name = #field;                                                               \
            out[n].host = v->field;                                                             \
            out[n].bytes = (size_t)(count) * sizeof *v->field;                                  \
            out[n].view_offset = offsetof(xs_scene_view, field);                                \
            ++n;                                                                                \
        }                                                                                       \
    } while (0)

int xs_scene_blobs(const xs_scene *s, const xs_scene_view *v, xs_scene_blob *out, int max)
{
    int n = 0;
    XS_BLOB(tris, s->tri_count);
    XS_BLOB(attrs, s->tri_count);
    XS_BLOB(nodes, s->node_count);
    XS_BLOB(meshes, s->mesh_count);
    XS_BLOB(instances, s->instance_count);
    XS_BLOB(tlas, s->tlas_count);
    XS_BLOB(materials, s->material_count);
    XS_BLOB(textures, s->texture_count);
    XS_BLOB(texels, s->texel_count);
    XS_BLOB(srgb_to_linear, 256);
    XS_BLOB(lights, s->light_count);
    XS_BLOB(light_cdf, s->light_count);
    XS_BLOB(light_pmf, s->light_count);
    XS_BLOB(inst_light_base, s->instance_count);
    XS_BLOB(tri_light, s->tri_count ? s->tri_count : 1);
    XS_BLOB(env, (size_t)s->env_w * (size_t)s->env_h * 3u);
    XS_BLOB(env_row_cdf, s->env ? (size_t)s->env_h + 1u : 0u);
    XS_BLOB(env_col_cdf, s->env ? (size_t)s->env_h * ((size_t)s->env_w + 1u) : 0u);
    XS_BLOB(ggx_tables, 2 * XS_GGX_TABLE_N * XS_GGX_TABLE_N);
    XS_BLOB(filter_icdf, XS_FILTER_TABLE + 1);
    return n;
}
#undef XS_BLOB
