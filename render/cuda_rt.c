/* The real CUDA runtime behind xs_cuda_rt (see xs_cuda_rt.h): thin
 * wrappers over the static cudart, plus the one place that says what each
 * cudaError_t means for the back end (xs_cuda_rt.error_class). Built only
 * when CMake found nvcc; backend_nocuda.c stands in otherwise. */
#include "render/xs_cuda_rt.h"
#include "render/xs_backend.h"

#include <cuda_runtime_api.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The CUDA runtime documents these as leaving "the process in an
 * inconsistent state": any further CUDA work returns the same error
 * (driver_types.h, CUDA 13.0). */
static int rt_error_class(int code)
{
    switch ((cudaError_t)code) {
    case cudaSuccess:
        return XS_CUDA_ERR_NONE;
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorLaunchTimeout:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorContextIsDestroyed:
    case cudaErrorECCUncorrectable:
    case cudaErrorNvlinkUncorrectable:
    case cudaErrorContained:
    case cudaErrorTensorMemoryLeak:
    case cudaErrorMpsClientTerminated:
    case cudaErrorExternalDevice:
    case cudaErrorUnknown: /* what a GPU that fell off the bus tends to give */
        return XS_CUDA_ERR_STICKY;
    case cudaErrorInitializationError:
    case cudaErrorCudartUnloading:
    case cudaErrorInsufficientDriver:
    case cudaErrorDevicesUnavailable:
    case cudaErrorNoDevice:
    case cudaErrorInvalidDevice:
    case cudaErrorStartupFailure:
    case cudaErrorDeviceUninitialized:
    case cudaErrorSystemNotReady:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
        return XS_CUDA_ERR_NODEV;
    default:
        return XS_CUDA_ERR_CALL;
    }
}

static const char *rt_error_name(int e) { return cudaGetErrorName((cudaError_t)e); }
static const char *rt_error_string(int e) { return cudaGetErrorString((cudaError_t)e); }
static int rt_get_last_error(void) { return (int)cudaGetLastError(); }
static int rt_device_count(int *n) { return (int)cudaGetDeviceCount(n); }
static int rt_set_device(int d) { return (int)cudaSetDevice(d); }

/* FP32 lanes per SM by compute capability (the CUDA programming guide's
 * throughput table: 64 on 6.0, 7.x and 8.0; 128 on 5.x, 6.1/6.2, 8.6 and
 * later). */
static int fp32_lanes(int major, int minor)
{
    if (major == 6 && minor == 0)
        return 64;
    if (major == 7 || (major == 8 && minor == 0))
        return 64;
    return 128;
}

static int rt_device_info(int device, struct xs_gpu_info *info)
{
    memset(info, 0, sizeof *info);
    struct cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, device);
    if (e != cudaSuccess)
        return (int)e;
    snprintf(info->name, sizeof info->name, "%s", p.name);
    info->sm_count = p.multiProcessorCount;
    info->cc_major = p.major;
    info->cc_minor = p.minor;
    info->fp32_lanes_per_sm = fp32_lanes(p.major, p.minor);
    info->memory_bytes = (double)p.totalGlobalMem;
    int khz = 0;
    if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, device) == cudaSuccess)
        info->clock_hz = (double)khz * 1e3;
    if (cudaDeviceGetPCIBusId(info->pci_bus_id, (int)sizeof info->pci_bus_id, device) == cudaSuccess)
        for (char *c = info->pci_bus_id; *c; ++c)
            *c = (char)tolower((unsigned char)*c);
    (void)cudaGetLastError(); /* an attribute the device lacks is not an error of the next call */
    return (int)cudaSuccess;
}

