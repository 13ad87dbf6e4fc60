/* The CPU entry points of the shared kernels (kernels/cpu/kernel_cpu.c). */
#ifndef XS_KERNEL_CPU_H
#define XS_KERNEL_CPU_H

#include "kernels/xs_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Renders tile rows [row_begin, row_end) of tp into rgba (the whole tile's
 * buffer) and adds what it did to c. Thread-safe for disjoint rows. */
void xs_kernel_cpu_render_rows(const xs_scene_view *s, const xs_tile_params *tp, int row_begin,
                               int row_end, float *rgba, xs_counters *c);

#ifdef __cplusplus
}
#endif
#endif
