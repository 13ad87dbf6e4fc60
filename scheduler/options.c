/* The `xisuan render` command line (see xs_options.h): defaults, flags,
 * range checks, the help text, and what a manifest fills in. */
#include "scheduler/xs_options.h"

#include "render/xs_backend.h"
#include "render/xs_memplan.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void xs_options_defaults(xs_options *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->scene, sizeof o->scene, "cornell");
    xs_render_settings_defaults(&o->render);
    o->frames[0] = 1;
    o->frame_count = 1;
    snprintf(o->frames_spec, sizeof o->frames_spec, "1");
    snprintf(o->out_dir, sizeof o->out_dir, "out");
    o->job[0] = '\0'; /* defaults to the scene name */
    o->name[0] = '\0';
    o->compression = XS_EXR_ZIP;
    o->zip_level = 4;
    o->bind = true;
    o->prefetch = 2;
    o->kernel = XS_KERNEL_PATH;
    o->preview = true;
    xs_scene_limits_default(&o->limits);
    o->retries = 2;
    o->balance = true;
    o->progress = XS_PROGRESS_AUTO;
    o->progress_interval_s = 30.0;
    o->stall_timeout_s = 900.0;
    o->grace_s = 90.0;
    o->node_share = true;
}

xs_result xs_mem_budget_parse(const char *field, const char *spec, xs_options *o, xs_err *err)
{
    char buf[128];
    if (strlen(spec) >= sizeof buf || !*spec)
        return xs_err_set(err, XS_ERR_INVALID, "%s: expected SIZE, rank=SIZE, node=SIZE or both, got '%s'", field,
                          spec);
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        uint64_t *dst = &o->mem_rank;
        if (strncmp(item, "rank=", 5) == 0)
            item += 5;
        else if (strncmp(item, "node=", 5) == 0)
            item += 5, dst = &o->mem_node;
        else if (strchr(item, '='))
            return xs_err_set(err, XS_ERR_INVALID, "%s: '%s': expected rank=SIZE or node=SIZE", field, item);
        xs_result r = xs_mem_parse(field, item, dst, err);
        if (r != XS_OK)
            return r;
    }
    return XS_OK;
}

void xs_options_apply_manifest(xs_options *o, const xs_manifest *m)
{
    if (!(o->given & XS_GIVEN_RES) && m->width > 0) {
        o->render.width = m->width;
        o->render.height = m->height;
    }
    if (!(o->given & XS_GIVEN_SPP) && m->spp > 0)
        o->render.spp = m->spp;
    if (!(o->given & XS_GIVEN_TILE) && m->tile > 0) {
        o->render.tile = m->tile;
        o->given |= XS_GIVEN_MANIFEST_TILE;
    }
    if (!(o->given & XS_GIVEN_BOUNCES) && m->max_bounces > 0)
        o->render.max_bounces = m->max_bounces;
    if (!(o->given & XS_GIVEN_FPS) && m->has_fps)
        o->render.fps = m->fps;
    if (!(o->given & XS_GIVEN_TIME_OFFSET) && m->has_time_offset)
        o->render.time_offset = m->time_offset;
    if (!(o->given & XS_GIVEN_ANIMATIONS) && m->has_play)
        snprintf(o->render.animations, sizeof o->render.animations, "%s", m->play);
    if (!(o->given & XS_GIVEN_SHUTTER) && m->has_shutter)
        o->render.shutter = m->shutter;
    if (!(o->given & XS_GIVEN_MOTION_STEPS) && m->has_motion_steps)
        o->render.motion_steps = m->motion_steps;
    if (!(o->given & XS_GIVEN_FRAMES) && m->has_frames) {
        o->frame_count = 0;
        for (int f = m->frame_first; f <= m->frame_last && o->frame_count < XS_MAX_FRAMES; ++f)
            o->frames[o->frame_count++] = f;
        snprintf(o->frames_spec, sizeof o->frames_spec, "%d-%d", m->frame_first, m->frame_last);
    }
}

void xs_options_gpu_defaults(xs_options *o, bool any_gpu)
{
    if (any_gpu && !(o->given & (XS_GIVEN_TILE | XS_GIVEN_MANIFEST_TILE)))
        o->render.tile = XS_GPU_DEFAULT_TILE;
}

bool xs_has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

/* A job or frame name from a scene path: its base name without the
 * extension, other characters replaced by '_'. */
static void name_from_scene(const char *scene, char *out, size_t n)
{
    const char *b = strrchr(scene, '/');
    b = b ? b + 1 : scene;
    size_t len = strlen(b);
    if (xs_has_suffix(b, ".tar.zst"))
        len -= 8;
    else if (xs_has_suffix(b, ".gltf"))
        len -= 5;
    else if (xs_has_suffix(b, ".glb"))
        len -= 4;
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < n; ++i) {
        char c = b[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        out[o] = ok && !(o == 0 && c == '.') ? c : '_';
        o++;
    }
    out[o] = '\0';
    if (o == 0)
        snprintf(out, n, "scene");
}

