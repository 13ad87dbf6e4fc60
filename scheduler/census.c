/* The start-of-run gathers (see xs_census.h). */
#include "scheduler/xs_census.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "render/xs_flops.h"
#include "render/xs_parallel.h"
#include "scheduler/xs_placement.h"

void xs_run_result_free(xs_run_result *b)
{
    free(b->per_rank), free(b->device), free(b->peak_flops), free(b->peak_desc);
    memset(b, 0, sizeof *b);
}

void xs_census_load(MPI_Comm comm, double t_input, double t_built, const char *device)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double mine[3] = {t_input, t_built, (double)ru.ru_maxrss / 1024.0};
    double *all = rank == 0 ? malloc((size_t)size * sizeof mine) : NULL;
    char dev[160] = "";
    snprintf(dev, sizeof dev, "%s", device);
    char *devs = rank == 0 ? calloc((size_t)size, sizeof dev) : NULL;
    if (rank == 0 && (!all || !devs))
        devs = NULL; /* the gathers below still run on every rank */
    MPI_Gather(mine, 3, MPI_DOUBLE, all, 3, MPI_DOUBLE, 0, comm);
    MPI_Gather(dev, (int)sizeof dev, MPI_CHAR, devs, (int)sizeof dev, MPI_CHAR, 0, comm);
    if (rank != 0 || !all || !devs) {
        free(all), free(devs);
        return;
    }
    printf("xisuan: scene load per rank (input = read+check on rank 0, receive+open elsewhere; "
           "built = until the render scene and BVH are ready):\n");
    double mn[3] = {1e300, 1e300, 1e300}, mx[3] = {0, 0, 0}, sum[3] = {0, 0, 0};
    for (int i = 0; i < size; ++i) {
        const double *v = all + i * 3;
        if (size <= 16)
            printf("  rank %3d: input %8.3f s, built %8.3f s, peak RSS %8.1f MiB, %s\n", i, v[0], v[1],
                   v[2], i == 0 && size > 1 ? "scheduler" : devs + (size_t)i * sizeof dev);
        for (int k = 0; k < 3; ++k) {
            mn[k] = v[k] < mn[k] ? v[k] : mn[k];
            mx[k] = v[k] > mx[k] ? v[k] : mx[k];
            sum[k] += v[k];
        }
    }
    if (size > 16)
        for (int k = 0; k < 3; ++k)
            printf("  %s: min %.3f, mean %.3f, max %.3f\n", k == 0 ? "input s" : k == 1 ? "built s" : "peak RSS MiB",
                   mn[k], sum[k] / size, mx[k]);
    fflush(stdout);
    free(all), free(devs);
}

double xs_census_peak(const xs_worker *w, char *desc, size_t desc_len)
{
    double peak = 0.0;
    if (desc_len)
        desc[0] = '\0';
    if (!w || !w->backend)
        return 0.0;
    xs_gpu_info gi;
    if (w->gpu >= 0 && xs_cuda_device_info(w->gpu, &gi, NULL) == XS_OK) {
        peak = xs_gpu_peak_flops(&gi);
        snprintf(desc, desc_len, "%d SMs x %d FP32 lanes x %.3f GHz x 2", gi.sm_count, gi.fp32_lanes_per_sm,
                 gi.clock_hz * 1e-9);
    } else {
        int cores = xs_place_bound_cores();
        int online = xs_cpu_count_online();
        if (cores <= 0 || cores > w->threads) /* unbound: the threads it runs */
            cores = w->threads < online ? w->threads : online;
        peak = xs_cpu_peak_flops(cores, desc, desc_len);
    }
    return peak;
}

xs_result xs_census_devices(MPI_Comm comm, const xs_worker *w, xs_run_result *b, xs_err *err)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    char dev[160] = "", desc[160] = "";
    double peak = 0.0;
    if (w && w->backend) {
        snprintf(dev, sizeof dev, "%s", w->backend->device);
        peak = xs_census_peak(w, desc, sizeof desc);
    }
    int ok = 1;
    if (rank == 0) {
        xs_run_result_free(b);
        b->ranks = size;
        b->device = calloc((size_t)size, sizeof *b->device);
        b->peak_desc = calloc((size_t)size, sizeof *b->peak_desc);
        b->peak_flops = calloc((size_t)size, sizeof *b->peak_flops);
        b->per_rank = calloc((size_t)size, sizeof *b->per_rank);
        ok = b->device && b->peak_desc && b->peak_flops && b->per_rank;
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
    if (!ok)
        return xs_err_set(err, XS_ERR_NOMEM, "rank 0: out of memory for the run's figures");
    MPI_Gather(dev, (int)sizeof dev, MPI_CHAR, rank == 0 ? b->device : NULL, (int)sizeof dev, MPI_CHAR, 0, comm);
    MPI_Gather(desc, (int)sizeof desc, MPI_CHAR, rank == 0 ? b->peak_desc : NULL, (int)sizeof desc, MPI_CHAR,
               0, comm);
    MPI_Gather(&peak, 1, MPI_DOUBLE, rank == 0 ? b->peak_flops : NULL, 1, MPI_DOUBLE, 0, comm);
    return XS_OK;
}

void xs_census_scene_work(MPI_Comm comm, const xs_worker *w, double wall_s)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    double mine[11] = {0};
    if (w && w->scene) {
        const xs_scene_frame_stats *f = &w->frame_stats;
        mine[0] = w->scene_s, mine[1] = f->frames, mine[2] = f->pose_s, mine[3] = f->blas_s;
        mine[4] = f->tlas_s, mine[5] = f->lights_s, mine[6] = w->upload_s;
        mine[7] = (double)f->refit_tris, mine[8] = (double)f->rebuilt_tris, mine[9] = 1.0;
        mine[10] = f->refit_s;
    }
    double sum[11] = {0};
    MPI_Reduce(mine, sum, 11, MPI_DOUBLE, MPI_SUM, 0, comm);
    if (rank != 0 || sum[1] == 0.0)
        return;
    const double workers = sum[9] > 0.0 ? sum[9] : 1.0;
    printf("xisuan: per-frame scene work: %.0f frame change(s) on %.0f worker(s): %.3f s (pose %.3f, BVH %.3f, "
           "TLAS %.3f, lights %.3f, device %.3f), %.2f%% of the workers' wall time; triangles refit %.0f "
           "(refit %.1f M triangles/s), rebuilt %.0f\n",
           sum[1], workers, sum[0], sum[2], sum[3], sum[4], sum[5], sum[6],
           wall_s > 0.0 ? 100.0 * sum[0] / (workers * wall_s) : 0.0, sum[7],
           sum[10] > 0.0 ? sum[7] / sum[10] * 1e-6 : 0.0, sum[8]);
    fflush(stdout);
}
