/* Sample splits on one rank (see xs_parts.h): the part arithmetic over the
 * kernels' chunk definitions, and the merge through the CPU kernel entry. */
#include "render/xs_parts.h"
#include "kernels/cpu/kernel_cpu.h"
#include "kernels/xs_path.h"

int xs_parts_chunks(int spp) { return spp > 0 ? xs_chunk_count(spp) : 0; }

int xs_parts_samples(int spp, int chunk_first, int chunk_count)
{
    const int64_t s0 = (int64_t)chunk_first * XS_SAMPLE_CHUNK, s1 = s0 + (int64_t)chunk_count * XS_SAMPLE_CHUNK;
    const int64_t n = (s1 < spp ? s1 : spp) - s0;
    return n > 0 ? (int)n : 0;
}

int xs_parts_first(int j, int parts, int chunks) { return (int)((int64_t)j * chunks / parts); }

uint32_t xs_parts_mask(uint32_t aovs) { return xs_part_mask(aovs); }

int xs_parts_floats(uint32_t aovs) { return xs_part_floats(aovs); }

size_t xs_parts_record_floats(int width, int height, int chunk_count, uint32_t aovs)
{
    if (width < 1 || height < 1 || chunk_count < 1)
        return 0;
    return (size_t)width * (size_t)height * (size_t)chunk_count * (size_t)xs_part_floats(aovs);
}

xs_result xs_parts_check_range(int spp, int chunk_first, int chunk_count, xs_err *err)
{
    const int chunks = xs_parts_chunks(spp);
    if (chunk_first < 0 || chunk_count < 1 || chunk_first >= chunks || chunk_count > chunks - chunk_first)
        return xs_err_set(err, XS_ERR_INVALID,
                          "part of sample chunks [%d, %lld): a tile at %d spp has chunks [0, %d) of %d samples",
                          chunk_first, (long long)chunk_first + chunk_count, spp, chunks, (int)XS_SAMPLE_CHUNK);
    return XS_OK;
}

void xs_parts_merge(const xs_tile_params *tp, const float *const *parts, const int *chunk_counts, int part_count,
                    float *out)
{
    xs_kernel_cpu_merge_parts(tp, parts, chunk_counts, part_count, out);
}
