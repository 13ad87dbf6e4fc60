/* A glTF scene becomes a render scene (xs_scene_from_gltf): materials,
 * textures, meshes with their BLAS built ahead in parallel batches, one
 * instance per placing node, the environment and the camera; and, when the
 * file animates, skins or morphs, what moves (scene_anim.c). */
#include "render/scene_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "render/xs_parallel.h"

static void texslot_from(xs_texslot *t, const xs_gltf_texref *g)
{
    t->tex = g->texture;
    t->texcoord = g->texcoord;
    float c = cosf(g->rotation), sn = sinf(g->rotation);
    /* KHR_texture_transform: T * R * S, R = [cos sin; -sin cos] */
    t->m[0] = c * g->tscale[0];
    t->m[1] = sn * g->tscale[1];
    t->m[2] = g->offset[0];
    t->m[3] = -sn * g->tscale[0];
    t->m[4] = c * g->tscale[1];
    t->m[5] = g->offset[1];
}

/* Linear light to an sRGB byte (for MIP levels averaged in linear light). */
static unsigned char srgb8_of(float v)
{
    v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    float e = v <= 0.0031308f ? 12.92f * v : 1.055f * powf(v, 1.0f / 2.4f) - 0.055f;
    return (unsigned char)(e * 255.0f + 0.5f);
}

static uint32_t level_count(uint32_t w, uint32_t h)
{
    uint32_t n = 1, m = w > h ? w : h;
    while (m > 1u && n < XS_TEX_LEVELS)
        m >>= 1, ++n;
    return n;
}

/* Level l (w x h) from level l - 1 (pw x ph) by a 2x2 box filter (an odd
 * edge folds its last texel in twice); colours averaged in linear light
 * when the image is read as sRGB, alpha always linearly. */
static void downsample(const uint32_t *src, uint32_t pw, uint32_t ph, uint32_t *dst, uint32_t w, uint32_t h,
                       bool srgb, const float *lin)
{
    for (uint32_t y = 0; y < h; ++y)
        for (uint32_t x = 0; x < w; ++x) {
            float acc[4] = {0, 0, 0, 0};
            for (uint32_t k = 0; k < 4; ++k) {
                uint32_t sx = 2 * x + (k & 1u), sy = 2 * y + (k >> 1);
                sx = sx < pw ? sx : pw - 1;
                sy = sy < ph ? sy : ph - 1;
                uint32_t p = src[(size_t)sy * pw + sx];
                for (int c = 0; c < 4; ++c) {
                    uint32_t b = (p >> (8 * c)) & 255u;
                    acc[c] += (srgb && c < 3) ? lin[b] : (float)b * (1.0f / 255.0f);
                }
            }
            uint32_t out = 0;
            for (int c = 0; c < 4; ++c) {
                float v = 0.25f * acc[c];
                uint32_t b = (srgb && c < 3) ? srgb8_of(v) : (uint32_t)(v * 255.0f + 0.5f);
                out |= (b > 255u ? 255u : b) << (8 * c);
            }
            dst[(size_t)y * w + x] = out;
        }
}

