/* `xisuan render` on every rank (see xs_farm.h), read top to bottom:
 *
 *   1. options: a job file (rank 0 reads it, every rank gets its text), then
 *      the flags; every rank parses the same input to the same options;
 *   2. the scene: rank 0 reads and checks it once and works out the memory
 *      plan of every node (a scene that cannot fit is refused here); one
 *      rank per node receives the package bytes (scheduler/xs_node_share.h);
 *   3. the job: its grid, folder and key;
 *   4. each rank's placement; then rank 0 checks the output folder, takes its
 *      lock and opens the journal and event log; then each node's one copy
 *      of the scene (built by one rank, shared by all), each worker's back
 *      end; every rank agrees before any rendering starts;
 *   5. the run: rank 0's driver over MPI, or over its own worker alone;
 *   6. one exit status, shared by every rank.
 */
#include "scheduler/xs_farm.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "io/xs_file.h"
#include "io/xs_scene_input.h"
#include "render/xs_animation.h"
#include "scheduler/xs_driver.h"
#include "scheduler/xs_node_share.h"
#include "scheduler/xs_job.h"
#include "scheduler/xs_options.h"
#include "scheduler/xs_placement_rank.h"
#include "scheduler/xs_protocol.h"
#include "scheduler/xs_report.h"
#include "scheduler/xs_worker.h"

/* Step 1: the options every rank agrees on. */
static xs_result read_options(MPI_Comm comm, int argc, char **argv, xs_options *opt, xs_err *err)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    xs_options_defaults(opt);
    const char *job_file = NULL;
    for (int i = 0; i < argc; ++i)
        if (argv[i][0] != '-' && xs_has_suffix(argv[i], ".json") && strlen(argv[i]) > 5)
            job_file = argv[i];
    if (job_file) {
        unsigned char *text = NULL;
        size_t tlen = 0;
        xs_result r = XS_OK;
        if (rank == 0)
            r = xs_file_read_all(job_file, 1u << 20, &text, &tlen, err);
        if (xs_mpi_share_status(comm, r, err) == XS_OK &&
            xs_mpi_bcast_bytes(comm, &text, &tlen, err) == XS_OK) {
            char dir[XS_PATH_MAX];
            const char *slash = strrchr(job_file, '/');
            snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - job_file) : 0, job_file);
            r = xs_options_apply_job(opt, job_file, dir, (const char *)text, tlen, err);
        } else {
            r = err->code ? err->code : XS_ERR_IO;
        }
        free(text);
        if (r != XS_OK)
            return r;
    }
    return xs_options_parse(argc, argv, opt, err);
}

/* Step 5 on rank 0: the driver over its transport. Returns the exit status;
 * a broken protocol or ranks that stopped answering end every rank. */
static int run_scheduler(MPI_Comm comm, const xs_job *job, xs_worker *self, const int *prefetch,
                         const double *speed_prior, bool parts, xs_job_report *rep)
{
    xs_err err;
    xs_err_clear(&err);
    xs_transport *t = NULL;
    xs_result r = self ? xs_transport_local_create(self, prefetch[0], &t, &err)
                       : xs_transport_mpi_create(comm, &t, &err);
    if (!self) {
        prefetch++; /* worker w is rank w + 1 */
        if (speed_prior)
            speed_prior++;
    }
    if (t) {
        t->speed_prior = speed_prior;
        t->parts = parts; /* every worker renders parts: tiles may be split */
    }
    xs_sched_state st = r == XS_OK ? xs_driver_run(job, t, prefetch, rep, &err) : XS_SCHED_FAILED;
    xs_transport_destroy(t);
    /* every reply is in: a part that a speculative copy wrote after its
     * tile was merged is of no use (nor is any part to a later run) */
    int64_t removed = 0;
    if (rep->final.splits > 0)
        (void)xs_job_remove_parts(&job->layout, &removed, NULL);
    const int status = xs_job_exit_status(st);
    if (err.code != XS_OK && !self) {
        /* the protocol broke (an MPI error, a rank gone): stop every rank */
        fprintf(stderr, "xisuan render: error: %s; aborting the job\n", err.msg);
        fflush(stderr);
        xs_report_close(rep);
        MPI_Abort(comm, 1);
    }
    if (err.code != XS_OK)
        fprintf(stderr, "xisuan render: error: %s\n", err.msg);
    if (st == XS_SCHED_FAILED && !self)
        fprintf(stderr, "xisuan render: error: job %s failed (see the messages above)\n", job->opt->job);
    if (!self && (rep->gave_up_inflight || rep->silent_workers > 0)) {
        /* some rank will not hear from us again: end the job without it */
        if (rep->silent_workers > 0)
            fprintf(stderr, "xisuan: %d rank(s) stopped answering; %s; ending the job "
                            "without waiting for them\n",
                    rep->silent_workers,
                    st == XS_SCHED_COMPLETED ? "every frame was written by the others"
                                             : "the journal holds every committed tile");
        xs_events_emit(rep->events, "job_end_without", "\"silent_ranks\": %d, \"status\": %d",
                       rep->silent_workers, status);
        fflush(stdout);
        fflush(stderr);
        xs_report_close(rep);
        MPI_Abort(comm, status);
    }
    return status;
}

