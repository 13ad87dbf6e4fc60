/* `xisuan render` on every rank: parse and validate (every rank agrees before
 * any rendering starts), choose the rank's threads, then run rank 0's
 * scheduler and the workers, or, in a single process, the same policy with
 * rank 0 as its own worker. Ends with one exit status shared by all ranks.
 */
#include "scheduler/farm_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <xxhash.h>
#include <unistd.h>

xs_result xs_mpi_fail(xs_err *err, const char *what, int rc)
{
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, s, &len);
    return xs_err_set(err, XS_ERR_MPI, "%s: %s", what, s);
}

xs_result xs_job_sched_create(const xs_options *o, const xs_film *film, int workers,
                              const xs_job_report *rep, xs_sched **out, xs_err *err)
{
    const int nframes = xs_options_frame_count(o);
    int *frames = malloc((size_t)nframes * sizeof *frames);
    if (!frames)
        return xs_err_set(err, XS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < nframes; ++i)
        frames[i] = o->frames[i];
    xs_sched_desc d = {.frames = frames,
                       .frame_count = nframes,
                       .tiles_per_frame = xs_film_tile_count(film),
                       .worker_count = workers,
                       .prefetch = o->prefetch,
                       .assemble = o->kernel == XS_KERNEL_PATH,
                       .max_retries = o->retries};
    /* resume: frames an earlier run assembled (and whose file is there) are
     * skipped; tiles it committed are verified instead of rendered */
    const int T = xs_film_tile_count(film);
    uint8_t *skip = NULL, *journaled = NULL;
    if (rep && rep->journal && xs_journal_resumed(rep->journal)) {
        skip = calloc((size_t)nframes, 1);
        journaled = calloc((size_t)nframes * (size_t)T, 1);
        if (!skip || !journaled) {
            free(frames), free(skip), free(journaled);
            return xs_err_set(err, XS_ERR_NOMEM, "out of memory");
        }
        for (int i = 0; i < nframes; ++i) {
            char path[XS_PATH_MAX];
            if (xs_journal_frame_assembled(rep->journal, i) &&
                xs_job_frame_path(o, frames[i], "exr", path, sizeof path, NULL) == XS_OK &&
                access(path, F_OK) == 0)
                skip[i] = 1;
            for (int t = 0; t < T; ++t)
                journaled[(size_t)i * (size_t)T + (size_t)t] = xs_journal_tile_hash(rep->journal, i, t) != 0;
        }
        d.skip = skip;
        d.journaled = journaled;
    }
    xs_result r = xs_sched_create(&d, out, err);
    free(frames);
    /* the policy borrows skip and journaled for its life: keep them with it */
    if (r == XS_OK)
        xs_sched_adopt(*out, skip, journaled);
    else
        free(skip), free(journaled);
    return r;
}

/* ---- Single process: rank 0 is its own worker ---------------------------- */

