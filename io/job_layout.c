/* The job folder's file names (see xs_job_layout.h). */
#include "io/xs_job_layout.h"

#include <stdarg.h>
#include <stdio.h>

static xs_result fit(char *out, size_t n, xs_err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static xs_result fit(char *out, size_t n, xs_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= n)
        return xs_err_set(err, XS_ERR_INVALID, "%.200s...: output path too long", out);
    return XS_OK;
}

xs_result xs_job_layout_init(xs_job_layout *l, const char *out_dir, const char *job,
                             const char *name, int tiles_x, xs_err *err)
{
    l->tiles_x = tiles_x > 0 ? tiles_x : 1;
    xs_result r = fit(l->name, sizeof l->name, err, "%s", name);
    if (r == XS_OK)
        r = fit(l->dir, sizeof l->dir, err, "%s/%s", out_dir, job);
    return r;
}

xs_result xs_job_frame_path(const xs_job_layout *l, int frame, const char *ext, char *out, size_t n,
                            xs_err *err)
{
    return fit(out, n, err, "%s/%s.%04d.%s", l->dir, l->name, frame, ext);
}

xs_result xs_job_tile_dir(const xs_job_layout *l, int frame, char *out, size_t n, xs_err *err)
{
    return fit(out, n, err, "%s/tiles/%04d", l->dir, frame);
}

xs_result xs_job_tile_path(const xs_job_layout *l, int frame, int tile, char *out, size_t n,
                           xs_err *err)
{
    return fit(out, n, err, "%s/tiles/%04d/x%04d_y%04d.exr", l->dir, frame, tile % l->tiles_x,
               tile / l->tiles_x);
}

xs_result xs_job_file_path(const xs_job_layout *l, const char *file, char *out, size_t n,
                           xs_err *err)
{
    return fit(out, n, err, "%s/%s", l->dir, file);
}
