/* The service's HTTP client (see xs_client.h): one libcurl easy handle per
 * client (its connection kept alive between requests), retries with growing
 * pauses, chunked resumable uploads, Range downloads, progress bars. */
#include "service/xs_client.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "io/xs_file.h"
#include "service/xs_api.h"
#include "service/xs_spool.h"

struct xs_client {
    xs_client_options o;
    char server[1024];
    char auth[256];
    CURL *curl;
};

void xs_client_options_default(xs_client_options *o)
{
    memset(o, 0, sizeof *o);
    o->retry_s = 120;
    o->timeout_s = 900;
    o->chunk_bytes = 8 << 20;
}

xs_result xs_client_global_init(xs_err *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return xs_err_set(err, XS_ERR_INTERNAL, "libcurl: curl_global_init failed");
    return XS_OK;
}

xs_result xs_client_create(const xs_client_options *o, xs_client **out, xs_err *err)
{
    *out = NULL;
    if (!o->server || (strncmp(o->server, "http://", 7) != 0 && strncmp(o->server, "https://", 8) != 0))
        return xs_err_set(err, XS_ERR_INVALID, "--server: an http:// or https:// URL, got '%s'",
                          o->server ? o->server : "");
    if (!o->token || !*o->token)
        return xs_err_set(err, XS_ERR_INVALID,
                          "no token: give --token-file FILE or set XISUAN_TOKEN");
    xs_client *c = calloc(1, sizeof *c);
    if (!c)
        return xs_err_set(err, XS_ERR_NOMEM, "out of memory");
    c->o = *o;
    snprintf(c->server, sizeof c->server, "%s", o->server);
    size_t n = strlen(c->server);
    while (n > 0 && c->server[n - 1] == '/')
        c->server[--n] = '\0';
    if (snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s", o->token) >= (int)sizeof c->auth ||
        strpbrk(o->token, "\r\n")) {
        free(c);
        return xs_err_set(err, XS_ERR_INVALID, "the token is malformed");
    }
    c->curl = curl_easy_init();
    if (!c->curl) {
        free(c);
        return xs_err_set(err, XS_ERR_INTERNAL, "libcurl: curl_easy_init failed");
    }
    *out = c;
    return XS_OK;
}

void xs_client_destroy(xs_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    memset(c->auth, 0, sizeof c->auth);
    free(c);
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

/* ---- one transfer ------------------------------------------------------------------- */

typedef struct xfer {
    /* the request's body: from memory or from a file's range */
    const char *mem;
    size_t mem_len, mem_pos;
    FILE *in;
    int64_t in_len, in_pos;
    /* the response's body: into memory (up to 4 MiB) or into a file */
    char *resp;
    size_t resp_len, resp_cap;
    FILE *out;           /* only for a 200 or 206 answer; others go to resp */
    CURL *h;
    int64_t out_got;
    bool out_failed;
    char xxh3[33];
    /* progress: base + this transfer's bytes, of total; the rate from first
     * (the offset the first transfer started at) and t0 */
    const char *label;
    int64_t base, total, first;
    double t0, last_draw;
    int progress;
} xfer;

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t want = size * n;
    if (x->in) {
        int64_t left = x->in_len - x->in_pos;
        if ((int64_t)want > left)
            want = (size_t)left;
        size_t got = want ? fread(buf, 1, want, x->in) : 0;
        x->in_pos += (int64_t)got;
        return got;
    }
    size_t left = x->mem_len - x->mem_pos;
    if (want > left)
        want = left;
    memcpy(buf, x->mem + x->mem_pos, want);
    x->mem_pos += want;
    return want;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t k = size * n;
    long st = 0;
    if (x->out && x->h)
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &st);
    if (x->out && (st == 200 || st == 206)) {
        if (fwrite(data, 1, k, x->out) != k) {
            x->out_failed = true;
            return 0;
        }
        x->out_got += (int64_t)k;
        return k;
    }
    if (x->resp_len + k > ((size_t)4 << 20))
        return 0; /* an answer this big is not one of ours */
    if (x->resp_len + k + 1 > x->resp_cap) {
        size_t cap = x->resp_cap ? x->resp_cap : 4096;
        while (cap < x->resp_len + k + 1)
            cap *= 2;
        char *g = realloc(x->resp, cap);
        if (!g)
            return 0;
        x->resp = g;
        x->resp_cap = cap;
    }
    memcpy(x->resp + x->resp_len, data, k);
    x->resp_len += k;
    x->resp[x->resp_len] = '\0';
    return k;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t k = size * n;
    static const char name[] = "x-xisuan-xxh3:";
    if (k > sizeof name + 32 && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *v = data + sizeof name - 1;
        while (*v == ' ')
            ++v;
        char hex[33];
        snprintf(hex, sizeof hex, "%.32s", v);
        if (xs_api_is_xxh3(hex))
            memcpy(x->xxh3, hex, sizeof hex);
    }
    return k;
}

