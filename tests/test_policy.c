/* Unit tests of the scheduling policy (scheduler/policy.c), driven by a
 * simulated farm: workers that follow the protocol, finish items in a
 * pseudo-random order, and check every invariant on the way. */
#include "render/xs_film.h"
#include "scheduler/xs_sched.h"
#include "test_util.h"

#include <stdint.h>

typedef struct sim {
    xs_sched *s;
    int workers, prefetch, frames, tiles;
    bool assemble;
    /* per worker: items held, requests outstanding, ends received */
    xs_work_item held[64][64];
    int held_n[64], outstanding[64], ends[64];
    /* per (frame, tile): times assigned; per frame: assemblies, tiles done */
    int *assigned_tile;
    int assembled[64], frame_tiles_done[64];
    uint64_t rng;
    int steps;
} sim;

static uint64_t sim_rand(sim *m)
{
    m->rng ^= m->rng << 13;
    m->rng ^= m->rng >> 7;
    m->rng ^= m->rng << 17;
    return m->rng;
}

static void sim_drain(sim *m)
{
    xs_sched_action a;
    while (xs_sched_next_action(m->s, &a)) {
        CHECK(a.worker >= 0 && a.worker < m->workers);
        CHECK_MSG(m->outstanding[a.worker] > 0, "answer to worker %d without a request", a.worker);
        m->outstanding[a.worker]--;
        if (a.kind == XS_ACT_END) {
            m->ends[a.worker]++;
            continue;
        }
        CHECK(a.kind == XS_ACT_ASSIGN);
        int fi = a.item.frame - 1;
        CHECK(fi >= 0 && fi < m->frames);
        if (a.item.kind == XS_WORK_TILE) {
            CHECK(a.item.tile >= 0 && a.item.tile < m->tiles);
            m->assigned_tile[fi * m->tiles + a.item.tile]++;
        } else {
            CHECK(a.item.kind == XS_WORK_ASSEMBLE);
            CHECK_MSG(m->frame_tiles_done[fi] == m->tiles,
                      "frame %d assembled before its tiles were done", a.item.frame);
        }
        CHECK(m->held_n[a.worker] < m->prefetch);
        m->held[a.worker][m->held_n[a.worker]++] = a.item;
    }
}

static void sim_init(sim *m, int workers, int prefetch, int frames, int tiles, bool assemble,
                     uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->workers = workers;
    m->prefetch = prefetch;
    m->frames = frames;
    m->tiles = tiles;
    m->assemble = assemble;
    m->rng = seed * 2654435761u + 1;
    m->assigned_tile = calloc((size_t)frames * (size_t)tiles, sizeof(int));
    int fr[64];
    for (int i = 0; i < frames; ++i)
        fr[i] = i + 1;
    xs_sched_desc d = {.frames = fr,
                       .frame_count = frames,
                       .tiles_per_frame = tiles,
                       .worker_count = workers,
                       .prefetch = prefetch,
                       .assemble = assemble};
    xs_err e;
    CHECK(xs_sched_create(&d, &m->s, &e) == XS_OK);
}

static void sim_free(sim *m)
{
    xs_sched_destroy(m->s);
    free(m->assigned_tile);
}

/* Workers start at random times and finish random held items; a failing item
 * (fail_after >= 0: the Nth reply fails) ends the job. */
static xs_sched_state sim_run(sim *m, int fail_after)
{
    xs_err e;
    int started[64] = {0};
    int replies = 0;
    for (int guard = 0; guard < 10000000; ++guard) {
        sim_drain(m);
        xs_sched_state st = xs_sched_get_state(m->s);
        if (st != XS_SCHED_RUNNING)
            return st;
        int w = (int)(sim_rand(m) % (uint64_t)m->workers);
        if (!started[w]) {
            started[w] = 1;
            for (int i = 0; i < m->prefetch; ++i) {
                m->outstanding[w]++;
                CHECK(xs_sched_on_request(m->s, w, &e) == XS_OK);
            }
            continue;
        }
        if (m->held_n[w] == 0)
            continue;
        int k = (int)(sim_rand(m) % (uint64_t)m->held_n[w]);
        xs_work_item it = m->held[w][k];
        m->held[w][k] = m->held[w][--m->held_n[w]];
        bool fail = fail_after >= 0 && replies == fail_after;
        replies++;
        if (fail) {
            CHECK(xs_sched_on_failed(m->s, w, it, &e) == XS_OK);
        } else {
            if (it.kind == XS_WORK_TILE)
                m->frame_tiles_done[it.frame - 1]++;
            else
                m->assembled[it.frame - 1]++;
            CHECK(xs_sched_on_done(m->s, w, it, &e) == XS_OK);
        }
        m->outstanding[w]++;
        CHECK(xs_sched_on_request(m->s, w, &e) == XS_OK);
        m->steps++;
    }
    CHECK_MSG(0, "simulation did not finish");
    return XS_SCHED_RUNNING;
}

