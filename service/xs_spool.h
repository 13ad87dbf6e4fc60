/* The spool: the service's files on shared storage, beside its database.
 *
 *   SPOOL/xisuan.db                    the database (xs_store.h), with -wal and -shm
 *   SPOOL/uploads/<id>.tar.zst         an upload's bytes so far (never read whole)
 *   SPOOL/jobs/<id>/package.tar.zst    a job's package, checked as `xisuan pack` checks
 *   SPOOL/jobs/<id>/job.json           its job file, as `xisuan render` and `submit` read it
 *   SPOOL/jobs/<id>/out/<job>/...      its job folder: frames, previews, journal, events,
 *                                      the sbatch script and Slurm's log (docs/output.md)
 *
 * Checksums are XXH3-128 (libxxhash), streamed over files in 1 MiB reads:
 * transfers are checked against accidents (a flipped bit, a truncated file);
 * who may send what is the tokens' business. One thread at a time per file.
 */
#ifndef XS_SPOOL_H
#define XS_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "io/xs_file.h"
#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_spool {
    char root[XS_PATH_MAX - 256];
} xs_spool;

/* Makes root, root/uploads and root/jobs, and checks root takes files. */
xs_result xs_spool_init(xs_spool *sp, const char *root, xs_err *err);

void xs_spool_upload_path(const xs_spool *sp, int64_t id, char *out, size_t n);
void xs_spool_job_dir(const xs_spool *sp, int64_t id, char *out, size_t n);
/* SPOOL/jobs/<id>/<file> */
void xs_spool_job_file(const xs_spool *sp, int64_t id, const char *file, char *out, size_t n);
/* SPOOL/jobs/<id>/out/<job>/<file> (file "" for the folder) */
void xs_spool_output_file(const xs_spool *sp, int64_t id, const char *job, const char *file,
                          char *out, size_t n);

/* Bytes the spool's file system has free for the service (statvfs), or -1. */
int64_t xs_spool_free_bytes(const xs_spool *sp);

/* The XXH3-128 of a file's bytes as 32 lowercase hex digits, and its size. */
xs_result xs_file_xxh3(const char *path, char hex[33], int64_t *bytes, xs_err *err);
/* The XXH3-128 of a buffer, as text. */
void xs_xxh3_text(const void *data, size_t len, char hex[33]);

/* rm -rf path (no links followed). */
xs_result xs_remove_tree(const char *path, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
