/* `xisuan info`: this node's placement plan without rendering: the GPUs
 * (from CUDA, or from an hwloc XML topology), and for a job of N ranks here
 * which rank takes which GPU, cores and NUMA node, with the warnings a render
 * would print. Runs as a plain program (no MPI), so a wrangler can check a
 * node, or a topology file, before submitting. */
#include "scheduler/cmd/xs_cmd.h"

#include "render/xs_backend.h"
#include "render/xs_flops.h"
#include "render/xs_parallel.h"
#include "render/xs_settings.h"
#include "scheduler/xs_placement.h"
#include "scheduler/xs_placement_rank.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void info_usage(FILE *f)
{
    fputs("usage: xisuan info [--ranks N] [--no-scheduler] [--backend auto|cuda|cpu|embree]\n"
          "                   [--topology FILE.xml] [--json]\n"
          "\n"
          "Prints the placement plan of a job with N ranks on this node (rank 0, the\n"
          "scheduler, included unless --no-scheduler: the node is not the job's first):\n"
          "GPUs in PCI bus order, each rank's GPU, cores, PUs and NUMA node, and warnings.\n"
          "  --ranks N       ranks on this node [$OMPI_COMM_WORLD_LOCAL_SIZE, else\n"
          "                  $SLURM_NTASKS_PER_NODE, else 1]\n"
          "  --topology F    plan for an hwloc XML topology instead of this machine (GPUs:\n"
          "                  its NVIDIA PCI devices, filtered by CUDA_VISIBLE_DEVICES)\n"
          "  --backend B     cpu or embree: plan CPU ranks even where GPUs exist [auto]\n"
          "  --json          the plan as JSON\n",
          f);
}

int xs_info_main(int argc, char **argv)
{
    int ranks = 0;
    bool sched = true, json = false;
    const char *topo_xml = NULL;
    int backend = XS_BACKEND_AUTO;
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            info_usage(stdout);
            return 0;
        } else if (strcmp(a, "--no-scheduler") == 0) {
            sched = false;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--ranks") == 0 && v) {
            char *end = NULL;
            long n = strtol(v, &end, 10);
            if (!*v || *end || n < 1 || n > 4096) {
                fprintf(stderr, "xisuan info: error: --ranks: expected an integer in [1, 4096], got '%s'\n", v);
                return 2;
            }
            ranks = (int)n;
            ++i;
        } else if (strcmp(a, "--topology") == 0 && v) {
            topo_xml = v;
            ++i;
        } else if (strcmp(a, "--backend") == 0 && v) {
            xs_err e;
            if (xs_backend_parse(a, v, &backend, &e) != XS_OK) {
                fprintf(stderr, "xisuan info: error: %s\n", e.msg);
                return 2;
            }
            ++i;
        } else {
            fprintf(stderr, "xisuan info: error: %s '%s'\n\n", v || a[0] != '-' ? "unknown flag" : "missing value after", a);
            info_usage(stderr);
            return 2;
        }
    }
    if (ranks == 0) {
        const char *e = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
        if (!e)
            e = getenv("SLURM_NTASKS_PER_NODE");
        ranks = e ? atoi(e) : 1; /* Slurm may say "4(x2)": the leading count */
        if (ranks < 1 || ranks > 4096)
            ranks = 1;
    }
    xs_err err;
    xs_err_clear(&err);
    hwloc_topology_t topo = NULL;
    if (xs_place_topology_load(topo_xml, &topo, &err) != XS_OK) {
        fprintf(stderr, "xisuan info: error: %s\n", err.msg);
        return 2;
    }
    xs_place_gpu gpus[XS_PLACE_MAX_GPUS];
    int ng = 0;
    char why[256] = "";
    xs_result r = XS_OK;
    const char *source = "";
    if (xs_backend_cpu_only(backend)) {
        source = backend == XS_BACKEND_CPU ? "--backend cpu: GPUs not used" : "--backend embree: GPUs not used";
    } else if (topo_xml) {
        r = xs_place_gpus_from_topology(topo, getenv("CUDA_VISIBLE_DEVICES"), gpus, &ng, &err);
        source = "the topology file's NVIDIA PCI devices";
    } else {
        ng = xs_visible_gpus(gpus, why, sizeof why);
        static char none[320];
        snprintf(none, sizeof none, "nowhere: CUDA sees none (%s)", why);
        source = ng ? "CUDA (CUDA_DEVICE_ORDER=PCI_BUS_ID)" : none;
        if (ng == 0) {
            xs_place_gpu pci[XS_PLACE_MAX_GPUS];
            int np = 0;
            if (xs_place_gpus_from_topology(topo, NULL, pci, &np, NULL) == XS_OK && np > 0 && !json)
                printf("note: %d NVIDIA GPU(s) on the PCI bus, but CUDA sees none (%s): ranks render on the CPU\n",
                       np, why);
        }
        if (backend == XS_BACKEND_CUDA && ng == 0) {
            fprintf(stderr, "xisuan info: error: --backend cuda: no CUDA device (%s)\n", why);
            hwloc_topology_destroy(topo);
            return 1;
        }
    }
    xs_place_plan plan;
    if (r == XS_OK)
        r = xs_place_plan_make(topo, ranks, sched && ranks > 1 ? 0 : -1, gpus, ng, NULL, &plan, &err);
    if (r != XS_OK) {
        fprintf(stderr, "xisuan info: error: %s\n", err.msg);
        hwloc_topology_destroy(topo);
        return 2;
    }
    char host[256] = "";
    if (topo_xml)
        snprintf(host, sizeof host, "%s", topo_xml);
    else if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "this node");
    if (json) {
        xs_place_plan_json(stdout, &plan, host);
    } else {
        printf("xisuan %s: CUDA back end %s; GPUs from %s\n", XS_VERSION,
               xs_cuda_compiled() ? "built in" : "not built (no nvcc at build time)", source);
        if (!topo_xml) {
            char desc[160];
            xs_cpu_peak_flops(xs_cpu_count_affinity(), desc, sizeof desc);
            printf("CPU peak model: %s\n", desc);
        }
        xs_place_plan_print(stdout, &plan, host);
    }
    xs_place_plan_free(&plan);
    hwloc_topology_destroy(topo);
    return 0;
}
