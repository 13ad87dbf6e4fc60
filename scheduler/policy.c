/* The rank-0 scheduling policy (see xs_sched.h for the contract).
 *
 * State: a cursor over the (frame, tile) sequence; a FIFO of priority items
 * (frame assemblies, items taken back from silent workers); a list of failed
 * items waiting for a retry (on another worker when there is one); a bitmap of
 * done tiles and a flag per assembled frame, so a duplicate reply (two copies
 * of an item, one from a worker thought silent) counts once; parked requests;
 * per-worker request accounting and the items each worker holds; a FIFO of
 * actions for the caller. No clocks: the caller decides when a worker is
 * silent. END is sent only once the whole job is done (or failed, or
 * draining), so a worker is never released while an item could still come
 * back to the queue.
 */
#include "scheduler/xs_sched.h"

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

/* Takes out element k (0: the head), keeping the others in order. */
static void ring_take(ring *r, size_t k, void *out)
{
    unsigned char *d = (unsigned char *)r->data;
    memcpy(out, d + ((r->head + k) % r->cap) * r->elem, r->elem);
    for (size_t i = k; i + 1 < r->len; ++i)
        memcpy(d + ((r->head + i) % r->cap) * r->elem, d + ((r->head + i + 1) % r->cap) * r->elem, r->elem);
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

enum { MAX_FAIL_WORKERS = 16 };

/* An item that failed at least once. */
typedef struct fail_entry {
    xs_work_item item;
    int failures;
    int workers[MAX_FAIL_WORKERS];
    int nworkers;
    bool queued; /* waiting for a retry */
} fail_entry;

typedef struct worker_state {
    int64_t requests;  /* received */
    int64_t answered;  /* assign or end sent */
    int64_t replies;   /* done or failed received */
    xs_work_item *held; /* items assigned and not yet replied */
    int held_len, held_cap;
    bool silent;
    int32_t frame;      /* the frame of the last tile it was given (-1: none): an animated
                         * scene is posed for it, so its tiles come first */
} worker_state;

struct xs_sched {
    xs_sched_desc desc;
    int *frames;
    int32_t *index_of;    /* frame number (0..9999) -> frame index, -1 when not in the job */
    int *frame_remaining; /* tiles not yet done, per frame index */
    uint8_t *tile_done;   /* bitmap over frame index * tiles + tile */
    uint8_t *assembled;   /* per frame index */
    int64_t tiles_total, next_tile, tiles_done, assigned, retries, reassigned;
    int64_t cursor_end;
    int frames_done;
    bool failed, aborted, draining, last_dup;
    xs_work_item failed_item;
    int failed_workers[MAX_FAIL_WORKERS], failed_nworkers;
    fail_entry *fails;
    int nfails, fails_cap;
    ring priority; /* xs_work_item */
    ring parked;   /* int worker */
    ring actions;  /* xs_sched_action */
    worker_state *workers;
    bool oom;
    uint8_t *owned_skip, *owned_journaled;
};

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
    size_t slots = (size_t)d->frame_count * (size_t)d->tiles_per_frame;
    s->frames = malloc((size_t)d->frame_count * sizeof *s->frames);
    s->index_of = malloc(XS_SCHED_MAX_FRAME_NUMBER * sizeof *s->index_of);
    s->frame_remaining = malloc((size_t)d->frame_count * sizeof *s->frame_remaining);
    s->tile_done = calloc(slots / 8 + 1, 1);
    s->assembled = calloc((size_t)d->frame_count, 1);
    s->workers = calloc((size_t)d->worker_count, sizeof *s->workers);
    if (!s->frames || !s->index_of || !s->frame_remaining || !s->tile_done || !s->assembled ||
        !s->workers) {
        xs_sched_destroy(s);
        return xs_err_set(err, XS_ERR_NOMEM, "scheduler: out of memory");
    }
    memcpy(s->frames, d->frames, (size_t)d->frame_count * sizeof *s->frames);
    s->desc.frames = s->frames;
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
    for (int i = 0; i < d->worker_count; ++i)
        s->workers[i].frame = -1;
    s->tiles_total = (int64_t)slots;
    s->cursor_end = (int64_t)slots;
    for (int i = 0; d->skip && i < d->frame_count; ++i)
        if (d->skip[i]) {
            s->frame_remaining[i] = 0;
            s->assembled[i] = 1;
            s->tiles_total -= d->tiles_per_frame;
            s->frames_done++;
        }
    s->priority.elem = sizeof(xs_work_item);
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
    free(s->tile_done);
    free(s->assembled), free(s->fails), free(s->priority.data), free(s->parked.data);
    free(s->actions.data), free(s->owned_skip), free(s->owned_journaled);
    free(s);
}

static int frame_index(const xs_sched *s, int frame)
{
    return frame >= 0 && frame < XS_SCHED_MAX_FRAME_NUMBER ? s->index_of[frame] : -1;
}

