/* Part files (see xs_partials.h): a fixed little-endian header with its own
 * checksum, then the payload, raw or as one zstd frame. Writing builds the
 * whole file in memory and hands it to xs_file_write_atomic; reading checks
 * the header, then every field against what the caller expects, then the
 * payload's size and checksum, before a float is handed back. */
#include "io/xs_partials.h"
#include "io/xs_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>
#include <zstd.h>

static const unsigned char magic[8] = {'X', 'S', 'P', 'A', 'R', 'T', 'S', '\n'};

enum { ENC_RAW = 0, ENC_ZSTD = 1 };

/* ---- little-endian fields ---------------------------------------------------------- */

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; ++i)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; ++i)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int popcount32(uint32_t m)
{
    int n = 0;
    for (; m; m &= m - 1u)
        ++n;
    return n;
}

size_t xs_partials_floats(const xs_partials_info *info)
{
    if (info->width < 1 || info->height < 1 || info->chunk_count < 1 || info->floats < 1)
        return 0;
    uint64_t n = (uint64_t)info->width * (uint64_t)info->height; /* < 2^62 */
    const uint64_t f[2] = {(uint64_t)info->chunk_count, (uint64_t)info->floats};
    for (int i = 0; i < 2; ++i) {
        if (n > (uint64_t)(SIZE_MAX / sizeof(float)) / f[i])
            return 0;
        n *= f[i];
    }
    return (size_t)n;
}

/* ---- writing ----------------------------------------------------------------------- */

xs_result xs_partials_write(const char *path, const xs_partials_info *info, const float *records, int zstd_level,
                            xs_err *err)
{
    const size_t n = xs_partials_floats(info);
    if (n == 0 || info->floats != popcount32(info->mask))
        return xs_err_set(err, XS_ERR_INVALID,
                          "%s: a part of %dx%d pixels, %d chunk(s), %d float(s) a record (mask 0x%x) cannot be written",
                          path, info->width, info->height, info->chunk_count, info->floats, (unsigned)info->mask);
    const size_t raw = n * sizeof(float);
    const size_t room = zstd_level > 0 ? ZSTD_compressBound(raw) : raw;
    if (ZSTD_isError(room) || room > SIZE_MAX - XS_PARTIALS_HEADER_BYTES)
        return xs_err_set(err, XS_ERR_INVALID, "%s: a payload of %zu bytes is too large", path, raw);
    unsigned char *buf = malloc(XS_PARTIALS_HEADER_BYTES + (room > raw ? room : raw));
    if (!buf)
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory for a part of %zu bytes", path, raw);
    unsigned char *payload = buf + XS_PARTIALS_HEADER_BYTES;
    uint32_t enc = ENC_RAW;
    size_t stored = raw;
    if (zstd_level > 0) {
        size_t z = ZSTD_compress(payload, room, records, raw, zstd_level);
        if (!ZSTD_isError(z) && z < raw) {
            enc = ENC_ZSTD;
            stored = z;
        }
    }
    if (enc == ENC_RAW)
        memcpy(payload, records, raw);
    unsigned char *h = buf;
    memset(h, 0, XS_PARTIALS_HEADER_BYTES);
    memcpy(h, magic, sizeof magic);
    put32(h + 8, XS_PARTIALS_VERSION);
    put32(h + 12, XS_PARTIALS_HEADER_BYTES);
    const int32_t fields[11] = {info->frame,  info->tile,        info->x0,          info->y0,
                                info->width,  info->height,      info->spp,         info->chunk_first,
                                info->chunk_count, (int32_t)info->mask, info->floats};
    for (int i = 0; i < 11; ++i)
        put32(h + 16 + 4 * i, (uint32_t)fields[i]);
    put32(h + 60, enc);
    put64(h + 64, (uint64_t)raw);
    put64(h + 72, (uint64_t)stored);
    put64(h + 80, XXH3_64bits(records, raw));
    put64(h + 88, XXH3_64bits(h, 88));
    xs_result r = xs_file_write_atomic(path, buf, XS_PARTIALS_HEADER_BYTES + stored, err);
    free(buf);
    return r;
}

