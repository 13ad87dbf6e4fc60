/* The job folder's file names (see xs_job_layout.h). */
#include "io/xs_job_layout.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

xs_result xs_job_part_path(const xs_job_layout *l, int frame, int tile, int chunk_first, int chunk_count,
                           char *out, size_t n, xs_err *err)
{
    return fit(out, n, err, "%s/tiles/%04d/x%04d_y%04d.c%05d-%05d.part", l->dir, frame, tile % l->tiles_x,
               tile / l->tiles_x, chunk_first, chunk_first + chunk_count);
}

xs_result xs_job_file_path(const xs_job_layout *l, const char *file, char *out, size_t n,
                           xs_err *err)
{
    return fit(out, n, err, "%s/%s", l->dir, file);
}

/* A temporary name of xs_tmp_path: ".NAME.tmp-HOST-PID-N" (older runs:
 * ".NAME.tmp-PID-N"). */
static bool is_temporary(const char *name)
{
    return name[0] == '.' && strstr(name, ".tmp-") != NULL;
}

/* A part file of xs_job_part_path: "NAME.part", not hidden. */
static bool is_part(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".part") == 0;
}

static bool is_temporary_or_part(const char *name) { return is_temporary(name) || is_part(name); }

/* Removes the files of dir that `match` picks; *removed counts them. */
static xs_result clean_dir(const char *dir, bool (*match)(const char *), int64_t *removed, xs_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? XS_OK : xs_err_set(err, XS_ERR_IO, "%s: %s", dir, strerror(errno));
    struct dirent *de;
    char path[XS_PATH_MAX];
    xs_result r = XS_OK;
    while ((de = readdir(d)) && r == XS_OK) {
        if (!match(de->d_name))
            continue;
        if ((r = fit(path, sizeof path, err, "%s/%s", dir, de->d_name)) != XS_OK)
            break;
        if (unlink(path) == 0)
            ++*removed;
        else if (errno != ENOENT)
            r = xs_err_set(err, XS_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    }
    closedir(d);
    return r;
}

/* Removes what match picks in the job folder (when top; else a tile folder
 * it leaves empty goes too, as the frame's tile removal would have taken
 * it) and in every tile folder. */
static xs_result clean_job(const xs_job_layout *l, bool top, bool (*match)(const char *), int64_t *removed,
                           xs_err *err)
{
    *removed = 0;
    char tiles[XS_PATH_MAX], sub[XS_PATH_MAX];
    xs_result r = top ? clean_dir(l->dir, match, removed, err) : XS_OK;
    if (r == XS_OK)
        r = fit(tiles, sizeof tiles, err, "%s/tiles", l->dir);
    if (r != XS_OK)
        return r;
    DIR *d = opendir(tiles);
    if (!d)
        return XS_OK; /* no tiles yet */
    struct dirent *de;
    while ((de = readdir(d)) && r == XS_OK) {
        if (de->d_name[0] == '.')
            continue;
        const int64_t before = *removed;
        if ((r = fit(sub, sizeof sub, err, "%s/%s", tiles, de->d_name)) == XS_OK)
            r = clean_dir(sub, match, removed, err);
        if (r == XS_OK && !top && *removed > before)
            (void)rmdir(sub); /* only when empty: tiles kept (--keep-tiles) keep it */
    }
    closedir(d);
    return r;
}

xs_result xs_job_clean_temporaries(const xs_job_layout *l, int64_t *removed, xs_err *err)
{
    return clean_job(l, true, is_temporary_or_part, removed, err);
}

xs_result xs_job_remove_parts(const xs_job_layout *l, int64_t *removed, xs_err *err)
{
    return clean_job(l, false, is_part, removed, err);
}
