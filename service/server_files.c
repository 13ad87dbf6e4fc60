/* Bytes in and out of the service (see server_internal.h): resumable package
 * uploads, frames a cluster sends under its lease, downloads with Range, the
 * package check, and the spool's clean-up at start.
 *
 * An upload is a file SPOOL/uploads/<id>.part written at the offset the
 * database holds: each PUT carries Upload-Offset (which must equal it),
 * Content-Length and the chunk's XXH3-128; the bytes go to disk as they
 * arrive, hashed on the way, and only a chunk that arrived whole, matched its
 * checksum and reached the disk (fdatasync) moves the offset. Anything else
 * (a dropped connection, a bad checksum, a full disk, a killed service) is cut
 * off at the committed offset, by this request or by the next one. The last
 * chunk is followed by a check of the whole file against the checksum the
 * upload was opened with.
 *
 * A frame under a lease is written to a temporary name, checked against its
 * XXH3-128, moved into place and only then recorded as done, under one lock:
 * a frame recorded done always has its file, and a frame is recorded once.
 */
#include "service/server_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/xs_json.h"
#include "service/xs_proc.h"

/* ---- the busy set: one writer per upload ------------------------------------------ */

static bool busy_take(xs_srv *s, int64_t id)
{
    bool ok = true;
    pthread_mutex_lock(&s->busy_lock);
    for (int i = 0; i < s->nbusy; ++i)
        ok &= s->busy[i] != id;
    if (ok && s->nbusy < BUSY_MAX)
        s->busy[s->nbusy++] = id;
    else
        ok = false;
    pthread_mutex_unlock(&s->busy_lock);
    return ok;
}

static void busy_drop(xs_srv *s, int64_t id)
{
    pthread_mutex_lock(&s->busy_lock);
    for (int i = 0; i < s->nbusy; ++i)
        if (s->busy[i] == id) {
            s->busy[i] = s->busy[--s->nbusy];
            break;
        }
    pthread_mutex_unlock(&s->busy_lock);
}

static cJSON *upload_json(const xs_upload *u, int64_t chunk_max)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "upload", (double)u->id);
    cJSON_AddStringToObject(d, "name", u->name);
    cJSON_AddNumberToObject(d, "size", (double)u->size);
    cJSON_AddNumberToObject(d, "offset", (double)u->offset);
    cJSON_AddStringToObject(d, "xxh3", u->xxh3);
    cJSON_AddStringToObject(d, "state", u->state);
    if (u->job)
        cJSON_AddNumberToObject(d, "job", (double)u->job);
    if (chunk_max)
        cJSON_AddNumberToObject(d, "chunk_max", (double)chunk_max);
    return d;
}

/* ---- uploads -------------------------------------------------------------------------- */

