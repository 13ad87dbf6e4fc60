/* The event log (see xs_events.h). */
#include "io/xs_events.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct xs_events {
    FILE *f;
    double last_flush;
};

xs_result xs_events_open(const char *path, xs_events **out, xs_err *err)
{
    *out = NULL;
    xs_events *ev = calloc(1, sizeof *ev);
    if (!ev)
        return xs_err_set(err, XS_ERR_NOMEM, "events: out of memory");
    ev->f = fopen(path, "a");
    if (!ev->f) {
        int e = errno;
        free(ev);
        return xs_err_set(err, XS_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    *out = ev;
    return XS_OK;
}

void xs_events_close(xs_events *ev)
{
    if (!ev)
        return;
    fclose(ev->f);
    free(ev);
}

void xs_events_emit(xs_events *ev, const char *type, const char *fields, ...)
{
    if (!ev)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    fprintf(ev->f, "{\"time\": %.3f, \"event\": \"%s\"", (double)tv.tv_sec + tv.tv_usec * 1e-6, type);
    if (fields && *fields) {
        fputs(", ", ev->f);
        va_list ap;
        va_start(ap, fields);
        vfprintf(ev->f, fields, ap);
        va_end(ap);
    }
    fputs("}\n", ev->f);
    /* per-tile events are many: flush them at most twice a second (a reader
     * polling the log sees them soon; resume relies on the journal, not on
     * this); everything else at once */
    double now = (double)tv.tv_sec + tv.tv_usec * 1e-6;
    bool bulk = strcmp(type, "tile_dispatched") == 0 || strcmp(type, "tile_committed") == 0 ||
                strcmp(type, "assembly_dispatched") == 0;
    if (!bulk || now - ev->last_flush > 0.5) {
        fflush(ev->f);
        ev->last_flush = now;
    }
}
