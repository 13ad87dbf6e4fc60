/* The spool's layout and file helpers (see xs_spool.h). */
#define _XOPEN_SOURCE 700
#include "service/xs_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <xxhash.h>

xs_result xs_spool_init(xs_spool *sp, const char *root, xs_err *err)
{
    if (snprintf(sp->root, sizeof sp->root, "%s", root) >= (int)sizeof sp->root)
        return xs_err_set(err, XS_ERR_INVALID, "--spool: path too long");
    char p[XS_PATH_MAX];
    xs_result r = xs_check_writable_dir(root, err);
    snprintf(p, sizeof p, "%s/uploads", root);
    if (r == XS_OK)
        r = xs_mkdir_p(p, err);
    snprintf(p, sizeof p, "%s/jobs", root);
    if (r == XS_OK)
        r = xs_mkdir_p(p, err);
    return r;
}

void xs_spool_upload_path(const xs_spool *sp, int64_t id, char *out, size_t n)
{
    snprintf(out, n, "%s/uploads/%" PRId64 ".tar.zst", sp->root, id);
}

void xs_spool_job_dir(const xs_spool *sp, int64_t id, char *out, size_t n)
{
    snprintf(out, n, "%s/jobs/%" PRId64, sp->root, id);
}

void xs_spool_job_file(const xs_spool *sp, int64_t id, const char *file, char *out, size_t n)
{
    snprintf(out, n, "%s/jobs/%" PRId64 "/%s", sp->root, id, file);
}

void xs_spool_output_file(const xs_spool *sp, int64_t id, const char *job, const char *file,
                          char *out, size_t n)
{
    snprintf(out, n, "%s/jobs/%" PRId64 "/out/%s%s%s", sp->root, id, job, *file ? "/" : "", file);
}

int64_t xs_spool_free_bytes(const xs_spool *sp)
{
    struct statvfs v;
    if (statvfs(sp->root, &v) != 0)
        return -1;
    return (int64_t)v.f_bavail * (int64_t)v.f_frsize;
}

static void hex128(XXH128_hash_t h, char hex[33])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) {
        hex[2 * i] = digits[c.digest[i] >> 4];
        hex[2 * i + 1] = digits[c.digest[i] & 15];
    }
    hex[32] = '\0';
}

void xs_xxh3_text(const void *data, size_t len, char hex[33])
{
    hex128(XXH3_128bits(data, len), hex);
}

xs_result xs_file_xxh3(const char *path, char hex[33], int64_t *bytes, xs_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return xs_err_set(err, XS_ERR_IO, "%s: %s", path, strerror(errno));
    XXH3_state_t *st = XXH3_createState();
    enum { BUF = 1 << 20 };
    unsigned char *buf = malloc(BUF);
    xs_result r = st && buf ? XS_OK : xs_err_set(err, XS_ERR_NOMEM, "out of memory");
    if (r == XS_OK)
        XXH3_128bits_reset(st);
    int64_t total = 0;
    while (r == XS_OK) {
        ssize_t k = read(fd, buf, BUF);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            r = xs_err_set(err, XS_ERR_IO, "%s: read: %s", path, strerror(errno));
        if (k <= 0)
            break;
        XXH3_128bits_update(st, buf, (size_t)k);
        total += k;
    }
    if (r == XS_OK) {
        hex128(XXH3_128bits_digest(st), hex);
        if (bytes)
            *bytes = total;
    }
    free(buf);
    XXH3_freeState(st);
    close(fd);
    return r;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

xs_result xs_remove_tree(const char *path, xs_err *err)
{
    if (access(path, F_OK) != 0)
        return XS_OK;
    if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) != 0)
        return xs_err_set(err, XS_ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    return XS_OK;
}
