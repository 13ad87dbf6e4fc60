/* The service's HTTP client (libcurl), for `xisuan remote` (a studio) and
 * `xisuan join` (a cluster's rank 0).
 *
 * Requests that could not reach the service (refused, reset, timed out) or
 * that it answered 502, 503 or 504 are tried again with growing pauses for
 * retry_s seconds after the last progress, so a restart of the service or a
 * short network cut costs a pause, not the transfer. Uploads go in chunks,
 * each with its XXH3-128, from the offset the service holds (an upload of
 * the same bytes started earlier, by this run or another, resumes there);
 * downloads go to FILE.part with Range from its length, are checked against
 * their XXH3-128 and only then renamed to FILE. On a terminal, transfers draw
 * a progress bar on standard error. One thread at a time per client.
 */
#ifndef XS_CLIENT_H
#define XS_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;
typedef struct xs_client xs_client;

enum { XS_PROGRESS_NONE = 0, XS_PROGRESS_BAR = 1, XS_PROGRESS_LINES = 2 };

typedef struct xs_client_options {
    const char *server;   /* base URL, "http://host:port" or "https://..." */
    const char *token;    /* "xs1_..." */
    double retry_s;       /* keep trying an unreachable service this long [120] */
    double timeout_s;     /* a request without a body to move may take this long [900] */
    int64_t limit_rate;   /* bytes per second for transfers; 0: no limit */
    int64_t chunk_bytes;  /* upload chunk [8 MiB]; the service may allow less */
    int progress;         /* XS_PROGRESS_* */
    const char *ca_file;  /* a CA bundle for https (NULL: the system's) */
} xs_client_options;

void xs_client_options_default(xs_client_options *o);
/* libcurl's global set-up; once, before any thread starts. */
xs_result xs_client_global_init(xs_err *err);

xs_result xs_client_create(const xs_client_options *o, xs_client **out, xs_err *err);
void xs_client_destroy(xs_client *c); /* accepts NULL */

/* A request with an optional JSON body. XS_OK whenever the service answered:
 * the status in *status, the body parsed in *json (NULL when it is not JSON;
 * the caller deletes it). XS_ERR_IO when it could not be reached for
 * retry_s (or at all, without retry). */
xs_result xs_client_call(xs_client *c, const char *method, const char *path, const char *body,
                         bool retry, long *status, struct cJSON **json, xs_err *err);

/* The service's message in an error body, or a fallback. */
const char *xs_client_message(const struct cJSON *json, long status);

/* Uploads the package at path under name (resuming an earlier upload of the
 * same bytes); *upload: its id, complete. */
xs_result xs_client_upload(xs_client *c, const char *path, const char *name, int64_t *upload,
                           xs_err *err);

/* Downloads the resource at url_path to file (through file.part, resumed
 * when it exists) and checks it against xxh3 (32 hex digits; NULL or "":
 * against the service's X-Xisuan-XXH3 header, when it sends one). */
xs_result xs_client_download(xs_client *c, const char *url_path, const char *file, const char *xxh3,
                             xs_err *err);

/* PUTs the file at path to url_path with its XXH3-128 in X-Xisuan-XXH3;
 * answers as xs_client_call. */
xs_result xs_client_put_file(xs_client *c, const char *url_path, const char *path, long *status,
                             struct cJSON **json, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
