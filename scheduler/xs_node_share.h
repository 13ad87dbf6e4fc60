/* One copy of the scene per node, and the memory plan (`xisuan render`'s
 * steps 2 and 4, scheduler/farm.c).
 *
 * Read (step 2, every rank): rank 0 reads and checks the scene once; every
 * rank reports its node (MPI_Comm_split_type: the ranks sharing memory), its
 * runtime's memory and, once per node, what the node has; rank 0 works out
 * the memory plan of every node (render/xs_memplan.h), prints it, and
 * refuses the job on every rank, before anything is built, when a node
 * cannot hold it. The package's bytes then go to one rank per node only
 * (the builder: the node's lowest rank), not to every rank.
 *
 * Build (step 4, after placement): the builder of each node with rendering
 * ranks opens the package, builds the scene (BVHs, textures, lights) and
 * copies it into an MPI-3 shared window on the node communicator
 * (MPI_Win_allocate_shared); every rank of the node opens it in place
 * (render/scene_share.c). A paged package's texture cache is a second
 * shared window, formatted by the builder; each rank reads pages from the
 * package file itself. So node memory for the scene stays one copy however
 * many ranks the node has. With --node-share off (or a built-in scene) each
 * rendering rank builds its own, as before.
 *
 * Every function here is collective over the communicator given to
 * xs_node_share_read (the world), with the windows' clean-up collective over
 * each node.
 */
#ifndef XS_NODE_SHARE_H
#define XS_NODE_SHARE_H

#include <mpi.h>
#include <stdbool.h>

#include "io/xs_events.h"
#include "io/xs_scene_input.h"
#include "render/xs_memplan.h"
#include "render/xs_scene.h"
#include "render/xs_texcache.h"
#include "scheduler/xs_options.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_node_share {
    MPI_Comm world, node, leaders; /* leaders: each node's lowest rank (MPI_COMM_NULL elsewhere) */
    int rank, size, node_rank, node_size, node_index, node_count;
    bool renders;       /* this rank renders (every rank but 0 of a farm) */
    bool node_renders;  /* some rank of this node renders */
    bool builder;       /* this rank builds the scene (its node's, or its own) */
    bool shared;        /* one copy per node: the scene (unless animated) and the texture cache */
    bool animated;      /* something plays: each rendering rank builds and poses its own scene */
    bool scene_shared;  /* the built scene is the node's one copy (shared and not animated) */
    bool builtin;       /* a built-in scene: each rendering rank builds its own */
    xs_scene_input *input;  /* a builder's, until the build */
    unsigned char *bytes;   /* the package bytes a builder received */
    size_t nbytes;
    bool paged;
    uint64_t pages_id;
    uint64_t cache_bytes;   /* the texture cache per node */
    xs_mem_scene mem;       /* rank 0: the plan's scene */
    MPI_Win scene_win, cache_win;
    void *cache_private;    /* the cache's block without sharing */
    xs_scene *scene;        /* this rank's view of the scene (renderers) */
    xs_texstore *pages;     /* this rank's reader of the page store (renderers of a paged package) */
    xs_texcache *cache;
    double t_input, t_built;
} xs_node_share;

/* Step 2, into ns (zeroed by it). Fills scene_hash (the package's content,
 * pages included; a built-in scene's name). Prints the plan on rank 0.
 * Errors are printed where they happen; the result is the same on every
 * rank (XS_ERR_INVALID: bad input, or a scene that does not fit). */
xs_result xs_node_share_read(MPI_Comm comm, xs_options *opt, bool renders, xs_node_share *ns,
                             uint64_t *scene_hash, xs_err *err);
/* Step 4: the scene every rendering rank renders (ns->scene; NULL for a
 * built-in scene, which xs_worker_init builds). Same result on every rank. */
xs_result xs_node_share_build(xs_node_share *ns, const xs_options *opt, xs_err *err);
/* After the run: the texture cache's node-wide figures, summed over nodes,
 * printed by rank 0 and written to events (rank 0's; may be NULL). */
void xs_node_share_report(xs_node_share *ns, xs_events *events);
/* Frees everything (collective: the windows). Accepts a zeroed value. */
void xs_node_share_free(xs_node_share *ns);

#ifdef __cplusplus
}
#endif
#endif
