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
    xs_result r = xs_scene_textures(s, g, o->pages, err);
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
    if (r == XS_OK)
        xs_scene_mark_materials(s->materials, nm);
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
    /* what moves: posed at t = 0 (a render asks for its frames' times; each
     * pose makes the wide BVH for its camera); a still scene's wide BVH made
     * again if the camera lies beyond the magnitudes its margins cover */
    if (s->anim ? (r = xs_scene_anim_finish(s, camera_node, err)) != XS_OK
                : (r = xs_scene_cover_camera(s, err)) != XS_OK) {
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
