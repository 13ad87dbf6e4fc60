/* The rank-0 scheduling policy (see xs_sched.h for the contract).
 *
 * State: a cursor over the (frame, tile) sequence (a frame's tiles in the
 * order of their estimated cost with balance); a FIFO of priority items
 * (frame assemblies, merges of split tiles, items taken back from silent
 * workers); a list of failed items waiting for a retry (on another worker
 * when there is one); a bitmap of done tiles and a flag per assembled frame,
 * so a duplicate reply (two copies of an item) counts once; the split tiles
 * and their done parts; parked requests; per-worker request accounting, the
 * items each worker holds, and its estimated speed; a FIFO of actions for
 * the caller. Aggregates (live workers and their speed, the requests and
 * items still owed) keep every event O(1) in the number of workers.
 *
 * Time is an input (xs_sched_set_time), never read: the caller decides when
 * a worker is silent. END is sent only once the whole job is done (or
 * failed, or draining), so a worker is never released while an item could
 * still come back to the queue; a retired worker (its device lost) is the
 * exception: it gets END at once, as it will never take work again.
 */
#include "scheduler/xs_sched.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ring {
    void *data;
    size_t elem, cap, head, len;
} ring;

static int ring_push(ring *r, const void *v)
{
    if (r->len == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        unsigned char *nd = malloc(ncap * r->elem);
        if (!nd)
            return -1;
        for (size_t i = 0; i < r->len; ++i)
            memcpy(nd + i * r->elem, (unsigned char *)r->data + ((r->head + i) % r->cap) * r->elem,
                   r->elem);
        free(r->data);
        r->data = nd;
        r->cap = ncap;
        r->head = 0;
    }
    memcpy((unsigned char *)r->data + ((r->head + r->len) % r->cap) * r->elem, v, r->elem);
    r->len++;
    return 0;
}

/* Takes out element k (0: the head), keeping the others in order: the k
 * ahead of it move back one place (O(k)). */
static void ring_take(ring *r, size_t k, void *out)
{
    unsigned char *d = (unsigned char *)r->data;
    memcpy(out, d + ((r->head + k) % r->cap) * r->elem, r->elem);
    for (size_t i = k; i > 0; --i)
        memcpy(d + ((r->head + i) % r->cap) * r->elem, d + ((r->head + i - 1) % r->cap) * r->elem, r->elem);
    r->head = (r->head + 1) % r->cap;
    r->len--;
}

static const void *ring_at(const ring *r, size_t k)
{
    return (const unsigned char *)r->data + ((r->head + k) % r->cap) * r->elem;
}

static int ring_pop(ring *r, void *out)
{
    if (r->len == 0)
        return 0;
    memcpy(out, (unsigned char *)r->data + r->head * r->elem, r->elem);
    r->head = (r->head + 1) % r->cap;
    r->len--;
    return 1;
}

enum { MAX_FAIL_WORKERS = 16, MAX_PARTS = 64 };

/* An item that failed at least once. */
typedef struct fail_entry {
    xs_work_item item;
    int failures;
    int workers[MAX_FAIL_WORKERS];
    int nworkers;
    bool queued; /* waiting for a retry */
} fail_entry;

/* An item ahead of the tiles (an assembly, a part or merge of a split tile,
 * an item taken back), with the cost it was thought to have when queued. */
typedef struct prio_item {
    xs_work_item item;
    double cost;
} prio_item;

/* An item a worker holds: when it was assigned and what it was thought to cost. */
typedef struct held_item {
    xs_work_item item;
    double t_assign, cost;
    bool copied; /* a speculative copy of it went to another worker */
    bool known;  /* its tile's cost had been measured when it was assigned */
} held_item;

typedef struct worker_state {
    int64_t requests;  /* received */
    int64_t answered;  /* assign or end sent */
    int64_t replies;   /* done or failed received */
    held_item *held;   /* items assigned and not yet replied */
    int held_len, held_cap;
    double held_cost;  /* the estimated cost of what it holds */
    int prefetch;      /* requests it sends at start */
    double speed;      /* estimated cost units per second (1 until measured) */
    double t_reply;    /* when it last replied: the item it runs started about then */
    int measured;      /* results its speed was estimated from */
    int waiting;       /* requests set aside while it held items (serve) */
    bool silent;
    bool retired;      /* its device is lost: END to every request, for good */
    int32_t frame;     /* frame affinity: the frame of the last item it was given to
                        * render (-1: none); its animated scene is posed for it */
} worker_state;

/* A tile split into parts. */
typedef struct split_entry {
    int64_t slot; /* frame index * tiles + tile; -1: an empty bucket */
    int parts;
    uint64_t done; /* a bit per part */
} split_entry;

struct xs_sched {
    xs_sched_desc desc;
    int *frames;
    int32_t *index_of;    /* frame number (0..9999) -> frame index, -1 when not in the job */
    int *frame_remaining; /* tiles not yet done, per frame index */
    uint8_t *tile_done;   /* bitmap over frame index * tiles + tile */
    uint8_t *assembled;   /* per frame index */
    int64_t tiles_total, next_tile, tiles_done, assigned, retries, reassigned, splits, duplicates;
    int64_t cursor_end;
    int frames_done;
    bool failed, aborted, draining, last_dup;
    xs_work_item failed_item;
    int failed_workers[MAX_FAIL_WORKERS], failed_nworkers;
    fail_entry *fails;
    int nfails, fails_cap, fails_queued;
    ring priority; /* prio_item */
    ring parked;   /* int worker */
    ring actions;  /* xs_sched_action */
    worker_state *workers;
    bool oom;
    uint8_t *owned_skip, *owned_journaled;
    /* aggregates over the workers */
    int live, silent_n, retired_n;
    double speed_live;     /* summed over live workers */
    double held_cost_live; /* summed over live workers */
    double queued_cost;    /* the priority items' */
    int64_t owed;          /* over workers not silent: requests to come or to answer, items held */
    int64_t waiting_total; /* requests set aside, over the workers */
    /* balance */
    double now;
    float *cost;           /* per tile index: the last measured cost (< 0: not yet) */
    double cost_sum;       /* over the known costs */
    int64_t cost_n;
    int64_t unassigned;    /* tiles the cursor has not handed out */
    int *order;            /* the current frame's tiles, most expensive first */
    int order_frame;       /* the frame index order belongs to (-1: none) */
    split_entry *splitmap; /* open addressing over slots */
    size_t split_cap, split_len;
    /* test hook (desc.test_copy): the item whose copy goes to the next other
     * worker that asks, and who holds it */
    xs_work_item test_copy;
    int test_copy_owner; /* -1: none pending */
};

