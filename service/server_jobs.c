/* Jobs and leases (see server_internal.h): a job created from a finished
 * upload after the package check, its status as JSON and as an HTML report,
 * cancelling it; a cluster's lease asked for, renewed and ended.
 */
#include "service/server_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/xs_json.h"

static const char *mode_name(int mode) { return mode == XS_JOB_MODE_LEASE ? "lease" : "slurm"; }

static bool terminal(const char *state)
{
    return strcmp(state, "completed") == 0 || strcmp(state, "failed") == 0 ||
           strcmp(state, "cancelled") == 0;
}

bool xs_job_visible(xs_req *q, int64_t id, xs_job_row *j)
{
    bool found = false;
    xs_err err;
    if (xs_store_job_get(q->srv->store, id, j, &found, &err) != XS_OK) {
        xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
        return false;
    }
    /* another studio's job, or a Slurm job for a cluster, does not exist for them */
    if (!found || (q->who.kind == XS_PRINCIPAL_STUDIO && j->studio != q->who.id) ||
        (q->who.kind == XS_PRINCIPAL_CLUSTER && j->mode != XS_JOB_MODE_LEASE)) {
        xs_respond_error(q, MHD_HTTP_NOT_FOUND, "not_found", "no job %" PRId64, id);
        return false;
    }
    return true;
}

/* ---- creating a job ---------------------------------------------------------------------- */

typedef struct create_ctx {
    xs_srv *srv;
    const xs_req *q;
    const xs_job_request *req;
    const char *frames;
    int64_t upload;
} create_ctx;

/* Inside the job's transaction: its folder, package (a hard link to the
 * upload's file, which is removed after the commit) and job file. */
static xs_result lay_out(void *vctx, int64_t id, xs_err *err)
{
    create_ctx *c = vctx;
    const xs_spool *sp = &c->srv->spool;
    char dir[XS_PATH_MAX], pkg[XS_PATH_MAX], out[XS_PATH_MAX], file[XS_PATH_MAX], up[XS_PATH_MAX];
    xs_spool_job_dir(sp, id, dir, sizeof dir);
    xs_result r = xs_remove_tree(dir, err); /* a folder left by a crash before a commit */
    if (r == XS_OK)
        r = xs_mkdir_p(dir, err);
    xs_spool_job_file(sp, id, "package.tar.zst", pkg, sizeof pkg);
    xs_spool_job_file(sp, id, "out", out, sizeof out);
    xs_spool_job_file(sp, id, "job.json", file, sizeof file);
    xs_spool_upload_path(sp, c->upload, up, sizeof up);
    if (r == XS_OK && link(up, pkg) != 0)
        r = xs_err_set(err, XS_ERR_IO, "%s: cannot link the upload into the job: %s", pkg, strerror(errno));
    if (r == XS_OK)
        r = xs_mkdir_p(out, err);
    char *text = NULL;
    if (r == XS_OK)
        r = xs_api_job_file(c->q->body, c->q->body_len, c->req, pkg, out, c->frames, &text, err);
    if (r == XS_OK)
        r = xs_file_write_atomic(file, text, strlen(text), err);
    free(text);
    if (r != XS_OK)
        xs_remove_tree(dir, NULL);
    return r;
}

