/* JSON helpers (see xs_json.h). */
#include "io/xs_json.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

const char *xs_json_unknown_key(const cJSON *obj, const char *const *keys)
{
    for (const cJSON *it = obj ? obj->child : NULL; it; it = it->next) {
        bool ok = false;
        for (const char *const *k = keys; *k; ++k)
            ok |= strcmp(it->string, *k) == 0;
        if (!ok)
            return it->string;
    }
    return NULL;
}

void xs_json_escape(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 7 < n; ++p) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, n - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    if (n > 0)
        out[o < n ? o : n - 1] = '\0';
}
