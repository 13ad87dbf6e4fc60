/* The runner (see xs_runner.h): one thread, a step every poll interval or
 * when woken, each step taking every Slurm job of the service one state on.
 *
 *   queued      -> submitting (recorded) -> `xisuan submit` -> submitted (Slurm id) | failed
 *   submitting  (found after a restart)  -> its script in squeue's list -> submitted, else queued
 *   submitted, running: squeue for the job's state, then the event log and journal for its
 *               frames (each hashed and recorded once), its end (completed or failed) and
 *               its wall time (GPU-hours); a job Slurm no longer runs that never completed
 *               has failed
 *   cancelling  -> not requeueable, scancel -> cancelled
 *
 * squeue is read before the event log, so a job seen gone has written every
 * event it ever will.
 */
#include "service/xs_runner.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/xs_job_status.h"
#include "io/xs_json.h"
#include "service/xs_api.h"
#include "service/xs_proc.h"

enum { FOLLOW_MAX = 1024 };

typedef struct follower {
    int64_t job;
    xs_job_status *st;
    bool seen; /* in this step */
} follower;

struct xs_runner {
    xs_runner_config cfg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop, wake, started;
    follower follow[FOLLOW_MAX];
    int nfollow;
};

static void log_job(xs_runner *r, const char *level, const char *event, const xs_job_row *j,
                    const char *detail)
{
    char esc[1200];
    xs_json_escape(detail ? detail : "", esc, sizeof esc);
    xs_log_emit(r->cfg.log, level, event,
                "\"job\": %" PRId64 ", \"slurm_id\": \"%s\", \"detail\": \"%s\"", j->id, j->slurm_id, esc);
}

static void set_state(xs_runner *r, const xs_job_row *j, const char *state, const char *message,
                      const char *slurm_id)
{
    xs_err err;
    if (xs_store_job_set_state(r->cfg.store, j->id, state, message, slurm_id, xs_wall_now(), &err) != XS_OK)
        xs_log_emit(r->cfg.log, "error", "database", "\"job\": %" PRId64 ", \"detail\": \"%s\"", j->id,
                    "cannot record the job's state");
}

/* The last non-empty line of out, up to n bytes. */
static void last_line(const char *out, char *line, size_t n)
{
    line[0] = '\0';
    const char *p = out;
    while (*p) {
        size_t k = strcspn(p, "\n");
        if (k > 0)
            snprintf(line, n, "%.*s", (int)(k < n - 1 ? k : n - 1), p);
        p += k + (p[k] == '\n');
    }
}

/* ---- queued: submit ---------------------------------------------------------------------- */

static void submit(xs_runner *r, const xs_job_row *j)
{
    set_state(r, j, "submitting", NULL, NULL);
    char file[XS_PATH_MAX], nodes[16], rpn[16], gpn[16], cpr[16];
    xs_spool_job_file(r->cfg.spool, j->id, "job.json", file, sizeof file);
    snprintf(nodes, sizeof nodes, "%d", j->nodes);
    snprintf(rpn, sizeof rpn, "%d", j->ranks_per_node);
    snprintf(gpn, sizeof gpn, "%d", j->gpus_per_node);
    snprintf(cpr, sizeof cpr, "%d", j->cpus_per_rank);
    char *argv[24];
    int a = 0;
    argv[a++] = (char *)r->cfg.self;
    argv[a++] = (char *)"submit";
    argv[a++] = file;
    argv[a++] = (char *)"--nodes", argv[a++] = nodes;
    argv[a++] = (char *)"--ranks-per-node", argv[a++] = rpn;
    argv[a++] = (char *)"--gpus-per-node", argv[a++] = gpn;
    argv[a++] = (char *)"--cpus-per-rank", argv[a++] = cpr;
    argv[a++] = (char *)"--time", argv[a++] = (char *)j->time;
    argv[a++] = (char *)"--launcher", argv[a++] = (char *)r->cfg.launcher;
    if (r->cfg.partition)
        argv[a++] = (char *)"--partition", argv[a++] = (char *)r->cfg.partition;
    if (j->account[0])
        argv[a++] = (char *)"--account", argv[a++] = (char *)j->account;
    argv[a] = NULL;
    xs_proc_result *res = malloc(sizeof *res);
    xs_err err;
    if (!res)
        return; /* stays submitting: the next step after a restart finds it */
    char line[256], id[32] = "";
    if (xs_proc_run(argv, 120, res, &err) != XS_OK) {
        set_state(r, j, "failed", err.msg, NULL);
        log_job(r, "warn", "job_failed", j, err.msg);
    } else {
        /* sbatch --parsable prints "ID" or "ID;cluster" */
        last_line(res->out, line, sizeof line);
        size_t k = strspn(line, "0123456789");
        if (res->status == 0 && k > 0 && k < sizeof id && (line[k] == '\0' || line[k] == ';'))
            snprintf(id, sizeof id, "%.*s", (int)k, line);
        if (id[0]) {
            set_state(r, j, "submitted", "", id);
            xs_job_row jj = *j;
            snprintf(jj.slurm_id, sizeof jj.slurm_id, "%s", id);
            log_job(r, "info", "job_submitted", &jj, NULL);
        } else {
            char msg[512];
            snprintf(msg, sizeof msg, "xisuan submit failed (exit %d): %.400s", res->status, line);
            set_state(r, j, "failed", msg, NULL);
            log_job(r, "warn", "job_failed", j, res->out);
        }
    }
    free(res);
}

