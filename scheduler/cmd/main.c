/* The xisuan executable: picks the subcommand (one file each in scheduler/cmd/) and sets
 * up MPI for the three that use it, render, bench and join. It sits at the top of the
 * dependency chain (kernels <- render <- scheduler <- scheduler/cmd). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "scheduler/cmd/xs_cmd.h"
#include "scheduler/xs_farm.h"

static void usage(FILE *f)
{
    fputs("usage: xisuan <command> [flags]\n"
          "\n"
          "commands:\n"
          "  render     render frames of a scene across MPI ranks (xisuan render --help)\n"
          "  pack       build and check a scene package from a folder (xisuan pack --help)\n"
          "  bench      render the standard scenes on every rank and report samples/s,\n"
          "             rays/s, counted FLOP/s and the share of peak (xisuan bench --help)\n"
          "  info       this node's placement plan: GPUs, cores, NUMA (xisuan info --help)\n"
          "  submit     write an sbatch script for a job and submit it (xisuan submit --help)\n"
          "  status     where a running or finished job stands (xisuan status OUT/JOB)\n"
          "  simulate   the scheduler against a simulated farm of thousands of workers\n"
          "             (xisuan simulate --help)\n"
          "  serve      the submission service for studios, and its admin (xisuan serve --help)\n"
          "  remote     a studio's client of the service: submit, status, fetch, cancel\n"
          "             (xisuan remote --help)\n"
          "  join       serve a job of the service as one of its clusters, under MPI\n"
          "             (xisuan join --help)\n"
          "  version    print the version\n"
          "  help       this text\n"
          "\n"
          "Run under MPI as: mpirun -n N xisuan render ...; alone, one process renders.\n"
          "Only render, bench and join use MPI; the other commands run as plain programs.\n",
          f);
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    /* CUDA numbers GPUs in PCI bus order, as nvidia-smi, hwloc and Slurm's
     * CUDA_VISIBLE_DEVICES do; set before any CUDA call */
    setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID", 1);
    /* Only `render` runs under MPI. The others must not even initialise it:
     * MPI_Init leaves Open MPI's variables in the environment, and an sbatch
     * run from `submit` would carry them into the job, where mpirun then takes
     * itself for a child of another launcher and quits. */
    if (strcmp(cmd, "submit") == 0)
        return xs_submit_main(argc - 2, argv + 2, argv[0]);
    if (strcmp(cmd, "status") == 0)
        return xs_status_main(argc - 2, argv + 2);
    if (strcmp(cmd, "serve") == 0)
        return xs_serve_main(argc - 2, argv + 2);
    if (strcmp(cmd, "remote") == 0)
        return xs_remote_main(argc - 2, argv + 2);
    if (strcmp(cmd, "pack") == 0)
        return xs_pack_main(argc - 2, argv + 2);
    if (strcmp(cmd, "simulate") == 0)
        return xs_simulate_main(argc - 2, argv + 2);
    if (strcmp(cmd, "info") == 0)
        return xs_info_main(argc - 2, argv + 2);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("xisuan %s\n", XS_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "render") != 0 && strcmp(cmd, "bench") != 0 && strcmp(cmd, "join") != 0) {
        if (cmd[0])
            fprintf(stderr, "xisuan: error: unknown command '%s'\n\n", cmd);
        usage(stderr);
        return 2;
    }
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, "xisuan: error: MPI_Init failed\n");
        return 1;
    }
    MPI_Comm comm;
    MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int status = strcmp(cmd, "bench") == 0  ? xs_bench_main(comm, argc - 2, argv + 2)
                 : strcmp(cmd, "join") == 0 ? xs_join_main(comm, argc - 2, argv + 2)
                                            : xs_farm_render(comm, argc - 2, argv + 2, NULL);
    MPI_Comm_free(&comm);
    MPI_Finalize();
    return status;
}
