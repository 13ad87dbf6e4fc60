/* A GPU's texture pages of a paged scene, within a budget: a device page
 * table (every page; UINT32_MAX while not resident), a pool of page slots,
 * and two bitmaps the kernels write (kernels/xs_texture.h): the pages a
 * launch asked for and did not have, and the resident pages it read.
 *
 * Demand loading: a launch that meets a missing page records it and reads
 * 0; its group's count of new requests is copied back after the launch.
 * When a group ended with requests, the back end calls xs_gpu_pages_resolve
 * (which first waits for every launch in flight: none may read a slot being
 * rewritten), which loads the asked pages through the node's page cache
 * (render/texcache.c), uploads them into free slots or slots the clock hand
 * finds unread since the last resolve and not loaded for this group, and
 * clears the bitmaps; then the back end runs the whole group again. A
 * sample that finished in the last pass read only resident pages, so the
 * pixels are those of a device holding every page: the pass structure never
 * changes them. A group whose pages do not fit the budget together fails
 * its tiles with the numbers (another rank retries them).
 *
 * One thread (the one that drives the device) uses it.
 */
#ifndef XS_TEXCACHE_GPU_H
#define XS_TEXCACHE_GPU_H

#include <stdint.h>

#include "io/xs_result.h"
#include "kernels/xs_types.h"
#include "render/xs_cuda_rt.h"
#include "render/xs_texcache.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_gpu_pages xs_gpu_pages;

enum { XS_GPU_PAGES_MAX_PASSES = 16 };

/* The device side of `pages` pages read through cache, on rt's current
 * device: budget bytes of slots (0: auto, the device's free memory less 512
 * MiB, at most every page), `groups` launch records. Points dview's
 * texture fields at device memory (and clears its host-only ones). */
xs_result xs_gpu_pages_create(const xs_cuda_rt *rt, xs_texcache *cache, uint32_t pages, uint64_t budget,
                              int groups, xs_scene_view *dview, xs_gpu_pages **out, xs_err *err);
void xs_gpu_pages_destroy(xs_gpu_pages *g); /* accepts NULL */

/* A group's launch is being queued on stream: after its kernels, its count
 * of new requests goes to the group's host word and the device count is
 * cleared (both queued). first: a fresh launch, not a pass again. */
int xs_gpu_pages_after_launch(xs_gpu_pages *g, int group, void *stream, int first);
/* The group's count of new requests (valid once its launch completed). */
uint32_t xs_gpu_pages_asked(const xs_gpu_pages *g, int group);
/* Loads and uploads every page asked for (see above); waits for the events
 * of the launches in flight first (inflight of them). XS_ERR_RENDER when
 * the group's pages do not fit the budget. */
xs_result xs_gpu_pages_resolve(xs_gpu_pages *g, int group, void *const *inflight, int ninflight, xs_err *err);

typedef struct xs_gpu_pages_stats {
    uint64_t slots, loads, evictions, resolves;
} xs_gpu_pages_stats;
void xs_gpu_pages_stats_get(const xs_gpu_pages *g, xs_gpu_pages_stats *out);

#ifdef __cplusplus
}
#endif
#endif