static xs_result parse_long(const char *flag, const char *v, long lo, long hi, long *out,
                            xs_err *err)
{
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (v[0] == '\0' || *end != '\0' || errno == ERANGE)
        return xs_err_set(err, XS_ERR_INVALID, "%s: expected an integer, got '%s'", flag, v);
    if (x < lo || x > hi)
        return xs_err_set(err, XS_ERR_INVALID, "%s: must be in [%ld, %ld], got %ld", flag, lo, hi,
                          x);
    *out = x;
    return XS_OK;
}

static xs_result parse_int(const char *flag, const char *v, long lo, long hi, int *out, xs_err *err)
{
    long x = 0;
    xs_result r = parse_long(flag, v, lo, hi, &x, err);
    if (r == XS_OK)
        *out = (int)x;
    return r;
}

/* A number in [lo, hi], or (lo, hi] when lo_open. */
static xs_result parse_double(const char *flag, const char *v, double lo, double hi, bool lo_open,
                              double *out, xs_err *err)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (v[0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(x))
        return xs_err_set(err, XS_ERR_INVALID, "%s: expected a number, got '%s'", flag, v);
    if (!(lo_open ? x > lo : x >= lo) || !(x <= hi))
        return xs_err_set(err, XS_ERR_INVALID, "%s: must be in %c%g, %g], got %g", flag, lo_open ? '(' : '[',
                          lo, hi, x);
    *out = x;
    return XS_OK;
}

static xs_result parse_float(const char *flag, const char *v, double lo, double hi, float *out,
                             xs_err *err)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (v[0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(x))
        return xs_err_set(err, XS_ERR_INVALID, "%s: expected a number, got '%s'", flag, v);
    if (x < lo || x > hi)
        return xs_err_set(err, XS_ERR_INVALID, "%s: must be in [%g, %g], got %g", flag, lo, hi, x);
    *out = (float)x;
    return XS_OK;
}

/* Names that become file or directory names: letters, digits, '.', '_', '-',
 * not starting with '.', so nothing lands outside the output directory. */
xs_result xs_name_parse(const char *flag, const char *v, char *out, size_t out_size, xs_err *err)
{
    size_t n = strlen(v);
    if (n == 0 || n >= out_size)
        return xs_err_set(err, XS_ERR_INVALID, "%s: must be 1 to %zu characters, got '%s'", flag,
                          out_size - 1, v);
    if (v[0] == '.')
        return xs_err_set(err, XS_ERR_INVALID, "%s: must not start with '.', got '%s'", flag, v);
    for (size_t i = 0; i < n; ++i) {
        char c = v[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok)
            return xs_err_set(err, XS_ERR_INVALID,
                              "%s: only letters, digits, '.', '_' and '-' are allowed, got '%s'",
                              flag, v);
    }
    memcpy(out, v, n + 1);
    return XS_OK;
}

static xs_result parse_resolution(const char *flag, const char *v, xs_options *o, xs_err *err)
{
    const char *x = strchr(v, 'x');
    if (!x)
        return xs_err_set(err, XS_ERR_INVALID, "%s: expected WIDTHxHEIGHT, got '%s'", flag, v);
    char w[32];
    size_t n = (size_t)(x - v);
    if (n == 0 || n >= sizeof w)
        return xs_err_set(err, XS_ERR_INVALID, "%s: expected WIDTHxHEIGHT, got '%s'", flag, v);
    memcpy(w, v, n);
    w[n] = '\0';
    xs_result r = parse_int("--resolution (width)", w, 1, 32768, &o->render.width, err);
    if (r == XS_OK)
        r = parse_int("--resolution (height)", x + 1, 1, 32768, &o->render.height, err);
    return r;
}

