/* manifest.json parsing with cJSON (see xs_manifest.h, docs/package.md).
 * Strict: unknown keys are refused (a typo must not silently fall back to a
 * default), every number is range-checked, and messages name the field. */
#include "io/xs_manifest.h"
#include "io/xs_file.h"
#include "io/xs_json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void xs_manifest_defaults(xs_manifest *m)
{
    memset(m, 0, sizeof *m);
    m->schema = XS_MANIFEST_SCHEMA;
    m->cam_mode = XS_CAM_FIRST;
    m->cam_up[1] = 1.0f;
    m->env_type = XS_ENV_CONSTANT;
    m->env_color[0] = m->env_color[1] = m->env_color[2] = 1.0f;
    m->env_strength = 1.0f;
}

typedef struct ctx {
    const char *label;
    xs_err *err;
} ctx;

static xs_result fail(const ctx *c, const char *field, const char *why)
{
    return xs_err_set(c->err, XS_ERR_INVALID, "%s: %s: %s", c->label, field, why);
}

/* Refuses keys of obj not in the NULL-terminated list. */
static xs_result only_keys(const ctx *c, const cJSON *obj, const char *where, const char *const *keys)
{
    const char *bad = xs_json_unknown_key(obj, keys);
    if (!bad)
        return XS_OK;
    char f[256];
    snprintf(f, sizeof f, "%s%s%s", where, where[0] ? "." : "", bad);
    return fail(c, f, "unknown field");
}

static xs_result get_int(const ctx *c, const cJSON *obj, const char *key, const char *field,
                         long lo, long hi, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return XS_OK;
    char why[160];
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)lo ||
        v->valuedouble > (double)hi) {
        snprintf(why, sizeof why, "must be an integer in [%ld, %ld]", lo, hi);
        return fail(c, field, why);
    }
    *out = (int)v->valuedouble;
    return XS_OK;
}

static xs_result get_floats(const ctx *c, const cJSON *obj, const char *key, const char *field,
                            int n, float lo, float hi, float *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return XS_OK;
    char why[160];
    snprintf(why, sizeof why, "must be an array of %d finite numbers in [%g, %g]", n, (double)lo,
             (double)hi);
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n)
        return fail(c, field, why);
    for (int i = 0; i < n; ++i) {
        const cJSON *x = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble < lo ||
            x->valuedouble > hi)
            return fail(c, field, why);
        out[i] = (float)x->valuedouble;
    }
    return XS_OK;
}

static xs_result get_path(const ctx *c, const cJSON *obj, const char *key, const char *field,
                          char *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return XS_OK;
    if (!cJSON_IsString(v))
        return fail(c, field, "must be a string");
    xs_err pe;
    if (xs_path_normalize(v->valuestring, out, n, &pe) != XS_OK)
        return fail(c, field, pe.msg);
    return XS_OK;
}

/* "animation": {"fps": F, "time_offset": S, "play": "all" | "none" | [names
 * or indices], "shutter": S, "motion_steps": N}. */
