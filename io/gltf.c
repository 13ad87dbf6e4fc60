/* glTF 2.0 loader (see xs_gltf.h). Reads the JSON with cJSON, resolves
 * buffers (GLB BIN chunk, data: URIs, files through the fetch callback),
 * checks every accessor and buffer view against its buffer before reading,
 * walks the default scene's node hierarchy for world transforms, and keeps
 * each mesh once however many nodes place it. */
#include "io/gltf_internal.h"
#include "io/xs_file.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void xs_gltf_limits_default(xs_gltf_limits *l)
{
    l->max_triangles = 1ull << 28;
    l->max_image_pixels = 1ull << 27;
    l->max_texture_bytes = 8ull << 30;
    l->max_nodes = 1ull << 24;
    l->max_instances = 1ull << 24;
    l->max_node_depth = 256;
    l->max_joints = 16384;
    l->max_keyframes = 1ull << 24;
    l->max_morph_targets = 256;
    l->skip_images = false;
    l->image_sink = NULL;
    l->image_sink_user = NULL;
}

xs_result xs_gltf_bad(xs_gltf_loader *L, const char *fmt, ...)
{
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return xs_err_set(L->err, XS_ERR_INVALID, "%s: %s", L->label, msg);
}

xs_result xs_gltf_nomem(xs_gltf_loader *L)
{
    return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
}

const cJSON *xs_gltf_arr(const cJSON *o, const char *k)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsArray(a) ? a : NULL;
}

/* Indexes array a (may be NULL: empty) into out. */
xs_result xs_gltf_index_array(xs_gltf_loader *L, const cJSON *a, xs_gltf_jarr *out)
{
    out->n = 0;
    out->v = NULL;
    if (!a)
        return XS_OK;
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, a) ++n;
    if (n == 0)
        return XS_OK;
    out->v = malloc((size_t)n * sizeof *out->v);
    if (!out->v)
        return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
    cJSON_ArrayForEach(it, a) out->v[out->n++] = it;
    return XS_OK;
}

/* An optional integer index into an array of n; -1 when absent. */
xs_result xs_gltf_index(xs_gltf_loader *L, const cJSON *o, const char *k, int n, const char *what,
                           int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    *out = -1;
    if (!v)
        return XS_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble >= n)
        return xs_gltf_bad(L, "%s.%s: index out of range (%d available)", what, k, n);
    *out = (int)v->valuedouble;
    return XS_OK;
}

/* A number, or dflt when absent, not a number, or beyond float range (so
 * every later conversion to float or int is defined). */
double xs_gltf_num(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && fabs(v->valuedouble) <= FLT_MAX
               ? v->valuedouble
               : dflt;
}

/* An integer field, or dflt when absent or not an integer in int range. */
static int get_int(const cJSON *o, const char *k, int dflt)
{
    double v = xs_gltf_num(o, k, (double)dflt);
    return v == floor(v) && v >= (double)INT_MIN && v <= (double)INT_MAX ? (int)v : dflt;
}

xs_result xs_gltf_nums(xs_gltf_loader *L, const cJSON *o, const char *k, int n, float *out,
                          const char *what)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!v)
        return XS_OK;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n)
        return xs_gltf_bad(L, "%s.%s: expected %d numbers", what, k, n);
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, v) {
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || fabs(x->valuedouble) > FLT_MAX)
            return xs_gltf_bad(L, "%s.%s: expected %d finite numbers", what, k, n);
        out[i++] = (float)x->valuedouble;
    }
    return XS_OK;
}

/* ---- buffers ----------------------------------------------------------------- */

