/* `xisuan bench`: renders a standard set of scenes across every rank of the
 * job with the normal render path, then reports per rank and in total:
 * samples/s, rays/s by kind, the counted FLOP rate (render/flops.c), the
 * share of peak FP32 FLOP/s, busy over wall time, the kernel time (a GPU's
 * CUDA events; a CPU's render) beside it, so the kernel's own rays/s and the
 * host's overhead (the share of busy time the device did not render) are
 * each visible, and the scheduler's idle share. A table on the terminal;
 * JSON with --json FILE. On a cluster this is the machine's utilisation
 * report (docs/benchmarks.md). */
#include "scheduler/cmd/xs_cmd.h"

#include "io/xs_file.h"
#include "render/xs_backend.h"
#include "render/xs_flops.h"
#include "scheduler/xs_farm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct bench_scene {
    char name[64];
    char scene[XS_PATH_MAX];
    char resolution[32];
} bench_scene;

static void bench_usage(FILE *f)
{
    fputs("usage: [mpirun -n N] xisuan bench [flags]\n"
          "\n"
          "Renders each scene once across all ranks (rank 0 schedules when N > 1) and\n"
          "reports samples/s, rays/s by kind, counted FLOP/s, the share of peak FP32\n"
          "FLOP/s, busy/wall per rank, kernel time (CUDA events on a GPU) and the\n"
          "host overhead beside it, and the scheduler's idle share.\n"
          "\n"
          "  --scenes LIST     comma-separated: cornell (built in, 512x512), helmet\n"
          "                    (DamagedHelmet, 640x360, from --scene-dir), or paths to\n"
          "                    .gltf/.glb/.tar.zst (640x360) [cornell,helmet]\n"
          "  --scene-dir DIR   where helmet is looked for [../shared/scenes]\n"
          "  --spp N           samples per pixel [64]\n"
          "  --resolution WxH  every scene at this size [each scene's own]\n"
          "  --tile N          tile size [64 on the CPU; 256 where a rank has a GPU]\n"
          "  --out DIR         scratch output folder [bench-out]\n"
          "  --json FILE       also write the report as JSON\n"
          "  --backend, --threads, --gpu-slots, --writers, --bind, --max-bounces,\n"
          "  --compression, --aovs: as for render [compression zip]\n",
          f);
}

static double rays_of(const xs_counters *c) { return (double)(c->camera_rays + c->bounce_rays + c->shadow_rays); }

static void json_counters(FILE *f, const xs_counters *c, double secs)
{
    double s = secs > 0 ? secs : 1e-300;
    fprintf(f,
            "\"camera_rays_per_s\": %.1f, \"bounce_rays_per_s\": %.1f, "
            "\"shadow_rays_per_s\": %.1f, \"rays_per_s\": %.1f, \"flops_per_s\": %.1f",
            (double)c->camera_rays / s, (double)c->bounce_rays / s, (double)c->shadow_rays / s, rays_of(c) / s,
            xs_counted_flops(c) / s);
}

