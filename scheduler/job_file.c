/* JSON job files (docs/operations.md): the same options as the command line,
 * applied first so flags override them. Strict: unknown fields are refused,
 * every value is range-checked, and messages name the file and the field. */
#include "scheduler/xs_options.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/xs_json.h"

static xs_result job_fail(xs_err *err, const char *label, const char *field, const char *why)
{
    return xs_err_set(err, XS_ERR_INVALID, "%s: %s: %s", label, field, why);
}

static xs_result job_int(const cJSON *o, const char *key, const char *label, const char *field,
                         long lo, long hi, int *out, xs_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return XS_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        char why[96];
        snprintf(why, sizeof why, "must be an integer in [%ld, %ld]", lo, hi);
        return job_fail(err, label, field, why);
    }
    *out = (int)v->valuedouble;
    return XS_OK;
}

static xs_result job_float(const cJSON *o, const char *key, const char *label, const char *field,
                           double lo, double hi, float *out, xs_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return XS_OK;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) {
        char why[96];
        snprintf(why, sizeof why, "must be a number in [%g, %g]", lo, hi);
        return job_fail(err, label, field, why);
    }
    *out = (float)v->valuedouble;
    return XS_OK;
}

static xs_result job_str(const cJSON *o, const char *key, const char *label, char *out, size_t n,
                         bool is_name, xs_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return XS_OK;
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= n)
        return job_fail(err, label, key, "must be a non-empty string");
    if (is_name) {
        xs_err ne;
        char flag[80];
        snprintf(flag, sizeof flag, "%s: %s", label, key);
        if (xs_name_parse(flag, v->valuestring, out, n, &ne) != XS_OK)
            return xs_err_set(err, XS_ERR_INVALID, "%s", ne.msg);
        return XS_OK;
    }
    snprintf(out, n, "%s", v->valuestring);
    return XS_OK;
}

/* "limits": {"image_mpix": N, ...}: the budgets of the --max-* flags and
 * the package limits, each a positive integer. */
static xs_result job_limits(const cJSON *lim, const char *label, xs_options *o, xs_err *err)
{
    if (!lim)
        return XS_OK;
    if (!cJSON_IsObject(lim))
        return job_fail(err, label, "limits", "must be an object");
    static const char *const keys[] = {"image_mpix", "texture_mib", "env_mpix", "mtriangles", "nodes",
                                       "instances", "joints", "keyframes", "morph_targets",
                                       "package_entry_mib", "package_total_mib", "package_ratio", NULL};
    const char *bad = xs_json_unknown_key(lim, keys);
    if (bad) {
        char f[128];
        snprintf(f, sizeof f, "limits.%s", bad);
        return job_fail(err, label, f, "unknown field");
    }
    const cJSON *v;
    cJSON_ArrayForEach(v, lim) {
        char f[160];
        snprintf(f, sizeof f, "%s: limits.%s", label, v->string);
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 ||
            v->valuedouble > 2147483647.0)
            return xs_err_set(err, XS_ERR_INVALID, "%s: must be a positive integer", f);
        long n = (long)v->valuedouble;
        xs_result r = XS_OK;
        if (strcmp(v->string, "package_entry_mib") == 0)
            o->limits.pkg.max_entry_bytes = (uint64_t)n << 20;
        else if (strcmp(v->string, "package_total_mib") == 0)
            o->limits.pkg.max_total_bytes = (uint64_t)n << 20;
        else if (strcmp(v->string, "package_ratio") == 0)
            o->limits.pkg.max_ratio = (double)n;
        else
            r = xs_limit_set(&o->limits, v->string, n, f, err);
        if (r != XS_OK)
            return r;
    }
    return XS_OK;
}

/* "memory": {"rank_mib": N, "node_mib": N, "texture_cache_mib": N,
 * "gpu_texture_mib": N, "node_share": true|false}: --mem-budget,
 * --texture-cache-mib, --gpu-texture-mib and --node-share. */
