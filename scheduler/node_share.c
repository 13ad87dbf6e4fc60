/* One copy of the scene per node, and the memory plan (see
 * xs_node_share.h). Read top to bottom: the node communicators; step 2
 * (rank 0 reads, the plan, the package to the builders); step 4 (the
 * builders build, the shared windows, the page caches); the report; the
 * clean-up. */
#include "scheduler/xs_node_share.h"

#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <xxhash.h>

#include "render/xs_animation.h"
#include "render/xs_backend.h"
#include "scheduler/xs_protocol.h"

/* ---- the node communicators --------------------------------------------------------------- */

static xs_result split_nodes(MPI_Comm comm, xs_node_share *ns, xs_err *err)
{
    ns->world = comm;
    MPI_Comm_rank(comm, &ns->rank);
    MPI_Comm_size(comm, &ns->size);
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, ns->rank, MPI_INFO_NULL, &ns->node) != MPI_SUCCESS)
        return xs_err_set(err, XS_ERR_MPI, "MPI_Comm_split_type (the ranks of each node) failed");
    MPI_Comm_set_errhandler(ns->node, MPI_ERRORS_RETURN);
    MPI_Comm_rank(ns->node, &ns->node_rank);
    MPI_Comm_size(ns->node, &ns->node_size);
    if (MPI_Comm_split(comm, ns->node_rank == 0 ? 0 : MPI_UNDEFINED, ns->rank, &ns->leaders) != MPI_SUCCESS)
        return xs_err_set(err, XS_ERR_MPI, "MPI_Comm_split (one rank per node) failed");
    if (ns->leaders != MPI_COMM_NULL) {
        MPI_Comm_set_errhandler(ns->leaders, MPI_ERRORS_RETURN);
        MPI_Comm_rank(ns->leaders, &ns->node_index);
        MPI_Comm_size(ns->leaders, &ns->node_count);
    }
    MPI_Bcast(&ns->node_index, 1, MPI_INT, 0, ns->node);
    MPI_Bcast(&ns->node_count, 1, MPI_INT, 0, ns->node);
    int r = ns->renders, any = 0;
    MPI_Allreduce(&r, &any, 1, MPI_INT, MPI_MAX, ns->node);
    ns->node_renders = any != 0;
    return XS_OK;
}

/* ---- step 2: the plan --------------------------------------------------------------------- */

/* What each rank tells rank 0 for the plan. */
typedef struct rank_facts {
    int32_t node, renders;
    uint64_t rss;
    uint64_t usable, total, available, cgroup; /* the node's (its lowest rank fills them) */
} rank_facts;

/* Rank 0: every node's plan; prints the tightest; false when one does not
 * fit. *cache gets the texture cache per node. */
