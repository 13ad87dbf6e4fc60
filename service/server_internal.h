/* The service's request handling, shared by server.c (connections, tokens,
 * responses, the log, health), server_files.c (uploads, downloads, the
 * package check) and server_jobs.c (jobs, leases, the report). Private to
 * service/. */
#ifndef XS_SERVER_INTERNAL_H
#define XS_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>
#include <xxhash.h>

#include "io/xs_file.h"
#include "service/xs_api.h"
#include "service/xs_log.h"
#include "service/xs_runner.h"
#include "service/xs_server.h"
#include "service/xs_spool.h"
#include "service/xs_store.h"

enum { BUSY_MAX = 256 };

typedef struct xs_srv {
    xs_server_config cfg;
    xs_spool spool;
    xs_store *store;
    xs_log *log;
    xs_runner *runner;
    double started;
    char self[XS_PATH_MAX];
    pthread_mutex_t busy_lock;   /* uploads with a request writing to them */
    int64_t busy[BUSY_MAX];
    int nbusy;
    pthread_mutex_t commit_lock; /* a frame's file moved into place, then recorded */
} xs_srv;

/* What a streamed body is for. */
enum { STREAM_NONE = 0, STREAM_UPLOAD, STREAM_FRAME, STREAM_PREVIEW };

typedef struct xs_req {
    xs_srv *srv;
    struct MHD_Connection *c;
    char method[8];
    char url[256];
    xs_route route;
    xs_principal who;
    double t0;
    int status;          /* what was answered, for the log */
    char error[48];
    char note[160];      /* a detail for the log line (never a secret) */
    /* a JSON body */
    char *body;
    size_t body_len;
    bool body_too_large;
    /* a streamed body: written to fd as it arrives, hashed on the way */
    int stream;
    int fd;
    char tmp[XS_PATH_MAX];
    int64_t offset, expect, got;
    XXH3_state_t *hash;
    char want_xxh3[33];
    int write_errno;
    bool holds_busy;
    xs_upload upload;
    xs_lease_row lease;
    xs_job_row job;
} xs_req;

/* ---- responses (server.c) ---- */
enum MHD_Result xs_respond(xs_req *q, int status, const char *type, char *body, size_t len);
/* {"error": code, "message": ...}; code a short word (not_found, quota, ...). */
enum MHD_Result xs_respond_error(xs_req *q, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sends doc (and deletes it). */
struct cJSON;
enum MHD_Result xs_respond_json(xs_req *q, int status, struct cJSON *doc);
/* The header value, or NULL. */
const char *xs_header(xs_req *q, const char *name);

/* ---- server_files.c ---- */
/* First call of a streamed PUT: checks it, opens its file; answers and
 * returns false when it refuses. */
bool xs_stream_begin(xs_req *q);
void xs_stream_data(xs_req *q, const char *data, size_t n);
enum MHD_Result xs_stream_end(xs_req *q);
/* The connection ended before the body did: undo what was written. */
void xs_stream_abort(xs_req *q);
enum MHD_Result xs_upload_create(xs_req *q);
enum MHD_Result xs_upload_show(xs_req *q);
enum MHD_Result xs_download_frame(xs_req *q, bool preview);
enum MHD_Result xs_download_package(xs_req *q);
/* Runs `xisuan pack --check` on path: XS_OK with the manifest's frames (or
 * "") in frames, or XS_ERR_INVALID with the checker's message. */
xs_result xs_package_check(xs_srv *s, const char *path, char *frames, size_t n, xs_err *err);
/* Removes upload files the database no longer lists as live, and job folders
 * without a job. */
void xs_spool_clean(xs_srv *s);

/* ---- server_jobs.c ---- */
enum MHD_Result xs_job_create(xs_req *q);
enum MHD_Result xs_job_list(xs_req *q);
enum MHD_Result xs_job_show(xs_req *q);
enum MHD_Result xs_job_cancel(xs_req *q);
enum MHD_Result xs_job_spec(xs_req *q);
enum MHD_Result xs_job_report(xs_req *q);
enum MHD_Result xs_lease_grant(xs_req *q);
enum MHD_Result xs_lease_renew(xs_req *q);
enum MHD_Result xs_lease_end(xs_req *q, const char *state);
/* The job when it exists and q's principal may see it (its studio; a
 * cluster: lease jobs); answers 404 and returns false otherwise. */
bool xs_job_visible(xs_req *q, int64_t id, xs_job_row *j);

#endif
