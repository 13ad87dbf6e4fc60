/* What every rank tells rank 0 as a run starts, and what a run leaves for
 * `xisuan bench`: each rank's scene-load times and peak memory (printed),
 * its device and peak FP32 rate, and after the run the per-rank statistics.
 * The gathers are collectives: every rank calls them.
 */
#ifndef XS_CENSUS_H
#define XS_CENSUS_H

#include <mpi.h>

#include "io/xs_result.h"
#include "scheduler/xs_report.h"
#include "scheduler/xs_worker.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A run as `xisuan bench` reads it (filled on rank 0). */
/* The peak FP32 FLOP/s of a worker's device (its GPU, or the cores it
 * renders on), with how it was computed in desc; 0 without a back end. */
double xs_census_peak(const xs_worker *w, char *desc, size_t desc_len);

typedef struct xs_run_result {
    int ranks;
    xs_rank_stats *per_rank; /* malloc'd (index = rank) */
    char (*device)[160];     /* each rank's back end */
    double *peak_flops;      /* each rank's peak FP32 FLOP/s (0: the scheduler) */
    char (*peak_desc)[160];
    double wall_s, sched_busy_s;
    int status;
} xs_run_result;
void xs_run_result_free(xs_run_result *r); /* accepts a zeroed result */

/* Prints on rank 0 each rank's scene load: time to read (rank 0) or receive
 * and open the package, time until its render scene was built, and peak
 * resident memory so far; every rank up to 16 ranks, then min/mean/max. */
void xs_census_load(MPI_Comm comm, double t_input, double t_built, const char *device);

/* Gathers each rank's back end and peak FP32 FLOP/s into out on rank 0
 * (w may be NULL on the scheduler), with room for the per-rank statistics. */
xs_result xs_census_devices(MPI_Comm comm, const xs_worker *w, xs_run_result *out, xs_err *err);

/* After a run of an animated scene: rank 0 prints the per-frame scene work
 * of all workers together (frame changes; posing, BVH, TLAS, lights, device
 * upload seconds; triangles refit and rebuilt and the refit rate) and its
 * share of the workers' wall time (wall_s: the run's, on rank 0). Nothing
 * when no worker changed frames. w is NULL on the scheduler. Collective. */
void xs_census_scene_work(MPI_Comm comm, const xs_worker *w, double wall_s);

#ifdef __cplusplus
}
#endif
#endif
