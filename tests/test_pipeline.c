/* The worker's pipeline (scheduler/worker.c) with writer threads, driven
 * without MPI over the stand-in back end (tiles come back at once: what is
 * tested is everything around the device).
 *
 * same_files_any_writers: 0 (inline), 1 and 3 writer threads write the same
 *   tile and frame bytes, and report each tile's checksum of its pixels.
 * done_after_durable: a tile's or frame's result comes out only once its
 *   file is in place under its final name (rank 0 journals on that result).
 * lost_device: a device lost at the 3rd tile: that tile and every later
 *   item (queued, or pushed afterwards) fail with XS_ERR_DEVICE and
 *   XS_REPORT_LOST; tiles already at the writers are written and DONE.
 * write_failure: a tile whose file cannot be written fails (an I/O error,
 *   not a lost device) and the next tiles are written.
 * verify: an earlier run's tile with the right checksum is kept without
 *   touching the device; with a wrong one it is rendered again.
 * animated_frames: an animated scene: tiles of frames 1, 1, 1, 2, 2, 1 on a
 *   4-slot device: the scene is posed (and the back end updated) only with
 *   no tile on the device, every tile begins with the scene posed for its
 *   frame, three frame changes in all, each reported by the tile that
 *   needed it (scene_frames, scene_s). */
#include "render/xs_backend.h"
#include "scheduler/xs_protocol.h"
#include "scheduler/xs_worker.h"
#include "test_util.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "gltf_build.h"
#include "io/xs_file.h"
#include "io/xs_gltf.h"

enum { W = 256, H = 192, T = 64, TILES = 12 };

static float template_px[T * T * 4];

typedef struct fixture {
    xs_options opt;
    xs_job job;
    xs_worker w;
} fixture;

static void fixture_init(fixture *f, const char *name, int writers, int slots, int lose_at)
{
    memset(f, 0, sizeof *f);
    uint64_t r = 88172645463325252ull;
    for (size_t i = 0; i < sizeof template_px / sizeof template_px[0]; ++i) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        template_px[i] = (float)(r >> 40) * 0x1p-24f;
    }
    xs_options *o = &f->opt;
    xs_options_defaults(o);
    o->render.width = W, o->render.height = H, o->render.tile = T;
    o->preview = false;
    snprintf(o->out_dir, sizeof o->out_dir, "%s/pipeline-%s", getenv("XS_TEST_TMP") ? getenv("XS_TEST_TMP") : "/tmp",
             name);
    char cmd[XS_PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", o->out_dir);
    CHECK(system(cmd) == 0);
    snprintf(o->job, sizeof o->job, "j");
    snprintf(o->name, sizeof o->name, "f");
    xs_err e;
    CHECK(xs_job_init(&f->job, o, 1, &e) == XS_OK);
    xs_backend *b = NULL;
    CHECK(xs_backend_standin_create(template_px, T, 4, slots, lose_at, &b, &e) == XS_OK);
    CHECK_MSG(xs_worker_init_backend(&f->w, &f->job, 1, b, writers, &e) == XS_OK, "%s", e.msg);
}

static xs_work_item tile_item(int frame, int tile) { return (xs_work_item){XS_WORK_TILE, frame, tile, 0, 0, 0}; }

/* Pushes n items and pumps until n results; check (optional) runs on each
 * result as it comes out. */
static void run(fixture *f, const xs_work_item *items, const uint64_t *expect, int n, xs_worker_result *res,
                void (*check)(fixture *, const xs_worker_result *))
{
    xs_err e;
    for (int i = 0; i < n; ++i)
        CHECK(xs_worker_push(&f->w, &items[i], expect ? expect[i] : 0, &e) == XS_OK);
    int got = 0, idle = 0;
    for (int guard = 0; got < n && guard < 10000000; ++guard) {
        bool progress = false;
        int k = xs_worker_pump(&f->w, res + got, n - got, &progress);
        for (int i = 0; i < k && check; ++i)
            check(f, &res[got + i]);
        got += k;
        if (progress)
            idle = 0;
        else
            xs_backoff(&idle);
    }
    CHECK_MSG(got == n, "%d of %d results", got, n);
    CHECK(xs_worker_held(&f->w) == 0);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    unsigned char *b = NULL;
    xs_err e;
    return xs_file_read_all(path, 1u << 26, &b, len, &e) == XS_OK ? b : NULL;
}

