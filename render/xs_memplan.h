/* The memory plan: what a scene needs, what a node has, and where it goes,
 * worked out from the scene's own numbers before anything big is built, so
 * a job that cannot fit is refused with the plan instead of being killed by
 * the kernel's OOM killer (`xisuan render` prints it before rendering;
 * `xisuan info --scene PKG` prints it without rendering).
 *
 * Figures are bytes. Before the build, the BVH is an estimate (nodes per
 * triangle as the builders give on typical meshes, with a margin); after it
 * the scene's real sizes replace the estimates (xs_memplan_scene_built).
 * Where it goes on a node: the scene's arrays once (the node's shared copy,
 * or once per rendering rank without sharing, and always for an animated
 * scene, which each rank poses itself, with its pose state and motion
 * steps), the texture page cache once (shared even when the scene is not),
 * each rank's own buffers and its runtime, and while the scene is built, the
 * builder's transient (the package, the parsed glTF, the scene before it is
 * copied into the shared block). Pure: no MPI; the node's memory is read
 * from /proc/meminfo and the cgroup's limit (v1 or v2).
 */
#ifndef XS_MEMPLAN_H
#define XS_MEMPLAN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "io/xs_scene_input.h"
#include "render/xs_scene.h"
#include "render/xs_settings.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the scene needs, by kind. */
typedef struct xs_mem_scene {
    uint64_t package;       /* the package's bytes as read (the tar part of a paged one) */
    uint64_t unpacked;      /* its files extracted in memory */
    uint64_t gltf;          /* the parsed glTF: vertex arrays, indices, instances, decoded images */
    uint64_t geometry;      /* triangles and their shading attributes */
    uint64_t bvh;           /* BLAS and TLAS nodes */
    uint64_t instances;     /* a transform and its inverse, a mesh index and a light base each */
    uint64_t other;         /* materials, lights, the environment and its sampling tables */
    uint64_t textures_held; /* texture pages held whole in the scene (not paged) */
    uint64_t texture_set;   /* paged: every page decompressed */
    uint64_t texture_pages; /* pages over all levels */
    uint64_t build_extra;   /* the builder's scratch beyond the glTF (BVH builds, TLAS sort) */
    uint64_t triangles, instance_count;
    uint64_t embree_tris;   /* triangles Embree builds (--backend embree): before the build the scene's;
                             * after it exact (a mesh an identity and a transformed instance both
                             * place is built twice) */
    bool paged;
    bool bvh_estimated;
    /* an animated scene (something plays): posed per frame by each rendering
     * rank on its own copy (never the node's shared one); per rendering
     * rank besides that copy: */
    bool animated;
    uint64_t pose;          /* pose state: instances in file order and their boxes, each deforming
                             * mesh's rest arrays, rest tree, deformed vertices, morph deltas, skin weights */
    uint64_t motion;        /* motion blur: each step's transforms and deformed triangles, segment trees */
    uint32_t motion_steps;  /* steps over the shutter (0: no blur) */
    uint64_t deforming, moving; /* instances that deform (skins, morph targets) and that move */
} xs_mem_scene;

/* From the opened input (package_bytes: what was read) and the settings
 * (which animations play, the shutter, its motion steps), before building.
 * A deforming instance owns a copy of its mesh, counted in geometry and
 * BVH. */
void xs_memplan_scene(const xs_scene_input *in, uint64_t package_bytes, const xs_render_settings *rs,
                      xs_mem_scene *out);
/* Embree's copy of scene m on one rendering rank, at its build's peak:
 * what Embree's memory monitor measured (tests/test_embree memory_plan)
 * with a margin. */
uint64_t xs_memplan_embree(const xs_mem_scene *m);
/* The built scene's real sizes replace the estimates. */
void xs_memplan_scene_built(const xs_scene *s, xs_mem_scene *io);
/* The scene's shared block (what one copy costs). */
uint64_t xs_memplan_scene_bytes(const xs_mem_scene *m);

/* What the node has: physical memory, what is available now, the
 * cgroup's limit (0: none). */
typedef struct xs_node_memory {
    uint64_t total, available, cgroup_limit, cgroup_usage;
} xs_node_memory;
void xs_node_memory_read(xs_node_memory *out);
/* What a job may use on it: the available memory, within the cgroup's
 * limit (what is left of it). */
uint64_t xs_node_memory_usable(const xs_node_memory *m);

/* This process's resident and proportional set sizes (VmRSS; Pss from
 * /proc/self/smaps_rollup, 0 where the kernel has none). */
void xs_process_memory(uint64_t *rss, uint64_t *pss);

/* The plan of one node. */
typedef struct xs_mem_node_plan {
    /* given */
    int ranks;           /* on the node */
    int renderers;       /* of which render (rank 0 of a farm schedules) */
    bool shared;         /* one copy of the scene per node (not an animated one) and one texture cache */
    bool gpu;            /* the renderers render on GPUs (scene on the device; host keeps its copy) */
    bool embree;         /* the renderers render with --backend embree: each holds Embree's copy */
    uint64_t runtime;    /* a rank's base: MPI, libraries, stacks */
    uint64_t rank_buffers; /* a renderer's tile buffers, compression and assembly */
    uint64_t cache;      /* the texture page cache (paged; one a node, or one a rendering rank unshared) */
    uint64_t node_has;   /* usable memory */
    uint64_t node_budget, rank_budget; /* 0: none */
    /* worked out */
    uint64_t scene;          /* one copy */
    uint64_t embree_copy;    /* a renderer's Embree BVHs and primitive data (embree; else 0) */
    uint64_t scene_total;    /* on the node (one copy, or one per renderer) */
    uint64_t build;          /* the builder's transient extra */
    uint64_t node_peak, node_steady;
    uint64_t rank_peak;      /* the builder, while it builds */
    uint64_t rank_steady;    /* a renderer while rendering (RSS counts the shared pages it touches) */
    uint64_t node_limit;     /* min(node_has, node_budget) */
    bool fits;
    char why[400];
} xs_mem_node_plan;

/* Works out the plan of a node from the scene and the given fields. */
void xs_memplan_node(const xs_mem_scene *m, xs_mem_node_plan *p);

/* The texture page cache of a paged scene (0 otherwise): `given` bytes, or
 * when 0, the whole page set, at most a quarter of what the node has left
 * in plan p0 (worked out without a cache); rounded to the bytes of the
 * slots it buys (render/xs_texcache.h). */
uint64_t xs_memplan_cache(const xs_mem_scene *m, const xs_mem_node_plan *p0, uint64_t given);

/* A renderer's own buffers: tile buffers (writers + 1), the writers' EXR
 * compression, a frame's assembly band and preview. */
uint64_t xs_memplan_rank_buffers(const xs_render_settings *rs, int writers);

/* The plan in words: what the scene needs, what the node has, where it goes,
 * and whether it fits (indent: each line's prefix). */
void xs_memplan_print(FILE *f, const char *indent, const xs_mem_scene *m, const xs_mem_node_plan *p);

/* "1.5 GiB", "320.0 MiB", "12.0 KiB", "800 B". */
const char *xs_mem_str(uint64_t bytes, char *buf, size_t n);
/* Parses a size: a number with an optional K, M, G or T (binary units; a
 * trailing "iB" or "B" is allowed); field names it in messages. */
xs_result xs_mem_parse(const char *field, const char *s, uint64_t *out, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
