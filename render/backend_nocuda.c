/* Stands in for backend_cuda.c in a build without nvcc: the CUDA back end
 * reports that it is absent, and `--backend auto` falls back to the CPU. */
#include "render/xs_backend.h"

#include <stdio.h>
#include <string.h>

bool xs_cuda_compiled(void) { return false; }

int xs_cuda_device_count(char *why, size_t why_len)
{
    if (why)
        snprintf(why, why_len, "this xisuan was built without CUDA (no nvcc at build time)");
    return 0;
}

xs_result xs_cuda_device_info(int device, xs_gpu_info *info, xs_err *err)
{
    memset(info, 0, sizeof *info);
    return xs_err_set(err, XS_ERR_INVALID, "CUDA device %d: this xisuan was built without CUDA", device);
}

xs_result xs_backend_cuda_create(const xs_scene *scene, int fw, int fh, int device, int slots,
                                 int max_tile_pixels, int max_spp, xs_backend **out, xs_err *err)
{
    (void)scene, (void)fw, (void)fh, (void)slots, (void)max_tile_pixels, (void)max_spp, (void)out;
    return xs_err_set(err, XS_ERR_INVALID,
                      "--backend cuda: this xisuan was built without CUDA (no nvcc at build time); "
                      "use --backend cpu");
}
