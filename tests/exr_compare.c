/* exr_compare A B: exits 0 when the two EXRs have the same data window and
 * bit-identical RGBA pixels, 1 otherwise (printing the first difference and
 * the largest), 2 when a file cannot be read. Used by the MPI tests.
 * exr_compare --stats A: prints "mean R G B A nonfinite N" of the image.
 * exr_compare --rmse A REF: prints the relative RMSE of A's RGB against REF
 *   (sqrt(mean((a - ref)^2)) / mean(ref), over all pixels and channels) and
 *   the relative difference of the means.
 * exr_compare --png A OUT.png: writes the preview PNG of A.
 * exr_compare --region A X0 Y0 W H: prints "mean R G B A" of that rectangle.
 * exr_compare --iou A B: prints "iou X": the intersection over union of the
 *   two silhouettes (pixels of alpha above 0.5). */
#include "io/xs_exr.h"
#include "io/xs_image.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int stats(const char *path)
{
    xs_image a;
    xs_err e;
    if (xs_exr_read_rgba(path, &a, &e) != XS_OK) {
        fprintf(stderr, "exr_compare: %s\n", e.msg);
        return 2;
    }
    double sum[4] = {0, 0, 0, 0};
    size_t n = (size_t)a.width * (size_t)a.height, bad = 0;
    for (size_t i = 0; i < n; ++i)
        for (int c = 0; c < 4; ++c) {
            float v = a.rgba[i * 4 + (size_t)c];
            if (!isfinite(v))
                bad++;
            else
                sum[c] += v;
        }
    printf("mean %.6f %.6f %.6f %.6f nonfinite %zu\n", sum[0] / (double)n, sum[1] / (double)n,
           sum[2] / (double)n, sum[3] / (double)n, bad);
    xs_image_free(&a);
    return 0;
}

static int rmse(const char *pa, const char *pr)
{
    xs_image a, r;
    memset(&a, 0, sizeof a);
    memset(&r, 0, sizeof r);
    xs_err e;
    if (xs_exr_read_rgba(pa, &a, &e) != XS_OK || xs_exr_read_rgba(pr, &r, &e) != XS_OK) {
        fprintf(stderr, "exr_compare: %s\n", e.msg);
        xs_image_free(&a);
        return 2;
    }
    if (a.width != r.width || a.height != r.height) {
        fprintf(stderr, "exr_compare: sizes differ\n");
        xs_image_free(&a), xs_image_free(&r);
        return 2;
    }
    size_t n = (size_t)a.width * (size_t)a.height;
    double se = 0.0, sr = 0.0, sa = 0.0;
    for (size_t i = 0; i < n; ++i)
        for (int c = 0; c < 3; ++c) {
            double d = (double)a.rgba[i * 4 + (size_t)c] - (double)r.rgba[i * 4 + (size_t)c];
            se += d * d;
            sr += r.rgba[i * 4 + (size_t)c];
            sa += a.rgba[i * 4 + (size_t)c];
        }
    double mean_r = sr / (3.0 * (double)n);
    printf("rel_rmse %.6f mean %.6f ref_mean %.6f mean_diff %.4f%%\n", sqrt(se / (3.0 * (double)n)) / mean_r,
           sa / (3.0 * (double)n), mean_r, 100.0 * (sa - sr) / sr);
    xs_image_free(&a), xs_image_free(&r);
    return 0;
}

static int region(const char *path, int x0, int y0, int w, int h)
{
    xs_image a;
    xs_err e;
    if (xs_exr_read_rgba(path, &a, &e) != XS_OK) {
        fprintf(stderr, "exr_compare: %s\n", e.msg);
        return 2;
    }
    if (w < 1 || h < 1 || x0 < 0 || y0 < 0 || x0 + w > a.width || y0 + h > a.height) {
        fprintf(stderr, "exr_compare: region %d,%d %dx%d outside the %dx%d image\n", x0, y0, w, h, a.width,
                a.height);
        xs_image_free(&a);
        return 2;
    }
    double sum[4] = {0, 0, 0, 0};
    for (int y = y0; y < y0 + h; ++y)
        for (int x = x0; x < x0 + w; ++x)
            for (int c = 0; c < 4; ++c)
                sum[c] += a.rgba[((size_t)y * (size_t)a.width + (size_t)x) * 4 + (size_t)c];
    double n = (double)w * h;
    printf("mean %.6f %.6f %.6f %.6f\n", sum[0] / n, sum[1] / n, sum[2] / n, sum[3] / n);
    xs_image_free(&a);
    return 0;
}

