/* `xisuan simulate`: rank 0's real code against a simulated farm
 * (scheduler/simulate.c): classes of workers, tile costs, latency, failures
 * and stalls; prints the busy share per class, the makespan against the
 * ideal, the tail, items/s and rank 0's measured CPU per item, and draws the
 * timeline. No MPI, no pixels: the journal and the event log are real, in
 * the --out folder. */
#include "scheduler/cmd/xs_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/xs_file.h"
#include "scheduler/xs_job.h"
#include "scheduler/xs_options.h"
#include "scheduler/xs_simulate.h"
#include "scheduler/xs_timeline.h"

static void usage(FILE *f)
{
    fputs("usage: xisuan simulate [flags]\n"
          "\n"
          "Runs the scheduler of `xisuan render` (policy, driver loop, report, journal, event\n"
          "log) against simulated workers and reports how busy they were.\n"
          "\n"
          "  --workers NAME:COUNT:SPEED[:FAIL[:SLOTS[:PREFETCH]]]  a class of workers (repeat\n"
          "                     for several): SPEED in tile-cost units per second, FAIL the\n"
          "                     chance an item fails, SLOTS items it runs at once sharing its\n"
          "                     speed (a GPU's launch groups) [1], PREFETCH its requests\n"
          "                     [--prefetch] [gpu:16:1]\n"
          "  --spp N            samples per pixel: a tile has ceil(N/16) sample chunks, the\n"
          "                     most parts it can be split into [256]\n"
          "  --balance on|off   the policy's balance (see xisuan render --help) [on]\n"
          "  --parts on|off     workers render parts of split tiles [on]\n"
          "  --priors on|off    the policy's speed estimates start from each class's speed, as\n"
          "                     the farm's start from each device's peak FLOP/s; off: equal [on]\n"
          "  --frames LIST      frame list as for render [1]\n"
          "  --resolution WxH   frame size [3840x2160]\n"
          "  --tile N           tile size [64]\n"
          "  --prefetch N       requests each worker keeps in flight [2]\n"
          "  --cost-mean X      mean tile cost in units [1]\n"
          "  --cost-sigma X     sigma of the lognormal tile cost (of its log) [0.5]\n"
          "  --cost-coherence R how much of a tile's cost it keeps from frame to frame, in\n"
          "                     [0, 1]: the log cost is R x a draw per tile + sqrt(1-R^2) x a\n"
          "                     draw per (frame, tile); 0: independent frames [0.9]\n"
          "  --replay FILE      tile costs from a real job's events.jsonl (seconds of each\n"
          "                     committed tile), cycled over the frames\n"
          "  --assemble-cost X  an assembly's cost in units [0.1]\n"
          "  --latency-us N     one-way message latency [20]\n"
          "  --r0-us N          rank 0's clock moves N us per message handled instead of by\n"
          "                     its measured CPU time: the run is reproducible [measured]\n"
          "  --stall W:T        worker W (0-based) stops answering at time T s (repeat)\n"
          "  --stall-timeout S  rank 0 gives up on a silent worker after S s [900]\n"
          "  --retries N        retries of a failed item [2]\n"
          "  --seed N           cost and failure draws [1]\n"
          "  --journal-sync-ms N  every journal sync also waits N ms (a slow disk) [0]\n"
          "  --out DIR          where the job's journal and event log go [a new folder in /tmp]\n"
          "  --timeline FILE    a picture of every worker's items (.svg or .png)\n"
          "  --json FILE        the figures as JSON\n",
          f);
}

static int add_class(xs_sim_desc *d, const char *spec)
{
    if (d->class_count >= XS_SIM_MAX_CLASSES)
        return -1;
    xs_sim_class *c = &d->classes[d->class_count];
    memset(c, 0, sizeof *c);
    char name[32];
    int count = 0, slots = 1, prefetch = 0;
    double speed = 0, fail = 0;
    int n = sscanf(spec, "%31[^:]:%d:%lf:%lf:%d:%d", name, &count, &speed, &fail, &slots, &prefetch);
    if (n < 3 || count < 1 || count > 1000000 || !(speed > 0) || fail < 0 || fail >= 1 || slots < 1 ||
        slots > 384 || prefetch < 0 || prefetch > 512)
        return -1;
    c->slots = slots;
    c->prefetch = prefetch;
    snprintf(c->name, sizeof c->name, "%s", name);
    c->count = count;
    c->speed = speed;
    c->fail_prob = fail;
    d->class_count++;
    return 0;
}