static void check_complete(sim *m)
{
    for (int f = 0; f < m->frames; ++f) {
        for (int t = 0; t < m->tiles; ++t)
            CHECK_MSG(m->assigned_tile[f * m->tiles + t] == 1, "frame %d tile %d assigned %d times",
                      f + 1, t, m->assigned_tile[f * m->tiles + t]);
        CHECK(m->frame_tiles_done[f] == m->tiles);
        CHECK_MSG(m->assembled[f] == (m->assemble ? 1 : 0), "frame %d assembled %d times", f + 1,
                  m->assembled[f]);
    }
    for (int w = 0; w < m->workers; ++w) {
        CHECK_MSG(m->outstanding[w] == 0, "worker %d left with %d unanswered requests", w,
                  m->outstanding[w]);
        CHECK(m->held_n[w] == 0);
    }
    xs_sched_progress p;
    xs_sched_get_progress(m->s, &p);
    CHECK(p.tiles_done == (int64_t)m->frames * m->tiles);
    CHECK(p.tiles_in_flight == 0);
    CHECK(p.frames_done == m->frames);
}

static void run_case(int workers, int prefetch, int frames, int tiles, bool assemble, int seeds)
{
    for (int seed = 1; seed <= seeds; ++seed) {
        sim m;
        sim_init(&m, workers, prefetch, frames, tiles, assemble, (uint64_t)seed);
        CHECK(sim_run(&m, -1) == XS_SCHED_COMPLETED);
        check_complete(&m);
        sim_free(&m);
    }
}

/* A 100x70 frame in 32-pixel tiles is a 4x3 grid whose last column and row
 * are cut; the rectangles cover every pixel exactly once, and the policy
 * schedules the 12 tiles of each frame exactly once. */
static void test_non_multiple_grid(void)
{
    xs_film film;
    xs_film_init(&film, 100, 70, 32);
    CHECK(film.tiles_x == 4 && film.tiles_y == 3 && xs_film_tile_count(&film) == 12);
    static int cover[70][100];
    memset(cover, 0, sizeof cover);
    for (int t = 0; t < xs_film_tile_count(&film); ++t) {
        int x0, y0, w, h;
        xs_film_tile_rect(&film, t, &x0, &y0, &w, &h);
        CHECK(w >= 1 && h >= 1 && w <= 32 && h <= 32);
        for (int y = y0; y < y0 + h; ++y)
            for (int x = x0; x < x0 + w; ++x)
                cover[y][x]++;
    }
    int x0, y0, w, h;
    xs_film_tile_rect(&film, 11, &x0, &y0, &w, &h);
    CHECK(x0 == 96 && y0 == 64 && w == 4 && h == 6);
    for (int y = 0; y < 70; ++y)
        for (int x = 0; x < 100; ++x)
            CHECK_MSG(cover[y][x] == 1, "pixel (%d, %d) covered %d times", x, y, cover[y][x]);
    run_case(3, 2, 2, xs_film_tile_count(&film), true, 20);
}
/* Films whose sides are multiples of the tile: every tile full (no empty
 * column or row past the edge), the grid covering every pixel exactly once;
 * and sides one pixel past a multiple: one more cut column or row, 1 pixel
 * wide. Counts and rectangles from the arithmetic, not from the code. */
static void check_grid(int width, int height, int tile)
{
    xs_film film;
    xs_film_init(&film, width, height, tile);
    int nx = width / tile + (width % tile != 0), ny = height / tile + (height % tile != 0);
    CHECK_MSG(film.tiles_x == nx && film.tiles_y == ny && xs_film_tile_count(&film) == nx * ny,
              "%dx%d in %d-pixel tiles: grid %dx%d (%d tiles), want %dx%d", width, height, tile,
              film.tiles_x, film.tiles_y, xs_film_tile_count(&film), nx, ny);
    if (film.tiles_x != nx || film.tiles_y != ny)
        return;
    int *cover = calloc((size_t)width * (size_t)height, sizeof(int));
    for (int t = 0; t < nx * ny; ++t) {
        int x0, y0, w, h;
        xs_film_tile_rect(&film, t, &x0, &y0, &w, &h);
        int ex0 = (t % nx) * tile, ey0 = (t / nx) * tile;
        int ew = width - ex0 < tile ? width - ex0 : tile, eh = height - ey0 < tile ? height - ey0 : tile;
        CHECK_MSG(x0 == ex0 && y0 == ey0 && w == ew && h == eh,
                  "%dx%d tile %d: (%d, %d) %dx%d, want (%d, %d) %dx%d", width, height, t, x0, y0, w, h,
                  ex0, ey0, ew, eh);
        for (int y = y0; y < y0 + h && y < height; ++y)
            for (int x = x0; x < x0 + w && x < width; ++x)
                if (x >= 0 && y >= 0)
                    cover[(size_t)y * (size_t)width + (size_t)x]++;
    }
    int bad = 0;
    for (size_t i = 0; i < (size_t)width * (size_t)height; ++i)
        bad += cover[i] != 1;
    CHECK_MSG(bad == 0, "%dx%d in %d-pixel tiles: %d pixels not covered exactly once", width, height,
              tile, bad);
    free(cover);
}

static void test_multiple_grid(void)
{
    check_grid(96, 64, 32);   /* 3x2 full tiles */
    check_grid(128, 128, 64); /* 2x2 */
    check_grid(64, 64, 64);   /* one tile */
    check_grid(256, 16, 16);  /* one row */
    check_grid(97, 65, 32);   /* one pixel past: a 1-pixel column and row */
    check_grid(8, 8, 16);     /* a tile larger than the frame */
    xs_film film;
    xs_film_init(&film, 96, 64, 32);
    int x0, y0, w, h;
    xs_film_tile_rect(&film, 5, &x0, &y0, &w, &h);
    CHECK(x0 == 64 && y0 == 32 && w == 32 && h == 32);
    run_case(3, 2, 2, xs_film_tile_count(&film), true, 20);
}

