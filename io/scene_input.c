/* Scene input (see xs_scene_input.h). */
#include "io/xs_scene_input.h"
#include "io/xs_exr.h"
#include "io/xs_file.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

bool xs_is_scene_path(const char *s)
{
    return ends_with(s, ".tar.zst") || ends_with(s, ".gltf") || ends_with(s, ".glb");
}

/* ---- a plain .gltf/.glb on disk: read it and what it refers to ------------- */

typedef struct disk_files {
    char dir[PATH_MAX];
    uint64_t max_bytes;
    xs_pkg_entry *v;
    size_t n, cap;
} disk_files;

static xs_result disk_fetch(void *user, const char *path, const unsigned char **data, size_t *len,
                            xs_err *err)
{
    disk_files *d = (disk_files *)user;
    for (size_t i = 0; i < d->n; ++i)
        if (strcmp(d->v[i].name, path) == 0) {
            *data = d->v[i].data;
            *len = d->v[i].size;
            return XS_OK;
        }
    char full[PATH_MAX];
    int k = snprintf(full, sizeof full, "%s/%s", d->dir, path);
    if (k < 0 || (size_t)k >= sizeof full)
        return xs_err_set(err, XS_ERR_INVALID, "%s: path too long", path);
    /* as in packages, no file may be reached through a symbolic link: each
     * component below the glTF's folder must be a real file or folder */
    for (char *p = full + strlen(d->dir) + 1;; ++p) {
        char c = *p;
        if (c != '/' && c != '\0')
            continue;
        *p = '\0';
        struct stat st;
        bool link = lstat(full, &st) == 0 && S_ISLNK(st.st_mode);
        *p = c;
        if (link)
            return xs_err_set(err, XS_ERR_INVALID,
                              "'%s' is (or is reached through) a symbolic link: files beside a plain "
                              "glTF must be regular files in its folder", path);
        if (c == '\0')
            break;
    }
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 8;
        xs_pkg_entry *nv = realloc(d->v, nc * sizeof *nv);
        if (!nv)
            return xs_err_set(err, XS_ERR_NOMEM, "out of memory");
        d->v = nv;
        d->cap = nc;
    }
    xs_pkg_entry *e = &d->v[d->n];
    xs_result r = xs_file_read_all(full, d->max_bytes, &e->data, &e->size, err);
    if (r != XS_OK)
        return r;
    e->name = strdup(path);
    if (!e->name) {
        free(e->data);
        return xs_err_set(err, XS_ERR_NOMEM, "out of memory");
    }
    d->n++;
    *data = e->data;
    *len = e->size;
    return XS_OK;
}

/* Reads a plain glTF and the files it refers to, parses it once (*gltf, for
 * the caller), and wraps the same bytes into a package with a default
 * manifest for the other ranks. */
static xs_result wrap_gltf(const char *path, const xs_pkg_limits *lim, const xs_gltf_limits *glim,
                           unsigned char **bytes, size_t *len, xs_gltf_scene **gltf, xs_err *err)
{
    disk_files d = {.max_bytes = lim->max_entry_bytes};
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (slash)
        snprintf(d.dir, sizeof d.dir, "%.*s", (int)(slash - path), path);
    else
        snprintf(d.dir, sizeof d.dir, ".");
    if (!*base || strlen(base) > 200)
        return xs_err_set(err, XS_ERR_INVALID, "%s: not a file name", path);
    unsigned char *scene = NULL;
    size_t scene_len = 0;
    xs_result r = xs_file_read_all(path, lim->max_entry_bytes, &scene, &scene_len, err);
    xs_gltf_scene *g = NULL;
    if (r == XS_OK)
        r = xs_gltf_load(path, scene, scene_len, disk_fetch, &d, glim, &g, err);
    xs_pkg_entry *ents = NULL;
    char manifest[512];
    if (r == XS_OK) {
        ents = calloc(d.n + 2, sizeof *ents);
        if (!ents)
            r = xs_err_set(err, XS_ERR_NOMEM, "out of memory");
    }
    if (r == XS_OK) {
        int k = snprintf(manifest, sizeof manifest, "{\"schema\": 1, \"scene\": \"%s\"}\n", base);
        if (strchr(base, '"') || strchr(base, '\\'))
            r = xs_err_set(err, XS_ERR_INVALID, "%s: the file name holds a quote or backslash", path);
        ents[0].name = (char *)"manifest.json";
        ents[0].data = (unsigned char *)manifest;
        ents[0].size = (size_t)k;
        ents[1].name = (char *)base;
        ents[1].data = scene;
        ents[1].size = scene_len;
        for (size_t i = 0; i < d.n; ++i)
            ents[i + 2] = d.v[i];
    }
    if (r == XS_OK)
        r = xs_pkg_build(ents, d.n + 2, 3, bytes, len, err);
    if (r == XS_OK)
        *gltf = g;
    else
        xs_gltf_destroy(g);
    free(ents);
    free(scene);
    for (size_t i = 0; i < d.n; ++i) {
        free(d.v[i].name);
        free(d.v[i].data);
    }
    free(d.v);
    return r;
}