static bool plan_nodes(const xs_node_share *ns, const xs_options *opt, const rank_facts *f, uint64_t *cache)
{
    int nodes = ns->node_count;
    uint64_t runtime = 0;
    for (int i = 0; i < ns->size; ++i)
        runtime = f[i].rss > runtime ? f[i].rss : runtime;
    int writers = opt->writers > 0 ? opt->writers : 2;
    xs_mem_node_plan *plan = calloc((size_t)nodes, sizeof *plan);
    if (!plan)
        return false;
    for (int i = 0; i < ns->size; ++i) {
        xs_mem_node_plan *p = &plan[f[i].node];
        p->ranks++;
        p->renderers += f[i].renders;
        if (f[i].total)
            p->node_has = f[i].usable;
    }
    /* the cache: as given, or the auto size of the tightest node */
    uint64_t c = 0;
    for (int k = 0; k < nodes && ns->mem.paged; ++k) {
        xs_mem_node_plan p0 = plan[k];
        p0.shared = ns->shared, p0.runtime = runtime, p0.node_budget = opt->mem_node, p0.rank_budget = opt->mem_rank;
        p0.embree = opt->render.backend == XS_BACKEND_EMBREE;
        p0.rank_buffers = xs_memplan_rank_buffers(&opt->render, writers);
        p0.cache = 0;
        xs_memplan_node(&ns->mem, &p0);
        uint64_t a = xs_memplan_cache(&ns->mem, &p0, opt->tex_cache_bytes);
        c = k == 0 || a < c ? a : c;
    }
    *cache = c;
    int worst = 0;
    double worst_ratio = -1.0;
    bool fits = true;
    for (int k = 0; k < nodes; ++k) {
        xs_mem_node_plan *p = &plan[k];
        p->shared = ns->shared;
        p->embree = opt->render.backend == XS_BACKEND_EMBREE;
        p->runtime = runtime;
        p->rank_buffers = xs_memplan_rank_buffers(&opt->render, writers);
        p->cache = c;
        p->node_budget = opt->mem_node;
        p->rank_budget = opt->mem_rank;
        xs_memplan_node(&ns->mem, p);
        double ratio = p->node_limit ? (double)p->node_peak / (double)p->node_limit : 0.0;
        if (!p->fits)
            ratio += 1e9; /* one that does not fit is the one to show */
        if (ratio > worst_ratio)
            worst_ratio = ratio, worst = k;
        fits &= p->fits;
    }
    const xs_mem_node_plan *p = &plan[worst];
    FILE *out = fits ? stdout : stderr;
    fprintf(out, "xisuan: memory plan%s:\n", nodes > 1 ? " (the tightest of the job's nodes)" : "");
    xs_memplan_print(out, "  ", &ns->mem, p);
    if (!fits)
        fprintf(stderr, "xisuan render: error: the scene does not fit: %s (node %d of %d). Give it more memory, "
                        "more nodes with fewer ranks each, a smaller texture cache (--texture-cache-mib), or a "
                        "paged package (xisuan pack)\n",
                p->why, worst, nodes);
    fflush(out);
    free(plan);
    return fits;
}

