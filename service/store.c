/* The service's database (see xs_store.h): the schema, one connection under
 * one lock, a cache of prepared statements, and every query. */
#include "service/xs_store.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "service/xs_api.h"
#include "service/xs_lease.h"

enum { CACHE = 96, SCHEMA_VERSION = 1 };

struct xs_store {
    sqlite3 *db;
    pthread_mutex_t lock;
    char path[4096];
    struct {
        const char *sql;
        sqlite3_stmt *s;
    } cache[CACHE];
};

static const char *schema =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS principals("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL, name TEXT NOT NULL UNIQUE,"
    " salt BLOB, hash BLOB, quota_bytes INTEGER NOT NULL, quota_jobs INTEGER NOT NULL,"
    " quota_gpu_hours REAL NOT NULL, gpu_hours_used REAL NOT NULL DEFAULT 0,"
    " account TEXT NOT NULL DEFAULT '', disabled INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);"
    "CREATE TABLE IF NOT EXISTS uploads("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, studio INTEGER NOT NULL REFERENCES principals(id),"
    " name TEXT NOT NULL, size INTEGER NOT NULL, offset INTEGER NOT NULL DEFAULT 0,"
    " xxh3 TEXT NOT NULL, state TEXT NOT NULL, job INTEGER NOT NULL DEFAULT 0,"
    " created REAL NOT NULL, updated REAL NOT NULL);"
    "CREATE TABLE IF NOT EXISTS jobs("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, studio INTEGER NOT NULL REFERENCES principals(id),"
    " job TEXT NOT NULL, name TEXT NOT NULL, mode INTEGER NOT NULL, state TEXT NOT NULL,"
    " message TEXT NOT NULL DEFAULT '', slurm_id TEXT NOT NULL DEFAULT '',"
    " nodes INTEGER NOT NULL, ranks_per_node INTEGER NOT NULL, gpus_per_node INTEGER NOT NULL,"
    " cpus_per_rank INTEGER NOT NULL, time TEXT NOT NULL,"
    " package_bytes INTEGER NOT NULL, package_xxh3 TEXT NOT NULL, output_bytes INTEGER NOT NULL DEFAULT 0,"
    " frame_count INTEGER NOT NULL, frames_done INTEGER NOT NULL DEFAULT 0,"
    " lease_failures INTEGER NOT NULL DEFAULT 0, gpu_hours_reserved REAL NOT NULL DEFAULT 0,"
    " gpu_hours_used REAL NOT NULL DEFAULT 0, created REAL NOT NULL, updated REAL NOT NULL);"
    "CREATE TABLE IF NOT EXISTS frames("
    " job INTEGER NOT NULL REFERENCES jobs(id), frame INTEGER NOT NULL, idx INTEGER NOT NULL,"
    " done INTEGER NOT NULL DEFAULT 0, lease INTEGER NOT NULL DEFAULT 0,"
    " done_by TEXT NOT NULL DEFAULT '', file TEXT NOT NULL DEFAULT '', preview TEXT NOT NULL DEFAULT '',"
    " bytes INTEGER NOT NULL DEFAULT 0, xxh3 TEXT NOT NULL DEFAULT '', done_at REAL NOT NULL DEFAULT 0,"
    " PRIMARY KEY(job, frame));"
    "CREATE INDEX IF NOT EXISTS frames_order ON frames(job, idx);"
    "CREATE TABLE IF NOT EXISTS leases("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, job INTEGER NOT NULL REFERENCES jobs(id),"
    " cluster INTEGER NOT NULL REFERENCES principals(id), frames TEXT NOT NULL,"
    " frame_count INTEGER NOT NULL, committed INTEGER NOT NULL DEFAULT 0, gpus INTEGER NOT NULL,"
    " backend TEXT NOT NULL, state TEXT NOT NULL, granted REAL NOT NULL, expires REAL NOT NULL,"
    " ended REAL NOT NULL DEFAULT 0, last_commit REAL NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS leases_of_job ON leases(job, state);"
    "CREATE TABLE IF NOT EXISTS rates("
    " job INTEGER NOT NULL, cluster INTEGER NOT NULL, rate REAL NOT NULL DEFAULT 0,"
    " last_seen REAL NOT NULL, PRIMARY KEY(job, cluster));";

/* ---- plumbing ------------------------------------------------------------------ */

static xs_result db_fail(xs_store *st, xs_err *err, const char *what)
{
    return xs_err_set(err, XS_ERR_IO, "%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
}

/* A cached statement for sql (a string literal: its address is the key),
 * reset, with its parameters bound from types: i int64, n int, d double,
 * t text, b blob (pointer, int length). NULL on failure (err set). */
static sqlite3_stmt *prep(xs_store *st, xs_err *err, const char *sql, const char *types, ...)
{
    sqlite3_stmt *s = NULL;
    int slot = -1;
    for (int i = 0; i < CACHE; ++i) {
        if (st->cache[i].sql == sql) {
            s = st->cache[i].s;
            break;
        }
        if (!st->cache[i].sql && slot < 0)
            slot = i;
    }
    if (!s) {
        if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
            db_fail(st, err, "prepare");
            return NULL;
        }
        if (slot >= 0) {
            st->cache[slot].sql = sql;
            st->cache[slot].s = s;
        } /* else: a full cache; never with the queries below */
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    va_list ap;
    va_start(ap, types);
    int rc = SQLITE_OK;
    for (int i = 0; types[i] && rc == SQLITE_OK; ++i) {
        int k = i + 1;
        switch (types[i]) {
        case 'i': rc = sqlite3_bind_int64(s, k, va_arg(ap, int64_t)); break;
        case 'n': rc = sqlite3_bind_int(s, k, va_arg(ap, int)); break;
        case 'd': rc = sqlite3_bind_double(s, k, va_arg(ap, double)); break;
        case 't': rc = sqlite3_bind_text(s, k, va_arg(ap, const char *), -1, SQLITE_TRANSIENT); break;
        case 'b': {
            const void *p = va_arg(ap, const void *);
            int n = va_arg(ap, int);
            rc = sqlite3_bind_blob(s, k, p, n, SQLITE_TRANSIENT);
            break;
        }
        default: rc = SQLITE_MISUSE;
        }
    }
    va_end(ap);
    if (rc != SQLITE_OK) {
        db_fail(st, err, "bind");
        return NULL;
    }
    return s;
}

/* Steps a statement that returns no rows. */
static xs_result run(xs_store *st, xs_err *err, sqlite3_stmt *s)
{
    if (!s)
        return XS_ERR_IO;
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return db_fail(st, err, "step");
    return XS_OK;
}

static xs_result exec(xs_store *st, const char *sql, xs_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        xs_err_set(err, XS_ERR_IO, "%s: %s", st->path, msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return XS_ERR_IO;
    }
    return XS_OK;
}

static xs_result begin(xs_store *st, xs_err *err) { return exec(st, "BEGIN IMMEDIATE", err); }
static xs_result commit(xs_store *st, xs_err *err) { return exec(st, "COMMIT", err); }
static void rollback(xs_store *st) { sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL); }

/* Ends a transaction: commits when r is XS_OK, rolls back otherwise. */
static xs_result finish(xs_store *st, xs_result r, xs_err *err)
{
    if (r == XS_OK)
        return commit(st, err);
    rollback(st);
    return r;
}

static void col_text(sqlite3_stmt *s, int i, char *out, size_t n)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    snprintf(out, n, "%s", t ? (const char *)t : "");
}

