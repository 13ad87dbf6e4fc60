/* The CUDA back end (host side): uploads the scene once with explicit copies,
 * then renders tiles on `slots` CUDA streams, each with its own device
 * scratch, output buffer and pinned host buffers. begin queues the tile's two
 * launches and the copies back of its pixels and counters, and returns; end
 * waits on the slot's event. Only the tile's pixel records and counters
 * cross the bus after the upload. Every CUDA error becomes XS_ERR_RENDER with
 * the runtime's text: rank 0 sees a failed tile, never a crash.
 * Built only when CMake found nvcc (XS_HAVE_CUDA); backend_nocuda.c
 * stands in otherwise. */
#include "render/xs_backend.h"
#include "kernels/cuda/kernel_cuda.h"

#include <cuda_runtime_api.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cuda_slot {
    cudaStream_t stream;
    cudaEvent_t done;
    void *scratch;
    size_t scratch_bytes;
    float *d_out, *h_out;
    xs_counters *d_counters, *h_counters;
    xs_tile_params tp;
    int busy;
} cuda_slot;

typedef struct cuda_backend {
    xs_backend base;
    int device;
    xs_scene_view dview; /* the scene view with device pointers */
    void *blobs[XS_SCENE_BLOBS_MAX];
    size_t blob_offset[XS_SCENE_BLOBS_MAX], blob_cap[XS_SCENE_BLOBS_MAX]; /* view field, bytes held */
    int blob_count;
    int fw, fh;
    size_t max_pixels;
    cuda_slot *slot;
    int slot_count;
} cuda_backend;

static xs_result cuda_fail(xs_err *err, const char *what, cudaError_t e)
{
    return xs_err_set(err, XS_ERR_RENDER, "CUDA: %s: %s (%s)", what, cudaGetErrorString(e),
                      cudaGetErrorName(e));
}

bool xs_cuda_compiled(void) { return true; }

int xs_cuda_device_count(char *why, size_t why_len)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        if (why)
            snprintf(why, why_len, "%s", cudaGetErrorString(e));
        (void)cudaGetLastError();
        return 0;
    }
    if (n == 0 && why)
        snprintf(why, why_len, "no CUDA device is visible");
    return n;
}

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

xs_result xs_cuda_device_info(int device, xs_gpu_info *info, xs_err *err)
{
    memset(info, 0, sizeof *info);
    struct cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, device);
    if (e != cudaSuccess)
        return cuda_fail(err, "reading the device's properties", e);
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
    return XS_OK;
}

static void cuda_destroy(xs_backend *self)
{
    cuda_backend *be = (cuda_backend *)self;
    cudaSetDevice(be->device);
    for (int i = 0; i < be->slot_count; ++i) {
        cuda_slot *s = &be->slot[i];
        if (s->stream)
            cudaStreamSynchronize(s->stream), cudaStreamDestroy(s->stream);
        if (s->done)
            cudaEventDestroy(s->done);
        cudaFree(s->scratch);
        cudaFree(s->d_out);
        cudaFree(s->d_counters);
        cudaFreeHost(s->h_out);
        cudaFreeHost(s->h_counters);
    }
    for (int i = 0; i < be->blob_count; ++i)
        cudaFree(be->blobs[i]);
    free(be->slot);
    free(be);
}

static xs_result cuda_begin_tile(xs_backend *self, int slot, const xs_tile_params *tp, xs_err *err)
{
    cuda_backend *be = (cuda_backend *)self;
    if (slot < 0 || slot >= be->slot_count || be->slot[slot].busy)
        return xs_err_set(err, XS_ERR_INTERNAL, "CUDA back end: slot %d is not free", slot);
    size_t pixels = (size_t)tp->width * (size_t)tp->height;
    if (pixels > be->max_pixels)
        return xs_err_set(err, XS_ERR_INTERNAL, "CUDA back end: tile of %zu pixels over the %zu allocated",
                          pixels, be->max_pixels);
    cuda_slot *s = &be->slot[slot];
    cudaError_t e = cudaSetDevice(be->device);
    if (e != cudaSuccess)
        return cuda_fail(err, "selecting the device", e);
    size_t need = xs_cuda_scratch_bytes((int)pixels, tp->spp);
    if (need > s->scratch_bytes) { /* more samples than planned: grow once */
        cudaFree(s->scratch);
        s->scratch = NULL;
        s->scratch_bytes = 0;
        if ((e = cudaMalloc(&s->scratch, need)) != cudaSuccess)
            return cuda_fail(err, "allocating the tile's sample scratch", e);
        s->scratch_bytes = need;
    }
    size_t out_bytes = pixels * (size_t)xs_aov_channels(tp->aovs) * sizeof(float);
    if ((e = cudaMemsetAsync(s->d_counters, 0, sizeof *s->d_counters, s->stream)) != cudaSuccess)
        return cuda_fail(err, "clearing the tile's counters", e);
    int le = xs_cuda_launch_tile(&be->dview, tp, s->scratch, s->d_out, s->d_counters, s->stream);
    if (le != 0)
        return cuda_fail(err, "launching the tile's kernels", (cudaError_t)le);
    if ((e = cudaMemcpyAsync(s->h_out, s->d_out, out_bytes, cudaMemcpyDeviceToHost, s->stream)) !=
            cudaSuccess ||
        (e = cudaMemcpyAsync(s->h_counters, s->d_counters, sizeof *s->h_counters, cudaMemcpyDeviceToHost,
                             s->stream)) != cudaSuccess ||
        (e = cudaEventRecord(s->done, s->stream)) != cudaSuccess)
        return cuda_fail(err, "queueing the tile's copy back", e);
    s->tp = *tp;
    s->busy = 1;
    return XS_OK;
}

