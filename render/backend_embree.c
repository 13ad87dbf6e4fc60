/* The Embree back end: the CPU back end (render/backend_cpu.c: its
 * threads, the wavefront integrator, shading, sampling, textures, film,
 * AOVs, parts) with the wavefront's two traversal stages answered by
 * Embree 3 (Debian's libembree-dev) through the kernels' tracer hook
 * (kernels/cpu/kernel_cpu.h): closest hits and occlusion, one rtcIntersect1
 * or rtcOccluded1 a ray. Built only where CMake finds Embree; elsewhere
 * xs_backend_embree_create says it is not built in.
 *
 * Embree's copy of a frame's scene: each instanced mesh one triangle
 * geometry in a scene of its own, its vertex buffer shared with our
 * triangles (xs_wtri: v0, v1, v2 16 bytes apart, 48 a triangle, so one
 * 16-byte stride walks them) and an index buffer 0, 1, 2, ...; each still
 * identity instance that mesh's triangles straight in the top scene, each
 * other instance an instance geometry with our world-from-object
 * transform; geometry ID = our instance index, so a hit maps back to (the
 * mesh's first triangle + primID, instance). Barycentrics u, v are Embree's
 * weights of v1 and v2, which is our convention; the geometric normal is
 * the shading's own (from the triangle and the instance, as on `cpu`).
 * Alpha-masked triangles (XS_WTRI_ALPHA) are tested in Embree's intersect
 * and occlusion filter functions by xs_alpha_passes, as our traversal
 * tests them; meshes without one have no filter.
 *
 * Motion blur: a ray's time is its path's (xs_path_time). A mesh deforming
 * within the shutter gets a vertex buffer a motion step (Embree
 * interpolates corners linearly, as xs_tri_moving); a moving instance gets
 * its steps as Embree quaternion decompositions (M = T R S, the rotation
 * interpolated spherically the short way, the rest linearly: ours, see
 * xs_motion.h). Embree's S is upper triangular; ours is the polar
 * decomposition's, which is diagonal (to rounding) when the scale is along
 * the object's own axes; a moving instance with any other scale or a shear
 * is refused with the reason (at create, and at update for a frame that
 * has one: the frame's tiles then fail with it). The camera's motion is
 * ours alone.
 *
 * Determinism: every frame's Embree scene is built by a device with one
 * build thread (threads=1: no task threads, so the same triangles always
 * give the same BVH, whatever --threads is), RTC_SCENE_FLAG_ROBUST
 * (watertight), RTC_BUILD_QUALITY_HIGH; traversal is one ray a call
 * (rtcIntersect1, rtcOccluded1), so a ray's answer depends on that ray
 * alone, never on its batch, thread, tile or rank (tests/test_embree.c and
 * tests/embree.sh check the bits). Embree's 8-wide packets took up to a
 * quarter less CPU time (docs/benchmarks.md) but are not used: a packet orders its
 * traversal by all its lanes and falls back to single-ray code when few
 * are active, so which of two triangles at the same distance (a shared
 * edge) wins, or whether a ray grazing an edge hits, could depend on the
 * ray's packet mates, which depend on the tile size. Pixels differ from
 * `cpu`'s (another triangle test and another tree), so the journal's key
 * names the back end (render/settings.c).
 *
 * Errors: Embree's device errors (the error callback) become xs_err
 * messages: at create and update the build fails with Embree's text;
 * during a tile the tile fails (XS_ERR_RENDER). The megakernel is not
 * offered (the hook is the wavefront's).
 */
#include "render/xs_backend.h"

#if defined(XS_HAVE_EMBREE)

#include "kernels/cpu/kernel_cpu.h"
#include "kernels/xs_wavefront.h"

#include <embree3/rtcore.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct embree_backend {
    xs_backend base;
    xs_backend *cpu; /* the CPU back end that runs the tiles */
    xs_cpu_tracer tracer;
    RTCDevice dev;
    RTCScene top; /* the frame's scene; NULL before the first build */
    unsigned *index; /* 0, 1, 2, ... : every mesh's index buffer */
    size_t index_tris;
    int fw, fh;
    pthread_mutex_t lock; /* guards the device error and the memory counts below */
    enum RTCError dev_error;   /* the first error Embree reported since it was last read */
    char dev_msg[256];
    int64_t mem_now, mem_peak; /* Embree's own allocations (its memory monitor): now and at most */
} embree_backend;

