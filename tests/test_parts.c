/* Sample splits: a tile's samples rendered as parts of its 16-sample chunks
 * and merged must give the whole tile's pixel records and file bit for bit.
 *
 * records: the CPU back end on the built-in Cornell box renders a tile
 *   whole and as parts (2, 3 and C parts as the policy cuts them, and uneven
 *   hand-made cuts), at spp 40, 64 and 100 (last chunk short or not), with no
 *   AOVs and with every AOV; xs_parts_merge gives the whole tile's records
 *   byte for byte, with the wavefront integrator (the default) and with the
 *   megakernel, whose whole tiles are the wavefront's bytes too.
 * files: the worker's pipeline (0 and 2 writers): PART items write part
 *   files, a MERGE item writes the tile; its EXR bytes and checksum equal
 *   those of a TILE item; the parts' samples add up to the tile's, the merge
 *   reports none; the part files are gone after the merge.
 * merge_errors: a MERGE whose part is missing, damaged, or another tile's
 *   fails with a message naming the file, the field and the reason, writes
 *   no tile and leaves the other parts in place for a retry.
 * file_format: part files round-trip raw and zstd-compressed; the reader
 *   refuses a short file, a wrong magic, version or header checksum, each
 *   field that differs from the merge's expectation, a wrong stored size and
 *   a damaged payload, each with its own message.
 * no_parts_backend: a back end without parts (the stand-in, like the CUDA
 *   back end today) makes xs_worker_parts false, and a PART sent to it
 *   anyway fails with a clear message.
 * cleanup: the start of a job removes temporaries and part files; the end
 *   of a run that split tiles removes part files only, and a tile folder
 *   that leaves empty. */
#include "io/xs_file.h"
#include "kernels/cpu/kernel_cpu.h"
#include "io/xs_partials.h"
#include "render/xs_backend.h"
#include "render/xs_film.h"
#include "render/xs_parts.h"
#include "render/xs_scene.h"
#include "scheduler/xs_protocol.h"
#include "scheduler/xs_worker.h"
#include "test_util.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

static const uint32_t ALL_AOVS = XS_AOV_ALBEDO | XS_AOV_NORMAL | XS_AOV_DEPTH | XS_AOV_SAMPLES;

static xs_scene *cornell(void)
{
    xs_scene *s = NULL;
    xs_scene_build b = {.threads = 0};
    xs_err e;
    CHECK_MSG(xs_scene_builtin("cornell", &b, &s, &e) == XS_OK, "%s", e.msg);
    return s;
}

/* ---- records ------------------------------------------------------------------------ */

/* A part of tp's tile: chunks [first, first + count), rendered by be. */
static float *render_part(xs_backend *be, const xs_tile_params *tp, int first, int count)
{
    float *buf = malloc(xs_parts_record_floats(tp->width, tp->height, count, tp->aovs) * sizeof(float));
    xs_counters c = {0};
    double ks = 0.0;
    xs_err e;
    CHECK_MSG(xs_backend_begin_part(be, 0, tp, first, count, &e) == XS_OK, "%s", e.msg);
    CHECK_MSG(xs_backend_end(be, 0, buf, &c, &ks, &e) == XS_OK, "%s", e.msg);
    const int samples = xs_parts_samples(tp->spp, first, count);
    CHECK_MSG(c.camera_rays == (uint64_t)tp->width * (uint64_t)tp->height * (uint64_t)samples,
              "part [%d, +%d): %llu camera rays for %d samples a pixel", first, count,
              (unsigned long long)c.camera_rays, samples);
    return buf;
}

/* Merges a cut (bounds[0] = 0 < bounds[1] < ... < bounds[n] = C) and
 * compares with whole. */
