/* Texture pages and the package's page store (see xs_texpage.h).
 *
 * On disk, after the tar part (little-endian throughout):
 *   page frames: zstd skippable frames (magic 0x184D2A5E, u32 size) whose
 *       payloads are pages' zstd frames back to back, at most
 *       DATA_FRAME_MAX bytes a frame, no page split between frames;
 *   index frame: skippable, payload "XSTXIDX1", u32 version, u32 images,
 *       u64 pages, then per image {u32 image, width, height, levels; u64
 *       first_page; f32 mean_luminance; u32 0} (32 bytes), then per page
 *       {u64 offset; u32 size; u32 check} (16 bytes);
 *   footer frame (the file's last 48 bytes): skippable, payload "XSTXEND1",
 *       u64 tar_bytes, u64 index_offset (of the index frame), u64 index_bytes
 *       (its payload), u64 index XXH3.
 */
#include "io/xs_texpage.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>
#include <zstd.h>

#include "io/xs_file.h"

enum {
    SKIP_MAGIC = 0x184D2A5E,
    FOOTER_BYTES = 48,
    IMAGE_RECORD = 32,
    PAGE_RECORD = 16,
    INDEX_HEAD = 24,
    VERSION = 1,
    DATA_FRAME_MAX = 64 << 20
};
static const char INDEX_MAGIC[8] = {'X', 'S', 'T', 'X', 'I', 'D', 'X', '1'};
static const char FOOTER_MAGIC[8] = {'X', 'S', 'T', 'X', 'E', 'N', 'D', '1'};

void xs_srgb_table(float t[256])
{
    for (int i = 0; i < 256; ++i) {
        float c = (float)i / 255.0f;
        t[i] = c <= 0.04045f ? c / 12.92f : powf((c + 0.055f) / 1.055f, 2.4f);
    }
}

/* ---- pyramid geometry ------------------------------------------------------------------ */

int xs_texpage_levels(uint32_t w, uint32_t h)
{
    int n = 1;
    while (w > 1 || h > 1) {
        w = w > 1 ? w / 2 : 1;
        h = h > 1 ? h / 2 : 1;
        ++n;
    }
    return n;
}

void xs_texpage_level(uint32_t w, uint32_t h, int level, uint32_t *lw, uint32_t *lh, uint32_t *pages_x,
                      uint32_t *pages_y)
{
    for (int l = 0; l < level; ++l) {
        w = w > 1 ? w / 2 : 1;
        h = h > 1 ? h / 2 : 1;
    }
    *lw = w;
    *lh = h;
    if (pages_x)
        *pages_x = (w + XS_TEXPAGE_SIDE - 1) / XS_TEXPAGE_SIDE;
    if (pages_y)
        *pages_y = (h + XS_TEXPAGE_SIDE - 1) / XS_TEXPAGE_SIDE;
}

uint64_t xs_texpage_count(uint32_t w, uint32_t h)
{
    uint64_t n = 0;
    int levels = xs_texpage_levels(w, h);
    for (int l = 0; l < levels; ++l) {
        uint32_t lw, lh, px, py;
        xs_texpage_level(w, h, l, &lw, &lh, &px, &py);
        n += (uint64_t)px * py;
    }
    return n;
}

void xs_texpage_page_size(uint32_t lw, uint32_t lh, uint32_t px, uint32_t py, uint32_t *pw, uint32_t *ph)
{
    uint32_t rw = lw - px * XS_TEXPAGE_SIDE, rh = lh - py * XS_TEXPAGE_SIDE;
    *pw = rw < XS_TEXPAGE_SIDE ? rw : XS_TEXPAGE_SIDE;
    *ph = rh < XS_TEXPAGE_SIDE ? rh : XS_TEXPAGE_SIDE;
}

/* ---- the pyramid --------------------------------------------------------------------------- */

void xs_texpage_pyramid_free(xs_texpage_pyramid *p)
{
    for (int l = 0; l < XS_TEXPAGE_MAX_LEVELS; ++l)
        free(p->level[l]);
    memset(p, 0, sizeof *p);
}