/* ---- submitting after a restart: did sbatch take it? -------------------------------------- */

static void recover(xs_runner *r, const xs_job_row *j)
{
    char script[XS_PATH_MAX], name[96];
    snprintf(name, sizeof name, "xisuan-%s.sbatch", j->job);
    xs_spool_output_file(r->cfg.spool, j->id, j->job, name, script, sizeof script);
    char *argv[] = {(char *)"squeue", (char *)"-h", (char *)"-o", (char *)"%i %o", NULL};
    xs_proc_result *res = malloc(sizeof *res);
    xs_err err;
    if (!res)
        return;
    if (xs_proc_run(argv, 60, res, &err) == XS_OK && res->status == 0) {
        char found[32] = "";
        for (const char *p = res->out; *p;) {
            size_t k = strcspn(p, "\n");
            char l[XS_PATH_MAX + 64];
            snprintf(l, sizeof l, "%.*s", (int)(k < sizeof l - 1 ? k : sizeof l - 1), p);
            char *sp = strchr(l, ' ');
            if (sp && strcmp(sp + 1, script) == 0)
                snprintf(found, sizeof found, "%.*s", (int)(sp - l), l);
            p += k + (p[k] == '\n');
        }
        if (found[0]) {
            set_state(r, j, "submitted", "", found);
            log_job(r, "info", "job_recovered", j, found);
        } else {
            set_state(r, j, "queued", NULL, NULL); /* sbatch never took it: submit again */
            log_job(r, "info", "job_resubmit", j, "not in squeue after a restart");
        }
    }
    free(res);
}

/* ---- submitted, running: follow ------------------------------------------------------------- */

static follower *follower_of(xs_runner *r, const xs_job_row *j)
{
    for (int i = 0; i < r->nfollow; ++i)
        if (r->follow[i].job == j->id)
            return &r->follow[i];
    if (r->nfollow == FOLLOW_MAX)
        return NULL;
    char dir[XS_PATH_MAX];
    xs_spool_output_file(r->cfg.spool, j->id, j->job, "", dir, sizeof dir);
    follower *f = &r->follow[r->nfollow];
    xs_err err;
    if (xs_job_status_create(dir, &f->st, &err) != XS_OK)
        return NULL;
    f->job = j->id;
    r->nfollow++;
    return f;
}

static void follower_drop(xs_runner *r, int64_t job)
{
    for (int i = 0; i < r->nfollow; ++i)
        if (r->follow[i].job == job) {
            xs_job_status_destroy(r->follow[i].st);
            r->follow[i] = r->follow[--r->nfollow];
            return;
        }
}

/* Slurm's word on the job: 1 still its (pending, running, requeued...), 0
 * gone (ended, or no longer known), -1 no answer (slurmctld down). */
static int slurm_alive(const char *id)
{
    char *argv[] = {(char *)"squeue", (char *)"-h", (char *)"-j", (char *)id, (char *)"-o", (char *)"%T", NULL};
    xs_proc_result *res = malloc(sizeof *res);
    xs_err err;
    int alive = -1;
    if (res && xs_proc_run(argv, 60, res, &err) == XS_OK) {
        static const char *const ended[] = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL",
                                            "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", NULL};
        char line[128];
        last_line(res->out, line, sizeof line);
        if (res->status != 0)
            alive = strstr(res->out, "Invalid job id") ? 0 : -1;
        else if (!line[0])
            alive = 0;
        else {
            alive = 1;
            for (const char *const *e = ended; *e; ++e)
                if (strcmp(line, *e) == 0)
                    alive = 0;
        }
    }
    free(res);
    return alive;
}