static void lock(xs_store *st) { pthread_mutex_lock(&st->lock); }
static void unlock(xs_store *st) { pthread_mutex_unlock(&st->lock); }

xs_result xs_store_open(const char *path, xs_store **out, xs_err *err)
{
    *out = NULL;
    xs_store *st = calloc(1, sizeof *st);
    if (!st)
        return xs_err_set(err, XS_ERR_NOMEM, "store: out of memory");
    snprintf(st->path, sizeof st->path, "%s", path);
    pthread_mutex_init(&st->lock, NULL);
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        xs_err_set(err, XS_ERR_IO, "%s: cannot open the database: %s", path,
                   st->db ? sqlite3_errmsg(st->db) : "out of memory");
        xs_store_close(st);
        return XS_ERR_IO;
    }
    sqlite3_busy_timeout(st->db, 10000);
    xs_result r = exec(st, "PRAGMA journal_mode=WAL", err);
    if (r == XS_OK)
        r = exec(st, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", err);
    if (r == XS_OK)
        r = begin(st, err);
    if (r == XS_OK) {
        r = exec(st, schema, err);
        if (r == XS_OK) {
            char sql[128];
            snprintf(sql, sizeof sql,
                     "INSERT OR IGNORE INTO meta(key, value) VALUES('schema', '%d')", SCHEMA_VERSION);
            r = exec(st, sql, err);
        }
        r = finish(st, r, err);
    }
    if (r == XS_OK) {
        sqlite3_stmt *s = prep(st, err, "SELECT value FROM meta WHERE key = 'schema'", "");
        if (!s || sqlite3_step(s) != SQLITE_ROW || sqlite3_column_int(s, 0) != SCHEMA_VERSION)
            r = xs_err_set(err, XS_ERR_INVALID, "%s: meta.schema: this xisuan reads schema %d",
                           path, SCHEMA_VERSION);
        if (s)
            sqlite3_reset(s);
    }
    if (r != XS_OK) {
        xs_store_close(st);
        return r;
    }
    *out = st;
    return XS_OK;
}