/* One scene's report on rank 0: the table, and its JSON object. */
static void report_scene(const bench_scene *sc, const xs_run_result *b, FILE *json, bool first)
{
    const double wall = b->wall_s > 0 ? b->wall_s : 1e-300;
    printf("\nxisuan bench: %s (%s), wall %.3f s, status %d\n", sc->name, sc->resolution, b->wall_s, b->status);
    printf("  %-4s %-40s %7s %6s %6s %7s %11s %9s %9s %9s %9s %10s %9s %9s %7s\n", "rank", "device", "tiles",
           "busy%", "kern%", "host%", "Msamples/s", "Mcam/s", "Mbounce/s", "Mshadow/s", "Mrays/s", "kMrays/s",
           "GFLOP/s", "peakGFLOP", "%peak");
    xs_counters tot;
    memset(&tot, 0, sizeof tot);
    double samples = 0.0, peak = 0.0, kernel = 0.0, busy_sum = 0.0;
    if (json)
        fprintf(json, "%s\n    {\"scene\": \"%s\", \"resolution\": \"%s\", \"wall_s\": %.6f, \"status\": %d, \"ranks\": [",
                first ? "" : ",", sc->name, sc->resolution, b->wall_s, b->status);
    bool firstr = true;
    for (int i = 0; i < b->ranks; ++i) {
        const xs_rank_stats *x = &b->per_rank[i];
        if (b->ranks > 1 && i == 0)
            continue; /* the scheduler renders nothing */
        const double busy = x->busy_s > 0 ? x->busy_s : 1e-300;
        const xs_counters *c = &x->counters;
        xs_counters_add(&tot, c);
        samples += x->samples;
        peak += b->peak_flops[i];
        kernel += x->kernel_s;
        busy_sum += x->busy_s;
        double fl = xs_counted_flops(c) / busy;
        /* host overhead: the share of the rank's busy time its device was
         * not running kernels (feeding, copying, waiting on writers) */
        double host = x->busy_s > 0 ? 1.0 - x->kernel_s / x->busy_s : 0.0;
        host = host < 0.0 ? 0.0 : host;
        const double ksec = x->kernel_s > 0 ? x->kernel_s : 1e-300;
        printf("  %-4d %-40.40s %7lld %5.1f%% %5.1f%% %6.1f%% %11.3f %9.2f %9.2f %9.2f %9.2f %10.2f %9.2f %9.1f %6.2f%%\n",
               i, b->device[i], (long long)x->tiles, 100.0 * x->busy_s / wall, 100.0 * x->kernel_s / wall,
               100.0 * host, x->samples / busy * 1e-6, (double)c->camera_rays / busy * 1e-6,
               (double)c->bounce_rays / busy * 1e-6, (double)c->shadow_rays / busy * 1e-6,
               rays_of(c) / busy * 1e-6, rays_of(c) / ksec * 1e-6, fl * 1e-9, b->peak_flops[i] * 1e-9,
               b->peak_flops[i] > 0 ? 100.0 * fl / b->peak_flops[i] : 0.0);
        if (json) {
            fprintf(json,
                    "%s\n      {\"rank\": %d, \"device\": \"%s\", \"peak_flops\": %.1f, \"peak_model\": \"%s\", "
                    "\"tiles\": %lld, \"busy_s\": %.6f, \"busy_share\": %.4f, \"kernel_s\": %.6f, "
                    "\"kernel_share\": %.4f, \"host_overhead_share\": %.4f, \"kernel_rays_per_s\": %.1f, "
                    "\"kernel_flops_per_s\": %.1f, \"kernel_peak_share\": %.6f, \"samples\": %.0f, "
                    "\"samples_per_s\": %.1f, \"counters\": {\"camera_rays\": %llu, \"bounce_rays\": %llu, "
                    "\"shadow_rays\": %llu, \"node_visits\": %llu, \"tri_tests\": %llu, \"inst_visits\": %llu, "
                    "\"shade_events\": %llu, \"nonfinite\": %llu}, \"per_busy_s\": {",
                    firstr ? "" : ",", i, b->device[i], b->peak_flops[i], b->peak_desc[i], (long long)x->tiles,
                    x->busy_s, x->busy_s / wall, x->kernel_s, x->kernel_s / wall, host,
                    x->kernel_s > 0 ? rays_of(c) / x->kernel_s : 0.0,
                    x->kernel_s > 0 ? xs_counted_flops(c) / x->kernel_s : 0.0,
                    x->kernel_s > 0 && b->peak_flops[i] > 0 ? xs_counted_flops(c) / x->kernel_s / b->peak_flops[i]
                                                            : 0.0,
                    x->samples, x->samples / busy,
                    (unsigned long long)c->camera_rays, (unsigned long long)c->bounce_rays,
                    (unsigned long long)c->shadow_rays, (unsigned long long)c->node_visits,
                    (unsigned long long)c->tri_tests, (unsigned long long)c->inst_visits,
                    (unsigned long long)c->shade_events, (unsigned long long)c->nonfinite);
            json_counters(json, c, x->busy_s);
            fprintf(json, ", \"peak_share\": %.6f}}", b->peak_flops[i] > 0 ? fl / b->peak_flops[i] : 0.0);
            firstr = false;
        }
    }
    double fl = xs_counted_flops(&tot) / wall;
    printf("  kernel time %.3f s of %.3f s busy (host overhead %.1f%%): %.2f M rays per kernel second\n", kernel,
           busy_sum, busy_sum > 0 ? 100.0 * (1.0 - kernel / busy_sum) : 0.0,
           kernel > 0 ? rays_of(&tot) / kernel * 1e-6 : 0.0);
    printf("  total over wall time: %.3f Msamples/s, rays/s %.2f M (camera %.2f M, bounce %.2f M, shadow "
           "%.2f M), %.2f GFLOP/s counted of %.1f GFLOP/s peak = %.3f%%; scheduler idle %.1f%%\n",
           samples / wall * 1e-6, rays_of(&tot) / wall * 1e-6, (double)tot.camera_rays / wall * 1e-6,
           (double)tot.bounce_rays / wall * 1e-6, (double)tot.shadow_rays / wall * 1e-6, fl * 1e-9, peak * 1e-9,
           peak > 0 ? 100.0 * fl / peak : 0.0, b->ranks > 1 ? 100.0 * (1.0 - b->sched_busy_s / wall) : 0.0);
    if (json) {
        fprintf(json, "],\n     \"total\": {\"samples_per_s\": %.1f, \"camera_rays_per_s\": %.1f, "
                      "\"bounce_rays_per_s\": %.1f, \"shadow_rays_per_s\": %.1f, \"rays_per_s\": %.1f, "
                      "\"flops_per_s\": %.1f, \"peak_flops\": %.1f, \"peak_share\": %.6f, "
                      "\"kernel_s\": %.6f, \"busy_s\": %.6f, \"host_overhead_share\": %.4f, "
                      "\"kernel_rays_per_s\": %.1f, \"scheduler_idle_share\": %.4f}}",
                samples / wall, (double)tot.camera_rays / wall, (double)tot.bounce_rays / wall,
                (double)tot.shadow_rays / wall, rays_of(&tot) / wall, fl, peak, peak > 0 ? fl / peak : 0.0, kernel,
                busy_sum, busy_sum > 0 ? 1.0 - kernel / busy_sum : 0.0, kernel > 0 ? rays_of(&tot) / kernel : 0.0,
                b->ranks > 1 ? 1.0 - b->sched_busy_s / wall : 0.0);
    }
    fflush(stdout);
}