static xs_result job_memory(const cJSON *mem, const char *label, xs_options *o, xs_err *err)
{
    if (!mem)
        return XS_OK;
    if (!cJSON_IsObject(mem))
        return job_fail(err, label, "memory", "must be an object");
    static const char *const keys[] = {"rank_mib", "node_mib", "texture_cache_mib", "gpu_texture_mib", "node_share",
                                       NULL};
    const char *bad = xs_json_unknown_key(mem, keys);
    if (bad) {
        char f[128];
        snprintf(f, sizeof f, "memory.%s", bad);
        return job_fail(err, label, f, "unknown field");
    }
    const cJSON *v;
    cJSON_ArrayForEach(v, mem) {
        char f[160];
        snprintf(f, sizeof f, "memory.%s", v->string);
        if (strcmp(v->string, "node_share") == 0) {
            if (!cJSON_IsBool(v))
                return job_fail(err, label, f, "must be true or false");
            o->node_share = cJSON_IsTrue(v);
            continue;
        }
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 ||
            v->valuedouble > 1073741824.0)
            return job_fail(err, label, f, "must be an integer in [1, 1073741824] (MiB)");
        uint64_t b = (uint64_t)v->valuedouble << 20;
        if (strcmp(v->string, "rank_mib") == 0)
            o->mem_rank = b;
        else if (strcmp(v->string, "node_mib") == 0)
            o->mem_node = b;
        else if (strcmp(v->string, "texture_cache_mib") == 0)
            o->tex_cache_bytes = b;
        else
            o->gpu_tex_bytes = b;
    }
    return XS_OK;
}

/* "animation": the same keys as a manifest's (docs/package.md): fps,
 * time_offset, play, shutter, motion_steps; parsed by the manifest's
 * rules, applied as given (they win over the package's manifest). */
static xs_result job_animation(const cJSON *an, const char *label, xs_options *o, xs_err *err)
{
    if (!an)
        return XS_OK;
    /* one parser for both: the manifest's, on a manifest holding only this */
    cJSON *wrap = cJSON_CreateObject();
    cJSON *copy = cJSON_Duplicate(an, 1);
    if (!wrap || !copy) {
        cJSON_Delete(wrap), cJSON_Delete(copy);
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", label);
    }
    cJSON_AddNumberToObject(wrap, "schema", 1);
    cJSON_AddStringToObject(wrap, "scene", "job.gltf");
    cJSON_AddItemToObject(wrap, "animation", copy);
    char *text = cJSON_PrintUnformatted(wrap);
    cJSON_Delete(wrap);
    if (!text)
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", label);
    xs_manifest m;
    xs_result r = xs_manifest_parse(label, text, strlen(text), &m, err);
    cJSON_free(text);
    if (r != XS_OK)
        return r;
    if (m.has_fps)
        o->render.fps = m.fps, o->given |= XS_GIVEN_FPS;
    if (m.has_time_offset)
        o->render.time_offset = m.time_offset, o->given |= XS_GIVEN_TIME_OFFSET;
    if (m.has_play) {
        snprintf(o->render.animations, sizeof o->render.animations, "%s", m.play);
        o->given |= XS_GIVEN_ANIMATIONS;
    }
    if (m.has_shutter)
        o->render.shutter = m.shutter, o->given |= XS_GIVEN_SHUTTER;
    if (m.has_motion_steps)
        o->render.motion_steps = m.motion_steps, o->given |= XS_GIVEN_MOTION_STEPS;
    return XS_OK;
}

#define JTRY(x)                                                                                \
    do {                                                                                       \
        xs_result r_ = (x);                                                                    \
        if (r_ != XS_OK) {                                                                     \
            cJSON_Delete(root);                                                                \
            return r_;                                                                         \
        }                                                                                      \
    } while (0)

