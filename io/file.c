/* Files (see xs_file.h): whole-file reads, and atomic writes: every output
 * xisuan leaves under a final name was written under a temporary name in the
 * same directory, fsync'd, renamed, and its directory fsync'd. A reader
 * therefore sees either nothing or the whole file, also after a crash or a
 * kill. */
#include "io/xs_file.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

xs_result xs_path_join(char *out, size_t out_size, const char *a, const char *b, xs_err *err)
{
    size_t la = strlen(a);
    int n = (la > 0 && a[la - 1] == '/') ? snprintf(out, out_size, "%s%s", a, b)
                                         : snprintf(out, out_size, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= out_size)
        return xs_err_set(err, XS_ERR_INVALID, "%s/%s: path longer than %zu bytes", a, b,
                          out_size - 1);
    return XS_OK;
}

xs_result xs_mkdir_p(const char *path, xs_err *err)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n == 0)
        return xs_err_set(err, XS_ERR_INVALID, "empty directory path");
    if (n >= sizeof buf)
        return xs_err_set(err, XS_ERR_INVALID, "%s: path too long", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; ++i) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            return xs_err_set(err, XS_ERR_IO, "%s: cannot create directory: %s", buf, strerror(e));
        }
        buf[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return xs_err_set(err, XS_ERR_IO, "%s: not a directory", path);
    return XS_OK;
}

xs_result xs_check_writable_dir(const char *dir, xs_err *err)
{
    xs_result r = xs_mkdir_p(dir, err);
    if (r != XS_OK)
        return r;
    char probe[PATH_MAX];
    char name[64];
    snprintf(name, sizeof name, ".xisuan-probe-%ld", (long)getpid());
    if ((r = xs_path_join(probe, sizeof probe, dir, name, err)) != XS_OK)
        return r;
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        return xs_err_set(err, XS_ERR_IO, "%s: output directory is not writable: %s", dir,
                          strerror(e));
    }
    int ok = write(fd, "x", 1) == 1 && fsync(fd) == 0;
    int e = errno;
    close(fd);
    unlink(probe);
    if (!ok)
        return xs_err_set(err, XS_ERR_IO, "%s: cannot write to output directory: %s", dir,
                          strerror(e));
    return XS_OK;
}

/* This host's name for temporary names: letters, digits and '-' only, up to
 * 32 characters ("host" when it has none). Processes on different nodes
 * (or in containers) may share a PID, and two ranks may write the same file
 * at once (a speculative copy), so the name carries the host too. */