/* Tile costs from an event log: the seconds of each committed tile, by
 * (frame index in the log's order of frames, tile). */
static double *replay_costs(const char *path, int tiles, int *frames_out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    int frame_of[10000];
    memset(frame_of, 0xff, sizeof frame_of);
    int nframes = 0;
    double *c = NULL;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        int fr = -1, tile = -1;
        double secs = 0;
        char *p = strstr(line, "\"event\": \"tile_committed\"");
        if (!p || sscanf(p, "\"event\": \"tile_committed\", \"frame\": %d, \"tile\": %d, \"rank\": %*d, "
                            "\"seconds\": %lf", &fr, &tile, &secs) != 3)
            continue;
        if (fr < 0 || fr >= 10000 || tile < 0 || tile >= tiles || strstr(line, "\"kept\": true"))
            continue;
        if (frame_of[fr] < 0) {
            double *nc = realloc(c, (size_t)(nframes + 1) * (size_t)tiles * sizeof *nc);
            if (!nc)
                break;
            c = nc;
            for (int t = 0; t < tiles; ++t)
                c[(size_t)nframes * (size_t)tiles + (size_t)t] = -1.0;
            frame_of[fr] = nframes++;
        }
        c[(size_t)frame_of[fr] * (size_t)tiles + (size_t)tile] = secs;
    }
    free(line);
    fclose(f);
    /* tiles the log lacks take their frame's mean */
    for (int k = 0; k < nframes; ++k) {
        double sum = 0;
        int n = 0;
        for (int t = 0; t < tiles; ++t)
            if (c[(size_t)k * (size_t)tiles + (size_t)t] >= 0)
                sum += c[(size_t)k * (size_t)tiles + (size_t)t], ++n;
        for (int t = 0; t < tiles; ++t)
            if (c[(size_t)k * (size_t)tiles + (size_t)t] < 0)
                c[(size_t)k * (size_t)tiles + (size_t)t] = n ? sum / n : 1.0;
    }
    *frames_out = nframes;
    return c;
}

