/* The service's request parsing (see xs_api.h): routes, JSON bodies, headers. */
#include "service/xs_api.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/xs_json.h"
#include "scheduler/xs_options.h"

/* ---- routes ------------------------------------------------------------------ */

enum { MAX_SEGS = 7 };

/* A decimal id without sign or leading zeros, 1 to 2^53. */
static bool parse_id(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 16 || s[0] == '0')
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > ((int64_t)1 << 53))
        return false;
    *out = v;
    return true;
}

static bool parse_frame(const char *s, size_t n, int *out)
{
    if (n == 0 || n > 4 || (n > 1 && s[0] == '0'))
        return false;
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool seg_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

void xs_api_route(const char *method, const char *url, xs_route *r)
{
    memset(r, 0, sizeof *r);
    r->frame = -1;
    if (!method || !url || strncmp(url, "/v1/", 4) != 0)
        return;
    const char *seg[MAX_SEGS];
    size_t len[MAX_SEGS];
    int n = 0;
    const char *p = url + 4;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t k = slash ? (size_t)(slash - p) : strlen(p);
        if (k == 0 || n == MAX_SEGS)
            return; /* an empty segment ("//", a trailing '/') or too deep */
        seg[n] = p;
        len[n++] = k;
        if (!slash)
            break;
        p = slash + 1;
    }
    const bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    const bool post = strcmp(method, "POST") == 0, put = strcmp(method, "PUT") == 0;
    xs_route_kind k = XS_ROUTE_NONE;
    bool ok = false;
    if (n == 1 && seg_is(seg[0], len[0], "health")) {
        k = XS_ROUTE_HEALTH, ok = get;
    } else if (seg_is(seg[0], len[0], "uploads")) {
        if (n == 1)
            k = XS_ROUTE_UPLOADS, ok = post;
        else if (n == 2 && parse_id(seg[1], len[1], &r->id))
            k = XS_ROUTE_UPLOAD, ok = get || put;
    } else if (seg_is(seg[0], len[0], "jobs")) {
        if (n == 1) {
            k = XS_ROUTE_JOBS, ok = get || post;
        } else if (parse_id(seg[1], len[1], &r->id)) {
            if (n == 2)
                k = XS_ROUTE_JOB, ok = get;
            else if (n == 3 && seg_is(seg[2], len[2], "cancel"))
                k = XS_ROUTE_JOB_CANCEL, ok = post;
            else if (n == 3 && seg_is(seg[2], len[2], "report.html"))
                k = XS_ROUTE_JOB_REPORT, ok = get;
            else if (n == 3 && seg_is(seg[2], len[2], "package"))
                k = XS_ROUTE_JOB_PACKAGE, ok = get;
            else if (n == 3 && seg_is(seg[2], len[2], "spec"))
                k = XS_ROUTE_JOB_SPEC, ok = get;
            else if (n == 3 && seg_is(seg[2], len[2], "leases"))
                k = XS_ROUTE_JOB_LEASES, ok = post;
            else if (n >= 4 && n <= 5 && seg_is(seg[2], len[2], "frames") &&
                     parse_frame(seg[3], len[3], &r->frame)) {
                if (n == 4)
                    k = XS_ROUTE_JOB_FRAME, ok = get;
                else if (seg_is(seg[4], len[4], "preview"))
                    k = XS_ROUTE_JOB_PREVIEW, ok = get;
            }
        }
    } else if (seg_is(seg[0], len[0], "leases") && n >= 3 && parse_id(seg[1], len[1], &r->id)) {
        if (n == 3 && seg_is(seg[2], len[2], "renew"))
            k = XS_ROUTE_LEASE_RENEW, ok = post;
        else if (n == 3 && seg_is(seg[2], len[2], "complete"))
            k = XS_ROUTE_LEASE_COMPLETE, ok = post;
        else if (n == 3 && seg_is(seg[2], len[2], "release"))
            k = XS_ROUTE_LEASE_RELEASE, ok = post;
        else if (n >= 4 && n <= 5 && seg_is(seg[2], len[2], "frames") &&
                 parse_frame(seg[3], len[3], &r->frame)) {
            if (n == 4)
                k = XS_ROUTE_LEASE_FRAME, ok = put;
            else if (seg_is(seg[4], len[4], "preview"))
                k = XS_ROUTE_LEASE_PREVIEW, ok = put;
        }
    }
    r->kind = k;
    r->method_ok = k != XS_ROUTE_NONE && ok;
    if (k == XS_ROUTE_NONE) {
        r->id = 0;
        r->frame = -1;
    }
}