static xs_result cuda_end_tile(xs_backend *self, int slot, float *rgba, xs_counters *counters,
                               xs_err *err)
{
    cuda_backend *be = (cuda_backend *)self;
    if (slot < 0 || slot >= be->slot_count || !be->slot[slot].busy)
        return xs_err_set(err, XS_ERR_INTERNAL, "CUDA back end: slot %d holds no tile", slot);
    cuda_slot *s = &be->slot[slot];
    s->busy = 0;
    cudaError_t e = cudaEventSynchronize(s->done);
    if (e != cudaSuccess)
        return cuda_fail(err, "rendering the tile", e);
    size_t n = (size_t)s->tp.width * (size_t)s->tp.height * (size_t)xs_aov_channels(s->tp.aovs);
    memcpy(rgba, s->h_out, n * sizeof(float));
    xs_counters_add(counters, s->h_counters);
    return XS_OK;
}

/* A new frame of an animated scene: each array's rewritten byte range is
 * copied (an array that grew, or is new, is allocated again and copied
 * whole), then the device view takes the host view's counts, camera and
 * motion fields with the device pointers patched in. Called with no tile
 * in flight (the worker drains first), so plain synchronous copies do. */
static xs_result cuda_update(xs_backend *self, const xs_scene *scene, xs_err *err)
{
    cuda_backend *be = (cuda_backend *)self;
    for (int i = 0; i < be->slot_count; ++i)
        if (be->slot[i].busy)
            return xs_err_set(err, XS_ERR_INTERNAL, "CUDA back end: the scene changed under a tile in flight");
    cudaError_t e = cudaSetDevice(be->device);
    if (e != cudaSuccess)
        return cuda_fail(err, "selecting the device", e);
    xs_scene_view v = xs_scene_view_for(scene, be->fw, be->fh);
    xs_scene_blob blobs[XS_SCENE_BLOBS_MAX];
    int nb = xs_scene_blobs(scene, &v, blobs, XS_SCENE_BLOBS_MAX);
    for (int i = 0; i < nb; ++i) {
        const xs_scene_blob *b = &blobs[i];
        int k = 0;
        while (k < be->blob_count && be->blob_offset[k] != b->view_offset)
            ++k;
        if (k == be->blob_count) { /* an array the device has not held yet */
            if (k == XS_SCENE_BLOBS_MAX)
                return xs_err_set(err, XS_ERR_INTERNAL, "CUDA back end: too many scene arrays");
            be->blobs[k] = NULL;
            be->blob_cap[k] = 0;
            be->blob_offset[k] = b->view_offset;
            be->blob_count++;
        }
        size_t lo = b->dirty_lo, hi = b->dirty_hi;
        if (b->bytes > be->blob_cap[k]) {
            cudaFree(be->blobs[k]);
            be->blobs[k] = NULL;
            be->blob_cap[k] = 0;
            if ((e = cudaMalloc(&be->blobs[k], b->bytes)) != cudaSuccess) {
                char what[96];
                snprintf(what, sizeof what, "allocating the scene's %s (%zu bytes)", b->name, b->bytes);
                return cuda_fail(err, what, e);
            }
            be->blob_cap[k] = b->bytes;
            lo = 0, hi = b->bytes;
        }
        if (hi > lo && (e = cudaMemcpy((char *)be->blobs[k] + lo, (const char *)b->host + lo, hi - lo,
                                       cudaMemcpyHostToDevice)) != cudaSuccess) {
            char what[96];
            snprintf(what, sizeof what, "updating the scene's %s (%zu bytes)", b->name, hi - lo);
            return cuda_fail(err, what, e);
        }
        memcpy((char *)&v + b->view_offset, &be->blobs[k], sizeof be->blobs[k]);
    }
    be->dview = v;
    return XS_OK;
}