/* ---- accounting ----------------------------------------------------------------- */

static bool is_live(const worker_state *ws) { return !ws->silent && !ws->retired; }

/* What a worker not silent still owes the job's end: requests to come, to
 * answer, items to reply for. */
static int64_t owe(const worker_state *ws)
{
    return ws->silent ? 0 : (int64_t)ws->prefetch + ws->replies - ws->answered + ws->held_len;
}

/* Brackets a change of a worker's state so the aggregates follow it. */
typedef struct acct {
    int64_t owe;
    bool live;
    double speed, held_cost;
} acct;

static acct acct_begin(const worker_state *ws)
{
    return (acct){owe(ws), is_live(ws), ws->speed, ws->held_cost};
}

static void acct_end(xs_sched *s, const worker_state *ws, acct a)
{
    s->owed += owe(ws) - a.owe;
    bool live = is_live(ws);
    s->live += (int)live - (int)a.live;
    s->speed_live += (live ? ws->speed : 0.0) - (a.live ? a.speed : 0.0);
    s->held_cost_live += (live ? ws->held_cost : 0.0) - (a.live ? a.held_cost : 0.0);
}

/* ---- creation ------------------------------------------------------------------- */

void xs_sched_adopt(xs_sched *s, uint8_t *skip, uint8_t *journaled)
{
    s->owned_skip = skip;
    s->owned_journaled = journaled;
}

xs_result xs_sched_create(const xs_sched_desc *d, xs_sched **out, xs_err *err)
{
    *out = NULL;
    if (d->frame_count < 1 || d->tiles_per_frame < 1 || d->worker_count < 1 || d->prefetch < 1 ||
        d->max_retries < 0)
        return xs_err_set(err, XS_ERR_INVALID,
                          "scheduler: frames (%d), tiles per frame (%d), workers (%d) and "
                          "prefetch (%d) must be at least 1, retries (%d) at least 0",
                          d->frame_count, d->tiles_per_frame, d->worker_count, d->prefetch,
                          d->max_retries);
    xs_sched *s = calloc(1, sizeof *s);
    if (!s)
        return xs_err_set(err, XS_ERR_NOMEM, "scheduler: out of memory");
    s->desc = *d;
    if (s->desc.chunks_per_tile < 1)
        s->desc.chunks_per_tile = 1;
    if (s->desc.chunks_per_tile > 32767)
        s->desc.chunks_per_tile = 32767;
    size_t slots = (size_t)d->frame_count * (size_t)d->tiles_per_frame;
    s->frames = malloc((size_t)d->frame_count * sizeof *s->frames);
    s->index_of = malloc(XS_SCHED_MAX_FRAME_NUMBER * sizeof *s->index_of);
    s->frame_remaining = malloc((size_t)d->frame_count * sizeof *s->frame_remaining);
    s->tile_done = calloc(slots / 8 + 1, 1);
    s->assembled = calloc((size_t)d->frame_count, 1);
    s->workers = calloc((size_t)d->worker_count, sizeof *s->workers);
    s->cost = malloc((size_t)d->tiles_per_frame * sizeof *s->cost);
    s->order = malloc((size_t)d->tiles_per_frame * sizeof *s->order);
    if (!s->frames || !s->index_of || !s->frame_remaining || !s->tile_done || !s->assembled ||
        !s->workers || !s->cost || !s->order) {
        xs_sched_destroy(s);
        return xs_err_set(err, XS_ERR_NOMEM, "scheduler: out of memory");
    }
    memcpy(s->frames, d->frames, (size_t)d->frame_count * sizeof *s->frames);
    s->desc.frames = s->frames;
    s->desc.worker_prefetch = NULL; /* copied into the workers */
    s->desc.worker_speed = NULL;
    for (int i = 0; i < d->worker_count; ++i) {
        worker_state *ws = &s->workers[i];
        ws->prefetch = d->worker_prefetch ? d->worker_prefetch[i] : d->prefetch;
        ws->speed = d->worker_speed && d->worker_speed[i] > 1e-6 && isfinite(d->worker_speed[i]) ? d->worker_speed[i] : 1.0;
        if (ws->prefetch < 1) {
            int p = ws->prefetch;
            xs_sched_destroy(s);
            return xs_err_set(err, XS_ERR_INVALID, "scheduler: worker %d: prefetch %d must be at least 1", i, p);
        }
        s->owed += ws->prefetch;
        s->live++;
        s->speed_live += ws->speed;
    }
    for (int i = 0; i < XS_SCHED_MAX_FRAME_NUMBER; ++i)
        s->index_of[i] = -1;
    for (int i = 0; i < d->frame_count; ++i) {
        if (d->frames[i] < 0 || d->frames[i] >= XS_SCHED_MAX_FRAME_NUMBER ||
            s->index_of[d->frames[i]] >= 0) {
            int f = d->frames[i];
            xs_sched_destroy(s);
            return xs_err_set(err, XS_ERR_INVALID,
                              "scheduler: frame %d is out of [0, %d) or listed twice", f,
                              XS_SCHED_MAX_FRAME_NUMBER);
        }
        s->index_of[d->frames[i]] = i;
    }
    for (int i = 0; i < d->frame_count; ++i)
        s->frame_remaining[i] = d->tiles_per_frame;
    for (int t = 0; t < d->tiles_per_frame; ++t)
        s->cost[t] = -1.0f;
    s->order_frame = -1;
    for (int i = 0; i < d->worker_count; ++i)
        s->workers[i].frame = -1;
    s->test_copy_owner = -1;
    s->tiles_total = (int64_t)slots;
    s->cursor_end = (int64_t)slots;
    for (int i = 0; d->skip && i < d->frame_count; ++i)
        if (d->skip[i]) {
            s->frame_remaining[i] = 0;
            s->assembled[i] = 1;
            s->tiles_total -= d->tiles_per_frame;
            s->frames_done++;
        }
    s->unassigned = s->tiles_total;
    s->priority.elem = sizeof(prio_item);
    s->parked.elem = sizeof(int);
    s->actions.elem = sizeof(xs_sched_action);
    *out = s;
    return XS_OK;
}

void xs_sched_destroy(xs_sched *s)
{
    if (!s)
        return;
    if (s->workers)
        for (int i = 0; i < s->desc.worker_count; ++i)
            free(s->workers[i].held);
    free(s->workers), free(s->frames), free(s->index_of), free(s->frame_remaining);
    free(s->tile_done), free(s->cost), free(s->order), free(s->splitmap);
    free(s->assembled), free(s->fails), free(s->priority.data), free(s->parked.data);
    free(s->actions.data), free(s->owned_skip), free(s->owned_journaled);
    free(s);
}

