/* The texture page cache: a bounded set of decompressed pages of a paged
 * package, in memory the caller provides: private to a process, or one block
 * of node shared memory every rank of a node attaches to (the farm puts it
 * in an MPI-3 shared window, scheduler/node_share.c), so a node holds each
 * page once and loads it once.
 *
 * The kernels read texels through xs_texcache_fetch (the view's tex_fetch).
 * A hit takes no lock: the page's slot carries a sequence number that is odd
 * while the slot is being rewritten, and a reader copies the texel between
 * two reads of it (a seqlock; the texels are read and written as relaxed
 * atomics), retrying when they differ. A miss reads and decompresses the
 * page from the package file with no lock held, then installs it under the
 * node's lock (a process-shared, robust mutex: a rank that dies holding it
 * does not hang the others), evicting the slot the clock hand finds unused
 * since its last pass. Two threads that miss the same page may both read it;
 * the first to install wins. So the value a fetch returns is the page's
 * texel whatever was resident: pixels do not depend on the cache's size or
 * on which rank loaded what.
 *
 * A page that cannot be read (an I/O error, a checksum mismatch) reads as 0
 * and marks this process's cache failed with the reason: the back end fails
 * the tile (xs_texcache_take_failure), which another rank retries.
 *
 * Statistics: loads, evictions and bytes are counted node-wide in the block;
 * fetches and hits are counted per thread and added to the block when the
 * thread calls xs_texcache_thread_flush (the CPU back end does after each
 * tile).
 */
#ifndef XS_TEXCACHE_H
#define XS_TEXCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/xs_result.h"
#include "io/xs_texpage.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_texcache xs_texcache;

enum { XS_TEXCACHE_MIN_SLOTS = 16 };

/* Bytes of the block a cache of `slots` pages over a store of `pages` pages
 * needs; the slots a budget of `bytes` buys (at least XS_TEXCACHE_MIN_SLOTS,
 * at most the pages there are). */
size_t xs_texcache_bytes(uint64_t pages, uint64_t slots);
uint64_t xs_texcache_slots_for(uint64_t bytes, uint64_t pages);

/* A cache over store in block mem (xs_texcache_bytes(store pages, slots)
 * bytes, 64-byte aligned). init: this process formats the block (one per
 * node, before any other attaches; the others pass false). The handle is
 * this process's; the store is borrowed. */
xs_result xs_texcache_create(void *mem, size_t bytes, bool init, uint64_t slots, const xs_texstore *store,
                             xs_texcache **out, xs_err *err);
void xs_texcache_destroy(xs_texcache *c); /* accepts NULL; the block is the caller's */

/* The kernels' tex_fetch: texels index[0..n) of page `page` into out
 * (kernels/xs_types.h); 0s when the page cannot be read (the cache failed). */
void xs_texcache_fetch(const void *cache, uint32_t page, const uint32_t *index, int n, uint32_t *out);
/* A whole page (a GPU's upload): its texels into out (XS_TEX_PAGE_TEXELS
 * room), *texels their count; loaded through the cache. */
xs_result xs_texcache_copy_page(xs_texcache *c, uint32_t page, uint32_t *out, uint32_t *texels, xs_err *err);
/* Adds the calling thread's fetch and hit counts to the block. */
void xs_texcache_thread_flush(void);
/* True when a page failed to load since the last call; why says which. */
bool xs_texcache_take_failure(xs_texcache *c, char *why, size_t n);

typedef struct xs_texcache_stats {
    uint64_t slots, pages;             /* capacity and the store's pages */
    uint64_t fetches, hits;            /* texel reads (flushed) and those that found their page */
    uint64_t loads, evictions;         /* pages read from the package, and slots reused */
    uint64_t bytes_read, bytes_loaded; /* compressed bytes read; texel bytes they became */
    uint64_t resident;                 /* slots holding a page now */
    double load_s;                     /* time spent reading and decompressing, summed over threads */
} xs_texcache_stats;
/* The node-wide figures of the block. */
void xs_texcache_stats_get(const xs_texcache *c, xs_texcache_stats *out);

#ifdef __cplusplus
}
#endif
#endif
