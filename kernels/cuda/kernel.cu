/* CUDA entry of the shared kernels: only includes and the __global__ wrapper,
 * one thread per tile pixel. The host side (upload, streams, launches) comes
 * with the GPU issue; today this file proves the kernel headers build under
 * nvcc for sm_80 and sm_90 with warnings as errors. */
#include "kernels/xs_path.h"

extern "C" __global__ void xs_cuda_render_tile(xs_scene_view scene, xs_tile_params tp,
                                               float *rgba, xs_counters *counters)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= tp.width || y >= tp.height)
        return;
    xs_counters c = {0, 0, 0, 0, 0, 0, 0, 0};
    xs_render_pixel(&scene, &tp, tp.x0 + x, tp.y0 + y,
                    rgba + ((size_t)y * (size_t)tp.width + (size_t)x) * (size_t)xs_aov_channels(tp.aovs), &c);
    atomicAdd((unsigned long long *)&counters->camera_rays, (unsigned long long)c.camera_rays);
    atomicAdd((unsigned long long *)&counters->bounce_rays, (unsigned long long)c.bounce_rays);
    atomicAdd((unsigned long long *)&counters->shadow_rays, (unsigned long long)c.shadow_rays);
    atomicAdd((unsigned long long *)&counters->node_visits, (unsigned long long)c.node_visits);
    atomicAdd((unsigned long long *)&counters->tri_tests, (unsigned long long)c.tri_tests);
    atomicAdd((unsigned long long *)&counters->nonfinite, (unsigned long long)c.nonfinite);
    atomicAdd((unsigned long long *)&counters->shade_events, (unsigned long long)c.shade_events);
    atomicAdd((unsigned long long *)&counters->inst_visits, (unsigned long long)c.inst_visits);
}
