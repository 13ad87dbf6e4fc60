/* The tile cleaner: removes a frame's tile files once the frame is assembled
 * and its journal record is durable, so a 10,000-frame job does not leave
 * millions of tile files behind (`--keep-tiles` keeps them).
 *
 * Rank 0's journal hands it the frames of each durable batch
 * (xs_journal_on_durable); a thread of its own unlinks each tile file of the
 * frame, removes the frame's tile folder and syncs the tiles folder once per
 * frame, off rank 0's loop and off the journal's writer. Resume needs nothing
 * it removes: a frame whose record is durable and whose file checks out is
 * skipped, and a frame whose file went missing has its tiles rendered again
 * (their journaled checksums no longer match a file). A tile written after
 * its frame was cleaned (a speculative copy that finished second) is removed
 * when its result arrives (xs_tile_cleaner_stray).
 */
#ifndef XS_TILE_CLEANER_H
#define XS_TILE_CLEANER_H

#include <stdint.h>

#include "io/xs_result.h"
#include "scheduler/xs_job.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_tile_cleaner xs_tile_cleaner;

/* A cleaner for job's tile files (job borrowed for its life). */
xs_result xs_tile_cleaner_create(const xs_job *job, xs_tile_cleaner **out, xs_err *err);
/* Queues frames whose record is durable (any thread). */
void xs_tile_cleaner_frames(xs_tile_cleaner *c, const int *frames, size_t n);
/* A tile file written for frame after the frame may have been cleaned:
 * removed now when it was, else left to the frame's cleaning (any thread). */
void xs_tile_cleaner_stray(xs_tile_cleaner *c, int frame, int tile);
/* Cleans what is queued, stops the thread, frees; accepts NULL. The counts
 * of files and folders removed and of failures (other than missing files)
 * are in *removed and *failed when given. */
void xs_tile_cleaner_destroy(xs_tile_cleaner *c, int64_t *removed, int64_t *failed);
/* The journal hook: user is the cleaner. */
void xs_tile_cleaner_on_durable(void *user, const int *frames, size_t n);

#ifdef __cplusplus
}
#endif
#endif
