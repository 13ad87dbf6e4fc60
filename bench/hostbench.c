/* xisuan-hostbench: what one GPU rank's host side sustains, without a GPU
 * (docs/benchmarks.md).
 *
 *   xisuan-hostbench [--tile N] [--spp N] [--aovs LIST] [--compression LIST]
 *       [--writers LIST] [--tiles N] [--out DIR] [--json FILE]
 *
 * A GPU rank's host renders nothing: it ends tiles the GPU finished, copies
 * their pixels out, and its writer threads hash, compress, write and fsync
 * them (scheduler/worker.c). This drives that exact code, the worker's
 * pipeline, over the stand-in back end (render/backend_standin.c), whose
 * tiles are finished the moment they are begun; so the rate it measures is
 * the most tiles per second the host can take from a GPU, per compression
 * and per number of writer threads. The stand-in returns a real tile:
 * rendered once here on the CPU (the Cornell box at the given spp and AOVs),
 * so compression meets real noise. Compare with a GPU's rate for the same
 * tile (xisuan bench's kernel time) to know how many cores a GPU needs.
 *
 * Reported per (compression, writers): tiles/s, MB/s of pixel records in,
 * MB/s of files out, ms of host time per tile and per writer, and the
 * inline figure (writers 0: the write on the thread that would drive the
 * GPU, as before writer threads).
 */
#include "io/xs_file.h"
#include "render/xs_backend.h"
#include "render/xs_film.h"
#include "render/xs_parallel.h"
#include "render/xs_scene.h"
#include "scheduler/xs_options.h"
#include "scheduler/xs_protocol.h"
#include "scheduler/xs_worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void usage(FILE *f)
{
    fputs("usage: xisuan-hostbench [--tile N] [--spp N] [--aovs LIST] [--compression LIST]\n"
          "                        [--writers LIST] [--tiles N] [--out DIR] [--json FILE]\n"
          "  --tile N           tile size [256]\n"
          "  --spp N            samples of the rendered template tile [16]\n"
          "  --aovs LIST        as xisuan render --aovs [none]\n"
          "  --compression LIST comma-separated zip, piz, none [zip,piz,none]\n"
          "  --writers LIST     comma-separated writer thread counts; 0: inline [0,1,2]\n"
          "  --tiles N          tiles per measurement [48]\n"
          "  --out DIR          scratch folder, on the storage to measure [hostbench-out]\n"
          "  --json FILE        also write the figures as JSON\n",
          f);
}

/* The template: one tile of the Cornell box, rendered on this CPU. */
static float *render_template(int tile, int spp, uint32_t aovs, int *channels)
{
    xs_scene *s = NULL;
    xs_err e;
    if (xs_scene_builtin("cornell", NULL, &s, &e) != XS_OK) {
        fprintf(stderr, "xisuan-hostbench: %s\n", e.msg);
        return NULL;
    }
    const int fw = tile * 4, fh = tile * 4;
    xs_backend *b = NULL;
    if (xs_backend_cpu_create(s, fw, fh, xs_cpu_count_affinity(), &b, &e) != XS_OK) {
        xs_scene_destroy(s);
        return NULL;
    }
    xs_tile_params tp = xs_tile_params_frame(fw, fh, spp, 8);
    tp.x0 = tile + tile / 2, tp.y0 = tile + tile / 2, tp.width = tile, tp.height = tile;
    tp.aovs = aovs;
    *channels = xs_aov_channels(aovs);
    float *px = malloc((size_t)tile * (size_t)tile * (size_t)*channels * sizeof(float));
    xs_counters c;
    memset(&c, 0, sizeof c);
    double t0 = now();
    if (!px || xs_backend_render_tile(b, &tp, px, &c, &e) != XS_OK) {
        free(px);
        px = NULL;
    } else {
        printf("xisuan-hostbench: template tile %dx%d, %d spp, %d channel(s), rendered in %.2f s on the CPU\n",
               tile, tile, spp, *channels, now() - t0);
    }
    xs_backend_destroy(b);
    xs_scene_destroy(s);
    return px;
}

typedef struct figure {
    const char *compression;
    int writers;
    int tiles;
    double seconds, bytes_in, bytes_out;
    int failed;
} figure;