static xs_result load_textures(xs_scene *s, const xs_gltf_scene *g, xs_err *err)
{
    size_t total = 0;
    const size_t ni = (size_t)(g->image_count ? g->image_count : 1);
    uint32_t(*level_offset)[XS_TEX_LEVELS] = calloc(ni, sizeof *level_offset);
    uint32_t *levels = calloc(ni, sizeof *levels);
    bool *srgb = calloc(ni, sizeof *srgb);
    if (!level_offset || !levels || !srgb) {
        free(level_offset), free(levels), free(srgb);
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    }
    /* images a material reads as colour: their levels average in linear light */
    for (int i = 0; i < g->material_count; ++i) {
        const int ct[2] = {g->materials[i].base_color_tex.texture, g->materials[i].emissive_tex.texture};
        for (int k = 0; k < 2; ++k)
            if (ct[k] >= 0 && ct[k] < g->texture_count && g->textures[ct[k]].image >= 0)
                srgb[g->textures[ct[k]].image] = true;
    }
    for (int i = 0; i < g->image_count; ++i) {
        uint32_t w = (uint32_t)g->images[i].width, h = (uint32_t)g->images[i].height;
        levels[i] = level_count(w, h);
        for (uint32_t l = 0; l < levels[i]; ++l) {
            if (total > UINT32_MAX) {
                free(level_offset), free(levels), free(srgb);
                return xs_err_set(err, XS_ERR_INVALID, "scene %s: textures exceed 2^32 texels", s->name);
            }
            level_offset[i][l] = (uint32_t)total;
            total += (size_t)xs_tex_level_size(w, l) * (size_t)xs_tex_level_size(h, l);
        }
    }
    if (total > UINT32_MAX) {
        free(level_offset), free(levels), free(srgb);
        return xs_err_set(err, XS_ERR_INVALID, "scene %s: textures exceed 2^32 texels", s->name);
    }
    s->texels = calloc(total ? total : 1, sizeof *s->texels);
    s->textures = calloc((size_t)(g->texture_count ? g->texture_count : 1), sizeof *s->textures);
    s->texture_mean = calloc((size_t)(g->texture_count ? g->texture_count : 1), sizeof *s->texture_mean);
    if (!s->texels || !s->textures || !s->texture_mean) {
        free(level_offset), free(levels), free(srgb);
        return xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory for textures", s->name);
    }
    for (int i = 0; i < g->image_count; ++i) {
        const xs_image8 *im = &g->images[i];
        size_t n = (size_t)im->width * (size_t)im->height;
        uint32_t *l0 = s->texels + level_offset[i][0];
        for (size_t p = 0; p < n; ++p) {
            const unsigned char *c = im->rgba8 + p * 4;
            l0[p] = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
        }
        uint32_t w = (uint32_t)im->width, h = (uint32_t)im->height;
        for (uint32_t l = 1; l < levels[i]; ++l)
            downsample(s->texels + level_offset[i][l - 1], xs_tex_level_size(w, l - 1), xs_tex_level_size(h, l - 1),
                       s->texels + level_offset[i][l], xs_tex_level_size(w, l), xs_tex_level_size(h, l), srgb[i],
                       s->srgb);
    }
    s->texel_count = total;
    for (int i = 0; i < g->texture_count; ++i) {
        const xs_gltf_texture *t = &g->textures[i];
        const xs_image8 *im = &g->images[t->image];
        xs_texture *x = &s->textures[i];
        x->width = (uint32_t)im->width;
        x->height = (uint32_t)im->height;
        x->levels = levels[t->image];
        memcpy(x->offset, level_offset[t->image], sizeof x->offset);
        x->flags = (t->wrap_s == XS_WRAP_CLAMP ? XS_TEX_CLAMP_S : 0u) |
                   (t->wrap_t == XS_WRAP_CLAMP ? XS_TEX_CLAMP_T : 0u) |
                   (t->wrap_s == XS_WRAP_MIRROR ? XS_TEX_MIRROR_S : 0u) |
                   (t->wrap_t == XS_WRAP_MIRROR ? XS_TEX_MIRROR_T : 0u) |
                   (t->mag_filter == 9728 ? XS_TEX_NEAREST : 0u);
        double sum = 0.0;
        size_t n = (size_t)im->width * (size_t)im->height;
        for (size_t p = 0; p < n; ++p) {
            const unsigned char *c = im->rgba8 + p * 4;
            sum += 0.2126 * s->srgb[c[0]] + 0.7152 * s->srgb[c[1]] + 0.0722 * s->srgb[c[2]];
        }
        s->texture_mean[i] = n ? (float)(sum / (double)n) : 0.0f;
    }
    s->texture_count = (uint32_t)g->texture_count;
    free(level_offset), free(levels), free(srgb);
    return XS_OK;
}

