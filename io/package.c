/* Scene packages (see xs_package.h): in-memory extraction with libarchive
 * (tar + zstd) under limits, and deterministic packing of a folder. */
#include "io/xs_package.h"
#include "io/xs_file.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void xs_pkg_limits_default(xs_pkg_limits *l)
{
    l->max_entry_bytes = 4ull << 30;
    l->max_total_bytes = 32ull << 30;
    l->max_entries = 100000;
    l->max_ratio = 1000.0;
    l->max_package_bytes = 16ull << 30;
}

void xs_pkg_destroy(xs_pkg *pkg)
{
    if (!pkg)
        return;
    for (size_t i = 0; i < pkg->count; ++i) {
        free(pkg->entries[i].name);
        free(pkg->entries[i].data);
    }
    free(pkg->entries);
    free(pkg->label);
    free(pkg);
}

const xs_pkg_entry *xs_pkg_find(const xs_pkg *pkg, const char *name)
{
    for (size_t i = 0; i < pkg->count; ++i)
        if (strcmp(pkg->entries[i].name, name) == 0)
            return &pkg->entries[i];
    return NULL;
}

static const char *entry_kind(mode_t type)
{
    switch (type) {
    case AE_IFLNK: return "a symbolic link";
    case AE_IFCHR: return "a character device";
    case AE_IFBLK: return "a block device";
    case AE_IFIFO: return "a FIFO";
    case AE_IFSOCK: return "a socket";
    }
    return "not a regular file";
}

