/* `mpirun -n N xisuan join --server URL --job ID --out DIR`: this MPI world
 * serves one job of the submission service as one of its clusters
 * (docs/service.md#leases). Rank 0 talks to the service; every rank renders.
 *
 * Rank 0 fetches the job's settings and package once (checked against its
 * checksum, kept in DIR/.xisuan-join/ID/), then asks for a lease: a list of
 * frames it holds while it renews the lease. Each lease is one `xisuan
 * render` run over this world (xs_farm_render) with --frames set to the
 * lease's frames and the output in DIR, so the journal in DIR/JOB makes a
 * restarted cluster resume what it had. While the render runs, a thread of
 * rank 0 renews the lease every third of its lifetime and sends each frame
 * to the service as soon as its file is complete (the frame's EXR and then
 * its PNG preview), each checked against its XXH3-128 by the service. A
 * lease the service says is lost (it expired and another cluster took its
 * frames, or the job was cancelled) drains the render (as SIGUSR1 would)
 * and the world asks again. When every frame is done, join exits 0.
 *
 * Exit status: 0 every frame of the job is done (or it was cancelled), 1 a
 * failure (the job failed, the service refused), 2 bad input, 75 drained by
 * a signal (run it again: it resumes).
 */
#include "scheduler/cmd/xs_cmd.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/xs_file.h"
#include "scheduler/xs_driver.h"
#include "scheduler/xs_farm.h"
#include "service/xs_api.h"
#include "service/xs_client.h"
#include "service/xs_spool.h"