void xs_store_close(xs_store *st)
{
    if (!st)
        return;
    for (int i = 0; i < CACHE; ++i)
        if (st->cache[i].s)
            sqlite3_finalize(st->cache[i].s);
    if (st->db)
        sqlite3_close(st->db);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

xs_result xs_store_ping(xs_store *st, xs_err *err)
{
    lock(st);
    sqlite3_stmt *s = prep(st, err, "SELECT COUNT(*) FROM principals", "");
    xs_result r = s && sqlite3_step(s) == SQLITE_ROW ? XS_OK : (s ? db_fail(st, err, "ping") : XS_ERR_IO);
    if (s)
        sqlite3_reset(s);
    unlock(st);
    return r;
}

/* ---- principals ---------------------------------------------------------------- */

#define PRINCIPAL_COLS                                                                          \
    "id, kind, name, salt, hash, quota_bytes, quota_jobs, quota_gpu_hours, gpu_hours_used, "    \
    "account, disabled"

static void read_principal(sqlite3_stmt *s, xs_principal *p)
{
    memset(p, 0, sizeof *p);
    p->id = sqlite3_column_int64(s, 0);
    p->kind = sqlite3_column_int(s, 1);
    col_text(s, 2, p->name, sizeof p->name);
    if (sqlite3_column_bytes(s, 3) == XS_TOKEN_SALT)
        memcpy(p->salt, sqlite3_column_blob(s, 3), XS_TOKEN_SALT);
    if (sqlite3_column_bytes(s, 4) == XS_TOKEN_HASH)
        memcpy(p->hash, sqlite3_column_blob(s, 4), XS_TOKEN_HASH);
    p->quota_bytes = sqlite3_column_int64(s, 5);
    p->quota_jobs = sqlite3_column_int(s, 6);
    p->quota_gpu_hours = sqlite3_column_double(s, 7);
    p->gpu_hours_used = sqlite3_column_double(s, 8);
    col_text(s, 9, p->account, sizeof p->account);
    p->disabled = sqlite3_column_int(s, 10) != 0;
}

static xs_result set_token(xs_store *st, int64_t id, char token[XS_TOKEN_TEXT], xs_err *err)
{
    uint8_t salt[XS_TOKEN_SALT], hash[XS_TOKEN_HASH];
    xs_result r = xs_token_new(id, token, salt, hash, err);
    if (r == XS_OK)
        r = run(st, err, prep(st, err, "UPDATE principals SET salt = ?, hash = ? WHERE id = ?", "bbi",
                              (const void *)salt, XS_TOKEN_SALT, (const void *)hash, XS_TOKEN_HASH, id));
    return r;
}

xs_result xs_store_principal_add(xs_store *st, const xs_principal *p, char token[XS_TOKEN_TEXT],
                                 xs_err *err)
{
    lock(st);
    xs_result r = begin(st, err);
    if (r == XS_OK) {
        sqlite3_stmt *s = prep(st, err, "SELECT id FROM principals WHERE name = ?", "t", p->name);
        if (!s)
            r = XS_ERR_IO;
        else if (sqlite3_step(s) == SQLITE_ROW)
            r = xs_err_set(err, XS_ERR_INVALID, "%s: a studio or cluster of this name exists", p->name);
        if (s)
            sqlite3_reset(s);
        if (r == XS_OK)
            r = run(st, err,
                    prep(st, err,
                         "INSERT INTO principals(kind, name, quota_bytes, quota_jobs, quota_gpu_hours,"
                         " account, disabled, created) VALUES(?, ?, ?, ?, ?, ?, 0, strftime('%s','now'))",
                         "ntindt", p->kind, p->name, p->quota_bytes, p->quota_jobs,
                         p->quota_gpu_hours, p->account));
        if (r == XS_OK)
            r = set_token(st, sqlite3_last_insert_rowid(st->db), token, err);
        r = finish(st, r, err);
    }
    unlock(st);
    return r;
}

xs_result xs_store_principal_rotate(xs_store *st, const char *name, char token[XS_TOKEN_TEXT],
                                    xs_err *err)
{
    lock(st);
    xs_result r = begin(st, err);
    if (r == XS_OK) {
        sqlite3_stmt *s = prep(st, err, "SELECT id FROM principals WHERE name = ?", "t", name);
        int64_t id = 0;
        if (!s)
            r = XS_ERR_IO;
        else if (sqlite3_step(s) == SQLITE_ROW)
            id = sqlite3_column_int64(s, 0);
        else
            r = xs_err_set(err, XS_ERR_INVALID, "%s: no studio or cluster of this name", name);
        if (s)
            sqlite3_reset(s);
        if (r == XS_OK)
            r = set_token(st, id, token, err);
        r = finish(st, r, err);
    }
    unlock(st);
    return r;
}

xs_result xs_store_principal_update(xs_store *st, const xs_principal *p, xs_err *err)
{
    lock(st);
    xs_result r = run(st, err,
                      prep(st, err,
                           "UPDATE principals SET quota_bytes = ?, quota_jobs = ?, quota_gpu_hours = ?,"
                           " account = ?, disabled = ? WHERE name = ?",
                           "indtnt", p->quota_bytes, p->quota_jobs, p->quota_gpu_hours, p->account,
                           (int)p->disabled, p->name));
    if (r == XS_OK && sqlite3_changes(st->db) == 0)
        r = xs_err_set(err, XS_ERR_INVALID, "%s: no studio or cluster of this name", p->name);
    unlock(st);
    return r;
}

static xs_result principal_where(xs_store *st, const char *sql, const char *types, int64_t id,
                                 const char *name, xs_principal *p, bool *found, xs_err *err)
{
    *found = false;
    sqlite3_stmt *s = types[0] == 'i' ? prep(st, err, sql, "i", id) : prep(st, err, sql, "t", name);
    if (!s)
        return XS_ERR_IO;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        read_principal(s, p);
        *found = true;
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? XS_OK : db_fail(st, err, "principal");
}

xs_result xs_store_principal_get(xs_store *st, int64_t id, xs_principal *p, bool *found, xs_err *err)
{
    lock(st);
    xs_result r = principal_where(st, "SELECT " PRINCIPAL_COLS " FROM principals WHERE id = ?", "i",
                                  id, NULL, p, found, err);
    unlock(st);
    return r;
}

xs_result xs_store_principal_by_name(xs_store *st, const char *name, xs_principal *p, bool *found,
                                     xs_err *err)
{
    lock(st);
    xs_result r = principal_where(st, "SELECT " PRINCIPAL_COLS " FROM principals WHERE name = ?",
                                  "t", 0, name, p, found, err);
    unlock(st);
    return r;
}

static xs_result usage_locked(xs_store *st, int64_t studio, xs_usage *u, xs_err *err)
{
    memset(u, 0, sizeof *u);
    sqlite3_stmt *s = prep(st, err,
                           "SELECT (SELECT COALESCE(SUM(size), 0) FROM uploads WHERE studio = ?1 AND"
                           "         state IN ('open', 'complete')),"
                           "       (SELECT COALESCE(SUM(package_bytes + output_bytes), 0) FROM jobs"
                           "         WHERE studio = ?1),"
                           "       (SELECT COUNT(*) FROM jobs WHERE studio = ?1 AND state IN"
                           "         ('queued', 'submitting', 'submitted', 'running', 'cancelling')),"
                           "       (SELECT COALESCE(SUM(gpu_hours_reserved), 0) FROM jobs WHERE studio = ?1),"
                           "       (SELECT gpu_hours_used FROM principals WHERE id = ?1)",
                           "i", studio);
    if (!s)
        return XS_ERR_IO;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        u->bytes = sqlite3_column_int64(s, 0) + sqlite3_column_int64(s, 1);
        u->jobs_in_flight = sqlite3_column_int(s, 2);
        u->gpu_hours_reserved = sqlite3_column_double(s, 3);
        u->gpu_hours_used = sqlite3_column_double(s, 4);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? XS_OK : db_fail(st, err, "usage");
}

xs_result xs_store_usage(xs_store *st, int64_t studio, xs_usage *u, xs_err *err)
{
    lock(st);
    xs_result r = usage_locked(st, studio, u, err);
    unlock(st);
    return r;
}

xs_result xs_store_principal_print(xs_store *st, FILE *f, xs_err *err)
{
    lock(st);
    sqlite3_stmt *s = prep(st, err, "SELECT " PRINCIPAL_COLS " FROM principals ORDER BY id", "");
    xs_result r = s ? XS_OK : XS_ERR_IO;
    int n = 0;
    xs_principal *rows = NULL;
    while (r == XS_OK && sqlite3_step(s) == SQLITE_ROW) {
        xs_principal *g = realloc(rows, (size_t)(n + 1) * sizeof *rows);
        if (!g) {
            r = xs_err_set(err, XS_ERR_NOMEM, "out of memory");
            break;
        }
        rows = g;
        read_principal(s, &rows[n++]);
    }
    if (s)
        sqlite3_reset(s);
    fprintf(f, "%-4s %-8s %-24s %-9s %14s %14s %6s %12s %12s %s\n", "id", "kind", "name", "state",
            "bytes", "quota_bytes", "jobs", "gpu_h_used", "quota_gpu_h", "account");
    for (int i = 0; r == XS_OK && i < n; ++i) {
        xs_usage u;
        memset(&u, 0, sizeof u);
        if (rows[i].kind == XS_PRINCIPAL_STUDIO)
            r = usage_locked(st, rows[i].id, &u, err);
        if (rows[i].kind == XS_PRINCIPAL_STUDIO)
            fprintf(f, "%-4" PRId64 " %-8s %-24s %-9s %14" PRId64 " %14" PRId64 " %3d/%-3d %12.3f %12.3f %s\n",
                    rows[i].id, "studio", rows[i].name, rows[i].disabled ? "disabled" : "active",
                    u.bytes, rows[i].quota_bytes, u.jobs_in_flight, rows[i].quota_jobs,
                    rows[i].gpu_hours_used, rows[i].quota_gpu_hours, rows[i].account);
        else
            fprintf(f, "%-4" PRId64 " %-8s %-24s %-9s\n", rows[i].id, "cluster", rows[i].name,
                    rows[i].disabled ? "disabled" : "active");
    }
    free(rows);
    unlock(st);
    return r;
}

/* ---- uploads ------------------------------------------------------------------- */

#define UPLOAD_COLS "id, studio, name, size, offset, xxh3, state, job"

static void read_upload(sqlite3_stmt *s, xs_upload *u)
{
    memset(u, 0, sizeof *u);
    u->id = sqlite3_column_int64(s, 0);
    u->studio = sqlite3_column_int64(s, 1);
    col_text(s, 2, u->name, sizeof u->name);
    u->size = sqlite3_column_int64(s, 3);
    u->offset = sqlite3_column_int64(s, 4);
    col_text(s, 5, u->xxh3, sizeof u->xxh3);
    col_text(s, 6, u->state, sizeof u->state);
    u->job = sqlite3_column_int64(s, 7);
}

xs_result xs_store_upload_open(xs_store *st, int64_t studio, const char *name, int64_t size,
                               const char *xxh3, int64_t quota_bytes, double now, xs_upload *u,
                               bool *resumed, xs_store_verdict *v, xs_err *err)
{
    *resumed = false;
    *v = XS_STORE_DONE;
    lock(st);
    xs_result r = begin(st, err);
    if (r != XS_OK) {
        unlock(st);
        return r;
    }
    sqlite3_stmt *s = prep(st, err,
                           "SELECT " UPLOAD_COLS " FROM uploads WHERE studio = ? AND size = ? AND"
                           " xxh3 = ? AND state IN ('open', 'complete') ORDER BY id DESC LIMIT 1",
                           "iit", studio, size, xxh3);
    if (!s) {
        r = XS_ERR_IO;
    } else if (sqlite3_step(s) == SQLITE_ROW) {
        read_upload(s, u);
        *resumed = true;
    }
    if (s)
        sqlite3_reset(s);
    if (r == XS_OK && !*resumed) {
        xs_usage use;
        r = usage_locked(st, studio, &use, err);
        if (r == XS_OK && use.bytes + size > quota_bytes) {
            *v = XS_STORE_QUOTA;
            xs_err_set(err, XS_ERR_INVALID,
                       "quota: %" PRId64 " bytes would take the studio's spool use from %" PRId64
                       " to %" PRId64 " bytes, over its quota of %" PRId64,
                       size, use.bytes, use.bytes + size, quota_bytes);
        } else if (r == XS_OK) {
            r = run(st, err,
                    prep(st, err,
                         "INSERT INTO uploads(studio, name, size, xxh3, state, created, updated)"
                         " VALUES(?, ?, ?, ?, 'open', ?, ?)",
                         "ititdd", studio, name, size, xxh3, now, now));
        }
    }
    if (r == XS_OK && *v == XS_STORE_DONE && !*resumed) {
        int64_t id = sqlite3_last_insert_rowid(st->db);
        sqlite3_stmt *g = prep(st, err, "SELECT " UPLOAD_COLS " FROM uploads WHERE id = ?", "i", id);
        if (g && sqlite3_step(g) == SQLITE_ROW)
            read_upload(g, u);
        else
            r = db_fail(st, err, "upload");
        if (g)
            sqlite3_reset(g);
    }
    if (*v != XS_STORE_DONE)
        rollback(st); /* a refusal, not an error: the caller reads *v */
    else
        r = finish(st, r, err);
    unlock(st);
    return r;
}

xs_result xs_store_upload_get(xs_store *st, int64_t id, xs_upload *u, bool *found, xs_err *err)
{
    *found = false;
    lock(st);
    sqlite3_stmt *s = prep(st, err, "SELECT " UPLOAD_COLS " FROM uploads WHERE id = ?", "i", id);
    xs_result r = s ? XS_OK : XS_ERR_IO;
    if (s) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            read_upload(s, u);
            *found = true;
        } else if (rc != SQLITE_DONE) {
            r = db_fail(st, err, "upload");
        }
        sqlite3_reset(s);
    }
    unlock(st);
    return r;
}

