/* The farm: `xisuan render` across MPI ranks.
 *
 * Rank 0 runs the scheduling policy (xs_sched.h) and never touches pixels;
 * ranks 1..N-1 are workers that pull (frame, tile) items, render them with a
 * back end, write EXR tiles, and assemble frames. A single process (MPI
 * singleton) runs the same policy with rank 0 as its own worker.
 */
#ifndef XS_FARM_H
#define XS_FARM_H

#include <mpi.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Runs `xisuan render` with argv holding the flags after "render", on every
 * rank of comm (which must use MPI_ERRORS_RETURN). Returns the process exit
 * status, the same on every rank: 0 done, 1 job failed, 2 bad input. */
int xs_farm_render_main(MPI_Comm comm, int argc, char **argv);
/* `xisuan status OUT/JOB` (argv after "status"); no MPI needed. */
int xs_status_main(int argc, char **argv);
int xs_bench_main(MPI_Comm comm, int argc, char **argv);
int xs_info_main(int argc, char **argv);
/* `xisuan submit` (argv after "submit"); self is argv[0], the xisuan to run. */
int xs_submit_main(int argc, char **argv, const char *self);

#ifdef __cplusplus
}
#endif
#endif