static void test_one_tile_frames(void) { run_case(4, 2, 5, 1, true, 20); }
static void test_more_workers_than_tiles(void) { run_case(16, 2, 1, 3, true, 20); }
static void test_single_worker(void) { run_case(1, 2, 3, 7, true, 5); }
static void test_deep_prefetch(void) { run_case(5, 8, 4, 40, true, 10); }
static void test_no_assembly(void) { run_case(3, 2, 3, 9, false, 10); }

static void test_failure_ends_job(void)
{
    for (int seed = 1; seed <= 20; ++seed) {
        sim m;
        sim_init(&m, 4, 2, 3, 10, true, (uint64_t)seed);
        CHECK(sim_run(&m, 5) == XS_SCHED_FAILED);
        for (int w = 0; w < m.workers; ++w)
            CHECK_MSG(m.outstanding[w] == 0, "worker %d left waiting after a failure", w);
        sim_free(&m);
    }
}

/* Workers are never starved while work exists: with prefetch 2 and many
 * tiles, every answer before the last few is an assignment. */
static void test_prefetch_keeps_two_in_flight(void)
{
    sim m;
    sim_init(&m, 2, 2, 1, 50, true, 7);
    xs_err e;
    for (int w = 0; w < 2; ++w)
        for (int i = 0; i < 2; ++i) {
            m.outstanding[w]++;
            CHECK(xs_sched_on_request(m.s, w, &e) == XS_OK);
        }
    sim_drain(&m);
    CHECK(m.held_n[0] == 2 && m.held_n[1] == 2);
    sim_free(&m);
}

static void test_protocol_violations(void)
{
    int fr[1] = {1};
    xs_sched_desc d = {.frames = fr, .frame_count = 1, .tiles_per_frame = 4, .worker_count = 2,
                       .prefetch = 1, .assemble = true};
    xs_sched *s = NULL;
    xs_err e;
    CHECK(xs_sched_create(&d, &s, &e) == XS_OK);
    CHECK(xs_sched_on_request(s, 5, &e) == XS_ERR_INVALID); /* unknown worker */
    CHECK(xs_sched_on_request(s, 0, &e) == XS_OK);
    CHECK(xs_sched_on_request(s, 0, &e) == XS_ERR_INVALID); /* beyond prefetch */
    xs_work_item bogus = {XS_WORK_TILE, 1, 3, 0, 0, 0};
    CHECK(xs_sched_on_done(s, 1, bogus, &e) == XS_ERR_INVALID); /* not held */
    CHECK(strstr(e.msg, "does not hold") != NULL);
    xs_sched_destroy(s);
    xs_sched_desc bad = d;
    bad.worker_count = 0;
    CHECK(xs_sched_create(&bad, &s, &e) == XS_ERR_INVALID);
}

/* The order of work: frame by frame, tiles row-major, assembly first. */
static void test_order(void)
{
    int fr[2] = {10, 11};
    xs_sched_desc d = {.frames = fr, .frame_count = 2, .tiles_per_frame = 2, .worker_count = 1,
                       .prefetch = 1, .assemble = true};
    xs_sched *s = NULL;
    xs_err e;
    CHECK(xs_sched_create(&d, &s, &e) == XS_OK);
    xs_sched_action a;
    const int expect[][3] = {{XS_WORK_TILE, 10, 0}, {XS_WORK_TILE, 10, 1}, {XS_WORK_ASSEMBLE, 10, -1},
                             {XS_WORK_TILE, 11, 0}, {XS_WORK_TILE, 11, 1}, {XS_WORK_ASSEMBLE, 11, -1}};
    CHECK(xs_sched_on_request(s, 0, &e) == XS_OK);
    for (int i = 0; i < 6; ++i) {
        CHECK(xs_sched_next_action(s, &a));
        CHECK(a.kind == XS_ACT_ASSIGN);
        CHECK_MSG(a.item.kind == expect[i][0] && a.item.frame == expect[i][1] &&
                      a.item.tile == expect[i][2],
                  "step %d got (%d, %d, %d)", i, a.item.kind, a.item.frame, a.item.tile);
        CHECK(xs_sched_on_done(s, 0, a.item, &e) == XS_OK);
        CHECK(xs_sched_on_request(s, 0, &e) == XS_OK);
    }
    CHECK(xs_sched_next_action(s, &a) && a.kind == XS_ACT_END);
    CHECK(xs_sched_get_state(s) == XS_SCHED_COMPLETED);
    xs_sched_destroy(s);
}

/* Resume: finished frames produce no item; journaled tiles come flagged for
 * verification; the job completes with every other tile rendered once. */
