/* A job's timeline as a picture: one row per rank, each item a bar from its
 * start to its end coloured by frame, failures and duplicates marked, and a
 * tile map of one frame (which rank rendered each tile, and how long it
 * took). Built from a job's event log (`xisuan status --timeline`, --html) or
 * from a simulation's items (`xisuan simulate --timeline`); drawn as SVG
 * with no script and no external reference.
 */
#ifndef XS_TIMELINE_H
#define XS_TIMELINE_H

#include <stdint.h>
#include <stdio.h>

#include "io/xs_result.h"
#include "scheduler/xs_simulate.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_tl_bar {
    int32_t rank, frame, tile; /* tile -1: an assembly */
    double start, end;
    uint8_t failed, duplicate;
} xs_tl_bar;

typedef struct xs_timeline {
    xs_tl_bar *bars; /* malloc'd */
    int64_t count;
    int ranks;
    int tiles_per_frame, tiles_x; /* the grid, for the tile map (0: none) */
    int map_frame;                /* the frame the tile map shows (-1: none) */
    double t0, t1;
} xs_timeline;

/* The items of the last run in a job's events.jsonl (from its last
 * job_start): committed tiles (from their time and duration), failed tiles
 * and duplicates (from their dispatch), assemblies. */
xs_result xs_timeline_from_events(xs_timeline *tl, const char *events_path, xs_err *err);
/* A simulation's items (kept with keep_bars). */
xs_result xs_timeline_from_sim(xs_timeline *tl, const xs_sim_result *r, int tiles_per_frame, int tiles_x,
                               xs_err *err);
/* Writes the picture (an <svg> element) to f. */
void xs_timeline_svg(FILE *f, const xs_timeline *tl, const char *title);
/* The same as a file. */
xs_result xs_timeline_write_svg(const xs_timeline *tl, const char *path, const char *title, xs_err *err);
void xs_timeline_free(xs_timeline *tl); /* accepts a zeroed timeline */

#ifdef __cplusplus
}
#endif
#endif
