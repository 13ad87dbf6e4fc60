/* The xisuan executable: MPI set-up and the subcommands. The command line
 * lives here, at the top of the dependency chain (kernels <- render <-
 * scheduler), because `render` needs the whole farm. */
#include <stdio.h>
#include <string.h>

#include <mpi.h>

#include "scheduler/xs_farm.h"

static void usage(FILE *f)
{
    fputs("usage: xisuan <command> [flags]\n"
          "\n"
          "commands:\n"
          "  render     render frames of a scene across MPI ranks (xisuan render --help)\n"
          "  version    print the version\n"
          "  help       this text\n"
          "\n"
          "Run under MPI as: mpirun -n N xisuan render ...; alone, one process renders.\n",
          f);
}

int main(int argc, char **argv)
{
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, "xisuan: error: MPI_Init failed\n");
        return 1;
    }
    MPI_Comm comm;
    MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    int status = 0;
    const char *cmd = argc > 1 ? argv[1] : "";
    if (strcmp(cmd, "render") == 0) {
        status = xs_farm_render_main(comm, argc - 2, argv + 2);
    } else if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (rank == 0)
            printf("xisuan %s\n", XS_VERSION);
    } else if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (rank == 0)
            usage(stdout);
    } else {
        if (rank == 0) {
            if (cmd[0])
                fprintf(stderr, "xisuan: error: unknown command '%s'\n\n", cmd);
            usage(stderr);
        }
        status = 2;
    }
    MPI_Comm_free(&comm);
    MPI_Finalize();
    return status;
}