static void draw(xfer *x, int64_t now_bytes, bool last)
{
    double t = mono();
    if (!last && t - x->last_draw < 0.1)
        return;
    x->last_draw = t;
    const int64_t done = x->base + now_bytes;
    const double frac = x->total > 0 ? (double)done / (double)x->total : 0.0;
    const double rate = t > x->t0 ? (double)(done - x->first) / (t - x->t0) : 0.0;
    char bar[31];
    int fill = (int)(frac * 30 + 0.5);
    for (int i = 0; i < 30; ++i)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    double eta = rate > 0 ? (double)(x->total - done) / rate : 0.0;
    fprintf(stderr, "\r  %-24.24s %5.1f%% [%s] %9.1f MB %8.1f MB/s ETA %4.0f s%s", x->label,
            100.0 * frac, bar, (double)done / 1e6, rate / 1e6, eta > 0 ? eta : 0.0, last ? "\n" : "");
    fflush(stderr);
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)ultotal;
    xfer *x = ud;
    if (x->total == 0 && dltotal > 0) /* a download: its size is known once it starts */
        x->total = x->base + (int64_t)dltotal;
    if (x->progress == XS_PROGRESS_BAR)
        draw(x, (int64_t)(ulnow > dlnow ? ulnow : dlnow), false);
    return 0;
}

/* One HTTP exchange. Returns libcurl's code; *status the HTTP status (0
 * when none came). */
static CURLcode perform(xs_client *c, const char *method, const char *path,
                        struct curl_slist *extra, xfer *x, bool long_transfer, long *status)
{
    CURL *h = c->curl;
    x->h = h;
    char url[2048];
    snprintf(url, sizeof url, "%s%s", c->server, path);
    curl_easy_reset(h);
    struct curl_slist *hdrs = curl_slist_append(NULL, c->auth);
    for (struct curl_slist *e = extra; e; e = e->next)
        hdrs = curl_slist_append(hdrs, e->data);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* big transfers in big pieces: fewer calls and copies (curl's defaults
     * are 16 KiB down, 64 KiB up); not under a rate limit, which libcurl
     * 7.88 then no longer holds to for downloads */
    if (c->o.limit_rate <= 0) {
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024 * 1024);
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    /* a transfer that moves under 1 byte/s for 60 s is dead: try again */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    if (!long_transfer)
        curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)c->o.timeout_s);
    if (c->o.limit_rate > 0) {
        curl_easy_setopt(h, CURLOPT_MAX_SEND_SPEED_LARGE, (curl_off_t)c->o.limit_rate);
        curl_easy_setopt(h, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)c->o.limit_rate);
    }
    if (c->o.ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->o.ca_file);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)(x->in ? x->in_len : (int64_t)x->mem_len));
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->mem ? x->mem : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(x->mem ? x->mem_len : 0));
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    if (x->progress == XS_PROGRESS_BAR) {
        if (x->t0 == 0)
            x->t0 = mono();
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    }
    CURLcode rc = curl_easy_perform(h);
    *status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdrs);
    return rc;
}

static bool transient(CURLcode rc, long status)
{
    if (rc == CURLE_OK)
        return status == 502 || status == 503 || status == 504;
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

/* Waits before the next try; false once retry_s is over since since. */
static bool backoff(xs_client *c, double since, int *tries)
{
    if (mono() - since > c->o.retry_s)
        return false;
    double d = 0.25 * (double)(1 << (*tries < 3 ? *tries : 3));
    ++*tries;
    pause_s(d);
    return true;
}

const char *xs_client_message(const cJSON *json, long status)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(json, "message");
    if (cJSON_IsString(m))
        return m->valuestring;
    switch (status) {
    case 401: return "unauthorized: wrong or missing token";
    case 403: return "forbidden";
    case 404: return "not found";
    default: return "the service refused the request";
    }
}