/* A query's context: Embree's, then the view the filters read. */
typedef struct eb_ctx {
    struct RTCIntersectContext rc;
    const xs_scene_view *s;
} eb_ctx;

static const char *error_name(enum RTCError e)
{
    switch (e) {
    case RTC_ERROR_NONE: return "no error";
    case RTC_ERROR_UNKNOWN: return "unknown error";
    case RTC_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case RTC_ERROR_INVALID_OPERATION: return "invalid operation";
    case RTC_ERROR_OUT_OF_MEMORY: return "out of memory";
    case RTC_ERROR_UNSUPPORTED_CPU: return "unsupported CPU";
    case RTC_ERROR_CANCELLED: return "cancelled";
    }
    return "error";
}

static void on_error(void *user, enum RTCError code, const char *str)
{
    embree_backend *be = (embree_backend *)user;
    pthread_mutex_lock(&be->lock);
    if (be->dev_error == RTC_ERROR_NONE) {
        be->dev_error = code;
        snprintf(be->dev_msg, sizeof be->dev_msg, "%s", str ? str : "");
    }
    pthread_mutex_unlock(&be->lock);
}

/* XS_OK, or the error Embree reported (cleared) as `kind` with what. */
static xs_result take_error(embree_backend *be, xs_result kind, const char *what, xs_err *err)
{
    pthread_mutex_lock(&be->lock);
    enum RTCError e = be->dev_error;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", be->dev_msg);
    be->dev_error = RTC_ERROR_NONE;
    be->dev_msg[0] = '\0';
    pthread_mutex_unlock(&be->lock);
    if (e == RTC_ERROR_NONE)
        return XS_OK;
    return xs_err_set(err, kind, "Embree back end: %s: Embree: %s%s%s", what, error_name(e), msg[0] ? ": " : "",
                      msg);
}

/* Alpha masks: a candidate hit on a masked triangle stands only where
 * xs_alpha_passes says the surface is (the intersect and occlusion
 * filters both). */
static void alpha_filter(const struct RTCFilterFunctionNArguments *a)
{
    const xs_scene_view *s = ((const eb_ctx *)(const void *)a->context)->s;
    /* RTCHitN is N lanes a field (rtcore_ray.h; its accessors are C++):
     * Ng x y z, u, v, primID, geomID, instID[0] */
    const unsigned N = a->N;
    const float *hf = (const float *)(const void *)a->hit;
    const unsigned *hu = (const unsigned *)(const void *)a->hit;
    for (unsigned k = 0; k < N; ++k) {
        if (a->valid[k] != -1)
            continue;
        unsigned inst = hu[7 * N + k];
        if (inst == RTC_INVALID_GEOMETRY_ID)
            inst = hu[6 * N + k];
        const uint32_t tri = s->meshes[s->instances[inst].mesh].tri_first + hu[5 * N + k];
        if ((s->tris[tri].flags & XS_WTRI_ALPHA) != 0u && !xs_alpha_passes(s, tri, hf[3 * N + k], hf[4 * N + k]))
            a->valid[k] = 0;
    }
}

static void ray_set(struct RTCRay *r, const xs_vec3 *o, const xs_vec3 *d, float tmax)
{
    r->org_x = o->x, r->org_y = o->y, r->org_z = o->z;
    r->dir_x = d->x, r->dir_y = d->y, r->dir_z = d->z;
    r->tnear = 0.0f;
    r->tfar = tmax;
    r->time = 0.0f;
    r->mask = 0xFFFFFFFFu;
    r->id = 0u;
    r->flags = 0u;
}

static void eb_intersect(const void *ctx, const xs_scene_view *s, const struct xs_wf *w, uint32_t q, uint32_t n,
                         xs_counters *c)
{
    const embree_backend *be = (const embree_backend *)ctx;
    eb_ctx ec;
    rtcInitIntersectContext(&ec.rc);
    ec.s = s;
    for (uint32_t j = 0; j < n; ++j) {
        const uint32_t i = w->queue[q][j];
        const xs_path *p = &w->path[i];
        if (p->bounce == 0u)
            c->camera_rays++;
        else
            c->bounce_rays++;
        struct RTCRayHit rh;
        ray_set(&rh.ray, &p->o, &p->d, INFINITY);
        rh.ray.time = xs_path_time(s, p->key, p->sample); /* read only under motion blur */
        rh.hit.geomID = RTC_INVALID_GEOMETRY_ID;
        rh.hit.primID = RTC_INVALID_GEOMETRY_ID;
        rh.hit.instID[0] = RTC_INVALID_GEOMETRY_ID;
        rtcIntersect1(be->top, &ec.rc, &rh);
        xs_hit *h = &w->hit[i];
        if (rh.hit.geomID == RTC_INVALID_GEOMETRY_ID) { /* as xs_trace_walk leaves a miss */
            h->t = INFINITY;
            h->u = h->v = 0.0f;
            h->tri = UINT32_MAX;
            h->instance = UINT32_MAX;
            continue;
        }
        const uint32_t inst = rh.hit.instID[0] != RTC_INVALID_GEOMETRY_ID ? rh.hit.instID[0] : rh.hit.geomID;
        h->t = rh.ray.tfar;
        h->u = rh.hit.u;
        h->v = rh.hit.v;
        h->tri = s->meshes[s->instances[inst].mesh].tri_first + rh.hit.primID;
        h->instance = inst;
    }
}

