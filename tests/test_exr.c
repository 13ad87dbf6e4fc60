/* EXR tiles and frames (io/exr.c): tiles written with each compression are
 * assembled into a frame whose pixels equal the source exactly, whose chunks
 * are the tiles' compressed bytes unchanged, and failures leave no file. */
#include "io/xs_exr.h"
#include "io/xs_file.h"
#include "io/xs_job_layout.h"
#include "test_util.h"

#include <dirent.h>
#include <stdbool.h>
#include <openexr.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[512];
static uint64_t fsize, fhash; /* the assembled frame's bytes */

#define RGBA_CHANNELS .channel_count = 4, .channels = {"R", "G", "B", "A"}

/* The tiles' files, named as a job's (io/xs_job_layout.h), frame 3. */
typedef struct paths {
    xs_job_layout job;
    char buf[64][XS_PATH_MAX];
} paths;

static float src_value(int x, int y, int c) { return (float)(x * 0.013 + y * 0.71 + c * 100.25) - 7.0f; }

static void make_dir(const char *name)
{
    snprintf(g_dir, sizeof g_dir, "%s/%s", getenv("XS_TEST_TMP") ? getenv("XS_TEST_TMP") : "/tmp",
             name);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    CHECK(system(cmd) == 0);
    xs_err e;
    CHECK(xs_mkdir_p(g_dir, &e) == XS_OK);
}

static int count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

/* Writes the 100x70 frame's 12 tiles, each from src_value. */
static void write_tiles(const xs_exr_layout *l, paths *p)
{
    int ntx = (l->frame_width + l->tile_size - 1) / l->tile_size;
    int nty = (l->frame_height + l->tile_size - 1) / l->tile_size;
    float *buf = malloc((size_t)l->tile_size * l->tile_size * 4 * sizeof(float));
    for (int t = 0; t < ntx * nty; ++t) {
        int x0 = (t % ntx) * l->tile_size, y0 = (t / ntx) * l->tile_size;
        int w = x0 + l->tile_size <= l->frame_width ? l->tile_size : l->frame_width - x0;
        int h = y0 + l->tile_size <= l->frame_height ? l->tile_size : l->frame_height - y0;
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                for (int c = 0; c < 4; ++c)
                    buf[(y * w + x) * 4 + c] = src_value(x0 + x, y0 + y, c);
        xs_err e;
        CHECK(xs_job_layout_init(&p->job, g_dir, "job", "frame", ntx, &e) == XS_OK);
        CHECK(xs_job_tile_dir(&p->job, 3, p->buf[t], sizeof p->buf[t], &e) == XS_OK);
        CHECK(xs_mkdir_p(p->buf[t], &e) == XS_OK);
        CHECK(xs_job_tile_path(&p->job, 3, t, p->buf[t], sizeof p->buf[t], &e) == XS_OK);
        xs_result r = xs_exr_write_tile(p->buf[t], l, x0, y0, w, h, buf, &e);
        CHECK_MSG(r == XS_OK, "%s", e.msg);
    }
    free(buf);
}