static int b64v(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static xs_result decode_data_uri(xs_gltf_loader *L, const char *uri, unsigned char **out, size_t *len,
                                 const char *what)
{
    const char *comma = strchr(uri, ',');
    if (!comma || !strstr(uri, ";base64") || strstr(uri, ";base64") > comma)
        return xs_gltf_bad(L, "%s: only base64 data: URIs are supported", what);
    const char *p = comma + 1;
    size_t n = strlen(p);
    unsigned char *buf = malloc(n / 4 * 3 + 4);
    if (!buf)
        return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; ++i) {
        if (p[i] == '=')
            break;
        int v = b64v((unsigned char)p[i]);
        if (v < 0) {
            free(buf);
            return xs_gltf_bad(L, "%s: invalid base64 in data: URI", what);
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
        }
    }
    *out = buf;
    *len = o;
    return XS_OK;
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A relative URI: percent-decoded and normalised; absolute ones refused. */
static xs_result fetch_uri(xs_gltf_loader *L, const char *uri, const unsigned char **data, size_t *len,
                           const char *what)
{
    char dec[1024];
    size_t o = 0;
    for (const char *p = uri; *p; ++p) {
        if (o + 1 >= sizeof dec)
            return xs_gltf_bad(L, "%s: uri too long", what);
        if (*p == '%' && hexv(p[1]) >= 0 && hexv(p[2]) >= 0) {
            dec[o++] = (char)(hexv(p[1]) * 16 + hexv(p[2]));
            p += 2;
        } else {
            dec[o++] = *p;
        }
    }
    dec[o] = '\0';
    if (strstr(dec, "://") || strncmp(dec, "file:", 5) == 0)
        return xs_gltf_bad(L, "%s: uri '%s': only relative file names are allowed", what, uri);
    char norm[1024];
    xs_err pe;
    if (xs_path_normalize(dec, norm, sizeof norm, &pe) != XS_OK)
        return xs_gltf_bad(L, "%s: uri '%s': %s", what, uri, pe.msg);
    if (!L->fetch)
        return xs_gltf_bad(L, "%s: uri '%s': no external files can be read here", what, uri);
    xs_err fe;
    if (L->fetch(L->user, norm, data, len, &fe) != XS_OK)
        return xs_gltf_bad(L, "%s: uri '%s': %s", what, uri, fe.msg);
    return XS_OK;
}

static xs_result load_buffer(xs_gltf_loader *L, const cJSON *b, int i);

static xs_result load_buffers(xs_gltf_loader *L)
{
    xs_gltf_jarr bufs;
    TRY(xs_gltf_index_array(L, xs_gltf_arr(L->root, "buffers"), &bufs));
    int n = bufs.n;
    L->buffer_count = n;
    if (n == 0)
        return XS_OK;
    L->buf = calloc((size_t)n, sizeof *L->buf);
    L->buf_len = calloc((size_t)n, sizeof *L->buf_len);
    L->buf_owned = calloc((size_t)n, sizeof *L->buf_owned);
    if (!L->buf || !L->buf_len || !L->buf_owned) {
        free(bufs.v);
        return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
    }
    xs_result r = XS_OK;
    for (int i = 0; i < n && r == XS_OK; ++i)
        r = load_buffer(L, bufs.v[i], i);
    free(bufs.v);
    return r;
}

/* buffers[i]: the GLB chunk, a data: URI or a file. */
static xs_result load_buffer(xs_gltf_loader *L, const cJSON *b, int i)
{
    {
        char what[64];
        snprintf(what, sizeof what, "buffers[%d]", i);
        const cJSON *bl = cJSON_GetObjectItemCaseSensitive(b, "byteLength");
        if (!cJSON_IsNumber(bl) || bl->valuedouble < 1 || bl->valuedouble != floor(bl->valuedouble))
            return xs_gltf_bad(L, "%s.byteLength: missing or not a positive integer", what);
        double need = bl->valuedouble;
        const cJSON *uri = cJSON_GetObjectItemCaseSensitive(b, "uri");
        if (cJSON_IsString(uri)) {
            if (strncmp(uri->valuestring, "data:", 5) == 0) {
                TRY(decode_data_uri(L, uri->valuestring, &L->buf_owned[i], &L->buf_len[i], what));
                L->buf[i] = L->buf_owned[i];
            } else {
                TRY(fetch_uri(L, uri->valuestring, &L->buf[i], &L->buf_len[i], what));
            }
        } else if (i == 0 && L->is_glb && L->glb_bin) {
            L->buf[i] = L->glb_bin;
            L->buf_len[i] = L->glb_bin_len;
        } else {
            return xs_gltf_bad(L, "%s: no uri and no GLB binary chunk", what);
        }
        if ((double)L->buf_len[i] < need)
            return xs_gltf_bad(L, "%s: holds %zu bytes, byteLength says %.0f", what, L->buf_len[i], need);
        L->buf_len[i] = (size_t)need;
    }
    return XS_OK;
}

/* A buffer view, checked against its buffer. */
static xs_result view(xs_gltf_loader *L, int idx, const unsigned char **base, size_t *len, int *stride,
                      const char *what)
{
    int n = L->views.n;
    if (idx < 0 || idx >= n)
        return xs_gltf_bad(L, "%s: bufferView %d out of range (%d available)", what, idx, n);
    const cJSON *v = L->views.v[idx];
    int b = -1;
    char w[96];
    snprintf(w, sizeof w, "bufferViews[%d]", idx);
    TRY(xs_gltf_index(L, v, "buffer", L->buffer_count, w, &b));
    if (b < 0)
        return xs_gltf_bad(L, "%s.buffer: missing", w);
    double off = xs_gltf_num(v, "byteOffset", 0), bl = xs_gltf_num(v, "byteLength", -1);
    double st = xs_gltf_num(v, "byteStride", 0);
    if (off < 0 || bl < 1 || off != floor(off) || bl != floor(bl) || off + bl > (double)L->buf_len[b])
        return xs_gltf_bad(L, "%s: bytes [%.0f, %.0f) fall outside buffers[%d] of %zu bytes", w, off,
                   off + bl, b, L->buf_len[b]);
    if (st != 0 && (st < 4 || st > 252 || fmod(st, 4) != 0))
        return xs_gltf_bad(L, "%s.byteStride: %.0f is not a multiple of 4 in [4, 252]", w, st);
    *base = L->buf[b] + (size_t)off;
    *len = (size_t)bl;
    *stride = (int)st;
    return XS_OK;
}

/* ---- accessors ------------------------------------------------------------------ */


static int type_components(const char *t)
{
    if (!t) return 0;
    if (strcmp(t, "SCALAR") == 0) return 1;
    if (strcmp(t, "VEC2") == 0) return 2;
    if (strcmp(t, "VEC3") == 0) return 3;
    if (strcmp(t, "VEC4") == 0) return 4;
    if (strcmp(t, "MAT4") == 0) return 16;
    return 0;
}

static int comp_size(int c)
{
    switch (c) {
    case 5120: case 5121: return 1;
    case 5122: case 5123: return 2;
    case 5125: case 5126: return 4;
    }
    return 0;
}

/* bytes [off, off + need) of a sparse part's buffer view (`what` names the
 * part), tightly packed as the spec requires. */
static xs_result sparse_part(xs_gltf_loader *L, const cJSON *o, const char *what, size_t need,
                             size_t align, const unsigned char **out)
{
    int bv = -1;
    TRY(xs_gltf_index(L, o, "bufferView", 1 << 30, what, &bv));
    if (bv < 0)
        return xs_gltf_bad(L, "%s.bufferView: missing", what);
    const unsigned char *base;
    size_t len;
    int stride;
    TRY(view(L, bv, &base, &len, &stride, what));
    double off = xs_gltf_num(o, "byteOffset", 0);
    if (off < 0 || off != floor(off) || fmod(off, (double)align) != 0)
        return xs_gltf_bad(L, "%s.byteOffset: must be a non-negative multiple of %zu", what, align);
    if (off + (double)need > (double)len)
        return xs_gltf_bad(L, "%s: %zu bytes from byte %.0f overrun its bufferView of %zu bytes", what,
                           need, off, len);
    *out = base + (size_t)off;
    return XS_OK;
}

static size_t sparse_index(const xs_gltf_acc *a, size_t k)
{
    const unsigned char *p = a->sparse_idx + k * (size_t)comp_size(a->sparse_icomp);
    switch (a->sparse_icomp) {
    case 5121: return *p;
    case 5123: { uint16_t v; memcpy(&v, p, 2); return v; }
    default: { uint32_t v; memcpy(&v, p, 4); return v; }
    }
}

/* A sparse accessor's substitutions (glTF 3.6.2.3): count elements whose
 * indices strictly increase below the accessor's count, values of the
 * accessor's element type, both checked against their buffer views. */
static xs_result sparse(xs_gltf_loader *L, const cJSON *sp, const char *w, size_t elem,
                        xs_gltf_acc *a)
{
    char ws[128];
    snprintf(ws, sizeof ws, "%s.sparse", w);
    double cnt = xs_gltf_num(sp, "count", -1);
    if (cnt < 1 || cnt != floor(cnt) || cnt > (double)a->count)
        return xs_gltf_bad(L, "%s.count: must be an integer in [1, %zu]", ws, a->count);
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(sp, "indices");
    const cJSON *va = cJSON_GetObjectItemCaseSensitive(sp, "values");
    if (!cJSON_IsObject(ix) || !cJSON_IsObject(va))
        return xs_gltf_bad(L, "%s: needs indices and values", ws);
    a->sparse_count = (size_t)cnt;
    a->sparse_icomp = get_int(ix, "componentType", 0);
    if (a->sparse_icomp != 5121 && a->sparse_icomp != 5123 && a->sparse_icomp != 5125)
        return xs_gltf_bad(L, "%s.indices.componentType: must be unsigned byte, short or int", ws);
    size_t isz = (size_t)comp_size(a->sparse_icomp);
    char wi[160], wv[160];
    snprintf(wi, sizeof wi, "%s.indices", ws);
    snprintf(wv, sizeof wv, "%s.values", ws);
    TRY(sparse_part(L, ix, wi, a->sparse_count * isz, isz, &a->sparse_idx));
    TRY(sparse_part(L, va, wv, a->sparse_count * elem, (size_t)a->csize, &a->sparse_val));
    for (size_t k = 0; k < a->sparse_count; ++k) {
        size_t i = sparse_index(a, k);
        if (i >= a->count || (k > 0 && i <= sparse_index(a, k - 1)))
            return xs_gltf_bad(L, "%s[%zu]: %zu must increase strictly and stay below the count %zu", wi,
                               k, i, a->count);
    }
    return XS_OK;
}

/* The bytes of element i: a sparse substitution (binary search) or the base
 * (NULL: zeros). */
static const unsigned char *element(const xs_gltf_acc *a, size_t i)
{
    if (a->sparse_count) {
        size_t lo = 0, hi = a->sparse_count;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            size_t v = sparse_index(a, mid);
            if (v == i)
                return a->sparse_val + mid * (size_t)a->csize * (size_t)a->ncomp;
            if (v < i)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    return a->base ? a->base + i * a->stride : NULL;
}

xs_result xs_gltf_accessor(xs_gltf_loader *L, int idx, const char *what, xs_gltf_acc *a)
{
    int n = L->accessors.n;
    if (idx < 0 || idx >= n)
        return xs_gltf_bad(L, "%s: accessor %d out of range (%d available)", what, idx, n);
    const cJSON *o = L->accessors.v[idx];
    char w[96];
    snprintf(w, sizeof w, "accessors[%d]", idx);
    memset(a, 0, sizeof *a);
    a->comp = get_int(o, "componentType", 0);
    a->csize = comp_size(a->comp);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    a->ncomp = type_components(cJSON_IsString(t) ? t->valuestring : NULL);
    double cnt = xs_gltf_num(o, "count", -1);
    a->normalized = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "normalized"));
    if (a->csize == 0)
        return xs_gltf_bad(L, "%s.componentType: %d is not a glTF component type", w, a->comp);
    if (a->ncomp == 0)
        return xs_gltf_bad(L, "%s.type: missing or unsupported", w);
    if (cnt < 1 || cnt != floor(cnt) || cnt > 4294967295.0)
        return xs_gltf_bad(L, "%s.count: must be a positive integer", w);
    a->count = (size_t)cnt;
    /* an accessor without a buffer view is all zeros of any length: bound
     * every accessor by the scene's limits before anything is allocated */
    if ((double)a->count > 3.0 * (double)L->lim.max_triangles)
        return xs_gltf_bad(L, "%s.count: %zu elements exceeds the limit of %llu", w, a->count,
                   3ull * (unsigned long long)L->lim.max_triangles);
    int bv = -1;
    TRY(xs_gltf_index(L, o, "bufferView", 1 << 30, w, &bv));
    size_t elem = (size_t)a->csize * (size_t)a->ncomp;
    if (bv < 0) {
        /* zeros: nothing in the package pays for their size, so cap them */
        if (a->count > (1u << 24))
            return xs_gltf_bad(L, "%s: %zu zero elements without a bufferView (at most %u)", w, a->count,
                       1u << 24);
    } else {
        const unsigned char *base;
        size_t len;
        int stride;
        TRY(view(L, bv, &base, &len, &stride, w));
        double off = xs_gltf_num(o, "byteOffset", 0);
        a->stride = stride ? (size_t)stride : elem;
        if (off < 0 || off != floor(off) || fmod(off, a->csize) != 0)
            return xs_gltf_bad(L, "%s.byteOffset: must be a non-negative multiple of the component size", w);
        double end = off + (double)a->stride * (double)(a->count - 1) + (double)elem;
        if (end > (double)len)
            return xs_gltf_bad(L, "%s: %zu elements of %zu bytes (stride %zu) from byte %.0f overrun its "
                          "bufferView of %zu bytes", w, a->count, elem, a->stride, off, len);
        a->base = base + (size_t)off;
    }
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(o, "sparse");
    return sp ? sparse(L, sp, w, elem, a) : XS_OK;
}

