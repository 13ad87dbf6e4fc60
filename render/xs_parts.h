/* Sample splits on one rank: a tile's samples cut into parts of whole
 * sample chunks (XS_SAMPLE_CHUNK samples each, kernels/xs_path.h), the size
 * of a part's packed records, and the merge of a split tile's parts into the
 * pixel records of the whole tile.
 *
 * Invariant: parts merged in chunk order give the whole tile's records bit
 * for bit, however the chunks were cut, because the merge runs the kernels'
 * own operations compiled with them (kernels/cpu/kernel_cpu.c). So a split
 * tile's file is the very file the tile rendered whole would have been. The
 * policy (scheduler/policy.c) cuts a tile of C chunks into P parts, part j
 * holding chunks [j*C/P, (j+1)*C/P); xs_parts_first says the same.
 * Everything here is pure and thread-safe.
 */
#ifndef XS_PARTS_H
#define XS_PARTS_H

#include <stddef.h>
#include <stdint.h>

#include "io/xs_result.h"
#include "kernels/xs_types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Sample chunks of a tile rendered at spp samples (the last may be short). */
int xs_parts_chunks(int spp);
/* Samples of chunks [chunk_first, chunk_first + chunk_count) at spp (the
 * last chunk may be short). */
int xs_parts_samples(int spp, int chunk_first, int chunk_count);
/* The first chunk of part j of a tile of `chunks` chunks cut into `parts`. */
int xs_parts_first(int j, int parts, int chunks);
/* Which partial sums a part keeps for the AOV set (bit i: float i of the
 * kernels' xs_partial), and how many floats that is per (pixel, chunk). */
uint32_t xs_parts_mask(uint32_t aovs);
int xs_parts_floats(uint32_t aovs);
/* Floats of a part's records: width x height pixels x chunk_count chunks x
 * xs_parts_floats(aovs). */
size_t xs_parts_record_floats(int width, int height, int chunk_count, uint32_t aovs);
/* Checks a part's chunk range against a tile of spp samples: chunk_first
 * >= 0, chunk_count >= 1, within the tile's chunks (XS_ERR_INVALID, saying
 * which). */
xs_result xs_parts_check_range(int spp, int chunk_first, int chunk_count, xs_err *err);
/* Merges a split tile: parts[j] holds part j's records (chunk_counts[j]
 * chunks a pixel, parts in chunk order, together every chunk of the tile);
 * writes tp->width x tp->height pixel records of xs_aov_channels(tp->aovs)
 * floats to out. */
void xs_parts_merge(const xs_tile_params *tp, const float *const *parts, const int *chunk_counts, int part_count,
                    float *out);

#ifdef __cplusplus
}
#endif
#endif
