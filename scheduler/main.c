/* The xisuan executable: MPI set-up and the subcommands. The command line
 * lives here, at the top of the dependency chain (kernels <- render <-
 * scheduler), because `render` needs the whole farm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "io/xs_scene_input.h"
#include "scheduler/xs_farm.h"

/* xisuan pack DIR -o OUT.tar.zst: builds the package in memory, validates it
 * as a render would (manifest, glTF, images, environment), and only then
 * writes it, atomically. */
static int pack_main(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL;
    int level = 9;
    for (int i = 0; i < argc; ++i) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--level") == 0 && i + 1 < argc) {
            char *end = NULL;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 19) {
                fprintf(stderr, "xisuan pack: error: --level: must be in [1, 19], got '%s'\n", argv[i]);
                return 2;
            }
            level = (int)v;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: xisuan pack DIR -o SCENE.tar.zst [--level N]\n\n"
                   "Packs every regular file under DIR (which must hold manifest.json, see\n"
                   "docs/package.md) into a zstd-compressed tar (level N, default 9), checks that\n"
                   "it renders (manifest, glTF, images, environment) and writes it atomically.\n");
            return 0;
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "xisuan pack: error: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (!dir || !out) {
        fprintf(stderr, "xisuan pack: error: usage: xisuan pack DIR -o SCENE.tar.zst\n");
        return 2;
    }
    size_t n = strlen(out);
    if (n < 8 || strcmp(out + n - 8, ".tar.zst") != 0) {
        fprintf(stderr, "xisuan pack: error: -o: the package name must end in .tar.zst, got '%s'\n", out);
        return 2;
    }
    xs_err err;
    xs_err_clear(&err);
    unsigned char *bytes = NULL;
    size_t len = 0;
    xs_pkg_limits lim;
    xs_pkg_limits_default(&lim);
    xs_scene_input *in = NULL;
    xs_result r = xs_pkg_build_dir(dir, level, &bytes, &len, &err);
    if (r == XS_OK)
        r = xs_scene_input_open(out, bytes, len, &lim, NULL, &in, &err);
    if (r == XS_OK) {
        printf("xisuan pack: %s: %zu entries, %llu bytes -> %zu bytes; scene %s: %d mesh(es), "
               "%d instance(s), %llu triangles placed, %d camera(s), %d light(s)\n",
               out, in->pkg->count, (unsigned long long)in->pkg->total_bytes, len,
               in->manifest.scene, in->gltf->mesh_count, in->gltf->instance_count,
               (unsigned long long)in->gltf->tri_count_instanced, in->gltf->camera_count,
               in->gltf->light_count);
        r = xs_file_write_atomic(out, bytes, len, &err);
    }
    xs_scene_input_destroy(in);
    free(bytes);
    if (r != XS_OK) {
        fprintf(stderr, "xisuan pack: error: %s\n", err.msg);
        return r == XS_ERR_INVALID ? 2 : 1;
    }
    return 0;
}

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
          "  version    print the version\n"
          "  help       this text\n"
          "\n"
          "Run under MPI as: mpirun -n N xisuan render ...; alone, one process renders.\n"
          "Only render and bench use MPI; the other commands run as plain programs.\n",
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
    if (strcmp(cmd, "pack") == 0)
        return pack_main(argc - 2, argv + 2);
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
    if (strcmp(cmd, "render") != 0 && strcmp(cmd, "bench") != 0) {
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
    int status = strcmp(cmd, "bench") == 0 ? xs_bench_main(comm, argc - 2, argv + 2)
                                           : xs_farm_render_main(comm, argc - 2, argv + 2);
    MPI_Comm_free(&comm);
    MPI_Finalize();
    return status;
}