static void eb_shadow(const void *ctx, const xs_scene_view *s, const struct xs_wf *w, uint32_t n, xs_counters *c)
{
    const embree_backend *be = (const embree_backend *)ctx;
    eb_ctx ec;
    rtcInitIntersectContext(&ec.rc);
    ec.s = s;
    for (uint32_t k = 0; k < n; ++k) {
        const xs_shadow *sh = &w->shadow[k];
        c->shadow_rays++;
        struct RTCRay r;
        ray_set(&r, &sh->o, &sh->d, sh->tmax);
        const xs_path *p = &w->path[sh->path];
        r.time = xs_path_time(s, p->key, p->sample);
        rtcOccluded1(be->top, &ec.rc, &r);
        if (r.tfar >= 0.0f) { /* not occluded (Embree sets tfar to -inf on a hit) */
            xs_vec3 *L = &w->path[sh->path].L;
            *L = xs_add(*L, sh->contrib);
        }
    }
}

/* Whether mesh m has an alpha-masked triangle. */
static bool mesh_alpha(const xs_scene_view *v, const xs_mesh *m)
{
    if ((v->flags & XS_VIEW_ALPHA) == 0u)
        return false;
    for (uint32_t t = m->tri_first; t < m->tri_first + m->tri_count; ++t)
        if ((v->tris[t].flags & XS_WTRI_ALPHA) != 0u)
            return true;
    return false;
}

/* Mesh m's triangles as a committed Embree geometry over our own arrays; a
 * mesh deforming within the shutter gets a vertex buffer a motion step
 * (Embree interpolates corners linearly between steps, as xs_tri_moving). */
static RTCGeometry mesh_geometry(embree_backend *be, const xs_scene_view *v, const xs_mesh *m)
{
    RTCGeometry g = rtcNewGeometry(be->dev, RTC_GEOMETRY_TYPE_TRIANGLE);
    if (!g)
        return NULL;
    if (m->motion != UINT32_MAX && v->motion_steps >= 2u) {
        rtcSetGeometryTimeStepCount(g, v->motion_steps);
        for (uint32_t k = 0; k < v->motion_steps; ++k) {
            float *vb = rtcSetNewGeometryBuffer(g, RTC_BUFFER_TYPE_VERTEX, k, RTC_FORMAT_FLOAT3, 3 * sizeof(float),
                                                (size_t)m->tri_count * 3u);
            const xs_tri *st = &v->motion_tris[m->motion + (size_t)k * m->tri_count];
            for (uint32_t t = 0; vb && t < m->tri_count; ++t) {
                const xs_vec3 a = st[t].v0, b = xs_add(st[t].v0, st[t].e1), c = xs_add(st[t].v0, st[t].e2);
                float *o = vb + 9 * (size_t)t;
                o[0] = a.x, o[1] = a.y, o[2] = a.z, o[3] = b.x, o[4] = b.y, o[5] = b.z;
                o[6] = c.x, o[7] = c.y, o[8] = c.z;
            }
        }
    } else {
        rtcSetSharedGeometryBuffer(g, RTC_BUFFER_TYPE_VERTEX, 0, RTC_FORMAT_FLOAT3, v->tris,
                                   (size_t)m->tri_first * sizeof(xs_wtri), 16, (size_t)m->tri_count * 3u);
    }
    rtcSetSharedGeometryBuffer(g, RTC_BUFFER_TYPE_INDEX, 0, RTC_FORMAT_UINT3, be->index, 0, 3 * sizeof(unsigned),
                               m->tri_count);
    if (mesh_alpha(v, m)) {
        rtcSetGeometryIntersectFilterFunction(g, alpha_filter);
        rtcSetGeometryOccludedFilterFunction(g, alpha_filter);
    }
    rtcCommitGeometry(g);
    return g;
}

