/* The service's database: studios and clusters (principals), uploads, jobs,
 * frames and leases, in SQLite (Debian's libsqlite3) at SPOOL/xisuan.db.
 *
 * Write-ahead logging (readers never block the writer), synchronous=FULL (a
 * committed row survives a crash or power loss), foreign keys on. One
 * connection, one writer: every call takes the store's lock, so the service's
 * threads never write at once; each change that spans rows (an upload checked
 * against its quota and inserted, a job and its frames, a lease and the
 * frames it takes) is one transaction. Admin commands (`xisuan serve studio
 * add`) open their own connection and take SQLite's write lock for a moment;
 * the service waits for it (busy timeout). All SQL of the service is here.
 *
 * Times are Unix seconds (wall clock): leases must expire at the same moment
 * across a restart of the service. Shareable between threads after open.
 */
#ifndef XS_STORE_H
#define XS_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "io/xs_result.h"
#include "service/xs_token.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_store xs_store;

xs_result xs_store_open(const char *path, xs_store **out, xs_err *err);
void xs_store_close(xs_store *st); /* accepts NULL */

/* A quick read that proves the database answers (the health endpoint). */
xs_result xs_store_ping(xs_store *st, xs_err *err);

/* ---- principals: studios and clusters -------------------------------------- */

enum { XS_PRINCIPAL_STUDIO = 0, XS_PRINCIPAL_CLUSTER = 1 };

typedef struct xs_principal {
    int64_t id;
    int kind; /* XS_PRINCIPAL_* */
    char name[64];
    uint8_t salt[XS_TOKEN_SALT], hash[XS_TOKEN_HASH];
    int64_t quota_bytes;     /* spool bytes: uploads, packages, frames */
    int quota_jobs;          /* jobs in flight */
    double quota_gpu_hours;  /* GPU-hours charged and reserved */
    double gpu_hours_used;
    char account[64];        /* the Slurm account its jobs are charged to, or "" */
    bool disabled;
} xs_principal;

/* Adds a studio or cluster named name and makes its token (text in token,
 * shown once). Refuses a name in use. */
xs_result xs_store_principal_add(xs_store *st, const xs_principal *p, char token[XS_TOKEN_TEXT],
                                 xs_err *err);
/* Replaces a principal's token (the old one stops working at once). */
xs_result xs_store_principal_rotate(xs_store *st, const char *name, char token[XS_TOKEN_TEXT],
                                    xs_err *err);
/* Sets quotas, account and disabled of an existing principal by name. */
xs_result xs_store_principal_update(xs_store *st, const xs_principal *p, xs_err *err);
/* found is false when no principal has this id (or name). */
xs_result xs_store_principal_get(xs_store *st, int64_t id, xs_principal *p, bool *found, xs_err *err);
xs_result xs_store_principal_by_name(xs_store *st, const char *name, xs_principal *p, bool *found,
                                     xs_err *err);
/* Prints every principal with its quotas and usage, one a line. */
xs_result xs_store_principal_print(xs_store *st, FILE *f, xs_err *err);

typedef struct xs_usage {
    int64_t bytes;            /* uploads (declared sizes) + packages + frames */
    int jobs_in_flight;
    double gpu_hours_used, gpu_hours_reserved; /* reserved: in-flight Slurm jobs' requests */
} xs_usage;
xs_result xs_store_usage(xs_store *st, int64_t studio, xs_usage *u, xs_err *err);

/* ---- uploads ------------------------------------------------------------------ */

typedef struct xs_upload {
    int64_t id, studio;
    char name[64];
    int64_t size, offset;
    char xxh3[33];
    char state[12]; /* open, complete, used (by a job), failed (dropped) */
    int64_t job;    /* the job that took it (state used) */
} xs_upload;