xs_result xs_pkg_open_memory(const char *label, const void *bytes, size_t len,
                             const xs_pkg_limits *lim, xs_pkg **out, xs_err *err)
{
    *out = NULL;
    if (len > lim->max_package_bytes)
        return xs_err_set(err, XS_ERR_INVALID, "%s: %zu bytes exceeds the package limit of %llu",
                          label, len, (unsigned long long)lim->max_package_bytes);
    xs_pkg *pkg = calloc(1, sizeof *pkg);
    size_t cap = 16;
    if (pkg) {
        pkg->label = strdup(label);
        pkg->entries = calloc(cap, sizeof *pkg->entries);
    }
    if (!pkg || !pkg->label || !pkg->entries) {
        xs_pkg_destroy(pkg);
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", label);
    }
    struct archive *a = archive_read_new();
    if (!a) {
        xs_pkg_destroy(pkg);
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", label);
    }
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    xs_result r = XS_OK;
    const double bomb_limit = lim->max_ratio * (double)(len > 4096 ? len : 4096);
    if (archive_read_open_memory(a, bytes, len) != ARCHIVE_OK) {
        r = xs_err_set(err, XS_ERR_INVALID, "%s: cannot read as a zstd-compressed tar archive: %s",
                       label, archive_error_string(a));
        goto done;
    }
    for (;;) {
        struct archive_entry *e = NULL;
        int rc = archive_read_next_header(a, &e);
        if (rc == ARCHIVE_EOF)
            break;
        if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
            r = xs_err_set(err, XS_ERR_INVALID, "%s: damaged or truncated archive after %zu entries: %s",
                           label, pkg->count, archive_error_string(a));
            goto done;
        }
        if (archive_filter_code(a, 0) != ARCHIVE_FILTER_ZSTD) {
            r = xs_err_set(err, XS_ERR_INVALID, "%s: the tar archive is not zstd-compressed", label);
            goto done;
        }
        const char *raw = archive_entry_pathname(e);
        if (!raw)
            raw = "";
        char name[1024];
        xs_err pe;
        if (xs_path_normalize(raw, name, sizeof name, &pe) != XS_OK) {
            if (archive_entry_filetype(e) == AE_IFDIR && (strcmp(raw, "./") == 0 || strcmp(raw, ".") == 0))
                continue; /* the archive's own root */
            r = xs_err_set(err, XS_ERR_INVALID, "%s: entry '%s': %s", label, raw, pe.msg);
            goto done;
        }
        if (archive_entry_hardlink(e)) {
            r = xs_err_set(err, XS_ERR_INVALID, "%s: entry '%s': hard links are not allowed", label,
                           name);
            goto done;
        }
        mode_t type = archive_entry_filetype(e);
        if (type == AE_IFDIR)
            continue;
        if (type != AE_IFREG) {
            r = xs_err_set(err, XS_ERR_INVALID, "%s: entry '%s': %s is not allowed", label, name,
                           entry_kind(type));
            goto done;
        }
        if (xs_pkg_find(pkg, name)) {
            r = xs_err_set(err, XS_ERR_INVALID, "%s: entry '%s' appears twice", label, name);
            goto done;
        }
        if (pkg->count >= lim->max_entries) {
            r = xs_err_set(err, XS_ERR_INVALID, "%s: more than %u entries", label, lim->max_entries);
            goto done;
        }
        int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
        if (declared < 0) {
            r = xs_err_set(err, XS_ERR_INVALID, "%s: entry '%s' has no size", label, name);
            goto done;
        }
        if ((uint64_t)declared > lim->max_entry_bytes) {
            r = xs_err_set(err, XS_ERR_INVALID, "%s: entry '%s': %lld bytes exceeds the limit of %llu",
                           label, name, (long long)declared, (unsigned long long)lim->max_entry_bytes);
            goto done;
        }
        if (pkg->total_bytes + (uint64_t)declared > lim->max_total_bytes) {
            r = xs_err_set(err, XS_ERR_INVALID, "%s: entry '%s': the package's total exceeds the limit of %llu bytes",
                           label, name, (unsigned long long)lim->max_total_bytes);
            goto done;
        }
        if ((double)(pkg->total_bytes + (uint64_t)declared) > bomb_limit) {
            r = xs_err_set(err, XS_ERR_INVALID,
                           "%s: entry '%s': %llu uncompressed bytes from a %zu-byte package "
                           "exceeds the compression ratio limit of %g (a decompression bomb?)",
                           label, name, (unsigned long long)(pkg->total_bytes + (uint64_t)declared),
                           len, lim->max_ratio);
            goto done;
        }
        size_t size = (size_t)declared;
        unsigned char *data = malloc(size + 1);
        if (!data) {
            r = xs_err_set(err, XS_ERR_NOMEM, "%s: entry '%s': out of memory for %zu bytes", label,
                           name, size);
            goto done;
        }
        size_t got = 0;
        while (got < size) {
            la_ssize_t k = archive_read_data(a, data + got, size - got);
            if (k <= 0) {
                free(data);
                r = xs_err_set(err, XS_ERR_INVALID, "%s: entry '%s' is truncated (%zu of %zu bytes): %s",
                               label, name, got, size, k < 0 ? archive_error_string(a) : "end of data");
                goto done;
            }
            got += (size_t)k;
        }
        data[size] = 0;
        if (pkg->count == cap) {
            xs_pkg_entry *ne = realloc(pkg->entries, cap * 2 * sizeof *ne);
            if (!ne) {
                free(data);
                r = xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", label);
                goto done;
            }
            pkg->entries = ne;
            cap *= 2;
        }
        xs_pkg_entry *pe2 = &pkg->entries[pkg->count];
        pe2->name = strdup(name);
        pe2->data = data;
        pe2->size = size;
        if (!pe2->name) {
            free(data);
            r = xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", label);
            goto done;
        }
        pkg->count++;
        pkg->total_bytes += size;
    }
done:
    archive_read_free(a);
    if (r != XS_OK) {
        xs_pkg_destroy(pkg);
        return r;
    }
    *out = pkg;
    return XS_OK;
}

/* ---- Packing ---------------------------------------------------------------- */

typedef struct name_list {
    char **v;
    size_t n, cap;
} name_list;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static xs_result collect(const char *root, const char *rel, name_list *list, xs_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d) {
        int e = errno;
        return xs_err_set(err, XS_ERR_IO, "%s: cannot open directory: %s", path, strerror(e));
    }
    xs_result r = XS_OK;
    struct dirent *de;
    while (r == XS_OK && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char sub[PATH_MAX], full[PATH_MAX];
        int k = snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
        if (k < 0 || (size_t)k >= sizeof sub) {
            r = xs_err_set(err, XS_ERR_INVALID, "%s/%s: path too long", path, de->d_name);
            break;
        }
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat st;
        if (lstat(full, &st) != 0) {
            int e = errno;
            r = xs_err_set(err, XS_ERR_IO, "%s: %s", full, strerror(e));
        } else if (S_ISDIR(st.st_mode)) {
            r = collect(root, sub, list, err);
        } else if (!S_ISREG(st.st_mode)) {
            r = xs_err_set(err, XS_ERR_INVALID, "%s: only regular files can be packed (%s)", full,
                           S_ISLNK(st.st_mode) ? "a symbolic link" : "a special file");
        } else {
            if (list->n == list->cap) {
                size_t nc = list->cap ? list->cap * 2 : 32;
                char **nv = realloc(list->v, nc * sizeof *nv);
                if (!nv) {
                    r = xs_err_set(err, XS_ERR_NOMEM, "out of memory");
                    break;
                }
                list->v = nv;
                list->cap = nc;
            }
            list->v[list->n] = strdup(sub);
            if (!list->v[list->n])
                r = xs_err_set(err, XS_ERR_NOMEM, "out of memory");
            else
                list->n++;
        }
    }
    closedir(d);
    return r;
}