xs_result xs_backend_cuda_create(const xs_scene *scene, int fw, int fh, int device, int slots,
                                 int max_tile_pixels, int max_spp, xs_backend **out, xs_err *err)
{
    char why[256] = "";
    int count = xs_cuda_device_count(why, sizeof why);
    if (device < 0 || device >= count)
        return xs_err_set(err, XS_ERR_INVALID, "CUDA back end: no CUDA device %d (%d visible%s%s)", device,
                          count, why[0] ? ": " : "", why);
    cuda_backend *be = calloc(1, sizeof *be);
    if (!be)
        return xs_err_set(err, XS_ERR_NOMEM, "CUDA back end: out of memory");
    be->base.name = "cuda";
    be->base.begin_tile = cuda_begin_tile;
    be->base.end_tile = cuda_end_tile;
    be->base.update = cuda_update;
    be->base.destroy = cuda_destroy;
    be->device = device;
    be->fw = fw;
    be->fh = fh;
    be->max_pixels = (size_t)(max_tile_pixels > 0 ? max_tile_pixels : 1);
    xs_gpu_info gi;
    xs_result r = xs_cuda_device_info(device, &gi, err);
    if (r != XS_OK) {
        free(be);
        return r;
    }
    snprintf(be->base.device, sizeof be->base.device, "CUDA %d: %s, %d SMs, PCI %s", device, gi.name,
             gi.sm_count, gi.pci_bus_id);
    cudaError_t e = cudaSetDevice(device);
    if (e != cudaSuccess) {
        free(be);
        return cuda_fail(err, "selecting the device", e);
    }
    /* the scene, once: each array with an explicit copy, its device pointer
     * patched into the device view */
    be->dview = xs_scene_view_for(scene, fw, fh);
    xs_scene_blob blobs[XS_SCENE_BLOBS_MAX];
    int nb = xs_scene_blobs(scene, &be->dview, blobs, XS_SCENE_BLOBS_MAX);
    for (int i = 0; i < nb; ++i) {
        void *d = NULL;
        if ((e = cudaMalloc(&d, blobs[i].bytes)) != cudaSuccess ||
            (e = cudaMemcpy(d, blobs[i].host, blobs[i].bytes, cudaMemcpyHostToDevice)) != cudaSuccess) {
            cudaFree(d);
            char what[96];
            snprintf(what, sizeof what, "uploading the scene's %s (%zu bytes)", blobs[i].name, blobs[i].bytes);
            cuda_destroy(&be->base);
            return cuda_fail(err, what, e);
        }
        be->blob_offset[be->blob_count] = blobs[i].view_offset;
        be->blob_cap[be->blob_count] = blobs[i].bytes;
        be->blobs[be->blob_count++] = d;
        memcpy((char *)&be->dview + blobs[i].view_offset, &d, sizeof d);
    }
    be->slot_count = slots < 1 ? 1 : slots;
    be->base.slots = be->slot_count;
    be->slot = calloc((size_t)be->slot_count, sizeof *be->slot);
    if (!be->slot) {
        cuda_destroy(&be->base);
        return xs_err_set(err, XS_ERR_NOMEM, "CUDA back end: out of memory");
    }
    size_t out_bytes = be->max_pixels * (size_t)xs_aov_channels(0xffffffffu) * sizeof(float);
    size_t scratch = xs_cuda_scratch_bytes((int)be->max_pixels, max_spp > 0 ? max_spp : 1);
    for (int i = 0; i < be->slot_count; ++i) {
        cuda_slot *s = &be->slot[i];
        if ((e = cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking)) != cudaSuccess ||
            (e = cudaEventCreateWithFlags(&s->done, cudaEventDisableTiming)) != cudaSuccess ||
            (e = cudaMalloc(&s->scratch, scratch)) != cudaSuccess ||
            (e = cudaMalloc((void **)&s->d_out, out_bytes)) != cudaSuccess ||
            (e = cudaMalloc((void **)&s->d_counters, sizeof *s->d_counters)) != cudaSuccess ||
            (e = cudaMallocHost((void **)&s->h_out, out_bytes)) != cudaSuccess ||
            (e = cudaMallocHost((void **)&s->h_counters, sizeof *s->h_counters)) != cudaSuccess) {
            cuda_destroy(&be->base);
            return cuda_fail(err, "allocating a tile slot", e);
        }
        s->scratch_bytes = scratch;
    }
    *out = &be->base;
    return XS_OK;
}