static xs_sched_state run_local(const xs_options *o, xs_worker_ctx *w, xs_job_report *rep,
                                xs_err *err)
{
    xs_sched *s = NULL;
    xs_result r = xs_job_sched_create(o, &w->film, 1, rep, &s, err);
    if (r != XS_OK)
        return XS_SCHED_FAILED;
    xs_sched_state state = XS_SCHED_RUNNING;
    for (int i = 0; i < o->prefetch && r == XS_OK; ++i)
        r = xs_sched_on_request(s, 0, err);
    bool drained = false;
    while (r == XS_OK) {
        if (xs_drain_requested() && !drained) {
            drained = true;
            printf("\nxisuan: signal %d: draining: exiting 75 after the current tile so the job "
                   "can be requeued\n", (int)xs_drain_requested());
            xs_events_emit(rep->events, "drain", "\"signal\": %d", (int)xs_drain_requested());
            xs_sched_drain(s);
        }
        xs_sched_action a;
        bool have = false;
        xs_work_item it;
        /* take one assignment; ends simply answer requests */
        while (!have && xs_sched_next_action(s, &a))
            if (a.kind == XS_ACT_ASSIGN) {
                it = a.item;
                have = true;
                xs_report_dispatch(rep, 0, &it);
            }
        if (!have) {
            state = xs_sched_get_state(s);
            if (state == XS_SCHED_RUNNING)
                r = xs_err_set(err, XS_ERR_INTERNAL, "scheduler stalled with no work assigned");
            break;
        }
        xs_item_report ir;
        xs_err e;
        xs_err_clear(&e);
        bool ok = xs_worker_execute(w, &it, xs_report_expect_hash(rep, o, &it), &ir, &e) == XS_OK;
        xs_err jerr;
        xs_err_clear(&jerr);
        if (xs_report_item(rep, 0, &it, &ir, ok, o, e.msg, &jerr) != XS_OK) {
            fprintf(stderr, "xisuan: error: %s; stopping the job\n", jerr.msg);
            rep->journal_failed = true;
            xs_sched_abort(s);
        }
        r = ok ? xs_sched_on_done(s, 0, it, err) : xs_sched_on_failed(s, 0, it, err);
        xs_report_progress(rep, s, false);
        if (r == XS_OK)
            r = xs_sched_on_request(s, 0, err);
    }
    if (r != XS_OK)
        state = XS_SCHED_FAILED;
    if (state == XS_SCHED_FAILED) {
        xs_work_item fi;
        int ws[16], n = 0;
        if (xs_sched_failed_item(s, &fi, ws, &n))
            fprintf(stderr, "xisuan: error: frame %d %s%d failed %d time(s); no retries left\n", fi.frame,
                    fi.kind == XS_WORK_TILE ? "tile " : "assembly ", fi.kind == XS_WORK_TILE ? fi.tile : 0, n);
    }
    xs_report_print(rep, o, s, state, 1);
    xs_sched_destroy(s);
    return state;
}

/* ---- Placement: this rank's GPU, cores and memory --------------------------- */

/* The old rule without a plan: the affinity mask the launcher gave, else the
 * node's cores shared among its workers. */
static int threads_unbound(int local_workers)
{
    int aff = xs_cpu_count_affinity(), online = xs_cpu_count_online();
    if (aff < online)
        return aff;
    int t = online / (local_workers > 0 ? local_workers : 1);
    return t < 1 ? 1 : t;
}

int xs_visible_gpus(xs_place_gpu *g, char *why, size_t why_len)
{
    int n = xs_cuda_device_count(why, why_len);
    int k = 0;
    for (int i = 0; i < n && k < XS_PLACE_MAX_GPUS; ++i) {
        xs_gpu_info gi;
        if (xs_cuda_device_info(i, &gi, NULL) != XS_OK)
            continue;
        memset(&g[k], 0, sizeof g[k]);
        snprintf(g[k].bus, sizeof g[k].bus, "%s", gi.pci_bus_id);
        snprintf(g[k].name, sizeof g[k].name, "%s, %d SMs, %.0f GFLOP/s FP32 peak", gi.name, gi.sm_count,
                 xs_gpu_peak_flops(&gi) * 1e-9);
        g[k++].ordinal = i;
    }
    xs_place_gpus_sort(g, k);
    return k;
}

/* Plans the node (scheduler/xs_placement.h), binds this rank to its share
 * when --bind auto, and says which GPU it renders on (-1: the CPU) with how
 * many threads. Collective over comm. */