/* ---- items ---------------------------------------------------------------------- */

static int frame_index(const xs_sched *s, int frame)
{
    return frame >= 0 && frame < XS_SCHED_MAX_FRAME_NUMBER ? s->index_of[frame] : -1;
}

static size_t slot(const xs_sched *s, int fi, int tile)
{
    return (size_t)fi * (size_t)s->desc.tiles_per_frame + (size_t)tile;
}
static bool bit(const uint8_t *b, size_t i) { return (b[i / 8] >> (i % 8)) & 1u; }

static bool same_item(const xs_work_item *a, const xs_work_item *b)
{
    return a->kind == b->kind && a->frame == b->frame && a->tile == b->tile &&
           (a->kind != XS_WORK_PART || a->chunk_first == b->chunk_first);
}

static split_entry *split_find(const xs_sched *s, int64_t k)
{
    if (!s->split_cap)
        return NULL;
    size_t j = (size_t)((uint64_t)k * 0x9e3779b97f4a7c15ull) & (s->split_cap - 1);
    while (s->splitmap[j].slot >= 0) {
        if (s->splitmap[j].slot == k)
            return &s->splitmap[j];
        j = (j + 1) & (s->split_cap - 1);
    }
    return NULL;
}

static split_entry *split_add(xs_sched *s, int64_t k, int parts)
{
    if (2 * (s->split_len + 1) > s->split_cap) {
        size_t nc = s->split_cap ? s->split_cap * 2 : 64;
        split_entry *nm = malloc(nc * sizeof *nm);
        if (!nm) {
            s->oom = true;
            return NULL;
        }
        for (size_t i = 0; i < nc; ++i)
            nm[i].slot = -1;
        for (size_t i = 0; i < s->split_cap; ++i)
            if (s->splitmap[i].slot >= 0) {
                size_t j = (size_t)((uint64_t)s->splitmap[i].slot * 0x9e3779b97f4a7c15ull) & (nc - 1);
                while (nm[j].slot >= 0)
                    j = (j + 1) & (nc - 1);
                nm[j] = s->splitmap[i];
            }
        free(s->splitmap);
        s->splitmap = nm;
        s->split_cap = nc;
    }
    size_t j = (size_t)((uint64_t)k * 0x9e3779b97f4a7c15ull) & (s->split_cap - 1);
    while (s->splitmap[j].slot >= 0)
        j = (j + 1) & (s->split_cap - 1);
    s->splitmap[j] = (split_entry){k, parts, 0};
    s->split_len++;
    return &s->splitmap[j];
}

/* Part j of a tile split into `parts` over `chunks` chunks: its first chunk. */
static int part_first(int j, int parts, int chunks) { return (int)((int64_t)j * chunks / parts); }

static int part_index(const xs_work_item *it, int parts, int chunks)
{
    for (int j = 0; j < parts; ++j)
        if (part_first(j, parts, chunks) == it->chunk_first)
            return j;
    return -1;
}

/* Is this item's work already done (by some copy of it)? */
static bool item_done(const xs_sched *s, const xs_work_item *it)
{
    int fi = frame_index(s, it->frame);
    if (fi < 0)
        return true;
    if (it->kind == XS_WORK_ASSEMBLE)
        return s->assembled[fi] != 0;
    if (it->tile < 0 || it->tile >= s->desc.tiles_per_frame)
        return true;
    size_t k = slot(s, fi, it->tile);
    if (bit(s->tile_done, k))
        return true;
    if (it->kind == XS_WORK_PART) {
        const split_entry *e = split_find(s, (int64_t)k);
        int j = e ? part_index(it, e->parts, s->desc.chunks_per_tile) : -1;
        return !e || j < 0 || (e->done >> j) & 1u;
    }
    return false;
}

static bool work_complete(const xs_sched *s)
{
    return s->tiles_done == s->tiles_total &&
           (!s->desc.assemble || s->frames_done == s->desc.frame_count);
}

/* END is the answer once nothing is left to hand out, ever. */
static bool ending(const xs_sched *s)
{
    return s->failed || s->aborted || s->draining || work_complete(s);
}

static fail_entry *find_fail(xs_sched *s, const xs_work_item *it)
{
    for (int i = 0; i < s->nfails; ++i)
        if (same_item(&s->fails[i].item, it))
            return &s->fails[i];
    return NULL;
}

/* ---- costs and speeds ------------------------------------------------------------- */

static double mean_cost(const xs_sched *s) { return s->cost_n > 0 ? s->cost_sum / (double)s->cost_n : 1.0; }

static double tile_cost(const xs_sched *s, int tile)
{
    return tile >= 0 && tile < s->desc.tiles_per_frame && s->cost[tile] >= 0.0f ? s->cost[tile]
                                                                                : mean_cost(s);
}

/* What an item is thought to cost, in the units of the speeds. */
static double item_cost(const xs_sched *s, const xs_work_item *it)
{
    double c = tile_cost(s, it->tile);
    switch (it->kind) {
    case XS_WORK_TILE:
        return it->flags & XS_ITEM_VERIFY ? 0.02 * c : c;
    case XS_WORK_PART:
        return c * (double)it->chunk_count / (double)s->desc.chunks_per_tile;
    case XS_WORK_MERGE:
        return 0.05 * c;
    default:
        return 0.05 * mean_cost(s) * (double)s->desc.tiles_per_frame / 64.0 + 1e-3;
    }
}

/* Queues an item ahead of the tiles. */
static void prio_push(xs_sched *s, const xs_work_item *it)
{
    prio_item p = {*it, item_cost(s, it)};
    if (ring_push(&s->priority, &p) != 0)
        s->oom = true;
    else
        s->queued_cost += p.cost;
}

static void prio_pop(xs_sched *s, xs_work_item *it)
{
    prio_item p;
    if (!ring_pop(&s->priority, &p))
        return;
    *it = p.item;
    s->queued_cost -= p.cost;
    if (s->priority.len == 0)
        s->queued_cost = 0.0; /* no drift left over */
}