static xs_result parse_animation(const ctx *c, const cJSON *an, xs_manifest *m)
{
    if (!cJSON_IsObject(an))
        return fail(c, "animation", "must be an object");
    static const char *const ak[] = {"fps", "time_offset", "play", "shutter", "motion_steps", NULL};
    xs_result r = only_keys(c, an, "animation", ak);
    if (r != XS_OK)
        return r;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(an, "fps");
    if (v) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble > 0.0 && v->valuedouble <= 1000.0))
            return fail(c, "animation.fps", "must be a number in (0, 1000]");
        m->fps = v->valuedouble;
        m->has_fps = true;
    }
    v = cJSON_GetObjectItemCaseSensitive(an, "time_offset");
    if (v) {
        if (!cJSON_IsNumber(v) || !(fabs(v->valuedouble) <= 1e6))
            return fail(c, "animation.time_offset", "must be a number of seconds in [-1e6, 1e6]");
        m->time_offset = v->valuedouble;
        m->has_time_offset = true;
    }
    v = cJSON_GetObjectItemCaseSensitive(an, "shutter");
    if (v) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0.0 && v->valuedouble <= 1.0))
            return fail(c, "animation.shutter", "must be a number in [0, 1] (a fraction of the frame interval)");
        m->shutter = (float)v->valuedouble;
        m->has_shutter = true;
    }
    if (cJSON_GetObjectItemCaseSensitive(an, "motion_steps")) {
        if ((r = get_int(c, an, "motion_steps", "animation.motion_steps", 2, 64, &m->motion_steps)) != XS_OK)
            return r;
        m->has_motion_steps = true;
    }
    v = cJSON_GetObjectItemCaseSensitive(an, "play");
    if (v) {
        const char *why = "must be \"all\", \"none\" or an array of animation names (strings) or indices";
        size_t o = 0;
        if (cJSON_IsString(v)) {
            if (strcmp(v->valuestring, "all") != 0 && strcmp(v->valuestring, "none") != 0)
                return fail(c, "animation.play", why);
            snprintf(m->play, sizeof m->play, "%s", strcmp(v->valuestring, "all") == 0 ? "" : "none");
        } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0) {
            const cJSON *e;
            cJSON_ArrayForEach(e, v) {
                char one[128];
                if (cJSON_IsString(e) && e->valuestring[0] && strlen(e->valuestring) < sizeof one &&
                    !strchr(e->valuestring, ','))
                    snprintf(one, sizeof one, "%s", e->valuestring);
                else if (cJSON_IsNumber(e) && e->valuedouble == floor(e->valuedouble) && e->valuedouble >= 0 &&
                         e->valuedouble < 1e6)
                    snprintf(one, sizeof one, "%d", (int)e->valuedouble);
                else
                    return fail(c, "animation.play", why);
                for (const char *p = one; *p; ++p)
                    if ((unsigned char)*p < 0x20)
                        return fail(c, "animation.play", "names may not hold control characters");
                int k = snprintf(m->play + o, sizeof m->play - o, "%s%s", o ? "," : "", one);
                if (k < 0 || (size_t)k >= sizeof m->play - o)
                    return fail(c, "animation.play", "the list is longer than 255 bytes");
                o += (size_t)k;
            }
        } else {
            return fail(c, "animation.play", why);
        }
        m->has_play = true;
    }
    return XS_OK;
}

#define TRY(x)                                                                                 \
    do {                                                                                       \
        xs_result r_ = (x);                                                                    \
        if (r_ != XS_OK) {                                                                     \
            cJSON_Delete(root);                                                                \
            return r_;                                                                         \
        }                                                                                      \
    } while (0)

