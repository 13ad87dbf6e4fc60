/* A job's timeline as SVG (see xs_timeline.h). */
#include "scheduler/xs_timeline.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/xs_file.h"
#include "io/xs_result.h"

/* ---- building ------------------------------------------------------------------ */

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

/* Dispatch times by (frame, tile): open addressing over 64-bit keys. */
typedef struct tmap {
    uint64_t *key;
    double *val;
    size_t cap, len;
} tmap;

static uint64_t tkey(int frame, int tile) { return ((uint64_t)(uint32_t)frame << 32 | (uint32_t)(tile + 1)) + 1; }

static bool tmap_put(tmap *m, uint64_t k, double v)
{
    if (2 * (m->len + 1) > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 4096;
        uint64_t *nk = calloc(nc, sizeof *nk);
        double *nv = malloc(nc * sizeof *nv);
        if (!nk || !nv) {
            free(nk), free(nv);
            return false;
        }
        for (size_t i = 0; i < m->cap; ++i)
            if (m->key[i]) {
                size_t j = (size_t)(m->key[i] * 0x9e3779b97f4a7c15ull) & (nc - 1);
                while (nk[j])
                    j = (j + 1) & (nc - 1);
                nk[j] = m->key[i];
                nv[j] = m->val[i];
            }
        free(m->key), free(m->val);
        m->key = nk, m->val = nv, m->cap = nc;
    }
    size_t j = (size_t)(k * 0x9e3779b97f4a7c15ull) & (m->cap - 1);
    while (m->key[j] && m->key[j] != k)
        j = (j + 1) & (m->cap - 1);
    if (!m->key[j])
        m->len++;
    m->key[j] = k;
    m->val[j] = v;
    return true;
}

static bool tmap_get(const tmap *m, uint64_t k, double *v)
{
    if (!m->cap)
        return false;
    size_t j = (size_t)(k * 0x9e3779b97f4a7c15ull) & (m->cap - 1);
    while (m->key[j]) {
        if (m->key[j] == k) {
            *v = m->val[j];
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return false;
}

static int num(const cJSON *o, const char *k, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int)v->valuedouble : dflt;
}

static double dnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

xs_result xs_timeline_from_events(xs_timeline *tl, const char *path, xs_err *err)
{
    memset(tl, 0, sizeof *tl);
    tl->map_frame = -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return xs_err_set(err, XS_ERR_IO, "%s: cannot open the event log", path);
    tmap disp = {0};
    int64_t cap = 0;
    int last_assembled = -1, most_frame = -1;
    xs_result r = XS_OK;
    char *line = NULL;
    size_t lcap = 0;
    while (r == XS_OK && getline(&line, &lcap, f) > 0) {
        cJSON *o = cJSON_Parse(line);
        if (!o)
            continue; /* a torn last line */
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
        const char *e = cJSON_IsString(ev) ? ev->valuestring : "";
        double t = dnum(o, "time");
        int frame = num(o, "frame", -1), tile = num(o, "tile", -1), rank = num(o, "rank", 0);
        if (strcmp(e, "job_start") == 0) { /* a new run: the picture shows the last one */
            tl->count = 0;
            tl->ranks = 0;
            free(disp.key), free(disp.val);
            memset(&disp, 0, sizeof disp);
            tl->tiles_per_frame = num(o, "tiles_per_frame", 0);
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "settings");
            int w = 0, h = 0, ts = 0;
            const char *res = cJSON_IsString(st) ? strstr(st->valuestring, "res=") : NULL;
            const char *tile_s = cJSON_IsString(st) ? strstr(st->valuestring, " tile=") : NULL;
            if (res && tile_s && sscanf(res, "res=%dx%d", &w, &h) == 2 && sscanf(tile_s, " tile=%d", &ts) == 1 && ts > 0)
                tl->tiles_x = (w + ts - 1) / ts;
            last_assembled = most_frame = -1;
        } else if (strcmp(e, "tile_dispatched") == 0 || strcmp(e, "assembly_dispatched") == 0) {
            if (!tmap_put(&disp, tkey(frame, tile), t))
                r = xs_err_set(err, XS_ERR_NOMEM, "timeline: out of memory");
        } else if (strcmp(e, "tile_committed") == 0) {
            double secs = dnum(o, "seconds");
            r = add_bar(tl, &cap, (xs_tl_bar){rank, frame, tile, t - secs, t, 0, 0}, err);
            most_frame = frame;
        } else if (strcmp(e, "tile_failed") == 0 || strcmp(e, "assembly_failed") == 0 ||
                   strcmp(e, "duplicate_result") == 0) {
            double t0 = t;
            tmap_get(&disp, tkey(frame, e[0] == 'a' ? -1 : tile), &t0);
            bool dup = e[0] == 'd';
            r = add_bar(tl, &cap, (xs_tl_bar){rank, frame, e[0] == 'a' ? -1 : tile, t0, t, !dup, dup}, err);
        } else if (strcmp(e, "frame_assembled") == 0) {
            double t0 = t;
            tmap_get(&disp, tkey(frame, -1), &t0);
            r = add_bar(tl, &cap, (xs_tl_bar){rank, frame, -1, t0, t, 0, 0}, err);
            last_assembled = frame;
        }
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    free(disp.key), free(disp.val);
    tl->map_frame = last_assembled >= 0 ? last_assembled : most_frame;
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
        tl->bars[i] = (xs_tl_bar){b->worker + 1, b->frame, b->tile, b->start, b->end, b->failed, b->duplicate};
        if (b->tile < 0)
            tl->map_frame = b->frame;
    }
    tl->count = res->bar_count;
    tl->ranks = res->workers + 1;
    if (tl->map_frame < 0 && tl->count > 0)
        tl->map_frame = tl->bars[tl->count - 1].frame;
    return XS_OK;
}