/* A result took `seconds` on worker w: the worker's speed and the tile's cost. */
static void learn(xs_sched *s, worker_state *ws, const held_item *h, double seconds)
{
    const xs_work_item *it = &h->item;
    if (!(seconds > 1e-9) || !isfinite(seconds) || (it->kind != XS_WORK_TILE && it->kind != XS_WORK_PART) ||
        (it->flags & XS_ITEM_VERIFY))
        return;
    double frac = it->kind == XS_WORK_PART ? (double)it->chunk_count / (double)s->desc.chunks_per_tile : 1.0;
    /* the speed from the cost as it was thought (only a measured one: a
     * guess would blame the worker for the tile), then the cost from that
     * speed. The first results are averaged, then a moving average over
     * about the last 7, each result within 4x of the estimate (one tile
     * whose cost changed a lot does not throw the estimate) */
    if (h->known) {
        double sample = h->cost / seconds;
        if (ws->measured >= 3)
            sample = sample > 4.0 * ws->speed ? 4.0 * ws->speed : sample < 0.25 * ws->speed ? 0.25 * ws->speed : sample;
        acct a = acct_begin(ws);
        double wgt = ws->measured < 6 ? 1.0 / (double)(ws->measured + 1) : 0.15;
        ws->measured++;
        ws->speed = (1.0 - wgt) * ws->speed + wgt * sample;
        if (!(ws->speed > 1e-9))
            ws->speed = 1e-9;
        acct_end(s, ws, a);
    }
    double c = seconds * ws->speed / frac;
    if (s->cost[it->tile] >= 0.0f) {
        s->cost_sum -= s->cost[it->tile];
        s->cost_n--;
    }
    s->cost[it->tile] = (float)c;
    s->cost_sum += c;
    s->cost_n++;
}

/* The remaining work's horizon: when the live farm would finish it at its
 * estimated speeds. */
static double horizon(const xs_sched *s)
{
    double rem = (double)s->unassigned * mean_cost(s) + s->held_cost_live + s->queued_cost;
    return s->speed_live > 0.0 ? rem / s->speed_live : INFINITY;
}

/* May worker ws take an item of cost c? Only when it would finish it no
 * later than the remaining work's horizon, or than a worker of the farm's
 * mean speed would with nothing else to do: a slow worker never holds work a
 * fast one would finish first, and no worker holds more than its share at
 * the end. */
static bool admit(const xs_sched *s, const worker_state *ws, double c)
{
    if (!s->desc.balance)
        return true;
    double finish = (ws->held_cost + c) / ws->speed;
    double mean_speed = s->live > 0 ? s->speed_live / s->live : ws->speed;
    double bound = horizon(s), alone = c / mean_speed;
    /* estimates err in proportion to the time: a margin as long again, so a
     * slow worker stops taking work well before the end */
    double margin = ws->speed < 0.25 * mean_speed ? 4.0 : 2.0; /* a slow worker's results are few */
    return finish <= alone * 1.0001 || margin * finish <= bound * 1.0001;
}

/* ---- handing out work -------------------------------------------------------------- */

/* The current frame's tile order: most expensive first (known costs), the
 * tile index breaking ties; row-major without balance or costs. */
static void order_frame(xs_sched *s, int fi)
{
    const int T = s->desc.tiles_per_frame;
    for (int t = 0; t < T; ++t)
        s->order[t] = t;
    s->order_frame = fi;
    if (!s->desc.balance || s->cost_n == 0)
        return;
    /* insertion into a sorted list is O(T^2): sort by (cost, index) keys */
    struct key {
        float c;
        int t;
    };
    struct key *k = malloc((size_t)T * sizeof *k);
    if (!k)
        return; /* row-major: still correct */
    for (int t = 0; t < T; ++t)
        k[t] = (struct key){(float)tile_cost(s, t), t};
    /* a bottom-up merge sort: deterministic, no qsort_r */
    struct key *tmp = malloc((size_t)T * sizeof *tmp);
    if (tmp) {
        for (int w = 1; w < T; w *= 2)
            for (int lo = 0; lo < T; lo += 2 * w) {
                int mid = lo + w < T ? lo + w : T, hi = lo + 2 * w < T ? lo + 2 * w : T;
                int i = lo, j = mid, o = lo;
                while (i < mid && j < hi)
                    tmp[o++] = (k[i].c > k[j].c || (k[i].c == k[j].c && k[i].t < k[j].t)) ? k[i++] : k[j++];
                while (i < mid)
                    tmp[o++] = k[i++];
                while (j < hi)
                    tmp[o++] = k[j++];
                memcpy(k + lo, tmp + lo, (size_t)(hi - lo) * sizeof *k);
            }
        for (int t = 0; t < T; ++t)
            s->order[t] = k[t].t;
    }
    free(tmp);
    free(k);
}

/* ---- priority items, retries, frame affinity ---------------------------------------- */

static const prio_item *prio_at(const xs_sched *s, size_t k) { return ring_at(&s->priority, k); }

/* Removes the priority item k places behind the head (k < len) into *it. */
static void prio_take(xs_sched *s, size_t k, xs_work_item *it)
{
    prio_item p;
    ring_take(&s->priority, k, &p);
    *it = p.item;
    s->queued_cost -= p.cost;
    if (s->priority.len == 0)
        s->queued_cost = 0.0; /* no drift left over */
}

/* Does a worker render this item from its scene (posed for the item's
 * frame when the scene is animated)? Assemblies, merges and verifications
 * read files only. */
static bool renders(const xs_work_item *it)
{
    return (it->kind == XS_WORK_TILE && !(it->flags & XS_ITEM_VERIFY)) || it->kind == XS_WORK_PART;
}

/* Frame affinity: may worker ws take the item without posing its scene for
 * another frame? */
static bool fits_frame(const worker_state *ws, const xs_work_item *it)
{
    return !renders(it) || ws->frame < 0 || it->frame == ws->frame;
}

/* How far behind the head of the priority items frame affinity looks for
 * one that fits the worker: the cost of an event stays bounded. */
enum { AFFINITY_WINDOW = 64 };

/* A retry for worker w (of `frame`, or any when frame < 0): on another
 * worker than the one it last failed on, and past admission: the others may
 * be too slow to be admitted, and a retry must not wait for ever. */
static bool take_retry(xs_sched *s, int w, int32_t frame, xs_work_item *it)
{
    for (int i = 0; s->fails_queued > 0 && i < s->nfails; ++i) {
        fail_entry *f = &s->fails[i];
        if (!f->queued)
            continue;
        if (item_done(s, &f->item)) {
            f->queued = false;
            s->fails_queued--;
            continue;
        }
        if (frame >= 0 && renders(&f->item) && f->item.frame != frame)
            continue;
        int last = f->workers[f->nworkers - 1];
        if (last != w || s->live <= 1 || !is_live(&s->workers[last])) {
            f->queued = false;
            s->fails_queued--;
            *it = f->item;
            return true;
        }
    }
    return false;
}

static bool maybe_split(xs_sched *s, xs_work_item *it);