/* Linear light to an sRGB byte (for levels averaged in linear light). */
static uint32_t srgb8_of(float v)
{
    v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    float e = v <= 0.0031308f ? 12.92f * v : 1.055f * powf(v, 1.0f / 2.4f) - 0.055f;
    return (uint32_t)(e * 255.0f + 0.5f);
}

xs_result xs_texpage_pyramid_build(const xs_image8 *img, bool srgb, xs_texpage_pyramid *p, xs_err *err)
{
    memset(p, 0, sizeof *p);
    if (img->width < 1 || img->height < 1 || !img->rgba8)
        return xs_err_set(err, XS_ERR_INVALID, "texture pages: an image of %dx%d pixels", img->width, img->height);
    uint32_t w = (uint32_t)img->width, h = (uint32_t)img->height;
    p->levels = xs_texpage_levels(w, h);
    for (int l = 0; l < p->levels; ++l) {
        xs_texpage_level(w, h, l, &p->w[l], &p->h[l], NULL, NULL);
        p->level[l] = malloc((size_t)p->w[l] * p->h[l] * sizeof *p->level[l]);
        if (!p->level[l]) {
            xs_texpage_pyramid_free(p);
            return xs_err_set(err, XS_ERR_NOMEM, "texture pages: out of memory for a %ux%u level", w, h);
        }
    }
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; ++i) {
        const unsigned char *c = img->rgba8 + i * 4;
        p->level[0][i] = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
    }
    float lin[256];
    xs_srgb_table(lin);
    for (int l = 1; l < p->levels; ++l) {
        const uint32_t *src = p->level[l - 1];
        uint32_t sw = p->w[l - 1], sh = p->h[l - 1];
        for (uint32_t y = 0; y < p->h[l]; ++y) {
            uint32_t y0 = 2 * y < sh ? 2 * y : sh - 1, y1 = 2 * y + 1 < sh ? 2 * y + 1 : sh - 1;
            for (uint32_t x = 0; x < p->w[l]; ++x) {
                uint32_t x0 = 2 * x < sw ? 2 * x : sw - 1, x1 = 2 * x + 1 < sw ? 2 * x + 1 : sw - 1;
                uint32_t a = src[(size_t)y0 * sw + x0], b = src[(size_t)y0 * sw + x1];
                uint32_t c = src[(size_t)y1 * sw + x0], d = src[(size_t)y1 * sw + x1];
                uint32_t o = 0;
                for (int k = 0; k < 32; k += 8) {
                    uint32_t v;
                    if (srgb && k < 24) /* a colour: averaged in linear light */
                        v = srgb8_of(0.25f * (lin[(a >> k) & 255u] + lin[(b >> k) & 255u] + lin[(c >> k) & 255u] +
                                              lin[(d >> k) & 255u]));
                    else
                        v = (((a >> k) & 255u) + ((b >> k) & 255u) + ((c >> k) & 255u) + ((d >> k) & 255u) + 2u) >> 2;
                    o |= (v > 255u ? 255u : v) << k;
                }
                p->level[l][(size_t)y * p->w[l] + x] = o;
            }
        }
    }
    return XS_OK;
}

uint32_t xs_texpage_extract(const xs_texpage_pyramid *p, int l, uint32_t px, uint32_t py, uint32_t *out)
{
    uint32_t pw, ph;
    xs_texpage_page_size(p->w[l], p->h[l], px, py, &pw, &ph);
    for (uint32_t y = 0; y < ph; ++y)
        memcpy(out + (size_t)y * pw,
               p->level[l] + (size_t)(py * XS_TEXPAGE_SIDE + y) * p->w[l] + (size_t)px * XS_TEXPAGE_SIDE,
               pw * sizeof *out);
    return pw * ph;
}

float xs_texpage_mean_luminance(const xs_image8 *img, const float srgb[256])
{
    double sum = 0.0;
    size_t n = (size_t)img->width * (size_t)img->height;
    for (size_t p = 0; p < n; ++p) {
        const unsigned char *c = img->rgba8 + p * 4;
        sum += 0.2126 * srgb[c[0]] + 0.7152 * srgb[c[1]] + 0.0722 * srgb[c[2]];
    }
    return n ? (float)(sum / (double)n) : 0.0f;
}