static xs_result place_rank(MPI_Comm comm, const xs_options *o, int *threads, int *gpu, xs_err *err)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    MPI_Comm local;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local) != MPI_SUCCESS)
        return xs_err_set(err, XS_ERR_MPI, "placement: MPI_Comm_split_type failed");
    int lrank = 0, lsize = 1;
    MPI_Comm_rank(local, &lrank);
    MPI_Comm_size(local, &lsize);
    int sched_mine = rank == 0 && size > 1 ? lrank : -1, sched = -1;
    MPI_Allreduce(&sched_mine, &sched, 1, MPI_INT, MPI_MAX, local);
    const bool worker = rank != 0 || size == 1;
    /* each rank's own GPUs (Slurm may give each task different ones) */
    xs_place_gpu mine[XS_PLACE_MAX_GPUS];
    char why[256] = "";
    int nmine = worker && o->backend != XS_BACKEND_CPU ? xs_visible_gpus(mine, why, sizeof why) : 0;
    xs_result r = XS_OK;
    if (worker && o->backend == XS_BACKEND_CUDA && nmine == 0)
        r = xs_err_set(err, XS_ERR_INVALID, "--backend cuda: rank %d sees no CUDA device (%s)", rank, why);
    char (*buses)[20] = calloc((size_t)lsize * XS_PLACE_MAX_GPUS, 20);
    int *counts = calloc((size_t)lsize, sizeof *counts);
    int *fixed = calloc((size_t)lsize, sizeof *fixed);
    char mybus[XS_PLACE_MAX_GPUS][20];
    memset(mybus, 0, sizeof mybus);
    for (int i = 0; i < nmine; ++i)
        memcpy(mybus[i], mine[i].bus, 20);
    if (!buses || !counts || !fixed) {
        free(buses), free(counts), free(fixed);
        MPI_Comm_free(&local);
        return xs_err_set(err, XS_ERR_NOMEM, "placement: out of memory");
    }
    MPI_Allgather(&nmine, 1, MPI_INT, counts, 1, MPI_INT, local);
    MPI_Allgather(mybus, XS_PLACE_MAX_GPUS * 20, MPI_CHAR, buses, XS_PLACE_MAX_GPUS * 20, MPI_CHAR, local);
    /* the node's GPUs: the union, in bus order; each worker takes, from the
     * GPUs it sees, the one round-robin gives its place among the workers */
    xs_place_gpu node[XS_PLACE_MAX_GPUS];
    int nnode = 0;
    for (int q = 0; q < lsize; ++q)
        for (int i = 0; i < counts[q]; ++i) {
            const char *b = buses[q * XS_PLACE_MAX_GPUS + i];
            int k = 0;
            while (k < nnode && strcmp(node[k].bus, b) != 0)
                ++k;
            if (k == nnode && nnode < XS_PLACE_MAX_GPUS) {
                memset(&node[nnode], 0, sizeof node[nnode]);
                snprintf(node[nnode++].bus, sizeof node[0].bus, "%s", b);
            }
        }
    xs_place_gpus_sort(node, nnode);
    for (int i = 0; i < nnode; ++i)
        for (int k = 0; k < nmine; ++k)
            if (strcmp(node[i].bus, mine[k].bus) == 0)
                snprintf(node[i].name, sizeof node[i].name, "%s", mine[k].name);
    int widx = 0, my_pick = -1;
    for (int q = 0; q < lsize; ++q) {
        fixed[q] = -1;
        if (q == sched)
            continue;
        if (counts[q] > 0) {
            const char *b = buses[q * XS_PLACE_MAX_GPUS + widx % counts[q]];
            for (int k = 0; k < nnode; ++k)
                if (strcmp(node[k].bus, b) == 0)
                    fixed[q] = k;
            if (q == lrank)
                my_pick = widx % counts[q];
        }
        ++widx;
    }
    hwloc_topology_t topo = NULL;
    xs_place_plan plan;
    memset(&plan, 0, sizeof plan);
    xs_err perr;
    xs_err_clear(&perr);
    bool planned = xs_place_topology_load(NULL, &topo, &perr) == XS_OK &&
                   xs_place_plan_make(topo, lsize, sched, node, nnode, fixed, &plan, &perr) == XS_OK;
    char host[MPI_MAX_PROCESSOR_NAME] = "";
    int hl = 0;
    MPI_Get_processor_name(host, &hl);
    if (!planned && lrank == 0)
        fprintf(stderr, "xisuan: warning: node %s: no placement plan (%s); ranks stay where the launcher "
                        "put them\n", host, perr.msg);
    if (planned && lrank == 0 && (nnode > 0 || plan.warn_count > 0 || size > 1)) {
        printf("xisuan: placement (%s):\n", o->bind ? "bound with hwloc" : "--bind none: not bound");
        xs_place_plan_print(stdout, &plan, host);
        fflush(stdout);
    }
    *gpu = my_pick >= 0 ? mine[my_pick].ordinal : -1;
    int local_workers = lsize - (sched >= 0 ? 1 : 0);
    *threads = o->threads;
    if (planned && worker && o->bind) {
        xs_err berr;
        xs_err_clear(&berr);
        if (xs_place_bind(topo, &plan.e[lrank], &berr) != XS_OK)
            fprintf(stderr, "xisuan: warning: rank %d: %s; left where the launcher put it\n", rank, berr.msg);
    }
    if (*threads <= 0)
        *threads = threads_unbound(size == 1 ? 1 : local_workers);
    if (planned)
        xs_place_plan_free(&plan);
    if (topo)
        hwloc_topology_destroy(topo);
    free(buses), free(counts), free(fixed);
    MPI_Comm_free(&local);
    return r;
}