static void host_tag(char *out, size_t n)
{
    char h[256] = "";
    if (gethostname(h, sizeof h - 1) != 0)
        h[0] = '\0';
    size_t o = 0;
    for (size_t i = 0; h[i] && o + 1 < n && o < 32; ++i) {
        char c = h[i];
        if (c == '.')
            break; /* the short name */
        out[o++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ? c : '-';
    }
    if (o == 0)
        o = (size_t)snprintf(out, n, "host");
    out[o < n ? o : n - 1] = '\0';
}

/* The host's tag, found once per process (a tile's temporary name would
 * otherwise cost a uname call). */
static char g_host[40];
static pthread_once_t g_host_once = PTHREAD_ONCE_INIT;
static void host_init(void) { host_tag(g_host, sizeof g_host); }

xs_result xs_tmp_path(const char *final_path, char *out, size_t out_size, xs_err *err)
{
    static atomic_uint counter;
    unsigned k = atomic_fetch_add(&counter, 1u);
    pthread_once(&g_host_once, host_init);
    const char *host = g_host;
    const char *slash = strrchr(final_path, '/');
    int dir_len = slash ? (int)(slash - final_path + 1) : 0;
    const char *base = slash ? slash + 1 : final_path;
    int n = snprintf(out, out_size, "%.*s.%s.tmp-%s-%ld-%u", dir_len, final_path, base, host,
                     (long)getpid(), k);
    if (n < 0 || (size_t)n >= out_size)
        return xs_err_set(err, XS_ERR_INVALID, "%s: path too long", final_path);
    return XS_OK;
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static xs_result commit(const char *tmp_path, const char *final_path, bool sync_tmp, bool sync_dir,
                        xs_err *err)
{
    if (sync_tmp && fsync_path(tmp_path, O_RDONLY) != 0) {
        int e = errno;
        unlink(tmp_path);
        return xs_err_set(err, XS_ERR_IO, "%s: fsync failed: %s", final_path, strerror(e));
    }
    if (rename(tmp_path, final_path) != 0) {
        int e = errno;
        unlink(tmp_path);
        return xs_err_set(err, XS_ERR_IO, "%s: rename from temporary file failed: %s",
                          final_path, strerror(e));
    }
    if (!sync_dir)
        return XS_OK;
    char dir[PATH_MAX];
    const char *slash = strrchr(final_path, '/');
    if (slash) {
        size_t n = (size_t)(slash - final_path);
        if (n == 0)
            n = 1;
        if (n >= sizeof dir)
            return xs_err_set(err, XS_ERR_INVALID, "%s: path too long", final_path);
        memcpy(dir, final_path, n);
        dir[n] = '\0';
    } else {
        strcpy(dir, ".");
    }
    return xs_fsync_dir(dir, err);
}

xs_result xs_fsync_dir(const char *dir, xs_err *err)
{
    if (fsync_path(dir, O_RDONLY | O_DIRECTORY) != 0) {
        int e = errno;
        return xs_err_set(err, XS_ERR_IO, "%s: fsync of directory failed: %s", dir, strerror(e));
    }
    return XS_OK;
}

xs_result xs_commit_file(const char *tmp_path, const char *final_path, xs_err *err)
{
    return commit(tmp_path, final_path, true, true, err);
}

xs_result xs_commit_file_nodirsync(const char *tmp_path, const char *final_path, xs_err *err)
{
    return commit(tmp_path, final_path, true, false, err);
}

xs_result xs_commit_synced_file(const char *tmp_path, const char *final_path, bool sync_dir, xs_err *err)
{
    return commit(tmp_path, final_path, false, sync_dir, err);
}

xs_result xs_file_open_regular(const char *path, int *fd_out, uint64_t *size, xs_err *err)
{
    *fd_out = -1;
    *size = 0;
    /* O_NONBLOCK: a FIFO (or a device) opens at once instead of waiting for
     * a writer, and is refused below; reads of a regular file never block */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        return xs_err_set(err, XS_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return xs_err_set(err, XS_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        const char *what = S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a directory"
                           : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                           : S_ISSOCK(st.st_mode) ? "a socket" : "something else";
        close(fd);
        return xs_err_set(err, XS_ERR_INVALID, "%s: is %s, not a regular file", path, what);
    }
    *fd_out = fd;
    *size = (uint64_t)st.st_size;
    return XS_OK;
}

xs_result xs_file_read_all(const char *path, uint64_t max_bytes, unsigned char **out, size_t *len,
                           xs_err *err)
{
    *out = NULL;
    *len = 0;
    int fd = -1;
    uint64_t fsize = 0;
    xs_result r0 = xs_file_open_regular(path, &fd, &fsize, err);
    if (r0 != XS_OK)
        return r0;
    struct stat st;
    st.st_size = (off_t)fsize;
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        return xs_err_set(err, XS_ERR_INVALID, "%s: %lld bytes exceeds the limit of %llu", path,
                          (long long)st.st_size, (unsigned long long)max_bytes);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory for %zu bytes", path, n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = k < 0 ? errno : EIO;
            free(buf);
            close(fd);
            return xs_err_set(err, XS_ERR_IO, "%s: read failed: %s", path,
                              k < 0 ? strerror(e) : "file shrank while reading");
        }
        got += (size_t)k;
    }
    close(fd);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return XS_OK;
}

xs_result xs_file_write_atomic(const char *path, const void *data, size_t len, xs_err *err)
{
    char tmp[PATH_MAX];
    xs_result r = xs_tmp_path(path, tmp, sizeof tmp, err);
    if (r != XS_OK)
        return r;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        return xs_err_set(err, XS_ERR_IO, "%s: cannot create: %s", path, strerror(e));
    }
    size_t done = 0;
    while (done < len) {
        ssize_t k = write(fd, (const unsigned char *)data + done, len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return xs_err_set(err, XS_ERR_IO, "%s: write failed: %s", path, strerror(e));
        }
        done += (size_t)k;
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return xs_err_set(err, XS_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return xs_commit_file(tmp, path, err);
}

xs_result xs_path_normalize(const char *path, char *out, size_t out_size, xs_err *err)
{
    if (!path || !*path)
        return xs_err_set(err, XS_ERR_INVALID, "empty path");
    if (path[0] == '/')
        return xs_err_set(err, XS_ERR_INVALID, "absolute path '%s'", path);
    size_t o = 0;
    const char *p = path;
    while (*p) {
        const char *seg = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - seg);
        if (*p == '/')
            p++;
        if (len == 0 || (len == 1 && seg[0] == '.'))
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.')
            return xs_err_set(err, XS_ERR_INVALID, "path '%s' has a '..' component", path);
        for (size_t i = 0; i < len; ++i) {
            unsigned char c = (unsigned char)seg[i];
            if (c < 0x20 || c == 0x7f || c == '\\')
                return xs_err_set(err, XS_ERR_INVALID,
                                  "path '%s' holds a backslash or control character", path);
        }
        if (len == 2 && seg[1] == ':' && o == 0)
            return xs_err_set(err, XS_ERR_INVALID, "path '%s' names a drive", path);
        if (o + len + 2 > out_size)
            return xs_err_set(err, XS_ERR_INVALID, "path '%.64s...' is too long", path);
        if (o > 0)
            out[o++] = '/';
        memcpy(out + o, seg, len);
        o += len;
    }
    if (o == 0)
        return xs_err_set(err, XS_ERR_INVALID, "path '%s' names no file", path);
    out[o] = '\0';
    return XS_OK;
}

xs_result xs_file_hash(const char *path, uint64_t *size, uint64_t *hash, xs_err *err)
{
    *size = 0;
    *hash = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        return xs_err_set(err, XS_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return xs_err_set(err, XS_ERR_INVALID, "%s: not a regular file", path);
    }
    XXH3_state_t *state = XXH3_createState();
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    xs_result r = state && buf && XXH3_64bits_reset(state) == XXH_OK
                      ? XS_OK
                      : xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
    uint64_t total = 0;
    while (r == XS_OK) {
        ssize_t k = read(fd, buf, CHUNK);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            r = xs_err_set(err, XS_ERR_IO, "%s: read failed: %s", path, strerror(e));
            break;
        }
        if (k == 0)
            break;
        XXH3_64bits_update(state, buf, (size_t)k);
        total += (uint64_t)k;
    }
    if (r == XS_OK) {
        *size = total;
        *hash = XXH3_64bits_digest(state);
    }
    XXH3_freeState(state);
    free(buf);
    close(fd);
    return r;
}