static void test_resume_skip_and_verify(void)
{
    int fr[3] = {1, 2, 3};
    uint8_t skip[3] = {0, 1, 0};
    uint8_t journaled[3 * 4] = {1, 0, 1, 0, /* frame 2 skipped */ 1, 1, 1, 1, 0, 0, 0, 1};
    xs_sched_desc d = {.frames = fr, .frame_count = 3, .tiles_per_frame = 4, .worker_count = 1,
                       .prefetch = 1, .assemble = true, .skip = skip, .journaled = journaled};
    xs_sched *s = NULL;
    xs_err e;
    CHECK(xs_sched_create(&d, &s, &e) == XS_OK);
    xs_sched_action a;
    int tiles = 0, verify = 0, assembled[4] = {0};
    CHECK(xs_sched_on_request(s, 0, &e) == XS_OK);
    while (xs_sched_next_action(s, &a) && a.kind == XS_ACT_ASSIGN) {
        CHECK(a.item.frame != 2);
        if (a.item.kind == XS_WORK_TILE) {
            tiles++;
            verify += (a.item.flags & XS_ITEM_VERIFY) != 0;
            CHECK(((a.item.flags & XS_ITEM_VERIFY) != 0) ==
                  (journaled[(a.item.frame - 1) * 4 + a.item.tile] != 0));
        } else {
            assembled[a.item.frame]++;
        }
        CHECK(xs_sched_on_done(s, 0, a.item, &e) == XS_OK);
        CHECK(xs_sched_on_request(s, 0, &e) == XS_OK);
    }
    CHECK(tiles == 8 && verify == 3 && assembled[1] == 1 && assembled[3] == 1 && assembled[2] == 0);
    CHECK(xs_sched_get_state(s) == XS_SCHED_COMPLETED);
    xs_sched_progress p;
    xs_sched_get_progress(s, &p);
    CHECK(p.tiles_total == 8 && p.frames_done == 3);
    xs_sched_destroy(s);
}

/* A small driver for explicit scenarios: requests all prefetch slots of each
 * worker, then lets the test pick who replies to what. */
typedef struct drv {
    xs_sched *s;
    xs_work_item held[8][8];
    int n[8], ends[8];
} drv;

static void drv_drain(drv *d)
{
    xs_sched_action a;
    while (xs_sched_next_action(d->s, &a)) {
        if (a.kind == XS_ACT_END)
            d->ends[a.worker]++;
        else
            d->held[a.worker][d->n[a.worker]++] = a.item;
    }
}

static xs_sched *drv_start(drv *d, int workers, int tiles, int retries)
{
    memset(d, 0, sizeof *d);
    static int fr[1] = {1};
    xs_sched_desc desc = {.frames = fr, .frame_count = 1, .tiles_per_frame = tiles,
                          .worker_count = workers, .prefetch = 1, .assemble = true,
                          .max_retries = retries};
    xs_err e;
    CHECK(xs_sched_create(&desc, &d->s, &e) == XS_OK);
    for (int w = 0; w < workers; ++w)
        CHECK(xs_sched_on_request(d->s, w, &e) == XS_OK);
    drv_drain(d);
    return d->s;
}

/* Worker w replies to its first held item (ok or failed) and asks again. */
static xs_work_item drv_reply(drv *d, int w, bool ok)
{
    xs_err e;
    xs_work_item it = d->held[w][0];
    d->held[w][0] = d->held[w][--d->n[w]];
    CHECK((ok ? xs_sched_on_done(d->s, w, it, &e) : xs_sched_on_failed(d->s, w, it, &e)) == XS_OK);
    CHECK(xs_sched_on_request(d->s, w, &e) == XS_OK);
    drv_drain(d);
    return it;
}

static void drv_finish(drv *d, int workers)
{
    for (int guard = 0; guard < 1000 && xs_sched_get_state(d->s) == XS_SCHED_RUNNING; ++guard)
        for (int w = 0; w < workers; ++w)
            if (d->n[w] > 0 && !xs_sched_is_silent(d->s, w))
                drv_reply(d, w, true);
}

/* A failed tile is retried on another worker, and the job completes. */
static void test_retry_on_other_worker(void)
{
    drv d;
    drv_start(&d, 2, 4, 2);
    xs_work_item failed = drv_reply(&d, 0, false);
    /* worker 0 must not get it back while worker 1 can take it */
    CHECK(!(d.held[0][0].tile == failed.tile && d.held[0][0].kind == failed.kind));
    drv_reply(&d, 1, true); /* worker 1 finishes its tile and takes the retry */
    CHECK_MSG(d.held[1][0].tile == failed.tile, "worker 1 holds tile %d, not %d", d.held[1][0].tile, failed.tile);
    drv_finish(&d, 2);
    CHECK(xs_sched_get_state(d.s) == XS_SCHED_COMPLETED);
    xs_sched_progress p;
    xs_sched_get_progress(d.s, &p);
    CHECK(p.retries == 1 && p.tiles_done == 4 && p.frames_done == 1);
    xs_sched_destroy(d.s);
}

/* A tile that fails every time ends the job after its retries, naming it and
 * the workers it failed on. */
static void test_retries_exhausted(void)
{
    drv d;
    drv_start(&d, 3, 1, 2);
    int w = 0, guard = 0;
    while (xs_sched_get_state(d.s) == XS_SCHED_RUNNING && guard++ < 20) {
        for (w = 0; w < 3 && d.n[w] == 0; ++w)
            ;
        if (w == 3)
            break;
        drv_reply(&d, w, false);
    }
    CHECK(xs_sched_get_state(d.s) == XS_SCHED_FAILED);
    xs_work_item it;
    int ws[16], n = 0;
    CHECK(xs_sched_failed_item(d.s, &it, ws, &n));
    CHECK(it.kind == XS_WORK_TILE && it.tile == 0 && n == 3);
    CHECK_MSG(ws[0] != ws[1] && ws[1] != ws[2], "failed on workers %d %d %d", ws[0], ws[1], ws[2]);
    xs_sched_destroy(d.s);
}

/* A silent worker's items go to the others; the job completes without it;
 * its late reply is accepted as a duplicate and counted once. */
