/* A fake CUDA device for the back end's logic (see fake_cuda_rt.h). */
#include "fake_cuda_rt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/kernel_cuda.h"
#include "kernels/xs_path.h"
#include "render/xs_backend.h"

static fake_gpu *G;

/* ---- tracked memory ------------------------------------------------------------ */

typedef struct block {
    char *p;
    size_t n;
    bool device;
} block;

static block *blocks;
static int nblocks, cap_blocks;

static void track(void *p, size_t n, bool device)
{
    if (nblocks == cap_blocks) {
        cap_blocks = cap_blocks ? 2 * cap_blocks : 64;
        blocks = realloc(blocks, (size_t)cap_blocks * sizeof *blocks);
    }
    blocks[nblocks++] = (block){(char *)p, n, device};
}

static block *find(const void *p)
{
    for (int i = 0; i < nblocks; ++i)
        if ((const char *)p >= blocks[i].p && (const char *)p < blocks[i].p + (blocks[i].n ? blocks[i].n : 1))
            return &blocks[i];
    return NULL;
}

static bool is_device(const void *p, size_t n)
{
    block *b = find(p);
    return b && b->device && (const char *)p + n <= b->p + b->n;
}

static int untrack(void *p, bool device)
{
    for (int i = 0; i < nblocks; ++i)
        if (blocks[i].p == (char *)p && blocks[i].device == device) {
            if (device)
                G->used -= blocks[i].n;
            free(blocks[i].p);
            blocks[i] = blocks[--nblocks];
            return FAKE_OK;
        }
    return FAKE_INVALID_VALUE;
}

void fake_cuda_reset(void)
{
    for (int i = 0; i < nblocks; ++i)
        free(blocks[i].p);
    free(blocks);
    blocks = NULL;
    nblocks = cap_blocks = 0;
}

/* ---- CUDA's error rules ---------------------------------------------------------- */

/* Every call starts here: a sticky error answers for it. */
static int enter(void)
{
    G->calls++;
    return G->sticky;
}

static int fail_with(int e)
{
    G->last_error = e;
    return e;
}

static int fake_error_class(int e)
{
    switch (e) {
    case FAKE_OK: return XS_CUDA_ERR_NONE;
    case FAKE_ILLEGAL_ADDRESS: return XS_CUDA_ERR_STICKY;
    case FAKE_INSUFFICIENT_DRIVER:
    case FAKE_NO_DEVICE: return XS_CUDA_ERR_NODEV;
    default: return XS_CUDA_ERR_CALL;
    }
}

static const char *fake_error_name(int e)
{
    switch (e) {
    case FAKE_OK: return "cudaSuccess";
    case FAKE_INVALID_VALUE: return "cudaErrorInvalidValue";
    case FAKE_OUT_OF_MEMORY: return "cudaErrorMemoryAllocation";
    case FAKE_INSUFFICIENT_DRIVER: return "cudaErrorInsufficientDriver";
    case FAKE_NO_DEVICE: return "cudaErrorNoDevice";
    case FAKE_NOT_READY: return "cudaErrorNotReady";
    case FAKE_ILLEGAL_ADDRESS: return "cudaErrorIllegalAddress";
    default: return "cudaErrorUnknown";
    }
}

static const char *fake_error_string(int e)
{
    switch (e) {
    case FAKE_OK: return "no error";
    case FAKE_INVALID_VALUE: return "invalid argument";
    case FAKE_OUT_OF_MEMORY: return "out of memory";
    case FAKE_INSUFFICIENT_DRIVER: return "CUDA driver version is insufficient for CUDA runtime version";
    case FAKE_NO_DEVICE: return "no CUDA-capable device is detected";
    case FAKE_NOT_READY: return "device not ready";
    case FAKE_ILLEGAL_ADDRESS: return "an illegal memory access was encountered";
    default: return "unknown error";
    }
}

static int fake_get_last_error(void)
{
    G->calls++;
    int e = G->sticky ? G->sticky : G->last_error;
    G->last_error = 0;
    return e;
}

/* ---- the calls ------------------------------------------------------------------------ */

static int fake_device_count(int *n)
{
    int e = enter();
    *n = 0;
    if (e)
        return fail_with(e);
    if (G->count_error)
        return fail_with(G->count_error);
    if (G->devices == 0)
        return fail_with(FAKE_NO_DEVICE);
    *n = G->devices;
    return FAKE_OK;
}

static int fake_device_info(int device, struct xs_gpu_info *info)
{
    int e = enter();
    if (e)
        return fail_with(e);
    if (device < 0 || device >= G->devices)
        return fail_with(FAKE_INVALID_VALUE);
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "fake GPU");
    snprintf(info->pci_bus_id, sizeof info->pci_bus_id, "0000:%02x:00.0", device + 1);
    info->sm_count = G->sm_count;
    info->fp32_lanes_per_sm = 128;
    info->clock_hz = 1.98e9;
    info->memory_bytes = (double)G->memory;
    info->cc_major = 9;
    return FAKE_OK;
}

