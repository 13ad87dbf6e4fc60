/* Unit tests of the policy's balance (scheduler/policy.c, xs_sched.h): speed
 * estimates from timed results, admission of slow workers, cost-ordered
 * tiles, tail splits into parts merged once every part is done, and
 * speculative copies whose first result counts. Driven by a deterministic
 * timed farm: each worker runs its queued items one after another at its own
 * speed; a tile's cost is fixed per tile index (times a small per-frame
 * factor), as a real shot's tiles cost about the same from frame to frame. */
#include "scheduler/xs_sched.h"
#include "test_util.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

enum { MAXW = 32, MAXQ = 64, MAXT = 256, MAXF = 8, CHUNKS = 16 };

typedef struct farm {
    xs_sched *s;
    int workers, frames, tiles;
    double speed[MAXW];
    xs_work_item q[MAXW][MAXQ]; /* queued and running (q[w][0] runs) */
    int qn[MAXW];
    double start[MAXW]; /* when q[w][0] started */
    int outstanding[MAXW];
    double now;
    /* what happened */
    int committed[MAXF][MAXT];         /* first DONE of a TILE or MERGE */
    uint32_t parts_done[MAXF][MAXT];   /* chunks covered by first DONEs of PART items */
    int merges_assigned[MAXF][MAXT];
    int assembled[MAXF];
    double t_assembled[MAXF];
    int64_t parts, copies, duplicates;
    int order[MAXF][MAXT], order_n[MAXF]; /* TILE assignment order per frame */
    bool slow_took_late;                  /* a worker marked slow was assigned past late_after */
    int slow_from;                        /* workers >= this are "slow" */
    double late_after;
    int fail_tile, fail_worker;           /* that tile fails once on that worker (-1: never) */
    int last_frame[MAXW];                 /* the frame each worker last rendered (0: none) */
    int64_t switches;                     /* times a worker rendered another frame than before */
} farm;

static double tile_cost(int frame, int tile)
{
    /* a few expensive tiles, most cheap; the same tile costs about the same in every frame */
    uint32_t h = (uint32_t)tile * 2654435761u;
    double base = 0.5 + (double)(h >> 24) / 64.0; /* 0.5 .. 4.5 */
    if (tile % 17 == 3)
        base *= 3.0;
    return base * (1.0 + 0.02 * (double)((frame * 7 + tile) % 5));
}

static double item_cost(const xs_work_item *it)
{
    switch (it->kind) {
    case XS_WORK_TILE:
        return tile_cost(it->frame, it->tile);
    case XS_WORK_PART:
        return tile_cost(it->frame, it->tile) * it->chunk_count / CHUNKS;
    case XS_WORK_MERGE:
        return 0.01;
    default:
        return 0.05;
    }
}

static void drain(farm *f)
{
    xs_sched_action a;
    while (xs_sched_next_action(f->s, &a)) {
        int w = a.worker;
        CHECK(w >= 0 && w < f->workers);
        CHECK_MSG(f->outstanding[w] > 0, "answer to worker %d without a request", w);
        f->outstanding[w]--;
        if (a.kind == XS_ACT_END)
            continue;
        const xs_work_item *it = &a.item;
        int fi = it->frame - 1;
        CHECK(fi >= 0 && fi < f->frames);
        if (it->kind == XS_WORK_TILE && !(it->flags & XS_ITEM_COPY))
            f->order[fi][f->order_n[fi]++] = it->tile;
        if (it->kind == XS_WORK_PART)
            f->parts++;
        if (it->kind == XS_WORK_MERGE) {
            CHECK_MSG(f->parts_done[fi][it->tile] == (1u << CHUNKS) - 1,
                      "merge of frame %d tile %d before all its chunks were rendered (%x)", it->frame,
                      it->tile, f->parts_done[fi][it->tile]);
            CHECK(it->chunk_count == CHUNKS && it->chunk_first >= 2);
            f->merges_assigned[fi][it->tile]++;
        }
        if (it->kind == XS_WORK_ASSEMBLE)
            for (int t = 0; t < f->tiles; ++t)
                CHECK_MSG(f->committed[fi][t] == 1, "frame %d assembled with tile %d committed %d times",
                          it->frame, t, f->committed[fi][t]);
        if (it->flags & XS_ITEM_COPY)
            f->copies++;
        if ((it->kind == XS_WORK_TILE && !(it->flags & XS_ITEM_VERIFY)) || it->kind == XS_WORK_PART) {
            f->switches += f->last_frame[w] != 0 && f->last_frame[w] != it->frame;
            f->last_frame[w] = it->frame;
        }
        if (w >= f->slow_from && f->now > f->late_after)
            f->slow_took_late = true;
        CHECK(f->qn[w] < MAXQ);
        if (f->qn[w] == 0)
            f->start[w] = f->now;
        f->q[w][f->qn[w]++] = *it;
    }
}