static int iou(const char *pa, const char *pb)
{
    xs_image a, b;
    xs_err e;
    if (xs_exr_read_rgba(pa, &a, &e) != XS_OK) {
        fprintf(stderr, "exr_compare: %s\n", e.msg);
        return 2;
    }
    if (xs_exr_read_rgba(pb, &b, &e) != XS_OK) {
        fprintf(stderr, "exr_compare: %s\n", e.msg);
        xs_image_free(&a);
        return 2;
    }
    if (a.width != b.width || a.height != b.height) {
        fprintf(stderr, "exr_compare: sizes differ\n");
        xs_image_free(&a);
        xs_image_free(&b);
        return 2;
    }
    size_t n = (size_t)a.width * (size_t)a.height, both = 0, either = 0;
    for (size_t i = 0; i < n; ++i) {
        bool x = a.rgba[i * 4 + 3] > 0.5f, y = b.rgba[i * 4 + 3] > 0.5f;
        both += x && y;
        either += x || y;
    }
    printf("iou %.6f (%zu of %zu silhouette pixels shared)\n", either ? (double)both / (double)either : 1.0,
           both, either);
    xs_image_free(&a);
    xs_image_free(&b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 7 && strcmp(argv[1], "--region") == 0)
        return region(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
    if (argc == 4 && strcmp(argv[1], "--iou") == 0)
        return iou(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "--rmse") == 0)
        return rmse(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "--png") == 0) {
        xs_image a;
        xs_err e;
        if (xs_exr_read_rgba(argv[2], &a, &e) != XS_OK || xs_png_write_preview(argv[3], &a, &e) != XS_OK) {
            fprintf(stderr, "exr_compare: %s\n", e.msg);
            return 2;
        }
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--stats") == 0)
        return stats(argv[2]);
    if (argc != 3) {
        fprintf(stderr, "usage: exr_compare A.exr B.exr\n");
        return 2;
    }
    xs_image a, b;
    xs_err e;
    if (xs_exr_read_rgba(argv[1], &a, &e) != XS_OK || xs_exr_read_rgba(argv[2], &b, &e) != XS_OK) {
        fprintf(stderr, "exr_compare: %s\n", e.msg);
        return 2;
    }
    if (a.width != b.width || a.height != b.height || a.x0 != b.x0 || a.y0 != b.y0) {
        printf("different data windows: %dx%d+%d+%d vs %dx%d+%d+%d\n", a.width, a.height, a.x0,
               a.y0, b.width, b.height, b.x0, b.y0);
        return 1;
    }
    size_t n = (size_t)a.width * (size_t)a.height * 4, diff = 0;
    double maxd = 0.0;
    for (size_t i = 0; i < n; ++i) {
        if (memcmp(&a.rgba[i], &b.rgba[i], sizeof(float)) != 0) {
            if (diff == 0)
                printf("first difference at pixel (%zu, %zu) channel %zu: %.9g vs %.9g\n",
                       (i / 4) % (size_t)a.width, (i / 4) / (size_t)a.width, i % 4,
                       (double)a.rgba[i], (double)b.rgba[i]);
            diff++;
            double d = fabs((double)a.rgba[i] - (double)b.rgba[i]);
            if (d > maxd)
                maxd = d;
        }
    }
    if (diff)
        printf("%zu of %zu values differ, largest difference %.9g\n", diff, n, maxd);
    else
        printf("identical: %dx%d, %zu values\n", a.width, a.height, n);
    xs_image_free(&a);
    xs_image_free(&b);
    return diff ? 1 : 0;
}
