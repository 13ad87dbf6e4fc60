/* `xisuan serve` (see xs_server.h): the libmicrohttpd daemon and its bounds,
 * each request's walk (route, token, what the principal may do, body, the
 * handler), the responses, the request log, the health check, start and stop.
 *
 * A request is refused at its first call, before any of its body is read,
 * whenever its headers suffice (no or a wrong token: 401; a studio on the
 * cluster API or the reverse: 403; a body over its bound: 413), so a refused
 * upload writes nothing; clients that send `Expect: 100-continue` (curl does
 * for large bodies) are refused before they send it.
 */
#include "service/server_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/xs_json.h"
#include "service/xs_token.h"

void xs_server_config_defaults(xs_server_config *c)
{
    memset(c, 0, sizeof *c);
    c->listen = "127.0.0.1:8470";
    c->max_package_bytes = (int64_t)16 << 30;
    c->max_chunk_bytes = (int64_t)256 << 20;
    c->client_timeout_s = 60;
    c->max_connections = 512;
    c->max_connections_per_ip = 128;
    c->check_timeout_s = 600;
    c->launcher = "srun";
    c->default_time = "4:00:00";
    c->max_nodes = 1024;
    c->poll_s = 2.0;
    c->lease_ttl_s = 60;
    c->lease_target_s = 300;
    c->lease_max_frames = 1000;
    c->lease_max_failures = 3;
}

/* ---- responses ---------------------------------------------------------------- */

const char *xs_header(xs_req *q, const char *name)
{
    return MHD_lookup_connection_value(q->c, MHD_HEADER_KIND, name);
}

enum MHD_Result xs_respond(xs_req *q, int status, const char *type, char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"xisuan\"");
    q->status = status;
    enum MHD_Result ok = MHD_queue_response(q->c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

enum MHD_Result xs_respond_json(xs_req *q, int status, cJSON *doc)
{
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (!text)
        return MHD_NO;
    size_t n = strlen(text);
    char *body = malloc(n + 2);
    if (!body) {
        cJSON_free(text);
        return MHD_NO;
    }
    memcpy(body, text, n);
    body[n] = '\n';
    body[n + 1] = '\0';
    cJSON_free(text);
    return xs_respond(q, status, "application/json", body, n + 1);
}

enum MHD_Result xs_respond_error(xs_req *q, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(q->error, sizeof q->error, "%s", code);
    snprintf(q->note, sizeof q->note, "%s", msg);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "error", code);
    cJSON_AddStringToObject(doc, "message", msg);
    return xs_respond_json(q, status, doc);
}

/* ---- health --------------------------------------------------------------------- */

static enum MHD_Result health(xs_req *q)
{
    xs_srv *s = q->srv;
    xs_err err;
    xs_result db = xs_store_ping(s->store, &err);
    int64_t free_bytes = xs_spool_free_bytes(&s->spool);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "status", db == XS_OK && free_bytes >= 0 ? "ok" : "failing");
    cJSON_AddStringToObject(doc, "version", XS_VERSION);
    cJSON_AddNumberToObject(doc, "uptime_s", xs_wall_now() - s->started);
    cJSON_AddStringToObject(doc, "database", db == XS_OK ? "ok" : err.msg);
    cJSON_AddNumberToObject(doc, "spool_free_bytes", (double)free_bytes);
    return xs_respond_json(q, db == XS_OK && free_bytes >= 0 ? MHD_HTTP_OK
                                                              : MHD_HTTP_SERVICE_UNAVAILABLE, doc);
}

/* ---- the walk of a request ------------------------------------------------------ */

/* Who sent it: the principal of a valid token, or an answer of 401. */
static bool authenticate(xs_req *q)
{
    const char *h = xs_header(q, "Authorization");
    int64_t id = 0;
    const char *secret = NULL;
    if (!h) {
        xs_respond_error(q, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                         "no token: send 'Authorization: Bearer <token>'");
        return false;
    }
    if (strncmp(h, "Bearer ", 7) != 0 || !xs_token_parse(h + 7, &id, &secret)) {
        xs_respond_error(q, MHD_HTTP_UNAUTHORIZED, "unauthorized", "malformed token");
        return false;
    }
    bool found = false;
    xs_err err;
    if (xs_store_principal_get(q->srv->store, id, &q->who, &found, &err) != XS_OK) {
        xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
        return false;
    }
    if (!found || !xs_token_check(secret, q->who.salt, q->who.hash) || q->who.disabled) {
        memset(&q->who, 0, sizeof q->who);
        xs_respond_error(q, MHD_HTTP_UNAUTHORIZED, "unauthorized", "wrong or revoked token");
        return false;
    }
    return true;
}