static void farm_init_full(farm *f, int workers, const double *speed, int frames, int tiles, bool balance,
                           int chunks, const double *prior, bool affinity)
{
    memset(f, 0, sizeof *f);
    f->workers = workers;
    f->frames = frames;
    f->tiles = tiles;
    f->slow_from = workers;
    f->late_after = INFINITY;
    f->fail_tile = f->fail_worker = -1;
    int fr[MAXF];
    for (int i = 0; i < frames; ++i)
        fr[i] = i + 1;
    for (int w = 0; w < workers; ++w)
        f->speed[w] = speed[w];
    xs_sched_desc d = {.frames = fr,
                       .frame_count = frames,
                       .tiles_per_frame = tiles,
                       .worker_count = workers,
                       .prefetch = 2,
                       .assemble = true,
                       .max_retries = 2,
                       .balance = balance,
                       .chunks_per_tile = chunks,
                       .worker_speed = prior,
                       .frame_affinity = affinity};
    xs_err e;
    CHECK(xs_sched_create(&d, &f->s, &e) == XS_OK);
}

static void farm_init_prior(farm *f, int workers, const double *speed, int frames, int tiles, bool balance,
                            int chunks, const double *prior)
{
    farm_init_full(f, workers, speed, frames, tiles, balance, chunks, prior, false);
}

static void farm_init(farm *f, int workers, const double *speed, int frames, int tiles, bool balance,
                      int chunks)
{
    farm_init_prior(f, workers, speed, frames, tiles, balance, chunks, NULL);
}

/* Runs the job to its end; returns the time the last result came. */
static double farm_run(farm *f)
{
    xs_err e;
    xs_sched_set_time(f->s, 1e-6);
    for (int w = 0; w < f->workers; ++w)
        for (int k = 0; k < 2; ++k) {
            f->outstanding[w]++;
            CHECK(xs_sched_on_request(f->s, w, &e) == XS_OK);
        }
    drain(f);
    for (int step = 0; step < 1000000; ++step) {
        /* the next item to finish */
        int best = -1;
        double t_best = INFINITY;
        for (int w = 0; w < f->workers; ++w)
            if (f->qn[w] > 0) {
                double t = f->start[w] + item_cost(&f->q[w][0]) / f->speed[w];
                if (t < t_best)
                    t_best = t, best = w;
            }
        if (best < 0)
            break;
        f->now = t_best;
        xs_sched_set_time(f->s, f->now);
        xs_work_item it = f->q[best][0];
        double secs = f->now - f->start[best];
        memmove(&f->q[best][0], &f->q[best][1], (size_t)(f->qn[best] - 1) * sizeof it);
        f->qn[best]--;
        f->start[best] = f->now;
        bool was_done = xs_sched_item_done(f->s, &it);
        f->outstanding[best]++;
        if (it.kind == XS_WORK_TILE && it.tile == f->fail_tile && best == f->fail_worker) {
            f->fail_tile = -1; /* once */
            CHECK(xs_sched_on_failed(f->s, best, it, &e) == XS_OK);
            CHECK(xs_sched_on_request(f->s, best, &e) == XS_OK);
            drain(f);
            continue;
        }
        CHECK(xs_sched_on_done_timed(f->s, best, it, secs, &e) == XS_OK);
        CHECK(xs_sched_last_was_duplicate(f->s) == was_done);
        int fi = it.frame - 1;
        if (was_done) {
            f->duplicates++;
        } else if (it.kind == XS_WORK_TILE || it.kind == XS_WORK_MERGE) {
            f->committed[fi][it.tile]++;
        } else if (it.kind == XS_WORK_PART) {
            uint32_t m = ((1u << it.chunk_count) - 1u) << it.chunk_first;
            CHECK_MSG((f->parts_done[fi][it.tile] & m) == 0, "chunks rendered twice in parts");
            f->parts_done[fi][it.tile] |= m;
        } else {
            f->assembled[fi]++;
            f->t_assembled[fi] = f->now;
        }
        CHECK(xs_sched_on_request(f->s, best, &e) == XS_OK);
        drain(f);
        if (xs_sched_get_state(f->s) != XS_SCHED_RUNNING)
            break;
    }
    CHECK_MSG(xs_sched_get_state(f->s) == XS_SCHED_COMPLETED, "state %d", (int)xs_sched_get_state(f->s));
    for (int fi = 0; fi < f->frames; ++fi) {
        CHECK(f->assembled[fi] == 1);
        for (int t = 0; t < f->tiles; ++t)
            CHECK_MSG(f->committed[fi][t] == 1, "frame %d tile %d committed %d times", fi + 1, t,
                      f->committed[fi][t]);
    }
    return f->now;
}