/* ---- reading ----------------------------------------------------------------------- */

xs_result xs_partials_read_header(const char *label, const void *data, size_t len, xs_partials_info *info,
                                  xs_err *err)
{
    const unsigned char *h = (const unsigned char *)data;
    memset(info, 0, sizeof *info);
    if (len < XS_PARTIALS_HEADER_BYTES)
        return xs_err_set(err, XS_ERR_INVALID, "%s: header: %zu bytes, a part file has at least %d", label, len,
                          (int)XS_PARTIALS_HEADER_BYTES);
    if (memcmp(h, magic, sizeof magic) != 0)
        return xs_err_set(err, XS_ERR_INVALID, "%s: magic: not an xisuan part file", label);
    if (get32(h + 8) != XS_PARTIALS_VERSION)
        return xs_err_set(err, XS_ERR_INVALID, "%s: version: %u, this xisuan reads version %d", label,
                          (unsigned)get32(h + 8), (int)XS_PARTIALS_VERSION);
    if (get32(h + 12) != XS_PARTIALS_HEADER_BYTES)
        return xs_err_set(err, XS_ERR_INVALID, "%s: header bytes: %u, expected %d", label, (unsigned)get32(h + 12),
                          (int)XS_PARTIALS_HEADER_BYTES);
    if (get64(h + 88) != XXH3_64bits(h, 88))
        return xs_err_set(err, XS_ERR_INVALID, "%s: header checksum: the header is damaged", label);
    int32_t *f[11] = {&info->frame,  &info->tile,        &info->x0,          &info->y0,
                      &info->width,  &info->height,      &info->spp,         &info->chunk_first,
                      &info->chunk_count, (int32_t *)&info->mask, &info->floats};
    for (int i = 0; i < 11; ++i)
        *f[i] = (int32_t)get32(h + 16 + 4 * i);
    const uint32_t enc = get32(h + 60);
    if (enc != ENC_RAW && enc != ENC_ZSTD)
        return xs_err_set(err, XS_ERR_INVALID, "%s: encoding: %u is neither 0 (raw) nor 1 (zstd)", label,
                          (unsigned)enc);
    if (info->floats != popcount32(info->mask))
        return xs_err_set(err, XS_ERR_INVALID, "%s: floats: %d a record, but the mask 0x%x keeps %d", label,
                          info->floats, (unsigned)info->mask, popcount32(info->mask));
    const size_t n = xs_partials_floats(info);
    if (n == 0 || info->chunk_first < 0 || info->spp < 1)
        return xs_err_set(err, XS_ERR_INVALID,
                          "%s: size: %dx%d pixels, chunks [%d, +%d), %d float(s) a record, %d spp: not a part",
                          label, info->width, info->height, info->chunk_first, info->chunk_count, info->floats,
                          info->spp);
    const uint64_t raw = get64(h + 64), stored = get64(h + 72);
    if (raw != (uint64_t)n * sizeof(float))
        return xs_err_set(err, XS_ERR_INVALID, "%s: payload bytes: %llu, the dimensions say %llu", label,
                          (unsigned long long)raw, (unsigned long long)((uint64_t)n * sizeof(float)));
    if (stored != (uint64_t)(len - XS_PARTIALS_HEADER_BYTES) || (enc == ENC_RAW && stored != raw))
        return xs_err_set(err, XS_ERR_INVALID, "%s: stored bytes: the header says %llu, the file holds %zu%s", label,
                          (unsigned long long)stored, len - XS_PARTIALS_HEADER_BYTES,
                          enc == ENC_RAW && stored != raw ? " (raw: must equal the payload bytes)" : "");
    return XS_OK;
}

