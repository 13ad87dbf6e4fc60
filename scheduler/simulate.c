/* The farm simulated (see xs_simulate.h): a discrete-event model of the
 * workers behind a transport that the real driver loop drives.
 *
 * Events, in time order (ties by sequence, so a run is reproducible):
 *   - a message from rank 0 reaches a worker (ASSIGN queues an item);
 *   - a worker's device finishes its item (it sends DONE or FAILED, which
 *     also asks for more, and starts the next queued item);
 *   - a worker's message reaches rank 0 (returned by poll).
 * A worker runs one item at a time at its class's speed; items wait in its
 * queue (what prefetch puts there). Rank 0 handles one message at a time:
 * its clock moves to the message's arrival and by the CPU time its loop
 * measurably spent, and what it sends leaves at that clock.
 */
#include "scheduler/xs_simulate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "scheduler/xs_driver.h"
#include "scheduler/xs_report.h"

enum { EV_TO_WORKER = 1, EV_FINISH = 2, EV_TO_RANK0 = 3 };

typedef struct sim_event {
    double t;
    uint64_t seq;
    int32_t kind, worker;
    double start; /* EV_FINISH: when the item started */
    xs_msg msg;   /* the message (header and report); EV_FINISH: the item */
} sim_event;

typedef struct sim_worker {
    int cls, slots;
    double speed, stall_at;
    xs_work_item *queue; /* assigned, not started */
    int qhead, qlen, qcap;
    int running;         /* items on its slots */
    double busy_s, last_finish;
} sim_worker;

/* Items some copy of which finished: open addressing over item keys. */
typedef struct keyset {
    uint64_t *k;
    size_t cap, len;
} keyset;

typedef struct sim {
    xs_transport base;
    const xs_job *job;
    const xs_sim_desc *d;
    sim_worker *w;
    int nw;
    int chunks; /* sample chunks per tile */
    sim_event *heap;
    size_t hlen, hcap;
    uint64_t seq;
    double r0_clock;
    double cpu_exit;  /* rank 0's thread CPU time when it last left a transport call */
    double r0_cpu;
    int64_t items;
    double wasted_s;  /* busy time on copies that finished second */
    xs_sim_bar *bars;
    int64_t nbars, bars_cap;
    keyset finished;
    xs_result oom;
} sim;
static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Rank 0 spent the CPU time since it last left the transport: its clock moves on. */
static void enter(sim *s)
{
    double c = thread_cpu(), d = c - s->cpu_exit;
    if (d > 0) {
        s->r0_clock += s->d->r0_fixed_s > 0 ? s->d->r0_fixed_s : d;
        s->r0_cpu += d;
    }
}

static void leave(sim *s) { s->cpu_exit = thread_cpu(); }

static bool before(const sim_event *a, const sim_event *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(sim *s, sim_event e)
{
    if (s->hlen == s->hcap) {
        size_t nc = s->hcap ? s->hcap * 2 : 1024;
        sim_event *nh = realloc(s->heap, nc * sizeof *nh);
        if (!nh) {
            s->oom = XS_ERR_NOMEM;
            return;
        }
        s->heap = nh;
        s->hcap = nc;
    }
    e.seq = s->seq++;
    size_t i = s->hlen++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&e, &s->heap[p]))
            break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = e;
}