/* ---- small checks ------------------------------------------------------------ */

bool xs_api_plain_name(const char *s, size_t n)
{
    size_t len = strlen(s);
    if (len == 0 || len >= n || s[0] == '.')
        return false;
    for (size_t i = 0; i < len; ++i) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool xs_api_is_xxh3(const char *t)
{
    if (!t || strlen(t) != 32)
        return false;
    for (int i = 0; i < 32; ++i)
        if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
            return false;
    return true;
}

bool xs_api_uint(const char *t, int64_t max, int64_t *out)
{
    if (!t || !*t || strlen(t) > 18)
        return false;
    int64_t v = 0;
    for (const char *p = t; *p; ++p) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* Up to 3 numbers separated by ':' (each 0..99999); false on anything else. */
static int colon_numbers(const char *s, long v[3])
{
    int n = 0;
    const char *p = s;
    for (;;) {
        if (*p < '0' || *p > '9' || n == 3)
            return 0;
        long x = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (++digits > 5)
                return 0;
            x = x * 10 + (*p++ - '0');
        }
        v[n++] = x;
        if (*p == '\0')
            return n;
        if (*p != ':')
            return 0;
        ++p;
    }
}

bool xs_api_slurm_time(const char *t, double *seconds)
{
    if (!t || !*t || strlen(t) > 20)
        return false;
    long days = 0, v[3] = {0, 0, 0};
    const char *dash = strchr(t, '-');
    int n;
    if (dash) {
        char d[8];
        size_t k = (size_t)(dash - t);
        if (k == 0 || k >= sizeof d)
            return false;
        memcpy(d, t, k);
        d[k] = '\0';
        long dv[3];
        if (colon_numbers(d, dv) != 1)
            return false;
        days = dv[0];
        n = colon_numbers(dash + 1, v);
        if (n < 1)
            return false;
        /* D-H, D-H:M, D-H:M:S */
        *seconds = days * 86400.0 + v[0] * 3600.0 + (n > 1 ? v[1] * 60.0 : 0) + (n > 2 ? v[2] : 0);
    } else {
        n = colon_numbers(t, v);
        if (n == 1)
            *seconds = v[0] * 60.0;                       /* M */
        else if (n == 2)
            *seconds = v[0] * 60.0 + v[1];                /* M:S */
        else if (n == 3)
            *seconds = v[0] * 3600.0 + v[1] * 60.0 + v[2]; /* H:M:S */
        else
            return false;
    }
    return *seconds > 0;
}

int xs_api_range(const char *h, int64_t size, int64_t *start, int64_t *count)
{
    if (!h)
        return 0;
    if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0; /* another unit, or several ranges: the whole resource */
    const char *p = h + 6;
    const char *dash = strchr(p, '-');
    if (!dash)
        return -1;
    char a[24], b[24];
    size_t na = (size_t)(dash - p), nb = strlen(dash + 1);
    if (na >= sizeof a || nb >= sizeof b)
        return -1;
    memcpy(a, p, na);
    a[na] = '\0';
    memcpy(b, dash + 1, nb + 1);
    int64_t x = 0, y = 0;
    if (na == 0) { /* the last y bytes */
        if (!xs_api_uint(b, INT64_MAX / 2, &y) || y == 0 || size == 0)
            return -1;
        if (y > size)
            y = size;
        *start = size - y;
        *count = y;
        return 1;
    }
    if (!xs_api_uint(a, INT64_MAX / 2, &x) || x >= size)
        return -1;
    if (nb == 0) {
        y = size - 1;
    } else {
        if (!xs_api_uint(b, INT64_MAX / 2, &y) || y < x)
            return -1;
        if (y >= size)
            y = size - 1;
    }
    *start = x;
    *count = y - x + 1;
    return 1;
}

/* ---- JSON bodies ------------------------------------------------------------- */

static cJSON *parse_object(const char *body, size_t len, const char *what, xs_err *err)
{
    if (!body || len == 0) {
        xs_err_set(err, XS_ERR_INVALID, "%s: empty body (expected a JSON object)", what);
        return NULL;
    }
    if (len > XS_API_BODY_MAX) {
        xs_err_set(err, XS_ERR_INVALID, "%s: body of %zu bytes (at most %d)", what, len,
                   XS_API_BODY_MAX);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (!root) {
        xs_err_set(err, XS_ERR_INVALID, "%s: malformed JSON near byte %td", what,
                   end && end >= body ? end - body : (ptrdiff_t)0);
        return NULL;
    }
    /* nothing but white space after the object */
    for (const char *q = end; q && q < body + len; ++q)
        if (*q != ' ' && *q != '\n' && *q != '\r' && *q != '\t') {
            cJSON_Delete(root);
            xs_err_set(err, XS_ERR_INVALID, "%s: text after the JSON object", what);
            return NULL;
        }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        xs_err_set(err, XS_ERR_INVALID, "%s: expected a JSON object", what);
        return NULL;
    }
    return root;
}

static bool get_int(const cJSON *o, const char *key, double lo, double hi, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return false;
    *out = v->valuedouble;
    return true;
}

xs_result xs_api_upload_request(const char *body, size_t len, xs_upload_request *req, xs_err *err)
{
    memset(req, 0, sizeof *req);
    cJSON *root = parse_object(body, len, "upload request", err);
    if (!root)
        return XS_ERR_INVALID;
    static const char *const keys[] = {"name", "size", "xxh3", NULL};
    const char *bad = xs_json_unknown_key(root, keys);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(root, "xxh3");
    double size = 0;
    xs_result r = XS_OK;
    if (bad)
        r = xs_err_set(err, XS_ERR_INVALID, "upload request: %.64s: unknown field", bad);
    else if (!cJSON_IsString(name) || !xs_api_plain_name(name->valuestring, sizeof req->name) ||
             strlen(name->valuestring) < 9 ||
             strcmp(name->valuestring + strlen(name->valuestring) - 8, ".tar.zst") != 0)
        r = xs_err_set(err, XS_ERR_INVALID,
                       "upload request: name: must be a plain file name ending in .tar.zst "
                       "(letters, digits, '.', '_', '-'; no '/'), under %zu characters",
                       sizeof req->name);
    else if (!get_int(root, "size", 1, 9007199254740992.0, &size))
        r = xs_err_set(err, XS_ERR_INVALID, "upload request: size: must be a positive integer");
    else if (!cJSON_IsString(sum) || !xs_api_is_xxh3(sum->valuestring))
        r = xs_err_set(err, XS_ERR_INVALID,
                       "upload request: xxh3: must be the package's XXH3-128 as 32 lowercase hex digits");
    if (r == XS_OK) {
        snprintf(req->name, sizeof req->name, "%s", name->valuestring);
        req->size = (int64_t)size;
        snprintf(req->xxh3, sizeof req->xxh3, "%s", sum->valuestring);
    }
    cJSON_Delete(root);
    return r;
}

xs_result xs_api_lease_request(const char *body, size_t len, xs_lease_request *req, xs_err *err)
{
    memset(req, 0, sizeof *req);
    snprintf(req->backend, sizeof req->backend, "cpu");
    if (!body || len == 0)
        return XS_OK;
    cJSON *root = parse_object(body, len, "lease request", err);
    if (!root)
        return XS_ERR_INVALID;
    static const char *const keys[] = {"backend", "gpus", NULL};
    const char *bad = xs_json_unknown_key(root, keys);
    const cJSON *be = cJSON_GetObjectItemCaseSensitive(root, "backend");
    xs_result r = XS_OK;
    double g = 0;
    if (bad)
        r = xs_err_set(err, XS_ERR_INVALID, "lease request: %.64s: unknown field", bad);
    else if (be && (!cJSON_IsString(be) || !xs_api_plain_name(be->valuestring, sizeof req->backend)))
        r = xs_err_set(err, XS_ERR_INVALID, "lease request: backend: must be a short plain name");
    else if (cJSON_GetObjectItemCaseSensitive(root, "gpus") && !get_int(root, "gpus", 0, 65536, &g))
        r = xs_err_set(err, XS_ERR_INVALID, "lease request: gpus: must be an integer in [0, 65536]");
    if (r == XS_OK) {
        if (be)
            snprintf(req->backend, sizeof req->backend, "%s", be->valuestring);
        req->gpus = (int)g;
    }
    cJSON_Delete(root);
    return r;
}

/* the job-file fields a request may carry (docs/operations.md), and ours */
static const char *const job_keys[] = {"upload", "job", "name", "mode", "slurm", "frames", "aovs",
                                       "compression", "render", "retries", "stall_timeout_s",
                                       "grace_s", "comment", NULL};

xs_result xs_api_job_request(const char *body, size_t len, const char *default_time,
                             xs_job_request *req, xs_err *err)
{
    memset(req, 0, sizeof *req);
    req->nodes = 1;
    req->ranks_per_node = 1;
    cJSON *root = parse_object(body, len, "job request", err);
    if (!root)
        return XS_ERR_INVALID;
    xs_result r = XS_OK;
    const char *bad = xs_json_unknown_key(root, job_keys);
    const cJSON *job = cJSON_GetObjectItemCaseSensitive(root, "job");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(root, "mode");
    const cJSON *slurm = cJSON_GetObjectItemCaseSensitive(root, "slurm");
    const cJSON *frames = cJSON_GetObjectItemCaseSensitive(root, "frames");
    double upload = 0;
    if (bad) {
        r = xs_err_set(err, XS_ERR_INVALID, "job request: %.64s: unknown field%s", bad,
                       strcmp(bad, "package") == 0 || strcmp(bad, "output") == 0 ||
                               strcmp(bad, "schema") == 0
                           ? " (the service sets it)"
                           : "");
    } else if (!get_int(root, "upload", 1, 9007199254740992.0, &upload)) {
        r = xs_err_set(err, XS_ERR_INVALID, "job request: upload: must be the id of a finished upload");
    } else if (!cJSON_IsString(job) || !xs_api_plain_name(job->valuestring, sizeof req->job)) {
        r = xs_err_set(err, XS_ERR_INVALID,
                       "job request: job: must be a plain name (letters, digits, '.', '_', '-', "
                       "not starting with '.'; no '/'), 1 to %zu characters",
                       sizeof req->job - 1);
    } else if (name && (!cJSON_IsString(name) || !xs_api_plain_name(name->valuestring, sizeof req->name))) {
        r = xs_err_set(err, XS_ERR_INVALID,
                       "job request: name: must be a plain name (letters, digits, '.', '_', '-', "
                       "not starting with '.'; no '/'), 1 to %zu characters",
                       sizeof req->name - 1);
    } else if (mode && (!cJSON_IsString(mode) || (strcmp(mode->valuestring, "slurm") != 0 &&
                                                   strcmp(mode->valuestring, "lease") != 0))) {
        r = xs_err_set(err, XS_ERR_INVALID, "job request: mode: must be \"slurm\" or \"lease\"");
    } else if (frames && (!cJSON_IsString(frames) || strlen(frames->valuestring) >= sizeof req->frames)) {
        r = xs_err_set(err, XS_ERR_INVALID, "job request: frames: must be a string such as \"1-24\"");
    }
    if (r == XS_OK) {
        req->upload = (int64_t)upload;
        snprintf(req->job, sizeof req->job, "%s", job->valuestring);
        snprintf(req->name, sizeof req->name, "%s", name ? name->valuestring : job->valuestring);
        req->mode = mode && strcmp(mode->valuestring, "lease") == 0 ? XS_JOB_MODE_LEASE : XS_JOB_MODE_SLURM;
        if (frames)
            snprintf(req->frames, sizeof req->frames, "%s", frames->valuestring);
        snprintf(req->time, sizeof req->time, "%s", default_time ? default_time : "1:00:00");
    }
    if (r == XS_OK && slurm) {
        static const char *const sk[] = {"nodes", "ranks_per_node", "gpus_per_node",
                                         "cpus_per_rank", "time", NULL};
        const char *sbad = cJSON_IsObject(slurm) ? xs_json_unknown_key(slurm, sk) : NULL;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(slurm, "time");
        double v = 0;
        if (req->mode != XS_JOB_MODE_SLURM)
            r = xs_err_set(err, XS_ERR_INVALID, "job request: slurm: only for mode \"slurm\"");
        else if (!cJSON_IsObject(slurm))
            r = xs_err_set(err, XS_ERR_INVALID, "job request: slurm: must be an object");
        else if (sbad)
            r = xs_err_set(err, XS_ERR_INVALID, "job request: slurm.%.64s: unknown field", sbad);
        static const char *const ik[] = {"nodes", "ranks_per_node", "gpus_per_node", "cpus_per_rank"};
        static const int lo[] = {1, 1, 0, 0}, hi[] = {100000, 4096, 64, 4096};
        int *dst[] = {&req->nodes, &req->ranks_per_node, &req->gpus_per_node, &req->cpus_per_rank};
        for (int k = 0; r == XS_OK && k < 4; ++k) {
            if (!cJSON_GetObjectItemCaseSensitive(slurm, ik[k]))
                continue;
            if (!get_int(slurm, ik[k], lo[k], hi[k], &v))
                r = xs_err_set(err, XS_ERR_INVALID, "job request: slurm.%s: must be an integer in [%d, %d]",
                               ik[k], lo[k], hi[k]);
            else
                *dst[k] = (int)v;
        }
        if (r == XS_OK && t) {
            double s = 0;
            if (!cJSON_IsString(t) || strlen(t->valuestring) >= sizeof req->time ||
                !xs_api_slurm_time(t->valuestring, &s))
                r = xs_err_set(err, XS_ERR_INVALID,
                               "job request: slurm.time: a time limit as Slurm takes it (M, M:S, "
                               "H:M:S, D-H, D-H:M, D-H:M:S)");
            else
                snprintf(req->time, sizeof req->time, "%s", t->valuestring);
        }
    }
    if (r == XS_OK && !xs_api_slurm_time(req->time, &req->time_s))
        r = xs_err_set(err, XS_ERR_INVALID, "job request: slurm.time: '%s' is not a Slurm time limit",
                       req->time);
    cJSON_Delete(root);
    return r;
}

/* xs_frames_parse keeps a static table: one check at a time */
static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;

xs_result xs_api_job_file(const char *body, size_t len, const xs_job_request *req,
                          const char *package, const char *output, const char *frames,
                          char **text, xs_err *err)
{
    *text = NULL;
    cJSON *root = parse_object(body, len, "job request", err);
    if (!root)
        return XS_ERR_INVALID;
    cJSON_DeleteItemFromObjectCaseSensitive(root, "upload");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "mode");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "slurm");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "job");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "name");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "frames");
    cJSON *doc = cJSON_CreateObject();
    xs_result r = XS_OK;
    if (!doc || !cJSON_AddNumberToObject(doc, "schema", 1) ||
        !cJSON_AddStringToObject(doc, "package", package) ||
        !cJSON_AddStringToObject(doc, "output", output) ||
        !cJSON_AddStringToObject(doc, "job", req->job) ||
        !cJSON_AddStringToObject(doc, "name", req->name) ||
        (frames && *frames && !cJSON_AddStringToObject(doc, "frames", frames)))
        r = xs_err_set(err, XS_ERR_NOMEM, "job request: out of memory");
    while (r == XS_OK && root->child) {
        cJSON *it = cJSON_DetachItemViaPointer(root, root->child);
        cJSON_AddItemToObject(doc, it->string, it);
    }
    cJSON_Delete(root);
    char *out = r == XS_OK ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (r == XS_OK && !out)
        r = xs_err_set(err, XS_ERR_NOMEM, "job request: out of memory");
    if (r == XS_OK) {
        /* the render's own job-file checks, with the render's messages */
        xs_options *o = malloc(sizeof *o);
        if (!o) {
            r = xs_err_set(err, XS_ERR_NOMEM, "job request: out of memory");
        } else {
            xs_options_defaults(o);
            pthread_mutex_lock(&check_lock);
            r = xs_options_apply_job(o, "job request", "", out, strlen(out), err);
            pthread_mutex_unlock(&check_lock);
            free(o);
        }
    }
    if (r != XS_OK) {
        free(out);
        return r;
    }
    *text = out;
    return XS_OK;
}

xs_result xs_api_frames(const char *spec, int *frames, int *count, xs_err *err)
{
    pthread_mutex_lock(&check_lock);
    xs_result r = xs_frames_parse("frames", spec, frames, count, err);
    pthread_mutex_unlock(&check_lock);
    return r;
}

xs_result xs_api_lease_end(const char *body, size_t len, char *why, size_t n, xs_err *err)
{
    why[0] = '\0';
    if (!body || len == 0)
        return XS_OK;
    cJSON *root = parse_object(body, len, "lease end", err);
    if (!root)
        return XS_ERR_INVALID;
    static const char *const keys[] = {"failed", NULL};
    const char *bad = xs_json_unknown_key(root, keys);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, "failed");
    xs_result r = XS_OK;
    if (bad)
        r = xs_err_set(err, XS_ERR_INVALID, "lease end: %.64s: unknown field", bad);
    else if (f && !cJSON_IsString(f))
        r = xs_err_set(err, XS_ERR_INVALID, "lease end: failed: must be a string");
    else if (f)
        snprintf(why, n, "%s", f->valuestring);
    cJSON_Delete(root);
    return r;
}
