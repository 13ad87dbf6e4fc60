/* The farm: `xisuan render` across MPI ranks.
 *
 * Rank 0 runs the scheduling policy through the driver (scheduler/driver.c)
 * and never touches pixels; ranks 1..N-1 are workers that pull (frame, tile)
 * items, render them, write EXR tiles, and assemble frames. A single process
 * (MPI singleton) runs the same driver with rank 0 as its own worker.
 */
#ifndef XS_FARM_H
#define XS_FARM_H

#include <mpi.h>

#include "scheduler/xs_census.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs `xisuan render` with argv holding the flags after "render", on every
 * rank of comm (which must use MPI_ERRORS_RETURN). Returns the process exit
 * status, the same on every rank: 0 done, 1 job failed, 2 bad input, 75
 * drained. When result is given (on every rank, as `xisuan bench` does),
 * rank 0 fills it with the run's per-rank figures. */
int xs_farm_render(MPI_Comm comm, int argc, char **argv, xs_run_result *result);

#ifdef __cplusplus
}
#endif
#endif