/* ---- opening package bytes ------------------------------------------------- */

typedef struct pkg_fetch {
    const xs_pkg *pkg;
    char dir[1024]; /* the scene file's folder inside the package, "" at the root */
} pkg_fetch;

static xs_result pkg_fetch_fn(void *user, const char *path, const unsigned char **data, size_t *len,
                              xs_err *err)
{
    pkg_fetch *f = (pkg_fetch *)user;
    char joined[2100], norm[2100];
    snprintf(joined, sizeof joined, "%s%s%s", f->dir, f->dir[0] ? "/" : "", path);
    xs_result r = xs_path_normalize(joined, norm, sizeof norm, err);
    if (r != XS_OK)
        return r;
    const xs_pkg_entry *e = xs_pkg_find(f->pkg, norm);
    if (!e)
        return xs_err_set(err, XS_ERR_INVALID, "'%s' is not in the package", norm);
    *data = e->data;
    *len = e->size;
    return XS_OK;
}

void xs_scene_input_destroy(xs_scene_input *in)
{
    if (!in)
        return;
    xs_texstore_close(in->pages);
    xs_gltf_destroy(in->gltf);
    xs_image_free(&in->env);
    xs_pkg_destroy(in->pkg);
    free(in);
}

void xs_scene_limits_default(xs_scene_limits *l)
{
    xs_pkg_limits_default(&l->pkg);
    xs_gltf_limits_default(&l->gltf);
    l->max_env_pixels = 1ull << 27;
}

/* Every image a material uses (through a texture) is in the page store. */
static xs_result check_pages(const char *label, const xs_scene_input *in, xs_err *err)
{
    const xs_gltf_scene *g = in->gltf;
    for (int i = 0; i < g->material_count; ++i) {
        const xs_gltf_material *m = &g->materials[i];
        const xs_gltf_texref *refs[] = {&m->base_color_tex, &m->metallic_roughness_tex, &m->normal_tex,
                                        &m->emissive_tex, &m->transmission_tex};
        for (int k = 0; k < 5; ++k) {
            int t = refs[k]->texture;
            if (t < 0 || t >= g->texture_count)
                continue;
            int im = g->textures[t].image;
            if (!xs_texstore_find(in->pages, (uint32_t)im))
                return xs_err_set(err, XS_ERR_INVALID,
                                  "%s: materials[%d] uses textures[%d] (images[%d]), which is not in the "
                                  "package's texture pages (pack it again with xisuan pack)",
                                  label, i, t, im);
        }
    }
    return XS_OK;
}

xs_result xs_scene_input_open(const char *label, const void *bytes, size_t len,
                              const xs_scene_limits *limits, xs_scene_input **out, xs_err *err)
{
    return xs_scene_input_open_paged(label, bytes, len, limits, NULL, 0, out, err);
}

xs_result xs_scene_input_open_paged(const char *label, const void *bytes, size_t len,
                                    const xs_scene_limits *limits, const char *pages_path, uint64_t pages_id,
                                    xs_scene_input **out, xs_err *err)
{
    xs_scene_limits dflt;
    if (!limits) {
        xs_scene_limits_default(&dflt);
        limits = &dflt;
    }
    xs_scene_limits paged;
    if (pages_path) {
        paged = *limits;
        paged.gltf.skip_images = true;
        paged.gltf.image_sink = NULL;
        limits = &paged;
    }
    *out = NULL;
    xs_scene_input *in = calloc(1, sizeof *in);
    if (!in)
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", label);
    xs_result r = xs_pkg_open_memory(label, bytes, len, &limits->pkg, &in->pkg, err);
    char where[1200];
    if (r == XS_OK) {
        const xs_pkg_entry *m = xs_pkg_find(in->pkg, "manifest.json");
        snprintf(where, sizeof where, "%s: manifest.json", label);
        if (!m)
            r = xs_err_set(err, XS_ERR_INVALID, "%s: manifest.json is missing", label);
        else
            r = xs_manifest_parse(where, (const char *)m->data, m->size, &in->manifest, err);
    }
    if (r == XS_OK) {
        const xs_pkg_entry *sc = xs_pkg_find(in->pkg, in->manifest.scene);
        snprintf(where, sizeof where, "%s: %s", label, in->manifest.scene);
        if (!sc) {
            r = xs_err_set(err, XS_ERR_INVALID, "%s: manifest.json: scene: '%s' is not in the package",
                           label, in->manifest.scene);
        } else {
            pkg_fetch f = {.pkg = in->pkg};
            const char *slash = strrchr(in->manifest.scene, '/');
            if (slash)
                snprintf(f.dir, sizeof f.dir, "%.*s", (int)(slash - in->manifest.scene),
                         in->manifest.scene);
            r = xs_gltf_load(where, sc->data, sc->size, pkg_fetch_fn, &f, &limits->gltf, &in->gltf, err);
        }
    }
    if (r == XS_OK && in->manifest.env_type == XS_ENV_EQUIRECT) {
        const xs_pkg_entry *e = xs_pkg_find(in->pkg, in->manifest.env_image);
        snprintf(where, sizeof where, "%s: %s", label, in->manifest.env_image);
        if (!e)
            r = xs_err_set(err, XS_ERR_INVALID,
                           "%s: manifest.json: environment.image: '%s' is not in the package", label,
                           in->manifest.env_image);
        else
            r = xs_exr_read_rgba_memory(where, e->data, e->size, limits->max_env_pixels, &in->env, err);
    }
    if (r == XS_OK && pages_path) {
        r = xs_texstore_open(pages_path, &in->pages, err);
        if (r == XS_OK && pages_id && in->pages->id != pages_id)
            r = xs_err_set(err, XS_ERR_INVALID,
                           "%s: its texture pages differ from the ones rank 0 read (is the package file the "
                           "same on every node, and unchanged since the job started?)",
                           pages_path);
        if (r == XS_OK)
            r = check_pages(label, in, err);
    }
    if (r != XS_OK) {
        xs_scene_input_destroy(in);
        return r;
    }
    *out = in;
    return XS_OK;
}