void xs_mesh_arrays_free(xs_mesh_arrays *a)
{
    free(a->pos), free(a->uv0), free(a->uv1), free(a->nrm), free(a->tan), free(a->idx), free(a->mat);
    memset(a, 0, sizeof *a);
}

xs_result xs_mesh_arrays_gather(const xs_gltf_scene *g, int mi, uint32_t default_mat, xs_mesh_arrays *a,
                                xs_err *err)
{
    const xs_gltf_mesh *gm = &g->meshes[mi];
    memset(a, 0, sizeof *a);
    uint64_t nv = 0, nt = 0;
    bool any_uv0 = false, any_uv1 = false, any_n = false, any_t = false;
    for (int k = 0; k < gm->prim_count; ++k) {
        nv += gm->prims[k].vertex_count;
        nt += gm->prims[k].tri_count;
        any_uv0 |= gm->prims[k].uv0 != NULL;
        any_uv1 |= gm->prims[k].uv1 != NULL;
        any_n |= gm->prims[k].normals != NULL;
        any_t |= gm->prims[k].tangents != NULL;
    }
    if (nv > UINT32_MAX || nt > UINT32_MAX / 3)
        return xs_err_set(err, XS_ERR_INVALID, "mesh %d is too large", mi);
    a->nv = (uint32_t)nv;
    a->nt = (uint32_t)nt;
    a->pos = malloc((size_t)(nv ? nv : 1) * 3 * sizeof *a->pos);
    a->uv0 = any_uv0 ? calloc((size_t)nv * 2, sizeof *a->uv0) : NULL;
    a->uv1 = any_uv1 ? calloc((size_t)nv * 2, sizeof *a->uv1) : NULL;
    a->nrm = any_n ? calloc((size_t)nv * 3, sizeof *a->nrm) : NULL;
    a->tan = any_t ? calloc((size_t)nv * 4, sizeof *a->tan) : NULL;
    a->idx = malloc((size_t)(nt ? nt : 1) * 3 * sizeof *a->idx);
    a->mat = malloc((size_t)(nt ? nt : 1) * sizeof *a->mat);
    if (!a->pos || !a->idx || !a->mat || (any_uv0 && !a->uv0) || (any_uv1 && !a->uv1) ||
        (any_n && !a->nrm) || (any_t && !a->tan)) {
        xs_mesh_arrays_free(a);
        return xs_err_set(err, XS_ERR_NOMEM, "mesh %d: out of memory", mi);
    }
    uint32_t vb = 0, tb = 0;
    for (int k = 0; k < gm->prim_count; ++k) {
        const xs_gltf_primitive *p = &gm->prims[k];
        memcpy(a->pos + (size_t)vb * 3, p->positions, (size_t)p->vertex_count * 3 * sizeof *a->pos);
        if (p->uv0)
            memcpy(a->uv0 + (size_t)vb * 2, p->uv0, (size_t)p->vertex_count * 2 * sizeof *a->uv0);
        if (p->uv1)
            memcpy(a->uv1 + (size_t)vb * 2, p->uv1, (size_t)p->vertex_count * 2 * sizeof *a->uv1);
        if (p->normals)
            memcpy(a->nrm + (size_t)vb * 3, p->normals, (size_t)p->vertex_count * 3 * sizeof *a->nrm);
        if (p->tangents)
            memcpy(a->tan + (size_t)vb * 4, p->tangents, (size_t)p->vertex_count * 4 * sizeof *a->tan);
        for (uint32_t t = 0; t < p->tri_count * 3; ++t)
            a->idx[(size_t)tb * 3 + t] = vb + p->indices[t];
        for (uint32_t t = 0; t < p->tri_count; ++t)
            a->mat[tb + t] = p->material >= 0 ? (uint32_t)p->material : default_mat;
        vb += p->vertex_count;
        tb += p->tri_count;
    }
    return XS_OK;
}

