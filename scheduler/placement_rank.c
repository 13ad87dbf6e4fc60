/* This rank's place on its node (see xs_placement_rank.h): the GPUs it sees,
 * the node's plan agreed over MPI, binding, and its thread count. */
#include "scheduler/xs_placement_rank.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/xs_backend.h"
#include "render/xs_flops.h"
#include "render/xs_parallel.h"

/* The old rule without a plan: the affinity mask the launcher gave, else the
 * node's cores shared among its workers. */
static int threads_unbound(int local_workers)
{
    int aff = xs_cpu_count_affinity(), online = xs_cpu_count_online();
    if (aff < online)
        return aff;
    int t = online / (local_workers > 0 ? local_workers : 1);
    return t < 1 ? 1 : t;
}

int xs_visible_gpus(xs_place_gpu *g, char *why, size_t why_len)
{
    int n = xs_cuda_device_count(why, why_len);
    int k = 0;
    for (int i = 0; i < n && k < XS_PLACE_MAX_GPUS; ++i) {
        xs_gpu_info gi;
        if (xs_cuda_device_info(i, &gi, NULL) != XS_OK)
            continue;
        memset(&g[k], 0, sizeof g[k]);
        snprintf(g[k].bus, sizeof g[k].bus, "%s", gi.pci_bus_id);
        snprintf(g[k].name, sizeof g[k].name, "%s, %d SMs, %.0f GFLOP/s FP32 peak", gi.name, gi.sm_count,
                 xs_gpu_peak_flops(&gi) * 1e-9);
        g[k++].ordinal = i;
    }
    xs_place_gpus_sort(g, k);
    return k;
}

/* Plans the node (scheduler/xs_placement.h), binds this rank to its share
 * when --bind auto, and says which GPU it renders on (-1: the CPU) with how
 * many threads. Collective over comm. */
