/* Running another program from the service (`xisuan pack --check`, `xisuan
 * submit`, squeue, scancel): posix_spawn (safe in a threaded process), its
 * standard output and error captured through a pipe up to a bound, a time
 * limit after which it is killed. Shareable: each call is independent.
 */
#ifndef XS_PROC_H
#define XS_PROC_H

#include <stdbool.h>
#include <stddef.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { XS_PROC_OUTPUT_MAX = 65536 };

typedef struct xs_proc_result {
    int status;      /* exit status; 128 + signal when killed; -1 when it could not start */
    bool timed_out;
    char out[XS_PROC_OUTPUT_MAX]; /* stdout and stderr together, NUL-terminated, cut at the bound */
    size_t len;
} xs_proc_result;

/* Runs argv (argv[0] a path or a name on PATH) for at most timeout_s seconds.
 * XS_OK whenever it ran (its exit status is in res); an error when it could
 * not be started. */
xs_result xs_proc_run(char *const argv[], double timeout_s, xs_proc_result *res, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