int xs_bench_main(MPI_Comm comm, int argc, char **argv)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    const char *scenes = "cornell,helmet", *scene_dir = "../shared/scenes", *out = "bench-out";
    const char *json_path = NULL, *spp = "64", *tile = NULL, *resolution = NULL;
    const char *pass[24];
    bool compression_given = false;
    int npass = 0;
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            if (rank == 0)
                bench_usage(stdout);
            return 0;
        }
        bool known = true;
        if (!v)
            known = false;
        else if (strcmp(a, "--scenes") == 0)
            scenes = v;
        else if (strcmp(a, "--scene-dir") == 0)
            scene_dir = v;
        else if (strcmp(a, "--spp") == 0)
            spp = v;
        else if (strcmp(a, "--tile") == 0)
            tile = v;
        else if (strcmp(a, "--resolution") == 0)
            resolution = v;
        else if (strcmp(a, "--out") == 0)
            out = v;
        else if (strcmp(a, "--json") == 0)
            json_path = v;
        else if ((strcmp(a, "--backend") == 0 || strcmp(a, "--threads") == 0 || strcmp(a, "--gpu-slots") == 0 ||
                  strcmp(a, "--bind") == 0 || strcmp(a, "--max-bounces") == 0 || strcmp(a, "--writers") == 0 ||
                  strcmp(a, "--compression") == 0 || strcmp(a, "--aovs") == 0) &&
                 npass < 22) {
            pass[npass++] = a;
            pass[npass++] = v;
        } else
            known = false;
        if (!known) {
            if (rank == 0) {
                fprintf(stderr, "xisuan bench: error: %s '%s'\n\n", v ? "unknown flag" : "missing value after", a);
                bench_usage(stderr);
            }
            return 2;
        }
        ++i;
    }
    bench_scene list[16];
    int n = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", scenes);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < 16; t = strtok_r(NULL, ",", &save)) {
        bench_scene *sc = &list[n];
        memset(sc, 0, sizeof *sc);
        if (strcmp(t, "cornell") == 0) {
            snprintf(sc->name, sizeof sc->name, "cornell");
            snprintf(sc->scene, sizeof sc->scene, "cornell");
            snprintf(sc->resolution, sizeof sc->resolution, "512x512");
        } else {
            bool helmet = strcmp(t, "helmet") == 0;
            snprintf(sc->name, sizeof sc->name, "%s", helmet ? "helmet" : t);
            int k = helmet ? snprintf(sc->scene, sizeof sc->scene, "%s/DamagedHelmet/DamagedHelmet.glb", scene_dir)
                           : snprintf(sc->scene, sizeof sc->scene, "%s", t);
            if (k < 0 || (size_t)k >= sizeof sc->scene || access(sc->scene, R_OK) != 0) {
                if (rank == 0)
                    fprintf(stderr, "xisuan bench: error: --scenes: %s: cannot read %s\n", t, sc->scene);
                return 2;
            }
            snprintf(sc->resolution, sizeof sc->resolution, "640x360");
        }
        if (resolution)
            snprintf(sc->resolution, sizeof sc->resolution, "%s", resolution);
        ++n;
    }
    FILE *json = NULL;
    if (rank == 0 && json_path && !(json = fopen(json_path, "w"))) {
        fprintf(stderr, "xisuan bench: error: --json %s: cannot write it\n", json_path);
        /* every rank must learn it: fall through to the agreement below */
    }
    int bad = rank == 0 && json_path && !json;
    MPI_Bcast(&bad, 1, MPI_INT, 0, comm);
    if (bad)
        return 2;
    if (json)
        fprintf(json, "{\"xisuan\": \"%s\", \"spp\": %s, \"scenes\": [", XS_VERSION, spp);
    /* the tile: given, or the farm's default (256 where a rank has a GPU) */
    for (int k = 0; k + 1 < npass; k += 2)
        compression_given |= strcmp(pass[k], "--compression") == 0;
    int status = 0;
    xs_run_result run;
    memset(&run, 0, sizeof run);
    for (int i = 0; i < n && status == 0; ++i) {
        const bench_scene *sc = &list[i];
        char job[96];
        snprintf(job, sizeof job, "bench-%s", sc->name);
        const char *av[48];
        int ac = 0;
        const char *fixed[] = {"--scene", sc->scene, "--resolution", sc->resolution, "--spp", spp, "--out", out,
                               "--job", job, "--name", sc->name, "--force", "--progress", "off", "--no-preview",
                               "--frames", "1"};
        for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; ++k)
            av[ac++] = fixed[k];
        if (tile) {
            av[ac++] = "--tile";
            av[ac++] = tile;
        }
        for (int k = 0; k < npass; ++k)
            av[ac++] = pass[k];
        if (!compression_given) { /* the default: zip */
            av[ac++] = "--compression";
            av[ac++] = "zip";
        }
        av[ac] = NULL;
        if (rank == 0)
            printf("xisuan bench: %s: rendering %s at %s, %s spp\n", sc->name, sc->scene, sc->resolution, spp);
        fflush(stdout);
        status = xs_farm_render(comm, ac, (char **)av, &run);
        if (rank == 0 && run.per_rank)
            report_scene(sc, &run, json, i == 0);
    }
    if (json) {
        fprintf(json, "\n  ]}\n");
        fclose(json);
        if (rank == 0 && status == 0)
            printf("xisuan bench: JSON report in %s\n", json_path);
    }
    xs_run_result_free(&run);
    return status;
}