static int fake_set_device(int d)
{
    int e = enter();
    return e ? fail_with(e) : d >= 0 && d < G->devices ? FAKE_OK : fail_with(FAKE_INVALID_VALUE);
}

static int fake_resident_blocks(int *b)
{
    int e = enter();
    *b = G->resident_blocks;
    return e ? fail_with(e) : FAKE_OK;
}

static int fake_malloc_device(void **p, size_t n)
{
    int e = enter();
    *p = NULL;
    if (e)
        return fail_with(e);
    if (n > G->memory - G->used)
        return fail_with(FAKE_OUT_OF_MEMORY);
    *p = calloc(1, n ? n : 1);
    track(*p, n, true);
    G->used += n;
    return FAKE_OK;
}

static int fake_free_device(void *p)
{
    int e = enter();
    if (!p)
        return FAKE_OK;
    int u = untrack(p, true); /* freed even on a lost device: the process keeps its memory tidy */
    return e ? e : u ? fail_with(u) : FAKE_OK;
}

static int fake_malloc_host(void **p, size_t n)
{
    int e = enter();
    *p = NULL;
    if (e)
        return fail_with(e);
    *p = calloc(1, n ? n : 1);
    track(*p, n, false);
    return FAKE_OK;
}

static int fake_free_host(void *p)
{
    int e = enter();
    if (!p)
        return FAKE_OK;
    int u = untrack(p, false);
    return e ? e : u ? fail_with(u) : FAKE_OK;
}

static int fake_memcpy_h2d(void *d, const void *s, size_t n)
{
    int e = enter();
    if (e)
        return fail_with(e);
    if (!is_device(d, n))
        return fail_with(FAKE_INVALID_VALUE);
    memcpy(d, s, n);
    G->h2d_bytes += n;
    return FAKE_OK;
}

static int fake_memcpy_d2h(void *d, const void *s, size_t n)
{
    int e = enter();
    if (e)
        return fail_with(e);
    if (!is_device(s, n))
        return fail_with(FAKE_INVALID_VALUE);
    memcpy(d, s, n);
    return FAKE_OK;
}

static int fake_mem_get_info(size_t *f, size_t *t)
{
    int e = enter();
    if (e)
        return fail_with(e);
    if (G->mem_info_error)
        return fail_with(G->mem_info_error);
    *t = G->memory;
    *f = G->memory - G->used;
    return FAKE_OK;
}

typedef struct fake_event {
    int polls_left;
} fake_event;

static int fake_stream_create(void **s)
{
    int e = enter();
    *s = e ? NULL : malloc(1);
    if (*s)
        track(*s, 1, false);
    return e ? fail_with(e) : FAKE_OK;
}

static int fake_stream_destroy(void *s)
{
    int e = enter();
    untrack(s, false);
    return e;
}

static int fake_event_create(void **ev, int timing)
{
    (void)timing;
    int e = enter();
    *ev = e ? NULL : calloc(1, sizeof(fake_event));
    if (*ev)
        track(*ev, sizeof(fake_event), false);
    return e ? fail_with(e) : FAKE_OK;
}

static int fake_event_destroy(void *ev)
{
    int e = enter();
    untrack(ev, false);
    return e;
}

static int fake_event_record(void *ev, void *s)
{
    (void)s;
    int e = enter();
    if (e)
        return fail_with(e);
    ((fake_event *)ev)->polls_left = G->not_ready_polls;
    return FAKE_OK;
}

/* A sync or a query: where an asynchronous fault shows. */
static int fake_event_wait(void *ev, bool query)
{
    int e = enter();
    if (!e && G->pending_sticky)
        e = G->sticky = G->pending_sticky;
    if (e)
        return fail_with(e);
    fake_event *f = (fake_event *)ev;
    if (query && f->polls_left > 0) {
        f->polls_left--;
        return FAKE_NOT_READY; /* not an error: the last error stays */
    }
    f->polls_left = 0;
    return FAKE_OK;
}

static int fake_event_query(void *ev) { return fake_event_wait(ev, true); }
static int fake_event_sync(void *ev) { return fake_event_wait(ev, false); }

static int fake_event_elapsed(float *ms, void *a, void *b)
{
    (void)a, (void)b;
    int e = enter();
    *ms = G->kernel_ms;
    return e ? fail_with(e) : FAKE_OK;
}

