/* `xisuan status OUT/JOB`: where a running or finished job stands, from its
 * journal and event log alone (no MPI, no pixels): the last run's state,
 * frames assembled, tiles committed, per-rank work, failures, retries,
 * silent ranks, ranks retired with a lost device, and drains, and how long
 * ago the last event was. */
#include "scheduler/cmd/xs_cmd.h"

#include "io/xs_file.h"
#include "io/xs_result.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct rank_row {
    int64_t tiles;
    double busy;
} rank_row;

int xs_status_main(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-') {
        printf("usage: xisuan status OUT/JOB\n\n"
               "Prints where a running or finished job stands, from OUT/JOB/journal and\n"
               "OUT/JOB/events.jsonl. Exit status 0 when the job completed, 3 while it is\n"
               "running or was interrupted, 1 when it failed, 2 when there is no job there.\n");
        return argc == 1 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0) ? 0 : 2;
    }
    char path[XS_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/events.jsonl", argv[0]);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "xisuan status: error: %s: no event log here (is %s a job folder?)\n", path,
                argv[0]);
        return 2;
    }
    enum { RANKS = 4096 };
    rank_row *rows = calloc(RANKS, sizeof *rows);
    char job[128] = "?", state[32] = "running", settings[1024] = "";
    int frames_total = 0, tiles_per_frame = 0, runs = 0, assembled = 0, max_rank = -1;
    int64_t rendered = 0, kept = 0, failures = 0, silent = 0, retired = 0, drains = 0;
    double first_t = 0, last_t = 0, run_start = 0, wall = 0;
    char last_event[64] = "";
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *e = cJSON_Parse(line);
        if (!e)
            continue; /* a torn last line */
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(e, "event");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "time");
        const char *name = cJSON_IsString(ev) ? ev->valuestring : "";
        double tm = cJSON_IsNumber(t) ? t->valuedouble : 0;
        if (!first_t)
            first_t = tm;
        last_t = tm;
        xs_text_escape(name, last_event, sizeof last_event);
        const cJSON *rk = cJSON_GetObjectItemCaseSensitive(e, "rank");
        int r = cJSON_IsNumber(rk) ? (int)rk->valuedouble : -1;
        if (strcmp(name, "job_start") == 0) {
            runs++;
            run_start = tm;
            snprintf(state, sizeof state, "running");
            const cJSON *j = cJSON_GetObjectItemCaseSensitive(e, "job");
            const cJSON *fr = cJSON_GetObjectItemCaseSensitive(e, "frames");
            const cJSON *tp = cJSON_GetObjectItemCaseSensitive(e, "tiles_per_frame");
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "settings");
            if (cJSON_IsString(j))
                xs_text_escape(j->valuestring, job, sizeof job);
            if (cJSON_IsNumber(fr))
                frames_total = (int)fr->valuedouble;
            if (cJSON_IsNumber(tp))
                tiles_per_frame = (int)tp->valuedouble;
            if (cJSON_IsString(st))
                xs_text_escape(st->valuestring, settings, sizeof settings);
        } else if (strcmp(name, "tile_committed") == 0) {
            const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, "kept");
            const cJSON *sec = cJSON_GetObjectItemCaseSensitive(e, "seconds");
            if (cJSON_IsTrue(k))
                kept++;
            else
                rendered++;
            if (r >= 0 && r < RANKS && rows) {
                rows[r].tiles++;
                rows[r].busy += cJSON_IsNumber(sec) ? sec->valuedouble : 0;
                if (r > max_rank)
                    max_rank = r;
            }
        } else if (strcmp(name, "frame_assembled") == 0) {
            assembled++;
        } else if (strcmp(name, "tile_failed") == 0 || strcmp(name, "assembly_failed") == 0) {
            failures++;
        } else if (strcmp(name, "rank_silent") == 0) {
            silent++;
        } else if (strcmp(name, "rank_retired") == 0) {
            retired++;
        } else if (strcmp(name, "drain") == 0) {
            drains++;
            snprintf(state, sizeof state, "draining");
        } else if (strcmp(name, "job_summary") == 0) {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "state");
            const cJSON *w = cJSON_GetObjectItemCaseSensitive(e, "wall_s");
            if (cJSON_IsString(st))
                xs_text_escape(st->valuestring, state, sizeof state);

            wall = cJSON_IsNumber(w) ? w->valuedouble : 0;
        }
        cJSON_Delete(e);
    }
    free(line);
    fclose(f);
    /* the journal: what is committed across every run */
    snprintf(path, sizeof path, "%s/journal", argv[0]);
    int64_t jtiles = 0;
    int jframes = 0;
    FILE *jf = fopen(path, "r");
    if (jf) {
        char l[256];
        while (fgets(l, sizeof l, jf)) {
            jtiles += l[0] == 'T' && strchr(l, '\n');
            jframes += l[0] == 'F' && strchr(l, '\n');
        }
        fclose(jf);
    }
    time_t now = time(NULL);
    bool stale = strcmp(state, "running") == 0 || strcmp(state, "draining") == 0;
    printf("job %s: %s%s\n", job, state,
           stale ? " (or stopped without a summary: killed, or its node lost)" : "");
    printf("  runs: %d (the first %.0f s ago); last event: %s, %.0f s ago\n", runs,
           (double)now - first_t, last_event, (double)now - last_t);
    if (wall > 0)
        printf("  last run: %.3f s wall\n", wall);
    printf("  frames: %d assembled of %d in the last run (journal: %d frame record(s))\n", assembled,
           frames_total, jframes);
    printf("  tiles: journal holds %lld committed; the runs rendered %lld and kept %lld verified "
           "from earlier runs; %d per frame\n",
           (long long)jtiles, (long long)rendered, (long long)kept, tiles_per_frame);
    printf("  failures: %lld, silent ranks: %lld, ranks retired (device lost): %lld, drains: %lld\n",
           (long long)failures, (long long)silent, (long long)retired, (long long)drains);
    if (max_rank >= 0 && rows) {
        printf("  rank  tiles  busy_s\n");
        for (int r = 0; r <= max_rank; ++r)
            if (rows[r].tiles)
                printf("  %4d  %5lld  %6.2f\n", r, (long long)rows[r].tiles, rows[r].busy);
    }
    if (settings[0])
        printf("  settings: %s\n", settings);
    (void)run_start;
    free(rows);
    if (strcmp(state, "completed") == 0)
        return 0;
    if (strcmp(state, "failed") == 0)
        return 1;
    return 3; /* running, draining, drained (waiting for its requeue), or killed */
}