xs_result xs_frames_parse(const char *field, const char *spec, int *frames, int *count, xs_err *err)
{
    static unsigned char seen[10000];
    memset(seen, 0, sizeof seen);
    *count = 0;
    const char *p = spec;
    if (!*p)
        return xs_err_set(err, XS_ERR_INVALID, "%s: empty frame list", field);
    while (*p) {
        char item[64];
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0 || n >= sizeof item)
            return xs_err_set(err, XS_ERR_INVALID, "%s: expected F, A-B or A-BxS items separated by commas, got '%s'", field, spec);
        memcpy(item, p, n);
        item[n] = '\0';
        p += n + (comma ? 1 : 0);
        if (comma && !*p)
            return xs_err_set(err, XS_ERR_INVALID, "%s: trailing comma in '%s'", field, spec);
        long a = 0, b = 0, step = 1;
        char *end = NULL;
        errno = 0;
        a = strtol(item, &end, 10);
        if (end == item || errno)
            return xs_err_set(err, XS_ERR_INVALID, "%s: '%s' is not F, A-B or A-BxS", field, item);
        b = a;
        if (*end == '-') {
            char *e2 = NULL;
            b = strtol(end + 1, &e2, 10);
            if (e2 == end + 1)
                return xs_err_set(err, XS_ERR_INVALID, "%s: '%s' is not F, A-B or A-BxS", field, item);
            end = e2;
            if (*end == 'x') {
                char *e3 = NULL;
                step = strtol(end + 1, &e3, 10);
                if (e3 == end + 1 || step < 1)
                    return xs_err_set(err, XS_ERR_INVALID, "%s: '%s': the step must be a positive integer", field, item);
                end = e3;
            }
        }
        if (*end)
            return xs_err_set(err, XS_ERR_INVALID, "%s: '%s' is not F, A-B or A-BxS", field, item);
        if (a < 0 || a > 9999 || b < 0 || b > 9999)
            return xs_err_set(err, XS_ERR_INVALID, "%s: '%s': frames must be in [0, 9999]", field, item);
        if (b < a)
            return xs_err_set(err, XS_ERR_INVALID, "%s: '%s': last frame %ld is before first frame %ld", field, item, b, a);
        for (long f = a; f <= b; f += step) {
            if (seen[f])
                return xs_err_set(err, XS_ERR_INVALID, "%s: frame %ld is listed twice", field, f);
            seen[f] = 1;
            frames[(*count)++] = (int)f;
        }
    }
    return XS_OK;
}

/* The budget flags, and the same names in job files' "limits" object: each
 * a count in the unit its name says, at least 1. */
static const struct {
    const char *flag, *key;
    double unit;
    long max;
} limit_names[] = {
    {"--max-image-mpix", "image_mpix", 1e6, 1L << 20},
    {"--max-texture-mib", "texture_mib", 1048576.0, 1L << 30},
    {"--max-env-mpix", "env_mpix", 1e6, 1L << 20},
    {"--max-mtris", "mtriangles", 1e6, 1L << 16},
    {"--max-nodes", "nodes", 1.0, 1L << 31},
    {"--max-instances", "instances", 1.0, 1L << 31},
    {"--max-joints", "joints", 1.0, 1L << 16},
    {"--max-keyframes", "keyframes", 1.0, 1L << 31},
    {"--max-morph-targets", "morph_targets", 1.0, 1L << 16},
};

static uint64_t *limit_slot(xs_scene_limits *l, int k)
{
    uint64_t *slots[] = {&l->gltf.max_image_pixels, &l->gltf.max_texture_bytes, &l->max_env_pixels,
                         &l->gltf.max_triangles, &l->gltf.max_nodes, &l->gltf.max_instances,
                         &l->gltf.max_joints, &l->gltf.max_keyframes, &l->gltf.max_morph_targets};
    return slots[k];
}

xs_result xs_limit_set(xs_scene_limits *l, const char *name, long value, const char *field, xs_err *err)
{
    for (int k = 0; k < (int)(sizeof limit_names / sizeof limit_names[0]); ++k)
        if (strcmp(name, limit_names[k].flag) == 0 || strcmp(name, limit_names[k].key) == 0) {
            if (value < 1 || value > limit_names[k].max)
                return xs_err_set(err, XS_ERR_INVALID, "%s: must be in [1, %ld], got %ld", field,
                                  limit_names[k].max, value);
            *limit_slot(l, k) = (uint64_t)((double)value * limit_names[k].unit);
            return XS_OK;
        }
    return xs_err_set(err, XS_ERR_INVALID, "%s: unknown limit", field);
}

static xs_result xs_limit_parse(const char *flag, const char *val, xs_scene_limits *l, xs_err *err)
{
    long v = 0;
    xs_result r = parse_long(flag, val, 1, 1L << 31, &v, err);
    return r == XS_OK ? xs_limit_set(l, flag, v, flag, err) : r;
}

