/* JSON helpers (see xs_json.h). */
#include "io/xs_json.h"

#include <stdbool.h>
#include <stdlib.h>
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

/* The offset of the first NUL byte or \u0000 escape in text, or -1. */
static long find_nul(const char *t, size_t len)
{
    bool in_string = false;
    for (size_t i = 0; i < len; ++i) {
        char c = t[i];
        if (c == '\0')
            return (long)i;
        if (!in_string) {
            in_string = c == '"';
            continue;
        }
        if (c == '"') {
            in_string = false;
        } else if (c == '\\' && i + 1 < len) {
            if (t[i + 1] == 'u' && i + 5 < len && t[i + 2] == '0' && t[i + 3] == '0' &&
                t[i + 4] == '0' && t[i + 5] == '0')
                return (long)i;
            ++i; /* the escaped character */
        }
    }
    return -1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first duplicate member name in o or below it (path says where), or NULL. */
static const char *find_duplicate(const cJSON *o, char *path, size_t n)
{
    if (!cJSON_IsObject(o) && !cJSON_IsArray(o))
        return NULL;
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, o) ++k;
    if (cJSON_IsObject(o) && k > 1) {
        const char **names = malloc(k * sizeof *names);
        if (!names)
            return NULL;
        size_t m = 0;
        cJSON_ArrayForEach(it, o) names[m++] = it->string ? it->string : "";
        qsort(names, m, sizeof *names, cmp_names);
        for (size_t i = 1; i < m; ++i)
            if (strcmp(names[i - 1], names[i]) == 0) {
                const char *d = names[i];
                free(names);
                return d;
            }
        free(names);
    }
    size_t base = strlen(path);
    int idx = 0;
    cJSON_ArrayForEach(it, o) {
        if (it->string)
            snprintf(path + base, n - base, "%s%s", base ? "." : "", it->string);
        else
            snprintf(path + base, n - base, "[%d]", idx);
        ++idx;
        const char *d = find_duplicate(it, path, n);
        if (d)
            return d;
        path[base] = '\0';
    }
    return NULL;
}

xs_result xs_json_parse_strict(const char *label, const char *text, size_t len, cJSON **out,
                               xs_err *err)
{
    *out = NULL;
    long nul = find_nul(text, len);
    if (nul >= 0)
        return xs_err_set(err, XS_ERR_INVALID, "%s: a NUL character (byte or \\u0000) at byte %ld",
                          label, nul);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= text && at <= text + len ? (long)(at - text) : -1;
        return xs_err_set(err, XS_ERR_INVALID, "%s: not valid JSON (near byte %ld)", label, off);
    }
    for (const char *p = end; p && p < text + len; ++p)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return xs_err_set(err, XS_ERR_INVALID, "%s: text after the JSON value (byte %ld)", label,
                              (long)(p - text));
        }
    char path[512] = "";
    const char *dup = find_duplicate(root, path, sizeof path);
    if (dup) {
        xs_result r = xs_err_set(err, XS_ERR_INVALID, "%s: %s: member '%.100s' given twice", label,
                                 path[0] ? path : "(top level)", dup);
        cJSON_Delete(root);
        return r;
    }
    *out = root;
    return XS_OK;
}
