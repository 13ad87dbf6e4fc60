/* The event log (see xs_events.h).
 *
 * Off rank 0's hot path: the per-item events (a tile dispatched, a tile
 * committed) are queued as small fixed records, with the time taken when
 * they happened, and a writer thread formats them as JSON lines and writes
 * them; rank 0's loop does no float formatting and no I/O for them. Other
 * events are rare: they are formatted where they happen and queued as text.
 * The writer flushes the file at least twice a second, and whenever it has
 * caught up.
 */
#include "io/xs_events.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

enum {
    EV_TEXT = 0,
    EV_TILE_DISPATCHED = 1,
    EV_ASSEMBLY_DISPATCHED = 2,
    EV_TILE_COMMITTED = 3,
    EV_PART_DONE = 4,
    EV_DUPLICATE = 5
};

typedef struct ev_rec {
    double time;
    int32_t kind, frame, tile, rank;
    float seconds;
    int32_t flag;     /* dispatched: 1 verify, 2 a copy; committed: kept */
    int32_t part;     /* dispatched: 0 a tile, 1 a part, 2 a merge */
    int32_t c0, c1;   /* a part's chunks (first, count) */
    uint64_t checksum;
    char *text;       /* EV_TEXT: "type", then the formatted fields; owned */
} ev_rec;

struct xs_events {
    FILE *f;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t writer;
    bool started, stop;
    ev_rec *q; /* a ring of cap records */
    size_t head, len, cap;
};

static double now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

/* The typed records are formatted by hand (integers and fixed-point
 * decimals): printf's float formatting was most of the writer's time. */
typedef struct line {
    char b[512];
    size_t n;
} line;

static void put_s(line *l, const char *s)
{
    while (*s && l->n < sizeof l->b - 1)
        l->b[l->n++] = *s++;
}

static void put_u64(line *l, uint64_t v)
{
    char t[24];
    int k = 0;
    do
        t[k++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (k > 0 && l->n < sizeof l->b - 1)
        l->b[l->n++] = t[--k];
}

static void put_i(line *l, int64_t v)
{
    if (v < 0) {
        put_s(l, "-");
        put_u64(l, (uint64_t)(-(v + 1)) + 1u);
    } else {
        put_u64(l, (uint64_t)v);
    }
}

/* v with `decimals` digits after the point, rounded (as %.Nf, but for ties) */
static void put_fixed(line *l, double v, int decimals)
{
    if (!isfinite(v)) {
        put_s(l, "0");
        return;
    }
    uint64_t scale = 1;
    for (int i = 0; i < decimals; ++i)
        scale *= 10;
    if (v < 0) {
        put_s(l, "-");
        v = -v;
    }
    if (v > 9e15 / (double)scale) { /* out of fixed-point range: not a time or a duration */
        put_s(l, "0");
        return;
    }
    uint64_t q = (uint64_t)llround(v * (double)scale);
    put_u64(l, q / scale);
    put_s(l, ".");
    char t[24];
    uint64_t frac = q % scale;
    for (int i = decimals - 1; i >= 0; --i, frac /= 10)
        t[i] = (char)('0' + frac % 10);
    for (int i = 0; i < decimals && l->n < sizeof l->b - 1; ++i)
        l->b[l->n++] = t[i];
}

static void put_hex16(line *l, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 15; i >= 0 && l->n < sizeof l->b - 1; --i)
        l->b[l->n++] = hex[(v >> (4 * i)) & 15u];
}

/* {"time": T, "event": "NAME", "frame": F[, "tile": T], "rank": R */
static void put_head(line *l, const ev_rec *r, const char *name, bool tile)
{
    put_s(l, "{\"time\": ");
    put_fixed(l, r->time, 3);
    put_s(l, ", \"event\": \"");
    put_s(l, name);
    put_s(l, "\", \"frame\": ");
    put_i(l, r->frame);
    if (tile) {
        put_s(l, ", \"tile\": ");
        put_i(l, r->tile);
    }
    put_s(l, ", \"rank\": ");
    put_i(l, r->rank);
}