enum MHD_Result xs_upload_create(xs_req *q)
{
    xs_srv *s = q->srv;
    xs_upload_request req;
    xs_err err;
    if (xs_api_upload_request(q->body, q->body_len, &req, &err) != XS_OK)
        return xs_respond_error(q, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", err.msg);
    if (req.size > s->cfg.max_package_bytes)
        return xs_respond_error(q, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                "upload request: size: %" PRId64 " bytes is over this service's "
                                "limit of %" PRId64 " bytes a package",
                                req.size, s->cfg.max_package_bytes);
    xs_upload u;
    bool resumed = false;
    xs_store_verdict v;
    if (xs_store_upload_open(s->store, q->who.id, req.name, req.size, req.xxh3, q->who.quota_bytes,
                             xs_wall_now(), &u, &resumed, &v, &err) != XS_OK)
        return xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
    if (v == XS_STORE_QUOTA)
        return xs_respond_error(q, MHD_HTTP_FORBIDDEN, "quota", "%s", err.msg);
    snprintf(q->note, sizeof q->note, "upload %" PRId64 "%s at %" PRId64, u.id,
             resumed ? " resumed" : " opened", u.offset);
    return xs_respond_json(q, resumed ? MHD_HTTP_OK : MHD_HTTP_CREATED,
                           upload_json(&u, s->cfg.max_chunk_bytes));
}

static bool own_upload(xs_req *q, int64_t id, xs_upload *u)
{
    bool found = false;
    xs_err err;
    if (xs_store_upload_get(q->srv->store, id, u, &found, &err) != XS_OK) {
        xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
        return false;
    }
    if (!found || u->studio != q->who.id) { /* another studio's upload does not exist for this one */
        xs_respond_error(q, MHD_HTTP_NOT_FOUND, "not_found", "no upload %" PRId64, id);
        return false;
    }
    return true;
}

enum MHD_Result xs_upload_show(xs_req *q)
{
    xs_upload u;
    if (!own_upload(q, q->route.id, &u))
        return MHD_YES;
    return xs_respond_json(q, MHD_HTTP_OK, upload_json(&u, q->srv->cfg.max_chunk_bytes));
}

/* ---- streamed bodies ------------------------------------------------------------------- */

static bool need_length(xs_req *q, int64_t max, int64_t *len)
{
    const char *cl = xs_header(q, "Content-Length");
    if (!cl) {
        xs_respond_error(q, MHD_HTTP_LENGTH_REQUIRED, "length_required",
                         "send Content-Length (chunked bodies are not taken here)");
        return false;
    }
    if (!xs_api_uint(cl, INT64_MAX / 2, len)) {
        xs_respond_error(q, MHD_HTTP_BAD_REQUEST, "bad_request", "Content-Length: not a number");
        return false;
    }
    if (*len > max) {
        xs_respond_error(q, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                         "%" PRId64 " bytes in one request; at most %" PRId64, *len, max);
        return false;
    }
    return true;
}

static bool open_stream(xs_req *q, const char *path, int flags)
{
    q->fd = open(path, flags | O_WRONLY | O_CLOEXEC, 0600);
    if (q->fd < 0) {
        xs_respond_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "io", "cannot open the spool file: %s",
                         strerror(errno));
        return false;
    }
    q->hash = XXH3_createState();
    if (!q->hash) {
        xs_respond_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "nomem", "out of memory");
        return false;
    }
    XXH3_128bits_reset(q->hash);
    return true;
}

static bool begin_upload(xs_req *q)
{
    xs_srv *s = q->srv;
    if (!own_upload(q, q->route.id, &q->upload))
        return false;
    xs_upload *u = &q->upload;
    int64_t len = 0, off = 0;
    if (strcmp(u->state, "open") != 0) {
        xs_respond_error(q, MHD_HTTP_CONFLICT, "conflict", "upload %" PRId64 " is %s", u->id, u->state);
        return false;
    }
    if (!need_length(q, s->cfg.max_chunk_bytes, &len))
        return false;
    const char *ho = xs_header(q, "Upload-Offset");
    if (!ho || !xs_api_uint(ho, INT64_MAX / 2, &off)) {
        xs_respond_error(q, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "Upload-Offset: give the byte offset this chunk starts at");
        return false;
    }
    if (off != u->offset) {
        xs_respond_error(q, MHD_HTTP_CONFLICT, "offset",
                         "Upload-Offset: %" PRId64 ", but the upload holds %" PRId64 " bytes: "
                         "send from there", off, u->offset);
        return false;
    }
    if (off + len > u->size) {
        xs_respond_error(q, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                         "%" PRId64 " bytes at offset %" PRId64 " go past the declared size of %" PRId64,
                         len, off, u->size);
        return false;
    }
    const char *hc = xs_header(q, "X-Xisuan-Chunk-XXH3");
    if (hc && !xs_api_is_xxh3(hc)) {
        xs_respond_error(q, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "X-Xisuan-Chunk-XXH3: 32 lowercase hex digits");
        return false;
    }
    if (!busy_take(s, u->id)) {
        xs_respond_error(q, MHD_HTTP_CONFLICT, "busy", "upload %" PRId64 " is being written by another request", u->id);
        return false;
    }
    q->holds_busy = true;
    snprintf(q->want_xxh3, sizeof q->want_xxh3, "%s", hc ? hc : "");
    char path[XS_PATH_MAX];
    xs_spool_upload_path(&s->spool, u->id, path, sizeof path);
    if (!open_stream(q, path, O_CREAT))
        return false;
    /* bytes past the committed offset are the rest of an interrupted chunk */
    if (ftruncate(q->fd, off) != 0 || lseek(q->fd, off, SEEK_SET) != off) {
        xs_respond_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "io", "%s: %s", path, strerror(errno));
        return false;
    }
    q->offset = off;
    q->expect = len;
    q->stream = STREAM_UPLOAD;
    return true;
}

