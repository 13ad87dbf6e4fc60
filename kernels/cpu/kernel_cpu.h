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

/* Renders sample chunks [chunk_first, chunk_first + chunk_count) of tile
 * rows [row_begin, row_end) into buf (the part's buffer: per pixel,
 * chunk_count packed records of xs_part_floats(tp->aovs) floats; xs_path.h)
 * and adds what it did to c. Thread-safe for disjoint rows. */
void xs_kernel_cpu_render_part_rows(const xs_scene_view *s, const xs_tile_params *tp, int chunk_first,
                                    int chunk_count, int row_begin, int row_end, float *buf, xs_counters *c);

/* Merges the parts of a split tile (parts[j]: part j's buffer, chunk_counts[j]
 * chunks a pixel, in chunk order) into its pixel records (tp->width *
 * tp->height records of xs_aov_channels(tp->aovs) floats): the records the
 * whole tile would have had. Compiled with the kernels, so the same float
 * operations as xs_kernel_cpu_render_rows. */
void xs_kernel_cpu_merge_parts(const xs_tile_params *tp, const float *const *parts, const int *chunk_counts,
                               int part_count, float *out);

#ifdef __cplusplus
}
#endif
#endif