/* The cursor's next tile, if worker ws may take it (admit). */
static bool take_cursor(xs_sched *s, const worker_state *ws, xs_work_item *it)
{
    const int64_t T = s->desc.tiles_per_frame;
    if (s->next_tile >= s->cursor_end)
        return false;
    int64_t k = s->next_tile;
    int fi = (int)(k / T);
    if (s->order_frame != fi)
        order_frame(s, fi);
    int tile = s->order[k % T];
    memset(it, 0, sizeof *it);
    it->kind = XS_WORK_TILE;
    it->frame = s->frames[fi];
    it->tile = tile;
    it->flags = s->desc.journaled && s->desc.journaled[(size_t)fi * (size_t)T + (size_t)tile] ? XS_ITEM_VERIFY : 0;
    if (admit(s, ws, item_cost(s, it))) {
        s->next_tile++;
        s->unassigned--;
        maybe_split(s, it); /* near the end: it takes the first part */
        return true;
    }
    /* a worker that may not take the whole tile may take a part of it (near
     * the end the tile is cut now; the other parts go ahead of everything) */
    if (!maybe_split(s, it))
        return false;
    s->next_tile++;
    s->unassigned--;
    if (admit(s, ws, item_cost(s, it)))
        return true;
    prio_push(s, it); /* every part queued; none for this worker now */
    return false;
}

/* Frame affinity (an animated scene, posed per frame on each worker):
 * worker w keeps to the frame it renders while that frame has work, so it
 * does not pose its scene back and forth. Among the first AFFINITY_WINDOW
 * priority items, the first that fits its frame (an assembly, or an item of
 * its frame); then a retry of its frame; then, while the cursor is in its
 * frame, the cursor's next tile; else what take_item hands out without
 * affinity. Balance holds: every item still passes admission (retries
 * excepted, as without affinity), the cursor keeps the cost order, and an
 * item another frame's worker skips stays queued for the others. Returns
 * 1 (*it set), 0 (nothing it may take now) or -1 (no item fits its frame:
 * the caller goes on without affinity). */
static int take_affine(xs_sched *s, int w, xs_work_item *it)
{
    const worker_state *ws = &s->workers[w];
    if (ws->frame < 0)
        return -1;
    for (size_t k = 0; k < s->priority.len && k < AFFINITY_WINDOW;) {
        const prio_item *p = prio_at(s, k);
        if (k == 0 && item_done(s, &p->item)) {
            prio_pop(s, it);
            continue;
        }
        if (!item_done(s, &p->item) && fits_frame(ws, &p->item)) {
            if (!admit(s, ws, p->cost))
                return 0;
            prio_take(s, k, it);
            return 1;
        }
        ++k;
    }
    if (take_retry(s, w, ws->frame, it))
        return 1;
    const int64_t T = s->desc.tiles_per_frame;
    if (s->next_tile < s->cursor_end && s->frames[s->next_tile / T] == ws->frame)
        return take_cursor(s, ws, it) ? 1 : 0;
    return -1;
}

/* The next item for worker w, if there is one it may take (admit): a
 * priority item, a retry (on another worker than the one it last failed on
 * when possible), or the cursor's next tile; with frame affinity, what fits
 * the worker's frame first (take_affine). An item it may not take stays
 * where it is. */
static bool take_item(xs_sched *s, int w, xs_work_item *it)
{
    if (ending(s))
        return false;
    const worker_state *ws = &s->workers[w];
    const int64_t T = s->desc.tiles_per_frame;
    while (s->next_tile < s->cursor_end && s->desc.skip && s->desc.skip[s->next_tile / T])
        s->next_tile += T - s->next_tile % T; /* a finished frame: next frame */
    if (s->desc.frame_affinity) {
        int a = take_affine(s, w, it);
        if (a >= 0)
            return a == 1;
    }
    while (s->priority.len > 0) {
        const prio_item *head = prio_at(s, 0);
        if (item_done(s, &head->item)) {
            prio_pop(s, it);
            continue;
        }
        if (!admit(s, ws, head->cost))
            return false;
        prio_pop(s, it);
        return true;
    }
    if (take_retry(s, w, -1, it))
        return true;
    return take_cursor(s, ws, it);
}

/* Is there anything left to hand out (to some worker)? */
static bool work_available(const xs_sched *s)
{
    return s->priority.len > 0 || s->fails_queued > 0 || s->unassigned > 0;
}

/* Near the end, a tile that would take a mean worker more than half the
 * remaining horizon is cut into parts of its sample chunks: it replaces *it
 * by the first part and queues the others ahead of everything. A tile whose
 * cost was never measured may cost several times the mean (costs are heavy
 * tailed), so it is cut as if it cost XS_UNKNOWN_RISK times its estimate. */
enum { UNKNOWN_RISK = 4 };
static bool split_into(xs_sched *s, xs_work_item *it, int parts);
static bool maybe_split(xs_sched *s, xs_work_item *it)
{
    const int C = s->desc.chunks_per_tile;
    if (s->desc.test_split >= 2 && C >= 2 && it->kind == XS_WORK_TILE && !(it->flags & XS_ITEM_VERIFY)) {
        int fi = frame_index(s, it->frame); /* test hook: every tile, P parts */
        if (split_find(s, (int64_t)slot(s, fi, it->tile)))
            return false;
        return split_into(s, it, s->desc.test_split < C ? s->desc.test_split : C);
    }
    if (!s->desc.balance || C < 2 || it->kind != XS_WORK_TILE || (it->flags & XS_ITEM_VERIFY) || s->live < 2)
        return false;
    double mean_speed = s->speed_live / s->live;
    double t = item_cost(s, it) / mean_speed;
    if (s->cost[it->tile] < 0.0f)
        t *= UNKNOWN_RISK;
    double h = horizon(s);
    if (!(t > 0.5 * h))
        return false;
    int fi = frame_index(s, it->frame);
    int64_t k = (int64_t)slot(s, fi, it->tile);
    if (split_find(s, k))
        return false; /* already split (a retry of the whole tile) */
    double want = h > 0 ? ceil(2.0 * t / h) : (double)C;
    int parts = (int)(want < (double)C ? want : (double)C);
    if (parts > s->live)
        parts = s->live;
    if (parts > MAX_PARTS)
        parts = MAX_PARTS;
    if (parts < 2)
        return false;
    return split_into(s, it, parts);
}

/* Splits *it (a tile not yet split) into `parts` parts: *it becomes the
 * first, the others go ahead of everything. */
static bool split_into(xs_sched *s, xs_work_item *it, int parts)
{
    const int C = s->desc.chunks_per_tile;
    if (parts > MAX_PARTS)
        parts = MAX_PARTS;
    int64_t k = (int64_t)slot(s, frame_index(s, it->frame), it->tile);
    if (parts < 2 || !split_add(s, k, parts))
        return false;
    s->splits++;
    for (int j = 1; j < parts; ++j) {
        xs_work_item p = {XS_WORK_PART, it->frame, it->tile, 0, part_first(j, parts, C),
                          part_first(j + 1, parts, C) - part_first(j, parts, C)};
        prio_push(s, &p);
    }
    it->kind = XS_WORK_PART;
    it->chunk_first = 0;
    it->chunk_count = part_first(1, parts, C);
    return true;
}