static void all_items(xs_work_item *items)
{
    for (int t = 0; t < TILES; ++t)
        items[t] = tile_item(1, t);
}

static void same_files_any_writers(void)
{
    unsigned char *ref_frame = NULL, *ref_tile[TILES] = {0};
    size_t ref_frame_len = 0, ref_tile_len[TILES] = {0};
    const int writers[] = {0, 1, 3};
    for (int k = 0; k < 3; ++k) {
        fixture f;
        char name[32];
        snprintf(name, sizeof name, "same%d", writers[k]);
        fixture_init(&f, name, writers[k], 4, 0);
        xs_work_item items[TILES];
        xs_worker_result res[TILES];
        all_items(items);
        run(&f, items, NULL, TILES, res, NULL);
        for (int i = 0; i < TILES; ++i) {
            CHECK_MSG(res[i].r == XS_OK, "%s", res[i].text);
            /* the checksum is of the tile's own pixels (the stand-in's for its rectangle) */
            xs_backend *b = NULL;
            xs_err e;
            CHECK(xs_backend_standin_create(template_px, T, 4, 1, 0, &b, &e) == XS_OK);
            xs_tile_params tp = xs_render_tile_params(&f.opt.render, 1);
            xs_film_tile_rect(&f.job.film, res[i].item.tile, &tp.x0, &tp.y0, &tp.width, &tp.height);
            static float px[T * T * 4];
            xs_counters c;
            memset(&c, 0, sizeof c);
            CHECK(xs_backend_render_tile(b, &tp, px, &c, &e) == XS_OK);
            CHECK(res[i].rep.hash == XXH3_64bits(px, (size_t)tp.width * (size_t)tp.height * 4 * sizeof(float)));
            xs_backend_destroy(b);
        }
        xs_work_item asm_item = {XS_WORK_ASSEMBLE, 1, -1, 0, 0, 0};
        xs_worker_result ar;
        run(&f, &asm_item, NULL, 1, &ar, NULL);
        CHECK_MSG(ar.r == XS_OK, "%s", ar.text);
        char path[XS_PATH_MAX];
        xs_err e;
        CHECK(xs_job_frame_path(&f.job.layout, 1, "exr", path, sizeof path, &e) == XS_OK);
        size_t len = 0;
        unsigned char *frame = slurp(path, &len);
        CHECK(frame != NULL);
        for (int t = 0; t < TILES; ++t) {
            CHECK(xs_job_tile_path(&f.job.layout, 1, t, path, sizeof path, &e) == XS_OK);
            size_t tl = 0;
            unsigned char *tb = slurp(path, &tl);
            CHECK(tb != NULL);
            if (k == 0) {
                ref_tile[t] = tb, ref_tile_len[t] = tl;
            } else {
                CHECK_MSG(tb && tl == ref_tile_len[t] && memcmp(tb, ref_tile[t], tl) == 0,
                          "%d writer(s): tile %d differs from the inline write", writers[k], t);
                free(tb);
            }
        }
        if (k == 0) {
            ref_frame = frame, ref_frame_len = len;
        } else {
            CHECK_MSG(frame && len == ref_frame_len && memcmp(frame, ref_frame, len) == 0,
                      "%d writer(s): the frame differs from the inline write", writers[k]);
            free(frame);
        }
        printf("%d writer(s): %d tiles and the frame (%zu bytes)\n", writers[k], TILES, len);
        xs_worker_free(&f.w);
    }
    free(ref_frame);
    for (int t = 0; t < TILES; ++t)
        free(ref_tile[t]);
}

