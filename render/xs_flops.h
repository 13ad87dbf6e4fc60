/* The FLOP model behind `xisuan bench`'s utilisation (render/flops.c,
 * docs/benchmarks.md derives every constant): counted FLOPs from the
 * kernels' counters, and the peak FP32 rates of GPUs and CPUs.
 */
#ifndef XS_FLOPS_H
#define XS_FLOPS_H

#include <stddef.h>

#include "kernels/xs_types.h"
#include "render/xs_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* FP32 operations per counted event (add, sub, mul, div, min, max, compare,
 * sqrt: one each; an FMA: two), counted off kernels/xs_intersect.h and
 * xs_bsdf.h; each is the work every such event does at least. */
enum {
    XS_FLOPS_NODE = 113,    /* one wide node visit: its four children's 8-bit boxes (xs_wnode_enter) */
    XS_FLOPS_TRI = 36,      /* one watertight ray-triangle test, up to its sign test (xs_ray_wtri) */
    XS_FLOPS_INSTANCE = 45, /* moving a ray into an instance (2 affine maps, xs_ray_prepare) */
    XS_FLOPS_SHADE = 200    /* one shaded hit: BSDF set-up, one evaluation, one sample */
};
double xs_counted_flops(const xs_counters *c);
/* Peak FP32 FLOP/s: GPU from the device's SMs, lanes and clock; CPU from
 * `cores`, the widest FMA the CPU has and its clock (desc says which). */
double xs_gpu_peak_flops(const xs_gpu_info *g);
double xs_cpu_peak_flops(int cores, char *desc, size_t desc_len);

#ifdef __cplusplus
}
#endif
#endif
