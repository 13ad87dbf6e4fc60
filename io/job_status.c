/* Where a job stands, from its event log and journal (see xs_job_status.h). */
#include "io/xs_job_status.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

xs_result xs_job_status_create(const char *dir, xs_job_status **out, xs_err *err)
{
    *out = NULL;
    xs_job_status *s = calloc(1, sizeof *s);
    if (!s || !(s->ranks = calloc(XS_JOB_STATUS_RANKS, sizeof *s->ranks))) {
        free(s);
        return xs_err_set(err, XS_ERR_NOMEM, "job status: out of memory");
    }
    if (snprintf(s->dir, sizeof s->dir, "%s", dir) >= (int)sizeof s->dir) {
        xs_job_status_destroy(s);
        return xs_err_set(err, XS_ERR_INVALID, "%s: path too long", dir);
    }
    snprintf(s->job, sizeof s->job, "?");
    snprintf(s->state, sizeof s->state, "running");
    s->max_rank = -1;
    *out = s;
    return XS_OK;
}

void xs_job_status_destroy(xs_job_status *s)
{
    if (!s)
        return;
    free(s->ranks);
    free(s);
}

static const cJSON *item(const cJSON *e, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(e, key);
}

/* "OUT/JOB/NAME.FFFF.exr" -> "NAME" */
static void frame_name_from_path(const char *path, char *out, size_t n)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t len = strlen(b);
    if (len > 9 && strcmp(b + len - 4, ".exr") == 0 && b[len - 9] == '.')
        snprintf(out, n, "%.*s", (int)(len - 9), b);
}

static void apply_event(xs_job_status *s, const cJSON *e)
{
    const cJSON *ev = item(e, "event"), *t = item(e, "time");
    const char *name = cJSON_IsString(ev) ? ev->valuestring : "";
    double tm = cJSON_IsNumber(t) ? t->valuedouble : 0;
    if (!s->first_t)
        s->first_t = tm;
    s->last_t = tm;
    xs_text_escape(name, s->last_event, sizeof s->last_event);
    const cJSON *rk = item(e, "rank");
    int r = cJSON_IsNumber(rk) ? (int)rk->valuedouble : -1;
    if (strcmp(name, "job_start") == 0) {
        s->runs++;
        snprintf(s->state, sizeof s->state, "running");
        const cJSON *j = item(e, "job"), *fr = item(e, "frames"), *tp = item(e, "tiles_per_frame"),
                    *st = item(e, "settings");
        if (cJSON_IsString(j))
            xs_text_escape(j->valuestring, s->job, sizeof s->job);
        if (cJSON_IsNumber(fr))
            s->frames_total = (int)fr->valuedouble;
        if (cJSON_IsNumber(tp))
            s->tiles_per_frame = (int)tp->valuedouble;
        if (cJSON_IsString(st))
            xs_text_escape(st->valuestring, s->settings, sizeof s->settings);
    } else if (strcmp(name, "tile_committed") == 0) {
        const cJSON *k = item(e, "kept"), *sec = item(e, "seconds");
        if (cJSON_IsTrue(k))
            s->kept++;
        else
            s->rendered++;
        if (r >= 0 && r < XS_JOB_STATUS_RANKS) {
            s->ranks[r].tiles++;
            s->ranks[r].busy += cJSON_IsNumber(sec) ? sec->valuedouble : 0;
            if (r > s->max_rank)
                s->max_rank = r;
        }
    } else if (strcmp(name, "frame_assembled") == 0) {
        s->assembled++;
        const cJSON *f = item(e, "frame"), *p = item(e, "path");
        if (cJSON_IsNumber(f) && f->valuedouble >= 0 && f->valuedouble < XS_JOB_STATUS_FRAMES)
            s->frame_done[(int)f->valuedouble] = 1;
        if (cJSON_IsString(p))
            frame_name_from_path(p->valuestring, s->frame_name, sizeof s->frame_name);
    } else if (strcmp(name, "tile_failed") == 0 || strcmp(name, "assembly_failed") == 0) {
        s->failures++;
    } else if (strcmp(name, "rank_silent") == 0) {
        s->silent++;
    } else if (strcmp(name, "rank_retired") == 0) {
        s->retired++;
    } else if (strcmp(name, "drain") == 0) {
        s->drains++;
        snprintf(s->state, sizeof s->state, "draining");
    } else if (strcmp(name, "job_summary") == 0) {
        const cJSON *st = item(e, "state"), *w = item(e, "wall_s");
        if (cJSON_IsString(st))
            xs_text_escape(st->valuestring, s->state, sizeof s->state);
        s->wall = cJSON_IsNumber(w) ? w->valuedouble : 0;
        s->wall_total += s->wall;
    }
}

/* Whole lines from offset on; a torn last line is left for the next call. */
static xs_result read_lines(const char *path, long *offset, void (*fn)(xs_job_status *, char *),
                            xs_job_status *s, bool required, xs_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (!required && errno == ENOENT)
            return XS_OK;
        return xs_err_set(err, XS_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (fseek(f, *offset, SEEK_SET) != 0) {
        fclose(f);
        return xs_err_set(err, XS_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n')
            break; /* being written: next time */
        *offset += (long)n;
        fn(s, line);
    }
    free(line);
    fclose(f);
    return XS_OK;
}

static void event_line(xs_job_status *s, char *line)
{
    cJSON *e = cJSON_Parse(line);
    if (e)
        apply_event(s, e);
    cJSON_Delete(e); /* a line that is not JSON is skipped */
}

static void journal_line(xs_job_status *s, char *line)
{
    s->journal_tiles += line[0] == 'T';
    s->journal_frames += line[0] == 'F';
}

xs_result xs_job_status_update(xs_job_status *s, xs_err *err)
{
    char path[4096 + 32];
    snprintf(path, sizeof path, "%s/events.jsonl", s->dir);
    xs_result r = read_lines(path, &s->events_offset, event_line, s, true, err);
    if (r != XS_OK)
        return r;
    snprintf(path, sizeof path, "%s/journal", s->dir);
    return read_lines(path, &s->journal_offset, journal_line, s, false, err);
}
