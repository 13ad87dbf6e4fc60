/* Render settings: everything one rank's engine needs to turn a scene into
 * tile pixels, and nothing of the farm's (frames, output, scheduling live in
 * scheduler/xs_options.h). Pure: the parsers of the command line and of job
 * files fill this, and the value parsers here are shared by both, so a name
 * means the same in a flag and in JSON.
 */
#ifndef XS_SETTINGS_H
#define XS_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "io/xs_result.h"
#include "kernels/xs_types.h"
#include "render/xs_bvh.h"
#include "render/xs_film.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_render_settings {
    int width, height;  /* frame size in pixels */
    int spp;
    int tile;           /* square tiles of this many pixels a side */
    uint32_t seed;
    int max_bounces;
    uint32_t aovs;      /* XS_AOV_* layers beside beauty */
    xs_filter_kind filter;
    float filter_width; /* pixels */
    float clamp;        /* > 0: indirect light clamped to this; 0: off */
    int mis;            /* XS_MIS_*: on, or one estimator alone (tests) */
    int bvh;            /* xs_bvh_method */
    int threads;        /* 0: one per core the rank was given */
    int backend;        /* XS_BACKEND_* (render/xs_backend.h) */
    int gpu_slots;      /* tiles a GPU holds in flight; 0: auto (render/xs_backend.h) */
    /* animation: frame F shows t = F / fps + time_offset seconds of the
     * glTF timeline; which animations play; the shutter (a fraction of the
     * frame interval, centred on the frame; 0: no motion blur) and the
     * instants spread over it */
    double fps;
    double time_offset;
    char animations[256]; /* "" (all), "none", or names/indices separated by commas */
    float shutter;
    int motion_steps;
} xs_render_settings;

/* 512x512, 16 spp, tile 64, seed 0, 8 bounces, no AOVs, Blackman-Harris 1.5,
 * no clamp, MIS on, BVH auto, threads 0, back end auto, GPU slots auto, 24 fps,
 * no time offset, every animation, shutter 0 (no motion blur), 3 motion
 * steps. */
void xs_render_settings_defaults(xs_render_settings *s);

/* The kernel parameters of a whole frame with these settings (seed, frame,
 * clamp, MIS, AOVs applied); a tile narrows the rectangle. Built once per
 * frame, not per tile. */
xs_tile_params xs_render_tile_params(const xs_render_settings *s, int frame);

/* The settings that change pixels beyond the frame, spp, tile, bounces and
 * seed, as a string for the journal's key (the animation's included). */
void xs_render_settings_key(const xs_render_settings *s, char *out, size_t n);

/* Value parsers; field names the flag or JSON field in messages. */
/* An AOV list: comma-separated names from albedo, normal, depth, samples
 * (and beauty, always written), or "all"; "" or "beauty": none. */
xs_result xs_aovs_parse(const char *field, const char *spec, uint32_t *aovs, xs_err *err);
/* auto, cuda, cpu, embree -> XS_BACKEND_* */
xs_result xs_backend_parse(const char *field, const char *val, int *backend, xs_err *err);
/* box, tent, gaussian, blackman-harris */
xs_result xs_filter_parse(const char *field, const char *val, xs_filter_kind *out, xs_err *err);
/* auto, binned, clustered -> xs_bvh_method */
xs_result xs_bvh_parse(const char *field, const char *val, int *out, xs_err *err);
/* on, bsdf, light -> XS_MIS_* */
xs_result xs_mis_parse(const char *field, const char *val, int *out, xs_err *err);
/* An animation list: "all", "none", or names or indices separated by
 * commas (checked against the scene when it is built); at most 255 bytes of
 * printable characters. */
xs_result xs_animations_parse(const char *field, const char *val, char *out, size_t n, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