typedef enum xs_store_verdict {
    XS_STORE_DONE = 0,
    XS_STORE_QUOTA,     /* a quota would be exceeded (reason in err) */
    XS_STORE_CONFLICT,  /* the row is not in a state that allows it */
    XS_STORE_NOT_FOUND,
    XS_STORE_GONE       /* a lease lost to another cluster, or its job ended */
} xs_store_verdict;

/* Starts an upload for studio, or resumes the studio's unfinished upload of
 * the same size and checksum (*resumed). Refused (XS_STORE_QUOTA) when its
 * size would take the studio over quota_bytes; nothing is written then. */
xs_result xs_store_upload_open(xs_store *st, int64_t studio, const char *name, int64_t size,
                               const char *xxh3, int64_t quota_bytes, double now, xs_upload *u,
                               bool *resumed, xs_store_verdict *v, xs_err *err);
xs_result xs_store_upload_get(xs_store *st, int64_t id, xs_upload *u, bool *found, xs_err *err);
xs_result xs_store_upload_set(xs_store *st, int64_t id, int64_t offset, const char *state,
                              double now, xs_err *err);
/* Uploads that are open or complete (not yet taken by a job): their ids, for
 * the spool's clean-up at start; *ids malloc'd. */
xs_result xs_store_upload_live(xs_store *st, int64_t **ids, int *n, xs_err *err);

/* ---- jobs --------------------------------------------------------------------- */

typedef struct xs_job_row {
    int64_t id, studio;
    char studio_name[64], account[64];
    char job[64], name[64];
    int mode; /* XS_JOB_MODE_* (xs_api.h) */
    char state[16]; /* queued, submitting, submitted, running, cancelling, completed, failed, cancelled */
    char message[512];
    char slurm_id[32];
    int nodes, ranks_per_node, gpus_per_node, cpus_per_rank;
    char time[24];
    int64_t package_bytes, output_bytes;
    char package_xxh3[33];
    int frame_count, frames_done, lease_failures;
    double gpu_hours_reserved, gpu_hours_used, created, updated;
} xs_job_row;

typedef struct xs_frame_row {
    int frame, idx;
    bool done;
    int64_t lease;
    char by[64];      /* "slurm 12345" or a cluster's name */
    char file[96];    /* the frame's file name in the job folder */
    char preview[96]; /* its PNG preview's, or "" */
    int64_t bytes;
    char xxh3[33];
    double done_at;
} xs_frame_row;

typedef struct xs_lease_row {
    int64_t id, job, cluster;
    char cluster_name[64];
    char frames[256]; /* the frame list, as --frames takes it */
    int frame_count, committed, gpus;
    char backend[16];
    char state[12];   /* active, completed, released, lost */
    double granted, expires, ended, last_commit;
} xs_lease_row;

/* Inside job creation's transaction, after the job's row is in: the caller
 * lays the job's files out (package, job file); a failure undoes the row. */
typedef xs_result (*xs_store_job_prepare)(void *ctx, int64_t job_id, xs_err *err);

/* Creates a job from an upload of studio over frames (frame numbers in
 * render order), checking the studio's quotas (jobs in flight, GPU-hours:
 * used + reserved + this job's reservation) and that the upload is complete
 * and not taken. XS_STORE_CONFLICT when it was taken (*job_id: by which job),
 * XS_STORE_QUOTA over a quota; nothing is written then. */
xs_result xs_store_job_create(xs_store *st, xs_job_row *job, int64_t upload, const int *frames,
                              int frame_count, const xs_principal *studio,
                              xs_store_job_prepare prepare, void *ctx, double now, int64_t *job_id,
                              xs_store_verdict *v, xs_err *err);
xs_result xs_store_job_get(xs_store *st, int64_t id, xs_job_row *j, bool *found, xs_err *err);
/* The studio's jobs (studio 0: every job), newest first; *rows malloc'd. */
xs_result xs_store_job_list(xs_store *st, int64_t studio, xs_job_row **rows, int *n, xs_err *err);
/* Jobs in these states (a NULL-terminated list); *rows malloc'd. */
xs_result xs_store_job_in_states(xs_store *st, const char *const *states, xs_job_row **rows,
                                 int *n, xs_err *err);