xs_result xs_node_share_read(MPI_Comm comm, xs_options *opt, bool renders, xs_node_share *ns, uint64_t *scene_hash,
                             xs_err *err)
{
    memset(ns, 0, sizeof *ns);
    ns->node = ns->leaders = MPI_COMM_NULL;
    ns->scene_win = ns->cache_win = MPI_WIN_NULL;
    ns->renders = renders;
    xs_result r = split_nodes(comm, ns, err);
    if ((r = xs_mpi_agree(comm, r, err)) != XS_OK)
        return r;
    ns->shared = opt->node_share;
    *scene_hash = XXH3_64bits(opt->scene, strlen(opt->scene)); /* a built-in scene */
    if (!xs_is_scene_path(opt->scene)) {
        ns->builtin = true;
        ns->builder = renders;
        return XS_OK;
    }
    const double t0 = MPI_Wtime();
    uint64_t runtime_rss = 0, pss = 0;
    xs_process_memory(&runtime_rss, &pss); /* the runtime, before any scene */
    /* rank 0 reads and checks the scene */
    if (ns->rank == 0) {
        r = xs_scene_input_load(opt->scene, &opt->limits, &ns->bytes, &ns->nbytes, &ns->input, err);
        if (r == XS_OK) {
            *scene_hash = XXH3_64bits(ns->bytes, ns->nbytes);
            if (ns->input->pages) {
                ns->paged = true;
                ns->pages_id = ns->input->pages->id;
                *scene_hash ^= ns->pages_id * 0x9E3779B97F4A7C15ull; /* the pages are content too */
            }
            xs_options_apply_manifest(opt, &ns->input->manifest); /* the plan needs the settings */
            /* the animations to play are in the file: checked before any folder is made */
            r = xs_anim_check(ns->input->gltf, opt->render.animations, err);
            if (r != XS_OK)
                r = xs_err_set(err, r, "%s: %s", opt->scene, err->msg);
        }
        if (r == XS_OK) {
            /* something plays: the scheduler keeps each worker on its frame, and each renderer poses its own */
            ns->animated = ns->input->gltf->animation_count > 0 && strcmp(opt->render.animations, "none") != 0;
            xs_memplan_scene(ns->input, ns->nbytes, &opt->render, &ns->mem);
        }
    }
    if ((r = xs_mpi_share_status(comm, r, err)) != XS_OK) {
        if (ns->rank == 0)
            fprintf(stderr, "xisuan render: error: %s\n", err->msg);
        return r;
    }
    MPI_Bcast(scene_hash, 1, MPI_UINT64_T, 0, comm);
    MPI_Bcast(&ns->pages_id, 1, MPI_UINT64_T, 0, comm);
    ns->paged = ns->pages_id != 0;
    int anim = ns->animated;
    MPI_Bcast(&anim, 1, MPI_INT, 0, comm);
    ns->animated = anim != 0;
    ns->scene_shared = ns->shared && !ns->animated;
    /* every rank's facts; rank 0 plans */
    rank_facts mine;
    memset(&mine, 0, sizeof mine);
    mine.node = ns->node_index;
    mine.renders = renders;
    mine.rss = runtime_rss;
    if (ns->node_rank == 0) {
        xs_node_memory nm;
        xs_node_memory_read(&nm);
        mine.usable = xs_node_memory_usable(&nm);
        mine.total = nm.total, mine.available = nm.available, mine.cgroup = nm.cgroup_limit;
    }
    rank_facts *all = ns->rank == 0 ? calloc((size_t)ns->size, sizeof *all) : NULL;
    int ok = ns->rank != 0 || all != NULL;
    MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
    if (!ok)
        return xs_err_set(err, XS_ERR_NOMEM, "rank 0: out of memory for the plan");
    MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, 0, comm);
    int fits = 1;
    if (ns->rank == 0)
        fits = plan_nodes(ns, opt, all, &ns->cache_bytes);
    free(all);
    MPI_Bcast(&fits, 1, MPI_INT, 0, comm);
    MPI_Bcast(&ns->cache_bytes, 1, MPI_UINT64_T, 0, comm);
    if (!fits)
        return xs_err_set(err, XS_ERR_INVALID, "the scene does not fit (see the plan rank 0 printed)");
    /* the package to the builders: one rank per node, or every renderer */
    int builds = ns->scene_shared ? (ns->node_rank == 0 && ns->node_renders) || ns->rank == 0
                                  : renders || ns->rank == 0;
    ns->builder = builds && (ns->rank != 0 || renders || (ns->scene_shared && ns->node_renders));
    MPI_Comm to;
    MPI_Comm_split(comm, builds ? 0 : MPI_UNDEFINED, ns->rank, &to);
    if (to != MPI_COMM_NULL) {
        if (ns->size > 1)
            r = xs_mpi_bcast_bytes(to, &ns->bytes, &ns->nbytes, err);
        MPI_Comm_free(&to);
    }
    if (r == XS_OK && ns->builder && ns->rank != 0) {
        r = xs_scene_input_open_paged(opt->scene, ns->bytes, ns->nbytes, &opt->limits, ns->paged ? opt->scene : NULL,
                                      ns->pages_id, &ns->input, err);
        if (r != XS_OK)
            fprintf(stderr, "xisuan render: error: rank %d: %s\n", ns->rank, err->msg);
    }
    if (!ns->builder || ns->rank == 0 || r != XS_OK) {
        free(ns->bytes); /* rank 0 keeps its input only to build its node's copy */
        ns->bytes = NULL;
    }
    ns->t_input = MPI_Wtime() - t0;
    if ((r = xs_mpi_agree(comm, r, err)) != XS_OK)
        return r;
    /* every rank applies the same manifest: rank 0's settings travel */
    xs_render_settings rs = opt->render;
    MPI_Bcast(&rs, (int)sizeof rs, MPI_BYTE, 0, comm);
    int fr[2] = {opt->frame_count, (int)opt->given};
    MPI_Bcast(fr, 2, MPI_INT, 0, comm);
    MPI_Bcast(opt->frames, fr[0], MPI_INT, 0, comm);
    MPI_Bcast(opt->frames_spec, (int)sizeof opt->frames_spec, MPI_CHAR, 0, comm);
    opt->render = rs;
    opt->frame_count = fr[0];
    opt->given = (unsigned)fr[1];
    if (ns->rank == 0) {
        char a[32];
        printf("xisuan: scene %s: %zu bytes packed%s, %d mesh(es), %d instance(s), %llu triangles placed, loaded in "
               "%.3f s; sent to %s\n",
               opt->scene, ns->nbytes ? ns->nbytes : (size_t)ns->mem.package,
               ns->paged ? " (the tar part; the texture pages stay in the file)" : "", ns->input->gltf->mesh_count,
               ns->input->gltf->instance_count, (unsigned long long)ns->input->gltf->tri_count_instanced,
               MPI_Wtime() - t0,
               ns->size == 1 ? "no other rank" : ns->scene_shared ? "one rank per node"
                                                 : ns->animated && ns->shared ? "every rendering rank (animated: posed per rank)"
                                                                              : "every rendering rank");
        if (ns->paged)
            printf("xisuan: texture pages: %s in %" PRIu64 " pages, read from %s on demand by every node\n",
                   xs_mem_str(ns->mem.texture_set, a, sizeof a), ns->mem.texture_pages, opt->scene);
        fflush(stdout);
        if (!ns->builder) { /* the scheduler alone on its node: it builds nothing */
            xs_scene_input_destroy(ns->input);
            ns->input = NULL;
        }
    }
    return XS_OK;
}

