/* `xisuan remote submit|status|fetch|cancel`: a studio's client of the
 * submission service (service/xs_client.h). submit packs a folder or a glTF
 * first (deterministically: the same scene gives the same bytes, so an
 * interrupted upload resumes even across runs), checks it as `xisuan pack`
 * does, uploads it in checksummed chunks and creates the job; fetch
 * downloads frames as they finish, checks each against its checksum and
 * resumes a download where it stopped. No MPI.
 *
 * Exit status: 0 done (fetch: the job completed and every frame is here),
 * 1 the job failed or was cancelled, or the service failed, 2 bad input or a
 * refused request, 3 the job is still in flight (status, fetch without
 * --wait).
 */
#include "scheduler/cmd/xs_cmd.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io/xs_file.h"
#include "io/xs_package.h"
#include "io/xs_scene_input.h"
#include "scheduler/xs_options.h"
#include "service/xs_api.h"
#include "service/xs_client.h"
#include "service/xs_spool.h"

static void remote_usage(FILE *f)
{
    fputs("usage: xisuan remote [--server URL] [--token-file F] COMMAND ...\n"
          "\n"
          "  submit SCENE [flags]   upload a package (.tar.zst), a folder with manifest.json or a\n"
          "                         .gltf/.glb (packed first), and queue a job; prints its id\n"
          "      --job NAME  --name NAME  --frames SPEC  --resolution WxH  --spp N  --tile N\n"
          "      --spec JOB.json        other job-file fields (docs/operations.md) to send\n"
          "      --mode slurm|lease     rendered through the service's Slurm, or by clusters\n"
          "                             that lease frames [slurm]\n"
          "      --nodes N --ranks-per-node R --gpus-per-node G --cpus-per-rank C --time T\n"
          "                             the Slurm request (mode slurm)\n"
          "      --fetch DIR            then wait, and fetch the frames into DIR as they finish\n"
          "  status [JOB] [--json]  one job (exit 0 completed, 3 in flight, 1 failed), or all jobs\n"
          "  fetch JOB --out DIR [--wait] [--poll S] [--timeout S] [--no-previews] [--package]\n"
          "                         download finished frames (checked, resumed), previews and\n"
          "                         the job's report.html (and its package, as uploaded)\n"
          "  cancel JOB\n"
          "\n"
          "  --server URL           the service [$XISUAN_SERVER]\n"
          "  --token-file F         the studio's token [$XISUAN_TOKEN]\n"
          "  --progress bar|lines|off  transfer progress [bar on a terminal, else off]\n"
          "  --retry S              keep trying an unreachable service this long [120]\n"
          "  --limit-rate BYTES     per second, for uploads and downloads (K, M, G) [no limit]\n"
          "  --chunk-bytes N        upload chunk size [8M]\n"
          "  --cache DIR            where folders and glTF files are packed [$XDG_CACHE_HOME/xisuan]\n"
          "  --ca-file F            a CA bundle for https\n",
          f);
}

typedef struct remote_opts {
    xs_client_options c;
    const char *token_file, *cache;
    char token[160];
} remote_opts;

static bool parse_bytes(const char *v, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || errno || !(x > 0))
        return false;
    double m = *end == 'K' ? 1024.0 : *end == 'M' ? 1048576.0 : *end == 'G' ? 1073741824.0 : 1.0;
    if (m > 1)
        ++end;
    if (*end)
        return false;
    *out = (int64_t)(x * m);
    return true;
}

static bool parse_double(const char *v, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(x) || x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

static int fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "xisuan remote: error: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return status;
}

static xs_result open_client(remote_opts *o, xs_client **c, xs_err *err)
{
    if (!o->c.server)
        o->c.server = getenv("XISUAN_SERVER");
    if (o->token_file) {
        FILE *f = fopen(o->token_file, "r");
        if (!f || !fgets(o->token, sizeof o->token, f)) {
            if (f)
                fclose(f);
            return xs_err_set(err, XS_ERR_INVALID, "--token-file %s: cannot read a token", o->token_file);
        }
        fclose(f);
        o->token[strcspn(o->token, "\r\n")] = '\0';
    } else if (getenv("XISUAN_TOKEN")) {
        snprintf(o->token, sizeof o->token, "%s", getenv("XISUAN_TOKEN"));
    }
    o->c.token = o->token;
    xs_result r = xs_client_global_init(err);
    return r == XS_OK ? xs_client_create(&o->c, c, err) : r;
}