float xs_gltf_acc_float(const xs_gltf_acc *a, size_t i, int k)
{
    const unsigned char *p = element(a, i);
    if (!p)
        return 0.0f;
    p += (size_t)k * (size_t)a->csize;
    switch (a->comp) {
    case 5126: { float f; memcpy(&f, p, 4); return f; }
    case 5120: { int8_t v; memcpy(&v, p, 1); return a->normalized ? fmaxf((float)v / 127.0f, -1.0f) : (float)v; }
    case 5121: { uint8_t v = *p; return a->normalized ? (float)v / 255.0f : (float)v; }
    case 5122: { int16_t v; memcpy(&v, p, 2); return a->normalized ? fmaxf((float)v / 32767.0f, -1.0f) : (float)v; }
    case 5123: { uint16_t v; memcpy(&v, p, 2); return a->normalized ? (float)v / 65535.0f : (float)v; }
    case 5125: { uint32_t v; memcpy(&v, p, 4); return (float)v; }
    }
    return 0.0f;
}

uint32_t xs_gltf_acc_uint(const xs_gltf_acc *a, size_t i, int k)
{
    const unsigned char *p = element(a, i);
    if (!p)
        return 0;
    p += (size_t)k * (size_t)a->csize;
    switch (a->comp) {
    case 5121: return *p;
    case 5123: { uint16_t v; memcpy(&v, p, 2); return v; }
    case 5125: { uint32_t v; memcpy(&v, p, 4); return v; }
    }
    return 0;
}

/* Reads a float attribute of ncomp components into a new array. */
xs_result xs_gltf_read_floats(xs_gltf_loader *L, int idx, int ncomp, size_t want_count, const char *what,
                             float **out)
{
    xs_gltf_acc a;
    TRY(xs_gltf_accessor(L, idx, what, &a));
    if (a.ncomp != ncomp)
        return xs_gltf_bad(L, "%s: expected %d components, accessor %d has %d", what, ncomp, idx, a.ncomp);
    if (want_count && a.count != want_count)
        return xs_gltf_bad(L, "%s: accessor %d has %zu elements, POSITION has %zu", what, idx, a.count,
                   want_count);
    if (a.comp == 5125)
        return xs_gltf_bad(L, "%s: accessor %d: unsigned int is not allowed for vertex data", what, idx);
    float *f = malloc(a.count * (size_t)ncomp * sizeof *f);
    if (!f)
        return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
    for (size_t i = 0; i < a.count; ++i)
        for (int k = 0; k < ncomp; ++k) {
            float v = xs_gltf_acc_float(&a, i, k);
            if (!isfinite(v)) {
                free(f);
                return xs_gltf_bad(L, "%s: accessor %d element %zu is not finite", what, idx, i);
            }
            f[i * (size_t)ncomp + (size_t)k] = v;
        }
    *out = f;
    return XS_OK;
}

/* ---- textures, images, materials ---------------------------------------------- */

static xs_result texref(xs_gltf_loader *L, const cJSON *o, const char *k, xs_gltf_texref *t,
                        const char *what)
{
    t->texture = -1;
    t->texcoord = 0;
    t->scale = 1.0f;
    t->offset[0] = t->offset[1] = 0.0f;
    t->rotation = 0.0f;
    t->tscale[0] = t->tscale[1] = 1.0f;
    const cJSON *ti = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!ti)
        return XS_OK;
    char w[160];
    snprintf(w, sizeof w, "%s.%s", what, k);
    TRY(xs_gltf_index(L, ti, "index", L->s->texture_count, w, &t->texture));
    if (t->texture < 0)
        return xs_gltf_bad(L, "%s.index: missing", w);
    if (strcmp(k, "occlusionTexture") != 0) /* the renderer reads no occlusion */
        L->texture_used[t->texture] = 1;
    double tc = xs_gltf_num(ti, "texCoord", 0);
    if (tc != 0 && tc != 1)
        return xs_gltf_bad(L, "%s.texCoord: only 0 and 1 are supported", w);
    t->texcoord = (int)tc;
    t->scale = (float)xs_gltf_num(ti, strcmp(k, "occlusionTexture") == 0 ? "strength" : "scale", 1.0);
    const cJSON *ext = cJSON_GetObjectItemCaseSensitive(ti, "extensions");
    const cJSON *tt = ext ? cJSON_GetObjectItemCaseSensitive(ext, "KHR_texture_transform") : NULL;
    if (tt) {
        TRY(xs_gltf_nums(L, tt, "offset", 2, t->offset, w));
        TRY(xs_gltf_nums(L, tt, "scale", 2, t->tscale, w));
        t->rotation = (float)xs_gltf_num(tt, "rotation", 0);
        double ttc = xs_gltf_num(tt, "texCoord", -1);
        if (ttc == 0 || ttc == 1)
            t->texcoord = (int)ttc;
    }
    return XS_OK;
}

/* Finds every image and reads its header; decodes those a material uses
 * (through a texture), each after its header was checked against the
 * per-image and the total limits; the others stay undecoded (width 0, rgba8
 * NULL). Runs after the materials. */
bool xs_gltf_image_srgb(const xs_gltf_scene *s, int image)
{
    for (int i = 0; i < s->material_count; ++i) {
        const int ct[2] = {s->materials[i].base_color_tex.texture, s->materials[i].emissive_tex.texture};
        for (int k = 0; k < 2; ++k)
            if (ct[k] >= 0 && ct[k] < s->texture_count && s->textures[ct[k]].image == image)
                return true;
    }
    return false;
}

static xs_result load_images(xs_gltf_loader *L)
{
    int n = L->images.n;
    if (L->lim.skip_images)
        return XS_OK; /* a paged package: the pages stand for them */
    uint8_t *used = n ? calloc((size_t)n, 1) : NULL;
    if (n && !used)
        return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
    for (int t = 0; t < L->s->texture_count; ++t)
        if (L->texture_used[t])
            used[L->s->textures[t].image] = 1;
    uint64_t total = 0;
    xs_result r = XS_OK;
    for (int i = 0; i < n && r == XS_OK; ++i) {
        const cJSON *im = L->images.v[i];
        char w[64];
        snprintf(w, sizeof w, "images[%d]", i);
        const unsigned char *data = NULL;
        size_t len = 0;
        unsigned char *owned = NULL;
        const cJSON *uri = cJSON_GetObjectItemCaseSensitive(im, "uri");
        int bv = -1;
        r = xs_gltf_index(L, im, "bufferView", 1 << 30, w, &bv);
        if (r != XS_OK)
            break;
        if (bv >= 0) {
            int stride;
            r = view(L, bv, &data, &len, &stride, w);
        } else if (cJSON_IsString(uri) && strncmp(uri->valuestring, "data:", 5) == 0) {
            r = decode_data_uri(L, uri->valuestring, &owned, &len, w);
            data = owned;
        } else if (cJSON_IsString(uri)) {
            r = fetch_uri(L, uri->valuestring, &data, &len, w);
        } else {
            r = xs_gltf_bad(L, "%s: neither uri nor bufferView", w);
        }
        char lbl[600];
        snprintf(lbl, sizeof lbl, "%s: %s", L->label, w);
        int iw = 0, ih = 0;
        if (r == XS_OK)
            r = xs_image_probe(lbl, data, len, &iw, &ih, L->err);
        const uint64_t px = (uint64_t)iw * (uint64_t)ih;
        if (!used[i]) {
            free(owned);
            continue;
        }
        if (r == XS_OK && px > L->lim.max_image_pixels)
            r = xs_gltf_bad(L, "%s: %dx%d pixels (%.1f Mpixels) exceeds the limit of %.1f Mpixels an image "
                       "(--max-image-mpix)", w, iw, ih, (double)px * 1e-6,
                    (double)L->lim.max_image_pixels * 1e-6);
        if (r == XS_OK && total + px * 4 > L->lim.max_texture_bytes)
            r = xs_gltf_bad(L, "%s: %dx%d pixels bring the decoded textures to %.1f MiB, over the limit of "
                       "%.1f MiB (--max-texture-mib)", w, iw, ih, (double)(total + px * 4) / 1048576.0,
                    (double)L->lim.max_texture_bytes / 1048576.0);
        if (r == XS_OK && L->lim.image_sink)
            r = L->lim.image_sink(L->lim.image_sink_user, i, data, len, xs_gltf_image_srgb(L->s, i), lbl, L->err);
        else if (r == XS_OK)
            r = xs_image_decode(lbl, data, len, L->lim.max_image_pixels, &L->s->images[i], L->err);
        total += px * 4;
        free(owned);
    }
    free(used);
    return r;
}