/* ---- step 4: the build ----------------------------------------------------------------------- */

/* The builder's scene from its input (then the input is freed). */
static xs_result build_scene(xs_node_share *ns, const xs_options *opt, xs_scene **out, xs_err *err)
{
    xs_scene_build build = {.threads = 0, .bvh = (xs_bvh_method)opt->render.bvh};
    xs_scene_setup su;
    xs_scene_setup_from_manifest(&su, opt->name, &ns->input->manifest, &ns->input->env, &build);
    su.pages = ns->input->pages;
    su.animations = opt->render.animations;
    xs_result r = xs_scene_from_gltf(ns->input->gltf, &su, out, err);
    if (r == XS_OK)
        xs_memplan_scene_built(*out, &ns->mem);
    return r;
}

/* A shared window of `bytes` on the builder (node rank 0), none elsewhere;
 * every rank gets the builder's segment in *base, 64-byte aligned (64 bytes
 * more are allocated: MPI aligns less, and the segment's offset within its
 * page, so its alignment, is the same in every process that maps it). */
static xs_result shared_window(xs_node_share *ns, uint64_t bytes, MPI_Win *win, void **base, xs_err *err)
{
    MPI_Bcast(&bytes, 1, MPI_UINT64_T, 0, ns->node);
    bytes += 64;
    void *mine = NULL;
    MPI_Info info;
    MPI_Info_create(&info);
    MPI_Info_set(info, "alloc_shared_noncontig", "false");
    int e = MPI_Win_allocate_shared(ns->node_rank == 0 ? (MPI_Aint)bytes : 0, 64, info, ns->node, &mine, win);
    MPI_Info_free(&info);
    int ok = e == MPI_SUCCESS, all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, ns->node);
    if (!all) {
        if (e == MPI_SUCCESS)
            MPI_Win_free(win);
        *win = MPI_WIN_NULL;
        char a[32];
        return xs_err_set(err, XS_ERR_NOMEM,
                          "node shared memory: MPI_Win_allocate_shared of %s failed (is /dev/shm large enough? "
                          "--node-share off makes each rank build its own copy)",
                          xs_mem_str(bytes, a, sizeof a));
    }
    MPI_Aint size = 0;
    int disp = 0;
    void *seg = NULL;
    MPI_Win_shared_query(*win, 0, &size, &disp, &seg);
    *base = (void *)(((uintptr_t)seg + 63) & ~(uintptr_t)63);
    return XS_OK;
}