static void test_silent_worker(void)
{
    drv d;
    drv_start(&d, 2, 3, 0);
    xs_work_item stuck = d.held[0][0];
    xs_err e;
    CHECK(xs_sched_on_silent(d.s, 0, &e) == XS_OK);
    CHECK(xs_sched_silent_count(d.s) == 1);
    drv_finish(&d, 2);
    CHECK(xs_sched_get_state(d.s) == XS_SCHED_COMPLETED);
    xs_sched_progress p;
    xs_sched_get_progress(d.s, &p);
    CHECK(p.tiles_done == 3 && p.reassigned == 1 && p.frames_done == 1);
    /* the silent worker wakes up and reports its stale copy */
    CHECK(xs_sched_on_done(d.s, 0, stuck, &e) == XS_OK);
    CHECK(xs_sched_last_was_duplicate(d.s));
    xs_sched_get_progress(d.s, &p);
    CHECK(p.tiles_done == 3);
    xs_sched_destroy(d.s);
}

static void test_all_silent_fails(void)
{
    drv d;
    drv_start(&d, 2, 3, 0);
    xs_err e;
    CHECK(xs_sched_on_silent(d.s, 0, &e) == XS_OK);
    CHECK(xs_sched_on_silent(d.s, 1, &e) == XS_OK);
    CHECK(xs_sched_get_state(d.s) == XS_SCHED_FAILED);
    xs_sched_destroy(d.s);
}

/* Drain: no new work after it; items in flight come back; DRAINED. */
static void test_drain(void)
{
    drv d;
    drv_start(&d, 2, 10, 0);
    xs_sched_drain(d.s);
    drv_reply(&d, 0, true);
    CHECK(d.n[0] == 0 && d.ends[0] == 1); /* answered with END, not a new tile */
    CHECK(xs_sched_get_state(d.s) == XS_SCHED_RUNNING); /* worker 1 still holds one */
    drv_reply(&d, 1, true);
    CHECK(xs_sched_get_state(d.s) == XS_SCHED_DRAINED);
    xs_sched_progress p;
    xs_sched_get_progress(d.s, &p);
    CHECK(p.tiles_done == 2 && p.assigned == 2);
    xs_sched_destroy(d.s);
}

/* Worker w reports its first held item lost (its device died) and asks
 * again, as the protocol has every reply do. */
static xs_work_item drv_lost(drv *d, int w)
{
    xs_err e;
    xs_work_item it = d->held[w][0];
    d->held[w][0] = d->held[w][--d->n[w]];
    CHECK(xs_sched_on_lost(d->s, w, it, &e) == XS_OK);
    CHECK(xs_sched_on_request(d->s, w, &e) == XS_OK);
    drv_drain(d);
    return it;
}

static xs_sched *drv_start_prefetch(drv *d, int workers, int tiles, int retries, const int *prefetch)
{
    memset(d, 0, sizeof *d);
    static int fr[1] = {1};
    xs_sched_desc desc = {.frames = fr, .frame_count = 1, .tiles_per_frame = tiles, .worker_count = workers,
                          .prefetch = 1, .worker_prefetch = prefetch, .assemble = true, .max_retries = retries};
    xs_err e;
    CHECK(xs_sched_create(&desc, &d->s, &e) == XS_OK);
    for (int w = 0; w < workers; ++w)
        for (int k = 0; k < prefetch[w]; ++k)
            CHECK(xs_sched_on_request(d->s, w, &e) == XS_OK);
    drv_drain(d);
    return d->s;
}

/* A worker whose device is lost is retired: no more work, END to each of
 * its requests at once, every item it held goes to the others without
 * counting as a failure (retries 0 would fail the job otherwise), and the
 * job completes without it. */
static void test_lost_worker_retired(void)
{
    drv d;
    const int pf[2] = {2, 2};
    drv_start_prefetch(&d, 2, 6, 0, pf);
    CHECK(d.n[0] == 2 && d.n[1] == 2);
    drv_lost(&d, 0);
    CHECK(xs_sched_is_retired(d.s, 0) && xs_sched_retired_count(d.s) == 1);
    CHECK_MSG(d.n[0] == 1 && d.ends[0] == 1, "retired worker: %d held, %d ends", d.n[0], d.ends[0]);
    drv_lost(&d, 0); /* its other item comes back the same way */
    CHECK(d.n[0] == 0 && d.ends[0] == 2);
    CHECK(xs_sched_get_state(d.s) == XS_SCHED_RUNNING);
    drv_finish(&d, 2);
    CHECK(xs_sched_get_state(d.s) == XS_SCHED_COMPLETED);
    CHECK(d.n[0] == 0); /* never assigned again */
    xs_sched_progress p;
    xs_sched_get_progress(d.s, &p);
    CHECK_MSG(p.retries == 0 && p.reassigned == 2 && p.tiles_done == 6 && p.frames_done == 1,
              "retries %lld, reassigned %lld, tiles %lld", (long long)p.retries, (long long)p.reassigned,
              (long long)p.tiles_done);
    CHECK(xs_sched_silent_count(d.s) == 0);
    xs_sched_destroy(d.s);
}

/* A retired worker's DONE for an item a writer finished after the loss still
 * counts (first copy); the copy that went to another worker is a duplicate. */