static xs_result load_textures(xs_gltf_loader *L)
{
    int n = L->textures.n, ns = L->samplers.n;
    if (L->images.n > 0) { /* decoded later, once the materials say which are used */
        L->s->images = calloc((size_t)L->images.n, sizeof *L->s->images);
        if (!L->s->images)
            return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
        L->s->image_count = L->images.n;
    }
    if (n == 0)
        return XS_OK;
    L->texture_used = calloc((size_t)n, 1);
    if (!L->texture_used)
        return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
    L->s->textures = calloc((size_t)n, sizeof *L->s->textures);
    if (!L->s->textures)
        return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
    L->s->texture_count = n;
    for (int i = 0; i < n; ++i) {
        const cJSON *t = L->textures.v[i];
        char w[64];
        snprintf(w, sizeof w, "textures[%d]", i);
        xs_gltf_texture *x = &L->s->textures[i];
        TRY(xs_gltf_index(L, t, "source", L->s->image_count, w, &x->image));
        if (x->image < 0)
            return xs_gltf_bad(L, "%s.source: missing (no image for this texture)", w);
        int si = -1;
        TRY(xs_gltf_index(L, t, "sampler", ns, w, &si));
        x->wrap_s = x->wrap_t = XS_WRAP_REPEAT;
        if (si >= 0) {
            const cJSON *s = L->samplers.v[si];
            x->mag_filter = get_int(s, "magFilter", 0);
            x->min_filter = get_int(s, "minFilter", 0);
            x->wrap_s = get_int(s, "wrapS", XS_WRAP_REPEAT);
            x->wrap_t = get_int(s, "wrapT", XS_WRAP_REPEAT);
            for (int k = 0; k < 2; ++k) {
                int v = k ? x->wrap_t : x->wrap_s;
                if (v != XS_WRAP_REPEAT && v != XS_WRAP_CLAMP && v != XS_WRAP_MIRROR)
                    return xs_gltf_bad(L, "samplers[%d].%s: %d is not a glTF wrap mode", si,
                               k ? "wrapT" : "wrapS", v);
            }
        }
    }
    return XS_OK;
}

static xs_result load_materials(xs_gltf_loader *L)
{
    int n = L->materials.n;
    if (n == 0)
        return XS_OK;
    L->s->materials = calloc((size_t)n, sizeof *L->s->materials);
    if (!L->s->materials)
        return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
    L->s->material_count = n;
    for (int i = 0; i < n; ++i) {
        const cJSON *m = L->materials.v[i];
        xs_gltf_material *x = &L->s->materials[i];
        char w[64];
        snprintf(w, sizeof w, "materials[%d]", i);
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(m, "name");
        snprintf(x->name, sizeof x->name, "%s", cJSON_IsString(nm) ? nm->valuestring : "");
        x->base_color[0] = x->base_color[1] = x->base_color[2] = x->base_color[3] = 1.0f;
        x->metallic = x->roughness = 1.0f;
        const cJSON *pbr = cJSON_GetObjectItemCaseSensitive(m, "pbrMetallicRoughness");
        char wp[96];
        snprintf(wp, sizeof wp, "%s.pbrMetallicRoughness", w);
        TRY(texref(L, pbr, "baseColorTexture", &x->base_color_tex, wp));
        TRY(texref(L, pbr, "metallicRoughnessTexture", &x->metallic_roughness_tex, wp));
        if (pbr) {
            TRY(xs_gltf_nums(L, pbr, "baseColorFactor", 4, x->base_color, wp));
            x->metallic = (float)xs_gltf_num(pbr, "metallicFactor", 1.0);
            x->roughness = (float)xs_gltf_num(pbr, "roughnessFactor", 1.0);
        }
        TRY(texref(L, m, "normalTexture", &x->normal_tex, w));
        TRY(texref(L, m, "occlusionTexture", &x->occlusion_tex, w));
        TRY(texref(L, m, "emissiveTexture", &x->emissive_tex, w));
        TRY(xs_gltf_nums(L, m, "emissiveFactor", 3, x->emissive, w));
        x->emissive_strength = 1.0f;
        const cJSON *am = cJSON_GetObjectItemCaseSensitive(m, "alphaMode");
        x->alpha_mode = XS_ALPHA_OPAQUE;
        if (cJSON_IsString(am)) {
            if (strcmp(am->valuestring, "MASK") == 0)
                x->alpha_mode = XS_ALPHA_MASK;
            else if (strcmp(am->valuestring, "BLEND") == 0)
                x->alpha_mode = XS_ALPHA_BLEND;
            else if (strcmp(am->valuestring, "OPAQUE") != 0)
                return xs_gltf_bad(L, "%s.alphaMode: '%s' is not OPAQUE, MASK or BLEND", w, am->valuestring);
        }
        x->alpha_cutoff = (float)xs_gltf_num(m, "alphaCutoff", 0.5);
        x->double_sided = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "doubleSided"));
        x->ior = 1.5f;
        x->transmission_tex.texture = -1;
        x->attenuation_color[0] = x->attenuation_color[1] = x->attenuation_color[2] = 1.0f;
        const cJSON *ext = cJSON_GetObjectItemCaseSensitive(m, "extensions");
        if (ext) {
            const cJSON *es = cJSON_GetObjectItemCaseSensitive(ext, "KHR_materials_emissive_strength");
            if (es) {
                double v = xs_gltf_num(es, "emissiveStrength", 1.0);
                if (v < 0)
                    return xs_gltf_bad(L, "%s.KHR_materials_emissive_strength.emissiveStrength: negative", w);
                x->emissive_strength = (float)v;
            }
            const cJSON *tr = cJSON_GetObjectItemCaseSensitive(ext, "KHR_materials_transmission");
            if (tr) {
                x->transmission = (float)xs_gltf_num(tr, "transmissionFactor", 0.0);
                char wt[128];
                snprintf(wt, sizeof wt, "%s.KHR_materials_transmission", w);
                TRY(texref(L, tr, "transmissionTexture", &x->transmission_tex, wt));
            }
            const cJSON *io = cJSON_GetObjectItemCaseSensitive(ext, "KHR_materials_ior");
            if (io) {
                double v = xs_gltf_num(io, "ior", 1.5);
                if (!(v == 0.0 || v >= 1.0))
                    return xs_gltf_bad(L, "%s.KHR_materials_ior.ior: %g must be 0 or at least 1", w, v);
                x->ior = (float)v;
            }
            const cJSON *vo = cJSON_GetObjectItemCaseSensitive(ext, "KHR_materials_volume");
            if (vo) {
                double th = xs_gltf_num(vo, "thicknessFactor", 0.0);
                if (!(th >= 0.0))
                    return xs_gltf_bad(L, "%s.KHR_materials_volume.thicknessFactor: %g must be at least 0", w, th);
                x->volume = th > 0.0;
                const cJSON *ad = cJSON_GetObjectItemCaseSensitive(vo, "attenuationDistance");
                if (ad) {
                    if (!cJSON_IsNumber(ad) || !(ad->valuedouble > 0.0))
                        return xs_gltf_bad(L, "%s.KHR_materials_volume.attenuationDistance: must be a number above 0", w);
                    x->attenuation_distance = (float)ad->valuedouble;
                }
                const cJSON *ac = cJSON_GetObjectItemCaseSensitive(vo, "attenuationColor");
                if (ac) {
                    if (!cJSON_IsArray(ac) || cJSON_GetArraySize(ac) != 3)
                        return xs_gltf_bad(L, "%s.KHR_materials_volume.attenuationColor: must be 3 numbers in [0, 1]", w);
                    for (int k = 0; k < 3; ++k) {
                        const cJSON *c = cJSON_GetArrayItem(ac, k);
                        if (!cJSON_IsNumber(c) || !(c->valuedouble >= 0.0 && c->valuedouble <= 1.0))
                            return xs_gltf_bad(L, "%s.KHR_materials_volume.attenuationColor[%d]: must be a number in [0, 1]", w, k);
                        x->attenuation_color[k] = (float)c->valuedouble;
                    }
                }
            }
        }
    }
    return XS_OK;
}