enum MHD_Result xs_job_create(xs_req *q)
{
    xs_srv *s = q->srv;
    xs_job_request req;
    xs_err err;
    if (xs_api_job_request(q->body, q->body_len, s->cfg.default_time, &req, &err) != XS_OK)
        return xs_respond_error(q, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", err.msg);
    if (req.mode == XS_JOB_MODE_SLURM && req.nodes > s->cfg.max_nodes)
        return xs_respond_error(q, MHD_HTTP_BAD_REQUEST, "bad_request",
                                "job request: slurm.nodes: at most %d on this service", s->cfg.max_nodes);
    /* the render's own job-file checks, before anything else is looked at */
    char *text = NULL;
    if (xs_api_job_file(q->body, q->body_len, &req, "/spool/package.tar.zst", "/spool/out", req.frames,
                        &text, &err) != XS_OK)
        return xs_respond_error(q, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", err.msg);
    free(text);
    /* the upload: this studio's, finished, not taken */
    xs_upload u;
    bool found = false;
    if (xs_store_upload_get(s->store, req.upload, &u, &found, &err) != XS_OK)
        return xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
    if (!found || u.studio != q->who.id)
        return xs_respond_error(q, MHD_HTTP_NOT_FOUND, "not_found", "no upload %" PRId64, req.upload);
    if (strcmp(u.state, "used") == 0) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "error", "conflict");
        cJSON_AddStringToObject(d, "message", "the upload was taken by a job already");
        cJSON_AddNumberToObject(d, "job", (double)u.job);
        snprintf(q->error, sizeof q->error, "conflict");
        return xs_respond_json(q, MHD_HTTP_CONFLICT, d);
    }
    if (strcmp(u.state, "complete") != 0)
        return xs_respond_error(q, MHD_HTTP_CONFLICT, "conflict",
                                "upload %" PRId64 " is %s (%" PRId64 " of %" PRId64 " bytes)", u.id,
                                u.state, u.offset, u.size);
    /* the same checks as `xisuan pack`, in a process of their own */
    char path[XS_PATH_MAX], manifest_frames[256];
    xs_spool_upload_path(&s->spool, u.id, path, sizeof path);
    xs_result r = xs_package_check(s, path, manifest_frames, sizeof manifest_frames, &err);
    if (r == XS_ERR_INVALID) {
        /* a package that fails the checks is of no use: it leaves nothing behind */
        xs_err e2;
        xs_store_upload_set(s->store, u.id, 0, "failed", xs_wall_now(), &e2);
        unlink(path);
        return xs_respond_error(q, MHD_HTTP_UNPROCESSABLE_CONTENT, "package",
                                "%s: %s (the upload is dropped)", u.name, err.msg);
    }
    if (r != XS_OK)
        return xs_respond_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "check", "%s", err.msg);
    const char *spec = req.frames[0] ? req.frames : manifest_frames[0] ? manifest_frames : "1";
    int *frames = malloc(XS_API_FRAMES_MAX * sizeof *frames);
    int count = 0;
    if (!frames)
        return xs_respond_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "nomem", "out of memory");
    if (xs_api_frames(spec, frames, &count, &err) != XS_OK) {
        free(frames);
        return xs_respond_error(q, MHD_HTTP_UNPROCESSABLE_CONTENT, "package", "%s", err.msg);
    }
    xs_job_row row;
    memset(&row, 0, sizeof row);
    snprintf(row.job, sizeof row.job, "%s", req.job);
    snprintf(row.name, sizeof row.name, "%s", req.name);
    snprintf(row.time, sizeof row.time, "%s", req.time);
    row.mode = req.mode;
    row.nodes = req.nodes;
    row.ranks_per_node = req.ranks_per_node;
    row.gpus_per_node = req.gpus_per_node;
    row.cpus_per_rank = req.cpus_per_rank;
    row.gpu_hours_reserved = req.nodes * (double)req.gpus_per_node * req.time_s / 3600.0;
    create_ctx ctx = {.srv = s, .q = q, .req = &req, .frames = spec, .upload = u.id};
    int64_t id = 0;
    xs_store_verdict v;
    r = xs_store_job_create(s->store, &row, u.id, frames, count, &q->who, lay_out, &ctx,
                            xs_wall_now(), &id, &v, &err);
    free(frames);
    if (r == XS_OK && v == XS_STORE_QUOTA)
        return xs_respond_error(q, MHD_HTTP_FORBIDDEN, "quota", "%s", err.msg);
    if (r == XS_OK && v == XS_STORE_NOT_FOUND)
        return xs_respond_error(q, MHD_HTTP_NOT_FOUND, "not_found", "%s", err.msg);
    if (r == XS_OK && v == XS_STORE_CONFLICT)
        return xs_respond_error(q, MHD_HTTP_CONFLICT, "conflict", "%s", err.msg);
    if (r != XS_OK)
        return xs_respond_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "job", "%s", err.msg);
    unlink(path); /* the package lives on as the job's hard link */
    if (req.mode == XS_JOB_MODE_SLURM)
        xs_runner_wake(s->runner);
    char name[140];
    xs_json_escape(req.job, name, sizeof name);
    xs_log_emit(s->log, "info", "job_created",
                "\"job\": %" PRId64 ", \"name\": \"%s\", \"studio\": \"%s\", \"mode\": \"%s\", "
                "\"frames\": %d, \"package_bytes\": %" PRId64,
                id, name, q->who.name, mode_name(req.mode), count, u.size);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "job", (double)id);
    cJSON_AddStringToObject(d, "name", req.job);
    cJSON_AddStringToObject(d, "mode", mode_name(req.mode));
    cJSON_AddStringToObject(d, "state", "queued");
    cJSON_AddNumberToObject(d, "frames_total", count);
    return xs_respond_json(q, MHD_HTTP_CREATED, d);
}

