/* Placement: which GPU, cores and memory each rank of a node uses.
 *
 * The plan is a pure function of the node's hwloc topology (this machine's,
 * or an XML file for tests and offline checks), the node's rank count, which
 * local rank is the scheduler, and the GPUs (PCI bus ids, in PCI bus order).
 * Worker ranks take GPUs round-robin, unless each rank's own visible GPUs say
 * otherwise (Slurm's per-task CUDA_VISIBLE_DEVICES). A GPU's locality is its
 * hwloc PCI device's first non-I/O ancestor (a package, or a NUMA node's
 * group); the cores there are shared out, whole cores in logical order,
 * among the ranks whose GPUs sit there; memory is bound to the NUMA nodes of
 * those cores. CPU ranks split the allowed cores. Warnings name ranks that
 * share a GPU or cores, and ranks whose allowed cores are far from their GPU.
 * docs/running.md shows the plans of the test topologies.
 */
#ifndef XS_PLACEMENT_H
#define XS_PLACEMENT_H

#include <stdbool.h>
#include <stdio.h>

#include <hwloc.h>

#include "io/xs_result.h"

enum { XS_PLACE_MAX_GPUS = 64, XS_PLACE_MAX_WARN = 32 };
enum { XS_ROLE_SCHEDULER = 0, XS_ROLE_GPU = 1, XS_ROLE_CPU = 2 };

typedef struct xs_place_gpu {
    char bus[20];  /* "0000:3b:00.0" */
    char near[48]; /* "Package 1", or "Machine" without locality */
    char numa[48]; /* OS indexes of the NUMA nodes there, "0" or "2-3" */
    char name[64]; /* the CUDA name when known */
    int ordinal;   /* the CUDA device number in this process; -1: from a topology */
} xs_place_gpu;

typedef struct xs_place_entry {
    int local_rank;
    int role;           /* XS_ROLE_* */
    int gpu;            /* index in plan->gpus, -1: none */
    int core_count;
    char cores[160];    /* logical core indexes, "0-7" */
    char pus[160];      /* OS PU indexes (what taskset shows) */
    char numa[48];      /* OS NUMA node indexes memory is bound to */
    bool far;           /* its cores are not near its GPU */
    hwloc_bitmap_t cpuset, nodeset; /* NULL for the scheduler: not bound */
} xs_place_entry;

typedef struct xs_place_plan {
    int count;
    xs_place_entry *e;
    int gpu_count;
    xs_place_gpu gpus[XS_PLACE_MAX_GPUS];
    int packages, numa_nodes, cores, pus;
    int warn_count;
    char warn[XS_PLACE_MAX_WARN][240];
} xs_place_plan;

/* Loads this machine's topology (xml NULL) or an XML file, with PCI devices. */
xs_result xs_place_topology_load(const char *xml, hwloc_topology_t *out, xs_err *err);

/* NVIDIA GPUs (PCI vendor 0x10de, class display/3D) of a topology, in PCI bus
 * order; visible (CUDA_VISIBLE_DEVICES, may be NULL) keeps the listed
 * indexes, in that order, as CUDA does. */
xs_result xs_place_gpus_from_topology(hwloc_topology_t topo, const char *visible, xs_place_gpu *gpus,
                                      int *count, xs_err *err);

/* Sorts GPUs into PCI bus order. */
void xs_place_gpus_sort(xs_place_gpu *gpus, int count);

/* The node's plan. scheduler: the local rank that only schedules (-1: none).
 * gpus: the node's GPUs (gpu_count 0: CPU ranks). fixed_gpu: per local rank,
 * the index in gpus it must use, or NULL for round-robin over the workers in
 * local-rank order. */
xs_result xs_place_plan_make(hwloc_topology_t topo, int local_size, int scheduler,
                             const xs_place_gpu *gpus, int gpu_count, const int *fixed_gpu,
                             xs_place_plan *plan, xs_err *err);
void xs_place_plan_free(xs_place_plan *plan);
/* A human table (and the warnings). */
void xs_place_plan_print(FILE *f, const xs_place_plan *plan, const char *node);
/* The plan as one JSON object. */
void xs_place_plan_json(FILE *f, const xs_place_plan *plan, const char *node);
/* Binds this process's threads and memory to the entry's cores and NUMA
 * nodes. A failure to bind memory on a single-NUMA machine is not an error. */
xs_result xs_place_bind(hwloc_topology_t topo, const xs_place_entry *e, xs_err *err);

/* Cores this process is bound to (any of their PUs), 0 when unknown. */
int xs_place_bound_cores(void);

#endif
