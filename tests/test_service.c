/* Unit tests of the submission service's pure parts and its database:
 * tokens, request parsing (routes, bodies, headers), the lease policy, and
 * the store (quotas, frames committed once, leases granted, renewed, lost
 * and given back, everything surviving a reopen) driven by a simulated farm
 * of clusters of different speeds, one of which dies mid-lease. */
#include "service/xs_api.h"
#include "service/xs_lease.h"
#include "service/xs_store.h"
#include "service/xs_token.h"
#include "test_util.h"

#include <inttypes.h>
#include <math.h>
#include <unistd.h>

/* ---- tokens -------------------------------------------------------------------------- */

static void test_token(void)
{
    xs_err err;
    CHECK(xs_token_init(&err) == XS_OK);
    char text[XS_TOKEN_TEXT];
    uint8_t salt[XS_TOKEN_SALT], hash[XS_TOKEN_HASH];
    CHECK(xs_token_new(42, text, salt, hash, &err) == XS_OK);
    int64_t id = 0;
    const char *secret = NULL;
    CHECK(xs_token_parse(text, &id, &secret));
    CHECK(id == 42);
    CHECK(xs_token_check(secret, salt, hash));
    char bad[XS_TOKEN_TEXT];
    memcpy(bad, text, sizeof bad);
    size_t n = strlen(bad);
    bad[n - 1] = bad[n - 1] == 'A' ? 'B' : 'A';
    CHECK(xs_token_parse(bad, &id, &secret) && !xs_token_check(secret, salt, hash));
    /* another salt, the same secret: another hash */
    uint8_t salt2[XS_TOKEN_SALT], hash2[XS_TOKEN_HASH];
    char text2[XS_TOKEN_TEXT];
    CHECK(xs_token_new(42, text2, salt2, hash2, &err) == XS_OK);
    CHECK(xs_token_parse(text, &id, &secret) && !xs_token_check(secret, salt2, hash2));
    static const char *const malformed[] = {"", "xs1_", "xs1_42", "xs1_42_", "xs2_42_abc",
                                            "xs1_042_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                            "xs1_42_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                            "xs1_42_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
                                            "xs1_-1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                            "Bearer xs1_42_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL};
    for (const char *const *m = malformed; *m; ++m)
        CHECK_MSG(!xs_token_parse(*m, &id, &secret), "'%s' parsed", *m);
}

/* ---- routes ---------------------------------------------------------------------------- */

