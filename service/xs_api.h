/* The service's request parsing that is ours (HTTP itself is libmicrohttpd's):
 * which route a method and URL name, the JSON bodies of uploads, jobs and
 * leases, the Range and number headers, Slurm time limits, checksums' text.
 *
 * Pure (no files, no database, no clock) and strict: unknown fields are
 * refused by name, every number is range-checked, names that become file
 * names are plain names (no '/', no '..'); messages name the field and the
 * reason. tests/fuzz/fuzz_api.c feeds it arbitrary bytes. Thread-safe.
 *
 * The routes (docs/service.md#api):
 *   GET  /v1/health
 *   POST /v1/uploads                       GET|PUT /v1/uploads/{id}
 *   GET|POST /v1/jobs                      GET /v1/jobs/{id}
 *   POST /v1/jobs/{id}/cancel              GET /v1/jobs/{id}/report.html
 *   GET  /v1/jobs/{id}/frames/{frame}      GET /v1/jobs/{id}/frames/{frame}/preview
 *   GET  /v1/jobs/{id}/package             GET /v1/jobs/{id}/spec
 *   POST /v1/jobs/{id}/leases
 *   POST /v1/leases/{id}/renew|complete|release
 *   PUT  /v1/leases/{id}/frames/{frame}    PUT /v1/leases/{id}/frames/{frame}/preview
 */
#ifndef XS_API_H
#define XS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xs_route_kind {
    XS_ROUTE_NONE = 0, /* no such resource: 404 */
    XS_ROUTE_HEALTH,
    XS_ROUTE_UPLOADS,
    XS_ROUTE_UPLOAD,
    XS_ROUTE_JOBS,
    XS_ROUTE_JOB,
    XS_ROUTE_JOB_CANCEL,
    XS_ROUTE_JOB_FRAME,
    XS_ROUTE_JOB_PREVIEW,
    XS_ROUTE_JOB_REPORT,
    XS_ROUTE_JOB_PACKAGE,
    XS_ROUTE_JOB_SPEC,
    XS_ROUTE_JOB_LEASES,
    XS_ROUTE_LEASE_RENEW,
    XS_ROUTE_LEASE_COMPLETE,
    XS_ROUTE_LEASE_RELEASE,
    XS_ROUTE_LEASE_FRAME,
    XS_ROUTE_LEASE_PREVIEW
} xs_route_kind;

typedef struct xs_route {
    xs_route_kind kind;
    bool method_ok; /* false: the resource exists, the method does not (405) */
    int64_t id;     /* the upload, job or lease */
    int frame;      /* -1 when the route has none */
} xs_route;

/* Routes a request; url is the path without the query string. */
void xs_api_route(const char *method, const char *url, xs_route *r);

enum { XS_API_BODY_MAX = 65536 }; /* the largest JSON body a request may carry */

/* POST /v1/uploads: {"name": "shot.tar.zst", "size": N, "xxh3": "<32 hex>"} */
typedef struct xs_upload_request {
    char name[64];
    int64_t size;
    char xxh3[33];
} xs_upload_request;
xs_result xs_api_upload_request(const char *body, size_t len, xs_upload_request *req, xs_err *err);

enum { XS_JOB_MODE_SLURM = 0, XS_JOB_MODE_LEASE = 1 };

/* POST /v1/jobs: the fields of a job file (docs/operations.md) but "package"
 * and "output", which the service sets, plus "upload" (the upload id, its
 * package), "job" (required), "mode" ("slurm" or "lease") and, for slurm,
 * "slurm": {"nodes", "ranks_per_node", "gpus_per_node", "cpus_per_rank",
 * "time"}. */
typedef struct xs_job_request {
    int64_t upload;
    char job[64];
    char name[64];       /* frame files' base name: given, or the job's */
    int mode;            /* XS_JOB_MODE_* */
    int nodes, ranks_per_node, gpus_per_node, cpus_per_rank;
    char time[24];       /* Slurm's form */
    double time_s;       /* the same in seconds */
    char frames[256];    /* as given, or "" (the manifest's, else 1) */
} xs_job_request;
/* Parses and checks a job request; default_time is the Slurm time limit when
 * the request gives none. */
xs_result xs_api_job_request(const char *body, size_t len, const char *default_time,
                             xs_job_request *req, xs_err *err);
/* The job file for the render (malloc'd JSON text): the request's job-file
 * fields with "schema", "package", "output", "job", "name" and "frames" set.
 * Checked as `xisuan render` checks a job file. */
xs_result xs_api_job_file(const char *body, size_t len, const xs_job_request *req,
                          const char *package, const char *output, const char *frames,
                          char **text, xs_err *err);

/* A frame list as --frames takes it ("1-24,30x2"), into frames (room for
 * XS_API_FRAMES_MAX); the render's own parser, one call at a time. */
enum { XS_API_FRAMES_MAX = 10000 };
xs_result xs_api_frames(const char *spec, int *frames, int *count, xs_err *err);

/* POST /v1/leases/{id}/release: {"failed": "why"} when the cluster could not
 * render the frames (optional; why is "" otherwise). */
xs_result xs_api_lease_end(const char *body, size_t len, char *why, size_t n, xs_err *err);

/* POST /v1/jobs/{id}/leases: {"backend": "cpu", "gpus": N} (both optional) */
typedef struct xs_lease_request {
    char backend[16];
    int gpus;
} xs_lease_request;
xs_result xs_api_lease_request(const char *body, size_t len, xs_lease_request *req, xs_err *err);

/* A Range header against a resource of size bytes: 0 whole (no header, or
 * one this service does not serve partially: several ranges), 1 partial
 * (*start, *count), -1 not satisfiable (416). Forms: bytes=A-, bytes=A-B,
 * bytes=-N. */
int xs_api_range(const char *header, int64_t size, int64_t *start, int64_t *count);

/* A decimal integer header value in [0, max]; false otherwise. */
bool xs_api_uint(const char *text, int64_t max, int64_t *out);

/* 32 lowercase hex digits (an XXH3-128 checksum's text). */
bool xs_api_is_xxh3(const char *text);

/* A Slurm time limit (M, M:S, H:M:S, D-H, D-H:M, D-H:M:S) in seconds; false
 * when it is none of those. */
bool xs_api_slurm_time(const char *text, double *seconds);

/* A name that becomes a file name: as --job takes it (letters, digits, '.',
 * '_', '-', not starting with '.'), 1 to n-1 characters. */
bool xs_api_plain_name(const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif
