/* Builds small glTF 2.0 documents in memory for tests: typed arrays become
 * buffer views and accessors of one buffer, embedded as a base64 data: URI,
 * and the caller writes the rest of the JSON (scenes, nodes, meshes,
 * animations, skins) around the accessor indices it got back. */
#ifndef XS_GLTF_BUILD_H
#define XS_GLTF_BUILD_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GB_FN static __attribute__((unused))

typedef struct gltf_b {
    unsigned char bin[1 << 18];
    size_t len;
    char views[1 << 15], accs[1 << 15];
    int nview, nacc;
} gltf_b;

/* A buffer view over bytes (4-byte aligned); its index. */
GB_FN int gb_view(gltf_b *b, const void *data, size_t bytes)
{
    while (b->len % 4)
        b->bin[b->len++] = 0;
    size_t off = b->len;
    memcpy(b->bin + b->len, data, bytes);
    b->len += bytes;
    size_t o = strlen(b->views);
    snprintf(b->views + o, sizeof b->views - o, "%s{\"buffer\":0,\"byteOffset\":%zu,\"byteLength\":%zu}",
             b->nview ? "," : "", off, bytes);
    return b->nview++;
}

/* An accessor: count elements of `type` (SCALAR, VEC3, ...) of component
 * type comp over new data (NULL: no buffer view, all zeros); extra is more
 * JSON members (e.g. "\"normalized\":true") or NULL. Its index. */
GB_FN int gb_acc(gltf_b *b, const void *data, size_t bytes, int comp, int count, const char *type,
                  const char *extra)
{
    char view[32] = "";
    if (data)
        snprintf(view, sizeof view, "\"bufferView\":%d,", gb_view(b, data, bytes));
    size_t o = strlen(b->accs);
    snprintf(b->accs + o, sizeof b->accs - o, "%s{%s\"componentType\":%d,\"count\":%d,\"type\":\"%s\"%s%s}",
             b->nacc ? "," : "", view, comp, count, type, extra ? "," : "", extra ? extra : "");
    return b->nacc++;
}

GB_FN int gb_f(gltf_b *b, const float *v, int count, int ncomp)
{
    static const char *types[] = {"", "SCALAR", "VEC2", "VEC3", "VEC4"};
    return gb_acc(b, v, (size_t)count * (size_t)ncomp * sizeof(float), 5126, count,
                  ncomp == 16 ? "MAT4" : types[ncomp], NULL);
}

GB_FN int gb_u16(gltf_b *b, const uint16_t *v, int count, int ncomp)
{
    static const char *types[] = {"", "SCALAR", "VEC2", "VEC3", "VEC4"};
    return gb_acc(b, v, (size_t)count * (size_t)ncomp * sizeof(uint16_t), 5123, count, types[ncomp], NULL);
}

GB_FN int gb_u32(gltf_b *b, const uint32_t *v, int count)
{
    return gb_acc(b, v, (size_t)count * sizeof(uint32_t), 5125, count, "SCALAR", NULL);
}

/* The whole document: `fmt` (printf) gives the top-level members besides
 * asset, buffers, bufferViews and accessors. malloc'd. */
static char *gb_doc(const gltf_b *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
GB_FN char *gb_doc(const gltf_b *b, const char *fmt, ...)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n64 = (b->len + 2) / 3 * 4;
    char *b64 = malloc(n64 + 1);
    size_t o = 0;
    for (size_t i = 0; i < b->len; i += 3) {
        uint32_t v = (uint32_t)b->bin[i] << 16 | (i + 1 < b->len ? (uint32_t)b->bin[i + 1] << 8 : 0) |
                     (i + 2 < b->len ? b->bin[i + 2] : 0);
        b64[o++] = t[v >> 18 & 63];
        b64[o++] = t[v >> 12 & 63];
        b64[o++] = i + 1 < b->len ? t[v >> 6 & 63] : '=';
        b64[o++] = i + 2 < b->len ? t[v & 63] : '=';
    }
    b64[o] = '\0';
    char rest[1 << 15];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rest, sizeof rest, fmt, ap);
    va_end(ap);
    size_t cap = n64 + strlen(b->views) + strlen(b->accs) + strlen(rest) + 512;
    char *doc = malloc(cap);
    snprintf(doc, cap,
             "{\"asset\":{\"version\":\"2.0\"},\"buffers\":[{\"byteLength\":%zu,\"uri\":"
             "\"data:application/octet-stream;base64,%s\"}],\"bufferViews\":[%s],\"accessors\":[%s],%s}",
             b->len ? b->len : 4, b64, b->views, b->accs, rest);
    free(b64);
    return doc;
}

#endif