static void emit(xs_sched *s, int kind, int worker, const xs_work_item *it)
{
    xs_sched_action a;
    memset(&a, 0, sizeof a);
    a.kind = kind;
    a.worker = worker;
    if (it)
        a.item = *it;
    if (ring_push(&s->actions, &a) != 0)
        s->oom = true;
}

static void hold(xs_sched *s, worker_state *ws, const xs_work_item *it, bool copied)
{
    if (ws->held_len == ws->held_cap) {
        int ncap = ws->held_cap ? ws->held_cap * 2 : 4;
        held_item *nh = realloc(ws->held, (size_t)ncap * sizeof *nh);
        if (!nh) {
            s->oom = true;
            return;
        }
        ws->held = nh;
        ws->held_cap = ncap;
    }
    double c = item_cost(s, it);
    bool known = it->tile >= 0 && it->tile < s->desc.tiles_per_frame && s->cost[it->tile] >= 0.0f;
    ws->held[ws->held_len++] = (held_item){*it, s->now, c, copied, known};
    ws->held_cost += c;
}

/* Hands item to worker w. */
static void assign(xs_sched *s, int w, const xs_work_item *it, bool copied)
{
    worker_state *ws = &s->workers[w];
    acct a = acct_begin(ws);
    hold(s, ws, it, copied);
    if (renders(it))
        ws->frame = it->frame;
    ws->answered++;
    acct_end(s, ws, a);
    s->assigned++;
    emit(s, XS_ACT_ASSIGN, w, it);
}

/* An idle worker at the end of the job: a copy of the item held elsewhere
 * that it would finish the most before the holder, when that saves at least
 * half the copy's own time: an item queued behind others on a worker no
 * faster, or one running on a worker at most half as fast (a running item
 * costs at least its estimate, and when it is late, twice what it has run so
 * far, here as there). A copy of an item running on an equally fast worker
 * never wins, so none is made: the job waits for every copy's reply, and a
 * copy that loses delays its end. */
static bool speculate(xs_sched *s, int w)
{
    worker_state *ws = &s->workers[w];
    if (!s->desc.balance || !(s->now > 0.0) || ws->held_len > 0 || s->unassigned > 0 || s->priority.len > 0)
        return false;
    held_item *best = NULL;
    double gain = 0.0, mean_speed = s->speed_live / (s->live > 0 ? s->live : 1);
    for (int ow = 0; ow < s->desc.worker_count; ++ow) {
        worker_state *o = &s->workers[ow];
        if (ow == w || !is_live(o))
            continue;
        double end = 0.0; /* when its items are expected to end, one after another */
        double v = o->speed; /* its speed as far as these items show */
        for (int i = 0; i < o->held_len; ++i) {
            held_item *h = &o->held[i];
            bool skip = h->copied || h->item.kind == XS_WORK_ASSEMBLE || h->item.kind == XS_WORK_MERGE ||
                        (h->item.flags & (XS_ITEM_VERIFY | XS_ITEM_COPY)) || item_done(s, &h->item);
            double mine, g;
            if (i == 0) {
                /* it runs: its cost is at least what it would have cost by now
                 * (twice that when it is late), here and there. A worker with
                 * no results yet that runs an item of measured cost
                 * UNKNOWN_RISK times longer than its speed says is slower than
                 * thought: it runs at most at the pace it shows (an item whose
                 * cost was never measured may just cost more). */
                double start = h->t_assign > o->t_reply ? h->t_assign : o->t_reply;
                double ran = s->now - start > 0.0 ? s->now - start : 0.0;
                if (o->measured == 0 && h->known && ran > UNKNOWN_RISK * h->cost / v)
                    v = h->cost / ran;
                double c = h->cost, c_late = 2.0 * ran * v;
                if (c_late > c)
                    c = c_late;
                end = start + c / v;
                mine = c / ws->speed;
            } else {
                end += h->cost / v;
                mine = h->cost / ws->speed;
            }
            /* a running item only goes to a worker twice as fast: estimates are noisy */
            if (skip || ws->speed < v || ws->speed < mean_speed || (i == 0 && ws->speed < 2.0 * v))
                continue;
            g = end - (s->now + mine);
            if (g > 0.5 * mine && g > gain) {
                gain = g;
                best = h;
            }
        }
    }
    if (!best)
        return false;
    best->copied = true;
    xs_work_item copy = best->item;
    copy.flags |= XS_ITEM_COPY;
    s->duplicates++;
    assign(s, w, &copy, true);
    return true;
}

/* Test hook (desc.test_copy): the copy of the last item handed out, for a
 * worker other than its holder, unless its work is done. */
static bool take_test_copy(xs_sched *s, int w, xs_work_item *it)
{
    if (s->test_copy_owner < 0 || s->test_copy_owner == w || ending(s))
        return false;
    s->test_copy_owner = -1;
    if (item_done(s, &s->test_copy))
        return false;
    *it = s->test_copy;
    it->flags |= XS_ITEM_COPY;
    s->duplicates++;
    return true;
}

/* Answers parked requests while there is an answer to give; a request that
 * has none (or whose worker may not take what there is) stays parked, in
 * order. When there is nothing to hand out at all, the first parked worker
 * that holds nothing is offered a speculative copy and the rest stay parked
 * untouched, so an idle farm costs O(1) per event; only at the very end of a
 * job, while workers that still hold items head the queue, is an event
 * O(parked requests), and a copy O(workers x items held). */
/* A worker's requests set aside while it held items go back to the queue
 * (it replied, or the job is ending, or it was retired). */
static void unwait(xs_sched *s, int w)
{
    worker_state *ws = &s->workers[w];
    for (; ws->waiting > 0; ws->waiting--, s->waiting_total--)
        if (ring_push(&s->parked, &w) != 0)
            s->oom = true;
}