static int durable_checked;

static void check_durable(fixture *f, const xs_worker_result *r)
{
    char path[XS_PATH_MAX];
    xs_err e;
    if (r->item.kind == XS_WORK_TILE)
        CHECK(xs_job_tile_path(&f->job.layout, r->item.frame, r->item.tile, path, sizeof path, &e) == XS_OK);
    else
        CHECK(xs_job_frame_path(&f->job.layout, r->item.frame, "exr", path, sizeof path, &e) == XS_OK);
    struct stat st;
    CHECK_MSG(r->r == XS_OK && stat(path, &st) == 0 && st.st_size > 0, "result for %s before its file", path);
    durable_checked++;
}

static void done_after_durable(void)
{
    fixture f;
    fixture_init(&f, "durable", 4, 8, 0);
    xs_work_item items[TILES + 1];
    xs_worker_result res[TILES + 1];
    all_items(items);
    durable_checked = 0;
    run(&f, items, NULL, TILES, res, check_durable);
    items[TILES] = (xs_work_item){XS_WORK_ASSEMBLE, 1, -1, 0, 0, 0};
    run(&f, &items[TILES], NULL, 1, &res[TILES], check_durable);
    CHECK(durable_checked == TILES + 1);
    /* no temporary file is left */
    char dir[XS_PATH_MAX], cmd[XS_PATH_MAX + 64];
    xs_err e;
    CHECK(xs_job_tile_dir(&f.job.layout, 1, dir, sizeof dir, &e) == XS_OK);
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s' | grep tmp)\"", dir);
    CHECK(system(cmd) == 0);
    xs_worker_free(&f.w);
}

static void lost_device(void)
{
    fixture f;
    fixture_init(&f, "lost", 2, 2, 3);
    xs_work_item items[8];
    xs_worker_result res[8];
    for (int t = 0; t < 8; ++t)
        items[t] = tile_item(1, t);
    run(&f, items, NULL, 8, res, NULL);
    int done = 0, lost = 0;
    for (int i = 0; i < 8; ++i) {
        if (res[i].r == XS_OK) {
            done++;
            CHECK(res[i].item.tile < 2);
        } else {
            lost++;
            CHECK(res[i].r == XS_ERR_DEVICE && (res[i].rep.flags & XS_REPORT_LOST));
            CHECK(strstr(res[i].text, "injected device loss") != NULL);
        }
    }
    CHECK_MSG(done == 2 && lost == 6, "%d done, %d lost", done, lost);
    CHECK(xs_worker_lost(&f.w));
    /* items given after the loss fail at once, assemblies too */
    xs_work_item later[2] = {tile_item(1, 9), {XS_WORK_ASSEMBLE, 1, -1, 0, 0, 0}};
    run(&f, later, NULL, 2, res, NULL);
    CHECK(res[0].r == XS_ERR_DEVICE && (res[0].rep.flags & XS_REPORT_LOST));
    CHECK(res[1].r == XS_ERR_DEVICE && (res[1].rep.flags & XS_REPORT_LOST));
    xs_worker_free(&f.w);
}

static void write_failure(void)
{
    fixture f;
    fixture_init(&f, "wfail", 2, 2, 0);
    /* tile 1's final name is taken by a folder: its rename fails */
    char path[XS_PATH_MAX];
    xs_err e;
    CHECK(xs_job_tile_path(&f.job.layout, 1, 1, path, sizeof path, &e) == XS_OK);
    CHECK(xs_mkdir_p(path, &e) == XS_OK);
    char inner[XS_PATH_MAX + 8];
    snprintf(inner, sizeof inner, "%s/x", path);
    FILE *fp = fopen(inner, "w"); /* not empty: rename onto it fails */
    CHECK(fp != NULL);
    if (fp)
        fclose(fp);
    xs_work_item items[4];
    xs_worker_result res[4];
    for (int t = 0; t < 4; ++t)
        items[t] = tile_item(1, t);
    run(&f, items, NULL, 4, res, NULL);
    for (int i = 0; i < 4; ++i) {
        if (res[i].item.tile == 1) {
            printf("tile 1: %s\n", res[i].text);
            CHECK(res[i].r == XS_ERR_IO && !(res[i].rep.flags & XS_REPORT_LOST));
        } else {
            CHECK_MSG(res[i].r == XS_OK, "tile %d: %s", res[i].item.tile, res[i].text);
        }
    }
    CHECK(!xs_worker_lost(&f.w));
    xs_worker_free(&f.w);
}