xs_result xs_store_upload_set(xs_store *st, int64_t id, int64_t offset, const char *state,
                              double now, xs_err *err)
{
    lock(st);
    xs_result r = run(st, err, prep(st, err,
                                    "UPDATE uploads SET offset = ?, state = ?, updated = ? WHERE id = ?",
                                    "itdi", offset, state, now, id));
    unlock(st);
    return r;
}

xs_result xs_store_upload_live(xs_store *st, int64_t **ids, int *n, xs_err *err)
{
    *ids = NULL;
    *n = 0;
    lock(st);
    sqlite3_stmt *s = prep(st, err, "SELECT id FROM uploads WHERE state IN ('open', 'complete')", "");
    xs_result r = s ? XS_OK : XS_ERR_IO;
    while (r == XS_OK && sqlite3_step(s) == SQLITE_ROW) {
        int64_t *g = realloc(*ids, (size_t)(*n + 1) * sizeof **ids);
        if (!g) {
            r = xs_err_set(err, XS_ERR_NOMEM, "out of memory");
            break;
        }
        *ids = g;
        (*ids)[(*n)++] = sqlite3_column_int64(s, 0);
    }
    if (s)
        sqlite3_reset(s);
    unlock(st);
    return r;
}

/* ---- jobs ---------------------------------------------------------------------- */

#define JOB_COLS                                                                                \
    "j.id, j.studio, p.name, p.account, j.job, j.name, j.mode, j.state, j.message, j.slurm_id,"  \
    " j.nodes, j.ranks_per_node, j.gpus_per_node, j.cpus_per_rank, j.time, j.package_bytes,"   \
    " j.output_bytes, j.package_xxh3, j.frame_count, j.frames_done, j.lease_failures,"         \
    " j.gpu_hours_reserved, j.gpu_hours_used, j.created, j.updated"

static void read_job(sqlite3_stmt *s, xs_job_row *j)
{
    memset(j, 0, sizeof *j);
    int c = 0;
    j->id = sqlite3_column_int64(s, c++);
    j->studio = sqlite3_column_int64(s, c++);
    col_text(s, c++, j->studio_name, sizeof j->studio_name);
    col_text(s, c++, j->account, sizeof j->account);
    col_text(s, c++, j->job, sizeof j->job);
    col_text(s, c++, j->name, sizeof j->name);
    j->mode = sqlite3_column_int(s, c++);
    col_text(s, c++, j->state, sizeof j->state);
    col_text(s, c++, j->message, sizeof j->message);
    col_text(s, c++, j->slurm_id, sizeof j->slurm_id);
    j->nodes = sqlite3_column_int(s, c++);
    j->ranks_per_node = sqlite3_column_int(s, c++);
    j->gpus_per_node = sqlite3_column_int(s, c++);
    j->cpus_per_rank = sqlite3_column_int(s, c++);
    col_text(s, c++, j->time, sizeof j->time);
    j->package_bytes = sqlite3_column_int64(s, c++);
    j->output_bytes = sqlite3_column_int64(s, c++);
    col_text(s, c++, j->package_xxh3, sizeof j->package_xxh3);
    j->frame_count = sqlite3_column_int(s, c++);
    j->frames_done = sqlite3_column_int(s, c++);
    j->lease_failures = sqlite3_column_int(s, c++);
    j->gpu_hours_reserved = sqlite3_column_double(s, c++);
    j->gpu_hours_used = sqlite3_column_double(s, c++);
    j->created = sqlite3_column_double(s, c++);
    j->updated = sqlite3_column_double(s, c++);
}

static bool state_in_flight(const char *state)
{
    return strcmp(state, "queued") == 0 || strcmp(state, "submitting") == 0 ||
           strcmp(state, "submitted") == 0 || strcmp(state, "running") == 0 ||
           strcmp(state, "cancelling") == 0;
}

