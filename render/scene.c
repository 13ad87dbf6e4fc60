/* The scene in memory: triangles in BVH leaf order, one material each, the
 * emissive triangles as a light distribution by emitted power, the camera.
 * Built once per job; read-only and shareable across threads afterwards. */
#include "render/render_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct xs_scene {
    char name[XS_NAME_MAX];
    xs_tri *tris;
    uint32_t *tri_material;
    uint32_t tri_count;
    xs_bvh_node *nodes;
    uint32_t node_count;
    xs_material *materials;
    uint32_t material_count;
    uint32_t *light_tris;
    float *light_cdf, *light_pmf;
    uint32_t light_count;
    xs_vec3 background;
    float ray_eps;
    xs_vec3 cam_pos, cam_target, cam_up;
    float cam_yfov_deg;
};

static float luminance(xs_vec3 c) { return 0.2126f * c.x + 0.7152f * c.y + 0.0722f * c.z; }

void xs_scene_destroy(xs_scene *s)
{
    if (!s)
        return;
    free(s->tris);
    free(s->tri_material);
    free(s->nodes);
    free(s->materials);
    free(s->light_tris);
    free(s->light_cdf);
    free(s->light_pmf);
    free(s);
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
    xs_scene *s = calloc(1, sizeof *s);
    if (!s)
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", name);
    snprintf(s->name, sizeof s->name, "%s", name);
    uint32_t n = d->tri_count;
    xs_tri *in = malloc(n * sizeof *in);
    s->tris = malloc(n * sizeof *s->tris);
    s->tri_material = malloc(n * sizeof *s->tri_material);
    s->materials = malloc(d->material_count * sizeof *s->materials);
    if (!in || !s->tris || !s->tri_material || !s->materials) {
        free(in);
        xs_scene_destroy(s);
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", name);
    }
    memcpy(s->materials, d->materials, d->material_count * sizeof *s->materials);
    s->material_count = d->material_count;
    for (uint32_t i = 0; i < n; ++i) {
        const float *p = d->positions + (size_t)i * 9;
        xs_vec3 v0 = xs_v3(p[0], p[1], p[2]), v1 = xs_v3(p[3], p[4], p[5]),
                v2 = xs_v3(p[6], p[7], p[8]);
        for (int k = 0; k < 9; ++k) {
            if (!isfinite(p[k])) {
                free(in);
                xs_scene_destroy(s);
                return xs_err_set(err, XS_ERR_INVALID, "scene %s: triangle %u: non-finite vertex",
                                  name, i);
            }
        }
        if (d->materials_of[i] >= d->material_count) {
            free(in);
            xs_scene_destroy(s);
            return xs_err_set(err, XS_ERR_INVALID,
                              "scene %s: triangle %u: material %u out of range (%u materials)",
                              name, i, d->materials_of[i], d->material_count);
        }
        in[i].v0 = v0;
        in[i].e1 = xs_sub(v1, v0);
        in[i].e2 = xs_sub(v2, v0);
    }
    uint32_t *order = NULL;
    xs_result r = xs_bvh_build(in, n, &s->nodes, &s->node_count, &order, err);
    if (r != XS_OK) {
        free(in);
        xs_scene_destroy(s);
        return r;
    }
    for (uint32_t i = 0; i < n; ++i) {
        s->tris[i] = in[order[i]];
        s->tri_material[i] = d->materials_of[order[i]];
    }
    free(in);
    free(order);
    s->tri_count = n;

    /* lights: emissive triangles, chosen in proportion to emitted power */
    uint32_t nl = 0;
    for (uint32_t i = 0; i < n; ++i)
        if (luminance(s->materials[s->tri_material[i]].emission) > 0.0f)
            nl++;
    if (nl > 0) {
        s->light_tris = malloc(nl * sizeof *s->light_tris);
        s->light_cdf = malloc(nl * sizeof *s->light_cdf);
        s->light_pmf = malloc(nl * sizeof *s->light_pmf);
        if (!s->light_tris || !s->light_cdf || !s->light_pmf) {
            xs_scene_destroy(s);
            return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", name);
        }
        double total = 0.0;
        double *power = malloc(nl * sizeof *power);
        if (!power) {
            xs_scene_destroy(s);
            return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", name);
        }
        uint32_t k = 0;
        for (uint32_t i = 0; i < n; ++i) {
            const xs_material *m = &s->materials[s->tri_material[i]];
            float lum = luminance(m->emission);
            if (!(lum > 0.0f))
                continue;
            float area = 0.5f * xs_length(xs_cross(s->tris[i].e1, s->tris[i].e2));
            double sides = (m->flags & XS_MAT_EMIT_TWO_SIDED) ? 2.0 : 1.0;
            power[k] = (double)lum * (double)area * sides;
            total += power[k];
            s->light_tris[k++] = i;
        }
        double acc = 0.0;
        for (uint32_t j = 0; j < nl; ++j) {
            double pmf = total > 0.0 ? power[j] / total : 1.0 / nl;
            acc += pmf;
            s->light_pmf[j] = (float)pmf;
            s->light_cdf[j] = (float)acc;
        }
        s->light_cdf[nl - 1] = 1.0f;
        free(power);
    }
    s->light_count = nl;
    s->background = d->background;
    s->ray_eps = 1e-5f;
    s->cam_pos = d->cam_pos;
    s->cam_target = d->cam_target;
    s->cam_up = d->cam_up;
    s->cam_yfov_deg = d->cam_yfov_deg;
    *out = s;
    return XS_OK;
}

xs_scene_view xs_scene_view_for(const xs_scene *s, int fw, int fh)
{
    xs_scene_view v;
    memset(&v, 0, sizeof v);
    v.tris = s->tris;
    v.tri_material = s->tri_material;
    v.tri_count = s->tri_count;
    v.nodes = s->nodes;
    v.node_count = s->node_count;
    v.materials = s->materials;
    v.light_tris = s->light_tris;
    v.light_cdf = s->light_cdf;
    v.light_pmf = s->light_pmf;
    v.light_count = s->light_count;
    v.background = s->background;
    v.ray_eps = s->ray_eps;
    xs_camera *c = &v.camera;
    c->pos = s->cam_pos;
    c->fwd = xs_normalize(xs_sub(s->cam_target, s->cam_pos));
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