static int rt_malloc_device(void **p, size_t n) { return (int)cudaMalloc(p, n); }
static int rt_free_device(void *p) { return (int)cudaFree(p); }
static int rt_malloc_host(void **p, size_t n) { return (int)cudaMallocHost(p, n); }
static int rt_free_host(void *p) { return (int)cudaFreeHost(p); }
static int rt_memcpy_h2d(void *d, const void *s, size_t n)
{
    return (int)cudaMemcpy(d, s, n, cudaMemcpyHostToDevice);
}
static int rt_memcpy_d2h(void *d, const void *s, size_t n)
{
    return (int)cudaMemcpy(d, s, n, cudaMemcpyDeviceToHost);
}
static int rt_mem_get_info(size_t *f, size_t *t) { return (int)cudaMemGetInfo(f, t); }
static int rt_stream_create(void **s)
{
    return (int)cudaStreamCreateWithFlags((cudaStream_t *)s, cudaStreamNonBlocking);
}
static int rt_stream_destroy(void *s) { return (int)cudaStreamDestroy((cudaStream_t)s); }
static int rt_event_create(void **ev, int timing)
{
    return (int)cudaEventCreateWithFlags((cudaEvent_t *)ev, timing ? cudaEventDefault : cudaEventDisableTiming);
}
static int rt_event_destroy(void *ev) { return (int)cudaEventDestroy((cudaEvent_t)ev); }
static int rt_event_record(void *ev, void *s) { return (int)cudaEventRecord((cudaEvent_t)ev, (cudaStream_t)s); }
static int rt_event_query(void *ev) { return (int)cudaEventQuery((cudaEvent_t)ev); }
static int rt_event_sync(void *ev) { return (int)cudaEventSynchronize((cudaEvent_t)ev); }
static int rt_event_elapsed(float *ms, void *a, void *b)
{
    return (int)cudaEventElapsedTime(ms, (cudaEvent_t)a, (cudaEvent_t)b);
}
static int rt_memset_async(void *d, int v, size_t n, void *s)
{
    return (int)cudaMemsetAsync(d, v, n, (cudaStream_t)s);
}
static int rt_memcpy_d2h_async(void *d, const void *src, size_t n, void *s)
{
    return (int)cudaMemcpyAsync(d, src, n, cudaMemcpyDeviceToHost, (cudaStream_t)s);
}

/* A texture's device side: its mipmapped array and two texture objects. */
typedef struct rt_texture {
    cudaMipmappedArray_t array;
    cudaTextureObject_t obj[2];
} rt_texture;

static enum cudaTextureAddressMode address_mode(uint32_t flags, uint32_t clamp, uint32_t mirror)
{
    return (flags & clamp) ? cudaAddressModeClamp : (flags & mirror) ? cudaAddressModeMirror : cudaAddressModeWrap;
}

static int rt_texture_destroy(void *handle)
{
    rt_texture *t = (rt_texture *)handle;
    if (!t)
        return (int)cudaSuccess;
    cudaError_t first = cudaSuccess, e;
    for (int i = 0; i < 2; ++i)
        if (t->obj[i] && (e = cudaDestroyTextureObject(t->obj[i])) != cudaSuccess && first == cudaSuccess)
            first = e;
    if (t->array && (e = cudaFreeMipmappedArray(t->array)) != cudaSuccess && first == cudaSuccess)
        first = e;
    free(t);
    return (int)first;
}