static sim_event heap_pop(sim *s)
{
    sim_event top = s->heap[0], last = s->heap[--s->hlen];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->hlen)
            break;
        if (c + 1 < s->hlen && before(&s->heap[c + 1], &s->heap[c]))
            ++c;
        if (!before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->hlen > 0)
        s->heap[i] = last;
    return top;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static double uniform(uint64_t key) { return ((double)(mix(key) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

/* A standard normal draw from a key (Box-Muller). */
static double normal(uint64_t key)
{
    double u1 = uniform(key), u2 = uniform(key ^ 0xabcdefull);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* A tile's cost in units: lognormal with the given mean, its log made of a
 * part the tile keeps in every frame (its content) and a part drawn per
 * frame, mixed by the coherence; or replayed. */
static double tile_cost(const sim *s, int frame, int tile)
{
    const xs_sim_desc *d = s->d;
    int fi = xs_job_frame_index(s->job, frame);
    int T = xs_film_tile_count(&s->job->film);
    if (d->replay_costs && d->replay_frames > 0)
        return d->replay_costs[(size_t)(fi % d->replay_frames) * (size_t)T + (size_t)tile];
    uint64_t seed = d->seed * 0x100000001b3ull;
    double r = d->cost_coherence;
    double n = r * normal(seed ^ 0x5555555500000000ull ^ (uint64_t)tile) +
               sqrt(1.0 - r * r) * normal(seed ^ ((uint64_t)(fi + 1) << 32) ^ (uint64_t)tile);
    double mu = log(d->cost_mean) - 0.5 * d->cost_sigma * d->cost_sigma;
    return exp(mu + d->cost_sigma * n);
}

/* An item's cost in units: a tile's, a part's share of it (its chunks), a
 * merge's small share, or an assembly's. */
static double item_cost(const sim *s, const xs_work_item *it)
{
    switch (it->kind) {
    case XS_WORK_TILE:
        return tile_cost(s, it->frame, it->tile);
    case XS_WORK_PART:
        return tile_cost(s, it->frame, it->tile) * (double)it->chunk_count / (double)s->chunks;
    case XS_WORK_MERGE:
        return tile_cost(s, it->frame, it->tile) * (s->d->merge_cost > 0 ? s->d->merge_cost : 0.02);
    default:
        return s->d->assemble_cost;
    }
}

static uint64_t item_key(const xs_work_item *it)
{
    return mix(((uint64_t)(uint32_t)it->kind << 56) ^ ((uint64_t)(uint32_t)it->frame << 36) ^
               ((uint64_t)(uint32_t)(it->tile + 1) << 16) ^ (uint64_t)(uint32_t)it->chunk_first) | 1u;
}

/* Records that a copy of the item finished; false when one already had. */
static bool finish_once(sim *s, const xs_work_item *it)
{
    keyset *ks = &s->finished;
    if (2 * (ks->len + 1) > ks->cap) {
        size_t nc = ks->cap ? ks->cap * 2 : 4096;
        uint64_t *nk = calloc(nc, sizeof *nk);
        if (!nk) {
            s->oom = XS_ERR_NOMEM;
            return true;
        }
        for (size_t i = 0; i < ks->cap; ++i)
            if (ks->k[i]) {
                size_t j = (size_t)ks->k[i] & (nc - 1);
                while (nk[j])
                    j = (j + 1) & (nc - 1);
                nk[j] = ks->k[i];
            }
        free(ks->k);
        ks->k = nk;
        ks->cap = nc;
    }
    uint64_t k = item_key(it);
    size_t j = (size_t)k & (ks->cap - 1);
    while (ks->k[j]) {
        if (ks->k[j] == k)
            return false;
        j = (j + 1) & (ks->cap - 1);
    }
    ks->k[j] = k;
    ks->len++;
    return true;
}

static void to_rank0(sim *s, int w, double t, const xs_msg *m)
{
    sim_event e = {.t = t + s->d->latency_s, .kind = EV_TO_RANK0, .worker = w};
    e.msg = *m;
    heap_push(s, e);
}

/* Starts queued items on the worker's free slots; the slots share its speed. */
static void start_next(sim *s, int wi, double t)
{
    sim_worker *w = &s->w[wi];
    while (w->running < w->slots && w->qlen > 0) {
        sim_event e = {.t = 0, .kind = EV_FINISH, .worker = wi, .start = t};
        e.msg.item = w->queue[w->qhead];
        w->qhead = (w->qhead + 1) % w->qcap;
        w->qlen--;
        w->running++;
        e.t = t + item_cost(s, &e.msg.item) * (double)w->slots / w->speed;
        heap_push(s, e);
    }
}

static void record_bar(sim *s, int wi, const xs_work_item *it, double t0, double t1, bool failed, bool dup)
{
    if (!s->d->keep_bars)
        return;
    if (s->nbars == s->bars_cap) {
        int64_t nc = s->bars_cap ? s->bars_cap * 2 : 4096;
        xs_sim_bar *nb = realloc(s->bars, (size_t)nc * sizeof *nb);
        if (!nb) {
            s->oom = XS_ERR_NOMEM;
            return;
        }
        s->bars = nb;
        s->bars_cap = nc;
    }
    s->bars[s->nbars++] = (xs_sim_bar){wi, it->frame, it->kind == XS_WORK_ASSEMBLE ? -1 : it->tile,
                                       (float)t0, (float)t1, failed, dup, (uint8_t)it->kind,
                                       (uint8_t)((it->flags & XS_ITEM_COPY) != 0)};
}

/* A worker-side event. */
static void worker_event(sim *s, const sim_event *e)
{
    sim_worker *w = &s->w[e->worker];
    if (e->t >= w->stall_at)
        return; /* stalled or gone: it does and says nothing more */
    if (e->kind == EV_TO_WORKER) {
        if (e->msg.type != XS_MSG_ASSIGN)
            return; /* an END answers a request; nothing to run */
        if (w->qlen == w->qcap) {
            int nc = w->qcap ? w->qcap * 2 : 8;
            xs_work_item *nq = malloc((size_t)nc * sizeof *nq);
            if (!nq) {
                s->oom = XS_ERR_NOMEM;
                return;
            }
            for (int i = 0; i < w->qlen; ++i)
                nq[i] = w->queue[(w->qhead + i) % w->qcap];
            free(w->queue);
            w->queue = nq;
            w->qcap = nc;
            w->qhead = 0;
        }
        w->queue[(w->qhead + w->qlen++) % w->qcap] = e->msg.item;
        start_next(s, e->worker, e->t);
        return;
    }
    /* EV_FINISH: the item ran; it failed with its class's probability */
    const xs_work_item *it = &e->msg.item;
    uint64_t key = s->d->seed ^ mix(((uint64_t)it->frame << 40) ^ ((uint64_t)(it->tile + 1) << 8) ^
                                    (uint64_t)e->worker ^ (uint64_t)s->seq);
    bool failed = uniform(key) < s->d->classes[w->cls].fail_prob;
    double secs = e->t - e->start;
    bool dup = !failed && !finish_once(s, it);
    w->busy_s += secs / (double)w->slots;
    if (dup)
        s->wasted_s += secs / (double)w->slots;
    w->last_finish = e->t;
    w->running--;
    xs_msg m;
    memset(&m, 0, sizeof m);
    m.type = failed ? XS_MSG_FAILED : XS_MSG_DONE;
    m.item = *it;
    m.report.seconds = secs;
    m.report.hash = mix(((uint64_t)it->frame << 32) ^ (uint64_t)(it->tile + 2)) | 1u;
    m.report.bytes = it->kind == XS_WORK_ASSEMBLE ? 1 : 0;
    if (failed)
        xs_msg_set_text(&m, "simulated failure");
    record_bar(s, e->worker, it, e->start, e->t, failed, dup);
    to_rank0(s, e->worker, e->t, &m);
    start_next(s, e->worker, e->t);
}

static xs_result sim_send(xs_transport *t, int worker, const xs_msg *msg, xs_err *err)
{
    sim *s = (sim *)t;
    enter(s);
    sim_event e = {.t = s->r0_clock + s->d->latency_s, .kind = EV_TO_WORKER, .worker = worker};
    e.msg = *msg;
    heap_push(s, e);
    leave(s);
    return s->oom ? xs_err_set(err, XS_ERR_NOMEM, "simulation: out of memory") : XS_OK;
}

static xs_result sim_poll(xs_transport *t, xs_msg *msg, int *worker, bool *have, xs_err *err)
{
    sim *s = (sim *)t;
    enter(s);
    *have = false;
    xs_result r = XS_OK;
    for (;;) {
        if (s->oom) {
            r = xs_err_set(err, XS_ERR_NOMEM, "simulation: out of memory");
            break;
        }
        if (s->hlen == 0) { /* nothing will ever arrive */
            r = xs_err_set(err, XS_ERR_INTERNAL, "simulation: nothing left in flight and the job is "
                                                 "not over (every worker stalled?)");
            break;
        }
        /* a silent worker is noticed when rank 0's clock passes its timeout:
         * let rank 0 look (return nothing) before an event far later */
        const double next = s->heap[0].t;
        if (next > s->r0_clock + 1.0 && s->job->opt->stall_timeout_s < 1e6) {
            s->r0_clock += 1.0;
            break;
        }
        sim_event e = heap_pop(s);
        if (e.kind != EV_TO_RANK0) {
            worker_event(s, &e);
            continue;
        }
        if (e.t >= s->w[e.worker].stall_at)
            continue;
        if (e.t > s->r0_clock)
            s->r0_clock = e.t;
        *msg = e.msg;
        *worker = e.worker;
        *have = true;
        if (msg->type != XS_MSG_REQUEST)
            s->items++;
        break;
    }
    leave(s);
    return r;
}

static xs_result sim_finish(xs_transport *t, bool abandon, xs_err *err)
{
    (void)t, (void)abandon, (void)err;
    return XS_OK;
}

static void sim_destroy(xs_transport *t) { (void)t; }

static double sim_now(void *self) { return ((sim *)self)->r0_clock; }

void xs_sim_result_free(xs_sim_result *r)
{
    free(r->bars);
    memset(r, 0, sizeof *r);
}

xs_result xs_simulate(const xs_job *job, const xs_sim_desc *d, xs_sim_result *out, xs_err *err)
{
    memset(out, 0, sizeof *out);
    sim s;
    memset(&s, 0, sizeof s);
    s.job = job;
    s.d = d;
    for (int c = 0; c < d->class_count; ++c)
        s.nw += d->classes[c].count;
    if (s.nw < 1)
        return xs_err_set(err, XS_ERR_INVALID, "simulate: no workers");
    s.w = calloc((size_t)s.nw, sizeof *s.w);
    if (!s.w)
        return xs_err_set(err, XS_ERR_NOMEM, "simulate: out of memory");
    double total_speed = 0.0;
    for (int c = 0, k = 0; c < d->class_count; ++c)
        for (int i = 0; i < d->classes[c].count; ++i, ++k) {
            s.w[k].cls = c;
            s.w[k].speed = d->classes[c].speed;
            s.w[k].slots = d->classes[c].slots > 0 ? d->classes[c].slots : 1;
            s.w[k].stall_at = INFINITY;
            total_speed += d->classes[c].speed;
        }
    for (int i = 0; i < d->stall_count; ++i)
        if (d->stall_worker[i] >= 0 && d->stall_worker[i] < s.nw)
            s.w[d->stall_worker[i]].stall_at = d->stall_at[i];
    s.base.workers = s.nw;
    s.base.rank_offset = 1;
    s.base.send = sim_send;
    s.base.poll = sim_poll;
    s.base.finish = sim_finish;
    s.base.destroy = sim_destroy;
    s.base.now = sim_now;
    s.base.parts = d->parts;
    double *priors = NULL;
    if (d->speed_priors && (priors = malloc((size_t)s.nw * sizeof *priors)) != NULL) {
        for (int w = 0; w < s.nw; ++w)
            priors[w] = s.w[w].speed * (double)s.nw / total_speed;
        s.base.speed_prior = priors;
    }
    s.chunks = (job->opt->render.spp + 15) / 16;
    /* each worker asks for its class's prefetch (or the job's) as it starts */
    const int prefetch = job->opt->prefetch;
    int *prefetches = malloc((size_t)s.nw * sizeof *prefetches);
    if (!prefetches) {
        free(s.w);
        return xs_err_set(err, XS_ERR_NOMEM, "simulate: out of memory");
    }
    for (int w = 0; w < s.nw; ++w) {
        int p = d->classes[s.w[w].cls].prefetch;
        prefetches[w] = p > 0 ? p : prefetch;
    }
    for (int w = 0; w < s.nw; ++w)
        for (int k = 0; k < prefetches[w]; ++k) {
            xs_msg m;
            memset(&m, 0, sizeof m);
            m.type = XS_MSG_REQUEST;
            to_rank0(&s, w, 0.0, &m);
        }
    /* the total work, for the ideal makespan */
    const int T = xs_film_tile_count(&job->film);
    double work = 0.0;
    for (int f = 0; f < job->opt->frame_count; ++f) {
        for (int t = 0; t < T; ++t) {
            xs_work_item it = {XS_WORK_TILE, job->opt->frames[f], t, 0, 0, 0};
            work += item_cost(&s, &it);
        }
        work += d->assemble_cost;
    }
    /* the CPU of every thread but this one (the journal's, the event log's,
     * the tile cleaner's) over the run: process CPU less this thread's */
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    const double main0 = thread_cpu();
    xs_job_report rep;
    xs_result r = xs_report_open(&rep, job, s.nw + 1, err);
    rep.quiet = true;
    if (r == XS_OK) {
        leave(&s);
        xs_sched_state st = xs_driver_run(job, &s.base, prefetches, &rep, err);
        enter(&s);
        out->state = (int)st;
        if (err->code != XS_OK)
            r = err->code;
    }
    out->splits = rep.final.splits;
    out->copies = rep.final.duplicates;
    xs_report_close(&rep);
    free(prefetches);
    free(priors);
    out->workers = s.nw;
    out->makespan_s = s.r0_clock;
    out->ideal_s = work / total_speed;
    out->items = s.items;
    out->items_per_s = s.r0_clock > 0 ? (double)s.items / s.r0_clock : 0.0;
    out->r0_cpu_s = s.r0_cpu;
    out->r0_us_per_item = s.items > 0 ? s.r0_cpu / (double)s.items * 1e6 : 0.0;
    struct rusage ru1;
    getrusage(RUSAGE_SELF, &ru1);
    double proc = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                  1e-6 * (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
    double others = proc - (thread_cpu() - main0);
    out->r0_threads_us_per_item = s.items > 0 && others > 0 ? others / (double)s.items * 1e6 : 0.0;
    double first_last = INFINITY, weighted = 0.0;
    for (int c = 0; c < d->class_count; ++c) {
        double busy = 0.0;
        for (int w = 0; w < s.nw; ++w)
            if (s.w[w].cls == c)
                busy += s.w[w].busy_s;
        out->busy_share[c] = s.r0_clock > 0 ? busy / ((double)d->classes[c].count * s.r0_clock) : 0.0;
    }
    for (int w = 0; w < s.nw; ++w) {
        weighted += s.w[w].busy_s * s.w[w].speed;
        if (s.w[w].last_finish > 0 && s.w[w].last_finish < first_last)
            first_last = s.w[w].last_finish;
        free(s.w[w].queue);
    }
    out->busy_total = s.r0_clock > 0 ? weighted / (total_speed * s.r0_clock) : 0.0;
    out->tail_s = isfinite(first_last) ? s.r0_clock - first_last : 0.0;
    double busy_all = 0.0;
    for (int w = 0; w < s.nw; ++w)
        busy_all += s.w[w].busy_s;
    out->wasted_share = busy_all > 0 ? s.wasted_s / busy_all : 0.0;
    out->bars = s.bars;
    out->bar_count = s.nbars;
    free(s.w);
    free(s.heap);
    free(s.finished.k);
    return r;
}