static void verify(void)
{
    fixture f;
    fixture_init(&f, "verify", 2, 2, 0);
    xs_work_item items[2] = {tile_item(1, 0), tile_item(1, 5)};
    xs_worker_result res[2];
    run(&f, items, NULL, 2, res, NULL);
    uint64_t hash[2] = {res[0].item.tile == 0 ? res[0].rep.hash : res[1].rep.hash,
                        res[0].item.tile == 5 ? res[0].rep.hash : res[1].rep.hash};
    xs_worker_free(&f.w);
    /* a second run over the same folder, on a device that is lost at its
     * first tile: kept tiles never reach it */
    xs_backend *b = NULL;
    xs_err e;
    CHECK(xs_backend_standin_create(template_px, T, 4, 2, 1, &b, &e) == XS_OK);
    CHECK(xs_worker_init_backend(&f.w, &f.job, 1, b, 2, &e) == XS_OK);
    items[0].flags = items[1].flags = XS_ITEM_VERIFY;
    run(&f, items, hash, 2, res, NULL);
    for (int i = 0; i < 2; ++i)
        CHECK_MSG(res[i].r == XS_OK && res[i].rep.kept == 1, "tile %d: %s", res[i].item.tile, res[i].text);
    CHECK(!xs_worker_lost(&f.w));
    xs_worker_free(&f.w);
    /* a wrong checksum: rendered again, and the new file's checksum reported */
    CHECK(xs_backend_standin_create(template_px, T, 4, 2, 0, &b, &e) == XS_OK);
    CHECK(xs_worker_init_backend(&f.w, &f.job, 1, b, 2, &e) == XS_OK);
    uint64_t wrong[1] = {hash[0] ^ 1u};
    run(&f, items, wrong, 1, res, NULL);
    CHECK(res[0].r == XS_OK && res[0].rep.kept == 0 && res[0].rep.hash == hash[0]);
    xs_worker_free(&f.w);
}

/* The stand-in's calls, watched: how many tiles are on the device when the
 * scene changes frame, and the frame the scene shows when a tile begins. */
static struct {
    xs_result (*begin)(xs_backend *, int, const xs_tile_params *, xs_err *);
    xs_result (*end)(xs_backend *, int, float *, xs_counters *, double *, xs_err *);
    const xs_worker *w;
    int on_device, most_on_device, updates, updates_busy, begins, begins_unposed;
} watch;

static xs_result watch_begin(xs_backend *b, int slot, const xs_tile_params *tp, xs_err *err)
{
    xs_result r = watch.begin(b, slot, tp, err);
    if (r == XS_OK) {
        watch.begins++;
        watch.begins_unposed += watch.w->scene_frame != (int)tp->frame;
        if (++watch.on_device > watch.most_on_device)
            watch.most_on_device = watch.on_device;
    }
    return r;
}

static xs_result watch_end(xs_backend *b, int slot, float *rgba, xs_counters *c, double *k, xs_err *err)
{
    watch.on_device--;
    return watch.end(b, slot, rgba, c, k, err);
}

static xs_result watch_update(xs_backend *b, const xs_scene *scene, xs_err *err)
{
    (void)b, (void)scene, (void)err;
    watch.updates++;
    watch.updates_busy += watch.on_device > 0;
    return XS_OK;
}