/* A worker four times slower is estimated so, from its measured results. */
static void test_speed_estimates(void)
{
    double sp[4] = {1, 1, 1, 0.25};
    farm f;
    farm_init(&f, 4, sp, 4, 64, true, 1);
    farm_run(&f);
    double fast = xs_sched_worker_speed(f.s, 0), slow = xs_sched_worker_speed(f.s, 3);
    CHECK_MSG(fabs(fast / slow - 4.0) < 0.6, "estimated speeds %.3f and %.3f: ratio %.2f, want 4", fast, slow,
              fast / slow);
    xs_sched_destroy(f.s);
}

/* Adding workers 50 times slower never makes the job slower, and they take
 * nothing in the last stretch of the job. Their speed is known to be low
 * before their first result (the farm starts from each device's peak
 * FLOP/s; here a prior 1/20 of the others', not the true 1/50). */
static void test_slow_rank_admission(void)
{
    double sp[MAXW];
    for (int w = 0; w < 8; ++w)
        sp[w] = 1.0;
    farm alone;
    farm_init(&alone, 4, sp, 4, 64, true, 1);
    double t_alone = farm_run(&alone);
    xs_sched_destroy(alone.s);
    for (int w = 4; w < 8; ++w)
        sp[w] = 0.02;
    double prior[8] = {1, 1, 1, 1, 0.05, 0.05, 0.05, 0.05};
    farm mixed;
    farm_init_prior(&mixed, 8, sp, 4, 64, true, 1, prior);
    mixed.slow_from = 4;
    mixed.late_after = t_alone * 0.9; /* a tile costs them ~100 s or more: too late by then */
    double t_mixed = farm_run(&mixed);
    CHECK_MSG(t_mixed <= t_alone * 1.001, "with slow workers %.2f s, without %.2f s", t_mixed, t_alone);
    CHECK_MSG(!mixed.slow_took_late, "a slow worker took an item in the last 10%% of the job");
    xs_sched_destroy(mixed.s);
    /* without balance the slow workers hoard tiles and the job is far slower */
    farm off;
    farm_init(&off, 8, sp, 4, 64, false, 1);
    double t_off = farm_run(&off);
    CHECK_MSG(t_off > t_alone * 1.2, "balance off: %.2f s against %.2f s alone (the test proves nothing)", t_off,
              t_alone);
    xs_sched_destroy(off.s);
}