/* Pushes `tiles` tiles of frame 1 through a worker with the stand-in back
 * end and `writers` writer threads, keeping at most its depth in hand (as
 * the farm's prefetch does). */
static int measure(const char *out, int tile, int spp, uint32_t aovs, const float *px, int channels,
                   const char *compression, int writers, int tiles, figure *fig)
{
    xs_options *o = malloc(sizeof *o);
    xs_job *job = malloc(sizeof *job);
    if (!o || !job) {
        free(o), free(job);
        return 1;
    }
    xs_options_defaults(o);
    int across = 8;
    o->render.width = tile * across;
    o->render.height = tile * ((tiles + across - 1) / across);
    o->render.tile = tile;
    o->render.spp = spp;
    o->render.aovs = aovs;
    o->preview = false;
    o->compression = strcmp(compression, "piz") == 0 ? XS_EXR_PIZ : strcmp(compression, "none") == 0 ? XS_EXR_NONE
                                                                                                       : XS_EXR_ZIP;
    snprintf(o->out_dir, sizeof o->out_dir, "%s", out);
    snprintf(o->job, sizeof o->job, "host-%s-%d", compression, writers);
    snprintf(o->name, sizeof o->name, "f");
    xs_err e;
    xs_worker w;
    xs_backend *b = NULL;
    int rc = 1;
    if (xs_job_init(job, o, 1, &e) != XS_OK || xs_backend_standin_create(px, tile, channels, 8, 0, &b, &e) != XS_OK ||
        xs_worker_init_backend(&w, job, 1, b, writers, &e) != XS_OK) {
        fprintf(stderr, "xisuan-hostbench: %s\n", e.msg);
        free(o), free(job);
        return 1;
    }
    const int depth = xs_worker_depth(&w);
    memset(fig, 0, sizeof *fig);
    fig->compression = compression;
    fig->writers = writers;
    fig->tiles = tiles;
    xs_worker_result res[16];
    int pushed = 0, done = 0, idle = 0;
    const double t0 = now();
    while (done < tiles) {
        while (pushed < tiles && xs_worker_held(&w) < depth) {
            xs_work_item it = {XS_WORK_TILE, 1, pushed++, 0, 0, 0};
            if (xs_worker_push(&w, &it, 0, &e) != XS_OK)
                goto out;
        }
        bool progress = false;
        int n = xs_worker_pump(&w, res, 16, &progress);
        for (int i = 0; i < n; ++i)
            fig->failed += res[i].r != XS_OK;
        done += n;
        if (progress)
            idle = 0;
        else
            xs_backoff(&idle);
    }
    fig->seconds = now() - t0;
    fig->bytes_in = (double)tiles * (double)tile * (double)tile * (double)channels * 4.0;
    for (int t = 0; t < tiles; ++t) {
        char path[XS_PATH_MAX];
        struct stat st;
        if (xs_job_tile_path(&job->layout, 1, t, path, sizeof path, NULL) == XS_OK && stat(path, &st) == 0)
            fig->bytes_out += (double)st.st_size;
    }
    rc = fig->failed ? 1 : 0;
out:
    xs_worker_free(&w);
    free(o), free(job);
    return rc;
}

