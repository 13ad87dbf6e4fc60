/* Files: reading whole inputs, and the atomic, durable writes every output of
 * xisuan goes through.
 *
 * An output under a final name was written under a temporary name in the same
 * directory ("dir/.name.tmp-HOST-PID-N"), fsync'd, renamed, and its directory
 * fsync'd: a reader sees nothing or the whole file, also after a crash.
 * Safe to call from several threads on distinct files.
 */
#ifndef XS_FILE_H
#define XS_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { XS_PATH_MAX = 4096 };

/* Reads a whole file into a malloc'd buffer with a NUL after its bytes
 * (refusing files over max_bytes and anything that is not a regular file). */
xs_result xs_file_read_all(const char *path, uint64_t max_bytes, unsigned char **out, size_t *len,
                           xs_err *err);
/* Opens path for reading when it is a regular file (a FIFO, a device or a
 * directory is refused at once, without waiting for a writer: "PATH: is a
 * FIFO, not a regular file"); *fd is the caller's to close, *size its
 * bytes. */
xs_result xs_file_open_regular(const char *path, int *fd, uint64_t *size, xs_err *err);
/* Writes bytes to path atomically (temporary name, fsync, rename, directory
 * fsync). */
xs_result xs_file_write_atomic(const char *path, const void *data, size_t len, xs_err *err);

/* The size and XXH3-64 checksum of a file's bytes, read in streaming. */
xs_result xs_file_hash(const char *path, uint64_t *size, uint64_t *hash, xs_err *err);

/* mkdir -p: creates path and its parents with mode 0777 & ~umask. */
xs_result xs_mkdir_p(const char *path, xs_err *err);
/* Checks that dir exists (creating it if needed) and accepts a new file:
 * creates, fsyncs and removes a probe file. */
xs_result xs_check_writable_dir(const char *dir, xs_err *err);
/* A temporary name beside final_path ("dir/.name.tmp-HOST-PID-N"): unique
 * to this host, process and call, so ranks writing the same final file at
 * once never share a temporary. */
xs_result xs_tmp_path(const char *final_path, char *out, size_t out_size, xs_err *err);
/* Makes a written temporary file durable under its final name: fsync(tmp),
 * rename(tmp, final), fsync(directory). On failure removes tmp. */
xs_result xs_commit_file(const char *tmp_path, const char *final_path, xs_err *err);
/* The same without the sync of the folder: the caller syncs it once for a
 * batch (xs_fsync_dir) before the files count as durable. */
xs_result xs_commit_file_nodirsync(const char *tmp_path, const char *final_path, xs_err *err);
/* For a temporary its writer already fsync'd (on the descriptor it wrote
 * through, before closing it): rename(tmp, final), then fsync(directory)
 * when sync_dir (else the caller syncs it for a batch). On failure removes tmp. */
xs_result xs_commit_synced_file(const char *tmp_path, const char *final_path, bool sync_dir, xs_err *err);
/* fsyncs a folder (its entries: files renamed into it are durable). */
xs_result xs_fsync_dir(const char *dir, xs_err *err);
/* Normalises a relative path ("./a//b" -> "a/b"); refuses empty, absolute and
 * '..' paths, backslashes and control characters. Returns XS_OK or
 * XS_ERR_INVALID with the reason in err. */
xs_result xs_path_normalize(const char *path, char *out, size_t out_size, xs_err *err);

/* Joins a and b with one '/' into out; fails when it does not fit. */
xs_result xs_path_join(char *out, size_t out_size, const char *a, const char *b, xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
