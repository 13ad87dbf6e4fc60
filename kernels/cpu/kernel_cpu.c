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
