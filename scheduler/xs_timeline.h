/* A job's timeline as a picture: one row per rank, each item a bar from its
 * start to its end coloured by frame (parts hatched and lighter, merges
 * darker, assemblies darkest, verified tiles pale), failures red,
 * duplicates (replies for work another rank had already finished) black,
 * speculative copies outlined in magenta; above the rows the share of
 * workers busy over time and a lane of marks (failures, duplicates, copies)
 * that stays visible however many rows there are; below them a time axis
 * and the tile map of one frame (which rank committed each tile, and how
 * long it took). Built from a job's event log (`xisuan status --timeline`,
 * `--html`) or from a simulation's items (`xisuan simulate --timeline`): one
 * drawing code for both.
 *
 * Drawn as SVG (no script, no external reference) or as a PNG rasterised
 * here (the same layout; its text in a small built-in bitmap font, lower
 * case). Up to 1,600 rows are drawn one rank each, at least a pixel high
 * (1,200 ranks: a 1,200-pixel density picture); beyond that a row holds
 * several ranks. A rank's consecutive bars of one frame and kind that are
 * each narrower than two pixels and less than a pixel apart are drawn as
 * one (its data-n says how many).
 */
#ifndef XS_TIMELINE_H
#define XS_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "io/xs_result.h"
#include "scheduler/xs_simulate.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Ranks from 0 to XS_TL_MAX_RANK - 1 (a log naming another is damaged). */
enum { XS_TL_MAX_RANK = 1 << 20 };

/* What an item was. */
enum { XS_TL_TILE = 0, XS_TL_PART = 1, XS_TL_MERGE = 2, XS_TL_ASSEMBLY = 3, XS_TL_VERIFY = 4 };

typedef struct xs_tl_bar {
    int32_t rank, frame, tile; /* tile -1: an assembly */
    double start, end;
    uint8_t kind;      /* XS_TL_* */
    uint8_t failed;    /* the item failed */
    uint8_t duplicate; /* a reply for work another rank had already finished */
    uint8_t copy;      /* a speculative copy of work another rank also held */
} xs_tl_bar;

typedef struct xs_timeline {
    xs_tl_bar *bars; /* malloc'd */
    int64_t count;
    int ranks;                    /* rows: ranks 0 .. ranks-1 (rank 0 left out when it has no bar) */
    int tiles_per_frame, tiles_x; /* the grid, for the tile map (0: none) */
    int map_frame;                /* the frame the tile map shows (-1: none) */
    double origin;                /* the run's start (NAN: unknown); the axis starts at the first item */
} xs_timeline;

/* The items of the last run in a job's events.jsonl (from its last
 * job_start): tiles committed (placed by their commit time and seconds),
 * verified, parts (part_done), duplicates (tile_duplicate; or the older
 * duplicate_result when the log has no tile_duplicate), failures (from
 * their dispatch to the failure), assemblies (from dispatch to
 * frame_assembled); kind and copy from each item's tile_dispatched. The map
 * frame is the last frame whose tiles began to be committed. */
xs_result xs_timeline_from_events(xs_timeline *tl, const char *events_path, xs_err *err);
/* A simulation's items (kept with keep_bars); worker w is rank w + 1, as
 * under MPI. */
xs_result xs_timeline_from_sim(xs_timeline *tl, const xs_sim_result *r, int tiles_per_frame, int tiles_x,
                               xs_err *err);
/* Chooses the tile map's frame: XS_ERR_INVALID naming --frame when no tile
 * of that frame is in the timeline. */
xs_result xs_timeline_set_map_frame(xs_timeline *tl, int frame, xs_err *err);

/* Writes the picture as an <svg> element to f: standalone adds the SVG
 * namespace (a file of its own); without it, for inline use in HTML, the
 * element holds no URL at all. title is plain text (escaped here). */
void xs_timeline_svg(FILE *f, const xs_timeline *tl, const char *title, bool standalone);
/* The picture as PNG bytes (malloc'd into *png, *len). */
xs_result xs_timeline_png(const xs_timeline *tl, const char *title, unsigned char **png, size_t *len,
                          xs_err *err);
/* Writes the picture to path atomically, as SVG or PNG by its extension
 * (.svg or .png; anything else is XS_ERR_INVALID). */
xs_result xs_timeline_write(const xs_timeline *tl, const char *path, const char *title, xs_err *err);
void xs_timeline_free(xs_timeline *tl); /* accepts a zeroed timeline */

#ifdef __cplusplus
}
#endif
#endif