/* ---- meshes -------------------------------------------------------------------- */

static xs_result load_primitive(xs_gltf_loader *L, const cJSON *p, const char *w, xs_gltf_primitive *x,
                                uint64_t *tris)
{
    double mode = xs_gltf_num(p, "mode", 4);
    if (mode != 4) {
        static const char *names[] = {"POINTS", "LINES", "LINE_LOOP", "LINE_STRIP", "TRIANGLES",
                                      "TRIANGLE_STRIP", "TRIANGLE_FAN"};
        return xs_gltf_bad(L, "%s.mode: %s primitives are not supported (only TRIANGLES)", w,
                   mode >= 0 && mode <= 6 ? names[(int)mode] : "unknown");
    }
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(p, "attributes");
    int pos = -1, nrm = -1, uv0 = -1, uv1 = -1, tan = -1;
    int nacc = L->accessors.n;
    char wa[128];
    snprintf(wa, sizeof wa, "%s.attributes", w);
    TRY(xs_gltf_index(L, at, "POSITION", nacc, wa, &pos));
    if (pos < 0)
        return xs_gltf_bad(L, "%s.attributes.POSITION: missing", w);
    TRY(xs_gltf_index(L, at, "NORMAL", nacc, wa, &nrm));
    TRY(xs_gltf_index(L, at, "TEXCOORD_0", nacc, wa, &uv0));
    TRY(xs_gltf_index(L, at, "TEXCOORD_1", nacc, wa, &uv1));
    TRY(xs_gltf_index(L, at, "TANGENT", nacc, wa, &tan));
    xs_gltf_acc pa;
    TRY(xs_gltf_accessor(L, pos, wa, &pa));
    size_t nv = pa.count;
    char wx[160];
    snprintf(wx, sizeof wx, "%s.POSITION", wa);
    TRY(xs_gltf_read_floats(L, pos, 3, 0, wx, &x->positions));
    x->vertex_count = (uint32_t)nv;
    if (nrm >= 0) {
        snprintf(wx, sizeof wx, "%s.NORMAL", wa);
        TRY(xs_gltf_read_floats(L, nrm, 3, nv, wx, &x->normals));
    }
    if (uv0 >= 0) {
        snprintf(wx, sizeof wx, "%s.TEXCOORD_0", wa);
        TRY(xs_gltf_read_floats(L, uv0, 2, nv, wx, &x->uv0));
    }
    if (uv1 >= 0) {
        snprintf(wx, sizeof wx, "%s.TEXCOORD_1", wa);
        TRY(xs_gltf_read_floats(L, uv1, 2, nv, wx, &x->uv1));
    }
    if (tan >= 0) {
        snprintf(wx, sizeof wx, "%s.TANGENT", wa);
        TRY(xs_gltf_read_floats(L, tan, 4, nv, wx, &x->tangents));
    }
    TRY(xs_gltf_load_skin_attrs(L, at, wa, x));
    TRY(xs_gltf_load_targets(L, p, w, x));
    int ii = -1;
    TRY(xs_gltf_index(L, p, "indices", nacc, w, &ii));
    size_t ni = nv;
    xs_gltf_acc ia;
    if (ii >= 0) {
        snprintf(wx, sizeof wx, "%s.indices", w);
        TRY(xs_gltf_accessor(L, ii, wx, &ia));
        if (ia.ncomp != 1 || (ia.comp != 5121 && ia.comp != 5123 && ia.comp != 5125))
            return xs_gltf_bad(L, "%s.indices: must be unsigned byte, short or int scalars", w);
        ni = ia.count;
    }
    if (ni % 3 != 0)
        return xs_gltf_bad(L, "%s: %zu indices is not a multiple of 3", w, ni);
    if (*tris + ni / 3 > L->lim.max_triangles)
        return xs_gltf_bad(L, "%s: more than %llu triangles in the scene", w,
                   (unsigned long long)L->lim.max_triangles);
    x->indices = malloc((ni ? ni : 1) * sizeof *x->indices);
    if (!x->indices)
        return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
    for (size_t i = 0; i < ni; ++i) {
        uint32_t v = ii >= 0 ? xs_gltf_acc_uint(&ia, i, 0) : (uint32_t)i;
        if (v >= nv)
            return xs_gltf_bad(L, "%s.indices: index %u at position %zu is past the %zu vertices", w, v, i, nv);
        x->indices[i] = v;
    }
    x->tri_count = (uint32_t)(ni / 3);
    *tris += ni / 3;
    TRY(xs_gltf_index(L, p, "material", L->s->material_count, w, &x->material));
    return XS_OK;
}

static xs_result load_meshes(xs_gltf_loader *L)
{
    int n = L->meshes.n;
    if (n == 0)
        return XS_OK;
    L->s->meshes = calloc((size_t)n, sizeof *L->s->meshes);
    if (!L->s->meshes)
        return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
    L->s->mesh_count = n;
    uint64_t tris = 0;
    for (int i = 0; i < n; ++i) {
        const cJSON *m = L->meshes.v[i];
        xs_gltf_mesh *x = &L->s->meshes[i];
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(m, "name");
        snprintf(x->name, sizeof x->name, "%s", cJSON_IsString(nm) ? nm->valuestring : "");
        const cJSON *prims = xs_gltf_arr(m, "primitives");
        int np = prims ? cJSON_GetArraySize(prims) : 0;
        if (np == 0)
            return xs_gltf_bad(L, "meshes[%d].primitives: missing or empty", i);
        x->prims = calloc((size_t)np, sizeof *x->prims);
        if (!x->prims)
            return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
        x->prim_count = np;
        int k = 0;
        const cJSON *prim;
        cJSON_ArrayForEach(prim, prims) {
            char w[96];
            snprintf(w, sizeof w, "meshes[%d].primitives[%d]", i, k);
            TRY(load_primitive(L, prim, w, &x->prims[k], &tris));
            ++k;
        }
        TRY(xs_gltf_load_mesh_weights(L, m, i, x));
    }
    L->s->tri_count_unique = tris;
    return XS_OK;
}

/* ---- nodes ------------------------------------------------------------------------ */

void xs_gltf_mat4_mul(const float *a, const float *b, float *out)
{
    float r[16];
    for (int c = 0; c < 4; ++c)
        for (int row = 0; row < 4; ++row) {
            float s = 0.0f;
            for (int k = 0; k < 4; ++k)
                s += a[k * 4 + row] * b[c * 4 + k];
            r[c * 4 + row] = s;
        }
    memcpy(out, r, sizeof r);
}

