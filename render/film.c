/* The film: a frame of width x height cut into square tiles of `tile` pixels,
 * row-major, the last column and row cut to the frame. The same grid is the
 * EXR tile grid of the frame file, which is what lets assembly copy chunks. */
#include "render/xs_render.h"

#include <string.h>

void xs_film_init(xs_film *film, int width, int height, int tile)
{
    film->width = width;
    film->height = height;
    film->tile = tile;
    film->tiles_x = (width + tile - 1) / tile;
    film->tiles_y = (height + tile - 1) / tile;
}

int xs_film_tile_count(const xs_film *film) { return film->tiles_x * film->tiles_y; }

void xs_film_tile_rect(const xs_film *film, int index, int *x0, int *y0, int *w, int *h)
{
    int tx = index % film->tiles_x, ty = index / film->tiles_x;
    *x0 = tx * film->tile;
    *y0 = ty * film->tile;
    *w = (*x0 + film->tile <= film->width) ? film->tile : film->width - *x0;
    *h = (*y0 + film->tile <= film->height) ? film->tile : film->height - *y0;
}

xs_tile_params xs_tile_params_frame(int width, int height, int spp, int max_bounces)
{
    xs_tile_params tp;
    memset(&tp, 0, sizeof tp);
    tp.frame_width = tp.width = width;
    tp.frame_height = tp.height = height;
    tp.spp = spp;
    tp.max_bounces = max_bounces;
    tp.rr_start = 3;
    tp.mis = XS_MIS_ON;
    return tp;
}