xs_result xs_store_job_create(xs_store *st, xs_job_row *job, int64_t upload, const int *frames,
                              int frame_count, const xs_principal *studio,
                              xs_store_job_prepare prepare, void *ctx, double now, int64_t *job_id,
                              xs_store_verdict *v, xs_err *err)
{
    *v = XS_STORE_DONE;
    *job_id = 0;
    lock(st);
    xs_result r = begin(st, err);
    if (r != XS_OK) {
        unlock(st);
        return r;
    }
    xs_upload u;
    bool found = false;
    sqlite3_stmt *s = prep(st, err, "SELECT " UPLOAD_COLS " FROM uploads WHERE id = ?", "i", upload);
    if (!s) {
        r = XS_ERR_IO;
    } else {
        if (sqlite3_step(s) == SQLITE_ROW) {
            read_upload(s, &u);
            found = u.studio == studio->id;
        }
        sqlite3_reset(s);
    }
    xs_usage use;
    if (r == XS_OK && !found) {
        *v = XS_STORE_NOT_FOUND;
        xs_err_set(err, XS_ERR_INVALID, "upload: no upload %" PRId64 " of this studio", upload);
    } else if (r == XS_OK && strcmp(u.state, "used") == 0) {
        *v = XS_STORE_CONFLICT;
        *job_id = u.job;
        xs_err_set(err, XS_ERR_INVALID, "upload: upload %" PRId64 " was taken by job %" PRId64,
                   upload, u.job);
    } else if (r == XS_OK && strcmp(u.state, "complete") != 0) {
        *v = XS_STORE_CONFLICT;
        xs_err_set(err, XS_ERR_INVALID,
                   "upload: upload %" PRId64 " is not complete (%" PRId64 " of %" PRId64 " bytes)",
                   upload, u.offset, u.size);
    } else if (r == XS_OK && (r = usage_locked(st, studio->id, &use, err)) == XS_OK) {
        const double reserve = job->mode == XS_JOB_MODE_SLURM
                                   ? job->gpu_hours_reserved : 0.0;
        if (use.jobs_in_flight + 1 > studio->quota_jobs) {
            *v = XS_STORE_QUOTA;
            xs_err_set(err, XS_ERR_INVALID,
                       "quota: the studio has %d job(s) in flight, its quota is %d",
                       use.jobs_in_flight, studio->quota_jobs);
        } else if (use.gpu_hours_used + use.gpu_hours_reserved + reserve > studio->quota_gpu_hours ||
                   use.gpu_hours_used >= studio->quota_gpu_hours) {
            *v = XS_STORE_QUOTA;
            xs_err_set(err, XS_ERR_INVALID,
                       "quota: GPU-hours: %.3f used and %.3f reserved by jobs in flight, this job "
                       "reserves %.3f (nodes x GPUs x time limit), the quota is %.3f",
                       use.gpu_hours_used, use.gpu_hours_reserved, reserve, studio->quota_gpu_hours);
        }
    }
    if (r == XS_OK && *v == XS_STORE_DONE) {
        r = run(st, err,
                prep(st, err,
                     "INSERT INTO jobs(studio, job, name, mode, state, nodes, ranks_per_node,"
                     " gpus_per_node, cpus_per_rank, time, package_bytes, package_xxh3, frame_count,"
                     " gpu_hours_reserved, created, updated)"
                     " VALUES(?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     "ittnnnnntitnddd", studio->id, job->job, job->name, job->mode, job->nodes,
                     job->ranks_per_node, job->gpus_per_node, job->cpus_per_rank, job->time,
                     u.size, u.xxh3, frame_count,
                     job->mode == XS_JOB_MODE_SLURM ? job->gpu_hours_reserved : 0.0, now, now));
        if (r == XS_OK)
            *job_id = sqlite3_last_insert_rowid(st->db);
        for (int i = 0; r == XS_OK && i < frame_count; ++i)
            r = run(st, err, prep(st, err, "INSERT INTO frames(job, frame, idx) VALUES(?, ?, ?)",
                                  "inn", *job_id, frames[i], i));
        if (r == XS_OK)
            r = run(st, err, prep(st, err, "UPDATE uploads SET state = 'used', job = ?, updated = ?"
                                           " WHERE id = ?", "idi", *job_id, now, upload));
        if (r == XS_OK && prepare)
            r = prepare(ctx, *job_id, err);
    }
    if (*v != XS_STORE_DONE) {
        rollback(st);
    } else {
        r = finish(st, r, err);
        if (r != XS_OK)
            *job_id = 0;
    }
    unlock(st);
    return r;
}

static xs_result job_where(xs_store *st, sqlite3_stmt *s, xs_job_row **rows, int *n, xs_err *err)
{
    *rows = NULL;
    *n = 0;
    if (!s)
        return XS_ERR_IO;
    xs_result r = XS_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        xs_job_row *g = realloc(*rows, (size_t)(*n + 1) * sizeof **rows);
        if (!g) {
            r = xs_err_set(err, XS_ERR_NOMEM, "out of memory");
            break;
        }
        *rows = g;
        read_job(s, &(*rows)[(*n)++]);
    }
    if (r == XS_OK && rc != SQLITE_DONE)
        r = db_fail(st, err, "jobs");
    sqlite3_reset(s);
    if (r != XS_OK) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return r;
}

xs_result xs_store_job_get(xs_store *st, int64_t id, xs_job_row *j, bool *found, xs_err *err)
{
    lock(st);
    xs_job_row *rows = NULL;
    int n = 0;
    xs_result r = job_where(st, prep(st, err,
                                     "SELECT " JOB_COLS " FROM jobs j JOIN principals p ON p.id = j.studio"
                                     " WHERE j.id = ?", "i", id),
                            &rows, &n, err);
    unlock(st);
    *found = r == XS_OK && n == 1;
    if (*found)
        *j = rows[0];
    free(rows);
    return r;
}

xs_result xs_store_job_list(xs_store *st, int64_t studio, xs_job_row **rows, int *n, xs_err *err)
{
    lock(st);
    xs_result r = job_where(st, prep(st, err,
                                     "SELECT " JOB_COLS " FROM jobs j JOIN principals p ON p.id = j.studio"
                                     " WHERE ?1 = 0 OR j.studio = ?1 ORDER BY j.id DESC", "i", studio),
                            rows, n, err);
    unlock(st);
    return r;
}

xs_result xs_store_job_in_states(xs_store *st, const char *const *states, xs_job_row **rows,
                                 int *n, xs_err *err)
{
    *rows = NULL;
    *n = 0;
    for (const char *const *k = states; *k; ++k) {
        xs_job_row *part = NULL;
        int m = 0;
        lock(st);
        xs_result r = job_where(st, prep(st, err,
                                         "SELECT " JOB_COLS " FROM jobs j JOIN principals p ON p.id = j.studio"
                                         " WHERE j.state = ? ORDER BY j.id", "t", *k),
                                &part, &m, err);
        unlock(st);
        if (r != XS_OK) {
            free(*rows);
            *rows = NULL;
            *n = 0;
            return r;
        }
        if (m > 0) {
            xs_job_row *g = realloc(*rows, (size_t)(*n + m) * sizeof **rows);
            if (!g) {
                free(part);
                free(*rows);
                *rows = NULL;
                *n = 0;
                return xs_err_set(err, XS_ERR_NOMEM, "out of memory");
            }
            *rows = g;
            memcpy(*rows + *n, part, (size_t)m * sizeof *part);
            *n += m;
        }
        free(part);
    }
    return XS_OK;
}

xs_result xs_store_job_set_state(xs_store *st, int64_t id, const char *state, const char *message,
                                 const char *slurm_id, double now, xs_err *err)
{
    lock(st);
    xs_result r = run(st, err,
                      prep(st, err,
                           "UPDATE jobs SET state = ?, message = COALESCE(?, message),"
                           " slurm_id = COALESCE(?, slurm_id), updated = ?,"
                           " gpu_hours_reserved = CASE WHEN ? THEN gpu_hours_reserved ELSE 0 END"
                           " WHERE id = ?",
                           "tttdni", state, message, slurm_id, now, (int)state_in_flight(state), id));
    unlock(st);
    return r;
}

static xs_result charge_locked(xs_store *st, int64_t job, double gpu_hours, xs_err *err)
{
    if (!(gpu_hours > 0))
        return XS_OK;
    xs_result r = run(st, err, prep(st, err, "UPDATE jobs SET gpu_hours_used = gpu_hours_used + ?"
                                             " WHERE id = ?", "di", gpu_hours, job));
    if (r == XS_OK)
        r = run(st, err, prep(st, err,
                              "UPDATE principals SET gpu_hours_used = gpu_hours_used + ?"
                              " WHERE id = (SELECT studio FROM jobs WHERE id = ?)",
                              "di", gpu_hours, job));
    return r;
}

xs_result xs_store_job_charge(xs_store *st, int64_t id, double gpu_hours, xs_err *err)
{
    lock(st);
    xs_result r = begin(st, err);
    if (r == XS_OK)
        r = finish(st, charge_locked(st, id, gpu_hours, err), err);
    unlock(st);
    return r;
}

