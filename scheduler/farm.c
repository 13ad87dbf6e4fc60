/* `xisuan render` on every rank (see xs_farm.h), read top to bottom:
 *
 *   1. options: a job file (rank 0 reads it, every rank gets its text), then
 *      the flags; every rank parses the same input to the same options;
 *   2. the scene: rank 0 reads and checks it once, the other ranks receive
 *      the package bytes over MPI and open them in memory;
 *   3. the job: its grid, folder and key;
 *   4. each rank's placement; then rank 0 checks the output folder, takes its
 *      lock and opens the journal and event log; then each worker's scene and
 *      back end; every rank agrees before any rendering starts;
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

/* Step 2: the scene input every worker builds from (NULL for a built-in
 * scene, and on rank 0 of a farm, which never renders), its content hash,
 * and the time this rank took to have it. Errors are printed here, once:
 * rank 0's by rank 0, a rank's own by that rank. */
static xs_result read_scene(MPI_Comm comm, xs_options *opt, xs_scene_input **input,
                            uint64_t *scene_hash, double *t_input, bool *animated, xs_err *err)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    *input = NULL;
    *animated = false;
    *scene_hash = XXH3_64bits(opt->scene, strlen(opt->scene)); /* a built-in scene */
    if (!xs_is_scene_path(opt->scene))
        return XS_OK;
    const double t0 = MPI_Wtime();
    unsigned char *bytes = NULL;
    size_t nbytes = 0;
    xs_result r = XS_OK;
    if (rank == 0) {
        r = xs_scene_input_load(opt->scene, &opt->limits, &bytes, &nbytes, input, err);
        if (r == XS_OK)
            *scene_hash = XXH3_64bits(bytes, nbytes); /* the package's content, not its name */
    }
    if ((r = xs_mpi_share_status(comm, r, err)) != XS_OK) {
        if (rank == 0)
            fprintf(stderr, "xisuan render: error: %s\n", err->msg);
        goto out;
    }
    MPI_Bcast(scene_hash, 1, MPI_UINT64_T, 0, comm);
    r = size > 1 ? xs_mpi_bcast_bytes(comm, &bytes, &nbytes, err) : XS_OK;
    if (r == XS_OK && rank != 0) {
        r = xs_scene_input_open(opt->scene, bytes, nbytes, &opt->limits, input, err);
        if (r != XS_OK)
            fprintf(stderr, "xisuan render: error: rank %d: %s\n", rank, err->msg);
    }
    *t_input = MPI_Wtime() - t0;
    if ((r = xs_mpi_agree(comm, r, err)) != XS_OK)
        goto out;
    xs_options_apply_manifest(opt, &(*input)->manifest);
    /* the animations to play are in the file: checked before any folder is made */
    r = rank == 0 ? xs_anim_check((*input)->gltf, opt->render.animations, err) : XS_OK;
    if ((r = xs_mpi_share_status(comm, r, err)) != XS_OK) {
        if (rank == 0)
            fprintf(stderr, "xisuan render: error: %s: %s\n", opt->scene, err->msg);
        goto out;
    }
    /* something plays: the scheduler keeps each worker on its frame */
    *animated = (*input)->gltf->animation_count > 0 && strcmp(opt->render.animations, "none") != 0;
    if (rank == 0)
        printf("xisuan: scene %s: %zu bytes packed, %d mesh(es), %d instance(s), %llu "
               "triangles placed, loaded in %.3f s\n",
               opt->scene, nbytes, (*input)->gltf->mesh_count, (*input)->gltf->instance_count,
               (unsigned long long)(*input)->gltf->tri_count_instanced, MPI_Wtime() - t0);
out:
    free(bytes);
    if (r != XS_OK || (rank == 0 && size > 1)) { /* rank 0 of a farm never renders */
        xs_scene_input_destroy(*input);
        *input = NULL;
    }
    return r;
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
    xs_scene_input *input = NULL;
    xs_job_report rep;
    xs_worker w;
    int *prefetch = NULL; /* rank 0: each rank's initial requests */
    double *speed_prior = NULL; /* rank 0: each rank's device peak over the workers' mean */
    memset(&rep, 0, sizeof rep);
    memset(&w, 0, sizeof w);
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
    bool animated = false;
    if (read_scene(comm, opt, &input, &scene_hash, &t_input, &animated, &err) != XS_OK)
        goto done; /* read_scene said why */
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
    job->animated = animated;
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
    /* the scene and back end on every worker */
    if (is_worker) {
        /* writers: a GPU rank's cores but the one that drives the GPU; a CPU
         * rank's render threads take the cores, one writer overlaps its files */
        int writers = opt->writers > 0 ? opt->writers : gpu >= 0 ? (threads > 2 ? threads - 1 : 1) : 1;
        r = xs_worker_init(&w, job, rank, threads, gpu, writers, input, &err);
        if (r == XS_OK)
            r = xs_worker_faults_from_env(&w, &err);
        if (r != XS_OK)
            fprintf(stderr, "xisuan render: error: rank %d: %s\n", rank, err.msg);
    }
    xs_scene_input_destroy(input);
    input = NULL;
    const double t_built = MPI_Wtime() - t_load0;
    if (xs_mpi_agree(comm, r, &err) != XS_OK)
        goto done; /* each rank printed its own reason */
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
    xs_scene_input_destroy(input);
    free(job);
    free(opt);
    return status;
}
