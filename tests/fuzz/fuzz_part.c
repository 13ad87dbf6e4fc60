/* libFuzzer target: reading a part file as a merge does (io/partials.c):
 * the header alone, then, when it holds together and is small enough to
 * decode here, the whole file against its own header (so the payload's
 * decoding and checksum are reached too). */
#include "io/xs_partials.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xs_partials_info info;
    xs_err e;
    if (xs_partials_read_header("fuzz.part", data, size, &info, &e) != XS_OK)
        return 0;
    if (xs_partials_floats(&info) > (1u << 20)) /* a real tile's part can be larger: not decoded here */
        return 0;
    float *rec = NULL;
    if (xs_partials_read_memory("fuzz.part", data, size, &info, &rec, &e) == XS_OK)
        free(rec);
    return 0;
}