static void serve(xs_sched *s)
{
    if (s->waiting_total > 0 && ending(s)) /* once: every request gets its END */
        for (int w = 0; w < s->desc.worker_count; ++w)
            unwait(s, w);
    size_t n = s->parked.len;
    bool speculated = false;
    for (size_t i = 0; i < n; ++i) {
        int w;
        ring_pop(&s->parked, &w);
        worker_state *ws = &s->workers[w];
        xs_work_item it;
        bool handled = false;
        if (ws->retired || ending(s)) {
            acct a = acct_begin(ws);
            ws->answered++;
            acct_end(s, ws, a);
            emit(s, XS_ACT_END, w, NULL);
            handled = true;
        } else if (!ws->silent && s->desc.test_copy && take_test_copy(s, w, &it)) {
            assign(s, w, &it, true);
            handled = true;
        } else if (!ws->silent && take_item(s, w, &it)) {
            assign(s, w, &it, false);
            if (s->desc.test_copy && (it.kind == XS_WORK_TILE || it.kind == XS_WORK_PART) &&
                !(it.flags & XS_ITEM_VERIFY)) {
                s->test_copy = it; /* test hook: its copy goes to the next other worker */
                s->test_copy_owner = w;
            }
            handled = true;
        } else if (!ws->silent && !speculated && !work_available(s) && ws->held_len == 0) {
            speculated = true;
            handled = speculate(s, w);
        }
        if (handled)
            continue;
        if (!ws->silent && ws->held_len > 0) {
            /* it holds work and may take nothing now: set aside until it
             * replies (which changes what it may take), so a busy farm's
             * every event does not look at every parked request */
            ws->waiting++;
            s->waiting_total++;
            continue;
        }
        if (ring_push(&s->parked, &w) != 0)
            s->oom = true;
        if (!ending(s) && !work_available(s) && speculated)
            return; /* nothing for anyone: the rest stay parked as they are */
    }
}

static xs_result check_worker(const xs_sched *s, int worker, xs_err *err)
{
    if (worker < 0 || worker >= s->desc.worker_count)
        return xs_err_set(err, XS_ERR_INVALID, "scheduler: unknown worker %d", worker);
    return XS_OK;
}

xs_result xs_sched_on_request(xs_sched *s, int worker, xs_err *err)
{
    xs_result r = check_worker(s, worker, err);
    if (r != XS_OK)
        return r;
    worker_state *ws = &s->workers[worker];
    if (ws->requests >= ws->prefetch + ws->replies)
        return xs_err_set(err, XS_ERR_INVALID,
                          "scheduler: worker %d sent more requests than the protocol allows",
                          worker);
    if (ring_push(&s->parked, &worker) != 0)
        return xs_err_set(err, XS_ERR_NOMEM, "scheduler: out of memory");
    acct a = acct_begin(ws);
    ws->requests++;
    if (ws->silent) { /* it speaks again */
        ws->silent = false;
        s->silent_n--;
    }
    acct_end(s, ws, a);
    serve(s);
    return s->oom ? xs_err_set(err, XS_ERR_NOMEM, "scheduler: out of memory") : XS_OK;
}

/* Removes item from the worker's held list into *out; false when it does not
 * hold it. The caller brackets the change (acct). */
static bool release(worker_state *ws, xs_work_item item, held_item *out)
{
    for (int i = 0; i < ws->held_len; ++i) {
        held_item *h = &ws->held[i];
        if (same_item(&h->item, &item)) {
            if (out)
                *out = *h;
            ws->held_cost -= h->cost;
            /* in order: the first is the one it runs (speculation reads that) */
            memmove(h, h + 1, (size_t)(ws->held_len - i - 1) * sizeof *h);
            ws->held_len--;
            if (ws->held_len == 0)
                ws->held_cost = 0.0; /* no drift left over */
            return true;
        }
    }
    return false;
}

/* A tile is done: its frame may be ready to assemble. */
static void tile_finished(xs_sched *s, int fi, int tile, int frame)
{
    size_t k = slot(s, fi, tile);
    s->tile_done[k / 8] |= (uint8_t)(1u << (k % 8));
    s->tiles_done++;
    if (--s->frame_remaining[fi] == 0) {
        if (s->desc.assemble) {
            xs_work_item a = {XS_WORK_ASSEMBLE, frame, -1, 0, 0, 0};
            prio_push(s, &a);
        } else {
            s->assembled[fi] = 1;
            s->frames_done++;
        }
    }
}

static xs_result reply(xs_sched *s, int worker, xs_work_item item, bool ok, double seconds, xs_err *err)
{
    xs_result r = check_worker(s, worker, err);
    if (r != XS_OK)
        return r;
    worker_state *ws = &s->workers[worker];
    int fi = frame_index(s, item.frame);
    held_item h;
    acct a = acct_begin(ws);
    if (fi < 0 || !release(ws, item, &h)) {
        acct_end(s, ws, a);
        return xs_err_set(err, XS_ERR_INVALID,
                          "scheduler: worker %d replied for an item it does not hold "
                          "(kind %d, frame %d, tile %d)",
                          worker, item.kind, item.frame, item.tile);
    }
    ws->replies++;
    ws->t_reply = s->now;
    unwait(s, worker);
    if (ws->silent) {
        ws->silent = false;
        s->silent_n--;
    }
    acct_end(s, ws, a);
    s->last_dup = item_done(s, &item);
    if (ok)
        learn(s, ws, &h, seconds);
    if (s->last_dup) {
        /* another copy already counted; a failing copy changes nothing */
    } else if (!ok) {
        fail_entry *f = find_fail(s, &item);
        if (!f) {
            if (s->nfails == s->fails_cap) {
                int nc = s->fails_cap ? s->fails_cap * 2 : 8;
                fail_entry *nf = realloc(s->fails, (size_t)nc * sizeof *nf);
                if (!nf)
                    return xs_err_set(err, XS_ERR_NOMEM, "scheduler: out of memory");
                s->fails = nf;
                s->fails_cap = nc;
            }
            f = &s->fails[s->nfails++];
            memset(f, 0, sizeof *f);
            f->item = item;
            f->item.flags = 0; /* a retry renders */
        }
        f->failures++;
        if (f->nworkers < MAX_FAIL_WORKERS)
            f->workers[f->nworkers++] = worker;
        else
            f->workers[MAX_FAIL_WORKERS - 1] = worker;
        if (f->failures > s->desc.max_retries) {
            if (!s->failed) {
                s->failed = true;
                s->failed_item = f->item;
                memcpy(s->failed_workers, f->workers, sizeof f->workers);
                s->failed_nworkers = f->nworkers;
            }
        } else if (!f->queued) {
            f->queued = true;
            s->fails_queued++;
            s->retries++;
        }
    } else if (item.kind == XS_WORK_TILE || item.kind == XS_WORK_MERGE) {
        tile_finished(s, fi, item.tile, item.frame);
    } else if (item.kind == XS_WORK_PART) {
        split_entry *e = split_find(s, (int64_t)slot(s, fi, item.tile));
        int j = e ? part_index(&item, e->parts, s->desc.chunks_per_tile) : -1;
        if (j >= 0) {
            e->done |= 1ull << j;
            if (e->done == (e->parts >= 64 ? ~0ull : (1ull << e->parts) - 1)) {
                xs_work_item m = {XS_WORK_MERGE, item.frame, item.tile, 0, e->parts,
                                  s->desc.chunks_per_tile};
                prio_push(s, &m);
            }
        }
    } else {
        s->assembled[fi] = 1;
        s->frames_done++;
    }
    serve(s);
    return s->oom ? xs_err_set(err, XS_ERR_NOMEM, "scheduler: out of memory") : XS_OK;
}