/* What each kind of principal may call. */
static bool allowed(xs_req *q)
{
    const bool cluster = q->who.kind == XS_PRINCIPAL_CLUSTER;
    switch (q->route.kind) {
    case XS_ROUTE_JOB_PACKAGE:
    case XS_ROUTE_JOB_SPEC:
        return true;
    case XS_ROUTE_JOB_LEASES:
    case XS_ROUTE_LEASE_RENEW:
    case XS_ROUTE_LEASE_COMPLETE:
    case XS_ROUTE_LEASE_RELEASE:
    case XS_ROUTE_LEASE_FRAME:
    case XS_ROUTE_LEASE_PREVIEW:
        if (!cluster)
            xs_respond_error(q, MHD_HTTP_FORBIDDEN, "forbidden", "the lease API is for clusters' tokens");
        return cluster;
    default:
        if (cluster)
            xs_respond_error(q, MHD_HTTP_FORBIDDEN, "forbidden", "a cluster's token may only lease work");
        return !cluster;
    }
}

static bool has_body(const xs_route *r)
{
    return r->kind == XS_ROUTE_UPLOADS || r->kind == XS_ROUTE_JOBS || r->kind == XS_ROUTE_JOB_LEASES ||
           r->kind == XS_ROUTE_LEASE_COMPLETE || r->kind == XS_ROUTE_LEASE_RELEASE;
}

static enum MHD_Result dispatch(xs_req *q)
{
    const bool get = strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0;
    switch (q->route.kind) {
    case XS_ROUTE_HEALTH: return health(q);
    case XS_ROUTE_UPLOADS: return xs_upload_create(q);
    case XS_ROUTE_UPLOAD: return get ? xs_upload_show(q) : xs_stream_end(q);
    case XS_ROUTE_JOBS: return get ? xs_job_list(q) : xs_job_create(q);
    case XS_ROUTE_JOB: return xs_job_show(q);
    case XS_ROUTE_JOB_CANCEL: return xs_job_cancel(q);
    case XS_ROUTE_JOB_FRAME: return xs_download_frame(q, false);
    case XS_ROUTE_JOB_PREVIEW: return xs_download_frame(q, true);
    case XS_ROUTE_JOB_REPORT: return xs_job_report(q);
    case XS_ROUTE_JOB_PACKAGE: return xs_download_package(q);
    case XS_ROUTE_JOB_SPEC: return xs_job_spec(q);
    case XS_ROUTE_JOB_LEASES: return xs_lease_grant(q);
    case XS_ROUTE_LEASE_RENEW: return xs_lease_renew(q);
    case XS_ROUTE_LEASE_COMPLETE: return xs_lease_end(q, "completed");
    case XS_ROUTE_LEASE_RELEASE: return xs_lease_end(q, "released");
    case XS_ROUTE_LEASE_FRAME:
    case XS_ROUTE_LEASE_PREVIEW: return xs_stream_end(q);
    case XS_ROUTE_NONE: break;
    }
    return xs_respond_error(q, MHD_HTTP_NOT_FOUND, "not_found", "no such resource");
}