xs_result xs_options_parse(int argc, char **argv, xs_options *o, xs_err *err)
{
    bool have_positional = false;
    for (int i = 0; i < argc; ++i) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            o->help = true;
            continue;
        }
        if (strcmp(arg, "--no-preview") == 0) {
            o->preview = false;
            continue;
        }
        if (strcmp(arg, "--keep-tiles") == 0) {
            o->keep_tiles = true;
            continue;
        }
        if (strcmp(arg, "--force") == 0) {
            o->force = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 && xs_has_suffix(arg, ".json")) {
            if (!o->job_file[0])
                return xs_err_set(err, XS_ERR_INVALID, "%s: job files are read by xisuan render itself", arg);
            continue; /* the job file, applied before parsing */
        }
        if (strncmp(arg, "--", 2) != 0) {
            if (have_positional)
                return xs_err_set(err, XS_ERR_INVALID, "unexpected argument '%s' (one scene only; see --help)", arg);
            have_positional = true;
            if (strlen(arg) >= sizeof o->scene)
                return xs_err_set(err, XS_ERR_INVALID, "scene path too long");
            snprintf(o->scene, sizeof o->scene, "%s", arg);
            continue;
        }
        /* --flag=value or --flag value */
        char flag[64];
        const char *val = NULL;
        const char *eq = strchr(arg, '=');
        size_t fl = eq ? (size_t)(eq - arg) : strlen(arg);
        if (fl >= sizeof flag)
            return xs_err_set(err, XS_ERR_INVALID, "unknown flag '%s' (see --help)", arg);
        memcpy(flag, arg, fl);
        flag[fl] = '\0';
        static const char *known[] = {"--scene", "--resolution", "--width", "--height", "--spp",
                                      "--tile", "--seed", "--frames", "--out", "--job", "--name",
                                      "--compression", "--zip-level", "--threads",
                                      "--max-bounces", "--prefetch", "--kernel",
                                      "--pkg-max-entry-mib", "--pkg-max-total-mib",
                                      "--pkg-max-ratio", "--retries", "--stall-timeout",
                                      "--grace", "--progress", "--progress-interval",
                                      "--aovs", "--filter", "--filter-width", "--clamp", "--mis",
                                      "--backend", "--gpu-slots", "--bind", "--bvh", "--writers", "--balance",
                                      "--max-image-mpix", "--max-texture-mib", "--max-env-mpix",
                                      "--max-mtris", "--max-nodes", "--max-instances",
                                      "--max-joints", "--max-keyframes", "--max-morph-targets",
                                      "--fps", "--time-offset", "--animations", "--shutter",
                                      "--motion-steps", "--mem-budget", "--texture-cache-mib",
                                      "--gpu-texture-mib", "--node-share"};
        int is_known = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; ++k)
            is_known |= strcmp(flag, known[k]) == 0;
        if (!is_known)
            return xs_err_set(err, XS_ERR_INVALID, "unknown flag '%s' (see --help)", flag);
        if (eq) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc)
                return xs_err_set(err, XS_ERR_INVALID, "%s: missing value", flag);
            val = argv[++i];
        }
        xs_result r = XS_OK;
        if (strcmp(flag, "--scene") == 0) {
            if (strlen(val) == 0 || strlen(val) >= sizeof o->scene)
                r = xs_err_set(err, XS_ERR_INVALID, "--scene: must be a scene name or path");
            else
                snprintf(o->scene, sizeof o->scene, "%s", val);
        }
        else if (strcmp(flag, "--resolution") == 0)
            r = parse_resolution(flag, val, o, err), o->given |= XS_GIVEN_RES;
        else if (strcmp(flag, "--width") == 0)
            r = parse_int(flag, val, 1, 32768, &o->render.width, err), o->given |= XS_GIVEN_RES;
        else if (strcmp(flag, "--height") == 0)
            r = parse_int(flag, val, 1, 32768, &o->render.height, err), o->given |= XS_GIVEN_RES;
        else if (strcmp(flag, "--spp") == 0)
            r = parse_int(flag, val, 1, 1 << 20, &o->render.spp, err), o->given |= XS_GIVEN_SPP;
        else if (strcmp(flag, "--tile") == 0)
            r = parse_int(flag, val, 8, 4096, &o->render.tile, err), o->given |= XS_GIVEN_TILE;
        else if (strcmp(flag, "--seed") == 0) {
            long s = 0;
            r = parse_long(flag, val, 0, 4294967295L, &s, err);
            o->render.seed = (uint32_t)s;
        } else if (strcmp(flag, "--frames") == 0) {
            r = xs_frames_parse(flag, val, o->frames, &o->frame_count, err);
            snprintf(o->frames_spec, sizeof o->frames_spec, "%s", val);
            o->given |= XS_GIVEN_FRAMES;
        }
        else if (strcmp(flag, "--out") == 0) {
            size_t n = strlen(val);
            if (n == 0 || n >= sizeof o->out_dir - 256)
                r = xs_err_set(err, XS_ERR_INVALID, "--out: path must be 1 to %zu characters",
                               sizeof o->out_dir - 257);
            else
                memcpy(o->out_dir, val, n + 1);
        } else if (strcmp(flag, "--job") == 0)
            r = xs_name_parse(flag, val, o->job, sizeof o->job, err);
        else if (strcmp(flag, "--name") == 0)
            r = xs_name_parse(flag, val, o->name, sizeof o->name, err);
        else if (strcmp(flag, "--compression") == 0) {
            if (strcmp(val, "zip") == 0)
                o->compression = XS_EXR_ZIP;
            else if (strcmp(val, "piz") == 0)
                o->compression = XS_EXR_PIZ;
            else if (strcmp(val, "none") == 0)
                o->compression = XS_EXR_NONE;
            else
                r = xs_err_set(err, XS_ERR_INVALID,
                               "--compression: must be zip, piz or none, got '%s'", val);
        } else if (strcmp(flag, "--zip-level") == 0)
            r = parse_int(flag, val, 0, 9, &o->zip_level, err);
        else if (strcmp(flag, "--threads") == 0)
            r = parse_int(flag, val, 0, 1024, &o->render.threads, err);
        else if (strcmp(flag, "--max-bounces") == 0)
            r = parse_int(flag, val, 0, 1024, &o->render.max_bounces, err), o->given |= XS_GIVEN_BOUNCES;
        else if (strcmp(flag, "--aovs") == 0)
            r = xs_aovs_parse(flag, val, &o->render.aovs, err);
        else if (strcmp(flag, "--filter") == 0)
            r = xs_filter_parse(flag, val, &o->render.filter, err);
        else if (strcmp(flag, "--filter-width") == 0)
            r = parse_float(flag, val, 0.5, 8.0, &o->render.filter_width, err);
        else if (strcmp(flag, "--clamp") == 0)
            r = parse_float(flag, val, 0.0, 1e30, &o->render.clamp, err);
        else if (strcmp(flag, "--backend") == 0)
            r = xs_backend_parse(flag, val, &o->render.backend, err);
        else if (strcmp(flag, "--gpu-slots") == 0) {
            if (strcmp(val, "auto") == 0)
                o->render.gpu_slots = 0;
            else
                r = parse_int(flag, val, 1, XS_BACKEND_MAX_SLOTS, &o->render.gpu_slots, err);
        }
        else if (strcmp(flag, "--writers") == 0) {
            if (strcmp(val, "auto") == 0)
                o->writers = 0;
            else
                r = parse_int(flag, val, 1, 256, &o->writers, err);
        }
        else if (strcmp(flag, "--balance") == 0) {
            if (strcmp(val, "on") == 0)
                o->balance = true;
            else if (strcmp(val, "off") == 0)
                o->balance = false;
            else
                r = xs_err_set(err, XS_ERR_INVALID, "--balance: must be on or off, got '%s'", val);
        }
        else if (strcmp(flag, "--bind") == 0) {
            if (strcmp(val, "auto") == 0)
                o->bind = true;
            else if (strcmp(val, "none") == 0)
                o->bind = false;
            else
                r = xs_err_set(err, XS_ERR_INVALID, "--bind: must be auto or none, got '%s'", val);
        }
        else if (strcmp(flag, "--mis") == 0)
            r = xs_mis_parse(flag, val, &o->render.mis, err);
        else if (strcmp(flag, "--fps") == 0)
            r = parse_double(flag, val, 0.0, 1000.0, true, &o->render.fps, err), o->given |= XS_GIVEN_FPS;
        else if (strcmp(flag, "--time-offset") == 0)
            r = parse_double(flag, val, -1e6, 1e6, false, &o->render.time_offset, err),
            o->given |= XS_GIVEN_TIME_OFFSET;
        else if (strcmp(flag, "--animations") == 0)
            r = xs_animations_parse(flag, val, o->render.animations, sizeof o->render.animations, err),
            o->given |= XS_GIVEN_ANIMATIONS;
        else if (strcmp(flag, "--shutter") == 0)
            r = parse_float(flag, val, 0.0, 1.0, &o->render.shutter, err), o->given |= XS_GIVEN_SHUTTER;
        else if (strcmp(flag, "--motion-steps") == 0)
            r = parse_int(flag, val, 2, 64, &o->render.motion_steps, err), o->given |= XS_GIVEN_MOTION_STEPS;
        else if (strcmp(flag, "--pkg-max-entry-mib") == 0 || strcmp(flag, "--pkg-max-total-mib") == 0) {
            long mib = 0;
            r = parse_long(flag, val, 1, 1L << 24, &mib, err);
            if (flag[10] == 'e')
                o->limits.pkg.max_entry_bytes = (uint64_t)mib << 20;
            else
                o->limits.pkg.max_total_bytes = (uint64_t)mib << 20;
        } else if (strcmp(flag, "--progress") == 0) {
            if (strcmp(val, "auto") == 0)
                o->progress = XS_PROGRESS_AUTO;
            else if (strcmp(val, "tty") == 0)
                o->progress = XS_PROGRESS_TTY;
            else if (strcmp(val, "plain") == 0)
                o->progress = XS_PROGRESS_PLAIN;
            else if (strcmp(val, "off") == 0)
                o->progress = XS_PROGRESS_OFF;
            else
                r = xs_err_set(err, XS_ERR_INVALID, "--progress: must be auto, tty, plain or off, got '%s'", val);
        } else if (strcmp(flag, "--progress-interval") == 0) {
            long sec = 0;
            r = parse_long(flag, val, 1, 86400, &sec, err);
            o->progress_interval_s = (double)sec;
        } else if (strcmp(flag, "--retries") == 0) {
            r = parse_int(flag, val, 0, 100, &o->retries, err);
        } else if (strcmp(flag, "--stall-timeout") == 0 || strcmp(flag, "--grace") == 0) {
            long sec = 0;
            r = parse_long(flag, val, 1, 1L << 24, &sec, err);
            if (flag[2] == 's')
                o->stall_timeout_s = (double)sec;
            else
                o->grace_s = (double)sec;
        } else if (strcmp(flag, "--pkg-max-ratio") == 0) {
            long ratio = 0;
            r = parse_long(flag, val, 1, 1000000, &ratio, err);
            o->limits.pkg.max_ratio = (double)ratio;
        }
        else if (strncmp(flag, "--max-", 6) == 0)
            r = xs_limit_parse(flag, val, &o->limits, err);
        else if (strcmp(flag, "--mem-budget") == 0)
            r = xs_mem_budget_parse(flag, val, o, err);
        else if (strcmp(flag, "--texture-cache-mib") == 0 || strcmp(flag, "--gpu-texture-mib") == 0) {
            uint64_t *dst = flag[2] == 't' ? &o->tex_cache_bytes : &o->gpu_tex_bytes;
            long mib = 0;
            if (strcmp(val, "auto") == 0)
                *dst = 0;
            else if ((r = parse_long(flag, val, 1, 1L << 30, &mib, err)) == XS_OK)
                *dst = (uint64_t)mib << 20;
        } else if (strcmp(flag, "--node-share") == 0) {
            if (strcmp(val, "on") == 0)
                o->node_share = true;
            else if (strcmp(val, "off") == 0)
                o->node_share = false;
            else
                r = xs_err_set(err, XS_ERR_INVALID, "--node-share: must be on or off, got '%s'", val);
        }
        else if (strcmp(flag, "--bvh") == 0)
            r = xs_bvh_parse(flag, val, &o->render.bvh, err);
        else if (strcmp(flag, "--prefetch") == 0)
            r = parse_int(flag, val, 1, XS_MAX_PREFETCH, &o->prefetch, err), o->given |= XS_GIVEN_PREFETCH;
        else if (strcmp(flag, "--kernel") == 0) {
            if (strcmp(val, "path") == 0)
                o->kernel = XS_KERNEL_PATH;
            else if (strcmp(val, "empty") == 0)
                o->kernel = XS_KERNEL_EMPTY;
            else
                r = xs_err_set(err, XS_ERR_INVALID, "--kernel: must be path or empty, got '%s'",
                               val);
        }
        if (r != XS_OK)
            return r;
    }
    bool is_path = xs_has_suffix(o->scene, ".tar.zst") || xs_has_suffix(o->scene, ".gltf") ||
                   xs_has_suffix(o->scene, ".glb");
    if (!is_path && strcmp(o->scene, "cornell") != 0)
        return xs_err_set(err, XS_ERR_INVALID,
                          "--scene: '%s' is neither a built-in scene (cornell) nor a .tar.zst, "
                          ".gltf or .glb file",
                          o->scene);
    if (o->job[0] == '\0' && o->job_file[0]) {
        name_from_scene(o->job_file, o->job, sizeof o->job);
        size_t jl = strlen(o->job);
        if (jl > 5 && strcmp(o->job + jl - 5, ".json") == 0)
            o->job[jl - 5] = '\0';
    }
    if (o->job[0] == '\0')
        name_from_scene(o->scene, o->job, sizeof o->job);
    if (o->name[0] == '\0')
        name_from_scene(o->scene, o->name, sizeof o->name);
    if ((long)o->render.width * (long)o->render.height > (1L << 28))
        return xs_err_set(err, XS_ERR_INVALID, "--resolution: %dx%d exceeds 2^28 pixels", o->render.width,
                          o->render.height);
    return XS_OK;
}