/* ---- a job as JSON ------------------------------------------------------------------------- */

static void add_job_summary(cJSON *d, const xs_job_row *j)
{
    cJSON_AddNumberToObject(d, "job", (double)j->id);
    cJSON_AddStringToObject(d, "name", j->job);
    cJSON_AddStringToObject(d, "frame_name", j->name);
    cJSON_AddStringToObject(d, "studio", j->studio_name);
    cJSON_AddStringToObject(d, "mode", mode_name(j->mode));
    cJSON_AddStringToObject(d, "state", j->state);
    cJSON_AddStringToObject(d, "message", j->message);
    cJSON_AddNumberToObject(d, "frames_total", j->frame_count);
    cJSON_AddNumberToObject(d, "frames_done", j->frames_done);
    cJSON_AddNumberToObject(d, "created", j->created);
    cJSON_AddNumberToObject(d, "updated", j->updated);
}

enum MHD_Result xs_job_list(xs_req *q)
{
    xs_job_row *rows = NULL;
    int n = 0;
    xs_err err;
    if (xs_store_job_list(q->srv->store, q->who.id, &rows, &n, &err) != XS_OK)
        return xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
    cJSON *d = cJSON_CreateObject();
    cJSON *a = cJSON_AddArrayToObject(d, "jobs");
    for (int i = 0; i < n; ++i) {
        cJSON *o = cJSON_CreateObject();
        add_job_summary(o, &rows[i]);
        cJSON_AddItemToArray(a, o);
    }
    free(rows);
    xs_usage u;
    if (xs_store_usage(q->srv->store, q->who.id, &u, &err) == XS_OK) {
        cJSON *o = cJSON_AddObjectToObject(d, "usage");
        cJSON_AddNumberToObject(o, "bytes", (double)u.bytes);
        cJSON_AddNumberToObject(o, "quota_bytes", (double)q->who.quota_bytes);
        cJSON_AddNumberToObject(o, "jobs_in_flight", u.jobs_in_flight);
        cJSON_AddNumberToObject(o, "quota_jobs", q->who.quota_jobs);
        cJSON_AddNumberToObject(o, "gpu_hours_used", u.gpu_hours_used);
        cJSON_AddNumberToObject(o, "gpu_hours_reserved", u.gpu_hours_reserved);
        cJSON_AddNumberToObject(o, "quota_gpu_hours", q->who.quota_gpu_hours);
    }
    return xs_respond_json(q, MHD_HTTP_OK, d);
}