/* The first call: everything the headers decide. False when answered. */
static bool first_call(xs_req *q)
{
    if (q->route.kind == XS_ROUTE_NONE) {
        xs_respond_error(q, MHD_HTTP_NOT_FOUND, "not_found", "no such resource");
        return false;
    }
    if (!q->route.method_ok) {
        xs_respond_error(q, MHD_HTTP_METHOD_NOT_ALLOWED, "method", "%s is not allowed here", q->method);
        return false;
    }
    if (q->route.kind == XS_ROUTE_HEALTH)
        return true;
    if (!authenticate(q) || !allowed(q))
        return false;
    if (q->route.kind == XS_ROUTE_LEASE_FRAME || q->route.kind == XS_ROUTE_LEASE_PREVIEW ||
        (q->route.kind == XS_ROUTE_UPLOAD && strcmp(q->method, "PUT") == 0))
        return xs_stream_begin(q);
    const char *cl = xs_header(q, "Content-Length");
    int64_t n = 0;
    if (cl && (!xs_api_uint(cl, INT64_MAX / 2, &n) || n > XS_API_BODY_MAX)) {
        xs_respond_error(q, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                         "a request body may hold at most %d bytes", XS_API_BODY_MAX);
        return false;
    }
    if (!has_body(&q->route) && n > 0) {
        xs_respond_error(q, MHD_HTTP_BAD_REQUEST, "bad_request", "this request takes no body");
        return false;
    }
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls)
{
    (void)version;
    xs_req *q = *con_cls;
    if (!q) {
        q = calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        q->srv = cls;
        q->c = c;
        q->fd = -1;
        q->t0 = xs_wall_now();
        snprintf(q->method, sizeof q->method, "%s", method);
        snprintf(q->url, sizeof q->url, "%s", url);
        *con_cls = q;
        if (strlen(url) >= sizeof q->url)
            memset(&q->route, 0, sizeof q->route);
        else
            xs_api_route(method, url, &q->route);
        if (!first_call(q))
            return q->status ? MHD_YES : MHD_NO;
        return MHD_YES;
    }
    q->c = c;
    if (*data_size > 0) {
        if (q->status) { /* answered already: drop the rest */
            *data_size = 0;
            return MHD_YES;
        }
        if (q->stream) {
            xs_stream_data(q, data, *data_size);
        } else if (q->body_len + *data_size > XS_API_BODY_MAX) {
            q->body_too_large = true; /* a chunked body over the bound */
        } else {
            char *g = realloc(q->body, q->body_len + *data_size + 1);
            if (!g)
                return MHD_NO;
            q->body = g;
            memcpy(q->body + q->body_len, data, *data_size);
            q->body_len += *data_size;
            q->body[q->body_len] = '\0';
        }
        *data_size = 0;
        return MHD_YES;
    }
    if (q->status)
        return MHD_YES;
    if (q->body_too_large)
        return xs_respond_error(q, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                "a request body may hold at most %d bytes", XS_API_BODY_MAX);
    return dispatch(q);
}

static const char *termination(enum MHD_RequestTerminationCode t)
{
    switch (t) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK: return "completed";
    case MHD_REQUEST_TERMINATED_WITH_ERROR: return "error";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED: return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN: return "shutdown";
    case MHD_REQUEST_TERMINATED_READ_ERROR: return "read_error";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT: return "client_abort";
    }
    return "other";
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c;
    xs_req *q = *con_cls;
    if (!q)
        return;
    if (q->stream || q->holds_busy || q->fd >= 0)
        xs_stream_abort(q); /* nothing when the stream was finished and answered */
    char url[600], note[400], who[140], extra[600] = "";
    xs_json_escape(q->url, url, sizeof url);
    xs_json_escape(q->note, note, sizeof note);
    xs_json_escape(q->who.name, who, sizeof who);
    if (q->error[0])
        snprintf(extra, sizeof extra, ", \"error\": \"%s\", \"detail\": \"%s\"", q->error, note);
    else if (note[0])
        snprintf(extra, sizeof extra, ", \"detail\": \"%s\"", note);
    const bool ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    xs_log_emit(q->srv->log, ok && q->status < 500 ? "info" : "warn", "request",
                "\"method\": \"%s\", \"path\": \"%s\", \"status\": %d, \"who\": \"%s\", "
                "\"bytes_in\": %" PRId64 ", \"ms\": %.1f, \"end\": \"%s\"%s",
                q->method, url, q->status, who, q->got + (int64_t)q->body_len,
                (xs_wall_now() - q->t0) * 1e3, termination(toe), extra);
    free(q->body);
    if (q->hash)
        XXH3_freeState(q->hash);
    free(q);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[1024], esc[2100];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    xs_json_escape(msg, esc, sizeof esc);
    xs_log_emit(((xs_srv *)cls)->log, "warn", "http", "\"message\": \"%s\"", esc);
}

/* ---- start and stop -------------------------------------------------------------- */