xs_result xs_store_job_lease_failed(xs_store *st, int64_t id, int *failures, xs_err *err)
{
    lock(st);
    xs_result r = run(st, err, prep(st, err, "UPDATE jobs SET lease_failures = lease_failures + 1"
                                             " WHERE id = ?", "i", id));
    *failures = 0;
    if (r == XS_OK) {
        sqlite3_stmt *s = prep(st, err, "SELECT lease_failures FROM jobs WHERE id = ?", "i", id);
        if (s && sqlite3_step(s) == SQLITE_ROW)
            *failures = sqlite3_column_int(s, 0);
        if (s)
            sqlite3_reset(s);
    }
    unlock(st);
    return r;
}

/* ---- frames -------------------------------------------------------------------- */

#define FRAME_COLS "frame, idx, done, lease, done_by, file, preview, bytes, xxh3, done_at"

static void read_frame(sqlite3_stmt *s, xs_frame_row *f)
{
    memset(f, 0, sizeof *f);
    f->frame = sqlite3_column_int(s, 0);
    f->idx = sqlite3_column_int(s, 1);
    f->done = sqlite3_column_int(s, 2) != 0;
    f->lease = sqlite3_column_int64(s, 3);
    col_text(s, 4, f->by, sizeof f->by);
    col_text(s, 5, f->file, sizeof f->file);
    col_text(s, 6, f->preview, sizeof f->preview);
    f->bytes = sqlite3_column_int64(s, 7);
    col_text(s, 8, f->xxh3, sizeof f->xxh3);
    f->done_at = sqlite3_column_double(s, 9);
}

xs_result xs_store_frames(xs_store *st, int64_t job, xs_frame_row **rows, int *n, xs_err *err)
{
    *rows = NULL;
    *n = 0;
    lock(st);
    sqlite3_stmt *s = prep(st, err, "SELECT " FRAME_COLS " FROM frames WHERE job = ? ORDER BY idx",
                           "i", job);
    xs_result r = s ? XS_OK : XS_ERR_IO;
    int cap = 0;
    while (r == XS_OK && sqlite3_step(s) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            xs_frame_row *g = realloc(*rows, (size_t)cap * sizeof **rows);
            if (!g) {
                r = xs_err_set(err, XS_ERR_NOMEM, "out of memory");
                break;
            }
            *rows = g;
        }
        read_frame(s, &(*rows)[(*n)++]);
    }
    if (s)
        sqlite3_reset(s);
    unlock(st);
    if (r != XS_OK) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return r;
}

xs_result xs_store_frame_get(xs_store *st, int64_t job, int frame, xs_frame_row *f, bool *found,
                             xs_err *err)
{
    *found = false;
    lock(st);
    sqlite3_stmt *s = prep(st, err, "SELECT " FRAME_COLS " FROM frames WHERE job = ? AND frame = ?",
                           "in", job, frame);
    xs_result r = s ? XS_OK : XS_ERR_IO;
    if (s) {
        if (sqlite3_step(s) == SQLITE_ROW) {
            read_frame(s, f);
            *found = true;
        }
        sqlite3_reset(s);
    }
    unlock(st);
    return r;
}

xs_result xs_store_frame_commit(xs_store *st, int64_t job, int frame, int64_t lease,
                                const char *by, const char *file, int64_t bytes, const char *xxh3,
                                double now, xs_store_verdict *v, bool *job_done, xs_err *err)
{
    *v = XS_STORE_DONE;
    *job_done = false;
    lock(st);
    xs_result r = begin(st, err);
    if (r != XS_OK) {
        unlock(st);
        return r;
    }
    xs_frame_row f;
    bool found = false;
    sqlite3_stmt *s = prep(st, err, "SELECT " FRAME_COLS " FROM frames WHERE job = ? AND frame = ?",
                           "in", job, frame);
    if (!s) {
        r = XS_ERR_IO;
    } else {
        if (sqlite3_step(s) == SQLITE_ROW) {
            read_frame(s, &f);
            found = true;
        }
        sqlite3_reset(s);
    }
    if (r == XS_OK) {
        if (!found)
            *v = XS_STORE_NOT_FOUND;
        else if (f.done)
            *v = XS_STORE_CONFLICT;
        else if (lease > 0 && f.lease != lease)
            *v = XS_STORE_GONE;
    }
    if (r == XS_OK && *v == XS_STORE_DONE) {
        r = run(st, err, prep(st, err,
                              "UPDATE frames SET done = 1, done_by = ?, file = ?, bytes = ?, xxh3 = ?,"
                              " done_at = ? WHERE job = ? AND frame = ?",
                              "ttitdin", by, file, bytes, xxh3, now, job, frame));
        if (r == XS_OK)
            r = run(st, err, prep(st, err,
                                  "UPDATE jobs SET frames_done = frames_done + 1,"
                                  " output_bytes = output_bytes + ?, updated = ? WHERE id = ?",
                                  "idi", bytes, now, job));
        if (r == XS_OK && lease > 0)
            r = run(st, err, prep(st, err,
                                  "UPDATE leases SET committed = committed + 1, last_commit = ?"
                                  " WHERE id = ?", "di", now, lease));
        if (r == XS_OK && lease > 0)
            r = run(st, err, prep(st, err,
                                  "UPDATE rates SET last_seen = ? WHERE job = ? AND"
                                  " cluster = (SELECT cluster FROM leases WHERE id = ?)",
                                  "dii", now, job, lease));
        if (r == XS_OK) {
            /* a lease job is complete with its last frame */
            r = run(st, err, prep(st, err,
                                  "UPDATE jobs SET state = 'completed', updated = ? WHERE id = ? AND"
                                  " mode = ? AND frames_done = frame_count AND state IN ('queued', 'running')",
                                  "din", now, job, XS_JOB_MODE_LEASE));
            *job_done = r == XS_OK && sqlite3_changes(st->db) > 0;
        }
    }
    r = finish(st, r, err);
    unlock(st);
    return r;
}

xs_result xs_store_frame_set_preview(xs_store *st, int64_t job, int frame, const char *file,
                                     int64_t bytes, xs_err *err)
{
    lock(st);
    xs_result r = begin(st, err);
    if (r == XS_OK) {
        r = run(st, err, prep(st, err,
                              "UPDATE frames SET preview = ? WHERE job = ? AND frame = ? AND preview = ''",
                              "tin", file, job, frame));
        if (r == XS_OK && sqlite3_changes(st->db) > 0)
            r = run(st, err, prep(st, err, "UPDATE jobs SET output_bytes = output_bytes + ? WHERE id = ?",
                                  "ii", bytes, job));
        r = finish(st, r, err);
    }
    unlock(st);
    return r;
}

/* ---- leases -------------------------------------------------------------------- */

#define LEASE_COLS                                                                               \
    "l.id, l.job, l.cluster, p.name, l.frames, l.frame_count, l.committed, l.gpus, l.backend,"    \
    " l.state, l.granted, l.expires, l.ended, l.last_commit"