enum MHD_Result xs_job_show(xs_req *q)
{
    xs_job_row j;
    if (!xs_job_visible(q, q->route.id, &j))
        return MHD_YES;
    xs_frame_row *fr = NULL;
    xs_lease_row *ls = NULL;
    int nf = 0, nl = 0;
    xs_err err;
    if (xs_store_frames(q->srv->store, j.id, &fr, &nf, &err) != XS_OK ||
        xs_store_leases(q->srv->store, j.id, &ls, &nl, &err) != XS_OK) {
        free(fr);
        return xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
    }
    cJSON *d = cJSON_CreateObject();
    add_job_summary(d, &j);
    if (j.mode == XS_JOB_MODE_SLURM) {
        cJSON_AddStringToObject(d, "slurm_id", j.slurm_id);
        cJSON *sl = cJSON_AddObjectToObject(d, "slurm");
        cJSON_AddNumberToObject(sl, "nodes", j.nodes);
        cJSON_AddNumberToObject(sl, "ranks_per_node", j.ranks_per_node);
        cJSON_AddNumberToObject(sl, "gpus_per_node", j.gpus_per_node);
        cJSON_AddNumberToObject(sl, "cpus_per_rank", j.cpus_per_rank);
        cJSON_AddStringToObject(sl, "time", j.time);
    }
    cJSON_AddNumberToObject(d, "package_bytes", (double)j.package_bytes);
    cJSON_AddStringToObject(d, "package_xxh3", j.package_xxh3);
    cJSON_AddNumberToObject(d, "output_bytes", (double)j.output_bytes);
    cJSON_AddNumberToObject(d, "gpu_hours_used", j.gpu_hours_used);
    cJSON_AddNumberToObject(d, "gpu_hours_reserved", j.gpu_hours_reserved);
    cJSON *fa = cJSON_AddArrayToObject(d, "frames");
    for (int i = 0; i < nf; ++i) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "frame", fr[i].frame);
        cJSON_AddBoolToObject(o, "done", fr[i].done);
        if (fr[i].done) {
            cJSON_AddStringToObject(o, "file", fr[i].file);
            cJSON_AddNumberToObject(o, "bytes", (double)fr[i].bytes);
            cJSON_AddStringToObject(o, "xxh3", fr[i].xxh3);
            cJSON_AddStringToObject(o, "preview", fr[i].preview);
            cJSON_AddStringToObject(o, "by", fr[i].by);
            cJSON_AddNumberToObject(o, "done_at", fr[i].done_at);
        } else if (fr[i].lease) {
            cJSON_AddNumberToObject(o, "lease", (double)fr[i].lease);
        }
        cJSON_AddItemToArray(fa, o);
    }
    cJSON *la = cJSON_AddArrayToObject(d, "leases");
    for (int i = 0; i < nl; ++i) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "lease", (double)ls[i].id);
        cJSON_AddStringToObject(o, "cluster", ls[i].cluster_name);
        cJSON_AddStringToObject(o, "frames", ls[i].frames);
        cJSON_AddNumberToObject(o, "committed", ls[i].committed);
        cJSON_AddStringToObject(o, "state", ls[i].state);
        cJSON_AddStringToObject(o, "backend", ls[i].backend);
        cJSON_AddNumberToObject(o, "gpus", ls[i].gpus);
        cJSON_AddNumberToObject(o, "granted", ls[i].granted);
        cJSON_AddNumberToObject(o, "expires", ls[i].expires);
        cJSON_AddNumberToObject(o, "ended", ls[i].ended);
        cJSON_AddItemToArray(la, o);
    }
    free(fr);
    free(ls);
    return xs_respond_json(q, MHD_HTTP_OK, d);
}

enum MHD_Result xs_job_cancel(xs_req *q)
{
    xs_job_row j;
    if (!xs_job_visible(q, q->route.id, &j))
        return MHD_YES;
    if (terminal(j.state) || strcmp(j.state, "cancelling") == 0)
        return xs_respond_error(q, MHD_HTTP_CONFLICT, "conflict", "job %" PRId64 " is %s already",
                                j.id, j.state);
    /* a Slurm job that may be in Slurm's queue is scancel'd by the runner */
    const bool via_runner = j.mode == XS_JOB_MODE_SLURM && strcmp(j.state, "queued") != 0;
    const char *state = via_runner ? "cancelling" : "cancelled";
    xs_err err;
    if (xs_store_job_set_state(q->srv->store, j.id, state, "cancelled by the studio", NULL,
                               xs_wall_now(), &err) != XS_OK)
        return xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
    if (via_runner)
        xs_runner_wake(q->srv->runner);
    xs_log_emit(q->srv->log, "info", "job_cancel", "\"job\": %" PRId64 ", \"state\": \"%s\"", j.id, state);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "job", (double)j.id);
    cJSON_AddStringToObject(d, "state", state);
    return xs_respond_json(q, MHD_HTTP_ACCEPTED, d);
}

enum MHD_Result xs_job_spec(xs_req *q)
{
    xs_job_row j;
    if (!xs_job_visible(q, q->route.id, &j))
        return MHD_YES;
    char path[XS_PATH_MAX];
    xs_spool_job_file(&q->srv->spool, j.id, "job.json", path, sizeof path);
    unsigned char *text = NULL;
    size_t len = 0;
    xs_err err;
    if (xs_file_read_all(path, 1u << 20, &text, &len, &err) != XS_OK)
        return xs_respond_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "io", "%s", err.msg);
    cJSON *spec = cJSON_ParseWithLength((const char *)text, len);
    free(text);
    if (!spec)
        return xs_respond_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "io", "the job file is not JSON");
    /* the spool's paths mean nothing to a cluster */
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "package");
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "output");
    cJSON *d = cJSON_CreateObject();
    add_job_summary(d, &j);
    cJSON_AddNumberToObject(d, "package_bytes", (double)j.package_bytes);
    cJSON_AddStringToObject(d, "package_xxh3", j.package_xxh3);
    cJSON_AddNumberToObject(d, "lease_ttl_s", q->srv->cfg.lease_ttl_s);
    cJSON_AddItemToObject(d, "spec", spec);
    return xs_respond_json(q, MHD_HTTP_OK, d);
}