/* The texture cache over ns->pages (or the builder's input's pages). */
static xs_result make_cache(xs_node_share *ns, const xs_options *opt, xs_err *err)
{
    const xs_texstore *st = ns->pages ? ns->pages : ns->input ? ns->input->pages : NULL;
    uint64_t pages = 0;
    if (ns->node_rank == 0 || !ns->shared)
        pages = st ? st->page_count : 0;
    uint64_t slots = xs_texcache_slots_for(ns->cache_bytes, ns->mem.texture_pages ? ns->mem.texture_pages : pages);
    xs_result r = XS_OK;
    void *block = NULL;
    if (ns->shared && ns->size > 1) {
        if (!ns->node_renders)
            return XS_OK;
        MPI_Bcast(&pages, 1, MPI_UINT64_T, 0, ns->node);
        slots = xs_texcache_slots_for(ns->cache_bytes, pages);
        r = shared_window(ns, xs_texcache_bytes(pages, slots), &ns->cache_win, &block, err);
        if (r != XS_OK)
            return r;
        /* the builder formats it; the others attach once it has */
        if (ns->node_rank == 0)
            r = xs_texcache_create(block, xs_texcache_bytes(pages, slots), true, slots, st, &ns->cache, err);
        int ok = r == XS_OK, all = 0;
        MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, ns->node);
        if (!all)
            return r != XS_OK ? r : xs_err_set(err, XS_ERR_INTERNAL, "the node's texture cache could not be made");
        if (ns->node_rank != 0 && ns->renders) {
            xs_texcache_destroy(ns->cache);
            ns->cache = NULL;
            r = xs_texcache_create(block, xs_texcache_bytes(pages, slots), false, slots, ns->pages, &ns->cache, err);
        }
        if (ns->node_rank == 0 && !ns->renders) { /* rank 0 formatted it for its node */
            xs_texcache_destroy(ns->cache);
            ns->cache = NULL;
        }
        return r;
    }
    if (!ns->renders || !st)
        return XS_OK;
    size_t bytes = xs_texcache_bytes(st->page_count, slots);
    ns->cache_private = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!ns->cache_private)
        return xs_err_set(err, XS_ERR_NOMEM, "texture cache: out of memory for %zu bytes", bytes);
    return xs_texcache_create(ns->cache_private, bytes, true, slots, st, &ns->cache, err);
}

xs_result xs_node_share_build(xs_node_share *ns, const xs_options *opt, xs_err *err)
{
    const double t0 = MPI_Wtime();
    xs_result r = XS_OK;
    if (ns->builtin)
        return XS_OK; /* xs_worker_init builds the built-in scene */
    xs_scene *built = NULL;
    if (ns->builder) {
        r = build_scene(ns, opt, &built, err);
        if (r != XS_OK)
            fprintf(stderr, "xisuan render: error: rank %d: %s\n", ns->rank, err->msg);
    }
    if ((r = xs_mpi_agree(ns->world, r, err)) != XS_OK) {
        xs_scene_destroy(built);
        return r;
    }
    /* each renderer's reader of the page store (the builder has its input's) */
    const bool formats = ns->shared && ns->size > 1 && ns->node_rank == 0 && ns->node_renders && !ns->input;
    if (ns->paged && (ns->renders || formats)) {
        r = xs_texstore_open(opt->scene, &ns->pages, err);
        if (r == XS_OK && ns->pages->id != ns->pages_id)
            r = xs_err_set(err, XS_ERR_INVALID,
                           "%s: its texture pages differ from the ones rank 0 read (is the package the same file "
                           "on every node, and unchanged since the job started?)",
                           opt->scene);
        if (r != XS_OK)
            fprintf(stderr, "xisuan render: error: rank %d: %s\n", ns->rank, err->msg);
    }
    if ((r = xs_mpi_agree(ns->world, r, err)) != XS_OK) {
        xs_scene_destroy(built);
        return r;
    }
    if (ns->scene_shared && ns->size > 1 && !ns->node_renders) {
        xs_scene_destroy(built); /* nothing renders here (rank 0 alone on its node) */
        built = NULL;
    } else if (ns->scene_shared && ns->size > 1) {
        /* the node's one copy: written by the builder, opened in place by all */
        void *block = NULL;
        uint64_t bytes = built ? xs_scene_share_bytes(built) : 0;
        r = shared_window(ns, bytes, &ns->scene_win, &block, err);
        if (r == XS_OK && built)
            r = xs_scene_share_write(built, block, (size_t)bytes, err);
        xs_scene_destroy(built);
        built = NULL;
        int ok = r == XS_OK, all = 0;
        MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, ns->node);
        MPI_Bcast(&bytes, 1, MPI_UINT64_T, 0, ns->node);
        if (r == XS_OK && !all)
            r = xs_err_set(err, XS_ERR_INTERNAL, "the node's shared scene could not be written");
        if (r == XS_OK && ns->renders) {
            xs_scene_build build = {.threads = 0, .bvh = (xs_bvh_method)opt->render.bvh};
            r = xs_scene_share_open(block, (size_t)bytes, &build, &ns->scene, err);
        }
        if (r != XS_OK)
            fprintf(stderr, "xisuan render: error: rank %d: %s\n", ns->rank, err->msg);
    } else if (ns->renders) {
        ns->scene = built; /* its own (posed per frame when animated) */
    } else {
        xs_scene_destroy(built); /* rank 0 of a farm renders nothing */
    }
    if ((r = xs_mpi_agree(ns->world, r, err)) != XS_OK)
        return r;
    if (ns->paged) {
        r = make_cache(ns, opt, err);
        if (r != XS_OK)
            fprintf(stderr, "xisuan render: error: rank %d: %s\n", ns->rank, err->msg);
        if (ns->scene && ns->cache)
            xs_scene_attach_texcache(ns->scene, ns->cache);
        if ((r = xs_mpi_agree(ns->world, r, err)) != XS_OK)
            return r;
    }
    /* the builder's input goes: the node holds the scene once (and the heap
     * the build used goes back to the system, not kept for later) */
    xs_scene_input_destroy(ns->input);
    ns->input = NULL;
    free(ns->bytes);
    ns->bytes = NULL;
