/* The GGX directional-albedo tables the kernels' energy compensation reads
 * (kernels/xs_bsdf.h), integrated once per process with the kernels' own
 * functions. */
#include "render/xs_scene.h"

#include <pthread.h>

#include "kernels/xs_bsdf.h"

static pthread_once_t ggx_once = PTHREAD_ONCE_INIT;
static float ggx_tables[2 * XS_GGX_TABLE_N * XS_GGX_TABLE_N];

static void ggx_init(void)
{
    const int n = XS_GGX_TABLE_N;
    for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x) {
            float rough = (float)y / (float)(n - 1), mu = (float)x / (float)(n - 1);
            float e, ew;
            xs_ggx_albedo(mu, xs_roughness_to_alpha(rough), 32, &e, &ew);
            ggx_tables[y * n + x] = e;
            ggx_tables[n * n + y * n + x] = ew;
        }
}

const float *xs_ggx_table(void)
{
    pthread_once(&ggx_once, ggx_init);
    return ggx_tables;
}
