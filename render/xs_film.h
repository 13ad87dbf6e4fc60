/* The film: a frame of width x height cut into square tiles, the pixel
 * filter, and the channels of a pixel record.
 *
 * Tiles are row-major, the last column and row cut to the frame; the same
 * grid is the EXR tile grid of the frame file, which is what lets assembly
 * copy chunks. The filter is importance-sampled (each sample lands in one
 * pixel with weight 1), so tiles have no seams. A pixel record is RGBA, then
 * the AOV channels the job asks for (kernels/xs_types.h: XS_AOV_*).
 */
#ifndef XS_FILM_H
#define XS_FILM_H

#include <stdint.h>

#include "kernels/xs_types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_film {
    int width, height, tile;
    int tiles_x, tiles_y;
} xs_film;

void xs_film_init(xs_film *film, int width, int height, int tile);
int xs_film_tile_count(const xs_film *film);
/* Tile index (row-major) -> rectangle in frame pixels; edge tiles are cut. */
void xs_film_tile_rect(const xs_film *film, int index, int *x0, int *y0, int *w, int *h);

/* Kernel parameters covering the whole width x height frame with the engine's
 * defaults (Russian roulette from bounce 3, MIS on, no clamp, no AOVs, seed 0,
 * frame 0); callers narrow the rectangle and set what differs. */
xs_tile_params xs_tile_params_frame(int width, int height, int spp, int max_bounces);

/* Pixel filters. */
typedef enum xs_filter_kind {
    XS_FILTER_BOX = 0,
    XS_FILTER_TENT = 1,
    XS_FILTER_GAUSSIAN = 2,
    XS_FILTER_BLACKMAN_HARRIS = 3
} xs_filter_kind;
/* The filter's 1-D inverse CDF at XS_FILTER_TABLE + 1 points over
 * [-width/2, width/2] (width in pixels, > 0), as the kernels sample it. */
void xs_filter_table(xs_filter_kind kind, float width, float icdf[XS_FILTER_TABLE + 1]);
/* The filter's name ("box", ..., "blackman-harris"). */
const char *xs_filter_name(xs_filter_kind kind);

/* The channel names of a pixel record, in record order: R G B A, then
 * albedo.R/G/B, normal.X/Y/Z, depth.Z, samples.N as aovs (XS_AOV_*) asks.
 * names needs room for 16; returns the count (xs_aov_channels(aovs)). */
int xs_aov_channel_names(uint32_t aovs, const char **names);

#ifdef __cplusplus
}
#endif
#endif