/* A status from the service's answer: 2 for a refusal, 1 for its failure. */
static int refused(long status, const cJSON *j, const char *what)
{
    fprintf(stderr, "xisuan remote: error: %s: %ld: %s\n", what, status, xs_client_message(j, status));
    return status >= 500 ? 1 : 2;
}

/* ---- submit ------------------------------------------------------------------------------- */

/* A job name from a path: its base name without the extension. */
static void name_from(const char *path, char *out, size_t n)
{
    char tmp[XS_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    size_t len = strlen(tmp);
    while (len > 1 && tmp[len - 1] == '/')
        tmp[--len] = '\0';
    const char *b = strrchr(tmp, '/') ? strrchr(tmp, '/') + 1 : tmp;
    size_t k = strlen(b);
    if (xs_has_suffix(b, ".tar.zst"))
        k -= 8;
    else if (xs_has_suffix(b, ".gltf"))
        k -= 5;
    else if (xs_has_suffix(b, ".glb"))
        k -= 4;
    size_t o = 0;
    for (size_t i = 0; i < k && o + 1 < n; ++i) {
        char ch = b[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  ch == '_' || ch == '-' || (ch == '.' && o > 0);
        out[o++] = ok ? ch : '_';
    }
    out[o] = '\0';
    if (!o)
        snprintf(out, n, "scene");
}

/* The package to upload: the .tar.zst itself, or a folder or glTF packed
 * into the cache (checked as `xisuan pack` checks). */
static xs_result package_of(const char *input, const char *cache, const char *name, char *pkg,
                            size_t n, xs_err *err)
{
    struct stat sb;
    if (stat(input, &sb) != 0)
        return xs_err_set(err, XS_ERR_INVALID, "%s: %s", input, strerror(errno));
    if (S_ISREG(sb.st_mode) && xs_has_suffix(input, ".tar.zst")) {
        snprintf(pkg, n, "%s", input);
        return XS_OK;
    }
    unsigned char *bytes = NULL;
    size_t len = 0;
    xs_scene_limits lim;
    xs_scene_limits_default(&lim);
    xs_scene_input *in = NULL;
    xs_result r;
    if (S_ISDIR(sb.st_mode)) {
        r = xs_pkg_build_dir(input, 9, &bytes, &len, err);
        if (r == XS_OK)
            r = xs_scene_input_open(input, bytes, len, &lim, &in, err);
    } else if (xs_has_suffix(input, ".gltf") || xs_has_suffix(input, ".glb")) {
        r = xs_scene_input_load(input, &lim, &bytes, &len, &in, err);
    } else {
        return xs_err_set(err, XS_ERR_INVALID,
                          "%s: give a .tar.zst package, a folder with manifest.json, or a .gltf/.glb",
                          input);
    }
    xs_scene_input_destroy(in);
    char dir[XS_PATH_MAX];
    if (r == XS_OK) {
        if (cache)
            snprintf(dir, sizeof dir, "%s", cache);
        else if (getenv("XDG_CACHE_HOME"))
            snprintf(dir, sizeof dir, "%s/xisuan", getenv("XDG_CACHE_HOME"));
        else if (getenv("HOME"))
            snprintf(dir, sizeof dir, "%s/.cache/xisuan", getenv("HOME"));
        else
            snprintf(dir, sizeof dir, "/tmp/xisuan-cache");
        r = xs_mkdir_p(dir, err);
    }
    if (r == XS_OK && snprintf(pkg, n, "%s/%s.tar.zst", dir, name) >= (int)n)
        r = xs_err_set(err, XS_ERR_INVALID, "--cache: path too long");
    if (r == XS_OK)
        r = xs_file_write_atomic(pkg, bytes, len, err);
    free(bytes);
    return r;
}

static int fetch_loop(xs_client *c, int64_t job, const char *out, bool wait, double poll_s,
                      double timeout_s, bool previews, bool package, int progress);

static int cmd_submit(remote_opts *o, int argc, char **argv)
{
    const char *input = NULL, *spec = NULL, *fetch_dir = NULL;
    char job[64] = "";
    cJSON *body = cJSON_CreateObject(), *render = NULL, *slurm = NULL;
    int status = 0;
    for (int i = 0; i < argc && status == 0; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x = 0;
        if (a[0] != '-' && !input) {
            input = a;
            continue;
        }
        if (!v) {
            status = fail(2, "%s: missing value or unexpected argument%s", a, "");
            break;
        }
        ++i;
        if (strcmp(a, "--job") == 0) {
            snprintf(job, sizeof job, "%s", v);
        } else if (strcmp(a, "--spec") == 0) {
            spec = v;
        } else if (strcmp(a, "--fetch") == 0) {
            fetch_dir = v;
        } else if (strcmp(a, "--name") == 0 || strcmp(a, "--frames") == 0 || strcmp(a, "--mode") == 0) {
            cJSON_DeleteItemFromObjectCaseSensitive(body, a + 2);
            cJSON_AddStringToObject(body, a + 2, v);
        } else if (strcmp(a, "--spp") == 0 || strcmp(a, "--tile") == 0) {
            if (!parse_double(v, 1, 1 << 24, &x) || x != floor(x)) {
                status = fail(2, "%s: an integer, got '%s'", a, v);
                break;
            }
            if (!render)
                render = cJSON_CreateObject();
            cJSON_AddNumberToObject(render, a + 2, x);
        } else if (strcmp(a, "--resolution") == 0) {
            int w = 0, h = 0;
            char tail = 0;
            if (sscanf(v, "%dx%d%c", &w, &h, &tail) != 2) {
                status = fail(2, "--resolution: WxH, got '%s'%s", v, "");
                break;
            }
            if (!render)
                render = cJSON_CreateObject();
            cJSON *res = cJSON_AddArrayToObject(render, "resolution");
            cJSON_AddItemToArray(res, cJSON_CreateNumber(w));
            cJSON_AddItemToArray(res, cJSON_CreateNumber(h));
        } else if (strcmp(a, "--nodes") == 0 || strcmp(a, "--ranks-per-node") == 0 ||
                   strcmp(a, "--gpus-per-node") == 0 || strcmp(a, "--cpus-per-rank") == 0) {
            if (!parse_double(v, 0, 1e6, &x) || x != floor(x)) {
                status = fail(2, "%s: an integer, got '%s'", a, v);
                break;
            }
            char key[32];
            snprintf(key, sizeof key, "%s", a + 2);
            for (char *p = key; *p; ++p)
                *p = *p == '-' ? '_' : *p;
            if (!slurm)
                slurm = cJSON_CreateObject();
            cJSON_AddNumberToObject(slurm, key, x);
        } else if (strcmp(a, "--time") == 0) {
            if (!slurm)
                slurm = cJSON_CreateObject();
            cJSON_AddStringToObject(slurm, "time", v);
        } else {
            status = fail(2, "unexpected argument '%s'%s (see --help)", a, "");
        }
    }
    if (status == 0 && !input)
        status = fail(2, "submit: which scene? (a .tar.zst, a folder, a .gltf/.glb)%s%s", "", "");
    if (status == 0 && spec) { /* the job file's fields, the flags above winning */
        unsigned char *text = NULL;
        size_t tl = 0;
        xs_err err;
        cJSON *s = NULL;
        if (xs_file_read_all(spec, 1u << 20, &text, &tl, &err) != XS_OK ||
            !(s = cJSON_ParseWithLength((const char *)text, tl)) || !cJSON_IsObject(s)) {
            status = fail(2, "--spec %s: not a JSON object%s", spec, "");
        } else {
            cJSON_DeleteItemFromObjectCaseSensitive(s, "package");
            cJSON_DeleteItemFromObjectCaseSensitive(s, "output");
            cJSON_DeleteItemFromObjectCaseSensitive(s, "schema");
            for (cJSON *it = s->child; it;) {
                cJSON *next = it->next;
                if (!cJSON_GetObjectItemCaseSensitive(body, it->string) &&
                    !(strcmp(it->string, "render") == 0 && render) &&
                    !(strcmp(it->string, "slurm") == 0 && slurm) &&
                    !(strcmp(it->string, "job") == 0 && job[0]))
                    cJSON_AddItemToObject(body, it->string, cJSON_DetachItemViaPointer(s, it));
                it = next;
            }
        }
        cJSON_Delete(s);
        free(text);
    }
    if (render)
        cJSON_AddItemToObject(body, "render", render);
    if (slurm)
        cJSON_AddItemToObject(body, "slurm", slurm);
    render = slurm = NULL;
    if (status == 0 && !job[0]) {
        const cJSON *sj = cJSON_GetObjectItemCaseSensitive(body, "job");
        if (cJSON_IsString(sj))
            snprintf(job, sizeof job, "%s", sj->valuestring);
        else
            name_from(input, job, sizeof job);
    }
    if (status == 0 && !xs_api_plain_name(job, sizeof job))
        status = fail(2, "--job: '%s' is not a plain name (letters, digits, '.', '_', '-')%s", job, "");
    xs_client *c = NULL;
    xs_err err;
    xs_err_clear(&err);
    char pkg[XS_PATH_MAX];
    if (status == 0 && package_of(input, o->cache, job, pkg, sizeof pkg, &err) != XS_OK)
        status = fail(2, "%s%s", err.msg, "");
    if (status == 0 && open_client(o, &c, &err) != XS_OK)
        status = fail(2, "%s%s", err.msg, "");
    int64_t upload = 0;
    if (status == 0) {
        char name[64];
        const char *b = strrchr(pkg, '/') ? strrchr(pkg, '/') + 1 : pkg;
        snprintf(name, sizeof name, "%s", b);
        if (!xs_api_plain_name(name, sizeof name))
            snprintf(name, sizeof name, "%s.tar.zst", job);
        if (xs_client_upload(c, pkg, name, &upload, &err) != XS_OK)
            status = fail(err.code == XS_ERR_INVALID ? 2 : 1, "%s%s", err.msg, "");
        else if (o->c.progress != XS_PROGRESS_NONE)
            fprintf(stderr, "xisuan remote: uploaded %s as upload %" PRId64 "\n", pkg, upload);
    }
    int64_t id = 0;
    if (status == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(body, "job");
        cJSON_AddStringToObject(body, "job", job);
        cJSON_AddNumberToObject(body, "upload", (double)upload);
        char *text = cJSON_PrintUnformatted(body);
        long st = 0;
        cJSON *a = NULL;
        if (!text || xs_client_call(c, "POST", "/v1/jobs", text, true, &st, &a, &err) != XS_OK) {
            status = fail(1, "%s%s", err.msg, "");
        } else if (st == 201 || (st == 409 && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(a, "job")))) {
            /* 409 with a job: a retried request whose first try went through */
            id = (int64_t)cJSON_GetObjectItemCaseSensitive(a, "job")->valuedouble;
            const cJSON *ft = cJSON_GetObjectItemCaseSensitive(a, "frames_total");
            fprintf(stderr, "xisuan remote: job %" PRId64 " (%s) queued", id, job);
            if (cJSON_IsNumber(ft))
                fprintf(stderr, ": %d frame(s)", (int)ft->valuedouble);
            fputc('\n', stderr);
            printf("%" PRId64 "\n", id);
            fflush(stdout);
        } else {
            status = refused(st, a, "submit");
        }
        cJSON_free(text);
        cJSON_Delete(a);
    }
    cJSON_Delete(body);
    if (status == 0 && fetch_dir)
        status = fetch_loop(c, id, fetch_dir, true, 2.0, 0, true, false, o->c.progress);
    xs_client_destroy(c);
    return status;
}

/* ---- status ---------------------------------------------------------------------------- */

static int state_status(const char *state)
{
    if (strcmp(state, "completed") == 0)
        return 0;
    if (strcmp(state, "failed") == 0 || strcmp(state, "cancelled") == 0)
        return 1;
    return 3;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int cmd_status(remote_opts *o, int argc, char **argv)
{
    const char *job = NULL;
    bool as_json = false;
    for (int i = 0; i < argc; ++i) {
        if (strcmp(argv[i], "--json") == 0)
            as_json = true;
        else if (argv[i][0] != '-' && !job)
            job = argv[i];
        else
            return fail(2, "status: unexpected argument '%s'%s", argv[i], "");
    }
    int64_t id = 0;
    if (job && (!xs_api_uint(job, INT64_MAX / 2, &id) || id == 0))
        return fail(2, "status: a job id is a number, got '%s'%s", job, "");
    xs_client *c = NULL;
    xs_err err;
    if (open_client(o, &c, &err) != XS_OK)
        return fail(2, "%s%s", err.msg, "");
    char path[64];
    snprintf(path, sizeof path, job ? "/v1/jobs/%" PRId64 : "/v1/jobs", id);
    long st = 0;
    cJSON *a = NULL;
    int status = 0;
    if (xs_client_call(c, "GET", path, NULL, true, &st, &a, &err) != XS_OK) {
        status = fail(1, "%s%s", err.msg, "");
    } else if (st != 200) {
        status = refused(st, a, "status");
    } else if (as_json) {
        char *t = cJSON_Print(a);
        printf("%s\n", t ? t : "");
        cJSON_free(t);
        status = job ? state_status(str(a, "state")) : 0;
    } else if (!job) {
        const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(a, "jobs"), *it;
        printf("%6s  %-24s %-6s %-11s %s\n", "job", "name", "mode", "state", "frames");
        cJSON_ArrayForEach(it, jobs)
            printf("%6.0f  %-24s %-6s %-11s %.0f/%.0f\n", num(it, "job"), str(it, "name"),
                   str(it, "mode"), str(it, "state"), num(it, "frames_done"), num(it, "frames_total"));
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(a, "usage");
        if (u)
            printf("usage: %.0f of %.0f bytes, %.0f of %.0f jobs in flight, %.3f used + %.3f reserved "
                   "of %.3f GPU-hours\n",
                   num(u, "bytes"), num(u, "quota_bytes"), num(u, "jobs_in_flight"), num(u, "quota_jobs"),
                   num(u, "gpu_hours_used"), num(u, "gpu_hours_reserved"), num(u, "quota_gpu_hours"));
    } else {
        printf("job %.0f %s: %s (%s%s%s)\n", num(a, "job"), str(a, "name"), str(a, "state"),
               str(a, "mode"), str(a, "slurm_id")[0] ? ", Slurm job " : "", str(a, "slurm_id"));
        printf("  frames: %.0f of %.0f done\n", num(a, "frames_done"), num(a, "frames_total"));
        printf("  package: %.0f bytes; output: %.0f bytes; GPU-hours: %.3f used\n",
               num(a, "package_bytes"), num(a, "output_bytes"), num(a, "gpu_hours_used"));
        const cJSON *ls = cJSON_GetObjectItemCaseSensitive(a, "leases"), *it;
        cJSON_ArrayForEach(it, ls)
            printf("  lease %.0f: cluster %s, frames %s, %.0f committed, %s\n", num(it, "lease"),
                   str(it, "cluster"), str(it, "frames"), num(it, "committed"), str(it, "state"));
        if (str(a, "message")[0])
            printf("  %s\n", str(a, "message"));
        status = state_status(str(a, "state"));
    }
    cJSON_Delete(a);
    xs_client_destroy(c);
    return status;
}

/* ---- fetch ------------------------------------------------------------------------------ */

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int fetch_loop(xs_client *c, int64_t job, const char *out, bool wait, double poll_s,
                      double timeout_s, bool previews, bool package, int progress)
{
    xs_err err;
    if (xs_mkdir_p(out, &err) != XS_OK)
        return fail(2, "--out: %s%s", err.msg, "");
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%" PRId64, job);
    const double t0 = mono();
    uint8_t *have = calloc(XS_API_FRAMES_MAX, 1); /* frame number -> fetched and checked */
    if (!have)
        return fail(1, "out of memory%s%s", "", "");
    int status = 3, fetched = 0;
    for (;;) {
        long st = 0;
        cJSON *a = NULL;
        if (xs_client_call(c, "GET", path, NULL, true, &st, &a, &err) != XS_OK) {
            status = fail(1, "%s%s", err.msg, "");
            break;
        }
        if (st != 200) {
            status = refused(st, a, "fetch");
            cJSON_Delete(a);
            break;
        }
        char state[32];
        snprintf(state, sizeof state, "%s", str(a, "state"));
        const bool over = state_status(state) != 3;
        int missing = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(a, "frames")) {
            int f = (int)num(it, "frame");
            if (f < 0 || f >= XS_API_FRAMES_MAX || have[f])
                continue;
            if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "done"))) {
                missing++;
                continue;
            }
            const char *file = str(it, "file"), *sum = str(it, "xxh3"), *prev = str(it, "preview");
            char dst[XS_PATH_MAX + 128], url[160];
            if (!xs_api_plain_name(file, 96) || !xs_api_is_xxh3(sum)) {
                status = fail(1, "the service named frame %s oddly: '%s'", "", file);
                break;
            }
            snprintf(dst, sizeof dst, "%s/%s", out, file);
            char here[33] = "";
            if (access(dst, F_OK) == 0 && xs_file_xxh3(dst, here, NULL, &err) == XS_OK &&
                strcmp(here, sum) == 0) {
                have[f] = 1; /* fetched by an earlier run */
            } else {
                snprintf(url, sizeof url, "/v1/jobs/%" PRId64 "/frames/%d", job, f);
                if (xs_client_download(c, url, dst, sum, &err) != XS_OK) {
                    status = fail(1, "frame %s: %s", "", err.msg);
                    break;
                }
                have[f] = 1;
                fetched++;
                if (progress != XS_PROGRESS_BAR)
                    printf("xisuan remote: fetched %s (checked)\n", dst);
            }
            if (previews && xs_api_plain_name(prev, 96)) {
                snprintf(dst, sizeof dst, "%s/%s", out, prev);
                snprintf(url, sizeof url, "/v1/jobs/%" PRId64 "/frames/%d/preview", job, f);
                if (access(dst, F_OK) != 0 && xs_client_download(c, url, dst, NULL, &err) != XS_OK)
                    fprintf(stderr, "xisuan remote: warning: preview of frame %d: %s\n", f, err.msg);
            }
        }
        cJSON_Delete(a);
        if (status == 1 || status == 2)
            break;
        if (over) {
            status = state_status(state);
            if (status == 0 && missing > 0)
                status = fail(1, "job %s completed but %s frame(s) are not there", "", "some");
            if (status == 1)
                fprintf(stderr, "xisuan remote: job %" PRId64 " %s\n", job, state);
            break;
        }
        if (!wait || (timeout_s > 0 && mono() - t0 > timeout_s))
            break;
        struct timespec ts = {(time_t)poll_s, (long)((poll_s - (double)(time_t)poll_s) * 1e9)};
        nanosleep(&ts, NULL);
    }
    free(have);
    char dst[XS_PATH_MAX + 32], url[96];
    if (package && status != 2) { /* the package as it was uploaded, checked */
        snprintf(dst, sizeof dst, "%s/package.tar.zst", out);
        snprintf(url, sizeof url, "/v1/jobs/%" PRId64 "/package", job);
        if (xs_client_download(c, url, dst, NULL, &err) != XS_OK)
            status = fail(1, "package: %s", err.msg);
    }
    snprintf(dst, sizeof dst, "%s/report.html", out);
    snprintf(url, sizeof url, "/v1/jobs/%" PRId64 "/report.html", job);
    if (status != 2 && xs_client_download(c, url, dst, NULL, &err) != XS_OK)
        fprintf(stderr, "xisuan remote: warning: report: %s\n", err.msg);
    fprintf(stderr, "xisuan remote: job %" PRId64 ": %d frame(s) fetched into %s\n", job, fetched, out);
    return status;
}

