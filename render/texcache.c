/* The texture page cache (see xs_texcache.h).
 *
 * The block: a head (sizes, the lock, the clock hand, node-wide counters),
 * then the page table (per page: its slot, or NONE), then the slots'
 * records (page, sequence, reference bit), then the slots' texels. All of
 * it is read and written through C11 atomics, which are lock-free and so
 * address-free on the hosts we build for: they work across processes that
 * map the block at different addresses.
 *
 * Writing a slot (under the lock): the table entry of the page it held is
 * cleared, its sequence goes odd, the texels are written, the sequence goes
 * even, its record names the new page, and only then the new page's table
 * entry points at it. A reader that found the slot through the table checks
 * the record's page and an even, unchanged sequence around its texel read.
 */
#include "render/xs_texcache.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/xs_types.h"

#define NONE UINT32_MAX
static const uint64_t MAGIC = 0x3148434158545358ull; /* "XSTXCAH1" */

static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2,
              "the cache's atomics must be lock-free to work across processes");

typedef struct block_head {
    uint64_t magic;
    uint64_t pages, slots;
    uint64_t table_off, meta_off, pool_off;
    pthread_mutex_t lock;
    uint64_t hand; /* under the lock */
    uint64_t used; /* slots filled so far, under the lock */
    _Atomic uint64_t fetches, hits, loads, evictions, bytes_read, bytes_loaded, load_ns;
} block_head;

typedef struct slot_rec {
    _Atomic uint32_t page; /* NONE: empty */
    _Atomic uint32_t seq;  /* odd while the slot is rewritten */
    _Atomic uint32_t ref;  /* read since the clock hand last passed */
    uint32_t pad;
} slot_rec;

struct xs_texcache {
    block_head *head;
    _Atomic uint32_t *table;
    slot_rec *rec;
    _Atomic uint32_t *pool;
    const xs_texstore *store;
    pthread_mutex_t fail_lock; /* this process's failure */
    bool failed;
    char why[512];
};

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

size_t xs_texcache_bytes(uint64_t pages, uint64_t slots)
{
    return align64(sizeof(block_head)) + align64((size_t)pages * sizeof(uint32_t)) +
           align64((size_t)slots * sizeof(slot_rec)) + (size_t)slots * XS_TEX_PAGE_TEXELS * sizeof(uint32_t);
}

uint64_t xs_texcache_slots_for(uint64_t bytes, uint64_t pages)
{
    size_t fixed = align64(sizeof(block_head)) + align64((size_t)pages * sizeof(uint32_t)) + 64;
    uint64_t per = sizeof(slot_rec) + XS_TEX_PAGE_TEXELS * sizeof(uint32_t);
    uint64_t n = bytes > fixed ? (bytes - fixed) / per : 0;
    if (n > pages)
        n = pages;
    return n < XS_TEXCACHE_MIN_SLOTS ? XS_TEXCACHE_MIN_SLOTS : n;
}

xs_result xs_texcache_create(void *mem, size_t bytes, bool init, uint64_t slots, const xs_texstore *store,
                             xs_texcache **out, xs_err *err)
{
    *out = NULL;
    uint64_t pages = store->page_count;
    if (slots < 1 || xs_texcache_bytes(pages, slots) > bytes || ((uintptr_t)mem & 63) != 0)
        return xs_err_set(err, XS_ERR_INTERNAL, "texture cache: a block of %zu bytes cannot hold %llu slots over %llu pages",
                          bytes, (unsigned long long)slots, (unsigned long long)pages);
    block_head *h = (block_head *)mem;
    if (init) {
        memset(h, 0, sizeof *h);
        h->pages = pages;
        h->slots = slots;
        h->table_off = align64(sizeof(block_head));
        h->meta_off = h->table_off + align64((size_t)pages * sizeof(uint32_t));
        h->pool_off = h->meta_off + align64((size_t)slots * sizeof(slot_rec));
        pthread_mutexattr_t a;
        pthread_mutexattr_init(&a);
        pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
        pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
        int e = pthread_mutex_init(&h->lock, &a);
        pthread_mutexattr_destroy(&a);
        if (e != 0)
            return xs_err_set(err, XS_ERR_INTERNAL, "texture cache: a process-shared lock: %s", strerror(e));
        _Atomic uint32_t *table = (_Atomic uint32_t *)((char *)mem + h->table_off);
        for (uint64_t i = 0; i < pages; ++i)
            atomic_init(&table[i], NONE);
        slot_rec *rec = (slot_rec *)((char *)mem + h->meta_off);
        for (uint64_t i = 0; i < slots; ++i) {
            atomic_init(&rec[i].page, NONE);
            atomic_init(&rec[i].seq, 0u);
            atomic_init(&rec[i].ref, 0u);
        }
        atomic_thread_fence(memory_order_release);
        h->magic = MAGIC;
    } else if (h->magic != MAGIC || h->pages != pages || h->slots != slots) {
        return xs_err_set(err, XS_ERR_INTERNAL, "texture cache: the node's block is not a cache of %llu slots over %llu pages",
                          (unsigned long long)slots, (unsigned long long)pages);
    }
    xs_texcache *c = calloc(1, sizeof *c);
    if (!c)
        return xs_err_set(err, XS_ERR_NOMEM, "texture cache: out of memory");
    c->head = h;
    c->table = (_Atomic uint32_t *)((char *)mem + h->table_off);
    c->rec = (slot_rec *)((char *)mem + h->meta_off);
    c->pool = (_Atomic uint32_t *)((char *)mem + h->pool_off);
    c->store = store;
    pthread_mutex_init(&c->fail_lock, NULL);
    *out = c;
    return XS_OK;
}