/* ---- the HTML report ---------------------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t n, cap;
    bool oom;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = true;
            return;
        }
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? 2 * b->cap : 8192;
        while (cap < b->n + (size_t)k + 1)
            cap *= 2;
        char *g = realloc(b->p, cap);
        if (!g) {
            b->oom = true;
            return;
        }
        b->p = g;
        b->cap = cap;
    }
}

/* Text as HTML (&, <, >, ", ' escaped). */
static const char *html(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 7 < n; ++p) {
        const char *e = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;"
                      : *p == '"' ? "&quot;" : *p == '\'' ? "&#39;" : NULL;
        if (e) {
            size_t k = strlen(e);
            memcpy(out + o, e, k);
            o += k;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    return out;
}

static void when(double t, char *out, size_t n)
{
    time_t s = (time_t)t;
    struct tm tm;
    if (t > 0 && gmtime_r(&s, &tm))
        strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
    else
        snprintf(out, n, "-");
}

enum MHD_Result xs_job_report(xs_req *q)
{
    xs_job_row j;
    if (!xs_job_visible(q, q->route.id, &j))
        return MHD_YES;
    xs_frame_row *fr = NULL;
    xs_lease_row *ls = NULL;
    int nf = 0, nl = 0;
    xs_err err;
    if (xs_store_frames(q->srv->store, j.id, &fr, &nf, &err) != XS_OK ||
        xs_store_leases(q->srv->store, j.id, &ls, &nl, &err) != XS_OK) {
        free(fr);
        return xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
    }
    buf b = {0};
    char e1[600], e2[600], e3[600], t1[40], t2[40];
    put(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>xisuan job %" PRId64 " %s</title>\n"
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}img{max-width:160px}"
            ".mono{font-family:monospace}</style></head><body>\n",
        j.id, html(j.job, e1, sizeof e1));
    put(&b, "<h1>Job %" PRId64 ": %s</h1>\n<table>\n", j.id, e1);
    when(j.created, t1, sizeof t1);
    when(j.updated, t2, sizeof t2);
    put(&b, "<tr><th>studio</th><td>%s</td></tr><tr><th>mode</th><td>%s</td></tr>"
            "<tr><th>state</th><td>%s</td></tr><tr><th>message</th><td>%s</td></tr>"
            "<tr><th>frames</th><td>%d of %d done</td></tr><tr><th>package</th><td>%" PRId64
            " bytes, XXH3-128 <span class=\"mono\">%s</span></td></tr>"
            "<tr><th>output</th><td>%" PRId64 " bytes</td></tr><tr><th>GPU-hours</th><td>%.3f used</td></tr>"
            "<tr><th>created</th><td>%s</td></tr><tr><th>last change</th><td>%s</td></tr>\n",
        html(j.studio_name, e1, sizeof e1), mode_name(j.mode), html(j.state, e2, sizeof e2),
        html(j.message, e3, sizeof e3), j.frames_done, j.frame_count, j.package_bytes,
        j.package_xxh3, j.output_bytes, j.gpu_hours_used, t1, t2);
    if (j.mode == XS_JOB_MODE_SLURM)
        put(&b, "<tr><th>Slurm</th><td>job %s: %d node(s), %d rank(s) a node, %d GPU(s) a node, %s</td></tr>\n",
            html(j.slurm_id, e1, sizeof e1), j.nodes, j.ranks_per_node, j.gpus_per_node,
            html(j.time, e2, sizeof e2));
    put(&b, "</table>\n<h2>Frames</h2>\n<table><tr><th>frame</th><th>preview</th><th>file</th>"
            "<th>bytes</th><th>XXH3-128</th><th>rendered by</th><th>done</th></tr>\n");
    for (int i = 0; i < nf; ++i) {
        if (!fr[i].done) {
            put(&b, "<tr><td>%d</td><td></td><td>not yet</td><td></td><td></td><td>%s</td><td></td></tr>\n",
                fr[i].frame, fr[i].lease ? "leased" : "");
            continue;
        }
        when(fr[i].done_at, t1, sizeof t1);
        /* previews by their file name: the report sits beside the frames that
         * `xisuan remote fetch` downloads */
        html(fr[i].preview, e2, sizeof e2);
        put(&b, "<tr><td>%d</td><td>", fr[i].frame);
        if (e2[0])
            put(&b, "<a href=\"%s\"><img src=\"%s\" alt=\"frame %d\"></a>", e2, e2, fr[i].frame);
        put(&b, "</td><td><a href=\"%s\">%s</a></td><td>%" PRId64 "</td><td class=\"mono\">%s</td>"
                "<td>%s</td><td>%s</td></tr>\n",
            html(fr[i].file, e1, sizeof e1), e1, fr[i].bytes, fr[i].xxh3,
            html(fr[i].by, e3, sizeof e3), t1);
    }
    put(&b, "</table>\n");
    if (nl > 0) {
        put(&b, "<h2>Leases</h2>\n<table><tr><th>lease</th><th>cluster</th><th>frames</th>"
                "<th>committed</th><th>state</th><th>back end</th><th>granted</th><th>held s</th></tr>\n");
        for (int i = 0; i < nl; ++i) {
            when(ls[i].granted, t1, sizeof t1);
            double end = ls[i].ended > 0 ? ls[i].ended : xs_wall_now();
            put(&b, "<tr><td>%" PRId64 "</td><td>%s</td><td>%s</td><td>%d of %d</td><td>%s</td>"
                    "<td>%s</td><td>%s</td><td>%.1f</td></tr>\n",
                ls[i].id, html(ls[i].cluster_name, e1, sizeof e1), html(ls[i].frames, e2, sizeof e2),
                ls[i].committed, ls[i].frame_count, html(ls[i].state, e3, sizeof e3), ls[i].backend,
                t1, end - ls[i].granted);
        }
        put(&b, "</table>\n");
    }
    when(xs_wall_now(), t1, sizeof t1);
    put(&b, "<p>Written by xisuan %s at %s.</p>\n</body></html>\n", XS_VERSION, t1);
    free(fr);
    free(ls);
    if (b.oom) {
        free(b.p);
        return xs_respond_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "nomem", "out of memory");
    }
    return xs_respond(q, MHD_HTTP_OK, "text/html; charset=utf-8", b.p, b.n);
}