/* Sets state and message (NULL: unchanged); slurm_id when not NULL. Frees
 * the GPU-hour reservation when the state ends the job. */
xs_result xs_store_job_set_state(xs_store *st, int64_t id, const char *state, const char *message,
                                 const char *slurm_id, double now, xs_err *err);
/* Charges GPU-hours to the job and its studio. */
xs_result xs_store_job_charge(xs_store *st, int64_t id, double gpu_hours, xs_err *err);
/* Counts a cluster's failed lease of the job; returns the count so far. */
xs_result xs_store_job_lease_failed(xs_store *st, int64_t id, int *failures, xs_err *err);

xs_result xs_store_frames(xs_store *st, int64_t job, xs_frame_row **rows, int *n, xs_err *err);
xs_result xs_store_frame_get(xs_store *st, int64_t job, int frame, xs_frame_row *f, bool *found,
                             xs_err *err);
/* Commits a frame once: when it is not done and (lease 0, or the frame's
 * lease is this one). *v: DONE, CONFLICT (done already, by anyone), GONE (the
 * frame belongs to another lease now), NOT_FOUND. A lease job whose last
 * frame this was becomes completed (*job_done). */
xs_result xs_store_frame_commit(xs_store *st, int64_t job, int frame, int64_t lease,
                                const char *by, const char *file, int64_t bytes, const char *xxh3,
                                double now, xs_store_verdict *v, bool *job_done, xs_err *err);
xs_result xs_store_frame_set_preview(xs_store *st, int64_t job, int frame, const char *file,
                                     int64_t bytes, xs_err *err);

/* ---- leases -------------------------------------------------------------------- */

typedef struct xs_lease_terms {
    double ttl_s;      /* a lease lives this long unless renewed */
    double target_s;   /* xs_lease_ask.target_s */
    int max_frames;
    double active_s;   /* a cluster counts as active this long after it was last heard */
} xs_lease_terms;

/* A cluster asks for frames of a lease job: expired leases give their
 * uncommitted frames back, the policy (xs_lease.h) sizes the share, and the
 * first available frames in render order are leased. *v: DONE with a lease
 * (l->frame_count > 0) or none to wait for (0), GONE when the job is over
 * (*job_state says how), NOT_FOUND when it is not a lease job, QUOTA when its
 * studio has no GPU-hours left. *wait_s: when to ask again. */
xs_result xs_store_lease_grant(xs_store *st, int64_t job, const xs_principal *cluster,
                               const char *backend, int gpus, const xs_lease_terms *terms,
                               double now, xs_lease_row *l, double *wait_s, char job_state[16],
                               xs_store_verdict *v, xs_err *err);
xs_result xs_store_lease_get(xs_store *st, int64_t id, xs_lease_row *l, bool *found, xs_err *err);
/* Extends an active lease to now + ttl_s. An expired lease is renewed too as
 * long as no other lease took any of its frames; otherwise it is lost
 * (*v = GONE), as it is when its job ended. */
xs_result xs_store_lease_renew(xs_store *st, int64_t id, double ttl_s, double now, xs_lease_row *l,
                               xs_store_verdict *v, xs_err *err);
/* Ends a lease: "completed" or "released"; its uncommitted frames become
 * available at once, its measured rate updates the cluster's, and its
 * GPU-hours (gpus x hours held) are charged to the job's studio. */
xs_result xs_store_lease_end(xs_store *st, int64_t id, const char *state, double now,
                             xs_lease_row *l, xs_store_verdict *v, xs_err *err);
/* The job's leases, oldest first; *rows malloc'd. */
xs_result xs_store_leases(xs_store *st, int64_t job, xs_lease_row **rows, int *n, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