/* Once a frame's tiles are measured, the next frame's go out most expensive first. */
static void test_cost_order(void)
{
    double sp[2] = {1, 1};
    farm f;
    farm_init(&f, 2, sp, 3, 40, true, 1);
    farm_run(&f);
    CHECK(f.order_n[2] == 40);
    int inversions = 0;
    for (int i = 1; i < f.order_n[2]; ++i)
        if (tile_cost(3, f.order[2][i]) > tile_cost(3, f.order[2][i - 1]) * 1.2) { /* costs move <= 8% a frame */
            inversions++;
            fprintf(stderr, "inversion at %d: tile %d (%.3f) after tile %d (%.3f)\n", i, f.order[2][i],
                    tile_cost(3, f.order[2][i]), f.order[2][i - 1], tile_cost(3, f.order[2][i - 1]));
        }
    CHECK_MSG(inversions == 0, "frame 3's tiles not most expensive first: %d inversions", inversions);
    /* the first frame has no measurements: row-major */
    for (int i = 0; i < f.order_n[0]; ++i)
        CHECK(f.order[0][i] == i);
    xs_sched_destroy(f.s);
}

/* A one-frame job on more workers than tiles: tiles split into parts of
 * their sample chunks, each chunk rendered once, merged once all parts are
 * done, then assembled; faster than without splits. */
static void test_splits_merged(void)
{
    double sp[16];
    for (int w = 0; w < 16; ++w)
        sp[w] = 1.0;
    farm f;
    farm_init(&f, 16, sp, 1, 6, true, CHUNKS);
    double t_split = farm_run(&f);
    xs_sched_progress p;
    xs_sched_get_progress(f.s, &p);
    CHECK_MSG(p.splits > 0 && f.parts > 0, "no tile was split (%lld splits)", (long long)p.splits);
    for (int t = 0; t < 6; ++t)
        if (f.parts_done[0][t]) {
            CHECK(f.parts_done[0][t] == (1u << CHUNKS) - 1);
            CHECK(f.merges_assigned[0][t] >= 1);
        }
    CHECK(p.tiles_done == 6);
    xs_sched_destroy(f.s);
    farm whole;
    farm_init(&whole, 16, sp, 1, 6, true, 1);
    double t_whole = farm_run(&whole);
    CHECK_MSG(t_split < 0.75 * t_whole, "split %.2f s, whole tiles %.2f s", t_split, t_whole);
    xs_sched_destroy(whole.s);
}

/* A tile stuck on a worker far slower than thought (no prior, no result
 * yet) is copied to an idle fast one; the first result counts, the second
 * is a duplicate, the tile is committed once, and the frame is assembled
 * long before the slow worker's copy returns (the job itself still waits
 * for that reply: a copy is not cancelled). */
static void test_copy_first_wins(void)
{
    double sp[4] = {1, 1, 1, 0.05};
    farm f;
    farm_init(&f, 4, sp, 3, 10, true, 1);
    double t = farm_run(&f);
    CHECK_MSG(f.copies > 0, "no copy was made");
    CHECK_MSG(f.duplicates > 0, "no duplicate result came back");
    xs_sched_progress p;
    xs_sched_get_progress(f.s, &p);
    CHECK(p.duplicates == f.copies);
    double last_frame = 0;
    for (int fi = 0; fi < 3; ++fi)
        last_frame = f.t_assembled[fi] > last_frame ? f.t_assembled[fi] : last_frame;
    CHECK_MSG(last_frame < 0.8 * t, "frames assembled by %.1f s, the last reply at %.1f s", last_frame, t);
    xs_sched_destroy(f.s);
}

/* A tile that fails on the fast worker at the end is retried on the other,
 * even though admission would not give that slow worker anything then: a
 * retry never waits for ever. */
static void test_retry_to_slow_worker(void)
{
    double sp[2] = {0.2, 1.0}, prior[2] = {0.2, 1.0};
    farm f;
    farm_init_prior(&f, 2, sp, 1, 12, true, 1, prior);
    f.fail_tile = 11;
    f.fail_worker = 1;
    farm_run(&f); /* checks the job completes, every tile once */
    xs_sched_progress p;
    xs_sched_get_progress(f.s, &p);
    CHECK(p.retries == 1);
    xs_sched_destroy(f.s);
}