int main(int argc, char **argv)
{
    int tile = 256, spp = 16, tiles = 48;
    const char *aovs_s = "", *comp_s = "zip,piz,none", *writers_s = "0,1,2", *out = "hostbench-out", *json_path = NULL;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "xisuan-hostbench: %s needs a value\n", a);
            return 2;
        }
        ++i;
        if (strcmp(a, "--tile") == 0)
            tile = atoi(v);
        else if (strcmp(a, "--spp") == 0)
            spp = atoi(v);
        else if (strcmp(a, "--tiles") == 0)
            tiles = atoi(v);
        else if (strcmp(a, "--aovs") == 0)
            aovs_s = v;
        else if (strcmp(a, "--compression") == 0)
            comp_s = v;
        else if (strcmp(a, "--writers") == 0)
            writers_s = v;
        else if (strcmp(a, "--out") == 0)
            out = v;
        else if (strcmp(a, "--json") == 0)
            json_path = v;
        else {
            fprintf(stderr, "xisuan-hostbench: unknown flag '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    uint32_t aovs = 0;
    xs_err e;
    if (tile < 8 || tile > 4096 || spp < 1 || tiles < 1 || xs_aovs_parse("--aovs", aovs_s, &aovs, &e) != XS_OK) {
        fprintf(stderr, "xisuan-hostbench: bad --tile, --spp, --tiles or --aovs%s%s\n", aovs_s[0] ? ": " : "",
                aovs_s[0] ? e.msg : "");
        return 2;
    }
    if (xs_mkdir_p(out, &e) != XS_OK) {
        fprintf(stderr, "xisuan-hostbench: %s\n", e.msg);
        return 2;
    }
    int channels = 4;
    float *px = render_template(tile, spp, aovs, &channels);
    if (!px)
        return 1;
    FILE *json = json_path ? fopen(json_path, "w") : NULL;
    if (json_path && !json) {
        fprintf(stderr, "xisuan-hostbench: --json %s: cannot write it\n", json_path);
        free(px);
        return 2;
    }
    if (json)
        fprintf(json, "{\"tile\": %d, \"spp\": %d, \"channels\": %d, \"tiles\": %d, \"cores\": %d, \"runs\": [", tile,
                spp, channels, tiles, xs_cpu_count_affinity());
    printf("xisuan-hostbench: %d tiles of %dx%d, %d channel(s) (%.2f MB of records a tile), %d core(s), into %s\n",
           tiles, tile, tile, channels, (double)tile * tile * channels * 4.0 * 1e-6, xs_cpu_count_affinity(), out);
    printf("  %-11s %7s %9s %10s %11s %10s %12s %16s\n", "compression", "writers", "tiles/s", "MB/s in", "MB/s out",
           "ratio", "ms/tile", "ms/tile/writer");
    int status = 0;
    bool first = true;
    char cbuf[64], wbuf[128];
    snprintf(cbuf, sizeof cbuf, "%s", comp_s);
    for (char *cs = NULL, *c = strtok_r(cbuf, ",", &cs); c; c = strtok_r(NULL, ",", &cs)) {
        if (strcmp(c, "zip") != 0 && strcmp(c, "piz") != 0 && strcmp(c, "none") != 0) {
            fprintf(stderr, "xisuan-hostbench: --compression: unknown '%s'\n", c);
            status = 2;
            break;
        }
        snprintf(wbuf, sizeof wbuf, "%s", writers_s);
        for (char *ws = NULL, *wv = strtok_r(wbuf, ",", &ws); wv; wv = strtok_r(NULL, ",", &ws)) {
            int writers = atoi(wv);
            figure f;
            if (writers < 0 || writers > 256 || measure(out, tile, spp, aovs, px, channels, c, writers, tiles, &f) != 0) {
                fprintf(stderr, "xisuan-hostbench: %s with %s writer(s) failed\n", c, wv);
                status = 1;
                continue;
            }
            double ms = 1e3 * f.seconds / f.tiles;
            printf("  %-11s %7d %9.1f %10.1f %11.1f %10.2f %12.2f %16.2f\n", c, writers, f.tiles / f.seconds,
                   f.bytes_in / f.seconds * 1e-6, f.bytes_out / f.seconds * 1e-6, f.bytes_in / f.bytes_out, ms,
                   ms * (writers > 0 ? writers : 1));
            fflush(stdout);
            if (json)
                fprintf(json,
                        "%s\n  {\"compression\": \"%s\", \"writers\": %d, \"seconds\": %.6f, \"tiles_per_s\": %.3f, "
                        "\"mb_in_per_s\": %.3f, \"mb_out_per_s\": %.3f, \"ratio\": %.4f, \"ms_per_tile\": %.4f, "
                        "\"ms_per_tile_per_writer\": %.4f}",
                        first ? "" : ",", c, writers, f.seconds, f.tiles / f.seconds, f.bytes_in / f.seconds * 1e-6,
                        f.bytes_out / f.seconds * 1e-6, f.bytes_in / f.bytes_out, ms, ms * (writers > 0 ? writers : 1));
            first = false;
        }
    }
    if (json) {
        fprintf(json, "\n]}\n");
        fclose(json);
    }
    free(px);
    return status;
}