/* Row-major 3x4 from a column-major 4x4. */
static void xf34_from44(const float *m44, float *xf)
{
    for (int row = 0; row < 3; ++row)
        for (int c = 0; c < 4; ++c)
            xf[row * 4 + c] = m44[c * 4 + row];
}

/* ---- BLAS of a glTF scene's meshes, in parallel batches ---------------------
 *
 * A scene of many meshes builds each mesh's BLAS on one thread, several
 * meshes at once (threads take the next mesh from a counter); a scene of few
 * meshes gives each build all the threads. A tree depends only on its mesh,
 * so the scene is the same either way. Batches of consecutive meshes up to
 * BLAS_BATCH_TRIS triangles (or one bigger mesh) bound the memory held by
 * built but not yet added meshes. */
enum { BLAS_BATCH_TRIS = 8 << 20, BLAS_BATCH_MESHES = 4096 };

static uint64_t gltf_mesh_tris(const xs_gltf_mesh *gm)
{
    uint64_t nt = 0;
    for (int k = 0; k < gm->prim_count; ++k)
        nt += gm->prims[k].tri_count;
    return nt;
}

static int blas_batch_end(const xs_gltf_scene *g, int begin)
{
    uint64_t tris = 0;
    int end = begin;
    while (end < g->mesh_count && end - begin < BLAS_BATCH_MESHES) {
        uint64_t t = gltf_mesh_tris(&g->meshes[end]);
        if (end > begin && tris + t > BLAS_BATCH_TRIS)
            break;
        tris += t;
        end++;
    }
    return end;
}

typedef struct blas_work {
    const xs_gltf_scene *g;
    const xs_scene *s;
    xs_mesh_blas *pre;
    int begin, end, threads_each;
    xs_bvh_method method;
    int next; /* the next mesh to take (under lock) */
    pthread_mutex_t lock;
} blas_work;

/* One mesh's triangles (its primitives' in order, as xs_scene_add_mesh makes
 * them from the gathered arrays) and BLAS. */
static void blas_one(blas_work *w, int mi)
{
    const xs_gltf_mesh *gm = &w->g->meshes[mi];
    xs_mesh_blas *b = &w->pre[mi - w->begin];
    if (w->s->anim && !xs_scene_anim_shares(w->s, mi))
        return; /* only deforming instances place it: each builds its own */
    uint64_t nt = gltf_mesh_tris(gm);
    if (nt > UINT32_MAX / 3) {
        b->r = xs_err_set(&b->err, XS_ERR_INVALID, "mesh %d is too large", mi);
        return;
    }
    b->in = malloc((size_t)(nt ? nt : 1) * sizeof *b->in);
    if (!b->in) {
        b->r = xs_err_set(&b->err, XS_ERR_NOMEM, "out of memory for mesh %d", mi);
        return;
    }
    size_t t = 0;
    for (int k = 0; k < gm->prim_count; ++k) {
        const xs_gltf_primitive *p = &gm->prims[k];
        for (uint32_t i = 0; i < p->tri_count; ++i, ++t)
            b->in[t] = xs_tri_of(p->positions + 3 * (size_t)p->indices[3 * i],
                              p->positions + 3 * (size_t)p->indices[3 * i + 1],
                              p->positions + 3 * (size_t)p->indices[3 * i + 2]);
    }
    b->r = xs_bvh_build_with(b->in, (uint32_t)nt, w->threads_each, w->method, &b->nodes, &b->nn,
                             &b->order, &b->err);
}

/* A worker: takes the next mesh until none is left. */
static void blas_worker(void *ctx, uint32_t begin, uint32_t end, int part)
{
    (void)begin, (void)end, (void)part;
    blas_work *w = (blas_work *)ctx;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        int mi = w->next < w->end ? w->next++ : -1;
        pthread_mutex_unlock(&w->lock);
        if (mi < 0)
            return;
        blas_one(w, mi);
    }
}

