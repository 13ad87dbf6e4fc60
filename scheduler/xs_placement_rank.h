/* This rank's placement, agreed over MPI: which GPU it renders on, which
 * cores and memory it is bound to, how many threads it runs. The node's plan
 * is made by scheduler/placement.c (pure hwloc, tested on XML topologies);
 * here the ranks of a node share what each sees and apply the plan.
 */
#ifndef XS_PLACEMENT_RANK_H
#define XS_PLACEMENT_RANK_H

#include <stddef.h>

#include <mpi.h>

#include "io/xs_result.h"
#include "scheduler/xs_options.h"
#include "scheduler/xs_placement.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The CUDA devices this process sees, in PCI bus order, with their ordinals
 * and names (0, and why in why, where there are none). */
int xs_visible_gpus(xs_place_gpu *gpus, char *why, size_t why_len);

/* Plans the node, binds this rank to its share when --bind auto, and says
 * which GPU it renders on (-1: the CPU) with how many threads. Collective
 * over comm. */
xs_result xs_place_rank(MPI_Comm comm, const xs_options *o, int *threads, int *gpu, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