static void join_usage(FILE *f)
{
    fputs("usage: mpirun -n N xisuan join --server URL --job ID --out DIR [flags] [-- render flags]\n"
          "\n"
          "Serves a lease job of `xisuan serve` as one cluster: leases frames, renders them with\n"
          "this MPI world (rank 0 schedules, the others render), sends each frame back as soon\n"
          "as it is written, and asks again until every frame is done. Other clusters may serve\n"
          "the same job at once; a cluster that stops loses its frames when its lease expires.\n"
          "\n"
          "  --server URL        the service [$XISUAN_SERVER]\n"
          "  --token-file F      this cluster's token [$XISUAN_TOKEN]\n"
          "  --job ID            the job\n"
          "  --out DIR           this cluster's output folder (frames, journal) [out]\n"
          "  --gpus N            GPUs this cluster renders with, for GPU-hour accounting [0]\n"
          "  --retry S           keep trying an unreachable service this long [300]\n"
          "  -- FLAGS            render flags that do not change pixels: --threads, --backend,\n"
          "                      --gpu-slots, --bind, --prefetch, --retries, --stall-timeout,\n"
          "                      --grace, --progress, --progress-interval\n",
          f);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void pause_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

enum { MAX_LEASE_FRAMES = 10000 };

/* ---- the lease's agent on rank 0: renewals and frames sent back ----------------------- */

typedef struct agent {
    xs_client *client;
    int64_t lease;
    double ttl_s;
    char dir[XS_PATH_MAX];  /* OUT/JOB */
    char name[64];          /* frame files' base name */
    int *frames;
    int count;
    uint8_t *sent;          /* per lease frame: 0 not yet, 1 EXR taken, 2 preview too, 3 not ours */
    int committed;          /* EXRs the service took from us */
    pthread_t thread;
    pthread_mutex_t lock;
    bool stop, lost, drained;
    char lost_why[256];
} agent;

static bool agent_stopping(agent *a)
{
    pthread_mutex_lock(&a->lock);
    bool s = a->stop;
    pthread_mutex_unlock(&a->lock);
    return s;
}

static void agent_lose(agent *a, const char *why)
{
    pthread_mutex_lock(&a->lock);
    if (!a->lost) {
        a->lost = true;
        snprintf(a->lost_why, sizeof a->lost_why, "%s", why);
        if (!a->drained) {
            a->drained = true;
            kill(getpid(), SIGUSR1); /* the render drains: its frames are not ours now */
        }
    }
    pthread_mutex_unlock(&a->lock);
}

/* Sends what the render has finished: each frame's EXR, then its preview. */
static void agent_send(agent *a)
{
    for (int i = 0; i < a->count; ++i) {
        while (a->sent[i] < 2 && !a->lost) {
            const bool exr = a->sent[i] == 0;
            char path[XS_PATH_MAX + 96], url[128];
            snprintf(path, sizeof path, "%s/%s.%04d.%s", a->dir, a->name, a->frames[i], exr ? "exr" : "png");
            if (access(path, F_OK) != 0)
                break; /* not written yet */
            snprintf(url, sizeof url, "/v1/leases/%" PRId64 "/frames/%d%s", a->lease, a->frames[i],
                     exr ? "" : "/preview");
            long st = 0;
            cJSON *j = NULL;
            xs_err err;
            if (xs_client_put_file(a->client, url, path, &st, &j, &err) != XS_OK) {
                cJSON_Delete(j);
                return; /* the service is away: next time */
            }
            if (!exr) {
                a->sent[i] = 2; /* a preview taken or refused: done with it either way */
            } else if (st == 201) {
                a->sent[i] = 1;
                a->committed++;
                printf("xisuan join: frame %d sent (lease %" PRId64 ")\n", a->frames[i], a->lease);
            } else if (st == 409) {
                a->sent[i] = 3; /* committed by another cluster: counted once, there */
                printf("xisuan join: frame %d was committed by another cluster\n", a->frames[i]);
            } else if (st == 410) {
                agent_lose(a, xs_client_message(j, st));
            } else {
                fprintf(stderr, "xisuan join: warning: frame %d: %ld: %s\n", a->frames[i], st,
                        xs_client_message(j, st));
                cJSON_Delete(j);
                break;
            }
            fflush(stdout);
            cJSON_Delete(j);
        }
    }
}

static void agent_renew(agent *a)
{
    char url[96];
    snprintf(url, sizeof url, "/v1/leases/%" PRId64 "/renew", a->lease);
    long st = 0;
    cJSON *j = NULL;
    xs_err err;
    if (xs_client_call(a->client, "POST", url, NULL, false, &st, &j, &err) == XS_OK) {
        if (st == 410 || st == 404)
            agent_lose(a, xs_client_message(j, st));
    }
    cJSON_Delete(j);
}

static void *agent_main(void *arg)
{
    agent *a = arg;
    const double every = a->ttl_s / 3 > 0.2 ? a->ttl_s / 3 : 0.2;
    double next = mono() + every;
    while (!agent_stopping(a)) {
        if (!a->lost) {
            if (mono() >= next) {
                agent_renew(a);
                next = mono() + every;
            }
            agent_send(a);
        }
        pause_s(0.1);
    }
    return NULL;
}

/* ---- rank 0's talk with the service ----------------------------------------------------- */

enum { DECIDE_LEASE = 1, DECIDE_WAIT = 2, DECIDE_DONE = 3, DECIDE_FAIL = 4, DECIDE_STOP = 5 };

typedef struct decision {
    int kind;
    int status;        /* the exit status for DONE and FAIL */
    double wait_s;
    int64_t lease;
    double ttl_s;
    char frames[256];
} decision;

static decision ask_lease(xs_client *c, int64_t job, const char *backend, int gpus)
{
    decision d;
    memset(&d, 0, sizeof d);
    if (xs_drain_requested()) {
        d.kind = DECIDE_STOP;
        d.status = 75;
        return d;
    }
    char url[96], body[96];
    snprintf(url, sizeof url, "/v1/jobs/%" PRId64 "/leases", job);
    snprintf(body, sizeof body, "{\"backend\": \"%s\", \"gpus\": %d}", backend, gpus);
    long st = 0;
    cJSON *j = NULL;
    xs_err err;
    if (xs_client_call(c, "POST", url, body, true, &st, &j, &err) != XS_OK) {
        fprintf(stderr, "xisuan join: error: %s\n", err.msg);
        d.kind = DECIDE_FAIL;
        d.status = 1;
        return d;
    }
    const cJSON *v;
    if (st == 201) {
        d.kind = DECIDE_LEASE;
        d.lease = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "lease"));
        d.ttl_s = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "ttl_s"));
        v = cJSON_GetObjectItemCaseSensitive(j, "frames");
        snprintf(d.frames, sizeof d.frames, "%s", cJSON_IsString(v) ? v->valuestring : "");
        if (!d.lease || !d.frames[0] || !(d.ttl_s > 0)) {
            d.kind = DECIDE_FAIL;
            d.status = 1;
            fprintf(stderr, "xisuan join: error: the service's lease is malformed\n");
        }
    } else if (st == 200) {
        d.kind = DECIDE_WAIT;
        d.wait_s = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "wait_s"));
        if (!(d.wait_s > 0) || d.wait_s > 60)
            d.wait_s = 1;
    } else if (st == 410) {
        v = cJSON_GetObjectItemCaseSensitive(j, "state");
        const char *state = cJSON_IsString(v) ? v->valuestring : "over";
        d.kind = DECIDE_DONE;
        d.status = strcmp(state, "failed") == 0 ? 1 : 0;
        printf("xisuan join: job %" PRId64 " is %s\n", job, state);
    } else {
        fprintf(stderr, "xisuan join: error: lease: %ld: %s\n", st, xs_client_message(j, st));
        d.kind = DECIDE_FAIL;
        d.status = st == 401 || st == 403 || st == 404 ? 2 : 1;
    }
    cJSON_Delete(j);
    fflush(stdout);
    return d;
}