int xs_farm_render(MPI_Comm comm, int argc, char **argv, xs_run_result *result)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    xs_err err;
    xs_err_clear(&err);
    xs_options *opt = malloc(sizeof *opt);
    xs_job *job = malloc(sizeof *job);
    xs_node_share ns;
    xs_job_report rep;
    xs_worker w;
    int *prefetch = NULL; /* rank 0: each rank's initial requests */
    double *speed_prior = NULL; /* rank 0: each rank's device peak over the workers' mean */
    memset(&rep, 0, sizeof rep);
    memset(&w, 0, sizeof w);
    memset(&ns, 0, sizeof ns);
    ns.world = MPI_COMM_NULL;
    int status = 2; /* bad input until the run starts */
    const bool is_worker = rank != 0 || size == 1;
    xs_result r = opt && job ? XS_OK : xs_err_set(&err, XS_ERR_NOMEM, "out of memory");
    r = xs_mpi_agree(comm, r, &err);

    /* 1. options */
    if (r != XS_OK || (r = read_options(comm, argc, argv, opt, &err)) != XS_OK)
        goto report;
    if (opt->help) {
        if (rank == 0)
            xs_options_print_help(stdout);
        status = 0;
        goto done;
    }
    /* 2. the scene */
    const double t_load0 = MPI_Wtime();
    double t_input = 0.0;
    uint64_t scene_hash = 0;
    if (xs_node_share_read(comm, opt, is_worker, &ns, &scene_hash, &err) != XS_OK)
        goto done; /* it said why (bad input: status 2) */
    t_input = ns.t_input;
    /* a job with a GPU worker gets GPU-sized tiles unless a tile was chosen */
    if (!xs_backend_cpu_only(opt->render.backend) && !(opt->given & (XS_GIVEN_TILE | XS_GIVEN_MANIFEST_TILE))) {
        int mine = is_worker ? xs_cuda_device_count(NULL, 0) : 0, any = 0;
        MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm);
        xs_options_gpu_defaults(opt, any > 0);
    }
    /* 3. the job; its folder checked and its files opened by rank 0 */
    r = xs_mpi_agree(comm, xs_job_init(job, opt, scene_hash, &err), &err);
    if (r != XS_OK)
        goto report;
    job->animated = ns.animated;
    /* 4. each rank's place on its node (a rank that asks for a GPU it does
     * not have stops the job here, before any file is written) */
    int threads = 1, gpu = -1;
    r = xs_place_rank(comm, opt, &threads, &gpu, &err);
    if (r != XS_OK)
        fprintf(stderr, "xisuan render: error: %s\n", err.msg);
    if (xs_mpi_agree(comm, r, &err) != XS_OK)
        goto done; /* each rank printed its own reason */
    if (rank == 0) {
        char dir[XS_PATH_MAX];
        r = xs_job_file_path(&job->layout, "tiles", dir, sizeof dir, &err);
        if (r == XS_OK)
            r = xs_check_writable_dir(dir, &err);
        /* a folder that holds another job, or is being written by one, is bad
         * input; a journal that cannot be written is a failed job */
        if (r == XS_OK && (r = xs_report_open(&rep, job, size, &err)) != XS_OK && r != XS_ERR_INVALID)
            status = 1;
    }
    MPI_Bcast(&status, 1, MPI_INT, 0, comm);
    if (xs_mpi_share_status(comm, r, &err) != XS_OK)
        goto report;
    /* each node's one copy of the scene, then the back end on every worker */
    if (xs_node_share_build(&ns, opt, &err) != XS_OK) {
        status = 1;
        goto done; /* each rank printed its own reason */
    }
    if (is_worker) {
        /* writers: a GPU rank's cores but the one that drives the GPU; a CPU
         * rank's render threads take the cores, one writer overlaps its files */
        int writers = opt->writers > 0 ? opt->writers : gpu >= 0 ? (threads > 2 ? threads - 1 : 1) : 1;
        if (ns.scene)
            r = xs_worker_init_scene(&w, job, rank, threads, gpu, writers, ns.scene, &err);
        else
            r = xs_worker_init(&w, job, rank, threads, gpu, writers, NULL, &err);
        if (r == XS_OK)
            r = xs_worker_faults_from_env(&w, &err);
        if (r != XS_OK)
            fprintf(stderr, "xisuan render: error: rank %d: %s\n", rank, err.msg);
    }
    const double t_built = MPI_Wtime() - t_load0;
    if (xs_mpi_agree(comm, r, &err) != XS_OK)
        goto done; /* each rank printed its own reason */
    /* ranks whose GPU cannot hold the scene are retired: the job needs one that can render */
    int can = is_worker && (!w.backend || !w.backend->lost), any_can = 0;
    MPI_Allreduce(&can, &any_can, 1, MPI_INT, MPI_MAX, comm);
    if (!any_can) {
        if (rank == 0)
            fprintf(stderr, "xisuan render: error: no rank can render this scene (each one said why above)\n");
        goto done; /* bad input: status 2 */
    }
    /* each worker asks for as many items as keep its device and writers
     * busy (a GPU holds several launch groups); --prefetch: that many each */
    int my_prefetch = (opt->given & XS_GIVEN_PREFETCH) || !is_worker ? opt->prefetch : xs_worker_depth(&w);
    prefetch = rank == 0 ? calloc((size_t)size, sizeof *prefetch) : NULL;
    speed_prior = rank == 0 ? calloc((size_t)size, sizeof *speed_prior) : NULL;
    int have = rank != 0 || (prefetch != NULL && speed_prior != NULL), all_have = 0;
    MPI_Allreduce(&have, &all_have, 1, MPI_INT, MPI_MIN, comm);
    if (!all_have) {
        status = 1;
        xs_err_set(&err, XS_ERR_NOMEM, "rank 0: out of memory");
        goto report;
    }
    MPI_Gather(&my_prefetch, 1, MPI_INT, prefetch, 1, MPI_INT, 0, comm);
    /* each worker's device peak: the policy's speed estimates start from it
     * (a CPU rank beside GPUs is known to be slow before its first tile) */
    char peak_desc[160];
    double my_peak = is_worker ? xs_census_peak(&w, peak_desc, sizeof peak_desc) : 0.0;
    MPI_Gather(&my_peak, 1, MPI_DOUBLE, speed_prior, 1, MPI_DOUBLE, 0, comm);
    if (speed_prior) {
        double sum = 0.0;
        int n = 0;
        for (int i = size > 1 ? 1 : 0; i < size; ++i)
            if (speed_prior[i] > 0.0)
                sum += speed_prior[i], n++;
        for (int i = 0; i < size; ++i)
            speed_prior[i] = n > 0 && speed_prior[i] > 0.0 ? speed_prior[i] / (sum / n) : 1.0;
    }
    /* tiles are split only when every worker's back end renders parts */
    int my_parts = !is_worker || xs_worker_parts(&w), all_parts = 0;
    MPI_Allreduce(&my_parts, &all_parts, 1, MPI_INT, MPI_MIN, comm);
    xs_census_load(comm, t_input, t_built, w.backend ? w.backend->device : "");
    if (result && xs_census_devices(comm, is_worker ? &w : NULL, result, &err) != XS_OK) {
        status = 1;
        goto report;
    }
    if (rank == 0)
        printf("xisuan: rendering %s %dx%d, %d spp, tile %d, frames %s, %d rank(s), %d "
               "thread(s) per worker -> %s/%s/\n",
               opt->scene, opt->render.width, opt->render.height, opt->render.spp, opt->render.tile,
               opt->frames_spec, size, threads, opt->out_dir, opt->job);

    /* 5. the run */
    const double t_run = MPI_Wtime();
    xs_install_signal_handlers(rank == 0);
    if (rank == 0) {
        status = run_scheduler(comm, job, size == 1 ? &w : NULL, prefetch, speed_prior, all_parts != 0, &rep);
    } else if (xs_worker_run(comm, &w, my_prefetch, &err) != XS_OK) {
        fprintf(stderr, "xisuan render: error: rank %d: %s; aborting the job\n", rank, err.msg);
        fflush(stderr);
        MPI_Abort(comm, 1);
    }
    xs_census_scene_work(comm, is_worker ? &w : NULL, MPI_Wtime() - t_run);
    /* the texture cache's figures, beside the summary and in the event log */
    xs_node_share_report(&ns, rank == 0 ? rep.events : NULL);
    if (rank == 0 && result && result->per_rank) {
        memcpy(result->per_rank, rep.per_rank, (size_t)size * sizeof *rep.per_rank);
        result->wall_s = MPI_Wtime() - t_run;
        result->sched_busy_s = rep.sched_busy_s;
        result->status = status;
    }
    /* 6. one exit status */
    if (size > 1 && MPI_Bcast(&status, 1, MPI_INT, 0, comm) != MPI_SUCCESS)
        status = 1;
    goto done;
report:
    if (rank == 0)
        fprintf(stderr, "xisuan render: error: %s\n", err.msg);
done:
    free(prefetch);
    free(speed_prior);
    xs_report_close(&rep);
    xs_worker_free(&w);
    xs_node_share_free(&ns); /* after the worker: it renders from the node's copy */
    free(job);
    free(opt);
    return status;
}