void xs_timeline_free(xs_timeline *tl)
{
    free(tl->bars);
    memset(tl, 0, sizeof *tl);
}

/* ---- drawing ------------------------------------------------------------------- */

static void hsl(char *out, size_t n, double h, double s, double l)
{
    snprintf(out, n, "hsl(%.0f,%.0f%%,%.0f%%)", fmod(h, 1.0) * 360.0, s * 100.0, l * 100.0);
}

static int cmp_bar(const void *a, const void *b)
{
    const xs_tl_bar *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* A tick step of 1, 2 or 5 times a power of ten, about span / 8. */
static double tick_step(double span)
{
    double raw = span / 8.0, p = pow(10.0, floor(log10(raw > 0 ? raw : 1.0)));
    return raw / p < 2 ? p : raw / p < 5 ? 2 * p : 5 * p;
}

void xs_timeline_svg(FILE *f, const xs_timeline *tl, const char *title)
{
    const double W = 1200, left = 70, right = 20, top = 40;
    const int ranks = tl->ranks > 0 ? tl->ranks : 1;
    double row = 800.0 / ranks;
    row = row > 14 ? 14 : row < 0.5 ? 0.5 : row;
    const double H1 = row * ranks;
    double t0 = INFINITY, t1 = -INFINITY;
    for (int64_t i = 0; i < tl->count; ++i) {
        t0 = tl->bars[i].start < t0 ? tl->bars[i].start : t0;
        t1 = tl->bars[i].end > t1 ? tl->bars[i].end : t1;
    }
    if (!(t1 > t0))
        t0 = 0, t1 = 1;
    const double sx = (W - left - right) / (t1 - t0);
    /* the tile map under the timeline */
    const int tx = tl->tiles_x > 0 ? tl->tiles_x : 0;
    const int ty = tx > 0 && tl->tiles_per_frame > 0 ? (tl->tiles_per_frame + tx - 1) / tx : 0;
    double cell = tx > 0 ? (W - left - right) / tx : 0;
    cell = cell > 16 ? 16 : cell;
    const double map_top = top + H1 + 60, H = map_top + (ty > 0 && tl->map_frame >= 0 ? ty * cell + 40 : 0) + 20;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"11\">\n",
            W, H, W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%.0f\" y=\"18\" font-size=\"14\">%s: %lld item(s) on %d rank(s) over %.3f s "
               "(colour: frame; red: failed; outlined: duplicate)</text>\n",
            left, title, (long long)tl->count, ranks, t1 - t0);
    /* time axis */
    double step = tick_step(t1 - t0);
    for (double t = ceil(t0 / step) * step; t <= t1; t += step) {
        double x = left + (t - t0) * sx;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.4g s</text>\n",
                x, top, x, top + H1, x, top + H1 + 14, (double)llround((t - t0) / step) * step);
    }
    for (int r = 0; r < ranks; r += ranks > 40 ? ranks / 20 : 1)
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">rank %d</text>\n", left - 4,
                top + (r + 0.5) * row + 4, r);
    /* bars, sorted by rank and start; a rank's consecutive bars of one frame
     * closer than a pixel are drawn as one */
    xs_tl_bar *b = malloc((size_t)(tl->count ? tl->count : 1) * sizeof *b);
    if (b) {
        memcpy(b, tl->bars, (size_t)tl->count * sizeof *b);
        qsort(b, (size_t)tl->count, sizeof *b, cmp_bar);
        for (int64_t i = 0; i < tl->count;) {
            xs_tl_bar m = b[i++];
            while (i < tl->count && !m.failed && !m.duplicate && !b[i].failed && !b[i].duplicate &&
                   b[i].rank == m.rank && b[i].frame == m.frame && (b[i].start - m.end) * sx < 1.0)
                m.end = b[i].end > m.end ? b[i].end : m.end, ++i;
            char col[48];
            hsl(col, sizeof col, m.frame * 0.6180339887, 0.55, m.tile < 0 ? 0.35 : 0.6);
            double x = left + (m.start - t0) * sx, w = (m.end - m.start) * sx;
            fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"%s/>\n", x,
                    top + m.rank * row, w < 0.5 ? 0.5 : w, row > 2 ? row - 1 : row,
                    m.failed ? "#d00000" : m.duplicate ? "none" : col,
                    m.duplicate ? " stroke=\"black\" stroke-width=\"1\"" : "");
        }
        free(b);
    }
    /* the tile map of one frame: colour by rank, darker the longer it took */
    if (ty > 0 && tl->map_frame >= 0) {
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"13\">frame %d: the rank that committed each "
                   "tile (colour) and how long it took (darker: longer; hover for figures)</text>\n",
                left, map_top - 8, tl->map_frame);
        double longest = 0;
        for (int64_t i = 0; i < tl->count; ++i)
            if (tl->bars[i].frame == tl->map_frame && tl->bars[i].tile >= 0 && !tl->bars[i].failed &&
                !tl->bars[i].duplicate && tl->bars[i].end - tl->bars[i].start > longest)
                longest = tl->bars[i].end - tl->bars[i].start;
        for (int64_t i = 0; i < tl->count; ++i) {
            const xs_tl_bar *m = &tl->bars[i];
            if (m->frame != tl->map_frame || m->tile < 0 || m->failed || m->duplicate)
                continue;
            double d = m->end - m->start;
            char col[48];
            hsl(col, sizeof col, m->rank * 0.6180339887, 0.6, 0.8 - 0.5 * (longest > 0 ? d / longest : 0));
            fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\">"
                       "<title>tile %d (%d, %d): rank %d, %.4f s</title></rect>\n",
                    left + (m->tile % tx) * cell, map_top + (m->tile / tx) * cell, cell, cell, col, m->tile,
                    m->tile % tx, m->tile / tx, m->rank, d);
        }
    }
    fprintf(f, "</svg>\n");
}

xs_result xs_timeline_write_svg(const xs_timeline *tl, const char *path, const char *title, xs_err *err)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
    xs_timeline_svg(f, tl, title);
    xs_result r = fclose(f) == 0 ? xs_file_write_atomic(path, buf, n, err)
                                 : xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
    free(buf);
    return r;
}
