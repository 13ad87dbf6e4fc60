/* A job's timeline as SVG or PNG (see xs_timeline.h).
 *
 * Building reads the event log once, a line at a time, keeping each item's
 * last dispatch (its time, kind and whether it was a copy) in a hash map by
 * (frame, tile, rank), so a failure, which carries no duration, starts at
 * its dispatch. Drawing lays the picture out once and sends every element
 * through a small canvas that either prints SVG or fills RGB pixels, so the
 * two formats cannot drift apart.
 */
#include "scheduler/xs_timeline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/xs_file.h"
#include "io/xs_image.h"
#include "io/xs_result.h"

/* ---- building ------------------------------------------------------------------ */

/* Event times beyond this (Unix seconds, the year 5138) are a damaged line. */
static const double MAX_TIME = 1e11;

static xs_result add_bar(xs_timeline *tl, int64_t *cap, xs_tl_bar b, xs_err *err)
{
    if (tl->count == *cap) {
        int64_t nc = *cap ? *cap * 2 : 1024;
        xs_tl_bar *nb = realloc(tl->bars, (size_t)nc * sizeof *nb);
        if (!nb)
            return xs_err_set(err, XS_ERR_NOMEM, "timeline: out of memory");
        tl->bars = nb;
        *cap = nc;
    }
    tl->bars[tl->count++] = b;
    if (b.rank + 1 > tl->ranks)
        tl->ranks = b.rank + 1;
    return XS_OK;
}

/* An item's last dispatch. */
typedef struct dispatch {
    double time;
    uint8_t kind, copy;
} dispatch;

/* Dispatches by (frame, tile, rank): open addressing over non-zero keys. */
typedef struct dmap {
    uint64_t *key;
    dispatch *val;
    size_t cap, len;
} dmap;

static uint64_t dkey(int frame, int tile, int rank)
{
    return 1ull << 63 | ((uint64_t)(uint32_t)frame & 0x3fff) << 49 | ((uint64_t)(uint32_t)(tile + 1) & 0x7ffffff) << 22 |
           ((uint64_t)(uint32_t)rank & 0x3fffff);
}

static size_t dslot(uint64_t k, size_t cap) { return (size_t)((k * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1); }

static bool dmap_put(dmap *m, uint64_t k, dispatch v)
{
    if (2 * (m->len + 1) > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 4096;
        uint64_t *nk = calloc(nc, sizeof *nk);
        dispatch *nv = malloc(nc * sizeof *nv);
        if (!nk || !nv) {
            free(nk), free(nv);
            return false;
        }
        for (size_t i = 0; i < m->cap; ++i)
            if (m->key[i]) {
                size_t j = dslot(m->key[i], nc);
                while (nk[j])
                    j = (j + 1) & (nc - 1);
                nk[j] = m->key[i];
                nv[j] = m->val[i];
            }
        free(m->key), free(m->val);
        m->key = nk, m->val = nv, m->cap = nc;
    }
    size_t j = dslot(k, m->cap);
    while (m->key[j] && m->key[j] != k)
        j = (j + 1) & (m->cap - 1);
    if (!m->key[j])
        m->len++;
    m->key[j] = k;
    m->val[j] = v;
    return true;
}

static const dispatch *dmap_get(const dmap *m, uint64_t k)
{
    if (!m->cap)
        return NULL;
    for (size_t j = dslot(k, m->cap); m->key[j]; j = (j + 1) & (m->cap - 1))
        if (m->key[j] == k)
            return &m->val[j];
    return NULL;
}

static void dmap_free(dmap *m)
{
    free(m->key), free(m->val);
    memset(m, 0, sizeof *m);
}

static int num(const cJSON *o, const char *k, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) && v->valuedouble >= -2147483647.0 && v->valuedouble <= 2147483647.0
               ? (int)v->valuedouble
               : dflt;
}

static double dnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : 0.0;
}

/* "part", "merge" or anything else (a whole tile) from an event's "kind". */
static int kind_of(const cJSON *o, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "kind");
    if (!cJSON_IsString(v))
        return dflt;
    return strcmp(v->valuestring, "part") == 0 ? XS_TL_PART : strcmp(v->valuestring, "merge") == 0 ? XS_TL_MERGE
                                                                                                  : XS_TL_TILE;
}