static xs_result blas_batch(xs_scene *s, const xs_gltf_scene *g, int begin, int end, xs_mesh_blas *pre,
                            xs_err *err)
{
    int n = end - begin, threads = s->build_threads > 0 ? s->build_threads : 1;
    int workers = n < threads ? n : threads;
    if (workers > 64)
        workers = 64;
    blas_work w = {g, s, pre, begin, end, threads / (workers > 0 ? workers : 1), s->bvh_method, begin,
                   PTHREAD_MUTEX_INITIALIZER};
    if (w.threads_each < 1)
        w.threads_each = 1;
    xs_parallel_for(workers, (uint32_t)workers, blas_worker, &w);
    pthread_mutex_destroy(&w.lock);
    for (int k = 0; k < n; ++k)
        if (pre[k].r != XS_OK) {
            xs_result r = xs_err_set(err, pre[k].r, "scene %s: %s", s->name, pre[k].err.msg);
            for (int j = 0; j < n; ++j)
                xs_mesh_blas_free(&pre[j]);
            return r;
        }
    return XS_OK;
}

xs_result xs_scene_from_gltf(const xs_gltf_scene *g, const xs_scene_setup *o, xs_scene **out,
                             xs_err *err)
{
    *out = NULL;
    xs_scene *s = xs_scene_alloc(o->name, &o->build);
    if (!s)
        return xs_err_set(err, XS_ERR_NOMEM, "scene: out of memory");
    xs_result r = load_textures(s, g, err);
    /* materials: the file's, then the glTF default material last */
    uint32_t nm = (uint32_t)g->material_count + 1;
    s->materials = calloc(nm, sizeof *s->materials);
    if (r == XS_OK && !s->materials)
        r = xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    for (uint32_t i = 0; r == XS_OK && i < nm; ++i) {
        xs_material *m = &s->materials[i];
        xs_scene_default_material(m);
        if (i == nm - 1)
            break;
        const xs_gltf_material *gm = &g->materials[i];
        m->albedo = xs_v3(gm->base_color[0], gm->base_color[1], gm->base_color[2]);
        m->alpha = gm->base_color[3];
        m->emission = xs_scale(xs_v3(gm->emissive[0], gm->emissive[1], gm->emissive[2]),
                               gm->emissive_strength);
        m->flags = (gm->double_sided ? XS_MAT_EMIT_TWO_SIDED : 0u) |
                   (gm->alpha_mode == XS_ALPHA_MASK ? XS_MAT_ALPHA_MASK : 0u);
        m->alpha_cutoff = gm->alpha_cutoff;
        texslot_from(&m->base_tex, &gm->base_color_tex);
        texslot_from(&m->emit_tex, &gm->emissive_tex);
        texslot_from(&m->mr_tex, &gm->metallic_roughness_tex);
        texslot_from(&m->normal_tex, &gm->normal_tex);
        texslot_from(&m->trans_tex, &gm->transmission_tex);
        m->normal_scale = gm->normal_tex.scale;
        m->metallic = gm->metallic;
        m->roughness = gm->roughness;
        m->transmission = gm->transmission;
        m->ior = gm->ior;
        /* a solid boundary only where light can enter it and bend (IOR 0 or 1:
         * no interface, so the thin-walled model is exact) */
        if (gm->volume && gm->transmission > 0.0f && gm->ior > 1.0f) {
            m->flags |= XS_MAT_VOLUME;
            float dist = gm->attenuation_distance;
            float sa[3];
            for (int k = 0; k < 3; ++k) {
                float c = gm->attenuation_color[k] > 1e-6f ? gm->attenuation_color[k] : 1e-6f;
                sa[k] = dist > 0.0f ? -logf(c) / dist : 0.0f;
            }
            m->sigma_a = xs_v3(sa[0], sa[1], sa[2]);
        }
    }
    s->material_count = nm;
    /* what moves: the animation, and which instances deform (each owns a
     * mesh; a glTF mesh only they place has no shared copy) */
    if (r == XS_OK && g->node_count > 0)
        r = xs_scene_anim_create(s, g, o->animations, err);
    /* meshes: all primitives of a glTF mesh form one mesh (one BLAS). Their
     * BLAS are built ahead in batches, the meshes of a batch in parallel. */
    int32_t *gmesh_scene = malloc((size_t)(g->mesh_count ? g->mesh_count : 1) * sizeof *gmesh_scene);
    uint32_t *inst_mesh = malloc((size_t)(g->instance_count ? g->instance_count : 1) * sizeof *inst_mesh);
    if (r == XS_OK && (!gmesh_scene || !inst_mesh))
        r = xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
    xs_mesh_blas *pre = NULL;
    int batch_begin = 0, batch_end = 0;
    for (int mi = 0; r == XS_OK && mi < g->mesh_count; ++mi) {
        if (mi == batch_end) {
            free(pre);
            pre = NULL;
            batch_begin = mi;
            batch_end = blas_batch_end(g, mi);
            pre = calloc((size_t)(batch_end - batch_begin), sizeof *pre);
            if (!pre) {
                r = xs_err_set(err, XS_ERR_NOMEM, "scene %s: out of memory", s->name);
                break;
            }
            double t0 = xs_scene_clock();
            r = blas_batch(s, g, batch_begin, batch_end, pre, err);
            s->build_seconds += xs_scene_clock() - t0;
            if (r != XS_OK)
                break;
        }
        gmesh_scene[mi] = -1;
        if (s->anim && !xs_scene_anim_shares(s, mi))
            continue;
        xs_mesh_arrays a;
        xs_err ge;
        if ((r = xs_mesh_arrays_gather(g, mi, nm - 1, &a, &ge)) != XS_OK) {
            r = xs_err_set(err, r, "scene %s: %s", s->name, ge.msg);
            break;
        }
        gmesh_scene[mi] = (int32_t)s->mesh_count;
        r = xs_scene_add_mesh(s, a.pos, a.nv, a.idx, a.nt, a.uv0, a.uv1, a.nrm, a.tan, a.mat,
                              &pre[mi - batch_begin], NULL, err);
        xs_mesh_arrays_free(&a);
    }
    if (pre)
        for (int k = 0; k < batch_end - batch_begin; ++k)
            xs_mesh_blas_free(&pre[k]);
    free(pre);
    for (int i = 0; r == XS_OK && !s->anim && i < g->instance_count; ++i)
        inst_mesh[i] = (uint32_t)gmesh_scene[g->instances[i].mesh];
    if (r == XS_OK && s->anim)
        r = xs_scene_anim_meshes(s, g, gmesh_scene, inst_mesh, err);
    uint32_t icap = 0;
    for (int i = 0; r == XS_OK && i < g->instance_count; ++i) {
        float xf[12];
        xf34_from44(g->instances[i].xform, xf);
        r = xs_scene_add_instance(s, inst_mesh[i], xf, &icap, err);
    }
    free(gmesh_scene);
    free(inst_mesh);
    if (r == XS_OK)
        r = xs_scene_finish(s, err);
    if (r != XS_OK) {
        xs_scene_destroy(s);
        return r;
    }
    /* environment */
    s->background = xs_scale(xs_v3(o->env_color[0], o->env_color[1], o->env_color[2]), o->env_strength);
    if (o->env_image) {
        size_t n = (size_t)o->env_image->width * (size_t)o->env_image->height;
        s->env = malloc(n * 3 * sizeof *s->env);
        if (!s->env) {
            xs_scene_destroy(s);
            return xs_err_set(err, XS_ERR_NOMEM, "scene: out of memory for the environment");
        }
        for (size_t p = 0; p < n; ++p)
            for (int c = 0; c < 3; ++c)
                s->env[p * 3 + (size_t)c] = o->env_image->rgba[p * 4 + (size_t)c];
        s->env_w = o->env_image->width;
        s->env_h = o->env_image->height;
        s->background = xs_v3(o->env_strength, o->env_strength, o->env_strength);
    }
    r = xs_scene_lights(s, g->lights, g->light_count, err);
    if (r != XS_OK) {
        xs_scene_destroy(s);
        return r;
    }
    /* camera */
    int camera_node = -1;
    if (o->cam_mode == XS_CAM_OVERRIDE) {
        s->cam_pos = xs_v3(o->cam_pos[0], o->cam_pos[1], o->cam_pos[2]);
        s->cam_fwd = xs_normalize(xs_sub(xs_v3(o->cam_target[0], o->cam_target[1], o->cam_target[2]), s->cam_pos));
        s->cam_up = xs_v3(o->cam_up[0], o->cam_up[1], o->cam_up[2]);
        s->cam_yfov_deg = o->cam_yfov_deg;
    } else {
        int ci = -1;
        if (o->cam_mode == XS_CAM_NAMED) {
            for (int i = 0; i < g->camera_count && ci < 0; ++i)
                if (strcmp(g->cameras[i].name, o->cam_name) == 0)
                    ci = i;
            if (ci < 0) {
                xs_scene_destroy(s);
                return xs_err_set(err, XS_ERR_INVALID, "camera.name: no camera named '%s' in the scene (%d cameras)",
                                  o->cam_name, g->camera_count);
            }
        } else if (o->cam_mode == XS_CAM_INDEX) {
            if (o->cam_index >= g->camera_count) {
                xs_scene_destroy(s);
                return xs_err_set(err, XS_ERR_INVALID, "camera.index: %d is past the scene's %d cameras",
                                  o->cam_index, g->camera_count);
            }
            ci = o->cam_index;
        } else if (g->camera_count > 0) {
            ci = 0;
        }
        if (ci >= 0) {
            camera_node = g->cameras[ci].node;
            const float *m = g->cameras[ci].xform;
            s->cam_pos = xs_v3(m[12], m[13], m[14]);
            s->cam_fwd = xs_normalize(xs_v3(-m[8], -m[9], -m[10]));
            s->cam_up = xs_normalize(xs_v3(m[4], m[5], m[6]));
            s->cam_yfov_deg = g->cameras[ci].yfov * 180.0f / XS_PI;
        } else {
            /* no camera: look down -z at the world's bounds, 40 degrees */
            xs_vec3 c = xs_scale(xs_add(s->world_lo, s->world_hi), 0.5f);
            float rad = 0.5f * xs_length(xs_sub(s->world_hi, s->world_lo));
            s->cam_yfov_deg = 40.0f;
            s->cam_pos = xs_add(c, xs_v3(0.0f, 0.0f, 1.1f * rad / sinf(20.0f * XS_PI / 180.0f)));
            s->cam_fwd = xs_v3(0.0f, 0.0f, -1.0f);
            s->cam_up = xs_v3(0.0f, 1.0f, 0.0f);
        }
    }
    /* what moves: posed at t = 0 (a render asks for its frames' times) */
    if (s->anim && (r = xs_scene_anim_finish(s, camera_node, err)) != XS_OK) {
        xs_scene_destroy(s);
        return r;
    }
    *out = s;
    return XS_OK;
}

void xs_scene_setup_from_manifest(xs_scene_setup *su, const char *name, const xs_manifest *m,
                                  const xs_image *env_image, const xs_scene_build *build)
{
    memset(su, 0, sizeof *su);
    su->name = name;
    su->cam_mode = m->cam_mode;
    su->cam_name = m->cam_name;
    su->cam_index = m->cam_index;
    memcpy(su->cam_pos, m->cam_pos, sizeof su->cam_pos);
    memcpy(su->cam_target, m->cam_target, sizeof su->cam_target);
    memcpy(su->cam_up, m->cam_up, sizeof su->cam_up);
    su->cam_yfov_deg = m->cam_yfov_deg;
    memcpy(su->env_color, m->env_color, sizeof su->env_color);
    su->env_strength = m->env_strength;
    su->env_image = env_image && env_image->rgba ? env_image : NULL;
    if (build)
        su->build = *build;
}