xs_result xs_manifest_parse(const char *label, const char *json, size_t len, xs_manifest *m,
                            xs_err *err)
{
    ctx c = {label, err};
    xs_manifest_defaults(m);
    cJSON *root = NULL;
    xs_result pr = xs_json_parse_strict(label, json, len, &root, err);
    if (pr != XS_OK)
        return pr;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return fail(&c, "(top level)", "must be an object");
    }
    static const char *const top[] = {"schema", "scene", "camera", "environment", "render",
                                      "frames", "animation", "comment", NULL};
    TRY(only_keys(&c, root, "", top));
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
    if (!schema) {
        cJSON_Delete(root);
        return fail(&c, "schema", "missing (expected 1)");
    }
    TRY(get_int(&c, root, "schema", "schema", XS_MANIFEST_SCHEMA, XS_MANIFEST_SCHEMA, &m->schema));
    if (!cJSON_GetObjectItemCaseSensitive(root, "scene")) {
        cJSON_Delete(root);
        return fail(&c, "scene", "missing (the .gltf or .glb file in the package)");
    }
    TRY(get_path(&c, root, "scene", "scene", m->scene, sizeof m->scene));
    size_t sl = strlen(m->scene);
    if (sl < 5 || (strcmp(m->scene + sl - 5, ".gltf") != 0 && strcmp(m->scene + sl - 4, ".glb") != 0))
        TRY(fail(&c, "scene", "must name a .gltf or .glb file"));

    const cJSON *cam = cJSON_GetObjectItemCaseSensitive(root, "camera");
    if (cam) {
        if (!cJSON_IsObject(cam))
            TRY(fail(&c, "camera", "must be an object"));
        static const char *const ck[] = {"name", "index", "position", "target", "up", "yfov_deg", NULL};
        TRY(only_keys(&c, cam, "camera", ck));
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(cam, "name");
        const cJSON *index = cJSON_GetObjectItemCaseSensitive(cam, "index");
        const cJSON *pos = cJSON_GetObjectItemCaseSensitive(cam, "position");
        int kinds = (name != NULL) + (index != NULL) + (pos != NULL);
        if (kinds != 1)
            TRY(fail(&c, "camera", "give exactly one of name, index, or position/target/yfov_deg"));
        if (name) {
            if (!cJSON_IsString(name) || strlen(name->valuestring) >= sizeof m->cam_name)
                TRY(fail(&c, "camera.name", "must be a string of under 128 bytes"));
            snprintf(m->cam_name, sizeof m->cam_name, "%s", name->valuestring);
            m->cam_mode = XS_CAM_NAMED;
        } else if (index) {
            TRY(get_int(&c, cam, "index", "camera.index", 0, 1000000, &m->cam_index));
            m->cam_mode = XS_CAM_INDEX;
        } else {
            const float big = 1e30f;
            if (!cJSON_GetObjectItemCaseSensitive(cam, "target") ||
                !cJSON_GetObjectItemCaseSensitive(cam, "yfov_deg"))
                TRY(fail(&c, "camera", "an override needs position, target and yfov_deg"));
            TRY(get_floats(&c, cam, "position", "camera.position", 3, -big, big, m->cam_pos));
            TRY(get_floats(&c, cam, "target", "camera.target", 3, -big, big, m->cam_target));
            TRY(get_floats(&c, cam, "up", "camera.up", 3, -big, big, m->cam_up));
            float fov[1];
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(cam, "yfov_deg");
            if (!cJSON_IsNumber(f) || !(f->valuedouble > 0.0 && f->valuedouble < 180.0))
                TRY(fail(&c, "camera.yfov_deg", "must be a number in (0, 180)"));
            fov[0] = (float)f->valuedouble;
            m->cam_yfov_deg = fov[0];
            float d[3] = {m->cam_target[0] - m->cam_pos[0], m->cam_target[1] - m->cam_pos[1],
                          m->cam_target[2] - m->cam_pos[2]};
            float cx = d[1] * m->cam_up[2] - d[2] * m->cam_up[1];
            float cy = d[2] * m->cam_up[0] - d[0] * m->cam_up[2];
            float cz = d[0] * m->cam_up[1] - d[1] * m->cam_up[0];
            if (!(d[0] * d[0] + d[1] * d[1] + d[2] * d[2] > 0.0f))
                TRY(fail(&c, "camera.target", "must differ from camera.position"));
            if (!(cx * cx + cy * cy + cz * cz > 0.0f))
                TRY(fail(&c, "camera.up", "must not be parallel to the view direction"));
            m->cam_mode = XS_CAM_OVERRIDE;
        }
    }

    const cJSON *env = cJSON_GetObjectItemCaseSensitive(root, "environment");
    if (env) {
        if (!cJSON_IsObject(env))
            TRY(fail(&c, "environment", "must be an object"));
        static const char *const ek[] = {"type", "color", "strength", "image", NULL};
        TRY(only_keys(&c, env, "environment", ek));
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(env, "type");
        if (!cJSON_IsString(type) ||
            (strcmp(type->valuestring, "constant") != 0 && strcmp(type->valuestring, "equirect") != 0))
            TRY(fail(&c, "environment.type", "must be \"constant\" or \"equirect\""));
        m->env_type = strcmp(type->valuestring, "constant") == 0 ? XS_ENV_CONSTANT : XS_ENV_EQUIRECT;
        TRY(get_floats(&c, env, "color", "environment.color", 3, 0.0f, 1e9f, m->env_color));
        float s[1] = {m->env_strength};
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(env, "strength");
        if (st && (!cJSON_IsNumber(st) || !(st->valuedouble >= 0.0 && st->valuedouble <= 1e9)))
            TRY(fail(&c, "environment.strength", "must be a number in [0, 1e9]"));
        if (st)
            s[0] = (float)st->valuedouble;
        m->env_strength = s[0];
        if (m->env_type == XS_ENV_EQUIRECT) {
            if (!cJSON_GetObjectItemCaseSensitive(env, "image"))
                TRY(fail(&c, "environment.image", "missing (an .exr in the package)"));
            TRY(get_path(&c, env, "image", "environment.image", m->env_image, sizeof m->env_image));
        } else if (cJSON_GetObjectItemCaseSensitive(env, "image")) {
            TRY(fail(&c, "environment.image", "only for type \"equirect\""));
        }
    }

    const cJSON *ren = cJSON_GetObjectItemCaseSensitive(root, "render");
    if (ren) {
        if (!cJSON_IsObject(ren))
            TRY(fail(&c, "render", "must be an object"));
        static const char *const rk[] = {"resolution", "spp", "tile", "max_bounces", NULL};
        TRY(only_keys(&c, ren, "render", rk));
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(ren, "resolution");
        if (res) {
            if (!cJSON_IsArray(res) || cJSON_GetArraySize(res) != 2)
                TRY(fail(&c, "render.resolution", "must be [width, height]"));
            const cJSON *w = cJSON_GetArrayItem(res, 0), *h = cJSON_GetArrayItem(res, 1);
            if (!cJSON_IsNumber(w) || !cJSON_IsNumber(h) || w->valuedouble != floor(w->valuedouble) ||
                h->valuedouble != floor(h->valuedouble) || w->valuedouble < 1 || w->valuedouble > 32768 ||
                h->valuedouble < 1 || h->valuedouble > 32768)
                TRY(fail(&c, "render.resolution", "must be [width, height], each an integer in [1, 32768]"));
            m->width = (int)w->valuedouble;
            m->height = (int)h->valuedouble;
        }
        TRY(get_int(&c, ren, "spp", "render.spp", 1, 1 << 20, &m->spp));
        TRY(get_int(&c, ren, "tile", "render.tile", 8, 4096, &m->tile));
        TRY(get_int(&c, ren, "max_bounces", "render.max_bounces", 0, 1024, &m->max_bounces));
    }

    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(root, "frames");
    if (fr) {
        if (!cJSON_IsObject(fr))
            TRY(fail(&c, "frames", "must be an object {\"first\": F, \"last\": L}"));
        static const char *const fk[] = {"first", "last", NULL};
        TRY(only_keys(&c, fr, "frames", fk));
        if (!cJSON_GetObjectItemCaseSensitive(fr, "first"))
            TRY(fail(&c, "frames.first", "missing"));
        TRY(get_int(&c, fr, "first", "frames.first", 0, 9999, &m->frame_first));
        m->frame_last = m->frame_first;
        TRY(get_int(&c, fr, "last", "frames.last", 0, 9999, &m->frame_last));
        if (m->frame_last < m->frame_first)
            TRY(fail(&c, "frames.last", "is before frames.first"));
        m->has_frames = true;
    }
    const cJSON *an = cJSON_GetObjectItemCaseSensitive(root, "animation");
    if (an)
        TRY(parse_animation(&c, an, m));
    cJSON_Delete(root);
    return XS_OK;
}
