/* manifest.json: what a scene package holds and how to render it.
 * Schema version 1 is documented in docs/package.md. Every field is checked;
 * a message names the field ("manifest.json: render.spp: ..."). */
#ifndef XS_MANIFEST_H
#define XS_MANIFEST_H

#include <stdbool.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { XS_MANIFEST_SCHEMA = 1 };

typedef enum xs_cam_mode {
    XS_CAM_FIRST = 0,   /* the first camera the scene instantiates */
    XS_CAM_NAMED = 1,   /* camera.name */
    XS_CAM_INDEX = 2,   /* camera.index: the Nth instantiated camera */
    XS_CAM_OVERRIDE = 3 /* camera.position/target/up/yfov_deg */
} xs_cam_mode;

typedef enum xs_env_type { XS_ENV_CONSTANT = 0, XS_ENV_EQUIRECT = 1 } xs_env_type;

typedef struct xs_manifest {
    int schema;
    char scene[1024]; /* normalised path inside the package */
    xs_cam_mode cam_mode;
    char cam_name[128];
    int cam_index;
    float cam_pos[3], cam_target[3], cam_up[3], cam_yfov_deg;
    xs_env_type env_type;
    float env_color[3];
    float env_strength;
    char env_image[1024];
    /* render defaults; 0 when the manifest leaves them to the command line */
    int width, height, spp, tile, max_bounces;
    bool has_frames;
    int frame_first, frame_last;
    /* "animation": each has_* when the manifest gives it */
    bool has_fps, has_time_offset, has_play, has_shutter, has_motion_steps;
    double fps, time_offset;
    char play[256]; /* "" (all), "none", or names/indices separated by commas */
    float shutter;
    int motion_steps;
} xs_manifest;

/* Defaults: first camera, constant environment of radiance 1, no render
 * settings, no frames. */
void xs_manifest_defaults(xs_manifest *m);
/* Parses manifest JSON (label names it in messages). */
xs_result xs_manifest_parse(const char *label, const char *json, size_t len, xs_manifest *out,
                            xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