static void check_cut(xs_backend *be, const xs_tile_params *tp, const float *whole, const int *bounds, int n)
{
    float *parts[64];
    int counts[64];
    for (int j = 0; j < n; ++j) {
        counts[j] = bounds[j + 1] - bounds[j];
        parts[j] = render_part(be, tp, bounds[j], counts[j]);
    }
    const size_t bytes = (size_t)tp->width * (size_t)tp->height * (size_t)xs_aov_channels(tp->aovs) * sizeof(float);
    float *merged = malloc(bytes);
    xs_parts_merge(tp, (const float *const *)parts, counts, n, merged);
    char cut[256] = "";
    for (int j = 0, o = 0; j <= n && o < 240; ++j)
        o += snprintf(cut + o, sizeof cut - (size_t)o, "%s%d", j ? "," : "", bounds[j]);
    CHECK_MSG(memcmp(merged, whole, bytes) == 0, "spp %d aovs 0x%x: the cut %s merged differs from the whole tile",
              tp->spp, (unsigned)tp->aovs, cut);
    free(merged);
    for (int j = 0; j < n; ++j)
        free(parts[j]);
}

static void test_records(void)
{
    xs_scene *s = cornell();
    const int W = 48, H = 36;
    const int spps[3] = {40, 64, 100};
    const uint32_t aovs[2] = {0, ALL_AOVS};
    float *wf_whole[6] = {NULL};
    int cuts = 0;
    for (int integ = 0; integ < 2; ++integ) {
        const xs_cpu_options opt = {.integrator = integ == 0 ? XS_INTEGRATOR_WAVEFRONT : XS_INTEGRATOR_MEGAKERNEL, .isa = XS_CPU_ISA_AUTO};
        xs_backend *be = NULL;
        xs_err e;
        CHECK(xs_backend_cpu_create_with(s, W, H, 2, &opt, &be, &e) == XS_OK);
        CHECK(xs_backend_parts(be));
        for (int si = 0; si < 3; ++si)
            for (int ai = 0; ai < 2; ++ai) {
                xs_tile_params tp = xs_tile_params_frame(W, H, spps[si], 4);
                tp.seed = 11;
                tp.frame = 3;
                tp.aovs = aovs[ai];
                tp.x0 = 20, tp.y0 = 14, tp.width = 13, tp.height = 9; /* the box's edge and wall */
                const int C = xs_parts_chunks(tp.spp);
                CHECK(C == (spps[si] + 15) / 16);
                float *whole = malloc((size_t)tp.width * tp.height * (size_t)xs_aov_channels(tp.aovs) * sizeof(float));
                xs_counters c = {0};
                CHECK(xs_backend_render_tile(be, &tp, whole, &c, &e) == XS_OK);
                const size_t wbytes = (size_t)tp.width * tp.height * (size_t)xs_aov_channels(tp.aovs) * sizeof(float);
                if (integ == 0) {
                    wf_whole[si * 2 + ai] = malloc(wbytes);
                    memcpy(wf_whole[si * 2 + ai], whole, wbytes);
                } else {
                    CHECK_MSG(memcmp(whole, wf_whole[si * 2 + ai], wbytes) == 0,
                              "spp %d aovs 0x%x: the megakernel's whole tile is not the wavefront's", tp.spp,
                              (unsigned)tp.aovs);
                    free(wf_whole[si * 2 + ai]);
                }
                /* as the policy cuts: P = 1 (the whole as one part), 2, 3 and C */
                const int ps[4] = {1, 2, 3, C};
                for (int k = 0; k < 4; ++k) {
                    int P = ps[k] < C ? ps[k] : C, b[65];
                    for (int j = 0; j <= P; ++j)
                        b[j] = xs_parts_first(j, P, C);
                    check_cut(be, &tp, whole, b, P);
                    cuts++;
                }
                /* uneven cuts by hand: one chunk then the rest; the rest then one */
                if (C >= 3) {
                    int b1[3] = {0, 1, C}, b2[3] = {0, C - 1, C};
                    check_cut(be, &tp, whole, b1, 2);
                    check_cut(be, &tp, whole, b2, 2);
                    cuts += 2;
                }
                free(whole);
            }
        xs_backend_destroy(be);
    }
    printf("%d cuts merged and compared\n", cuts);
    xs_scene_destroy(s);
}

/* ---- the worker's pipeline -------------------------------------------------------- */

typedef struct fixture {
    xs_options opt;
    xs_job job;
    xs_worker w;
} fixture;