static bool begin_frame(xs_req *q, bool preview)
{
    xs_srv *s = q->srv;
    bool found = false;
    xs_err err;
    xs_frame_row f;
    if (xs_store_lease_get(s->store, q->route.id, &q->lease, &found, &err) != XS_OK) {
        xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
        return false;
    }
    if (!found || q->lease.cluster != q->who.id) {
        xs_respond_error(q, MHD_HTTP_NOT_FOUND, "not_found", "no lease %" PRId64 " of this cluster", q->route.id);
        return false;
    }
    if (xs_store_job_get(s->store, q->lease.job, &q->job, &found, &err) != XS_OK || !found ||
        xs_store_frame_get(s->store, q->lease.job, q->route.frame, &f, &found, &err) != XS_OK || !found) {
        xs_respond_error(q, MHD_HTTP_NOT_FOUND, "not_found", "frame %d is not in the lease's job", q->route.frame);
        return false;
    }
    if (!preview && f.done) {
        xs_respond_error(q, MHD_HTTP_CONFLICT, "done", "frame %d was committed already (by %s)",
                         q->route.frame, f.by);
        return false;
    }
    if (!preview && f.lease != q->lease.id) {
        xs_respond_error(q, MHD_HTTP_GONE, "gone", "frame %d is not under lease %" PRId64 " any more",
                         q->route.frame, q->lease.id);
        return false;
    }
    if (preview && (!f.done || f.lease != q->lease.id || f.preview[0])) {
        xs_respond_error(q, MHD_HTTP_CONFLICT, "conflict",
                         "a preview goes with a frame this lease committed, once");
        return false;
    }
    int64_t len = 0;
    if (!need_length(q, s->cfg.max_package_bytes, &len))
        return false;
    const char *h = xs_header(q, "X-Xisuan-XXH3");
    if (!h || !xs_api_is_xxh3(h)) {
        xs_respond_error(q, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "X-Xisuan-XXH3: the file's XXH3-128 as 32 lowercase hex digits");
        return false;
    }
    snprintf(q->want_xxh3, sizeof q->want_xxh3, "%s", h);
    char dir[XS_PATH_MAX], file[96];
    xs_spool_output_file(&s->spool, q->job.id, q->job.job, "", dir, sizeof dir);
    snprintf(file, sizeof file, ".%s.%04d.%s.lease-%" PRId64 ".tmp", q->job.name, q->route.frame,
             preview ? "png" : "exr", q->lease.id);
    if (xs_mkdir_p(dir, &err) != XS_OK) {
        xs_respond_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "io", "%s", err.msg);
        return false;
    }
    xs_spool_output_file(&s->spool, q->job.id, q->job.job, file, q->tmp, sizeof q->tmp);
    if (!open_stream(q, q->tmp, O_CREAT | O_TRUNC))
        return false;
    q->expect = len;
    q->stream = preview ? STREAM_PREVIEW : STREAM_FRAME;
    return true;
}

bool xs_stream_begin(xs_req *q)
{
    if (q->route.kind == XS_ROUTE_UPLOAD)
        return begin_upload(q);
    return begin_frame(q, q->route.kind == XS_ROUTE_LEASE_PREVIEW);
}