/* A triangle that moves along x over a second. */
static xs_scene *moving_scene(void)
{
    gltf_b *b = calloc(1, sizeof *b);
    float p[9] = {0, 0, 0, 1, 0, 0, 0, 1, 0}, t[2] = {0, 1}, x[6] = {0, 0, 0, 3, 0, 0};
    int pa = gb_f(b, p, 3, 3), ta = gb_f(b, t, 2, 1), xa = gb_f(b, x, 2, 3);
    char *doc = gb_doc(b,
                       "\"scenes\":[{\"nodes\":[0]}],\"nodes\":[{\"mesh\":0}],"
                       "\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":%d}}]}],"
                       "\"animations\":[{\"samplers\":[{\"input\":%d,\"output\":%d}],"
                       "\"channels\":[{\"sampler\":0,\"target\":{\"node\":0,\"path\":\"translation\"}}]}]",
                       pa, ta, xa);
    xs_err e;
    xs_gltf_scene *g = NULL;
    CHECK_MSG(xs_gltf_load("moving.gltf", (const unsigned char *)doc, strlen(doc), NULL, NULL, NULL, &g, &e) == XS_OK,
              "%s", e.msg);
    xs_scene *s = NULL;
    if (g) {
        xs_scene_setup su;
        memset(&su, 0, sizeof su);
        su.name = "moving";
        su.env_strength = 1.0f;
        su.build.threads = 1;
        CHECK_MSG(xs_scene_from_gltf(g, &su, &s, &e) == XS_OK, "%s", e.msg);
    }
    xs_gltf_destroy(g);
    free(doc);
    free(b);
    return s;
}

static void animated_frames(void)
{
    fixture f;
    fixture_init(&f, "animated", 2, 4, 0);
    f.w.scene = moving_scene(); /* the worker owns it from here */
    if (!f.w.scene) {
        xs_worker_free(&f.w);
        return;
    }
    CHECK(xs_scene_animated(f.w.scene));
    memset(&watch, 0, sizeof watch);
    watch.w = &f.w;
    xs_backend *b = f.w.backend;
    watch.begin = b->begin_tile, watch.end = b->end_tile;
    b->begin_tile = watch_begin, b->end_tile = watch_end, b->update = watch_update;
    const int frames[6] = {1, 1, 1, 2, 2, 1};
    xs_work_item items[6];
    xs_worker_result res[6];
    for (int i = 0; i < 6; ++i)
        items[i] = tile_item(frames[i], i);
    run(&f, items, NULL, 6, res, NULL);
    int changes = 0;
    for (int i = 0; i < 6; ++i) {
        CHECK_MSG(res[i].r == XS_OK, "tile %d: %s", res[i].item.tile, res[i].text);
        changes += res[i].rep.scene_frames;
        CHECK(res[i].rep.scene_frames == 0 || res[i].rep.scene_s > 0.0);
    }
    printf("%d begins, %d frame changes, at most %d tiles on the device\n", watch.begins, watch.updates,
           watch.most_on_device);
    CHECK_MSG(watch.updates == 3 && changes == 3, "%d updates, %d reported frame changes (want 3: 1, 2, 1)",
              watch.updates, changes);
    CHECK_MSG(watch.updates_busy == 0, "%d update(s) with tiles on the device", watch.updates_busy);
    CHECK_MSG(watch.begins == 6 && watch.begins_unposed == 0, "%d of %d tiles began with the scene at another frame",
              watch.begins_unposed, watch.begins);
    CHECK(watch.most_on_device == 3); /* frame 1's first three together: slots still fill within a frame */
    CHECK(f.w.scene_frame == 1 && f.w.frame_stats.frames == 3);
    xs_worker_free(&f.w);
}

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"same_files_any_writers", same_files_any_writers},
        {"done_after_durable", done_after_durable},
        {"lost_device", lost_device},
        {"write_failure", write_failure},
        {"verify", verify},
        {"animated_frames", animated_frames},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
