/* The stand-in back end (see xs_backend.h): tiles come back finished the
 * moment they are begun, so what is measured or tested is everything around
 * the device: the worker's pipeline, EXR compression, hashing, writes and
 * syncs. For tests and bench/hostbench.c only: nothing in the farm creates
 * it, and no flag, setting or environment variable selects it, so a user can
 * never render with it by mistake.
 *
 * Pixels: the template (a real rendered tile, so compression sees real
 * noise) rotated by an offset of the tile's position and frame, so every
 * tile differs (a mix-up between tiles shows) while the statistics stay the
 * template's. Counters: one camera ray per sample.
 */
#include "render/xs_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct standin_backend {
    xs_backend base;
    float *pixels; /* tile x tile records of channels floats */
    int tile, channels;
    xs_tile_params tp[XS_BACKEND_MAX_SLOTS];
    bool busy[XS_BACKEND_MAX_SLOTS];
    int begun, lose_at;
} standin_backend;

static xs_result standin_begin(xs_backend *self, int slot, const xs_tile_params *tp, xs_err *err)
{
    standin_backend *be = (standin_backend *)self;
    if (slot < 0 || slot >= be->base.slots || be->busy[slot])
        return xs_err_set(err, XS_ERR_INTERNAL, "stand-in back end: slot %d is not free", slot);
    if (tp->width > be->tile || tp->height > be->tile || xs_aov_channels(tp->aovs) != be->channels)
        return xs_err_set(err, XS_ERR_INTERNAL, "stand-in back end: a %dx%d tile of %d channels does not fit %d x %d x %d",
                          tp->width, tp->height, xs_aov_channels(tp->aovs), be->tile, be->tile, be->channels);
    if (++be->begun == be->lose_at) {
        xs_backend_lose(self, "stand-in back end: injected device loss (as a sticky CUDA error would)");
        return xs_err_set(err, XS_ERR_DEVICE, "%s", self->lost_why);
    }
    be->tp[slot] = *tp;
    be->busy[slot] = true;
    return XS_OK;
}

static bool standin_poll(xs_backend *self, int slot)
{
    (void)self, (void)slot;
    return true;
}

static xs_result standin_end(xs_backend *self, int slot, float *rgba, xs_counters *counters, double *kernel_s,
                             xs_err *err)
{
    standin_backend *be = (standin_backend *)self;
    if (slot < 0 || slot >= be->base.slots || !be->busy[slot])
        return xs_err_set(err, XS_ERR_INTERNAL, "stand-in back end: slot %d holds no tile", slot);
    be->busy[slot] = false;
    const xs_tile_params *tp = &be->tp[slot];
    const size_t n = (size_t)be->tile * (size_t)be->tile, ch = (size_t)be->channels;
    const size_t shift = ((size_t)tp->x0 + 3u * (size_t)tp->y0 + 7u * (size_t)tp->frame) % n;
    for (int y = 0; y < tp->height; ++y)
        for (int x = 0; x < tp->width; ++x) {
            size_t src = ((size_t)y * (size_t)be->tile + (size_t)x + shift) % n;
            memcpy(rgba + ((size_t)y * (size_t)tp->width + (size_t)x) * ch, be->pixels + src * ch, ch * sizeof(float));
        }
    counters->camera_rays += (uint64_t)tp->width * (uint64_t)tp->height * (uint64_t)tp->spp;
    *kernel_s += 0.0;
    return XS_OK;
}

static void standin_destroy(xs_backend *self)
{
    standin_backend *be = (standin_backend *)self;
    free(be->pixels);
    free(be);
}

xs_result xs_backend_standin_create(const float *pixels, int tile, int channels, int slots, int lose_at,
                                    xs_backend **out, xs_err *err)
{
    *out = NULL;
    if (tile < 1 || channels < 4 || slots < 1 || slots > XS_BACKEND_MAX_SLOTS)
        return xs_err_set(err, XS_ERR_INVALID, "stand-in back end: tile %d, %d channels, %d slots", tile, channels,
                          slots);
    standin_backend *be = calloc(1, sizeof *be);
    size_t bytes = (size_t)tile * (size_t)tile * (size_t)channels * sizeof(float);
    if (be)
        be->pixels = malloc(bytes);
    if (!be || !be->pixels) {
        free(be);
        return xs_err_set(err, XS_ERR_NOMEM, "stand-in back end: out of memory");
    }
    memcpy(be->pixels, pixels, bytes);
    be->tile = tile;
    be->channels = channels;
    be->lose_at = lose_at;
    be->base.name = "stand-in";
    be->base.slots = slots;
    be->base.group = 1;
    be->base.begin_tile = standin_begin;
    be->base.poll_tile = standin_poll;
    be->base.end_tile = standin_end;
    be->base.destroy = standin_destroy;
    snprintf(be->base.device, sizeof be->base.device, "stand-in (instant tiles), %d slot(s)", slots);
    *out = &be->base;
    return XS_OK;
}
