/* Error messages: a result code plus a formatted message, kept by the caller.
 * Messages say what, where and why ("--spp: must be in [1, 1000000], got 0"). */
#include "io/xs_result.h"

#include <stdarg.h>
#include <stdio.h>

xs_result xs_err_set(xs_err *err, xs_result code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void xs_err_clear(xs_err *err)
{
    if (err) {
        err->code = XS_OK;
        err->msg[0] = '\0';
    }
}

const char *xs_result_name(xs_result code)
{
    switch (code) {
    case XS_OK: return "ok";
    case XS_ERR_INVALID: return "invalid input";
    case XS_ERR_IO: return "I/O error";
    case XS_ERR_NOMEM: return "out of memory";
    case XS_ERR_EXR: return "EXR error";
    case XS_ERR_MPI: return "MPI error";
    case XS_ERR_RENDER: return "render error";
    case XS_ERR_INTERNAL: return "internal error";
    case XS_ERR_DEVICE: return "device lost";
    }
    return "unknown error";
}
