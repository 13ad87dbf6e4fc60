/* xisuan-assemblebench: the memory and time of assembling one big frame
 * (docs/benchmarks.md).
 *
 *   xisuan-assemblebench [--resolution WxH] [--tile N] [--aovs all|none]
 *       [--compression zip|piz|none] [--out DIR] [--keep]
 *
 * Writes every tile file of one frame (as workers do: io/exr.c
 * xs_exr_write_tile, synthetic pixels: smooth gradients with a little
 * deterministic noise, so compression meets some entropy), then assembles the
 * frame and its PNG preview with the worker's own call
 * (xs_exr_assemble_frame) in a child process, and reports that child's peak
 * RSS and wall time beside the frame's size in memory (width x height x
 * channels x 4 bytes), which an assembler reading the whole frame back would
 * need. The default is a 16K frame (15360x8640) with every AOV: 11 channels,
 * 5.8 GB of floats. */
#include "io/xs_exr.h"
#include "io/xs_file.h"
#include "io/xs_job_layout.h"
#include "render/xs_film.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint32_t hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    return x ^ (x >> 16);
}

int main(int argc, char **argv)
{
    int width = 15360, height = 8640, tile = 256;
    uint32_t aovs = XS_AOV_ALBEDO | XS_AOV_NORMAL | XS_AOV_DEPTH | XS_AOV_SAMPLES;
    const char *out = "/tmp/xisuan-assemblebench";
    xs_exr_compression comp = XS_EXR_ZIP;
    int keep = 0;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(a, "--resolution") == 0 && sscanf(v, "%dx%d", &width, &height) == 2)
            ++i;
        else if (strcmp(a, "--tile") == 0 && (tile = atoi(v)) >= 8)
            ++i;
        else if (strcmp(a, "--aovs") == 0 && (strcmp(v, "all") == 0 || strcmp(v, "none") == 0))
            aovs = strcmp(v, "all") == 0 ? aovs : 0, ++i;
        else if (strcmp(a, "--compression") == 0 && (strcmp(v, "zip") == 0 || strcmp(v, "piz") == 0 || strcmp(v, "none") == 0))
            comp = strcmp(v, "zip") == 0 ? XS_EXR_ZIP : strcmp(v, "piz") == 0 ? XS_EXR_PIZ : XS_EXR_NONE, ++i;
        else if (strcmp(a, "--out") == 0 && *v)
            out = v, ++i;
        else if (strcmp(a, "--keep") == 0)
            keep = 1;
        else {
            fprintf(stderr, "usage: xisuan-assemblebench [--resolution WxH] [--tile N] [--aovs all|none] "
                            "[--compression zip|piz|none] [--out DIR] [--keep]\n");
            return 2;
        }
    }
    if (width < 1 || height < 1 || width > 65536 || height > 65536 || tile > 4096) {
        fprintf(stderr, "xisuan-assemblebench: bad size\n");
        return 2;
    }
    xs_err err;
    xs_err_clear(&err);
    xs_exr_layout l;
    memset(&l, 0, sizeof l);
    l.frame_width = width;
    l.frame_height = height;
    l.tile_size = tile;
    l.compression = comp;
    l.zip_level = 4;
    l.channel_count = xs_aov_channel_names(aovs, l.channels);
    l.attr_software = "xisuan-assemblebench";
    l.attr_frame = 1;
    const int ch = l.channel_count, tx = (width + tile - 1) / tile, ty = (height + tile - 1) / tile;
    xs_job_layout job;
    char dir[XS_PATH_MAX];
    if (xs_job_layout_init(&job, out, "asm", "asm", tx, &err) != XS_OK ||
        xs_job_tile_dir(&job, 1, dir, sizeof dir, &err) != XS_OK || xs_mkdir_p(dir, &err) != XS_OK) {
        fprintf(stderr, "xisuan-assemblebench: %s\n", err.msg);
        return 1;
    }
    float *px = malloc((size_t)tile * (size_t)tile * (size_t)ch * sizeof(float));
    if (!px)
        return 1;
    double t0 = now();
    uint64_t bytes_in = 0;
    for (int t = 0; t < tx * ty; ++t) {
        int x0 = (t % tx) * tile, y0 = (t / tx) * tile;
        int w = x0 + tile <= width ? tile : width - x0, h = y0 + tile <= height ? tile : height - y0;
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                for (int c = 0; c < ch; ++c) {
                    uint32_t n = hash32((uint32_t)((y0 + y) * 65536 + x0 + x) * 16u + (uint32_t)c);
                    px[((size_t)y * (size_t)w + (size_t)x) * (size_t)ch + (size_t)c] =
                        (float)(x0 + x) / (float)width * 0.5f + (float)(y0 + y) / (float)height * 0.3f +
                        0.02f * (float)c + (float)(n & 0xff) * 1e-4f;
                }
        char path[XS_PATH_MAX];
        if (xs_job_tile_path(&job, 1, t, path, sizeof path, &err) != XS_OK ||
            xs_exr_write_tile(path, &l, x0, y0, w, h, px, &err) != XS_OK) {
            fprintf(stderr, "xisuan-assemblebench: %s\n", err.msg);
            return 1;
        }
        bytes_in += (uint64_t)w * (uint64_t)h * (uint64_t)ch * sizeof(float);
    }
    free(px);
    double t_write = now() - t0;
    char frame[XS_PATH_MAX], png[XS_PATH_MAX];
    if (xs_job_frame_path(&job, 1, "exr", frame, sizeof frame, &err) != XS_OK ||
        xs_job_frame_path(&job, 1, "png", png, sizeof png, &err) != XS_OK) {
        fprintf(stderr, "xisuan-assemblebench: %s\n", err.msg);
        return 1;
    }
    /* the assembly alone in a child, so its peak RSS is its own */
    double t1 = now();
    pid_t pid = fork();
    if (pid == 0) {
        uint64_t size = 0, hash = 0;
        xs_err e;
        xs_err_clear(&e);
        if (xs_exr_assemble_frame(frame, &l, &job, 1, png, &size, &hash, &e) != XS_OK) {
            fprintf(stderr, "xisuan-assemblebench: %s\n", e.msg);
            _exit(1);
        }
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    double t_asm = now() - t1;
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    struct stat sb;
    uint64_t fsize = stat(frame, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    printf("frame %dx%d, %d channels, tile %d (%d tiles), %s: %.2f GB of floats in memory\n", width, height, ch,
           tile, tx * ty, comp == XS_EXR_ZIP ? "zip" : comp == XS_EXR_PIZ ? "piz" : "none", (double)bytes_in * 1e-9);
    printf("  tiles written in %.1f s; frame file %.2f GB\n", t_write, (double)fsize * 1e-9);
    printf("  assembly with its PNG preview: %.1f s, peak RSS %.1f MiB (%s)\n", t_asm,
           (double)ru.ru_maxrss / 1024.0, WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "ok" : "FAILED");
    if (!keep) {
        for (int t = 0; t < tx * ty; ++t) {
            char path[XS_PATH_MAX];
            if (xs_job_tile_path(&job, 1, t, path, sizeof path, NULL) == XS_OK)
                unlink(path);
        }
        rmdir(dir);
        unlink(frame);
        unlink(png);
    }
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