static void write_rec(FILE *f, const ev_rec *r)
{
    line l;
    l.n = 0;
    switch (r->kind) {
    case EV_TILE_DISPATCHED:
        put_head(&l, r, "tile_dispatched", true);
        if (r->part == 1) {
            put_s(&l, ", \"kind\": \"part\", \"chunks\": [");
            put_i(&l, r->c0);
            put_s(&l, ", ");
            put_i(&l, r->c1);
            put_s(&l, "]");
        } else if (r->part == 2) {
            put_s(&l, ", \"kind\": \"merge\"");
        }
        if (r->flag & 1)
            put_s(&l, ", \"verify\": true");
        if (r->flag & 2)
            put_s(&l, ", \"copy\": true");
        break;
    case EV_PART_DONE:
        put_head(&l, r, "part_done", true);
        put_s(&l, ", \"chunks\": [");
        put_i(&l, r->c0);
        put_s(&l, ", ");
        put_i(&l, r->c1);
        put_s(&l, "], \"seconds\": ");
        put_fixed(&l, (double)r->seconds, 4);
        break;
    case EV_DUPLICATE:
        put_head(&l, r, "tile_duplicate", true);
        put_s(&l, ", \"seconds\": ");
        put_fixed(&l, (double)r->seconds, 4);
        break;
    case EV_ASSEMBLY_DISPATCHED:
        put_head(&l, r, "assembly_dispatched", false);
        break;
    case EV_TILE_COMMITTED:
        put_head(&l, r, "tile_committed", true);
        put_s(&l, ", \"seconds\": ");
        put_fixed(&l, (double)r->seconds, 4);
        put_s(&l, r->flag ? ", \"kept\": true, \"checksum\": \"" : ", \"kept\": false, \"checksum\": \"");
        put_hex16(&l, r->checksum);
        put_s(&l, "\"");
        break;
    default:
        fprintf(f, "{\"time\": %.3f, \"event\": %s}\n", r->time, r->text);
        free(r->text);
        return;
    }
    put_s(&l, "}\n");
    fwrite(l.b, 1, l.n, f);
}

static void *writer_main(void *arg)
{
    xs_events *ev = (xs_events *)arg;
    double last_flush = now_s();
    pthread_mutex_lock(&ev->mu);
    for (;;) {
        if (ev->len == 0) {
            if (ev->stop)
                break;
            pthread_mutex_unlock(&ev->mu);
            fflush(ev->f); /* caught up: a reader polling the log sees everything */
            last_flush = now_s();
            pthread_mutex_lock(&ev->mu);
            /* records do not wake it (a wake is a system call on rank 0's
             * loop): it looks every 10 ms, at once when the queue is long
             * or at the end */
            while (ev->len == 0 && !ev->stop) {
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += 10000000L;
                if (until.tv_nsec >= 1000000000L) {
                    until.tv_sec++;
                    until.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&ev->wake, &ev->mu, &until);
            }
            continue;
        }
        /* take up to a batch of records out of the ring, write them unlocked */
        enum { BATCH = 256 };
        ev_rec batch[BATCH];
        size_t n = ev->len < BATCH ? ev->len : BATCH;
        for (size_t i = 0; i < n; ++i)
            batch[i] = ev->q[(ev->head + i) % ev->cap];
        ev->head = (ev->head + n) % ev->cap;
        ev->len -= n;
        pthread_mutex_unlock(&ev->mu);
        for (size_t i = 0; i < n; ++i)
            write_rec(ev->f, &batch[i]);
        double t = now_s();
        if (t - last_flush > 0.5) {
            fflush(ev->f);
            last_flush = t;
        }
        pthread_mutex_lock(&ev->mu);
    }
    pthread_mutex_unlock(&ev->mu);
    fflush(ev->f);
    return NULL;
}