static void roundtrip(const char *dir, xs_exr_compression comp, int level)
{
    make_dir(dir);
    xs_exr_layout l = {.frame_width = 100, .frame_height = 70, .tile_size = 32, RGBA_CHANNELS,
                       .compression = comp, .zip_level = level, .attr_job = "t", .attr_frame = 3};
    paths *p = calloc(1, sizeof *p);
    write_tiles(&l, p);
    char frame[600];
    snprintf(frame, sizeof frame, "%s/frame.exr", g_dir);
    xs_err e;
    CHECK_MSG(xs_exr_assemble_frame(frame, &l, &p->job, 3, NULL, &fsize, &fhash, &e) == XS_OK, "%s", e.msg);
    xs_image img;
    xs_result rr = xs_exr_read_rgba(frame, &img, &e);
    CHECK_MSG(rr == XS_OK, "%s", e.msg);
    if (rr != XS_OK) { /* nothing to compare: report, do not read what was not filled */
        free(p);
        return;
    }
    CHECK_MSG(img.width == 100 && img.height == 70 && img.x0 == 0 && img.y0 == 0,
              "frame read back as %dx%d at (%d, %d)", img.width, img.height, img.x0, img.y0);
    if (img.width != 100 || img.height != 70) {
        xs_image_free(&img);
        free(p);
        return;
    }
    int bad = 0;
    for (int y = 0; y < 70; ++y)
        for (int x = 0; x < 100; ++x)
            for (int c = 0; c < 4; ++c)
                bad += img.rgba[(y * 100 + x) * 4 + c] != src_value(x, y, c);
    CHECK_MSG(bad == 0, "%d values differ after the round trip", bad);
    xs_image_free(&img);

    /* the frame's chunks are the tiles' chunks, byte for byte */
    exr_context_t fc = NULL, tc = NULL;
    if (exr_start_read(&fc, frame, NULL) != EXR_ERR_SUCCESS) {
        CHECK_MSG(0, "%s cannot be opened by OpenEXR", frame);
        exr_finish(&fc);
        free(p);
        return;
    }
    for (int t = 0; t < 12 && fc; ++t) {
        tc = NULL;
        if (exr_start_read(&tc, p->buf[t], NULL) != EXR_ERR_SUCCESS) {
            CHECK_MSG(0, "tile %d (%s) cannot be opened", t, p->buf[t]);
            exr_finish(&tc);
            continue;
        }
        exr_chunk_info_t a, b;
        if (exr_read_tile_chunk_info(fc, 0, t % 4, t / 4, 0, 0, &a) != EXR_ERR_SUCCESS ||
            exr_read_tile_chunk_info(tc, 0, 0, 0, 0, 0, &b) != EXR_ERR_SUCCESS) {
            CHECK_MSG(0, "tile %d: no chunk in the frame or in the tile file", t);
            exr_finish(&tc);
            continue;
        }
        CHECK(a.packed_size == b.packed_size);
        /* full tiles compress; a tiny edge tile may be stored raw, as EXR allows */
        if (comp != XS_EXR_NONE && level != 0 && t % 4 != 3 && t / 4 != 2)
            CHECK_MSG(a.packed_size < a.unpacked_size, "tile %d not compressed", t);
        /* zlib level 0 stores: the explicit level reaches zlib */
        if (comp == XS_EXR_ZIP && level == 0)
            CHECK_MSG(a.packed_size == a.unpacked_size, "tile %d compressed at level 0", t);
        void *da = malloc(a.packed_size ? a.packed_size : 1), *db = malloc(b.packed_size ? b.packed_size : 1);
        bool read_ok = exr_read_chunk(fc, 0, &a, da) == EXR_ERR_SUCCESS &&
                       exr_read_chunk(tc, 0, &b, db) == EXR_ERR_SUCCESS;
        CHECK_MSG(read_ok, "tile %d: chunk cannot be read", t);
        CHECK_MSG(read_ok && a.packed_size == b.packed_size && memcmp(da, db, a.packed_size) == 0,
                  "tile %d: the frame's chunk is not the tile's bytes", t);
        free(da);
        free(db);
        exr_finish(&tc);
    }
    exr_compression_t ct;
    CHECK(exr_get_compression(fc, 0, &ct) == EXR_ERR_SUCCESS);
    CHECK(ct == (comp == XS_EXR_ZIP ? EXR_COMPRESSION_ZIP
                                    : comp == XS_EXR_PIZ ? EXR_COMPRESSION_PIZ : EXR_COMPRESSION_NONE));
    exr_finish(&fc);
    CHECK(count_files(g_dir, ".") == 2); /* only "." and "..": no temporary files left */
    char tiles[XS_PATH_MAX];
    CHECK(xs_job_tile_dir(&p->job, 3, tiles, sizeof tiles, &e) == XS_OK);
    CHECK(count_files(tiles, ".") == 2); /* nor beside the tiles */
    free(p);
}