/* Balance off: no parts, no copies, row-major, as before. */
static void test_balance_off(void)
{
    double sp[4] = {1, 1, 1, 0.05};
    farm f;
    farm_init(&f, 4, sp, 2, 20, false, CHUNKS);
    farm_run(&f);
    CHECK(f.parts == 0 && f.copies == 0);
    for (int fi = 0; fi < 2; ++fi)
        for (int i = 0; i < f.order_n[fi]; ++i)
            CHECK(f.order[fi][i] == i);
    xs_sched_destroy(f.s);
}

/* Frame affinity (an animated scene) keeps balance: slow workers still take
 * nothing late and cost the job nothing, tiles are still split at the end
 * of a job and copied for idle fast workers, a retry still reaches a slow
 * worker; and workers switch frames no more often than without it. */
static void test_frame_affinity(void)
{
    double sp[MAXW];
    for (int w = 0; w < 8; ++w)
        sp[w] = w < 4 ? 1.0 : 0.02;
    double prior[8] = {1, 1, 1, 1, 0.05, 0.05, 0.05, 0.05};
    farm alone, mixed, off;
    farm_init_full(&alone, 4, sp, 4, 64, true, 1, NULL, true);
    double t_alone = farm_run(&alone);
    farm_init_full(&mixed, 8, sp, 4, 64, true, 1, prior, true);
    mixed.slow_from = 4;
    mixed.late_after = t_alone * 0.9;
    double t_mixed = farm_run(&mixed);
    CHECK_MSG(t_mixed <= t_alone * 1.001, "affinity, with slow workers %.2f s, without %.2f s", t_mixed, t_alone);
    CHECK_MSG(!mixed.slow_took_late, "affinity: a slow worker took an item in the last 10%% of the job");
    farm_init_full(&off, 8, sp, 4, 64, true, 1, prior, false);
    farm_run(&off);
    CHECK_MSG(mixed.switches <= off.switches, "frame switches: %lld with affinity, %lld without",
              (long long)mixed.switches, (long long)off.switches);
    xs_sched_destroy(alone.s), xs_sched_destroy(mixed.s), xs_sched_destroy(off.s);

    for (int w = 0; w < 16; ++w)
        sp[w] = 1.0;
    farm split, whole;
    farm_init_full(&split, 16, sp, 2, 6, true, CHUNKS, NULL, true);
    double t_split = farm_run(&split);
    farm_init_full(&whole, 16, sp, 2, 6, true, 1, NULL, true);
    double t_whole = farm_run(&whole);
    CHECK_MSG(split.parts > 0 && t_split < 0.8 * t_whole, "affinity: %lld parts, split %.2f s, whole tiles %.2f s",
              (long long)split.parts, t_split, t_whole);
    xs_sched_destroy(split.s), xs_sched_destroy(whole.s);

    double sc[4] = {1, 1, 1, 0.05};
    farm copy;
    farm_init_full(&copy, 4, sc, 2, 10, true, 1, NULL, true);
    farm_run(&copy);
    CHECK_MSG(copy.copies > 0 && copy.duplicates > 0, "affinity: %lld copies, %lld duplicates",
              (long long)copy.copies, (long long)copy.duplicates);
    xs_sched_destroy(copy.s);

    double sr[2] = {0.2, 1.0}, pr[2] = {0.2, 1.0};
    farm retry;
    farm_init_full(&retry, 2, sr, 2, 12, true, 1, pr, true);
    retry.fail_tile = 11;
    retry.fail_worker = 1;
    farm_run(&retry);
    xs_sched_progress p;
    xs_sched_get_progress(retry.s, &p);
    CHECK(p.retries == 1);
    xs_sched_destroy(retry.s);
}

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"speed_estimates", test_speed_estimates},
        {"slow_rank_admission", test_slow_rank_admission},
        {"cost_order", test_cost_order},
        {"splits_merged", test_splits_merged},
        {"copy_first_wins", test_copy_first_wins},
        {"retry_to_slow_worker", test_retry_to_slow_worker},
        {"balance_off", test_balance_off},
        {"frame_affinity", test_frame_affinity},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
