/* Device code for tests/test_gpu.c alone: the shared sampler run on the GPU,
 * for the CPU/GPU bit-exactness test. Not part of the renderer. */
#include "kernels/xs_sampler.h"

#include <cuda_runtime.h>

__global__ static void xs_cuda_sampler_kernel(uint32_t seed, uint32_t frame, int n, float *out)
{
    const int i = (int)(blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n)
        return;
    xs_sampler smp = xs_sampler_init(seed, frame, (uint32_t)(i % 97), (uint32_t)(i / 97), (uint32_t)(i % 33));
    for (int k = 0; k < 4; ++k)
        xs_sample_2d(&smp, &out[(size_t)i * 8u + 2u * (size_t)k], &out[(size_t)i * 8u + 2u * (size_t)k + 1u]);
}

/* n entries, entry i = (pixel (i % 97, i / 97), sample i % 33), 4 pairs
 * each, into host_out (n * 8 floats). Synchronous; returns the cudaError_t. */
extern "C" int xs_cuda_sampler_probe(uint32_t seed, uint32_t frame, int n, float *host_out)
{
    float *d = NULL;
    size_t bytes = (size_t)n * 8u * sizeof(float);
    cudaError_t e = cudaMalloc((void **)&d, bytes);
    if (e != cudaSuccess)
        return (int)e;
    xs_cuda_sampler_kernel<<<(unsigned)((n + 127) / 128), 128>>>(seed, frame, n, d);
    e = cudaGetLastError();
    if (e == cudaSuccess)
        e = cudaMemcpy(host_out, d, bytes, cudaMemcpyDeviceToHost);
    cudaFree(d);
    return (int)e;
}
