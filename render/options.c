/* The `xisuan render` command line: defaults, parsing and range checks. Pure
 * (no MPI, no files): every rank parses the same argv to the same result, so
 * a bad flag stops every rank before any rendering starts. */
#include "render/xs_render.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void xs_options_defaults(xs_options *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->scene, sizeof o->scene, "cornell");
    o->width = 512;
    o->height = 512;
    o->spp = 16;
    o->tile = 64;
    o->seed = 0;
    o->frame_first = o->frame_last = 1;
    snprintf(o->out_dir, sizeof o->out_dir, "out");
    o->job[0] = '\0'; /* defaults to the scene name */
    o->name[0] = '\0';
    o->compression = XS_EXR_ZIP;
    o->zip_level = 4;
    o->threads = 0;
    o->max_bounces = 8;
    o->prefetch = 2;
    o->kernel = XS_KERNEL_PATH;
    o->preview = true;
}

int xs_options_frame_count(const xs_options *o) { return o->frame_last - o->frame_first + 1; }

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

/* Names that become file or directory names: letters, digits, '.', '_', '-',
 * not starting with '.', so nothing lands outside the output directory. */
static xs_result parse_name(const char *flag, const char *v, char *out, size_t out_size,
                            xs_err *err)
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
    xs_result r = parse_int("--resolution (width)", w, 1, 32768, &o->width, err);
    if (r == XS_OK)
        r = parse_int("--resolution (height)", x + 1, 1, 32768, &o->height, err);
    return r;
}

static xs_result parse_frames(const char *flag, const char *v, xs_options *o, xs_err *err)
{
    char a[32];
    const char *dash = strchr(v + (v[0] == '-' ? 1 : 0), '-');
    size_t n = dash ? (size_t)(dash - v) : strlen(v);
    if (n == 0 || n >= sizeof a)
        return xs_err_set(err, XS_ERR_INVALID, "%s: expected FIRST or FIRST-LAST, got '%s'", flag,
                          v);
    memcpy(a, v, n);
    a[n] = '\0';
    xs_result r = parse_int("--frames (first)", a, 0, 9999, &o->frame_first, err);
    if (r != XS_OK)
        return r;
    o->frame_last = o->frame_first;
    if (dash && (r = parse_int("--frames (last)", dash + 1, 0, 9999, &o->frame_last, err)) != XS_OK)
        return r;
    if (o->frame_last < o->frame_first)
        return xs_err_set(err, XS_ERR_INVALID, "--frames: last frame %d is before first frame %d",
                          o->frame_last, o->frame_first);
    return XS_OK;
}

