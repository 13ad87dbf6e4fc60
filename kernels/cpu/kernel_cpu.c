/* CPU entry of the shared kernels: only includes and one exported function,
 * like Cycles' kernel/device/cpu. All logic lives in kernels/xs_*.h. */
#include "kernels/cpu/kernel_cpu.h"
#include "kernels/xs_layout.h" /* the host side of the layout the GPU shares */
#include "kernels/xs_path.h"

void xs_kernel_cpu_render_rows(const xs_scene_view *s, const xs_tile_params *tp, int row_begin,
                               int row_end, float *rgba, xs_counters *c)
{
    xs_render_rows(s, tp, row_begin, row_end, rgba, c);
}

void xs_kernel_cpu_render_part_rows(const xs_scene_view *s, const xs_tile_params *tp, int chunk_first,
                                    int chunk_count, int row_begin, int row_end, float *buf, xs_counters *c)
{
    xs_render_part_rows(s, tp, chunk_first, chunk_count, row_begin, row_end, buf, c);
}

void xs_kernel_cpu_merge_parts(const xs_tile_params *tp, const float *const *parts, const int *chunk_counts,
                               int part_count, float *out)
{
    const size_t n = (size_t)tp->width * (size_t)tp->height, stride = (size_t)xs_aov_channels(tp->aovs);
    for (size_t i = 0; i < n; ++i)
        xs_merge_part_pixel(parts, chunk_counts, part_count, i, tp, out + i * stride);
}
