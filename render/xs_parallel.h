/* Threads on the host: a fork-join loop over index ranges, and how many cores
 * this process may use. The BVH builders and the scene's BLAS batches run on
 * xs_parallel_for; the CPU back end keeps its own long-lived threads.
 */
#ifndef XS_PARALLEL_H
#define XS_PARALLEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Runs fn(ctx, begin, end, part) over [0, n) cut into `parts` contiguous
 * chunks (1 to 64), each on its own thread, the caller's included; a chunk
 * whose thread cannot start runs on the caller's. Returns when all are done. */
typedef void (*xs_par_fn)(void *ctx, uint32_t begin, uint32_t end, int part);
void xs_parallel_for(int parts, uint32_t n, xs_par_fn fn, void *ctx);

/* Cores this process may run on (its affinity mask), at least 1. */
int xs_cpu_count_affinity(void);
/* Cores online on this machine, at least 1. */
int xs_cpu_count_online(void);

#ifdef __cplusplus
}
#endif
#endif