static int cmd_fetch(remote_opts *o, int argc, char **argv)
{
    const char *job = NULL, *out = NULL;
    bool wait = false, previews = true, package = false;
    double poll_s = 2, timeout_s = 0;
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--wait") == 0)
            wait = true;
        else if (strcmp(a, "--no-previews") == 0)
            previews = false;
        else if (strcmp(a, "--package") == 0)
            package = true;
        else if (strcmp(a, "--out") == 0 && v)
            out = v, ++i;
        else if (strcmp(a, "--poll") == 0 && v && parse_double(v, 0.05, 3600, &poll_s))
            ++i;
        else if (strcmp(a, "--timeout") == 0 && v && parse_double(v, 0, 1e9, &timeout_s))
            ++i;
        else if (a[0] != '-' && !job)
            job = a;
        else
            return fail(2, "fetch: unexpected or bad argument '%s'%s", a, "");
    }
    int64_t id = 0;
    if (!job || !xs_api_uint(job, INT64_MAX / 2, &id) || id == 0 || !out)
        return fail(2, "usage: xisuan remote fetch JOB --out DIR [--wait]%s%s", "", "");
    xs_client *c = NULL;
    xs_err err;
    if (open_client(o, &c, &err) != XS_OK)
        return fail(2, "%s%s", err.msg, "");
    int status = fetch_loop(c, id, out, wait, poll_s, timeout_s, previews, package, o->c.progress);
    xs_client_destroy(c);
    return status;
}