static size_t slot(const xs_sched *s, int fi, int tile)
{
    return (size_t)fi * (size_t)s->desc.tiles_per_frame + (size_t)tile;
}
static bool bit(const uint8_t *b, size_t i) { return (b[i / 8] >> (i % 8)) & 1u; }

/* Is this item's work already done (by some copy of it)? */
static bool item_done(const xs_sched *s, const xs_work_item *it)
{
    int fi = frame_index(s, it->frame);
    if (fi < 0)
        return true;
    if (it->kind == XS_WORK_TILE)
        return bit(s->tile_done, slot(s, fi, it->tile));
    return s->assembled[fi] != 0;
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

static int live_workers(const xs_sched *s)
{
    int n = 0;
    for (int i = 0; i < s->desc.worker_count; ++i)
        n += !s->workers[i].silent;
    return n;
}

static fail_entry *find_fail(xs_sched *s, const xs_work_item *it)
{
    for (int i = 0; i < s->nfails; ++i) {
        xs_work_item *f = &s->fails[i].item;
        if (f->kind == it->kind && f->frame == it->frame && f->tile == it->tile)
            return &s->fails[i];
    }
    return NULL;
}

/* The first priority item of `kind` (0: any) and, for tiles, of `frame`
 * (-1: any); done ones are dropped on the way. */
static bool take_priority(xs_sched *s, int kind, int32_t frame, xs_work_item *it)
{
    for (size_t k = 0; k < s->priority.len;) {
        const xs_work_item *p = ring_at(&s->priority, k);
        if (item_done(s, p)) {
            ring_take(&s->priority, k, it);
            continue;
        }
        if ((kind == 0 || p->kind == kind) && (frame < 0 || p->kind != XS_WORK_TILE || p->frame == frame)) {
            ring_take(&s->priority, k, it);
            return true;
        }
        ++k;
    }
    return false;
}

/* A retry for worker w (of `frame`, or any when frame < 0), on another
 * worker than the one it last failed on when possible. */
static bool take_retry(xs_sched *s, int w, int32_t frame, xs_work_item *it)
{
    for (int i = 0; i < s->nfails; ++i) {
        fail_entry *f = &s->fails[i];
        if (!f->queued)
            continue;
        if (item_done(s, &f->item)) {
            f->queued = false;
            continue;
        }
        if (frame >= 0 && f->item.kind == XS_WORK_TILE && f->item.frame != frame)
            continue;
        int last = f->workers[f->nworkers - 1];
        if (last != w || live_workers(s) <= 1 || s->workers[last].silent) {
            f->queued = false;
            *it = f->item;
            return true;
        }
    }
    return false;
}

/* The next item for worker w, if any. Assemblies first; then the tiles of
 * the frame w last rendered (taken back, retried, or next in order), so a
 * worker on an animated scene does not switch frames back and forth; then
 * anything, in the order: taken back, retried, next in order. */
static bool take_item(xs_sched *s, int w, xs_work_item *it)
{
    if (ending(s))
        return false;
    const int32_t mine = s->workers[w].frame;
    const int64_t T = s->desc.tiles_per_frame;
    while (s->next_tile < s->cursor_end && s->desc.skip && s->desc.skip[s->next_tile / T])
        s->next_tile += T - s->next_tile % T; /* a finished frame: next frame */
    const bool cursor_mine = s->next_tile < s->cursor_end && s->frames[s->next_tile / T] == mine;
    if (take_priority(s, XS_WORK_ASSEMBLE, -1, it))
        return true;
    if (mine >= 0 && (take_priority(s, XS_WORK_TILE, mine, it) || take_retry(s, w, mine, it)))
        return true;
    if (!cursor_mine && (take_priority(s, 0, -1, it) || take_retry(s, w, -1, it)))
        return true;
    if (s->next_tile < s->cursor_end) {
        int64_t k = s->next_tile++;
        it->kind = XS_WORK_TILE;
        it->frame = s->frames[k / T];
        it->tile = (int32_t)(k % T);
        it->flags = s->desc.journaled && s->desc.journaled[k] ? XS_ITEM_VERIFY : 0;
        return true;
    }
    return false;
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

static void hold(xs_sched *s, worker_state *ws, const xs_work_item *it)
{
    if (ws->held_len == ws->held_cap) {
        int ncap = ws->held_cap ? ws->held_cap * 2 : 4;
        xs_work_item *nh = realloc(ws->held, (size_t)ncap * sizeof *nh);
        if (!nh) {
            s->oom = true;
            return;
        }
        ws->held = nh;
        ws->held_cap = ncap;
    }
    ws->held[ws->held_len++] = *it;
}

/* Answers parked requests while there is an answer to give; a request that
 * has none yet stays parked, in order. */
static void serve(xs_sched *s)
{
    size_t n = s->parked.len;
    for (size_t i = 0; i < n; ++i) {
        int w;
        ring_pop(&s->parked, &w);
        worker_state *ws = &s->workers[w];
        xs_work_item it;
        if (!ws->silent && take_item(s, w, &it)) {
            if (it.kind == XS_WORK_TILE)
                ws->frame = it.frame;
            hold(s, ws, &it);
            ws->answered++;
            s->assigned++;
            emit(s, XS_ACT_ASSIGN, w, &it);
        } else if (ending(s)) {
            ws->answered++;
            emit(s, XS_ACT_END, w, NULL);
        } else if (ring_push(&s->parked, &w) != 0) {
            s->oom = true;
        }
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
    if (ws->requests >= s->desc.prefetch + ws->replies)
        return xs_err_set(err, XS_ERR_INVALID,
                          "scheduler: worker %d sent more requests than the protocol allows",
                          worker);
    if (ring_push(&s->parked, &worker) != 0)
        return xs_err_set(err, XS_ERR_NOMEM, "scheduler: out of memory");
    ws->requests++;
    ws->silent = false; /* it speaks again */
    serve(s);
    return s->oom ? xs_err_set(err, XS_ERR_NOMEM, "scheduler: out of memory") : XS_OK;
}

/* Removes item from the worker's held list; false when it does not hold it. */
static bool release(worker_state *ws, xs_work_item item)
{
    for (int i = 0; i < ws->held_len; ++i) {
        xs_work_item *h = &ws->held[i];
        if (h->kind == item.kind && h->frame == item.frame && h->tile == item.tile) {
            *h = ws->held[--ws->held_len];
            return true;
        }
    }
    return false;
}

static xs_result reply(xs_sched *s, int worker, xs_work_item item, bool ok, xs_err *err)
{
    xs_result r = check_worker(s, worker, err);
    if (r != XS_OK)
        return r;
    worker_state *ws = &s->workers[worker];
    int fi = frame_index(s, item.frame);
    if (fi < 0 || !release(ws, item))
        return xs_err_set(err, XS_ERR_INVALID,
                          "scheduler: worker %d replied for an item it does not hold "
                          "(kind %d, frame %d, tile %d)",
                          worker, item.kind, item.frame, item.tile);
    ws->replies++;
    ws->silent = false;
    s->last_dup = item_done(s, &item);
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
        } else {
            f->queued = true;
            s->retries++;
        }
    } else if (item.kind == XS_WORK_TILE) {
        size_t k = slot(s, fi, item.tile);
        s->tile_done[k / 8] |= (uint8_t)(1u << (k % 8));
        s->tiles_done++;
        if (--s->frame_remaining[fi] == 0) {
            if (s->desc.assemble) {
                xs_work_item a = {XS_WORK_ASSEMBLE, item.frame, -1, 0};
                if (ring_push(&s->priority, &a) != 0)
                    s->oom = true;
            } else {
                s->assembled[fi] = 1;
                s->frames_done++;
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
    return reply(s, worker, item, true, err);
}

xs_result xs_sched_on_failed(xs_sched *s, int worker, xs_work_item item, xs_err *err)
{
    return reply(s, worker, item, false, err);
}

xs_result xs_sched_on_silent(xs_sched *s, int worker, xs_err *err)
{
    xs_result r = check_worker(s, worker, err);
    if (r != XS_OK)
        return r;
    worker_state *ws = &s->workers[worker];
    if (ws->silent)
        return XS_OK;
    ws->silent = true;
    /* its items go to the others; it keeps holding them, so a late reply is
     * still accepted */
    for (int i = 0; i < ws->held_len; ++i)
        if (!item_done(s, &ws->held[i])) {
            xs_work_item copy = ws->held[i];
            copy.flags &= ~XS_ITEM_VERIFY;
            if (ring_push(&s->priority, &copy) != 0)
                s->oom = true;
            s->reassigned++;
        }
    if (live_workers(s) == 0)
        s->aborted = true; /* nobody left to do the work */
    serve(s);
    return s->oom ? xs_err_set(err, XS_ERR_NOMEM, "scheduler: out of memory") : XS_OK;
}

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

int xs_sched_silent_count(const xs_sched *s)
{
    return s->desc.worker_count - live_workers(s);
}

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

xs_sched_state xs_sched_get_state(const xs_sched *s)
{
    if (s->actions.len > 0)
        return XS_SCHED_RUNNING; /* the caller has answers left to send */
    for (int i = 0; i < s->desc.worker_count; ++i) {
        const worker_state *ws = &s->workers[i];
        if (ws->silent)
            continue; /* not waited for */
        if (ws->requests != s->desc.prefetch + ws->replies || ws->answered != ws->requests ||
            ws->held_len != 0)
            return XS_SCHED_RUNNING;
    }
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
    p->tiles_in_flight = 0;
    for (int i = 0; i < s->desc.worker_count; ++i)
        if (!s->workers[i].silent)
            for (int k = 0; k < s->workers[i].held_len; ++k)
                p->tiles_in_flight += s->workers[i].held[k].kind == XS_WORK_TILE;
    p->frames_total = s->desc.frame_count;
    p->frames_done = s->frames_done;
    p->assigned = s->assigned;
    p->retries = s->retries;
    p->reassigned = s->reassigned;
}