static void read_lease(sqlite3_stmt *s, xs_lease_row *l)
{
    memset(l, 0, sizeof *l);
    int c = 0;
    l->id = sqlite3_column_int64(s, c++);
    l->job = sqlite3_column_int64(s, c++);
    l->cluster = sqlite3_column_int64(s, c++);
    col_text(s, c++, l->cluster_name, sizeof l->cluster_name);
    col_text(s, c++, l->frames, sizeof l->frames);
    l->frame_count = sqlite3_column_int(s, c++);
    l->committed = sqlite3_column_int(s, c++);
    l->gpus = sqlite3_column_int(s, c++);
    col_text(s, c++, l->backend, sizeof l->backend);
    col_text(s, c++, l->state, sizeof l->state);
    l->granted = sqlite3_column_double(s, c++);
    l->expires = sqlite3_column_double(s, c++);
    l->ended = sqlite3_column_double(s, c++);
    l->last_commit = sqlite3_column_double(s, c++);
}

static xs_result lease_locked(xs_store *st, int64_t id, xs_lease_row *l, bool *found, xs_err *err)
{
    *found = false;
    sqlite3_stmt *s = prep(st, err,
                           "SELECT " LEASE_COLS " FROM leases l JOIN principals p ON p.id = l.cluster"
                           " WHERE l.id = ?", "i", id);
    if (!s)
        return XS_ERR_IO;
    if (sqlite3_step(s) == SQLITE_ROW) {
        read_lease(s, l);
        *found = true;
    }
    sqlite3_reset(s);
    return XS_OK;
}

xs_result xs_store_lease_get(xs_store *st, int64_t id, xs_lease_row *l, bool *found, xs_err *err)
{
    lock(st);
    xs_result r = lease_locked(st, id, l, found, err);
    unlock(st);
    return r;
}

/* Appends frame to a --frames list, joining runs of consecutive numbers;
 * false when it would not fit. */
static bool spec_add(char *spec, size_t n, int *run_first, int *run_last, int frame, bool flush)
{
    if (!flush && *run_first >= 0 && frame == *run_last + 1) {
        *run_last = frame;
        return true;
    }
    if (*run_first >= 0) {
        size_t len = strlen(spec);
        int k = *run_first == *run_last
                    ? snprintf(spec + len, n - len, "%s%d", len ? "," : "", *run_first)
                    : snprintf(spec + len, n - len, "%s%d-%d", len ? "," : "", *run_first, *run_last);
        if (k < 0 || (size_t)k >= n - len) {
            spec[len] = '\0';
            return false;
        }
    }
    *run_first = *run_last = frame;
    return true;
}

xs_result xs_store_lease_grant(xs_store *st, int64_t job, const xs_principal *cluster,
                               const char *backend, int gpus, const xs_lease_terms *terms,
                               double now, xs_lease_row *l, double *wait_s, char job_state[16],
                               xs_store_verdict *v, xs_err *err)
{
    memset(l, 0, sizeof *l);
    *v = XS_STORE_DONE;
    *wait_s = terms->ttl_s / 4 > 1.0 ? 1.0 : terms->ttl_s / 4;
    job_state[0] = '\0';
    lock(st);
    xs_result r = begin(st, err);
    if (r != XS_OK) {
        unlock(st);
        return r;
    }
    int mode = -1;
    int64_t studio = 0;
    sqlite3_stmt *s = prep(st, err, "SELECT mode, state, studio FROM jobs WHERE id = ?", "i", job);
    if (!s) {
        r = XS_ERR_IO;
    } else {
        if (sqlite3_step(s) == SQLITE_ROW) {
            mode = sqlite3_column_int(s, 0);
            col_text(s, 1, job_state, 16);
            studio = sqlite3_column_int64(s, 2);
        }
        sqlite3_reset(s);
    }
    if (r == XS_OK && mode != XS_JOB_MODE_LEASE) {
        *v = XS_STORE_NOT_FOUND;
    } else if (r == XS_OK && strcmp(job_state, "queued") != 0 && strcmp(job_state, "running") != 0) {
        *v = XS_STORE_GONE;
    } else if (r == XS_OK) {
        xs_principal sp;
        bool found = false;
        r = principal_where(st, "SELECT " PRINCIPAL_COLS " FROM principals WHERE id = ?", "i",
                            studio, NULL, &sp, &found, err);
        if (r == XS_OK && found && sp.gpu_hours_used >= sp.quota_gpu_hours && gpus > 0) {
            *v = XS_STORE_QUOTA;
            xs_err_set(err, XS_ERR_INVALID, "quota: studio %s has used %.3f of its %.3f GPU-hours",
                       sp.name, sp.gpu_hours_used, sp.quota_gpu_hours);
        }
    }
    if (r == XS_OK && *v == XS_STORE_DONE)
        r = run(st, err, prep(st, err,
                              "INSERT INTO rates(job, cluster, last_seen) VALUES(?, ?, ?)"
                              " ON CONFLICT(job, cluster) DO UPDATE SET last_seen = excluded.last_seen",
                              "iid", job, cluster->id, now));
    xs_lease_ask ask = {.target_s = terms->target_s, .max_frames = terms->max_frames};
    if (r == XS_OK && *v == XS_STORE_DONE) {
        s = prep(st, err,
                 "SELECT (SELECT COUNT(*) FROM frames WHERE job = ?1 AND done = 0),"
                 "       (SELECT COUNT(*) FROM frames f WHERE f.job = ?1 AND f.done = 0 AND"
                 "         (f.lease = 0 OR NOT EXISTS (SELECT 1 FROM leases l WHERE l.id = f.lease"
                 "          AND l.state = 'active' AND l.expires >= ?3))),"
                 "       (SELECT rate FROM rates WHERE job = ?1 AND cluster = ?2),"
                 "       (SELECT COALESCE(SUM(rate), 0) FROM rates WHERE job = ?1 AND cluster != ?2"
                 "         AND rate > 0 AND last_seen >= ?4)",
                 "iidd", job, cluster->id, now, now - terms->active_s);
        if (!s) {
            r = XS_ERR_IO;
        } else {
            if (sqlite3_step(s) == SQLITE_ROW) {
                ask.remaining = sqlite3_column_int(s, 0);
                ask.available = sqlite3_column_int(s, 1);
                ask.rate = sqlite3_column_double(s, 2);
                ask.others_rate = sqlite3_column_double(s, 3);
            } else {
                r = db_fail(st, err, "lease");
            }
            sqlite3_reset(s);
        }
    }
    const int want = r == XS_OK && *v == XS_STORE_DONE ? xs_lease_size(&ask) : 0;
    if (r == XS_OK && *v == XS_STORE_DONE && ask.remaining == 0) {
        *v = XS_STORE_GONE;
        snprintf(job_state, 16, "completed");
    }
    if (r == XS_OK && *v == XS_STORE_DONE && want > 0) {
        /* the first available frames in render order */
        int *pick = malloc((size_t)want * sizeof *pick);
        int64_t *was = malloc((size_t)want * sizeof *was);
        int got = 0;
        char spec[sizeof l->frames] = "";
        int rf = -1, rl = -1;
        if (!pick || !was)
            r = xs_err_set(err, XS_ERR_NOMEM, "out of memory");
        s = r == XS_OK ? prep(st, err,
                              "SELECT f.frame, f.lease FROM frames f WHERE f.job = ?1 AND f.done = 0 AND"
                              " (f.lease = 0 OR NOT EXISTS (SELECT 1 FROM leases l WHERE l.id = f.lease"
                              "  AND l.state = 'active' AND l.expires >= ?2)) ORDER BY f.idx LIMIT ?3",
                              "idn", job, now, want)
                       : NULL;
        if (r == XS_OK && !s)
            r = XS_ERR_IO;
        while (r == XS_OK && got < want && sqlite3_step(s) == SQLITE_ROW) {
            int fr = sqlite3_column_int(s, 0);
            char trial[sizeof spec];
            int tf = rf, tl = rl;
            memcpy(trial, spec, sizeof spec);
            /* leave room to flush the last run */
            if (!spec_add(trial, sizeof trial - 16, &tf, &tl, fr, false))
                break;
            memcpy(spec, trial, sizeof spec);
            rf = tf, rl = tl;
            pick[got] = fr;
            was[got++] = sqlite3_column_int64(s, 1);
        }
        if (s)
            sqlite3_reset(s);
        if (r == XS_OK && got > 0) {
            spec_add(spec, sizeof spec, &rf, &rl, 0, true);
            const double expires = now + terms->ttl_s;
            r = run(st, err, prep(st, err,
                                  "INSERT INTO leases(job, cluster, frames, frame_count, gpus, backend,"
                                  " state, granted, expires) VALUES(?, ?, ?, ?, ?, ?, 'active', ?, ?)",
                                  "iitnntdd", job, cluster->id, spec, got, gpus, backend, now, expires));
            const int64_t id = r == XS_OK ? sqlite3_last_insert_rowid(st->db) : 0;
            for (int i = 0; r == XS_OK && i < got; ++i) {
                r = run(st, err, prep(st, err, "UPDATE frames SET lease = ? WHERE job = ? AND frame = ?",
                                      "iin", id, job, pick[i]));
                if (r == XS_OK && was[i] > 0) /* taken from an expired lease: it is lost */
                    r = run(st, err, prep(st, err,
                                          "UPDATE leases SET state = 'lost', ended = ? WHERE id = ?"
                                          " AND state = 'active'", "di", now, was[i]));
            }
            if (r == XS_OK)
                r = run(st, err, prep(st, err,
                                      "UPDATE jobs SET state = 'running', updated = ? WHERE id = ?"
                                      " AND state = 'queued'", "di", now, job));
            bool found = false;
            if (r == XS_OK)
                r = lease_locked(st, id, l, &found, err);
        }
        free(pick);
        free(was);
    }
    if (*v == XS_STORE_DONE)
        r = finish(st, r, err);
    else
        rollback(st);
    unlock(st);
    return r;
}