static int rt_texture_create(const xs_texture *tex, const uint32_t *texels, void **handle, unsigned long long obj[2],
                             size_t *bytes)
{
    *handle = NULL;
    obj[0] = obj[1] = 0;
    *bytes = 0;
    rt_texture *t = calloc(1, sizeof *t);
    if (!t)
        return (int)cudaErrorMemoryAllocation;
    struct cudaChannelFormatDesc ch = cudaCreateChannelDesc(8, 8, 8, 8, cudaChannelFormatKindUnsigned);
    struct cudaExtent ext = {tex->width, tex->height, 0};
    cudaError_t e = cudaMallocMipmappedArray(&t->array, &ch, ext, tex->levels, 0);
    size_t at = 0; /* level l's first texel in texels */
    for (uint32_t l = 0; e == cudaSuccess && l < tex->levels; ++l) {
        cudaArray_t level = NULL;
        const uint32_t w = xs_tex_level_size(tex->width, l), h = xs_tex_level_size(tex->height, l);
        if ((e = cudaGetMipmappedArrayLevel(&level, t->array, l)) == cudaSuccess)
            e = cudaMemcpy2DToArray(level, 0, 0, texels + at, (size_t)w * 4u, (size_t)w * 4u, h,
                                    cudaMemcpyHostToDevice);
        *bytes += (size_t)w * h * 4u;
        at += (size_t)w * h;
    }
    for (int k = 0; e == cudaSuccess && k < 2; ++k) {
        struct cudaResourceDesc res;
        memset(&res, 0, sizeof res);
        res.resType = cudaResourceTypeMipmappedArray;
        res.res.mipmap.mipmap = t->array;
        struct cudaTextureDesc td;
        memset(&td, 0, sizeof td);
        td.addressMode[0] = address_mode(tex->flags, XS_TEX_CLAMP_S, XS_TEX_MIRROR_S);
        td.addressMode[1] = address_mode(tex->flags, XS_TEX_CLAMP_T, XS_TEX_MIRROR_T);
        td.filterMode = (tex->flags & XS_TEX_NEAREST) ? cudaFilterModePoint : cudaFilterModeLinear;
        td.mipmapFilterMode = cudaFilterModeLinear;
        td.readMode = cudaReadModeNormalizedFloat;
        td.sRGB = k;
        td.normalizedCoords = 1;
        td.maxAnisotropy = 1;
        td.minMipmapLevelClamp = 0.0f;
        td.maxMipmapLevelClamp = (float)(tex->levels - 1u);
        e = cudaCreateTextureObject(&t->obj[k], &res, &td, NULL);
    }
    if (e != cudaSuccess) {
        rt_texture_destroy(t);
        return (int)e;
    }
    obj[0] = (unsigned long long)t->obj[0];
    obj[1] = (unsigned long long)t->obj[1];
    *handle = t;
    return (int)cudaSuccess;
}

static const xs_cuda_rt real_rt = {
    .name = "CUDA runtime",
    .not_ready = (int)cudaErrorNotReady,
    .no_device = (int)cudaErrorNoDevice,
    .error_class = rt_error_class,
    .error_name = rt_error_name,
    .error_string = rt_error_string,
    .get_last_error = rt_get_last_error,
    .device_count = rt_device_count,
    .device_info = rt_device_info,
    .set_device = rt_set_device,
    .resident_blocks = xs_cuda_resident_blocks,
    .malloc_device = rt_malloc_device,
    .free_device = rt_free_device,
    .malloc_host = rt_malloc_host,
    .free_host = rt_free_host,
    .memcpy_h2d = rt_memcpy_h2d,
    .memcpy_d2h = rt_memcpy_d2h,
    .mem_get_info = rt_mem_get_info,
    .stream_create = rt_stream_create,
    .stream_destroy = rt_stream_destroy,
    .event_create = rt_event_create,
    .event_destroy = rt_event_destroy,
    .event_record = rt_event_record,
    .event_query = rt_event_query,
    .event_sync = rt_event_sync,
    .event_elapsed_ms = rt_event_elapsed,
    .memset_async = rt_memset_async,
    .memcpy_d2h_async = rt_memcpy_d2h_async,
    .launch_group = xs_cuda_launch_group,
    .scratch_bytes = xs_cuda_scratch_bytes,
    .tile_paths = xs_cuda_tile_paths,
    .wave_bytes = xs_cuda_wave_bytes,
    .texture_create = rt_texture_create,
    .texture_destroy = rt_texture_destroy,
};

const xs_cuda_rt *xs_cuda_rt_real(void) { return &real_rt; }