void xs_options_print_help(FILE *f)
{
    fputs(
        "usage: xisuan render [SCENE | JOB.json] [flags]\n"
        "       mpirun -n N xisuan render [SCENE | JOB.json] [flags]\n"
        "\n"
        "Renders frames of a scene. Rank 0 schedules (frame, tile) work items; the other ranks\n"
        "path-trace tiles, write each as a compressed EXR under OUT/JOB/tiles/, and assemble\n"
        "each frame OUT/JOB/NAME.FFFF.exr (plus a PNG preview) from its tiles' compressed\n"
        "chunks. Run alone (no mpirun), rank 0 renders by itself.\n"
        "\n"
        "flags (FLAG VALUE or FLAG=VALUE):\n"
        "  JOB.json             a job file (docs/operations.md): package, frames, output, job,\n"
        "                       name, compression, render settings; flags given here win\n"
        "  SCENE, --scene S     a scene package (.tar.zst, see docs/package.md), a plain .gltf or\n"
        "                       .glb (rendered with the default manifest), or the built-in\n"
        "                       'cornell' (the measured Cornell box) [cornell]. Only rank 0\n"
        "                       reads it; the other ranks receive it over MPI.\n"
        "                       Render settings given here win over the package's manifest.\n"
        "  --resolution WxH     frame size in pixels, each in [1, 32768] [512x512]\n"
        "  --width N, --height N  the same, one at a time\n"
        "  --spp N              samples per pixel, [1, 1048576] [16]\n"
        "  --tile N             tile size in pixels (square), [8, 4096]; also the EXR tile size\n"
        "                       [64; 256 where a worker has a GPU]\n"
        "  --seed N             random seed, [0, 4294967295]; pixels depend on (seed, frame,\n"
        "                       pixel, sample) only [0]\n"
        "  --frames LIST        frames: comma-separated F, A-B or A-BxS (every S-th), each in\n"
        "                       [0, 9999], e.g. 1001-1096x2,1100 [1]\n"
        "  --out DIR            output directory; created if missing; must be writable [out]\n"
        "  --job NAME           job name: outputs go to DIR/NAME/ [the scene's base name]\n"
        "  --name NAME          frame file base name: DIR/JOB/NAME.FFFF.exr [the scene's base name]\n"
        "  --compression C      EXR compression: zip, piz or none [zip]\n"
        "  --zip-level N        zlib level for zip, [0, 9] [4]\n"
        "  --threads N          render threads per rank; 0 = one per core given [0]\n"
        "  --bvh B              BVH builder: auto (binned SAH below 65536 triangles a mesh,\n"
        "                       clustered above), binned (best tree, slower build) or\n"
        "                       clustered [auto]\n"
        "  --max-bounces N      path length limit after the first hit, [0, 1024] [8]\n"
        "  --aovs LIST          layers beside beauty (RGBA), comma-separated: albedo, normal,\n"
        "                       depth, samples, or all [none]\n"
        "  --filter NAME        pixel filter, importance-sampled: box, tent, gaussian or\n"
        "                       blackman-harris [blackman-harris]\n"
        "  --filter-width PX    filter width in pixels, [0.5, 8] [1.5]\n"
        "  --clamp X            clamp indirect light per sample to X (max channel); 0: off [0]\n"
        "  --mis MODE           on: multiple importance sampling; bsdf or light: that\n"
        "                       estimator alone (for tests; converges to the same mean) [on]\n"
        ,
        f);
    fputs(
        "  --fps F              frame F shows the glTF animation at F / fps + time-offset\n"
        "                       seconds (Blender's convention), (0, 1000] [24]\n"
        "  --time-offset S      seconds added to every frame's time, [-1e6, 1e6] [0]\n"
        "  --animations LIST    which of the scene's animations play: all, none, or names or\n"
        "                       indices separated by commas; all play together [all]\n"
        "  --shutter S          motion blur: the shutter is open S of a frame interval,\n"
        "                       centred on the frame, [0, 1]; 0: none [0]\n"
        "  --motion-steps N     instants spread over an open shutter; rotations between two\n"
        "                       must stay under half a turn, [2, 64] [3]\n"
        "  --prefetch N         work requests each worker keeps in flight, [1, 512] [each\n"
        "                       worker's depth: its device's slots + writers + 1]\n"
        "  --backend B          auto (a GPU where the rank has one, else the CPU), cuda,\n"
        "                       cpu, or embree (the CPU with Embree's traversal: other\n"
        "                       pixels than cpu's, a job key of its own) [auto]\n"
        "  --gpu-slots N        tiles each GPU holds in flight, [1, 384], or auto: three\n"
        "                       launches of as many tiles as fill the GPU (from its SMs) [auto]\n"
        "  --writers N          writer threads per worker (EXR compression, checksums, file\n"
        "                       syncs, assembly, off the thread that drives the device),\n"
        "                       [1, 256], or auto: a GPU rank's cores but one, 1 on a CPU\n"
        "                       rank [auto]\n"
        "  --bind B             auto: bind each rank to the cores (and memory) nearest its\n"
        "                       GPU with hwloc, share cores out among CPU ranks; none: leave\n"
        "                       binding to the launcher [auto]\n"
        "",
        f);
    fputs(
        "  --kernel K           path (render) or empty (benchmark of the scheduler: no pixels,\n"
        "                       no files) [path]\n"
        "  --no-preview         do not write PNG previews\n"
        "  --keep-tiles         keep tile files after their frame is assembled (default:\n"
        "                       removed once the frame is journaled)\n"
        "  --balance B          on: estimate each rank's speed and each tile's cost, hand\n"
        "                       out expensive tiles first, give a slow rank only what it\n"
        "                       finishes in time, split tiles' samples and copy the slowest\n"
        "                       tiles for idle ranks at the end; off: tiles in row-major\n"
        "                       order to whoever asks [on]\n"
        "  --progress P         auto, tty (a live line), plain (a line every interval, for\n"
        "                       logs) or off; auto is tty on a terminal outside mpirun/srun,\n"
        "                       else plain [auto]\n"
        "  --progress-interval S  seconds between plain progress lines [30]\n"
        "  --retries N          retry a failed tile or assembly N times, on another rank when\n"
        "                       there is one, before the job fails, [0, 100] [2]\n"
        "  --stall-timeout S    a worker that holds work and says nothing for S seconds is\n"
        "                       given up on: its items go to other ranks [900]\n"
        "  --grace S            on SIGTERM or SIGUSR1 rank 0 stops handing out work and waits\n"
        "                       up to S seconds for tiles in flight, then exits 75 (requeue) [90]\n"
        "  --force              an output folder whose journal was written for other settings\n"
        "                       is refused; --force moves that journal aside and starts afresh\n"
        "  --pkg-max-entry-mib N  refuse package entries over N MiB [4096]\n"
        "  --pkg-max-total-mib N  refuse packages over N MiB uncompressed [32768]\n"
        "  --pkg-max-ratio R    refuse packages that inflate over R times (bombs) [1000]\n"
        "  --max-image-mpix N   refuse a texture image over N megapixels (from its header,\n"
        "                       before decoding) [134]\n"
        "  --max-texture-mib N  refuse scenes whose used textures decode to over N MiB [8192]\n"
        "  --max-env-mpix N     refuse an environment image over N megapixels [134]\n"
        "  --max-mtris N        refuse scenes over N million triangles (each mesh once) [268]\n"
        "  --max-nodes N        refuse glTF files of over N nodes [16777216]\n"
        "  --max-instances N    refuse scenes placing meshes over N times [16777216]\n"
        "  --max-joints N       refuse a skin of over N joints [16384]\n"
        "  --max-keyframes N    refuse animations of over N keyframes in all [16777216]\n"
        "  --max-morph-targets N  refuse a mesh of over N morph targets [256]\n"
        ,
        f);
    fputs(
        "  --mem-budget B       memory budgets: SIZE or rank=SIZE (each rank), node=SIZE\n"
        "                       (each node), or both: rank=8G,node=60G. A plan of what the\n"
        "                       scene needs and where it goes is printed before rendering;\n"
        "                       a scene that does not fit (the budgets, or what the node has\n"
        "                       available within its cgroup) is refused with it [none]\n"
        "  --texture-cache-mib N  the texture page cache of a paged package, per node (shared\n"
        "                       by its ranks), [1, 2^30], or auto: the whole page set, at most\n"
        "                       a quarter of what the node has left after the plan [auto]\n"
        "  --gpu-texture-mib N  texture pages a GPU holds, [1, 2^30], or auto: every page when\n"
        "                       they fit its free memory, else what is left of it; missing\n"
        "                       pages are loaded and the launch run again [auto]\n"
        "  --node-share S       on: the ranks of a node share one copy of the scene (MPI-3\n"
        "                       shared memory), built once by one of them (an animated scene:\n"
        "                       each rank poses its own, the texture cache stays shared);\n"
        "                       off: each rank builds its own [on]\n"
        "  -h, --help           this text\n"
        "\n"
        "NAME values may hold letters, digits, '.', '_' and '-' and may not start with '.'.\n"
        "Resume: rank 0 journals every committed tile in DIR/JOB/journal. Run the same\n"
        "command again (same scene content and settings) and committed tiles are verified\n"
        "against their checksums instead of rendered; the frames come out bit-identical.\n"
        "Events for pipelines: DIR/JOB/events.jsonl. Progress: a live line on a terminal,\n"
        "a plain line every 30 s otherwise.\n"
        "\n"
        "Exit status: 0 when every frame was written; 2 for bad input (nothing rendered);\n"
        "1 when the job failed; 75 when a signal drained it (run it again to resume).\n",
        f);
}