static void test_routes(void)
{
    static const struct {
        const char *method, *url;
        xs_route_kind kind;
        bool ok;
        int64_t id;
        int frame;
    } t[] = {
        {"GET", "/v1/health", XS_ROUTE_HEALTH, true, 0, -1},
        {"POST", "/v1/health", XS_ROUTE_HEALTH, false, 0, -1},
        {"POST", "/v1/uploads", XS_ROUTE_UPLOADS, true, 0, -1},
        {"PUT", "/v1/uploads/7", XS_ROUTE_UPLOAD, true, 7, -1},
        {"GET", "/v1/uploads/7", XS_ROUTE_UPLOAD, true, 7, -1},
        {"DELETE", "/v1/uploads/7", XS_ROUTE_UPLOAD, false, 7, -1},
        {"GET", "/v1/jobs", XS_ROUTE_JOBS, true, 0, -1},
        {"POST", "/v1/jobs", XS_ROUTE_JOBS, true, 0, -1},
        {"GET", "/v1/jobs/12", XS_ROUTE_JOB, true, 12, -1},
        {"POST", "/v1/jobs/12/cancel", XS_ROUTE_JOB_CANCEL, true, 12, -1},
        {"GET", "/v1/jobs/12/frames/1001", XS_ROUTE_JOB_FRAME, true, 12, 1001},
        {"GET", "/v1/jobs/12/frames/0", XS_ROUTE_JOB_FRAME, true, 12, 0},
        {"GET", "/v1/jobs/12/frames/7/preview", XS_ROUTE_JOB_PREVIEW, true, 12, 7},
        {"GET", "/v1/jobs/12/report.html", XS_ROUTE_JOB_REPORT, true, 12, -1},
        {"GET", "/v1/jobs/12/package", XS_ROUTE_JOB_PACKAGE, true, 12, -1},
        {"GET", "/v1/jobs/12/spec", XS_ROUTE_JOB_SPEC, true, 12, -1},
        {"POST", "/v1/jobs/12/leases", XS_ROUTE_JOB_LEASES, true, 12, -1},
        {"POST", "/v1/leases/3/renew", XS_ROUTE_LEASE_RENEW, true, 3, -1},
        {"POST", "/v1/leases/3/complete", XS_ROUTE_LEASE_COMPLETE, true, 3, -1},
        {"POST", "/v1/leases/3/release", XS_ROUTE_LEASE_RELEASE, true, 3, -1},
        {"PUT", "/v1/leases/3/frames/9", XS_ROUTE_LEASE_FRAME, true, 3, 9},
        {"PUT", "/v1/leases/3/frames/9/preview", XS_ROUTE_LEASE_PREVIEW, true, 3, 9},
        /* nothing else exists: no path walks, no odd numbers */
        {"GET", "/v1/jobs/../uploads", XS_ROUTE_NONE, false, 0, -1},
        {"GET", "/v1/jobs/12/../13", XS_ROUTE_NONE, false, 0, -1},
        {"GET", "/v1/jobs/012", XS_ROUTE_NONE, false, 0, -1},
        {"GET", "/v1/jobs/-1", XS_ROUTE_NONE, false, 0, -1},
        {"GET", "/v1/jobs/12/", XS_ROUTE_NONE, false, 0, -1},
        {"GET", "/v1//jobs", XS_ROUTE_NONE, false, 0, -1},
        {"GET", "/v1/jobs/12/frames/10000", XS_ROUTE_NONE, false, 0, -1},
        {"GET", "/v1/jobs/12/frames/01", XS_ROUTE_NONE, false, 0, -1},
        {"GET", "/v1/jobs/99999999999999999999", XS_ROUTE_NONE, false, 0, -1},
        {"GET", "/v2/health", XS_ROUTE_NONE, false, 0, -1},
        {"GET", "/v1/health/x", XS_ROUTE_NONE, false, 0, -1},
        {"GET", "/", XS_ROUTE_NONE, false, 0, -1},
        {"GET", "", XS_ROUTE_NONE, false, 0, -1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; ++i) {
        xs_route r;
        xs_api_route(t[i].method, t[i].url, &r);
        CHECK_MSG(r.kind == t[i].kind && r.method_ok == t[i].ok && r.id == t[i].id && r.frame == t[i].frame,
                  "%s %s: kind %d ok %d id %" PRId64 " frame %d", t[i].method, t[i].url, (int)r.kind,
                  (int)r.method_ok, r.id, r.frame);
    }
}

/* ---- bodies ------------------------------------------------------------------------------ */

#define SUM "0123456789abcdef0123456789abcdef"

static bool upload_ok(const char *body)
{
    xs_upload_request q;
    xs_err err;
    return xs_api_upload_request(body, strlen(body), &q, &err) == XS_OK;
}

static bool job_ok(const char *body)
{
    xs_job_request q;
    xs_err err;
    if (xs_api_job_request(body, strlen(body), "1:00:00", &q, &err) != XS_OK)
        return false;
    char *text = NULL;
    xs_result r = xs_api_job_file(body, strlen(body), &q, "/s/p.tar.zst", "/s/out", q.frames, &text, &err);
    free(text);
    return r == XS_OK;
}

static void test_bodies(void)
{
    CHECK(upload_ok("{\"name\": \"shot.tar.zst\", \"size\": 10, \"xxh3\": \"" SUM "\"}"));
    CHECK(!upload_ok("{\"name\": \"../shot.tar.zst\", \"size\": 10, \"xxh3\": \"" SUM "\"}"));
    CHECK(!upload_ok("{\"name\": \"a/shot.tar.zst\", \"size\": 10, \"xxh3\": \"" SUM "\"}"));
    CHECK(!upload_ok("{\"name\": \".tar.zst\", \"size\": 10, \"xxh3\": \"" SUM "\"}"));
    CHECK(!upload_ok("{\"name\": \"shot.zip\", \"size\": 10, \"xxh3\": \"" SUM "\"}"));
    CHECK(!upload_ok("{\"name\": \"shot.tar.zst\", \"size\": 0, \"xxh3\": \"" SUM "\"}"));
    CHECK(!upload_ok("{\"name\": \"shot.tar.zst\", \"size\": 1.5, \"xxh3\": \"" SUM "\"}"));
    CHECK(!upload_ok("{\"name\": \"shot.tar.zst\", \"size\": 10, \"xxh3\": \"0123\"}"));
    CHECK(!upload_ok("{\"name\": \"shot.tar.zst\", \"size\": 10, \"xxh3\": \"" SUM "\", \"x\": 1}"));
    CHECK(!upload_ok("{\"name\": \"shot.tar.zst\", \"size\": 10, \"xxh3\": \"" SUM "\"} trailing"));
    CHECK(!upload_ok("{\"name\": \"shot.tar.zst\", \"size\": 10, "));
    CHECK(!upload_ok("[1, 2]"));
    CHECK(!upload_ok(""));

    CHECK(job_ok("{\"upload\": 3, \"job\": \"shot010\"}"));
    CHECK(job_ok("{\"upload\": 3, \"job\": \"shot010\", \"frames\": \"1-24x2\", \"render\": {\"spp\": 4}, "
                 "\"slurm\": {\"nodes\": 2, \"time\": \"2-00:00:00\"}}"));
    CHECK(job_ok("{\"upload\": 3, \"job\": \"s\", \"mode\": \"lease\", \"comment\": \"x\"}"));
    CHECK(!job_ok("{\"job\": \"shot010\"}"));                           /* no upload */
    CHECK(!job_ok("{\"upload\": 3}"));                                  /* no job */
    CHECK(!job_ok("{\"upload\": 3, \"job\": \"../etc\"}"));             /* a path as a name */
    CHECK(!job_ok("{\"upload\": 3, \"job\": \"a/b\"}"));
    CHECK(!job_ok("{\"upload\": 3, \"job\": \".hidden\"}"));
    CHECK(!job_ok("{\"upload\": 3, \"job\": \"j\", \"name\": \"../x\"}"));
    CHECK(!job_ok("{\"upload\": 3, \"job\": \"j\", \"package\": \"/etc/passwd\"}"));
    CHECK(!job_ok("{\"upload\": 3, \"job\": \"j\", \"output\": \"/\"}"));
    CHECK(!job_ok("{\"upload\": 3, \"job\": \"j\", \"mode\": \"lease\", \"slurm\": {\"nodes\": 1}}"));
    CHECK(!job_ok("{\"upload\": 3, \"job\": \"j\", \"slurm\": {\"time\": \"soon\"}}"));
    CHECK(!job_ok("{\"upload\": 3, \"job\": \"j\", \"slurm\": {\"nodes\": 0}}"));
    CHECK(!job_ok("{\"upload\": 3, \"job\": \"j\", \"slurm\": {\"gpus\": 1}}"));
    CHECK(!job_ok("{\"upload\": 3, \"job\": \"j\", \"render\": {\"spp\": 0}}"));   /* the render's check */
    CHECK(!job_ok("{\"upload\": 3, \"job\": \"j\", \"frames\": \"5-1\"}"));
    CHECK(!job_ok("{\"upload\": 3, \"job\": \"j\", \"frames\": \"1,1\"}"));
    CHECK(!job_ok("{\"upload\": 3, \"job\": \"j\", \"mode\": \"ftp\"}"));
    CHECK(!job_ok("{\"upload\": 3, \"job\": \"j\""));

    xs_job_request q;
    xs_err err;
    const char *b = "{\"upload\": 3, \"job\": \"j\", \"slurm\": {\"nodes\": 2, \"gpus_per_node\": 4, \"time\": \"1:30:00\"}}";
    CHECK(xs_api_job_request(b, strlen(b), "4:00:00", &q, &err) == XS_OK);
    CHECK(q.nodes == 2 && q.gpus_per_node == 4 && fabs(q.time_s - 5400) < 1e-9 && strcmp(q.name, "j") == 0);
    char *text = NULL;
    CHECK(xs_api_job_file(b, strlen(b), &q, "/s/p.tar.zst", "/s/out", "1-3", &text, &err) == XS_OK);
    CHECK(text && strstr(text, "\"package\":\"/s/p.tar.zst\"") && strstr(text, "\"frames\":\"1-3\"") &&
          !strstr(text, "slurm") && !strstr(text, "upload"));
    free(text);

    xs_lease_request l;
    CHECK(xs_api_lease_request(NULL, 0, &l, &err) == XS_OK && strcmp(l.backend, "cpu") == 0);
    const char *lb = "{\"backend\": \"cuda\", \"gpus\": 8}";
    CHECK(xs_api_lease_request(lb, strlen(lb), &l, &err) == XS_OK && l.gpus == 8);
    CHECK(xs_api_lease_request("{\"backend\": \"../x\"}", 19, &l, &err) != XS_OK);
    CHECK(xs_api_lease_request("{\"gpus\": -1}", 12, &l, &err) != XS_OK);
    char why[64];
    CHECK(xs_api_lease_end("{\"failed\": \"disk full\"}", 23, why, sizeof why, &err) == XS_OK &&
          strcmp(why, "disk full") == 0);
    CHECK(xs_api_lease_end("{\"x\": 1}", 8, why, sizeof why, &err) != XS_OK);
}

static void test_headers(void)
{
    int64_t s = 0, n = 0;
    CHECK(xs_api_range(NULL, 100, &s, &n) == 0);
    CHECK(xs_api_range("bytes=10-", 100, &s, &n) == 1 && s == 10 && n == 90);
    CHECK(xs_api_range("bytes=10-19", 100, &s, &n) == 1 && s == 10 && n == 10);
    CHECK(xs_api_range("bytes=10-1000", 100, &s, &n) == 1 && s == 10 && n == 90);
    CHECK(xs_api_range("bytes=-30", 100, &s, &n) == 1 && s == 70 && n == 30);
    CHECK(xs_api_range("bytes=-300", 100, &s, &n) == 1 && s == 0 && n == 100);
    CHECK(xs_api_range("bytes=100-", 100, &s, &n) == -1);
    CHECK(xs_api_range("bytes=20-10", 100, &s, &n) == -1);
    CHECK(xs_api_range("bytes=x-", 100, &s, &n) == -1);
    CHECK(xs_api_range("bytes=-0", 100, &s, &n) == -1);
    CHECK(xs_api_range("bytes=0-1,5-6", 100, &s, &n) == 0);
    CHECK(xs_api_range("items=0-1", 100, &s, &n) == 0);
    int64_t v = 0;
    CHECK(xs_api_uint("0", 10, &v) && v == 0);
    CHECK(xs_api_uint("10", 10, &v) && v == 10);
    CHECK(!xs_api_uint("11", 10, &v) && !xs_api_uint("-1", 10, &v) && !xs_api_uint("", 10, &v) &&
          !xs_api_uint("1e3", 10000, &v) && !xs_api_uint("99999999999999999999", INT64_MAX, &v));
    double t = 0;
    CHECK(xs_api_slurm_time("30", &t) && t == 1800);
    CHECK(xs_api_slurm_time("30:15", &t) && t == 1815);
    CHECK(xs_api_slurm_time("4:00:00", &t) && t == 14400);
    CHECK(xs_api_slurm_time("2-00", &t) && t == 172800);
    CHECK(xs_api_slurm_time("1-2:30", &t) && t == 86400 + 2 * 3600 + 30 * 60);
    CHECK(xs_api_slurm_time("1-0:0:1", &t) && t == 86401);
    CHECK(!xs_api_slurm_time("", &t) && !xs_api_slurm_time("0", &t) && !xs_api_slurm_time("1:2:3:4", &t) &&
          !xs_api_slurm_time("-1", &t) && !xs_api_slurm_time("1-", &t) && !xs_api_slurm_time("a", &t) &&
          !xs_api_slurm_time("1:", &t));
    CHECK(xs_api_is_xxh3(SUM) && !xs_api_is_xxh3("0123456789ABCDEF0123456789abcdef") &&
          !xs_api_is_xxh3(SUM "0"));
    CHECK(xs_api_plain_name("shot_010.v3", 64) && !xs_api_plain_name("..", 64) &&
          !xs_api_plain_name("a b", 64) && !xs_api_plain_name("", 64));
}

/* ---- the lease policy -------------------------------------------------------------------- */

static void test_lease_policy(void)
{
    xs_lease_ask a = {.remaining = 100, .available = 100, .rate = 0, .others_rate = 0, .target_s = 60,
                      .max_frames = 1000};
    CHECK(xs_lease_size(&a) == 1); /* not measured: a probe */
    a.rate = 0.5;                  /* alone: as many as target_s of its work */
    CHECK(xs_lease_size(&a) == 30);
    a.others_rate = 1.5; /* a quarter of the speed: at most a quarter of what is left */
    a.target_s = 1e6;
    CHECK(xs_lease_size(&a) == 25);
    a.available = 10;
    CHECK(xs_lease_size(&a) == 10);
    a.max_frames = 4;
    CHECK(xs_lease_size(&a) == 4);
    /* the others would finish the last 3 frames in 2 s; this one needs 10 s a frame */
    xs_lease_ask slow = {.remaining = 3, .available = 3, .rate = 0.1, .others_rate = 1.5, .target_s = 60,
                         .max_frames = 100};
    CHECK(xs_lease_size(&slow) == 0);
    slow.others_rate = 0.2; /* they would need 15 s: this one helps with one */
    CHECK(xs_lease_size(&slow) == 1);
    xs_lease_ask none = {.remaining = 5, .available = 0, .rate = 1, .target_s = 60, .max_frames = 10};
    CHECK(xs_lease_size(&none) == 0);
}

/* ---- the store ---------------------------------------------------------------------------- */

static char db_path[4096];

static xs_store *fresh_store(const char *name)
{
    const char *tmp = getenv("XS_TEST_TMP");
    snprintf(db_path, sizeof db_path, "%s/%s-%d.db", tmp ? tmp : "/tmp", name, (int)getpid());
    char p[4200];
    unlink(db_path);
    snprintf(p, sizeof p, "%s-wal", db_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db_path);
    unlink(p);
    xs_store *st = NULL;
    xs_err err;
    CHECK_MSG(xs_store_open(db_path, &st, &err) == XS_OK, "%s", err.msg);
    return st;
}

static void drop_store(xs_store *st)
{
    xs_store_close(st);
    char p[4200];
    unlink(db_path);
    snprintf(p, sizeof p, "%s-wal", db_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db_path);
    unlink(p);
}

static xs_principal add(xs_store *st, int kind, const char *name, int64_t bytes, int jobs, double gpu_h)
{
    xs_principal p;
    memset(&p, 0, sizeof p);
    p.kind = kind;
    snprintf(p.name, sizeof p.name, "%s", name);
    p.quota_bytes = bytes;
    p.quota_jobs = jobs;
    p.quota_gpu_hours = gpu_h;
    char tok[XS_TOKEN_TEXT];
    xs_err err;
    CHECK_MSG(xs_store_principal_add(st, &p, tok, &err) == XS_OK, "%s", err.msg);
    bool found = false;
    CHECK(xs_store_principal_by_name(st, name, &p, &found, &err) == XS_OK && found);
    int64_t id = 0;
    const char *secret = NULL;
    CHECK(xs_token_parse(tok, &id, &secret) && id == p.id && xs_token_check(secret, p.salt, p.hash));
    return p;
}

/* A lease job of n frames (1..n) for studio, from a finished upload. */
static int64_t lease_job(xs_store *st, const xs_principal *studio, int n, double now)
{
    xs_upload u;
    bool resumed = false;
    xs_store_verdict v;
    xs_err err;
    char sum[33];
    snprintf(sum, sizeof sum, "%032x", (unsigned)(now * 1000) + (unsigned)n);
    CHECK(xs_store_upload_open(st, studio->id, "p.tar.zst", 100, sum, studio->quota_bytes, now, &u,
                               &resumed, &v, &err) == XS_OK && v == XS_STORE_DONE);
    CHECK(xs_store_upload_set(st, u.id, 100, "complete", now, &err) == XS_OK);
    int frames[512];
    for (int i = 0; i < n; ++i)
        frames[i] = i + 1;
    xs_job_row j;
    memset(&j, 0, sizeof j);
    snprintf(j.job, sizeof j.job, "job");
    snprintf(j.name, sizeof j.name, "job");
    snprintf(j.time, sizeof j.time, "1:00:00");
    j.mode = XS_JOB_MODE_LEASE;
    j.nodes = 1;
    int64_t id = 0;
    CHECK(xs_store_job_create(st, &j, u.id, frames, n, studio, NULL, NULL, now, &id, &v, &err) == XS_OK &&
          v == XS_STORE_DONE && id > 0);
    return id;
}

static void test_store_quotas(void)
{
    xs_store *st = fresh_store("quotas");
    xs_principal s = add(st, XS_PRINCIPAL_STUDIO, "east", 1000, 1, 10);
    xs_upload u;
    bool resumed = false;
    xs_store_verdict v;
    xs_err err;
    CHECK(xs_store_upload_open(st, s.id, "a.tar.zst", 600, SUM, 1000, 1, &u, &resumed, &v, &err) == XS_OK &&
          v == XS_STORE_DONE && !resumed);
    /* the same bytes again: the same upload, resumed where it stands */
    CHECK(xs_store_upload_set(st, u.id, 300, "open", 2, &err) == XS_OK);
    xs_upload u2;
    CHECK(xs_store_upload_open(st, s.id, "a.tar.zst", 600, SUM, 1000, 3, &u2, &resumed, &v, &err) == XS_OK &&
          resumed && u2.id == u.id && u2.offset == 300);
    /* over the byte quota: refused, nothing written */
    int64_t *live = NULL;
    int nlive = 0;
    CHECK(xs_store_upload_open(st, s.id, "b.tar.zst", 500, "11111111111111111111111111111111", 1000, 4,
                               &u2, &resumed, &v, &err) == XS_OK && v == XS_STORE_QUOTA);
    CHECK(xs_store_upload_live(st, &live, &nlive, &err) == XS_OK && nlive == 1);
    free(live);
    /* jobs in flight: one allowed */
    CHECK(xs_store_upload_set(st, u.id, 600, "complete", 5, &err) == XS_OK);
    int frames[2] = {1, 2};
    xs_job_row j;
    memset(&j, 0, sizeof j);
    snprintf(j.job, sizeof j.job, "j");
    snprintf(j.name, sizeof j.name, "j");
    snprintf(j.time, sizeof j.time, "1:00:00");
    j.mode = XS_JOB_MODE_SLURM;
    j.nodes = 2;
    j.gpus_per_node = 4;
    j.gpu_hours_reserved = 8; /* 2 nodes x 4 GPUs x 1 h */
    int64_t id = 0;
    CHECK(xs_store_job_create(st, &j, u.id, frames, 2, &s, NULL, NULL, 6, &id, &v, &err) == XS_OK &&
          v == XS_STORE_DONE);
    /* the upload is taken: a second job from it is a conflict naming the first */
    int64_t id2 = 0;
    CHECK(xs_store_job_create(st, &j, u.id, frames, 2, &s, NULL, NULL, 7, &id2, &v, &err) == XS_OK &&
          v == XS_STORE_CONFLICT && id2 == id);
    xs_usage use;
    CHECK(xs_store_usage(st, s.id, &use, &err) == XS_OK && use.jobs_in_flight == 1 &&
          use.bytes == 600 && fabs(use.gpu_hours_reserved - 8) < 1e-9);
    CHECK(xs_store_upload_open(st, s.id, "c.tar.zst", 100, "22222222222222222222222222222222", 1000, 8,
                               &u2, &resumed, &v, &err) == XS_OK && v == XS_STORE_DONE);
    CHECK(xs_store_upload_set(st, u2.id, 100, "complete", 9, &err) == XS_OK);
    CHECK(xs_store_job_create(st, &j, u2.id, frames, 2, &s, NULL, NULL, 10, &id2, &v, &err) == XS_OK &&
          v == XS_STORE_QUOTA); /* one job in flight already */
    /* the job ends: its reservation goes; GPU-hours: 8 reserved + 8 more > 10 */
    CHECK(xs_store_job_set_state(st, id, "completed", "", NULL, 11, &err) == XS_OK);
    CHECK(xs_store_job_charge(st, id, 3.0, &err) == XS_OK);
    CHECK(xs_store_usage(st, s.id, &use, &err) == XS_OK && use.jobs_in_flight == 0 &&
          use.gpu_hours_reserved == 0 && fabs(use.gpu_hours_used - 3) < 1e-9);
    CHECK(xs_store_job_create(st, &j, u2.id, frames, 2, &s, NULL, NULL, 12, &id2, &v, &err) == XS_OK &&
          v == XS_STORE_QUOTA); /* 3 used + 8 > 10 */
    j.gpus_per_node = 0;
    j.gpu_hours_reserved = 0;
    CHECK(xs_store_job_create(st, &j, u2.id, frames, 2, &s, NULL, NULL, 13, &id2, &v, &err) == XS_OK &&
          v == XS_STORE_DONE);
    /* frames commit once */
    xs_store_verdict fv;
    bool done = false;
    CHECK(xs_store_frame_commit(st, id2, 1, 0, "slurm 1", "j.0001.exr", 10, SUM, 14, &fv, &done, &err) == XS_OK &&
          fv == XS_STORE_DONE);
    CHECK(xs_store_frame_commit(st, id2, 1, 0, "slurm 1", "j.0001.exr", 10, SUM, 15, &fv, &done, &err) == XS_OK &&
          fv == XS_STORE_CONFLICT);
    CHECK(xs_store_frame_commit(st, id2, 3, 0, "slurm 1", "j.0003.exr", 10, SUM, 15, &fv, &done, &err) == XS_OK &&
          fv == XS_STORE_NOT_FOUND);
    xs_job_row row;
    bool found = false;
    CHECK(xs_store_job_get(st, id2, &row, &found, &err) == XS_OK && found && row.frames_done == 1 &&
          row.output_bytes == 10);
    drop_store(st);
}

/* A simulated farm: clusters of given speeds (frames per second, and a
 * start-up per lease) take leases of one job through the store on a
 * simulated clock; one may die at a given time. */
typedef struct sim_cluster {
    xs_principal p;
    double rate, startup, dies_at;
    int64_t lease;
    int frames[512], count, next; /* the lease's frames, the next to finish */
    double started, next_renew, wait_until;
    int committed;
    double last_commit;
} sim_cluster;

typedef struct sim_result {
    double end;          /* when the last frame was committed */
    int commits[512];    /* per frame number: commits accepted */
    int refused;         /* commits the store refused (late or lost) */
    int lost_leases;
} sim_result;

static void simulate(sim_cluster *cl, int nc, int frames, double ttl, double target, sim_result *res)
{
    xs_store *st = fresh_store("sim");
    xs_principal s = add(st, XS_PRINCIPAL_STUDIO, "studio", (int64_t)1 << 40, 10, 1e9);
    char name[16];
    for (int i = 0; i < nc; ++i) {
        snprintf(name, sizeof name, "c%d", i);
        cl[i].p = add(st, XS_PRINCIPAL_CLUSTER, name, 0, 0, 0);
    }
    const int64_t job = lease_job(st, &s, frames, 0);
    memset(res, 0, sizeof *res);
    xs_lease_terms terms = {.ttl_s = ttl, .target_s = target, .max_frames = 1000, .active_s = 2 * ttl};
    xs_err err;
    const double dt = 0.01;
    bool over = false;
    for (double t = 0; t < 10000 && !over; t += dt) {
        for (int i = 0; i < nc && !over; ++i) {
            sim_cluster *c = &cl[i];
            if (t >= c->dies_at)
                continue;
            if (!c->lease) {
                if (t < c->wait_until)
                    continue;
                xs_lease_row l;
                double wait = 0;
                char state[16];
                xs_store_verdict v;
                CHECK(xs_store_lease_grant(st, job, &c->p, "cpu", 0, &terms, t, &l, &wait, state, &v, &err) == XS_OK);
                if (v == XS_STORE_GONE) {
                    over = true;
                    break;
                }
                if (l.frame_count == 0) {
                    c->wait_until = t + wait;
                    continue;
                }
                c->lease = l.id;
                c->count = 0;
                CHECK(xs_api_frames(l.frames, c->frames, &c->count, &err) == XS_OK);
                CHECK(c->count == l.frame_count);
                c->next = 0;
                c->started = t;
                c->next_renew = t + ttl / 3;
                continue;
            }
            if (t >= c->next_renew) {
                xs_lease_row l;
                xs_store_verdict v;
                CHECK(xs_store_lease_renew(st, c->lease, ttl, t, &l, &v, &err) == XS_OK);
                c->next_renew = t + ttl / 3;
                if (v == XS_STORE_GONE) { /* lost: stop, ask again */
                    res->lost_leases++;
                    xs_store_lease_end(st, c->lease, "released", t, &l, &v, &err);
                    c->lease = 0;
                    continue;
                }
            }
            /* frames finish one after another after the start-up */
            if (t >= c->started + c->startup + (c->next + 1) / c->rate) {
                xs_store_verdict v;
                bool done = false;
                const int f = c->frames[c->next++];
                CHECK(xs_store_frame_commit(st, job, f, c->lease, c->p.name, "f.exr", 1, SUM, t, &v,
                                            &done, &err) == XS_OK);
                if (v == XS_STORE_DONE) {
                    res->commits[f]++;
                    res->end = t;
                    c->committed++;
                    c->last_commit = t;
                } else {
                    res->refused++;
                }
                if (c->next == c->count) {
                    xs_lease_row l;
                    CHECK(xs_store_lease_end(st, c->lease, "completed", t, &l, &v, &err) == XS_OK);
                    c->lease = 0;
                }
                if (done)
                    over = true;
            }
        }
    }
    xs_job_row j;
    bool found = false;
    CHECK(xs_store_job_get(st, job, &j, &found, &err) == XS_OK && found);
    CHECK_MSG(strcmp(j.state, "completed") == 0 && j.frames_done == frames, "state %s, %d of %d frames",
              j.state, j.frames_done, frames);
    drop_store(st);
}

static void test_lease_speeds(void)
{
    /* a cluster four times faster than the other; each lease costs 1 s to start */
    sim_cluster cl[2];
    memset(cl, 0, sizeof cl);
    cl[0].rate = 2.0, cl[0].startup = 1.0, cl[0].dies_at = 1e9;
    cl[1].rate = 0.5, cl[1].startup = 1.0, cl[1].dies_at = 1e9;
    sim_result r;
    const int N = 120;
    simulate(cl, 2, N, 10, 20, &r);
    for (int f = 1; f <= N; ++f)
        CHECK_MSG(r.commits[f] == 1, "frame %d committed %d times", f, r.commits[f]);
    /* ideal: N / (2.5 frames/s) = 48 s plus start-ups */
    const double ideal = N / 2.5;
    printf("  two clusters (2 and 0.5 frames/s): %d and %d frames, done at %.1f s (ideal %.1f s + "
           "start-ups); last commits: fast %.1f s, slow %.1f s\n",
           cl[0].committed, cl[1].committed, r.end, ideal, cl[0].last_commit, cl[1].last_commit);
    CHECK(r.end < ideal * 1.15 + 2 * cl[0].startup);
    /* shares follow speed: the fast one did most, about 4 to 1 */
    CHECK(cl[0].committed > 3 * cl[1].committed);
    /* the slow one does not hold the end: the job ends less than one of its
     * frames after the fast one's last */
    CHECK(r.end - cl[0].last_commit < 1.0 / cl[1].rate);
    CHECK(r.refused == 0 && r.lost_leases == 0);
}

static void test_lease_loss(void)
{
    /* three clusters; one dies 20 s in, holding a lease: its frames go to the
     * others after the lease expires, and each frame is counted once */
    sim_cluster cl[3];
    memset(cl, 0, sizeof cl);
    for (int i = 0; i < 3; ++i)
        cl[i].rate = 1.0, cl[i].startup = 0.5, cl[i].dies_at = 1e9;
    cl[1].dies_at = 20.0;
    sim_result r;
    const int N = 90;
    simulate(cl, 3, N, 5, 15, &r);
    for (int f = 1; f <= N; ++f)
        CHECK_MSG(r.commits[f] == 1, "frame %d committed %d times", f, r.commits[f]);
    printf("  three clusters, one lost at 20 s: %d, %d (lost), %d frames; done at %.1f s\n",
           cl[0].committed, cl[1].committed, cl[2].committed, r.end);
    CHECK(cl[1].committed > 0 && cl[1].committed < N / 3);
    CHECK(cl[0].committed + cl[1].committed + cl[2].committed == N);
    CHECK(r.end < N / 2.0 + 15); /* the two left, plus the lost lease's time to expire */
}

static void test_store_reopen(void)
{
    xs_store *st = fresh_store("reopen");
    xs_principal s = add(st, XS_PRINCIPAL_STUDIO, "s", (int64_t)1 << 30, 4, 100);
    xs_principal a = add(st, XS_PRINCIPAL_CLUSTER, "a", 0, 0, 0);
    xs_principal b = add(st, XS_PRINCIPAL_CLUSTER, "b", 0, 0, 0);
    const int64_t job = lease_job(st, &s, 6, 100);
    xs_lease_terms terms = {.ttl_s = 30, .target_s = 60, .max_frames = 100, .active_s = 60};
    xs_lease_row l, lb;
    double wait = 0;
    char state[16];
    xs_store_verdict v;
    xs_err err;
    CHECK(xs_store_lease_grant(st, job, &a, "cpu", 2, &terms, 100, &l, &wait, state, &v, &err) == XS_OK &&
          v == XS_STORE_DONE && l.frame_count == 1 && strcmp(l.frames, "1") == 0);
    xs_store_close(st); /* the service stops ... */
    st = NULL;
    CHECK(xs_store_open(db_path, &st, &err) == XS_OK); /* ... and starts again */
    xs_lease_row l2;
    bool found = false;
    CHECK(xs_store_lease_get(st, l.id, &l2, &found, &err) == XS_OK && found && l2.expires == l.expires &&
          strcmp(l2.state, "active") == 0);
    CHECK(xs_store_lease_renew(st, l.id, 30, 120, &l2, &v, &err) == XS_OK && v == XS_STORE_DONE &&
          l2.expires == 150);
    /* b asks while a's lease lives: b gets frame 2 on */
    CHECK(xs_store_lease_grant(st, job, &b, "cpu", 0, &terms, 121, &lb, &wait, state, &v, &err) == XS_OK &&
          lb.frame_count == 1 && strcmp(lb.frames, "2") == 0);
    /* a's lease expires (a is silent); b's next lease takes frame 1 and a's is lost */
    bool done = false;
    CHECK(xs_store_frame_commit(st, job, 2, lb.id, "b", "f", 1, SUM, 125, &v, &done, &err) == XS_OK &&
          v == XS_STORE_DONE);
    CHECK(xs_store_lease_end(st, lb.id, "completed", 125, &lb, &v, &err) == XS_OK && v == XS_STORE_DONE);
    CHECK(xs_store_lease_grant(st, job, &b, "cpu", 0, &terms, 200, &lb, &wait, state, &v, &err) == XS_OK &&
          lb.frame_count >= 1 && lb.frames[0] == '1');
    CHECK(xs_store_lease_renew(st, l.id, 30, 201, &l2, &v, &err) == XS_OK && v == XS_STORE_GONE);
    /* a comes back late with frame 1: refused, b's commit counts */
    CHECK(xs_store_frame_commit(st, job, 1, l.id, "a", "f", 1, SUM, 202, &v, &done, &err) == XS_OK &&
          v == XS_STORE_GONE);
    CHECK(xs_store_frame_commit(st, job, 1, lb.id, "b", "f", 1, SUM, 203, &v, &done, &err) == XS_OK &&
          v == XS_STORE_DONE);
    CHECK(xs_store_frame_commit(st, job, 1, lb.id, "b", "f", 1, SUM, 204, &v, &done, &err) == XS_OK &&
          v == XS_STORE_CONFLICT);
    /* a lost lease ends as lost, charging its GPU-hours (2 GPUs from 100 to 205 s) */
    CHECK(xs_store_lease_end(st, l.id, "released", 205, &l2, &v, &err) == XS_OK && v == XS_STORE_GONE &&
          strcmp(l2.state, "lost") == 0);
    xs_job_row j;
    CHECK(xs_store_job_get(st, job, &j, &found, &err) == XS_OK && found &&
          fabs(j.gpu_hours_used - 2 * 105 / 3600.0) < 1e-9);
    /* a cancelled job: leases are refused as gone */
    CHECK(xs_store_job_set_state(st, job, "cancelled", "by the studio", NULL, 206, &err) == XS_OK);
    CHECK(xs_store_lease_grant(st, job, &a, "cpu", 0, &terms, 207, &l, &wait, state, &v, &err) == XS_OK &&
          v == XS_STORE_GONE && strcmp(state, "cancelled") == 0);
    CHECK(xs_store_lease_renew(st, lb.id, 30, 208, &l2, &v, &err) == XS_OK && v == XS_STORE_GONE);
    drop_store(st);
}

int main(int argc, char **argv)
{
    xs_err err;
    if (xs_token_init(&err) != XS_OK)
        return 1;
    static const xs_test_case cases[] = {
        {"token", test_token},           {"routes", test_routes},
        {"bodies", test_bodies},         {"headers", test_headers},
        {"lease_policy", test_lease_policy}, {"store_quotas", test_store_quotas},
        {"lease_speeds", test_lease_speeds}, {"lease_loss", test_lease_loss},
        {"store_reopen", test_store_reopen},
    };
    return xs_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