xs_result xs_timeline_from_events(xs_timeline *tl, const char *path, xs_err *err)
{
    memset(tl, 0, sizeof *tl);
    tl->map_frame = -1;
    tl->origin = NAN;
    FILE *f = fopen(path, "r");
    if (!f)
        return xs_err_set(err, XS_ERR_IO, "%s: cannot open the event log", path);
    dmap disp = {0};
    int64_t cap = 0, legacy_dups = 0, new_dups = 0;
    double latest_first = -INFINITY; /* the latest time a frame's first tile was committed */
    int last_started = -1;
    int *seen = NULL; /* frames seen committing, to find each one's first commit */
    size_t nseen = 0, cseen = 0;
    xs_result r = XS_OK;
    char *line = NULL;
    size_t lcap = 0;
    while (r == XS_OK && getline(&line, &lcap, f) > 0) {
        cJSON *o = cJSON_Parse(line);
        if (!o)
            continue; /* a torn last line */
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
        const char *e = cJSON_IsString(ev) ? ev->valuestring : "";
        const double t = dnum(o, "time");
        const int frame = num(o, "frame", -1), tile = num(o, "tile", -1), rank = num(o, "rank", 0);
        const dispatch *d = NULL;
        if (rank < 0 || rank >= XS_TL_MAX_RANK || !(t >= 0 && t <= MAX_TIME)) {
            cJSON_Delete(o);
            continue; /* a damaged line */
        }
        if (strcmp(e, "job_start") == 0) { /* a new run: the picture shows the last one */
            tl->count = 0;
            tl->origin = t;
            tl->ranks = num(o, "ranks", 0);
            if (tl->ranks < 0 || tl->ranks > XS_TL_MAX_RANK)
                tl->ranks = 0;
            dmap_free(&disp);
            legacy_dups = new_dups = 0;
            nseen = 0;
            latest_first = -INFINITY;
            last_started = -1;
            tl->tiles_per_frame = num(o, "tiles_per_frame", 0);
            tl->tiles_x = 0;
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "settings");
            int w = 0, h = 0, ts = 0;
            const char *res = cJSON_IsString(st) ? strstr(st->valuestring, "res=") : NULL;
            const char *tile_s = cJSON_IsString(st) ? strstr(st->valuestring, " tile=") : NULL;
            if (res && tile_s && sscanf(res, "res=%dx%d", &w, &h) == 2 && sscanf(tile_s, " tile=%d", &ts) == 1 &&
                ts > 0 && w > 0 && h > 0 && w <= 65536 && h <= 65536) {
                /* the grid from the settings, which name the files: the map trusts nothing else */
                tl->tiles_x = (w + ts - 1) / ts;
                tl->tiles_per_frame = tl->tiles_x * ((h + ts - 1) / ts);
            }
        } else if (strcmp(e, "tile_dispatched") == 0 || strcmp(e, "assembly_dispatched") == 0) {
            const cJSON *vf = cJSON_GetObjectItemCaseSensitive(o, "verify");
            dispatch v = {t, (uint8_t)(e[0] == 'a' ? XS_TL_ASSEMBLY
                                                   : cJSON_IsTrue(vf) ? XS_TL_VERIFY : kind_of(o, XS_TL_TILE)),
                          (uint8_t)cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "copy"))};
            if (!dmap_put(&disp, dkey(frame, e[0] == 'a' ? -1 : tile, rank), v))
                r = xs_err_set(err, XS_ERR_NOMEM, "timeline: out of memory");
        } else if (strcmp(e, "tile_committed") == 0 || strcmp(e, "part_done") == 0 ||
                   strcmp(e, "tile_duplicate") == 0) {
            const bool part = strcmp(e, "part_done") == 0, dup = strcmp(e, "tile_duplicate") == 0;
            d = dmap_get(&disp, dkey(frame, tile, rank));
            const double secs = fmin(fmax(dnum(o, "seconds"), 0.0), t);
            xs_tl_bar b = {rank, frame, tile, t - secs, t, XS_TL_TILE, 0, 0, d ? d->copy : 0};
            if (part)
                b.kind = XS_TL_PART;
            else
                b.kind = (uint8_t)kind_of(o, d && d->kind != XS_TL_ASSEMBLY ? d->kind : XS_TL_TILE);
            if (!part && !dup && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "kept")))
                b.kind = XS_TL_VERIFY;
            if (dup) {
                b.duplicate = 1;
                new_dups++;
            }
            r = add_bar(tl, &cap, b, err);
            if (r == XS_OK && !part && !dup) { /* a frame's first commit */
                bool known = false;
                for (size_t i = nseen; i-- > 0 && !known;)
                    known = seen[i] == frame;
                if (!known) {
                    if (nseen == cseen) {
                        size_t nc = cseen ? 2 * cseen : 64;
                        int *ns = realloc(seen, nc * sizeof *ns);
                        if (!ns)
                            r = xs_err_set(err, XS_ERR_NOMEM, "timeline: out of memory");
                        else
                            seen = ns, cseen = nc;
                    }
                    if (r == XS_OK)
                        seen[nseen++] = frame;
                    if (t >= latest_first)
                        latest_first = t, last_started = frame;
                }
            }
        } else if (strcmp(e, "tile_failed") == 0 || strcmp(e, "assembly_failed") == 0 ||
                   strcmp(e, "duplicate_result") == 0) {
            const int tl_tile = e[0] == 'a' ? -1 : tile;
            d = dmap_get(&disp, dkey(frame, tl_tile, rank));
            /* duplicate 2: the older duplicate_result, settled below */
            xs_tl_bar b = {rank, frame, tl_tile, d ? d->time : t, t,
                           (uint8_t)(d ? d->kind : e[0] == 'a' ? XS_TL_ASSEMBLY : XS_TL_TILE), e[0] != 'd',
                           (uint8_t)(e[0] == 'd' ? 2 : 0), d ? d->copy : 0};
            legacy_dups += e[0] == 'd';
            r = add_bar(tl, &cap, b, err);
        } else if (strcmp(e, "frame_assembled") == 0) {
            d = dmap_get(&disp, dkey(frame, -1, rank));
            r = add_bar(tl, &cap, (xs_tl_bar){rank, frame, -1, d ? d->time : t, t, XS_TL_ASSEMBLY, 0, 0, 0}, err);
        }
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    dmap_free(&disp);
    free(seen);
    /* a log with the newer tile_duplicate (which has the seconds) may also
     * carry the older duplicate_result for the same reply: draw each once */
    if (r == XS_OK && legacy_dups) {
        int64_t k = 0;
        for (int64_t i = 0; i < tl->count; ++i) {
            if (tl->bars[i].duplicate == 2) {
                if (new_dups)
                    continue;
                tl->bars[i].duplicate = 1;
            }
            tl->bars[k++] = tl->bars[i];
        }
        tl->count = k;
    }
    tl->map_frame = last_started;
    if (r != XS_OK)
        xs_timeline_free(tl);
    return r;
}

xs_result xs_timeline_from_sim(xs_timeline *tl, const xs_sim_result *res, int tiles_per_frame, int tiles_x,
                               xs_err *err)
{
    memset(tl, 0, sizeof *tl);
    tl->tiles_per_frame = tiles_per_frame;
    tl->tiles_x = tiles_x;
    tl->map_frame = -1;
    tl->bars = malloc((size_t)(res->bar_count ? res->bar_count : 1) * sizeof *tl->bars);
    if (!tl->bars)
        return xs_err_set(err, XS_ERR_NOMEM, "timeline: out of memory");
    for (int64_t i = 0; i < res->bar_count; ++i) {
        const xs_sim_bar *b = &res->bars[i];
        /* ranks as under MPI: worker w is rank w + 1 */
        uint8_t kind = b->kind == XS_WORK_PART    ? XS_TL_PART
                       : b->kind == XS_WORK_MERGE   ? XS_TL_MERGE
                       : b->tile < 0                ? XS_TL_ASSEMBLY
                                                    : XS_TL_TILE;
        tl->bars[i] = (xs_tl_bar){b->worker + 1, b->frame, b->tile, b->start, b->end, kind, b->failed,
                                  b->duplicate, b->copy};
        if (b->tile >= 0 && !b->failed && !b->duplicate)
            tl->map_frame = b->frame;
    }
    tl->count = res->bar_count;
    tl->ranks = res->workers + 1;
    return XS_OK;
}

static bool map_bar(const xs_tl_bar *b)
{
    return b->tile >= 0 && !b->failed && !b->duplicate && b->kind != XS_TL_PART && b->kind != XS_TL_ASSEMBLY;
}

