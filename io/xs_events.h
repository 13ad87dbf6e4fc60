/* The event log: OUT/JOB/events.jsonl, one JSON object a line for pipelines
 * and dashboards (job_start, tile_dispatched, tile_committed, part_done,
 * tile_duplicate, tile_failed, frame_assembled, rank_silent, drain, job_summary; docs/operations.md).
 * Kept by rank 0 and written by a thread of its own, so the per-item events
 * cost rank 0's loop a queued record, no formatting and no I/O; resume
 * relies on the journal, never on this log. One thread emits at a time.
 */
#ifndef XS_EVENTS_H
#define XS_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_events xs_events;

xs_result xs_events_open(const char *path, xs_events **out, xs_err *err);
void xs_events_close(xs_events *ev); /* writes what is queued first; accepts NULL */
/* Appends {"time": <unix seconds>, "event": type, <fields>}: fields is a
 * printf format for the rest of the object's members (may be NULL). Does
 * nothing when ev is NULL. */
void xs_events_emit(xs_events *ev, const char *type, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

/* The per-item events, queued without formatting (ev may be NULL). */
/* tile_dispatched: a tile (verify: check an earlier run's file first;
 * copy: a speculative copy of an item another rank holds). */
void xs_events_tile_dispatched(xs_events *ev, int frame, int tile, int rank, bool verify, bool copy);
/* tile_dispatched of a PART ("kind": "part", "chunks": [first, count]) or a
 * MERGE ("kind": "merge") of a split tile. */
void xs_events_part_dispatched(xs_events *ev, int frame, int tile, int rank, bool merge, int chunk_first,
                               int chunk_count, bool copy);
/* part_done: a part of a split tile is written (its merge commits the tile). */
void xs_events_part_done(xs_events *ev, int frame, int tile, int rank, int chunk_first, int chunk_count,
                         double seconds);
/* tile_duplicate: a result for work another rank had already finished
 * (tile -1: an assembly); it changes nothing. */
void xs_events_duplicate(xs_events *ev, int frame, int tile, int rank, double seconds);
void xs_events_assembly_dispatched(xs_events *ev, int frame, int rank);
void xs_events_tile_committed(xs_events *ev, int frame, int tile, int rank, double seconds, bool kept,
                              uint64_t checksum);

#ifdef __cplusplus
}
#endif
#endif