static RTCScene new_scene(embree_backend *be)
{
    RTCScene sc = rtcNewScene(be->dev);
    if (sc) {
        rtcSetSceneFlags(sc, RTC_SCENE_FLAG_ROBUST);
        rtcSetSceneBuildQuality(sc, RTC_BUILD_QUALITY_HIGH);
    }
    return sc;
}

/* Whether a motion step's scale/shear S (of M = T R S) has Embree's form:
 * upper triangular. Our S is the polar decomposition's (symmetric), so
 * rotations with scales along the object's axes qualify (off-diagonal
 * entries at rounding level, dropped); a shear or a scale along other axes
 * does not. */
static bool upper_triangular(const float *S)
{
    float big = 0.0f;
    for (int i = 0; i < 9; ++i)
        big = fabsf(S[i]) > big ? fabsf(S[i]) : big;
    const float tol = 1e-6f * big;
    return fabsf(S[3]) <= tol && fabsf(S[6]) <= tol && fabsf(S[7]) <= tol;
}

/* What Embree cannot render as we do, or NULL. */
static const char *refusal(const xs_scene_view *v)
{
    for (uint32_t i = 0; i < v->instance_count; ++i) {
        const xs_instance *in = &v->instances[i];
        if ((in->flags & XS_INST_MOTION) == 0u || v->motion_steps < 2u)
            continue;
        for (uint32_t k = 0; k < v->motion_steps; ++k)
            if (!upper_triangular(v->motion_xf[in->motion + k].s))
                return "motion blur of an instance scaled along axes other than its own (or sheared) within the "
                       "shutter is not supported on the Embree back end (Embree's motion transforms hold an "
                       "upper-triangular scale; use --backend cpu, or --shutter 0)";
    }
    return NULL;
}

/* Instance in's motion steps as Embree's quaternion decompositions (M = T R
 * S, interpolated as ours: the rotation spherically, the rest linearly);
 * each quaternion flipped into the previous one's hemisphere, so Embree
 * turns the short way as xs_quat_lerp_sphere does. */
static void motion_transform(const xs_scene_view *v, const xs_instance *in, RTCGeometry g)
{
    rtcSetGeometryTimeStepCount(g, v->motion_steps);
    float prev[4] = {0.0f, 0.0f, 0.0f, 1.0f};
    for (uint32_t k = 0; k < v->motion_steps; ++k) {
        const xs_motion_xf *x = &v->motion_xf[in->motion + k];
        float q[4] = {x->q[0], x->q[1], x->q[2], x->q[3]};
        if (k > 0u && q[0] * prev[0] + q[1] * prev[1] + q[2] * prev[2] + q[3] * prev[3] < 0.0f)
            q[0] = -q[0], q[1] = -q[1], q[2] = -q[2], q[3] = -q[3];
        memcpy(prev, q, sizeof prev);
        struct RTCQuaternionDecomposition d;
        rtcInitQuaternionDecomposition(&d);
        d.scale_x = x->s[0], d.skew_xy = x->s[1], d.skew_xz = x->s[2];
        d.scale_y = x->s[4], d.skew_yz = x->s[5], d.scale_z = x->s[8];
        d.quaternion_r = q[3], d.quaternion_i = q[0], d.quaternion_j = q[1], d.quaternion_k = q[2];
        d.translation_x = x->t[0], d.translation_y = x->t[1], d.translation_z = x->t[2];
        rtcSetGeometryTransformQuaternion(g, k, &d);
    }
}