xs_result xs_client_call(xs_client *c, const char *method, const char *path, const char *body,
                         bool retry, long *status, cJSON **json, xs_err *err)
{
    *json = NULL;
    const double t0 = mono();
    int tries = 0;
    for (;;) {
        xfer x = {.mem = body, .mem_len = body ? strlen(body) : 0};
        struct curl_slist *h = body ? curl_slist_append(NULL, "Content-Type: application/json") : NULL;
        CURLcode rc = perform(c, method, path, h, &x, false, status);
        curl_slist_free_all(h);
        if (rc == CURLE_OK && !transient(rc, *status)) {
            *json = x.resp ? cJSON_ParseWithLength(x.resp, x.resp_len) : NULL;
            free(x.resp);
            return XS_OK;
        }
        free(x.resp);
        if (!retry || !backoff(c, t0, &tries))
            return xs_err_set(err, XS_ERR_IO, "%s %s%s: %s", method, c->server, path,
                              rc == CURLE_OK ? "the service is unavailable" : curl_easy_strerror(rc));
    }
}

/* ---- uploads -------------------------------------------------------------------------- */

static int64_t json_int(const cJSON *o, const char *key, int64_t dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

static const char *json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

xs_result xs_client_upload(xs_client *c, const char *path, const char *name, int64_t *upload,
                           xs_err *err)
{
    char hex[33], body[512], url[128];
    int64_t size = 0;
    xs_result r = xs_file_xxh3(path, hex, &size, err);
    if (r != XS_OK)
        return r;
    snprintf(body, sizeof body, "{\"name\": \"%s\", \"size\": %" PRId64 ", \"xxh3\": \"%s\"}", name,
             size, hex);
    long status = 0;
    cJSON *j = NULL;
    if ((r = xs_client_call(c, "POST", "/v1/uploads", body, true, &status, &j, err)) != XS_OK)
        return r;
    if (status != 200 && status != 201) {
        r = xs_err_set(err, XS_ERR_INVALID, "upload %s: %ld: %s", name, status, xs_client_message(j, status));
        cJSON_Delete(j);
        return r;
    }
    *upload = json_int(j, "upload", 0);
    int64_t offset = json_int(j, "offset", 0);
    int64_t chunk = json_int(j, "chunk_max", c->o.chunk_bytes);
    bool complete = strcmp(json_str(j, "state"), "complete") == 0;
    cJSON_Delete(j);
    if (chunk > c->o.chunk_bytes)
        chunk = c->o.chunk_bytes;
    if (chunk < 1)
        chunk = 1;
    if (status == 200 && c->o.progress != XS_PROGRESS_NONE)
        fprintf(stderr, "xisuan remote: resuming upload %" PRId64 " of %s at %" PRId64 " of %" PRId64
                        " bytes\n", *upload, name, offset, size);
    snprintf(url, sizeof url, "/v1/uploads/%" PRId64, *upload);
    FILE *f = fopen(path, "rb");
    if (!f)
        return xs_err_set(err, XS_ERR_IO, "%s: %s", path, strerror(errno));
    char *buf = malloc((size_t)chunk);
    if (!buf) {
        fclose(f);
        return xs_err_set(err, XS_ERR_NOMEM, "out of memory");
    }
    xfer x = {.label = name, .total = size, .first = offset, .progress = c->o.progress};
    const double t_start = mono();
    const int64_t from = offset;
    double since = mono();
    int tries = 0, bad_sums = 0;
    while (r == XS_OK && !complete && offset < size) {
        const size_t n = (size_t)(size - offset < chunk ? size - offset : chunk);
        if (fseeko(f, offset, SEEK_SET) != 0 || fread(buf, 1, n, f) != n) {
            r = xs_err_set(err, XS_ERR_IO, "%s: read at %" PRId64 ": %s", path, offset, strerror(errno));
            break;
        }
        char sum[33], h1[64], h2[96];
        xs_xxh3_text(buf, n, sum);
        snprintf(h1, sizeof h1, "Upload-Offset: %" PRId64, offset);
        snprintf(h2, sizeof h2, "X-Xisuan-Chunk-XXH3: %s", sum);
        struct curl_slist *h = curl_slist_append(NULL, h1);
        h = curl_slist_append(h, h2);
        h = curl_slist_append(h, "Content-Type: application/octet-stream");
        x.mem = buf;
        x.mem_len = n;
        x.mem_pos = 0;
        x.resp_len = 0;
        x.base = offset;
        CURLcode rc = perform(c, "PUT", url, h, &x, true, &status);
        curl_slist_free_all(h);
        cJSON *a = rc == CURLE_OK && x.resp ? cJSON_ParseWithLength(x.resp, x.resp_len) : NULL;
        if (rc == CURLE_OK && status == 200) {
            offset = json_int(a, "offset", offset + (int64_t)n);
            complete = strcmp(json_str(a, "state"), "complete") == 0;
            since = mono();
            tries = 0;
        } else if (transient(rc, status) || (rc == CURLE_OK && status == 409)) {
            /* the service went away mid-chunk, or holds another offset: ask it */
            cJSON_Delete(a);
            a = NULL;
            if (rc != CURLE_OK || status != 409) {
                if (!backoff(c, since, &tries)) {
                    r = xs_err_set(err, XS_ERR_IO, "upload %s: the service stayed unreachable: %s",
                                   name, rc == CURLE_OK ? "unavailable" : curl_easy_strerror(rc));
                    break;
                }
            }
            long st2 = 0;
            if (xs_client_call(c, "GET", url, NULL, true, &st2, &a, err) != XS_OK) {
                r = XS_ERR_IO;
                break;
            }
            if (st2 != 200) {
                r = xs_err_set(err, XS_ERR_INVALID, "upload %s: %ld: %s", name, st2, xs_client_message(a, st2));
            } else {
                offset = json_int(a, "offset", offset);
                complete = strcmp(json_str(a, "state"), "complete") == 0;
                if (strcmp(json_str(a, "state"), "open") != 0 && !complete)
                    r = xs_err_set(err, XS_ERR_INVALID, "upload %s is %s", name, json_str(a, "state"));
            }
        } else if (rc == CURLE_OK && status == 422 && ++bad_sums < 3 &&
                   strcmp(json_str(a, "error"), "checksum") == 0 && offset + (int64_t)n < size) {
            /* a chunk damaged on the way: send it again */
        } else {
            r = rc != CURLE_OK ? xs_err_set(err, XS_ERR_IO, "upload %s: %s", name, curl_easy_strerror(rc))
                               : xs_err_set(err, XS_ERR_INVALID, "upload %s: %ld: %s", name, status,
                                            xs_client_message(a, status));
        }
        cJSON_Delete(a);
    }
    if (r == XS_OK && x.progress == XS_PROGRESS_BAR) {
        x.base = size;
        draw(&x, 0, true);
    }
    if (r == XS_OK && x.progress == XS_PROGRESS_LINES) {
        const double dt = mono() - t_start;
        fprintf(stderr, "xisuan: uploaded %s: %" PRId64 " bytes in %.3f s (%.1f MB/s), checked by the "
                        "service\n", name, size - from, dt, dt > 0 ? (double)(size - from) / dt / 1e6 : 0.0);
    }
    free(x.resp);
    free(buf);
    fclose(f);
    return r;
}

/* ---- downloads ------------------------------------------------------------------------- */

xs_result xs_client_download(xs_client *c, const char *url_path, const char *file, const char *xxh3,
                             xs_err *err)
{
    char part[XS_PATH_MAX + 8];
    snprintf(part, sizeof part, "%s.part", file);
    const char *label = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    const double t_start = mono();
    double since = mono();
    int tries = 0, restarts = 0;
    for (;;) {
        struct stat sb;
        int64_t have = stat(part, &sb) == 0 ? (int64_t)sb.st_size : 0;
        FILE *f = fopen(part, have > 0 ? "ab" : "wb");
        if (!f)
            return xs_err_set(err, XS_ERR_IO, "%s: %s", part, strerror(errno));
        char range[64];
        snprintf(range, sizeof range, "Range: bytes=%" PRId64 "-", have);
        struct curl_slist *h = have > 0 ? curl_slist_append(NULL, range) : NULL;
        xfer x = {.out = f, .label = label, .base = have, .first = have, .progress = c->o.progress};
        long status = 0;
        CURLcode rc = perform(c, "GET", url_path, h, &x, true, &status);
        curl_slist_free_all(h);
        bool write_ok = !x.out_failed && fflush(f) == 0 && fsync(fileno(f)) == 0;
        fclose(f);
        if (rc == CURLE_OK && status == 200 && have > 0) {
            /* the whole file came after what was there: start over without Range */
            free(x.resp);
            if (truncate(part, 0) != 0 || ++restarts > 3)
                return xs_err_set(err, XS_ERR_IO, "%s: cannot restart the download", part);
            continue;
        }
        if (rc == CURLE_OK && status == 416 && have > 0) {
            /* nothing past what we have: it is whole (the checksum says) */
        } else if (rc == CURLE_OK && (status == 200 || status == 206)) {
            if (!write_ok) {
                free(x.resp);
                return xs_err_set(err, XS_ERR_IO, "%s: cannot write: %s", part, strerror(errno));
            }
        } else if (transient(rc, status)) {
            free(x.resp);
            if (x.out_got > 0) {
                since = mono();
                tries = 0;
            }
            if (!backoff(c, since, &tries))
                return xs_err_set(err, XS_ERR_IO, "GET %s: the service stayed unreachable: %s",
                                  url_path, rc == CURLE_OK ? "unavailable" : curl_easy_strerror(rc));
            continue;
        } else {
            cJSON *a = x.resp ? cJSON_ParseWithLength(x.resp, x.resp_len) : NULL;
            free(x.resp);
            if (have == 0)
                unlink(part);
            xs_result r = rc != CURLE_OK
                              ? xs_err_set(err, XS_ERR_IO, "GET %s: %s", url_path, curl_easy_strerror(rc))
                              : xs_err_set(err, status == 404 ? XS_ERR_INVALID : XS_ERR_IO,
                                           "GET %s: %ld: %s", url_path, status, xs_client_message(a, status));
            cJSON_Delete(a);
            return r;
        }
        free(x.resp);
        if (x.progress == XS_PROGRESS_BAR) {
            x.total = have + x.out_got;
            draw(&x, x.out_got, true);
        }
        /* whole: check it */
        const char *want = xxh3 && *xxh3 ? xxh3 : x.xxh3;
        char got[33];
        int64_t bytes = 0;
        xs_result r = xs_file_xxh3(part, got, &bytes, err);
        if (r != XS_OK)
            return r;
        if (want[0] && strcmp(want, got) != 0) {
            unlink(part);
            if (++restarts > 2)
                return xs_err_set(err, XS_ERR_IO, "%s: its XXH3-128 is %s, the service says %s (after "
                                                  "%d tries)", file, got, want, restarts);
            continue; /* damaged on the way or a stale .part: from the start */
        }
        r = xs_commit_file(part, file, err);
        if (r == XS_OK && c->o.progress == XS_PROGRESS_LINES) {
            const double dt = mono() - t_start;
            fprintf(stderr, "xisuan: fetched %s: %" PRId64 " bytes in %.3f s (%.1f MB/s)%s\n", label, bytes,
                    dt, dt > 0 ? (double)bytes / dt / 1e6 : 0.0, want[0] ? ", XXH3-128 checked" : "");
        }
        return r;
    }
}

xs_result xs_client_put_file(xs_client *c, const char *url_path, const char *path, long *status,
                             cJSON **json, xs_err *err)
{
    *json = NULL;
    char hex[33], h1[64];
    int64_t size = 0;
    xs_result r = xs_file_xxh3(path, hex, &size, err);
    if (r != XS_OK)
        return r;
    snprintf(h1, sizeof h1, "X-Xisuan-XXH3: %s", hex);
    const double t0 = mono();
    int tries = 0;
    for (;;) {
        FILE *f = fopen(path, "rb");
        if (!f)
            return xs_err_set(err, XS_ERR_IO, "%s: %s", path, strerror(errno));
        struct curl_slist *h = curl_slist_append(NULL, h1);
        h = curl_slist_append(h, "Content-Type: application/octet-stream");
        xfer x = {.in = f, .in_len = size};
        CURLcode rc = perform(c, "PUT", url_path, h, &x, true, status);
        curl_slist_free_all(h);
        fclose(f);
        if (rc == CURLE_OK && !transient(rc, *status)) {
            *json = x.resp ? cJSON_ParseWithLength(x.resp, x.resp_len) : NULL;
            free(x.resp);
            return XS_OK;
        }
        free(x.resp);
        if (!backoff(c, t0, &tries))
            return xs_err_set(err, XS_ERR_IO, "PUT %s%s: %s", c->server, url_path,
                              rc == CURLE_OK ? "the service is unavailable" : curl_easy_strerror(rc));
    }
}