void xs_texcache_destroy(xs_texcache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->fail_lock);
    free(c);
}

/* ---- the lock --------------------------------------------------------------------------- */

/* A rank died holding the lock: a slot it was rewriting is emptied (its new
 * page was not yet in the table), and the lock made consistent. */
static void recover(xs_texcache *c)
{
    for (uint64_t i = 0; i < c->head->slots; ++i) {
        slot_rec *r = &c->rec[i];
        uint32_t s = atomic_load_explicit(&r->seq, memory_order_relaxed);
        if (s & 1u) {
            atomic_store_explicit(&r->page, NONE, memory_order_relaxed);
            atomic_store_explicit(&r->seq, s + 1u, memory_order_release);
        }
    }
    pthread_mutex_consistent(&c->head->lock);
}

static void lock(xs_texcache *c)
{
    if (pthread_mutex_lock(&c->head->lock) == EOWNERDEAD)
        recover(c);
}

static void unlock(xs_texcache *c) { pthread_mutex_unlock(&c->head->lock); }

/* ---- statistics ------------------------------------------------------------------------- */

static _Thread_local struct {
    xs_texcache *c;
    uint64_t fetches, hits;
} tl;

void xs_texcache_thread_flush(void)
{
    if (tl.c) {
        atomic_fetch_add_explicit(&tl.c->head->fetches, tl.fetches, memory_order_relaxed);
        atomic_fetch_add_explicit(&tl.c->head->hits, tl.hits, memory_order_relaxed);
    }
    tl.c = NULL;
    tl.fetches = tl.hits = 0;
}

void xs_texcache_stats_get(const xs_texcache *c, xs_texcache_stats *o)
{
    memset(o, 0, sizeof *o);
    block_head *h = c->head;
    o->slots = h->slots;
    o->pages = h->pages;
    o->fetches = atomic_load(&h->fetches);
    o->hits = atomic_load(&h->hits);
    o->loads = atomic_load(&h->loads);
    o->evictions = atomic_load(&h->evictions);
    o->bytes_read = atomic_load(&h->bytes_read);
    o->bytes_loaded = atomic_load(&h->bytes_loaded);
    o->load_s = 1e-9 * (double)atomic_load(&h->load_ns);
    for (uint64_t i = 0; i < h->slots; ++i)
        o->resident += atomic_load_explicit(&c->rec[i].page, memory_order_relaxed) != NONE;
}

static void fail(xs_texcache *c, const char *why)
{
    pthread_mutex_lock(&c->fail_lock);
    if (!c->failed) {
        c->failed = true;
        snprintf(c->why, sizeof c->why, "%s", why);
    }
    pthread_mutex_unlock(&c->fail_lock);
}

bool xs_texcache_take_failure(xs_texcache *c, char *why, size_t n)
{
    if (!c)
        return false;
    pthread_mutex_lock(&c->fail_lock);
    bool f = c->failed;
    if (f && why)
        snprintf(why, n, "%s", c->why);
    c->failed = false;
    pthread_mutex_unlock(&c->fail_lock);
    return f;
}

/* ---- loading ------------------------------------------------------------------------------ */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e9 * (double)ts.tv_sec + (double)ts.tv_nsec;
}

/* A slot to (re)fill, under the lock: an unused one while there are, else
 * the first the clock hand finds unreferenced since its last pass. */
static uint64_t victim(xs_texcache *c)
{
    block_head *h = c->head;
    if (h->used < h->slots)
        return h->used++;
    for (;;) {
        uint64_t i = h->hand++ % h->slots;
        if (atomic_load_explicit(&c->rec[i].ref, memory_order_relaxed) == 0u)
            return i;
        atomic_store_explicit(&c->rec[i].ref, 0u, memory_order_relaxed);
    }
}

/* Reads page from the store and installs it; false (and the cache failed)
 * when it cannot be read. */