/* ---- leases ---------------------------------------------------------------------------------- */

enum MHD_Result xs_lease_grant(xs_req *q)
{
    xs_srv *s = q->srv;
    xs_job_row j;
    if (!xs_job_visible(q, q->route.id, &j))
        return MHD_YES;
    xs_lease_request req;
    xs_err err;
    if (xs_api_lease_request(q->body, q->body_len, &req, &err) != XS_OK)
        return xs_respond_error(q, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", err.msg);
    xs_lease_terms terms = {.ttl_s = s->cfg.lease_ttl_s,
                            .target_s = s->cfg.lease_target_s,
                            .max_frames = s->cfg.lease_max_frames,
                            .active_s = 2 * s->cfg.lease_ttl_s};
    xs_lease_row l;
    double wait_s = 1;
    char state[16];
    xs_store_verdict v;
    if (xs_store_lease_grant(s->store, j.id, &q->who, req.backend, req.gpus, &terms, xs_wall_now(),
                             &l, &wait_s, state, &v, &err) != XS_OK)
        return xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
    if (v == XS_STORE_NOT_FOUND)
        return xs_respond_error(q, MHD_HTTP_NOT_FOUND, "not_found", "no lease job %" PRId64, j.id);
    if (v == XS_STORE_QUOTA)
        return xs_respond_error(q, MHD_HTTP_FORBIDDEN, "quota", "%s", err.msg);
    if (v == XS_STORE_GONE) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "error", "gone");
        cJSON_AddStringToObject(d, "state", state);
        cJSON_AddStringToObject(d, "message", strcmp(state, "completed") == 0
                                                  ? "every frame is done"
                                                  : "the job is over");
        snprintf(q->note, sizeof q->note, "job %s", state);
        return xs_respond_json(q, MHD_HTTP_GONE, d);
    }
    cJSON *d = cJSON_CreateObject();
    if (l.frame_count == 0) {
        cJSON_AddNumberToObject(d, "wait_s", wait_s);
        return xs_respond_json(q, MHD_HTTP_OK, d);
    }
    xs_log_emit(s->log, "info", "lease_granted",
                "\"job\": %" PRId64 ", \"lease\": %" PRId64 ", \"cluster\": \"%s\", \"frames\": \"%s\", "
                "\"frame_count\": %d, \"expires\": %.3f",
                j.id, l.id, l.cluster_name, l.frames, l.frame_count, l.expires);
    cJSON_AddNumberToObject(d, "lease", (double)l.id);
    cJSON_AddNumberToObject(d, "job", (double)j.id);
    cJSON_AddStringToObject(d, "frames", l.frames);
    cJSON_AddNumberToObject(d, "frame_count", l.frame_count);
    cJSON_AddNumberToObject(d, "expires", l.expires);
    cJSON_AddNumberToObject(d, "ttl_s", s->cfg.lease_ttl_s);
    return xs_respond_json(q, MHD_HTTP_CREATED, d);
}