/* Embree's copy of the scene's current frame, replacing the last one. */
static xs_result build(embree_backend *be, const xs_scene *scene, xs_err *err)
{
    const xs_scene_view v = xs_scene_view_for(scene, be->fw, be->fh);
    const uint32_t mesh_count = xs_scene_mesh_count(scene);
    const char *why = refusal(&v);
    if (why)
        return xs_err_set(err, XS_ERR_INVALID, "scene '%s': %s", xs_scene_name(scene), why);
    size_t most = 0;
    for (uint32_t m = 0; m < mesh_count; ++m)
        most = v.meshes[m].tri_count > most ? v.meshes[m].tri_count : most;
    if (most > be->index_tris || !be->index) {
        unsigned *ix = realloc(be->index, (most ? most : 1) * 3 * sizeof *ix);
        if (!ix)
            return xs_err_set(err, XS_ERR_NOMEM, "Embree back end: out of memory for %zu triangles' indices", most);
        for (size_t k = 0; k < most * 3; ++k)
            ix[k] = (unsigned)k;
        be->index = ix;
        be->index_tris = most;
    }
    if (be->top) {
        rtcReleaseScene(be->top);
        be->top = NULL;
    }
    take_error(be, XS_ERR_RENDER, "", err); /* anything left from before is stale */
    RTCScene *ms = calloc(mesh_count ? mesh_count : 1, sizeof *ms);
    RTCScene top = new_scene(be);
    xs_result r = ms && top ? XS_OK : xs_err_set(err, XS_ERR_NOMEM, "Embree back end: out of memory for the scene");
    for (uint32_t i = 0; r == XS_OK && i < v.instance_count; ++i) {
        const xs_instance *in = &v.instances[i];
        const xs_mesh *m = &v.meshes[in->mesh];
        if (m->tri_count == 0u)
            continue;
        RTCGeometry g = NULL;
        if ((in->flags & XS_INST_IDENTITY) != 0u) { /* its triangles straight in the top scene */
            g = mesh_geometry(be, &v, m);
        } else {
            if (!ms[in->mesh]) {
                RTCScene sc = new_scene(be);
                RTCGeometry mg = sc ? mesh_geometry(be, &v, m) : NULL;
                if (mg) {
                    rtcAttachGeometry(sc, mg);
                    rtcReleaseGeometry(mg);
                    rtcCommitScene(sc);
                }
                ms[in->mesh] = sc;
            }
            g = rtcNewGeometry(be->dev, RTC_GEOMETRY_TYPE_INSTANCE);
            if (g) {
                rtcSetGeometryInstancedScene(g, ms[in->mesh]);
                if ((in->flags & XS_INST_MOTION) != 0u && v.motion_steps >= 2u)
                    motion_transform(&v, in, g);
                else
                    rtcSetGeometryTransform(g, 0, RTC_FORMAT_FLOAT3X4_ROW_MAJOR, in->xf);
                rtcCommitGeometry(g);
            }
        }
        if (g) {
            rtcAttachGeometryByID(top, g, i);
            rtcReleaseGeometry(g);
        }
        r = take_error(be, XS_ERR_RENDER, "building the scene", err);
        if (r == XS_OK && !g)
            r = xs_err_set(err, XS_ERR_NOMEM, "Embree back end: no geometry for instance %u", i);
    }
    if (r == XS_OK) {
        rtcCommitScene(top);
        r = take_error(be, XS_ERR_RENDER, "building the scene", err);
    }
    for (uint32_t m = 0; ms && m < mesh_count; ++m)
        if (ms[m])
            rtcReleaseScene(ms[m]); /* the instances hold them */
    free(ms);
    if (r != XS_OK) {
        if (top)
            rtcReleaseScene(top);
        return r;
    }
    be->top = top;
    return XS_OK;
}

/* ---- the table: the CPU back end's, with Embree's scene kept in step ---- */

static xs_result eb_begin_tile(xs_backend *self, int slot, const xs_tile_params *tp, xs_err *err)
{
    embree_backend *be = (embree_backend *)self;
    return be->cpu->begin_tile(be->cpu, slot, tp, err);
}

static xs_result eb_begin_part(xs_backend *self, int slot, const xs_tile_params *tp, int chunk_first,
                               int chunk_count, xs_err *err)
{
    embree_backend *be = (embree_backend *)self;
    return be->cpu->begin_part(be->cpu, slot, tp, chunk_first, chunk_count, err);
}

static xs_result eb_end_tile(xs_backend *self, int slot, float *rgba, xs_counters *counters, double *kernel_s,
                             xs_err *err)
{
    embree_backend *be = (embree_backend *)self;
    xs_result r = be->cpu->end_tile(be->cpu, slot, rgba, counters, kernel_s, err);
    if (r == XS_OK)
        r = take_error(be, XS_ERR_RENDER, "tracing a tile", err);
    return r;
}

static xs_result eb_update(xs_backend *self, const xs_scene *scene, xs_err *err)
{
    embree_backend *be = (embree_backend *)self;
    xs_result r = be->cpu->update(be->cpu, scene, err);
    return r == XS_OK ? build(be, scene, err) : r;
}