static void test_lost_late_done_counts(void)
{
    drv d;
    const int pf[2] = {2, 1};
    drv_start_prefetch(&d, 2, 4, 0, pf);
    xs_work_item kept = d.held[0][1];
    drv_lost(&d, 0); /* held[0][0] lost; kept requeued too */
    xs_err e;
    CHECK(d.n[0] == 1 && d.held[0][0].tile == kept.tile);
    d.n[0] = 0;
    CHECK(xs_sched_on_done(d.s, 0, kept, &e) == XS_OK);
    CHECK(!xs_sched_last_was_duplicate(d.s));
    CHECK(xs_sched_on_request(d.s, 0, &e) == XS_OK);
    drv_drain(&d);
    CHECK(d.n[0] == 0 && d.ends[0] == 2);
    drv_finish(&d, 2);
    CHECK(xs_sched_get_state(d.s) == XS_SCHED_COMPLETED);
    xs_sched_progress p;
    xs_sched_get_progress(d.s, &p);
    CHECK(p.tiles_done == 4 && p.frames_done == 1);
    xs_sched_destroy(d.s);
}

/* Every device lost: the job fails, and still answers every request. */
static void test_all_lost_fails(void)
{
    drv d;
    const int pf[2] = {1, 1};
    drv_start_prefetch(&d, 2, 5, 2, pf);
    drv_lost(&d, 0);
    CHECK(xs_sched_get_state(d.s) == XS_SCHED_RUNNING);
    drv_lost(&d, 1);
    CHECK(d.ends[0] == 1 && d.ends[1] == 1 && d.n[0] == 0 && d.n[1] == 0);
    CHECK(xs_sched_get_state(d.s) == XS_SCHED_FAILED);
    xs_sched_destroy(d.s);
}

/* Workers send different numbers of requests at start (a GPU worker more):
 * each is held to its own count. */
static void test_worker_prefetch(void)
{
    drv d;
    const int pf[2] = {3, 1};
    drv_start_prefetch(&d, 2, 8, 0, pf);
    CHECK(d.n[0] == 3 && d.n[1] == 1);
    xs_err e;
    CHECK(xs_sched_on_request(d.s, 1, &e) == XS_ERR_INVALID); /* past its 1 */
    drv_finish(&d, 2);
    CHECK(xs_sched_get_state(d.s) == XS_SCHED_COMPLETED);
    xs_sched_destroy(d.s);
    const int bad[2] = {2, 0};
    static int fr[1] = {1};
    xs_sched_desc desc = {.frames = fr, .frame_count = 1, .tiles_per_frame = 2, .worker_count = 2,
                          .prefetch = 2, .worker_prefetch = bad};
    xs_sched *s = NULL;
    CHECK(xs_sched_create(&desc, &s, &e) == XS_ERR_INVALID && s == NULL);
}

/* A simulated farm where some workers lose their device at random moments:
 * every job completes, no tile is counted twice, no retired worker gets work,
 * every request is answered. */
static void test_lost_random(void)
{
    for (int seed = 1; seed <= 40; ++seed) {
        sim m;
        sim_init(&m, 4, 3, 3, 7, true, (uint64_t)seed);
        xs_err e;
        int started[4] = {0}, lost_at[4], replies = 0;
        bool lost[4] = {false, false, false, false};
        for (int w = 0; w < 4; ++w) /* workers 0 and 1 lose their devices, at random replies */
            lost_at[w] = w < 2 ? (int)(sim_rand(&m) % 40) : -1;
        xs_sched_state st = XS_SCHED_RUNNING;
        for (int guard = 0; guard < 100000 && st == XS_SCHED_RUNNING; ++guard) {
            int held_before[4];
            for (int w = 0; w < 4; ++w)
                held_before[w] = m.held_n[w];
            sim_drain(&m);
            for (int w = 0; w < 4; ++w)
                CHECK_MSG(!lost[w] || m.held_n[w] <= held_before[w], "seed %d: retired worker %d got work", seed, w);
            st = xs_sched_get_state(m.s);
            if (st != XS_SCHED_RUNNING)
                break;
            int w = (int)(sim_rand(&m) % 4u);
            if (!started[w]) {
                started[w] = 1;
                for (int i = 0; i < m.prefetch; ++i) {
                    m.outstanding[w]++;
                    CHECK(xs_sched_on_request(m.s, w, &e) == XS_OK);
                }
                continue;
            }
            if (m.held_n[w] == 0)
                continue;
            if (!lost[w] && lost_at[w] >= 0 && replies >= lost_at[w])
                lost[w] = true;
            int k = (int)(sim_rand(&m) % (uint64_t)m.held_n[w]);
            xs_work_item it = m.held[w][k];
            m.held[w][k] = m.held[w][--m.held_n[w]];
            replies++;
            if (lost[w]) {
                CHECK(xs_sched_on_lost(m.s, w, it, &e) == XS_OK);
            } else {
                bool counted = !xs_sched_item_done(m.s, &it);
                CHECK(xs_sched_on_done(m.s, w, it, &e) == XS_OK);
                if (counted && it.kind == XS_WORK_TILE)
                    m.frame_tiles_done[it.frame - 1]++;
                else if (counted)
                    m.assembled[it.frame - 1]++;
            }
            m.outstanding[w]++;
            CHECK(xs_sched_on_request(m.s, w, &e) == XS_OK);
        }
        CHECK_MSG(st == XS_SCHED_COMPLETED, "seed %d: state %d", seed, (int)st);
        for (int f = 0; f < 3; ++f)
            CHECK(m.frame_tiles_done[f] == 7 && m.assembled[f] == 1);
        for (int w = 0; w < 4; ++w)
            CHECK_MSG(m.outstanding[w] == 0 && m.held_n[w] == 0, "seed %d: worker %d left waiting", seed, w);
        xs_sched_progress p;
        xs_sched_get_progress(m.s, &p);
        CHECK(p.tiles_done == 21 && p.retries == 0 && p.tiles_in_flight == 0);
        sim_free(&m);
    }
}