/* ---- Load report ----------------------------------------------------------- */

/* Every rank's scene load: time to read (rank 0) or receive and open the
 * package, time until its render scene was built, and peak resident memory
 * so far. Rank 0 prints every rank up to 16 ranks, then min/mean/max. */
static void report_load(MPI_Comm comm, double t_input, double t_built, const char *device)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double mine[3] = {t_input, t_built, (double)ru.ru_maxrss / 1024.0};
    double *all = rank == 0 ? malloc((size_t)size * sizeof mine) : NULL;
    char dev[160] = "";
    snprintf(dev, sizeof dev, "%s", device);
    char *devs = rank == 0 ? calloc((size_t)size, sizeof dev) : NULL;
    if (rank == 0 && (!all || !devs))
        devs = NULL; /* the gathers below still run on every rank */
    MPI_Gather(mine, 3, MPI_DOUBLE, all, 3, MPI_DOUBLE, 0, comm);
    MPI_Gather(dev, (int)sizeof dev, MPI_CHAR, devs, (int)sizeof dev, MPI_CHAR, 0, comm);
    if (rank != 0 || !all || !devs) {
        free(all), free(devs);
        return;
    }
    printf("xisuan: scene load per rank (input = read+check on rank 0, receive+open elsewhere; "
           "built = until the render scene and BVH are ready):\n");
    double mn[3] = {1e300, 1e300, 1e300}, mx[3] = {0, 0, 0}, sum[3] = {0, 0, 0};
    for (int i = 0; i < size; ++i) {
        const double *v = all + i * 3;
        if (size <= 16)
            printf("  rank %3d: input %8.3f s, built %8.3f s, peak RSS %8.1f MiB, %s\n", i, v[0], v[1],
                   v[2], i == 0 && size > 1 ? "scheduler" : devs + (size_t)i * sizeof dev);
        for (int k = 0; k < 3; ++k) {
            mn[k] = v[k] < mn[k] ? v[k] : mn[k];
            mx[k] = v[k] > mx[k] ? v[k] : mx[k];
            sum[k] += v[k];
        }
    }
    if (size > 16)
        for (int k = 0; k < 3; ++k)
            printf("  %s: min %.3f, mean %.3f, max %.3f\n", k == 0 ? "input s" : k == 1 ? "built s" : "peak RSS MiB",
                   mn[k], sum[k] / size, mx[k]);
    fflush(stdout);
    free(all), free(devs);
}

/* ---- `xisuan bench`'s per-rank facts ------------------------------------------ */

xs_bench_run *xs_bench_active;

void xs_bench_run_free(xs_bench_run *b)
{
    free(b->per_rank), free(b->device), free(b->peak_flops), free(b->peak_desc);
    memset(b, 0, sizeof *b);
}

/* Each rank's back end and peak FP32 FLOP/s, gathered on rank 0 into
 * xs_bench_active (collective; a no-op when no benchmark runs). */