int xs_simulate_main(int argc, char **argv)
{
    static xs_options opt; /* 50 KB */
    xs_options_defaults(&opt);
    opt.render.width = 3840;
    opt.render.height = 2160;
    opt.progress = XS_PROGRESS_OFF;
    opt.preview = false;
    opt.force = true;
    opt.render.spp = 256;
    snprintf(opt.job, sizeof opt.job, "simulate");
    snprintf(opt.name, sizeof opt.name, "sim");
    xs_sim_desc d;
    memset(&d, 0, sizeof d);
    d.cost_mean = 1.0;
    d.cost_sigma = 0.5;
    d.cost_coherence = 0.9;
    d.assemble_cost = 0.1;
    d.latency_s = 20e-6;
    d.seed = 1;
    d.parts = true;
    d.speed_priors = true;
    const char *timeline = NULL, *json = NULL, *replay = NULL, *out = NULL;
    xs_err e;
    xs_err_clear(&e);
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "xisuan simulate: error: %s: missing value (see --help)\n", a);
            return 2;
        }
        ++i;
        int bad = 0;
        if (strcmp(a, "--workers") == 0)
            bad = add_class(&d, v);
        else if (strcmp(a, "--frames") == 0) {
            if (xs_frames_parse("--frames", v, opt.frames, &opt.frame_count, &e) != XS_OK) {
                fprintf(stderr, "xisuan simulate: error: %s\n", e.msg);
                return 2;
            }
        } else if (strcmp(a, "--resolution") == 0)
            bad = sscanf(v, "%dx%d", &opt.render.width, &opt.render.height) != 2 || opt.render.width < 1 ||
                  opt.render.height < 1 || opt.render.width > 65536 || opt.render.height > 65536;
        else if (strcmp(a, "--tile") == 0)
            bad = (opt.render.tile = atoi(v)) < 8;
        else if (strcmp(a, "--prefetch") == 0)
            bad = (opt.prefetch = atoi(v)) < 1 || opt.prefetch > 512;
        else if (strcmp(a, "--spp") == 0)
            bad = (opt.render.spp = atoi(v)) < 1 || opt.render.spp > 1 << 20;
        else if (strcmp(a, "--balance") == 0) {
            bad = strcmp(v, "on") != 0 && strcmp(v, "off") != 0;
            opt.balance = strcmp(v, "on") == 0;
        } else if (strcmp(a, "--priors") == 0) {
            bad = strcmp(v, "on") != 0 && strcmp(v, "off") != 0;
            d.speed_priors = strcmp(v, "on") == 0;
        } else if (strcmp(a, "--parts") == 0) {
            bad = strcmp(v, "on") != 0 && strcmp(v, "off") != 0;
            d.parts = strcmp(v, "on") == 0;
        }
        else if (strcmp(a, "--cost-mean") == 0)
            bad = !((d.cost_mean = atof(v)) > 0);
        else if (strcmp(a, "--cost-coherence") == 0)
            bad = !((d.cost_coherence = atof(v)) >= 0 && d.cost_coherence <= 1);
        else if (strcmp(a, "--cost-sigma") == 0)
            bad = !((d.cost_sigma = atof(v)) >= 0);
        else if (strcmp(a, "--assemble-cost") == 0)
            bad = !((d.assemble_cost = atof(v)) >= 0);
        else if (strcmp(a, "--r0-us") == 0)
            bad = !((d.r0_fixed_s = atof(v) * 1e-6) > 0);
        else if (strcmp(a, "--latency-us") == 0)
            bad = !((d.latency_s = atof(v) * 1e-6) >= 0);
        else if (strcmp(a, "--stall") == 0) {
            bad = d.stall_count >= 16 ||
                  sscanf(v, "%d:%lf", &d.stall_worker[d.stall_count], &d.stall_at[d.stall_count]) != 2;
            d.stall_count += !bad;
        }
        else if (strcmp(a, "--stall-timeout") == 0)
            bad = !((opt.stall_timeout_s = atof(v)) > 0);
        else if (strcmp(a, "--retries") == 0)
            bad = (opt.retries = atoi(v)) < 0;
        else if (strcmp(a, "--seed") == 0)
            d.seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--journal-sync-ms") == 0)
            bad = setenv("XS_TEST_FSYNC_DELAY_MS", v, 1) != 0;
        else if (strcmp(a, "--out") == 0)
            out = v;
        else if (strcmp(a, "--timeline") == 0)
            timeline = v;
        else if (strcmp(a, "--json") == 0)
            json = v;
        else if (strcmp(a, "--replay") == 0)
            replay = v;
        else {
            fprintf(stderr, "xisuan simulate: error: unknown flag '%s' (see --help)\n", a);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "xisuan simulate: error: %s: bad value '%s' (see --help)\n", a, v);
            return 2;
        }
    }
    if (d.class_count == 0)
        add_class(&d, "gpu:16:1");
    char tmp[64] = "/tmp/xisuan-simulate-XXXXXX";
    if (!out && !(out = mkdtemp(tmp))) {
        fprintf(stderr, "xisuan simulate: error: cannot make a folder in /tmp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(opt.out_dir, sizeof opt.out_dir, "%s", out);
    xs_job job;
    if (xs_job_init(&job, &opt, 0, &e) != XS_OK) {
        fprintf(stderr, "xisuan simulate: error: %s\n", e.msg);
        return 2;
    }
    char dir[XS_PATH_MAX];
    struct stat st;
    /* a folder an earlier simulation used would be resumed from its journal
     * (its tiles are not there): the figures would mean nothing */
    if (xs_job_file_path(&job.layout, "journal", dir, sizeof dir, &e) == XS_OK && stat(dir, &st) == 0) {
        fprintf(stderr, "xisuan simulate: error: %s: an earlier simulation's journal; give a new --out\n", dir);
        return 2;
    }
    if (xs_job_file_path(&job.layout, "tiles", dir, sizeof dir, &e) != XS_OK || xs_mkdir_p(dir, &e) != XS_OK) {
        fprintf(stderr, "xisuan simulate: error: %s\n", e.msg);
        return 1;
    }
    double *costs = NULL;
    if (replay) {
        costs = replay_costs(replay, xs_film_tile_count(&job.film), &d.replay_frames);
        if (!costs || d.replay_frames == 0) {
            fprintf(stderr, "xisuan simulate: error: %s: no tile_committed events for a %dx%d grid\n",
                    replay, job.film.tiles_x, job.film.tiles_y);
            free(costs);
            return 2;
        }
        d.replay_costs = costs;
    }
    d.keep_bars = timeline != NULL;
    xs_sim_result res;
    xs_result r = xs_simulate(&job, &d, &res, &e);
    free(costs);
    if (r != XS_OK) {
        fprintf(stderr, "xisuan simulate: error: %s\n", e.msg);
        xs_sim_result_free(&res);
        return 1;
    }
    const int T = xs_film_tile_count(&job.film);
    printf("xisuan simulate: %d worker(s) in %d class(es), %d frame(s) of %dx%d, tile %d (%d tiles a frame), "
           "prefetch %d\n", res.workers, d.class_count, opt.frame_count, opt.render.width,
           opt.render.height, opt.render.tile, T, opt.prefetch);
    printf("  state %s; makespan %.3f s, ideal %.3f s (%.1f%% of ideal), tail %.3f s\n",
           res.state == 1 ? "completed" : res.state == 2 ? "FAILED" : "other", res.makespan_s, res.ideal_s,
           res.makespan_s > 0 ? 100.0 * res.ideal_s / res.makespan_s : 0.0, res.tail_s);
    for (int c = 0; c < d.class_count; ++c)
        printf("  class %-8s %7d x speed %-8g busy %5.1f%%\n", d.classes[c].name, d.classes[c].count,
               d.classes[c].speed, 100.0 * res.busy_share[c]);
    printf("  all workers (speed-weighted) busy %.1f%% (%.1f%% of it on copies that came second); "
           "%lld tiles split, %lld copies\n", 100.0 * res.busy_total, 100.0 * res.wasted_share,
           (long long)res.splits, (long long)res.copies);
    printf("  %lld items, %.0f items/s; rank 0: %.3f s CPU in its loop, %.2f us per item, and %.2f us per "
           "item in its journal and event threads\n", (long long)res.items, res.items_per_s, res.r0_cpu_s,
           res.r0_us_per_item, res.r0_threads_us_per_item);
    int status = 0;
    if (json) {
        FILE *f = fopen(json, "w");
        if (!f) {
            fprintf(stderr, "xisuan simulate: error: %s: %s\n", json, strerror(errno));
            status = 1;
        } else {
            fprintf(f, "{\"workers\": %d, \"frames\": %d, \"tiles_per_frame\": %d, \"makespan_s\": %.6f, "
                       "\"ideal_s\": %.6f, \"tail_s\": %.6f, \"busy\": %.6f, \"items\": %lld, "
                       "\"items_per_s\": %.1f, \"rank0_us_per_item\": %.3f, \"rank0_threads_us_per_item\": %.3f, \"wasted_share\": %.6f, "
                       "\"splits\": %lld, \"copies\": %lld, \"balance\": %s, \"classes\": [",
                    res.workers, opt.frame_count, T, res.makespan_s, res.ideal_s, res.tail_s, res.busy_total,
                    (long long)res.items, res.items_per_s, res.r0_us_per_item, res.r0_threads_us_per_item, res.wasted_share,
                    (long long)res.splits, (long long)res.copies, opt.balance ? "true" : "false");
            for (int c = 0; c < d.class_count; ++c)
                fprintf(f, "%s{\"name\": \"%s\", \"count\": %d, \"speed\": %g, \"busy\": %.6f}", c ? ", " : "",
                        d.classes[c].name, d.classes[c].count, d.classes[c].speed, res.busy_share[c]);
            fprintf(f, "]}\n");
            fclose(f);
        }
    }
    if (timeline) {
        xs_timeline tl;
        if (xs_timeline_from_sim(&tl, &res, T, job.film.tiles_x, &e) != XS_OK ||
            xs_timeline_write(&tl, timeline, "xisuan simulate", &e) != XS_OK) {
            fprintf(stderr, "xisuan simulate: error: %s\n", e.msg);
            status = 1;
        } else {
            printf("  timeline: %s\n", timeline);
        }
        xs_timeline_free(&tl);
    }
    xs_sim_result_free(&res);
    return status;
}