static bool own_lease(xs_req *q, xs_lease_row *l)
{
    bool found = false;
    xs_err err;
    if (xs_store_lease_get(q->srv->store, q->route.id, l, &found, &err) != XS_OK) {
        xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
        return false;
    }
    if (!found || l->cluster != q->who.id) {
        xs_respond_error(q, MHD_HTTP_NOT_FOUND, "not_found", "no lease %" PRId64 " of this cluster",
                         q->route.id);
        return false;
    }
    return true;
}

enum MHD_Result xs_lease_renew(xs_req *q)
{
    xs_lease_row l;
    if (!own_lease(q, &l))
        return MHD_YES;
    xs_store_verdict v;
    xs_err err;
    if (xs_store_lease_renew(q->srv->store, l.id, q->srv->cfg.lease_ttl_s, xs_wall_now(), &l, &v,
                             &err) != XS_OK)
        return xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
    if (v != XS_STORE_DONE) {
        xs_log_emit(q->srv->log, "info", "lease_lost",
                    "\"job\": %" PRId64 ", \"lease\": %" PRId64 ", \"cluster\": \"%s\"", l.job, l.id,
                    l.cluster_name);
        return xs_respond_error(q, MHD_HTTP_GONE, "gone",
                                "lease %" PRId64 " is %s: its frames went to another cluster or its "
                                "job ended; stop and ask again", l.id, l.state);
    }
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "lease", (double)l.id);
    cJSON_AddNumberToObject(d, "expires", l.expires);
    return xs_respond_json(q, MHD_HTTP_OK, d);
}

enum MHD_Result xs_lease_end(xs_req *q, const char *state)
{
    xs_srv *s = q->srv;
    xs_lease_row l;
    if (!own_lease(q, &l))
        return MHD_YES;
    char why[512];
    xs_err err;
    if (xs_api_lease_end(q->body, q->body_len, why, sizeof why, &err) != XS_OK)
        return xs_respond_error(q, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", err.msg);
    xs_store_verdict v;
    if (xs_store_lease_end(s->store, l.id, state, xs_wall_now(), &l, &v, &err) != XS_OK)
        return xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
    if (v == XS_STORE_CONFLICT)
        return xs_respond_error(q, MHD_HTTP_CONFLICT, "conflict", "lease %" PRId64 " ended already", l.id);
    char esc[1100];
    xs_json_escape(why, esc, sizeof esc);
    xs_log_emit(s->log, why[0] ? "warn" : "info", "lease_end",
                "\"job\": %" PRId64 ", \"lease\": %" PRId64 ", \"cluster\": \"%s\", \"state\": \"%s\", "
                "\"committed\": %d, \"frame_count\": %d, \"held_s\": %.3f%s%s%s",
                l.job, l.id, l.cluster_name, l.state, l.committed, l.frame_count, l.ended - l.granted,
                why[0] ? ", \"failed\": \"" : "", esc, why[0] ? "\"" : "");
    if (why[0]) { /* the cluster could not render its frames: after a few such, the job fails */
        int failures = 0;
        if (xs_store_job_lease_failed(s->store, l.job, &failures, &err) == XS_OK &&
            failures >= s->cfg.lease_max_failures) {
            char msg[700];
            snprintf(msg, sizeof msg, "%d leases failed; the last (cluster %s): %.500s", failures,
                     l.cluster_name, why);
            xs_store_job_set_state(s->store, l.job, "failed", msg, NULL, xs_wall_now(), &err);
            xs_log_emit(s->log, "warn", "job_failed", "\"job\": %" PRId64 ", \"lease_failures\": %d",
                        l.job, failures);
        }
    }
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "lease", (double)l.id);
    cJSON_AddStringToObject(d, "state", l.state);
    cJSON_AddNumberToObject(d, "committed", l.committed);
    return xs_respond_json(q, MHD_HTTP_OK, d);
}
