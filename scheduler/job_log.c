/* A job's status read back from its event log and journal (see
 * xs_job_log.h). One pass over each file, a line at a time; memory grows
 * with the ranks, the failures kept (at most XS_STATUS_FAILURES) and the
 * journal's distinct tiles (8 bytes each, for counting them once). */
#include "scheduler/xs_job_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/xs_file.h"

enum { MAX_RANK = 1 << 20 }; /* ranks beyond are a damaged line, ignored */

static const cJSON *item(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

static double dnum(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = item(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* An item's seconds: a damaged value counts as none. */
static double seconds(const cJSON *o)
{
    double v = dnum(o, "seconds", 0);
    return v >= 0 && v <= 1e9 ? v : 0.0;
}

static int inum(const cJSON *o, const char *k, int dflt)
{
    double v = dnum(o, k, dflt);
    return v >= -2147483647.0 && v <= 2147483647.0 ? (int)v : dflt;
}

static void str(const cJSON *o, const char *k, char *out, size_t n)
{
    const cJSON *v = item(o, k);
    if (cJSON_IsString(v))
        xs_text_escape(v->valuestring, out, n);
}

/* The rank's row, grown as ranks appear; NULL for a rank out of range or
 * when memory runs out (the figures then leave that rank out). */
static xs_rank_status *rank_row(xs_job_log *st, int rank)
{
    if (rank < 0 || rank >= MAX_RANK)
        return NULL;
    if (rank >= st->rank_count) {
        int n = rank + 1 > 2 * st->rank_count ? rank + 1 : 2 * st->rank_count;
        n = n > MAX_RANK ? MAX_RANK : n;
        xs_rank_status *nr = realloc(st->rank, (size_t)n * sizeof *nr);
        if (!nr)
            return NULL;
        memset(nr + st->rank_count, 0, (size_t)(n - st->rank_count) * sizeof *nr);
        st->rank = nr;
        st->rank_count = n;
    }
    return &st->rank[rank];
}

/* The frame files' base name from a settings line ("... name=NAME ..."),
 * only when it is a plain file name part (the render checks the same). */
static void name_from_settings(const char *settings, char *out, size_t n)
{
    out[0] = '\0';
    const char *p = strstr(settings, " name=");
    if (!p)
        return;
    p += 6;
    size_t len = strcspn(p, " ");
    if (len == 0 || len >= n || p[0] == '.')
        return;
    for (size_t i = 0; i < len; ++i) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return;
    }
    memcpy(out, p, len);
    out[len] = '\0';
}

static void on_event(xs_job_log *st, const cJSON *o, const char *e, double t)
{
    const int rank = inum(o, "rank", -1);
    if (strcmp(e, "job_start") == 0) {
        st->runs++;
        st->run_start = t;
        st->wall_s = 0;
        st->assembled = 0;
        snprintf(st->state, sizeof st->state, "running");
        str(o, "job", st->job, sizeof st->job);
        st->frames_total = inum(o, "frames", 0);
        st->frames_total = st->frames_total < 0 ? 0 : st->frames_total;
        st->tiles_per_frame = inum(o, "tiles_per_frame", 0);
        st->tiles_per_frame = st->tiles_per_frame < 0 ? 0 : st->tiles_per_frame;
        st->ranks = inum(o, "ranks", 0);
        st->ranks = st->ranks < 0 || st->ranks > MAX_RANK ? 0 : st->ranks;
        st->settings[0] = '\0';
        str(o, "settings", st->settings, sizeof st->settings);
        name_from_settings(st->settings, st->name, sizeof st->name);
        if (st->rank)
            memset(st->rank, 0, (size_t)st->rank_count * sizeof *st->rank);
    } else if (strcmp(e, "tile_dispatched") == 0) {
        st->copies += cJSON_IsTrue(item(o, "copy"));
    } else if (strcmp(e, "tile_committed") == 0) {
        double secs = seconds(o);
        xs_rank_status *r = rank_row(st, rank);
        if (cJSON_IsTrue(item(o, "kept"))) {
            st->kept++;
            if (r)
                r->kept++, r->busy_s += secs;
        } else {
            st->rendered++;
            if (r)
                r->tiles++, r->busy_s += secs, r->tile_s += secs;
        }
    } else if (strcmp(e, "part_done") == 0) {
        st->parts++;
        xs_rank_status *r = rank_row(st, rank);
        if (r)
            r->parts++, r->busy_s += seconds(o);
    } else if (strcmp(e, "tile_duplicate") == 0) {
        st->duplicates++;
        xs_rank_status *r = rank_row(st, rank);
        if (r)
            r->duplicates++, r->busy_s += seconds(o);
    } else if (strcmp(e, "duplicate_result") == 0) {
        st->dup_results++;
        xs_rank_status *r = rank_row(st, rank);
        if (r)
            r->dup_results++;
    } else if (strcmp(e, "frame_assembled") == 0) {
        st->assembled++;
        xs_rank_status *r = rank_row(st, rank);
        if (r)
            r->assemblies++;
    } else if (strcmp(e, "tile_failed") == 0 || strcmp(e, "assembly_failed") == 0) {
        st->failures++;
        xs_rank_status *r = rank_row(st, rank);
        if (r)
            r->failures++;
        if (st->failure_note_count < XS_STATUS_FAILURES) {
            if (!st->failure_notes)
                st->failure_notes = calloc(XS_STATUS_FAILURES, sizeof *st->failure_notes);
            if (st->failure_notes) {
                xs_failure_note *n = &st->failure_notes[st->failure_note_count++];
                n->time = t;
                n->frame = inum(o, "frame", -1);
                n->tile = e[0] == 'a' ? -1 : inum(o, "tile", -1);
                n->rank = rank;
                str(o, "error", n->error, sizeof n->error);
            }
        }
    } else if (strcmp(e, "rank_silent") == 0) {
        st->silent++;
    } else if (strcmp(e, "rank_retired") == 0) {
        st->retired++;
    } else if (strcmp(e, "drain") == 0) {
        st->drains++;
        snprintf(st->state, sizeof st->state, "draining");
    } else if (strcmp(e, "job_summary") == 0) {
        str(o, "state", st->state, sizeof st->state);
        st->wall_s = dnum(o, "wall_s", 0);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

/* Distinct tiles and frames of the journal; a torn last line is left out. */
static xs_result read_journal(xs_job_log *st, const char *path, xs_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return XS_OK; /* no journal: a job that never got that far */
    st->have_journal = true;
    uint64_t *tiles = NULL;
    size_t nt = 0, ct = 0, cf = 0;
    xs_result r = XS_OK;
    char line[256];
    while (r == XS_OK && fgets(line, sizeof line, f)) {
        if (!strchr(line, '\n')) { /* a longer line (the header) or a torn one */
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            continue;
        }
        int frame = 0, tile = 0;
        if (line[0] == 'T' && sscanf(line, "T %d %d", &frame, &tile) == 2 && frame >= 0 && tile >= 0) {
            if (nt == ct) {
                size_t nc = ct ? 2 * ct : 4096;
                uint64_t *n = realloc(tiles, nc * sizeof *n);
                if (!n) {
                    r = xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
                    break;
                }
                tiles = n, ct = nc;
            }
            tiles[nt++] = (uint64_t)frame << 32 | (uint32_t)tile;
        } else if (line[0] == 'F' && sscanf(line, "F %d", &frame) == 1 && frame >= 0) {
            if ((size_t)st->journal_frame_count == cf) {
                size_t nc = cf ? 2 * cf : 256;
                int *n = realloc(st->journal_frames, nc * sizeof *n);
                if (!n) {
                    r = xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
                    break;
                }
                st->journal_frames = n, cf = nc;
            }
            st->journal_frames[st->journal_frame_count++] = frame;
        }
    }
    fclose(f);
    if (nt) {
        qsort(tiles, nt, sizeof *tiles, cmp_u64);
        for (size_t i = 0; i < nt; ++i)
            st->journal_tiles += i == 0 || tiles[i] != tiles[i - 1];
    }
    free(tiles);
    if (st->journal_frame_count) {
        qsort(st->journal_frames, (size_t)st->journal_frame_count, sizeof(int), cmp_int);
        int k = 0;
        for (int i = 0; i < st->journal_frame_count; ++i)
            if (i == 0 || st->journal_frames[i] != st->journal_frames[k - 1])
                st->journal_frames[k++] = st->journal_frames[i];
        st->journal_frame_count = k;
    }
    return r;
}

xs_result xs_job_log_read(const char *job_dir, xs_job_log *st, xs_err *err)
{
    memset(st, 0, sizeof *st);
    snprintf(st->job, sizeof st->job, "?");
    snprintf(st->state, sizeof st->state, "running");
    char path[XS_PATH_MAX];
    xs_result r = xs_path_join(path, sizeof path, job_dir, "events.jsonl", err);
    if (r != XS_OK)
        return r;
    FILE *f = fopen(path, "r");
    if (!f)
        return xs_err_set(err, XS_ERR_IO, "%s: no event log here (is %s a job folder?)", path, job_dir);
    char *line = NULL;
    size_t cap = 0;
    bool first = true;
    while (getline(&line, &cap, f) > 0) {
        cJSON *o = cJSON_Parse(line);
        if (!o)
            continue; /* a torn last line */
        const cJSON *ev = item(o, "event");
        const char *e = cJSON_IsString(ev) ? ev->valuestring : "";
        double t = dnum(o, "time", -1);
        if (!(t >= 0 && t <= 1e11)) { /* no time, or past the year 5138: a damaged line */
            cJSON_Delete(o);
            continue;
        }
        if (first)
            st->first_t = t, first = false;
        st->last_t = t;
        xs_text_escape(e, st->last_event, sizeof st->last_event);
        on_event(st, o, e, t);
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    /* a log with the newer tile_duplicate may carry the older
     * duplicate_result for the same reply: each counts once */
    if (st->duplicates == 0) {
        st->duplicates = st->dup_results;
        for (int i = 0; i < st->rank_count; ++i)
            st->rank[i].duplicates = st->rank[i].dup_results;
    }
    r = xs_path_join(path, sizeof path, job_dir, "journal", err);
    return r == XS_OK ? read_journal(st, path, err) : r;
}

double xs_job_log_run_wall(const xs_job_log *st)
{
    if (st->wall_s > 0)
        return st->wall_s;
    return st->last_t > st->run_start ? st->last_t - st->run_start : 0.0;
}

void xs_job_log_free(xs_job_log *st)
{
    free(st->rank);
    free(st->failure_notes);
    free(st->journal_frames);
    memset(st, 0, sizeof *st);
}
