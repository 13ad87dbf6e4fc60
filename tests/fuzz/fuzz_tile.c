/* libFuzzer target: reading a tile back as resume does (io/exr.c through
 * xs_exr_read_record), with a beauty-only job's channels and with every
 * AOV's, from bytes in memory. */
#include "io/xs_exr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const all[] = {"R",        "G",        "B",        "A",        "albedo.R",
                                      "albedo.G", "albedo.B", "normal.X", "normal.Y", "normal.Z",
                                      "depth.Z",  "samples.N"};
    const int counts[2] = {4, 12};
    for (int k = 0; k < 2; ++k) {
        xs_image img;
        xs_err e;
        if (xs_exr_read_record_memory("fuzz.exr", data, size, all, counts[k], &img, &e) == XS_OK)
            xs_image_free(&img);
    }
    return 0;
}