static void test_zip(void) { roundtrip("xs_test_exr_zip", XS_EXR_ZIP, 4); }
static void test_zip_levels(void)
{
    roundtrip("xs_test_exr_zip0", XS_EXR_ZIP, 0);
    roundtrip("xs_test_exr_zip9", XS_EXR_ZIP, 9);
}
static void test_piz(void) { roundtrip("xs_test_exr_piz", XS_EXR_PIZ, 0); }
static void test_none(void) { roundtrip("xs_test_exr_none", XS_EXR_NONE, 0); }

static void test_missing_tile_leaves_no_frame(void)
{
    make_dir("xs_test_exr_missing");
    xs_exr_layout l = {.frame_width = 100, .frame_height = 70, .tile_size = 32, RGBA_CHANNELS,
                       .compression = XS_EXR_ZIP, .zip_level = 4};
    paths *p = calloc(1, sizeof *p);
    write_tiles(&l, p);
    unlink(p->buf[7]);
    char frame[600];
    snprintf(frame, sizeof frame, "%s/frame.exr", g_dir);
    xs_err e;
    CHECK(xs_exr_assemble_frame(frame, &l, &p->job, 3, NULL, &fsize, &fhash, &e) != XS_OK);
    CHECK_MSG(strstr(e.msg, "x0003_y0001.exr") != NULL, "message does not name the tile: %s", e.msg);
    CHECK(access(frame, F_OK) != 0);
    CHECK(count_files(g_dir, ".frame") == 0);
    free(p);
}

static void test_mismatched_tile_rejected(void)
{
    make_dir("xs_test_exr_mismatch");
    xs_exr_layout l = {.frame_width = 100, .frame_height = 70, .tile_size = 32, RGBA_CHANNELS,
                       .compression = XS_EXR_ZIP, .zip_level = 4};
    paths *p = calloc(1, sizeof *p);
    write_tiles(&l, p);
    xs_exr_layout other = l;
    other.compression = XS_EXR_PIZ;
    char frame[600];
    snprintf(frame, sizeof frame, "%s/frame.exr", g_dir);
    xs_err e;
    CHECK(xs_exr_assemble_frame(frame, &other, &p->job, 3, NULL, &fsize, &fhash, &e) == XS_ERR_INVALID);
    CHECK_MSG(strstr(e.msg, "does not match") != NULL, "%s", e.msg);
    CHECK(access(frame, F_OK) != 0);
    free(p);
}

static void test_read_errors(void)
{
    make_dir("xs_test_exr_read");
    xs_image img;
    xs_err e;
    CHECK(xs_exr_read_rgba("/nonexistent/x.exr", &img, &e) == XS_ERR_EXR);
    CHECK(strstr(e.msg, "/nonexistent/x.exr") != NULL);
    char junk[600];
    snprintf(junk, sizeof junk, "%s/junk.exr", g_dir);
    FILE *f = fopen(junk, "wb");
    fputs("not an exr file at all", f);
    fclose(f);
    CHECK(xs_exr_read_rgba(junk, &img, &e) == XS_ERR_EXR);
    CHECK(strstr(e.msg, "junk.exr") != NULL);
}

static void test_bad_layout(void)
{
    xs_exr_layout l = {.frame_width = 10, .frame_height = 10, .tile_size = 8, RGBA_CHANNELS,
                       .compression = XS_EXR_ZIP, .zip_level = 12};
    float px[4] = {0};
    xs_err e;
    CHECK(xs_exr_write_tile("/tmp/xs_never.exr", &l, 0, 0, 1, 1, px, &e) == XS_ERR_INVALID);
    CHECK(strstr(e.msg, "zip level") != NULL);
    CHECK(access("/tmp/xs_never.exr", F_OK) != 0);
}

int main(int argc, char **argv)
{
    static const xs_test_case cases[] = {
        {"zip", test_zip},
        {"zip_levels", test_zip_levels},
        {"piz", test_piz},
        {"none", test_none},
        {"missing_tile_leaves_no_frame", test_missing_tile_leaves_no_frame},
        {"mismatched_tile_rejected", test_mismatched_tile_rejected},
        {"read_errors", test_read_errors},
        {"bad_layout", test_bad_layout},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