xs_result xs_place_rank(MPI_Comm comm, const xs_options *o, int *threads, int *gpu, xs_err *err)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    MPI_Comm local;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local) != MPI_SUCCESS)
        return xs_err_set(err, XS_ERR_MPI, "placement: MPI_Comm_split_type failed");
    int lrank = 0, lsize = 1;
    MPI_Comm_rank(local, &lrank);
    MPI_Comm_size(local, &lsize);
    int sched_mine = rank == 0 && size > 1 ? lrank : -1, sched = -1;
    MPI_Allreduce(&sched_mine, &sched, 1, MPI_INT, MPI_MAX, local);
    const bool worker = rank != 0 || size == 1;
    /* each rank's own GPUs (Slurm may give each task different ones) */
    xs_place_gpu mine[XS_PLACE_MAX_GPUS];
    char why[256] = "";
    int nmine = worker && !xs_backend_cpu_only(o->render.backend) ? xs_visible_gpus(mine, why, sizeof why) : 0;
    xs_result r = XS_OK;
    if (worker && o->render.backend == XS_BACKEND_CUDA && nmine == 0)
        r = xs_err_set(err, XS_ERR_INVALID, "--backend cuda: rank %d sees no CUDA device (%s)", rank, why);
    /* --backend auto on a node whose GPUs CUDA cannot use renders on the
     * CPU, and says so loudly, once per node (its first worker) */
    char host[MPI_MAX_PROCESSOR_NAME] = "";
    int hl = 0;
    MPI_Get_processor_name(host, &hl);
    if (worker && o->render.backend == XS_BACKEND_AUTO && nmine == 0) {
        xs_gpu_probe probe;
        xs_gpu_probe_system(&probe);
        int first_worker = sched == 0 ? 1 : 0; /* the node's first worker (the scheduler takes local rank 0) */
        if (probe.state == XS_GPU_BROKEN && lrank == first_worker) {
            fprintf(stderr,
                    "xisuan: WARNING: node %s: the GPUs are unusable, so --backend auto renders on the CPU "
                    "here: %s. Fix the driver (or the build), or pass --backend cpu to render on the CPU on "
                    "purpose.\n",
                    host, probe.why);
            fflush(stderr);
        }
    }
    char (*buses)[20] = calloc((size_t)lsize * XS_PLACE_MAX_GPUS, 20);
    int *counts = calloc((size_t)lsize, sizeof *counts);
    int *fixed = calloc((size_t)lsize, sizeof *fixed);
    char mybus[XS_PLACE_MAX_GPUS][20];
    memset(mybus, 0, sizeof mybus);
    for (int i = 0; i < nmine; ++i)
        memcpy(mybus[i], mine[i].bus, 20);
    if (!buses || !counts || !fixed) {
        free(buses), free(counts), free(fixed);
        MPI_Comm_free(&local);
        return xs_err_set(err, XS_ERR_NOMEM, "placement: out of memory");
    }
    MPI_Allgather(&nmine, 1, MPI_INT, counts, 1, MPI_INT, local);
    MPI_Allgather(mybus, XS_PLACE_MAX_GPUS * 20, MPI_CHAR, buses, XS_PLACE_MAX_GPUS * 20, MPI_CHAR, local);
    /* the node's GPUs: the union, in bus order; each worker takes, from the
     * GPUs it sees, the one round-robin gives its place among the workers */
    xs_place_gpu node[XS_PLACE_MAX_GPUS];
    int nnode = 0;
    for (int q = 0; q < lsize; ++q)
        for (int i = 0; i < counts[q]; ++i) {
            const char *b = buses[q * XS_PLACE_MAX_GPUS + i];
            int k = 0;
            while (k < nnode && strcmp(node[k].bus, b) != 0)
                ++k;
            if (k == nnode && nnode < XS_PLACE_MAX_GPUS) {
                memset(&node[nnode], 0, sizeof node[nnode]);
                snprintf(node[nnode++].bus, sizeof node[0].bus, "%s", b);
            }
        }
    xs_place_gpus_sort(node, nnode);
    for (int i = 0; i < nnode; ++i)
        for (int k = 0; k < nmine; ++k)
            if (strcmp(node[i].bus, mine[k].bus) == 0)
                snprintf(node[i].name, sizeof node[i].name, "%s", mine[k].name);
    int widx = 0, my_pick = -1;
    for (int q = 0; q < lsize; ++q) {
        fixed[q] = -1;
        if (q == sched)
            continue;
        if (counts[q] > 0) {
            const char *b = buses[q * XS_PLACE_MAX_GPUS + widx % counts[q]];
            for (int k = 0; k < nnode; ++k)
                if (strcmp(node[k].bus, b) == 0)
                    fixed[q] = k;
            if (q == lrank)
                my_pick = widx % counts[q];
        }
        ++widx;
    }
    hwloc_topology_t topo = NULL;
    xs_place_plan plan;
    memset(&plan, 0, sizeof plan);
    xs_err perr;
    xs_err_clear(&perr);
    bool planned = xs_place_topology_load(NULL, &topo, &perr) == XS_OK &&
                   xs_place_plan_make(topo, lsize, sched, node, nnode, fixed, &plan, &perr) == XS_OK;
    if (!planned && lrank == 0)
        fprintf(stderr, "xisuan: warning: node %s: no placement plan (%s); ranks stay where the launcher "
                        "put them\n", host, perr.msg);
    if (planned && lrank == 0 && (nnode > 0 || plan.warn_count > 0 || size > 1)) {
        printf("xisuan: placement (%s):\n", o->bind ? "bound with hwloc" : "--bind none: not bound");
        xs_place_plan_print(stdout, &plan, host);
        fflush(stdout);
    }
    *gpu = my_pick >= 0 ? mine[my_pick].ordinal : -1;
    int local_workers = lsize - (sched >= 0 ? 1 : 0);
    *threads = o->render.threads;
    if (planned && worker && o->bind) {
        xs_err berr;
        xs_err_clear(&berr);
        if (xs_place_bind(topo, &plan.e[lrank], &berr) != XS_OK)
            fprintf(stderr, "xisuan: warning: rank %d: %s; left where the launcher put it\n", rank, berr.msg);
    }
    if (*threads <= 0)
        *threads = threads_unbound(size == 1 ? 1 : local_workers);
    if (planned)
        xs_place_plan_free(&plan);
    if (topo)
        hwloc_topology_destroy(topo);
    free(buses), free(counts), free(fixed);
    MPI_Comm_free(&local);
    return r;
}