static int fake_memset_async(void *d, int v, size_t n, void *s)
{
    (void)s;
    int e = enter();
    if (e)
        return fail_with(e);
    if (!is_device(d, n))
        return fail_with(FAKE_INVALID_VALUE);
    memset(d, v, n);
    return FAKE_OK;
}

static int fake_memcpy_d2h_async(void *d, const void *src, size_t n, void *s)
{
    (void)s;
    int e = enter();
    if (e)
        return fail_with(e);
    if (!is_device(src, n))
        return fail_with(FAKE_INVALID_VALUE);
    memcpy(d, src, n);
    return FAKE_OK;
}

static size_t fake_scratch_bytes(int pixels, int spp)
{
    return (size_t)pixels * (size_t)((spp + 15) / 16) * 48u;
}

static long long fake_tile_paths(int pixels, int spp)
{
    return (long long)pixels * (long long)(spp < 16 ? (spp > 0 ? spp : 1) : 16);
}

static size_t fake_wave_bytes(long long paths) { return (size_t)paths * 256u; }

/* ---- textures: a device array of the level bytes, two object numbers ------------ */

typedef struct fake_texture {
    void *array;
    unsigned long long obj[2];
} fake_texture;

static int fake_texture_create(const xs_texture *t, const uint32_t *texels, void **handle, unsigned long long obj[2],
                               size_t *bytes)
{
    *handle = NULL;
    obj[0] = obj[1] = 0;
    *bytes = 0;
    int e = enter();
    if (e)
        return fail_with(e);
    size_t n = 0;
    for (uint32_t l = 0; l < t->levels; ++l)
        n += (size_t)xs_tex_level_size(t->width, l) * xs_tex_level_size(t->height, l) * 4u;
    if (t->levels < 1 || t->levels > XS_TEX_LEVELS || !texels)
        return fail_with(FAKE_INVALID_VALUE);
    if (G->used + n > G->memory)
        return fail_with(FAKE_OUT_OF_MEMORY);
    fake_texture *ft = calloc(1, sizeof *ft);
    ft->array = malloc(n ? n : 1);
    memcpy(ft->array, texels, n); /* the levels' texels, back to back, read as a copy would */
    track(ft->array, n, true);
    G->used += n;
    obj[0] = ft->obj[0] = (unsigned long long)++G->texture_objects;
    obj[1] = ft->obj[1] = (unsigned long long)++G->texture_objects;
    G->textures_live++;
    *bytes = n;
    *handle = ft;
    return FAKE_OK;
}

static int fake_texture_destroy(void *handle)
{
    fake_texture *ft = (fake_texture *)handle;
    if (!ft)
        return FAKE_OK;
    untrack(ft->array, true);
    free(ft);
    G->textures_live--;
    return FAKE_OK;
}

float fake_pixel(const xs_tile_params *tp, int x, int y, int c)
{
    return (float)tp->frame * 1000.0f + (float)x + (float)y * 0.001f + (float)c * 0.1f + (float)tp->spp * 1e-4f;
}

/* Every pointer of the scene view: NULL or device memory. */
static bool view_ok(const xs_scene_view *v)
{
    const void *p[] = {v->tris,      v->attrs,       v->wnodes,         v->meshes,    v->instances,
                       v->tex_objects, v->materials, v->textures,       v->tex_pool,  v->srgb_to_linear,
                       v->lights,    v->light_cdf,   v->light_pmf,      v->inst_light_base, v->tri_light,
                       v->env,       v->env_row_cdf, v->env_col_cdf,    v->ggx_tables, v->filter_icdf,
                       v->motion_xf, v->motion_tris, v->motion_nodes,      v->nodes,
                       v->tex_levels, v->tex_page,   v->tex_request,    v->tex_asked};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; ++i)
        if (p[i] && !is_device(p[i], 1))
            return false;
    /* a host function or its context would fault on a GPU */
    return v->tex_fetch == NULL && v->tex_ctx == NULL;
}

