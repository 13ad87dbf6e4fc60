/* The job journal, kept by rank 0 in the job's output folder: what makes a
 * rerun resume.
 *
 * journal: append-only text, one record a line, made durable in groups (one
 * fdatasync for every record that arrived during the previous one):
 *   xisuan-journal 1 key=<16 hex> <settings>      (first line)
 *   T <frame> <tile> <16 hex pixel checksum>       (a tile committed)
 *   F <frame> <bytes> <16 hex file checksum>       (a frame assembled)
 * The key is a hash of the scene package's bytes and every setting that
 * changes pixels or files; a journal with another key belongs to another job.
 * A torn last line (a kill mid-write) is ignored; records may be of any
 * length. A new journal is written whole with its header (temporary name,
 * rename); a file without a whole header line (empty, or from an older kill)
 * is a new job, not another job's.
 */
#ifndef XS_JOURNAL_H
#define XS_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_journal xs_journal;

/* Opens path for the job described by key and settings, over these frames
 * and tiles per frame. When the file exists with the same key, its records
 * are loaded (a resume); with another key it is refused with a message that
 * shows both settings, unless force, which moves it aside (path.old-N) and
 * starts afresh. */
xs_result xs_journal_open(const char *path, uint64_t key, const char *settings, bool force,
                          const int *frames, int frame_count, int tiles_per_frame,
                          xs_journal **out, xs_err *err);
void xs_journal_close(xs_journal *j); /* writes what is buffered first; accepts NULL */

/* What an earlier run left: 0 when the tile was not committed. */
uint64_t xs_journal_tile_hash(const xs_journal *j, int frame_index, int tile);
/* Whether an earlier run assembled the frame, and (when known, else 0) the
 * size and XXH3 checksum of the file it wrote. */
bool xs_journal_frame_assembled(const xs_journal *j, int frame_index, uint64_t *size, uint64_t *hash);
int64_t xs_journal_loaded_tiles(const xs_journal *j);
int xs_journal_loaded_frames(const xs_journal *j);
bool xs_journal_resumed(const xs_journal *j);

/* Records are buffered and made durable by the journal's writer thread:
 * commit returns at once (or with the error an earlier batch met: the job
 * must stop); a record counts for resume only once its batch is durable. */
xs_result xs_journal_commit_tile(xs_journal *j, int frame, int tile, uint64_t hash, xs_err *err);
/* The frame's file is in place: its size and XXH3 checksum, for resume. */
xs_result xs_journal_commit_frame(xs_journal *j, int frame, uint64_t size, uint64_t hash, xs_err *err);

/* Calls fn(user, frames, n) on the journal's writer thread after each batch
 * that made frame records durable, with those frames' numbers (fn must be
 * quick and thread-safe: it hands them on). Set it before committing. */
void xs_journal_on_durable(xs_journal *j, void (*fn)(void *user, const int *frames, size_t n), void *user);

/* Waits until every record committed so far is durable; returns the first
 * write or sync error. Accepts NULL. */
xs_result xs_journal_flush(xs_journal *j, xs_err *err);
/* Batches made durable so far (each one write and one sync). */
int64_t xs_journal_batches(const xs_journal *j);

#ifdef __cplusplus
}
#endif
#endif