void xs_stream_data(xs_req *q, const char *data, size_t n)
{
    if (q->got + (int64_t)n > q->expect) { /* cannot happen with Content-Length; be sure */
        q->write_errno = EFBIG;
        q->got += (int64_t)n;
        return;
    }
    q->got += (int64_t)n;
    if (q->write_errno)
        return;
    XXH3_128bits_update(q->hash, data, n);
    size_t done = 0;
    while (done < n) {
        ssize_t k = write(q->fd, data + done, n - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            q->write_errno = k < 0 ? errno : EIO;
            return;
        }
        done += (size_t)k;
    }
}

static void hash_text(XXH3_state_t *h, char out[33])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(h));
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; ++i) {
        out[2 * i] = digits[c.digest[i] >> 4];
        out[2 * i + 1] = digits[c.digest[i] & 15];
    }
    out[32] = '\0';
}

static void fsync_dir_of(const char *path)
{
    char dir[XS_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return;
    *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* The stream's failure, if any: answers it and returns true. */
static bool stream_failed(xs_req *q)
{
    if (q->got != q->expect || q->write_errno == EFBIG) {
        xs_respond_error(q, MHD_HTTP_BAD_REQUEST, "bad_request",
                         "the body held %" PRId64 " bytes, Content-Length said %" PRId64, q->got, q->expect);
        return true;
    }
    if (q->write_errno) {
        xs_respond_error(q, q->write_errno == ENOSPC || q->write_errno == EDQUOT ? 507 : 500, "io",
                         "the spool refused the bytes: %s", strerror(q->write_errno));
        return true;
    }
    char got[33];
    hash_text(q->hash, got);
    if (q->want_xxh3[0] && strcmp(got, q->want_xxh3) != 0) {
        xs_respond_error(q, MHD_HTTP_UNPROCESSABLE_CONTENT, "checksum",
                         "the bytes' XXH3-128 is %s, the request said %s: send them again", got,
                         q->want_xxh3);
        return true;
    }
    if (fdatasync(q->fd) != 0) {
        xs_respond_error(q, 500, "io", "the spool could not make the bytes durable: %s", strerror(errno));
        return true;
    }
    return false;
}

static enum MHD_Result end_upload(xs_req *q)
{
    xs_srv *s = q->srv;
    xs_upload *u = &q->upload;
    xs_err err;
    if (stream_failed(q))
        return MHD_YES; /* xs_stream_abort (on completion) cuts the file back */
    close(q->fd);
    q->fd = -1;
    int64_t off = q->offset + q->got;
    const char *state = "open";
    char path[XS_PATH_MAX];
    xs_spool_upload_path(&s->spool, u->id, path, sizeof path);
    if (off == u->size) { /* the last chunk: the whole package against its checksum */
        char whole[33];
        int64_t bytes = 0;
        if (xs_file_xxh3(path, whole, &bytes, &err) != XS_OK || bytes != u->size ||
            strcmp(whole, u->xxh3) != 0) {
            xs_store_upload_set(s->store, u->id, 0, "failed", xs_wall_now(), &err);
            unlink(path);
            q->stream = STREAM_NONE;
            busy_drop(s, u->id);
            q->holds_busy = false;
            return xs_respond_error(q, MHD_HTTP_UNPROCESSABLE_CONTENT, "checksum",
                                    "upload %" PRId64 ": the package's XXH3-128 is %s, the upload "
                                    "was opened for %s; it is dropped: upload again",
                                    u->id, bytes == u->size ? whole : "(unreadable)", u->xxh3);
        }
        state = "complete";
    }
    if (xs_store_upload_set(s->store, u->id, off, state, xs_wall_now(), &err) != XS_OK)
        return xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
    q->stream = STREAM_NONE; /* committed: nothing to undo */
    busy_drop(s, u->id);
    q->holds_busy = false;
    u->offset = off;
    snprintf(u->state, sizeof u->state, "%s", state);
    snprintf(q->note, sizeof q->note, "upload %" PRId64 ": %" PRId64 " of %" PRId64 " bytes", u->id,
             off, u->size);
    return xs_respond_json(q, MHD_HTTP_OK, upload_json(u, 0));
}

static enum MHD_Result end_frame(xs_req *q, bool preview)
{
    xs_srv *s = q->srv;
    xs_err err;
    xs_err_clear(&err);
    if (stream_failed(q))
        return MHD_YES;
    close(q->fd);
    q->fd = -1;
    char file[96], final[XS_PATH_MAX];
    snprintf(file, sizeof file, "%s.%04d.%s", q->job.name, q->route.frame, preview ? "png" : "exr");
    xs_spool_output_file(&s->spool, q->job.id, q->job.job, file, final, sizeof final);
    char by[96];
    snprintf(by, sizeof by, "%s", q->lease.cluster_name);
    pthread_mutex_lock(&s->commit_lock);
    xs_frame_row f;
    bool found = false;
    xs_result r = xs_store_frame_get(s->store, q->job.id, q->route.frame, &f, &found, &err);
    int status = 0;
    const char *code = "";
    if (r != XS_OK || !found) {
        status = MHD_HTTP_SERVICE_UNAVAILABLE, code = "database";
    } else if (!preview && f.done) {
        status = MHD_HTTP_CONFLICT, code = "done";
    } else if (!preview && f.lease != q->lease.id) {
        status = MHD_HTTP_GONE, code = "gone";
    } else if (rename(q->tmp, final) != 0) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR, code = "io";
        snprintf(err.msg, sizeof err.msg, "%s: %s", final, strerror(errno));
    }
    bool job_done = false;
    xs_store_verdict v = XS_STORE_DONE;
    if (!status) {
        fsync_dir_of(final);
        q->stream = STREAM_NONE;
        if (preview)
            r = xs_store_frame_set_preview(s->store, q->job.id, q->route.frame, file, q->got, &err);
        else
            r = xs_store_frame_commit(s->store, q->job.id, q->route.frame, q->lease.id, by, file,
                                      q->got, q->want_xxh3, xs_wall_now(), &v, &job_done, &err);
        if (r != XS_OK)
            status = MHD_HTTP_SERVICE_UNAVAILABLE, code = "database";
        else if (v != XS_STORE_DONE) /* checked under the lock above: cannot happen */
            status = MHD_HTTP_CONFLICT, code = "conflict";
    }
    pthread_mutex_unlock(&s->commit_lock);
    if (status) {
        if (!err.msg[0] || strcmp(code, "done") == 0 || strcmp(code, "gone") == 0)
            snprintf(err.msg, sizeof err.msg, "frame %d %s", q->route.frame,
                     strcmp(code, "done") == 0 ? "was committed already" : "is under another lease now");
        return xs_respond_error(q, status, code, "%s", err.msg);
    }
    xs_log_emit(s->log, "info", preview ? "preview_committed" : "frame_committed",
                "\"job\": %" PRId64 ", \"frame\": %d, \"lease\": %" PRId64 ", \"cluster\": \"%s\", "
                "\"bytes\": %" PRId64 "%s",
                q->job.id, q->route.frame, q->lease.id, q->lease.cluster_name, q->got,
                job_done ? ", \"job_completed\": true" : "");
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "frame", q->route.frame);
    cJSON_AddStringToObject(d, "file", file);
    cJSON_AddBoolToObject(d, "job_completed", job_done);
    return xs_respond_json(q, MHD_HTTP_CREATED, d);
}