static int fake_launch_group(const xs_scene_view *view, const xs_cuda_group *g, void *wave, long long wave_paths,
                             void *stream)
{
    (void)stream;
    int e = enter();
    if (e)
        return fail_with(e);
    G->launches++;
    /* the launcher's check is cudaGetLastError: it reads a stale error too */
    int stale = G->last_error;
    G->last_error = 0;
    if (stale)
        return stale;
    if (G->fail_launch) {
        int f = G->fail_launch;
        G->fail_launch = 0;
        return fail_with(f);
    }
    if (g->count > G->max_group)
        G->max_group = g->count;
    G->view = *view;
    bool fault = !view_ok(view);
    /* the wavefront's paths: device memory of the size the back end asked for */
    if (g->integrator == XS_CUDA_WAVEFRONT) {
        G->wavefront_launches++;
        if (wave_paths < 16 || !is_device(wave, fake_wave_bytes(wave_paths)))
            fault = true;
        if (wave_paths > G->max_wave)
            G->max_wave = wave_paths;
    } else {
        G->megakernel_launches++;
    }
    for (int i = 0; i < g->count && !fault; ++i) {
        const xs_cuda_tile *t = &g->tile[i];
        const xs_tile_params *tp = &t->tp;
        const int ch = xs_aov_channels(tp->aovs);
        size_t px = (size_t)tp->width * (size_t)tp->height;
        if (!is_device(t->out, px * (size_t)ch * sizeof(float)) || !is_device(t->counters, sizeof(xs_counters)) ||
            !is_device(t->scratch, fake_scratch_bytes((int)px, tp->spp))) {
            fault = true;
            break;
        }
        if (G->run_kernels) { /* the real kernels, one host thread, as the CUDA entry runs them */
            xs_partial *scratch = (xs_partial *)t->scratch;
            int chunks = xs_chunk_count(tp->spp);
            for (int k = 0; k < chunks; ++k)
                for (size_t p = 0; p < px; ++p)
                    xs_render_chunk(view, tp, tp->x0 + (int)(p % (size_t)tp->width),
                                    tp->y0 + (int)(p / (size_t)tp->width), k, &scratch[(size_t)k * px + p],
                                    t->counters);
            for (size_t p = 0; p < px; ++p) {
                xs_partial acc;
                xs_partial_zero(&acc);
                for (int k = 0; k < chunks; ++k)
                    xs_partial_merge(&acc, &scratch[(size_t)k * px + p]);
                xs_pixel_finish(&acc, tp, t->out + p * (size_t)ch);
            }
            continue;
        }
        for (int y = 0; y < tp->height; ++y)
            for (int x = 0; x < tp->width; ++x)
                for (int c = 0; c < ch; ++c)
                    t->out[((size_t)y * (size_t)tp->width + (size_t)x) * (size_t)ch + (size_t)c] =
                        fake_pixel(tp, tp->x0 + x, tp->y0 + y, c);
        t->counters->camera_rays += (uint64_t)px * (uint64_t)tp->spp;
    }
    if (fault) {
        G->view_faults++;
        G->pending_sticky = FAKE_ILLEGAL_ADDRESS; /* as a GPU would: reported later, for good */
    }
    if (G->lose_at_launch && G->launches == G->lose_at_launch)
        G->pending_sticky = FAKE_ILLEGAL_ADDRESS;
    return FAKE_OK;
}

static const xs_cuda_rt fake_rt = {
    .name = "fake CUDA device",
    .not_ready = FAKE_NOT_READY,
    .no_device = FAKE_NO_DEVICE,
    .error_class = fake_error_class,
    .error_name = fake_error_name,
    .error_string = fake_error_string,
    .get_last_error = fake_get_last_error,
    .device_count = fake_device_count,
    .device_info = fake_device_info,
    .set_device = fake_set_device,
    .resident_blocks = fake_resident_blocks,
    .malloc_device = fake_malloc_device,
    .free_device = fake_free_device,
    .malloc_host = fake_malloc_host,
    .free_host = fake_free_host,
    .memcpy_h2d = fake_memcpy_h2d,
    .memcpy_d2h = fake_memcpy_d2h,
    .mem_get_info = fake_mem_get_info,
    .stream_create = fake_stream_create,
    .stream_destroy = fake_stream_destroy,
    .event_create = fake_event_create,
    .event_destroy = fake_event_destroy,
    .event_record = fake_event_record,
    .event_query = fake_event_query,
    .event_sync = fake_event_sync,
    .event_elapsed_ms = fake_event_elapsed,
    .memset_async = fake_memset_async,
    .memcpy_d2h_async = fake_memcpy_d2h_async,
    .launch_group = fake_launch_group,
    .scratch_bytes = fake_scratch_bytes,
    .tile_paths = fake_tile_paths,
    .wave_bytes = fake_wave_bytes,
    .texture_create = fake_texture_create,
    .texture_destroy = fake_texture_destroy,
};

const xs_cuda_rt *fake_cuda_rt(fake_gpu *g)
{
    G = g;
    if (!g->memory)
        g->memory = (size_t)1 << 30;
    if (!g->sm_count)
        g->sm_count = 132;
    if (!g->resident_blocks)
        g->resident_blocks = 5;
    if (g->kernel_ms == 0.0f)
        g->kernel_ms = 2.0f;
    if (g->run_kernels) {
        /* the host running the kernels cannot read a texture object
         * (tex2DLod): a device without them, whose textures are pages */
        static xs_cuda_rt pages_only;
        pages_only = fake_rt;
        pages_only.texture_create = NULL;
        return &pages_only;
    }
    return &fake_rt;
}
