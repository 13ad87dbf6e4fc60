/* The service's log: JSON lines, one object a line, on standard output or a
 * file, for journald, Loki or jq:
 *   {"time": 1700000000.123, "level": "info", "event": "request", ...}
 * Every line is written whole and flushed at once (a lock orders the
 * threads). Values that hold text from outside pass through xs_json_escape;
 * tokens are never logged. Shareable between threads after open.
 */
#ifndef XS_LOG_H
#define XS_LOG_H

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_log xs_log;

/* path NULL or "-": standard output; otherwise appended to. */
xs_result xs_log_open(const char *path, xs_log **out, xs_err *err);
void xs_log_close(xs_log *lg); /* accepts NULL */
/* Writes {"time", "level", "event", <fields>}: fields is a printf format for
 * the rest of the members (may be NULL). Does nothing when lg is NULL. */
void xs_log_emit(xs_log *lg, const char *level, const char *event, const char *fields, ...)
    __attribute__((format(printf, 4, 5)));

/* Wall-clock Unix seconds: what the log, leases and the database use. */
double xs_wall_now(void);

#ifdef __cplusplus
}
#endif
#endif
