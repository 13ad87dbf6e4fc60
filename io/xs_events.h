/* The event log: OUT/JOB/events.jsonl, one JSON object a line for pipelines
 * and dashboards (job_start, tile_dispatched, tile_committed, tile_failed,
 * frame_assembled, rank_silent, drain, job_summary; docs/operations.md).
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
void xs_events_tile_dispatched(xs_events *ev, int frame, int tile, int rank, bool verify);
void xs_events_assembly_dispatched(xs_events *ev, int frame, int rank);
void xs_events_tile_committed(xs_events *ev, int frame, int tile, int rank, double seconds, bool kept,
                              uint64_t checksum);

#ifdef __cplusplus
}
#endif
#endif