xs_result xs_options_apply_job(xs_options *o, const char *label, const char *dir,
                               const char *json, size_t len, xs_err *err)
{
    cJSON *root = NULL;
    xs_result pr = xs_json_parse_strict(label, json, len, &root, err);
    if (pr != XS_OK)
        return pr;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return xs_err_set(err, XS_ERR_INVALID, "%s: not a JSON object", label);
    }
    static const char *const keys[] = {"schema", "package", "frames", "output", "job", "name",
                                       "aovs", "compression", "render", "animation", "retries",
                                       "stall_timeout_s", "grace_s", "limits", "memory", "comment", NULL};
    const char *unknown = xs_json_unknown_key(root, keys);
    if (unknown)
        JTRY(job_fail(err, label, unknown, "unknown field"));
    int schema = 0;
    JTRY(job_int(root, "schema", label, "schema", 1, 1, &schema, err));
    if (schema != 1)
        JTRY(job_fail(err, label, "schema", "missing (expected 1)"));
    const cJSON *pkg = cJSON_GetObjectItemCaseSensitive(root, "package");
    if (!cJSON_IsString(pkg) || !pkg->valuestring[0])
        JTRY(job_fail(err, label, "package", "missing (a .tar.zst, .gltf, .glb or a built-in scene)"));
    const char *pv = pkg->valuestring;
    bool is_path = xs_has_suffix(pv, ".tar.zst") || xs_has_suffix(pv, ".gltf") || xs_has_suffix(pv, ".glb");
    int k = is_path && pv[0] != '/' && dir && dir[0]
                ? snprintf(o->scene, sizeof o->scene, "%s/%s", dir, pv)
                : snprintf(o->scene, sizeof o->scene, "%s", pv);
    if (k < 0 || (size_t)k >= sizeof o->scene)
        JTRY(job_fail(err, label, "package", "path too long"));
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(root, "frames");
    if (fr) {
        if (!cJSON_IsString(fr))
            JTRY(job_fail(err, label, "frames", "must be a string such as \"1001-1096x2,1100\""));
        char field[600];
        snprintf(field, sizeof field, "%s: frames", label);
        JTRY(xs_frames_parse(field, fr->valuestring, o->frames, &o->frame_count, err));
        snprintf(o->frames_spec, sizeof o->frames_spec, "%s", fr->valuestring);
        o->given |= XS_GIVEN_FRAMES;
    }
    JTRY(job_str(root, "output", label, o->out_dir, sizeof o->out_dir - 256, false, err));
    JTRY(job_str(root, "job", label, o->job, sizeof o->job, true, err));
    JTRY(job_str(root, "name", label, o->name, sizeof o->name, true, err));
    const cJSON *aovs = cJSON_GetObjectItemCaseSensitive(root, "aovs");
    if (aovs) {
        if (!cJSON_IsArray(aovs))
            JTRY(job_fail(err, label, "aovs", "must be an array of names"));
        o->render.aovs = 0;
        for (const cJSON *a = aovs->child; a; a = a->next) {
            uint32_t one = 0;
            char f[128];
            snprintf(f, sizeof f, "%s: aovs", label);
            if (!cJSON_IsString(a))
                JTRY(job_fail(err, label, "aovs", "must be an array of names"));
            JTRY(xs_aovs_parse(f, a->valuestring, &one, err));
            o->render.aovs |= one;
        }
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "compression");
    if (c) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "type");
        if (!cJSON_IsObject(c) || !cJSON_IsString(t))
            JTRY(job_fail(err, label, "compression", "must be {\"type\": \"zip\"|\"piz\"|\"none\", \"level\": N}"));
        if (strcmp(t->valuestring, "zip") == 0)
            o->compression = XS_EXR_ZIP;
        else if (strcmp(t->valuestring, "piz") == 0)
            o->compression = XS_EXR_PIZ;
        else if (strcmp(t->valuestring, "none") == 0)
            o->compression = XS_EXR_NONE;
        else
            JTRY(job_fail(err, label, "compression.type", "must be zip, piz or none"));
        JTRY(job_int(c, "level", label, "compression.level", 0, 9, &o->zip_level, err));
    }
    const cJSON *ren = cJSON_GetObjectItemCaseSensitive(root, "render");
    if (ren) {
        static const char *const rk[] = {"resolution", "spp", "tile", "max_bounces", "seed",
                                         "filter", "filter_width", "clamp", "bvh", "backend", NULL};
        const char *bad = xs_json_unknown_key(ren, rk);
        if (bad) {
            char f[128];
            snprintf(f, sizeof f, "render.%s", bad);
            JTRY(job_fail(err, label, f, "unknown field"));
        }
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(ren, "resolution");
        if (res) {
            const cJSON *w = cJSON_GetArrayItem(res, 0), *h = cJSON_GetArrayItem(res, 1);
            if (!cJSON_IsArray(res) || cJSON_GetArraySize(res) != 2 || !cJSON_IsNumber(w) ||
                !cJSON_IsNumber(h) || w->valuedouble < 1 || w->valuedouble > 32768 ||
                h->valuedouble < 1 || h->valuedouble > 32768 ||
                w->valuedouble != floor(w->valuedouble) || h->valuedouble != floor(h->valuedouble))
                JTRY(job_fail(err, label, "render.resolution", "must be [width, height], each an integer in [1, 32768]"));
            o->render.width = (int)w->valuedouble;
            o->render.height = (int)h->valuedouble;
            o->given |= XS_GIVEN_RES;
        }
        if (cJSON_GetObjectItemCaseSensitive(ren, "spp"))
            o->given |= XS_GIVEN_SPP;
        if (cJSON_GetObjectItemCaseSensitive(ren, "tile"))
            o->given |= XS_GIVEN_TILE;
        if (cJSON_GetObjectItemCaseSensitive(ren, "max_bounces"))
            o->given |= XS_GIVEN_BOUNCES;
        JTRY(job_int(ren, "spp", label, "render.spp", 1, 1 << 20, &o->render.spp, err));
        JTRY(job_int(ren, "tile", label, "render.tile", 8, 4096, &o->render.tile, err));
        JTRY(job_int(ren, "max_bounces", label, "render.max_bounces", 0, 1024, &o->render.max_bounces, err));
        const cJSON *fk = cJSON_GetObjectItemCaseSensitive(ren, "filter");
        if (fk) {
            char f[128];
            snprintf(f, sizeof f, "%s: render.filter", label);
            if (!cJSON_IsString(fk))
                JTRY(job_fail(err, label, "render.filter", "must be box, tent, gaussian or blackman-harris"));
            JTRY(xs_filter_parse(f, fk->valuestring, &o->render.filter, err));
        }
        JTRY(job_float(ren, "filter_width", label, "render.filter_width", 0.5, 8.0, &o->render.filter_width, err));
        JTRY(job_float(ren, "clamp", label, "render.clamp", 0.0, 1e30, &o->render.clamp, err));
        const cJSON *bk = cJSON_GetObjectItemCaseSensitive(ren, "bvh");
        if (bk) {
            char f[128];
            snprintf(f, sizeof f, "%s: render.bvh", label);
            if (!cJSON_IsString(bk))
                JTRY(job_fail(err, label, "render.bvh", "must be auto, binned or clustered"));
            JTRY(xs_bvh_parse(f, bk->valuestring, &o->render.bvh, err));
        }
        const cJSON *bke = cJSON_GetObjectItemCaseSensitive(ren, "backend");
        if (bke) {
            char f[128];
            snprintf(f, sizeof f, "%s: render.backend", label);
            if (!cJSON_IsString(bke))
                JTRY(job_fail(err, label, "render.backend", "must be auto, cuda, cpu or embree"));
            JTRY(xs_backend_parse(f, bke->valuestring, &o->render.backend, err));
        }
        const cJSON *seed = cJSON_GetObjectItemCaseSensitive(ren, "seed");
        if (seed) {
            if (!cJSON_IsNumber(seed) || seed->valuedouble < 0 || seed->valuedouble > 4294967295.0 ||
                seed->valuedouble != floor(seed->valuedouble))
                JTRY(job_fail(err, label, "render.seed", "must be an integer in [0, 4294967295]"));
            o->render.seed = (uint32_t)seed->valuedouble;
        }
    }
    JTRY(job_animation(cJSON_GetObjectItemCaseSensitive(root, "animation"), label, o, err));
    JTRY(job_int(root, "retries", label, "retries", 0, 100, &o->retries, err));
    int sec = 0;
    if (cJSON_GetObjectItemCaseSensitive(root, "stall_timeout_s")) {
        JTRY(job_int(root, "stall_timeout_s", label, "stall_timeout_s", 1, 1 << 24, &sec, err));
        o->stall_timeout_s = sec;
    }
    if (cJSON_GetObjectItemCaseSensitive(root, "grace_s")) {
        JTRY(job_int(root, "grace_s", label, "grace_s", 1, 1 << 24, &sec, err));
        o->grace_s = sec;
    }
    JTRY(job_limits(cJSON_GetObjectItemCaseSensitive(root, "limits"), label, o, err));
    JTRY(job_memory(cJSON_GetObjectItemCaseSensitive(root, "memory"), label, o, err));
    snprintf(o->job_file, sizeof o->job_file, "%s", label);
    cJSON_Delete(root);
    return XS_OK;
}