static xs_result parse_listen(const char *spec, struct sockaddr_in *sa, xs_err *err)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    int64_t port = 0;
    if (!colon || (size_t)(colon - spec) >= sizeof host || !xs_api_uint(colon + 1, 65535, &port))
        return xs_err_set(err, XS_ERR_INVALID, "--listen: expected ADDRESS:PORT (e.g. 127.0.0.1:8470), got '%s'", spec);
    snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return xs_err_set(err, XS_ERR_INVALID, "--listen: '%s' is not an IPv4 address", host);
    return XS_OK;
}

xs_result xs_server_run(const xs_server_config *cfg, xs_err *err)
{
    xs_srv *s = calloc(1, sizeof *s);
    if (!s)
        return xs_err_set(err, XS_ERR_NOMEM, "out of memory");
    s->cfg = *cfg;
    s->started = xs_wall_now();
    pthread_mutex_init(&s->busy_lock, NULL);
    pthread_mutex_init(&s->commit_lock, NULL);
    struct MHD_Daemon *d = NULL;
    struct sockaddr_in sa;
    char db[XS_PATH_MAX];
    xs_result r = xs_token_init(err);
    if (r == XS_OK)
        r = parse_listen(cfg->listen, &sa, err);
    if (r == XS_OK)
        r = xs_log_open(cfg->log_path, &s->log, err);
    if (r == XS_OK)
        r = xs_spool_init(&s->spool, cfg->spool, err);
    if (r == XS_OK) {
        snprintf(db, sizeof db, "%s/xisuan.db", s->spool.root);
        r = xs_store_open(db, &s->store, err);
    }
    if (r == XS_OK) {
        if (cfg->self) {
            snprintf(s->self, sizeof s->self, "%s", cfg->self);
        } else {
            ssize_t k = readlink("/proc/self/exe", s->self, sizeof s->self - 1);
            if (k <= 0)
                r = xs_err_set(err, XS_ERR_IO, "cannot find this executable: %s", strerror(errno));
            else
                s->self[k] = '\0';
        }
    }
    /* the signals that stop the service go to this thread alone (sigwait):
     * block them before any thread starts */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (r == XS_OK)
        xs_spool_clean(s);
    if (r == XS_OK) {
        xs_runner_config rc = {.store = s->store,
                               .spool = &s->spool,
                               .log = s->log,
                               .self = s->self,
                               .launcher = cfg->launcher,
                               .partition = cfg->partition,
                               .poll_s = cfg->poll_s};
        r = xs_runner_start(&rc, &s->runner, err);
    }
    if (r == XS_OK) {
        d = MHD_start_daemon(
            MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                MHD_USE_ERROR_LOG,
            0, NULL, NULL, on_request, s,
            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->client_timeout_s,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)cfg->max_connections_per_ip,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(512 * 1024),
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
            MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
            MHD_OPTION_END);
        if (!d)
            r = xs_err_set(err, XS_ERR_IO, "--listen %s: cannot serve there: %s", cfg->listen,
                           errno ? strerror(errno) : "libmicrohttpd refused");
    }
    if (r == XS_OK) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        unsigned port = info ? info->port : 0;
        char spool[2 * XS_PATH_MAX];
        xs_json_escape(s->spool.root, spool, sizeof spool);
        xs_log_emit(s->log, "info", "start",
                    "\"version\": \"%s\", \"listen\": \"%s\", \"port\": %u, \"spool\": \"%s\", "
                    "\"pid\": %d, \"lease_ttl_s\": %.1f",
                    XS_VERSION, cfg->listen, port, spool, (int)getpid(), cfg->lease_ttl_s);
        if (cfg->port_file) {
            char text[16];
            int n = snprintf(text, sizeof text, "%u\n", port);
            r = xs_file_write_atomic(cfg->port_file, text, (size_t)n, err);
        }
    }
    if (r == XS_OK) {
        int sig = 0;
        while (sigwait(&stop, &sig) != 0) {
        }
        xs_log_emit(s->log, "info", "stop", "\"signal\": %d", sig);
    }
    if (d)
        MHD_stop_daemon(d);
    xs_runner_stop(s->runner);
    xs_store_close(s->store);
    xs_log_close(s->log);
    pthread_mutex_destroy(&s->busy_lock);
    pthread_mutex_destroy(&s->commit_lock);
    free(s);
    return r;
}