xs_result xs_store_lease_renew(xs_store *st, int64_t id, double ttl_s, double now, xs_lease_row *l,
                               xs_store_verdict *v, xs_err *err)
{
    *v = XS_STORE_DONE;
    lock(st);
    xs_result r = begin(st, err);
    if (r != XS_OK) {
        unlock(st);
        return r;
    }
    bool found = false;
    char job_state[16] = "";
    r = lease_locked(st, id, l, &found, err);
    if (r == XS_OK && found) {
        sqlite3_stmt *s = prep(st, err, "SELECT state FROM jobs WHERE id = ?", "i", l->job);
        if (s && sqlite3_step(s) == SQLITE_ROW)
            col_text(s, 0, job_state, sizeof job_state);
        if (s)
            sqlite3_reset(s);
    }
    if (r == XS_OK && !found)
        *v = XS_STORE_NOT_FOUND;
    else if (r == XS_OK && (strcmp(l->state, "active") != 0 ||
                            (strcmp(job_state, "running") != 0 && strcmp(job_state, "completed") != 0)))
        *v = XS_STORE_GONE; /* lost, ended, or its job cancelled or failed */
    if (r == XS_OK && *v == XS_STORE_DONE) {
        /* an active lease kept every frame: a grant that takes one marks it lost */
        l->expires = now + ttl_s;
        r = run(st, err, prep(st, err, "UPDATE leases SET expires = ? WHERE id = ?", "di",
                              l->expires, id));
        if (r == XS_OK)
            r = run(st, err, prep(st, err, "UPDATE rates SET last_seen = ? WHERE job = ? AND cluster = ?",
                                  "dii", now, l->job, l->cluster));
    }
    r = finish(st, r, err);
    unlock(st);
    return r;
}

xs_result xs_store_lease_end(xs_store *st, int64_t id, const char *state, double now,
                             xs_lease_row *l, xs_store_verdict *v, xs_err *err)
{
    *v = XS_STORE_DONE;
    lock(st);
    xs_result r = begin(st, err);
    if (r != XS_OK) {
        unlock(st);
        return r;
    }
    bool found = false;
    r = lease_locked(st, id, l, &found, err);
    if (r == XS_OK && !found)
        *v = XS_STORE_NOT_FOUND;
    else if (r == XS_OK && strcmp(l->state, "active") != 0 && strcmp(l->state, "lost") != 0)
        *v = XS_STORE_CONFLICT; /* ended already */
    if (r == XS_OK && *v == XS_STORE_DONE) {
        const bool lost = strcmp(l->state, "lost") == 0;
        r = run(st, err, prep(st, err, "UPDATE frames SET lease = 0 WHERE job = ? AND lease = ? AND done = 0",
                              "ii", l->job, id));
        if (r == XS_OK)
            r = run(st, err, prep(st, err, "UPDATE leases SET state = ?, ended = ? WHERE id = ?", "tdi",
                                  lost ? "lost" : state, now, id));
        /* the measured rate: frames committed over the time from the grant to
         * the last commit (scene loading included) */
        if (r == XS_OK && l->committed > 0 && l->last_commit > l->granted) {
            const double rate = l->committed / (l->last_commit - l->granted);
            r = run(st, err, prep(st, err,
                                  "UPDATE rates SET rate = CASE WHEN rate > 0 THEN 0.5 * rate + 0.5 * ?1"
                                  " ELSE ?1 END, last_seen = ?2 WHERE job = ?3 AND cluster = ?4",
                                  "ddii", rate, now, l->job, l->cluster));
        }
        if (r == XS_OK && l->gpus > 0)
            r = charge_locked(st, l->job, l->gpus * (now - l->granted) / 3600.0, err);
        if (r == XS_OK && lost)
            *v = XS_STORE_GONE;
        snprintf(l->state, sizeof l->state, "%s", lost ? "lost" : state);
        l->ended = now;
    }
    r = finish(st, r, err);
    unlock(st);
    return r;
}

xs_result xs_store_leases(xs_store *st, int64_t job, xs_lease_row **rows, int *n, xs_err *err)
{
    *rows = NULL;
    *n = 0;
    lock(st);
    sqlite3_stmt *s = prep(st, err,
                           "SELECT " LEASE_COLS " FROM leases l JOIN principals p ON p.id = l.cluster"
                           " WHERE l.job = ? ORDER BY l.id", "i", job);
    xs_result r = s ? XS_OK : XS_ERR_IO;
    while (r == XS_OK && sqlite3_step(s) == SQLITE_ROW) {
        xs_lease_row *g = realloc(*rows, (size_t)(*n + 1) * sizeof **rows);
        if (!g) {
            r = xs_err_set(err, XS_ERR_NOMEM, "out of memory");
            break;
        }
        *rows = g;
        read_lease(s, &(*rows)[(*n)++]);
    }
    if (s)
        sqlite3_reset(s);
    unlock(st);
    return r;
}
