/* The rank-0 scheduling policy (see xs_sched.h for the contract).
 *
 * State: a cursor over the (frame, tile) sequence, so a job of any size costs
 * O(frames + workers) memory; a FIFO of priority items (frame assemblies); a
 * FIFO of parked requests (workers waiting for work that may still appear);
 * per-worker request accounting and the items each worker holds; a FIFO of
 * actions for the caller. Every FIFO is a growable ring.
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

static int ring_pop(ring *r, void *out)
{
    if (r->len == 0)
        return 0;
    memcpy(out, (unsigned char *)r->data + r->head * r->elem, r->elem);
    r->head = (r->head + 1) % r->cap;
    r->len--;
    return 1;
}

typedef struct worker_state {
    int64_t requests;  /* received */
    int64_t answered;  /* assign or end sent */
    int64_t replies;   /* done or failed received */
    xs_work_item *held; /* items assigned and not yet replied */
    int held_len, held_cap;
} worker_state;

struct xs_sched {
    xs_sched_desc desc;
    int *frames;
    int *frame_remaining; /* tiles not yet done, per frame index */
    int64_t tiles_total, next_tile, tiles_done, in_flight, assigned;
    int64_t cursor_end; /* frame_count * tiles_per_frame: the cursor runs over every slot */
    int frames_done;
    bool failed;
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
    if (d->frame_count < 1 || d->tiles_per_frame < 1 || d->worker_count < 1 || d->prefetch < 1)
        return xs_err_set(err, XS_ERR_INVALID,
                          "scheduler: frames (%d), tiles per frame (%d), workers (%d) and "
                          "prefetch (%d) must be at least 1",
                          d->frame_count, d->tiles_per_frame, d->worker_count, d->prefetch);
    xs_sched *s = calloc(1, sizeof *s);
    if (!s)
        return xs_err_set(err, XS_ERR_NOMEM, "scheduler: out of memory");
    s->desc = *d;
    s->frames = malloc((size_t)d->frame_count * sizeof *s->frames);
    s->frame_remaining = malloc((size_t)d->frame_count * sizeof *s->frame_remaining);
    s->workers = calloc((size_t)d->worker_count, sizeof *s->workers);
    if (!s->frames || !s->frame_remaining || !s->workers) {
        xs_sched_destroy(s);
        return xs_err_set(err, XS_ERR_NOMEM, "scheduler: out of memory");
    }
    memcpy(s->frames, d->frames, (size_t)d->frame_count * sizeof *s->frames);
    s->desc.frames = s->frames;
    for (int i = 0; i < d->frame_count; ++i)
        s->frame_remaining[i] = d->tiles_per_frame;
    s->tiles_total = (int64_t)d->frame_count * d->tiles_per_frame;
    for (int i = 0; d->skip && i < d->frame_count; ++i)
        if (d->skip[i]) {
            s->frame_remaining[i] = 0;
            s->tiles_total -= d->tiles_per_frame;
            s->frames_done++;
        }
    s->cursor_end = (int64_t)d->frame_count * d->tiles_per_frame;
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
    free(s->workers);
    free(s->frames);
    free(s->frame_remaining);
    free(s->priority.data);
    free(s->parked.data);
    free(s->actions.data);
    free(s->owned_skip);
    free(s->owned_journaled);
    free(s);
}

static int frame_index(const xs_sched *s, int frame)
{
    for (int i = 0; i < s->desc.frame_count; ++i)
        if (s->frames[i] == frame)
            return i;
    return -1;
}

static bool work_complete(const xs_sched *s)
{
    return s->tiles_done == s->tiles_total &&
           (!s->desc.assemble || s->frames_done == s->desc.frame_count);
}

/* No new item can ever appear: nothing queued, and no tile left whose
 * completion could queue an assembly. */
static bool no_more_work(const xs_sched *s)
{
    if (s->failed)
        return true;
    return s->priority.len == 0 && s->next_tile == s->cursor_end && s->tiles_done == s->tiles_total;
}

static bool take_item(xs_sched *s, xs_work_item *it)
{
    if (s->failed)
        return false;
    if (ring_pop(&s->priority, it))
        return true;
    const int64_t T = s->desc.tiles_per_frame;
    while (s->next_tile < s->cursor_end && s->desc.skip && s->desc.skip[s->next_tile / T])
        s->next_tile += T - s->next_tile % T; /* a finished frame: next frame */
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

/* Answers parked requests while there is an answer to give. */
static void serve(xs_sched *s)
{
    while (s->parked.len > 0) {
        int w;
        xs_work_item it;
        if (take_item(s, &it)) {
            ring_pop(&s->parked, &w);
            worker_state *ws = &s->workers[w];
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
            ws->held[ws->held_len++] = it;
            ws->answered++;
            s->in_flight += it.kind == XS_WORK_TILE;
            s->assigned++;
            emit(s, XS_ACT_ASSIGN, w, &it);
        } else if (no_more_work(s)) {
            ring_pop(&s->parked, &w);
            s->workers[w].answered++;
            emit(s, XS_ACT_END, w, NULL);
        } else {
            return; /* wait: in-flight tiles may still queue an assembly */
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
    if (item.kind == XS_WORK_TILE)
        s->in_flight--;
    if (!ok) {
        s->failed = true;
    } else if (item.kind == XS_WORK_TILE) {
        s->tiles_done++;
        if (--s->frame_remaining[fi] == 0) {
            if (s->desc.assemble) {
                xs_work_item a = {XS_WORK_ASSEMBLE, item.frame, -1, 0};
                if (ring_push(&s->priority, &a) != 0)
                    s->oom = true;
            } else {
                s->frames_done++;
            }
        }
    } else {
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

bool xs_sched_next_action(xs_sched *s, xs_sched_action *out) { return ring_pop(&s->actions, out); }

xs_sched_state xs_sched_get_state(const xs_sched *s)
{
    if (!s->failed && !work_complete(s))
        return XS_SCHED_RUNNING;
    for (int i = 0; i < s->desc.worker_count; ++i) {
        const worker_state *ws = &s->workers[i];
        if (ws->requests != s->desc.prefetch + ws->replies || ws->answered != ws->requests ||
            ws->held_len != 0)
            return XS_SCHED_RUNNING;
    }
    if (s->actions.len > 0)
        return XS_SCHED_RUNNING; /* the caller has answers left to send */
    return s->failed ? XS_SCHED_FAILED : XS_SCHED_COMPLETED;
}

void xs_sched_get_progress(const xs_sched *s, xs_sched_progress *p)
{
    p->tiles_total = s->tiles_total;
    p->tiles_done = s->tiles_done;
    p->tiles_in_flight = s->in_flight;
    p->frames_total = s->desc.frame_count;
    p->frames_done = s->frames_done;
    p->assigned = s->assigned;
}