enum MHD_Result xs_stream_end(xs_req *q)
{
    if (q->stream == STREAM_UPLOAD)
        return end_upload(q);
    return end_frame(q, q->stream == STREAM_PREVIEW);
}

void xs_stream_abort(xs_req *q)
{
    if (q->fd >= 0) {
        if (q->stream == STREAM_UPLOAD && ftruncate(q->fd, q->offset) != 0) {
            /* the next PUT truncates to the committed offset again */
        }
        close(q->fd);
        q->fd = -1;
    }
    if ((q->stream == STREAM_FRAME || q->stream == STREAM_PREVIEW) && q->tmp[0])
        unlink(q->tmp);
    if (q->holds_busy) {
        busy_drop(q->srv, q->upload.id);
        q->holds_busy = false;
    }
    q->stream = STREAM_NONE;
}

/* ---- downloads ------------------------------------------------------------------------------ */

static enum MHD_Result send_file(xs_req *q, const char *path, const char *type, const char *xxh3)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        return xs_respond_error(q, MHD_HTTP_INTERNAL_SERVER_ERROR, "io", "the file is missing from the spool");
    }
    const int64_t size = sb.st_size;
    int64_t start = 0, count = size;
    int partial = xs_api_range(xs_header(q, "Range"), size, &start, &count);
    if (partial < 0) {
        close(fd);
        char *body = strdup("{\"error\": \"range\", \"message\": \"the range is outside the file\"}\n");
        struct MHD_Response *r = body ? MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE) : NULL;
        if (!r) {
            free(body);
            return MHD_NO;
        }
        char cr[64];
        snprintf(cr, sizeof cr, "bytes */%" PRId64, size);
        MHD_add_response_header(r, "Content-Range", cr);
        MHD_add_response_header(r, "Content-Type", "application/json");
        q->status = MHD_HTTP_RANGE_NOT_SATISFIABLE;
        snprintf(q->error, sizeof q->error, "range");
        enum MHD_Result ok = MHD_queue_response(q->c, MHD_HTTP_RANGE_NOT_SATISFIABLE, r);
        MHD_destroy_response(r);
        return ok;
    }
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64((uint64_t)count, fd, (uint64_t)start);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Accept-Ranges", "bytes");
    if (xxh3 && *xxh3) {
        char etag[40];
        snprintf(etag, sizeof etag, "\"%s\"", xxh3);
        MHD_add_response_header(r, "X-Xisuan-XXH3", xxh3);
        MHD_add_response_header(r, "ETag", etag);
    }
    int status = MHD_HTTP_OK;
    if (partial > 0) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %" PRId64 "-%" PRId64 "/%" PRId64, start, start + count - 1, size);
        MHD_add_response_header(r, "Content-Range", cr);
        status = MHD_HTTP_PARTIAL_CONTENT;
    }
    q->status = status;
    enum MHD_Result ok = MHD_queue_response(q->c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

enum MHD_Result xs_download_frame(xs_req *q, bool preview)
{
    xs_job_row j;
    if (!xs_job_visible(q, q->route.id, &j))
        return MHD_YES;
    xs_frame_row f;
    bool found = false;
    xs_err err;
    if (xs_store_frame_get(q->srv->store, j.id, q->route.frame, &f, &found, &err) != XS_OK)
        return xs_respond_error(q, MHD_HTTP_SERVICE_UNAVAILABLE, "database", "%s", err.msg);
    if (!found)
        return xs_respond_error(q, MHD_HTTP_NOT_FOUND, "not_found", "frame %d is not in job %" PRId64,
                                q->route.frame, j.id);
    if (!f.done || (preview && !f.preview[0]))
        return xs_respond_error(q, MHD_HTTP_NOT_FOUND, "not_ready", "frame %d%s is not rendered yet",
                                q->route.frame, preview ? "'s preview" : "");
    char path[XS_PATH_MAX];
    xs_spool_output_file(&q->srv->spool, j.id, j.job, preview ? f.preview : f.file, path, sizeof path);
    return send_file(q, path, preview ? "image/png" : "image/x-exr", preview ? NULL : f.xxh3);
}

enum MHD_Result xs_download_package(xs_req *q)
{
    xs_job_row j;
    if (!xs_job_visible(q, q->route.id, &j))
        return MHD_YES;
    char path[XS_PATH_MAX];
    xs_spool_job_file(&q->srv->spool, j.id, "package.tar.zst", path, sizeof path);
    return send_file(q, path, "application/zstd", j.package_xxh3);
}

/* ---- the package check ----------------------------------------------------------------------- */

xs_result xs_package_check(xs_srv *s, const char *path, char *frames, size_t n, xs_err *err)
{
    char *argv[] = {s->self, (char *)"pack", (char *)"--check", (char *)path, NULL};
    xs_proc_result *res = malloc(sizeof *res);
    if (!res)
        return xs_err_set(err, XS_ERR_NOMEM, "out of memory");
    xs_result r = xs_proc_run(argv, s->cfg.check_timeout_s, res, err);
    frames[0] = '\0';
    if (r == XS_OK && res->timed_out) {
        r = xs_err_set(err, XS_ERR_INVALID, "the package check took over %.0f s",
                       s->cfg.check_timeout_s);
    } else if (r == XS_OK && res->status != 0) {
        /* "xisuan pack: error: <what, where, why>" */
        const char *m = strstr(res->out, "error: ");
        m = m ? m + 7 : res->out;
        size_t len = strcspn(m, "\n");
        r = xs_err_set(err, XS_ERR_INVALID, "%.*s", (int)(len < 900 ? len : 900), m);
        if (res->status > 2)
            r = xs_err_set(err, XS_ERR_INTERNAL, "the package check ended with status %d: %.*s",
                           res->status, (int)(len < 800 ? len : 800), m);
    } else if (r == XS_OK) {
        const char *line = strstr(res->out, "{\"frames\": \"");
        if (line) {
            line += 12;
            size_t len = strcspn(line, "\"");
            snprintf(frames, n, "%.*s", (int)len, line);
        }
    }
    free(res);
    return r;
}

/* ---- the spool's clean-up ---------------------------------------------------------------------- */

static bool numeric_name(const char *name, const char *suffix, int64_t *id)
{
    size_t n = strlen(name), k = strlen(suffix);
    if (n <= k || strcmp(name + n - k, suffix) != 0 || n - k > 16)
        return false;
    char digits[20];
    snprintf(digits, sizeof digits, "%.*s", (int)(n - k), name);
    return xs_api_uint(digits, INT64_MAX / 2, id) && digits[0] != '0';
}

void xs_spool_clean(xs_srv *s)
{
    xs_err err;
    int64_t *live = NULL;
    int nlive = 0;
    if (xs_store_upload_live(s->store, &live, &nlive, &err) != XS_OK)
        return;
    char dir[XS_PATH_MAX + 16], path[2 * XS_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/uploads", s->spool.root);
    DIR *d = opendir(dir);
    int removed = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        int64_t id = 0;
        if (!numeric_name(e->d_name, ".tar.zst", &id))
            continue;
        bool keep = false;
        for (int i = 0; i < nlive; ++i)
            keep |= live[i] == id;
        if (!keep) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            removed += unlink(path) == 0;
        }
    }
    if (d)
        closedir(d);
    free(live);
    snprintf(dir, sizeof dir, "%s/jobs", s->spool.root);
    d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        int64_t id = 0;
        xs_job_row j;
        bool found = true;
        if (!numeric_name(e->d_name, "", &id) &&
            !(xs_api_uint(e->d_name, INT64_MAX / 2, &id) && e->d_name[0] != '0'))
            continue;
        if (xs_store_job_get(s->store, id, &j, &found, &err) == XS_OK && !found) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            removed += xs_remove_tree(path, &err) == XS_OK;
        }
    }
    if (d)
        closedir(d);
    if (removed)
        xs_log_emit(s->log, "info", "spool_clean", "\"removed\": %d", removed);
}