static void bench_gather(MPI_Comm comm, const xs_worker_ctx *w)
{
    if (!xs_bench_active)
        return;
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    char dev[160] = "", desc[160] = "";
    double peak = 0.0;
    if (w->backend) {
        snprintf(dev, sizeof dev, "%s", w->backend->device);
        xs_gpu_info gi;
        if (w->gpu >= 0 && xs_cuda_device_info(w->gpu, &gi, NULL) == XS_OK) {
            peak = xs_gpu_peak_flops(&gi);
            snprintf(desc, sizeof desc, "%d SMs x %d FP32 lanes x %.3f GHz x 2", gi.sm_count,
                     gi.fp32_lanes_per_sm, gi.clock_hz * 1e-9);
        } else {
            int cores = xs_place_bound_cores();
            int online = xs_cpu_count_online();
            if (cores <= 0 || cores > w->threads) /* unbound: the threads it runs */
                cores = w->threads < online ? w->threads : online;
            peak = xs_cpu_peak_flops(cores, desc, sizeof desc);
        }
    }
    xs_bench_run *b = xs_bench_active;
    if (rank == 0) {
        xs_bench_run_free(b);
        b->ranks = size;
        b->device = calloc((size_t)size, sizeof *b->device);
        b->peak_desc = calloc((size_t)size, sizeof *b->peak_desc);
        b->peak_flops = calloc((size_t)size, sizeof *b->peak_flops);
        b->per_rank = calloc((size_t)size, sizeof *b->per_rank);
        if (!b->device || !b->peak_desc || !b->peak_flops || !b->per_rank) {
            fprintf(stderr, "xisuan bench: out of memory\n");
            MPI_Abort(comm, 1);
        }
    }
    MPI_Gather(dev, (int)sizeof dev, MPI_CHAR, rank == 0 ? b->device : NULL, (int)sizeof dev, MPI_CHAR, 0, comm);
    MPI_Gather(desc, (int)sizeof desc, MPI_CHAR, rank == 0 ? b->peak_desc : NULL, (int)sizeof desc, MPI_CHAR,
               0, comm);
    MPI_Gather(&peak, 1, MPI_DOUBLE, rank == 0 ? b->peak_flops : NULL, 1, MPI_DOUBLE, 0, comm);
}

/* ---- The job's files on rank 0 -------------------------------------------- */

/* Every setting that changes pixels or files, with the scene's content hash:
 * the journal's key. Frames are not in it: a resumed job may add frames. */
static void job_settings(const xs_options *o, uint64_t scene_hash, char *out, size_t n)
{
    static const char *comp[] = {"none", "zip", "piz"};
    char px[256];
    xs_options_pixel_settings(o, px, sizeof px);
    snprintf(out, n,
             "scene=%016" PRIx64 " res=%dx%d spp=%d tile=%d bounces=%d seed=%u compression=%s:%d "
             "name=%s kernel=%s %s xisuan=%s",
             scene_hash, o->width, o->height, o->spp, o->tile, o->max_bounces, (unsigned)o->seed,
             comp[o->compression], o->compression == XS_EXR_ZIP ? o->zip_level : 0, o->name,
             o->kernel == XS_KERNEL_PATH ? "path" : "empty", px, XS_VERSION);
}

static xs_result open_job_files(const xs_options *o, uint64_t scene_hash, xs_job_report *rep,
                                xs_err *err)
{
    char dir[XS_PATH_MAX + 128], path[XS_PATH_MAX + 160], settings[1024];
    snprintf(dir, sizeof dir, "%s/%s", o->out_dir, o->job);
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    xs_result r = xs_events_open(path, &rep->events, err);
    if (r != XS_OK)
        return r;
    xs_film film;
    xs_film_init(&film, o->width, o->height, o->tile);
    job_settings(o, scene_hash, settings, sizeof settings);
    if (o->kernel == XS_KERNEL_PATH) {
        snprintf(path, sizeof path, "%s/journal", dir);
        r = xs_journal_open(path, XXH3_64bits(settings, strlen(settings)), settings, o->force,
                            o->frames, o->frame_count, xs_film_tile_count(&film), &rep->journal,
                            err);
    }
    if (r != XS_OK)
        return r;
    bool resumed = rep->journal && xs_journal_resumed(rep->journal);
    if (resumed)
        printf("xisuan: resuming job %s: the journal holds %lld committed tile(s) and %d assembled "
               "frame(s) of this run's frames; they are verified, not rendered again\n",
               o->job, (long long)xs_journal_loaded_tiles(rep->journal),
               xs_journal_loaded_frames(rep->journal));
    xs_events_emit(rep->events, "job_start",
                   "\"job\": \"%s\", \"scene\": \"%016" PRIx64 "\", \"frames\": %d, "
                   "\"tiles_per_frame\": %d, \"ranks\": %d, \"resumed\": %s, \"journal_tiles\": %lld, "
                   "\"settings\": \"%s\"",
                   o->job, scene_hash, o->frame_count, xs_film_tile_count(&film), rep->ranks,
                   resumed ? "true" : "false",
                   (long long)(rep->journal ? xs_journal_loaded_tiles(rep->journal) : 0), settings);
    return XS_OK;
}

static void close_job_files(xs_job_report *rep)
{
    xs_journal_close(rep->journal);
    xs_events_close(rep->events);
    rep->journal = NULL;
    rep->events = NULL;
}

