/* Scene packages: a .tar.zst holding manifest.json and the scene's files.
 *
 * Packages are read from memory (rank 0 reads the file once and broadcasts
 * its compressed bytes; every rank extracts them in memory), never extracted
 * to disk. Extraction refuses anything that could escape or exhaust: absolute
 * paths, '..' components, links, devices, duplicate names, entries or totals
 * over the limits, compression ratios that point to a bomb, truncated
 * archives. Messages name the package, the entry and the reason.
 */
#ifndef XS_PACKAGE_H
#define XS_PACKAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/xs_result.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xs_pkg_limits {
    uint64_t max_entry_bytes; /* one file, uncompressed */
    uint64_t max_total_bytes; /* all files, uncompressed */
    uint32_t max_entries;
    double max_ratio;         /* uncompressed total / package size */
    uint64_t max_package_bytes; /* the .tar.zst itself */
} xs_pkg_limits;

/* 4 GiB a file, 32 GiB in all, 100000 entries, ratio 1000, 16 GiB package. */
void xs_pkg_limits_default(xs_pkg_limits *l);

typedef struct xs_pkg_entry {
    char *name;          /* normalised relative path: "dir/file.bin" */
    unsigned char *data; /* owned; size bytes (plus a NUL after them) */
    size_t size;
} xs_pkg_entry;

typedef struct xs_pkg {
    char *label; /* the package's name in messages */
    xs_pkg_entry *entries;
    size_t count;
    uint64_t total_bytes;
} xs_pkg;

/* Extracts a .tar.zst held in memory. label names the package in messages. */
xs_result xs_pkg_open_memory(const char *label, const void *bytes, size_t len,
                             const xs_pkg_limits *limits, xs_pkg **out, xs_err *err);
void xs_pkg_destroy(xs_pkg *pkg); /* accepts NULL */
/* The entry with this normalised name, or NULL. */
const xs_pkg_entry *xs_pkg_find(const xs_pkg *pkg, const char *name);

/* Builds a .tar.zst in memory from entries, in the given order
 * (deterministic: zero times and owners). *out is malloc'd. */
xs_result xs_pkg_build(const xs_pkg_entry *entries, size_t n, int zstd_level, unsigned char **out,
                       size_t *out_len, xs_err *err);
/* Builds a .tar.zst in memory from every regular file under dir (sorted
 * names). Symbolic links and special files are refused. */
xs_result xs_pkg_build_dir(const char *dir, int zstd_level, unsigned char **bytes, size_t *len,
                           xs_err *err);

#ifdef __cplusplus
}
#endif
#endif