/* Records frames the render assembled that the database does not have yet. */
static int record_frames(xs_runner *r, const xs_job_row *j, const xs_job_status *st, int *missing)
{
    xs_frame_row *fr = NULL;
    int n = 0, added = 0;
    xs_err err;
    *missing = 0;
    if (xs_store_frames(r->cfg.store, j->id, &fr, &n, &err) != XS_OK)
        return 0;
    char by[64];
    snprintf(by, sizeof by, "slurm %s", j->slurm_id);
    for (int i = 0; i < n; ++i) {
        if (fr[i].done)
            continue;
        char file[96], path[XS_PATH_MAX], hex[33];
        int64_t bytes = 0;
        snprintf(file, sizeof file, "%s.%04d.exr", j->name, fr[i].frame);
        xs_spool_output_file(r->cfg.spool, j->id, j->job, file, path, sizeof path);
        /* assembled per the event log (or, from a run whose events are gone, on disk) */
        const bool listed = fr[i].frame < XS_JOB_STATUS_FRAMES && st->frame_done[fr[i].frame];
        if ((!listed && access(path, F_OK) != 0) || xs_file_xxh3(path, hex, &bytes, &err) != XS_OK) {
            ++*missing;
            continue;
        }
        xs_store_verdict v;
        bool job_done = false;
        if (xs_store_frame_commit(r->cfg.store, j->id, fr[i].frame, 0, by, file, bytes, hex,
                                  xs_wall_now(), &v, &job_done, &err) == XS_OK && v == XS_STORE_DONE) {
            added++;
            char png[96], ppath[XS_PATH_MAX];
            snprintf(png, sizeof png, "%s.%04d.png", j->name, fr[i].frame);
            xs_spool_output_file(r->cfg.spool, j->id, j->job, png, ppath, sizeof ppath);
            FILE *pf = fopen(ppath, "rb");
            if (pf) {
                fseek(pf, 0, SEEK_END);
                long pb = ftell(pf);
                fclose(pf);
                xs_store_frame_set_preview(r->cfg.store, j->id, fr[i].frame, png, pb, &err);
            }
            xs_log_emit(r->cfg.log, "info", "frame_committed",
                        "\"job\": %" PRId64 ", \"frame\": %d, \"by\": \"%s\", \"bytes\": %" PRId64,
                        j->id, fr[i].frame, by, bytes);
        }
    }
    free(fr);
    return added;
}

static void charge(xs_runner *r, const xs_job_row *j, const xs_job_status *st)
{
    xs_err err;
    double h = j->nodes * (double)j->gpus_per_node * st->wall_total / 3600.0;
    if (h > 0)
        xs_store_job_charge(r->cfg.store, j->id, h, &err);
}

static void follow(xs_runner *r, const xs_job_row *j)
{
    follower *f = follower_of(r, j);
    if (!f)
        return;
    f->seen = true;
    const int alive = slurm_alive(j->slurm_id);
    if (alive < 0)
        return; /* no answer from Slurm: look again next time */
    xs_err err;
    const bool has_log = xs_job_status_update(f->st, &err) == XS_OK;
    if (has_log && f->st->runs > 0 && strcmp(j->state, "submitted") == 0) {
        set_state(r, j, "running", NULL, NULL);
        log_job(r, "info", "job_running", j, NULL);
    }
    int missing = 0;
    if (has_log)
        record_frames(r, j, f->st, &missing);
    const char *s = f->st->state;
    if (has_log && strcmp(s, "completed") == 0 && missing == 0) {
        charge(r, j, f->st);
        set_state(r, j, "completed", "", NULL);
        log_job(r, "info", "job_completed", j, NULL);
        follower_drop(r, j->id);
    } else if (has_log && strcmp(s, "failed") == 0 && alive == 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "the render failed (%lld failed item(s)); see slurm-%s.log in the "
                                  "job folder", (long long)f->st->failures, j->slurm_id);
        charge(r, j, f->st);
        set_state(r, j, "failed", msg, NULL);
        log_job(r, "warn", "job_failed", j, msg);
        follower_drop(r, j->id);
    } else if (alive == 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "Slurm job %s ended without completing the render (%s; %d frame(s) "
                                  "missing): cancelled, out of time, or its node lost; see its log",
                 j->slurm_id, has_log ? s : "it never started", missing);
        if (has_log)
            charge(r, j, f->st);
        set_state(r, j, "failed", msg, NULL);
        log_job(r, "warn", "job_failed", j, msg);
        follower_drop(r, j->id);
    }
}