xs_result xs_timeline_set_map_frame(xs_timeline *tl, int frame, xs_err *err)
{
    for (int64_t i = 0; i < tl->count; ++i)
        if (tl->bars[i].frame == frame && map_bar(&tl->bars[i])) {
            tl->map_frame = frame;
            return XS_OK;
        }
    return xs_err_set(err, XS_ERR_INVALID, "--frame %d: no tile of frame %d was committed in the last run", frame,
                      frame);
}

void xs_timeline_free(xs_timeline *tl)
{
    free(tl->bars);
    memset(tl, 0, sizeof *tl);
}

/* ---- the canvas: SVG elements or RGB pixels --------------------------------------- */

typedef struct rgb {
    uint8_t r, g, b;
} rgb;

typedef struct canvas {
    FILE *svg;         /* SVG: elements are printed here */
    uint8_t *px;       /* else RGB pixels, w x h */
    int w, h;
} canvas;

static rgb hsl(double h, double s, double l)
{
    h = h - floor(h);
    double c = (1 - fabs(2 * l - 1)) * s, x = c * (1 - fabs(fmod(h * 6, 2) - 1)), m = l - c / 2;
    double r = 0, g = 0, b = 0;
    switch ((int)(h * 6) % 6) {
    case 0: r = c, g = x; break;
    case 1: r = x, g = c; break;
    case 2: g = c, b = x; break;
    case 3: g = x, b = c; break;
    case 4: r = x, b = c; break;
    default: r = c, b = x; break;
    }
    return (rgb){(uint8_t)lround((r + m) * 255), (uint8_t)lround((g + m) * 255), (uint8_t)lround((b + m) * 255)};
}

/* Text escaped for XML (SVG and HTML alike). */
static void put_escaped(FILE *f, const char *s)
{
    for (; *s; ++s) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 && *s != 0x7f)
                fputc(*s, f);
        }
    }
}

/* Blends colour c over pixel (x, y) with weight a in [0, 1]. */
static void blend(canvas *cv, int x, int y, rgb c, double a)
{
    if (x < 0 || y < 0 || x >= cv->w || y >= cv->h || !(a > 0))
        return;
    uint8_t *p = cv->px + ((size_t)y * (size_t)cv->w + (size_t)x) * 3;
    if (a >= 1) {
        p[0] = c.r, p[1] = c.g, p[2] = c.b;
        return;
    }
    p[0] = (uint8_t)lround(p[0] + (c.r - p[0]) * a);
    p[1] = (uint8_t)lround(p[1] + (c.g - p[1]) * a);
    p[2] = (uint8_t)lround(p[2] + (c.b - p[2]) * a);
}

/* Fills [x, x+w) x [y, y+h) with coverage-weighted blending (anti-aliased
 * edges, so a bar narrower than a pixel still shows); hatch darkens every
 * fourth diagonal. */
static void raster_rect(canvas *cv, double x, double y, double w, double h, rgb c, double alpha, bool hatch)
{
    if (!(w > 0) || !(h > 0))
        return;
    int x0 = (int)floor(x), x1 = (int)ceil(x + w), y0 = (int)floor(y), y1 = (int)ceil(y + h);
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > cv->w ? cv->w : x1, y1 = y1 > cv->h ? cv->h : y1;
    for (int j = y0; j < y1; ++j) {
        double cy = fmin(y + h, j + 1.0) - fmax(y, (double)j);
        for (int i = x0; i < x1; ++i) {
            double cx = fmin(x + w, i + 1.0) - fmax(x, (double)i);
            rgb k = c;
            if (hatch && (i + j) % 4 == 0)
                k = (rgb){(uint8_t)(c.r * 0.6), (uint8_t)(c.g * 0.6), (uint8_t)(c.b * 0.6)};
            blend(cv, i, j, k, cx * cy * alpha);
        }
    }
}

/* A rectangle: fill, an optional outline, an optional hatch over it; in SVG
 * also a class, extra attributes and a tooltip. */
static void cv_rect(canvas *cv, double x, double y, double w, double h, rgb fill, const rgb *stroke, bool hatch,
                    const char *cls, const char *attrs, const char *title)
{
    if (cv->svg) {
        FILE *f = cv->svg;
        fprintf(f, "<rect");
        if (cls)
            fprintf(f, " class=\"%s\"", cls);
        fprintf(f, " x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#%02x%02x%02x\"", x, y, w, h,
                fill.r, fill.g, fill.b);
        if (stroke)
            fprintf(f, " stroke=\"#%02x%02x%02x\" stroke-width=\"1\"", stroke->r, stroke->g, stroke->b);
        if (attrs)
            fprintf(f, " %s", attrs);
        if (title) {
            fputs("><title>", f);
            put_escaped(f, title);
            fputs("</title></rect>", f);
        } else {
            fputs("/>", f);
        }
        if (hatch)
            fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"url(#hatch)\"/>", x, y, w,
                    h);
        fputc('\n', f);
        return;
    }
    raster_rect(cv, x, y, w, h, fill, 1.0, hatch);
    if (stroke) {
        raster_rect(cv, x, y, w, 1, *stroke, 1.0, false);
        raster_rect(cv, x, y + h - 1, w, 1, *stroke, 1.0, false);
        raster_rect(cv, x, y, 1, h, *stroke, 1.0, false);
        raster_rect(cv, x + w - 1, y, 1, h, *stroke, 1.0, false);
    }
}

/* A horizontal or vertical line one pixel wide. */
static void cv_line(canvas *cv, double x1, double y1, double x2, double y2, rgb c)
{
    if (cv->svg) {
        fprintf(cv->svg, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#%02x%02x%02x\"/>\n", x1, y1,
                x2, y2, c.r, c.g, c.b);
        return;
    }
    if (x1 == x2)
        raster_rect(cv, floor(x1), y1, 1, y2 - y1, c, 1.0, false);
    else
        raster_rect(cv, x1, floor(y1), x2 - x1, 1, c, 1.0, false);
}

/* The PNG's text: a 5x8 bitmap font of our own (rows top to bottom, bit 4
 * the leftmost column; row 7 for descenders), lower case only; upper case
 * is drawn as lower case and anything else as '?'. */
typedef struct glyph {
    char c;
    uint8_t row[8];
} glyph;