static void end_lease(xs_client *c, int64_t lease, const char *verb, const char *failed)
{
    char url[96], body[600];
    snprintf(url, sizeof url, "/v1/leases/%" PRId64 "/%s", lease, verb);
    if (failed)
        snprintf(body, sizeof body, "{\"failed\": \"%s\"}", failed);
    long st = 0;
    cJSON *j = NULL;
    xs_err err;
    if (xs_client_call(c, "POST", url, failed ? body : NULL, true, &st, &j, &err) != XS_OK)
        fprintf(stderr, "xisuan join: warning: lease %" PRId64 " %s: %s\n", lease, verb, err.msg);
    cJSON_Delete(j);
}

/* The job: its settings (a job file written for this cluster) and package. */
static xs_result prepare(xs_client *c, int64_t job, const char *out, char *job_file, size_t n,
                         char *dir, char *name, xs_err *err)
{
    char url[96];
    snprintf(url, sizeof url, "/v1/jobs/%" PRId64 "/spec", job);
    long st = 0;
    cJSON *j = NULL;
    xs_result r = xs_client_call(c, "GET", url, NULL, true, &st, &j, err);
    if (r != XS_OK)
        return r;
    if (st != 200) {
        r = xs_err_set(err, st == 404 || st == 401 || st == 403 ? XS_ERR_INVALID : XS_ERR_IO,
                       "job %" PRId64 ": %ld: %s", job, st, xs_client_message(j, st));
        cJSON_Delete(j);
        return r;
    }
    cJSON *spec = cJSON_DetachItemFromObjectCaseSensitive(j, "spec");
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(j, "package_xxh3");
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(spec, "job");
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(spec, "name");
    char base[XS_PATH_MAX], pkg[XS_PATH_MAX + 32];
    snprintf(base, sizeof base, "%s/.xisuan-join/%" PRId64, out, job);
    snprintf(pkg, sizeof pkg, "%s/package.tar.zst", base);
    if (!cJSON_IsObject(spec) || !cJSON_IsString(sum) || !xs_api_is_xxh3(sum->valuestring) ||
        !cJSON_IsString(jn) || !xs_api_plain_name(jn->valuestring, 64) || !cJSON_IsString(fn) ||
        !xs_api_plain_name(fn->valuestring, 64)) {
        r = xs_err_set(err, XS_ERR_IO, "job %" PRId64 ": the service's job spec is malformed", job);
    } else {
        snprintf(dir, XS_PATH_MAX, "%s/%s", out, jn->valuestring);
        snprintf(name, 64, "%s", fn->valuestring);
        r = xs_mkdir_p(base, err);
        if (r == XS_OK) {
            snprintf(url, sizeof url, "/v1/jobs/%" PRId64 "/package", job);
            printf("xisuan join: job %" PRId64 " (%s): fetching the package\n", job, jn->valuestring);
            fflush(stdout);
            char have[33] = "";
            if (access(pkg, F_OK) != 0 || xs_file_xxh3(pkg, have, NULL, err) != XS_OK ||
                strcmp(have, sum->valuestring) != 0)
                r = xs_client_download(c, url, pkg, sum->valuestring, err);
        }
    }
    if (r == XS_OK) {
        cJSON_AddStringToObject(spec, "package", pkg);
        cJSON_AddStringToObject(spec, "output", out);
        char *text = cJSON_PrintUnformatted(spec);
        snprintf(job_file, n, "%s/job.json", base);
        r = text ? xs_file_write_atomic(job_file, text, strlen(text), err)
                 : xs_err_set(err, XS_ERR_NOMEM, "out of memory");
        cJSON_free(text);
    }
    cJSON_Delete(spec);
    cJSON_Delete(j);
    return r;
}

