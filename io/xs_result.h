/* Results and error messages: every function of ours that can fail returns an
 * xs_result and, when given an xs_err, fills it with a message that says what,
 * where and why ("scene.json: camera.yfov: must be in (0, 180), got 270").
 *
 * The bottom of the dependency graph: the pure scheduling policy uses this
 * header alone, without linking anything that touches files or pixels.
 */
#ifndef XS_RESULT_H
#define XS_RESULT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xs_result {
    XS_OK = 0,
    XS_ERR_INVALID = 1, /* bad input: a flag, a value, a file's content */
    XS_ERR_IO = 2,      /* the operating system refused (open, write, rename) */
    XS_ERR_NOMEM = 3,
    XS_ERR_EXR = 4,     /* OpenEXR Core reported an error */
    XS_ERR_MPI = 5,
    XS_ERR_RENDER = 6,
    XS_ERR_INTERNAL = 7,
    XS_ERR_DEVICE = 8   /* the device is lost (a sticky CUDA error): its back end takes no more tiles */
} xs_result;

typedef struct xs_err {
    xs_result code;
    char msg[1024];
} xs_err;

/* Copies text into out (n bytes, always terminated) with its control
 * characters (C0, DEL, and C1 as UTF-8) written as \xNN, for text from
 * input shown to a person. */
void xs_text_escape(const char *text, char *out, size_t n);
/* Sets err (when not NULL) to code and a printf-style message, its control
 * characters escaped (xs_text_escape); returns code. */
xs_result xs_err_set(xs_err *err, xs_result code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Clears err to XS_OK and an empty message. */
void xs_err_clear(xs_err *err);
/* A short name for a result code ("invalid input", "I/O error", ...). */
const char *xs_result_name(xs_result code);

#ifdef __cplusplus
}
#endif
#endif
