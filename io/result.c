/* Error messages: a result code plus a formatted message, kept by the caller.
 * Messages say what, where and why ("--spp: must be in [1, 1000000], got 0").
 * They often quote input (entry names, paths, glTF fields), so control
 * characters are escaped as they are stored: a hostile name cannot move the
 * cursor, clear the screen or forge a line on the operator's terminal. */
#include "io/xs_result.h"

#include <stdarg.h>
#include <stdio.h>

void xs_text_escape(const char *in, char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (n == 0)
        return;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 1 < n; ++p) {
        unsigned c = *p;
        unsigned esc = 0; /* the code point to write as \xNN, or 0 */
        if (c < 0x20 || c == 0x7f)
            esc = c;
        else if (c == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* C1 controls, as UTF-8 */
            esc = *++p;
        if (!esc) {
            out[o++] = (char)c;
            continue;
        }
        if (o + 5 > n)
            break;
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = hex[(esc >> 4) & 15];
        out[o++] = hex[esc & 15];
    }
    out[o] = '\0';
}

xs_result xs_err_set(xs_err *err, xs_result code, const char *fmt, ...)
{
    if (err) {
        char raw[sizeof err->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        xs_text_escape(raw, err->msg, sizeof err->msg);
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