static int cmd_cancel(remote_opts *o, int argc, char **argv)
{
    int64_t id = 0;
    if (argc != 1 || !xs_api_uint(argv[0], INT64_MAX / 2, &id) || id == 0)
        return fail(2, "usage: xisuan remote cancel JOB%s%s", "", "");
    xs_client *c = NULL;
    xs_err err;
    if (open_client(o, &c, &err) != XS_OK)
        return fail(2, "%s%s", err.msg, "");
    char path[96];
    snprintf(path, sizeof path, "/v1/jobs/%" PRId64 "/cancel", id);
    long st = 0;
    cJSON *a = NULL;
    int status = 0;
    if (xs_client_call(c, "POST", path, NULL, true, &st, &a, &err) != XS_OK)
        status = fail(1, "%s%s", err.msg, "");
    else if (st != 202)
        status = refused(st, a, "cancel");
    else
        printf("job %" PRId64 ": %s\n", id, str(a, "state"));
    cJSON_Delete(a);
    xs_client_destroy(c);
    return status;
}

int xs_remote_main(int argc, char **argv)
{
    remote_opts o;
    memset(&o, 0, sizeof o);
    xs_client_options_default(&o.c);
    o.c.progress = isatty(2) ? XS_PROGRESS_BAR : XS_PROGRESS_NONE;
    int cmd_at = -1;
    /* the global flags, before or after the command's name */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    if (!rest)
        return 1;
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            remote_usage(stdout);
            free(rest);
            return 0;
        }
        if (strcmp(a, "--server") == 0 && v) {
            o.c.server = v, ++i;
        } else if (strcmp(a, "--token-file") == 0 && v) {
            o.token_file = v, ++i;
        } else if (strcmp(a, "--cache") == 0 && v) {
            o.cache = v, ++i;
        } else if (strcmp(a, "--ca-file") == 0 && v) {
            o.c.ca_file = v, ++i;
        } else if (strcmp(a, "--retry") == 0 && v && parse_double(v, 0, 1e6, &x)) {
            o.c.retry_s = x, ++i;
        } else if (strcmp(a, "--limit-rate") == 0 && v && parse_bytes(v, &o.c.limit_rate)) {
            ++i;
        } else if (strcmp(a, "--chunk-bytes") == 0 && v && parse_bytes(v, &o.c.chunk_bytes)) {
            ++i;
        } else if (strcmp(a, "--progress") == 0 && v &&
                   (strcmp(v, "bar") == 0 || strcmp(v, "lines") == 0 || strcmp(v, "off") == 0)) {
            o.c.progress = v[0] == 'b' ? XS_PROGRESS_BAR : v[0] == 'l' ? XS_PROGRESS_LINES : XS_PROGRESS_NONE;
            ++i;
        } else {
            if (cmd_at < 0 && a[0] != '-')
                cmd_at = nrest;
            rest[nrest++] = argv[i];
        }
    }
    int status;
    if (cmd_at != 0) {
        remote_usage(stderr);
        status = 2;
    } else if (strcmp(rest[0], "submit") == 0) {
        status = cmd_submit(&o, nrest - 1, rest + 1);
    } else if (strcmp(rest[0], "status") == 0) {
        status = cmd_status(&o, nrest - 1, rest + 1);
    } else if (strcmp(rest[0], "fetch") == 0) {
        status = cmd_fetch(&o, nrest - 1, rest + 1);
    } else if (strcmp(rest[0], "cancel") == 0) {
        status = cmd_cancel(&o, nrest - 1, rest + 1);
    } else {
        fprintf(stderr, "xisuan remote: error: unknown command '%s'\n\n", rest[0]);
        remote_usage(stderr);
        status = 2;
    }
    memset(o.token, 0, sizeof o.token);
    free(rest);
    return status;
}