/* ---- Entry ------------------------------------------------------------------ */

/* 0 done, 1 failed, 75 drained (EX_TEMPFAIL: run it again, it resumes). */
static int exit_status(xs_sched_state st)
{
    switch (st) {
    case XS_SCHED_COMPLETED: return 0;
    case XS_SCHED_DRAINED: return 75;
    default: return 1;
    }
}

/* Rank 0's status and message, shared with every rank. */
static xs_result share_status(MPI_Comm comm, xs_result r, xs_err *err)
{
    int code = (int)r;
    MPI_Bcast(&code, 1, MPI_INT, 0, comm);
    MPI_Bcast(err->msg, (int)sizeof err->msg, MPI_CHAR, 0, comm);
    err->code = (xs_result)code;
    return (xs_result)code;
}

/* Rank 0's buffer to every rank, in chunks (MPI counts are int). */
static xs_result bcast_bytes(MPI_Comm comm, unsigned char **bytes, size_t *len, xs_err *err)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    uint64_t n = *len;
    if (MPI_Bcast(&n, 1, MPI_UINT64_T, 0, comm) != MPI_SUCCESS)
        return xs_err_set(err, XS_ERR_MPI, "broadcasting the package size failed");
    if (rank != 0) {
        *bytes = malloc(n ? n : 1);
        *len = n;
    }
    int ok = *bytes != NULL, all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
    if (!all)
        return xs_err_set(err, XS_ERR_NOMEM, "a rank could not allocate %llu bytes for the package",
                          (unsigned long long)n);
    const uint64_t chunk = 1u << 30;
    for (uint64_t off = 0; off < n; off += chunk) {
        int c = (int)(n - off < chunk ? n - off : chunk);
        if (MPI_Bcast(*bytes + off, c, MPI_BYTE, 0, comm) != MPI_SUCCESS)
            return xs_err_set(err, XS_ERR_MPI, "broadcasting the package failed at byte %llu",
                              (unsigned long long)off);
    }
    return XS_OK;
}