/* libarchive writes into a growing memory buffer. */
typedef struct membuf {
    unsigned char *p;
    size_t len, cap;
    bool oom;
} membuf;

static la_ssize_t membuf_write(struct archive *a, void *user, const void *buf, size_t n)
{
    (void)a;
    membuf *m = (membuf *)user;
    if (m->len + n > m->cap) {
        size_t nc = m->cap ? m->cap : 1 << 16;
        while (nc < m->len + n)
            nc *= 2;
        unsigned char *np = realloc(m->p, nc);
        if (!np) {
            m->oom = true;
            return -1;
        }
        m->p = np;
        m->cap = nc;
    }
    memcpy(m->p + m->len, buf, n);
    m->len += n;
    return (la_ssize_t)n;
}

xs_result xs_pkg_build(const xs_pkg_entry *entries, size_t n, int zstd_level, unsigned char **out,
                       size_t *out_len, xs_err *err)
{
    *out = NULL;
    *out_len = 0;
    membuf mb = {0};
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    xs_result r = XS_OK;
    char level[48];
    snprintf(level, sizeof level, "zstd:compression-level=%d", zstd_level);
    if (!a || !e || archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_set_options(a, level) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open(a, &mb, NULL, membuf_write, NULL) != ARCHIVE_OK) {
        r = xs_err_set(err, XS_ERR_INTERNAL, "package: cannot start the archive: %s",
                       a ? archive_error_string(a) : "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n && r == XS_OK; ++i) {
        archive_entry_clear(e);
        archive_entry_set_pathname(e, entries[i].name);
        archive_entry_set_size(e, (la_int64_t)entries[i].size);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_mtime(e, 0, 0);
        if (archive_write_header(a, e) != ARCHIVE_OK ||
            (entries[i].size > 0 &&
             archive_write_data(a, entries[i].data, entries[i].size) != (la_ssize_t)entries[i].size))
            r = xs_err_set(err, mb.oom ? XS_ERR_NOMEM : XS_ERR_INTERNAL, "package: cannot add %s: %s",
                           entries[i].name, archive_error_string(a));
    }
    if (archive_write_close(a) != ARCHIVE_OK && r == XS_OK)
        r = xs_err_set(err, XS_ERR_INTERNAL, "package: cannot finish the archive: %s",
                       archive_error_string(a));
done:
    if (a)
        archive_write_free(a);
    if (e)
        archive_entry_free(e);
    if (r != XS_OK) {
        free(mb.p);
        return r;
    }
    *out = mb.p;
    *out_len = mb.len;
    return XS_OK;
}

xs_result xs_pkg_build_dir(const char *dir, int zstd_level, unsigned char **bytes, size_t *len,
                           xs_err *err)
{
    name_list list = {0};
    xs_result r = collect(dir, "", &list, err);
    xs_pkg_entry *ents = NULL;
    if (r == XS_OK) {
        qsort(list.v, list.n, sizeof *list.v, cmp_str);
        ents = calloc(list.n ? list.n : 1, sizeof *ents);
        if (!ents)
            r = xs_err_set(err, XS_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; r == XS_OK && i < list.n; ++i) {
        char full[PATH_MAX];
        snprintf(full, sizeof full, "%s/%s", dir, list.v[i]);
        ents[i].name = list.v[i];
        r = xs_file_read_all(full, UINT64_MAX, &ents[i].data, &ents[i].size, err);
    }
    if (r == XS_OK)
        r = xs_pkg_build(ents, list.n, zstd_level, bytes, len, err);
    for (size_t i = 0; i < list.n; ++i) {
        free(list.v[i]);
        if (ents)
            free(ents[i].data);
    }
    free(ents);
    free(list.v);
    return r;
}