/* With frame affinity (an animated scene), a worker keeps to the frame it
 * holds (its scene is posed for it): a tile taken back from a silent
 * worker, of an earlier frame, waits until the frame in hand has no tile
 * left, and then goes to it; frame assemblies still go first. Without
 * affinity (a still scene) the taken-back tile goes first, as before. */
static void test_frame_affinity(void)
{
    drv d;
    memset(&d, 0, sizeof d);
    static int fr[2] = {1, 2};
    xs_sched_desc desc = {.frames = fr, .frame_count = 2, .tiles_per_frame = 2, .worker_count = 2,
                          .prefetch = 1, .assemble = true, .max_retries = 2, .frame_affinity = true};
    xs_err e;
    CHECK(xs_sched_create(&desc, &d.s, &e) == XS_OK);
    for (int w = 0; w < 2; ++w)
        CHECK(xs_sched_on_request(d.s, w, &e) == XS_OK);
    drv_drain(&d);
    CHECK(d.held[0][0].frame == 1 && d.held[0][0].tile == 0);
    CHECK(d.held[1][0].frame == 1 && d.held[1][0].tile == 1);
    drv_reply(&d, 1, true); /* worker 1 moves on to frame 2 */
    CHECK(d.n[1] == 1 && d.held[1][0].frame == 2 && d.held[1][0].tile == 0);
    CHECK(xs_sched_on_silent(d.s, 0, &e) == XS_OK); /* frame 1 tile 0 comes back */
    drv_reply(&d, 1, true);
    CHECK_MSG(d.n[1] == 1 && d.held[1][0].frame == 2 && d.held[1][0].tile == 1,
              "worker 1 got frame %d tile %d, not frame 2 tile 1", d.held[1][0].frame, d.held[1][0].tile);
    drv_reply(&d, 1, true); /* frame 2 is done: its assembly first, then frame 1's tile */
    CHECK(d.n[1] == 1 && d.held[1][0].kind == XS_WORK_ASSEMBLE && d.held[1][0].frame == 2);
    drv_reply(&d, 1, true);
    CHECK(d.n[1] == 1 && d.held[1][0].kind == XS_WORK_TILE && d.held[1][0].frame == 1 && d.held[1][0].tile == 0);
    drv_finish(&d, 2);
    CHECK(xs_sched_get_state(d.s) == XS_SCHED_COMPLETED);
    xs_sched_destroy(d.s);

    memset(&d, 0, sizeof d);
    desc.frame_affinity = false;
    CHECK(xs_sched_create(&desc, &d.s, &e) == XS_OK);
    for (int w = 0; w < 2; ++w)
        CHECK(xs_sched_on_request(d.s, w, &e) == XS_OK);
    drv_drain(&d);
    drv_reply(&d, 1, true);
    CHECK(d.n[1] == 1 && d.held[1][0].frame == 2 && d.held[1][0].tile == 0);
    CHECK(xs_sched_on_silent(d.s, 0, &e) == XS_OK);
    drv_reply(&d, 1, true);
    CHECK_MSG(d.n[1] == 1 && d.held[1][0].frame == 1 && d.held[1][0].tile == 0,
              "without affinity worker 1 got frame %d tile %d, not the taken-back frame 1 tile 0",
              d.held[1][0].frame, d.held[1][0].tile);
    drv_finish(&d, 2);
    CHECK(xs_sched_get_state(d.s) == XS_SCHED_COMPLETED);
    xs_sched_destroy(d.s);
}

/* The test hooks of tests/parts.sh (desc.test_split, desc.test_copy), over
 * a farm whose workers reply to their oldest item: every item is recorded,
 * and the checks are on what was assigned. */
typedef struct hook_run {
    int parts[2][8];    /* per (frame, tile): PART items assigned */
    uint32_t cut[2][8]; /* a bit per chunk_first seen */
    int merges[2][8], tiles[2][8], copies, assemblies, dups;
    bool merge_early;   /* a MERGE went out before its parts were done */
    int parts_done[2][8];
    xs_sched_progress p;
} hook_run;