xs_result xs_sched_on_done(xs_sched *s, int worker, xs_work_item item, xs_err *err)
{
    return reply(s, worker, item, true, -1.0, err);
}

xs_result xs_sched_on_done_timed(xs_sched *s, int worker, xs_work_item item, double seconds, xs_err *err)
{
    return reply(s, worker, item, true, seconds, err);
}

xs_result xs_sched_on_failed(xs_sched *s, int worker, xs_work_item item, xs_err *err)
{
    return reply(s, worker, item, false, -1.0, err);
}

/* The items a worker holds (and `also`, one it just released) go to the
 * front of the queue for others, unless already done; a copy renders (no
 * verification: the file may be half way). */
static void requeue_held(xs_sched *s, const worker_state *ws, const xs_work_item *also)
{
    for (int i = -1; i < ws->held_len; ++i) {
        const xs_work_item *h = i < 0 ? also : &ws->held[i].item;
        if (!h || item_done(s, h))
            continue;
        xs_work_item copy = *h;
        copy.flags &= ~XS_ITEM_VERIFY;
        prio_push(s, &copy);
        s->reassigned++;
    }
}

xs_result xs_sched_on_silent(xs_sched *s, int worker, xs_err *err)
{
    xs_result r = check_worker(s, worker, err);
    if (r != XS_OK)
        return r;
    worker_state *ws = &s->workers[worker];
    if (ws->silent)
        return XS_OK;
    acct a = acct_begin(ws);
    ws->silent = true;
    s->silent_n++;
    acct_end(s, ws, a);
    /* its items go to the others (a retired worker's went when it retired);
     * it keeps holding them, so a late reply is still accepted */
    if (!ws->retired)
        requeue_held(s, ws, NULL);
    if (s->live == 0)
        s->aborted = true; /* nobody left to do the work */
    serve(s);
    return s->oom ? xs_err_set(err, XS_ERR_NOMEM, "scheduler: out of memory") : XS_OK;
}

xs_result xs_sched_on_lost(xs_sched *s, int worker, xs_work_item item, xs_err *err)
{
    xs_result r = check_worker(s, worker, err);
    if (r != XS_OK)
        return r;
    worker_state *ws = &s->workers[worker];
    acct a = acct_begin(ws);
    if (frame_index(s, item.frame) < 0 || !release(ws, item, NULL)) {
        acct_end(s, ws, a);
        return xs_err_set(err, XS_ERR_INVALID,
                          "scheduler: worker %d reported a lost device for an item it does not hold "
                          "(kind %d, frame %d, tile %d)",
                          worker, item.kind, item.frame, item.tile);
    }
    ws->replies++;
    acct_end(s, ws, a);
    s->last_dup = item_done(s, &item);
    if (!ws->retired) {
        /* this item and all it holds go to the others, unless a silence
         * already sent them */
        if (!ws->silent)
            requeue_held(s, ws, &item);
        a = acct_begin(ws);
        ws->retired = true;
        s->retired_n++;
        acct_end(s, ws, a);
        unwait(s, worker); /* its requests set aside get their END now */
        if (s->live == 0)
            s->aborted = true; /* nobody left to do the work */
    }
    if (ws->silent) { /* it speaks: wait for its replies */
        a = acct_begin(ws);
        ws->silent = false;
        s->silent_n--;
        acct_end(s, ws, a);
    }
    serve(s);
    return s->oom ? xs_err_set(err, XS_ERR_NOMEM, "scheduler: out of memory") : XS_OK;
}

int xs_sched_retired_count(const xs_sched *s) { return s->retired_n; }

double xs_sched_worker_speed(const xs_sched *s, int worker)
{
    return worker >= 0 && worker < s->desc.worker_count ? s->workers[worker].speed : 0.0;
}

bool xs_sched_is_retired(const xs_sched *s, int worker) { return s->workers[worker].retired; }

void xs_sched_drain(xs_sched *s)
{
    s->draining = true;
    serve(s);
}

void xs_sched_abort(xs_sched *s)
{
    s->aborted = true;
    serve(s);
}

int xs_sched_silent_count(const xs_sched *s) { return s->silent_n; }

bool xs_sched_is_silent(const xs_sched *s, int worker) { return s->workers[worker].silent; }

bool xs_sched_failed_item(const xs_sched *s, xs_work_item *item, int *workers, int *n)
{
    if (!s->failed)
        return false;
    *item = s->failed_item;
    memcpy(workers, s->failed_workers, sizeof s->failed_workers);
    *n = s->failed_nworkers;
    return true;
}

bool xs_sched_last_was_duplicate(const xs_sched *s) { return s->last_dup; }

bool xs_sched_item_done(const xs_sched *s, const xs_work_item *item) { return item_done(s, item); }

bool xs_sched_next_action(xs_sched *s, xs_sched_action *out) { return ring_pop(&s->actions, out); }

void xs_sched_set_time(xs_sched *s, double now) { s->now = now; }

xs_sched_state xs_sched_get_state(const xs_sched *s)
{
    if (s->actions.len > 0 || s->owed > 0)
        return XS_SCHED_RUNNING; /* answers to send, or requests and replies to come */
    if (work_complete(s))
        return XS_SCHED_COMPLETED;
    if (s->failed || s->aborted)
        return XS_SCHED_FAILED;
    if (s->draining)
        return XS_SCHED_DRAINED;
    return XS_SCHED_RUNNING;
}

void xs_sched_get_progress(const xs_sched *s, xs_sched_progress *p)
{
    p->tiles_total = s->tiles_total;
    p->tiles_done = s->tiles_done;
    /* tiles handed out and not yet done (a split tile counts once) */
    p->tiles_in_flight = s->tiles_total - s->tiles_done - s->unassigned;
    if (p->tiles_in_flight < 0)
        p->tiles_in_flight = 0;
    p->frames_total = s->desc.frame_count;
    p->frames_done = s->frames_done;
    p->assigned = s->assigned;
    p->retries = s->retries;
    p->reassigned = s->reassigned;
    p->splits = s->splits;
    p->duplicates = s->duplicates;
}