/* The first len bytes of the file at path. */
static xs_result read_head(const char *path, uint64_t len, unsigned char **out, xs_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return xs_err_set(err, XS_ERR_INVALID, "%s: cannot open: %s", path, strerror(errno));
    unsigned char *b = malloc(len ? (size_t)len : 1);
    xs_result r = b ? XS_OK : xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory for %llu bytes", path,
                                         (unsigned long long)len);
    if (r == XS_OK && fread(b, 1, (size_t)len, f) != (size_t)len)
        r = xs_err_set(err, XS_ERR_IO, "%s: read failed", path);
    fclose(f);
    if (r != XS_OK) {
        free(b);
        return r;
    }
    *out = b;
    return XS_OK;
}

xs_result xs_scene_input_load(const char *path, const xs_scene_limits *limits,
                              unsigned char **bytes, size_t *len, xs_scene_input **out, xs_err *err)
{
    xs_scene_limits dflt;
    if (!limits) {
        xs_scene_limits_default(&dflt);
        limits = &dflt;
    }
    const xs_pkg_limits *lim = &limits->pkg;
    *bytes = NULL;
    *len = 0;
    *out = NULL;
    if (ends_with(path, ".tar.zst")) {
        bool paged = false;
        uint64_t tar_bytes = 0, file_bytes = 0;
        xs_result r = xs_texstore_probe(path, &paged, &tar_bytes, &file_bytes, err);
        if (r == XS_OK && paged && tar_bytes > lim->max_package_bytes)
            r = xs_err_set(err, XS_ERR_INVALID, "%s: %llu bytes over the package limit of %llu (--pkg-max-total-mib)",
                           path, (unsigned long long)tar_bytes, (unsigned long long)lim->max_package_bytes);
        if (r == XS_OK && paged && (r = read_head(path, tar_bytes, bytes, err)) == XS_OK)
            *len = (size_t)tar_bytes;
        else if (r == XS_OK && !paged)
            r = xs_file_read_all(path, lim->max_package_bytes, bytes, len, err);
        if (r == XS_OK)
            r = xs_scene_input_open_paged(path, *bytes, *len, limits, paged ? path : NULL, 0, out, err);
        if (r != XS_OK) {
            free(*bytes);
            *bytes = NULL;
            *len = 0;
        }
        return r;
    }
    if (!ends_with(path, ".gltf") && !ends_with(path, ".glb"))
        return xs_err_set(err, XS_ERR_INVALID, "%s: a scene must be a .tar.zst package, .gltf or .glb",
                          path);
    xs_scene_input *in = calloc(1, sizeof *in);
    if (!in)
        return xs_err_set(err, XS_ERR_NOMEM, "%s: out of memory", path);
    xs_result r = wrap_gltf(path, lim, &limits->gltf, bytes, len, &in->gltf, err);
    if (r != XS_OK) {
        free(in);
        return r;
    }
    /* the manifest wrap_gltf wrote into the package, as parsing it gives */
    xs_manifest_defaults(&in->manifest);
    in->manifest.schema = XS_MANIFEST_SCHEMA;
    const char *slash = strrchr(path, '/');
    snprintf(in->manifest.scene, sizeof in->manifest.scene, "%s", slash ? slash + 1 : path);
    *out = in;
    return XS_OK;
}
