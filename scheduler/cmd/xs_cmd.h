/* The `xisuan` subcommands, each in its own file of scheduler/cmd/ and each
 * including only the public headers it needs; scheduler/cmd/main.c picks one.
 * Every *_main takes the arguments after the command's name and returns the
 * process exit status (0 done, 1 failed, 2 bad input). */
#ifndef XS_CMD_H
#define XS_CMD_H

#include <mpi.h>

/* `xisuan pack DIR -o SCENE.tar.zst`: build, check and write a package. */
int xs_pack_main(int argc, char **argv);
/* `xisuan status OUT/JOB`: where a job stands; no MPI. */
int xs_status_main(int argc, char **argv);
/* `xisuan info`: this node's placement plan; no MPI. */
int xs_info_main(int argc, char **argv);
/* `xisuan submit`: write and submit an sbatch script; self is the xisuan
 * to run (argv[0]). */
int xs_submit_main(int argc, char **argv, const char *self);
/* `xisuan simulate`: the scheduler against a simulated farm; no MPI. */
int xs_simulate_main(int argc, char **argv);
/* `xisuan serve`: the submission service and its admin commands; no MPI. */
int xs_serve_main(int argc, char **argv);
/* `xisuan remote submit|status|fetch|cancel`: a studio's client of the
 * service; no MPI. */
int xs_remote_main(int argc, char **argv);
/* `xisuan join`: this MPI world serves a job as one of its clusters, leasing
 * frames from the service (rank 0 talks to it). */
int xs_join_main(MPI_Comm comm, int argc, char **argv);
/* `xisuan bench`: the standard scenes on every rank of comm. */
int xs_bench_main(MPI_Comm comm, int argc, char **argv);

#endif