static bool load(xs_texcache *c, uint32_t page)
{
    uint32_t buf[XS_TEX_PAGE_TEXELS];
    uint32_t texels = 0, stored = 0;
    xs_err e;
    xs_err_clear(&e);
    double t0 = now_ns();
    if (xs_texstore_read(c->store, page, buf, &texels, &stored, &e) != XS_OK) {
        fail(c, e.msg);
        return false;
    }
    block_head *h = c->head;
    atomic_fetch_add_explicit(&h->load_ns, (uint64_t)(now_ns() - t0), memory_order_relaxed);
    lock(c);
    if (atomic_load_explicit(&c->table[page], memory_order_relaxed) != NONE) {
        unlock(c); /* another thread installed it first */
        return true;
    }
    uint64_t i = victim(c);
    slot_rec *r = &c->rec[i];
    uint32_t old = atomic_load_explicit(&r->page, memory_order_relaxed);
    if (old != NONE) {
        atomic_store_explicit(&c->table[old], NONE, memory_order_relaxed);
        atomic_fetch_add_explicit(&h->evictions, 1, memory_order_relaxed);
    }
    uint32_t s = atomic_load_explicit(&r->seq, memory_order_relaxed);
    atomic_store_explicit(&r->seq, s + 1u, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    _Atomic uint32_t *dst = c->pool + i * XS_TEX_PAGE_TEXELS;
    for (uint32_t k = 0; k < texels; ++k)
        atomic_store_explicit(&dst[k], buf[k], memory_order_relaxed);
    atomic_store_explicit(&r->page, page, memory_order_relaxed);
    atomic_store_explicit(&r->ref, 1u, memory_order_relaxed);
    atomic_store_explicit(&r->seq, s + 2u, memory_order_release);
    atomic_store_explicit(&c->table[page], (uint32_t)i, memory_order_release);
    unlock(c);
    atomic_fetch_add_explicit(&h->loads, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->bytes_read, stored, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->bytes_loaded, (uint64_t)texels * 4, memory_order_relaxed);
    return true;
}

/* Copies texels index[0..n) of page (or, index NULL, n from 0) when the page
 * is resident and stays so across the copy. */
static bool try_read(xs_texcache *c, uint32_t page, const uint32_t *index, uint32_t n, uint32_t *out)
{
    uint32_t i = atomic_load_explicit(&c->table[page], memory_order_acquire);
    if (i == NONE)
        return false;
    slot_rec *r = &c->rec[i];
    uint32_t s1 = atomic_load_explicit(&r->seq, memory_order_acquire);
    if ((s1 & 1u) || atomic_load_explicit(&r->page, memory_order_relaxed) != page)
        return false;
    const _Atomic uint32_t *src = c->pool + (size_t)i * XS_TEX_PAGE_TEXELS;
    for (uint32_t k = 0; k < n; ++k)
        out[k] = atomic_load_explicit(&src[index ? index[k] : k], memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&r->seq, memory_order_relaxed) != s1)
        return false;
    if (atomic_load_explicit(&r->ref, memory_order_relaxed) == 0u)
        atomic_store_explicit(&r->ref, 1u, memory_order_relaxed);
    return true;
}

void xs_texcache_fetch(const void *cache, uint32_t page, const uint32_t *index, int n, uint32_t *out)
{
    xs_texcache *c = (xs_texcache *)cache;
    if (tl.c != c) {
        xs_texcache_thread_flush();
        tl.c = c;
    }
    tl.fetches += (uint64_t)n;
    if (try_read(c, page, index, (uint32_t)n, out)) {
        tl.hits += (uint64_t)n;
        return;
    }
    /* loaded (by this thread or a racing one), then read; a page evicted
     * again before the read is loaded again */
    for (int attempt = 0; attempt < 1000; ++attempt) {
        if (!load(c, page))
            break;
        if (try_read(c, page, index, (uint32_t)n, out))
            return;
    }
    memset(out, 0, (size_t)n * sizeof *out);
    fail(c, "texture cache: a page could not be read, or was evicted 1000 times before it could be (the cache is "
            "far too small)");
}

xs_result xs_texcache_copy_page(xs_texcache *c, uint32_t page, uint32_t *out, uint32_t *texels, xs_err *err)
{
    if (page >= c->head->pages)
        return xs_err_set(err, XS_ERR_INTERNAL, "texture cache: page %u of %llu", page,
                          (unsigned long long)c->head->pages);
    uint32_t n = xs_texstore_page_texels(c->store, page);
    for (int attempt = 0; attempt < 1000; ++attempt) {
        if (try_read(c, page, NULL, n, out)) {
            *texels = n;
            return XS_OK;
        }
        if (!load(c, page)) {
            char why[512] = "";
            xs_texcache_take_failure(c, why, sizeof why);
            return xs_err_set(err, XS_ERR_IO, "%s", why);
        }
    }
    return xs_err_set(err, XS_ERR_RENDER, "texture cache: page %u was evicted 1000 times before it could be copied",
                      page);
}