xs_result xs_options_parse(int argc, char **argv, xs_options *o, xs_err *err)
{
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
        if (strncmp(arg, "--", 2) != 0)
            return xs_err_set(err, XS_ERR_INVALID, "unexpected argument '%s' (see --help)", arg);
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
                                      "--max-bounces", "--prefetch", "--kernel"};
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
        if (strcmp(flag, "--scene") == 0)
            r = parse_name(flag, val, o->scene, sizeof o->scene, err);
        else if (strcmp(flag, "--resolution") == 0)
            r = parse_resolution(flag, val, o, err);
        else if (strcmp(flag, "--width") == 0)
            r = parse_int(flag, val, 1, 32768, &o->width, err);
        else if (strcmp(flag, "--height") == 0)
            r = parse_int(flag, val, 1, 32768, &o->height, err);
        else if (strcmp(flag, "--spp") == 0)
            r = parse_int(flag, val, 1, 1 << 20, &o->spp, err);
        else if (strcmp(flag, "--tile") == 0)
            r = parse_int(flag, val, 8, 4096, &o->tile, err);
        else if (strcmp(flag, "--seed") == 0) {
            long s = 0;
            r = parse_long(flag, val, 0, 4294967295L, &s, err);
            o->seed = (uint32_t)s;
        } else if (strcmp(flag, "--frames") == 0)
            r = parse_frames(flag, val, o, err);
        else if (strcmp(flag, "--out") == 0) {
            size_t n = strlen(val);
            if (n == 0 || n >= sizeof o->out_dir - 256)
                r = xs_err_set(err, XS_ERR_INVALID, "--out: path must be 1 to %zu characters",
                               sizeof o->out_dir - 257);
            else
                memcpy(o->out_dir, val, n + 1);
        } else if (strcmp(flag, "--job") == 0)
            r = parse_name(flag, val, o->job, sizeof o->job, err);
        else if (strcmp(flag, "--name") == 0)
            r = parse_name(flag, val, o->name, sizeof o->name, err);
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
            r = parse_int(flag, val, 0, 1024, &o->threads, err);
        else if (strcmp(flag, "--max-bounces") == 0)
            r = parse_int(flag, val, 0, 1024, &o->max_bounces, err);
        else if (strcmp(flag, "--prefetch") == 0)
            r = parse_int(flag, val, 1, 64, &o->prefetch, err);
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
    if (o->job[0] == '\0')
        snprintf(o->job, sizeof o->job, "%s", o->scene);
    if (o->name[0] == '\0')
        snprintf(o->name, sizeof o->name, "%s", o->scene);
    if ((long)o->width * (long)o->height > (1L << 28))
        return xs_err_set(err, XS_ERR_INVALID, "--resolution: %dx%d exceeds 2^28 pixels", o->width,
                          o->height);
    return XS_OK;
}

void xs_options_print_help(FILE *f)
{
    fputs(
        "usage: xisuan render [flags]\n"
        "       mpirun -n N xisuan render [flags]\n"
        "\n"
        "Renders frames of a scene. Rank 0 schedules (frame, tile) work items; the other ranks\n"
        "path-trace tiles, write each as a compressed EXR under OUT/JOB/tiles/, and assemble\n"
        "each frame OUT/JOB/NAME.FFFF.exr (plus a PNG preview) from its tiles' compressed\n"
        "chunks. Run alone (no mpirun), rank 0 renders by itself.\n"
        "\n"
        "flags (FLAG VALUE or FLAG=VALUE):\n"
        "  --scene NAME         built-in scene: cornell (the measured Cornell box) [cornell]\n"
        "  --resolution WxH     frame size in pixels, each in [1, 32768] [512x512]\n"
        "  --width N, --height N  the same, one at a time\n"
        "  --spp N              samples per pixel, [1, 1048576] [16]\n"
        "  --tile N             tile size in pixels (square), [8, 4096]; also the EXR tile size [64]\n"
        "  --seed N             random seed, [0, 4294967295]; pixels depend on (seed, frame,\n"
        "                       pixel, sample) only [0]\n"
        "  --frames A[-B]       frame number or inclusive range, each in [0, 9999] [1]\n"
        "  --out DIR            output directory; created if missing; must be writable [out]\n"
        "  --job NAME           job name: outputs go to DIR/NAME/ [the scene name]\n"
        "  --name NAME          frame file base name: DIR/JOB/NAME.FFFF.exr [the scene name]\n"
        "  --compression C      EXR compression: zip, piz or none [zip]\n"
        "  --zip-level N        zlib level for zip, [0, 9] [4]\n"
        "  --threads N          render threads per rank; 0 = one per core given [0]\n"
        "  --max-bounces N      path length limit after the first hit, [0, 1024] [8]\n"
        "  --prefetch N         work requests each worker keeps in flight, [1, 64] [2]\n"
        "  --kernel K           path (render) or empty (benchmark of the scheduler: no pixels,\n"
        "                       no files) [path]\n"
        "  --no-preview         do not write PNG previews\n"
        "  -h, --help           this text\n"
        "\n"
        "NAME values may hold letters, digits, '.', '_' and '-' and may not start with '.'.\n"
        "Exit status: 0 when every frame was written; 2 for bad input (nothing rendered);\n"
        "1 when the job failed.\n",
        f);
}