static xs_sched_state hook_farm(int workers, int test_split, bool test_copy, hook_run *h)
{
    int fr[2] = {1, 2};
    const int T = 8, C = 5, prefetch = 2;
    xs_sched_desc d = {.frames = fr, .frame_count = 2, .tiles_per_frame = T, .worker_count = workers,
                       .prefetch = prefetch, .assemble = true, .max_retries = 1, .chunks_per_tile = C,
                       .test_split = test_split, .test_copy = test_copy};
    memset(h, 0, sizeof *h);
    xs_sched *s = NULL;
    xs_err e;
    CHECK(xs_sched_create(&d, &s, &e) == XS_OK);
    xs_work_item held[4][16];
    int n[4] = {0};
    for (int w = 0; w < workers; ++w)
        for (int i = 0; i < prefetch; ++i)
            CHECK(xs_sched_on_request(s, w, &e) == XS_OK);
    for (int step = 0; step < 100000 && xs_sched_get_state(s) == XS_SCHED_RUNNING; ++step) {
        xs_sched_action a;
        while (xs_sched_next_action(s, &a)) {
            if (a.kind != XS_ACT_ASSIGN)
                continue;
            const xs_work_item *it = &a.item;
            int fi = it->frame - 1;
            if (it->flags & XS_ITEM_COPY)
                h->copies++;
            else if (it->kind == XS_WORK_PART) {
                h->parts[fi][it->tile]++;
                h->cut[fi][it->tile] |= 1u << it->chunk_first;
            } else if (it->kind == XS_WORK_MERGE) {
                h->merges[fi][it->tile]++;
                h->merge_early |= h->parts_done[fi][it->tile] != test_split || it->chunk_first != test_split ||
                                  it->chunk_count != C;
            } else if (it->kind == XS_WORK_TILE) {
                h->tiles[fi][it->tile]++;
            } else {
                h->assemblies++;
            }
            CHECK(n[a.worker] < 16);
            held[a.worker][n[a.worker]++] = *it;
        }
        int w = step % workers;
        if (n[w] == 0)
            continue;
        xs_work_item it = held[w][0];
        memmove(held[w], held[w] + 1, (size_t)--n[w] * sizeof held[w][0]);
        CHECK(xs_sched_on_done(s, w, it, &e) == XS_OK);
        if (xs_sched_last_was_duplicate(s))
            h->dups++;
        else if (it.kind == XS_WORK_PART)
            h->parts_done[it.frame - 1][it.tile]++;
        CHECK(xs_sched_on_request(s, w, &e) == XS_OK);
    }
    xs_sched_state st = xs_sched_get_state(s);
    xs_sched_get_progress(s, &h->p);
    xs_sched_destroy(s);
    return st;
}

static void test_hook_split(void)
{
    for (int workers = 1; workers <= 3; workers += 2) {
        hook_run h;
        CHECK(hook_farm(workers, 3, false, &h) == XS_SCHED_COMPLETED);
        /* 5 chunks in 3 parts as the policy cuts: [0, 1), [1, 3), [3, 5) */
        for (int f = 0; f < 2; ++f)
            for (int t = 0; t < 8; ++t)
                CHECK_MSG(h.tiles[f][t] == 0 && h.parts[f][t] == 3 && h.cut[f][t] == 0x0Bu && h.merges[f][t] == 1,
                          "%d worker(s): frame %d tile %d: %d tile, %d parts (cut 0x%x), %d merges", workers, f + 1,
                          t, h.tiles[f][t], h.parts[f][t], (unsigned)h.cut[f][t], h.merges[f][t]);
        CHECK(!h.merge_early && h.assemblies == 2 && h.copies == 0);
        CHECK(h.p.splits == 16 && h.p.tiles_done == 16);
    }
    /* more parts than chunks: one part a chunk */
    hook_run h;
    CHECK(hook_farm(2, 9, false, &h) == XS_SCHED_COMPLETED);
    CHECK(h.parts[0][0] == 5 && h.cut[0][0] == 0x1Fu);
}

static void test_hook_copy(void)
{
    hook_run h;
    CHECK(hook_farm(3, 0, true, &h) == XS_SCHED_COMPLETED);
    printf("3 workers: %d copies, %d duplicate replies\n", h.copies, h.dups);
    CHECK(h.copies > 0 && h.dups == h.copies && h.p.duplicates >= h.copies && h.p.tiles_done == 16);
    for (int f = 0; f < 2; ++f)
        for (int t = 0; t < 8; ++t)
            CHECK(h.tiles[f][t] == 1);
    /* one worker: no other to copy to */
    CHECK(hook_farm(1, 0, true, &h) == XS_SCHED_COMPLETED);
    CHECK(h.copies == 0 && h.dups == 0);
    /* both: parts are copied too */
    CHECK(hook_farm(3, 3, true, &h) == XS_SCHED_COMPLETED);
    CHECK(h.copies > 0 && h.p.splits == 16 && !h.merge_early);
}

/* Large jobs cost a bit per tile: a million tiles in one frame. */
static void test_large_job(void) { run_case(8, 2, 1, 1000000, true, 1); }

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"non_multiple_grid", test_non_multiple_grid},
        {"multiple_grid", test_multiple_grid},
        {"frame_affinity", test_frame_affinity},
        {"one_tile_frames", test_one_tile_frames},
        {"more_workers_than_tiles", test_more_workers_than_tiles},
        {"single_worker", test_single_worker},
        {"deep_prefetch", test_deep_prefetch},
        {"no_assembly", test_no_assembly},
        {"failure_ends_job", test_failure_ends_job},
        {"prefetch_keeps_two_in_flight", test_prefetch_keeps_two_in_flight},
        {"protocol_violations", test_protocol_violations},
        {"order", test_order},
        {"large_job", test_large_job},
        {"resume_skip_and_verify", test_resume_skip_and_verify},
        {"retry_on_other_worker", test_retry_on_other_worker},
        {"retries_exhausted", test_retries_exhausted},
        {"silent_worker", test_silent_worker},
        {"all_silent_fails", test_all_silent_fails},
        {"drain", test_drain},
        {"lost_worker_retired", test_lost_worker_retired},
        {"lost_late_done_counts", test_lost_late_done_counts},
        {"all_lost_fails", test_all_lost_fails},
        {"worker_prefetch", test_worker_prefetch},
        {"lost_random", test_lost_random},
        {"hook_split", test_hook_split},
        {"hook_copy", test_hook_copy},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