#ifdef __GLIBC__
    if (ns->builder)
        malloc_trim(0);
#endif
    ns->t_built = MPI_Wtime() - t0;
    /* the scene as built against the plan */
    uint64_t real = ns->builder ? xs_memplan_scene_bytes(&ns->mem) : 0, most = 0;
    MPI_Reduce(&real, &most, 1, MPI_UINT64_T, MPI_MAX, 0, ns->world);
    if (ns->rank == 0) {
        char a[32], b[64] = "", c[32];
        if (ns->cache_bytes)
            snprintf(b, sizeof b, "; a texture page cache of %s per %s", xs_mem_str(ns->cache_bytes, c, sizeof c),
                     ns->shared && ns->size > 1 ? "node" : "rendering rank");
        printf("xisuan: scene built in %.3f s: %s, %s%s\n", ns->t_built, xs_mem_str(most, a, sizeof a),
               ns->scene_shared && ns->size > 1 ? "one copy per node in shared memory"
               : ns->animated                   ? "one copy per rendering rank (animated: each rank poses its own)"
                                                : "one copy per rendering rank",
               b);
        fflush(stdout);
    }
    return XS_OK;
}

/* ---- the report ------------------------------------------------------------------------------ */

/* Each rank's memory at the end: peak RSS and PSS (its share of the pages it
 * maps, shared ones split among the processes that map them), and each
 * node's sum of PSS: what the node holds for the job. */
static void report_memory(xs_node_share *ns, xs_events *events)
{
    uint64_t rss = 0, pss = 0;
    xs_process_memory(&rss, &pss);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    uint64_t mine[3] = {(uint64_t)ru.ru_maxrss << 10, pss, (uint64_t)ns->node_index};
    uint64_t *all = ns->rank == 0 ? calloc((size_t)ns->size * 3, sizeof *all) : NULL;
    int ok = ns->rank != 0 || all;
    MPI_Bcast(&ok, 1, MPI_INT, 0, ns->world);
    if (!ok)
        return;
    MPI_Gather(mine, 3, MPI_UINT64_T, all, 3, MPI_UINT64_T, 0, ns->world);
    if (ns->rank != 0)
        return;
    char a[32], b[32];
    printf("xisuan: memory at the end (peak RSS; PSS, the rank's share of the pages it maps):\n");
    for (int i = 0; i < ns->size && ns->size <= 16; ++i)
        printf("  rank %3d: peak RSS %s, PSS %s (node %llu)\n", i, xs_mem_str(all[3 * i], a, sizeof a),
               xs_mem_str(all[3 * i + 1], b, sizeof b), (unsigned long long)all[3 * i + 2]);
    for (int k = 0; k < ns->node_count; ++k) {
        uint64_t sum = 0, peak = 0;
        int ranks = 0;
        for (int i = 0; i < ns->size; ++i)
            if (all[3 * i + 2] == (uint64_t)k)
                sum += all[3 * i + 1], peak = all[3 * i] > peak ? all[3 * i] : peak, ranks++;
        if (k < 16)
            printf("  node %d: %d rank(s), PSS summed %s (%.1f MiB), the largest peak RSS %s\n", k, ranks,
                   xs_mem_str(sum, a, sizeof a), (double)sum / 1048576.0, xs_mem_str(peak, b, sizeof b));
        if (events)
            xs_events_emit(events, "node_memory",
                           "\"node\": %d, \"ranks\": %d, \"pss_bytes\": %llu, \"peak_rss_bytes\": %llu", k, ranks,
                           (unsigned long long)sum, (unsigned long long)peak);
    }
    fflush(stdout);
    free(all);
}