static const glyph FONT[] = {
    {' ', {0, 0, 0, 0, 0, 0, 0, 0}},
    {'0', {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e, 0}},
    {'1', {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e, 0}},
    {'2', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f, 0}},
    {'3', {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e, 0}},
    {'4', {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02, 0}},
    {'5', {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e, 0}},
    {'6', {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e, 0}},
    {'7', {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0}},
    {'8', {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e, 0}},
    {'9', {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c, 0}},
    {'a', {0, 0, 0x0e, 0x01, 0x0f, 0x11, 0x0f, 0}},
    {'b', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e, 0}},
    {'c', {0, 0, 0x0e, 0x10, 0x10, 0x11, 0x0e, 0}},
    {'d', {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f, 0}},
    {'e', {0, 0, 0x0e, 0x11, 0x1f, 0x10, 0x0e, 0}},
    {'f', {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08, 0}},
    {'g', {0, 0, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x0e}},
    {'h', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0}},
    {'i', {0x04, 0, 0x0c, 0x04, 0x04, 0x04, 0x0e, 0}},
    {'j', {0x02, 0, 0x06, 0x02, 0x02, 0x02, 0x12, 0x0c}},
    {'k', {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0}},
    {'l', {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e, 0}},
    {'m', {0, 0, 0x1a, 0x15, 0x15, 0x15, 0x15, 0}},
    {'n', {0, 0, 0x16, 0x19, 0x11, 0x11, 0x11, 0}},
    {'o', {0, 0, 0x0e, 0x11, 0x11, 0x11, 0x0e, 0}},
    {'p', {0, 0, 0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10}},
    {'q', {0, 0, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x01}},
    {'r', {0, 0, 0x16, 0x19, 0x10, 0x10, 0x10, 0}},
    {'s', {0, 0, 0x0f, 0x10, 0x0e, 0x01, 0x1e, 0}},
    {'t', {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06, 0}},
    {'u', {0, 0, 0x11, 0x11, 0x11, 0x13, 0x0d, 0}},
    {'v', {0, 0, 0x11, 0x11, 0x11, 0x0a, 0x04, 0}},
    {'w', {0, 0, 0x11, 0x11, 0x15, 0x15, 0x0a, 0}},
    {'x', {0, 0, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0}},
    {'y', {0, 0, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e}},
    {'z', {0, 0, 0x1f, 0x02, 0x04, 0x08, 0x1f, 0}},
    {'.', {0, 0, 0, 0, 0, 0x0c, 0x0c, 0}},
    {',', {0, 0, 0, 0, 0, 0x0c, 0x04, 0x08}},
    {':', {0, 0x0c, 0x0c, 0, 0x0c, 0x0c, 0, 0}},
    {';', {0, 0x0c, 0x0c, 0, 0x0c, 0x04, 0x08, 0}},
    {'-', {0, 0, 0, 0x0e, 0, 0, 0, 0}},
    {'+', {0, 0x04, 0x04, 0x1f, 0x04, 0x04, 0, 0}},
    {'=', {0, 0, 0x1f, 0, 0x1f, 0, 0, 0}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0}},
    {'/', {0, 0x01, 0x02, 0x04, 0x08, 0x10, 0, 0}},
    {'_', {0, 0, 0, 0, 0, 0, 0, 0x1f}},
    {'\'', {0x04, 0x04, 0x08, 0, 0, 0, 0, 0}},
    {'"', {0x0a, 0x0a, 0, 0, 0, 0, 0, 0}},
    {'#', {0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a, 0}},
    {'<', {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0}},
    {'>', {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0}},
    {'*', {0, 0x04, 0x15, 0x0e, 0x15, 0x04, 0, 0}},
    {'!', {0x04, 0x04, 0x04, 0x04, 0x04, 0, 0x04, 0}},
    {'[', {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e, 0}},
    {']', {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e, 0}},
    {'?', {0x0e, 0x11, 0x02, 0x04, 0x04, 0, 0x04, 0}},
};

static const glyph *glyph_of(char c)
{
    if (c >= 'A' && c <= 'Z')
        c = (char)(c - 'A' + 'a');
    for (size_t i = 0; i < sizeof FONT / sizeof FONT[0]; ++i)
        if (FONT[i].c == c)
            return &FONT[i];
    return glyph_of('?');
}

/* Text with its baseline at y; anchor -1 start, 0 middle, 1 end; size in
 * SVG pixels (the PNG's font has one size). */
static void cv_text(canvas *cv, double x, double y, int anchor, int size, rgb c, const char *text)
{
    if (cv->svg) {
        fprintf(cv->svg, "<text x=\"%.1f\" y=\"%.1f\"%s font-size=\"%d\" fill=\"#%02x%02x%02x\">", x, y,
                anchor < 0 ? "" : anchor == 0 ? " text-anchor=\"middle\"" : " text-anchor=\"end\"", size, c.r, c.g,
                c.b);
        put_escaped(cv->svg, text);
        fputs("</text>\n", cv->svg);
        return;
    }
    const int n = (int)strlen(text), width = n * 6 - 1;
    int x0 = (int)lround(anchor < 0 ? x : anchor == 0 ? x - width / 2.0 : x - width), y0 = (int)lround(y) - 7;
    for (int k = 0; k < n; ++k) {
        const glyph *g = glyph_of(text[k]);
        for (int j = 0; j < 8; ++j)
            for (int i = 0; i < 5; ++i)
                if (g->row[j] >> (4 - i) & 1)
                    blend(cv, x0 + 6 * k + i, y0 + j, c, 1.0);
    }
}

/* A filled area over [x0, x0 + n) with heights frac[i] * h up from base. */
static void cv_area(canvas *cv, double x0, double base, double h, const float *frac, int n, rgb c)
{
    if (cv->svg) {
        fprintf(cv->svg, "<path fill=\"#%02x%02x%02x\" d=\"M%.1f %.1f", c.r, c.g, c.b, x0, base);
        for (int i = 0; i < n; ++i)
            fprintf(cv->svg, "H%.1fV%.2f", x0 + i, base - frac[i] * h);
        fprintf(cv->svg, "H%.1fV%.1fZ\"/>\n", x0 + n, base);
        return;
    }
    for (int i = 0; i < n; ++i)
        raster_rect(cv, x0 + i, base - frac[i] * h, 1, frac[i] * h, c, 1.0, false);
}

/* ---- the picture ------------------------------------------------------------------ */

