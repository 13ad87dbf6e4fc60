/* Stands in for render/cuda_rt.c in a build without nvcc: there is no CUDA
 * runtime, so the CUDA back end reports that it is absent (a clear message
 * for --backend cuda; --backend auto renders on the CPU, and says so loudly
 * where the machine has NVIDIA GPUs: render/backend_cuda.c's probe). */
#include "render/xs_cuda_rt.h"

#include <stddef.h>

const xs_cuda_rt *xs_cuda_rt_real(void) { return NULL; }