void xs_node_share_report(xs_node_share *ns, xs_events *events)
{
    if (ns->world == MPI_COMM_NULL)
        return;
    report_memory(ns, events);
    if (ns->builtin || !ns->paged)
        return;
    /* one figure per cache: a node's (its lowest rank holding it reports),
     * or each rank's own without sharing */
    int reporter = ns->cache != NULL;
    if (ns->shared && ns->size > 1) {
        int mine = ns->cache ? ns->node_rank : ns->node_size, low = 0;
        MPI_Allreduce(&mine, &low, 1, MPI_INT, MPI_MIN, ns->node);
        reporter = ns->cache && mine == low;
    }
    xs_texcache_stats st;
    memset(&st, 0, sizeof st);
    if (reporter)
        xs_texcache_stats_get(ns->cache, &st);
    uint64_t v[9] = {st.fetches, st.hits, st.loads, st.evictions, st.bytes_read, st.bytes_loaded,
                     st.slots, (uint64_t)(st.load_s * 1e6), (uint64_t)reporter};
    uint64_t sum[9];
    MPI_Reduce(v, sum, 9, MPI_UINT64_T, MPI_SUM, 0, ns->world);
    if (ns->rank != 0)
        return;
    double rate = sum[0] ? 100.0 * (double)sum[1] / (double)sum[0] : 0.0;
    char a[32], b[32], c[32], d[32];
    printf("xisuan: texture cache: %" PRIu64 " cache(s) of %s: %" PRIu64 " texel reads, %.3f%% hits; %" PRIu64
           " pages loaded (%s read, %s decompressed, %.2f s), %" PRIu64 " evicted; page set %s\n",
           sum[8], xs_mem_str(sum[8] ? sum[6] / sum[8] * XS_TEXPAGE_TEXELS * 4u : 0, a, sizeof a), sum[0], rate,
           sum[2], xs_mem_str(sum[4], b, sizeof b), xs_mem_str(sum[5], c, sizeof c), 1e-6 * (double)sum[7], sum[3],
           xs_mem_str(ns->mem.texture_set, d, sizeof d));
    fflush(stdout);
    if (events)
        xs_events_emit(events, "texture_cache",
                       "\"caches\": %" PRIu64 ", \"slots\": %" PRIu64 ", \"fetches\": %" PRIu64 ", \"hits\": %" PRIu64
                       ", \"hit_rate\": %.6f, \"loads\": %" PRIu64 ", \"evictions\": %" PRIu64
                       ", \"bytes_read\": %" PRIu64 ", \"bytes_decompressed\": %" PRIu64 ", \"load_s\": %.3f",
                       sum[8], sum[6], sum[0], sum[1], sum[0] ? (double)sum[1] / (double)sum[0] : 0.0, sum[2],
                       sum[3], sum[4], sum[5], 1e-6 * (double)sum[7]);
}

/* ---- clean-up -------------------------------------------------------------------------------- */

void xs_node_share_free(xs_node_share *ns)
{
    if (!ns || ns->world == MPI_COMM_NULL)
        return;
    xs_texcache_destroy(ns->cache);
    xs_scene_destroy(ns->scene);
    xs_texstore_close(ns->pages);
    xs_scene_input_destroy(ns->input);
    free(ns->bytes);
    free(ns->cache_private);
    if (ns->scene_win != MPI_WIN_NULL)
        MPI_Win_free(&ns->scene_win);
    if (ns->cache_win != MPI_WIN_NULL)
        MPI_Win_free(&ns->cache_win);
    if (ns->leaders != MPI_COMM_NULL)
        MPI_Comm_free(&ns->leaders);
    if (ns->node != MPI_COMM_NULL)
        MPI_Comm_free(&ns->node);
    memset(ns, 0, sizeof *ns);
    ns->world = MPI_COMM_NULL;
}
