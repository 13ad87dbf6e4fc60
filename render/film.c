/* The film (see xs_film.h): the tile grid, the pixel filter's sampling
 * table, and the channels of a pixel record. */
#include "render/xs_film.h"

#include <math.h>
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

static const char *const filter_names[] = {"box", "tent", "gaussian", "blackman-harris"};

const char *xs_filter_name(xs_filter_kind kind)
{
    return (unsigned)kind < 4u ? filter_names[kind] : "?";
}

void xs_filter_table(xs_filter_kind kind, float width, float icdf[XS_FILTER_TABLE + 1])
{
    /* the filter's CDF on a fine grid over [-r, r], inverted at table points */
    enum { FINE = 4096 };
    double r = 0.5 * (double)width, cdf[FINE + 1];
    cdf[0] = 0.0;
    for (int i = 0; i < FINE; ++i) {
        double x = -r + 2.0 * r * ((double)i + 0.5) / FINE, f;
        switch (kind) {
        case XS_FILTER_BOX: f = 1.0; break;
        case XS_FILTER_TENT: f = 1.0 - fabs(x) / r; break;
        case XS_FILTER_GAUSSIAN: {
            double sg = r / 3.0; /* Cycles: sigma = width / 6 */
            f = exp(-x * x / (2.0 * sg * sg));
            break;
        }
        default: {
            double a = 2.0 * 3.14159265358979 * (x / (2.0 * r) + 0.5);
            f = 0.35875 - 0.48829 * cos(a) + 0.14128 * cos(2.0 * a) - 0.01168 * cos(3.0 * a);
            break;
        }
        }
        cdf[i + 1] = cdf[i] + (f > 0.0 ? f : 0.0);
    }
    int j = 0;
    for (int k = 0; k <= XS_FILTER_TABLE; ++k) {
        double u = (double)k / XS_FILTER_TABLE * cdf[FINE];
        while (j < FINE - 1 && cdf[j + 1] < u)
            ++j;
        double span = cdf[j + 1] - cdf[j];
        double t = span > 0.0 ? (u - cdf[j]) / span : 0.5;
        t = t < 0.0 ? 0.0 : (t > 1.0 ? 1.0 : t);
        icdf[k] = (float)(-r + 2.0 * r * ((double)j + t) / FINE);
    }
    icdf[0] = (float)-r;
    icdf[XS_FILTER_TABLE] = (float)r;
}

int xs_aov_channel_names(uint32_t aovs, const char **names)
{
    static const char *const rgba[4] = {"R", "G", "B", "A"};
    static const char *const alb[3] = {"albedo.R", "albedo.G", "albedo.B"};
    static const char *const nrm[3] = {"normal.X", "normal.Y", "normal.Z"};
    int n = 0;
    for (int c = 0; c < 4; ++c)
        names[n++] = rgba[c];
    if (aovs & XS_AOV_ALBEDO)
        for (int c = 0; c < 3; ++c)
            names[n++] = alb[c];
    if (aovs & XS_AOV_NORMAL)
        for (int c = 0; c < 3; ++c)
            names[n++] = nrm[c];
    if (aovs & XS_AOV_DEPTH)
        names[n++] = "depth.Z";
    if (aovs & XS_AOV_SAMPLES)
        names[n++] = "samples.N";
    return n;
}
