/* The CPU entry points of the shared kernels (kernels/cpu/kernel_cpu.c),
 * built once per instruction set: for baseline x86-64 (SSE2) everywhere, and
 * on x86-64 also for AVX2 (the stage loops of the wavefront vectorise 8
 * wide). xs_cpu_kernels_best picks the widest the CPU runs, at run time, so
 * one binary runs on any x86-64 CPU. Both builds do the same IEEE float
 * operations in the same order (no FMA contraction, no fast-math, no
 * vectorised libm), so they give the same bits: a farm may mix CPUs.
 */
#ifndef XS_KERNEL_CPU_H
#define XS_KERNEL_CPU_H

#include "kernels/xs_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Paths a CPU thread keeps in flight in the wavefront integrator. */
enum { XS_CPU_WAVE = 512 };

/* One thread's wavefront arrays (xs_wavefront.h) for XS_CPU_WAVE paths. */
typedef struct xs_cpu_wave xs_cpu_wave;
xs_cpu_wave *xs_cpu_wave_create(void); /* NULL when out of memory */
void xs_cpu_wave_destroy(xs_cpu_wave *w); /* accepts NULL */

/* A tracer outside the kernels (render/backend_embree.c): answers the
 * wavefront's two traversal stages for a whole queue at once, in place of
 * the kernels' own walk; shading, sampling and the fold stay the kernels'.
 * intersect: the closest hit of the paths at positions [0, n) of ray queue q
 * into w->hit[] (xs_hit: t, barycentrics of v1 and v2, the triangle's index
 * in tris[], the instance), counting camera and bounce rays as
 * xs_wf_intersect does. shadow: the first n rays of the shadow queue, each
 * unoccluded one's contribution added to its path (xs_wf_shadow). Both are
 * called from any render thread at once: ctx is shared, read only. NULL
 * (the default): the kernels' own traversal, untouched. */
struct xs_wf;
typedef struct xs_cpu_tracer {
    void (*intersect)(const void *ctx, const xs_scene_view *s, const struct xs_wf *w, uint32_t q, uint32_t n,
                      xs_counters *c);
    void (*shadow)(const void *ctx, const xs_scene_view *s, const struct xs_wf *w, uint32_t n, xs_counters *c);
    const void *ctx;
} xs_cpu_tracer;
/* The tracer the wave's batches use (NULL: the kernels' own); borrowed. */
void xs_cpu_wave_set_tracer(xs_cpu_wave *w, const xs_cpu_tracer *t);

/* The integrators: the wavefront (the default) and the megakernel (the
 * reference: a sample's whole path at a time). */
enum { XS_INTEGRATOR_WAVEFRONT = 0, XS_INTEGRATOR_MEGAKERNEL = 1 };

typedef struct xs_cpu_kernels {
    const char *isa; /* "avx2" or "x86-64" (or "generic" off x86) */
    /* Renders tile rows [row_begin, row_end) of tp into rgba (the whole
     * tile's buffer) and adds what it did to c. Thread-safe for disjoint rows
     * and distinct waves. */
    void (*render_rows_wavefront)(const xs_scene_view *s, const xs_tile_params *tp, int row_begin, int row_end,
                                  float *rgba, xs_counters *c, xs_cpu_wave *w);
    void (*render_rows_megakernel)(const xs_scene_view *s, const xs_tile_params *tp, int row_begin, int row_end,
                                   float *rgba, xs_counters *c);
    /* Renders sample chunks [chunk_first, chunk_first + chunk_count) of tile
     * rows [row_begin, row_end) into buf (the part's buffer: per pixel,
     * chunk_count packed records of xs_part_floats(tp->aovs) floats;
     * xs_path.h) and adds what it did to c: each chunk's partial sums are
     * the bits the whole tile's render sums for that chunk (with either
     * integrator), so merged parts are the whole tile's pixels. Thread-safe
     * for disjoint rows and distinct waves. */
    void (*render_part_rows_wavefront)(const xs_scene_view *s, const xs_tile_params *tp, int chunk_first,
                                       int chunk_count, int row_begin, int row_end, float *buf, xs_counters *c,
                                       xs_cpu_wave *w);
    void (*render_part_rows_megakernel)(const xs_scene_view *s, const xs_tile_params *tp, int chunk_first,
                                        int chunk_count, int row_begin, int row_end, float *buf, xs_counters *c);
} xs_cpu_kernels;

/* The baseline build; the AVX2 build (NULL where it is not built). */
const xs_cpu_kernels *xs_cpu_kernels_base(void);
const xs_cpu_kernels *xs_cpu_kernels_avx2(void);
/* The widest build this CPU runs. */
const xs_cpu_kernels *xs_cpu_kernels_best(void);

/* Paths the AVX2 build has shaded eight at a time (kernels/cpu/shade_avx2.h)
 * in this process, over all threads since it started: how much of the
 * shading took the vector path (tests check it is taken; xisuan-tracebench
 * reports its share of the shade events). _add: one batch's, from the
 * kernels. */
uint64_t xs_cpu_lanes_shaded8(void);
void xs_cpu_lanes_shaded8_add(uint64_t n);

/* xs_material_lambert (kernels/xs_path.h) compiled with the kernels' flags
 * (no contraction into FMA), so the host marks XS_MAT_LAMBERT by the very
 * float test the shading makes (render/scene.c xs_scene_mark_materials). */
bool xs_cpu_material_lambert(const xs_material *m);
bool xs_cpu_material_ggx(const xs_material *m); /* xs_material_ggx, the same way */

/* Merges the parts of a split tile (parts[j]: part j's buffer, chunk_counts[j]
 * chunks a pixel, in chunk order) into its pixel records (tp->width *
 * tp->height records of xs_aov_channels(tp->aovs) floats): the records the
 * whole tile would have had. Compiled with the kernels (the baseline
 * build), so the same float operations as their renders. */
void xs_kernel_cpu_merge_parts(const xs_tile_params *tp, const float *const *parts, const int *chunk_counts,
                               int part_count, float *out);

#ifdef __cplusplus
}
#endif
#endif