/* ---- cancelling -------------------------------------------------------------------------------- */

static void cancel(xs_runner *r, const xs_job_row *j)
{
    if (j->slurm_id[0]) {
        /* scancel sends SIGTERM first, which the batch script of `xisuan
         * submit` takes for a drain and answers with `scontrol requeue`: make
         * the job not requeueable first, so a cancel ends it */
        char job_id[48];
        snprintf(job_id, sizeof job_id, "JobId=%s", j->slurm_id);
        char *up[] = {(char *)"scontrol", (char *)"update", job_id, (char *)"Requeue=0", NULL};
        char *argv[] = {(char *)"scancel", (char *)j->slurm_id, NULL};
        xs_proc_result *res = malloc(sizeof *res);
        xs_err err;
        if (res)
            xs_proc_run(up, 60, res, &err);
        if (!res || xs_proc_run(argv, 60, res, &err) != XS_OK || res->status != 0) {
            if (res && res->status != 0 && strstr(res->out, "Invalid job id") == NULL) {
                free(res);
                return; /* Slurm did not answer: again next step */
            }
        }
        free(res);
        follower *f = follower_of(r, j);
        if (f && xs_job_status_update(f->st, &err) == XS_OK) {
            int missing = 0;
            record_frames(r, j, f->st, &missing);
            charge(r, j, f->st);
        }
    }
    set_state(r, j, "cancelled", NULL, NULL);
    log_job(r, "info", "job_cancelled", j, NULL);
    follower_drop(r, j->id);
}

static void step(xs_runner *r)
{
    static const char *const states[] = {"submitting", "queued", "submitted", "running", "cancelling", NULL};
    xs_job_row *jobs = NULL;
    int n = 0;
    xs_err err;
    if (xs_store_job_in_states(r->cfg.store, states, &jobs, &n, &err) != XS_OK) {
        xs_log_emit(r->cfg.log, "error", "database", "\"detail\": \"runner: cannot list jobs\"");
        return;
    }
    for (int i = 0; i < r->nfollow; ++i)
        r->follow[i].seen = false;
    for (int i = 0; i < n; ++i) {
        const xs_job_row *j = &jobs[i];
        pthread_mutex_lock(&r->lock);
        bool stop = r->stop;
        pthread_mutex_unlock(&r->lock);
        if (stop)
            break;
        if (strcmp(j->state, "cancelling") == 0) {
            cancel(r, j);
            continue;
        }
        if (j->mode != XS_JOB_MODE_SLURM)
            continue;
        if (strcmp(j->state, "queued") == 0)
            submit(r, j);
        else if (strcmp(j->state, "submitting") == 0)
            recover(r, j);
        else
            follow(r, j);
    }
    /* jobs that ended elsewhere (cancelled while queued) */
    for (int i = 0; i < r->nfollow;)
        if (!r->follow[i].seen)
            follower_drop(r, r->follow[i].job);
        else
            ++i;
    free(jobs);
}

static void *thread_main(void *arg)
{
    xs_runner *r = arg;
    for (;;) {
        step(r);
        pthread_mutex_lock(&r->lock);
        if (!r->stop && !r->wake) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            double t = ts.tv_sec + ts.tv_nsec * 1e-9 + r->cfg.poll_s;
            ts.tv_sec = (time_t)t;
            ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
            pthread_cond_timedwait(&r->cond, &r->lock, &ts);
        }
        r->wake = false;
        bool stop = r->stop;
        pthread_mutex_unlock(&r->lock);
        if (stop)
            break;
    }
    return NULL;
}

xs_result xs_runner_start(const xs_runner_config *cfg, xs_runner **out, xs_err *err)
{
    *out = NULL;
    xs_runner *r = calloc(1, sizeof *r);
    if (!r)
        return xs_err_set(err, XS_ERR_NOMEM, "runner: out of memory");
    r->cfg = *cfg;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    if (pthread_create(&r->thread, NULL, thread_main, r) != 0) {
        free(r);
        return xs_err_set(err, XS_ERR_INTERNAL, "runner: cannot start its thread");
    }
    r->started = true;
    *out = r;
    return XS_OK;
}

void xs_runner_wake(xs_runner *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->wake = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

void xs_runner_stop(xs_runner *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
    if (r->started)
        pthread_join(r->thread, NULL);
    for (int i = 0; i < r->nfollow; ++i)
        xs_job_status_destroy(r->follow[i].st);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}
