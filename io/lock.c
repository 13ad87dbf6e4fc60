/* The output folder's lock (see xs_lock.h). */
#include "io/xs_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct xs_lock {
    int fd;
};

/* What the holder wrote (host pid since), waiting a moment for a holder that
 * has just taken the lock and not yet written. */
static void read_holder(int fd, char *out, size_t n)
{
    for (int tries = 0; tries < 20; ++tries) {
        ssize_t k = pread(fd, out, n - 1, 0);
        if (k > 0) {
            out[k] = '\0';
            char *nl = strchr(out, '\n');
            if (nl) {
                *nl = '\0';
                return;
            }
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    snprintf(out, n, "an unknown process");
}

xs_result xs_lock_acquire(const char *path, xs_lock **out, xs_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        int e = errno;
        return xs_err_set(err, XS_ERR_IO, "%s: cannot open the lock file: %s", path, strerror(e));
    }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET; /* the whole file */
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        int e = errno;
        xs_result r;
        if (e == EACCES || e == EAGAIN) {
            char holder[256];
            read_holder(fd, holder, sizeof holder);
            r = xs_err_set(err, XS_ERR_INVALID,
                           "%s: another xisuan is writing this output folder (%s); wait for it to "
                           "end, or use another --job or --out", path, holder);
        } else {
            r = xs_err_set(err, XS_ERR_IO, "%s: cannot lock: %s", path, strerror(e));
        }
        close(fd);
        return r;
    }
    char host[128] = "?", line[320];
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    char since[64] = "?";
    if (gmtime_r(&now, &tm))
        strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(line, sizeof line, "host %s, pid %ld, since %s\n", host, (long)getpid(), since);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n) {
        int e = errno;
        close(fd);
        return xs_err_set(err, XS_ERR_IO, "%s: cannot write the lock file: %s", path, strerror(e));
    }
    xs_lock *l = malloc(sizeof *l);
    if (!l) {
        close(fd);
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
    }
    l->fd = fd;
    *out = l;
    return XS_OK;
}

void xs_lock_release(xs_lock *l)
{
    if (!l)
        return;
    close(l->fd); /* closing the descriptor drops the lock */
    free(l);
}