/* Every rank learns whether any rank failed; rank 0's message is shared. */
static xs_result agree(MPI_Comm comm, xs_result mine, xs_err *err)
{
    int local = (int)mine, worst = 0;
    if (MPI_Allreduce(&local, &worst, 1, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS)
        return xs_err_set(err, XS_ERR_MPI, "MPI_Allreduce failed while validating");
    if (worst != XS_OK && mine == XS_OK)
        xs_err_set(err, (xs_result)worst, "another rank reported an error (see its message)");
    return (xs_result)worst;
}

int xs_farm_render_main(MPI_Comm comm, int argc, char **argv)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    xs_options opt;
    xs_options_defaults(&opt);
    xs_err err;
    xs_err_clear(&err);

    /* 1. a job file (rank 0 reads it, every rank gets its text), then the
     * flags: every rank parses the same input to the same options */
    xs_result r = XS_OK;
    const char *job_file = NULL;
    for (int i = 0; i < argc; ++i) {
        size_t n = strlen(argv[i]);
        if (argv[i][0] != '-' && n > 5 && strcmp(argv[i] + n - 5, ".json") == 0)
            job_file = argv[i];
    }
    if (job_file) {
        unsigned char *text = NULL;
        size_t tlen = 0;
        if (rank == 0)
            r = xs_file_read_all(job_file, 1u << 20, &text, &tlen, &err);
        if (share_status(comm, r, &err) == XS_OK && bcast_bytes(comm, &text, &tlen, &err) == XS_OK) {
            char dir[XS_PATH_MAX];
            const char *slash = strrchr(job_file, '/');
            snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - job_file) : 0, job_file);
            r = xs_options_apply_job(&opt, job_file, dir, (const char *)text, tlen, &err);
        } else {
            r = err.code ? err.code : XS_ERR_IO;
        }
        free(text);
        if (r != XS_OK) {
            if (rank == 0)
                fprintf(stderr, "xisuan render: error: %s\n", err.msg);
            return 2;
        }
    }
    r = xs_options_parse(argc, argv, &opt, &err);
    if (r != XS_OK) {
        if (rank == 0)
            fprintf(stderr, "xisuan render: error: %s\n", err.msg);
        return 2;
    }
    if (opt.help) {
        if (rank == 0)
            xs_options_print_help(stdout);
        return 0;
    }
    /* 2. the scene: rank 0 reads and validates it once; every other rank
     * receives the package bytes over MPI and opens them in memory */
    xs_scene_input *input = NULL;
    unsigned char *bytes = NULL;
    size_t nbytes = 0;
    const bool from_file = xs_is_scene_path(opt.scene);
    double t_load0 = MPI_Wtime(), t_input = 0.0;
    uint64_t scene_hash = XXH3_64bits(opt.scene, strlen(opt.scene)); /* a built-in scene */
    if (from_file) {
        double t0 = t_load0;
        if (rank == 0) {
            r = xs_scene_input_bytes(opt.scene, &opt.pkg_limits, &bytes, &nbytes, &err);
            if (r == XS_OK)
                r = xs_scene_input_open(opt.scene, bytes, nbytes, &opt.pkg_limits, NULL, &input, &err);
        }
        if (share_status(comm, r, &err) != XS_OK) {
            if (rank == 0)
                fprintf(stderr, "xisuan render: error: %s\n", err.msg);
            free(bytes);
            xs_scene_input_destroy(input);
            return 2;
        }
        if (rank == 0)
            scene_hash = XXH3_64bits(bytes, nbytes); /* the package's content, not its name */
        r = bcast_bytes(comm, &bytes, &nbytes, &err);
        if (r == XS_OK && rank != 0) {
            r = xs_scene_input_open(opt.scene, bytes, nbytes, &opt.pkg_limits, NULL, &input, &err);
            if (r != XS_OK)
                fprintf(stderr, "xisuan render: error: rank %d: %s\n", rank, err.msg);
        }
        t_input = MPI_Wtime() - t_load0;
        if (agree(comm, r, &err) != XS_OK) {
            free(bytes);
            xs_scene_input_destroy(input);
            return 2;
        }
        free(bytes);
        bytes = NULL;
        xs_options_apply_manifest(&opt, &input->manifest);
        if (rank == 0)
            printf("xisuan: scene %s: %zu bytes packed, %d mesh(es), %d instance(s), %llu "
                   "triangles placed, loaded in %.3f s\n",
                   opt.scene, nbytes, input->gltf->mesh_count, input->gltf->instance_count,
                   (unsigned long long)input->gltf->tri_count_instanced, MPI_Wtime() - t0);
        if (rank == 0 && size > 1) { /* rank 0 never renders */
            xs_scene_input_destroy(input);
            input = NULL;
        }
    }
    /* 3. the output directory, checked once by rank 0 and shared */
    r = XS_OK;
    if (rank == 0) {
        char dir[XS_PATH_MAX + 16];
        snprintf(dir, sizeof dir, "%s/%s/tiles", opt.out_dir, opt.job);
        r = xs_check_writable_dir(dir, &err);
    }
    if (share_status(comm, r, &err) != XS_OK) {
        if (rank == 0)
            fprintf(stderr, "xisuan render: error: %s\n", err.msg);
        xs_scene_input_destroy(input);
        return 2;
    }
    /* 4. rank 0's journal (resume) and event log */
    xs_job_report rep;
    memset(&rep, 0, sizeof rep);
    r = XS_OK;
    if (rank == 0) {
        r = xs_report_init(&rep, size, &err);
        if (r == XS_OK) {
            xs_report_set_progress(&rep, opt.progress, opt.progress_interval_s);
            r = open_job_files(&opt, scene_hash, &rep, &err);
        }
    }
    if (share_status(comm, r, &err) != XS_OK) {
        if (rank == 0)
            fprintf(stderr, "xisuan render: error: %s\n", err.msg);
        close_job_files(&rep);
        xs_report_free(&rep);
        xs_scene_input_destroy(input);
        return r == XS_ERR_INVALID || err.code == XS_ERR_INVALID ? 2 : 1;
    }

    /* 5. each worker builds its scene and back end; all ranks agree */
    xs_film film;
    xs_film_init(&film, opt.width, opt.height, opt.tile);
    int threads = 1, gpu = -1;
    r = place_rank(comm, &opt, &threads, &gpu, &err);
    xs_worker_ctx w;
    memset(&w, 0, sizeof w);
    if (r != XS_OK)
        fprintf(stderr, "xisuan render: error: %s\n", err.msg);
    else if (rank != 0 || size == 1) {
        r = xs_worker_ctx_init(&w, &opt, threads, gpu, input, &err);
        w.rank = rank;
        if (r == XS_OK)
            r = xs_fault_from_env(rank, &w, &err);
        if (r != XS_OK)
            fprintf(stderr, "xisuan render: error: rank %d: %s\n", rank, err.msg);
    }
    xs_scene_input_destroy(input);
    input = NULL;
    double t_built = MPI_Wtime() - t_load0;
    if (agree(comm, r, &err) != XS_OK) {
        xs_worker_ctx_free(&w);
        close_job_files(&rep);
        xs_report_free(&rep);
        return 2;
    }
    /* a GPU holds several tiles: keep enough requests in flight for them */
    int slots = w.backend ? w.backend->slots : 1, max_slots = 1;
    MPI_Allreduce(&slots, &max_slots, 1, MPI_INT, MPI_MAX, comm);
    if (!(opt.given & XS_GIVEN_PREFETCH) && opt.prefetch < max_slots + 1)
        opt.prefetch = max_slots + 1;
    report_load(comm, t_input, t_built, w.backend ? w.backend->device : "");
    bench_gather(comm, &w);
    if (rank == 0)
        printf("xisuan: rendering %s %dx%d, %d spp, tile %d, frames %s, %d rank(s), %d "
               "thread(s) per worker -> %s/%s/\n",
               opt.scene, opt.width, opt.height, opt.spp, opt.tile, opt.frames_spec, size,
               threads, opt.out_dir, opt.job);

    /* 6. run */
    const double t_run = MPI_Wtime();
    xs_install_signal_handlers(rank == 0);
    int status = 0;
    if (size == 1) {
        xs_sched_state st = run_local(&opt, &w, &rep, &err);
        if (st == XS_SCHED_FAILED && err.code != XS_OK)
            fprintf(stderr, "xisuan render: error: %s\n", err.msg);
        status = exit_status(st);
    } else if (rank == 0) {
        xs_sched_state st = xs_master_run(comm, &opt, &film, &rep, &err);
        if (err.code != XS_OK) {
            /* the protocol broke (an MPI error, a rank gone): stop every rank */
            fprintf(stderr, "xisuan render: error: %s; aborting the job\n", err.msg);
            fflush(stderr);
            close_job_files(&rep);
            MPI_Abort(comm, 1);
        }
        status = exit_status(st);
        if (st == XS_SCHED_FAILED)
            fprintf(stderr, "xisuan render: error: job %s failed (see the messages above)\n",
                    opt.job);
        if (rep.gave_up_inflight || rep.silent_workers > 0) {
            /* some rank will not hear from us again: end the job without it */
            if (rep.silent_workers > 0)
                fprintf(stderr, "xisuan: %d rank(s) stopped answering; %s; ending the job "
                                "without waiting for them\n",
                        rep.silent_workers,
                        st == XS_SCHED_COMPLETED ? "every frame was written by the others"
                                                 : "the journal holds every committed tile");
            xs_events_emit(rep.events, "job_end_without", "\"silent_ranks\": %d, \"status\": %d",
                           rep.silent_workers, status);
            fflush(stdout);
            fflush(stderr);
            close_job_files(&rep);
            MPI_Abort(comm, status);
        }
    } else {
        if (xs_worker_run(comm, &w, &err) != XS_OK) {
            fprintf(stderr, "xisuan render: error: rank %d: %s; aborting the job\n", rank, err.msg);
            fflush(stderr);
            MPI_Abort(comm, 1);
        }
    }
    if (rank == 0 && xs_bench_active && xs_bench_active->per_rank) {
        xs_bench_run *b = xs_bench_active;
        memcpy(b->per_rank, rep.per_rank, (size_t)size * sizeof *rep.per_rank);
        b->wall_s = MPI_Wtime() - t_run;
        b->sched_busy_s = rep.sched_busy_s;
        b->status = status;
    }
    close_job_files(&rep);
    xs_report_free(&rep);
    xs_worker_ctx_free(&w);
    if (size > 1 && MPI_Bcast(&status, 1, MPI_INT, 0, comm) != MPI_SUCCESS)
        status = 1;
    return status;
}
