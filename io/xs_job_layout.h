/* The job folder: where every file of a job lives, in one place.
 *
 *   OUT/JOB/NAME.FFFF.exr                 a frame (and NAME.FFFF.png, its preview)
 *   OUT/JOB/tiles/FFFF/xXXXX_yYYYY.exr    a tile, by its column and row in the grid
 *   OUT/JOB/tiles/FFFF/xXXXX_yYYYY.cAAAAA-BBBBB.part
 *                                         sample chunks [A, B) of a split tile
 *                                         (xs_partials.h), until the tile is merged
 *   OUT/JOB/journal                       committed tiles and frames (xs_journal.h)
 *   OUT/JOB/events.jsonl                  the event log (xs_events.h)
 *   OUT/JOB/lock                          held by the job writing the folder (xs_lock.h)
 *
 * Every file is written under a hidden temporary name beside its final one
 * (".NAME.tmp-HOST-PID-N", xs_file.h); a kill can leave such a file behind, and the
 * next job to take the folder's lock removes them, and part files too (the
 * split of a tile is not journaled: a new run renders the tile whole).
 *
 * docs/output.md describes the layout for users. The scheduler, the workers
 * and the EXR assembler all name files through these functions.
 */
#ifndef XS_JOB_LAYOUT_H
#define XS_JOB_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "io/xs_file.h"
#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_job_layout {
    char dir[XS_PATH_MAX]; /* OUT/JOB */
    char name[64];         /* the frame files' base name */
    int tiles_x;           /* tiles per row of the frame's grid */
} xs_job_layout;

/* Fills l for the job folder out_dir/job; fails when the paths would not fit. */
xs_result xs_job_layout_init(xs_job_layout *l, const char *out_dir, const char *job,
                             const char *name, int tiles_x, xs_err *err);
/* OUT/JOB/NAME.FFFF.ext */
xs_result xs_job_frame_path(const xs_job_layout *l, int frame, const char *ext, char *out, size_t n,
                            xs_err *err);
/* OUT/JOB/tiles/FFFF */
xs_result xs_job_tile_dir(const xs_job_layout *l, int frame, char *out, size_t n, xs_err *err);
/* OUT/JOB/tiles/FFFF/xXXXX_yYYYY.exr for tile index `tile` (row-major). */
xs_result xs_job_tile_path(const xs_job_layout *l, int frame, int tile, char *out, size_t n,
                           xs_err *err);
/* OUT/JOB/tiles/FFFF/xXXXX_yYYYY.cAAAAA-BBBBB.part: sample chunks
 * [chunk_first, chunk_first + chunk_count) of tile `tile`, A and B of 5
 * digits or more. */
xs_result xs_job_part_path(const xs_job_layout *l, int frame, int tile, int chunk_first, int chunk_count,
                           char *out, size_t n, xs_err *err);
/* OUT/JOB/file ("journal", "events.jsonl"). */
xs_result xs_job_file_path(const xs_job_layout *l, const char *file, char *out, size_t n,
                           xs_err *err);

/* Removes the temporary files a killed run left in the job folder and its
 * tile folders, and any part file (call it holding the folder's lock);
 * *removed counts them. */
xs_result xs_job_clean_temporaries(const xs_job_layout *l, int64_t *removed, xs_err *err);
/* Removes every part file of the job's tile folders, and a tile folder
 * that this leaves empty (at the end of a run that split tiles: a
 * speculative copy of a part may land after its tile was merged, even after
 * its frame's tiles were removed); *removed counts the part files. */
xs_result xs_job_remove_parts(const xs_job_layout *l, int64_t *removed, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