static const rgb BLACK = {0, 0, 0}, GREY = {100, 100, 100}, LIGHT = {221, 221, 221}, RED = {224, 0, 0},
                 DARK_RED = {112, 0, 0}, DUP = {32, 32, 32}, MAGENTA = {192, 0, 192}, BUSY = {110, 150, 200},
                 MISSING = {240, 240, 240};

enum { MAX_ROWS = 1600, MAX_TITLES = 20000 };
static const double MIN_CELL = 1.5; /* the tile map's smallest cell, in pixels */

typedef struct layout {
    double W, H, left, right, plot_w;
    double top_util, util_h, top_marks, marks_h, top_rows, row;
    int first_rank, nranks, k, rows; /* ranks first_rank .. +nranks-1, k a row */
    double t0, t1, sx;
    int tx, ty;
    double cell, map_top, map_w;
    bool map_too_fine; /* a grid whose cells would be under MIN_CELL pixels */
    int *frames;       /* distinct frames, ascending */
    int nframes;
} layout;

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

static int cmp_bar(const void *a, const void *b)
{
    const xs_tl_bar *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* A tick step of 1, 2 or 5 times a power of ten, about span / target. */
static double nice_step(double span, double target)
{
    double raw = span / target, p = pow(10.0, floor(log10(raw > 0 ? raw : 1.0)));
    return raw / p < 2 ? p : raw / p < 5 ? 2 * p : 5 * p;
}

static bool lay_out(layout *L, const xs_timeline *tl)
{
    memset(L, 0, sizeof *L);
    L->W = 1200, L->left = 92, L->right = 24;
    L->plot_w = L->W - L->left - L->right;
    L->frames = malloc((size_t)(tl->count ? tl->count : 1) * sizeof(int));
    if (!L->frames)
        return false;
    bool rank0 = false;
    int max_rank = tl->ranks - 1;
    L->t0 = INFINITY, L->t1 = -INFINITY;
    for (int64_t i = 0; i < tl->count; ++i) {
        const xs_tl_bar *b = &tl->bars[i];
        L->frames[i] = b->frame;
        rank0 |= b->rank == 0;
        max_rank = b->rank > max_rank ? b->rank : max_rank;
        L->t0 = b->start < L->t0 ? b->start : L->t0;
        L->t1 = b->end > L->t1 ? b->end : L->t1;
    }
    if (!(L->t1 > L->t0))
        L->t0 = L->t1 > -INFINITY ? L->t1 - 1 : 0, L->t1 = L->t0 + 1;
    L->sx = L->plot_w / (L->t1 - L->t0);
    qsort(L->frames, (size_t)tl->count, sizeof(int), cmp_int);
    for (int64_t i = 0; i < tl->count; ++i)
        if (i == 0 || L->frames[i] != L->frames[L->nframes - 1])
            L->frames[L->nframes++] = L->frames[i];
    /* rows: rank 0 schedules under MPI; it gets a row only when it rendered */
    L->first_rank = rank0 || max_rank < 1 ? 0 : 1;
    L->nranks = max_rank >= L->first_rank ? max_rank - L->first_rank + 1 : 1;
    L->k = (L->nranks + MAX_ROWS - 1) / MAX_ROWS;
    L->rows = (L->nranks + L->k - 1) / L->k;
    L->row = floor(840.0 / L->rows);
    L->row = L->row > 14 ? 14 : L->row < 1 ? 1 : L->row;
    L->top_util = 58, L->util_h = 40;
    L->top_marks = L->top_util + L->util_h + 8, L->marks_h = 8;
    L->top_rows = L->top_marks + L->marks_h + 8;
    const double rows_end = L->top_rows + L->rows * L->row;
    L->tx = tl->tiles_x > 0 && tl->tiles_per_frame > 0 && tl->map_frame >= 0 ? tl->tiles_x : 0;
    L->ty = L->tx > 0 ? (tl->tiles_per_frame + L->tx - 1) / L->tx : 0;
    L->map_w = (L->plot_w - 40) / 2;
    if (L->tx > 0 && fmin(L->map_w / L->tx, 420.0 / L->ty) < MIN_CELL) /* too fine to draw */
        L->tx = L->ty = 0, L->map_too_fine = true;
    if (L->tx > 0) {
        L->cell = fmin(fmin(40.0, L->map_w / L->tx), 420.0 / L->ty);
        L->map_top = rows_end + 58;
        L->H = L->map_top + L->ty * L->cell + 44;
    } else {
        L->H = rows_end + (L->map_too_fine ? 50 : 30);
    }
    L->H = ceil(L->H);
    return true;
}

static int frame_index(const layout *L, int frame)
{
    int lo = 0, hi = L->nframes - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (L->frames[mid] < frame)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A bar's colour: the frame's hue (blue for the first frames, through
 * green, to orange for the last; neighbouring frames alternate in
 * lightness), shaded by kind. */
static rgb bar_colour(const layout *L, const xs_tl_bar *b)
{
    const int i = frame_index(L, b->frame);
    const double t = L->nframes > 1 ? (double)i / (L->nframes - 1) : 0.0;
    const double h = (210.0 - 180.0 * t) / 360.0;
    double s = 0.62, l = i % 2 ? 0.64 : 0.5;
    switch (b->kind) {
    case XS_TL_PART: l += 0.16; break;
    case XS_TL_MERGE: l -= 0.16; break;
    case XS_TL_ASSEMBLY: l = 0.3, s = 0.5; break;
    case XS_TL_VERIFY: l = 0.86, s = 0.35; break;
    default: break;
    }
    return hsl(h, s, l);
}

static const char *kind_class(const xs_tl_bar *b)
{
    if (b->failed)
        return "fail";
    if (b->duplicate)
        return "dup";
    static const char *const names[] = {"tile", "part", "merge", "asm", "verify"};
    return b->kind < 5 ? names[b->kind] : "tile";
}

static const char *kind_word(int kind)
{
    static const char *const words[] = {"tile", "part", "merge", "assembly", "verified tile"};
    return kind >= 0 && kind < 5 ? words[kind] : "item";
}

/* A rank's colour in the tile map: a fixed palette of twelve for small
 * farms, the golden-ratio hue walk beyond. */
static rgb rank_colour(int rank, int nranks)
{
    static const rgb pal[12] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                                {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
                                {188, 189, 34},  {23, 190, 207}, {90, 90, 200},   {200, 150, 60}};
    if (nranks <= 12)
        return pal[((rank % 12) + 12) % 12];
    return hsl(rank * 0.6180339887, 0.6, 0.55);
}

/* Short to long: light yellow to dark violet. */
static rgb heat(double t)
{
    static const rgb stops[5] = {{253, 231, 37}, {94, 201, 98}, {33, 145, 140}, {59, 82, 139}, {68, 1, 84}};
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double u = t * 4;
    int i = (int)u;
    if (i >= 4)
        return stops[4];
    double f = u - i;
    return (rgb){(uint8_t)lround(stops[i].r + (stops[i + 1].r - stops[i].r) * f),
                 (uint8_t)lround(stops[i].g + (stops[i + 1].g - stops[i].g) * f),
                 (uint8_t)lround(stops[i].b + (stops[i + 1].b - stops[i].b) * f)};
}

static void legend(canvas *cv, double *x, double y, rgb fill, const rgb *stroke, bool hatch, const char *label)
{
    cv_rect(cv, *x, y - 9, 18, 10, fill, stroke, hatch, NULL, NULL, NULL);
    cv_text(cv, *x + 22, y, -1, 11, BLACK, label);
    *x += 22 + 6.2 * (double)strlen(label) + 16;
}

/* The share of workers busy in each of n columns: per rank the union of
 * its items (a GPU rank holds several at once), summed into columns. */
static void busy_columns(const layout *L, const xs_tl_bar *b, int64_t count, float *frac, int n, double *mean)
{
    double *acc = calloc((size_t)n, sizeof *acc);
    if (!acc) {
        *mean = 0;
        return;
    }
    const double bw = (L->t1 - L->t0) / n;
    double total = 0;
    for (int64_t i = 0; i < count;) {
        const int rank = b[i].rank;
        double a = b[i].start, e = b[i].end;
        for (++i;; ++i) {
            bool more = i < count && b[i].rank == rank;
            if (more && b[i].start <= e) {
                e = b[i].end > e ? b[i].end : e;
                continue;
            }
            /* [a, e) into the columns */
            total += e - a;
            int c0 = (int)floor((a - L->t0) / bw), c1 = (int)floor((e - L->t0) / bw);
            c0 = c0 < 0 ? 0 : c0 >= n ? n - 1 : c0;
            c1 = c1 < 0 ? 0 : c1 >= n ? n - 1 : c1;
            for (int c = c0; c <= c1; ++c) {
                double lo = L->t0 + c * bw, hi = lo + bw;
                double o = fmin(e, hi) - fmax(a, lo);
                if (o > 0)
                    acc[c] += o;
            }
            if (!more)
                break;
            a = b[i].start, e = b[i].end;
        }
    }
    for (int c = 0; c < n; ++c) {
        double f = acc[c] / (bw * L->nranks);
        frac[c] = (float)(f > 1 ? 1 : f < 0 ? 0 : f);
    }
    *mean = total / ((L->t1 - L->t0) * L->nranks);
    free(acc);
}

static void draw(canvas *cv, const layout *L, const xs_timeline *tl, const char *title)
{
    char text[512], attrs[160], tip[200];
    const double x0 = L->left;
    /* title and legend */
    int len = snprintf(text, sizeof text, "%s: %lld item(s) on %d rank(s) over %.3f s", title,
                       (long long)tl->count, L->nranks, L->t1 - L->t0);
    if (isfinite(tl->origin) && L->t0 - tl->origin >= 0.0005 && len > 0 && (size_t)len < sizeof text)
        snprintf(text + len, sizeof text - (size_t)len, ", the first %.3f s after the run's start",
                 L->t0 - tl->origin);
    cv_text(cv, x0, 18, -1, 14, BLACK, text);
    double lx = x0;
    xs_tl_bar probe = {0, L->nframes ? L->frames[0] : 0, 0, 0, 0, XS_TL_TILE, 0, 0, 0};
    legend(cv, &lx, 38, bar_colour(L, &probe), NULL, false, "tile (colour: frame, blue first)");
    probe.kind = XS_TL_PART;
    legend(cv, &lx, 38, bar_colour(L, &probe), NULL, true, "part");
    probe.kind = XS_TL_MERGE;
    legend(cv, &lx, 38, bar_colour(L, &probe), NULL, false, "merge");
    probe.kind = XS_TL_ASSEMBLY;
    legend(cv, &lx, 38, bar_colour(L, &probe), NULL, false, "assembly");
    probe.kind = XS_TL_VERIFY;
    legend(cv, &lx, 38, bar_colour(L, &probe), NULL, false, "verified");
    legend(cv, &lx, 38, RED, &DARK_RED, false, "failed");
    legend(cv, &lx, 38, DUP, NULL, false, "duplicate");
    probe.kind = XS_TL_TILE;
    legend(cv, &lx, 38, bar_colour(L, &probe), &MAGENTA, false, "copy");
    /* bars sorted by rank and start */
    xs_tl_bar *b = malloc((size_t)(tl->count ? tl->count : 1) * sizeof *b);
    if (!b)
        return;
    memcpy(b, tl->bars, (size_t)tl->count * sizeof *b);
    qsort(b, (size_t)tl->count, sizeof *b, cmp_bar);
    /* the share of workers busy */
    const int ncol = (int)L->plot_w;
    float *frac = calloc((size_t)ncol, sizeof *frac);
    double mean = 0;
    if (frac) {
        busy_columns(L, b, tl->count, frac, ncol, &mean);
        cv_rect(cv, x0, L->top_util, L->plot_w, L->util_h, (rgb){246, 246, 246}, NULL, false, NULL, NULL, NULL);
        cv_area(cv, x0, L->top_util + L->util_h, L->util_h, frac, ncol, BUSY);
        free(frac);
    }
    cv_text(cv, x0 - 4, L->top_util + 12, 1, 11, BLACK, "busy");
    snprintf(text, sizeof text, "%.0f%%", 100.0 * mean);
    cv_text(cv, x0 - 4, L->top_util + 26, 1, 11, GREY, text);
    cv_text(cv, x0 - 4, L->top_marks + L->marks_h, 1, 11, BLACK, "marks");
    /* the marks lane: copies, then duplicates, then failures on top */
    for (int pass = 0; pass < 3; ++pass)
        for (int64_t i = 0; i < tl->count; ++i) {
            const xs_tl_bar *m = &tl->bars[i];
            if (pass == 0 ? !m->copy || m->failed || m->duplicate : pass == 1 ? !m->duplicate : !m->failed)
                continue;
            double x = x0 + (m->start - L->t0) * L->sx, w = (m->end - m->start) * L->sx;
            cv_rect(cv, x, L->top_marks, w < 1.5 ? 1.5 : w, L->marks_h, pass == 0 ? MAGENTA : pass == 1 ? DUP : RED,
                    NULL, false, "mark", NULL, NULL);
        }
    /* the time axis: grid lines and seconds from the first item */
    const double rows_end = L->top_rows + L->rows * L->row;
    const double step = nice_step(L->t1 - L->t0, 8);
    for (int k = 0; k <= 20 && k * step <= L->t1 - L->t0 + 1e-9; ++k) {
        const double t = k * step;
        double x = x0 + t * L->sx;
        cv_line(cv, x, L->top_rows, x, rows_end, LIGHT);
        snprintf(text, sizeof text, "%.4g s", t);
        cv_text(cv, x, rows_end + 14, 0, 11, BLACK, text);
    }
    /* rank labels: every row where rows are tall enough, else every few */
    int lstep = 1; /* 1, 2, 5, 10, 20, 50, ... */
    for (int m = 0; lstep * L->row < 12; ++m)
        lstep = m % 3 == 1 ? lstep / 2 * 5 : lstep * 2;
    for (int r = 0; r < L->rows; r += lstep) {
        const int ra = L->first_rank + r * L->k, rb = ra + L->k - 1;
        if (L->k > 1)
            snprintf(text, sizeof text, "ranks %d-%d", ra, rb);
        else
            snprintf(text, sizeof text, "rank %d", ra);
        cv_text(cv, x0 - 4, L->top_rows + (r + 0.5) * L->row + 4, 1, L->row >= 10 ? 11 : 9, BLACK, text);
    }
    /* the bars, row by row; a rank's consecutive bars of one frame and kind,
     * each narrower than two pixels and less than a pixel apart, as one */
    const bool titles = tl->count <= MAX_TITLES;
    int64_t i = 0;
    while (i < tl->count && b[i].rank < L->first_rank)
        ++i;
    for (int r = 0; r < L->rows; ++r) {
        const int ra = L->first_rank + r * L->k, rb = ra + L->k - 1;
        if (cv->svg) {
            if (L->k > 1)
                fprintf(cv->svg, "<g data-ranks=\"%d-%d\">\n", ra, rb);
            else
                fprintf(cv->svg, "<g data-rank=\"%d\">\n", ra);
        }
        const double y = L->top_rows + r * L->row, h = L->row > 2 ? L->row - 1 : L->row;
        while (i < tl->count && b[i].rank <= rb) {
            xs_tl_bar m = b[i++];
            int64_t n = 1;
            const bool plain = !m.failed && !m.duplicate && !m.copy;
            while (plain && i < tl->count && b[i].rank == m.rank && b[i].frame == m.frame && b[i].kind == m.kind &&
                   !b[i].failed && !b[i].duplicate && !b[i].copy && (m.end - m.start) * L->sx < 2 &&
                   (b[i].end - b[i].start) * L->sx < 2 && (b[i].start - m.end) * L->sx < 1.0) {
                m.end = b[i].end > m.end ? b[i].end : m.end;
                ++i, ++n;
            }
            const double x = x0 + (m.start - L->t0) * L->sx, w = (m.end - m.start) * L->sx;
            const rgb fill = m.failed ? RED : m.duplicate ? DUP : bar_colour(L, &m);
            const rgb *stroke = m.failed && h >= 4 ? &DARK_RED : m.copy ? &MAGENTA : NULL;
            snprintf(attrs, sizeof attrs, "data-r=\"%d\" data-f=\"%d\" data-t=\"%d\" data-n=\"%lld\"", m.rank,
                     m.frame, m.tile, (long long)n);
            if (titles) {
                if (m.tile >= 0)
                    snprintf(tip, sizeof tip, "rank %d: frame %d %s %d%s%s%s, %.4f s%s", m.rank, m.frame,
                             kind_word(m.kind), m.tile, m.failed ? " FAILED" : "", m.duplicate ? " (duplicate)" : "",
                             m.copy ? " (copy)" : "", m.end - m.start, n > 1 ? " (and more)" : "");
                else
                    snprintf(tip, sizeof tip, "rank %d: frame %d assembly%s, %.4f s", m.rank, m.frame,
                             m.failed ? " FAILED" : "", m.end - m.start);
            }
            cv_rect(cv, x, y, w < 0.5 ? 0.5 : w, h, fill, stroke, m.kind == XS_TL_PART && !m.failed && !m.duplicate,
                    kind_class(&m), attrs, titles ? tip : NULL);
        }
        if (cv->svg)
            fputs("</g>\n", cv->svg);
    }
    free(b);
    /* the tile maps of one frame: who committed each tile, and how long it took */
    if (L->map_too_fine) {
        snprintf(text, sizeof text, "no tile map: a grid of %d x %d tiles is too fine to draw here",
                 tl->tiles_x, (tl->tiles_per_frame + tl->tiles_x - 1) / tl->tiles_x);
        cv_text(cv, x0, rows_end + 44, -1, 13, GREY, text);
    }
    if (L->tx <= 0)
        return;
    const int T = tl->tiles_per_frame;
    int *who = malloc((size_t)T * sizeof *who);
    double *secs = malloc((size_t)T * sizeof *secs), *when = malloc((size_t)T * sizeof *when);
    double *part_s = calloc((size_t)T, sizeof *part_s);
    int *parts = calloc((size_t)T, sizeof *parts);
    if (who && secs && when && parts && part_s) {
        double longest = 0;
        int committed = 0;
        for (int t = 0; t < T; ++t)
            who[t] = -1, secs[t] = 0, when[t] = -INFINITY;
        for (int64_t j = 0; j < tl->count; ++j) {
            const xs_tl_bar *m = &tl->bars[j];
            if (m->frame != tl->map_frame || m->tile < 0 || m->tile >= T)
                continue;
            if (m->kind == XS_TL_PART && !m->failed && !m->duplicate)
                parts[m->tile]++, part_s[m->tile] += m->end - m->start;
            if (!map_bar(m) || m->end < when[m->tile])
                continue;
            committed += who[m->tile] < 0;
            who[m->tile] = m->rank, secs[m->tile] = m->end - m->start, when[m->tile] = m->end;
        }
        for (int t = 0; t < T; ++t) { /* a tile in parts took its parts and its merge */
            secs[t] += who[t] >= 0 ? part_s[t] : 0;
            longest = who[t] >= 0 && secs[t] > longest ? secs[t] : longest;
        }
        const double mx0 = x0, mx1 = x0 + L->map_w + 40, my = L->map_top;
        snprintf(text, sizeof text, "frame %d: the rank that committed each tile (%d of %d)", tl->map_frame,
                 committed, T);
        cv_text(cv, mx0, my - 10, -1, 13, BLACK, text);
        snprintf(text, sizeof text, "frame %d: each tile's seconds (longest %.4g s)", tl->map_frame, longest);
        cv_text(cv, mx1, my - 10, -1, 13, BLACK, text);
        for (int t = 0; t < T; ++t) {
            const double cx = (t % L->tx) * L->cell, cy = my + (t / L->tx) * L->cell;
            const double cw = L->cell > 3 ? L->cell - 0.5 : L->cell;
            if (who[t] < 0) {
                snprintf(tip, sizeof tip, "tile %d (%d, %d): not committed in this run", t, t % L->tx, t / L->tx);
                cv_rect(cv, mx0 + cx, cy, cw, cw, MISSING, NULL, false, "cell", "data-r=\"-1\"", tip);
                cv_rect(cv, mx1 + cx, cy, cw, cw, MISSING, NULL, false, NULL, NULL, NULL);
                continue;
            }
            if (parts[t])
                snprintf(tip, sizeof tip, "tile %d (%d, %d): merged by rank %d from %d part(s), %.4f s in all", t,
                         t % L->tx, t / L->tx, who[t], parts[t], secs[t]);
            else
                snprintf(tip, sizeof tip, "tile %d (%d, %d): rank %d, %.4f s", t, t % L->tx, t / L->tx, who[t],
                         secs[t]);
            snprintf(attrs, sizeof attrs, "data-t=\"%d\" data-r=\"%d\"", t, who[t]);
            cv_rect(cv, mx0 + cx, cy, cw, cw, rank_colour(who[t], L->nranks), NULL, parts[t] > 0, "cell", attrs,
                    tip);
            cv_rect(cv, mx1 + cx, cy, cw, cw, heat(longest > 0 ? secs[t] / longest : 0), NULL, parts[t] > 0, NULL,
                    NULL, tip);
            if (L->cell >= 18 && who[t] < 1000) {
                snprintf(text, sizeof text, "%d", who[t]);
                cv_text(cv, mx0 + cx + cw / 2, cy + cw / 2 + 4, 0, 10, (rgb){255, 255, 255}, text);
            }
        }
        /* keys: ranks (a small farm) and the seconds' scale */
        const double ky = my + L->ty * L->cell + 22;
        if (L->nranks <= 12) {
            double kx = mx0;
            for (int r = L->first_rank; r < L->first_rank + L->nranks; ++r) {
                snprintf(text, sizeof text, "rank %d", r);
                legend(cv, &kx, ky, rank_colour(r, L->nranks), NULL, false, text);
            }
        } else {
            cv_text(cv, mx0, ky, -1, 11, GREY, "colour: rank (hover a tile for its rank)");
        }
        for (int s = 0; s < 20; ++s)
            cv_rect(cv, mx1 + s * 8, ky - 9, 8, 10, heat(s / 19.0), NULL, false, NULL, NULL, NULL);
        snprintf(text, sizeof text, "0 to %.4g s", longest);
        cv_text(cv, mx1 + 168, ky, -1, 11, BLACK, text);
    }
    free(who), free(secs), free(when), free(parts), free(part_s);
}

void xs_timeline_svg(FILE *f, const xs_timeline *tl, const char *title, bool standalone)
{
    layout L;
    if (!lay_out(&L, tl))
        return;
    fprintf(f, "<svg%s width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" "
               "class=\"timeline\" data-rows=\"%d\" data-first-rank=\"%d\" data-ranks-per-row=\"%d\">\n",
            standalone ? " xmlns=\"http://www.w3.org/2000/svg\"" : "", L.W, L.H, L.W, L.H, L.rows, L.first_rank, L.k);
    fputs("<defs><pattern id=\"hatch\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\" "
          "patternTransform=\"rotate(45)\"><rect width=\"1.5\" height=\"4\" fill=\"#000\" fill-opacity=\"0.35\"/>"
          "</pattern></defs>\n",
          f);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    canvas cv = {.svg = f};
    draw(&cv, &L, tl, title);
    fputs("</svg>\n", f);
    free(L.frames);
}

xs_result xs_timeline_png(const xs_timeline *tl, const char *title, unsigned char **png, size_t *len, xs_err *err)
{
    *png = NULL;
    *len = 0;
    layout L;
    if (!lay_out(&L, tl))
        return xs_err_set(err, XS_ERR_NOMEM, "timeline: out of memory");
    canvas cv = {.w = (int)L.W, .h = (int)L.H};
    cv.px = malloc((size_t)cv.w * (size_t)cv.h * 3);
    if (!cv.px) {
        free(L.frames);
        return xs_err_set(err, XS_ERR_NOMEM, "timeline: out of memory for a %dx%d picture", cv.w, cv.h);
    }
    memset(cv.px, 255, (size_t)cv.w * (size_t)cv.h * 3);
    draw(&cv, &L, tl, title);
    free(L.frames);
    xs_result r = xs_png_encode8(cv.px, cv.w, cv.h, 3, png, len, err);
    free(cv.px);
    return r;
}

xs_result xs_timeline_write(const xs_timeline *tl, const char *path, const char *title, xs_err *err)
{
    const size_t n = strlen(path);
    const bool svg = n > 4 && strcmp(path + n - 4, ".svg") == 0, pngf = n > 4 && strcmp(path + n - 4, ".png") == 0;
    if (!svg && !pngf)
        return xs_err_set(err, XS_ERR_INVALID, "%s: --timeline: the file must end in .svg or .png", path);
    unsigned char *buf = NULL;
    size_t len = 0;
    xs_result r;
    if (svg) {
        char *text = NULL;
        FILE *f = open_memstream(&text, &len);
        if (!f)
            return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
        xs_timeline_svg(f, tl, title, true);
        if (fclose(f) != 0) {
            free(text);
            return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
        }
        buf = (unsigned char *)text;
        r = XS_OK;
    } else {
        r = xs_timeline_png(tl, title, &buf, &len, err);
    }
    if (r == XS_OK)
        r = xs_file_write_atomic(path, buf, len, err);
    free(buf);
    return r;
}