/* ---- little-endian helpers ----------------------------------------------------------------- */

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
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

static xs_result write_all(int fd, const void *p, size_t n, const char *path, xs_err *err)
{
    const unsigned char *b = (const unsigned char *)p;
    while (n > 0) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return xs_err_set(err, XS_ERR_IO, "%s: write failed: %s", path, strerror(k < 0 ? errno : EIO));
        b += k;
        n -= (size_t)k;
    }
    return XS_OK;
}

static xs_result pread_all(int fd, void *p, size_t n, uint64_t off, const char *path, xs_err *err)
{
    unsigned char *b = (unsigned char *)p;
    while (n > 0) {
        ssize_t k = pread(fd, b, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return xs_err_set(err, XS_ERR_IO, "%s: read at byte %llu failed: %s", path, (unsigned long long)off,
                              strerror(errno));
        if (k == 0)
            return xs_err_set(err, XS_ERR_INVALID, "%s: truncated: nothing at byte %llu", path,
                              (unsigned long long)off);
        b += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return XS_OK;
}

/* ---- the writer ------------------------------------------------------------------------------ */

typedef struct w_image {
    xs_texstore_image rec;
} w_image;

struct xs_texstore_writer {
    char tmp[4096];
    int fd;
    int level;
    uint64_t written;      /* bytes in the temporary file */
    uint64_t frame_start;  /* offset of the open data frame's header; UINT64_MAX: none open */
    uint32_t frame_bytes;  /* its payload so far */
    w_image *images;
    uint32_t image_count, image_cap;
    xs_texstore_page *pages; /* offsets relative to the start of the page data */
    uint64_t page_count, page_cap;
    uint64_t texel_bytes, stored_bytes;
    ZSTD_CCtx *cctx;
    float srgb[256];
};

xs_result xs_texstore_writer_create(const char *tmp_path, int level, xs_texstore_writer **out, xs_err *err)
{
    *out = NULL;
    xs_texstore_writer *w = calloc(1, sizeof *w);
    if (!w)
        return xs_err_set(err, XS_ERR_NOMEM, "texture pages: out of memory");
    snprintf(w->tmp, sizeof w->tmp, "%s", tmp_path);
    w->level = level;
    w->frame_start = UINT64_MAX;
    xs_srgb_table(w->srgb);
    w->cctx = ZSTD_createCCtx();
    w->fd = open(tmp_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0 || !w->cctx) {
        xs_result r = w->fd < 0 ? xs_err_set(err, XS_ERR_IO, "%s: cannot create: %s", tmp_path, strerror(errno))
                                : xs_err_set(err, XS_ERR_NOMEM, "texture pages: out of memory");
        xs_texstore_writer_destroy(w);
        return r;
    }
    *out = w;
    return XS_OK;
}

void xs_texstore_writer_destroy(xs_texstore_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0) {
        close(w->fd);
        unlink(w->tmp);
    }
    ZSTD_freeCCtx(w->cctx);
    free(w->images);
    free(w->pages);
    free(w);
}

void xs_texstore_writer_stats(const xs_texstore_writer *w, uint64_t *pages, uint64_t *texel_bytes,
                              uint64_t *stored_bytes)
{
    *pages = w->page_count;
    *texel_bytes = w->texel_bytes;
    *stored_bytes = w->stored_bytes;
}

/* Closes the open data frame: its size goes into its header. */
static xs_result close_frame(xs_texstore_writer *w, xs_err *err)
{
    if (w->frame_start == UINT64_MAX)
        return XS_OK;
    unsigned char h[4];
    put32(h, w->frame_bytes);
    if (pwrite(w->fd, h, 4, (off_t)(w->frame_start + 4)) != 4)
        return xs_err_set(err, XS_ERR_IO, "%s: write failed: %s", w->tmp, strerror(errno));
    w->frame_start = UINT64_MAX;
    return XS_OK;
}

static xs_result put_page(xs_texstore_writer *w, const void *data, size_t size, xs_err *err)
{
    if (w->frame_start != UINT64_MAX && (uint64_t)w->frame_bytes + size > DATA_FRAME_MAX) {
        xs_result r = close_frame(w, err);
        if (r != XS_OK)
            return r;
    }
    if (w->frame_start == UINT64_MAX) {
        unsigned char h[8];
        put32(h, SKIP_MAGIC);
        put32(h + 4, 0);
        xs_result r = write_all(w->fd, h, 8, w->tmp, err);
        if (r != XS_OK)
            return r;
        w->frame_start = w->written;
        w->frame_bytes = 0;
        w->written += 8;
    }
    if (w->page_count == w->page_cap) {
        uint64_t nc = w->page_cap ? w->page_cap * 2 : 1024;
        xs_texstore_page *np = realloc(w->pages, (size_t)nc * sizeof *np);
        if (!np)
            return xs_err_set(err, XS_ERR_NOMEM, "texture pages: out of memory for the index");
        w->pages = np;
        w->page_cap = nc;
    }
    xs_texstore_page *pg = &w->pages[w->page_count++];
    pg->offset = w->written;
    pg->size = (uint32_t)size;
    pg->check = (uint32_t)XXH3_64bits(data, size);
    xs_result r = write_all(w->fd, data, size, w->tmp, err);
    w->written += size;
    w->frame_bytes += (uint32_t)size;
    w->stored_bytes += size;
    return r;
}

xs_result xs_texstore_writer_add(xs_texstore_writer *w, int image, const xs_image8 *img, bool srgb,
                                 const char *label, xs_err *err)
{
    if (image < 0)
        return xs_err_set(err, XS_ERR_INTERNAL, "%s: negative image index", label);
    for (uint32_t i = 0; i < w->image_count; ++i)
        if (w->images[i].rec.image == (uint32_t)image)
            return xs_err_set(err, XS_ERR_INTERNAL, "%s: image %d paged twice", label, image);
    xs_texpage_pyramid p;
    xs_result r = xs_texpage_pyramid_build(img, srgb, &p, err);
    if (r != XS_OK)
        return r;
    if (w->image_count == w->image_cap) {
        uint32_t nc = w->image_cap ? w->image_cap * 2 : 16;
        w_image *ni = realloc(w->images, nc * sizeof *ni);
        if (!ni) {
            xs_texpage_pyramid_free(&p);
            return xs_err_set(err, XS_ERR_NOMEM, "texture pages: out of memory");
        }
        w->images = ni;
        w->image_cap = nc;
    }
    w_image *wi = &w->images[w->image_count++];
    memset(wi, 0, sizeof *wi);
    wi->rec.image = (uint32_t)image;
    wi->rec.width = (uint32_t)img->width;
    wi->rec.height = (uint32_t)img->height;
    wi->rec.levels = (uint32_t)p.levels;
    wi->rec.first_page = w->page_count;
    wi->rec.mean_luminance = xs_texpage_mean_luminance(img, w->srgb);
    uint32_t texels[XS_TEXPAGE_TEXELS];
    size_t cap = ZSTD_compressBound(sizeof texels);
    void *cbuf = malloc(cap);
    if (!cbuf)
        r = xs_err_set(err, XS_ERR_NOMEM, "texture pages: out of memory");
    for (int l = 0; r == XS_OK && l < p.levels; ++l) {
        uint32_t lw, lh, nx, ny;
        xs_texpage_level(wi->rec.width, wi->rec.height, l, &lw, &lh, &nx, &ny);
        for (uint32_t py = 0; r == XS_OK && py < ny; ++py)
            for (uint32_t px = 0; r == XS_OK && px < nx; ++px) {
                uint32_t n = xs_texpage_extract(&p, l, px, py, texels);
                size_t c = ZSTD_compressCCtx(w->cctx, cbuf, cap, texels, n * sizeof *texels, w->level);
                if (ZSTD_isError(c))
                    r = xs_err_set(err, XS_ERR_INTERNAL, "%s: zstd: %s", label, ZSTD_getErrorName(c));
                else
                    r = put_page(w, cbuf, c, err);
                w->texel_bytes += (uint64_t)n * 4;
            }
    }
    free(cbuf);
    xs_texpage_pyramid_free(&p);
    return r;
}

static int image_cmp(const void *a, const void *b)
{
    uint32_t x = ((const w_image *)a)->rec.image, y = ((const w_image *)b)->rec.image;
    return x < y ? -1 : x > y;
}

xs_result xs_texstore_writer_finish(xs_texstore_writer *w, const void *tar, size_t tar_len, const char *path,
                                    xs_err *err)
{
    xs_result r = close_frame(w, err);
    if (r != XS_OK)
        return r;
    qsort(w->images, w->image_count, sizeof *w->images, image_cmp);
    /* the index */
    size_t ibytes = INDEX_HEAD + (size_t)w->image_count * IMAGE_RECORD + (size_t)w->page_count * PAGE_RECORD;
    if (ibytes > 0xffffffffu - 16)
        return xs_err_set(err, XS_ERR_INVALID, "%s: %llu pages: the index would pass 4 GiB", path,
                          (unsigned long long)w->page_count);
    unsigned char *idx = malloc(8 + ibytes);
    if (!idx)
        return xs_err_set(err, XS_ERR_NOMEM, "texture pages: out of memory for the index");
    unsigned char *p = idx;
    put32(p, SKIP_MAGIC), put32(p + 4, (uint32_t)ibytes), p += 8;
    memcpy(p, INDEX_MAGIC, 8), put32(p + 8, VERSION), put32(p + 12, w->image_count), put64(p + 16, w->page_count);
    p += INDEX_HEAD;
    for (uint32_t i = 0; i < w->image_count; ++i, p += IMAGE_RECORD) {
        const xs_texstore_image *im = &w->images[i].rec;
        uint32_t ml;
        memcpy(&ml, &im->mean_luminance, 4);
        put32(p, im->image), put32(p + 4, im->width), put32(p + 8, im->height), put32(p + 12, im->levels);
        put64(p + 16, im->first_page), put32(p + 24, ml), put32(p + 28, 0);
    }
    const uint64_t base = tar_len; /* page offsets become offsets in the package */
    for (uint64_t i = 0; i < w->page_count; ++i, p += PAGE_RECORD) {
        put64(p, base + w->pages[i].offset);
        put32(p + 8, w->pages[i].size), put32(p + 12, w->pages[i].check);
    }
    unsigned char foot[FOOTER_BYTES];
    put32(foot, SKIP_MAGIC), put32(foot + 4, FOOTER_BYTES - 8);
    memcpy(foot + 8, FOOTER_MAGIC, 8);
    put64(foot + 16, tar_len);
    put64(foot + 24, base + w->written);
    put64(foot + 32, ibytes);
    put64(foot + 40, XXH3_64bits(idx + 8, ibytes));
    /* the package: tar, pages, index, footer; durable under its name */
    char tmp[4200];
    int fd = -1;
    r = xs_tmp_path(path, tmp, sizeof tmp, err);
    if (r == XS_OK && (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
        r = xs_err_set(err, XS_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    if (r == XS_OK)
        r = write_all(fd, tar, tar_len, tmp, err);
    unsigned char *buf = r == XS_OK ? malloc(1 << 20) : NULL;
    if (r == XS_OK && !buf)
        r = xs_err_set(err, XS_ERR_NOMEM, "texture pages: out of memory");
    for (uint64_t off = 0; r == XS_OK && off < w->written;) {
        size_t n = w->written - off < (1u << 20) ? (size_t)(w->written - off) : (1u << 20);
        r = pread_all(w->fd, buf, n, off, w->tmp, err);
        if (r == XS_OK)
            r = write_all(fd, buf, n, tmp, err);
        off += n;
    }
    free(buf);
    if (r == XS_OK)
        r = write_all(fd, idx, 8 + ibytes, tmp, err);
    if (r == XS_OK)
        r = write_all(fd, foot, sizeof foot, tmp, err);
    free(idx);
    if (fd >= 0 && close(fd) != 0 && r == XS_OK)
        r = xs_err_set(err, XS_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (r == XS_OK)
        r = xs_commit_file(tmp, path, err);
    else if (fd >= 0)
        unlink(tmp);
    return r;
}

/* ---- the reader ------------------------------------------------------------------------------ */

void xs_texstore_close(xs_texstore *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s->path);
    free(s->images);
    free(s->pages);
    free(s);
}

static xs_result read_footer(int fd, const char *path, uint64_t size, bool *has, unsigned char *foot, xs_err *err)
{
    *has = false;
    if (size < FOOTER_BYTES)
        return XS_OK;
    xs_result r = pread_all(fd, foot, FOOTER_BYTES, size - FOOTER_BYTES, path, err);
    if (r != XS_OK)
        return r;
    *has = get32(foot) == SKIP_MAGIC && get32(foot + 4) == FOOTER_BYTES - 8 && memcmp(foot + 8, FOOTER_MAGIC, 8) == 0;
    return XS_OK;
}

xs_result xs_texstore_probe(const char *path, bool *has, uint64_t *tar_bytes, uint64_t *file_bytes, xs_err *err)
{
    *has = false;
    int fd = -1;
    uint64_t size = 0;
    xs_result r = xs_file_open_regular(path, &fd, &size, err); /* a FIFO is refused, not waited on */
    if (r != XS_OK)
        return r == XS_ERR_IO ? XS_ERR_INVALID : r;
    unsigned char foot[FOOTER_BYTES];
    r = read_footer(fd, path, size, has, foot, err);
    close(fd);
    if (r != XS_OK)
        return r;
    *file_bytes = size;
    *tar_bytes = *has ? get64(foot + 16) : size;
    if (*has && *tar_bytes > size - FOOTER_BYTES)
        return xs_err_set(err, XS_ERR_INVALID, "%s: texture pages: footer: the tar part (%llu bytes) passes the file's end",
                          path, (unsigned long long)*tar_bytes);
    return XS_OK;
}

static xs_result bad_index(xs_texstore *s, xs_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static xs_result bad_index(xs_texstore *s, xs_err *err, const char *fmt, ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return xs_err_set(err, XS_ERR_INVALID, "%s: texture pages: %s", s->path, why);
}

static xs_result parse_index(xs_texstore *s, const unsigned char *ix, uint64_t ibytes, uint64_t data_end,
                             xs_err *err)
{
    if (ibytes < INDEX_HEAD || memcmp(ix, INDEX_MAGIC, 8) != 0)
        return bad_index(s, err, "index: not an xisuan page index");
    if (get32(ix + 8) != VERSION)
        return bad_index(s, err, "index: version %u (this xisuan reads %d)", get32(ix + 8), VERSION);
    uint64_t ni = get32(ix + 12), np = get64(ix + 16);
    if (ibytes != INDEX_HEAD + ni * IMAGE_RECORD + np * PAGE_RECORD)
        return bad_index(s, err, "index: %llu bytes do not hold %llu images and %llu pages",
                         (unsigned long long)ibytes, (unsigned long long)ni, (unsigned long long)np);
    if (np >= UINT32_MAX)
        return bad_index(s, err, "index: %llu pages (at most %u)", (unsigned long long)np, UINT32_MAX - 1);
    s->image_count = (uint32_t)ni;
    s->page_count = np;
    s->images = calloc(ni ? ni : 1, sizeof *s->images);
    s->pages = calloc(np ? np : 1, sizeof *s->pages);
    if (!s->images || !s->pages)
        return xs_err_set(err, XS_ERR_NOMEM, "%s: texture pages: out of memory for the index", s->path);
    const unsigned char *p = ix + INDEX_HEAD;
    uint64_t next = 0;
    for (uint32_t i = 0; i < ni; ++i, p += IMAGE_RECORD) {
        xs_texstore_image *im = &s->images[i];
        im->image = get32(p), im->width = get32(p + 4), im->height = get32(p + 8), im->levels = get32(p + 12);
        im->first_page = get64(p + 16);
        uint32_t ml = get32(p + 24);
        memcpy(&im->mean_luminance, &ml, 4);
        if (i > 0 && im->image <= s->images[i - 1].image)
            return bad_index(s, err, "index: image %u listed out of order or twice", im->image);
        if (im->width < 1 || im->height < 1 || im->width > 65536 || im->height > 65536)
            return bad_index(s, err, "index: image %u is %ux%u texels", im->image, im->width, im->height);
        if (im->levels != (uint32_t)xs_texpage_levels(im->width, im->height))
            return bad_index(s, err, "index: image %u: %u levels, a %ux%u pyramid has %d", im->image, im->levels,
                             im->width, im->height, xs_texpage_levels(im->width, im->height));
        if (im->first_page != next)
            return bad_index(s, err, "index: image %u's pages start at %llu, expected %llu", im->image,
                             (unsigned long long)im->first_page, (unsigned long long)next);
        if (!(im->mean_luminance >= 0.0f && im->mean_luminance <= 1.0f))
            return bad_index(s, err, "index: image %u: mean luminance %g", im->image, (double)im->mean_luminance);
        next += xs_texpage_count(im->width, im->height);
        if (next > np)
            return bad_index(s, err, "index: image %u's pages pass the %llu listed", im->image, (unsigned long long)np);
    }
    if (next != np)
        return bad_index(s, err, "index: the images have %llu pages, the index lists %llu", (unsigned long long)next,
                         (unsigned long long)np);
    const size_t bound = ZSTD_compressBound(XS_TEXPAGE_TEXELS * 4);
    for (uint64_t i = 0; i < np; ++i, p += PAGE_RECORD) {
        xs_texstore_page *pg = &s->pages[i];
        pg->offset = get64(p), pg->size = get32(p + 8), pg->check = get32(p + 12);
        if (pg->size == 0 || pg->size > bound || pg->offset < s->tar_bytes || pg->offset > data_end ||
            data_end - pg->offset < pg->size)
            return bad_index(s, err, "index: page %llu (%u bytes at %llu) lies outside the page data [%llu, %llu)",
                             (unsigned long long)i, pg->size, (unsigned long long)pg->offset,
                             (unsigned long long)s->tar_bytes, (unsigned long long)data_end);
        s->stored_bytes += pg->size;
        s->texel_bytes += (uint64_t)xs_texstore_page_texels(s, i) * 4;
    }
    return XS_OK;
}

xs_result xs_texstore_open(const char *path, xs_texstore **out, xs_err *err)
{
    *out = NULL;
    xs_texstore *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
    }
    uint64_t fsize = 0;
    xs_result r = xs_file_open_regular(path, &s->fd, &fsize, err);
    if (r != XS_OK) {
        xs_texstore_close(s);
        return r == XS_ERR_IO ? XS_ERR_INVALID : r;
    }
    struct stat st;
    st.st_size = (off_t)fsize;
    unsigned char foot[FOOTER_BYTES];
    bool has = false;
    r = read_footer(s->fd, path, (uint64_t)st.st_size, &has, foot, err);
    if (r == XS_OK && !has)
        r = bad_index(s, err, "the package has no page store (pack it with xisuan pack)");
    unsigned char *ix = NULL;
    if (r == XS_OK) {
        s->file_bytes = (uint64_t)st.st_size;
        s->tar_bytes = get64(foot + 16);
        uint64_t ioff = get64(foot + 24), ibytes = get64(foot + 32);
        uint64_t foot_at = s->file_bytes - FOOTER_BYTES;
        if (s->tar_bytes > foot_at || ioff < s->tar_bytes || ioff > foot_at || foot_at - ioff != 8 + ibytes ||
            ibytes > 0xffffffffu)
            r = bad_index(s, err, "footer: tar %llu, index %llu bytes at %llu do not fit a file of %llu bytes",
                          (unsigned long long)s->tar_bytes, (unsigned long long)ibytes, (unsigned long long)ioff,
                          (unsigned long long)s->file_bytes);
        unsigned char fh[8];
        if (r == XS_OK)
            r = pread_all(s->fd, fh, 8, ioff, path, err);
        if (r == XS_OK && (get32(fh) != SKIP_MAGIC || get32(fh + 4) != ibytes))
            r = bad_index(s, err, "the index frame's header does not match the footer");
        if (r == XS_OK && !(ix = malloc(ibytes ? ibytes : 1)))
            r = xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory for the page index", path);
        if (r == XS_OK)
            r = pread_all(s->fd, ix, ibytes, ioff + 8, path, err);
        if (r == XS_OK && XXH3_64bits(ix, ibytes) != get64(foot + 40))
            r = bad_index(s, err, "index: checksum mismatch (the file is damaged)");
        if (r == XS_OK) {
            s->id = get64(foot + 40);
            r = parse_index(s, ix, ibytes, ioff, err);
        }
    }
    free(ix);
    if (r != XS_OK) {
        xs_texstore_close(s);
        return r;
    }
    *out = s;
    return XS_OK;
}

const xs_texstore_image *xs_texstore_find(const xs_texstore *s, uint32_t image)
{
    uint32_t lo = 0, hi = s->image_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->images[mid].image < image)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->image_count && s->images[lo].image == image ? &s->images[lo] : NULL;
}

uint32_t xs_texstore_page_texels(const xs_texstore *s, uint64_t page)
{
    /* the image holding it: the last whose first page is at or before it */
    uint32_t lo = 0, hi = s->image_count;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->images[mid].first_page <= page)
            lo = mid;
        else
            hi = mid;
    }
    const xs_texstore_image *im = &s->images[lo];
    uint64_t k = page - im->first_page;
    for (uint32_t l = 0; l < im->levels; ++l) {
        uint32_t lw, lh, nx, ny;
        xs_texpage_level(im->width, im->height, (int)l, &lw, &lh, &nx, &ny);
        if (k < (uint64_t)nx * ny) {
            uint32_t pw, ph;
            xs_texpage_page_size(lw, lh, (uint32_t)(k % nx), (uint32_t)(k / nx), &pw, &ph);
            return pw * ph;
        }
        k -= (uint64_t)nx * ny;
    }
    return 0;
}

xs_result xs_texstore_read(const xs_texstore *s, uint64_t page, uint32_t *out, uint32_t *texels, uint32_t *stored,
                           xs_err *err)
{
    if (page >= s->page_count)
        return xs_err_set(err, XS_ERR_INTERNAL, "%s: texture page %llu of %llu", s->path, (unsigned long long)page,
                          (unsigned long long)s->page_count);
    const xs_texstore_page *pg = &s->pages[page];
    unsigned char local[20000];
    unsigned char *buf = pg->size <= sizeof local ? local : malloc(pg->size);
    if (!buf)
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", s->path);
    xs_result r = pread_all(s->fd, buf, pg->size, pg->offset, s->path, err);
    if (r == XS_OK && (uint32_t)XXH3_64bits(buf, pg->size) != pg->check)
        r = xs_err_set(err, XS_ERR_IO, "%s: texture page %llu (%u bytes at %llu): checksum mismatch (the file is "
                                       "damaged or changed while rendering)",
                       s->path, (unsigned long long)page, pg->size, (unsigned long long)pg->offset);
    uint32_t want = xs_texstore_page_texels(s, page);
    if (r == XS_OK) {
        size_t n = ZSTD_decompress(out, XS_TEXPAGE_TEXELS * 4, buf, pg->size);
        if (ZSTD_isError(n) || n != (size_t)want * 4)
            r = xs_err_set(err, XS_ERR_IO, "%s: texture page %llu: %s", s->path, (unsigned long long)page,
                           ZSTD_isError(n) ? ZSTD_getErrorName(n) : "decompressed to the wrong size");
    }
    if (buf != local)
        free(buf);
    if (r == XS_OK) {
        if (texels)
            *texels = want;
        if (stored)
            *stored = pg->size;
    }
    return r;
}