void xs_gltf_trs_matrix(const float *t, const float *q, const float *s, float *m)
{
    static const float id[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    memcpy(m, id, sizeof id);
    float ql = sqrtf(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    if (!(ql > 0.0f))
        ql = 1.0f; /* callers refuse zero quaternions; a guard only */
    float x = q[0] / ql, y = q[1] / ql, z = q[2] / ql, qw = q[3] / ql;
    float r[9] = {1 - 2 * (y * y + z * z), 2 * (x * y + z * qw), 2 * (x * z - y * qw),
                  2 * (x * y - z * qw), 1 - 2 * (x * x + z * z), 2 * (y * z + x * qw),
                  2 * (x * z + y * qw), 2 * (y * z - x * qw), 1 - 2 * (x * x + y * y)};
    for (int c = 0; c < 3; ++c)
        for (int row = 0; row < 3; ++row)
            m[c * 4 + row] = r[c * 3 + row] * s[c];
    m[12] = t[0];
    m[13] = t[1];
    m[14] = t[2];
}

xs_result xs_gltf_node_matrix(xs_gltf_loader *L, const cJSON *n, const char *w, float *m)
{
    static const float id[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    memcpy(m, id, sizeof id);
    if (cJSON_GetObjectItemCaseSensitive(n, "matrix")) {
        TRY(xs_gltf_nums(L, n, "matrix", 16, m, w));
        return XS_OK;
    }
    float t[3] = {0, 0, 0}, q[4] = {0, 0, 0, 1}, s[3] = {1, 1, 1};
    TRY(xs_gltf_nums(L, n, "translation", 3, t, w));
    TRY(xs_gltf_nums(L, n, "rotation", 4, q, w));
    TRY(xs_gltf_nums(L, n, "scale", 3, s, w));
    if (!(sqrtf(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]) > 0.0f))
        return xs_gltf_bad(L, "%s.rotation: zero quaternion", w);
    xs_gltf_trs_matrix(t, q, s, m);
    return XS_OK;
}

/* Appends v to an array of *count elements and *cap capacity (doubling). */
xs_result xs_gltf_push(void **arrp, int *count, int *cap, size_t elem, const void *v, xs_gltf_loader *L)
{
    if (*count == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        void *n = realloc(*arrp, (size_t)ncap * elem);
        if (!n)
            return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
        *arrp = n;
        *cap = ncap;
    }
    memcpy((unsigned char *)*arrp + (size_t)*count * elem, v, elem);
    (*count)++;
    return XS_OK;
}

/* The last instance's own matrix beside its node's (m; NULL: the
 * identity), kept only where a pose will place it (the node table is kept)
 * and only once some instance has one of its own. */
static xs_result note_local(xs_gltf_loader *L, const float *m)
{
    xs_gltf_scene *s = L->s;
    if (!L->keep_nodes || (!m && !s->instance_local))
        return XS_OK;
    static const float id[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    const size_t n = (size_t)s->instance_count, from = s->instance_local ? L->local_cap : 0;
    if (n > L->local_cap || !s->instance_local) {
        size_t cap = (size_t)L->instance_cap > n ? (size_t)L->instance_cap : n;
        float *g = realloc(s->instance_local, cap * 16 * sizeof *g);
        if (!g)
            return xs_gltf_nomem(L);
        s->instance_local = g;
        for (size_t i = from; i < cap; ++i)
            memcpy(g + i * 16, id, sizeof id);
        L->local_cap = cap;
    }
    memcpy(s->instance_local + (n - 1) * 16, m ? m : id, sizeof id);
    return XS_OK;
}

/* EXT_mesh_gpu_instancing: the node's mesh placed once per element of its
 * TRANSLATION, ROTATION and SCALE accessors (each optional; equal counts),
 * at world x T x R x S; the node's own placement is not rendered. Millions
 * of instances cost an accessor element each in the file and one instance
 * record each here, linear in their count. */
static xs_result gpu_instances(xs_gltf_loader *L, int ni, int mesh, const cJSON *gi, const float *world)
{
    char w[96];
    snprintf(w, sizeof w, "nodes[%d].extensions.EXT_mesh_gpu_instancing", ni);
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(gi, "attributes");
    if (!cJSON_IsObject(at))
        return xs_gltf_bad(L, "%s.attributes: missing", w);
    static const char *const names[3] = {"TRANSLATION", "ROTATION", "SCALE"};
    static const int ncomp[3] = {3, 4, 3};
    xs_gltf_acc a[3];
    bool have[3] = {false, false, false};
    size_t count = 0;
    for (int k = 0; k < 3; ++k) {
        int idx = -1;
        char wk[160];
        snprintf(wk, sizeof wk, "%s.attributes.%s", w, names[k]);
        TRY(xs_gltf_index(L, at, names[k], L->accessors.n, wk, &idx));
        if (idx < 0)
            continue;
        TRY(xs_gltf_accessor(L, idx, wk, &a[k]));
        if (a[k].ncomp != ncomp[k])
            return xs_gltf_bad(L, "%s: accessor %d has %d components, expected %d", wk, idx, a[k].ncomp, ncomp[k]);
        if (k != 1 && a[k].comp != 5126)
            return xs_gltf_bad(L, "%s: accessor %d must be float", wk, idx);
        if (count && a[k].count != count)
            return xs_gltf_bad(L, "%s: %zu elements, the other attributes have %zu", wk, a[k].count, count);
        count = a[k].count;
        have[k] = true;
    }
    if (count == 0)
        return xs_gltf_bad(L, "%s.attributes: no TRANSLATION, ROTATION or SCALE", w);
    if ((uint64_t)L->s->instance_count + count > L->lim.max_instances)
        return xs_gltf_bad(L, "%s: %zu instances bring the scene past %llu mesh instances (--max-instances)", w, count,
                   (unsigned long long)L->lim.max_instances);
    uint64_t mesh_tris = 0;
    for (int k = 0; k < L->s->meshes[mesh].prim_count; ++k)
        mesh_tris += L->s->meshes[mesh].prims[k].tri_count;
    for (size_t i = 0; i < count; ++i) {
        float t[3] = {0, 0, 0}, q[4] = {0, 0, 0, 1}, sc[3] = {1, 1, 1};
        for (int c = 0; c < 3; ++c) {
            if (have[0])
                t[c] = xs_gltf_acc_float(&a[0], i, c);
            if (have[2])
                sc[c] = xs_gltf_acc_float(&a[2], i, c);
        }
        for (int c = 0; have[1] && c < 4; ++c)
            q[c] = xs_gltf_acc_float(&a[1], i, c);
        float ql = sqrtf(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
        if (!(ql > 0.0f) || !isfinite(ql) || !isfinite(t[0] + t[1] + t[2]) || !isfinite(sc[0] + sc[1] + sc[2]))
            return xs_gltf_bad(L, "%s: instance %zu: a zero rotation or a value that is not finite", w, i);
        float m[16];
        xs_gltf_trs_matrix(t, q, sc, m);
        xs_gltf_instance in = {.mesh = mesh, .node = ni};
        xs_gltf_mat4_mul(world, m, in.xform);
        TRY(xs_gltf_push((void **)&L->s->instances, &L->s->instance_count, &L->instance_cap, sizeof in, &in, L));
        TRY(note_local(L, m));
    }
    L->s->tri_count_instanced += mesh_tris * count;
    return XS_OK;
}

/* What node ni holds: a mesh placed (an instance), a camera, a light, with
 * its world transform. */
static xs_result node_contents(xs_gltf_loader *L, int ni, const float *world)
{
    const cJSON *n = L->nodes.v[ni];
    char w[64];
    snprintf(w, sizeof w, "nodes[%d]", ni);
    int mesh = -1, cam = -1;
    TRY(xs_gltf_index(L, n, "mesh", L->s->mesh_count, w, &mesh));
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(n, "extensions");
    const cJSON *gpui = next ? cJSON_GetObjectItemCaseSensitive(next, "EXT_mesh_gpu_instancing") : NULL;
    if (mesh >= 0 && gpui) {
        TRY(gpu_instances(L, ni, mesh, gpui, world));
    } else if (mesh >= 0) {
        if ((uint64_t)L->s->instance_count >= L->lim.max_instances)
            return xs_gltf_bad(L, "%s: more than %llu mesh instances in the scene (--max-instances)", w,
                       (unsigned long long)L->lim.max_instances);
        xs_gltf_instance in = {.mesh = mesh, .node = ni};
        memcpy(in.xform, world, sizeof in.xform);
        TRY(xs_gltf_push((void **)&L->s->instances, &L->s->instance_count, &L->instance_cap, sizeof in, &in, L));
        TRY(note_local(L, NULL));
        for (int k = 0; k < L->s->meshes[mesh].prim_count; ++k)
            L->s->tri_count_instanced += L->s->meshes[mesh].prims[k].tri_count;
    }
    TRY(xs_gltf_index(L, n, "camera", L->cameras.n, w, &cam));
    if (cam >= 0) {
        const cJSON *c = L->cameras.v[cam];
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "type");
        if (cJSON_IsString(type) && strcmp(type->valuestring, "perspective") == 0) {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "perspective");
            xs_gltf_camera gc = {.camera = cam, .node = ni};
            gc.yfov = (float)xs_gltf_num(p, "yfov", 0);
            gc.aspect = (float)xs_gltf_num(p, "aspectRatio", 0);
            if (!(gc.yfov > 0.0f && gc.yfov < 3.14159f))
                return xs_gltf_bad(L, "cameras[%d].perspective.yfov: must be in (0, pi)", cam);
            const cJSON *cn = cJSON_GetObjectItemCaseSensitive(c, "name");
            const cJSON *nn2 = cJSON_GetObjectItemCaseSensitive(n, "name");
            snprintf(gc.name, sizeof gc.name, "%s",
                     cJSON_IsString(cn) ? cn->valuestring : cJSON_IsString(nn2) ? nn2->valuestring : "");
            memcpy(gc.xform, world, sizeof gc.xform);
            TRY(xs_gltf_push((void **)&L->s->cameras, &L->s->camera_count, &L->camera_cap, sizeof gc, &gc, L));
        }
    }
    const cJSON *ext = cJSON_GetObjectItemCaseSensitive(n, "extensions");
    const cJSON *lp = ext ? cJSON_GetObjectItemCaseSensitive(ext, "KHR_lights_punctual") : NULL;
    if (lp) {
        int li = -1;
        char wl[96];
        snprintf(wl, sizeof wl, "%s.extensions.KHR_lights_punctual", w);
        TRY(xs_gltf_index(L, lp, "light", L->lights.n, wl, &li));
        if (li >= 0) {
            const cJSON *l = L->lights.v[li];
            xs_gltf_light gl = {0};
            gl.node = ni;
            const cJSON *type = cJSON_GetObjectItemCaseSensitive(l, "type");
            const char *ts = cJSON_IsString(type) ? type->valuestring : "";
            gl.type = strcmp(ts, "directional") == 0 ? XS_GLTF_LIGHT_DIRECTIONAL
                      : strcmp(ts, "point") == 0     ? XS_GLTF_LIGHT_POINT
                      : strcmp(ts, "spot") == 0      ? XS_GLTF_LIGHT_SPOT
                                                     : -1;
            if (gl.type < 0)
                return xs_gltf_bad(L, "KHR_lights_punctual.lights[%d].type: '%s' is not directional, point or spot", li, ts);
            gl.color[0] = gl.color[1] = gl.color[2] = 1.0f;
            char wl2[96];
            snprintf(wl2, sizeof wl2, "KHR_lights_punctual.lights[%d]", li);
            TRY(xs_gltf_nums(L, l, "color", 3, gl.color, wl2));
            gl.intensity = (float)xs_gltf_num(l, "intensity", 1.0);
            gl.range = (float)xs_gltf_num(l, "range", 0.0);
            const cJSON *spot = cJSON_GetObjectItemCaseSensitive(l, "spot");
            gl.inner_cone = (float)xs_gltf_num(spot, "innerConeAngle", 0.0);
            gl.outer_cone = (float)xs_gltf_num(spot, "outerConeAngle", 3.14159265 / 4);
            memcpy(gl.xform, world, sizeof gl.xform);
            TRY(xs_gltf_push((void **)&L->s->lights, &L->s->light_count, &L->light_cap, sizeof gl, &gl, L));
        }
    }
    return XS_OK;
}

/* A node on the walk's stack: its index, depth, world transform, and the
 * next of its children to visit. */
typedef struct walk_entry {
    int node, depth;
    const cJSON *next_child;
    float world[16];
} walk_entry;

/* Depth-first walk from root (iterative: no recursion however deep, each
 * node and child entry visited once). */
static xs_result walk(xs_gltf_loader *L, int root, walk_entry **stack, int *cap)
{
    static const float id[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    int top = 0;
    const int nn = L->nodes.n;
    int ni = root, depth = 0;
    float parent[16]; /* a copy: the stack below may move when it grows */
    memcpy(parent, id, sizeof parent);
    for (;;) {
        /* enter node ni */
        if (depth > L->lim.max_node_depth)
            return xs_gltf_bad(L, "nodes[%d]: hierarchy deeper than %d", ni, L->lim.max_node_depth);
        if (L->node_state[ni] == 1)
            return xs_gltf_bad(L, "nodes[%d]: the node hierarchy has a cycle", ni);
        if (L->node_state[ni] == 2)
            return xs_gltf_bad(L, "nodes[%d]: node has more than one parent", ni);
        L->node_state[ni] = 1;
        if (L->keep_nodes) { /* the scene's nodes, parents first */
            L->s->nodes[ni].in_scene = true;
            L->s->nodes[ni].parent = top > 0 ? (*stack)[top - 1].node : -1;
            L->s->scene_nodes[L->s->scene_node_count++] = ni;
        }
        if (top == *cap) {
            int ncap = *cap ? *cap * 2 : 64;
            walk_entry *ns = realloc(*stack, (size_t)ncap * sizeof *ns);
            if (!ns)
                return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
            *stack = ns;
            *cap = ncap;
        }
        walk_entry *e = &(*stack)[top++];
        e->node = ni;
        e->depth = depth;
        char w[64];
        snprintf(w, sizeof w, "nodes[%d]", ni);
        float local[16];
        TRY(xs_gltf_node_matrix(L, L->nodes.v[ni], w, local));
        xs_gltf_mat4_mul(parent, local, e->world);
        TRY(node_contents(L, ni, e->world));
        const cJSON *ch = xs_gltf_arr(L->nodes.v[ni], "children");
        e->next_child = ch ? ch->child : NULL;
        /* the next child of the deepest node that has one; leave finished nodes */
        for (;;) {
            if (top == 0)
                return XS_OK;
            walk_entry *t = &(*stack)[top - 1];
            const cJSON *c = t->next_child;
            if (!c) {
                L->node_state[t->node] = 2;
                top--;
                continue;
            }
            t->next_child = c->next;
            if (!cJSON_IsNumber(c) || c->valuedouble < 0 || c->valuedouble >= nn ||
                c->valuedouble != floor(c->valuedouble))
                return xs_gltf_bad(L, "nodes[%d].children: node index out of range (%d nodes)", t->node, nn);
            ni = (int)c->valuedouble;
            depth = t->depth + 1;
            memcpy(parent, t->world, sizeof parent);
            break;
        }
    }
}

static xs_result load_scene(xs_gltf_loader *L)
{
    const cJSON *scenes = xs_gltf_arr(L->root, "scenes");
    int nn = L->nodes.n;
    int ns = scenes ? cJSON_GetArraySize(scenes) : 0;
    if (ns == 0)
        return xs_gltf_bad(L, "scenes: missing or empty: nothing to render");
    if ((uint64_t)nn > L->lim.max_nodes)
        return xs_gltf_bad(L, "nodes: %d nodes exceeds the limit of %llu (--max-nodes)", nn,
                   (unsigned long long)L->lim.max_nodes);
    int si = -1;
    TRY(xs_gltf_index(L, L->root, "scene", ns, "(top level)", &si));
    if (si < 0)
        si = 0;
    const cJSON *sc = scenes->child;
    for (int k = 0; k < si; ++k)
        sc = sc->next;
    const cJSON *roots = xs_gltf_arr(sc, "nodes");
    if (nn > 0) {
        L->node_state = calloc((size_t)nn, 1);
        if (!L->node_state)
            return xs_err_set(L->err, XS_ERR_NOMEM, "%s: out of memory", L->label);
    }
    walk_entry *stack = NULL;
    int cap = 0, k = 0;
    xs_result r = XS_OK;
    const cJSON *root;
    cJSON_ArrayForEach(root, roots) {
        if (!cJSON_IsNumber(root) || root->valuedouble < 0 || root->valuedouble >= nn ||
            root->valuedouble != floor(root->valuedouble)) {
            r = xs_gltf_bad(L, "scenes[%d].nodes[%d]: node index out of range (%d nodes)", si, k, nn);
            break;
        }
        if ((r = walk(L, (int)root->valuedouble, &stack, &cap)) != XS_OK)
            break;
        ++k;
    }
    free(stack);
    if (r == XS_OK && L->s->instance_count == 0)
        r = xs_gltf_bad(L, "scenes[%d]: places no mesh: nothing to render", si);
    return r;
}

/* ---- entry ------------------------------------------------------------------------ */

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static xs_result check_required_extensions(xs_gltf_loader *L)
{
    static const char *const supported[] = {
        "KHR_materials_emissive_strength", "KHR_texture_transform", "KHR_lights_punctual",
        "KHR_materials_transmission", "KHR_materials_ior", "KHR_materials_volume", "EXT_mesh_gpu_instancing", NULL};
    const cJSON *req = xs_gltf_arr(L->root, "extensionsRequired");
    const cJSON *e;
    cJSON_ArrayForEach(e, req) {
        bool ok = false;
        for (const char *const *s = supported; *s && cJSON_IsString(e); ++s)
            ok |= strcmp(e->valuestring, *s) == 0;
        if (!ok)
            return xs_gltf_bad(L, "extensionsRequired: '%s' is not supported",
                       cJSON_IsString(e) ? e->valuestring : "?");
    }
    return XS_OK;
}

void xs_gltf_destroy(xs_gltf_scene *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->mesh_count; ++i) {
        for (int k = 0; k < s->meshes[i].prim_count; ++k) {
            xs_gltf_primitive *p = &s->meshes[i].prims[k];
            free(p->positions), free(p->normals), free(p->uv0), free(p->uv1), free(p->tangents);
            free(p->indices), free(p->target_pos), free(p->target_nrm), free(p->target_tan);
            free(p->joints), free(p->joint_weights);
        }
        free(s->meshes[i].prims), free(s->meshes[i].weights);
    }
    for (int i = 0; i < s->node_count; ++i)
        free(s->nodes[i].weights);
    for (int i = 0; i < s->skin_count; ++i)
        free(s->skins[i].joints), free(s->skins[i].inverse_bind);
    for (int i = 0; i < s->animation_count; ++i) {
        xs_gltf_animation *a = &s->animations[i];
        for (int k = 0; k < a->sampler_count; ++k)
            free(a->samplers[k].input), free(a->samplers[k].output);
        free(a->samplers), free(a->channels);
    }
    free(s->nodes), free(s->scene_nodes), free(s->skins), free(s->animations);
    for (int i = 0; i < s->image_count; ++i)
        free(s->images[i].rgba8);
    free(s->meshes), free(s->instances), free(s->materials), free(s->textures), free(s->instance_local);
    free(s->images), free(s->cameras), free(s->lights);
    free(s);
}

xs_result xs_gltf_load(const char *label, const unsigned char *data, size_t len,
                       xs_gltf_fetch_fn fetch, void *user, const xs_gltf_limits *limits,
                       xs_gltf_scene **out, xs_err *err)
{
    *out = NULL;
    xs_gltf_loader L;
    memset(&L, 0, sizeof L);
    L.label = label;
    L.err = err;
    L.fetch = fetch;
    L.user = user;
    if (limits)
        L.lim = *limits;
    else
        xs_gltf_limits_default(&L.lim);
    const char *json = (const char *)data;
    size_t json_len = len;
    if (len >= 4 && memcmp(data, "glTF", 4) == 0) {
        L.is_glb = true;
        if (len < 20)
            return xs_err_set(err, XS_ERR_INVALID, "%s: GLB: truncated header", label);
        uint32_t version = rd32(data + 4), total = rd32(data + 8);
        if (version != 2)
            return xs_err_set(err, XS_ERR_INVALID, "%s: GLB: version %u (only 2)", label, version);
        if (total > len)
            return xs_err_set(err, XS_ERR_INVALID, "%s: GLB: header says %u bytes, file has %zu",
                              label, total, len);
        uint32_t clen = rd32(data + 12), ctype = rd32(data + 16);
        if (ctype != 0x4E4F534Au || (uint64_t)clen + 20 > total)
            return xs_err_set(err, XS_ERR_INVALID, "%s: GLB: first chunk is not a valid JSON chunk",
                              label);
        json = (const char *)data + 20;
        json_len = clen;
        size_t next = 20 + (size_t)clen;
        if (next + 8 <= total) {
            uint32_t blen = rd32(data + next), btype = rd32(data + next + 4);
            if (btype == 0x004E4942u) {
                if ((uint64_t)next + 8 + blen > total)
                    return xs_err_set(err, XS_ERR_INVALID, "%s: GLB: BIN chunk overruns the file",
                                      label);
                L.glb_bin = data + next + 8;
                L.glb_bin_len = blen;
            }
        }
    }
    L.root = cJSON_ParseWithLength(json, json_len);
    if (!L.root || !cJSON_IsObject(L.root)) {
        cJSON_Delete(L.root);
        return xs_err_set(err, XS_ERR_INVALID, "%s: not valid glTF JSON", label);
    }
    L.s = calloc(1, sizeof *L.s);
    xs_result r = L.s ? XS_OK : xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", label);
    const cJSON *asset = cJSON_GetObjectItemCaseSensitive(L.root, "asset");
    const cJSON *ver = asset ? cJSON_GetObjectItemCaseSensitive(asset, "version") : NULL;
    if (r == XS_OK && (!cJSON_IsString(ver) || ver->valuestring[0] != '2'))
        r = xs_gltf_bad(&L, "asset.version: missing or not 2.x");
    if (r == XS_OK)
        r = check_required_extensions(&L);
    const cJSON *rext = cJSON_GetObjectItemCaseSensitive(L.root, "extensions");
    const cJSON *rlights = rext ? cJSON_GetObjectItemCaseSensitive(rext, "KHR_lights_punctual") : NULL;
    struct {
        const cJSON *a;
        xs_gltf_jarr *out;
    } index[] = {{xs_gltf_arr(L.root, "nodes"), &L.nodes},
                 {xs_gltf_arr(L.root, "accessors"), &L.accessors},
                 {xs_gltf_arr(L.root, "bufferViews"), &L.views},
                 {xs_gltf_arr(L.root, "meshes"), &L.meshes},
                 {xs_gltf_arr(L.root, "cameras"), &L.cameras},
                 {xs_gltf_arr(L.root, "images"), &L.images},
                 {xs_gltf_arr(L.root, "textures"), &L.textures},
                 {xs_gltf_arr(L.root, "samplers"), &L.samplers},
                 {xs_gltf_arr(L.root, "materials"), &L.materials},
                 {rlights ? xs_gltf_arr(rlights, "lights") : NULL, &L.lights},
                 {xs_gltf_arr(L.root, "skins"), &L.skins},
                 {xs_gltf_arr(L.root, "animations"), &L.animations}};
    for (size_t i = 0; r == XS_OK && i < sizeof index / sizeof index[0]; ++i)
        r = xs_gltf_index_array(&L, index[i].a, index[i].out);
    if (r == XS_OK)
        r = load_buffers(&L);
    if (r == XS_OK)
        r = load_textures(&L);
    if (r == XS_OK)
        r = load_materials(&L);
    if (r == XS_OK)
        r = load_images(&L);
    if (r == XS_OK)
        r = load_meshes(&L);
    if (r == XS_OK && (L.keep_nodes = xs_gltf_wants_nodes(&L)))
        r = xs_gltf_load_nodes(&L);
    if (r == XS_OK)
        r = load_scene(&L);
    if (r == XS_OK && L.keep_nodes)
        r = xs_gltf_load_skins(&L);
    if (r == XS_OK && L.keep_nodes)
        r = xs_gltf_load_animations(&L);
    for (int i = 0; i < L.buffer_count; ++i)
        free(L.buf_owned ? L.buf_owned[i] : NULL);
    free(L.buf), free(L.buf_len), free(L.buf_owned), free(L.node_state), free(L.texture_used);
    for (size_t i = 0; i < sizeof index / sizeof index[0]; ++i)
        free(index[i].out->v);
    cJSON_Delete(L.root);
    if (r != XS_OK) {
        xs_gltf_destroy(L.s);
        return r;
    }
    *out = L.s;
    return XS_OK;
}
