/* The job's status as one self-contained HTML page (see xs_status_html.h).
 * The page is built in memory (open_memstream) and written atomically; the
 * previews are read one at a time, so memory holds one decoded preview and
 * the page. */
#include "scheduler/xs_status_html.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/xs_file.h"
#include "io/xs_image.h"
#include "io/xs_job_layout.h"

/* Text escaped for HTML (element content and quoted attributes alike). */
static void esc(FILE *f, const char *s)
{
    for (; *s; ++s) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void base64(FILE *f, const unsigned char *p, size_t n)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char out[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        out[0] = A[v >> 18 & 63], out[1] = A[v >> 12 & 63];
        out[2] = i + 1 < n ? A[v >> 6 & 63] : '=';
        out[3] = i + 2 < n ? A[v & 63] : '=';
        fwrite(out, 1, 4, f);
    }
}

static const char STYLE[] =
    "body{font-family:sans-serif;margin:1.5em;color:#222;background:#fff}"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;font-size:0.9em}td,th{padding:2px 8px;border-bottom:1px solid #eee}"
    "th{text-align:left;background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "progress{width:20em;vertical-align:middle}.note{color:#666;font-size:0.9em}"
    ".state-completed{color:#070}.state-failed{color:#b00}.state-running,.state-draining{color:#a60}"
    "figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top}"
    "figure img{border:1px solid #ccc;image-rendering:auto;max-width:640px}"
    "figcaption{font-size:0.85em;color:#444}code{font-size:0.9em;word-break:break-all}"
    ".scroll{overflow-x:auto}";

/* A preview as PNG bytes: the file itself when narrow enough, else box-
 * filtered to at most XS_HTML_THUMB_WIDTH wide. *w, *h: the embedded size. */
static xs_result thumbnail(const char *path, unsigned char **png, size_t *len, int *w, int *h, int *ow, int *oh,
                           xs_err *err)
{
    unsigned char *data = NULL;
    size_t n = 0;
    *png = NULL;
    xs_result r = xs_file_read_all(path, 512u << 20, &data, &n, err);
    if (r != XS_OK)
        return r;
    xs_image8 img = {0};
    /* decoded whole (which also checks it is a whole image): up to 8192 x 8192 */
    r = xs_image_decode(path, data, n, 64u << 20, &img, err);
    if (r != XS_OK) {
        free(data);
        return r;
    }
    *ow = img.width, *oh = img.height;
    const int f = (img.width + XS_HTML_THUMB_WIDTH - 1) / XS_HTML_THUMB_WIDTH;
    if (f <= 1) {
        free(img.rgba8);
        *png = data, *len = n, *w = img.width, *h = img.height;
        return XS_OK;
    }
    free(data);
    const int tw = img.width / f > 0 ? img.width / f : 1, th = img.height / f > 0 ? img.height / f : 1;
    unsigned char *small = malloc((size_t)tw * (size_t)th * 3);
    if (!small) {
        free(img.rgba8);
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int y = 0; y < th; ++y)
        for (int x = 0; x < tw; ++x)
            for (int c = 0; c < 3; ++c) {
                unsigned sum = 0, cnt = 0;
                for (int j = y * f; j < (y + 1) * f && j < img.height; ++j)
                    for (int i = x * f; i < (x + 1) * f && i < img.width; ++i)
                        sum += img.rgba8[((size_t)j * (size_t)img.width + (size_t)i) * 4 + (size_t)c], ++cnt;
                small[((size_t)y * (size_t)tw + (size_t)x) * 3 + (size_t)c] = (unsigned char)((sum + cnt / 2) / cnt);
            }
    free(img.rgba8);
    r = xs_png_encode8(small, tw, th, 3, png, len, err);
    free(small);
    *w = tw, *h = th;
    return r;
}

static void row_num(FILE *f, const char *label, const char *id, long long v)
{
    fprintf(f, "<tr><th>%s</th><td class=\"n\" id=\"%s\">%lld</td></tr>\n", label, id, v);
}

static void previews(FILE *f, const char *job_dir, const xs_job_log *st)
{
    fputs("<section id=\"previews\"><h2>Finished frames</h2>\n", f);
    if (!st->have_journal || st->journal_frame_count == 0) {
        fputs("<p class=\"note\">No frame is finished yet (the journal holds no assembled frame).</p></section>\n", f);
        return;
    }
    xs_job_layout l;
    memset(&l, 0, sizeof l);
    snprintf(l.dir, sizeof l.dir, "%s", job_dir);
    snprintf(l.name, sizeof l.name, "%s", st->name);
    size_t embedded = 0;
    int skipped = 0, first_skipped = -1, last_skipped = -1;
    for (int i = 0; i < st->journal_frame_count; ++i) {
        const int frame = st->journal_frames[i];
        char path[XS_PATH_MAX];
        xs_err e;
        xs_err_clear(&e);
        if (!st->name[0] || xs_job_frame_path(&l, frame, "png", path, sizeof path, &e) != XS_OK) {
            fprintf(f, "<p class=\"note\">frame %d: its file name is not known (no name= in the settings)</p>\n",
                    frame);
            continue;
        }
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        if (embedded >= XS_HTML_EMBED_CAP) {
            skipped++;
            first_skipped = first_skipped < 0 ? frame : first_skipped;
            last_skipped = frame;
            continue;
        }
        unsigned char *png = NULL;
        size_t len = 0;
        int w = 0, h = 0, ow = 0, oh = 0;
        if (thumbnail(path, &png, &len, &w, &h, &ow, &oh, &e) != XS_OK) {
            fprintf(f, "<figure class=\"missing\" data-frame=\"%d\"><figcaption>frame %d: no preview: ", frame, frame);
            esc(f, e.msg);
            fputs("</figcaption></figure>\n", f);
            continue;
        }
        fprintf(f, "<figure data-frame=\"%d\"><img alt=\"frame %d\" width=\"%d\" height=\"%d\" src=\"data:image/png;base64,",
                frame, frame, w, h);
        base64(f, png, len);
        fprintf(f, "\"><figcaption>frame %d: <code>", frame);
        esc(f, base);
        fprintf(f, "</code> %dx%d", ow, oh);
        if (w != ow)
            fprintf(f, ", shown at %dx%d", w, h);
        fputs("</figcaption></figure>\n", f);
        embedded += len;
        free(png);
    }
    if (skipped)
        fprintf(f, "<p class=\"note\" id=\"not-embedded\">%d more finished frame(s) (%d to %d) are not embedded: this "
                   "page embeds at most %d MiB of previews. Their previews are beside the frames in the job "
                   "folder.</p>\n",
                skipped, first_skipped, last_skipped, XS_HTML_EMBED_CAP >> 20);
    fputs("</section>\n", f);
}

static void ranks(FILE *f, const xs_job_log *st)
{
    const double wall = xs_job_log_run_wall(st);
    fputs("<section id=\"rank-figures\"><h2>Ranks (last run)</h2>\n", f);
    int last = st->ranks - 1; /* every rank of the run, also those that got nothing */
    double bmin = INFINITY, bmax = 0, bsum = 0;
    int active = 0;
    for (int r = 0; r < st->rank_count; ++r) {
        const xs_rank_status *s = &st->rank[r];
        if (s->tiles + s->kept + s->parts + s->assemblies + s->failures + s->duplicates + s->dup_results == 0)
            continue;
        last = r > last ? r : last;
        double share = wall > 0 ? s->busy_s / wall : 0;
        bmin = share < bmin ? share : bmin, bmax = share > bmax ? share : bmax, bsum += share, ++active;
    }
    if (active)
        fprintf(f, "<p>%d rank(s) did work; busy share min %.1f%%, mean %.1f%%, max %.1f%% of the run's %.3f s.</p>\n",
                active, 100 * bmin, 100 * bsum / active, 100 * bmax, wall);
    fputs("<div class=\"scroll\"><table id=\"ranks\"><thead><tr><th>rank</th><th>items</th><th>tiles</th>"
          "<th>verified</th><th>parts</th><th>assemblies</th><th>busy s</th><th>busy share</th>"
          "<th>mean tile s</th><th>failures</th><th>duplicates</th></tr></thead><tbody>\n",
          f);
    for (int r = 0; r <= last; ++r) {
        xs_rank_status z = {0};
        const xs_rank_status *s = r < st->rank_count ? &st->rank[r] : &z;
        const int64_t items = s->tiles + s->kept + s->parts + s->assemblies;
        const bool idle = items + s->failures + s->duplicates + s->dup_results == 0;
        if (idle && (r == 0 || last > 100000))
            continue; /* rank 0 schedules (it renders only when alone); a huge farm: the ranks that worked */
        char mean[32] = "";
        if (s->tiles > 0)
            snprintf(mean, sizeof mean, "%.4f", s->tile_s / (double)s->tiles);
        fprintf(f,
                "<tr data-rank=\"%d\"><td class=\"n\">%d</td><td class=\"n items\">%lld</td><td class=\"n tiles\">%lld</td>"
                "<td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n assemblies\">%lld</td>"
                "<td class=\"n\">%.3f</td><td class=\"n\">%.1f%%</td><td class=\"n\">%s</td>"
                "<td class=\"n failures\">%lld</td><td class=\"n duplicates\">%lld</td></tr>\n",
                r, r, (long long)items, (long long)s->tiles, (long long)s->kept, (long long)s->parts,
                (long long)s->assemblies, s->busy_s, wall > 0 ? 100.0 * s->busy_s / wall : 0.0, mean,
                (long long)s->failures, (long long)s->duplicates);
    }
    fputs("</tbody></table></div>\n<p class=\"note\">items: tiles rendered, tiles verified from an earlier run, "
          "parts and assemblies; busy: the seconds the event log gives for tiles, verifications, parts and "
          "duplicates (assemblies are counted, not timed); busy share: busy over the run's wall time.</p>"
          "</section>\n",
          f);
}

static void failures(FILE *f, const xs_job_log *st)
{
    if (st->failure_note_count == 0)
        return;
    fputs("<section id=\"failure-list\"><h2>Failures</h2><div class=\"scroll\"><table><thead><tr><th>time (UTC)"
          "</th><th>frame</th><th>tile</th><th>rank</th><th>error</th></tr></thead><tbody>\n",
          f);
    for (int i = 0; i < st->failure_note_count; ++i) {
        const xs_failure_note *n = &st->failure_notes[i];
        char when[32] = "?";
        time_t t = (time_t)n->time;
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(f, "<tr><td>%s</td><td class=\"n\">%d</td><td class=\"n\">%s%d</td><td class=\"n\">%d</td><td>", when,
                n->frame, n->tile < 0 ? "assembly" : "", n->tile < 0 ? 0 : n->tile, n->rank);
        esc(f, n->error);
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody></table></div>", f);
    if (st->failures > st->failure_note_count)
        fprintf(f, "<p class=\"note\">the first %d of %lld failures</p>", st->failure_note_count,
                (long long)st->failures);
    fputs("</section>\n", f);
}

xs_result xs_status_html_write(const char *path, const char *job_dir, const xs_job_log *st, const xs_timeline *tl,
                               xs_err *err)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
    const time_t now = time(NULL);
    char written[40] = "?";
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(written, sizeof written, "%Y-%m-%d %H:%M:%S UTC", &tm);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
          "style-src 'unsafe-inline'\">\n<title>xisuan: ",
          f);
    esc(f, st->job);
    fputs(" (", f);
    esc(f, st->state);
    fprintf(f, ")</title>\n<style>%s</style></head><body>\n<h1>job <span id=\"job\">", STYLE);
    esc(f, st->job);
    fputs("</span>: <span id=\"state\" class=\"state-", f);
    esc(f, st->state);
    fputs("\">", f);
    esc(f, st->state);
    fputs("</span></h1>\n<p class=\"note\">", f);
    fprintf(f, "Written %s by <code>xisuan status --html</code> from <code>", written);
    esc(f, job_dir);
    fputs("</code> (events.jsonl and journal); write it again to update.", f);
    if (strcmp(st->state, "running") == 0 || strcmp(st->state, "draining") == 0)
        fprintf(f, " The log has no summary yet: the job is running, or was stopped without one (killed, or its "
                   "node lost); its last event came %.0f s before this page was written.",
                (double)now - st->last_t);
    fputs("</p>\n", f);
    /* progress */
    const long long tiles_total = (long long)st->frames_total * st->tiles_per_frame;
    const long long frames_done = st->journal_frame_count, tiles_done = st->journal_tiles;
    fputs("<section id=\"progress\"><h2>Progress</h2><table>\n", f);
    fprintf(f, "<tr><th>frames finished</th><td class=\"n\"><span id=\"frames-done\">%lld</span> of <span "
               "id=\"frames-total\">%d</span></td><td><progress max=\"%d\" value=\"%lld\"></progress></td></tr>\n",
            frames_done, st->frames_total, st->frames_total > 0 ? st->frames_total : 1,
            frames_done < st->frames_total ? frames_done : st->frames_total);
    fprintf(f, "<tr><th>tiles committed</th><td class=\"n\"><span id=\"tiles-done\">%lld</span> of <span "
               "id=\"tiles-total\">%lld</span></td><td><progress max=\"%lld\" value=\"%lld\"></progress></td></tr>\n",
            tiles_done, tiles_total, tiles_total > 0 ? tiles_total : 1,
            tiles_done < tiles_total ? tiles_done : tiles_total);
    fputs("</table><table>\n", f);
    row_num(f, "runs", "runs", st->runs);
    row_num(f, "frames assembled in the last run", "assembled", st->assembled);
    row_num(f, "tiles rendered (all runs)", "rendered", st->rendered);
    row_num(f, "tiles verified from earlier runs", "kept", st->kept);
    row_num(f, "parts rendered", "parts", st->parts);
    row_num(f, "failures", "failures", st->failures);
    row_num(f, "duplicates", "duplicates", st->duplicates);
    row_num(f, "speculative copies", "copies", st->copies);
    row_num(f, "silent ranks", "silent", st->silent);
    row_num(f, "ranks retired (device lost)", "retired", st->retired);
    row_num(f, "drains", "drains", st->drains);
    row_num(f, "ranks in the last run", "ranks-total", st->ranks);
    fprintf(f, "<tr><th>last run's wall time</th><td class=\"n\" id=\"wall\">%.3f s%s</td></tr>\n",
            xs_job_log_run_wall(st), st->wall_s > 0 ? "" : " so far");
    fputs("<tr><th>last event</th><td id=\"last-event\">", f);
    esc(f, st->last_event);
    fputs("</td></tr></table>\n<p>settings: <code id=\"settings\">", f);
    esc(f, st->settings);
    fputs("</code></p>", f);
    if (!st->have_journal)
        fputs("<p class=\"note\">No journal here: the job stopped before it opened one.</p>", f);
    fputs("</section>\n", f);
    /* the timeline */
    fputs("<section id=\"timeline\"><h2>Timeline (last run) and tile map</h2>\n", f);
    if (tl->count > 0) {
        fputs("<div class=\"scroll\">\n", f);
        xs_timeline_svg(f, tl, st->job, false);
        fputs("</div><p class=\"note\">Rows: ranks; bars: items from start to end; hover a bar or a tile for its "
              "figures.</p>\n",
              f);
    } else {
        fputs("<p class=\"note\">The last run's log has no item yet.</p>\n", f);
    }
    fputs("</section>\n", f);
    ranks(f, st);
    failures(f, st);
    previews(f, job_dir, st);
    fputs("</body></html>\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
    }
    xs_result r = xs_file_write_atomic(path, buf, n, err);
    free(buf);
    return r;
}