static void fixture_init(fixture *f, const char *name, int spp, uint32_t aovs, int writers)
{
    memset(f, 0, sizeof *f);
    xs_options *o = &f->opt;
    xs_options_defaults(o);
    snprintf(o->scene, sizeof o->scene, "cornell");
    o->render.width = 40, o->render.height = 28, o->render.tile = 16;
    o->render.spp = spp;
    o->render.aovs = aovs;
    o->render.max_bounces = 4;
    o->render.seed = 5;
    o->preview = false;
    snprintf(o->out_dir, sizeof o->out_dir, "%s/parts-%s", getenv("XS_TEST_TMP") ? getenv("XS_TEST_TMP") : "/tmp",
             name);
    char cmd[XS_PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", o->out_dir);
    CHECK(system(cmd) == 0);
    snprintf(o->job, sizeof o->job, "j");
    snprintf(o->name, sizeof o->name, "f");
    xs_err e;
    CHECK(xs_job_init(&f->job, o, 1, &e) == XS_OK);
    CHECK_MSG(xs_worker_init(&f->w, &f->job, 1, 2, -1, writers, NULL, &e) == XS_OK, "%s", e.msg);
}

/* Pushes n items and pumps until n results. */
static void run(fixture *f, const xs_work_item *items, int n, xs_worker_result *res)
{
    xs_err e;
    for (int i = 0; i < n; ++i)
        CHECK(xs_worker_push(&f->w, &items[i], 0, &e) == XS_OK);
    int got = 0, idle = 0;
    for (int guard = 0; got < n && guard < 10000000; ++guard) {
        bool progress = false;
        got += xs_worker_pump(&f->w, res + got, n - got, &progress);
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

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The parts of tile `tile` cut into P as the policy cuts, pushed at once,
 * then their merge; res[P] is the merge's result. */
static void split_and_merge(fixture *f, int frame, int tile, int P, xs_worker_result *res)
{
    const int C = xs_parts_chunks(f->opt.render.spp);
    xs_work_item items[65];
    for (int j = 0; j < P; ++j)
        items[j] = (xs_work_item){XS_WORK_PART, frame, tile, 0, xs_parts_first(j, P, C),
                                  xs_parts_first(j + 1, P, C) - xs_parts_first(j, P, C)};
    run(f, items, P, res);
    xs_work_item m = {XS_WORK_MERGE, frame, tile, 0, P, C};
    run(f, &m, 1, &res[P]);
}

static void test_files(void)
{
    const struct {
        int spp, P, writers;
        uint32_t aovs;
    } cfg[] = {{40, 3, 0, 0}, {100, 3, 2, ALL_AOVS}, {64, 4, 2, XS_AOV_DEPTH}, {36, 2, 0, ALL_AOVS}};
    for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; ++k) {
        fixture whole, split;
        fixture_init(&whole, "whole", cfg[k].spp, cfg[k].aovs, cfg[k].writers);
        fixture_init(&split, "split", cfg[k].spp, cfg[k].aovs, cfg[k].writers);
        CHECK(xs_worker_parts(&split.w));
        const int tiles[2] = {0, 5}; /* a full tile and a cut one (40x28 in 16s: 3x2) */
        for (int ti = 0; ti < 2; ++ti) {
            const int tile = tiles[ti];
            xs_work_item t = {XS_WORK_TILE, 2, tile, 0, 0, 0};
            xs_worker_result rt, rs[66];
            run(&whole, &t, 1, &rt);
            CHECK_MSG(rt.r == XS_OK, "%s", rt.text);
            split_and_merge(&split, 2, tile, cfg[k].P, rs);
            int x0, y0, tw, th;
            xs_film_tile_rect(&split.job.film, tile, &x0, &y0, &tw, &th);
            double samples = 0.0;
            for (int j = 0; j < cfg[k].P; ++j) {
                CHECK_MSG(rs[j].r == XS_OK, "part %d: %s", j, rs[j].text);
                CHECK(rs[j].item.kind == XS_WORK_PART);
                samples += rs[j].rep.samples;
            }
            CHECK_MSG(samples == (double)tw * th * cfg[k].spp, "parts report %.0f samples, the tile has %d", samples,
                      tw * th * cfg[k].spp);
            xs_worker_result *rm = &rs[cfg[k].P];
            CHECK_MSG(rm->r == XS_OK, "merge: %s", rm->text);
            CHECK(rm->item.kind == XS_WORK_MERGE && rm->rep.samples == 0.0);
            CHECK_MSG(rm->rep.hash == rt.rep.hash, "spp %d: the merge's checksum %016llx, the tile's %016llx",
                      cfg[k].spp, (unsigned long long)rm->rep.hash, (unsigned long long)rt.rep.hash);
            char pa[XS_PATH_MAX], pb[XS_PATH_MAX];
            xs_err e;
            CHECK(xs_job_tile_path(&whole.job.layout, 2, tile, pa, sizeof pa, &e) == XS_OK);
            CHECK(xs_job_tile_path(&split.job.layout, 2, tile, pb, sizeof pb, &e) == XS_OK);
            size_t la = 0, lb = 0;
            unsigned char *a = slurp(pa, &la), *b = slurp(pb, &lb);
            CHECK_MSG(a && b && la == lb && memcmp(a, b, la) == 0,
                      "spp %d, %d parts, aovs 0x%x: the merged tile's file differs from the whole tile's",
                      cfg[k].spp, cfg[k].P, (unsigned)cfg[k].aovs);
            free(a);
            free(b);
            /* the parts are gone */
            const int C = xs_parts_chunks(cfg[k].spp);
            for (int j = 0; j < cfg[k].P; ++j) {
                const int first = xs_parts_first(j, cfg[k].P, C);
                CHECK(xs_job_part_path(&split.job.layout, 2, tile, first, xs_parts_first(j + 1, cfg[k].P, C) - first,
                                       pb, sizeof pb, &e) == XS_OK);
                CHECK_MSG(!exists(pb), "%s is left after the merge", pb);
            }
        }
        printf("spp %d, %d parts, %d writer(s), aovs 0x%x: merged tiles are the whole tiles' files\n", cfg[k].spp,
               cfg[k].P, cfg[k].writers, (unsigned)cfg[k].aovs);
        xs_worker_free(&whole.w);
        xs_worker_free(&split.w);
    }
}

/* ---- merge errors -------------------------------------------------------------------- */

static void part_path(fixture *f, int tile, int j, int P, char *out)
{
    const int C = xs_parts_chunks(f->opt.render.spp);
    const int first = xs_parts_first(j, P, C);
    xs_err e;
    CHECK(xs_job_part_path(&f->job.layout, 1, tile, first, xs_parts_first(j + 1, P, C) - first, out, XS_PATH_MAX,
                           &e) == XS_OK);
}

static void merge_expect_failure(fixture *f, int tile, int P, const char *want1, const char *want2)
{
    xs_work_item m = {XS_WORK_MERGE, 1, tile, 0, P, xs_parts_chunks(f->opt.render.spp)};
    xs_worker_result r;
    run(f, &m, 1, &r);
    printf("merge fails: %s\n", r.text);
    CHECK(r.r != XS_OK && !(r.rep.flags & XS_REPORT_LOST));
    CHECK_MSG(strstr(r.text, want1) && strstr(r.text, want2), "'%s' lacks '%s' or '%s'", r.text, want1, want2);
    char tp[XS_PATH_MAX];
    xs_err e;
    CHECK(xs_job_tile_path(&f->job.layout, 1, tile, tp, sizeof tp, &e) == XS_OK);
    CHECK_MSG(!exists(tp), "a failed merge wrote %s", tp);
}

static void test_merge_errors(void)
{
    fixture f;
    fixture_init(&f, "errors", 48, ALL_AOVS, 1);
    const int P = 3;
    xs_work_item items[3];
    xs_worker_result res[3];
    for (int j = 0; j < P; ++j)
        items[j] = (xs_work_item){XS_WORK_PART, 1, 1, 0, j, 1};
    run(&f, items, P, res);
    for (int j = 0; j < P; ++j)
        CHECK_MSG(res[j].r == XS_OK, "%s", res[j].text);
    char p0[XS_PATH_MAX], p1[XS_PATH_MAX], p2[XS_PATH_MAX], saved[XS_PATH_MAX + 8];
    part_path(&f, 1, 0, P, p0);
    part_path(&f, 1, 1, P, p1);
    part_path(&f, 1, 2, P, p2);
    /* missing: part 2 of 3 */
    snprintf(saved, sizeof saved, "%s.keep", p1);
    CHECK(rename(p1, saved) == 0);
    merge_expect_failure(&f, 1, P, "part 2 of 3", p1);
    CHECK_MSG(exists(p0) && exists(p2), "a failed merge removed the other parts");
    CHECK(rename(saved, p1) == 0);
    /* damaged: one payload byte flipped */
    size_t len = 0;
    unsigned char *b = slurp(p2, &len);
    CHECK(b && len > XS_PARTIALS_HEADER_BYTES + 8);
    b[len - 5] ^= 0x40;
    xs_err e;
    CHECK(xs_file_write_atomic(p2, b, len, &e) == XS_OK);
    merge_expect_failure(&f, 1, P, p2, "payload");
    b[len - 5] ^= 0x40;
    CHECK(xs_file_write_atomic(p2, b, len, &e) == XS_OK);
    free(b);
    /* another tile's part under this name */
    xs_work_item other = {XS_WORK_PART, 1, 2, 0, 0, 1};
    run(&f, &other, 1, res);
    CHECK(res[0].r == XS_OK);
    char o0[XS_PATH_MAX];
    part_path(&f, 2, 0, P, o0);
    CHECK(rename(p0, saved) == 0);
    CHECK(rename(o0, p0) == 0);
    merge_expect_failure(&f, 1, P, p0, "tile: 2, expected 1");
    CHECK(rename(saved, p0) == 0);
    /* whole again: the retry merges */
    xs_work_item m = {XS_WORK_MERGE, 1, 1, 0, P, 3};
    run(&f, &m, 1, res);
    CHECK_MSG(res[0].r == XS_OK, "%s", res[0].text);
    /* a merge whose cut does not fit the job */
    xs_work_item bad = {XS_WORK_MERGE, 1, 1, 0, 4, 3};
    run(&f, &bad, 1, res);
    CHECK(res[0].r != XS_OK && strstr(res[0].text, "merge of 4 part(s) over 3 chunk(s)"));
    xs_work_item badp = {XS_WORK_PART, 1, 1, 0, 2, 2};
    run(&f, &badp, 1, res);
    CHECK_MSG(res[0].r != XS_OK && strstr(res[0].text, "chunks [2, 4)"), "%s", res[0].text);
    xs_worker_free(&f.w);
}

/* ---- the file format ------------------------------------------------------------------- */

static void expect_read_error(const char *path, const xs_partials_info *in, const char *want)
{
    float *rec = NULL;
    xs_err e;
    xs_result r = xs_partials_read(path, in, &rec, &e);
    CHECK_MSG(r != XS_OK && rec == NULL, "read accepted a part that should fail with '%s'", want);
    if (r != XS_OK) {
        CHECK_MSG(strstr(e.msg, want) && strstr(e.msg, path), "'%s' lacks '%s' or the path", e.msg, want);
        printf("  refused: %s\n", e.msg);
    }
}

static void test_file_format(void)
{
    char dir[XS_PATH_MAX], path[XS_PATH_MAX + 32], cmd[XS_PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/parts-format", getenv("XS_TEST_TMP") ? getenv("XS_TEST_TMP") : "/tmp");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    xs_err e;
    CHECK(xs_mkdir_p(dir, &e) == XS_OK);
    snprintf(path, sizeof path, "%s/x0001_y0002.c00003-00005.part", dir);
    const xs_partials_info in = {.frame = 7, .tile = 9, .x0 = 16, .y0 = 32, .width = 5, .height = 3, .spp = 80,
                                 .chunk_first = 3, .chunk_count = 2, .mask = 0x80Fu, .floats = 5};
    const size_t n = xs_partials_floats(&in);
    CHECK(n == 5 * 3 * 2 * 5);
    float *rec = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; ++i) /* compressible like real parts: counts beside noise */
        rec[i] = i % 5 >= 3 ? 16.0f : (float)(i * 2654435761u % 1000u) * 0.37f;
    for (int level = 0; level <= 1; ++level) {
        CHECK(xs_partials_write(path, &in, rec, level * 3, &e) == XS_OK);
        struct stat st;
        CHECK(stat(path, &st) == 0);
        printf("level %d: %lld bytes for %zu bytes of records\n", level * 3, (long long)st.st_size, n * sizeof(float));
        if (level)
            CHECK(st.st_size < (long long)(XS_PARTIALS_HEADER_BYTES + n * sizeof(float)));
        else
            CHECK(st.st_size == (long long)(XS_PARTIALS_HEADER_BYTES + n * sizeof(float)));
        float *back = NULL;
        CHECK_MSG(xs_partials_read(path, &in, &back, &e) == XS_OK, "%s", e.msg);
        CHECK(back && memcmp(back, rec, n * sizeof(float)) == 0);
        free(back);
    }
    /* each field against the expectation */
    const char *names[] = {"frame", "tile", "x0", "y0", "width", "height", "spp", "chunk_first", "chunk_count"};
    for (int i = 0; i < 9; ++i) {
        xs_partials_info want = in;
        int32_t *f[9] = {&want.frame, &want.tile, &want.x0, &want.y0, &want.width, &want.height, &want.spp,
                         &want.chunk_first, &want.chunk_count};
        *f[i] += 1;
        char msg[64];
        snprintf(msg, sizeof msg, "%s: %d, expected %d", names[i], *f[i] - 1, *f[i]);
        expect_read_error(path, &want, msg);
    }
    xs_partials_info want = in;
    want.mask = 0xFFFu, want.floats = 12;
    expect_read_error(path, &want, "mask");
    /* damaged files */
    size_t len = 0;
    unsigned char *good = slurp(path, &len);
    CHECK(good != NULL);
    unsigned char *b = malloc(len + 8);
    const struct {
        size_t at;
        unsigned char x;
        const char *want;
    } flips[] = {{0, 'Y', "magic"}, {8, 2, "version"}, {20, 1, "header checksum"}, {len - 3, 0x10, "payload"}};
    for (size_t k = 0; k < sizeof flips / sizeof flips[0]; ++k) {
        memcpy(b, good, len);
        b[flips[k].at] ^= flips[k].x;
        CHECK(xs_file_write_atomic(path, b, len, &e) == XS_OK);
        expect_read_error(path, &in, flips[k].want);
    }
    CHECK(xs_file_write_atomic(path, good, 50, &e) == XS_OK);
    expect_read_error(path, &in, "header: 50 bytes");
    CHECK(xs_file_write_atomic(path, good, len - 1, &e) == XS_OK);
    expect_read_error(path, &in, "stored bytes");
    memcpy(b, good, len);
    memset(b + len, 0, 8);
    CHECK(xs_file_write_atomic(path, b, len + 8, &e) == XS_OK);
    expect_read_error(path, &in, "stored bytes");
    unlink(path);
    expect_read_error(path, &in, "cannot open");
    /* a writer refuses an inconsistent description */
    want = in;
    want.floats = 4;
    CHECK(xs_partials_write(path, &want, rec, 0, &e) == XS_ERR_INVALID && !exists(path));
    free(b);
    free(good);
    free(rec);
}

/* ---- a back end without parts ------------------------------------------------------------ */

static void test_no_parts_backend(void)
{
    fixture f;
    memset(&f, 0, sizeof f);
    xs_options *o = &f.opt;
    xs_options_defaults(o);
    o->render.width = 32, o->render.height = 32, o->render.tile = 16, o->render.spp = 64;
    o->preview = false;
    snprintf(o->out_dir, sizeof o->out_dir, "%s/parts-standin", getenv("XS_TEST_TMP") ? getenv("XS_TEST_TMP") : "/tmp");
    snprintf(o->job, sizeof o->job, "j");
    snprintf(o->name, sizeof o->name, "f");
    xs_err e;
    CHECK(xs_job_init(&f.job, o, 1, &e) == XS_OK);
    static float px[16 * 16 * 4];
    xs_backend *b = NULL;
    CHECK(xs_backend_standin_create(px, 16, 4, 2, 0, &b, &e) == XS_OK);
    CHECK(!xs_backend_parts(b));
    CHECK(xs_worker_init_backend(&f.w, &f.job, 3, b, 1, &e) == XS_OK);
    CHECK(!xs_worker_parts(&f.w));
    xs_work_item it = {XS_WORK_PART, 1, 0, 0, 0, 2};
    xs_worker_result r;
    run(&f, &it, 1, &r);
    printf("%s\n", r.text);
    CHECK(r.r == XS_ERR_INVALID && strstr(r.text, "rank 3") && strstr(r.text, "stand-in back end renders no parts"));
    xs_worker_free(&f.w);
}

/* ---- clean-up ------------------------------------------------------------------------------ */

static void touch(const char *path)
{
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (fp)
        fclose(fp);
}

static void test_cleanup(void)
{
    xs_job_layout l;
    xs_err e;
    char out[XS_PATH_MAX], p[XS_PATH_MAX], cmd[XS_PATH_MAX + 32];
    snprintf(out, sizeof out, "%s/parts-clean", getenv("XS_TEST_TMP") ? getenv("XS_TEST_TMP") : "/tmp");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
    CHECK(system(cmd) == 0);
    CHECK(xs_job_layout_init(&l, out, "j", "f", 4, &e) == XS_OK);
    for (int round = 0; round < 2; ++round) {
        for (int fr = 1; fr <= 2; ++fr) {
            CHECK(xs_job_tile_dir(&l, fr, p, sizeof p, &e) == XS_OK);
            CHECK(xs_mkdir_p(p, &e) == XS_OK);
            CHECK(xs_job_tile_path(&l, fr, 5, p, sizeof p, &e) == XS_OK);
            touch(p);
            CHECK(xs_job_part_path(&l, fr, 6, 0, 3, p, sizeof p, &e) == XS_OK);
            CHECK(strstr(p, "tiles/000") && strstr(p, "x0002_y0001.c00000-00003.part"));
            touch(p);
            CHECK(xs_job_part_path(&l, fr, 6, 3, 2, p, sizeof p, &e) == XS_OK);
            touch(p);
            char tmp[XS_PATH_MAX];
            CHECK(xs_tmp_path(p, tmp, sizeof tmp, &e) == XS_OK); /* a part's temporary */
            touch(tmp);
        }
        int64_t removed = 0;
        if (round == 0) {
            CHECK(xs_job_remove_parts(&l, &removed, &e) == XS_OK);
            CHECK_MSG(removed == 4, "the end of a run removed %lld files, 4 parts expected", (long long)removed);
        } else {
            CHECK(xs_job_clean_temporaries(&l, &removed, &e) == XS_OK);
            /* 4 parts and 4 temporaries now (2 temporaries of round 0 as well) */
            CHECK_MSG(removed == 8, "the start of a job removed %lld files, 8 expected", (long long)removed);
        }
        CHECK(xs_job_tile_path(&l, 1, 5, p, sizeof p, &e) == XS_OK);
        CHECK(exists(p));
    }
    /* a frame whose tiles were removed (after its assembly) but for a late
     * copy's part: the end of the run takes its folder too */
    CHECK(xs_job_tile_dir(&l, 3, p, sizeof p, &e) == XS_OK);
    CHECK(xs_mkdir_p(p, &e) == XS_OK);
    char part3[XS_PATH_MAX];
    CHECK(xs_job_part_path(&l, 3, 0, 2, 2, part3, sizeof part3, &e) == XS_OK);
    touch(part3);
    int64_t removed = 0;
    CHECK(xs_job_remove_parts(&l, &removed, &e) == XS_OK && removed == 1);
    CHECK_MSG(!exists(p), "%s is left empty", p);
    CHECK(xs_job_tile_dir(&l, 1, p, sizeof p, &e) == XS_OK);
    CHECK(exists(p)); /* holds tiles */
    snprintf(cmd, sizeof cmd, "test -z \"$(find '%s' -name '*.part*')\"", out);
    CHECK(system(cmd) == 0);
}

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"records", test_records},
        {"files", test_files},
        {"merge_errors", test_merge_errors},
        {"file_format", test_file_format},
        {"no_parts_backend", test_no_parts_backend},
        {"cleanup", test_cleanup},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
