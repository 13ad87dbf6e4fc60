/* The service's JSON-lines log (see xs_log.h). */
#include "service/xs_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct xs_log {
    FILE *f;
    int own;
    pthread_mutex_t lock;
};

double xs_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

xs_result xs_log_open(const char *path, xs_log **out, xs_err *err)
{
    *out = NULL;
    xs_log *lg = calloc(1, sizeof *lg);
    if (!lg)
        return xs_err_set(err, XS_ERR_NOMEM, "log: out of memory");
    if (!path || strcmp(path, "-") == 0) {
        lg->f = stdout;
    } else {
        lg->f = fopen(path, "a");
        lg->own = 1;
        if (!lg->f) {
            int e = errno;
            free(lg);
            return xs_err_set(err, XS_ERR_IO, "%s: cannot open the log: %s", path, strerror(e));
        }
    }
    pthread_mutex_init(&lg->lock, NULL);
    *out = lg;
    return XS_OK;
}

void xs_log_close(xs_log *lg)
{
    if (!lg)
        return;
    if (lg->own)
        fclose(lg->f);
    else
        fflush(lg->f);
    pthread_mutex_destroy(&lg->lock);
    free(lg);
}

void xs_log_emit(xs_log *lg, const char *level, const char *event, const char *fields, ...)
{
    if (!lg)
        return;
    char line[8192];
    int n = snprintf(line, sizeof line, "{\"time\": %.3f, \"level\": \"%s\", \"event\": \"%s\"",
                     xs_wall_now(), level, event);
    if (fields && *fields && n > 0 && (size_t)n < sizeof line - 4) {
        n += snprintf(line + n, sizeof line - (size_t)n, ", ");
        va_list ap;
        va_start(ap, fields);
        int k = vsnprintf(line + n, sizeof line - (size_t)n - 2, fields, ap);
        va_end(ap);
        if (k > 0)
            n += k;
        if ((size_t)n > sizeof line - 3)
            n = (int)sizeof line - 3; /* cut: a line stays one line */
    }
    line[n++] = '}';
    line[n++] = '\n';
    pthread_mutex_lock(&lg->lock);
    fwrite(line, 1, (size_t)n, lg->f);
    fflush(lg->f);
    pthread_mutex_unlock(&lg->lock);
}
