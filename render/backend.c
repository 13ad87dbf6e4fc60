/* The calls every back end shares (see xs_backend.h): the lost check in
 * front of each table call, retiring a back end, one tile synchronously. */
#include "render/xs_backend.h"

#include <stdio.h>

static xs_result lost_result(const xs_backend *b, xs_err *err)
{
    return xs_err_set(err, XS_ERR_DEVICE, "%s", b->lost_why[0] ? b->lost_why : "the device is lost");
}

xs_result xs_backend_begin(xs_backend *b, int slot, const xs_tile_params *tp, xs_err *err)
{
    return b->lost ? lost_result(b, err) : b->begin_tile(b, slot, tp, err);
}

xs_result xs_backend_begin_part(xs_backend *b, int slot, const xs_tile_params *tp, int chunk_first,
                                int chunk_count, xs_err *err)
{
    if (b->lost)
        return lost_result(b, err);
    if (!b->begin_part)
        return xs_err_set(err, XS_ERR_INVALID, "the %s back end renders no parts of tiles", b->name);
    return b->begin_part(b, slot, tp, chunk_first, chunk_count, err);
}

bool xs_backend_parts(const xs_backend *b) { return b && b->begin_part; }

bool xs_backend_poll(xs_backend *b, int slot)
{
    return b->lost || !b->poll_tile || b->poll_tile(b, slot);
}

xs_result xs_backend_end(xs_backend *b, int slot, float *rgba, xs_counters *counters, double *kernel_s,
                         xs_err *err)
{
    return b->lost ? lost_result(b, err) : b->end_tile(b, slot, rgba, counters, kernel_s, err);
}

xs_result xs_backend_update(xs_backend *b, const xs_scene *scene, xs_err *err)
{
    if (b->lost)
        return lost_result(b, err);
    return b->update ? b->update(b, scene, err) : XS_OK;
}

void xs_backend_lose(xs_backend *b, const char *why)
{
    if (b->lost)
        return; /* the first reason is the one that counts */
    b->lost = true;
    snprintf(b->lost_why, sizeof b->lost_why, "%s", why);
}

xs_result xs_backend_render_tile(xs_backend *b, const xs_tile_params *tp, float *rgba,
                                 xs_counters *counters, xs_err *err)
{
    double kernel_s = 0.0;
    xs_result r = xs_backend_begin(b, 0, tp, err);
    return r == XS_OK ? xs_backend_end(b, 0, rgba, counters, &kernel_s, err) : r;
}

void xs_backend_destroy(xs_backend *b)
{
    if (b)
        b->destroy(b);
}
