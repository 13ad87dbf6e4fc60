/* Render settings (see xs_settings.h): defaults, value parsers and the
 * per-frame kernel parameters. */
#include "render/xs_settings.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "render/xs_backend.h"

void xs_render_settings_defaults(xs_render_settings *s)
{
    memset(s, 0, sizeof *s);
    s->width = 512;
    s->height = 512;
    s->spp = 16;
    s->tile = 64;
    s->seed = 0;
    s->max_bounces = 8;
    s->filter = XS_FILTER_BLACKMAN_HARRIS;
    s->filter_width = 1.5f;
    s->mis = XS_MIS_ON;
    s->bvh = XS_BVH_AUTO;
    s->threads = 0;
    s->backend = XS_BACKEND_AUTO;
    s->gpu_slots = 0; /* auto: three launch groups sized from the GPU */
    s->fps = 24.0;
    s->time_offset = 0.0;
    s->shutter = 0.0f;
    s->motion_steps = 3;
}

xs_tile_params xs_render_tile_params(const xs_render_settings *s, int frame)
{
    xs_tile_params tp = xs_tile_params_frame(s->width, s->height, s->spp, s->max_bounces);
    tp.seed = s->seed;
    tp.frame = (uint32_t)frame;
    tp.clamp = s->clamp;
    tp.mis = s->mis;
    tp.aovs = s->aovs;
    return tp;
}

void xs_render_settings_key(const xs_render_settings *s, char *out, size_t n)
{
    snprintf(out, n, "aovs=%u filter=%s:%g clamp=%g mis=%d bvh=%d fps=%.17g toff=%.17g anim=%s shutter=%g steps=%d",
             (unsigned)s->aovs, xs_filter_name(s->filter), (double)s->filter_width, (double)s->clamp, s->mis,
             s->bvh, s->fps, s->time_offset, s->animations[0] ? s->animations : "all", (double)s->shutter,
             s->motion_steps);
    /* Embree's traversal gives other pixels than ours (cpu and cuda give the
     * same): its jobs get a key of their own, so neither resumes the other's */
    size_t len = strlen(out);
    if (s->backend == XS_BACKEND_EMBREE && len < n)
        snprintf(out + len, n - len, " tracer=embree");
}

xs_result xs_animations_parse(const char *field, const char *val, char *out, size_t n, xs_err *err)
{
    size_t len = strlen(val);
    if (len == 0 || len >= n)
        return xs_err_set(err, XS_ERR_INVALID, "%s: must be all, none or animation names or indices "
                                               "separated by commas (1 to %zu bytes)", field, n - 1);
    for (size_t i = 0; i < len; ++i)
        if ((unsigned char)val[i] < 0x20 || val[i] == 0x7f)
            return xs_err_set(err, XS_ERR_INVALID, "%s: control characters are not allowed", field);
    if (strstr(val, ",,") || val[0] == ',' || val[len - 1] == ',')
        return xs_err_set(err, XS_ERR_INVALID, "%s: an empty name in '%s'", field, val);
    memcpy(out, strcmp(val, "all") == 0 ? "" : val, strcmp(val, "all") == 0 ? 1 : len + 1);
    return XS_OK;
}

/* The index of val in names (count of them), or -1. */
static int name_index(const char *val, const char *const *names, int count)
{
    for (int i = 0; i < count; ++i)
        if (strcmp(val, names[i]) == 0)
            return i;
    return -1;
}

xs_result xs_aovs_parse(const char *field, const char *spec, uint32_t *aovs, xs_err *err)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } names[] = {{"beauty", 0}, {"albedo", XS_AOV_ALBEDO}, {"normal", XS_AOV_NORMAL},
                 {"depth", XS_AOV_DEPTH}, {"samples", XS_AOV_SAMPLES},
                 {"all", XS_AOV_ALBEDO | XS_AOV_NORMAL | XS_AOV_DEPTH | XS_AOV_SAMPLES}};
    uint32_t m = 0;
    const char *p = spec;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        bool found = false;
        for (size_t k = 0; k < sizeof names / sizeof names[0]; ++k)
            if (strlen(names[k].name) == len && strncmp(p, names[k].name, len) == 0) {
                m |= names[k].bit;
                found = true;
            }
        if (!found)
            return xs_err_set(err, XS_ERR_INVALID,
                              "%s: unknown layer '%.*s' (known: beauty, albedo, normal, depth, "
                              "samples, all)", field, (int)len, p);
        if (!e)
            break;
        p = e + 1;
    }
    *aovs = m;
    return XS_OK;
}

xs_result xs_backend_parse(const char *field, const char *val, int *backend, xs_err *err)
{
    static const char *const names[] = {"auto", "cuda", "cpu", "embree"}; /* XS_BACKEND_* order */
    int i = name_index(val, names, 4);
    if (i < 0)
        return xs_err_set(err, XS_ERR_INVALID, "%s: must be auto, cuda, cpu or embree, got '%s'", field, val);
    if (i == XS_BACKEND_EMBREE && !xs_embree_compiled())
        return xs_err_set(err, XS_ERR_INVALID, "%s embree: this xisuan was built without Embree (CMake found no "
                                               "libembree-dev 3 at build time); use cpu", field);
    *backend = i;
    return XS_OK;
}

xs_result xs_filter_parse(const char *field, const char *val, xs_filter_kind *out, xs_err *err)
{
    for (int k = 0; k < 4; ++k)
        if (strcmp(val, xs_filter_name((xs_filter_kind)k)) == 0) {
            *out = (xs_filter_kind)k;
            return XS_OK;
        }
    return xs_err_set(err, XS_ERR_INVALID,
                      "%s: must be box, tent, gaussian or blackman-harris, got '%s'", field, val);
}

xs_result xs_bvh_parse(const char *field, const char *val, int *out, xs_err *err)
{
    static const char *const names[] = {"auto", "binned", "clustered"}; /* xs_bvh_method order */
    int i = name_index(val, names, 3);
    if (i < 0)
        return xs_err_set(err, XS_ERR_INVALID, "%s: must be auto, binned or clustered, got '%s'",
                          field, val);
    *out = i;
    return XS_OK;
}

xs_result xs_mis_parse(const char *field, const char *val, int *out, xs_err *err)
{
    static const char *const names[] = {"on", "bsdf", "light"};
    static const int modes[] = {XS_MIS_ON, XS_MIS_BSDF_ONLY, XS_MIS_LIGHT_ONLY};
    int i = name_index(val, names, 3);
    if (i < 0)
        return xs_err_set(err, XS_ERR_INVALID, "%s: must be on, bsdf or light, got '%s'", field, val);
    *out = modes[i];
    return XS_OK;
}
