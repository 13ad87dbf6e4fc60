/* The scene's lights (see scene_internal.h): emissive triangles of every
 * instance, punctual lights and the environment, chosen by power; the map
 * from an emissive triangle back to its light (for MIS); and the
 * environment's importance-sampling tables. */
#include "render/scene_internal.h"

#include <math.h>
#include <stdlib.h>

#include "kernels/xs_bsdf.h"
#include "kernels/xs_light.h"

static float tex_mean_lum(const xs_scene *s, int32_t tex)
{
    return tex >= 0 ? s->texture_mean[tex] : 1.0f;
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
xs_result xs_scene_lights(xs_scene *s, const xs_gltf_light *pl, int npl, xs_err *err)
{
    xs_result r = env_tables(s, &s->env_lum, err);
    return r == XS_OK ? xs_scene_relight(s, pl, npl, NULL, err) : r;
}

xs_result xs_scene_relight(xs_scene *s, const xs_gltf_light *pl, int npl, const uint8_t *mesh_dirty,
                           xs_err *err)
{
    const double env_lum = s->env_lum;
    const bool first = s->tri_light == NULL;
    if (first) {
        s->tri_light = malloc((size_t)(s->tri_count ? s->tri_count : 1) * sizeof *s->tri_light);
        s->inst_light_base = malloc((size_t)s->instance_count * sizeof *s->inst_light_base);
        /* per mesh: its emissive triangles */
        s->mesh_emissive = calloc((size_t)s->mesh_count, sizeof *s->mesh_emissive);
        if (!s->tri_light || !s->inst_light_base || !s->mesh_emissive)
            return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    }
    /* each emissive triangle's index among its mesh's (storage order) */
    for (uint32_t mi = 0; mi < s->mesh_count; ++mi) {
        if (!first && !(mesh_dirty && mesh_dirty[mi]))
            continue;
        const xs_mesh *m = &s->meshes[mi];
        uint32_t ne = 0;
        for (uint32_t t = m->tri_first; t < m->tri_first + m->tri_count; ++t)
            s->tri_light[t] = xs_luminance(s->materials[s->attrs[t].material].emission) > 0.0f
                                  ? ne++
                                  : UINT32_MAX;
        s->mesh_emissive[mi] = ne;
    }
    uint64_t ntri = 0; /* triangle lights come first, instance by instance */
    for (uint32_t i = 0; i < s->instance_count; ++i) {
        uint32_t ne = s->mesh_emissive[s->instances[i].mesh];
        s->inst_light_base[i] = ne && ntri < UINT32_MAX / 2 ? (uint32_t)ntri : UINT32_MAX;
        ntri += ne;
    }
    uint64_t nl = ntri + (uint64_t)npl + (env_lum > 0.0 ? 1u : 0u);
    if (nl > UINT32_MAX / 2)
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: too many emissive triangles", s->name);
    if (nl == 0)
        return XS_OK;
    if (!s->lights) {
        s->lights = calloc((size_t)nl, sizeof *s->lights);
        s->light_cdf = malloc((size_t)nl * sizeof *s->light_cdf);
        s->light_pmf = malloc((size_t)nl * sizeof *s->light_pmf);
    }
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