xs_result xs_events_open(const char *path, xs_events **out, xs_err *err)
{
    *out = NULL;
    xs_events *ev = calloc(1, sizeof *ev);
    if (!ev)
        return xs_err_set(err, XS_ERR_NOMEM, "events: out of memory");
    ev->f = fopen(path, "a");
    if (!ev->f) {
        int e = errno;
        free(ev);
        return xs_err_set(err, XS_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    pthread_mutex_init(&ev->mu, NULL);
    pthread_cond_init(&ev->wake, NULL);
    ev->started = pthread_create(&ev->writer, NULL, writer_main, ev) == 0;
    *out = ev;
    return XS_OK;
}

void xs_events_close(xs_events *ev)
{
    if (!ev)
        return;
    if (ev->started) {
        pthread_mutex_lock(&ev->mu);
        ev->stop = true;
        pthread_cond_signal(&ev->wake);
        pthread_mutex_unlock(&ev->mu);
        pthread_join(ev->writer, NULL);
    }
    for (size_t i = 0; i < ev->len; ++i) /* only without a writer */
        write_rec(ev->f, &ev->q[(ev->head + i) % ev->cap]);
    fclose(ev->f);
    free(ev->q);
    pthread_mutex_destroy(&ev->mu);
    pthread_cond_destroy(&ev->wake);
    free(ev);
}

/* Queues r (the ring grows; without a writer thread it is written at once). */
static void push(xs_events *ev, const ev_rec *r)
{
    pthread_mutex_lock(&ev->mu);
    if (!ev->started) {
        write_rec(ev->f, r);
        pthread_mutex_unlock(&ev->mu);
        return;
    }
    if (ev->len == ev->cap) {
        size_t nc = ev->cap ? ev->cap * 2 : 1024;
        ev_rec *nq = malloc(nc * sizeof *nq);
        if (!nq) { /* out of memory: write it here rather than lose it */
            write_rec(ev->f, r);
            pthread_mutex_unlock(&ev->mu);
            return;
        }
        for (size_t i = 0; i < ev->len; ++i)
            nq[i] = ev->q[(ev->head + i) % ev->cap];
        free(ev->q);
        ev->q = nq;
        ev->cap = nc;
        ev->head = 0;
    }
    ev->q[(ev->head + ev->len++) % ev->cap] = *r;
    if (ev->len >= 4096)
        pthread_cond_signal(&ev->wake);
    pthread_mutex_unlock(&ev->mu);
}

void xs_events_emit(xs_events *ev, const char *type, const char *fields, ...)
{
    if (!ev)
        return;
    char body[2048];
    int n = snprintf(body, sizeof body, "\"%s\"", type);
    if (fields && *fields && n > 0 && (size_t)n < sizeof body) {
        n += snprintf(body + n, sizeof body - (size_t)n, ", ");
        va_list ap;
        va_start(ap, fields);
        vsnprintf(body + n, sizeof body - (size_t)n, fields, ap);
        va_end(ap);
    }
    ev_rec r = {.time = now_s(), .kind = EV_TEXT, .text = strdup(body)};
    if (r.text)
        push(ev, &r);
}

void xs_events_tile_dispatched(xs_events *ev, int frame, int tile, int rank, bool verify, bool copy)
{
    if (!ev)
        return;
    ev_rec r = {.time = now_s(), .kind = EV_TILE_DISPATCHED, .frame = frame, .tile = tile, .rank = rank,
                .flag = (verify ? 1 : 0) | (copy ? 2 : 0)};
    push(ev, &r);
}

void xs_events_part_dispatched(xs_events *ev, int frame, int tile, int rank, bool merge, int chunk_first,
                               int chunk_count, bool copy)
{
    if (!ev)
        return;
    ev_rec r = {.time = now_s(), .kind = EV_TILE_DISPATCHED, .frame = frame, .tile = tile, .rank = rank,
                .flag = copy ? 2 : 0, .part = merge ? 2 : 1, .c0 = chunk_first, .c1 = chunk_count};
    push(ev, &r);
}

void xs_events_part_done(xs_events *ev, int frame, int tile, int rank, int chunk_first, int chunk_count,
                         double seconds)
{
    if (!ev)
        return;
    ev_rec r = {.time = now_s(), .kind = EV_PART_DONE, .frame = frame, .tile = tile, .rank = rank,
                .seconds = (float)seconds, .c0 = chunk_first, .c1 = chunk_count};
    push(ev, &r);
}

void xs_events_duplicate(xs_events *ev, int frame, int tile, int rank, double seconds)
{
    if (!ev)
        return;
    ev_rec r = {.time = now_s(), .kind = EV_DUPLICATE, .frame = frame, .tile = tile, .rank = rank,
                .seconds = (float)seconds};
    push(ev, &r);
}

void xs_events_assembly_dispatched(xs_events *ev, int frame, int rank)
{
    if (!ev)
        return;
    ev_rec r = {.time = now_s(), .kind = EV_ASSEMBLY_DISPATCHED, .frame = frame, .rank = rank};
    push(ev, &r);
}

void xs_events_tile_committed(xs_events *ev, int frame, int tile, int rank, double seconds, bool kept,
                              uint64_t checksum)
{
    if (!ev)
        return;
    ev_rec r = {.time = now_s(), .kind = EV_TILE_COMMITTED, .frame = frame, .tile = tile, .rank = rank,
                .seconds = (float)seconds, .flag = kept, .checksum = checksum};
    push(ev, &r);
}