/* ---- every rank ------------------------------------------------------------------------ */

static bool render_flag_ok(const char *f)
{
    static const char *const ok[] = {"--threads", "--backend", "--gpu-slots", "--bind", "--prefetch",
                                     "--retries", "--stall-timeout", "--grace", "--progress",
                                     "--progress-interval", NULL};
    for (const char *const *k = ok; *k; ++k)
        if (strcmp(f, *k) == 0)
            return true;
    return false;
}

int xs_join_main(MPI_Comm comm, int argc, char **argv)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    const char *server = getenv("XISUAN_SERVER"), *token_file = NULL, *out = "out";
    int64_t job = 0;
    int gpus = 0;
    double retry_s = 300;
    int extra_at = argc, status = 0;
    for (int i = 0; i < argc && status == 0; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--") == 0) {
            extra_at = i + 1;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            if (rank == 0)
                join_usage(stdout);
            return 0;
        }
        if (!v) {
            status = 2;
        } else if (strcmp(a, "--server") == 0) {
            server = v;
        } else if (strcmp(a, "--token-file") == 0) {
            token_file = v;
        } else if (strcmp(a, "--out") == 0) {
            out = v;
        } else if (strcmp(a, "--job") == 0) {
            if (!xs_api_uint(v, INT64_MAX / 2, &job) || job == 0)
                status = 2;
        } else if (strcmp(a, "--gpus") == 0) {
            int64_t g = 0;
            if (!xs_api_uint(v, 65536, &g))
                status = 2;
            gpus = (int)g;
        } else if (strcmp(a, "--retry") == 0) {
            char *end = NULL;
            retry_s = strtod(v, &end);
            if (*end || !(retry_s >= 0))
                status = 2;
        } else {
            status = 2;
        }
        if (status)
            fprintf(stderr, "xisuan join: error: %s: unexpected or bad value (see --help)\n", a);
        ++i;
    }
    const char *backend = "cpu"; /* what the service records of each lease */
    for (int i = extra_at; i < argc && status == 0; i += 2) {
        if (i + 1 < argc && strcmp(argv[i], "--backend") == 0 && strcmp(argv[i + 1], "embree") == 0) {
            fprintf(stderr, "xisuan join: error: -- --backend embree: Embree's traversal changes pixels, so a "
                            "job cannot take it from a joining rank\n");
            status = 2;
            break;
        }
        if (i + 1 < argc && strcmp(argv[i], "--backend") == 0 && xs_api_plain_name(argv[i + 1], 16))
            backend = argv[i + 1];
        if (!render_flag_ok(argv[i]) || i + 1 >= argc) {
            fprintf(stderr, "xisuan join: error: -- %s: join passes only render flags that do not "
                            "change pixels (see --help)\n", argv[i]);
            status = 2;
        }
    }
    if (status == 0 && (!server || !job)) {
        fprintf(stderr, "xisuan join: error: give --server URL (or XISUAN_SERVER) and --job ID\n");
        status = 2;
    }
    /* every rank agrees on the flags' verdict (they all parsed the same) */
    if (status)
        return status;
    xs_install_signal_handlers(rank == 0);

    /* rank 0: the service, the package, the job file */
    xs_client *lease_client = NULL, *agent_client = NULL;
    char job_file[XS_PATH_MAX] = "", dir[XS_PATH_MAX] = "", name[64] = "", token[160] = "";
    xs_err err;
    xs_err_clear(&err);
    if (rank == 0) {
        xs_client_options o;
        xs_client_options_default(&o);
        o.server = server;
        o.retry_s = retry_s;
        o.progress = XS_PROGRESS_NONE;
        if (token_file) {
            FILE *f = fopen(token_file, "r");
            if (!f || !fgets(token, sizeof token, f))
                status = 2;
            if (f)
                fclose(f);
            token[strcspn(token, "\r\n")] = '\0';
        } else if (getenv("XISUAN_TOKEN")) {
            snprintf(token, sizeof token, "%s", getenv("XISUAN_TOKEN"));
        }
        o.token = token;
        xs_result r = status ? xs_err_set(&err, XS_ERR_INVALID, "--token-file %s: cannot read a token",
                                          token_file)
                             : xs_client_global_init(&err);
        if (r == XS_OK)
            r = xs_client_create(&o, &lease_client, &err);
        if (r == XS_OK)
            r = xs_client_create(&o, &agent_client, &err);
        /* the job file names the package by an absolute path: the render
         * takes a relative one from the job file's folder */
        static char out_abs[XS_PATH_MAX];
        if (r == XS_OK && (r = xs_mkdir_p(out, &err)) == XS_OK && !realpath(out, out_abs))
            r = xs_err_set(&err, XS_ERR_IO, "--out %s: %s", out, strerror(errno));
        if (r == XS_OK) {
            out = out_abs;
            r = prepare(lease_client, job, out, job_file, sizeof job_file, dir, name, &err);
        }
        if (r != XS_OK) {
            fprintf(stderr, "xisuan join: error: %s\n", err.msg);
            status = r == XS_ERR_INVALID ? 2 : 1;
        }
        memset(token, 0, sizeof token);
    }
    MPI_Bcast(&status, 1, MPI_INT, 0, comm);
    MPI_Bcast(job_file, (int)sizeof job_file, MPI_CHAR, 0, comm);
    static char out_all[XS_PATH_MAX];
    if (rank == 0)
        snprintf(out_all, sizeof out_all, "%s", out);
    MPI_Bcast(out_all, (int)sizeof out_all, MPI_CHAR, 0, comm);
    out = out_all;
    int leases = 0;
    while (status == 0) {
        decision d;
        memset(&d, 0, sizeof d);
        if (rank == 0)
            d = ask_lease(lease_client, job, backend, gpus);
        MPI_Bcast(&d, (int)sizeof d, MPI_BYTE, 0, comm);
        if (d.kind == DECIDE_WAIT) {
            if (rank == 0)
                pause_s(d.wait_s);
            continue;
        }
        if (d.kind != DECIDE_LEASE) {
            status = d.status;
            break;
        }
        /* the lease: its agent on rank 0, the render on every rank */
        agent *a = NULL;
        if (rank == 0) {
            printf("xisuan join: lease %" PRId64 ": frames %s\n", d.lease, d.frames);
            fflush(stdout);
            a = calloc(1, sizeof *a);
            int *frames = malloc(MAX_LEASE_FRAMES * sizeof *frames);
            int count = 0;
            if (!a || !frames || xs_api_frames(d.frames, frames, &count, &err) != XS_OK) {
                fprintf(stderr, "xisuan join: error: lease %" PRId64 ": frames '%s'\n", d.lease, d.frames);
                free(frames);
                free(a);
                a = NULL;
            } else {
                a->client = agent_client;
                a->lease = d.lease;
                a->ttl_s = d.ttl_s;
                snprintf(a->dir, sizeof a->dir, "%s", dir);
                snprintf(a->name, sizeof a->name, "%s", name);
                a->frames = frames;
                a->count = count;
                a->sent = calloc((size_t)count, 1);
                pthread_mutex_init(&a->lock, NULL);
                if (!a->sent || pthread_create(&a->thread, NULL, agent_main, a) != 0) {
                    free(a->sent);
                    free(frames);
                    free(a);
                    a = NULL;
                }
            }
        }
        int ok = rank != 0 || a != NULL;
        MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
        if (!ok) {
            status = 1;
            break;
        }
        char *rargv[64];
        int rargc = 0;
        rargv[rargc++] = job_file;
        rargv[rargc++] = (char *)"--frames";
        rargv[rargc++] = d.frames;
        rargv[rargc++] = (char *)"--out";
        rargv[rargc++] = (char *)out;
        rargv[rargc++] = (char *)"--progress";
        rargv[rargc++] = (char *)"plain";
        for (int i = extra_at; i < argc && rargc < 62; ++i)
            rargv[rargc++] = argv[i];
        rargv[rargc] = NULL;
        const int rs = xs_farm_render(comm, rargc, rargv, NULL);
        leases++;
        if (rank == 0) {
            pthread_mutex_lock(&a->lock);
            a->stop = true;
            pthread_mutex_unlock(&a->lock);
            pthread_join(a->thread, NULL);
            if (!a->lost)
                agent_send(a); /* what finished since the agent last looked */
            int mine = 0;
            for (int i = 0; i < a->count; ++i)
                mine += a->sent[i] == 1 || a->sent[i] == 2 || a->sent[i] == 3;
            const bool lost = a->lost;
            if (rs == 0 && !lost && mine == a->count) {
                end_lease(lease_client, a->lease, "complete", NULL);
            } else if (lost) {
                printf("xisuan join: lease %" PRId64 " lost (%s); asking again\n", a->lease, a->lost_why);
                end_lease(lease_client, a->lease, "release", NULL);
            } else if (rs == 75) {
                end_lease(lease_client, a->lease, "release", NULL);
                status = 75;
            } else {
                char why[256];
                snprintf(why, sizeof why, "xisuan render exited %d on %d of %d frame(s) sent", rs, mine,
                         a->count);
                end_lease(lease_client, a->lease, "release", rs == 0 ? NULL : why);
                if (rs == 2)
                    status = 2;
            }
            fflush(stdout);
            pthread_mutex_destroy(&a->lock);
            free(a->sent);
            free(a->frames);
            free(a);
            /* a lost lease drained the render: the next one must not see it */
            if (lost && rs == 75)
                xs_drain_reset();
        }
        MPI_Bcast(&status, 1, MPI_INT, 0, comm);
    }
    if (rank == 0) {
        printf("xisuan join: job %" PRId64 ": %d lease(s) served; exit %d\n", job, leases, status);
        fflush(stdout);
    }
    xs_client_destroy(lease_client);
    xs_client_destroy(agent_client);
    return status;
}