static void eb_destroy(xs_backend *self)
{
    embree_backend *be = (embree_backend *)self;
    xs_backend_destroy(be->cpu);
    if (be->top)
        rtcReleaseScene(be->top);
    if (be->dev)
        rtcReleaseDevice(be->dev);
    free(be->index);
    pthread_mutex_destroy(&be->lock);
    free(be);
}

bool xs_embree_compiled(void) { return true; }

/* Embree's memory monitor: every allocation and release of the device's
 * (its BVHs and primitive data; our vertex rows it shares are not its). */
static bool on_memory(void *user, ssize_t bytes, bool post)
{
    (void)post;
    embree_backend *be = user;
    pthread_mutex_lock(&be->lock);
    be->mem_now += (int64_t)bytes;
    if (be->mem_now > be->mem_peak)
        be->mem_peak = be->mem_now;
    pthread_mutex_unlock(&be->lock);
    return true;
}

bool xs_backend_embree_memory(xs_backend *b, uint64_t *now, uint64_t *peak)
{
    if (!b || b->destroy != eb_destroy)
        return false;
    embree_backend *be = (embree_backend *)b;
    const uint64_t index = (uint64_t)be->index_tris * 3u * sizeof *be->index;
    pthread_mutex_lock(&be->lock);
    *now = (uint64_t)(be->mem_now > 0 ? be->mem_now : 0) + index;
    *peak = (uint64_t)(be->mem_peak > 0 ? be->mem_peak : 0) + index;
    pthread_mutex_unlock(&be->lock);
    return true;
}

xs_result xs_backend_embree_create(const xs_scene *scene, int fw, int fh, int threads, xs_backend **out, xs_err *err)
{
    embree_backend *be = calloc(1, sizeof *be);
    if (!be)
        return xs_err_set(err, XS_ERR_NOMEM, "Embree back end: out of memory");
    pthread_mutex_init(&be->lock, NULL);
    be->fw = fw;
    be->fh = fh;
    /* one build thread: the same BVH from the same triangles, always */
    be->dev = rtcNewDevice("threads=1,set_affinity=0,verbose=0");
    if (!be->dev) {
        enum RTCError e = rtcGetDeviceError(NULL);
        eb_destroy(&be->base);
        return xs_err_set(err, XS_ERR_DEVICE, "Embree back end: rtcNewDevice failed: %s", error_name(e));
    }
    rtcSetDeviceErrorFunction(be->dev, on_error, be);
    rtcSetDeviceMemoryMonitorFunction(be->dev, on_memory, be);
    be->tracer = (xs_cpu_tracer){.intersect = eb_intersect, .shadow = eb_shadow, .ctx = be};
    xs_result r = build(be, scene, err);
    const xs_cpu_options opt = {.integrator = XS_INTEGRATOR_WAVEFRONT, .isa = XS_CPU_ISA_AUTO,
                                .tracer = &be->tracer, .name = "embree"};
    if (r == XS_OK)
        r = xs_backend_cpu_create_with(scene, fw, fh, threads, &opt, &be->cpu, err);
    if (r != XS_OK) {
        eb_destroy(&be->base);
        return r;
    }
    be->base = *be->cpu; /* its name, device text, slots */
    be->base.lost = false;
    be->base.begin_tile = eb_begin_tile;
    be->base.poll_tile = NULL;
    be->base.end_tile = eb_end_tile;
    be->base.update = eb_update;
    be->base.destroy = eb_destroy;
    be->base.begin_part = eb_begin_part;
    size_t len = strlen(be->base.device);
    snprintf(be->base.device + len, sizeof be->base.device - len, " (Embree %d.%d.%d)", RTC_VERSION_MAJOR,
             RTC_VERSION_MINOR, RTC_VERSION_PATCH);
    *out = &be->base;
    return XS_OK;
}

#else /* a build without Embree */

bool xs_embree_compiled(void) { return false; }

bool xs_backend_embree_memory(xs_backend *b, uint64_t *now, uint64_t *peak)
{
    (void)b;
    *now = *peak = 0u;
    return false;
}

xs_result xs_backend_embree_create(const xs_scene *scene, int fw, int fh, int threads, xs_backend **out, xs_err *err)
{
    (void)scene, (void)fw, (void)fh, (void)threads;
    *out = NULL;
    return xs_err_set(err, XS_ERR_INVALID,
                      "--backend embree: this xisuan was built without Embree (CMake found no libembree-dev "
                      "3 at build time); use --backend cpu");
}

#endif