/* A field of the file against the merge's expectation. */
static xs_result expect_field(const char *label, const char *field, int64_t got, int64_t want, xs_err *err)
{
    if (got == want)
        return XS_OK;
    return xs_err_set(err, XS_ERR_INVALID, "%s: %s: %lld, expected %lld", label, field, (long long)got,
                      (long long)want);
}

xs_result xs_partials_read_memory(const char *label, const void *data, size_t len, const xs_partials_info *expect,
                                  float **records, xs_err *err)
{
    *records = NULL;
    xs_partials_info got;
    xs_result r = xs_partials_read_header(label, data, len, &got, err);
    const struct {
        const char *name;
        int64_t got, want;
    } fields[] = {
        {"frame", got.frame, expect->frame},
        {"tile", got.tile, expect->tile},
        {"x0", got.x0, expect->x0},
        {"y0", got.y0, expect->y0},
        {"width", got.width, expect->width},
        {"height", got.height, expect->height},
        {"spp", got.spp, expect->spp},
        {"chunk_first", got.chunk_first, expect->chunk_first},
        {"chunk_count", got.chunk_count, expect->chunk_count},
        {"mask", got.mask, expect->mask},
        {"floats", got.floats, expect->floats},
    };
    for (size_t i = 0; r == XS_OK && i < sizeof fields / sizeof fields[0]; ++i)
        r = expect_field(label, fields[i].name, fields[i].got, fields[i].want, err);
    if (r != XS_OK)
        return r;
    const unsigned char *h = (const unsigned char *)data;
    const size_t raw = xs_partials_floats(&got) * sizeof(float);
    const size_t stored = len - XS_PARTIALS_HEADER_BYTES;
    const unsigned char *payload = h + XS_PARTIALS_HEADER_BYTES;
    float *out = malloc(raw);
    if (!out)
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory for %zu bytes", label, raw);
    if (get32(h + 60) == ENC_ZSTD) {
        unsigned long long content = ZSTD_getFrameContentSize(payload, stored);
        if (content != (unsigned long long)raw) {
            free(out);
            return xs_err_set(err, XS_ERR_INVALID, "%s: payload: the zstd frame %s", label,
                              content == ZSTD_CONTENTSIZE_ERROR     ? "is damaged"
                              : content == ZSTD_CONTENTSIZE_UNKNOWN ? "does not say its size"
                                                                    : "holds another size than the header's");
        }
        size_t z = ZSTD_decompress(out, raw, payload, stored);
        if (ZSTD_isError(z) || z != raw) {
            free(out);
            return xs_err_set(err, XS_ERR_INVALID, "%s: payload: zstd: %s", label,
                              ZSTD_isError(z) ? ZSTD_getErrorName(z) : "short frame");
        }
    } else {
        memcpy(out, payload, raw);
    }
    if (XXH3_64bits(out, raw) != get64(h + 80)) {
        free(out);
        return xs_err_set(err, XS_ERR_INVALID, "%s: payload checksum: the payload is damaged", label);
    }
    *records = out;
    return XS_OK;
}

xs_result xs_partials_read(const char *path, const xs_partials_info *expect, float **records, xs_err *err)
{
    *records = NULL;
    const size_t n = xs_partials_floats(expect);
    if (n == 0)
        return xs_err_set(err, XS_ERR_INVALID, "%s: nothing to read: an empty part was expected", path);
    const size_t raw = n * sizeof(float), bound = ZSTD_compressBound(raw);
    const uint64_t max = XS_PARTIALS_HEADER_BYTES + (uint64_t)(ZSTD_isError(bound) || bound < raw ? raw : bound);
    unsigned char *data = NULL;
    size_t len = 0;
    xs_result r = xs_file_read_all(path, max, &data, &len, err);
    if (r == XS_OK)
        r = xs_partials_read_memory(path, data, len, expect, records, err);
    free(data);
    return r;
}
